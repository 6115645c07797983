/* results.c: per-image result lines, run summaries and predictions against measurements. */
#include "offloader/results.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "model/wire_desc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

int sl_results_init(sl_results *r, int capacity)
{
    *r = (sl_results){0};
    if (capacity > 0 && !(r->total_s = calloc((size_t)capacity, sizeof(double))))
        return sl_err(SL_ENOMEM, "out of memory");
    r->cap = r->total_s ? capacity : 0;
    return SL_OK;
}

void sl_results_add(sl_results *r, const sl_device_result *res)
{
    if (r->n < r->cap) r->total_s[r->n++] = res->total_s;
    r->edge += res->via == SL_VIA_EDGE;
    r->fallback += res->via == SL_VIA_FALLBACK;
    r->errors += res->via == SL_VIA_ERROR;
    r->local += res->via == SL_VIA_LOCAL;
    r->device_s += res->device_s;
    r->encode_s += res->encode_s;
    r->transfer_s += res->transfer_s;
    r->edge_s += res->edge_s + res->edge_queue_s;
    r->bytes_up += (double)res->bytes_up;
}

void sl_results_summarise(sl_results *r, double wall_s, sl_results_summary *s)
{
    int n = r->n;
    *s = (sl_results_summary){.images = n,
                              .edge = r->edge,
                              .fallback = r->fallback,
                              .errors = r->errors,
                              .local = r->local,
                              .wall_s = wall_s,
                              .throughput_ips = wall_s > 0 ? n / wall_s : 0};
    if (n == 0) return;
    s->median_s = sl_median(r->total_s, (size_t)n);
    s->p95_s = sl_percentile(r->total_s, (size_t)n, 95);
    s->device_s = r->device_s / n;
    s->encode_s = r->encode_s / n;
    s->transfer_s = r->transfer_s / n;
    s->edge_s = r->edge_s / n;
    s->bytes_up = r->bytes_up / n;
}

void sl_results_free(sl_results *r)
{
    free(r->total_s);
    *r = (sl_results){0};
}

static const char *via_name(int via)
{
    return via == SL_VIA_EDGE       ? "edge"
           : via == SL_VIA_FALLBACK ? "fallback"
           : via == SL_VIA_LOCAL    ? "local"
                                    : "error";
}

char *sl_results_line(const sl_device_result *r, int logits)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", r->index);
    cJSON_AddStringToObject(o, "file", r->file);
    cJSON_AddStringToObject(o, "via", via_name(r->via));
    if (r->adaptive) {
        cJSON_AddNumberToObject(o, "plan", r->plan);
        if (r->probe) cJSON_AddBoolToObject(o, "probe", 1);
    }
    if (r->via != SL_VIA_ERROR) {
        cJSON_AddNumberToObject(o, "class_index", r->cls);
        if (r->class_name) cJSON_AddStringToObject(o, "class", r->class_name);
        cJSON_AddNumberToObject(o, "score", r->score);
    }
    cJSON *t = cJSON_AddObjectToObject(o, "timing");
    cJSON_AddNumberToObject(t, "device_s", r->device_s);
    cJSON_AddNumberToObject(t, "encode_s", r->encode_s);
    cJSON_AddNumberToObject(t, "transfer_s", r->transfer_s);
    cJSON_AddNumberToObject(t, "edge_queue_s", r->edge_queue_s);
    cJSON_AddNumberToObject(t, "edge_s", r->edge_s);
    cJSON_AddNumberToObject(t, "total_s", r->total_s);
    if (r->start_unix_s > 0) cJSON_AddNumberToObject(o, "start_unix_s", r->start_unix_s);
    cJSON_AddNumberToObject(o, "bytes_up", (double)r->bytes_up);
    cJSON_AddNumberToObject(o, "bytes_down", (double)r->bytes_down);
    if (r->via == SL_VIA_EDGE && r->edge[0]) cJSON_AddStringToObject(o, "edge", r->edge);
    if (r->status != SL_OK) cJSON_AddStringToObject(o, "error", r->error);
    if (logits && r->nlogits > 0) {
        cJSON *l = cJSON_AddArrayToObject(o, "logits");
        for (int i = 0; i < r->nlogits; i++)
            cJSON_AddItemToArray(l, cJSON_CreateNumber(r->logits[i]));
    }
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return line;
}

double sl_results_prediction_error(double predicted_s, double measured_s)
{
    if (predicted_s < 0 || !(measured_s > 0)) return NAN;
    return (predicted_s - measured_s) / measured_s;
}

int sl_results_plan_cost(const sl_plan_doc *doc, int tl, const char *kind, const char *tensor,
                         double *total_s, double *upload)
{
    sl_plan_entry e;
    *total_s = *upload = -1;
    if (sl_plan_doc_per_cut(doc, tl, kind, tensor, &e) != SL_OK) return 0;
    *total_s = e.total_s;
    *upload = e.upload_bytes;
    sl_plan_entry_free(&e);
    return 1;
}

int sl_results_plan_predict(const char *plan_path, int edge_only, const char *wire_json,
                            double *pred_s, double *pred_bytes)
{
    *pred_s = *pred_bytes = -1;
    sl_plan_doc *doc;
    int rc = sl_plan_doc_read(plan_path, &doc);
    if (rc != SL_OK) return rc;
    int found = 0;
    if (edge_only) {
        found = sl_results_plan_cost(doc, 0, "edge-only", NULL, pred_s, pred_bytes);
    } else {
        sl_wire_desc w;
        if (wire_json && sl_wire_desc_parse(wire_json, &w) == SL_OK)
            found = sl_results_plan_cost(doc, w.has_tl, NULL, w.cut[0], pred_s, pred_bytes);
    }
    sl_plan_doc_free(doc);
    if (!found)
        return sl_err(SL_ENOTFOUND, "%s: the plan costs no %s", plan_path,
                      edge_only ? "edge-only plan" : "plan at this device half's cut");
    return SL_OK;
}
