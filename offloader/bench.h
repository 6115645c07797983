/* bench.h: `sl-offload bench` — local, edge-only, split and split+TL measured in one run.
 *
 * One process plays both hosts: an edge server on loopback (edge_server.h with the model
 * backend, serving the given edge halves and the whole model for edge-only) and a device client
 * whose link is modelled by an in-process shaper (the same bandwidth and RTT for every mode). On
 * the same images, one image at a time, in rounds (a slice of the images through each mode in
 * turn, so that load on the host falls on every mode alike), each mode measures the latency per
 * image (median, p95), the throughput, the bytes one image puts on the wire before compression,
 * the breakdown (device, encode, transfer, edge) and how often its class agrees with the whole
 * model run locally.
 * Every mode is warmed up on the first image before timing. With a plan (docs/formats/plan.md)
 * each mode also gets the latency and upload bytes the plan predicted for it, the error of the
 * prediction, and the report says whether the plan's first choice was the measured fastest.
 */
#ifndef SL_OFFLOADER_BENCH_H
#define SL_OFFLOADER_BENCH_H

#include <stdio.h>

enum { SL_BENCH_LOCAL, SL_BENCH_EDGE_ONLY, SL_BENCH_SPLIT, SL_BENCH_SPLIT_TL, SL_BENCH_NMODES };

typedef struct sl_bench_opts {
    const char *model;                     /* whole model, required */
    const char *split_device, *split_edge; /* pair without TL; both NULL = no "split" mode */
    const char *tl_device, *tl_edge;       /* pair with TL; both NULL = no "split+tl" mode */
    const char *plan;                      /* plan.json for predictions; NULL = none */
    const char *images;                    /* file, folder or glob (sl_path_list) */
    int limit;                             /* first N images (sorted); 0 = all */
    double bandwidth_bps;                  /* <= 0: unlimited */
    double rtt_s;
    int fold_bn;
    double cpu_pct; /* > 0: the device side (local and the device of every remote mode) runs
                       as a device of this % of one core (common/cpuquota.h) */
    int cpu_mode;   /* SL_CPU_DILATE or SL_CPU_QUOTA */
    int rounds;     /* the images in this many rounds through every mode; 0 = SL_BENCH_ROUNDS */
    int threads;    /* the device's intra-op threads as set by the caller; 0 = libtorch's choice */
    int local_only; /* local alone: no edge, no edge-only (no pairs either) */
} sl_bench_opts;

/* Rounds by default: each mode runs a quarter of the images, then the next mode does. */
#define SL_BENCH_ROUNDS 4

typedef struct sl_bench_mode {
    int ran; /* 0 when the mode's pair was not given */
    double median_s, p95_s, throughput_ips, bytes_per_image, predicted_s;
    double wire_bytes_per_image; /* mean bytes one image put on the wire, after the codec */
    double predicted_bytes;      /* the plan's upload bytes, -1 when unknown */
    double device_s, encode_s, transfer_s, edge_s; /* means per image */
    double agree_with_local;
    int errors;
} sl_bench_mode;

typedef struct sl_bench_report {
    int images, rounds;
    double bandwidth_bps, rtt_s, cpu_pct;
    sl_bench_mode modes[SL_BENCH_NMODES];
    int plan_choice; /* the mode of the plan's first choice (its "best"), -1 without a plan */
    char plan_choice_text[256];
} sl_bench_report;

/* The plan's choice counts as the fastest when within this share of the measured fastest. */
#define SL_BENCH_CHOICE_SLACK 0.05

/* (predicted - measured) / measured of a mode, or NAN when either is unknown; beyond
 * SL_RESULTS_MAX_ERROR (results.h) a prediction is marked as untrusted. */
double sl_bench_error(const sl_bench_mode *m);

/* The fastest measured mode (by median), or -1 when none ran. */
int sl_bench_fastest(const sl_bench_report *rep);

/* Runs the bench (progress and notes on stderr). Returns SL_OK with *rep filled, or an error
 * naming the file or step that failed (a mode whose images fail counts them in `errors`, it
 * does not fail the bench). Nothing is left running or on disk afterwards either way. */
int sl_bench_run(const sl_bench_opts *o, sl_bench_report *rep);

/* The report as the "sl-bench" JSON document (docs/offloader.md): new string, caller frees;
 * NULL when out of memory. */
char *sl_bench_json(const sl_bench_report *rep);

/* The report as a table for people. */
void sl_bench_table(const sl_bench_report *rep, FILE *f);

#endif
