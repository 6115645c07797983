/* test_select_cost.c: the ScissionTL cost model on a hand-made profile against latencies worked
 * out by hand, ranking, three tiers, Scission's one-line format, and mismatched profiles. */
#include "common/status.h"
#include "fixture.h"
#include "preprocessor/select.h"
#include "testutil.h"

#include <stdlib.h>

/* Hand computation (device blocks 0.05/0.1/0.005 s, edge 0.002/0.004/0.0002 s, serialise 1e9 B/s,
 * 10 Mbit/s, RTT 20 ms):
 *   cut 0 (raw 150000 B): 0.00015 + 0.02 + 0.12 + 0.0062                          = 0.14635
 *   cut 1 plain (200000 B): 0.05 + 0.0002 + 0.02 + 0.16 + 0.0042                  = 0.2344
 *   cut 1 pool (50000 B): 0.05 + 0.001 + 0.00005 + 0.02 + 0.04 + 0.0003 + 0.0042  = 0.11555
 *   cut 2 (100000 B): 0.15 + 0.0001 + 0.02 + 0.08 + 0.0002                        = 0.2503
 *   cut 3 local-only: 0.155 */
static void test_hand_costs(void)
{
    sl_profile *dev = fx_device(), *edge = fx_edge();
    sl_select_input in = fx_two_tier(dev, edge);
    CHECK_OK(sl_select_check(&in), sl_errmsg());
    sl_plan p;
    CHECK_OK(sl_select_cost(&in, 0, -1, -1, &p), sl_errmsg());
    CHECK_NEAR(p.total_s, 0.14635, 1e-12);
    CHECK_NEAR(p.upload_bytes, 150000, 0);
    CHECK_NEAR(p.device_s, 0, 0);
    CHECK_OK(sl_select_cost(&in, 1, -1, -1, &p), sl_errmsg());
    CHECK_NEAR(p.total_s, 0.2344, 1e-12);
    CHECK_OK(sl_select_cost(&in, 1, -1, 0, &p), sl_errmsg());
    CHECK_NEAR(p.total_s, 0.11555, 1e-12);
    CHECK_NEAR(p.tl_enc_s, 0.001, 1e-15);
    CHECK_NEAR(p.tl_dec_s, 0.0003, 1e-15); /* the edge profile's decoder time */
    CHECK_NEAR(p.transfer_s, 0.04, 1e-15);
    CHECK_NEAR(p.serialise_s, 0.00005, 1e-15);
    CHECK_NEAR(p.rtt_s, 0.02, 0);
    CHECK_OK(sl_select_cost(&in, 2, -1, -1, &p), sl_errmsg());
    CHECK_NEAR(p.total_s, 0.2503, 1e-12);
    CHECK_OK(sl_select_cost(&in, 3, -1, -1, &p), sl_errmsg());
    CHECK_NEAR(p.total_s, 0.155, 1e-12);
    CHECK_NEAR(p.upload_bytes, 0, 0);
    CHECK_NEAR(p.rtt_s, 0, 0);
    CHECK(sl_select_cost(&in, 4, -1, -1, &p) == SL_EARG);
    CHECK(sl_select_cost(&in, 2, -1, 0, &p) == SL_EARG); /* no TL at cut 2 */

    sl_selection s;
    CHECK_OK(sl_select_run(&in, &s), sl_errmsg());
    CHECK_EQ(s.n_plans, 5);
    CHECK_EQ(s.n_allowed, 5);
    /* Ranking: pool 0.11555, edge-only 0.14635, local 0.155, cut 1 0.2344, cut 2 0.2503. */
    CHECK_EQ(s.plans[0].cut, 1);
    CHECK_EQ(s.plans[0].tl, 0);
    CHECK_EQ(s.plans[1].cut, 0);
    CHECK_EQ(s.plans[2].cut, 3);
    CHECK_EQ(s.plans[3].cut, 1);
    CHECK_EQ(s.plans[4].cut, 2);
    for (int i = 1; i < s.n_plans; i++)
        CHECK(s.plans[i - 1].total_s <= s.plans[i].total_s);
    const sl_plan *plain = sl_selection_best(&s, 0);
    CHECK(plain && plain->cut == 0);
    CHECK(sl_selection_best_at(&s, 1, 1) == &s.plans[0]);
    CHECK(sl_selection_best_at(&s, 2, 1) == NULL);

    char line[256];
    sl_plan_format(&in, &s.plans[0], line, sizeof line);
    CHECK_STR(line, "115.5 ms - 50.0 kB - device 0-1, edge 2-3 [cut maxpool, TL pool]");
    sl_plan_format(&in, &s.plans[1], line, sizeof line);
    CHECK_STR(line, "146.3 ms - 150.0 kB - edge 0-3 [edge-only: raw image]");
    sl_plan_format(&in, &s.plans[2], line, sizeof line);
    CHECK_STR(line, "155.0 ms - 0 B - device 0-3 [local-only]");

    /* The plan document names the best cut tensor and TL for insert/split. */
    sl_plan_doc doc = {&in, &s, 3, NULL, NULL};
    char *js = sl_plan_doc_json(&doc);
    CHECK(js != NULL);
    CHECK_CONTAINS(js, "\"format\":\t\"sl-plan\"");
    CHECK_CONTAINS(js, "\"tensor\":\t\"maxpool\"");
    CHECK_CONTAINS(js, "\"tl\":\t\"pool\"");
    free(js);
    sl_selection_free(&s);
    sl_profile_free(dev);
    sl_profile_free(edge);
}

/* Three tiers, edge->cloud 100 Mbit/s and 5 ms, cloud blocks 0.001/0.002/0.0001 s, edge
 * serialise 2e9 B/s:
 *   (1, 2, pool): 0.05 + 0.001 + 0.00005 + 0.02 + 0.04 + 0.0003 + 0.004
 *                 + 0.00005 + 0.005 + 0.008 + 0.0001                              = 0.1285
 *   (1, 1, pool): the edge forwards 50000 B, the cloud decodes (0.0001):
 *                 0.05 + 0.001 + 0.00005 + 0.02 + 0.04 + 0.0001
 *                 + 0.000025 + 0.005 + 0.004 + 0.0021                             = 0.122275 */
/* A version 2 profile: the codec's bytes and times, image loading, prefix and suffix ranges.
 * Device: load 3 ms (raw 2 ms), prefixes 0 / 48 / 140 / 142.5 ms (the whole model, less than the
 * 155 ms block sum), raw image 40000 B on the wire (encode 0.8 ms), cut 1 120000 B (2 ms), its
 * pool TL 30000 B (0.4 ms), cut 2 60000 B (1 ms). Edge: suffixes 5.8 / 3.9 / 0.19 / 0 ms,
 * decodes 0.1 / 0.4 / 0.05 (TL) / 0.2 ms. Serialise 1e9 B/s on the device, 10 Mbit/s, 20 ms:
 *   cut 0: 0.002 + 0.0008 + 0.00004 + 0.02 + 0.032 + 0.0001 + 0.0058                   = 0.06074
 *   cut 1: 0.003 + 0.048 + 0.002 + 0.00012 + 0.02 + 0.096 + 0.0004 + 0.0039          = 0.17342
 *   cut 1 pool: 0.003 + 0.048 + 0.001 + 0.0004 + 0.00003 + 0.02 + 0.024 + 0.00005
 *               + 0.0003 + 0.0039                                                      = 0.10068
 *   cut 2: 0.003 + 0.140 + 0.001 + 0.00006 + 0.02 + 0.048 + 0.0002 + 0.00019          = 0.21245
 *   cut 3 local-only: 0.003 + 0.1425                                                   = 0.1455 */
static void test_wire_costs(void)
{
    sl_profile *dev = fx_device(), *edge = fx_edge();
    const double pre[4] = {0, 0.048, 0.140, 0.1425}, suf[4] = {0.0058, 0.0039, 0.00019, 0};
    const sl_prof_wire dw[4] = {{40000, 0.0008, 0.0003}, {120000, 0.002, 0.001},
                                {60000, 0.001, 0.0005}, {116, 0, 0}};
    const sl_prof_wire ew[4] = {{40000, 0.0009, 0.0001}, {120000, 0.001, 0.0004},
                                {60000, 0.0005, 0.0002}, {116, 0, 0}};
    sl_profile *ps[2] = {dev, edge};
    for (int k = 0; k < 2; k++) {
        sl_profile *p = ps[k];
        p->has_wire = p->has_ranges = 1;
        p->total_median_s = k ? suf[0] : pre[3];
        p->load_s = k ? 0.0001 : 0.003;
        p->raw_load_s = k ? 0.0001 : 0.002;
        p->input_wire = k ? ew[0] : dw[0];
        for (int c = 0; c < 4; c++) {
            p->cuts[c].wire = k ? ew[c] : dw[c];
            p->cuts[c].prefix_s = k ? 0.001 * c : pre[c];
            p->cuts[c].suffix_s = k ? suf[c] : 0.05 * (3 - c);
        }
        p->cuts[1].tl[0].wire = k ? (sl_prof_wire){30000, 0.0002, 0.00005}
                                  : (sl_prof_wire){30000, 0.0004, 0.0002};
    }
    sl_select_input in = fx_two_tier(dev, edge);
    sl_plan p;
    CHECK_OK(sl_select_cost(&in, 0, -1, -1, &p), sl_errmsg());
    CHECK_NEAR(p.total_s, 0.06074, 1e-12);
    CHECK_NEAR(p.upload_bytes, 40000, 0); /* the raw image after the codec */
    CHECK_NEAR(p.load_s, 0.002, 0);       /* loading it as raw uint8 */
    CHECK_NEAR(p.wire_enc_s, 0.0008, 0);  /* the device's encode */
    CHECK_NEAR(p.wire_dec_s, 0.0001, 0);  /* the edge's decode */
    CHECK_NEAR(p.edge_s, 0.0058, 0);      /* the edge's whole model */
    CHECK_OK(sl_select_cost(&in, 1, -1, -1, &p), sl_errmsg());
    CHECK_NEAR(p.total_s, 0.17342, 1e-12);
    CHECK_NEAR(p.device_s, 0.048, 0); /* the measured prefix, not the 0.05 s block */
    CHECK_OK(sl_select_cost(&in, 1, -1, 0, &p), sl_errmsg());
    CHECK_NEAR(p.total_s, 0.10068, 1e-12);
    CHECK_NEAR(p.upload_bytes, 30000, 0);
    CHECK_OK(sl_select_cost(&in, 2, -1, -1, &p), sl_errmsg());
    CHECK_NEAR(p.total_s, 0.21245, 1e-12);
    CHECK_OK(sl_select_cost(&in, 3, -1, -1, &p), sl_errmsg());
    CHECK_NEAR(p.total_s, 0.1455, 1e-12); /* the whole-model time, not the block sum */
    CHECK_NEAR(p.upload_bytes, 0, 0);
    sl_selection s;
    CHECK_OK(sl_select_run(&in, &s), sl_errmsg());
    CHECK_EQ(s.plans[0].cut, 0);
    CHECK_EQ(s.plans[1].cut, 1);
    CHECK_EQ(s.plans[1].tl, 0);
    CHECK_EQ(s.plans[2].cut, 3);
    sl_selection_free(&s);

    /* Huge finite times that overflow the sum: an error naming the plan, never inf. */
    dev->cuts[3].prefix_s = 1e308;
    dev->load_s = 1e308;
    CHECK_EQ(sl_select_run(&in, &s), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "overflows");
    sl_profile_free(dev);
    sl_profile_free(edge);
}

static void test_three_tiers(void)
{
    sl_profile *dev = fx_device(), *edge = fx_edge(), *cloud = fx_cloud();
    sl_select_input in = fx_three_tier(dev, edge, cloud);
    CHECK_OK(sl_select_check(&in), sl_errmsg());
    sl_plan p;
    CHECK_OK(sl_select_cost(&in, 1, 2, 0, &p), sl_errmsg());
    CHECK_NEAR(p.total_s, 0.1285, 1e-12);
    CHECK_NEAR(p.cloud_bytes, 100000, 0);
    CHECK_OK(sl_select_cost(&in, 1, 1, 0, &p), sl_errmsg());
    CHECK_NEAR(p.total_s, 0.122275, 1e-12);
    CHECK_NEAR(p.edge_s, 0, 0);
    char line[256];
    sl_plan_format(&in, &p, line, sizeof line);
    CHECK_STR(line, "122.3 ms - 50.0 kB - device 0-1, cloud 2-3 [cut maxpool, TL pool]");
    CHECK(sl_select_cost(&in, 2, 1, -1, &p) == SL_EARG); /* cut2 before cut */
    sl_selection s;
    CHECK_OK(sl_select_run(&in, &s), sl_errmsg());
    /* Pairs: cut 0: j2 0..3 (4), cut 1: 3 plain + 3 pool, cut 2: 2, cut 3: 1. */
    CHECK_EQ(s.n_plans, 4 + 6 + 2 + 1);
    for (int i = 1; i < s.n_plans; i++)
        CHECK(s.plans[i - 1].total_s <= s.plans[i].total_s);
    sl_selection_free(&s);
    sl_profile_free(dev);
    sl_profile_free(edge);
    sl_profile_free(cloud);
}

static void test_mismatched_profiles(void)
{
    const double b[3] = {0.002, 0.004, 0.0002};
    sl_profile *dev = fx_device(), *other = fx_profile(FX_HASH_B, b, 0.0002, 0.0003, 2e9);
    free(other->model);
    other->model = strdup("mobilenet_v2");
    sl_select_input in = fx_two_tier(dev, other);
    CHECK(sl_select_check(&in) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "different models");
    CHECK_CONTAINS(sl_errmsg(), "mobilenet_v2");
    sl_profile_free(other);

    sl_profile *edge = fx_edge();
    edge->batch = 4;
    in.edge = edge;
    CHECK(sl_select_check(&in) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "batch");
    edge->batch = 1;
    free(edge->cuts[1].tl[0].config);
    edge->cuts[1].tl[0].config = strdup("conv-r4-s2-b8");
    CHECK(sl_select_check(&in) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "cuts[1].tl[0]");
    sl_profile_free(edge);
    sl_profile_free(dev);
}

int main(void)
{
    test_hand_costs();
    test_wire_costs();
    test_three_tiers();
    test_mismatched_profiles();
    return TU_DONE();
}
