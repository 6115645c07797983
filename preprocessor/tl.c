/* tl.c: transfer-layer configurations and their insertion into a graph (docs/formats/tl.md). */
#include "preprocessor/tl.h"

#include "common/json.h"
#include "common/status.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl_tl_parse_config(const char *text, sl_tl_config *c)
{
    if (!strcmp(text, "pool")) {
        *c = (sl_tl_config){SL_TL_POOL, 1, 2, 32};
        return SL_OK;
    }
    int r, s, b, used = 0;
    if (sscanf(text, "conv-r%d-s%d-b%d%n", &r, &s, &b, &used) == 3 && used == (int)strlen(text) &&
        r >= 1 && r <= 1024 && s >= 1 && s <= 8 && (b == 8 || b == 32)) {
        *c = (sl_tl_config){SL_TL_CONV, r, s, b};
        return SL_OK;
    }
    return sl_err(SL_EARG,
                  "transfer layer '%s': expected 'pool' or 'conv-r<R>-s<S>-b<BITS>' with R in "
                  "1..1024, S in 1..8, BITS 8 or 32 (e.g. conv-r4-s2-b8)",
                  text);
}

void sl_tl_config_name(const sl_tl_config *c, char *buf, size_t n)
{
    if (c->kind == SL_TL_POOL)
        snprintf(buf, n, "pool");
    else
        snprintf(buf, n, "conv-r%d-s%d-b%d", c->r, c->s, c->bits);
}

/* Appends the valid cut point names of g to buf (for "not found" messages). */
static void list_cuts(const sl_graph *g, char *buf, size_t n)
{
    int *idx, k;
    buf[0] = '\0';
    if (sl_graph_cut_points(g, &idx, &k)) return;
    size_t used = 0;
    for (int i = 0; i < k && used + 1 < n; i++) {
        const char *name = idx[i] < 0 ? g->input_name : g->nodes[idx[i]].name;
        int w = snprintf(buf + used, n - used, "%s%s", i ? ", " : "", name);
        if (w < 0) break;
        used += (size_t)w;
    }
    free(idx);
}

/* SL_OK when `cut` is a single-tensor cut of g where a TL can go; else the reason. */
static int check_cut(const sl_graph *g, const char *cut, sl_shape *shape)
{
    int at = sl_graph_find(g, cut);
    if (at == -2) {
        char names[1536];
        list_cuts(g, names, sizeof names);
        return sl_err(SL_ENOTFOUND,
                      "graph '%s' has no tensor '%s'; its single-tensor cut points "
                      "are: %s",
                      g->name, cut, names);
    }
    int *idx, k, single = 0;
    int rc = sl_graph_cut_points(g, &idx, &k);
    if (rc) return rc;
    for (int i = 0; i < k; i++)
        single |= idx[i] == at;
    free(idx);
    if (!single)
        return sl_err(SL_EARG,
                      "'%s' is not a single-tensor cut of '%s': some path from the input "
                      "to the outputs bypasses it, so a transfer layer cannot go there "
                      "(sl-preprocess inspect lists the cut points)",
                      cut, g->name);
    for (int i = 0; i < g->noutputs; i++)
        if (!strcmp(g->outputs[i], cut))
            return sl_err(SL_EARG,
                          "'%s' is an output of '%s': nothing is left for the edge after "
                          "it, so a transfer layer cannot go there",
                          cut, g->name);
    sl_graph_tensor_shape(g, cut, shape);
    if (shape->ndim != 3)
        return sl_err(SL_EARG,
                      "cut '%s' has %d dimension(s); a transfer layer needs a C x H x W "
                      "tensor",
                      cut, shape->ndim);
    for (int i = 0; i < g->nnodes; i++)
        if (!strncmp(g->nodes[i].name, "tl.", 3) || g->nodes[i].role[0])
            return sl_err(SL_EARG, "graph '%s' already has a transfer layer (node '%s')", g->name,
                          g->nodes[i].name);
    if (g->tl_json) return sl_err(SL_EARG, "graph '%s' already has a transfer layer", g->name);
    return SL_OK;
}

/* Appends a node with a role; returns SL_OK or the graph's error. */
static int add(sl_graph *g, const char *name, sl_op op, const char *in, const sl_attrs *a,
               const char *role)
{
    sl_node *n = sl_graph_add(g, name, op, &in, 1, a);
    if (!n) return SL_ENOMEM;
    snprintf(n->role, sizeof n->role, "%s", role);
    return SL_OK;
}

static sl_attrs conv_attrs(int64_t out, int64_t k, int64_t stride, int64_t pad, int bias)
{
    sl_attrs a;
    sl_attrs_window(&a, k, stride, pad);
    a.out = out;
    a.bias = bias;
    return a;
}

/* conv (+ batch norm + relu) named base, base_bn, base_relu; *last receives the last name. */
static int add_conv_bn_relu(sl_graph *g, const char *base, sl_op op, const char *in,
                            const sl_attrs *a, const char *role, char *last, size_t n)
{
    char bn[SL_NAME_MAX], relu[SL_NAME_MAX];
    snprintf(bn, sizeof bn, "%s_bn", base);
    snprintf(relu, sizeof relu, "%s_relu", base);
    int rc = add(g, base, op, in, a, role);
    if (!rc) rc = add(g, bn, SL_OP_BATCH_NORM, base, NULL, role);
    if (!rc) rc = add(g, relu, SL_OP_RELU, bn, NULL, role);
    snprintf(last, n, "%s", relu);
    return rc;
}

/* Adds the TL nodes reading `cut` (shape x); fills wire and decoder_out names. */
static int add_tl_nodes(sl_graph *g, const char *cut, const sl_shape *x, const sl_tl_config *c,
                        char *wire, char *dec_out)
{
    int64_t C = x->d[0], H = x->d[1], W = x->d[2];
    sl_attrs a;
    int rc;
    char last[SL_NAME_MAX];
    strcpy(dec_out, "tl.dec.out");
    if (c->kind == SL_TL_POOL) {
        sl_attrs_default(&a);
        /* A 1-pixel dimension keeps a 1-wide window: PyTorch rejects a window larger than the
         * input. Ceil mode keeps the last row and column of odd sizes. */
        a.k[0] = a.stride[0] = H > 1 ? 2 : 1;
        a.k[1] = a.stride[1] = W > 1 ? 2 : 1;
        a.ceil_mode = 1;
        strcpy(wire, "tl.enc.pool");
        if ((rc = add(g, wire, SL_OP_MAX_POOL, cut, &a, "tl_encoder"))) return rc;
        sl_attrs_default(&a);
        a.mode = SL_INTERP_NEAREST;
        a.out_hw[0] = H;
        a.out_hw[1] = W;
        return add(g, dec_out, SL_OP_UPSAMPLE, wire, &a, "tl_decoder");
    }
    int64_t cr = (C + c->r - 1) / c->r;
    a = conv_attrs(cr, 1, 1, 0, 0);
    rc = add_conv_bn_relu(g, "tl.enc.reduce", SL_OP_CONV2D, cut, &a, "tl_encoder", last,
                          sizeof last);
    a = conv_attrs(cr, 3, c->s, 1, 0);
    char in[SL_NAME_MAX];
    strcpy(in, last);
    if (!rc)
        rc = add_conv_bn_relu(g, "tl.enc.down", SL_OP_CONV2D, in, &a, "tl_encoder", last,
                              sizeof last);
    if (rc) return rc;
    strcpy(wire, last);
    if (c->bits == 8) {
        sl_attrs_default(&a);
        a.bits = 8;
        strcpy(wire, "tl.quant");
        if ((rc = add(g, wire, SL_OP_QUANTIZE, last, &a, "tl_encoder"))) return rc;
        if ((rc = add(g, "tl.dequant", SL_OP_DEQUANTIZE, wire, NULL, "tl_decoder"))) return rc;
        strcpy(last, "tl.dequant");
    }
    a = conv_attrs(cr, 3, c->s, 1, 0);
    a.out_hw[0] = H;
    a.out_hw[1] = W;
    strcpy(in, last);
    rc = add_conv_bn_relu(g, "tl.dec.up", SL_OP_CONV_TRANSPOSE2D, in, &a, "tl_decoder", last,
                          sizeof last);
    a = conv_attrs(C, 1, 1, 0, 1);
    if (!rc) rc = add(g, dec_out, SL_OP_CONV2D, last, &a, "tl_decoder");
    return rc;
}

/* Fresh weights for the TL nodes (parameters allocated but still all zero). */
static int init_tl(sl_graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        sl_node *n = &g->nodes[i];
        if (strncmp(n->name, "tl.", 3)) continue;
        int rc = SL_OK;
        if (n->op == SL_OP_CONV2D || n->op == SL_OP_CONV_TRANSPOSE2D) {
            rc = sl_init_kaiming_normal_(sl_node_param(n, "weight")->t, 1);
            sl_param *b = sl_node_param(n, "bias");
            if (!rc && b) rc = sl_init_constant_(b->t, 0);
        } else if (n->op == SL_OP_BATCH_NORM) {
            rc = sl_init_constant_(sl_node_param(n, "weight")->t, 1);
        }
        if (rc) return sl_err(SL_ETORCH, "initialising '%s': %s", n->name, sl_torch_last_error());
    }
    return SL_OK;
}

static int tl_object(sl_graph *g, const sl_tl_config *c, const char *cut, const char *wire,
                     const char *dec_out, const char *model_hash)
{
    char name[32];
    sl_shape cs, ws;
    sl_tl_config_name(c, name, sizeof name);
    sl_graph_tensor_shape(g, cut, &cs);
    sl_graph_tensor_shape(g, wire, &ws);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", c->kind == SL_TL_POOL ? "pool" : "conv");
    cJSON_AddStringToObject(o, "config", name);
    cJSON_AddNumberToObject(o, "r", c->r);
    cJSON_AddNumberToObject(o, "s", c->s);
    cJSON_AddNumberToObject(o, "bits", c->bits);
    cJSON_AddStringToObject(o, "cut", cut);
    cJSON_AddStringToObject(o, "wire", wire);
    cJSON_AddStringToObject(o, "decoder_out", dec_out);
    cJSON_AddItemToObject(o, "cut_shape", sl_json_int_array(cs.d, cs.ndim));
    cJSON_AddItemToObject(o, "wire_shape", sl_json_int_array(ws.d, ws.ndim));
    cJSON_AddStringToObject(o, "model_hash", model_hash);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return sl_err(SL_ENOMEM, "out of memory");
    free(g->tl_json);
    g->tl_json = text;
    return SL_OK;
}

int sl_tl_check_cut(const sl_graph *g, const char *cut)
{
    sl_shape x;
    return check_cut(g, cut, &x);
}

int sl_tl_insert(sl_graph *g, const char *cut, const sl_tl_config *c)
{
    if (!g->validated) return sl_err(SL_EARG, "graph '%s' is not validated", g->name);
    sl_shape x;
    int rc = check_cut(g, cut, &x);
    if (rc) return rc;
    char hash[65];
    if ((rc = sl_graph_hash(g, hash))) return rc;
    /* Work on a copy so that a failure anywhere leaves g as it was. */
    sl_graph *t;
    if ((rc = sl_graph_clone(g, &t))) return rc;
    int first_new = t->nnodes;
    char wire[SL_NAME_MAX], dec_out[SL_NAME_MAX];
    rc = add_tl_nodes(t, cut, &x, c, wire, dec_out);
    /* Former consumers of X read the reconstruction; the encoder still reads X itself. */
    for (int i = 0; !rc && i < first_new; i++) {
        sl_node *n = &t->nodes[i];
        for (int k = 0; k < n->ninputs; k++) {
            if (strcmp(n->inputs[k], cut)) continue;
            char *s = strdup(dec_out);
            if (!s) {
                rc = sl_err(SL_ENOMEM, "out of memory");
                break;
            }
            free(n->inputs[k]);
            n->inputs[k] = s;
        }
    }
    if (!rc) rc = sl_graph_validate(t, 0);
    if (!rc) rc = sl_graph_alloc_params(t);
    if (!rc) rc = init_tl(t);
    if (!rc) rc = sl_graph_validate(t, 1);
    if (!rc) rc = tl_object(t, c, cut, wire, dec_out, hash);
    if (rc) {
        sl_graph_free(t);
        return sl_err_ctx(rc, "inserting a transfer layer at '%s': ", cut);
    }
    sl_graph swap = *g;
    *g = *t;
    *t = swap;
    sl_graph_free(t);
    return SL_OK;
}

static int copy_name(const cJSON *o, const char *key, char *dst, size_t n, const sl_graph *g,
                     int must_exist)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= n)
        return sl_err(SL_EFORMAT, "graph '%s': tl.%s: missing or not a short string", g->name, key);
    if (must_exist && sl_graph_find(g, v->valuestring) == -2)
        return sl_err(SL_EFORMAT, "graph '%s': tl.%s: '%s' is not a tensor of the graph", g->name,
                      key, v->valuestring);
    strcpy(dst, v->valuestring);
    return SL_OK;
}

int sl_tl_info_get(const sl_graph *g, sl_tl_info *out)
{
    if (!g->tl_json) return sl_err(SL_ENOTFOUND, "graph '%s' has no transfer layer", g->name);
    cJSON *o = cJSON_Parse(g->tl_json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return sl_err(SL_EFORMAT, "graph '%s': tl: not a JSON object", g->name);
    }
    sl_tl_info t;
    memset(&t, 0, sizeof t);
    int rc = copy_name(o, "config", t.config_name, sizeof t.config_name, g, 0);
    if (!rc) rc = sl_tl_parse_config(t.config_name, &t.config);
    if (rc == SL_EARG) rc = sl_err_ctx(SL_EFORMAT, "graph '%s': tl.config: ", g->name);
    if (!rc) rc = copy_name(o, "cut", t.cut, sizeof t.cut, g, 1);
    if (!rc) rc = copy_name(o, "wire", t.wire, sizeof t.wire, g, 1);
    if (!rc) rc = copy_name(o, "decoder_out", t.decoder_out, sizeof t.decoder_out, g, 1);
    const cJSON *mh = cJSON_GetObjectItemCaseSensitive(o, "model_hash");
    if (!rc && cJSON_IsString(mh) && strlen(mh->valuestring) == 64)
        strcpy(t.model_hash, mh->valuestring);
    cJSON_Delete(o);
    if (rc) return rc;
    *out = t;
    return SL_OK;
}
