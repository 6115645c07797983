/* split_pair.c: a split's device and edge halves written as one step. */
#include "preprocessor/split_pair.h"
#include "common/fsutil.h"
#include "common/status.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Fails with the message of a half that could not be written at tmp, naming its place path
 * instead (the temporary name means nothing to the user); all files are removed first. */
static int half_failed(int rc, const char *path, const char *tmp, const char *other_tmp)
{
    char why[1024];
    const char *m = sl_errmsg();
    size_t k = strlen(tmp);
    if (!strncmp(m, tmp, k) && !strncmp(m + k, ": ", 2)) m += k + 2;
    snprintf(why, sizeof why, "%s", m); /* copied: sl_err rewrites the buffer m points into */
    unlink(tmp);
    if (other_tmp) unlink(other_tmp);
    return sl_err(rc, "%s: %s", path, why);
}

int sl_split_pair_write(const char *dpath, const char *epath, const sl_bundle *d,
                        const sl_bundle *e)
{
    /* A device half without its edge half is of no use and would mislead: both are written
     * whole first, then renamed in. */
    int rc;
    char dtmp[4096], etmp[4096];
    if ((rc = sl_tmp_path_for(dpath, dtmp, sizeof dtmp)) ||
        (rc = sl_tmp_path_for(epath, etmp, sizeof etmp)))
        return rc;
    if ((rc = sl_bundle_write(dtmp, d))) return half_failed(rc, dpath, dtmp, NULL);
    if ((rc = sl_bundle_write(etmp, e))) return half_failed(rc, epath, etmp, dtmp);
    /* What would stop a rename (a folder in the way) is checked before either is done. */
    const char *blocked = sl_is_dir(dpath) ? dpath : sl_is_dir(epath) ? epath : NULL;
    if (blocked) {
        unlink(dtmp);
        unlink(etmp);
        return sl_err(SL_EIO, "%s: is a folder; nothing was written", blocked);
    }
    if ((rc = sl_commit_tmp(dtmp, dpath))) {
        unlink(etmp);
        return rc;
    }
    if ((rc = sl_commit_tmp(etmp, epath)))
        return sl_err(rc, "%s: the device half %s is new but the edge half could not be renamed "
                          "into place, so the two do not pair: %s",
                      epath, dpath, sl_errmsg());
    return SL_OK;
}
