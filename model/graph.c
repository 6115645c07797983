/* graph.c: building, validating (topological order, shapes, parameters) and analysing graphs. */
#include "model/graph.h"
#include "common/status.h"
#include "model/ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void sl_attrs_default(sl_attrs *a)
{
    memset(a, 0, sizeof *a);
    a->k[0] = a->k[1] = 1;
    a->stride[0] = a->stride[1] = 1;
    a->dil[0] = a->dil[1] = 1;
    a->groups = 1;
    a->bias = 1;
    a->eps = 1e-5;
    a->momentum = 0.1;
    a->affine = 1;
    a->count_include_pad = 1;
    a->bits = 8;
    a->lo = -INFINITY;
    a->hi = INFINITY;
}

void sl_attrs_window(sl_attrs *a, int64_t k, int64_t stride, int64_t pad)
{
    sl_attrs_default(a);
    a->k[0] = a->k[1] = k;
    a->stride[0] = a->stride[1] = stride;
    a->pad[0] = a->pad[1] = pad;
}

sl_graph *sl_graph_new(const char *name)
{
    sl_graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->name = dupstr(name ? name : "model");
    g->input_name = dupstr("image");
    if (!g->name || !g->input_name) {
        sl_graph_free(g);
        return NULL;
    }
    for (int i = 0; i < 4; i++) g->std[i] = 1;
    return g;
}

static void node_free(sl_node *n)
{
    free(n->name);
    for (int i = 0; i < n->ninputs; i++) free(n->inputs[i]);
    free(n->inputs);
    free(n->in_idx);
    for (int i = 0; i < n->nparams; i++) sl_tensor_free(n->params[i].t);
}

void sl_graph_free(sl_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->nnodes; i++) node_free(&g->nodes[i]);
    free(g->nodes);
    for (int i = 0; i < g->nclasses; i++) free(g->classes[i]);
    free(g->classes);
    for (int i = 0; i < g->noutputs; i++) free(g->outputs[i]);
    free(g->outputs);
    free(g->out_idx);
    free(g->name);
    free(g->input_name);
    free(g->tl_json);
    free(g);
}

int sl_graph_set_input(sl_graph *g, const char *name, int64_t c, int64_t h, int64_t w,
                       const float *mean, const float *std)
{
    if (c < 1 || c > 4 || h < 1 || w < 1)
        return sl_err(SL_EARG, "input shape %lldx%lldx%lld: channels must be 1..4 and sizes positive",
                      (long long)c, (long long)h, (long long)w);
    char *nm = dupstr(name);
    if (!nm) return sl_err(SL_ENOMEM, "out of memory");
    free(g->input_name);
    g->input_name = nm;
    g->input_shape.ndim = 3;
    g->input_shape.d[0] = c;
    g->input_shape.d[1] = h;
    g->input_shape.d[2] = w;
    for (int i = 0; i < 4; i++) {
        g->mean[i] = mean && i < c ? mean[i] : 0;
        g->std[i] = std && i < c ? std[i] : 1;
    }
    g->validated = 0;
    return SL_OK;
}

int sl_graph_set_classes(sl_graph *g, const char *const *names, int n)
{
    char **c = n ? calloc((size_t)n, sizeof *c) : NULL;
    if (n && !c) return sl_err(SL_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        if (!(c[i] = dupstr(names[i]))) {
            for (int j = 0; j < i; j++) free(c[j]);
            free(c);
            return sl_err(SL_ENOMEM, "out of memory");
        }
    for (int i = 0; i < g->nclasses; i++) free(g->classes[i]);
    free(g->classes);
    g->classes = c;
    g->nclasses = n;
    return SL_OK;
}

sl_node *sl_graph_add(sl_graph *g, const char *name, sl_op op, const char *const *inputs, int nin,
                      const sl_attrs *a)
{
    if (g->nnodes == g->cap) {
        int cap = g->cap ? g->cap * 2 : 64;
        sl_node *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) {
            sl_err(SL_ENOMEM, "out of memory");
            return NULL;
        }
        g->nodes = nn;
        g->cap = cap;
    }
    sl_node *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    if (a) n->a = *a;
    else sl_attrs_default(&n->a);
    n->name = dupstr(name);
    n->inputs = calloc((size_t)(nin ? nin : 1), sizeof *n->inputs);
    n->in_idx = calloc((size_t)(nin ? nin : 1), sizeof *n->in_idx);
    if (!n->name || !n->inputs || !n->in_idx) goto oom;
    n->ninputs = nin;
    for (int i = 0; i < nin; i++)
        if (!(n->inputs[i] = dupstr(inputs[i]))) goto oom;
    g->nnodes++;
    g->validated = 0;
    return n;
oom:
    node_free(n);
    sl_err(SL_ENOMEM, "out of memory");
    return NULL;
}

int sl_graph_add_output(sl_graph *g, const char *name)
{
    char **o = realloc(g->outputs, (size_t)(g->noutputs + 1) * sizeof *o);
    if (!o) return sl_err(SL_ENOMEM, "out of memory");
    g->outputs = o;
    if (!(o[g->noutputs] = dupstr(name))) return sl_err(SL_ENOMEM, "out of memory");
    g->noutputs++;
    g->validated = 0;
    return SL_OK;
}

int sl_graph_find(const sl_graph *g, const char *name)
{
    if (g->input_name && !strcmp(name, g->input_name)) return -1;
    for (int i = 0; i < g->nnodes; i++)
        if (!strcmp(g->nodes[i].name, name)) return i;
    return -2;
}

sl_param *sl_node_param(sl_node *n, const char *pname)
{
    for (int i = 0; i < n->nparams; i++)
        if (!strcmp(n->params[i].name, pname)) return &n->params[i];
    return NULL;
}

int64_t sl_shape_numel(const sl_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->d[i];
    return n;
}

static void shape_str(const sl_shape *s, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "x" : "", (long long)s->d[i]);
    if (s->ndim == 0) snprintf(buf, n, "scalar");
}

/* Reorders g->nodes topologically (stable: keeps the given order where it is valid) and
 * resolves input indices. */
static int topo_sort(sl_graph *g)
{
    int n = g->nnodes;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (!strcmp(g->nodes[i].name, g->nodes[j].name))
                return sl_err(SL_EFORMAT, "node '%s': name used twice", g->nodes[i].name);
    for (int i = 0; i < n; i++) {
        sl_node *nd = &g->nodes[i];
        if (strchr(nd->name, '/'))
            return sl_err(SL_EFORMAT, "node '%s': names may not contain '/'", nd->name);
        if (!strcmp(nd->name, g->input_name))
            return sl_err(SL_EFORMAT, "node '%s': name clashes with the graph input", nd->name);
        for (int k = 0; k < nd->ninputs; k++) {
            int idx = sl_graph_find(g, nd->inputs[k]);
            if (idx == -2)
                return sl_err(SL_EFORMAT, "node '%s': input '%s' is not defined", nd->name,
                              nd->inputs[k]);
            if (idx == i) return sl_err(SL_EFORMAT, "node '%s': uses itself as input", nd->name);
            nd->in_idx[k] = idx;
        }
    }
    char *placed = calloc((size_t)n + 1, 1);
    int *order = malloc(((size_t)n + 1) * sizeof *order);
    if (!placed || !order) {
        free(placed);
        free(order);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    int count = 0, progress = 1;
    while (count < n && progress) {
        progress = 0;
        for (int i = 0; i < n; i++) {
            if (placed[i]) continue;
            int ready = 1;
            for (int k = 0; k < g->nodes[i].ninputs && ready; k++) {
                int idx = g->nodes[i].in_idx[k];
                ready = idx < 0 || placed[idx];
            }
            if (!ready) continue;
            placed[i] = 1;
            order[count++] = i;
            progress = 1;
        }
    }
    if (count < n) {
        int bad = 0;
        while (placed[bad]) bad++;
        free(placed);
        free(order);
        return sl_err(SL_EFORMAT, "node '%s': is part of a cycle", g->nodes[bad].name);
    }
    sl_node *sorted = malloc((size_t)(g->cap ? g->cap : 1) * sizeof *sorted);
    if (!sorted) {
        free(placed);
        free(order);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) sorted[i] = g->nodes[order[i]];
    free(g->nodes);
    g->nodes = sorted;
    free(placed);
    free(order);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].ninputs; k++)
            g->nodes[i].in_idx[k] = sl_graph_find(g, g->nodes[i].inputs[k]);
    return SL_OK;
}

/* Rebuilds node n's parameter list from its op's description, keeping attached tensors. */
static int describe_params(sl_node *n, const sl_shape *in, int check)
{
    const sl_op_def *d = sl_op_def_get(n->op);
    sl_param want[SL_MAX_PARAMS];
    int nw = d->params ? d->params(n, in, want) : 0;
    for (int i = 0; i < n->nparams; i++) {
        int found = 0;
        for (int j = 0; j < nw; j++) found |= !strcmp(n->params[i].name, want[j].name);
        if (!found)
            return sl_err(SL_EFORMAT, "node '%s': unexpected parameter '%s' for op %s", n->name,
                          n->params[i].name, d->name);
    }
    for (int j = 0; j < nw; j++) {
        sl_param *have = sl_node_param(n, want[j].name);
        if (!have) {
            if (check)
                return sl_err(SL_EFORMAT, "node '%s': missing parameter '%s'", n->name,
                              want[j].name);
            continue;
        }
        if (have->t) {
            int64_t shp[SL_MAX_DIMS];
            int nd = 0;
            sl_tensor_shape(have->t, shp, SL_MAX_DIMS, &nd);
            int ok = nd == want[j].shape.ndim;
            for (int k = 0; ok && k < nd; k++) ok = shp[k] == want[j].shape.d[k];
            if (!ok) {
                char a[64], b[64];
                sl_shape hs = {nd > 4 ? 4 : nd, {0}};
                for (int k = 0; k < hs.ndim; k++) hs.d[k] = shp[k];
                shape_str(&hs, a, sizeof a);
                shape_str(&want[j].shape, b, sizeof b);
                return sl_err(SL_ESHAPE, "node '%s': parameter '%s' has shape %s, expected %s",
                              n->name, want[j].name, a, b);
            }
        } else if (check) {
            return sl_err(SL_EFORMAT, "node '%s': parameter '%s' has no values", n->name,
                          want[j].name);
        }
        want[j].t = have->t;
        have->t = NULL;
    }
    for (int i = 0; i < n->nparams; i++) sl_tensor_free(n->params[i].t);
    memcpy(n->params, want, sizeof want);
    n->nparams = nw;
    return SL_OK;
}

int sl_graph_validate(sl_graph *g, int check_params)
{
    if (g->input_shape.ndim != 3)
        return sl_err(SL_EFORMAT, "graph '%s': input shape is not set", g->name);
    if (g->nnodes == 0) return sl_err(SL_EFORMAT, "graph '%s': has no nodes", g->name);
    if (g->noutputs == 0) return sl_err(SL_EFORMAT, "graph '%s': has no outputs", g->name);
    for (int i = 0; i < g->nnodes; i++) {
        sl_node *n = &g->nodes[i];
        const sl_op_def *d = sl_op_def_get(n->op);
        if (!d) return sl_err(SL_EFORMAT, "node '%s': unknown op", n->name);
        if (n->ninputs < d->min_in || (d->max_in >= 0 && n->ninputs > d->max_in))
            return sl_err(SL_EFORMAT, "node '%s': op %s takes %d%s input(s), got %d", n->name,
                          d->name, d->min_in, d->max_in < 0 ? " or more" : "", n->ninputs);
    }
    int rc = topo_sort(g);
    if (rc) return rc;
    for (int i = 0; i < g->nnodes; i++) {
        sl_node *n = &g->nodes[i];
        const sl_op_def *d = sl_op_def_get(n->op);
        sl_shape in[n->ninputs + 1];
        for (int k = 0; k < n->ninputs; k++)
            in[k] = n->in_idx[k] < 0 ? g->input_shape : g->nodes[n->in_idx[k]].out;
        rc = d->infer(n, in, n->ninputs, &n->out);
        if (rc) return sl_err_ctx(rc, "node '%s' (%s): ", n->name, d->name);
        if ((rc = describe_params(n, in, check_params))) return rc;
    }
    free(g->out_idx);
    g->out_idx = calloc((size_t)g->noutputs, sizeof *g->out_idx);
    if (!g->out_idx) return sl_err(SL_ENOMEM, "out of memory");
    for (int i = 0; i < g->noutputs; i++) {
        int idx = sl_graph_find(g, g->outputs[i]);
        if (idx < 0)
            return sl_err(SL_EFORMAT, "graph '%s': output '%s' is not a node", g->name,
                          g->outputs[i]);
        g->out_idx[i] = idx;
    }
    g->validated = 1;
    return SL_OK;
}

int sl_graph_alloc_params(sl_graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        sl_node *n = &g->nodes[i];
        for (int j = 0; j < n->nparams; j++) {
            sl_param *p = &n->params[j];
            if (p->t) continue;
            double v = !strcmp(p->name, "running_var") ||
                               (n->op == SL_OP_BATCH_NORM && !strcmp(p->name, "weight"))
                           ? 1.0
                           : 0.0;
            if (sl_tensor_full(p->shape.d, p->shape.ndim, SL_DT_F32, v, &p->t))
                return sl_err(SL_ETORCH, "node '%s': %s", n->name, sl_torch_last_error());
        }
    }
    return SL_OK;
}

int sl_graph_tensor_shape(const sl_graph *g, const char *name, sl_shape *out)
{
    int idx = sl_graph_find(g, name);
    if (idx == -2) return sl_err(SL_ENOTFOUND, "tensor '%s' is not in graph '%s'", name, g->name);
    *out = idx < 0 ? g->input_shape : g->nodes[idx].out;
    return SL_OK;
}

int64_t sl_graph_param_count(const sl_graph *g)
{
    int64_t total = 0;
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nparams; j++) {
            const char *pn = g->nodes[i].params[j].name;
            if (!strcmp(pn, "running_mean") || !strcmp(pn, "running_var")) continue;
            total += sl_shape_numel(&g->nodes[i].params[j].shape);
        }
    return total;
}

int64_t sl_node_flops(const sl_graph *g, int i)
{
    const sl_node *n = &g->nodes[i];
    sl_shape in[n->ninputs + 1];
    for (int k = 0; k < n->ninputs; k++)
        in[k] = n->in_idx[k] < 0 ? g->input_shape : g->nodes[n->in_idx[k]].out;
    return sl_op_def_get(n->op)->flops(n, in, n->ninputs);
}

int sl_graph_clone(const sl_graph *g, sl_graph **out)
{
    *out = NULL;
    sl_graph *c = sl_graph_new(g->name);
    if (!c) return sl_err(SL_ENOMEM, "out of memory");
    int rc = sl_graph_set_input(c, g->input_name, g->input_shape.d[0], g->input_shape.d[1],
                                g->input_shape.d[2], g->mean, g->std);
    if (!rc) rc = sl_graph_set_classes(c, (const char *const *)g->classes, g->nclasses);
    for (int i = 0; !rc && i < g->nnodes; i++) {
        const sl_node *n = &g->nodes[i];
        sl_node *m = sl_graph_add(c, n->name, n->op, (const char *const *)n->inputs, n->ninputs,
                                  &n->a);
        if (!m) {
            rc = SL_ENOMEM;
            break;
        }
        memcpy(m->role, n->role, sizeof m->role);
        m->out = n->out;
        m->nparams = n->nparams;
        for (int j = 0; j < n->nparams; j++) {
            m->params[j] = n->params[j];
            m->params[j].t = NULL;
            if (n->params[j].t && sl_tensor_clone(n->params[j].t, &m->params[j].t)) {
                rc = sl_err(SL_ETORCH, "cloning '%s': %s", n->name, sl_torch_last_error());
                break;
            }
        }
    }
    for (int i = 0; !rc && i < g->noutputs; i++) rc = sl_graph_add_output(c, g->outputs[i]);
    if (!rc && g->tl_json && !(c->tl_json = dupstr(g->tl_json))) rc = SL_ENOMEM;
    if (!rc && g->validated) rc = sl_graph_validate(c, 0);
    if (rc) {
        sl_graph_free(c);
        return rc == SL_ENOMEM ? sl_err(rc, "out of memory") : rc;
    }
    *out = c;
    return SL_OK;
}

/* ---- cut points: dominators of the output in the forward DAG ------------------------------ */

int sl_graph_cut_points(const sl_graph *g, int **idx, int *n)
{
    *idx = NULL;
    *n = 0;
    if (!g->validated) return sl_err(SL_EARG, "graph '%s' is not validated", g->name);
    int nn = g->nnodes;
    /* Positions: 0 = graph input, i + 1 = node i, nn + 1 = virtual sink over every output. */
    int *idom = malloc((size_t)(nn + 2) * sizeof *idom);
    char *live = calloc((size_t)nn + 2, 1);
    if (!idom || !live) {
        free(idom);
        free(live);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    /* Only nodes that reach an output count: a dead branch cannot carry data to the edge. */
    for (int i = 0; i < g->noutputs; i++) live[g->out_idx[i] + 1] = 1;
    for (int i = nn - 1; i >= 0; i--)
        if (live[i + 1])
            for (int k = 0; k < g->nodes[i].ninputs; k++) live[g->nodes[i].in_idx[k] + 1] = 1;
    idom[0] = 0;
    for (int v = 1; v <= nn + 1; v++) {
        int cur = -1;
        int npred = v <= nn ? g->nodes[v - 1].ninputs : g->noutputs;
        if (v <= nn && !live[v]) {
            idom[v] = -1;
            continue;
        }
        for (int k = 0; k < npred; k++) {
            int p = (v <= nn ? g->nodes[v - 1].in_idx[k] : g->out_idx[k]) + 1;
            if (idom[p] < 0) continue; /* not reachable from the input (placeholders) */
            if (cur < 0) {
                cur = p;
                continue;
            }
            int a = cur, b = p;
            while (a != b) {
                while (a > b) a = idom[a];
                while (b > a) b = idom[b];
            }
            cur = a;
        }
        idom[v] = cur;
    }
    if (idom[nn + 1] < 0) {
        free(idom);
        free(live);
        return sl_err(SL_EARG, "graph '%s': the outputs do not depend on the input '%s'", g->name,
                      g->input_name);
    }
    int count = 0;
    for (int v = idom[nn + 1];; v = idom[v]) {
        count++;
        if (v == 0) break;
    }
    int *res = malloc((size_t)count * sizeof *res);
    if (!res) {
        free(idom);
        free(live);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    int k = count;
    for (int v = idom[nn + 1];; v = idom[v]) {
        res[--k] = v - 1;
        if (v == 0) break;
    }
    free(idom);
    free(live);
    *idx = res;
    *n = count;
    return SL_OK;
}
