/* config.h: product-line configs (configs/<product>.json) — validation and the per-step argument
 * files that pipeline.mk depends on.
 *
 * A config is one JSON object with sections (docs/config.md): dataset, model, input, train,
 * profile, network, constraints, tl, finetune, deploy, bench. Validation warns about every
 * unknown key and fails, naming the key, on a missing required key or a wrong type.
 *
 * sl_config_write_args() turns the sections into small files under OUT/cfg/ — one per pipeline
 * step, holding that step's command-line arguments — and rewrites a file only when its content
 * changes. Make rules depend on these files, so editing one section of the config re-runs only
 * the steps that read it.
 */
#ifndef SL_PIPELINE_CONFIG_H
#define SL_PIPELINE_CONFIG_H

#include <stdio.h>

/* Validates the config at path; on success, if out_dir is not NULL, writes out_dir/cfg/<step>.args
 * files (creating folders) and *changed receives how many were rewritten. Errors name the file
 * and key. */
int sl_config_process(const char *path, const char *out_dir, int *changed);

/* Prints what a valid config sets up, in a few lines for a person: product, model and input,
 * data, the emulated device, the link, the constraints (saying when the raw image stays on the
 * device) and the TL candidates. Call after sl_config_process succeeded; SL_EIO/SL_EFORMAT if the
 * file cannot be read again. */
int sl_config_describe(const char *path, FILE *f);

/* Checks that every flag a config key becomes is an option of the command it is written for
 * (the commands' tables, common/opt.h). SL_OK, or SL_EARG naming the key, the flag and the
 * command. sl_config_process also refuses to write a step file holding a flag its command does
 * not take. */
int sl_config_check_flags(void);

#endif
