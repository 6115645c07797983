/* exec.h: the executor — runs a graph, or any sub-range of it, on a batch.
 *
 * A run goes from a set of boundary tensors (by default the graph input) to a set of output
 * tensors (by default the graph outputs), running only the nodes needed, in topological order,
 * and freeing each intermediate after its last use. Values carry the batch dimension: the graph
 * input is {N, C, H, W}. In train mode batch norm uses batch statistics (and updates its running
 * statistics), dropout is active and quantize nodes fake-quantise; otherwise the run is pure
 * inference. Autograd flows through a train-mode run to every parameter that requires grad.
 *
 * A quantize node produces a uint8 value with its scale and zero point (the 8-bit wire); the
 * matching dequantize node turns it back into float.
 *
 * Numerics of the default (compiled) inference path: TorchScript's optimiser picks MKL-DNN or
 * ATen kernels for a pool, linear or batch norm by what else the compiled module holds, and
 * folds batch norm into convs when fold_bn is set. So a range run in two pieces (a split's device
 * and edge halves) or run plain agrees with the whole to float rounding, not bit for bit:
 * within 1e-5 of the largest |output| in the tests (tests/preprocessor/test_split.c, tests/model/
 * test_exec_fast.c: 1e-4 against the plain path with folding; tests/model/parity.py against
 * PyTorch). Ranges cut at a quantize node are exact (the uint8 wire decouples them).
 *
 * Example: run the device half of a graph split at tensor "layer2":
 *     const char *to[] = {"layer2"};
 *     sl_exec *e; sl_exec_opts o = {0};
 *     sl_exec_new(g, NULL, 0, to, 1, &o, &e);
 *     sl_value in = {.t = x}, out = {0};
 *     sl_exec_run(e, &in, &out);   ...   sl_value_clear(&out); sl_exec_free(e);
 */
#ifndef SL_MODEL_EXEC_H
#define SL_MODEL_EXEC_H

#include "model/graph.h"

typedef struct sl_value {
    sl_tensor *t;       /* owned by whoever holds the value */
    double scale;       /* quantized values only */
    int64_t zero_point; /* quantized values only */
    int quantized;      /* 1: t is uint8 (scale, zero_point) */
} sl_value;

/* Frees v->t and zeroes v. NULL-safe. */
void sl_value_clear(sl_value *v);

typedef struct sl_exec_opts {
    int train;   /* training mode (see above) */
    int fold_bn; /* inference only: fold each conv -> batch_norm pair into one conv with weights
                    computed when the plan is made (the plan must be remade if weights change) */
    int grad;    /* inference only: keep autograd on (default off: runs in inference mode) */
    int channels_last; /* inference only: keep 4-D activations and conv weights in channels-last
                          (NHWC) memory order, which MKL-DNN convolves without reordering */
    int plain; /* inference only: run every node through the op table's forward on plain
                  strided tensors. By default (0, and unless channels_last) an inference plan
                  compiles each stretch of nodes whose op has a TorchScript hook (ops.h) into a
                  frozen module optimised for inference (as torch.jit.freeze and
                  optimize_for_inference do: MKL-DNN convolutions with fused activations,
                  batch norm folded, MKL-DNN layout between them), with the weights copied in
                  when the plan is made (so, as with fold_bn, the plan must be remade if weights
                  change); other nodes (quantize, dequantize) run one by one. Results agree with
                  the plain path to float rounding (docs/model.md). Values at the plan's outputs
                  are always plain strided tensors. */
    /* Optional, one byte per node: 1 = run this node in eval mode even in a train-mode run
     * (frozen batch norm). NULL = every node follows `train`. Borrowed for the plan's life. */
    const unsigned char *node_eval;
} sl_exec_opts;

typedef struct sl_exec sl_exec;

/* Plans a run of validated graph g (borrowed for the plan's life) from boundary tensors `from`
 * (NULL/0 = the graph input) to tensors `to` (NULL/0 = the graph outputs). Fails naming the
 * tensor when an output cannot be reached from the boundary. */
int sl_exec_new(sl_graph *g, const char *const *from, int nfrom, const char *const *to, int nto,
                const sl_exec_opts *o, sl_exec **out);
/* Runs the plan: in[i] is the value of from[i] (borrowed), out[i] receives a new value for to[i]
 * (caller clears). On error every out[i] is left empty. Batch sizes must agree. */
int sl_exec_run(sl_exec *e, const sl_value *in, sl_value *out);
/* Node indices the plan runs, in order (borrowed) — for profiling and split. */
int sl_exec_nodes(const sl_exec *e, const int **idx);
void sl_exec_free(sl_exec *e);

/* One-shot: full forward of input batch x to the graph's first output (new tensor). */
int sl_graph_forward(sl_graph *g, const sl_tensor *x, int train, sl_tensor **out);

#endif
