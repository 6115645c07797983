/* profile.h: measuring a model on this host into an sl_profile (profile_io.h).
 *
 * What is measured (docs/profile.md), every time as the median over `repeats` runs after `warmup`
 * runs (and after 2 untimed runs of every new plan: the graph executor's profiling and compiling
 * calls), in inference mode with batch norm folded into its conv as in deployment:
 *   - each block between consecutive single-tensor cut points, planned once as its own sub-range
 *     (cut i -> cut i+1), with p10 and p90;
 *   - each node alone (for DADS), fed the values a full run produced;
 *   - the whole model (median, p10, p90), and the gap between it and the sum of the blocks;
 *   - the bytes of every node output and cut for `batch` images;
 *   - the speed of framing a tensor for the wire (memcpy + zlib crc32), in bytes per second;
 *   - each cut's prefix (input -> cut) and suffix (cut -> output) run as one range, each after
 *     `idle_gap_s` of idle time as the halves of a split run; the whole model both image after
 *     image in paced spans with an image load (local-only) and after that idle time (edge-only's
 *     edge);
 *   - every cut tensor, TL wire tensor and the raw uint8 image through the device's codec (zstd
 *     as offloader/wire.c applies it) on sample images: bytes, encode and decode time; and the
 *     time to load an image into the float input and into the raw uint8 image;
 *   - per cut with a C x H x W tensor (not the input, not the output) and per TL configuration,
 *     on a copy of the model with the TL inserted there (fresh weights): the TL encoder
 *     (X -> wire) and decoder (wire -> decoder_out) times and the wire bytes (uint8 for b8).
 * Host name, CPU model (/proc/cpuinfo), threads and date are recorded too.
 */
#ifndef SL_PREPROCESSOR_PROFILE_H
#define SL_PREPROCESSOR_PROFILE_H

#include "model/graph.h"
#include "preprocessor/profile_io.h"

typedef struct sl_profile_opts {
    int threads;           /* intra-op threads; 0 = libtorch's default */
    int batch;             /* images per run, >= 1 */
    int warmup, repeats;   /* warmup >= 0, repeats >= 1 */
    const char *const *tl; /* TL configuration ids ("pool", "conv-r4-s2-b8"); borrowed */
    int ntl;
    int progress; /* 1 = draw a progress line (common/progress.h) */
    /* Sample images (PNG paths, borrowed) the wire sizes are measured on; none = random input,
     * which activations of real images compress far better than. */
    const char *const *images;
    int nimages;
    int codec_level;     /* zstd level the device client uses; 0 = SL_PROFILE_ZSTD_LEVEL, < 0 =
                            no compression (a device run with --zstd-level 0) */
    int codec_min_bytes; /* tensors below this are sent raw; 0 = SL_PROFILE_ZSTD_MIN_BYTES */
    /* Idle time before each timed prefix, suffix and edge-side whole run (0: back to back).
     * A split's device half waits at least one round trip for each answer and the edge waits
     * for the next request; a run after such a wait finds the caches cold and costs more than
     * one right after another (docs/profile.md, "Runs after an idle wait"). */
    double idle_gap_s;
} sl_profile_opts;

/* What the device client sends with by default (offloader/client.c, offloader/wire.c). */
#define SL_PROFILE_ZSTD_LEVEL 3
#define SL_PROFILE_ZSTD_MIN_BYTES 64

/* Sample images for `profile --images SPEC`: SPEC is a PNG file or a folder (every .png below
 * it); at most `max` (> 0) are kept, evenly spaced over the sorted list so every class folder is
 * represented. On success *paths is a new array of *n new strings (free each, then the array).
 * On error (nothing found, unreadable) *paths is NULL and the message names SPEC. */
int sl_profile_sample_images(const char *spec, int max, char ***paths, int *n);

/* Measures validated graph g (borrowed; its weights are only read) on this host. On success *out
 * is a new profile (free with sl_profile_free) that passes sl_profile_validate. On error (bad
 * option or TL id: SL_EARG; a graph the executor cannot run: its status) *out is NULL and the
 * message names the node, cut or option. Sets libtorch's thread count when o->threads > 0. */
int sl_profile_measure(sl_graph *g, const sl_profile_opts *o, sl_profile **out);

#endif
