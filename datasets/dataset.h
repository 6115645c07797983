/* dataset.h: labelled image collections on disk (ImageFolder, MVTec-AD, HDF5 cache).
 *
 * A dataset is an indexed list of items (image path, integer label, split) plus the class
 * names, sorted by name; label i is class_name(i). Three sources:
 *
 *   ImageFolder, split    root/{train,val,test}/<class>/<image>   (the folder gives the split)
 *   ImageFolder, flat     root/<class>/<image>                    (seeded ratio split)
 *   MVTec-AD category     root/train/good/<image>, root/test/<defect>/<image>
 *                         (every non-"good" folder is a class, or "defect" with opts.binary;
 *                          MVTec's own split has no defects in train, so images are pooled
 *                          and re-split by the seeded ratios; ground_truth/ masks are ignored)
 *   cache                 an .h5 file written by sl_cache_write / `sl-data cache`
 *
 * An image is a PNG, JPEG or BMP file (image.h), whatever its name; every file in a class folder
 * is read as one, and a file of another kind there is a problem.
 *
 * Class names come from every split, so labels agree between the train, val and test views of
 * one root. The ratio split is stratified: per class, the files sorted by name are shuffled
 * with a generator seeded by (seed, class name) and the first round(n * test_ratio) go to test,
 * the next round(n * val_ratio) to val, the rest to train, so it never depends on the order
 * readdir returns or on other classes.
 *
 * Bad input is never silent: a corrupt or truncated image, a non-image file in a class folder,
 * an image outside any class folder, an empty class folder and an unreadable folder are each a
 * problem (path + reason). With opts.strict the first problem fails sl_dataset_open; otherwise
 * it is skipped and listed in the summary.
 */
#ifndef SL_DATASETS_DATASET_H
#define SL_DATASETS_DATASET_H

#include "datasets/image.h"

#include <stdint.h>

typedef struct sl_dataset sl_dataset;

enum { SL_LAYOUT_AUTO = 0, SL_LAYOUT_IMAGEFOLDER = 1, SL_LAYOUT_MVTEC = 2 };
enum { SL_SPLIT_TRAIN = 0, SL_SPLIT_VAL = 1, SL_SPLIT_TEST = 2 };
enum {
    SL_VERIFY_DECODE = 0, /* decode every image at open: truncated files are found up front */
    SL_VERIFY_HEADER = 1, /* read only signatures and headers: faster, later decode may fail */
};

typedef struct {
    int layout;                   /* SL_LAYOUT_*; caches are recognised whatever this says */
    int binary;                   /* MVTec: all defect folders become one class "defect" */
    const char *split;            /* "train", "val", "test", or NULL / "all" for every item */
    double val_ratio, test_ratio; /* for roots without split folders */
    uint64_t seed;                /* for the ratio split */
    int strict;                   /* fail on the first problem instead of skipping it */
    int verify;                   /* SL_VERIFY_* */
    int allow_empty; /* a folder without one readable image opens (0 items, its problems
                      * listed) instead of failing: for reports such as sl-data check */
    /* A cache with up to this many bytes of pixels is read into memory at open, so loader
     * threads do not queue behind other HDF5 users (a trainer saving a checkpoint) on h5/'s
     * one process-wide lock; larger caches are read row by row through it, which is safe from
     * any thread (docs/architecture.md, "HDF5 behind one door"). 0 = 1 GiB, negative = never. */
    int64_t cache_memory;
} sl_dataset_opts;

/* Defaults: auto layout, all splits, val 0.15, test 0.15, seed 0, not strict, full decode. */
void sl_dataset_opts_init(sl_dataset_opts *o);

/* One skipped file or folder and why. */
typedef struct {
    const char *path;
    const char *reason;
} sl_dataset_problem;

/* What sl_dataset_open found; everything is owned by the dataset. */
struct sl_dataset_summary {
    const char *layout; /* "imagefolder", "imagefolder-split", "mvtec", "cache" */
    const char *root;   /* the path given to sl_dataset_open */
    int64_t count;      /* items in the chosen split */
    int num_classes;
    const int64_t *class_counts; /* items per class in the chosen split */
    int num_problems;
    const sl_dataset_problem *problems;
};

/* Opens the dataset at `path` (folder or cache file) with `opts` (NULL = defaults) into *out,
 * which the caller frees with sl_dataset_free. Returns SL_OK; SL_EIO (root unreadable),
 * SL_EFORMAT (not a recognised layout or a bad cache, no readable image unless
 * opts.allow_empty, or with strict the first problem),
 * SL_ENOTFOUND (the split has no folder), SL_EARG (bad option). On error *out is NULL. */
int sl_dataset_open(const char *path, const sl_dataset_opts *opts, sl_dataset **out);

/* Frees the dataset; NULL is a no-op. */
void sl_dataset_free(sl_dataset *ds);

int64_t sl_dataset_count(const sl_dataset *ds);
int sl_dataset_num_classes(const sl_dataset *ds);
/* Name of class i (0 <= i < num_classes); owned by the dataset. */
const char *sl_dataset_class_name(const sl_dataset *ds, int i);
/* Label, source path (owned by the dataset) and split (SL_SPLIT_*) of item i. */
int sl_dataset_label(const sl_dataset *ds, int64_t i);
const char *sl_dataset_path(const sl_dataset *ds, int64_t i);
int sl_dataset_split_of(const sl_dataset *ds, int64_t i);

/* Counts, layout and problems; owned by the dataset, valid until sl_dataset_free. */
const struct sl_dataset_summary *sl_dataset_summary(const sl_dataset *ds);

/* For a cache: the stored C, H, W (returns 1); for a folder returns 0 and leaves them. */
int sl_dataset_cached_shape(const sl_dataset *ds, int *c, int *h, int *w);

/* For a cache: copies row i's stored uint8 C x H x W pixels (planar, as stored) into `chw`
 * (caller-owned, C*H*W bytes), the fast path when the model wants exactly the cached shape.
 * Thread-safe. Returns SL_OK, SL_EARG (not a cache / out of range) or SL_EIO. */
int sl_dataset_cached_row(const sl_dataset *ds, int64_t i, uint8_t *chw);

/* Decodes item i (from its image file or from the cache) into *out, which the caller frees with
 * sl_image_free. Thread-safe. Returns SL_OK or the status of sl_image_load (message names the
 * path); on error *out is zeroed. */
int sl_dataset_image(const sl_dataset *ds, int64_t i, sl_image *out);

/* "train" / "val" / "test" for SL_SPLIT_*, or NULL. */
const char *sl_split_name(int split);
/* The SL_SPLIT_* named "train", "val" or "test"; -1 for any other name. */
int sl_split_parse(const char *name);

#endif
