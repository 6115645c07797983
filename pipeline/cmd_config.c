/* cmd_config.c: `sl-pipeline config` (alias `sl-preprocess config`) — validate a product-line
 * config, write step arguments. */
#include "common/cli.h"
#include "common/log.h"
#include "common/opt.h"
#include "pipeline/commands.h"
#include "pipeline/config.h"

#include <stdio.h>

static const char *out;

static const sl_opt options[] = {
    SL_OPT_STRING('o', "out", &out, "DIR", "write the step arguments to DIR/cfg/<step>.args"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_config_spec = {
    "sl-pipeline config configs/PRODUCT.json [--out DIR]",
    "Validate a product-line config (docs/config.md): unknown keys are warned about, a missing\n"
    "required key or a wrong type is an error naming the key. With --out, write the arguments of\n"
    "every pipeline step to DIR/cfg/<step>.args, rewriting only the files whose content changed,\n"
    "so that make re-runs only the steps whose section of the config was edited. Without --out,\n"
    "print what the config sets up: model, data, emulated device, link, constraints, TLs.",
    options,
    1,
    1,
    "one config file",
    NULL,
};

int sl_cmd_config(int argc, char **argv)
{
    out = NULL;
    int rc = sl_opt_parse(&sl_cmd_config_spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    int changed;
    if (sl_config_process(argv[1], out, &changed)) return sl_fail();
    if (out) sl_log_info("%s: %d step argument file(s) updated in %s/cfg", argv[1], changed, out);
    else if (sl_config_describe(argv[1], stdout)) return sl_fail();
    return SL_EXIT_OK;
}
