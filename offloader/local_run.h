/* local_run.h: running a whole model bundle on this host — the model (runner.h), image lists,
 * images to tensors, predictions. Shared by `sl-offload run`, the device client's fallback and
 * bench. */
#ifndef SL_OFFLOADER_LOCAL_RUN_H
#define SL_OFFLOADER_LOCAL_RUN_H

#include "datasets/image.h"
#include "offloader/runner.h"

/* The model's input spec (size, mean/std) for image loading; resize = stretch. */
void sl_input_spec_from_graph(const sl_graph *g, sl_input_spec *s);

/* Expands FILE, a folder (every .png, .jpg, .jpeg, .bmp below it, sorted) or a glob pattern
 * into a new sorted list of paths (free with sl_path_list_free). An empty result is an error
 * naming spec. */
int sl_path_list(const char *spec, char ***paths, int *n);
void sl_path_list_free(char **paths, int n);

/* Loads n images into a new float tensor {n, C, H, W} normalised for the model. */
int sl_images_to_tensor(char *const *paths, int n, const sl_input_spec *s, sl_tensor **out);

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
