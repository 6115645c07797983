/* select.c: enumerating, costing and ranking slice plans (ScissionTL / Scission cost model). */
#include "preprocessor/select.h"

#include "common/cli.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/status.h"

#include <cjson/cJSON.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sl_profile *tier_profile(const sl_select_input *in, int tier)
{
    return tier == SL_TIER_DEVICE ? in->device : tier == SL_TIER_EDGE ? in->edge : in->cloud;
}

/* The input as seen by a plan on edge e and cloud c (-1: unused, the first stands in). */
static void view_at(const sl_select_input *in, int e, int c, sl_select_input *v)
{
    *v = *in;
    const sl_hosts *h = in->hosts;
    if (!h) return;
    e = e >= 0 ? e : 0;
    c = c >= 0 ? c : 0;
    v->hosts = NULL;
    v->edge = h->edges[e];
    v->cloud = h->n_clouds ? h->clouds[c] : NULL;
    v->net = h->nets[e * (h->n_clouds ? h->n_clouds : 1) + c];
    v->names[SL_TIER_DEVICE] = h->device;
    v->names[SL_TIER_EDGE] = h->edge_names[e];
    v->names[SL_TIER_CLOUD] = h->n_clouds ? h->cloud_names[c] : NULL;
}

void sl_select_view(const sl_select_input *in, const sl_plan *p, sl_select_input *view)
{
    view_at(in, p->edge_host, p->cloud_host, view);
}

/* Time of blocks from..to-1 on a tier run as one range: the prefix to `to` on the device (which
 * always starts at the input), the suffix from `from` on the last tier, and the difference of
 * suffixes on an edge that hands on to the cloud. */
static double span(const sl_select_input *in, int tier, int from, int to)
{
    const sl_profile *p = tier_profile(in, tier);
    const int k = in->device->n_blocks;
    if (from >= to) return 0;
    if (tier == SL_TIER_DEVICE) return sl_profile_prefix_s(p, to);
    double t = sl_profile_suffix_s(p, from) - (to < k ? sl_profile_suffix_s(p, to) : 0);
    return t > 0 ? t : 0;
}

/* Where the TL decoder of a plan runs: the tier that receives the encoded tensor and runs the
 * next block. */
static sl_tier decode_tier(const sl_select_input *in, const sl_plan *p)
{
    return in->cloud && p->cut2 == p->cut ? SL_TIER_CLOUD : SL_TIER_EDGE;
}

void sl_plan_placement(const sl_select_input *in, const sl_plan *p, sl_placement *pl)
{
    sl_select_input v;
    sl_select_view(in, p, &v);
    const int k = v.device->n_blocks;
    memset(pl, 0, sizeof *pl);
    pl->cut = p->cut;
    pl->cut2 = p->cut2;
    pl->n_blocks = k;
    pl->tl_cut = p->tl >= 0 ? p->cut : -1;
    pl->upload_bytes = p->upload_bytes;
    pl->tier_s[SL_TIER_DEVICE] = p->load_s + p->device_s + p->tl_enc_s + p->wire_enc_s;
    pl->tier_s[SL_TIER_EDGE] = p->edge_s;
    pl->tier_s[SL_TIER_CLOUD] = p->cloud_s;
    pl->tier_s[decode_tier(&v, p)] += p->tl_dec_s + p->wire_dec_s;
    pl->total_s = p->total_s;
    pl->host[SL_TIER_DEVICE] = v.names[SL_TIER_DEVICE];
    pl->host[SL_TIER_EDGE] = p->cut < k && !p->direct ? v.names[SL_TIER_EDGE] : NULL;
    pl->host[SL_TIER_CLOUD] = v.cloud && p->cut < k && p->cut2 < k ? v.names[SL_TIER_CLOUD] : NULL;
}

/* Costs plan (j, j2, tl) on the hosts of `in` (a view: one edge, one cloud); `direct` sends
 * from the device straight to the cloud (j2 == j). */
static void cost(const sl_select_input *in, int j, int j2, int tl, int direct, sl_plan *p)
{
    const int k = in->device->n_blocks;
    memset(p, 0, sizeof *p);
    p->cut = j;
    p->cut2 = in->cloud ? j2 : -1;
    p->tl = tl;
    p->direct = direct;
    p->device_s = span(in, SL_TIER_DEVICE, 0, j);
    p->load_s = j == 0 ? in->device->raw_load_s : in->device->load_s;
    if (j < k) {
        const sl_prof_cut *dc = &in->device->cuts[j];
        sl_prof_wire w = sl_profile_wire(in->device, j, tl);
        double bytes = (double)w.bytes;
        const sl_hop *h = &in->net.hop[direct ? SL_HOP_DEVICE_CLOUD : SL_HOP_DEVICE_EDGE];
        p->upload_bytes = bytes;
        p->wire_enc_s = w.enc_s;
        p->tl_enc_s = tl >= 0 ? dc->tl[tl].enc_s : 0;
        p->serialise_s = bytes / in->device->serialise_bytes_per_s;
        p->rtt_s = h->rtt_s;
        p->transfer_s = sl_hop_transfer_s(h, bytes);
        int end = in->cloud ? j2 : k;
        p->edge_s = span(in, SL_TIER_EDGE, j, end);
        const sl_profile *rx = tier_profile(in, decode_tier(in, p));
        if (tl >= 0) p->tl_dec_s = rx->cuts[j].tl[tl].dec_s;
        p->wire_dec_s = sl_profile_wire(rx, j, tl).dec_s;
        if (in->cloud && j2 < k && !direct) {
            const sl_hop *h2 = &in->net.hop[SL_HOP_EDGE_CLOUD];
            double bytes2 = j2 == j ? bytes : (double)sl_profile_wire(in->edge, j2, -1).bytes;
            p->cloud_bytes = bytes2;
            p->serialise2_s = bytes2 / in->edge->serialise_bytes_per_s;
            p->rtt2_s = h2->rtt_s;
            p->transfer2_s = sl_hop_transfer_s(h2, bytes2);
        }
        if (in->cloud && j2 < k) p->cloud_s = span(in, SL_TIER_CLOUD, j2, k);
    }
    p->total_s = p->load_s + p->device_s + p->tl_enc_s + p->wire_enc_s + p->serialise_s +
                 p->rtt_s + p->transfer_s + p->wire_dec_s + p->tl_dec_s + p->edge_s +
                 p->serialise2_s + p->rtt2_s + p->transfer2_s + p->cloud_s;
    sl_placement pl;
    sl_plan_placement(in, p, &pl);
    p->violated = sl_constraints_first_violated(in->constraints, &pl);
}

/* Costs the plan on edge e / cloud c (-1 where unused) into *p and sets its hosts. */
static void cost_on(const sl_select_input *in, int e, int c, int direct, int j, int j2, int tl,
                    sl_plan *p)
{
    sl_select_input v;
    view_at(in, e, c, &v);
    cost(&v, j, j2, tl, direct, p);
    p->edge_host = e;
    p->cloud_host = c;
}

static int same_model(const sl_profile *a, const char *an, const sl_profile *b, const char *bn)
{
    if (strcmp(a->graph_hash, b->graph_hash))
        return sl_err(SL_EFORMAT,
                      "%s profile (model %s) and %s profile (model %s) describe different models: "
                      "graph_hash %.12s... vs %.12s...",
                      an, a->model, bn, b->model, a->graph_hash, b->graph_hash);
    if (a->n_nodes != b->n_nodes || a->n_cuts != b->n_cuts)
        return sl_err(SL_EFORMAT,
                      "%s and %s profiles: same graph_hash but %d/%d nodes and %d/%d "
                      "cuts",
                      an, bn, a->n_nodes, b->n_nodes, a->n_cuts, b->n_cuts);
    if (a->batch != b->batch)
        return sl_err(SL_EFORMAT,
                      "%s profile has batch %d, %s profile batch %d: profile both "
                      "with the same --batch",
                      an, a->batch, bn, b->batch);
    for (int i = 0; i < a->n_cuts; i++) {
        const sl_prof_cut *x = &a->cuts[i], *y = &b->cuts[i];
        if (strcmp(x->tensor, y->tensor) || x->bytes != y->bytes)
            return sl_err(SL_EFORMAT, "%s and %s profiles: cuts[%d] differs (%s vs %s)", an, bn, i,
                          x->tensor, y->tensor);
        if (x->n_tl != y->n_tl)
            return sl_err(SL_EFORMAT,
                          "%s and %s profiles: cuts[%d] (%s) has %d vs %d TL "
                          "configurations: profile both with the same TLs",
                          an, bn, i, x->tensor, x->n_tl, y->n_tl);
        for (int t = 0; t < x->n_tl; t++)
            if (strcmp(x->tl[t].config, y->tl[t].config) || x->tl[t].bytes != y->tl[t].bytes)
                return sl_err(SL_EFORMAT, "%s and %s profiles: cuts[%d].tl[%d] differs (%s vs %s)",
                              an, bn, i, t, x->tl[t].config, y->tl[t].config);
    }
    return SL_OK;
}

int sl_select_check(const sl_select_input *in)
{
    const sl_hosts *h = in->hosts;
    if (!h) {
        int rc = same_model(in->device, "device", in->edge, "edge");
        if (!rc && in->cloud) rc = same_model(in->device, "device", in->cloud, "cloud");
        return rc;
    }
    char what[96];
    for (int i = 0; i < h->n_edges + h->n_clouds; i++) {
        int e = i < h->n_edges;
        snprintf(what, sizeof what, "%s '%s'", e ? "edge" : "cloud",
                 e ? h->edge_names[i] : h->cloud_names[i - h->n_edges]);
        int rc = same_model(in->device, "device", e ? h->edges[i] : h->clouds[i - h->n_edges],
                            what);
        if (rc) return rc;
    }
    return SL_OK;
}

int sl_select_cost_on(const sl_select_input *in, int edge_host, int cloud_host, int direct, int cut,
                      int cut2, int tl, sl_plan *out)
{
    const int k = in->device->n_blocks;
    const int ne = in->hosts ? in->hosts->n_edges : 1;
    const int nc = in->hosts ? in->hosts->n_clouds : in->cloud != NULL;
    if (cut < 0 || cut > k) return sl_err(SL_EARG, "cut %d: out of range 0..%d", cut, k);
    if (in->cloud && (cut2 < cut || cut2 > k))
        return sl_err(SL_EARG, "cut2 %d: out of range %d..%d", cut2, cut, k);
    if (in->cloud && cut == k && cut2 != k)
        return sl_err(SL_EARG, "cut2 %d: a local-only plan sends nothing on", cut2);
    if (tl >= 0 && (cut == 0 || cut == k || tl >= in->device->cuts[cut].n_tl))
        return sl_err(SL_EARG, "cut %d has no TL configuration %d", cut, tl);
    if (edge_host < 0 || edge_host >= ne || cloud_host < 0 || (nc && cloud_host >= nc) ||
        (!nc && cloud_host))
        return sl_err(SL_EARG, "host %d/%d: out of range (%d edges, %d clouds)", edge_host,
                      cloud_host, ne, nc);
    sl_select_input v;
    view_at(in, edge_host, cloud_host, &v);
    if (direct && (!v.cloud || cut2 != cut || cut == k || !v.net.hop[SL_HOP_DEVICE_CLOUD].set))
        return sl_err(SL_EARG,
                      "a direct plan needs a cloud, cut2 equal to cut before the output, and a "
                      "device->cloud link");
    int used_edge = cut < k && !direct, used_cloud = v.cloud && cut < k && cut2 < k;
    cost_on(in, used_edge ? edge_host : -1, used_cloud ? cloud_host : -1, direct, cut, cut2, tl,
            out);
    return SL_OK;
}

int sl_select_cost(const sl_select_input *in, int cut, int cut2, int tl, sl_plan *out)
{
    return sl_select_cost_on(in, 0, 0, 0, cut, cut2, tl, out);
}

static int plan_cmp(const void *a, const void *b)
{
    const sl_plan *x = a, *y = b;
    int ax = x->violated < 0, ay = y->violated < 0;
    if (ax != ay) return ay - ax;
    if (x->total_s != y->total_s) return x->total_s < y->total_s ? -1 : 1;
    if (x->upload_bytes != y->upload_bytes) return x->upload_bytes < y->upload_bytes ? -1 : 1;
    if (x->cut != y->cut) return x->cut - y->cut;
    if (x->cut2 != y->cut2) return x->cut2 - y->cut2;
    if (x->tl != y->tl) return x->tl - y->tl;
    if (x->direct != y->direct) return x->direct - y->direct;
    if (x->edge_host != y->edge_host) return x->edge_host - y->edge_host;
    return x->cloud_host - y->cloud_host;
}

/* The message when nothing is allowed: how many plans each criterion rules out on its own. */
static int explain_none(const sl_select_input *in, const sl_selection *s)
{
    char msg[2048];
    size_t len = (size_t)snprintf(msg, sizeof msg,
                                  "no plan satisfies the constraints (%d plans "
                                  "considered):",
                                  s->n_plans);
    for (int i = 0; i < s->n_criteria && len < sizeof msg; i++)
        len += (size_t)snprintf(msg + len, sizeof msg - len, "%s '%s' rules out %d", i ? ";" : "",
                                in->constraints->items[i].text, s->excluded[i]);
    return sl_err(SL_ECONSTRAINT, "%s", msg);
}

/* Whether cloud c has a device->cloud link (direct plans to it). */
static int has_direct(const sl_select_input *in, int c)
{
    sl_select_input v;
    view_at(in, 0, c, &v);
    return v.cloud && v.net.hop[SL_HOP_DEVICE_CLOUD].set;
}

/* Costs one enumerated plan into the next slot of s and counts what each criterion excludes. */
static void add_plan(const sl_select_input *in, sl_selection *s, int e, int c, int direct, int j,
                     int j2, int tl)
{
    sl_plan *p = &s->plans[s->n_plans++];
    cost_on(in, e, c, direct, j, j2, tl, p);
    if (p->violated < 0) {
        s->n_allowed++;
        return;
    }
    sl_placement pl;
    sl_plan_placement(in, p, &pl);
    for (int i = 0; i < s->n_criteria; i++) {
        sl_constraints one = {in->constraints->items + i, 1};
        if (sl_constraints_first_violated(&one, &pl) >= 0) s->excluded[i]++;
    }
}

int sl_select_run(const sl_select_input *in, sl_selection *out)
{
    const int k = in->device->n_blocks;
    const int ne = in->hosts ? in->hosts->n_edges : 1;
    const int nc = in->hosts ? in->hosts->n_clouds : in->cloud != NULL;
    int n_direct = 0;
    for (int c = 0; c < nc; c++)
        n_direct += has_direct(in, c);
    /* Local-only once; per edge every cut and TL, with a cloud every cut2 (a cloud left unused
     * once, else once per cloud); direct plans per cloud with a device->cloud link. */
    size_t cap = 1;
    for (int j = 0; j < k; j++) {
        size_t variants = 1 + (size_t)(j > 0 ? in->device->cuts[j].n_tl : 0);
        cap += variants * (size_t)ne * (size_t)(nc ? (size_t)(k - j) * (size_t)nc + 1 : 1);
        cap += variants * (size_t)n_direct;
    }
    sl_selection s;
    memset(&s, 0, sizeof s);
    s.n_criteria = in->constraints ? in->constraints->n : 0;
    s.plans = malloc(cap * sizeof *s.plans);
    s.excluded = calloc((size_t)s.n_criteria + 1, sizeof *s.excluded);
    if (!s.plans || !s.excluded) {
        free(s.plans);
        free(s.excluded);
        return sl_err(SL_ENOMEM, "out of memory for %zu plans", cap);
    }
    add_plan(in, &s, -1, -1, 0, k, nc ? k : -1, -1);
    for (int e = 0; e < ne; e++)
        for (int j = 0; j < k; j++)
            for (int tl = -1; tl < (j > 0 ? in->device->cuts[j].n_tl : 0); tl++) {
                if (!nc) {
                    add_plan(in, &s, e, -1, 0, j, -1, tl);
                    continue;
                }
                for (int j2 = j; j2 < k; j2++)
                    for (int c = 0; c < nc; c++)
                        add_plan(in, &s, e, c, 0, j, j2, tl);
                add_plan(in, &s, e, -1, 0, j, k, tl);
            }
    for (int c = 0; c < nc; c++)
        for (int j = 0; has_direct(in, c) && j < k; j++)
            for (int tl = -1; tl < (j > 0 ? in->device->cuts[j].n_tl : 0); tl++)
                add_plan(in, &s, -1, c, 1, j, j, tl);
    for (int i = 0; i < s.n_plans; i++)
        if (!isfinite(s.plans[i].total_s) || !isfinite(s.plans[i].upload_bytes)) {
            char text[256];
            sl_plan_format(in, &s.plans[i], text, sizeof text);
            sl_selection_free(&s);
            return sl_err(SL_EFORMAT,
                          "the cost of plan '%s' overflows: the profiles' times or the network "
                          "figures are too large to add up",
                          text);
        }
    qsort(s.plans, (size_t)s.n_plans, sizeof *s.plans, plan_cmp);
    s.n_cuts = k + 1;
    s.best_at = malloc(2 * (size_t)s.n_cuts * sizeof *s.best_at);
    if (!s.best_at) {
        sl_selection_free(&s);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    for (int i = 0; i < 2 * s.n_cuts; i++)
        s.best_at[i] = -1;
    /* Plans are sorted, so the first allowed one seen per (cut, TL or not) is the best. */
    for (int i = s.n_allowed - 1; i >= 0; i--)
        s.best_at[2 * s.plans[i].cut + (s.plans[i].tl >= 0)] = i;
    *out = s;
    return s.n_allowed ? SL_OK : explain_none(in, out);
}

void sl_selection_free(sl_selection *s)
{
    if (!s) return;
    free(s->plans);
    free(s->excluded);
    free(s->best_at);
    memset(s, 0, sizeof *s);
}

const sl_plan *sl_selection_best_at(const sl_selection *s, int cut, int want_tl)
{
    if (cut < 0 || cut >= s->n_cuts) return NULL;
    int i = s->best_at[2 * cut + (want_tl != 0)];
    return i >= 0 ? &s->plans[i] : NULL;
}

const sl_plan *sl_selection_best(const sl_selection *s, int want_tl)
{
    for (int i = 0; i < s->n_allowed; i++)
        if ((s->plans[i].tl >= 0) == (want_tl != 0)) return &s->plans[i];
    return NULL;
}

const char *sl_plan_tl_name(const sl_select_input *in, const sl_plan *p)
{
    return p->tl >= 0 ? in->device->cuts[p->cut].tl[p->tl].config : NULL;
}

/* "edge" or, with show_hosts and a name, "edge(vm2Core)". */
static void tier_label(const sl_select_input *v, int tier, char *buf, size_t n)
{
    static const char *const names[SL_TIER_COUNT] = {"device", "edge", "cloud"};
    if (v->show_hosts && v->names[tier])
        snprintf(buf, n, "%s(%s)", names[tier], v->names[tier]);
    else
        snprintf(buf, n, "%s", names[tier]);
}

void sl_plan_format(const sl_select_input *in, const sl_plan *p, char *buf, size_t n)
{
    sl_select_input v;
    sl_select_view(in, p, &v);
    const sl_profile *pr = v.device;
    const int k = pr->n_blocks, last = pr->n_nodes - 1;
    /* Node index ranges per tier: device 0..a, edge a+1..b, cloud b+1..last. */
    int a = pr->cuts[p->cut].node_index;
    int b = v.cloud ? pr->cuts[p->cut2].node_index : last;
    char t[32], up[32], label[3][96];
    for (int i = 0; i < SL_TIER_COUNT; i++)
        tier_label(&v, i, label[i], sizeof label[i]);
    sl_format_seconds(t, sizeof t, p->total_s);
    sl_format_bytes(up, sizeof up, p->upload_bytes);
    size_t len = (size_t)snprintf(buf, n, "%s - %s -", t, up);
    const char *sep = " ";
    if (a >= 0 && len < n) {
        len += (size_t)snprintf(buf + len, n - len, "%s%s 0-%d", sep, label[0], a);
        sep = ", ";
    }
    if (b > a && len < n) {
        len += (size_t)snprintf(buf + len, n - len, "%s%s %d-%d", sep, label[1], a + 1, b);
        sep = ", ";
    } else if (v.show_hosts && v.cloud && !p->direct && p->cut < k && len < n) {
        len += (size_t)snprintf(buf + len, n - len, "%s%s forwards", sep, label[1]);
        sep = ", ";
    }
    if (b < last && len < n)
        len += (size_t)snprintf(buf + len, n - len, "%s%s %d-%d", sep, label[2], b + 1, last);
    if (p->direct && !v.show_hosts && len < n)
        len += (size_t)snprintf(buf + len, n - len, " [device->cloud]");
    if (len >= n) return;
    if (p->cut == 0 && (v.show_hosts || p->direct))
        snprintf(buf + len, n - len, " [raw image]"); /* the hosts say who runs it */
    else if (p->cut == 0)
        snprintf(buf + len, n - len, " [edge-only: raw image]");
    else if (p->cut == k)
        snprintf(buf + len, n - len, " [local-only]");
    else if (p->tl >= 0)
        snprintf(buf + len, n - len, " [cut %s, TL %s]", pr->cuts[p->cut].tensor,
                 sl_plan_tl_name(in, p));
    else
        snprintf(buf + len, n - len, " [cut %s]", pr->cuts[p->cut].tensor);
}

cJSON *sl_plan_latency_json(const sl_select_input *in, const sl_plan *p)
{
    sl_select_input v;
    sl_select_view(in, p, &v);
    in = &v;
    cJSON *lat = cJSON_CreateObject();
    cJSON_AddNumberToObject(lat, "load", p->load_s);
    cJSON_AddNumberToObject(lat, "device", p->device_s);
    cJSON_AddNumberToObject(lat, "tl_encode", p->tl_enc_s);
    cJSON_AddNumberToObject(lat, "wire_encode", p->wire_enc_s);
    cJSON_AddNumberToObject(lat, "serialise", p->serialise_s);
    cJSON_AddNumberToObject(lat, "rtt", p->rtt_s);
    cJSON_AddNumberToObject(lat, "transfer", p->transfer_s);
    cJSON_AddNumberToObject(lat, "wire_decode", p->wire_dec_s);
    cJSON_AddNumberToObject(lat, "tl_decode", p->tl_dec_s);
    cJSON_AddNumberToObject(lat, "edge", p->edge_s);
    if (in->cloud) {
        cJSON_AddNumberToObject(lat, "serialise2", p->serialise2_s);
        cJSON_AddNumberToObject(lat, "rtt2", p->rtt2_s);
        cJSON_AddNumberToObject(lat, "transfer2", p->transfer2_s);
        cJSON_AddNumberToObject(lat, "cloud", p->cloud_s);
    }
    cJSON_AddNumberToObject(lat, "total", p->total_s);
    return lat;
}

static cJSON *cut_json(const sl_profile *pr, int cut)
{
    cJSON *o = sl_prof_cut_json(&pr->cuts[cut], cut);
    cJSON_AddStringToObject(o, "kind",
                            cut == 0              ? "edge-only"
                            : cut == pr->n_blocks ? "local-only"
                                                  : "slice");
    return o;
}

/* [first, last] node indices, or null when the range is empty. */
static cJSON *range_json(int first, int last)
{
    if (first > last) return cJSON_CreateNull();
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateNumber(first));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(last));
    return a;
}

/* A name, or null. */
static cJSON *name_json(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *plan_json(const sl_select_input *in_all, const sl_plan *p, int rank)
{
    sl_select_input v;
    sl_select_view(in_all, p, &v);
    const sl_select_input *in = &v;
    const sl_profile *pr = in->device;
    cJSON *o = cJSON_CreateObject();
    char text[512];
    sl_plan_format(in, p, text, sizeof text);
    if (rank > 0) cJSON_AddNumberToObject(o, "rank", rank);
    cJSON_AddStringToObject(o, "text", text);
    cJSON_AddBoolToObject(o, "allowed", p->violated < 0);
    if (p->violated >= 0)
        cJSON_AddStringToObject(o, "violates", in->constraints->items[p->violated].text);
    cJSON_AddItemToObject(o, "cut", cut_json(pr, p->cut));
    cJSON_AddItemToObject(o, "cut2", p->cut2 >= 0 ? cut_json(pr, p->cut2) : cJSON_CreateNull());
    const char *tl = sl_plan_tl_name(in, p);
    cJSON_AddItemToObject(o, "tl", tl ? cJSON_CreateString(tl) : cJSON_CreateNull());
    int a = pr->cuts[p->cut].node_index, last = pr->n_nodes - 1;
    int b = p->cut2 >= 0 ? pr->cuts[p->cut2].node_index : last;
    cJSON *nodes = cJSON_AddObjectToObject(o, "nodes");
    cJSON_AddItemToObject(nodes, "device", range_json(0, a));
    cJSON_AddItemToObject(nodes, "edge", range_json(a + 1, b));
    cJSON_AddItemToObject(nodes, "cloud", range_json(b + 1, last));
    cJSON_AddItemToObject(o, "latency_s", sl_plan_latency_json(in, p));
    cJSON *bytes = cJSON_AddObjectToObject(o, "bytes");
    cJSON_AddNumberToObject(bytes, "upload", p->upload_bytes);
    if (in->cloud) cJSON_AddNumberToObject(bytes, "edge_cloud", p->cloud_bytes);
    if (in->show_hosts) {
        sl_placement pl;
        sl_plan_placement(in, p, &pl);
        cJSON *hosts = cJSON_AddObjectToObject(o, "hosts");
        cJSON_AddItemToObject(hosts, "device", name_json(pl.host[SL_TIER_DEVICE]));
        cJSON_AddItemToObject(hosts, "edge", name_json(pl.host[SL_TIER_EDGE]));
        cJSON_AddItemToObject(hosts, "cloud", name_json(pl.host[SL_TIER_CLOUD]));
        cJSON_AddBoolToObject(o, "direct_to_cloud", p->direct);
    }
    return o;
}

static cJSON *dads_json(const sl_plan_doc *d, const sl_dads_result *r, const char *mode)
{
    const sl_profile *pr = d->in->device;
    cJSON *o = cJSON_CreateObject();
    uint8_t *crosses = malloc((size_t)pr->n_nodes + 1);
    if (!crosses) {
        cJSON_Delete(o);
        return NULL;
    }
    double upload;
    int v = sl_dads_check(r, pr, d->in->constraints, crosses, &upload);
    cJSON_AddStringToObject(o, "mode", mode);
    if (d->in->hosts)
        cJSON_AddStringToObject(o, "edge_host", d->in->hosts->edge_names[r->edge_host]);
    cJSON_AddBoolToObject(o, "allowed", v == -1);
    if (v >= 0) cJSON_AddStringToObject(o, "violates", d->in->constraints->items[v].text);
    cJSON *lat = cJSON_AddObjectToObject(o, "latency_s");
    cJSON_AddNumberToObject(lat, "device", r->device_s);
    cJSON_AddNumberToObject(lat, "transfer", r->transfer_s);
    cJSON_AddNumberToObject(lat, "rtt", r->rtt_s);
    cJSON_AddNumberToObject(lat, "edge", r->edge_s);
    cJSON_AddNumberToObject(lat, "total", r->latency_s);
    cJSON_AddNumberToObject(lat, "bottleneck", r->bottleneck_s);
    cJSON_AddNumberToObject(o, "upload_bytes", upload);
    cJSON *dev = cJSON_AddArrayToObject(o, "device_nodes");
    for (int i = 0; i < pr->n_nodes; i++)
        if (r->on_device[i + 1]) cJSON_AddItemToArray(dev, cJSON_CreateString(pr->nodes[i].name));
    cJSON *edg = cJSON_AddArrayToObject(o, "edge_nodes");
    for (int i = 0; i < pr->n_nodes; i++)
        if (!r->on_device[i + 1]) cJSON_AddItemToArray(edg, cJSON_CreateString(pr->nodes[i].name));
    cJSON *cross = cJSON_AddArrayToObject(o, "cut_tensors");
    for (int u = 0; u <= pr->n_nodes; u++) {
        if (!crosses[u]) continue;
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "tensor", u ? pr->nodes[u - 1].name : pr->input_name);
        cJSON_AddNumberToObject(
            t, "bytes", u ? (double)pr->nodes[u - 1].out_bytes : (double)pr->input_raw_bytes);
        cJSON_AddBoolToObject(t, "raw_image", u == 0);
        cJSON_AddItemToArray(cross, t);
    }
    free(crosses);
    return o;
}

static cJSON *hop_json(const sl_hop *h)
{
    if (!h->set) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "bandwidth_bps", h->bandwidth_bps);
    cJSON_AddNumberToObject(o, "rtt_s", h->rtt_s);
    return o;
}

static cJSON *profile_ref(const sl_profile *p)
{
    if (!p) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "host", p->host);
    cJSON_AddStringToObject(o, "cpu", p->cpu);
    cJSON_AddNumberToObject(o, "threads", p->threads);
    cJSON_AddStringToObject(o, "date", p->date);
    return o;
}

/* The hops of one combination of hosts into `net`: device_edge, edge_cloud (null without a
 * cloud), device_cloud when the device may send straight to the cloud. */
static void add_hops(cJSON *net, const sl_select_input *v)
{
    cJSON_AddItemToObject(net, "device_edge", hop_json(&v->net.hop[SL_HOP_DEVICE_EDGE]));
    cJSON_AddItemToObject(net, "edge_cloud",
                          v->cloud ? hop_json(&v->net.hop[SL_HOP_EDGE_CLOUD]) : cJSON_CreateNull());
    if (v->cloud && v->net.hop[SL_HOP_DEVICE_CLOUD].set)
        cJSON_AddItemToObject(net, "device_cloud", hop_json(&v->net.hop[SL_HOP_DEVICE_CLOUD]));
}

/* The candidate hosts: names and profiles per tier, and the network of every combination. */
static cJSON *hosts_json(const sl_hosts *h)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "device", h->device);
    cJSON *edges = cJSON_AddArrayToObject(o, "edge"), *clouds = cJSON_AddArrayToObject(o, "cloud");
    for (int e = 0; e < h->n_edges; e++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", h->edge_names[e]);
        cJSON_AddItemToObject(x, "profile", profile_ref(h->edges[e]));
        cJSON_AddItemToArray(edges, x);
    }
    for (int c = 0; c < h->n_clouds; c++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", h->cloud_names[c]);
        cJSON_AddItemToObject(x, "profile", profile_ref(h->clouds[c]));
        cJSON_AddItemToArray(clouds, x);
    }
    cJSON *links = cJSON_AddArrayToObject(o, "network");
    int nc = h->n_clouds ? h->n_clouds : 1;
    for (int e = 0; e < h->n_edges; e++)
        for (int c = 0; c < nc; c++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "edge", h->edge_names[e]);
            cJSON_AddItemToObject(x, "cloud", name_json(h->n_clouds ? h->cloud_names[c] : NULL));
            sl_select_input v = {0};
            v.cloud = h->n_clouds ? h->clouds[c] : NULL;
            v.net = h->nets[e * nc + c];
            add_hops(x, &v);
            cJSON_AddItemToArray(links, x);
        }
    return o;
}

/* The names of vertex set {v : tier[v] == t} (v >= 1, node v-1). */
static cJSON *tier_nodes(const sl_profile *pr, const uint8_t *tier, int t)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < pr->n_nodes; i++)
        if (tier[i + 1] == t) cJSON_AddItemToArray(a, cJSON_CreateString(pr->nodes[i].name));
    return a;
}

/* The three-tier DADS partition (docs/formats/plan.md, "dads_three_tier"). */
static cJSON *dads3_json(const sl_select_input *in, const sl_plan_doc_three *x)
{
    const sl_profile *pr = in->device;
    const sl_dads3_result *r = x->r;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "mode", "latency");
    if (x->edge_host) cJSON_AddStringToObject(o, "edge_host", x->edge_host);
    if (x->cloud_host) cJSON_AddStringToObject(o, "cloud_host", x->cloud_host);
    cJSON *lat = cJSON_AddObjectToObject(o, "latency_s");
    cJSON_AddNumberToObject(lat, "device", r->device_s);
    cJSON_AddNumberToObject(lat, "transfer", r->transfer_s);
    cJSON_AddNumberToObject(lat, "rtt", r->rtt_s);
    cJSON_AddNumberToObject(lat, "edge", r->edge_s);
    cJSON_AddNumberToObject(lat, "transfer2", r->transfer2_s);
    cJSON_AddNumberToObject(lat, "rtt2", r->rtt2_s);
    cJSON_AddNumberToObject(lat, "cloud", r->cloud_s);
    cJSON_AddNumberToObject(lat, "total", r->latency_s);
    cJSON_AddItemToObject(o, "device_nodes", tier_nodes(pr, r->tier, SL_TIER_DEVICE));
    cJSON_AddItemToObject(o, "edge_nodes", tier_nodes(pr, r->tier, SL_TIER_EDGE));
    cJSON_AddItemToObject(o, "cloud_nodes", tier_nodes(pr, r->tier, SL_TIER_CLOUD));
    return o;
}

char *sl_plan_doc_json(const sl_plan_doc *d)
{
    return sl_plan_doc_json_three(d, NULL);
}

char *sl_plan_doc_json_three(const sl_plan_doc *d, const sl_plan_doc_three *three)
{
    const sl_select_input *in = d->in;
    const sl_selection *s = d->sel;
    const sl_profile *pr = in->device;
    cJSON *r = sl_json_doc_new("sl-plan", 1);
    cJSON_AddStringToObject(r, "model", pr->model);
    cJSON_AddStringToObject(r, "graph_hash", pr->graph_hash);
    cJSON_AddNumberToObject(r, "batch", pr->batch);
    /* Profiles and network of the best plan's hosts (with one host per tier: the only ones). */
    sl_select_input bv = *in;
    if (s->n_allowed) sl_select_view(in, &s->plans[0], &bv);
    cJSON *profiles = cJSON_AddObjectToObject(r, "profiles");
    cJSON_AddItemToObject(profiles, "device", profile_ref(bv.device));
    cJSON_AddItemToObject(profiles, "edge", profile_ref(bv.edge));
    cJSON_AddItemToObject(profiles, "cloud", profile_ref(bv.cloud));
    cJSON *net = cJSON_AddObjectToObject(r, "network");
    add_hops(net, &bv);
    if (in->hosts) cJSON_AddItemToObject(r, "hosts", hosts_json(in->hosts));
    cJSON *cons = cJSON_AddArrayToObject(r, "constraints");
    for (int i = 0; in->constraints && i < in->constraints->n; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "criterion", in->constraints->items[i].text);
        cJSON_AddNumberToObject(c, "plans_ruled_out", s->excluded[i]);
        cJSON_AddItemToArray(cons, c);
    }
    cJSON_AddNumberToObject(r, "plans_considered", s->n_plans);
    cJSON_AddNumberToObject(r, "plans_allowed", s->n_allowed);
    const sl_plan *best = s->n_allowed ? &s->plans[0] : NULL;
    const sl_plan *plain = sl_selection_best(s, 0), *with = sl_selection_best(s, 1);
    cJSON_AddItemToObject(r, "best", best ? plan_json(in, best, 1) : cJSON_CreateNull());
    cJSON_AddItemToObject(r, "best_without_tl",
                          plain ? plan_json(in, plain, 0) : cJSON_CreateNull());
    cJSON_AddItemToObject(r, "best_with_tl", with ? plan_json(in, with, 0) : cJSON_CreateNull());
    /* The best real slice without a TL (neither edge-only nor local-only): what a split without
     * a TL is compared against, even when sending the raw image or staying local wins. */
    const sl_plan *slice = NULL;
    for (int c = 1; c + 1 < pr->n_cuts; c++) {
        const sl_plan *a = sl_selection_best_at(s, c, 0);
        if (a && a->violated < 0 && (!slice || a->total_s < slice->total_s)) slice = a;
    }
    cJSON_AddItemToObject(r, "best_split_without_tl",
                          slice ? plan_json(in, slice, 0) : cJSON_CreateNull());
    cJSON *plans = cJSON_AddArrayToObject(r, "plans");
    for (int i = 0; i < s->n_allowed && i < d->top; i++)
        cJSON_AddItemToArray(plans, plan_json(in, &s->plans[i], i + 1));
    cJSON *per = cJSON_AddArrayToObject(r, "per_cut");
    for (int c = 0; c < pr->n_cuts; c++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", c);
        cJSON_AddStringToObject(o, "tensor", pr->cuts[c].tensor);
        const sl_plan *a = sl_selection_best_at(s, c, 0), *b = sl_selection_best_at(s, c, 1);
        cJSON_AddItemToObject(o, "without_tl", a ? plan_json(in, a, 0) : cJSON_CreateNull());
        cJSON_AddItemToObject(o, "with_tl", b ? plan_json(in, b, 0) : cJSON_CreateNull());
        cJSON_AddItemToArray(per, o);
    }
    cJSON_AddItemToObject(r, "dads",
                          d->dads ? dads_json(d, d->dads, "latency") : cJSON_CreateNull());
    cJSON_AddItemToObject(r, "dads_throughput",
                          d->throughput ? dads_json(d, d->throughput, "throughput")
                                        : cJSON_CreateNull());
    if (three) cJSON_AddItemToObject(r, "dads_three_tier", dads3_json(in, three));
    char *out = cJSON_Print(r);
    cJSON_Delete(r);
    if (!out) sl_err(SL_ENOMEM, "out of memory while writing the plan");
    return out;
}

int sl_plan_doc_write(const char *path, const sl_plan_doc *d)
{
    return sl_plan_doc_write_three(path, d, NULL);
}

int sl_plan_doc_write_three(const char *path, const sl_plan_doc *d, const sl_plan_doc_three *three)
{
    return sl_write_text_and_free(path, sl_plan_doc_json_three(d, three));
}
