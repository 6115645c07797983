/* test_profile_ranges.c: on a mid-size model (resnet18 at 96 x 96, sample images of smooth
 * gradients with a few spots, like the product line's), the profile's one-range times add up:
 * each cut's prefix (input -> cut) plus suffix (cut -> output) is the whole model within
 * tolerance, the sum of block times to a cut is at most its prefix within tolerance and at least
 * half of it (blocks run with their weights warm, below), the ends are the
 * whole model exactly; and the wire figures are those of the codec: the raw image and ReLU
 * activations compress, each within the zstd frame bound, with headers counted. Timing bounds:
 * label `timing`, run serially. */
#include "common/cpuquota.h"
#include "common/status.h"
#include "datasets/image.h"
#include "model/zoo.h"
#include "preprocessor/profile.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <zstd.h>

/* A prefix or a whole-range sum may differ from another measurement of the same work by this
 * share plus this many seconds (noise on a shared 2-core machine, one thread). */
#define REL_TOL 0.20
#define ABS_TOL 0.002

static void write_samples(const char *dir, int n)
{
    uint8_t *px = malloc(96 * 96 * 3);
    for (int k = 0; k < n; k++) {
        for (int y = 0; y < 96; y++)
            for (int x = 0; x < 96; x++)
                for (int c = 0; c < 3; c++) {
                    int v = 80 + (x + y) / 2 + 10 * c;
                    int dx = x - 20 - 7 * k, dy = y - 30 - 5 * k;
                    if (dx * dx + dy * dy < 16) v = 30; /* a dark pit */
                    px[(y * 96 + x) * 3 + c] = (uint8_t)v;
                }
        char path[600];
        snprintf(path, sizeof path, "%s/sample%d.png", dir, k);
        CHECK_OK(sl_png_write(path, 96, 96, 3, px), sl_errmsg());
    }
    free(px);
}

/* The bounds on times. On the first attempt a miss is counted and printed, not failed: the
 * host's speed can move by half within a profile (a slow spell of the shared core: block sum
 * 0.0056 s against a whole of 0.0098 s in one of nine suite runs), so the test profiles again
 * and the second attempt must hold every bound. A real regression (a fixed cost added to every
 * call, ranges timed wrong) misses on both. */
#define TIMING(cond)                                                                                \
    do {                                                                                            \
        if (final)                                                                                  \
            CHECK(cond);                                                                            \
        else if (!(cond)) {                                                                         \
            misses++;                                                                               \
            printf("  timing bound missed on the first attempt: %s\n", #cond);                     \
        }                                                                                           \
    } while (0)

static int check_times(const sl_profile *p, int final)
{
    int misses = 0;
    const int last = p->n_cuts - 1;
    double total = p->total_median_s;
    double blocks = 0;
    for (int i = 1; i < last; i++) {
        const sl_prof_cut *c = &p->cuts[i];
        blocks += p->blocks[i - 1].median_s;
        printf("cut %2d %-14s prefix %.5f blocks %.5f suffix %.5f sum %.5f whole %.5f "
               "(%.5f overall)\n",
               i, c->tensor, c->prefix_s, blocks, c->suffix_s, c->prefix_s + c->suffix_s,
               c->whole_s, total);
        /* Against the whole timed in the same turns: a burst of load on the host (one CI
         * run saw the first two cuts' suffixes at +50% against the overall whole, their
         * prefixes slow too) falls on both. */
        CHECK(c->whole_s > 0);
        TIMING(fabs(c->prefix_s + c->suffix_s - c->whole_s) <= REL_TOL * c->whole_s + ABS_TOL);
        TIMING(c->prefix_s <= c->whole_s * (1 + REL_TOL) + ABS_TOL);
        /* The blocks were timed in a phase of their own: the prefix is set against them at
         * the host's speed of that phase, scaled by the whole of its turns against the
         * overall whole (at load 2 a burst put the last two cuts' prefixes and wholes at
         * +35-65 % alike; their sums still matched). Each block runs back to back with its
         * own few MB of weights warm in the caches, which the 45 MB of the whole or a long
         * prefix cannot keep: here the blocks sum to 20-42 % less than the prefix at the late
         * cuts (5 Dec, after the executor's compiling calls left the timed runs). So the
         * blocks may fall short of the prefix by up to half, never exceed it beyond the
         * tolerance (a fixed cost per planned call is what the prefix saves). */
        double at_pace = c->prefix_s * total / c->whole_s;
        TIMING(blocks <= at_pace * (1 + REL_TOL) + ABS_TOL);
        TIMING(blocks >= at_pace * 0.5 - ABS_TOL);
    }
    printf("whole %.5f, blocks %.5f (gap %+.1f%%)\n", total, p->block_sum_s,
           100 * (p->block_sum_s - total) / total);
    TIMING(fabs(p->block_sum_s - total) <= REL_TOL * total + ABS_TOL);
    return misses;
}
#undef TIMING

int main(void)
{
    /* Times on the process's CPU clock (a device of 100 % of a core, dilated: CPU time / 1),
     * not the wall clock: the claim is that the work adds up, and preemption by other work on a
     * shared host is not work. Under a cgroup core of its own, at load 8, a burst still made one
     * cut's suffix 45 % slower than its neighbours and than the whole timed in the same turns. */
    sl_cpuquota *q = NULL;
    CHECK_OK(sl_cpu_slow_enter(100, SL_CPU_DILATE, 0, "test", &q), sl_errmsg());
    const char *tmp = tu_tmpdir();
    write_samples(tmp, 4);
    char **paths = NULL;
    int n = 0;
    CHECK_OK(sl_profile_sample_images(tmp, 3, &paths, &n), sl_errmsg());
    CHECK_EQ(n, 3);

    sl_graph *g = NULL;
    sl_zoo_opts zo = {.classes = 4, .c = 3, .h = 96, .w = 96, .init = 1};
    CHECK_OK(sl_zoo_build("resnet18", &zo, &g), sl_errmsg());
    /* Four warm-up runs: after two, the first cuts' compiled suffixes still ran up to 40% slow
     * (one CI run in four). */
    sl_profile_opts o = {.threads = 1,
                         .batch = 1,
                         .warmup = 4,
                         .repeats = 5,
                         .images = (const char *const *)paths,
                         .nimages = n};
    sl_profile *p = NULL;
    CHECK_OK(g ? sl_profile_measure(g, &o, &p) : SL_EARG, sl_errmsg());
    if (p && check_times(p, 0) > 0) {
        printf("the first profile missed a time bound: profiling again, and every bound must "
               "hold this time\n");
        sl_profile_free(p);
        p = NULL;
        CHECK_OK(sl_profile_measure(g, &o, &p), sl_errmsg());
        if (p)
            check_times(p, 1);
    }
    if (p) {
        const int last = p->n_cuts - 1;
        double total = p->total_median_s;
        CHECK(p->has_wire && p->has_ranges);
        CHECK_STR(p->codec, "zstd");
        CHECK_EQ(p->codec_level, SL_PROFILE_ZSTD_LEVEL);
        CHECK_EQ(p->images, 3);
        CHECK(p->load_s > 0 && p->raw_load_s > 0);
        CHECK_NEAR(p->cuts[last].prefix_s, total, 0);
        CHECK_NEAR(p->cuts[0].suffix_s, total, 0);

        /* Wire: the raw image (smooth gradients) compresses; no payload exceeds zstd's bound
         * plus the headers; ReLU outputs (half zeros) compress well below their float size. */
        int64_t head4 = 40 + 28 + 16;
        CHECK(p->input_wire.bytes < p->input_raw_bytes / 2);
        CHECK(p->input_wire.bytes > head4);
        CHECK(p->input_wire.enc_s > 0 && p->input_wire.dec_s > 0);
        int compressed = 0;
        for (int i = 1; i < p->n_cuts; i++) {
            const sl_prof_cut *c = &p->cuts[i];
            CHECK(c->wire.bytes >= 40 + 28 + 4 * (c->rank + 1));
            CHECK(c->wire.bytes <= (int64_t)ZSTD_compressBound((size_t)c->bytes) + 40 + 28 +
                                       4 * (c->rank + 1));
            compressed += c->wire.bytes < c->bytes * 3 / 4;
            for (int t = 0; t < c->n_tl; t++)
                CHECK(c->tl[t].wire.bytes <= c->tl[t].bytes + 40 + 28 + 4 * (c->rank + 1));
        }
        CHECK(compressed > 0);
        printf("image %lld -> %lld bytes; %d of %d cuts compress by 1/4 or more\n",
               (long long)p->input_raw_bytes, (long long)p->input_wire.bytes, compressed,
               p->n_cuts - 1);
    }
    sl_profile_free(p);
    sl_graph_free(g);

    /* Errors name what is wrong. */
    char **none = NULL;
    int nn = 0;
    CHECK_EQ(sl_profile_sample_images("/nonexistent/dir", 4, &none, &nn), SL_EIO);
    CHECK_CONTAINS(sl_errmsg(), "/nonexistent/dir");
    CHECK(none == NULL && nn == 0);

    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    tu_rmtree(tmp);
    sl_cpuquota_leave(q);
    return TU_DONE();
}
