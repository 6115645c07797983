/* plan_table.h: select for a range of device->edge links — the best plan at each link, the
 * distinct plans that win somewhere, and the bandwidth intervals where each wins
 * (docs/formats/plan-table.md, format "sl-plan-table" version 1). An adaptive device switches
 * between the table's plans as its link estimate moves (offloader/link_estimate.h).
 *
 * Each link is ranked by select.c exactly as a single `select --bandwidth B --rtt R` run would
 * (same cost model, same constraints). A plan is named by (cut, cut2, tl). Because only the
 * device->edge RTT and transfer terms depend on the link, a plan's latency at any link is
 *
 *   latency(bw, rtt) = fixed_s + (pays_rtt ? rtt : 0) + upload_bytes * 8 / bw
 *
 * where fixed_s is everything else (compute, codecs, serialisation, the cloud hop). The table
 * stores fixed_s per plan so a device can predict every plan at its estimated link without the
 * profiles. Example (the test profile, tests/preprocessor/fixture.h, RTT 20 ms): at 1, 2 and
 * 5 Mbit/s local-only wins (0.155 s), at 10 Mbit/s the TL split at maxpool (fixed 0.05555 s +
 * 0.02 s + 0.04 s), at 50 Mbit/s edge-only (fixed 0.00635 s + 0.02 s + 0.024 s): three plans,
 * three intervals, with boundaries where the latency lines cross, 5.03 and 16.26 Mbit/s.
 */
#ifndef SL_PREPROCESSOR_PLAN_TABLE_H
#define SL_PREPROCESSOR_PLAN_TABLE_H

#include "preprocessor/select.h"
#include "preprocessor/select_run.h"

#include <stdio.h>

/* One link of the table. */
typedef struct sl_plan_table_link {
    double bandwidth_bps, rtt_s;
    int plan;     /* index into the table's plans */
    sl_plan best; /* the best allowed plan at this link, costed at this link */
} sl_plan_table_link;

/* One distinct plan that wins at one link or more. */
typedef struct sl_plan_table_plan {
    int cut, cut2, tl;   /* as in sl_plan */
    double fixed_s;      /* latency minus the device->edge RTT and transfer */
    double edge_s;       /* the edge's share of fixed_s: codec and TL decode, its half */
    double upload_bytes; /* bytes the device sends per image */
    int pays_rtt;        /* 0 for local-only: nothing crosses */
} sl_plan_table_plan;

/* A run of adjacent links (by bandwidth) with the same best plan. from_bps/to_bps are where
 * it starts and ends winning: the crossover with the neighbouring interval's plan (found on
 * the latency lines, with the RTT interpolated between the two links), or the lowest / highest
 * link's bandwidth at the ends of the table. */
typedef struct sl_plan_table_interval {
    int plan;
    double from_bps, to_bps;
    int first_link, last_link; /* links covered, indices into links */
} sl_plan_table_interval;

typedef struct sl_plan_table {
    sl_plan_table_link *links; /* sorted by bandwidth, increasing */
    int n_links;
    sl_plan_table_plan *plans; /* in order of first win, lowest bandwidth first */
    int n_plans;
    sl_plan_table_interval *intervals; /* increasing bandwidth */
    int n_intervals;
} sl_plan_table;

/* Parses a comma-separated list of bandwidths ("1mbit,2mbit,5mbit") into a new array
 * *bps (caller frees) of *n values, each > 0. `what` names the option in messages. SL_EARG
 * naming the item for an empty item, a bad or non-positive value; on error *bps is NULL. */
int sl_plan_table_parse_bandwidths(const char *what, const char *list, double **bps, int *n);

/* Same for round-trip times ("20ms,20ms,40ms"), each >= 0. */
int sl_plan_table_parse_rtts(const char *what, const char *list, double **rtts, int *n);

/* Ranks the plans at each of the n links (bandwidth_bps[i], rtt_s[i]) with `in` (its
 * device->edge hop is replaced per link; everything else is used as given) and fills *out
 * (caller frees with sl_plan_table_free). Links are sorted by bandwidth; two links of the same
 * bandwidth are an error. Plans sending straight from the device to the cloud are left out, and
 * several candidate hosts (in->hosts) are refused (SL_EARG). Returns SL_OK; SL_EARG for a bad
 * link list; SL_ECONSTRAINT naming the link where no plan is allowed; SL_ENOMEM. On error *out is
 * zeroed. */
int sl_plan_table_build(const sl_select_input *in, const double *bandwidth_bps, const double *rtt_s,
                        int n, sl_plan_table *out);

/* The predicted latency of table plan `p` at a link, by the formula at the top. */
double sl_plan_table_predict(const sl_plan_table_plan *p, double bandwidth_bps, double rtt_s);

/* The table as a new JSON string (caller frees); NULL with the message set on failure. */
char *sl_plan_table_json(const sl_select_input *in, const sl_plan_table *t);

/* Writes the table to `path` atomically; on error nothing at `path` is changed. */
int sl_plan_table_write(const char *path, const sl_select_input *in, const sl_plan_table *t);

/* Prints the table in words on f: per link the best plan, then the intervals. */
void sl_plan_table_print(FILE *f, const sl_select_input *in, const sl_plan_table *t);

/* The chart of the table as a new SVG string (caller frees; NULL with the message set on
 * failure): every plan's predicted latency against bandwidth (log scale, the lowest link to the
 * highest, the RTT interpolated between links), the intervals shaded in the winner's colour, the
 * links marked on their best plan. */
char *sl_plan_table_svg(const sl_select_input *in, const sl_plan_table *t);

/* Writes the chart to `path` atomically; on error nothing at `path` is changed. */
int sl_plan_table_write_svg(const char *path, const sl_select_input *in, const sl_plan_table *t);

/* Frees what t owns and zeroes it; NULL is a no-op. */
void sl_plan_table_free(sl_plan_table *t);

/* What `sl-preprocess select --bandwidths` asked for, besides the usual select request. */
typedef struct sl_plan_table_request {
    const char *bandwidths; /* "1mbit,2mbit,..." */
    const char *rtts;       /* same count, or NULL: the request's --rtt (or the CSV's) for all */
    const char *output;     /* JSON file, or NULL */
    int json, quiet;        /* JSON on stdout / print nothing */
    const char *plot;       /* SVG chart file, or NULL */
} sl_plan_table_request;

/* One `select --bandwidths` run: reads the profiles and constraints through sl_select_execute
 * (rq->bandwidth_bps/rtt_s of the device->edge hop are overwritten per link), builds the table,
 * writes it, prints it. Returns SL_OK or the failing step's status with its message;
 * *user_error is set to 1 when the arguments are at fault (a bad list, unequal counts, no RTT).
 * Nothing is written on error. */
int sl_plan_table_select(sl_select_request *rq, const sl_plan_table_request *tr, int *user_error);

#endif
