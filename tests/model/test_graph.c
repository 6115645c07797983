/* test_graph.c: graph JSON round trip, validation messages, shape inference, cut points. */
#include "common/status.h"
#include "model/graph.h"
#include "model/zoo.h"
#include "testutil.h"

#include <stdlib.h>

static const char *TINY =
    "{\"format\":\"sl-graph\",\"version\":1,\"name\":\"t\","
    "\"input\":{\"name\":\"image\",\"shape\":[3,9,7],\"mean\":[0.5,0.5,0.5],\"std\":[0.2,0.2,0.2]},"
    "\"classes\":[\"ok\",\"crack\"],"
    "\"nodes\":["
    "{\"name\":\"c1\",\"op\":\"conv2d\",\"inputs\":[\"image\"],\"attrs\":{\"out\":4,\"k\":3,\"pad\":1,\"stride\":2}},"
    "{\"name\":\"b1\",\"op\":\"batch_norm\",\"inputs\":[\"c1\"]},"
    "{\"name\":\"r1\",\"op\":\"relu\",\"inputs\":[\"b1\"]},"
    "{\"name\":\"p\",\"op\":\"adaptive_avg_pool\",\"inputs\":[\"r1\"],\"attrs\":{\"out_hw\":[1,1]}},"
    "{\"name\":\"f\",\"op\":\"flatten\",\"inputs\":[\"p\"]},"
    "{\"name\":\"fc\",\"op\":\"linear\",\"inputs\":[\"f\"],\"attrs\":{\"out\":2}}],"
    "\"outputs\":[\"fc\"]}";

static void test_roundtrip(void)
{
    sl_graph *g, *h;
    CHECK_OK(sl_graph_from_json(TINY, &g), sl_errmsg());
    if (!g) return;
    CHECK_EQ(g->nnodes, 6);
    CHECK_EQ(g->nclasses, 2);
    /* conv 3x3 stride 2 pad 1 on 9x7 -> 5x4 */
    CHECK_EQ(g->nodes[0].out.d[0], 4);
    CHECK_EQ(g->nodes[0].out.d[1], 5);
    CHECK_EQ(g->nodes[0].out.d[2], 4);
    CHECK_EQ(g->nodes[5].out.ndim, 1);
    CHECK_EQ(g->nodes[5].out.d[0], 2);
    CHECK_EQ(g->nodes[0].nparams, 2); /* weight + bias */
    CHECK_EQ(g->nodes[0].params[0].shape.d[1], 3);
    CHECK_EQ(g->nodes[1].nparams, 4);
    char *json;
    CHECK_OK(sl_graph_to_json(g, &json), sl_errmsg());
    CHECK_OK(sl_graph_from_json(json, &h), sl_errmsg());
    char h1[65], h2[65];
    sl_graph_hash(g, h1);
    sl_graph_hash(h, h2);
    CHECK_STR(h1, h2);
    free(json);
    sl_graph_free(h);
    sl_graph_free(g);
}

/* Replaces the first occurrence of `from` in TINY by `to` and expects the error to mention
 * every string in `want`. */
static void expect_error(const char *from, const char *to, const char *want1, const char *want2)
{
    char *buf = tu_subst(TINY, from, to);
    if (!buf) return;
    sl_graph *g = NULL;
    int rc = sl_graph_from_json(buf, &g);
    free(buf);
    CHECK(rc != SL_OK);
    CHECK(g == NULL);
    CHECK_CONTAINS(sl_errmsg(), want1);
    if (want2) CHECK_CONTAINS(sl_errmsg(), want2);
}

static void test_validation_messages(void)
{
    expect_error("\"op\":\"relu\"", "\"op\":\"swish\"", "r1", "unknown op 'swish'");
    expect_error("\"inputs\":[\"b1\"]", "\"inputs\":[\"nope\"]", "r1", "'nope' is not defined");
    /* b1 <- r1 and r1 <- b1: a cycle */
    expect_error("\"name\":\"b1\",\"op\":\"batch_norm\",\"inputs\":[\"c1\"]",
                 "\"name\":\"b1\",\"op\":\"batch_norm\",\"inputs\":[\"r1\"]", "cycle", NULL);
    /* linear straight on a 4-D activation: shape mismatch naming the node */
    expect_error("\"inputs\":[\"f\"]", "\"inputs\":[\"r1\"]", "node 'fc'", "flat input");
    expect_error("\"format\":\"sl-graph\"", "\"format\":\"keras\"", "format", NULL);
    expect_error("\"version\":1", "\"version\":7", "version", NULL);
    /* A mean per channel for more channels than the 4 the input normalises: refused (the
     * bundle fuzzer found it writing past the 4-slot arrays). */
    expect_error("\"shape\":[3,9,7],\"mean\":[0.5,0.5,0.5]",
                 "\"shape\":[6,9,7],\"mean\":[0.5,0.5,0.5,0.5,0.5,0.5]", "'mean'", "at most 4");
    expect_error("\"k\":3", "\"k\":\"big\"", "attrs.k", "c1");
    expect_error("\"name\":\"b1\"", "\"name\":\"c1\"", "used twice", NULL);
    expect_error("\"outputs\":[\"fc\"]", "\"outputs\":[\"zz\"]", "output 'zz'", NULL);
    sl_graph *g;
    CHECK(sl_graph_from_json("{not json", &g) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "does not parse");
}

static void test_params_checked(void)
{
    sl_graph *g;
    CHECK_OK(sl_graph_from_json(TINY, &g), sl_errmsg());
    if (!g) return;
    /* No parameter values: strict validation names the node and parameter. */
    CHECK(sl_graph_validate(g, 1) != SL_OK);
    CHECK_CONTAINS(sl_errmsg(), "node 'c1'");
    CHECK_OK(sl_graph_alloc_params(g), sl_errmsg());
    CHECK_OK(sl_graph_validate(g, 1), sl_errmsg());
    /* A wrongly shaped parameter. */
    int64_t shp[1] = {3};
    sl_tensor *bad;
    sl_tensor_zeros(shp, 1, SL_DT_F32, &bad);
    sl_tensor_free(g->nodes[1].params[0].t);
    g->nodes[1].params[0].t = bad;
    CHECK(sl_graph_validate(g, 1) == SL_ESHAPE);
    CHECK_CONTAINS(sl_errmsg(), "node 'b1': parameter 'weight' has shape 3, expected 4");
    sl_graph_free(g);
}

/* A hand-made DAG: a -> {b, c}; b -> d; c -> d (add); d -> e; plus a skip e2 = e + a
 * would make only input and the end cut points. */
static void test_cut_points(void)
{
    sl_graph *g = sl_graph_new("dag");
    sl_graph_set_input(g, "x", 2, 4, 4, NULL, NULL);
    const char *x[] = {"x"}, *a[] = {"a"}, *bc[] = {"b", "c"}, *d[] = {"d"}, *ea[] = {"e", "a"};
    sl_graph_add(g, "a", SL_OP_RELU, x, 1, NULL);
    sl_graph_add(g, "b", SL_OP_SIGMOID, a, 1, NULL);
    sl_graph_add(g, "c", SL_OP_RELU6, a, 1, NULL);
    sl_graph_add(g, "d", SL_OP_ADD, bc, 2, NULL);
    sl_graph_add(g, "e", SL_OP_RELU, d, 1, NULL);
    sl_graph_add(g, "f", SL_OP_ADD, ea, 2, NULL);
    sl_graph_add(g, "g", SL_OP_HARDSWISH, (const char *[]){"f"}, 1, NULL);
    sl_graph_add_output(g, "g");
    CHECK_OK(sl_graph_validate(g, 1), sl_errmsg());
    int *idx, n;
    CHECK_OK(sl_graph_cut_points(g, &idx, &n), sl_errmsg());
    /* x, a (everything passes a), f, g; not b, c, d, e (the skip a -> f bypasses them). */
    const char *want[] = {"x", "a", "f", "g"};
    CHECK_EQ(n, 4);
    for (int i = 0; i < n && i < 4; i++)
        CHECK_STR(idx[i] < 0 ? g->input_name : g->nodes[idx[i]].name, want[i]);
    free(idx);
    sl_graph_free(g);

    /* resnet18: input, stem, then both the add and the block output of every block. */
    sl_zoo_opts zo = {.classes = 3, .c = 3, .h = 32, .w = 32};
    CHECK_OK(sl_zoo_build("resnet18", &zo, &g), sl_errmsg());
    CHECK_OK(sl_graph_cut_points(g, &idx, &n), sl_errmsg());
    CHECK_EQ(n, 24);
    CHECK_STR(g->nodes[idx[4]].name, "maxpool");
    CHECK_STR(g->nodes[idx[6]].name, "layer1.0");
    CHECK_STR(g->nodes[idx[n - 1]].name, "fc");
    for (int i = 0; i < n; i++) CHECK(strstr(g->nodes[idx[i] < 0 ? 0 : idx[i]].name, "downsample") == NULL);
    free(idx);
    sl_graph_free(g);

    /* densenet121: no cut inside a dense block; every transition is one. */
    CHECK_OK(sl_zoo_build("densenet121", &zo, &g), sl_errmsg());
    CHECK_OK(sl_graph_cut_points(g, &idx, &n), sl_errmsg());
    int transitions = 0, inside = 0;
    for (int i = 1; i < n; i++) {
        const char *nm = g->nodes[idx[i]].name;
        transitions += strstr(nm, "transition") && strstr(nm, ".pool") != NULL;
        inside += strstr(nm, "denselayer") != NULL;
    }
    CHECK_EQ(transitions, 3);
    CHECK_EQ(inside, 0);
    free(idx);
    sl_graph_free(g);
}

static void test_placeholder(void)
{
    sl_graph *g = sl_graph_new("edge");
    sl_graph_set_input(g, "image", 3, 8, 8, NULL, NULL);
    sl_attrs a;
    sl_attrs_default(&a);
    a.shape.ndim = 3;
    a.shape.d[0] = 4;
    a.shape.d[1] = 2;
    a.shape.d[2] = 2;
    sl_graph_add(g, "wire", SL_OP_PLACEHOLDER, NULL, 0, &a);
    sl_graph_add(g, "r", SL_OP_RELU, (const char *[]){"wire"}, 1, NULL);
    sl_graph_add_output(g, "r");
    CHECK_OK(sl_graph_validate(g, 1), sl_errmsg());
    CHECK_EQ(g->nodes[1].out.d[0], 4);
    int *idx, n;
    CHECK(sl_graph_cut_points(g, &idx, &n) != SL_OK);
    CHECK_CONTAINS(sl_errmsg(), "do not depend on the input");
    char *json;
    sl_graph *h;
    CHECK_OK(sl_graph_to_json(g, &json), sl_errmsg());
    CHECK_OK(sl_graph_from_json(json, &h), sl_errmsg());
    CHECK_EQ(h->nodes[0].a.shape.d[0], 4);
    free(json);
    sl_graph_free(h);
    sl_graph_free(g);
}

int main(void)
{
    test_roundtrip();
    test_validation_messages();
    test_params_checked();
    test_cut_points();
    test_placeholder();
    return TU_DONE();
}
