/* backend.h: the model backend of the edge server (sl_edge_backend over bundles and the executor).
 *
 * Two kinds of bundle are served, each keyed by a pair id:
 *  - an edge half (role "edge", from `sl-preprocess split`): keyed by its pair_id attribute; a
 *    request carries one tensor per entry of the bundle's wire description, in that order,
 *    float32 or uint8 (+ scale / zero point for an 8-bit TL), each {N, <shape>} with the same N;
 *    they become the values of the bundle's placeholders and the executor runs from there to the
 *    outputs;
 *  - a whole model (role "model"), for the edge-only plan: keyed by the first 16 bytes of the
 *    SHA-256 of the bundle file (sl_backend_model_pair_id), so a device holding the same file
 *    knows the id without asking; a request carries the raw image as uint8 {N, C, H, W} (the
 *    model's input size, not normalised) and the edge normalises it with the model's mean / std
 *    exactly as sl_image_to_input does on a device.
 * A tensor of the wrong count, dtype or shape is refused with SL_ESHAPE naming the tensor, what
 * was expected and what came, so the server answers with an error frame. The answer is the
 * model's first output as float32 {N, K}. Models are read-only after load, so the same model
 * may run on several worker threads at once. The backend's warm runs a model three times on a
 * request of zeros of batch 1 (the shapes and dtypes above), so the server can pay a model's
 * first runs (its compiled modules' first calls, which the graph executor profiles before it
 * specialises them) before serving it.
 */
#ifndef SL_OFFLOADER_BACKEND_H
#define SL_OFFLOADER_BACKEND_H

#include "offloader/edge_server.h"

/* Options for every model the backend loads. */
typedef struct sl_backend_opts {
    int fold_bn; /* fold batch norm into convolutions (what `sl-offload run` does by default) */
} sl_backend_opts;

/* Fills *be with the model backend; opts is copied into a context owned by *be (free it with
 * sl_backend_free after the server using it has stopped). Returns SL_OK or SL_ENOMEM (*be
 * zeroed). */
int sl_backend_init(const sl_backend_opts *opts, sl_edge_backend *be);

/* Frees the context of sl_backend_init and zeroes *be; NULL or a zeroed *be is a no-op. */
void sl_backend_free(sl_edge_backend *be);

/* The pair id a whole-model bundle file is served under (32 lowercase hex chars + NUL): the
 * first 16 bytes of the file's SHA-256. Returns SL_OK or SL_EIO naming the path. */
int sl_backend_model_pair_id(const char *path, char pair_hex[33]);

/* Runs of a freshly compiled model on zeros before the first request (edge and device): the
 * graph executor profiles a module's first calls and only then specialises it. */
#define SL_WARM_RUNS 3

#endif
