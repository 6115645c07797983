/* shaper.h: an in-process link model (token-bucket bandwidth + round-trip delay) for benches.
 *
 * `--bandwidth 10mbit --rtt 20ms` on one side of a connection, without root or tc:
 *  - Upload: sl_shaper_send() blocks the sender until the token bucket holds enough bits, as a
 *    real link's backpressure would. The bucket refills at `bits_per_s` and holds at most
 *    `burst_bytes` (so an idle link cannot bank unlimited credit).
 *  - Download and delay: sl_shaper_recv_release() does not block; it returns the time at which a
 *    frame read at `t_read` would have reached the application on the modelled link: the
 *    download bucket's finish time plus the whole round-trip delay, which is charged once per
 *    request/response exchange here, on the response. Callers hold the frame until then, so
 *    several pipelined requests overlap their delays as on a real link.
 * One shaper per modelled link; all functions are thread-safe.
 */
#ifndef SL_OFFLOADER_SHAPER_H
#define SL_OFFLOADER_SHAPER_H

#include <stddef.h>

typedef struct sl_shaper sl_shaper;

/* The default bucket depth: one Ethernet frame. A real bottleneck link sends even the first
 * packet at its rate; a deeper bucket would let every image that follows an idle gap skip
 * (depth * 8 / rate) of its transfer (13 ms for 16 KiB at 10 Mbit/s), which no cost model of
 * the link predicts. */
#define SL_SHAPER_DEFAULT_BURST 1514

/* A new shaper; bits_per_s <= 0 means unlimited bandwidth, rtt_s >= 0 is the added round trip.
 * burst_bytes 0 picks SL_SHAPER_DEFAULT_BURST. Returns SL_OK and *out (caller frees with sl_shaper_free), or
 * SL_EARG / SL_ENOMEM with *out = NULL. */
int sl_shaper_new(double bits_per_s, double rtt_s, size_t burst_bytes, sl_shaper **out);
void sl_shaper_free(sl_shaper *s);

/* Blocks until `nbytes` may leave on the upload side. NULL shaper: returns at once. */
void sl_shaper_send(sl_shaper *s, size_t nbytes);

/* Monotonic time (sl_now() clock) at which a frame of `nbytes` read at `t_read` is delivered.
 * NULL shaper: returns t_read. */
double sl_shaper_recv_release(sl_shaper *s, size_t nbytes, double t_read);

/* Sleeps until the monotonic time `t` (no-op if already past). */
void sl_shaper_sleep_until(double t);

#endif
