/* cmd_synth.c: `sl-data synth`, rendering a synthetic product line. */
#include "common/cli.h"
#include "common/log.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "datasets/commands.h"
#include "datasets/synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: sl-data synth --out DIR [options]\n\n"
    "Renders a synthetic industrial product line as an ImageFolder with manifest.json.\n\n"
    "  --product P        casting (default), pcb or fabric\n"
    "  --out DIR          output folder (must not exist, or be empty)\n"
    "  --size N           image side in pixels, 16..1024 (default 64)\n"
    "  --per-class N      images per class (default 200)\n"
    "  --seed N           seed (default 1); the same seed gives the same images\n"
    "  --splits T,V,E     train,val,test fractions (default 0.7,0.15,0.15);\n"
    "                     'none' writes root/<class>/ without split folders\n"
    "  --threads N        render threads (default 2)\n";

static int parse_splits(const char *s, double out[3])
{
    if (!strcmp(s, "none")) {
        out[0] = out[1] = out[2] = 0;
        return SL_OK;
    }
    char buf[128], *save = NULL;
    snprintf(buf, sizeof buf, "%s", s);
    int n = 0;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == 3 || sl_parse_double("--splits", t, 0, 1, &out[n]) != SL_OK)
            return sl_err(SL_EARG, "--splits: '%s' is not three fractions T,V,E or 'none'", s);
        n++;
    }
    if (n != 3) return sl_err(SL_EARG, "--splits: '%s' is not three fractions T,V,E or 'none'", s);
    return SL_OK;
}

int sl_cmd_synth(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv, help)) return SL_EXIT_OK;
    sl_synth_opts o;
    sl_synth_opts_init(&o);
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) return sl_usage_error("unknown option or missing value: %s", a);
        const char *v = argv[++i];
        long n;
        if (!strcmp(a, "--product")) {
            o.product = v;
        } else if (!strcmp(a, "--out")) {
            out = v;
        } else if (!strcmp(a, "--size")) {
            if (sl_parse_long(a, v, 16, 1024, &n) != SL_OK)
                return sl_usage_error("%s", sl_errmsg());
            o.size = (int)n;
        } else if (!strcmp(a, "--per-class")) {
            if (sl_parse_long(a, v, 1, 10000000, &n) != SL_OK)
                return sl_usage_error("%s", sl_errmsg());
            o.per_class = (int)n;
        } else if (!strcmp(a, "--seed")) {
            if (sl_parse_long(a, v, 0, 0x7fffffffL, &n) != SL_OK)
                return sl_usage_error("%s", sl_errmsg());
            o.seed = (uint64_t)n;
        } else if (!strcmp(a, "--threads")) {
            if (sl_parse_long(a, v, 1, 64, &n) != SL_OK) return sl_usage_error("%s", sl_errmsg());
            o.threads = (int)n;
        } else if (!strcmp(a, "--splits")) {
            if (parse_splits(v, o.splits) != SL_OK) return sl_usage_error("%s", sl_errmsg());
        } else {
            return sl_usage_error("unknown option %s", a);
        }
    }
    if (!out) return sl_usage_error("--out DIR is required");
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
