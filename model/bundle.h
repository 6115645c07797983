/* bundle.h: HDF5 bundles — one format for models, checkpoints and device/edge slices.
 *
 * Layout (DESIGN.md §5), readable with h5py:
 *   /                      attributes format = "sl-bundle", format_version = 1, role, created_by,
 *                          and for slices pair_id
 *   /model_config          the graph JSON (UTF-8 string)
 *   /model_weights/<node>/<param>   float32 datasets in PyTorch layouts
 *   /labels                class names (array of strings), when the model has them
 *   /wire                  slices: JSON description of what crosses the cut
 *   /metrics, /train_state optional JSON strings
 *   /extra/<name>          optional float32 tensors (e.g. optimiser state in checkpoints)
 * Files are written to a temporary name and renamed into place.
 */
#ifndef SL_MODEL_BUNDLE_H
#define SL_MODEL_BUNDLE_H

#include "model/graph.h"

#define SL_BUNDLE_FORMAT "sl-bundle"
#define SL_BUNDLE_VERSION 1

typedef struct sl_bundle {
    sl_graph *graph;        /* owned; validated with parameters after a read */
    char role[16];          /* "model", "checkpoint", "device", "edge" */
    char created_by[64];
    char pair_id[33];       /* slices: 32 hex chars shared by the device and edge halves */
    char *wire_json;        /* slices; owned, may be NULL */
    char *metrics_json;     /* owned, may be NULL */
    char *train_state_json; /* owned, may be NULL */
    int nextra;
    char **extra_names;     /* owned */
    sl_tensor **extra;      /* owned */
} sl_bundle;

/* New empty bundle with role "model" that takes ownership of g (may be NULL). */
sl_bundle *sl_bundle_new(sl_graph *g);
void sl_bundle_free(sl_bundle *b);

/* Writes b atomically to path. Every parameter must have values. On error nothing at path
 * changes. */
int sl_bundle_write(const char *path, const sl_bundle *b);

/* Reads and validates a bundle (graph, every parameter present with the right shape). A missing,
 * foreign, corrupt or truncated file gives SL_EIO / SL_EFORMAT with a message naming the path and
 * what is wrong. */
int sl_bundle_read(const char *path, sl_bundle **out);

/* Adds (a copy of) tensor t under /extra/<name>, replacing one of the same name. */
int sl_bundle_set_extra(sl_bundle *b, const char *name, const sl_tensor *t);
/* The extra tensor `name` (borrowed) or NULL. */
sl_tensor *sl_bundle_extra(const sl_bundle *b, const char *name);
/* Replaces a JSON string field (copied; NULL clears). */
int sl_bundle_set_json(char **field, const char *json);

/* Reads a flat HDF5 file whose root datasets are named by PyTorch state_dict keys (what
 * `for k, v in sd.items(): f[k] = v.numpy()` writes with h5py) and copies them into g's
 * parameters. Keys ending in .num_batches_tracked are ignored. Missing, unexpected and mis-shaped
 * keys are all listed by name in the error. On error g's parameters are unchanged. */
int sl_import_state_dict(sl_graph *g, const char *path);

#endif
