/* bundle.h: HDF5 bundles — one format for models, checkpoints and device/edge slices.
 *
 * Layout (DESIGN.md §5), readable with h5py:
 *   /                      attributes format = "sl-bundle", format_version = 1, role, created_by,
 *                          and for slices pair_id
 *   /model_config          the graph JSON (UTF-8 string)
 *   /model_weights/<node>/<param>   float32 datasets in PyTorch layouts
 *   /labels                class names (array of strings), when the model has them
 *   /wire                  slices: JSON description of what crosses the cut
 *   /metrics, /train_state optional JSON strings
 *   /extra/<name>          optional float32 tensors (e.g. optimiser state in checkpoints)
 * Files are written to a temporary name and renamed into place.
 */
#ifndef SL_MODEL_BUNDLE_H
#define SL_MODEL_BUNDLE_H

#include "model/graph.h"
#include "model/wire_desc.h"

#include <stddef.h>
#include <stdint.h>

#define SL_BUNDLE_FORMAT "sl-bundle"
#define SL_BUNDLE_VERSION 1

/* The most bytes of float32 weights (parameters and /extra tensors together) a bundle may declare:
 * 2 GiB by default (VGG19, the largest zoo model, has 0.57 GB), raised or lowered with the
 * environment variable SL_MAX_WEIGHT_BYTES (bytes). Declared shapes are checked against the graph
 * and this limit before any weight is read, so a small file that declares a huge dataset is
 * refused without allocating it. */
#define SL_BUNDLE_MAX_WEIGHT_BYTES ((int64_t)2 << 30)

typedef struct sl_bundle {
    sl_graph *graph;        /* owned; validated with parameters after a read */
    char role[16];          /* "model", "checkpoint", "device", "edge" */
    char created_by[64];
    char pair_id[33];       /* slices: 32 lowercase hex chars shared by the device and edge halves */
    char *wire_json;        /* slices; owned, may be NULL; what sl_bundle_write stores */
    sl_wire_desc *wire;     /* after a read of a slice: wire_json parsed and checked; owned */
    char *metrics_json;     /* owned, may be NULL */
    char *train_state_json; /* owned, may be NULL */
    int nextra;
    char **extra_names;     /* owned */
    sl_tensor **extra;      /* owned */
} sl_bundle;

/* New empty bundle with role "model" that takes ownership of g (may be NULL). */
sl_bundle *sl_bundle_new(sl_graph *g);
void sl_bundle_free(sl_bundle *b);

/* Writes b atomically to path. Every parameter must have values. Weights and /extra tensors are
 * written with HDF5's Fletcher32 checksum. On error nothing at path changes. */
int sl_bundle_write(const char *path, const sl_bundle *b);

/* Reads and validates a bundle. Checked, each with an error naming the path and the field or
 * dataset: format and version; role is exactly one of model, checkpoint, device, edge; a device or
 * edge half has a pair_id of exactly 32 lowercase hex digits and a /wire description that parses
 * (sl_wire_desc_parse) and fits its graph (sl_wire_desc_check), while a model or checkpoint has no
 * placeholder node; every parameter's dataset declares the shape the graph expects and all of
 * them (with /extra) fit in the weight limit (SL_BUNDLE_MAX_WEIGHT_BYTES) before any is read;
 * every weight value is finite; datasets written with a Fletcher32 checksum pass it (bundles
 * written before checksums still load). A missing, foreign, corrupt or truncated file gives SL_EIO
 * / SL_EFORMAT, a bomb over the limit SL_EARG. On error *out is NULL. */
int sl_bundle_read(const char *path, sl_bundle **out);

/* As sl_bundle_read without reading the weights, so without loading the model runtime: every
 * check above holds but those of the values (finite, checksums) and of /extra, which is not read;
 * the parameters' tensors stay NULL. For showing a bundle (sl-preprocess inspect), so the file is
 * first read the same way in a child process with a deadline (sl_bundle_check_isolated): a file
 * that makes libhdf5 loop is refused with SL_ETIMEOUT instead of hanging the caller. */
int sl_bundle_read_structure(const char *path, sl_bundle **out);

/* The same from an HDF5 file image in memory (len bytes at buf, borrowed); `name` stands for the
 * path in messages. */
int sl_bundle_read_image(const void *buf, size_t len, const char *name, sl_bundle **out);

/* ---- the checked open ----
 * Debian 12's libhdf5 1.10.8 loops forever on some malformed files (the bundle fuzzer found one,
 * tests/model/fuzz_found/hdf5-vlen-attr-hang.h5), and since every HDF5 call of a process goes
 * through one lock (h5/h5.h), one such file would stall HDF5 for the whole process (e.g. an edge
 * server). A file from elsewhere is therefore read first in a child process, our own program
 * started again (/proc/self/exe, so no fork of a process with threads; the child runs before
 * main(), from a constructor in bundle.c, when the environment variable SL_BUNDLE_CHECK_CHILD
 * names the file), which is killed at a deadline. */

/* The deadline of a check of a file of `bytes`: SL_BUNDLE_CHECK_SECONDS (10 s, or that
 * environment variable when it is a positive number of seconds) plus 1 s for every
 * SL_BUNDLE_CHECK_BYTES_PER_SECOND bytes, so a large bundle on a loaded machine is not refused
 * for being slow. */
#define SL_BUNDLE_CHECK_SECONDS 10.0
#define SL_BUNDLE_CHECK_BYTES_PER_SECOND (32.0 * 1024 * 1024)
double sl_bundle_check_seconds(uint64_t bytes);

/* Flags of the checks. */
enum {
    SL_BUNDLE_CHECK_WEIGHTS = 1,   /* every weight and /extra value too, as sl_bundle_read */
    SL_BUNDLE_CHECK_HDF5_ONLY = 2, /* a file that is not HDF5 passes: its loader refuses it */
};

/* In this process: reads the bundle at path as sl_bundle_read does (with SL_BUNDLE_CHECK_WEIGHTS)
 * or as sl_bundle_read_structure does, values into scratch memory without the model runtime, and
 * keeps nothing. The same errors as those functions, naming `name`. A file that hangs libhdf5
 * hangs this call: it is what the child below runs. */
int sl_bundle_check(const char *path, const char *name, unsigned flags);

/* The same on an HDF5 file image in memory (len bytes at buf, borrowed): what the bundle fuzzer
 * (model/fuzz_bundle.c) runs, since it needs neither a file nor the model runtime. */
int sl_bundle_check_image(const void *buf, size_t len, const char *name, unsigned flags);

/* sl_bundle_check in a child process, killed after `seconds` (<= 0: sl_bundle_check_seconds of
 * the file's size). SL_OK when the child finished without error; else its error (status and
 * message, naming `name`); SL_ETIMEOUT "HDF5 did not finish reading it within N s" when it was
 * killed; SL_EFORMAT when it crashed; SL_EIO when it could not be started. Thread-safe; holds no
 * lock while it waits. Costs a process start and a second read of the file. */
int sl_bundle_check_isolated(const char *path, const char *name, unsigned flags, double seconds);

/* sl_bundle_check_isolated (weights included), then sl_bundle_read: for files from elsewhere
 * (sl-offload run and device --model). */
int sl_bundle_read_checked(const char *path, sl_bundle **out);

/* The weight limit in force: SL_MAX_WEIGHT_BYTES from the environment when it is a positive whole
 * number, else SL_BUNDLE_MAX_WEIGHT_BYTES. */
int64_t sl_bundle_max_weight_bytes(void);

/* Adds (a copy of) tensor t under /extra/<name>, replacing one of the same name. */
int sl_bundle_set_extra(sl_bundle *b, const char *name, const sl_tensor *t);
/* The extra tensor `name` (borrowed) or NULL. */
sl_tensor *sl_bundle_extra(const sl_bundle *b, const char *name);
/* Replaces a JSON string field (copied; NULL clears). */
int sl_bundle_set_json(char **field, const char *json);

/* Reads a flat HDF5 file whose root datasets are named by PyTorch state_dict keys (what
 * `for k, v in sd.items(): f[k] = v.numpy()` writes with h5py) and copies them into g's
 * parameters. Keys ending in .num_batches_tracked are ignored. Missing, unexpected and mis-shaped
 * keys are all listed by name in the error. On error g's parameters are unchanged. */
int sl_import_state_dict(sl_graph *g, const char *path);

#endif
