/* test_mincut3.c: DADS over three tiers (device < edge < cloud): the layered min cut against
 * brute force over every labelling of small random DAGs (RTTs and forbidden tiers included),
 * and on the hand-made chain of fixture.h against select's best three-tier single-cut plan
 * without a TL, which a chain's partitions all are. Pure C. */
#include "common/status.h"
#include "fixture.h"
#include "preprocessor/mincut.h"
#include "preprocessor/select.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

static unsigned rng = 12345;
static double rnd(void) /* uniform in [0, 1) */
{
    rng = rng * 1103515245u + 12345u;
    return (double)((rng >> 8) & 0xffff) / 65536.0;
}

/* A random DAG of n vertices (vertex 0 the input), each later vertex reading 1-2 earlier ones. */
static void random_dag(sl_dag3 *d, int n)
{
    int preds[64][2], np[64], total = 0;
    for (int v = 1; v < n; v++) {
        np[v] = 1 + (rnd() < 0.4 && v > 1);
        preds[v][0] = (int)(rnd() * v);
        preds[v][1] = (int)(rnd() * v);
        if (np[v] == 2 && preds[v][1] == preds[v][0]) np[v] = 1;
        total += np[v];
    }
    CHECK_OK(sl_dag3_init(d, n, total), sl_errmsg());
    int k = 0;
    for (int v = 0; v < n; v++) {
        d->g.pred_start[v] = k;
        for (int j = 0; v && j < np[v]; j++)
            d->g.preds[k++] = preds[v][j];
        d->g.dev_s[v] = v ? rnd() * 10 : 0;
        d->g.edge_s[v] = v ? rnd() * 4 : 0;
        d->cloud_s[v] = v ? rnd() * 2 : 0;
        d->g.xfer_s[v] = rnd() * 5;
        d->xfer2_s[v] = rnd() * 3;
        if (v && rnd() < 0.1) d->forbid[v] = (uint8_t)(1u << (int)(rnd() * 3));
    }
    d->g.pred_start[n] = k;
    d->forbid[0] = 6;
}

static void test_brute_force(void)
{
    int agree = 0, infeasible = 0, cases = 0;
    for (int it = 0; it < 300; it++) {
        int n = 2 + it % 7; /* up to 8 vertices: 3^8 labellings */
        sl_dag3 d;
        random_dag(&d, n);
        double rtt = rnd() * 3, rtt2 = rnd() * 3;
        int total = 1;
        for (int i = 0; i < n; i++)
            total *= 3;
        uint8_t lab[16];
        double best = -1;
        sl_dads3_result r;
        for (int code = 0; code < total; code++) {
            for (int v = 0, c = code; v < n; v++, c /= 3)
                lab[v] = (uint8_t)(c % 3);
            if (sl_dag3_cost(&d, lab, rtt, rtt2, &r) && (best < 0 || r.latency_s < best))
                best = r.latency_s;
        }
        sl_dads3_result got;
        int rc = sl_dads3_latency(&d, rtt, rtt2, &got);
        cases++;
        if (best < 0) {
            CHECK(rc == SL_ECONSTRAINT);
            infeasible++;
        } else {
            CHECK_OK(rc, sl_errmsg());
            if (!rc) {
                sl_dads3_result again;
                CHECK(sl_dag3_cost(&d, got.tier, rtt, rtt2, &again)); /* a valid labelling */
                CHECK_NEAR(again.latency_s, got.latency_s, 1e-9);
                CHECK_NEAR(got.latency_s, best, 1e-9);
                agree += got.latency_s <= best + 1e-9;
            }
        }
        sl_dads3_result_free(&got);
        sl_dag3_free(&d);
    }
    printf("three-tier min cut equals brute force on %d of %d DAGs (%d infeasible)\n", agree,
           cases - infeasible, infeasible);
}

/* On a chain every labelling is a pair of single cuts, so the three-tier DADS optimum is the
 * best plan select ranks without a TL through the edge (fixture hosts, 10 Mbit/s and 20 ms to
 * the edge, 100 Mbit/s and 5 ms on to the cloud). */
static void test_chain_matches_select(void)
{
    sl_profile *dev = fx_device(), *edge = fx_edge(), *cloud = fx_cloud();
    sl_select_input in = fx_three_tier(dev, edge, cloud);
    sl_selection s;
    CHECK_OK(sl_select_run(&in, &s), sl_errmsg());
    const sl_plan *plain = sl_selection_best(&s, 0);
    sl_dag3 d;
    CHECK_OK(sl_dag3_from_profiles(dev, edge, cloud, &in.net.hop[SL_HOP_DEVICE_EDGE],
                                   &in.net.hop[SL_HOP_EDGE_CLOUD], NULL, &d),
             sl_errmsg());
    sl_dads3_result r;
    CHECK_OK(sl_dads3_latency(&d, 0.020, 0.005, &r), sl_errmsg());
    CHECK(plain != NULL);
    if (plain) CHECK_NEAR(r.latency_s, plain->total_s, 1e-12);
    /* Forbidding the cloud everywhere gives the two-tier DADS optimum. */
    sl_constraints c = {0};
    CHECK_OK(sl_constraints_add(&c, "--exclude-tier", "cloud"), sl_errmsg());
    sl_dag3 d2;
    CHECK_OK(sl_dag3_from_profiles(dev, edge, cloud, &in.net.hop[SL_HOP_DEVICE_EDGE],
                                   &in.net.hop[SL_HOP_EDGE_CLOUD], &c, &d2),
             sl_errmsg());
    sl_dads3_result r2;
    CHECK_OK(sl_dads3_latency(&d2, 0.020, 0.005, &r2), sl_errmsg());
    sl_dads_result two;
    CHECK_OK(sl_dads_latency(&d.g, 0.020, &two), sl_errmsg());
    CHECK_NEAR(r2.latency_s, two.latency_s, 1e-12);
    CHECK(r2.cloud_s == 0 && r2.rtt2_s == 0);
    sl_dads_result_free(&two);
    sl_dads3_result_free(&r2);
    sl_dads3_result_free(&r);
    sl_dag3_free(&d2);
    sl_dag3_free(&d);
    sl_constraints_free(&c);
    sl_selection_free(&s);
    sl_profile_free(dev);
    sl_profile_free(edge);
    sl_profile_free(cloud);
}

/* A node held on the cloud feeding a node held on the device: no labelling; said, not solved. */
static void test_contradiction(void)
{
    sl_dag3 d;
    CHECK_OK(sl_dag3_init(&d, 3, 2), sl_errmsg());
    d.g.pred_start[1] = 0;
    d.g.preds[0] = 0;
    d.g.pred_start[2] = 1;
    d.g.preds[1] = 1;
    d.g.pred_start[3] = 2;
    d.forbid[0] = 6;
    d.forbid[1] = (1u << SL_TIER_DEVICE) | (1u << SL_TIER_EDGE);
    d.forbid[2] = (1u << SL_TIER_EDGE) | (1u << SL_TIER_CLOUD);
    sl_dads3_result r;
    CHECK(sl_dads3_latency(&d, 0.01, 0.01, &r) == SL_ECONSTRAINT);
    CHECK_CONTAINS(sl_errmsg(), "admit no three-tier partition");
    CHECK(r.tier == NULL);
    sl_dag3_free(&d);
}

int main(void)
{
    test_contradiction();
    test_brute_force();
    test_chain_matches_select();
    return TU_DONE();
}
