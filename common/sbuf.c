/* sbuf.c: a growing string buffer for printf-style text. */
#include "common/sbuf.h"
#include "common/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_sbuf_printf(sl_sbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        /* Doubling keeps appends amortised O(1); + n makes room for this one at once. */
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *t = realloc(b->s, cap);
        if (!t) {
            b->oom = 1;
            return;
        }
        b->s = t;
        b->cap = cap;
    }
}

void sl_sbuf_free(sl_sbuf *b)
{
    free(b->s);
    *b = (sl_sbuf){0};
}

char *sl_sbuf_take(sl_sbuf *b, const char *what)
{
    char *s = b->oom ? NULL : b->s ? b->s : strdup("");
    if (!s) {
        sl_sbuf_free(b);
        sl_err(SL_ENOMEM, "out of memory while %s", what);
        return NULL;
    }
    *b = (sl_sbuf){0};
    return s;
}
