/* ops.h: the table of op kinds — for each: accepted attributes, shape inference, parameter
 * description, forward and FLOPs side by side (after darknet's one-place-per-layer habit). */
#ifndef SL_MODEL_OPS_H
#define SL_MODEL_OPS_H

#include "model/exec.h"
#include "model/graph.h"

/* Attribute keys a node's "attrs" object may hold (bit set over sl_attr_key). */
enum sl_attr_key {
    SL_A_OUT = 1 << 0,
    SL_A_K = 1 << 1,
    SL_A_STRIDE = 1 << 2,
    SL_A_PAD = 1 << 3,
    SL_A_DIL = 1 << 4,
    SL_A_GROUPS = 1 << 5,
    SL_A_BIAS = 1 << 6,
    SL_A_OUT_HW = 1 << 7,
    SL_A_CEIL = 1 << 8,
    SL_A_COUNT_PAD = 1 << 9,
    SL_A_EPS = 1 << 10,
    SL_A_MOMENTUM = 1 << 11,
    SL_A_AFFINE = 1 << 12,
    SL_A_P = 1 << 13,
    SL_A_MODE = 1 << 14,
    SL_A_START_DIM = 1 << 15,
    SL_A_BITS = 1 << 16,
    SL_A_SHAPE = 1 << 17,
    SL_A_LO = 1 << 18,
    SL_A_HI = 1 << 19,
    SL_A_RANGE = 1 << 20,
    SL_A_PADS = 1 << 21,
    SL_A_VALUE = 1 << 22,
};

/* What a forward call may look at besides its node. */
typedef struct sl_op_ctx {
    int train;      /* batch norm uses batch statistics; dropout is active */
    int fake_quant; /* quantize produces fake-quantised float (training for an 8-bit wire) */
} sl_op_ctx;

typedef struct sl_op_def {
    const char *name;
    int min_in, max_in; /* max_in -1 = any number */
    unsigned attrs;     /* accepted attribute keys */
    /* Output shape from input shapes; on error sets a message with the reason (the caller
     * prefixes the node name). */
    int (*infer)(const sl_node *n, const sl_shape *in, int nin, sl_shape *out);
    /* Fills p[] with parameter names and shapes (tensors untouched); returns the count. */
    int (*params)(const sl_node *n, const sl_shape *in, sl_param *p);
    /* Computes out from in; out->t is a new tensor owned by the caller. */
    int (*forward)(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin, sl_value *out);
    /* Multiply-adds x 2 for batch 1 (0 for ops that move data only). */
    int64_t (*flops)(const sl_node *n, const sl_shape *in, int nin);
    /* Inference hook of the compiled (TorchScript) path: writes into buf (size bytes) the
     * TorchScript expression of the node's eval-mode value from its inputs' variable names in[]
     * (each of shape {N} + in_shapes[i]) and its weights' attribute expressions w[] (one per
     * parameter; w[1] is NULL for a conv or linear without bias; the executor may pass
     * batch-norm-folded weights). SL_OK, or SL_EARG when the node cannot be compiled (it then
     * runs through `forward`). NULL: the op always runs through `forward`. */
    int (*jit)(const sl_node *n, const sl_shape *in_shapes, const char *const *in, int nin,
               const char *const *w, char *buf, size_t size);
} sl_op_def;

/* The definition of op kind `op` (static storage). */
const sl_op_def *sl_op_def_get(sl_op op);

#endif
