/* commands.h: the sl-pipeline subcommands, one per cmd_<name>.c. Each returns an exit code.
 * sl-preprocess dispatches `config` and `report` here too (kept as aliases). */
#ifndef SL_PIPELINE_COMMANDS_H
#define SL_PIPELINE_COMMANDS_H

#include "common/opt.h"

int sl_cmd_config(int argc, char **argv);
int sl_cmd_report(int argc, char **argv);

/* Each command's option table and usage (common/opt.h). */
extern const sl_optspec sl_cmd_config_spec, sl_cmd_report_spec;

#endif
