/* deploy_store.c: verified, atomic bundle uploads into the edge server's store folder. */
#include "offloader/deploy_store.h"
#include "common/fsutil.h"
#include "common/status.h"
#include "model/bundle.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_PREFIX ".upload."

struct sl_deploy_upload {
    char dir[4096];
    char tmp[4200];
    int fd;
    uint64_t size, received;
    uint8_t want[SL_SHA256_SIZE];
    EVP_MD_CTX *md;
};

int sl_deploy_store_init(const char *dir)
{
    int rc = sl_mkdir_p(dir);
    if (rc) return rc;
    DIR *d = opendir(dir);
    if (!d) return sl_err(SL_EIO, "%s: cannot list: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0) continue;
        char p[4400];
        if (sl_path_join(p, sizeof p, dir, e->d_name) == SL_OK) unlink(p);
    }
    closedir(d);
    return SL_OK;
}

int sl_deploy_upload_begin(const char *dir, uint64_t size, const uint8_t sha256[SL_SHA256_SIZE],
                           uint64_t max_size, sl_deploy_upload **out)
{
    *out = NULL;
    if (size > max_size)
        return sl_err(SL_EARG, "upload of %llu bytes is over the limit of %llu bytes",
                      (unsigned long long)size, (unsigned long long)max_size);
    sl_deploy_upload *up = calloc(1, sizeof *up);
    if (!up) return sl_err(SL_ENOMEM, "out of memory starting an upload");
    snprintf(up->dir, sizeof up->dir, "%s", dir);
    if (sl_path_join(up->tmp, sizeof up->tmp, dir, TMP_PREFIX "XXXXXX")) {
        free(up);
        return SL_EARG;
    }
    up->fd = mkstemp(up->tmp);
    if (up->fd < 0) {
        int e = errno;
        free(up);
        return sl_err(SL_EIO, "%s: cannot create an upload file: %s", dir, strerror(e));
    }
    fchmod(up->fd, 0644);
    up->size = size;
    memcpy(up->want, sha256, SL_SHA256_SIZE);
    up->md = EVP_MD_CTX_new();
    if (!up->md || !EVP_DigestInit_ex(up->md, EVP_sha256(), NULL)) {
        sl_deploy_upload_abort(up);
        return sl_err(SL_ENOMEM, "cannot start SHA-256");
    }
    *out = up;
    return SL_OK;
}

int sl_deploy_upload_write(sl_deploy_upload *up, const void *data, size_t n)
{
    if (n > up->size - up->received)
        return sl_err(SL_EFORMAT, "upload sends more than the %llu bytes announced",
                      (unsigned long long)up->size);
    const char *p = data;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(up->fd, p + done, n - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            return sl_err(SL_EIO, "%s: write failed: %s", up->tmp, strerror(errno));
        }
        done += (size_t)w;
    }
    EVP_DigestUpdate(up->md, data, n);
    up->received += n;
    return SL_OK;
}

uint64_t sl_deploy_upload_received(const sl_deploy_upload *up)
{
    return up->received;
}

int sl_deploy_upload_finish(sl_deploy_upload *up, const char **tmp_path)
{
    *tmp_path = NULL;
    if (up->received != up->size)
        return sl_err(SL_EFORMAT, "truncated upload: %llu of %llu bytes arrived",
                      (unsigned long long)up->received, (unsigned long long)up->size);
    uint8_t got[SL_SHA256_SIZE];
    unsigned int len = SL_SHA256_SIZE;
    EVP_DigestFinal_ex(up->md, got, &len);
    EVP_DigestInit_ex(up->md, EVP_sha256(), NULL);
    if (CRYPTO_memcmp(got, up->want, SL_SHA256_SIZE) != 0) {
        char a[65], b[65];
        sl_sha256_hex(got, a);
        sl_sha256_hex(up->want, b);
        return sl_err(SL_EFORMAT, "upload SHA-256 %s does not match the announced %s", a, b);
    }
    if (fsync(up->fd) != 0) return sl_err(SL_EIO, "%s: cannot flush: %s", up->tmp, strerror(errno));
    /* HDF5 is process-wide (one lock, h5/h5.h): a file that makes it loop must not reach this
     * process, so it is read once in a child with a deadline first. */
    int rc = sl_bundle_check_isolated(up->tmp, "the uploaded bundle",
                                      SL_BUNDLE_CHECK_WEIGHTS | SL_BUNDLE_CHECK_HDF5_ONLY,
                                      sl_bundle_check_seconds(up->size));
    if (rc) return rc;
    *tmp_path = up->tmp;
    return SL_OK;
}

static void upload_free(sl_deploy_upload *up)
{
    if (up->fd >= 0) close(up->fd);
    EVP_MD_CTX_free(up->md);
    free(up);
}

int sl_deploy_upload_commit(sl_deploy_upload *up, const char *name)
{
    char path[4400];
    int rc = sl_path_join(path, sizeof path, up->dir, name);
    if (rc == SL_OK && (strchr(name, '/') || name[0] == '.'))
        rc = sl_err(SL_EARG, "bundle name \"%s\" may not start with '.' or contain '/'", name);
    close(up->fd);
    up->fd = -1;
    if (rc == SL_OK) rc = sl_commit_tmp(up->tmp, path);
    if (rc) unlink(up->tmp);
    upload_free(up);
    return rc;
}

void sl_deploy_upload_abort(sl_deploy_upload *up)
{
    if (!up) return;
    unlink(up->tmp);
    upload_free(up);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const sl_deploy_entry *)a)->name, ((const sl_deploy_entry *)b)->name);
}

int sl_deploy_store_list(const char *dir, sl_deploy_entry **entries, size_t *n)
{
    *entries = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return sl_err(SL_EIO, "%s: cannot list: %s", dir, strerror(errno));
    size_t cap = 0, cnt = 0;
    sl_deploy_entry *v = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof v->name) continue;
        char p[4400];
        struct stat st;
        if (sl_path_join(p, sizeof p, dir, e->d_name) || stat(p, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (cnt == cap) {
            sl_deploy_entry *nv = realloc(v, (cap = cap ? 2 * cap : 8) * sizeof *v);
            if (!nv) {
                free(v);
                closedir(d);
                return sl_err(SL_ENOMEM, "%s: out of memory listing", dir);
            }
            v = nv;
        }
        snprintf(v[cnt].name, sizeof v[cnt].name, "%s", e->d_name);
        v[cnt].bytes = (uint64_t)st.st_size;
        cnt++;
    }
    closedir(d);
    if (cnt) qsort(v, cnt, sizeof *v, cmp_entry);
    *entries = v;
    *n = cnt;
    return SL_OK;
}

int sl_deploy_store_remove(const char *dir, const char *name)
{
    char p[4400];
    int rc = sl_path_join(p, sizeof p, dir, name);
    if (rc) return rc;
    if (name[0] == '.' || strchr(name, '/'))
        return sl_err(SL_EARG, "bundle name \"%s\" may not start with '.' or contain '/'", name);
    if (unlink(p) != 0) {
        if (errno == ENOENT) return sl_err(SL_ENOTFOUND, "%s: no such bundle", p);
        return sl_err(SL_EIO, "%s: cannot remove: %s", p, strerror(errno));
    }
    return SL_OK;
}
