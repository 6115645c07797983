/* plot.c: SVG rendering of the latency of every slice point, hand-written (SVG is plain text and
 * no Debian C library renders charts). */
#include "preprocessor/plot.h"

#include "common/fsutil.h"
#include "common/sbuf.h"
#include "common/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A legend's 14 px colour square at (x, y); extra is more attributes (" opacity=..."). */
static void swatch(sl_sbuf *b, double x, double y, const char *fill, const char *extra)
{
    sl_sbuf_printf(b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"14\" fill=\"%s\"%s/>", x,
                   y, fill, extra);
}

/* A legend row's text beside its swatch at (x, *y); moves *y to the next row. */
static void legend_text(sl_sbuf *b, double x, double *y, const char *text)
{
    sl_sbuf_printf(b, "<text x=\"%.0f\" y=\"%.0f\">%s</text>\n", x + 20, *y + 11, text);
    *y += 22;
}

/* Escapes a tensor name for SVG text. */
static void svg_text(sl_sbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            sl_sbuf_printf(b, "&lt;");
        else if (*s == '>')
            sl_sbuf_printf(b, "&gt;");
        else if (*s == '&')
            sl_sbuf_printf(b, "&amp;");
        else if (*s == '"')
            sl_sbuf_printf(b, "&quot;");
        else
            sl_sbuf_printf(b, "%c", *s);
    }
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about 6 ticks up to `max`. */
static double nice_step(double max)
{
    double raw = max / 6, p = pow(10, floor(log10(raw)));
    double m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

enum { SEG_DEVICE, SEG_TRANSFER, SEG_EDGE, SEG_CLOUD, N_SEG };
static const char *seg_color[N_SEG] = {"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1"};
static const char *seg_label[N_SEG] = {"device (incl. TL encode)",
                                       "transfer (codec + serialise + RTT + wire)",
                                       "edge (incl. TL decode)", "cloud (incl. hop to it)"};

static void segments(const sl_plan *p, double seg[N_SEG])
{
    seg[SEG_DEVICE] = p->load_s + p->device_s + p->tl_enc_s;
    /* The codec's two ends are drawn with the transfer they serve. */
    seg[SEG_TRANSFER] =
        p->wire_enc_s + p->serialise_s + p->rtt_s + p->transfer_s + p->wire_dec_s;
    seg[SEG_EDGE] = p->edge_s;
    seg[SEG_CLOUD] = p->cloud_s + p->serialise2_s + p->rtt2_s + p->transfer2_s;
    /* The decoder runs on the edge unless the edge only forwards to the cloud. */
    if (p->cut2 >= 0 && p->cut2 == p->cut)
        seg[SEG_CLOUD] += p->tl_dec_s;
    else
        seg[SEG_EDGE] += p->tl_dec_s;
}

/* The plan drawn for each cut without / with a TL: the best allowed one, else the best excluded
 * one (drawn faded). Returns a new array of 2 * n_cuts entries (NULL where no plan exists), or
 * NULL when out of memory. */
static const sl_plan **bar_plans(const sl_selection *s, int n_cuts)
{
    const sl_plan **bars = calloc(2 * (size_t)n_cuts, sizeof *bars);
    if (!bars) return NULL;
    for (int c = 0; c < n_cuts; c++)
        for (int w = 0; w < 2; w++)
            bars[2 * c + w] = sl_selection_best_at(s, c, w);
    for (int i = s->n_allowed; i < s->n_plans; i++) {
        const sl_plan *q = &s->plans[i];
        const sl_plan **slot = &bars[2 * q->cut + (q->tl >= 0)];
        if (!*slot || ((*slot)->violated >= 0 && q->total_s < (*slot)->total_s)) *slot = q;
    }
    return bars;
}

char *sl_plot_svg(const sl_select_input *in, const sl_selection *s)
{
    const sl_profile *pr = in->device;
    const int ncut = pr->n_cuts;
    /* Wide bars for a few cuts, at least 14 px each for many (the chart then grows). */
    const double group_w = fmax(42, fmin(120, 560.0 / ncut)), bar_w = (group_w - 14) / 2;
    const double left = 80, right = 330, top = 60, plot_h = 360, bottom = 130;
    double plot_w = fmax(560, ncut * group_w);
    double width = left + plot_w + right, height = top + plot_h + bottom;
    const sl_plan **bars = bar_plans(s, ncut);
    if (!bars) {
        sl_err(SL_ENOMEM, "out of memory while drawing the chart");
        return NULL;
    }
    double ymax = 0;
    for (int i = 0; i < 2 * ncut; i++)
        if (bars[i]) ymax = fmax(ymax, bars[i]->total_s);
    if (ymax <= 0) ymax = 1e-3;
    double step = nice_step(ymax);
    double yaxis = ceil(ymax / step) * step;
    const sl_plan *best = s->n_allowed ? &s->plans[0] : NULL;
    const sl_plan *best_plain = sl_selection_best(s, 0), *best_tl = sl_selection_best(s, 1);

    sl_sbuf b = {0};
    sl_sbuf_printf(&b,
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
              "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Arial, sans-serif\" "
              "font-size=\"12\">\n",
              width, height, width, height);
    sl_sbuf_printf(&b, "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" "
                  "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
                  "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"white\" stroke-width=\"2\" "
                  "stroke-opacity=\"0.6\"/></pattern></defs>\n");
    sl_sbuf_printf(&b, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    sl_sbuf_printf(&b, "<text x=\"%.0f\" y=\"24\" font-size=\"16\" font-weight=\"bold\">", left);
    svg_text(&b, pr->model);
    const sl_hop *h = &in->net.hop[SL_HOP_DEVICE_EDGE], *h2 = &in->net.hop[SL_HOP_EDGE_CLOUD];
    sl_sbuf_printf(&b,
              ": predicted latency per slice point</text>\n"
              "<text x=\"%.0f\" y=\"44\" fill=\"#444\">device→edge %.3g Mbit/s, RTT %.3g ms",
              left, h->bandwidth_bps / 1e6, h->rtt_s * 1e3);
    if (in->cloud)
        sl_sbuf_printf(&b, ", edge→cloud %.3g Mbit/s, RTT %.3g ms (best edge→cloud cut per bar)",
                  h2->bandwidth_bps / 1e6, h2->rtt_s * 1e3);
    sl_sbuf_printf(&b, "</text>\n");

    /* Y axis with gridlines, in milliseconds. */
    for (double y = 0; y <= yaxis * 1.0001; y += step) {
        double py = top + plot_h - y / yaxis * plot_h;
        sl_sbuf_printf(&b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                  left, py, left + plot_w, py, left - 6, py + 4, y * 1e3);
    }
    sl_sbuf_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n",
              left, top, left, top + plot_h);
    sl_sbuf_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n",
              left, top + plot_h, left + plot_w, top + plot_h);
    sl_sbuf_printf(&b,
              "<text transform=\"translate(%.0f,%.0f) rotate(-90)\" text-anchor=\"middle\">"
              "predicted latency per image (ms)</text>\n",
              left - 50, top + plot_h / 2);
    sl_sbuf_printf(&b,
              "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">slice point (cut index and "
              "tensor; 0 = edge-only, last = local-only)</text>\n",
              left + plot_w / 2, height - 12);

    double x0 = left + (plot_w - ncut * group_w) / 2;
    for (int c = 0; c < ncut; c++) {
        double gx = x0 + c * group_w + 7;
        for (int w = 0; w < 2; w++) {
            const sl_plan *p = bars[2 * c + w];
            if (!p) continue;
            int allowed = p->violated < 0;
            double seg[N_SEG], y = top + plot_h, bx = gx + w * bar_w;
            segments(p, seg);
            sl_sbuf_printf(&b, "<g opacity=\"%s\"><title>", allowed ? "1" : "0.3");
            char line[256];
            sl_plan_format(in, p, line, sizeof line);
            svg_text(&b, line);
            sl_sbuf_printf(&b, "%s</title>\n", allowed ? "" : " (excluded by a constraint)");
            for (int k = 0; k < N_SEG; k++) {
                double hgt = seg[k] / yaxis * plot_h;
                if (hgt <= 0) continue;
                y -= hgt;
                sl_sbuf_printf(&b,
                          "<rect x=\"%.1f\" y=\"%.2f\" width=\"%.1f\" height=\"%.2f\" "
                          "fill=\"%s\"/>",
                          bx, y, bar_w - 1, hgt, seg_color[k]);
                if (w)
                    sl_sbuf_printf(&b,
                              "<rect x=\"%.1f\" y=\"%.2f\" width=\"%.1f\" height=\"%.2f\" "
                              "fill=\"url(#hatch)\"/>",
                              bx, y, bar_w - 1, hgt);
            }
            sl_sbuf_printf(&b, "</g>\n");
            const char *mark = p == best         ? "best"
                               : p == best_plain ? "best w/o TL"
                               : p == best_tl    ? "best TL"
                                                 : NULL;
            if (mark) {
                double mx = bx + (bar_w - 1) / 2;
                sl_sbuf_printf(&b,
                          "<path d=\"M%.1f %.1f l-6 -10 h12 z\" fill=\"#d62728\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#d62728\" "
                          "font-weight=\"bold\">%s</text>\n",
                          mx, y - 3, mx, y - 16, mark);
            }
        }
        sl_sbuf_printf(&b,
                  "<text transform=\"translate(%.1f,%.1f) rotate(-50)\" text-anchor=\"end\" "
                  "font-size=\"10\">%d ",
                  gx + bar_w, top + plot_h + 12, c);
        svg_text(&b, pr->cuts[c].tensor);
        sl_sbuf_printf(&b, "</text>\n");
    }

    /* Legend. */
    double lx = left + plot_w + 24, ly = top + 10;
    for (int k = 0; k < N_SEG; k++) {
        if (k == SEG_CLOUD && !in->cloud) continue;
        swatch(&b, lx, ly, seg_color[k], "");
        legend_text(&b, lx, &ly, seg_label[k]);
    }
    swatch(&b, lx, ly, "#888", "");
    legend_text(&b, lx, &ly, "left bar: without TL");
    swatch(&b, lx, ly, "#888", "");
    swatch(&b, lx, ly, "url(#hatch)", "");
    legend_text(&b, lx, &ly, "right bar: best TL at the cut (hatched)");
    swatch(&b, lx, ly, "#888", " opacity=\"0.3\"");
    legend_text(&b, lx, &ly, "excluded by a constraint");
    sl_sbuf_printf(&b, "<path d=\"M%.0f %.0f l-6 -10 h12 z\" fill=\"#d62728\"/>", lx + 7, ly + 12);
    legend_text(&b, lx, &ly, "best plan / without TL / with TL");
    ly += 12;
    if (best) {
        sl_sbuf_printf(&b, "<text x=\"%.0f\" y=\"%.0f\" font-weight=\"bold\">best: %.2f ms</text>\n", lx,
                  ly, best->total_s * 1e3);
        ly += 18;
    }
    if (best_plain && best_plain != best) {
        sl_sbuf_printf(&b, "<text x=\"%.0f\" y=\"%.0f\">best without TL: %.2f ms</text>\n", lx, ly,
                  best_plain->total_s * 1e3);
        ly += 18;
    }
    if (best_tl && best_tl != best)
        sl_sbuf_printf(&b, "<text x=\"%.0f\" y=\"%.0f\">best with a TL: %.2f ms</text>\n", lx, ly,
                  best_tl->total_s * 1e3);
    sl_sbuf_printf(&b, "</svg>\n");
    free(bars);
    return sl_sbuf_take(&b, "drawing the chart");
}

int sl_plot_write_svg(const char *path, const sl_select_input *in, const sl_selection *s)
{
    return sl_write_text_and_free(path, sl_plot_svg(in, s));
}
