/* split.h: splitting a model into paired device and edge bundles, and reading the cut from a plan.
 *
 * A split at a set of tensors T (every input-to-output path crosses T) gives:
 *   device  role "device": the input .. T (every node T depends on, TL encoder and quantiser
 *           included); outputs = T, in the order given.
 *   edge    role "edge": one `placeholder` node per tensor of T, named like it, then every node
 *           the outputs need given T (dequantiser, TL decoder, the rest); outputs and class
 *           names as in the model.
 * Both carry the same pair_id (32 random hex digits) and the same wire JSON
 * (docs/formats/wire.md): per tensor its name, shape without batch, dtype float32 | uint8,
 * quantisation and bytes per image, plus the cut, the TL config and the model hashes.
 * Running the device half and feeding its outputs to the edge half's placeholders gives exactly
 * what the whole model gives.
 */
#ifndef SL_PREPROCESSOR_SPLIT_H
#define SL_PREPROCESSOR_SPLIT_H

#include "model/bundle.h"

/* Splits validated graph g (borrowed, unchanged) at the n tensors `at`. For a TL graph pass its
 * wire tensor. Errors: SL_ENOTFOUND for a tensor g does not have; SL_EARG when a tensor is the
 * graph input or an output, is listed twice, is not needed by the edge, or when the set does not
 * separate input from outputs (the message names a path that escapes, e.g.
 * "image -> conv1 -> add -> fc"). On success *device and *edge are new bundles the caller frees
 * (roles, pair_id and wire_json set); on error both are NULL. */
int sl_split(const sl_graph *g, const char *const *at, int n, sl_bundle **device, sl_bundle **edge);
/* sl_split's checks of g and the tensors `at`, with the same errors, without building the
 * halves: no weight is touched, so g may come from sl_bundle_read_structure and a command can
 * refuse a cut before it reads the weights (and loads the model runtime). */
int sl_split_check(const sl_graph *g, const char *const *at, int n);

/* The cut a plan file chose (docs/formats/plan.md). */
typedef struct sl_plan_cut {
    char graph_hash[65]; /* the hash of the model the plan was made for */
    char model[SL_NAME_MAX];
    char kind[16];  /* "slice", "edge-only", "local-only", "dads" */
    int n;          /* crossing tensors (1 for single-cut plans) */
    char **tensors; /* owned */
    char tl[32];    /* the plan's TL config, "" for none */
} sl_plan_cut;

/* Reads entry `which` of plan file `path`: "best", "best_with_tl", "best_without_tl",
 * "best_split_without_tl" (single cuts), "dads" or "dads_throughput" (the DADS partitions). When g
 * is not NULL the plan must have been made for it (checked before the entry is looked at; see
 * sl_plan_cut_check). A missing, truncated or foreign file, a plan for another model, a null or
 * malformed entry give SL_EIO / SL_EFORMAT / SL_EARG / SL_ENOTFOUND naming the path and field; on
 * error *out is zeroed. Free with sl_plan_cut_free(). */
int sl_plan_cut_read(const char *path, const char *which, const sl_graph *g, sl_plan_cut *out);
/* Frees what c owns and zeroes it; NULL is a no-op. */
void sl_plan_cut_free(sl_plan_cut *c);

/* SL_OK when the plan was made for graph g: its graph_hash equals the hash of g, or, for a TL
 * graph, the hash of the model the TL was inserted into. Else SL_EARG naming both hashes. */
int sl_plan_cut_check(const sl_plan_cut *c, const char *plan_path, const sl_graph *g);

#endif
