/* test_parity.c: shim layers, losses, quantisation and batch-norm folding against PyTorch itself
 * ($SL_PYTHON) on inputs both sides build from the same exact formula. */
#include "shimtest.h"

/* Inputs: element i of every generated tensor is ((i * 37) % 23 - 11) / 8, exact in float. */
static const char *script =
    "import torch, torch.nn.functional as F\n"
    "from torch.nn.utils.fusion import fuse_conv_bn_weights\n"
    "torch.set_grad_enabled(False)\n"
    "def gen(*shape):\n"
    "    n = 1\n"
    "    for s in shape: n *= s\n"
    "    i = torch.arange(n, dtype=torch.float64)\n"
    "    return (((i * 37) % 23 - 11) / 8).float().reshape(shape)\n"
    "def out(name, t):\n"
    "    print(name, t.numel(), ' '.join(repr(float(v)) for v in t.flatten()))\n"
    "x = gen(2, 4, 7, 9)\n"
    "w = gen(6, 2, 3, 3) / 4; b = gen(6) / 2\n"
    "out('conv', F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2))\n"
    "wt = gen(4, 3, 3, 3) / 4\n"
    "out('convt', F.conv_transpose2d(x, wt, gen(3), stride=2, padding=1, output_padding=1))\n"
    "rm = gen(4) / 10; rv = gen(4).abs() + 1; g = gen(4) + 2; beta = gen(4) / 3\n"
    "out('bn', F.batch_norm(x, rm, rv, g, beta, training=True, momentum=0.2, eps=1e-3))\n"
    "out('bn_rm', rm); out('bn_rv', rv)\n"
    "out('bn_eval', F.batch_norm(x, rm, rv, g, beta, training=False, eps=1e-3))\n"
    "out('hardswish', F.hardswish(x)); out('relu6', F.relu6(x * 4))\n"
    "out('sigmoid', torch.sigmoid(x))\n"
    "out('maxpool', F.max_pool2d(x, 3, 2, 1, ceil_mode=True))\n"
    "out('avgpool', F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False))\n"
    "out('adaptive', F.adaptive_avg_pool2d(x, (3, 4)))\n"
    "out('nearest', F.interpolate(x, size=(11, 5), mode='nearest'))\n"
    "out('bilinear', F.interpolate(x, size=(11, 5), mode='bilinear', align_corners=False))\n"
    "logits = gen(5, 7); tgt = torch.tensor([0, 6, 3, 2, 6])\n"
    "out('ce', F.cross_entropy(logits, tgt, label_smoothing=0.1).reshape(1))\n"
    "t = F.softmax(gen(5, 7) * 0.5, 1)\n"
    "out('kl', F.kl_div(F.log_softmax(logits, 1), t, reduction='batchmean').reshape(1))\n"
    "out('mse', F.mse_loss(logits, gen(5, 7) * 0.5 - 0.25).reshape(1))\n"
    "out('linear', F.linear(logits, gen(3, 7) / 2, gen(3)))\n"
    "obs = torch.quantization.MinMaxObserver(dtype=torch.quint8); obs(x * 3)\n"
    "s, z = obs.calculate_qparams()\n"
    "out('qparams', torch.tensor([float(s), float(z)], dtype=torch.float64))\n"
    "out('qcodes', torch.quantize_per_tensor(x * 3, float(s), int(z), torch.quint8)"
    ".int_repr().float())\n"
    "out('fakequant', torch.fake_quantize_per_tensor_affine(x * 3, float(s), int(z), 0, 255))\n"
    "fw, fb = fuse_conv_bn_weights(w, b, gen(6) / 5, gen(6).abs() + 0.5, 1e-5, gen(6) + 1.5, "
    "gen(6) / 7)\n"
    "out('fold_w', fw); out('fold_b', fb)\n";

#define MAX_REFS 40

struct ref {
    char name[32];
    int n;
    double *v;
};

static struct ref refs[MAX_REFS];
static int nrefs;

static const struct ref *find(const char *name)
{
    for (int i = 0; i < nrefs; i++)
        if (!strcmp(refs[i].name, name)) return &refs[i];
    return NULL;
}

/* Runs the script; returns 0 when PyTorch answered. */
static int run_reference(const char *py)
{
    const char *dir = tu_tmpdir();
    char path[600], cmd[1400];
    snprintf(path, sizeof path, "%s/ref.py", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(script, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' '%s'", py, path);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    while (nrefs < MAX_REFS) {
        struct ref *r = &refs[nrefs];
        if (fscanf(p, "%31s %d", r->name, &r->n) != 2 || r->n <= 0) break;
        r->v = malloc(sizeof(double) * r->n);
        int k = 0;
        while (k < r->n && fscanf(p, "%lf", &r->v[k]) == 1)
            k++;
        if (k != r->n) break;
        nrefs++;
    }
    int status = pclose(p);
    tu_rmtree(dir);
    return status == 0 && nrefs > 0 ? 0 : -1;
}

static sl_tensor *gen(int ndim, const int64_t *shape, double scale, double shift)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    float *v = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)((((i * 37) % 23) - 11) / 8.0 * scale + shift);
    sl_tensor *t = T(ndim, shape, v);
    free(v);
    return t;
}

/* |v| + c (max(v, -v) + c, built from shim ops), a positive variance for the batch norm cases,
 * in a new tensor (the caller frees it); NULL when an op failed. */
static sl_tensor *abs_plus(const sl_tensor *v, double c)
{
    sl_tensor *neg = NULL, *pos = NULL, *sum = NULL, *out = NULL;
    if (!sl_mul_scalar(v, -1, &neg) && !sl_relu(v, &pos) && !sl_relu_(neg) &&
        !sl_add(pos, neg, &sum))
        sl_add_scalar(sum, c, &out);
    ST_FREE(neg, pos, sum);
    return out;
}

/* The shim's result `t` against PyTorch's `name`: same size, max |diff| <= tol * max(1, |ref|). */
static void compare(const char *name, sl_tensor *t, double tol)
{
    const struct ref *r = find(name);
    int64_t n = sl_tensor_numel(t);
    TU_CHECK_MSG(r && t && n == r->n, "%s: shim has %lld values, PyTorch %d (%s)", name,
                 (long long)n, r ? r->n : -1, sl_torch_last_error());
    if (!r || !t || n != r->n) {
        sl_tensor_free(t);
        return;
    }
    float *v = malloc(sizeof(float) * n);
    sl_tensor_to_buffer(t, v, sizeof(float) * n);
    double worst = 0, big = 1;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(v[i] - r->v[i]);
        if (d > worst || d != d) {
            worst = d;
            at = i;
        }
        big = fmax(big, fabs(r->v[i]));
    }
    TU_CHECK_MSG(worst <= tol * big, "%s: element %lld is %.9g, PyTorch %.9g", name, (long long)at,
                 v[at], r->v[at]);
    free(v);
    sl_tensor_free(t);
}

int main(void)
{
    const char *py = getenv("SL_PYTHON");
    if (!py || access(py, X_OK) != 0) {
        printf("skip: SL_PYTHON (a Python with torch) is not set\n");
        return 77;
    }
    if (run_reference(py)) {
        fprintf(stderr, "the PyTorch reference script failed\n");
        return 1;
    }
    const double tol = 2e-6;
    sl_tensor *o = NULL, *o2 = NULL;
    sl_tensor *x = gen(4, ST_SHAPE(2, 4, 7, 9), 1, 0);
    sl_tensor *w = gen(4, ST_SHAPE(6, 2, 3, 3), 0.25, 0), *b = gen(1, ST_SHAPE(6), 0.5, 0);

    CHECK_OK(sl_conv2d(x, w, b, ST_SHAPE(2, 1), ST_SHAPE(1, 2), ST_SHAPE(1, 2), 2, &o),
             sl_torch_last_error());
    compare("conv", o, tol);

    sl_tensor *wt = gen(4, ST_SHAPE(4, 3, 3, 3), 0.25, 0), *bt = gen(1, ST_SHAPE(3), 1, 0);
    CHECK_OK(sl_conv_transpose2d(x, wt, bt, ST_SHAPE(2, 2), ST_SHAPE(1, 1), NULL, 1,
                                 ST_SHAPE(14, 18), &o),
             sl_torch_last_error());
    CHECK_SHAPE(o, 2, 3, 14, 18);
    compare("convt", o, tol);

    sl_tensor *rm = gen(1, ST_SHAPE(4), 0.1, 0), *rv0 = gen(1, ST_SHAPE(4), 1, 0);
    sl_tensor *g = gen(1, ST_SHAPE(4), 1, 2), *beta = gen(1, ST_SHAPE(4), 1.0 / 3, 0);
    sl_tensor *rv = abs_plus(rv0, 1);
    CHECK_OK(sl_batch_norm(x, g, beta, rm, rv, 1, 0.2, 1e-3, &o), sl_torch_last_error());
    compare("bn", o, tol);
    sl_tensor_share(rm, &o);
    compare("bn_rm", o, tol);
    sl_tensor_share(rv, &o);
    compare("bn_rv", o, tol);
    CHECK_OK(sl_batch_norm(x, g, beta, rm, rv, 0, 0.2, 1e-3, &o), sl_torch_last_error());
    compare("bn_eval", o, tol);

    CHECK_OK(sl_hardswish(x, &o), sl_torch_last_error());
    compare("hardswish", o, tol);
    sl_mul_scalar(x, 4, &o2);
    CHECK_OK(sl_relu6(o2, &o), sl_torch_last_error());
    sl_tensor_free(o2);
    compare("relu6", o, tol);
    CHECK_OK(sl_sigmoid(x, &o), sl_torch_last_error());
    compare("sigmoid", o, tol);
    CHECK_OK(sl_max_pool2d(x, ST_SHAPE(3, 3), ST_SHAPE(2, 2), ST_SHAPE(1, 1), NULL, 1, &o),
             sl_torch_last_error());
    compare("maxpool", o, tol);
    CHECK_OK(sl_avg_pool2d(x, ST_SHAPE(3, 3), ST_SHAPE(2, 2), ST_SHAPE(1, 1), 1, 0, &o),
             sl_torch_last_error());
    compare("avgpool", o, tol);
    CHECK_OK(sl_adaptive_avg_pool2d(x, ST_SHAPE(3, 4), &o), sl_torch_last_error());
    compare("adaptive", o, tol);
    CHECK_OK(sl_interpolate(x, SL_INTERP_NEAREST, ST_SHAPE(11, 5), &o), sl_torch_last_error());
    compare("nearest", o, tol);
    CHECK_OK(sl_interpolate(x, SL_INTERP_BILINEAR, ST_SHAPE(11, 5), &o), sl_torch_last_error());
    compare("bilinear", o, tol);

    sl_tensor *logits = gen(2, ST_SHAPE(5, 7), 1, 0), *tgt = NULL, *lp = NULL, *t = NULL;
    CHECK_OK(
        sl_tensor_from_buffer((const int64_t[]){0, 6, 3, 2, 6}, ST_SHAPE(5), 1, SL_DT_I64, &tgt),
        sl_torch_last_error());
    CHECK_OK(sl_cross_entropy(logits, tgt, 0.1, &o), sl_torch_last_error());
    compare("ce", o, tol);
    sl_tensor *half = gen(2, ST_SHAPE(5, 7), 0.5, 0);
    sl_softmax(half, 1, &t);
    sl_log_softmax(logits, 1, &lp);
    CHECK_OK(sl_kl_div(lp, t, 0, &o), sl_torch_last_error());
    compare("kl", o, tol);
    sl_tensor *shifted = gen(2, ST_SHAPE(5, 7), 0.5, -0.25);
    CHECK_OK(sl_mse_loss(logits, shifted, &o), sl_torch_last_error());
    compare("mse", o, tol);
    sl_tensor *lw = gen(2, ST_SHAPE(3, 7), 0.5, 0), *lb = gen(1, ST_SHAPE(3), 1, 0);
    CHECK_OK(sl_linear(logits, lw, lb, &o), sl_torch_last_error());
    compare("linear", o, tol);

    /* Quantisation: scale, zero point and codes exactly as PyTorch's. */
    sl_tensor *x3 = NULL, *q = NULL;
    sl_mul_scalar(x, 3, &x3);
    double s = 0;
    int64_t zp = -1;
    CHECK_OK(sl_quant_params(x3, &s, &zp), sl_torch_last_error());
    const struct ref *qp = find("qparams");
    TU_CHECK_MSG(qp && qp->n == 2 && qp->v[0] == s && qp->v[1] == (double)zp,
                 "shim scale %.9g zp %lld, PyTorch %.9g %.0f", s, (long long)zp,
                 qp ? qp->v[0] : 0.0, qp ? qp->v[1] : 0.0);
    CHECK_OK(sl_quantize_u8(x3, s, zp, &q), sl_torch_last_error());
    sl_tensor_to_dtype(q, SL_DT_F32, &o);
    compare("qcodes", o, 0);
    CHECK_OK(sl_fake_quant_u8(x3, s, zp, &o), sl_torch_last_error());
    compare("fakequant", o, 0);

    sl_tensor *fm = gen(1, ST_SHAPE(6), 0.2, 0), *fv0 = gen(1, ST_SHAPE(6), 1, 0);
    sl_tensor *fg = gen(1, ST_SHAPE(6), 1, 1.5), *fb = gen(1, ST_SHAPE(6), 1.0 / 7, 0);
    sl_tensor *ow = NULL, *ob = NULL, *fv = abs_plus(fv0, 0.5);
    CHECK_OK(sl_fold_batch_norm(w, b, fg, fb, fm, fv, 1e-5, &ow, &ob), sl_torch_last_error());
    compare("fold_w", ow, tol);
    compare("fold_b", ob, tol);

    sl_tensor *all[] = {x, w,    b,  wt, bt, rm, rv, rv0, g,  beta, logits, tgt,    lp,
                        t, half, lw, lb, x3, q,  fm, fv0, fv, fg,   fb,     shifted};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sl_tensor_free(all[i]);
    for (int i = 0; i < nrefs; i++)
        free(refs[i].v);
    return TU_DONE();
}
