/* bundle.c: HDF5 bundle reading and writing, and state_dict import. */
#include "model/bundle.h"
#include "common/fsutil.h"
#include "common/status.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CREATED_BY "scissionlite " SL_VERSION_STR
#ifdef SL_VERSION
#define SL_VERSION_STR SL_VERSION
#else
#define SL_VERSION_STR "0"
#endif

static void quiet_hdf5(void)
{
    /* HDF5 prints its error stack by default; we report errors ourselves. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

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

/* ---- HDF5 helpers ------------------------------------------------------------------------ */

static hid_t vlen_str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static int write_str_attr(hid_t loc, const char *name, const char *value)
{
    hid_t t = vlen_str_type(), sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, t, &value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return e < 0 ? sl_err(SL_EIO, "cannot write attribute '%s'", name) : SL_OK;
}

static int write_int_attr(hid_t loc, const char *name, int value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT, &value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return e < 0 ? sl_err(SL_EIO, "cannot write attribute '%s'", name) : SL_OK;
}

static int write_str_dataset(hid_t loc, const char *name, const char *value)
{
    hid_t t = vlen_str_type(), sp = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    return e < 0 ? sl_err(SL_EIO, "cannot write dataset '%s'", name) : SL_OK;
}

/* Reads a scalar string stored either fixed-length or variable-length into a new buffer. */
static int read_str(hid_t obj, int is_attr, const char *what, char **out)
{
    *out = NULL;
    hid_t ft = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    if (ft < 0 || H5Tget_class(ft) != H5T_STRING) {
        if (ft >= 0) H5Tclose(ft);
        return sl_err(SL_EFORMAT, "'%s' is not a string", what);
    }
    int rc = SL_OK;
    if (H5Tis_variable_str(ft) > 0) {
        hid_t mt = vlen_str_type();
        char *s = NULL;
        herr_t e = is_attr ? H5Aread(obj, mt, &s) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s);
        if (e < 0 || !s) rc = sl_err(SL_EFORMAT, "'%s' cannot be read", what);
        else if (!(*out = strdup(s))) rc = sl_err(SL_ENOMEM, "out of memory");
        if (s) H5free_memory(s);
        H5Tclose(mt);
    } else {
        size_t n = H5Tget_size(ft);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, n + 1);
        char *s = calloc(n + 2, 1);
        herr_t e = !s ? -1 : is_attr ? H5Aread(obj, mt, s) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, s);
        if (e < 0) {
            free(s);
            rc = sl_err(SL_EFORMAT, "'%s' cannot be read", what);
        } else {
            *out = s;
        }
        H5Tclose(mt);
    }
    H5Tclose(ft);
    return rc;
}

static int read_str_attr(hid_t loc, const char *name, char **out)
{
    *out = NULL;
    if (H5Aexists(loc, name) <= 0) return sl_err(SL_ENOTFOUND, "attribute '%s' is missing", name);
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return sl_err(SL_EFORMAT, "attribute '%s' cannot be opened", name);
    int rc = read_str(a, 1, name, out);
    H5Aclose(a);
    return rc;
}

static int read_str_dataset(hid_t loc, const char *name, char **out)
{
    *out = NULL;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return sl_err(SL_ENOTFOUND, "'%s' is missing", name);
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return sl_err(SL_EFORMAT, "'%s' cannot be opened", name);
    int rc = read_str(d, 0, name, out);
    H5Dclose(d);
    return rc;
}

static int write_tensor(hid_t loc, const char *name, const sl_tensor *t)
{
    sl_tensor *f = NULL;
    int64_t shape[SL_MAX_DIMS];
    int nd;
    if (sl_tensor_to_dtype(t, SL_DT_F32, &f) || sl_tensor_shape(f, shape, SL_MAX_DIMS, &nd)) {
        sl_tensor_free(f);
        return sl_err(SL_ETORCH, "'%s': %s", name, sl_torch_last_error());
    }
    void *data;
    hsize_t dims[SL_MAX_DIMS];
    for (int i = 0; i < nd; i++) dims[i] = (hsize_t)shape[i];
    sl_tensor_data_ptr(f, &data);
    hid_t sp = nd ? H5Screate_simple(nd, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(loc, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    sl_tensor_free(f);
    return e < 0 ? sl_err(SL_EIO, "cannot write dataset '%s'", name) : SL_OK;
}

/* Reads a numeric dataset (any numeric type, converted by HDF5) into a new float32 tensor. */
static int read_tensor(hid_t loc, const char *name, sl_tensor **out)
{
    *out = NULL;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return sl_err(SL_EFORMAT, "dataset '%s' cannot be opened", name);
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
    H5T_class_t cls = H5Tget_class(ft);
    int nd = H5Sget_simple_extent_ndims(sp);
    int rc = SL_OK;
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
        rc = sl_err(SL_EFORMAT, "dataset '%s' is not numeric", name);
    } else if (nd < 0 || nd > SL_MAX_DIMS) {
        rc = sl_err(SL_EFORMAT, "dataset '%s' has an unsupported rank", name);
    } else {
        hsize_t dims[SL_MAX_DIMS];
        int64_t shape[SL_MAX_DIMS];
        H5Sget_simple_extent_dims(sp, dims, NULL);
        for (int i = 0; i < nd; i++) shape[i] = (int64_t)dims[i];
        void *data;
        if (sl_tensor_empty(shape, nd, SL_DT_F32, out) || sl_tensor_data_ptr(*out, &data)) {
            rc = sl_err(SL_ETORCH, "dataset '%s': %s", name, sl_torch_last_error());
        } else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
            rc = sl_err(SL_EFORMAT, "dataset '%s' cannot be read (truncated or corrupt file?)", name);
        }
    }
    if (rc) {
        sl_tensor_free(*out);
        *out = NULL;
    }
    H5Sclose(sp);
    H5Tclose(ft);
    H5Dclose(d);
    return rc;
}

/* ---- write -------------------------------------------------------------------------------- */

static int write_body(hid_t f, const sl_bundle *b)
{
    int rc;
    if ((rc = write_str_attr(f, "format", SL_BUNDLE_FORMAT))) return rc;
    if ((rc = write_int_attr(f, "format_version", SL_BUNDLE_VERSION))) return rc;
    if ((rc = write_str_attr(f, "role", b->role))) return rc;
    if ((rc = write_str_attr(f, "created_by", b->created_by[0] ? b->created_by : CREATED_BY)))
        return rc;
    if (b->pair_id[0] && (rc = write_str_attr(f, "pair_id", b->pair_id))) return rc;
    char *json;
    if ((rc = sl_graph_to_json(b->graph, &json))) return rc;
    rc = write_str_dataset(f, "model_config", json);
    free(json);
    if (rc) return rc;
    const sl_graph *g = b->graph;
    hid_t w = H5Gcreate2(f, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (w < 0) return sl_err(SL_EIO, "cannot create group model_weights");
    for (int i = 0; i < g->nnodes && !rc; i++) {
        const sl_node *n = &g->nodes[i];
        if (!n->nparams) continue;
        hid_t ng = H5Gcreate2(w, n->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (ng < 0) {
            rc = sl_err(SL_EIO, "cannot create group for node '%s'", n->name);
            break;
        }
        for (int j = 0; j < n->nparams && !rc; j++) {
            if (!n->params[j].t)
                rc = sl_err(SL_EARG, "node '%s': parameter '%s' has no values", n->name,
                            n->params[j].name);
            else
                rc = write_tensor(ng, n->params[j].name, n->params[j].t);
        }
        H5Gclose(ng);
    }
    H5Gclose(w);
    if (rc) return rc;
    if (g->nclasses) {
        hid_t t = vlen_str_type();
        hsize_t dim = (hsize_t)g->nclasses;
        hid_t sp = H5Screate_simple(1, &dim, NULL);
        hid_t d = H5Dcreate2(f, "labels", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        herr_t e = d < 0 ? -1 : H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, g->classes);
        if (d >= 0) H5Dclose(d);
        H5Sclose(sp);
        H5Tclose(t);
        if (e < 0) return sl_err(SL_EIO, "cannot write labels");
    }
    if (b->wire_json && (rc = write_str_dataset(f, "wire", b->wire_json))) return rc;
    if (b->metrics_json && (rc = write_str_dataset(f, "metrics", b->metrics_json))) return rc;
    if (b->train_state_json && (rc = write_str_dataset(f, "train_state", b->train_state_json)))
        return rc;
    if (b->nextra) {
        hid_t x = H5Gcreate2(f, "extra", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (x < 0) return sl_err(SL_EIO, "cannot create group extra");
        /* Intermediate groups let extra names hold '/' (e.g. "optim/conv1.weight/exp_avg"). */
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        for (int i = 0; i < b->nextra && !rc; i++) {
            sl_tensor *fl = NULL;
            int64_t shape[SL_MAX_DIMS];
            int nd;
            void *data;
            if (sl_tensor_to_dtype(b->extra[i], SL_DT_F32, &fl) ||
                sl_tensor_shape(fl, shape, SL_MAX_DIMS, &nd) || sl_tensor_data_ptr(fl, &data)) {
                rc = sl_err(SL_ETORCH, "extra '%s': %s", b->extra_names[i], sl_torch_last_error());
            } else {
                hsize_t dims[SL_MAX_DIMS];
                for (int k = 0; k < nd; k++) dims[k] = (hsize_t)shape[k];
                hid_t sp = nd ? H5Screate_simple(nd, dims, NULL) : H5Screate(H5S_SCALAR);
                hid_t d = H5Dcreate2(x, b->extra_names[i], H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT,
                                     H5P_DEFAULT);
                if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
                    rc = sl_err(SL_EIO, "cannot write extra '%s'", b->extra_names[i]);
                if (d >= 0) H5Dclose(d);
                H5Sclose(sp);
            }
            sl_tensor_free(fl);
        }
        H5Pclose(lcpl);
        H5Gclose(x);
    }
    return rc;
}

int sl_bundle_write(const char *path, const sl_bundle *b)
{
    quiet_hdf5();
    if (!b->graph || !b->graph->validated)
        return sl_err(SL_EARG, "%s: the bundle has no validated graph", path);
    char tmp[4096];
    int rc = sl_tmp_path_for(path, tmp, sizeof tmp);
    if (rc) return rc;
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return sl_err(SL_EIO, "%s: cannot create file", path);
    rc = write_body(f, b);
    if (H5Fclose(f) < 0 && !rc) rc = sl_err(SL_EIO, "%s: cannot finish writing", path);
    if (rc) {
        unlink(tmp);
        return sl_err_ctx(rc, "%s: ", path);
    }
    return sl_commit_tmp(tmp, path);
}

/* ---- read --------------------------------------------------------------------------------- */

struct extra_walk {
    sl_bundle *b;
    int rc;
};

static herr_t extra_visit(hid_t loc, const char *name, const H5O_info_t *info, void *data)
{
    struct extra_walk *w = data;
    if (info->type != H5O_TYPE_DATASET) return 0;
    sl_tensor *t;
    if ((w->rc = read_tensor(loc, name, &t))) return -1;
    w->rc = sl_bundle_set_extra(w->b, name, t);
    sl_tensor_free(t);
    return w->rc ? -1 : 0;
}

static int read_body(hid_t f, sl_bundle *b)
{
    char *s = NULL;
    int rc = read_str_attr(f, "format", &s);
    if (rc || strcmp(s, SL_BUNDLE_FORMAT)) {
        free(s);
        return sl_err(SL_EFORMAT, "not a ScissionLite bundle (root attribute 'format' is not \"%s\")",
                      SL_BUNDLE_FORMAT);
    }
    free(s);
    int version = 0;
    if (H5Aexists(f, "format_version") > 0) {
        hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
        if (a < 0 || H5Aread(a, H5T_NATIVE_INT, &version) < 0) version = 0;
        if (a >= 0) H5Aclose(a);
    }
    if (version < 1 || version > SL_BUNDLE_VERSION)
        return sl_err(SL_EFORMAT, "bundle format_version %d is not supported (this build reads 1..%d)",
                      version, SL_BUNDLE_VERSION);
    if ((rc = read_str_attr(f, "role", &s))) return rc;
    snprintf(b->role, sizeof b->role, "%s", s);
    free(s);
    if (read_str_attr(f, "created_by", &s) == SL_OK) {
        snprintf(b->created_by, sizeof b->created_by, "%s", s);
        free(s);
    }
    if (read_str_attr(f, "pair_id", &s) == SL_OK) {
        snprintf(b->pair_id, sizeof b->pair_id, "%s", s);
        free(s);
    }
    if ((rc = read_str_dataset(f, "model_config", &s))) return rc;
    rc = sl_graph_from_json(s, &b->graph);
    free(s);
    if (rc) return sl_err_ctx(rc, "model_config: ");
    sl_graph *g = b->graph;
    hid_t w = H5Lexists(f, "model_weights", H5P_DEFAULT) > 0
                  ? H5Gopen2(f, "model_weights", H5P_DEFAULT)
                  : -1;
    for (int i = 0; i < g->nnodes && !rc; i++) {
        sl_node *n = &g->nodes[i];
        for (int j = 0; j < n->nparams && !rc; j++) {
            char path[SL_NAME_MAX + 64];
            snprintf(path, sizeof path, "%s/%s", n->name, n->params[j].name);
            if (w < 0 || H5Lexists(w, n->name, H5P_DEFAULT) <= 0 ||
                H5Lexists(w, path, H5P_DEFAULT) <= 0) {
                rc = sl_err(SL_EFORMAT, "model_weights/%s is missing", path);
                break;
            }
            rc = read_tensor(w, path, &n->params[j].t);
        }
    }
    if (w >= 0) H5Gclose(w);
    if (rc) return rc;
    if ((rc = sl_graph_validate(g, 1))) return rc;
    if (read_str_dataset(f, "wire", &b->wire_json) == SL_ENOTFOUND) b->wire_json = NULL;
    if (read_str_dataset(f, "metrics", &b->metrics_json) == SL_ENOTFOUND) b->metrics_json = NULL;
    if (read_str_dataset(f, "train_state", &b->train_state_json) == SL_ENOTFOUND)
        b->train_state_json = NULL;
    if (H5Lexists(f, "extra", H5P_DEFAULT) > 0) {
        hid_t x = H5Gopen2(f, "extra", H5P_DEFAULT);
        struct extra_walk wk = {b, SL_OK};
        if (x < 0 || H5Ovisit2(x, H5_INDEX_NAME, H5_ITER_INC, extra_visit, &wk, H5O_INFO_BASIC) < 0)
            rc = wk.rc ? wk.rc : sl_err(SL_EFORMAT, "group 'extra' cannot be read");
        if (x >= 0) H5Gclose(x);
    }
    return rc;
}

int sl_bundle_read(const char *path, sl_bundle **out)
{
    *out = NULL;
    quiet_hdf5();
    if (access(path, R_OK) != 0) return sl_err(SL_EIO, "%s: cannot open for reading", path);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) return sl_err(SL_EFORMAT, "%s: not an HDF5 file (or truncated)", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return sl_err(SL_EFORMAT, "%s: cannot open as HDF5 (corrupt or truncated)", path);
    sl_bundle *b = sl_bundle_new(NULL);
    int rc = b ? read_body(f, b) : sl_err(SL_ENOMEM, "out of memory");
    H5Fclose(f);
    if (rc) {
        sl_bundle_free(b);
        return sl_err_ctx(rc, "%s: ", path);
    }
    *out = b;
    return SL_OK;
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

static herr_t sd_visit(hid_t loc, const char *key, const H5L_info_t *info, void *data)
{
    (void)info;
    struct sd_walk *w = data;
    H5O_info_t oi;
    if (H5Oget_info_by_name2(loc, key, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
        oi.type != H5O_TYPE_DATASET)
        return 0;
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
    sl_tensor *t;
    if ((w->rc = read_tensor(loc, key, &t))) return -1;
    int64_t shp[SL_MAX_DIMS];
    int nd;
    sl_tensor_shape(t, shp, SL_MAX_DIMS, &nd);
    int ok = nd == p->shape.ndim;
    for (int k = 0; ok && k < nd; k++) ok = shp[k] == p->shape.d[k];
    if (!ok) {
        char got[96] = "", want[96] = "";
        size_t a = 0, b = 0;
        for (int k = 0; k < nd && a < sizeof got; k++)
            a += (size_t)snprintf(got + a, sizeof got - a, "%s%lld", k ? "x" : "", (long long)shp[k]);
        for (int k = 0; k < p->shape.ndim && b < sizeof want; k++)
            b += (size_t)snprintf(want + b, sizeof want - b, "%s%lld", k ? "x" : "",
                                  (long long)p->shape.d[k]);
        char msg[256];
        snprintf(msg, sizeof msg, "has shape %s, expected %s", got, want);
        problem(w, "mis-shaped key '%s' %s", key, msg);
        sl_tensor_free(t);
        return 0;
    }
    int slot = idx * SL_MAX_PARAMS + (int)(p - w->g->nodes[idx].params);
    sl_tensor_free(w->staged[slot]);
    w->staged[slot] = t;
    return 0;
}

int sl_import_state_dict(sl_graph *g, const char *path)
{
    quiet_hdf5();
    if (!g->validated) return sl_err(SL_EARG, "graph '%s' is not validated", g->name);
    if (access(path, R_OK) != 0) return sl_err(SL_EIO, "%s: cannot open for reading", path);
    if (H5Fis_hdf5(path) <= 0)
        return sl_err(SL_EFORMAT, "%s: not an HDF5 file", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return sl_err(SL_EFORMAT, "%s: cannot open as HDF5", path);
    struct sd_walk w = {g, calloc((size_t)g->nnodes * SL_MAX_PARAMS, sizeof(sl_tensor *)), NULL,
                        0, 0, 0, SL_OK};
    if (!w.staged) {
        H5Fclose(f);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    if (H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, NULL, sd_visit, &w) < 0 && !w.rc)
        w.rc = sl_err(SL_EFORMAT, "%s: cannot list datasets", path);
    H5Fclose(f);
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
