/* commands.h: the sl-data subcommands (one per cmd_<name>.c) and their shared options. */
#ifndef SL_DATASETS_COMMANDS_H
#define SL_DATASETS_COMMANDS_H

#include "common/opt.h"
#include "datasets/dataset.h"

int sl_cmd_synth(int argc, char **argv);
int sl_cmd_cache(int argc, char **argv);
int sl_cmd_check(int argc, char **argv);
int sl_cmd_stats(int argc, char **argv);
int sl_cmd_list(int argc, char **argv);

/* The dataset-opening options every subcommand shares (--layout, --binary, --split,
 * --val-ratio, --test-ratio, --seed, --strict): an SL_OPT_GROUP whose values land in
 * sl_data_open. sl_data_open_reset() sets the defaults (sl_dataset_opts_init) before parsing. */
extern sl_dataset_opts sl_data_open;
extern const sl_opt sl_data_open_opts[];
void sl_data_open_reset(void);

/* What every subcommand with one DATASET argument does first: resets the dataset options, parses
 * argv against spec (whose table holds sl_data_open_opts; the caller resets its own options
 * beforehand), and opens argv[1] with the dataset options, allow_empty as in sl_dataset_opts.
 * Returns SL_OPT_CONTINUE with *ds open (the caller frees it with sl_dataset_free); otherwise the
 * command's exit status, with its message printed: 0 after --help, 2 after a usage error,
 * sl_fail()'s after the dataset could not be opened (*ds is then NULL). */
int sl_data_parse_open(const sl_optspec *spec, int argc, char **argv, int allow_empty,
                       sl_dataset **ds);

/* Each command's option table and usage (common/opt.h). */
extern const sl_optspec sl_cmd_synth_spec, sl_cmd_cache_spec, sl_cmd_check_spec, sl_cmd_stats_spec,
    sl_cmd_list_spec;

#endif
