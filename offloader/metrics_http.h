/* metrics_http.h: a tiny read-only HTTP endpoint for an edge's health and metrics.
 *
 * Off unless asked for (`sl-offload edge --metrics HOST:PORT`), on its own port and thread, so
 * that the device port keeps its protocol (no new message type within version 1) and its limits:
 * nothing here can reach a model, a bundle or the request queue. Two paths, GET (or HEAD) only:
 *
 *   /health   200 "ok: <what it serves>" while the callback says healthy, else 503 "<why>";
 *             what a load balancer checks (HAProxy: `option httpchk GET /health`,
 *             `check port <metrics port>`)
 *   /metrics  200, Prometheus text format 0.0.4 (the callback's text)
 *
 * Anything else: 404 (unknown path), 405 (another method), 400 (not HTTP), 431 (a request head
 * over 2 KiB). Each answer closes its connection (HTTP/1.0 style, Content-Length given).
 *
 * Bounded: one thread, at most 16 connections at once (a new one past that closes the oldest, so
 * a flood cannot keep the load balancer's check out for longer than the check's own retry), 2 s
 * from accept to the last byte of the answer, a 2 KiB request head, nothing allocated per
 * connection beyond its fixed slot and its answer. It does not authenticate: bind it to a
 * loopback or management address (the metrics reveal counters and pair ids, no tensors).
 */
#ifndef SL_OFFLOADER_METRICS_HTTP_H
#define SL_OFFLOADER_METRICS_HTTP_H

#include <stddef.h>

typedef struct sl_metrics_source {
    void *ctx;
    /* 1 when healthy; why (at most n bytes, NUL-terminated) says what or why not. */
    int (*healthy)(void *ctx, char *why, size_t n);
    /* The Prometheus text, a new string the server frees; NULL when out of memory (answered
     * 500). */
    char *(*metrics)(void *ctx);
} sl_metrics_source;

typedef struct sl_metrics_http sl_metrics_http;

/* Listens on host:port (host NULL or "" = all interfaces; port 0 = any free port) and serves in
 * a thread of its own. src is copied; its ctx must outlive the server. Returns SL_OK and *out,
 * or an error naming the address with nothing left running and *out = NULL. */
int sl_metrics_http_start(const char *host, int port, const sl_metrics_source *src,
                          sl_metrics_http **out);

/* The port actually listened on. */
int sl_metrics_http_port(const sl_metrics_http *m);

/* Stops the thread, closes every connection and the listener, frees m. NULL is a no-op. */
void sl_metrics_http_stop(sl_metrics_http *m);

#endif
