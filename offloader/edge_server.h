/* edge_server.h: the edge side of sl-offload: authenticated devices, deployed bundles, workers.
 *
 * One accept thread; one reader thread per connected device (authentication, control messages,
 * deploy uploads, queueing INFER requests); a fixed pool of worker threads that run the queued
 * requests through a backend and send each RESULT on the device's connection. The queue is
 * bounded: a request that finds it full is answered with BUSY at once instead of waiting.
 *
 * Connections are admitted in two stages so that peers which never authenticate cannot lock
 * devices out: a new connection has auth_timeout seconds in all for its handshake (a deadline,
 * not a per-read timeout); at most max_unauth connections are in their handshake at once, and
 * a new one past that drops the one that has been handshaking longest instead of being refused;
 * only authenticated devices count against max_clients (one over it gets BUSY in place of
 * AUTH_OK). The accept thread never waits on a peer. Every refused or failed request gets an
 * ERROR frame naming why; a bad frame closes only that device's connection.
 *
 * Bundles live in store_dir (deploy_store.h) and in memory keyed by pair id: those present at
 * start are loaded then; a deploy installs a new file and swaps the in-memory entry without a
 * restart (requests already running finish on the old model, which is unloaded after them).
 */
#ifndef SL_OFFLOADER_EDGE_SERVER_H
#define SL_OFFLOADER_EDGE_SERVER_H

#include "offloader/wire.h"

#include <stddef.h>
#include <stdint.h>

/* How the server runs models; the real one wraps the model executor, tests use a fake. */
typedef struct sl_edge_backend {
    void *ctx;
    /* Loads the edge bundle at path (read fully; the file may be renamed or removed afterwards).
     * On success *model is the backend's handle and pair_id (32 hex chars + NUL) the pair id
     * stored in the bundle. On failure returns an SL_E* status with sl_errmsg() set. */
    int (*load)(void *ctx, const char *path, void **model, char pair_id[33]);
    /* Runs one request: in[0..nin) as received (borrowed; one tensor per cut tensor, in the
     * order of the bundle's wire description). On success fills *out with a tensor whose data
     * the server frees with free(); returns SL_ESHAPE for inputs that do not fit the bundle
     * (count, dtype, shape), other SL_E* for failures, with sl_errmsg() set. Called from several
     * worker threads at once, also on the same model. */
    int (*run)(void *ctx, void *model, const sl_wire_tensor *in, int nin, sl_wire_tensor *out);
    /* Frees a model from load; called once no request uses it any more. */
    void (*unload)(void *ctx, void *model);
    /* Optional (NULL: nothing to do): runs a model from load once on a made-up request of batch
     * 1 (zeros of the shapes and dtypes a request carries), so that what a model's first run
     * costs beyond the others (the compiled modules' first call, MKL-DNN kernels made for the
     * shapes) is paid before the model is served. The server calls it once on each worker
     * thread (a thread's first run costs more too), also for the same model at once. Returns
     * SL_OK or an SL_E* status with sl_errmsg() set, after which the model is not served. */
    int (*warm)(void *ctx, void *model);
} sl_edge_backend;

typedef struct sl_edge_config {
    const char *host;      /* listen address; NULL = all interfaces */
    int port;              /* 0 = any free port (see sl_edge_port) */
    const char *store_dir; /* bundle folder, created if missing */
    const void *token;     /* shared secret (copied), required */
    size_t token_len;
    int workers;              /* threads running models; default 2 */
    int queue_capacity;       /* INFER requests waiting for a worker before BUSY; default 64 */
    uint64_t queue_max_bytes; /* their payload bytes before BUSY; default 512 MiB */
    int max_clients;          /* authenticated devices at once; default 64 */
    int max_unauth;           /* connections in their handshake at once; default 32 */
    uint32_t max_frame;       /* largest payload accepted; default 64 MiB */
    uint64_t max_bundle;      /* largest deploy upload; default 2 GiB */
    double auth_timeout;      /* seconds from accept to the end of the handshake; default 10 */
    double idle_timeout;      /* seconds without a frame before closing; default 600, 0 = never */
    double write_timeout;     /* seconds a device may stall our sends; default 30 */
    int no_warm;              /* 1: serve models without the backend's warm run (default 0) */
} sl_edge_config;

typedef struct sl_edge_stats {
    uint64_t connections; /* accepted */
    uint64_t auth_failures;
    uint64_t requests;   /* INFER frames received after authentication */
    uint64_t results;    /* RESULT frames sent */
    uint64_t errors;     /* ERROR frames sent (all causes) */
    uint64_t busy;       /* BUSY frames sent */
    uint64_t bad_frames; /* connections closed for a malformed frame */
    uint64_t deploys;    /* bundles installed by deploy */
    uint64_t evicted;    /* handshaking connections dropped to make room for newer ones */
    uint64_t cold_runs;  /* requests that were their model's first run (0 unless no_warm) */
    int refused;         /* files of the store refused at start (check or load failed) */
    int bundles;         /* bundles loaded now */
    int clients;         /* authenticated devices connected now */
    int handshakes;      /* connections in their handshake now */
    int queued;          /* INFER requests waiting for a worker now */
    int stopping;        /* 1 once sl_edge_stop has begun */
} sl_edge_stats;

typedef struct sl_edge_server sl_edge_server;

/* Fills the defaults above (host NULL, port 0, store_dir and token NULL). */
void sl_edge_config_defaults(sl_edge_config *cfg);

/* Creates the store and loads every bundle in it, then listens and starts the threads. Each
 * stored file is first read in a child process with a deadline (sl_bundle_check_isolated,
 * weights included, as an upload is), so a file damaged on disk or planted there on which
 * libhdf5 crashes or loops never reaches this process; a file that fails that check or the
 * backend's load or warm run is reported with sl_log_warn naming it and the reason, counted in
 * refused and not served, and the others are. Each model is loaded and (unless no_warm) run by
 * the backend's warm once on every worker thread before the server listens, and a deployed one
 * before it is installed and the deploy acknowledged, so no request pays a model's first run. The
 * backend is copied; its ctx must outlive the server. Returns SL_OK and *out, or an error with
 * nothing left running and *out = NULL. */
int sl_edge_start(const sl_edge_config *cfg, const sl_edge_backend *backend, sl_edge_server **out);

/* The port actually listened on. */
int sl_edge_port(const sl_edge_server *s);

/* A snapshot of the counters. */
void sl_edge_get_stats(sl_edge_server *s, sl_edge_stats *st);

/* Whether the edge can take work: 1 while it serves and holds at least one bundle; 0 while it
 * is stopping or has nothing to serve, with why (NUL-terminated, at most n bytes) saying so. On
 * success why says what it serves ("2 bundle(s), queue 0/64, 3 device(s)"). What a load
 * balancer's health check asks (metrics_http.h). */
int sl_edge_healthy(sl_edge_server *s, char *why, size_t n);

/* The counters, the queue and each pair's latency quantiles as Prometheus text (exposition
 * format 0.0.4): the sl_edge_* counters and gauges of docs/offloader.md, and per pair id
 * sl_edge_request_seconds{pair,quantile} (0.5, 0.9, 0.95, 0.99: queue + run + send of the
 * requests answered since start, estimated from a histogram of 2^(1/4)-wide buckets from 10 us,
 * each the upper bound of its bucket), with _sum, _count and sl_edge_pair_errors_total. At most
 * 64 pair ids are kept apart; later ones count under pair="other". Returns a new string (caller
 * frees) or NULL when out of memory. */
char *sl_edge_metrics_text(sl_edge_server *s);

/* Stops accepting, closes every connection (requests still queued are not run), joins all
 * threads, unloads the models and frees s. NULL is a no-op. */
void sl_edge_stop(sl_edge_server *s);

#endif
