/* local_run.h: running a whole model bundle on this host — images to tensors, image lists,
 * predictions. Shared by `sl-offload run`, the device client's fallback and bench. */
#ifndef SL_OFFLOADER_LOCAL_RUN_H
#define SL_OFFLOADER_LOCAL_RUN_H

#include "datasets/image.h"
#include "model/bundle.h"
#include "model/exec.h"

typedef struct sl_runner {
    sl_bundle *bundle; /* owned */
    sl_exec *exec;     /* owned: input -> first output */
} sl_runner;

/* Loads the whole model (role "model" or "checkpoint") at path and plans an inference run
 * (fold_bn as given). Returns SL_OK and *out (free with sl_runner_free), or an error naming the
 * file: unreadable, not a bundle, or a device/edge half (SL_EFORMAT), with *out = NULL. */
int sl_runner_open(const char *path, int fold_bn, sl_runner **out);
/* Same with every executor option (fold_bn, channels_last). */
int sl_runner_open_opts(const char *path, const sl_exec_opts *o, sl_runner **out);
/* Runs x {N,C,H,W} through the model; *y is a new tensor (logits {N, K}). */
int sl_runner_forward(sl_runner *r, const sl_tensor *x, sl_tensor **y);
void sl_runner_free(sl_runner *r);

/* The model's input spec (size, mean/std) for image loading; resize = stretch. */
void sl_input_spec_from_graph(const sl_graph *g, sl_input_spec *s);

/* Expands FILE, a folder (every .png, .jpg, .jpeg, .bmp below it, sorted) or a glob pattern
 * into a new sorted list of paths (free with sl_path_list_free). An empty result is an error
 * naming spec. */
int sl_path_list(const char *spec, char ***paths, int *n);
void sl_path_list_free(char **paths, int n);

/* Loads n images into a new float tensor {n, C, H, W} normalised for the model. */
int sl_images_to_tensor(char *const *paths, int n, const sl_input_spec *s, sl_tensor **out);

/* Checks that fallback model fb (loaded from fb_path) can stand in for the pair whose device
 * model graph is `pair` (from pair_path; pair_is_whole when it is a whole model, the edge-only
 * plan): the same input size, the same class names in the same order (or none on both sides),
 * and, where the pair's own logit count is known (a whole model), the same count. Returns SL_OK
 * or SL_EARG / SL_EFORMAT with a message naming both files and the difference. */
int sl_runner_check_fallback(const sl_runner *fb, const char *fb_path, const sl_graph *pair,
                             int pair_is_whole, const char *pair_path);

/* Like sl_images_to_tensor, except that an image which cannot be loaded does not fail the batch:
 * its row is left zero and why[i] (the caller's array of n) gets the reason (a new string; free
 * them with sl_images_why_free), the others NULL. Returns SL_OK with *out, or SL_ETORCH /
 * SL_ENOMEM when the tensor itself could not be made (*out NULL, no reasons left to free). */
int sl_images_to_tensor_each(char *const *paths, int n, const sl_input_spec *s, sl_tensor **out,
                             char **why);
/* Frees why[0..n) and sets them to NULL. */
void sl_images_why_free(char **why, int n);

/* Index of the largest logit of row `row` of logits {N, K} and its softmax probability. A
 * non-finite logit is an error (SL_EFORMAT naming it), never a class: NaN compares false with
 * everything and would otherwise come out as class 0 with score NaN. */
int sl_top1(const sl_tensor *logits, int64_t row, int *cls, double *prob);

#endif
