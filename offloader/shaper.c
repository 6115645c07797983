/* shaper.c: token buckets for upload and download plus a round-trip delay (see shaper.h). */
#include "offloader/shaper.h"
#include "common/status.h"
#include "common/timeutil.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct sl_shaper {
    double bps;       /* bits per second; <= 0 unlimited */
    double rtt;       /* seconds */
    double burst;     /* bucket depth in bits */
    double up_tokens; /* bits available now (may go negative while a sender waits) */
    double up_stamp;  /* when up_tokens was last refilled */
    double down_free; /* when the modelled download side is next idle */
    pthread_mutex_t lock;
};

int sl_shaper_new(double bits_per_s, double rtt_s, size_t burst_bytes, sl_shaper **out)
{
    *out = NULL;
    if (!(rtt_s >= 0) || isinf(rtt_s) || isnan(bits_per_s))
        return sl_err(SL_EARG, "shaper: rtt %g s / bandwidth %g bit/s out of range", rtt_s,
                      bits_per_s);
    sl_shaper *s = calloc(1, sizeof *s);
    if (!s) return sl_err(SL_ENOMEM, "shaper: out of memory");
    s->bps = bits_per_s;
    s->rtt = rtt_s;
    s->burst = 8.0 * (double)(burst_bytes ? burst_bytes : SL_SHAPER_DEFAULT_BURST);
    s->up_tokens = s->burst;
    s->up_stamp = sl_now();
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    return SL_OK;
}

void sl_shaper_free(sl_shaper *s)
{
    if (!s) return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void sl_shaper_sleep_until(double t)
{
    sl_sleep_until(t);
}

void sl_shaper_send(sl_shaper *s, size_t nbytes)
{
    if (!s || s->bps <= 0 || nbytes == 0) return;
    /* Reserve the bits now (tokens may go negative) so concurrent senders queue up in order,
     * then sleep outside the lock until the debt is repaid. */
    pthread_mutex_lock(&s->lock);
    double now = sl_now();
    s->up_tokens += (now - s->up_stamp) * s->bps;
    if (s->up_tokens > s->burst) s->up_tokens = s->burst;
    s->up_stamp = now;
    s->up_tokens -= 8.0 * (double)nbytes;
    double wait = s->up_tokens < 0 ? -s->up_tokens / s->bps : 0;
    pthread_mutex_unlock(&s->lock);
    if (wait > 0) sl_shaper_sleep_until(now + wait);
}

double sl_shaper_recv_release(sl_shaper *s, size_t nbytes, double t_read)
{
    if (!s) return t_read;
    pthread_mutex_lock(&s->lock);
    double start = s->down_free > t_read ? s->down_free : t_read;
    double done = start + (s->bps > 0 ? 8.0 * (double)nbytes / s->bps : 0);
    s->down_free = done;
    pthread_mutex_unlock(&s->lock);
    return done + s->rtt;
}
