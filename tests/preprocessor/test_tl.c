/* test_tl.c: TL configurations, insertion at odd sizes (exact shapes back), roles and wiring,
 * the tl object, bundle round trip, and the errors that leave the graph unchanged. */
#include "common/status.h"
#include "dag.h"
#include "model/bundle.h"
#include "model/exec.h"
#include "preprocessor/tl.h"
#include "testutil.h"

#include <stdio.h>

static void test_parse(void)
{
    sl_tl_config c;
    char name[32];
    CHECK_OK(sl_tl_parse_config("pool", &c), sl_errmsg());
    CHECK(c.kind == SL_TL_POOL && c.bits == 32);
    sl_tl_config_name(&c, name, sizeof name);
    CHECK_STR(name, "pool");
    CHECK_OK(sl_tl_parse_config("conv-r4-s2-b8", &c), sl_errmsg());
    CHECK(c.kind == SL_TL_CONV && c.r == 4 && c.s == 2 && c.bits == 8);
    sl_tl_config_name(&c, name, sizeof name);
    CHECK_STR(name, "conv-r4-s2-b8");
    CHECK_OK(sl_tl_parse_config("conv-r1-s1-b32", &c), sl_errmsg());
    CHECK(c.r == 1 && c.s == 1 && c.bits == 32);
    static const char *const bad[] = {
        "conv", "conv-r0-s2-b8", "conv-r4-s2-b16", "conv-r4-s0-b8", "conv-r4-s2-b8x", "pooling",
        "",     "conv-r4-s9-b8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = (sl_tl_config){SL_TL_POOL, 7, 7, 7};
        CHECK_EQ(sl_tl_parse_config(bad[i], &c), SL_EARG);
        CHECK_CONTAINS(sl_errmsg(), "expected 'pool' or 'conv-r<R>-s<S>-b<BITS>'");
        CHECK(c.r == 7); /* unchanged on error */
    }
}

/* x (3 x h x w) -> conv1 (6 ch) -> r (relu) -> conv2 -> pool -> flat -> fc */
static sl_graph *chain(int64_t h, int64_t w)
{
    sl_graph *g = sl_graph_new("chain");
    sl_graph_set_input(g, "x", 3, h, w, NULL, NULL);
    sl_attrs a;
    sl_attrs_window(&a, 3, 1, 1);
    a.out = 6;
    sl_graph_add(g, "conv1", SL_OP_CONV2D, (const char *[]){"x"}, 1, &a);
    sl_graph_add(g, "r", SL_OP_RELU, (const char *[]){"conv1"}, 1, NULL);
    sl_graph_add(g, "conv2", SL_OP_CONV2D, (const char *[]){"r"}, 1, &a);
    sl_attrs_default(&a);
    a.out_hw[0] = a.out_hw[1] = 1;
    sl_graph_add(g, "pool", SL_OP_ADAPTIVE_AVG_POOL, (const char *[]){"conv2"}, 1, &a);
    sl_graph_add(g, "flat", SL_OP_FLATTEN, (const char *[]){"pool"}, 1, NULL);
    sl_attrs_default(&a);
    a.out = 2;
    sl_graph_add(g, "fc", SL_OP_LINEAR, (const char *[]){"flat"}, 1, &a);
    sl_graph_add_output(g, "fc");
    if (sl_graph_validate(g, 0) || sl_graph_alloc_params(g)) return NULL;
    return g;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* Runs g from its input to `to` on a random batch of 2 in eval (or train) mode. */
static int run_to(sl_graph *g, const char *to, int train, sl_value *out)
{
    int64_t shp[4] = {2, g->input_shape.d[0], g->input_shape.d[1], g->input_shape.d[2]};
    sl_tensor *x = NULL;
    sl_exec *e = NULL;
    sl_exec_opts o = {.train = train};
    int rc = sl_tensor_randn(shp, 4, &x);
    if (!rc) rc = sl_exec_new(g, NULL, 0, &to, 1, &o, &e);
    sl_value in = {.t = x};
    if (!rc) rc = sl_exec_run(e, &in, out);
    if (e) sl_exec_free(e);
    sl_tensor_free(x);
    return rc;
}

static void check_shape(const sl_tensor *t, int64_t n, int64_t c, int64_t h, int64_t w,
                        const char *what)
{
    int64_t s[4] = {0};
    int nd = 0;
    sl_tensor_shape(t, s, 4, &nd);
    TU_CHECK_MSG(nd == 4 && s[0] == n && s[1] == c && s[2] == h && s[3] == w,
                 "%s: got %dd %lldx%lldx%lldx%lld, want %lldx%lldx%lldx%lld", what, nd,
                 (long long)s[0], (long long)s[1], (long long)s[2], (long long)s[3], (long long)n,
                 (long long)c, (long long)h, (long long)w);
}

static void test_shapes(int64_t h, int64_t w, const char *id)
{
    char what[96];
    snprintf(what, sizeof what, "%s at %lldx%lld", id, (long long)h, (long long)w);
    sl_graph *g = chain(h, w);
    sl_tl_config c;
    CHECK_OK(sl_tl_parse_config(id, &c), sl_errmsg());
    char before[65];
    sl_graph_hash(g, before);
    sl_manual_seed(3);
    CHECK_OK(sl_tl_insert(g, "r", &c), sl_errmsg());
    sl_tl_info t;
    CHECK_OK(sl_tl_info_get(g, &t), sl_errmsg());
    CHECK_STR(t.cut, "r");
    CHECK_STR(t.decoder_out, "tl.dec.out");
    CHECK_STR(t.config_name, id);
    CHECK_STR(t.model_hash, before);
    CHECK_STR(t.wire, c.kind == SL_TL_POOL ? "tl.enc.pool"
                      : c.bits == 8        ? "tl.quant"
                                           : "tl.enc.down_relu");
    /* Static shapes: the decoder restores C x H x W exactly; the wire is reduced. */
    sl_shape ds, ws;
    CHECK_OK(sl_graph_tensor_shape(g, "tl.dec.out", &ds), sl_errmsg());
    CHECK_OK(sl_graph_tensor_shape(g, t.wire, &ws), sl_errmsg());
    TU_CHECK_MSG(ds.ndim == 3 && ds.d[0] == 6 && ds.d[1] == h && ds.d[2] == w, "%s: decoder shape",
                 what);
    int64_t wc = c.kind == SL_TL_POOL ? 6 : ceil_div(6, c.r), st = c.kind == SL_TL_POOL ? 2 : c.s;
    int64_t wh = h > 1 ? ceil_div(h, st) : 1, ww = w > 1 ? ceil_div(w, st) : 1;
    TU_CHECK_MSG(ws.d[0] == wc && ws.d[1] == wh && ws.d[2] == ww, "%s: wire %lldx%lldx%lld", what,
                 (long long)ws.d[0], (long long)ws.d[1], (long long)ws.d[2]);
    /* Wiring: conv2 reads the reconstruction; the encoder reads X; roles by part. */
    int k = sl_graph_find(g, "conv2");
    CHECK(k >= 0 && !strcmp(g->nodes[k].inputs[0], "tl.dec.out"));
    int first = sl_graph_find(g, c.kind == SL_TL_POOL ? "tl.enc.pool" : "tl.enc.reduce");
    CHECK(first >= 0 && !strcmp(g->nodes[first].inputs[0], "r"));
    int ntl = 0, roles_ok = 1;
    for (int i = 0; i < g->nnodes; i++) {
        const sl_node *n = &g->nodes[i];
        if (strncmp(n->name, "tl.", 3)) {
            roles_ok &= n->role[0] == '\0';
            continue;
        }
        ntl++;
        int enc = !strncmp(n->name, "tl.enc.", 7) || !strcmp(n->name, "tl.quant");
        roles_ok &= !strcmp(n->role, enc ? "tl_encoder" : "tl_decoder");
    }
    CHECK(roles_ok);
    CHECK_EQ(ntl, c.kind == SL_TL_POOL ? 2 : 10 + (c.bits == 8 ? 2 : 0));
    /* Running: eval gives uint8 on the wire for b8, and the decoder output has X's shape in eval
     * and train (fake quantisation) mode. */
    sl_value v = {0};
    CHECK_OK(run_to(g, t.wire, 0, &v), sl_errmsg());
    CHECK_EQ(v.quantized, c.bits == 8);
    CHECK(sl_tensor_dtype(v.t) == (c.bits == 8 ? SL_DT_U8 : SL_DT_F32));
    check_shape(v.t, 2, wc, wh, ww, what);
    sl_value_clear(&v);
    for (int train = 0; train < 2; train++) {
        CHECK_OK(run_to(g, "tl.dec.out", train, &v), sl_errmsg());
        check_shape(v.t, 2, 6, h, w, what);
        sl_value_clear(&v);
    }
    CHECK_OK(run_to(g, "fc", 0, &v), sl_errmsg());
    sl_value_clear(&v);
    /* Fresh weights: kaiming-normal convs (not all zero), batch norm weight 1. */
    if (c.kind == SL_TL_CONV) {
        double lo, hi;
        sl_node *n = &g->nodes[sl_graph_find(g, "tl.enc.reduce")];
        CHECK_OK(sl_minmax(sl_node_param(n, "weight")->t, &lo, &hi), sl_torch_last_error());
        CHECK(lo < 0 && hi > 0);
        n = &g->nodes[sl_graph_find(g, "tl.dec.up_bn")];
        CHECK_OK(sl_minmax(sl_node_param(n, "weight")->t, &lo, &hi), sl_torch_last_error());
        CHECK(lo == 1 && hi == 1);
    }
    sl_graph_free(g);
}

static void test_bundle_round_trip(void)
{
    sl_graph *g = chain(9, 7);
    sl_tl_config c = {SL_TL_CONV, 2, 2, 8};
    CHECK_OK(sl_tl_insert(g, "r", &c), sl_errmsg());
    const char *dir = tu_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/tl.h5", dir);
    sl_bundle *b = sl_bundle_new(g), *r = NULL;
    CHECK_OK(sl_bundle_write(path, b), sl_errmsg());
    CHECK_OK(sl_bundle_read(path, &r), sl_errmsg());
    sl_tl_info t;
    CHECK_OK(r ? sl_tl_info_get(r->graph, &t) : SL_EIO, sl_errmsg());
    CHECK_STR(t.wire, "tl.quant");
    CHECK_STR(t.config_name, "conv-r2-s2-b8");
    int q = r ? sl_graph_find(r->graph, "tl.quant") : -2;
    CHECK(q >= 0 && !strcmp(r->graph->nodes[q].role, "tl_encoder"));
    sl_bundle_free(b);
    sl_bundle_free(r);
    tu_rmtree(dir);
}

static void test_errors(void)
{
    sl_graph *g = dag_build(8, 8);
    char before[65], after[65];
    sl_graph_hash(g, before);
    int nn = g->nnodes;
    sl_tl_config c = {SL_TL_CONV, 4, 2, 8};
    CHECK_EQ(sl_tl_insert(g, "nope", &c), SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "has no tensor 'nope'");
    CHECK_CONTAINS(sl_errmsg(), "cut points are: x, a, b, h, i, p, fl, fc");
    CHECK_EQ(sl_tl_insert(g, "c", &c), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "'c' is not a single-tensor cut");
    CHECK_EQ(sl_tl_insert(g, "f", &c), SL_EARG);
    CHECK_EQ(sl_tl_insert(g, "fc", &c), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "'fc' is an output");
    CHECK_EQ(sl_tl_insert(g, "fl", &c), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "needs a C x H x W tensor");
    sl_graph_hash(g, after);
    CHECK_STR(before, after);
    CHECK_EQ(g->nnodes, nn);
    CHECK(g->tl_json == NULL);
    /* A second TL is refused. */
    CHECK_OK(sl_tl_insert(g, "b", &c), sl_errmsg());
    CHECK_EQ(sl_tl_insert(g, "h", &c), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "already has a transfer layer");
    sl_graph_free(g);
    /* A TL at the model input is allowed: every path starts there. */
    g = dag_build(8, 8);
    CHECK_OK(sl_tl_insert(g, "x", &(sl_tl_config){SL_TL_POOL, 1, 2, 32}), sl_errmsg());
    CHECK(sl_graph_find(g, "a") >= 0 &&
          !strcmp(g->nodes[sl_graph_find(g, "a")].inputs[0], "tl.dec.out"));
    sl_graph_free(g);
}

int main(void)
{
    test_parse();
    static const int64_t sizes[][2] = {{7, 7}, {15, 9}, {8, 8}, {1, 5}};
    static const char *const ids[] = {"pool", "conv-r4-s2-b8", "conv-r2-s2-b32", "conv-r3-s1-b8",
                                      "conv-r1-s3-b8"};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++)
            test_shapes(sizes[i][0], sizes[i][1], ids[k]);
    test_bundle_round_trip();
    test_errors();
    return TU_DONE();
}
