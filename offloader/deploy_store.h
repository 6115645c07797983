/* deploy_store.h: the edge server's bundle folder: verified uploads, atomic install, list, remove.
 *
 * An upload streams into a hidden temporary file in the store folder (".upload.XXXXXX") while a
 * SHA-256 runs over it; only when exactly the announced number of bytes arrived and the digest
 * matches may it be renamed into place (rename is atomic within a folder), so readers never see
 * a partial bundle and a refused or interrupted upload leaves nothing behind. Installed bundles
 * are "<pair id hex>.h5"; files starting with '.' are never listed.
 */
#ifndef SL_OFFLOADER_DEPLOY_STORE_H
#define SL_OFFLOADER_DEPLOY_STORE_H

#include "offloader/sha256.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sl_deploy_upload sl_deploy_upload;

typedef struct sl_deploy_entry {
    char name[256];
    uint64_t bytes;
} sl_deploy_entry;

/* Creates the store folder if needed and removes temporary files left by a crash. */
int sl_deploy_store_init(const char *dir);

/* Starts an upload of `size` bytes whose SHA-256 must be `sha256`; size over max_size is refused
 * (SL_EARG) before anything is created. On success *up is the upload (end it with
 * sl_deploy_upload_commit or sl_deploy_upload_abort); on error *up is NULL and nothing exists. */
int sl_deploy_upload_begin(const char *dir, uint64_t size, const uint8_t sha256[SL_SHA256_SIZE],
                           uint64_t max_size, sl_deploy_upload **up);

/* Appends bytes. More bytes than announced: SL_EFORMAT. On any error the upload is still open
 * and must be aborted. */
int sl_deploy_upload_write(sl_deploy_upload *up, const void *data, size_t n);

/* Checks the byte count (a short upload is "truncated") and the digest, flushes the file to
 * disk, and, when HDF5 recognises the file, reads it as a bundle in a child process killed at a
 * deadline (sl_bundle_check_isolated, weights included: 10 s plus 1 s per 32 MiB), so a file
 * that makes libhdf5 loop never reaches this process, whose HDF5 calls share one lock. Returns
 * SL_OK with the temporary file's path in *tmp_path (owned by up, valid until commit/abort), so
 * the caller can load and validate the content before installing it; SL_EFORMAT naming what did
 * not match; or the check's error ("the uploaded bundle: ...", SL_ETIMEOUT when it was killed). */
int sl_deploy_upload_finish(sl_deploy_upload *up, const char **tmp_path);

/* Renames the finished upload to <dir>/<name> (replacing an older file of that name) and frees
 * up. On error the temporary file is removed; up is freed either way. */
int sl_deploy_upload_commit(sl_deploy_upload *up, const char *name);

/* Removes the temporary file and frees up; NULL is a no-op. */
void sl_deploy_upload_abort(sl_deploy_upload *up);

/* Bytes received so far. */
uint64_t sl_deploy_upload_received(const sl_deploy_upload *up);

/* Installed files (no dot files), sorted by name: *entries new array (caller frees), *n count. */
int sl_deploy_store_list(const char *dir, sl_deploy_entry **entries, size_t *n);

/* Removes <dir>/<name>. SL_ENOTFOUND when it does not exist. */
int sl_deploy_store_remove(const char *dir, const char *name);

#endif
