/* commands.h: the sl-data subcommands (one per cmd_<name>.c) and their shared option parsing. */
#ifndef SL_DATASETS_COMMANDS_H
#define SL_DATASETS_COMMANDS_H

#include "datasets/dataset.h"

int sl_cmd_synth(int argc, char **argv);
int sl_cmd_cache(int argc, char **argv);
int sl_cmd_check(int argc, char **argv);
int sl_cmd_stats(int argc, char **argv);

/* Help text for the dataset-opening options every subcommand shares. */
#define SL_DATA_OPEN_HELP                                                                          \
    "  --layout L         auto (default), imagefolder or mvtec\n"                                  \
    "  --binary           MVTec: one class 'defect' for every defect folder\n"                     \
    "  --split S          train, val, test or all (default all)\n"                                 \
    "  --val-ratio R      val fraction for roots without split folders (default 0.15)\n"           \
    "  --test-ratio R     test fraction for roots without split folders (default 0.15)\n"          \
    "  --seed N           seed of that split (default 0)\n"                                        \
    "  --strict           fail on the first bad file instead of skipping it\n"

/* Tries argv[*i] as one of the options above (consuming its value); returns 1 if it was one
 * (with *rc = SL_OK, or SL_EXIT_USAGE after printing the usage error), 0 if not. */
int sl_data_open_option(int argc, char **argv, int *i, sl_dataset_opts *o, int *rc);

#endif
