/* test_exec.c: executor sub-ranges, BN folding, train mode, autograd, placeholders, quantize. */
#include "common/status.h"
#include "model/exec.h"
#include "model/zoo.h"
#include "testutil.h"
#include "zoo_fixture.h"

static double diff(const sl_tensor *a, const sl_tensor *b)
{
    double d = 1e9, m;
    if (sl_max_abs_diff(a, b, &d, &m)) return 1e9;
    return d;
}

static sl_tensor *randn4(int64_t n, int64_t c, int64_t h, int64_t w)
{
    int64_t s[4] = {n, c, h, w};
    sl_tensor *t = NULL;
    sl_tensor_randn(s, 4, &t);
    return t;
}

static void test_subrange_and_fold(sl_graph *g, sl_tensor *x)
{
    sl_tensor *full = NULL;
    CHECK_OK(sl_graph_forward(g, x, 0, &full), sl_errmsg());
    /* Device half to pool1, edge half from pool1: exactly the full result. */
    sl_exec *dev, *edge;
    const char *cut[] = {"pool1"};
    sl_exec_opts o = {0};
    CHECK_OK(sl_exec_new(g, NULL, 0, cut, 1, &o, &dev), sl_errmsg());
    CHECK_OK(sl_exec_new(g, cut, 1, NULL, 0, &o, &edge), sl_errmsg());
    const int *nodes;
    int nrun = sl_exec_nodes(dev, &nodes);
    CHECK_EQ(nrun, 4); /* conv1 bn1 relu1 pool1 */
    sl_value in = {.t = x}, mid = {0}, out = {0};
    CHECK_OK(sl_exec_run(dev, &in, &mid), sl_errmsg());
    CHECK_OK(sl_exec_run(edge, &mid, &out), sl_errmsg());
    CHECK(diff(out.t, full) == 0.0);
    sl_value_clear(&mid);
    sl_value_clear(&out);
    sl_exec_free(dev);
    sl_exec_free(edge);

    /* Folding batch norm: same result to float rounding. */
    sl_exec *folded;
    sl_exec_opts fo = {.fold_bn = 1};
    CHECK_OK(sl_exec_new(g, NULL, 0, NULL, 0, &fo, &folded), sl_errmsg());
    CHECK_OK(sl_exec_run(folded, &in, &out), sl_errmsg());
    CHECK(diff(out.t, full) < 1e-4);
    sl_value_clear(&out);
    sl_exec_free(folded);

    /* Channels-last activations and weights: the same numbers in another memory order. */
    sl_exec *nhwc;
    sl_exec_opts co = {.fold_bn = 1, .channels_last = 1};
    CHECK_OK(sl_exec_new(g, NULL, 0, NULL, 0, &co, &nhwc), sl_errmsg());
    CHECK_OK(sl_exec_run(nhwc, &in, &out), sl_errmsg());
    CHECK(diff(out.t, full) < 1e-4);
    sl_value_clear(&out);
    sl_exec_free(nhwc);

    /* Two outputs at once, one of them an intermediate consumed later. */
    const char *two[] = {"relu2", "fc"};
    sl_exec *e2;
    sl_value outs[2];
    CHECK_OK(sl_exec_new(g, NULL, 0, two, 2, &o, &e2), sl_errmsg());
    CHECK_OK(sl_exec_run(e2, &in, outs), sl_errmsg());
    CHECK(diff(outs[1].t, full) == 0.0);
    int64_t shp[4];
    int nd;
    sl_tensor_shape(outs[0].t, shp, 4, &nd);
    CHECK_EQ(nd, 4);
    CHECK_EQ(shp[1], 32);
    CHECK_EQ(shp[2], 8);
    sl_value_clear(&outs[0]);
    sl_value_clear(&outs[1]);
    sl_exec_free(e2);

    /* An output that needs the image while only pool2 is given. */
    const char *from[] = {"pool2"}, *to[] = {"relu1"};
    sl_exec *bad = NULL;
    CHECK(sl_exec_new(g, from, 1, to, 1, &o, &bad) != SL_OK);
    CHECK_CONTAINS(sl_errmsg(), "graph input");
    CHECK(sl_exec_new(g, (const char *[]){"nope"}, 1, NULL, 0, &o, &bad) == SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "'nope'");
    sl_tensor_free(full);
}

static void test_train_and_autograd(sl_graph *g, sl_tensor *x)
{
    sl_tensor *rm = sl_node_param(&g->nodes[1], "running_mean")->t, *before = NULL, *y = NULL;
    sl_tensor_clone(rm, &before);
    CHECK_OK(sl_graph_forward(g, x, 0, &y), sl_errmsg());
    sl_tensor_free(y);
    CHECK(diff(rm, before) == 0.0); /* eval leaves running stats alone */
    sl_param *w = sl_node_param(&g->nodes[g->nnodes - 1], "weight");
    sl_param *cw = sl_node_param(&g->nodes[0], "weight");
    sl_tensor_set_requires_grad(w->t, 1);
    sl_tensor_set_requires_grad(cw->t, 1);
    CHECK_OK(sl_graph_forward(g, x, 1, &y), sl_errmsg());
    CHECK(diff(rm, before) > 0); /* train mode updated them */
    sl_tensor *loss = NULL, *gw = NULL, *gc = NULL;
    CHECK_OK(sl_mean(y, &loss), sl_torch_last_error());
    CHECK_OK(sl_backward(loss), sl_torch_last_error());
    CHECK_OK(sl_tensor_grad(w->t, &gw), sl_torch_last_error());
    CHECK_OK(sl_tensor_grad(cw->t, &gc), sl_torch_last_error());
    CHECK(gw != NULL && gc != NULL);
    double mn = 0, mx = 0;
    if (gc) sl_minmax(gc, &mn, &mx);
    CHECK(mx - mn > 0); /* the gradient reached the first conv through every node */
    /* Frozen batch norm inside a train run: node_eval keeps running stats untouched. */
    sl_tensor_free(before);
    sl_tensor_clone(rm, &before);
    unsigned char eval_mask[64] = {0};
    eval_mask[1] = 1;
    sl_exec *e;
    sl_exec_opts o = {.train = 1, .node_eval = eval_mask};
    sl_value in = {.t = x}, out = {0};
    CHECK_OK(sl_exec_new(g, NULL, 0, NULL, 0, &o, &e), sl_errmsg());
    CHECK_OK(sl_exec_run(e, &in, &out), sl_errmsg());
    CHECK(diff(rm, before) == 0.0);
    sl_value_clear(&out);
    sl_exec_free(e);
    sl_tensor_set_requires_grad(w->t, 0);
    sl_tensor_set_requires_grad(cw->t, 0);
    sl_tensor_free(before);
    sl_tensor_free(loss);
    sl_tensor_free(gw);
    sl_tensor_free(gc);
    sl_tensor_free(y);
}

static void test_quantize_and_placeholder(void)
{
    /* x -> quantize -> (wire) -> dequantize -> relu, split at the wire. */
    sl_graph *g = sl_graph_new("q");
    sl_graph_set_input(g, "x", 4, 5, 3, NULL, NULL);
    sl_graph_add(g, "q", SL_OP_QUANTIZE, (const char *[]){"x"}, 1, NULL);
    sl_graph_add(g, "dq", SL_OP_DEQUANTIZE, (const char *[]){"q"}, 1, NULL);
    sl_graph_add(g, "r", SL_OP_RELU, (const char *[]){"dq"}, 1, NULL);
    sl_graph_add_output(g, "r");
    CHECK_OK(sl_graph_validate(g, 1), sl_errmsg());
    sl_tensor *x = randn4(2, 4, 5, 3);
    sl_exec *dev;
    sl_exec_opts o = {0};
    CHECK_OK(sl_exec_new(g, NULL, 0, (const char *[]){"q"}, 1, &o, &dev), sl_errmsg());
    sl_value in = {.t = x}, wire = {0}, out = {0};
    CHECK_OK(sl_exec_run(dev, &in, &wire), sl_errmsg());
    CHECK(wire.quantized == 1);
    CHECK(sl_tensor_dtype(wire.t) == SL_DT_U8);
    CHECK(wire.scale > 0);

    /* The edge half as its own graph, starting from a placeholder named like the wire. */
    sl_graph *e = sl_graph_new("edge");
    sl_graph_set_input(e, "x", 4, 5, 3, NULL, NULL);
    sl_attrs a;
    sl_attrs_default(&a);
    a.shape = (sl_shape){3, {4, 5, 3, 0}};
    sl_graph_add(e, "q", SL_OP_PLACEHOLDER, NULL, 0, &a);
    sl_graph_add(e, "dq", SL_OP_DEQUANTIZE, (const char *[]){"q"}, 1, NULL);
    sl_graph_add(e, "r", SL_OP_RELU, (const char *[]){"dq"}, 1, NULL);
    sl_graph_add_output(e, "r");
    CHECK_OK(sl_graph_validate(e, 1), sl_errmsg());
    sl_exec *edge;
    CHECK_OK(sl_exec_new(e, (const char *[]){"q"}, 1, NULL, 0, &o, &edge), sl_errmsg());
    CHECK_OK(sl_exec_run(edge, &wire, &out), sl_errmsg());
    sl_tensor *rx = NULL;
    sl_relu(x, &rx);
    CHECK(diff(out.t, rx) <= wire.scale / 2 + 1e-6); /* within quantisation error */
    sl_value_clear(&out);
    /* Running the placeholder without a value is a clear error. */
    sl_exec *nov;
    CHECK_OK(sl_exec_new(e, NULL, 0, NULL, 0, &o, &nov), sl_errmsg());
    CHECK(sl_exec_run(nov, &in, &out) != SL_OK);
    CHECK_CONTAINS(sl_errmsg(), "placeholder 'q' needs a value");
    sl_exec_free(nov);

    /* Train mode fake-quantises: a float value, same numbers as the real round trip. */
    sl_exec *tr;
    sl_exec_opts to = {.train = 1};
    CHECK_OK(sl_exec_new(g, NULL, 0, NULL, 0, &to, &tr), sl_errmsg());
    CHECK_OK(sl_exec_run(tr, &in, &out), sl_errmsg());
    CHECK(out.quantized == 0);
    sl_value full = {0};
    sl_exec *ev;
    CHECK_OK(sl_exec_new(g, NULL, 0, NULL, 0, &o, &ev), sl_errmsg());
    CHECK_OK(sl_exec_run(ev, &in, &full), sl_errmsg());
    CHECK(diff(out.t, full.t) < 1e-6);
    sl_value_clear(&full);
    sl_value_clear(&out);
    sl_value_clear(&wire);
    sl_exec_free(ev);
    sl_exec_free(tr);
    sl_exec_free(edge);
    sl_exec_free(dev);
    sl_tensor_free(rx);
    sl_tensor_free(x);
    sl_graph_free(e);
    sl_graph_free(g);
}

int main(void)
{
    sl_graph *g = tz_zoo("tinycnn", 3, 16, 1, 0);
    sl_tensor *x = randn4(2, 3, 16, 16);
    if (g) {
        test_subrange_and_fold(g, x);
        test_train_and_autograd(g, x);
    }
    test_quantize_and_placeholder();
    sl_tensor_free(x);
    sl_graph_free(g);
    return TU_DONE();
}
