/* main.c: sl-preprocess, the model-preparation command (zoo, import, inspect, profile, select,
 * insert, split). Each subcommand lives in cmd_<name>.c and only parses arguments. */
#include "common/cli.h"
#include "preprocessor/commands.h"

#include <stdio.h>

/* A subcommand whose cmd_<name>.c is not in this build says so plainly instead of pretending. */
#define PENDING(fn, name)                                                                       \
    __attribute__((weak)) int fn(int argc, char **argv)                                         \
    {                                                                                           \
        (void)argc;                                                                             \
        (void)argv;                                                                             \
        fprintf(stderr, "sl-preprocess: %s: not built yet in this version\n", name);            \
        return SL_EXIT_FAIL;                                                                    \
    }
PENDING(sl_cmd_zoo, "zoo")
PENDING(sl_cmd_import, "import")
PENDING(sl_cmd_inspect, "inspect")
PENDING(sl_cmd_profile, "profile")
PENDING(sl_cmd_select, "select")
PENDING(sl_cmd_insert, "insert")
PENDING(sl_cmd_split, "split")
PENDING(sl_cmd_config, "config")
PENDING(sl_cmd_report, "report")

static const sl_subcmd commands[] = {
    {"zoo", sl_cmd_zoo, "make a model bundle from the zoo with fresh weights"},
    {"import", sl_cmd_import, "import a PyTorch state_dict (HDF5) into a model bundle"},
    {"inspect", sl_cmd_inspect, "show a bundle: nodes, shapes, parameters, FLOPs, cut points"},
    {"profile", sl_cmd_profile, "measure a model's blocks, cuts and transfer layers on this host"},
    {"select", sl_cmd_select, "choose the slice point from device/edge profiles and a network"},
    {"insert", sl_cmd_insert, "insert a transfer layer at a cut"},
    {"split", sl_cmd_split, "split a model into paired device and edge bundles"},
    {"config", sl_cmd_config, "validate a product-line config and write pipeline step arguments"},
    {"report", sl_cmd_report, "write the product line's report (HTML) from the pipeline's results"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    return sl_cli_dispatch("sl-preprocess", "Prepare a model to run split between device and edge.",
                           commands, argc, argv);
}
