/* cmd_check.c: `sl-data check`, validating a dataset and listing every problem. */
#include "common/cli.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/status.h"
#include "datasets/commands.h"
#include "datasets/inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: sl-data check DATASET [options]\n\n"
    "Opens DATASET (folder or cache), decoding every image, and lists each problem: corrupt or\n"
    "truncated PNGs, non-image files, empty class folders, unreadable folders, images outside\n"
    "a class folder. Exit 0 when clean, 1 when there are problems (or it cannot be read).\n\n"
    "  --json             print the report as JSON on stdout\n"
    "  -o, --out FILE     write the JSON report to FILE\n" SL_DATA_OPEN_HELP;

int sl_cmd_check(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv, help)) return SL_EXIT_OK;
    sl_dataset_opts dopt;
    sl_dataset_opts_init(&dopt);
    const char *in = NULL, *out = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        int rc;
        const char *a = argv[i];
        if (sl_data_open_option(argc, argv, &i, &dopt, &rc)) {
            if (rc != SL_OK) return rc;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
            if (i + 1 >= argc) return sl_usage_error("%s needs a value", a);
            out = argv[++i];
        } else if (a[0] == '-') {
            return sl_usage_error("unknown option %s", a);
        } else if (in) {
            return sl_usage_error("more than one dataset given ('%s', '%s')", in, a);
        } else {
            in = a;
        }
    }
    if (!in) return sl_usage_error("no DATASET given");
    sl_dataset *ds;
    if (sl_dataset_open(in, &dopt, &ds) != SL_OK) return sl_fail();
    const struct sl_dataset_summary *s = sl_dataset_summary(ds);
    int problems = s->num_problems;
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
    free(text);
    sl_dataset_free(ds);
    if (rc != SL_OK) return sl_fail();
    return problems ? SL_EXIT_FAIL : SL_EXIT_OK;
}
