/* local_run.c: whole-model inference on this host, image lists and top-1 results. */
#include "offloader/local_run.h"
#include "common/fsutil.h"
#include "common/status.h"

#include <dirent.h>
#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int sl_runner_open(const char *path, int fold_bn, sl_runner **out)
{
    sl_exec_opts o = {.fold_bn = fold_bn};
    return sl_runner_open_opts(path, &o, out);
}

int sl_runner_open_opts(const char *path, const sl_exec_opts *opts, sl_runner **out)
{
    *out = NULL;
    sl_runner *r = calloc(1, sizeof *r);
    if (!r) return sl_err(SL_ENOMEM, "out of memory");
    int rc = sl_bundle_read(path, &r->bundle);
    sl_exec_opts o = *opts;
    if (!rc && strcmp(r->bundle->role, "model") != 0 && strcmp(r->bundle->role, "checkpoint") != 0)
        rc = sl_err(SL_EFORMAT,
                    "%s: role '%s' is %s half of a split model (pair id %s); this needs a whole "
                    "model (role 'model', e.g. the base.h5 the pair was split from)",
                    path, r->bundle->role,
                    strcmp(r->bundle->role, "device") ? "the edge" : "the device",
                    r->bundle->pair_id[0] ? r->bundle->pair_id : "none");
    if (!rc) {
        const char *to[1] = {r->bundle->graph->outputs[0]};
        rc = sl_exec_new(r->bundle->graph, NULL, 0, to, 1, &o, &r->exec);
    }
    if (rc) {
        sl_runner_free(r);
        return rc;
    }
    *out = r;
    return SL_OK;
}

int sl_runner_forward(sl_runner *r, const sl_tensor *x, sl_tensor **y)
{
    sl_value in = {.t = (sl_tensor *)x}, res = {0};
    *y = NULL;
    int rc = sl_exec_run(r->exec, &in, &res);
    if (rc) return rc;
    *y = res.t;
    return SL_OK;
}

void sl_runner_free(sl_runner *r)
{
    if (!r) return;
    sl_exec_free(r->exec);
    sl_bundle_free(r->bundle);
    free(r);
}

void sl_input_spec_from_graph(const sl_graph *g, sl_input_spec *s)
{
    memset(s, 0, sizeof *s);
    s->c = (int)g->input_shape.d[0];
    s->h = (int)g->input_shape.d[1];
    s->w = (int)g->input_shape.d[2];
    for (int i = 0; i < 4; i++) {
        s->mean[i] = g->mean[i];
        s->std[i] = g->std[i];
    }
    s->resize = SL_RESIZE_STRETCH;
}

struct plist {
    char **v;
    int n, cap;
};

static int plist_add(struct plist *l, const char *p)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char **nv = realloc(l->v, (size_t)cap * sizeof *nv);
        if (!nv) return sl_err(SL_ENOMEM, "out of memory");
        l->v = nv;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(p))) return sl_err(SL_ENOMEM, "out of memory");
    l->n++;
    return SL_OK;
}

static int walk(const char *dir, struct plist *l, int depth)
{
    if (depth > 16) return sl_err(SL_EIO, "%s: folders nested too deep", dir);
    DIR *d = opendir(dir);
    if (!d) return sl_err(SL_EIO, "%s: cannot read folder", dir);
    struct dirent *e;
    int rc = SL_OK;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        if ((rc = sl_path_join(p, sizeof p, dir, e->d_name))) break;
        if (sl_is_dir(p))
            rc = walk(p, l, depth + 1);
        else if (sl_image_has_ext(e->d_name))
            rc = plist_add(l, p);
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sl_path_list(const char *spec, char ***paths, int *n)
{
    *paths = NULL;
    *n = 0;
    struct plist l = {0};
    int rc = SL_OK;
    if (sl_is_dir(spec)) {
        rc = walk(spec, &l, 0);
    } else if (sl_is_file(spec)) {
        rc = plist_add(&l, spec);
    } else {
        glob_t gl;
        int g = glob(spec, 0, NULL, &gl);
        if (g == 0)
            for (size_t i = 0; i < gl.gl_pathc && !rc; i++)
                if (sl_is_file(gl.gl_pathv[i])) rc = plist_add(&l, gl.gl_pathv[i]);
        if (g == 0) globfree(&gl);
    }
    if (!rc && l.n == 0)
        rc = sl_err(SL_ENOTFOUND, "%s: no images (.png, .jpg, .jpeg, .bmp) found", spec);
    if (rc) {
        sl_path_list_free(l.v, l.n);
        return rc;
    }
    qsort(l.v, (size_t)l.n, sizeof *l.v, cmp_str);
    *paths = l.v;
    *n = l.n;
    return SL_OK;
}

void sl_path_list_free(char **paths, int n)
{
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

int sl_images_to_tensor(char *const *paths, int n, const sl_input_spec *s, sl_tensor **out)
{
    *out = NULL;
    int64_t shape[4] = {n, s->c, s->h, s->w};
    float *data;
    if (sl_tensor_empty(shape, 4, SL_DT_F32, out) || sl_tensor_data_ptr(*out, (void **)&data))
        return sl_err(SL_ETORCH, "%s", sl_torch_last_error());
    size_t per = (size_t)s->c * (size_t)s->h * (size_t)s->w;
    for (int i = 0; i < n; i++) {
        sl_image img;
        int rc = sl_image_load(paths[i], &img);
        if (!rc) rc = sl_image_to_input(&img, s, data + per * (size_t)i);
        sl_image_free(&img);
        if (rc) {
            sl_tensor_free(*out);
            *out = NULL;
            return rc;
        }
    }
    return SL_OK;
}

int sl_images_to_tensor_each(char *const *paths, int n, const sl_input_spec *s, sl_tensor **out,
                             char **why)
{
    *out = NULL;
    for (int i = 0; i < n; i++)
        why[i] = NULL;
    int64_t shape[4] = {n, s->c, s->h, s->w};
    float *data;
    if (sl_tensor_zeros(shape, 4, SL_DT_F32, out) || sl_tensor_data_ptr(*out, (void **)&data)) {
        sl_tensor_free(*out);
        *out = NULL;
        return sl_err(SL_ETORCH, "%s", sl_torch_last_error());
    }
    size_t per = (size_t)s->c * (size_t)s->h * (size_t)s->w;
    for (int i = 0; i < n; i++) {
        sl_image img;
        int rc = sl_image_load(paths[i], &img);
        if (!rc) rc = sl_image_to_input(&img, s, data + per * (size_t)i);
        sl_image_free(&img);
        if (rc) {
            memset(data + per * (size_t)i, 0, per * sizeof(float));
            why[i] = strdup(sl_errmsg());
            if (!why[i]) {
                sl_images_why_free(why, i);
                sl_tensor_free(*out);
                *out = NULL;
                return sl_err(SL_ENOMEM, "out of memory");
            }
        }
    }
    return SL_OK;
}

void sl_images_why_free(char **why, int n)
{
    for (int i = 0; i < n; i++) {
        free(why[i]);
        why[i] = NULL;
    }
}

int sl_top1(const sl_tensor *logits, int64_t row, int *cls, double *prob)
{
    int64_t shape[SL_MAX_DIMS];
    int nd;
    sl_tensor *c = NULL;
    if (sl_tensor_shape(logits, shape, SL_MAX_DIMS, &nd) || nd != 2 || row >= shape[0])
        return sl_err(SL_ESHAPE, "logits must be {N, K} with row %lld present", (long long)row);
    if (sl_tensor_clone(logits, &c)) return sl_err(SL_ETORCH, "%s", sl_torch_last_error());
    float *v;
    sl_tensor_data_ptr(c, (void **)&v);
    v += row * shape[1];
    for (int k = 0; k < shape[1]; k++) {
        if (!isfinite(v[k])) {
            int bad = k;
            sl_tensor_free(c);
            return sl_err(SL_EFORMAT,
                          "logit %d of %lld is %s: the model gave no usable answer (non-finite "
                          "weights or activations)",
                          bad, (long long)shape[1], isnan(v[bad]) ? "NaN" : "infinite");
        }
    }
    int best = 0;
    for (int k = 1; k < shape[1]; k++)
        if (v[k] > v[best]) best = k;
    double sum = 0;
    for (int k = 0; k < shape[1]; k++)
        sum += exp((double)v[k] - v[best]);
    *cls = best;
    *prob = 1.0 / sum;
    sl_tensor_free(c);
    return SL_OK;
}

/* K of a whole model's logits {K}, or -1 when its output is not a vector. */
static int64_t n_logits(const sl_graph *g)
{
    sl_shape sh;
    if (g->noutputs < 1 || sl_graph_tensor_shape(g, g->outputs[0], &sh) || sh.ndim != 1) return -1;
    return sh.d[0];
}

int sl_runner_check_fallback(const sl_runner *fb, const char *fb_path, const sl_graph *pair,
                             int pair_is_whole, const char *pair_path)
{
    const sl_graph *f = fb->bundle->graph;
    const sl_shape *a = &f->input_shape, *b = &pair->input_shape;
    if (a->d[0] != b->d[0] || a->d[1] != b->d[1] || a->d[2] != b->d[2])
        return sl_err(SL_EARG,
                      "fallback %s takes %lldx%lldx%lld images but %s was made for %lldx%lldx%lld: "
                      "give the whole model the pair was split from",
                      fb_path, (long long)a->d[0], (long long)a->d[1], (long long)a->d[2],
                      pair_path, (long long)b->d[0], (long long)b->d[1], (long long)b->d[2]);
    int64_t kf = n_logits(f);
    if (kf < 1)
        return sl_err(SL_EFORMAT, "fallback %s: its output is not a vector of logits", fb_path);
    if ((f->nclasses > 0) != (pair->nclasses > 0))
        return sl_err(SL_EARG, "fallback %s %s class names, %s %s: they are not the same model",
                      fb_path, f->nclasses ? "has" : "has no", pair_path,
                      pair->nclasses ? "has" : "has none");
    if (pair->nclasses > 0) {
        if (f->nclasses != pair->nclasses)
            return sl_err(SL_EARG,
                          "fallback %s has %d classes, %s has %d: give the whole model "
                          "the pair was split from",
                          fb_path, f->nclasses, pair_path, pair->nclasses);
        for (int i = 0; i < f->nclasses; i++)
            if (strcmp(f->classes[i], pair->classes[i]) != 0)
                return sl_err(SL_EARG, "fallback %s calls class %d '%s', %s calls it '%s'", fb_path,
                              i, f->classes[i], pair_path, pair->classes[i]);
    }
    if (f->nclasses > 0 && kf != f->nclasses)
        return sl_err(SL_EFORMAT, "fallback %s: %lld logits for %d class names", fb_path,
                      (long long)kf, f->nclasses);
    int64_t kp = pair_is_whole ? n_logits(pair) : -1;
    if (kp > 0 && kp != kf)
        return sl_err(SL_EARG,
                      "fallback %s gives %lld logits, %s gives %lld: give the whole "
                      "model the pair was split from",
                      fb_path, (long long)kf, pair_path, (long long)kp);
    return SL_OK;
}
