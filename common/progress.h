/* progress.h: a progress line for long work (after git's progress.c).
 *
 * On a terminal the line is redrawn in place at most ~10 times a second; otherwise nothing is
 * drawn until sl_progress_done(), which prints one final line, so logs stay readable.
 */
#ifndef SL_COMMON_PROGRESS_H
#define SL_COMMON_PROGRESS_H

#include <stdint.h>

typedef struct sl_progress sl_progress;

/* Starts a progress line titled `title` over `total` units (0 = unknown). Returns NULL only when
 * progress is disabled (quiet log level); every function accepts NULL. */
sl_progress *sl_progress_start(const char *title, uint64_t total);

/* Sets the count done so far and an optional extra text ("loss 0.31 acc 0.88"); throttled. */
void sl_progress_update(sl_progress *p, uint64_t done, const char *extra);

/* Prints the final line (with elapsed time and rate) and frees `p`. Work whose progress was
 * never reported with sl_progress_update is taken as complete (the line says total/total, not
 * 0/total); after updates, the line says how far they got, so a stop part way shows as one. */
void sl_progress_done(sl_progress *p, const char *extra);

#endif
