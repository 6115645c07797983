/* sha256.c: SHA-256 digests through OpenSSL's EVP interface. */
#include "offloader/sha256.h"
#include "common/status.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

void sl_sha256(const void *data, size_t n, uint8_t out[SL_SHA256_SIZE])
{
    unsigned int len = SL_SHA256_SIZE;
    EVP_Digest(data, n, out, &len, EVP_sha256(), NULL);
}

void sl_sha256_hex(const uint8_t d[SL_SHA256_SIZE], char hex[2 * SL_SHA256_SIZE + 1])
{
    for (int i = 0; i < SL_SHA256_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

int sl_sha256_file(const char *path, uint8_t out[SL_SHA256_SIZE])
{
    FILE *f = fopen(path, "rb");
    if (!f) return sl_err(SL_EIO, "%s: cannot open: %s", path, strerror(errno));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        fclose(f);
        return sl_err(SL_ENOMEM, "%s: cannot start SHA-256", path);
    }
    char buf[65536];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, f)) > 0)
        EVP_DigestUpdate(md, buf, r);
    int bad = ferror(f);
    fclose(f);
    unsigned int len = SL_SHA256_SIZE;
    EVP_DigestFinal_ex(md, out, &len);
    EVP_MD_CTX_free(md);
    if (bad) return sl_err(SL_EIO, "%s: read failed", path);
    return SL_OK;
}
