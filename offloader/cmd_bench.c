/* cmd_bench.c: `sl-offload bench` — local, edge-only, split and split+TL measured in one run. */
#include "common/cli.h"
#include "common/log.h"
#include "common/status.h"
#include "offloader/bench.h"
#include "offloader/commands.h"
#include "shim/sl_torch.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static const char help[] =
    "usage: sl-offload bench --model base.h5 [--pair notl-device.h5 notl-edge.h5]\n"
    "                        [--tl-pair device.h5 edge.h5] [--plan plan.json]\n"
    "                        --images DIR|FILE|GLOB [--limit N] [--bandwidth 10mbit --rtt 20ms]\n"
    "                        [--json] [--threads N] [--no-fold]\n"
    "\n"
    "Measure, on the same images and through the same modelled link, one image at a time:\n"
    "  local      the whole model on this host (nothing sent)\n"
    "  edge-only  the raw uint8 image sent, the edge runs the whole model\n"
    "  split      the pair without TL (--pair)\n"
    "  split+tl   the pair with a transfer layer (--tl-pair)\n"
    "An edge server runs in this process on loopback; --bandwidth and --rtt shape the device's\n"
    "link in-process (token bucket + delay; default: unlimited, 0 ms). Reported per mode: median\n"
    "and p95 latency, throughput, wire bytes per image (before compression), the breakdown\n"
    "(device, encode, transfer, edge), the agreement of its classes with local, errors, the\n"
    "latency the plan predicted (--plan; -1 when unknown) and the speed-up over local.\n"
    "  --limit N    the first N images (sorted by path)\n"
    "  --json       the sl-bench JSON document on stdout (the table goes to stderr)\n"
    "  --threads N  intra-op threads (default: libtorch's choice)\n"
    "  --no-fold    do not fold batch norm into convolutions\n";

int sl_cmd_bench(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv, help)) return SL_EXIT_OK;
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"pair", required_argument, 0, 'p'},
                                         {"tl-pair", required_argument, 0, 't'},
                                         {"plan", required_argument, 0, 'P'},
                                         {"images", required_argument, 0, 'i'},
                                         {"limit", required_argument, 0, 'n'},
                                         {"bandwidth", required_argument, 0, 'B'},
                                         {"rtt", required_argument, 0, 'R'},
                                         {"json", no_argument, 0, 'j'},
                                         {"threads", required_argument, 0, 'T'},
                                         {"no-fold", no_argument, 0, 'F'},
                                         {0, 0, 0, 0}};
    sl_bench_opts o = {.fold_bn = 1};
    long limit = 0, threads = 0;
    int json = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            o.model = optarg;
            break;
        case 'p':
        case 't':
            /* Both pair options take two files: the second is the next argument. */
            if (optind >= argc || argv[optind][0] == '-')
                return sl_usage_error("%s needs two files: DEVICE.h5 EDGE.h5",
                                      c == 'p' ? "--pair" : "--tl-pair");
            if (c == 'p') {
                o.split_device = optarg;
                o.split_edge = argv[optind++];
            } else {
                o.tl_device = optarg;
                o.tl_edge = argv[optind++];
            }
            break;
        case 'P':
            o.plan = optarg;
            break;
        case 'i':
            o.images = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'F':
            o.fold_bn = 0;
            break;
        case 'n':
            if (sl_parse_long("--limit", optarg, 1, 1L << 30, &limit))
                return sl_usage_error("%s", sl_errmsg());
            break;
        case 'T':
            if (sl_parse_long("--threads", optarg, 1, 256, &threads))
                return sl_usage_error("%s", sl_errmsg());
            break;
        case 'B':
            if (sl_parse_bandwidth("--bandwidth", optarg, &o.bandwidth_bps))
                return sl_usage_error("%s", sl_errmsg());
            break;
        case 'R':
            if (sl_parse_duration("--rtt", optarg, &o.rtt_s))
                return sl_usage_error("%s", sl_errmsg());
            break;
        default:
            return sl_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc) return sl_usage_error("unexpected argument '%s'", argv[optind]);
    if (!o.model || !o.images) return sl_usage_error("--model and --images are required");
    o.limit = (int)limit;
    if (threads) sl_set_num_threads((int)threads);
    signal(SIGPIPE, SIG_IGN);
    sl_bench_report rep;
    if (sl_bench_run(&o, &rep)) return sl_fail();
    sl_bench_table(&rep, json ? stderr : stdout);
    if (json) {
        char *txt = sl_bench_json(&rep);
        if (!txt) {
            sl_err(SL_ENOMEM, "out of memory for the JSON report");
            return sl_fail();
        }
        printf("%s\n", txt);
        free(txt);
    }
    int errors = 0;
    for (int i = 0; i < SL_BENCH_NMODES; i++)
        errors += rep.modes[i].errors;
    if (errors) sl_log_warn("%d request(s) failed; see the errors column", errors);
    return SL_EXIT_OK;
}
