/* export.c: a dataset split as a folder of links (export.h). */
#include "datasets/export.h"

#include "common/fsutil.h"
#include "common/status.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The link's name: the path below the root with '/' as '_'. */
static void link_name(const char *root, const char *path, char *out, size_t n)
{
    size_t r = strlen(root);
    while (r > 0 && root[r - 1] == '/')
        r--;
    const char *rel = !strncmp(path, root, r) && path[r] == '/' ? path + r + 1 : path;
    snprintf(out, n, "%s", rel);
    for (char *p = out; *p; p++)
        if (*p == '/') *p = '_';
}

int sl_dataset_link(const sl_dataset *ds, const char *dir)
{
    const struct sl_dataset_summary *s = sl_dataset_summary(ds);
    if (!strcmp(s->layout, "cache"))
        return sl_err(SL_EARG, "%s: a cache holds no image files to link; link its source folder",
                      s->root);
    struct stat st;
    if (lstat(dir, &st) == 0) return sl_err(SL_EARG, "%s: already exists", dir);
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", dir) >= (int)sizeof tmp)
        return sl_err(SL_EARG, "%s: path too long", dir);
    if (!mkdtemp(tmp)) return sl_err(SL_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    int rc = SL_OK;
    for (int c = 0; c < sl_dataset_num_classes(ds) && rc == SL_OK; c++) {
        char d[4096];
        if ((rc = sl_path_join(d, sizeof d, tmp, sl_dataset_class_name(ds, c))) == SL_OK &&
            mkdir(d, 0777) != 0)
            rc = sl_err(SL_EIO, "%s: cannot create: %s", d, strerror(errno));
    }
    for (int64_t i = 0; i < sl_dataset_count(ds) && rc == SL_OK; i++) {
        const char *path = sl_dataset_path(ds, i);
        char abs[PATH_MAX], name[2048], d[4096], l[8192];
        if (!realpath(path, abs)) {
            rc = sl_err(SL_EIO, "%s: %s", path, strerror(errno));
            break;
        }
        link_name(s->root, path, name, sizeof name);
        if ((rc = sl_path_join(d, sizeof d, tmp,
                               sl_dataset_class_name(ds, sl_dataset_label(ds, i)))) != SL_OK ||
            (rc = sl_path_join(l, sizeof l, d, name)) != SL_OK)
            break;
        if (symlink(abs, l) != 0) rc = sl_err(SL_EIO, "%s: cannot link: %s", l, strerror(errno));
    }
    if (rc == SL_OK && rename(tmp, dir) != 0)
        rc = sl_err(SL_EIO, "%s: cannot rename into place: %s", dir, strerror(errno));
    if (rc != SL_OK) {
        char lpath[8300];
        /* the temporary folder holds only links and class folders made here */
        for (int c = 0; c < sl_dataset_num_classes(ds); c++) {
            char d[4096];
            if (sl_path_join(d, sizeof d, tmp, sl_dataset_class_name(ds, c)) != SL_OK) continue;
            for (int64_t i = 0; i < sl_dataset_count(ds); i++) {
                if (sl_dataset_label(ds, i) != c) continue;
                char name[2048];
                link_name(s->root, sl_dataset_path(ds, i), name, sizeof name);
                if (sl_path_join(lpath, sizeof lpath, d, name) == SL_OK) unlink(lpath);
            }
            rmdir(d);
        }
        rmdir(tmp);
    }
    return rc;
}
