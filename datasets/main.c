/* main.c: sl-data, datasets for the product lines (synth, cache, check, stats, list). Each
 * subcommand lives in cmd_<name>.c and only parses arguments. */
#include "common/cli.h"
#include "datasets/commands.h"

static const sl_subcmd commands[] = {
    {"synth", sl_cmd_synth, "render a synthetic product line as an ImageFolder"},
    {"cache", sl_cmd_cache, "decode and resize a dataset once into an HDF5 cache"},
    {"check", sl_cmd_check, "validate a dataset folder and list every problem"},
    {"stats", sl_cmd_stats, "counts per class and split, image sizes, channel mean/std"},
    {"list", sl_cmd_list, "the images of a split, as lines or as a folder of links"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    return sl_cli_dispatch("sl-data",
                           "Datasets: synthetic product lines, caches, checks, statistics.",
                           commands, argc, argv);
}
