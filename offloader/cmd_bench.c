/* cmd_bench.c: `sl-offload bench` — local, edge-only, split and split+TL measured in one run. */
#include "common/cli.h"
#include "common/cpuquota.h"
#include "common/opt.h"
#include "common/log.h"
#include "common/status.h"
#include "offloader/bench.h"
#include "offloader/commands.h"
#include "shim/sl_torch.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    sl_bench_opts o;
    const char *pair[2], *tl_pair[2];
    long limit, threads, rounds;
    int json, no_fold, local_only;
} A;

static const sl_opt options[] = {
    SL_OPT_STRING(0, "model", &A.o.model, "FILE", "the whole model (base.h5)"),
    SL_OPT_PAIR(0, "pair", A.pair, "DEVICE.h5 EDGE.h5", "the split pair without TL"),
    SL_OPT_PAIR(0, "tl-pair", A.tl_pair, "DEVICE.h5 EDGE.h5", "the split pair with a TL"),
    SL_OPT_STRING(0, "plan", &A.o.plan, "FILE", "the plan whose predicted latency is reported"),
    SL_OPT_STRING(0, "images", &A.o.images, "DIR|FILE|GLOB", "the images to measure on"),
    SL_OPT_LONG(0, "limit", &A.limit, "N", 1, 1L << 30, "the first N images (sorted by path)"),
    SL_OPT_BANDWIDTH(0, "bandwidth", &A.o.bandwidth_bps, "model a link of RATE (10mbit)"),
    SL_OPT_DURATION(0, "rtt", &A.o.rtt_s, "the modelled link's round-trip time (20ms)"),
    SL_OPT_FLAG(0, "json", &A.json, "the sl-bench JSON document on stdout (the table goes to stderr)"),
    SL_OPT_LONG(0, "threads", &A.threads, "N", 1, 256, "intra-op threads (default: libtorch's choice)"),
    SL_OPT_FLAG(0, "no-fold", &A.no_fold, "do not fold batch norm into convolutions"),
    SL_OPT_FLAG(0, "local-only", &A.local_only,
                "local alone: no in-process edge, no edge-only (not with --pair or --tl-pair)"),
    SL_OPT_DOUBLE(0, "cpu", &A.o.cpu_pct, "PCT", 0.1, 6400,
                  "the device side (local and every device) as a slow device of PCT % of one\n"
                  "core; the in-process edge is not limited (see --cpu-mode; quota needs\n"
                  "root and cgroup v1)"),
    SL_OPT_CHOICE(0, "cpu-mode", &A.o.cpu_mode, SL_CPU_MODES, SL_CPU_MODE_HELP),
    SL_OPT_LONG(0, "rounds", &A.rounds, "N", 1, 1L << 20,
                "run the images in N rounds, each a slice of them through every mode in turn\n"
                "(default 4; 1 = each mode's images in one block)"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_bench_spec = {
    "sl-offload bench --model base.h5 [--pair notl-device.h5 notl-edge.h5]\n"
    "                 [--tl-pair device.h5 edge.h5] [--plan plan.json]\n"
    "                 --images DIR|FILE|GLOB [--limit N] [--bandwidth 10mbit --rtt 20ms]\n"
    "                 [--json] [--threads N] [--no-fold] [--cpu PCT] [--rounds N]\n"
    "                 [--local-only]",
    "Measure, on the same images and through the same modelled link, one image at a time:\n"
    "  local      the whole model on this host (nothing sent)\n"
    "  edge-only  the raw uint8 image sent, the edge runs the whole model\n"
    "  split      the pair without TL (--pair)\n"
    "  split+tl   the pair with a transfer layer (--tl-pair)\n"
    "An edge server runs in this process on loopback; --bandwidth and --rtt shape the device's\n"
    "link in-process (token bucket + delay; default: unlimited, 0 ms). Reported per mode: median\n"
    "and p95 latency, throughput, wire bytes per image (before and after compression), the\n"
    "breakdown (device, encode, transfer, edge), the agreement of its classes with local,\n"
    "errors, the speed-up over local and, with --plan, the latency the plan predicted, its error\n"
    "(marked beyond 10%) and whether the plan's first choice was the measured fastest.",
    options,
    0,
    0,
    NULL,
    "model images",
};

int sl_cmd_bench(int argc, char **argv)
{
    memset(&A, 0, sizeof A);
    int rc = sl_opt_parse(&sl_cmd_bench_spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    sl_bench_opts o = A.o;
    o.fold_bn = !A.no_fold;
    o.local_only = A.local_only;
    if (A.local_only && (A.pair[0] || A.tl_pair[0]))
        return sl_usage_error("--local-only measures local alone: not with --pair or --tl-pair");
    o.split_device = A.pair[0];
    o.split_edge = A.pair[1];
    o.tl_device = A.tl_pair[0];
    o.tl_edge = A.tl_pair[1];
    long limit = A.limit, threads = A.threads;
    int json = A.json;
    o.limit = (int)limit;
    o.rounds = (int)A.rounds;
    o.threads = (int)threads;
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
