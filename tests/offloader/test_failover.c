/* test_failover.c: a client given several edges (sl_client_config.edges) over loopback: it
 * skips an edge that is down at start, and when the edge serving it stops in the middle of a
 * pipelined run, every request still gets exactly one right answer, from another edge, each
 * naming the edge that answered; a malformed list is refused. */
#include "fake_backend.h"
#include "testutil.h"

#include <math.h>
#include <pthread.h>

#define N 240
#define INFLIGHT 4

static const char *PAIR = "cccccccccccccccccccccccccccccccc";

typedef struct killer {
    fake_ctx *fc;
    sl_edge_server *victim;
    int after_runs;
} killer;

static void *kill_main(void *arg)
{
    killer *k = arg;
    while (atomic_load(&k->fc->runs) < k->after_runs)
        usleep(1000);
    sl_edge_stop(k->victim);
    return NULL;
}

int main(void)
{
    char dir[600], store[700];
    fake_store_dirs(dir, store);
    fake_write_bundle(store, "c.h5", PAIR, 1.0, 4);
    uint8_t pair[16];
    sl_pair_from_hex(PAIR, pair);

    /* A port nobody listens on: taken and released at once. */
    fake_ctx fdead = {0};
    sl_edge_server *dead = fake_edge_start(&fdead, store, 0, 1, 4);
    int dead_port = sl_edge_port(dead);
    sl_edge_stop(dead);

    fake_ctx fa = {.delay_ms = 1}, fb = {.delay_ms = 1};
    sl_edge_server *a = fake_edge_start(&fa, store, 0, 2, 64);
    sl_edge_server *b = fake_edge_start(&fb, store, 0, 2, 64);
    char list[200], addr_a[64], addr_b[64];
    snprintf(addr_a, sizeof addr_a, "127.0.0.1:%d", sl_edge_port(a));
    snprintf(addr_b, sizeof addr_b, "127.0.0.1:%d", sl_edge_port(b));
    snprintf(list, sizeof list, "127.0.0.1:%d,%s,%s", dead_port, addr_a, addr_b);

    sl_client_config cfg = fake_client_config(0);
    cfg.edges = list;
    cfg.max_inflight = INFLIGHT;
    cfg.backoff_base = 0.05;
    sl_client *c = fake_client_new(&cfg);
    CHECK_OK(sl_client_connect(c), sl_errmsg());
    CHECK_STR(sl_client_edge(c), addr_a); /* the dead first edge is skipped */

    /* Edge a stops after 60 runs, with requests queued and in flight on it. */
    killer k = {&fa, a, 60};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, kill_main, &k) == 0);
    uint64_t ids[N];
    int answered[N] = {0}, by_a = 0, by_b = 0, b_after_a = 1, b_from = -1;
    sl_wire_tensor in[N];
    int next_wait = 0;
    for (int i = 0; i < N || next_wait < N;) {
        if (i < N && i - next_wait < INFLIGHT) {
            in[i] = fake_input(1, 4, (float)i);
            CHECK_OK(sl_client_submit(c, pair, &in[i], &ids[i]), sl_errmsg());
            i++;
            continue;
        }
        sl_client_result r;
        int w = next_wait++;
        CHECK_OK(sl_client_wait(c, ids[w], &r), sl_errmsg());
        TU_CHECK_MSG(r.status == SL_OK, "request %d: %s", w, r.error);
        if (r.status == SL_OK) {
            answered[w]++;
            CHECK(fabs(((float *)r.output.data)[0] - fake_expected_sum(0, 4, (float)w, 1.0)) <
                  1e-3);
            /* Once an answer came from b, every request submitted after it goes to b. (One
             * submitted before may still be a's: a runs two workers, so it can answer request
             * k + 1 just before it stops while k, lost with it, is resent to b.) */
            if (strcmp(r.timing.edge, addr_a) == 0) {
                by_a++;
                if (b_from >= 0 && w >= b_from) b_after_a = 0;
            } else if (strcmp(r.timing.edge, addr_b) == 0) {
                by_b++;
                if (b_from < 0) b_from = i;
            } else {
                TU_CHECK_MSG(0, "request %d answered by '%s'", w, r.timing.edge);
            }
        }
        sl_client_result_free(&r);
        /* Claimed once: the same id has no second result. */
        CHECK_EQ(sl_client_wait(c, ids[w], &r), SL_ENOTFOUND);
        sl_wire_tensor_free(&in[w]);
    }
    pthread_join(th, NULL);
    for (int i = 0; i < N; i++)
        TU_CHECK_MSG(answered[i] == 1, "request %d answered %d times", i, answered[i]);
    CHECK_EQ(sl_client_pending(c), 0);
    TU_CHECK_MSG(by_a >= 50 && by_b >= 1 && by_a + by_b == N, "a %d, b %d", by_a, by_b);
    CHECK(b_after_a); /* once moved to b, it stays there (a is gone) */
    CHECK_STR(sl_client_edge(c), addr_b);
    sl_client_free(c);
    sl_edge_stop(b);

    /* Malformed lists are refused, naming the entry. */
    cfg.edges = "127.0.0.1:1,,127.0.0.1:2";
    CHECK_EQ(sl_client_new(&cfg, &c), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "empty entry");
    cfg.edges = "127.0.0.1:1,127.0.0.1:1";
    CHECK_EQ(sl_client_new(&cfg, &c), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "listed twice");
    cfg.edges = "127.0.0.1:1,nohost";
    CHECK_EQ(sl_client_new(&cfg, &c), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "nohost");
    tu_rmtree(dir);
    return TU_DONE();
}
