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

/* Each command's option table and usage (common/opt.h). */
extern const sl_optspec sl_cmd_synth_spec, sl_cmd_cache_spec, sl_cmd_check_spec, sl_cmd_stats_spec,
    sl_cmd_list_spec;

#endif
