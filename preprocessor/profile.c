/* profile.c: timing a model's blocks, nodes, whole run and transfer layers on this host. */
#include "preprocessor/profile.h"

#include "common/cpuquota.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "datasets/image.h"
#include "model/exec.h"
#include "preprocessor/tl.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* What the wire adds to a tensor's data: the frame header (offloader/proto.h, 40 bytes) and the
 * tensor payload's head, 28 bytes + 4 per dimension (offloader/wire.h). */
#define FRAME_HEAD 40
#define TENSOR_HEAD(ndim) (28 + 4 * (ndim))

/* Timing samples of one measured thing. */
typedef struct stats {
    double median, p10, p90;
} stats;

struct ctx {
    sl_graph *g;
    const sl_profile_opts *o;
    sl_value *vals; /* per position (0 = input, i + 1 = node i): the value of a full run */
    double *samples;
    sl_progress *pg;
    uint64_t done;
    /* The sample batches the wire is measured on: nsamp inputs, their raw uint8 images
     * (nsamp x raw_n bytes) and, per batch, the value at every cut (nsamp x ncuts). */
    int nsamp, ncuts;
    sl_tensor **xs;
    uint8_t *raw;
    size_t raw_n;
    sl_value *cutv;
    sl_input_spec spec; /* how the device loads an image for this model */
    size_t per;         /* values of one image */
};

/* A new plan's first calls are not its steady cost: libtorch's profiling graph executor records
 * the graph's shapes on the first call and builds its optimised graph on the second (the compiled
 * segments of model/exec.c, shim/sl_torch.cpp). One thread, process CPU time, 5 Dec: resnet18's
 * prefix to layer2.1 at 224 px took 12.0 and 12.0 ms, then 10.3-10.7 ms from the third call;
 * mobilenet_v2's whole model 15.8 and 16.5 ms, then 6.3-6.8 ms. The device and the edge warm
 * every plan SL_WARM_RUNS (3) times before the first image (offloader/backend.h), so the profile
 * runs every plan this many times untimed, before and whatever `warmup` adds: with `--warmup 1`
 * the first timed repeat of every block, prefix, suffix and TL was the executor's compiling run. */
#define SETTLE_RUNS 2

/* Runs plan e SETTLE_RUNS + `warmup` + `repeats` times on `in`, discarding the outputs; the last
 * `repeats` are timed. */
static int time_exec(struct ctx *c, sl_exec *e, const sl_value *in, int nout, stats *st)
{
    sl_value *out = calloc((size_t)nout, sizeof *out);
    if (!out) return sl_err(SL_ENOMEM, "out of memory");
    int total = SETTLE_RUNS + c->o->warmup + c->o->repeats, skip = SETTLE_RUNS + c->o->warmup;
    for (int r = 0; r < total; r++) {
        double t0 = sl_slow_now();
        int rc = sl_exec_run(e, in, out);
        double dt = sl_slow_now() - t0;
        for (int k = 0; k < nout; k++)
            sl_value_clear(&out[k]);
        if (rc) {
            free(out);
            return rc;
        }
        if (r >= skip) c->samples[r - skip] = dt;
    }
    free(out);
    size_t n = (size_t)c->o->repeats;
    st->median = sl_median(c->samples, n);
    st->p10 = sl_percentile(c->samples, n, 10);
    st->p90 = sl_percentile(c->samples, n, 90);
    return SL_OK;
}

/* Plans g from `from` to one tensor `to`, feeds the values in, and times it. */
static int time_range(struct ctx *c, sl_graph *g, const char *const *from, const sl_value *in,
                      int nfrom, const char *to, stats *st)
{
    sl_exec *e = NULL;
    sl_exec_opts eo = {.fold_bn = 1};
    int rc = sl_exec_new(g, from, nfrom, &to, 1, &eo, &e);
    if (!rc) rc = time_exec(c, e, in, 1, st);
    if (e) sl_exec_free(e);
    if (rc) return sl_err_ctx(rc, "timing '%s': ", to);
    return SL_OK;
}

static void tick(struct ctx *c, const char *what)
{
    sl_progress_update(c->pg, ++c->done, what);
}

/* ---- the wire codec, as offloader/wire.c applies it ------------------------------------- */

/* One tensor through the device's codec: the sender copies it out of the tensor and tries zstd
 * at `level` when it has at least min_bytes, keeping the result only when it saves 1/8; the
 * receiver decompresses (or copies) it back. *bytes is what the frame carries; *enc_s / *dec_s
 * the two ends' times (only when `time` is set: the median of `reps` runs). */
static int codec_run(const sl_profile_opts *o, const uint8_t *raw, size_t n, int ndim, int reps,
                     double *samples, int64_t *bytes, double *enc_s, double *dec_s)
{
    size_t bound = ZSTD_compressBound(n);
    uint8_t *copy = malloc(n ? n : 1), *z = malloc(bound), *payload = malloc(bound > n ? bound : n);
    uint8_t *back = malloc(n ? n : 1);
    if (!copy || !z || !payload || !back) {
        free(copy);
        free(z);
        free(payload);
        free(back);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    int rc = SL_OK;
    size_t len = n;
    int packed = 0;
    for (int r = 0; r < reps && !rc; r++) {
        double t0 = sl_slow_now();
        memcpy(copy, raw, n);
        len = n;
        packed = 0;
        if (o->codec_level > 0 && n >= (size_t)o->codec_min_bytes) {
            size_t zn = ZSTD_compress(z, bound, copy, n, o->codec_level);
            if (ZSTD_isError(zn)) {
                rc = sl_err(SL_EIO, "zstd: %s", ZSTD_getErrorName(zn));
                break;
            }
            if (zn <= n - n / 8) {
                len = zn;
                packed = 1;
            }
        }
        memcpy(payload, packed ? z : copy, len);
        double t1 = sl_slow_now();
        if (packed) {
            size_t got = ZSTD_decompress(back, n, payload, len);
            if (ZSTD_isError(got) || got != n) rc = sl_err(SL_EIO, "zstd: round trip failed");
        } else {
            memcpy(back, payload, len);
        }
        double t2 = sl_slow_now();
        if (samples) {
            samples[r] = t1 - t0;
            samples[reps + r] = t2 - t1;
        }
    }
    if (!rc && samples) {
        *enc_s = sl_median(samples, (size_t)reps);
        *dec_s = sl_median(samples + reps, (size_t)reps);
    }
    *bytes = (int64_t)(FRAME_HEAD + TENSOR_HEAD(ndim) + len);
    free(copy);
    free(z);
    free(payload);
    free(back);
    return rc;
}

/* A value's bytes as the device sends them (float32, or uint8 for a quantised wire). */
static int value_raw(const sl_value *v, uint8_t **buf, size_t *n, int *ndim)
{
    int64_t dims[SL_MAX_DIMS];
    sl_tensor_shape(v->t, dims, SL_MAX_DIMS, ndim);
    *n = sl_tensor_nbytes(v->t);
    *buf = malloc(*n ? *n : 1);
    if (!*buf) return sl_err(SL_ENOMEM, "out of memory");
    if (sl_tensor_to_buffer(v->t, *buf, *n)) {
        free(*buf);
        *buf = NULL;
        return sl_err(SL_ETORCH, "%s", sl_torch_last_error());
    }
    return SL_OK;
}

/* The wire figures of one tensor over the sample batches: bytes averaged over every sample
 * (value k of `vals`, stride apart), codec times measured on the first. */
static int wire_of_values(struct ctx *c, const sl_value *vals, size_t stride, sl_prof_wire *w)
{
    double sum = 0;
    for (int k = 0; k < c->nsamp; k++) {
        uint8_t *buf;
        size_t n;
        int nd;
        int rc = value_raw(&vals[(size_t)k * stride], &buf, &n, &nd);
        int64_t b = 0;
        if (!rc)
            rc = codec_run(c->o, buf, n, nd, k ? 1 : c->o->repeats, k ? NULL : c->samples, &b,
                           &w->enc_s, &w->dec_s);
        free(buf);
        if (rc) return rc;
        sum += (double)b;
    }
    w->bytes = (int64_t)(sum / c->nsamp + 0.5);
    return SL_OK;
}

/* The raw uint8 images an edge-only device sends, through the codec. */
static int wire_of_raw(struct ctx *c, sl_prof_wire *w)
{
    double sum = 0;
    for (int k = 0; k < c->nsamp; k++) {
        int64_t b = 0;
        int rc = codec_run(c->o, c->raw + (size_t)k * c->raw_n, c->raw_n, 4, k ? 1 : c->o->repeats,
                           k ? NULL : c->samples, &b, &w->enc_s, &w->dec_s);
        if (rc) return rc;
        sum += (double)b;
    }
    w->bytes = (int64_t)(sum / c->nsamp + 0.5);
    return SL_OK;
}

/* ---- sample inputs --------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends every image (sl_image_has_ext: PNG, JPEG, BMP) under dir (recursively) to *v. */
static int collect_images(const char *dir, char ***v, int *n, int *cap, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return sl_err(SL_EIO, "%s: cannot open the folder", dir);
    struct dirent *e;
    int rc = SL_OK;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        if (sl_path_join(path, sizeof path, dir, e->d_name)) continue;
        if (sl_is_dir(path)) {
            if (depth < 8) rc = collect_images(path, v, n, cap, depth + 1);
            continue;
        }
        if (!sl_image_has_ext(e->d_name)) continue;
        if (*n == *cap) {
            int nc = *cap ? *cap * 2 : 64;
            char **nv = realloc(*v, (size_t)nc * sizeof *nv);
            if (!nv) {
                rc = sl_err(SL_ENOMEM, "out of memory");
                break;
            }
            *v = nv;
            *cap = nc;
        }
        if (!((*v)[*n] = strdup(path))) rc = sl_err(SL_ENOMEM, "out of memory");
        else (*n)++;
    }
    closedir(d);
    return rc;
}

int sl_profile_sample_images(const char *spec, int max, char ***paths, int *n)
{
    *paths = NULL;
    *n = 0;
    char **v = NULL;
    int cnt = 0, cap = 0, rc = SL_OK;
    if (sl_is_dir(spec)) {
        rc = collect_images(spec, &v, &cnt, &cap, 0);
    } else if (sl_is_file(spec)) {
        v = malloc(sizeof *v);
        if (!v || !(v[0] = strdup(spec))) rc = sl_err(SL_ENOMEM, "out of memory");
        else cnt = 1;
    } else {
        rc = sl_err(SL_EIO, "%s: no such file or folder", spec);
    }
    if (!rc && cnt == 0) rc = sl_err(SL_EARG, "%s: no images in it (.png, .jpg, .jpeg or .bmp)", spec);
    if (rc) {
        for (int i = 0; i < cnt; i++)
            free(v[i]);
        free(v);
        return rc;
    }
    qsort(v, (size_t)cnt, sizeof *v, cmp_str);
    /* Evenly spaced over the sorted list, so class folders are all represented. */
    int keep = max > 0 && cnt > max ? max : cnt;
    char **out = malloc((size_t)keep * sizeof *out);
    if (!out) rc = sl_err(SL_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < keep; i++) {
        int at = (int)((int64_t)i * cnt / keep);
        out[i] = v[at];
        v[at] = NULL;
    }
    for (int i = 0; i < cnt; i++)
        free(v[i]);
    free(v);
    if (rc) return rc;
    *paths = out;
    *n = keep;
    return SL_OK;
}

/* Loads the sample batches: o->nimages images (cycled to fill whole batches) into c->nsamp
 * float inputs and raw uint8 images, timing both loads per batch; or, without images, one
 * random normal batch with random raw bytes. */
static int load_samples(struct ctx *c, sl_profile *p)
{
    const sl_profile_opts *o = c->o;
    sl_graph *g = c->g;
    sl_input_spec spec = {.c = (int)g->input_shape.d[0],
                          .h = (int)g->input_shape.d[1],
                          .w = (int)g->input_shape.d[2],
                          .resize = SL_RESIZE_STRETCH};
    for (int i = 0; i < 4; i++) {
        spec.mean[i] = g->mean[i];
        spec.std[i] = g->std[i];
    }
    int64_t shape[4] = {o->batch, spec.c, spec.h, spec.w};
    size_t per = (size_t)spec.c * (size_t)spec.h * (size_t)spec.w;
    c->spec = spec;
    c->per = per;
    c->nsamp = o->nimages > o->batch ? o->nimages / o->batch : 1;
    c->raw_n = per * (size_t)o->batch;
    c->xs = calloc((size_t)c->nsamp, sizeof *c->xs);
    c->raw = malloc((size_t)c->nsamp * c->raw_n);
    if (!c->xs || !c->raw) return sl_err(SL_ENOMEM, "out of memory");
    if (o->nimages == 0) {
        if (sl_tensor_randn(shape, 4, &c->xs[0]))
            return sl_err(SL_ETORCH, "input: %s", sl_torch_last_error());
        for (size_t i = 0; i < c->raw_n; i++)
            c->raw[i] = (uint8_t)(rand() & 0xff);
        return SL_OK;
    }
    double load = 0, raw_load = 0;
    for (int k = 0; k < c->nsamp; k++) {
        float *data;
        if (sl_tensor_empty(shape, 4, SL_DT_F32, &c->xs[k]) ||
            sl_tensor_data_ptr(c->xs[k], (void **)&data))
            return sl_err(SL_ETORCH, "input: %s", sl_torch_last_error());
        for (int b = 0; b < o->batch; b++) {
            const char *path = o->images[(k * o->batch + b) % o->nimages];
            sl_image img;
            double t0 = sl_slow_now();
            int rc = sl_image_load(path, &img);
            double t1 = sl_slow_now();
            if (!rc) rc = sl_image_to_input(&img, &spec, data + per * (size_t)b);
            double t2 = sl_slow_now();
            uint8_t *raw = c->raw + (size_t)k * c->raw_n + per * (size_t)b;
            if (!rc) rc = sl_image_to_u8(&img, spec.c, spec.h, spec.w, spec.resize, raw);
            double t3 = sl_slow_now();
            sl_image_free(&img);
            if (rc) return sl_err_ctx(rc, "sample image %s: ", path);
            /* Both devices decode the PNG; the split one normalises to float, the edge-only
             * one resizes to uint8. */
            load += (t1 - t0) + (t2 - t1);
            raw_load += (t1 - t0) + (t3 - t2);
        }
    }
    /* The first loads above pay for cold caches and libpng's set-up. These estimates are the
     * medians of `repeats` warm loads of the first image (or the mean above when it is
     * smaller); measure_ranges replaces them with loads timed where a device loads, between
     * the runs (a model without an inner cut keeps them). */
    int reps = o->repeats;
    double *fs = malloc(2 * (size_t)reps * sizeof *fs), *rs = fs ? fs + reps : NULL;
    float *tmp = malloc(per * sizeof *tmp);
    uint8_t *tmp8 = malloc(per);
    int rc = fs && tmp && tmp8 ? SL_OK : sl_err(SL_ENOMEM, "out of memory");
    for (int r = 0; !rc && r < reps; r++) {
        sl_image img;
        double t0 = sl_slow_now();
        rc = sl_image_load(o->images[0], &img);
        double t1 = sl_slow_now();
        if (!rc) rc = sl_image_to_input(&img, &spec, tmp);
        double t2 = sl_slow_now();
        if (!rc) rc = sl_image_to_u8(&img, spec.c, spec.h, spec.w, spec.resize, tmp8);
        double t3 = sl_slow_now();
        sl_image_free(&img);
        fs[r] = (t2 - t0) * o->batch;
        rs[r] = ((t1 - t0) + (t3 - t2)) * o->batch;
    }
    if (!rc) {
        double fm = sl_median(fs, (size_t)reps), rm = sl_median(rs, (size_t)reps);
        p->load_s = fm < load / c->nsamp ? fm : load / c->nsamp;
        p->raw_load_s = rm < raw_load / c->nsamp ? rm : raw_load / c->nsamp;
    }
    free(fs);
    free(tmp);
    free(tmp8);
    return rc;
}

/* One full run keeping the value of every node (the inputs of node and block timings). */
static int run_all(struct ctx *c, const sl_tensor *x)
{
    sl_graph *g = c->g;
    int nn = g->nnodes;
    const char **to = malloc((size_t)nn * sizeof *to);
    if (!to) return sl_err(SL_ENOMEM, "out of memory");
    for (int i = 0; i < nn; i++)
        to[i] = g->nodes[i].name;
    sl_exec *e;
    sl_exec_opts eo = {0};
    int rc = sl_exec_new(g, NULL, 0, to, nn, &eo, &e);
    free(to);
    if (rc) return rc;
    rc = sl_tensor_share(x, &c->vals[0].t) ? sl_err(SL_ETORCH, "%s", sl_torch_last_error()) : SL_OK;
    if (!rc) rc = sl_exec_run(e, &c->vals[0], c->vals + 1);
    sl_exec_free(e);
    return rc;
}

static int64_t value_bytes(const sl_shape *s, int u8, int batch)
{
    return sl_shape_numel(s) * (u8 ? 1 : 4) * batch;
}

static void copy_shape(const sl_shape *s, int64_t *dims, int *rank)
{
    *rank = s->ndim;
    for (int i = 0; i < s->ndim; i++)
        dims[i] = s->d[i];
}

static int measure_nodes(struct ctx *c, sl_profile *p)
{
    sl_graph *g = c->g;
    p->n_nodes = g->nnodes;
    if (!(p->nodes = calloc((size_t)g->nnodes, sizeof *p->nodes)))
        return sl_err(SL_ENOMEM, "out of memory");
    for (int i = 0; i < g->nnodes; i++) {
        sl_node *n = &g->nodes[i];
        sl_prof_node *pn = &p->nodes[i];
        pn->name = strdup(n->name);
        pn->op = strdup(sl_op_name(n->op));
        pn->inputs = calloc((size_t)n->ninputs + 1, sizeof *pn->inputs);
        if (!pn->name || !pn->op || !pn->inputs) return sl_err(SL_ENOMEM, "out of memory");
        pn->n_inputs = n->ninputs;
        for (int k = 0; k < n->ninputs; k++)
            if (!(pn->inputs[k] = strdup(n->inputs[k]))) return sl_err(SL_ENOMEM, "out of memory");
        copy_shape(&n->out, pn->out_shape, &pn->out_rank);
        pn->out_bytes = value_bytes(&n->out, n->op == SL_OP_QUANTIZE, c->o->batch);
        /* Each distinct input once: a node may read one tensor twice (add(x, x)). */
        const char *from[n->ninputs + 1];
        sl_value in[n->ninputs + 1];
        int nf = 0;
        for (int k = 0; k < n->ninputs; k++) {
            int dup = 0;
            for (int j = 0; j < nf; j++)
                dup |= !strcmp(from[j], n->inputs[k]);
            if (dup) continue;
            from[nf] = n->inputs[k];
            in[nf++] = c->vals[n->in_idx[k] + 1];
        }
        if (n->op != SL_OP_PLACEHOLDER) {
            stats st = {0, 0, 0};
            int rc = time_range(c, g, from, in, nf, n->name, &st);
            if (rc) return rc;
            pn->median_s = st.median;
        }
        tick(c, n->name);
    }
    return SL_OK;
}

static int measure_blocks(struct ctx *c, sl_profile *p, const int *cuts, int ncuts)
{
    sl_graph *g = c->g;
    p->n_cuts = ncuts;
    p->n_blocks = ncuts - 1;
    p->cuts = calloc((size_t)ncuts, sizeof *p->cuts);
    p->blocks = calloc((size_t)ncuts, sizeof *p->blocks);
    if (!p->cuts || !p->blocks) return sl_err(SL_ENOMEM, "out of memory");
    for (int i = 0; i < ncuts; i++) {
        sl_prof_cut *pc = &p->cuts[i];
        const char *name = cuts[i] < 0 ? g->input_name : g->nodes[cuts[i]].name;
        sl_shape s;
        sl_graph_tensor_shape(g, name, &s);
        if (!(pc->tensor = strdup(name))) return sl_err(SL_ENOMEM, "out of memory");
        pc->node_index = cuts[i];
        copy_shape(&s, pc->shape, &pc->rank);
        pc->bytes = value_bytes(&s, 0, c->o->batch);
    }
    for (int i = 0; i + 1 < ncuts; i++) {
        sl_prof_block *b = &p->blocks[i];
        b->from_cut = i;
        b->to_cut = i + 1;
        b->first_node = cuts[i] + 1;
        b->last_node = cuts[i + 1];
        stats st = {0, 0, 0};
        const char *from = p->cuts[i].tensor;
        int rc = time_range(c, g, &from, &c->vals[cuts[i] + 1], 1, p->cuts[i + 1].tensor, &st);
        if (rc) return rc;
        b->median_s = st.median;
        b->p10_s = st.p10;
        b->p90_s = st.p90;
        p->block_sum_s += st.median;
        tick(c, p->cuts[i + 1].tensor);
    }
    return SL_OK;
}

static int measure_total(struct ctx *c, sl_profile *p)
{
    sl_exec *e;
    sl_exec_opts eo = {.fold_bn = 1};
    stats st = {0, 0, 0};
    int rc = sl_exec_new(c->g, NULL, 0, NULL, 0, &eo, &e);
    if (rc) return rc;
    rc = time_exec(c, e, &c->vals[0], c->g->noutputs, &st);
    sl_exec_free(e);
    if (rc) return sl_err_ctx(rc, "timing the whole model: ");
    p->total_median_s = st.median;
    p->total_p10_s = st.p10;
    p->total_p90_s = st.p90;
    p->gap_s = st.median - p->block_sum_s;
    tick(c, "whole model");
    return SL_OK;
}

/* The value at every cut (but the input) for every sample batch, into c->cutv. */
static int sample_cuts(struct ctx *c, const sl_profile *p)
{
    sl_graph *g = c->g;
    const int nc = p->n_cuts;
    const char **to = malloc((size_t)nc * sizeof *to);
    c->ncuts = nc;
    c->cutv = calloc((size_t)c->nsamp * (size_t)nc, sizeof *c->cutv);
    if (!to || !c->cutv) {
        free(to);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    for (int i = 1; i < nc; i++)
        to[i - 1] = p->cuts[i].tensor;
    sl_exec *e;
    sl_exec_opts eo = {0};
    int rc = sl_exec_new(g, NULL, 0, to, nc - 1, &eo, &e);
    free(to);
    if (rc) return rc;
    for (int k = 0; !rc && k < c->nsamp; k++) {
        sl_value in = {0};
        if (sl_tensor_share(c->xs[k], &in.t)) {
            rc = sl_err(SL_ETORCH, "%s", sl_torch_last_error());
            break;
        }
        rc = sl_exec_run(e, &in, &c->cutv[(size_t)k * nc + 1]);
        sl_value_clear(&in);
    }
    sl_exec_free(e);
    return rc;
}

/* Every cut's tensor and the raw image through the codec (docs/profile.md, "Wire"). */
static int measure_wire(struct ctx *c, sl_profile *p)
{
    int rc = wire_of_raw(c, &p->input_wire);
    p->cuts[0].wire = p->input_wire;
    for (int i = 1; !rc && i < p->n_cuts; i++) {
        rc = wire_of_values(c, &c->cutv[i], (size_t)p->n_cuts, &p->cuts[i].wire);
        tick(c, p->cuts[i].tensor);
    }
    p->has_wire = !rc;
    return rc;
}

/* Plans g from `from` (nfrom tensors) to `to` (NULL: every output) for inference. */
static int plan_range(sl_graph *g, const char *from, const char *to, sl_exec **e)
{
    sl_exec_opts eo = {.fold_bn = 1};
    const char *f[1] = {from}, *t[1] = {to};
    int rc = sl_exec_new(g, from ? f : NULL, from ? 1 : 0, to ? t : NULL, to ? 1 : 0, &eo, e);
    return rc ? sl_err_ctx(rc, "planning %s -> %s: ", from ? from : "input", to ? to : "output")
              : SL_OK;
}

/* Runs e once on `in`, discarding the outputs; *dt its time on the device's clock. With idle > 0
 * the thread first sleeps that long, as a split's halves wait for the network between images. */
static int run_once(sl_exec *e, const sl_value *in, int nout, sl_value *out, double idle,
                    double *dt)
{
    if (idle > 0) sl_sleep_until(sl_now() + idle);
    double t0 = sl_slow_now();
    int rc = sl_exec_run(e, in, out);
    *dt = sl_slow_now() - t0;
    for (int k = 0; k < nout; k++)
        sl_value_clear(&out[k]);
    return rc;
}

/* Runs a newly planned e SETTLE_RUNS times untimed (see time_exec). */
static int settle(sl_exec *e, const sl_value *in, int nout, sl_value *out)
{
    int rc = SL_OK;
    double dt;
    for (int r = 0; !rc && r < SETTLE_RUNS; r++)
        rc = run_once(e, in, nout, out, 0, &dt);
    return rc;
}

/* Loads sample image k (cycled) as a device does for one image of a batch: decoded and
 * normalised to float (raw: resized to uint8, as edge-only sends it), into out; *dt its time on
 * the device's clock. */
static int time_load(struct ctx *c, int k, int raw, void *out, double *dt)
{
    const char *path = c->o->images[k % c->o->nimages];
    sl_image img;
    double t0 = sl_slow_now();
    int rc = sl_image_load(path, &img);
    if (!rc) {
        rc = raw ? sl_image_to_u8(&img, c->spec.c, c->spec.h, c->spec.w, c->spec.resize, out)
                 : sl_image_to_input(&img, &c->spec, out);
        sl_image_free(&img);
    }
    *dt = (sl_slow_now() - t0) * c->o->batch;
    return rc ? sl_err_ctx(rc, "sample image %s: ", path) : SL_OK;
}

/* Local-only as the slow device runs it, image after image (sl-offload bench's local mode,
 * offloader/bench.c): one span per image, the image's load and the whole model, lasting its CPU
 * time / share (paced, common/cpuquota.h), the next span starting where it ends. After each cut's
 * turns, untimed spans run for LOCAL_LEAD_S of wall time (1 to LOCAL_LEAD_MAX), then `repeats`
 * timed ones, image after image: in the
 * profile's turns the idle waits, the prefix and the suffix (plans with their own copies of the
 * weights) run between two wholes, and a run after an idle wait costs more (docs/profile.md,
 * "Runs after an idle wait"), while the bench's local images follow each other with the core
 * busy throughout. A whole timed after one paced whole there cost 3.5 % more CPU than the
 * bench's (mobilenet_v2 at 224 px, 25 %, load 4-7, paired samples in one process), after two
 * 0.4 % more; on the idle host the old profile, one paced whole before the timed one, predicted
 * local 17-19 % high where that whole's busy wait lasted 22 ms (mobilenet_v2 at 25 %) and
 * 10-12 % where it lasted 63-66 ms (mobilenet_v2 at 10 %, resnet18 at 25 %). */
#define LOCAL_LEAD_S 0.1
/* ... but no more spans than this: a tiny model's spans of a few microseconds are not worth
 * 0.1 s of every inner cut (tinycnn has 13). A version with two lead spans and one timed span
 * at the end of every turn still read mobilenet_v2's local-only 12.5 % above the bench at
 * 25 % (34.1 against 30.3 ms, 13:17 UTC, load 1.2); this one 2.7 % (31.1 ms), minutes apart. */
#define LOCAL_LEAD_MAX 16

/* One local-only image as a slow device runs it: a paced span of (with sample images) the load
 * of image k and the whole model ew; *dl and *dw their times on the device's clock. */
static int local_span(struct ctx *c, sl_exec *ew, int k, void *buf, sl_value *outs, double *dl,
                      double *dw)
{
    sl_slow_span span;
    sl_slow_begin(&span);
    int rc = buf ? time_load(c, k, 0, buf, dl) : SL_OK;
    if (!rc) rc = run_once(ew, &c->vals[0], c->g->noutputs, outs, 0, dw);
    sl_slow_end(&span);
    return rc;
}

/* Each cut's prefix (input -> cut) and suffix (cut -> output) run as one range, as the device
 * and edge halves of a split there run, each after the idle gap (the wait for the network
 * between images), and with a gap the whole model after it too (edge-only's edge). They are run
 * in turn, one repeat of each at a time, so a burst of load on a shared host falls on all alike.
 * Each turn ends with the whole model run as prefix and suffix run (after the gap, or back to
 * back without one), the cut's whole_s, so prefix + suffix is compared with a whole measured at
 * the same moments; after a cut's turns the whole runs image after image as local-only runs it
 * (local_span), spread so over the whole measurement. The whole model's figures are taken over
 * every cut: the image-after-image one is the total and the last cut's prefix, the one after the
 * gap cut 0's suffix. Every plan first runs SETTLE_RUNS times untimed (time_exec). */
static int measure_ranges(struct ctx *c, sl_profile *p)
{
    sl_graph *g = c->g;
    const int last = p->n_cuts - 1, reps = c->o->repeats, total = c->o->warmup + reps;
    const double gap = c->o->idle_gap_s;
    const char *out = p->cuts[last].tensor;
    const int turns = last < 2 ? 1 : last - 1;
    double *whole = malloc(2 * (size_t)turns * (size_t)reps * sizeof *whole);
    double *idle = whole ? whole + (size_t)turns * (size_t)reps : NULL;
    double *pre = malloc(3 * (size_t)reps * sizeof *pre), *suf = pre + reps, *own = suf + reps;
    sl_value *outs = calloc((size_t)g->noutputs + 1, sizeof *outs);
    sl_exec *ew = NULL;
    int rc = !whole || !pre || !outs ? sl_err(SL_ENOMEM, "out of memory") : SL_OK;
    if (!rc && (last >= 2 || gap > 0)) rc = plan_range(g, NULL, NULL, &ew);
    if (ew && !rc) rc = settle(ew, &c->vals[0], g->noutputs, outs);
    size_t nw = 0, ni = 0, nfl = 0, nrl = 0;
    /* Image loads, with sample images: floats and uint8 into buf, their times into fl and rl. */
    int nl = 0;
    void *buf = NULL;
    double *fl = NULL, *rl = NULL;
    if (!rc && c->o->nimages > 0 && last >= 2) {
        buf = malloc(c->per * sizeof(float));
        fl = malloc(3 * (size_t)turns * (size_t)reps * sizeof *fl);
        rl = fl ? fl + 2 * (size_t)turns * (size_t)reps : NULL;
        if (!buf || !fl) rc = sl_err(SL_ENOMEM, "out of memory");
    }
    /* Without a cut in between, only the whole after the gap is left to measure. */
    for (int r = 0; !rc && last < 2 && gap > 0 && r < total; r++) {
        double dw;
        rc = run_once(ew, &c->vals[0], g->noutputs, outs, gap, &dw);
        if (!rc && r >= c->o->warmup) idle[ni++] = dw;
    }
    for (int i = 1; !rc && i < last; i++) {
        sl_prof_cut *pc = &p->cuts[i];
        sl_exec *ep = NULL, *es = NULL;
        const sl_value *at = &c->vals[pc->node_index + 1];
        rc = plan_range(g, g->input_name, pc->tensor, &ep);
        if (!rc) rc = plan_range(g, pc->tensor, out, &es);
        if (!rc) rc = settle(ep, &c->vals[0], 1, outs);
        if (!rc) rc = settle(es, at, 1, outs);
        for (int r = 0; !rc && r < total; r++) {
            double dp, ds, di = 0, dl = 0;
            /* A split device loads its image right after the network wait, then runs its
             * prefix: the load (float, or in every other turn uint8 as edge-only sends it)
             * is timed there. */
            const int raw = r & 1;
            if (gap > 0) sl_sleep_until(sl_now() + gap);
            if (buf) rc = time_load(c, nl++, raw, buf, &dl);
            if (!rc) rc = run_once(ep, &c->vals[0], 1, outs, 0, &dp);
            if (!rc) rc = run_once(es, at, 1, outs, gap, &ds);
            /* The whole as prefix and suffix run, after the gap (edge-only's edge), or back to
             * back without one: the figure prefix + suffix is compared with, taken in the
             * same turn. */
            if (!rc) rc = run_once(ew, &c->vals[0], g->noutputs, outs, gap, &di);
            if (rc || r < c->o->warmup) continue;
            if (buf) (raw ? rl : fl)[raw ? nrl++ : nfl++] = dl;
            pre[r - c->o->warmup] = dp;
            suf[r - c->o->warmup] = ds;
            own[r - c->o->warmup] = di;
            if (gap > 0) idle[ni++] = di;
        }
        /* Local-only: untimed spans for LOCAL_LEAD_S (1 to LOCAL_LEAD_MAX of them), then
         * `reps` timed ones, image after image. */
        double lead_end = sl_now() + LOCAL_LEAD_S, dll = 0, dw;
        for (int k = 0; !rc && k < LOCAL_LEAD_MAX && (k == 0 || sl_now() < lead_end); k++)
            rc = local_span(c, ew, nl++, buf, outs, &dll, &dw);
        for (int r = 0; !rc && r < reps; r++) {
            rc = local_span(c, ew, nl++, buf, outs, &dll, &dw);
            if (rc) break;
            if (buf) fl[nfl++] = dll;
            whole[nw++] = dw;
        }
        if (ep) sl_exec_free(ep);
        if (es) sl_exec_free(es);
        if (rc) {
            rc = sl_err_ctx(rc, "prefix and suffix at '%s': ", pc->tensor);
            break;
        }
        pc->prefix_s = sl_median(pre, (size_t)reps);
        pc->suffix_s = sl_median(suf, (size_t)reps);
        pc->whole_s = sl_median(own, (size_t)reps);
        tick(c, pc->tensor);
    }
    if (!rc) {
        if (nw) {
            p->total_median_s = sl_median(whole, nw);
            p->total_p10_s = sl_percentile(whole, nw, 10);
            p->total_p90_s = sl_percentile(whole, nw, 90);
            p->gap_s = p->total_median_s - p->block_sum_s;
        }
        p->cuts[last].prefix_s = p->total_median_s;
        p->cuts[0].suffix_s = ni ? sl_median(idle, ni) : p->total_median_s;
        p->idle_gap_s = gap;
        p->has_ranges = 1;
        /* These replace the estimates of load_samples, taken back to back on one image. */
        if (nfl) p->load_s = sl_median(fl, nfl);
        if (nrl) p->raw_load_s = sl_median(rl, nrl);
    }
    free(buf);
    free(fl);
    if (ew) sl_exec_free(ew);
    free(whole);
    free(pre);
    free(outs);
    return rc;
}

/* Inserts TL cfg at cut pc on a copy of the model (fresh weights) and times its encoder
 * (X -> wire) and decoder (wire -> decoder_out) sub-ranges on the value x of X. The weights are
 * those `sl-preprocess insert` gives (seed 1, its default), so the wire sizes measured here are
 * the inserted TL's before fine-tuning: with the generator's state left by earlier cuts, the
 * wire of mobilenet_v2's TL at features.1 was 6107 bytes here against 8528 from insert's. */
static int measure_tl_one(struct ctx *c, int cut, sl_prof_cut *pc, const sl_value *x,
                          const char *id, const sl_tl_config *cfg)
{
    sl_graph *t = NULL;
    int rc = sl_graph_clone(c->g, &t);
    sl_manual_seed(1);
    if (!rc) rc = sl_tl_insert(t, pc->tensor, cfg);
    if (rc) {
        sl_graph_free(t);
        return rc;
    }
    sl_tl_info info;
    sl_exec *enc = NULL;
    sl_exec_opts eo = {.fold_bn = 1};
    sl_value wire = {0};
    stats se = {0, 0, 0}, sd = {0, 0, 0};
    const char *from = pc->tensor;
    rc = sl_tl_info_get(t, &info);
    const char *to = info.wire;
    if (!rc) rc = sl_exec_new(t, &from, 1, &to, 1, &eo, &enc);
    if (!rc) rc = sl_exec_run(enc, x, &wire);
    if (!rc) rc = time_exec(c, enc, x, 1, &se);
    from = info.wire;
    if (!rc) rc = time_range(c, t, &from, &wire, 1, info.decoder_out, &sd);
    if (!rc) {
        sl_prof_tl *tl = &pc->tl[pc->n_tl];
        if (!(tl->config = strdup(id))) rc = sl_err(SL_ENOMEM, "out of memory");
        tl->enc_s = se.median;
        tl->dec_s = sd.median;
        sl_shape ws;
        sl_graph_tensor_shape(t, info.wire, &ws);
        tl->bytes = value_bytes(&ws, cfg->bits == 8, c->o->batch);
        /* The encoder's output on every sample batch, through the codec. */
        sl_value *wv = calloc((size_t)c->nsamp, sizeof *wv);
        if (!wv) rc = sl_err(SL_ENOMEM, "out of memory");
        for (int k = 0; !rc && k < c->nsamp; k++)
            rc = sl_exec_run(enc, &c->cutv[(size_t)k * c->ncuts + cut], &wv[k]);
        if (!rc) rc = wire_of_values(c, wv, 1, &tl->wire);
        for (int k = 0; wv && k < c->nsamp; k++)
            sl_value_clear(&wv[k]);
        free(wv);
        /* A TL that sends no fewer bytes than the cut itself (a pool at 1x1) is no candidate. */
        if (!rc && tl->bytes < pc->bytes) {
            pc->n_tl++;
        } else if (!rc) {
            free(tl->config);
            tl->config = NULL;
        }
    }
    sl_value_clear(&wire);
    if (enc) sl_exec_free(enc);
    sl_graph_free(t);
    return rc;
}

static int measure_tls(struct ctx *c, sl_profile *p, const sl_tl_config *cfgs)
{
    /* Not at cut 0 (edge-only: the raw image is sent) nor at the last cut (local-only). */
    for (int i = 1; c->o->ntl > 0 && i + 1 < p->n_cuts; i++) {
        sl_prof_cut *pc = &p->cuts[i];
        if (pc->rank != 3) continue;
        if (!(pc->tl = calloc((size_t)c->o->ntl, sizeof *pc->tl)))
            return sl_err(SL_ENOMEM, "out of memory");
        const sl_value *x = &c->vals[pc->node_index + 1];
        for (int k = 0; k < c->o->ntl; k++) {
            int rc = measure_tl_one(c, i, pc, x, c->o->tl[k], &cfgs[k]);
            if (rc) return sl_err_ctx(rc, "transfer layer %s at '%s': ", c->o->tl[k], pc->tensor);
            tick(c, pc->tensor);
        }
    }
    return SL_OK;
}

/* Bytes per second of framing a tensor for the wire: a copy into the frame and its zlib CRC-32,
 * as the offloader does. */
static int serialise_speed(int64_t bytes, double *speed)
{
    size_t n = bytes > (1 << 20) ? (size_t)bytes : (size_t)1 << 20;
    unsigned char *src = malloc(n), *dst = malloc(n);
    if (!src || !dst) {
        free(src);
        free(dst);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        src[i] = (unsigned char)(i * 131u);
    double t0 = sl_slow_now(), dt;
    uint64_t moved = 0;
    uLong crc = 0;
    do {
        memcpy(dst, src, n);
        crc ^= crc32(0L, dst, (uInt)n);
        moved += n;
        /* The next copy is not the same work: nothing for the compiler to skip. */
        src[crc % n] ^= 1;
        dt = sl_slow_now() - t0;
    } while (dt < 0.05 || moved < 4 * n);
    free(src);
    free(dst);
    *speed = (double)moved / dt;
    return SL_OK;
}

static char *cpu_model(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    static const char *const keys[] = {"model name", "Hardware",  "Model",
                                       "cpu model",  "Processor", NULL};
    char found[sizeof keys / sizeof keys[0]][256];
    memset(found, 0, sizeof found);
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        for (int k = 0; keys[k]; k++) {
            if (found[k][0] || strncmp(line, keys[k], strlen(keys[k]))) continue;
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            v[strcspn(v, "\n")] = '\0';
            snprintf(found[k], sizeof found[k], "%s", v);
        }
    }
    if (f) fclose(f);
    for (int k = 0; keys[k]; k++)
        if (found[k][0]) return strdup(found[k]);
    return strdup("unknown");
}

static int fill_host(sl_profile *p, const sl_graph *g, const sl_profile_opts *o)
{
    char host[256] = "unknown", date[64];
    if (gethostname(host, sizeof host)) strcpy(host, "unknown");
    host[sizeof host - 1] = '\0';
    sl_utc_iso8601(date, sizeof date);
    p->model = strdup(g->name);
    p->host = strdup(host);
    p->cpu = cpu_model();
    p->date = strdup(date);
    p->input_name = strdup(g->input_name);
    if (!p->model || !p->host || !p->cpu || !p->date || !p->input_name)
        return sl_err(SL_ENOMEM, "out of memory");
    p->threads = sl_get_num_threads();
    p->batch = o->batch;
    p->warmup = o->warmup;
    p->repeats = o->repeats;
    copy_shape(&g->input_shape, p->input_shape, &p->input_rank);
    p->input_bytes = value_bytes(&g->input_shape, 0, o->batch);
    p->input_raw_bytes = value_bytes(&g->input_shape, 1, o->batch);
    p->codec = strdup(o->codec_level > 0 ? "zstd" : "none");
    if (!p->codec) return sl_err(SL_ENOMEM, "out of memory");
    p->codec_level = o->codec_level > 0 ? o->codec_level : 0;
    p->codec_min_bytes = o->codec_min_bytes;
    p->images = o->nimages;
    return sl_graph_hash(g, p->graph_hash);
}

int sl_profile_measure(sl_graph *g, const sl_profile_opts *o, sl_profile **out)
{
    *out = NULL;
    if (o->batch < 1 || o->warmup < 0 || o->repeats < 1 || o->threads < 0 || o->ntl < 0 ||
        o->nimages < 0 || o->codec_level > 22 || o->codec_min_bytes < 0 ||
        !(o->idle_gap_s >= 0 && o->idle_gap_s <= 60))
        return sl_err(SL_EARG, "profile: batch and repeats must be >= 1, warmup, threads and "
                               "images >= 0, the zstd level at most 22, the idle gap 0 to 60 s");
    sl_profile_opts eff = *o;
    if (eff.codec_level == 0) eff.codec_level = SL_PROFILE_ZSTD_LEVEL;
    if (eff.codec_level < 0) eff.codec_level = 0;
    if (eff.codec_min_bytes == 0) eff.codec_min_bytes = SL_PROFILE_ZSTD_MIN_BYTES;
    o = &eff;
    if (!g->validated) return sl_err(SL_EARG, "graph '%s' is not validated", g->name);
    if (g->tl_json && o->ntl > 0)
        return sl_err(SL_EARG,
                      "'%s' already has a transfer layer, so no other can be measured at "
                      "its cuts: profile the model without it, or measure no TL (--tl none)",
                      g->name);
    sl_tl_config cfgs[o->ntl + 1];
    for (int k = 0; k < o->ntl; k++) {
        int rc = sl_tl_parse_config(o->tl[k], &cfgs[k]);
        if (rc) return rc;
        for (int j = 0; j < k; j++)
            if (!strcmp(o->tl[j], o->tl[k]))
                return sl_err(SL_EARG, "transfer layer '%s' is listed twice", o->tl[k]);
    }
    if (o->threads > 0 && sl_set_num_threads(o->threads))
        return sl_err(SL_ETORCH, "setting %d threads: %s", o->threads, sl_torch_last_error());
    int *cuts = NULL, ncuts = 0;
    int rc = sl_graph_cut_points(g, &cuts, &ncuts);
    if (rc) return rc;
    struct ctx c = {.g = g, .o = o};
    sl_profile *p = calloc(1, sizeof *p);
    c.vals = calloc((size_t)g->nnodes + 1, sizeof *c.vals);
    /* Codec timings keep encode and decode samples side by side. */
    c.samples = calloc(2 * (size_t)o->repeats, sizeof *c.samples);
    if (!p || !c.vals || !c.samples) rc = sl_err(SL_ENOMEM, "out of memory");
    int ntl_cuts = 0;
    for (int i = 1; i + 1 < ncuts; i++) {
        sl_shape s;
        sl_graph_tensor_shape(g, cuts[i] < 0 ? g->input_name : g->nodes[cuts[i]].name, &s);
        ntl_cuts += s.ndim == 3;
    }
    if (o->progress)
        c.pg = sl_progress_start("profiling", (uint64_t)(g->nnodes + ncuts + (ncuts - 1) +
                                                         (ncuts - 2) + ntl_cuts * o->ntl));
    if (!rc) rc = fill_host(p, g, o);
    if (!rc) rc = load_samples(&c, p);
    if (!rc) rc = run_all(&c, c.xs[0]);
    if (!rc) rc = measure_blocks(&c, p, cuts, ncuts);
    if (!rc) rc = measure_total(&c, p);
    if (!rc) rc = measure_ranges(&c, p);
    if (!rc) rc = sample_cuts(&c, p);
    if (!rc) rc = measure_wire(&c, p);
    if (!rc) rc = measure_nodes(&c, p);
    if (!rc) rc = measure_tls(&c, p, cfgs);
    if (!rc) {
        int64_t biggest = p->input_bytes;
        for (int i = 0; i < p->n_cuts; i++)
            biggest = p->cuts[i].bytes > biggest ? p->cuts[i].bytes : biggest;
        rc = serialise_speed(biggest, &p->serialise_bytes_per_s);
    }
    if (!rc) rc = sl_profile_validate(p, "measured profile");
    char extra[96];
    snprintf(extra, sizeof extra, "%s: %.4fs per run", g->name, p ? p->total_median_s : 0.0);
    sl_progress_done(c.pg, rc ? "failed" : extra);
    for (int i = 0; c.vals && i <= g->nnodes; i++)
        sl_value_clear(&c.vals[i]);
    free(c.vals);
    free(c.samples);
    free(cuts);
    for (int k = 0; c.xs && k < c.nsamp; k++)
        sl_tensor_free(c.xs[k]);
    free(c.xs);
    free(c.raw);
    for (size_t k = 0; c.cutv && k < (size_t)c.nsamp * (size_t)c.ncuts; k++)
        sl_value_clear(&c.cutv[k]);
    free(c.cutv);
    if (rc) {
        sl_profile_free(p);
        return rc;
    }
    *out = p;
    return SL_OK;
}
