/* main.c: sl-train, training base models and fine-tuning transfer layers (fit, eval). Each
 * subcommand lives in cmd_<name>.c and only parses arguments. */
#include "common/cli.h"
#include "trainer/commands.h"

#include <stdio.h>

#define PENDING(fn, name)                                                                       \
    __attribute__((weak)) int fn(int argc, char **argv)                                         \
    {                                                                                           \
        (void)argc;                                                                             \
        (void)argv;                                                                             \
        fprintf(stderr, "sl-train: %s: not built yet in this version\n", name);                 \
        return SL_EXIT_FAIL;                                                                    \
    }
PENDING(sl_cmd_fit, "fit")
PENDING(sl_cmd_eval, "eval")

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
