/* client.h: the device side of sl-offload: one authenticated connection to an edge.
 *
 * Requests carry ids chosen here; answers are matched by id, so several requests may be in
 * flight at once (pipelined mode: max_inflight > 1) and come back in any order. The contract
 * that keeps images from being lost: every sl_client_submit yields exactly one result from
 * sl_client_wait, the model's output or an explicit error (edge unreachable, connection lost
 * before the answer, BUSY, ERROR from the edge, timeout). A request whose connection breaks
 * before its answer is sent again after a reconnect with backoff (cfg.lost_retries times; the
 * encoded request is kept until its answer); only then does it fail, its error saying how often
 * it was sent.
 *
 * Several edges (cfg.edges): the client talks to one at a time, the first that connects and
 * authenticates, trying them in the order given. When its connection breaks, reconnecting starts
 * at the next edge, so the requests lost with the connection (and every later one) go to another
 * edge at once instead of waiting for the dead one; each connect attempt tries every edge once.
 * A request still gets exactly one result: an answer is matched to its pending request by id
 * on the connection it was sent on, and a lost request is sent again only after its connection
 * (and with it any late answer) is gone. sl_client_timing.edge names the edge that answered.
 *
 * Thread use: all calls are thread-safe; several threads may submit and wait at once (a
 * reconnect waits for threads still writing on the old connection).
 */
#ifndef SL_OFFLOADER_CLIENT_H
#define SL_OFFLOADER_CLIENT_H

#include "offloader/proto.h"
#include "offloader/shaper.h"
#include "offloader/wire.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sl_client_config {
    const char *host; /* edge address (copied) */
    int port;
    const char *edges; /* "HOST:PORT,HOST:PORT,...", at most SL_NET_MAX_ADDRS (copied): when set,
                          the edges to fail over between, in place of host/port (see below) */
    const void *token; /* shared secret (copied), required */
    size_t token_len;
    double connect_timeout;  /* per attempt; default 5 s */
    int connect_attempts;    /* per (re)connect; default 5 */
    double backoff_base;     /* first retry delay; default 0.1 s, doubling */
    double backoff_max;      /* default 2 s */
    double io_timeout;       /* a stalled send or handshake; default 30 s */
    double request_timeout;  /* submit to answer; default 120 s */
    int max_inflight;        /* INFER requests awaiting an answer; default 1 */
    uint32_t max_frame;      /* largest frame accepted from the edge; default 64 MiB */
    int zstd_level;          /* 0 = never compress tensors; default 3 (when it pays) */
    int busy_retries;        /* sl_client_infer resends after BUSY this often; default 3 */
    int lost_retries;        /* a request whose connection broke before its answer (or that the
                                edge refused with SHUTDOWN) is sent again after reconnecting this
                                often, by sl_client_wait; default 2 */
    double reconnect_window; /* after a working connection breaks, reconnecting goes on (every
                                backoff_max) until this many seconds after the loss, since the
                                edge is most likely restarting; default 15 s, 0 = just the
                                connect_attempts */
    sl_shaper *shaper;       /* borrowed, may be NULL: models the link (shaper.h) */
} sl_client_config;

/* Where the time of one request went, in seconds, and its bytes. */
typedef struct sl_client_timing {
    double encode_s;     /* wire encoding (+ zstd) on the device */
    double transfer_s;   /* round trip minus the edge's queue and run time: both directions on
                          * the wire, shaping, decoding */
    double edge_queue_s; /* waiting for an edge worker */
    double edge_s;       /* running the edge bundle */
    double total_s;      /* submit to result available */
    uint64_t bytes_up;   /* INFER frame, header included */
    uint64_t bytes_down; /* RESULT / ERROR frame */
    int compressed;      /* zstd was used on the way up */
    char edge[272];      /* "HOST:PORT" of the edge whose connection carried the answer; "" when
                            none did */
} sl_client_timing;

typedef struct sl_client_result {
    uint64_t request_id;
    int status;            /* SL_OK or an SL_E* status */
    int edge_code;         /* SL_PERR_* when the edge answered ERROR, else 0 */
    char error[1200];      /* why, when status != SL_OK */
    double retry_after_s;  /* SL_EBUSY: the edge's hint when to resend */
    sl_wire_tensor output; /* owned by the result: sl_client_result_free */
    sl_client_timing timing;
} sl_client_result;

typedef struct sl_client sl_client;

void sl_client_config_defaults(sl_client_config *cfg);

/* A client for cfg (copied); does not connect yet. Returns SL_OK and *out (free with
 * sl_client_free), or SL_EARG / SL_ENOMEM with *out = NULL. */
int sl_client_new(const sl_client_config *cfg, sl_client **out);

/* A client for the edge at "HOST:PORT" (sl_net_hostport_parse), or the edges of a list
 * "HOST:PORT,HOST:PORT,..." (cfg.edges: failover), with the shared token read from
 * token_file, every other setting from *base (NULL: the defaults). Does not connect. Returns
 * SL_OK and *out (free with sl_client_free), or an error naming the address or file with
 * *out = NULL. */
int sl_client_new_at(const char *edge, const char *token_file, const sl_client_config *base,
                     sl_client **out);

/* Connects and authenticates now if not connected (with backoff; with several edges, each
 * attempt tries each edge once). SL_OK, or the last error. */
int sl_client_connect(sl_client *c);

/* Closes the connection and frees c with any results not yet claimed: wait for every submitted
 * request first if they matter. NULL is a no-op. */
void sl_client_free(sl_client *c);

/* Sends `in` (borrowed) to the edge bundle `pair`, waiting first while max_inflight requests
 * are out, reconnecting if needed. *request_id (may be NULL) receives the id; a result for it
 * is always produced for sl_client_wait. Returns SL_OK when sent (or when the send broke the
 * connection and sl_client_wait will send it again), or the error that the result will also
 * carry (e.g. the edge unreachable after every connect attempt). */
int sl_client_submit(sl_client *c, const uint8_t pair[SL_PAIR_ID_SIZE], const sl_wire_tensor *in,
                     uint64_t *request_id);

/* The same for a cut of several tensors: in[0..nin) in the order of the bundle's wire
 * description (1 <= nin <= SL_WIRE_MAX_TENSORS). */
int sl_client_submit_n(sl_client *c, const uint8_t pair[SL_PAIR_ID_SIZE], const sl_wire_tensor *in,
                       int nin, uint64_t *request_id);

/* Waits for the result of request_id (0 = the next result of any request) and moves it into
 * *out (free with sl_client_result_free). Returns SL_OK (look at out->status for the request's
 * outcome), or SL_ENOTFOUND when there is no such submitted, unclaimed request. */
int sl_client_wait(sl_client *c, uint64_t request_id, sl_client_result *out);

/* Submit + wait for that request; after a BUSY answer it waits the edge's hint and resends, up
 * to cfg.busy_retries times (pipelined callers resubmit themselves: see retry_after_s).
 * Returns out->status. */
int sl_client_infer(sl_client *c, const uint8_t pair[SL_PAIR_ID_SIZE], const sl_wire_tensor *in,
                    sl_client_result *out);

/* "HOST:PORT" of the edge connected to now, or of the one tried last (borrowed; valid until the
 * next call on c). */
const char *sl_client_edge(sl_client *c);

/* Number of submitted requests whose results have not been claimed yet. */
int sl_client_pending(sl_client *c);

void sl_client_result_free(sl_client_result *r);

/* PING/PONG; *rtt_s (may be NULL) the measured round trip. */
int sl_client_ping(sl_client *c, double *rtt_s);

/* Uploads the bundle file at path (SHA-256 computed here, verified by the edge) and waits until
 * the edge has installed it. On success pair_hex (may be NULL) holds its pair id and *json (may
 * be NULL; caller frees) the edge's answer. The edge replaces a bundle of the same pair id. */
int sl_client_deploy(sl_client *c, const char *path, char pair_hex[33], char **json);

/* The edge's deployed bundles as JSON ({"bundles":[{"pair_id","file","bytes","sha256"}]});
 * *json new, caller frees. */
int sl_client_list(sl_client *c, char **json);

/* Removes the bundle of pair from the edge. SL_ENOTFOUND when it has none. */
int sl_client_remove(sl_client *c, const uint8_t pair[SL_PAIR_ID_SIZE]);

#endif
