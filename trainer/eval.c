/* eval.c: top-1 accuracy, per-class precision / recall and confusion of a model or a pair. */
#include "trainer/eval.h"
#include "common/status.h"
#include "datasets/loader.h"
#include "model/exec.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

void sl_eval_result_free(sl_eval_result *r)
{
    if (!r) return;
    for (int i = 0; r->classes && i < r->k; i++)
        free(r->classes[i]);
    free(r->classes);
    free(r->confusion);
    free(r->pred);
    free(r);
}

double sl_eval_accuracy(const sl_eval_result *r)
{
    return r->n ? (double)r->correct / (double)r->n : 0;
}

double sl_eval_precision(const sl_eval_result *r, int c)
{
    int64_t col = 0;
    for (int t = 0; t < r->k; t++)
        col += r->confusion[t * r->k + c];
    return col ? (double)r->confusion[c * r->k + c] / (double)col : 0;
}

double sl_eval_recall(const sl_eval_result *r, int c)
{
    int64_t row = 0;
    for (int p = 0; p < r->k; p++)
        row += r->confusion[c * r->k + p];
    return row ? (double)r->confusion[c * r->k + c] / (double)row : 0;
}

/* What turns a batch into logits: one plan, or the device and edge plans of a pair. */
typedef struct runner {
    sl_graph *in_graph, *out_graph;
    sl_exec *first, *second; /* second: the edge half of a pair, else NULL */
    int nwire;
    double wire_bytes; /* summed over images */
} runner;

static int run_batch(runner *r, sl_tensor *x, sl_tensor **logits)
{
    sl_value in = {.t = x}, mid[r->nwire > 0 ? r->nwire : 1], out = {0};
    if (!r->second) {
        int rc = sl_exec_run(r->first, &in, &out);
        *logits = out.t;
        return rc;
    }
    int rc = sl_exec_run(r->first, &in, mid);
    if (rc) return sl_err_ctx(rc, "device: ");
    for (int i = 0; i < r->nwire; i++)
        r->wire_bytes += (double)sl_tensor_nbytes(mid[i].t);
    rc = sl_exec_run(r->second, mid, &out);
    for (int i = 0; i < r->nwire; i++)
        sl_value_clear(&mid[i]);
    if (rc) return sl_err_ctx(rc, "edge: ");
    *logits = out.t;
    return SL_OK;
}

/* Dataset label -> model class index, by name when the model has names. */
static int label_map(const sl_graph *g, const sl_dataset *ds, int64_t width, int *map, int *k)
{
    int nc = sl_dataset_num_classes(ds);
    *k = g->nclasses > 0 ? g->nclasses : (int)width;
    if (g->nclasses > 0 && g->nclasses != width)
        return sl_err(SL_EFORMAT, "model '%s' names %d classes but has %lld outputs", g->name,
                      g->nclasses, (long long)width);
    for (int i = 0; i < nc; i++) {
        const char *name = sl_dataset_class_name(ds, i);
        map[i] = -1;
        if (g->nclasses > 0) {
            for (int c = 0; c < g->nclasses; c++)
                if (!strcmp(g->classes[c], name)) map[i] = c;
        } else if (i < width) {
            map[i] = i;
        }
        if (map[i] < 0)
            return sl_err(SL_ENOTFOUND, "dataset class '%s' is not a class of model '%s'", name,
                          g->name);
    }
    return SL_OK;
}

static int evaluate(runner *rn, sl_dataset *ds, const sl_eval_opts *o, sl_eval_result **out)
{
    *out = NULL;
    sl_graph *gi = rn->in_graph, *go = rn->out_graph;
    const sl_shape *os = &go->nodes[go->out_idx[0]].out;
    if (os->ndim != 1) return sl_err(SL_ESHAPE, "model '%s': the output is not a vector", go->name);
    int nc = sl_dataset_num_classes(ds);
    int map[nc > 0 ? nc : 1], k;
    int rc = label_map(go, ds, os->d[0], map, &k);
    if (rc) return rc;
    sl_eval_result *r = calloc(1, sizeof *r);
    int64_t n = sl_dataset_count(ds);
    if (!r || !(r->classes = calloc((size_t)k, sizeof *r->classes)) ||
        !(r->confusion = calloc((size_t)k * (size_t)k, sizeof *r->confusion)) ||
        !(r->pred = calloc((size_t)n + 1, sizeof *r->pred))) {
        sl_eval_result_free(r);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    r->k = k;
    for (int c = 0; c < k; c++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%d", c);
        r->classes[c] = strdup(go->nclasses > 0 ? go->classes[c]
                                                : (c < nc ? sl_dataset_class_name(ds, c) : buf));
    }
    sl_loader_opts lo;
    sl_loader_opts_init(&lo);
    lo.spec.c = (int)gi->input_shape.d[0];
    lo.spec.h = (int)gi->input_shape.d[1];
    lo.spec.w = (int)gi->input_shape.d[2];
    memcpy(lo.spec.mean, gi->mean, sizeof lo.spec.mean);
    memcpy(lo.spec.std, gi->std, sizeof lo.spec.std);
    lo.batch = o && o->batch > 0 ? o->batch : 32;
    lo.threads = o ? o->workers : 2;
    lo.shuffle = 0;
    sl_loader *l = NULL;
    if ((rc = sl_loader_new(ds, &lo, &l))) {
        sl_eval_result_free(r);
        return rc;
    }
    sl_batch b;
    while ((rc = sl_loader_next(l, &b)) == SL_OK) {
        int64_t xs[4] = {b.n, lo.spec.c, lo.spec.h, lo.spec.w};
        sl_tensor *x = NULL, *logits = NULL, *am = NULL;
        int64_t pred[b.n];
        if (sl_tensor_from_buffer(b.x, xs, 4, SL_DT_F32, &x)) {
            rc = sl_err(SL_ETORCH, "batch: %s", sl_torch_last_error());
            break;
        }
        rc = run_batch(rn, x, &logits);
        if (!rc && (sl_argmax(logits, 1, &am) || sl_tensor_to_buffer(am, pred, sizeof pred)))
            rc = sl_err(SL_ETORCH, "predictions: %s", sl_torch_last_error());
        sl_tensor_free(x);
        sl_tensor_free(logits);
        sl_tensor_free(am);
        if (rc) break;
        for (int i = 0; i < b.n; i++) {
            int t = map[b.y[i]];
            int p = pred[i] >= 0 && pred[i] < k ? (int)pred[i] : 0;
            r->confusion[t * k + p]++;
            r->correct += t == p;
            r->pred[b.index[i]] = p;
        }
        r->n += b.n;
    }
    sl_loader_free(l);
    if (rc != SL_LOADER_END) {
        sl_eval_result_free(r);
        return rc < 0 ? rc : sl_err(SL_EIO, "loader stopped");
    }
    if (rn->second && r->n) r->wire_bytes = rn->wire_bytes / (double)r->n;
    *out = r;
    return SL_OK;
}

int sl_eval_model(sl_graph *g, sl_dataset *ds, const sl_eval_opts *o, sl_eval_result **out)
{
    runner rn = {g, g, NULL, NULL, 0, 0};
    sl_exec_opts inf = {.fold_bn = 1};
    const char *to[1] = {g->outputs[0]};
    int rc = sl_exec_new(g, NULL, 0, to, 1, &inf, &rn.first);
    if (!rc) rc = evaluate(&rn, ds, o, out);
    sl_exec_free(rn.first);
    return rc;
}

int sl_eval_pair(sl_graph *device, sl_graph *edge, sl_dataset *ds, const sl_eval_opts *o,
                 sl_eval_result **out)
{
    *out = NULL;
    runner rn = {device, edge, NULL, NULL, device->noutputs, 0};
    for (int i = 0; i < device->noutputs; i++) {
        int idx = sl_graph_find(edge, device->outputs[i]);
        if (idx < 0 || edge->nodes[idx].op != SL_OP_PLACEHOLDER)
            return sl_err(SL_ENOTFOUND,
                          "the device's output '%s' is not a placeholder of the "
                          "edge graph '%s'",
                          device->outputs[i], edge->name);
    }
    sl_exec_opts inf = {.fold_bn = 1};
    const char *to[1] = {edge->outputs[0]};
    int rc = sl_exec_new(device, NULL, 0, NULL, 0, &inf, &rn.first);
    if (!rc)
        rc = sl_exec_new(edge, (const char *const *)device->outputs, device->noutputs, to, 1, &inf,
                         &rn.second);
    if (!rc) rc = evaluate(&rn, ds, o, out);
    sl_exec_free(rn.first);
    sl_exec_free(rn.second);
    return rc;
}

void sl_eval_print(const sl_eval_result *r, FILE *f)
{
    fprintf(f, "images %lld  top-1 accuracy %.4f\n", (long long)r->n, sl_eval_accuracy(r));
    if (r->wire_bytes > 0) fprintf(f, "wire bytes per image %.1f\n", r->wire_bytes);
    int w = 5;
    for (int c = 0; c < r->k; c++)
        if ((int)strlen(r->classes[c]) > w) w = (int)strlen(r->classes[c]);
    fprintf(f, "\n%-*s  precision  recall  support\n", w, "class");
    for (int c = 0; c < r->k; c++) {
        int64_t support = 0;
        for (int p = 0; p < r->k; p++)
            support += r->confusion[c * r->k + p];
        fprintf(f, "%-*s  %9.4f  %6.4f  %7lld\n", w, r->classes[c], sl_eval_precision(r, c),
                sl_eval_recall(r, c), (long long)support);
    }
    fprintf(f, "\nconfusion (rows: true class, columns: predicted)\n%-*s", w, "");
    for (int c = 0; c < r->k; c++)
        fprintf(f, " %*s", w, r->classes[c]);
    fputc('\n', f);
    for (int t = 0; t < r->k; t++) {
        fprintf(f, "%-*s", w, r->classes[t]);
        for (int p = 0; p < r->k; p++)
            fprintf(f, " %*lld", w, (long long)r->confusion[t * r->k + p]);
        fputc('\n', f);
    }
}

char *sl_eval_json(const sl_eval_result *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "images", (double)r->n);
    cJSON_AddNumberToObject(j, "accuracy", sl_eval_accuracy(r));
    if (r->wire_bytes > 0) cJSON_AddNumberToObject(j, "wire_bytes_per_image", r->wire_bytes);
    cJSON *cl = cJSON_AddArrayToObject(j, "classes");
    cJSON *pc = cJSON_AddArrayToObject(j, "per_class");
    cJSON *cm = cJSON_AddArrayToObject(j, "confusion");
    for (int c = 0; c < r->k; c++) {
        cJSON_AddItemToArray(cl, cJSON_CreateString(r->classes[c]));
        cJSON *e = cJSON_CreateObject();
        int64_t support = 0;
        cJSON *row = cJSON_CreateArray();
        for (int p = 0; p < r->k; p++) {
            support += r->confusion[c * r->k + p];
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)r->confusion[c * r->k + p]));
        }
        cJSON_AddItemToArray(cm, row);
        cJSON_AddStringToObject(e, "class", r->classes[c]);
        cJSON_AddNumberToObject(e, "precision", sl_eval_precision(r, c));
        cJSON_AddNumberToObject(e, "recall", sl_eval_recall(r, c));
        cJSON_AddNumberToObject(e, "support", (double)support);
        cJSON_AddItemToArray(pc, e);
    }
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    return s;
}
