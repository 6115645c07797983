/* commands.h: the sl-train subcommands, one per cmd_<name>.c. Each returns an exit code. */
#ifndef SL_TRAINER_COMMANDS_H
#define SL_TRAINER_COMMANDS_H

#include "common/opt.h"

int sl_cmd_fit(int argc, char **argv);
int sl_cmd_eval(int argc, char **argv);

/* Each command's option table and usage (common/opt.h), for checks of generated command lines.
 * The destinations are the command's file-scope state: a command runs once per process. */
extern const sl_optspec sl_cmd_fit_spec, sl_cmd_eval_spec;

#endif
