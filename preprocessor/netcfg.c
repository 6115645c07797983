/* netcfg.c: network hops from flags or Scission's CSV, by tier or by host. */
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

static const char *const tier_names[3] = {"device", "edge", "cloud"};

const char *sl_hop_name(sl_hop_id hop)
{
    return hop == SL_HOP_DEVICE_EDGE  ? "device->edge"
           : hop == SL_HOP_EDGE_CLOUD ? "edge->cloud"
                                      : "device->cloud";
}

double sl_hop_transfer_s(const sl_hop *hop, double bytes)
{
    return bytes * 8.0 / hop->bandwidth_bps;
}

/* Returns 0 device, 1 edge, 2 cloud, -1 when s is not a tier name (case-insensitive). */
static int tier_of(const char *s)
{
    for (int t = 0; t < 3; t++)
        if (!strcasecmp(s, tier_names[t])) return t;
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

/* Whether two row ends name the same thing: tier names case-insensitively, hosts exactly. */
static int same_name(const char *x, const char *y)
{
    return tier_of(x) >= 0 ? !strcasecmp(x, y) : !strcmp(x, y);
}

void sl_netmap_free(sl_netmap *m)
{
    if (!m) return;
    free(m->links);
    memset(m, 0, sizeof *m);
}

/* Parses one data row (fields f[0..3]) at `lineno` into *l. */
static int parse_row(char **f, const char *what, int lineno, sl_netlink *l)
{
    double ping, mbps;
    const char *col[2] = {"source", "destination"};
    for (int i = 0; i < 2; i++) {
        if (!*f[i]) return sl_err(SL_EFORMAT, "%s:%d: %s: empty", what, lineno, col[i]);
        if (strlen(f[i]) >= sizeof l->a)
            return sl_err(SL_EFORMAT, "%s:%d: %s '%.20s...': longer than %zu characters", what,
                          lineno, col[i], f[i], sizeof l->a - 1);
    }
    if (same_name(f[0], f[1]))
        return sl_err(SL_EFORMAT, "%s:%d: source and destination are both '%s'", what, lineno,
                      f[0]);
    if (parse_num(f[2], &ping) || ping < 0)
        return sl_err(SL_EFORMAT,
                      "%s:%d: ping(ms) field: ping '%s' is not a number of milliseconds >= 0",
                      what, lineno, f[2]);
    if (parse_num(f[3], &mbps) || mbps <= 0)
        return sl_err(SL_EFORMAT,
                      "%s:%d: bandwidth(mbps) field: bandwidth '%s' is not a positive number "
                      "of Mbit/s",
                      what, lineno, f[3]);
    snprintf(l->a, sizeof l->a, "%s", f[0]);
    snprintf(l->b, sizeof l->b, "%s", f[1]);
    l->hop = (sl_hop){1, mbps * 1e6, ping / 1000.0};
    l->line = lineno;
    return SL_OK;
}

int sl_netmap_parse_csv(const char *text, const char *what, sl_netmap *out)
{
    memset(out, 0, sizeof *out);
    sl_netmap m = {0};
    snprintf(m.what, sizeof m.what, "%s", what);
    char *copy = strdup(text);
    if (!copy) return sl_err(SL_ENOMEM, "%s: out of memory", what);
    int rc = SL_OK, lineno = 0, cap = 0;
    /* Lines are split by hand: strtok would merge empty lines and shift the line numbers. */
    for (char *line = copy, *next; line && !rc; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        char *l = trim(line);
        if (!*l || *l == '#') continue;
        char *f[5];
        int n = 0;
        for (char *p = l; p && n < 5;) {
            char *comma = strchr(p, ',');
            if (comma) *comma = 0;
            f[n++] = trim(p);
            p = comma ? comma + 1 : NULL;
        }
        double x;
        /* The header row: the first row, whose ping and bandwidth are not numbers. */
        if (n == 4 && m.n == 0 && parse_num(f[2], &x) && parse_num(f[3], &x) &&
            tier_of(f[0]) < 0)
            continue;
        if (n != 4) {
            rc = sl_err(SL_EFORMAT,
                        "%s:%d: expected 4 fields source,destination,ping(ms),bandwidth(mbps), "
                        "got %s%d",
                        what, lineno, n == 5 ? "more than " : "", n == 5 ? 4 : n);
            break;
        }
        if (m.n == cap) {
            cap = cap ? 2 * cap : 8;
            sl_netlink *links = realloc(m.links, (size_t)cap * sizeof *links);
            if (!links) {
                rc = sl_err(SL_ENOMEM, "%s: out of memory", what);
                break;
            }
            m.links = links;
        }
        sl_netlink *lk = &m.links[m.n];
        if ((rc = parse_row(f, what, lineno, lk))) break;
        for (int i = 0; i < m.n; i++) {
            const sl_netlink *o = &m.links[i];
            if ((same_name(o->a, lk->a) && same_name(o->b, lk->b)) ||
                (same_name(o->a, lk->b) && same_name(o->b, lk->a))) {
                rc = sl_err(SL_EFORMAT,
                            "%s:%d: a second row for the link %s,%s (line %d has it; a link is the "
                            "same both ways)",
                            what, lineno, lk->a, lk->b, o->line);
                break;
            }
        }
        if (!rc) m.n++;
    }
    free(copy);
    if (rc) {
        sl_netmap_free(&m);
        return rc;
    }
    *out = m;
    return SL_OK;
}

int sl_netmap_read_csv(const char *path, sl_netmap *out)
{
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    int rc = sl_read_file(path, &text, &len);
    if (rc) return rc;
    rc = sl_netmap_parse_csv(text, path, out);
    free(text);
    return rc;
}

/* Whether `name` is a tier name or one of the hosts. */
static int known_name(const char *name, const sl_host_names *h)
{
    if (tier_of(name) >= 0) return 1;
    for (int t = 0; h && t < 3; t++)
        for (int i = 0; i < h->n[t]; i++)
            if (!strcmp(h->names[t][i], name)) return 1;
    return 0;
}

int sl_netmap_check(const sl_netmap *m, const sl_host_names *hosts)
{
    for (int i = 0; i < m->n; i++) {
        const sl_netlink *l = &m->links[i];
        const char *bad = !known_name(l->a, hosts) ? l->a : !known_name(l->b, hosts) ? l->b : NULL;
        if (!bad) continue;
        if (!hosts)
            return sl_err(SL_ENOTFOUND, "%s:%d: unknown tier '%s' (use device, edge or cloud)",
                          m->what, l->line, bad);
        char known[512];
        size_t len = 0;
        known[0] = 0;
        for (int t = 0; t < 3 && len < sizeof known; t++)
            for (int k = 0; k < hosts->n[t] && len < sizeof known; k++)
                len += (size_t)snprintf(known + len, sizeof known - len, "%s%s (%s)",
                                        len ? ", " : "", hosts->names[t][k], tier_names[t]);
        return sl_err(SL_ENOTFOUND,
                      "%s:%d: unknown host '%s': no profile has that name (hosts: %s; or a tier: "
                      "device, edge, cloud)",
                      m->what, l->line, bad, known);
    }
    return SL_OK;
}

/* How specifically `name` names host h of tier t: 2 by host name, 1 by tier name, 0 not. */
static int match(const char *name, int t, const char *h)
{
    if (h && !strcmp(name, h)) return 2;
    return !strcasecmp(name, tier_names[t]) ? 1 : 0;
}

int sl_netmap_link(const sl_netmap *m, int ta, const char *ha, int tb, const char *hb,
                   sl_hop *out)
{
    memset(out, 0, sizeof *out);
    int best = 0, best_i = -1;
    for (int i = 0; i < m->n; i++) {
        const sl_netlink *l = &m->links[i];
        int s1 = match(l->a, ta, ha) * match(l->b, tb, hb);
        int s2 = match(l->a, tb, hb) * match(l->b, ta, ha);
        int s = s1 > s2 ? s1 : s2; /* 4 host,host; 2 host,tier; 1 tier,tier */
        if (!s || s < best) continue;
        if (s == best)
            return sl_err(SL_EFORMAT,
                          "%s: lines %d and %d both give the link %s->%s: add a row %s,%s,PING,BW",
                          m->what, m->links[best_i].line, l->line, ha ? ha : tier_names[ta],
                          hb ? hb : tier_names[tb], ha ? ha : tier_names[ta],
                          hb ? hb : tier_names[tb]);
        best = s;
        best_i = i;
    }
    if (best_i < 0) return SL_ENOTFOUND;
    *out = m->links[best_i].hop;
    return SL_OK;
}

/* The tier hops of a parsed map (rc: the parse's status) into *net; frees the map. */
static int tier_hops(sl_netmap *m, int rc, sl_netcfg *net)
{
    if (!rc && sl_netmap_check(m, NULL)) rc = SL_EFORMAT;
    static const int ends[SL_HOP_COUNT][2] = {{0, 1}, {1, 2}, {0, 2}};
    for (int h = 0; !rc && h < SL_HOP_COUNT; h++) {
        sl_hop hop;
        if (sl_netmap_link(m, ends[h][0], NULL, ends[h][1], NULL, &hop) == SL_OK) net->hop[h] = hop;
    }
    sl_netmap_free(m);
    return rc;
}

int sl_netcfg_parse_csv(const char *text, const char *what, sl_netcfg *net)
{
    sl_netmap m;
    return tier_hops(&m, sl_netmap_parse_csv(text, what, &m), net);
}

int sl_netcfg_read_csv(const char *path, sl_netcfg *net)
{
    sl_netmap m;
    return tier_hops(&m, sl_netmap_read_csv(path, &m), net);
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
