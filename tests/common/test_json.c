/* test_json.c: JSON files and texts come in whole, or fail with an error naming the file, the
 * line and column where parsing stopped, and nothing returned. */
#include "common/json.h"
#include "common/fsutil.h"
#include "common/status.h"
#include "testutil.h"

/* Writes `len` bytes of `text` to dir/name; the path goes into buf. */
static const char *put(char *buf, size_t n, const char *dir, const char *name, const char *text,
                       size_t len)
{
    snprintf(buf, n, "%s/%s", dir, name);
    if (sl_write_file_atomic(buf, text, len)) {
        fprintf(stderr, "cannot write %s: %s\n", buf, sl_errmsg());
        exit(2);
    }
    return buf;
}

int main(void)
{
    const char *dir = tu_tmpdir();
    char path[600];
    cJSON *j = NULL;

    /* A whole document, white space after it. */
    const char *good = "{\"format\": \"x\",\n \"n\": [1, 2]}\n\n";
    CHECK_OK(sl_json_read_file(put(path, sizeof path, dir, "good.json", good, strlen(good)), &j),
             sl_errmsg());
    CHECK(cJSON_IsObject(j));
    CHECK_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "n")), 2);
    cJSON_Delete(j);
    CHECK_OK(sl_json_parse("[true]", "inline", &j), sl_errmsg());
    CHECK(cJSON_IsArray(j));
    cJSON_Delete(j);

    /* Truncated: the error names the file, the line and column, and that the text ends. */
    const char *trunc = "{\n  \"a\": [1,\n";
    j = (cJSON *)1;
    CHECK_EQ(sl_json_read_file(put(path, sizeof path, dir, "trunc.json", trunc, strlen(trunc)), &j),
             SL_EFORMAT);
    CHECK(j == NULL);
    CHECK_CONTAINS(sl_errmsg(), "trunc.json: invalid or truncated JSON: does not parse at line 3");
    CHECK_CONTAINS(sl_errmsg(), "the text ends there");

    /* A bad token: line, column and what stands there. */
    CHECK_EQ(sl_json_parse("{\"a\": 1,\n \"b\": nope}", "graph JSON", &j), SL_EFORMAT);
    CHECK(j == NULL);
    CHECK_CONTAINS(sl_errmsg(), "graph JSON: invalid or truncated JSON");
    CHECK_CONTAINS(sl_errmsg(), "line 2, column 7 (near 'nope}')");

    /* Something after the document is refused, not dropped. */
    CHECK_EQ(sl_json_parse("{\"a\": 1} {\"b\": 2}", "two.json", &j), SL_EFORMAT);
    CHECK(j == NULL);
    CHECK_CONTAINS(sl_errmsg(), "line 1, column 10 (near '{\"b\": 2}')");

    /* Empty text, a NUL byte inside the file, a missing file. */
    CHECK_EQ(sl_json_read_file(put(path, sizeof path, dir, "empty.json", "", 0), &j), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "empty.json: invalid or truncated JSON");
    CHECK_EQ(sl_json_read_file(put(path, sizeof path, dir, "nul.json", "{}\0{}", 5), &j),
             SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "nul.json: not JSON: a NUL byte at byte 2");
    CHECK(j == NULL);
    snprintf(path, sizeof path, "%s/missing.json", dir);
    CHECK_EQ(sl_json_read_file(path, &j), SL_EIO);
    CHECK_CONTAINS(sl_errmsg(), "missing.json: cannot open");
    CHECK(j == NULL);

    tu_rmtree(dir);
    return TU_DONE();
}
