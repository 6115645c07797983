/* cmd_config.c: `sl-preprocess config` — validate a product-line config, write step arguments. */
#include "common/cli.h"
#include "common/log.h"
#include "preprocessor/commands.h"
#include "preprocessor/config.h"

#include <getopt.h>
#include <stdio.h>

static const char help[] =
    "usage: sl-preprocess config configs/PRODUCT.json [--out DIR]\n"
    "\n"
    "Validate a product-line config (docs/config.md): unknown keys are warned about, a missing\n"
    "required key or a wrong type is an error naming the key. With --out, write the arguments of\n"
    "every pipeline step to DIR/cfg/<step>.args, rewriting only the files whose content changed,\n"
    "so that make re-runs only the steps whose section of the config was edited.\n";

int sl_cmd_config(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv, help)) return SL_EXIT_OK;
    static const struct option opts[] = {{"out", required_argument, 0, 'o'}, {0, 0, 0, 0}};
    const char *out = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'o') out = optarg;
        else return sl_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
    }
    if (optind != argc - 1) return sl_usage_error("expected one config file");
    int changed;
    if (sl_config_process(argv[optind], out, &changed)) return sl_fail();
    if (out) sl_log_info("%s: %d step argument file(s) updated in %s/cfg", argv[optind], changed, out);
    return SL_EXIT_OK;
}
