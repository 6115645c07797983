/* commands.h: the sl-train subcommands, one per cmd_<name>.c. Each returns an exit code. */
#ifndef SL_TRAINER_COMMANDS_H
#define SL_TRAINER_COMMANDS_H

int sl_cmd_fit(int argc, char **argv);
int sl_cmd_eval(int argc, char **argv);

#endif
