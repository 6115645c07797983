/* cache.h: a dataset decoded and resized once into an HDF5 file (`sl-data cache`).
 *
 * Format (format_version 1, readable with h5py; see docs/datasets.md):
 *   attributes  format = "sl-data-cache", format_version = 1, created_by, source, layout,
 *               resize ("stretch" | "short-crop")
 *   images      uint8 [N, C, H, W], one chunk per image
 *   labels      int64 [N]
 *   splits      uint8 [N]  (0 train, 1 val, 2 test)
 *   classes     string [K] (sorted; label i is classes[i])
 *   paths       string [N] (source image file of each row)
 *   problems    string [M, 2] (path, reason) of what the source scan skipped
 * sl_dataset_open recognises the file and serves rows without touching the image files.
 */
#ifndef SL_DATASETS_CACHE_H
#define SL_DATASETS_CACHE_H

#include "datasets/dataset.h"

#include <stdint.h>

typedef struct {
    int c, h, w; /* stored size; c = 1 or 3 */
    int resize;  /* SL_RESIZE_* */
    int threads; /* decode workers, >= 1 */
    int strict;  /* fail when an image does not decode instead of skipping it */
} sl_cache_opts;

/* Decodes every item of `ds` and writes the cache to `path` atomically (temporary file +
 * rename: on error nothing at `path` changes). An item that fails to decode is skipped and
 * recorded in the file's problems (or, with o->strict, fails the call). *written (may be NULL)
 * receives the number of rows stored. Returns SL_OK, SL_EARG, SL_EIO, SL_EFORMAT, SL_ENOMEM. */
int sl_cache_write(const sl_dataset *ds, const sl_cache_opts *o, const char *path,
                   int64_t *written);

#endif
