/* timeutil.c: clocks and order statistics. */
#include "common/timeutil.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

double sl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void sl_sleep_until(double t)
{
    for (;;) {
        double d = t - sl_now();
        if (d <= 0) return;
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        if (nanosleep(&ts, NULL) == 0) return;
        if (errno != EINTR) return;
    }
}

void sl_utc_iso8601(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double sl_percentile(double *v, size_t n, double pct)
{
    if (n == 0) return 0;
    qsort(v, n, sizeof *v, cmp_double);
    double pos = pct / 100.0 * (double)(n - 1);
    size_t lo = (size_t)pos;
    if (lo >= n - 1) return v[n - 1];
    double f = pos - (double)lo;
    return v[lo] * (1 - f) + v[lo + 1] * f;
}

double sl_median(double *v, size_t n)
{
    return sl_percentile(v, n, 50);
}
