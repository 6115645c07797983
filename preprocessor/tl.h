/* tl.h: transfer layers (TL) — configurations, and inserting one into a graph at a cut.
 *
 * A TL squeezes the tensor X at a single-tensor cut before it crosses the network and restores it
 * on the other side (DESIGN.md §6, docs/formats/tl.md). Two kinds:
 *   pool            2x2 max-pool on the device (ceil mode: odd sizes lose no row or column),
 *                   nearest upsample to X's exact H x W on the edge; no weights; float wire.
 *   conv-rR-sS-bB   encoder 1x1 conv C -> ceil(C/R) (+BN+ReLU), 3x3 stride-S conv (+BN+ReLU);
 *                   with B = 8 a uint8 quantize node (the wire) and a dequantize node;
 *                   decoder 3x3 stride-S transposed conv with exact output size (+BN+ReLU), then
 *                   a 1x1 conv with bias back to C channels (no activation: X may be negative).
 * Example: X = layer2.1 of resnet18 at 64x64, shape 128x8x8; conv-r4-s2-b8 sends 32x4x4 uint8
 * (512 bytes per image instead of 32768).
 *
 * The inserted nodes are named tl.enc.*, tl.quant, tl.dequant, tl.dec.*, carry the roles
 * "tl_encoder" / "tl_decoder", and every former consumer of X reads tl.dec.out instead. The
 * graph's `tl` object records kind, config, r, s, bits, cut, wire, decoder_out, cut_shape,
 * wire_shape and model_hash (the graph hash before insertion, so a plan made for the base model
 * can be checked against the TL model).
 */
#ifndef SL_PREPROCESSOR_TL_H
#define SL_PREPROCESSOR_TL_H

#include "model/graph.h"

#include <stddef.h>

typedef enum sl_tl_kind { SL_TL_POOL, SL_TL_CONV } sl_tl_kind;

typedef struct sl_tl_config {
    sl_tl_kind kind;
    int r;    /* conv: channel reduction factor >= 1 */
    int s;    /* conv: spatial stride >= 1 (1 = no spatial reduction); pool: 2 */
    int bits; /* 32 = float wire, 8 = uint8 wire (conv only) */
} sl_tl_config;

/* Parses "pool" or "conv-r<R>-s<S>-b<8|32>" (R in 1..1024, S in 1..8) into *c. Returns SL_OK, or
 * SL_EARG naming the text and the expected forms; on error *c is unchanged. */
int sl_tl_parse_config(const char *text, sl_tl_config *c);

/* The canonical id of c ("pool", "conv-r4-s2-b8") into buf (size n, truncated if short). */
void sl_tl_config_name(const sl_tl_config *c, char *buf, size_t n);

/* Inserts TL c at tensor `cut` of validated graph g, with fresh weights (conv weights kaiming
 * normal, fan-out, as torchvision initialises its convs; batch norm weight 1, bias 0). `cut` must
 * be a single-tensor cut point of g with a C x H x W shape that is not a graph output, and g must
 * not hold a TL already. On success g is validated with parameters and g->tl_json describes the
 * TL. On error (SL_ENOTFOUND listing the valid cut points for an unknown tensor, SL_EARG naming
 * the node for a non-single-tensor cut or a wrong shape) g is unchanged. */
int sl_tl_insert(sl_graph *g, const char *cut, const sl_tl_config *c);

/* SL_OK when a TL can go at `cut` of validated graph g: sl_tl_insert's checks of the cut and of
 * g (with the same errors), without its weights, so without the model runtime; g may come from
 * sl_bundle_read_structure, and a command can refuse a wrong cut before it reads the weights. */
int sl_tl_check_cut(const sl_graph *g, const char *cut);

/* What a TL graph's `tl` object says (names are copies, in fixed buffers). */
typedef struct sl_tl_info {
    sl_tl_config config;
    char config_name[32];
    char cut[SL_NAME_MAX];
    char wire[SL_NAME_MAX];
    char decoder_out[SL_NAME_MAX];
    char model_hash[65]; /* "" when the tl object has none (TL inserted by another tool) */
} sl_tl_info;

/* Reads g->tl_json into *out. Returns SL_ENOTFOUND when g has no TL, SL_EFORMAT naming the
 * field when the object is malformed or names tensors g does not have; *out is then unchanged. */
int sl_tl_info_get(const sl_graph *g, sl_tl_info *out);

#endif
