/* test_shaper.c: the in-process link model: X bytes at B bit/s take about X*8/B, the RTT is
 * added once per exchange, and pipelined requests overlap their round trips. */
#include "fake_backend.h"
#include "offloader/shaper.h"
#include "common/timeutil.h"
#include "testutil.h"

static const char *PAIR = "77777777777777777777777777777777";

static void test_bucket(void)
{
    sl_shaper *sh;
    CHECK_OK(sl_shaper_new(4e6, 0, 16384, &sh), sl_errmsg());
    double t0 = sl_now();
    for (int i = 0; i < 200000 / 10000; i++)
        sl_shaper_send(sh, 10000);
    double took = sl_now() - t0;
    double want = (200000.0 - 16384) * 8 / 4e6; /* the first burst leaves at once */
    /* Never faster than the bucket allows; the upper bound is generous, as a loaded machine
     * wakes the sender late (the test is labelled timing and runs alone). */
    TU_CHECK_MSG(took >= 0.85 * want, "%.3f s, model %.3f s", took, want);
    TU_CHECK_MSG(took < 2 * want + 0.05, "%.3f s, model %.3f s", took, want);
    printf("200 kB at 4 Mbit/s: %.3f s (model %.3f s)\n", took, want);

    /* Download side: frames queue behind each other, plus the RTT, without blocking. */
    sl_shaper *d;
    CHECK_OK(sl_shaper_new(8e6, 0.05, 0, &d), sl_errmsg());
    double t = sl_now() + 10;
    double r1 = sl_shaper_recv_release(d, 10000, t);
    double r2 = sl_shaper_recv_release(d, 10000, t);
    CHECK_NEAR(r1, t + 0.01 + 0.05, 1e-9);
    CHECK_NEAR(r2, t + 0.02 + 0.05, 1e-9);
    CHECK_NEAR(sl_shaper_recv_release(NULL, 10000, t), t, 0);
    sl_shaper_free(d);
    sl_shaper_free(sh);

    CHECK_EQ(sl_shaper_new(1e6, -1, 0, &sh), SL_EARG);
    CHECK(sh == NULL);
}

static void test_over_loopback(const char *store)
{
    enum { N_IN = 25000 };
    fake_write_bundle(store, "p.h5", PAIR, 1.0, N_IN);
    uint8_t pair[16];
    sl_pair_from_hex(PAIR, pair);
    fake_ctx fc = {0};
    sl_edge_server *s = fake_edge_start(&fc, store, 0, 4, 16);

    sl_shaper *sh;
    double bw = 8e6, rtt = 0.04;
    CHECK_OK(sl_shaper_new(bw, rtt, 16384, &sh), sl_errmsg());
    sl_client_config cfg = fake_client_config(sl_edge_port(s));
    cfg.shaper = sh;
    cfg.zstd_level = 0;
    sl_client *c = fake_client_new(&cfg);
    CHECK_OK(sl_client_connect(c), sl_errmsg());
    usleep(50000); /* let the handshake's bucket debt refill */
    sl_wire_tensor in = fake_noise(N_IN, 99);
    sl_client_result r;
    CHECK_OK(sl_client_infer(c, pair, &in, &r), r.error);
    double up = ((double)r.timing.bytes_up - 16384) * 8 / bw;
    double down = (double)r.timing.bytes_down * 8 / bw;
    double want = up + down + rtt;
    /* Never faster than the model; slower only by what loopback, copies and scheduling add. */
    TU_CHECK_MSG(r.timing.transfer_s > 0.9 * want, "%.4f s, model %.4f s", r.timing.transfer_s,
                 want);
    TU_CHECK_MSG(r.timing.transfer_s < 2 * want + 0.05, "%.4f s, model %.4f s", r.timing.transfer_s,
                 want);
    printf("%llu bytes up at 8 Mbit/s + 40 ms RTT: transfer %.4f s (model %.4f s)\n",
           (unsigned long long)r.timing.bytes_up, r.timing.transfer_s, want);
    sl_client_result_free(&r);
    sl_client_free(c);
    sl_shaper_free(sh);

    /* Pipelined on a fast link with a long RTT: four round trips overlap instead of adding. */
    CHECK_OK(sl_shaper_new(1e9, 0.1, 0, &sh), sl_errmsg());
    cfg.shaper = sh;
    cfg.max_inflight = 4;
    c = fake_client_new(&cfg);
    CHECK_OK(sl_client_connect(c), sl_errmsg());
    double t0 = sl_now();
    for (int i = 0; i < 4; i++)
        sl_client_submit(c, pair, &in, NULL);
    for (int i = 0; i < 4; i++) {
        CHECK_OK(sl_client_wait(c, 0, &r), sl_errmsg());
        CHECK_OK(r.status, r.error);
        CHECK(r.timing.total_s >= 0.1);
        sl_client_result_free(&r);
    }
    double took = sl_now() - t0;
    TU_CHECK_MSG(took >= 0.1, "%.3f s", took);
    /* Serial round trips would take 0.4 s; overlapping ones about 0.1 s. */
    TU_CHECK_MSG(took < 0.3, "%.3f s: the round trips did not overlap", took);
    printf("4 pipelined requests, 100 ms RTT: %.3f s\n", took);
    sl_client_free(c);
    sl_shaper_free(sh);
    sl_wire_tensor_free(&in);
    sl_edge_stop(s);
}

int main(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    test_bucket();
    test_over_loopback(dir);
    tu_rmtree(dir);
    return TU_DONE();
}
