/* commands.h: the sl-preprocess subcommands, one per cmd_<name>.c. Each returns an exit code. */
#ifndef SL_PREPROCESSOR_COMMANDS_H
#define SL_PREPROCESSOR_COMMANDS_H

#include "common/opt.h"
#include "model/zoo.h"

int sl_cmd_zoo(int argc, char **argv);
int sl_cmd_import(int argc, char **argv);
int sl_cmd_inspect(int argc, char **argv);
int sl_cmd_profile(int argc, char **argv);
int sl_cmd_select(int argc, char **argv);
int sl_cmd_insert(int argc, char **argv);
int sl_cmd_split(int argc, char **argv);

/* Each command's option table and usage (common/opt.h), for checks of generated command lines.
 * The destinations are the command's file-scope state: a command runs once per process. */
extern const sl_optspec sl_cmd_zoo_spec, sl_cmd_import_spec, sl_cmd_inspect_spec, sl_cmd_profile_spec,
    sl_cmd_select_spec, sl_cmd_insert_spec, sl_cmd_split_spec;

/* --classes, --input and --labels of `zoo` and `import` (cmd_common.c): an SL_OPT_GROUP whose
 * values land in sl_cmd_arch. */
typedef struct sl_cmd_arch_args {
    sl_zoo_opts zoo; /* classes, c, h, w */
    sl_list labels;
} sl_cmd_arch_args;
extern sl_cmd_arch_args sl_cmd_arch;
extern const sl_opt sl_cmd_arch_opts[];

#endif
