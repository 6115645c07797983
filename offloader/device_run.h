/* device_run.h: the device side of a split run: images -> device bundle -> wire -> edge -> class.
 *
 * The device model is either the device half of a split (role "device": it runs the image to the
 * wire tensors of its /wire description and the edge bundle of the same pair id finishes) or a
 * whole model (role "model": the edge-only plan — the image is resized to the model's input and
 * sent raw as uint8 {1, C, H, W}; the edge serves the same file under the id
 * sl_backend_model_pair_id gives). Every image yields exactly one result, in image order: the
 * edge's answer ("edge"), the local fallback model's answer when the edge failed and a fallback
 * is given ("fallback"), or an explicit error ("error"). A request lost with its connection is
 * sent once more after the client reconnects before it counts as failed; BUSY answers are
 * resent after the edge's hint. Once the edge could not be reached, images do not try it again
 * for 2 s (each would cost a whole reconnect cycle), unless edge_wait_s asks to wait for it.
 *
 * Pipelined mode (pipeline > 1): up to `pipeline` requests are on the wire while the next image
 * is computed on the device.
 */
#ifndef SL_OFFLOADER_DEVICE_RUN_H
#define SL_OFFLOADER_DEVICE_RUN_H

#include "offloader/client.h"

#include <stdint.h>

enum sl_via { SL_VIA_EDGE = 0, SL_VIA_FALLBACK = 1, SL_VIA_ERROR = 2 };

typedef struct sl_device_opts {
    const char *model;    /* device half or whole model (edge-only), required */
    const char *fallback; /* whole model run locally when the edge fails; NULL = none */
    int pipeline;         /* requests in flight at once, >= 1 (the client's max_inflight must
                             be at least this) */
    int fold_bn;          /* fold batch norm as `sl-offload run` does (default there: 1) */
    double edge_wait_s;   /* when the edge becomes unreachable, wait up to this long for it to
                             come back before images go to the fallback or fail (0 = don't) */
} sl_device_opts;

/* One image's outcome. Times in seconds. */
typedef struct sl_device_result {
    int index;
    const char *file;       /* borrowed from the caller's path list */
    int via;                /* enum sl_via */
    int status;             /* SL_OK, or why the edge (and the fallback) failed */
    char error[1200];       /* the edge's failure, also kept when the fallback answered */
    int cls;                /* class index, -1 on error */
    const char *class_name; /* borrowed from the model, NULL when unnamed or on error */
    double score;           /* softmax probability of cls */
    int nlogits;
    float *logits;   /* owned by the result (sl_device_result_clear) */
    double device_s; /* image loading + device bundle (or the fallback model) */
    double encode_s, transfer_s, edge_queue_s, edge_s;
    double total_s; /* from starting the image to its answer */
    uint64_t bytes_up, bytes_down;
} sl_device_result;

typedef struct sl_device sl_device;

/* Loads the device model (and the fallback) and plans their runs. Returns SL_OK and *out (free
 * with sl_device_free), or an error naming the file with *out = NULL. */
int sl_device_open(const sl_device_opts *o, sl_device **out);
/* Frees d and the models it loaded; NULL is a no-op. */
void sl_device_free(sl_device *d);

/* The pair id requests are sent under (borrowed, valid while d lives), the bytes one image puts
 * on the wire before encoding (the /wire description's bytes_per_image, or C*H*W for
 * edge-only), and whether d runs the edge-only plan. */
const char *sl_device_pair_hex(const sl_device *d);
uint64_t sl_device_wire_bytes(const sl_device *d);
int sl_device_edge_only(const sl_device *d);
/* The device half's /wire description (borrowed; NULL for a whole model). */
const char *sl_device_wire_json(const sl_device *d);

/* Called once per image, in image order; r is valid only during the call. */
typedef void (*sl_device_sink)(void *arg, const sl_device_result *r);

/* Runs paths[0..n) through the device model and the edge behind c (borrowed), calling sink for
 * each. Per-image failures are results, not errors: the return value is SL_OK once every image
 * has had its result, or an error (with no further results) only when the run itself could not
 * go on (out of memory). */
int sl_device_run(sl_device *d, sl_client *c, char *const *paths, int n, sl_device_sink sink,
                  void *arg);

/* Frees r->logits and zeroes r. */
void sl_device_result_clear(sl_device_result *r);

#endif
