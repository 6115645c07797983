/* bench.c: local, edge-only, split and split+TL on the same images through one in-process edge. */
#include "offloader/bench.h"
#include "common/cpuquota.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "model/plan_doc.h"
#include "model/wire_desc.h"
#include "offloader/auth.h"
#include "offloader/backend.h"
#include "offloader/deploy_store.h"
#include "offloader/device_run.h"
#include "offloader/edge_server.h"
#include "offloader/local_run.h"
#include "offloader/results.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const mode_names[SL_BENCH_NMODES] = {"local", "edge-only", "split", "split+tl"};

/* What one mode collects per image. */
typedef struct collect {
    sl_results res;
    int warming;          /* the warm-up image: not counted */
    const int *local_cls; /* the local mode's classes, which the others should agree with */
    int agree;
    sl_progress *prog;
    uint64_t *done; /* images done over every mode, for the progress line */
} collect;

static void on_result(void *arg, const sl_device_result *r)
{
    collect *k = arg;
    if (k->warming) return;
    if (r->via != SL_VIA_EDGE) sl_log_warn("%s: %s", r->file, r->error);
    k->agree += r->via == SL_VIA_EDGE && r->cls == k->local_cls[k->res.n];
    sl_results_add(&k->res, r);
    sl_progress_update(k->prog, ++*k->done, NULL);
}

static void summarise(collect *k, double wall, sl_bench_mode *m)
{
    sl_results_summary s;
    sl_results_summarise(&k->res, wall, &s);
    m->ran = 1;
    m->throughput_ips = s.throughput_ips;
    m->device_s = s.device_s;
    m->encode_s = s.encode_s;
    m->transfer_s = s.transfer_s;
    m->edge_s = s.edge_s;
    m->wire_bytes_per_image = s.bytes_up;
    m->agree_with_local = s.images ? (double)k->agree / s.images : 0;
    m->errors = s.fallback + s.errors; /* the bench has no fallback: anything but the edge */
    m->median_s = s.median_s;
    m->p95_s = s.p95_s;
}

typedef struct edge_ctx {
    int port;
    uint8_t token[SL_AUTH_NONCE_SIZE];
} edge_ctx;

/* One mode, open for the whole bench: its images run in rounds, interleaved with the other
 * modes' (see sl_bench_run). Local keeps a runner; a remote mode a device, its link and its
 * connection to the in-process edge. */
typedef struct mode_run {
    sl_bench_mode *m;
    char **wire_json; /* where the device's /wire description goes, or NULL */
    collect k;
    double wall; /* the mode's own time, summed over its rounds */
    sl_runner *r;
    sl_input_spec spec;
    sl_device *d;
    sl_shaper *sh;
    sl_client *c;
} mode_run;

/* One local image on the slow device: load and forward in one span; its class into *cls. */
static int local_one(mode_run *mr, const char *path, int *cls, double *total_s)
{
    double t = sl_now();
    sl_tensor *x = NULL, *y = NULL;
    char *const one[1] = {(char *)path};
    double p;
    sl_slow_span span;
    sl_slow_begin(&span);
    int rc = sl_images_to_tensor(one, 1, &mr->spec, &x);
    if (rc == SL_OK) rc = sl_runner_forward(mr->r, x, &y);
    sl_slow_end(&span);
    if (rc == SL_OK && sl_top1(y, 0, cls, &p)) rc = sl_err(SL_ESHAPE, "%s: no logits", path);
    sl_tensor_free(x);
    sl_tensor_free(y);
    *total_s = sl_now() - t;
    return rc;
}

/* Opens mode mr: the whole model locally (device_model NULL) or a device of device_model
 * connected to the edge, each warmed on the first image (not counted). */
static int mode_open(mode_run *mr, const sl_bench_opts *o, const edge_ctx *e,
                     const char *device_model, char *const *paths, int n, const int *local_cls)
{
    int rc = sl_results_init(&mr->k.res, n);
    mr->k.local_cls = local_cls;
    if (rc == SL_OK && !device_model) {
        rc = sl_runner_open(o->model, o->fold_bn, &mr->r);
        if (rc == SL_OK) sl_input_spec_from_graph(mr->r->bundle->graph, &mr->spec);
        /* The warm-up runs on the first image (SL_WARM_RUNS, as the device and edge warm). */
        for (int i = 0; rc == SL_OK && i < SL_WARM_RUNS; i++) {
            int c;
            double t;
            rc = local_one(mr, paths[0], &c, &t);
        }
        return rc;
    }
    sl_device_opts dopt = {.model = device_model, .pipeline = 1, .fold_bn = o->fold_bn};
    if (rc == SL_OK) rc = sl_device_open(&dopt, &mr->d);
    if (rc == SL_OK && (o->bandwidth_bps > 0 || o->rtt_s > 0))
        rc = sl_shaper_new(o->bandwidth_bps, o->rtt_s, 0, &mr->sh);
    if (rc == SL_OK) {
        sl_client_config cfg;
        sl_client_config_defaults(&cfg);
        cfg.host = "127.0.0.1";
        cfg.port = e->port;
        cfg.token = e->token;
        cfg.token_len = sizeof e->token;
        cfg.shaper = mr->sh;
        rc = sl_client_new(&cfg, &mr->c);
    }
    if (rc == SL_OK) rc = sl_client_connect(mr->c);
    mr->k.warming = 1;
    if (rc == SL_OK) rc = sl_device_run(mr->d, mr->c, paths, 1, on_result, &mr->k);
    mr->k.warming = 0;
    return rc;
}

/* Runs images [from, to) of paths in mode mr; local fills cls[] for the others to agree with. */
static int mode_round(mode_run *mr, char *const *paths, int from, int to, int *cls,
                      sl_progress *prog)
{
    double t0 = sl_now();
    int rc = SL_OK;
    mr->k.prog = prog;
    if (mr->r) {
        for (int i = from; rc == SL_OK && i < to; i++) {
            sl_device_result lr = {.via = SL_VIA_EDGE};
            rc = local_one(mr, paths[i], &cls[i], &lr.total_s);
            if (rc != SL_OK) break;
            /* Recorded as an answered image whose whole time is device time. */
            lr.device_s = lr.total_s;
            sl_results_add(&mr->k.res, &lr);
            mr->k.agree++;
            sl_progress_update(prog, ++*mr->k.done, NULL);
        }
    } else {
        rc = sl_device_run(mr->d, mr->c, paths + from, to - from, on_result, &mr->k);
    }
    mr->wall += sl_now() - t0;
    return rc;
}

/* Summarises mode mr into its report entry and closes it. */
static void mode_close(mode_run *mr, int ok)
{
    if (ok) {
        summarise(&mr->k, mr->wall, mr->m);
        if (mr->d) {
            mr->m->bytes_per_image = (double)sl_device_wire_bytes(mr->d);
            const char *w = sl_device_wire_json(mr->d);
            if (w && mr->wire_json) *mr->wire_json = strdup(w);
        }
    }
    sl_results_free(&mr->k.res);
    sl_client_free(mr->c);
    sl_shaper_free(mr->sh);
    sl_device_free(mr->d);
    sl_runner_free(mr->r);
}

/* ---- predictions from the plan ---------------------------------------------------------- */

/* The first cut tensor of a /wire description (model/wire_desc.h), or "" when unknown. */
static void wire_cut(const char *wire_json, char *out, size_t n)
{
    sl_wire_desc w;
    out[0] = '\0';
    if (wire_json && sl_wire_desc_parse(wire_json, &w) == SL_OK) snprintf(out, n, "%s", w.cut[0]);
}

/* Splits are predicted by the plan at the pair's own cut; when the plan has no entry there, by
 * the plan the pipeline splits at (best_split_without_tl, best_with_tl). */
static int predict(const char *plan_path, char *const wire[SL_BENCH_NMODES], sl_bench_report *rep)
{
    sl_plan_doc *doc;
    int rc = sl_plan_doc_read(plan_path, &doc);
    if (rc != SL_OK) return rc;
    sl_bench_mode *lm = &rep->modes[SL_BENCH_LOCAL], *em = &rep->modes[SL_BENCH_EDGE_ONLY];
    double up;
    lm->predicted_bytes = sl_results_plan_cost(doc, 0, "local-only", NULL, &lm->predicted_s, &up) ? 0 : -1;
    sl_results_plan_cost(doc, 0, "edge-only", NULL, &em->predicted_s, &em->predicted_bytes);
    for (int tl = 0; tl <= 1; tl++) {
        sl_bench_mode *m = &rep->modes[tl ? SL_BENCH_SPLIT_TL : SL_BENCH_SPLIT];
        char cut[SL_NAME_MAX];
        wire_cut(wire[tl ? SL_BENCH_SPLIT_TL : SL_BENCH_SPLIT], cut, sizeof cut);
        if (cut[0] && sl_results_plan_cost(doc, tl, NULL, cut, &m->predicted_s, &m->predicted_bytes))
            continue;
        sl_plan_entry e;
        if (sl_plan_doc_entry(doc, tl ? "best_with_tl" : "best_split_without_tl", &e) == SL_OK) {
            m->predicted_s = e.total_s;
            m->predicted_bytes = e.upload_bytes;
            sl_plan_entry_free(&e);
        }
    }
    /* The plan's first choice, as one of the bench's modes. */
    sl_plan_entry best;
    if (sl_plan_doc_entry(doc, "best", &best) == SL_OK) {
        rep->plan_choice = !strcmp(best.kind, "local-only")  ? SL_BENCH_LOCAL
                           : !strcmp(best.kind, "edge-only") ? SL_BENCH_EDGE_ONLY
                           : best.tl[0]                      ? SL_BENCH_SPLIT_TL
                                                             : SL_BENCH_SPLIT;
        snprintf(rep->plan_choice_text, sizeof rep->plan_choice_text, "%s",
                 best.text ? best.text : "");
        sl_plan_entry_free(&best);
    }
    sl_plan_doc_free(doc);
    return SL_OK;
}

/* ---- the bench ---------------------------------------------------------------------------- */

static int copy_into(const char *dir, const char *name, const char *src)
{
    char dst[4096];
    char *data;
    size_t len;
    if (sl_path_join(dst, sizeof dst, dir, name)) return sl_err(SL_EARG, "%s: path too long", dir);
    int rc = sl_read_file(src, &data, &len);
    if (rc != SL_OK) return rc;
    rc = sl_write_file_atomic(dst, data, len);
    free(data);
    return rc;
}

static void remove_store(const char *dir)
{
    sl_deploy_entry *v = NULL;
    size_t n = 0;
    if (sl_deploy_store_list(dir, &v, &n) == SL_OK)
        for (size_t i = 0; i < n; i++)
            sl_deploy_store_remove(dir, v[i].name);
    free(v);
    rmdir(dir);
}

/* The in-process edge: a temporary store (`store`, a mkdtemp template; *have_store once made)
 * with the whole model and the pairs' edge halves, served on loopback with a fresh token. */
static int edge_up(const sl_bench_opts *o, char *store, int *have_store, edge_ctx *e,
                   sl_edge_backend *be, sl_edge_server **srv)
{
    if (!mkdtemp(store)) return sl_err(SL_EIO, "%s: cannot create a folder", store);
    *have_store = 1;
    int rc = copy_into(store, "model.h5", o->model);
    if (rc == SL_OK && o->split_edge) rc = copy_into(store, "split-edge.h5", o->split_edge);
    if (rc == SL_OK && o->tl_edge) rc = copy_into(store, "tl-edge.h5", o->tl_edge);
    if (rc == SL_OK) rc = sl_auth_nonce(e->token);
    sl_backend_opts bo = {.fold_bn = o->fold_bn};
    if (rc == SL_OK) rc = sl_backend_init(&bo, be);
    if (rc == SL_OK) {
        sl_edge_config cfg;
        sl_edge_config_defaults(&cfg);
        cfg.host = "127.0.0.1";
        cfg.store_dir = store;
        cfg.token = e->token;
        cfg.token_len = sizeof e->token;
        rc = sl_edge_start(&cfg, be, srv);
        if (rc == SL_OK) e->port = sl_edge_port(*srv);
    }
    return rc;
}

int sl_bench_run(const sl_bench_opts *o, sl_bench_report *rep)
{
    memset(rep, 0, sizeof *rep);
    for (int i = 0; i < SL_BENCH_NMODES; i++)
        rep->modes[i].predicted_s = rep->modes[i].predicted_bytes = -1;
    rep->plan_choice = -1;
    rep->cpu_pct = o->cpu_pct;
    rep->bandwidth_bps = o->bandwidth_bps;
    rep->rtt_s = o->rtt_s;
    char **paths = NULL;
    int total = 0;
    int rc = sl_path_list(o->images, &paths, &total);
    if (rc != SL_OK) return rc;
    int n = o->limit > 0 && total > o->limit ? o->limit : total;
    rep->images = n;

    const char *tmp = getenv("TMPDIR");
    char store[4096];
    snprintf(store, sizeof store, "%s/sl-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int *local_cls = calloc((size_t)n, sizeof(int));
    edge_ctx e = {0};
    sl_edge_backend be = {0};
    sl_edge_server *srv = NULL;
    char *wire[SL_BENCH_NMODES] = {0};
    int have_store = 0;
    if (!local_cls) rc = sl_err(SL_ENOMEM, "out of memory");
    if (rc == SL_OK && !o->local_only) rc = edge_up(o, store, &have_store, &e, &be, &srv);
    /* The slow device: this thread (which runs local and every device) under the quota; the
     * edge's threads, started before, keep the whole machine. */
    sl_cpuquota *quota = NULL;
    /* A quota holds this thread alone. Dilation counts this thread's CPU time when the device
     * runs one intra-op thread (--threads 1): the edge's threads share the process, and what
     * they still do while the device side works (the end of the last request, the runtime's
     * idle workers) is not the device's. With more threads it counts the whole process's, so
     * that the device's intra-op workers are counted too. */
    int own_clock = o->cpu_mode == SL_CPU_QUOTA || o->threads == 1;
    if (rc == SL_OK && o->cpu_pct > 0)
        rc = sl_cpu_slow_enter(o->cpu_pct, o->cpu_mode, own_clock, "device side", &quota);
    /* Every mode is opened and warmed first; then the images run in rounds, each round a
     * slice of the images through every mode in turn, so that a burst of load on the host
     * falls on all modes alike and each mode's median spans the whole bench, as the profile's
     * turns do (preprocessor/profile.c). */
    mode_run mr[SL_BENCH_NMODES] = {{0}};
    const char *dev[SL_BENCH_NMODES] = {NULL, o->model, o->split_device, o->tl_device};
    int on[SL_BENCH_NMODES] = {1, !o->local_only, o->split_device != NULL, o->tl_device != NULL};
    int non = 0;
    uint64_t done = 0;
    for (int i = 0; rc == SL_OK && i < SL_BENCH_NMODES; i++) {
        if (!on[i]) continue;
        non++;
        mr[i].m = &rep->modes[i];
        mr[i].wire_json = i >= SL_BENCH_SPLIT ? &wire[i] : NULL;
        mr[i].k.done = &done;
        rc = mode_open(&mr[i], o, &e, dev[i], paths, n, local_cls);
        if (rc != SL_OK) sl_err_ctx(rc, "%s: ", mode_names[i]);
    }
    int rounds = o->rounds > 0 ? o->rounds : SL_BENCH_ROUNDS;
    rounds = rounds < n ? rounds : n;
    rep->rounds = rounds;
    sl_progress *prog = rc == SL_OK ? sl_progress_start("bench", (uint64_t)n * (uint64_t)non) : NULL;
    for (int r = 0; rc == SL_OK && r < rounds; r++)
        for (int i = 0; rc == SL_OK && i < SL_BENCH_NMODES; i++) {
            if (!on[i]) continue;
            int from = (int)((long long)n * r / rounds), to = (int)((long long)n * (r + 1) / rounds);
            rc = mode_round(&mr[i], paths, from, to, local_cls, prog);
            if (rc != SL_OK) sl_err_ctx(rc, "%s: ", mode_names[i]);
        }
    sl_progress_done(prog, rc == SL_OK ? NULL : "failed");
    for (int i = 0; i < SL_BENCH_NMODES; i++)
        if (on[i]) mode_close(&mr[i], rc == SL_OK);
    sl_cpuquota_leave(quota);
    if (rc == SL_OK && o->plan) rc = predict(o->plan, wire, rep);
    sl_edge_stop(srv);
    sl_backend_free(&be);
    if (have_store) remove_store(store);
    for (int i = 0; i < SL_BENCH_NMODES; i++)
        free(wire[i]);
    free(local_cls);
    sl_path_list_free(paths, total);
    return rc;
}

double sl_bench_error(const sl_bench_mode *m)
{
    return m->ran ? sl_results_prediction_error(m->predicted_s, m->median_s) : NAN;
}

int sl_bench_fastest(const sl_bench_report *rep)
{
    int best = -1;
    for (int i = 0; i < SL_BENCH_NMODES; i++)
        if (rep->modes[i].ran && (best < 0 || rep->modes[i].median_s < rep->modes[best].median_s))
            best = i;
    return best;
}

/* Whether the plan's choice ran and was the measured fastest or within the slack of it. */
static int choice_ok(const sl_bench_report *rep)
{
    int f = sl_bench_fastest(rep), c = rep->plan_choice;
    if (f < 0 || c < 0 || !rep->modes[c].ran) return 0;
    return rep->modes[c].median_s <= (1 + SL_BENCH_CHOICE_SLACK) * rep->modes[f].median_s;
}

char *sl_bench_json(const sl_bench_report *rep)
{
    cJSON *d = sl_json_doc_new("sl-bench", 1);
    cJSON_AddNumberToObject(d, "images", rep->images);
    cJSON_AddNumberToObject(d, "rounds", rep->rounds);
    cJSON_AddNumberToObject(d, "bandwidth_bps", rep->bandwidth_bps);
    cJSON_AddNumberToObject(d, "rtt_s", rep->rtt_s);
    cJSON_AddNumberToObject(d, "device_cpu_percent", rep->cpu_pct);
    cJSON *modes = cJSON_AddArrayToObject(d, "modes");
    for (int i = 0; i < SL_BENCH_NMODES; i++) {
        const sl_bench_mode *m = &rep->modes[i];
        if (!m->ran) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "mode", mode_names[i]);
        cJSON_AddNumberToObject(o, "median_s", m->median_s);
        cJSON_AddNumberToObject(o, "p95_s", m->p95_s);
        cJSON_AddNumberToObject(o, "throughput_ips", m->throughput_ips);
        cJSON_AddNumberToObject(o, "bytes_per_image", m->bytes_per_image);
        cJSON_AddNumberToObject(o, "wire_bytes_per_image", m->wire_bytes_per_image);
        cJSON_AddNumberToObject(o, "predicted_s", m->predicted_s);
        cJSON_AddNumberToObject(o, "predicted_bytes", m->predicted_bytes);
        double e = sl_bench_error(m);
        if (isnan(e))
            cJSON_AddNullToObject(o, "error");
        else
            cJSON_AddNumberToObject(o, "error", e);
        cJSON_AddBoolToObject(o, "error_over_limit", !isnan(e) && fabs(e) > SL_RESULTS_MAX_ERROR);
        cJSON *b = cJSON_AddObjectToObject(o, "breakdown");
        cJSON_AddNumberToObject(b, "device_s", m->device_s);
        cJSON_AddNumberToObject(b, "encode_s", m->encode_s);
        cJSON_AddNumberToObject(b, "transfer_s", m->transfer_s);
        cJSON_AddNumberToObject(b, "edge_s", m->edge_s);
        cJSON_AddNumberToObject(o, "agree_with_local", m->agree_with_local);
        cJSON_AddNumberToObject(o, "errors", m->errors);
        cJSON_AddItemToArray(modes, o);
    }
    cJSON *sp = cJSON_AddObjectToObject(d, "speedup_vs_local");
    const sl_bench_mode *local = &rep->modes[SL_BENCH_LOCAL];
    for (int i = SL_BENCH_EDGE_ONLY; i < SL_BENCH_NMODES; i++)
        if (rep->modes[i].ran && local->ran && rep->modes[i].median_s > 0)
            cJSON_AddNumberToObject(sp, mode_names[i], local->median_s / rep->modes[i].median_s);
    int f = sl_bench_fastest(rep);
    cJSON_AddItemToObject(d, "measured_fastest",
                          f >= 0 ? cJSON_CreateString(mode_names[f]) : cJSON_CreateNull());
    if (rep->plan_choice >= 0) {
        cJSON *c = cJSON_AddObjectToObject(d, "plan_choice");
        cJSON_AddStringToObject(c, "mode", mode_names[rep->plan_choice]);
        cJSON_AddStringToObject(c, "text", rep->plan_choice_text);
        cJSON_AddBoolToObject(c, "ran", rep->modes[rep->plan_choice].ran);
        cJSON_AddBoolToObject(c, "measured_fastest", choice_ok(rep));
    } else {
        cJSON_AddNullToObject(d, "plan_choice");
    }
    char *txt = cJSON_Print(d);
    cJSON_Delete(d);
    return txt;
}

void sl_bench_table(const sl_bench_report *rep, FILE *f)
{
    char cpu[48] = "";
    if (rep->cpu_pct > 0) snprintf(cpu, sizeof cpu, "; device CPU %g%% of a core", rep->cpu_pct);
    fprintf(f, "%d image(s) in %d round(s), link %.3g Mbit/s, RTT %.1f ms (in-process shaper)%s\n",
            rep->images, rep->rounds, rep->bandwidth_bps / 1e6, rep->rtt_s * 1e3, cpu);
    fprintf(f, "%-10s %10s %10s %10s %8s %10s %10s %10s %9s %9s %9s %9s %7s %6s %7s\n", "mode",
            "median_ms", "p95_ms", "pred_ms", "error", "images/s", "bytes/img", "wire_B/img",
            "device_ms", "encode_ms", "xfer_ms", "edge_ms", "agree", "errors", "speedup");
    const sl_bench_mode *local = &rep->modes[SL_BENCH_LOCAL];
    int marked = 0;
    for (int i = 0; i < SL_BENCH_NMODES; i++) {
        const sl_bench_mode *m = &rep->modes[i];
        if (!m->ran) continue;
        char pred[32], err[32];
        double e = sl_bench_error(m);
        snprintf(pred, sizeof pred, m->predicted_s >= 0 ? "%.2f" : "-", m->predicted_s * 1e3);
        if (isnan(e))
            snprintf(err, sizeof err, "-");
        else
            snprintf(err, sizeof err, "%+.1f%%%s", 100 * e,
                     fabs(e) > SL_RESULTS_MAX_ERROR ? "!" : "");
        marked += !isnan(e) && fabs(e) > SL_RESULTS_MAX_ERROR;
        fprintf(f,
                "%-10s %10.2f %10.2f %10s %8s %10.1f %10.0f %10.0f %9.2f %9.2f %9.2f %9.2f %7.3f "
                "%6d %6.2fx\n",
                mode_names[i], m->median_s * 1e3, m->p95_s * 1e3, pred, err, m->throughput_ips,
                m->bytes_per_image, m->wire_bytes_per_image, m->device_s * 1e3, m->encode_s * 1e3,
                m->transfer_s * 1e3, m->edge_s * 1e3, m->agree_with_local, m->errors,
                m->median_s > 0 ? local->median_s / m->median_s : 0);
    }
    if (marked)
        fprintf(f, "! the prediction misses the measurement by more than %.0f%%\n",
                100 * SL_RESULTS_MAX_ERROR);
    int fast = sl_bench_fastest(rep), c = rep->plan_choice;
    if (c >= 0 && !rep->modes[c].ran)
        fprintf(f, "plan's choice: %s (%s), not measured here\n", mode_names[c],
                rep->plan_choice_text);
    else if (c >= 0 && fast >= 0)
        fprintf(f, "plan's choice: %s (%s): %s (%s %.2f ms, fastest %s %.2f ms)\n", mode_names[c],
                rep->plan_choice_text,
                c == fast        ? "the measured fastest"
                : choice_ok(rep) ? "within 5% of the measured fastest"
                                 : "NOT the measured fastest",
                mode_names[c], rep->modes[c].median_s * 1e3, mode_names[fast],
                rep->modes[fast].median_s * 1e3);
}
