/* backend.c: the edge server's model backend: edge halves from their placeholders, whole models
 * on raw images (edge-only). */
#include "offloader/backend.h"
#include "common/status.h"
#include "datasets/image.h"
#include "model/bundle.h"
#include "model/exec.h"
#include "offloader/sha256.h"
#include "offloader/local_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wire_entry {
    char name[SL_NAME_MAX];
    int dtype; /* SL_WIRE_F32 / SL_WIRE_U8 */
    sl_shape shape;
} wire_entry;

typedef struct bmodel {
    sl_bundle *b;
    sl_exec *exec;
    int edge_only;
    int n; /* wire tensors (edge half) */
    wire_entry w[SL_WIRE_MAX_TENSORS];
    sl_input_spec spec; /* edge-only */
} bmodel;

/* The wire tensors of an edge half: sl_bundle_read parsed the /wire description and checked it
 * against the placeholders (model/wire_desc.h); here it only becomes the request's layout. */
static int parse_wire(const char *path, bmodel *m)
{
    const sl_wire_desc *w = m->b->wire;
    if (!w) return sl_err(SL_EFORMAT, "%s: edge bundle has no /wire description", path);
    if (w->n > SL_WIRE_MAX_TENSORS)
        return sl_err(SL_EFORMAT, "%s: /wire lists %d tensors, a request carries at most %d", path,
                      w->n, SL_WIRE_MAX_TENSORS);
    for (int i = 0; i < w->n; i++) {
        snprintf(m->w[i].name, sizeof m->w[i].name, "%s", w->t[i].name);
        m->w[i].dtype = w->t[i].u8 ? SL_WIRE_U8 : SL_WIRE_F32;
        m->w[i].shape = w->t[i].shape;
    }
    m->n = w->n;
    return SL_OK;
}

static void model_free(bmodel *m)
{
    if (!m) return;
    sl_exec_free(m->exec);
    sl_bundle_free(m->b);
    free(m);
}

static int be_load(void *ctx, const char *path, void **out, char pair_id[33])
{
    const sl_backend_opts *o = ctx;
    *out = NULL;
    bmodel *m = calloc(1, sizeof *m);
    if (!m) return sl_err(SL_ENOMEM, "out of memory");
    int rc = sl_bundle_read(path, &m->b);
    if (rc == SL_OK) {
        sl_exec_opts eo = {.fold_bn = o->fold_bn};
        if (!strcmp(m->b->role, "edge")) {
            rc = parse_wire(path, m);
            const char *from[SL_WIRE_MAX_TENSORS];
            for (int i = 0; i < m->n; i++)
                from[i] = m->w[i].name;
            if (rc == SL_OK) rc = sl_exec_new(m->b->graph, from, m->n, NULL, 0, &eo, &m->exec);
            if (rc == SL_OK) snprintf(pair_id, 33, "%s", m->b->pair_id);
        } else if (!strcmp(m->b->role, "model")) {
            m->edge_only = 1;
            sl_input_spec_from_graph(m->b->graph, &m->spec);
            rc = sl_exec_new(m->b->graph, NULL, 0, NULL, 0, &eo, &m->exec);
            if (rc == SL_OK) rc = sl_backend_model_pair_id(path, pair_id);
        } else {
            rc = sl_err(SL_EFORMAT, "%s: a bundle with role '%s' cannot be served (edge or model)",
                        path, m->b->role);
        }
    }
    if (rc != SL_OK) {
        model_free(m);
        return rc;
    }
    *out = m;
    return SL_OK;
}

static void be_unload(void *ctx, void *model)
{
    (void)ctx;
    model_free(model);
}

static const char *dtype_name(int dt)
{
    return dt == SL_WIRE_F32 ? "float32" : dt == SL_WIRE_U8 ? "uint8" : "unknown";
}

/* Checks t against the expected dtype and per-image shape; the batch must equal *batch when
 * set (> 0), else sets it. */
static int check_tensor(const sl_wire_tensor *t, const char *name, int dtype, const sl_shape *s,
                        int64_t *batch)
{
    char got[128];
    sl_wire_describe(t, got, sizeof got);
    int ok = t->dtype == dtype && t->ndim == s->ndim + 1 && (*batch == 0 || t->dims[0] == *batch);
    for (int i = 0; ok && i < s->ndim; i++)
        ok = t->dims[i + 1] == s->d[i];
    if (!ok) {
        char want[128];
        int n = snprintf(want, sizeof want, "%s[N", dtype_name(dtype));
        for (int i = 0; i < s->ndim && n < (int)sizeof want; i++)
            n += snprintf(want + n, sizeof want - (size_t)n, "x%lld", (long long)s->d[i]);
        return sl_err(SL_ESHAPE, "tensor '%s': expected %s]%s, got %s", name, want,
                      *batch ? " with the batch of the first tensor" : "", got);
    }
    *batch = t->dims[0];
    return SL_OK;
}

/* The raw uint8 image batch normalised for the model, as sl_image_to_input computes it. */
static int normalise(const bmodel *m, const sl_wire_tensor *t, sl_tensor **x)
{
    size_t plane = (size_t)m->spec.h * (size_t)m->spec.w, n = (size_t)t->dims[0];
    float *buf = malloc(n * (size_t)m->spec.c * plane * sizeof *buf);
    if (!buf) return sl_err(SL_ENOMEM, "out of memory for the input of %zu image(s)", n);
    const uint8_t *src = t->data;
    for (size_t img = 0; img < n; img++) {
        for (int k = 0; k < m->spec.c; k++) {
            float a = 1.0f / (255.0f * m->spec.std[k]), b = -m->spec.mean[k] / m->spec.std[k];
            size_t off = (img * (size_t)m->spec.c + (size_t)k) * plane;
            for (size_t i = 0; i < plane; i++)
                buf[off + i] = (float)src[off + i] * a + b;
        }
    }
    int rc = sl_tensor_from_buffer(buf, t->dims, 4, SL_DT_F32, x);
    free(buf);
    return rc ? sl_err(rc, "edge-only input: %s", sl_torch_last_error()) : SL_OK;
}

static int be_run(void *ctx, void *model, const sl_wire_tensor *in, int nin, sl_wire_tensor *out)
{
    (void)ctx;
    bmodel *m = model;
    memset(out, 0, sizeof *out);
    int expect = m->edge_only ? 1 : m->n;
    if (nin != expect)
        return sl_err(SL_ESHAPE, "the bundle takes %d tensor(s), the request holds %d", expect,
                      nin);
    int64_t batch = 0;
    int rc = SL_OK;
    sl_value vin[SL_WIRE_MAX_TENSORS] = {{0}}, vout = {0};
    if (m->edge_only) {
        const sl_shape *s = &m->b->graph->input_shape;
        rc = check_tensor(&in[0], "raw image", SL_WIRE_U8, s, &batch);
        if (rc == SL_OK) rc = normalise(m, &in[0], &vin[0].t);
    } else {
        for (int i = 0; rc == SL_OK && i < nin; i++) {
            const wire_entry *e = &m->w[i];
            rc = check_tensor(&in[i], e->name, e->dtype, &e->shape, &batch);
            if (rc != SL_OK) break;
            sl_dtype dt = e->dtype == SL_WIRE_U8 ? SL_DT_U8 : SL_DT_F32;
            if ((rc = sl_tensor_from_buffer(in[i].data, in[i].dims, in[i].ndim, dt, &vin[i].t))) {
                rc = sl_err(rc, "tensor '%s': %s", e->name, sl_torch_last_error());
                break;
            }
            vin[i].quantized = e->dtype == SL_WIRE_U8;
            vin[i].scale = in[i].scale;
            vin[i].zero_point = in[i].zero_point;
        }
    }
    if (rc == SL_OK) rc = sl_exec_run(m->exec, vin, &vout);
    sl_tensor *y = NULL;
    if (rc == SL_OK && (rc = sl_tensor_to_dtype(vout.t, SL_DT_F32, &y)))
        rc = sl_err(rc, "output: %s", sl_torch_last_error());
    if (rc == SL_OK) {
        int64_t dims[SL_MAX_DIMS];
        int nd = 0;
        sl_tensor_shape(y, dims, SL_MAX_DIMS, &nd);
        rc = nd >= 1 && nd <= SL_WIRE_MAX_DIMS ? sl_wire_tensor_alloc(out, SL_WIRE_F32, nd, dims)
                                               : sl_err(SL_ESHAPE, "output has %d dimensions", nd);
        if (rc == SL_OK && sl_tensor_to_buffer(y, out->data, out->nbytes)) {
            rc = sl_err(SL_ETORCH, "output: %s", sl_torch_last_error());
            sl_wire_tensor_free(out);
        }
    }
    sl_tensor_free(y);
    sl_value_clear(&vout);
    for (int i = 0; i < SL_WIRE_MAX_TENSORS; i++)
        sl_value_clear(&vin[i]);
    return rc;
}

/* The warm runs: requests of batch 1 made of zeros (uint8 with scale 1, zero point 0 for an
 * 8-bit wire; the raw image for a whole model), through be_run as a device's would go. The
 * graph executor profiles a compiled module's first calls and then specialises it, so one run
 * is not enough: SL_WARM_RUNS of them reach the graph later requests run. */
static int be_warm(void *ctx, void *model)
{
    bmodel *m = model;
    int n = m->edge_only ? 1 : m->n, rc = SL_OK;
    sl_wire_tensor in[SL_WIRE_MAX_TENSORS], out;
    memset(in, 0, sizeof in);
    for (int i = 0; rc == SL_OK && i < n; i++) {
        const sl_shape *s = m->edge_only ? &m->b->graph->input_shape : &m->w[i].shape;
        int64_t dims[SL_WIRE_MAX_DIMS] = {1};
        if (s->ndim + 1 > SL_WIRE_MAX_DIMS) {
            rc = sl_err(SL_ESHAPE, "an input of %d dimensions", s->ndim);
            break;
        }
        for (int k = 0; k < s->ndim; k++)
            dims[k + 1] = s->d[k];
        rc = sl_wire_tensor_alloc(&in[i], m->edge_only ? SL_WIRE_U8 : m->w[i].dtype, s->ndim + 1,
                                  dims);
    }
    for (int r = 0; rc == SL_OK && r < SL_WARM_RUNS; r++)
        if ((rc = be_run(ctx, m, in, n, &out)) == SL_OK) sl_wire_tensor_free(&out);
    for (int i = 0; i < n; i++)
        sl_wire_tensor_free(&in[i]);
    return rc;
}

int sl_backend_init(const sl_backend_opts *opts, sl_edge_backend *be)
{
    memset(be, 0, sizeof *be);
    sl_backend_opts *o = malloc(sizeof *o);
    if (!o) return sl_err(SL_ENOMEM, "out of memory");
    *o = *opts;
    be->ctx = o;
    be->load = be_load;
    be->run = be_run;
    be->unload = be_unload;
    be->warm = be_warm;
    return SL_OK;
}

void sl_backend_free(sl_edge_backend *be)
{
    if (!be) return;
    free(be->ctx);
    memset(be, 0, sizeof *be);
}

int sl_backend_model_pair_id(const char *path, char pair_hex[33])
{
    uint8_t d[SL_SHA256_SIZE];
    int rc = sl_sha256_file(path, d);
    if (rc != SL_OK) return rc;
    for (int i = 0; i < 16; i++)
        snprintf(pair_hex + 2 * i, 3, "%02x", d[i]);
    return SL_OK;
}
