/* synth.c: renderers of the synthetic product lines and the ImageFolder writer around them. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "datasets/synth.h"
#include "datasets/dataset.h"
#include "datasets/rng.h"

#include "common/fsutil.h"
#include "common/progress.h"
#include "common/status.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PI 3.14159265358979323846

/* ---- shared helpers: noise, coverage, distances ---- */

static double hash2(int x, int y, uint64_t s)
{
    uint64_t h = sl_rng_splitmix(s ^ ((uint64_t)(uint32_t)x * 0x9E3779B97F4A7C15ULL) ^
                                 ((uint64_t)(uint32_t)y * 0xC2B2AE3D27D4EB4FULL));
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

/* Smooth value noise in [0, 1]. */
static double vnoise(double x, double y, uint64_t s)
{
    double fx = floor(x), fy = floor(y);
    int ix = (int)fx, iy = (int)fy;
    double tx = x - fx, ty = y - fy;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    double a = hash2(ix, iy, s), b = hash2(ix + 1, iy, s), c = hash2(ix, iy + 1, s),
           d = hash2(ix + 1, iy + 1, s);
    return (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * ty;
}

/* Three octaves of value noise, centred on 0, roughly in [-0.5, 0.5]. */
static double fbm(double x, double y, uint64_t s)
{
    return 0.57 * (vnoise(x, y, s) - 0.5) + 0.29 * (vnoise(2.03 * x, 2.03 * y, s + 1) - 0.5) +
           0.14 * (vnoise(4.1 * x, 4.1 * y, s + 2) - 0.5);
}

/* sqrt(dx^2 + dy^2) without libm's overflow-careful hypot, which dominated rendering. */
static inline double dist2d(double dx, double dy)
{
    return sqrt(dx * dx + dy * dy);
}

static double clamp01(double v)
{
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* Fraction of a pixel (width px) covered by a shape at signed distance d (negative inside). */
static double cover(double d, double px)
{
    return clamp01(0.5 - d / px);
}

static double mix(double a, double b, double t)
{
    return a + (b - a) * t;
}

/* Distance from (x, y) to the segment (ax, ay)-(bx, by). */
static double seg_dist(double x, double y, double ax, double ay, double bx, double by)
{
    double vx = bx - ax, vy = by - ay, wx = x - ax, wy = y - ay;
    double l2 = vx * vx + vy * vy, t = l2 > 0 ? (wx * vx + wy * vy) / l2 : 0;
    t = clamp01(t);
    double dx = wx - t * vx, dy = wy - t * vy;
    return sqrt(dx * dx + dy * dy);
}

/* Opacity of a line of width w at distance d, keeping its "ink" (opacity x width) right when
 * the line is thinner than a pixel, so a hairline crack fades instead of vanishing. */
static double line_alpha(double d, double w, double px)
{
    double we = w > px ? w : px;
    return (w / we) * cover(d - we / 2, px);
}

/* A small round spot of radius r at distance d from its centre. */
static double spot_alpha(double d, double r, double px)
{
    double re = r > 0.5 * px ? r : 0.5 * px;
    return (r * r) / (re * re) * cover(d - re, px);
}

typedef struct {
    int size, c;
    double px;
    float *buf; /* size * size * c, values nominally in [0, 1] */
} canvas;

/* Roughly standard normal from one draw: a sum of four uniforms (Irwin-Hall), plenty for
 * sensor noise and much cheaper than Box-Muller per pixel. */
static double fast_normal(sl_rng *r)
{
    uint64_t v = sl_rng_next(r);
    double s = (double)(v & 0xffff) + (double)((v >> 16) & 0xffff) + (double)((v >> 32) & 0xffff) +
               (double)(v >> 48);
    return (s / 65536.0 - 2.0) * 1.7320508075688772;
}

/* Exposure, a lighting gradient, shot-like and read noise, then 8-bit quantisation. */
static void finish(canvas *cv, sl_rng *r, uint8_t *out, double noise_sigma)
{
    double gain = sl_rng_range(r, 0.85, 1.12), ang = sl_rng_range(r, 0, 2 * PI);
    double grad = sl_rng_range(r, 0.0, 0.18), vig = sl_rng_range(r, 0.0, 0.25);
    double gx = cos(ang), gy = sin(ang);
    for (int y = 0; y < cv->size; y++)
        for (int x = 0; x < cv->size; x++) {
            double u = (x + 0.5) * cv->px - 0.5, v = (y + 0.5) * cv->px - 0.5;
            double light = gain * (1 + grad * (u * gx + v * gy)) * (1 - vig * (u * u + v * v));
            for (int k = 0; k < cv->c; k++) {
                size_t i = ((size_t)y * cv->size + x) * cv->c + k;
                double val = cv->buf[i] * light;
                val += fast_normal(r) * noise_sigma * (0.5 + sqrt(clamp01(val)));
                int q = (int)floor(clamp01(val) * 255 + 0.5);
                out[i] = (uint8_t)q;
            }
        }
}

/* The colour of a product's picture at (X, Y) in [0, 1]^2, for a pixel of width px, from its
 * parameters p. */
typedef void (*shade_rgb_fn)(const void *p, double X, double Y, double px, double rgb[3]);

/* The picture of an RGB product line: shade(p) at every pixel centre, then the lighting and
 * noise of finish() into out. */
static void render_rgb(canvas *cv, sl_rng *r, shade_rgb_fn shade, const void *p, uint8_t *out)
{
    for (int y = 0; y < cv->size; y++)
        for (int x = 0; x < cv->size; x++) {
            double rgb[3];
            shade(p, (x + 0.5) * cv->px, (y + 0.5) * cv->px, cv->px, rgb);
            for (int k = 0; k < 3; k++)
                cv->buf[((size_t)y * cv->size + x) * 3 + k] = (float)rgb[k];
        }
    finish(cv, r, out, sl_rng_range(r, 0.01, 0.03));
}

/* ---- casting ---- */

typedef struct {
    double cx, cy, R, rot, lx, ly;
    double g0, bg, grain;
    int nbolt;
    double bolt_r, bolt_rho, bolt_x[8], bolt_y[8];
    uint64_t tex;
    /* defects and distractors */
    int npit;
    double pit_x[6], pit_y[6], pit_r[6], pit_d[6];
    int crack_n;
    double crack_x[10], crack_y[10], crack_w, crack_d;
    double flash_a, flash_w, flash_h;
    uint64_t flash_s;
    int nscr;
    double scr_rho[3], scr_a0[3], scr_a1[3], scr_d[3];
    int ndust;
    double dust_x[4], dust_y[4], dust_r[4], dust_d[4];
} casting_p;

static void casting_params(casting_p *p, sl_rng *r, int cls)
{
    memset(p, 0, sizeof *p);
    p->cx = 0.5 + sl_rng_normal(r) * 0.025;
    p->cy = 0.5 + sl_rng_normal(r) * 0.025;
    p->R = sl_rng_range(r, 0.36, 0.43);
    p->rot = sl_rng_range(r, 0, 2 * PI);
    double la = sl_rng_range(r, 0, 2 * PI);
    p->lx = cos(la);
    p->ly = sin(la);
    p->g0 = sl_rng_range(r, 0.42, 0.62);
    p->bg = sl_rng_range(r, 0.04, 0.16);
    p->grain = sl_rng_range(r, 0.025, 0.06);
    p->nbolt = 4 + (int)sl_rng_below(r, 5);
    p->bolt_r = sl_rng_range(r, 0.035, 0.05);
    p->bolt_rho = sl_rng_range(r, 0.55, 0.65);
    for (int i = 0; i < p->nbolt; i++) {
        double a = p->rot + 2 * PI * i / p->nbolt;
        p->bolt_x[i] = p->cx + cos(a) * p->bolt_rho * p->R;
        p->bolt_y[i] = p->cy + sin(a) * p->bolt_rho * p->R;
    }
    p->tex = sl_rng_next(r);
    p->flash_a = -1;
    /* benign marks every class has: faint circumferential tool marks and dust */
    p->nscr = (int)sl_rng_below(r, 4);
    for (int i = 0; i < p->nscr; i++) {
        p->scr_rho[i] = sl_rng_range(r, 0.38, 0.82);
        p->scr_a0[i] = sl_rng_range(r, 0, 2 * PI);
        p->scr_a1[i] = p->scr_a0[i] + sl_rng_range(r, 0.2, 0.9);
        p->scr_d[i] = sl_rng_range(r, 0.04, 0.12) * (sl_rng_uniform(r) < 0.5 ? -1 : 1);
    }
    p->ndust = (int)sl_rng_below(r, 5);
    for (int i = 0; i < p->ndust; i++) {
        double a = sl_rng_range(r, 0, 2 * PI), rho = sl_rng_range(r, 0.2, 0.95);
        p->dust_x[i] = p->cx + cos(a) * rho * p->R;
        p->dust_y[i] = p->cy + sin(a) * rho * p->R;
        p->dust_r[i] = sl_rng_range(r, 0.006, 0.018);
        p->dust_d[i] = sl_rng_range(r, 0.05, 0.15) * (sl_rng_uniform(r) < 0.7 ? 1 : -1);
    }
    /* about one defect in eight is faint: smaller and fainter than the rest, the share of
     * images no inspector (or model) is sure about */
    double faint = sl_rng_uniform(r) < 0.125 ? 0.45 : 1.0;
    switch (cls) {
    case 0: { /* crack: a jagged, mostly radial polyline */
        double a = sl_rng_range(r, 0, 2 * PI), rho = sl_rng_range(r, 0.4, 0.8);
        double x = p->cx + cos(a) * rho * p->R, y = p->cy + sin(a) * rho * p->R;
        double dir = a + (sl_rng_uniform(r) < 0.5 ? 0 : PI) + sl_rng_normal(r) * 0.5;
        double len = sl_rng_range(r, 0.18, 0.32);
        p->crack_n = 4 + (int)sl_rng_below(r, 5);
        for (int i = 0; i < p->crack_n; i++) {
            p->crack_x[i] = x;
            p->crack_y[i] = y;
            dir += sl_rng_normal(r) * 0.6;
            x += cos(dir) * len / (p->crack_n - 1);
            y += sin(dir) * len / (p->crack_n - 1);
        }
        p->crack_w = sl_rng_range(r, 0.026, 0.04) * faint;
        p->crack_d = sl_rng_range(r, 0.65, 0.95);
        break;
    }
    case 1: /* flash: a thin fin of extra metal on part of the rim */
        p->flash_a = sl_rng_range(r, 0, 2 * PI);
        p->flash_w = sl_rng_range(r, 0.12, 0.45);
        p->flash_h = sl_rng_range(r, 0.03, 0.065) * faint;
        p->flash_s = sl_rng_next(r);
        break;
    case 3: { /* porosity: a few gas pits */
        double u = sl_rng_uniform(r);
        p->npit = u < 0.45 ? 1 : u < 0.75 ? 2 : u < 0.92 ? 3 : 4 + (int)sl_rng_below(r, 3);
        for (int i = 0; i < p->npit; i++) {
            double a = sl_rng_range(r, 0, 2 * PI), rho = sl_rng_range(r, 0.22, 0.84);
            p->pit_x[i] = p->cx + cos(a) * rho * p->R;
            p->pit_y[i] = p->cy + sin(a) * rho * p->R;
            p->pit_r[i] = sl_rng_range(r, 0.03, 0.05) * faint;
            p->pit_d[i] = sl_rng_range(r, 0.5, 0.95);
        }
        break;
    }
    default:
        break;
    }
}

/* Height-like shading of the radial profile: rim, groove, face, hub, bore. */
static double casting_shade(const casting_p *p, double x, double y, double px)
{
    double dx = x - p->cx, dy = y - p->cy, d = sqrt(dx * dx + dy * dy);
    double rho = d / p->R, ang = atan2(dy, dx);
    double facing = (dx * p->lx + dy * p->ly) / (d + 1e-9); /* +1 where the light comes from */
    double pr = px / p->R;
    double outer_r = p->R;
    if (p->flash_a >= 0) {
        double da = remainder(ang - p->flash_a, 2 * PI);
        if (fabs(da) < p->flash_w) {
            double t = da / p->flash_w, prof = cos(t * PI / 2);
            double jag = 0.6 + 0.8 * vnoise(ang * 40, 0.5, p->flash_s);
            outer_r += p->flash_h * prof * jag;
        }
    }
    double bgv = p->bg * (1 + 0.5 * (vnoise(x * 6, y * 6, p->tex + 9) - 0.5));
    double part = cover(d - outer_r, px);
    if (part <= 0) return bgv;
    double g = p->g0 + p->grain * (vnoise(x * 55, y * 55, p->tex) - 0.5) +
               0.5 * p->grain * (vnoise(x * 140, y * 140, p->tex + 3) - 0.5);
    /* rim: a raised band with a bevel lit on one side */
    double rim = clamp01((rho - 0.84) / pr * 0.5 + 0.5);
    g += rim * (0.07 + 0.12 * facing * clamp01((rho - 0.93) / 0.07));
    /* groove between rim and face */
    double gr = (rho - 0.84) / (0.02 + pr);
    g -= 0.16 * exp(-gr * gr);
    /* machining rings on the face */
    if (rho > 0.32 && rho < 0.84)
        g += 0.025 * sin(rho * 2 * PI * 14 + 2.0 * fbm(ang, rho, p->tex + 5));
    /* hub: raised, bevelled */
    double hub = clamp01((0.34 - rho) / pr * 0.5 + 0.5);
    g += hub * (0.09 - 0.14 * facing * clamp01((rho - 0.28) / 0.06));
    /* bore */
    double bore = cover(rho - 0.17, pr);
    g = mix(g, 0.3 * p->bg, bore);
    g += 0.10 * bore * facing * clamp01((rho - 0.13) / 0.04) * -1;
    /* bolt holes on a pitch circle */
    for (int i = 0; i < p->nbolt; i++) {
        double bx = p->bolt_x[i], by = p->bolt_y[i];
        double bd = dist2d(x - bx, y - by);
        double rr = p->bolt_r * p->R / 0.4;
        if (bd > rr + 3 * px + 0.012) continue; /* neither the hole nor its lit edge */
        g = mix(g, 0.35 * p->bg + 0.05, cover(bd - rr, px));
        double e = (bd - rr - px) / (px + 0.004);
        g += 0.08 * exp(-e * e) * ((x - bx) * p->lx + (y - by) * p->ly) / (bd + 1e-9);
    }
    for (int i = 0; i < p->nscr; i++) {
        double a = remainder(ang - p->scr_a0[i], 2 * PI);
        if (a < 0) a += 2 * PI;
        if (a < p->scr_a1[i] - p->scr_a0[i])
            g += p->scr_d[i] * line_alpha(fabs(d - p->scr_rho[i] * p->R), 0.004, px);
    }
    for (int i = 0; i < p->ndust; i++)
        g +=
            p->dust_d[i] * spot_alpha(dist2d(x - p->dust_x[i], y - p->dust_y[i]), p->dust_r[i], px);
    for (int i = 0; i < p->npit; i++) {
        double pd = dist2d(x - p->pit_x[i], y - p->pit_y[i]);
        g *= 1 - p->pit_d[i] * spot_alpha(pd, p->pit_r[i], px);
        /* the far wall of the pit catches the light */
        double lit = ((x - p->pit_x[i]) * -p->lx + (y - p->pit_y[i]) * -p->ly) / (pd + 1e-9);
        g += 0.25 * p->pit_d[i] * lit * clamp01(1 - fabs(pd - p->pit_r[i]) / (px + 1e-9)) *
             (lit > 0);
    }
    if (p->crack_n) {
        double cd = 1e9;
        for (int i = 0; i + 1 < p->crack_n; i++)
            cd = fmin(cd, seg_dist(x, y, p->crack_x[i], p->crack_y[i], p->crack_x[i + 1],
                                   p->crack_y[i + 1]));
        g *= 1 - p->crack_d * line_alpha(cd, p->crack_w, px);
    }
    return mix(bgv, g, part);
}

static void render_casting(canvas *cv, sl_rng *r, int cls, uint8_t *out)
{
    casting_p p;
    casting_params(&p, r, cls);
    for (int y = 0; y < cv->size; y++)
        for (int x = 0; x < cv->size; x++)
            cv->buf[(size_t)y * cv->size + x] =
                (float)casting_shade(&p, (x + 0.5) * cv->px, (y + 0.5) * cv->px, cv->px);
    finish(cv, r, out, sl_rng_range(r, 0.012, 0.035));
}

/* ---- pcb ---- */

#define PCB_MAX_TR 8
typedef struct {
    double rot, ca, sa, ox, oy, scale;
    double mask[3], copper[3], pad[3], silk[3];
    uint64_t tex;
    int ntr;
    double tw;
    double ax[PCB_MAX_TR], ay[PCB_MAX_TR], bx[PCB_MAX_TR], by[PCB_MAX_TR]; /* two segments: */
    double mx[PCB_MAX_TR], my[PCB_MAX_TR];                                 /* a -> m -> b */
    double pad_r, hole_r;
    int missing; /* pad index (2 * trace + end) without a hole, or -1 */
    int open_tr;
    double open_x, open_y, open_len;
    double short_ax, short_ay, short_bx, short_by, short_w;
    int nvia;
    double via_x[4], via_y[4];
    double silk_x0, silk_y0, silk_x1, silk_y1;
    int ndust;
    double dust_x[4], dust_y[4], dust_r[4], dust_d[4];
} pcb_p;

static void pcb_params(pcb_p *p, sl_rng *r, int cls)
{
    memset(p, 0, sizeof *p);
    p->rot = (int)sl_rng_below(r, 4) * PI / 2 + sl_rng_normal(r) * 0.06;
    p->ca = cos(p->rot);
    p->sa = sin(p->rot);
    p->ox = sl_rng_normal(r) * 0.03;
    p->oy = sl_rng_normal(r) * 0.03;
    p->scale = sl_rng_range(r, 0.9, 1.1);
    double hue = sl_rng_normal(r) * 0.04, dark = sl_rng_range(r, 0.75, 1.1);
    double m[3] = {0.10 + hue, 0.36 - hue * 0.5, 0.16 + hue};
    double cu[3] = {0.30, 0.62, 0.28}, pd[3] = {0.86, 0.74, 0.42}, sk[3] = {0.9, 0.92, 0.88};
    for (int k = 0; k < 3; k++) {
        p->mask[k] = m[k] * dark;
        p->copper[k] = cu[k] * dark + sl_rng_normal(r) * 0.02;
        p->pad[k] = pd[k] * sl_rng_range(r, 0.9, 1.05);
        p->silk[k] = sk[k];
    }
    p->tex = sl_rng_next(r);
    p->tw = sl_rng_range(r, 0.02, 0.03);
    p->pad_r = sl_rng_range(r, 0.032, 0.042);
    p->hole_r = p->pad_r * sl_rng_range(r, 0.38, 0.5);
    /* traces on distinct rows 0.1 apart; half of them slant towards the half row on their
     * second segment, as routed boards do to clear a pad */
    int rows[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    for (int i = 7; i > 0; i--) {
        int j = (int)sl_rng_below(r, (uint64_t)i + 1), t = rows[i];
        rows[i] = rows[j];
        rows[j] = t;
    }
    p->ntr = 4 + (int)sl_rng_below(r, 3);
    for (int i = 0; i < p->ntr; i++) {
        double y = 0.15 + 0.1 * rows[i];
        double x0 = sl_rng_range(r, 0.08, 0.35), x1 = sl_rng_range(r, 0.65, 0.92);
        double xm = sl_rng_range(r, x0 + 0.1, x1 - 0.1);
        double jog = sl_rng_uniform(r) < 0.5 ? 0 : (sl_rng_uniform(r) < 0.5 ? -0.045 : 0.045);
        p->ax[i] = x0;
        p->ay[i] = y;
        p->mx[i] = xm;
        p->my[i] = y;
        p->bx[i] = x1;
        p->by[i] = y + jog;
    }
    p->missing = -1;
    p->open_tr = -1;
    p->nvia = (int)sl_rng_below(r, 4);
    for (int i = 0; i < p->nvia; i++) {
        p->via_x[i] = sl_rng_range(r, 0.05, 0.95);
        p->via_y[i] = sl_rng_uniform(r) < 0.5 ? 0.06 : 0.94;
    }
    p->silk_x0 = sl_rng_range(r, 0.1, 0.5);
    p->silk_x1 = p->silk_x0 + sl_rng_range(r, 0.15, 0.4);
    p->silk_y0 = sl_rng_uniform(r) < 0.5 ? 0.02 : 0.9;
    p->silk_y1 = p->silk_y0 + 0.07;
    p->ndust = (int)sl_rng_below(r, 4);
    for (int i = 0; i < p->ndust; i++) {
        p->dust_x[i] = sl_rng_range(r, 0.05, 0.95);
        p->dust_y[i] = sl_rng_range(r, 0.05, 0.95);
        p->dust_r[i] = sl_rng_range(r, 0.005, 0.015);
        p->dust_d[i] = sl_rng_range(r, 0.05, 0.18) * (sl_rng_uniform(r) < 0.5 ? 1 : -1);
    }
    int t = (int)sl_rng_below(r, (uint64_t)p->ntr);
    switch (cls) {
    case 0: /* missing_hole */
        p->missing = 2 * t + (int)sl_rng_below(r, 2);
        break;
    case 2: { /* open: a gap across the first segment of a trace */
        p->open_tr = t;
        double u = sl_rng_range(r, 0.25, 0.75);
        p->open_x = mix(p->ax[t], p->mx[t], u);
        p->open_y = p->ay[t];
        p->open_len = sl_rng_range(r, 0.01, 0.03);
        break;
    }
    case 3: { /* short: a thin copper sliver from a trace towards the next row */
        double x = sl_rng_range(r, fmax(p->ax[t], 0.2), fmin(p->mx[t], 0.8));
        double dir = sl_rng_uniform(r) < 0.5 ? -1 : 1;
        p->short_ax = x;
        p->short_ay = p->ay[t];
        p->short_bx = x + sl_rng_normal(r) * 0.02;
        p->short_by = p->ay[t] + dir * sl_rng_range(r, 0.06, 0.1);
        p->short_w = sl_rng_range(r, 0.006, 0.016);
        break;
    }
    default:
        break;
    }
}

static void pcb_shade(const void *pv, double X, double Y, double px, double rgb[3])
{
    const pcb_p *p = pv;
    /* board frame: rotate about the centre, then offset and scale */
    double u = X - 0.5, v = Y - 0.5;
    double x = (p->ca * u + p->sa * v) / p->scale + 0.5 + p->ox;
    double y = (-p->sa * u + p->ca * v) / p->scale + 0.5 + p->oy;
    double pxl = px / p->scale;
    double blotch = 0.08 * (vnoise(x * 9, y * 9, p->tex) - 0.5) +
                    0.04 * (vnoise(x * 60, y * 60, p->tex + 1) - 0.5);
    for (int k = 0; k < 3; k++)
        rgb[k] = p->mask[k] * (1 + blotch);
    /* silkscreen outline of a component */
    double sd = fmin(fmin(fabs(x - p->silk_x0), fabs(x - p->silk_x1)) +
                         (y < p->silk_y0 || y > p->silk_y1) * 1.0,
                     fmin(fabs(y - p->silk_y0), fabs(y - p->silk_y1)) +
                         (x < p->silk_x0 || x > p->silk_x1) * 1.0);
    double sa = 0.8 * line_alpha(sd, 0.008, pxl);
    for (int k = 0; k < 3; k++)
        rgb[k] = mix(rgb[k], p->silk[k], sa);
    double td = 1e9;
    for (int i = 0; i < p->ntr; i++) {
        double d1 = seg_dist(x, y, p->ax[i], p->ay[i], p->mx[i], p->my[i]);
        if (i == p->open_tr && fabs(x - p->open_x) < p->open_len / 2 && fabs(y - p->open_y) < p->tw)
            d1 = 1e9;
        td = fmin(td, fmin(d1, seg_dist(x, y, p->mx[i], p->my[i], p->bx[i], p->by[i])));
    }
    double ta = cover(td - p->tw / 2, pxl);
    if (p->short_w > 0)
        ta = fmax(ta, line_alpha(seg_dist(x, y, p->short_ax, p->short_ay, p->short_bx, p->short_by),
                                 p->short_w, pxl));
    for (int k = 0; k < 3; k++)
        rgb[k] = mix(rgb[k], p->copper[k] * (1 + 0.5 * blotch), ta);
    /* pads with drilled holes at both trace ends, and vias */
    for (int i = 0; i < 2 * p->ntr + p->nvia; i++) {
        double cx, cy, pr = p->pad_r, hr = p->hole_r;
        if (i < 2 * p->ntr) {
            int t = i / 2;
            cx = i % 2 ? p->bx[t] : p->ax[t];
            cy = i % 2 ? p->by[t] : p->ay[t];
        } else {
            cx = p->via_x[i - 2 * p->ntr];
            cy = p->via_y[i - 2 * p->ntr];
            pr *= 0.7;
            hr *= 0.7;
        }
        double d = dist2d(x - cx, y - cy);
        if (d > pr + pxl) continue;
        double pa = cover(d - pr, pxl);
        double shine = 1 + 0.15 * ((x - cx) - (y - cy)) / (pr + 1e-9);
        for (int k = 0; k < 3; k++)
            rgb[k] = mix(rgb[k], p->pad[k] * shine, pa);
        if (i != p->missing) {
            double ha = cover(d - hr, pxl);
            for (int k = 0; k < 3; k++)
                rgb[k] = mix(rgb[k], 0.06, ha);
        }
    }
    for (int i = 0; i < p->ndust; i++) {
        double a = spot_alpha(dist2d(x - p->dust_x[i], y - p->dust_y[i]), p->dust_r[i], pxl);
        for (int k = 0; k < 3; k++)
            rgb[k] += p->dust_d[i] * a;
    }
}

static void render_pcb(canvas *cv, sl_rng *r, int cls, uint8_t *out)
{
    pcb_p p;
    pcb_params(&p, r, cls);
    render_rgb(cv, r, pcb_shade, &p, out);
}

/* ---- fabric ---- */

typedef struct {
    double ca, sa, period, warp[3], weft[3], gap;
    uint64_t tex;
    int cls;
    double hx, hy, hr;            /* hole */
    double sx, sy, sr, sk, st[3]; /* stain */
    int bt_warp, bt_i;            /* broken thread: warp or weft, thread index */
    double bt_t0, bt_t1;
    double wrinkle_a, wrinkle_f, wrinkle_amp;
} fabric_p;

static void fabric_params(fabric_p *p, sl_rng *r, int cls)
{
    memset(p, 0, sizeof *p);
    double rot = sl_rng_normal(r) * 0.12;
    p->ca = cos(rot);
    p->sa = sin(rot);
    p->period = sl_rng_range(r, 0.05, 0.075);
    static const double base[6][3] = {{0.16, 0.22, 0.45}, {0.78, 0.70, 0.55}, {0.55, 0.55, 0.57},
                                      {0.62, 0.15, 0.14}, {0.20, 0.38, 0.22}, {0.85, 0.84, 0.80}};
    int b = (int)sl_rng_below(r, 6);
    double tone = sl_rng_range(r, 0.8, 1.15);
    for (int k = 0; k < 3; k++) {
        p->warp[k] = base[b][k] * tone;
        p->weft[k] = base[b][k] * tone * sl_rng_range(r, 0.85, 1.05);
    }
    p->gap = sl_rng_range(r, 0.12, 0.3);
    p->tex = sl_rng_next(r);
    p->cls = cls;
    p->bt_i = -100000;
    p->wrinkle_a = sl_rng_range(r, 0, PI);
    p->wrinkle_f = sl_rng_range(r, 2, 5);
    p->wrinkle_amp = sl_rng_range(r, 0, 0.12);
    switch (cls) {
    case 0: /* broken_thread */
        p->bt_warp = sl_rng_uniform(r) < 0.5;
        p->bt_i = (int)floor(sl_rng_range(r, 0.25, 0.75) / p->period);
        p->bt_t0 = sl_rng_range(r, 0.1, 0.6);
        p->bt_t1 = p->bt_t0 + sl_rng_range(r, 0.08, 0.3);
        break;
    case 1: /* hole */
        p->hx = sl_rng_range(r, 0.2, 0.8);
        p->hy = sl_rng_range(r, 0.2, 0.8);
        p->hr = sl_rng_range(r, 0.015, 0.04);
        break;
    case 3: /* stain */
        p->sx = sl_rng_range(r, 0.2, 0.8);
        p->sy = sl_rng_range(r, 0.2, 0.8);
        p->sr = sl_rng_range(r, 0.035, 0.08);
        p->sk = sl_rng_range(r, 0.35, 0.85);
        /* oil brown, grease grey, rust yellow: what each channel keeps under the stain */
        double tint[3][3] = {{0.45, 0.33, 0.2}, {0.4, 0.4, 0.4}, {0.6, 0.45, 0.15}};
        int t = (int)sl_rng_below(r, 3);
        for (int k = 0; k < 3; k++)
            p->st[k] = tint[t][k];
        break;
    default:
        break;
    }
}

/* Plain weave at one point (in the cloth frame): yarn over / under, rounded yarn profile. */
static void weave(const fabric_p *p, double x, double y, double rgb[3])
{
    double a = x / p->period, b = y / p->period;
    int i = (int)floor(a), j = (int)floor(b);
    double fa = a - i, fb = b - j;
    int warp_top = ((i + j) & 1) == 0;
    /* yarn cross-sections: bright in the middle, dark in the gaps between yarns */
    double pw = sin(PI * fa), pf = sin(PI * fb);
    int warp_here = pw > p->gap, weft_here = pf > p->gap;
    int warp_gone = p->bt_warp && i == p->bt_i && y > p->bt_t0 && y < p->bt_t1;
    int weft_gone = !p->bt_warp && j == p->bt_i && x > p->bt_t0 && x < p->bt_t1;
    if (warp_gone) warp_here = 0;
    if (weft_gone) weft_here = 0;
    double sw = 0.85 + 0.15 * (hash2(i, 0, p->tex) - 0.5) * 2; /* yarn-to-yarn streaks */
    double sf = 0.85 + 0.15 * (hash2(0, j, p->tex + 7) - 0.5) * 2;
    const double *col;
    double shade;
    if (warp_here && (warp_top || !weft_here)) {
        col = p->warp;
        shade = sw * (0.55 + 0.45 * pw) * (0.8 + 0.2 * sin(PI * fb));
    } else if (weft_here) {
        col = p->weft;
        shade = sf * (0.55 + 0.45 * pf) * (0.8 + 0.2 * sin(PI * fa));
    } else {
        col = p->warp;
        shade = 0.12;
    }
    for (int k = 0; k < 3; k++)
        rgb[k] = col[k] * shade;
}

static void fabric_shade(const void *pv, double X, double Y, double px, double rgb[3])
{
    const fabric_p *p = pv;
    double acc[3] = {0, 0, 0};
    /* 2x2 supersampling: the weave is near the sampling limit at 64 px */
    for (int s = 0; s < 4; s++) {
        double xs = X + ((s & 1) - 0.5) * px * 0.5, ys = Y + ((s >> 1) - 0.5) * px * 0.5;
        double u = xs - 0.5, v = ys - 0.5;
        double x = p->ca * u + p->sa * v + 0.5, y = -p->sa * u + p->ca * v + 0.5;
        double c[3];
        weave(p, x, y, c);
        for (int k = 0; k < 3; k++)
            acc[k] += c[k] / 4;
    }
    double fuzz = 0.08 * (vnoise(X * 70, Y * 70, p->tex + 3) - 0.5);
    double wr = p->wrinkle_amp *
                sin((X * cos(p->wrinkle_a) + Y * sin(p->wrinkle_a)) * 2 * PI * p->wrinkle_f +
                    3 * (vnoise(X * 3, Y * 3, p->tex + 4) - 0.5));
    for (int k = 0; k < 3; k++)
        rgb[k] = acc[k] * (1 + fuzz + wr);
    if (p->hr > 0) {
        double d = dist2d(X - p->hx, (Y - p->hy) * 1.3);
        double edge =
            p->hr * (0.75 + 0.5 * vnoise(atan2(Y - p->hy, X - p->hx) * 3, 0.5, p->tex + 5));
        double a = cover(d - edge, px);
        for (int k = 0; k < 3; k++)
            rgb[k] = mix(rgb[k], 0.04, a);
    }
    if (p->sr > 0) {
        double d = dist2d(X - p->sx, Y - p->sy) / p->sr + 0.5 * fbm(X * 25, Y * 25, p->tex + 6);
        double a = p->sk * clamp01(1.2 - d) * (0.8 + 0.2 * clamp01((d - 0.7) * 4));
        for (int k = 0; k < 3; k++)
            rgb[k] *= 1 - a * (1 - p->st[k]);
    }
}

static void render_fabric(canvas *cv, sl_rng *r, int cls, uint8_t *out)
{
    fabric_p p;
    fabric_params(&p, r, cls);
    render_rgb(cv, r, fabric_shade, &p, out);
}

/* ---- product table ---- */

typedef struct {
    const char *name;
    int channels;
    const char *const *classes;
    int nclasses;
    void (*render)(canvas *, sl_rng *, int, uint8_t *);
} product;

static const char *const casting_classes[] = {"crack", "flash", "ok", "porosity"};
static const char *const pcb_classes[] = {"missing_hole", "ok", "open", "short"};
static const char *const fabric_classes[] = {"broken_thread", "hole", "ok", "stain"};
static const product products[] = {
    {"casting", 1, casting_classes, 4, render_casting},
    {"pcb", 3, pcb_classes, 4, render_pcb},
    {"fabric", 3, fabric_classes, 4, render_fabric},
};
static const char *const product_names[] = {"casting", "pcb", "fabric", NULL};

const char *const *sl_synth_product_names(void)
{
    return product_names;
}

static const product *find_product(const char *name)
{
    for (size_t i = 0; i < sizeof products / sizeof *products; i++)
        if (name && !strcmp(products[i].name, name)) return &products[i];
    sl_err(SL_ENOTFOUND, "unknown product line '%s' (casting, pcb, fabric)", name ? name : "");
    return NULL;
}

int sl_synth_classes(const char *name, const char *const **names, int *n)
{
    const product *p = find_product(name);
    if (!p) return SL_ENOTFOUND;
    *names = p->classes;
    *n = p->nclasses;
    return SL_OK;
}

void sl_synth_opts_init(sl_synth_opts *o)
{
    memset(o, 0, sizeof *o);
    o->product = "casting";
    o->size = 64;
    o->per_class = 200;
    o->seed = 1;
    o->splits[0] = 0.7;
    o->splits[1] = 0.15;
    o->splits[2] = 0.15;
    o->threads = 2;
}

int sl_synth_render(const char *name, int cls, uint64_t seed, int64_t index, int size,
                    sl_image *out)
{
    memset(out, 0, sizeof *out);
    const product *p = find_product(name);
    if (!p) return SL_ENOTFOUND;
    if (cls < 0 || cls >= p->nclasses) return sl_err(SL_EARG, "%s has no class %d", p->name, cls);
    if (size < 16 || size > 1024) return sl_err(SL_EARG, "image size %d not in [16, 1024]", size);
    int rc = sl_image_alloc(size, size, p->channels, out);
    if (rc != SL_OK) return rc;
    canvas cv = {size, p->channels, 1.0 / size, malloc(sizeof(float) * size * size * p->channels)};
    if (!cv.buf) {
        sl_image_free(out);
        return sl_err(SL_ENOMEM, "out of memory rendering a %d px image", size);
    }
    /* the class's own name goes into the seed so reordering the table changes nothing */
    uint64_t s =
        sl_rng_mix(sl_rng_mix(seed, sl_rng_hash_str(p->name)), sl_rng_hash_str(p->classes[cls]));
    sl_rng r = {sl_rng_mix(s, (uint64_t)index)};
    p->render(&cv, &r, cls, out->data);
    free(cv.buf);
    return SL_OK;
}

/* ---- writing the ImageFolder ---- */

typedef struct {
    const sl_synth_opts *o;
    const product *p;
    const char *root;
    int64_t per_split[3];
    int64_t total, next, done;
    int rc;
    char msg[512];
    pthread_mutex_t mu;
} gen_job;

/* Folder of image k of a class: split folder by position in the class, then the class. */
static int item_path(const gen_job *j, int cls, int64_t k, char *buf, size_t n)
{
    const char *cname = j->p->classes[cls];
    int flat = j->o->splits[0] == 0 && j->o->splits[1] == 0 && j->o->splits[2] == 0;
    int len;
    if (flat) {
        len = snprintf(buf, n, "%s/%s/%s_%05lld.png", j->root, cname, cname, (long long)k);
    } else {
        int s = k < j->per_split[0] ? 0 : k < j->per_split[0] + j->per_split[1] ? 1 : 2;
        len = snprintf(buf, n, "%s/%s/%s/%s_%05lld.png", j->root, sl_split_name(s), cname, cname,
                       (long long)k);
    }
    return len < 0 || (size_t)len >= n ? sl_err(SL_EARG, "%s: path too long", j->root) : SL_OK;
}

/* Renders, encodes and writes the next image; returns 0 when none is left. */
static int gen_one(gen_job *j)
{
    pthread_mutex_lock(&j->mu);
    int64_t t = j->rc == SL_OK && j->next < j->total ? j->next++ : -1;
    pthread_mutex_unlock(&j->mu);
    if (t < 0) return 0;
    int cls = (int)(t / j->o->per_class);
    int64_t k = t % j->o->per_class;
    char path[4096];
    sl_image img;
    void *png = NULL;
    size_t len = 0;
    int rc = item_path(j, cls, k, path, sizeof path);
    if (rc == SL_OK) rc = sl_synth_render(j->p->name, cls, j->o->seed, k, j->o->size, &img);
    if (rc == SL_OK) {
        rc = sl_png_encode(img.w, img.h, img.c, img.data, &png, &len);
        sl_image_free(&img);
    }
    /* plain writes: the whole tree is staged in a temporary folder renamed at the end */
    if (rc == SL_OK) {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(png, 1, len, f) != len)
            rc = sl_err(SL_EIO, "%s: %s", path, strerror(errno));
        if (f && fclose(f) != 0 && rc == SL_OK)
            rc = sl_err(SL_EIO, "%s: %s", path, strerror(errno));
    }
    free(png);
    pthread_mutex_lock(&j->mu);
    if (rc != SL_OK && j->rc == SL_OK) {
        j->rc = rc;
        snprintf(j->msg, sizeof j->msg, "%s", sl_errmsg());
    }
    j->done++;
    pthread_mutex_unlock(&j->mu);
    return 1;
}

static void *gen_worker(void *arg)
{
    while (gen_one(arg)) {
    }
    return NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int write_manifest(const gen_job *j, const char *root)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "format", "sl-synth-manifest");
    cJSON_AddStringToObject(m, "generator", "sl-data synth " SL_VERSION);
    cJSON_AddNumberToObject(m, "generator_version", SL_SYNTH_VERSION);
    cJSON_AddStringToObject(m, "product", j->p->name);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)j->o->seed);
    cJSON_AddStringToObject(m, "seed", seed);
    cJSON_AddNumberToObject(m, "size", j->o->size);
    cJSON_AddNumberToObject(m, "channels", j->p->channels);
    int flat = j->o->splits[0] == 0 && j->o->splits[1] == 0 && j->o->splits[2] == 0;
    cJSON_AddStringToObject(m, "layout", flat ? "imagefolder" : "imagefolder-split");
    cJSON *cl = cJSON_AddArrayToObject(m, "classes");
    for (int c = 0; c < j->p->nclasses; c++)
        cJSON_AddItemToArray(cl, cJSON_CreateString(j->p->classes[c]));
    cJSON *counts = cJSON_AddObjectToObject(m, "counts");
    for (int s = 0; s < 3; s++) {
        if (flat && s) break;
        cJSON *per = cJSON_AddObjectToObject(counts, flat ? "all" : sl_split_name(s));
        for (int c = 0; c < j->p->nclasses; c++)
            cJSON_AddNumberToObject(per, j->p->classes[c],
                                    (double)(flat ? j->o->per_class : j->per_split[s]));
    }
    cJSON_AddNumberToObject(m, "total", (double)j->total);
    char *text = cJSON_Print(m);
    cJSON_Delete(m);
    if (!text) return sl_err(SL_ENOMEM, "out of memory writing the manifest");
    char path[4096];
    int rc = sl_path_join(path, sizeof path, root, "manifest.json");
    if (rc == SL_OK) rc = sl_write_text_atomic(path, text);
    free(text);
    return rc;
}

static int make_tree(const gen_job *j, const char *root)
{
    int flat = j->o->splits[0] == 0 && j->o->splits[1] == 0 && j->o->splits[2] == 0;
    char dir[4096];
    for (int s = 0; s < (flat ? 1 : 3); s++) {
        if (!flat && j->per_split[s] == 0) continue;
        for (int c = 0; c < j->p->nclasses; c++) {
            int len = flat ? snprintf(dir, sizeof dir, "%s/%s", root, j->p->classes[c])
                           : snprintf(dir, sizeof dir, "%s/%s/%s", root, sl_split_name(s),
                                      j->p->classes[c]);
            if (len < 0 || (size_t)len >= sizeof dir)
                return sl_err(SL_EARG, "%s: path too long", root);
            int rc = sl_mkdir_p(dir);
            if (rc != SL_OK) return rc;
        }
    }
    return SL_OK;
}

int sl_synth_generate(const sl_synth_opts *o, const char *out_dir)
{
    const product *p = find_product(o->product);
    if (!p) return SL_ENOTFOUND;
    if (o->size < 16 || o->size > 1024)
        return sl_err(SL_EARG, "size %d not in [16, 1024]", o->size);
    if (o->per_class < 1 || o->per_class > 10000000)
        return sl_err(SL_EARG, "images per class %d must be at least 1", o->per_class);
    double sum = o->splits[0] + o->splits[1] + o->splits[2];
    int flat = sum == 0;
    if (!flat && (o->splits[0] < 0 || o->splits[1] < 0 || o->splits[2] < 0 || fabs(sum - 1) > 1e-6))
        return sl_err(SL_EARG, "splits %g,%g,%g must be non-negative and sum to 1", o->splits[0],
                      o->splits[1], o->splits[2]);
    if (sl_is_dir(out_dir) && rmdir(out_dir) != 0 && errno != ENOENT)
        return sl_err(SL_EIO, "%s: already exists and is not empty; choose another --out", out_dir);
    struct stat st;
    if (lstat(out_dir, &st) == 0) return sl_err(SL_EIO, "%s: already exists", out_dir);
    char stage[4096];
    int rc = sl_tmp_path_for(out_dir, stage, sizeof stage);
    if (rc != SL_OK) return rc;
    gen_job j = {o, p, stage, {0, 0, 0}, (int64_t)p->nclasses * o->per_class,
                 0, 0, SL_OK, "",        PTHREAD_MUTEX_INITIALIZER};
    if (!flat) {
        j.per_split[1] = (int64_t)floor(o->per_class * o->splits[1] + 0.5);
        j.per_split[2] = (int64_t)floor(o->per_class * o->splits[2] + 0.5);
        if (j.per_split[1] + j.per_split[2] > o->per_class)
            j.per_split[2] = o->per_class - j.per_split[1];
        j.per_split[0] = o->per_class - j.per_split[1] - j.per_split[2];
    }
    if ((rc = make_tree(&j, stage)) != SL_OK) goto fail;
    int nt = o->threads < 1 ? 1 : o->threads > 64 ? 64 : o->threads;
    pthread_t tid[64];
    int started = 0;
    for (int i = 1; i < nt; i++)
        if (pthread_create(&tid[started], NULL, gen_worker, &j) == 0) started++;
    sl_progress *pr = sl_progress_start("rendering", (uint64_t)j.total);
    /* the calling thread renders too, and reports progress between its images */
    while (gen_one(&j)) {
        pthread_mutex_lock(&j.mu);
        int64_t done = j.done;
        pthread_mutex_unlock(&j.mu);
        sl_progress_update(pr, (uint64_t)done, NULL);
    }
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    sl_progress_update(pr, (uint64_t)j.done, NULL);
    sl_progress_done(pr, NULL);
    rc = j.rc == SL_OK ? SL_OK : sl_err(j.rc, "%s", j.msg);
    if (rc == SL_OK) rc = write_manifest(&j, stage);
    if (rc == SL_OK && rename(stage, out_dir) != 0)
        rc = sl_err(SL_EIO, "%s: cannot move the finished tree into place: %s", out_dir,
                    strerror(errno));
    if (rc == SL_OK) return SL_OK;
fail:
    nftw(stage, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
