/* dataset_internal.h: the dataset record shared by dataset.c (folders) and cache.c (HDF5). */
#ifndef SL_DATASETS_DATASET_INTERNAL_H
#define SL_DATASETS_DATASET_INTERNAL_H

#include "datasets/dataset.h"

typedef struct {
    char *path;
    char *class_name; /* folder-derived class before labels are assigned; freed after */
    int label;
    int split;
    int64_t row; /* cache row */
} sl_ds_item;

struct sl_dataset {
    char *root;
    const char *layout;
    int num_classes;
    char **classes;
    int64_t *class_counts;
    int64_t n, cap;
    sl_ds_item *items;
    int nprob;
    int64_t capprob;
    sl_dataset_problem *problems;
    struct sl_dataset_summary summary;
    /* cache only */
    int is_cache;
    int64_t h5_file, h5_images; /* hid_t, kept as int64_t so this header needs no hdf5.h */
    int cc, ch, cw;
    uint8_t *pixels; /* every row, when the cache fits opts.cache_memory; else NULL */
};

/* Appends an item / a problem (copies the strings); SL_OK or SL_ENOMEM. */
int sl_ds_add_item(sl_dataset *ds, const char *path, const char *class_name, int split,
                   int64_t row);
int sl_ds_add_problem(sl_dataset *ds, const char *path, const char *reason);

/* Fills ds (already holding root) from the HDF5 cache at ds->root; cache.c. */
int sl_ds_open_cache(sl_dataset *ds, const sl_dataset_opts *o);
/* Closes the cache handles; cache.c. */
void sl_ds_close_cache(sl_dataset *ds);
/* Reads cache row `row` as stored (planar C x H x W) into chw; cache.c. Thread-safe. */
int sl_ds_cache_read(const sl_dataset *ds, int64_t row, uint8_t *chw);
/* Reads cache row `row` into *out; cache.c. Thread-safe. */
int sl_ds_cache_image(const sl_dataset *ds, int64_t row, sl_image *out);
/* 1 if `path` is an HDF5 file; cache.c. */
int sl_ds_is_cache_file(const char *path);
/* Keeps only the items of the split named `split` (NULL/"all" keeps all) and fills the summary
 * counts. SL_EARG for an unknown split name. */
int sl_ds_finish(sl_dataset *ds, const char *split);

#endif
