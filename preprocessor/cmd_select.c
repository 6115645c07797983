/* cmd_select.c: `sl-preprocess select`, choosing the slice point from profiles and a network
 * (arguments and printing only; the run is select_run.c over select.c, mincut.c, constraints.c;
 * the chart is plot.c). */
#include "common/cli.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/status.h"
#include "preprocessor/commands.h"
#include "preprocessor/plan_table.h"
#include "preprocessor/plot.h"
#include "preprocessor/select.h"
#include "preprocessor/select_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A repeatable profile flag's values (candidate hosts of one tier). */
#define SL_SELECT_MAX_HOSTS 64
typedef struct host_args {
    const char *v[SL_SELECT_MAX_HOSTS];
    int n;
} host_args;

typedef struct opts {
    const char *device, *network, *output, *plot;
    host_args edges, clouds;
    const char *bandwidths, *rtts; /* a plan table over several links (plan_table.c) */
    double bw[SL_HOP_COUNT], rtt[SL_HOP_COUNT]; /* < 0: not given */
    long top;
    int versus, dads, throughput, dads_cloud, json, quiet;
    sl_constraints cons;
} opts;

static opts A;

/* A constraint flag appends its criterion to A.cons; `dest` is the flag's own name. */
static int add_constraint(void *dest, const char *value)
{
    return sl_constraints_add(&A.cons, (const char *)dest, value);
}

/* --edge / --cloud append a candidate host; `dest` is its host_args. */
static int add_host(void *dest, const char *value)
{
    host_args *h = dest;
    if (!*value) return sl_err(SL_EARG, "empty profile path");
    if (h->n == SL_SELECT_MAX_HOSTS)
        return sl_err(SL_EARG, "more than %d profiles for one tier", SL_SELECT_MAX_HOSTS);
    h->v[h->n++] = value;
    return SL_OK;
}

#define CONSTRAINT(name, argh, help)                                                            \
    SL_OPT_CALLBACK(0, name, (void *)"--" name, argh, add_constraint, help)

static const sl_opt options[] = {
    SL_OPT_SECTION("inputs"),
    SL_OPT_STRING(0, "device", &A.device, "[NAME=]FILE",
                  "profile measured on the device (sl-preprocess profile)"),
    SL_OPT_CALLBACK(0, "edge", &A.edges, "[NAME=]FILE", add_host,
                    "profile measured on an edge server; repeat for several candidate edges\n"
                    "(NAME names the host in plans and --network; default: its host field)"),
    SL_OPT_CALLBACK(0, "cloud", &A.clouds, "[NAME=]FILE", add_host,
                    "profile measured on a cloud server (three tiers); repeatable"),
    SL_OPT_BANDWIDTH(0, "bandwidth", &A.bw[SL_HOP_DEVICE_EDGE],
                     "device->edge bandwidth: 10mbit, 500kbit, 1gbit, 20Mbps"),
    SL_OPT_DURATION(0, "rtt", &A.rtt[SL_HOP_DEVICE_EDGE], "device->edge round-trip time: 20ms, 0.02s"),
    SL_OPT_STRING(0, "bandwidths", &A.bandwidths, "LIST",
                  "plans per link: 1mbit,5mbit,50mbit (docs/formats/plan-table.md)"),
    SL_OPT_STRING(0, "rtts", &A.rtts, "LIST", "one RTT per --bandwidths link (default: --rtt)"),
    SL_OPT_BANDWIDTH(0, "cloud-bandwidth", &A.bw[SL_HOP_EDGE_CLOUD], "edge->cloud bandwidth"),
    SL_OPT_DURATION(0, "cloud-rtt", &A.rtt[SL_HOP_EDGE_CLOUD], "edge->cloud round-trip time"),
    SL_OPT_BANDWIDTH(0, "device-cloud-bandwidth", &A.bw[SL_HOP_DEVICE_CLOUD],
                     "device->cloud bandwidth: the device may send straight to the cloud"),
    SL_OPT_DURATION(0, "device-cloud-rtt", &A.rtt[SL_HOP_DEVICE_CLOUD],
                    "device->cloud round-trip time"),
    SL_OPT_STRING(0, "network", &A.network, "FILE",
                  "Scission CSV source,destination,ping(ms),bandwidth(mbps), ends named\n"
                  "by tier or host; flags given as well override its hops"),
    SL_OPT_SECTION("constraints (repeatable; see docs/select.md)"),
    CONSTRAINT("device-only", "NODE", "NODE must run on the device"),
    CONSTRAINT("edge-only", "NODE", "NODE must run on the edge"),
    CONSTRAINT("cloud-only", "NODE", "NODE must run on the cloud"),
    CONSTRAINT("not-on", "TIER:NODE", "NODE must not run on TIER (device, edge, cloud)"),
    CONSTRAINT("exclude-tier", "TIER", "TIER runs no node"),
    CONSTRAINT("max-upload", "SIZE", "the device sends at most SIZE per image: 0.5MB, 200kB"),
    CONSTRAINT("max-time", "TIER:LIMIT",
               "compute on TIER at most LIMIT: 0.05s, 50ms, or 30% of the total"),
    CONSTRAINT("use-tier", "TIER", "TIER runs at least one node"),
    CONSTRAINT("host", "TIER:NAME", "TIER, when it takes part, is host NAME"),
    CONSTRAINT("not-host", "TIER:NAME", "host NAME of TIER is not used"),
    CONSTRAINT("tl-at", "CUT[,CUT...]",
               "a TL goes only at these cuts (tensor names): where it keeps accuracy"),
    SL_OPT_SECTION("output"),
    SL_OPT_LONG(0, "top", &A.top, "N", 1, 1000000, "list the N best plans (default 5)"),
    SL_OPT_FLAG(0, "versus", &A.versus, "per slice point, the best plan without and with a TL"),
    SL_OPT_FLAG(0, "dads", &A.dads, "also the DADS min-cut partition (may cut several tensors)"),
    SL_OPT_FLAG(0, "throughput", &A.throughput,
                "also the DADS throughput partition (minimises the slowest stage)"),
    SL_OPT_FLAG(0, "dads-cloud", &A.dads_cloud,
                "also the DADS min cut over device, edge and cloud (needs --cloud)"),
    SL_OPT_OUTPUT(&A.output, "write the plan as JSON (docs/formats/plan.md); - for stdout"),
    SL_OPT_FLAG(0, "json", &A.json, "print the plan JSON on stdout instead of text"),
    SL_OPT_STRING(0, "plot", &A.plot, "FILE", "write an SVG chart of every slice point"),
    SL_OPT_FLAG('q', "quiet", &A.quiet, "print nothing but errors"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_select_spec = {
    "sl-preprocess select --device PROFILE --edge PROFILE... [--cloud PROFILE...]\n"
    "                     (--bandwidth BW --rtt TIME | --network NET.csv) [options]",
    "Ranks every slice point of a model, with and without a transfer layer (TL), by predicted\n"
    "latency: device blocks + TL encode + serialise + RTT + bytes/bandwidth + TL decode + edge\n"
    "blocks (+ the edge->cloud hop). Cut 0 is edge-only (the raw image is sent), the last cut is\n"
    "local-only (nothing is sent). With several --edge or --cloud profiles every combination\n"
    "of hosts and cuts is ranked.",
    options,
    0,
    0,
    NULL,
    NULL,
};

static int parse_args(int argc, char **argv, opts *o)
{
    o->top = 5;
    for (int h = 0; h < SL_HOP_COUNT; h++)
        o->bw[h] = o->rtt[h] = -1;
    int rc = sl_opt_parse(&sl_cmd_select_spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    if (!o->device || !o->edges.n)
        return sl_usage_error("--device and --edge profiles are required");
    if (o->bandwidths || o->rtts) return SL_OPT_CONTINUE; /* plan_table.c checks the links */
    if (!o->network && o->bw[SL_HOP_DEVICE_EDGE] < 0 && o->rtt[SL_HOP_DEVICE_EDGE] < 0)
        return sl_usage_error("no network: give --bandwidth and --rtt, or --network FILE");
    static const char *const bw_flag[SL_HOP_COUNT] = {"--bandwidth", "--cloud-bandwidth",
                                                      "--device-cloud-bandwidth"};
    static const char *const rtt_flag[SL_HOP_COUNT] = {"--rtt", "--cloud-rtt",
                                                       "--device-cloud-rtt"};
    for (int h = 0; h < (o->clouds.n ? SL_HOP_COUNT : 1); h++)
        if ((!o->network || h == SL_HOP_DEVICE_CLOUD) && (o->bw[h] < 0) != (o->rtt[h] < 0))
            return sl_usage_error("%s needs both %s and %s", sl_hop_name(h), bw_flag[h],
                                  rtt_flag[h]);
    for (int h = 0; h < SL_HOP_COUNT; h++)
        if (o->bw[h] == 0) return sl_usage_error("%s: must be above 0", bw_flag[h]);
    if (o->output && !strcmp(o->output, "-")) {
        o->output = NULL;
        o->json = 1;
    }
    if (o->json && o->quiet) return sl_usage_error("--json and --quiet exclude each other");
    if (o->dads_cloud && !o->clouds.n)
        return sl_usage_error("--dads-cloud partitions over three tiers: give --cloud PROFILE");
    if (!o->clouds.n && (o->bw[SL_HOP_EDGE_CLOUD] >= 0 || o->rtt[SL_HOP_EDGE_CLOUD] >= 0 ||
                         o->bw[SL_HOP_DEVICE_CLOUD] >= 0 || o->rtt[SL_HOP_DEVICE_CLOUD] >= 0))
        sl_log_warn("--cloud-bandwidth, --cloud-rtt and --device-cloud-* are ignored without "
                    "--cloud");
    return SL_OPT_CONTINUE;
}

/* The hosts a plan sends to, for the --versus table: "near", "near>dc" (edge, then cloud),
 * ">dc" (straight to the cloud), "-" (local-only). */
static void hosts_of(const sl_select_input *in, const sl_plan *p, char *buf, size_t n)
{
    sl_placement pl;
    sl_plan_placement(in, p, &pl);
    const char *e = pl.host[SL_TIER_EDGE], *c = pl.host[SL_TIER_CLOUD];
    snprintf(buf, n, "%s%s%s", e ? e : "", c ? ">" : "", c ? c : e ? "" : "-");
}

static void print_versus(const sl_select_input *in, const sl_selection *s)
{
    const sl_profile *pr = in->device;
    printf("\nper slice point, without and with a TL:\n");
    printf("  %4s  %-24s %10s %10s  %10s %10s  %-16s %6s%s\n", "cut", "tensor", "plain", "sends",
           "with TL", "sends", "TL config", "gain",
           in->show_hosts ? "  hosts (plain / with TL)" : "");
    for (int c = 0; c < pr->n_cuts; c++) {
        const sl_plan *a = sl_selection_best_at(s, c, 0), *b = sl_selection_best_at(s, c, 1);
        if (!a && !b) continue;
        printf("  %4d  %-24.24s ", c, pr->cuts[c].tensor);
        char t[32], up[32];
        if (a) {
            sl_format_seconds(t, sizeof t, a->total_s);
            sl_format_bytes(up, sizeof up, a->upload_bytes);
            printf("%10s %10s  ", t, up);
        } else {
            printf("%10s %10s  ", "-", "-");
        }
        if (b) {
            sl_format_seconds(t, sizeof t, b->total_s);
            sl_format_bytes(up, sizeof up, b->upload_bytes);
            printf("%10s %10s  %-16.16s ", t, up, sl_plan_tl_name(in, b));
        } else
            printf("%10s %10s  %-16s ", "-", "-", "-");
        if (a && b)
            printf("%5.2fx", a->total_s / b->total_s);
        else
            printf("%6s", "-");
        if (in->show_hosts) {
            char ha[160] = "-", hb[160] = "-";
            if (a) hosts_of(in, a, ha, sizeof ha);
            if (b) hosts_of(in, b, hb, sizeof hb);
            printf("  %s / %s", ha, hb);
        }
        printf("\n");
    }
}

static void print_dads(const sl_select_input *in, const sl_selection *s, const sl_dads_result *r,
                       const char *title)
{
    const sl_profile *pr = in->device;
    uint8_t *crosses = malloc((size_t)pr->n_nodes + 1);
    if (!crosses) return;
    double upload;
    int v = sl_dads_check(r, pr, in->constraints, crosses, &upload);
    int ndev = 0;
    for (int i = 1; i <= pr->n_nodes; i++)
        ndev += r->on_device[i];
    char lat[32], up[32], bn[32], dv[32], tr[32], ed[32];
    sl_format_seconds(lat, sizeof lat, r->latency_s);
    sl_format_bytes(up, sizeof up, upload);
    sl_format_seconds(bn, sizeof bn, r->bottleneck_s);
    sl_format_seconds(dv, sizeof dv, r->device_s);
    sl_format_seconds(tr, sizeof tr, r->transfer_s);
    sl_format_seconds(ed, sizeof ed, r->edge_s);
    printf("\n%s: %s - %s - device %d nodes, edge %d nodes; bottleneck stage %s "
           "(device %s, transfer %s, edge %s)\n",
           title, lat, up, ndev, pr->n_nodes - ndev, bn, dv, tr, ed);
    printf("  tensors crossing:");
    if (!r->n_crossing) printf(" none (local-only)");
    for (int u = 0; u <= pr->n_nodes; u++)
        if (crosses[u]) printf(" %s", u ? pr->nodes[u - 1].name : "(raw image)");
    printf("\n");
    if (v >= 0)
        printf("  note: this partition breaks '%s' (only node placements bind DADS)\n",
               in->constraints->items[v].text);
    const sl_plan *plain = sl_selection_best(s, 0);
    if (plain) {
        char line[512];
        sl_plan_format(in, plain, line, sizeof line);
        printf("  best single cut without TL: %s\n", line);
    }
    free(crosses);
}

/* The three-tier DADS partition in words. */
static void print_dads3(const sl_profile *pr, const sl_plan_doc_three *x)
{
    const sl_dads3_result *r = x->r;
    int count[SL_TIER_COUNT] = {0, 0, 0};
    for (int i = 1; i <= pr->n_nodes; i++)
        count[r->tier[i]]++;
    char lat[32], part[7][32];
    const double v[7] = {r->device_s, r->transfer_s, r->rtt_s, r->edge_s,
                         r->transfer2_s, r->rtt2_s, r->cloud_s};
    sl_format_seconds(lat, sizeof lat, r->latency_s);
    for (int i = 0; i < 7; i++)
        sl_format_seconds(part[i], sizeof part[i], v[i]);
    printf("\nDADS min cut over three tiers (latency)%s%s%s%s: %s - device %d nodes, edge %d "
           "nodes, cloud %d nodes\n  (device %s, to edge %s + RTT %s, edge %s, to cloud %s + RTT "
           "%s, cloud %s)\n",
           x->edge_host ? " on edge " : "", x->edge_host ? x->edge_host : "",
           x->cloud_host ? ", cloud " : "", x->cloud_host ? x->cloud_host : "", lat,
           count[SL_TIER_DEVICE], count[SL_TIER_EDGE], count[SL_TIER_CLOUD], part[0], part[1],
           part[2], part[3], part[4], part[5], part[6]);
}

int sl_cmd_select(int argc, char **argv)
{
    memset(&A, 0, sizeof A);
    int rc = parse_args(argc, argv, &A);
    opts o = A; /* the constraints are freed through this copy */
    if (rc != SL_OPT_CONTINUE) {
        sl_constraints_free(&o.cons);
        return rc;
    }
    sl_select_request rq = {o.device, o.edges.v[0], o.clouds.n ? o.clouds.v[0] : NULL,
                            o.network, {0}, {0}, &o.cons, o.dads, o.throughput,
                            o.edges.v, o.edges.n, o.clouds.v, o.clouds.n, o.dads_cloud};
    for (int h = 0; h < SL_HOP_COUNT; h++) {
        rq.bandwidth_bps[h] = o.bw[h];
        rq.rtt_s[h] = o.rtt[h];
    }
    if (o.bandwidths || o.rtts) {
        sl_plan_table_request tr = {o.bandwidths, o.rtts, o.output, o.json, o.quiet, o.plot};
        if (o.output && !strcmp(o.output, "-")) tr.output = NULL, tr.json = 1;
        int user, st = sl_plan_table_select(&rq, &tr, &user);
        sl_constraints_free(&o.cons);
        return st ? (user ? sl_usage_error("%s", sl_errmsg()) : sl_fail()) : SL_EXIT_OK;
    }
    sl_select_outcome r;
    int st = sl_select_execute(&rq, &r);
    const sl_select_input *in = &r.in;
    const sl_selection *sel = &r.sel;
    if (st == SL_ECONSTRAINT) {
        rc = sl_fail();
        if (o.plot && sl_plot_write_svg(o.plot, in, sel)) sl_log_error("%s", sl_errmsg());
        goto out;
    }
    if (st) {
        rc = r.user_error ? sl_usage_error("%s", sl_errmsg()) : sl_fail();
        goto out;
    }
    sl_plan_doc doc = {in, sel, (int)o.top, o.dads ? &r.dads : NULL,
                       o.throughput ? &r.throughput : NULL};
    sl_plan_doc_three three = {&r.dads3, in->hosts ? r.edge_names[r.dads3_edge] : NULL,
                               in->hosts ? r.cloud_names[r.dads3_cloud] : NULL};
    const sl_plan_doc_three *x = o.dads_cloud ? &three : NULL;
    if ((o.output && sl_plan_doc_write_three(o.output, &doc, x)) ||
        (o.plot && sl_plot_write_svg(o.plot, in, sel))) {
        rc = sl_fail();
        goto out;
    }
    if (o.json) {
        char *js = sl_plan_doc_json_three(&doc, x);
        if (!js) {
            rc = sl_fail();
            goto out;
        }
        printf("%s\n", js);
        free(js);
    } else if (!o.quiet) {
        const sl_hop *h = &in->net.hop[SL_HOP_DEVICE_EDGE];
        if (in->hosts)
            printf("%s: %d plans, %d allowed; %d edge%s x %d cloud%s\n", r.device->model,
                   sel->n_plans, sel->n_allowed, r.n_edges, r.n_edges == 1 ? "" : "s", r.n_clouds,
                   r.n_clouds == 1 ? "" : "s");
        else
            printf("%s: %d plans, %d allowed; device->edge %.3g Mbit/s, RTT %.3g ms\n",
                   r.device->model, sel->n_plans, sel->n_allowed, h->bandwidth_bps / 1e6,
                   h->rtt_s * 1e3);
        char line[512];
        for (int i = 0; i < sel->n_allowed && i < o.top; i++) {
            sl_plan_format(in, &sel->plans[i], line, sizeof line);
            printf("%3d. %s\n", i + 1, line);
        }
        const sl_plan *plain = sl_selection_best(sel, 0);
        if (plain && plain != &sel->plans[0]) {
            sl_plan_format(in, plain, line, sizeof line);
            printf("best without TL: %s\n", line);
        }
        if (o.versus) print_versus(in, sel);
        char title[160];
        snprintf(title, sizeof title, "DADS min cut (latency)%s%s", in->hosts ? " on edge " : "",
                 in->hosts ? r.edge_names[r.dads.edge_host] : "");
        if (o.dads) print_dads(in, sel, &r.dads, title);
        snprintf(title, sizeof title, "DADS throughput (slowest stage)%s%s",
                 in->hosts ? " on edge " : "", in->hosts ? r.edge_names[r.throughput.edge_host] : "");
        if (o.throughput) print_dads(in, sel, &r.throughput, title);
        if (o.dads_cloud) print_dads3(r.device, &three);
    }
    rc = SL_EXIT_OK;
out:
    sl_select_outcome_free(&r);
    sl_constraints_free(&o.cons);
    return rc;
}
