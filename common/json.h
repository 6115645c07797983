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

/* Parses `text` (NUL-terminated) as one JSON document: white space may follow it, nothing else.
 * `what` names the text in the error (a path, "graph JSON"). Returns SL_OK with *out a new tree
 * that the caller frees with cJSON_Delete, or SL_EFORMAT (the message names `what`, the line,
 * column and what stands there) with *out NULL. */
int sl_json_parse(const char *text, const char *what, cJSON **out);

/* Reads the file at `path` and parses it as sl_json_parse does, naming `path` in every error.
 * Returns SL_OK with *out a new tree (caller cJSON_Delete), or SL_EIO (unreadable), SL_EFORMAT
 * (not one JSON document, or a NUL byte inside) or SL_ENOMEM, with *out NULL. */
int sl_json_read_file(const char *path, cJSON **out);

#endif
