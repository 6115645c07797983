/* cmd_list.c: `sl-data list`, the items of a split as lines, or as a folder of links. */
#include "common/cli.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/status.h"
#include "datasets/commands.h"
#include "datasets/export.h"

#include <stdio.h>

static const char *link_dir;

static const sl_opt options[] = {
    SL_OPT_STRING(0, "link", &link_dir, "DIR",
                  "instead of printing, create DIR/<class>/ holding a link to each image"),
    SL_OPT_GROUP(sl_data_open_opts),
    SL_OPT_END,
};

const sl_optspec sl_cmd_list_spec = {
    "sl-data list DATASET [--split S] [--link DIR] [options]",
    "Prints the images of DATASET (of one split with --split), one 'PATH<TAB>CLASS' line each,\n"
    "in the dataset's order. With --link DIR it creates DIR (which must not exist) with one\n"
    "folder per class of links to the images instead: the test split of a flat folder, whose\n"
    "split is a seeded ratio split, as a folder that sl-offload run/bench --images can read.",
    options,
    1,
    1,
    "one DATASET",
    NULL,
};

int sl_cmd_list(int argc, char **argv)
{
    link_dir = NULL;
    sl_dataset *ds;
    int prc = sl_data_parse_open(&sl_cmd_list_spec, argc, argv, 0, &ds);
    if (prc != SL_OPT_CONTINUE) return prc;
    int rc = SL_OK;
    int64_t n = sl_dataset_count(ds);
    if (n == 0) {
        rc = sl_err(SL_ENOTFOUND, "%s: no images in split %s", argv[1],
                    sl_data_open.split ? sl_data_open.split : "all");
    } else if (link_dir) {
        rc = sl_dataset_link(ds, link_dir);
        if (rc == SL_OK)
            sl_log_info("%s: %lld links to the images of %s", link_dir, (long long)n, argv[1]);
    } else {
        for (int64_t i = 0; i < n; i++)
            printf("%s\t%s\n", sl_dataset_path(ds, i),
                   sl_dataset_class_name(ds, sl_dataset_label(ds, i)));
        if (fflush(stdout) != 0) rc = sl_err(SL_EIO, "stdout: write failed");
    }
    sl_dataset_free(ds);
    return rc == SL_OK ? SL_EXIT_OK : sl_fail();
}
