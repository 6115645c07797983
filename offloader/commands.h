/* commands.h: the sl-offload subcommands, one per cmd_<name>.c. Each returns an exit code. */
#ifndef SL_OFFLOADER_COMMANDS_H
#define SL_OFFLOADER_COMMANDS_H

#include "common/opt.h"

int sl_cmd_run(int argc, char **argv);
int sl_cmd_edge(int argc, char **argv);
int sl_cmd_deploy(int argc, char **argv);
int sl_cmd_device(int argc, char **argv);
int sl_cmd_bench(int argc, char **argv);
int sl_cmd_probe(int argc, char **argv);
int sl_cmd_plans(int argc, char **argv);

/* Each command's option table and usage (common/opt.h), for checks of generated command lines.
 * The destinations are the command's file-scope state: a command runs once per process. */
extern const sl_optspec sl_cmd_run_spec, sl_cmd_edge_spec, sl_cmd_deploy_spec, sl_cmd_device_spec,
    sl_cmd_bench_spec, sl_cmd_probe_spec, sl_cmd_plans_spec;

/* --max-pixels N of the commands that load images (cmd_common.c), an SL_OPT_GROUP: sets
 * sl_image_set_max_pixels (datasets/image.h) as it is parsed; without it the default stays. */
extern const sl_opt sl_cmd_image_opts[];

#endif
