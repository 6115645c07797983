/* cmd_edge.c: `sl-offload edge` — serve edge bundles (and whole models for edge-only) to devices.
 */
#include "common/cli.h"
#include "common/opt.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/status.h"
#include "offloader/auth.h"
#include "offloader/backend.h"
#include "offloader/commands.h"
#include "offloader/net.h"
#include "offloader/edge_server.h"
#include "offloader/metrics_http.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct {
    const char *listen, *store, *token_file, *port_file, *metrics, *metrics_port_file;
    long threads, max_queue, max_clients;
    double handshake_timeout;
    int no_fold, no_warm;
} A;

static const sl_opt options[] = {
    SL_OPT_STRING(0, "listen", &A.listen, "HOST:PORT",
                  "address to listen on; port 0 picks a free port"),
    SL_OPT_STRING(0, "store", &A.store, "DIR", "the deployed bundles (loaded at start)"),
    SL_OPT_STRING(0, "token-file", &A.token_file, "FILE", "the token devices authenticate with"),
    SL_OPT_LONG(0, "threads", &A.threads, "N", 1, 256, "worker threads running models (default 2)"),
    SL_OPT_LONG(0, "max-queue", &A.max_queue, "N", 1, 1 << 20,
                "requests waiting for a worker before devices get BUSY (default 64)"),
    SL_OPT_LONG(0, "max-clients", &A.max_clients, "N", 1, 4096,
                "authenticated devices at once (default 64); peers still in their\n"
                "handshake do not count"),
    SL_OPT_CALLBACK(0, "handshake-timeout", &A.handshake_timeout, "TIME",
                    sl_net_opt_handshake_timeout,
                    "close a connection that has not finished its handshake TIME after it\n"
                    "was accepted, however its bytes trickle in (default 10s; 100ms to 1h)"),
    SL_OPT_STRING(0, "port-file", &A.port_file, "FILE",
                  "write the bound port there once listening (for scripts and port 0)"),
    SL_OPT_FLAG(0, "no-fold", &A.no_fold, "do not fold batch norm into convolutions"),
    SL_OPT_FLAG(0, "no-warm", &A.no_warm,
                "serve each model without running it once first (a faster start and\n"
                "deploy; each model's first request then pays its first run)"),
    SL_OPT_STRING(0, "metrics", &A.metrics, "HOST:PORT",
                  "serve GET /health (for a load balancer's check) and /metrics (Prometheus\n"
                  "text) over HTTP there; unauthenticated: bind it to loopback or a\n"
                  "management network (default: off)"),
    SL_OPT_STRING(0, "metrics-port-file", &A.metrics_port_file, "FILE",
                  "write the metrics port there once listening"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_edge_spec = {
    "sl-offload edge --listen HOST:PORT --store DIR --token-file FILE\n"
    "                [--threads N] [--max-queue N] [--max-clients N] [--port-file FILE]\n"
    "                [--handshake-timeout T] [--no-fold] [--no-warm]\n"
    "                [--metrics HOST:PORT [--metrics-port-file FILE]]",
    "Serve deployed bundles to devices until SIGINT or SIGTERM (then stop cleanly). Every\n"
    "bundle in DIR is loaded at start: edge halves (from `sl-preprocess split`) under their pair\n"
    "id, whole models (for the edge-only plan: the device sends the raw image) under the first\n"
    "16 bytes of the file's SHA-256. Each file is first read in a child process with a deadline\n"
    "(as an upload is); one that fails is logged and not served, the others are. Each model is\n"
    "run three times on zeros before the edge listens (unless --no-warm), so its first request\n"
    "is as fast as the others. `sl-offload deploy` adds, lists and removes bundles while the server\n"
    "runs. Devices authenticate with the token in FILE (HMAC-SHA256).\n"
    "Every 10 s with traffic, a line with the request counters goes to stderr. --metrics\n"
    "serves /health and /metrics on a port of its own (docs/offloader.md, Health and metrics).",
    options,
    0,
    0,
    NULL,
    "listen store token-file",
};

static void log_stats(const char *what, const sl_edge_stats *st)
{
    sl_log_info(
        "%s: %d bundle(s), %d device(s) connected; %llu connection(s), %llu request(s), "
        "%llu result(s), %llu error(s), %llu busy, %llu auth failure(s), %llu bad frame(s), "
        "%llu deploy(s)",
        what, st->bundles, st->clients, (unsigned long long)st->connections,
        (unsigned long long)st->requests, (unsigned long long)st->results,
        (unsigned long long)st->errors, (unsigned long long)st->busy,
        (unsigned long long)st->auth_failures, (unsigned long long)st->bad_frames,
        (unsigned long long)st->deploys);
}

static int edge_healthy(void *srv, char *why, size_t n)
{
    return sl_edge_healthy(srv, why, n);
}

static char *edge_metrics(void *srv)
{
    return sl_edge_metrics_text(srv);
}

int sl_cmd_edge(int argc, char **argv)
{
    memset(&A, 0, sizeof A);
    A.threads = 2;
    A.max_queue = 64;
    A.max_clients = 64;
    A.handshake_timeout = -1; /* the library's default */
    int rc = sl_opt_parse(&sl_cmd_edge_spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    const char *listen = A.listen, *store = A.store, *token_file = A.token_file;
    const char *port_file = A.port_file;
    long threads = A.threads, max_queue = A.max_queue, max_clients = A.max_clients;
    int fold = !A.no_fold;
    char host[256];
    int port;
    if (sl_net_hostport_parse(listen, host, sizeof host, &port))
        return sl_usage_error("--listen %s", sl_errmsg());
    char mhost[256];
    int mport = -1;
    if (A.metrics && sl_net_hostport_parse(A.metrics, mhost, sizeof mhost, &mport))
        return sl_usage_error("--metrics %s", sl_errmsg());
    if (A.metrics_port_file && !A.metrics)
        return sl_usage_error("--metrics-port-file needs --metrics HOST:PORT");

    char *token;
    size_t tlen;
    if (sl_auth_token_load(token_file, &token, &tlen)) return sl_fail();
    sl_edge_config cfg;
    sl_edge_config_defaults(&cfg);
    cfg.host = host;
    cfg.port = port;
    cfg.store_dir = store;
    cfg.token = token;
    cfg.token_len = tlen;
    cfg.workers = (int)threads;
    cfg.queue_capacity = (int)max_queue;
    cfg.max_clients = (int)max_clients;
    if (A.handshake_timeout > 0) cfg.auth_timeout = A.handshake_timeout;
    cfg.no_warm = A.no_warm;
    sl_backend_opts bo = {.fold_bn = fold};
    sl_edge_backend be;
    if (sl_backend_init(&bo, &be)) {
        free(token);
        return sl_fail();
    }
    /* Block the stop signals before any thread exists so that only sigtimedwait sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    sl_edge_server *srv;
    rc = sl_edge_start(&cfg, &be, &srv);
    free(token);
    if (rc != SL_OK) {
        sl_backend_free(&be);
        return sl_fail();
    }
    sl_metrics_http *mh = NULL;
    if (A.metrics) {
        sl_metrics_source src = {srv, edge_healthy, edge_metrics};
        char buf[32];
        rc = sl_metrics_http_start(mhost, mport, &src, &mh);
        if (rc == SL_OK) {
            int n = snprintf(buf, sizeof buf, "%d\n", sl_metrics_http_port(mh));
            sl_log_info("health and metrics on http://%s:%d/health and /metrics", mhost,
                        sl_metrics_http_port(mh));
            if (A.metrics_port_file) rc = sl_write_file_atomic(A.metrics_port_file, buf, (size_t)n);
        }
        if (rc != SL_OK) {
            sl_log_error("%s", sl_errmsg());
            sl_metrics_http_stop(mh);
            sl_edge_stop(srv);
            sl_backend_free(&be);
            return SL_EXIT_FAIL;
        }
    }
    int bound = sl_edge_port(srv);
    sl_edge_stats st, last;
    sl_edge_get_stats(srv, &st);
    sl_log_info("listening on %s:%d, %d bundle(s) from %s (%d refused), %ld worker(s)", host, bound,
                st.bundles, store, st.refused, threads);
    if (port_file) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%d\n", bound);
        if (sl_write_file_atomic(port_file, buf, (size_t)n)) {
            sl_log_error("%s", sl_errmsg());
            sl_metrics_http_stop(mh);
            sl_edge_stop(srv);
            sl_backend_free(&be);
            return SL_EXIT_FAIL;
        }
    }
    last = st;
    int sig;
    for (;;) {
        struct timespec ts = {10, 0};
        sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) break;
        sl_edge_get_stats(srv, &st);
        if (st.requests != last.requests || st.connections != last.connections ||
            st.deploys != last.deploys)
            log_stats("serving", &st);
        last = st;
    }
    sl_log_info("%s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    /* The health check fails from here on, so a load balancer stops sending new devices. */
    sl_metrics_http_stop(mh);
    sl_edge_get_stats(srv, &st);
    sl_edge_stop(srv);
    sl_backend_free(&be);
    log_stats("stopped", &st);
    return SL_EXIT_OK;
}
