/* device_run.c: the device side of a split run (device bundle, wire, edge, fallback). */
#include "offloader/device_run.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "model/bundle.h"
#include "model/exec.h"
#include "offloader/backend.h"
#include "offloader/local_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often a request is resent after a BUSY answer, and after losing its connection. */
#define BUSY_RETRIES 5
#define LOST_RETRIES 1
/* After the edge could not be reached, images go straight to the fallback (or fail) for this
 * long before the next attempt, so a dead edge costs one reconnect cycle per period rather than
 * one per image. */
#define DOWN_PERIOD_S 2.0

struct sl_device {
    sl_device_opts o;
    sl_bundle *b;
    sl_exec *exec; /* device half: input -> wire tensors */
    int edge_only;
    int n;
    char names[SL_WIRE_MAX_TENSORS][SL_NAME_MAX];
    uint8_t pair[SL_PAIR_ID_SIZE];
    char pair_hex[33];
    uint64_t wire_bytes;
    sl_input_spec spec;
    sl_runner *fb;
    sl_input_spec fb_spec;
    double down_until;   /* sl_now() before which the edge counts as unreachable */
    double wait_until;   /* while unreachable, sends wait for the edge until then (0 = unset) */
    char down_why[1000]; /* why it was unreachable */
};

/* One image between its device run and its answer. */
typedef struct slot {
    int used, sent;
    uint64_t req;
    double t0;
    sl_wire_tensor w[SL_WIRE_MAX_TENSORS];
    int nw;
    sl_device_result r;
} slot;

/* The device's outputs: sl_bundle_read parsed the /wire description and checked it against the
 * device graph's outputs (model/wire_desc.h). */
static int parse_wire(sl_device *d)
{
    const sl_wire_desc *w = d->b->wire;
    if (!w) return sl_err(SL_EFORMAT, "%s: device bundle has no /wire description", d->o.model);
    if (w->n > SL_WIRE_MAX_TENSORS)
        return sl_err(SL_EFORMAT, "%s: /wire lists %d tensors, a request carries at most %d",
                      d->o.model, w->n, SL_WIRE_MAX_TENSORS);
    for (int i = 0; i < w->n; i++)
        snprintf(d->names[i], SL_NAME_MAX, "%s", w->t[i].name);
    d->n = w->n;
    d->wire_bytes = (uint64_t)w->bytes_per_image;
    return SL_OK;
}

int sl_device_open(const sl_device_opts *o, sl_device **out)
{
    *out = NULL;
    sl_device *d = calloc(1, sizeof *d);
    if (!d) return sl_err(SL_ENOMEM, "out of memory");
    d->o = *o;
    if (d->o.pipeline < 1) d->o.pipeline = 1;
    sl_exec_opts eo = {.fold_bn = o->fold_bn};
    int rc = sl_bundle_read(o->model, &d->b);
    if (rc == SL_OK) {
        sl_input_spec_from_graph(d->b->graph, &d->spec);
        if (!strcmp(d->b->role, "device")) {
            rc = parse_wire(d);
            const char *to[SL_WIRE_MAX_TENSORS];
            for (int i = 0; i < d->n; i++)
                to[i] = d->names[i];
            if (rc == SL_OK) rc = sl_exec_new(d->b->graph, NULL, 0, to, d->n, &eo, &d->exec);
            if (rc == SL_OK) snprintf(d->pair_hex, sizeof d->pair_hex, "%s", d->b->pair_id);
        } else if (!strcmp(d->b->role, "model")) {
            d->edge_only = 1;
            d->wire_bytes = (uint64_t)d->spec.c * (uint64_t)d->spec.h * (uint64_t)d->spec.w;
            rc = sl_backend_model_pair_id(o->model, d->pair_hex);
        } else {
            rc = sl_err(SL_EFORMAT, "%s: role '%s': give a device half or a whole model", o->model,
                        d->b->role);
        }
    }
    if (rc == SL_OK && sl_pair_from_hex(d->pair_hex, d->pair))
        rc = sl_err(SL_EFORMAT, "%s: pair id '%s' is not 32 hex digits", o->model, d->pair_hex);
    if (rc == SL_OK && o->fallback) {
        rc = sl_runner_open(o->fallback, o->fold_bn, &d->fb);
        if (rc == SL_OK)
            rc = sl_runner_check_fallback(d->fb, o->fallback, d->b->graph, d->edge_only, o->model);
        if (rc == SL_OK) sl_input_spec_from_graph(d->fb->bundle->graph, &d->fb_spec);
    }
    if (rc != SL_OK) {
        sl_device_free(d);
        return rc;
    }
    *out = d;
    return SL_OK;
}

void sl_device_free(sl_device *d)
{
    if (!d) return;
    sl_runner_free(d->fb);
    sl_exec_free(d->exec);
    sl_bundle_free(d->b);
    free(d);
}

const char *sl_device_pair_hex(const sl_device *d)
{
    return d->pair_hex;
}
uint64_t sl_device_wire_bytes(const sl_device *d)
{
    return d->wire_bytes;
}
int sl_device_edge_only(const sl_device *d)
{
    return d->edge_only;
}
const char *sl_device_wire_json(const sl_device *d)
{
    return d->edge_only ? NULL : d->b->wire_json;
}

void sl_device_result_clear(sl_device_result *r)
{
    if (!r) return;
    free(r->logits);
    memset(r, 0, sizeof *r);
}

static int value_to_wire(const sl_value *v, sl_wire_tensor *w, const char *name)
{
    int64_t dims[SL_MAX_DIMS];
    int nd = 0;
    sl_tensor_shape(v->t, dims, SL_MAX_DIMS, &nd);
    int rc = sl_wire_tensor_alloc(w, v->quantized ? SL_WIRE_U8 : SL_WIRE_F32, nd, dims);
    if (rc != SL_OK) return sl_err_ctx(rc, "wire tensor '%s': ", name);
    if (sl_tensor_to_buffer(v->t, w->data, w->nbytes)) {
        sl_wire_tensor_free(w);
        return sl_err(SL_ETORCH, "wire tensor '%s': %s", name, sl_torch_last_error());
    }
    w->scale = v->quantized ? (float)v->scale : 1.0f;
    w->zero_point = v->quantized ? (int32_t)v->zero_point : 0;
    return SL_OK;
}

/* Loads the image and runs the device half (or resizes it raw for edge-only) into s->w. */
static int device_compute(sl_device *d, const char *path, slot *s)
{
    int rc;
    if (d->edge_only) {
        sl_image img;
        if ((rc = sl_image_load(path, &img)) != SL_OK) return rc;
        int64_t dims[4] = {1, d->spec.c, d->spec.h, d->spec.w};
        rc = sl_wire_tensor_alloc(&s->w[0], SL_WIRE_U8, 4, dims);
        if (rc == SL_OK)
            rc =
                sl_image_to_u8(&img, d->spec.c, d->spec.h, d->spec.w, d->spec.resize, s->w[0].data);
        sl_image_free(&img);
        s->nw = rc == SL_OK ? 1 : 0;
        return rc == SL_OK ? rc : sl_err_ctx(rc, "%s: ", path);
    }
    sl_tensor *x = NULL;
    char *const one[1] = {(char *)path};
    if ((rc = sl_images_to_tensor(one, 1, &d->spec, &x)) != SL_OK) return rc;
    sl_value in = {.t = x}, out[SL_WIRE_MAX_TENSORS] = {{0}};
    rc = sl_exec_run(d->exec, &in, out);
    for (int i = 0; i < d->n; i++) {
        if (rc == SL_OK && (rc = value_to_wire(&out[i], &s->w[i], d->names[i])) == SL_OK)
            s->nw = i + 1;
        sl_value_clear(&out[i]);
    }
    sl_tensor_free(x);
    return rc;
}

static void free_wire(slot *s)
{
    for (int i = 0; i < s->nw; i++)
        sl_wire_tensor_free(&s->w[i]);
    s->nw = 0;
}

/* Sets the class, score and logits of r from logits y {1, K}. */
static int take_logits(const sl_graph *g, const sl_tensor *y, sl_device_result *r)
{
    int64_t k = sl_tensor_numel(y);
    r->logits = malloc((size_t)(k > 0 ? k : 1) * sizeof(float));
    if (!r->logits) return sl_err(SL_ENOMEM, "out of memory");
    if (sl_tensor_to_buffer(y, r->logits, (size_t)k * sizeof(float)))
        return sl_err(SL_ETORCH, "reading the logits: %s", sl_torch_last_error());
    int rc = sl_top1(y, 0, &r->cls, &r->score);
    if (rc) return sl_err_ctx(rc, "answer: ");
    r->nlogits = (int)k;
    r->class_name = r->cls < g->nclasses && g->classes ? g->classes[r->cls] : NULL;
    return SL_OK;
}

static int edge_answer(sl_device *d, const sl_client_result *cr, sl_device_result *r)
{
    const sl_wire_tensor *o = &cr->output;
    if (o->dtype != SL_WIRE_F32 || o->ndim < 1 || o->dims[0] != 1)
        return sl_err(SL_EFORMAT, "edge answer is not float32 logits of one image");
    sl_tensor *y = NULL;
    if (sl_tensor_from_buffer(o->data, o->dims, o->ndim, SL_DT_F32, &y))
        return sl_err(SL_ETORCH, "edge answer: %s", sl_torch_last_error());
    int rc = take_logits(d->b->graph, y, r);
    sl_tensor_free(y);
    return rc;
}

static int run_fallback(sl_device *d, const char *path, sl_device_result *r)
{
    double t0 = sl_now();
    sl_tensor *x = NULL, *y = NULL;
    char *const one[1] = {(char *)path};
    int rc = sl_images_to_tensor(one, 1, &d->fb_spec, &x);
    if (rc == SL_OK) rc = sl_runner_forward(d->fb, x, &y);
    if (rc == SL_OK) rc = take_logits(d->fb->bundle->graph, y, r);
    sl_tensor_free(x);
    sl_tensor_free(y);
    r->device_s += sl_now() - t0;
    return rc;
}

static void take_timing(sl_device_result *r, const sl_client_timing *t)
{
    r->encode_s += t->encode_s;
    r->transfer_s += t->transfer_s;
    r->edge_queue_s += t->edge_queue_s;
    r->edge_s += t->edge_s;
    r->bytes_up += t->bytes_up;
    r->bytes_down += t->bytes_down;
}

/* Sends s unless the edge is marked unreachable; a send that cannot reach the edge marks it so.
 * Returns whether a result for s->req will come; if not, s->r holds the error. */
static int submit(sl_device *d, sl_client *c, slot *s)
{
    for (;;) {
        double now = sl_now();
        if (now < d->down_until) {
            if (now < d->wait_until) {
                sl_shaper_sleep_until(d->down_until < d->wait_until ? d->down_until
                                                                    : d->wait_until);
                continue;
            }
            s->r.status = SL_ENET;
            snprintf(s->r.error, sizeof s->r.error, "edge not tried (unreachable %.0f s ago): %s",
                     DOWN_PERIOD_S - (d->down_until - now), d->down_why);
            return 0;
        }
        s->req = 0;
        int rc = sl_client_submit_n(c, d->pair, s->w, s->nw, &s->req);
        if (rc == SL_OK) {
            d->wait_until = 0;
            return 1;
        }
        int unreachable = rc == SL_ENET || rc == SL_ETIMEOUT;
        if (unreachable || rc == SL_EAUTH) {
            now = sl_now();
            d->down_until = now + DOWN_PERIOD_S;
            snprintf(d->down_why, sizeof d->down_why, "%s", sl_errmsg());
            /* The wait for the edge to come back starts at its first failure and is re-armed
             * only by a successful send, so a dead edge costs at most edge_wait_s once. */
            if (unreachable && d->o.edge_wait_s > 0 && d->wait_until == 0)
                d->wait_until = now + d->o.edge_wait_s;
            if (unreachable && now < d->wait_until) {
                sl_client_result cr;
                memset(&cr, 0, sizeof cr);
                if (s->req && sl_client_wait(c, s->req, &cr) == SL_OK) sl_client_result_free(&cr);
                continue;
            }
        }
        /* A refused submit still produces a result for its id, which carries the error. */
        if (s->req != 0) return 1;
        s->r.status = rc;
        snprintf(s->r.error, sizeof s->r.error, "%s", sl_errmsg());
        return 0;
    }
}

/* Waits for the answer of s (resending after BUSY or a lost connection), falls back or records
 * the error, and hands the result to sink. */
static void finish(sl_device *d, sl_client *c, slot *s, sl_device_sink sink, void *arg)
{
    sl_device_result *r = &s->r;
    int busy = 0, lost = 0, retried = 0;
    while (s->sent) {
        sl_client_result cr;
        memset(&cr, 0, sizeof cr);
        if (sl_client_wait(c, s->req, &cr) != SL_OK) {
            r->status =
                sl_err(SL_ENOTFOUND, "request %llu has no result", (unsigned long long)s->req);
            snprintf(r->error, sizeof r->error, "%s", sl_errmsg());
            break;
        }
        take_timing(r, &cr.timing);
        r->status = cr.status;
        s->sent = 0;
        if (cr.status == SL_OK) {
            r->status = edge_answer(d, &cr, r);
            if (r->status != SL_OK)
                snprintf(r->error, sizeof r->error, "%s", sl_errmsg());
            else if (!retried)
                r->total_s = r->device_s + cr.timing.total_s;
        } else {
            snprintf(r->error, sizeof r->error, "%s", cr.error);
            int again = (cr.status == SL_EBUSY && busy++ < BUSY_RETRIES) ||
                        (cr.status == SL_ENET && lost++ < LOST_RETRIES);
            if (again) {
                if (cr.status == SL_EBUSY) sl_shaper_sleep_until(sl_now() + cr.retry_after_s);
                retried = 1;
                char first[sizeof r->error], then[sizeof r->error];
                snprintf(first, sizeof first, "%s", r->error);
                s->sent = submit(d, c, s);
                /* It did go out: keep what ended it, not only "edge not tried". */
                if (!s->sent) {
                    snprintf(then, sizeof then, "%s", r->error);
                    snprintf(r->error, sizeof r->error, "%.590s; not sent again: %.590s", first,
                             then);
                }
            }
        }
        sl_client_result_free(&cr);
    }
    if (r->status == SL_OK) {
        r->via = SL_VIA_EDGE;
    } else if (d->fb && s->nw > 0) {
        free(r->logits);
        r->logits = NULL;
        r->nlogits = 0;
        int rc = run_fallback(d, r->file, r);
        r->via = rc == SL_OK ? SL_VIA_FALLBACK : SL_VIA_ERROR;
        if (rc != SL_OK)
            snprintf(r->error + strlen(r->error), sizeof r->error - strlen(r->error),
                     "; fallback: %s", sl_errmsg());
    } else {
        r->via = SL_VIA_ERROR;
    }
    if (r->via == SL_VIA_ERROR) r->cls = -1;
    if (r->via != SL_VIA_EDGE || !r->total_s) r->total_s = sl_now() - s->t0;
    sink(arg, r);
    sl_device_result_clear(r);
    free_wire(s);
    s->used = 0;
}

int sl_device_run(sl_device *d, sl_client *c, char *const *paths, int n, sl_device_sink sink,
                  void *arg)
{
    int p = d->o.pipeline;
    slot *ring = calloc((size_t)p, sizeof *ring);
    if (!ring) return sl_err(SL_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        slot *s = &ring[i % p];
        if (s->used) finish(d, c, s, sink, arg);
        memset(s, 0, sizeof *s);
        s->used = 1;
        s->t0 = sl_now();
        s->r.index = i;
        s->r.file = paths[i];
        s->r.cls = -1;
        int rc = device_compute(d, paths[i], s);
        s->r.device_s = sl_now() - s->t0;
        if (rc != SL_OK) {
            s->r.status = rc;
            snprintf(s->r.error, sizeof s->r.error, "%s", sl_errmsg());
            free_wire(s);
            continue;
        }
        s->sent = submit(d, c, s);
    }
    for (int i = n > p ? n - p : 0; i < n; i++)
        if (ring[i % p].used) finish(d, c, &ring[i % p], sink, arg);
    free(ring);
    return SL_OK;
}
