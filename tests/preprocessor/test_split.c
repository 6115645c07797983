/* test_split.c: device.h5 then edge.h5 gives the whole model's output — to float rounding for
 * float splits (single cuts of resnet18, multi-tensor DAG cuts: the compiled inference path
 * picks kernels by what a module holds, see model/exec.h), exactly for TL splits (8-bit wire
 * included); pair id and wire description; splits that cannot be made. */
#include "common/status.h"
#include "dag.h"
#include "model/bundle.h"
#include "model/exec.h"
#include "model/zoo.h"
#include "preprocessor/split.h"
#include "preprocessor/tl.h"
#include "testutil.h"
#include "zoo_fixture.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>

static const char *tmp;

/* Largest difference of a split run to the whole, relative to the largest |output| (at least
 * 1): model/exec.h's tolerance for the compiled path. */
#define SPLIT_TOL 1e-5

static sl_tensor *input_for(const sl_graph *g)
{
    int64_t s[4] = {3, g->input_shape.d[0], g->input_shape.d[1], g->input_shape.d[2]};
    sl_tensor *x = NULL;
    sl_manual_seed(5);
    sl_tensor_randn(s, 4, &x);
    return x;
}

/* Output of g (whole, eval) on x; NULL on error. */
static sl_tensor *run_whole(sl_graph *g, const sl_tensor *x, int fold)
{
    sl_exec *e = NULL;
    sl_exec_opts o = {.fold_bn = fold};
    sl_value in = {.t = (sl_tensor *)x}, out = {0};
    int rc = sl_exec_new(g, NULL, 0, NULL, 0, &o, &e);
    if (!rc) rc = sl_exec_run(e, &in, &out);
    CHECK_OK(rc, sl_errmsg());
    if (e) sl_exec_free(e);
    return out.t;
}

static int is_hex32(const char *s)
{
    if (strlen(s) != 32) return 0;
    for (int i = 0; i < 32; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return 0;
    return 1;
}

/* Splits g at `at`, writes and reads both halves back, runs device then edge on x and returns
 * the max abs difference to `want` over max(1, max |want|) (-1 on error). *wire_out receives the device outputs' first
 * value's quantized flag. */
static double split_run(sl_graph *g, const char *const *at, int n, const sl_tensor *x,
                        const sl_tensor *want, int fold, int *quantized)
{
    sl_bundle *d = NULL, *e = NULL, *rd = NULL, *re = NULL;
    int rc = sl_split(g, at, n, &d, &e);
    CHECK_OK(rc, sl_errmsg());
    if (rc) return -1;
    char dp[600], ep[600];
    snprintf(dp, sizeof dp, "%s/device.h5", tmp);
    snprintf(ep, sizeof ep, "%s/edge.h5", tmp);
    CHECK_OK(sl_bundle_write(dp, d), sl_errmsg());
    CHECK_OK(sl_bundle_write(ep, e), sl_errmsg());
    CHECK_OK(sl_bundle_read(dp, &rd), sl_errmsg());
    CHECK_OK(sl_bundle_read(ep, &re), sl_errmsg());
    double diff = -1, m;
    if (rd && re) {
        CHECK_STR(rd->role, "device");
        CHECK_STR(re->role, "edge");
        CHECK(is_hex32(rd->pair_id));
        CHECK_STR(rd->pair_id, re->pair_id);
        CHECK(rd->wire_json && re->wire_json && !strcmp(rd->wire_json, re->wire_json));
        CHECK_EQ(re->graph->nclasses, g->nclasses);
        CHECK_EQ(rd->graph->noutputs, n);
        for (int i = 0; i < n; i++) {
            CHECK_STR(rd->graph->outputs[i], at[i]);
            CHECK(re->graph->nodes[i].op == SL_OP_PLACEHOLDER &&
                  !strcmp(re->graph->nodes[i].name, at[i]));
        }
        sl_exec *de = NULL, *ee = NULL;
        sl_exec_opts o = {.fold_bn = fold};
        sl_value in = {.t = (sl_tensor *)x}, wire[8] = {{0}}, out = {0};
        rc = sl_exec_new(rd->graph, NULL, 0, NULL, 0, &o, &de);
        if (!rc) rc = sl_exec_run(de, &in, wire);
        if (!rc) rc = sl_exec_new(re->graph, at, n, NULL, 0, &o, &ee);
        if (!rc) rc = sl_exec_run(ee, wire, &out);
        CHECK_OK(rc, sl_errmsg());
        if (!rc && !sl_max_abs_diff(out.t, want, &diff, &m)) *quantized = wire[0].quantized;
        for (int i = 0; i < n; i++)
            sl_value_clear(&wire[i]);
        sl_value_clear(&out);
        if (de) sl_exec_free(de);
        if (ee) sl_exec_free(ee);
    }
    sl_bundle_free(d);
    sl_bundle_free(e);
    sl_bundle_free(rd);
    sl_bundle_free(re);
    return diff < 0 ? diff : diff / (m > 1 ? m : 1);
}

static void test_resnet_cuts(void)
{
    sl_graph *g = tz_zoo("resnet18", 5, 32, 11, 1);
    sl_tensor *x = input_for(g);
    sl_tensor *want = run_whole(g, x, 0), *want_fold = run_whole(g, x, 1);
    static const char *const cuts[] = {"conv1",        "bn1",      "maxpool",
                                       "layer1.0.add", "layer2.1", "layer3.0",
                                       "layer4.1",     "avgpool",  "flatten"};
    int q;
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        double d = split_run(g, &cuts[i], 1, x, want, 0, &q);
        TU_CHECK_MSG(d >= 0 && d <= SPLIT_TOL, "resnet18 split at %s: relative diff %g", cuts[i], d);
        CHECK_EQ(q, 0);
    }
    /* With batch norm folded on both sides too, at cuts that do not separate a conv from its
     * batch norm. */
    static const char *const post[] = {"relu", "layer1.1", "layer3.0", "avgpool"};
    for (size_t i = 0; i < sizeof post / sizeof post[0]; i++) {
        double d = split_run(g, &post[i], 1, x, want_fold, 1, &q);
        TU_CHECK_MSG(d >= 0 && d <= SPLIT_TOL, "resnet18 folded split at %s: relative diff %g", post[i], d);
    }
    /* A two-tensor cut inside layer3.0: its main branch after relu1 and its downsample. */
    const char *two[] = {"layer3.0.relu1", "layer3.0.downsample.1"};
    double d = split_run(g, two, 2, x, want, 0, &q);
    TU_CHECK_MSG(d >= 0 && d <= SPLIT_TOL, "resnet18 two-tensor split: relative diff %g", d);
    sl_tensor_free(want);
    sl_tensor_free(want_fold);
    sl_tensor_free(x);
    sl_graph_free(g);
}

static void test_dag_cuts(void)
{
    sl_graph *g = dag_build(9, 7);
    sl_tensor *x = input_for(g);
    sl_tensor *want = run_whole(g, x, 0);
    int q;
    const char *two[] = {"f", "b"}, *three[] = {"c", "b", "d"}, *one[] = {"h"};
    double d = split_run(g, two, 2, x, want, 0, &q);
    TU_CHECK_MSG(d >= 0 && d <= SPLIT_TOL, "dag {f, b}: %g", d);
    d = split_run(g, three, 3, x, want, 0, &q);
    TU_CHECK_MSG(d >= 0 && d <= SPLIT_TOL, "dag {c, b, d}: %g", d);
    d = split_run(g, one, 1, x, want, 0, &q);
    TU_CHECK_MSG(d >= 0 && d <= SPLIT_TOL, "dag {h}: %g", d);
    /* The wire description of {f, b}. */
    sl_bundle *dv = NULL, *ed = NULL;
    CHECK_OK(sl_split(g, two, 2, &dv, &ed), sl_errmsg());
    cJSON *w = dv ? cJSON_Parse(dv->wire_json) : NULL;
    CHECK(w != NULL);
    const cJSON *ts = cJSON_GetObjectItem(w, "tensors");
    CHECK_EQ(cJSON_GetArraySize(ts), 2);
    const cJSON *t0 = cJSON_GetArrayItem(ts, 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(t0, "name")), "f");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(t0, "dtype")), "float32");
    CHECK_EQ(cJSON_GetObjectItem(t0, "bytes_per_image")->valuedouble, 4 * 9 * 7 * 4);
    CHECK_EQ(cJSON_GetObjectItem(w, "bytes_per_image")->valuedouble, 2 * 4 * 9 * 7 * 4);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(w, "tl")));
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(w, "format")), "sl-wire");
    char h[65];
    sl_graph_hash(g, h);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(w, "model_hash")), h);
    cJSON_Delete(w);
    /* Two splits of the same model do not share a pair id. */
    sl_bundle *dv2 = NULL, *ed2 = NULL;
    CHECK_OK(sl_split(g, two, 2, &dv2, &ed2), sl_errmsg());
    CHECK(dv && dv2 && strcmp(dv->pair_id, dv2->pair_id));
    sl_bundle_free(dv);
    sl_bundle_free(ed);
    sl_bundle_free(dv2);
    sl_bundle_free(ed2);
    sl_tensor_free(want);
    sl_tensor_free(x);
    sl_graph_free(g);
}

static void test_tl_splits(void)
{
    static const char *const ids[] = {"conv-r4-s2-b8", "pool", "conv-r2-s1-b32"};
    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) {
        sl_graph *g = tz_zoo("resnet18", 5, 32, 11, 1);
        sl_tl_config c;
        sl_tl_parse_config(ids[k], &c);
        CHECK_OK(sl_tl_insert(g, "layer2.1", &c), sl_errmsg());
        sl_tl_info t;
        CHECK_OK(sl_tl_info_get(g, &t), sl_errmsg());
        sl_tensor *x = input_for(g);
        sl_tensor *want = run_whole(g, x, 0);
        const char *at = t.wire;
        int q = -1;
        double d = split_run(g, &at, 1, x, want, 0, &q);
        /* The device quantises exactly as the whole graph's quantize node does (scale from the
         * batch's min/max), so the edge sees the same uint8 values: no difference at all. */
        TU_CHECK_MSG(d == 0, "%s split: max abs diff %g", ids[k], d);
        CHECK_EQ(q, c.bits == 8);
        sl_bundle *dv = NULL, *ed = NULL;
        CHECK_OK(sl_split(g, &at, 1, &dv, &ed), sl_errmsg());
        cJSON *w = dv ? cJSON_Parse(dv->wire_json) : NULL;
        const cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItem(w, "tensors"), 0);
        const cJSON *tl = cJSON_GetObjectItem(w, "tl");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(tl, "config")), ids[k]);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(w, "cut"), 0)),
                  "layer2.1");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(w, "model_hash")), t.model_hash);
        /* layer2.1 is 128 x 4 x 4 at 32 x 32. */
        double bytes = c.kind == SL_TL_POOL ? 128 * 2 * 2 * 4
                       : c.bits == 8        ? 32 * 2 * 2
                                            : 64 * 4 * 4 * 4;
        CHECK_EQ(cJSON_GetObjectItem(t0, "bytes_per_image")->valuedouble, bytes);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(t0, "dtype")),
                  c.bits == 8 ? "uint8" : "float32");
        if (c.bits == 8)
            CHECK_STR(cJSON_GetStringValue(
                          cJSON_GetObjectItem(cJSON_GetObjectItem(t0, "quantization"), "scheme")),
                      "per_tensor_affine");
        /* Device holds the encoder, the edge the decoder. */
        int enc_on_dev = dv && sl_graph_find(dv->graph, t.wire) >= 0 &&
                         sl_graph_find(dv->graph, "tl.dec.out") == -2;
        int dec_on_edge = ed && sl_graph_find(ed->graph, "tl.dec.out") >= 0 &&
                          sl_graph_find(ed->graph, "layer2.1") == -2;
        CHECK(enc_on_dev && dec_on_edge);
        cJSON_Delete(w);
        /* Only the wire tensor is a valid split of a TL graph. */
        const char *other = "layer3.0";
        sl_bundle *a = NULL, *b = NULL;
        CHECK_EQ(sl_split(g, &other, 1, &a, &b), SL_EARG);
        CHECK_CONTAINS(sl_errmsg(), "split it at its wire tensor");
        CHECK(a == NULL && b == NULL);
        sl_bundle_free(dv);
        sl_bundle_free(ed);
        sl_tensor_free(want);
        sl_tensor_free(x);
        sl_graph_free(g);
    }
}

static void test_bad_splits(void)
{
    sl_graph *g = dag_build(8, 8);
    sl_bundle *d = NULL, *e = NULL;
    const char *cd[] = {"c", "d"}, *ab[] = {"a", "b"}, *x[] = {"x"}, *fc[] = {"fc"},
               *no[] = {"nope"}, *bb[] = {"b", "b"};
    CHECK_EQ(sl_split(g, cd, 2, &d, &e), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "do not separate the input from the outputs");
    CHECK_CONTAINS(sl_errmsg(),
                   "the path x -> a -> b -> h -> i -> p -> fl -> fc does not cross them");
    CHECK_EQ(sl_split(g, ab, 2, &d, &e), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "tensor 'a' is not needed by the edge");
    CHECK_EQ(sl_split(g, x, 1, &d, &e), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "'x' is the model input");
    const char *xb[] = {"b", "x"};
    CHECK_EQ(sl_split(g, xb, 2, &d, &e), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "the model input 'x' crosses together with other tensors");
    CHECK_EQ(sl_split(g, fc, 1, &d, &e), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "'fc' is a model output");
    CHECK_EQ(sl_split(g, no, 1, &d, &e), SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "no tensor 'nope'");
    CHECK_EQ(sl_split(g, bb, 2, &d, &e), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "listed twice");
    CHECK(d == NULL && e == NULL);
    sl_graph_free(g);
}

int main(void)
{
    tmp = tu_tmpdir();
    test_resnet_cuts();
    test_dag_cuts();
    test_tl_splits();
    test_bad_splits();
    tu_rmtree(tmp);
    return TU_DONE();
}
