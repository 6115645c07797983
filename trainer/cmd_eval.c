/* cmd_eval.c: `sl-train eval`, accuracy and confusion of a model, a device + edge pair, or the
 * difference between two models. */
#include "common/cli.h"
#include "common/fsutil.h"
#include "common/opt.h"
#include "common/status.h"
#include "model/bundle.h"
#include "trainer/commands.h"
#include "trainer/eval.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    const char *data, *model, *pair[2], *cmp[2], *out;
    int split, json, threads;
    sl_eval_opts eo;
} A;

static const char *const split_names[] = {"train", "val", "test", "all"};

static const sl_opt options[] = {
    SL_OPT_STRING(0, "data", &A.data, "PATH", "dataset folder or sl-data cache"),
    SL_OPT_STRING(0, "model", &A.model, "M.h5", "the model to evaluate"),
    SL_OPT_PAIR(0, "pair", A.pair, "DEVICE.h5 EDGE.h5", "a device + edge pair (sl-preprocess split)"),
    SL_OPT_PAIR(0, "compare", A.cmp, "A.h5 B.h5", "the accuracy difference of two models"),
    SL_OPT_CHOICE(0, "split", &A.split, "train|val|test|all", "the dataset split (default test)"),
    SL_OPT_FLAG(0, "json", &A.json, "JSON instead of text"),
    SL_OPT_OUTPUT(&A.out, "write the JSON to FILE (atomically) instead of stdout"),
    SL_OPT_INT(0, "batch", &A.eo.batch, "N", 1, 65536,
               "images per pass (default 32; 1 for --pair: each image is one wire\n"
               "message, quantised on its own, as the device sends it)"),
    SL_OPT_INT(0, "threads", &A.threads, "N", 1, 256, "libtorch threads (default 2)"),
    SL_OPT_INT(0, "workers", &A.eo.workers, "N", 0, 256, "loader threads (default 2)"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_eval_spec = {
    "sl-train eval --data DIR|CACHE.h5 (--model M.h5 | --pair DEVICE.h5 EDGE.h5 |\n"
    "              --compare A.h5 B.h5) [options]",
    "Top-1 accuracy, per-class precision and recall and the confusion matrix of a model on a\n"
    "dataset split; for a device + edge pair (sl-preprocess split) run locally with the real wire\n"
    "format, also the bytes per image that cross the wire; with --compare, the accuracy\n"
    "difference of two models on the same images.",
    options,
    0,
    0,
    NULL,
    "data",
};

static int emit(const char *json, const char *out)
{
    if (out) {
        if (sl_write_file_atomic(out, json, strlen(json))) return sl_fail();
        return SL_EXIT_OK;
    }
    printf("%s\n", json);
    return SL_EXIT_OK;
}

static int report(const sl_eval_result *r, int json, const char *out)
{
    if (!json && !out) {
        sl_eval_print(r, stdout);
        return SL_EXIT_OK;
    }
    char *s = sl_eval_json(r);
    if (!s) return sl_err(SL_ENOMEM, "out of memory"), sl_fail();
    int rc = emit(s, out);
    free(s);
    return rc;
}

static int compare(const sl_eval_result *a, const sl_eval_result *b, const char *pa, const char *pb,
                   int json, const char *out)
{
    int64_t differ = 0;
    for (int64_t i = 0; i < a->n; i++)
        differ += a->pred[i] != b->pred[i];
    double da = sl_eval_accuracy(a), db = sl_eval_accuracy(b);
    if (!json && !out) {
        printf("images %lld\n%s: top-1 accuracy %.4f\n%s: top-1 accuracy %.4f\n", (long long)a->n,
               pa, da, pb, db);
        printf("difference (B - A) %+.4f (%+.2f points); predictions differ on %lld images\n",
               db - da, 100 * (db - da), (long long)differ);
        return SL_EXIT_OK;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "images", (double)a->n);
    cJSON_AddStringToObject(j, "a", pa);
    cJSON_AddStringToObject(j, "b", pb);
    cJSON_AddNumberToObject(j, "accuracy_a", da);
    cJSON_AddNumberToObject(j, "accuracy_b", db);
    cJSON_AddNumberToObject(j, "difference", db - da);
    cJSON_AddNumberToObject(j, "predictions_differ", (double)differ);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    if (!s) return sl_err(SL_ENOMEM, "out of memory"), sl_fail();
    int rc = emit(s, out);
    free(s);
    return rc;
}

int sl_cmd_eval(int argc, char **argv)
{
    memset(&A, 0, sizeof A);
    A.split = 2; /* test */
    A.threads = 2;
    A.eo.workers = 2;
    int prc = sl_opt_parse(&sl_cmd_eval_spec, argc, argv, NULL);
    if (prc != SL_OPT_CONTINUE) return prc;
    const char *data = A.data, *model = A.model, *const *pair = A.pair, *const *cmp = A.cmp;
    const char *split = split_names[A.split], *out = A.out;
    int json = A.json, threads = A.threads;
    sl_eval_opts eo = A.eo;
    if (!!model + !!pair[0] + !!cmp[0] != 1)
        return sl_usage_error("give exactly one of --model, --pair DEVICE EDGE, --compare A B");
    if (!eo.batch) eo.batch = pair[0] ? 1 : 32;
    sl_dataset_opts dopt;
    sl_dataset_opts_init(&dopt);
    dopt.split = strcmp(split, "all") ? split : NULL;
    sl_dataset *ds = NULL;
    sl_bundle *b[2] = {NULL, NULL};
    sl_eval_result *r[2] = {NULL, NULL};
    int rc = sl_dataset_open(data, &dopt, &ds);
    if (rc) rc = sl_err_ctx(rc, "--data: ");
    if (!rc && sl_dataset_count(ds) == 0)
        rc = sl_err(SL_EFORMAT, "--data: the %s split of %s has no images", split, data);
    const char *p0 = model ? model : pair[0] ? pair[0] : cmp[0];
    const char *p1 = pair[0] ? pair[1] : cmp[1];
    if (!rc) rc = sl_bundle_read(p0, &b[0]);
    if (!rc && p1) rc = sl_bundle_read(p1, &b[1]);
    /* Set only now: it loads the model runtime (about a second of CPU), which a refusal of the
     * data or the models should not pay. */
    if (!rc && sl_set_num_threads(threads)) rc = sl_err(SL_ETORCH, "%s", sl_torch_last_error());
    if (!rc && model) rc = sl_eval_model(b[0]->graph, ds, &eo, &r[0]);
    if (!rc && pair[0]) {
        if (strcmp(b[0]->pair_id, b[1]->pair_id))
            rc = sl_err(SL_EFORMAT,
                        "--pair: %s and %s are not halves of one split (pair ids "
                        "'%s' and '%s')",
                        pair[0], pair[1], b[0]->pair_id, b[1]->pair_id);
        else
            rc = sl_eval_pair(b[0]->graph, b[1]->graph, ds, &eo, &r[0]);
    }
    if (!rc && cmp[0]) {
        rc = sl_eval_model(b[0]->graph, ds, &eo, &r[0]);
        if (!rc) rc = sl_eval_model(b[1]->graph, ds, &eo, &r[1]);
    }
    int code = rc       ? sl_fail()
               : cmp[0] ? compare(r[0], r[1], cmp[0], cmp[1], json, out)
                        : report(r[0], json, out);
    for (int k = 0; k < 2; k++) {
        sl_eval_result_free(r[k]);
        sl_bundle_free(b[k]);
    }
    sl_dataset_free(ds);
    return code;
}
