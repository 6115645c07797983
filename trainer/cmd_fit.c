/* cmd_fit.c: `sl-train fit`, training a model or fine-tuning its transfer layer. */
#include "common/cli.h"
#include "common/log.h"
#include "common/status.h"
#include "trainer/commands.h"
#include "trainer/train.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: sl-train fit --data DIR|CACHE.h5 (--model BASE.h5 | --arch NAME) -o OUT.h5 [options]\n"
    "\n"
    "Trains a model on a dataset and writes the best-on-validation weights to OUT.h5, with the\n"
    "dataset's class names and metrics (val accuracy, epochs, images/s).\n\n"
    "model and data:\n"
    "  --data PATH          dataset folder (ImageFolder, MVTec) or sl-data cache\n"
    "  --model FILE         bundle to start from (a trained model, or one with a TL)\n"
    "  --arch NAME          zoo architecture trained from scratch (default tinycnn)\n"
    "  --classes N          with --arch: class count (must equal the dataset's)\n"
    "  --input CxHxW        with --arch: input size (default: the cache's, else the zoo's)\n"
    "  --val DIR            separate validation dataset\n"
    "  --val-split F        validation fraction of a flat dataset, 0 = none (default 0.15)\n"
    "  -o, --out FILE       output bundle\n\n"
    "optimisation:\n"
    "  --epochs N           (default 10)       --batch N (default 32)\n"
    "  --lr X               (default 0.01)     --optim sgd|adam (default sgd)\n"
    "  --momentum X         SGD (default 0.9)  --nesterov\n"
    "  --weight-decay X     (default 0)\n"
    "  --schedule step|cosine|none (default none); --step-size N (10), --gamma X (0.1)\n"
    "  --warmup N           epochs of linear warm-up\n"
    "  --label-smoothing X  in [0, 1)\n"
    "  --augment LIST       flip,crop,jitter\n"
    "  --freeze PATTERNS    comma-separated node-name patterns ('layer1.*,conv1'): frozen\n"
    "                       parameters get no gradient, frozen batch norms run in eval mode\n"
    "  --patience N         stop after N epochs without a better validation score\n\n"
    "transfer layer (a model from sl-preprocess insert):\n"
    "  --tl-stage 1|2       1: train the TL so its decoder output matches the cut activation\n"
    "                       (MSE), the rest frozen; 2: task loss and/or distillation, the\n"
    "                       device side (head + encoder) frozen, decoder + tail trained\n"
    "  --tl-stages-at LIST  stage 1: also match these later tensors (comma-separated;\n"
    "                       @output: the model's output, its logits)\n"
    "  --tl-teacher FILE    the bundle the TL was inserted into (distillation teacher)\n"
    "  --distill T          stage 2: KL distillation at temperature T\n"
    "  --alpha A            weight of distillation vs task loss (default 0.5)\n\n"
    "run:\n"
    "  --seed N (default 1)  --threads N (default 2)  --workers N loader threads (default 2)\n"
    "  --checkpoint FILE    written atomically after every epoch\n"
    "  --resume FILE        continue from a checkpoint: the same result as an uninterrupted run\n"
    "  --stop-after N       stop after N epochs in this call (continue later with --resume)\n"
    "  --log FILE           JSON-lines metrics, one line per epoch\n"
    "  -q, --quiet          errors only\n";

static int parse_augment(const char *s, sl_augment *a)
{
    char buf[128], *save = NULL;
    snprintf(buf, sizeof buf, "%s", s);
    memset(a, 0, sizeof *a);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "flip")) {
            a->hflip = a->vflip = 1;
        } else if (!strcmp(t, "crop")) {
            a->crop_pad = 4;
        } else if (!strcmp(t, "jitter")) {
            a->brightness = a->contrast = 0.2f;
        } else if (strcmp(t, "none")) {
            return sl_err(SL_EARG, "--augment: unknown '%s' (flip, crop, jitter, none)", t);
        }
    }
    return SL_OK;
}

static int set_int(const char *a, const char *v, long lo, long hi, int *out)
{
    long n;
    if (sl_parse_long(a, v, lo, hi, &n)) return SL_EARG;
    *out = (int)n;
    return SL_OK;
}

/* Parses one option with a value; SL_ENOTFOUND when `a` is not one. */
static int parse_valued(sl_train_opts *o, const char *a, const char *v)
{
    long n;
    int64_t dims[3];
    int nd;
    if (!strcmp(a, "--data"))
        o->data = v;
    else if (!strcmp(a, "--model"))
        o->model = v;
    else if (!strcmp(a, "--arch"))
        o->arch = v;
    else if (!strcmp(a, "-o") || !strcmp(a, "--out"))
        o->out = v;
    else if (!strcmp(a, "--val"))
        o->val = v;
    else if (!strcmp(a, "--freeze"))
        o->freeze = v;
    else if (!strcmp(a, "--checkpoint"))
        o->checkpoint = v;
    else if (!strcmp(a, "--resume"))
        o->resume = v;
    else if (!strcmp(a, "--log"))
        o->log = v;
    else if (!strcmp(a, "--tl-teacher"))
        o->tl_teacher = v;
    else if (!strcmp(a, "--tl-stages-at"))
        o->tl_stages_at = v;
    else if (!strcmp(a, "--classes"))
        return set_int(a, v, 2, 100000, &o->classes);
    else if (!strcmp(a, "--epochs"))
        return set_int(a, v, 1, 100000, &o->epochs);
    else if (!strcmp(a, "--stop-after"))
        return set_int(a, v, 1, 100000, &o->stop_after);
    else if (!strcmp(a, "--batch"))
        return set_int(a, v, 1, 65536, &o->batch);
    else if (!strcmp(a, "--step-size"))
        return set_int(a, v, 1, 100000, &o->step_size);
    else if (!strcmp(a, "--warmup"))
        return set_int(a, v, 0, 100000, &o->warmup);
    else if (!strcmp(a, "--threads"))
        return set_int(a, v, 1, 256, &o->threads);
    else if (!strcmp(a, "--workers"))
        return set_int(a, v, 0, 64, &o->workers);
    else if (!strcmp(a, "--patience"))
        return set_int(a, v, 0, 100000, &o->patience);
    else if (!strcmp(a, "--tl-stage"))
        return set_int(a, v, 1, 2, &o->tl_stage);
    else if (!strcmp(a, "--lr"))
        return sl_parse_double(a, v, 1e-12, 100, &o->lr);
    else if (!strcmp(a, "--momentum"))
        return sl_parse_double(a, v, 0, 1, &o->momentum);
    else if (!strcmp(a, "--weight-decay"))
        return sl_parse_double(a, v, 0, 1, &o->weight_decay);
    else if (!strcmp(a, "--gamma"))
        return sl_parse_double(a, v, 1e-9, 10, &o->gamma);
    else if (!strcmp(a, "--label-smoothing"))
        return sl_parse_double(a, v, 0, 0.999, &o->label_smoothing);
    else if (!strcmp(a, "--val-split"))
        return sl_parse_double(a, v, 0, 0.9, &o->val_split);
    else if (!strcmp(a, "--distill"))
        return sl_parse_double(a, v, 1e-3, 1000, &o->distill_t);
    else if (!strcmp(a, "--alpha"))
        return sl_parse_double(a, v, 0, 1, &o->alpha);
    else if (!strcmp(a, "--augment"))
        return parse_augment(v, &o->augment);
    else if (!strcmp(a, "--seed")) {
        if (sl_parse_long(a, v, 0, 0x7fffffffL, &n)) return SL_EARG;
        o->seed = (uint64_t)n;
    } else if (!strcmp(a, "--input")) {
        if (sl_parse_shape(a, v, dims, 3, &nd)) return SL_EARG;
        if (nd != 3) return sl_err(SL_EARG, "--input: '%s' is not CxHxW", v);
        o->in_c = dims[0];
        o->in_h = dims[1];
        o->in_w = dims[2];
    } else if (!strcmp(a, "--optim")) {
        if (!strcmp(v, "sgd"))
            o->optim = SL_OPTIM_SGD;
        else if (!strcmp(v, "adam"))
            o->optim = SL_OPTIM_ADAM;
        else
            return sl_err(SL_EARG, "--optim: '%s' is not sgd or adam", v);
    } else if (!strcmp(a, "--schedule")) {
        if (!strcmp(v, "none"))
            o->schedule = SL_SCHED_NONE;
        else if (!strcmp(v, "step"))
            o->schedule = SL_SCHED_STEP;
        else if (!strcmp(v, "cosine"))
            o->schedule = SL_SCHED_COSINE;
        else
            return sl_err(SL_EARG, "--schedule: '%s' is not step, cosine or none", v);
    } else {
        return SL_ENOTFOUND;
    }
    return SL_OK;
}

int sl_cmd_fit(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv, help)) return SL_EXIT_OK;
    sl_train_opts o;
    sl_train_opts_init(&o);
    int arch_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--nesterov")) {
            o.nesterov = 1;
            continue;
        }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            sl_log_set_level(0);
            continue;
        }
        if (i + 1 >= argc) return sl_usage_error("unknown option or missing value: %s", a);
        arch_given |= !strcmp(a, "--arch");
        int rc = parse_valued(&o, a, argv[++i]);
        if (rc == SL_ENOTFOUND) return sl_usage_error("unknown option %s", a);
        if (rc) return sl_usage_error("%s", sl_errmsg());
    }
    if (!o.data) return sl_usage_error("--data is required");
    if (!o.out) return sl_usage_error("-o OUT.h5 is required");
    if (o.model && arch_given) return sl_usage_error("--model and --arch exclude each other");
    if (o.model && (o.in_c || o.classes))
        return sl_usage_error("--input and --classes are for --arch (a bundle has its own)");
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
    sl_train_result r;
    if (sl_train_fit(&o, &r)) return sl_fail();
    if (r.best_val_acc >= 0)
        sl_log_info("wrote %s: epoch %d of %d, val acc %.4f, %.0f images/s", o.out, r.best_epoch,
                    r.epochs_run, r.best_val_acc, r.images_per_s);
    else
        sl_log_info("wrote %s: %d epochs, %.0f images/s", o.out, r.epochs_run, r.images_per_s);
    return SL_EXIT_OK;
}
