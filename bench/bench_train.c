/* bench_train.c: training throughput (images/s) of the trainer's step on in-memory data — base
 * training and TL stages 1 and 2 — for bench/train.sh, which runs bench/train_peer.py (PyTorch)
 * beside it on the same model, batch and data shapes.
 *
 * usage: bench_train MODEL.h5 [--tl-stage 1|2] [--batch N] [--steps N] [--threads N]
 *        bench_train --write-shapes DIR N   (N train and N/3+1 val images per class of the
 *                                            trainer tests' blob/clean/line set)
 *        bench_train MODEL.h5 --val-cost N [--batch N]   validation's executor paths: the plan
 *                                            and N batches, fresh compiled plan against plain
 * Prints one JSON line: {"impl": "sl", "mode": ..., "images_per_s": ...}.
 */
#include "common/cli.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "model/bundle.h"
#include "model/exec.h"
#include "trainer/train.h"
#include "../tests/trainer/trainer_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU seconds of the whole process (all threads): stabler than wall time on a shared machine. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One validation pass as sl-train fit's validate() makes it: plan (o), then n batches of x. Prints
 * the plan's and the batches' wall and CPU seconds as one JSON line. */
static int val_cost(sl_graph *g, const sl_exec_opts *o, const char *path, const sl_tensor *x,
                    int n)
{
    double w0 = sl_now(), c0 = cpu_seconds(), w1, c1, w2 = 0, c2 = 0;
    sl_exec *e = NULL;
    if (sl_exec_new(g, NULL, 0, NULL, 0, o, &e)) return 1;
    w1 = sl_now();
    c1 = cpu_seconds();
    for (int i = 0; i < n; i++) {
        if (i == 2) {
            w2 = sl_now();
            c2 = cpu_seconds();
        }
        sl_value in = {.t = (sl_tensor *)x}, out = {0};
        if (sl_exec_run(e, &in, &out)) {
            sl_exec_free(e);
            return 1;
        }
        sl_value_clear(&out);
    }
    double w3 = sl_now(), c3 = cpu_seconds();
    sl_exec_free(e);
    printf("{\"path\": \"%s\", \"model\": \"%s\", \"batches\": %d, \"plan_s\": %.3f, "
           "\"plan_cpu_s\": %.3f, \"first2_s\": %.3f, \"first2_cpu_s\": %.3f, "
           "\"batch_ms\": %.2f, \"batch_cpu_ms\": %.2f, \"pass_s\": %.3f, "
           "\"pass_cpu_s\": %.3f}\n",
           path, g->name, n, w1 - w0, c1 - c0, w2 - w1, c2 - c1, 1e3 * (w3 - w2) / (n - 2),
           1e3 * (c3 - c2) / (n - 2), w3 - w0, c3 - c0);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    sl_train_opts o;
    sl_train_opts_init(&o);
    o.batch = 16;
    int steps = 10, warm = 2, val_batches = 0;
    const char *shapes[2] = {NULL, NULL};
    const sl_opt opts[] = {
        SL_OPT_INT(0, "tl-stage", &o.tl_stage, "1|2", 1, 2, "a TL stage instead of base training"),
        SL_OPT_INT(0, "batch", &o.batch, "N", 1, 65536, "images per step (default 16)"),
        SL_OPT_INT(0, "steps", &steps, "N", 1, 1000000, "timed steps (default 10)"),
        SL_OPT_INT(0, "threads", &o.threads, "N", 1, 256, "libtorch threads (default 2)"),
        SL_OPT_INT(0, "val-cost", &val_batches, "N", 3, 1000000,
                   "time validation's plan and N batches on the compiled and plain paths"),
        SL_OPT_PAIR(0, "write-shapes", shapes, "DIR N",
                    "write N train and N/3+1 val images per class of the trainer tests' set"),
        SL_OPT_END,
    };
    const sl_optspec spec = {"bench_train MODEL.h5 [options]\nbench_train --write-shapes DIR N",
                             "Training throughput of the trainer's step on in-memory data.", opts,
                             0, 1, NULL, NULL};
    sl_log_set_prefix("bench_train");
    int nargs, prc = sl_opt_parse(&spec, argc, argv, &nargs);
    if (prc != SL_OPT_CONTINUE) return prc;
    if (shapes[0]) {
        /* The trainer tests' learnable set (tests/trainer/trainer_data.h) for bench/train.sh. */
        long n;
        if (nargs) return sl_usage_error("--write-shapes takes no MODEL.h5");
        if (sl_parse_long("--write-shapes N", shapes[1], 1, 1000000, &n))
            return sl_usage_error("%s", sl_errmsg());
        if (td_write(shapes[0], (int)n, (int)n / 3 + 1)) {
            fprintf(stderr, "bench_train: %s\n", sl_errmsg());
            return 1;
        }
        return 0;
    }
    if (nargs != 1) return sl_usage_error("expected one MODEL.h5, got %d arguments", nargs);
    sl_bundle *b = NULL;
    if (sl_bundle_read(argv[1], &b)) {
        fprintf(stderr, "bench_train: %s\n", sl_errmsg());
        return 1;
    }
    sl_graph *g = b->graph;
    const sl_shape *in = &g->input_shape;
    int64_t shape[4] = {o.batch, in->d[0], in->d[1], in->d[2]};
    int64_t classes = g->nodes[g->out_idx[0]].out.d[0];
    size_t nx = (size_t)(o.batch * in->d[0] * in->d[1] * in->d[2]);
    float *x = malloc(nx * sizeof *x);
    int64_t *y = malloc((size_t)o.batch * sizeof *y);
    sl_tensor *r = NULL;
    sl_manual_seed(0);
    if (!x || !y || sl_tensor_randn(shape, 4, &r) || sl_tensor_to_buffer(r, x, nx * sizeof *x)) {
        fprintf(stderr, "bench_train: cannot make the data\n");
        return 1;
    }
    for (int i = 0; i < o.batch; i++)
        y[i] = i % classes;
    if (val_batches) {
        /* Inference as validate() runs it: a compiled plan made afresh (the weights changed),
         * or the plain path (no folding: it reads the live weights, so one plan serves every
         * epoch). Or plain with folding, planned afresh. Alternating, three times each. */
        sl_set_num_threads(o.threads);
        sl_exec_opts paths[3] = {{.fold_bn = 1}, {.plain = 1}, {.plain = 1, .fold_bn = 1}};
        const char *names[3] = {"compiled", "plain", "plain-fold"};
        for (int k = 0; k < 9; k++)
            if (val_cost(g, &paths[k % 3], names[k % 3], r, val_batches)) {
                fprintf(stderr, "bench_train: %s\n", sl_errmsg());
                return 1;
            }
        sl_tensor_free(r);
        sl_bundle_free(b);
        free(x);
        free(y);
        return 0;
    }
    sl_trainer *t = NULL;
    if (sl_trainer_new(g, &o, &t)) {
        fprintf(stderr, "bench_train: %s\n", sl_errmsg());
        return 1;
    }
    double t0 = 0, c0 = 0, loss = 0;
    for (int s = 0; s < warm + steps; s++) {
        if (s == warm) {
            t0 = sl_now();
            c0 = cpu_seconds();
        }
        if (sl_trainer_step(t, x, y, o.batch, &loss)) {
            fprintf(stderr, "bench_train: %s\n", sl_errmsg());
            return 1;
        }
    }
    double secs = sl_now() - t0, cpu = cpu_seconds() - c0;
    static const char *const modes[] = {"base", "tl-stage1", "tl-stage2"};
    printf("{\"impl\": \"sl\", \"mode\": \"%s\", \"size\": %lld, \"batch\": %d, \"threads\": %d, "
           "\"steps\": %d, \"seconds\": %.4f, \"images_per_s\": %.2f, \"cpu_ms_per_image\": %.3f, "
           "\"loss\": %.5f}\n",
           modes[o.tl_stage], (long long)in->d[1], o.batch, o.threads, steps, secs,
           steps * o.batch / secs, 1000 * cpu / (steps * o.batch), loss);
    sl_trainer_free(t);
    sl_tensor_free(r);
    sl_bundle_free(b);
    free(x);
    free(y);
    return 0;
}
