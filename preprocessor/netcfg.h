/* netcfg.h: the network between tiers (device -> edge, edge -> cloud): bandwidth and RTT per hop,
 * from command-line flags or from Scission's CSV (`source,destination,ping(ms),bandwidth(Mbps)`).
 */
#ifndef SL_PREPROCESSOR_NETCFG_H
#define SL_PREPROCESSOR_NETCFG_H

typedef enum { SL_HOP_DEVICE_EDGE = 0, SL_HOP_EDGE_CLOUD = 1, SL_HOP_COUNT = 2 } sl_hop_id;

typedef struct sl_hop {
    int set;              /* 0 until given */
    double bandwidth_bps; /* bits per second, > 0 */
    double rtt_s;         /* round-trip time in seconds, >= 0 */
} sl_hop;

typedef struct sl_netcfg {
    sl_hop hop[SL_HOP_COUNT];
} sl_netcfg;

/* "device->edge" or "edge->cloud"; static storage. */
const char *sl_hop_name(sl_hop_id hop);

/* Parses Scission's network CSV text into `net` (hops found are set, others left alone). Rows
 * are `source,destination,ping_ms,bandwidth_mbps`; tier names are device, edge and cloud in either
 * order per row; an optional header row, blank lines and '#' comments are skipped. `what` names the
 * source in messages. Returns SL_OK or SL_EFORMAT naming the line; on error `net` is unchanged. */
int sl_netcfg_parse_csv(const char *text, const char *what, sl_netcfg *net);

/* Reads the CSV file at `path` (see sl_netcfg_parse_csv); SL_EIO if unreadable. */
int sl_netcfg_read_csv(const char *path, sl_netcfg *net);

/* Checks that the device->edge hop (and the edge->cloud hop when `need_cloud`) is set.
 * Returns SL_OK or SL_ENOTFOUND naming the missing hop and `source` (a path or "flags"). */
int sl_netcfg_require(const sl_netcfg *net, int need_cloud, const char *source);

/* Seconds to move `bytes` over the hop (bytes * 8 / bandwidth), without the RTT. */
double sl_hop_transfer_s(const sl_hop *hop, double bytes);

#endif
