/* train.c: the training loop of `sl-train fit` — base training and TL stages 1 and 2. */
#include "trainer/train.h"
#include "common/cli.h"
#include "common/json.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "model/bundle.h"
#include "model/exec.h"
#include "model/zoo.h"
#include "trainer/checkpoint.h"

#include <cjson/cJSON.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TORCH_ERR(what) sl_err(SL_ETORCH, "%s: %s", (what), sl_torch_last_error())

void sl_train_opts_init(sl_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->arch = "tinycnn";
    o->epochs = 10;
    o->batch = 32;
    o->lr = 0.01;
    o->optim = SL_OPTIM_SGD;
    o->momentum = 0.9;
    o->step_size = 10;
    o->gamma = 0.1;
    o->seed = 1;
    o->threads = 2;
    o->workers = 2;
    o->val_split = 0.15;
    o->alpha = 0.5;
}

double sl_train_lr(const sl_train_opts *o, int epoch, int64_t step, int64_t steps)
{
    if (steps < 1) steps = 1;
    if (o->warmup > 0 && epoch < o->warmup)
        return o->lr * (double)((int64_t)epoch * steps + step + 1) / (double)(o->warmup * steps);
    int e = epoch - o->warmup;
    if (o->schedule == SL_SCHED_STEP && o->step_size > 0)
        return o->lr * pow(o->gamma, e / o->step_size);
    if (o->schedule == SL_SCHED_COSINE) {
        int span = o->epochs - o->warmup;
        if (span > 0) return o->lr * 0.5 * (1 + cos(M_PI * e / span));
    }
    return o->lr;
}

int sl_train_freeze_patterns(const sl_graph *g, const char *patterns, unsigned char *frozen)
{
    enum { MAX_PATTERNS = 1024 };
    char *buf = NULL, **items = calloc(MAX_PATTERNS, sizeof *items);
    unsigned char *mark = calloc((size_t)g->nnodes + 1, 1);
    int n = 0, rc = items && mark ? SL_OK : sl_err(SL_ENOMEM, "out of memory");
    if (!rc) rc = sl_parse_list("--freeze", patterns, &buf, items, MAX_PATTERNS, &n);
    for (int k = 0; k < n && !rc; k++) {
        const char *p = items[k];
        while (*p == ' ')
            p++;
        int hits = 0;
        for (int i = 0; i < g->nnodes; i++)
            if (fnmatch(p, g->nodes[i].name, 0) == 0) {
                mark[i] = 1;
                hits++;
            }
        if (!hits) rc = sl_err(SL_ENOTFOUND, "--freeze: pattern '%s' matches no node", p);
    }
    if (!rc)
        for (int i = 0; i < g->nnodes; i++)
            frozen[i] |= mark[i];
    free(buf);
    free(items);
    free(mark);
    return rc;
}

/* ---- the trainer's state ------------------------------------------------------------------ */

typedef struct trainer {
    const sl_train_opts *o;
    sl_graph *g; /* the model being trained (owned unless graph_borrowed) */
    int graph_borrowed;
    sl_graph *teacher; /* stage 2 distillation teacher (owned) or NULL */
    sl_dataset *train, *val;
    sl_loader *loader, *val_loader;
    unsigned char *frozen, *node_eval; /* per node */
    sl_ckpt_params ps;                 /* every parameter tensor of g, in graph order */
    int ntrain;
    sl_tensor **trainable; /* borrowed from g */
    sl_optim *opt;
    sl_exec *prefix, *suffix, *stages, *teacher_exec;
    sl_exec *val_plain; /* validation's plain plan: made once, it reads the live weights */
    const char *boundary; /* first tensor of the gradient run; NULL = the graph input */
    char cut[SL_NAME_MAX], wire[SL_NAME_MAX], dec[SL_NAME_MAX];
    int nstages;
    char **stage_names;
    FILE *log;
    sl_ckpt_state st;
} trainer;

static void trainer_free(trainer *t)
{
    sl_exec_free(t->prefix);
    sl_exec_free(t->suffix);
    sl_exec_free(t->stages);
    sl_exec_free(t->teacher_exec);
    sl_exec_free(t->val_plain);
    sl_optim_free(t->opt);
    sl_loader_free(t->loader);
    sl_loader_free(t->val_loader);
    sl_dataset_free(t->train);
    sl_dataset_free(t->val);
    sl_ckpt_params_free(&t->ps);
    sl_ckpt_state_free(&t->st);
    free(t->trainable);
    free(t->frozen);
    free(t->node_eval);
    for (int i = 0; i < t->nstages; i++)
        free(t->stage_names[i]);
    free(t->stage_names);
    if (!t->graph_borrowed) sl_graph_free(t->g);
    sl_graph_free(t->teacher);
    if (t->log) fclose(t->log);
}

static int open_data(trainer *t)
{
    const sl_train_opts *o = t->o;
    sl_dataset_opts d;
    sl_dataset_opts_init(&d);
    d.split = "train";
    d.val_ratio = o->val_split;
    int rc = sl_dataset_open(o->data, &d, &t->train);
    if (rc) return sl_err_ctx(rc, "--data: ");
    if (sl_dataset_count(t->train) == 0)
        return sl_err(SL_EFORMAT, "--data: %s has no training images", o->data);
    if (o->val) {
        d.split = NULL;
        if ((rc = sl_dataset_open(o->val, &d, &t->val))) return sl_err_ctx(rc, "--val: ");
        if (sl_dataset_num_classes(t->val) != sl_dataset_num_classes(t->train))
            return sl_err(SL_EFORMAT, "--val: %s has %d classes, the training data %d", o->val,
                          sl_dataset_num_classes(t->val), sl_dataset_num_classes(t->train));
        for (int i = 0; i < sl_dataset_num_classes(t->val); i++)
            if (strcmp(sl_dataset_class_name(t->val, i), sl_dataset_class_name(t->train, i)))
                return sl_err(SL_EFORMAT, "--val: class %d is '%s', in the training data '%s'", i,
                              sl_dataset_class_name(t->val, i), sl_dataset_class_name(t->train, i));
    } else if (o->val_split > 0) {
        d.split = "val";
        rc = sl_dataset_open(o->data, &d, &t->val);
        if (rc == SL_ENOTFOUND) {
            sl_log_warn("%s has no validation split: the last epoch's weights are kept", o->data);
        } else if (rc) {
            return sl_err_ctx(rc, "--data: ");
        }
    }
    if (t->val && sl_dataset_count(t->val) == 0) {
        sl_dataset_free(t->val);
        t->val = NULL;
    }
    return SL_OK;
}

static int read_graph(const char *path, const char *what, sl_graph **out)
{
    sl_bundle *b;
    int rc = sl_bundle_read(path, &b);
    if (rc) return sl_err_ctx(rc, "%s: ", what);
    *out = b->graph;
    b->graph = NULL;
    sl_bundle_free(b);
    return SL_OK;
}

static int64_t output_width(const sl_graph *g)
{
    const sl_shape *s = &g->nodes[g->out_idx[0]].out;
    return s->ndim == 1 ? s->d[0] : -1;
}

/* The size and channels of the data: its first image's (sl-data stats lists every size met). */
static int data_shape(const sl_dataset *ds, int *c, int *h, int *w)
{
    if (sl_dataset_count(ds) < 1) return SL_ENOTFOUND;
    sl_image img;
    int rc = sl_dataset_image(ds, 0, &img);
    if (rc != SL_OK) return rc;
    *c = img.c;
    *h = img.h;
    *w = img.w;
    sl_image_free(&img);
    return SL_OK;
}

/* Says so when the model's input is not the data's size or channels: the loader resamples
 * (and converts gray / RGB) every image, which is a choice the user should see. */
static void warn_resize(const sl_dataset *ds, const sl_graph *g)
{
    int c, h, w;
    if (sl_dataset_cached_shape(ds, &c, &h, &w) || data_shape(ds, &c, &h, &w) != SL_OK) return;
    const int64_t *d = g->input_shape.d;
    if (d[0] == c && d[1] == h && d[2] == w) return;
    sl_log_warn("the model's input is %lldx%lldx%lld but the images are %dx%dx%d (%s): every "
                "image is %s%s%s",
                (long long)d[0], (long long)d[1], (long long)d[2], c, h, w,
                sl_dataset_path(ds, 0), d[1] != h || d[2] != w ? "resized" : "",
                (d[1] != h || d[2] != w) && d[0] != c ? " and " : "",
                d[0] != c ? (c == 1 ? "repeated to 3 channels" : "converted to gray") : "");
}

/* --mean / --std: one value for every channel, or one per channel. */
static int set_normalisation(sl_graph *g, const sl_train_opts *o)
{
    if (!o->nmean && !o->nstd) return SL_OK;
    int c = (int)g->input_shape.d[0];
    float mean[4], std[4];
    memcpy(mean, g->mean, sizeof mean);
    memcpy(std, g->std, sizeof std);
    const struct {
        const char *flag;
        int n;
        const float *v;
        float *dst;
    } q[2] = {{"--mean", o->nmean, o->mean, mean}, {"--std", o->nstd, o->std, std}};
    for (int k = 0; k < 2; k++) {
        if (!q[k].n) continue;
        if (q[k].n != 1 && q[k].n != c)
            return sl_err(SL_EARG, "%s has %d values but the model's input has %d channel%s", q[k].flag,
                          q[k].n, c, c == 1 ? "" : "s");
        for (int i = 0; i < c; i++)
            q[k].dst[i] = q[k].v[q[k].n == 1 ? 0 : i];
    }
    /* only the normalisation changes: shapes, and so the graph's validation, stay */
    memcpy(g->mean, mean, sizeof mean);
    memcpy(g->std, std, sizeof std);
    return SL_OK;
}

static int open_model(trainer *t)
{
    const sl_train_opts *o = t->o;
    int nc = sl_dataset_num_classes(t->train), rc;
    if (o->classes && o->classes != nc)
        return sl_err(SL_EARG, "--classes %d, but %s has %d classes", o->classes, o->data, nc);
    if (o->model) {
        if ((rc = read_graph(o->model, "--model", &t->g))) return rc;
    } else {
        sl_zoo_opts z = {.classes = o->classes ? o->classes : nc,
                         .c = o->in_c,
                         .h = o->in_h,
                         .w = o->in_w,
                         .init = 1};
        int c, h, w;
        if (!z.c && sl_dataset_cached_shape(t->train, &c, &h, &w)) {
            z.c = c;
            z.h = h;
            z.w = w;
        } else if (!z.c && data_shape(t->train, &c, &h, &w) == SL_OK) {
            /* the input follows the data: 28x28 gray photos make a 1x28x28 model */
            z.c = c;
            z.h = h;
            z.w = w;
            sl_log_info("--arch %s: input %dx%dx%d, from the data (%s); --input sets another",
                        o->arch, c, h, w, sl_dataset_path(t->train, 0));
        }
        sl_manual_seed(o->seed);
        if ((rc = sl_zoo_build(o->arch, &z, &t->g))) return sl_err_ctx(rc, "--arch: ");
        if ((rc = set_normalisation(t->g, o))) return rc;
    }
    warn_resize(t->train, t->g);
    if (output_width(t->g) != nc)
        return sl_err(SL_ESHAPE, "model '%s' has %lld outputs but %s has %d classes", t->g->name,
                      (long long)output_width(t->g), o->data, nc);
    const char *names[nc > 0 ? nc : 1];
    for (int i = 0; i < nc; i++)
        names[i] = sl_dataset_class_name(t->train, i);
    return sl_graph_set_classes(t->g, names, nc);
}

/* Reads cut, wire and decoder_out from the graph's "tl" object (docs/formats/tl.md). */
static int read_tl(trainer *t)
{
    if (!t->g->tl_json)
        return sl_err(SL_EARG,
                      "--tl-stage: model '%s' has no transfer layer (insert one with "
                      "sl-preprocess insert)",
                      t->g->name);
    cJSON *tl = cJSON_Parse(t->g->tl_json);
    const char *keys[3] = {"cut", "wire", "decoder_out"};
    char *dst[3] = {t->cut, t->wire, t->dec};
    int rc = tl ? SL_OK : sl_err(SL_EFORMAT, "model '%s': the tl object is not JSON", t->g->name);
    for (int k = 0; k < 3 && !rc; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(tl, keys[k]);
        if (!cJSON_IsString(v) || sl_graph_find(t->g, v->valuestring) < 0)
            rc = sl_err(SL_EFORMAT, "model '%s': tl.%s is missing or names no node", t->g->name,
                        keys[k]);
        else
            snprintf(dst[k], SL_NAME_MAX, "%s", v->valuestring);
    }
    cJSON_Delete(tl);
    return rc;
}

/* Marks every node the tensor `name` depends on (itself included) in mark[]. */
static void mark_ancestors(const sl_graph *g, int idx, unsigned char *mark)
{
    mark[idx] = 1;
    for (int i = idx; i >= 0; i--) {
        if (!mark[i]) continue;
        for (int k = 0; k < g->nodes[i].ninputs; k++)
            if (g->nodes[i].in_idx[k] >= 0) mark[g->nodes[i].in_idx[k]] = 1;
    }
}

static int is_trainable_param(const sl_param *p)
{
    return !strcmp(p->name, "weight") || !strcmp(p->name, "bias");
}

/* Decides what is frozen (options + TL stage), sets requires_grad, and lists the trainable
 * parameters. */
static int setup_freeze(trainer *t)
{
    const sl_train_opts *o = t->o;
    sl_graph *g = t->g;
    int nn = g->nnodes, rc;
    t->frozen = calloc((size_t)nn, 1);
    t->node_eval = calloc((size_t)nn, 1);
    if (!t->frozen || !t->node_eval) return sl_err(SL_ENOMEM, "out of memory");
    if (o->freeze && (rc = sl_train_freeze_patterns(g, o->freeze, t->frozen))) return rc;
    if (o->tl_stage == 1)
        for (int i = 0; i < nn; i++)
            if (strncmp(g->nodes[i].role, "tl_", 3)) t->frozen[i] = 1;
    if (o->tl_stage == 2) /* the device side (head and encoder) stays as stage 1 left it */
        mark_ancestors(g, sl_graph_find(g, t->wire), t->frozen);
    if ((rc = sl_ckpt_params_list(g, &t->ps))) return rc;
    t->trainable = calloc((size_t)t->ps.n + 1, sizeof *t->trainable);
    if (!t->trainable) return sl_err(SL_ENOMEM, "out of memory");
    for (int k = 0; k < t->ps.n; k++) {
        sl_node *n = &g->nodes[t->ps.node[k]];
        sl_param *p = &n->params[t->ps.param[k]];
        int train = !t->frozen[t->ps.node[k]] && is_trainable_param(p);
        if (sl_tensor_set_requires_grad(p->t, train)) return TORCH_ERR(n->name);
        if (train) t->trainable[t->ntrain++] = p->t;
    }
    for (int i = 0; i < nn; i++)
        t->node_eval[i] = t->frozen[i];
    if (!t->ntrain) return sl_err(SL_EARG, "nothing to train: every parameter is frozen");
    return SL_OK;
}

/* The gradient run starts at the last single-tensor cut whose ancestors are all frozen: what
 * comes before it needs neither gradients nor batch statistics. */
static int choose_boundary(trainer *t)
{
    sl_graph *g = t->g;
    if (t->o->tl_stage == 1) {
        t->boundary = t->cut;
        return SL_OK;
    }
    unsigned char *live = calloc((size_t)g->nnodes, 1);
    int *cuts = NULL, ncuts = 0;
    int rc = live ? sl_graph_cut_points(g, &cuts, &ncuts) : sl_err(SL_ENOMEM, "out of memory");
    if (rc) {
        free(live);
        return rc;
    }
    for (int i = 0; i < g->nnodes; i++) {
        sl_node *n = &g->nodes[i];
        live[i] = !t->frozen[i] && n->nparams > 0;
        for (int k = 0; k < n->ninputs; k++)
            if (n->in_idx[k] >= 0) live[i] |= live[n->in_idx[k]];
    }
    t->boundary = NULL;
    for (int c = ncuts - 1; c >= 0; c--)
        if (cuts[c] >= 0 && !live[cuts[c]] && c < ncuts - 1) {
            t->boundary = g->nodes[cuts[c]].name;
            break;
        }
    free(live);
    free(cuts);
    return SL_OK;
}

static int plan(trainer *t)
{
    const sl_train_opts *o = t->o;
    sl_graph *g = t->g;
    int rc;
    if (t->boundary) {
        sl_exec_opts inf = {.fold_bn = 1};
        if ((rc = sl_exec_new(g, NULL, 0, &t->boundary, 1, &inf, &t->prefix))) return rc;
    }
    sl_exec_opts tr = {.train = 1, .node_eval = t->node_eval};
    const char *dec = t->dec;
    if ((rc = sl_exec_new(g, t->boundary ? &t->boundary : NULL, t->boundary ? 1 : 0,
                          o->tl_stage == 1 ? &dec : NULL, o->tl_stage == 1, &tr, &t->suffix)))
        return rc;
    if (o->tl_stage == 1 && o->tl_stages_at && *o->tl_stages_at) {
        char *buf, *items[64];
        int n;
        if ((rc = sl_parse_list("--tl-stages-at", o->tl_stages_at, &buf, items, 64, &n)))
            return rc;
        t->stage_names = calloc((size_t)n, sizeof *t->stage_names);
        if (!t->stage_names) {
            free(buf);
            return sl_err(SL_ENOMEM, "out of memory");
        }
        for (int k = 0; k < n; k++) {
            /* "@output": the model's output (its logits), whatever the cut and its name */
            const char *p = strcmp(items[k], "@output") ? items[k] : g->outputs[0];
            if (sl_graph_find(g, p) < 0) {
                int rc2 =
                    sl_err(SL_ENOTFOUND, "--tl-stages-at: '%s' is not a node of '%s'", p, g->name);
                free(buf);
                return rc2;
            }
            t->stage_names[t->nstages++] = strdup(p);
        }
        free(buf);
        /* The tail is frozen: eval-mode batch norm, autograd only to reach the decoder. */
        sl_exec_opts ev = {.grad = 1};
        if ((rc = sl_exec_new(g, &dec, 1, (const char *const *)t->stage_names, t->nstages, &ev,
                              &t->stages)))
            return sl_err_ctx(rc, "--tl-stages-at: ");
    }
    if (t->teacher) {
        sl_exec_opts inf = {.fold_bn = 1};
        if ((rc = sl_exec_new(t->teacher, NULL, 0, NULL, 0, &inf, &t->teacher_exec))) return rc;
    }
    return SL_OK;
}

static int make_optim(trainer *t)
{
    const sl_train_opts *o = t->o;
    int rc = o->optim == SL_OPTIM_ADAM
                 ? sl_optim_adam_new(t->trainable, t->ntrain, o->lr, 0.9, 0.999, 1e-8,
                                     o->weight_decay, &t->opt)
                 : sl_optim_sgd_new(t->trainable, t->ntrain, o->lr, o->momentum, 0, o->weight_decay,
                                    o->nesterov, &t->opt);
    return rc ? TORCH_ERR("optimiser") : SL_OK;
}

static int make_loaders(trainer *t)
{
    const sl_train_opts *o = t->o;
    sl_loader_opts lo;
    sl_loader_opts_init(&lo);
    lo.spec.c = (int)t->g->input_shape.d[0];
    lo.spec.h = (int)t->g->input_shape.d[1];
    lo.spec.w = (int)t->g->input_shape.d[2];
    memcpy(lo.spec.mean, t->g->mean, sizeof lo.spec.mean);
    memcpy(lo.spec.std, t->g->std, sizeof lo.spec.std);
    lo.spec.resize = SL_RESIZE_STRETCH;
    lo.batch = o->batch;
    lo.seed = o->seed;
    lo.threads = o->workers;
    lo.augment = o->augment;
    lo.shuffle = 1;
    int rc = sl_loader_new(t->train, &lo, &t->loader);
    if (rc || !t->val) return rc;
    lo.shuffle = 0;
    memset(&lo.augment, 0, sizeof lo.augment);
    return sl_loader_new(t->val, &lo, &t->val_loader);
}

/* ---- one step ----------------------------------------------------------------------------- */

static int batch_tensors(const trainer *t, const sl_batch *b, sl_tensor **x, sl_tensor **y)
{
    const sl_shape *s = &t->g->input_shape;
    int64_t xs[4] = {b->n, s->d[0], s->d[1], s->d[2]}, ys[1] = {b->n};
    if (sl_tensor_from_buffer(b->x, xs, 4, SL_DT_F32, x)) return TORCH_ERR("batch");
    if (sl_tensor_from_buffer(b->y, ys, 1, SL_DT_I64, y)) {
        sl_tensor_free(*x);
        *x = NULL;
        return TORCH_ERR("labels");
    }
    return SL_OK;
}

static int count_correct(const sl_tensor *logits, const sl_tensor *y, int n, int64_t *correct)
{
    sl_tensor *am = NULL;
    int64_t pred[n > 0 ? n : 1], lab[n > 0 ? n : 1];
    if (sl_argmax(logits, 1, &am) || sl_tensor_to_buffer(am, pred, sizeof pred) ||
        sl_tensor_to_buffer(y, lab, sizeof lab)) {
        sl_tensor_free(am);
        return TORCH_ERR("accuracy");
    }
    sl_tensor_free(am);
    for (int i = 0; i < n; i++)
        *correct += pred[i] == lab[i];
    return SL_OK;
}

/* The input of the gradient run: the batch itself, or the frozen prefix's output copied out of
 * inference mode (inference tensors cannot be saved for backward). */
static int boundary_value(trainer *t, sl_tensor *x, sl_value *bv)
{
    sl_value in = {.t = x};
    if (!t->prefix) {
        *bv = in;
        return sl_tensor_share(x, &bv->t) ? TORCH_ERR("batch") : SL_OK;
    }
    sl_value pv = {0};
    int rc = sl_exec_run(t->prefix, &in, &pv);
    if (rc) return rc;
    *bv = pv;
    bv->t = NULL;
    rc = sl_tensor_clone(pv.t, &bv->t) ? TORCH_ERR("prefix") : SL_OK;
    sl_value_clear(&pv);
    return rc;
}

static int add_loss(sl_tensor **loss, sl_tensor *term, double w)
{
    sl_tensor *scaled = NULL, *sum = NULL;
    int rc = SL_OK;
    if (w != 1.0 && sl_mul_scalar(term, w, &scaled)) rc = TORCH_ERR("loss");
    sl_tensor *tt = scaled ? scaled : term;
    if (!rc && *loss && sl_add(*loss, tt, &sum)) rc = TORCH_ERR("loss");
    if (!rc) {
        sl_tensor *keep = NULL;
        if (!sum && sl_tensor_share(tt, &keep)) rc = TORCH_ERR("loss");
        sl_tensor_free(*loss);
        *loss = sum ? sum : keep;
    }
    sl_tensor_free(scaled);
    return rc;
}

/* Stage 1 loss: MSE(decoder_out, X), plus MSE at the later stage tensors with the frozen tail
 * run once from X (target, no grad) and once from the reconstruction. */
static int stage1_loss(trainer *t, const sl_value *xv, const sl_value *dec, sl_tensor **loss)
{
    sl_tensor *mse = NULL;
    if (sl_mse_loss(dec->t, xv->t, &mse)) return TORCH_ERR("mse");
    int rc = add_loss(loss, mse, 1.0);
    sl_tensor_free(mse);
    if (rc || !t->stages) return rc;
    sl_value tv[t->nstages], sv[t->nstages];
    int prev = sl_grad_mode_set(0);
    rc = sl_exec_run(t->stages, xv, tv);
    sl_grad_mode_set(prev);
    if (rc) return rc;
    if (!(rc = sl_exec_run(t->stages, dec, sv))) {
        for (int k = 0; k < t->nstages && !rc; k++) {
            mse = NULL;
            rc = sl_mse_loss(sv[k].t, tv[k].t, &mse) ? TORCH_ERR("mse") : add_loss(loss, mse, 1.0);
            sl_tensor_free(mse);
        }
        for (int k = 0; k < t->nstages; k++)
            sl_value_clear(&sv[k]);
    }
    for (int k = 0; k < t->nstages; k++)
        sl_value_clear(&tv[k]);
    return rc;
}

/* KL(teacher || student) at temperature T, times T^2 (Hinton et al.), as batchmean. */
static int distill_loss(trainer *t, sl_tensor *x, const sl_tensor *logits, sl_tensor **out)
{
    double T = t->o->distill_t;
    sl_value in = {.t = x}, tv = {0};
    int rc = sl_exec_run(t->teacher_exec, &in, &tv);
    if (rc) return rc;
    sl_tensor *tl = NULL, *ts = NULL, *ss = NULL, *tlog = NULL, *slog = NULL, *kl = NULL;
    if (sl_tensor_clone(tv.t, &tl) || sl_mul_scalar(tl, 1.0 / T, &ts) ||
        sl_mul_scalar(logits, 1.0 / T, &ss) || sl_log_softmax(ts, 1, &tlog) ||
        sl_log_softmax(ss, 1, &slog) || sl_kl_div(slog, tlog, 1, &kl) ||
        sl_mul_scalar(kl, T * T, out))
        rc = TORCH_ERR("distillation");
    sl_value_clear(&tv);
    sl_tensor_free(tl);
    sl_tensor_free(ts);
    sl_tensor_free(ss);
    sl_tensor_free(tlog);
    sl_tensor_free(slog);
    sl_tensor_free(kl);
    return rc;
}

typedef struct epoch_sums {
    double loss;
    int64_t correct, seen;
} epoch_sums;

static int train_step(trainer *t, const sl_batch *b, epoch_sums *s)
{
    const sl_train_opts *o = t->o;
    sl_tensor *x = NULL, *y = NULL, *loss = NULL, *term = NULL;
    sl_value bv = {0}, out = {0};
    int rc = batch_tensors(t, b, &x, &y);
    if (!rc) rc = boundary_value(t, x, &bv);
    if (!rc) rc = sl_exec_run(t->suffix, &bv, &out);
    if (!rc && o->tl_stage == 1) {
        rc = stage1_loss(t, &bv, &out, &loss);
    } else if (!rc) {
        double alpha = t->teacher ? o->alpha : 0;
        if (alpha < 1) {
            rc = sl_cross_entropy(out.t, y, o->label_smoothing, &term)
                     ? TORCH_ERR("loss")
                     : add_loss(&loss, term, 1 - alpha);
            sl_tensor_free(term);
            term = NULL;
        }
        if (!rc && alpha > 0) {
            rc = distill_loss(t, x, out.t, &term);
            if (!rc) rc = add_loss(&loss, term, alpha);
        }
        if (!rc) rc = count_correct(out.t, y, b->n, &s->correct);
    }
    double lv = 0;
    if (!rc && (sl_optim_zero_grad(t->opt) || sl_backward(loss) || sl_optim_step(t->opt) ||
                sl_tensor_item(loss, &lv)))
        rc = TORCH_ERR("training step");
    if (!rc && !isfinite(lv))
        rc = sl_err(SL_ETORCH, "the loss became %g at epoch %d step %lld (try a lower --lr)", lv,
                    t->st.epoch + 1, (long long)t->st.step);
    s->loss += lv * b->n;
    s->seen += b->n;
    sl_tensor_free(x);
    sl_tensor_free(y);
    sl_tensor_free(loss);
    sl_tensor_free(term);
    sl_value_clear(&bv);
    sl_value_clear(&out);
    return rc;
}

/* ---- validation --------------------------------------------------------------------------- */

typedef struct val_result {
    double acc, loss, mse;
    int compiled;   /* the pass ran the compiled path */
    double seconds; /* the pass, planning included */
} val_result;

int sl_train_val_compiles(const sl_train_opts *o, int64_t images, int64_t h, int64_t w)
{
    if (o->val_exec == SL_VAL_COMPILED) return 1;
    if (o->val_exec == SL_VAL_PLAIN) return 0;
    return images * h * w >= SL_VAL_COMPILE_PIXELS;
}

/* The validation plan: a compiled one made now for these weights (the caller frees it), or the
 * plain one the run keeps (made on first use; *own stays 0). */
static int val_plan(trainer *t, const char *const *to, int nto, int compiled, sl_exec **e,
                    int *own)
{
    *own = compiled;
    if (compiled) {
        sl_exec_opts inf = {.fold_bn = 1};
        return sl_exec_new(t->g, NULL, 0, to, nto, &inf, e);
    }
    /* No folding: the plan keeps the parameters it reads, which the optimiser updates in place. */
    sl_exec_opts plain = {.plain = 1};
    int rc = t->val_plain ? SL_OK : sl_exec_new(t->g, NULL, 0, to, nto, &plain, &t->val_plain);
    *e = t->val_plain;
    return rc;
}

static int validate(trainer *t, val_result *v)
{
    sl_graph *g = t->g;
    const char *to[3] = {g->outputs[0], t->cut, t->dec};
    int nto = t->o->tl_stage ? 3 : 1, own = 0;
    double t0 = sl_now();
    v->compiled = sl_train_val_compiles(t->o, (int64_t)sl_dataset_count(t->val),
                                        g->input_shape.d[1], g->input_shape.d[2]);
    sl_exec *e;
    int rc = val_plan(t, to, nto, v->compiled, &e, &own);
    if (rc) return rc;
    sl_loader_reset(t->val_loader, 0);
    sl_batch b;
    int64_t correct = 0, seen = 0;
    double loss = 0, mse = 0;
    while (!rc && (rc = sl_loader_next(t->val_loader, &b)) == SL_OK) {
        sl_tensor *x = NULL, *y = NULL, *ce = NULL, *m = NULL;
        sl_value in = {0}, out[3] = {{0}};
        rc = batch_tensors(t, &b, &x, &y);
        in.t = x;
        if (!rc) rc = sl_exec_run(e, &in, out);
        double lv = 0, mv = 0;
        if (!rc && (sl_cross_entropy(out[0].t, y, 0, &ce) || sl_tensor_item(ce, &lv)))
            rc = TORCH_ERR("validation loss");
        if (!rc && nto == 3 && (sl_mse_loss(out[2].t, out[1].t, &m) || sl_tensor_item(m, &mv)))
            rc = TORCH_ERR("validation mse");
        if (!rc) rc = count_correct(out[0].t, y, b.n, &correct);
        loss += lv * b.n;
        mse += mv * b.n;
        seen += b.n;
        for (int k = 0; k < nto; k++)
            sl_value_clear(&out[k]);
        sl_tensor_free(x);
        sl_tensor_free(y);
        sl_tensor_free(ce);
        sl_tensor_free(m);
    }
    if (own) sl_exec_free(e);
    v->seconds = sl_now() - t0;
    if (rc != SL_LOADER_END) return sl_err_ctx(rc < 0 ? rc : SL_EIO, "validation: ");
    v->acc = seen ? (double)correct / (double)seen : 0;
    v->loss = seen ? loss / (double)seen : 0;
    v->mse = seen ? mse / (double)seen : 0;
    return SL_OK;
}

/* ---- the run ------------------------------------------------------------------------------ */

static int write_output(trainer *t, const sl_train_result *r)
{
    const sl_train_opts *o = t->o;
    int rc = t->st.has_best ? sl_ckpt_params_copy(&t->ps, t->st.best, 1) : SL_OK;
    if (rc) return rc;
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "val_acc", r->best_val_acc);
    if (o->tl_stage == 1) cJSON_AddNumberToObject(m, "val_mse", r->best_val_mse);
    cJSON_AddNumberToObject(m, "best_epoch", r->best_epoch);
    cJSON_AddNumberToObject(m, "epochs", r->epochs_run);
    cJSON_AddNumberToObject(m, "images_per_s", r->images_per_s);
    cJSON_AddNumberToObject(m, "train_loss", r->last_loss);
    cJSON_AddNumberToObject(m, "tl_stage", o->tl_stage);
    cJSON_AddItemToObject(m, "classes", sl_json_string_array(t->g->classes, t->g->nclasses));
    char *json = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    sl_bundle *b = sl_bundle_new(NULL);
    if (!json || !b) {
        free(json);
        sl_bundle_free(b);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    b->graph = t->g;
    snprintf(b->created_by, sizeof b->created_by, "sl-train fit %s", SL_VERSION);
    rc = sl_bundle_set_json(&b->metrics_json, json);
    if (!rc) rc = sl_bundle_write(o->out, b);
    b->graph = NULL;
    sl_bundle_free(b);
    free(json);
    return rc;
}

static void log_epoch(trainer *t, const epoch_sums *s, const val_result *v, double lr, double secs,
                      int best)
{
    if (!t->log) return;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "epoch", t->st.epoch);
    cJSON_AddNumberToObject(j, "step", (double)t->st.step);
    cJSON_AddNumberToObject(j, "lr", lr);
    cJSON_AddNumberToObject(j, "train_loss", s->seen ? s->loss / (double)s->seen : 0);
    if (t->o->tl_stage != 1)
        cJSON_AddNumberToObject(j, "train_acc", s->seen ? (double)s->correct / (double)s->seen : 0);
    if (v) {
        cJSON_AddNumberToObject(j, "val_loss", v->loss);
        cJSON_AddNumberToObject(j, "val_acc", v->acc);
        if (t->o->tl_stage) cJSON_AddNumberToObject(j, "val_mse", v->mse);
        cJSON_AddStringToObject(j, "val_exec", v->compiled ? "compiled" : "plain");
        cJSON_AddNumberToObject(j, "val_seconds", v->seconds);
    }
    cJSON_AddBoolToObject(j, "best", best);
    cJSON_AddNumberToObject(j, "images_per_s", secs > 0 ? (double)s->seen / secs : 0);
    cJSON_AddNumberToObject(j, "seconds", secs);
    char *line = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (line) {
        fprintf(t->log, "%s\n", line);
        fflush(t->log);
    }
    free(line);
}

static int run_epoch(trainer *t, epoch_sums *s, double *secs, double *lr_out)
{
    const sl_train_opts *o = t->o;
    int e = t->st.epoch;
    int64_t steps = sl_loader_num_batches(t->loader), k = 0;
    if (o->epoch_images > 0 && (o->epoch_images + o->batch - 1) / o->batch < steps)
        steps = (o->epoch_images + o->batch - 1) / o->batch; /* a subset, reshuffled each epoch */
    char title[64], extra[160] = "";
    snprintf(title, sizeof title, "epoch %d/%d", e + 1, o->epochs);
    sl_manual_seed(o->seed * 1000003u + (uint64_t)e);
    sl_loader_reset(t->loader, e);
    sl_progress *p = sl_progress_start(title, (uint64_t)steps);
    double t0 = sl_now();
    sl_batch b;
    int rc = SL_OK;
    while (k < steps && (rc = sl_loader_next(t->loader, &b)) == SL_OK) {
        *lr_out = sl_train_lr(o, e, k, steps);
        if (sl_optim_set_lr(t->opt, *lr_out)) {
            rc = TORCH_ERR("learning rate");
            break;
        }
        if ((rc = train_step(t, &b, s))) break;
        k++;
        t->st.step++;
        double el = sl_now() - t0;
        if (o->tl_stage == 1)
            snprintf(extra, sizeof extra, "loss %.5f  %.0f img/s", s->loss / (double)s->seen,
                     (double)s->seen / (el > 0 ? el : 1e-9));
        else
            snprintf(extra, sizeof extra, "loss %.4f acc %.3f  %.0f img/s",
                     s->loss / (double)s->seen, (double)s->correct / (double)s->seen,
                     (double)s->seen / (el > 0 ? el : 1e-9));
        sl_progress_update(p, (uint64_t)k, extra);
    }
    *secs = sl_now() - t0;
    sl_progress_done(p, extra);
    if (rc == SL_LOADER_END || rc == SL_OK) return SL_OK; /* the set's end, or --epoch-images */
    return rc < 0 ? sl_err_ctx(rc, "epoch %d: ", e + 1) : sl_err(SL_EIO, "epoch %d: loader", e + 1);
}

/* Higher is better for accuracy, lower for the stage-1 reconstruction error. */
static double val_metric(const trainer *t, const val_result *v)
{
    return t->o->tl_stage == 1 ? -v->mse : v->acc;
}

/* Everything that needs only the model: TL names, teacher, freezing, plans, optimiser. */
static int setup_model(trainer *t)
{
    const sl_train_opts *o = t->o;
    int rc;
    if (o->tl_stage < 0 || o->tl_stage > 2)
        return sl_err(SL_EARG, "--tl-stage must be 1 or 2, not %d", o->tl_stage);
    if (o->distill_t > 0 && (o->tl_stage != 2 || !o->tl_teacher))
        return sl_err(SL_EARG, "--distill needs --tl-stage 2 and --tl-teacher");
    if (sl_set_num_threads(o->threads > 0 ? o->threads : 1)) return TORCH_ERR("--threads");
    if (o->tl_stage && (rc = read_tl(t))) return rc;
    if (o->tl_stage == 2 && o->distill_t > 0) {
        if ((rc = read_graph(o->tl_teacher, "--tl-teacher", &t->teacher))) return rc;
        if (output_width(t->teacher) != output_width(t->g))
            return sl_err(SL_ESHAPE, "--tl-teacher: %s has %lld outputs, the model %lld",
                          o->tl_teacher, (long long)output_width(t->teacher),
                          (long long)output_width(t->g));
    }
    if ((rc = setup_freeze(t)) || (rc = choose_boundary(t)) || (rc = plan(t)) ||
        (rc = make_optim(t)))
        return rc;
    sl_log_debug("gradient run starts at %s; %d trainable tensors",
                 t->boundary ? t->boundary : t->g->input_name, t->ntrain);
    return SL_OK;
}

static int setup(trainer *t)
{
    const sl_train_opts *o = t->o;
    int rc;
    if ((rc = open_data(t)) || (rc = open_model(t)) || (rc = setup_model(t)) ||
        (rc = make_loaders(t)))
        return rc;
    if (o->resume && (rc = sl_ckpt_load(o->resume, o, &t->ps, t->opt, t->ntrain, &t->st)))
        return rc;
    if (o->log && !(t->log = fopen(o->log, o->resume ? "a" : "w")))
        return sl_err(SL_EIO, "--log: cannot open %s", o->log);
    return SL_OK;
}

struct sl_trainer {
    trainer t;
};

int sl_trainer_new(sl_graph *g, const sl_train_opts *o, sl_trainer **out)
{
    *out = NULL;
    sl_trainer *tr = calloc(1, sizeof *tr);
    if (!tr) return sl_err(SL_ENOMEM, "out of memory");
    tr->t.o = o;
    tr->t.g = g;
    tr->t.graph_borrowed = 1;
    int rc = setup_model(&tr->t);
    if (rc) {
        sl_trainer_free(tr);
        return rc;
    }
    *out = tr;
    return SL_OK;
}

int sl_trainer_step(sl_trainer *tr, const float *x, const int64_t *y, int n, double *loss)
{
    sl_batch b = {.n = n, .x = (float *)x, .y = (int64_t *)y};
    epoch_sums s = {0};
    int rc = train_step(&tr->t, &b, &s);
    if (loss) *loss = n > 0 ? s.loss / n : 0;
    return rc;
}

void sl_trainer_free(sl_trainer *tr)
{
    if (!tr) return;
    trainer_free(&tr->t);
    free(tr);
}

/* A weightless TL (pool) leaves stage 1 nothing to learn: 1 when the model's TL has no
 * parameters, 0 when it has some, negative on error. */
static int tl_without_weights(const char *path, sl_bundle **out)
{
    int rc = sl_bundle_read(path, out);
    if (rc) return rc;
    const sl_graph *g = (*out)->graph;
    for (int i = 0; i < g->nnodes; i++)
        if (!strncmp(g->nodes[i].role, "tl_", 3) && g->nodes[i].nparams) return 0;
    return 1;
}

int sl_train_fit(const sl_train_opts *o, sl_train_result *res)
{
    if (o->tl_stage == 1 && o->model && !o->resume) {
        sl_bundle *b = NULL;
        int w = tl_without_weights(o->model, &b);
        if (w == 1 && o->out) {
            sl_log_info("the transfer layer has no weights (pool): stage 1 has nothing to learn; "
                        "writing the model unchanged");
            w = sl_bundle_write(o->out, b);
            if (!w && res) memset(res, 0, sizeof *res);
            sl_bundle_free(b);
            return w;
        }
        sl_bundle_free(b);
        if (w < 0) return w;
    }
    trainer t = {.o = o};
    sl_train_result r = {.best_val_acc = -1, .first_loss = NAN};
    int rc = setup(&t);
    int start = t.st.epoch, ran = 0;
    double train_secs = 0;
    int64_t train_images = 0;
    while (!rc && t.st.epoch < o->epochs && !(o->stop_after && ran >= o->stop_after)) {
        epoch_sums s = {0};
        double secs = 0, lr = o->lr;
        val_result v = {0};
        if ((rc = run_epoch(&t, &s, &secs, &lr))) break;
        if (t.val && (rc = validate(&t, &v))) break;
        train_secs += secs;
        train_images += s.seen;
        r.last_loss = s.seen ? s.loss / (double)s.seen : 0;
        if (!ran) r.first_loss = r.last_loss;
        int best = !t.val || !t.st.has_best || val_metric(&t, &v) > t.st.best_metric;
        t.st.epoch++;
        ran++;
        if (best && t.val) {
            t.st.best_metric = val_metric(&t, &v);
            t.st.best_epoch = t.st.epoch;
            t.st.best_acc = v.acc;
            t.st.best_mse = v.mse;
            t.st.bad_epochs = 0;
            rc = sl_ckpt_params_snapshot(&t.ps, &t.st);
        } else if (t.val) {
            t.st.bad_epochs++;
        } else {
            t.st.best_epoch = t.st.epoch;
        }
        if (t.val && o->tl_stage == 1)
            sl_log_info("epoch %d/%d: val mse %.6f, val acc %.4f%s", t.st.epoch, o->epochs, v.mse,
                        v.acc, best ? " (best)" : "");
        else if (t.val)
            sl_log_info("epoch %d/%d: val acc %.4f%s", t.st.epoch, o->epochs, v.acc,
                        best ? " (best)" : "");
        log_epoch(&t, &s, t.val ? &v : NULL, lr, secs, best);
        if (!rc && o->checkpoint)
            rc = sl_ckpt_save(o->checkpoint, o, t.g, &t.ps, t.opt, t.ntrain, &t.st);
        if (!rc && o->patience > 0 && t.st.bad_epochs >= o->patience) {
            sl_log_info("early stop: no improvement for %d epochs", o->patience);
            r.stopped_early = 1;
            break;
        }
    }
    if (!rc && ran == 0 && start >= o->epochs)
        sl_log_warn("the checkpoint already holds all %d epochs", o->epochs);
    r.epochs_run = t.st.epoch;
    r.best_epoch = t.st.best_epoch;
    if (t.val && t.st.has_best) {
        r.best_val_acc = t.st.best_acc;
        r.best_val_mse = t.st.best_mse;
    }
    r.images_per_s = train_secs > 0 ? (double)train_images / train_secs : 0;
    if (!rc && o->out) rc = write_output(&t, &r);
    trainer_free(&t);
    if (res) *res = r;
    return rc;
}
