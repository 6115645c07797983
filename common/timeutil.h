/* timeutil.h: monotonic clock, wall-clock stamps, and statistics over timings. */
#ifndef SL_COMMON_TIMEUTIL_H
#define SL_COMMON_TIMEUTIL_H

#include <stddef.h>

/* Seconds on the monotonic clock. */
double sl_now(void);

/* Sleeps until sl_now() reaches t (at once when it has), through signal interruptions. */
void sl_sleep_until(double t);

/* Writes the current UTC time as ISO 8601 ("2026-11-23T11:38:32Z") into buf. */
void sl_utc_iso8601(char *buf, size_t n);

/* Median / percentile (0..100, linear interpolation) of n values; sorts `v` in place.
 * Returns 0 for n == 0. */
double sl_median(double *v, size_t n);
double sl_percentile(double *v, size_t n, double pct);

#endif
