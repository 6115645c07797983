/* runner.c: a whole model bundle loaded and planned for inference, and the fallback check. */
#include "offloader/runner.h"
#include "common/status.h"

#include <stdlib.h>
#include <string.h>

int sl_runner_open(const char *path, int fold_bn, sl_runner **out)
{
    sl_exec_opts o = {.fold_bn = fold_bn};
    return sl_runner_open_opts(path, &o, out);
}

/* SL_OK when b (read from path) is a whole model, role "model" or "checkpoint"; else SL_EFORMAT
 * naming the file, its role and its pair id. */
static int check_whole(const sl_bundle *b, const char *path)
{
    if (strcmp(b->role, "model") == 0 || strcmp(b->role, "checkpoint") == 0) return SL_OK;
    return sl_err(SL_EFORMAT,
                  "%s: role '%s' is %s half of a split model (pair id %s); this needs a whole "
                  "model (role 'model', e.g. the base.h5 the pair was split from)",
                  path, b->role, strcmp(b->role, "device") ? "the edge" : "the device",
                  b->pair_id[0] ? b->pair_id : "none");
}

int sl_runner_open_opts(const char *path, const sl_exec_opts *opts, sl_runner **out)
{
    *out = NULL;
    sl_runner *r = calloc(1, sizeof *r);
    if (!r) return sl_err(SL_ENOMEM, "out of memory");
    /* The file is checked in a child, then its role on the structure alone, before the weights
     * are read: reading them loads the model runtime (about a second of CPU), which refusing a
     * half of a split model should not pay. */
    sl_bundle *s = NULL;
    int rc = sl_bundle_check_isolated(path, path, SL_BUNDLE_CHECK_WEIGHTS, 0);
    if (!rc) rc = sl_bundle_read_structure(path, &s);
    if (!rc) rc = check_whole(s, path);
    sl_bundle_free(s);
    if (!rc) rc = sl_bundle_read(path, &r->bundle);
    sl_exec_opts o = *opts;
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
