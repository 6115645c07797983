/* bench_exec.c: inference latency of our executor on one model bundle (JSON line on stdout).
 * usage: bench_exec MODEL.h5 BATCH THREADS [REPEATS] [--no-fold] [--channels-last] [--plain] */
#include "common/status.h"
#include "common/timeutil.h"
#include "offloader/local_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_exec MODEL.h5 BATCH THREADS [REPEATS] [--no-fold] "
                        "[--channels-last] [--plain]\n");
        return 2;
    }
    int batch = atoi(argv[2]), threads = atoi(argv[3]), repeats = argc > 4 ? atoi(argv[4]) : 20;
    sl_exec_opts o = {.fold_bn = 1};
    for (int i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "--no-fold")) o.fold_bn = 0;
        if (!strcmp(argv[i], "--channels-last")) o.channels_last = 1;
        if (!strcmp(argv[i], "--plain")) o.plain = 1;
    }
    sl_set_num_threads(threads);
    sl_runner *r;
    if (sl_runner_open_opts(argv[1], &o, &r)) {
        fprintf(stderr, "bench_exec: %s\n", sl_errmsg());
        return 1;
    }
    const sl_shape *in = &r->bundle->graph->input_shape;
    int64_t shape[4] = {batch, in->d[0], in->d[1], in->d[2]};
    sl_tensor *x;
    sl_manual_seed(0);
    sl_tensor_randn(shape, 4, &x);
    double *t = calloc((size_t)repeats, sizeof *t);
    for (int i = 0; i < 2 + repeats; i++) {
        sl_tensor *y;
        double t0 = sl_now();
        if (sl_runner_forward(r, x, &y)) {
            fprintf(stderr, "bench_exec: %s\n", sl_errmsg());
            return 1;
        }
        sl_tensor_free(y);
        if (i >= 2) t[i - 2] = sl_now() - t0;
    }
    double med = sl_median(t, (size_t)repeats), p90 = sl_percentile(t, (size_t)repeats, 90);
    /* The fastest repeat: the least disturbed by other processes on a shared machine. */
    double best = sl_percentile(t, (size_t)repeats, 0);
    printf("{\"impl\": \"scissionlite%s\", \"model\": \"%s\", \"batch\": %d, \"threads\": %d, "
           "\"median_ms\": %.3f, \"p90_ms\": %.3f, \"min_ms\": %.3f}\n",
           o.channels_last ? "-nhwc" : o.plain ? "-plain" : "", r->bundle->graph->name, batch, threads, med * 1e3, p90 * 1e3,
           best * 1e3);
    free(t);
    sl_tensor_free(x);
    sl_runner_free(r);
    return 0;
}
