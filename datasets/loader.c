/* loader.c: deterministic shuffled batches with augmentation and prefetching worker threads. */
#include "datasets/loader.h"
#include "datasets/rng.h"

#include "common/status.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_FREE, SLOT_WORKING, SLOT_READY, SLOT_HANDED };

typedef struct {
    int state;
    int64_t number;
    int rc;
    char msg[512];
    sl_batch b;
} slot;

struct sl_loader {
    sl_dataset *ds;
    sl_loader_opts o;
    size_t per; /* floats per image */
    int64_t count, nbatches;
    int64_t *perm;
    int epoch;
    int64_t next_assign, cur;
    int nslots;
    slot *slots;
    int handed; /* slot handed to the caller, -1 if none */
    int nthreads;
    pthread_t *tids;
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

void sl_loader_opts_init(sl_loader_opts *o)
{
    memset(o, 0, sizeof *o);
    o->spec.c = 3;
    o->spec.h = o->spec.w = 224;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    memcpy(o->spec.mean, mean, sizeof mean);
    memcpy(o->spec.std, std, sizeof std);
    o->spec.resize = SL_RESIZE_STRETCH;
    o->batch = 32;
    o->shuffle = 1;
    o->threads = 2;
}

static int augmenting(const sl_augment *a)
{
    return a->hflip || a->vflip || a->crop_pad > 0 || a->brightness > 0 || a->contrast > 0 ||
           a->rotate > 0;
}

/* Rotates planar [0, 1] floats by `deg` degrees (counter-clockwise) about the image centre,
 * bilinear, 0 where the source falls outside; `tmp` is scratch of the same size. */
static void rotate(int c, int h, int w, double deg, float *x, float *tmp)
{
    size_t plane = (size_t)h * w;
    memcpy(tmp, x, sizeof(float) * plane * c);
    double th = deg * 3.14159265358979323846 / 180.0, cs = cos(th), sn = sin(th);
    double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
    for (int y = 0; y < h; y++)
        for (int xx = 0; xx < w; xx++) {
            /* the source of output (xx, y): the inverse rotation */
            double dx = xx - cx, dy = y - cy;
            double sx = cs * dx - sn * dy + cx, sy = sn * dx + cs * dy + cy;
            int x0 = (int)floor(sx), y0 = (int)floor(sy);
            double fx = sx - x0, fy = sy - y0;
            for (int k = 0; k < c; k++) {
                const float *src = tmp + k * plane;
                double v = 0;
                for (int j = 0; j < 2; j++)
                    for (int i = 0; i < 2; i++) {
                        int px = x0 + i, py = y0 + j;
                        if (px < 0 || px >= w || py < 0 || py >= h) continue;
                        v += (i ? fx : 1 - fx) * (j ? fy : 1 - fy) * src[(size_t)py * w + px];
                    }
                x[k * plane + (size_t)y * w + xx] = (float)v;
            }
        }
}

/* Flips, padded crop and colour jitter on planar [0, 1] floats (see loader.h), in place. */
static void augment(const sl_augment *a, sl_rng *r, int c, int h, int w, float *x, float *tmp)
{
    size_t plane = (size_t)h * w;
    int hf = a->hflip && sl_rng_uniform(r) < 0.5;
    int vf = a->vflip && sl_rng_uniform(r) < 0.5;
    int dx = 0, dy = 0;
    if (a->crop_pad > 0) {
        dx = (int)sl_rng_below(r, (uint64_t)(2 * a->crop_pad + 1)) - a->crop_pad;
        dy = (int)sl_rng_below(r, (uint64_t)(2 * a->crop_pad + 1)) - a->crop_pad;
    }
    float bf =
        a->brightness > 0 ? (float)sl_rng_range(r, 1 - a->brightness, 1 + a->brightness) : 1.0f;
    float cf = a->contrast > 0 ? (float)sl_rng_range(r, 1 - a->contrast, 1 + a->contrast) : 1.0f;
    if (hf || vf || dx || dy) {
        memcpy(tmp, x, sizeof(float) * plane * c);
        for (int k = 0; k < c; k++)
            for (int y = 0; y < h; y++) {
                int sy = y + dy;
                for (int xx = 0; xx < w; xx++) {
                    int sx = xx + dx;
                    float v = 0;
                    if (sx >= 0 && sx < w && sy >= 0 && sy < h) {
                        int fx = hf ? w - 1 - sx : sx, fy = vf ? h - 1 - sy : sy;
                        v = tmp[k * plane + (size_t)fy * w + fx];
                    }
                    x[k * plane + (size_t)y * w + xx] = v;
                }
            }
    }
    /* drawn after the others, so adding a rotation leaves the other draws as they were */
    double deg = a->rotate > 0 ? sl_rng_range(r, -a->rotate, a->rotate) : 0;
    if (deg != 0) rotate(c, h, w, deg, x, tmp);
    if (bf != 1.0f)
        for (size_t i = 0; i < plane * c; i++) {
            float v = x[i] * bf;
            x[i] = v > 1 ? 1 : v;
        }
    if (cf != 1.0f) {
        double sum = 0;
        for (size_t i = 0; i < plane; i++)
            sum += c == 3 ? 0.299 * x[i] + 0.587 * x[plane + i] + 0.114 * x[2 * plane + i] : x[i];
        float m = (float)(sum / plane);
        for (size_t i = 0; i < plane * c; i++) {
            float v = (x[i] - m) * cf + m;
            x[i] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
    }
}

/* Cache rows already in the model's shape skip decoding and resampling: bytes straight to
 * [0, 1] floats (or normalised ones when `norm`). */
static int prepare_cached(const sl_dataset *ds, const sl_input_spec *s, int64_t index, int norm,
                          float *out)
{
    size_t plane = (size_t)s->h * s->w;
    uint8_t *chw = malloc(plane * s->c);
    if (!chw) return sl_err(SL_ENOMEM, "out of memory preparing an image");
    int rc = sl_dataset_cached_row(ds, index, chw);
    for (int k = 0; rc == SL_OK && k < s->c; k++) {
        float a = norm ? 1.0f / (255.0f * s->std[k]) : 1.0f / 255.0f;
        float b = norm ? -s->mean[k] / s->std[k] : 0.0f;
        for (size_t i = 0; i < plane; i++)
            out[k * plane + i] = chw[k * plane + i] * a + b;
    }
    free(chw);
    return rc;
}

/* The whole per-image pipeline; `tmp` holds C*H*W floats of scratch. */
static int prepare(const sl_dataset *ds, const sl_loader_opts *o, int epoch, int64_t index,
                   float *out, float *tmp)
{
    const sl_input_spec *s = &o->spec;
    int cc, ch, cw, rc;
    int direct =
        sl_dataset_cached_shape(ds, &cc, &ch, &cw) && cc == s->c && ch == s->h && cw == s->w;
    if (direct && !augmenting(&o->augment)) return prepare_cached(ds, s, index, 1, out);
    sl_image img = {0};
    if (!direct && (rc = sl_dataset_image(ds, index, &img)) != SL_OK) return rc;
    if (!augmenting(&o->augment)) {
        rc = sl_image_to_input(&img, s, out);
        sl_image_free(&img);
        return rc;
    }
    if (direct) {
        rc = prepare_cached(ds, s, index, 0, out);
    } else {
        sl_input_spec raw = *s;
        for (int k = 0; k < 4; k++) {
            raw.mean[k] = 0;
            raw.std[k] = 1;
        }
        rc = sl_image_to_input(&img, &raw, out);
        sl_image_free(&img);
    }
    if (rc != SL_OK) return rc;
    sl_rng r = {sl_rng_mix(sl_rng_mix(o->seed, (uint64_t)epoch), (uint64_t)index)};
    augment(&o->augment, &r, s->c, s->h, s->w, out, tmp);
    size_t plane = (size_t)s->h * s->w;
    for (int k = 0; k < s->c; k++) {
        float a = 1.0f / s->std[k], b = -s->mean[k] / s->std[k];
        for (size_t i = 0; i < plane; i++)
            out[k * plane + i] = out[k * plane + i] * a + b;
    }
    return SL_OK;
}

int sl_loader_sample(const sl_dataset *ds, const sl_loader_opts *o, int epoch, int64_t index,
                     float *out)
{
    float *tmp = malloc(sizeof(float) * (size_t)o->spec.c * o->spec.h * o->spec.w);
    if (!tmp) return sl_err(SL_ENOMEM, "out of memory preparing an image");
    int rc = prepare(ds, o, epoch, index, out, tmp);
    free(tmp);
    return rc;
}

/* Fills slot s with batch `number` of the current epoch; runs without the lock (the
 * permutation does not change while any slot is SLOT_WORKING). */
static void fill(sl_loader *l, slot *s, float *tmp)
{
    int64_t first = s->number * l->o.batch;
    int64_t n = l->count - first < l->o.batch ? l->count - first : l->o.batch;
    s->b.n = (int)n;
    s->b.epoch = l->epoch;
    s->b.number = s->number;
    s->rc = SL_OK;
    for (int64_t j = 0; j < n; j++) {
        int64_t idx = l->perm[first + j];
        s->b.index[j] = idx;
        s->b.y[j] = sl_dataset_label(l->ds, idx);
        int rc = prepare(l->ds, &l->o, l->epoch, idx, s->b.x + l->per * j, tmp);
        if (rc != SL_OK && s->rc == SL_OK) {
            s->rc = rc;
            snprintf(s->msg, sizeof s->msg, "%s", sl_errmsg());
        }
    }
}

static void *worker(void *arg)
{
    sl_loader *l = arg;
    float *tmp = malloc(sizeof(float) * l->per);
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && !(l->next_assign < l->nbatches &&
                             l->slots[l->next_assign % l->nslots].state == SLOT_FREE))
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->stop) break;
        slot *s = &l->slots[l->next_assign % l->nslots];
        s->number = l->next_assign++;
        s->state = SLOT_WORKING;
        pthread_mutex_unlock(&l->mu);
        if (tmp) {
            fill(l, s, tmp);
        } else {
            s->rc = sl_err(SL_ENOMEM, "out of memory preparing a batch");
            snprintf(s->msg, sizeof s->msg, "%s", sl_errmsg());
        }
        pthread_mutex_lock(&l->mu);
        s->state = SLOT_READY;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    free(tmp);
    return NULL;
}

/* New order for `epoch`; called with no slot SLOT_WORKING. */
static void start_epoch(sl_loader *l, int epoch)
{
    l->epoch = epoch;
    for (int64_t i = 0; i < l->count; i++)
        l->perm[i] = i;
    if (l->o.shuffle) {
        sl_rng r = {sl_rng_mix(sl_rng_mix(l->o.seed, 0x5348554646ULL), (uint64_t)epoch)};
        for (int64_t i = l->count - 1; i > 0; i--) {
            int64_t j = (int64_t)sl_rng_below(&r, (uint64_t)i + 1), t = l->perm[i];
            l->perm[i] = l->perm[j];
            l->perm[j] = t;
        }
    }
    for (int i = 0; i < l->nslots; i++)
        l->slots[i].state = SLOT_FREE;
    l->handed = -1;
    l->next_assign = 0;
    l->cur = 0;
}

void sl_loader_free(sl_loader *l)
{
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->nthreads; i++)
        pthread_join(l->tids[i], NULL);
    for (int i = 0; l->slots && i < l->nslots; i++) {
        free(l->slots[i].b.x);
        free(l->slots[i].b.y);
        free(l->slots[i].b.index);
    }
    free(l->slots);
    free(l->tids);
    free(l->perm);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

int sl_loader_new(sl_dataset *ds, const sl_loader_opts *o, sl_loader **out)
{
    *out = NULL;
    const sl_input_spec *s = &o->spec;
    if (o->batch < 1 || o->threads < 0 || o->threads > 64 || o->augment.crop_pad < 0 ||
        o->augment.brightness < 0 || o->augment.brightness > 1 || o->augment.contrast < 0 ||
        o->augment.contrast > 1)
        return sl_err(SL_EARG,
                      "loader options: batch %d, threads %d, crop_pad %d, brightness "
                      "%g, contrast %g out of range",
                      o->batch, o->threads, o->augment.crop_pad, o->augment.brightness,
                      o->augment.contrast);
    if ((s->c != 1 && s->c != 3) || s->h <= 0 || s->w <= 0 || s->h > 4096 || s->w > 4096)
        return sl_err(SL_EARG, "loader input shape %dx%dx%d is invalid", s->c, s->h, s->w);
    for (int k = 0; k < s->c; k++)
        if (!(s->std[k] > 0)) return sl_err(SL_EARG, "loader input std[%d] must be positive", k);
    int64_t count = sl_dataset_count(ds);
    if (count == 0)
        return sl_err(SL_EARG, "dataset %s has no images", sl_dataset_summary(ds)->root);
    sl_loader *l = calloc(1, sizeof *l);
    if (!l) return sl_err(SL_ENOMEM, "out of memory creating a loader");
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->ds = ds;
    l->o = *o;
    l->per = (size_t)s->c * s->h * s->w;
    l->count = count;
    l->nbatches = o->drop_last ? count / o->batch : (count + o->batch - 1) / o->batch;
    l->nslots = o->threads ? 2 * o->threads + 1 : 1;
    l->perm = malloc(sizeof(int64_t) * (size_t)count);
    l->slots = calloc((size_t)l->nslots, sizeof *l->slots);
    l->tids = calloc((size_t)(o->threads ? o->threads : 1), sizeof *l->tids);
    int ok = l->perm && l->slots && l->tids;
    for (int i = 0; ok && i < l->nslots; i++) {
        slot *sl = &l->slots[i];
        sl->b.x = malloc(sizeof(float) * l->per * (size_t)o->batch);
        sl->b.y = malloc(sizeof(int64_t) * (size_t)o->batch);
        sl->b.index = malloc(sizeof(int64_t) * (size_t)o->batch);
        ok = sl->b.x && sl->b.y && sl->b.index;
    }
    if (!ok) {
        sl_loader_free(l);
        return sl_err(SL_ENOMEM, "out of memory for %d batches of %d images", l->nslots, o->batch);
    }
    start_epoch(l, 0);
    for (int i = 0; i < o->threads; i++) {
        if (pthread_create(&l->tids[l->nthreads], NULL, worker, l) != 0) break;
        l->nthreads++;
    }
    if (o->threads && !l->nthreads) {
        sl_loader_free(l);
        return sl_err(SL_ENOMEM, "cannot start loader threads");
    }
    *out = l;
    return SL_OK;
}

int sl_loader_next(sl_loader *l, sl_batch *b)
{
    pthread_mutex_lock(&l->mu);
    if (l->handed >= 0) {
        l->slots[l->handed].state = SLOT_FREE;
        l->handed = -1;
        pthread_cond_broadcast(&l->cv);
    }
    if (l->cur >= l->nbatches) {
        pthread_mutex_unlock(&l->mu);
        return SL_LOADER_END;
    }
    int idx = (int)(l->cur % l->nslots);
    slot *s = &l->slots[idx];
    if (!l->nthreads) {
        s->number = l->cur;
        l->next_assign = l->cur + 1;
        s->state = SLOT_WORKING;
        pthread_mutex_unlock(&l->mu);
        float *tmp = malloc(sizeof(float) * l->per);
        if (!tmp) {
            pthread_mutex_lock(&l->mu);
            s->state = SLOT_FREE;
            pthread_mutex_unlock(&l->mu);
            return sl_err(SL_ENOMEM, "out of memory preparing a batch");
        }
        fill(l, s, tmp);
        free(tmp);
        pthread_mutex_lock(&l->mu);
        s->state = SLOT_READY;
    }
    while (!(s->state == SLOT_READY && s->number == l->cur))
        pthread_cond_wait(&l->cv, &l->mu);
    l->cur++;
    s->state = SLOT_HANDED;
    l->handed = idx;
    int rc = s->rc;
    *b = s->b;
    pthread_mutex_unlock(&l->mu);
    if (rc != SL_OK) return sl_err(rc, "%s", s->msg);
    return SL_OK;
}

void sl_loader_reset(sl_loader *l, int epoch)
{
    pthread_mutex_lock(&l->mu);
    l->next_assign = l->nbatches; /* no new work while the running batches finish */
    for (;;) {
        int working = 0;
        for (int i = 0; i < l->nslots; i++)
            working |= l->slots[i].state == SLOT_WORKING;
        if (!working) break;
        pthread_cond_wait(&l->cv, &l->mu);
    }
    start_epoch(l, epoch < 0 ? 0 : epoch);
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

int64_t sl_loader_num_batches(const sl_loader *l)
{
    return l->nbatches;
}
