/* plan_bundles.h: a plan table with the bundles that run each of its plans — the manifest an
 * adaptive device (`sl-offload device --plans`) and its edge are deployed with
 * (docs/formats/plan-bundles.md).
 *
 * A manifest names a plan table (docs/formats/plan-table.md) and, for every plan of it, the
 * device's file and the edge's file, by paths relative to the manifest's folder:
 *   slice      the device half and the edge half of one split pair (same pair id);
 *   edge-only  the whole model on both sides (the device sends the resized image, the edge
 *              serves the file under sl_backend_model_pair_id);
 *   local-only the whole model on the device; no edge file (null).
 */
#ifndef SL_OFFLOADER_PLAN_BUNDLES_H
#define SL_OFFLOADER_PLAN_BUNDLES_H

#include "offloader/link_estimate.h"

#define SL_PLAN_BUNDLES_PATH_MAX 4096

/* A plan's kind, from the table's fields: local-only (pays no RTT), edge-only (cut 0), slice. */
enum sl_plan_kind { SL_PLAN_SLICE = 0, SL_PLAN_EDGE_ONLY = 1, SL_PLAN_LOCAL_ONLY = 2 };

/* The kind of plan p, and its name ("slice", "edge-only", "local-only"). */
int sl_plan_kind_of(const sl_link_plan *p);
const char *sl_plan_kind_name(int kind);

typedef struct sl_plan_bundle {
    char device[SL_PLAN_BUNDLES_PATH_MAX]; /* resolved against the manifest's folder */
    char edge[SL_PLAN_BUNDLES_PATH_MAX];   /* "" for a local-only plan */
} sl_plan_bundle;

typedef struct sl_plan_bundles {
    sl_link_table table;   /* owned */
    sl_plan_bundle *pairs; /* owned, one per table plan, in the table's order */
} sl_plan_bundles;

/* Reads the manifest at path and the plan table it names. Checks the format ("sl-plan-bundles",
 * version 1), that every plan of the table has exactly one entry, that a local-only plan has no
 * edge file and the others have one, and that an edge-only plan's two files are the same file.
 * Does not open the bundles (the device and the edge check their roles when they load them).
 * Returns SL_OK; SL_EIO / SL_EFORMAT naming the file and the field; SL_ENOMEM. On error *out is
 * zeroed. Free with sl_plan_bundles_free. */
int sl_plan_bundles_read(const char *path, sl_plan_bundles *out);

/* Frees what b owns and zeroes it; NULL is a no-op. */
void sl_plan_bundles_free(sl_plan_bundles *b);

#endif
