/* ops.c: every op kind — shape inference, parameters, forward, FLOPs — side by side. */
#include "model/ops.h"
#include "common/status.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TORCH_FAIL(what) sl_err(SL_ETORCH, "%s: %s", what, sl_torch_last_error())

/* The table's hook signatures (sl_op_def), written once: a hook uses the parameters it needs. */
#define UNUSED __attribute__((unused))
#define INFER(fname)                                                                               \
    static int fname(UNUSED const sl_node *n, UNUSED const sl_shape *in, UNUSED int nin,           \
                     sl_shape *out)
#define FORWARD(fname)                                                                             \
    static int fname(UNUSED const sl_op_ctx *c, UNUSED sl_node *n, UNUSED sl_value *const *in,     \
                     UNUSED int nin, UNUSED sl_value *out)
#define FLOPS(fname)                                                                               \
    static int64_t fname(UNUSED const sl_node *n, UNUSED const sl_shape *in, UNUSED int nin)
#define JIT(fname)                                                                                 \
    static int fname(UNUSED const sl_node *n, UNUSED const sl_shape *shp,                          \
                     UNUSED const char *const *in, UNUSED int nin, UNUSED const char *const *w,    \
                     char *buf, size_t size)

/* SL_OK when a shim call returned 0; otherwise SL_ETORCH with `what` and the shim's message. */
static int torch_ok(int rc, const char *what)
{
    return rc ? TORCH_FAIL(what) : SL_OK;
}

static sl_shape shape3(int64_t c, int64_t h, int64_t w)
{
    sl_shape s = {3, {c, h, w, 0}};
    return s;
}

static int need_chw(const sl_shape *s, const char *what)
{
    if (s->ndim != 3) return sl_err(SL_ESHAPE, "%s needs a C x H x W input, got %d dims", what, s->ndim);
    return SL_OK;
}

/* Division rounding towards minus infinity, as PyTorch's output-size formulas do. */
static int64_t floordiv(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int64_t conv_out_dim(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d)
{
    return floordiv(in + 2 * p - d * (k - 1) - 1, s) + 1;
}

static void set_param(sl_param *p, const char *name, int ndim, int64_t a, int64_t b, int64_t c,
                      int64_t d)
{
    memset(p, 0, sizeof *p);
    strncpy(p->name, name, sizeof p->name - 1);
    p->shape.ndim = ndim;
    p->shape.d[0] = a;
    p->shape.d[1] = b;
    p->shape.d[2] = c;
    p->shape.d[3] = d;
}

/* Writes a TorchScript expression into buf; SL_EARG when it does not fit. */
__attribute__((format(printf, 3, 4))) static int emit(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= size ? sl_err(SL_EARG, "TorchScript expression too long") : SL_OK;
}

/* A TorchScript float literal that reads back as the same double. */
static const char *jfloat(double v, char *buf)
{
    snprintf(buf, 40, "%.17g", v);
    if (!strpbrk(buf, ".eni")) strcat(buf, ".0");
    return buf;
}

static const char *opt_w(const char *const *w, int k)
{
    return w[k] ? w[k] : "None";
}

static const sl_tensor *param_t(const sl_node *n, int i)
{
    return i < n->nparams ? n->params[i].t : NULL;
}

/* The bias tensor of a conv or linear node, NULL without bias. */
static const sl_tensor *bias_t(const sl_node *n)
{
    return n->a.bias ? param_t(n, 1) : NULL;
}

/* Describes the optional bias {out} after the weight in p[0]; returns the parameter count. */
static int with_bias(const sl_node *n, sl_param *p)
{
    if (!n->a.bias) return 1;
    set_param(&p[1], "bias", 1, n->a.out, 0, 0, 0);
    return 2;
}

/* ---- conv2d: weight {out, in/groups, kh, kw}, bias {out} -------------------------------- */

INFER(conv_infer)
{
    int rc = need_chw(in, "conv2d");
    if (rc) return rc;
    const sl_attrs *a = &n->a;
    if (a->out <= 0 || a->k[0] <= 0 || a->k[1] <= 0 || a->stride[0] <= 0 || a->stride[1] <= 0 ||
        a->groups <= 0 || a->dil[0] <= 0 || a->dil[1] <= 0 || a->pad[0] < 0 || a->pad[1] < 0)
        return sl_err(SL_EFORMAT, "conv2d attributes out, k, stride, dil, groups must be positive "
                                  "and pad non-negative");
    if (in->d[0] % a->groups || a->out % a->groups)
        return sl_err(SL_ESHAPE, "groups %lld does not divide in channels %lld and out %lld",
                      (long long)a->groups, (long long)in->d[0], (long long)a->out);
    int64_t h = conv_out_dim(in->d[1], a->k[0], a->stride[0], a->pad[0], a->dil[0]);
    int64_t w = conv_out_dim(in->d[2], a->k[1], a->stride[1], a->pad[1], a->dil[1]);
    if (h <= 0 || w <= 0)
        return sl_err(SL_ESHAPE, "input %lldx%lld is smaller than the kernel", (long long)in->d[1],
                      (long long)in->d[2]);
    *out = shape3(a->out, h, w);
    return SL_OK;
}

static int conv_params(const sl_node *n, const sl_shape *in, sl_param *p)
{
    const sl_attrs *a = &n->a;
    set_param(&p[0], "weight", 4, a->out, in->d[0] / a->groups, a->k[0], a->k[1]);
    return with_bias(n, p);
}

FORWARD(conv_forward)
{
    return torch_ok(sl_conv2d(in[0]->t, param_t(n, 0), bias_t(n), n->a.stride, n->a.pad, n->a.dil,
                              n->a.groups, &out->t),
                    "conv2d");
}

FLOPS(conv_flops)
{
    return 2 * n->out.d[0] * n->out.d[1] * n->out.d[2] * (in->d[0] / n->a.groups) * n->a.k[0] *
           n->a.k[1];
}

JIT(conv_jit)
{
    const sl_attrs *a = &n->a;
    return emit(buf, size, "torch.conv2d(%s, %s, %s, [%lld, %lld], [%lld, %lld], [%lld, %lld], %lld)",
                in[0], w[0], opt_w(w, 1), (long long)a->stride[0], (long long)a->stride[1],
                (long long)a->pad[0], (long long)a->pad[1], (long long)a->dil[0],
                (long long)a->dil[1], (long long)a->groups);
}

/* ---- conv_transpose2d: weight {in, out/groups, kh, kw} ------------------------------------ */

/* Output size along spatial axis i (0 = H, 1 = W) from input size `in` without output padding. */
static int64_t convt_base(const sl_attrs *a, int i, int64_t in)
{
    return (in - 1) * a->stride[i] - 2 * a->pad[i] + a->dil[i] * (a->k[i] - 1) + 1;
}

INFER(convt_infer)
{
    int rc = need_chw(in, "conv_transpose2d");
    if (rc) return rc;
    const sl_attrs *a = &n->a;
    if (a->out <= 0 || a->k[0] <= 0 || a->k[1] <= 0 || a->stride[0] <= 0 || a->stride[1] <= 0 ||
        a->groups <= 0 || a->pad[0] < 0 || a->pad[1] < 0)
        return sl_err(SL_EFORMAT, "conv_transpose2d attributes must be positive");
    if (in->d[0] % a->groups || a->out % a->groups)
        return sl_err(SL_ESHAPE, "groups %lld does not divide the channels", (long long)a->groups);
    int64_t hw[2];
    for (int i = 0; i < 2; i++) {
        int64_t base = convt_base(a, i, in->d[1 + i]);
        if (a->out_hw[i] > 0) {
            int64_t extra = a->out_hw[i] - base;
            int64_t lim = a->stride[i] > a->dil[i] ? a->stride[i] : a->dil[i];
            if (extra < 0 || extra >= lim)
                return sl_err(SL_ESHAPE, "output size %lld is not reachable (from %lld to %lld)",
                              (long long)a->out_hw[i], (long long)base, (long long)(base + lim - 1));
            hw[i] = a->out_hw[i];
        } else {
            hw[i] = base;
        }
    }
    *out = shape3(a->out, hw[0], hw[1]);
    return SL_OK;
}

static int convt_params(const sl_node *n, const sl_shape *in, sl_param *p)
{
    const sl_attrs *a = &n->a;
    set_param(&p[0], "weight", 4, in->d[0], a->out / a->groups, a->k[0], a->k[1]);
    return with_bias(n, p);
}

FORWARD(convt_forward)
{
    int64_t hw[2] = {n->out.d[1], n->out.d[2]};
    return torch_ok(sl_conv_transpose2d(in[0]->t, param_t(n, 0), bias_t(n), n->a.stride, n->a.pad,
                                        n->a.dil, n->a.groups, hw, &out->t),
                    "conv_transpose2d");
}

FLOPS(convt_flops)
{
    return 2 * in->d[0] * in->d[1] * in->d[2] * (n->a.out / n->a.groups) * n->a.k[0] * n->a.k[1];
}

JIT(convt_jit)
{
    const sl_attrs *a = &n->a;
    /* The output padding that gives the node's output size (as sl_conv_transpose2d derives it). */
    int64_t op[2];
    for (int i = 0; i < 2; i++) {
        op[i] = n->out.d[1 + i] - convt_base(a, i, shp[0].d[1 + i]);
    }
    if (op[0] < 0 || op[1] < 0) return sl_err(SL_EARG, "conv_transpose2d output padding");
    return emit(buf, size,
                "torch.conv_transpose2d(%s, %s, %s, [%lld, %lld], [%lld, %lld], [%lld, %lld], "
                "%lld, [%lld, %lld])",
                in[0], w[0], opt_w(w, 1), (long long)a->stride[0], (long long)a->stride[1],
                (long long)a->pad[0], (long long)a->pad[1], (long long)op[0], (long long)op[1],
                (long long)a->groups, (long long)a->dil[0], (long long)a->dil[1]);
}

/* ---- batch_norm: weight, bias (affine), running_mean, running_var, all {C} --------------- */

INFER(same_infer)
{
    *out = *in;
    return SL_OK;
}

INFER(bn_infer)
{
    if (in->ndim < 1) return sl_err(SL_ESHAPE, "batch_norm needs channels");
    if (n->a.eps <= 0) return sl_err(SL_EFORMAT, "batch_norm eps must be positive");
    return same_infer(n, in, nin, out);
}

static int bn_params(const sl_node *n, const sl_shape *in, sl_param *p)
{
    int k = 0;
    if (n->a.affine) {
        set_param(&p[k++], "weight", 1, in->d[0], 0, 0, 0);
        set_param(&p[k++], "bias", 1, in->d[0], 0, 0, 0);
    }
    set_param(&p[k++], "running_mean", 1, in->d[0], 0, 0, 0);
    set_param(&p[k++], "running_var", 1, in->d[0], 0, 0, 0);
    return k;
}

FORWARD(bn_forward)
{
    int o = n->a.affine ? 2 : 0;
    return torch_ok(sl_batch_norm(in[0]->t, n->a.affine ? param_t(n, 0) : NULL,
                                  n->a.affine ? param_t(n, 1) : NULL, n->params[o].t,
                                  n->params[o + 1].t, c->train, n->a.momentum, n->a.eps, &out->t),
                    "batch_norm");
}

FLOPS(bn_flops)
{
    return 2 * sl_shape_numel(in);
}

JIT(bn_jit)
{
    char f1[48], f2[48];
    int o = n->a.affine ? 2 : 0;
    return emit(buf, size, "torch.batch_norm(%s, %s, %s, %s, %s, False, %s, %s, False)", in[0],
                n->a.affine ? w[0] : "None", n->a.affine ? w[1] : "None", w[o], w[o + 1],
                jfloat(n->a.momentum, f1), jfloat(n->a.eps, f2));
}

/* ---- activations ------------------------------------------------------------------------ */

/* Ops that differ only in their shim call and TorchScript expression (of the one input). */
static const struct {
    int (*call)(const sl_tensor *x, sl_tensor **out); /* NULL: the op has its own forward */
    const char *what;                                 /* the shim call, for error messages */
    const char *jit;                                  /* printf format of the input's name */
} unary[SL_OP_COUNT] = {
    [SL_OP_RELU] = {sl_relu, "sl_relu", "torch.relu(%s)"},
    /* hardtanh is what TorchScript's MKL-DNN pass knows (relu6 is hardtanh(0, 6)). */
    [SL_OP_RELU6] = {sl_relu6, "sl_relu6", "torch.hardtanh(%s, 0.0, 6.0)"},
    [SL_OP_HARDSWISH] = {sl_hardswish, "sl_hardswish", "torch.hardswish(%s)"},
    [SL_OP_SIGMOID] = {sl_sigmoid, "sl_sigmoid", "torch.sigmoid(%s)"},
    [SL_OP_HARDSIGMOID] = {sl_hardsigmoid, "sl_hardsigmoid", "torch.hardsigmoid(%s)"},
    [SL_OP_SILU] = {sl_silu, "sl_silu", "torch.silu(%s)"},
    /* Eval-mode dropout is the identity. */
    [SL_OP_DROPOUT] = {NULL, NULL, "%s"},
    [SL_OP_SOFTMAX] = {NULL, NULL, "torch.softmax(%s, 1)"},
};

FORWARD(unary_forward)
{
    return torch_ok(unary[n->op].call(in[0]->t, &out->t), unary[n->op].what);
}

JIT(unary_jit)
{
    return emit(buf, size, unary[n->op].jit, in[0]);
}

FLOPS(elem_flops)
{
    return sl_shape_numel(in);
}

/* ---- pools ------------------------------------------------------------------------------- */

static int64_t pool_out_dim(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int ceil_mode)
{
    int64_t num = in + 2 * p - d * (k - 1) - 1;
    int64_t o = (ceil_mode ? -floordiv(-num, s) : floordiv(num, s)) + 1;
    /* PyTorch: the last window must start inside the input or left padding. */
    if (ceil_mode && (o - 1) * s >= in + p) o--;
    return o;
}

INFER(pool_infer)
{
    int rc = need_chw(in, sl_op_name(n->op));
    if (rc) return rc;
    const sl_attrs *a = &n->a;
    if (a->k[0] <= 0 || a->k[1] <= 0 || a->stride[0] <= 0 || a->stride[1] <= 0 || a->pad[0] < 0 ||
        a->pad[1] < 0 || a->dil[0] <= 0 || a->dil[1] <= 0)
        return sl_err(SL_EFORMAT, "pool attributes k, stride, dil must be positive");
    if (a->pad[0] * 2 > a->k[0] || a->pad[1] * 2 > a->k[1])
        return sl_err(SL_EFORMAT, "pad must be at most half the kernel");
    int64_t d0 = n->op == SL_OP_MAX_POOL ? a->dil[0] : 1, d1 = n->op == SL_OP_MAX_POOL ? a->dil[1] : 1;
    int64_t h = pool_out_dim(in->d[1], a->k[0], a->stride[0], a->pad[0], d0, a->ceil_mode);
    int64_t w = pool_out_dim(in->d[2], a->k[1], a->stride[1], a->pad[1], d1, a->ceil_mode);
    if (h <= 0 || w <= 0)
        return sl_err(SL_ESHAPE, "input %lldx%lld is smaller than the pool window",
                      (long long)in->d[1], (long long)in->d[2]);
    *out = shape3(in->d[0], h, w);
    return SL_OK;
}

FORWARD(maxpool_forward)
{
    return torch_ok(
        sl_max_pool2d(in[0]->t, n->a.k, n->a.stride, n->a.pad, n->a.dil, n->a.ceil_mode, &out->t),
        "max_pool");
}

FORWARD(avgpool_forward)
{
    return torch_ok(sl_avg_pool2d(in[0]->t, n->a.k, n->a.stride, n->a.pad, n->a.ceil_mode,
                                  n->a.count_include_pad, &out->t),
                    "avg_pool");
}

JIT(maxpool_jit)
{
    const sl_attrs *a = &n->a;
    return emit(buf, size, "torch.max_pool2d(%s, [%lld, %lld], [%lld, %lld], [%lld, %lld], "
                           "[%lld, %lld], %s)",
                in[0], (long long)a->k[0], (long long)a->k[1], (long long)a->stride[0],
                (long long)a->stride[1], (long long)a->pad[0], (long long)a->pad[1],
                (long long)a->dil[0], (long long)a->dil[1], a->ceil_mode ? "True" : "False");
}

JIT(avgpool_jit)
{
    const sl_attrs *a = &n->a;
    return emit(buf, size, "torch.avg_pool2d(%s, [%lld, %lld], [%lld, %lld], [%lld, %lld], %s, %s)",
                in[0], (long long)a->k[0], (long long)a->k[1], (long long)a->stride[0],
                (long long)a->stride[1], (long long)a->pad[0], (long long)a->pad[1],
                a->ceil_mode ? "True" : "False", a->count_include_pad ? "True" : "False");
}

FLOPS(pool_flops)
{
    return sl_shape_numel(&n->out) * n->a.k[0] * n->a.k[1];
}

INFER(apool_infer)
{
    int rc = need_chw(in, "adaptive_avg_pool");
    if (rc) return rc;
    if (n->a.out_hw[0] <= 0 || n->a.out_hw[1] <= 0)
        return sl_err(SL_EFORMAT, "adaptive_avg_pool needs out_hw");
    *out = shape3(in->d[0], n->a.out_hw[0], n->a.out_hw[1]);
    return SL_OK;
}

FORWARD(apool_forward)
{
    return torch_ok(sl_adaptive_avg_pool2d(in[0]->t, n->a.out_hw, &out->t), "adaptive_avg_pool");
}

JIT(apool_jit)
{
    /* TorchScript's MKL-DNN pass takes every adaptive pool, but MKL-DNN pools only sizes that
     * divide evenly. */
    if (shp[0].d[1] % n->a.out_hw[0] || shp[0].d[2] % n->a.out_hw[1])
        return sl_err(SL_EARG, "adaptive_avg_pool: %lldx%lld to %lldx%lld", (long long)shp[0].d[1],
                      (long long)shp[0].d[2], (long long)n->a.out_hw[0], (long long)n->a.out_hw[1]);
    return emit(buf, size, "torch.adaptive_avg_pool2d(%s, [%lld, %lld])", in[0],
                (long long)n->a.out_hw[0], (long long)n->a.out_hw[1]);
}

/* ---- flatten, linear ---------------------------------------------------------------------- */

INFER(flatten_infer)
{
    int s = n->a.start_dim;
    if (s < 0 || s >= in->ndim) return sl_err(SL_EFORMAT, "flatten start_dim %d out of range", s);
    sl_shape o = {s + 1, {0}};
    for (int i = 0; i < s; i++) o.d[i] = in->d[i];
    o.d[s] = 1;
    for (int i = s; i < in->ndim; i++) o.d[s] *= in->d[i];
    *out = o;
    return SL_OK;
}

FORWARD(flatten_forward)
{
    return torch_ok(sl_flatten(in[0]->t, 1 + n->a.start_dim, -1, &out->t), "flatten");
}

JIT(flatten_jit)
{
    return emit(buf, size, "torch.flatten(%s, %d, -1)", in[0], 1 + n->a.start_dim);
}

FLOPS(zero_flops)
{
    return 0;
}

INFER(linear_infer)
{
    if (in->ndim != 1)
        return sl_err(SL_ESHAPE, "linear needs a flat input, got %d dims (add a flatten node)",
                      in->ndim);
    if (n->a.out <= 0) return sl_err(SL_EFORMAT, "linear needs out > 0");
    sl_shape o = {1, {n->a.out}};
    *out = o;
    return SL_OK;
}

static int linear_params(const sl_node *n, const sl_shape *in, sl_param *p)
{
    set_param(&p[0], "weight", 2, n->a.out, in->d[0], 0, 0);
    return with_bias(n, p);
}

FORWARD(linear_forward)
{
    return torch_ok(sl_linear(in[0]->t, param_t(n, 0), bias_t(n), &out->t), "linear");
}

JIT(linear_jit)
{
    return emit(buf, size, "torch.linear(%s, %s, %s)", in[0], w[0], opt_w(w, 1));
}

FLOPS(linear_flops)
{
    return 2 * in->d[0] * n->a.out;
}

/* ---- add, concat, dropout ---------------------------------------------------------------- */

INFER(add_infer)
{
    for (int i = 1; i < nin; i++)
        if (in[i].ndim != in[0].ndim || memcmp(in[i].d, in[0].d, sizeof(int64_t) * in[0].ndim))
            return sl_err(SL_ESHAPE, "add inputs 1 and %d differ in shape", i + 1);
    *out = in[0];
    return SL_OK;
}

FORWARD(add_forward)
{
    if (sl_add(in[0]->t, in[1]->t, &out->t)) return TORCH_FAIL("add");
    for (int i = 2; i < nin; i++)
        if (sl_add_(out->t, in[i]->t)) return TORCH_FAIL("add");
    return SL_OK;
}

JIT(add_jit)
{
    size_t at = 0;
    for (int i = 0; i < nin; i++) {
        int rc = emit(buf + at, size - at, "%s%s", i ? " + " : "", in[i]);
        if (rc) return rc;
        at += strlen(buf + at);
    }
    return SL_OK;
}

FLOPS(add_flops)
{
    return (nin - 1) * sl_shape_numel(in);
}

INFER(concat_infer)
{
    sl_shape o = in[0];
    if (o.ndim < 1) return sl_err(SL_ESHAPE, "concat needs channels");
    for (int i = 1; i < nin; i++) {
        if (in[i].ndim != o.ndim || memcmp(in[i].d + 1, o.d + 1, sizeof(int64_t) * (o.ndim - 1)))
            return sl_err(SL_ESHAPE, "concat input %d differs from input 1 outside the channels",
                          i + 1);
        o.d[0] += in[i].d[0];
    }
    *out = o;
    return SL_OK;
}

FORWARD(concat_forward)
{
    const sl_tensor *xs[nin + 1];
    for (int i = 0; i < nin; i++) xs[i] = in[i]->t;
    return torch_ok(sl_cat(xs, nin, 1, &out->t), "concat");
}

JIT(concat_jit)
{
    int rc = emit(buf, size, "torch.cat([");
    size_t at = strlen(buf);
    for (int i = 0; i < nin && !rc; i++) {
        rc = emit(buf + at, size - at, "%s%s", i ? ", " : "", in[i]);
        at += strlen(buf + at);
    }
    return rc ? rc : emit(buf + at, size - at, "], 1)");
}

INFER(dropout_infer)
{
    if (n->a.p < 0 || n->a.p >= 1) return sl_err(SL_EFORMAT, "dropout p must be in [0, 1)");
    return same_infer(n, in, nin, out);
}

FORWARD(dropout_forward)
{
    return torch_ok(sl_dropout(in[0]->t, n->a.p, c->train, &out->t), "dropout");
}

/* ---- upsample ---------------------------------------------------------------------------- */

INFER(upsample_infer)
{
    int rc = need_chw(in, "upsample");
    if (rc) return rc;
    if (n->a.out_hw[0] <= 0 || n->a.out_hw[1] <= 0)
        return sl_err(SL_EFORMAT, "upsample needs out_hw");
    if (n->a.mode != SL_INTERP_NEAREST && n->a.mode != SL_INTERP_BILINEAR)
        return sl_err(SL_EFORMAT, "upsample mode must be nearest or bilinear");
    *out = shape3(in->d[0], n->a.out_hw[0], n->a.out_hw[1]);
    return SL_OK;
}

FORWARD(upsample_forward)
{
    return torch_ok(sl_interpolate(in[0]->t, (sl_interp)n->a.mode, n->a.out_hw, &out->t),
                    "upsample");
}

JIT(upsample_jit)
{
    long long h = n->a.out_hw[0], wd = n->a.out_hw[1];
    if (n->a.mode == SL_INTERP_BILINEAR)
        return emit(buf, size, "torch.upsample_bilinear2d(%s, [%lld, %lld], False)", in[0], h, wd);
    return emit(buf, size, "torch.upsample_nearest2d(%s, [%lld, %lld])", in[0], h, wd);
}

FLOPS(upsample_flops)
{
    return sl_shape_numel(&n->out) * (n->a.mode == SL_INTERP_BILINEAR ? 4 : 1);
}

/* ---- quantize / dequantize (uint8, per tensor, scale from the batch's range) ------------- */

INFER(quant_infer)
{
    if (n->op == SL_OP_QUANTIZE && n->a.bits != 8)
        return sl_err(SL_EFORMAT, "quantize supports bits = 8, got %d", n->a.bits);
    return same_infer(n, in, nin, out);
}

FORWARD(quant_forward)
{
    if (in[0]->quantized) return sl_err(SL_EFORMAT, "quantize input is already quantized");
    double scale;
    int64_t zp;
    if (sl_quant_params(in[0]->t, &scale, &zp)) return TORCH_FAIL("quantize");
    if (c->fake_quant) {
        if (sl_fake_quant_u8(in[0]->t, scale, zp, &out->t)) return TORCH_FAIL("quantize");
        return SL_OK;
    }
    if (sl_quantize_u8(in[0]->t, scale, zp, &out->t)) return TORCH_FAIL("quantize");
    out->quantized = 1;
    out->scale = scale;
    out->zero_point = zp;
    return SL_OK;
}

FORWARD(dequant_forward)
{
    /* A fake-quantised (float) input passes through: training runs both halves in one graph. */
    if (!in[0]->quantized) {
        if (sl_tensor_share(in[0]->t, &out->t)) return TORCH_FAIL("dequantize");
        return SL_OK;
    }
    return torch_ok(sl_dequantize_u8(in[0]->t, in[0]->scale, in[0]->zero_point, &out->t),
                    "dequantize");
}

/* ---- placeholder: a value given from outside (the wire tensors of an edge slice) ---------- */

INFER(placeholder_infer)
{
    if (n->a.shape.ndim < 1 || n->a.shape.ndim > 3)
        return sl_err(SL_EFORMAT, "placeholder needs attrs.shape with 1 to 3 dims");
    for (int i = 0; i < n->a.shape.ndim; i++)
        if (n->a.shape.d[i] < 1) return sl_err(SL_EFORMAT, "placeholder shape must be positive");
    *out = n->a.shape;
    return SL_OK;
}

FORWARD(placeholder_forward)
{
    return sl_err(SL_EARG, "placeholder '%s' needs a value: give it as a boundary tensor", n->name);
}

/* ---- mul: element-wise product with broadcasting (squeeze-excite scales {C,H,W} by {C,1,1}) */

INFER(mul_infer)
{
    if (in[0].ndim != in[1].ndim)
        return sl_err(SL_ESHAPE, "mul inputs have %d and %d dims", in[0].ndim, in[1].ndim);
    sl_shape o = in[0];
    for (int i = 0; i < o.ndim; i++) {
        int64_t a = in[0].d[i], b = in[1].d[i];
        if (a != b && a != 1 && b != 1)
            return sl_err(SL_ESHAPE, "mul inputs differ in dim %d (%lld and %lld) and neither is 1",
                          i, (long long)a, (long long)b);
        o.d[i] = a > b ? a : b;
    }
    *out = o;
    return SL_OK;
}

FORWARD(mul_forward)
{
    return torch_ok(sl_mul(in[0]->t, in[1]->t, &out->t), "mul");
}

JIT(mul_jit)
{
    return emit(buf, size, "%s * %s", in[0], in[1]);
}

FLOPS(out_flops)
{
    return sl_shape_numel(&n->out);
}

/* ---- clip: min(max(x, min), max); ONNX's Clip, torch.clamp --------------------------------- */

INFER(clip_infer)
{
    if (!(n->a.lo <= n->a.hi))
        return sl_err(SL_EFORMAT, "clip range [%g, %g] is empty", n->a.lo, n->a.hi);
    return same_infer(n, in, nin, out);
}

FORWARD(clip_forward)
{
    return torch_ok(sl_clamp(in[0]->t, n->a.lo, n->a.hi, &out->t), "clip");
}

JIT(clip_jit)
{
    char lo[48], hi[48];
    /* TorchScript has no infinity literal: an open end is None. */
    return emit(buf, size, "torch.clamp(%s, %s, %s)", in[0],
                isinf(n->a.lo) ? "None" : jfloat(n->a.lo, lo),
                isinf(n->a.hi) ? "None" : jfloat(n->a.hi, hi));
}

/* ---- channel_shuffle: ShuffleNet's reshape {g, C/g} / transpose / reshape ------------------ */

INFER(shuffle_infer)
{
    int rc = need_chw(in, "channel_shuffle");
    if (rc) return rc;
    if (n->a.groups < 1 || in->d[0] % n->a.groups)
        return sl_err(SL_ESHAPE, "channel_shuffle groups %lld do not divide %lld channels",
                      (long long)n->a.groups, (long long)in->d[0]);
    return same_infer(n, in, nin, out);
}

FORWARD(shuffle_forward)
{
    return torch_ok(sl_channel_shuffle(in[0]->t, n->a.groups, &out->t), "channel_shuffle");
}

JIT(shuffle_jit)
{
    long long g = n->a.groups, c = shp[0].d[0], h = shp[0].d[1], wd = shp[0].d[2];
    return emit(buf, size,
                "%s.reshape([-1, %lld, %lld, %lld, %lld]).transpose(1, 2).reshape([-1, %lld, "
                "%lld, %lld])",
                in[0], g, c / g, h, wd, c, h, wd);
}

/* ---- slice: channels [range[0], range[1]) (ONNX Split / Slice along the channels) --------- */

INFER(slice_infer)
{
    if (in->ndim < 1) return sl_err(SL_ESHAPE, "slice needs channels");
    if (n->a.range[0] < 0 || n->a.range[1] <= n->a.range[0] || n->a.range[1] > in->d[0])
        return sl_err(SL_ESHAPE, "slice range [%lld, %lld) is not inside the %lld channels",
                      (long long)n->a.range[0], (long long)n->a.range[1], (long long)in->d[0]);
    *out = *in;
    out->d[0] = n->a.range[1] - n->a.range[0];
    return SL_OK;
}

FORWARD(slice_forward)
{
    return torch_ok(
        sl_tensor_narrow(in[0]->t, 1, n->a.range[0], n->a.range[1] - n->a.range[0], &out->t),
        "slice");
}

JIT(slice_jit)
{
    return emit(buf, size, "torch.narrow(%s, 1, %lld, %lld)", in[0], (long long)n->a.range[0],
                (long long)(n->a.range[1] - n->a.range[0]));
}

/* ---- pad: constant padding of H and W, {left, right, top, bottom} ------------------------- */

INFER(pad_infer)
{
    int rc = need_chw(in, "pad");
    if (rc) return rc;
    const int64_t *p = n->a.pads;
    int64_t h = in->d[1] + p[2] + p[3], w = in->d[2] + p[0] + p[1];
    if (h <= 0 || w <= 0) return sl_err(SL_ESHAPE, "pad crops the input to nothing");
    *out = shape3(in->d[0], h, w);
    return SL_OK;
}

FORWARD(pad_forward)
{
    return torch_ok(sl_constant_pad(in[0]->t, n->a.pads, n->a.value, &out->t), "pad");
}

JIT(pad_jit)
{
    const int64_t *p = n->a.pads;
    char v[48];
    return emit(buf, size, "torch.constant_pad_nd(%s, [%lld, %lld, %lld, %lld], %s)", in[0],
                (long long)p[0], (long long)p[1], (long long)p[2], (long long)p[3],
                jfloat(n->a.value, v));
}

/* ---- softmax over the channels / features ------------------------------------------------- */

FORWARD(softmax_forward)
{
    return torch_ok(sl_softmax(in[0]->t, 1, &out->t), "softmax");
}

FLOPS(softmax_flops)
{
    return 3 * sl_shape_numel(in);
}

/* ---- the table ------------------------------------------------------------------------- */

#define CONV_ATTRS (SL_A_OUT | SL_A_K | SL_A_STRIDE | SL_A_PAD | SL_A_DIL | SL_A_GROUPS | SL_A_BIAS)

static const sl_op_def defs[SL_OP_COUNT] = {
    [SL_OP_CONV2D] = {"conv2d", 1, 1, CONV_ATTRS, conv_infer, conv_params, conv_forward, conv_flops,
                      conv_jit},
    [SL_OP_CONV_TRANSPOSE2D] = {"conv_transpose2d", 1, 1, CONV_ATTRS | SL_A_OUT_HW, convt_infer,
                                convt_params, convt_forward, convt_flops, convt_jit},
    [SL_OP_BATCH_NORM] = {"batch_norm", 1, 1, SL_A_EPS | SL_A_MOMENTUM | SL_A_AFFINE, bn_infer,
                          bn_params, bn_forward, bn_flops, bn_jit},
    [SL_OP_RELU] = {"relu", 1, 1, 0, same_infer, NULL, unary_forward, elem_flops, unary_jit},
    [SL_OP_RELU6] = {"relu6", 1, 1, 0, same_infer, NULL, unary_forward, elem_flops, unary_jit},
    [SL_OP_HARDSWISH] = {"hardswish", 1, 1, 0, same_infer, NULL, unary_forward, elem_flops,
                         unary_jit},
    [SL_OP_SIGMOID] = {"sigmoid", 1, 1, 0, same_infer, NULL, unary_forward, elem_flops, unary_jit},
    [SL_OP_MAX_POOL] = {"max_pool", 1, 1, SL_A_K | SL_A_STRIDE | SL_A_PAD | SL_A_DIL | SL_A_CEIL,
                        pool_infer, NULL, maxpool_forward, pool_flops, maxpool_jit},
    [SL_OP_AVG_POOL] = {"avg_pool", 1, 1,
                        SL_A_K | SL_A_STRIDE | SL_A_PAD | SL_A_CEIL | SL_A_COUNT_PAD, pool_infer,
                        NULL, avgpool_forward, pool_flops, avgpool_jit},
    [SL_OP_ADAPTIVE_AVG_POOL] = {"adaptive_avg_pool", 1, 1, SL_A_OUT_HW, apool_infer, NULL,
                                 apool_forward, elem_flops, apool_jit},
    [SL_OP_FLATTEN] = {"flatten", 1, 1, SL_A_START_DIM, flatten_infer, NULL, flatten_forward,
                       zero_flops, flatten_jit},
    [SL_OP_LINEAR] = {"linear", 1, 1, SL_A_OUT | SL_A_BIAS, linear_infer, linear_params,
                      linear_forward, linear_flops, linear_jit},
    [SL_OP_ADD] = {"add", 2, -1, 0, add_infer, NULL, add_forward, add_flops, add_jit},
    [SL_OP_CONCAT] = {"concat", 1, -1, 0, concat_infer, NULL, concat_forward, zero_flops,
                      concat_jit},
    [SL_OP_DROPOUT] = {"dropout", 1, 1, SL_A_P, dropout_infer, NULL, dropout_forward, zero_flops,
                       unary_jit},
    [SL_OP_UPSAMPLE] = {"upsample", 1, 1, SL_A_OUT_HW | SL_A_MODE, upsample_infer, NULL,
                        upsample_forward, upsample_flops, upsample_jit},
    [SL_OP_QUANTIZE] = {"quantize", 1, 1, SL_A_BITS, quant_infer, NULL, quant_forward, elem_flops},
    [SL_OP_DEQUANTIZE] = {"dequantize", 1, 1, 0, quant_infer, NULL, dequant_forward, elem_flops},
    [SL_OP_PLACEHOLDER] = {"placeholder", 0, 0, SL_A_SHAPE, placeholder_infer, NULL,
                           placeholder_forward, zero_flops},
    [SL_OP_HARDSIGMOID] = {"hardsigmoid", 1, 1, 0, same_infer, NULL, unary_forward, elem_flops,
                           unary_jit},
    [SL_OP_SILU] = {"silu", 1, 1, 0, same_infer, NULL, unary_forward, elem_flops, unary_jit},
    [SL_OP_MUL] = {"mul", 2, 2, 0, mul_infer, NULL, mul_forward, out_flops, mul_jit},
    [SL_OP_CLIP] = {"clip", 1, 1, SL_A_LO | SL_A_HI, clip_infer, NULL, clip_forward, elem_flops,
                    clip_jit},
    [SL_OP_CHANNEL_SHUFFLE] = {"channel_shuffle", 1, 1, SL_A_GROUPS, shuffle_infer, NULL,
                               shuffle_forward, zero_flops, shuffle_jit},
    [SL_OP_SLICE] = {"slice", 1, 1, SL_A_RANGE, slice_infer, NULL, slice_forward, zero_flops,
                     slice_jit},
    [SL_OP_PAD] = {"pad", 1, 1, SL_A_PADS | SL_A_VALUE, pad_infer, NULL, pad_forward, zero_flops,
                   pad_jit},
    [SL_OP_SOFTMAX] = {"softmax", 1, 1, 0, same_infer, NULL, softmax_forward, softmax_flops,
                       unary_jit},
};

const sl_op_def *sl_op_def_get(sl_op op)
{
    return (unsigned)op < SL_OP_COUNT ? &defs[op] : NULL;
}

const char *sl_op_name(sl_op op)
{
    return (unsigned)op < SL_OP_COUNT ? defs[op].name : "unknown";
}

sl_op sl_op_from_name(const char *name)
{
    for (int i = 0; i < SL_OP_COUNT; i++)
        if (!strcmp(defs[i].name, name)) return (sl_op)i;
    return SL_OP_COUNT;
}
