/* test_checkpoint.c: what a checkpoint promises. Resumed SGD with momentum equals the
 * uninterrupted run bit for bit (the momentum buffers travel in the checkpoint); a checkpoint is
 * refused, naming the reason, when the model structure, optimiser, batch or TL stage changed; a
 * checkpoint write that fails leaves the previous checkpoint byte-identical and no temporary file;
 * --patience stops after that many epochs without improvement and -o holds the best epoch's
 * weights, not the last. */
#include "common/fsutil.h"
#include "common/status.h"
#include "model/bundle.h"
#include "testutil.h"
#include "trainer/eval.h"
#include "trainer/train.h"
#include "trainer_fixture.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <sys/resource.h>

static void opts(sl_train_opts *o, const char *out)
{
    td_opts(o, out);
    o->arch = "tinycnn";
    o->lr = 0.05;
    o->seed = 3;
}

static void test_resume_sgd_momentum(void)
{
    char full[800], part[800], resumed[800], ck[800];
    td_path(full, "full.h5");
    td_path(part, "part.h5");
    td_path(resumed, "resumed.h5");
    td_path(ck, "ck.h5");
    sl_train_opts o;
    opts(&o, full);
    o.epochs = 2;
    o.optim = SL_OPTIM_SGD;
    o.momentum = 0.9;
    o.nesterov = 1;
    o.weight_decay = 1e-4;
    CHECK_OK(sl_train_fit(&o, NULL), sl_errmsg());
    sl_train_result r;
    CHECK_OK(td_fit_interrupted(&o, part, resumed, ck, &r), sl_errmsg());
    CHECK_EQ(r.epochs_run, 2);
    double d = td_bundles_diff(full, resumed);
    TU_CHECK_MSG(d == 0, "SGD with momentum resumed differs from the whole run by %g", d);
}

static void expect_refused(sl_train_opts *o, int status, const char *part)
{
    CHECK_EQ(sl_train_fit(o, NULL), status);
    CHECK_CONTAINS(sl_errmsg(), part);
}

static void test_refusals(void)
{
    char out[800], ck[800], forged[800];
    td_path(out, "refused.h5");
    td_path(ck, "ck.h5"); /* the SGD checkpoint of epoch 1 above */
    td_path(forged, "forged.h5");
    sl_train_opts o;
    opts(&o, out);
    o.epochs = 2;
    o.momentum = 0.9;
    o.nesterov = 1;
    o.weight_decay = 1e-4;
    o.resume = ck;
    o.optim = SL_OPTIM_ADAM;
    expect_refused(&o, SL_EARG, "made with --optim sgd, not adam");
    o.optim = SL_OPTIM_SGD;
    o.batch = 8;
    expect_refused(&o, SL_EARG, "made with --batch 16, not 8");
    o.batch = 16;
    o.in_h = o.in_w = 28;
    expect_refused(&o, SL_EFORMAT, "different model structure");
    o.in_h = o.in_w = 32;
    /* The same checkpoint said to be of TL stage 1: refused for a stage-0 run. */
    sl_bundle *b = NULL;
    CHECK_OK(sl_bundle_read(ck, &b), sl_errmsg());
    if (b) {
        cJSON *j = cJSON_Parse(b->train_state_json);
        cJSON_ReplaceItemInObject(j, "tl_stage", cJSON_CreateNumber(1));
        char *s = cJSON_PrintUnformatted(j);
        CHECK_OK(sl_bundle_set_json(&b->train_state_json, s), sl_errmsg());
        CHECK_OK(sl_bundle_write(forged, b), sl_errmsg());
        free(s);
        cJSON_Delete(j);
        sl_bundle_free(b);
    }
    o.resume = forged;
    expect_refused(&o, SL_EARG, "made with --tl-stage 1, not 0");
    /* Nothing was written by a refused run. */
    CHECK(access(out, F_OK) != 0);
}

static void test_atomic_checkpoint(void)
{
    char dir[800], out[832], ck[832];
    td_path(dir, "atomic");
    sl_mkdir_p(dir);
    snprintf(out, sizeof out, "%s/out.h5", dir);
    snprintf(ck, sizeof ck, "%s/ck.h5", dir);
    sl_train_opts o;
    opts(&o, out);
    o.epochs = 2;
    o.checkpoint = ck;
    o.stop_after = 1;
    CHECK_OK(sl_train_fit(&o, NULL), sl_errmsg());
    size_t n0 = 0, n1 = 0;
    char *before = NULL, *after = NULL;
    CHECK_OK(sl_read_file(ck, &before, &n0), sl_errmsg());
    CHECK(n0 > 4096);
    int entries = tu_count_entries(dir);

    /* The next epoch's checkpoint cannot be written whole (files are capped at 4 KiB, and the
     * signal that would kill the process is ignored so the write fails instead). */
    o.resume = ck;
    o.stop_after = 0;
    struct rlimit old, cap = {4096, 4096};
    getrlimit(RLIMIT_FSIZE, &old);
    cap.rlim_max = old.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    CHECK_EQ(setrlimit(RLIMIT_FSIZE, &cap), 0);
    int rc = sl_train_fit(&o, NULL);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    CHECK(rc != SL_OK);
    CHECK_CONTAINS(sl_errmsg(), "checkpoint");
    CHECK_OK(sl_read_file(ck, &after, &n1), sl_errmsg());
    TU_CHECK_MSG(before && after && n1 == n0 && !memcmp(before, after, n0),
                 "the previous checkpoint changed (%zu -> %zu bytes)", n0, n1);
    TU_CHECK_MSG(tu_count_entries(dir) == entries, "%d files, was %d: a temporary file stayed",
                 tu_count_entries(dir), entries);
    free(before);
    free(after);
    /* And it still resumes. */
    CHECK_OK(sl_train_fit(&o, NULL), sl_errmsg());
}

static void test_patience_best_epoch(void)
{
    char out[800], ck[800], log[800];
    td_path(out, "patient.h5");
    td_path(ck, "patient-ck.h5");
    td_path(log, "patient.jsonl");
    sl_train_opts o;
    opts(&o, out);
    o.epochs = 20;
    o.patience = 2;
    o.checkpoint = ck;
    o.log = log;
    sl_train_result r;
    CHECK_OK(sl_train_fit(&o, &r), sl_errmsg());
    /* The task is learnt within a few epochs, after which the accuracy cannot keep rising. */
    TU_CHECK_MSG(r.stopped_early && r.epochs_run < 20, "ran %d epochs", r.epochs_run);
    CHECK_EQ(r.epochs_run, r.best_epoch + 2);

    /* The log: the best epoch is the first with the highest validation accuracy. */
    double acc[32] = {0};
    int n = td_log_values(log, "val_acc", acc, 32);
    CHECK_EQ(n, r.epochs_run);
    int argmax = 0;
    for (int i = 1; i < n; i++)
        if (acc[i] > acc[argmax]) argmax = i;
    CHECK_EQ(r.best_epoch, argmax + 1);
    CHECK_NEAR(r.best_val_acc, acc[argmax], 1e-12);

    /* -o holds the best epoch's weights: bit for bit the best weights the checkpoint keeps,
     * not the last epoch's (the checkpoint's own weights), and they score the logged accuracy
     * (within one image: evaluation folds batch norm, validation in training does not). */
    sl_bundle *b = NULL, *c = NULL;
    CHECK_OK(sl_bundle_read(out, &b), sl_errmsg());
    CHECK_OK(sl_bundle_read(ck, &c), sl_errmsg());
    int same = 0, params = 0;
    for (int i = 0; b && c && i < b->graph->nnodes; i++)
        for (int k = 0; k < b->graph->nodes[i].nparams; k++) {
            char name[300];
            snprintf(name, sizeof name, "best/%s/%s", b->graph->nodes[i].name,
                     b->graph->nodes[i].params[k].name);
            const sl_tensor *best = sl_bundle_extra(c, name);
            double dd = -1;
            if (best) sl_max_abs_diff(b->graph->nodes[i].params[k].t, best, &dd, NULL);
            params++;
            same += dd == 0;
        }
    TU_CHECK_MSG(params > 0 && same == params, "%d of %d parameters are the best epoch's", same,
                 params);
    if (b && c) CHECK(td_graph_diff(b->graph, c->graph) > 0);
    if (b) CHECK_NEAR(td_val_accuracy(b->graph, 32), acc[argmax], 1.0 / 30 + 1e-9);
    sl_bundle_free(b);
    sl_bundle_free(c);
}

/* --epoch-images: each epoch runs ceil(N / batch) steps of a fresh shuffle, not the whole set. */
static void test_epoch_images(void)
{
    char out[800], log[800];
    td_path(out, "subset.h5");
    td_path(log, "subset.jsonl");
    sl_train_opts o;
    opts(&o, out);
    o.epochs = 2;
    o.epoch_images = 20; /* of the 30 x classes training images: 2 steps of 16 */
    o.log = log;
    CHECK_OK(sl_train_fit(&o, NULL), sl_errmsg());
    double step[2] = {0};
    CHECK_EQ(td_log_values(log, "step", step, 2), 2);
    CHECK_EQ((int)step[0], 2);
    CHECK_EQ((int)step[1], 4);
}

int main(void)
{
    if (td_setup(tu_tmpdir(), 30, 10)) return 1;
    test_resume_sgd_momentum();
    test_refusals();
    test_atomic_checkpoint();
    test_patience_best_epoch();
    test_epoch_images();
    tu_rmtree(td_root);
    return TU_DONE();
}
