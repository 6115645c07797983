/* log.c: prefixed messages on stderr. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char prefix[128] = "sl";
static int level = 1;

void sl_log_set_prefix(const char *p)
{
    snprintf(prefix, sizeof prefix, "%s", p ? p : "sl");
}

const char *sl_log_prefix(void)
{
    return prefix;
}

void sl_log_set_level(int l)
{
    level = l;
}

int sl_log_level(void)
{
    return level;
}

static void emit(const char *kind, const char *fmt, va_list ap)
{
    char line[4096];
    vsnprintf(line, sizeof line, fmt, ap);
    /* One fprintf per message keeps lines whole when threads log at once. */
    fprintf(stderr, "%s: %s%s\n", prefix, kind, line);
}

/* The body of each public function: formats its varargs behind `kind`. */
#define EMIT_VARGS(kind)                                                                           \
    do {                                                                                           \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        emit(kind, fmt, ap);                                                                       \
        va_end(ap);                                                                                \
    } while (0)

void sl_log_error(const char *fmt, ...)
{
    EMIT_VARGS("");
}

void sl_log_warn(const char *fmt, ...)
{
    EMIT_VARGS("warning: ");
}

void sl_log_info(const char *fmt, ...)
{
    if (level < 1) return;
    EMIT_VARGS("");
}

void sl_log_debug(const char *fmt, ...)
{
    if (level < 2) return;
    EMIT_VARGS("debug: ");
}
