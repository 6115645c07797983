/* wire_desc.h: the wire description (`sl-wire`, docs/formats/wire.md) — what crosses the cut
 * between a device half and an edge half. Built and written by `sl-preprocess split`, stored as
 * the /wire dataset of both halves, and read back here, once, with one validation, by everyone
 * who needs it (bundle reads, the edge backend, the device, bench, split's report).
 */
#ifndef SL_MODEL_WIRE_DESC_H
#define SL_MODEL_WIRE_DESC_H

#include "model/graph.h"

#define SL_WIRE_DESC_FORMAT "sl-wire"
#define SL_WIRE_DESC_VERSION 1
#define SL_WIRE_DESC_MAX 16 /* tensors crossing, and cut tensors */

typedef struct sl_wire_entry {
    char name[SL_NAME_MAX]; /* device output = edge placeholder */
    sl_shape shape;         /* without the batch dimension, 1..4 dims, each >= 1 */
    int u8;                 /* 1: uint8 (per-tensor affine, params per batch); 0: float32 */
    int64_t bytes_per_image;
} sl_wire_entry;

typedef struct sl_wire_desc {
    char model[SL_NAME_MAX];
    char graph_hash[65];
    char model_hash[65];
    int ncut;
    char cut[SL_WIRE_DESC_MAX][SL_NAME_MAX];
    int has_tl;
    struct {
        char kind[8]; /* "pool" | "conv" */
        char config[32];
        int r, s, bits;
        char decoder_out[SL_NAME_MAX];
    } tl;
    int n;
    sl_wire_entry t[SL_WIRE_DESC_MAX];
    int64_t bytes_per_image; /* the sum over t */
} sl_wire_desc;

/* Fills *w from graph g (validated, borrowed) for the n tensors `at` crossing the cut: names,
 * shapes, dtypes (uint8 for the output of a quantize node), bytes, graph hash. The caller then
 * sets model_hash, cut and tl (this sets model_hash = graph_hash and cut = at, no TL).
 * SL_EARG for n out of 1..SL_WIRE_DESC_MAX or a tensor g does not have. */
int sl_wire_desc_from_graph(const sl_graph *g, const char *const *at, int n, sl_wire_desc *w);

/* Serialises *w as the /wire JSON document into a new string (caller frees). */
int sl_wire_desc_to_json(const sl_wire_desc *w, char **out);

/* Parses and validates a /wire document: format, version, every field of the format with its
 * type and range, bytes that add up. On error (SL_EFORMAT naming the field, e.g.
 * "/wire: tensors[1].shape: ...") *w is zeroed. */
int sl_wire_desc_parse(const char *json, sl_wire_desc *w);

/* Checks a parsed description against the half it belongs to: for role "device" the graph's
 * outputs are exactly the wire tensors in order, with the same shapes; for role "edge" each wire
 * tensor is a placeholder node of the same shape. SL_EFORMAT naming the tensor otherwise. */
int sl_wire_desc_check(const sl_wire_desc *w, const sl_graph *g, const char *role);

#endif
