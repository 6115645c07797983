/* cmd_synth.c: `sl-data synth`, rendering a synthetic product line. */
#include "common/cli.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "datasets/commands.h"
#include "datasets/synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sl_synth_opts A;
static const char *out;

static int parse_splits(void *dest, const char *s)
{
    double *fr = dest;
    if (!strcmp(s, "none")) {
        fr[0] = fr[1] = fr[2] = 0;
        return SL_OK;
    }
    char *buf, *items[3];
    int n;
    int rc = sl_parse_list("--splits", s, &buf, items, 3, &n);
    for (int i = 0; !rc && i < n; i++)
        rc = sl_parse_double("--splits", items[i], 0, 1, &fr[i]);
    free(buf);
    if (rc || n != 3)
        return sl_err(SL_EARG, "--splits: '%s' is not three fractions T,V,E or 'none'", s);
    return SL_OK;
}

static int parse_seed(void *dest, const char *v)
{
    long s;
    if (sl_parse_long("--seed", v, 0, 0x7fffffffL, &s)) return SL_EARG;
    *(uint64_t *)dest = (uint64_t)s;
    return SL_OK;
}

static const sl_opt options[] = {
    SL_OPT_STRING(0, "product", &A.product, "P", "casting (default), pcb or fabric"),
    SL_OPT_STRING('o', "out", &out, "DIR", "output folder (must not exist, or be empty)"),
    SL_OPT_INT(0, "size", &A.size, "N", 16, 1024, "image side in pixels, 16..1024 (default 64)"),
    SL_OPT_INT(0, "per-class", &A.per_class, "N", 1, 10000000, "images per class (default 200)"),
    SL_OPT_CALLBACK(0, "seed", &A.seed, "N", parse_seed,
                    "seed (default 1); the same seed gives the same images"),
    SL_OPT_CALLBACK(0, "splits", A.splits, "T,V,E", parse_splits,
                    "train,val,test fractions (default 0.7,0.15,0.15);\n"
                    "'none' writes root/<class>/ without split folders"),
    SL_OPT_INT(0, "threads", &A.threads, "N", 1, 64, "render threads (default 2)"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_synth_spec = {
    "sl-data synth --out DIR [options]",
    "Renders a synthetic industrial product line as an ImageFolder with manifest.json.",
    options,
    0,
    0,
    NULL,
    "out",
};

int sl_cmd_synth(int argc, char **argv)
{
    sl_synth_opts_init(&A);
    out = NULL;
    int rc = sl_opt_parse(&sl_cmd_synth_spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    sl_synth_opts o = A;
    const char *const *names;
    int nc;
    if (sl_synth_classes(o.product, &names, &nc) != SL_OK) return sl_usage_error("%s", sl_errmsg());
    double t0 = sl_now();
    if (sl_synth_generate(&o, out) != SL_OK) return sl_fail();
    double dt = sl_now() - t0;
    sl_log_info(
        "wrote %lld %s images (%d classes, %d px, seed %llu) to %s in %.2f s (%.0f images/s)",
        (long long)nc * o.per_class, o.product, nc, o.size, (unsigned long long)o.seed, out, dt,
        nc * o.per_class / (dt > 0 ? dt : 1e-9));
    return SL_EXIT_OK;
}
