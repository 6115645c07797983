/* graph_json.c: graph <-> JSON (format "sl-graph", version 1) and the graph hash. */
#include "common/json.h"
#include "common/log.h"
#include "common/status.h"
#include "model/graph.h"
#include "model/ops.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SL_GRAPH_FORMAT "sl-graph"
#define SL_GRAPH_VERSION 1

static const struct {
    const char *key;
    unsigned bit;
} attr_keys[] = {
    {"out", SL_A_OUT},       {"k", SL_A_K},           {"stride", SL_A_STRIDE},
    {"pad", SL_A_PAD},       {"dil", SL_A_DIL},       {"groups", SL_A_GROUPS},
    {"bias", SL_A_BIAS},     {"out_hw", SL_A_OUT_HW}, {"ceil_mode", SL_A_CEIL},
    {"count_include_pad", SL_A_COUNT_PAD},            {"eps", SL_A_EPS},
    {"momentum", SL_A_MOMENTUM}, {"affine", SL_A_AFFINE}, {"p", SL_A_P},
    {"mode", SL_A_MODE},     {"start_dim", SL_A_START_DIM}, {"bits", SL_A_BITS},
    {"shape", SL_A_SHAPE},   {"min", SL_A_LO},        {"max", SL_A_HI},
    {"range", SL_A_RANGE},   {"pads", SL_A_PADS},     {"value", SL_A_VALUE},
};
#define NKEYS (int)(sizeof attr_keys / sizeof attr_keys[0])

static int is_int(const cJSON *j)
{
    return cJSON_IsNumber(j) && j->valuedouble == floor(j->valuedouble) &&
           fabs(j->valuedouble) < 1e15;
}

/* An integer or a pair [h, w]. */
static int get_pair(const cJSON *j, int64_t out[2], const char *node, const char *key)
{
    if (is_int(j)) {
        out[0] = out[1] = (int64_t)j->valuedouble;
        return SL_OK;
    }
    if (cJSON_IsArray(j) && cJSON_GetArraySize(j) == 2 && is_int(cJSON_GetArrayItem(j, 0)) &&
        is_int(cJSON_GetArrayItem(j, 1))) {
        out[0] = (int64_t)cJSON_GetArrayItem(j, 0)->valuedouble;
        out[1] = (int64_t)cJSON_GetArrayItem(j, 1)->valuedouble;
        return SL_OK;
    }
    return sl_err(SL_EFORMAT, "node '%s': attrs.%s must be an integer or [h, w]", node, key);
}

static int get_int(const cJSON *j, int64_t *out, const char *node, const char *key)
{
    if (!is_int(j)) return sl_err(SL_EFORMAT, "node '%s': attrs.%s must be an integer", node, key);
    *out = (int64_t)j->valuedouble;
    return SL_OK;
}

static int get_bool(const cJSON *j, int *out, const char *node, const char *key)
{
    if (cJSON_IsBool(j)) *out = cJSON_IsTrue(j);
    else if (is_int(j) && (j->valuedouble == 0 || j->valuedouble == 1)) *out = (int)j->valuedouble;
    else return sl_err(SL_EFORMAT, "node '%s': attrs.%s must be true or false", node, key);
    return SL_OK;
}

static int get_num(const cJSON *j, double *out, const char *node, const char *key)
{
    if (!cJSON_IsNumber(j)) return sl_err(SL_EFORMAT, "node '%s': attrs.%s must be a number", node, key);
    *out = j->valuedouble;
    return SL_OK;
}

static int parse_attrs(const cJSON *attrs, const char *node, sl_op op, sl_attrs *a)
{
    sl_attrs_default(a);
    if (!attrs) return SL_OK;
    if (!cJSON_IsObject(attrs)) return sl_err(SL_EFORMAT, "node '%s': attrs must be an object", node);
    unsigned allowed = sl_op_def_get(op)->attrs;
    const cJSON *j;
    cJSON_ArrayForEach(j, attrs)
    {
        int k = 0;
        while (k < NKEYS && strcmp(attr_keys[k].key, j->string)) k++;
        if (k == NKEYS || !(allowed & attr_keys[k].bit)) {
            sl_log_warn("node '%s': ignoring unknown attribute '%s' for op %s", node, j->string,
                        sl_op_name(op));
            continue;
        }
        int64_t v = 0;
        int rc = SL_OK;
        switch (attr_keys[k].bit) {
        case SL_A_OUT: rc = get_int(j, &a->out, node, j->string); break;
        case SL_A_K: rc = get_pair(j, a->k, node, j->string); break;
        case SL_A_STRIDE: rc = get_pair(j, a->stride, node, j->string); break;
        case SL_A_PAD: rc = get_pair(j, a->pad, node, j->string); break;
        case SL_A_DIL: rc = get_pair(j, a->dil, node, j->string); break;
        case SL_A_GROUPS: rc = get_int(j, &a->groups, node, j->string); break;
        case SL_A_BIAS: rc = get_bool(j, &a->bias, node, j->string); break;
        case SL_A_OUT_HW: rc = get_pair(j, a->out_hw, node, j->string); break;
        case SL_A_CEIL: rc = get_bool(j, &a->ceil_mode, node, j->string); break;
        case SL_A_COUNT_PAD: rc = get_bool(j, &a->count_include_pad, node, j->string); break;
        case SL_A_EPS: rc = get_num(j, &a->eps, node, j->string); break;
        case SL_A_MOMENTUM: rc = get_num(j, &a->momentum, node, j->string); break;
        case SL_A_AFFINE: rc = get_bool(j, &a->affine, node, j->string); break;
        case SL_A_P: rc = get_num(j, &a->p, node, j->string); break;
        case SL_A_START_DIM:
            rc = get_int(j, &v, node, j->string);
            a->start_dim = (int)v;
            break;
        case SL_A_BITS:
            rc = get_int(j, &v, node, j->string);
            a->bits = (int)v;
            break;
        case SL_A_SHAPE:
            if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) < 1 || cJSON_GetArraySize(j) > 3) {
                rc = sl_err(SL_EFORMAT, "node '%s': attrs.shape must be an array of 1 to 3 sizes", node);
                break;
            }
            a->shape.ndim = cJSON_GetArraySize(j);
            for (int i = 0; i < a->shape.ndim && !rc; i++)
                rc = get_int(cJSON_GetArrayItem(j, i), &a->shape.d[i], node, "shape");
            break;
        case SL_A_LO: rc = get_num(j, &a->lo, node, j->string); break;
        case SL_A_HI: rc = get_num(j, &a->hi, node, j->string); break;
        case SL_A_VALUE: rc = get_num(j, &a->value, node, j->string); break;
        case SL_A_RANGE:
            if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2)
                rc = sl_err(SL_EFORMAT, "node '%s': attrs.range must be [start, end]", node);
            for (int i = 0; i < 2 && !rc; i++)
                rc = get_int(cJSON_GetArrayItem(j, i), &a->range[i], node, "range");
            break;
        case SL_A_PADS:
            if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 4)
                rc = sl_err(SL_EFORMAT, "node '%s': attrs.pads must be [left, right, top, bottom]",
                            node);
            for (int i = 0; i < 4 && !rc; i++)
                rc = get_int(cJSON_GetArrayItem(j, i), &a->pads[i], node, "pads");
            break;
        case SL_A_MODE:
            if (cJSON_IsString(j) && !strcmp(j->valuestring, "nearest")) a->mode = SL_INTERP_NEAREST;
            else if (cJSON_IsString(j) && !strcmp(j->valuestring, "bilinear"))
                a->mode = SL_INTERP_BILINEAR;
            else rc = sl_err(SL_EFORMAT, "node '%s': attrs.mode must be \"nearest\" or \"bilinear\"", node);
            break;
        }
        if (rc) return rc;
    }
    return SL_OK;
}

static const char *str_field(const cJSON *obj, const char *key, const char *where, int *rc)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(j)) {
        *rc = sl_err(SL_EFORMAT, "%s: '%s' is missing or not a string", where, key);
        return NULL;
    }
    return j->valuestring;
}

static void warn_unknown(const cJSON *obj, const char *const *known, const char *where)
{
    const cJSON *j;
    cJSON_ArrayForEach(j, obj)
    {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++) ok = !strcmp(known[i], j->string);
        if (!ok) sl_log_warn("%s: ignoring unknown key '%s'", where, j->string);
    }
}

static int parse_input(sl_graph *g, const cJSON *in)
{
    static const char *const known[] = {"name", "shape", "mean", "std", NULL};
    int rc = SL_OK;
    if (!cJSON_IsObject(in)) return sl_err(SL_EFORMAT, "graph: 'input' is missing or not an object");
    warn_unknown(in, known, "graph input");
    const char *name = str_field(in, "name", "graph input", &rc);
    if (rc) return rc;
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(in, "shape");
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) != 3)
        return sl_err(SL_EFORMAT, "graph input: 'shape' must be [C, H, W]");
    int64_t d[3];
    for (int i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetArrayItem(shape, i);
        if (!is_int(v) || v->valuedouble < 1)
            return sl_err(SL_EFORMAT, "graph input: 'shape' must hold positive integers");
        d[i] = (int64_t)v->valuedouble;
    }
    float mean[4] = {0, 0, 0, 0}, std[4] = {1, 1, 1, 1};
    const char *keys[2] = {"mean", "std"};
    float *dst[2] = {mean, std};
    for (int k = 0; k < 2; k++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(in, keys[k]);
        if (!arr) continue;
        /* One value per channel, into a 4-slot array: no more than 4 channels normalise. */
        if (d[0] > 4)
            return sl_err(SL_EFORMAT, "graph input: '%s' is given for %lld channels, at most 4",
                          keys[k], (long long)d[0]);
        if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != d[0])
            return sl_err(SL_EFORMAT, "graph input: '%s' must have one number per channel (%lld)",
                          keys[k], (long long)d[0]);
        for (int i = 0; i < d[0]; i++) {
            const cJSON *v = cJSON_GetArrayItem(arr, i);
            if (!cJSON_IsNumber(v) || (k == 1 && v->valuedouble <= 0))
                return sl_err(SL_EFORMAT, "graph input: '%s' must hold %snumbers", keys[k],
                              k ? "positive " : "");
            dst[k][i] = (float)v->valuedouble;
        }
    }
    return sl_graph_set_input(g, name, d[0], d[1], d[2], mean, std);
}

static int parse_strings(const cJSON *arr, const char *what, char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    if (!cJSON_IsArray(arr)) return sl_err(SL_EFORMAT, "%s must be an array of strings", what);
    int cnt = cJSON_GetArraySize(arr);
    char **v = calloc((size_t)(cnt ? cnt : 1), sizeof *v);
    if (!v) return sl_err(SL_ENOMEM, "out of memory");
    for (int i = 0; i < cnt; i++) {
        const cJSON *s = cJSON_GetArrayItem(arr, i);
        if (!cJSON_IsString(s)) {
            for (int j = 0; j < i; j++) free(v[j]);
            free(v);
            return sl_err(SL_EFORMAT, "%s[%d] is not a string", what, i);
        }
        v[i] = strdup(s->valuestring);
    }
    *out = v;
    *n = cnt;
    return SL_OK;
}

static void free_strings(char **v, int n)
{
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

static int parse_node(sl_graph *g, const cJSON *jn, int i)
{
    static const char *const known[] = {"name", "op", "inputs", "attrs", "role", NULL};
    char where[64];
    snprintf(where, sizeof where, "nodes[%d]", i);
    if (!cJSON_IsObject(jn)) return sl_err(SL_EFORMAT, "%s is not an object", where);
    int rc = SL_OK;
    const char *name = str_field(jn, "name", where, &rc);
    if (rc) return rc;
    if (!*name || strlen(name) >= SL_NAME_MAX)
        return sl_err(SL_EFORMAT, "%s: name must have 1 to %d characters", where, SL_NAME_MAX - 1);
    char nwhere[SL_NAME_MAX + 16];
    snprintf(nwhere, sizeof nwhere, "node '%s'", name);
    warn_unknown(jn, known, nwhere);
    const char *opname = str_field(jn, "op", nwhere, &rc);
    if (rc) return rc;
    sl_op op = sl_op_from_name(opname);
    if (op == SL_OP_COUNT) return sl_err(SL_EFORMAT, "node '%s': unknown op '%s'", name, opname);
    char **inputs;
    int nin;
    char what[SL_NAME_MAX + 32];
    snprintf(what, sizeof what, "node '%s': inputs", name);
    if ((rc = parse_strings(cJSON_GetObjectItemCaseSensitive(jn, "inputs"), what, &inputs, &nin)))
        return rc;
    sl_attrs a;
    rc = parse_attrs(cJSON_GetObjectItemCaseSensitive(jn, "attrs"), name, op, &a);
    sl_node *n = rc ? NULL : sl_graph_add(g, name, op, (const char *const *)inputs, nin, &a);
    free_strings(inputs, nin);
    if (rc) return rc;
    if (!n) return SL_ENOMEM;
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(jn, "role");
    if (role) {
        if (!cJSON_IsString(role) || strlen(role->valuestring) >= sizeof n->role)
            return sl_err(SL_EFORMAT, "node '%s': role must be a short string", name);
        strcpy(n->role, role->valuestring);
    }
    return SL_OK;
}

int sl_graph_from_json(const char *text, sl_graph **out)
{
    static const char *const known[] = {"format", "version", "name", "input", "classes",
                                        "nodes",  "outputs", "tl",   NULL};
    *out = NULL;
    cJSON *root;
    int rc = sl_json_parse(text, "graph JSON", &root);
    if (rc) return rc;
    sl_graph *g = NULL;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!cJSON_IsObject(root) || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, SL_GRAPH_FORMAT)) {
        rc = sl_err(SL_EFORMAT, "graph JSON: 'format' must be \"%s\"", SL_GRAPH_FORMAT);
        goto done;
    }
    if (!is_int(ver) || ver->valuedouble != SL_GRAPH_VERSION) {
        rc = sl_err(SL_EFORMAT, "graph JSON: unsupported version (this build reads version %d)",
                    SL_GRAPH_VERSION);
        goto done;
    }
    warn_unknown(root, known, "graph");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    g = sl_graph_new(cJSON_IsString(name) ? name->valuestring : "model");
    if (!g) {
        rc = sl_err(SL_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = parse_input(g, cJSON_GetObjectItemCaseSensitive(root, "input")))) goto done;
    const cJSON *classes = cJSON_GetObjectItemCaseSensitive(root, "classes");
    if (classes) {
        char **c;
        int nc;
        if ((rc = parse_strings(classes, "graph: classes", &c, &nc))) goto done;
        rc = sl_graph_set_classes(g, (const char *const *)c, nc);
        free_strings(c, nc);
        if (rc) goto done;
    }
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");
    if (!cJSON_IsArray(nodes)) {
        rc = sl_err(SL_EFORMAT, "graph: 'nodes' is missing or not an array");
        goto done;
    }
    for (int i = 0; i < cJSON_GetArraySize(nodes); i++)
        if ((rc = parse_node(g, cJSON_GetArrayItem(nodes, i), i))) goto done;
    char **outs;
    int no;
    if ((rc = parse_strings(cJSON_GetObjectItemCaseSensitive(root, "outputs"), "graph: outputs",
                            &outs, &no)))
        goto done;
    for (int i = 0; i < no && !rc; i++) rc = sl_graph_add_output(g, outs[i]);
    free_strings(outs, no);
    if (rc) goto done;
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(root, "tl");
    if (tl) {
        if (!cJSON_IsObject(tl)) {
            rc = sl_err(SL_EFORMAT, "graph: 'tl' must be an object");
            goto done;
        }
        g->tl_json = cJSON_PrintUnformatted(tl);
    }
    rc = sl_graph_validate(g, 0);
done:
    cJSON_Delete(root);
    if (rc) {
        sl_graph_free(g);
        return rc;
    }
    *out = g;
    return SL_OK;
}

static cJSON *pair_json(const int64_t p[2])
{
    if (p[0] == p[1]) return cJSON_CreateNumber((double)p[0]);
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateNumber((double)p[0]));
    cJSON_AddItemToArray(a, cJSON_CreateNumber((double)p[1]));
    return a;
}

/* Writes the attributes this op accepts whose value differs from the default. */
static cJSON *attrs_json(const sl_node *n)
{
    sl_attrs d;
    sl_attrs_default(&d);
    const sl_attrs *a = &n->a;
    unsigned allowed = sl_op_def_get(n->op)->attrs;
    cJSON *o = cJSON_CreateObject();
#define PAIR(bit, f, key)                                                                       \
    if ((allowed & bit) && (a->f[0] != d.f[0] || a->f[1] != d.f[1]))                          \
        cJSON_AddItemToObject(o, key, pair_json(a->f));
#define NUM(bit, f, key)                                                                        \
    if ((allowed & bit) && a->f != d.f) cJSON_AddNumberToObject(o, key, (double)a->f);
#define BOOL(bit, f, key)                                                                       \
    if ((allowed & bit) && a->f != d.f) cJSON_AddBoolToObject(o, key, a->f);
    if (allowed & SL_A_OUT) cJSON_AddNumberToObject(o, "out", (double)a->out);
    PAIR(SL_A_K, k, "k")
    PAIR(SL_A_STRIDE, stride, "stride")
    PAIR(SL_A_PAD, pad, "pad")
    PAIR(SL_A_DIL, dil, "dil")
    NUM(SL_A_GROUPS, groups, "groups")
    BOOL(SL_A_BIAS, bias, "bias")
    PAIR(SL_A_OUT_HW, out_hw, "out_hw")
    BOOL(SL_A_CEIL, ceil_mode, "ceil_mode")
    BOOL(SL_A_COUNT_PAD, count_include_pad, "count_include_pad")
    NUM(SL_A_EPS, eps, "eps")
    NUM(SL_A_MOMENTUM, momentum, "momentum")
    BOOL(SL_A_AFFINE, affine, "affine")
    NUM(SL_A_P, p, "p")
    NUM(SL_A_START_DIM, start_dim, "start_dim")
    NUM(SL_A_BITS, bits, "bits")
    if (allowed & SL_A_SHAPE) {
        cJSON_AddItemToObject(o, "shape", sl_json_int_array(a->shape.d, a->shape.ndim));
    }
    NUM(SL_A_LO, lo, "min")
    NUM(SL_A_HI, hi, "max")
    if (allowed & SL_A_RANGE) cJSON_AddItemToObject(o, "range", sl_json_int_array(a->range, 2));
    if (allowed & SL_A_PADS) cJSON_AddItemToObject(o, "pads", sl_json_int_array(a->pads, 4));
    NUM(SL_A_VALUE, value, "value")
    if (allowed & SL_A_MODE)
        cJSON_AddStringToObject(o, "mode", a->mode == SL_INTERP_BILINEAR ? "bilinear" : "nearest");
#undef PAIR
#undef NUM
#undef BOOL
    return o;
}

static cJSON *graph_json(const sl_graph *g)
{
    cJSON *root = sl_json_doc_new(SL_GRAPH_FORMAT, SL_GRAPH_VERSION);
    cJSON_AddStringToObject(root, "name", g->name);
    cJSON *in = cJSON_AddObjectToObject(root, "input");
    cJSON_AddStringToObject(in, "name", g->input_name);
    cJSON_AddItemToObject(in, "shape", sl_json_int_array(g->input_shape.d, g->input_shape.ndim));
    int c = (int)g->input_shape.d[0];
    cJSON *mean = cJSON_AddArrayToObject(in, "mean"), *std = cJSON_AddArrayToObject(in, "std");
    for (int i = 0; i < c && i < 4; i++) {
        cJSON_AddItemToArray(mean, cJSON_CreateNumber(g->mean[i]));
        cJSON_AddItemToArray(std, cJSON_CreateNumber(g->std[i]));
    }
    if (g->nclasses)
        cJSON_AddItemToObject(root, "classes", sl_json_string_array(g->classes, g->nclasses));
    cJSON *nodes = cJSON_AddArrayToObject(root, "nodes");
    for (int i = 0; i < g->nnodes; i++) {
        const sl_node *n = &g->nodes[i];
        cJSON *jn = cJSON_CreateObject();
        cJSON_AddStringToObject(jn, "name", n->name);
        cJSON_AddStringToObject(jn, "op", sl_op_name(n->op));
        cJSON_AddItemToObject(jn, "inputs", sl_json_string_array(n->inputs, n->ninputs));
        cJSON *at = attrs_json(n);
        if (cJSON_GetArraySize(at)) cJSON_AddItemToObject(jn, "attrs", at);
        else cJSON_Delete(at);
        if (n->role[0]) cJSON_AddStringToObject(jn, "role", n->role);
        cJSON_AddItemToArray(nodes, jn);
    }
    cJSON_AddItemToObject(root, "outputs", sl_json_string_array(g->outputs, g->noutputs));
    if (g->tl_json) {
        cJSON *tl = cJSON_Parse(g->tl_json);
        if (tl) cJSON_AddItemToObject(root, "tl", tl);
    }
    return root;
}

int sl_graph_to_json(const sl_graph *g, char **out)
{
    cJSON *root = graph_json(g);
    *out = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!*out) return sl_err(SL_ENOMEM, "out of memory");
    return SL_OK;
}

int sl_graph_hash(const sl_graph *g, char out[65])
{
    cJSON *root = graph_json(g);
    /* The name, class names and TL notes do not change what runs. */
    cJSON_DeleteItemFromObject(root, "name");
    cJSON_DeleteItemFromObject(root, "classes");
    cJSON_DeleteItemFromObject(root, "tl");
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) return sl_err(SL_ENOMEM, "out of memory");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int ok = EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL);
    free(text);
    if (!ok || len != 32) return sl_err(SL_EFORMAT, "sha256 failed");
    for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    return SL_OK;
}
