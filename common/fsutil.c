/* fsutil.c: atomic writes and small file helpers. */
#include "common/fsutil.h"
#include "common/status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static atomic_uint tmp_counter;

int sl_tmp_path_for(const char *path, char *tmp, size_t n)
{
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    const char *base = slash ? slash + 1 : path;
    int w = snprintf(tmp, n, "%.*s.%s.tmp.%ld.%u", dirlen, path, base, (long)getpid(),
                     atomic_fetch_add(&tmp_counter, 1));
    if (w < 0 || (size_t)w >= n) return sl_err(SL_EARG, "%s: path too long", path);
    return SL_OK;
}

int sl_commit_tmp(const char *tmp, const char *path)
{
    int fd = open(tmp, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return sl_err(SL_EIO, "%s: cannot rename into place: %s", path, strerror(e));
    }
    return SL_OK;
}

/* `len` bytes and then, when `newline`, a newline, to `path` atomically. */
static int write_atomic(const char *path, const void *data, size_t len, int newline)
{
    char tmp[4096];
    int rc = sl_tmp_path_for(path, tmp, sizeof tmp);
    if (rc) return rc;
    FILE *f = fopen(tmp, "wb");
    if (!f) return sl_err(SL_EIO, "%s: cannot write: %s", path, strerror(errno));
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    int bad = (w != len) | (newline && fputc('\n', f) == EOF) | (fflush(f) != 0);
    int e = errno;
    bad |= fclose(f) != 0;
    if (bad) {
        unlink(tmp);
        return sl_err(SL_EIO, "%s: write failed: %s", path, strerror(e));
    }
    return sl_commit_tmp(tmp, path);
}

int sl_write_file_atomic(const char *path, const void *data, size_t len)
{
    return write_atomic(path, data, len, 0);
}

int sl_write_text_atomic(const char *path, const char *text)
{
    size_t len = strlen(text);
    return write_atomic(path, text, len, !len || text[len - 1] != '\n');
}

int sl_write_text_and_free(const char *path, char *text)
{
    int rc = text ? sl_write_text_atomic(path, text) : SL_ENOMEM;
    free(text);
    return rc;
}

int sl_read_file(const char *path, char **out, size_t *len)
{
    *out = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return sl_err(SL_EIO, "%s: cannot open: %s", path, strerror(errno));
    /* A regular file is read in one go into a buffer of its size (+ the NUL); the loop below
     * still copes with files that grow meanwhile and with pipes, whose size is unknown. */
    struct stat st;
    size_t cap = 4096, n = 0;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (unsigned long long)st.st_size < (unsigned long long)SIZE_MAX / 2)
        cap = (size_t)st.st_size + 2; /* + 1 for the NUL, + 1 so that EOF is seen in one read */
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return sl_err(SL_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return sl_err(SL_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return sl_err(SL_EIO, "%s: read failed", path);
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return SL_OK;
}

int sl_mkdir_p(const char *dir)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return sl_err(SL_EARG, "%s: path too long", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return sl_err(SL_EIO, "%s: cannot create folder: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return sl_err(SL_EIO, "%s: cannot create folder: %s", buf, strerror(errno));
    if (!sl_is_dir(buf)) return sl_err(SL_EIO, "%s: exists and is not a folder", buf);
    return SL_OK;
}

int sl_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int sl_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int sl_path_join(char *buf, size_t n, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    int w = snprintf(buf, n, "%s%s%s", dir, (dl && dir[dl - 1] != '/') ? "/" : "", name);
    if (w < 0 || (size_t)w >= n) return sl_err(SL_EARG, "%s/%s: path too long", dir, name);
    return SL_OK;
}
