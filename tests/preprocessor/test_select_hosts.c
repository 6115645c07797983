/* test_select_hosts.c: select across candidate hosts (issue 17) — two edges and two clouds whose
 * best pair is worked out by hand, the device sending straight to the cloud, host criteria, the
 * plan file naming the hosts, and the host-named network CSV with its refusals. Pure C on the
 * hand-made profiles of fixture.h; no model is loaded. */
#include "common/status.h"
#include "fixture.h"
#include "model/plan_doc.h"
#include "preprocessor/select.h"
#include "preprocessor/select_run.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

static char dir[600];

/* Writes p (host field `host`) to dir/file and frees it; returns the path (static ring). */
static const char *put(sl_profile *p, const char *host, const char *file)
{
    static char paths[8][700];
    static int next;
    char *path = paths[next++ % 8];
    free(p->host);
    p->host = strdup(host);
    snprintf(path, 700, "%s/%s", dir, file);
    CHECK_OK(sl_profile_write(path, p), sl_errmsg());
    sl_profile_free(p);
    return path;
}

static const char *put_text(const char *file, const char *text)
{
    static char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

/* The hosts. Device "pi": fx_device (blocks 0.05/0.1/0.005 s, serialise 1e9 B/s). Edge "near":
 * ten times slower than fx_edge (0.02/0.04/0.002 s, TL decode 3 ms), on a fast link; edge "far":
 * fx_edge (0.002/0.004/0.0002 s) on a slow link. Cloud "big": fx_cloud (0.001/0.002/0.0001 s),
 * cloud "small": four times slower (0.004/0.008/0.0004 s) but 1 Gbit/s from either edge (a
 * host,tier row). Both edges serialise at 2e9 B/s. */
static const char *NET = "source,     destination,  ping(ms), bandwidth(mbps)\n"
                         "pi,         near,         2,        100\n"
                         "pi,         far,          20,       10\n"
                         "near,       big,          10,       50\n"
                         "far,        big,          5,        100\n"
                         "\n"
                         "# both edges reach the small cloud the same way\n"
                         "edge,       small,        1,        1000\n"
                         "pi,         big,          30,       20\n";

static sl_profile *near_edge(void)
{
    const double b[3] = {0.02, 0.04, 0.002};
    return fx_profile(FX_HASH_A, b, 0.002, 0.003, 2e9);
}

static sl_profile *small_cloud(void)
{
    const double b[3] = {0.004, 0.008, 0.0004};
    return fx_profile(FX_HASH_A, b, 0.0004, 0.0004, 4e9);
}

/* The first (best) plan of the selection on edge e and cloud c (-1: unused), or NULL. */
static const sl_plan *best_on(const sl_selection *s, int e, int c, int direct)
{
    for (int i = 0; i < s->n_allowed; i++)
        if (s->plans[i].edge_host == e && s->plans[i].cloud_host == c &&
            s->plans[i].direct == direct)
            return &s->plans[i];
    return NULL;
}

/* Which pair wins, by hand (v1 profiles: block sums, uncompressed bytes, no load or codec time):
 *
 * - Through "far" every plan sends at least 50 kB (the TL) over 10 Mbit/s with a 20 ms RTT:
 *   0.02 + 0.04 = 0.06 s before any compute, and a cut after the input adds the device's 0.05 s
 *   block; the raw image costs 0.02 + 0.12 s. Its best is the TL at maxpool, edge runs the rest:
 *   0.05 + 0.001 + 0.00005 + 0.02 + 0.04 + 0.0003 + 0.0042 = 0.11555 s.
 * - Through "near", any cut after the input costs the device 0.05 s, so the raw image (cut 0)
 *   wins if it comes in under that: 150000 B cost 0.00015 (serialise) + 0.002 (RTT) + 0.012
 *   (150000*8/100e6) = 0.01215 s to reach near. Then:
 *     near runs everything: 0.0622                                  -> 0.07615 s
 *     near forwards to small: 0.000075 + 0.001 + 0.0012 + 0.0124    -> 0.028825 s
 *     near forwards to big:   0.000075 + 0.01 + 0.024 + 0.0031      -> 0.051325 s
 *     near runs block 0 first: at least 0.02 more                   -> above 0.03215 s
 * - Straight to big (30 ms, 20 Mbit/s): 0.00015 + 0.03 + 0.06 + 0.0031 = 0.09325 s (raw image);
 *   with the TL at maxpool 0.05 + 0.001 + 0.00005 + 0.03 + 0.02 + 0.0001 + 0.0021 = 0.10325 s.
 * - Local-only: 0.155 s.
 * So the best pair is (near, small): the slower cloud wins on its link, 28.8 ms. */
static void test_two_edges_two_clouds(void)
{
    const char *dev = put(fx_device(), "pi", "pi.json");
    char near_arg[720];
    snprintf(near_arg, sizeof near_arg, "near=%s", put(near_edge(), "testhost", "near.json"));
    const char *far = put(fx_edge(), "far", "far.json");
    const char *big = put(fx_cloud(), "big", "big.json");
    const char *small = put(small_cloud(), "small", "small.json");
    const char *edges[2] = {near_arg, far}, *clouds[2] = {big, small};
    sl_constraints cons = {0};
    sl_select_request rq = {dev,  NULL, NULL, put_text("net.csv", NET), {-1, -1, -1}, {-1, -1, -1},
                            &cons, 1,    0,    edges, 2, clouds, 2, 1};
    sl_select_outcome r;
    CHECK_OK(sl_select_execute(&rq, &r), sl_errmsg());
    const sl_selection *s = &r.sel;
    CHECK_STR(r.edge_names[0], "near"); /* NAME=FILE */
    CHECK_STR(r.edge_names[1], "far");  /* the profile's host field */
    /* Local-only once; per edge: cut 0 (2 clouds x cut2 0..2, + cloud unused) 7, cut 1 plain
     * and TL 2 x (2 x 2 + 1) 10, cut 2 (2 + 1) 3; direct to big: cut 0, 1, 1+TL, 2. */
    CHECK_EQ(s->n_plans, 1 + 2 * (7 + 10 + 3) + 4);
    const sl_plan *b = &s->plans[0];
    CHECK(b->edge_host == 0 && b->cloud_host == 1 && !b->direct);
    CHECK(b->cut == 0 && b->cut2 == 0 && b->tl == -1);
    CHECK_NEAR(b->total_s, 0.028825, 1e-12);
    char line[256];
    sl_plan_format(&r.in, b, line, sizeof line);
    CHECK_STR(line, "28.8 ms - 150.0 kB - edge(near) forwards, cloud(small) 0-3 [raw image]");
    const sl_plan *p = best_on(s, 0, 0, 0);
    CHECK(p && p->cut == 0 && p->cut2 == 0);
    if (p) CHECK_NEAR(p->total_s, 0.051325, 1e-12);
    p = best_on(s, 0, -1, 0);
    if (p) CHECK_NEAR(p->total_s, 0.07615, 1e-12);
    p = best_on(s, 1, -1, 0);
    CHECK(p && p->cut == 1 && p->tl == 0);
    if (p) CHECK_NEAR(p->total_s, 0.11555, 1e-12);
    p = best_on(s, -1, 0, 1);
    CHECK(p && p->cut == 0);
    if (p) CHECK_NEAR(p->total_s, 0.09325, 1e-12);
    sl_plan q;
    CHECK_OK(sl_select_cost_on(&r.in, 0, 0, 1, 1, 1, 0, &q), sl_errmsg());
    CHECK_NEAR(q.total_s, 0.10325, 1e-12);
    CHECK_NEAR(q.edge_s + q.serialise2_s + q.rtt2_s + q.transfer2_s, 0, 0);
    sl_plan_format(&r.in, &q, line, sizeof line);
    CHECK_STR(line, "103.3 ms - 50.0 kB - device(pi) 0-1, cloud(big) 2-3 [cut maxpool, TL pool]");
    CHECK(sl_select_cost_on(&r.in, 0, 1, 1, 1, 1, 0, &q) == SL_EARG); /* no link pi,small */
    CHECK(sl_select_cost_on(&r.in, 2, 0, 0, 1, 1, 0, &q) == SL_EARG); /* no third edge */
    CHECK(r.dads.latency_s > 0);
    CHECK_EQ(r.dads.edge_host, 0); /* DADS on near: raw image 0.07615 s; on far 0.11555 s at best */
    /* Over three tiers the chain's best labelling is the best plan without a TL and without the
     * direct link: the same raw image forwarded by near to small. */
    CHECK(r.dads3_edge == 0 && r.dads3_cloud == 1);
    CHECK_NEAR(r.dads3.latency_s, 0.028825, 1e-12);

    /* The plan file names the hosts; the reader gives them back. */
    char plan[700];
    snprintf(plan, sizeof plan, "%s/plan.json", dir);
    sl_plan_doc doc = {&r.in, s, 5, &r.dads, NULL};
    CHECK_OK(sl_plan_doc_write(plan, &doc), sl_errmsg());
    struct sl_plan_doc *pd;
    CHECK_OK(sl_plan_doc_read(plan, &pd), sl_errmsg());
    sl_plan_entry e;
    CHECK_OK(sl_plan_doc_entry(pd, "best", &e), sl_errmsg());
    CHECK_STR(e.edge_host, "near");
    CHECK_STR(e.cloud_host, "small");
    CHECK_STR(e.kind, "edge-only");
    CHECK(!e.direct);
    sl_plan_entry_free(&e);
    CHECK_OK(sl_plan_doc_entry(pd, "dads", &e), sl_errmsg());
    sl_plan_entry_free(&e);
    sl_plan_doc_free(pd);
    sl_select_outcome_free(&r);

    /* Scission's criteria: a host that must not be used ("-e !near") leaves far and the direct
     * link; the direct plan wins. Naming the cloud ("-c small") drops the direct plan to big;
     * far alone then wins with the cloud unused. */
    CHECK_OK(sl_constraints_add(&cons, "--not-host", "edge:near"), sl_errmsg());
    rq.dads = 0;
    CHECK_OK(sl_select_execute(&rq, &r), sl_errmsg());
    CHECK(r.sel.plans[0].direct && r.sel.plans[0].cloud_host == 0);
    CHECK_NEAR(r.sel.plans[0].total_s, 0.09325, 1e-12);
    sl_select_outcome_free(&r);
    CHECK_OK(sl_constraints_add(&cons, "--host", "cloud:small"), sl_errmsg());
    CHECK_OK(sl_select_execute(&rq, &r), sl_errmsg());
    CHECK(r.sel.plans[0].edge_host == 1 && r.sel.plans[0].cloud_host == -1);
    CHECK_NEAR(r.sel.plans[0].total_s, 0.11555, 1e-12);
    sl_select_outcome_free(&r);
    CHECK_OK(sl_constraints_add(&cons, "--use-tier", "cloud"), sl_errmsg());
    CHECK_OK(sl_select_execute(&rq, &r), sl_errmsg()); /* far -> small: TL, cloud from conv2 */
    CHECK(r.sel.plans[0].edge_host == 1 && r.sel.plans[0].cloud_host == 1);
    CHECK_NEAR(r.sel.plans[0].total_s, 0.1176, 1e-12);
    sl_select_outcome_free(&r);
    sl_constraints_free(&cons);

    /* A host criterion naming no candidate is the user's error. */
    CHECK_OK(sl_constraints_add(&cons, "--host", "edge:vm2Core"), sl_errmsg());
    CHECK(sl_select_execute(&rq, &r) == SL_ENOTFOUND);
    CHECK(r.user_error);
    CHECK_CONTAINS(sl_errmsg(), "no edge host named 'vm2Core' (edge hosts: near, far)");
    sl_select_outcome_free(&r);
    sl_constraints_free(&cons);

    /* Two candidates of one name, and a link the plans need that the CSV lacks. */
    const char *twins[2] = {far, far};
    rq.edges = twins;
    CHECK(sl_select_execute(&rq, &r) == SL_EARG);
    CHECK(r.user_error);
    CHECK_CONTAINS(sl_errmsg(), "are both host 'far': name them, --edge NAME=FILE");
    sl_select_outcome_free(&r);
    rq.edges = edges;
    rq.network = put_text("short.csv", "pi,near,2,100\npi,far,20,10\nnear,big,10,50\n"
                                       "far,big,5,100\nnear,small,1,1000\n");
    CHECK(sl_select_execute(&rq, &r) == SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "short.csv: no link far,small (edge->cloud)");
    sl_select_outcome_free(&r);
    rq.network = put_text("typo.csv", "pi,near,2,100\npi,far,20,10\nedge,cloud,1,100\n"
                                      "pi,nera,1,100\n");
    CHECK(sl_select_execute(&rq, &r) == SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "typo.csv:4: unknown host 'nera'");
    CHECK_CONTAINS(sl_errmsg(), "near (edge)");
    sl_select_outcome_free(&r);
}

/* One edge and one cloud with a device->cloud link (far and big above): the direct raw image
 * (0.09325 s) beats everything through far (0.11555 s at best) and local-only (0.155 s). The
 * plans are today's 13 plus 4 direct ones (cut 0, 1, 1 + TL, 2); without the link, today's 13. */
static void test_direct_to_cloud(void)
{
    sl_profile *dev = fx_device(), *far = fx_edge(), *big = fx_cloud();
    sl_select_input in = fx_three_tier(dev, far, big);
    sl_selection s;
    CHECK_OK(sl_select_run(&in, &s), sl_errmsg());
    CHECK_EQ(s.n_plans, 13);
    sl_selection_free(&s);
    in.net.hop[SL_HOP_DEVICE_CLOUD] = (sl_hop){1, 20e6, 0.030};
    CHECK_OK(sl_select_run(&in, &s), sl_errmsg());
    CHECK_EQ(s.n_plans, 17);
    const sl_plan *b = &s.plans[0];
    CHECK(b->direct && b->cut == 0 && b->cut2 == 0 && b->edge_host == -1);
    CHECK_NEAR(b->total_s, 0.09325, 1e-12);
    CHECK_NEAR(b->rtt_s, 0.030, 0);
    CHECK_NEAR(b->transfer_s, 0.06, 1e-15);
    CHECK_NEAR(b->cloud_s, 0.0031, 1e-15);
    char line[256];
    sl_plan_format(&in, b, line, sizeof line);
    CHECK_STR(line, "93.2 ms - 150.0 kB - cloud 0-3 [device->cloud] [raw image]");
    /* "the edge runs nothing" holds for the direct plan, so --exclude-tier edge keeps it. */
    sl_placement pl;
    sl_plan_placement(&in, b, &pl);
    CHECK(pl.host[SL_TIER_EDGE] == NULL);
    sl_selection_free(&s);
    sl_profile_free(dev);
    sl_profile_free(far);
    sl_profile_free(big);
}

/* The network CSV by host (Scission's network_stats.csv) and by tier, which rows apply, and
 * the refusals: each names the file, the line and the field. */
static void test_host_csv(void)
{
    sl_netmap m;
    CHECK_OK(sl_netmap_parse_csv("source,     destination,     ping(ms),      bandwidth(mbps)\n"
                                 "raspi4,vm2Core,            66.7,  1.6\n"
                                 "raspi4,edge,5,50\n"
                                 "device,edge,20,10\n"
                                 "6700k(GPU),vm2Core,20,50\n",
                                 "net.csv", &m),
             sl_errmsg());
    CHECK_EQ(m.n, 4);
    sl_hop h;
    CHECK_OK(sl_netmap_link(&m, 0, "raspi4", 1, "vm2Core", &h), sl_errmsg()); /* host,host */
    CHECK_NEAR(h.rtt_s, 0.0667, 1e-15);
    CHECK_NEAR(h.bandwidth_bps, 1.6e6, 1e-6);
    CHECK_OK(sl_netmap_link(&m, 0, "raspi4", 1, "2500", &h), sl_errmsg()); /* host,tier */
    CHECK_NEAR(h.rtt_s, 0.005, 1e-15);
    CHECK_OK(sl_netmap_link(&m, 0, "jetson", 1, "2500", &h), sl_errmsg()); /* tier,tier */
    CHECK_NEAR(h.rtt_s, 0.020, 1e-15);
    CHECK_OK(sl_netmap_link(&m, 1, "vm2Core", 2, "6700k(GPU)", &h), sl_errmsg()); /* reversed */
    CHECK_NEAR(h.bandwidth_bps, 50e6, 1e-6);
    CHECK(sl_netmap_link(&m, 1, "2500", 2, "6700k(GPU)", &h) == SL_ENOTFOUND);
    CHECK(!h.set);
    const char *dev[1] = {"raspi4"}, *edges[2] = {"vm2Core", "2500"}, *clouds[1] = {"6700k(GPU)"};
    sl_host_names hn = {{dev, edges, clouds}, {1, 2, 1}};
    CHECK_OK(sl_netmap_check(&m, &hn), sl_errmsg());
    edges[0] = "vm4Core";
    CHECK(sl_netmap_check(&m, &hn) == SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "net.csv:2: unknown host 'vm2Core'");
    CHECK_CONTAINS(sl_errmsg(), "vm4Core (edge)");
    sl_netmap_free(&m);

    /* Two rows of the same rank for one link. */
    CHECK_OK(sl_netmap_parse_csv("raspi4,edge,5,50\ndevice,vm2Core,6,60\n", "n.csv", &m),
             sl_errmsg());
    CHECK(sl_netmap_link(&m, 0, "raspi4", 1, "vm2Core", &h) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "n.csv: lines 1 and 2 both give the link raspi4->vm2Core");
    sl_netmap_free(&m);

    /* Refusals name file:line and the field; blank lines count. */
    CHECK(sl_netmap_parse_csv("raspi4,vm2Core,66.7,1.6\n\nvm2Core,raspi4,1,1\n", "n.csv", &m) ==
          SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "n.csv:3: a second row for the link vm2Core,raspi4 (line 1 has it");
    CHECK(m.n == 0 && m.links == NULL);
    CHECK(sl_netmap_parse_csv("device,edge,20,10\nDEVICE,Edge,1,1\n", "n.csv", &m) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "n.csv:2: a second row");
    CHECK(sl_netmap_parse_csv("source,destination,ping(ms),bandwidth(mbps)\n"
                              "raspi4,vm2Core,fast,1.6\n",
                              "n.csv", &m) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "n.csv:2: ping(ms) field: ping 'fast'");
    CHECK(sl_netmap_parse_csv("raspi4,vm2Core,66.7,1.6Mbps\n", "n.csv", &m) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "n.csv:1: bandwidth(mbps) field: bandwidth '1.6Mbps'");
    CHECK(sl_netmap_parse_csv("raspi4,raspi4,1,1\n", "n.csv", &m) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "n.csv:1: source and destination are both 'raspi4'");
    CHECK(sl_netmap_parse_csv("raspi4,,1,1\n", "n.csv", &m) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "n.csv:1: destination: empty");
    CHECK(sl_netmap_parse_csv("a,b,1,2,3\n", "n.csv", &m) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "n.csv:1: expected 4 fields");
}

/* The host criteria's syntax: TIER:NAME, a tier for --use-tier; errors quote the criterion. */
static void test_host_criteria_syntax(void)
{
    sl_constraints c = {0};
    CHECK(sl_constraints_add(&c, "--host", "vm2Core") == SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "criterion '--host vm2Core': expected TIER:HOST, like edge:vm2Core");
    CHECK(sl_constraints_add(&c, "--not-host", "edge:") == SL_EARG);
    CHECK(sl_constraints_add(&c, "--not-host", "fog:vm2Core") == SL_EARG);
    CHECK(sl_constraints_add(&c, "--use-tier", "fog") == SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "criterion '--use-tier fog': expected device, edge or cloud");
    CHECK_EQ(c.n, 0);
    CHECK_OK(sl_constraints_add(&c, "--host", "cloud:6700k(GPU)"), sl_errmsg());
    CHECK_STR(c.items[0].node, "6700k(GPU)");
    /* With no cloud candidates a cloud host criterion names no host. */
    const char *dev[1] = {"pi"}, *edges[1] = {"near"};
    sl_host_names hn = {{dev, edges, NULL}, {1, 1, 0}};
    CHECK(sl_constraints_check_hosts(&c, &hn) == SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "no cloud host named '6700k(GPU)' (cloud hosts: none)");
    sl_constraints_free(&c);
}

int main(void)
{
    test_host_criteria_syntax();
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    test_host_csv();
    test_direct_to_cloud();
    test_two_edges_two_clouds();
    tu_rmtree(dir);
    return TU_DONE();
}
