/* cmd_common.c: options shared by sl-preprocess commands (see commands.h). */
#include "common/cli.h"
#include "common/status.h"
#include "preprocessor/commands.h"

#include <stdint.h>

sl_cmd_arch_args sl_cmd_arch;

static int parse_classes(void *dest, const char *v)
{
    long n;
    if (sl_parse_long("--classes", v, 1, 100000, &n)) return SL_EARG;
    ((sl_zoo_opts *)dest)->classes = (int)n;
    return SL_OK;
}

static int parse_input(void *dest, const char *v)
{
    int64_t dims[3];
    int nd;
    if (sl_parse_shape("--input", v, dims, 3, &nd) || nd != 3)
        return sl_err(SL_EARG, "--input: '%s' is not a shape like 3x224x224", v);
    sl_zoo_opts *zo = dest;
    zo->c = dims[0];
    zo->h = dims[1];
    zo->w = dims[2];
    return SL_OK;
}

const sl_opt sl_cmd_arch_opts[] = {
    SL_OPT_CALLBACK(0, "classes", &sl_cmd_arch.zoo, "N", parse_classes,
                    "output classes (default: the architecture's, 1000 or tinycnn 10;\n"
                    "or the number of --labels)"),
    SL_OPT_CALLBACK(0, "input", &sl_cmd_arch.zoo, "CxHxW", parse_input,
                    "input size (default 3x224x224; tinycnn 3x64x64)"),
    SL_OPT_LIST(0, "labels", &sl_cmd_arch.labels, "LIST", 1024,
                "comma-separated class names stored in the bundle"),
    SL_OPT_END,
};
