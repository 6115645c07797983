/* exec.c: planning and running a graph or a sub-range of it, with batch-norm folding, in-place
 * activations and MKL-DNN's layout (prepacked conv weights, blocked activations) on the
 * inference path. */
#include "model/exec.h"
#include "common/status.h"
#include "model/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sl_exec {
    sl_graph *g;
    sl_exec_opts o;
    int nfrom, nto, nrun;
    int *from_pos, *to_pos; /* tensor positions: 0 = graph input, i + 1 = node i */
    int *run;               /* node indices in order */
    int *uses;              /* per position: consumers among run nodes + outputs */
    int *fold_into;         /* per node: for a folded batch norm, the conv it is folded into */
    sl_tensor **fold_w, **fold_b; /* per node: folded and/or prepacked conv weights (owned) */
    int mkldnn;                   /* values may be kept in MKL-DNN's layout */
    char *mk_node;                /* per node: runs on MKL-DNN tensors */
    char *mk;                     /* per position: value kept in MKL-DNN's layout */
};

void sl_value_clear(sl_value *v)
{
    if (!v) return;
    sl_tensor_free(v->t);
    memset(v, 0, sizeof *v);
}

static int inference_path(const sl_exec_opts *o)
{
    return !o->train && !o->grad;
}

/* Number of consumers of tensor position p over the whole graph (+ graph outputs). */
static int graph_consumers(const sl_graph *g, int p)
{
    int c = 0;
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].ninputs; k++) c += g->nodes[i].in_idx[k] + 1 == p;
    for (int i = 0; i < g->noutputs; i++) c += g->out_idx[i] + 1 == p;
    return c;
}

static int plan_fold(sl_exec *e, const char *need)
{
    sl_graph *g = e->g;
    for (int r = 0; r < e->nrun; r++) {
        int b = e->run[r];
        sl_node *bn = &g->nodes[b];
        if (bn->op != SL_OP_BATCH_NORM) continue;
        int c = bn->in_idx[0];
        if (c < 0 || !need[c] || g->nodes[c].op != SL_OP_CONV2D) continue;
        if (graph_consumers(g, c + 1) != 1) continue;
        int is_boundary = 0;
        for (int i = 0; i < e->nto; i++) is_boundary |= e->to_pos[i] == c + 1;
        for (int i = 0; i < e->nfrom; i++) is_boundary |= e->from_pos[i] == c + 1;
        if (is_boundary) continue;
        sl_node *cv = &g->nodes[c];
        int o = bn->a.affine ? 2 : 0;
        if (sl_fold_batch_norm(cv->params[0].t, cv->a.bias ? cv->params[1].t : NULL,
                               bn->a.affine ? bn->params[0].t : NULL,
                               bn->a.affine ? bn->params[1].t : NULL, bn->params[o].t,
                               bn->params[o + 1].t, bn->a.eps, &e->fold_w[c], &e->fold_b[c]))
            return sl_err(SL_ETORCH, "folding '%s' into '%s': %s", bn->name, cv->name,
                          sl_torch_last_error());
        e->fold_into[b] = c;
    }
    return SL_OK;
}

/* Whether node i can take and give MKL-DNN tensors (see exec.h; the shim lists what it accepts). */
static int mkldnn_capable(const sl_exec *e, int i)
{
    const sl_graph *g = e->g;
    const sl_node *n = &g->nodes[i];
    switch (n->op) {
    case SL_OP_CONV2D:
    case SL_OP_RELU:
    case SL_OP_ADD:
        return 1;
    case SL_OP_BATCH_NORM:
        return e->fold_into[i] >= 0;
    case SL_OP_MAX_POOL:
        return n->a.dil[0] == 1 && n->a.dil[1] == 1;
    case SL_OP_ADAPTIVE_AVG_POOL: {
        int p = n->in_idx[0];
        const sl_shape *in = p < 0 ? &g->input_shape : &g->nodes[p].out;
        return in->ndim == 3 && in->d[1] % n->a.out_hw[0] == 0 && in->d[2] % n->a.out_hw[1] == 0;
    }
    default:
        return 0;
    }
}

/* Decides which values live in MKL-DNN's layout and prepacks the weights of every conv that
 * reads or gives such a value. */
static int plan_mkldnn(sl_exec *e)
{
    sl_graph *g = e->g;
    e->mkldnn = 1;
    for (int r = 0; r < e->nrun; r++) {
        int i = e->run[r];
        e->mk_node[i] = (char)mkldnn_capable(e, i);
        e->mk[i + 1] = e->mk_node[i];
    }
    /* A value stays blocked only if every consumer takes blocked input; outputs and boundary
     * values are plain. */
    for (int r = 0; r < e->nrun; r++) {
        sl_node *n = &g->nodes[e->run[r]];
        if (!e->mk_node[e->run[r]])
            for (int k = 0; k < n->ninputs; k++) e->mk[n->in_idx[k] + 1] = 0;
    }
    for (int i = 0; i < e->nto; i++) e->mk[e->to_pos[i]] = 0;
    for (int i = 0; i < e->nfrom; i++) e->mk[e->from_pos[i]] = 0;
    /* A folded conv's value becomes its batch norm's value. */
    for (int r = 0; r < e->nrun; r++)
        if (e->fold_into[e->run[r]] >= 0) e->mk[e->fold_into[e->run[r]] + 1] = e->mk[e->run[r] + 1];
    for (int r = 0; r < e->nrun; r++) {
        int i = e->run[r];
        sl_node *n = &g->nodes[i];
        if (n->op != SL_OP_CONV2D) continue;
        /* Between two strided values (e.g. before a relu6) MKL-DNN would reorder the input and
         * the result on every call; libtorch's own choice of kernel is as fast there. */
        if (!e->mk[i + 1] && !e->mk[n->in_idx[0] + 1]) {
            e->mk_node[i] = 0;
            continue;
        }
        sl_tensor *w = NULL;
        const sl_tensor *src = e->fold_w[i] ? e->fold_w[i] : n->params[0].t;
        if (sl_mkldnn_conv_weight(src, n->a.stride, n->a.pad, n->a.dil, n->a.groups, &w))
            return sl_err(SL_ETORCH, "node '%s': %s", n->name, sl_torch_last_error());
        sl_tensor_free(e->fold_w[i]);
        e->fold_w[i] = w;
        if (!e->fold_b[i] && n->a.bias && sl_tensor_share(n->params[1].t, &e->fold_b[i]))
            return sl_err(SL_ETORCH, "node '%s': %s", n->name, sl_torch_last_error());
    }
    return SL_OK;
}

/* Gives every conv of the plan channels-last weights (the folded ones, or copies). */
static int plan_channels_last(sl_exec *e)
{
    sl_graph *g = e->g;
    for (int r = 0; r < e->nrun; r++) {
        int i = e->run[r];
        sl_node *n = &g->nodes[i];
        if (n->op != SL_OP_CONV2D) continue;
        sl_tensor *w = NULL;
        const sl_tensor *src = e->fold_w[i] ? e->fold_w[i] : n->params[0].t;
        if (sl_tensor_memory_format(src, 1, &w))
            return sl_err(SL_ETORCH, "node '%s': %s", n->name, sl_torch_last_error());
        sl_tensor_free(e->fold_w[i]);
        e->fold_w[i] = w;
        if (!e->fold_b[i] && n->a.bias && sl_tensor_share(n->params[1].t, &e->fold_b[i]))
            return sl_err(SL_ETORCH, "node '%s': %s", n->name, sl_torch_last_error());
    }
    return SL_OK;
}

int sl_exec_new(sl_graph *g, const char *const *from, int nfrom, const char *const *to, int nto,
                const sl_exec_opts *o, sl_exec **out)
{
    *out = NULL;
    if (!g->validated) return sl_err(SL_EARG, "graph '%s' is not validated", g->name);
    int nn = g->nnodes, rc = SL_OK;
    sl_exec *e = calloc(1, sizeof *e);
    char *need = calloc((size_t)nn + 1, 1), *given = calloc((size_t)nn + 1, 1);
    if (!e || !need || !given) goto oom;
    e->g = g;
    if (o) e->o = *o;
    e->nfrom = (nfrom > 0 && from) ? nfrom : 1;
    e->nto = (nto > 0 && to) ? nto : g->noutputs;
    e->from_pos = calloc((size_t)e->nfrom, sizeof *e->from_pos);
    e->to_pos = calloc((size_t)e->nto, sizeof *e->to_pos);
    e->run = calloc((size_t)nn + 1, sizeof *e->run);
    e->uses = calloc((size_t)nn + 1, sizeof *e->uses);
    e->fold_into = malloc(((size_t)nn + 1) * sizeof *e->fold_into);
    e->fold_w = calloc((size_t)nn + 1, sizeof *e->fold_w);
    e->fold_b = calloc((size_t)nn + 1, sizeof *e->fold_b);
    e->mk_node = calloc((size_t)nn + 1, 1);
    e->mk = calloc((size_t)nn + 1, 1);
    if (!e->from_pos || !e->to_pos || !e->run || !e->uses || !e->fold_into || !e->fold_w ||
        !e->fold_b || !e->mk_node || !e->mk)
        goto oom;
    for (int i = 0; i < nn; i++) e->fold_into[i] = -1;
    for (int i = 0; i < e->nfrom; i++) {
        int idx = (nfrom > 0 && from) ? sl_graph_find(g, from[i]) : -1;
        if (idx == -2) {
            rc = sl_err(SL_ENOTFOUND, "boundary tensor '%s' is not in graph '%s'", from[i], g->name);
            goto fail;
        }
        e->from_pos[i] = idx + 1;
        given[idx + 1] = 1;
    }
    for (int i = 0; i < e->nto; i++) {
        int idx = (nto > 0 && to) ? sl_graph_find(g, to[i]) : g->out_idx[i];
        if (idx == -2) {
            rc = sl_err(SL_ENOTFOUND, "output tensor '%s' is not in graph '%s'", to[i], g->name);
            goto fail;
        }
        e->to_pos[i] = idx + 1;
        if (!given[idx + 1]) need[idx + 1] = 1;
    }
    /* Walk backwards: a needed tensor that is not given needs its producer's inputs. */
    for (int i = nn - 1; i >= 0; i--) {
        if (!need[i + 1]) continue;
        for (int k = 0; k < g->nodes[i].ninputs; k++) {
            int p = g->nodes[i].in_idx[k] + 1;
            if (!given[p]) need[p] = 1;
        }
    }
    if (need[0]) {
        rc = sl_err(SL_EARG, "the outputs depend on the graph input '%s', which is not among the "
                             "boundary tensors", g->input_name);
        goto fail;
    }
    for (int i = 0; i < nn; i++)
        if (need[i + 1]) {
            e->run[e->nrun++] = i;
            for (int k = 0; k < g->nodes[i].ninputs; k++) e->uses[g->nodes[i].in_idx[k] + 1]++;
        }
    for (int i = 0; i < e->nto; i++) e->uses[e->to_pos[i]]++;
    if (e->o.fold_bn && inference_path(&e->o)) {
        /* need[] indexes positions; plan_fold wants node indices. */
        char *node_need = need + 1;
        if ((rc = plan_fold(e, node_need))) goto fail;
    }
    if (e->o.channels_last && inference_path(&e->o) && (rc = plan_channels_last(e))) goto fail;
    if (!e->o.channels_last && !e->o.plain && inference_path(&e->o) && (rc = plan_mkldnn(e)))
        goto fail;
    free(need);
    free(given);
    *out = e;
    return SL_OK;
oom:
    rc = sl_err(SL_ENOMEM, "out of memory");
fail:
    free(need);
    free(given);
    sl_exec_free(e);
    return rc;
}

void sl_exec_free(sl_exec *e)
{
    if (!e) return;
    if (e->fold_w)
        for (int i = 0; i <= e->g->nnodes; i++) {
            sl_tensor_free(e->fold_w[i]);
            sl_tensor_free(e->fold_b[i]);
        }
    free(e->fold_w);
    free(e->fold_b);
    free(e->fold_into);
    free(e->mk_node);
    free(e->mk);
    free(e->from_pos);
    free(e->to_pos);
    free(e->run);
    free(e->uses);
    free(e);
}

int sl_exec_nodes(const sl_exec *e, const int **idx)
{
    *idx = e->run;
    return e->nrun;
}

struct run_state {
    sl_exec *e;
    const sl_value *in;
    sl_value *out;
};

/* Hands position p's value to the caller as an owned value: moves it on its last use, else
 * shares the tensor. */
static int take(sl_value *vals, char *owned, int *left, int p, sl_value *dst)
{
    *dst = vals[p];
    if (--left[p] == 0 && owned[p]) {
        memset(&vals[p], 0, sizeof vals[p]);
        owned[p] = 0;
        return SL_OK;
    }
    dst->t = NULL;
    if (sl_tensor_share(vals[p].t, &dst->t)) return sl_err(SL_ETORCH, "%s", sl_torch_last_error());
    return SL_OK;
}

/* *dst = v in MKL-DNN's layout (mk = 1) or strided (mk = 0): v's own tensor, shared, when it
 * already is, else a converted copy. The caller frees dst->t. */
static int relayout(const sl_value *v, int mk, sl_value *dst)
{
    *dst = *v;
    dst->t = NULL;
    int is = sl_tensor_is_mkldnn(v->t);
    int rc = is < 0 ? is
             : is == mk ? sl_tensor_share(v->t, &dst->t)
             : mk       ? sl_tensor_to_mkldnn(v->t, &dst->t)
                        : sl_tensor_to_dense(v->t, &dst->t);
    return rc ? sl_err(SL_ETORCH, "%s", sl_torch_last_error()) : SL_OK;
}

/* Puts the fresh value of position p into the layout the plan chose for it. */
static int settle(const sl_exec *e, sl_value *v, int p)
{
    if (!e->mkldnn || sl_tensor_is_mkldnn(v->t) == e->mk[p]) return SL_OK;
    sl_value c;
    int rc = relayout(v, e->mk[p], &c);
    if (rc) return rc;
    sl_tensor_free(v->t);
    *v = c;
    return SL_OK;
}

/* Layout node i needs its inputs in: 1 MKL-DNN, 0 strided, -1 either (kept as they are). A conv
 * whose input and result are laid out differently converts its input into the result's layout
 * when the input is the smaller of the two, else its result afterwards (conversions are memory
 * bound: converting the smaller tensor is what made batch-8 mobilenet_v2 as fast as plain). */
static int input_layout(const sl_exec *e, int i)
{
    if (!e->mk_node[i]) return 0;
    const sl_graph *g = e->g;
    const sl_node *n = &g->nodes[i];
    switch (n->op) {
    case SL_OP_ADD:
        return e->mk[i + 1];
    case SL_OP_CONV2D: {
        const sl_shape *in = n->in_idx[0] < 0 ? &g->input_shape : &g->nodes[n->in_idx[0]].out;
        return sl_shape_numel(in) <= sl_shape_numel(&n->out) ? e->mk[i + 1] : -1;
    }
    default:
        return -1;
    }
}

static int run_body(void *ctx)
{
    struct run_state *st = ctx;
    sl_exec *e = st->e;
    sl_graph *g = e->g;
    int nn = g->nnodes, rc = SL_OK;
    int inf = inference_path(&e->o);
    sl_value *vals = calloc((size_t)nn + 1, sizeof *vals);
    char *owned = calloc((size_t)nn + 1, 1);
    int *left = malloc(((size_t)nn + 1) * sizeof *left);
    if (!vals || !owned || !left) {
        free(vals);
        free(owned);
        free(left);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    memcpy(left, e->uses, ((size_t)nn + 1) * sizeof *left);
    int64_t batch = 0;
    sl_tensor *converted[e->nfrom];
    memset(converted, 0, sizeof converted);
    for (int i = 0; i < e->nfrom; i++) {
        if (!st->in[i].t) {
            rc = sl_err(SL_EARG, "boundary tensor %d has no value", i);
            goto done;
        }
        const sl_shape *want = e->from_pos[i] == 0 ? &g->input_shape : &g->nodes[e->from_pos[i] - 1].out;
        int64_t shp[SL_MAX_DIMS];
        int nd = 0;
        sl_tensor_shape(st->in[i].t, shp, SL_MAX_DIMS, &nd);
        batch = nd > 0 ? shp[0] : 0;
        int ok = nd == want->ndim + 1;
        for (int k = 0; ok && k < want->ndim; k++) ok = shp[k + 1] == want->d[k];
        if (!ok) {
            char got[96] = "", exp[96] = "N";
            size_t a = 0, b = 1;
            for (int k = 0; k < nd && a < sizeof got; k++)
                a += (size_t)snprintf(got + a, sizeof got - a, "%s%lld", k ? "x" : "", (long long)shp[k]);
            for (int k = 0; k < want->ndim && b < sizeof exp; k++)
                b += (size_t)snprintf(exp + b, sizeof exp - b, "x%lld", (long long)want->d[k]);
            rc = sl_err(SL_ESHAPE, "tensor '%s' has shape %s, the model expects %s",
                        e->from_pos[i] == 0 ? g->input_name : g->nodes[e->from_pos[i] - 1].name, got, exp);
            goto done;
        }
        vals[e->from_pos[i]] = st->in[i]; /* borrowed */
        if (e->o.channels_last && inf && nd == 4 && !st->in[i].quantized) {
            sl_value cl = st->in[i];
            if (sl_tensor_memory_format(st->in[i].t, 1, &cl.t)) {
                rc = sl_err(SL_ETORCH, "%s", sl_torch_last_error());
                goto done;
            }
            /* Kept as borrowed (never changed in place: it may share the caller's storage);
             * freed at the end. */
            vals[e->from_pos[i]] = cl;
            converted[i] = cl.t;
        }
    }
    for (int r = 0; r < e->nrun; r++) {
        int i = e->run[r];
        sl_node *n = &g->nodes[i];
        sl_value *v = &vals[i + 1];
        if (e->fold_into[i] >= 0) {
            /* Folded batch norm: its value is the conv's, which has no other consumer. */
            rc = take(vals, owned, left, e->fold_into[i] + 1, v);
            if (rc) goto done;
            owned[i + 1] = 1;
            continue;
        }
        if (inf && n->op == SL_OP_RELU) {
            int p = n->in_idx[0] + 1;
            if (left[p] == 1 && owned[p]) {
                rc = take(vals, owned, left, p, v);
                if (!rc && sl_relu_(v->t)) rc = sl_err(SL_ETORCH, "relu: %s", sl_torch_last_error());
                owned[i + 1] = 1;
                if (!rc) rc = settle(e, v, i + 1);
                if (rc) goto done;
                continue;
            }
        }
        sl_value *ins[n->ninputs + 1];
        for (int k = 0; k < n->ninputs; k++) ins[k] = &vals[n->in_idx[k] + 1];
        /* Inputs in the wrong layout are converted into temporaries, so that other consumers
         * still see each value as the plan laid it out. */
        sl_value conv_in[n->ninputs + 1];
        memset(conv_in, 0, sizeof conv_in);
        int want = e->mkldnn ? input_layout(e, i) : -1;
        for (int k = 0; k < n->ninputs && want >= 0 && !rc; k++)
            if (!ins[k]->quantized && sl_tensor_is_mkldnn(ins[k]->t) != want) {
                rc = relayout(ins[k], want, &conv_in[k]);
                ins[k] = &conv_in[k];
            }
        sl_op_ctx c = {e->o.train && !(e->o.node_eval && e->o.node_eval[i]), e->o.train};
        if (!rc && e->mk_node[i] && n->op == SL_OP_CONV2D) {
            if (sl_mkldnn_conv2d(ins[0]->t, e->fold_w[i], e->fold_b[i], n->a.stride, n->a.pad,
                                 n->a.dil, n->a.groups, &v->t))
                rc = sl_err(SL_ETORCH, "conv2d: %s", sl_torch_last_error());
        } else if (!rc && e->mkldnn && n->op == SL_OP_LINEAR && batch > 1) {
            /* A reference BLAS is slow on matrices; MKL-DNN wins from two rows on (one row is a
             * memory-bound matrix-vector product either way). */
            if (sl_mkldnn_linear(ins[0]->t, n->params[0].t, n->a.bias ? n->params[1].t : NULL,
                                 &v->t))
                rc = sl_err(SL_ETORCH, "linear: %s", sl_torch_last_error());
        } else if (!rc && e->fold_w[i]) {
            if (sl_conv2d(ins[0]->t, e->fold_w[i], e->fold_b[i], n->a.stride, n->a.pad, n->a.dil,
                          n->a.groups, &v->t))
                rc = sl_err(SL_ETORCH, "conv2d: %s", sl_torch_last_error());
        } else if (!rc) {
            rc = sl_op_def_get(n->op)->forward(&c, n, ins, n->ninputs, v);
        }
        for (int k = 0; k < n->ninputs; k++) sl_tensor_free(conv_in[k].t);
        if (!rc && (rc = settle(e, v, i + 1))) sl_value_clear(v);
        if (rc) {
            rc = sl_err_ctx(rc, "node '%s': ", n->name);
            goto done;
        }
        owned[i + 1] = 1;
        for (int k = 0; k < n->ninputs; k++) {
            int p = n->in_idx[k] + 1;
            if (--left[p] == 0 && owned[p]) {
                sl_value_clear(&vals[p]);
                owned[p] = 0;
            }
        }
    }
    for (int i = 0; i < e->nto; i++) {
        int p = e->to_pos[i];
        if (owned[p]) {
            rc = take(vals, owned, left, p, &st->out[i]);
        } else {
            st->out[i] = vals[p];
            st->out[i].t = NULL;
            if (sl_tensor_share(vals[p].t, &st->out[i].t))
                rc = sl_err(SL_ETORCH, "%s", sl_torch_last_error());
        }
        if (rc) goto done;
    }
done:
    for (int p = 0; p <= nn; p++)
        if (owned[p]) sl_value_clear(&vals[p]);
    for (int i = 0; i < e->nfrom; i++) sl_tensor_free(converted[i]);
    if (rc)
        for (int i = 0; i < e->nto; i++) sl_value_clear(&st->out[i]);
    free(vals);
    free(owned);
    free(left);
    return rc;
}

int sl_exec_run(sl_exec *e, const sl_value *in, sl_value *out)
{
    for (int i = 0; i < e->nto; i++) memset(&out[i], 0, sizeof out[i]);
    struct run_state st = {e, in, out};
    if (inference_path(&e->o)) return sl_run_inference(run_body, &st);
    return run_body(&st);
}

int sl_graph_forward(sl_graph *g, const sl_tensor *x, int train, sl_tensor **out)
{
    *out = NULL;
    sl_exec *e;
    sl_exec_opts o = {.train = train, .grad = train};
    const char *to[1] = {g->outputs[0]};
    int rc = sl_exec_new(g, NULL, 0, to, 1, &o, &e);
    if (rc) return rc;
    sl_value in = {.t = (sl_tensor *)x}, res = {0};
    rc = sl_exec_run(e, &in, &res);
    sl_exec_free(e);
    if (rc) return rc;
    *out = res.t;
    return SL_OK;
}
