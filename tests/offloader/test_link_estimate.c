/* test_link_estimate.c: the adaptive device's link estimate and plan chooser on synthetic
 * timings: it converges to a known bandwidth and RTT, a slow edge does not read as a slow link
 * (and, once its edge times are counted, moves the choice to local-only and back),
 * noise around a plan boundary does not make it flap, and a real change of the link switches the
 * plan within a bounded number of requests. Noise comes from a fixed-seed generator. */
#include "common/status.h"
#include "offloader/link_estimate.h"
#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Uniform in [-1, 1), deterministic. */
static double noise(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / (double)(1ULL << 52) - 1.0;
}

/* The exchange of `bytes` on a link of bw bit/s and the given RTT, with edge compute edge_s and
 * the transfer time off by the factor (1 + jitter). */
static double elapsed(double bytes, double bw, double rtt, double edge_s, double jitter)
{
    return rtt + bytes * 8 / bw * (1 + jitter) + edge_s;
}

/* The plans of the hand-made profile (tests/preprocessor/fixture.h, docs/formats/plan-table.md):
 * local-only, the TL split at maxpool, edge-only. At RTT 20 ms local-only and the TL split cross
 * at 5.03 Mbit/s, the TL split and edge-only at 16.26 Mbit/s. The edge's share of fixed_s is
 * 5 ms in both offloading plans. */
static const sl_link_plan PLANS[3] = {{0.155, 0, 0, 3, -1, "fc", "", 0, 0},
                                      {0.05555, 50000, 1, 1, -1, "maxpool", "pool", 0.005, 0},
                                      {0.00635, 150000, 1, 0, -1, "image", "", 0.005, 0}};

static void test_converges(void)
{
    sl_link_config cfg = sl_link_config_default(100e6, 0.001); /* priors far off */
    sl_link_estimate e;
    CHECK_OK(sl_link_init(&e, &cfg), sl_errmsg());
    CHECK(sl_link_stale(&e, 0));
    CHECK_NEAR(sl_link_bandwidth(&e), 100e6, 1e-3);
    uint64_t s = 1;
    double t = 0;
    for (int i = 0; i < 5; i++, t += 0.1)
        CHECK_OK(sl_link_observe_rtt(&e, 0.020 * (1 + 0.05 * noise(&s)), t), sl_errmsg());
    for (int i = 0; i < 60; i++, t += 0.1)
        CHECK_OK(sl_link_observe(&e, 50000, elapsed(50000, 8e6, 0.020, 0.004, 0.1 * noise(&s)),
                                 0.004, t),
                 sl_errmsg());
    CHECK_NEAR(e.rtt_s, 0.020, 0.020 * 0.05);
    CHECK_NEAR(sl_link_bandwidth(&e), 8e6, 8e6 * 0.05);
    CHECK(!sl_link_stale(&e, t));
    CHECK(sl_link_stale(&e, t + 10));
    /* At the estimate the TL split is predicted at 0.05555 + 0.02 + 0.05 = 0.12555 s. */
    CHECK_NEAR(sl_link_predict(&e, &PLANS[1]), 0.12555, 0.12555 * 0.03);
    CHECK_NEAR(sl_link_predict(&e, &PLANS[0]), 0.155, 0);
}

/* The same link, 10 Mbit/s and 20 ms, answered by a fast edge (5 ms) and a slow one (around
 * 500 ms): the estimates agree, because the edge's compute is taken out, and the chooser keeps
 * the TL split that wins at 10 Mbit/s. A device that did not subtract the edge's time (it reports
 * 0 here) would read 400 kbit in ~0.55 s as a sub-1 Mbit/s link and leave for local-only. */
static void test_slow_edge(void)
{
    sl_link_config cfg = sl_link_config_default(10e6, 0.020);
    sl_link_estimate fast, slow, naive;
    CHECK_OK(sl_link_init(&fast, &cfg), sl_errmsg());
    CHECK_OK(sl_link_init(&slow, &cfg), sl_errmsg());
    CHECK_OK(sl_link_init(&naive, &cfg), sl_errmsg());
    sl_link_chooser cs, cn;
    CHECK_OK(sl_link_chooser_init(&cs, PLANS, 3, 1), sl_errmsg());
    CHECK_OK(sl_link_chooser_init(&cn, PLANS, 3, 1), sl_errmsg());
    uint64_t s = 7;
    for (int i = 0; i < 40; i++) {
        double j = 0.1 * noise(&s), edge_slow = 0.5 * (1 + 0.5 * noise(&s));
        double slow_t = elapsed(50000, 10e6, 0.02, edge_slow, j);
        CHECK_OK(sl_link_observe(&fast, 50000, elapsed(50000, 10e6, 0.02, 0.005, j), 0.005, i),
                 sl_errmsg());
        CHECK_OK(sl_link_observe(&slow, 50000, slow_t, edge_slow, i), sl_errmsg());
        CHECK_OK(sl_link_observe(&naive, 50000, slow_t, 0, i), sl_errmsg());
        sl_link_choose(&cs, &slow, NULL);
        sl_link_choose(&cn, &naive, NULL);
    }
    CHECK_NEAR(sl_link_bandwidth(&fast), 10e6, 10e6 * 0.05);
    CHECK_NEAR(sl_link_bandwidth(&slow), sl_link_bandwidth(&fast), 10e6 * 1e-6);
    CHECK_NEAR(sl_link_predict(&slow, &PLANS[2]), 0.14635, 0.14635 * 0.05);
    CHECK_EQ(cs.current, 1);
    CHECK_EQ(cs.switches, 0);
    CHECK(sl_link_bandwidth(&naive) < 1e6);
    CHECK_EQ(cn.current, 0); /* the mistake the edge's compute time prevents */
}

/* The same link with the edge starved for 40 requests (its time 20x its 5 ms share, as a loaded
 * edge showed in bench/trace.sh), then well again. The link estimate stays at 10 Mbit/s; the
 * edge ratio makes the TL split 0.1156 + 19 * 0.005 = 0.21 s against local-only's 0.155, so the
 * chooser moves to local-only, and back once the edge answers in 5 ms again. The ratio is
 * learnt only from the plan in use: on local-only the device learns it from probes. */
static void test_starved_edge(void)
{
    sl_link_config cfg = sl_link_config_default(10e6, 0.020);
    cfg.hold_s = 0;
    sl_link_estimate e;
    CHECK_OK(sl_link_init(&e, &cfg), sl_errmsg());
    CHECK_NEAR(e.edge_ratio, 1, 0);
    sl_link_chooser c;
    CHECK_OK(sl_link_chooser_init(&c, PLANS, 3, 1), sl_errmsg());
    uint64_t s = 3;
    int i = 0;
    for (; i < 40; i++) {
        double edge = 0.1 * (1 + 0.2 * noise(&s));
        CHECK_OK(sl_link_observe(&e, 50000, elapsed(50000, 10e6, 0.02, edge, 0), edge, i),
                 sl_errmsg());
        CHECK_OK(sl_link_observe_edge(&e, edge, PLANS[1].edge_s), sl_errmsg());
        sl_link_choose(&c, &e, NULL);
    }
    CHECK_NEAR(sl_link_bandwidth(&e), 10e6, 10e6 * 0.01);
    CHECK_NEAR(e.edge_ratio, 20, 20 * 0.1);
    CHECK_EQ(c.current, 0);
    /* probes of the TL split while on local-only: the edge is well again */
    for (; i < 80; i++) {
        CHECK_OK(sl_link_observe(&e, 50000, elapsed(50000, 10e6, 0.02, 0.005, 0), 0.005, i),
                 sl_errmsg());
        CHECK_OK(sl_link_observe_edge(&e, 0.005, PLANS[1].edge_s), sl_errmsg());
        sl_link_choose(&c, &e, NULL);
    }
    CHECK_NEAR(e.edge_ratio, 1, 0.05);
    CHECK_EQ(c.current, 1);
    CHECK_EQ(c.switches, 2);
    /* a plan without an edge share teaches nothing; a bad edge time is refused */
    double r = e.edge_ratio;
    CHECK_OK(sl_link_observe_edge(&e, 1.0, 0), sl_errmsg());
    CHECK(e.edge_ratio == r);
    CHECK_EQ(sl_link_observe_edge(&e, -1, 0.005), SL_EARG);
    CHECK_EQ(sl_link_observe_edge(&e, NAN, 0.005), SL_EARG);
}

/* A link that sits on the TL split / edge-only boundary (16.26 Mbit/s) with 30% noise on each
 * transfer: 1000 requests, the chooser never switches. Without the margin it would. */
static void test_no_flap(void)
{
    for (int margin = 1; margin >= 0; margin--) {
        sl_link_config cfg = sl_link_config_default(16.26e6, 0.020);
        if (!margin) {
            cfg.margin = 0;
            cfg.confirm = 1;
            cfg.hold_s = 0;
        }
        sl_link_estimate e;
        CHECK_OK(sl_link_init(&e, &cfg), sl_errmsg());
        sl_link_chooser c;
        CHECK_OK(sl_link_chooser_init(&c, PLANS, 3, 1), sl_errmsg());
        uint64_t s = 42;
        for (int i = 0; i < 1000; i++) {
            double bytes = PLANS[c.current].upload_bytes;
            CHECK_OK(sl_link_observe(&e, bytes,
                                     elapsed(bytes, 16.26e6, 0.02, 0.004, 0.3 * noise(&s)), 0.004,
                                     i * 0.1),
                     sl_errmsg());
            sl_link_choose(&c, &e, NULL);
        }
        if (margin)
            CHECK_EQ(c.switches, 0);
        else
            CHECK(c.switches > 10); /* the hysteresis is what holds it */
    }
}

/* 10 Mbit/s (TL split) -> 1 Mbit/s (local-only) -> 50 Mbit/s (edge-only) -> 10 Mbit/s. While on
 * local-only nothing is sent, so the device probes: one request's worth of the TL split's bytes
 * per estimate here. Each switch comes within `confirm` + 3 requests of the change (the jump
 * detector restarts the average after 3 samples off by 3x; then `confirm` estimates). */
static void test_switches(void)
{
    sl_link_config cfg = sl_link_config_default(10e6, 0.020);
    sl_link_estimate e;
    CHECK_OK(sl_link_init(&e, &cfg), sl_errmsg());
    sl_link_chooser c;
    CHECK_OK(sl_link_chooser_init(&c, PLANS, 3, 1), sl_errmsg());
    const double bw[4] = {10e6, 1e6, 50e6, 10e6};
    const int want[4] = {1, 0, 2, 1};
    uint64_t s = 3;
    double t = 0;
    int bound = cfg.confirm + cfg.jump_run;
    for (int seg = 0; seg < 4; seg++) {
        int switched_at = -1;
        for (int i = 0; i < 100; i++, t += 0.2) {
            double bytes = c.plans[c.current].pays_rtt ? PLANS[c.current].upload_bytes : 50000;
            double j = 0.1 * noise(&s);
            CHECK_OK(sl_link_observe(&e, bytes, elapsed(bytes, bw[seg], 0.02, 0.004, j), 0.004, t),
                     sl_errmsg());
            int sw;
            int k = sl_link_choose(&c, &e, &sw);
            if (sw && switched_at < 0) switched_at = i + 1;
            if (k == want[seg] && switched_at < 0 && seg == 0) switched_at = 0;
        }
        printf("%.0f Mbit/s: plan %d after %d requests\n", bw[seg] / 1e6, c.current, switched_at);
        CHECK_EQ(c.current, want[seg]);
        TU_CHECK_MSG(switched_at >= 0 && switched_at <= bound,
                     "segment %d (%.0f Mbit/s): switched after %d requests, bound %d", seg,
                     bw[seg] / 1e6, switched_at, bound);
    }
    CHECK_EQ(c.switches, 3);
    /* No new sample, no new decision: calling again changes nothing. */
    int sw = 1;
    CHECK_EQ(sl_link_choose(&c, &e, &sw), 1);
    CHECK_EQ(sw, 0);
}

static void test_bad_input(void)
{
    sl_link_config cfg = sl_link_config_default(10e6, 0.02);
    sl_link_estimate e;
    CHECK_OK(sl_link_init(&e, &cfg), sl_errmsg());
    CHECK(sl_link_observe(&e, 0, 0.1, 0.01, 0) == SL_EARG);
    CHECK(sl_link_observe(&e, 1000, -1, 0, 0) == SL_EARG);
    CHECK(sl_link_observe(&e, 1000, NAN, 0, 0) == SL_EARG);
    CHECK(sl_link_observe(&e, 1000, 0.1, 0.2, 0) == SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "0.2 s of compute in a 0.1 s exchange");
    CHECK(sl_link_observe_rtt(&e, -0.1, 0) == SL_EARG);
    CHECK_EQ(e.n_samples, 0);
    CHECK(sl_link_stale(&e, 0));
    /* Faster than the RTT allows: not an error, a transfer within the noise (censored) of an
     * exchange 6 ms under the RTT estimate, beyond its 5 ms noise. The bandwidth stays (8 kbit in
     * at most 5 ms meets 10 Mbit/s) and the RTT estimate comes down a fifth of the way to 14 ms. */
    CHECK_OK(sl_link_observe(&e, 1000, 0.015, 0.001, 1), sl_errmsg());
    CHECK_EQ(e.n_samples, 1);
    CHECK_EQ(e.n_censored, 1);
    CHECK_NEAR(sl_link_bandwidth(&e), 10e6, 1e-3);
    CHECK_NEAR(e.rtt_s, 0.0188, 1e-12);
    cfg.alpha = 0;
    CHECK(sl_link_init(&e, &cfg) == SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "alpha");
    cfg = sl_link_config_default(0, 0.02);
    CHECK(sl_link_init(&e, &cfg) == SL_EARG);
    sl_link_chooser c;
    CHECK(sl_link_chooser_init(&c, PLANS, 3, 3) == SL_EARG);
    CHECK(sl_link_chooser_init(&c, PLANS, 0, 0) == SL_EARG);
}

/* The bytes really sent. A hand-made table (tests/e2e/e2e_adapt.sh) gives edge-only the raw
 * image, 3072 B; the device sends about 1000 B (zstd). At 0.8 Mbit/s and RTT 0 the table's bytes
 * put the 8-bit TL split first (31.3 against 32.7 ms); the measured ones put edge-only first
 * (12 ms), and the chooser moves there on `confirm` estimates, where one on the table's bytes
 * stays. */
static void test_sent_bytes(void)
{
    sl_link_plan p[2] = {{0.030, 128, 1, 4, -1, "pool2", "conv", 0, 0},
                         {0.002, 3072, 1, 0, -1, "image", "", 0, 0}};
    sl_link_config cfg = sl_link_config_default(0.8e6, 0);
    sl_link_estimate e;
    CHECK_OK(sl_link_init(&e, &cfg), sl_errmsg());
    CHECK_NEAR(sl_link_plan_bytes(&p[1]), 3072, 0);
    CHECK_NEAR(sl_link_predict(&e, &p[1]), 0.002 + 3072 * 8 / 0.8e6, 1e-12);
    sl_link_chooser table, sent;
    sl_link_plan q[2] = {p[0], p[1]};
    CHECK_OK(sl_link_chooser_init(&table, q, 2, 0), sl_errmsg());
    CHECK_OK(sl_link_chooser_init(&sent, p, 2, 0), sl_errmsg());
    CHECK_OK(sl_link_observe_sent(&e, &p[1], 1000), sl_errmsg()); /* a probe's request */
    CHECK_OK(sl_link_observe_sent(&e, &p[1], 1050), sl_errmsg());
    CHECK_NEAR(p[1].sent_bytes, 1010, 1e-9); /* the first replaces, then EWMA 0.2 */
    CHECK_NEAR(sl_link_predict(&e, &p[1]), 0.002 + 1010 * 8 / 0.8e6, 1e-12);
    for (int i = 0; i < cfg.confirm; i++) {
        CHECK_OK(sl_link_observe(&e, 128, 128 * 8 / 0.8e6, 0, i), sl_errmsg());
        sl_link_choose(&table, &e, NULL);
        sl_link_choose(&sent, &e, NULL);
    }
    CHECK_EQ(table.current, 0);
    CHECK_EQ(sent.current, 1);
    CHECK(sl_link_observe_sent(&e, &p[1], 0) == SL_EARG);
    CHECK(sl_link_observe_sent(&e, &p[1], NAN) == SL_EARG);
    CHECK_NEAR(p[1].sent_bytes, 1010, 1e-9);
}

/* The margin is on the estimate (sl_link_beats). bench/trace.sh's plans on 5 Dec: the TL split at
 * maxpool (23.24 ms fixed, 2735 B) and edge-only (14.91 ms, 13489 B), RTT 20 ms, crossing at
 * 10.33 Mbit/s. At 20 Mbit/s edge-only is predicted 9 % faster (40.3 against 44.3 ms), which 10 %
 * of the latency never let through; it beats the split with the link 25 % off either way above
 * 12.9 Mbit/s, and the split beats it below 8.3. Between, neither moves. */
static void test_margin(void)
{
    const sl_link_plan p[2] = {{0.02324, 2735, 1, 1, -1, "maxpool", "conv-r4-s2-b8", 0, 0},
                               {0.01491, 13489, 1, 0, -1, "image", "", 0, 0}};
    const struct {
        double bw;
        int up, down;
    } at[] = {{20e6, 1, 0},  {13.2e6, 1, 0}, {12.6e6, 0, 0}, {10e6, 0, 0},
              {8.4e6, 0, 0}, {8.1e6, 0, 1},  {5e6, 0, 1},    {1e6, 0, 1}};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        sl_link_config cfg = sl_link_config_default(at[i].bw, 0.020);
        sl_link_estimate e;
        CHECK_OK(sl_link_init(&e, &cfg), sl_errmsg());
        TU_CHECK_MSG(sl_link_beats(&e, &p[1], &p[0]) == at[i].up &&
                         sl_link_beats(&e, &p[0], &p[1]) == at[i].down,
                     "%.1f Mbit/s: edge-only beats the split %d, the split edge-only %d",
                     at[i].bw / 1e6, sl_link_beats(&e, &p[1], &p[0]),
                     sl_link_beats(&e, &p[0], &p[1]));
    }
    sl_link_config cfg = sl_link_config_default(20e6, 0.020);
    sl_link_estimate e;
    CHECK_OK(sl_link_init(&e, &cfg), sl_errmsg());
    CHECK(sl_link_predict(&e, &p[1]) > 0.9 * sl_link_predict(&e, &p[0]));
}

/* The plans of the table `select --bandwidths 1mbit,10mbit,50mbit --rtt 20ms` writes for the
 * hand-made profile (its links and intervals left out: links are optional to the reader). */
static const char TABLE[] =
    "{\"format\":\"sl-plan-table\",\"version\":1,\"model\":\"chain4\",\"graph_hash\":"
    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"cloud\":false,"
    "\"plans\":[{\"id\":0,\"kind\":\"local-only\",\"cut\":{\"index\":3,\"tensor\":\"fc\","
    "\"kind\":\"local-only\"},\"cut2\":null,\"tl\":null,\"fixed_s\":0.155,\"upload_bytes\":0,"
    "\"pays_rtt\":false},{\"id\":1,\"kind\":\"slice\",\"cut\":{\"index\":1,\"tensor\":"
    "\"maxpool\",\"kind\":\"slice\"},\"cut2\":null,\"tl\":\"pool\",\"fixed_s\":0.05555,"
    "\"edge_s\":0.005,\"upload_bytes\":50000,\"pays_rtt\":true},{\"id\":2,\"kind\":\"edge-only\","
    "\"cut\":"
    "{\"index\":0,\"tensor\":\"image\",\"kind\":\"edge-only\"},\"cut2\":null,\"tl\":null,"
    "\"fixed_s\":0.006349999999999998,\"upload_bytes\":150000,\"pays_rtt\":true}]}";

/* The plans of TABLE, with the edge shares `edge` (the hand-written TABLE gives one for the
 * split only; select writes all three, as tests/preprocessor/test_plan_table.c works out). */
static void check_plans(const sl_link_table *t, const double edge[3])
{
    CHECK_STR(t->model, "chain4");
    CHECK_EQ(t->n_plans, 3);
    for (int k = 0; k < 3 && k < t->n_plans; k++) {
        CHECK_NEAR(t->plans[k].fixed_s, PLANS[k].fixed_s, 1e-12);
        CHECK_NEAR(t->plans[k].edge_s, edge[k], 1e-12);
        CHECK_NEAR(t->plans[k].upload_bytes, PLANS[k].upload_bytes, 0);
        CHECK_EQ(t->plans[k].pays_rtt, PLANS[k].pays_rtt);
        CHECK_EQ(t->plans[k].cut, PLANS[k].cut);
        CHECK_EQ(t->plans[k].cut2, -1);
        CHECK_STR(t->plans[k].tensor, PLANS[k].tensor);
        CHECK_STR(t->plans[k].tl, PLANS[k].tl);
    }
}

/* Replaces the first `from` in TABLE by `to` and expects a format error naming `needle`. */
static void expect_bad(const char *from, const char *to, const char *needle)
{
    char *buf = tu_subst(TABLE, from, to);
    if (!buf) return;
    sl_link_table t;
    CHECK(sl_link_table_parse(buf, "t.json", &t) == SL_EFORMAT);
    free(buf);
    CHECK_CONTAINS(sl_errmsg(), needle);
    CHECK(t.plans == NULL);
}

static void test_table(void)
{
    sl_link_table t;
    CHECK_OK(sl_link_table_parse(TABLE, "t.json", &t), sl_errmsg());
    check_plans(&t, (const double[3]){0, 0.005, 0}); /* edge_s is optional */
    sl_link_table_free(&t);
    sl_link_table_free(&t);
    expect_bad("sl-plan-table", "sl-plan", "t.json: format");
    expect_bad("\"version\":1", "\"version\":2", "t.json: version");
    expect_bad("aaaa", "aaa", "graph_hash");
    expect_bad("\"fixed_s\":0.05555", "\"fixed_s\":-1", "plans[1].fixed_s");
    expect_bad("\"edge_s\":0.005", "\"edge_s\":-1", "plans[1].edge_s");
    expect_bad("\"edge_s\":0.005", "\"edge_s\":0.06", "plans[1].edge_s: 0.06 s is more than");
    expect_bad("\"pays_rtt\":false", "\"pays_rtt\":0", "plans[0].pays_rtt");
    expect_bad("{\"index\":1,", "{\"index\":1.5,", "plans[1].cut.index");
    expect_bad("\"tl\":\"pool\"", "\"tl\":7", "plans[1].tl");
    expect_bad("\"plans\":[{", "\"plans\":[],\"x\":[{", "plans: missing or empty");
    expect_bad("\"cloud\":false", "\"links\":[{\"bandwidth_bps\":0,\"rtt_s\":0}]",
               "links[0].bandwidth_bps");
    expect_bad("\"cloud\":false", "\"links\":{}", "links: not an array");
    CHECK(sl_link_table_parse("{", "t.json", &t) == SL_EFORMAT);
    CHECK(sl_link_table_read("/nonexistent/t.json", &t) == SL_EIO);

    /* What select --bandwidths writes today reads back the same. */
    const char *bin = getenv("SL_BIN"), *src = getenv("SL_SRC");
    if (!bin || !src) {
        printf("SL_BIN / SL_SRC not set: run through ctest\n");
        CHECK(0);
        return;
    }
    const char *dir = tu_tmpdir();
    char cmd[2048], path[1024];
    snprintf(path, sizeof path, "%s/t.json", dir);
    snprintf(cmd, sizeof cmd,
             "'%s/sl-preprocess' select --device '%s/tests/preprocessor/data/device.json' "
             "--edge '%s/tests/preprocessor/data/edge.json' --rtt 20ms "
             "--bandwidths 1mbit,10mbit,50mbit -q -o '%s'",
             bin, src, src, path);
    CHECK_EQ(system(cmd), 0);
    CHECK_OK(sl_link_table_read(path, &t), sl_errmsg());
    check_plans(&t, (const double[3]){0, 0.0045, 0.0062});
    /* Its links, for the adaptive device's prior. */
    CHECK_EQ(t.n_links, 3);
    const double bps[3] = {1e6, 1e7, 5e7};
    for (int k = 0; k < 3 && k < t.n_links; k++) {
        CHECK_NEAR(t.link_bps[k], bps[k], 0);
        CHECK_NEAR(t.link_rtt[k], 0.02, 1e-12);
    }
    sl_link_table_free(&t);
    tu_rmtree(dir);
}

int main(void)
{
    test_table();
    test_converges();
    test_slow_edge();
    test_starved_edge();
    test_no_flap();
    test_switches();
    test_bad_input();
    test_sent_bytes();
    test_margin();
    return TU_DONE();
}
