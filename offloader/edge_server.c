/* edge_server.c: accept thread, one reader per device, a bounded queue and worker threads. */
#include "offloader/edge_server.h"
#include "offloader/auth.h"
#include "offloader/deploy_store.h"
#include "offloader/proto.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "model/bundle.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEPLOY_BEGIN_SIZE (8 + SL_SHA256_SIZE)
#define RESULT_HEAD 16
#define BUSY_RETRY_MS 20
#define LINGER_S 1.0
#define LINGER_BYTES (1u << 20)
/* Per-pair latency histograms: bucket i holds latencies up to LAT_LO * 2^(i/4); the last one
 * everything longer (10 us .. 166 s in 96 buckets, each 19 % wide). */
#define LAT_BUCKETS 96
#define LAT_LO 1e-5
#define MAX_PAIR_STATS 64

/* One pair id's answered requests since start (stats_lock). Kept apart from the model so that
 * replacing or removing a bundle does not reset its history. */
typedef struct pair_stats {
    char hex[33]; /* "other" for the shared slot past MAX_PAIR_STATS */
    uint64_t count, errors;
    double sum_s;
    uint64_t hist[LAT_BUCKETS];
} pair_stats;

/* A loaded bundle. The registry holds one reference; each running request holds one more. */
typedef struct model {
    uint8_t pair[SL_PAIR_ID_SIZE];
    char pair_hex[33];
    char file[256];
    uint64_t bytes;
    char sha256[65];
    void *handle;
    int refs;        /* under srv->models_lock */
    atomic_int runs; /* runs so far, the warm run included */
    double load_s;   /* the backend's load */
    double warm_s;   /* its warm run; 0 when there was none */
} model;

/* A connection is counted in nunauth during its handshake, in nauthed once admitted, and in
 * neither once evicted or refused. */
enum { STAGE_HANDSHAKE, STAGE_DEVICE, STAGE_UNCOUNTED };

typedef struct client {
    sl_conn conn;
    struct sl_edge_server *srv;
    atomic_int refs; /* the reader thread + each queued job */
    struct client *next;
    int stage;   /* STAGE_*, under srv->clients_lock: which count of the server it is in */
    int evicted; /* under srv->clients_lock: dropped to make room for a newer handshake */
    sl_deploy_upload *up;
    uint64_t up_request;
    uint64_t dropped_request; /* chunks of this refused upload are ignored */
    int has_dropped;
} client;

typedef struct job {
    client *cl;
    uint64_t request_id;
    model *m;
    uint8_t *payload;
    uint32_t length;
    double t_queued;
} job;

struct sl_edge_server {
    sl_edge_config cfg;
    sl_edge_backend be;
    char *store_dir;
    uint8_t *token;
    int listen_fd, port;
    atomic_int stopping;
    pthread_t acceptor;
    pthread_t *workers;
    int nworkers;

    pthread_mutex_t models_lock;
    model **models;
    int nmodels, cap_models;

    pthread_mutex_t clients_lock;
    pthread_cond_t clients_gone;
    client *clients; /* newest first */
    int nclients;    /* live reader threads */
    int nauthed;     /* authenticated devices (against max_clients) */
    int nunauth;     /* connections still in the handshake and not evicted (max_unauth) */

    pthread_mutex_t q_lock;
    pthread_cond_t q_cond;
    job *queue;
    int q_head, q_len;
    uint64_t q_bytes; /* payload bytes waiting */

    /* A model's warm run on every worker (model_warm); one at a time (warm_lock), the rest
     * under q_lock: each worker runs warm_model once when warm_gen differs from its own. */
    pthread_mutex_t warm_lock;
    pthread_cond_t warm_cond;
    uint64_t warm_gen;
    void *warm_model;
    int warm_done, warm_rc;
    char warm_err[512];

    atomic_uint_fast64_t n_conn, n_authfail, n_req, n_res, n_err, n_busy, n_bad, n_deploy;
    atomic_uint_fast64_t n_evicted, n_dropped, n_cold;
    int nrefused; /* store files refused at start */

    pthread_mutex_t stats_lock;
    pair_stats *pstats; /* MAX_PAIR_STATS + 1 (the last: "other") */
    int npstats;
};

void sl_edge_config_defaults(sl_edge_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->workers = 2;
    cfg->queue_capacity = 64;
    cfg->queue_max_bytes = 512ull << 20;
    cfg->max_clients = 64;
    cfg->max_unauth = 32;
    cfg->max_frame = SL_PROTO_DEFAULT_MAX_FRAME;
    cfg->max_bundle = 2ull << 30;
    cfg->auth_timeout = 10;
    cfg->idle_timeout = 600;
    cfg->write_timeout = 30;
}

/* ---- model registry ---- */

static void model_put(sl_edge_server *s, model *m)
{
    if (!m) return;
    pthread_mutex_lock(&s->models_lock);
    int last = --m->refs == 0;
    pthread_mutex_unlock(&s->models_lock);
    if (last) {
        s->be.unload(s->be.ctx, m->handle);
        free(m);
    }
}

static int find_model(sl_edge_server *s, const uint8_t pair[SL_PAIR_ID_SIZE])
{
    for (int i = 0; i < s->nmodels; i++)
        if (memcmp(s->models[i]->pair, pair, SL_PAIR_ID_SIZE) == 0) return i;
    return -1;
}

/* A new reference to the model of `pair`, or NULL. */
static model *model_get(sl_edge_server *s, const uint8_t pair[SL_PAIR_ID_SIZE])
{
    pthread_mutex_lock(&s->models_lock);
    int i = find_model(s, pair);
    model *m = i >= 0 ? s->models[i] : NULL;
    if (m) m->refs++;
    pthread_mutex_unlock(&s->models_lock);
    return m;
}

/* Runs the backend's warm of a loaded model handle once on every worker thread, so that neither
 * the model's first run (its compiled modules' first call, kernels made for its shapes) nor a
 * worker's first run of any model (libtorch's per-thread state: its intra-op thread team) falls
 * on a request. The workers must be running. Returns SL_OK, the first worker's error, or
 * SL_EBUSY when the server is stopping. */
static int model_warm(sl_edge_server *s, void *handle)
{
    pthread_mutex_lock(&s->warm_lock);
    pthread_mutex_lock(&s->q_lock);
    int rc = SL_OK;
    if (atomic_load(&s->stopping)) {
        rc = sl_err(SL_EBUSY, "the edge is stopping");
    } else {
        s->warm_model = handle;
        s->warm_done = s->warm_rc = 0;
        s->warm_gen++;
        pthread_cond_broadcast(&s->q_cond);
        while (s->warm_done < s->nworkers)
            pthread_cond_wait(&s->warm_cond, &s->q_lock);
        s->warm_model = NULL;
        if (s->warm_rc) rc = sl_err(s->warm_rc, "%s", s->warm_err);
    }
    pthread_mutex_unlock(&s->q_lock);
    pthread_mutex_unlock(&s->warm_lock);
    return rc;
}

/* Loads `path` through the backend into a new model (not yet registered) and, unless no_warm,
 * runs it once on every worker (model_warm), so that its first request costs what the others
 * do. */
static int model_load(sl_edge_server *s, const char *path, const char *file, model **out)
{
    *out = NULL;
    model *m = calloc(1, sizeof *m);
    if (!m) return sl_err(SL_ENOMEM, "out of memory");
    uint8_t digest[SL_SHA256_SIZE];
    double t0 = sl_now();
    int rc = sl_sha256_file(path, digest);
    if (rc == SL_OK) rc = s->be.load(s->be.ctx, path, &m->handle, m->pair_hex);
    double t1 = sl_now();
    if (rc == SL_OK) {
        m->pair_hex[32] = '\0';
        rc = sl_pair_from_hex(m->pair_hex, m->pair);
        if (rc == SL_OK && s->be.warm && !s->cfg.no_warm) {
            rc = model_warm(s, m->handle);
            if (rc)
                rc = sl_err_ctx(rc, "its first run, on zeros of batch 1, failed: ");
            else
                atomic_store(&m->runs, 1);
            m->warm_s = sl_now() - t1;
        }
        if (rc) s->be.unload(s->be.ctx, m->handle);
    }
    if (rc) {
        free(m);
        return rc;
    }
    sl_sha256_hex(digest, m->sha256);
    snprintf(m->file, sizeof m->file, "%s", file);
    m->refs = 1;
    m->load_s = t1 - t0;
    *out = m;
    return SL_OK;
}

/* Registers m, replacing any model of the same pair id; *old_file receives the replaced model's
 * file name ("" if none). Returns 1 when it replaced one, 0 when added, SL_ENOMEM. */
static int model_install(sl_edge_server *s, model *m, char old_file[256])
{
    old_file[0] = '\0';
    model *old = NULL;
    pthread_mutex_lock(&s->models_lock);
    int i = find_model(s, m->pair);
    if (i >= 0) {
        old = s->models[i];
        s->models[i] = m;
    } else {
        if (s->nmodels == s->cap_models) {
            int cap = s->cap_models ? 2 * s->cap_models : 8;
            model **nv = realloc(s->models, (size_t)cap * sizeof *nv);
            if (!nv) {
                pthread_mutex_unlock(&s->models_lock);
                return sl_err(SL_ENOMEM, "out of memory registering a bundle");
            }
            s->models = nv;
            s->cap_models = cap;
        }
        s->models[s->nmodels++] = m;
    }
    pthread_mutex_unlock(&s->models_lock);
    if (old) {
        snprintf(old_file, 256, "%s", old->file);
        model_put(s, old);
        return 1;
    }
    return 0;
}

/* What a log line says about m's load and warm run, into buf (n bytes). */
static void describe_load(const model *m, char *buf, size_t n)
{
    if (atomic_load(&m->runs) == 0)
        snprintf(buf, n, "loaded in %.3f s, not run before serving", m->load_s);
    else
        snprintf(buf, n, "loaded in %.3f s, first run %.3f s before serving", m->load_s, m->warm_s);
}

/* Loads every file of the store, each read first in a child process with a deadline, as an
 * upload is: a file damaged on disk or planted there on which libhdf5 crashes or loops must not
 * take the edge down or stall its HDF5 lock. A refused file is logged, counted and skipped. */
static int load_store(sl_edge_server *s)
{
    sl_deploy_entry *v;
    size_t n;
    int rc = sl_deploy_store_list(s->store_dir, &v, &n);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        char path[4400];
        if (sl_path_join(path, sizeof path, s->store_dir, v[i].name)) continue;
        model *m = NULL;
        double t0 = sl_now();
        rc = sl_bundle_check_isolated(path, path,
                                      SL_BUNDLE_CHECK_WEIGHTS | SL_BUNDLE_CHECK_HDF5_ONLY,
                                      sl_bundle_check_seconds(v[i].bytes));
        double check_s = sl_now() - t0;
        if (rc == SL_OK) rc = model_load(s, path, v[i].name, &m);
        if (rc) {
            sl_log_warn("stored bundle %s not served: %s", v[i].name, sl_errmsg());
            s->nrefused++;
            continue;
        }
        m->bytes = v[i].bytes;
        pthread_mutex_lock(&s->models_lock);
        int dup = find_model(s, m->pair) >= 0;
        pthread_mutex_unlock(&s->models_lock);
        char old[256];
        if (dup) {
            sl_log_warn("stored bundle %s not served: pair id %s is already served by another "
                        "file",
                        v[i].name, m->pair_hex);
            s->nrefused++;
            model_put(s, m);
        } else if (model_install(s, m, old) < 0) {
            model_put(s, m);
            free(v);
            return SL_ENOMEM;
        } else {
            char took[128];
            describe_load(m, took, sizeof took);
            sl_log_info("serving %s (pair id %s): checked in %.3f s, %s", v[i].name, m->pair_hex,
                        check_s, took);
        }
    }
    free(v);
    return SL_OK;
}

/* ---- clients ---- */

static void client_put(client *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1) return;
    sl_deploy_upload_abort(c->up);
    sl_conn_close(&c->conn);
    free(c);
}

static void send_error(client *c, uint64_t req, const uint8_t *pair, int code, const char *text)
{
    atomic_fetch_add(&c->srv->n_err, 1);
    sl_proto_send_error(&c->conn, req, pair, code, "%s", text);
}

static void send_ok_json(client *c, uint64_t req, const uint8_t *pair, cJSON *j)
{
    char *txt = cJSON_PrintUnformatted(j);
    if (!txt) {
        send_error(c, req, pair, SL_PERR_INTERNAL, "out of memory");
        return;
    }
    sl_proto_send(&c->conn, SL_MSG_OK, 0, req, pair, txt, (uint32_t)strlen(txt));
    free(txt);
}

/* ---- queue and workers ---- */

/* 1: queued; 0: the queue is full (BUSY); -1: the server is stopping (SHUTDOWN). */
static int queue_push(sl_edge_server *s, const job *j)
{
    pthread_mutex_lock(&s->q_lock);
    if (atomic_load(&s->stopping)) {
        pthread_mutex_unlock(&s->q_lock);
        return -1;
    }
    /* An empty queue always takes one request, so a frame under the limit is never refused
     * forever for its size alone. */
    int full = s->q_len == s->cfg.queue_capacity ||
               (s->q_len > 0 && s->q_bytes + j->length > s->cfg.queue_max_bytes);
    if (full) {
        pthread_mutex_unlock(&s->q_lock);
        return 0;
    }
    s->queue[(s->q_head + s->q_len) % s->cfg.queue_capacity] = *j;
    s->q_len++;
    s->q_bytes += j->length;
    pthread_cond_signal(&s->q_cond);
    pthread_mutex_unlock(&s->q_lock);
    return 1;
}

/* Runs j and sends its RESULT or ERROR; returns 1 when a RESULT went out. */
static int run_job(sl_edge_server *s, job *j)
{
    client *c = j->cl;
    double t0 = sl_now();
    sl_wire_tensor in[SL_WIRE_MAX_TENSORS], out;
    memset(&out, 0, sizeof out);
    int nin;
    int rc =
        sl_wire_decode_list(j->payload, j->length, (size_t)s->cfg.max_frame * SL_TENSOR_EXPANSION,
                            in, SL_WIRE_MAX_TENSORS, &nin);
    free(j->payload);
    j->payload = NULL;
    if (rc) {
        char msg[1100];
        snprintf(msg, sizeof msg, "INFER payload: %s", sl_errmsg());
        send_error(c, j->request_id, j->m->pair, SL_PERR_BAD_FRAME, msg);
        return 0;
    }
    /* A model's first run pays what later ones do not (see sl_edge_backend.warm). */
    if (atomic_fetch_add(&j->m->runs, 1) == 0) atomic_fetch_add(&s->n_cold, 1);
    rc = s->be.run(s->be.ctx, j->m->handle, in, nin, &out);
    double t1 = sl_now();
    if (rc) {
        char msg[1400], desc[256] = "";
        size_t w = 0;
        for (int i = 0; i < nin && w < sizeof desc; i++) {
            if (i) desc[w++] = ' ';
            sl_wire_describe(&in[i], desc + w, sizeof desc - w);
            w += strlen(desc + w);
        }
        snprintf(msg, sizeof msg, "bundle %s on input %s: %s", j->m->pair_hex, desc, sl_errmsg());
        send_error(c, j->request_id, j->m->pair, sl_proto_status_err(rc), msg);
    }
    for (int i = 0; i < nin; i++)
        sl_wire_tensor_free(&in[i]);
    if (rc) return 0;
    uint8_t *enc;
    size_t len;
    rc = sl_wire_encode(&out, 0, s->cfg.max_frame - RESULT_HEAD, &enc, &len, NULL);
    sl_wire_tensor_free(&out);
    if (rc) {
        send_error(c, j->request_id, j->m->pair, SL_PERR_INTERNAL, sl_errmsg());
        return 0;
    }
    uint8_t *p = malloc(RESULT_HEAD + len);
    if (!p) {
        free(enc);
        send_error(c, j->request_id, j->m->pair, SL_PERR_INTERNAL, "out of memory");
        return 0;
    }
    sl_le64_put(p, (uint64_t)((t0 - j->t_queued) * 1e9));
    sl_le64_put(p + 8, (uint64_t)((t1 - t0) * 1e9));
    memcpy(p + RESULT_HEAD, enc, len);
    free(enc);
    int sent = sl_proto_send(&c->conn, SL_MSG_RESULT, 0, j->request_id, j->m->pair, p,
                             (uint32_t)(RESULT_HEAD + len)) == SL_OK;
    if (sent) atomic_fetch_add(&s->n_res, 1);
    free(p);
    return sent;
}

/* Adds one answered request of model m to its pair's latency history. */
static void record_latency(sl_edge_server *s, const model *m, double seconds, int ok)
{
    int b = 0;
    if (seconds > LAT_LO) b = (int)ceil(4 * log2(seconds / LAT_LO) - 1e-9);
    if (b < 0) b = 0;
    if (b >= LAT_BUCKETS) b = LAT_BUCKETS - 1;
    pthread_mutex_lock(&s->stats_lock);
    pair_stats *ps = NULL;
    for (int i = 0; i < s->npstats && !ps; i++)
        if (strcmp(s->pstats[i].hex, m->pair_hex) == 0) ps = &s->pstats[i];
    if (!ps && s->npstats < MAX_PAIR_STATS) {
        ps = &s->pstats[s->npstats++];
        snprintf(ps->hex, sizeof ps->hex, "%s", m->pair_hex);
    }
    if (!ps) ps = &s->pstats[MAX_PAIR_STATS];
    ps->count++;
    ps->errors += !ok;
    ps->sum_s += seconds;
    ps->hist[b]++;
    pthread_mutex_unlock(&s->stats_lock);
}

/* A worker's part of model_warm: the backend's warm of s->warm_model on this thread. q_lock held
 * on entry and on return. */
static void worker_warm(sl_edge_server *s, uint64_t *gen)
{
    *gen = s->warm_gen;
    void *handle = s->warm_model;
    pthread_mutex_unlock(&s->q_lock);
    int rc = s->be.warm(s->be.ctx, handle);
    pthread_mutex_lock(&s->q_lock);
    if (rc && !s->warm_rc) {
        s->warm_rc = rc;
        snprintf(s->warm_err, sizeof s->warm_err, "%s", sl_errmsg());
    }
    s->warm_done++;
    pthread_cond_broadcast(&s->warm_cond);
}

static void *worker_main(void *arg)
{
    sl_edge_server *s = arg;
    uint64_t gen = 0; /* the last warm run done here */
    for (;;) {
        pthread_mutex_lock(&s->q_lock);
        /* A warm run is taken before any request and before stopping: its requester waits for
         * every worker, and requests a stopping server no longer queues. */
        while (s->warm_gen != gen || (s->q_len == 0 && !atomic_load(&s->stopping))) {
            if (s->warm_gen != gen)
                worker_warm(s, &gen);
            else
                pthread_cond_wait(&s->q_cond, &s->q_lock);
        }
        if (s->q_len == 0) {
            pthread_mutex_unlock(&s->q_lock);
            return NULL;
        }
        job j = s->queue[s->q_head];
        s->q_head = (s->q_head + 1) % s->cfg.queue_capacity;
        s->q_len--;
        s->q_bytes -= j.length;
        pthread_mutex_unlock(&s->q_lock);
        if (atomic_load(&s->stopping)) {
            send_error(j.cl, j.request_id, j.m->pair, SL_PERR_SHUTDOWN, "edge server stopping");
            free(j.payload);
        } else {
            int ok = run_job(s, &j);
            record_latency(s, j.m, sl_now() - j.t_queued, ok);
        }
        model_put(s, j.m);
        client_put(j.cl);
    }
}

/* ---- control messages ---- */

static void on_infer(client *c, sl_frame *f)
{
    sl_edge_server *s = c->srv;
    atomic_fetch_add(&s->n_req, 1);
    model *m = model_get(s, f->pair_id);
    if (!m) {
        char hex[33], msg[160];
        sl_pair_to_hex(f->pair_id, hex);
        snprintf(msg, sizeof msg, "no bundle with pair id %s is deployed on this edge", hex);
        send_error(c, f->request_id, f->pair_id, SL_PERR_UNKNOWN_PAIR, msg);
        return;
    }
    job j = {c, f->request_id, m, f->payload, f->length, sl_now()};
    atomic_fetch_add(&c->refs, 1);
    int queued = queue_push(s, &j);
    if (queued == 1) {
        f->payload = NULL;
        return;
    }
    atomic_fetch_sub(&c->refs, 1);
    model_put(s, m);
    if (queued < 0) {
        /* not "busy": retrying here would be wasted, the device should reconnect */
        send_error(c, f->request_id, f->pair_id, SL_PERR_SHUTDOWN, "edge server stopping");
        return;
    }
    atomic_fetch_add(&s->n_busy, 1);
    char p[128];
    sl_le32_put((uint8_t *)p, BUSY_RETRY_MS);
    int n = snprintf(p + 4, sizeof p - 4, "edge busy: its queue of %d requests / %llu MiB is full",
                     s->cfg.queue_capacity, (unsigned long long)(s->cfg.queue_max_bytes >> 20));
    sl_proto_send(&c->conn, SL_MSG_BUSY, 0, f->request_id, f->pair_id, p, (uint32_t)(4 + n));
}

static void drop_upload(client *c, uint64_t req, int code, const char *why)
{
    sl_deploy_upload_abort(c->up);
    c->up = NULL;
    c->dropped_request = req;
    c->has_dropped = 1;
    send_error(c, req, NULL, code, why);
}

static void on_deploy_begin(client *c, sl_frame *f)
{
    sl_edge_server *s = c->srv;
    if (c->up) {
        sl_deploy_upload_abort(c->up);
        c->up = NULL;
        send_error(c, c->up_request, NULL, SL_PERR_BAD_STATE,
                   "upload abandoned: a new DEPLOY_BEGIN arrived before DEPLOY_END");
    }
    if (f->length != DEPLOY_BEGIN_SIZE) {
        char msg[96];
        snprintf(msg, sizeof msg, "DEPLOY_BEGIN payload is %u bytes, expected %d", f->length,
                 DEPLOY_BEGIN_SIZE);
        drop_upload(c, f->request_id, SL_PERR_BAD_FRAME, msg);
        return;
    }
    uint64_t size = sl_le64_get(f->payload);
    int rc = sl_deploy_upload_begin(s->store_dir, size, f->payload + 8, s->cfg.max_bundle, &c->up);
    if (rc) {
        drop_upload(c, f->request_id, rc == SL_EARG ? SL_PERR_TOO_LARGE : SL_PERR_INTERNAL,
                    sl_errmsg());
        return;
    }
    c->up_request = f->request_id;
    c->has_dropped = 0;
}

static void on_deploy_chunk(client *c, sl_frame *f)
{
    if (c->has_dropped && f->request_id == c->dropped_request) return;
    if (!c->up || f->request_id != c->up_request) {
        send_error(c, f->request_id, NULL, SL_PERR_BAD_STATE,
                   "DEPLOY_CHUNK without a DEPLOY_BEGIN of the same request id");
        return;
    }
    if (sl_deploy_upload_write(c->up, f->payload, f->length))
        drop_upload(c, f->request_id, SL_PERR_DEPLOY, sl_errmsg());
}

static void on_deploy_end(client *c, sl_frame *f)
{
    sl_edge_server *s = c->srv;
    if (c->has_dropped && f->request_id == c->dropped_request) {
        c->has_dropped = 0;
        return;
    }
    if (!c->up || f->request_id != c->up_request) {
        send_error(c, f->request_id, NULL, SL_PERR_BAD_STATE,
                   "DEPLOY_END without a DEPLOY_BEGIN of the same request id");
        return;
    }
    const char *tmp;
    char msg[1200];
    int rc = sl_deploy_upload_finish(c->up, &tmp);
    if (rc) {
        drop_upload(c, f->request_id, SL_PERR_DEPLOY, sl_errmsg());
        c->has_dropped = 0;
        return;
    }
    uint64_t bytes = sl_deploy_upload_received(c->up);
    model *m;
    rc = model_load(s, tmp, "", &m);
    if (rc) {
        snprintf(msg, sizeof msg, "not a loadable edge bundle: %s", sl_errmsg());
        drop_upload(c, f->request_id, SL_PERR_DEPLOY, msg);
        c->has_dropped = 0;
        return;
    }
    snprintf(m->file, sizeof m->file, "%s.h5", m->pair_hex);
    m->bytes = bytes;
    rc = sl_deploy_upload_commit(c->up, m->file);
    c->up = NULL;
    if (rc) {
        model_put(s, m);
        send_error(c, f->request_id, NULL, SL_PERR_INTERNAL, sl_errmsg());
        return;
    }
    char old_file[256], hex[33], sha[65], took[128];
    snprintf(hex, sizeof hex, "%s", m->pair_hex);
    snprintf(sha, sizeof sha, "%s", m->sha256);
    describe_load(m, took, sizeof took);
    rc = model_install(s, m, old_file);
    if (rc < 0) {
        model_put(s, m);
        send_error(c, f->request_id, NULL, SL_PERR_INTERNAL, sl_errmsg());
        return;
    }
    /* A bundle of the same pair under another name would come back as a duplicate at the next
     * start, so the replaced file goes. */
    if (rc == 1 && old_file[0] && strcmp(old_file, m->file) != 0)
        sl_deploy_store_remove(s->store_dir, old_file);
    atomic_fetch_add(&s->n_deploy, 1);
    sl_log_info("deployed %s.h5 (%llu bytes) from %s: %s", hex, (unsigned long long)bytes,
                c->conn.peer, took);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "pair_id", hex);
    cJSON_AddNumberToObject(j, "bytes", (double)bytes);
    cJSON_AddStringToObject(j, "sha256", sha);
    cJSON_AddBoolToObject(j, "replaced", rc == 1);
    uint8_t pair[SL_PAIR_ID_SIZE];
    sl_pair_from_hex(hex, pair);
    send_ok_json(c, f->request_id, pair, j);
    cJSON_Delete(j);
}

static void on_list(client *c, sl_frame *f)
{
    sl_edge_server *s = c->srv;
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, "bundles");
    pthread_mutex_lock(&s->models_lock);
    for (int i = 0; i < s->nmodels; i++) {
        model *m = s->models[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "pair_id", m->pair_hex);
        cJSON_AddStringToObject(e, "file", m->file);
        cJSON_AddNumberToObject(e, "bytes", (double)m->bytes);
        cJSON_AddStringToObject(e, "sha256", m->sha256);
        cJSON_AddItemToArray(arr, e);
    }
    pthread_mutex_unlock(&s->models_lock);
    send_ok_json(c, f->request_id, NULL, j);
    cJSON_Delete(j);
}

static void on_remove(client *c, sl_frame *f)
{
    sl_edge_server *s = c->srv;
    char hex[33];
    sl_pair_to_hex(f->pair_id, hex);
    model *m = NULL;
    pthread_mutex_lock(&s->models_lock);
    int i = find_model(s, f->pair_id);
    if (i >= 0) {
        m = s->models[i];
        s->models[i] = s->models[--s->nmodels];
    }
    pthread_mutex_unlock(&s->models_lock);
    if (!m) {
        char msg[128];
        snprintf(msg, sizeof msg, "no bundle with pair id %s is deployed", hex);
        send_error(c, f->request_id, f->pair_id, SL_PERR_NOT_FOUND, msg);
        return;
    }
    int rc = sl_deploy_store_remove(s->store_dir, m->file);
    model_put(s, m);
    if (rc && rc != SL_ENOTFOUND) {
        send_error(c, f->request_id, f->pair_id, SL_PERR_INTERNAL, sl_errmsg());
        return;
    }
    sl_log_info("removed bundle %s on request of %s", hex, c->conn.peer);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "removed", hex);
    send_ok_json(c, f->request_id, f->pair_id, j);
    cJSON_Delete(j);
}

static void on_ping(client *c, sl_frame *f)
{
    sl_proto_send(&c->conn, SL_MSG_PONG, 0, f->request_id, f->pair_id, f->payload, f->length);
}

/* An error the device reports: logged; nothing is answered. */
static void on_error(client *c, sl_frame *f)
{
    int code;
    char text[1100];
    if (sl_proto_parse_error(f, &code, text, sizeof text) == SL_OK)
        sl_log_info("%s reports %s: %s", c->conn.peer, sl_proto_err_name(code), text);
}

/* What a device may send once authenticated, each with its handler; any other message type is
 * answered with a BAD_STATE error. */
static void (*const requests[SL_MSG_MAX + 1])(client *, sl_frame *) = {
    [SL_MSG_INFER] = on_infer,
    [SL_MSG_PING] = on_ping,
    [SL_MSG_DEPLOY_BEGIN] = on_deploy_begin,
    [SL_MSG_DEPLOY_CHUNK] = on_deploy_chunk,
    [SL_MSG_DEPLOY_END] = on_deploy_end,
    [SL_MSG_LIST] = on_list,
    [SL_MSG_REMOVE] = on_remove,
    [SL_MSG_ERROR] = on_error,
};

/* ---- per-device reader ---- */

/* Answers an authenticated device that finds max_clients devices connected with BUSY (in place
 * of AUTH_OK); the reader then lingers and closes. */
static void refuse_busy(sl_edge_server *s, client *c)
{
    char p[96];
    sl_le32_put((uint8_t *)p, 1000);
    int n = snprintf(p + 4, sizeof p - 4, "edge busy: %d devices connected already",
                     s->cfg.max_clients);
    sl_proto_send(&c->conn, SL_MSG_BUSY, 0, 0, NULL, p, (uint32_t)(4 + n));
    atomic_fetch_add(&s->n_busy, 1);
}

/* Serves one device until it leaves or misbehaves; returns 1 when it was refused (an ERROR was
 * sent and the connection should close gracefully so the device can read it). */
static int serve(client *c)
{
    sl_edge_server *s = c->srv;
    uint8_t proof[SL_AUTH_MAC_SIZE];
    /* One deadline for the whole handshake: a peer trickling a byte a second must not hold its
     * slot for longer than a device that sends nothing. */
    sl_conn_set_deadline(&c->conn, sl_now() + s->cfg.auth_timeout);
    int rc = sl_auth_server(&c->conn, s->token, s->cfg.token_len, s->cfg.max_frame, proof);
    sl_conn_set_deadline(&c->conn, 0);
    if (rc != SL_OK) {
        pthread_mutex_lock(&s->clients_lock);
        int evicted = c->evicted;
        pthread_mutex_unlock(&s->clients_lock);
        if (evicted) return 0; /* counted once, when it was evicted; no log line per flood peer */
        atomic_fetch_add(&s->n_authfail, 1);
        if (rc == SL_ETIMEOUT)
            sl_log_info("closing %s: handshake not finished within %.3g s", c->conn.peer,
                        s->cfg.auth_timeout);
        else
            sl_log_info("%s", sl_errmsg());
        return rc != SL_ETIMEOUT;
    }
    /* Only authenticated devices count against max_clients, so peers that never authenticate
     * cannot keep a device out. */
    pthread_mutex_lock(&s->clients_lock);
    int admit = c->stage == STAGE_HANDSHAKE && s->nauthed < s->cfg.max_clients;
    if (c->stage == STAGE_HANDSHAKE) s->nunauth--;
    if (admit) s->nauthed++;
    c->stage = admit ? STAGE_DEVICE : STAGE_UNCOUNTED;
    pthread_mutex_unlock(&s->clients_lock);
    if (!admit) {
        refuse_busy(s, c);
        return 1;
    }
    if (sl_auth_server_accept(&c->conn, proof) != SL_OK) return 0;
    sl_conn_set_read_timeout(&c->conn, s->cfg.idle_timeout);
    while (!atomic_load(&s->stopping)) {
        sl_frame f;
        int perr;
        int rc = sl_proto_recv(&c->conn, s->cfg.max_frame, &f, &perr);
        if (rc) {
            if (perr) {
                char why[1100];
                snprintf(why, sizeof why, "%s", sl_errmsg());
                atomic_fetch_add(&s->n_bad, 1);
                send_error(c, f.request_id, NULL, perr, why);
                sl_log_info("closing %s: %s", c->conn.peer, why);
                return 1;
            }
            if (!c->conn.eof && !atomic_load(&s->stopping))
                sl_log_info("closing %s: %s", c->conn.peer, sl_errmsg());
            return 0;
        }
        if (f.type <= SL_MSG_MAX && requests[f.type]) {
            requests[f.type](c, &f);
        } else {
            char msg[96];
            snprintf(msg, sizeof msg, "%s is not a request a device may send here",
                     sl_proto_type_name(f.type));
            send_error(c, f.request_id, f.pair_id, SL_PERR_BAD_STATE, msg);
        }
        sl_frame_free(&f);
    }
    return 0;
}

static void *reader_main(void *arg)
{
    client *c = arg;
    sl_edge_server *s = c->srv;
    /* A refused device gets a graceful close so it can read why, unless queued jobs of its
     * still need to answer on the connection (refs > 1; only this thread adds references). */
    if (serve(c) && atomic_load(&c->refs) == 1) sl_conn_linger(&c->conn, LINGER_S, LINGER_BYTES);
    /* Jobs still queued keep the connection open to send their results; unregister first so
     * sl_edge_stop no longer shuts this socket down. */
    pthread_mutex_lock(&s->clients_lock);
    for (client **pp = &s->clients; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    sl_deploy_upload_abort(c->up);
    c->up = NULL;
    if (c->stage == STAGE_DEVICE) s->nauthed--;
    if (c->stage == STAGE_HANDSHAKE) s->nunauth--;
    client_put(c);
    s->nclients--;
    pthread_cond_broadcast(&s->clients_gone);
    pthread_mutex_unlock(&s->clients_lock);
    return NULL;
}

/* Makes room for a new handshake by dropping the connection that has been in its handshake
 * longest, preferring one that has not yet sent a whole frame (a device sends its HELLO at
 * once; a silent or trickling peer has not): a device completes its handshake in one round
 * trip, so under a flood of peers that never authenticate it is dropped only if max_unauth
 * newer connections arrive first, and no connection is ever refused for lack of room.
 * clients_lock held. */
static void evict_oldest_locked(sl_edge_server *s)
{
    client *oldest = NULL, *oldest_mute = NULL;
    for (client *c = s->clients; c; c = c->next) {
        if (c->stage != STAGE_HANDSHAKE) continue;
        oldest = c;
        if (atomic_load_explicit(&c->conn.frames_in, memory_order_relaxed) == 0) oldest_mute = c;
    }
    if (oldest_mute) oldest = oldest_mute;
    if (!oldest) return;
    oldest->evicted = 1;
    oldest->stage = STAGE_UNCOUNTED;
    s->nunauth--;
    atomic_fetch_add(&s->n_evicted, 1);
    sl_conn_shutdown(&oldest->conn);
}

static void *accept_main(void *arg)
{
    sl_edge_server *s = arg;
    while (!atomic_load(&s->stopping)) {
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (fd < 0) {
            if (atomic_load(&s->stopping)) break;
            /* Out of descriptors or a connection reset before accept: back off briefly. */
            usleep(10000);
            continue;
        }
        atomic_fetch_add(&s->n_conn, 1);
        /* This thread never waits on a peer: every exchange, refusals included, happens on the
         * connection's own reader thread. */
        pthread_mutex_lock(&s->clients_lock);
        if (s->nunauth >= s->cfg.max_unauth) evict_oldest_locked(s);
        /* Evicted readers may not have exited yet (a flood faster than threads end): wait a
         * little for them rather than start threads without bound. */
        double give_up = sl_now() + 1;
        while (s->nclients >= s->cfg.max_clients + 2 * s->cfg.max_unauth &&
               !atomic_load(&s->stopping) && sl_now() < give_up) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 10 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&s->clients_gone, &s->clients_lock, &ts);
        }
        int over = s->nclients >= s->cfg.max_clients + 2 * s->cfg.max_unauth;
        pthread_mutex_unlock(&s->clients_lock);
        if (over) {
            atomic_fetch_add(&s->n_dropped, 1);
            close(fd);
            continue;
        }
        client *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        sl_conn_init(&c->conn, fd, s->cfg.auth_timeout, s->cfg.write_timeout);
        c->srv = s;
        atomic_init(&c->refs, 1);
        pthread_mutex_lock(&s->clients_lock);
        c->next = s->clients;
        s->clients = c;
        s->nclients++;
        s->nunauth++;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t th;
        int e = pthread_create(&th, &attr, reader_main, c);
        pthread_attr_destroy(&attr);
        if (e != 0) {
            s->clients = c->next;
            s->nclients--;
            s->nunauth--;
            client_put(c);
        }
        pthread_mutex_unlock(&s->clients_lock);
    }
    return NULL;
}

static void server_free(sl_edge_server *s)
{
    for (int i = 0; i < s->nmodels; i++)
        model_put(s, s->models[i]);
    free(s->models);
    free(s->queue);
    free(s->workers);
    if (s->token) OPENSSL_cleanse(s->token, s->cfg.token_len);
    free(s->token);
    free(s->store_dir);
    pthread_mutex_destroy(&s->models_lock);
    pthread_mutex_destroy(&s->clients_lock);
    pthread_cond_destroy(&s->clients_gone);
    pthread_mutex_destroy(&s->q_lock);
    pthread_cond_destroy(&s->q_cond);
    pthread_mutex_destroy(&s->warm_lock);
    pthread_cond_destroy(&s->warm_cond);
    pthread_mutex_destroy(&s->stats_lock);
    free(s->pstats);
    free(s);
}

int sl_edge_start(const sl_edge_config *cfg, const sl_edge_backend *backend, sl_edge_server **out)
{
    *out = NULL;
    if (!cfg->store_dir || !*cfg->store_dir) return sl_err(SL_EARG, "edge: no bundle folder given");
    if (!cfg->token || cfg->token_len == 0)
        return sl_err(SL_EARG, "edge: a shared token is required");
    if (cfg->workers < 1 || cfg->queue_capacity < 1 || cfg->max_clients < 1 ||
        cfg->max_unauth < 1 || cfg->max_frame < 4096 || !(cfg->auth_timeout > 0))
        return sl_err(SL_EARG, "edge: workers, queue, clients and handshakes must be >= 1, the "
                               "handshake deadline > 0 and max frame >= 4096 bytes");
    sl_edge_server *s = calloc(1, sizeof *s);
    if (!s) return sl_err(SL_ENOMEM, "edge: out of memory");
    s->cfg = *cfg;
    s->be = *backend;
    s->listen_fd = -1;
    pthread_mutex_init(&s->models_lock, NULL);
    pthread_mutex_init(&s->clients_lock, NULL);
    pthread_cond_init(&s->clients_gone, NULL);
    pthread_mutex_init(&s->q_lock, NULL);
    pthread_cond_init(&s->q_cond, NULL);
    pthread_mutex_init(&s->warm_lock, NULL);
    pthread_cond_init(&s->warm_cond, NULL);
    pthread_mutex_init(&s->stats_lock, NULL);
    s->pstats = calloc(MAX_PAIR_STATS + 1, sizeof *s->pstats);
    s->store_dir = strdup(cfg->store_dir);
    s->token = malloc(cfg->token_len);
    s->queue = calloc((size_t)cfg->queue_capacity, sizeof *s->queue);
    s->workers = calloc((size_t)cfg->workers, sizeof *s->workers);
    if (!s->store_dir || !s->token || !s->queue || !s->workers || !s->pstats) {
        server_free(s);
        return sl_err(SL_ENOMEM, "edge: out of memory");
    }
    memcpy(s->token, cfg->token, cfg->token_len);
    snprintf(s->pstats[MAX_PAIR_STATS].hex, sizeof s->pstats[MAX_PAIR_STATS].hex, "other");
    s->cfg.store_dir = s->store_dir;
    s->cfg.token = s->token;
    /* The workers first: the stored models' warm runs happen on them, before the listen. */
    int rc = sl_deploy_store_init(s->store_dir);
    for (; !rc && s->nworkers < cfg->workers; s->nworkers++)
        if (pthread_create(&s->workers[s->nworkers], NULL, worker_main, s) != 0) break;
    if (!rc && s->nworkers == 0) rc = sl_err(SL_ENOMEM, "cannot start threads");
    if (!rc) rc = load_store(s);
    if (!rc) rc = sl_net_listen(cfg->host, cfg->port, 128, &s->listen_fd, &s->port);
    if (!rc && pthread_create(&s->acceptor, NULL, accept_main, s) != 0)
        rc = sl_err(SL_ENOMEM, "cannot start threads");
    if (rc) {
        atomic_store(&s->stopping, 1);
        pthread_mutex_lock(&s->q_lock);
        pthread_cond_broadcast(&s->q_cond);
        pthread_mutex_unlock(&s->q_lock);
        for (int i = 0; i < s->nworkers; i++)
            pthread_join(s->workers[i], NULL);
        if (s->listen_fd >= 0) close(s->listen_fd);
        server_free(s);
        return sl_err_ctx(rc, "edge: ");
    }
    sl_log_debug("edge listening on port %d with %d bundles", s->port, s->nmodels);
    *out = s;
    return SL_OK;
}

int sl_edge_port(const sl_edge_server *s)
{
    return s->port;
}

void sl_edge_get_stats(sl_edge_server *s, sl_edge_stats *st)
{
    st->connections = atomic_load(&s->n_conn);
    st->auth_failures = atomic_load(&s->n_authfail);
    st->requests = atomic_load(&s->n_req);
    st->results = atomic_load(&s->n_res);
    st->errors = atomic_load(&s->n_err);
    st->busy = atomic_load(&s->n_busy);
    st->bad_frames = atomic_load(&s->n_bad);
    st->deploys = atomic_load(&s->n_deploy);
    st->evicted = atomic_load(&s->n_evicted) + atomic_load(&s->n_dropped);
    st->cold_runs = atomic_load(&s->n_cold);
    st->refused = s->nrefused;
    pthread_mutex_lock(&s->models_lock);
    st->bundles = s->nmodels;
    pthread_mutex_unlock(&s->models_lock);
    pthread_mutex_lock(&s->clients_lock);
    st->clients = s->nauthed;
    st->handshakes = s->nunauth;
    pthread_mutex_unlock(&s->clients_lock);
    pthread_mutex_lock(&s->q_lock);
    st->queued = s->q_len;
    pthread_mutex_unlock(&s->q_lock);
    st->stopping = atomic_load(&s->stopping);
}

int sl_edge_healthy(sl_edge_server *s, char *why, size_t n)
{
    sl_edge_stats st;
    sl_edge_get_stats(s, &st);
    if (st.stopping) {
        snprintf(why, n, "stopping");
        return 0;
    }
    if (st.bundles == 0) {
        snprintf(why, n, "no bundles loaded: nothing to serve");
        return 0;
    }
    snprintf(why, n, "%d bundle(s), queue %d/%d, %d device(s)", st.bundles, st.queued,
             s->cfg.queue_capacity, st.clients);
    return 1;
}

/* The latency below which a fraction q of ps's requests fell (the upper bound of its bucket). */
static double quantile(const pair_stats *ps, double q)
{
    uint64_t want = (uint64_t)ceil(q * (double)ps->count), cum = 0;
    if (want == 0) want = 1;
    for (int b = 0; b < LAT_BUCKETS; b++) {
        cum += ps->hist[b];
        if (cum >= want) return LAT_LO * exp2(b / 4.0);
    }
    return LAT_LO * exp2((LAT_BUCKETS - 1) / 4.0);
}

char *sl_edge_metrics_text(sl_edge_server *s)
{
    sl_edge_stats st;
    sl_edge_get_stats(s, &st);
    static const struct {
        const char *name, *type, *help;
    } meta[] = {
        {"sl_edge_up", "gauge", "1 while the edge serves, 0 once it is stopping"},
        {"sl_edge_connections_total", "counter", "TCP connections accepted"},
        {"sl_edge_requests_total", "counter", "INFER requests received from devices"},
        {"sl_edge_results_total", "counter", "RESULT frames sent"},
        {"sl_edge_errors_total", "counter", "ERROR frames sent (all causes)"},
        {"sl_edge_busy_total", "counter", "BUSY answers (queue or device limit reached)"},
        {"sl_edge_auth_failures_total", "counter", "handshakes refused or not finished"},
        {"sl_edge_bad_frames_total", "counter", "connections closed for a malformed frame"},
        {"sl_edge_deploys_total", "counter", "bundles installed by deploy"},
        {"sl_edge_evicted_total", "counter", "handshaking connections dropped for newer ones"},
        {"sl_edge_cold_runs_total", "counter",
         "requests that were their model's first run (0 unless --no-warm)"},
        {"sl_edge_store_refused", "gauge", "files of the store not served since start"},
        {"sl_edge_queue_length", "gauge", "INFER requests waiting for a worker"},
        {"sl_edge_queue_capacity", "gauge", "queued requests before BUSY"},
        {"sl_edge_workers", "gauge", "worker threads running models"},
        {"sl_edge_devices", "gauge", "authenticated devices connected"},
        {"sl_edge_handshakes", "gauge", "connections in their handshake"},
        {"sl_edge_bundles", "gauge", "bundles loaded"},
    };
    double v[] = {!st.stopping,
                  (double)st.connections,
                  (double)st.requests,
                  (double)st.results,
                  (double)st.errors,
                  (double)st.busy,
                  (double)st.auth_failures,
                  (double)st.bad_frames,
                  (double)st.deploys,
                  (double)st.evicted,
                  (double)st.cold_runs,
                  st.refused,
                  st.queued,
                  s->cfg.queue_capacity,
                  s->nworkers,
                  st.clients,
                  st.handshakes,
                  st.bundles};
    size_t cap = 4096 + (MAX_PAIR_STATS + 1) * 1024, len = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
#define EMIT(...) len += (size_t)snprintf(out + len, cap - len, __VA_ARGS__)
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++)
        EMIT("# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", meta[i].name, meta[i].help, meta[i].name,
             meta[i].type, meta[i].name, v[i]);
    EMIT("# HELP sl_edge_request_seconds queue + run + send time of answered requests, per pair "
         "id, since start\n# TYPE sl_edge_request_seconds summary\n");
    static const double qs[] = {0.5, 0.9, 0.95, 0.99};
    pthread_mutex_lock(&s->stats_lock);
    for (int i = 0; i <= MAX_PAIR_STATS; i++) {
        const pair_stats *ps = &s->pstats[i];
        if (i >= s->npstats && i < MAX_PAIR_STATS) continue;
        if (ps->count == 0) continue;
        for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++)
            EMIT("sl_edge_request_seconds{pair=\"%s\",quantile=\"%g\"} %.6g\n", ps->hex, qs[k],
                 quantile(ps, qs[k]));
        EMIT("sl_edge_request_seconds_sum{pair=\"%s\"} %.9g\n", ps->hex, ps->sum_s);
        EMIT("sl_edge_request_seconds_count{pair=\"%s\"} %llu\n", ps->hex,
             (unsigned long long)ps->count);
    }
    EMIT("# HELP sl_edge_pair_errors_total answered requests of a pair id that ended in ERROR\n"
         "# TYPE sl_edge_pair_errors_total counter\n");
    for (int i = 0; i <= MAX_PAIR_STATS; i++) {
        const pair_stats *ps = &s->pstats[i];
        if ((i >= s->npstats && i < MAX_PAIR_STATS) || ps->count == 0) continue;
        EMIT("sl_edge_pair_errors_total{pair=\"%s\"} %llu\n", ps->hex,
             (unsigned long long)ps->errors);
    }
    pthread_mutex_unlock(&s->stats_lock);
#undef EMIT
    return out;
}

void sl_edge_stop(sl_edge_server *s)
{
    if (!s) return;
    atomic_store(&s->stopping, 1);
    shutdown(s->listen_fd, SHUT_RDWR);
    pthread_join(s->acceptor, NULL);
    close(s->listen_fd);
    pthread_mutex_lock(&s->clients_lock);
    for (client *c = s->clients; c; c = c->next)
        sl_conn_shutdown(&c->conn);
    while (s->nclients > 0)
        pthread_cond_wait(&s->clients_gone, &s->clients_lock);
    pthread_mutex_unlock(&s->clients_lock);
    pthread_mutex_lock(&s->q_lock);
    pthread_cond_broadcast(&s->q_cond);
    pthread_mutex_unlock(&s->q_lock);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    server_free(s);
}
