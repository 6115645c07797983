/* cmd_stats.c: `sl-data stats`, counts, image sizes and channel mean/std of a dataset. */
#include "common/cli.h"
#include "common/fsutil.h"
#include "common/opt.h"
#include "common/status.h"
#include "datasets/commands.h"
#include "datasets/inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *out;
static long threads;

static const sl_opt options[] = {
    SL_OPT_STRING('o', "out", &out, "FILE", "write the JSON to FILE instead of stdout"),
    SL_OPT_LONG(0, "threads", &threads, "N", 1, 64, "decode threads (default 2)"),
    SL_OPT_GROUP(sl_data_open_opts),
    SL_OPT_END,
};

const sl_optspec sl_cmd_stats_spec = {
    "sl-data stats DATASET [options]",
    "Prints JSON: counts per class and split, the image sizes met, and the per-channel mean\n"
    "and std (0..1, RGB) over the train split, to put in a product-line config.",
    options,
    1,
    1,
    "one DATASET",
    NULL,
};

int sl_cmd_stats(int argc, char **argv)
{
    out = NULL;
    threads = 2;
    sl_dataset *ds;
    int prc = sl_data_parse_open(&sl_cmd_stats_spec, argc, argv, 0, &ds);
    if (prc != SL_OPT_CONTINUE) return prc;
    char *text;
    int rc = sl_dataset_stats_json(ds, (int)threads, &text);
    sl_dataset_free(ds);
    if (rc != SL_OK) return sl_fail();
    if (out)
        rc = sl_write_text_atomic(out, text);
    else
        puts(text);
    free(text);
    return rc == SL_OK ? SL_EXIT_OK : sl_fail();
}
