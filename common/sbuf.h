/* sbuf.h: a growing string buffer for printf-style text (generated code, SVG charts).
 *
 * Appends never fail loudly: an allocation failure sets `oom` and later appends do nothing, so a
 * writer appends freely and checks once at the end.
 *
 *     sl_sbuf b = {0};
 *     sl_sbuf_printf(&b, "<svg width=\"%d\">", w);
 *     if (b.oom) { sl_sbuf_free(&b); return SL_ENOMEM; }
 *     use(b.s);  // NUL-terminated; b.s stays NULL until the first append
 */
#ifndef SL_COMMON_SBUF_H
#define SL_COMMON_SBUF_H

#include <stddef.h>

typedef struct sl_sbuf {
    char *s;         /* the text, NUL-terminated; owned by the buffer; NULL before any append */
    size_t len, cap; /* len excludes the NUL */
    int oom;         /* set once an append could not allocate; the text is then incomplete */
} sl_sbuf;

/* Appends formatted text. On allocation failure sets b->oom and leaves b->s as it was. */
void sl_sbuf_printf(sl_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Frees the text and zeroes the buffer; a zeroed buffer is fine. */
void sl_sbuf_free(sl_sbuf *b);

/* Ends a writer: returns the text, which the caller now owns and frees ("" when nothing was
 * appended), and zeroes the buffer. After an allocation failure it frees the text and returns
 * NULL with SL_ENOMEM "out of memory while <what>" (e.g. "drawing the chart"). */
char *sl_sbuf_take(sl_sbuf *b, const char *what);

#endif
