/* local_run.c: image lists, images to input tensors and top-1 results for running a model on
 * this host. */
#include "offloader/local_run.h"
#include "common/fsutil.h"
#include "common/status.h"

#include <dirent.h>
#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* Loads paths[0..n) into a new {n, C, H, W} float tensor *out. With why NULL the first image that
 * cannot be loaded fails the whole batch (its error, *out NULL); with why, its row is zeroed,
 * why[i] gets the reason and the others go on. */
static int images_to_tensor(char *const *paths, int n, const sl_input_spec *s, sl_tensor **out,
                            char **why)
{
    *out = NULL;
    for (int i = 0; why && i < n; i++)
        why[i] = NULL;
    int64_t shape[4] = {n, s->c, s->h, s->w};
    float *data;
    if (sl_tensor_empty(shape, 4, SL_DT_F32, out) || sl_tensor_data_ptr(*out, (void **)&data)) {
        sl_tensor_free(*out);
        *out = NULL;
        return sl_err(SL_ETORCH, "%s", sl_torch_last_error());
    }
    size_t per = (size_t)s->c * (size_t)s->h * (size_t)s->w;
    int rc = SL_OK;
    for (int i = 0; i < n && !rc; i++) {
        sl_image img;
        int bad = sl_image_load(paths[i], &img);
        if (!bad) bad = sl_image_to_input(&img, s, data + per * (size_t)i);
        sl_image_free(&img);
        if (!bad) continue;
        if (!why) {
            rc = bad;
            break;
        }
        memset(data + per * (size_t)i, 0, per * sizeof(float));
        if (!(why[i] = strdup(sl_errmsg()))) {
            sl_images_why_free(why, i);
            rc = sl_err(SL_ENOMEM, "out of memory");
        }
    }
    if (rc) {
        sl_tensor_free(*out);
        *out = NULL;
    }
    return rc;
}

int sl_images_to_tensor(char *const *paths, int n, const sl_input_spec *s, sl_tensor **out)
{
    return images_to_tensor(paths, n, s, out, NULL);
}

int sl_images_to_tensor_each(char *const *paths, int n, const sl_input_spec *s, sl_tensor **out,
                             char **why)
{
    return images_to_tensor(paths, n, s, out, why);
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
