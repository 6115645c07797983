/* plan_doc.h: reading a plan document (`sl-plan`, docs/formats/plan.md), once, for everyone:
 * `sl-preprocess split` / `insert` take the cut of a named entry from it (preprocessor/split.h,
 * sl_plan_cut_read), `sl-offload bench` the predicted latency and upload of the plan at a cut.
 * Written by `sl-preprocess select` (preprocessor/select.c).
 */
#ifndef SL_MODEL_PLAN_DOC_H
#define SL_MODEL_PLAN_DOC_H

#include "model/graph.h"

typedef struct sl_plan_doc sl_plan_doc;

/* One plan of the document: a named entry ("best", "dads", ...) or one side of a per_cut item. */
typedef struct sl_plan_entry {
    char kind[16];       /* "slice", "edge-only", "local-only", "dads" */
    int n;               /* crossing tensors */
    char **tensors;      /* owned: sl_plan_entry_free */
    char tl[32];         /* the plan's TL config, "" for none */
    double total_s;      /* latency_s.total, -1 when the plan has none */
    double upload_bytes; /* bytes the device sends (bytes.upload, DADS upload_bytes), -1 if none */
    char *text;          /* the plan in words (select's "text"); owned, may be NULL */
    /* The hosts a plan names (select with several candidates or a host-named network, "hosts"):
     * "" when the plan does not name one or does not use the tier. */
    char edge_host[64], cloud_host[64];
    int direct; /* the device sends straight to the cloud ("direct_to_cloud") */
} sl_plan_entry;

/* Reads and checks the header of plan file `path`: JSON, format "sl-plan", version 1, a 64-digit
 * graph_hash, a model name. SL_EIO / SL_EFORMAT naming the path and field; on error *out is NULL.
 * Free with sl_plan_doc_free. */
int sl_plan_doc_read(const char *path, sl_plan_doc **out);
void sl_plan_doc_free(sl_plan_doc *d);

/* The hash of the model the plan was made for (64 hex digits) and its name; owned by d. */
const char *sl_plan_doc_graph_hash(const sl_plan_doc *d);
const char *sl_plan_doc_model(const sl_plan_doc *d);

/* The named entry `which` ("best", "best_with_tl", "best_without_tl", "best_split_without_tl",
 * "dads", "dads_throughput"). SL_ENOTFOUND when the plan holds null there (no such plan was
 * allowed or requested), SL_EFORMAT naming the field when it is missing or malformed; on error
 * *out is zeroed. */
int sl_plan_doc_entry(const sl_plan_doc *d, const char *which, sl_plan_entry *out);

/* The per_cut plan without (with_tl = 0) or with (1) a TL whose cut has kind `kind`, or, when
 * kind is NULL, crosses at `tensor`. SL_ENOTFOUND when there is none. */
int sl_plan_doc_per_cut(const sl_plan_doc *d, int with_tl, const char *kind, const char *tensor,
                        sl_plan_entry *out);

/* Frees what e owns and zeroes it; NULL is a no-op. */
void sl_plan_entry_free(sl_plan_entry *e);

#endif
