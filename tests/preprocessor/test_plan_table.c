/* test_plan_table.c: select over a range of links (plan_table.c) on the hand-made profile of
 * fixture.h — the best plan per link and the intervals where each wins, worked out by hand;
 * merging of adjacent links; constraints; bad link lists; and `sl-preprocess select
 * --bandwidths` end to end (the JSON, written atomically, and clear errors). */
#include "common/status.h"
#include "fixture.h"
#include "preprocessor/plan_table.h"
#include "testutil.h"

#include <cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

/* Hand computation (test_select_cost.c has the parts), RTT 20 ms, latency = fixed + RTT +
 * bits/bandwidth:
 *   local-only  0.155 s at any link (no RTT, nothing sent)
 *   TL "pool" at maxpool  fixed 0.05555 s, 400000 bits: 1 Mbit/s 0.47555, 5 Mbit/s 0.15555,
 *                         10 Mbit/s 0.11555, 50 Mbit/s 0.08355
 *   edge-only   fixed 0.00635 s, 1200000 bits: 10 Mbit/s 0.14635, 50 Mbit/s 0.05035
 *   (cut 1 without TL and cut 2 lose everywhere: 0.1064 and 0.1863 s at 50 Mbit/s.)
 * So local-only wins at 1, 2 and 5 Mbit/s (one interval), the TL split at 10, edge-only at 50.
 * Boundaries: local = TL at 400000 / (0.155 - 0.07555) = 5034612.96 bit/s; TL = edge-only at
 * 800000 / (0.07555 - 0.02635) = 16260162.60 bit/s. */
static void test_five_links(const sl_select_input *line)
{
    sl_select_input in = *line;
    const double bw[5] = {50e6, 1e6, 5e6, 2e6, 10e6}; /* any order: the table sorts */
    const double rtt[5] = {0.02, 0.02, 0.02, 0.02, 0.02};
    sl_plan_table t;
    CHECK_OK(sl_plan_table_build(&in, bw, rtt, 5, &t), sl_errmsg());
    CHECK_EQ(t.n_links, 5);
    CHECK_NEAR(t.links[0].bandwidth_bps, 1e6, 0);
    CHECK_NEAR(t.links[4].bandwidth_bps, 50e6, 0);
    CHECK_EQ(t.n_plans, 3);
    CHECK_EQ(t.plans[0].cut, 3); /* local-only */
    CHECK_EQ(t.plans[0].tl, -1);
    CHECK_EQ(t.plans[0].pays_rtt, 0);
    CHECK_NEAR(t.plans[0].fixed_s, 0.155, 1e-12);
    CHECK_NEAR(t.plans[0].upload_bytes, 0, 0);
    CHECK_EQ(t.plans[1].cut, 1);
    CHECK_EQ(t.plans[1].tl, 0);
    CHECK_NEAR(t.plans[1].fixed_s, 0.05555, 1e-12);
    CHECK_NEAR(t.plans[1].upload_bytes, 50000, 0);
    CHECK_EQ(t.plans[2].cut, 0);
    CHECK_NEAR(t.plans[2].fixed_s, 0.00635, 1e-12);
    /* The edge's share: nothing for local-only; the pool TL's decode (0.3 ms) and blocks 1-2
     * (4 + 0.2 ms) for the split; all three blocks (2 + 4 + 0.2 ms) for edge-only. */
    CHECK_NEAR(t.plans[0].edge_s, 0, 0);
    CHECK_NEAR(t.plans[1].edge_s, 0.0045, 1e-12);
    CHECK_NEAR(t.plans[2].edge_s, 0.0062, 1e-12);
    CHECK_NEAR(t.plans[2].upload_bytes, 150000, 0);
    const int want_plan[5] = {0, 0, 0, 1, 2};
    const double want_s[5] = {0.155, 0.155, 0.155, 0.11555, 0.05035};
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(t.links[i].plan, want_plan[i]);
        CHECK_NEAR(t.links[i].best.total_s, want_s[i], 1e-12);
        /* The table's own prediction agrees with select's cost at the link. */
        CHECK_NEAR(sl_plan_table_predict(&t.plans[t.links[i].plan], t.links[i].bandwidth_bps,
                                         t.links[i].rtt_s),
                   want_s[i], 1e-12);
    }
    CHECK_NEAR(t.links[3].best.transfer_s, 0.04, 1e-15);
    CHECK_EQ(t.n_intervals, 3);
    CHECK_EQ(t.intervals[0].plan, 0);
    CHECK_EQ(t.intervals[0].first_link, 0);
    CHECK_EQ(t.intervals[0].last_link, 2); /* 1, 2 and 5 Mbit/s merged */
    CHECK_NEAR(t.intervals[0].from_bps, 1e6, 0);
    CHECK_NEAR(t.intervals[0].to_bps, 5034612.96, 0.01);
    CHECK_NEAR(t.intervals[1].from_bps, 5034612.96, 0.01);
    CHECK_NEAR(t.intervals[1].to_bps, 16260162.60, 0.01);
    CHECK_EQ(t.intervals[1].first_link, 3);
    CHECK_EQ(t.intervals[1].last_link, 3);
    CHECK_NEAR(t.intervals[2].from_bps, 16260162.60, 0.01);
    CHECK_NEAR(t.intervals[2].to_bps, 50e6, 0);

    char *js = sl_plan_table_json(&in, &t);
    CHECK(js != NULL);
    CHECK_CONTAINS(js, "\"format\":\t\"sl-plan-table\"");
    CHECK_CONTAINS(js, "\"tl\":\t\"pool\"");
    free(js);
    char *svg = sl_plan_table_svg(&in, &t);
    CHECK_CONTAINS(svg, "plan 1: TL pool at maxpool");
    CHECK_CONTAINS(svg, "plan 2: edge-only");
    int lines = 0;
    for (const char *q = svg; q && (q = strstr(q, "<polyline")); q++)
        lines++;
    CHECK_EQ(lines, 3); /* one latency line per plan */
    free(svg);
    sl_plan_table_free(&t);
    sl_plan_table_free(&t); /* freed twice is fine: free zeroes */

    /* Two links only, both on the same plan: one plan, one interval spanning both. */
    const double bw2[2] = {1e6, 2e6};
    CHECK_OK(sl_plan_table_build(&in, bw2, rtt, 2, &t), sl_errmsg());
    CHECK_EQ(t.n_plans, 1);
    CHECK_EQ(t.n_intervals, 1);
    CHECK_NEAR(t.intervals[0].to_bps, 2e6, 0);
    sl_plan_table_free(&t);
}

/* Per-link RTTs: 5 Mbit/s at 20 ms (local-only 0.155 beats the TL split's 0.15555) and
 * 50 Mbit/s at 100 ms (edge-only 0.00635 + 0.1 + 0.024 = 0.13035 beats local-only 0.155 and the
 * TL split's 0.16355). With the RTT linear in between, rtt(b) = 0.02 + (b - 5e6) / 45e6 * 0.08,
 * the boundary solves 0.00635 + rtt(b) + 1.2e6 / b = 0.155: b = 10023433.88 bit/s. */
static void test_rtt_per_link(const sl_select_input *line)
{
    sl_select_input in = *line;
    const double bw[2] = {5e6, 50e6}, rtt[2] = {0.02, 0.1};
    sl_plan_table t;
    CHECK_OK(sl_plan_table_build(&in, bw, rtt, 2, &t), sl_errmsg());
    CHECK_EQ(t.n_plans, 2);
    CHECK_EQ(t.plans[0].cut, 3);
    CHECK_EQ(t.plans[1].cut, 0);
    CHECK_NEAR(t.links[1].best.total_s, 0.13035, 1e-12);
    CHECK_NEAR(t.links[1].best.rtt_s, 0.1, 0);
    CHECK_EQ(t.n_intervals, 2);
    CHECK_NEAR(t.intervals[0].to_bps, 10023433.88, 0.01);
    sl_plan_table_free(&t);
}

/* With fc held on the edge, local-only is ruled out: at 1 Mbit/s the TL split wins (0.47555 s;
 * cut 2 costs 0.9703, edge-only 1.22635, cut 1 without TL 1.6744), at 50 Mbit/s edge-only. */
static void test_constraints(const sl_select_input *line)
{
    sl_select_input in = *line;
    sl_constraints cons;
    memset(&cons, 0, sizeof cons);
    CHECK_OK(sl_constraints_add(&cons, "--edge-only", "fc"), sl_errmsg());
    CHECK_OK(sl_constraints_resolve(&cons, in.device, 0), sl_errmsg());
    in.constraints = &cons;
    const double bw[2] = {1e6, 50e6}, rtt[2] = {0.02, 0.02};
    sl_plan_table t;
    CHECK_OK(sl_plan_table_build(&in, bw, rtt, 2, &t), sl_errmsg());
    CHECK_EQ(t.n_plans, 2);
    CHECK_EQ(t.plans[0].cut, 1);
    CHECK_EQ(t.plans[0].tl, 0);
    CHECK_NEAR(t.links[0].best.total_s, 0.47555, 1e-12);
    CHECK_EQ(t.plans[1].cut, 0);
    CHECK_NEAR(t.intervals[0].to_bps, 16260162.60, 0.01);
    sl_plan_table_free(&t);
    sl_constraints_free(&cons);

    /* No plan at all: neither the device nor the edge may run a node. The error names the link. */
    memset(&cons, 0, sizeof cons);
    CHECK_OK(sl_constraints_add(&cons, "--exclude-tier", "device"), sl_errmsg());
    CHECK_OK(sl_constraints_add(&cons, "--exclude-tier", "edge"), sl_errmsg());
    CHECK_OK(sl_constraints_resolve(&cons, in.device, 0), sl_errmsg());
    in.constraints = &cons;
    CHECK(sl_plan_table_build(&in, bw, rtt, 2, &t) == SL_ECONSTRAINT);
    CHECK_CONTAINS(sl_errmsg(), "at 1 Mbit/s, RTT 20 ms");
    CHECK(t.links == NULL);
    sl_constraints_free(&cons);
}

static void test_bad_links(const sl_select_input *line)
{
    sl_select_input in = *line;
    sl_plan_table t;
    const double bw[2] = {5e6, 5e6}, rtt[2] = {0.02, 0.03};
    CHECK(sl_plan_table_build(&in, bw, rtt, 2, &t) == SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "given twice");
    CHECK(t.links == NULL && t.n_links == 0);
    CHECK(sl_plan_table_build(&in, bw, rtt, 0, &t) == SL_EARG);
    const double zero[1] = {0};
    CHECK(sl_plan_table_build(&in, zero, rtt, 1, &t) == SL_EARG);

    double *v;
    int n;
    CHECK_OK(sl_plan_table_parse_bandwidths("--bandwidths", "1mbit,500kbit,1gbit", &v, &n),
             sl_errmsg());
    CHECK_EQ(n, 3);
    CHECK_NEAR(v[1], 500e3, 0);
    CHECK_NEAR(v[2], 1e9, 0);
    free(v);
    CHECK(sl_plan_table_parse_bandwidths("--bandwidths", "1mbit,,2mbit", &v, &n) == SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "empty item");
    CHECK(v == NULL);
    CHECK(sl_plan_table_parse_bandwidths("--bandwidths", "1mbit,0mbit", &v, &n) == SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "item 2");
    CHECK_CONTAINS(sl_errmsg(), "must be positive");
    CHECK(sl_plan_table_parse_bandwidths("--bandwidths", "fast", &v, &n) == SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "fast");
    CHECK_OK(sl_plan_table_parse_rtts("--rtts", "20ms,0", &v, &n), sl_errmsg());
    CHECK_NEAR(v[0], 0.02, 1e-15);
    CHECK_NEAR(v[1], 0, 0);
    free(v);
}

/* Runs `sl-preprocess select ARGS` in dir with stdout+stderr in dir/log; returns the exit code. */
static int run_select(const char *dir, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s/sl-preprocess' select --device dev.json "
             "--edge edge.json %s >log 2>&1",
             dir, getenv("SL_BIN"), args);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *slurp(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

/* A usage error (exit 2) naming `needle`, and table.json left as it was. */
static void expect_usage(const char *dir, const char *args, const char *needle)
{
    CHECK_EQ(run_select(dir, args), 2);
    char *log = slurp(dir, "log"), *kept = slurp(dir, "table.json");
    CHECK_CONTAINS(log, needle);
    CHECK(kept && !strcmp(kept, "old\n"));
    free(log);
    free(kept);
}

static void test_cli(const sl_select_input *line)
{
    if (!getenv("SL_BIN")) {
        printf("no SL_BIN: the command line checks need the built sl-preprocess\n");
        CHECK(0);
        return;
    }
    const char *dir = tu_tmpdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/dev.json", dir);
    CHECK_OK(sl_profile_write(path, line->device), sl_errmsg());
    snprintf(path, sizeof path, "%s/edge.json", dir);
    CHECK_OK(sl_profile_write(path, line->edge), sl_errmsg());
    snprintf(path, sizeof path, "%s/table.json", dir);
    FILE *f = fopen(path, "w");
    fputs("old\n", f);
    fclose(f);

    expect_usage(dir, "--rtt 20ms --bandwidths 1mbit,,2mbit -o table.json", "empty item");
    expect_usage(dir, "--rtt 20ms --bandwidths 1mbit,0mbit -o table.json",
                 "item 2: bandwidth must be positive");
    expect_usage(dir, "--bandwidths 1mbit,2mbit,5mbit --rtts 20ms,30ms -o table.json",
                 "--rtts has 2 items, --bandwidths 3");
    expect_usage(dir, "--bandwidths 1mbit,2mbit -o table.json", "needs the RTT");
    expect_usage(dir, "--rtts 20ms -o table.json", "--rtts needs --bandwidths");
    expect_usage(dir, "--bandwidth 1mbit --rtt 20ms --bandwidths 1mbit,2mbit -o table.json",
                 "exclude each other");
    expect_usage(dir, "--rtt 20ms --bandwidths 2mbit,2mbit -o table.json", "given twice");
    CHECK_EQ(run_select(dir, "--rtt 20ms --bandwidths 1mbit,2mbit --exclude-tier device "
                             "--exclude-tier edge -o table.json"),
             1);
    char *kept = slurp(dir, "table.json");
    CHECK(kept && !strcmp(kept, "old\n"));
    free(kept);

    CHECK_EQ(run_select(dir, "--rtt 20ms --bandwidths 1mbit,2mbit,5mbit,10mbit,50mbit "
                             "-o table.json --plot chart.svg"),
             0);
    char *log = slurp(dir, "log"), *js = slurp(dir, "table.json");
    CHECK_CONTAINS(log, "plan 1 wins from 5.035 to 16.26 Mbit/s");
    cJSON *r = cJSON_Parse(js);
    CHECK(r != NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(r, "format")), "sl-plan-table");
    CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "version")), 1, 0);
    CHECK_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(r, "links")), 5);
    CHECK_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(r, "plans")), 3);
    cJSON *iv = cJSON_GetObjectItem(r, "intervals");
    CHECK_EQ(cJSON_GetArraySize(iv), 3);
    cJSON *mid = cJSON_GetArrayItem(iv, 1);
    CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(mid, "from_bps")), 5034612.96, 0.01);
    cJSON *p1 = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "plans"), 1);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p1, "tl")), "pool");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(p1, "cut"), "tensor")),
              "maxpool");
    cJSON *l3 = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "links"), 3);
    CHECK_NEAR(
        cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(l3, "latency_s"), "total")),
        0.11555, 1e-9);
    CHECK_NEAR(
        cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(l3, "bytes"), "upload")),
        50000, 0);
    cJSON_Delete(r);
    free(log);
    free(js);

    /* Nothing but the inputs, the table, the chart and the log: no temporary file left. */
    DIR *d = opendir(dir);
    int files = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') files++;
    if (d) closedir(d);
    CHECK_EQ(files, 5);
    char *svg = slurp(dir, "chart.svg");
    CHECK_CONTAINS(svg, "</svg>");
    free(svg);

    /* The constraint flags apply at every link; JSON on stdout with -o -. */
    CHECK_EQ(run_select(dir, "--rtts 20ms,20ms --bandwidths 1mbit,50mbit --edge-only fc -o -"), 0);
    log = slurp(dir, "log");
    r = cJSON_Parse(log);
    CHECK(r != NULL);
    cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "plans"), 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p0, "tl")), "pool");
    cJSON_Delete(r);
    free(log);
    tu_rmtree(dir);
}

int main(void)
{
    /* The fixtures' device and edge on a 10 Mbit/s link; the tests only read them. */
    sl_profile *dev = fx_device(), *edge = fx_edge();
    sl_select_input line = fx_two_tier(dev, edge);
    test_five_links(&line);
    test_rtt_per_link(&line);
    test_constraints(&line);
    test_bad_links(&line);
    test_cli(&line);
    sl_profile_free(dev);
    sl_profile_free(edge);
    return TU_DONE();
}
