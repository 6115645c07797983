/* synth.h: synthetic industrial product lines (`sl-data synth`).
 *
 * Each product line renders top-view inspection images of one kind of part with an "ok" class
 * and defect classes whose cues are small and local:
 *
 *   casting  grey top view of a round cast part (rim, face, hub, bolt holes, machining marks):
 *            ok, crack, flash, porosity
 *   pcb      green solder-mask board with copper traces and drilled pads:
 *            missing_hole, ok, open, short
 *   fabric   plain-weave cloth in varied yarn colours:
 *            broken_thread, hole, ok, stain
 *
 * Pose (position, rotation, scale), lighting (gradient direction and strength, exposure),
 * texture (sand grain, yarn streaks, mask blotches), benign distractors (dust, tool marks,
 * silkscreen) and sensor noise are random; defect size and contrast vary down to barely
 * visible, so no model is perfect. Geometry is in resolution-independent units, so --size only
 * changes the sampling. Image k of class c is a pure function of (seed, product, c, k): the
 * same seed gives the same files, and more images per class only adds files.
 */
#ifndef SL_DATASETS_SYNTH_H
#define SL_DATASETS_SYNTH_H

#include "datasets/image.h"

#include <stdint.h>

/* Bumped whenever the same seed would render different pixels. */
#define SL_SYNTH_VERSION 2

typedef struct {
    const char *product; /* one of sl_synth_product_names() */
    int size;            /* square images, 16..1024 */
    int per_class;       /* images per class, >= 1 */
    uint64_t seed;
    double splits[3]; /* train, val, test fractions summing to 1; all 0 = flat layout */
    int threads;      /* render workers, >= 1 */
} sl_synth_opts;

/* Defaults: casting, 64 px, 200 per class, seed 1, splits 0.7/0.15/0.15, 2 threads. */
void sl_synth_opts_init(sl_synth_opts *o);

/* NULL-terminated list of product line names; static storage. The first is the default. */
const char *const *sl_synth_product_names(void);

/* Sorted class names of `product` (static storage) into *names / *n. SL_ENOTFOUND if unknown. */
int sl_synth_classes(const char *product, const char *const **names, int *n);

/* Renders image `index` of class `cls` (index into the class names) into *out (size x size,
 * 1 channel for casting, 3 otherwise), which the caller frees with sl_image_free. Thread-safe.
 * Returns SL_OK, SL_ENOTFOUND, SL_EARG or SL_ENOMEM; on error *out is zeroed. */
int sl_synth_render(const char *product, int cls, uint64_t seed, int64_t index, int size,
                    sl_image *out);

/* Writes the product line as an ImageFolder at `out_dir` (root/{train,val,test}/<class>/ or
 * root/<class>/) with manifest.json (seed, classes, counts, size, generator version). The tree
 * is built in a temporary folder beside `out_dir` and renamed into place, so `out_dir` either
 * appears complete or not at all; it must not exist (or be an empty folder). Returns SL_OK,
 * SL_EARG, SL_ENOTFOUND (product), SL_EIO (names the path) or SL_ENOMEM. */
int sl_synth_generate(const sl_synth_opts *o, const char *out_dir);

#endif
