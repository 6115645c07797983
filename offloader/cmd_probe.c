/* cmd_probe.c: `sl-offload probe` — RTT and upload bandwidth to a live edge, for select. */
#include "common/cli.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/status.h"
#include "offloader/commands.h"
#include "offloader/probe.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    const char *edge, *token_file, *out;
    long pings, repeats;
    int flags;
} A;

static const sl_opt options[] = {
    SL_OPT_STRING(0, "edge", &A.edge, "HOST:PORT", "the edge server"),
    SL_OPT_STRING(0, "token-file", &A.token_file, "FILE", "the shared token (HMAC-SHA256)"),
    SL_OPT_LONG(0, "pings", &A.pings, "N", 1, 10000, "round trips measured (default 10)"),
    SL_OPT_LONG(0, "repeats", &A.repeats, "N", 1, 1000, "uploads per size (default 5)"),
    SL_OPT_FLAG(0, "flags", &A.flags, "print select's flags (--bandwidth ... --rtt ...) instead"),
    SL_OPT_OUTPUT(&A.out, "write the network CSV here (default: stdout)"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_probe_spec = {
    "sl-offload probe --edge HOST:PORT --token-file FILE [--pings N] [--repeats N]\n"
    "                 [--flags | -o net.csv]",
    "Measure the link to a live edge over the device's authenticated protocol: the round-trip\n"
    "time (median of PINGs) and the upload bandwidth (INFER frames of incompressible data for a\n"
    "pair id no edge serves, which the edge reads whole and refuses; a small and a large size,\n"
    "the difference of their median times). Writes the network CSV `select --network` reads\n"
    "(Scission's format), or with --flags the select options. The bandwidth is the rate the\n"
    "application's bytes get through, as select charges it.",
    options,
    0,
    0,
    NULL,
    "edge token-file",
};

int sl_cmd_probe(int argc, char **argv)
{
    memset(&A, 0, sizeof A);
    A.pings = 10;
    A.repeats = 5;
    int rc = sl_opt_parse(&sl_cmd_probe_spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    signal(SIGPIPE, SIG_IGN);
    sl_probe_opts o = {A.edge, A.token_file, (int)A.pings, (int)A.repeats};
    sl_probe_result r;
    if (sl_probe_run(&o, &r)) return sl_fail();
    sl_log_info("%s: RTT %.2f ms, upload %.3f Mbit/s (%zu B in %.4f s, %zu B in %.4f s)", A.edge,
                r.rtt_s * 1e3, r.bandwidth_bps / 1e6, r.small_bytes, r.small_s, r.large_bytes,
                r.large_s);
    if (A.flags) {
        printf("--bandwidth %.0f --rtt %.3fms\n", r.bandwidth_bps, r.rtt_s * 1e3);
        return SL_EXIT_OK;
    }
    char *csv = sl_probe_csv(&r);
    if (!csv) {
        sl_err(SL_ENOMEM, "out of memory");
        return sl_fail();
    }
    rc = A.out ? sl_write_file_atomic(A.out, csv, strlen(csv)) : (fputs(csv, stdout), SL_OK);
    free(csv);
    if (rc) return sl_fail();
    if (A.out) sl_log_info("wrote %s", A.out);
    return SL_EXIT_OK;
}
