/* wire_desc.c: building, writing, reading and checking the sl-wire description. */
#include "model/wire_desc.h"
#include "common/json.h"
#include "common/status.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t entry_bytes(const sl_wire_entry *e)
{
    return sl_shape_numel(&e->shape) * (e->u8 ? 1 : 4);
}

int sl_wire_desc_from_graph(const sl_graph *g, const char *const *at, int n, sl_wire_desc *w)
{
    memset(w, 0, sizeof *w);
    if (n < 1 || n > SL_WIRE_DESC_MAX)
        return sl_err(SL_EARG, "a cut of %d tensors: this build sends 1..%d", n, SL_WIRE_DESC_MAX);
    int rc = sl_graph_hash(g, w->graph_hash);
    if (rc) return rc;
    snprintf(w->model, sizeof w->model, "%s", g->name);
    memcpy(w->model_hash, w->graph_hash, sizeof w->model_hash);
    w->n = w->ncut = n;
    for (int i = 0; i < n; i++) {
        sl_wire_entry *e = &w->t[i];
        if (strlen(at[i]) >= sizeof e->name || sl_graph_tensor_shape(g, at[i], &e->shape)) {
            memset(w, 0, sizeof *w);
            return sl_err(SL_EARG, "wire tensor '%s' is not a tensor of '%s'", at[i], g->name);
        }
        snprintf(e->name, sizeof e->name, "%s", at[i]);
        snprintf(w->cut[i], sizeof w->cut[i], "%s", at[i]);
        int idx = sl_graph_find(g, at[i]);
        e->u8 = idx >= 0 && g->nodes[idx].op == SL_OP_QUANTIZE;
        e->bytes_per_image = entry_bytes(e);
        w->bytes_per_image += e->bytes_per_image;
    }
    return SL_OK;
}

int sl_wire_desc_to_json(const sl_wire_desc *w, char **out)
{
    *out = NULL;
    cJSON *o = sl_json_doc_new(SL_WIRE_DESC_FORMAT, SL_WIRE_DESC_VERSION);
    cJSON_AddStringToObject(o, "model", w->model);
    cJSON_AddStringToObject(o, "graph_hash", w->graph_hash);
    cJSON_AddStringToObject(o, "model_hash", w->model_hash);
    cJSON *cut = cJSON_AddArrayToObject(o, "cut");
    for (int i = 0; i < w->ncut; i++)
        cJSON_AddItemToArray(cut, cJSON_CreateString(w->cut[i]));
    if (w->has_tl) {
        cJSON *t = cJSON_AddObjectToObject(o, "tl");
        cJSON_AddStringToObject(t, "kind", w->tl.kind);
        cJSON_AddStringToObject(t, "config", w->tl.config);
        cJSON_AddNumberToObject(t, "r", w->tl.r);
        cJSON_AddNumberToObject(t, "s", w->tl.s);
        cJSON_AddNumberToObject(t, "bits", w->tl.bits);
        cJSON_AddStringToObject(t, "decoder_out", w->tl.decoder_out);
    } else {
        cJSON_AddNullToObject(o, "tl");
    }
    cJSON *ts = cJSON_AddArrayToObject(o, "tensors");
    for (int i = 0; i < w->n; i++) {
        const sl_wire_entry *e = &w->t[i];
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", e->name);
        cJSON_AddItemToObject(t, "shape", sl_json_int_array(e->shape.d, e->shape.ndim));
        cJSON_AddStringToObject(t, "dtype", e->u8 ? "uint8" : "float32");
        if (e->u8) {
            cJSON *q = cJSON_AddObjectToObject(t, "quantization");
            cJSON_AddStringToObject(q, "scheme", "per_tensor_affine");
            cJSON_AddStringToObject(q, "params", "per_batch");
            cJSON_AddNumberToObject(q, "bits", 8);
        } else {
            cJSON_AddNullToObject(t, "quantization");
        }
        cJSON_AddNumberToObject(t, "bytes_per_image", (double)e->bytes_per_image);
        cJSON_AddItemToArray(ts, t);
    }
    cJSON_AddNumberToObject(o, "bytes_per_image", (double)w->bytes_per_image);
    *out = cJSON_Print(o);
    cJSON_Delete(o);
    return *out ? SL_OK : sl_err(SL_ENOMEM, "out of memory writing the wire description");
}

/* ---- parsing ------------------------------------------------------------------------------ */

static int bad(const char *field, const char *why)
{
    return sl_err(SL_EFORMAT, "/wire: %s: %s", field, why);
}

/* A string member copied into buf (n bytes); empty allowed only when `may_be_empty`. */
static int get_str(const cJSON *o, const char *key, const char *field, char *buf, size_t n,
                   int may_be_empty)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v)) return bad(field, "missing or not a string");
    size_t len = strlen(v->valuestring);
    if (len >= n) return bad(field, "too long");
    if (!len && !may_be_empty) return bad(field, "empty");
    memcpy(buf, v->valuestring, len + 1);
    return SL_OK;
}

/* A whole number in [lo, hi]. */
static int get_int(const cJSON *o, const char *key, const char *field, int64_t lo, int64_t hi,
                   int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble))
        return bad(field, "missing or not a whole number");
    if (v->valuedouble < (double)lo || v->valuedouble > (double)hi) return bad(field, "out of range");
    *out = (int64_t)v->valuedouble;
    return SL_OK;
}

static int is_hex64(const char *s)
{
    if (strlen(s) != 64) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
    return 1;
}

static int parse_entry(const cJSON *t, int i, sl_wire_entry *e)
{
    char f[64];
    int rc;
    if (!cJSON_IsObject(t)) {
        snprintf(f, sizeof f, "tensors[%d]", i);
        return bad(f, "not an object");
    }
    snprintf(f, sizeof f, "tensors[%d].name", i);
    if ((rc = get_str(t, "name", f, e->name, sizeof e->name, 0))) return rc;
    snprintf(f, sizeof f, "tensors[%d].shape", i);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(t, "shape");
    int nd = cJSON_GetArraySize(s);
    if (!cJSON_IsArray(s) || nd < 1 || nd > 4) return bad(f, "not an array of 1..4 dimensions");
    e->shape.ndim = nd;
    int64_t numel = 1;
    for (int k = 0; k < nd; k++) {
        const cJSON *d = cJSON_GetArrayItem(s, k);
        if (!cJSON_IsNumber(d) || d->valuedouble != floor(d->valuedouble) || d->valuedouble < 1 ||
            d->valuedouble > (double)(1 << 30))
            return bad(f, "dimensions must be whole numbers from 1 to 2^30");
        e->shape.d[k] = (int64_t)d->valuedouble;
        if (numel > ((int64_t)1 << 40) / e->shape.d[k]) return bad(f, "too many elements");
        numel *= e->shape.d[k];
    }
    char dt[16];
    snprintf(f, sizeof f, "tensors[%d].dtype", i);
    if ((rc = get_str(t, "dtype", f, dt, sizeof dt, 0))) return rc;
    if (!strcmp(dt, "float32"))
        e->u8 = 0;
    else if (!strcmp(dt, "uint8"))
        e->u8 = 1;
    else
        return bad(f, "expected float32 or uint8");
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(t, "quantization");
    snprintf(f, sizeof f, "tensors[%d].quantization", i);
    if (!e->u8 && !cJSON_IsNull(q)) return bad(f, "must be null for float32");
    if (e->u8) {
        char scheme[32], params[32];
        int64_t bits;
        if (!cJSON_IsObject(q)) return bad(f, "must be an object for uint8");
        if ((rc = get_str(q, "scheme", f, scheme, sizeof scheme, 0)) ||
            (rc = get_str(q, "params", f, params, sizeof params, 0)) ||
            (rc = get_int(q, "bits", f, 8, 8, &bits)))
            return rc;
        if (strcmp(scheme, "per_tensor_affine") || strcmp(params, "per_batch"))
            return bad(f, "this build reads scheme per_tensor_affine with params per_batch");
    }
    snprintf(f, sizeof f, "tensors[%d].bytes_per_image", i);
    if ((rc = get_int(t, "bytes_per_image", f, 0, INT64_MAX / 2, &e->bytes_per_image))) return rc;
    if (e->bytes_per_image != entry_bytes(e)) return bad(f, "does not match shape x dtype size");
    return SL_OK;
}

static int parse_doc(const cJSON *o, sl_wire_desc *w)
{
    int rc;
    char fmt[16];
    int64_t v = 0;
    if (!cJSON_IsObject(o)) return sl_err(SL_EFORMAT, "/wire: not a JSON object");
    if ((rc = get_str(o, "format", "format", fmt, sizeof fmt, 0))) return rc;
    if (strcmp(fmt, SL_WIRE_DESC_FORMAT)) return bad("format", "not \"sl-wire\"");
    if ((rc = get_int(o, "version", "version", 1, 1000, &v))) return rc;
    if (v != SL_WIRE_DESC_VERSION) return bad("version", "this build reads version 1");
    if ((rc = get_str(o, "model", "model", w->model, sizeof w->model, 0)) ||
        (rc = get_str(o, "graph_hash", "graph_hash", w->graph_hash, sizeof w->graph_hash, 0)) ||
        (rc = get_str(o, "model_hash", "model_hash", w->model_hash, sizeof w->model_hash, 0)))
        return rc;
    if (!is_hex64(w->graph_hash)) return bad("graph_hash", "not 64 lowercase hex digits");
    if (!is_hex64(w->model_hash)) return bad("model_hash", "not 64 lowercase hex digits");
    const cJSON *cut = cJSON_GetObjectItemCaseSensitive(o, "cut");
    int nc = cJSON_GetArraySize(cut);
    if (!cJSON_IsArray(cut) || nc < 1 || nc > SL_WIRE_DESC_MAX)
        return bad("cut", "not an array of 1..16 tensor names");
    for (int i = 0; i < nc; i++) {
        const cJSON *c = cJSON_GetArrayItem(cut, i);
        if (!cJSON_IsString(c) || !c->valuestring[0] || strlen(c->valuestring) >= SL_NAME_MAX)
            return bad("cut", "not an array of 1..16 tensor names");
        snprintf(w->cut[i], sizeof w->cut[i], "%s", c->valuestring);
    }
    w->ncut = nc;
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(o, "tl");
    if (cJSON_IsObject(tl)) {
        int64_t r, s, bits;
        w->has_tl = 1;
        if ((rc = get_str(tl, "kind", "tl.kind", w->tl.kind, sizeof w->tl.kind, 0)) ||
            (rc = get_str(tl, "config", "tl.config", w->tl.config, sizeof w->tl.config, 0)) ||
            (rc = get_int(tl, "r", "tl.r", 0, 1 << 20, &r)) ||
            (rc = get_int(tl, "s", "tl.s", 0, 1 << 20, &s)) ||
            (rc = get_int(tl, "bits", "tl.bits", 1, 32, &bits)) ||
            (rc = get_str(tl, "decoder_out", "tl.decoder_out", w->tl.decoder_out,
                          sizeof w->tl.decoder_out, 0)))
            return rc;
        if (strcmp(w->tl.kind, "pool") && strcmp(w->tl.kind, "conv"))
            return bad("tl.kind", "expected pool or conv");
        if (bits != 8 && bits != 32) return bad("tl.bits", "expected 8 or 32");
        w->tl.r = (int)r;
        w->tl.s = (int)s;
        w->tl.bits = (int)bits;
    } else if (!cJSON_IsNull(tl)) {
        return bad("tl", "missing, or neither null nor an object");
    }
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "tensors");
    int n = cJSON_GetArraySize(ts);
    if (!cJSON_IsArray(ts) || n < 1 || n > SL_WIRE_DESC_MAX)
        return bad("tensors", "not an array of 1..16 entries");
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if ((rc = parse_entry(cJSON_GetArrayItem(ts, i), i, &w->t[i]))) return rc;
        for (int k = 0; k < i; k++)
            if (!strcmp(w->t[k].name, w->t[i].name)) {
                char f[64];
                snprintf(f, sizeof f, "tensors[%d].name", i);
                return bad(f, "listed twice");
            }
        total += w->t[i].bytes_per_image;
    }
    w->n = n;
    if ((rc = get_int(o, "bytes_per_image", "bytes_per_image", 0, INT64_MAX / 2,
                      &w->bytes_per_image)))
        return rc;
    if (w->bytes_per_image != total) return bad("bytes_per_image", "is not the sum over tensors");
    return SL_OK;
}

int sl_wire_desc_parse(const char *json, sl_wire_desc *w)
{
    memset(w, 0, sizeof *w);
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    int rc = o ? parse_doc(o, w) : sl_err(SL_EFORMAT, "/wire: missing or not valid JSON");
    cJSON_Delete(o);
    if (rc) memset(w, 0, sizeof *w);
    return rc;
}

static int same_shape(const sl_shape *a, const sl_shape *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->d[i] != b->d[i]) return 0;
    return 1;
}

int sl_wire_desc_check(const sl_wire_desc *w, const sl_graph *g, const char *role)
{
    if (!strcmp(role, "device")) {
        if (g->noutputs != w->n)
            return sl_err(SL_EFORMAT, "/wire lists %d tensors, the device graph has %d outputs",
                          w->n, g->noutputs);
        for (int i = 0; i < w->n; i++) {
            sl_shape s;
            if (strcmp(g->outputs[i], w->t[i].name))
                return sl_err(SL_EFORMAT, "/wire: tensors[%d] is '%s', the device's output %d is '%s'",
                              i, w->t[i].name, i, g->outputs[i]);
            if (sl_graph_tensor_shape(g, w->t[i].name, &s) || !same_shape(&s, &w->t[i].shape))
                return sl_err(SL_EFORMAT, "/wire: tensor '%s' and the device output disagree on "
                                          "the shape", w->t[i].name);
        }
        return SL_OK;
    }
    if (!strcmp(role, "edge")) {
        for (int i = 0; i < w->n; i++) {
            int k = sl_graph_find(g, w->t[i].name);
            const sl_node *p = k >= 0 ? &g->nodes[k] : NULL;
            if (!p || p->op != SL_OP_PLACEHOLDER)
                return sl_err(SL_EFORMAT, "wire tensor '%s' has no placeholder node in the edge graph",
                              w->t[i].name);
            if (!same_shape(&p->a.shape, &w->t[i].shape))
                return sl_err(SL_EFORMAT, "placeholder '%s' and its /wire entry disagree on the shape",
                              w->t[i].name);
        }
        return SL_OK;
    }
    return sl_err(SL_EARG, "a wire description belongs to a device or edge half, not to role '%s'",
                  role);
}
