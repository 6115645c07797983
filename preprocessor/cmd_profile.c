/* cmd_profile.c: `sl-preprocess profile` — measure a model on this host into profile JSON. */
#include "common/cli.h"
#include "common/cpuquota.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/status.h"
#include "model/bundle.h"
#include "preprocessor/commands.h"
#include "preprocessor/profile.h"
#include "preprocessor/tl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    long threads, batch, warmup, repeats;
    sl_list tl;
    const char *output;
    const char *images;
    long max_images, zstd_level;
    double cpu, idle_gap;
    int cpu_mode;
} A;

static const sl_opt options[] = {
    SL_OPT_LONG(0, "threads", &A.threads, "N", 1, 1024, "intra-op threads (default: libtorch's default)"),
    SL_OPT_LONG(0, "batch", &A.batch, "N", 1, 4096, "images per run (default 1)"),
    SL_OPT_LONG(0, "warmup", &A.warmup, "N", 0, 100000, "untimed runs before each measurement (default 2), beyond the 2\n"
                "every new plan gets (the graph executor's profiling and compiling calls)"),
    SL_OPT_LONG(0, "repeats", &A.repeats, "N", 1, 100000,
                "timed runs per measurement; medians are reported (default 10)"),
    SL_OPT_LIST(0, "tl", &A.tl, "LIST", 64,
                "transfer layers to measure at every cut (default pool,conv-r4-s2-b8;\n"
                "'none' for none)"),
    SL_OPT_STRING(0, "images", &A.images, "DIR|FILE",
                  "sample images of the product line the wire sizes are measured on (every image\n"
                  "below DIR; without it random input, which compresses far worse)"),
    SL_OPT_LONG(0, "max-images", &A.max_images, "N", 1, 4096,
                "sample images used at most, evenly spaced over the sorted list (default 8)"),
    SL_OPT_LONG(0, "zstd-level", &A.zstd_level, "N", 0, 22,
                "the device's zstd level (default 3, as sl-offload device; 0 = none)"),
    SL_OPT_DURATION(0, "idle-gap", &A.idle_gap,
                    "idle time before each timed prefix, suffix and edge-side whole run, as a\n"
                    "split's halves wait for the network between images (default 20ms; 0: back\n"
                    "to back; docs/profile.md)"),
    SL_OPT_DOUBLE(0, "cpu", &A.cpu, "PCT", 0.1, 6400,
                  "measure as a slow device of PCT % of one core (see --cpu-mode)"),
    SL_OPT_CHOICE(0, "cpu-mode", &A.cpu_mode, SL_CPU_MODES, SL_CPU_MODE_HELP),
    SL_OPT_OUTPUT(&A.output, "write the profile here (default: JSON on stdout)"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_profile_spec = {
    "sl-preprocess profile MODEL.h5 [--threads N] [--batch N] [--warmup N] [--repeats N]\n"
    "                      [--tl pool,conv-r4-s2-b8,...] [--images DIR] [--cpu PCT]\n"
    "                      [--idle-gap TIME]\n"
    "                      [-o profile.json]",
    "Measure a model on this host (docs/profile.md): every block between consecutive\n"
    "single-tensor cut points, every node alone (for DADS), the whole model, the bytes at each\n"
    "cut, the wire framing speed, and per cut the encoder/decoder time and wire bytes of each\n"
    "transfer layer given; each cut's prefix and suffix run as one range; every tensor through\n"
    "the device's codec on sample images. Batch norm is folded into convs as in deployment.",
    options,
    1,
    1,
    "one MODEL.h5",
    NULL,
};

int sl_cmd_profile(int argc, char **argv)
{
    memset(&A, 0, sizeof A);
    A.batch = 1;
    A.warmup = 2;
    A.repeats = 10;
    A.max_images = 8;
    A.zstd_level = 3;
    A.idle_gap = 0.020;
    int rc = sl_opt_parse(&sl_cmd_profile_spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    if (A.idle_gap > 60)
        return sl_usage_error("--idle-gap: %g s is over the 60 s a round trip could take",
                              A.idle_gap);
    long threads = A.threads, batch = A.batch, warmup = A.warmup, repeats = A.repeats;
    const char *output = A.output;
    static const char *const default_tl[] = {"pool", "conv-r4-s2-b8"};
    const char *ids[64];
    int nids = 0;
    if (!A.tl.n) {
        for (int i = 0; i < 2; i++)
            ids[nids++] = default_tl[i];
    } else if (!(A.tl.n == 1 && !strcmp(A.tl.items[0], "none"))) {
        /* Each configuration is checked before the (slow) measuring starts. */
        for (int i = 0; i < A.tl.n; i++) {
            sl_tl_config cfg;
            if (sl_tl_parse_config(A.tl.items[i], &cfg)) {
                sl_list_free(&A.tl);
                return sl_usage_error("--tl: %s", sl_errmsg());
            }
            ids[nids++] = A.tl.items[i];
        }
    }
    sl_profile_opts po = {.threads = (int)threads,
                          .batch = (int)batch,
                          .warmup = (int)warmup,
                          .repeats = (int)repeats,
                          .tl = ids,
                          .ntl = nids,
                          .progress = 1,
                          .codec_level = A.zstd_level ? (int)A.zstd_level : -1,
                          .idle_gap_s = A.idle_gap};
    char **images = NULL;
    int nimages = 0;
    sl_cpuquota *quota = NULL;
    sl_profile *p = NULL;
    sl_bundle *b = NULL;
    rc = A.images ? sl_profile_sample_images(A.images, (int)A.max_images, &images, &nimages) : SL_OK;
    if (!rc && !A.images)
        sl_log_warn("no --images: wire sizes are measured on random input, which compresses far "
                    "worse than a real image's activations; give a few images of the product line");
    po.images = (const char *const *)images;
    po.nimages = nimages;
    if (!rc) rc = sl_bundle_read(argv[1], &b);
    if (!rc && A.cpu > 0) rc = sl_cpu_slow_enter(A.cpu, A.cpu_mode, 0, "measuring", &quota);
    if (!rc) rc = sl_profile_measure(b->graph, &po, &p);
    if (!rc && quota) {
        /* the profile says which device it describes: "<cpu model>, as 30% of a core, ..." */
        char what[160], *cpu = NULL;
        sl_cpuquota_describe(quota, what, sizeof what);
        size_t n = strlen(p->cpu) + strlen(what) + 8;
        if ((cpu = malloc(n))) {
            snprintf(cpu, n, "%s, as %s", p->cpu, what);
            free(p->cpu);
            p->cpu = cpu;
        } else {
            rc = sl_err(SL_ENOMEM, "out of memory");
        }
    }
    sl_cpuquota_leave(quota);
    if (!rc && output) rc = sl_profile_write(output, p);
    if (!rc && !output) {
        char *js = sl_profile_to_json(p);
        if (js)
            puts(js);
        else
            rc = SL_ENOMEM;
        free(js);
    }
    if (!rc)
        sl_log_info("%s: %d nodes, %d cuts; whole model %.4fs (p10 %.4f, p90 %.4f), blocks %.4fs "
                    "(gap %+.4fs), serialise %.2f GB/s, %d threads, batch %d; raw image %lld -> "
                    "%lld bytes on the wire (%s, %d sample images)%s%s",
                    p->model, p->n_nodes, p->n_cuts, p->total_median_s, p->total_p10_s,
                    p->total_p90_s, p->block_sum_s, p->gap_s, p->serialise_bytes_per_s / 1e9,
                    p->threads, p->batch, (long long)p->input_raw_bytes,
                    (long long)p->input_wire.bytes, p->codec, p->images, output ? "; wrote " : "",
                    output ? output : "");
    sl_profile_free(p);
    sl_bundle_free(b);
    sl_list_free(&A.tl);
    for (int i = 0; i < nimages; i++)
        free(images[i]);
    free(images);
    return rc ? sl_fail() : SL_EXIT_OK;
}
