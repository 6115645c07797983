/* cmd_cache.c: `sl-data cache`, decoding and resizing a dataset once into an HDF5 file. */
#include "common/cli.h"
#include "common/log.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "datasets/cache.h"
#include "datasets/commands.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: sl-data cache DATASET -o OUT.h5 [options]\n\n"
    "Decodes every image of DATASET (an ImageFolder or MVTec-AD root) once, resizes it and\n"
    "stores uint8 NCHW images, labels, splits, class names and source paths in OUT.h5.\n"
    "Training and sl-data read the cache like the folder. Files that do not decode are\n"
    "skipped and recorded in the cache's problems (or fail with --strict).\n\n"
    "  -o, --out FILE     the cache to write (atomically)\n"
    "  --shape CxHxW      stored shape, e.g. 3x64x64 or 64 (= 3x64x64; default 3x64x64)\n"
    "  --resize M         stretch (default) or crop (short side, centre crop)\n"
    "  --threads N        decode threads (default 2)\n" SL_DATA_OPEN_HELP;

int sl_cmd_cache(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv, help)) return SL_EXIT_OK;
    sl_dataset_opts dopt;
    sl_dataset_opts_init(&dopt);
    sl_cache_opts co = {3, 64, 64, SL_RESIZE_STRETCH, 2, 0};
    const char *in = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        int rc;
        const char *a = argv[i];
        if (sl_data_open_option(argc, argv, &i, &dopt, &rc)) {
            if (rc != SL_OK) return rc;
            continue;
        }
        if (a[0] != '-') {
            if (in) return sl_usage_error("more than one dataset given ('%s', '%s')", in, a);
            in = a;
            continue;
        }
        if (i + 1 >= argc) return sl_usage_error("unknown option or missing value: %s", a);
        const char *v = argv[++i];
        if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
            out = v;
        } else if (!strcmp(a, "--shape")) {
            int64_t d[3];
            int n;
            if (sl_parse_shape(a, v, d, 3, &n) != SL_OK) return sl_usage_error("%s", sl_errmsg());
            co.c = n == 3 ? (int)d[0] : 3;
            co.h = (int)d[n == 3 ? 1 : 0];
            co.w = (int)d[n == 1 ? 0 : n - 1];
            if ((co.c != 1 && co.c != 3) || co.h < 1 || co.w < 1 || co.h > 4096 || co.w > 4096)
                return sl_usage_error("--shape: '%s' needs 1 or 3 channels and sides 1..4096", v);
        } else if (!strcmp(a, "--resize")) {
            if (!strcmp(v, "stretch"))
                co.resize = SL_RESIZE_STRETCH;
            else if (!strcmp(v, "crop"))
                co.resize = SL_RESIZE_SHORT_CROP;
            else
                return sl_usage_error("--resize: '%s' is not stretch or crop", v);
        } else if (!strcmp(a, "--threads")) {
            long n;
            if (sl_parse_long(a, v, 1, 64, &n) != SL_OK) return sl_usage_error("%s", sl_errmsg());
            co.threads = (int)n;
        } else {
            return sl_usage_error("unknown option %s", a);
        }
    }
    if (!in) return sl_usage_error("no DATASET given");
    if (!out) return sl_usage_error("-o OUT.h5 is required");
    co.strict = dopt.strict;
    sl_dataset *ds;
    if (sl_dataset_open(in, &dopt, &ds) != SL_OK) return sl_fail();
    const struct sl_dataset_summary *s = sl_dataset_summary(ds);
    for (int i = 0; i < s->num_problems; i++)
        sl_log_warn("skipped %s: %s", s->problems[i].path, s->problems[i].reason);
    double t0 = sl_now();
    int64_t rows;
    int rc = sl_cache_write(ds, &co, out, &rows);
    double dt = sl_now() - t0;
    if (rc == SL_OK)
        sl_log_info("cached %lld of %lld images (%dx%dx%d) from %s into %s in %.2f s",
                    (long long)rows, (long long)sl_dataset_count(ds), co.c, co.h, co.w, in, out,
                    dt);
    sl_dataset_free(ds);
    return rc == SL_OK ? SL_EXIT_OK : sl_fail();
}
