/* json.c: JSON documents in, through cJSON, with the error position per call. */
#include "common/json.h"
#include "common/fsutil.h"
#include "common/status.h"

#include <stdlib.h>
#include <string.h>

/* The error for a parse that stopped at `at` inside `text`: its line, column and up to 16
 * characters found there (non-printing ones as '?'), or "end of text" for a truncated one. */
static int parse_err(const char *text, const char *at, const char *what)
{
    if (!at || at < text) at = text;
    size_t line = 1, col = 1;
    for (const char *p = text; p < at && *p; p++) {
        if (*p == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    if (!*at)
        return sl_err(SL_EFORMAT,
                      "%s: invalid or truncated JSON: does not parse at line %zu, column %zu "
                      "(the text ends there)",
                      what, line, col);
    char near[17];
    size_t n = 0;
    for (; n < sizeof near - 1 && at[n] && at[n] != '\n'; n++)
        near[n] = at[n] >= 0x20 && at[n] < 0x7f ? at[n] : '?';
    near[n] = '\0';
    return sl_err(SL_EFORMAT,
                  "%s: invalid or truncated JSON: does not parse at line %zu, column %zu "
                  "(near '%s')",
                  what, line, col, near);
}

int sl_json_parse(const char *text, const char *what, cJSON **out)
{
    const char *end = NULL;
    *out = cJSON_ParseWithOpts(text, &end, 1);
    if (*out) return SL_OK;
    return parse_err(text, end, what);
}

int sl_json_read_file(const char *path, cJSON **out)
{
    *out = NULL;
    char *text;
    size_t len;
    int rc = sl_read_file(path, &text, &len);
    if (rc) return rc;
    if (strlen(text) != len) {
        size_t at = strlen(text);
        free(text);
        return sl_err(SL_EFORMAT, "%s: not JSON: a NUL byte at byte %zu", path, at);
    }
    rc = sl_json_parse(text, path, out);
    free(text);
    return rc;
}

cJSON *sl_json_doc_new(const char *format, int version)
{
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "format", format);
        cJSON_AddNumberToObject(o, "version", version);
    }
    return o;
}

cJSON *sl_json_int_array(const int64_t *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
    return a;
}

cJSON *sl_json_string_array(char *const *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    return a;
}
