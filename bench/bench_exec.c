/* bench_exec.c: inference latency of our executor on one model bundle (JSON line on stdout).
 * usage: bench_exec MODEL.h5 BATCH THREADS [REPEATS] [--no-fold] [--channels-last] [--plain]
 *        [--plan-nodes] [--min-seconds S] [--serve]
 * A round is 2 warm-up runs (1 in later rounds) and then REPEATS timed runs, or more until S
 * seconds have passed. With --serve the model is opened and planned once and each line read
 * from stdin runs one more round (bench/exec.sh interleaves the rounds of several processes
 * this way, as bench/exec_peer.py --serve does for PyTorch's).
 * --plan-nodes adds "nodes_plan_ms": the time to plan every node alone (from its inputs to it),
 * as the profiler does for its per-node timings, summed over the model's nodes. */
#include "common/cli.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "offloader/local_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    sl_exec_opts o = {.fold_bn = 1};
    int no_fold = 0, channels_last = 0, plain = 0, plan_nodes = 0, serve = 0;
    double min_seconds = 0;
    const sl_opt opts[] = {
        SL_OPT_FLAG(0, "no-fold", &no_fold, "do not fold batch norm into convolutions"),
        SL_OPT_FLAG(0, "channels-last", &channels_last, "run in NHWC"),
        SL_OPT_FLAG(0, "plain", &plain, "the plain (uncompiled) executor"),
        SL_OPT_FLAG(0, "plan-nodes", &plan_nodes, "also time planning every node alone"),
        SL_OPT_DOUBLE(0, "min-seconds", &min_seconds, "S", 0, 3600,
                      "time more repeats until S seconds have passed (default 0: REPEATS)"),
        SL_OPT_FLAG(0, "serve", &serve, "open once; run one round per line read from stdin"),
        SL_OPT_END,
    };
    const sl_optspec spec = {"bench_exec MODEL.h5 BATCH THREADS [REPEATS] [options]",
                             "Inference latency of our executor on one model (a JSON line).", opts,
                             3, 4, "MODEL.h5 BATCH THREADS [REPEATS]", NULL};
    sl_log_set_prefix("bench_exec");
    int nargs, prc = sl_opt_parse(&spec, argc, argv, &nargs);
    if (prc != SL_OPT_CONTINUE) return prc;
    long batch, threads, repeats = 20;
    if (sl_parse_long("BATCH", argv[2], 1, 4096, &batch) ||
        sl_parse_long("THREADS", argv[3], 1, 256, &threads) ||
        (nargs > 3 && sl_parse_long("REPEATS", argv[4], 1, 1000000, &repeats)))
        return sl_usage_error("%s", sl_errmsg());
    o.fold_bn = !no_fold;
    o.channels_last = channels_last;
    o.plain = plain;
    sl_set_num_threads((int)threads);
    sl_runner *r;
    /* Opening plans the run: with the compiled path this is where the TorchScript modules are
     * built, frozen and optimised. */
    double t_open = sl_now();
    if (sl_runner_open_opts(argv[1], &o, &r)) {
        fprintf(stderr, "bench_exec: %s\n", sl_errmsg());
        return 1;
    }
    t_open = sl_now() - t_open;
    double t_nodes = 0;
    for (int i = 0; plan_nodes && i < r->bundle->graph->nnodes; i++) {
        sl_node *n = &r->bundle->graph->nodes[i];
        if (n->op == SL_OP_PLACEHOLDER) continue;
        sl_exec *e = NULL;
        double t0 = sl_now();
        if (sl_exec_new(r->bundle->graph, (const char *const *)n->inputs, n->ninputs,
                        (const char *const *)&n->name, 1, &o, &e)) {
            fprintf(stderr, "bench_exec: %s\n", sl_errmsg());
            return 1;
        }
        t_nodes += sl_now() - t0;
        sl_exec_free(e);
    }
    const sl_shape *in = &r->bundle->graph->input_shape;
    int64_t shape[4] = {batch, in->d[0], in->d[1], in->d[2]};
    sl_tensor *x;
    sl_manual_seed(0);
    sl_tensor_randn(shape, 4, &x);
    size_t cap = (size_t)repeats;
    double *t = malloc(cap * sizeof *t), first = -1;
    if (!t) {
        fprintf(stderr, "bench_exec: out of memory\n");
        return 1;
    }
    char line[256];
    /* Two warm-up runs in the first round: the graph executor profiles the first call and
     * optimises on the second (docs/benchmarks.md, "Inference (executor)"). */
    for (int warm = 2; !serve || fgets(line, sizeof line, stdin); warm = 1) {
        size_t n = 0;
        double start = 0;
        for (int i = 0; i < warm || n < (size_t)repeats || sl_now() - start < min_seconds; i++) {
            if (i == warm) start = sl_now();
            if (i >= warm && n == cap) {
                double *g = cap < 1000000 ? realloc(t, 2 * cap * sizeof *t) : NULL;
                if (!g) break;
                t = g;
                cap *= 2;
            }
            sl_tensor *y;
            double t0 = sl_now();
            if (sl_runner_forward(r, x, &y)) {
                fprintf(stderr, "bench_exec: %s\n", sl_errmsg());
                return 1;
            }
            sl_tensor_free(y);
            double dt = sl_now() - t0;
            if (first < 0) first = dt;
            if (i >= warm) t[n++] = dt;
        }
        double med = sl_median(t, n), p90 = sl_percentile(t, n, 90);
        /* The fastest repeat: the least disturbed by other processes on a shared machine. */
        double best = sl_percentile(t, n, 0);
        printf("{\"impl\": \"scissionlite%s\", \"model\": \"%s\", \"batch\": %d, \"threads\": %d, "
               "\"repeats\": %zu, \"median_ms\": %.3f, \"p90_ms\": %.3f, \"min_ms\": %.3f, "
               "\"open_ms\": %.1f, \"first_ms\": %.1f, \"nodes_plan_ms\": %.1f}\n",
               o.channels_last ? "-nhwc" : o.plain ? "-plain" : "", r->bundle->graph->name,
               (int)batch, (int)threads, n, med * 1e3, p90 * 1e3, best * 1e3, t_open * 1e3,
               first * 1e3, t_nodes * 1e3);
        fflush(stdout);
        if (!serve) break;
    }
    free(t);
    sl_tensor_free(x);
    sl_runner_free(r);
    return 0;
}
