/* testutil.h: the one-header test helper (after redis's testhelp.h).
 *
 * One line per check; a failed check prints file:line and the expression and the test goes on.
 * TU_DONE() prints "N passed, N failed" and returns the exit status for main().
 */
#ifndef SL_TESTUTIL_H
#define SL_TESTUTIL_H

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tu_passed, tu_failed;

#define TU_CHECK_MSG(cond, ...)                                                                 \
    do {                                                                                        \
        if (cond) {                                                                             \
            tu_passed++;                                                                        \
        } else {                                                                                \
            tu_failed++;                                                                        \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                     \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fputc('\n', stderr);                                                                \
        }                                                                                       \
    } while (0)

#define CHECK(cond) TU_CHECK_MSG(cond, "%s", "")
/* rc is a status; on failure prints the module's error text (pass sl_errmsg() or
 * sl_torch_last_error() as msg). */
#define CHECK_OK(rc, msg) TU_CHECK_MSG((rc) == 0, "status %d: %s", (int)(rc), (msg))
#define CHECK_EQ(a, b)                                                                          \
    TU_CHECK_MSG((long long)(a) == (long long)(b), "%lld != %lld", (long long)(a),              \
                 (long long)(b))
#define CHECK_NEAR(a, b, tol)                                                                   \
    TU_CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%.9g vs %.9g (tol %g)", (double)(a), \
                 (double)(b), (double)(tol))
#define CHECK_STR(a, b)                                                                         \
    TU_CHECK_MSG(strcmp((a), (b)) == 0, "\"%s\" != \"%s\"", (a), (b))
#define CHECK_CONTAINS(hay, needle)                                                             \
    TU_CHECK_MSG((hay) && strstr((hay), (needle)) != NULL, "\"%s\" lacks \"%s\"",             \
                 (hay) ? (hay) : "(null)", (needle))

/* A fresh temporary folder for this test (removed by tu_rmtree); static storage. */
static inline const char *tu_tmpdir(void)
{
    static char dir[512];
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/sltest.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(2);
    }
    return dir;
}

static inline void tu_rmtree(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

/* Number of entries in dir other than . and .. (hidden ones included); 0 when it cannot be read. */
static inline int tu_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

/* text with its first `from` replaced by `to`, in a new string the caller frees; NULL, after a
 * failed check, when text lacks `from` (a test case that no longer edits anything). */
static inline char *tu_subst(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    TU_CHECK_MSG(at != NULL, "\"%s\" is not in the text to edit", from);
    if (!at) return NULL;
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    if (!out) {
        perror("tu_subst");
        exit(2);
    }
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return out;
}

#define TU_DONE()                                                                               \
    (printf("%d passed, %d failed\n", tu_passed, tu_failed), (tu_failed || !tu_passed) ? 1 : 0)

#endif
