/* cmd_common.c: parsing of the dataset-opening options shared by the sl-data subcommands. */
#include "datasets/commands.h"

#include "common/cli.h"
#include "common/status.h"

#include <string.h>

static const char *value(int argc, char **argv, int *i, int *rc)
{
    if (*i + 1 >= argc) {
        *rc = sl_usage_error("%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int sl_data_open_option(int argc, char **argv, int *i, sl_dataset_opts *o, int *rc)
{
    const char *a = argv[*i], *v;
    *rc = SL_OK;
    if (!strcmp(a, "--binary")) {
        o->binary = 1;
    } else if (!strcmp(a, "--strict")) {
        o->strict = 1;
    } else if (!strcmp(a, "--layout")) {
        if (!(v = value(argc, argv, i, rc))) return 1;
        if (!strcmp(v, "auto"))
            o->layout = SL_LAYOUT_AUTO;
        else if (!strcmp(v, "imagefolder"))
            o->layout = SL_LAYOUT_IMAGEFOLDER;
        else if (!strcmp(v, "mvtec"))
            o->layout = SL_LAYOUT_MVTEC;
        else
            *rc = sl_usage_error("--layout: '%s' is not auto, imagefolder or mvtec", v);
    } else if (!strcmp(a, "--split")) {
        if (!(v = value(argc, argv, i, rc))) return 1;
        if (strcmp(v, "train") && strcmp(v, "val") && strcmp(v, "test") && strcmp(v, "all"))
            *rc = sl_usage_error("--split: '%s' is not train, val, test or all", v);
        o->split = v;
    } else if (!strcmp(a, "--val-ratio") || !strcmp(a, "--test-ratio")) {
        if (!(v = value(argc, argv, i, rc))) return 1;
        if (sl_parse_double(a, v, 0, 1, a[2] == 'v' ? &o->val_ratio : &o->test_ratio) != SL_OK)
            *rc = sl_usage_error("%s", sl_errmsg());
    } else if (!strcmp(a, "--seed")) {
        long s;
        if (!(v = value(argc, argv, i, rc))) return 1;
        if (sl_parse_long(a, v, 0, 0x7fffffffL, &s) != SL_OK)
            *rc = sl_usage_error("%s", sl_errmsg());
        o->seed = (uint64_t)s;
    } else {
        return 0;
    }
    return 1;
}
