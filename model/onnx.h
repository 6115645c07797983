/* onnx.h: ONNX models (opsets 11-17) into the graph IR, so a user's own CNN enters the toolchain.
 *
 * The file is read with protobuf-c over ONNX's own onnx.proto (generated at build time); nothing
 * here parses protobuf by hand. Translation, node by node in topological order:
 *   - weights come from initializers (float32, raw or typed), parameters under PyTorch's names;
 *   - Constant, Identity, Dropout and every computation on constants or shapes (Shape, Gather,
 *     Unsqueeze, Concat, Add, Div, ... as torch.onnx writes for `x.view(n, -1)`) are evaluated at
 *     import and leave no node;
 *   - patterns become one IR op: x * sigmoid(x) -> silu, x * hardsigmoid(x) -> hardswish,
 *     reshape {g, C/g} + transpose + reshape -> channel_shuffle, ReduceMean over H and W -> adaptive_avg_pool (+ flatten), Gemm and
 *     MatMul with a constant matrix -> linear, Clip(0, 6) -> relu6;
 *   - batch norm stays a batch_norm node (the executor folds it into the conv before it).
 * Node names: a node with a weight takes its weight's name without ".weight" (the PyTorch module
 * path, as a state_dict names it); others take the ONNX node name with its scope path turned into
 * dots ("/layer1/layer1.0/relu/Relu" -> "layer1.0.relu.Relu"). Shapes are inferred by the op
 * table as the graph is built; the batch dimension is dropped.
 *
 * Anything the IR cannot express is an error naming the node, its op and the opset, never a
 * silent approximation: an op outside the table, an attribute value we do not translate (e.g.
 * asymmetric pool padding), a reshape that is neither a flatten nor a channel shuffle. */
#ifndef SL_MODEL_ONNX_H
#define SL_MODEL_ONNX_H

#include "model/graph.h"

typedef struct sl_onnx_opts {
    /* Input size used when the model's input has symbolic dims (0 = take the model's). */
    int64_t c, h, w;
} sl_onnx_opts;

/* Reads the ONNX model at `path` into a new validated graph with its weights attached (*out,
 * the caller frees). The graph is named after the file. On error *out is NULL and the message
 * names the file and, where one is to blame, the node, tensor or initializer and the reason. */
int sl_onnx_import(const char *path, const sl_onnx_opts *o, sl_graph **out);

/* The ONNX op types the importer translates, as a NULL-terminated list (static storage). */
const char *const *sl_onnx_supported_ops(void);

#endif
