/* main.c: sl-preprocess, the model-preparation command (zoo, import, inspect, profile, select,
 * insert, split). Each subcommand lives in cmd_<name>.c and only parses arguments. `config` and
 * `report` are sl-pipeline's (pipeline/), kept here as aliases. */
#include "common/cli.h"
#include "pipeline/commands.h"
#include "preprocessor/commands.h"

#include <stddef.h>

static const sl_subcmd commands[] = {
    {"zoo", sl_cmd_zoo, "make a model bundle from the zoo with fresh weights"},
    {"import", sl_cmd_import, "import a PyTorch state_dict (HDF5) into a model bundle"},
    {"inspect", sl_cmd_inspect, "show a bundle: nodes, shapes, parameters, FLOPs, cut points"},
    {"profile", sl_cmd_profile, "measure a model's blocks, cuts and transfer layers on this host"},
    {"select", sl_cmd_select, "choose the slice point from device/edge profiles and a network"},
    {"insert", sl_cmd_insert, "insert a transfer layer at a cut"},
    {"split", sl_cmd_split, "split a model into paired device and edge bundles"},
    {"config", sl_cmd_config, "alias of sl-pipeline config"},
    {"report", sl_cmd_report, "alias of sl-pipeline report"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    return sl_cli_dispatch("sl-preprocess", "Prepare a model to run split between device and edge.",
                           commands, argc, argv);
}
