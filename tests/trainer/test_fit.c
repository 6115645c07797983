/* test_fit.c: sl_train_fit learns a simple task, freezing keeps weights bit-identical, resume
 * equals an uninterrupted run, corrupt checkpoints fail clearly, schedules follow their
 * formulas, Adam and label smoothing lower the loss. */
#include "common/status.h"
#include "model/bundle.h"
#include "testutil.h"
#include "trainer/train.h"
#include "trainer_fixture.h"

static void opts(sl_train_opts *o, const char *out)
{
    td_opts(o, out);
    o->arch = "tinycnn";
    o->lr = 0.05;
}

/* Largest difference between parameter `node.param` of two bundles (-1 if missing). */
static double param_diff(const sl_bundle *a, const sl_bundle *b, const char *node, const char *p)
{
    int i = sl_graph_find(a->graph, node), j = sl_graph_find(b->graph, node);
    if (i < 0 || j < 0) return -1;
    sl_param *pa = sl_node_param(&a->graph->nodes[i], p),
             *pb = sl_node_param(&b->graph->nodes[j], p);
    double d = -1;
    if (pa && pb) sl_max_abs_diff(pa->t, pb->t, &d, NULL);
    return d;
}

static void test_learns(void)
{
    char out[800], log[800];
    td_path(out, "base.h5");
    td_path(log, "base.jsonl");
    sl_train_opts o;
    td_base_opts(&o, out);
    o.log = log;
    sl_train_result r;
    int rc = sl_train_fit(&o, &r);
    CHECK_OK(rc, sl_errmsg());
    /* Chance is 1/3; the task is easy, so 0.8 leaves a wide margin for seeds and threads. */
    TU_CHECK_MSG(r.best_val_acc >= 0.8, "val acc %.3f after %d epochs", r.best_val_acc,
                 r.epochs_run);
    CHECK(r.last_loss < r.first_loss);
    CHECK_EQ(r.epochs_run, 8);
    sl_bundle *b = NULL;
    CHECK_OK(sl_bundle_read(out, &b), sl_errmsg());
    if (b) {
        CHECK_EQ(b->graph->nclasses, 3);
        if (b->graph->nclasses == 3) CHECK_STR(b->graph->classes[2], "line");
        CHECK_CONTAINS(b->metrics_json, "\"val_acc\"");
        CHECK_CONTAINS(b->metrics_json, "\"images_per_s\"");
        sl_bundle_free(b);
    }
    /* The log has one line per epoch, and its lr follows the cosine schedule. */
    double lr[9], ep[9], acc[9];
    int n = td_log_values(log, "lr", lr, 9);
    CHECK_EQ(n, 8);
    CHECK_EQ(td_log_values(log, "epoch", ep, 9), n);
    CHECK_EQ(td_log_values(log, "val_acc", acc, 9), n);
    for (int i = 0; i < n; i++) {
        CHECK(!isnan(lr[i]) && !isnan(ep[i]) && !isnan(acc[i]));
        if (!isnan(ep[i])) CHECK_NEAR(lr[i], sl_train_lr(&o, (int)ep[i] - 1, 0, 6), 1e-12);
    }
}

static void test_freeze(void)
{
    char base[800], out[800];
    td_path(base, "base.h5");
    td_path(out, "frozen.h5");
    sl_train_opts o;
    opts(&o, out);
    o.model = base;
    o.epochs = 1;
    o.freeze = "conv1,bn1,conv2*";
    o.val_split = 0;
    CHECK_OK(sl_train_fit(&o, NULL), sl_errmsg());
    sl_bundle *a = NULL, *b = NULL;
    CHECK_OK(sl_bundle_read(base, &a), sl_errmsg());
    CHECK_OK(sl_bundle_read(out, &b), sl_errmsg());
    if (a && b) {
        CHECK_EQ(param_diff(a, b, "conv1", "weight"), 0);
        CHECK_EQ(param_diff(a, b, "conv2", "weight"), 0);
        /* A frozen batch norm runs in eval mode: its running statistics stay too. */
        CHECK_EQ(param_diff(a, b, "bn1", "weight"), 0);
        CHECK_EQ(param_diff(a, b, "bn1", "running_mean"), 0);
        CHECK_EQ(param_diff(a, b, "bn1", "running_var"), 0);
        CHECK(param_diff(a, b, "conv3", "weight") > 0);
        CHECK(param_diff(a, b, "bn2", "weight") > 0);
        CHECK(param_diff(a, b, "fc", "weight") > 0);
    }
    sl_bundle_free(a);
    sl_bundle_free(b);
    o.freeze = "conv1,nosuchnode*";
    CHECK_EQ(sl_train_fit(&o, NULL), SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "nosuchnode*");
}

static void test_resume(void)
{
    char full[800], part[800], resumed[800], ck1[800], ck2[800];
    td_path(full, "full.h5");
    td_path(part, "part.h5");
    td_path(resumed, "resumed.h5");
    td_path(ck1, "ck1.h5");
    td_path(ck2, "ck2.h5");
    sl_train_opts o;
    opts(&o, full);
    o.epochs = 2;
    o.optim = SL_OPTIM_ADAM;
    o.lr = 0.003;
    o.label_smoothing = 0.1;
    o.schedule = SL_SCHED_STEP;
    o.step_size = 1;
    o.gamma = 0.7;
    o.checkpoint = ck1;
    o.augment.hflip = 1;
    o.augment.crop_pad = 2;
    sl_train_result r;
    CHECK_OK(sl_train_fit(&o, &r), sl_errmsg());
    TU_CHECK_MSG(r.last_loss < r.first_loss, "Adam + label smoothing: loss %.4f -> %.4f",
                 r.first_loss, r.last_loss);
    CHECK_OK(td_fit_interrupted(&o, part, resumed, ck2, &r), sl_errmsg());
    CHECK_EQ(r.epochs_run, 2);
    sl_bundle *a = NULL, *b = NULL, *c1 = NULL, *c2 = NULL;
    CHECK_OK(sl_bundle_read(full, &a), sl_errmsg());
    CHECK_OK(sl_bundle_read(resumed, &b), sl_errmsg());
    CHECK_OK(sl_bundle_read(ck1, &c1), sl_errmsg());
    CHECK_OK(sl_bundle_read(ck2, &c2), sl_errmsg());
    /* Bit for bit: the best weights written to -o, and the last weights in the checkpoints. */
    double d = a && b ? td_graph_diff(a->graph, b->graph) : -1;
    TU_CHECK_MSG(d == 0, "output differs by %g", d);
    d = c1 && c2 ? td_graph_diff(c1->graph, c2->graph) : -1;
    TU_CHECK_MSG(d == 0, "checkpoint differs by %g", d);
    if (c1 && c2) CHECK_STR(c1->train_state_json, c2->train_state_json);
    sl_bundle_free(a);
    sl_bundle_free(b);
    sl_bundle_free(c1);
    sl_bundle_free(c2);

    /* A checkpoint of other options is refused, naming the option. */
    o.seed = 5;
    CHECK_EQ(sl_train_fit(&o, NULL), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "--seed");
    o.seed = 1;

    /* Corrupt and foreign checkpoints give a clear error naming the file. */
    char bad[800];
    td_path(bad, "bad.h5");
    FILE *in = fopen(ck2, "rb"), *outf = fopen(bad, "wb");
    char buf[4096];
    size_t n, total = 0;
    while (in && outf && (n = fread(buf, 1, sizeof buf, in)) > 0 && total < 3000) {
        fwrite(buf, 1, n, outf);
        total += n;
    }
    if (in) fclose(in);
    if (outf) fclose(outf);
    o.resume = bad;
    int rc = sl_train_fit(&o, NULL);
    CHECK(rc == SL_EFORMAT || rc == SL_EIO);
    CHECK_CONTAINS(sl_errmsg(), "bad.h5");
    o.resume = full;
    CHECK_EQ(sl_train_fit(&o, NULL), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "not a training checkpoint");
    char missing[800];
    td_path(missing, "missing.h5");
    o.resume = missing;
    CHECK(sl_train_fit(&o, NULL) != SL_OK);
    CHECK_CONTAINS(sl_errmsg(), "missing.h5");
}

static void test_schedules(void)
{
    sl_train_opts o;
    sl_train_opts_init(&o);
    o.lr = 0.1;
    o.epochs = 4;
    CHECK_NEAR(sl_train_lr(&o, 3, 5, 10), 0.1, 1e-15);
    o.schedule = SL_SCHED_STEP;
    o.step_size = 2;
    o.gamma = 0.5;
    CHECK_NEAR(sl_train_lr(&o, 1, 9, 10), 0.1, 1e-15);
    CHECK_NEAR(sl_train_lr(&o, 2, 0, 10), 0.05, 1e-15);
    CHECK_NEAR(sl_train_lr(&o, 3, 0, 10), 0.05, 1e-15);
    o.schedule = SL_SCHED_COSINE;
    CHECK_NEAR(sl_train_lr(&o, 0, 0, 10), 0.1, 1e-15);
    CHECK_NEAR(sl_train_lr(&o, 2, 0, 10), 0.05, 1e-12);
    CHECK_NEAR(sl_train_lr(&o, 3, 0, 10), 0.1 * 0.5 * (1 + cos(M_PI * 0.75)), 1e-12);
    o.warmup = 1;
    CHECK_NEAR(sl_train_lr(&o, 0, 0, 10), 0.01, 1e-15);
    CHECK_NEAR(sl_train_lr(&o, 0, 9, 10), 0.1, 1e-15);
    CHECK_NEAR(sl_train_lr(&o, 1, 0, 10), 0.1, 1e-15);
    CHECK_NEAR(sl_train_lr(&o, 3, 0, 10), 0.1 * 0.5 * (1 + cos(M_PI * 2.0 / 3.0)), 1e-12);
}

int main(void)
{
    if (td_setup(tu_tmpdir(), 30, 10)) return 1;
    test_schedules();
    test_learns();
    test_freeze();
    test_resume();
    tu_rmtree(td_root);
    return TU_DONE();
}
