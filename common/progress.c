/* progress.c: throttled terminal progress lines. */
#include "common/progress.h"
#include "common/log.h"
#include "common/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sl_progress {
    char title[96];
    uint64_t total, done;
    double t0, last_draw;
    int tty, updated;
};

sl_progress *sl_progress_start(const char *title, uint64_t total)
{
    if (sl_log_level() < 1) return NULL;
    sl_progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    snprintf(p->title, sizeof p->title, "%s", title);
    p->total = total;
    p->t0 = sl_now();
    p->tty = isatty(STDERR_FILENO);
    return p;
}

static void draw(sl_progress *p, const char *extra, int final)
{
    double el = sl_now() - p->t0;
    double rate = el > 0 ? (double)p->done / el : 0;
    char line[512];
    int n;
    if (p->total) {
        double frac = (double)p->done / (double)p->total;
        double eta = (rate > 0 && !final) ? (double)(p->total - p->done) / rate : 0;
        n = snprintf(line, sizeof line, "%s: %3.0f%% (%llu/%llu) %.1f/s %s%.0fs", p->title,
                     100.0 * frac, (unsigned long long)p->done, (unsigned long long)p->total, rate,
                     final ? "in " : "eta ", final ? el : eta);
    } else {
        n = snprintf(line, sizeof line, "%s: %llu %.1f/s %.0fs", p->title,
                     (unsigned long long)p->done, rate, el);
    }
    if (extra && *extra && n > 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, "  %s", extra);
    if (p->tty)
        fprintf(stderr, "\r%s: %s\033[K%s", sl_log_prefix(), line, final ? "\n" : "");
    else if (final)
        fprintf(stderr, "%s: %s\n", sl_log_prefix(), line);
    fflush(stderr);
}

void sl_progress_update(sl_progress *p, uint64_t done, const char *extra)
{
    if (!p) return;
    p->done = done;
    p->updated = 1;
    double t = sl_now();
    if (p->tty && t - p->last_draw >= 0.1) {
        p->last_draw = t;
        draw(p, extra, 0);
    }
}

void sl_progress_done(sl_progress *p, const char *extra)
{
    if (!p) return;
    /* A caller that only starts and ends the line (the work ran elsewhere, say in threads that
     * do not report) finished it all; "0% (0/3400)" after the work is done was wrong. */
    if (!p->updated) p->done = p->total;
    draw(p, extra, 1);
    free(p);
}
