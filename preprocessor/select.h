/* select.h: the ScissionTL / Scission cost model: every single-tensor slice point (and, with a
 * cloud, every pair of slice points) with and without a transfer layer, costed, checked against
 * the constraints and ranked.
 *
 * A plan puts cut j between device and edge: the device runs blocks 0..j-1 (and the TL encoder),
 * the edge runs blocks j..K-1 (after the TL decoder), where the profile has K blocks and K+1
 * cuts. Cut 0 is edge-only: the raw uint8 image crosses (input.raw_bytes). Cut K is local-only:
 * nothing crosses and no RTT is paid (the result stays on the device). With a cloud the edge
 * runs blocks j..j2-1 and the cloud j2..K-1; j2 == j means the edge only forwards what it got
 * (the cloud then decodes the TL), j2 == K means the cloud is not used.
 *
 *   latency = image load + device prefix + TL encode + codec encode + serialise + RTT
 *             + bytes*8/bandwidth + codec decode + TL decode + edge suffix
 *             [+ serialise + RTT + bytes*8/bandwidth + cloud suffix]
 *
 * With a version 2 profile (docs/formats/profile.md) the device prefix and edge suffix are the
 * measured one-range times of input -> cut and cut -> output (local-only: the whole model),
 * bytes are what the codec leaves of the tensor on sample images, frame headers included, and
 * the codec's times are the sender's and receiver's own. With version 1 they are block sums and
 * uncompressed bytes, and the load and codec terms are 0. Serialisation time is bytes /
 * serialise_bytes_per_s of the sending host. Every latency must be finite: select fails
 * (SL_EFORMAT) naming the profile when times or sizes make a cost overflow.
 *
 * Hosts (issue 17, as Scission): with several candidate edges and clouds (sl_hosts) every
 * combination of hosts and cuts is a plan; a plan names its edge and cloud host. With a
 * device->cloud link the device may also send straight to the cloud (`direct`): the edge runs
 * nothing and forwards nothing, and the first hop's serialise, RTT and transfer are the
 * device->cloud link's. Plans that do not reach a tier are listed once, not once per host of it
 * (local-only once; a plan leaving the cloud unused once per edge).
 */
#ifndef SL_PREPROCESSOR_SELECT_H
#define SL_PREPROCESSOR_SELECT_H

#include "preprocessor/constraints.h"
#include "preprocessor/mincut.h"
#include "preprocessor/netcfg.h"
#include "preprocessor/profile_io.h"

#include <stddef.h>

typedef struct sl_plan {
    int cut;  /* device -> edge cut index */
    int cut2; /* edge -> cloud cut index, -1 without a cloud */
    int tl;   /* index of the TL configuration at `cut`, -1 for none */
    int edge_host;  /* candidate edge the device sends to (sl_hosts index, 0 with one edge); -1
                       when nothing goes to an edge (local-only, direct) */
    int cloud_host; /* candidate cloud running blocks cut2.. (or decoding), -1 when unused */
    int direct;     /* 1: the device sends straight to the cloud; cut2 == cut */
    double load_s;     /* the device loading the image (float input, or raw for edge-only) */
    double wire_enc_s; /* the device's codec on what it sends */
    double wire_dec_s; /* the receiver's codec */
    double device_s, tl_enc_s, serialise_s, rtt_s, transfer_s, tl_dec_s, edge_s;
    double serialise2_s, rtt2_s, transfer2_s, cloud_s;
    double upload_bytes, cloud_bytes; /* bytes sent by the device / by the edge */
    double total_s;
    int violated; /* index of the first violated criterion, -1 when the plan is allowed */
} sl_plan;

/* Several candidate hosts per tier; every combination is ranked. Borrowed arrays. */
typedef struct sl_hosts {
    const char *device; /* the device's name */
    const sl_profile *const *edges;
    const char *const *edge_names;
    int n_edges; /* >= 1 */
    const sl_profile *const *clouds;
    const char *const *cloud_names;
    int n_clouds; /* 0 without a cloud tier */
    /* The network per (edge e, cloud c): nets[e * max(n_clouds, 1) + c] holds device->edge e,
     * edge e->cloud c and device->cloud c (unset: no direct plans to cloud c). */
    const sl_netcfg *nets;
} sl_hosts;

typedef struct sl_select_input {
    const sl_profile *device, *edge, *cloud; /* borrowed; cloud may be NULL */
    sl_netcfg net; /* device->cloud set: direct plans too */
    const sl_constraints *constraints; /* borrowed, may be NULL */
    /* Several candidates, or NULL: device, edge, cloud and net are the only hosts. With hosts,
     * edge, cloud and net are those of the first combination (for callers that need one). */
    const sl_hosts *hosts;
    const char *names[SL_TIER_COUNT]; /* without hosts: each tier's host name, NULL = unnamed */
    int show_hosts; /* name the hosts in each plan's text and JSON (Scission's "Edge(vm2Core)") */
} sl_select_input;

typedef struct sl_selection {
    sl_plan *plans; /* every enumerated plan: allowed ones first, each part by total latency */
    int n_plans;
    int n_allowed;
    int *excluded; /* per criterion: plans it rules out on its own (n = constraints->n) */
    int n_criteria;
    int *best_at; /* [2 * cut + with_tl]: index of the best allowed plan there, or -1 */
    int n_cuts;
} sl_selection;

/* Checks that the profiles describe the same model (graph_hash, nodes, cuts, TL configurations,
 * batch). Returns SL_OK or SL_EFORMAT naming the profiles and the difference. The network hops
 * are checked by sl_netcfg_require(). */
int sl_select_check(const sl_select_input *in);

/* Costs one plan (cut, cut2 or -1, TL index at cut or -1) into *out, constraints included, on
 * the first edge and cloud. Returns SL_OK or SL_EARG when an index is out of range (then *out
 * is unchanged). */
int sl_select_cost(const sl_select_input *in, int cut, int cut2, int tl, sl_plan *out);

/* Same on edge `edge_host` and cloud `cloud_host` (sl_hosts indices, 0 without hosts), or
 * straight from the device to the cloud (`direct`: cut2 must equal cut, and the device->cloud
 * link be set). SL_EARG for an index out of range or a direct plan without its link. */
int sl_select_cost_on(const sl_select_input *in, int edge_host, int cloud_host, int direct, int cut,
                      int cut2, int tl, sl_plan *out);

/* The input as plan p sees it: its edge and cloud profile, network and host names, no hosts
 * list. Without hosts a copy of *in. */
void sl_select_view(const sl_select_input *in, const sl_plan *p, sl_select_input *view);

/* Enumerates, costs and ranks every plan into *out (caller frees with sl_selection_free).
 * Ranking: allowed plans first, then by total latency, then bytes uploaded, then cut index.
 * Returns SL_OK, or SL_ECONSTRAINT when no plan is allowed: the message counts, per criterion,
 * the plans it excluded; *out is still filled so callers can plot what was excluded. On any
 * other error (SL_ENOMEM) *out is untouched. */
int sl_select_run(const sl_select_input *in, sl_selection *out);

/* Frees what the selection owns and zeroes it; NULL is a no-op. */
void sl_selection_free(sl_selection *s);

/* The fastest allowed plan at `cut` without (want_tl = 0) or with (1) a TL, or NULL. Among the
 * pairs with a cloud the best cut2 is taken. Points into `s`. */
const sl_plan *sl_selection_best_at(const sl_selection *s, int cut, int want_tl);

/* The fastest allowed plan with / without a TL anywhere, or NULL. Points into `s`. */
const sl_plan *sl_selection_best(const sl_selection *s, int want_tl);

/* Scission's one-line summary, "0.1261s - 0.1588MB - device 0-1, edge 2-596", followed by the
 * cut tensor and TL when there is one; with show_hosts each tier with its host, "device(raspi4)
 * 0-1, edge(vm2Core) 2-5", and an edge that only forwards as "edge(vm2Core) forwards". Writes
 * into buf (size n, truncated if short). */
void sl_plan_format(const sl_select_input *in, const sl_plan *p, char *buf, size_t n);

/* A plan's predicted latency parts as the plan format's "latency_s" object (docs/formats/plan.md:
 * seconds per part, the cloud hop's parts only with a cloud tier). Returns a new cJSON object
 * (a struct cJSON *, caller owns it), or NULL when out of memory. */
struct cJSON *sl_plan_latency_json(const sl_select_input *in, const sl_plan *p);

/* The name of the TL configuration of `p`, or NULL without a TL. Borrowed from the profile. */
const char *sl_plan_tl_name(const sl_select_input *in, const sl_plan *p);

/* The per-tier placement of a plan, for constraint checks. */
void sl_plan_placement(const sl_select_input *in, const sl_plan *p, sl_placement *pl);

/* What a plan file holds besides the ranked single-cut plans (docs/formats/plan.md). */
typedef struct sl_plan_doc {
    const sl_select_input *in;
    const sl_selection *sel;
    int top;                          /* how many ranked plans to list */
    const sl_dads_result *dads;       /* DSL partition, or NULL */
    const sl_dads_result *throughput; /* DSH partition, or NULL */
} sl_plan_doc;

/* The plan document as a new JSON string (caller frees); NULL with the message set on failure. */
char *sl_plan_doc_json(const sl_plan_doc *d);

/* Writes the plan document to `path` atomically; on error nothing at `path` is changed. */
int sl_plan_doc_write(const char *path, const sl_plan_doc *d);

/* The three-tier DADS partition a document may also carry (`select --dads-cloud`), with the
 * hosts it was made for (NULL: the only ones). Borrowed. */
typedef struct sl_plan_doc_three {
    const sl_dads3_result *r;
    const char *edge_host, *cloud_host;
} sl_plan_doc_three;

/* sl_plan_doc_json / sl_plan_doc_write with "dads_three_tier" added when three is not NULL. */
char *sl_plan_doc_json_three(const sl_plan_doc *d, const sl_plan_doc_three *three);
int sl_plan_doc_write_three(const char *path, const sl_plan_doc *d, const sl_plan_doc_three *three);

#endif
