/* cmd_stats.c: `sl-data stats`, counts, image sizes and channel mean/std of a dataset. */
#include "common/cli.h"
#include "common/fsutil.h"
#include "common/status.h"
#include "datasets/commands.h"
#include "datasets/inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: sl-data stats DATASET [options]\n\n"
    "Prints JSON: counts per class and split, the image sizes met, and the per-channel mean\n"
    "and std (0..1, RGB) over the train split, to put in a product-line config.\n\n"
    "  -o, --out FILE     write the JSON to FILE instead of stdout\n"
    "  --threads N        decode threads (default 2)\n" SL_DATA_OPEN_HELP;

int sl_cmd_stats(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv, help)) return SL_EXIT_OK;
    sl_dataset_opts dopt;
    sl_dataset_opts_init(&dopt);
    const char *in = NULL, *out = NULL;
    long threads = 2;
    for (int i = 1; i < argc; i++) {
        int rc;
        const char *a = argv[i];
        if (sl_data_open_option(argc, argv, &i, &dopt, &rc)) {
            if (rc != SL_OK) return rc;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--out") || !strcmp(a, "--threads")) {
            if (i + 1 >= argc) return sl_usage_error("%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 't') {
                if (sl_parse_long(a, v, 1, 64, &threads) != SL_OK)
                    return sl_usage_error("%s", sl_errmsg());
            } else {
                out = v;
            }
        } else if (a[0] == '-') {
            return sl_usage_error("unknown option %s", a);
        } else if (in) {
            return sl_usage_error("more than one dataset given ('%s', '%s')", in, a);
        } else {
            in = a;
        }
    }
    if (!in) return sl_usage_error("no DATASET given");
    sl_dataset *ds;
    if (sl_dataset_open(in, &dopt, &ds) != SL_OK) return sl_fail();
    char *text;
    int rc = sl_dataset_stats_json(ds, (int)threads, &text);
    sl_dataset_free(ds);
    if (rc != SL_OK) return sl_fail();
    if (out) {
        size_t n = strlen(text);
        text[n] = '\n';
        rc = sl_write_file_atomic(out, text, n + 1);
    } else {
        puts(text);
    }
    free(text);
    return rc == SL_OK ? SL_EXIT_OK : sl_fail();
}
