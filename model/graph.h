/* graph.h: the model graph IR — a DAG of named nodes with PyTorch-named parameters.
 *
 * Data model. A graph has one image input (name, shape C x H x W without the batch dimension,
 * normalisation mean/std), a list of nodes in topological order, and output tensor names. Every
 * node produces exactly one tensor, named after the node; a node's inputs name the graph input
 * or earlier nodes. Shapes below never include the batch dimension: a conv output is {C, H, W},
 * a linear output {F}. Parameters live on their node under PyTorch's names, so the tensor
 * `layer1.0.conv1.weight` of a torchvision state_dict is node "layer1.0.conv1", param "weight".
 *
 * Worked example (JSON form, stored in every bundle as `model_config`):
 *   {"format": "sl-graph", "version": 1, "name": "tinycnn",
 *    "input": {"name": "image", "shape": [3, 32, 32], "mean": [0.5,0.5,0.5], "std": [0.25,0.25,0.25]},
 *    "classes": ["ok", "crack"],
 *    "nodes": [
 *      {"name": "conv1", "op": "conv2d", "inputs": ["image"], "attrs": {"out": 8, "k": 3, "pad": 1}},
 *      {"name": "bn1", "op": "batch_norm", "inputs": ["conv1"]},
 *      {"name": "relu1", "op": "relu", "inputs": ["bn1"]},
 *      {"name": "pool", "op": "adaptive_avg_pool", "inputs": ["relu1"], "attrs": {"out_hw": [1, 1]}},
 *      {"name": "flat", "op": "flatten", "inputs": ["pool"]},
 *      {"name": "fc", "op": "linear", "inputs": ["flat"], "attrs": {"out": 2}}],
 *    "outputs": ["fc"]}
 * Here conv1 has params weight {8,3,3,3} and bias {8}; bn1 has weight, bias, running_mean,
 * running_var, all {8}; shapes: conv1 {8,32,32}, pool {8,1,1}, flat {8}, fc {2}.
 *
 * Slices. A `placeholder` node has no inputs and stands for a tensor computed elsewhere: the
 * edge half of a split model starts with placeholders named after the tensors that cross the
 * wire, and runs from them as boundary tensors (exec.h). Running a placeholder without giving
 * its value is an error.
 *
 * Ownership: an sl_graph owns its nodes, strings and parameter tensors. Functions that take a
 * graph borrow it. Graphs are not thread-safe for mutation; running one from several threads is
 * safe when parameters are not being trained.
 */
#ifndef SL_MODEL_GRAPH_H
#define SL_MODEL_GRAPH_H

#include "shim/sl_torch.h"

#include <stdint.h>

#define SL_MAX_PARAMS 4
#define SL_NAME_MAX 128

typedef enum sl_op {
    SL_OP_CONV2D,
    SL_OP_CONV_TRANSPOSE2D,
    SL_OP_BATCH_NORM,
    SL_OP_RELU,
    SL_OP_RELU6,
    SL_OP_HARDSWISH,
    SL_OP_SIGMOID,
    SL_OP_MAX_POOL,
    SL_OP_AVG_POOL,
    SL_OP_ADAPTIVE_AVG_POOL,
    SL_OP_FLATTEN,
    SL_OP_LINEAR,
    SL_OP_ADD,
    SL_OP_CONCAT,
    SL_OP_DROPOUT,
    SL_OP_UPSAMPLE,
    SL_OP_QUANTIZE,
    SL_OP_DEQUANTIZE,
    SL_OP_PLACEHOLDER,
    SL_OP_HARDSIGMOID,
    SL_OP_SILU,
    SL_OP_MUL,
    SL_OP_CLIP,
    SL_OP_CHANNEL_SHUFFLE,
    SL_OP_SLICE,
    SL_OP_PAD,
    SL_OP_SOFTMAX,
    SL_OP_COUNT
} sl_op;

/* Tensor shape without the batch dimension. */
typedef struct sl_shape {
    int ndim;
    int64_t d[4];
} sl_shape;

/* Attributes of every op kind in one struct; each op reads the fields it documents in ops.c.
 * sl_attrs_default() fills the defaults. */
typedef struct sl_attrs {
    int64_t out;       /* conv / conv_transpose out channels, linear out features */
    int64_t k[2];      /* kernel {h, w} */
    int64_t stride[2];
    int64_t pad[2];
    int64_t dil[2];
    int64_t groups;
    int bias;          /* conv / linear: has a bias parameter */
    int64_t out_hw[2]; /* adaptive pool / upsample / conv_transpose exact output size (0 = none) */
    int ceil_mode;
    int count_include_pad;
    double eps, momentum; /* batch norm */
    int affine;           /* batch norm has weight and bias */
    double p;             /* dropout */
    int mode;             /* upsample: SL_INTERP_NEAREST or SL_INTERP_BILINEAR */
    int start_dim;        /* flatten: first flattened dim counted without batch (0 = all) */
    int bits;             /* quantize: wire bits (8) */
    sl_shape shape;       /* placeholder: the shape of the value it stands for */
    double lo, hi;        /* clip: the range (defaults -inf, +inf) */
    int64_t range[2];     /* slice: channels [range[0], range[1]) */
    int64_t pads[4];      /* pad: {left, right, top, bottom} (negative crops) */
    double value;         /* pad: the fill value */
} sl_attrs;

typedef struct sl_param {
    char name[32];     /* "weight", "bias", "running_mean", "running_var" */
    sl_shape shape;    /* full shape (params have no batch dim); up to 4 dims */
    sl_tensor *t;      /* owned; NULL until weights are attached */
} sl_param;

typedef struct sl_node {
    char *name;
    sl_op op;
    int ninputs;
    char **inputs; /* names */
    int *in_idx;   /* resolved by sl_graph_validate: -1 = graph input, else node index */
    sl_attrs a;
    char role[16]; /* "" or "tl_encoder", "tl_decoder" (transfer layer parts) */
    sl_shape out;  /* set by sl_graph_validate */
    int nparams;
    sl_param params[SL_MAX_PARAMS];
} sl_node;

typedef struct sl_graph {
    char *name;
    char *input_name;
    sl_shape input_shape; /* {C, H, W} */
    float mean[4], std[4];
    int nclasses;
    char **classes; /* may be NULL when the model has no class names */
    int nnodes, cap;
    sl_node *nodes; /* topological order after sl_graph_validate */
    int noutputs;
    char **outputs;
    int *out_idx;
    char *tl_json; /* transfer-layer description (JSON text) or NULL; kept verbatim */
    int validated;
} sl_graph;

/* ---- building ------------------------------------------------------------------------- */

/* New empty graph named `name` (copied). Returns NULL on allocation failure. */
sl_graph *sl_graph_new(const char *name);
void sl_graph_free(sl_graph *g);
/* Deep copy including parameter tensors (cloned, detached). */
int sl_graph_clone(const sl_graph *g, sl_graph **out);

/* Sets the image input: name, {C,H,W}, mean/std per channel (NULL = 0 / 1). */
int sl_graph_set_input(sl_graph *g, const char *name, int64_t c, int64_t h, int64_t w,
                       const float *mean, const float *std);
/* Replaces the class names (copied). */
int sl_graph_set_classes(sl_graph *g, const char *const *names, int n);
/* Appends a node; `inputs` names are copied. Returns the node (owned by g; invalidated by the next
 * append) or NULL on failure (message set). */
sl_node *sl_graph_add(sl_graph *g, const char *name, sl_op op, const char *const *inputs, int nin,
                      const sl_attrs *a);
/* Adds an output tensor name. */
int sl_graph_add_output(sl_graph *g, const char *name);
/* Default attributes (stride 1, dil 1, groups 1, bias 1, eps 1e-5, momentum 0.1, ...). */
void sl_attrs_default(sl_attrs *a);
/* The defaults with a square window: kernel k x k, stride and padding the same on both axes
 * (a convolution's or a pooling's). */
void sl_attrs_window(sl_attrs *a, int64_t k, int64_t stride, int64_t pad);

/* ---- lookup and checking --------------------------------------------------------------- */

/* Index of the node named `name`, -1 for the graph input, -2 if there is none. */
int sl_graph_find(const sl_graph *g, const char *name);
/* The parameter `pname` of node n, or NULL. */
sl_param *sl_node_param(sl_node *n, const char *pname);

/* Validates the graph: known ops, input counts, unique names, every input defined, no cycle
 * (nodes are reordered topologically), attribute ranges, shapes (infers every node's out shape),
 * and — when `check_params` — every parameter present with the expected shape. Also fills each
 * node's parameter descriptions. Messages name the node and the reason. */
int sl_graph_validate(sl_graph *g, int check_params);

/* Allocates and initialises every parameter (zeros, BN running_var ones) whose tensor is NULL. */
int sl_graph_alloc_params(sl_graph *g);

/* Shape of a tensor by name (graph input or node). */
int sl_graph_tensor_shape(const sl_graph *g, const char *name, sl_shape *out);

/* Total parameter count, and per-node FLOPs (multiply-adds x 2) for batch 1. */
int64_t sl_graph_param_count(const sl_graph *g);
int64_t sl_node_flops(const sl_graph *g, int node);
int64_t sl_shape_numel(const sl_shape *s);

/* ---- JSON ------------------------------------------------------------------------------- */

/* Parses graph JSON (format "sl-graph", version 1) and validates it without parameters. Unknown
 * keys are warned about (sl_log_warn), wrong types and missing keys are errors naming them. */
int sl_graph_from_json(const char *text, sl_graph **out);
/* Serialises the graph (structure only, no weights) to a new string the caller frees. */
int sl_graph_to_json(const sl_graph *g, char **out);
/* SHA-256 (64 hex chars + NUL) of the canonical structure JSON (weights excluded): the identity
 * profiles and plans use to check they describe the same model. */
int sl_graph_hash(const sl_graph *g, char out[65]);

/* ---- ops --------------------------------------------------------------------------------- */

const char *sl_op_name(sl_op op);
/* SL_OP_COUNT when unknown. */
sl_op sl_op_from_name(const char *name);

/* ---- cuts ------------------------------------------------------------------------------- */

/* Single-tensor cut points: tensors every input-to-output path passes through, in topological
 * order, starting with the graph input (-1) and ending with the output node. Needs a validated
 * graph with one output. *idx (caller frees) holds -1 for the input, else node indices. */
int sl_graph_cut_points(const sl_graph *g, int **idx, int *n);

#endif
