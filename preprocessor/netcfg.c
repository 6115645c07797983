/* netcfg.c: network hops from flags or Scission's CSV. */
#include "preprocessor/netcfg.h"

#include "common/fsutil.h"
#include "common/status.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *sl_hop_name(sl_hop_id hop)
{
    return hop == SL_HOP_DEVICE_EDGE ? "device->edge" : "edge->cloud";
}

double sl_hop_transfer_s(const sl_hop *hop, double bytes)
{
    return bytes * 8.0 / hop->bandwidth_bps;
}

/* Returns 0 device, 1 edge, 2 cloud, -1 unknown (case-insensitive). */
static int tier_of(const char *s)
{
    if (!strcasecmp(s, "device")) return 0;
    if (!strcasecmp(s, "edge")) return 1;
    if (!strcasecmp(s, "cloud")) return 2;
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

static int parse_num(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int sl_netcfg_parse_csv(const char *text, const char *what, sl_netcfg *net)
{
    sl_netcfg tmp = *net;
    char *copy = strdup(text);
    if (!copy) return sl_err(SL_ENOMEM, "%s: out of memory", what);
    int rc = SL_OK, lineno = 0, rows = 0;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && !rc;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *l = trim(line);
        if (!*l || *l == '#') continue;
        char *f[5];
        int n = 0;
        char *fs = NULL;
        for (char *t = strtok_r(l, ",", &fs); t && n < 5; t = strtok_r(NULL, ",", &fs))
            f[n++] = trim(t);
        double ping, mbps;
        if (n >= 3 && rows == 0 && parse_num(f[2], &ping) && tier_of(f[0]) < 0)
            continue; /* the header row */
        if (n != 4) {
            rc = sl_err(SL_EFORMAT,
                        "%s:%d: expected 4 fields source,destination,ping(ms),bandwidth(Mbps), "
                        "got %d",
                        what, lineno, n);
            break;
        }
        int a = tier_of(f[0]), b = tier_of(f[1]);
        if (a < 0 || b < 0) {
            rc = sl_err(SL_EFORMAT, "%s:%d: unknown tier '%s' (use device, edge or cloud)", what,
                        lineno, a < 0 ? f[0] : f[1]);
            break;
        }
        if (parse_num(f[2], &ping) || ping < 0) {
            rc = sl_err(SL_EFORMAT, "%s:%d: ping '%s' is not a number of milliseconds >= 0", what,
                        lineno, f[2]);
            break;
        }
        if (parse_num(f[3], &mbps) || mbps <= 0) {
            rc = sl_err(SL_EFORMAT, "%s:%d: bandwidth '%s' is not a positive number of Mbps", what,
                        lineno, f[3]);
            break;
        }
        rows++;
        int lo = a < b ? a : b, hi = a < b ? b : a;
        if (lo == hi || hi - lo != 1) {
            /* device->cloud has no place in the device -> edge -> cloud chain; say so rather than
             * ignoring it. */
            rc = sl_err(SL_EFORMAT, "%s:%d: hop %s,%s is not device-edge or edge-cloud", what,
                        lineno, f[0], f[1]);
            break;
        }
        sl_hop *h = &tmp.hop[lo == 0 ? SL_HOP_DEVICE_EDGE : SL_HOP_EDGE_CLOUD];
        h->set = 1;
        h->rtt_s = ping / 1000.0;
        h->bandwidth_bps = mbps * 1e6;
    }
    free(copy);
    if (!rc) *net = tmp;
    return rc;
}

int sl_netcfg_read_csv(const char *path, sl_netcfg *net)
{
    char *text;
    size_t len;
    int rc = sl_read_file(path, &text, &len);
    if (rc) return rc;
    rc = sl_netcfg_parse_csv(text, path, net);
    free(text);
    return rc;
}

int sl_netcfg_require(const sl_netcfg *net, int need_cloud, const char *source)
{
    if (!net->hop[SL_HOP_DEVICE_EDGE].set)
        return sl_err(SL_ENOTFOUND,
                      "%s: no device->edge hop (need a row device,edge,ping,bandwidth "
                      "or --bandwidth and --rtt)",
                      source);
    if (need_cloud && !net->hop[SL_HOP_EDGE_CLOUD].set)
        return sl_err(SL_ENOTFOUND,
                      "%s: no edge->cloud hop for the cloud profile (need a row "
                      "edge,cloud,ping,bandwidth or --cloud-bandwidth and --cloud-rtt)",
                      source);
    return SL_OK;
}
