/* bundle.c: HDF5 bundle reading and writing, the checked open, and state_dict import. */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np (glibc 2.34) */
#include "model/bundle.h"
#include "common/fsutil.h"
#include "common/status.h"
#include "h5/h5.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CREATED_BY "scissionlite " SL_VERSION_STR
#ifdef SL_VERSION
#define SL_VERSION_STR SL_VERSION
#else
#define SL_VERSION_STR "0"
#endif

sl_bundle *sl_bundle_new(sl_graph *g)
{
    sl_bundle *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->graph = g;
    strcpy(b->role, "model");
    snprintf(b->created_by, sizeof b->created_by, "%s", CREATED_BY);
    return b;
}

void sl_bundle_free(sl_bundle *b)
{
    if (!b) return;
    sl_graph_free(b->graph);
    free(b->wire_json);
    free(b->wire);
    free(b->metrics_json);
    free(b->train_state_json);
    for (int i = 0; i < b->nextra; i++) {
        free(b->extra_names[i]);
        sl_tensor_free(b->extra[i]);
    }
    free(b->extra_names);
    free(b->extra);
    free(b);
}

int sl_bundle_set_json(char **field, const char *json)
{
    char *c = json ? strdup(json) : NULL;
    if (json && !c) return sl_err(SL_ENOMEM, "out of memory");
    free(*field);
    *field = c;
    return SL_OK;
}

int sl_bundle_set_extra(sl_bundle *b, const char *name, const sl_tensor *t)
{
    sl_tensor *c;
    if (sl_tensor_clone(t, &c)) return sl_err(SL_ETORCH, "extra '%s': %s", name, sl_torch_last_error());
    for (int i = 0; i < b->nextra; i++)
        if (!strcmp(b->extra_names[i], name)) {
            sl_tensor_free(b->extra[i]);
            b->extra[i] = c;
            return SL_OK;
        }
    char **nn = realloc(b->extra_names, (size_t)(b->nextra + 1) * sizeof *nn);
    if (nn) b->extra_names = nn;
    sl_tensor **nt = nn ? realloc(b->extra, (size_t)(b->nextra + 1) * sizeof *nt) : NULL;
    if (nt) b->extra = nt;
    char *nm = nt ? strdup(name) : NULL;
    if (!nm) {
        sl_tensor_free(c);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    b->extra_names[b->nextra] = nm;
    b->extra[b->nextra++] = c;
    return SL_OK;
}

sl_tensor *sl_bundle_extra(const sl_bundle *b, const char *name)
{
    for (int i = 0; i < b->nextra; i++)
        if (!strcmp(b->extra_names[i], name)) return b->extra[i];
    return NULL;
}

/* ---- tensors ----------------------------------------------------------------------------- */

/* Writes t as a float32 dataset with a Fletcher32 checksum. */
static int write_tensor(sl_h5_id loc, const char *name, const sl_tensor *t, unsigned flags)
{
    sl_tensor *f = NULL;
    int64_t shape[SL_MAX_DIMS];
    int nd;
    void *data;
    if (sl_tensor_to_dtype(t, SL_DT_F32, &f) || sl_tensor_shape(f, shape, SL_MAX_DIMS, &nd) ||
        sl_tensor_data_ptr(f, &data)) {
        sl_tensor_free(f);
        return sl_err(SL_ETORCH, "'%s': %s", name, sl_torch_last_error());
    }
    int rc = sl_h5_write(loc, name, SL_H5_F32, nd, shape, data, flags | SL_H5_CHECKSUM);
    sl_tensor_free(f);
    return rc;
}

/* Reads dataset `name` (any numeric type, converted) into a new float32 tensor of the shape it
 * declares, which must already have been checked against what is expected. */
static int read_tensor(sl_h5_id loc, const char *name, const sl_h5_info *in, sl_tensor **out)
{
    *out = NULL;
    int64_t numel = 1;
    for (int i = 0; i < in->ndim; i++)
        numel *= in->dims[i];
    void *data;
    if (sl_tensor_empty(in->dims, in->ndim, SL_DT_F32, out) || sl_tensor_data_ptr(*out, &data)) {
        sl_tensor_free(*out);
        *out = NULL;
        return sl_err(SL_ETORCH, "dataset '%s': %s", name, sl_torch_last_error());
    }
    int rc = sl_h5_read(loc, name, SL_H5_F32, data, numel);
    if (rc) {
        sl_tensor_free(*out);
        *out = NULL;
    }
    return rc;
}

/* SL_EFORMAT naming the dataset when one of the numel values at v is NaN or infinite. */
static int check_finite_values(const float *v, int64_t numel, const char *what)
{
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < numel; i++)
        if (!isfinite(v[i]) && bad++ == 0) first = i;
    if (!bad) return SL_OK;
    return sl_err(SL_EFORMAT, "%s: %lld of %lld values are not finite (NaN or infinity; first at "
                              "element %lld): corrupt or diverged weights",
                  what, (long long)bad, (long long)numel, (long long)first);
}

/* check_finite_values on a float32 contiguous tensor. */
static int check_finite(const sl_tensor *t, const char *what)
{
    void *data;
    if (sl_tensor_data_ptr(t, &data)) return SL_OK;
    return check_finite_values(data, sl_tensor_numel(t), what);
}

/* What read_tensor reads, into scratch memory freed before returning, without the model runtime
 * (sl_bundle_check): the same HDF5 reads, checksums and conversion; with `finite`, every value
 * must be finite too. */
static int check_values(sl_h5_id loc, const char *name, const sl_h5_info *in, int finite)
{
    int64_t numel = 1;
    for (int i = 0; i < in->ndim; i++)
        numel *= in->dims[i];
    float *v = malloc(numel ? (size_t)numel * sizeof *v : 1);
    if (!v)
        return sl_err(SL_ENOMEM, "dataset '%s': out of memory for %lld values", name,
                      (long long)numel);
    int rc = sl_h5_read(loc, name, SL_H5_F32, v, numel);
    if (!rc && finite) rc = check_finite_values(v, numel, name);
    free(v);
    return rc;
}

int64_t sl_bundle_max_weight_bytes(void)
{
    const char *e = getenv("SL_MAX_WEIGHT_BYTES");
    if (e && *e) {
        char *end;
        errno = 0;
        long long v = strtoll(e, &end, 10);
        if (!errno && !*end && v > 0) return (int64_t)v;
    }
    return SL_BUNDLE_MAX_WEIGHT_BYTES;
}

/* ---- write -------------------------------------------------------------------------------- */

static int write_body(sl_h5_id f, const sl_bundle *b)
{
    int rc;
    if ((rc = sl_h5_attr_write_str(f, "format", SL_BUNDLE_FORMAT))) return rc;
    if ((rc = sl_h5_attr_write_int(f, "format_version", SL_BUNDLE_VERSION))) return rc;
    if ((rc = sl_h5_attr_write_str(f, "role", b->role))) return rc;
    if ((rc = sl_h5_attr_write_str(f, "created_by", b->created_by[0] ? b->created_by : CREATED_BY)))
        return rc;
    if (b->pair_id[0] && (rc = sl_h5_attr_write_str(f, "pair_id", b->pair_id))) return rc;
    char *json;
    if ((rc = sl_graph_to_json(b->graph, &json))) return rc;
    rc = sl_h5_str_write(f, "model_config", json);
    free(json);
    if (rc) return rc;
    const sl_graph *g = b->graph;
    sl_h5_id w;
    if ((rc = sl_h5_group_create(f, "model_weights", &w))) return rc;
    for (int i = 0; i < g->nnodes && !rc; i++) {
        const sl_node *n = &g->nodes[i];
        if (!n->nparams) continue;
        sl_h5_id ng;
        if ((rc = sl_h5_group_create(w, n->name, &ng))) break;
        for (int j = 0; j < n->nparams && !rc; j++) {
            if (!n->params[j].t)
                rc = sl_err(SL_EARG, "node '%s': parameter '%s' has no values", n->name,
                            n->params[j].name);
            else
                rc = write_tensor(ng, n->params[j].name, n->params[j].t, 0);
        }
        sl_h5_close(ng);
    }
    sl_h5_close(w);
    if (rc) return rc;
    if (g->nclasses &&
        (rc = sl_h5_strs_write(f, "labels", (const char *const *)g->classes, g->nclasses, 0)))
        return rc;
    if (b->wire_json && (rc = sl_h5_str_write(f, "wire", b->wire_json))) return rc;
    if (b->metrics_json && (rc = sl_h5_str_write(f, "metrics", b->metrics_json))) return rc;
    if (b->train_state_json && (rc = sl_h5_str_write(f, "train_state", b->train_state_json)))
        return rc;
    if (b->nextra) {
        sl_h5_id x;
        if ((rc = sl_h5_group_create(f, "extra", &x))) return rc;
        /* Intermediate groups let extra names hold '/' (e.g. "optim/conv1.weight/exp_avg"). */
        for (int i = 0; i < b->nextra && !rc; i++)
            rc = write_tensor(x, b->extra_names[i], b->extra[i], SL_H5_PARENTS);
        sl_h5_close(x);
    }
    return rc;
}

int sl_bundle_write(const char *path, const sl_bundle *b)
{
    if (!b->graph || !b->graph->validated)
        return sl_err(SL_EARG, "%s: the bundle has no validated graph", path);
    char tmp[4096];
    int rc = sl_tmp_path_for(path, tmp, sizeof tmp);
    if (rc) return rc;
    sl_h5_id f;
    if (sl_h5_create(tmp, &f)) return sl_err(SL_EIO, "%s: cannot create file", path);
    rc = write_body(f, b);
    if (sl_h5_close(f) && !rc) rc = sl_err(SL_EIO, "cannot finish writing");
    if (rc) {
        unlink(tmp);
        return sl_err_ctx(rc, "%s: ", path);
    }
    return sl_commit_tmp(tmp, path);
}

/* ---- read --------------------------------------------------------------------------------- */

/* How much of a bundle read_body reads: the structure only (attributes, graph, declared shapes),
 * everything into the bundle, or everything into scratch memory (a check, no model runtime). */
enum read_mode { READ_STRUCTURE = 0, READ_ALL = 1, READ_CHECK = 2 };

struct extra_walk {
    sl_bundle *b;
    int64_t bytes; /* declared so far */
    int64_t limit;
    int read;      /* READ_STRUCTURE: sizes only; READ_ALL: read; READ_CHECK: read, discard */
};

/* libhdf5 1.10.8 copies elements of the declared size out of a buffer holding 4-byte ones (an
 * out-of-bounds read the fuzzer found, tests/model/fuzz_found/hdf5-float-size-overread.h5): a
 * number is 1 to 8 bytes. Checked on every dataset of weights (model_weights/, extra/) from its
 * header, before any value is read (h5/'s numeric reads check it again). SL_EFORMAT naming
 * group/name. */
static int check_number_size(const char *group, const char *name, const sl_h5_info *in)
{
    if (!in->numeric || (in->elem_size >= 1 && in->elem_size <= 8)) return SL_OK;
    return sl_err(SL_EFORMAT, "%s/%s declares %zu-byte numbers (1 to 8 are read)", group, name,
                  in->elem_size);
}

static int extra_visit(sl_h5_id loc, const char *name, void *arg)
{
    struct extra_walk *w = arg;
    sl_h5_info in;
    int rc = sl_h5_info_get(loc, name, &in);
    if (rc) return sl_err_ctx(rc, "extra/");
    if (!in.numeric || in.ndim > SL_MAX_DIMS)
        return sl_err(SL_EFORMAT, "extra/%s: not a numeric array of at most %d dimensions", name,
                      SL_MAX_DIMS);
    if ((rc = check_number_size("extra", name, &in))) return rc;
    if (!w->read) {
        int64_t n = 4;
        for (int i = 0; i < in.ndim; i++)
            n = in.dims[i] && n > w->limit / in.dims[i] ? w->limit + 1 : n * in.dims[i];
        w->bytes = n > w->limit - w->bytes ? w->limit + 1 : w->bytes + n;
        return w->bytes > w->limit ? sl_err(SL_EARG, "extra/%s takes the declared weights over the "
                                                     "limit of %lld bytes",
                                            name, (long long)w->limit)
                                   : SL_OK;
    }
    if (w->read == READ_CHECK) {
        rc = check_values(loc, name, &in, 0);
        return rc ? sl_err_ctx(rc, "extra/") : SL_OK;
    }
    sl_tensor *t;
    if ((rc = read_tensor(loc, name, &in, &t))) return sl_err_ctx(rc, "extra/");
    rc = sl_bundle_set_extra(w->b, name, t);
    sl_tensor_free(t);
    return rc;
}

static const char *const roles[] = {"model", "checkpoint", "device", "edge", NULL};

static int is_pair_hex(const char *s)
{
    if (strlen(s) != 32) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
    return 1;
}

/* The root attributes: format, version, role, created_by, pair_id — each exactly. */
static int read_header(sl_h5_id f, sl_bundle *b)
{
    char *s = NULL;
    int rc = sl_h5_attr_read_str(f, "format", &s);
    /* Present but unreadable (a damaged or odd type): h5/ has said why; keep its reason. */
    if (rc && sl_h5_attr_exists(f, "format") == 1)
        return sl_err_ctx(rc, "not a ScissionLite bundle: root attribute 'format': ");
    if (rc || strcmp(s, SL_BUNDLE_FORMAT)) {
        free(s);
        return sl_err(SL_EFORMAT, "not a ScissionLite bundle (root attribute 'format' is not \"%s\")",
                      SL_BUNDLE_FORMAT);
    }
    free(s);
    int version = 0;
    if (sl_h5_attr_read_int(f, "format_version", &version)) version = 0;
    if (version < 1 || version > SL_BUNDLE_VERSION)
        return sl_err(SL_EFORMAT, "bundle format_version %d is not supported (this build reads 1..%d)",
                      version, SL_BUNDLE_VERSION);
    if ((rc = sl_h5_attr_read_str(f, "role", &s))) return rc;
    int known = 0;
    for (int i = 0; roles[i]; i++)
        known |= !strcmp(s, roles[i]);
    if (!known) {
        rc = sl_err(SL_EFORMAT, "role '%.40s%s' is not one of model, checkpoint, device, edge", s,
                    strlen(s) > 40 ? "..." : "");
        free(s);
        return rc;
    }
    snprintf(b->role, sizeof b->role, "%s", s);
    free(s);
    if (sl_h5_attr_read_str(f, "created_by", &s) == SL_OK) {
        snprintf(b->created_by, sizeof b->created_by, "%s", s);
        free(s);
    }
    rc = sl_h5_attr_read_str(f, "pair_id", &s);
    if (rc == SL_OK) {
        /* Exactly: a longer id must not be cut to one that pairs with something else. */
        if (!is_pair_hex(s)) {
            rc = sl_err(SL_EFORMAT, "pair_id '%.40s%s' (%zu characters) is not 32 lowercase hex "
                                    "digits",
                        s, strlen(s) > 40 ? "..." : "", strlen(s));
            free(s);
            return rc;
        }
        memcpy(b->pair_id, s, 33);
        free(s);
    } else if (rc != SL_ENOTFOUND) {
        return rc;
    }
    return SL_OK;
}

/* Before any weight is read: every parameter's dataset exists and declares the graph's shape and
 * numbers of 1 to 8 bytes, /extra's datasets too, and the declared total (with /extra) fits the
 * limit. */
static int check_declared(sl_h5_id w, sl_h5_id f, const sl_graph *g, int64_t limit)
{
    int64_t total = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const sl_node *n = &g->nodes[i];
        for (int j = 0; j < n->nparams; j++) {
            int64_t numel = sl_shape_numel(&n->params[j].shape);
            int64_t bytes = numel > limit / 4 ? limit + 1 : numel * 4;
            total = bytes > limit - total ? limit + 1 : total + bytes;
        }
    }
    if (total > limit)
        return sl_err(SL_EARG, "the graph declares more than %lld bytes of weights (the limit; "
                               "SL_MAX_WEIGHT_BYTES raises it)",
                      (long long)limit);
    for (int i = 0; i < g->nnodes; i++) {
        const sl_node *n = &g->nodes[i];
        for (int j = 0; j < n->nparams; j++) {
            const sl_param *p = &n->params[j];
            char path[SL_NAME_MAX + 64];
            snprintf(path, sizeof path, "%s/%s", n->name, p->name);
            sl_h5_info in;
            if (w < 0 || !sl_h5_exists(w, path))
                return sl_err(SL_EFORMAT, "model_weights/%s is missing", path);
            int rc = sl_h5_info_get(w, path, &in);
            if (rc) return rc;
            if ((rc = check_number_size("model_weights", path, &in))) return rc;
            int ok = in.numeric && in.ndim == p->shape.ndim;
            for (int k = 0; ok && k < in.ndim; k++)
                ok = in.dims[k] == p->shape.d[k];
            if (!ok) {
                char got[128] = "", want[96] = "";
                size_t a = 0, c = 0;
                for (int k = 0; k < in.ndim && a < sizeof got; k++)
                    a += (size_t)snprintf(got + a, sizeof got - a, "%s%lld", k ? "x" : "",
                                          (long long)in.dims[k]);
                for (int k = 0; k < p->shape.ndim && c < sizeof want; k++)
                    c += (size_t)snprintf(want + c, sizeof want - c, "%s%lld", k ? "x" : "",
                                          (long long)p->shape.d[k]);
                return sl_err(SL_EFORMAT, "model_weights/%s declares %s %s, the graph expects %s",
                              path, in.numeric ? "shape" : "a non-numeric", in.ndim ? got : "scalar",
                              want);
            }
        }
    }
    if (sl_h5_exists(f, "extra")) {
        sl_h5_id x;
        int rc = sl_h5_group_open(f, "extra", &x);
        struct extra_walk wk = {NULL, total, limit, 0};
        if (!rc) rc = sl_h5_visit(x, 1, extra_visit, &wk);
        sl_h5_close(x);
        if (rc) return rc;
    }
    return SL_OK;
}

/* The role fits the content: slices carry a pair id and a wire description that fits the graph;
 * whole models have no placeholder (an edge half relabelled "model" would fail every request). */
static int check_role(sl_bundle *b)
{
    const sl_graph *g = b->graph;
    if (!strcmp(b->role, "device") || !strcmp(b->role, "edge")) {
        if (!b->pair_id[0])
            return sl_err(SL_EFORMAT, "%s %s half has no pair_id attribute",
                          b->role[0] == 'e' ? "an" : "a", b->role);
        if (!b->wire_json)
            return sl_err(SL_EFORMAT, "%s %s half has no /wire description",
                          b->role[0] == 'e' ? "an" : "a", b->role);
        if (!(b->wire = malloc(sizeof *b->wire))) return sl_err(SL_ENOMEM, "out of memory");
        int rc = sl_wire_desc_parse(b->wire_json, b->wire);
        if (!rc) rc = sl_wire_desc_check(b->wire, g, b->role);
        return rc;
    }
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == SL_OP_PLACEHOLDER)
            return sl_err(SL_EFORMAT, "role is '%s' but node '%s' is a placeholder: an edge half "
                                      "must say role 'edge'",
                          b->role, g->nodes[i].name);
    return SL_OK;
}

/* READ_STRUCTURE: the parameters' datasets are checked (check_declared) but not read. */
static int read_body(sl_h5_id f, sl_bundle *b, enum read_mode mode)
{
    char *s = NULL;
    int rc = read_header(f, b);
    if (rc) return rc;
    if ((rc = sl_h5_str_read(f, "model_config", &s))) return rc;
    rc = sl_graph_from_json(s, &b->graph);
    free(s);
    if (rc) return sl_err_ctx(rc, "model_config: ");
    sl_graph *g = b->graph;
    sl_h5_id w = -1;
    if (sl_h5_exists(f, "model_weights") && (rc = sl_h5_group_open(f, "model_weights", &w)))
        return rc;
    rc = check_declared(w, f, g, sl_bundle_max_weight_bytes());
    for (int i = 0; i < g->nnodes && !rc && mode != READ_STRUCTURE; i++) {
        sl_node *n = &g->nodes[i];
        for (int j = 0; j < n->nparams && !rc; j++) {
            char path[SL_NAME_MAX + 64];
            snprintf(path, sizeof path, "model_weights/%s/%s", n->name, n->params[j].name);
            sl_h5_info in = {.ndim = n->params[j].shape.ndim};
            memcpy(in.dims, n->params[j].shape.d, sizeof(int64_t) * (size_t)in.ndim);
            if (mode == READ_CHECK) {
                rc = check_values(f, path, &in, 1);
                continue;
            }
            rc = read_tensor(f, path, &in, &n->params[j].t);
            if (!rc) rc = check_finite(n->params[j].t, path);
        }
    }
    sl_h5_close(w);
    if (rc) return rc;
    if ((rc = sl_graph_validate(g, mode == READ_ALL))) return rc;
    if ((rc = sl_h5_str_read(f, "wire", &b->wire_json)) && rc != SL_ENOTFOUND) return rc;
    if ((rc = sl_h5_str_read(f, "metrics", &b->metrics_json)) && rc != SL_ENOTFOUND) return rc;
    if ((rc = sl_h5_str_read(f, "train_state", &b->train_state_json)) && rc != SL_ENOTFOUND)
        return rc;
    if ((rc = check_role(b))) return rc;
    if (mode != READ_STRUCTURE && sl_h5_exists(f, "extra")) {
        sl_h5_id x;
        struct extra_walk wk = {b, 0, 0, mode};
        if (!(rc = sl_h5_group_open(f, "extra", &x))) rc = sl_h5_visit(x, 1, extra_visit, &wk);
        sl_h5_close(x);
    }
    return rc;
}

static int read_file(sl_h5_id f, const char *name, enum read_mode mode, sl_bundle **out)
{
    sl_bundle *b = sl_bundle_new(NULL);
    int rc = b ? read_body(f, b, mode) : sl_err(SL_ENOMEM, "out of memory");
    sl_h5_close(f);
    if (rc) {
        sl_bundle_free(b);
        return sl_err_ctx(rc, "%s: ", name);
    }
    *out = b;
    return SL_OK;
}

int sl_bundle_read(const char *path, sl_bundle **out)
{
    *out = NULL;
    sl_h5_id f;
    int rc = sl_h5_open(path, &f);
    return rc ? rc : read_file(f, path, READ_ALL, out);
}

int sl_bundle_read_structure(const char *path, sl_bundle **out)
{
    *out = NULL;
    sl_h5_id f;
    int rc = sl_bundle_check_isolated(path, path, 0, 0);
    if (!rc) rc = sl_h5_open(path, &f);
    return rc ? rc : read_file(f, path, READ_STRUCTURE, out);
}

int sl_bundle_read_image(const void *buf, size_t len, const char *name, sl_bundle **out)
{
    *out = NULL;
    sl_h5_id f;
    int rc = sl_h5_open_image(buf, len, name, &f);
    return rc ? rc : read_file(f, name, READ_ALL, out);
}

/* ---- the checked open: HDF5 in a child process with a deadline ------------------------------ */

/* How the child is started: our own program again (/proc/self/exe), with CHECK_ENV naming the
 * file and CHECK_ARGS_ENV "<flags> <seconds> <parent pid> <name>"; check_child below runs
 * before main(). */
#define CHECK_ENV "SL_BUNDLE_CHECK_CHILD"
#define CHECK_ARGS_ENV "SL_BUNDLE_CHECK_CHILD_ARGS"

/* The check of an open file f (closed here). */
static int check_file(sl_h5_id f, const char *name, unsigned flags)
{
    sl_bundle *b = NULL;
    enum read_mode mode = (flags & SL_BUNDLE_CHECK_WEIGHTS) ? READ_CHECK : READ_STRUCTURE;
    int rc = read_file(f, name, mode, &b);
    sl_bundle_free(b);
    return rc;
}

int sl_bundle_check(const char *path, const char *name, unsigned flags)
{
    if ((flags & SL_BUNDLE_CHECK_HDF5_ONLY) && !sl_h5_is_hdf5(path)) return SL_OK;
    sl_h5_id f;
    int rc = sl_h5_open(path, &f);
    if (rc && strcmp(name, path) != 0) /* the message names path: say `name` instead */
        return sl_err(rc, "%s: %s", name,
                      rc == SL_EIO ? "cannot be read" : "not HDF5, or corrupt or truncated");
    return rc ? rc : check_file(f, name, flags);
}

int sl_bundle_check_image(const void *buf, size_t len, const char *name, unsigned flags)
{
    sl_h5_id f;
    int rc = sl_h5_open_image(buf, len, name, &f);
    return rc ? rc : check_file(f, name, flags);
}

double sl_bundle_check_seconds(uint64_t bytes)
{
    double base = SL_BUNDLE_CHECK_SECONDS;
    const char *e = getenv("SL_BUNDLE_CHECK_SECONDS");
    if (e && *e) {
        char *end;
        double v = strtod(e, &end);
        if (!*end && v > 0 && v <= 86400) base = v;
    }
    return base + (double)bytes / SL_BUNDLE_CHECK_BYTES_PER_SECOND;
}

/* The child: it runs before main() when CHECK_ENV is set, so before any thread or the model
 * runtime exists; it reports the error text on stderr (a pipe to the parent) and exits with the
 * negated status. It dies with the thread that started it, and at an alarm past the deadline. */
__attribute__((constructor)) static void check_child(void)
{
    const char *path = getenv(CHECK_ENV), *args = getenv(CHECK_ARGS_ENV);
    if (!path) return;
    unsigned flags = 0;
    double seconds = 0;
    long parent = 0;
    int used = 0;
    if (!args || sscanf(args, "%u %lf %ld %n", &flags, &seconds, &parent, &used) < 3 ||
        !args[used]) {
        fprintf(stderr, "%s is set without valid %s\n", CHECK_ENV, CHECK_ARGS_ENV);
        _exit(-SL_EARG);
    }
    /* Killed with the thread that started it (that thread waits for it), else at the alarm. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if ((long)getppid() != parent) _exit(-SL_EIO);
    alarm((unsigned)seconds + 5);
    int rc = sl_bundle_check(path, args + used, flags);
    if (rc) fputs(sl_errmsg(), stderr);
    _exit(rc ? -rc : 0);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The environment of the child: ours, with CHECK_ENV and CHECK_ARGS_ENV set (any old ones
 * dropped). A new array of borrowed strings but for the two new ones at [0] and [1]. */
extern char **environ;
static char **child_env(const char *path, const char *args)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 3, sizeof *env);
    if (!env) return NULL;
    size_t k = 2;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], CHECK_ENV "=", strlen(CHECK_ENV) + 1) &&
            strncmp(environ[i], CHECK_ARGS_ENV "=", strlen(CHECK_ARGS_ENV) + 1))
            env[k++] = environ[i];
    size_t lp = strlen(CHECK_ENV) + strlen(path) + 2;
    size_t la = strlen(CHECK_ARGS_ENV) + strlen(args) + 2;
    if (!(env[0] = malloc(lp)) || !(env[1] = malloc(la))) {
        free(env[0]);
        free(env);
        return NULL;
    }
    snprintf(env[0], lp, "%s=%s", CHECK_ENV, path);
    snprintf(env[1], la, "%s=%s", CHECK_ARGS_ENV, args);
    return env;
}

/* Starts the child with its stderr on the pipe's write end; *pid on success. */
static int spawn_child(char **env, int err_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    int sigs[] = {SIGALRM, SIGPIPE, SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaddset(&dfl, sigs[i]);
    char *argv[] = {"sl-bundle-check", NULL};
    int e = posix_spawn_file_actions_init(&fa);
    if (e) return e;
    if (!(e = posix_spawnattr_init(&at))) {
        if (!(e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) &&
            !(e = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)) &&
            !(e = posix_spawn_file_actions_adddup2(&fa, err_fd, 2)) &&
            !(e = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) &&
            !(e = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) &&
            !(e = posix_spawnattr_setsigmask(&at, &none)) &&
            !(e = posix_spawnattr_setsigdefault(&at, &dfl)))
            e = posix_spawn(pid, "/proc/self/exe", &fa, &at, argv, env);
        posix_spawnattr_destroy(&at);
    }
    posix_spawn_file_actions_destroy(&fa);
    return e;
}

/* Collects the child's stderr (at most cap - 1 bytes kept) and its exit until `deadline`
 * (now_s() time). Returns 1 with *status when it exited, 0 when it was killed at the deadline. */
static int wait_child(pid_t pid, int fd, double deadline, char *msg, size_t cap, int *status)
{
    size_t len = 0;
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0) break;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno != EINTR) break;
        if (r <= 0) continue;
        char buf[512];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* end of file: the child is exiting */
        size_t keep = (size_t)n < cap - 1 - len ? (size_t)n : cap - 1 - len;
        memcpy(msg + len, buf, keep);
        len += keep;
    }
    msg[len] = '\0';
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid) return 1;
        if (w < 0 && errno != EINTR) break;
        if (now_s() >= deadline) break;
        struct timespec ms = {0, 2000000};
        nanosleep(&ms, NULL);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
    return 0;
}

int sl_bundle_check_isolated(const char *path, const char *name, unsigned flags, double seconds)
{
    if (seconds <= 0) {
        struct stat st;
        seconds = sl_bundle_check_seconds(stat(path, &st) == 0 ? (uint64_t)st.st_size : 0);
    }
    char args[300];
    snprintf(args, sizeof args, "%u %.3f %ld %.200s", flags, seconds, (long)getpid(), name);
    char **env = child_env(path, args);
    if (!env) return sl_err(SL_ENOMEM, "%s: out of memory starting the bundle check", name);
    int fds[2];
    if (pipe(fds) != 0) {
        int e = errno;
        free(env[0]);
        free(env[1]);
        free(env);
        return sl_err(SL_EIO, "%s: cannot start the bundle check: %s", name, strerror(e));
    }
    /* Children other threads start must not hold the write end: its end of file is the signal. */
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    double deadline = now_s() + seconds;
    pid_t pid;
    int e = spawn_child(env, fds[1], &pid);
    close(fds[1]);
    free(env[0]);
    free(env[1]);
    free(env);
    if (e) {
        close(fds[0]);
        return sl_err(SL_EIO, "%s: cannot start the bundle check (our own program, again): %s",
                      name, strerror(e));
    }
    char msg[1024];
    int status = 0;
    int exited = wait_child(pid, fds[0], deadline, msg, sizeof msg, &status);
    close(fds[0]);
    if (!exited)
        return sl_err(SL_ETIMEOUT, "%s: HDF5 did not finish reading it within %.0f s (a malformed "
                                   "file can make libhdf5 loop forever), so it was not opened",
                      name, seconds);
    if (WIFSIGNALED(status))
        return sl_err(SL_EFORMAT, "%s: reading it crashed the bundle check (signal %d), so it was "
                                  "not opened",
                      name, WTERMSIG(status));
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    if (code == 0) return SL_OK;
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (code > 13)
        return sl_err(SL_EIO, "%s: the bundle check failed (exit %d): %s", name, code, msg);
    return sl_err(-code, "%s", n ? msg : "the bundle check failed without a message");
}

int sl_bundle_read_checked(const char *path, sl_bundle **out)
{
    *out = NULL;
    int rc = sl_bundle_check_isolated(path, path, SL_BUNDLE_CHECK_WEIGHTS, 0);
    return rc ? rc : sl_bundle_read(path, out);
}

/* ---- state_dict import --------------------------------------------------------------------- */

struct sd_walk {
    sl_graph *g;
    sl_tensor **staged; /* per (node, param): new values, indexed node * SL_MAX_PARAMS + j */
    char *problems;
    size_t plen, pcap;
    int nproblems;
    int rc;
};

static void problem(struct sd_walk *w, const char *fmt, const char *a, const char *b)
{
    char line[512];
    int n = snprintf(line, sizeof line, fmt, a, b);
    if (n < 0) return;
    w->nproblems++;
    if (w->plen + (size_t)n + 2 > w->pcap) {
        size_t cap = (w->pcap + (size_t)n + 2) * 2;
        char *p = realloc(w->problems, cap);
        if (!p) return;
        w->problems = p;
        w->pcap = cap;
    }
    w->plen += (size_t)snprintf(w->problems + w->plen, w->pcap - w->plen, "\n  %s", line);
}

static int sd_visit(sl_h5_id loc, const char *key, void *arg)
{
    struct sd_walk *w = arg;
    size_t kl = strlen(key);
    const char *nbt = ".num_batches_tracked";
    if (kl > strlen(nbt) && !strcmp(key + kl - strlen(nbt), nbt)) return 0;
    const char *dot = strrchr(key, '.');
    char node[SL_NAME_MAX];
    if (!dot || (size_t)(dot - key) >= sizeof node) {
        problem(w, "unexpected key '%s'%s", key, "");
        return 0;
    }
    snprintf(node, sizeof node, "%.*s", (int)(dot - key), key);
    int idx = sl_graph_find(w->g, node);
    sl_param *p = idx >= 0 ? sl_node_param(&w->g->nodes[idx], dot + 1) : NULL;
    if (!p) {
        problem(w, "unexpected key '%s'%s", key, "");
        return 0;
    }
    /* The shape is checked from the header, before anything is read. */
    sl_h5_info in;
    int rc = sl_h5_info_get(loc, key, &in);
    if (rc) return w->rc = rc;
    int nd = in.ndim;
    int ok = in.numeric && nd == p->shape.ndim;
    for (int k = 0; ok && k < nd; k++) ok = in.dims[k] == p->shape.d[k];
    if (!ok) {
        char got[96] = "", want[96] = "";
        size_t a = 0, b = 0;
        for (int k = 0; k < nd && a < sizeof got; k++)
            a += (size_t)snprintf(got + a, sizeof got - a, "%s%lld", k ? "x" : "",
                                  (long long)in.dims[k]);
        for (int k = 0; k < p->shape.ndim && b < sizeof want; k++)
            b += (size_t)snprintf(want + b, sizeof want - b, "%s%lld", k ? "x" : "",
                                  (long long)p->shape.d[k]);
        char msg[256];
        snprintf(msg, sizeof msg, "has shape %s, expected %s", got, want);
        problem(w, "mis-shaped key '%s' %s", key, msg);
        return 0;
    }
    sl_tensor *t;
    if ((rc = read_tensor(loc, key, &in, &t))) return w->rc = rc;
    if ((rc = check_finite(t, key))) {
        sl_tensor_free(t);
        return w->rc = rc;
    }
    int slot = idx * SL_MAX_PARAMS + (int)(p - w->g->nodes[idx].params);
    sl_tensor_free(w->staged[slot]);
    w->staged[slot] = t;
    return 0;
}

int sl_import_state_dict(sl_graph *g, const char *path)
{
    if (!g->validated) return sl_err(SL_EARG, "graph '%s' is not validated", g->name);
    sl_h5_id f;
    int rc0 = sl_h5_open(path, &f);
    if (rc0) return rc0;
    struct sd_walk w = {g, calloc((size_t)g->nnodes * SL_MAX_PARAMS, sizeof(sl_tensor *)), NULL,
                        0, 0, 0, SL_OK};
    if (!w.staged) {
        sl_h5_close(f);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    int vrc = sl_h5_visit(f, 0, sd_visit, &w);
    if (vrc && !w.rc) w.rc = sl_err_ctx(vrc, "%s: ", path);
    else if (w.rc) w.rc = sl_err_ctx(w.rc, "%s: ", path);
    sl_h5_close(f);
    int rc = w.rc;
    if (!rc)
        for (int i = 0; i < g->nnodes; i++)
            for (int j = 0; j < g->nodes[i].nparams; j++)
                if (!w.staged[i * SL_MAX_PARAMS + j]) {
                    char key[SL_NAME_MAX + 40];
                    snprintf(key, sizeof key, "%s.%s", g->nodes[i].name, g->nodes[i].params[j].name);
                    problem(&w, "missing key '%s'%s", key, "");
                }
    if (!rc && w.nproblems)
        rc = sl_err(SL_EFORMAT, "%s: %d key(s) do not match architecture '%s':%s", path, w.nproblems,
                    g->name, w.problems ? w.problems : "");
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nparams; j++) {
            sl_tensor **st = &w.staged[i * SL_MAX_PARAMS + j];
            if (!rc) {
                sl_tensor_free(g->nodes[i].params[j].t);
                g->nodes[i].params[j].t = *st;
            } else {
                sl_tensor_free(*st);
            }
        }
    free(w.staged);
    free(w.problems);
    return rc;
}
