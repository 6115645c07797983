/* probe.h: measuring the link to a live edge — round-trip time and upload bandwidth — over the
 * same authenticated protocol the device uses (`sl-offload probe`).
 *
 * RTT: the median of `pings` PING/PONG exchanges (4-byte payloads). Upload: INFER frames of
 * incompressible uint8 data (zstd off) for a pair id no edge serves (all zeros), which the edge
 * reads whole and answers with a short ERROR UNKNOWN_PAIR — so a request costs the upload of its
 * bytes plus one round trip and no model run (docs/protocol.md). A small and a large size are
 * each sent `repeats` times; the bandwidth is the size difference over the difference of the
 * median times, which cancels the round trip and every fixed per-request cost. The large size is
 * chosen from a first estimate so that one transfer takes about 0.4 s (64 KiB .. 32 MiB). The
 * result is the rate the application's bytes get through (TCP/IP headers excluded), which is
 * what select's bandwidth means.
 */
#ifndef SL_OFFLOADER_PROBE_H
#define SL_OFFLOADER_PROBE_H

#include <stddef.h>

typedef struct sl_probe_opts {
    const char *edge;       /* HOST:PORT, required */
    const char *token_file; /* the shared token, required */
    int pings;              /* RTT samples, >= 1 */
    int repeats;            /* uploads per size, >= 1 */
} sl_probe_opts;

typedef struct sl_probe_result {
    double rtt_s;           /* median PING round trip */
    double bandwidth_bps;   /* upload, application bytes */
    size_t small_bytes, large_bytes;
    double small_s, large_s; /* median request times of the two sizes */
} sl_probe_result;

/* Connects, authenticates and measures. Returns SL_OK with *r filled, or an error naming the
 * edge and the step (connect, authentication, an answer that is not the expected refusal). */
int sl_probe_run(const sl_probe_opts *o, sl_probe_result *r);

/* The network CSV select reads (Scission's format: source,destination,ping(ms),bandwidth(Mbps))
 * with one device->edge row, as a new string (caller frees), NULL when out of memory. */
char *sl_probe_csv(const sl_probe_result *r);

#endif
