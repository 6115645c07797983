/* commands.h: the sl-offload subcommands, one per cmd_<name>.c. Each returns an exit code. */
#ifndef SL_OFFLOADER_COMMANDS_H
#define SL_OFFLOADER_COMMANDS_H

int sl_cmd_run(int argc, char **argv);
int sl_cmd_edge(int argc, char **argv);
int sl_cmd_deploy(int argc, char **argv);
int sl_cmd_device(int argc, char **argv);
int sl_cmd_bench(int argc, char **argv);

#endif
