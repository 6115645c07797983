/* cmd_check.c: `sl-data check`, validating a dataset and listing every problem. */
#include "common/cli.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/status.h"
#include "datasets/commands.h"
#include "datasets/inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *out;
static int json;

static const sl_opt options[] = {
    SL_OPT_FLAG(0, "json", &json, "print the report as JSON on stdout"),
    SL_OPT_STRING('o', "out", &out, "FILE", "write the JSON report to FILE"),
    SL_OPT_GROUP(sl_data_open_opts),
    SL_OPT_END,
};

const sl_optspec sl_cmd_check_spec = {
    "sl-data check DATASET [options]",
    "Opens DATASET (folder or cache), decoding every image, and lists each problem: corrupt or\n"
    "truncated images (PNG, JPEG, BMP), non-image files, empty class folders, unreadable\n"
    "folders, images outside a class folder. A folder with no readable image at all is reported\n"
    "the same way (every problem listed, --json too). Exit 0 when clean, 1 when there are\n"
    "problems or no images (or it cannot be read).",
    options,
    1,
    1,
    "one DATASET",
    NULL,
};

int sl_cmd_check(int argc, char **argv)
{
    out = NULL;
    json = 0;
    sl_dataset *ds;
    /* allow_empty: an unusable folder is reported, problems and all, not just failed */
    int prc = sl_data_parse_open(&sl_cmd_check_spec, argc, argv, 1, &ds);
    if (prc != SL_OPT_CONTINUE) return prc;
    const char *in = argv[1];
    const struct sl_dataset_summary *s = sl_dataset_summary(ds);
    int problems = s->num_problems;
    int64_t count = s->count;
    char *text = NULL;
    if ((json || out) && sl_dataset_check_json(ds, &text) != SL_OK) {
        sl_dataset_free(ds);
        return sl_fail();
    }
    int rc = SL_OK;
    if (out) rc = sl_write_file_atomic(out, text, strlen(text));
    if (json) {
        puts(text);
    } else {
        printf("%s: %s, %lld images in %d classes, %d problem%s\n", in, s->layout,
               (long long)s->count, s->num_classes, problems, problems == 1 ? "" : "s");
        for (int c = 0; c < s->num_classes; c++)
            printf("  %-20s %lld\n", sl_dataset_class_name(ds, c), (long long)s->class_counts[c]);
        for (int i = 0; i < problems; i++)
            printf("problem: %s: %s\n", s->problems[i].path, s->problems[i].reason);
    }
    if (rc == SL_OK && count == 0)
        sl_log_error("%s: no readable image (PNG, JPEG or BMP) in any class folder", in);
    free(text);
    sl_dataset_free(ds);
    if (rc != SL_OK) return sl_fail();
    return problems || count == 0 ? SL_EXIT_FAIL : SL_EXIT_OK;
}
