/* sha256.h: SHA-256 digests (OpenSSL's EVP) of buffers and files: bundle identities for deploys
 * (deploy_store.h, the client's upload, the edge's list). */
#ifndef SL_OFFLOADER_SHA256_H
#define SL_OFFLOADER_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SL_SHA256_SIZE 32

/* The digest of n bytes at data into out. Cannot fail. */
void sl_sha256(const void *data, size_t n, uint8_t out[SL_SHA256_SIZE]);

/* The digest of the whole file at path into out. Returns SL_OK, SL_EIO naming the path (cannot
 * open or read it) or SL_ENOMEM; out is then undefined. */
int sl_sha256_file(const char *path, uint8_t out[SL_SHA256_SIZE]);

/* A digest as 64 lowercase hex digits and a NUL into hex. */
void sl_sha256_hex(const uint8_t d[SL_SHA256_SIZE], char hex[2 * SL_SHA256_SIZE + 1]);

#endif
