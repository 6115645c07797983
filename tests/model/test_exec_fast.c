/* test_exec_fast.c: the default inference path (stretches compiled into frozen, optimised
 * TorchScript modules; the shim's sl_jit_*) against the plain strided path: same numbers to
 * float rounding, plain outputs, sub-ranges, quantized boundaries; and the shim's MKL-DNN layout
 * functions. */
#include "common/status.h"
#include "model/exec.h"
#include "model/zoo.h"
#include "testutil.h"
#include "zoo_fixture.h"

#include <string.h>

static sl_tensor *randn4(int64_t n, int64_t c, int64_t h, int64_t w)
{
    int64_t s[4] = {n, c, h, w};
    sl_tensor *t = NULL;
    sl_tensor_randn(s, 4, &t);
    return t;
}

/* Largest |a - b| relative to the largest |b|. */
static double rel(const sl_tensor *a, const sl_tensor *b)
{
    double d = 1e9, m = 0;
    if (sl_max_abs_diff(a, b, &d, &m)) return 1e9;
    return d / (m > 0 ? m : 1);
}

/* Runs plan (from, to) with options o on x; returns the first output (caller frees). */
static sl_tensor *run(sl_graph *g, const char *from, const char *to, const sl_exec_opts *o,
                      sl_tensor *x)
{
    sl_exec *e = NULL;
    const char *f[1] = {from}, *t[1] = {to};
    if (sl_exec_new(g, from ? f : NULL, from ? 1 : 0, to ? t : NULL, to ? 1 : 0, o, &e)) {
        CHECK_OK(1, sl_errmsg());
        return NULL;
    }
    sl_value in = {.t = x}, out = {0};
    CHECK_OK(sl_exec_run(e, &in, &out), sl_errmsg());
    sl_exec_free(e);
    return out.t;
}

static void test_shim_layout(void)
{
    sl_tensor *x = randn4(2, 4, 7, 7), *m = NULL, *d = NULL;
    CHECK_EQ(sl_tensor_is_mkldnn(x), 0);
    CHECK_OK(sl_tensor_to_mkldnn(x, &m), sl_torch_last_error());
    CHECK_EQ(sl_tensor_is_mkldnn(m), 1);
    CHECK_OK(sl_tensor_to_dense(m, &d), sl_torch_last_error());
    CHECK_EQ(sl_tensor_is_mkldnn(d), 0);
    double diff = 1, mx;
    sl_max_abs_diff(d, x, &diff, &mx);
    CHECK(diff == 0.0);
    CHECK(sl_tensor_is_mkldnn(NULL) < 0);

    /* Only float32 goes to MKL-DNN. */
    int64_t s[1] = {4};
    sl_tensor *u = NULL, *bad = NULL;
    CHECK_OK(sl_tensor_zeros(s, 1, SL_DT_U8, &u), sl_torch_last_error());
    CHECK_EQ(sl_tensor_to_mkldnn(u, &bad), SLT_EARG);
    CHECK(bad == NULL);

    /* Grouped, strided, padded conv: prepacked weights on strided and blocked input agree with
     * sl_conv2d. */
    sl_tensor *w = randn4(6, 2, 3, 3), *b = NULL, *ref = NULL, *pw = NULL, *y1 = NULL, *y2 = NULL;
    int64_t bs[1] = {6}, st[2] = {2, 1}, pd[2] = {1, 1};
    sl_tensor_randn(bs, 1, &b);
    CHECK_OK(sl_conv2d(x, w, b, st, pd, NULL, 2, &ref), sl_torch_last_error());
    CHECK_OK(sl_mkldnn_conv_weight(w, st, pd, NULL, 2, &pw), sl_torch_last_error());
    CHECK_EQ(sl_tensor_is_mkldnn(pw), 1);
    CHECK_OK(sl_mkldnn_conv2d(x, pw, b, st, pd, NULL, 2, &y1), sl_torch_last_error());
    CHECK_EQ(sl_tensor_is_mkldnn(y1), 0);
    CHECK(rel(y1, ref) < 1e-5);
    CHECK_OK(sl_mkldnn_conv2d(m, pw, b, st, pd, NULL, 2, &y2), sl_torch_last_error());
    CHECK_EQ(sl_tensor_is_mkldnn(y2), 1);
    sl_tensor *y2d = NULL;
    CHECK_OK(sl_tensor_to_dense(y2, &y2d), sl_torch_last_error());
    CHECK(rel(y2d, ref) < 1e-5);

    /* Wrong channel count: a shape error naming both shapes, nothing returned. */
    sl_tensor *w3 = randn4(6, 3, 3, 3), *none = NULL;
    CHECK_EQ(sl_mkldnn_conv2d(x, w3, NULL, NULL, NULL, NULL, 1, &none), SLT_ESHAPE);
    CHECK_CONTAINS(sl_torch_last_error(), "[6, 3, 3, 3]");
    CHECK(none == NULL);
    CHECK_EQ(sl_mkldnn_conv_weight(w, NULL, NULL, NULL, 4, &none), SLT_EARG);

    /* Linear through MKL-DNN on strided and blocked rows agrees with sl_linear. */
    int64_t xs[2] = {3, 20}, ws[2] = {5, 20}, lbs[1] = {5};
    sl_tensor *lx = NULL, *lw = NULL, *lb = NULL, *lref = NULL, *l1 = NULL, *lxm = NULL, *l2 = NULL;
    sl_tensor_randn(xs, 2, &lx);
    sl_tensor_randn(ws, 2, &lw);
    sl_tensor_randn(lbs, 1, &lb);
    CHECK_OK(sl_linear(lx, lw, lb, &lref), sl_torch_last_error());
    CHECK_OK(sl_mkldnn_linear(lx, lw, lb, &l1), sl_torch_last_error());
    CHECK(sl_tensor_is_mkldnn(l1) == 0 && rel(l1, lref) < 1e-5);
    CHECK_OK(sl_tensor_to_mkldnn(lx, &lxm), sl_torch_last_error());
    CHECK_OK(sl_mkldnn_linear(lxm, lw, NULL, &l2), sl_torch_last_error());
    CHECK_EQ(sl_tensor_is_mkldnn(l2), 1);
    CHECK_EQ(sl_mkldnn_linear(lx, w, lb, &none), SLT_ESHAPE);
    CHECK(none == NULL);

    sl_tensor *f[] = {x, m, d, u, w, b, ref, pw, y1, y2, y2d, w3, lx, lw, lb, lref, l1, lxm, l2};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) sl_tensor_free(f[i]);
}

/* Default (compiled) vs plain, folded and not: outputs agree and are plain tensors. */
static void test_matches_plain(const char *arch, int64_t hw)
{
    sl_graph *g = tz_zoo(arch, 10, hw, 3, 0);
    if (!g) return;
    sl_tensor *x = randn4(2, 3, hw, hw);
    for (int fold = 0; fold <= 1; fold++) {
        sl_exec_opts plain = {.fold_bn = fold, .plain = 1}, fast = {.fold_bn = fold};
        sl_tensor *a = run(g, NULL, NULL, &plain, x), *b = run(g, NULL, NULL, &fast, x);
        if (a && b) {
            double r = rel(b, a);
            CHECK(r < 1e-4);
            if (r >= 1e-4) fprintf(stderr, "%s fold=%d: relative difference %g\n", arch, fold, r);
            CHECK_EQ(sl_tensor_is_mkldnn(b), 0);
            void *ptr = NULL;
            CHECK_OK(sl_tensor_data_ptr(b, &ptr), sl_torch_last_error());
        }
        sl_tensor_free(a);
        sl_tensor_free(b);
    }
    sl_tensor_free(x);
    sl_graph_free(g);
}

/* Device half to an inner tensor and edge half from it: plain boundary value, same result as the
 * whole model; the device half of a conv whose value continues in MKL-DNN inside the model. */
static void test_subrange(void)
{
    sl_graph *g = tz_zoo("resnet18", 10, 32, 3, 0);
    if (!g) return;
    sl_tensor *x = randn4(1, 3, 32, 32);
    sl_exec_opts o = {.fold_bn = 1}, plain = {.fold_bn = 1, .plain = 1};
    sl_tensor *full = run(g, NULL, NULL, &o, x), *ref = run(g, NULL, NULL, &plain, x);
    /* A block output: the relu after the fourth residual add (all later nodes depend on it). */
    const char *cut = NULL;
    for (int i = 0, adds = 0; i < g->nnodes && !cut; i++)
        if (g->nodes[i].op == SL_OP_RELU && g->nodes[i].in_idx[0] >= 0 &&
            g->nodes[g->nodes[i].in_idx[0]].op == SL_OP_ADD && ++adds == 4)
            cut = g->nodes[i].name;
    CHECK(cut != NULL);
    if (!cut) cut = g->outputs[0];
    sl_tensor *mid = run(g, NULL, cut, &o, x);
    if (full && ref && mid) {
        CHECK_EQ(sl_tensor_is_mkldnn(mid), 0);
        sl_tensor *out = run(g, cut, NULL, &o, mid);
        CHECK(out && rel(out, full) < 1e-5);
        CHECK(out && rel(out, ref) < 1e-4);
        sl_tensor_free(out);
    }
    /* A sub-range ending at the first conv (folded in the whole model) is plain and matches. */
    int c = -1;
    for (int i = 0; i < g->nnodes && c < 0; i++)
        if (g->nodes[i].op == SL_OP_CONV2D) c = i;
    sl_tensor *cv = run(g, NULL, g->nodes[c].name, &o, x);
    sl_tensor *cvp = run(g, NULL, g->nodes[c].name, &plain, x);
    CHECK(cv && cvp && sl_tensor_is_mkldnn(cv) == 0 && rel(cv, cvp) < 1e-5);
    sl_tensor *f[] = {x, full, ref, mid, cv, cvp};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) sl_tensor_free(f[i]);
    sl_graph_free(g);
}

/* conv -> relu -> quantize | dequantize -> conv -> add(relu, conv): quantized values cross
 * MKL-DNN values; the wire stays uint8 and the result matches the plain path. */
static void test_quantized_wire(void)
{
    sl_graph *g = sl_graph_new("qw");
    sl_graph_set_input(g, "x", 3, 8, 8, NULL, NULL);
    sl_attrs a;
    sl_attrs_window(&a, 3, 1, 1);
    a.out = 4;
    sl_graph_add(g, "c1", SL_OP_CONV2D, (const char *[]){"x"}, 1, &a);
    sl_graph_add(g, "r1", SL_OP_RELU, (const char *[]){"c1"}, 1, NULL);
    sl_attrs q;
    sl_attrs_default(&q);
    q.bits = 8;
    sl_graph_add(g, "q", SL_OP_QUANTIZE, (const char *[]){"r1"}, 1, &q);
    sl_graph_add(g, "dq", SL_OP_DEQUANTIZE, (const char *[]){"q"}, 1, NULL);
    sl_graph_add(g, "c2", SL_OP_CONV2D, (const char *[]){"dq"}, 1, &a);
    sl_graph_add(g, "sum", SL_OP_ADD, (const char *[]){"c2", "r1"}, 2, NULL);
    sl_graph_add_output(g, "sum");
    CHECK_OK(sl_graph_validate(g, 0), sl_errmsg());
    CHECK_OK(sl_graph_alloc_params(g), sl_errmsg());
    sl_manual_seed(5);
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].nparams; k++)
            sl_init_uniform_(g->nodes[i].params[k].t, -0.5, 0.5);
    sl_tensor *x = randn4(2, 3, 8, 8);
    sl_exec_opts o = {0}, plain = {.plain = 1};
    const char *wire[] = {"q", "r1"};
    sl_exec *dev = NULL, *edge = NULL;
    CHECK_OK(sl_exec_new(g, NULL, 0, wire, 2, &o, &dev), sl_errmsg());
    CHECK_OK(sl_exec_new(g, wire, 2, NULL, 0, &o, &edge), sl_errmsg());
    sl_value in = {.t = x}, mid[2] = {{0}}, out = {0};
    if (dev && edge) {
        CHECK_OK(sl_exec_run(dev, &in, mid), sl_errmsg());
        CHECK(mid[0].quantized == 1 && sl_tensor_dtype(mid[0].t) == SL_DT_U8);
        CHECK(sl_tensor_is_mkldnn(mid[1].t) == 0);
        CHECK_OK(sl_exec_run(edge, mid, &out), sl_errmsg());
        sl_tensor *ref = run(g, NULL, NULL, &plain, x);
        CHECK(out.t && ref && rel(out.t, ref) < 1e-5);
        sl_tensor_free(ref);
    }
    sl_value_clear(&mid[0]);
    sl_value_clear(&mid[1]);
    sl_value_clear(&out);
    sl_exec_free(dev);
    sl_exec_free(edge);
    sl_tensor_free(x);
    sl_graph_free(g);
}

/* The shim's compiler on the block the issue measured (conv, relu6, depthwise conv, relu6):
 * MKL-DNN convolutions and hardtanh in the optimised graph, the eager result, and its errors. */
static void test_jit_shim(void)
{
    sl_tensor *x = randn4(2, 8, 12, 12), *w1 = randn4(16, 8, 1, 1), *w2 = randn4(16, 1, 3, 3);
    int64_t bs[1] = {16};
    sl_tensor *b2 = NULL;
    sl_tensor_randn(bs, 1, &b2);
    const char *src = "def forward(self, x: Tensor):\n"
                      "    a = torch.hardtanh(torch.conv2d(x, self.w1, None, [1, 1], [0, 0], [1, 1], 1), 0.0, 6.0)\n"
                      "    b = torch.conv2d(a, self.w2, self.b2, [2, 2], [1, 1], [1, 1], 16)\n"
                      "    return (torch.hardtanh(b, 0.0, 6.0), )\n";
    const char *names[] = {"w1", "w2", "b2"};
    const sl_tensor *ws[] = {w1, w2, b2};
    sl_jit *m = NULL;
    CHECK_OK(sl_jit_compile(src, names, ws, 3, 1, 1, 1, &m), sl_torch_last_error());
    if (m) {
        CHECK(sl_jit_count_kind(m, "prim::mkldnn_convolution") == 2);
        CHECK(sl_jit_count_kind(m, "prim::MKLDNNHardTanh_") + sl_jit_count_kind(m, "prim::MKLDNNHardTanh") >= 1);
        CHECK(sl_jit_count_kind(m, "aten::conv2d") == 0);
        size_t len = 0;
        CHECK_OK(sl_jit_graph_text(m, NULL, 0, &len), sl_torch_last_error());
        CHECK(len > 0);
        const sl_tensor *in[] = {x};
        sl_tensor *y = NULL, *a = NULL, *a6 = NULL, *b = NULL, *ref = NULL;
        CHECK_OK(sl_jit_run(m, in, 1, &y, 1), sl_torch_last_error());
        int64_t s2[2] = {2, 2}, p1[2] = {1, 1};
        sl_conv2d(x, w1, NULL, NULL, NULL, NULL, 1, &a);
        sl_relu6(a, &a6);
        sl_conv2d(a6, w2, b2, s2, p1, NULL, 16, &b);
        sl_relu6(b, &ref);
        CHECK(y && ref && rel(y, ref) < 1e-5);
        sl_tensor *none = NULL;
        CHECK_EQ(sl_jit_run(m, in, 2, &none, 1), SLT_EARG);
        CHECK(none == NULL);
        sl_tensor *f[] = {y, a, a6, b, ref};
        for (size_t i = 0; i < sizeof f / sizeof *f; i++) sl_tensor_free(f[i]);
    }
    sl_jit_free(m);
    /* A source that does not compile: the TorchScript compiler's message, no module. */
    sl_jit *bad = NULL;
    CHECK_EQ(sl_jit_compile("def forward(self, x: Tensor):\n    return (torch.nonexistent_op(x), )\n",
                            NULL, NULL, 0, 1, 1, 1, &bad),
             SLT_ETORCH);
    CHECK(bad == NULL && strstr(sl_torch_last_error(), "nonexistent_op"));
    sl_tensor *f[] = {x, w1, w2, b2};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) sl_tensor_free(f[i]);
}

int main(void)
{
    sl_set_num_threads(1);
    test_jit_shim();
    test_shim_layout();
    test_matches_plain("resnet18", 32);
    test_matches_plain("mobilenet_v2", 32);
    test_matches_plain("vgg11", 32);
    test_subrange();
    test_quantized_wire();
    return TU_DONE();
}
