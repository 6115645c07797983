/* report.c: the product line's HTML report from the pipeline's JSON results and chart. */
#include "pipeline/report.h"
#include "common/fsutil.h"
#include "common/status.h"
#include "common/timeutil.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct out {
    char *s;
    size_t n, cap;
    int oom;
} out;

static void emit(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0 || o->oom) {
        va_end(ap2);
        return;
    }
    if (o->n + (size_t)need + 1 > o->cap) {
        size_t cap = (o->n + (size_t)need + 1) * 2;
        char *ns = realloc(o->s, cap);
        if (!ns) {
            o->oom = 1;
            va_end(ap2);
            return;
        }
        o->s = ns;
        o->cap = cap;
    }
    vsnprintf(o->s + o->n, o->cap - o->n, fmt, ap2);
    va_end(ap2);
    o->n += (size_t)need;
}

/* Text with HTML's special characters escaped. */
static void esc(out *o, const char *t)
{
    for (; t && *t; t++) {
        switch (*t) {
        case '<': emit(o, "&lt;"); break;
        case '>': emit(o, "&gt;"); break;
        case '&': emit(o, "&amp;"); break;
        case '"': emit(o, "&quot;"); break;
        default: emit(o, "%c", *t);
        }
    }
}

static cJSON *load_json(const char *dir, const char *name, int required, int *rc)
{
    char path[4096], *text;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!sl_is_file(path)) {
        if (required) *rc = sl_err(SL_EIO, "%s: missing (run the pipeline step that makes it)", path);
        return NULL;
    }
    if ((*rc = sl_read_file(path, &text, NULL))) return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j) *rc = sl_err(SL_EFORMAT, "%s: not valid JSON", path);
    return j;
}

static double num(const cJSON *o, const char *path)
{
    /* "a.b.c" lookup; NaN-free: missing gives -1. */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *save, *t = strtok_r(buf, ".", &save); t && cur; t = strtok_r(NULL, ".", &save))
        cur = cJSON_GetObjectItemCaseSensitive(cur, t);
    return cJSON_IsNumber(cur) ? cur->valuedouble : -1;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void confusion(out *o, const char *title, const cJSON *ev)
{
    const cJSON *classes = cJSON_GetObjectItemCaseSensitive(ev, "classes");
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(ev, "confusion");
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(ev, "per_class");
    if (!cJSON_IsArray(classes) || !cJSON_IsArray(cm)) return;
    emit(o, "<h3>%s</h3>\n<table><tr><th>true \\ predicted</th>", title);
    const cJSON *c;
    cJSON_ArrayForEach(c, classes)
    {
        emit(o, "<th>");
        esc(o, c->valuestring);
        emit(o, "</th>");
    }
    emit(o, "<th>precision</th><th>recall</th></tr>\n");
    int i = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, cm)
    {
        emit(o, "<tr><th>");
        esc(o, cJSON_GetArrayItem(classes, i) ? cJSON_GetArrayItem(classes, i)->valuestring : "?");
        emit(o, "</th>");
        int j = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, row)
        {
            emit(o, "<td%s>%d</td>", i == j ? " class=diag" : "", (int)v->valuedouble);
            j++;
        }
        const cJSON *p = cJSON_GetArrayItem(pc, i);
        emit(o, "<td>%.3f</td><td>%.3f</td></tr>\n", num(p, "precision"), num(p, "recall"));
        i++;
    }
    emit(o, "</table>\n");
}

static void fmt_bytes(char *buf, size_t n, double b)
{
    if (b < 0) snprintf(buf, n, "—");
    else if (b >= 1e6) snprintf(buf, n, "%.2f MB", b / 1e6);
    else if (b >= 1e3) snprintf(buf, n, "%.1f kB", b / 1e3);
    else snprintf(buf, n, "%.0f B", b);
}

/* The best real slice without a TL (older plans lack it: then the best plan without a TL). */
static const cJSON *best_split(const cJSON *plan)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(plan, "best_split_without_tl");
    return cJSON_IsObject(b) ? b : cJSON_GetObjectItemCaseSensitive(plan, "best_without_tl");
}

int sl_report_write(const char *dir, const char *path)
{
    int rc = SL_OK;
    cJSON *plan = load_json(dir, "plan.json", 1, &rc);
    cJSON *eb = rc ? NULL : load_json(dir, "eval-base.json", 1, &rc);
    cJSON *ep = rc ? NULL : load_json(dir, "eval-pair.json", 1, &rc);
    cJSON *bench = rc ? NULL : load_json(dir, "bench.json", 0, &rc);
    if (rc) {
        cJSON_Delete(plan);
        cJSON_Delete(eb);
        cJSON_Delete(ep);
        return rc;
    }
    char svgpath[4096], *svg = NULL, when[32];
    snprintf(svgpath, sizeof svgpath, "%s/plan.svg", dir);
    if (sl_is_file(svgpath)) sl_read_file(svgpath, &svg, NULL);
    sl_utc_iso8601(when, sizeof when);
    out o = {0};
    emit(&o, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ScissionLite report: ");
    esc(&o, str(plan, "model"));
    emit(&o, "</title>\n<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 10px;"
             "text-align:right}th{background:#f0f0f0}td.diag{background:#dff0d8;font-weight:bold}"
             "pre{background:#f7f7f7;padding:1em;overflow-x:auto}.note{color:#666}</style></head><body>\n");
    emit(&o, "<h1>ScissionLite report</h1>\n<p>Model <b>");
    esc(&o, str(plan, "model"));
    emit(&o, "</b>, results in <code>");
    esc(&o, dir);
    emit(&o, "</code>, written %s.</p>\n", when);

    /* Summary */
    const cJSON *bw = cJSON_GetObjectItemCaseSensitive(plan, "best_with_tl");
    const cJSON *bn = best_split(plan);
    double acc_b = num(eb, "accuracy"), acc_p = num(ep, "accuracy");
    double bytes_tl = num(ep, "wire_bytes_per_image"), bytes_cut = -1;
    const cJSON *cut = cJSON_GetObjectItemCaseSensitive(bw, "cut");
    if (cut) bytes_cut = num(cut, "bytes");
    char b1[32], b2[32], b3[32];
    fmt_bytes(b1, sizeof b1, bytes_cut);
    fmt_bytes(b2, sizeof b2, bytes_tl);
    fmt_bytes(b3, sizeof b3, bn ? num(bn, "bytes.upload") : -1);
    emit(&o, "<h2>Summary</h2>\n<table><tr><th></th><th>value</th></tr>\n");
    emit(&o, "<tr><th style=\"text-align:left\">accuracy, base model (test images)</th><td>%.2f%% of %d</td></tr>\n",
         100 * acc_b, (int)num(eb, "images"));
    emit(&o, "<tr><th style=\"text-align:left\">accuracy, device + edge pair with TL</th><td>%.2f%% (%+.2f points)</td></tr>\n",
         100 * acc_p, 100 * (acc_p - acc_b));
    emit(&o, "<tr><th style=\"text-align:left\">TL cut tensor, float (per image)</th><td>%s at <code>", b1);
    esc(&o, cut ? str(cut, "tensor") : "");
    emit(&o, "</code></td></tr>\n<tr><th style=\"text-align:left\">bytes on the wire with TL <code>");
    esc(&o, bw ? str(bw, "tl") : "");
    emit(&o, "</code></th><td>%s", b2);
    if (bytes_cut > 0 && bytes_tl > 0) emit(&o, " (%.1fx fewer)", bytes_cut / bytes_tl);
    emit(&o, "</td></tr>\n<tr><th style=\"text-align:left\">best split without TL sends</th><td>%s at <code>", b3);
    const cJSON *bncut = bn ? cJSON_GetObjectItemCaseSensitive(bn, "cut") : NULL;
    esc(&o, bncut ? str(bncut, "tensor") : "");
    emit(&o, "</code></td></tr>\n</table>\n");

    /* Plans */
    emit(&o, "<h2>Slice points</h2>\n");
    if (svg) emit(&o, "<div>%s</div>\n", strstr(svg, "<svg") ? strstr(svg, "<svg") : svg);
    emit(&o, "<table><tr><th>plan</th><th>predicted latency</th><th>device</th><th>TL enc</th>"
             "<th>transfer+RTT</th><th>TL dec</th><th>edge</th><th>upload</th></tr>\n");
    const cJSON *plans = cJSON_GetObjectItemCaseSensitive(plan, "plans");
    const cJSON *p;
    int shown = 0;
    cJSON_ArrayForEach(p, plans)
    {
        if (shown++ == 8) break;
        char up[32];
        fmt_bytes(up, sizeof up, num(p, "bytes.upload"));
        emit(&o, "<tr><td style=\"text-align:left\">");
        esc(&o, str(p, "text"));
        emit(&o, "</td><td>%.1f ms</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%s</td></tr>\n",
             1e3 * num(p, "latency_s.total"), 1e3 * num(p, "latency_s.device"),
             1e3 * num(p, "latency_s.tl_encode"),
             1e3 * (num(p, "latency_s.transfer") + num(p, "latency_s.rtt") + num(p, "latency_s.serialise")),
             1e3 * num(p, "latency_s.tl_decode"), 1e3 * num(p, "latency_s.edge"), up);
    }
    emit(&o, "</table>\n<p class=note>Times in milliseconds per image, predicted from the device and edge "
             "profiles and the link in the config.</p>\n");

    /* Measured */
    emit(&o, "<h2>Measured latency</h2>\n");
    const cJSON *modes = bench ? cJSON_GetObjectItemCaseSensitive(bench, "modes") : NULL;
    if (!cJSON_IsArray(modes)) {
        emit(&o, "<p class=note>No measurement (bench.json is missing).</p>\n");
    } else {
        emit(&o, "<p>%d images over loopback, link shaped to %.1f Mbit/s and %.0f ms RTT.</p>\n",
             (int)num(bench, "images"), num(bench, "bandwidth_bps") / 1e6, 1e3 * num(bench, "rtt_s"));
        emit(&o, "<table><tr><th>mode</th><th>measured median</th><th>p95</th><th>predicted</th>"
                 "<th>throughput</th><th>bytes / image</th><th>errors</th></tr>\n");
        const cJSON *m;
        cJSON_ArrayForEach(m, modes)
        {
            char bb[32], pred[32] = "—";
            fmt_bytes(bb, sizeof bb, num(m, "bytes_per_image"));
            if (num(m, "predicted_s") >= 0) snprintf(pred, sizeof pred, "%.1f ms", 1e3 * num(m, "predicted_s"));
            emit(&o, "<tr><th style=\"text-align:left\">");
            esc(&o, str(m, "mode"));
            emit(&o, "</th><td>%.1f ms</td><td>%.1f ms</td><td>%s</td><td>%.1f img/s</td><td>%s</td><td>%d</td></tr>\n",
                 1e3 * num(m, "median_s"), 1e3 * num(m, "p95_s"), pred, num(m, "throughput_ips"), bb,
                 (int)num(m, "errors"));
        }
        emit(&o, "</table>\n");
    }

    /* Accuracy detail */
    emit(&o, "<h2>Accuracy</h2>\n");
    confusion(&o, "Base model", eb);
    confusion(&o, "Device + edge pair (with TL, real wire format)", ep);
    emit(&o, "<h2>Plan text</h2>\n<pre>");
    char txtpath[4096], *txt = NULL;
    snprintf(txtpath, sizeof txtpath, "%s/plan.txt", dir);
    if (sl_is_file(txtpath) && sl_read_file(txtpath, &txt, NULL) == SL_OK) esc(&o, txt);
    free(txt);
    emit(&o, "</pre>\n</body></html>\n");
    free(svg);
    cJSON_Delete(plan);
    cJSON_Delete(eb);
    cJSON_Delete(ep);
    cJSON_Delete(bench);
    if (o.oom) {
        free(o.s);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    rc = sl_write_file_atomic(path, o.s, o.n);
    free(o.s);
    return rc;
}

int sl_report_summary(const char *dir, FILE *f)
{
    int rc = SL_OK;
    cJSON *plan = load_json(dir, "plan.json", 1, &rc);
    cJSON *eb = rc ? NULL : load_json(dir, "eval-base.json", 1, &rc);
    cJSON *ep = rc ? NULL : load_json(dir, "eval-pair.json", 1, &rc);
    cJSON *bench = rc ? NULL : load_json(dir, "bench.json", 0, &rc);
    if (!rc) {
        const cJSON *bw = cJSON_GetObjectItemCaseSensitive(plan, "best_with_tl");
        const cJSON *bn = best_split(plan);
        const cJSON *cut = bw ? cJSON_GetObjectItemCaseSensitive(bw, "cut") : NULL;
        const cJSON *ncut = bn ? cJSON_GetObjectItemCaseSensitive(bn, "cut") : NULL;
        double acc_b = num(eb, "accuracy"), acc_p = num(ep, "accuracy");
        double tl_bytes = num(ep, "wire_bytes_per_image"), cut_bytes = cut ? num(cut, "bytes") : -1;
        char a[32], b[32], c[32];
        fmt_bytes(a, sizeof a, cut_bytes);
        fmt_bytes(b, sizeof b, tl_bytes);
        fmt_bytes(c, sizeof c, bn ? num(bn, "bytes.upload") : -1);
        fprintf(f, "model %s, %d test images\n", str(plan, "model"), (int)num(eb, "images"));
        fprintf(f, "accuracy: base model %.2f%%, device + edge pair with TL %.2f%% (%+.2f points)\n",
                100 * acc_b, 100 * acc_p, 100 * (acc_p - acc_b));
        fprintf(f, "bytes per image: %s float at cut '%s', %s with TL %s", a, cut ? str(cut, "tensor") : "?",
                b, bw ? str(bw, "tl") : "?");
        if (cut_bytes > 0 && tl_bytes > 0) fprintf(f, " (%.1fx fewer)", cut_bytes / tl_bytes);
        fprintf(f, "; best split without TL sends %s at '%s'\n", c, ncut ? str(ncut, "tensor") : "?");
        const cJSON *modes = bench ? cJSON_GetObjectItemCaseSensitive(bench, "modes") : NULL;
        if (cJSON_IsArray(modes)) {
            fprintf(f, "measured over loopback at %.1f Mbit/s, %.0f ms RTT (%d images):\n",
                    num(bench, "bandwidth_bps") / 1e6, 1e3 * num(bench, "rtt_s"), (int)num(bench, "images"));
            fprintf(f, "  %-10s %12s %12s %12s %14s\n", "mode", "median", "p95", "predicted", "bytes/image");
            const cJSON *m;
            cJSON_ArrayForEach(m, modes)
            {
                char bb[32], pred[32] = "-";
                fmt_bytes(bb, sizeof bb, num(m, "bytes_per_image"));
                if (num(m, "predicted_s") >= 0) snprintf(pred, sizeof pred, "%.1f ms", 1e3 * num(m, "predicted_s"));
                fprintf(f, "  %-10s %9.1f ms %9.1f ms %12s %14s\n", str(m, "mode"), 1e3 * num(m, "median_s"),
                        1e3 * num(m, "p95_s"), pred, bb);
            }
        } else {
            fprintf(f, "no latency measurement (bench.json missing)\n");
        }
    }
    cJSON_Delete(plan);
    cJSON_Delete(eb);
    cJSON_Delete(ep);
    cJSON_Delete(bench);
    return rc;
}
