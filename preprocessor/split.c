/* split.c: device/edge bundles from a model and a set of crossing tensors; the cut of a plan. */
#include "preprocessor/split.h"

#include "common/fsutil.h"
#include "common/status.h"
#include "model/plan_doc.h"
#include "preprocessor/tl.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tensor positions: 0 = graph input, i + 1 = node i. */
static const char *pos_name(const sl_graph *g, int p)
{
    return p ? g->nodes[p - 1].name : g->input_name;
}

/* "input -> a -> b -> out": the path that `next` (consumer that needed each position, -1 at a
 * graph output) leads along from the input. */
static void escape_path(const sl_graph *g, const int *next, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int p = 0, steps = 0; p >= 0 && steps <= g->nnodes; p = next[p], steps++) {
        if (used + 40 >= n) {
            snprintf(buf + used, n - used, " -> ...");
            return;
        }
        int w = snprintf(buf + used, n - used, "%s%s", steps ? " -> " : "", pos_name(g, p));
        if (w < 0) return;
        used += (size_t)w < n - used ? (size_t)w : n - used - 1;
    }
}

/* Copies node n (structure, role, parameters) onto the end of graph d. */
static int copy_node(sl_graph *d, const sl_node *n)
{
    sl_node *m = sl_graph_add(d, n->name, n->op, (const char *const *)n->inputs, n->ninputs, &n->a);
    if (!m) return SL_ENOMEM;
    memcpy(m->role, n->role, sizeof m->role);
    m->nparams = n->nparams;
    for (int j = 0; j < n->nparams; j++) {
        m->params[j] = n->params[j];
        m->params[j].t = NULL;
        if (n->params[j].t && sl_tensor_clone(n->params[j].t, &m->params[j].t))
            return sl_err(SL_ETORCH, "copying '%s': %s", n->name, sl_torch_last_error());
    }
    return SL_OK;
}

static sl_graph *half_new(const sl_graph *g)
{
    sl_graph *h = sl_graph_new(g->name);
    if (!h) return NULL;
    if (sl_graph_set_input(h, g->input_name, g->input_shape.d[0], g->input_shape.d[1],
                           g->input_shape.d[2], g->mean, g->std) ||
        sl_graph_set_classes(h, (const char *const *)g->classes, g->nclasses)) {
        sl_graph_free(h);
        return NULL;
    }
    return h;
}

/* The wire description shared by both halves (docs/formats/wire.md, model/wire_desc.h). */
static int wire_desc(const sl_graph *g, const char *const *at, int n, const sl_tl_info *tl,
                     sl_wire_desc *out)
{
    sl_wire_desc w;
    int rc = sl_wire_desc_from_graph(g, at, n, &w);
    if (rc) return rc;
    if (tl) {
        if (tl->model_hash[0]) snprintf(w.model_hash, sizeof w.model_hash, "%s", tl->model_hash);
        w.ncut = 1;
        snprintf(w.cut[0], sizeof w.cut[0], "%s", tl->cut);
        w.has_tl = 1;
        snprintf(w.tl.kind, sizeof w.tl.kind, "%s", tl->config.kind == SL_TL_POOL ? "pool" : "conv");
        snprintf(w.tl.config, sizeof w.tl.config, "%s", tl->config_name);
        w.tl.r = tl->config.r;
        w.tl.s = tl->config.s;
        w.tl.bits = tl->config.bits;
        snprintf(w.tl.decoder_out, sizeof w.tl.decoder_out, "%s", tl->decoder_out);
    }
    *out = w;
    return SL_OK;
}

static int pair_id(char out[33])
{
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1) return sl_err(SL_EIO, "no random bytes for the pair id");
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    return SL_OK;
}

/* Positions of the tensors `at` after the checks sl_split documents. */
static int resolve(const sl_graph *g, const char *const *at, int n, int *pos, char *boundary)
{
    if (n < 1) return sl_err(SL_EARG, "no tensor to split at");
    for (int i = 0; i < n; i++) {
        int idx = sl_graph_find(g, at[i]);
        if (idx == -2)
            return sl_err(SL_ENOTFOUND,
                          "graph '%s' has no tensor '%s' to split at (sl-preprocess "
                          "inspect lists the nodes and cut points)",
                          g->name, at[i]);
        if (idx == -1 && n == 1)
            return sl_err(SL_EARG,
                          "'%s' is the model input: that is an edge-only plan, there is "
                          "nothing to split",
                          at[i]);
        if (idx == -1)
            return sl_err(SL_EARG,
                          "the model input '%s' crosses together with other tensors: "
                          "split does not send the raw input alongside a cut",
                          at[i]);
        for (int k = 0; k < g->noutputs; k++)
            if (!strcmp(g->outputs[k], at[i]))
                return sl_err(SL_EARG,
                              "'%s' is a model output: that is a local-only plan, there "
                              "is nothing left for the edge",
                              at[i]);
        if (boundary[idx + 1]) return sl_err(SL_EARG, "tensor '%s' is listed twice", at[i]);
        boundary[idx + 1] = 1;
        pos[i] = idx + 1;
    }
    return SL_OK;
}

/* Marks in need_e what the edge runs given the boundary, and checks the boundary separates. */
static int edge_needs(const sl_graph *g, const char *const *at, int n, const int *pos,
                      const char *boundary, char *need_e)
{
    int nn = g->nnodes;
    int *next = malloc(((size_t)nn + 1) * sizeof *next);
    char *used = calloc((size_t)nn + 1, 1);
    if (!next || !used) {
        free(next);
        free(used);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    for (int i = 0; i < g->noutputs; i++) {
        need_e[g->out_idx[i] + 1] = 1;
        next[g->out_idx[i] + 1] = -1;
    }
    for (int i = nn - 1; i >= 0; i--) {
        if (!need_e[i + 1] || boundary[i + 1]) continue;
        for (int k = 0; k < g->nodes[i].ninputs; k++) {
            int p = g->nodes[i].in_idx[k] + 1;
            if (boundary[p]) used[p] = 1;
            if (need_e[p]) continue;
            need_e[p] = 1;
            next[p] = i + 1;
        }
    }
    int rc = SL_OK;
    if (need_e[0]) {
        char path[1024];
        escape_path(g, next, path, sizeof path);
        rc = sl_err(SL_EARG,
                    "the tensors given do not separate the input from the outputs of "
                    "'%s': the path %s does not cross them",
                    g->name, path);
    }
    for (int i = 0; !rc && i < n; i++)
        if (!used[pos[i]])
            rc = sl_err(SL_EARG,
                        "tensor '%s' is not needed by the edge: every path from it to the "
                        "outputs crosses the other tensors given",
                        at[i]);
    free(next);
    free(used);
    return rc;
}

static int build_halves(const sl_graph *g, const char *const *at, int n, const char *need_d,
                        const char *need_e, const char *boundary, sl_graph **dev, sl_graph **edge)
{
    sl_graph *d = half_new(g), *e = half_new(g);
    int rc = d && e ? SL_OK : SL_ENOMEM;
    for (int i = 0; !rc && i < g->nnodes; i++)
        if (need_d[i + 1]) rc = copy_node(d, &g->nodes[i]);
    for (int i = 0; !rc && i < n; i++)
        rc = sl_graph_add_output(d, at[i]);
    for (int i = 0; !rc && i < n; i++) {
        sl_attrs a;
        sl_attrs_default(&a);
        sl_graph_tensor_shape(g, at[i], &a.shape);
        if (!sl_graph_add(e, at[i], SL_OP_PLACEHOLDER, NULL, 0, &a)) rc = SL_ENOMEM;
    }
    for (int i = 0; !rc && i < g->nnodes; i++)
        if (need_e[i + 1] && !boundary[i + 1]) rc = copy_node(e, &g->nodes[i]);
    for (int i = 0; !rc && i < g->noutputs; i++)
        rc = sl_graph_add_output(e, g->outputs[i]);
    if (rc == SL_ENOMEM) sl_err(rc, "out of memory");
    if (!rc && (rc = sl_graph_validate(d, 1))) sl_err_ctx(rc, "device half: ");
    if (!rc && (rc = sl_graph_validate(e, 1))) sl_err_ctx(rc, "edge half: ");
    if (rc) {
        sl_graph_free(d);
        sl_graph_free(e);
        return rc;
    }
    *dev = d;
    *edge = e;
    return SL_OK;
}

/* sl_split, or with device == NULL (sl_split_check) only its checks: the halves are not built. */
static int split_at(const sl_graph *g, const char *const *at, int n, sl_bundle **device,
                    sl_bundle **edge)
{
    if (device) *device = *edge = NULL;
    if (!g->validated) return sl_err(SL_EARG, "graph '%s' is not validated", g->name);
    sl_tl_info tl;
    int has_tl = 0, rc = sl_tl_info_get(g, &tl);
    if (rc == SL_OK)
        has_tl = 1;
    else if (rc != SL_ENOTFOUND)
        return rc;
    if (has_tl && (n != 1 || strcmp(at[0], tl.wire)))
        return sl_err(SL_EARG,
                      "'%s' has a transfer layer at '%s': split it at its wire tensor "
                      "'%s'",
                      g->name, tl.cut, tl.wire);
    int nn = g->nnodes;
    int *pos = calloc((size_t)n + 1, sizeof *pos);
    char *boundary = calloc((size_t)nn + 1, 1), *need_d = calloc((size_t)nn + 1, 1),
         *need_e = calloc((size_t)nn + 1, 1);
    sl_graph *d = NULL, *e = NULL;
    char *wire = NULL;
    if (!pos || !boundary || !need_d || !need_e) {
        rc = sl_err(SL_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = resolve(g, at, n, pos, boundary))) goto done;
    if ((rc = edge_needs(g, at, n, pos, boundary, need_e)) || !device) goto done;
    for (int i = 0; i < n; i++)
        need_d[pos[i]] = 1;
    for (int i = nn - 1; i >= 0; i--)
        if (need_d[i + 1])
            for (int k = 0; k < g->nodes[i].ninputs; k++)
                need_d[g->nodes[i].in_idx[k] + 1] = 1;
    if ((rc = build_halves(g, at, n, need_d, need_e, boundary, &d, &e))) goto done;
    sl_wire_desc wd;
    if ((rc = wire_desc(g, at, n, has_tl ? &tl : NULL, &wd)) || (rc = sl_wire_desc_to_json(&wd, &wire)))
        goto done;
    char id[33];
    if ((rc = pair_id(id))) goto done;
    sl_bundle *bd = sl_bundle_new(d), *be = bd ? sl_bundle_new(e) : NULL;
    if (!bd || !be) {
        if (bd) bd->graph = NULL;
        sl_bundle_free(bd);
        rc = sl_err(SL_ENOMEM, "out of memory");
        goto done;
    }
    d = e = NULL;
    strcpy(bd->role, "device");
    strcpy(be->role, "edge");
    strcpy(bd->pair_id, id);
    strcpy(be->pair_id, id);
    bd->wire = malloc(sizeof *bd->wire);
    be->wire = malloc(sizeof *be->wire);
    if (bd->wire) *bd->wire = wd;
    if (be->wire) *be->wire = wd;
    if (!bd->wire || !be->wire) rc = sl_err(SL_ENOMEM, "out of memory");
    if (rc || (rc = sl_bundle_set_json(&bd->wire_json, wire)) ||
        (rc = sl_bundle_set_json(&be->wire_json, wire))) {
        sl_bundle_free(bd);
        sl_bundle_free(be);
        goto done;
    }
    *device = bd;
    *edge = be;
done:
    sl_graph_free(d);
    sl_graph_free(e);
    free(wire);
    free(pos);
    free(boundary);
    free(need_d);
    free(need_e);
    return rc;
}

int sl_split(const sl_graph *g, const char *const *at, int n, sl_bundle **device, sl_bundle **edge)
{
    return split_at(g, at, n, device, edge);
}

int sl_split_check(const sl_graph *g, const char *const *at, int n)
{
    return split_at(g, at, n, NULL, NULL);
}

/* ---- plans ------------------------------------------------------------------------------ */

void sl_plan_cut_free(sl_plan_cut *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++)
        free(c->tensors[i]);
    free(c->tensors);
    memset(c, 0, sizeof *c);
}

int sl_plan_cut_read(const char *path, const char *which, const sl_graph *g, sl_plan_cut *out)
{
    memset(out, 0, sizeof *out);
    static const char *const entries[] = {"best",
                                          "best_with_tl",
                                          "best_without_tl",
                                          "best_split_without_tl",
                                          "dads",
                                          "dads_throughput",
                                          NULL};
    int known = 0;
    for (int i = 0; entries[i]; i++)
        known |= !strcmp(entries[i], which);
    if (!known)
        return sl_err(SL_EARG,
                      "plan entry '%s': expected best, best_with_tl, best_without_tl, "
                      "best_split_without_tl, dads or dads_throughput",
                      which);
    sl_plan_doc *doc;
    int rc = sl_plan_doc_read(path, &doc);
    if (rc) return rc;
    snprintf(out->graph_hash, sizeof out->graph_hash, "%s", sl_plan_doc_graph_hash(doc));
    snprintf(out->model, sizeof out->model, "%s", sl_plan_doc_model(doc));
    if (g) rc = sl_plan_cut_check(out, path, g);
    sl_plan_entry e;
    if (!rc && !(rc = sl_plan_doc_entry(doc, which, &e))) {
        /* The entry's tensors move into *out. */
        snprintf(out->kind, sizeof out->kind, "%s", e.kind);
        snprintf(out->tl, sizeof out->tl, "%s", e.tl);
        out->n = e.n;
        out->tensors = e.tensors;
    }
    sl_plan_doc_free(doc);
    if (rc) sl_plan_cut_free(out);
    return rc;
}

int sl_plan_cut_check(const sl_plan_cut *c, const char *plan_path, const sl_graph *g)
{
    char hash[65];
    int rc = sl_graph_hash(g, hash);
    if (rc) return rc;
    if (!strcmp(hash, c->graph_hash)) return SL_OK;
    sl_tl_info tl;
    if (!sl_tl_info_get(g, &tl) && !strcmp(tl.model_hash, c->graph_hash)) return SL_OK;
    return sl_err(SL_EARG,
                  "%s was made for another model: its graph hash %.12s... (model '%s') "
                  "differs from %.12s... of '%s'",
                  plan_path, c->graph_hash, c->model, hash, g->name);
}
