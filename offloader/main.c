/* main.c: sl-offload, running models split between device and edge (run, edge, deploy, device,
 * bench, probe). Each subcommand lives in cmd_<name>.c and only parses arguments. */
#include "common/cli.h"
#include "offloader/commands.h"

#include <stddef.h>

static const sl_subcmd commands[] = {
    {"run", sl_cmd_run, "run a model locally on a tensor file or images"},
    {"edge", sl_cmd_edge, "serve edge bundles to devices"},
    {"deploy", sl_cmd_deploy, "upload, list or remove edge bundles on a running edge server"},
    {"device", sl_cmd_device, "run the device slice on images and finish them on the edge"},
    {"bench", sl_cmd_bench, "measure local, edge-only, split and split+TL in one run"},
    {"probe", sl_cmd_probe, "measure RTT and upload bandwidth to a live edge (network CSV for select)"},
    {"plans", sl_cmd_plans, "list a plan table's plans and write the manifest of their bundles"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    return sl_cli_dispatch("sl-offload", "Run models split between an IoT device and an edge server.",
                           commands, argc, argv);
}
