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
 *
 * Adaptive mode (opts.plans: a manifest, offloader/plan_bundles.h): the device holds every plan
 * of a plan table (slice pairs, the edge-only and the local-only plan) and picks one per image.
 * Each answered request feeds the link estimate (offloader/link_estimate.h) with its bytes, the
 * time from its send to its answer and the edge's reported queue + compute time; the chooser
 * moves to the plan predicted fastest at the estimate, with its hysteresis. A request keeps the
 * plan it was computed for until its answer, so at a switch the requests in flight finish on
 * their plan, each image is computed once and answered once. With pipelining, a request sent
 * while the answer of the one before it was still due is timed from that answer (the link was
 * busy until then): the time between the two answers is its transfer, with no RTT taken off,
 * and its edge time is not subtracted (it overlapped the link).
 * Probes: while the plan in use sends nothing (local-only), the estimate goes stale; then one
 * image is sent on the offloading plan predicted fastest instead (after one PING for the RTT),
 * and its answer is that image's answer. Further images are sent as probes while the estimate
 * is moving (a run of jumps in progress, or a switch being confirmed), so a link that came back
 * is seen in a few images; otherwise the next probe waits until the estimate is stale again.
 * An offloading plan whose samples are all censored or barely measured (its transfer within
 * twice the RTT's noise, link_estimate.h) leaves the estimate blind: then images are sent as
 * probes on the plan sending the next more bytes among those that would win on a faster link,
 * one at a time until one is measured, up to 3, at most one such burst per stale period
 * (sl_link_probe_up), and more while their samples read the link faster than the estimate.
 * While an offloading plan is in use, a PING every stale_s / 4, when no request is in flight,
 * keeps the RTT estimate and its noise allowance current. The predictions use the bytes each
 * plan's requests really put on the wire (compressed), once the plan has sent one.
 * A probe that fails is answered by the local-only plan (or the fallback). No probe is sent
 * while the edge counts as unreachable.
 */
#ifndef SL_OFFLOADER_DEVICE_RUN_H
#define SL_OFFLOADER_DEVICE_RUN_H

#include "offloader/client.h"
#include "offloader/link_estimate.h"

#include <stdint.h>

/* How an image was answered: by the edge, the fallback model after the edge failed, not at all,
 * or by the local-only plan of a plan table (adaptive mode). */
enum sl_via { SL_VIA_EDGE = 0, SL_VIA_FALLBACK = 1, SL_VIA_ERROR = 2, SL_VIA_LOCAL = 3 };

typedef struct sl_device_opts {
    const char *model;    /* device half or whole model (edge-only); or NULL with plans */
    const char *plans;    /* adaptive mode: a plan-bundles manifest instead of model */
    double prior_bps;     /* adaptive: the link assumed before any sample (0: the table's
                             middle link, 10 Mbit/s when it lists none) */
    double prior_rtt_s;   /* adaptive: the RTT assumed until the first PING (< 0: the table's
                             middle link's RTT, 0 when it lists none) */
    double stale_s;       /* adaptive: the estimate is stale after this long (0: 5 s) */
    const sl_link_config *link; /* adaptive: the estimator's and chooser's settings (margin,
                             confirm, hold_s...); NULL: sl_link_config_default. Its priors and
                             stale_s are ignored: the fields above set them */
    double every_s;       /* image i starts no earlier than i * every_s after the run's start,
                             as from a camera (0: each as soon as the device is free) */
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
    double start_unix_s; /* when the image was started, Unix time (for traces) */
    uint64_t bytes_up, bytes_down;
    char edge[272]; /* "HOST:PORT" of the edge that answered (several edges: failover) */
    int adaptive; /* run by an adaptive device: plan and probe below are set */
    int plan;     /* the table plan the image ran on */
    int probe;    /* it was sent as a probe, on another plan than the one in use */
} sl_device_result;

/* A switch of plan in adaptive mode, with the estimate that caused it. */
typedef struct sl_device_switch {
    int index;            /* the first image on the new plan */
    int from, to;         /* table plan ids */
    double bandwidth_bps; /* the estimate */
    double rtt_s;
    double from_s, to_s; /* the two plans' predicted latencies at the estimate */
    long samples, pings; /* what the estimate was made of so far */
    double t_s;          /* since the run started */
} sl_device_switch;

typedef struct sl_device sl_device;

/* Loads the device model (and the fallback) and plans their runs; in adaptive mode every plan's
 * device file (a slice's device half, the whole model for edge-only and local-only), checking
 * each role against its plan's kind. Returns SL_OK and *out (free with sl_device_free), or an
 * error naming the file (and the plan) with *out = NULL. */
int sl_device_open(const sl_device_opts *o, sl_device **out);
/* Frees d and the models it loaded; NULL is a no-op. */
void sl_device_free(sl_device *d);

/* The pair id requests are sent under (borrowed, valid while d lives), the bytes one image puts
 * on the wire before encoding (the /wire description's bytes_per_image, or C*H*W for
 * edge-only), and whether d runs the edge-only plan. In adaptive mode: those of the plan the
 * device starts on. */
const char *sl_device_pair_hex(const sl_device *d);
uint64_t sl_device_wire_bytes(const sl_device *d);
int sl_device_edge_only(const sl_device *d);
/* The device half's /wire description (borrowed; NULL for a whole model). */
const char *sl_device_wire_json(const sl_device *d);

/* Called once per image, in image order; r is valid only during the call. */
typedef void (*sl_device_sink)(void *arg, const sl_device_result *r);

/* Adaptive mode: called at each switch, before the first image on the new plan is computed
 * (so possibly before the answers of earlier images still in flight). */
typedef void (*sl_device_switch_sink)(void *arg, const sl_device_switch *sw);
void sl_device_on_switch(sl_device *d, sl_device_switch_sink fn, void *arg);

/* Adaptive mode: the plan table (borrowed; NULL otherwise), switches and probes so far, and
 * the current estimate. */
const sl_link_table *sl_device_table(const sl_device *d);
void sl_device_adapt_stats(const sl_device *d, long *switches, long *probes, double *bps,
                           double *rtt_s);

/* Runs paths[0..n) through the device model and the edge behind c (borrowed), calling sink for
 * each. Per-image failures are results, not errors: the return value is SL_OK once every image
 * has had its result, or an error (with no further results) only when the run itself could not
 * go on (out of memory). */
int sl_device_run(sl_device *d, sl_client *c, char *const *paths, int n, sl_device_sink sink,
                  void *arg);

/* Frees r->logits and zeroes r. */
void sl_device_result_clear(sl_device_result *r);

#endif
