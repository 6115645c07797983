/* select_run.c: one selection run (see select_run.h). */
#include "preprocessor/select_run.h"
#include "common/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Splits "NAME=FILE" (NAME without '/') into a new name (*name, caller frees; NULL without a
 * name) and the path. Returns the path, or NULL when out of memory. */
static const char *split_named(const char *arg, char **name)
{
    *name = NULL;
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || memchr(arg, '/', (size_t)(eq - arg))) return arg;
    *name = strndup(arg, (size_t)(eq - arg));
    return *name ? eq + 1 : NULL;
}

/* Reads the profile of `arg` ("FILE" or "NAME=FILE") and its host name (given, else the
 * profile's host field, else `fallback`). */
static int read_host(const char *arg, const char *fallback, sl_profile **p, char **name)
{
    const char *path = split_named(arg, name);
    if (!path) return sl_err(SL_ENOMEM, "out of memory");
    int rc = sl_profile_read(path, p);
    if (rc) return rc;
    if (!*name)
        *name = strdup((*p)->host && *(*p)->host ? (*p)->host : fallback);
    return *name ? SL_OK : sl_err(SL_ENOMEM, "out of memory");
}

/* Reads n candidates of one tier (`flag` names it in messages) into new arrays. */
static int read_tier(const char *flag, const char *const *args, int n, sl_profile ***profiles,
                     char ***names, sl_select_outcome *out)
{
    if (!(*profiles = calloc((size_t)n, sizeof **profiles)) ||
        !(*names = calloc((size_t)n, sizeof **names)))
        return sl_err(SL_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        char fallback[32];
        snprintf(fallback, sizeof fallback, "%s%d", flag + 2, i + 1);
        int rc = read_host(args[i], fallback, &(*profiles)[i], &(*names)[i]);
        if (rc) return rc;
        for (int k = 0; k < i; k++)
            if (!strcmp((*names)[k], (*names)[i])) {
                out->user_error = 1;
                return sl_err(SL_EARG,
                              "%s %s and %s %s are both host '%s': name them, %s NAME=FILE",
                              flag, args[k], flag, args[i], (*names)[i], flag);
            }
    }
    return SL_OK;
}

/* Whether the CSV names a host (a name that is not a tier). */
static int names_hosts(const sl_netmap *m)
{
    static const char *tiers[] = {"device", "edge", "cloud"};
    for (int i = 0; i < m->n; i++) {
        int a = 0, b = 0;
        for (int t = 0; t < 3; t++) {
            a |= !strcasecmp(m->links[i].a, tiers[t]);
            b |= !strcasecmp(m->links[i].b, tiers[t]);
        }
        if (!a || !b) return 1;
    }
    return 0;
}

/* One hop of one combination: the CSV's link (if any), then the flags of the hop. */
static int resolve_hop(const sl_select_request *rq, const sl_netmap *m, int h, int ta,
                       const char *ha, int tb, const char *hb, sl_hop *hop)
{
    memset(hop, 0, sizeof *hop);
    int rc = m ? sl_netmap_link(m, ta, ha, tb, hb, hop) : SL_ENOTFOUND;
    if (rc && rc != SL_ENOTFOUND) return rc;
    int bw = rq->bandwidth_bps[h] >= 0, rtt = rq->rtt_s[h] >= 0;
    if (bw) hop->bandwidth_bps = rq->bandwidth_bps[h];
    if (rtt) hop->rtt_s = rq->rtt_s[h];
    if (bw || rtt) hop->set = hop->set || (bw && rtt);
    return SL_OK;
}

/* The network of every (edge, cloud) combination into out->nets, from the CSV and the flags;
 * each must have its device->edge hop and, with clouds, its edge->cloud hop. */
static int load_network(const sl_select_request *rq, sl_select_outcome *out, int *show)
{
    sl_netmap m = {0};
    int rc = rq->network ? sl_netmap_read_csv(rq->network, &m) : SL_OK;
    if (rc) return rc;
    const int ne = out->n_edges, nc = out->n_clouds ? out->n_clouds : 1;
    const char *src = rq->network ? rq->network : "network flags";
    if (rq->network) {
        const char *dev[1] = {out->device_name};
        sl_host_names hn = {{dev, (const char *const *)out->edge_names,
                             (const char *const *)out->cloud_names},
                            {1, out->n_edges, out->n_clouds}};
        *show = names_hosts(&m);
        if ((rc = sl_netmap_check(&m, &hn))) goto out;
        /* Host names in the CSV must say which host they mean. */
        for (int t = 0; *show && t < 3; t++)
            for (int i = 0; i < hn.n[t]; i++)
                for (int u = t; u < 3; u++)
                    for (int k = u == t ? i + 1 : 0; k < hn.n[u]; k++)
                        if (!strcmp(hn.names[t][i], hn.names[u][k])) {
                            out->user_error = 1;
                            rc = sl_err(SL_EARG,
                                        "%s names hosts, but two profiles are both host '%s': "
                                        "name them (--edge NAME=FILE, likewise --device, --cloud)",
                                        src, hn.names[t][i]);
                            goto out;
                        }
    }
    if (!(out->nets = calloc((size_t)(ne * nc), sizeof *out->nets))) {
        rc = sl_err(SL_ENOMEM, "out of memory");
        goto out;
    }
    const sl_netmap *mp = rq->network ? &m : NULL;
    for (int e = 0; e < ne; e++)
        for (int c = 0; c < nc; c++) {
            sl_netcfg *n = &out->nets[e * nc + c];
            const char *dn = out->device_name, *en = out->edge_names[e],
                       *cn = out->n_clouds ? out->cloud_names[c] : NULL;
            if ((rc = resolve_hop(rq, mp, SL_HOP_DEVICE_EDGE, 0, dn, 1, en,
                                  &n->hop[SL_HOP_DEVICE_EDGE])) ||
                (cn && (rc = resolve_hop(rq, mp, SL_HOP_EDGE_CLOUD, 1, en, 2, cn,
                                         &n->hop[SL_HOP_EDGE_CLOUD]))) ||
                (cn && (rc = resolve_hop(rq, mp, SL_HOP_DEVICE_CLOUD, 0, dn, 2, cn,
                                         &n->hop[SL_HOP_DEVICE_CLOUD]))))
                goto out;
            if (ne == 1 && nc == 1 && !*show) {
                if ((rc = sl_netcfg_require(n, cn != NULL, src))) goto out;
                continue;
            }
            int h = !n->hop[SL_HOP_DEVICE_EDGE].set ? SL_HOP_DEVICE_EDGE
                    : cn && !n->hop[SL_HOP_EDGE_CLOUD].set ? SL_HOP_EDGE_CLOUD
                                                           : -1;
            if (h >= 0) {
                const char *a = h ? en : dn, *b = h ? cn : en;
                rc = sl_err(SL_ENOTFOUND,
                            "%s: no link %s,%s (%s): add a row %s,%s,PING_MS,MBPS or %s,PING_MS,"
                            "MBPS",
                            src, a, b, sl_hop_name(h), a, b,
                            h ? "edge,cloud" : "device,edge");
                goto out;
            }
        }
out:
    sl_netmap_free(&m);
    return rc;
}

/* The DADS partitions on every edge candidate, keeping the best of each mode. */
static int run_dads(const sl_select_request *rq, sl_select_outcome *out)
{
    const int nc = out->n_clouds ? out->n_clouds : 1;
    for (int e = 0; e < out->n_edges; e++) {
        const sl_hop *hop = &out->nets[e * nc].hop[SL_HOP_DEVICE_EDGE];
        sl_dag g;
        sl_dads_result d = {0}, t = {0};
        int rc = sl_dag_from_profiles(out->device, out->edges[e], hop, rq->constraints, &g);
        if (!rc && rq->dads) rc = sl_dads_latency(&g, hop->rtt_s, &d);
        if (!rc && rq->throughput) rc = sl_dads_throughput(&g, hop->rtt_s, &t);
        d.edge_host = t.edge_host = e;
        if (rc) {
            sl_dag_free(&g);
            sl_dads_result_free(&d);
            sl_dads_result_free(&t);
            return rc;
        }
        if (rq->dads && (e == 0 || d.latency_s < out->dads.latency_s)) {
            sl_dads_result_free(&out->dads);
            out->dads = d;
        } else {
            sl_dads_result_free(&d);
        }
        if (rq->throughput && (e == 0 || t.bottleneck_s < out->throughput.bottleneck_s)) {
            sl_dads_result_free(&out->throughput);
            out->throughput = t;
        } else {
            sl_dads_result_free(&t);
        }
        if (e == 0) {
            out->dag = g;
        } else {
            sl_dag_free(&g);
        }
    }
    return SL_OK;
}

/* The three-tier DADS partition on every (edge, cloud) pair, keeping the fastest. */
static int run_dads3(const sl_select_request *rq, sl_select_outcome *out)
{
    const int nc = out->n_clouds;
    if (!nc) {
        out->user_error = 1;
        return sl_err(SL_EARG, "the three-tier DADS partition needs a --cloud profile");
    }
    for (int e = 0; e < out->n_edges; e++)
        for (int c = 0; c < nc; c++) {
            const sl_netcfg *n = &out->nets[e * nc + c];
            sl_dag3 d;
            sl_dads3_result r;
            int rc = sl_dag3_from_profiles(out->device, out->edges[e], out->clouds[c],
                                           &n->hop[SL_HOP_DEVICE_EDGE],
                                           &n->hop[SL_HOP_EDGE_CLOUD], rq->constraints, &d);
            if (rc) return rc;
            rc = sl_dads3_latency(&d, n->hop[SL_HOP_DEVICE_EDGE].rtt_s,
                                  n->hop[SL_HOP_EDGE_CLOUD].rtt_s, &r);
            sl_dag3_free(&d);
            if (rc) return rc;
            if (out->dads3.tier && r.latency_s >= out->dads3.latency_s) {
                sl_dads3_result_free(&r);
                continue;
            }
            sl_dads3_result_free(&out->dads3);
            out->dads3 = r;
            out->dads3_edge = e;
            out->dads3_cloud = c;
        }
    return SL_OK;
}

int sl_select_execute(const sl_select_request *rq, sl_select_outcome *out)
{
    memset(out, 0, sizeof *out);
    int rc = read_host(rq->device, "device", &out->device, &out->device_name);
    if (rc) return rc;
    const char *one_edge[1] = {rq->edge}, *one_cloud[1] = {rq->cloud};
    out->n_edges = rq->n_edges ? rq->n_edges : 1;
    out->n_clouds = rq->n_clouds ? rq->n_clouds : rq->cloud != NULL;
    if ((rc = read_tier("--edge", rq->n_edges ? rq->edges : one_edge, out->n_edges, &out->edges,
                        &out->edge_names, out)) ||
        (out->n_clouds && (rc = read_tier("--cloud", rq->n_clouds ? rq->clouds : one_cloud,
                                          out->n_clouds, &out->clouds, &out->cloud_names, out))))
        return rc;
    out->edge = out->edges[0];
    out->cloud = out->n_clouds ? out->clouds[0] : NULL;
    int show = 0;
    if ((rc = load_network(rq, out, &show))) return rc;
    sl_select_input *in = &out->in;
    in->device = out->device;
    in->edge = out->edge;
    in->cloud = out->cloud;
    in->net = out->nets[0];
    in->constraints = rq->constraints;
    in->names[SL_TIER_DEVICE] = out->device_name;
    in->names[SL_TIER_EDGE] = out->edge_names[0];
    in->names[SL_TIER_CLOUD] = out->cloud ? out->cloud_names[0] : NULL;
    int direct = 0;
    for (int i = 0; i < out->n_edges * (out->n_clouds ? out->n_clouds : 1); i++)
        direct |= out->cloud && out->nets[i].hop[SL_HOP_DEVICE_CLOUD].set;
    in->show_hosts = show || direct || out->n_edges > 1 || out->n_clouds > 1;
    if (out->n_edges > 1 || out->n_clouds > 1) {
        out->hosts = (sl_hosts){out->device_name,
                                (const sl_profile *const *)out->edges,
                                (const char *const *)out->edge_names,
                                out->n_edges,
                                (const sl_profile *const *)out->clouds,
                                (const char *const *)out->cloud_names,
                                out->n_clouds,
                                out->nets};
        in->hosts = &out->hosts;
    }
    if ((rc = sl_select_check(in))) return rc;
    const char *dev[1] = {out->device_name};
    sl_host_names hn = {{dev, (const char *const *)out->edge_names,
                         (const char *const *)out->cloud_names},
                        {1, out->n_edges, out->n_clouds}};
    if ((rc = sl_constraints_resolve(rq->constraints, out->device, out->cloud != NULL)) ||
        (rq->constraints && (rc = sl_constraints_check_hosts(rq->constraints, &hn)))) {
        out->user_error = 1;
        return rc;
    }
    if ((rc = sl_select_run(in, &out->sel))) return rc; /* SL_ECONSTRAINT keeps sel */
    if ((rq->dads || rq->throughput) && (rc = run_dads(rq, out))) return rc;
    return rq->dads_cloud ? run_dads3(rq, out) : SL_OK;
}

void sl_select_outcome_free(sl_select_outcome *out)
{
    if (!out) return;
    sl_dag_free(&out->dag);
    sl_dads_result_free(&out->dads);
    sl_dads_result_free(&out->throughput);
    sl_dads3_result_free(&out->dads3);
    sl_selection_free(&out->sel);
    sl_profile_free(out->device);
    for (int i = 0; out->edges && i < out->n_edges; i++)
        sl_profile_free(out->edges[i]);
    for (int i = 0; out->clouds && i < out->n_clouds; i++)
        sl_profile_free(out->clouds[i]);
    for (int i = 0; out->edge_names && i < out->n_edges; i++)
        free(out->edge_names[i]);
    for (int i = 0; out->cloud_names && i < out->n_clouds; i++)
        free(out->cloud_names[i]);
    free(out->edges);
    free(out->clouds);
    free(out->edge_names);
    free(out->cloud_names);
    free(out->device_name);
    free(out->nets);
    memset(out, 0, sizeof *out);
}
