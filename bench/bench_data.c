/* bench_data.c: images per second through the datasets loader (decode + resize + normalise +
 * batch) from a PNG folder and from its HDF5 cache, at 64x64 and 224x224.
 *
 * usage: bench_data DIR [--threads N] [--batch N] [--min-images N] [--work TMPDIR]
 * Prints one JSON object per line: {"source", "size", "threads", "images", "seconds",
 * "images_per_s", "cpu_ms_per_image"}. bench/data.sh runs it beside bench/data_peer.py
 * (torchvision).
 */
#include "common/log.h"
#include "common/opt.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "datasets/cache.h"
#include "datasets/dataset.h"
#include "datasets/loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* CPU seconds of every thread of this process: under contention from other work on the
 * machine, CPU per image compares fairly where images/s cannot. */
static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/* Runs whole epochs until at least `min_images` images went through; returns images/s. */
static int run(sl_dataset *ds, int size, int threads, int batch, long min_images, long *images,
               double *seconds, double *cpu)
{
    sl_loader_opts o;
    sl_loader_opts_init(&o);
    o.spec.h = o.spec.w = size;
    o.threads = threads;
    o.batch = batch;
    o.seed = 1;
    sl_loader *l;
    int rc = sl_loader_new(ds, &o, &l);
    if (rc != SL_OK) return rc;
    long n = 0;
    double sink = 0, t0 = sl_now(), c0 = cpu_seconds();
    for (int epoch = 0; n < min_images; epoch++) {
        sl_loader_reset(l, epoch);
        sl_batch b;
        while ((rc = sl_loader_next(l, &b)) == SL_OK) {
            n += b.n;
            sink += b.x[0]; /* touch the batch as a consumer would */
        }
        if (rc != SL_LOADER_END) break;
        rc = SL_OK;
    }
    sl_loader_free(l); /* joins the workers, so their CPU time is all counted */
    *seconds = sl_now() - t0;
    *cpu = cpu_seconds() - c0;
    *images = n;
    if (sink == 12345.678) fputc(' ', stderr);
    return rc;
}

static int report(const char *source, int size, int threads, sl_dataset *ds, int batch,
                  long min_images)
{
    long n;
    double s, cpu;
    if (run(ds, size, threads, batch, min_images, &n, &s, &cpu) != SL_OK) {
        fprintf(stderr, "bench_data: %s at %d: %s\n", source, size, sl_errmsg());
        return 1;
    }
    printf("{\"source\": \"%s\", \"size\": %d, \"threads\": %d, \"images\": %ld, "
           "\"seconds\": %.3f, \"images_per_s\": %.1f, \"cpu_ms_per_image\": %.3f}\n",
           source, size, threads, n, s, n / s, cpu * 1e3 / n);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    const char *work = "/tmp";
    int threads = 2, batch = 32;
    long min_images = 2000;
    const sl_opt opts[] = {
        SL_OPT_INT(0, "threads", &threads, "N", 1, 256, "loader threads (default 2)"),
        SL_OPT_INT(0, "batch", &batch, "N", 1, 4096, "images per batch (default 32)"),
        SL_OPT_LONG(0, "min-images", &min_images, "N", 1, 1L << 30,
                    "images per measurement at least (default 2000)"),
        SL_OPT_STRING(0, "work", &work, "TMPDIR", "where the caches are written (default /tmp)"),
        SL_OPT_END,
    };
    const sl_optspec spec = {"bench_data DIR [options]",
                             "Images per second through the datasets loader, folder and cache.",
                             opts, 1, 1, "one DIR", NULL};
    sl_log_set_prefix("bench_data");
    int rc = sl_opt_parse(&spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    const char *dir = argv[1];
    sl_dataset_opts dopt;
    sl_dataset_opts_init(&dopt);
    dopt.verify = SL_VERIFY_HEADER; /* the scan is not what is measured */
    sl_dataset *ds;
    if (sl_dataset_open(dir, &dopt, &ds) != SL_OK) {
        fprintf(stderr, "bench_data: %s\n", sl_errmsg());
        return 1;
    }
    int bad = 0;
    const int sizes[2] = {64, 224};
    for (int k = 0; k < 2; k++)
        bad |= report("folder", sizes[k], threads, ds, batch, min_images);
    for (int k = 0; k < 2 && !bad; k++) {
        char h5[4096];
        snprintf(h5, sizeof h5, "%s/bench_data.%d.%d.h5", work, (int)getpid(), sizes[k]);
        sl_cache_opts co = {3, sizes[k], sizes[k], SL_RESIZE_STRETCH, threads, 0};
        sl_dataset *cds = NULL;
        if (sl_cache_write(ds, &co, h5, NULL) != SL_OK ||
            sl_dataset_open(h5, NULL, &cds) != SL_OK) {
            fprintf(stderr, "bench_data: cache: %s\n", sl_errmsg());
            bad = 1;
        } else {
            bad |= report("cache", sizes[k], threads, cds, batch, min_images);
        }
        sl_dataset_free(cds);
        remove(h5);
    }
    sl_dataset_free(ds);
    return bad;
}
