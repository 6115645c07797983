/* main.c: sl-pipeline, the product line's pipeline around the other commands (config, report).
 * Each subcommand lives in cmd_<name>.c and only parses arguments. */
#include "common/cli.h"
#include "pipeline/commands.h"

#include <stddef.h>

static const sl_subcmd commands[] = {
    {"config", sl_cmd_config, "validate a product-line config and write pipeline step arguments"},
    {"report", sl_cmd_report, "write the product line's report (HTML) from the pipeline's results"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    return sl_cli_dispatch("sl-pipeline",
                           "The product line's pipeline: config validation and step arguments, "
                           "the report.",
                           commands, argc, argv);
}
