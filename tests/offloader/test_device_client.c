/* test_device_client.c: pipelined requests matched to their ids, the edge killed mid-stream and
 * restarted (every request answered: the ones lost with the connection are sent again), killed
 * for good (each lost request an explicit error saying it went out), an unreachable edge, and
 * the timing breakdown. */
#include "fake_backend.h"
#include "common/timeutil.h"
#include "testutil.h"

#include <pthread.h>

static const char *PAIR = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
static uint8_t pair[16];

static void test_pipelined(const char *store)
{
    fake_ctx fc = {0};
    fc.delay_step_ms = 8;
    sl_edge_server *s = fake_edge_start(&fc, store, 0, 4, 64);
    sl_client_config cfg = fake_client_config(sl_edge_port(s));
    cfg.max_inflight = 8;
    sl_client *c = fake_client_new(&cfg);
    enum { N = 40 };
    uint64_t ids[N];
    for (int i = 0; i < N; i++) {
        sl_wire_tensor in = fake_input(1, 6, (float)i);
        CHECK_OK(sl_client_submit(c, pair, &in, &ids[i]), sl_errmsg());
        sl_wire_tensor_free(&in);
    }
    int seen[N] = {0}, out_of_order = 0, matched = 0, last = -1;
    for (int k = 0; k < N; k++) {
        sl_client_result r;
        CHECK_OK(sl_client_wait(c, 0, &r), sl_errmsg());
        int i = -1;
        for (int j = 0; j < N; j++)
            if (ids[j] == r.request_id) i = j;
        CHECK(i >= 0);
        if (i < 0) continue;
        CHECK_EQ(seen[i], 0);
        seen[i] = 1;
        out_of_order += i < last;
        last = i;
        CHECK_OK(r.status, r.error);
        if (r.status == SL_OK &&
            fabs(((float *)r.output.data)[0] - fake_expected_sum(0, 6, (float)i, 3.0)) < 1e-3)
            matched++;
        sl_client_result_free(&r);
    }
    CHECK_EQ(matched, N);
    CHECK(out_of_order > 0); /* answers really came back in another order */
    sl_client_result r;
    CHECK_EQ(sl_client_wait(c, 0, &r), SL_ENOTFOUND);
    CHECK_EQ(sl_client_wait(c, ids[0], &r), SL_ENOTFOUND);
    sl_client_free(c);
    sl_edge_stop(s);
}

/* Several threads stream requests through one client; results are recorded as they are
 * claimed (by whichever thread) and matched to their requests at the end. */
typedef struct stream {
    sl_client *c;
    int n, nthreads;
    atomic_int next_thread, done;
    pthread_mutex_t lock;
    uint64_t *ids;    /* per request index, set by its submitter */
    uint64_t *res_id; /* per result, in the order claimed */
    int *res_status;
    float *res_value;
    char first_error[1200];
} stream;

static void collect(stream *st, sl_client_result *r)
{
    pthread_mutex_lock(&st->lock);
    int k = atomic_load(&st->done);
    st->res_id[k] = r->request_id;
    st->res_status[k] = r->status;
    st->res_value[k] = r->status == SL_OK ? ((float *)r->output.data)[0] : 0;
    if (r->status && !st->first_error[0])
        snprintf(st->first_error, sizeof st->first_error, "%s", r->error);
    atomic_fetch_add(&st->done, 1);
    pthread_mutex_unlock(&st->lock);
    sl_client_result_free(r);
}

static void *stream_main(void *arg)
{
    stream *st = arg;
    int me = atomic_fetch_add(&st->next_thread, 1);
    for (int i = me; i < st->n; i += st->nthreads) {
        sl_wire_tensor in = fake_input(1, 6, (float)i);
        uint64_t id;
        sl_client_submit(st->c, pair, &in, &id);
        pthread_mutex_lock(&st->lock);
        st->ids[i] = id;
        pthread_mutex_unlock(&st->lock);
        sl_wire_tensor_free(&in);
        if (sl_client_pending(st->c) >= 4) {
            sl_client_result r;
            if (sl_client_wait(st->c, 0, &r) == SL_OK) collect(st, &r);
        }
    }
    sl_client_result r;
    while (sl_client_wait(st->c, 0, &r) == SL_OK)
        collect(st, &r);
    return NULL;
}

/* The edge stops with requests in flight and is back 0.3 s later, within the client's
 * reconnect window: every request is answered, none twice. */
static void test_edge_killed_mid_stream(const char *store, int nthreads)
{
    fake_ctx fc = {0};
    fc.delay_ms = 4;
    sl_edge_server *s = fake_edge_start(&fc, store, 0, 2, 64);
    int port = sl_edge_port(s);
    sl_client_config cfg = fake_client_config(port);
    cfg.max_inflight = 4;
    cfg.connect_attempts = 30;
    cfg.backoff_base = 0.02;
    cfg.backoff_max = 0.2;
    enum { N = 120 };
    stream st = {0};
    st.n = N;
    st.nthreads = nthreads;
    pthread_mutex_init(&st.lock, NULL);
    st.ids = calloc(N, sizeof(uint64_t));
    st.res_id = calloc(N, sizeof(uint64_t));
    st.res_status = calloc(N, sizeof(int));
    st.res_value = calloc(N, sizeof(float));
    st.c = fake_client_new(&cfg);
    pthread_t th[4];
    for (int t = 0; t < nthreads; t++)
        pthread_create(&th[t], NULL, stream_main, &st);
    WAIT_UNTIL(atomic_load(&st.done) >= 30, 60);
    sl_edge_stop(s); /* killed with requests in flight */
    usleep(300000);
    s = fake_edge_start(&fc, store, port, 2, 64);
    for (int t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);

    int ok = 0, failed = 0, missing = 0, twice = 0, last_ok = 1;
    for (int i = 0; i < N; i++) {
        int found = -1;
        for (int k = 0; k < atomic_load(&st.done); k++) {
            if (st.res_id[k] != st.ids[i]) continue;
            twice += found >= 0;
            found = k;
        }
        if (found < 0) {
            missing++;
            continue;
        }
        if (st.res_status[found] == SL_OK) {
            ok += fabs(st.res_value[found] - fake_expected_sum(0, 6, (float)i, 3.0)) < 1e-3;
        } else {
            failed++;
            TU_CHECK_MSG(st.res_status[found] == SL_ENET || st.res_status[found] == SL_ETIMEOUT,
                         "request %d failed with status %d (first error: %s)", i,
                         st.res_status[found], st.first_error);
        }
        if (i >= N - nthreads) last_ok &= st.res_status[found] == SL_OK;
    }
    CHECK_EQ(atomic_load(&st.done), N);
    CHECK_EQ(missing, 0);
    CHECK_EQ(twice, 0);
    CHECK_EQ(ok + failed, N);
    /* What was in flight at the kill was sent again after the reconnect: nothing lost. */
    TU_CHECK_MSG(failed == 0, "%d failed; first error: %s", failed, st.first_error);
    CHECK_EQ(ok, N);
    CHECK(last_ok); /* reconnected and continued */
    printf("edge killed mid-stream, %d thread(s): %d results, %d explicit errors, %d missing\n",
           nthreads, ok, failed, missing);
    sl_client_free(st.c);
    sl_edge_stop(s);
    pthread_mutex_destroy(&st.lock);
    free(st.ids);
    free(st.res_id);
    free(st.res_status);
    free(st.res_value);
}

/* The edge stops with requests in flight and does not come back: each of them ends as an
 * explicit error that says the request did go out, after the bounded resends. */
static void test_edge_gone_for_good(const char *store)
{
    fake_ctx fc = {0};
    fc.delay_ms = 300;
    sl_edge_server *s = fake_edge_start(&fc, store, 0, 2, 64);
    sl_client_config cfg = fake_client_config(sl_edge_port(s));
    cfg.max_inflight = 2;
    cfg.connect_attempts = 2;
    cfg.backoff_base = 0.01;
    cfg.reconnect_window = 0.5;
    sl_client *c = fake_client_new(&cfg);
    sl_wire_tensor in = fake_input(1, 6, 1.0f);
    uint64_t ids[2];
    for (int i = 0; i < 2; i++)
        CHECK_OK(sl_client_submit(c, pair, &in, &ids[i]), sl_errmsg());
    WAIT_UNTIL(atomic_load(&fc.runs) >= 1, 30);
    sl_edge_stop(s);
    for (int i = 0; i < 2; i++) {
        sl_client_result r;
        CHECK_OK(sl_client_wait(c, ids[i], &r), sl_errmsg());
        CHECK_EQ(r.status, SL_ENET);
        const char *e = r.error;
        CHECK_CONTAINS(e, "edge unreachable");
        /* The first resend keeps trying for the window; by the second it has passed. */
        if (i == 0) CHECK_CONTAINS(e, "for 0.5 s since the connection was lost");
        CHECK_CONTAINS(e, "the request went out 1 time(s)");
        sl_client_result_free(&r);
    }
    CHECK_EQ(sl_client_pending(c), 0);
    sl_client_free(c);
    sl_wire_tensor_free(&in);
}

static void test_unreachable_and_timing(const char *store)
{
    /* A port nobody listens on: a free one, closed again. */
    int fd, port;
    sl_net_listen("127.0.0.1", 0, 1, &fd, &port);
    close(fd);
    sl_client_config cfg = fake_client_config(port);
    cfg.connect_attempts = 2;
    cfg.backoff_base = 0.01;
    sl_client *c = fake_client_new(&cfg);
    sl_wire_tensor in = fake_input(2, 6, 1.0f);
    uint64_t id;
    CHECK_EQ(sl_client_submit(c, pair, &in, &id), SL_ENET);
    sl_client_result r;
    CHECK_OK(sl_client_wait(c, id, &r), sl_errmsg());
    CHECK_EQ(r.request_id, id);
    CHECK_EQ(r.status, SL_ENET);
    const char *e = r.error;
    CHECK_CONTAINS(e, "edge unreachable");
    CHECK_CONTAINS(e, "after 2 attempts");
    sl_client_result_free(&r);
    sl_client_free(c);

    fake_ctx fc = {0};
    fc.delay_ms = 30;
    sl_edge_server *s = fake_edge_start(&fc, store, 0, 1, 4);
    cfg = fake_client_config(sl_edge_port(s));
    c = fake_client_new(&cfg);
    CHECK_OK(sl_client_infer(c, pair, &in, &r), r.error);
    sl_client_timing t = r.timing;
    /* Upper bounds only catch nonsense (a unit slip, a missed subtraction): the machine running
     * the tests may be loaded. */
    CHECK(t.encode_s >= 0 && t.encode_s < 2);
    CHECK(t.edge_s >= 0.029 && t.edge_s < 5);
    CHECK(t.edge_queue_s >= 0 && t.edge_queue_s < 2);
    CHECK(t.transfer_s >= 0 && t.transfer_s < 2);
    CHECK(t.total_s >= t.edge_s + t.transfer_s);
    CHECK_EQ(t.bytes_up, 40 + 12 + 8 + 16 + 2 * 6 * 4);
    CHECK_EQ(t.bytes_down, 40 + 16 + 12 + 8 + 16 + 2 * 2 * 4);
    sl_client_result_free(&r);

    /* An answer that takes longer than the request timeout becomes an explicit timeout. */
    fc.delay_ms = 400;
    sl_client_free(c);
    cfg.request_timeout = 0.1;
    c = fake_client_new(&cfg);
    CHECK_EQ(sl_client_infer(c, pair, &in, &r), SL_ETIMEOUT);
    e = r.error;
    CHECK_CONTAINS(e, "no answer to request");
    sl_client_result_free(&r);
    sl_client_free(c);
    sl_wire_tensor_free(&in);
    sl_edge_stop(s);
}

int main(void)
{
    char dir[600], store[700];
    fake_store_dirs(dir, store);
    sl_pair_from_hex(PAIR, pair);
    fake_write_bundle(store, "p.h5", PAIR, 3.0, 6);
    test_pipelined(store);
    test_edge_killed_mid_stream(store, 1);
    test_edge_killed_mid_stream(store, 2);
    test_edge_gone_for_good(store);
    test_unreachable_and_timing(store);
    tu_rmtree(dir);
    return TU_DONE();
}
