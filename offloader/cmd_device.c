/* cmd_device.c: `sl-offload device` — run the device slice on images and finish them on the edge.
 */
#include "common/cli.h"
#include "common/cpuquota.h"
#include "common/fsutil.h"
#include "common/opt.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "offloader/commands.h"
#include "offloader/device_run.h"
#include "offloader/local_run.h"
#include "offloader/net.h"
#include "offloader/results.h"
#include "offloader/shaper.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    const char *edge, *token_file, *out, *summary, *images, *model, *fallback, *plan, *plans;
    long pipeline, threads, confirm;
    double bw, rtt, edge_wait, cpu, prior_bw, stale, every, margin, hold;
    double reconnect_window;
    int cpu_mode;
    int logits, no_fold;
} A;

static const sl_opt options[] = {
    SL_OPT_STRING(0, "edge", &A.edge, "HOST:PORT[,...]",
                  "the edge server; several: fail over to the next when one fails"),
    SL_OPT_STRING(0, "token-file", &A.token_file, "FILE", "the shared token (HMAC-SHA256)"),
    SL_OPT_STRING(0, "model", &A.model, "FILE", "the device half (or a whole model: edge-only)"),
    SL_OPT_STRING(0, "plans", &A.plans, "FILE",
                  "adaptive: a plan table's bundles (docs/formats/plan-bundles.md) instead of\n"
                  "--model: each image runs on the plan predicted fastest at the link the\n"
                  "device estimates from its own requests"),
    SL_OPT_BANDWIDTH(0, "prior-bandwidth", &A.prior_bw,
                     "adaptive: the link assumed before the first answer (default: the\n"
                     "table's middle link)"),
    SL_OPT_DURATION(0, "stale", &A.stale,
                    "adaptive: probe the link when no request measured it for TIME (on\n"
                    "the local-only plan, or one sending too little to measure; default 5s);\n"
                    "on an offloading plan, PING the edge every TIME / 4 for the RTT"),
    SL_OPT_DOUBLE(0, "switch-margin", &A.margin, "PCT", 0, 99,
                  "adaptive: switch only to a plan predicted faster than the one in use with\n"
                  "the link estimate PCT % off either way (default 25)"),
    SL_OPT_LONG(0, "switch-confirm", &A.confirm, "N", 1, 1000,
                "adaptive: ... on N consecutive estimates, one per answer (default 3)"),
    SL_OPT_DURATION(0, "switch-hold", &A.hold,
                    "adaptive: stay at least TIME on a plan after switching to it (default 1s;\n"
                    "doubled, up to 8 x TIME, while switches come within 4 holds of each other;\n"
                    "0: no hold)"),
    SL_OPT_STRING(0, "images", &A.images, "FILE|DIR|GLOB", "the images to classify"),
    SL_OPT_DURATION(0, "every", &A.every,
                    "start image i no earlier than i * TIME after the start, as a camera\n"
                    "would deliver them (default: each as soon as the device is free)"),
    SL_OPT_LONG(0, "pipeline", &A.pipeline, "N", 1, 256,
                "requests in flight while the next image is computed (default 1)"),
    SL_OPT_STRING(0, "fallback", &A.fallback, "FILE",
                  "the whole model, run locally when the edge fails"),
    SL_OPT_DURATION(0, "edge-wait", &A.edge_wait,
                    "when the edge becomes unreachable, wait up to TIME (30s) for it to come\n"
                    "back before images fall back or fail (default: don't wait)"),
    SL_OPT_CALLBACK(0, "reconnect-window", &A.reconnect_window, "TIME",
                    sl_net_opt_reconnect_window,
                    "after a working connection to the edge broke, keep reconnecting until\n"
                    "TIME after the loss (default 15s; 0: only the 5 connect attempts)"),
    SL_OPT_BANDWIDTH(0, "bandwidth", &A.bw, "model a link of RATE (10mbit, 1.5MB/s...) in-process"),
    SL_OPT_DURATION(0, "rtt", &A.rtt, "the modelled link's round-trip time (20ms)"),
    SL_OPT_OUTPUT(&A.out, "write the JSON lines here (default: stdout)"),
    SL_OPT_STRING(0, "summary", &A.summary, "FILE", "write the summary there as well"),
    SL_OPT_FLAG(0, "logits", &A.logits, "add the logits to each line"),
    SL_OPT_LONG(0, "threads", &A.threads, "N", 1, 256,
                "intra-op threads (default: libtorch's choice)"),
    SL_OPT_FLAG(0, "no-fold", &A.no_fold, "do not fold batch norm into convolutions"),
    SL_OPT_DOUBLE(0, "cpu", &A.cpu, "PCT", 0.1, 6400,
                  "run as a slow device of PCT % of one core (see --cpu-mode)"),
    SL_OPT_CHOICE(0, "cpu-mode", &A.cpu_mode, SL_CPU_MODES, SL_CPU_MODE_HELP),
    SL_OPT_STRING(0, "plan", &A.plan, "FILE",
                  "the plan (select -o): the summary shows its prediction for this device's\n"
                  "mode beside the measurement, and the error"),
    SL_OPT_GROUP(sl_cmd_image_opts),
    SL_OPT_END,
};

const sl_optspec sl_cmd_device_spec = {
    "sl-offload device --edge HOST:PORT --token-file FILE (--model device.h5 | --plans FILE)\n"
    "                  --images FILE|DIR|GLOB [--pipeline N] [--fallback model.h5]\n"
    "                  [--bandwidth 10mbit --rtt 20ms] [-o results.jsonl]\n"
    "                  [--edge-wait T] [--summary FILE] [--logits] [--threads N]\n"
    "                  [--no-fold] [--cpu PCT] [--plan plan.json] [--max-pixels N]\n"
    "                  [--every T] [--prior-bandwidth RATE] [--stale T]\n"
    "                  [--switch-margin PCT] [--switch-confirm N] [--switch-hold T]",
    "Run the device half of a split model on each image, send the wire tensors to the edge and\n"
    "print one JSON line per image (stdout or -o): index, file, via (\"edge\", \"fallback\" or\n"
    "\"error\"), class_index, class, score, the time breakdown in seconds (device_s: image\n"
    "loading + device compute, encode_s, transfer_s, edge_queue_s, edge_s, total_s), bytes_up,\n"
    "bytes_down and error (why the edge failed). A whole model as --model runs the edge-only\n"
    "plan: the raw image (uint8, the model's input size) is sent and the edge runs the model.\n"
    "The last line is {\"summary\": {...}}, also printed on stderr (and to --summary FILE).\n"
    "Every image gets a line: a request whose connection broke before its answer is sent\n"
    "again after reconnecting (after a loss the device keeps trying for 15 s: the edge may\n"
    "be restarting); then --fallback (checked at start: the same input size and classes)\n"
    "runs the whole model locally, otherwise the line is an error. An unreachable edge is\n"
    "not tried again for 2 s. Exit code 1 when any image ended as an error.\n"
    "With --plans (adaptive), each line also has plan (the table's plan id) and probe; via\n"
    "\"local\" is the local-only plan; each switch of plan is a line {\"switch\": {index, from,\n"
    "to, bandwidth_bps, rtt_s, from_s, to_s, ...}} with the estimate that caused it.",
    options,
    0,
    0,
    NULL,
    "edge token-file images",
};

typedef struct sink_ctx {
    FILE *f;
    int logits;
    sl_results res;
    sl_progress *prog;
} sink_ctx;

/* A switch of plan as the JSON line {"switch": {...}} (docs/offloader.md). */
static void on_switch(void *arg, const sl_device_switch *sw)
{
    sink_ctx *k = arg;
    cJSON *root = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(root, "switch");
    cJSON_AddNumberToObject(o, "index", sw->index);
    cJSON_AddNumberToObject(o, "from", sw->from);
    cJSON_AddNumberToObject(o, "to", sw->to);
    cJSON_AddNumberToObject(o, "bandwidth_bps", sw->bandwidth_bps);
    cJSON_AddNumberToObject(o, "rtt_s", sw->rtt_s);
    cJSON_AddNumberToObject(o, "from_s", sw->from_s);
    cJSON_AddNumberToObject(o, "to_s", sw->to_s);
    cJSON_AddNumberToObject(o, "samples", sw->samples);
    cJSON_AddNumberToObject(o, "pings", sw->pings);
    cJSON_AddNumberToObject(o, "t_s", sw->t_s);
    char *line = cJSON_PrintUnformatted(root);
    if (line) fprintf(k->f, "%s\n", line);
    fflush(k->f);
    free(line);
    cJSON_Delete(root);
    sl_log_info("image %d: plan %d -> %d at %.3g Mbit/s, RTT %.1f ms (predicted %.4f s -> %.4f s)",
                sw->index, sw->from, sw->to, sw->bandwidth_bps / 1e6, sw->rtt_s * 1e3, sw->from_s,
                sw->to_s);
}

static void on_result(void *arg, const sl_device_result *r)
{
    sink_ctx *k = arg;
    char *line = sl_results_line(r, k->logits);
    if (line) fprintf(k->f, "%s\n", line);
    fflush(k->f);
    free(line);
    if (r->via == SL_VIA_ERROR) sl_log_warn("%s: %s", r->file, r->error);
    sl_results_add(&k->res, r);
    sl_progress_update(k->prog, (uint64_t)k->res.n, NULL);
}

/* The run's summary as the JSON object of the last line (docs/offloader.md); NULL when out of
 * memory. pred_s < 0: no plan. */
static cJSON *summary_json(const sl_results_summary *m, const char *pair_id, double pred_s,
                           double pred_bytes)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "images", m->images);
    cJSON_AddNumberToObject(s, "edge", m->edge);
    cJSON_AddNumberToObject(s, "fallback", m->fallback);
    cJSON_AddNumberToObject(s, "errors", m->errors);
    if (pair_id)
        cJSON_AddStringToObject(s, "pair_id", pair_id);
    else
        cJSON_AddNumberToObject(s, "local", m->local);
    cJSON_AddNumberToObject(s, "wall_s", m->wall_s);
    cJSON_AddNumberToObject(s, "throughput_ips", m->throughput_ips);
    cJSON_AddNumberToObject(s, "median_s", m->median_s);
    cJSON_AddNumberToObject(s, "p95_s", m->p95_s);
    cJSON_AddNumberToObject(s, "bytes_up_per_image", m->bytes_up);
    cJSON_AddNumberToObject(s, "bandwidth_bps", A.bw);
    cJSON_AddNumberToObject(s, "rtt_s", A.rtt);
    cJSON_AddNumberToObject(s, "device_cpu_percent", A.cpu);
    if (pred_s >= 0) {
        double err = sl_results_prediction_error(pred_s, m->median_s);
        cJSON_AddNumberToObject(s, "predicted_s", pred_s);
        cJSON_AddNumberToObject(s, "predicted_bytes", pred_bytes);
        cJSON_AddNumberToObject(s, "error", isnan(err) ? 0 : err);
        cJSON_AddBoolToObject(s, "error_over_limit", fabs(err) > SL_RESULTS_MAX_ERROR);
    }
    return s;
}

int sl_cmd_device(int argc, char **argv)
{
    memset(&A, 0, sizeof A);
    A.reconnect_window = -1; /* the library's default */
    A.pipeline = 1;
    sl_link_config link = sl_link_config_default(1, 0); /* its priors are the device's to set */
    A.margin = 100 * link.margin;
    A.confirm = link.confirm;
    A.hold = link.hold_s;
    int rc = sl_opt_parse(&sl_cmd_device_spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    link.margin = A.margin / 100;
    link.confirm = (int)A.confirm;
    link.hold_s = A.hold;
    const char *edge = A.edge, *token_file = A.token_file, *out = A.out, *summary = A.summary;
    const char *images = A.images;
    if (!A.model == !A.plans) return sl_usage_error("give --model or --plans (one of them)");
    if (A.plans && A.plan) return sl_usage_error("--plan applies to one pair, not to --plans");
    sl_device_opts o = {.model = A.model,
                        .plans = A.plans,
                        .prior_bps = A.prior_bw,
                        .prior_rtt_s = -1,
                        .stale_s = A.stale,
                        .link = &link,
                        .every_s = A.every,
                        .fallback = A.fallback,
                        .edge_wait_s = A.edge_wait,
                        .fold_bn = !A.no_fold};
    long pipeline = A.pipeline, threads = A.threads;
    double bw = A.bw, rtt = A.rtt;
    int logits = A.logits;
    sl_hostport edges[SL_NET_MAX_ADDRS];
    int nedges;
    if (sl_net_hostport_list(edge, edges, SL_NET_MAX_ADDRS, &nedges))
        return sl_usage_error("--edge %s", sl_errmsg());
    o.pipeline = (int)pipeline;
    signal(SIGPIPE, SIG_IGN);

    char **paths = NULL;
    int n = 0;
    sl_device *d = NULL;
    sl_shaper *sh = NULL;
    sl_client *cl = NULL;
    sink_ctx k = {0};
    sl_cpuquota *quota = NULL;
    double pred_s = -1, pred_bytes = -1;
    /* The images, the token and the bundle are checked before the model runtime is touched
     * (threads are set once the device half is open): a refusal costs no libtorch start. The
     * client does not connect yet. */
    rc = sl_path_list(images, &paths, &n);
    if (rc == SL_OK && (bw > 0 || rtt > 0)) rc = sl_shaper_new(bw, rtt, 0, &sh);
    sl_client_config ccfg;
    sl_client_config_defaults(&ccfg);
    if (A.reconnect_window >= 0) ccfg.reconnect_window = A.reconnect_window;
    ccfg.max_inflight = o.pipeline;
    ccfg.shaper = sh;
    if (rc == SL_OK) rc = sl_client_new_at(edge, token_file, &ccfg, &cl);
    if (rc == SL_OK && A.cpu > 0) rc = sl_cpu_slow_enter(A.cpu, A.cpu_mode, 0, "device", &quota);
    if (rc == SL_OK) rc = sl_device_open(&o, &d);
    if (rc == SL_OK && threads) sl_set_num_threads((int)threads);
    if (rc == SL_OK && A.plan)
        rc = sl_results_plan_predict(A.plan, sl_device_edge_only(d), sl_device_wire_json(d),
                                     &pred_s, &pred_bytes);
    if (rc == SL_OK) rc = sl_results_init(&k.res, n);
    if (rc == SL_OK && !(k.f = out ? fopen(out, "w") : stdout))
        rc = sl_err(SL_EIO, "%s: cannot write", out);
    double t0 = sl_now();
    if (rc == SL_OK) {
        if (A.plans)
            sl_log_info("%d image(s), adaptive over the %d plans of %s, on %s", n,
                        sl_device_table(d)->n_plans, A.plans, edge);
        else
            sl_log_info("%d image(s) to pair id %s%s on %s", n, sl_device_pair_hex(d),
                        sl_device_edge_only(d) ? " (edge-only: raw images)" : "", edge);
        sl_device_on_switch(d, on_switch, &k);
        k.logits = logits;
        k.prog = sl_progress_start("images", (uint64_t)n);
        rc = sl_device_run(d, cl, paths, n, on_result, &k);
        sl_progress_done(k.prog, NULL);
    }
    if (rc == SL_OK) {
        sl_results_summary m;
        sl_results_summarise(&k.res, sl_now() - t0, &m);
        cJSON *s = summary_json(&m, A.plans ? NULL : sl_device_pair_hex(d), pred_s, pred_bytes);
        if (A.plans) {
            long switches, probes;
            double ebps, ertt;
            sl_device_adapt_stats(d, &switches, &probes, &ebps, &ertt);
            cJSON_AddNumberToObject(s, "switches", switches);
            cJSON_AddNumberToObject(s, "probes", probes);
            cJSON_AddNumberToObject(s, "estimate_bps", ebps);
            cJSON_AddNumberToObject(s, "estimate_rtt_s", ertt);
        }
        cJSON *root = cJSON_CreateObject();
        cJSON_AddItemToObject(root, "summary", s);
        char *line = cJSON_PrintUnformatted(root);
        if (line) fprintf(k.f, "%s\n", line);
        sl_log_info("%d image(s): %d by the edge, %d by the fallback, %d error(s); median %.4f s, "
                    "p95 %.4f s, %.1f images/s, %.0f bytes up per image",
                    m.images, m.edge, m.fallback, m.errors, m.median_s, m.p95_s, m.throughput_ips,
                    m.bytes_up);
        if (pred_s >= 0) {
            double err = sl_results_prediction_error(pred_s, m.median_s);
            if (isnan(err)) err = 0;
            sl_log_info("the plan predicted %.4f s and %.0f bytes up: error %+.1f%%%s", pred_s,
                        pred_bytes, 100 * err,
                        fabs(err) > SL_RESULTS_MAX_ERROR ? " (beyond 10%: do not trust this plan)"
                                                         : "");
        }
        if (summary && line) {
            char *doc = cJSON_Print(s);
            rc = doc ? sl_write_file_atomic(summary, doc, strlen(doc))
                     : sl_err(SL_ENOMEM, "out of memory");
            free(doc);
        }
        free(line);
        cJSON_Delete(root);
    }
    if (k.f && k.f != stdout && fclose(k.f) && rc == SL_OK)
        rc = sl_err(SL_EIO, "%s: cannot write", out);
    int done = k.res.n, errors = k.res.errors;
    sl_results_free(&k.res);
    sl_client_free(cl);
    sl_shaper_free(sh);
    sl_device_free(d);
    sl_cpuquota_leave(quota);
    sl_path_list_free(paths, n);
    if (rc != SL_OK) return sl_fail();
    if (errors) {
        sl_log_error("%d of %d image(s) have no answer (see their error lines)", errors, done);
        return SL_EXIT_FAIL;
    }
    return SL_EXIT_OK;
}
