/* cmd_report.c: `sl-preprocess report` — the product line's HTML report. */
#include "common/cli.h"
#include "common/log.h"
#include "preprocessor/commands.h"
#include "preprocessor/report.h"

#include <getopt.h>
#include <stddef.h>

static const char help[] =
    "usage: sl-preprocess report --dir out/PRODUCT (-o report.html | --summary)\n"
    "\n"
    "Write one self-contained HTML report from a pipeline's results in --dir: plan.json,\n"
    "plan.svg, plan.txt, eval-base.json, eval-pair.json and bench.json (optional): accuracy of\n"
    "the base model and of the device + edge pair, bytes on the wire with and without the TL, the\n"
    "slice-point chart, predicted beside measured latency, and confusion matrices.\n";

int sl_cmd_report(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv, help)) return SL_EXIT_OK;
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"output", required_argument, 0, 'o'},
                                         {"summary", no_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    const char *dir = NULL, *out = NULL;
    int c, summary = 0;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'd') dir = optarg;
        else if (c == 'o') out = optarg;
        else if (c == 's') summary = 1;
        else return sl_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
    }
    if (optind != argc) return sl_usage_error("unexpected argument '%s'", argv[optind]);
    if (!dir || !out == !summary) return sl_usage_error("--dir and one of -o and --summary are required");
    if (summary) return sl_report_summary(dir, stdout) ? sl_fail() : SL_EXIT_OK;
    if (sl_report_write(dir, out)) return sl_fail();
    sl_log_info("wrote %s", out);
    return SL_EXIT_OK;
}
