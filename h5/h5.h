/* h5.h: the one door to HDF5 — every HDF5 call in the tree is made in h5.c, under one lock.
 *
 * Why a door: an HDF5 library built without thread safety keeps global state (the id tables,
 * free lists, open-file metadata caches) that two threads inside the library at once corrupt.
 * The edge server loads deployed bundles on per-connection threads while the dataset cache reads
 * rows from loader threads, so every call here takes one process-wide recursive mutex. (Debian
 * 12's libhdf5 1.10.8 "serial" flavour does report H5is_library_threadsafe() = 1 and has its own
 * global lock; ours then costs nothing in parallelism and keeps us correct against a build
 * without it, e.g. one from source with the default configure options.) The error stack is per
 * thread in a thread-safe build, so HDF5's own printing is switched off on every thread that
 * enters; errors are reported through common/status.h with the object named.
 * No other file includes <hdf5.h>; tests/h5/only_door.sh checks it.
 *
 * Objects (files, groups, datasets) are ids, sl_h5_id, the value of an hid_t; a negative id is
 * "none". Every id a function returns is owned by the caller and closed with sl_h5_close().
 * Names are paths relative to a location ("model_weights/conv1/weight"). Functions return SL_OK or
 * an SL_E* status with the message naming the object and the reason; on error nothing is returned
 * and, for writes, the file is left for the caller to discard (writers write to a temporary file
 * and rename it into place).
 */
#ifndef SL_H5_H5_H
#define SL_H5_H5_H

#include <stddef.h>
#include <stdint.h>

typedef int64_t sl_h5_id;

/* Element types of numeric datasets, in memory (native) and on file (little-endian). */
typedef enum sl_h5_type { SL_H5_F32, SL_H5_U8, SL_H5_I64 } sl_h5_type;

/* Flags of sl_h5_write / sl_h5_dataset_create. */
enum {
    SL_H5_CHECKSUM = 1, /* chunked with the Fletcher32 filter: corruption fails the read */
    SL_H5_PARENTS = 2,  /* create missing intermediate groups of `name` */
};

#define SL_H5_MAX_RANK 32 /* HDF5's own limit (H5S_MAX_RANK) */

/* The longest string the string reads below accept, in bytes (16 MiB; a model's graph JSON,
 * /model_config, is 87 kB for densenet121, the largest of the zoo), and the most all the
 * strings of one string array may hold together (1 GiB). A string is refused from the length it
 * declares on file, before libhdf5 allocates anything for it (libhdf5 1.10 allocates and clears
 * a variable-length string's declared length before reading it, so a damaged file declaring
 * gigabytes cost seconds and gigabytes before the read failed). */
#define SL_H5_MAX_STRING (16 << 20)
#define SL_H5_MAX_STRINGS_BYTES ((int64_t)1 << 30)

typedef struct sl_h5_info {
    int ndim;                       /* 0 for a scalar */
    int64_t dims[SL_H5_MAX_RANK];   /* declared extent; nothing is read to learn it */
    int numeric;                    /* integer or floating point elements */
    int is_string;
    int checksummed;                /* has the Fletcher32 filter */
    size_t elem_size;               /* bytes per element on file */
} sl_h5_info;

/* The lock itself, for a caller whose sequence of calls must not interleave with another
 * thread's (each function below already takes it; it is recursive). Pair every lock with one
 * unlock on the same thread. */
void sl_h5_lock(void);
void sl_h5_unlock(void);

/* Lets HDF5 keep every block it frees on its free lists for reuse, without its default limits
 * (64 KiB per list), for the whole process. For the bundle fuzzer, which opens one small image
 * after another: each open's metadata cache (about 1 MiB, one block) then comes from the list
 * instead of fresh pages of the C library. Memory stays at the most HDF5 held at once. */
void sl_h5_keep_free_lists(void);

/* 1 when the file at path starts like an HDF5 file, 0 otherwise (missing, unreadable, foreign). */
int sl_h5_is_hdf5(const char *path);

/* Opens an existing file read-only. SL_EIO when it cannot be read, SL_EFORMAT when it is not
 * HDF5 or its superblock is damaged; the message names path. */
int sl_h5_open(const char *path, sl_h5_id *file);

/* Opens an existing file for reading and writing (tests craft files with it). */
int sl_h5_open_rw(const char *path, sl_h5_id *file);

/* Opens an HDF5 file image held in memory (len bytes at buf) read-only, without copying it: buf
 * is borrowed, left unchanged, and must stay valid until the file is closed. `name` is for
 * messages. SL_EFORMAT when it is not HDF5, SL_ENOMEM when memory runs out. */
int sl_h5_open_image(const void *buf, size_t len, const char *name, sl_h5_id *file);

/* Creates (truncates) a file for writing. SL_EIO naming path on failure. */
int sl_h5_create(const char *path, sl_h5_id *file);

/* Closes a file, group or dataset; a negative id is a no-op. Closing a file flushes it: SL_EIO
 * when that fails. */
int sl_h5_close(sl_h5_id id);

/* 1 when `path` (each of its components) names an object under loc, else 0. */
int sl_h5_exists(sl_h5_id loc, const char *path);
/* 1 when loc has the attribute `name`, else 0. */
int sl_h5_attr_exists(sl_h5_id loc, const char *name);

int sl_h5_group_open(sl_h5_id loc, const char *name, sl_h5_id *group);
int sl_h5_group_create(sl_h5_id loc, const char *name, sl_h5_id *group);

/* Scalar attributes: a UTF-8 variable-length string, a 32-bit little-endian integer. */
int sl_h5_attr_write_str(sl_h5_id loc, const char *name, const char *value);
int sl_h5_attr_write_int(sl_h5_id loc, const char *name, int value);
/* Reads a string attribute stored fixed- or variable-length into a new string (caller frees).
 * SL_ENOTFOUND when it is absent, SL_EFORMAT when it is not a readable string or declares more
 * than SL_H5_MAX_STRING bytes. */
int sl_h5_attr_read_str(sl_h5_id loc, const char *name, char **out);
/* SL_ENOTFOUND when absent, SL_EFORMAT when not an integer scalar. */
int sl_h5_attr_read_int(sl_h5_id loc, const char *name, int *out);

/* Scalar string datasets (UTF-8, variable length); the read takes fixed-length ones too and gives
 * a new string (caller frees); SL_ENOTFOUND when absent, SL_EFORMAT naming it when it declares
 * more than SL_H5_MAX_STRING bytes (refused before it is read) or cannot be read. */
int sl_h5_str_write(sl_h5_id loc, const char *name, const char *value);
int sl_h5_str_read(sl_h5_id loc, const char *name, char **out);

/* String arrays: n strings, or n x cols when cols > 0 (row-major). The read gives a new array of
 * *n new strings (all elements, whatever the rank; caller frees each and the array); SL_EFORMAT
 * when a string declares more than SL_H5_MAX_STRING bytes or all more than
 * SL_H5_MAX_STRINGS_BYTES (refused before they are read). */
int sl_h5_strs_write(sl_h5_id loc, const char *name, const char *const *v, int64_t n,
                     int64_t cols);
int sl_h5_strs_read(sl_h5_id loc, const char *name, char ***out, int64_t *n);

/* What a dataset declares (rank, extent, element kind, filters), from its header only. */
int sl_h5_info_get(sl_h5_id loc, const char *name, sl_h5_info *out);

/* Writes a whole numeric dataset of rank nd (0 = scalar) from data of `type`. With
 * SL_H5_CHECKSUM the dataset is chunked (about 1 MiB per chunk) with Fletcher32 (a scalar or an
 * empty dataset is written without it: HDF5 filters need chunks). */
int sl_h5_write(sl_h5_id loc, const char *name, sl_h5_type type, int nd, const int64_t *dims,
                const void *data, unsigned flags);

/* Reads a whole numeric dataset, converted to `type`, into data, which holds `count` elements;
 * the dataset must have exactly count elements of 1 to 8 bytes each on file (SL_EFORMAT
 * otherwise, nothing read). A checksum mismatch or a truncated file is SL_EFORMAT naming the
 * dataset. */
int sl_h5_read(sl_h5_id loc, const char *name, sl_h5_type type, void *data, int64_t count);

/* Row access for large arrays (the dataset cache): a dataset whose first dimension is rows, of
 * numbers of 1 to 8 bytes on file (SL_EFORMAT naming it otherwise, nothing moved).
 * create: rank nd, chunk dims `chunk` (NULL = contiguous), extendible along rows up to the initial
 * row count; rows_write/rows_read move `nrows` rows starting at `row`; set_rows shrinks or grows
 * the row count of a chunked dataset. */
int sl_h5_dataset_create(sl_h5_id loc, const char *name, sl_h5_type type, int nd,
                         const int64_t *dims, const int64_t *chunk, sl_h5_id *dset);
int sl_h5_dataset_open(sl_h5_id loc, const char *name, sl_h5_id *dset);
int sl_h5_rows_write(sl_h5_id dset, sl_h5_type type, int64_t row, int64_t nrows, const void *data);
int sl_h5_rows_read(sl_h5_id dset, sl_h5_type type, int64_t row, int64_t nrows, void *data);
int sl_h5_set_rows(sl_h5_id dset, int64_t rows);

/* Removes the link `name` under loc. */
int sl_h5_unlink(sl_h5_id loc, const char *name);

/* Calls fn(name, arg) for every dataset under loc, in name order: the direct members only, or
 * with `recursive` every dataset below (names then are paths relative to loc). fn runs with the
 * lock held and may call sl_h5_* functions; a non-zero return stops the walk and is returned. */
typedef int (*sl_h5_visit_fn)(sl_h5_id loc, const char *name, void *arg);
int sl_h5_visit(sl_h5_id loc, int recursive, sl_h5_visit_fn fn, void *arg);

#endif
