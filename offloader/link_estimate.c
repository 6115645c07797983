/* link_estimate.c: the adaptive device's link estimate and plan chooser (see link_estimate.h). */
#include "offloader/link_estimate.h"
#include "common/json.h"
#include "common/status.h"

#include <stdio.h>
#include <stdlib.h>

#include <math.h>
#include <string.h>

/* The fastest link the estimate believes in (10 Gbit/s): a transfer is never taken as shorter
 * than its bits at this rate. */
#define SL_LINK_MAX_BPS 1e10

sl_link_config sl_link_config_default(double prior_bps, double prior_rtt_s)
{
    return (sl_link_config){.alpha = 0.2,
                            .prior_bps = prior_bps,
                            .prior_rtt_s = prior_rtt_s,
                            .jump_ratio = 3,
                            .jump_run = 3,
                            .margin = 0.25,
                            .confirm = 3,
                            .hold_s = 1,
                            .stale_s = 5,
                            .rtt_noise = 0.25};
}

int sl_link_init(sl_link_estimate *e, const sl_link_config *cfg)
{
    memset(e, 0, sizeof *e);
    const char *bad = !(cfg->alpha > 0 && cfg->alpha <= 1)                      ? "alpha"
                      : !(cfg->prior_bps > 0) || !isfinite(cfg->prior_bps)      ? "prior_bps"
                      : !(cfg->prior_rtt_s >= 0) || !isfinite(cfg->prior_rtt_s) ? "prior_rtt_s"
                      : !(cfg->jump_ratio > 1) || !isfinite(cfg->jump_ratio)    ? "jump_ratio"
                      : cfg->jump_run < 1                                       ? "jump_run"
                      : !(cfg->margin >= 0 && cfg->margin < 1)                  ? "margin"
                      : cfg->confirm < 1                                        ? "confirm"
                      : !(cfg->hold_s >= 0) || !isfinite(cfg->hold_s)           ? "hold_s"
                      : !(cfg->stale_s > 0)                                     ? "stale_s"
                      : !(cfg->rtt_noise >= 0) || !isfinite(cfg->rtt_noise)     ? "rtt_noise"
                                                                                : NULL;
    if (bad) return sl_err(SL_EARG, "link estimate: %s is out of range", bad);
    e->cfg = *cfg;
    e->spb = 1.0 / cfg->prior_bps;
    e->rtt_s = cfg->prior_rtt_s;
    e->last_s = -1;
    e->measured_s = -1;
    e->edge_ratio = 1;
    return SL_OK;
}

static int finite_nonneg(double x)
{
    return isfinite(x) && x >= 0;
}

/* Folds one time-per-bit sample into the average, restarting it after a run of jumps. A jump
 * is measured against the average when its run began, so the samples folded in meanwhile do
 * not hide the rest of the run. */
static void fold(sl_link_estimate *e, double spb)
{
    const sl_link_config *c = &e->cfg;
    double ref = e->jump_n ? e->jump_ref : e->spb;
    int dir = spb > ref * c->jump_ratio ? 1 : spb * c->jump_ratio < ref ? -1 : 0;
    if (dir && dir == e->jump_dir) {
        e->jump_n++;
        e->jump_sum += spb;
    } else {
        e->jump_dir = dir;
        e->jump_n = dir ? 1 : 0;
        e->jump_sum = dir ? spb : 0;
        e->jump_ref = e->spb;
    }
    if (e->jump_n >= c->jump_run) {
        e->spb = e->jump_sum / e->jump_n;
        e->jump_dir = 0;
        e->jump_n = 0;
        e->jump_sum = 0;
        return;
    }
    e->spb += c->alpha * (spb - e->spb);
}

double sl_link_noise(const sl_link_estimate *e, double bytes)
{
    double n = e->cfg.rtt_noise * e->rtt_s;
    if (e->n_rtt >= SL_LINK_PINGS_TRUSTED) n = fmin(n, 4 * e->rtt_dev);
    return fmax(n, 8.0 * bytes / SL_LINK_MAX_BPS);
}

double sl_link_noise_above(const sl_link_estimate *e, double bytes, double x)
{
    double n = sl_link_noise(e, bytes);
    if (bytes <= SL_LINK_HEAD_BYTES) return INFINITY;
    return n + (fmax(x, 0) + n) * SL_LINK_HEAD_BYTES / (bytes - SL_LINK_HEAD_BYTES);
}

/* Folds a transfer time `x` of `bytes` that may be off by the noise allowance either way. Above
 * the allowance it is a measurement. At or below it, it bounds the transfer from above only,
 * by max(x, 0) + noise: a bound the estimate already meets teaches nothing (but ends a run of
 * jumps, being no jump), and a bound it does not meet is folded as the slowest transfer the
 * sample allows, never as 0. */
static void sample(sl_link_estimate *e, double bytes, double x, double now)
{
    double noise = sl_link_noise_above(e, bytes, x), bits = 8.0 * bytes;
    if (x > SL_LINK_PRECISE * noise && e->censored_run > 0 && x / bits < e->spb) {
        /* the estimate was only a bound, and this reads faster: it is what is known now */
        e->spb = x / bits;
        e->jump_dir = 0;
        e->jump_n = 0;
        e->jump_sum = 0;
        e->n_reset++;
    } else if (x > noise) {
        fold(e, x / bits);
    }
    if (x > SL_LINK_PRECISE * noise) {
        e->measured_s = now;
        e->censored_run = 0;
    } else if (x > noise) {
        e->censored_run++;
    } else {
        double bound = fmax(x, 0) + noise;
        if (bits * e->spb > bound) {
            fold(e, bound / bits);
        } else if (isfinite(bound)) { /* an infinite bound (a request within the head) is none */
            e->jump_dir = 0;
            e->jump_n = 0;
            e->jump_sum = 0;
        }
        e->n_censored++;
        e->censored_run++;
    }
    e->n_samples++;
    e->last_s = now;
}

int sl_link_observe(sl_link_estimate *e, double bytes, double elapsed_s, double edge_s, double now)
{
    if (!(bytes > 0) || !isfinite(bytes) || !finite_nonneg(elapsed_s) || !finite_nonneg(edge_s) ||
        !isfinite(now))
        return sl_err(SL_EARG, "link sample: bytes %g, elapsed %g s, edge %g s is not a sample",
                      bytes, elapsed_s, edge_s);
    if (edge_s > elapsed_s)
        return sl_err(SL_EARG, "link sample: the edge reports %g s of compute in a %g s exchange",
                      edge_s, elapsed_s);
    double net = elapsed_s - edge_s, x = net - e->rtt_s;
    int rtt_high = x < -sl_link_noise(e, bytes);
    sample(e, bytes, x, now);
    /* The whole exchange below the RTT estimate by more than its noise: the RTT is lower now
     * than the probes said. net bounds this request's RTT from above, so the RTT is pulled
     * towards it, never below an RTT a request has shown. */
    if (rtt_high) e->rtt_s += e->cfg.alpha * (net - e->rtt_s);
    return SL_OK;
}

int sl_link_observe_transfer(sl_link_estimate *e, double bytes, double transfer_s, double now)
{
    if (!(bytes > 0) || !isfinite(bytes) || !finite_nonneg(transfer_s) || !isfinite(now))
        return sl_err(SL_EARG, "link sample: bytes %g, transfer %g s is not a sample", bytes,
                      transfer_s);
    sample(e, bytes, transfer_s, now);
    return SL_OK;
}

int sl_link_observe_edge(sl_link_estimate *e, double edge_s, double table_edge_s)
{
    if (!finite_nonneg(edge_s))
        return sl_err(SL_EARG, "edge sample: %g s is not an edge time", edge_s);
    if (!(table_edge_s > 0) || !isfinite(table_edge_s)) return SL_OK;
    e->edge_ratio += e->cfg.alpha * (edge_s / table_edge_s - e->edge_ratio);
    e->n_edge++;
    return SL_OK;
}

int sl_link_observe_rtt(sl_link_estimate *e, double rtt_s, double now)
{
    if (!finite_nonneg(rtt_s) || !isfinite(now))
        return sl_err(SL_EARG, "link probe: RTT %g s is not a round-trip time", rtt_s);
    double dev = fabs(rtt_s - e->rtt_s);
    if (e->n_rtt) e->rtt_dev = e->n_rtt == 1 ? dev : e->rtt_dev + 0.25 * (dev - e->rtt_dev);
    e->rtt_s = e->n_rtt ? e->rtt_s + e->cfg.alpha * (rtt_s - e->rtt_s) : rtt_s;
    e->n_rtt++;
    e->last_s = now;
    return SL_OK;
}

double sl_link_bandwidth(const sl_link_estimate *e)
{
    return 1.0 / e->spb;
}

int sl_link_stale(const sl_link_estimate *e, double now)
{
    return e->last_s < 0 || now - e->last_s > e->cfg.stale_s;
}

int sl_link_blind(const sl_link_estimate *e, double now)
{
    return e->n_samples > 0 && (e->measured_s < 0 || now - e->measured_s > e->cfg.stale_s);
}

double sl_link_plan_bytes(const sl_link_plan *p)
{
    return p->sent_bytes > 0 ? p->sent_bytes : p->upload_bytes;
}

int sl_link_observe_sent(const sl_link_estimate *e, sl_link_plan *p, double bytes)
{
    if (!(bytes > 0) || !isfinite(bytes))
        return sl_err(SL_EARG, "sent bytes: %g is not a request's size", bytes);
    p->sent_bytes =
        p->sent_bytes > 0 ? p->sent_bytes + e->cfg.alpha * (bytes - p->sent_bytes) : bytes;
    return SL_OK;
}

double sl_link_predict(const sl_link_estimate *e, const sl_link_plan *p)
{
    if (!p->pays_rtt) return p->fixed_s;
    return p->fixed_s + (e->edge_ratio - 1) * p->edge_s + e->rtt_s +
           8.0 * sl_link_plan_bytes(p) * e->spb;
}

void sl_link_prober_init(sl_link_prober *p)
{
    memset(p, 0, sizeof *p);
    p->burst_s = -1;
}

/* Of the offloading plans sending more bytes than plan cur and predicted faster than it on an
 * infinitely fast link, the one sending the fewest of those that send at least
 * SL_LINK_PROBE_BYTES (a transfer that can be measured past the head), else the one sending the
 * most; -1 for none. No margin here: a probe is one image, and a loaded edge's ratio, off by the
 * margin, may hide every plan with more edge work. */
static int wider(const sl_link_estimate *e, const sl_link_plan *plans, int n, int cur)
{
    sl_link_estimate fast = *e;
    fast.spb = 0;
    double cur_s = sl_link_predict(&fast, &plans[cur]), cur_b = sl_link_plan_bytes(&plans[cur]);
    int best = -1;
    for (int k = 0; k < n; k++) {
        double b = sl_link_plan_bytes(&plans[k]);
        if (!plans[k].pays_rtt || b <= cur_b || !(sl_link_predict(&fast, &plans[k]) < cur_s))
            continue;
        double bb = best < 0 ? 0 : sl_link_plan_bytes(&plans[best]);
        int big = b >= SL_LINK_PROBE_BYTES, best_big = bb >= SL_LINK_PROBE_BYTES;
        if (best < 0 || (big && (!best_big || b < bb)) || (!big && !best_big && b > bb)) best = k;
    }
    return best;
}

int sl_link_probe_up(sl_link_prober *p, const sl_link_estimate *e, const sl_link_plan *plans, int n,
                     int cur, int out, int max_out, double now)
{
    /* blind for want of a measured sample, or because the plan's transfer at the estimate is
     * within twice the noise (late answers on a loaded host are measured, slow, but do not show
     * a faster link) */
    double b = sl_link_plan_bytes(&plans[cur]);
    int k = wider(e, plans, n, cur);
    int blind = sl_link_blind(e, now) ||
                (e->n_samples > 0 &&
                 8 * b * e->spb <= SL_LINK_PRECISE * sl_link_noise_above(e, b, 8 * b * e->spb));
    if (k >= 0 && blind && out == 0 && (p->burst_s < 0 || now - p->burst_s > e->cfg.stale_s)) {
        p->burst_s = now;
        p->left = SL_LINK_PROBE_BURST;
    }
    /* the burst goes on one probe at a time until a sample is measured */
    if (e->measured_s >= p->burst_s) p->left = 0;
    int burst = p->left > 0 && out == 0;
    int faster = p->run && e->jump_n > 0 && e->jump_dir < 0 && out < max_out;
    p->run = k >= 0 && (burst || faster);
    if (p->run && burst) p->left--;
    return p->run ? k : -1;
}

int sl_link_chooser_init(sl_link_chooser *c, const sl_link_plan *plans, int n, int initial)
{
    memset(c, 0, sizeof *c);
    if (n < 1 || initial < 0 || initial >= n)
        return sl_err(SL_EARG, "link chooser: plan %d of %d", initial, n);
    c->plans = plans;
    c->n = n;
    c->current = initial;
    c->candidate = -1;
    c->seen = -1;
    return SL_OK;
}

int sl_link_beats(const sl_link_estimate *e, const sl_link_plan *a, const sl_link_plan *b)
{
    double f = 1 + e->cfg.margin;
    sl_link_estimate x = *e;
    for (int i = 0; i < 8; i++) {
        x.spb = e->spb * (i & 1 ? f : 1 / f);
        x.rtt_s = e->rtt_s * (i & 2 ? f : 1 / f);
        x.edge_ratio = e->edge_ratio * (i & 4 ? f : 1 / f);
        if (!(sl_link_predict(&x, a) < sl_link_predict(&x, b))) return 0;
    }
    return 1;
}

int sl_link_choose(sl_link_chooser *c, const sl_link_estimate *e, int *switched)
{
    if (switched) *switched = 0;
    long seen = e->n_samples + e->n_rtt;
    if (seen == c->seen || seen == 0) return c->current;
    c->seen = seen;
    int best = c->current;
    double best_s = sl_link_predict(e, &c->plans[best]);
    for (int k = 0; k < c->n; k++) {
        double s = sl_link_predict(e, &c->plans[k]);
        if (s < best_s) {
            best = k;
            best_s = s;
        }
    }
    if (best == c->current || !sl_link_beats(e, &c->plans[best], &c->plans[c->current])) {
        c->candidate = -1;
        c->streak = 0;
        return c->current;
    }
    c->streak = best == c->candidate ? c->streak + 1 : 1;
    c->candidate = best;
    double now = e->last_s;
    int back = c->switches && best == c->previous; /* back to the plan just left */
    if (c->streak < e->cfg.confirm || (back && now - c->switch_s < c->hold_s)) return c->current;
    double base = e->cfg.hold_s;
    int fast = back && now - c->switch_s < SL_LINK_HOLD_FAST * c->hold_s;
    c->hold_s = fast ? fmin(2 * c->hold_s, SL_LINK_HOLD_MAX * base) : base;
    c->switch_s = now;
    c->previous = c->current;
    c->current = best;
    c->candidate = -1;
    c->streak = 0;
    c->switches++;
    if (switched) *switched = 1;
    return c->current;
}

/* The number at o.key into *v when it is finite and >= 0, else an error naming where. */
static int get_num(const cJSON *o, const char *key, const char *what, const char *where, double *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble < 0)
        return sl_err(SL_EFORMAT, "%s: %s.%s: missing or not a number >= 0", what, where, key);
    *v = x->valuedouble;
    return SL_OK;
}

/* A string at o.key copied into buf (n bytes); `nullable` allows null (copied as ""). */
static int get_str(const cJSON *o, const char *key, int nullable, const char *what,
                   const char *where, char *buf, size_t n)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (nullable && cJSON_IsNull(x)) {
        buf[0] = '\0';
        return SL_OK;
    }
    if (!cJSON_IsString(x) || !*x->valuestring || strlen(x->valuestring) >= n)
        return sl_err(SL_EFORMAT, "%s: %s.%s: missing, empty, too long or not a string%s", what,
                      where, key, nullable ? " or null" : "");
    memcpy(buf, x->valuestring, strlen(x->valuestring) + 1);
    return SL_OK;
}

/* cut.index of o.key into *idx (-1 for null when nullable), and cut.tensor into tensor. */
static int get_cut(const cJSON *o, const char *key, int nullable, const char *what,
                   const char *where, int *idx, char *tensor, size_t n)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, key);
    char at[64];
    snprintf(at, sizeof at, "%s.%s", where, key);
    if (nullable && cJSON_IsNull(c)) {
        *idx = -1;
        return SL_OK;
    }
    double v = 0;
    int rc;
    if (!cJSON_IsObject(c)) return sl_err(SL_EFORMAT, "%s: %s: missing or not an object", what, at);
    if ((rc = get_num(c, "index", what, at, &v))) return rc;
    if (v != floor(v) || v > 1e6)
        return sl_err(SL_EFORMAT, "%s: %s.index: %g is not a cut index", what, at, v);
    *idx = (int)v;
    return tensor ? get_str(c, "tensor", 0, what, at, tensor, n) : SL_OK;
}

/* The plan table in `r` (deleted here) into *out, which the caller has zeroed. */
static int table_from_json(cJSON *r, const char *what, sl_link_table *out)
{
    sl_link_table t = {0};
    int rc = SL_OK;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(r, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(r, "version");
    const cJSON *plans = cJSON_GetObjectItemCaseSensitive(r, "plans");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "sl-plan-table")) {
        rc = sl_err(SL_EFORMAT, "%s: format: not \"sl-plan-table\"", what);
        goto out;
    }
    if (!cJSON_IsNumber(ver) || ver->valuedouble != 1) {
        rc = sl_err(SL_EFORMAT, "%s: version: only version 1 is known", what);
        goto out;
    }
    if ((rc = get_str(r, "model", 0, what, "table", t.model, sizeof t.model)) ||
        (rc = get_str(r, "graph_hash", 0, what, "table", t.graph_hash, sizeof t.graph_hash)))
        goto out;
    if (strlen(t.graph_hash) != 64 || strspn(t.graph_hash, "0123456789abcdef") != 64) {
        rc = sl_err(SL_EFORMAT, "%s: graph_hash: not 64 hex digits", what);
        goto out;
    }
    int n = cJSON_GetArraySize(plans);
    if (!cJSON_IsArray(plans) || n < 1) {
        rc = sl_err(SL_EFORMAT, "%s: plans: missing or empty", what);
        goto out;
    }
    if (!(t.plans = calloc((size_t)n, sizeof *t.plans))) {
        rc = sl_err(SL_ENOMEM, "%s: out of memory", what);
        goto out;
    }
    for (int k = 0; k < n; k++) {
        const cJSON *p = cJSON_GetArrayItem(plans, k);
        sl_link_plan *lp = &t.plans[k];
        char where[32];
        snprintf(where, sizeof where, "plans[%d]", k);
        const cJSON *pays = cJSON_GetObjectItemCaseSensitive(p, "pays_rtt");
        if ((rc = get_num(p, "fixed_s", what, where, &lp->fixed_s)) ||
            (rc = get_num(p, "upload_bytes", what, where, &lp->upload_bytes)) ||
            (rc = get_cut(p, "cut", 0, what, where, &lp->cut, lp->tensor, sizeof lp->tensor)) ||
            (rc = get_cut(p, "cut2", 1, what, where, &lp->cut2, NULL, 0)) ||
            (rc = get_str(p, "tl", 1, what, where, lp->tl, sizeof lp->tl)))
            goto out;
        if (!cJSON_IsBool(pays)) {
            rc = sl_err(SL_EFORMAT, "%s: %s.pays_rtt: missing or not true/false", what, where);
            goto out;
        }
        lp->pays_rtt = cJSON_IsTrue(pays);
        /* optional: tables written before it carry no edge share */
        if (cJSON_GetObjectItemCaseSensitive(p, "edge_s") &&
            (rc = get_num(p, "edge_s", what, where, &lp->edge_s)))
            goto out;
        if (lp->edge_s > lp->fixed_s) {
            rc = sl_err(SL_EFORMAT, "%s: %s.edge_s: %g s is more than fixed_s (%g s)", what, where,
                        lp->edge_s, lp->fixed_s);
            goto out;
        }
        t.n_plans++;
    }
    const cJSON *links = cJSON_GetObjectItemCaseSensitive(r, "links");
    if (links && (!cJSON_IsArray(links) || cJSON_GetArraySize(links) > 64)) {
        rc = sl_err(SL_EFORMAT, "%s: links: not an array of at most 64 links", what);
        goto out;
    }
    for (int k = 0; links && k < cJSON_GetArraySize(links); k++) {
        char where[32];
        snprintf(where, sizeof where, "links[%d]", k);
        const cJSON *l = cJSON_GetArrayItem(links, k);
        if ((rc = get_num(l, "bandwidth_bps", what, where, &t.link_bps[k])) ||
            (rc = get_num(l, "rtt_s", what, where, &t.link_rtt[k])))
            goto out;
        if (!(t.link_bps[k] > 0)) {
            rc = sl_err(SL_EFORMAT, "%s: %s.bandwidth_bps: must be above 0", what, where);
            goto out;
        }
        t.n_links++;
    }
out:
    cJSON_Delete(r);
    if (rc) {
        sl_link_table_free(&t);
        return rc;
    }
    *out = t;
    return SL_OK;
}

int sl_link_table_parse(const char *text, const char *what, sl_link_table *out)
{
    memset(out, 0, sizeof *out);
    cJSON *r;
    int rc = sl_json_parse(text, what, &r);
    return rc ? rc : table_from_json(r, what, out);
}

int sl_link_table_read(const char *path, sl_link_table *out)
{
    memset(out, 0, sizeof *out);
    cJSON *r;
    int rc = sl_json_read_file(path, &r);
    return rc ? rc : table_from_json(r, path, out);
}

void sl_link_table_free(sl_link_table *t)
{
    if (!t) return;
    free(t->plans);
    memset(t, 0, sizeof *t);
}
