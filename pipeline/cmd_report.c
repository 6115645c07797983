/* cmd_report.c: `sl-pipeline report` (alias `sl-preprocess report`) — the product line's HTML
 * report. */
#include "common/cli.h"
#include "common/log.h"
#include "common/opt.h"
#include "pipeline/commands.h"
#include "pipeline/report.h"

#include <stdio.h>
#include <string.h>

static struct {
    const char *dir, *out;
    int summary;
} A;

static const sl_opt options[] = {
    SL_OPT_STRING(0, "dir", &A.dir, "DIR", "the pipeline's results (out/PRODUCT)"),
    SL_OPT_OUTPUT(&A.out, "write the HTML report here"),
    SL_OPT_FLAG(0, "summary", &A.summary, "print a text summary on stdout instead"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_report_spec = {
    "sl-pipeline report --dir out/PRODUCT (-o report.html | --summary)",
    "Write one self-contained HTML report from a pipeline's results in --dir: plan.json,\n"
    "plan.svg, plan.txt, eval-base.json, eval-pair.json and bench.json (optional): accuracy of\n"
    "the base model and of the device + edge pair, bytes on the wire with and without the TL, the\n"
    "slice-point chart, predicted beside measured latency, and confusion matrices.",
    options,
    0,
    0,
    NULL,
    "dir",
};

int sl_cmd_report(int argc, char **argv)
{
    memset(&A, 0, sizeof A);
    int rc = sl_opt_parse(&sl_cmd_report_spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    if (!A.out == !A.summary) return sl_usage_error("give one of -o and --summary");
    if (A.summary) return sl_report_summary(A.dir, stdout) ? sl_fail() : SL_EXIT_OK;
    if (sl_report_write(A.dir, A.out)) return sl_fail();
    sl_log_info("wrote %s", A.out);
    return SL_EXIT_OK;
}
