/* results.h: what a device run's per-image results add up to, for `sl-offload device` and
 * `sl-offload bench` alike: the JSON line of one image, the counts, means and latency
 * percentiles of a run, and the plan's prediction set against the measurement.
 */
#ifndef SL_OFFLOADER_RESULTS_H
#define SL_OFFLOADER_RESULTS_H

#include "model/plan_doc.h"
#include "offloader/device_run.h"

/* A prediction is trusted within this share of the measurement; beyond it, it is marked. */
#define SL_RESULTS_MAX_ERROR 0.10

/* The per-image results of one run, added in arrival order. */
typedef struct sl_results {
    int n, cap;
    double *total_s;            /* total_s of each image added; owned */
    int edge, fallback, errors; /* how the images ended (enum sl_via) */
    int local;                  /* answered by a local-only plan (adaptive device) */
    double device_s, encode_s, transfer_s, edge_s; /* sums; edge_s includes the edge's queue */
    double bytes_up;                               /* sum */
} sl_results;

/* A run summed up. Means are per image added. */
typedef struct sl_results_summary {
    int images, edge, fallback, errors, local;
    double wall_s, throughput_ips; /* images per second of wall time (0 when wall_s is 0) */
    double median_s, p95_s;        /* of total_s */
    double device_s, encode_s, transfer_s, edge_s, bytes_up; /* means */
} sl_results_summary;

/* Makes r empty with room for `capacity` images. Returns SL_OK, or SL_ENOMEM with r empty (it
 * may still be freed). */
int sl_results_init(sl_results *r, int capacity);

/* Adds one image's result; an image beyond the capacity is counted in the sums but not in the
 * percentiles (programmer error: the capacity is the number of images). */
void sl_results_add(sl_results *r, const sl_device_result *res);

/* The summary of what was added, with wall_s the run's wall time. Sorts r->total_s. */
void sl_results_summarise(sl_results *r, double wall_s, sl_results_summary *s);

/* Frees what r owns and empties it; an empty (zeroed) r is fine. */
void sl_results_free(sl_results *r);

/* One image's result as the single-line JSON of `sl-offload device` (docs/offloader.md):
 * index, file, via, plan (and probe: true) in adaptive mode, class_index/class/score when
 * answered, timing{}, bytes_up, bytes_down,
 * error when the edge failed, and logits when `logits` is set. New string, caller frees; NULL
 * when out of memory. */
char *sl_results_line(const sl_device_result *res, int logits);

/* (predicted - measured) / measured, or NAN when either is unknown (predicted < 0, measured not
 * above 0). */
double sl_results_prediction_error(double predicted_s, double measured_s);

/* The latency (*total_s) and upload bytes (*upload) the plan doc predicts for its per_cut plan,
 * with or without a TL, whose cut is of this kind ("edge-only", "local-only"), or crosses at
 * this tensor when kind is NULL. Returns 1, or 0 with both -1 when the plan costs no such cut. */
int sl_results_plan_cost(const sl_plan_doc *doc, int tl, const char *kind, const char *tensor,
                         double *total_s, double *upload);

/* The plan at plan_path's prediction for one device: its edge-only plan when edge_only, else
 * its plan at the cut of the device half whose /wire description is wire_json (with a TL when
 * the description has one). *pred_s the latency, *pred_bytes the upload bytes. Returns SL_OK,
 * or SL_EIO / SL_EFORMAT (unreadable, not a plan) / SL_ENOTFOUND (no such plan in it) with
 * both set to -1. */
int sl_results_plan_predict(const char *plan_path, int edge_only, const char *wire_json,
                            double *pred_s, double *pred_bytes);

#endif
