/* main.c: sl-train, training base models and fine-tuning transfer layers (fit, eval). Each
 * subcommand lives in cmd_<name>.c and only parses arguments. */
#include "common/cli.h"
#include "trainer/commands.h"

#include <stddef.h>

static const sl_subcmd commands[] = {
    {"fit", sl_cmd_fit, "train a model, or fine-tune its transfer layer, on a dataset"},
    {"eval", sl_cmd_eval, "accuracy, per-class precision/recall and confusion of a model or pair"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    return sl_cli_dispatch("sl-train", "Train models and fine-tune transfer layers.", commands,
                           argc, argv);
}
