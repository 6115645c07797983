/* bench_exec.c: inference latency of our executor on one model bundle (JSON line on stdout).
 * usage: bench_exec MODEL.h5 BATCH THREADS [REPEATS] [--no-fold] [--channels-last] [--plain]
 *        [--plan-nodes]
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
    int no_fold = 0, channels_last = 0, plain = 0, plan_nodes = 0;
    const sl_opt opts[] = {
        SL_OPT_FLAG(0, "no-fold", &no_fold, "do not fold batch norm into convolutions"),
        SL_OPT_FLAG(0, "channels-last", &channels_last, "run in NHWC"),
        SL_OPT_FLAG(0, "plain", &plain, "the plain (uncompiled) executor"),
        SL_OPT_FLAG(0, "plan-nodes", &plan_nodes, "also time planning every node alone"),
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
    double *t = calloc((size_t)repeats, sizeof *t), first = 0;
    for (int i = 0; i < 2 + repeats; i++) {
        sl_tensor *y;
        double t0 = sl_now();
        if (sl_runner_forward(r, x, &y)) {
            fprintf(stderr, "bench_exec: %s\n", sl_errmsg());
            return 1;
        }
        sl_tensor_free(y);
        if (i == 0) first = sl_now() - t0;
        if (i >= 2) t[i - 2] = sl_now() - t0;
    }
    double med = sl_median(t, (size_t)repeats), p90 = sl_percentile(t, (size_t)repeats, 90);
    /* The fastest repeat: the least disturbed by other processes on a shared machine. */
    double best = sl_percentile(t, (size_t)repeats, 0);
    printf("{\"impl\": \"scissionlite%s\", \"model\": \"%s\", \"batch\": %d, \"threads\": %d, "
           "\"median_ms\": %.3f, \"p90_ms\": %.3f, \"min_ms\": %.3f, \"open_ms\": %.1f, "
           "\"first_ms\": %.1f, \"nodes_plan_ms\": %.1f}\n",
           o.channels_last ? "-nhwc" : o.plain ? "-plain" : "", r->bundle->graph->name, (int)batch, (int)threads, med * 1e3, p90 * 1e3,
           best * 1e3, t_open * 1e3, first * 1e3, t_nodes * 1e3);
    free(t);
    sl_tensor_free(x);
    sl_runner_free(r);
    return 0;
}
