/* test_netns.c: the protocol over a real, rate-limited link: an edge in one network namespace,
 * a device in another, joined by a veth pair whose device end is capped by `tc tbf`. What the
 * machine can do is probed once (root, a namespace, a veth pair, a tbf qdisc): the test skips
 * (77) only when it cannot, and with SL_REQUIRE_NETNS=1 a skip is a failure. Once the probe
 * passes, any failure of the test's own setup is a FAIL. */
/* setns() and CLONE_NEWNET are Linux extensions. */
#define _GNU_SOURCE
#include "fake_backend.h"
#include "common/timeutil.h"
#include "testutil.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#define SKIP 77
#define EDGE_ADDR "10.77.0.1"
#define EDGE_PORT 7707
#define RATE_BPS 10e6
#define N_IN 62500 /* 250 kB of float32 per request */

static const char *PAIR = "abababababababababababababababab";
static char ns_edge[32], ns_dev[32];
static double added_rtt; /* netem delay on the edge's side, when the kernel has netem */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char quiet[600];
    snprintf(quiet, sizeof quiet, "%s >/dev/null 2>&1", cmd);
    int rc = system(quiet);
    if (rc != 0) fprintf(stderr, "command failed: %s\n", cmd);
    return rc;
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "ip netns del %s >/dev/null 2>&1", ns_edge);
    if (system(cmd)) {
        /* already gone */
    }
    snprintf(cmd, sizeof cmd, "ip netns del %s >/dev/null 2>&1", ns_dev);
    if (system(cmd)) {
        /* already gone */
    }
}

static int enter(const char *ns)
{
    char path[128];
    snprintf(path, sizeof path, "/var/run/netns/%s", ns);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
        perror(path);
        return -1;
    }
    close(fd);
    return 0;
}

/* 77 (skipped), or 1 when SL_REQUIRE_NETNS=1 says this machine must run the test. */
static int skip(const char *why)
{
    const char *req = getenv("SL_REQUIRE_NETNS");
    if (req && !strcmp(req, "1")) {
        fprintf(stderr, "FAIL: SL_REQUIRE_NETNS=1, but %s\n", why);
        return 1;
    }
    printf("skip: %s\n", why);
    return SKIP;
}

/* Whether this machine can make what the test needs: a namespace holding a veth pair with a tbf
 * qdisc (a throwaway one, removed again). 0 if it can. */
static int probe(void)
{
    char cmd[512];
    int p = (int)getpid() % 100000;
    snprintf(cmd, sizeof cmd,
             "{ ip netns add sl_probe_%d && ip -n sl_probe_%d link add pa type veth peer name pb "
             "&& tc -n sl_probe_%d qdisc add dev pa root tbf rate 10mbit burst 32kbit latency "
             "400ms; } >/dev/null 2>&1; rc=$?; ip netns del sl_probe_%d >/dev/null 2>&1; exit $rc",
             p, p, p, p);
    return system(cmd) != 0;
}

static int setup(void)
{
    int p = (int)getpid() % 100000;
    snprintf(ns_edge, sizeof ns_edge, "sl_edge_%d", p);
    snprintf(ns_dev, sizeof ns_dev, "sl_dev_%d", p);
    if (sh("ip netns add %s", ns_edge) || sh("ip netns add %s", ns_dev)) return -1;
    if (sh("ip link add sle%d type veth peer name sld%d", p, p)) return -1;
    if (sh("ip link set sle%d netns %s", p, ns_edge) || sh("ip link set sld%d netns %s", p, ns_dev))
        return -1;
    if (sh("ip -n %s addr add " EDGE_ADDR "/24 dev sle%d", ns_edge, p) ||
        sh("ip -n %s addr add 10.77.0.2/24 dev sld%d", ns_dev, p) ||
        sh("ip -n %s link set sle%d up", ns_edge, p) ||
        sh("ip -n %s link set sld%d up", ns_dev, p) || sh("ip -n %s link set lo up", ns_edge) ||
        sh("ip -n %s link set lo up", ns_dev))
        return -1;
    /* The device's uplink: 10 Mbit/s, as a weak factory link. */
    if (sh("tc -n %s qdisc add dev sld%d root tbf rate 10mbit burst 32kbit latency 400ms", ns_dev,
           p))
        return -1;
    /* Answers delayed by 10 ms: the round trip of a nearby edge. Optional: netem is a module
     * some kernels lack, and the bandwidth part of the test stands without it. */
    char cmd[160];
    snprintf(cmd, sizeof cmd, "tc -n %s qdisc add dev sle%d root netem delay 10ms 2>/dev/null",
             ns_edge, p);
    if (system(cmd) == 0)
        added_rtt = 0.010;
    else
        printf("netem is not available here: testing bandwidth only\n");
    return 0;
}

static void run_edge(const char *store, int ready_fd, int stop_fd)
{
    if (enter(ns_edge)) _exit(2);
    fake_ctx fc = {0};
    sl_edge_config cfg;
    fake_edge_config(&cfg, store);
    cfg.host = EDGE_ADDR;
    cfg.port = EDGE_PORT;
    sl_edge_backend be = fake_backend(&fc);
    sl_edge_server *s;
    if (sl_edge_start(&cfg, &be, &s) != SL_OK) {
        fprintf(stderr, "edge: %s\n", sl_errmsg());
        _exit(2);
    }
    if (write(ready_fd, "r", 1) != 1) _exit(2);
    char b;
    while (read(stop_fd, &b, 1) > 0) {
    }
    sl_edge_stop(s);
    _exit(0);
}

int main(void)
{
    if (getuid() != 0) return skip("network namespaces need root");
    if (probe())
        return skip("this machine cannot make a network namespace, a veth pair and a tbf qdisc");
    if (setup()) {
        cleanup();
        fprintf(stderr, "FAIL: the machine can make namespaces, veth pairs and tbf qdiscs, but "
                        "the test's link could not be set up (command above)\n");
        return 1;
    }
    char dir[600], store[700];
    fake_store_dirs(dir, store);
    fake_write_bundle(store, "p.h5", PAIR, 1.0, N_IN);

    int ready[2], stop[2];
    if (pipe(ready) || pipe(stop)) return 2;
    fflush(stdout); /* or the children print the parent's buffer again */
    pid_t edge = fork();
    if (edge == 0) {
        close(ready[0]);
        close(stop[1]);
        run_edge(store, ready[1], stop[0]);
    }
    close(ready[1]);
    close(stop[0]);
    char b;
    CHECK_EQ(read(ready[0], &b, 1), 1);

    pid_t dev = fork();
    if (dev == 0) {
        if (enter(ns_dev)) _exit(2);
        sl_client_config cfg;
        sl_client_config_defaults(&cfg);
        cfg.host = EDGE_ADDR;
        cfg.port = EDGE_PORT;
        cfg.token = FAKE_TOKEN;
        cfg.token_len = strlen(FAKE_TOKEN);
        cfg.zstd_level = 0;
        sl_client *c = fake_client_new(&cfg);
        double rtt;
        CHECK_OK(sl_client_ping(c, &rtt), sl_errmsg());
        CHECK(rtt >= added_rtt);
        /* Upper bounds are generous (a loaded machine schedules late); the lower ones hold. */
        TU_CHECK_MSG(rtt < added_rtt + 0.05, "ping %.2f ms", rtt * 1e3);
        sl_wire_tensor in = fake_noise(N_IN, 7);
        uint8_t pair[16];
        sl_pair_from_hex(PAIR, pair);
        for (int rep = 0; rep < 3; rep++) {
            sl_client_result r;
            CHECK_OK(sl_client_infer(c, pair, &in, &r), r.error);
            double want = (double)r.timing.bytes_up * 8 / RATE_BPS + added_rtt;
            /* tbf lets its 4 kB bucket through at once; TCP and the qdisc add a little. */
            TU_CHECK_MSG(r.timing.transfer_s > 0.85 * want, "%.4f s, model %.4f s",
                         r.timing.transfer_s, want);
            TU_CHECK_MSG(r.timing.transfer_s < 2.5 * want + 0.05, "%.4f s, model %.4f s",
                         r.timing.transfer_s, want);
            printf("real link, tbf 10 Mbit/s, netem %.0f ms: %llu bytes up, transfer %.4f s "
                   "(model %.4f s), ping %.2f ms\n",
                   added_rtt * 1e3, (unsigned long long)r.timing.bytes_up, r.timing.transfer_s,
                   want, rtt * 1e3);
            sl_client_result_free(&r);
        }
        sl_wire_tensor_free(&in);
        sl_client_free(c);
        int rc = TU_DONE();
        fflush(stdout); /* _exit does not flush */
        _exit(rc);
    }
    int st = 0;
    waitpid(dev, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(stop[1]);
    int est = 0;
    waitpid(edge, &est, 0);
    CHECK(WIFEXITED(est) && WEXITSTATUS(est) == 0);
    cleanup();
    tu_rmtree(dir);
    return TU_DONE();
}
