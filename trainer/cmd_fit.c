/* cmd_fit.c: `sl-train fit`, training a model or fine-tuning its transfer layer. */
#include "common/cli.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/status.h"
#include "model/bundle.h"
#include "trainer/commands.h"
#include "trainer/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sl_train_opts A;
static const char *arch;
static long seed;
static int quiet;

/* One augmentation's optional value ("rotate=15"): `def` when absent, else parsed in
 * [lo, hi]. */
static int aug_value(const char *item, const char *name, double def, double lo, double hi,
                     double *out)
{
    const char *eq = strchr(item, '=');
    if (!eq) {
        *out = def;
        return SL_OK;
    }
    char what[64];
    snprintf(what, sizeof what, "--augment %s", name);
    return sl_parse_double(what, eq + 1, lo, hi, out);
}

/* --augment LIST (or none) into the sl_augment at dest: hflip, vflip, flip (both), crop[=PX],
 * rotate[=DEG], brightness[=F], contrast[=F], jitter (brightness and contrast 0.2). */
static int parse_augment(void *dest, const char *s)
{
    sl_augment *a = dest;
    char *buf, *items[16];
    int n;
    if (sl_parse_list("--augment", s, &buf, items, 16, &n)) return SL_EARG;
    memset(a, 0, sizeof *a);
    int rc = SL_OK;
    for (int i = 0; i < n && !rc; i++) {
        const char *t = items[i];
        size_t len = strcspn(t, "=");
        double v = 0;
#define IS(name) (len == strlen(name) && !strncmp(t, name, len))
        if (IS("flip") && !t[len]) {
            a->hflip = a->vflip = 1;
        } else if (IS("hflip") && !t[len]) {
            a->hflip = 1;
        } else if (IS("vflip") && !t[len]) {
            a->vflip = 1;
        } else if (IS("crop")) {
            if (!(rc = aug_value(t, "crop", 4, 1, 64, &v))) a->crop_pad = (int)v;
        } else if (IS("rotate")) {
            if (!(rc = aug_value(t, "rotate", 10, 0.1, 180, &v))) a->rotate = (float)v;
        } else if (IS("brightness")) {
            if (!(rc = aug_value(t, "brightness", 0.2, 0.01, 1, &v))) a->brightness = (float)v;
        } else if (IS("contrast")) {
            if (!(rc = aug_value(t, "contrast", 0.2, 0.01, 1, &v))) a->contrast = (float)v;
        } else if (IS("jitter") && !t[len]) {
            a->brightness = a->contrast = 0.2f;
        } else if (!(IS("none") && !t[len])) {
            rc = sl_err(SL_EARG,
                        "--augment: unknown '%s' (hflip, vflip, flip, crop[=PX], rotate[=DEG], "
                        "brightness[=F], contrast[=F], jitter, none)",
                        t);
        }
#undef IS
    }
    free(buf);
    return rc;
}

static int parse_input(void *dest, const char *v)
{
    int64_t dims[3];
    int nd;
    if (sl_parse_shape("--input", v, dims, 3, &nd)) return SL_EARG;
    if (nd != 3) return sl_err(SL_EARG, "--input: '%s' is not CxHxW", v);
    sl_train_opts *o = dest;
    o->in_c = dims[0];
    o->in_h = dims[1];
    o->in_w = dims[2];
    return SL_OK;
}

/* --mean / --std: 1 to 4 comma-separated numbers. */
static int parse_norm(const char *flag, const char *v, float *dst, int *n, double lo)
{
    char *buf, *items[8];
    int k;
    if (sl_parse_list(flag, v, &buf, items, 8, &k)) return SL_EARG;
    int rc = k > 4 ? sl_err(SL_EARG, "%s: at most 4 values (one per channel), got %d", flag, k)
                   : SL_OK;
    for (int i = 0; i < k && !rc; i++) {
        double x;
        if ((rc = sl_parse_double(flag, items[i], lo, 1e6, &x)) == SL_OK) dst[i] = (float)x;
    }
    free(buf);
    if (!rc) *n = k;
    return rc;
}

static int parse_mean(void *dest, const char *v)
{
    sl_train_opts *o = dest;
    return parse_norm("--mean", v, o->mean, &o->nmean, -1e6);
}

static int parse_std(void *dest, const char *v)
{
    sl_train_opts *o = dest;
    return parse_norm("--std", v, o->std, &o->nstd, 1e-6);
}

static const sl_opt options[] = {
    SL_OPT_SECTION("model and data"),
    SL_OPT_STRING(0, "data", &A.data, "PATH", "dataset folder (ImageFolder, MVTec) or sl-data cache"),
    SL_OPT_STRING(0, "model", &A.model, "FILE", "bundle to start from (a trained model, or one with a TL)"),
    SL_OPT_STRING(0, "arch", &arch, "NAME", "zoo architecture trained from scratch (default tinycnn)"),
    SL_OPT_INT(0, "classes", &A.classes, "N", 2, 100000, "with --arch: class count (must equal the dataset's)"),
    SL_OPT_CALLBACK(0, "input", &A, "CxHxW", parse_input,
                    "with --arch: input size (default: the data's; a warning when\n"
                    "the images are resized to another)"),
    SL_OPT_CALLBACK(0, "mean", &A, "M[,M,M]", parse_mean,
                    "with --arch: normalisation mean, 0..1 (one, or one per channel;\n"
                    "default ImageNet's for 3 channels, 0.5 for 1); sl-data stats\n"
                    "computes it"),
    SL_OPT_CALLBACK(0, "std", &A, "S[,S,S]", parse_std,
                    "with --arch: normalisation std (as --mean; default ImageNet's\n"
                    "for 3 channels, 0.25 for 1)"),
    SL_OPT_STRING(0, "val", &A.val, "DIR", "separate validation dataset"),
    SL_OPT_DOUBLE(0, "val-split", &A.val_split, "F", 0, 0.9,
                  "validation fraction of a flat dataset, 0 = none (default 0.15)"),
    SL_OPT_CHOICE(0, "val-exec", &A.val_exec, "auto|compiled|plain",
                  "validation's inference path (default auto: compiled when a pass\n"
                  "covers 256 Ki input pixels or more, plain below)"),
    SL_OPT_STRING('o', "out", &A.out, "FILE", "output bundle"),
    SL_OPT_SECTION("optimisation"),
    SL_OPT_INT(0, "epochs", &A.epochs, "N", 1, 100000, "(default 10)"),
    SL_OPT_INT(0, "batch", &A.batch, "N", 1, 65536, "(default 32)"),
    SL_OPT_INT(0, "epoch-images", &A.epoch_images, "N", 1, 0x7fffffff,
               "images per epoch, drawn from a fresh shuffle of the training\n"
               "set each epoch (default: all), to bound a fine-tune's time"),
    SL_OPT_DOUBLE(0, "lr", &A.lr, "X", 1e-12, 100, "(default 0.01)"),
    SL_OPT_CHOICE(0, "optim", &A.optim, "sgd|adam", "(default sgd)"),
    SL_OPT_DOUBLE(0, "momentum", &A.momentum, "X", 0, 1, "SGD (default 0.9)"),
    SL_OPT_FLAG(0, "nesterov", &A.nesterov, "SGD: Nesterov momentum"),
    SL_OPT_DOUBLE(0, "weight-decay", &A.weight_decay, "X", 0, 1, "(default 0)"),
    SL_OPT_CHOICE(0, "schedule", &A.schedule, "none|step|cosine", "(default none)"),
    SL_OPT_INT(0, "step-size", &A.step_size, "N", 1, 100000, "step schedule: epochs between decays (10)"),
    SL_OPT_DOUBLE(0, "gamma", &A.gamma, "X", 1e-9, 10, "step schedule: decay factor (0.1)"),
    SL_OPT_INT(0, "warmup", &A.warmup, "N", 0, 100000, "epochs of linear warm-up"),
    SL_OPT_DOUBLE(0, "label-smoothing", &A.label_smoothing, "X", 0, 0.999, "in [0, 1)"),
    SL_OPT_CALLBACK(0, "augment", &A.augment, "LIST", parse_augment,
                    "hflip, vflip, flip (both), crop[=PX] (4), rotate[=DEG] (10),\n"
                    "brightness[=F] (0.2), contrast[=F] (0.2), jitter (both 0.2), none"),
    SL_OPT_STRING(0, "freeze", &A.freeze, "PATTERNS",
                  "comma-separated node-name patterns ('layer1.*,conv1'): frozen\n"
                  "parameters get no gradient, frozen batch norms run in eval mode"),
    SL_OPT_INT(0, "patience", &A.patience, "N", 0, 100000,
               "stop after N epochs without a better validation score"),
    SL_OPT_SECTION("transfer layer (a model from sl-preprocess insert)"),
    SL_OPT_INT(0, "tl-stage", &A.tl_stage, "1|2", 1, 2,
               "1: train the TL so its decoder output matches the cut activation\n"
               "(MSE), the rest frozen; 2: task loss and/or distillation, the\n"
               "device side (head + encoder) frozen, decoder + tail trained"),
    SL_OPT_STRING(0, "tl-stages-at", &A.tl_stages_at, "LIST",
                  "stage 1: also match these later tensors (comma-separated;\n"
                  "@output: the model's output, its logits)"),
    SL_OPT_STRING(0, "tl-teacher", &A.tl_teacher, "FILE",
                  "the bundle the TL was inserted into (distillation teacher)"),
    SL_OPT_DOUBLE(0, "distill", &A.distill_t, "T", 1e-3, 1000, "stage 2: KL distillation at temperature T"),
    SL_OPT_DOUBLE(0, "alpha", &A.alpha, "A", 0, 1, "weight of distillation vs task loss (default 0.5)"),
    SL_OPT_SECTION("run"),
    SL_OPT_LONG(0, "seed", &seed, "N", 0, 0x7fffffffL, "(default 1)"),
    SL_OPT_INT(0, "threads", &A.threads, "N", 1, 256, "libtorch threads (default 2)"),
    SL_OPT_INT(0, "workers", &A.workers, "N", 0, 64, "loader threads (default 2)"),
    SL_OPT_STRING(0, "checkpoint", &A.checkpoint, "FILE", "written atomically after every epoch"),
    SL_OPT_STRING(0, "resume", &A.resume, "FILE",
                  "continue from a checkpoint: the same result as an uninterrupted run"),
    SL_OPT_INT(0, "stop-after", &A.stop_after, "N", 1, 100000,
               "stop after N epochs in this call (continue later with --resume)"),
    SL_OPT_STRING(0, "log", &A.log, "FILE", "JSON-lines metrics, one line per epoch"),
    SL_OPT_FLAG('q', "quiet", &quiet, "errors only"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_fit_spec = {
    "sl-train fit --data DIR|CACHE.h5 (--model BASE.h5 | --arch NAME) -o OUT.h5 [options]",
    "Trains a model on a dataset and writes the best-on-validation weights to OUT.h5, with the\n"
    "dataset's class names and metrics (val accuracy, epochs, images/s).",
    options,
    0,
    0,
    NULL,
    "data out",
};

int sl_cmd_fit(int argc, char **argv)
{
    sl_train_opts_init(&A);
    arch = NULL;
    seed = (long)A.seed;
    quiet = 0;
    int rc = sl_opt_parse(&sl_cmd_fit_spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    sl_train_opts o = A;
    int arch_given = arch != NULL;
    if (arch) o.arch = arch;
    o.seed = (uint64_t)seed;
    if (quiet) sl_log_set_level(0);
    if (o.model && arch_given) return sl_usage_error("--model and --arch exclude each other");
    if (o.model && (o.in_c || o.classes || o.nmean || o.nstd))
        return sl_usage_error(
            "--input, --classes, --mean and --std are for --arch (a bundle has its own)");
    if (o.tl_stage && !o.model)
        return sl_usage_error("--tl-stage needs --model (a bundle with a TL)");
    if (o.distill_t > 0 && (o.tl_stage != 2 || !o.tl_teacher))
        return sl_usage_error("--distill needs --tl-stage 2 and --tl-teacher");
    if (o.tl_stages_at && o.tl_stage != 1)
        return sl_usage_error("--tl-stages-at needs --tl-stage 1");
    if (o.optim == SL_OPTIM_ADAM && o.nesterov)
        return sl_usage_error("--nesterov is for --optim sgd");
    if (o.nesterov && o.momentum <= 0) return sl_usage_error("--nesterov needs --momentum > 0");
    if (o.warmup >= o.epochs && o.warmup) return sl_usage_error("--warmup must be below --epochs");
    /* The checkpoint is read at the end of the set-up, after the model runtime is loaded (about a
     * second of CPU); a file that is not a bundle at all is refused here, before that. */
    if (o.resume) {
        sl_bundle *ck;
        int bad = sl_bundle_read_structure(o.resume, &ck);
        if (bad) return sl_err_ctx(bad, "--resume: "), sl_fail();
        sl_bundle_free(ck);
    }
    sl_train_result r;
    if (sl_train_fit(&o, &r)) return sl_fail();
    if (r.best_val_acc >= 0)
        sl_log_info("wrote %s: epoch %d of %d, val acc %.4f, %.0f images/s", o.out, r.best_epoch,
                    r.epochs_run, r.best_val_acc, r.images_per_s);
    else
        sl_log_info("wrote %s: %d epochs, %.0f images/s", o.out, r.epochs_run, r.images_per_s);
    return SL_EXIT_OK;
}
