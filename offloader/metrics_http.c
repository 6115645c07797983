/* metrics_http.c: /health and /metrics over HTTP/1.0 from one poll() thread, bounded slots. */
#include "offloader/metrics_http.h"
#include "offloader/net.h"
#include "common/status.h"
#include "common/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 16
#define HEAD_MAX 2048
#define CONN_DEADLINE_S 2.0
#define POLL_MS 200

typedef struct slot {
    int fd; /* -1 = free */
    double t_accept;
    char head[HEAD_MAX];
    size_t head_len;
    char *reply; /* malloc'd once the request is read; sent from reply_off */
    size_t reply_len, reply_off;
} slot;

struct sl_metrics_http {
    sl_metrics_source src;
    int listen_fd, port;
    atomic_int stopping;
    pthread_t thread;
    slot slots[MAX_CONNS];
};

static void slot_close(slot *s)
{
    if (s->fd >= 0) close(s->fd);
    free(s->reply);
    s->fd = -1;
    s->reply = NULL;
    s->head_len = s->reply_len = s->reply_off = 0;
}

/* An HTTP/1.0 answer with body (NULL = none, e.g. for HEAD); a new string, NULL if out of memory.
 */
static char *make_reply(int code, const char *ctype, const char *body, int with_body, size_t *len)
{
    const char *reason = code == 200   ? "OK"
                         : code == 400 ? "Bad Request"
                         : code == 404 ? "Not Found"
                         : code == 405 ? "Method Not Allowed"
                         : code == 431 ? "Request Header Fields Too Large"
                         : code == 503 ? "Service Unavailable"
                                       : "Internal Server Error";
    size_t blen = body ? strlen(body) : 0;
    size_t cap = blen + 256;
    char *r = malloc(cap);
    if (!r) return NULL;
    int n = snprintf(r, cap,
                     "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                     code, reason, ctype, blen);
    if (with_body && blen) memcpy(r + n, body, blen);
    *len = (size_t)n + (with_body ? blen : 0);
    return r;
}

/* Answers a complete request head (or an oversized one: too_big). */
static void answer(sl_metrics_http *m, slot *s, int too_big)
{
    const char *text = "text/plain; charset=utf-8";
    char method[8] = "", path[256] = "";
    int code = 200, with_body = 1, version_at = 0;
    char msg[256];
    char *body = NULL;
    s->head[s->head_len < HEAD_MAX ? s->head_len : HEAD_MAX - 1] = '\0';
    if (too_big) {
        code = 431;
        snprintf(msg, sizeof msg, "request head over %d bytes\n", HEAD_MAX);
    } else if (sscanf(s->head, "%7s %255s HTTP/1.%n", method, path, &version_at) != 2 ||
               !version_at) {
        code = 400;
        snprintf(msg, sizeof msg, "not an HTTP request\n");
    } else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        code = 405;
        snprintf(msg, sizeof msg, "only GET and HEAD\n");
    } else {
        with_body = strcmp(method, "GET") == 0;
        path[strcspn(path, "?")] = '\0';
        if (strcmp(path, "/health") == 0) {
            char why[200];
            code = m->src.healthy(m->src.ctx, why, sizeof why) ? 200 : 503;
            snprintf(msg, sizeof msg, "%s: %s\n", code == 200 ? "ok" : "unavailable", why);
        } else if (strcmp(path, "/metrics") == 0) {
            body = m->src.metrics(m->src.ctx);
            if (body) {
                text = "text/plain; version=0.0.4; charset=utf-8";
            } else {
                code = 500;
                snprintf(msg, sizeof msg, "out of memory\n");
            }
        } else {
            code = 404;
            snprintf(msg, sizeof msg, "unknown path; try /health or /metrics\n");
        }
    }
    s->reply = make_reply(code, text, body ? body : msg, with_body, &s->reply_len);
    free(body);
    s->reply_off = 0;
    if (!s->reply) slot_close(s);
}

static void on_readable(sl_metrics_http *m, slot *s)
{
    ssize_t n = recv(s->fd, s->head + s->head_len, HEAD_MAX - 1 - s->head_len, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        slot_close(s);
        return;
    }
    if (n < 0) return;
    s->head_len += (size_t)n;
    s->head[s->head_len] = '\0';
    if (strstr(s->head, "\r\n\r\n") || strstr(s->head, "\n\n"))
        answer(m, s, 0);
    else if (s->head_len >= HEAD_MAX - 1)
        answer(m, s, 1);
}

static void on_writable(slot *s)
{
    ssize_t n = send(s->fd, s->reply + s->reply_off, s->reply_len - s->reply_off,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n < 0) {
        slot_close(s);
        return;
    }
    s->reply_off += (size_t)n;
    if (s->reply_off == s->reply_len) {
        /* The peer has its answer; a FIN (not a reset from unread input) ends it. */
        shutdown(s->fd, SHUT_WR);
        slot_close(s);
    }
}

static void accept_one(sl_metrics_http *m)
{
    int fd = accept(m->listen_fd, NULL, NULL);
    if (fd < 0) return;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    slot *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < MAX_CONNS; i++) {
        slot *s = &m->slots[i];
        if (s->fd < 0) {
            if (!free_slot) free_slot = s;
        } else if (!oldest || s->t_accept < oldest->t_accept) {
            oldest = s;
        }
    }
    if (!free_slot) {
        slot_close(oldest);
        free_slot = oldest;
    }
    free_slot->fd = fd;
    free_slot->t_accept = sl_now();
}

static void *serve_main(void *arg)
{
    sl_metrics_http *m = arg;
    struct pollfd pf[MAX_CONNS + 1];
    while (!atomic_load(&m->stopping)) {
        double now = sl_now();
        int n = 0;
        pf[n++] = (struct pollfd){m->listen_fd, POLLIN, 0};
        int map[MAX_CONNS + 1];
        for (int i = 0; i < MAX_CONNS; i++) {
            slot *s = &m->slots[i];
            if (s->fd < 0) continue;
            if (now - s->t_accept > CONN_DEADLINE_S) {
                slot_close(s);
                continue;
            }
            map[n] = i;
            pf[n++] = (struct pollfd){s->fd, (short)(s->reply ? POLLOUT : POLLIN), 0};
        }
        if (poll(pf, (nfds_t)n, POLL_MS) <= 0) continue;
        for (int k = 1; k < n; k++) {
            slot *s = &m->slots[map[k]];
            if (pf[k].revents & (POLLERR | POLLNVAL))
                slot_close(s);
            else if (s->reply && (pf[k].revents & (POLLOUT | POLLHUP)))
                on_writable(s);
            else if (!s->reply && (pf[k].revents & (POLLIN | POLLHUP)))
                on_readable(m, s);
        }
        if (pf[0].revents & POLLIN) accept_one(m);
    }
    return NULL;
}

int sl_metrics_http_start(const char *host, int port, const sl_metrics_source *src,
                          sl_metrics_http **out)
{
    *out = NULL;
    sl_metrics_http *m = calloc(1, sizeof *m);
    if (!m) return sl_err(SL_ENOMEM, "metrics: out of memory");
    m->src = *src;
    for (int i = 0; i < MAX_CONNS; i++)
        m->slots[i].fd = -1;
    int rc = sl_net_listen(host, port, 16, &m->listen_fd, &m->port);
    if (rc) {
        free(m);
        return sl_err_ctx(rc, "metrics: ");
    }
    fcntl(m->listen_fd, F_SETFL, fcntl(m->listen_fd, F_GETFL) | O_NONBLOCK);
    if (pthread_create(&m->thread, NULL, serve_main, m) != 0) {
        close(m->listen_fd);
        free(m);
        return sl_err(SL_ENOMEM, "metrics: cannot start its thread");
    }
    *out = m;
    return SL_OK;
}

int sl_metrics_http_port(const sl_metrics_http *m)
{
    return m->port;
}

void sl_metrics_http_stop(sl_metrics_http *m)
{
    if (!m) return;
    atomic_store(&m->stopping, 1);
    pthread_join(m->thread, NULL);
    for (int i = 0; i < MAX_CONNS; i++)
        slot_close(&m->slots[i]);
    close(m->listen_fd);
    free(m);
}
