/* test_metrics.c: the edge's /health and /metrics endpoint (metrics_http.h) over loopback: the
 * counters and per-pair latency quantiles follow the requests served, /health turns 503 with no
 * bundle loaded, every other request gets its refusal, and 40 silent connections neither keep a
 * health check out nor outlive their deadline. */
#include "fake_backend.h"
#include "offloader/metrics_http.h"
#include "offloader/net.h"
#include "testutil.h"

#include <math.h>
#include <sys/socket.h>
#include <time.h>

static const char *PAIR_A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static int edge_healthy(void *srv, char *why, size_t n)
{
    return sl_edge_healthy(srv, why, n);
}

static char *edge_metrics(void *srv)
{
    return sl_edge_metrics_text(srv);
}

/* Sends req to the metrics port and returns the whole answer (static buffer; "" on failure). */
static const char *http(int port, const char *req)
{
    static char buf[1 << 16];
    buf[0] = '\0';
    int fd;
    if (sl_net_connect("127.0.0.1", port, 2, &fd)) return buf;
    size_t len = 0;
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req)) {
        struct timeval tv = {3, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t n;
        while (len < sizeof buf - 1 && (n = recv(fd, buf + len, sizeof buf - 1 - len, 0)) > 0)
            len += (size_t)n;
    }
    buf[len] = '\0';
    close(fd);
    return buf;
}

/* The value of the metric line starting with `name ` (or `name{...} `), NAN when absent. */
static double metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ' ') return atof(p + n + 1);
    return NAN;
}

int main(void)
{
    char dir[600], store[700];
    fake_store_dirs(dir, store);

    /* An edge with nothing to serve is not healthy: a load balancer must not send it devices. */
    fake_ctx fc = {.delay_ms = 2};
    sl_edge_server *s = fake_edge_start(&fc, store, 0, 2, 8);
    sl_metrics_source src = {s, edge_healthy, edge_metrics};
    sl_metrics_http *mh;
    CHECK_OK(sl_metrics_http_start("127.0.0.1", 0, &src, &mh), sl_errmsg());
    int mport = sl_metrics_http_port(mh);
    const char *r = http(mport, "GET /health HTTP/1.0\r\n\r\n");
    CHECK_CONTAINS(r, "HTTP/1.0 503");
    CHECK_CONTAINS(r, "no bundles loaded");
    sl_metrics_http_stop(mh);
    sl_edge_stop(s);

    fake_write_bundle(store, "a.h5", PAIR_A, 1.0, 4);
    s = fake_edge_start(&fc, store, 0, 2, 8);
    src.ctx = s;
    CHECK_OK(sl_metrics_http_start("127.0.0.1", 0, &src, &mh), sl_errmsg());
    mport = sl_metrics_http_port(mh);
    r = http(mport, "GET /health HTTP/1.1\r\nHost: edge\r\n\r\n");
    CHECK_CONTAINS(r, "HTTP/1.0 200 OK");
    CHECK_CONTAINS(r, "ok: 1 bundle(s), queue 0/8");

    /* 20 good requests and 3 of a wrong shape on pair A, one for an unknown pair. */
    sl_client_config cfg = fake_client_config(sl_edge_port(s));
    sl_client *c = fake_client_new(&cfg);
    uint8_t pair_a[16], unknown[16] = {0xde, 0xad};
    sl_pair_from_hex(PAIR_A, pair_a);
    sl_wire_tensor in = fake_input(1, 4, 1.0f), wrong = fake_input(1, 5, 1.0f);
    sl_client_result res;
    for (int i = 0; i < 20; i++) {
        CHECK_EQ(sl_client_infer(c, pair_a, &in, &res), SL_OK);
        sl_client_result_free(&res);
    }
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(sl_client_infer(c, pair_a, &wrong, &res), SL_ESHAPE);
        sl_client_result_free(&res);
    }
    CHECK_EQ(sl_client_infer(c, unknown, &in, &res), SL_ENOTFOUND);
    sl_client_result_free(&res);

    /* The edge counts a result once its frame is sent, so the device can hold the last answer
     * a moment before the count moves: scrape until it has (2 s at most), then check all. */
    char name[160];
    snprintf(name, sizeof name, "sl_edge_request_seconds_count{pair=\"%s\"}", PAIR_A);
    for (int i = 0; i < 100; i++) {
        r = http(mport, "GET /metrics HTTP/1.0\r\n\r\n");
        if (metric(r, "sl_edge_results_total") == 20 && metric(r, name) == 23) break;
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    CHECK_CONTAINS(r, "HTTP/1.0 200 OK");
    CHECK_CONTAINS(r, "Content-Type: text/plain; version=0.0.4");
    CHECK_CONTAINS(r, "# TYPE sl_edge_requests_total counter");
    CHECK_EQ(metric(r, "sl_edge_up"), 1);
    CHECK_EQ(metric(r, "sl_edge_requests_total"), 24);
    CHECK_EQ(metric(r, "sl_edge_results_total"), 20);
    CHECK_EQ(metric(r, "sl_edge_errors_total"), 4);
    CHECK_EQ(metric(r, "sl_edge_queue_length"), 0);
    CHECK_EQ(metric(r, "sl_edge_queue_capacity"), 8);
    CHECK_EQ(metric(r, "sl_edge_devices"), 1);
    CHECK_EQ(metric(r, "sl_edge_bundles"), 1);
    CHECK_EQ(metric(r, name), 23);
    snprintf(name, sizeof name, "sl_edge_pair_errors_total{pair=\"%s\"}", PAIR_A);
    CHECK_EQ(metric(r, name), 3);
    /* The fake model sleeps 2 ms per good request: the median is at least that, and no
     * quantile is below the one before it nor over 19 % above the slowest request could be. */
    double q[4];
    const char *qn[4] = {"0.5", "0.9", "0.95", "0.99"};
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "sl_edge_request_seconds{pair=\"%s\",quantile=\"%s\"}", PAIR_A,
                 qn[i]);
        q[i] = metric(r, name);
        CHECK(q[i] >= 0.002 && q[i] < 5);
        if (i) CHECK(q[i] >= q[i - 1]);
    }
    snprintf(name, sizeof name, "sl_edge_request_seconds_sum{pair=\"%s\"}", PAIR_A);
    CHECK(metric(r, name) >= 20 * 0.002);

    CHECK_CONTAINS(http(mport, "HEAD /metrics HTTP/1.0\r\n\r\n"), "HTTP/1.0 200");
    CHECK_CONTAINS(http(mport, "GET /nope HTTP/1.0\r\n\r\n"), "HTTP/1.0 404");
    CHECK_CONTAINS(http(mport, "POST /health HTTP/1.0\r\n\r\n"), "HTTP/1.0 405");
    CHECK_CONTAINS(http(mport, "\x53\x4c\x4f\x46 hello\r\n\r\n"), "HTTP/1.0 400");
    char big[4000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "GET /", 5);
    CHECK_CONTAINS(http(mport, big), "HTTP/1.0 431");

    /* 40 silent connections: the oldest give way, so a check still gets its answer at once,
     * and each is closed by its 2 s deadline. */
    int silent[40];
    for (int i = 0; i < 40; i++)
        CHECK_OK(sl_net_connect("127.0.0.1", mport, 2, &silent[i]), sl_errmsg());
    double t0 = sl_now();
    CHECK_CONTAINS(http(mport, "GET /health HTTP/1.0\r\n\r\n"), "HTTP/1.0 200");
    CHECK(sl_now() - t0 < 1.0);
    struct timeval tv = {4, 0};
    setsockopt(silent[39], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char b;
    t0 = sl_now();
    CHECK_EQ(recv(silent[39], &b, 1, 0), 0); /* closed by the server, not by our timeout */
    CHECK(sl_now() - t0 < 3.5);
    for (int i = 0; i < 40; i++)
        close(silent[i]);
    /* The device port is untouched by all of this. */
    CHECK_EQ(sl_client_infer(c, pair_a, &in, &res), SL_OK);
    sl_client_result_free(&res);

    sl_wire_tensor_free(&in);
    sl_wire_tensor_free(&wrong);
    sl_client_free(c);
    sl_metrics_http_stop(mh);
    sl_edge_stop(s);
    tu_rmtree(dir);
    return TU_DONE();
}
