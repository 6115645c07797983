/* profile_io.h: the profile of a model on one host (format "sl-profile" version 2; version 1 is
 * still read), read and written.
 *
 * A profile describes one model measured on one host. Nodes are in topological order. Cuts are
 * the single-tensor cut points, also in topological order: cut 0 is the model input, the last
 * cut is the model output, and block i runs the contiguous nodes first_node..last_node between
 * cut i and cut i+1. Times are medians in seconds, bytes are for `batch` images. Every cut may
 * carry measured transfer-layer (TL) configurations: encoder time, decoder time and the bytes
 * that cross the wire with that TL. docs/formats/profile.md describes the JSON field by field.
 *
 * Version 2 adds what the offloader really does (docs/formats/profile.md): per tensor the bytes
 * after the wire codec (zstd as the device client sends) with the sender's encode and the
 * receiver's decode time, measured on sample images; per cut the time of the prefix (input ->
 * cut) and of the suffix (cut -> output) each run as one range; and the image loading time. A
 * version 1 profile (or a hand-made struct with has_wire / has_ranges 0) has none of these:
 * select then charges the uncompressed bytes and sums of block times, as before.
 *
 * Ownership: an sl_profile owns every string and array it points to (malloc'd);
 * sl_profile_free() releases them all, so a writer (the profile command) fills the struct with
 * malloc'd arrays and strdup'd strings and frees it with sl_profile_free().
 */
#ifndef SL_PREPROCESSOR_PROFILE_IO_H
#define SL_PREPROCESSOR_PROFILE_IO_H

#include <stdint.h>

#define SL_PROFILE_MAX_RANK 8

/* One tensor as the wire carries it (version 2): the frame's bytes after the codec (mean over
 * the sample images, headers included), the sender's encode and the receiver's decode time. */
typedef struct sl_prof_wire {
    int64_t bytes;
    double enc_s, dec_s;
} sl_prof_wire;

typedef struct sl_prof_tl {
    char *config;      /* "pool" or "conv-r<R>-s<S>-b<BITS>" */
    double enc_s;      /* TL encoder time on this host */
    double dec_s;      /* TL decoder time on this host */
    int64_t bytes;     /* bytes of the TL's wire tensor (uint8 for 8 bits), before the codec */
    sl_prof_wire wire; /* that tensor through the codec (has_wire) */
} sl_prof_tl;

typedef struct sl_prof_node {
    char *name;
    char *op;
    char **inputs; /* names of producing nodes or of the model input */
    int n_inputs;
    int64_t out_shape[SL_PROFILE_MAX_RANK];
    int out_rank;
    int64_t out_bytes;
    double median_s; /* this node alone; sums of node times are not block times */
} sl_prof_node;

typedef struct sl_prof_cut {
    char *tensor;   /* the tensor crossing here: the input name for cut 0, else a node name */
    int node_index; /* producing node, -1 for the input */
    int64_t shape[SL_PROFILE_MAX_RANK];
    int rank;
    int64_t bytes; /* float bytes of the tensor */
    sl_prof_wire wire; /* the float tensor through the codec (has_wire) */
    double prefix_s;   /* input -> this cut as one range, after idle_gap_s (has_ranges; 0 for cut 0) */
    double suffix_s;   /* this cut -> output as one range, after idle_gap_s (has_ranges; 0 for the
                          last cut) */
    double whole_s;    /* the whole model back to back in this cut's own turns (median): what
                          prefix + suffix is to be compared with, as load on a shared host falls
                          on all three alike (has_ranges; in memory only, not in the file) */
    sl_prof_tl *tl;
    int n_tl;
} sl_prof_cut;

typedef struct sl_prof_block {
    int from_cut, to_cut;      /* always i and i+1 for block i */
    int first_node, last_node; /* contiguous, inclusive */
    double median_s, p10_s, p90_s;
} sl_prof_block;

typedef struct sl_profile {
    char *model;
    char graph_hash[65]; /* 64 lowercase hex digits: sha256 of the model's graph JSON */
    char *host, *cpu, *date;
    int threads, batch, warmup, repeats;
    char *input_name;
    int64_t input_shape[SL_PROFILE_MAX_RANK];
    int input_rank;
    int64_t input_bytes;     /* float tensor bytes */
    int64_t input_raw_bytes; /* raw uint8 image bytes: what an edge-only plan sends */
    double total_median_s, total_p10_s, total_p90_s;
    double block_sum_s, gap_s;
    double serialise_bytes_per_s; /* framing + CRC speed measured on this host */
    /* Idle time before each timed prefix, suffix and edge-side whole run (has_ranges; 0: back to
     * back, and in profiles written before it existed). With it, cuts[].prefix_s / suffix_s are
     * what a split's halves cost after waiting for the network, cuts[0].suffix_s is the whole
     * model after the wait (edge-only's edge) and total / the last prefix the whole back to back
     * (local-only). */
    double idle_gap_s;
    int has_wire;       /* version 2: the wire fields below and in cuts/TLs are measured */
    int has_ranges;     /* version 2: cuts[].prefix_s / suffix_s are measured */
    char *codec;        /* "zstd" or "none" (has_wire) */
    int codec_level;    /* zstd level the device uses; 0 with "none" */
    int codec_min_bytes; /* tensors smaller than this are sent raw */
    int images;         /* sample images the wire bytes were measured on; 0 = random input */
    double load_s;      /* loading the batch's images into the float input (0 when unknown) */
    double raw_load_s;  /* loading them as the raw uint8 image an edge-only device sends */
    sl_prof_wire input_wire; /* edge-only: the raw uint8 image through the codec (has_wire) */
    sl_prof_node *nodes;
    int n_nodes;
    sl_prof_cut *cuts;
    int n_cuts;
    sl_prof_block *blocks; /* n_cuts - 1 of them */
    int n_blocks;
} sl_profile;

/* Parses and validates a profile from JSON text. `what` names the source in messages (a path).
 * On success *out is a new profile the caller frees with sl_profile_free(). On error *out is
 * untouched and the status (SL_EFORMAT) carries a message naming the field, e.g.
 * "dev.json: cuts[2].tl[0].enc_s: missing". */
int sl_profile_parse(const char *text, const char *what, sl_profile **out);

/* Reads and validates the profile at `path` (see sl_profile_parse). SL_EIO if unreadable. */
int sl_profile_read(const char *path, sl_profile **out);

/* Checks the invariants the reader enforces (cut/block/node consistency); the profile command
 * calls it before writing. Returns SL_OK or SL_EFORMAT naming `what` and the field. */
int sl_profile_validate(const sl_profile *p, const char *what);

/* Serialises a profile as JSON; returns a new string the caller frees, or NULL (and sets the
 * message) when `p` does not validate or memory runs out. */
char *sl_profile_to_json(const sl_profile *p);

/* A cut as the profile and the plan describe it: {index, tensor, node_index, shape, bytes}, as
 * a new object the caller adds to a document (or frees with cJSON_Delete); NULL when memory
 * runs out. */
struct cJSON *sl_prof_cut_json(const sl_prof_cut *c, int index);

/* Validates and writes `p` to `path` atomically; on error nothing at `path` is changed. */
int sl_profile_write(const char *path, const sl_profile *p);

/* Frees the profile and everything it owns; NULL is a no-op. */
void sl_profile_free(sl_profile *p);

/* Index of the node named `name`, or -1. Linear scan: profiles have at most a few thousand
 * nodes and lookups happen while parsing flags. */
int sl_profile_find_node(const sl_profile *p, const char *name);

/* Index of the block that runs node `node`, or -1. */
int sl_profile_block_of_node(const sl_profile *p, int node);

/* Time of the prefix input -> cut `cut` on this host: the measured prefix_s (has_ranges), else
 * the sum of blocks 0..cut-1. The last cut's prefix is the whole model. */
double sl_profile_prefix_s(const sl_profile *p, int cut);

/* Time of the suffix cut -> output: the measured suffix_s (has_ranges), else the sum of blocks
 * cut..K-1. Cut 0's suffix is the whole model. */
double sl_profile_suffix_s(const sl_profile *p, int cut);

/* What crosses the wire at `cut` with TL index `tl` (-1: none): cut 0 is the raw uint8 image.
 * With has_wire, the measured bytes after the codec and the codec's times on this host; else
 * the uncompressed bytes and zero times. */
sl_prof_wire sl_profile_wire(const sl_profile *p, int cut, int tl);

/* Index of the TL configuration `config` at cut `cut`, or -1. */
int sl_profile_find_tl(const sl_profile *p, int cut, const char *config);

#endif
