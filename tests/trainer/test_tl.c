/* test_tl.c: TL stage 1 lowers the reconstruction error and touches nothing but the TL; stage 2
 * keeps the device side bit-identical and recovers the accuracy; a device + edge pair evaluated
 * with the real 8-bit wire agrees with the whole model and counts the wire bytes. The TL and the
 * split are built by hand after docs/formats/tl.md, independently of the preprocessor. */
#include "common/status.h"
#include "datasets/loader.h"
#include "model/bundle.h"
#include "model/exec.h"
#include "testutil.h"
#include "trainer/eval.h"
#include "trainer/train.h"
#include "trainer_fixture.h"

#include <cjson/cJSON.h>

static sl_node *add(sl_graph *g, const char *name, sl_op op, const char *in, const char *role,
                    const sl_attrs *a)
{
    sl_node *n = sl_graph_add(g, name, op, &in, 1, a);
    if (n) snprintf(n->role, sizeof n->role, "%s", role);
    return n;
}

/* tinycnn with a conv TL at pool1 (16x16x16): 1x1 conv to 4 channels + BN + ReLU, an 8-bit
 * wire, and a 1x1 conv back to 16 channels that conv2 now reads. */
static sl_graph *insert_tl(const sl_graph *base)
{
    sl_graph *g = NULL;
    if (sl_graph_clone(base, &g)) return NULL;
    sl_attrs a;
    sl_attrs_window(&a, 1, 1, 0);
    a.out = 4;
    a.bias = 0;
    add(g, "tl.enc.conv", SL_OP_CONV2D, "pool1", "tl_encoder", &a);
    sl_attrs_default(&a);
    add(g, "tl.enc.bn", SL_OP_BATCH_NORM, "tl.enc.conv", "tl_encoder", &a);
    add(g, "tl.enc.relu", SL_OP_RELU, "tl.enc.bn", "tl_encoder", &a);
    a.bits = 8;
    add(g, "tl.quant", SL_OP_QUANTIZE, "tl.enc.relu", "tl_encoder", &a);
    sl_attrs_default(&a);
    add(g, "tl.dequant", SL_OP_DEQUANTIZE, "tl.quant", "tl_decoder", &a);
    sl_attrs_window(&a, 1, 1, 0);
    a.out = 16;
    add(g, "tl.dec.out", SL_OP_CONV2D, "tl.dequant", "tl_decoder", &a);
    sl_node *c2 = &g->nodes[sl_graph_find(g, "conv2")];
    free(c2->inputs[0]);
    c2->inputs[0] = strdup("tl.dec.out");
    g->tl_json =
        strdup("{\"kind\":\"conv\",\"config\":\"conv-r4-s1-b8\",\"r\":4,\"s\":1,\"bits\":8,"
               "\"cut\":\"pool1\",\"wire\":\"tl.quant\",\"decoder_out\":\"tl.dec.out\"}");
    if (sl_graph_validate(g, 0) || sl_graph_alloc_params(g)) {
        fprintf(stderr, "insert: %s\n", sl_errmsg());
        return NULL;
    }
    sl_manual_seed(7);
    sl_init_kaiming_normal_(g->nodes[sl_graph_find(g, "tl.enc.conv")].params[0].t, 1);
    sl_init_kaiming_normal_(g->nodes[sl_graph_find(g, "tl.dec.out")].params[0].t, 1);
    return g;
}

/* Copies node parameters of `from` into g by name. */
static int copy_params(sl_graph *g, const sl_graph *from)
{
    for (int i = 0; i < g->nnodes; i++) {
        int j = sl_graph_find(from, g->nodes[i].name);
        for (int k = 0; j >= 0 && k < g->nodes[i].nparams; k++) {
            sl_param *q = sl_node_param(&from->nodes[j], g->nodes[i].params[k].name);
            if (!q || sl_tensor_copy_(g->nodes[i].params[k].t, q->t)) return -1;
        }
    }
    return 0;
}

/* The device half (input .. wire) and the edge half (a placeholder for the wire, then the rest),
 * made by editing the graph JSON. */
static int split(const sl_graph *g, sl_graph **dev, sl_graph **edge)
{
    char *js = NULL;
    if (sl_graph_to_json(g, &js)) return -1;
    unsigned char dev_node[256] = {0};
    int w = sl_graph_find(g, "tl.quant");
    dev_node[w] = 1;
    for (int i = w; i >= 0; i--)
        for (int k = 0; dev_node[i] && k < g->nodes[i].ninputs; k++)
            if (g->nodes[i].in_idx[k] >= 0) dev_node[g->nodes[i].in_idx[k]] = 1;
    cJSON *d = cJSON_Parse(js), *e = cJSON_Parse(js);
    free(js);
    cJSON *dn = cJSON_GetObjectItem(d, "nodes"), *en = cJSON_GetObjectItem(e, "nodes");
    for (int i = g->nnodes - 1; i >= 0; i--) {
        if (!dev_node[i])
            cJSON_DeleteItemFromArray(dn, i);
        else if (i != w)
            cJSON_DeleteItemFromArray(en, i);
    }
    cJSON_ReplaceItemInObject(d, "outputs",
                              cJSON_CreateStringArray((const char *[]){"tl.quant"}, 1));
    cJSON *ph = NULL;
    for (int i = 0; i < cJSON_GetArraySize(en); i++)
        if (!strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(en, i), "name")->valuestring,
                    "tl.quant"))
            ph = cJSON_GetArrayItem(en, i);
    cJSON_DeleteItemFromObject(ph, "inputs");
    cJSON_AddItemToObject(ph, "inputs", cJSON_CreateArray());
    cJSON_ReplaceItemInObject(ph, "op", cJSON_CreateString("placeholder"));
    cJSON_DeleteItemFromObject(ph, "attrs");
    cJSON *at = cJSON_AddObjectToObject(ph, "attrs");
    cJSON_AddItemToObject(at, "shape", cJSON_CreateIntArray((const int[]){4, 16, 16}, 3));
    char *ds = cJSON_PrintUnformatted(d), *es = cJSON_PrintUnformatted(e);
    cJSON_Delete(d);
    cJSON_Delete(e);
    int rc = sl_graph_from_json(ds, dev) || sl_graph_from_json(es, edge) ||
             sl_graph_alloc_params(*dev) || sl_graph_alloc_params(*edge) || copy_params(*dev, g) ||
             copy_params(*edge, g);
    if (rc) fprintf(stderr, "split: %s\n", sl_errmsg());
    free(ds);
    free(es);
    return rc;
}

/* Mean MSE(decoder_out, X) of g over the val split. */
static double recon_mse(sl_graph *g)
{
    sl_dataset *ds = td_open_val();
    if (!ds) return -1;
    sl_loader *l = td_val_loader(ds, g->mean[0], g->std[0], 64);
    const char *to[2] = {"pool1", "tl.dec.out"};
    sl_exec *e = NULL;
    sl_exec_opts eo = {0};
    sl_exec_new(g, NULL, 0, to, 2, &eo, &e);
    sl_batch b;
    double sum = 0;
    int64_t n = 0;
    while (l && e && sl_loader_next(l, &b) == SL_OK) {
        int64_t xs[4] = {b.n, 1, 32, 32};
        sl_tensor *x = NULL, *m = NULL;
        sl_value in = {0}, out[2] = {{0}};
        sl_tensor_from_buffer(b.x, xs, 4, SL_DT_F32, &x);
        in.t = x;
        double v = 0;
        if (!sl_exec_run(e, &in, out) && !sl_mse_loss(out[1].t, out[0].t, &m))
            sl_tensor_item(m, &v);
        sum += v * b.n;
        n += b.n;
        sl_tensor_free(x);
        sl_tensor_free(m);
        sl_value_clear(&out[0]);
        sl_value_clear(&out[1]);
    }
    sl_exec_free(e);
    sl_loader_free(l);
    sl_dataset_free(ds);
    return n ? sum / (double)n : -1;
}

static double pdiff(const sl_graph *a, const sl_graph *b, const char *node, int k)
{
    int i = sl_graph_find(a, node), j = sl_graph_find(b, node);
    double d = -1;
    if (i >= 0 && j >= 0)
        sl_max_abs_diff(a->nodes[i].params[k].t, b->nodes[j].params[k].t, &d, NULL);
    return d;
}

/* Checks that every parameter of the n nodes `names` is the same in a and b. */
static void check_unchanged(const sl_graph *a, const sl_graph *b, const char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        const sl_node *nd = &b->nodes[sl_graph_find(b, names[i])];
        for (int k = 0; k < nd->nparams; k++)
            TU_CHECK_MSG(pdiff(a, b, names[i], k) == 0, "%s.%s changed", names[i],
                         nd->params[k].name);
    }
}

int main(void)
{
    if (td_setup(tu_tmpdir(), 30, 10)) return 1;
    char base_p[800], tl_p[800], s1_p[800], s1b_p[800], s2_p[800];
    td_path(base_p, "base.h5");
    td_path(tl_p, "tl.h5");
    td_path(s1_p, "stage1.h5");
    td_path(s1b_p, "stage1b.h5");
    td_path(s2_p, "stage2.h5");
    sl_train_opts o;
    td_base_opts(&o, base_p);
    sl_train_result r;
    CHECK_OK(sl_train_fit(&o, &r), sl_errmsg());
    sl_bundle *base = td_read_bundle(base_p);
    if (!base) return TU_DONE();
    double base_acc = td_val_accuracy(base->graph, 32);

    /* A TL model: the base's weights, a fresh TL. */
    sl_bundle *tlb = sl_bundle_new(insert_tl(base->graph));
    CHECK(tlb->graph != NULL);
    if (!tlb->graph) return TU_DONE();
    CHECK_OK(sl_bundle_write(tl_p, tlb), sl_errmsg());
    double before = recon_mse(tlb->graph);

    /* Stage 1: only the TL learns, towards X. */
    td_opts(&o, s1_p);
    o.model = tl_p;
    o.tl_stage = 1;
    o.epochs = 12;
    o.optim = SL_OPTIM_ADAM;
    o.lr = 0.01;
    CHECK_OK(sl_train_fit(&o, &r), sl_errmsg());
    sl_bundle *s1 = td_read_bundle(s1_p);
    if (!s1) return TU_DONE();
    double after = recon_mse(s1->graph);
    TU_CHECK_MSG(after >= 0 && after < 0.5 * before, "reconstruction MSE %.5f -> %.5f", before,
                 after);
    CHECK_NEAR(r.best_val_mse, after, 1e-4 + 0.05 * after);
    const char *kept[] = {"conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "fc"};
    check_unchanged(base->graph, s1->graph, kept, 7);
    CHECK(pdiff(tlb->graph, s1->graph, "tl.enc.conv", 0) > 0);
    CHECK(pdiff(tlb->graph, s1->graph, "tl.dec.out", 0) > 0);
    double s1_acc = td_val_accuracy(s1->graph, 32);

    /* Stage 1 matching a later tensor too. */
    o.out = s1b_p;
    o.epochs = 1;
    o.tl_stages_at = "relu2";
    CHECK_OK(sl_train_fit(&o, &r), sl_errmsg());
    o.tl_stages_at = "nosuch";
    CHECK_EQ(sl_train_fit(&o, &r), SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "nosuch");
    /* "@output" names the model's output (its logits) whatever it is called. */
    o.tl_stages_at = "relu2,@output";
    CHECK_OK(sl_train_fit(&o, &r), sl_errmsg());
    o.tl_stages_at = "@outputs";
    CHECK_EQ(sl_train_fit(&o, &r), SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "'@outputs' is not a node");

    /* Stage 2: distillation from the base; the device side (head + encoder) stays. */
    td_stage2_opts(&o, s2_p, s1_p, base_p);
    o.epochs = 4;
    o.lr = 0.01;
    CHECK_OK(sl_train_fit(&o, &r), sl_errmsg());
    sl_bundle *s2 = td_read_bundle(s2_p);
    if (!s2) return TU_DONE();
    const char *device[] = {"conv1", "bn1", "tl.enc.conv", "tl.enc.bn"};
    check_unchanged(s1->graph, s2->graph, device, 4);
    CHECK(pdiff(s1->graph, s2->graph, "tl.dec.out", 0) > 0);
    CHECK(pdiff(s1->graph, s2->graph, "fc", 0) > 0);
    double s2_acc = td_val_accuracy(s2->graph, 32);
    fprintf(stderr, "val accuracy: base %.3f, TL after stage 1 %.3f, after stage 2 %.3f\n",
            base_acc, s1_acc, s2_acc);
    TU_CHECK_MSG(s2_acc >= base_acc - 0.1, "stage 2 accuracy %.3f vs base %.3f", s2_acc, base_acc);

    /* The pair, run with the real uint8 wire, gives what the whole model gives. */
    sl_graph *dev = NULL, *edge = NULL;
    CHECK_EQ(split(s2->graph, &dev, &edge), 0);
    sl_dataset *ds = td_open_val();
    sl_eval_result *rp = NULL, *rm = NULL;
    sl_eval_opts eo = {.batch = 1, .workers = 1};
    TU_CHECK_MSG(ds != NULL, "%s", sl_errmsg());
    if (dev && edge && ds) {
        CHECK_OK(sl_eval_pair(dev, edge, ds, &eo, &rp), sl_errmsg());
        CHECK_OK(sl_eval_model(s2->graph, ds, &eo, &rm), sl_errmsg());
    }
    if (rp && rm) {
        CHECK_EQ(rp->n, 30);
        CHECK_NEAR(rp->wire_bytes, 4 * 16 * 16, 1e-9);
        CHECK_EQ(rp->correct, rm->correct);
        CHECK(memcmp(rp->pred, rm->pred, (size_t)rp->n * sizeof *rp->pred) == 0);
    }
    sl_eval_result_free(rp);
    sl_eval_result_free(rm);
    sl_dataset_free(ds);
    sl_graph_free(dev);
    sl_graph_free(edge);
    sl_bundle_free(base);
    sl_bundle_free(tlb);
    sl_bundle_free(s1);
    sl_bundle_free(s2);
    tu_rmtree(td_root);
    return TU_DONE();
}
