/* dataset_fixture.h: opening a test's dataset folder the way the dataset tests check it. */
#ifndef SL_TESTS_DATASET_FIXTURE_H
#define SL_TESTS_DATASET_FIXTURE_H

#include "common/status.h"
#include "datasets/dataset.h"
#include "testutil.h"

/* root opened with the default options but for `split` (NULL: all splits), under a check, and
 * checked to be of `layout`. The caller frees it with sl_dataset_free; NULL after a failed open
 * (a failed check). */
static inline sl_dataset *dsf_open(const char *root, const char *split, const char *layout)
{
    sl_dataset_opts o;
    sl_dataset_opts_init(&o);
    o.split = split;
    sl_dataset *ds = NULL;
    CHECK_OK(sl_dataset_open(root, &o, &ds), sl_errmsg());
    if (ds) CHECK_STR(sl_dataset_summary(ds)->layout, layout);
    return ds;
}

#endif
