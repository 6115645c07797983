/* checkpoint.c: saving and restoring the training loop's state (trainer/checkpoint.h). */
#include "trainer/checkpoint.h"
#include "common/status.h"
#include "model/bundle.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sgd_state[] = {"momentum_buffer", NULL};
static const char *const adam_state[] = {"exp_avg", "exp_avg_sq", "step", NULL};

int sl_ckpt_params_list(sl_graph *g, sl_ckpt_params *ps)
{
    memset(ps, 0, sizeof *ps);
    int total = 0;
    for (int i = 0; i < g->nnodes; i++)
        total += g->nodes[i].nparams;
    ps->node = calloc((size_t)total + 1, sizeof *ps->node);
    ps->param = calloc((size_t)total + 1, sizeof *ps->param);
    if (!ps->node || !ps->param) {
        sl_ckpt_params_free(ps);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    ps->g = g;
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].nparams; k++) {
            ps->node[ps->n] = i;
            ps->param[ps->n++] = k;
        }
    return SL_OK;
}

void sl_ckpt_params_free(sl_ckpt_params *ps)
{
    free(ps->node);
    free(ps->param);
    memset(ps, 0, sizeof *ps);
}

static sl_param *param_at(const sl_ckpt_params *ps, int k)
{
    return &ps->g->nodes[ps->node[k]].params[ps->param[k]];
}

int sl_ckpt_params_copy(const sl_ckpt_params *ps, sl_tensor *const *src, int into_graph)
{
    for (int k = 0; k < ps->n; k++) {
        sl_param *p = param_at(ps, k);
        int rc = into_graph ? sl_tensor_copy_(p->t, src[k]) : sl_tensor_copy_(src[k], p->t);
        if (rc)
            return sl_err(SL_ETORCH, "copying %s.%s: %s", ps->g->nodes[ps->node[k]].name, p->name,
                          sl_torch_last_error());
    }
    return SL_OK;
}

int sl_ckpt_params_snapshot(const sl_ckpt_params *ps, sl_ckpt_state *st)
{
    if (!st->best) {
        st->best = calloc((size_t)ps->n + 1, sizeof *st->best);
        if (!st->best) return sl_err(SL_ENOMEM, "out of memory");
        st->nbest = ps->n;
        for (int k = 0; k < ps->n; k++)
            if (sl_tensor_clone(param_at(ps, k)->t, &st->best[k]))
                return sl_err(SL_ETORCH, "best weights: %s", sl_torch_last_error());
    } else {
        int rc = sl_ckpt_params_copy(ps, st->best, 0);
        if (rc) return rc;
    }
    st->has_best = 1;
    return SL_OK;
}

void sl_ckpt_state_init(sl_ckpt_state *st)
{
    memset(st, 0, sizeof *st);
}

void sl_ckpt_state_free(sl_ckpt_state *st)
{
    if (st->best)
        for (int k = 0; k < st->nbest; k++)
            sl_tensor_free(st->best[k]);
    free(st->best);
    sl_ckpt_state_init(st);
}

static const char *const *state_names(int optim)
{
    return optim == SL_OPTIM_ADAM ? adam_state : sgd_state;
}

static void best_name(const sl_ckpt_params *ps, int k, char *buf, size_t n)
{
    snprintf(buf, n, "best/%s/%s", ps->g->nodes[ps->node[k]].name, param_at(ps, k)->name);
}

static char *state_json(const sl_train_opts *o, const sl_graph *g, const sl_ckpt_state *st)
{
    char hash[65];
    if (sl_graph_hash(g, hash)) return NULL;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "epoch", st->epoch);
    cJSON_AddNumberToObject(j, "step", (double)st->step);
    cJSON_AddNumberToObject(j, "best_metric", st->best_metric);
    cJSON_AddNumberToObject(j, "best_epoch", st->best_epoch);
    cJSON_AddNumberToObject(j, "bad_epochs", st->bad_epochs);
    cJSON_AddNumberToObject(j, "best_acc", st->best_acc);
    cJSON_AddNumberToObject(j, "best_mse", st->best_mse);
    cJSON_AddBoolToObject(j, "has_best", st->has_best);
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    cJSON_AddStringToObject(j, "optim", o->optim == SL_OPTIM_ADAM ? "adam" : "sgd");
    cJSON_AddNumberToObject(j, "batch", o->batch);
    cJSON_AddNumberToObject(j, "tl_stage", o->tl_stage);
    cJSON_AddStringToObject(j, "graph_hash", hash);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

int sl_ckpt_save(const char *path, const sl_train_opts *o, const sl_graph *g,
                 const sl_ckpt_params *ps, const sl_optim *opt, int ntrain, const sl_ckpt_state *st)
{
    sl_bundle *b = sl_bundle_new(NULL);
    char *json = state_json(o, g, st);
    int rc = b && json ? SL_OK : sl_err(SL_ENOMEM, "out of memory");
    if (!rc) {
        b->graph = (sl_graph *)g;
        snprintf(b->role, sizeof b->role, "checkpoint");
        snprintf(b->created_by, sizeof b->created_by, "sl-train fit %s", SL_VERSION);
        rc = sl_bundle_set_json(&b->train_state_json, json);
    }
    char name[3 * SL_NAME_MAX];
    for (int k = 0; k < ntrain && !rc; k++)
        for (const char *const *s = state_names(o->optim); *s && !rc; s++) {
            sl_tensor *v = NULL;
            if (sl_optim_state_get(opt, k, *s, &v)) {
                rc = sl_err(SL_ETORCH, "optimiser state: %s", sl_torch_last_error());
                break;
            }
            if (!v) continue;
            snprintf(name, sizeof name, "optim/%d/%s", k, *s);
            rc = sl_bundle_set_extra(b, name, v);
            sl_tensor_free(v);
        }
    for (int k = 0; st->has_best && k < ps->n && !rc; k++) {
        best_name(ps, k, name, sizeof name);
        rc = sl_bundle_set_extra(b, name, st->best[k]);
    }
    if (!rc) rc = sl_bundle_write(path, b);
    if (b) b->graph = NULL;
    sl_bundle_free(b);
    free(json);
    return rc ? sl_err_ctx(rc, "checkpoint: ") : SL_OK;
}

static int num_field(const cJSON *j, const char *key, const char *path, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(v) && !cJSON_IsBool(v))
        return sl_err(SL_EFORMAT, "%s: train_state lacks the number '%s'", path, key);
    *out = cJSON_IsBool(v) ? cJSON_IsTrue(v) : v->valuedouble;
    return SL_OK;
}

/* Checks that the checkpoint belongs to this run and reads the loop state. */
static int read_state(const char *path, const sl_bundle *b, const sl_train_opts *o,
                      const sl_graph *g, sl_ckpt_state *st)
{
    if (strcmp(b->role, "checkpoint"))
        return sl_err(SL_EFORMAT, "%s: role is '%s', not a training checkpoint", path, b->role);
    if (!b->train_state_json)
        return sl_err(SL_EFORMAT, "%s: the checkpoint has no train_state", path);
    cJSON *j = cJSON_Parse(b->train_state_json);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return sl_err(SL_EFORMAT, "%s: train_state is not a JSON object", path);
    }
    double v[11];
    static const char *const keys[] = {"epoch",      "step",     "best_metric", "best_epoch",
                                       "bad_epochs", "best_acc", "best_mse",    "has_best",
                                       "seed",       "batch",    "tl_stage"};
    int rc = SL_OK;
    for (int k = 0; k < 11 && !rc; k++)
        rc = num_field(j, keys[k], path, &v[k]);
    const cJSON *opt = cJSON_GetObjectItemCaseSensitive(j, "optim");
    const cJSON *hash = cJSON_GetObjectItemCaseSensitive(j, "graph_hash");
    char mine[65] = "";
    if (!rc && (!cJSON_IsString(opt) || !cJSON_IsString(hash)))
        rc = sl_err(SL_EFORMAT, "%s: train_state lacks 'optim' or 'graph_hash'", path);
    if (!rc && (rc = sl_graph_hash(g, mine)) == SL_OK && strcmp(mine, hash->valuestring))
        rc = sl_err(SL_EFORMAT, "%s: the checkpoint is of a different model structure", path);
    const char *want = o->optim == SL_OPTIM_ADAM ? "adam" : "sgd";
    if (!rc && strcmp(opt->valuestring, want))
        rc = sl_err(SL_EARG, "%s: made with --optim %s, not %s", path, opt->valuestring, want);
    if (!rc && v[8] != (double)o->seed)
        rc = sl_err(SL_EARG, "%s: made with --seed %.0f, not %llu", path, v[8],
                    (unsigned long long)o->seed);
    if (!rc && v[9] != o->batch)
        rc = sl_err(SL_EARG, "%s: made with --batch %.0f, not %d", path, v[9], o->batch);
    if (!rc && v[10] != o->tl_stage)
        rc = sl_err(SL_EARG, "%s: made with --tl-stage %.0f, not %d", path, v[10], o->tl_stage);
    if (!rc && (v[0] < 0 || v[1] < 0))
        rc = sl_err(SL_EFORMAT, "%s: train_state has a negative epoch or step", path);
    cJSON_Delete(j);
    if (rc) return rc;
    st->epoch = (int)v[0];
    st->step = (int64_t)v[1];
    st->best_metric = v[2];
    st->best_epoch = (int)v[3];
    st->bad_epochs = (int)v[4];
    st->best_acc = v[5];
    st->best_mse = v[6];
    st->has_best = v[7] != 0;
    return SL_OK;
}

int sl_ckpt_load(const char *path, const sl_train_opts *o, const sl_ckpt_params *ps, sl_optim *opt,
                 int ntrain, sl_ckpt_state *st)
{
    sl_bundle *b;
    int rc = sl_bundle_read(path, &b);
    if (rc) return sl_err_ctx(rc, "--resume: ");
    int has_best = 0;
    sl_ckpt_state tmp;
    sl_ckpt_state_init(&tmp);
    rc = read_state(path, b, o, ps->g, &tmp);
    has_best = tmp.has_best;
    char name[3 * SL_NAME_MAX];
    for (int k = 0; k < ps->n && !rc; k++) {
        const sl_node *n = &ps->g->nodes[ps->node[k]];
        sl_param *p = param_at(ps, k);
        int idx = sl_graph_find(b->graph, n->name);
        sl_param *q = idx >= 0 ? sl_node_param(&b->graph->nodes[idx], p->name) : NULL;
        if (!q || !q->t) {
            rc = sl_err(SL_EFORMAT, "%s: no weights for %s.%s", path, n->name, p->name);
        } else if (sl_tensor_copy_(p->t, q->t)) {
            rc = sl_err(SL_EFORMAT, "%s: %s.%s: %s", path, n->name, p->name, sl_torch_last_error());
        }
        if (rc || !has_best) continue;
        best_name(ps, k, name, sizeof name);
        const sl_tensor *bt = sl_bundle_extra(b, name);
        if (!bt) rc = sl_err(SL_EFORMAT, "%s: no best weights '%s'", path, name);
    }
    for (int k = 0; k < ntrain && !rc; k++)
        for (const char *const *s = state_names(o->optim); *s && !rc; s++) {
            snprintf(name, sizeof name, "optim/%d/%s", k, *s);
            const sl_tensor *v = sl_bundle_extra(b, name);
            if (v && sl_optim_state_set(opt, k, *s, v))
                rc = sl_err(SL_EFORMAT, "%s: optimiser state %s: %s", path, name,
                            sl_torch_last_error());
        }
    if (!rc && has_best) {
        tmp.best = calloc((size_t)ps->n + 1, sizeof *tmp.best);
        tmp.nbest = ps->n;
        if (!tmp.best) rc = sl_err(SL_ENOMEM, "out of memory");
        for (int k = 0; k < ps->n && !rc; k++) {
            best_name(ps, k, name, sizeof name);
            if (sl_tensor_clone(sl_bundle_extra(b, name), &tmp.best[k]))
                rc = sl_err(SL_ETORCH, "%s: %s: %s", path, name, sl_torch_last_error());
        }
    }
    sl_bundle_free(b);
    if (rc) {
        sl_ckpt_state_free(&tmp);
        return rc;
    }
    sl_ckpt_state_free(st);
    *st = tmp;
    return SL_OK;
}
