/* cache.c: writing and reading the HDF5 dataset cache (format in cache.h). */
#include "datasets/cache.h"
#include "datasets/dataset_internal.h"

#include "common/fsutil.h"
#include "common/progress.h"
#include "common/status.h"

#include "h5/h5.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_FORMAT "sl-data-cache"
#define CACHE_VERSION 1
#define BLOCK 256

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
                      const char *path, const cache_meta *m, sl_h5_id *file, sl_h5_id *images)
{
    sl_h5_id f;
    if (sl_h5_create(tmp, &f))
        return sl_err(SL_EIO, "%s: cannot create HDF5 file (is the folder writable?)", path);
    char created[64];
    snprintf(created, sizeof created, "sl-data %s", SL_VERSION);
    int64_t dims[4] = {ds->n, o->c, o->h, o->w};
    int64_t chunk[4] = {1, o->c, o->h, o->w};
    sl_h5_id d = -1;
    int bad =
        sl_h5_attr_write_str(f, "format", CACHE_FORMAT) ||
        sl_h5_attr_write_int(f, "format_version", CACHE_VERSION) ||
        sl_h5_attr_write_str(f, "created_by", created) ||
        sl_h5_attr_write_str(f, "source", ds->root) || sl_h5_attr_write_str(f, "layout", ds->layout) ||
        sl_h5_attr_write_str(f, "resize", o->resize == SL_RESIZE_SHORT_CROP ? "short-crop" : "stretch") ||
        sl_h5_strs_write(f, "classes", (const char *const *)ds->classes, ds->num_classes, 0) ||
        sl_h5_strs_write(f, "problems", m->problems, m->nprob, 2) ||
        sl_h5_dataset_create(f, "images", SL_H5_U8, 4, dims, ds->n ? chunk : NULL, &d);
    if (bad) {
        sl_h5_close(d);
        sl_h5_close(f);
        return sl_err(SL_EIO, "%s: writing the cache header failed", path);
    }
    *file = f;
    *images = d;
    return SL_OK;
}

/* labels, splits and paths of the rows actually stored (known only after decoding). */
static int write_tail(sl_h5_id f, const cache_meta *m)
{
    int64_t n = m->rows;
    int bad = sl_h5_write(f, "labels", SL_H5_I64, 1, &n, m->labels, 0) ||
              sl_h5_write(f, "splits", SL_H5_U8, 1, &n, m->splits, 0) ||
              sl_h5_strs_write(f, "paths", m->paths, m->rows, 0);
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

    sl_h5_id f = -1, images = -1;
    rc = write_file(ds, o, tmp, path, &m, &f, &images);
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
            if (sl_h5_rows_write(images, SL_H5_U8, m.rows, 1, pix + per * k)) {
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

    if (rc == SL_OK) {
        /* rows skipped for decode errors: the chunked image dataset shrinks to fit */
        if ((m.rows < ds->n && sl_h5_set_rows(images, m.rows)) || write_tail(f, &m) < 0 ||
            (m.nprob > ds->nprob && (sl_h5_unlink(f, "problems") ||
                                     sl_h5_strs_write(f, "problems", m.problems, m.nprob, 2))))
            rc = sl_err(SL_EIO, "%s: writing labels and paths failed", path);
    }
    sl_h5_close(images);
    if (sl_h5_close(f) && rc == SL_OK) rc = sl_err(SL_EIO, "%s: closing failed", path);
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
    return sl_h5_is_hdf5(path);
}

static void free_strs(char **v, int64_t n)
{
    for (int64_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* Reads a 1-D array of exactly n elements. */
static int read_array(sl_h5_id f, const char *name, sl_h5_type type, void *v, int64_t n)
{
    sl_h5_info in;
    if (sl_h5_info_get(f, name, &in) || in.ndim != 1) return -1;
    return sl_h5_read(f, name, type, v, n) ? -1 : 0;
}

static int open_cache(sl_dataset *ds, const sl_dataset_opts *opts)
{
    const char *path = ds->root;
    sl_h5_id f;
    ds->h5_file = -1;
    ds->h5_images = -1;
    if (sl_h5_open(path, &f)) return sl_err(SL_EIO, "%s: cannot open HDF5 file", path);
    ds->h5_file = f;
    ds->is_cache = 1;
    char *fmt = NULL;
    sl_h5_attr_read_str(f, "format", &fmt);
    if (!fmt || strcmp(fmt, CACHE_FORMAT)) {
        int rc = sl_err(SL_EFORMAT, "%s: not an sl-data cache (format '%s')", path, fmt ? fmt : "");
        free(fmt);
        return rc;
    }
    free(fmt);
    int version = 0;
    if (sl_h5_attr_read_int(f, "format_version", &version)) version = 0;
    if (version != CACHE_VERSION)
        return sl_err(SL_EFORMAT, "%s: cache format_version %d, this build reads %d", path, version,
                      CACHE_VERSION);
    sl_h5_info in;
    if (!sl_h5_exists(f, "images")) return sl_err(SL_EFORMAT, "%s: cache has no 'images'", path);
    sl_h5_id d;
    if (sl_h5_info_get(f, "images", &in) || sl_h5_dataset_open(f, "images", &d))
        return sl_err(SL_EFORMAT, "%s: 'images' cannot be opened", path);
    ds->h5_images = d;
    if (in.ndim != 4 || !in.numeric || (in.dims[1] != 1 && in.dims[1] != 3) || !in.dims[2] ||
        !in.dims[3] || in.dims[2] > 65536 || in.dims[3] > 65536)
        return sl_err(SL_EFORMAT, "%s: 'images' must be uint8 [N, C(1|3), H, W]", path);
    ds->cc = (int)in.dims[1];
    ds->ch = (int)in.dims[2];
    ds->cw = (int)in.dims[3];
    int64_t n = in.dims[0];
    int64_t limit = opts->cache_memory ? opts->cache_memory : (int64_t)1 << 30;
    int64_t per = (int64_t)ds->cc * ds->ch * ds->cw;
    int64_t bytes = n > INT64_MAX / per ? INT64_MAX : n * per;
    if (limit > 0 && bytes > 0 && bytes <= limit) {
        if (!(ds->pixels = malloc((size_t)bytes)))
            return sl_err(SL_ENOMEM, "%s: out of memory for %lld bytes of images", path,
                          (long long)bytes);
        if (sl_h5_read(f, "images", SL_H5_U8, ds->pixels, n * per))
            return sl_err(SL_EFORMAT, "%s: 'images' cannot be read as uint8", path);
    }
    int64_t nc, np, nprob;
    char **classes, **paths, **probs;
    if (sl_h5_strs_read(f, "classes", &classes, &nc))
        return sl_err(SL_EFORMAT, "%s: cache has no readable 'classes'", path);
    ds->classes = classes;
    ds->num_classes = (int)nc;
    if (sl_h5_strs_read(f, "paths", &paths, &np) || np != n) {
        free_strs(paths, np);
        return sl_err(SL_EFORMAT, "%s: 'paths' missing or not one per image", path);
    }
    int64_t *labels = malloc(sizeof(int64_t) * (size_t)(n + 1));
    uint8_t *splits = malloc((size_t)n + 1);
    int rc = SL_OK;
    if (!labels || !splits)
        rc = sl_err(SL_ENOMEM, "out of memory opening %s", path);
    else if (read_array(f, "labels", SL_H5_I64, labels, n) < 0 ||
             read_array(f, "splits", SL_H5_U8, splits, n) < 0)
        rc = sl_err(SL_EFORMAT, "%s: 'labels' or 'splits' missing or not one per image", path);
    for (int64_t i = 0; rc == SL_OK && i < n; i++) {
        if (labels[i] < 0 || labels[i] >= nc || splits[i] > SL_SPLIT_TEST)
            rc = sl_err(SL_EFORMAT, "%s: row %lld has label %lld / split %d out of range", path,
                        (long long)i, (long long)labels[i], splits[i]);
        else if ((rc = sl_ds_add_item(ds, paths[i], NULL, splits[i], i)) == SL_OK)
            ds->items[ds->n - 1].label = (int)labels[i];
    }
    free(labels);
    free(splits);
    free_strs(paths, np);
    if (rc != SL_OK) return rc;
    if (sl_h5_strs_read(f, "problems", &probs, &nprob) == SL_OK) {
        for (int64_t i = 0; rc == SL_OK && i + 1 < nprob; i += 2)
            rc = sl_ds_add_problem(ds, probs[i], probs[i + 1]);
        free_strs(probs, nprob);
    }
    if (rc == SL_OK) rc = sl_ds_finish(ds, opts->split);
    return rc;
}

int sl_ds_open_cache(sl_dataset *ds, const sl_dataset_opts *opts)
{
    /* One lock for the whole open, so the file's state is read in one piece. */
    sl_h5_lock();
    int rc = open_cache(ds, opts);
    sl_h5_unlock();
    return rc;
}

void sl_ds_close_cache(sl_dataset *ds)
{
    sl_h5_close(ds->h5_images);
    sl_h5_close(ds->h5_file);
    ds->h5_images = ds->h5_file = -1;
    ds->is_cache = 0;
}

int sl_ds_cache_read(const sl_dataset *ds, int64_t row, uint8_t *chw)
{
    if (ds->pixels) {
        size_t per = (size_t)ds->cc * ds->ch * ds->cw;
        memcpy(chw, ds->pixels + per * (size_t)row, per);
        return SL_OK;
    }
    if (sl_h5_rows_read(ds->h5_images, SL_H5_U8, row, 1, chw))
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
