/* netcfg.h: the network between tiers and hosts: bandwidth and RTT per hop, from command-line
 * flags or from Scission's CSV (`source,destination,ping(ms),bandwidth(mbps)`).
 *
 * A CSV row names its two ends either by tier (`device`, `edge`, `cloud`) or by host (the
 * profile's host field, or the name given with `--edge NAME=FILE`), as Scission's
 * network_stats.csv does (`raspi4,vm2Core,66.7,1.6`: 66.7 ms ping, 1.6 Mbit/s). A link is the
 * same in both directions. Between two hosts the most specific row applies: host,host before
 * host,tier before tier,tier (docs/select.md, "Network").
 */
#ifndef SL_PREPROCESSOR_NETCFG_H
#define SL_PREPROCESSOR_NETCFG_H

typedef enum {
    SL_HOP_DEVICE_EDGE = 0,
    SL_HOP_EDGE_CLOUD = 1,
    SL_HOP_DEVICE_CLOUD = 2, /* the device sending straight to the cloud (the edge runs nothing) */
    SL_HOP_COUNT = 3
} sl_hop_id;

typedef struct sl_hop {
    int set;              /* 0 until given */
    double bandwidth_bps; /* bits per second, > 0 */
    double rtt_s;         /* round-trip time in seconds, >= 0 */
} sl_hop;

typedef struct sl_netcfg {
    sl_hop hop[SL_HOP_COUNT];
} sl_netcfg;

/* "device->edge", "edge->cloud" or "device->cloud"; static storage. */
const char *sl_hop_name(sl_hop_id hop);

/* One row of a network CSV: the two ends as written (a tier or a host name), the link, and the
 * line it came from. */
typedef struct sl_netlink {
    char a[64], b[64];
    sl_hop hop;
    int line;
} sl_netlink;

/* A network CSV as read, before its names are matched to hosts. */
typedef struct sl_netmap {
    sl_netlink *links;
    int n;
    char what[256]; /* the file, for messages */
} sl_netmap;

/* Parses a network CSV (Scission's columns: source, destination, ping in ms, bandwidth in
 * Mbit/s; an optional header row, blank lines and '#' comments are skipped) into *out (caller
 * frees with sl_netmap_free). Both ends must differ, and a pair of ends may have one row only
 * (in either order). `what` names the source in messages. Returns SL_OK or SL_EFORMAT naming
 * what:line and the field; on error *out is zeroed. Names are checked by sl_netmap_check. */
int sl_netmap_parse_csv(const char *text, const char *what, sl_netmap *out);

/* Reads the CSV file at `path` (see sl_netmap_parse_csv); SL_EIO if unreadable. */
int sl_netmap_read_csv(const char *path, sl_netmap *out);

/* Frees what m owns and zeroes it; NULL is a no-op. */
void sl_netmap_free(sl_netmap *m);

/* The hosts the names of a CSV may refer to: names[t][0..n[t]) per tier (0 device, 1 edge,
 * 2 cloud). Borrowed strings. */
typedef struct sl_host_names {
    const char *const *names[3];
    int n[3];
} sl_host_names;

/* Checks that every name in m is a tier name or one of `hosts` (with hosts NULL: tier names
 * only). Returns SL_OK or SL_ENOTFOUND naming file:line, the name and the hosts known. */
int sl_netmap_check(const sl_netmap *m, const sl_host_names *hosts);

/* The link between host `ha` of tier `ta` and host `hb` of tier `tb` (tiers 0 device, 1 edge,
 * 2 cloud; a host may be NULL: tier rows only): the host,host row, else a host,tier row, else
 * the tier,tier row. Returns SL_OK with *out set; SL_ENOTFOUND when no row applies (*out has
 * set = 0); SL_EFORMAT when two rows of the same rank apply (naming both lines). */
int sl_netmap_link(const sl_netmap *m, int ta, const char *ha, int tb, const char *hb,
                   sl_hop *out);

/* Parses a tier-named network CSV (rows device,edge / edge,cloud / device,cloud) into the hops of
 * `net` (hops found are set, others left alone). A name that is not a tier is an error ("unknown
 * tier"), as host names need the hosts' profiles (select does that, sl_netmap_link). Returns
 * SL_OK or SL_EFORMAT naming the line; on error `net` is unchanged. */
int sl_netcfg_parse_csv(const char *text, const char *what, sl_netcfg *net);

/* Reads the CSV file at `path` (see sl_netcfg_parse_csv); SL_EIO if unreadable. */
int sl_netcfg_read_csv(const char *path, sl_netcfg *net);

/* Checks that the device->edge hop (and the edge->cloud hop when `need_cloud`) is set.
 * Returns SL_OK or SL_ENOTFOUND naming the missing hop and `source` (a path or "flags"). */
int sl_netcfg_require(const sl_netcfg *net, int need_cloud, const char *source);

/* Seconds to move `bytes` over the hop (bytes * 8 / bandwidth), without the RTT. */
double sl_hop_transfer_s(const sl_hop *hop, double bytes);

#endif
