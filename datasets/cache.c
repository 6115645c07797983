/* cache.c: writing and reading the HDF5 dataset cache (format in cache.h). */
#include "datasets/cache.h"
#include "datasets/dataset_internal.h"

#include "common/fsutil.h"
#include "common/progress.h"
#include "common/status.h"

#include <hdf5.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_FORMAT "sl-data-cache"
#define CACHE_VERSION 1
#define BLOCK 256

/* The Debian HDF5 library is built without thread safety: every call goes through this lock. */
static pthread_mutex_t h5_lock = PTHREAD_MUTEX_INITIALIZER;

static hid_t str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static int write_str_attr(hid_t obj, const char *name, const char *value)
{
    hid_t t = str_type(), sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, t, &value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return e < 0 ? -1 : 0;
}

static int write_int_attr(hid_t obj, const char *name, int value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT, &value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return e < 0 ? -1 : 0;
}

/* A 1-D or 2-D string dataset from `n` (x cols) C strings. */
static int write_strings(hid_t f, const char *name, const char **v, hsize_t n, hsize_t cols)
{
    hsize_t dims[2] = {n, cols};
    hid_t t = str_type(), sp = H5Screate_simple(cols ? 2 : 1, dims, NULL);
    hid_t d = H5Dcreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : n ? H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) : 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    return e < 0 ? -1 : 0;
}

static int write_array(hid_t f, const char *name, hid_t file_t, hid_t mem_t, const void *v,
                       hsize_t n)
{
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, name, file_t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : n ? H5Dwrite(d, mem_t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) : 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    return e < 0 ? -1 : 0;
}

/* One block of items decoded by worker threads into `pix`. */
typedef struct {
    const sl_dataset *ds;
    const sl_cache_opts *o;
    int64_t first, count;
    uint8_t *pix;
    int *rc;
    char (*msg)[512];
    int next;
    pthread_mutex_t mu;
} block_job;

static void *decode_worker(void *arg)
{
    block_job *j = arg;
    size_t per = (size_t)j->o->c * j->o->h * j->o->w;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int k = j->next < j->count ? j->next++ : -1;
        pthread_mutex_unlock(&j->mu);
        if (k < 0) return NULL;
        sl_image img;
        int rc = sl_dataset_image(j->ds, j->first + k, &img);
        if (rc == SL_OK)
            rc = sl_image_to_u8(&img, j->o->c, j->o->h, j->o->w, j->o->resize,
                                j->pix + per * (size_t)k);
        sl_image_free(&img);
        j->rc[k] = rc;
        if (rc != SL_OK) snprintf(j->msg[k], sizeof j->msg[k], "%s", sl_errmsg());
    }
}

static int decode_block(block_job *j)
{
    int t = j->o->threads < 1 ? 1 : j->o->threads > 64 ? 64 : j->o->threads;
    pthread_t tid[64];
    int started = 0;
    for (int i = 1; i < t; i++)
        if (pthread_create(&tid[started], NULL, decode_worker, j) == 0) started++;
    decode_worker(j);
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    return SL_OK;
}

/* Everything the writer collects before the file is created. */
typedef struct {
    int64_t rows;
    int64_t *labels;
    uint8_t *splits;
    const char **paths;
    const char **problems; /* 2 per problem */
    int nprob;
} cache_meta;

/* Creates the file at `tmp`; messages name `path`, the file the user asked for. */
static int write_file(const sl_dataset *ds, const sl_cache_opts *o, const char *tmp,
                      const char *path, const cache_meta *m, hid_t *file, hid_t *images)
{
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return sl_err(SL_EIO, "%s: cannot create HDF5 file (is the folder writable?)", path);
    char created[64];
    snprintf(created, sizeof created, "sl-data %s", SL_VERSION);
    int bad =
        write_str_attr(f, "format", CACHE_FORMAT) ||
        write_int_attr(f, "format_version", CACHE_VERSION) ||
        write_str_attr(f, "created_by", created) || write_str_attr(f, "source", ds->root) ||
        write_str_attr(f, "layout", ds->layout) ||
        write_str_attr(f, "resize", o->resize == SL_RESIZE_SHORT_CROP ? "short-crop" : "stretch");
    bad =
        bad || write_strings(f, "classes", (const char **)ds->classes, (hsize_t)ds->num_classes, 0);
    bad = bad || write_strings(f, "problems", m->problems, (hsize_t)m->nprob, 2);
    hsize_t dims[4] = {(hsize_t)ds->n, (hsize_t)o->c, (hsize_t)o->h, (hsize_t)o->w};
    hsize_t chunk[4] = {1, (hsize_t)o->c, (hsize_t)o->h, (hsize_t)o->w};
    hid_t sp = H5Screate_simple(4, dims, NULL), pl = H5Pcreate(H5P_DATASET_CREATE);
    if (ds->n) H5Pset_chunk(pl, 4, chunk);
    hid_t d = bad ? -1 : H5Dcreate2(f, "images", H5T_STD_U8LE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    H5Pclose(pl);
    H5Sclose(sp);
    if (bad || d < 0) {
        if (d >= 0) H5Dclose(d);
        H5Fclose(f);
        return sl_err(SL_EIO, "%s: writing the cache header failed", path);
    }
    *file = f;
    *images = d;
    return SL_OK;
}

/* labels, splits and paths of the rows actually stored (known only after decoding). */
static int write_tail(hid_t f, const cache_meta *m)
{
    int bad =
        write_array(f, "labels", H5T_STD_I64LE, H5T_NATIVE_INT64, m->labels, (hsize_t)m->rows) ||
        write_array(f, "splits", H5T_STD_U8LE, H5T_NATIVE_UINT8, m->splits, (hsize_t)m->rows) ||
        write_strings(f, "paths", m->paths, (hsize_t)m->rows, 0);
    return bad ? -1 : 0;
}

int sl_cache_write(const sl_dataset *ds, const sl_cache_opts *o, const char *path, int64_t *written)
{
    if (written) *written = 0;
    if ((o->c != 1 && o->c != 3) || o->h <= 0 || o->w <= 0 || o->h > 4096 || o->w > 4096)
        return sl_err(SL_EARG, "cache image shape %dx%dx%d is invalid", o->c, o->h, o->w);
    if (ds->is_cache && !strcmp(ds->root, path))
        return sl_err(SL_EARG, "%s: cannot rewrite a cache onto itself", path);
    char tmp[4096];
    int rc = sl_tmp_path_for(path, tmp, sizeof tmp);
    if (rc != SL_OK) return rc;
    size_t per = (size_t)o->c * o->h * o->w;
    cache_meta m = {0};
    m.labels = malloc(sizeof(int64_t) * (size_t)(ds->n + 1));
    m.splits = malloc((size_t)ds->n + 1);
    m.paths = malloc(sizeof(char *) * (size_t)(ds->n + 1));
    m.problems = malloc(sizeof(char *) * 2 * (size_t)(ds->nprob + ds->n + 1));
    uint8_t *pix = malloc(per * BLOCK);
    int *rcs = malloc(sizeof(int) * BLOCK);
    char(*msgs)[512] = malloc(sizeof *msgs * BLOCK);
    char **owned = calloc((size_t)ds->n + 1, sizeof(char *)); /* problem reasons we format */
    if (!m.labels || !m.splits || !m.paths || !m.problems || !pix || !rcs || !msgs || !owned) {
        rc = sl_err(SL_ENOMEM, "out of memory caching %s", ds->root);
        goto out;
    }
    for (int i = 0; i < ds->nprob; i++) {
        m.problems[2 * i] = ds->problems[i].path;
        m.problems[2 * i + 1] = ds->problems[i].reason;
    }
    m.nprob = ds->nprob;

    pthread_mutex_lock(&h5_lock);
    hid_t f = -1, images = -1;
    H5E_BEGIN_TRY
    {
        rc = write_file(ds, o, tmp, path, &m, &f, &images);
    }
    H5E_END_TRY;
    pthread_mutex_unlock(&h5_lock);
    if (rc != SL_OK) goto out;

    sl_progress *pr = sl_progress_start("caching", (uint64_t)ds->n);
    for (int64_t first = 0; first < ds->n && rc == SL_OK; first += BLOCK) {
        block_job j = {ds,
                       o,
                       first,
                       ds->n - first < BLOCK ? ds->n - first : BLOCK,
                       pix,
                       rcs,
                       msgs,
                       0,
                       PTHREAD_MUTEX_INITIALIZER};
        decode_block(&j);
        for (int64_t k = 0; k < j.count && rc == SL_OK; k++) {
            int64_t i = first + k;
            if (rcs[k] != SL_OK) {
                if (o->strict) {
                    rc = sl_err(rcs[k], "%s", msgs[k]);
                    break;
                }
                owned[i] = strdup(msgs[k]);
                m.problems[2 * m.nprob] = ds->items[i].path;
                m.problems[2 * m.nprob + 1] = owned[i] ? owned[i] : "decode failed";
                m.nprob++;
                continue;
            }
            hsize_t start[4] = {(hsize_t)m.rows, 0, 0, 0};
            hsize_t cnt[4] = {1, (hsize_t)o->c, (hsize_t)o->h, (hsize_t)o->w};
            pthread_mutex_lock(&h5_lock);
            hid_t fs = H5Dget_space(images), ms = H5Screate_simple(4, cnt, NULL);
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
            herr_t e = H5Dwrite(images, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, pix + per * k);
            H5Sclose(ms);
            H5Sclose(fs);
            pthread_mutex_unlock(&h5_lock);
            if (e < 0) {
                rc = sl_err(SL_EIO, "%s: writing image %lld failed", path, (long long)m.rows);
                break;
            }
            m.labels[m.rows] = ds->items[i].label;
            m.splits[m.rows] = (uint8_t)ds->items[i].split;
            m.paths[m.rows] = ds->items[i].path;
            m.rows++;
        }
        sl_progress_update(pr, (uint64_t)(first + j.count), NULL);
    }
    sl_progress_done(pr, NULL);

    pthread_mutex_lock(&h5_lock);
    H5E_BEGIN_TRY
    {
        if (rc == SL_OK) {
            hsize_t dims[4] = {(hsize_t)m.rows, (hsize_t)o->c, (hsize_t)o->h, (hsize_t)o->w};
            /* rows skipped for decode errors: the chunked image dataset shrinks to fit */
            if ((m.rows < ds->n && H5Dset_extent(images, dims) < 0) || write_tail(f, &m) < 0 ||
                (m.nprob > ds->nprob &&
                 (H5Ldelete(f, "problems", H5P_DEFAULT) < 0 ||
                  write_strings(f, "problems", m.problems, (hsize_t)m.nprob, 2) < 0)))
                rc = sl_err(SL_EIO, "%s: writing labels and paths failed", path);
        }
        H5Dclose(images);
        if (H5Fclose(f) < 0 && rc == SL_OK) rc = sl_err(SL_EIO, "%s: closing failed", path);
    }
    H5E_END_TRY;
    pthread_mutex_unlock(&h5_lock);
    if (rc == SL_OK) {
        rc = sl_commit_tmp(tmp, path);
        if (rc == SL_OK && written) *written = m.rows;
    } else {
        remove(tmp);
    }
out:
    if (owned)
        for (int64_t i = 0; i < ds->n; i++)
            free(owned[i]);
    free(owned);
    free(msgs);
    free(rcs);
    free(pix);
    free(m.labels);
    free(m.splits);
    free(m.paths);
    free(m.problems);
    return rc;
}

int sl_ds_is_cache_file(const char *path)
{
    pthread_mutex_lock(&h5_lock);
    htri_t r;
    H5E_BEGIN_TRY
    {
        r = H5Fis_hdf5(path);
    }
    H5E_END_TRY;
    pthread_mutex_unlock(&h5_lock);
    return r > 0;
}

/* Reads a string attribute into buf ("" when absent). */
static void read_str_attr(hid_t f, const char *name, char *buf, size_t n)
{
    buf[0] = '\0';
    if (H5Aexists(f, name) <= 0) return;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT), ft = H5Aget_type(a);
    if (H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0) {
        hid_t t = str_type();
        char *v = NULL;
        if (H5Aread(a, t, &v) >= 0 && v) snprintf(buf, n, "%s", v);
        H5free_memory(v);
        H5Tclose(t);
    } else if (H5Tget_class(ft) == H5T_STRING) {
        size_t sz = H5Tget_size(ft);
        char *v = calloc(sz + 1, 1);
        if (v && H5Aread(a, ft, v) >= 0) snprintf(buf, n, "%s", v);
        free(v);
    }
    H5Tclose(ft);
    H5Aclose(a);
}

/* Reads a 1-D or 2-D string dataset into a new array of new strings (*n elements). */
static int read_strings(hid_t f, const char *name, char ***out, hsize_t *n)
{
    *out = NULL;
    *n = 0;
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return -1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT), sp = H5Dget_space(d);
    hsize_t total = (hsize_t)H5Sget_simple_extent_npoints(sp);
    char **v = calloc(total + 1, sizeof *v);
    hid_t t = str_type();
    int bad = !v || (total && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0);
    char **copy = bad ? NULL : calloc(total + 1, sizeof *copy);
    for (hsize_t i = 0; copy && i < total; i++)
        if (!(copy[i] = strdup(v[i] ? v[i] : ""))) bad = 1;
    if (v && total && !bad) H5Dvlen_reclaim(t, sp, H5P_DEFAULT, v);
    free(v);
    H5Tclose(t);
    H5Sclose(sp);
    H5Dclose(d);
    if (bad || !copy) {
        for (hsize_t i = 0; copy && i < total; i++)
            free(copy[i]);
        free(copy);
        return -1;
    }
    *out = copy;
    *n = total;
    return 0;
}

static int read_array(hid_t f, const char *name, hid_t mem_t, void *v, hsize_t n)
{
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return -1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT), sp = H5Dget_space(d);
    hsize_t got = (hsize_t)H5Sget_simple_extent_npoints(sp);
    herr_t e = got != n ? -1 : n ? H5Dread(d, mem_t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) : 0;
    H5Sclose(sp);
    H5Dclose(d);
    return e < 0 ? -1 : 0;
}

static void free_strs(char **v, hsize_t n)
{
    for (hsize_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static int open_cache_locked(sl_dataset *ds, const sl_dataset_opts *opts)
{
    const char *path = ds->root;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return sl_err(SL_EIO, "%s: cannot open HDF5 file", path);
    ds->h5_file = f;
    ds->h5_images = -1;
    ds->is_cache = 1;
    char fmt[64];
    read_str_attr(f, "format", fmt, sizeof fmt);
    if (strcmp(fmt, CACHE_FORMAT))
        return sl_err(SL_EFORMAT, "%s: not an sl-data cache (format '%s')", path, fmt);
    int version = 0;
    if (H5Aexists(f, "format_version") > 0) {
        hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
        H5Aread(a, H5T_NATIVE_INT, &version);
        H5Aclose(a);
    }
    if (version != CACHE_VERSION)
        return sl_err(SL_EFORMAT, "%s: cache format_version %d, this build reads %d", path, version,
                      CACHE_VERSION);
    if (H5Lexists(f, "images", H5P_DEFAULT) <= 0)
        return sl_err(SL_EFORMAT, "%s: cache has no 'images'", path);
    hid_t d = H5Dopen2(f, "images", H5P_DEFAULT), sp = H5Dget_space(d);
    hsize_t dims[4] = {0};
    int nd = H5Sget_simple_extent_ndims(sp);
    if (nd == 4) H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    ds->h5_images = d;
    if (nd != 4 || (dims[1] != 1 && dims[1] != 3) || !dims[2] || !dims[3])
        return sl_err(SL_EFORMAT, "%s: 'images' must be uint8 [N, C(1|3), H, W]", path);
    ds->cc = (int)dims[1];
    ds->ch = (int)dims[2];
    ds->cw = (int)dims[3];
    int64_t n = (int64_t)dims[0];
    int64_t limit = opts->cache_memory ? opts->cache_memory : (int64_t)1 << 30;
    int64_t bytes = n * ds->cc * ds->ch * ds->cw;
    if (limit > 0 && bytes > 0 && bytes <= limit) {
        if (!(ds->pixels = malloc((size_t)bytes)))
            return sl_err(SL_ENOMEM, "%s: out of memory for %lld bytes of images", path,
                          (long long)bytes);
        if (H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, ds->pixels) < 0)
            return sl_err(SL_EFORMAT, "%s: 'images' cannot be read as uint8", path);
    }
    hsize_t nc, np, nprob;
    char **classes, **paths, **probs;
    if (read_strings(f, "classes", &classes, &nc) < 0)
        return sl_err(SL_EFORMAT, "%s: cache has no readable 'classes'", path);
    ds->classes = classes;
    ds->num_classes = (int)nc;
    if (read_strings(f, "paths", &paths, &np) < 0 || np != (hsize_t)n) {
        free_strs(paths, np);
        return sl_err(SL_EFORMAT, "%s: 'paths' missing or not one per image", path);
    }
    int64_t *labels = malloc(sizeof(int64_t) * (size_t)(n + 1));
    uint8_t *splits = malloc((size_t)n + 1);
    int rc = SL_OK;
    if (!labels || !splits)
        rc = sl_err(SL_ENOMEM, "out of memory opening %s", path);
    else if (read_array(f, "labels", H5T_NATIVE_INT64, labels, (hsize_t)n) < 0 ||
             read_array(f, "splits", H5T_NATIVE_UINT8, splits, (hsize_t)n) < 0)
        rc = sl_err(SL_EFORMAT, "%s: 'labels' or 'splits' missing or not one per image", path);
    for (int64_t i = 0; rc == SL_OK && i < n; i++) {
        if (labels[i] < 0 || labels[i] >= (int64_t)nc || splits[i] > SL_SPLIT_TEST)
            rc = sl_err(SL_EFORMAT, "%s: row %lld has label %lld / split %d out of range", path,
                        (long long)i, (long long)labels[i], splits[i]);
        else if ((rc = sl_ds_add_item(ds, paths[i], NULL, splits[i], i)) == SL_OK)
            ds->items[ds->n - 1].label = (int)labels[i];
    }
    free(labels);
    free(splits);
    free_strs(paths, np);
    if (rc != SL_OK) return rc;
    if (read_strings(f, "problems", &probs, &nprob) == 0) {
        for (hsize_t i = 0; rc == SL_OK && i + 1 < nprob; i += 2)
            rc = sl_ds_add_problem(ds, probs[i], probs[i + 1]);
        free_strs(probs, nprob);
    }
    if (rc == SL_OK) rc = sl_ds_finish(ds, opts->split);
    return rc;
}

int sl_ds_open_cache(sl_dataset *ds, const sl_dataset_opts *opts)
{
    pthread_mutex_lock(&h5_lock);
    int rc;
    H5E_BEGIN_TRY
    {
        rc = open_cache_locked(ds, opts);
    }
    H5E_END_TRY;
    pthread_mutex_unlock(&h5_lock);
    return rc;
}

void sl_ds_close_cache(sl_dataset *ds)
{
    pthread_mutex_lock(&h5_lock);
    H5E_BEGIN_TRY
    {
        if (ds->h5_images >= 0) H5Dclose(ds->h5_images);
        if (ds->h5_file >= 0) H5Fclose(ds->h5_file);
    }
    H5E_END_TRY;
    pthread_mutex_unlock(&h5_lock);
    ds->is_cache = 0;
}

int sl_ds_cache_read(const sl_dataset *ds, int64_t row, uint8_t *chw)
{
    if (ds->pixels) {
        size_t per = (size_t)ds->cc * ds->ch * ds->cw;
        memcpy(chw, ds->pixels + per * (size_t)row, per);
        return SL_OK;
    }
    hsize_t start[4] = {(hsize_t)row, 0, 0, 0};
    hsize_t cnt[4] = {1, (hsize_t)ds->cc, (hsize_t)ds->ch, (hsize_t)ds->cw};
    herr_t e;
    pthread_mutex_lock(&h5_lock);
    H5E_BEGIN_TRY
    {
        hid_t fs = H5Dget_space(ds->h5_images), ms = H5Screate_simple(4, cnt, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
        e = H5Dread(ds->h5_images, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, chw);
        H5Sclose(ms);
        H5Sclose(fs);
    }
    H5E_END_TRY;
    pthread_mutex_unlock(&h5_lock);
    if (e < 0)
        return sl_err(SL_EIO, "%s: reading cached image %lld failed", ds->root, (long long)row);
    return SL_OK;
}

int sl_ds_cache_image(const sl_dataset *ds, int64_t row, sl_image *out)
{
    int rc = sl_image_alloc(ds->cw, ds->ch, ds->cc, out);
    if (rc != SL_OK) return rc;
    size_t plane = (size_t)ds->cw * ds->ch;
    uint8_t *chw = malloc(plane * ds->cc);
    if (!chw) {
        sl_image_free(out);
        return sl_err(SL_ENOMEM, "out of memory reading %s", ds->root);
    }
    if ((rc = sl_ds_cache_read(ds, row, chw)) != SL_OK) {
        free(chw);
        sl_image_free(out);
        return rc;
    }
    for (size_t p = 0; p < plane; p++)
        for (int k = 0; k < ds->cc; k++)
            out->data[p * ds->cc + k] = chw[k * plane + p];
    free(chw);
    return SL_OK;
}
