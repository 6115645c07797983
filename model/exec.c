/* exec.c: planning and running a graph or a sub-range of it: batch-norm folding and, on the
 * inference path, stretches of the plan compiled into frozen, optimised TorchScript modules. */
#include "model/exec.h"
#include "common/sbuf.h"
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
    sl_tensor **fold_w, **fold_b; /* per node: folded and/or channels-last conv weights (owned) */
    int nseg;
    struct seg *seg; /* the run list cut into compiled and node-by-node stretches */
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

/* ---- the compiled path ----------------------------------------------------------------------
 * On the default inference path the plan's run list is cut into segments: maximal stretches of
 * nodes whose op has a TorchScript hook (ops.h), each compiled into one frozen, optimised
 * TorchScript module when the plan is made, and the nodes between them (quantize, dequantize,
 * anything without a hook), which run one by one through the op table's forward. Run order is
 * topological, so running the segments in order is. */

typedef struct seg {
    int r0, r1;   /* run[r0..r1) */
    sl_jit *jit;  /* NULL: the nodes run one by one */
    int nin, nout;
    int *in_pos, *out_pos; /* tensor positions the module takes and gives */
} seg;

/* The expression of node i's value into buf, or SL_EARG when the node must run through its
 * forward. w[] receives the weight attribute names used (names[k] owned by the caller's
 * buffers), wt[] their tensors; *nw their count. */
static int node_expr(const sl_exec *e, int i, char *buf, size_t size, char (*wname)[32],
                     const sl_tensor **wt, int *nw)
{
    const sl_graph *g = e->g;
    const sl_node *n = &g->nodes[i];
    const sl_op_def *d = sl_op_def_get(n->op);
    *nw = 0;
    if (e->fold_into[i] >= 0) {
        /* A folded batch norm's value is its conv's. */
        snprintf(buf, size, "v%d", e->fold_into[i] + 1);
        return SL_OK;
    }
    if (!d->jit) return SL_EARG;
    char in[n->ninputs + 1][16];
    const char *inp[n->ninputs + 1];
    sl_shape shp[n->ninputs + 1];
    for (int k = 0; k < n->ninputs; k++) {
        snprintf(in[k], sizeof in[k], "v%d", n->in_idx[k] + 1);
        inp[k] = in[k];
        shp[k] = n->in_idx[k] < 0 ? g->input_shape : g->nodes[n->in_idx[k]].out;
    }
    const char *w[SL_MAX_PARAMS] = {0};
    int np = n->nparams < SL_MAX_PARAMS ? n->nparams : SL_MAX_PARAMS;
    for (int k = 0; k < np; k++) {
        const sl_tensor *t = n->params[k].t;
        if (e->fold_w[i]) t = k == 0 ? e->fold_w[i] : k == 1 ? e->fold_b[i] : NULL;
        if (!t) continue;
        snprintf(wname[*nw], sizeof wname[*nw], "w%d_%d", i, k);
        wt[*nw] = t;
        w[k] = wname[*nw];
        (*nw)++;
    }
    /* A folded conv without bias gets the folded bias. */
    if (e->fold_w[i] && np == 1 && e->fold_b[i]) {
        snprintf(wname[*nw], sizeof wname[*nw], "w%d_1", i);
        wt[*nw] = e->fold_b[i];
        w[1] = wname[*nw];
        (*nw)++;
    }
    char self[SL_MAX_PARAMS][40];
    for (int k = 0; k < SL_MAX_PARAMS; k++)
        if (w[k]) {
            snprintf(self[k], sizeof self[k], "self.%s", w[k]);
            w[k] = self[k];
        }
    return d->jit(n, shp, inp, n->ninputs, w, buf, size);
}

/* Whether position p is produced by a node of segment s. */
static int in_seg(const sl_exec *e, const seg *s, int p)
{
    for (int r = s->r0; r < s->r1; r++)
        if (e->run[r] + 1 == p) return 1;
    return 0;
}

/* Writes the TorchScript source of segment s and compiles it. */
static int compile_seg(sl_exec *e, seg *s, char **exprs, const char (*const *wnames)[32],
                       const sl_tensor *const *const *wts, const int *nws)
{
    const sl_graph *g = e->g;
    int nn = g->nnodes, rc = SL_OK;
    char *is_in = calloc((size_t)nn + 1, 1), *is_out = calloc((size_t)nn + 1, 1);
    s->in_pos = calloc((size_t)nn + 1, sizeof *s->in_pos);
    s->out_pos = calloc((size_t)nn + 1, sizeof *s->out_pos);
    if (!is_in || !is_out || !s->in_pos || !s->out_pos) {
        free(is_in);
        free(is_out);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    for (int r = s->r0; r < s->r1; r++) {
        const sl_node *n = &g->nodes[e->run[r]];
        for (int k = 0; k < n->ninputs; k++) {
            int p = n->in_idx[k] + 1;
            if (!in_seg(e, s, p) && !is_in[p]) {
                is_in[p] = 1;
                s->in_pos[s->nin++] = p;
            }
        }
    }
    for (int r = s->r0; r < s->r1; r++) {
        int p = e->run[r] + 1, out = 0;
        for (int i = 0; i < e->nto; i++) out |= e->to_pos[i] == p;
        for (int q = 0; q < e->nrun && !out; q++) {
            if (q >= s->r0 && q < s->r1) continue;
            const sl_node *c = &g->nodes[e->run[q]];
            for (int k = 0; k < c->ninputs; k++) out |= c->in_idx[k] + 1 == p;
        }
        if (out && !is_out[p]) {
            is_out[p] = 1;
            s->out_pos[s->nout++] = p;
        }
    }
    sl_sbuf b = {0};
    sl_sbuf_printf(&b, "def forward(self");
    for (int i = 0; i < s->nin; i++) sl_sbuf_printf(&b, ", v%d: Tensor", s->in_pos[i]);
    sl_sbuf_printf(&b, "):\n");
    int nw = 0;
    for (int r = s->r0; r < s->r1; r++) {
        sl_sbuf_printf(&b, "    v%d = %s\n", e->run[r] + 1, exprs[r]);
        nw += nws[r];
    }
    sl_sbuf_printf(&b, "    return (");
    for (int i = 0; i < s->nout; i++) sl_sbuf_printf(&b, "v%d, ", s->out_pos[i]);
    sl_sbuf_printf(&b, ")\n");
    const char **names = calloc((size_t)nw + 1, sizeof *names);
    const sl_tensor **ts = calloc((size_t)nw + 1, sizeof *ts);
    if (b.oom || !names || !ts) {
        rc = sl_err(SL_ENOMEM, "out of memory");
    } else {
        int k = 0;
        for (int r = s->r0; r < s->r1; r++)
            for (int j = 0; j < nws[r]; j++, k++) {
                names[k] = wnames[r][j];
                ts[k] = wts[r][j];
            }
        if (sl_jit_compile(b.s, names, ts, nw, s->nin, s->nout, e->o.fold_bn, &s->jit))
            rc = sl_err(SL_ETORCH, "compiling nodes '%s' to '%s': %s",
                        g->nodes[e->run[s->r0]].name, g->nodes[e->run[s->r1 - 1]].name,
                        sl_torch_last_error());
    }
    free(names);
    free(ts);
    sl_sbuf_free(&b);
    free(is_in);
    free(is_out);
    return rc;
}

/* Diagnostics: with SL_EXEC_DUMP set (not empty), each segment of a plan is listed on stderr
 * when the plan is made, and with SL_EXEC_DUMP=graph a compiled segment's optimised TorchScript
 * graph follows it (bench/exec_peer.py --graph prints TorchScript's own for comparison). */
static void dump_seg(const sl_exec *e, const seg *s, const char *how)
{
    const sl_graph *g = e->g;
    fprintf(stderr, "exec: segment %s..%s (%d nodes): ", g->nodes[e->run[s->r0]].name,
            g->nodes[e->run[s->r1 - 1]].name, s->r1 - s->r0);
    if (s->jit)
        fprintf(stderr, "compiled, %d inputs, %d outputs\n", s->nin, s->nout);
    else
        fprintf(stderr, "node by node\n");
    size_t len = 0;
    char *text = NULL;
    if (!s->jit || strcmp(how, "graph") ||
        sl_jit_graph_text(s->jit, NULL, 0, &len) || !(text = malloc(len + 1)))
        return;
    if (!sl_jit_graph_text(s->jit, text, len + 1, NULL)) fputs(text, stderr);
    free(text);
}

/* Cuts the plan into segments and compiles the TorchScript ones (jit = 0: one segment that runs
 * node by node). */
static int plan_segments(sl_exec *e, int jit)
{
    int nr = e->nrun, rc = SL_OK;
    const char *dump = getenv("SL_EXEC_DUMP");
    if (dump && !*dump) dump = NULL;
    char **exprs = calloc((size_t)nr + 1, sizeof *exprs);
    char (**wnames)[32] = calloc((size_t)nr + 1, sizeof *wnames);
    const sl_tensor ***wts = calloc((size_t)nr + 1, sizeof *wts);
    int *nws = calloc((size_t)nr + 1, sizeof *nws);
    e->seg = calloc((size_t)nr + 1, sizeof *e->seg);
    if (!exprs || !wnames || !wts || !nws || !e->seg) {
        rc = sl_err(SL_ENOMEM, "out of memory");
        goto done;
    }
    char buf[8192];
    for (int r = 0; jit && r < nr; r++) {
        wnames[r] = calloc(SL_MAX_PARAMS + 1, sizeof *wnames[r]);
        wts[r] = calloc(SL_MAX_PARAMS + 1, sizeof *wts[r]);
        if (!wnames[r] || !wts[r]) {
            rc = sl_err(SL_ENOMEM, "out of memory");
            goto done;
        }
        if (node_expr(e, e->run[r], buf, sizeof buf, wnames[r], wts[r], &nws[r]) == SL_OK &&
            !(exprs[r] = strdup(buf))) {
            rc = sl_err(SL_ENOMEM, "out of memory");
            goto done;
        }
    }
    for (int r = 0; r < nr;) {
        seg *s = &e->seg[e->nseg++];
        int compiled = exprs[r] != NULL;
        s->r0 = r;
        while (r < nr && (exprs[r] != NULL) == compiled) r++;
        s->r1 = r;
        if (compiled && (rc = compile_seg(e, s, exprs, (const char (*const *)[32])wnames,
                                          (const sl_tensor *const *const *)wts, nws)))
            goto done;
        if (dump) dump_seg(e, s, dump);
    }
    /* Uses: each node run one by one reads its inputs once per edge; a module reads each of
     * its inputs once. */
    memset(e->uses, 0, ((size_t)e->g->nnodes + 1) * sizeof *e->uses);
    for (int k = 0; k < e->nseg; k++) {
        seg *s = &e->seg[k];
        if (s->jit) {
            for (int i = 0; i < s->nin; i++) e->uses[s->in_pos[i]]++;
            continue;
        }
        for (int r = s->r0; r < s->r1; r++) {
            const sl_node *n = &e->g->nodes[e->run[r]];
            for (int j = 0; j < n->ninputs; j++) e->uses[n->in_idx[j] + 1]++;
        }
    }
    for (int i = 0; i < e->nto; i++) e->uses[e->to_pos[i]]++;
done:
    for (int r = 0; r < nr; r++) {
        if (exprs) free(exprs[r]);
        if (wnames) free(wnames[r]);
        if (wts) free(wts[r]);
    }
    free(exprs);
    free(wnames);
    free(wts);
    free(nws);
    return rc;
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
    if (!e->from_pos || !e->to_pos || !e->run || !e->uses || !e->fold_into || !e->fold_w ||
        !e->fold_b)
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
    if ((rc = plan_segments(e, !e->o.channels_last && !e->o.plain && inference_path(&e->o))))
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
    for (int k = 0; e->seg && k < e->nseg; k++) {
        sl_jit_free(e->seg[k].jit);
        free(e->seg[k].in_pos);
        free(e->seg[k].out_pos);
    }
    free(e->seg);
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

/* Runs the module of segment sg on its input values and stores its outputs. */
static int run_compiled(sl_exec *e, const seg *sg, sl_value *vals, char *owned, int *left)
{
    const sl_graph *g = e->g;
    const sl_tensor *in[sg->nin + 1];
    sl_tensor *out[sg->nout + 1];
    for (int i = 0; i < sg->nin; i++) {
        const sl_value *v = &vals[sg->in_pos[i]];
        if (v->quantized)
            return sl_err(SL_EARG, "node '%s' takes quantized tensor '%s' (dequantize it first)",
                          g->nodes[e->run[sg->r0]].name,
                          sg->in_pos[i] ? g->nodes[sg->in_pos[i] - 1].name : g->input_name);
        in[i] = v->t;
    }
    if (sl_jit_run(sg->jit, in, sg->nin, out, sg->nout))
        return sl_err(SL_ETORCH, "nodes '%s' to '%s': %s", g->nodes[e->run[sg->r0]].name,
                      g->nodes[e->run[sg->r1 - 1]].name, sl_torch_last_error());
    for (int i = 0; i < sg->nout; i++) {
        memset(&vals[sg->out_pos[i]], 0, sizeof vals[0]);
        vals[sg->out_pos[i]].t = out[i];
        owned[sg->out_pos[i]] = 1;
    }
    for (int i = 0; i < sg->nin; i++) {
        int p = sg->in_pos[i];
        if (--left[p] == 0 && owned[p]) {
            sl_value_clear(&vals[p]);
            owned[p] = 0;
        }
    }
    return SL_OK;
}

/* Runs the nodes of segment sg one by one through the op table. */
static int run_nodes(sl_exec *e, const seg *sg, sl_value *vals, char *owned, int *left)
{
    sl_graph *g = e->g;
    int inf = inference_path(&e->o), rc = SL_OK;
    for (int r = sg->r0; r < sg->r1; r++) {
        int i = e->run[r];
        sl_node *n = &g->nodes[i];
        sl_value *v = &vals[i + 1];
        if (e->fold_into[i] >= 0) {
            /* Folded batch norm: its value is the conv's, which has no other consumer. */
            if ((rc = take(vals, owned, left, e->fold_into[i] + 1, v))) return rc;
            owned[i + 1] = 1;
            continue;
        }
        if (inf && n->op == SL_OP_RELU) {
            int p = n->in_idx[0] + 1;
            if (left[p] == 1 && owned[p]) {
                rc = take(vals, owned, left, p, v);
                if (!rc && sl_relu_(v->t)) rc = sl_err(SL_ETORCH, "relu: %s", sl_torch_last_error());
                owned[i + 1] = 1;
                if (rc) return sl_err_ctx(rc, "node '%s': ", n->name);
                continue;
            }
        }
        sl_value *ins[n->ninputs + 1];
        for (int k = 0; k < n->ninputs; k++) ins[k] = &vals[n->in_idx[k] + 1];
        sl_op_ctx c = {e->o.train && !(e->o.node_eval && e->o.node_eval[i]), e->o.train};
        if (e->fold_w[i]) {
            if (sl_conv2d(ins[0]->t, e->fold_w[i], e->fold_b[i], n->a.stride, n->a.pad, n->a.dil,
                          n->a.groups, &v->t))
                rc = sl_err(SL_ETORCH, "conv2d: %s", sl_torch_last_error());
        } else {
            rc = sl_op_def_get(n->op)->forward(&c, n, ins, n->ninputs, v);
        }
        if (rc) return sl_err_ctx(rc, "node '%s': ", n->name);
        owned[i + 1] = 1;
        for (int k = 0; k < n->ninputs; k++) {
            int p = n->in_idx[k] + 1;
            if (--left[p] == 0 && owned[p]) {
                sl_value_clear(&vals[p]);
                owned[p] = 0;
            }
        }
    }
    return SL_OK;
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
    for (int k = 0; k < e->nseg && !rc; k++) {
        seg *sg = &e->seg[k];
        rc = sg->jit ? run_compiled(e, sg, vals, owned, left) : run_nodes(e, sg, vals, owned, left);
    }
    if (rc) goto done;
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
