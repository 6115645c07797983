/* onnx.c: the ONNX importer (onnx.h) — protobuf-c over onnx.proto, then a node-by-node
 * translation into the graph IR with constants folded and patterns fused. */
#include "model/onnx.h"
#include "common/fsutil.h"
#include "common/status.h"
#include "model/ops.h"
#include "onnx.pb-c.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIMS 8
#define MAX_NUMEL ((int64_t)1 << 31)
#define OPSET_MIN 11
#define OPSET_MAX 17

/* ---- values: what an ONNX tensor name stands for during the translation ---------------------- */

typedef enum vkind {
    V_CONST, /* known at import: an initializer, a Constant, or computed from them */
    V_DYN,   /* computed at run time by an IR node (or the graph input) */
    V_SHUF5, /* a {N, g, C/g, H, W} view of a DYN value (first step of a channel shuffle) */
    V_SHUF5T /* ... with the two group dims transposed (second step) */
} vkind;

typedef struct val {
    const char *name; /* borrowed from the protobuf message */
    const char *origin; /* V_CONST: the initializer or node output it was first made as (an
                           Identity keeps it: torch.onnx writes shared weights that way) */
    vkind kind;
    /* V_CONST: row-major values (as doubles; float32 and int64 both read back exactly) */
    int is_int;
    int ndim;
    int64_t dims[MAX_DIMS];
    int64_t numel;
    double *v; /* owned */
    /* V_DYN / V_SHUF*: the IR node (-1 = graph input) and its shape without the batch */
    int node;
    sl_shape shape;
    int64_t groups;
} val;

/* An IR node under construction (the sl_graph is built from the live ones at the end). */
typedef struct inode {
    char name[SL_NAME_MAX];
    sl_op op;
    sl_attrs a;
    int nin;
    int in[8]; /* inode indices; -1 = graph input; concat may need more: see `ins` */
    int *ins;  /* owned when nin > 8 */
    sl_shape out;
    int np;
    struct {
        char name[32];
        int ndim;
        int64_t dims[4];
        float *data; /* owned */
    } p[SL_MAX_PARAMS];
    int uses;
} inode;

typedef struct ctx {
    const char *path;
    int opset;
    val **vals; /* each allocated on its own, so a val * stays valid as more are added */
    int nvals, capvals;
    inode *nodes;
    int nnodes, capnodes;
    char input_name[SL_NAME_MAX];
    sl_shape input_shape;
    /* the node being translated, for messages */
    const Onnx__NodeProto *cur;
    char curname[SL_NAME_MAX];
} ctx;

static const int *node_inputs(const inode *n)
{
    return n->ins ? n->ins : n->in;
}

/* Error about the node being translated: "FILE: node 'N' (Op, opset K): why". */
__attribute__((format(printf, 2, 3))) static int node_err(ctx *c, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return sl_err(SL_EFORMAT, "%s: node '%s' (%s, opset %d): %s", c->path, c->curname,
                  c->cur->op_type ? c->cur->op_type : "?", c->opset, why);
}

static val *find_val(ctx *c, const char *name)
{
    for (int i = c->nvals - 1; i >= 0; i--)
        if (!strcmp(c->vals[i]->name, name)) return c->vals[i];
    return NULL;
}

static val *new_val(ctx *c, const char *name)
{
    if (c->nvals == c->capvals) {
        int cap = c->capvals ? c->capvals * 2 : 256;
        val **v = realloc(c->vals, (size_t)cap * sizeof *v);
        if (!v) return NULL;
        c->vals = v;
        c->capvals = cap;
    }
    val *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    c->vals[c->nvals++] = v;
    v->name = name;
    return v;
}

static int64_t dims_numel(const int64_t *d, int n)
{
    int64_t k = 1;
    for (int i = 0; i < n; i++) k *= d[i];
    return k;
}

/* A new constant value `name` with the given dims and (copied or zeroed) data. */
static int new_const(ctx *c, const char *name, const int64_t *dims, int ndim, int is_int,
                     const double *data, val **out)
{
    if (ndim > MAX_DIMS) return sl_err(SL_EFORMAT, "%s: tensor '%s' has %d dims", c->path, name, ndim);
    int64_t n = dims_numel(dims, ndim);
    double *v = calloc((size_t)(n ? n : 1), sizeof *v);
    val *x = v ? new_val(c, name) : NULL;
    if (!x) {
        free(v);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    x->kind = V_CONST;
    x->origin = name;
    x->is_int = is_int;
    x->ndim = ndim;
    memcpy(x->dims, dims, sizeof(int64_t) * (size_t)ndim);
    x->numel = n;
    x->v = v;
    if (data) memcpy(v, data, sizeof *v * (size_t)n);
    if (out) *out = x;
    return SL_OK;
}

static int new_dyn(ctx *c, const char *name, int node, const sl_shape *s)
{
    val *x = new_val(c, name);
    if (!x) return sl_err(SL_ENOMEM, "out of memory");
    x->kind = V_DYN;
    x->node = node;
    x->shape = *s;
    return SL_OK;
}

/* ---- tensors ---------------------------------------------------------------------------------- */

/* Decodes a TensorProto (initializer or Constant value) into a new constant `name`. */
static int decode_tensor(ctx *c, const Onnx__TensorProto *t, const char *name, val **out)
{
    if (t->n_dims > MAX_DIMS)
        return sl_err(SL_EFORMAT, "%s: tensor '%s' has %zu dims (at most %d)", c->path, name,
                      t->n_dims, MAX_DIMS);
    int64_t n = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0 || (t->dims[i] && n > MAX_NUMEL / t->dims[i]))
            return sl_err(SL_EFORMAT, "%s: tensor '%s' has an invalid dim %lld", c->path, name,
                          (long long)t->dims[i]);
        n *= t->dims[i];
    }
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return sl_err(SL_EFORMAT,
                      "%s: tensor '%s' keeps its data in an external file, which is not "
                      "supported (export with the weights inside the model)",
                      c->path, name);
    int dt = t->has_data_type ? t->data_type : 0;
    size_t esz;
    int is_int;
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: esz = 4, is_int = 0; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: esz = 8, is_int = 0; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: esz = 8, is_int = 1; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: esz = 4, is_int = 1; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: esz = 1, is_int = 1; break;
    default:
        return sl_err(SL_EFORMAT, "%s: tensor '%s' has data type %d, which is not supported "
                                  "(float32, float64, int64, int32, bool are)",
                      c->path, name, dt);
    }
    size_t have;
    const char *field;
    if (t->has_raw_data) {
        have = t->raw_data.len / esz;
        field = "raw_data";
        if (t->raw_data.len % esz) have = (size_t)-1;
    } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
        have = t->n_float_data, field = "float_data";
    } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) {
        have = t->n_double_data, field = "double_data";
    } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
        have = t->n_int64_data, field = "int64_data";
    } else {
        have = t->n_int32_data, field = "int32_data";
    }
    if (have != (size_t)n)
        return sl_err(SL_EFORMAT,
                      "%s: tensor '%s': its dims need %lld values, but %s holds %s%zu bytes",
                      c->path, name, (long long)n, field, have == (size_t)-1 ? "a partial value in " : "",
                      t->has_raw_data ? t->raw_data.len : have * esz);
    val *x = NULL;
    int rc = new_const(c, name, t->dims, (int)t->n_dims, is_int, NULL, &x);
    if (rc) return rc;
    const uint8_t *raw = t->has_raw_data ? t->raw_data.data : NULL;
    for (int64_t i = 0; i < n; i++) {
        double v;
        if (raw) {
            /* ONNX raw data is little-endian, as is every machine we build for. */
            const uint8_t *p = raw + (size_t)i * esz;
            float f;
            double d;
            int64_t l;
            int32_t k;
            switch (dt) {
            case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: memcpy(&f, p, 4), v = f; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: memcpy(&d, p, 8), v = d; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: memcpy(&l, p, 8), v = (double)l; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: memcpy(&k, p, 4), v = k; break;
            default: v = *p; break;
            }
        } else {
            switch (dt) {
            case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: v = t->float_data[i]; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: v = t->double_data[i]; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: v = (double)t->int64_data[i]; break;
            default: v = t->int32_data[i]; break;
            }
        }
        x->v[i] = v;
    }
    if (out) *out = x;
    return SL_OK;
}

/* ---- attributes ------------------------------------------------------------------------------- */

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name)) return n->attribute[i];
    return NULL;
}

static int64_t attr_i(const Onnx__NodeProto *n, const char *name, int64_t dflt)
{
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_i ? a->i : dflt;
}

static double attr_f(const Onnx__NodeProto *n, const char *name, double dflt)
{
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_f ? a->f : dflt;
}

/* The ints attribute `name` into out[0..max); returns the count, 0 when absent, -1 when it has
 * more than max values. */
static int attr_ints(const Onnx__NodeProto *n, const char *name, int64_t *out, int max)
{
    const Onnx__AttributeProto *a = attr(n, name);
    if (!a) return 0;
    if (a->n_ints > (size_t)max) return -1;
    for (size_t i = 0; i < a->n_ints; i++) out[i] = a->ints[i];
    return (int)a->n_ints;
}

static int attr_str_is(const Onnx__NodeProto *n, const char *name, const char *want, int dflt)
{
    const Onnx__AttributeProto *a = attr(n, name);
    if (!a || !a->has_s) return dflt;
    return a->s.len == strlen(want) && !memcmp(a->s.data, want, a->s.len);
}

/* ---- names ------------------------------------------------------------------------------------- */

static int name_taken(const ctx *c, const char *name)
{
    if (!strcmp(name, c->input_name)) return 1;
    for (int i = 0; i < c->nnodes; i++)
        if (!strcmp(c->nodes[i].name, name)) return 1;
    return 0;
}

/* Copies src into dst (size bytes) with the characters that would break HDF5 paths, JSON keys
 * or comma lists ('/', ',', ':' and spaces) made dots or underscores. */
static void clean_name(char *dst, size_t size, const char *src)
{
    size_t k = 0;
    for (; *src && k + 1 < size; src++) {
        char ch = *src;
        if (ch == '/') ch = '.';
        else if (ch == ',' || ch == ':' || ch == ' ' || ch == '\t') ch = '_';
        if (ch == '.' && (k == 0 || dst[k - 1] == '.')) continue;
        dst[k++] = ch;
    }
    while (k && dst[k - 1] == '.') k--;
    dst[k] = 0;
}

/* torch.onnx's scope path "/layer1/layer1.0/relu/Relu" -> "layer1.0.relu.Relu": a component
 * that the next one repeats as its prefix ("layer1" before "layer1.0") is dropped. */
static void scope_name(char *dst, size_t size, const char *src)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", src);
    char *parts[64];
    int np = 0;
    for (char *s = strtok(buf, "/"); s && np < 64; s = strtok(NULL, "/")) parts[np++] = s;
    char out[1024] = "";
    size_t at = 0;
    for (int i = 0; i < np; i++) {
        size_t l = strlen(parts[i]);
        if (i + 1 < np && !strncmp(parts[i + 1], parts[i], l) && parts[i + 1][l] == '.') continue;
        at += (size_t)snprintf(out + at, sizeof out - at, "%s%s", at ? "." : "", parts[i]);
        if (at >= sizeof out) break;
    }
    clean_name(dst, size, out);
}

/* A unique IR name for the node being translated; `weight` (may be NULL) is the initializer
 * name of its weight, `suffix` (may be NULL) tells apart several IR nodes from one ONNX node. */
static void pick_name(ctx *c, char *dst, const char *weight, const char *suffix)
{
    char base[SL_NAME_MAX - 16] = "";
    size_t wl = weight ? strlen(weight) : 0;
    if (weight && wl > 7 && !strcmp(weight + wl - 7, ".weight") && strncmp(weight, "onnx::", 6)) {
        char w[SL_NAME_MAX];
        snprintf(w, sizeof w, "%.*s", (int)(wl - 7 < SL_NAME_MAX - 1 ? wl - 7 : SL_NAME_MAX - 1),
                 weight);
        clean_name(base, sizeof base, w);
    }
    if (!*base) {
        if (c->cur->name && *c->cur->name) scope_name(base, sizeof base, c->cur->name);
        if (!*base && c->cur->n_output) clean_name(base, sizeof base, c->cur->output[0]);
        if (!*base) snprintf(base, sizeof base, "%s", c->cur->op_type);
    }
    char cand[SL_NAME_MAX];
    snprintf(cand, sizeof cand, "%s%s%s", base, suffix ? "." : "", suffix ? suffix : "");
    for (int k = 2; name_taken(c, cand); k++)
        snprintf(cand, sizeof cand, "%s%s%s_%d", base, suffix ? "." : "", suffix ? suffix : "", k);
    snprintf(dst, SL_NAME_MAX, "%s", cand);
}

/* ---- building IR nodes ------------------------------------------------------------------------ */

static sl_shape in_shape(const ctx *c, int node)
{
    return node < 0 ? c->input_shape : c->nodes[node].out;
}

/* Appends IR node `op` over DYN inputs in[0..nin), infers its shape and binds `out_name` to it.
 * *idx (may be NULL) gets the node's index. The node's params are added by the caller. */
static int add_node(ctx *c, sl_op op, const sl_attrs *a, const int *in, int nin,
                    const char *weight, const char *suffix, const char *out_name, int *idx)
{
    if (c->nnodes == c->capnodes) {
        int cap = c->capnodes ? c->capnodes * 2 : 256;
        inode *v = realloc(c->nodes, (size_t)cap * sizeof *v);
        if (!v) return sl_err(SL_ENOMEM, "out of memory");
        c->nodes = v;
        c->capnodes = cap;
    }
    inode *n = &c->nodes[c->nnodes];
    memset(n, 0, sizeof *n);
    pick_name(c, n->name, weight, suffix);
    n->op = op;
    n->a = *a;
    n->nin = nin;
    if (nin > 8 && !(n->ins = malloc(sizeof(int) * (size_t)nin))) return sl_err(SL_ENOMEM, "out of memory");
    int *dst = n->ins ? n->ins : n->in;
    sl_shape shapes[nin + 1];
    for (int i = 0; i < nin; i++) {
        dst[i] = in[i];
        shapes[i] = in_shape(c, in[i]);
    }
    /* Shapes now, so that Shape, Reshape and Gemm see them; params are checked at the end. */
    sl_node tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.name = n->name;
    tmp.op = op;
    tmp.a = *a;
    tmp.ninputs = nin;
    int rc = sl_op_def_get(op)->infer(&tmp, shapes, nin, &n->out);
    if (rc) {
        free(n->ins);
        return node_err(c, "%s: %s", sl_op_name(op), sl_errmsg());
    }
    c->nnodes++;
    if (idx) *idx = c->nnodes - 1;
    return out_name ? new_dyn(c, out_name, c->nnodes - 1, &n->out) : SL_OK;
}

/* Adds parameter `pname` to node idx from constant v (values converted to float32); with
 * `transpose` a 2-D matrix is stored transposed. */
static int add_param(ctx *c, int idx, const char *pname, const val *v, int transpose)
{
    inode *n = &c->nodes[idx];
    if (v->ndim > 4) return node_err(c, "parameter '%s' has %d dims", pname, v->ndim);
    float *d = malloc(sizeof(float) * (size_t)(v->numel ? v->numel : 1));
    if (!d) return sl_err(SL_ENOMEM, "out of memory");
    int k = n->np++;
    snprintf(n->p[k].name, sizeof n->p[k].name, "%s", pname);
    n->p[k].ndim = v->ndim;
    memcpy(n->p[k].dims, v->dims, sizeof(int64_t) * (size_t)v->ndim);
    if (transpose && v->ndim == 2) {
        int64_t r = v->dims[0], cc = v->dims[1];
        n->p[k].dims[0] = cc;
        n->p[k].dims[1] = r;
        for (int64_t i = 0; i < r; i++)
            for (int64_t j = 0; j < cc; j++) d[j * r + i] = (float)v->v[i * cc + j];
    } else {
        for (int64_t i = 0; i < v->numel; i++) d[i] = (float)v->v[i];
    }
    n->p[k].data = d;
    return SL_OK;
}

/* ---- inputs of the node being translated ------------------------------------------------------ */

/* Input k of the current node, or NULL when absent or empty (an omitted optional input). */
static val *input(ctx *c, size_t k)
{
    if (k >= c->cur->n_input || !*c->cur->input[k]) return NULL;
    return find_val(c, c->cur->input[k]);
}

static int need_dyn(ctx *c, size_t k, val **out)
{
    val *v = input(c, k);
    if (!v) return node_err(c, "input %zu is missing", k + 1);
    if (v->kind == V_SHUF5 || v->kind == V_SHUF5T)
        return node_err(c, "input '%s' is a 5-D reshape that only a channel shuffle "
                           "(reshape, transpose, reshape) may use",
                        v->name);
    if (v->kind != V_DYN)
        return node_err(c, "input '%s' is a constant; this op is translated only for a computed "
                           "tensor",
                        v->name);
    *out = v;
    return SL_OK;
}

static int need_const(ctx *c, size_t k, const char *what, val **out)
{
    val *v = input(c, k);
    if (!v) return node_err(c, "the %s (input %zu) is missing", what, k + 1);
    if (v->kind != V_CONST)
        return node_err(c, "the %s '%s' must be a constant (an initializer or computed from them)",
                        what, v->name);
    *out = v;
    return SL_OK;
}

/* Only the first output may be used (Dropout's mask, MaxPool's indices are refused). */
static int only_first_output(ctx *c)
{
    for (size_t i = 1; i < c->cur->n_output; i++)
        if (*c->cur->output[i])
            return node_err(c, "output %zu ('%s') is not supported (inference graphs use only the "
                               "first)",
                            i + 1, c->cur->output[i]);
    return SL_OK;
}

/* Rank of DYN value v with the batch dim. */
static int rank(const val *v)
{
    return v->shape.ndim + 1;
}

/* Axis `ax` of a tensor of rank r as a non-negative index, -1 if out of range. */
static int norm_axis(int64_t ax, int r)
{
    if (ax < 0) ax += r;
    return ax < 0 || ax >= r ? -1 : (int)ax;
}

/* ---- op translations --------------------------------------------------------------------------- */

static int alias(ctx *c, const val *v)
{
    val copy = *v;
    val *x = new_val(c, c->cur->output[0]);
    if (!x) return sl_err(SL_ENOMEM, "out of memory");
    const char *nm = x->name;
    *x = copy;
    x->name = nm;
    if (copy.kind == V_CONST) {
        /* Constants own their data: the alias gets a copy. */
        x->v = malloc(sizeof(double) * (size_t)(copy.numel ? copy.numel : 1));
        if (!x->v) return sl_err(SL_ENOMEM, "out of memory");
        memcpy(x->v, copy.v, sizeof(double) * (size_t)copy.numel);
    }
    return SL_OK;
}

/* Reads the 2-D geometry attributes (kernel_shape, strides, dilations, pads) of a conv or pool;
 * k may come from the weight. Asymmetric pads are returned in pads4 {top, left, bottom, right}
 * with *sym = 0. */
static int geometry(ctx *c, const val *x, int64_t k[2], int64_t s[2], int64_t d[2],
                    int64_t pads4[4], int *sym)
{
    int64_t v[4];
    int n = attr_ints(c->cur, "kernel_shape", v, 2);
    if (n == 2) k[0] = v[0], k[1] = v[1];
    else if (n != 0) return node_err(c, "kernel_shape must have 2 values (2-D only)");
    s[0] = s[1] = d[0] = d[1] = 1;
    n = attr_ints(c->cur, "strides", v, 2);
    if (n == 2) s[0] = v[0], s[1] = v[1];
    else if (n) return node_err(c, "strides must have 2 values");
    n = attr_ints(c->cur, "dilations", v, 2);
    if (n == 2) d[0] = v[0], d[1] = v[1];
    else if (n) return node_err(c, "dilations must have 2 values");
    memset(pads4, 0, 4 * sizeof *pads4);
    n = attr_ints(c->cur, "pads", v, 4);
    if (n == 4) memcpy(pads4, v, sizeof v);
    else if (n) return node_err(c, "pads must have 4 values");
    const Onnx__AttributeProto *ap = attr(c->cur, "auto_pad");
    if (ap && ap->has_s && !attr_str_is(c->cur, "auto_pad", "NOTSET", 1) &&
        !attr_str_is(c->cur, "auto_pad", "VALID", 0)) {
        int upper = attr_str_is(c->cur, "auto_pad", "SAME_UPPER", 0);
        if (!upper && !attr_str_is(c->cur, "auto_pad", "SAME_LOWER", 0))
            return node_err(c, "auto_pad '%.*s' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER",
                            (int)ap->s.len, (const char *)ap->s.data);
        for (int i = 0; i < 2; i++) {
            int64_t in = x->shape.d[1 + i], o = (in + s[i] - 1) / s[i];
            int64_t total = (o - 1) * s[i] + (k[i] - 1) * d[i] + 1 - in;
            if (total < 0) total = 0;
            int64_t small = total / 2;
            pads4[i] = upper ? small : total - small;
            pads4[2 + i] = total - pads4[i];
        }
    }
    for (int i = 0; i < 2; i++)
        if (k[i] <= 0 || s[i] <= 0 || d[i] <= 0 || pads4[i] < 0 || pads4[2 + i] < 0)
            return node_err(c, "kernel, strides and dilations must be positive, pads non-negative");
    *sym = pads4[0] == pads4[2] && pads4[1] == pads4[3];
    return SL_OK;
}

static int t_conv(ctx *c)
{
    val *x, *w, *b = NULL;
    int rc;
    if ((rc = need_dyn(c, 0, &x)) || (rc = need_const(c, 1, "weight", &w))) return rc;
    if (input(c, 2) && (rc = need_const(c, 2, "bias", &b))) return rc;
    if (x->shape.ndim != 3) return node_err(c, "only 2-D convolutions (N x C x H x W) are supported");
    if (w->ndim != 4) return node_err(c, "the weight has %d dims, expected 4", w->ndim);
    sl_attrs a;
    sl_attrs_default(&a);
    a.k[0] = w->dims[2];
    a.k[1] = w->dims[3];
    int64_t p4[4];
    int sym;
    if ((rc = geometry(c, x, a.k, a.stride, a.dil, p4, &sym))) return rc;
    if (a.k[0] != w->dims[2] || a.k[1] != w->dims[3])
        return node_err(c, "kernel_shape %lldx%lld differs from the weight's %lldx%lld",
                        (long long)a.k[0], (long long)a.k[1], (long long)w->dims[2],
                        (long long)w->dims[3]);
    a.groups = attr_i(c->cur, "group", 1);
    a.out = w->dims[0];
    a.bias = b != NULL;
    if (a.groups < 1 || w->dims[1] * a.groups != x->shape.d[0])
        return node_err(c, "the weight takes %lld x %lld groups input channels, the input has %lld",
                        (long long)w->dims[1], (long long)a.groups, (long long)x->shape.d[0]);
    if (b && (b->ndim != 1 || b->dims[0] != a.out))
        return node_err(c, "the bias must have %lld values", (long long)a.out);
    int src = x->node;
    if (sym) {
        a.pad[0] = p4[0];
        a.pad[1] = p4[1];
    } else {
        /* Asymmetric padding (SAME_UPPER, TensorFlow exports): an explicit pad node first. */
        sl_attrs pa;
        sl_attrs_default(&pa);
        pa.pads[0] = p4[1];
        pa.pads[1] = p4[3];
        pa.pads[2] = p4[0];
        pa.pads[3] = p4[2];
        if ((rc = add_node(c, SL_OP_PAD, &pa, &src, 1, NULL, "pad", NULL, &src))) return rc;
    }
    int idx;
    if ((rc = add_node(c, SL_OP_CONV2D, &a, &src, 1, w->origin, NULL, c->cur->output[0], &idx)))
        return rc;
    if ((rc = add_param(c, idx, "weight", w, 0))) return rc;
    return b ? add_param(c, idx, "bias", b, 0) : SL_OK;
}

static int t_batchnorm(ctx *c)
{
    val *x, *p[4];
    static const char *const what[4] = {"scale", "bias", "mean", "var"};
    static const char *const pn[4] = {"weight", "bias", "running_mean", "running_var"};
    int rc = need_dyn(c, 0, &x);
    for (int i = 0; i < 4 && !rc; i++) rc = need_const(c, (size_t)i + 1, what[i], &p[i]);
    if (rc) return rc;
    if (attr_i(c->cur, "training_mode", 0)) return node_err(c, "training_mode = 1 is not supported");
    if ((rc = only_first_output(c))) return rc;
    for (int i = 0; i < 4; i++)
        if (p[i]->numel != x->shape.d[0])
            return node_err(c, "%s has %lld values for %lld channels", what[i],
                            (long long)p[i]->numel, (long long)x->shape.d[0]);
    sl_attrs a;
    sl_attrs_default(&a);
    a.eps = attr_f(c->cur, "epsilon", 1e-5);
    a.momentum = 1 - attr_f(c->cur, "momentum", 0.9);
    int idx;
    if ((rc = add_node(c, SL_OP_BATCH_NORM, &a, &x->node, 1, p[0]->origin, NULL, c->cur->output[0],
                       &idx)))
        return rc;
    for (int i = 0; i < 4 && !rc; i++) {
        val flat = *p[i];
        flat.ndim = 1;
        flat.dims[0] = flat.numel;
        rc = add_param(c, idx, pn[i], &flat, 0);
    }
    return rc;
}

static int t_unary(ctx *c, sl_op op)
{
    val *x;
    int rc = need_dyn(c, 0, &x);
    if (rc) return rc;
    sl_attrs a;
    sl_attrs_default(&a);
    return add_node(c, op, &a, &x->node, 1, NULL, NULL, c->cur->output[0], NULL);
}

static int t_hardsigmoid(ctx *c)
{
    double al = attr_f(c->cur, "alpha", 0.2), be = attr_f(c->cur, "beta", 0.5);
    if (fabs(al - 1.0 / 6) > 1e-6 || fabs(be - 0.5) > 1e-6)
        return node_err(c, "alpha %g, beta %g: only PyTorch's hardsigmoid (alpha 1/6, beta 0.5) "
                           "is supported",
                        al, be);
    return t_unary(c, SL_OP_HARDSIGMOID);
}

/* The scalar value of an optional constant input, or dflt. */
static int scalar_input(ctx *c, size_t k, const char *what, double dflt, double *out)
{
    *out = dflt;
    if (!input(c, k)) return SL_OK;
    val *v;
    int rc = need_const(c, k, what, &v);
    if (rc) return rc;
    if (v->numel != 1) return node_err(c, "%s must be a single value", what);
    *out = v->v[0];
    return SL_OK;
}

static int t_clip(ctx *c)
{
    val *x;
    int rc = need_dyn(c, 0, &x);
    double lo, hi;
    if (rc || (rc = scalar_input(c, 1, "min", -INFINITY, &lo)) ||
        (rc = scalar_input(c, 2, "max", INFINITY, &hi)))
        return rc;
    sl_attrs a;
    sl_attrs_default(&a);
    sl_op op = SL_OP_CLIP;
    if (lo == 0 && hi == 6) op = SL_OP_RELU6;
    else if (lo == 0 && isinf(hi)) op = SL_OP_RELU;
    a.lo = lo;
    a.hi = hi;
    return add_node(c, op, &a, &x->node, 1, NULL, NULL, c->cur->output[0], NULL);
}

static int t_softmax(ctx *c)
{
    val *x;
    int rc = need_dyn(c, 0, &x);
    if (rc) return rc;
    /* On N x F, opsets 11-12 (axis 1, flattened) and 13+ (axis -1) mean the same. */
    if (rank(x) != 2 || norm_axis(attr_i(c->cur, "axis", c->opset >= 13 ? -1 : 1), 2) != 1)
        return node_err(c, "softmax is supported over the features of an N x F tensor only");
    return t_unary(c, SL_OP_SOFTMAX);
}

/* Element-wise Mul / Add of computed tensors; x * sigmoid(x) becomes silu. */
static int t_binary(ctx *c, sl_op op)
{
    val *x = input(c, 0), *y = input(c, 1);
    if (!x || !y) return node_err(c, "needs two inputs");
    if (x->kind != V_DYN || y->kind != V_DYN)
        return node_err(c, "%s with a constant operand ('%s') is not supported; only %s of two "
                           "computed tensors is",
                        c->cur->op_type, x->kind == V_CONST ? x->name : y->name,
                        op == SL_OP_MUL ? "the product" : "the sum");
    sl_attrs a;
    sl_attrs_default(&a);
    if (op == SL_OP_MUL) {
        /* x * sigmoid(x) is silu, x * hardsigmoid(x) hardswish (as opsets before 14 write it). */
        for (int k = 0; k < 2; k++) {
            const val *s = k ? x : y, *o = k ? y : x;
            sl_op gate = s->node >= 0 ? c->nodes[s->node].op : SL_OP_COUNT;
            if ((gate == SL_OP_SIGMOID || gate == SL_OP_HARDSIGMOID) &&
                node_inputs(&c->nodes[s->node])[0] == o->node)
                return add_node(c, gate == SL_OP_SIGMOID ? SL_OP_SILU : SL_OP_HARDSWISH, &a,
                                &o->node, 1, NULL, NULL, c->cur->output[0], NULL);
        }
    } else if (x->shape.ndim != y->shape.ndim ||
               memcmp(x->shape.d, y->shape.d, sizeof(int64_t) * (size_t)x->shape.ndim)) {
        return node_err(c, "Add with broadcasting is not supported (the inputs differ in shape)");
    }
    int in[2] = {x->node, y->node};
    return add_node(c, op, &a, in, 2, NULL, NULL, c->cur->output[0], NULL);
}

static int t_concat(ctx *c)
{
    int n = (int)c->cur->n_input, rc;
    if (n < 1) return node_err(c, "needs inputs");
    val *first = input(c, 0);
    int in[n];
    for (int i = 0; i < n; i++) {
        val *v = NULL;
        if ((rc = need_dyn(c, (size_t)i, &v))) return rc;
        if (norm_axis(attr_i(c->cur, "axis", 1), rank(v)) != 1)
            return node_err(c, "concatenation is supported along the channels (axis 1) only");
        in[i] = v->node;
    }
    if (n == 1) return alias(c, first);
    sl_attrs a;
    sl_attrs_default(&a);
    return add_node(c, SL_OP_CONCAT, &a, in, n, NULL, NULL, c->cur->output[0], NULL);
}

static int t_pool(ctx *c, sl_op op)
{
    val *x;
    int rc = need_dyn(c, 0, &x);
    if (rc || (rc = only_first_output(c))) return rc;
    if (x->shape.ndim != 3) return node_err(c, "only 2-D pools are supported");
    sl_attrs a;
    sl_attrs_default(&a);
    a.k[0] = a.k[1] = 0;
    int64_t p4[4];
    int sym;
    if ((rc = geometry(c, x, a.k, a.stride, a.dil, p4, &sym))) return rc;
    if (!attr(c->cur, "kernel_shape")) return node_err(c, "kernel_shape is missing");
    if (!sym) return node_err(c, "asymmetric pads [%lld, %lld, %lld, %lld] are not supported",
                              (long long)p4[0], (long long)p4[1], (long long)p4[2], (long long)p4[3]);
    if (op == SL_OP_AVG_POOL && (a.dil[0] != 1 || a.dil[1] != 1))
        return node_err(c, "dilated average pooling is not supported");
    if (attr_i(c->cur, "storage_order", 0)) return node_err(c, "storage_order 1 is not supported");
    a.pad[0] = p4[0];
    a.pad[1] = p4[1];
    a.ceil_mode = (int)attr_i(c->cur, "ceil_mode", 0);
    a.count_include_pad = (int)attr_i(c->cur, "count_include_pad", 0);
    return add_node(c, op, &a, &x->node, 1, NULL, NULL, c->cur->output[0], NULL);
}

static int t_global_pool(ctx *c, int max)
{
    val *x;
    int rc = need_dyn(c, 0, &x);
    if (rc) return rc;
    if (x->shape.ndim != 3) return node_err(c, "needs an N x C x H x W input");
    sl_attrs a;
    sl_attrs_default(&a);
    if (max) {
        a.k[0] = a.stride[0] = x->shape.d[1];
        a.k[1] = a.stride[1] = x->shape.d[2];
        return add_node(c, SL_OP_MAX_POOL, &a, &x->node, 1, NULL, NULL, c->cur->output[0], NULL);
    }
    a.out_hw[0] = a.out_hw[1] = 1;
    return add_node(c, SL_OP_ADAPTIVE_AVG_POOL, &a, &x->node, 1, NULL, NULL, c->cur->output[0],
                    NULL);
}

/* ReduceMean over H and W (x.mean([2, 3])): an adaptive average pool to 1x1, flattened unless
 * keepdims. */
static int t_reduce_mean(ctx *c)
{
    val *x;
    int rc = need_dyn(c, 0, &x);
    if (rc) return rc;
    int64_t ax[4];
    int n = attr_ints(c->cur, "axes", ax, 4);
    int hw = x->shape.ndim == 3 && n == 2;
    for (int i = 0; i < n && hw; i++) {
        int k = norm_axis(ax[i], 4);
        hw = k == 2 || k == 3;
    }
    if (!hw || (n == 2 && norm_axis(ax[0], 4) == norm_axis(ax[1], 4)))
        return node_err(c, "ReduceMean is supported over H and W (axes 2 and 3 of N x C x H x W) "
                           "only");
    sl_attrs a;
    sl_attrs_default(&a);
    a.out_hw[0] = a.out_hw[1] = 1;
    int keep = (int)attr_i(c->cur, "keepdims", 1), idx;
    if ((rc = add_node(c, SL_OP_ADAPTIVE_AVG_POOL, &a, &x->node, 1, NULL, keep ? NULL : "pool",
                       keep ? c->cur->output[0] : NULL, &idx)))
        return rc;
    if (keep) return SL_OK;
    sl_attrs_default(&a);
    return add_node(c, SL_OP_FLATTEN, &a, &idx, 1, NULL, NULL, c->cur->output[0], NULL);
}

static int t_flatten(ctx *c)
{
    val *x;
    int rc = need_dyn(c, 0, &x);
    if (rc) return rc;
    int ax = norm_axis(attr_i(c->cur, "axis", 1), rank(x) + 1);
    if (ax < 1) return node_err(c, "flattening the batch dimension (axis 0) is not supported");
    if (ax >= rank(x)) return node_err(c, "axis %d is out of range", ax);
    if (ax == rank(x) - 1 && rank(x) == 2) return alias(c, x);
    sl_attrs a;
    sl_attrs_default(&a);
    a.start_dim = ax - 1;
    return add_node(c, SL_OP_FLATTEN, &a, &x->node, 1, NULL, NULL, c->cur->output[0], NULL);
}

static void shape_text(char *buf, size_t size, const int64_t *d, int n)
{
    size_t at = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < n && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, "%s%lld", i ? ", " : "", (long long)d[i]);
    if (at < size) snprintf(buf + at, size - at, "]");
}

/* Reshape of a computed tensor: a flatten, a no-op, or a step of a channel shuffle. */
static int t_reshape(ctx *c)
{
    val *x = input(c, 0), *s;
    int rc = need_const(c, 1, "shape", &s);
    if (rc) return rc;
    if (!x) return node_err(c, "input 1 is missing");
    if (x->kind == V_CONST) return node_err(c, "the shape of a constant must be a constant too");
    /* The input's full shape, batch 1 first. */
    int64_t in[MAX_DIMS] = {1};
    int r;
    if (x->kind == V_DYN) {
        r = rank(x);
        for (int i = 0; i < x->shape.ndim; i++) in[i + 1] = x->shape.d[i];
    } else {
        r = 5;
        in[1] = x->groups;
        in[2] = x->shape.d[0] / x->groups;
        in[3] = x->shape.d[1];
        in[4] = x->shape.d[2];
        if (x->kind == V_SHUF5T) {
            int64_t t = in[1];
            in[1] = in[2];
            in[2] = t;
        }
    }
    if (s->ndim != 1 || s->numel > MAX_DIMS || s->numel < 1)
        return node_err(c, "the shape must be a list of 1 to %d sizes", MAX_DIMS);
    int tr = (int)s->numel, minus = -1;
    int64_t t[MAX_DIMS], known = 1, total = dims_numel(in, r);
    for (int i = 0; i < tr; i++) {
        t[i] = (int64_t)s->v[i];
        if (t[i] == 0 && !attr_i(c->cur, "allowzero", 0)) {
            if (i >= r) return node_err(c, "shape entry %d is 0 but the input has %d dims", i, r);
            t[i] = in[i];
        }
        if (t[i] == -1) {
            if (minus >= 0) return node_err(c, "the shape has two -1 entries");
            minus = i;
        } else if (t[i] < 0) {
            return node_err(c, "the shape has a negative entry %lld", (long long)t[i]);
        } else {
            known *= t[i];
        }
    }
    if (minus >= 0) t[minus] = known ? total / known : 0;
    char from[128], to[128];
    shape_text(from, sizeof from, in, r);
    shape_text(to, sizeof to, t, tr);
    if (dims_numel(t, tr) != total) return node_err(c, "cannot reshape %s to %s", from, to);
    if (t[0] != 1)
        return node_err(c, "reshape %s to %s changes the batch dimension (export with batch 1 "
                           "and a -1 or the batch in the first place)",
                        from, to);
    sl_attrs a;
    sl_attrs_default(&a);
    if (x->kind == V_SHUF5T && tr == 4 && t[1] == x->shape.d[0] && t[2] == x->shape.d[1] &&
        t[3] == x->shape.d[2]) {
        a.groups = x->groups;
        return add_node(c, SL_OP_CHANNEL_SHUFFLE, &a, &x->node, 1, NULL, NULL, c->cur->output[0],
                        NULL);
    }
    if (x->kind != V_DYN)
        return node_err(c, "reshape %s to %s after a 5-D reshape is not a channel shuffle", from, to);
    if (tr == r && !memcmp(t, in, sizeof(int64_t) * (size_t)r)) return alias(c, x);
    if (tr == 2) {
        if (r == 2) return alias(c, x);
        return add_node(c, SL_OP_FLATTEN, &a, &x->node, 1, NULL, NULL, c->cur->output[0], NULL);
    }
    if (r == 4 && tr == 5 && t[3] == in[2] && t[4] == in[3] && t[1] * t[2] == in[1]) {
        val *v = new_val(c, c->cur->output[0]);
        if (!v) return sl_err(SL_ENOMEM, "out of memory");
        v->kind = V_SHUF5;
        v->node = x->node;
        v->shape = x->shape;
        v->groups = t[1];
        return SL_OK;
    }
    return node_err(c, "reshape %s to %s is not supported (a flatten to [N, -1] or ShuffleNet's "
                       "channel shuffle are)",
                    from, to);
}

static int t_transpose(ctx *c)
{
    val *x = input(c, 0);
    if (!x) return node_err(c, "input 1 is missing");
    int64_t p[MAX_DIMS];
    int n = attr_ints(c->cur, "perm", p, MAX_DIMS);
    static const int64_t shuf[5] = {0, 2, 1, 3, 4};
    if (x->kind == V_SHUF5 && n == 5 && !memcmp(p, shuf, sizeof shuf)) {
        val *v = new_val(c, c->cur->output[0]);
        if (!v) return sl_err(SL_ENOMEM, "out of memory");
        val src = *find_val(c, c->cur->input[0]);
        const char *nm = v->name;
        *v = src;
        v->name = nm;
        v->kind = V_SHUF5T;
        return SL_OK;
    }
    return node_err(c, "Transpose is supported only as the middle step of a channel shuffle "
                       "(perm [0, 2, 1, 3, 4] of a [N, g, C/g, H, W] reshape)");
}

static int t_gemm(ctx *c, int matmul)
{
    val *x, *w, *b = NULL;
    int rc;
    if ((rc = need_dyn(c, 0, &x)) || (rc = need_const(c, 1, "weight", &w))) return rc;
    if (!matmul && input(c, 2) && (rc = need_const(c, 2, "bias", &b))) return rc;
    if (x->shape.ndim != 1)
        return node_err(c, "the input must be N x F (flatten before it), got %d dims", rank(x));
    if (w->ndim != 2) return node_err(c, "the weight must be a matrix");
    int transb = matmul ? 0 : (int)attr_i(c->cur, "transB", 0);
    if (!matmul && (attr_i(c->cur, "transA", 0) || attr_f(c->cur, "alpha", 1) != 1 ||
                    attr_f(c->cur, "beta", 1) != 1))
        return node_err(c, "only transA = 0, alpha = 1 and beta = 1 are supported");
    int64_t in_f = transb ? w->dims[1] : w->dims[0], out_f = transb ? w->dims[0] : w->dims[1];
    if (in_f != x->shape.d[0])
        return node_err(c, "the weight takes %lld features, the input has %lld", (long long)in_f,
                        (long long)x->shape.d[0]);
    if (b && b->numel != out_f)
        return node_err(c, "the bias has %lld values for %lld outputs (broadcast biases are not "
                           "supported)",
                        (long long)b->numel, (long long)out_f);
    sl_attrs a;
    sl_attrs_default(&a);
    a.out = out_f;
    a.bias = b != NULL;
    int idx;
    if ((rc = add_node(c, SL_OP_LINEAR, &a, &x->node, 1, w->origin, NULL, c->cur->output[0], &idx)))
        return rc;
    if ((rc = add_param(c, idx, "weight", w, !transb))) return rc;
    if (!b) return SL_OK;
    val flat = *b;
    flat.ndim = 1;
    flat.dims[0] = flat.numel;
    return add_param(c, idx, "bias", &flat, 0);
}

/* Split (and Slice) along the channels: one slice node per output. */
static int channel_slice(ctx *c, const val *x, int64_t start, int64_t end, const char *out,
                         const char *suffix)
{
    if (start == 0 && end == x->shape.d[0]) {
        val copy = *x;
        val *v = new_val(c, out);
        if (!v) return sl_err(SL_ENOMEM, "out of memory");
        copy.name = v->name;
        *v = copy;
        return SL_OK;
    }
    sl_attrs a;
    sl_attrs_default(&a);
    a.range[0] = start;
    a.range[1] = end;
    return add_node(c, SL_OP_SLICE, &a, &x->node, 1, NULL, suffix, out, NULL);
}

static int t_split(ctx *c)
{
    val *x;
    int rc = need_dyn(c, 0, &x);
    if (rc) return rc;
    if (norm_axis(attr_i(c->cur, "axis", 0), rank(x)) != 1)
        return node_err(c, "Split is supported along the channels (axis 1) only");
    int n = (int)c->cur->n_output;
    int64_t sz[n + 1];
    val *s = input(c, 1);
    int given = c->opset >= 13 ? (s != NULL) : attr_ints(c->cur, "split", sz, n);
    if (given < 0) return node_err(c, "split has more sizes than outputs");
    if (c->opset >= 13 && s) {
        if ((rc = need_const(c, 1, "split", &s))) return rc;
        if (s->numel != n) return node_err(c, "split has %lld sizes for %d outputs", (long long)s->numel, n);
        for (int i = 0; i < n; i++) sz[i] = (int64_t)s->v[i];
    } else if (!given) {
        if (x->shape.d[0] % n) return node_err(c, "%d outputs do not divide %lld channels", n, (long long)x->shape.d[0]);
        for (int i = 0; i < n; i++) sz[i] = x->shape.d[0] / n;
    } else if (given != n) {
        return node_err(c, "split has %d sizes for %d outputs", given, n);
    }
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (sz[i] <= 0 || at + sz[i] > x->shape.d[0])
            return node_err(c, "the split sizes do not fit %lld channels", (long long)x->shape.d[0]);
        char suffix[16];
        snprintf(suffix, sizeof suffix, "%d", i);
        if (*c->cur->output[i] && (rc = channel_slice(c, x, at, at + sz[i], c->cur->output[i], suffix)))
            return rc;
        at += sz[i];
    }
    if (at != x->shape.d[0]) return node_err(c, "the split sizes sum to %lld, not %lld channels", (long long)at, (long long)x->shape.d[0]);
    return SL_OK;
}

/* The starts / ends / axes / steps of a Slice as constants (inputs since opset 10). */
static int slice_args(ctx *c, val **st, val **en, val **ax, val **sp)
{
    int rc;
    *ax = *sp = NULL;
    if ((rc = need_const(c, 1, "starts", st)) || (rc = need_const(c, 2, "ends", en))) return rc;
    if (input(c, 3) && (rc = need_const(c, 3, "axes", ax))) return rc;
    if (input(c, 4) && (rc = need_const(c, 4, "steps", sp))) return rc;
    if ((*st)->numel != (*en)->numel || (*ax && (*ax)->numel != (*st)->numel) ||
        (*sp && (*sp)->numel != (*st)->numel))
        return node_err(c, "starts, ends, axes and steps differ in length");
    return SL_OK;
}

/* Clamps a Slice bound into [0, dim] (negative from the end; huge = the end). */
static int64_t clamp_bound(double v, int64_t dim)
{
    if (v < 0) v += (double)dim;
    if (v < 0) return 0;
    return v > (double)dim ? dim : (int64_t)v;
}

static int t_slice_dyn(ctx *c, val *x)
{
    val *st, *en, *ax, *sp;
    int rc = slice_args(c, &st, &en, &ax, &sp);
    if (rc) return rc;
    int64_t start = 0, end = x->shape.d[0];
    for (int64_t i = 0; i < st->numel; i++) {
        int k = norm_axis(ax ? (int64_t)ax->v[i] : i, rank(x));
        if (sp && sp->v[i] != 1) return node_err(c, "slices with a step other than 1 are not supported");
        if (k < 0) return node_err(c, "axis out of range");
        int64_t dim = k == 0 ? 1 : x->shape.d[k - 1];
        int64_t s0 = clamp_bound(st->v[i], dim), e0 = clamp_bound(en->v[i], dim);
        if (k != 1) {
            if (s0 == 0 && e0 == dim) continue;
            return node_err(c, "Slice is supported along the channels (axis 1) only");
        }
        start = s0;
        end = e0;
    }
    if (end <= start) return node_err(c, "the slice [%lld, %lld) is empty", (long long)start, (long long)end);
    return channel_slice(c, x, start, end, c->cur->output[0], NULL);
}

static int t_pad(ctx *c)
{
    val *x, *p;
    int rc = need_dyn(c, 0, &x);
    if (rc || (rc = need_const(c, 1, "pads", &p))) return rc;
    if (!attr_str_is(c->cur, "mode", "constant", 1))
        return node_err(c, "only constant padding is supported");
    double value;
    if ((rc = scalar_input(c, 2, "constant_value", 0, &value))) return rc;
    if (input(c, 3)) return node_err(c, "the axes input is not supported");
    if (x->shape.ndim != 3 || p->numel != 8)
        return node_err(c, "padding is supported for N x C x H x W tensors");
    if (p->v[0] || p->v[1] || p->v[4] || p->v[5])
        return node_err(c, "padding the batch or channel dims is not supported");
    if (!p->v[2] && !p->v[3] && !p->v[6] && !p->v[7]) return alias(c, x);
    sl_attrs a;
    sl_attrs_default(&a);
    a.pads[0] = (int64_t)p->v[3];
    a.pads[1] = (int64_t)p->v[7];
    a.pads[2] = (int64_t)p->v[2];
    a.pads[3] = (int64_t)p->v[6];
    a.value = value;
    return add_node(c, SL_OP_PAD, &a, &x->node, 1, NULL, NULL, c->cur->output[0], NULL);
}

/* ---- constant folding: shape arithmetic that torch.onnx writes ----------------------------- */

static int out_const(ctx *c, const int64_t *dims, int ndim, int is_int, const double *v)
{
    return new_const(c, c->cur->output[0], dims, ndim, is_int, v, NULL);
}

static int fold_binary(ctx *c, const char *op)
{
    val *x, *y;
    int rc;
    if ((rc = need_const(c, 0, "A", &x)) || (rc = need_const(c, 1, "B", &y))) return rc;
    /* Same shape, or one side a single value (what shape arithmetic needs). */
    const val *big = x->numel >= y->numel ? x : y;
    if (x->numel != y->numel && x->numel != 1 && y->numel != 1)
        return node_err(c, "constant %s with broadcasting beyond a single value is not supported", op);
    double *v = malloc(sizeof *v * (size_t)(big->numel ? big->numel : 1));
    if (!v) return sl_err(SL_ENOMEM, "out of memory");
    int is_int = x->is_int && y->is_int;
    for (int64_t i = 0; i < big->numel; i++) {
        double a = x->v[x->numel == 1 ? 0 : i], b = y->v[y->numel == 1 ? 0 : i], r;
        switch (*op) {
        case 'A': r = a + b; break;
        case 'S': r = a - b; break;
        case 'M': r = a * b; break;
        default:
            if (is_int && b == 0) {
                free(v);
                return node_err(c, "integer division by zero");
            }
            r = is_int ? trunc(a / b) : a / b;
        }
        v[i] = r;
    }
    rc = out_const(c, big->dims, big->ndim, is_int, v);
    free(v);
    return rc;
}

static int fold_shape(ctx *c)
{
    val *x = input(c, 0);
    if (!x) return node_err(c, "input 1 is missing");
    int64_t d[MAX_DIMS + 1];
    int r;
    if (x->kind == V_CONST) {
        r = x->ndim;
        memcpy(d, x->dims, sizeof(int64_t) * (size_t)r);
    } else if (x->kind == V_DYN) {
        r = rank(x);
        d[0] = 1;
        for (int i = 0; i < x->shape.ndim; i++) d[i + 1] = x->shape.d[i];
    } else {
        return node_err(c, "the shape of a 5-D channel-shuffle view is not supported");
    }
    int64_t s = attr_i(c->cur, "start", 0), e = attr_i(c->cur, "end", r);
    s = clamp_bound((double)s, r);
    e = clamp_bound((double)e, r);
    double v[MAX_DIMS + 1];
    int n = 0;
    for (int64_t i = s; i < e; i++) v[n++] = (double)d[i];
    int64_t dims[1] = {n};
    return out_const(c, dims, 1, 1, v);
}

static int fold_gather(ctx *c)
{
    val *x, *ix;
    int rc;
    if ((rc = need_const(c, 0, "data", &x)) || (rc = need_const(c, 1, "indices", &ix))) return rc;
    if (x->ndim != 1 || norm_axis(attr_i(c->cur, "axis", 0), 1) != 0)
        return node_err(c, "constant Gather is supported on 1-D data only");
    double v[ix->numel + 1];
    for (int64_t i = 0; i < ix->numel; i++) {
        int64_t k = (int64_t)ix->v[i];
        if (k < 0) k += x->numel;
        if (k < 0 || k >= x->numel) return node_err(c, "index %lld is out of range", (long long)ix->v[i]);
        v[i] = x->v[k];
    }
    return out_const(c, ix->dims, ix->ndim, x->is_int, v);
}

static int fold_unsqueeze(ctx *c, int squeeze)
{
    val *x, *axv = NULL;
    int rc = need_const(c, 0, "data", &x);
    if (rc) return rc;
    int64_t ax[MAX_DIMS];
    int nax;
    if (c->opset >= 13) {
        if (input(c, 1) && (rc = need_const(c, 1, "axes", &axv))) return rc;
        nax = axv ? (int)axv->numel : 0;
        if (nax > MAX_DIMS) return node_err(c, "too many axes");
        for (int i = 0; i < nax; i++) ax[i] = (int64_t)axv->v[i];
    } else {
        nax = attr_ints(c->cur, "axes", ax, MAX_DIMS);
        if (nax < 0) return node_err(c, "too many axes");
    }
    int64_t d[MAX_DIMS];
    int nd = 0;
    if (squeeze) {
        for (int i = 0; i < x->ndim; i++) {
            int drop = nax == 0 && x->dims[i] == 1;
            for (int k = 0; k < nax; k++) drop |= norm_axis(ax[k], x->ndim) == i;
            if (!drop) d[nd++] = x->dims[i];
        }
    } else {
        int r = x->ndim + nax, src = 0;
        if (r > MAX_DIMS) return node_err(c, "too many dims");
        for (int i = 0; i < r; i++) {
            int ins = 0;
            for (int k = 0; k < nax; k++) ins |= norm_axis(ax[k], r) == i;
            d[nd++] = ins ? 1 : x->dims[src++];
        }
    }
    return out_const(c, d, nd, x->is_int, x->v);
}

static int fold_concat(ctx *c)
{
    int64_t total = 0;
    int rc;
    val *first;
    if ((rc = need_const(c, 0, "input", &first))) return rc;
    for (size_t i = 0; i < c->cur->n_input; i++) {
        val *v = NULL;
        if ((rc = need_const(c, i, "input", &v))) return rc;
        if (v->ndim != 1) return node_err(c, "constant Concat is supported on 1-D tensors only");
        total += v->numel;
    }
    double *v = malloc(sizeof *v * (size_t)(total ? total : 1));
    if (!v) return sl_err(SL_ENOMEM, "out of memory");
    int64_t at = 0;
    for (size_t i = 0; i < c->cur->n_input; i++) {
        val *x = input(c, i);
        memcpy(v + at, x->v, sizeof *v * (size_t)x->numel);
        at += x->numel;
    }
    int64_t dims[1] = {total};
    rc = out_const(c, dims, 1, first->is_int, v);
    free(v);
    return rc;
}

/* The flat offset in x of the element at start + idx * step along every axis. */
static int64_t flat_offset(const val *x, const int64_t *idx, const int64_t *st, const int64_t *sp)
{
    int64_t off = 0;
    for (int k = 0; k < x->ndim; k++) off = off * x->dims[k] + st[k] + idx[k] * sp[k];
    return off;
}

static int fold_slice(ctx *c, val *x)
{
    val *st, *en, *ax, *sp;
    int rc = slice_args(c, &st, &en, &ax, &sp);
    if (rc) return rc;
    int r = x->ndim;
    int64_t s0[MAX_DIMS], step[MAX_DIMS], cnt[MAX_DIMS], idx[MAX_DIMS] = {0};
    for (int k = 0; k < r; k++) s0[k] = 0, step[k] = 1, cnt[k] = x->dims[k];
    for (int64_t i = 0; i < st->numel; i++) {
        int k = norm_axis(ax ? (int64_t)ax->v[i] : i, r);
        if (k < 0) return node_err(c, "axis out of range");
        int64_t d = x->dims[k], stp = sp ? (int64_t)sp->v[i] : 1;
        if (stp == 0) return node_err(c, "a slice step is 0");
        double b = st->v[i], e = en->v[i];
        if (b < 0) b += (double)d;
        if (e < 0) e += (double)d;
        /* ONNX clamps starts and ends to [0, d] for positive steps, [-1, d - 1] for negative. */
        double lo = stp > 0 ? 0 : -1, hi = stp > 0 ? (double)d : (double)d - 1;
        b = b < lo ? lo : b > hi ? hi : b;
        e = e < lo ? lo : e > hi ? hi : e;
        int64_t n = stp > 0 ? ((int64_t)e - (int64_t)b + stp - 1) / stp
                            : ((int64_t)b - (int64_t)e + (-stp) - 1) / (-stp);
        s0[k] = (int64_t)b;
        step[k] = stp;
        cnt[k] = n > 0 ? n : 0;
    }
    int64_t total = dims_numel(cnt, r);
    double *v = malloc(sizeof *v * (size_t)(total ? total : 1));
    if (!v) return sl_err(SL_ENOMEM, "out of memory");
    for (int64_t i = 0; i < total; i++) {
        v[i] = x->v[flat_offset(x, idx, s0, step)];
        for (int k = r - 1; k >= 0; k--) {
            if (++idx[k] < cnt[k]) break;
            idx[k] = 0;
        }
    }
    rc = out_const(c, cnt, r, x->is_int, v);
    free(v);
    return rc;
}

static int fold_transpose(ctx *c, val *x)
{
    int r = x->ndim;
    int64_t perm[MAX_DIMS], od[MAX_DIMS], idx[MAX_DIMS] = {0};
    int n = attr_ints(c->cur, "perm", perm, MAX_DIMS);
    if (n == 0)
        for (int k = 0; k < r; k++) perm[k] = r - 1 - k;
    else if (n != r)
        return node_err(c, "perm has %d entries for %d dims", n, r);
    for (int k = 0; k < r; k++) {
        if (perm[k] < 0 || perm[k] >= r) return node_err(c, "perm entry %lld is out of range", (long long)perm[k]);
        od[k] = x->dims[perm[k]];
    }
    double *v = malloc(sizeof *v * (size_t)(x->numel ? x->numel : 1));
    if (!v) return sl_err(SL_ENOMEM, "out of memory");
    for (int64_t i = 0; i < x->numel; i++) {
        /* output index idx[] reads input index src[perm[k]] = idx[k] */
        int64_t src[MAX_DIMS], off = 0;
        for (int k = 0; k < r; k++) src[perm[k]] = idx[k];
        for (int k = 0; k < r; k++) off = off * x->dims[k] + src[k];
        v[i] = x->v[off];
        for (int k = r - 1; k >= 0; k--) {
            if (++idx[k] < od[k]) break;
            idx[k] = 0;
        }
    }
    int rc = out_const(c, od, r, x->is_int, v);
    free(v);
    return rc;
}

static int fold_constant(ctx *c)
{
    const Onnx__AttributeProto *a = attr(c->cur, "value");
    if (a && a->t) return decode_tensor(c, a->t, c->cur->output[0], NULL);
    if ((a = attr(c->cur, "value_int")) && a->has_i) {
        double v = (double)a->i;
        return out_const(c, NULL, 0, 1, &v);
    }
    if ((a = attr(c->cur, "value_float")) && a->has_f) {
        double v = a->f;
        return out_const(c, NULL, 0, 0, &v);
    }
    if ((a = attr(c->cur, "value_ints"))) {
        double v[a->n_ints + 1];
        for (size_t i = 0; i < a->n_ints; i++) v[i] = (double)a->ints[i];
        int64_t d[1] = {(int64_t)a->n_ints};
        return out_const(c, d, 1, 1, v);
    }
    if ((a = attr(c->cur, "value_floats"))) {
        double v[a->n_floats + 1];
        for (size_t i = 0; i < a->n_floats; i++) v[i] = a->floats[i];
        int64_t d[1] = {(int64_t)a->n_floats};
        return out_const(c, d, 1, 0, v);
    }
    return node_err(c, "has no value (or a kind of value that is not supported)");
}

static int fold_constant_of_shape(ctx *c)
{
    val *s;
    int rc = need_const(c, 0, "shape", &s);
    if (rc) return rc;
    if (s->numel > MAX_DIMS) return node_err(c, "too many dims");
    int64_t d[MAX_DIMS];
    for (int64_t i = 0; i < s->numel; i++) d[i] = (int64_t)s->v[i];
    double fill = 0;
    int is_int = 0;
    const Onnx__AttributeProto *a = attr(c->cur, "value");
    if (a && a->t) {
        val *t;
        if ((rc = decode_tensor(c, a->t, "value", &t))) return rc;
        fill = t->numel ? t->v[0] : 0;
        is_int = t->is_int;
        free(t->v);
        free(t);
        c->nvals--;
    }
    if ((rc = new_const(c, c->cur->output[0], d, (int)s->numel, is_int, NULL, &s))) return rc;
    for (int64_t i = 0; i < s->numel; i++) s->v[i] = fill;
    return SL_OK;
}

static int fold_cast(ctx *c, val *x)
{
    int64_t to = attr_i(c->cur, "to", 0);
    int to_int = to == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || to == ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
    if (!to_int && to != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && to != ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE)
        return node_err(c, "cast to data type %lld is not supported", (long long)to);
    if (x->kind != V_CONST) {
        if (to_int) return node_err(c, "casting a computed tensor to integers is not supported");
        return alias(c, x);
    }
    double *v = malloc(sizeof *v * (size_t)(x->numel ? x->numel : 1));
    if (!v) return sl_err(SL_ENOMEM, "out of memory");
    for (int64_t i = 0; i < x->numel; i++) v[i] = to_int ? trunc(x->v[i]) : (double)(float)x->v[i];
    int rc = out_const(c, x->dims, x->ndim, to_int, v);
    free(v);
    return rc;
}

static int fold_reshape(ctx *c)
{
    val *x, *s;
    int rc;
    if ((rc = need_const(c, 0, "data", &x)) || (rc = need_const(c, 1, "shape", &s))) return rc;
    if (s->numel > MAX_DIMS) return node_err(c, "too many dims");
    int64_t d[MAX_DIMS], known = 1;
    int minus = -1;
    for (int64_t i = 0; i < s->numel; i++) {
        d[i] = (int64_t)s->v[i];
        if (d[i] == 0) d[i] = i < x->ndim ? x->dims[i] : 0;
        if (d[i] == -1) minus = (int)i;
        else known *= d[i];
    }
    if (minus >= 0) d[minus] = known ? x->numel / known : 0;
    if (dims_numel(d, (int)s->numel) != x->numel) return node_err(c, "reshape does not keep the size");
    return out_const(c, d, (int)s->numel, x->is_int, x->v);
}

/* ---- dispatch ---------------------------------------------------------------------------------- */

static const char *const supported[] = {
    "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant",
    "ConstantOfShape", "Conv", "Div", "Dropout", "Flatten", "Gather", "Gemm",
    "GlobalAveragePool", "GlobalMaxPool", "HardSigmoid", "HardSwish", "Identity", "MatMul",
    "MaxPool", "Mul", "Pad", "ReduceMean", "Relu", "Reshape", "Shape", "Sigmoid", "Slice",
    "Softmax", "Split", "Squeeze", "Sub", "Transpose", "Unsqueeze", NULL,
};

const char *const *sl_onnx_supported_ops(void)
{
    return supported;
}

static int all_const(ctx *c)
{
    for (size_t i = 0; i < c->cur->n_input; i++) {
        val *v = input(c, i);
        if (v && v->kind != V_CONST) return 0;
    }
    return 1;
}

static int translate(ctx *c)
{
    const char *op = c->cur->op_type;
    if (c->cur->domain && *c->cur->domain && strcmp(c->cur->domain, "ai.onnx"))
        return node_err(c, "op '%s' of domain '%s' is not supported (only the default ONNX "
                           "domain is)",
                        op, c->cur->domain);
    if (c->cur->n_output < 1 || !*c->cur->output[0]) return node_err(c, "has no output");
    int konst = all_const(c) && c->cur->n_input > 0;
    val *x0 = input(c, 0);
    if (!strcmp(op, "Constant")) return fold_constant(c);
    if (!strcmp(op, "Identity") || !strcmp(op, "Dropout")) {
        if (!x0) return node_err(c, "input 1 is missing");
        int rc = only_first_output(c);
        if (rc) return rc;
        if (!strcmp(op, "Dropout") && attr_i(c->cur, "training_mode", 0))
            return node_err(c, "training_mode = 1 is not supported");
        if (!strcmp(op, "Dropout") && input(c, 2)) {
            val *t = input(c, 2);
            if (t->kind != V_CONST || (t->numel == 1 && t->v[0] != 0))
                return node_err(c, "dropout in training mode is not supported");
        }
        return alias(c, x0);
    }
    if (!strcmp(op, "Shape")) return fold_shape(c);
    if (!strcmp(op, "ConstantOfShape")) return fold_constant_of_shape(c);
    if (!strcmp(op, "Cast")) return x0 ? fold_cast(c, x0) : node_err(c, "input 1 is missing");
    if (konst) {
        if (!strcmp(op, "Add")) return fold_binary(c, "Add");
        if (!strcmp(op, "Sub")) return fold_binary(c, "Sub");
        if (!strcmp(op, "Mul")) return fold_binary(c, "Mul");
        if (!strcmp(op, "Div")) return fold_binary(c, "Div");
        if (!strcmp(op, "Gather")) return fold_gather(c);
        if (!strcmp(op, "Unsqueeze")) return fold_unsqueeze(c, 0);
        if (!strcmp(op, "Squeeze")) return fold_unsqueeze(c, 1);
        if (!strcmp(op, "Concat")) return fold_concat(c);
        if (!strcmp(op, "Slice")) return fold_slice(c, x0);
        if (!strcmp(op, "Reshape")) return fold_reshape(c);
        if (!strcmp(op, "Transpose")) return fold_transpose(c, x0);
    }
    if (!strcmp(op, "Conv")) return t_conv(c);
    if (!strcmp(op, "BatchNormalization")) return t_batchnorm(c);
    if (!strcmp(op, "Relu")) return t_unary(c, SL_OP_RELU);
    if (!strcmp(op, "Sigmoid")) return t_unary(c, SL_OP_SIGMOID);
    if (!strcmp(op, "HardSwish")) return t_unary(c, SL_OP_HARDSWISH);
    if (!strcmp(op, "HardSigmoid")) return t_hardsigmoid(c);
    if (!strcmp(op, "Clip")) return t_clip(c);
    if (!strcmp(op, "Softmax")) return t_softmax(c);
    if (!strcmp(op, "Mul")) return t_binary(c, SL_OP_MUL);
    if (!strcmp(op, "Add")) return t_binary(c, SL_OP_ADD);
    if (!strcmp(op, "Concat")) return t_concat(c);
    if (!strcmp(op, "MaxPool")) return t_pool(c, SL_OP_MAX_POOL);
    if (!strcmp(op, "AveragePool")) return t_pool(c, SL_OP_AVG_POOL);
    if (!strcmp(op, "GlobalAveragePool")) return t_global_pool(c, 0);
    if (!strcmp(op, "GlobalMaxPool")) return t_global_pool(c, 1);
    if (!strcmp(op, "ReduceMean")) return t_reduce_mean(c);
    if (!strcmp(op, "Flatten")) return t_flatten(c);
    if (!strcmp(op, "Reshape")) return t_reshape(c);
    if (!strcmp(op, "Transpose")) return t_transpose(c);
    if (!strcmp(op, "Gemm")) return t_gemm(c, 0);
    if (!strcmp(op, "MatMul")) return t_gemm(c, 1);
    if (!strcmp(op, "Split")) return t_split(c);
    if (!strcmp(op, "Pad")) return t_pad(c);
    if (!strcmp(op, "Slice")) {
        val *x;
        int rc = need_dyn(c, 0, &x);
        return rc ? rc : t_slice_dyn(c, x);
    }
    for (const char *const *s = supported; *s; s++)
        if (!strcmp(*s, op))
            return node_err(c, "this use of %s is not supported (its inputs are not of a kind the "
                               "importer translates)",
                            op);
    return node_err(c, "op '%s' is not supported; supported ops: see `sl-preprocess import "
                       "--help` or README \"Bringing your own model\"",
                    op);
}

/* ---- the graph: checks, order, input --------------------------------------------------------- */

/* Orders the ONNX nodes so each comes after the producers of its inputs (the spec requires the
 * file to be sorted; a file that is not is sorted here). Names the tensor no one produces, or
 * the nodes that form a cycle. order[] gets node indices. */
static int sort_nodes(ctx *c, const Onnx__GraphProto *gp, int *order)
{
    size_t n = gp->n_node;
    /* producer of each node's each input: index or -1 (graph input / initializer) */
    int **prod = calloc(n + 1, sizeof *prod);
    int *done = calloc(n + 1, sizeof *done);
    int rc = SL_OK;
    if (!prod || !done) {
        rc = sl_err(SL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const Onnx__NodeProto *nd = gp->node[i];
        for (size_t k = 0; k < nd->n_output; k++)
            for (size_t j = 0; j < i && *nd->output[k]; j++)
                for (size_t q = 0; q < gp->node[j]->n_output; q++)
                    if (!strcmp(gp->node[j]->output[q], nd->output[k])) {
                        rc = sl_err(SL_EFORMAT, "%s: tensor '%s' is produced by two nodes ('%s' and '%s')",
                                    c->path, nd->output[k], gp->node[j]->name, nd->name);
                        goto out;
                    }
    }
    for (size_t i = 0; i < n; i++) {
        const Onnx__NodeProto *nd = gp->node[i];
        prod[i] = calloc(nd->n_input + 1, sizeof *prod[i]);
        if (!prod[i]) {
            rc = sl_err(SL_ENOMEM, "out of memory");
            goto out;
        }
        for (size_t k = 0; k < nd->n_input; k++) {
            const char *t = nd->input[k];
            prod[i][k] = -1;
            if (!*t || find_val(c, t)) continue;
            for (size_t j = 0; j < n && prod[i][k] < 0; j++)
                for (size_t q = 0; q < gp->node[j]->n_output; q++)
                    if (!strcmp(gp->node[j]->output[q], t)) prod[i][k] = (int)j;
            if (prod[i][k] < 0) {
                rc = sl_err(SL_EFORMAT,
                            "%s: node '%s' (%s): input '%s' is not produced by any node, "
                            "initializer or graph input",
                            c->path, nd->name ? nd->name : "", nd->op_type ? nd->op_type : "?", t);
                goto out;
            }
        }
    }
    /* Kahn's algorithm, keeping the file's order among ready nodes. */
    size_t placed = 0;
    for (int progress = 1; progress && placed < n;) {
        progress = 0;
        for (size_t i = 0; i < n; i++) {
            if (done[i]) continue;
            int ready = 1;
            for (size_t k = 0; k < gp->node[i]->n_input && ready; k++)
                ready = prod[i][k] < 0 || done[prod[i][k]];
            if (!ready) continue;
            done[i] = 1;
            order[placed++] = (int)i;
            progress = 1;
        }
    }
    if (placed < n) {
        /* Follow producers from an unplaced node until one repeats: that loop is a cycle. */
        int at = 0;
        while (done[at]) at++;
        int *seen = calloc(n + 1, sizeof *seen);
        if (!seen) {
            rc = sl_err(SL_ENOMEM, "out of memory");
            goto out;
        }
        while (!seen[at]) {
            seen[at] = 1;
            const Onnx__NodeProto *nd = gp->node[at];
            for (size_t k = 0; k < nd->n_input; k++)
                if (prod[at][k] >= 0 && !done[prod[at][k]]) {
                    at = prod[at][k];
                    break;
                }
        }
        char names[512];
        size_t len = 0;
        int start = at;
        do {
            len += (size_t)snprintf(names + len, len < sizeof names ? sizeof names - len : 0,
                                    "%s'%s'", len ? " <- " : "", gp->node[at]->name);
            const Onnx__NodeProto *nd = gp->node[at];
            for (size_t k = 0; k < nd->n_input; k++)
                if (prod[at][k] >= 0 && !done[prod[at][k]] && seen[prod[at][k]]) {
                    at = prod[at][k];
                    break;
                }
        } while (at != start && len < sizeof names);
        free(seen);
        rc = sl_err(SL_EFORMAT, "%s: the graph has a cycle: nodes %s <- '%s'", c->path, names,
                    gp->node[start]->name);
    }
out:
    for (size_t i = 0; prod && i < n; i++) free(prod[i]);
    free(prod);
    free(done);
    return rc;
}

/* The one image input: the graph input that is not an initializer. */
static int read_input(ctx *c, const Onnx__GraphProto *gp, const sl_onnx_opts *o)
{
    const Onnx__ValueInfoProto *in = NULL;
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *v = gp->input[i];
        int init = 0;
        for (size_t k = 0; k < gp->n_initializer && !init; k++)
            init = gp->initializer[k]->name && !strcmp(gp->initializer[k]->name, v->name);
        if (init) continue;
        if (in)
            return sl_err(SL_EFORMAT, "%s: the graph has several inputs ('%s', '%s'); one image "
                                      "input is supported",
                          c->path, in->name, v->name);
        in = v;
    }
    if (!in) return sl_err(SL_EFORMAT, "%s: the graph has no input", c->path);
    const Onnx__TypeProto *tp = in->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type->shape)
        return sl_err(SL_EFORMAT, "%s: input '%s' is not a tensor with a shape", c->path, in->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (tt->has_elem_type && tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return sl_err(SL_EFORMAT, "%s: input '%s' has data type %d; float32 is supported",
                      c->path, in->name, tt->elem_type);
    const Onnx__TensorShapeProto *sp = tt->shape;
    if (sp->n_dim != 4)
        return sl_err(SL_EFORMAT, "%s: input '%s' has %zu dims; an N x C x H x W image is supported",
                      c->path, in->name, sp->n_dim);
    int64_t d[4];
    const int64_t want[4] = {1, o ? o->c : 0, o ? o->h : 0, o ? o->w : 0};
    for (int i = 0; i < 4; i++) {
        const Onnx__TensorShapeProto__Dimension *dm = sp->dim[i];
        int fixed = dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d[i] = fixed ? dm->dim_value : want[i];
        if (fixed && want[i] && i > 0 && dm->dim_value != want[i])
            return sl_err(SL_EFORMAT, "%s: input '%s' has dim %d = %lld, not the %lld asked for",
                          c->path, in->name, i, (long long)dm->dim_value, (long long)want[i]);
        if (d[i] <= 0)
            return sl_err(SL_EFORMAT, "%s: input '%s' dim %d is symbolic; give the size with "
                                      "--input CxHxW",
                          c->path, in->name, i);
    }
    if (d[0] != 1)
        return sl_err(SL_EFORMAT, "%s: input '%s' has batch %lld; export with batch 1 (or a "
                                  "dynamic batch)",
                      c->path, in->name, (long long)d[0]);
    clean_name(c->input_name, sizeof c->input_name, in->name);
    if (!*c->input_name) snprintf(c->input_name, sizeof c->input_name, "image");
    c->input_shape = (sl_shape){3, {d[1], d[2], d[3], 0}};
    return new_dyn(c, in->name, -1, &c->input_shape);
}

/* Builds the sl_graph from the live IR nodes (those the outputs need). */
static int emit_graph(ctx *c, const Onnx__GraphProto *gp, const char *name, sl_graph **out)
{
    int rc = SL_OK;
    char *live = calloc((size_t)c->nnodes + 1, 1);
    if (!live) return sl_err(SL_ENOMEM, "out of memory");
    int *outs = calloc(gp->n_output + 1, sizeof *outs);
    if (!outs) {
        free(live);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < gp->n_output; i++) {
        val *v = find_val(c, gp->output[i]->name);
        if (!v) {
            rc = sl_err(SL_EFORMAT, "%s: graph output '%s' is not produced by any node", c->path,
                        gp->output[i]->name);
            goto done;
        }
        if (v->kind != V_DYN || v->node < 0) {
            rc = sl_err(SL_EFORMAT, "%s: graph output '%s' is %s", c->path, gp->output[i]->name,
                        v->kind == V_CONST ? "a constant" : v->node < 0 ? "the input itself" : "a 5-D view");
            goto done;
        }
        outs[i] = v->node;
        live[v->node] = 1;
    }
    if (!gp->n_output) {
        rc = sl_err(SL_EFORMAT, "%s: the graph has no outputs", c->path);
        goto done;
    }
    for (int i = c->nnodes - 1; i >= 0; i--)
        if (live[i])
            for (int k = 0; k < c->nodes[i].nin; k++)
                if (node_inputs(&c->nodes[i])[k] >= 0) live[node_inputs(&c->nodes[i])[k]] = 1;
    sl_graph *g = sl_graph_new(name);
    if (!g || sl_graph_set_input(g, c->input_name, c->input_shape.d[0], c->input_shape.d[1],
                                 c->input_shape.d[2], NULL, NULL)) {
        sl_graph_free(g);
        rc = sl_err(SL_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < c->nnodes && !rc; i++) {
        if (!live[i]) continue;
        inode *n = &c->nodes[i];
        const char *ins[n->nin + 1];
        for (int k = 0; k < n->nin; k++) {
            int j = node_inputs(n)[k];
            ins[k] = j < 0 ? c->input_name : c->nodes[j].name;
        }
        sl_node *gn = sl_graph_add(g, n->name, n->op, ins, n->nin, &n->a);
        if (!gn) {
            rc = sl_err(SL_ENOMEM, "out of memory");
            break;
        }
        for (int k = 0; k < n->np && !rc; k++) {
            sl_param *p = &gn->params[gn->nparams];
            memset(p, 0, sizeof *p);
            snprintf(p->name, sizeof p->name, "%s", n->p[k].name);
            if (sl_tensor_from_buffer(n->p[k].data, n->p[k].dims, n->p[k].ndim, SL_DT_F32, &p->t))
                rc = sl_err(SL_ETORCH, "node '%s': %s", n->name, sl_torch_last_error());
            else
                gn->nparams++;
        }
    }
    for (size_t i = 0; i < gp->n_output && !rc; i++) {
        int dup = 0;
        for (size_t k = 0; k < i; k++) dup |= outs[k] == outs[i];
        if (!dup) rc = sl_graph_add_output(g, c->nodes[outs[i]].name);
    }
    if (!rc && (rc = sl_graph_validate(g, 1)))
        rc = sl_err(rc, "%s: the translated graph does not check: %s", c->path, sl_errmsg());
    if (rc) sl_graph_free(g);
    else *out = g;
done:
    free(live);
    free(outs);
    return rc;
}

static void ctx_free(ctx *c)
{
    for (int i = 0; i < c->nvals; i++) {
        free(c->vals[i]->v);
        free(c->vals[i]);
    }
    free(c->vals);
    for (int i = 0; i < c->nnodes; i++) {
        free(c->nodes[i].ins);
        for (int k = 0; k < c->nodes[i].np; k++) free(c->nodes[i].p[k].data);
    }
    free(c->nodes);
}

int sl_onnx_import(const char *path, const sl_onnx_opts *o, sl_graph **out)
{
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    int rc = sl_read_file(path, &buf, &len);
    if (rc) return rc;
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, (const uint8_t *)buf);
    free(buf);
    if (!m)
        return sl_err(SL_EFORMAT, "%s: not an ONNX model (the protobuf does not parse: truncated "
                                  "or not ONNX)",
                      path);
    ctx c = {.path = path};
    const Onnx__GraphProto *gp = m->graph;
    if (!gp) {
        rc = sl_err(SL_EFORMAT, "%s: the model has no graph", path);
        goto done;
    }
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *os = m->opset_import[i];
        if (!os->domain || !*os->domain || !strcmp(os->domain, "ai.onnx")) c.opset = (int)os->version;
    }
    if (c.opset < OPSET_MIN || c.opset > OPSET_MAX) {
        rc = sl_err(SL_EFORMAT, "%s: opset %d is not supported (opsets %d to %d are; re-export with "
                                "opset_version=%d)",
                    path, c.opset, OPSET_MIN, OPSET_MAX, OPSET_MAX);
        goto done;
    }
    for (size_t i = 0; i < gp->n_initializer && !rc; i++) {
        const Onnx__TensorProto *t = gp->initializer[i];
        if (!t->name || !*t->name) rc = sl_err(SL_EFORMAT, "%s: initializer %zu has no name", path, i);
        else rc = decode_tensor(&c, t, t->name, NULL);
    }
    if (rc || (rc = read_input(&c, gp, o))) goto done;
    int *order = calloc(gp->n_node + 1, sizeof *order);
    if (!order) {
        rc = sl_err(SL_ENOMEM, "out of memory");
        goto done;
    }
    rc = sort_nodes(&c, gp, order);
    for (size_t i = 0; i < gp->n_node && !rc; i++) {
        c.cur = gp->node[order[i]];
        snprintf(c.curname, sizeof c.curname, "%s",
                 c.cur->name && *c.cur->name ? c.cur->name
                 : c.cur->n_output              ? c.cur->output[0]
                                                : "?");
        rc = translate(&c);
    }
    free(order);
    if (rc) goto done;
    /* The graph is named after the file: "models/my_net.onnx" -> "my_net". */
    char name[SL_NAME_MAX];
    const char *base = strrchr(path, '/');
    snprintf(name, sizeof name, "%s", base ? base + 1 : path);
    char *dot = strrchr(name, '.');
    if (dot && dot != name) *dot = 0;
    rc = emit_graph(&c, gp, name, out);
done:
    ctx_free(&c);
    onnx__model_proto__free_unpacked(m, NULL);
    return rc;
}
