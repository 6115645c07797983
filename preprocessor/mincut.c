/* mincut.c: DADS min-cut partitioning (Dinic max-flow) in latency (DSL) and throughput (DSH)
 * modes. */
#include "preprocessor/mincut.h"

#include "common/status.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* "Infinite" capacity: far above any sum of times, yet finite so residuals stay exact. A max flow
 * reaching half of it means the forced placements admit no finite cut. */
#define BIG 1e30

int sl_dag_init(sl_dag *g, int n, int n_edges)
{
    memset(g, 0, sizeof *g);
    g->n = n;
    g->dev_s = calloc((size_t)n, sizeof(double));
    g->edge_s = calloc((size_t)n, sizeof(double));
    g->xfer_s = calloc((size_t)n, sizeof(double));
    g->pred_start = calloc((size_t)n + 1, sizeof(int));
    g->preds = calloc((size_t)(n_edges > 0 ? n_edges : 1), sizeof(int));
    g->force = calloc((size_t)n, 1);
    if (!g->dev_s || !g->edge_s || !g->xfer_s || !g->pred_start || !g->preds || !g->force) {
        sl_dag_free(g);
        return sl_err(SL_ENOMEM, "out of memory for a %d-vertex graph", n);
    }
    return SL_OK;
}

void sl_dag_free(sl_dag *g)
{
    if (!g) return;
    free(g->dev_s);
    free(g->edge_s);
    free(g->xfer_s);
    free(g->pred_start);
    free(g->preds);
    free(g->force);
    memset(g, 0, sizeof *g);
}

int sl_dag_partition_valid(const sl_dag *g, const uint8_t *on_device)
{
    if (!on_device[0]) return 0;
    for (int v = 0; v < g->n; v++) {
        if (g->force[v] == SL_FORCE_DEVICE && !on_device[v]) return 0;
        if (g->force[v] == SL_FORCE_EDGE && on_device[v]) return 0;
        if (!on_device[v]) continue;
        for (int k = g->pred_start[v]; k < g->pred_start[v + 1]; k++)
            if (!on_device[g->preds[k]]) return 0;
    }
    return 1;
}

/* Marks in `crosses` the device vertices whose output an edge vertex consumes. */
static int mark_crossing(const sl_dag *g, const uint8_t *on_device, uint8_t *crosses)
{
    int n = 0;
    memset(crosses, 0, (size_t)g->n);
    for (int v = 0; v < g->n; v++) {
        if (on_device[v]) continue;
        for (int k = g->pred_start[v]; k < g->pred_start[v + 1]; k++) {
            int u = g->preds[k];
            if (on_device[u] && !crosses[u]) {
                crosses[u] = 1;
                n++;
            }
        }
    }
    return n;
}

static int stages_count(const sl_dag *g, const uint8_t *on_device, double *dev, double *xfer,
                        double *edge)
{
    uint8_t *crosses = malloc((size_t)g->n);
    if (!crosses) return -1;
    int n = mark_crossing(g, on_device, crosses);
    *dev = *xfer = *edge = 0;
    for (int v = 0; v < g->n; v++) {
        if (on_device[v])
            *dev += g->dev_s[v];
        else
            *edge += g->edge_s[v];
        if (crosses[v]) *xfer += g->xfer_s[v];
    }
    free(crosses);
    return n;
}

void sl_dag_stages(const sl_dag *g, const uint8_t *on_device, double *dev, double *xfer,
                   double *edge)
{
    stages_count(g, on_device, dev, xfer, edge);
}

/* Residual network for Dinic's algorithm; edge i and i^1 are a forward/backward pair. */
typedef struct fedge {
    int to, next;
    double cap;
} fedge;

typedef struct flownet {
    int nv, ne;
    int *head, *level, *iter, *queue;
    fedge *e;
    double eps;
} flownet;

static void net_free(flownet *f)
{
    free(f->head);
    free(f->level);
    free(f->iter);
    free(f->queue);
    free(f->e);
}

static int net_init(flownet *f, int nv, int max_edges)
{
    memset(f, 0, sizeof *f);
    f->nv = nv;
    f->head = malloc((size_t)nv * sizeof(int));
    f->level = malloc((size_t)nv * sizeof(int));
    f->iter = malloc((size_t)nv * sizeof(int));
    f->queue = malloc((size_t)nv * sizeof(int));
    f->e = malloc((size_t)max_edges * 2 * sizeof(fedge));
    if (!f->head || !f->level || !f->iter || !f->queue || !f->e) {
        net_free(f);
        return sl_err(SL_ENOMEM, "out of memory for a flow network of %d vertices", nv);
    }
    for (int v = 0; v < nv; v++)
        f->head[v] = -1;
    return SL_OK;
}

/* net_init, and the residual epsilon relative to the sum `total` of the capacities of an
 * n-vertex graph; on failure frees the caller's scratch arrays a and b too. */
static int net_start(flownet *f, int nv, int max_edges, double total, int n, int *a, int *b)
{
    int rc = net_init(f, nv, max_edges);
    if (rc) {
        free(a);
        free(b);
        return rc;
    }
    f->eps = 1e-13 * (total > 0 ? total : 1) / (n + 1);
    return SL_OK;
}

static void net_add(flownet *f, int u, int v, double cap)
{
    f->e[f->ne] = (fedge){v, f->head[u], cap};
    f->head[u] = f->ne++;
    f->e[f->ne] = (fedge){u, f->head[v], 0};
    f->head[v] = f->ne++;
}

static int net_bfs(flownet *f, int s, int t)
{
    for (int v = 0; v < f->nv; v++)
        f->level[v] = -1;
    int qh = 0, qt = 0;
    f->level[s] = 0;
    f->queue[qt++] = s;
    while (qh < qt) {
        int u = f->queue[qh++];
        for (int i = f->head[u]; i >= 0; i = f->e[i].next) {
            int v = f->e[i].to;
            if (f->e[i].cap > f->eps && f->level[v] < 0) {
                f->level[v] = f->level[u] + 1;
                f->queue[qt++] = v;
            }
        }
    }
    return f->level[t] >= 0;
}

static double net_dfs(flownet *f, int u, int t, double pushed)
{
    if (u == t) return pushed;
    for (; f->iter[u] >= 0; f->iter[u] = f->e[f->iter[u]].next) {
        int i = f->iter[u];
        int v = f->e[i].to;
        if (f->e[i].cap <= f->eps || f->level[v] != f->level[u] + 1) continue;
        double d = net_dfs(f, v, t, pushed < f->e[i].cap ? pushed : f->e[i].cap);
        if (d > f->eps) {
            f->e[i].cap -= d;
            f->e[i ^ 1].cap += d;
            return d;
        }
    }
    return 0;
}

/* Max flow from s to t; returns the flow or BIG when it is unbounded. */
static double net_maxflow(flownet *f, int s, int t)
{
    double flow = 0;
    while (net_bfs(f, s, t)) {
        memcpy(f->iter, f->head, (size_t)f->nv * sizeof(int));
        double d;
        while ((d = net_dfs(f, s, t, 2 * BIG)) > f->eps) {
            flow += d;
            if (flow >= BIG / 2) return BIG;
        }
    }
    return flow;
}

int sl_mincut_solve(const sl_dag *g, double w_dev, double w_xfer, double w_edge, uint8_t *on_device)
{
    const int n = g->n, s = n, t = n + 1;
    /* Consumer counts decide which tensors need an auxiliary vertex. */
    int *consumers = calloc((size_t)n, sizeof(int));
    int *aux = malloc((size_t)n * sizeof(int));
    if (!consumers || !aux) {
        free(consumers);
        free(aux);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    int n_pred = g->pred_start[n];
    for (int k = 0; k < n_pred; k++)
        consumers[g->preds[k]]++;
    int nv = n + 2;
    for (int v = 0; v < n; v++)
        aux[v] = consumers[v] > 1 ? nv++ : -1;
    double total = 0;
    for (int v = 0; v < n; v++)
        total += w_dev * g->dev_s[v] + w_edge * g->edge_s[v] + w_xfer * g->xfer_s[v];
    flownet f;
    int rc = net_start(&f, nv, 2 * n + 3 * n_pred + n, total, n, consumers, aux);
    if (rc) return rc;
    for (int v = 0; v < n; v++) {
        int dev_forced = v == 0 || g->force[v] == SL_FORCE_DEVICE;
        net_add(&f, s, v, dev_forced ? BIG : w_edge * g->edge_s[v]);
        net_add(&f, v, t, g->force[v] == SL_FORCE_EDGE ? BIG : w_dev * g->dev_s[v]);
        if (aux[v] >= 0) net_add(&f, v, aux[v], w_xfer * g->xfer_s[v]);
    }
    for (int c = 0; c < n; c++)
        for (int k = g->pred_start[c]; k < g->pred_start[c + 1]; k++) {
            int u = g->preds[k];
            /* The reverse edge goes straight back to the producer: through the auxiliary
             * vertex it would force every consumer of a tensor onto the same side. */
            if (aux[u] >= 0)
                net_add(&f, aux[u], c, BIG);
            else
                net_add(&f, u, c, w_xfer * g->xfer_s[u]);
            net_add(&f, c, u, BIG);
        }
    double flow = net_maxflow(&f, s, t);
    if (flow >= BIG) {
        rc = sl_err(SL_ECONSTRAINT,
                    "the node placements forced by the constraints contradict "
                    "each other (a node held on the device needs the output of a node held on "
                    "the edge)");
    } else {
        /* The device side is what the source still reaches in the residual network. */
        net_bfs(&f, s, t);
        for (int v = 0; v < n; v++)
            on_device[v] = f.level[v] >= 0;
    }
    net_free(&f);
    free(consumers);
    free(aux);
    return rc;
}

/* Node times measured alone do not add up to the block they belong to (fused ops, caches), but
 * block times are what single cuts are priced with. Scaling every node by its block's measured
 * time over the sum of its nodes makes a single-tensor partition cost the same in both models,
 * so DADS and the single-cut ranking can be compared. A block whose nodes took no time keeps
 * them at zero. Writes one time per node into `out`. */
static void scaled_node_times(const sl_profile *p, double *out)
{
    for (int b = 0; b < p->n_blocks; b++) {
        const sl_prof_block *bl = &p->blocks[b];
        double sum = 0;
        for (int i = bl->first_node; i <= bl->last_node; i++)
            sum += p->nodes[i].median_s;
        double f = sum > 0 ? bl->median_s / sum : 0;
        for (int i = bl->first_node; i <= bl->last_node; i++)
            out[i] = p->nodes[i].median_s * f;
    }
}

int sl_dag_from_profiles(const sl_profile *dev, const sl_profile *edge, const sl_hop *hop,
                         const sl_constraints *c, sl_dag *g)
{
    int n_edges = 0;
    for (int i = 0; i < dev->n_nodes; i++)
        n_edges += dev->nodes[i].n_inputs;
    int rc = sl_dag_init(g, dev->n_nodes + 1, n_edges);
    if (rc) return rc;
    double raw = (double)dev->input_raw_bytes;
    g->xfer_s[0] = raw / dev->serialise_bytes_per_s + sl_hop_transfer_s(hop, raw);
    g->force[0] = SL_FORCE_DEVICE;
    scaled_node_times(dev, g->dev_s + 1);
    scaled_node_times(edge, g->edge_s + 1);
    int k = 0;
    for (int i = 0; i < dev->n_nodes; i++) {
        const sl_prof_node *nd = &dev->nodes[i];
        int v = i + 1;
        double bytes = (double)nd->out_bytes;

        g->xfer_s[v] = bytes / dev->serialise_bytes_per_s + sl_hop_transfer_s(hop, bytes);
        g->pred_start[v] = k;
        for (int j = 0; j < nd->n_inputs; j++) {
            const char *in = nd->inputs[j];
            g->preds[k++] = strcmp(in, dev->input_name) ? sl_profile_find_node(dev, in) + 1 : 0;
        }
    }
    g->pred_start[g->n] = k;
    for (int i = 0; c && i < c->n; i++) {
        const sl_criterion *cr = &c->items[i];
        if (cr->kind == SL_CRIT_ONLY_ON && cr->tier == SL_TIER_CLOUD) {
            sl_dag_free(g);
            return sl_err(SL_EARG, "criterion '%s': DADS partitions device and edge only",
                          cr->text);
        }
        if (cr->kind == SL_CRIT_ONLY_ON || cr->kind == SL_CRIT_NOT_ON) {
            if (cr->tier == SL_TIER_CLOUD) continue;
            assert(cr->node_index >= 0 && cr->node_index < dev->n_nodes); /* resolved first */
            int on_dev = (cr->tier == SL_TIER_DEVICE) == (cr->kind == SL_CRIT_ONLY_ON);
            g->force[cr->node_index + 1] = on_dev ? SL_FORCE_DEVICE : SL_FORCE_EDGE;
        } else if (cr->kind == SL_CRIT_EXCLUDE_TIER && cr->tier != SL_TIER_CLOUD) {
            for (int v = 1; v < g->n; v++)
                g->force[v] = cr->tier == SL_TIER_DEVICE ? SL_FORCE_EDGE : SL_FORCE_DEVICE;
        }
    }
    return SL_OK;
}

void sl_dads_result_free(sl_dads_result *r)
{
    if (!r) return;
    free(r->on_device);
    memset(r, 0, sizeof *r);
}

/* Fills the stage times of a partition into r (on_device must already be r's). */
static int fill_result(const sl_dag *g, double rtt_s, sl_dads_result *r)
{
    int crossing = stages_count(g, r->on_device, &r->device_s, &r->transfer_s, &r->edge_s);
    if (crossing < 0) return sl_err(SL_ENOMEM, "out of memory");
    r->n = g->n;
    r->n_crossing = crossing;
    r->rtt_s = crossing ? rtt_s : 0;
    r->latency_s = r->device_s + r->transfer_s + r->edge_s + r->rtt_s;
    r->bottleneck_s = fmax(r->device_s, fmax(r->transfer_s, r->edge_s));
    return SL_OK;
}

static int local_only_allowed(const sl_dag *g)
{
    for (int v = 0; v < g->n; v++)
        if (g->force[v] == SL_FORCE_EDGE) return 0;
    return 1;
}

int sl_dads_latency(const sl_dag *g, double rtt_s, sl_dads_result *out)
{
    sl_dads_result r;
    memset(&r, 0, sizeof r);
    r.on_device = malloc((size_t)g->n);
    if (!r.on_device) return sl_err(SL_ENOMEM, "out of memory");
    int rc = sl_mincut_solve(g, 1, 1, 1, r.on_device);
    if (!rc) rc = fill_result(g, rtt_s, &r);
    r.iterations = 1;
    /* The min cut ignores the RTT. When its partition sends something, any other sending
     * partition costs at least as much plus the same RTT, so only local-only can still win. */
    if (!rc && r.n_crossing && local_only_allowed(g)) {
        double local = 0;
        for (int v = 0; v < g->n; v++)
            local += g->dev_s[v];
        if (local < r.latency_s) {
            memset(r.on_device, 1, (size_t)g->n);
            rc = fill_result(g, rtt_s, &r);
        }
    }
    if (rc) {
        sl_dads_result_free(&r);
        return rc;
    }
    *out = r;
    return SL_OK;
}

/* Keeps `cand` in `best` when its bottleneck (then latency) is lower; `scratch` receives the
 * stages of `cand` either way. Returns SL_OK or SL_ENOMEM. */
static int keep_better(const sl_dag *g, double rtt_s, const uint8_t *cand, sl_dads_result *best,
                       sl_dads_result *scratch)
{
    memcpy(scratch->on_device, cand, (size_t)g->n);
    int rc = fill_result(g, rtt_s, scratch);
    if (rc) return rc;
    int better =
        !best->n || scratch->bottleneck_s < best->bottleneck_s ||
        (scratch->bottleneck_s == best->bottleneck_s && scratch->latency_s < best->latency_s);
    if (!better) return SL_OK;
    uint8_t *keep = best->on_device;
    *best = *scratch;
    best->on_device = keep;
    memcpy(best->on_device, cand, (size_t)g->n);
    return SL_OK;
}

/* Can v change sides and leave a valid partition? Moving to the edge needs no device consumer,
 * moving to the device needs every producer there. */
static int movable(const sl_dag *g, const uint8_t *on, const int *succ_start, const int *succ,
                   int v)
{
    if (v == 0 || g->force[v] != SL_FORCE_NONE) return 0;
    if (on[v]) {
        for (int k = succ_start[v]; k < succ_start[v + 1]; k++)
            if (on[succ[k]]) return 0;
        return 1;
    }
    for (int k = g->pred_start[v]; k < g->pred_start[v + 1]; k++)
        if (!on[g->preds[k]]) return 0;
    return 1;
}

/* Stage times after moving v across the border, from the current ones in O(degree).
 * cnt[u] counts u's consumers (by input edge) on the edge; a device vertex crosses when its
 * count is positive. A movable vertex's consumers are all on the edge, so it crosses on the
 * device exactly when it has consumers. */
static void move_delta(const sl_dag *g, const uint8_t *on, const int *cnt, const int *succ_start,
                       int v, double st[3], int *n_cross)
{
    int to_edge = on[v];
    int has_consumers = succ_start[v + 1] > succ_start[v];
    st[0] += to_edge ? -g->dev_s[v] : g->dev_s[v];
    st[2] += to_edge ? g->edge_s[v] : -g->edge_s[v];
    if (has_consumers) {
        st[1] += to_edge ? -g->xfer_s[v] : g->xfer_s[v];
        *n_cross += to_edge ? -1 : 1;
    }
    for (int k = g->pred_start[v]; k < g->pred_start[v + 1]; k++) {
        int u = g->preds[k];
        if (!on[u]) continue;
        /* Count u once even when v takes it twice (add(x, x)). */
        int seen = 0;
        for (int q = g->pred_start[v]; q < k; q++)
            seen |= g->preds[q] == u;
        if (seen) continue;
        int uses = 0;
        for (int q = g->pred_start[v]; q < g->pred_start[v + 1]; q++)
            uses += g->preds[q] == u;
        int before = cnt[u], after = cnt[u] + (to_edge ? uses : -uses);
        if (!before && after) {
            st[1] += g->xfer_s[u];
            (*n_cross)++;
        } else if (before && !after) {
            st[1] -= g->xfer_s[u];
            (*n_cross)--;
        }
    }
}

static void apply_move(const sl_dag *g, uint8_t *on, int *cnt, int v)
{
    int to_edge = on[v];
    for (int k = g->pred_start[v]; k < g->pred_start[v + 1]; k++)
        cnt[g->preds[k]] += to_edge ? 1 : -1;
    on[v] = !to_edge;
}

static int better(double b, double l, double best_b, double best_l)
{
    const double tol = 1e-12 * (best_b + best_l);
    return b < best_b - tol || (b <= best_b + tol && l < best_l - tol);
}

/* Weighted min cuts only reach partitions on the convex hull of the stage trade-off; moving
 * single vertices across the border (hill climbing on bottleneck, then latency) reaches some
 * of the partitions between them. */
static int local_search(const sl_dag *g, double rtt_s, sl_dads_result *best,
                        sl_dads_result *scratch, uint8_t *cand)
{
    const int n = g->n, n_pred = g->pred_start[n];
    int *succ_start = calloc((size_t)n + 1, sizeof(int));
    int *succ = malloc((size_t)(n_pred > 0 ? n_pred : 1) * sizeof(int));
    int *cnt = calloc((size_t)n, sizeof(int));
    if (!succ_start || !succ || !cnt) {
        free(succ_start);
        free(succ);
        free(cnt);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    for (int k = 0; k < n_pred; k++)
        succ_start[g->preds[k] + 1]++;
    for (int v = 0; v < n; v++)
        succ_start[v + 1] += succ_start[v];
    for (int c = 0; c < n; c++)
        for (int k = g->pred_start[c]; k < g->pred_start[c + 1]; k++) {
            int u = g->preds[k];
            succ[succ_start[u] + cnt[u]++] = c;
        }
    memcpy(cand, best->on_device, (size_t)n);
    memset(cnt, 0, (size_t)n * sizeof(int));
    for (int c = 0; c < n; c++)
        if (!cand[c])
            for (int k = g->pred_start[c]; k < g->pred_start[c + 1]; k++)
                cnt[g->preds[k]]++;
    double cur[3] = {best->device_s, best->transfer_s, best->edge_s};
    int n_cross = best->n_crossing;
    for (int round = 0, improved = 1; improved && round < 4 * n; round++) {
        improved = 0;
        double cur_b = fmax(cur[0], fmax(cur[1], cur[2]));
        double cur_l = cur[0] + cur[1] + cur[2] + (n_cross ? rtt_s : 0);
        for (int v = 1; v < n && !improved; v++) {
            if (!movable(g, cand, succ_start, succ, v)) continue;
            double st[3] = {cur[0], cur[1], cur[2]};
            int nc = n_cross;
            move_delta(g, cand, cnt, succ_start, v, st, &nc);
            double b = fmax(st[0], fmax(st[1], st[2]));
            double l = st[0] + st[1] + st[2] + (nc ? rtt_s : 0);
            if (!better(b, l, cur_b, cur_l)) continue;
            apply_move(g, cand, cnt, v);
            memcpy(cur, st, sizeof cur);
            n_cross = nc;
            improved = 1;
        }
    }
    /* The running sums drift by rounding; the exact stages decide. */
    int rc = keep_better(g, rtt_s, cand, best, scratch);
    free(succ_start);
    free(succ);
    free(cnt);
    return rc;
}

int sl_dads_throughput(const sl_dag *g, double rtt_s, sl_dads_result *out)
{
    enum { GRID = 4, ROUNDS = 10 };
    sl_dads_result best, scratch;
    memset(&best, 0, sizeof best);
    memset(&scratch, 0, sizeof scratch);
    best.on_device = malloc((size_t)g->n);
    scratch.on_device = malloc((size_t)g->n);
    uint8_t *cand = malloc((size_t)g->n);
    int rc =
        best.on_device && scratch.on_device && cand ? SL_OK : sl_err(SL_ENOMEM, "out of memory");
    int iterations = 0;
    /* A floor on every weight keeps each stage in the objective, so ties between partitions
     * with the same weighted cost are broken towards smaller stages. */
    const double floor_w = 1e-3;
    for (int a = 0; !rc && a <= GRID; a++)
        for (int b = 0; !rc && a + b <= GRID; b++) {
            rc = sl_mincut_solve(g, floor_w + a, floor_w + b, floor_w + GRID - a - b, cand);
            iterations++;
            if (!rc) rc = keep_better(g, rtt_s, cand, &best, &scratch);
        }
    double w[3] = {1, 1, 1};
    for (int round = 0; !rc && round < ROUNDS; round++) {
        rc = sl_mincut_solve(g, w[0], w[1], w[2], cand);
        iterations++;
        if (!rc) rc = keep_better(g, rtt_s, cand, &best, &scratch);
        if (rc) break;
        double st[3] = {scratch.device_s, scratch.transfer_s, scratch.edge_s};
        double m = fmax(st[0], fmax(st[1], st[2]));
        if (m <= 0) break;
        double sum = 0;
        for (int i = 0; i < 3; i++)
            sum += (w[i] *= exp(2.0 * st[i] / m));
        for (int i = 0; i < 3; i++)
            w[i] = w[i] / sum + floor_w;
    }
    if (!rc && local_only_allowed(g)) {
        memset(cand, 1, (size_t)g->n);
        rc = keep_better(g, rtt_s, cand, &best, &scratch);
    }
    if (!rc) rc = local_search(g, rtt_s, &best, &scratch, cand);
    free(cand);
    sl_dads_result_free(&scratch);
    if (rc) {
        sl_dads_result_free(&best);
        return rc;
    }
    best.iterations = iterations;
    *out = best;
    return SL_OK;
}

int sl_dads_check(const sl_dads_result *r, const sl_profile *dev, const sl_constraints *c,
                  uint8_t *crosses, double *upload_bytes)
{
    const int n = dev->n_nodes;
    memset(crosses, 0, (size_t)n + 1);
    *upload_bytes = 0;
    for (int i = 0; i < n; i++) {
        if (r->on_device[i + 1]) continue;
        for (int k = 0; k < dev->nodes[i].n_inputs; k++) {
            const char *in = dev->nodes[i].inputs[k];
            int u = strcmp(in, dev->input_name) ? sl_profile_find_node(dev, in) + 1 : 0;
            if (!r->on_device[u] || crosses[u]) continue;
            crosses[u] = 1;
            *upload_bytes += u ? (double)dev->nodes[u - 1].out_bytes : (double)dev->input_raw_bytes;
        }
    }
    sl_placement pl;
    memset(&pl, 0, sizeof pl);
    pl.tl_cut = -1;
    uint8_t *tier = malloc((size_t)n);
    if (!tier) return -2;
    for (int i = 0; i < n; i++)
        tier[i] = r->on_device[i + 1] ? SL_TIER_DEVICE : SL_TIER_EDGE;
    pl.node_tier = tier;
    pl.n_nodes = n;
    pl.cut2 = -1;
    pl.upload_bytes = *upload_bytes;
    pl.tier_s[SL_TIER_DEVICE] = r->device_s;
    pl.tier_s[SL_TIER_EDGE] = r->edge_s;
    pl.total_s = r->latency_s;
    int v = sl_constraints_first_violated(c, &pl);
    free(tier);
    return v;
}

/* ---- Three tiers (see mincut.h) ---- */

int sl_dag3_init(sl_dag3 *d, int n, int n_edges)
{
    memset(d, 0, sizeof *d);
    int rc = sl_dag_init(&d->g, n, n_edges);
    if (rc) return rc;
    d->cloud_s = calloc((size_t)n, sizeof(double));
    d->xfer2_s = calloc((size_t)n, sizeof(double));
    d->forbid = calloc((size_t)n, 1);
    if (!d->cloud_s || !d->xfer2_s || !d->forbid) {
        sl_dag3_free(d);
        return sl_err(SL_ENOMEM, "out of memory for a %d-vertex graph", n);
    }
    return SL_OK;
}

void sl_dag3_free(sl_dag3 *d)
{
    if (!d) return;
    sl_dag_free(&d->g);
    free(d->cloud_s);
    free(d->xfer2_s);
    free(d->forbid);
    memset(d, 0, sizeof *d);
}

int sl_dag3_from_profiles(const sl_profile *dev, const sl_profile *edge, const sl_profile *cloud,
                          const sl_hop *hop1, const sl_hop *hop2, const sl_constraints *c,
                          sl_dag3 *d)
{
    int n_edges = 0;
    for (int i = 0; i < dev->n_nodes; i++)
        n_edges += dev->nodes[i].n_inputs;
    int rc = sl_dag3_init(d, dev->n_nodes + 1, n_edges);
    if (rc) return rc;
    /* The two-tier builder fills times, device->edge transfers and predecessors; its forced
     * placements are replaced by forbidden tiers below. */
    sl_dag two;
    if ((rc = sl_dag_from_profiles(dev, edge, hop1, NULL, &two))) {
        sl_dag3_free(d);
        return rc;
    }
    sl_dag_free(&d->g);
    d->g = two;
    scaled_node_times(cloud, d->cloud_s + 1);
    double raw = (double)dev->input_raw_bytes;
    d->xfer2_s[0] = raw / edge->serialise_bytes_per_s + sl_hop_transfer_s(hop2, raw);
    for (int i = 0; i < dev->n_nodes; i++) {
        double bytes = (double)dev->nodes[i].out_bytes;
        d->xfer2_s[i + 1] = bytes / edge->serialise_bytes_per_s + sl_hop_transfer_s(hop2, bytes);
    }
    d->forbid[0] = (1u << SL_TIER_EDGE) | (1u << SL_TIER_CLOUD);
    for (int i = 0; c && i < c->n; i++) {
        const sl_criterion *cr = &c->items[i];
        uint8_t bit = (uint8_t)(1u << cr->tier);
        if (cr->kind == SL_CRIT_ONLY_ON)
            d->forbid[cr->node_index + 1] |= (uint8_t)(7u & ~bit);
        else if (cr->kind == SL_CRIT_NOT_ON)
            d->forbid[cr->node_index + 1] |= bit;
        else if (cr->kind == SL_CRIT_EXCLUDE_TIER)
            for (int v = 1; v < d->g.n; v++)
                d->forbid[v] |= bit;
    }
    return SL_OK;
}

void sl_dads3_result_free(sl_dads3_result *r)
{
    if (!r) return;
    free(r->tier);
    memset(r, 0, sizeof *r);
}

int sl_dag3_cost(const sl_dag3 *d, const uint8_t *tier, double rtt_s, double rtt2_s,
                 sl_dads3_result *r)
{
    const sl_dag *g = &d->g;
    double comp[3] = {0, 0, 0}, x1 = 0, x2 = 0;
    if (g->n < 1 || tier[0] != SL_TIER_DEVICE) return 0;
    for (int v = 0; v < g->n; v++) {
        if (tier[v] > 2 || (d->forbid[v] >> tier[v] & 1)) return 0;
        comp[tier[v]] += tier[v] == 0 ? g->dev_s[v] : tier[v] == 1 ? g->edge_s[v] : d->cloud_s[v];
    }
    /* Each tensor crosses a boundary once however many consumers are past it: the furthest
     * consumer's tier decides. */
    uint8_t *far = calloc((size_t)g->n, 1);
    if (!far) return 0;
    for (int c = 0; c < g->n; c++)
        for (int k = g->pred_start[c]; k < g->pred_start[c + 1]; k++) {
            int u = g->preds[k];
            if (tier[c] < tier[u]) {
                free(far);
                return 0;
            }
            if (tier[c] > far[u]) far[u] = tier[c];
        }
    int used[3] = {0, 0, 0};
    for (int v = 0; v < g->n; v++) {
        used[tier[v]] = 1;
        if (tier[v] < 1 && far[v] >= 1) x1 += g->xfer_s[v];
        if (tier[v] < 2 && far[v] >= 2) x2 += d->xfer2_s[v];
    }
    free(far);
    r->device_s = comp[0];
    r->edge_s = comp[1];
    r->cloud_s = comp[2];
    r->transfer_s = x1;
    r->transfer2_s = x2;
    r->rtt_s = used[1] || used[2] ? rtt_s : 0;
    r->rtt2_s = used[2] ? rtt2_s : 0;
    r->latency_s = comp[0] + comp[1] + comp[2] + x1 + x2 + r->rtt_s + r->rtt2_s;
    return 1;
}

/* The min cut without RTTs, tiers above `max_tier` forbidden everywhere, into tier[]. Per node
 * v: vertex p1 (v's side of the device|edge boundary) and p2 (of edge|cloud), each on the source
 * side while v is before that boundary; s->p2 costs the cloud time, p2->p1 the edge time,
 * p1->t the device time, and an infinite p1->p2 keeps "before device|edge" inside "before
 * edge|cloud". A tensor crossing boundary b goes u_b -> c_b (through one auxiliary vertex per
 * tensor and boundary with several consumers) and every consumer has an infinite c_b -> u_b. */
static int solve3(const sl_dag3 *d, int max_tier, uint8_t *tier)
{
    const sl_dag *g = &d->g;
    const int n = g->n, s = 2 * n, t = 2 * n + 1;
    if (n < 1) return sl_err(SL_EARG, "an empty graph");
    int n_pred = g->pred_start[n];
    int *consumers = calloc((size_t)n, sizeof(int)), *aux = malloc(2 * (size_t)n * sizeof(int));
    if (!consumers || !aux) {
        free(consumers);
        free(aux);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    for (int k = 0; k < n_pred; k++)
        consumers[g->preds[k]]++;
    int nv = 2 * n + 2;
    for (int b = 0; b < 2; b++)
        for (int v = 0; v < n; v++)
            aux[b * n + v] = consumers[v] > 1 ? nv++ : -1;
    double total = 0;
    for (int v = 0; v < n; v++)
        total += g->dev_s[v] + g->edge_s[v] + d->cloud_s[v] + g->xfer_s[v] + d->xfer2_s[v];
    flownet f;
    int rc = net_start(&f, nv, 4 * n + 2 * (3 * n_pred + n), total, n, consumers, aux);
    if (rc) return rc;
#define P(b, v) ((b) * n + (v)) /* b = 0: device|edge boundary, 1: edge|cloud */
    for (int v = 0; v < n; v++) {
        uint8_t no = d->forbid[v];
        if (max_tier < 2) no |= 1u << SL_TIER_CLOUD;
        net_add(&f, s, P(1, v), no >> SL_TIER_CLOUD & 1 ? BIG : d->cloud_s[v]);
        net_add(&f, P(1, v), P(0, v), no >> SL_TIER_EDGE & 1 ? BIG : g->edge_s[v]);
        net_add(&f, P(0, v), t, no >> SL_TIER_DEVICE & 1 ? BIG : g->dev_s[v]);
        net_add(&f, P(0, v), P(1, v), BIG);
        for (int b = 0; b < 2; b++)
            if (aux[b * n + v] >= 0)
                net_add(&f, P(b, v), aux[b * n + v], b ? d->xfer2_s[v] : g->xfer_s[v]);
    }
    for (int c = 0; c < n; c++)
        for (int k = g->pred_start[c]; k < g->pred_start[c + 1]; k++) {
            int u = g->preds[k];
            for (int b = 0; b < 2; b++) {
                if (aux[b * n + u] >= 0)
                    net_add(&f, aux[b * n + u], P(b, c), BIG);
                else
                    net_add(&f, P(b, u), P(b, c), b ? d->xfer2_s[u] : g->xfer_s[u]);
                net_add(&f, P(b, c), P(b, u), BIG);
            }
        }
    double flow = net_maxflow(&f, s, t);
    if (flow >= BIG) {
        rc = sl_err(SL_ECONSTRAINT, "the node placements forced by the constraints contradict "
                                    "each other over three tiers");
    } else {
        net_bfs(&f, s, t);
        for (int v = 0; v < n; v++)
            tier[v] = (uint8_t)((f.level[P(0, v)] < 0) + (f.level[P(1, v)] < 0));
    }
#undef P
    net_free(&f);
    free(consumers);
    free(aux);
    return rc;
}

int sl_dads3_latency(const sl_dag3 *d, double rtt_s, double rtt2_s, sl_dads3_result *out)
{
    const int n = d->g.n;
    memset(out, 0, sizeof *out);
    uint8_t *best = malloc((size_t)n), *cand = malloc((size_t)n);
    if (!best || !cand) {
        free(best);
        free(cand);
        return sl_err(SL_ENOMEM, "out of memory");
    }
    /* The cut ignores the RTTs. The best labelling reaching the cloud costs at least the
     * unrestricted cut plus both RTTs, the best stopping at the edge at least the cut without
     * the cloud plus one, and local-only has none: the least of the three candidates' real
     * costs is the optimum. */
    sl_dads3_result r, br;
    memset(&br, 0, sizeof br);
    int found = 0, rc = SL_OK;
    for (int pass = 0; pass < 3 && rc != SL_ENOMEM; pass++) {
        if (pass == 0) {
            memset(cand, SL_TIER_DEVICE, (size_t)n);
            rc = SL_OK;
        } else {
            rc = solve3(d, pass == 1 ? 1 : 2, cand);
            if (rc == SL_ECONSTRAINT) continue;
        }
        if (rc) break;
        if (sl_dag3_cost(d, cand, rtt_s, rtt2_s, &r) && (!found || r.latency_s < br.latency_s)) {
            br = r;
            memcpy(best, cand, (size_t)n);
            found = 1;
        }
    }
    free(cand);
    if (rc == SL_ENOMEM || !found) {
        free(best);
        return rc == SL_ENOMEM ? rc
                               : sl_err(SL_ECONSTRAINT, "the node placements forced by the "
                                                        "constraints admit no three-tier partition");
    }
    br.tier = best;
    br.n = n;
    *out = br;
    return SL_OK;
}
