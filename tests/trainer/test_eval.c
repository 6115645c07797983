/* test_eval.c: sl_eval_model's accuracy, precision, recall and confusion on a hand-checked case,
 * labels matched by class name, and the text and JSON reports. */
#include "common/fsutil.h"
#include "common/status.h"
#include "datasets/dataset.h"
#include "testutil.h"
#include "trainer/eval.h"

#include <cjson/cJSON.h>

/* A 1x4x4 model that predicts `bright` when the mean pixel is above 0.5 (logit 10m - 5). */
static sl_graph *threshold_model(const char *dark, const char *bright, int swap)
{
    sl_graph *g = sl_graph_new("threshold");
    float mean[1] = {0}, std[1] = {1};
    sl_graph_set_input(g, "image", 1, 4, 4, mean, std);
    sl_attrs a;
    sl_attrs_default(&a);
    a.out_hw[0] = a.out_hw[1] = 1;
    const char *in0[1] = {"image"}, *in1[1] = {"pool"}, *in2[1] = {"flat"};
    sl_graph_add(g, "pool", SL_OP_ADAPTIVE_AVG_POOL, in0, 1, &a);
    sl_attrs_default(&a);
    sl_graph_add(g, "flat", SL_OP_FLATTEN, in1, 1, &a);
    sl_attrs_default(&a);
    a.out = 2;
    sl_graph_add(g, "fc", SL_OP_LINEAR, in2, 1, &a);
    sl_graph_add_output(g, "fc");
    const char *names[2] = {swap ? bright : dark, swap ? dark : bright};
    sl_graph_set_classes(g, names, 2);
    if (sl_graph_validate(g, 0) || sl_graph_alloc_params(g)) return NULL;
    sl_node *fc = &g->nodes[sl_graph_find(g, "fc")];
    float w[2] = {-10, 10}, b[2] = {5, -5};
    if (swap) {
        w[0] = 10, w[1] = -10, b[0] = -5, b[1] = 5;
    }
    sl_tensor_free(fc->params[0].t);
    sl_tensor_free(fc->params[1].t);
    int64_t ws[2] = {2, 1}, bs[1] = {2};
    sl_tensor_from_buffer(w, ws, 2, SL_DT_F32, &fc->params[0].t);
    sl_tensor_from_buffer(b, bs, 1, SL_DT_F32, &fc->params[1].t);
    return g;
}

static void write_png(const char *root, const char *cls, int k, int value)
{
    char dir[700], path[800];
    snprintf(dir, sizeof dir, "%s/%s", root, cls);
    sl_mkdir_p(dir);
    snprintf(path, sizeof path, "%s/%d.png", dir, k);
    unsigned char px[16];
    memset(px, value, sizeof px);
    if (sl_png_write(path, 4, 4, 1, px)) fprintf(stderr, "png: %s\n", sl_errmsg());
}

int main(void)
{
    const char *root = tu_tmpdir();
    /* dark: three dark images and one bright; light: two bright and one dark. */
    write_png(root, "dark", 0, 30);
    write_png(root, "dark", 1, 40);
    write_png(root, "dark", 2, 50);
    write_png(root, "dark", 3, 220);
    write_png(root, "light", 0, 200);
    write_png(root, "light", 1, 210);
    write_png(root, "light", 2, 40);
    sl_dataset_opts d;
    sl_dataset_opts_init(&d);
    sl_dataset *ds = NULL;
    CHECK_OK(sl_dataset_open(root, &d, &ds), sl_errmsg());
    sl_eval_opts eo = {.batch = 3, .workers = 1};
    for (int swap = 0; swap < 2 && ds; swap++) {
        sl_graph *g = threshold_model("dark", "light", swap);
        CHECK(g != NULL);
        sl_eval_result *r = NULL;
        CHECK_OK(sl_eval_model(g, ds, &eo, &r), sl_errmsg());
        if (!r) continue;
        int D = swap, L = 1 - swap; /* model class index of dark and light */
        CHECK_EQ(r->n, 7);
        CHECK_EQ(r->correct, 5);
        CHECK_NEAR(sl_eval_accuracy(r), 5.0 / 7.0, 1e-12);
        CHECK_EQ(r->confusion[D * 2 + D], 3);
        CHECK_EQ(r->confusion[D * 2 + L], 1);
        CHECK_EQ(r->confusion[L * 2 + D], 1);
        CHECK_EQ(r->confusion[L * 2 + L], 2);
        CHECK_NEAR(sl_eval_precision(r, D), 0.75, 1e-12);
        CHECK_NEAR(sl_eval_recall(r, D), 0.75, 1e-12);
        CHECK_NEAR(sl_eval_precision(r, L), 2.0 / 3.0, 1e-12);
        CHECK_NEAR(sl_eval_recall(r, L), 2.0 / 3.0, 1e-12);
        CHECK_STR(r->classes[D], "dark");
        CHECK_EQ(r->wire_bytes, 0);
        char *js = sl_eval_json(r);
        cJSON *j = cJSON_Parse(js);
        const cJSON *cm = cJSON_GetObjectItem(j, "confusion");
        CHECK(cJSON_GetArraySize(cm) == 2);
        CHECK_EQ(cJSON_GetArrayItem(cJSON_GetArrayItem(cm, D), L)->valueint, 1);
        CHECK_NEAR(cJSON_GetObjectItem(j, "accuracy")->valuedouble, 5.0 / 7.0, 1e-12);
        cJSON_Delete(j);
        free(js);
        char tp[800];
        snprintf(tp, sizeof tp, "%s/report.txt", root);
        FILE *f = fopen(tp, "w");
        sl_eval_print(r, f);
        fclose(f);
        char *txt = NULL;
        size_t len;
        sl_read_file(tp, &txt, &len);
        CHECK_CONTAINS(txt, "top-1 accuracy 0.7143");
        CHECK_CONTAINS(txt, swap ? "light     0.6667  0.6667        3"
                                 : "dark      0.7500  0.7500        4");
        free(txt);
        sl_eval_result_free(r);
        sl_graph_free(g);
    }
    /* A model that lacks one of the dataset's classes is refused by name. */
    sl_graph *other = threshold_model("dark", "shiny", 0);
    sl_eval_result *r = NULL;
    CHECK_EQ(sl_eval_model(other, ds, &eo, &r), SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "'light'");
    CHECK(r == NULL);
    sl_graph_free(other);
    sl_dataset_free(ds);
    tu_rmtree(root);
    return TU_DONE();
}
