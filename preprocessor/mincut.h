/* mincut.h: DADS partitioning of a layer DAG between device and edge without a TL.
 *
 * The layer graph has one vertex per tensor producer: vertex 0 is the model input (always on
 * the device), vertex v >= 1 is profile node v-1. A partition puts a predecessor-closed set of
 * vertices on the device (everything a device vertex needs is also on the device) and the rest
 * on the edge. Its cost is
 *
 *   sum of dev_s over device vertices + sum of edge_s over edge vertices
 *   + sum of xfer_s over device vertices with at least one consumer on the edge
 *
 * (each crossing tensor is paid once however many edge consumers it has). The minimum is found as
 * an s-t min cut (DADS's DSL): s->v carries edge_s, v->t carries dev_s, a tensor with one consumer
 * is an edge u->c carrying xfer_s, a tensor with several consumers goes through one auxiliary
 * vertex (u->a carries xfer_s, a->c infinite) so it is paid once, and every consumer has an
 * infinite reverse edge c->u to its producer so a finite cut is always a valid partition.
 */
#ifndef SL_PREPROCESSOR_MINCUT_H
#define SL_PREPROCESSOR_MINCUT_H

#include "preprocessor/constraints.h"
#include "preprocessor/netcfg.h"
#include "preprocessor/profile_io.h"

#include <stdint.h>

enum { SL_FORCE_NONE = 0, SL_FORCE_DEVICE = 1, SL_FORCE_EDGE = 2 };

typedef struct sl_dag {
    int n;           /* vertices */
    double *dev_s;   /* time of vertex v on the device */
    double *edge_s;  /* time of vertex v on the edge */
    double *xfer_s;  /* time to send v's output tensor once (serialise + bytes/bandwidth) */
    int *pred_start; /* predecessors of v: preds[pred_start[v] .. pred_start[v+1]) */
    int *preds;      /* each < v: vertices are in topological order */
    uint8_t *force;  /* SL_FORCE_* per vertex */
} sl_dag;

/* Allocates a DAG of n vertices with room for n_edges predecessor entries, all zero (the caller
 * fills the arrays; pred_start has n+1 entries). Returns SL_OK or SL_ENOMEM (nothing allocated). */
int sl_dag_init(sl_dag *g, int n, int n_edges);
/* Frees the arrays and zeroes the struct; a zeroed struct is a no-op. */
void sl_dag_free(sl_dag *g);

/* Checks that a device set (on_device[v] = 1) holds vertex 0, is closed under predecessors and
 * respects the forced placements. Returns 1 if valid. */
int sl_dag_partition_valid(const sl_dag *g, const uint8_t *on_device);

/* The three stage times of a partition: device compute, transfer (crossing tensors, each once),
 * edge compute. */
void sl_dag_stages(const sl_dag *g, const uint8_t *on_device, double *dev, double *xfer,
                   double *edge);

/* Minimum-cost partition for the weighted cost w_dev*device + w_xfer*transfer + w_edge*edge
 * (weights 1,1,1 = DSL latency) by max-flow / min-cut. Writes on_device (n entries). Returns SL_OK,
 * or SL_ECONSTRAINT when the forced placements admit no partition (then on_device is undefined). */
int sl_mincut_solve(const sl_dag *g, double w_dev, double w_xfer, double w_edge,
                    uint8_t *on_device);

/* Builds the layer DAG of a model from its device and edge profiles and the device->edge hop:
 * node times from each profile, scaled per block so that a block's nodes add up to the block's
 * measured time (single-tensor partitions then cost what the single-cut model says), xfer_s =
 * bytes / device serialise rate + bytes*8/bandwidth, the input's tensor costed as the raw image.
 * Node criteria of `c` (only-on / not-on / exclude-tier for device and edge) become forced
 * placements; other criteria are checked later. Returns SL_OK (caller frees g with sl_dag_free),
 * SL_ENOMEM, or SL_EARG when a node criterion names the cloud (DADS partitions two tiers); on error
 * nothing stays allocated. The profiles must have passed sl_select_check (same nodes) and `c`
 * sl_constraints_resolve. */
int sl_dag_from_profiles(const sl_profile *dev, const sl_profile *edge, const sl_hop *hop,
                         const sl_constraints *c, sl_dag *g);

typedef struct sl_dads_result {
    uint8_t *on_device; /* per vertex (vertex 0 = input); caller frees with sl_dads_result_free */
    int n;
    double device_s, transfer_s, edge_s; /* stage times */
    double rtt_s;                        /* paid once when anything crosses */
    double latency_s;                    /* device + transfer + edge + rtt */
    double bottleneck_s; /* max(device, transfer, edge): the pipeline's time per image */
    int n_crossing;      /* tensors that cross (0 = local-only) */
    int iterations;      /* min cuts solved */
    int edge_host;       /* the edge candidate it was made for (select_run.c; 0 with one edge) */
} sl_dads_result;

/* DSL: the partition of least latency, RTT included (the RTT is paid only when something
 * crosses, so the min cut is compared with local-only). Returns SL_OK, SL_ENOMEM or
 * SL_ECONSTRAINT; on success *out is filled (caller frees). */
int sl_dads_latency(const sl_dag *g, double rtt_s, sl_dads_result *out);

/* DSH: a partition minimising the slowest stage (device, transfer, edge). Exact minimisation is
 * NP-hard; this runs min cuts of the weighted cost w_dev*device + w_xfer*transfer + w_edge*edge
 * over a grid of weights and then re-weights the stage that is the bottleneck (multiplicative
 * weights), keeping the partition with the smallest bottleneck, and finally improves it by
 * moving single vertices across the border while that lowers the bottleneck. A heuristic: the
 * result is always a valid partition, not always the optimum. Returns as sl_dads_latency. */
int sl_dads_throughput(const sl_dag *g, double rtt_s, sl_dads_result *out);

/* Frees on_device and zeroes the result; a zeroed result is a no-op. */
void sl_dads_result_free(sl_dads_result *r);

/* For a DADS result on `dev`'s graph: marks in `crosses` (n_nodes + 1 entries, vertex numbering
 * as the DAG) the tensors that cross, returns the bytes the device uploads (the raw image for
 * the input) in *upload_bytes, and returns the index of the first criterion of `c` the partition
 * violates, -1 when it satisfies all, -2 when out of memory. */
int sl_dads_check(const sl_dads_result *r, const sl_profile *dev, const sl_constraints *c,
                  uint8_t *crosses, double *upload_bytes);

/* Three tiers, device < edge < cloud, every tensor going device->cloud through the edge (it pays
 * both hops; the direct device->cloud link is not part of this model: docs/select.md). A
 * labelling puts each vertex on a tier, the input on the device, and no vertex on a tier before
 * one of its producers'. Its cost is the vertices' times on their tiers, plus per boundary
 * (device|edge, edge|cloud) each tensor produced before the boundary and consumed after it,
 * once, plus each boundary's RTT when anything crosses it. The minimum is exact: one min cut
 * on a layered graph (Ishikawa's construction: two vertices per node, one per boundary, an
 * infinite edge keeping the cloud side inside the edge side), then the RTT cases compared. */
typedef struct sl_dag3 {
    sl_dag g;         /* vertices, predecessors, dev_s, edge_s, xfer_s (device->edge); g.force unused */
    double *cloud_s;  /* time of vertex v on the cloud */
    double *xfer2_s;  /* time to send v's output edge->cloud (edge serialise + bytes/bandwidth) */
    uint8_t *forbid;  /* per vertex: bit t set = may not run on tier t (SL_TIER_*) */
} sl_dag3;

/* Allocates a three-tier DAG as sl_dag_init does, all zero. SL_OK or SL_ENOMEM (nothing kept). */
int sl_dag3_init(sl_dag3 *d, int n, int n_edges);
/* Frees and zeroes; a zeroed struct is a no-op. */
void sl_dag3_free(sl_dag3 *d);

/* Builds the three-tier DAG from the three profiles and the two hops (node times scaled per block
 * as sl_dag_from_profiles does). Node criteria (only-on, not-on, exclude-tier) become forbidden
 * tiers. Returns SL_OK (caller frees), SL_ENOMEM. */
int sl_dag3_from_profiles(const sl_profile *dev, const sl_profile *edge, const sl_profile *cloud,
                          const sl_hop *hop1, const sl_hop *hop2, const sl_constraints *c,
                          sl_dag3 *d);

typedef struct sl_dads3_result {
    uint8_t *tier; /* per vertex (vertex 0 = input), SL_TIER_*; caller frees with sl_dads3_result_free */
    int n;
    double device_s, edge_s, cloud_s;   /* compute per tier */
    double transfer_s, transfer2_s;     /* tensors crossing device|edge, edge|cloud */
    double rtt_s, rtt2_s;               /* paid when anything crosses that boundary */
    double latency_s;                   /* the sum */
} sl_dads3_result;

/* The cost of labelling `tier` (RTTs included) into *r's times (r->tier is not touched).
 * Returns 1 when the labelling is valid (input on the device, no consumer before its producer,
 * no forbidden tier), 0 otherwise (times then undefined). */
int sl_dag3_cost(const sl_dag3 *d, const uint8_t *tier, double rtt_s, double rtt2_s,
                 sl_dads3_result *r);

/* The labelling of least latency. Returns SL_OK with *out filled (caller frees), SL_ENOMEM, or
 * SL_ECONSTRAINT when the forbidden tiers admit no labelling. */
int sl_dads3_latency(const sl_dag3 *d, double rtt_s, double rtt2_s, sl_dads3_result *out);

/* Frees tier and zeroes the result; a zeroed result is a no-op. */
void sl_dads3_result_free(sl_dads3_result *r);

#endif
