/* cmd_select.c: `sl-preprocess select`, choosing the slice point from profiles and a network
 * (arguments only; the logic is in select.c, mincut.c, constraints.c and plot.c). */
#include "common/cli.h"
#include "common/log.h"
#include "common/status.h"
#include "preprocessor/commands.h"
#include "preprocessor/plot.h"
#include "preprocessor/select.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: sl-preprocess select --device PROFILE --edge PROFILE [--cloud PROFILE]\n"
    "                            (--bandwidth BW --rtt TIME | --network NET.csv) [options]\n"
    "\n"
    "Ranks every slice point of a model, with and without a transfer layer (TL), by predicted\n"
    "latency: device blocks + TL encode + serialise + RTT + bytes/bandwidth + TL decode + edge\n"
    "blocks (+ the edge->cloud hop). Cut 0 is edge-only (the raw image is sent), the last cut is\n"
    "local-only (nothing is sent).\n"
    "\n"
    "inputs:\n"
    "  --device FILE           profile measured on the device (sl-preprocess profile)\n"
    "  --edge FILE             profile measured on the edge server\n"
    "  --cloud FILE            profile measured on a cloud server (three tiers)\n"
    "  --bandwidth BW          device->edge bandwidth: 10mbit, 500kbit, 1gbit, 20Mbps\n"
    "  --rtt TIME              device->edge round-trip time: 20ms, 0.02s\n"
    "  --cloud-bandwidth BW    edge->cloud bandwidth\n"
    "  --cloud-rtt TIME        edge->cloud round-trip time\n"
    "  --network FILE          Scission CSV source,destination,ping(ms),bandwidth(Mbps);\n"
    "                          flags given as well override its hops\n"
    "constraints (repeatable; see docs/select.md):\n"
    "  --device-only NODE      NODE must run on the device (also --edge-only, --cloud-only)\n"
    "  --not-on TIER:NODE      NODE must not run on TIER (device, edge, cloud)\n"
    "  --exclude-tier TIER     TIER runs no node\n"
    "  --max-upload SIZE       the device sends at most SIZE per image: 0.5MB, 200kB\n"
    "  --max-time TIER:LIMIT   compute on TIER at most LIMIT: 0.05s, 50ms, or 30% of the total\n"
    "output:\n"
    "  --top N                 list the N best plans (default 5)\n"
    "  --versus                per slice point, the best plan without and with a TL\n"
    "  --dads                  also the DADS min-cut partition (may cut several tensors)\n"
    "  --throughput            also the DADS throughput partition (minimises the slowest stage)\n"
    "  -o, --output FILE       write the plan as JSON (docs/formats/plan.md); - for stdout\n"
    "  --json                  print the plan JSON on stdout instead of text\n"
    "  --plot FILE             write an SVG chart of every slice point\n"
    "  -q, --quiet             print nothing but errors\n"
    "  -h, --help              show this help\n";

enum {
    OPT_DEVICE = 256,
    OPT_EDGE,
    OPT_CLOUD,
    OPT_BW,
    OPT_RTT,
    OPT_CBW,
    OPT_CRTT,
    OPT_NET,
    OPT_TOP,
    OPT_VERSUS,
    OPT_DADS,
    OPT_THROUGHPUT,
    OPT_JSON,
    OPT_PLOT,
    OPT_CONSTRAINT,
};

static const struct option long_opts[] = {
    {"device", required_argument, NULL, OPT_DEVICE},
    {"edge", required_argument, NULL, OPT_EDGE},
    {"cloud", required_argument, NULL, OPT_CLOUD},
    {"bandwidth", required_argument, NULL, OPT_BW},
    {"rtt", required_argument, NULL, OPT_RTT},
    {"cloud-bandwidth", required_argument, NULL, OPT_CBW},
    {"cloud-rtt", required_argument, NULL, OPT_CRTT},
    {"network", required_argument, NULL, OPT_NET},
    {"top", required_argument, NULL, OPT_TOP},
    {"versus", no_argument, NULL, OPT_VERSUS},
    {"dads", no_argument, NULL, OPT_DADS},
    {"throughput", no_argument, NULL, OPT_THROUGHPUT},
    {"output", required_argument, NULL, 'o'},
    {"json", no_argument, NULL, OPT_JSON},
    {"plot", required_argument, NULL, OPT_PLOT},
    {"quiet", no_argument, NULL, 'q'},
    {"device-only", required_argument, NULL, OPT_CONSTRAINT},
    {"edge-only", required_argument, NULL, OPT_CONSTRAINT},
    {"cloud-only", required_argument, NULL, OPT_CONSTRAINT},
    {"not-on", required_argument, NULL, OPT_CONSTRAINT},
    {"exclude-tier", required_argument, NULL, OPT_CONSTRAINT},
    {"max-upload", required_argument, NULL, OPT_CONSTRAINT},
    {"max-time", required_argument, NULL, OPT_CONSTRAINT},
    {NULL, 0, NULL, 0},
};

typedef struct opts {
    const char *device, *edge, *cloud, *network, *output, *plot;
    const char *bw[SL_HOP_COUNT], *rtt[SL_HOP_COUNT];
    long top;
    int versus, dads, throughput, json, quiet;
    sl_constraints cons;
} opts;

static int parse_args(int argc, char **argv, opts *o)
{
    o->top = 5;
    opterr = 0;
    optind = 1;
    int c, idx;
    while ((c = getopt_long(argc, argv, ":o:q", long_opts, &idx)) != -1) {
        switch (c) {
        case OPT_DEVICE:
            o->device = optarg;
            break;
        case OPT_EDGE:
            o->edge = optarg;
            break;
        case OPT_CLOUD:
            o->cloud = optarg;
            break;
        case OPT_BW:
            o->bw[SL_HOP_DEVICE_EDGE] = optarg;
            break;
        case OPT_RTT:
            o->rtt[SL_HOP_DEVICE_EDGE] = optarg;
            break;
        case OPT_CBW:
            o->bw[SL_HOP_EDGE_CLOUD] = optarg;
            break;
        case OPT_CRTT:
            o->rtt[SL_HOP_EDGE_CLOUD] = optarg;
            break;
        case OPT_NET:
            o->network = optarg;
            break;
        case OPT_TOP:
            if (sl_parse_long("--top", optarg, 1, 1000000, &o->top))
                return sl_usage_error("%s", sl_errmsg());
            break;
        case OPT_VERSUS:
            o->versus = 1;
            break;
        case OPT_DADS:
            o->dads = 1;
            break;
        case OPT_THROUGHPUT:
            o->throughput = 1;
            break;
        case 'o':
            o->output = optarg;
            break;
        case OPT_JSON:
            o->json = 1;
            break;
        case OPT_PLOT:
            o->plot = optarg;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case OPT_CONSTRAINT: {
            char flag[64];
            snprintf(flag, sizeof flag, "--%s", long_opts[idx].name);
            if (sl_constraints_add(&o->cons, flag, optarg))
                return sl_usage_error("%s", sl_errmsg());
            break;
        }
        case ':':
            return sl_usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return sl_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return sl_usage_error("unexpected argument '%s'", argv[optind]);
    if (!o->device || !o->edge) return sl_usage_error("--device and --edge profiles are required");
    if (!o->network && !o->bw[SL_HOP_DEVICE_EDGE] && !o->rtt[SL_HOP_DEVICE_EDGE])
        return sl_usage_error("no network: give --bandwidth and --rtt, or --network FILE");
    for (int h = 0; h < (o->cloud ? SL_HOP_COUNT : 1); h++)
        if (!o->network && (!o->bw[h]) != (!o->rtt[h]))
            return sl_usage_error("%s needs both %s and %s", sl_hop_name(h),
                                  h ? "--cloud-bandwidth" : "--bandwidth",
                                  h ? "--cloud-rtt" : "--rtt");
    if (o->output && !strcmp(o->output, "-")) {
        o->output = NULL;
        o->json = 1;
    }
    if (o->json && o->quiet) return sl_usage_error("--json and --quiet exclude each other");
    if (!o->cloud && (o->bw[SL_HOP_EDGE_CLOUD] || o->rtt[SL_HOP_EDGE_CLOUD]))
        sl_log_warn("--cloud-bandwidth and --cloud-rtt are ignored without --cloud");
    return SL_EXIT_OK;
}

/* Builds the network from the CSV (if any) and the flags; flags win. Exit code. */
static int load_network(const opts *o, sl_netcfg *net)
{
    memset(net, 0, sizeof *net);
    if (o->network && sl_netcfg_read_csv(o->network, net)) return sl_fail();
    for (int h = 0; h < SL_HOP_COUNT; h++) {
        const char *bwname = h ? "--cloud-bandwidth" : "--bandwidth";
        const char *rttname = h ? "--cloud-rtt" : "--rtt";
        if (o->bw[h] && sl_parse_bandwidth(bwname, o->bw[h], &net->hop[h].bandwidth_bps))
            return sl_usage_error("%s", sl_errmsg());
        if (o->bw[h] && net->hop[h].bandwidth_bps <= 0)
            return sl_usage_error("%s: must be above 0", bwname);
        if (o->rtt[h] && sl_parse_duration(rttname, o->rtt[h], &net->hop[h].rtt_s))
            return sl_usage_error("%s", sl_errmsg());
        if (o->bw[h] || o->rtt[h]) net->hop[h].set = net->hop[h].set || (o->bw[h] && o->rtt[h]);
    }
    if (sl_netcfg_require(net, o->cloud != NULL, o->network ? o->network : "network flags"))
        return sl_fail();
    return SL_EXIT_OK;
}

static void print_versus(const sl_select_input *in, const sl_selection *s)
{
    const sl_profile *pr = in->device;
    printf("\nper slice point, without and with a TL:\n");
    printf("  %4s  %-24s %10s %10s  %10s %10s  %-16s %6s\n", "cut", "tensor", "plain s", "plain MB",
           "TL s", "TL MB", "TL config", "gain");
    for (int c = 0; c < pr->n_cuts; c++) {
        const sl_plan *a = sl_selection_best_at(s, c, 0), *b = sl_selection_best_at(s, c, 1);
        if (!a && !b) continue;
        printf("  %4d  %-24.24s ", c, pr->cuts[c].tensor);
        if (a)
            printf("%10.4f %10.4f  ", a->total_s, a->upload_bytes / 1e6);
        else
            printf("%10s %10s  ", "-", "-");
        if (b)
            printf("%10.4f %10.4f  %-16.16s ", b->total_s, b->upload_bytes / 1e6,
                   sl_plan_tl_name(in, b));
        else
            printf("%10s %10s  %-16s ", "-", "-", "-");
        if (a && b)
            printf("%5.2fx\n", a->total_s / b->total_s);
        else
            printf("%6s\n", "-");
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
    printf("\n%s: %.4fs - %.4fMB - device %d nodes, edge %d nodes; bottleneck stage %.4fs "
           "(device %.4fs, transfer %.4fs, edge %.4fs)\n",
           title, r->latency_s, upload / 1e6, ndev, pr->n_nodes - ndev, r->bottleneck_s,
           r->device_s, r->transfer_s, r->edge_s);
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

int sl_cmd_select(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv, help)) return SL_EXIT_OK;
    opts o;
    memset(&o, 0, sizeof o);
    sl_profile *dev = NULL, *edge = NULL, *cloud = NULL;
    sl_selection sel;
    memset(&sel, 0, sizeof sel);
    sl_dads_result dsl, dsh;
    memset(&dsl, 0, sizeof dsl);
    memset(&dsh, 0, sizeof dsh);
    sl_dag g;
    memset(&g, 0, sizeof g);
    sl_select_input in;
    memset(&in, 0, sizeof in);
    int rc = parse_args(argc, argv, &o);
    if (rc) goto out;
    if (sl_profile_read(o.device, &dev) || sl_profile_read(o.edge, &edge) ||
        (o.cloud && sl_profile_read(o.cloud, &cloud))) {
        rc = sl_fail();
        goto out;
    }
    in.device = dev;
    in.edge = edge;
    in.cloud = cloud;
    in.constraints = &o.cons;
    if ((rc = load_network(&o, &in.net))) goto out;
    if (sl_select_check(&in)) {
        rc = sl_fail();
        goto out;
    }
    int st = sl_constraints_resolve(&o.cons, dev, cloud != NULL);
    if (st) {
        rc = sl_usage_error("%s", sl_errmsg());
        goto out;
    }
    st = sl_select_run(&in, &sel);
    if (st && st != SL_ECONSTRAINT) {
        rc = sl_fail();
        goto out;
    }
    if (st == SL_ECONSTRAINT) {
        rc = sl_fail();
        if (o.plot && sl_plot_write_svg(o.plot, &in, &sel)) sl_log_error("%s", sl_errmsg());
        goto out;
    }
    if (o.dads || o.throughput) {
        if (sl_dag_from_profiles(dev, edge, &in.net.hop[SL_HOP_DEVICE_EDGE], &o.cons, &g)) {
            rc = sl_fail();
            goto out;
        }
        double rtt = in.net.hop[SL_HOP_DEVICE_EDGE].rtt_s;
        if ((o.dads && sl_dads_latency(&g, rtt, &dsl)) ||
            (o.throughput && sl_dads_throughput(&g, rtt, &dsh))) {
            rc = sl_fail();
            goto out;
        }
    }
    sl_plan_doc doc = {&in, &sel, (int)o.top, o.dads ? &dsl : NULL, o.throughput ? &dsh : NULL};
    if (o.output && sl_plan_doc_write(o.output, &doc)) {
        rc = sl_fail();
        goto out;
    }
    if (o.plot && sl_plot_write_svg(o.plot, &in, &sel)) {
        rc = sl_fail();
        goto out;
    }
    if (o.json) {
        char *js = sl_plan_doc_json(&doc);
        if (!js) {
            rc = sl_fail();
            goto out;
        }
        printf("%s\n", js);
        free(js);
    } else if (!o.quiet) {
        const sl_hop *h = &in.net.hop[SL_HOP_DEVICE_EDGE];
        printf("%s: %d plans, %d allowed; device->edge %.3g Mbit/s, RTT %.3g ms\n", dev->model,
               sel.n_plans, sel.n_allowed, h->bandwidth_bps / 1e6, h->rtt_s * 1e3);
        char line[512];
        for (int i = 0; i < sel.n_allowed && i < o.top; i++) {
            sl_plan_format(&in, &sel.plans[i], line, sizeof line);
            printf("%3d. %s\n", i + 1, line);
        }
        const sl_plan *plain = sl_selection_best(&sel, 0);
        if (plain && plain != &sel.plans[0]) {
            sl_plan_format(&in, plain, line, sizeof line);
            printf("best without TL: %s\n", line);
        }
        if (o.versus) print_versus(&in, &sel);
        if (o.dads) print_dads(&in, &sel, &dsl, "DADS min cut (latency)");
        if (o.throughput) print_dads(&in, &sel, &dsh, "DADS throughput (slowest stage)");
    }
    rc = SL_EXIT_OK;
out:
    sl_dag_free(&g);
    sl_dads_result_free(&dsl);
    sl_dads_result_free(&dsh);
    sl_selection_free(&sel);
    sl_profile_free(dev);
    sl_profile_free(edge);
    sl_profile_free(cloud);
    sl_constraints_free(&o.cons);
    return rc;
}
