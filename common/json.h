/* json.h: JSON documents in, through cJSON, with errors that say where the text stops parsing.
 *
 * Every artefact the product reads as JSON (plans, profiles, configs, plan tables, graph JSON)
 * comes in through these two calls, so a broken or truncated file is reported one way:
 * "plan.json: invalid or truncated JSON: does not parse at line 3, column 7 (near '}')".
 * The error position is per call (not cJSON's process-wide error pointer), so threads may
 * parse at the same time.
 */
#ifndef SL_COMMON_JSON_H
#define SL_COMMON_JSON_H

#include <cjson/cJSON.h>
#include <stdint.h>

/* Parses `text` (NUL-terminated) as one JSON document: white space may follow it, nothing else.
 * `what` names the text in the error (a path, "graph JSON"). Returns SL_OK with *out a new tree
 * that the caller frees with cJSON_Delete, or SL_EFORMAT (the message names `what`, the line,
 * column and what stands there) with *out NULL. */
int sl_json_parse(const char *text, const char *what, cJSON **out);

/* Reads the file at `path` and parses it as sl_json_parse does, naming `path` in every error.
 * Returns SL_OK with *out a new tree (caller cJSON_Delete), or SL_EIO (unreadable), SL_EFORMAT
 * (not one JSON document, or a NUL byte inside) or SL_ENOMEM, with *out NULL. */
int sl_json_read_file(const char *path, cJSON **out);

/* JSON out: a new object that starts an artefact document, {"format": format, "version":
 * version}, for the caller to fill; the caller owns it. NULL when out of memory. */
cJSON *sl_json_doc_new(const char *format, int version);

/* JSON out: a new array of the n numbers v (a tensor shape, a channel range), or of the n
 * strings v (names). The caller owns it (cJSON_Delete, or adds it to a tree). NULL when out of
 * memory; an item that cannot be allocated is left out. */
cJSON *sl_json_int_array(const int64_t *v, int n);
cJSON *sl_json_string_array(char *const *v, int n);

#endif
