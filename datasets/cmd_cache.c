/* cmd_cache.c: `sl-data cache`, decoding and resizing a dataset once into an HDF5 file. */
#include "common/cli.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "datasets/cache.h"
#include "datasets/commands.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static sl_cache_opts A;
static const char *out;

static int parse_shape(void *dest, const char *v)
{
    sl_cache_opts *co = dest;
    int64_t d[3];
    int n;
    if (sl_parse_shape("--shape", v, d, 3, &n) != SL_OK) return SL_EARG;
    co->c = n == 3 ? (int)d[0] : 3;
    co->h = (int)d[n == 3 ? 1 : 0];
    co->w = (int)d[n == 1 ? 0 : n - 1];
    if ((co->c != 1 && co->c != 3) || co->h < 1 || co->w < 1 || co->h > 4096 || co->w > 4096)
        return sl_err(SL_EARG, "--shape: '%s' needs 1 or 3 channels and sides 1..4096", v);
    return SL_OK;
}

static const sl_opt options[] = {
    SL_OPT_STRING('o', "out", &out, "FILE", "the cache to write (atomically)"),
    SL_OPT_CALLBACK(0, "shape", &A, "CxHxW", parse_shape,
                    "stored shape, e.g. 3x64x64 or 64 (= 3x64x64; default 3x64x64)"),
    SL_OPT_CHOICE(0, "resize", &A.resize, "stretch|crop",
                  "stretch (default) or crop (short side, centre crop)"),
    SL_OPT_INT(0, "threads", &A.threads, "N", 1, 64, "decode threads (default 2)"),
    SL_OPT_GROUP(sl_data_open_opts),
    SL_OPT_END,
};

const sl_optspec sl_cmd_cache_spec = {
    "sl-data cache DATASET -o OUT.h5 [options]",
    "Decodes every image of DATASET (an ImageFolder or MVTec-AD root) once, resizes it and\n"
    "stores uint8 NCHW images, labels, splits, class names and source paths in OUT.h5.\n"
    "Training and sl-data read the cache like the folder. Files that do not decode are\n"
    "skipped and recorded in the cache's problems (or fail with --strict).",
    options,
    1,
    1,
    "one DATASET",
    "out",
};

int sl_cmd_cache(int argc, char **argv)
{
    A = (sl_cache_opts){3, 64, 64, SL_RESIZE_STRETCH, 2, 0};
    out = NULL;
    sl_dataset *ds;
    int prc = sl_data_parse_open(&sl_cmd_cache_spec, argc, argv, 0, &ds);
    if (prc != SL_OPT_CONTINUE) return prc;
    const char *in = argv[1];
    sl_cache_opts co = A;
    co.strict = sl_data_open.strict;
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
