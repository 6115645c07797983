/* loader.h: shuffled, augmented float batches from a dataset, prepared by background threads.
 *
 * A loader walks one epoch at a time. The order of epoch e is a permutation that depends only
 * on (seed, e); the augmentation of an image only on (seed, e, dataset index). Workers fill
 * whole batches ahead of the consumer but batches are handed out in order, so the batches are
 * bit-identical for any thread count, and a run resumed at epoch e (sl_loader_reset(l, e)) sees
 * exactly what an uninterrupted run saw.
 *
 *   sl_loader *l;  sl_loader_new(ds, &opts, &l);        // epoch 0 starts at once
 *   for (int e = 0; e < epochs; e++) {
 *       sl_loader_reset(l, e);
 *       sl_batch b;  int rc;
 *       while ((rc = sl_loader_next(l, &b)) == SL_OK) train_step(b.x, b.y, b.n);
 *       if (rc != SL_LOADER_END) fail(sl_errmsg());      // an image failed to decode
 *   }
 *   sl_loader_free(l);
 *
 * Pipeline per image: decode (image file or cache row), resample to the spec (image.h), then,
 * if enabled, flips, random crop from the image padded by crop_pad black pixels, a rotation by
 * an angle uniform in [-rotate, rotate] degrees about the centre (bilinear, black outside, as
 * torchvision's RandomRotation with fill 0), brightness and contrast jitter (factors uniform in
 * [1 - b, 1 + b], contrast around the mean luma, clamped to [0, 1], as torchvision's
 * ColorJitter), then (v - mean) / std.
 */
#ifndef SL_DATASETS_LOADER_H
#define SL_DATASETS_LOADER_H

#include "datasets/dataset.h"
#include "datasets/image.h"

#include <stdint.h>

/* sl_loader_next's return value when the epoch has no more batches. */
#define SL_LOADER_END 1

typedef struct {
    int hflip, vflip; /* flip with probability 1/2 */
    int crop_pad;     /* pad by N pixels, then crop back to H x W at a random offset; 0 = off */
    float brightness; /* jitter factor range; 0 = off */
    float contrast;
    float rotate; /* largest rotation in degrees, 0..180; 0 = off */
} sl_augment;

typedef struct {
    sl_input_spec spec; /* the model's input: C, H, W, mean, std, resize */
    int batch;          /* images per batch, >= 1 */
    int shuffle;
    uint64_t seed;
    int threads;   /* prefetch workers; 0 = prepare each batch in sl_loader_next */
    int drop_last; /* drop a final batch smaller than `batch` */
    sl_augment augment;
} sl_loader_opts;

/* Defaults: 3x224x224 ImageNet mean/std stretch, batch 32, shuffled, seed 0, 2 threads,
 * keep the last batch, no augmentation. */
void sl_loader_opts_init(sl_loader_opts *o);

typedef struct {
    int n;          /* images in this batch */
    float *x;       /* n * C * H * W normalised floats, NCHW */
    int64_t *y;     /* n labels */
    int64_t *index; /* n dataset indices */
    int epoch;
    int64_t number; /* batch number within the epoch */
} sl_batch;

typedef struct sl_loader sl_loader;

/* Creates a loader over `ds` (borrowed: it must outlive the loader) and starts epoch 0.
 * The caller frees *out with sl_loader_free. Returns SL_OK, SL_EARG (bad options, empty
 * dataset) or SL_ENOMEM; on error *out is NULL. */
int sl_loader_new(sl_dataset *ds, const sl_loader_opts *o, sl_loader **out);

/* Hands out the next batch of the current epoch in *b. Returns SL_OK, SL_LOADER_END when the
 * epoch is done (and again on every later call until a reset), or a negative status when an
 * image failed (message names its path; the batch is skipped and the epoch goes on). The
 * buffers in *b are owned by the loader and stay valid until the next sl_loader_next,
 * sl_loader_reset or sl_loader_free. */
int sl_loader_next(sl_loader *l, sl_batch *b);

/* Abandons the current epoch and starts epoch `epoch` (>= 0) from its first batch. */
void sl_loader_reset(sl_loader *l, int epoch);

/* Batches per epoch. */
int64_t sl_loader_num_batches(const sl_loader *l);

/* Stops the workers and frees everything; NULL is a no-op. */
void sl_loader_free(sl_loader *l);

/* Prepares dataset item `index` exactly as the loader does in epoch `epoch` (augmentation
 * included) into `out` (C*H*W floats, caller-owned). For tests and for previewing
 * augmentation. Returns SL_OK or the image's error. */
int sl_loader_sample(const sl_dataset *ds, const sl_loader_opts *o, int epoch, int64_t index,
                     float *out);

#endif
