/* net.c: sockets with timeouts, connect with backoff, whole-buffer reads and writes. */
#include "offloader/net.h"
#include "common/cli.h"
#include "common/status.h"
#include "common/timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Large frames are written in slices so the shaper paces them smoothly. */
#define SL_NET_SLICE 16384
#define KEEPALIVE_IDLE_S 15
#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_PROBES 3

static void set_timeout(int fd, int opt, double s)
{
    struct timeval tv = {(time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6)};
    setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

static int resolve(const char *host, int port, int passive, struct addrinfo **res)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    int g = getaddrinfo(host && *host ? host : NULL, service, &hints, res);
    if (g != 0)
        return sl_err(SL_ENET, "%s:%d: cannot resolve: %s", host && *host ? host : "*", port,
                      gai_strerror(g));
    return SL_OK;
}

int sl_net_listen(const char *host, int port, int backlog, int *fd, int *bound_port)
{
    *fd = -1;
    struct addrinfo *res;
    int rc = resolve(host, port, 1, &res);
    if (rc) return rc;
    int err = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int s = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (s < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(s, a->ai_addr, a->ai_addrlen) == 0 && listen(s, backlog) == 0) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof ss;
            getsockname(s, (struct sockaddr *)&ss, &sl);
            *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                         : ((struct sockaddr_in *)&ss)->sin_port);
            *fd = s;
            freeaddrinfo(res);
            return SL_OK;
        }
        err = errno;
        close(s);
    }
    freeaddrinfo(res);
    return sl_err(SL_ENET, "%s:%d: cannot listen: %s", host && *host ? host : "*", port,
                  strerror(err));
}

static int connect_one(const struct addrinfo *a, double timeout_s, int *fd, int *err)
{
    int s = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (s < 0) {
        *err = errno;
        return -1;
    }
    int flags = fcntl(s, F_GETFL);
    fcntl(s, F_SETFL, flags | O_NONBLOCK);
    int r = connect(s, a->ai_addr, a->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS) {
        struct pollfd p = {s, POLLOUT, 0};
        int pr = poll(&p, 1, timeout_s > 0 ? (int)(timeout_s * 1000) : -1);
        if (pr == 0) {
            close(s);
            *err = ETIMEDOUT;
            return -1;
        }
        socklen_t l = sizeof *err;
        *err = 0;
        getsockopt(s, SOL_SOCKET, SO_ERROR, err, &l);
        r = *err ? -1 : 0;
    } else if (r != 0) {
        *err = errno;
    }
    if (r != 0) {
        close(s);
        return -1;
    }
    fcntl(s, F_SETFL, flags);
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *fd = s;
    return 0;
}

int sl_net_connect(const char *host, int port, double timeout_s, int *fd)
{
    *fd = -1;
    struct addrinfo *res;
    int rc = resolve(host, port, 0, &res);
    if (rc) return rc;
    int err = ECONNREFUSED;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        if (connect_one(a, timeout_s, fd, &err) == 0) {
            freeaddrinfo(res);
            return SL_OK;
        }
    }
    freeaddrinfo(res);
    if (err == ETIMEDOUT)
        return sl_err(SL_ETIMEOUT, "%s:%d: no answer within %.3g s", host, port, timeout_s);
    return sl_err(SL_ENET, "%s:%d: cannot connect: %s", host, port, strerror(err));
}

int sl_net_connect_backoff(const char *host, int port, double timeout_s, int attempts,
                           double base_delay_s, double max_delay_s, int *fd)
{
    double delay = base_delay_s;
    int rc = SL_ENET;
    for (int i = 0; i < (attempts > 0 ? attempts : 1); i++) {
        if (i > 0) {
            double jitter = 0.8 + 0.4 * ((double)rand() / RAND_MAX);
            sl_shaper_sleep_until(sl_now() + delay * jitter);
            delay = delay * 2 > max_delay_s ? max_delay_s : delay * 2;
        }
        rc = sl_net_connect(host, port, timeout_s, fd);
        if (rc == SL_OK) return rc;
    }
    return sl_err_ctx(rc, "after %d attempts: ", attempts > 0 ? attempts : 1);
}

void sl_conn_init(sl_conn *c, int fd, double read_timeout, double write_timeout)
{
    memset(c, 0, sizeof *c);
    atomic_init(&c->frames_in, 0);
    c->fd = fd;
    c->read_timeout = read_timeout;
    c->write_timeout = write_timeout;
    pthread_mutex_init(&c->send_lock, NULL);
    /* Frames are written whole and answered at once; Nagle would only add delay. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* A peer that vanishes without a FIN or reset (power cut, cable pulled) must still end the
     * connection, or a reader waiting for answers would wait forever: keepalive probes find it
     * when the link is idle, the user timeout when sent data stays unacknowledged. */
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
#ifdef TCP_KEEPIDLE
    int idle = KEEPALIVE_IDLE_S, intvl = KEEPALIVE_INTERVAL_S, cnt = KEEPALIVE_PROBES;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
#endif
#ifdef TCP_USER_TIMEOUT
    unsigned int user_ms = write_timeout > 0 ? (unsigned int)(write_timeout * 1000) : 0;
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms, sizeof user_ms);
#endif
    if (read_timeout > 0) set_timeout(fd, SO_RCVTIMEO, read_timeout);
    if (write_timeout > 0) set_timeout(fd, SO_SNDTIMEO, write_timeout);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char addr[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof addr);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof addr);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    snprintf(c->peer, sizeof c->peer, "%s:%d", addr, port);
}

void sl_conn_set_read_timeout(sl_conn *c, double seconds)
{
    c->read_timeout = seconds;
    set_timeout(c->fd, SO_RCVTIMEO, seconds > 0 ? seconds : 0);
}

void sl_conn_set_deadline(sl_conn *c, double deadline)
{
    c->deadline = deadline;
}

void sl_conn_shutdown(sl_conn *c)
{
    if (c->fd >= 0) shutdown(c->fd, SHUT_RDWR);
}

void sl_conn_linger(sl_conn *c, double timeout_s, size_t max_bytes)
{
    if (c->fd < 0) return;
    shutdown(c->fd, SHUT_WR);
    double end = sl_now() + timeout_s;
    size_t drained = 0;
    char buf[4096];
    while (drained < max_bytes) {
        double left = end - sl_now();
        if (left <= 0) break;
        struct pollfd p = {c->fd, POLLIN, 0};
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0) break;
        ssize_t r = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r <= 0 && !(r < 0 && (errno == EINTR || errno == EAGAIN))) break;
        if (r > 0) drained += (size_t)r;
    }
}

void sl_conn_close(sl_conn *c)
{
    if (c->fd < 0) return;
    close(c->fd);
    c->fd = -1;
    pthread_mutex_destroy(&c->send_lock);
}

int sl_conn_read_full(sl_conn *c, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        if (c->deadline > 0) {
            double left = c->deadline - sl_now();
            struct pollfd p = {c->fd, POLLIN, 0};
            int pr = left > 0 ? poll(&p, 1, (int)(left * 1000) + 1) : 0;
            if (pr < 0 && errno == EINTR) continue;
            if (pr == 0)
                return sl_err(SL_ETIMEOUT, "%s: deadline passed (%zu of %zu bytes read)", c->peer,
                              got, n);
        }
        ssize_t r = recv(c->fd, (char *)buf + got, n - got, 0);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0) {
            if (got == 0) c->eof = 1;
            return sl_err(SL_ENET, "%s: connection closed by peer after %zu of %zu bytes", c->peer,
                          got, n);
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return sl_err(SL_ETIMEOUT, "%s: no data for %.3g s (%zu of %zu bytes read)", c->peer,
                          c->read_timeout, got, n);
        return sl_err(SL_ENET, "%s: read failed: %s", c->peer, strerror(errno));
    }
    c->bytes_in += n;
    return SL_OK;
}

int sl_conn_write_full(sl_conn *c, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        size_t want = n - done;
        if (c->shaper && want > SL_NET_SLICE) want = SL_NET_SLICE;
        sl_shaper_send(c->shaper, want);
        ssize_t w = send(c->fd, (const char *)buf + done, want, MSG_NOSIGNAL);
        if (w >= 0) {
            done += (size_t)w;
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return sl_err(SL_ETIMEOUT, "%s: peer did not take data for %.3g s", c->peer,
                          c->write_timeout);
        return sl_err(SL_ENET, "%s: write failed: %s", c->peer, strerror(errno));
    }
    c->bytes_out += n;
    return SL_OK;
}

int sl_net_hostport_parse(const char *s, char *host, size_t n, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) return sl_err(SL_EARG, "'%s': expected HOST:PORT", s);
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl + 1 > n) return sl_err(SL_EARG, "'%s': host name too long", s);
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 0 || p > 65535)
        return sl_err(SL_EARG, "'%s': port must be a number 0..65535", s);
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return SL_OK;
}

int sl_net_hostport_list(const char *s, sl_hostport *out, int max, int *n)
{
    *n = 0;
    const char *p = s;
    for (;;) {
        size_t len = strcspn(p, ",");
        char one[300];
        if (len == 0) return sl_err(SL_EARG, "'%s': an empty entry in the list of HOST:PORT", s);
        if (*n == max) return sl_err(SL_EARG, "'%s': more than %d addresses", s, max);
        if (len >= sizeof one) return sl_err(SL_EARG, "'%.40s...': address too long", p);
        memcpy(one, p, len);
        one[len] = '\0';
        sl_hostport *h = &out[*n];
        int rc = sl_net_hostport_parse(one, h->host, sizeof h->host, &h->port);
        if (rc) return rc;
        for (int i = 0; i < *n; i++)
            if (out[i].port == h->port && strcmp(out[i].host, h->host) == 0)
                return sl_err(SL_EARG, "'%s': %s is listed twice", s, one);
        ++*n;
        if (!p[len]) return SL_OK;
        p += len + 1;
    }
}

/* A duration option in [lo, hi] seconds into *dest; `name` is the option as the user typed it. */
static int opt_wait(const char *name, const char *value, double lo, double hi, double *dest)
{
    double v;
    int rc = sl_parse_duration(name, value, &v);
    if (rc) return rc;
    if (!(v >= lo && v <= hi))
        return sl_err(SL_EARG, "%s: '%s' is out of range (%g s to %g s)", name, value, lo, hi);
    *dest = v;
    return SL_OK;
}

int sl_net_opt_handshake_timeout(void *dest, const char *value)
{
    return opt_wait("--handshake-timeout", value, SL_NET_HANDSHAKE_MIN_S, SL_NET_HANDSHAKE_MAX_S,
                    dest);
}

int sl_net_opt_reconnect_window(void *dest, const char *value)
{
    return opt_wait("--reconnect-window", value, 0, SL_NET_RECONNECT_MAX_S, dest);
}
