/* report.c: the product line's HTML report from the pipeline's JSON results and chart. */
#include "pipeline/report.h"
#include "common/cli.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/sbuf.h"
#include "common/status.h"
#include "common/timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text with HTML's special characters escaped. */
static void esc(sl_sbuf *o, const char *t)
{
    for (; t && *t; t++) {
        switch (*t) {
        case '<': sl_sbuf_printf(o, "&lt;"); break;
        case '>': sl_sbuf_printf(o, "&gt;"); break;
        case '&': sl_sbuf_printf(o, "&amp;"); break;
        case '"': sl_sbuf_printf(o, "&quot;"); break;
        default: sl_sbuf_printf(o, "%c", *t);
        }
    }
}

static cJSON *load_json(const char *dir, const char *name, int required, int *rc)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!sl_is_file(path)) {
        if (required) *rc = sl_err(SL_EIO, "%s: missing (run the pipeline step that makes it)", path);
        return NULL;
    }
    cJSON *j;
    *rc = sl_json_read_file(path, &j);
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

static void confusion(sl_sbuf *o, const char *title, const cJSON *ev)
{
    const cJSON *classes = cJSON_GetObjectItemCaseSensitive(ev, "classes");
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(ev, "confusion");
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(ev, "per_class");
    if (!cJSON_IsArray(classes) || !cJSON_IsArray(cm)) return;
    sl_sbuf_printf(o, "<h3>%s</h3>\n<table><tr><th>true \\ predicted</th>", title);
    const cJSON *c;
    cJSON_ArrayForEach(c, classes)
    {
        sl_sbuf_printf(o, "<th>");
        esc(o, c->valuestring);
        sl_sbuf_printf(o, "</th>");
    }
    sl_sbuf_printf(o, "<th>precision</th><th>recall</th></tr>\n");
    int i = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, cm)
    {
        sl_sbuf_printf(o, "<tr><th>");
        esc(o, cJSON_GetArrayItem(classes, i) ? cJSON_GetArrayItem(classes, i)->valuestring : "?");
        sl_sbuf_printf(o, "</th>");
        int j = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, row)
        {
            sl_sbuf_printf(o, "<td%s>%d</td>", i == j ? " class=diag" : "", (int)v->valuedouble);
            j++;
        }
        const cJSON *p = cJSON_GetArrayItem(pc, i);
        sl_sbuf_printf(o, "<td>%.3f</td><td>%.3f</td></tr>\n", num(p, "precision"), num(p, "recall"));
        i++;
    }
    sl_sbuf_printf(o, "</table>\n");
}


/* The best real slice without a TL (older plans lack it: then the best plan without a TL). */
static const cJSON *best_split(const cJSON *plan)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(plan, "best_split_without_tl");
    return cJSON_IsObject(b) ? b : cJSON_GetObjectItemCaseSensitive(plan, "best_without_tl");
}

/* The median of `mode` in bench.json's modes, or -1. */
static double measured(const cJSON *bench, const char *mode)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(bench, "modes"))
    {
        if (!strcmp(str(m, "mode"), mode)) return num(m, "median_s");
    }
    return -1;
}

/* Plain-language verdicts on the plan and its measurement, one sentence per line, shared by the
 * HTML report and the text summary: whether offloading pays at all, what the TL gains, whether
 * every prediction is within 10% of its measurement, and whether the plan's choice was the
 * measured fastest (within 5%). */
static void verdicts(const cJSON *plan, const cJSON *bench, sl_sbuf *v)
{
    const cJSON *best = cJSON_GetObjectItemCaseSensitive(plan, "best");
    const cJSON *bw = cJSON_GetObjectItemCaseSensitive(plan, "best_with_tl");
    const cJSON *bn = best_split(plan);
    const cJSON *bcut = best ? cJSON_GetObjectItemCaseSensitive(best, "cut") : NULL;
    if (bcut && !strcmp(str(bcut, "kind"), "local-only"))
        sl_sbuf_printf(v, "Running the whole model on the device is predicted fastest (%.1f ms): on this "
                          "link and device no split pays; the TL pair is built so the device can offload "
                          "when the link or the device changes.\n",
                       1e3 * num(best, "latency_s.total"));
    if (cJSON_IsObject(bw) && cJSON_IsObject(bn)) {
        double with = num(bw, "latency_s.total"), without = num(bn, "latency_s.total");
        if (with > 0 && without / with < 1.005)
            sl_sbuf_printf(v, "The transfer layer gains nothing here: the best split with a TL is predicted "
                              "at %.1f ms, the best split without one at %.1f ms (%.2fx).\n",
                           1e3 * with, 1e3 * without, with > 0 ? without / with : 0);
        else if (with > 0)
            sl_sbuf_printf(v, "The transfer layer makes the best split %.2fx faster: %.1f ms predicted "
                              "against %.1f ms for the best split without a TL.\n", without / with,
                           1e3 * with, 1e3 * without);
    }
    const cJSON *modes = bench ? cJSON_GetObjectItemCaseSensitive(bench, "modes") : NULL;
    if (!cJSON_IsArray(modes)) return;
    int checked = 0, missed = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, modes)
    {
        if (num(m, "predicted_s") <= 0) continue;
        checked++;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "error_over_limit"))) {
            missed++;
            sl_sbuf_printf(v, "The prediction for %s missed by more than 10%%: %.1f ms predicted, %.1f ms "
                              "measured (%+.0f%%).\n", str(m, "mode"), 1e3 * num(m, "predicted_s"),
                           1e3 * num(m, "median_s"), 100 * num(m, "error"));
        }
    }
    if (checked && !missed)
        sl_sbuf_printf(v, "Every planned mode's prediction is within 10%% of its measurement (%d modes).\n",
                       checked);
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(bench, "plan_choice");
    const char *fast = str(bench, "measured_fastest");
    if (cJSON_IsObject(pc) && *fast) {
        double chosen = measured(bench, str(pc, "mode")), best_m = measured(bench, fast);
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pc, "ran")))
            sl_sbuf_printf(v, "The plan's choice (%s) was not among the measured modes.\n", str(pc, "mode"));
        else if (!strcmp(str(pc, "mode"), fast))
            sl_sbuf_printf(v, "The plan's choice, %s, was the measured fastest mode (%.1f ms).\n", fast,
                           1e3 * best_m);
        else if (chosen > 0 && best_m > 0 && chosen <= 1.05 * best_m)
            sl_sbuf_printf(v, "The plan's choice, %s (%.1f ms), was within 5%% of the measured fastest, "
                              "%s (%.1f ms).\n", str(pc, "mode"), 1e3 * chosen, fast, 1e3 * best_m);
        else
            sl_sbuf_printf(v, "The plan's choice, %s (%.1f ms), was NOT the measured fastest: %s took "
                              "%.1f ms.\n", str(pc, "mode"), 1e3 * chosen, fast, 1e3 * best_m);
    }
}

/* A measured mode's figures as the report and the summary print them: the tensor bytes per
 * image, the predicted latency and its error against the median (`none` where there is no
 * prediction; `mark` after an error over the bench's limit). Returns whether it is over. */
static int mode_cells(const cJSON *m, const char *none, const char *mark, char bytes[32],
                      char pred[32], char err[32])
{
    sl_format_bytes(bytes, 32, num(m, "bytes_per_image"));
    snprintf(pred, 32, "%s", none);
    snprintf(err, 32, "%s", none);
    int over = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "error_over_limit"));
    if (num(m, "predicted_s") >= 0) snprintf(pred, 32, "%.1f ms", 1e3 * num(m, "predicted_s"));
    if (num(m, "predicted_s") > 0)
        snprintf(err, 32, "%+.0f%%%s", 100 * num(m, "error"), over ? mark : "");
    return over;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The live device run (device-results.jsonl, one JSON line per image from `sl-offload device`):
 * images, how each was answered, median and p95 latency, bytes sent, and the accuracy against
 * the class folder each image came from. Nothing when the file is absent. */
static void live_run(const char *dir, sl_sbuf *o)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/device-results.jsonl", dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    int n = 0, edge = 0, fallback = 0, errors = 0, labelled = 0, correct = 0;
    double bytes = 0, *lat = NULL;
    size_t cap = 0, nt = 0; /* latencies of the answered images */
    char *line = NULL;
    size_t ln = 0;
    while (getline(&line, &ln, f) > 0) {
        cJSON *j = cJSON_Parse(line);
        if (!j) continue;
        n++;
        const char *via = str(j, "via");
        edge += !strcmp(via, "edge");
        fallback += !strcmp(via, "fallback");
        errors += cJSON_GetObjectItemCaseSensitive(j, "error") != NULL;
        bytes += num(j, "bytes_up") > 0 ? num(j, "bytes_up") : 0;
        double t = num(j, "timing.total_s");
        if (t >= 0 && nt == cap) {
            size_t nc = cap ? 2 * cap : 256;
            double *nl = realloc(lat, nc * sizeof *nl);
            if (nl) lat = nl, cap = nc;
        }
        if (t >= 0 && nt < cap) lat[nt++] = t;
        /* The true class is the image's folder: .../<class>/<file>. */
        const char *file = str(j, "file"), *cls = str(j, "class");
        const char *slash = strrchr(file, '/');
        if (slash && slash > file && *cls) {
            const char *start = slash - 1;
            while (start > file && start[-1] != '/') start--;
            labelled++;
            correct += (size_t)(slash - start) == strlen(cls) && !strncmp(start, cls, strlen(cls));
        }
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
    sl_sbuf_printf(o, "<h2>Live device run</h2>\n");
    if (!n) {
        sl_sbuf_printf(o, "<p class=note>device-results.jsonl holds no results.</p>\n");
        free(lat);
        return;
    }
    if (nt) qsort(lat, nt, sizeof *lat, cmp_double);
    char up[32];
    sl_format_bytes(up, sizeof up, bytes / n);
    sl_sbuf_printf(o, "<table><tr><th>images</th><th>answered by the edge</th><th>by the fallback</th>"
                      "<th>errors</th><th>median</th><th>p95</th><th>sent / image</th><th>accuracy</th></tr>\n"
                      "<tr><td>%d</td><td>%d</td><td>%d</td><td>%d</td>", n, edge, fallback, errors);
    if (nt)
        sl_sbuf_printf(o, "<td>%.1f ms</td><td>%.1f ms</td>", 1e3 * lat[nt / 2],
                       1e3 * lat[(size_t)(0.95 * (double)(nt - 1))]);
    else
        sl_sbuf_printf(o, "<td>—</td><td>—</td>");
    if (labelled)
        sl_sbuf_printf(o, "<td>%s</td><td>%.2f%% of %d</td></tr>\n</table>\n", up, 100.0 * correct / labelled,
                       labelled);
    else
        sl_sbuf_printf(o, "<td>%s</td><td>—</td></tr>\n</table>\n", up);
    sl_sbuf_printf(o, "<p class=note>From <code>device-results.jsonl</code>: the device slice run over the "
                      "network against a live edge; sent / image is what went on the link (the zstd "
                      "payload and its frame header); accuracy against each image's class folder.</p>\n");
    free(lat);
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
    sl_sbuf o = {0};
    sl_sbuf_printf(&o, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ScissionLite report: ");
    esc(&o, str(plan, "model"));
    sl_sbuf_printf(&o, "</title>\n<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 10px;"
             "text-align:right}th{background:#f0f0f0}td.diag{background:#dff0d8;font-weight:bold}td.bad{background:#f2dede}"
             "pre{background:#f7f7f7;padding:1em;overflow-x:auto}.note{color:#666}</style></head><body>\n");
    sl_sbuf_printf(&o, "<h1>ScissionLite report</h1>\n<p>Model <b>");
    esc(&o, str(plan, "model"));
    sl_sbuf_printf(&o, "</b>, results in <code>");
    esc(&o, dir);
    sl_sbuf_printf(&o, "</code>, written %s.</p>\n", when);

    /* Summary */
    const cJSON *bw = cJSON_GetObjectItemCaseSensitive(plan, "best_with_tl");
    const cJSON *bn = best_split(plan);
    double acc_b = num(eb, "accuracy"), acc_p = num(ep, "accuracy");
    double bytes_tl = num(ep, "wire_bytes_per_image"), bytes_cut = -1;
    const cJSON *cut = cJSON_GetObjectItemCaseSensitive(bw, "cut");
    if (cut) bytes_cut = num(cut, "bytes");
    char b1[32], b2[32], b3[32];
    sl_format_bytes(b1, sizeof b1, bytes_cut);
    sl_format_bytes(b2, sizeof b2, bytes_tl);
    sl_format_bytes(b3, sizeof b3, bn ? num(bn, "bytes.upload") : -1);
    sl_sbuf_printf(&o, "<h2>Summary</h2>\n<table><tr><th></th><th>value</th></tr>\n");
    sl_sbuf_printf(&o, "<tr><th style=\"text-align:left\">accuracy, base model (test images)</th><td>%.2f%% of %d</td></tr>\n",
         100 * acc_b, (int)num(eb, "images"));
    sl_sbuf_printf(&o, "<tr><th style=\"text-align:left\">accuracy, device + edge pair with TL</th><td>%.2f%% (%+.2f points)</td></tr>\n",
         100 * acc_p, 100 * (acc_p - acc_b));
    sl_sbuf_printf(&o, "<tr><th style=\"text-align:left\">TL cut tensor, float (per image)</th><td>%s at <code>", b1);
    esc(&o, cut ? str(cut, "tensor") : "");
    sl_sbuf_printf(&o, "</code></td></tr>\n<tr><th style=\"text-align:left\">bytes on the wire with TL <code>");
    esc(&o, bw ? str(bw, "tl") : "");
    sl_sbuf_printf(&o, "</code></th><td>%s", b2);
    if (bytes_cut > 0 && bytes_tl > 0) sl_sbuf_printf(&o, " (%.1fx fewer)", bytes_cut / bytes_tl);
    sl_sbuf_printf(&o, "</td></tr>\n<tr><th style=\"text-align:left\">best split without TL sends</th><td>%s at <code>", b3);
    const cJSON *bncut = bn ? cJSON_GetObjectItemCaseSensitive(bn, "cut") : NULL;
    esc(&o, bncut ? str(bncut, "tensor") : "");
    sl_sbuf_printf(&o, "</code></td></tr>\n</table>\n");

    /* Plans */
    sl_sbuf_printf(&o, "<h2>Slice points</h2>\n");
    if (svg) sl_sbuf_printf(&o, "<div>%s</div>\n", strstr(svg, "<svg") ? strstr(svg, "<svg") : svg);
    sl_sbuf_printf(&o, "<table><tr><th>plan</th><th>predicted latency</th><th>device</th><th>TL enc</th>"
             "<th>transfer+RTT</th><th>TL dec</th><th>edge</th><th>upload</th></tr>\n");
    const cJSON *plans = cJSON_GetObjectItemCaseSensitive(plan, "plans");
    const cJSON *p;
    int shown = 0;
    cJSON_ArrayForEach(p, plans)
    {
        if (shown++ == 8) break;
        char up[32];
        sl_format_bytes(up, sizeof up, num(p, "bytes.upload"));
        sl_sbuf_printf(&o, "<tr><td style=\"text-align:left\">");
        esc(&o, str(p, "text"));
        sl_sbuf_printf(&o, "</td><td>%.1f ms</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%s</td></tr>\n",
             1e3 * num(p, "latency_s.total"), 1e3 * num(p, "latency_s.device"),
             1e3 * num(p, "latency_s.tl_encode"),
             1e3 * (num(p, "latency_s.transfer") + num(p, "latency_s.rtt") + num(p, "latency_s.serialise")),
             1e3 * num(p, "latency_s.tl_decode"), 1e3 * num(p, "latency_s.edge"), up);
    }
    sl_sbuf_printf(&o, "</table>\n<p class=note>Times in milliseconds per image, predicted from the device and edge "
             "profiles and the link in the config.</p>\n");

    /* Measured */
    sl_sbuf_printf(&o, "<h2>Measured latency</h2>\n");
    const cJSON *modes = bench ? cJSON_GetObjectItemCaseSensitive(bench, "modes") : NULL;
    if (!cJSON_IsArray(modes)) {
        sl_sbuf_printf(&o, "<p class=note>No measurement (bench.json is missing).</p>\n");
    } else {
        sl_sbuf_printf(&o, "<p>%d images over loopback, link shaped to %.1f Mbit/s and %.0f ms RTT.</p>\n",
             (int)num(bench, "images"), num(bench, "bandwidth_bps") / 1e6, 1e3 * num(bench, "rtt_s"));
        sl_sbuf_printf(&o, "<table><tr><th>mode</th><th>measured median</th><th>p95</th><th>predicted</th>"
                 "<th>error</th><th>throughput</th><th>tensor / image</th><th>on the wire</th><th>agrees with local</th>"
                 "<th>errors</th></tr>\n");
        const cJSON *m;
        cJSON_ArrayForEach(m, modes)
        {
            char bb[32], pred[32], err[32];
            int over = mode_cells(m, "—", " !", bb, pred, err);
            sl_sbuf_printf(&o, "<tr><th style=\"text-align:left\">");
            esc(&o, str(m, "mode"));
            char wire[32];
            sl_format_bytes(wire, sizeof wire, num(m, "wire_bytes_per_image"));
            char agree[32] = "—";
            if (num(m, "agree_with_local") >= 0)
                snprintf(agree, sizeof agree, "%.1f%%", 100 * num(m, "agree_with_local"));
            sl_sbuf_printf(&o, "</th><td>%.1f ms</td><td>%.1f ms</td><td>%s</td><td%s>%s</td><td>%.1f img/s</td><td>%s</td><td>%s</td><td>%s</td><td>%d</td></tr>\n",
                 1e3 * num(m, "median_s"), 1e3 * num(m, "p95_s"), pred, over ? " class=bad" : "", err,
                 num(m, "throughput_ips"), bb, wire, agree, (int)num(m, "errors"));
        }
        sl_sbuf_printf(&o, "</table>\n<p class=note>error: (predicted - measured) / measured; ! marks a miss "
                           "over 10%%. agrees with local: the share of images given the class the whole "
                           "model gives on the device. tensor / image: the tensor the device sends, "
                           "before the codec; on the wire: what it cost on the link, zstd payload "
                           "plus the frame header.</p>\n");
    }
    sl_sbuf v = {0};
    verdicts(plan, bench, &v);
    if (v.s) {
        sl_sbuf_printf(&o, "<h2>Verdict</h2>\n");
        for (char *line = v.s, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            if (!nl) break;
            *nl = 0;
            sl_sbuf_printf(&o, "<p>");
            esc(&o, line);
            sl_sbuf_printf(&o, "</p>\n");
        }
    }
    if (v.oom) o.oom = 1;
    sl_sbuf_free(&v);

    live_run(dir, &o);

    /* Accuracy detail */
    sl_sbuf_printf(&o, "<h2>Accuracy</h2>\n");
    confusion(&o, "Base model", eb);
    confusion(&o, "Device + edge pair (with TL, real wire format)", ep);
    sl_sbuf_printf(&o, "<h2>Plan text</h2>\n<pre>");
    char txtpath[4096], *txt = NULL;
    snprintf(txtpath, sizeof txtpath, "%s/plan.txt", dir);
    if (sl_is_file(txtpath) && sl_read_file(txtpath, &txt, NULL) == SL_OK) esc(&o, txt);
    free(txt);
    sl_sbuf_printf(&o, "</pre>\n</body></html>\n");
    free(svg);
    cJSON_Delete(plan);
    cJSON_Delete(eb);
    cJSON_Delete(ep);
    cJSON_Delete(bench);
    if (o.oom) {
        sl_sbuf_free(&o);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    rc = sl_write_file_atomic(path, o.s, o.len);
    sl_sbuf_free(&o);
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
        sl_format_bytes(a, sizeof a, cut_bytes);
        sl_format_bytes(b, sizeof b, tl_bytes);
        sl_format_bytes(c, sizeof c, bn ? num(bn, "bytes.upload") : -1);
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
            fprintf(f, "  %-10s %12s %12s %12s %8s %14s\n", "mode", "median", "p95", "predicted", "error",
                    "bytes/image");
            const cJSON *m;
            cJSON_ArrayForEach(m, modes)
            {
                char bb[32], pred[32], err[32];
                mode_cells(m, "-", "!", bb, pred, err);
                fprintf(f, "  %-10s %9.1f ms %9.1f ms %12s %8s %14s\n", str(m, "mode"), 1e3 * num(m, "median_s"),
                        1e3 * num(m, "p95_s"), pred, err, bb);
            }
        } else {
            fprintf(f, "no latency measurement (bench.json missing)\n");
        }
        sl_sbuf v = {0};
        verdicts(plan, bench, &v);
        if (v.s) fputs(v.s, f);
        sl_sbuf_free(&v);
    }
    cJSON_Delete(plan);
    cJSON_Delete(eb);
    cJSON_Delete(ep);
    cJSON_Delete(bench);
    return rc;
}
