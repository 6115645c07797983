/* fsutil.h: files written atomically, whole-file reads, folders.
 *
 * Every artefact the product writes goes through a temporary file in the same folder that is
 * renamed into place, so a crash or an error never leaves a half-written file behind.
 */
#ifndef SL_COMMON_FSUTIL_H
#define SL_COMMON_FSUTIL_H

#include <stddef.h>
#include <stdio.h>

/* Fills `tmp` (size n) with a unique temporary name beside `path` ("dir/.name.tmp.PID.N").
 * Returns SL_OK or SL_EARG when the name does not fit. */
int sl_tmp_path_for(const char *path, char *tmp, size_t n);

/* Renames `tmp` onto `path` after fsync; on failure removes `tmp`. Returns SL_OK or SL_EIO. */
int sl_commit_tmp(const char *tmp, const char *path);

/* Writes `len` bytes to `path` atomically. On error nothing at `path` is changed. */
int sl_write_file_atomic(const char *path, const void *data, size_t len);

/* Writes the text `text` to `path` atomically, with a newline after it when it does not end in
 * one (a JSON document from cJSON_Print, an SVG). Returns SL_OK or SL_EIO; on error nothing at
 * `path` is changed. The caller keeps `text`. */
int sl_write_text_atomic(const char *path, const char *text);

/* sl_write_text_atomic, then frees `text` (a document a renderer returned). A NULL `text` (the
 * renderer failed, its message already set) writes nothing and returns SL_ENOMEM. */
int sl_write_text_and_free(const char *path, char *text);

/* Reads a whole file into a new NUL-terminated buffer (*out, caller frees; *len without the NUL).
 * Returns SL_OK, SL_EIO (message names the path and errno text). */
int sl_read_file(const char *path, char **out, size_t *len);

/* Creates `dir` and its parents (like mkdir -p). Returns SL_OK or SL_EIO. */
int sl_mkdir_p(const char *dir);

/* 1 if `path` exists and is a directory / regular file, else 0. */
int sl_is_dir(const char *path);
int sl_is_file(const char *path);

/* Joins a folder and a name into buf; returns SL_OK or SL_EARG when it does not fit. */
int sl_path_join(char *buf, size_t n, const char *dir, const char *name);

#endif
