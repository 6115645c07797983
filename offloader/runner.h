/* runner.h: a whole model bundle loaded and planned for inference on this host (sl-offload run,
 * the device's fallback and local-only plans, bench's local mode). */
#ifndef SL_OFFLOADER_RUNNER_H
#define SL_OFFLOADER_RUNNER_H

#include "model/bundle.h"
#include "model/exec.h"

typedef struct sl_runner {
    sl_bundle *bundle; /* owned */
    sl_exec *exec;     /* owned: input -> first output */
} sl_runner;

/* Loads the whole model (role "model" or "checkpoint") at path and plans an inference run
 * (fold_bn as given). Returns SL_OK and *out (free with sl_runner_free), or an error naming the
 * file: unreadable, not a bundle, or a device/edge half (SL_EFORMAT, refused on the structure
 * before the weights load the model runtime), with *out = NULL. */
int sl_runner_open(const char *path, int fold_bn, sl_runner **out);
/* Same with every executor option (fold_bn, channels_last). */
int sl_runner_open_opts(const char *path, const sl_exec_opts *o, sl_runner **out);
/* Runs x {N,C,H,W} through the model; *y is a new tensor (logits {N, K}). */
int sl_runner_forward(sl_runner *r, const sl_tensor *x, sl_tensor **y);
/* Frees r, its bundle and its plan; NULL is a no-op. */
void sl_runner_free(sl_runner *r);

/* Checks that fallback model fb (loaded from fb_path) can stand in for the pair whose device
 * model graph is `pair` (from pair_path; pair_is_whole when it is a whole model, the edge-only
 * plan): the same input size, the same class names in the same order (or none on both sides),
 * and, where the pair's own logit count is known (a whole model), the same count. Returns SL_OK
 * or SL_EARG / SL_EFORMAT with a message naming both files and the difference. */
int sl_runner_check_fallback(const sl_runner *fb, const char *fb_path, const sl_graph *pair,
                             int pair_is_whole, const char *pair_path);

#endif
