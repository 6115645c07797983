/* test_edge_server.c: the edge over loopback: several bundles, unknown pair ids, bad shapes,
 * every malformed frame refused while other devices keep being served, BUSY when the queue is
 * full or too many devices connect, 16 devices at once without errors, and peers that never
 * authenticate (silent or trickling a byte at a time) neither outstaying the handshake deadline
 * nor keeping a device out. */
#include "fake_backend.h"
#include "common/timeutil.h"
#include "testutil.h"

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <zlib.h>

static const char *PAIR_A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char *PAIR_B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
static uint8_t pair_a[16], pair_b[16];

/* One request on a fresh connection of its own; 1 when the answer is right. */
static int good_request(int port, const uint8_t *pair, double scale)
{
    sl_client_config cfg = fake_client_config(port);
    sl_client *c;
    if (sl_client_new(&cfg, &c)) return 0;
    sl_wire_tensor in = fake_input(3, 4, 2.0f);
    sl_client_result r;
    int ok = sl_client_infer(c, pair, &in, &r) == SL_OK && r.output.ndim == 2 &&
             r.output.dims[0] == 3 && r.output.dims[1] == 2;
    for (int i = 0; ok && i < 3; i++)
        ok = fabs(((float *)r.output.data)[2 * i] - fake_expected_sum(i, 4, 2.0f, scale)) < 1e-3;
    if (!ok) fprintf(stderr, "good request failed: %s\n", r.error);
    sl_client_result_free(&r);
    sl_wire_tensor_free(&in);
    sl_client_free(c);
    return ok;
}

static void test_bundles_and_request_errors(int port)
{
    CHECK(good_request(port, pair_a, 1.0));
    CHECK(good_request(port, pair_b, -2.5));

    sl_client_config cfg = fake_client_config(port);
    sl_client *c = fake_client_new(&cfg);
    sl_client_result r;
    uint8_t unknown[16] = {0xde, 0xad};
    sl_wire_tensor in = fake_input(1, 4, 0.0f);
    CHECK_EQ(sl_client_infer(c, unknown, &in, &r), SL_ENOTFOUND);
    CHECK_EQ(r.edge_code, SL_PERR_UNKNOWN_PAIR);
    const char *err = r.error;
    CHECK_CONTAINS(err, "dead0000000000000000000000000000");
    sl_client_result_free(&r);

    sl_wire_tensor wrong = fake_input(1, 5, 0.0f);
    CHECK_EQ(sl_client_infer(c, pair_a, &wrong, &r), SL_ESHAPE);
    CHECK_EQ(r.edge_code, SL_PERR_BAD_SHAPE);
    CHECK_CONTAINS(err, "f32[1x5] does not fit [N, 4]");
    sl_client_result_free(&r);
    sl_wire_tensor_free(&wrong);

    /* u8 input is dequantised by the backend: same connection still fine after errors. */
    int64_t dims[2] = {1, 4};
    sl_wire_tensor q;
    sl_wire_tensor_alloc(&q, SL_WIRE_U8, 2, dims);
    q.scale = 0.5f;
    q.zero_point = 10;
    uint8_t *qd = q.data;
    qd[0] = 10, qd[1] = 12, qd[2] = 14, qd[3] = 30;
    CHECK_OK(sl_client_infer(c, pair_a, &q, &r), r.error);
    CHECK_NEAR(((float *)r.output.data)[0], 0.5 * (0 + 2 + 4 + 20), 1e-5);
    CHECK_NEAR(((float *)r.output.data)[1], 10.0, 1e-5);
    CHECK(r.timing.total_s >= r.timing.edge_s);
    CHECK(r.timing.bytes_up > 40 && r.timing.bytes_down > 40);
    sl_client_result_free(&r);
    sl_wire_tensor_free(&q);

    /* A cut of two tensors ([1,1] f32 + [1,3] u8) gives what one [1,4] tensor gives. */
    sl_wire_tensor two[2];
    int64_t d1[2] = {1, 1}, d3[2] = {1, 3};
    sl_wire_tensor_alloc(&two[0], SL_WIRE_F32, 2, d1);
    sl_wire_tensor_alloc(&two[1], SL_WIRE_U8, 2, d3);
    ((float *)two[0].data)[0] = 0.0f;
    two[1].scale = 0.5f;
    two[1].zero_point = 10;
    memcpy(two[1].data, (uint8_t[]){12, 14, 30}, 3);
    uint64_t id;
    CHECK_OK(sl_client_submit_n(c, pair_a, two, 2, &id), sl_errmsg());
    CHECK_OK(sl_client_wait(c, id, &r), sl_errmsg());
    CHECK_OK(r.status, r.error);
    CHECK_NEAR(((float *)r.output.data)[0], 0.5 * (2 + 4 + 20), 1e-5);
    sl_client_result_free(&r);
    two[1].dims[1] = 1; /* 1 + 1 columns do not fit [N, 4] */
    two[1].nbytes = 1;
    CHECK_OK(sl_client_submit_n(c, pair_a, two, 2, &id), sl_errmsg());
    CHECK_OK(sl_client_wait(c, id, &r), sl_errmsg());
    CHECK_EQ(r.status, SL_ESHAPE);
    CHECK_CONTAINS(err, "f32[1x1] u8[1x1]");
    sl_client_result_free(&r);
    sl_wire_tensor_free(&two[0]);
    sl_wire_tensor_free(&two[1]);

    double rtt;
    CHECK_OK(sl_client_ping(c, &rtt), sl_errmsg());
    CHECK(rtt >= 0 && rtt < 5); /* bound against nonsense only: the machine may be loaded */
    sl_wire_tensor_free(&in);
    sl_client_free(c);
}

/* Sends raw bytes on an authenticated connection and expects an ERROR `code` then a close. */
static void bad_frame_case(int port, const uint8_t *bytes, size_t len, int half_close, int code,
                           const char *text_part)
{
    sl_conn raw;
    raw_connect(port, &raw, 1);
    CHECK_OK(sl_conn_write_full(&raw, bytes, len), sl_errmsg());
    if (half_close) shutdown(raw.fd, SHUT_WR);
    char buf[1200];
    const char *text = buf;
    CHECK_EQ(raw_answer(&raw, buf, sizeof buf), code);
    CHECK_CONTAINS(text, text_part);
    CHECK_EQ(raw_answer(&raw, buf, sizeof buf), 0);
    CHECK_CONTAINS(text, "closed by peer");
    sl_conn_close(&raw);
    /* Everyone else is still served. */
    CHECK(good_request(port, pair_a, 1.0));
}

static void recrc(uint8_t *b, size_t len)
{
    uLong c = crc32(crc32(0L, Z_NULL, 0), b, 36);
    c = crc32(c, b + 40, (uInt)(len - 40));
    sl_le32_put(b + 36, (uint32_t)c);
}

static void test_malformed_frames(int port)
{
    sl_wire_tensor in = fake_input(1, 4, 0.0f);
    uint8_t *p, *frame;
    size_t plen, flen;
    sl_wire_encode(&in, 0, 1 << 20, &p, &plen, NULL);
    sl_proto_encode(SL_MSG_INFER, 0, 9, pair_a, p, (uint32_t)plen, &frame, &flen);
    uint8_t *m = malloc(flen);

    memcpy(m, frame, flen);
    memcpy(m, "HTTP", 4);
    bad_frame_case(port, m, flen, 0, SL_PERR_BAD_FRAME, "bad magic");

    memcpy(m, frame, flen);
    m[flen - 3] ^= 0x10;
    bad_frame_case(port, m, flen, 0, SL_PERR_BAD_FRAME, "CRC mismatch");

    memcpy(m, frame, flen);
    sl_le32_put(m + 32, 0x7fffffff);
    recrc(m, 40);
    bad_frame_case(port, m, 40, 0, SL_PERR_TOO_LARGE, "over the limit");

    bad_frame_case(port, frame, flen - 7, 1, SL_PERR_BAD_FRAME, "truncated INFER frame");

    memcpy(m, frame, flen);
    m[5] = 77;
    recrc(m, flen);
    bad_frame_case(port, m, flen, 0, SL_PERR_UNKNOWN_TYPE, "unknown message type 77");

    memcpy(m, frame, flen);
    m[4] = 9;
    recrc(m, flen);
    bad_frame_case(port, m, flen, 0, SL_PERR_VERSION, "protocol version 9 is not supported");

    /* A well-formed frame with a garbage tensor payload only fails that request. */
    sl_conn raw;
    raw_connect(port, &raw, 1);
    sl_proto_send(&raw, SL_MSG_INFER, 0, 11, pair_a, "junk", 4);
    char buf[1200];
    const char *text = buf;
    CHECK_EQ(raw_answer(&raw, buf, sizeof buf), SL_PERR_BAD_FRAME);
    CHECK_CONTAINS(text, "INFER payload");
    sl_proto_send(&raw, SL_MSG_PING, 0, 12, NULL, "x", 1);
    CHECK_EQ(raw_answer(&raw, buf, sizeof buf), -SL_MSG_PONG);
    /* A message only a server sends is refused, the connection stays. */
    sl_proto_send(&raw, SL_MSG_RESULT, 0, 13, NULL, NULL, 0);
    CHECK_EQ(raw_answer(&raw, buf, sizeof buf), SL_PERR_BAD_STATE);
    sl_proto_send(&raw, SL_MSG_PING, 0, 14, NULL, NULL, 0);
    CHECK_EQ(raw_answer(&raw, buf, sizeof buf), -SL_MSG_PONG);
    sl_conn_close(&raw);

    free(m);
    free(frame);
    free(p);
    sl_wire_tensor_free(&in);
}

static void test_busy(const char *store)
{
    fake_ctx fc = {0};
    fc.delay_ms = 150;
    sl_edge_config cfg;
    fake_edge_config(&cfg, store);
    cfg.workers = 1;
    cfg.queue_capacity = 1;
    cfg.max_clients = 1;
    sl_edge_backend be = fake_backend(&fc);
    sl_edge_server *s;
    CHECK_OK(sl_edge_start(&cfg, &be, &s), sl_errmsg());
    int port = sl_edge_port(s);

    sl_client_config ccfg = fake_client_config(port);
    ccfg.max_inflight = 4;
    ccfg.busy_retries = 10;
    sl_client *c = fake_client_new(&ccfg);
    sl_wire_tensor in = fake_input(1, 4, 1.0f);
    sl_client_submit(c, pair_a, &in, NULL);
    WAIT_UNTIL(atomic_load(&fc.runs) > 0, 30); /* the one worker is now busy */
    for (int i = 0; i < 3; i++)
        sl_client_submit(c, pair_a, &in, NULL);
    int ok = 0, busy = 0;
    for (int i = 0; i < 4; i++) {
        sl_client_result r;
        CHECK_OK(sl_client_wait(c, 0, &r), sl_errmsg());
        if (r.status == SL_OK) ok++;
        if (r.status == SL_EBUSY) {
            busy++;
            const char *e = r.error;
            CHECK_CONTAINS(e, "queue of 1 requests");
            CHECK_NEAR(r.retry_after_s, 0.02, 1e-9);
        }
        sl_client_result_free(&r);
    }
    /* One runs, one waits in the queue of 1; the other two are told BUSY at once. */
    CHECK_EQ(ok, 2);
    CHECK_EQ(busy, 2);
    CHECK_EQ(sl_client_pending(c), 0);

    /* Synchronous requests ride out a full queue by resending after the BUSY hint. */
    sl_client_submit(c, pair_a, &in, NULL);
    WAIT_UNTIL(atomic_load(&fc.runs) >= 3, 30);
    sl_client_submit(c, pair_a, &in, NULL); /* fills the queue again */
    sl_client_result r;
    sl_edge_stats st;
    sl_edge_get_stats(s, &st);
    uint64_t busy_before = st.busy;
    CHECK_OK(sl_client_infer(c, pair_a, &in, &r), r.error); /* 10 x 20 ms covers 150 ms */
    sl_client_result_free(&r);
    sl_edge_get_stats(s, &st);
    CHECK(st.busy > busy_before);
    for (int i = 0; i < 2; i++) {
        CHECK_OK(sl_client_wait(c, 0, &r), sl_errmsg());
        CHECK_OK(r.status, r.error);
        sl_client_result_free(&r);
    }

    /* A second device over max_clients is refused with BUSY, not left hanging; peers that have
     * not authenticated do not count, so with one device connected and idle peers around, the
     * refusal names max_clients, and once the device leaves another gets in. */
    sl_conn idle[3];
    for (int i = 0; i < 3; i++)
        raw_connect(port, &idle[i], 0);
    sl_client_config c2cfg = fake_client_config(port);
    c2cfg.connect_attempts = 1;
    sl_client *c2;
    sl_client_new(&c2cfg, &c2);
    CHECK_EQ(sl_client_connect(c2), SL_EBUSY);
    CHECK_CONTAINS(sl_errmsg(), "1 devices connected already");
    sl_client_free(c);
    WAIT_UNTIL((sl_edge_get_stats(s, &st), st.clients == 0), 10);
    CHECK_OK(sl_client_connect(c2), sl_errmsg());
    sl_client_free(c2);
    for (int i = 0; i < 3; i++)
        sl_conn_close(&idle[i]);
    sl_wire_tensor_free(&in);
    sl_edge_get_stats(s, &st);
    CHECK(st.busy >= 4);
    sl_edge_stop(s);
}

/* Seconds until the edge closes raw connection c, reading and discarding what it sends. */
static double seconds_to_close(sl_conn *c, double limit)
{
    double t0 = sl_now();
    char buf[256];
    while (sl_now() - t0 < limit)
        if (raw_answer(c, buf, sizeof buf) == 0) break;
    return sl_now() - t0;
}

typedef struct trickle_arg {
    int port;
    double closed_after; /* seconds from the first byte until the edge closed; -1 = never */
} trickle_arg;

/* Slowloris: a HELLO sent one byte every 50 ms (44 bytes = 2.2 s), far slower than the test
 * edge's 0.5 s handshake deadline although every single read is quick. */
static void *trickle_main(void *arg)
{
    trickle_arg *a = arg;
    sl_conn c;
    raw_connect(a->port, &c, 0);
    uint8_t hello[4] = {1, 0, 1, 0}, *frame;
    size_t len;
    sl_proto_encode(SL_MSG_HELLO, 0, 0, NULL, hello, 4, &frame, &len);
    double t0 = sl_now();
    a->closed_after = -1;
    for (size_t i = 0; i < len; i++) {
        if (sl_conn_write_full(&c, frame + i, 1) != SL_OK) break;
        usleep(50000);
    }
    struct pollfd p = {c.fd, POLLIN, 0};
    if (poll(&p, 1, 5000) == 1) {
        char b[64];
        while (recv(c.fd, b, sizeof b, 0) > 0) {
        }
        a->closed_after = sl_now() - t0;
    }
    free(frame);
    sl_conn_close(&c);
    return NULL;
}

static sl_edge_server *small_edge(fake_ctx *fc, const char *store, double auth_timeout)
{
    sl_edge_config cfg;
    fake_edge_config(&cfg, store);
    cfg.max_clients = 2;
    cfg.max_unauth = 4;
    cfg.auth_timeout = auth_timeout;
    sl_edge_backend be = fake_backend(fc);
    sl_edge_server *s = NULL;
    CHECK_OK(sl_edge_start(&cfg, &be, &s), sl_errmsg());
    if (!s) exit(1);
    return s;
}

static void test_unauthenticated_peers(const char *store)
{
    fake_ctx fc = {0};
    sl_edge_server *s = small_edge(&fc, store, 0.5);
    int port = sl_edge_port(s);

    /* The deadline covers the whole handshake: a silent peer and a trickling one are both
     * closed after about 0.5 s (the trickler would need 2.2 s for its HELLO alone). */
    sl_conn silent;
    raw_connect(port, &silent, 0);
    double t = seconds_to_close(&silent, 10);
    TU_CHECK_MSG(t >= 0.4 && t < 5, "silent peer closed after %.3f s", t);
    sl_conn_close(&silent);
    trickle_arg ta = {port, 0};
    pthread_t th;
    pthread_create(&th, NULL, trickle_main, &ta);
    pthread_join(th, NULL);
    TU_CHECK_MSG(ta.closed_after >= 0.4 && ta.closed_after < 2.0,
                 "trickling peer closed after %.3f s", ta.closed_after);

    sl_edge_stop(s);

    /* Twenty silent peers, five times the room for handshakes: a device still gets in (the
     * oldest handshakes make room for it) and is answered, more than max_clients (2) idle
     * peers notwithstanding. A long deadline here, so that only eviction closes them. */
    s = small_edge(&fc, store, 60);
    port = sl_edge_port(s);
    enum { NIDLE = 20 };
    sl_conn idle[NIDLE];
    for (int i = 0; i < NIDLE; i++)
        raw_connect(port, &idle[i], 0);
    CHECK(good_request(port, pair_a, 1.0));
    sl_edge_stats st;
    sl_edge_get_stats(s, &st);
    CHECK_EQ(st.evicted, NIDLE - 4 + 1); /* the device's own connection made room too */
    CHECK(st.handshakes <= 4);
    /* Evicted peers were closed, not left open. */
    int closed = 0;
    for (int i = 0; i < NIDLE; i++) {
        struct pollfd p = {idle[i].fd, POLLIN, 0};
        char b[8];
        closed += poll(&p, 1, 2000) == 1 && recv(idle[i].fd, b, sizeof b, MSG_DONTWAIT) == 0;
        if (closed == NIDLE - 4 + 1) break;
    }
    CHECK_EQ(closed, NIDLE - 4 + 1);
    for (int i = 0; i < NIDLE; i++)
        sl_conn_close(&idle[i]);
    sl_edge_stop(s);
}

typedef struct load_arg {
    int port, id, requests, failures;
    double until;
} load_arg;

static void *load_main(void *arg)
{
    load_arg *a = arg;
    sl_client_config cfg = fake_client_config(a->port);
    cfg.max_inflight = 2;
    sl_client *c;
    if (sl_client_new(&cfg, &c)) {
        a->failures++;
        return NULL;
    }
    const uint8_t *pair = a->id % 2 ? pair_a : pair_b;
    double scale = a->id % 2 ? 1.0 : -2.5;
    while (sl_now() < a->until) {
        float base = (float)(a->id * 100 + a->requests % 50);
        sl_wire_tensor in = fake_input(2, 4, base);
        sl_client_result r;
        int rc = sl_client_infer(c, pair, &in, &r);
        if (rc || fabs(((float *)r.output.data)[2] - fake_expected_sum(1, 4, base, scale)) >
                      1e-2 * fabs(fake_expected_sum(1, 4, base, scale)) + 1e-3) {
            if (a->failures++ < 3) fprintf(stderr, "client %d: %s\n", a->id, r.error);
        }
        a->requests++;
        sl_client_result_free(&r);
        sl_wire_tensor_free(&in);
    }
    sl_client_free(c);
    return NULL;
}

static void test_sixteen_devices(int port, sl_edge_server *s)
{
    enum { N = 16 };
    pthread_t th[N];
    load_arg args[N];
    double until = sl_now() + 1.5;
    for (int i = 0; i < N; i++) {
        args[i] = (load_arg){port, i, 0, 0, until};
        pthread_create(&th[i], NULL, load_main, &args[i]);
    }
    int total = 0, failures = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        total += args[i].requests;
        failures += args[i].failures;
        CHECK(args[i].requests > 0);
    }
    CHECK_EQ(failures, 0);
    CHECK(total >= N);
    sl_edge_stats st;
    sl_edge_get_stats(s, &st);
    CHECK_EQ(st.busy, 0);
    printf("16 devices for 1.5 s: %d requests, %d failures\n", total, failures);
}

int main(void)
{
    char dir[600], store[700];
    fake_store_dirs(dir, store);
    sl_pair_from_hex(PAIR_A, pair_a);
    sl_pair_from_hex(PAIR_B, pair_b);
    fake_write_bundle(store, "a.h5", PAIR_A, 1.0, 4);
    fake_write_bundle(store, "b.h5", PAIR_B, -2.5, 4);
    fake_write_bundle(store, "broken.h5", "not a pair id", 1.0, 4);

    fake_ctx fc = {0};
    sl_edge_server *s = fake_edge_start(&fc, store, 0, 4, 64);
    int port = sl_edge_port(s);
    sl_edge_stats st;
    sl_edge_get_stats(s, &st);
    CHECK_EQ(st.bundles, 2); /* the broken file is skipped, the others served */
    test_bundles_and_request_errors(port);
    test_malformed_frames(port);
    test_sixteen_devices(port, s);
    sl_edge_get_stats(s, &st);
    CHECK_EQ(st.bad_frames, 6);
    sl_edge_stop(s);
    CHECK_EQ(atomic_load(&fc.unloads), atomic_load(&fc.loads));

    test_busy(store);
    test_unauthenticated_peers(store);
    tu_rmtree(dir);
    return TU_DONE();
}
