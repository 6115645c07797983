/* client.c: request ids, a reader thread matching answers, reconnect with backoff. */
#include "offloader/client.h"
#include "offloader/auth.h"
#include "offloader/net.h"
#include "offloader/sha256.h"
#include "common/cpuquota.h"
#include "common/status.h"
#include "common/timeutil.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define RESULT_HEAD 16
#define DEPLOY_CHUNK_SIZE (1u << 20)

enum { KIND_INFER, KIND_CONTROL };

typedef struct pending {
    uint64_t id;
    int kind;
    int done;
    uint64_t gen; /* connection it was sent on; 0 = not sent yet */
    double t_submit, t_send, avail_at;
    sl_client_result res; /* KIND_INFER */
    sl_frame reply;       /* KIND_CONTROL: the answer frame */
    /* KIND_INFER: the encoded request, kept until the answer so that a request whose
     * connection broke before its answer can be sent again (inference is idempotent). */
    uint8_t *payload;
    uint32_t length;
    uint8_t pair[SL_PAIR_ID_SIZE];
    int lost;    /* failed with its connection (or the edge said SHUTDOWN): may be resent */
    int resends; /* times sent again after that */
    int sends;   /* times it went out on a connection */
    int claimed; /* a sl_client_wait call owns it: no other waiter may take (and free) it */
    struct pending *next;
} pending;

struct sl_client {
    sl_client_config cfg;
    char *host;
    uint8_t *token;
    sl_hostport addrs[SL_NET_MAX_ADDRS]; /* the edges, in the order to try them */
    int naddr;
    int cur;              /* connect_lock: the edge connected to, or tried last */
    char conn_addr[272];  /* lock: "HOST:PORT" of addrs[cur] */
    pthread_mutex_t lock; /* everything below except conn's socket I/O */
    pthread_cond_t cond;
    pthread_mutex_t connect_lock;
    sl_conn conn;
    int connected, have_reader;
    pthread_t reader;
    uint64_t gen;
    uint32_t server_max_frame;
    pending *list;
    int inflight;
    int senders; /* threads writing on conn; closing it waits for them */
    uint64_t next_id;
    char conn_error[1200]; /* what the edge said before it closed, if anything */
    double lost_at;        /* when a working connection broke; 0 once reconnected */
    int closing;           /* sl_client_free is closing the connection on purpose */
};

void sl_client_config_defaults(sl_client_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->connect_timeout = 5;
    cfg->connect_attempts = 5;
    cfg->backoff_base = 0.1;
    cfg->backoff_max = 2;
    cfg->io_timeout = 30;
    cfg->request_timeout = 120;
    cfg->max_inflight = 1;
    cfg->max_frame = SL_PROTO_DEFAULT_MAX_FRAME;
    cfg->zstd_level = 3;
    cfg->busy_retries = 3;
    cfg->lost_retries = 2;
    cfg->reconnect_window = 15;
}

int sl_client_new(const sl_client_config *cfg, sl_client **out)
{
    *out = NULL;
    sl_hostport addrs[SL_NET_MAX_ADDRS];
    int naddr = 1;
    if (cfg->edges) {
        int rc = sl_net_hostport_list(cfg->edges, addrs, SL_NET_MAX_ADDRS, &naddr);
        if (rc != SL_OK) return sl_err_ctx(rc, "device: edges: ");
        for (int i = 0; i < naddr; i++)
            if (addrs[i].port <= 0 || !addrs[i].host[0])
                return sl_err(SL_EARG, "device: edge address \"%s:%d\" is not usable",
                              addrs[i].host, addrs[i].port);
    } else if (!cfg->host || !*cfg->host || cfg->port <= 0 || cfg->port > 65535 ||
               strlen(cfg->host) >= sizeof addrs[0].host) {
        return sl_err(SL_EARG, "device: edge address \"%s:%d\" is not usable",
                      cfg->host ? cfg->host : "", cfg->port);
    } else {
        snprintf(addrs[0].host, sizeof addrs[0].host, "%s", cfg->host);
        addrs[0].port = cfg->port;
    }
    if (!cfg->token || !cfg->token_len)
        return sl_err(SL_EARG, "device: a shared token is required");
    if (cfg->max_inflight < 1) return sl_err(SL_EARG, "device: max in-flight must be >= 1");
    if (!(cfg->reconnect_window >= 0))
        return sl_err(SL_EARG, "device: the reconnect window must be >= 0 s, not %g",
                      cfg->reconnect_window);
    sl_client *c = calloc(1, sizeof *c);
    if (!c) return sl_err(SL_ENOMEM, "device: out of memory");
    c->cfg = *cfg;
    memcpy(c->addrs, addrs, sizeof addrs);
    c->naddr = naddr;
    c->host = strdup(addrs[0].host);
    c->token = malloc(cfg->token_len);
    if (!c->host || !c->token) {
        free(c->host);
        free(c->token);
        free(c);
        return sl_err(SL_ENOMEM, "device: out of memory");
    }
    memcpy(c->token, cfg->token, cfg->token_len);
    c->cfg.host = c->host;
    c->cfg.port = addrs[0].port;
    c->cfg.edges = NULL;
    c->cfg.token = c->token;
    snprintf(c->conn_addr, sizeof c->conn_addr, "%s:%d", addrs[0].host, addrs[0].port);
    c->conn.fd = -1;
    c->next_id = 1;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    pthread_mutex_init(&c->connect_lock, NULL);
    *out = c;
    return SL_OK;
}

int sl_client_new_at(const char *edge, const char *token_file, const sl_client_config *base,
                     sl_client **out)
{
    *out = NULL;
    sl_hostport addrs[SL_NET_MAX_ADDRS];
    int naddr;
    int rc = sl_net_hostport_list(edge, addrs, SL_NET_MAX_ADDRS, &naddr);
    if (rc != SL_OK) return rc;
    char *token;
    size_t tlen;
    if ((rc = sl_auth_token_load(token_file, &token, &tlen)) != SL_OK) return rc;
    sl_client_config cfg;
    if (base)
        cfg = *base;
    else
        sl_client_config_defaults(&cfg);
    cfg.host = addrs[0].host;
    cfg.port = addrs[0].port;
    cfg.edges = naddr > 1 ? edge : NULL;
    cfg.token = token;
    cfg.token_len = tlen;
    rc = sl_client_new(&cfg, out);
    free(token);
    return rc;
}

/* ---- results ---- */

void sl_client_result_free(sl_client_result *r)
{
    if (!r) return;
    sl_wire_tensor_free(&r->output);
    memset(r, 0, sizeof *r);
}

/* Marks p done with an error; c->lock held. */
static void fail_locked(sl_client *c, pending *p, int status, const char *msg)
{
    if (p->done) return;
    p->done = 1;
    p->avail_at = sl_now();
    p->res.status = status;
    snprintf(p->res.error, sizeof p->res.error, "%s", msg);
    p->res.timing.total_s = p->avail_at - p->t_submit;
    if (p->kind == KIND_INFER && p->gen) c->inflight--;
    pthread_cond_broadcast(&c->cond);
}

static pending *find_locked(sl_client *c, uint64_t id)
{
    for (pending *p = c->list; p; p = p->next)
        if (p->id == id) return p;
    return NULL;
}

static void unlink_locked(sl_client *c, pending *p)
{
    for (pending **pp = &c->list; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            return;
        }
    }
}

static pending *new_pending_locked(sl_client *c, int kind)
{
    pending *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->id = c->next_id++;
    p->kind = kind;
    p->t_submit = sl_now();
    p->res.request_id = p->id;
    p->next = c->list;
    c->list = p;
    return p;
}

/* ---- the reader ---- */

/* Fills p's result from an INFER answer; c->lock held. Takes f's payload when kept. */
static void answer_infer_locked(pending *p, sl_frame *f, sl_wire_tensor *decoded, int decode_rc,
                                const char *decode_msg, double release)
{
    sl_client_result *r = &p->res;
    r->timing.bytes_down = SL_PROTO_HEADER_SIZE + (uint64_t)f->length;
    if (f->type == SL_MSG_RESULT && decode_rc == SL_OK) {
        r->status = SL_OK;
        r->output = *decoded;
        memset(decoded, 0, sizeof *decoded);
        r->timing.edge_queue_s = (double)sl_le64_get(f->payload) * 1e-9;
        r->timing.edge_s = (double)sl_le64_get(f->payload + 8) * 1e-9;
    } else if (f->type == SL_MSG_RESULT) {
        r->status = SL_EFORMAT;
        snprintf(r->error, sizeof r->error, "RESULT from the edge: %s", decode_msg);
    } else if (f->type == SL_MSG_ERROR || f->type == SL_MSG_BUSY) {
        int code = SL_PERR_INTERNAL;
        char text[1100] = "";
        if (f->type == SL_MSG_ERROR) {
            sl_proto_parse_error(f, &code, text, sizeof text);
            r->edge_code = code;
            r->status = sl_proto_err_status(code);
            /* The edge is stopping and did not run it: as good as lost with the connection. */
            p->lost = code == SL_PERR_SHUTDOWN;
        } else {
            r->status = SL_EBUSY;
            r->retry_after_s = f->length >= 4 ? sl_le32_get(f->payload) * 1e-3 : 0;
            if (f->length > 4) sl_proto_escape(f->payload + 4, f->length - 4, text, sizeof text);
        }
        snprintf(r->error, sizeof r->error, "edge: %s: %s",
                 f->type == SL_MSG_BUSY ? "busy" : sl_proto_err_name(code), text);
    } else {
        r->status = SL_EFORMAT;
        snprintf(r->error, sizeof r->error, "edge answered request %llu with %s",
                 (unsigned long long)p->id, sl_proto_type_name(f->type));
    }
    double edge = r->timing.edge_queue_s + r->timing.edge_s;
    r->timing.transfer_s = release - p->t_send - edge;
    if (r->timing.transfer_s < 0) r->timing.transfer_s = 0;
    r->timing.total_s = release - p->t_submit;
}

static void *reader_main(void *arg)
{
    sl_client *c = arg;
    uint64_t gen;
    pthread_mutex_lock(&c->lock);
    gen = c->gen;
    pthread_mutex_unlock(&c->lock);
    for (;;) {
        sl_frame f;
        int rc = sl_proto_recv(&c->conn, c->cfg.max_frame, &f, NULL);
        double t_read = sl_now();
        if (rc) {
            char why[600], msg[1200];
            snprintf(why, sizeof why, "%s", sl_errmsg());
            pthread_mutex_lock(&c->lock);
            if (c->connected && !c->closing) c->lost_at = t_read;
            c->connected = 0;
            for (pending *p = c->list; p; p = p->next) {
                if (p->done || p->gen != gen) continue;
                p->lost = 1;
                snprintf(msg, sizeof msg,
                         "connection to %.270s lost before the answer to request %llu: %.800s",
                         c->conn_addr, (unsigned long long)p->id,
                         c->conn_error[0] ? c->conn_error : why);
                fail_locked(c, p, rc == SL_ETIMEOUT ? SL_ETIMEOUT : SL_ENET, msg);
            }
            pthread_cond_broadcast(&c->cond);
            pthread_mutex_unlock(&c->lock);
            return NULL;
        }
        sl_wire_tensor out;
        memset(&out, 0, sizeof out);
        int drc = SL_OK;
        char dmsg[1100] = "";
        if (f.type == SL_MSG_RESULT) {
            drc = f.length < RESULT_HEAD
                      ? sl_err(SL_EFORMAT, "RESULT of %u bytes is shorter than its head", f.length)
                      : sl_wire_decode(f.payload + RESULT_HEAD, f.length - RESULT_HEAD,
                                       (size_t)c->cfg.max_frame * SL_TENSOR_EXPANSION, &out);
            if (drc) snprintf(dmsg, sizeof dmsg, "%s", sl_errmsg());
        }
        double release =
            sl_shaper_recv_release(c->cfg.shaper, SL_PROTO_HEADER_SIZE + f.length, t_read);
        pthread_mutex_lock(&c->lock);
        pending *p = f.request_id ? find_locked(c, f.request_id) : NULL;
        if (p && !p->done) {
            if (p->kind == KIND_INFER) {
                answer_infer_locked(p, &f, &out, drc, dmsg, release);
                snprintf(p->res.timing.edge, sizeof p->res.timing.edge, "%s", c->conn_addr);
                if (p->gen) c->inflight--;
            } else {
                p->reply = f;
                memset(&f, 0, sizeof f);
            }
            p->done = 1;
            p->avail_at = release;
            pthread_cond_broadcast(&c->cond);
        } else if (!f.request_id && (f.type == SL_MSG_ERROR || f.type == SL_MSG_BUSY)) {
            /* Connection-level refusal; the edge closes next and this text explains why. */
            int code = 0;
            char text[1100] = "";
            if (f.type == SL_MSG_ERROR)
                sl_proto_parse_error(&f, &code, text, sizeof text);
            else if (f.length > 4)
                sl_proto_escape(f.payload + 4, f.length - 4, text, sizeof text);
            snprintf(c->conn_error, sizeof c->conn_error, "edge said: %s: %s",
                     f.type == SL_MSG_BUSY ? "busy" : sl_proto_err_name(code), text);
        }
        pthread_mutex_unlock(&c->lock);
        sl_wire_tensor_free(&out);
        sl_frame_free(&f);
    }
}

/* ---- connection ---- */

/* Closes a dead connection and joins its reader; connect_lock held. */
static void drop_connection(sl_client *c)
{
    if (c->have_reader) {
        sl_conn_shutdown(&c->conn);
        pthread_join(c->reader, NULL);
        c->have_reader = 0;
    }
    pthread_mutex_lock(&c->lock);
    while (c->senders > 0)
        pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
    sl_conn_close(&c->conn);
    c->conn.fd = -1;
}

/* Connects to edge i and authenticates; SL_OK with c->conn ready, else the error with nothing
 * left open. connect_lock held. */
static int open_edge(sl_client *c, int i)
{
    int fd;
    int rc = sl_net_connect(c->addrs[i].host, c->addrs[i].port, c->cfg.connect_timeout, &fd);
    if (rc != SL_OK) return rc;
    sl_conn_init(&c->conn, fd, c->cfg.io_timeout, c->cfg.io_timeout);
    c->conn.shaper = c->cfg.shaper;
    rc = sl_auth_client(&c->conn, c->token, c->cfg.token_len, c->cfg.max_frame,
                        &c->server_max_frame);
    if (rc != SL_OK) {
        sl_conn_close(&c->conn);
        c->conn.fd = -1;
    }
    return rc;
}

/* Tries every edge once, starting at `first`: SL_OK with c->cur the edge connected to, or the
 * last error. *retry says whether an edge failed in a way worth trying again (unreachable or
 * out of time, not a refused token). connect_lock held. */
static int open_round(sl_client *c, int first, int *retry)
{
    int rc = SL_ENET;
    *retry = 0;
    for (int k = 0; k < c->naddr; k++) {
        int i = (first + k) % c->naddr;
        c->cur = i;
        pthread_mutex_lock(&c->lock);
        snprintf(c->conn_addr, sizeof c->conn_addr, "%s:%d", c->addrs[i].host, c->addrs[i].port);
        pthread_mutex_unlock(&c->lock);
        rc = open_edge(c, i);
        if (rc == SL_OK) return rc;
        *retry |= rc == SL_ENET || rc == SL_ETIMEOUT;
    }
    return rc;
}

int sl_client_connect(sl_client *c)
{
    pthread_mutex_lock(&c->connect_lock);
    pthread_mutex_lock(&c->lock);
    int up = c->connected;
    /* After a loss, the next edge first: the one that failed is most likely down. */
    int first = c->lost_at > 0 ? (c->cur + 1) % c->naddr : c->cur;
    double until = c->lost_at > 0 ? c->lost_at + c->cfg.reconnect_window : 0;
    pthread_mutex_unlock(&c->lock);
    if (up) {
        pthread_mutex_unlock(&c->connect_lock);
        return SL_OK;
    }
    drop_connection(c);
    int attempts = c->cfg.connect_attempts > 0 ? c->cfg.connect_attempts : 1, retry = 1;
    double delay = c->cfg.backoff_base;
    int rc = SL_ENET;
    for (int a = 0; a < attempts && retry; a++) {
        if (a > 0) {
            double jitter = 0.8 + 0.4 * ((double)rand() / RAND_MAX);
            sl_shaper_sleep_until(sl_now() + delay * jitter);
            delay = delay * 2 > c->cfg.backoff_max ? c->cfg.backoff_max : delay * 2;
        }
        rc = open_round(c, first, &retry);
    }
    if (rc != SL_OK && retry)
        rc = c->naddr > 1 ? sl_err_ctx(rc, "after %d attempts at each of %d edges (the last: %s): ",
                                       attempts, c->naddr, c->conn_addr)
                          : sl_err_ctx(rc, "after %d attempts: ", attempts);
    /* An edge that was up a moment ago is most likely restarting (and loading its bundles):
     * keep trying, every backoff_max, until reconnect_window after the loss. */
    while (rc != SL_OK && retry && sl_now() < until) {
        double next = sl_now() + c->cfg.backoff_max;
        sl_shaper_sleep_until(next < until ? next : until);
        rc = open_round(c, first, &retry);
        if (rc != SL_OK && sl_now() >= until)
            rc = sl_err_ctx(rc,
                            "for %.3g s since the connection was lost: ", c->cfg.reconnect_window);
    }
    if (rc == SL_OK) {
        /* Answers may take as long as the edge needs; waiters enforce request_timeout. */
        sl_conn_set_read_timeout(&c->conn, 0);
        pthread_mutex_lock(&c->lock);
        c->gen++;
        c->connected = 1;
        c->lost_at = 0;
        c->conn_error[0] = '\0';
        pthread_mutex_unlock(&c->lock);
        if (pthread_create(&c->reader, NULL, reader_main, c) != 0) {
            pthread_mutex_lock(&c->lock);
            c->connected = 0;
            pthread_mutex_unlock(&c->lock);
            sl_conn_close(&c->conn);
            c->conn.fd = -1;
            rc = sl_err(SL_ENOMEM, "device: cannot start the reader thread");
        } else {
            c->have_reader = 1;
        }
    }
    pthread_mutex_unlock(&c->connect_lock);
    return rc;
}

const char *sl_client_edge(sl_client *c)
{
    return c->conn_addr;
}

void sl_client_free(sl_client *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->connect_lock);
    pthread_mutex_lock(&c->lock);
    c->closing = 1;
    pthread_mutex_unlock(&c->lock);
    drop_connection(c);
    pthread_mutex_unlock(&c->connect_lock);
    while (c->list) {
        pending *p = c->list;
        c->list = p->next;
        sl_client_result_free(&p->res);
        sl_frame_free(&p->reply);
        free(p->payload);
        free(p);
    }
    OPENSSL_cleanse(c->token, c->cfg.token_len);
    free(c->token);
    free(c->host);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->connect_lock);
    free(c);
}

/* Connects if needed and sends one frame for p (registering it as sent on this connection).
 * On failure p is failed with the error, which is also returned. */
static int send_for(sl_client *c, pending *p, int type, const uint8_t *pair, const void *payload,
                    uint32_t length)
{
    int rc = sl_client_connect(c);
    if (rc) {
        char msg[1200];
        snprintf(msg, sizeof msg, "edge unreachable: %s", sl_errmsg());
        pthread_mutex_lock(&c->lock);
        fail_locked(c, p, rc, msg);
        pthread_mutex_unlock(&c->lock);
        return sl_err(rc, "%s", msg);
    }
    pthread_mutex_lock(&c->lock);
    if (!c->connected) {
        /* Lost between connecting and here: the reader has already failed its requests and
         * would never see this one. */
        int resend = p->kind == KIND_INFER && p->payload && p->resends < c->cfg.lost_retries;
        p->lost = p->kind == KIND_INFER;
        fail_locked(c, p, SL_ENET, "connection to the edge lost before the request was sent");
        pthread_mutex_unlock(&c->lock);
        return resend ? SL_OK
                      : sl_err(SL_ENET, "connection to the edge lost before request %llu was sent",
                               (unsigned long long)p->id);
    }
    if (!p->gen) {
        p->gen = c->gen;
        p->t_send = sl_now();
        p->sends++;
        if (p->kind == KIND_INFER) c->inflight++;
    }
    c->senders++;
    pthread_mutex_unlock(&c->lock);
    rc = sl_proto_send(&c->conn, type, 0, p->id, pair, payload, length);
    if (rc) sl_conn_shutdown(&c->conn); /* the reader then notices at once */
    pthread_mutex_lock(&c->lock);
    c->senders--;
    pthread_cond_broadcast(&c->cond);
    if (rc) {
        char msg[1200];
        snprintf(msg, sizeof msg, "sending request %llu: %s", (unsigned long long)p->id,
                 sl_errmsg());
        /* The next request must not find the dead connection still marked up. */
        if (c->connected) c->lost_at = sl_now();
        c->connected = 0;
        int resend = p->kind == KIND_INFER && p->payload && p->resends < c->cfg.lost_retries;
        p->lost = p->kind == KIND_INFER;
        fail_locked(c, p, rc, msg);
        pthread_mutex_unlock(&c->lock);
        /* The connection broke, not the request: sl_client_wait sends it again. */
        return resend ? SL_OK : sl_err(rc, "%s", msg);
    }
    pthread_mutex_unlock(&c->lock);
    return SL_OK;
}

/* Sends a further frame of p's request (deploy chunks) on the connection p went out on. */
static int send_more(sl_client *c, pending *p, int type, const void *payload, uint32_t length)
{
    pthread_mutex_lock(&c->lock);
    if (!c->connected || p->gen != c->gen) {
        pthread_mutex_unlock(&c->lock);
        return sl_err(SL_ENET, "connection to the edge lost during request %llu",
                      (unsigned long long)p->id);
    }
    c->senders++;
    pthread_mutex_unlock(&c->lock);
    int rc = sl_proto_send(&c->conn, type, 0, p->id, NULL, payload, length);
    if (rc) sl_conn_shutdown(&c->conn);
    pthread_mutex_lock(&c->lock);
    c->senders--;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* ---- requests ---- */

static void deadline_ts(double t, struct timespec *ts)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double wall = (double)now.tv_sec + (double)now.tv_nsec * 1e-9 + (t - sl_now());
    ts->tv_sec = (time_t)wall;
    ts->tv_nsec = (long)((wall - (double)ts->tv_sec) * 1e9);
}

int sl_client_submit(sl_client *c, const uint8_t pair[SL_PAIR_ID_SIZE], const sl_wire_tensor *in,
                     uint64_t *request_id)
{
    return sl_client_submit_n(c, pair, in, 1, request_id);
}

int sl_client_submit_n(sl_client *c, const uint8_t pair[SL_PAIR_ID_SIZE], const sl_wire_tensor *in,
                       int nin, uint64_t *request_id)
{
    pthread_mutex_lock(&c->lock);
    pending *p = new_pending_locked(c, KIND_INFER);
    pthread_mutex_unlock(&c->lock);
    if (!p) return sl_err(SL_ENOMEM, "device: out of memory for a request");
    if (request_id) *request_id = p->id;
    /* The device's codec work, slowed as a --cpu device's (common/cpuquota.h). */
    sl_slow_span span;
    sl_slow_begin(&span);
    uint8_t *payload;
    size_t len;
    int compressed;
    int rc = sl_wire_encode_list(in, nin, c->cfg.zstd_level, c->cfg.max_frame, &payload, &len,
                                 &compressed);
    double encode_s = sl_slow_end(&span);
    pthread_mutex_lock(&c->lock);
    p->res.timing.encode_s = encode_s;
    p->res.timing.compressed = compressed;
    if (rc) {
        char msg[1200];
        snprintf(msg, sizeof msg, "encoding the tensor: %s", sl_errmsg());
        fail_locked(c, p, rc, msg);
        pthread_mutex_unlock(&c->lock);
        return sl_err(rc, "%s", msg);
    }
    p->res.timing.bytes_up = SL_PROTO_HEADER_SIZE + len;
    double deadline = p->t_submit + c->cfg.request_timeout;
    while (c->inflight >= c->cfg.max_inflight && sl_now() < deadline) {
        struct timespec ts;
        deadline_ts(deadline, &ts);
        pthread_cond_timedwait(&c->cond, &c->lock, &ts);
    }
    if (c->inflight >= c->cfg.max_inflight) {
        fail_locked(c, p, SL_ETIMEOUT, "no free in-flight slot within the request timeout");
        pthread_mutex_unlock(&c->lock);
        free(payload);
        return sl_err(SL_ETIMEOUT, "device: no free in-flight slot within the request timeout");
    }
    p->payload = payload;
    p->length = (uint32_t)len;
    memcpy(p->pair, pair, SL_PAIR_ID_SIZE);
    pthread_mutex_unlock(&c->lock);
    return send_for(c, p, SL_MSG_INFER, pair, payload, (uint32_t)len);
}

/* Sends a lost request again (see pending.lost), reconnecting first; c->lock held, released
 * during the send. */
static void resend_locked(sl_client *c, pending *p)
{
    p->resends++;
    p->done = 0;
    p->lost = 0;
    p->gen = 0;
    p->res.status = SL_OK;
    p->res.edge_code = 0;
    p->res.error[0] = '\0';
    p->res.retry_after_s = 0;
    pthread_mutex_unlock(&c->lock);
    send_for(c, p, SL_MSG_INFER, p->pair, p->payload, p->length);
    pthread_mutex_lock(&c->lock);
}

/* Waits until p is done and its release time has come, or its deadline passes (then it is
 * failed with SL_ETIMEOUT); a request lost with its connection is sent again up to
 * cfg.lost_retries times within its deadline. c->lock held. */
static void wait_done_locked(sl_client *c, pending *p)
{
    double deadline = p->t_submit + c->cfg.request_timeout;
    for (;;) {
        double now = sl_now();
        if (p->done && p->lost && p->kind == KIND_INFER && p->payload &&
            p->resends < c->cfg.lost_retries && now < deadline) {
            resend_locked(c, p);
            continue;
        }
        if (p->done && now >= p->avail_at) {
            if (p->res.status != SL_OK && p->resends > 0) {
                size_t l = strlen(p->res.error);
                snprintf(p->res.error + l, sizeof p->res.error - l,
                         " (the request went out %d time(s); each time its connection was lost "
                         "before the answer)",
                         p->sends);
            }
            return;
        }
        if (!p->done && now >= deadline) {
            char msg[160];
            snprintf(msg, sizeof msg, "no answer to request %llu within %.3g s",
                     (unsigned long long)p->id, c->cfg.request_timeout);
            fail_locked(c, p, SL_ETIMEOUT, msg);
            return;
        }
        struct timespec ts;
        deadline_ts(p->done ? p->avail_at : deadline, &ts);
        pthread_cond_timedwait(&c->cond, &c->lock, &ts);
    }
}

int sl_client_wait(sl_client *c, uint64_t request_id, sl_client_result *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&c->lock);
    pending *p = NULL;
    if (request_id) {
        p = find_locked(c, request_id);
        if (p && (p->kind != KIND_INFER || p->claimed)) p = NULL;
    } else {
        /* The next answer to come: the done one released first, else wait for any change. */
        for (;;) {
            pending *best = NULL, *any = NULL;
            for (pending *q = c->list; q; q = q->next) {
                if (q->kind != KIND_INFER || q->claimed) continue;
                any = q;
                if (q->done && (!best || q->avail_at < best->avail_at)) best = q;
            }
            if (best || !any) {
                p = best;
                break;
            }
            double soonest = 1e300;
            for (pending *q = c->list; q; q = q->next)
                if (q->kind == KIND_INFER && !q->claimed &&
                    q->t_submit + c->cfg.request_timeout < soonest)
                    soonest = q->t_submit + c->cfg.request_timeout;
            if (sl_now() >= soonest) {
                for (pending *q = c->list; q; q = q->next)
                    if (q->kind == KIND_INFER && !q->claimed &&
                        q->t_submit + c->cfg.request_timeout <= soonest)
                        p = q;
                break;
            }
            struct timespec ts;
            deadline_ts(soonest, &ts);
            pthread_cond_timedwait(&c->cond, &c->lock, &ts);
        }
    }
    if (!p) {
        pthread_mutex_unlock(&c->lock);
        if (request_id)
            return sl_err(SL_ENOTFOUND, "device: no unclaimed request %llu",
                          (unsigned long long)request_id);
        return sl_err(SL_ENOTFOUND, "device: no request is waiting for a result");
    }
    /* Waiting may drop the lock (a resend): claim p first so that a concurrent "next answer"
     * waiter cannot take the same request and free it under us. */
    p->claimed = 1;
    wait_done_locked(c, p);
    unlink_locked(c, p);
    pthread_mutex_unlock(&c->lock);
    *out = p->res;
    free(p->payload);
    free(p);
    return SL_OK;
}

int sl_client_infer(sl_client *c, const uint8_t pair[SL_PAIR_ID_SIZE], const sl_wire_tensor *in,
                    sl_client_result *out)
{
    for (int attempt = 0;; attempt++) {
        uint64_t id;
        sl_client_submit(c, pair, in, &id);
        int rc = sl_client_wait(c, id, out);
        if (rc) return rc;
        if (out->status != SL_EBUSY || attempt >= c->cfg.busy_retries) return out->status;
        double delay = out->retry_after_s > 0 ? out->retry_after_s : 0.01;
        sl_client_result_free(out);
        sl_shaper_sleep_until(sl_now() + delay);
    }
}

int sl_client_pending(sl_client *c)
{
    int n = 0;
    pthread_mutex_lock(&c->lock);
    for (pending *p = c->list; p; p = p->next)
        n += p->kind == KIND_INFER;
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* ---- control requests ---- */

static pending *control_begin(sl_client *c)
{
    pthread_mutex_lock(&c->lock);
    pending *p = new_pending_locked(c, KIND_CONTROL);
    pthread_mutex_unlock(&c->lock);
    if (!p) sl_err(SL_ENOMEM, "device: out of memory for a request");
    return p;
}

/* Waits for a control answer of type `want`; returns SL_OK with the frame left in p->reply, or
 * the error. Frees p on error. */
static int control_finish(sl_client *c, pending *p, int want, const char *what)
{
    pthread_mutex_lock(&c->lock);
    /* Waiting may drop the lock (a resend): claim p first so that a concurrent "next answer"
     * waiter cannot take the same request and free it under us. */
    p->claimed = 1;
    wait_done_locked(c, p);
    unlink_locked(c, p);
    pthread_mutex_unlock(&c->lock);
    int rc = SL_OK;
    if (p->res.status) {
        rc = sl_err(p->res.status, "%s: %s", what, p->res.error);
    } else if (p->reply.type == SL_MSG_ERROR) {
        int code;
        char text[1100];
        sl_proto_parse_error(&p->reply, &code, text, sizeof text);
        rc = sl_err(sl_proto_err_status(code), "%s: edge: %s: %s", what, sl_proto_err_name(code),
                    text);
    } else if (p->reply.type != want) {
        rc = sl_err(SL_EFORMAT, "%s: edge answered %s instead of %s", what,
                    sl_proto_type_name(p->reply.type), sl_proto_type_name(want));
    }
    if (rc) {
        sl_frame_free(&p->reply);
        free(p);
    }
    return rc;
}

/* One small control request: sends `type` (with `pair` and `length` bytes of `payload`) and
 * waits for an answer of type `want`. On SL_OK *out is the request with the answer in
 * (*out)->reply, freed with control_done; otherwise the error, with nothing to free. */
static int control_call(sl_client *c, int type, const uint8_t *pair, const void *payload,
                        uint32_t length, int want, const char *what, pending **out)
{
    pending *p = *out = control_begin(c);
    if (!p) return SL_ENOMEM;
    send_for(c, p, type, pair, payload, length);
    int rc = control_finish(c, p, want, what);
    if (rc) *out = NULL;
    return rc;
}

static void control_done(pending *p)
{
    sl_frame_free(&p->reply);
    free(p);
}

static char *reply_text(const sl_frame *f)
{
    char *s = malloc((size_t)f->length + 1);
    if (!s) return NULL;
    if (f->length) memcpy(s, f->payload, f->length);
    s[f->length] = '\0';
    return s;
}

int sl_client_ping(sl_client *c, double *rtt_s)
{
    pending *p;
    int rc = control_call(c, SL_MSG_PING, NULL, "ping", 4, SL_MSG_PONG, "ping", &p);
    if (rc) return rc;
    if (rtt_s) *rtt_s = p->avail_at - p->t_send;
    control_done(p);
    return SL_OK;
}

int sl_client_list(sl_client *c, char **json)
{
    *json = NULL;
    pending *p;
    int rc = control_call(c, SL_MSG_LIST, NULL, NULL, 0, SL_MSG_OK, "list", &p);
    if (rc) return rc;
    *json = reply_text(&p->reply);
    control_done(p);
    return *json ? SL_OK : sl_err(SL_ENOMEM, "list: out of memory");
}

int sl_client_remove(sl_client *c, const uint8_t pair[SL_PAIR_ID_SIZE])
{
    pending *p;
    int rc = control_call(c, SL_MSG_REMOVE, pair, NULL, 0, SL_MSG_OK, "remove", &p);
    if (rc) return rc;
    control_done(p);
    return SL_OK;
}

int sl_client_deploy(sl_client *c, const char *path, char pair_hex[33], char **json)
{
    if (json) *json = NULL;
    uint8_t begin[8 + SL_SHA256_SIZE];
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return sl_err(SL_EIO, "deploy: %s: not a readable file", path);
    int rc = sl_sha256_file(path, begin + 8);
    if (rc) return sl_err_ctx(rc, "deploy: ");
    sl_le64_put(begin, (uint64_t)st.st_size);
    FILE *f = fopen(path, "rb");
    if (!f) return sl_err(SL_EIO, "deploy: %s: cannot open: %s", path, strerror(errno));
    uint8_t *buf = malloc(DEPLOY_CHUNK_SIZE);
    pending *p = buf ? control_begin(c) : NULL;
    if (!p) {
        free(buf);
        fclose(f);
        return sl_err(SL_ENOMEM, "deploy: out of memory");
    }
    rc = send_for(c, p, SL_MSG_DEPLOY_BEGIN, NULL, begin, sizeof begin);
    uint32_t chunk = DEPLOY_CHUNK_SIZE;
    if (c->server_max_frame && c->server_max_frame < chunk) chunk = c->server_max_frame;
    size_t r;
    while (rc == SL_OK && (r = fread(buf, 1, chunk, f)) > 0) {
        pthread_mutex_lock(&c->lock);
        int refused = p->done;
        pthread_mutex_unlock(&c->lock);
        if (refused) break;
        rc = send_more(c, p, SL_MSG_DEPLOY_CHUNK, buf, (uint32_t)r);
    }
    int read_err = ferror(f);
    fclose(f);
    free(buf);
    if (rc == SL_OK && read_err) {
        /* Ending the upload short makes the edge discard it. */
        send_more(c, p, SL_MSG_DEPLOY_END, NULL, 0);
        control_finish(c, p, SL_MSG_OK, "deploy");
        return sl_err(SL_EIO, "deploy: %s: read failed", path);
    }
    /* A failed send shuts the connection, whose reader then fails p: control_finish reports. */
    if (rc == SL_OK) send_more(c, p, SL_MSG_DEPLOY_END, NULL, 0);
    rc = control_finish(c, p, SL_MSG_OK, "deploy");
    if (rc) return rc;
    char *txt = reply_text(&p->reply);
    control_done(p);
    if (!txt) return sl_err(SL_ENOMEM, "deploy: out of memory");
    cJSON *j = cJSON_Parse(txt);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "pair_id");
    if (!cJSON_IsString(id) || strlen(id->valuestring) != 32) {
        cJSON_Delete(j);
        free(txt);
        return sl_err(SL_EFORMAT, "deploy: edge's answer lacks a pair_id");
    }
    if (pair_hex) snprintf(pair_hex, 33, "%s", id->valuestring);
    cJSON_Delete(j);
    if (json)
        *json = txt;
    else
        free(txt);
    return SL_OK;
}
