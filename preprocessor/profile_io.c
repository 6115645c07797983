/* profile_io.c: reading, validating and writing sl-profile JSON (version 1) with cJSON. */
#include "preprocessor/profile_io.h"

#include "common/fsutil.h"
#include "common/json.h"
#include "common/status.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROFILE_FORMAT "sl-profile"
#define PROFILE_VERSION 2
/* Largest time a profile may hold (31 years): sums of a profile's times then stay finite. */
#define MAX_TIME_S 1e9

/* Every field error reads "<what>: <field path>: <reason>". */
static int field_err(const char *what, const char *where, const char *key, const char *why)
{
    return sl_err(SL_EFORMAT, "%s: %s%s%s: %s", what, where, *where && *key ? "." : "", key, why);
}

static const cJSON *need(const cJSON *o, const char *key, const char *what, const char *where,
                         int *rc)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) *rc = field_err(what, where, key, "missing");
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static int get_num(const cJSON *o, const char *key, const char *what, const char *where, double lo,
                   double *out)
{
    int rc = SL_OK;
    const cJSON *v = need(o, key, what, where, &rc);
    if (!v) return rc;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return field_err(what, where, key, "not a number");
    if (v->valuedouble < lo) {
        char why[96];
        snprintf(why, sizeof why, "%g is below %g", v->valuedouble, lo);
        return field_err(what, where, key, why);
    }
    /* A time (every "*_s" field) beyond MAX_TIME_S is no measurement, and sums of such times
     * overflow to inf in select's costs. */
    size_t kl = strlen(key);
    int is_time = kl > 2 && !strcmp(key + kl - 2, "_s") && !(kl > 6 && !strcmp(key + kl - 6, "_per_s"));
    if (is_time && fabs(v->valuedouble) > MAX_TIME_S) {
        char why[96];
        snprintf(why, sizeof why, "%g s is beyond %g s: not a measured time", v->valuedouble,
                 MAX_TIME_S);
        return field_err(what, where, key, why);
    }
    *out = v->valuedouble;
    return SL_OK;
}

static int get_int(const cJSON *o, const char *key, const char *what, const char *where, int64_t lo,
                   int64_t *out)
{
    double d = 0;
    int rc = get_num(o, key, what, where, (double)lo, &d);
    if (rc) return rc;
    if (d != floor(d) || d > 9.0e15) return field_err(what, where, key, "not a whole number");
    *out = (int64_t)d;
    return SL_OK;
}

static int get_int32(const cJSON *o, const char *key, const char *what, const char *where, int lo,
                     int *out)
{
    int64_t v = 0;
    int rc = get_int(o, key, what, where, lo, &v);
    if (rc) return rc;
    if (v > 1000000000) return field_err(what, where, key, "too large");
    *out = (int)v;
    return SL_OK;
}

static int get_str(const cJSON *o, const char *key, const char *what, const char *where, char **out)
{
    int rc = SL_OK;
    const cJSON *v = need(o, key, what, where, &rc);
    if (!v) return rc;
    if (!cJSON_IsString(v) || !v->valuestring) return field_err(what, where, key, "not a string");
    char *s = strdup(v->valuestring);
    if (!s) return sl_err(SL_ENOMEM, "%s: out of memory", what);
    *out = s;
    return SL_OK;
}

static int get_shape(const cJSON *o, const char *key, const char *what, const char *where,
                     int64_t *dims, int *rank)
{
    int rc = SL_OK;
    const cJSON *v = need(o, key, what, where, &rc);
    if (!v) return rc;
    if (!cJSON_IsArray(v)) return field_err(what, where, key, "not an array of dimensions");
    int n = cJSON_GetArraySize(v);
    if (n > SL_PROFILE_MAX_RANK) return field_err(what, where, key, "too many dimensions");
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, v)
    {
        if (!cJSON_IsNumber(d) || d->valuedouble < 1 || d->valuedouble != floor(d->valuedouble) ||
            d->valuedouble > 1e9)
            return field_err(what, where, key, "dimensions must be positive whole numbers");
        dims[i++] = (int64_t)d->valuedouble;
    }
    *rank = n;
    return SL_OK;
}

/* o.key when it is there and `is` it (cJSON_IsArray, cJSON_IsObject); else NULL with *rc the
 * error ("missing", or `not_kind`). */
static const cJSON *get_kind(const cJSON *o, const char *key, const char *what, const char *where,
                             cJSON_bool (*is)(const cJSON *), const char *not_kind, int *rc)
{
    const cJSON *v = need(o, key, what, where, rc);
    if (v && !is(v)) {
        *rc = field_err(what, where, key, not_kind);
        return NULL;
    }
    return v;
}

static const cJSON *get_array(const cJSON *o, const char *key, const char *what, const char *where,
                              int *rc)
{
    return get_kind(o, key, what, where, cJSON_IsArray, "not an array", rc);
}

static const cJSON *get_object(const cJSON *o, const char *key, const char *what,
                               const char *where, int *rc)
{
    return get_kind(o, key, what, where, cJSON_IsObject, "not an object", rc);
}

/* The version 2 wire fields of an object: wire_bytes, wire_enc_s, wire_dec_s. */
static int parse_wire(const cJSON *j, const char *what, const char *where, sl_prof_wire *w)
{
    int rc;
    if ((rc = get_int(j, "wire_bytes", what, where, 1, &w->bytes))) return rc;
    if ((rc = get_num(j, "wire_enc_s", what, where, 0, &w->enc_s))) return rc;
    return get_num(j, "wire_dec_s", what, where, 0, &w->dec_s);
}

static void add_wire(cJSON *o, const sl_prof_wire *w)
{
    cJSON_AddNumberToObject(o, "wire_bytes", (double)w->bytes);
    cJSON_AddNumberToObject(o, "wire_enc_s", w->enc_s);
    cJSON_AddNumberToObject(o, "wire_dec_s", w->dec_s);
}

static int parse_tl(const cJSON *j, const char *what, const char *where, int v2, sl_prof_tl *t)
{
    int rc;
    if (!cJSON_IsObject(j)) return field_err(what, where, "", "not an object");
    if ((rc = get_str(j, "config", what, where, &t->config))) return rc;
    if ((rc = get_num(j, "enc_s", what, where, 0, &t->enc_s))) return rc;
    if ((rc = get_num(j, "dec_s", what, where, 0, &t->dec_s))) return rc;
    if ((rc = get_int(j, "bytes", what, where, 1, &t->bytes))) return rc;
    return v2 ? parse_wire(j, what, where, &t->wire) : SL_OK;
}

static int parse_node(const cJSON *j, const char *what, const char *where, sl_prof_node *n)
{
    int rc = SL_OK;
    if (!cJSON_IsObject(j)) return field_err(what, where, "", "not an object");
    if ((rc = get_str(j, "name", what, where, &n->name))) return rc;
    if ((rc = get_str(j, "op", what, where, &n->op))) return rc;
    const cJSON *ins = get_array(j, "inputs", what, where, &rc);
    if (!ins) return rc;
    int k = cJSON_GetArraySize(ins);
    if (k < 1) return field_err(what, where, "inputs", "empty");
    n->inputs = calloc((size_t)k, sizeof *n->inputs);
    if (!n->inputs) return sl_err(SL_ENOMEM, "%s: out of memory", what);
    const cJSON *s;
    cJSON_ArrayForEach(s, ins)
    {
        if (!cJSON_IsString(s)) return field_err(what, where, "inputs", "not an array of names");
        if (!(n->inputs[n->n_inputs] = strdup(s->valuestring)))
            return sl_err(SL_ENOMEM, "%s: out of memory", what);
        n->n_inputs++;
    }
    if ((rc = get_shape(j, "out_shape", what, where, n->out_shape, &n->out_rank))) return rc;
    if ((rc = get_int(j, "out_bytes", what, where, 0, &n->out_bytes))) return rc;
    return get_num(j, "median_s", what, where, 0, &n->median_s);
}

static int parse_cut(const cJSON *j, const char *what, const char *where, int v2, sl_prof_cut *c)
{
    int rc = SL_OK;
    int64_t ni = 0;
    if (!cJSON_IsObject(j)) return field_err(what, where, "", "not an object");
    if ((rc = get_str(j, "tensor", what, where, &c->tensor))) return rc;
    if ((rc = get_int(j, "node_index", what, where, -1, &ni))) return rc;
    c->node_index = ni > 1000000000 ? 1000000000 : (int)ni;
    if ((rc = get_shape(j, "shape", what, where, c->shape, &c->rank))) return rc;
    if ((rc = get_int(j, "bytes", what, where, 1, &c->bytes))) return rc;
    if (v2 && (rc = parse_wire(j, what, where, &c->wire))) return rc;
    if (v2 && (rc = get_num(j, "prefix_s", what, where, 0, &c->prefix_s))) return rc;
    if (v2 && (rc = get_num(j, "suffix_s", what, where, 0, &c->suffix_s))) return rc;
    const cJSON *tls = get_array(j, "tl", what, where, &rc);
    if (!tls) return rc;
    int k = cJSON_GetArraySize(tls);
    if (k) {
        c->tl = calloc((size_t)k, sizeof *c->tl);
        if (!c->tl) return sl_err(SL_ENOMEM, "%s: out of memory", what);
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, tls)
    {
        char sub[128];
        snprintf(sub, sizeof sub, "%s.tl[%d]", where, c->n_tl);
        if ((rc = parse_tl(t, what, sub, v2, &c->tl[c->n_tl++]))) return rc;
    }
    return SL_OK;
}

static int parse_block(const cJSON *j, const char *what, const char *where, sl_prof_block *b)
{
    int rc;
    if (!cJSON_IsObject(j)) return field_err(what, where, "", "not an object");
    if ((rc = get_int32(j, "from_cut", what, where, 0, &b->from_cut))) return rc;
    if ((rc = get_int32(j, "to_cut", what, where, 0, &b->to_cut))) return rc;
    if ((rc = get_int32(j, "first_node", what, where, 0, &b->first_node))) return rc;
    if ((rc = get_int32(j, "last_node", what, where, 0, &b->last_node))) return rc;
    if ((rc = get_num(j, "median_s", what, where, 0, &b->median_s))) return rc;
    if ((rc = get_num(j, "p10_s", what, where, 0, &b->p10_s))) return rc;
    return get_num(j, "p90_s", what, where, 0, &b->p90_s);
}

/* Checks that element i of an array carries "index": i, so a hand-edited file that reorders or
 * drops entries is caught instead of silently mis-attributing times. */
static int check_index(const cJSON *j, const char *what, const char *where, int i)
{
    int64_t idx = -1;
    int rc = get_int(j, "index", what, where, 0, &idx);
    if (rc) return rc;
    if (idx != i) {
        char why[64];
        snprintf(why, sizeof why, "is %lld, expected %d", (long long)idx, i);
        return field_err(what, where, "index", why);
    }
    return SL_OK;
}

static int parse_list(const cJSON *root, const char *key, const char *what, int v2, void **items,
                      size_t size, int *count)
{
    int rc = SL_OK;
    const cJSON *arr = get_array(root, key, what, "", &rc);
    if (!arr) return rc;
    int n = cJSON_GetArraySize(arr);
    if (n == 0) return field_err(what, "", key, "empty");
    *items = calloc((size_t)n, size);
    if (!*items) return sl_err(SL_ENOMEM, "%s: out of memory", what);
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, arr)
    {
        char where[64];
        snprintf(where, sizeof where, "%s[%d]", key, i);
        if (!strcmp(key, "nodes"))
            rc = parse_node(e, what, where, (sl_prof_node *)*items + i);
        else if (!strcmp(key, "cuts"))
            rc = parse_cut(e, what, where, v2, (sl_prof_cut *)*items + i);
        else
            rc = parse_block(e, what, where, (sl_prof_block *)*items + i);
        *count = i + 1; /* so sl_profile_free releases what was filled */
        if (!rc) rc = check_index(e, what, where, i);
        if (rc) return rc;
        i++;
    }
    return SL_OK;
}

static int parse_root(const cJSON *root, const char *what, sl_profile *p)
{
    int rc = SL_OK;
    char *fmt = NULL;
    if (!cJSON_IsObject(root)) return sl_err(SL_EFORMAT, "%s: not a JSON object", what);
    if ((rc = get_str(root, "format", what, "", &fmt))) return rc;
    int foreign = strcmp(fmt, PROFILE_FORMAT) != 0;
    if (foreign) {
        rc = sl_err(SL_EFORMAT, "%s: format: '%s' is not an %s file", what, fmt, PROFILE_FORMAT);
        free(fmt);
        return rc;
    }
    free(fmt);
    int version;
    if ((rc = get_int32(root, "version", what, "", 0, &version))) return rc;
    if (version != 1 && version != PROFILE_VERSION)
        return sl_err(SL_EFORMAT, "%s: version: %d is not supported (this build reads 1 and %d)",
                      what, version, PROFILE_VERSION);
    const int v2 = version >= 2;
    p->has_wire = p->has_ranges = v2;
    char *hash = NULL;
    if ((rc = get_str(root, "model", what, "", &p->model))) return rc;
    if ((rc = get_str(root, "graph_hash", what, "", &hash))) return rc;
    int ok = strlen(hash) == 64;
    for (int i = 0; ok && hash[i]; i++)
        ok = isxdigit((unsigned char)hash[i]);
    if (ok)
        for (int i = 0; i < 65; i++)
            p->graph_hash[i] = (char)tolower((unsigned char)hash[i]);
    free(hash);
    if (!ok) return field_err(what, "", "graph_hash", "not 64 hex digits");
    if ((rc = get_str(root, "host", what, "", &p->host))) return rc;
    if ((rc = get_str(root, "cpu", what, "", &p->cpu))) return rc;
    if ((rc = get_str(root, "date", what, "", &p->date))) return rc;
    if ((rc = get_int32(root, "threads", what, "", 1, &p->threads))) return rc;
    if ((rc = get_int32(root, "batch", what, "", 1, &p->batch))) return rc;
    if ((rc = get_int32(root, "warmup", what, "", 0, &p->warmup))) return rc;
    if ((rc = get_int32(root, "repeats", what, "", 1, &p->repeats))) return rc;

    const cJSON *in = get_object(root, "input", what, "", &rc);
    if (!in) return rc;
    if ((rc = get_str(in, "name", what, "input", &p->input_name))) return rc;
    if ((rc = get_shape(in, "shape", what, "input", p->input_shape, &p->input_rank))) return rc;
    if ((rc = get_int(in, "bytes", what, "input", 1, &p->input_bytes))) return rc;
    if ((rc = get_int(in, "raw_bytes", what, "input", 1, &p->input_raw_bytes))) return rc;

    const cJSON *tot = get_object(root, "total", what, "", &rc);
    if (!tot) return rc;
    if ((rc = get_num(tot, "median_s", what, "total", 0, &p->total_median_s))) return rc;
    if ((rc = get_num(tot, "p10_s", what, "total", 0, &p->total_p10_s))) return rc;
    if ((rc = get_num(tot, "p90_s", what, "total", 0, &p->total_p90_s))) return rc;
    if ((rc = get_num(root, "block_sum_s", what, "", 0, &p->block_sum_s))) return rc;
    /* gap_s = block_sum_s - total and may be negative. */
    if ((rc = get_num(root, "gap_s", what, "", -INFINITY, &p->gap_s))) return rc;
    if ((rc = get_num(root, "serialise_bytes_per_s", what, "", 1, &p->serialise_bytes_per_s)))
        return rc;
    if (v2) {
        if ((rc = parse_wire(in, what, "input", &p->input_wire))) return rc;
        if ((rc = get_num(in, "load_s", what, "input", 0, &p->load_s))) return rc;
        if ((rc = get_num(in, "raw_load_s", what, "input", 0, &p->raw_load_s))) return rc;
        const cJSON *co = get_object(root, "codec", what, "", &rc);
        if (!co) return rc;
        if ((rc = get_str(co, "name", what, "codec", &p->codec))) return rc;
        if (strcmp(p->codec, "zstd") && strcmp(p->codec, "none"))
            return field_err(what, "codec", "name", "neither 'zstd' nor 'none'");
        if ((rc = get_int32(co, "level", what, "codec", 0, &p->codec_level))) return rc;
        if ((rc = get_int32(co, "min_bytes", what, "codec", 0, &p->codec_min_bytes))) return rc;
        if ((rc = get_int32(co, "images", what, "codec", 0, &p->images))) return rc;
        /* Optional: profiles written before it were measured back to back. */
        if (cJSON_GetObjectItemCaseSensitive(root, "idle_gap_s") &&
            (rc = get_num(root, "idle_gap_s", what, "", 0, &p->idle_gap_s)))
            return rc;
    }

    if ((rc = parse_list(root, "nodes", what, v2, (void **)&p->nodes, sizeof *p->nodes,
                         &p->n_nodes)))
        return rc;
    if ((rc = parse_list(root, "cuts", what, v2, (void **)&p->cuts, sizeof *p->cuts, &p->n_cuts)))
        return rc;
    return parse_list(root, "blocks", what, v2, (void **)&p->blocks, sizeof *p->blocks,
                      &p->n_blocks);
}

int sl_profile_find_node(const sl_profile *p, const char *name)
{
    for (int i = 0; i < p->n_nodes; i++)
        if (!strcmp(p->nodes[i].name, name)) return i;
    return -1;
}

int sl_profile_block_of_node(const sl_profile *p, int node)
{
    for (int b = 0; b < p->n_blocks; b++)
        if (node >= p->blocks[b].first_node && node <= p->blocks[b].last_node) return b;
    return -1;
}

int sl_profile_find_tl(const sl_profile *p, int cut, const char *config)
{
    if (cut < 0 || cut >= p->n_cuts) return -1;
    for (int t = 0; t < p->cuts[cut].n_tl; t++)
        if (!strcmp(p->cuts[cut].tl[t].config, config)) return t;
    return -1;
}

double sl_profile_prefix_s(const sl_profile *p, int cut)
{
    if (p->has_ranges) return p->cuts[cut].prefix_s;
    double t = 0;
    for (int b = 0; b < cut; b++)
        t += p->blocks[b].median_s;
    return t;
}

double sl_profile_suffix_s(const sl_profile *p, int cut)
{
    if (p->has_ranges) return p->cuts[cut].suffix_s;
    double t = 0;
    for (int b = cut; b < p->n_blocks; b++)
        t += p->blocks[b].median_s;
    return t;
}

sl_prof_wire sl_profile_wire(const sl_profile *p, int cut, int tl)
{
    const sl_prof_cut *c = &p->cuts[cut];
    if (p->has_wire) return cut == 0 ? p->input_wire : tl >= 0 ? c->tl[tl].wire : c->wire;
    sl_prof_wire w = {cut == 0 ? p->input_raw_bytes : tl >= 0 ? c->tl[tl].bytes : c->bytes, 0, 0};
    return w;
}

static int valid_tl_config(const char *c)
{
    if (!strcmp(c, "pool")) return 1;
    int r, s, b, end = 0;
    if (sscanf(c, "conv-r%d-s%d-b%d%n", &r, &s, &b, &end) != 3 || c[end]) return 0;
    return r >= 1 && s >= 1 && (b == 8 || b == 32);
}

int sl_profile_validate(const sl_profile *p, const char *what)
{
    char where[64];
    if (p->n_nodes < 1) return field_err(what, "", "nodes", "empty");
    if (p->n_cuts < 2) return field_err(what, "", "cuts", "needs at least the input and output");
    if (p->n_blocks != p->n_cuts - 1) {
        char why[96];
        snprintf(why, sizeof why, "%d blocks for %d cuts (expected %d)", p->n_blocks, p->n_cuts,
                 p->n_cuts - 1);
        return field_err(what, "", "blocks", why);
    }
    for (int i = 0; i < p->n_nodes; i++) {
        const sl_prof_node *n = &p->nodes[i];
        snprintf(where, sizeof where, "nodes[%d]", i);
        for (int k = 0; k < i; k++)
            if (!strcmp(p->nodes[k].name, n->name))
                return field_err(what, where, "name", "duplicate node name");
        if (!strcmp(n->name, p->input_name))
            return field_err(what, where, "name", "same as the input name");
        for (int k = 0; k < n->n_inputs; k++) {
            const char *in = n->inputs[k];
            if (strcmp(in, p->input_name) && sl_profile_find_node(p, in) < 0)
                return sl_err(SL_EFORMAT, "%s: %s.inputs: '%s' is not a node or the input", what,
                              where, in);
            int at = sl_profile_find_node(p, in);
            if (at >= i)
                return sl_err(
                    SL_EFORMAT,
                    "%s: %s.inputs: '%s' comes later (nodes must be in topological order)", what,
                    where, in);
        }
    }
    for (int i = 0; i < p->n_cuts; i++) {
        const sl_prof_cut *c = &p->cuts[i];
        snprintf(where, sizeof where, "cuts[%d]", i);
        if (i == 0 && (c->node_index != -1 || strcmp(c->tensor, p->input_name)))
            return field_err(what, where, "tensor",
                             "cut 0 must be the model input (node_index -1)");
        if (i > 0) {
            if (c->node_index < 0 || c->node_index >= p->n_nodes)
                return field_err(what, where, "node_index", "out of range");
            if (strcmp(c->tensor, p->nodes[c->node_index].name))
                return field_err(what, where, "tensor", "not the name of node_index");
            if (c->node_index <= p->cuts[i - 1].node_index)
                return field_err(what, where, "node_index", "cuts are not in topological order");
        }
        if (i == p->n_cuts - 1 && c->node_index != p->n_nodes - 1)
            return field_err(what, where, "node_index", "the last cut must be the last node");
        for (int t = 0; t < c->n_tl; t++) {
            char sub[96];
            snprintf(sub, sizeof sub, "%s.tl[%d]", where, t);
            if (!valid_tl_config(c->tl[t].config))
                return field_err(what, sub, "config", "not 'pool' or 'conv-r<R>-s<S>-b<8|32>'");
            for (int u = 0; u < t; u++)
                if (!strcmp(c->tl[u].config, c->tl[t].config))
                    return field_err(what, sub, "config", "duplicate configuration");
        }
    }
    for (int i = 0; i < p->n_blocks; i++) {
        const sl_prof_block *b = &p->blocks[i];
        snprintf(where, sizeof where, "blocks[%d]", i);
        if (b->from_cut != i || b->to_cut != i + 1)
            return field_err(what, where, "from_cut", "block i must run from cut i to cut i+1");
        if (b->first_node != p->cuts[i].node_index + 1)
            return field_err(what, where, "first_node", "must follow the node of its first cut");
        if (b->last_node != p->cuts[i + 1].node_index)
            return field_err(what, where, "last_node", "must be the node of its last cut");
    }
    return SL_OK;
}

/* The profile in `root` (deleted here), checked; *out is set only on success. */
static int profile_from_json(cJSON *root, const char *what, sl_profile **out)
{
    sl_profile *p = calloc(1, sizeof *p);
    if (!p) {
        cJSON_Delete(root);
        return sl_err(SL_ENOMEM, "%s: out of memory", what);
    }
    int rc = parse_root(root, what, p);
    cJSON_Delete(root);
    if (!rc) rc = sl_profile_validate(p, what);
    if (rc) {
        sl_profile_free(p);
        return rc;
    }
    *out = p;
    return SL_OK;
}

int sl_profile_parse(const char *text, const char *what, sl_profile **out)
{
    cJSON *root;
    int rc = sl_json_parse(text, what, &root);
    return rc ? rc : profile_from_json(root, what, out);
}

int sl_profile_read(const char *path, sl_profile **out)
{
    cJSON *root;
    int rc = sl_json_read_file(path, &root);
    return rc ? rc : profile_from_json(root, path, out);
}

cJSON *sl_prof_cut_json(const sl_prof_cut *c, int index)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", index);
    cJSON_AddStringToObject(o, "tensor", c->tensor);
    cJSON_AddNumberToObject(o, "node_index", c->node_index);
    cJSON_AddItemToObject(o, "shape", sl_json_int_array(c->shape, c->rank));
    cJSON_AddNumberToObject(o, "bytes", (double)c->bytes);
    return o;
}

static cJSON *build_json(const sl_profile *p)
{
    /* A profile without the version 2 measurements (made by hand, or read from version 1) is
     * written as version 1, so what is written always reads back the same. */
    const int v2 = p->has_wire && p->has_ranges;
    cJSON *r = sl_json_doc_new(PROFILE_FORMAT, v2 ? PROFILE_VERSION : 1);
    cJSON_AddStringToObject(r, "model", p->model);
    cJSON_AddStringToObject(r, "graph_hash", p->graph_hash);
    cJSON_AddStringToObject(r, "host", p->host);
    cJSON_AddStringToObject(r, "cpu", p->cpu);
    cJSON_AddNumberToObject(r, "threads", p->threads);
    cJSON_AddNumberToObject(r, "batch", p->batch);
    cJSON_AddStringToObject(r, "date", p->date);
    cJSON_AddNumberToObject(r, "warmup", p->warmup);
    cJSON_AddNumberToObject(r, "repeats", p->repeats);
    cJSON *in = cJSON_AddObjectToObject(r, "input");
    cJSON_AddStringToObject(in, "name", p->input_name);
    cJSON_AddItemToObject(in, "shape", sl_json_int_array(p->input_shape, p->input_rank));
    cJSON_AddNumberToObject(in, "bytes", (double)p->input_bytes);
    cJSON_AddNumberToObject(in, "raw_bytes", (double)p->input_raw_bytes);
    if (v2) {
        add_wire(in, &p->input_wire);
        cJSON_AddNumberToObject(in, "load_s", p->load_s);
        cJSON_AddNumberToObject(in, "raw_load_s", p->raw_load_s);
    }
    cJSON *tot = cJSON_AddObjectToObject(r, "total");
    cJSON_AddNumberToObject(tot, "median_s", p->total_median_s);
    cJSON_AddNumberToObject(tot, "p10_s", p->total_p10_s);
    cJSON_AddNumberToObject(tot, "p90_s", p->total_p90_s);
    cJSON_AddNumberToObject(r, "block_sum_s", p->block_sum_s);
    cJSON_AddNumberToObject(r, "gap_s", p->gap_s);
    cJSON_AddNumberToObject(r, "serialise_bytes_per_s", p->serialise_bytes_per_s);
    if (v2) {
        cJSON *co = cJSON_AddObjectToObject(r, "codec");
        cJSON_AddStringToObject(co, "name", p->codec ? p->codec : "none");
        cJSON_AddNumberToObject(co, "level", p->codec_level);
        cJSON_AddNumberToObject(co, "min_bytes", p->codec_min_bytes);
        cJSON_AddNumberToObject(co, "images", p->images);
        cJSON_AddNumberToObject(r, "idle_gap_s", p->idle_gap_s);
    }
    cJSON *nodes = cJSON_AddArrayToObject(r, "nodes");
    for (int i = 0; i < p->n_nodes; i++) {
        const sl_prof_node *n = &p->nodes[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", i);
        cJSON_AddStringToObject(o, "name", n->name);
        cJSON_AddStringToObject(o, "op", n->op);
        cJSON_AddItemToObject(o, "inputs", sl_json_string_array(n->inputs, n->n_inputs));
        cJSON_AddItemToObject(o, "out_shape", sl_json_int_array(n->out_shape, n->out_rank));
        cJSON_AddNumberToObject(o, "out_bytes", (double)n->out_bytes);
        cJSON_AddNumberToObject(o, "median_s", n->median_s);
        cJSON_AddItemToArray(nodes, o);
    }
    cJSON *cuts = cJSON_AddArrayToObject(r, "cuts");
    for (int i = 0; i < p->n_cuts; i++) {
        const sl_prof_cut *c = &p->cuts[i];
        cJSON *o = sl_prof_cut_json(c, i);
        if (v2) {
            add_wire(o, &c->wire);
            cJSON_AddNumberToObject(o, "prefix_s", c->prefix_s);
            cJSON_AddNumberToObject(o, "suffix_s", c->suffix_s);
        }
        cJSON *tls = cJSON_AddArrayToObject(o, "tl");
        for (int t = 0; t < c->n_tl; t++) {
            cJSON *to = cJSON_CreateObject();
            cJSON_AddStringToObject(to, "config", c->tl[t].config);
            cJSON_AddNumberToObject(to, "enc_s", c->tl[t].enc_s);
            cJSON_AddNumberToObject(to, "dec_s", c->tl[t].dec_s);
            cJSON_AddNumberToObject(to, "bytes", (double)c->tl[t].bytes);
            if (v2) add_wire(to, &c->tl[t].wire);
            cJSON_AddItemToArray(tls, to);
        }
        cJSON_AddItemToArray(cuts, o);
    }
    cJSON *blocks = cJSON_AddArrayToObject(r, "blocks");
    for (int i = 0; i < p->n_blocks; i++) {
        const sl_prof_block *b = &p->blocks[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", i);
        cJSON_AddNumberToObject(o, "from_cut", b->from_cut);
        cJSON_AddNumberToObject(o, "to_cut", b->to_cut);
        cJSON_AddNumberToObject(o, "first_node", b->first_node);
        cJSON_AddNumberToObject(o, "last_node", b->last_node);
        cJSON_AddNumberToObject(o, "median_s", b->median_s);
        cJSON_AddNumberToObject(o, "p10_s", b->p10_s);
        cJSON_AddNumberToObject(o, "p90_s", b->p90_s);
        cJSON_AddItemToArray(blocks, o);
    }
    return r;
}

char *sl_profile_to_json(const sl_profile *p)
{
    if (sl_profile_validate(p, "profile")) return NULL;
    cJSON *r = build_json(p);
    char *s = r ? cJSON_Print(r) : NULL;
    cJSON_Delete(r);
    if (!s) sl_err(SL_ENOMEM, "profile: out of memory while serialising");
    return s;
}

int sl_profile_write(const char *path, const sl_profile *p)
{
    int rc = sl_profile_validate(p, path);
    if (rc) return rc;
    char *s = sl_profile_to_json(p);
    if (!s) return SL_ENOMEM;
    rc = sl_write_file_atomic(path, s, strlen(s));
    free(s);
    return rc;
}

void sl_profile_free(sl_profile *p)
{
    if (!p) return;
    for (int i = 0; i < p->n_nodes; i++) {
        for (int k = 0; k < p->nodes[i].n_inputs; k++)
            free(p->nodes[i].inputs[k]);
        free(p->nodes[i].inputs);
        free(p->nodes[i].name);
        free(p->nodes[i].op);
    }
    for (int i = 0; i < p->n_cuts; i++) {
        for (int t = 0; t < p->cuts[i].n_tl; t++)
            free(p->cuts[i].tl[t].config);
        free(p->cuts[i].tl);
        free(p->cuts[i].tensor);
    }
    free(p->nodes);
    free(p->cuts);
    free(p->blocks);
    free(p->model);
    free(p->host);
    free(p->cpu);
    free(p->date);
    free(p->input_name);
    free(p->codec);
    free(p);
}
