/* ops.c: every op kind — shape inference, parameters, forward, FLOPs — side by side. */
#include "model/ops.h"
#include "common/status.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TORCH_FAIL(what) sl_err(SL_ETORCH, "%s: %s", what, sl_torch_last_error())

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

/* ---- conv2d: weight {out, in/groups, kh, kw}, bias {out} -------------------------------- */

static int conv_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    (void)nin;
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
    if (!a->bias) return 1;
    set_param(&p[1], "bias", 1, a->out, 0, 0, 0);
    return 2;
}

static int conv_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin, sl_value *out)
{
    (void)c;
    (void)nin;
    if (sl_conv2d(in[0]->t, param_t(n, 0), n->a.bias ? param_t(n, 1) : NULL, n->a.stride, n->a.pad,
                  n->a.dil, n->a.groups, &out->t))
        return TORCH_FAIL("conv2d");
    return SL_OK;
}

static int64_t conv_flops(const sl_node *n, const sl_shape *in, int nin)
{
    (void)nin;
    return 2 * n->out.d[0] * n->out.d[1] * n->out.d[2] * (in->d[0] / n->a.groups) * n->a.k[0] *
           n->a.k[1];
}

static int conv_jit(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,
                    const char *const *w,
                    char *buf, size_t size)
{
    (void)shp;
    (void)nin;
    const sl_attrs *a = &n->a;
    return emit(buf, size, "torch.conv2d(%s, %s, %s, [%lld, %lld], [%lld, %lld], [%lld, %lld], %lld)",
                in[0], w[0], opt_w(w, 1), (long long)a->stride[0], (long long)a->stride[1],
                (long long)a->pad[0], (long long)a->pad[1], (long long)a->dil[0],
                (long long)a->dil[1], (long long)a->groups);
}

/* ---- conv_transpose2d: weight {in, out/groups, kh, kw} ------------------------------------ */

static int convt_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    (void)nin;
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
        int64_t base = (in->d[1 + i] - 1) * a->stride[i] - 2 * a->pad[i] + a->dil[i] * (a->k[i] - 1) + 1;
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
    if (!a->bias) return 1;
    set_param(&p[1], "bias", 1, a->out, 0, 0, 0);
    return 2;
}

static int convt_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin, sl_value *out)
{
    (void)c;
    (void)nin;
    int64_t hw[2] = {n->out.d[1], n->out.d[2]};
    if (sl_conv_transpose2d(in[0]->t, param_t(n, 0), n->a.bias ? param_t(n, 1) : NULL,
                            n->a.stride, n->a.pad, n->a.dil, n->a.groups, hw, &out->t))
        return TORCH_FAIL("conv_transpose2d");
    return SL_OK;
}

static int64_t convt_flops(const sl_node *n, const sl_shape *in, int nin)
{
    (void)nin;
    return 2 * in->d[0] * in->d[1] * in->d[2] * (n->a.out / n->a.groups) * n->a.k[0] * n->a.k[1];
}

static int convt_jit(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,
                    const char *const *w,
                     char *buf, size_t size)
{
    (void)nin;
    const sl_attrs *a = &n->a;
    /* The output padding that gives the node's output size (as sl_conv_transpose2d derives it). */
    int64_t op[2];
    for (int i = 0; i < 2; i++) {
        int64_t base = (shp[0].d[1 + i] - 1) * a->stride[i] - 2 * a->pad[i] + a->dil[i] * (a->k[i] - 1) + 1;
        op[i] = n->out.d[1 + i] - base;
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

static int same_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    (void)n;
    (void)nin;
    *out = *in;
    return SL_OK;
}

static int bn_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
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

static int bn_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin, sl_value *out)
{
    (void)nin;
    int o = n->a.affine ? 2 : 0;
    if (sl_batch_norm(in[0]->t, n->a.affine ? param_t(n, 0) : NULL,
                      n->a.affine ? param_t(n, 1) : NULL, n->params[o].t, n->params[o + 1].t,
                      c->train, n->a.momentum, n->a.eps, &out->t))
        return TORCH_FAIL("batch_norm");
    return SL_OK;
}

static int64_t bn_flops(const sl_node *n, const sl_shape *in, int nin)
{
    (void)n;
    (void)nin;
    return 2 * sl_shape_numel(in);
}

static int bn_jit(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,
                    const char *const *w,
                  char *buf, size_t size)
{
    (void)shp;
    (void)nin;
    char f1[48], f2[48];
    int o = n->a.affine ? 2 : 0;
    return emit(buf, size, "torch.batch_norm(%s, %s, %s, %s, %s, False, %s, %s, False)", in[0],
                n->a.affine ? w[0] : "None", n->a.affine ? w[1] : "None", w[o], w[o + 1],
                jfloat(n->a.momentum, f1), jfloat(n->a.eps, f2));
}

/* ---- activations ------------------------------------------------------------------------ */

#define ACT_FORWARD(fname, call)                                                                \
    static int fname(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin, sl_value *out) \
    {                                                                                           \
        (void)c;                                                                                \
        (void)n;                                                                                \
        (void)nin;                                                                              \
        if (call(in[0]->t, &out->t)) return TORCH_FAIL(#call);                                  \
        return SL_OK;                                                                           \
    }
ACT_FORWARD(relu_forward, sl_relu)
ACT_FORWARD(relu6_forward, sl_relu6)
ACT_FORWARD(hardswish_forward, sl_hardswish)
ACT_FORWARD(sigmoid_forward, sl_sigmoid)

ACT_FORWARD(hardsigmoid_forward, sl_hardsigmoid)
ACT_FORWARD(silu_forward, sl_silu)

#define ACT_JIT(fname, fmt)                                                                    \
    static int fname(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,    \
                     const char *const *w, char *buf, size_t size)                              \
    {                                                                                           \
        (void)n;                                                                                \
        (void)shp;                                                                              \
        (void)nin;                                                                              \
        (void)w;                                                                                \
        return emit(buf, size, fmt, in[0]);                                                     \
    }
ACT_JIT(relu_jit, "torch.relu(%s)")
/* hardtanh is what TorchScript's MKL-DNN pass knows (relu6 is hardtanh(0, 6)). */
ACT_JIT(relu6_jit, "torch.hardtanh(%s, 0.0, 6.0)")
ACT_JIT(hardswish_jit, "torch.hardswish(%s)")
ACT_JIT(sigmoid_jit, "torch.sigmoid(%s)")
ACT_JIT(hardsigmoid_jit, "torch.hardsigmoid(%s)")
ACT_JIT(silu_jit, "torch.silu(%s)")
/* Eval-mode dropout is the identity. */
ACT_JIT(dropout_jit, "%s")

static int64_t elem_flops(const sl_node *n, const sl_shape *in, int nin)
{
    (void)n;
    (void)nin;
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

static int pool_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    (void)nin;
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

static int maxpool_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin,
                           sl_value *out)
{
    (void)c;
    (void)nin;
    if (sl_max_pool2d(in[0]->t, n->a.k, n->a.stride, n->a.pad, n->a.dil, n->a.ceil_mode, &out->t))
        return TORCH_FAIL("max_pool");
    return SL_OK;
}

static int avgpool_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin,
                           sl_value *out)
{
    (void)c;
    (void)nin;
    if (sl_avg_pool2d(in[0]->t, n->a.k, n->a.stride, n->a.pad, n->a.ceil_mode,
                      n->a.count_include_pad, &out->t))
        return TORCH_FAIL("avg_pool");
    return SL_OK;
}

static int maxpool_jit(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,
                    const char *const *w,
                       char *buf, size_t size)
{
    (void)shp;
    (void)nin;
    (void)w;
    const sl_attrs *a = &n->a;
    return emit(buf, size, "torch.max_pool2d(%s, [%lld, %lld], [%lld, %lld], [%lld, %lld], "
                           "[%lld, %lld], %s)",
                in[0], (long long)a->k[0], (long long)a->k[1], (long long)a->stride[0],
                (long long)a->stride[1], (long long)a->pad[0], (long long)a->pad[1],
                (long long)a->dil[0], (long long)a->dil[1], a->ceil_mode ? "True" : "False");
}

static int avgpool_jit(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,
                    const char *const *w,
                       char *buf, size_t size)
{
    (void)shp;
    (void)nin;
    (void)w;
    const sl_attrs *a = &n->a;
    return emit(buf, size, "torch.avg_pool2d(%s, [%lld, %lld], [%lld, %lld], [%lld, %lld], %s, %s)",
                in[0], (long long)a->k[0], (long long)a->k[1], (long long)a->stride[0],
                (long long)a->stride[1], (long long)a->pad[0], (long long)a->pad[1],
                a->ceil_mode ? "True" : "False", a->count_include_pad ? "True" : "False");
}

static int64_t pool_flops(const sl_node *n, const sl_shape *in, int nin)
{
    (void)in;
    (void)nin;
    return sl_shape_numel(&n->out) * n->a.k[0] * n->a.k[1];
}

static int apool_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    (void)nin;
    int rc = need_chw(in, "adaptive_avg_pool");
    if (rc) return rc;
    if (n->a.out_hw[0] <= 0 || n->a.out_hw[1] <= 0)
        return sl_err(SL_EFORMAT, "adaptive_avg_pool needs out_hw");
    *out = shape3(in->d[0], n->a.out_hw[0], n->a.out_hw[1]);
    return SL_OK;
}

static int apool_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin,
                         sl_value *out)
{
    (void)c;
    (void)nin;
    if (sl_adaptive_avg_pool2d(in[0]->t, n->a.out_hw, &out->t))
        return TORCH_FAIL("adaptive_avg_pool");
    return SL_OK;
}

static int apool_jit(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,
                    const char *const *w,
                     char *buf, size_t size)
{
    (void)nin;
    (void)w;
    /* TorchScript's MKL-DNN pass takes every adaptive pool, but MKL-DNN pools only sizes that
     * divide evenly. */
    if (shp[0].d[1] % n->a.out_hw[0] || shp[0].d[2] % n->a.out_hw[1])
        return sl_err(SL_EARG, "adaptive_avg_pool: %lldx%lld to %lldx%lld", (long long)shp[0].d[1],
                      (long long)shp[0].d[2], (long long)n->a.out_hw[0], (long long)n->a.out_hw[1]);
    return emit(buf, size, "torch.adaptive_avg_pool2d(%s, [%lld, %lld])", in[0],
                (long long)n->a.out_hw[0], (long long)n->a.out_hw[1]);
}

static int64_t apool_flops(const sl_node *n, const sl_shape *in, int nin)
{
    (void)n;
    (void)nin;
    return sl_shape_numel(in);
}

/* ---- flatten, linear ---------------------------------------------------------------------- */

static int flatten_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    (void)nin;
    int s = n->a.start_dim;
    if (s < 0 || s >= in->ndim) return sl_err(SL_EFORMAT, "flatten start_dim %d out of range", s);
    sl_shape o = {s + 1, {0}};
    for (int i = 0; i < s; i++) o.d[i] = in->d[i];
    o.d[s] = 1;
    for (int i = s; i < in->ndim; i++) o.d[s] *= in->d[i];
    *out = o;
    return SL_OK;
}

static int flatten_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin,
                           sl_value *out)
{
    (void)c;
    (void)nin;
    if (sl_flatten(in[0]->t, 1 + n->a.start_dim, -1, &out->t)) return TORCH_FAIL("flatten");
    return SL_OK;
}

static int flatten_jit(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,
                    const char *const *w,
                       char *buf, size_t size)
{
    (void)shp;
    (void)nin;
    (void)w;
    return emit(buf, size, "torch.flatten(%s, %d, -1)", in[0], 1 + n->a.start_dim);
}

static int64_t zero_flops(const sl_node *n, const sl_shape *in, int nin)
{
    (void)n;
    (void)in;
    (void)nin;
    return 0;
}

static int linear_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    (void)nin;
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
    if (!n->a.bias) return 1;
    set_param(&p[1], "bias", 1, n->a.out, 0, 0, 0);
    return 2;
}

static int linear_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin,
                          sl_value *out)
{
    (void)c;
    (void)nin;
    if (sl_linear(in[0]->t, param_t(n, 0), n->a.bias ? param_t(n, 1) : NULL, &out->t))
        return TORCH_FAIL("linear");
    return SL_OK;
}

static int linear_jit(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,
                    const char *const *w,
                      char *buf, size_t size)
{
    (void)shp;
    (void)n;
    (void)nin;
    return emit(buf, size, "torch.linear(%s, %s, %s)", in[0], w[0], opt_w(w, 1));
}

static int64_t linear_flops(const sl_node *n, const sl_shape *in, int nin)
{
    (void)nin;
    return 2 * in->d[0] * n->a.out;
}

/* ---- add, concat, dropout ---------------------------------------------------------------- */

static int add_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    (void)n;
    for (int i = 1; i < nin; i++)
        if (in[i].ndim != in[0].ndim || memcmp(in[i].d, in[0].d, sizeof(int64_t) * in[0].ndim))
            return sl_err(SL_ESHAPE, "add inputs 1 and %d differ in shape", i + 1);
    *out = in[0];
    return SL_OK;
}

static int add_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin, sl_value *out)
{
    (void)c;
    (void)n;
    if (sl_add(in[0]->t, in[1]->t, &out->t)) return TORCH_FAIL("add");
    for (int i = 2; i < nin; i++)
        if (sl_add_(out->t, in[i]->t)) return TORCH_FAIL("add");
    return SL_OK;
}

static int add_jit(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,
                    const char *const *w,
                   char *buf, size_t size)
{
    (void)shp;
    (void)n;
    (void)w;
    size_t at = 0;
    for (int i = 0; i < nin; i++) {
        int rc = emit(buf + at, size - at, "%s%s", i ? " + " : "", in[i]);
        if (rc) return rc;
        at += strlen(buf + at);
    }
    return SL_OK;
}

static int64_t add_flops(const sl_node *n, const sl_shape *in, int nin)
{
    (void)n;
    return (nin - 1) * sl_shape_numel(in);
}

static int concat_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    (void)n;
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

static int concat_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin,
                          sl_value *out)
{
    (void)c;
    (void)n;
    const sl_tensor *xs[nin + 1];
    for (int i = 0; i < nin; i++) xs[i] = in[i]->t;
    if (sl_cat(xs, nin, 1, &out->t)) return TORCH_FAIL("concat");
    return SL_OK;
}

static int concat_jit(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,
                    const char *const *w,
                      char *buf, size_t size)
{
    (void)shp;
    (void)n;
    (void)w;
    int rc = emit(buf, size, "torch.cat([");
    size_t at = strlen(buf);
    for (int i = 0; i < nin && !rc; i++) {
        rc = emit(buf + at, size - at, "%s%s", i ? ", " : "", in[i]);
        at += strlen(buf + at);
    }
    return rc ? rc : emit(buf + at, size - at, "], 1)");
}

static int dropout_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    if (n->a.p < 0 || n->a.p >= 1) return sl_err(SL_EFORMAT, "dropout p must be in [0, 1)");
    return same_infer(n, in, nin, out);
}

static int dropout_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin,
                           sl_value *out)
{
    (void)nin;
    if (sl_dropout(in[0]->t, n->a.p, c->train, &out->t)) return TORCH_FAIL("dropout");
    return SL_OK;
}

/* ---- upsample ---------------------------------------------------------------------------- */

static int upsample_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    (void)nin;
    int rc = need_chw(in, "upsample");
    if (rc) return rc;
    if (n->a.out_hw[0] <= 0 || n->a.out_hw[1] <= 0)
        return sl_err(SL_EFORMAT, "upsample needs out_hw");
    if (n->a.mode != SL_INTERP_NEAREST && n->a.mode != SL_INTERP_BILINEAR)
        return sl_err(SL_EFORMAT, "upsample mode must be nearest or bilinear");
    *out = shape3(in->d[0], n->a.out_hw[0], n->a.out_hw[1]);
    return SL_OK;
}

static int upsample_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin,
                            sl_value *out)
{
    (void)c;
    (void)nin;
    if (sl_interpolate(in[0]->t, (sl_interp)n->a.mode, n->a.out_hw, &out->t))
        return TORCH_FAIL("upsample");
    return SL_OK;
}

static int upsample_jit(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,
                    const char *const *w,
                        char *buf, size_t size)
{
    (void)shp;
    (void)nin;
    (void)w;
    long long h = n->a.out_hw[0], wd = n->a.out_hw[1];
    if (n->a.mode == SL_INTERP_BILINEAR)
        return emit(buf, size, "torch.upsample_bilinear2d(%s, [%lld, %lld], False)", in[0], h, wd);
    return emit(buf, size, "torch.upsample_nearest2d(%s, [%lld, %lld])", in[0], h, wd);
}

static int64_t upsample_flops(const sl_node *n, const sl_shape *in, int nin)
{
    (void)in;
    (void)nin;
    return sl_shape_numel(&n->out) * (n->a.mode == SL_INTERP_BILINEAR ? 4 : 1);
}

/* ---- quantize / dequantize (uint8, per tensor, scale from the batch's range) ------------- */

static int quant_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    if (n->op == SL_OP_QUANTIZE && n->a.bits != 8)
        return sl_err(SL_EFORMAT, "quantize supports bits = 8, got %d", n->a.bits);
    return same_infer(n, in, nin, out);
}

static int quant_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin,
                         sl_value *out)
{
    (void)n;
    (void)nin;
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

static int dequant_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin,
                           sl_value *out)
{
    (void)c;
    (void)n;
    (void)nin;
    /* A fake-quantised (float) input passes through: training runs both halves in one graph. */
    if (!in[0]->quantized) {
        if (sl_tensor_share(in[0]->t, &out->t)) return TORCH_FAIL("dequantize");
        return SL_OK;
    }
    if (sl_dequantize_u8(in[0]->t, in[0]->scale, in[0]->zero_point, &out->t))
        return TORCH_FAIL("dequantize");
    return SL_OK;
}

/* ---- placeholder: a value given from outside (the wire tensors of an edge slice) ---------- */

static int placeholder_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    (void)in;
    (void)nin;
    if (n->a.shape.ndim < 1 || n->a.shape.ndim > 3)
        return sl_err(SL_EFORMAT, "placeholder needs attrs.shape with 1 to 3 dims");
    for (int i = 0; i < n->a.shape.ndim; i++)
        if (n->a.shape.d[i] < 1) return sl_err(SL_EFORMAT, "placeholder shape must be positive");
    *out = n->a.shape;
    return SL_OK;
}

static int placeholder_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin,
                               sl_value *out)
{
    (void)c;
    (void)in;
    (void)nin;
    (void)out;
    return sl_err(SL_EARG, "placeholder '%s' needs a value: give it as a boundary tensor", n->name);
}

/* ---- mul: element-wise product with broadcasting (squeeze-excite scales {C,H,W} by {C,1,1}) */

static int mul_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    (void)n;
    (void)nin;
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

static int mul_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin, sl_value *out)
{
    (void)c;
    (void)n;
    (void)nin;
    if (sl_mul(in[0]->t, in[1]->t, &out->t)) return TORCH_FAIL("mul");
    return SL_OK;
}

static int mul_jit(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,
                   const char *const *w, char *buf, size_t size)
{
    (void)n;
    (void)shp;
    (void)nin;
    (void)w;
    return emit(buf, size, "%s * %s", in[0], in[1]);
}

static int64_t out_flops(const sl_node *n, const sl_shape *in, int nin)
{
    (void)in;
    (void)nin;
    return sl_shape_numel(&n->out);
}

/* ---- clip: min(max(x, min), max); ONNX's Clip, torch.clamp --------------------------------- */

static int clip_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    if (!(n->a.lo <= n->a.hi))
        return sl_err(SL_EFORMAT, "clip range [%g, %g] is empty", n->a.lo, n->a.hi);
    return same_infer(n, in, nin, out);
}

static int clip_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin, sl_value *out)
{
    (void)c;
    (void)nin;
    if (sl_clamp(in[0]->t, n->a.lo, n->a.hi, &out->t)) return TORCH_FAIL("clip");
    return SL_OK;
}

static int clip_jit(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,
                    const char *const *w, char *buf, size_t size)
{
    (void)shp;
    (void)nin;
    (void)w;
    char lo[48], hi[48];
    /* TorchScript has no infinity literal: an open end is None. */
    return emit(buf, size, "torch.clamp(%s, %s, %s)", in[0],
                isinf(n->a.lo) ? "None" : jfloat(n->a.lo, lo),
                isinf(n->a.hi) ? "None" : jfloat(n->a.hi, hi));
}

/* ---- channel_shuffle: ShuffleNet's reshape {g, C/g} / transpose / reshape ------------------ */

static int shuffle_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    int rc = need_chw(in, "channel_shuffle");
    if (rc) return rc;
    if (n->a.groups < 1 || in->d[0] % n->a.groups)
        return sl_err(SL_ESHAPE, "channel_shuffle groups %lld do not divide %lld channels",
                      (long long)n->a.groups, (long long)in->d[0]);
    return same_infer(n, in, nin, out);
}

static int shuffle_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin,
                           sl_value *out)
{
    (void)c;
    (void)nin;
    if (sl_channel_shuffle(in[0]->t, n->a.groups, &out->t)) return TORCH_FAIL("channel_shuffle");
    return SL_OK;
}

static int shuffle_jit(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,
                       const char *const *w, char *buf, size_t size)
{
    (void)nin;
    (void)w;
    long long g = n->a.groups, c = shp[0].d[0], h = shp[0].d[1], wd = shp[0].d[2];
    return emit(buf, size,
                "%s.reshape([-1, %lld, %lld, %lld, %lld]).transpose(1, 2).reshape([-1, %lld, "
                "%lld, %lld])",
                in[0], g, c / g, h, wd, c, h, wd);
}

/* ---- slice: channels [range[0], range[1]) (ONNX Split / Slice along the channels) --------- */

static int slice_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    (void)nin;
    if (in->ndim < 1) return sl_err(SL_ESHAPE, "slice needs channels");
    if (n->a.range[0] < 0 || n->a.range[1] <= n->a.range[0] || n->a.range[1] > in->d[0])
        return sl_err(SL_ESHAPE, "slice range [%lld, %lld) is not inside the %lld channels",
                      (long long)n->a.range[0], (long long)n->a.range[1], (long long)in->d[0]);
    *out = *in;
    out->d[0] = n->a.range[1] - n->a.range[0];
    return SL_OK;
}

static int slice_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin,
                         sl_value *out)
{
    (void)c;
    (void)nin;
    if (sl_tensor_narrow(in[0]->t, 1, n->a.range[0], n->a.range[1] - n->a.range[0], &out->t))
        return TORCH_FAIL("slice");
    return SL_OK;
}

static int slice_jit(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,
                     const char *const *w, char *buf, size_t size)
{
    (void)shp;
    (void)nin;
    (void)w;
    return emit(buf, size, "torch.narrow(%s, 1, %lld, %lld)", in[0], (long long)n->a.range[0],
                (long long)(n->a.range[1] - n->a.range[0]));
}

/* ---- pad: constant padding of H and W, {left, right, top, bottom} ------------------------- */

static int pad_infer(const sl_node *n, const sl_shape *in, int nin, sl_shape *out)
{
    (void)nin;
    int rc = need_chw(in, "pad");
    if (rc) return rc;
    const int64_t *p = n->a.pads;
    int64_t h = in->d[1] + p[2] + p[3], w = in->d[2] + p[0] + p[1];
    if (h <= 0 || w <= 0) return sl_err(SL_ESHAPE, "pad crops the input to nothing");
    *out = shape3(in->d[0], h, w);
    return SL_OK;
}

static int pad_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin, sl_value *out)
{
    (void)c;
    (void)nin;
    if (sl_constant_pad(in[0]->t, n->a.pads, n->a.value, &out->t)) return TORCH_FAIL("pad");
    return SL_OK;
}

static int pad_jit(const sl_node *n, const sl_shape *shp, const char *const *in, int nin,
                   const char *const *w, char *buf, size_t size)
{
    (void)shp;
    (void)nin;
    (void)w;
    const int64_t *p = n->a.pads;
    char v[48];
    return emit(buf, size, "torch.constant_pad_nd(%s, [%lld, %lld, %lld, %lld], %s)", in[0],
                (long long)p[0], (long long)p[1], (long long)p[2], (long long)p[3],
                jfloat(n->a.value, v));
}

/* ---- softmax over the channels / features ------------------------------------------------- */

static int softmax_forward(const sl_op_ctx *c, sl_node *n, sl_value *const *in, int nin,
                           sl_value *out)
{
    (void)c;
    (void)n;
    (void)nin;
    if (sl_softmax(in[0]->t, 1, &out->t)) return TORCH_FAIL("softmax");
    return SL_OK;
}

static int64_t softmax_flops(const sl_node *n, const sl_shape *in, int nin)
{
    (void)n;
    (void)nin;
    return 3 * sl_shape_numel(in);
}

ACT_JIT(softmax_jit, "torch.softmax(%s, 1)")

/* ---- the table ------------------------------------------------------------------------- */

#define CONV_ATTRS (SL_A_OUT | SL_A_K | SL_A_STRIDE | SL_A_PAD | SL_A_DIL | SL_A_GROUPS | SL_A_BIAS)

static const sl_op_def defs[SL_OP_COUNT] = {
    [SL_OP_CONV2D] = {"conv2d", 1, 1, CONV_ATTRS, conv_infer, conv_params, conv_forward, conv_flops, conv_jit},
    [SL_OP_CONV_TRANSPOSE2D] = {"conv_transpose2d", 1, 1, CONV_ATTRS | SL_A_OUT_HW, convt_infer,
                                convt_params, convt_forward, convt_flops, convt_jit},
    [SL_OP_BATCH_NORM] = {"batch_norm", 1, 1, SL_A_EPS | SL_A_MOMENTUM | SL_A_AFFINE, bn_infer,
                          bn_params, bn_forward, bn_flops, bn_jit},
    [SL_OP_RELU] = {"relu", 1, 1, 0, same_infer, NULL, relu_forward, elem_flops, relu_jit},
    [SL_OP_RELU6] = {"relu6", 1, 1, 0, same_infer, NULL, relu6_forward, elem_flops, relu6_jit},
    [SL_OP_HARDSWISH] = {"hardswish", 1, 1, 0, same_infer, NULL, hardswish_forward, elem_flops, hardswish_jit},
    [SL_OP_SIGMOID] = {"sigmoid", 1, 1, 0, same_infer, NULL, sigmoid_forward, elem_flops, sigmoid_jit},
    [SL_OP_MAX_POOL] = {"max_pool", 1, 1, SL_A_K | SL_A_STRIDE | SL_A_PAD | SL_A_DIL | SL_A_CEIL,
                        pool_infer, NULL, maxpool_forward, pool_flops, maxpool_jit},
    [SL_OP_AVG_POOL] = {"avg_pool", 1, 1, SL_A_K | SL_A_STRIDE | SL_A_PAD | SL_A_CEIL | SL_A_COUNT_PAD,
                        pool_infer, NULL, avgpool_forward, pool_flops, avgpool_jit},
    [SL_OP_ADAPTIVE_AVG_POOL] = {"adaptive_avg_pool", 1, 1, SL_A_OUT_HW, apool_infer, NULL,
                                 apool_forward, apool_flops, apool_jit},
    [SL_OP_FLATTEN] = {"flatten", 1, 1, SL_A_START_DIM, flatten_infer, NULL, flatten_forward,
                       zero_flops, flatten_jit},
    [SL_OP_LINEAR] = {"linear", 1, 1, SL_A_OUT | SL_A_BIAS, linear_infer, linear_params,
                      linear_forward, linear_flops, linear_jit},
    [SL_OP_ADD] = {"add", 2, -1, 0, add_infer, NULL, add_forward, add_flops, add_jit},
    [SL_OP_CONCAT] = {"concat", 1, -1, 0, concat_infer, NULL, concat_forward, zero_flops, concat_jit},
    [SL_OP_DROPOUT] = {"dropout", 1, 1, SL_A_P, dropout_infer, NULL, dropout_forward, zero_flops, dropout_jit},
    [SL_OP_UPSAMPLE] = {"upsample", 1, 1, SL_A_OUT_HW | SL_A_MODE, upsample_infer, NULL,
                        upsample_forward, upsample_flops, upsample_jit},
    [SL_OP_QUANTIZE] = {"quantize", 1, 1, SL_A_BITS, quant_infer, NULL, quant_forward, elem_flops},
    [SL_OP_DEQUANTIZE] = {"dequantize", 1, 1, 0, quant_infer, NULL, dequant_forward, elem_flops},
    [SL_OP_PLACEHOLDER] = {"placeholder", 0, 0, SL_A_SHAPE, placeholder_infer, NULL,
                           placeholder_forward, zero_flops},
    [SL_OP_HARDSIGMOID] = {"hardsigmoid", 1, 1, 0, same_infer, NULL, hardsigmoid_forward,
                           elem_flops, hardsigmoid_jit},
    [SL_OP_SILU] = {"silu", 1, 1, 0, same_infer, NULL, silu_forward, elem_flops, silu_jit},
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
                       softmax_jit},
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
