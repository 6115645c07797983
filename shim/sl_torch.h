/* sl_torch.h: the C API over libtorch. The only door from C into C++ in the project.
 *
 * Data model. An `sl_tensor` is an opaque handle that holds one reference to a libtorch tensor
 * (CPU, strided). Tensors are NCHW for images: a batch of 8 RGB 224x224 images is shape
 * {8, 3, 224, 224}, float32, element [n][c][h][w] at offset ((n*3 + c)*224 + h)*224 + w when
 * contiguous. Conv weights are PyTorch's OIHW ({out, in/groups, kh, kw}); linear weights are
 * {out, in}. Labels for losses are int64 of shape {N}.
 *
 * Worked example:
 *     int64_t shape[4] = {1, 3, 32, 32};
 *     sl_tensor *x = NULL, *y = NULL;
 *     if (sl_tensor_from_buffer(pixels, shape, 4, SL_DT_F32, &x)) fail(sl_torch_last_error());
 *     if (sl_relu(x, &y)) ...;
 *     sl_tensor_free(x); sl_tensor_free(y);
 *
 * Rules (DESIGN.md §3):
 *  - Every function returns SLT_OK (0) or a negative SLT_E* code. On error the out-parameters are
 *    left NULL / untouched and sl_torch_last_error() describes the failure; the process goes on.
 *  - Every `sl_tensor **out` receives a new handle the caller frees with sl_tensor_free(). Two
 *    handles may share storage (views, sl_tensor_share); freeing one never invalidates the other.
 *  - Inputs are borrowed: the caller keeps ownership. Freeing NULL is a no-op.
 *  - Functions whose name ends in `_` work in place on their first argument.
 *  - No C++ exception ever crosses into C; nothing here calls exit().
 *  - Autograd follows libtorch: ops on tensors that require grad build a graph unless grad mode
 *    is off (sl_grad_mode_set) or the call runs inside sl_run_inference().
 */
#ifndef SL_SHIM_TORCH_H
#define SL_SHIM_TORCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes; the numbers match common/status.h. */
enum {
    SLT_OK = 0,
    SLT_EARG = -1,    /* bad argument: NULL handle, bad rank, dtype or size */
    SLT_ESHAPE = -4,  /* shapes do not fit (libtorch's message says how) */
    SLT_ETORCH = -5,  /* any other libtorch error */
    SLT_ENOMEM = -6,  /* allocation failed */
};

/* SL_DT_NONE is only ever returned (by sl_tensor_dtype, for NULL or a type the others cannot
 * name); passing it in gives SLT_EARG. */
typedef enum sl_dtype { SL_DT_NONE = -1, SL_DT_F32 = 0, SL_DT_U8 = 1, SL_DT_I64 = 2 } sl_dtype;

typedef struct sl_tensor sl_tensor;
typedef struct sl_optim sl_optim;
typedef struct sl_jit sl_jit;

#define SL_MAX_DIMS 8

/* The message of the last failed call on this thread. Owned by the shim, never NULL, valid until
 * the next shim call on this thread. */
const char *sl_torch_last_error(void);

/* ---- tensors ---------------------------------------------------------------------------- */

/* New tensor of the given shape filled with zeros / uninitialised memory. */
int sl_tensor_zeros(const int64_t *shape, int ndim, sl_dtype dt, sl_tensor **out);
int sl_tensor_empty(const int64_t *shape, int ndim, sl_dtype dt, sl_tensor **out);
/* New tensor filled with `value`. */
int sl_tensor_full(const int64_t *shape, int ndim, sl_dtype dt, double value, sl_tensor **out);
/* New tensor with a copy of `data` (contiguous, row-major, element type `dt`). */
int sl_tensor_from_buffer(const void *data, const int64_t *shape, int ndim, sl_dtype dt,
                          sl_tensor **out);
/* Copies the tensor's elements (row-major, contiguous) into `data`, which holds `nbytes`.
 * SLT_EARG when nbytes differs from the tensor's byte size. */
int sl_tensor_to_buffer(const sl_tensor *t, void *data, size_t nbytes);
/* Pointer to the first element of a contiguous tensor, valid while any handle to it lives.
 * SLT_EARG when the tensor is not contiguous. Writing through it bypasses autograd. */
int sl_tensor_data_ptr(const sl_tensor *t, void **ptr);
/* Shape (up to `max` dims) and rank. *ndim (may be NULL) gets the full rank even when it exceeds
 * `max`, so a caller can tell that the shape was cut short. */
int sl_tensor_shape(const sl_tensor *t, int64_t *shape, int max, int *ndim);
int sl_tensor_ndim(const sl_tensor *t);      /* -1 for NULL */
int64_t sl_tensor_numel(const sl_tensor *t); /* -1 for NULL */
size_t sl_tensor_nbytes(const sl_tensor *t); /* 0 for NULL */
sl_dtype sl_tensor_dtype(const sl_tensor *t);  /* SL_DT_NONE for NULL or another type */
/* New handle on the same tensor (same storage, same autograd identity). */
int sl_tensor_share(const sl_tensor *t, sl_tensor **out);
/* Deep copy (contiguous), detached from autograd. */
int sl_tensor_clone(const sl_tensor *t, sl_tensor **out);
/* New handle sharing storage but cut from the autograd graph. */
int sl_tensor_detach(const sl_tensor *t, sl_tensor **out);
/* Copies src's values into dst (same shape; dtype converted), without autograd. */
int sl_tensor_copy_(sl_tensor *dst, const sl_tensor *src);
/* Converted copy, always contiguous (row-major), so sl_tensor_data_ptr works on it. */
int sl_tensor_to_dtype(const sl_tensor *t, sl_dtype dt, sl_tensor **out);
/* View with a new shape (numel must match, else SLT_ESHAPE); -1 in one place is inferred. As
 * torch.reshape, it copies only when the strides do not allow a view. */
int sl_tensor_reshape(const sl_tensor *t, const int64_t *shape, int ndim, sl_tensor **out);
/* Slice [start, start+len) along `dim` (a view). */
int sl_tensor_narrow(const sl_tensor *t, int dim, int64_t start, int64_t len, sl_tensor **out);
/* Contiguous copy in memory format channels-last (1) or the default (0); same logical shape.
 * When t is already laid out that way the result shares its storage (no copy). */
int sl_tensor_memory_format(const sl_tensor *t, int channels_last, sl_tensor **out);
/* Value of a one-element tensor as double. */
int sl_tensor_item(const sl_tensor *t, double *out);
void sl_tensor_free(sl_tensor *t);

/* ---- element-wise and reductions -------------------------------------------------------- */

int sl_add(const sl_tensor *a, const sl_tensor *b, sl_tensor **out); /* a + b (broadcasting) */
int sl_sub(const sl_tensor *a, const sl_tensor *b, sl_tensor **out);
int sl_mul(const sl_tensor *a, const sl_tensor *b, sl_tensor **out);
int sl_add_(sl_tensor *a, const sl_tensor *b);                       /* a += b */
int sl_mul_scalar(const sl_tensor *a, double s, sl_tensor **out);
int sl_add_scalar(const sl_tensor *a, double s, sl_tensor **out);
int sl_sum(const sl_tensor *a, sl_tensor **out);  /* scalar sum of all elements */
int sl_mean(const sl_tensor *a, sl_tensor **out); /* scalar mean */
/* Largest |a - b| over all elements (same shape), and the largest |b| (for relative checks).
 * max_abs_b may be NULL. Both are 0 for empty tensors; integer tensors are compared in double. */
int sl_max_abs_diff(const sl_tensor *a, const sl_tensor *b, double *diff, double *max_abs_b);
int sl_minmax(const sl_tensor *a, double *min, double *max);
/* Indices of the maximum along `dim` (int64, that dim removed). */
int sl_argmax(const sl_tensor *a, int dim, sl_tensor **out);

/* ---- layers (functional: weights passed in; bias may be NULL) -------------------------- */

/* x {N,C,H,W}, w {O,C/groups,kh,kw}. stride/pad/dil are {h, w}; NULL means 1 / 0 / 1 (as in
 * the other layers below). Wrong channel counts or a kernel larger than the padded input give
 * SLT_ESHAPE with both shapes in the message. */
int sl_conv2d(const sl_tensor *x, const sl_tensor *w, const sl_tensor *b, const int64_t stride[2],
              const int64_t pad[2], const int64_t dil[2], int64_t groups, sl_tensor **out);
/* Transposed conv, w {C, O/groups, kh, kw}. out_hw[0..1] > 0 asks for that exact output size
 * (output_padding derived from it; SLT_ESHAPE if unreachable); 0 gives the default size. */
int sl_conv_transpose2d(const sl_tensor *x, const sl_tensor *w, const sl_tensor *b,
                        const int64_t stride[2], const int64_t pad[2], const int64_t dil[2],
                        int64_t groups, const int64_t out_hw[2], sl_tensor **out);
/* Batch norm over channel dim 1. training = 1 uses batch statistics and updates running_mean /
 * running_var in place (momentum as PyTorch's); training = 0 uses the running statistics.
 * weight / bias may be NULL (affine = false). */
int sl_batch_norm(const sl_tensor *x, const sl_tensor *weight, const sl_tensor *bias,
                  sl_tensor *running_mean, sl_tensor *running_var, int training, double momentum,
                  double eps, sl_tensor **out);
/* Pools: stride NULL means stride = k; pad must be at most k / 2 (SLT_EARG otherwise). */
int sl_relu(const sl_tensor *x, sl_tensor **out);
int sl_relu_(sl_tensor *x);
int sl_relu6(const sl_tensor *x, sl_tensor **out);
int sl_hardswish(const sl_tensor *x, sl_tensor **out);
int sl_sigmoid(const sl_tensor *x, sl_tensor **out);
int sl_silu(const sl_tensor *x, sl_tensor **out);        /* x * sigmoid(x) */
int sl_hardsigmoid(const sl_tensor *x, sl_tensor **out); /* relu6(x + 3) / 6 */
/* min(max(x, lo), hi); SLT_EARG unless lo <= hi. */
int sl_clamp(const sl_tensor *x, double lo, double hi, sl_tensor **out);
/* x {N,C,H,W} viewed as {N, groups, C/groups, H, W}, groups and channels swapped, back to
 * {N,C,H,W} (ShuffleNet's channel shuffle); SLT_EARG unless groups divides C. */
int sl_channel_shuffle(const sl_tensor *x, int64_t groups, sl_tensor **out);
/* Pads the last two dims of x with `value`: pads = {left, right, top, bottom}; negative
 * values crop. */
int sl_constant_pad(const sl_tensor *x, const int64_t pads[4], double value, sl_tensor **out);
int sl_max_pool2d(const sl_tensor *x, const int64_t k[2], const int64_t stride[2],
                  const int64_t pad[2], const int64_t dil[2], int ceil_mode, sl_tensor **out);
int sl_avg_pool2d(const sl_tensor *x, const int64_t k[2], const int64_t stride[2],
                  const int64_t pad[2], int ceil_mode, int count_include_pad, sl_tensor **out);
int sl_adaptive_avg_pool2d(const sl_tensor *x, const int64_t out_hw[2], sl_tensor **out);
/* x {N, in}, w {out, in}. */
int sl_linear(const sl_tensor *x, const sl_tensor *w, const sl_tensor *b, sl_tensor **out);
/* Concatenates n tensors along dim. */
int sl_cat(const sl_tensor *const *xs, int n, int dim, sl_tensor **out);
/* Flattens dims start..end (inclusive; -1 = last). */
int sl_flatten(const sl_tensor *x, int start, int end, sl_tensor **out);
/* Dropout with probability p when training, identity otherwise. */
int sl_dropout(const sl_tensor *x, double p, int training, sl_tensor **out);

typedef enum sl_interp { SL_INTERP_NEAREST = 0, SL_INTERP_BILINEAR = 1 } sl_interp;
/* Resizes x {N,C,H,W} to exactly out_hw (align_corners = false for bilinear). */
int sl_interpolate(const sl_tensor *x, sl_interp mode, const int64_t out_hw[2], sl_tensor **out);
int sl_softmax(const sl_tensor *x, int dim, sl_tensor **out);
int sl_log_softmax(const sl_tensor *x, int dim, sl_tensor **out);

/* ---- losses (mean reduction; out is a scalar tensor) ------------------------------------ */

/* logits {N, K}, target int64 {N}; label_smoothing in [0, 1). A target outside 0..K-1 gives
 * SLT_EARG. */
int sl_cross_entropy(const sl_tensor *logits, const sl_tensor *target, double label_smoothing,
                     sl_tensor **out);
int sl_mse_loss(const sl_tensor *a, const sl_tensor *b, sl_tensor **out);
/* KL(target || input) as torch.nn.functional.kl_div(input, target, reduction="batchmean",
 * log_target=log_target): `log_input` holds log-probabilities. */
int sl_kl_div(const sl_tensor *log_input, const sl_tensor *target, int log_target,
              sl_tensor **out);

/* ---- autograd --------------------------------------------------------------------------- */

int sl_tensor_set_requires_grad(sl_tensor *t, int requires);
int sl_tensor_requires_grad(const sl_tensor *t); /* 1, 0, or negative on error */
/* Back-propagates from a one-element tensor that requires grad (SLT_EARG otherwise). */
int sl_backward(const sl_tensor *loss);
/* The accumulated gradient of a leaf; *out = NULL (and SLT_OK) when it has none yet (or t is not
 * a leaf). The handle shares the gradient's storage: later backward passes and an optimiser's
 * zero_grad change what it holds. */
int sl_tensor_grad(const sl_tensor *t, sl_tensor **out);
/* Sets the leaf's gradient to none. */
int sl_tensor_zero_grad(sl_tensor *t);
/* Turns grad mode on or off for this thread; returns the previous mode (1/0). */
int sl_grad_mode_set(int enabled);
/* Calls fn(ctx) with libtorch's inference mode on for the duration of the call and returns what
 * fn returns. Tensors made inside must not later be used in autograd. */
int sl_run_inference(int (*fn)(void *ctx), void *ctx);

/* ---- optimisers (libtorch's own) --------------------------------------------------------- */

/* The optimiser keeps its own references to the n parameters (leaves requiring grad). */
int sl_optim_sgd_new(sl_tensor *const *params, int n, double lr, double momentum,
                     double dampening, double weight_decay, int nesterov, sl_optim **out);
int sl_optim_adam_new(sl_tensor *const *params, int n, double lr, double beta1, double beta2,
                      double eps, double weight_decay, sl_optim **out);
int sl_optim_step(sl_optim *o);
int sl_optim_zero_grad(sl_optim *o);
int sl_optim_set_lr(sl_optim *o, double lr); /* every parameter group */
double sl_optim_lr(const sl_optim *o);        /* -1 for NULL */
/* Per-parameter state, for exact checkpoint/resume. Names: SGD "momentum_buffer"; Adam
 * "exp_avg", "exp_avg_sq", "step" (a one-element float tensor). get: *out = NULL (SLT_OK) when
 * the state does not exist yet, else a copy the caller frees. set: creates or overwrites (copying
 * `value`); setting one Adam entry first creates the others as zeros / step 0. */
int sl_optim_state_get(const sl_optim *o, int param_index, const char *name, sl_tensor **out);
int sl_optim_state_set(sl_optim *o, int param_index, const char *name, const sl_tensor *value);
void sl_optim_free(sl_optim *o);

/* ---- quantisation (uint8, per tensor) ---------------------------------------------------- */

/* Scale and zero point that map [min(x,0), max(x,0)] onto 0..255 (as PyTorch's MinMax observer
 * with quint8, affine). */
int sl_quant_params(const sl_tensor *x, double *scale, int64_t *zero_point);
/* q = clamp(round(x / scale) + zp, 0, 255) as uint8, computed by torch.quantize_per_tensor's
 * kernel (x * (1 / scale) in float, round half to even), so codes match PyTorch and
 * sl_fake_quant_u8 exactly. scale > 0 and zp in 0..255, else SLT_EARG. */
int sl_quantize_u8(const sl_tensor *x, double scale, int64_t zero_point, sl_tensor **out);
/* x = (q - zp) * scale as float32. */
int sl_dequantize_u8(const sl_tensor *q, double scale, int64_t zero_point, sl_tensor **out);
/* Quantise-dequantise in float with a straight-through gradient (training for an 8-bit wire). */
int sl_fake_quant_u8(const sl_tensor *x, double scale, int64_t zero_point, sl_tensor **out);

/* ---- initialisation (in place, no autograd) and randomness ------------------------------ */

/* torch.nn.init.kaiming_normal_(t, mode=fan_out or fan_in, nonlinearity="relu"). */
int sl_init_kaiming_normal_(sl_tensor *t, int fan_out);
/* torch.nn.init.kaiming_uniform_(t, a) with fan_in (PyTorch's default for conv and linear). */
int sl_init_kaiming_uniform_(sl_tensor *t, double a);
int sl_init_uniform_(sl_tensor *t, double lo, double hi);
int sl_init_normal_(sl_tensor *t, double mean, double std);
int sl_init_constant_(sl_tensor *t, double value);
/* Standard normal / uniform [0,1) tensor from libtorch's generator. */
int sl_tensor_randn(const int64_t *shape, int ndim, sl_tensor **out);
int sl_tensor_rand(const int64_t *shape, int ndim, sl_tensor **out);
/* Seeds libtorch's default generator. */
void sl_manual_seed(uint64_t seed);

/* ---- fusion helpers for inference ------------------------------------------------------- */

/* Folds eval-mode batch norm into the preceding conv: returns new weight and bias with
 * w' = w * g / sqrt(v + eps) (per output channel), b' = (b - m) * g / sqrt(v + eps) + beta.
 * conv_b, bn_w, bn_b may be NULL (0, 1, 0). */
int sl_fold_batch_norm(const sl_tensor *conv_w, const sl_tensor *conv_b, const sl_tensor *bn_w,
                       const sl_tensor *bn_b, const sl_tensor *bn_mean, const sl_tensor *bn_var,
                       double eps, sl_tensor **out_w, sl_tensor **out_b);

/* ---- MKL-DNN layout (inference only) ------------------------------------------------------
 * An MKL-DNN tensor holds its values in MKL-DNN's own (often blocked) memory layout. It has no
 * strides: sl_tensor_data_ptr, views and most functions above refuse it or fail with
 * SLT_ETORCH. sl_relu, sl_relu_, sl_add, sl_add_, sl_max_pool2d (dilation 1) and
 * sl_adaptive_avg_pool2d (input size a multiple of out_hw) accept MKL-DNN inputs and give
 * MKL-DNN results; sl_tensor_to_dense turns one back into an ordinary tensor. No autograd. */

/* 1 if t is an MKL-DNN tensor, 0 if strided, negative for NULL. */
int sl_tensor_is_mkldnn(const sl_tensor *t);
/* Copy of float32 t in MKL-DNN layout (t itself, shared, when it already is one). SLT_EARG for
 * other dtypes or a tensor requiring grad while grad mode is on. */
int sl_tensor_to_mkldnn(const sl_tensor *t, sl_tensor **out);
/* Contiguous strided copy of an MKL-DNN tensor; a strided t is shared, not copied. */
int sl_tensor_to_dense(const sl_tensor *t, sl_tensor **out);
/* Conv weight w {O, C/groups, kh, kw} (strided or MKL-DNN) reordered once into the layout
 * MKL-DNN's convolution wants for these stride/pad/dil/groups (NULL as in sl_conv2d): an
 * MKL-DNN tensor for sl_mkldnn_conv2d, so that no call reorders it again. */
int sl_mkldnn_conv_weight(const sl_tensor *w, const int64_t stride[2], const int64_t pad[2],
                          const int64_t dil[2], int64_t groups, sl_tensor **out);
/* Inference convolution through MKL-DNN, as sl_conv2d (same checks and messages). x is float32,
 * strided or MKL-DNN; the result has x's kind (strided: contiguous NCHW). w is strided or from
 * sl_mkldnn_conv_weight with the same stride/pad/dil/groups; b (may be NULL) is strided.
 * SLT_EARG if grad mode is on and x or w requires grad. */
int sl_mkldnn_conv2d(const sl_tensor *x, const sl_tensor *w, const sl_tensor *b,
                     const int64_t stride[2], const int64_t pad[2], const int64_t dil[2],
                     int64_t groups, sl_tensor **out);

/* Inference linear through MKL-DNN (faster than a reference BLAS for more than one row): x {N,
 * in} float32, strided or MKL-DNN; w {out, in} and b (may be NULL) strided. The result has x's
 * kind. SLT_EARG if grad mode is on and x or w requires grad. */
int sl_mkldnn_linear(const sl_tensor *x, const sl_tensor *w, const sl_tensor *b, sl_tensor **out);

/* ---- TorchScript compilation (inference only) --------------------------------------------
 * A range of a model compiled the way torch.jit.optimize_for_inference(torch.jit.freeze(m))
 * compiles it in Python: frozen weights, conv + batch norm folded, convolutions and their
 * activations, adds and pools in MKL-DNN's layout with the conversions placed once. No
 * autograd: results never require grad. */

/* Compiles TorchScript `source`, which defines `forward(self, ...)` over nin tensors returning
 * a tuple of nout tensors and reads its weights as `self.<names[i]>`, with attrs[i] (borrowed;
 * the module keeps what it needs) as those weights; then freezes the module and optimises it for
 * inference. fold = 1 lets freezing fold eval-mode batch norm (and constant adds and
 * multiplies) into the convolutions before it (torch.jit.freeze's optimize_numerics: changes
 * the last bits); fold = 0 keeps the arithmetic as written. *out is the caller's
 * (sl_jit_free). A source that does not compile gives SLT_ETORCH with the TorchScript
 * compiler's message. */
int sl_jit_compile(const char *source, const char *const *names, const sl_tensor *const *attrs,
                   int nattrs, int nin, int nout, int fold, sl_jit **out);
/* Runs the compiled module on in[0..nin) (borrowed); out[0..nout) receive new tensors (caller
 * frees). On error nothing is written to out. */
int sl_jit_run(sl_jit *m, const sl_tensor *const *in, int nin, sl_tensor **out, int nout);
/* Number of nodes of kind `kind` (e.g. "prim::mkldnn_convolution") in the optimised graph, or a
 * negative status. */
int sl_jit_count_kind(const sl_jit *m, const char *kind);
/* The optimised graph as text into buf (size bytes, NUL-terminated, cut short if too small);
 * *len (may be NULL) gets the full length. buf may be NULL to ask for the length. */
int sl_jit_graph_text(const sl_jit *m, char *buf, size_t size, size_t *len);
void sl_jit_free(sl_jit *m);

/* ---- threads ---------------------------------------------------------------------------- */

int sl_set_num_threads(int n); /* intra-op threads; n >= 1 */
int sl_get_num_threads(void);

#ifdef __cplusplus
}
#endif

#endif
