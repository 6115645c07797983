/* device_run.c: the device side of a split run (device bundle, wire, edge, fallback). */
#include "offloader/device_run.h"
#include "common/cpuquota.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "model/bundle.h"
#include "model/exec.h"
#include "offloader/backend.h"
#include "offloader/local_run.h"
#include "offloader/plan_bundles.h"
#include "shim/loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How often a request is resent after a BUSY answer, and after losing its connection. */
#define BUSY_RETRIES 5
#define LOST_RETRIES 1
/* After the edge could not be reached, images go straight to the fallback (or fail) for this
 * long before the next attempt, so a dead edge costs one reconnect cycle per period rather than
 * one per image. */
#define DOWN_PERIOD_S 2.0

/* What the device runs for one plan: a device half (slice), the whole model whose input it
 * sends raw (edge-only), or the whole model run here (local-only). */
typedef struct dplan {
    const char *path; /* borrowed from the options or the manifest */
    int kind;         /* enum sl_plan_kind */
    sl_bundle *b;     /* slice and edge-only: the file's bundle */
    sl_exec *exec;    /* slice: input -> wire tensors */
    sl_runner *run;   /* local-only */
    const sl_graph *graph; /* the class names come from it (borrowed from b or run) */
    int n;
    char names[SL_WIRE_MAX_TENSORS][SL_NAME_MAX];
    uint8_t pair[SL_PAIR_ID_SIZE];
    char pair_hex[33];
    uint64_t wire_bytes;
    sl_input_spec spec;
} dplan;

struct sl_device {
    sl_device_opts o;
    dplan *plans; /* one, or one per table plan */
    int n_plans;
    int adaptive;
    sl_plan_bundles pb;
    sl_link_estimate est;
    sl_link_chooser ch;
    int local_plan;      /* the table's local-only plan, -1 for none */
    int n_offload;       /* plans that send something */
    int probe_out;       /* probes in flight */
    sl_link_prober up;   /* probes on a plan that sends more, while the estimate is blind */
    double ping_s;       /* sl_now() of the last PING, 0 for none */
    long probes;
    double last_release; /* when the latest answer was released (pipelined timing) */
    double t_start;
    sl_device_switch_sink on_switch;
    void *switch_arg;
    sl_runner *fb;
    sl_input_spec fb_spec;
    double down_until;   /* sl_now() before which the edge counts as unreachable */
    double wait_until;   /* while unreachable, sends wait for the edge until then (0 = unset) */
    char down_why[1000]; /* why it was unreachable */
};

/* One image between its device run and its answer. */
typedef struct slot {
    int used, sent, local;
    dplan *pl; /* the plan it was computed for: it keeps it until its answer */
    uint64_t req;
    double t0, t_sub;
    sl_wire_tensor w[SL_WIRE_MAX_TENSORS];
    int nw;
    sl_device_result r;
} slot;

/* The device's outputs: sl_bundle_read parsed the /wire description and checked it against the
 * device graph's outputs (model/wire_desc.h). */
static int parse_wire(dplan *p)
{
    const sl_wire_desc *w = p->b->wire;
    if (!w) return sl_err(SL_EFORMAT, "%s: device bundle has no /wire description", p->path);
    if (w->n > SL_WIRE_MAX_TENSORS)
        return sl_err(SL_EFORMAT, "%s: /wire lists %d tensors, a request carries at most %d",
                      p->path, w->n, SL_WIRE_MAX_TENSORS);
    for (int i = 0; i < w->n; i++)
        snprintf(p->names[i], SL_NAME_MAX, "%s", w->t[i].name);
    p->n = w->n;
    p->wire_bytes = (uint64_t)w->bytes_per_image;
    return SL_OK;
}

/* Loads p->path for a plan of p->kind, or for whatever the file is (want < 0: a device half is
 * a slice, a whole model edge-only). */
static int plan_warm(const dplan *p);

static int plan_open(dplan *p, int want, int fold_bn)
{
    sl_exec_opts eo = {.fold_bn = fold_bn};
    if (want == SL_PLAN_LOCAL_ONLY) {
        p->kind = want;
        int rc = sl_runner_open(p->path, fold_bn, &p->run);
        if (rc) return rc;
        p->graph = p->run->bundle->graph;
        sl_input_spec_from_graph(p->graph, &p->spec);
        return plan_warm(p);
    }
    int rc = sl_bundle_read_checked(p->path, &p->b);
    if (rc) return rc;
    p->graph = p->b->graph;
    sl_input_spec_from_graph(p->graph, &p->spec);
    int is_device = !strcmp(p->b->role, "device"), is_model = !strcmp(p->b->role, "model");
    if (!is_device && !is_model)
        return sl_err(SL_EFORMAT, "%s: role '%s': give a device half or a whole model", p->path,
                      p->b->role);
    if (want >= 0 && is_device != (want == SL_PLAN_SLICE))
        return sl_err(SL_EFORMAT, "%s: role '%s', but its plan is %s: give %s", p->path,
                      p->b->role, sl_plan_kind_name(want),
                      want == SL_PLAN_SLICE ? "the device half of its split"
                                            : "the whole model");
    if (is_device) {
        p->kind = SL_PLAN_SLICE;
        rc = parse_wire(p);
        const char *to[SL_WIRE_MAX_TENSORS];
        for (int i = 0; i < p->n; i++)
            to[i] = p->names[i];
        if (rc == SL_OK) rc = sl_exec_new(p->b->graph, NULL, 0, to, p->n, &eo, &p->exec);
        if (rc == SL_OK) snprintf(p->pair_hex, sizeof p->pair_hex, "%s", p->b->pair_id);
    } else {
        p->kind = SL_PLAN_EDGE_ONLY;
        p->wire_bytes = (uint64_t)p->spec.c * (uint64_t)p->spec.h * (uint64_t)p->spec.w;
        rc = sl_backend_model_pair_id(p->path, p->pair_hex);
    }
    if (rc == SL_OK && sl_pair_from_hex(p->pair_hex, p->pair))
        rc = sl_err(SL_EFORMAT, "%s: pair id '%s' is not 32 hex digits", p->path, p->pair_hex);
    if (rc == SL_OK) rc = plan_warm(p);
    return rc;
}

/* Warms a slice's or local-only plan as the edge warms its models (backend.h): SL_WARM_RUNS
 * runs on a zero image, at full speed (no --cpu span), so the first image is not a profiling
 * run of the graph executor (850 ms against 24 ms for mobilenet_v2's device half at 10 %). */
static int plan_warm(const dplan *p)
{
    if (p->kind != SL_PLAN_SLICE && p->kind != SL_PLAN_LOCAL_ONLY) return SL_OK;
    int64_t dims[4] = {1, p->spec.c, p->spec.h, p->spec.w};
    sl_tensor *x = NULL;
    if (sl_tensor_zeros(dims, 4, SL_DT_F32, &x))
        return sl_err(SL_ETORCH, "%s: warm-up input: %s", p->path, sl_torch_last_error());
    int rc = SL_OK;
    for (int r = 0; rc == SL_OK && r < SL_WARM_RUNS; r++) {
        if (p->kind == SL_PLAN_LOCAL_ONLY) {
            sl_tensor *y = NULL;
            rc = sl_runner_forward(p->run, x, &y);
            sl_tensor_free(y);
        } else {
            sl_value in = {.t = x}, out[SL_WIRE_MAX_TENSORS] = {{0}};
            rc = sl_exec_run(p->exec, &in, out);
            for (int i = 0; i < p->n; i++)
                sl_value_clear(&out[i]);
        }
    }
    sl_tensor_free(x);
    return rc == SL_OK ? rc : sl_err_ctx(rc, "%s: warm-up run: ", p->path);
}

static void plan_close(dplan *p)
{
    sl_runner_free(p->run);
    sl_exec_free(p->exec);
    sl_bundle_free(p->b);
}

/* The middle of the table's links, or the defaults. */
static void table_prior(const sl_link_table *t, double *bps, double *rtt)
{
    *bps = t->n_links ? t->link_bps[t->n_links / 2] : 10e6;
    *rtt = t->n_links ? t->link_rtt[t->n_links / 2] : 0;
}

/* Adaptive mode: the manifest, every plan, the estimate and the chooser. */
static int open_plans(sl_device *d)
{
    const sl_device_opts *o = &d->o;
    int rc = sl_plan_bundles_read(o->plans, &d->pb);
    if (rc) return rc;
    const sl_link_table *t = &d->pb.table;
    if (!(d->plans = calloc((size_t)t->n_plans, sizeof *d->plans)))
        return sl_err(SL_ENOMEM, "out of memory");
    d->adaptive = 1;
    d->local_plan = -1;
    for (int k = 0; k < t->n_plans; k++) {
        dplan *p = &d->plans[k];
        p->path = d->pb.pairs[k].device;
        int kind = sl_plan_kind_of(&t->plans[k]);
        d->n_plans++;
        if ((rc = plan_open(p, kind, o->fold_bn)))
            return sl_err_ctx(rc, "%s: plan %d (%s): ", o->plans, k, sl_plan_kind_name(kind));
        if (kind == SL_PLAN_LOCAL_ONLY && d->local_plan < 0) d->local_plan = k;
        d->n_offload += kind != SL_PLAN_LOCAL_ONLY;
        if (k > 0 && (p->spec.c != d->plans[0].spec.c || p->spec.h != d->plans[0].spec.h ||
                      p->spec.w != d->plans[0].spec.w))
            return sl_err(SL_EFORMAT, "%s: plan %d (%s) takes %dx%dx%d images, plan 0 (%s) %dx%dx%d",
                          o->plans, k, p->path, p->spec.c, p->spec.h, p->spec.w,
                          d->plans[0].path, d->plans[0].spec.c, d->plans[0].spec.h,
                          d->plans[0].spec.w);
    }
    double bps, rtt;
    table_prior(t, &bps, &rtt);
    if (o->prior_bps > 0) bps = o->prior_bps;
    if (o->prior_rtt_s >= 0) rtt = o->prior_rtt_s;
    sl_link_config lc = o->link ? *o->link : sl_link_config_default(bps, rtt);
    lc.prior_bps = bps;
    lc.prior_rtt_s = rtt;
    lc.stale_s = o->stale_s > 0 ? o->stale_s : sl_link_config_default(bps, rtt).stale_s;
    if ((rc = sl_link_init(&d->est, &lc))) return rc;
    /* Start on the plan predicted fastest at the prior. */
    int best = 0;
    for (int k = 1; k < t->n_plans; k++)
        if (sl_link_predict(&d->est, &t->plans[k]) < sl_link_predict(&d->est, &t->plans[best]))
            best = k;
    sl_link_prober_init(&d->up);
    return sl_link_chooser_init(&d->ch, t->plans, t->n_plans, best);
}

int sl_device_open(const sl_device_opts *o, sl_device **out)
{
    *out = NULL;
    sl_device *d = calloc(1, sizeof *d);
    if (!d) return sl_err(SL_ENOMEM, "out of memory");
    d->o = *o;
    if (d->o.pipeline < 1) d->o.pipeline = 1;
    int rc;
    if (!!o->model == !!o->plans) {
        rc = sl_err(SL_EARG, "device: give a device model or a plan manifest (one of them)");
    } else if (o->plans) {
        rc = open_plans(d);
    } else if (!(d->plans = calloc(1, sizeof *d->plans))) {
        rc = sl_err(SL_ENOMEM, "out of memory");
    } else {
        d->n_plans = 1;
        d->local_plan = -1;
        d->plans[0].path = o->model;
        rc = plan_open(&d->plans[0], -1, o->fold_bn);
    }
    if (rc == SL_OK && o->fallback) {
        rc = sl_runner_open(o->fallback, o->fold_bn, &d->fb);
        for (int k = 0; rc == SL_OK && k < d->n_plans; k++)
            if (d->plans[k].kind != SL_PLAN_LOCAL_ONLY)
                rc = sl_runner_check_fallback(d->fb, o->fallback, d->plans[k].graph,
                                              d->plans[k].kind == SL_PLAN_EDGE_ONLY,
                                              d->plans[k].path);
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
    for (int k = 0; k < d->n_plans; k++)
        plan_close(&d->plans[k]);
    free(d->plans);
    sl_plan_bundles_free(&d->pb);
    free(d);
}

static const dplan *first_plan(const sl_device *d)
{
    return &d->plans[d->adaptive ? d->ch.current : 0];
}
const char *sl_device_pair_hex(const sl_device *d)
{
    return first_plan(d)->pair_hex;
}
uint64_t sl_device_wire_bytes(const sl_device *d)
{
    return first_plan(d)->wire_bytes;
}
int sl_device_edge_only(const sl_device *d)
{
    return first_plan(d)->kind == SL_PLAN_EDGE_ONLY;
}
const char *sl_device_wire_json(const sl_device *d)
{
    const dplan *p = first_plan(d);
    return p->kind == SL_PLAN_SLICE ? p->b->wire_json : NULL;
}
void sl_device_on_switch(sl_device *d, sl_device_switch_sink fn, void *arg)
{
    d->on_switch = fn;
    d->switch_arg = arg;
}
const sl_link_table *sl_device_table(const sl_device *d)
{
    return d->adaptive ? &d->pb.table : NULL;
}
void sl_device_adapt_stats(const sl_device *d, long *switches, long *probes, double *bps,
                           double *rtt_s)
{
    *switches = d->adaptive ? d->ch.switches : 0;
    *probes = d->probes;
    *bps = d->adaptive ? sl_link_bandwidth(&d->est) : 0;
    *rtt_s = d->adaptive ? d->est.rtt_s : 0;
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

/* Loads the image and runs s's plan on it: the device half into s->w, the raw resized image
 * into s->w for edge-only, or the whole model into s->r's class for local-only. */
static int device_compute(const char *path, slot *s)
{
    const dplan *p = s->pl;
    int rc;
    if (p->kind == SL_PLAN_EDGE_ONLY) {
        sl_image img;
        if ((rc = sl_image_load(path, &img)) != SL_OK) return rc;
        int64_t dims[4] = {1, p->spec.c, p->spec.h, p->spec.w};
        rc = sl_wire_tensor_alloc(&s->w[0], SL_WIRE_U8, 4, dims);
        if (rc == SL_OK)
            rc =
                sl_image_to_u8(&img, p->spec.c, p->spec.h, p->spec.w, p->spec.resize, s->w[0].data);
        sl_image_free(&img);
        s->nw = rc == SL_OK ? 1 : 0;
        return rc == SL_OK ? rc : sl_err_ctx(rc, "%s: ", path);
    }
    sl_tensor *x = NULL;
    char *const one[1] = {(char *)path};
    if ((rc = sl_images_to_tensor(one, 1, &p->spec, &x)) != SL_OK) return rc;
    if (p->kind == SL_PLAN_LOCAL_ONLY) {
        sl_tensor *y = NULL;
        rc = sl_runner_forward(p->run, x, &y);
        if (rc == SL_OK) rc = take_logits(p->graph, y, &s->r);
        sl_tensor_free(y);
        sl_tensor_free(x);
        s->local = rc == SL_OK;
        return rc;
    }
    sl_value in = {.t = x}, out[SL_WIRE_MAX_TENSORS] = {{0}};
    rc = sl_exec_run(p->exec, &in, out);
    for (int i = 0; i < p->n; i++) {
        if (rc == SL_OK && (rc = value_to_wire(&out[i], &s->w[i], p->names[i])) == SL_OK)
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

static int edge_answer(const dplan *p, const sl_client_result *cr, sl_device_result *r)
{
    const sl_wire_tensor *o = &cr->output;
    if (o->dtype != SL_WIRE_F32 || o->ndim < 1 || o->dims[0] != 1)
        return sl_err(SL_EFORMAT, "edge answer is not float32 logits of one image");
    sl_tensor *y = NULL;
    if (sl_tensor_from_buffer(o->data, o->dims, o->ndim, SL_DT_F32, &y))
        return sl_err(SL_ETORCH, "edge answer: %s", sl_torch_last_error());
    int rc = take_logits(p->graph, y, r);
    sl_tensor_free(y);
    return rc;
}

/* The model that answers an image the edge failed: --fallback, else the table's local-only
 * plan; NULL for none. */
static sl_runner *fallback_runner(sl_device *d, const sl_input_spec **spec)
{
    if (d->fb) {
        *spec = &d->fb_spec;
        return d->fb;
    }
    if (d->local_plan < 0) return NULL;
    *spec = &d->plans[d->local_plan].spec;
    return d->plans[d->local_plan].run;
}

static int run_fallback(sl_runner *fb, const sl_input_spec *spec, const char *path,
                        sl_device_result *r)
{
    double t0 = sl_now();
    sl_tensor *x = NULL, *y = NULL;
    char *const one[1] = {(char *)path};
    int rc = sl_images_to_tensor(one, 1, spec, &x);
    if (rc == SL_OK) rc = sl_runner_forward(fb, x, &y);
    if (rc == SL_OK) rc = take_logits(fb->bundle->graph, y, r);
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
    if (t->edge[0]) snprintf(r->edge, sizeof r->edge, "%s", t->edge);
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
        s->t_sub = sl_now();
        int rc = sl_client_submit_n(c, s->pl->pair, s->w, s->nw, &s->req);
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
/* Feeds the estimate with an answered request of s (adaptive mode, first send only). The
 * request went out at t_send = release - transfer - edge time; when the answer before it was
 * released later than that, the link was still busy with earlier requests, so this one is
 * timed from that answer: the time between the two answers is its transfer, with no RTT in it
 * (at least its transfer: more when the link was not busy all along), and its edge time,
 * overlapped with the link, is not subtracted. */
static void observe(sl_device *d, const slot *s, const sl_client_timing *t)
{
    double release = s->t_sub + t->total_s;
    double edge = t->edge_queue_s + t->edge_s;
    double start = release - t->transfer_s - edge;
    int behind = d->last_release > start;
    if (behind) {
        start = d->last_release;
        edge = 0;
    }
    if (release > d->last_release) d->last_release = release;
    double elapsed = release - start;
    if (t->bytes_up > 0 && behind && elapsed >= 0)
        sl_link_observe_transfer(&d->est, (double)t->bytes_up, elapsed, release);
    else if (t->bytes_up > 0 && elapsed >= edge)
        sl_link_observe(&d->est, (double)t->bytes_up, elapsed, edge, release);
    /* how fast the edge is now, when its time was not overlapped with the link */
    if (edge > 0 && d->adaptive)
        sl_link_observe_edge(&d->est, edge, d->pb.table.plans[s->r.plan].edge_s);
    /* what the plan really puts on the wire (compressed), for the predictions */
    if (t->bytes_up > 0 && d->adaptive)
        sl_link_observe_sent(&d->est, &d->pb.table.plans[s->r.plan], (double)t->bytes_up);
}

/* Waits for the answer of s (resending after BUSY or a lost connection), falls back or records
 * the error, and hands the result to sink. */
static void finish(sl_device *d, sl_client *c, slot *s, sl_device_sink sink, void *arg)
{
    sl_device_result *r = &s->r;
    int busy = 0, lost = 0, retried = 0;
    if (s->r.probe) d->probe_out--;
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
            r->status = edge_answer(s->pl, &cr, r);
            if (r->status != SL_OK)
                snprintf(r->error, sizeof r->error, "%s", sl_errmsg());
            else if (!retried)
                r->total_s = r->device_s + cr.timing.total_s;
            if (r->status == SL_OK && !retried && d->adaptive) observe(d, s, &cr.timing);
        } else {            snprintf(r->error, sizeof r->error, "%s", cr.error);
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
    const sl_input_spec *fb_spec = NULL;
    sl_runner *fb = fallback_runner(d, &fb_spec);
    if (r->status == SL_OK) {
        r->via = s->local ? SL_VIA_LOCAL : SL_VIA_EDGE;
    } else if (fb && s->nw > 0) {
        free(r->logits);
        r->logits = NULL;
        r->nlogits = 0;
        int rc = run_fallback(fb, fb_spec, r->file, r);
        r->via = rc == SL_OK ? SL_VIA_FALLBACK : SL_VIA_ERROR;
        if (rc != SL_OK)
            snprintf(r->error + strlen(r->error), sizeof r->error - strlen(r->error),
                     "; fallback: %s", sl_errmsg());
    } else {
        r->via = SL_VIA_ERROR;
    }
    if (r->via == SL_VIA_ERROR) r->cls = -1;
    /* A local-only image's time is its compute (set when it ran), not its wait in the ring. */
    if ((r->via != SL_VIA_EDGE && r->via != SL_VIA_LOCAL) || !r->total_s)
        r->total_s = sl_now() - s->t0;
    sink(arg, r);
    sl_device_result_clear(r);
    free_wire(s);
    s->used = 0;
}

/* Adaptive mode: the offloading plan predicted fastest at the estimate among those sending at
 * least SL_LINK_PROBE_BYTES (a request within a few heads of the link teaches nothing of its
 * rate, offloader/link_estimate.h), or among all when none does; -1 for none. */
static int best_offload(const sl_device *d)
{
    const sl_link_table *t = &d->pb.table;
    int best = -1, best_big = 0;
    for (int k = 0; k < t->n_plans; k++) {
        if (d->plans[k].kind == SL_PLAN_LOCAL_ONLY) continue;
        int big = sl_link_plan_bytes(&t->plans[k]) >= SL_LINK_PROBE_BYTES;
        if (best < 0 || (big && !best_big) ||
            (big == best_big &&
             sl_link_predict(&d->est, &t->plans[k]) < sl_link_predict(&d->est, &t->plans[best]))) {
            best = k;
            best_big = big;
        }
    }
    return best;
}

/* A PING for the RTT, taken into the estimate. */
static void ping(sl_device *d, sl_client *c)
{
    double rtt;
    d->ping_s = sl_now();
    if (sl_client_ping(c, &rtt) == SL_OK) sl_link_observe_rtt(&d->est, rtt, sl_now());
}

/* The plan image `index` runs on: the chooser's (announcing a switch), or a probe (*probe = 1)
 * while the plan in use sends nothing and the estimate is stale or moving, or sends too little
 * to measure the link (sl_link_probe_up). On an offloading plan, a PING every stale_s / 4 while
 * no request is in flight (it would queue behind them) keeps the RTT estimate, and with it the
 * noise allowance, current. */
static dplan *pick(sl_device *d, sl_client *c, int index, int *probe)
{
    *probe = 0;
    if (!d->adaptive) return &d->plans[0];
    const sl_link_table *t = &d->pb.table;
    int from = d->ch.current, switched = 0;
    int cur = sl_link_choose(&d->ch, &d->est, &switched);
    double now = sl_now();
    if (switched && d->on_switch) {
        sl_device_switch sw = {.index = index,
                               .from = from,
                               .to = cur,
                               .bandwidth_bps = sl_link_bandwidth(&d->est),
                               .rtt_s = d->est.rtt_s,
                               .from_s = sl_link_predict(&d->est, &t->plans[from]),
                               .to_s = sl_link_predict(&d->est, &t->plans[cur]),
                               .samples = d->est.n_samples,
                               .pings = d->est.n_rtt,
                               .t_s = now - d->t_start};
        d->on_switch(d->switch_arg, &sw);
    }
    if (!d->n_offload || now < d->down_until) return &d->plans[cur];
    if (d->plans[cur].kind != SL_PLAN_LOCAL_ONLY) {
        if (now - d->ping_s > d->est.cfg.stale_s / SL_LINK_PINGS_TRUSTED &&
            sl_client_pending(c) == 0)
            ping(d, c);
        int k = sl_link_probe_up(&d->up, &d->est, t->plans, t->n_plans, cur, d->probe_out,
                                 d->o.pipeline, now);
        if (k < 0) return &d->plans[cur];
        *probe = 1;
        d->probe_out++;
        d->probes++;
        return &d->plans[k];
    }
    d->up.run = 0;
    /* A PING refreshes the RTT only: without a request measured, the bandwidth is a prior.
     * A stale estimate gets one probe at a time; a moving one as many as the pipeline holds. */
    int stale = d->est.n_samples == 0 || sl_link_stale(&d->est, now);
    int moving = d->est.jump_n > 0 || d->ch.streak > 0;
    if (!(stale && d->probe_out == 0) && !(moving && d->probe_out < d->o.pipeline))
        return &d->plans[cur];
    if (stale && d->probe_out == 0) ping(d, c);
    *probe = 1;
    d->probe_out++;
    d->probes++;
    return &d->plans[best_offload(d)];
}

int sl_device_run(sl_device *d, sl_client *c, char *const *paths, int n, sl_device_sink sink,
                  void *arg)
{
    int p = d->o.pipeline;
    slot *ring = calloc((size_t)p, sizeof *ring);
    if (!ring) return sl_err(SL_ENOMEM, "out of memory");
    d->t_start = sl_now();
    /* The RTT before the first request, when a plan pays it. */
    if (d->adaptive && d->n_offload && d->o.prior_rtt_s < 0) ping(d, c);
    for (int i = 0; i < n; i++) {
        slot *s = &ring[i % p];
        if (s->used) finish(d, c, s, sink, arg);
        memset(s, 0, sizeof *s);
        s->used = 1;
        if (d->o.every_s > 0) sl_shaper_sleep_until(d->t_start + i * d->o.every_s);
        s->pl = pick(d, c, i, &s->r.probe);
        s->t0 = sl_now();
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s->r.start_unix_s = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
        s->r.index = i;
        s->r.file = paths[i];
        s->r.cls = -1;
        s->r.adaptive = d->adaptive;
        s->r.plan = (int)(s->pl - d->plans);
        /* The device's work for this image, slowed as a --cpu device's (common/cpuquota.h). */
        sl_slow_span span;
        sl_slow_begin(&span);
        int rc = device_compute(paths[i], s);
        sl_slow_end(&span);
        s->r.device_s = sl_now() - s->t0;
        if (s->local) s->r.total_s = s->r.device_s;
        /* With SL_SHIM_DROP_PAGES=1 (the service), the library pages that compiling and the
         * first image brought back leave again: a waiting device keeps its own pages only. */
        if (i == 0) sl_shim_release_pages();
        if (rc != SL_OK) {
            s->r.status = rc;
            snprintf(s->r.error, sizeof s->r.error, "%s", sl_errmsg());
            free_wire(s);
            continue;
        }
        if (!s->local) s->sent = submit(d, c, s);
    }
    for (int i = n > p ? n - p : 0; i < n; i++)
        if (ring[i % p].used) finish(d, c, &ring[i % p], sink, arg);
    free(ring);
    return SL_OK;
}
