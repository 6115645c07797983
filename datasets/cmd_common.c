/* cmd_common.c: the dataset-opening options shared by the sl-data subcommands. */
#include "datasets/commands.h"

#include "common/cli.h"
#include "common/status.h"

#include <string.h>

sl_dataset_opts sl_data_open;

static int parse_split(void *dest, const char *v)
{
    if (sl_split_parse(v) < 0 && strcmp(v, "all"))
        return sl_err(SL_EARG, "--split: '%s' is not one of train,val,test,all", v);
    ((sl_dataset_opts *)dest)->split = v;
    return SL_OK;
}

static int parse_seed(void *dest, const char *v)
{
    long s;
    if (sl_parse_long("--seed", v, 0, 0x7fffffffL, &s)) return SL_EARG;
    ((sl_dataset_opts *)dest)->seed = (uint64_t)s;
    return SL_OK;
}

const sl_opt sl_data_open_opts[] = {
    SL_OPT_CHOICE(0, "layout", &sl_data_open.layout, "auto|imagefolder|mvtec",
                  "folder layout (default auto)"),
    SL_OPT_FLAG(0, "binary", &sl_data_open.binary, "MVTec: one class 'defect' for every defect folder"),
    SL_OPT_CALLBACK(0, "split", &sl_data_open, "train|val|test|all", parse_split,
                    "the split to read (default all)"),
    SL_OPT_DOUBLE(0, "val-ratio", &sl_data_open.val_ratio, "R", 0, 1,
                  "val fraction for roots without split folders (default 0.15)"),
    SL_OPT_DOUBLE(0, "test-ratio", &sl_data_open.test_ratio, "R", 0, 1,
                  "test fraction for roots without split folders (default 0.15)"),
    SL_OPT_CALLBACK(0, "seed", &sl_data_open, "N", parse_seed, "seed of that split (default 0)"),
    SL_OPT_FLAG(0, "strict", &sl_data_open.strict, "fail on the first bad file instead of skipping it"),
    SL_OPT_END,
};

void sl_data_open_reset(void)
{
    sl_dataset_opts_init(&sl_data_open);
}

int sl_data_parse_open(const sl_optspec *spec, int argc, char **argv, int allow_empty,
                       sl_dataset **ds)
{
    *ds = NULL;
    sl_data_open_reset();
    int prc = sl_opt_parse(spec, argc, argv, NULL);
    if (prc != SL_OPT_CONTINUE) return prc;
    sl_dataset_opts o = sl_data_open;
    o.allow_empty = allow_empty;
    if (sl_dataset_open(argv[1], &o, ds) != SL_OK) return sl_fail();
    return SL_OPT_CONTINUE;
}
