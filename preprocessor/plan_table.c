/* plan_table.c: select over a range of device->edge links (see plan_table.h). */
#include "preprocessor/plan_table.h"
#include "common/cli.h"
#include "common/fsutil.h"
#include "common/sbuf.h"
#include "common/status.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SL_PLAN_TABLE_MAX_LINKS 64

/* Parses `list` item by item with `parse`; `lo_open` rejects 0 (bandwidths) besides < 0. */
static int parse_values(const char *what, const char *list,
                        int (*parse)(const char *, const char *, double *), int lo_open,
                        double **vals, int *n)
{
    *vals = NULL;
    *n = 0;
    char *buf, *items[SL_PLAN_TABLE_MAX_LINKS];
    int k, rc = sl_parse_list(what, list, &buf, items, SL_PLAN_TABLE_MAX_LINKS, &k);
    if (rc) return rc;
    double *v = malloc((size_t)k * sizeof *v);
    if (!v) {
        free(buf);
        return sl_err(SL_ENOMEM, "%s: out of memory", what);
    }
    for (int i = 0; i < k; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s item %d", what, i + 1);
        if ((rc = parse(name, items[i], &v[i]))) break;
        if (v[i] < 0 || (lo_open && v[i] == 0) || !isfinite(v[i])) {
            rc = sl_err(SL_EARG, "%s: '%s' must be %s", name, items[i],
                        lo_open ? "above 0" : "0 or more");
            break;
        }
    }
    free(buf);
    if (rc) {
        free(v);
        return rc;
    }
    *vals = v;
    *n = k;
    return SL_OK;
}

int sl_plan_table_parse_bandwidths(const char *what, const char *list, double **bps, int *n)
{
    return parse_values(what, list, sl_parse_bandwidth, 1, bps, n);
}

int sl_plan_table_parse_rtts(const char *what, const char *list, double **rtts, int *n)
{
    return parse_values(what, list, sl_parse_duration, 0, rtts, n);
}

double sl_plan_table_predict(const sl_plan_table_plan *p, double bandwidth_bps, double rtt_s)
{
    if (!p->pays_rtt) return p->fixed_s;
    return p->fixed_s + rtt_s + p->upload_bytes * 8.0 / bandwidth_bps;
}

void sl_plan_table_free(sl_plan_table *t)
{
    if (!t) return;
    free(t->links);
    free(t->plans);
    free(t->intervals);
    memset(t, 0, sizeof *t);
}

static int same_plan(const sl_plan_table_plan *a, const sl_plan *b)
{
    return a->cut == b->cut && a->cut2 == b->cut2 && a->tl == b->tl;
}

/* The RTT at bandwidth bw between two links, linear in bandwidth. */
static double rtt_between(const sl_plan_table_link *lo, const sl_plan_table_link *hi, double bw)
{
    double f = (bw - lo->bandwidth_bps) / (hi->bandwidth_bps - lo->bandwidth_bps);
    return lo->rtt_s + f * (hi->rtt_s - lo->rtt_s);
}

/* Latency of a minus latency of b at exp(x) bit/s between links lo and hi. */
static double gap_at(const sl_plan_table_plan *a, const sl_plan_table_plan *b,
                     const sl_plan_table_link *lo, const sl_plan_table_link *hi, double x)
{
    double bw = exp(x), rtt = rtt_between(lo, hi, bw);
    return sl_plan_table_predict(a, bw, rtt) - sl_plan_table_predict(b, bw, rtt);
}

/* Where plan a (winning at link lo) stops beating plan b (winning at link hi): the root of
 * latency_a - latency_b on [lo, hi], by bisection in log bandwidth. When the sign does not
 * change over the range (the two lines do not cross there, e.g. a third plan won in between
 * under a constraint) the geometric midpoint of the two links. */
static double crossover(const sl_plan_table_plan *a, const sl_plan_table_plan *b,
                        const sl_plan_table_link *lo, const sl_plan_table_link *hi)
{
    double l = log(lo->bandwidth_bps), h = log(hi->bandwidth_bps);
    if (!(gap_at(a, b, lo, hi, l) <= 0 && gap_at(a, b, lo, hi, h) >= 0)) return exp((l + h) / 2);
    for (int i = 0; i < 200 && h - l > 1e-14; i++) {
        double m = (l + h) / 2;
        if (gap_at(a, b, lo, hi, m) <= 0)
            l = m;
        else
            h = m;
    }
    return exp((l + h) / 2);
}

static int by_bandwidth(const void *x, const void *y)
{
    const sl_plan_table_link *a = x, *b = y;
    return (a->bandwidth_bps > b->bandwidth_bps) - (a->bandwidth_bps < b->bandwidth_bps);
}

int sl_plan_table_build(const sl_select_input *in, const double *bandwidth_bps, const double *rtt_s,
                        int n, sl_plan_table *out)
{
    memset(out, 0, sizeof *out);
    if (n < 1) return sl_err(SL_EARG, "plan table: no links");
    if (in->hosts)
        return sl_err(SL_EARG, "plan table: it varies one device->edge link; give one --edge "
                               "and at most one --cloud profile");
    sl_plan_table t = {0};
    t.links = calloc((size_t)n, sizeof *t.links);
    t.plans = calloc((size_t)n, sizeof *t.plans);
    t.intervals = calloc((size_t)n, sizeof *t.intervals);
    if (!t.links || !t.plans || !t.intervals) {
        sl_plan_table_free(&t);
        return sl_err(SL_ENOMEM, "plan table: out of memory");
    }
    t.n_links = n;
    for (int i = 0; i < n; i++) {
        if (!(bandwidth_bps[i] > 0) || !isfinite(bandwidth_bps[i]) || !(rtt_s[i] >= 0) ||
            !isfinite(rtt_s[i])) {
            sl_plan_table_free(&t);
            return sl_err(SL_EARG, "plan table: link %d (%.6g bit/s, RTT %.6g s) is not a link",
                          i + 1, bandwidth_bps[i], rtt_s[i]);
        }
        t.links[i].bandwidth_bps = bandwidth_bps[i];
        t.links[i].rtt_s = rtt_s[i];
    }
    qsort(t.links, (size_t)n, sizeof *t.links, by_bandwidth);
    for (int i = 1; i < n; i++)
        if (t.links[i].bandwidth_bps == t.links[i - 1].bandwidth_bps) {
            double bw = t.links[i].bandwidth_bps;
            sl_plan_table_free(&t);
            return sl_err(SL_EARG, "plan table: bandwidth %.6g Mbit/s is given twice", bw / 1e6);
        }
    for (int i = 0; i < n; i++) {
        sl_plan_table_link *lk = &t.links[i];
        sl_select_input li = *in;
        li.net.hop[SL_HOP_DEVICE_EDGE] = (sl_hop){1, lk->bandwidth_bps, lk->rtt_s};
        /* The adaptive device talks to its edge: plans sending straight to the cloud are not
         * part of the table (a plan that pays no RTT is local-only to its reader). */
        li.net.hop[SL_HOP_DEVICE_CLOUD].set = 0;
        sl_selection sel;
        int rc = sl_select_run(&li, &sel);
        if (rc == SL_OK) lk->best = sel.plans[0];
        if (rc == SL_ECONSTRAINT) {
            char why[512];
            snprintf(why, sizeof why, "%s", sl_errmsg());
            double bw = lk->bandwidth_bps, rtt = lk->rtt_s;
            sl_selection_free(&sel);
            sl_plan_table_free(&t);
            return sl_err(SL_ECONSTRAINT, "at %.6g Mbit/s, RTT %.6g ms: %s", bw / 1e6, rtt * 1e3,
                          why);
        }
        if (rc) {
            sl_plan_table_free(&t);
            return rc;
        }
        sl_selection_free(&sel);
        int k = 0;
        while (k < t.n_plans && !same_plan(&t.plans[k], &lk->best))
            k++;
        if (k == t.n_plans) {
            const sl_plan *b = &lk->best;
            /* Only the device->edge RTT and transfer depend on the link (select.h). */
            t.plans[k] = (sl_plan_table_plan){
                .cut = b->cut,
                .cut2 = b->cut2,
                .tl = b->tl,
                .fixed_s = b->total_s - b->rtt_s - b->transfer_s,
                .edge_s = b->edge_host >= 0 ? b->wire_dec_s + b->tl_dec_s + b->edge_s : 0,
                .upload_bytes = b->upload_bytes,
                .pays_rtt = b->cut != in->device->n_blocks};
            t.n_plans++;
        }
        lk->plan = k;
        if (i == 0 || t.intervals[t.n_intervals - 1].plan != k) {
            t.intervals[t.n_intervals++] =
                (sl_plan_table_interval){k, lk->bandwidth_bps, lk->bandwidth_bps, i, i};
        } else {
            t.intervals[t.n_intervals - 1].last_link = i;
            t.intervals[t.n_intervals - 1].to_bps = lk->bandwidth_bps;
        }
    }
    for (int j = 1; j < t.n_intervals; j++) {
        sl_plan_table_interval *a = &t.intervals[j - 1], *b = &t.intervals[j];
        double x = crossover(&t.plans[a->plan], &t.plans[b->plan], &t.links[a->last_link],
                             &t.links[b->first_link]);
        a->to_bps = b->from_bps = x;
    }
    *out = t;
    return SL_OK;
}

static const char *plan_kind(const sl_select_input *in, int cut)
{
    return cut == 0 ? "edge-only" : cut == in->device->n_blocks ? "local-only" : "slice";
}

static cJSON *cut_ref(const sl_select_input *in, int cut)
{
    if (cut < 0) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", cut);
    cJSON_AddStringToObject(o, "tensor", in->device->cuts[cut].tensor);
    cJSON_AddStringToObject(o, "kind", plan_kind(in, cut));
    return o;
}


char *sl_plan_table_json(const sl_select_input *in, const sl_plan_table *t)
{
    const sl_profile *pr = in->device;
    cJSON *r = cJSON_CreateObject();
    if (!r) {
        sl_err(SL_ENOMEM, "out of memory while writing the plan table");
        return NULL;
    }
    cJSON_AddStringToObject(r, "format", "sl-plan-table");
    cJSON_AddNumberToObject(r, "version", 1);
    cJSON_AddStringToObject(r, "model", pr->model);
    cJSON_AddStringToObject(r, "graph_hash", pr->graph_hash);
    cJSON_AddBoolToObject(r, "cloud", in->cloud != NULL);
    cJSON *plans = cJSON_AddArrayToObject(r, "plans");
    for (int k = 0; k < t->n_plans; k++) {
        const sl_plan_table_plan *p = &t->plans[k];
        const sl_plan *at = NULL; /* the plan as costed at its first winning link */
        for (int i = 0; i < t->n_links && !at; i++)
            if (t->links[i].plan == k) at = &t->links[i].best;
        cJSON *o = cJSON_CreateObject();
        char text[512];
        sl_plan_format(in, at, text, sizeof text);
        cJSON_AddNumberToObject(o, "id", k);
        cJSON_AddStringToObject(o, "kind", plan_kind(in, p->cut));
        cJSON_AddItemToObject(o, "cut", cut_ref(in, p->cut));
        cJSON_AddItemToObject(o, "cut2", cut_ref(in, p->cut2));
        const char *tl = sl_plan_tl_name(in, at);
        cJSON_AddItemToObject(o, "tl", tl ? cJSON_CreateString(tl) : cJSON_CreateNull());
        cJSON_AddNumberToObject(o, "fixed_s", p->fixed_s);
        cJSON_AddNumberToObject(o, "edge_s", p->edge_s);
        cJSON_AddNumberToObject(o, "upload_bytes", p->upload_bytes);
        cJSON_AddBoolToObject(o, "pays_rtt", p->pays_rtt);
        cJSON_AddItemToArray(plans, o);
    }
    cJSON *links = cJSON_AddArrayToObject(r, "links");
    for (int i = 0; i < t->n_links; i++) {
        const sl_plan_table_link *lk = &t->links[i];
        cJSON *o = cJSON_CreateObject();
        char text[512];
        sl_plan_format(in, &lk->best, text, sizeof text);
        cJSON_AddNumberToObject(o, "bandwidth_bps", lk->bandwidth_bps);
        cJSON_AddNumberToObject(o, "rtt_s", lk->rtt_s);
        cJSON_AddNumberToObject(o, "plan", lk->plan);
        cJSON_AddStringToObject(o, "text", text);
        cJSON_AddItemToObject(o, "latency_s", sl_plan_latency_json(in, &lk->best));
        cJSON *bytes = cJSON_AddObjectToObject(o, "bytes");
        cJSON_AddNumberToObject(bytes, "upload", lk->best.upload_bytes);
        if (in->cloud) cJSON_AddNumberToObject(bytes, "edge_cloud", lk->best.cloud_bytes);
        cJSON_AddItemToArray(links, o);
    }
    cJSON *iv = cJSON_AddArrayToObject(r, "intervals");
    for (int j = 0; j < t->n_intervals; j++) {
        const sl_plan_table_interval *v = &t->intervals[j];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "plan", v->plan);
        cJSON_AddNumberToObject(o, "from_bps", v->from_bps);
        cJSON_AddNumberToObject(o, "to_bps", v->to_bps);
        cJSON *covered = cJSON_AddArrayToObject(o, "links");
        for (int i = v->first_link; i <= v->last_link; i++)
            cJSON_AddItemToArray(covered, cJSON_CreateNumber(i));
        cJSON_AddItemToArray(iv, o);
    }
    char *s = cJSON_Print(r);
    cJSON_Delete(r);
    if (!s) sl_err(SL_ENOMEM, "out of memory while writing the plan table");
    return s;
}

int sl_plan_table_write(const char *path, const sl_select_input *in, const sl_plan_table *t)
{
    return sl_write_text_and_free(path, sl_plan_table_json(in, t));
}

/* The RTT at bandwidth bw: piecewise linear between the links, constant beyond them. */
static double rtt_at(const sl_plan_table *t, double bw)
{
    if (bw <= t->links[0].bandwidth_bps) return t->links[0].rtt_s;
    for (int i = 1; i < t->n_links; i++)
        if (bw <= t->links[i].bandwidth_bps) return rtt_between(&t->links[i - 1], &t->links[i], bw);
    return t->links[t->n_links - 1].rtt_s;
}

/* A plan in a few words for the legend: "TL pool at maxpool", "edge-only", "cut conv2". */
static void plan_label(const sl_select_input *in, const sl_plan_table_plan *p, char *buf, size_t n)
{
    const sl_profile *pr = in->device;
    const char *tl = p->tl >= 0 ? pr->cuts[p->cut].tl[p->tl].config : NULL;
    int len = p->cut == 0              ? snprintf(buf, n, "edge-only")
              : p->cut == pr->n_blocks ? snprintf(buf, n, "local-only")
              : tl ? snprintf(buf, n, "TL %s at %s", tl, pr->cuts[p->cut].tensor)
                   : snprintf(buf, n, "cut %s", pr->cuts[p->cut].tensor);
    if (p->cut2 >= 0 && len >= 0 && (size_t)len < n)
        snprintf(buf + len, n - (size_t)len, ", cloud from %s", pr->cuts[p->cut2].tensor);
}

static void svg_escaped(sl_sbuf *b, const char *s)
{
    for (; *s; s++)
        sl_sbuf_printf(b, "%s",
                       *s == '<'   ? "&lt;"
                       : *s == '>' ? "&gt;"
                       : *s == '&' ? "&amp;"
                       : *s == '"' ? "&quot;"
                                   : (char[2]){*s, 0});
}

char *sl_plan_table_svg(const sl_select_input *in, const sl_plan_table *t)
{
    static const char *color[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759",
                                  "#b07aa1", "#76b7b2", "#edc948", "#9c755f"};
    const int n_col = (int)(sizeof color / sizeof *color);
    const double left = 70, top = 60, pw = 520, ph = 300, right = 260, bottom = 50;
    const double width = left + pw + right, height = top + ph + bottom;
    double x0 = t->links[0].bandwidth_bps, x1 = t->links[t->n_links - 1].bandwidth_bps;
    if (t->n_links == 1) x0 /= 2, x1 *= 2;
    double lx0 = log10(x0), lx1 = log10(x1);
    /* Up to twice the slowest best latency: the losing plans' lines leave the chart there. */
    double ymax = 0;
    for (int i = 0; i < t->n_links; i++)
        ymax = fmax(ymax, t->links[i].best.total_s);
    ymax = ymax > 0 ? 2 * ymax : 1e-3;
    double step = ymax / 5, pw10 = pow(10, floor(log10(step))), m = step / pw10;
    step = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * pw10;
    ymax = ceil(ymax / step) * step;
#define PX(bw) (left + (log10(bw) - lx0) / (lx1 - lx0) * pw)
#define PY(s) (top + ph - (s) / ymax * ph)
    sl_sbuf b = {0};
    sl_sbuf_printf(&b,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                   "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Arial, sans-serif\" "
                   "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                   "<clipPath id=\"area\"><rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" "
                   "height=\"%.0f\"/></clipPath>\n",
                   width, height, width, height, left, top, pw, ph);
    sl_sbuf_printf(&b, "<text x=\"%.0f\" y=\"24\" font-size=\"16\" font-weight=\"bold\">", left);
    svg_escaped(&b, in->device->model);
    sl_sbuf_printf(&b,
                   ": predicted latency per plan against bandwidth</text>\n<text x=\"%.0f\" "
                   "y=\"44\" fill=\"#444\">shaded: where each plan wins; dots: the links "
                   "ranked</text>\n",
                   left);
    for (int j = 0; j < t->n_intervals; j++) {
        const sl_plan_table_interval *v = &t->intervals[j];
        double a = j ? PX(v->from_bps) : left,
               z = j + 1 < t->n_intervals ? PX(v->to_bps) : left + pw;
        sl_sbuf_printf(&b,
                       "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\" fill=\"%s\" "
                       "fill-opacity=\"0.12\"/>\n",
                       a, top, z - a, ph, color[v->plan % n_col]);
    }
    for (double y = 0; y <= ymax * 1.0001; y += step)
        sl_sbuf_printf(&b,
                       "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                       "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                       left, left + pw, PY(y), PY(y), left - 6, PY(y) + 4, y * 1e3);
    for (double d = pow(10, floor(lx0)); d <= x1 * 1.0001; d *= 10)
        for (int k = 0; k < 3; k++) {
            double x = d * (k == 0 ? 1 : k == 1 ? 2 : 5);
            if (x < x0 * 0.9999 || x > x1 * 1.0001) continue;
            sl_sbuf_printf(&b,
                           "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#ddd\"/>"
                           "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%g</text>\n",
                           PX(x), PX(x), top, top + ph, PX(x), top + ph + 16, x / 1e6);
        }
    sl_sbuf_printf(&b,
                   "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">device→edge bandwidth, "
                   "Mbit/s (log scale)</text>\n<text x=\"16\" y=\"%.0f\" text-anchor=\"middle\" "
                   "transform=\"rotate(-90 16 %.0f)\">predicted latency, ms</text>\n",
                   left + pw / 2, top + ph + 38, top + ph / 2, top + ph / 2);
    for (int k = 0; k < t->n_plans; k++) {
        sl_sbuf_printf(&b,
                       "<polyline clip-path=\"url(#area)\" fill=\"none\" stroke=\"%s\" "
                       "stroke-width=\"2\" points=\"",
                       color[k % n_col]);
        for (int i = 0; i <= 200; i++) {
            double bw = pow(10, lx0 + (lx1 - lx0) * i / 200);
            double s = sl_plan_table_predict(&t->plans[k], bw, rtt_at(t, bw));
            sl_sbuf_printf(&b, "%.1f,%.1f ", PX(bw), fmax(PY(s), top - 10));
        }
        sl_sbuf_printf(&b, "\"/>\n");
    }
    for (int i = 0; i < t->n_links; i++)
        sl_sbuf_printf(&b,
                       "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" stroke=\"black\"/>\n",
                       PX(t->links[i].bandwidth_bps), PY(t->links[i].best.total_s),
                       color[t->links[i].plan % n_col]);
    sl_sbuf_printf(&b,
                   "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
                   "stroke=\"#888\"/>\n",
                   left, top, pw, ph);
    double ly = top;
    for (int k = 0; k < t->n_plans; k++, ly += 22) {
        char label[256];
        plan_label(in, &t->plans[k], label, sizeof label);
        sl_sbuf_printf(&b,
                       "<rect x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"14\" fill=\"%s\"/>"
                       "<text x=\"%.0f\" y=\"%.0f\">plan %d: ",
                       left + pw + 16, ly, color[k % n_col], left + pw + 36, ly + 11, k);
        svg_escaped(&b, label);
        sl_sbuf_printf(&b, "</text>\n");
    }
    sl_sbuf_printf(&b, "</svg>\n");
#undef PX
#undef PY
    return sl_sbuf_take(&b, "drawing the plan table");
}

int sl_plan_table_write_svg(const char *path, const sl_select_input *in, const sl_plan_table *t)
{
    return sl_write_text_and_free(path, sl_plan_table_svg(in, t));
}

void sl_plan_table_print(FILE *f, const sl_select_input *in, const sl_plan_table *t)
{
    char line[512];
    fprintf(f, "%s: %d links, %d plans win somewhere\n", in->device->model, t->n_links, t->n_plans);
    for (int i = 0; i < t->n_links; i++) {
        const sl_plan_table_link *lk = &t->links[i];
        sl_plan_format(in, &lk->best, line, sizeof line);
        fprintf(f, "  %9.4g Mbit/s %7.4g ms  plan %d: %s\n", lk->bandwidth_bps / 1e6,
                lk->rtt_s * 1e3, lk->plan, line);
    }
    for (int j = 0; j < t->n_intervals; j++) {
        const sl_plan_table_interval *v = &t->intervals[j];
        fprintf(f, "plan %d wins from %.4g to %.4g Mbit/s\n", v->plan, v->from_bps / 1e6,
                v->to_bps / 1e6);
    }
}

int sl_plan_table_select(sl_select_request *rq, const sl_plan_table_request *tr, int *user_error)
{
    *user_error = 0;
    double *bw = NULL, *rtt = NULL;
    int n = 0, n_rtt = 0, rc;
    sl_select_outcome r;
    memset(&r, 0, sizeof r);
    sl_plan_table t = {0};
    if (!tr->bandwidths) {
        *user_error = 1;
        return sl_err(SL_EARG, "--rtts needs --bandwidths");
    }
    if ((rc = sl_plan_table_parse_bandwidths("--bandwidths", tr->bandwidths, &bw, &n)) ||
        (tr->rtts && (rc = sl_plan_table_parse_rtts("--rtts", tr->rtts, &rtt, &n_rtt)))) {
        *user_error = 1;
        goto out;
    }
    if (tr->rtts && n_rtt != n) {
        rc = sl_err(SL_EARG, "--rtts has %d item%s, --bandwidths %d: give one RTT per link", n_rtt,
                    n_rtt == 1 ? "" : "s", n);
        *user_error = 1;
        goto out;
    }
    double *fixed_rtt = &rq->rtt_s[SL_HOP_DEVICE_EDGE];
    if (rq->bandwidth_bps[SL_HOP_DEVICE_EDGE] >= 0 || (tr->rtts && *fixed_rtt >= 0)) {
        rc = sl_err(SL_EARG, "%s",
                    rq->bandwidth_bps[SL_HOP_DEVICE_EDGE] >= 0
                        ? "--bandwidth and --bandwidths exclude each other"
                        : "--rtt and --rtts exclude each other");
        *user_error = 1;
        goto out;
    }
    if (!tr->rtts && *fixed_rtt < 0 && !rq->network) {
        rc = sl_err(SL_EARG, "--bandwidths needs the RTT: give --rtt, --rtts or --network");
        *user_error = 1;
        goto out;
    }
    /* The first link stands in for the network while the profiles and constraints are read. */
    rq->bandwidth_bps[SL_HOP_DEVICE_EDGE] = bw[0];
    if (tr->rtts) *fixed_rtt = rtt[0];
    rc = sl_select_execute(rq, &r);
    if (rc == SL_ECONSTRAINT) rc = SL_OK; /* each link is ranked again below */
    if (rc) {
        *user_error = r.user_error;
        goto out;
    }
    if (!rtt) {
        if (!(rtt = malloc((size_t)n * sizeof *rtt))) {
            rc = sl_err(SL_ENOMEM, "out of memory");
            goto out;
        }
        for (int i = 0; i < n; i++)
            rtt[i] = r.in.net.hop[SL_HOP_DEVICE_EDGE].rtt_s;
    }
    if ((rc = sl_plan_table_build(&r.in, bw, rtt, n, &t))) {
        *user_error = rc == SL_EARG;
        goto out;
    }
    if ((tr->output && (rc = sl_plan_table_write(tr->output, &r.in, &t))) ||
        (tr->plot && (rc = sl_plan_table_write_svg(tr->plot, &r.in, &t))))
        goto out;
    if (tr->json) {
        char *js = sl_plan_table_json(&r.in, &t);
        if (!js) {
            rc = SL_ENOMEM;
            goto out;
        }
        printf("%s\n", js);
        free(js);
    } else if (!tr->quiet) {
        sl_plan_table_print(stdout, &r.in, &t);
    }
out:
    sl_plan_table_free(&t);
    sl_select_outcome_free(&r);
    free(bw);
    free(rtt);
    return rc;
}
