/* constraints.c: parsing, resolving and checking Scission-style placement criteria. */
#include "preprocessor/constraints.h"

#include "common/cli.h"
#include "common/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *tier_names[SL_TIER_COUNT] = {"device", "edge", "cloud"};

int sl_tier_parse(const char *s, sl_tier *out)
{
    for (int t = 0; t < SL_TIER_COUNT; t++)
        if (!strcasecmp(s, tier_names[t])) {
            *out = (sl_tier)t;
            return SL_OK;
        }
    return sl_err(SL_EARG, "'%s' is not a tier (device, edge or cloud)", s);
}

static int bad(const sl_criterion *cr, const char *why)
{
    return sl_err(SL_EARG, "criterion '%s': %s", cr->text, why);
}

/* Splits "TIER:REST" into the tier and REST; returns NULL when there is no ':' or no tier. */
static const char *split_tier(const char *value, sl_tier *tier)
{
    const char *colon = strchr(value, ':');
    if (!colon || colon == value) return NULL;
    char name[16];
    size_t len = (size_t)(colon - value);
    if (len >= sizeof name) return NULL;
    memcpy(name, value, len);
    name[len] = 0;
    if (sl_tier_parse(name, tier)) return NULL;
    return colon + 1;
}

/* Copies s into cr->node (a node, a host or a list of cuts); `what` names it when it is too long. */
static int set_node(sl_criterion *cr, const char *s, const char *what)
{
    if (strlen(s) >= sizeof cr->node)
        return sl_err(SL_EARG, "criterion '%s': %s too long", cr->text, what);
    snprintf(cr->node, sizeof cr->node, "%s", s);
    return SL_OK;
}

static int parse_node_name(sl_criterion *cr, const char *name)
{
    if (!*name) return bad(cr, "no node name");
    return set_node(cr, name, "node name");
}

static int parse_time_limit(sl_criterion *cr, const char *s)
{
    size_t len = strlen(s);
    if (len > 1 && s[len - 1] == '%') {
        char num[64];
        if (len >= sizeof num) return bad(cr, "limit too long");
        memcpy(num, s, len - 1);
        num[len - 1] = 0;
        double pct;
        if (sl_parse_double("percent", num, 0, 100, &pct))
            return bad(cr, "percent must be a number from 0 to 100, like 30%");
        cr->limit = pct / 100.0;
        cr->percent = 1;
        return SL_OK;
    }
    if (sl_parse_duration("time", s, &cr->limit))
        return bad(cr, "limit must be a time like 0.05s or 50ms, or a percent like 30%");
    return SL_OK;
}

/* The constraint flags: the criterion each makes, where its tier comes from (the flag itself,
 * the whole value, or the value's "TIER:" prefix) and what the rest of the value is. */
enum { TIER_VALUE = -1, TIER_PREFIX = -2 };
typedef enum { REST_NONE, REST_NODE, REST_HOST, REST_CUTS, REST_SIZE, REST_LIMIT } rest_kind;

typedef struct {
    const char *flag;
    sl_crit_kind kind;
    int tier; /* an sl_tier the flag implies, TIER_VALUE or TIER_PREFIX */
    rest_kind rest;
    const char *expected; /* TIER_PREFIX: the error when the value is not TIER:REST */
} crit_flag;

static const crit_flag crit_flags[] = {
    {"--device-only", SL_CRIT_ONLY_ON, SL_TIER_DEVICE, REST_NODE, NULL},
    {"--edge-only", SL_CRIT_ONLY_ON, SL_TIER_EDGE, REST_NODE, NULL},
    {"--cloud-only", SL_CRIT_ONLY_ON, SL_TIER_CLOUD, REST_NODE, NULL},
    {"--not-on", SL_CRIT_NOT_ON, TIER_PREFIX, REST_NODE,
     "expected TIER:NODE, like edge:conv1 (tiers: device, edge, cloud)"},
    {"--exclude-tier", SL_CRIT_EXCLUDE_TIER, TIER_VALUE, REST_NONE, NULL},
    {"--use-tier", SL_CRIT_USE_TIER, TIER_VALUE, REST_NONE, NULL},
    {"--max-upload", SL_CRIT_MAX_UPLOAD, SL_TIER_DEVICE, REST_SIZE, NULL},
    {"--max-time", SL_CRIT_MAX_TIME, TIER_PREFIX, REST_LIMIT,
     "expected TIER:LIMIT, like device:0.05s or device:30%"},
    {"--host", SL_CRIT_HOST, TIER_PREFIX, REST_HOST,
     "expected TIER:HOST, like edge:vm2Core (tiers: device, edge, cloud)"},
    {"--not-host", SL_CRIT_NOT_HOST, TIER_PREFIX, REST_HOST,
     "expected TIER:HOST, like edge:vm2Core (tiers: device, edge, cloud)"},
    {"--tl-at", SL_CRIT_TL_AT, SL_TIER_DEVICE, REST_CUTS, NULL},
};

static int parse_one(sl_criterion *cr, const char *flag, const char *value)
{
    const crit_flag *f = NULL;
    for (size_t i = 0; !f && i < sizeof crit_flags / sizeof crit_flags[0]; i++)
        if (!strcmp(flag, crit_flags[i].flag)) f = &crit_flags[i];
    if (!f) return sl_err(SL_EARG, "'%s' is not a constraint flag", flag);
    const char *rest = value;
    cr->kind = f->kind;
    if (f->tier == TIER_VALUE) {
        if (sl_tier_parse(value, &cr->tier)) return bad(cr, "expected device, edge or cloud");
    } else if (f->tier == TIER_PREFIX) {
        rest = split_tier(value, &cr->tier);
        if (!rest || (f->rest == REST_HOST && !*rest)) return bad(cr, f->expected);
    } else {
        cr->tier = (sl_tier)f->tier;
    }
    switch (f->rest) {
    case REST_NODE:
        return parse_node_name(cr, rest);
    case REST_HOST:
        return set_node(cr, rest, "host name");
    case REST_CUTS:
        return set_node(cr, rest, "list of cuts");
    case REST_SIZE:
        if (sl_parse_bytes("upload", rest, &cr->limit))
            return bad(cr, "expected a size like 0.5MB, 200kB or 1000000");
        return SL_OK;
    case REST_LIMIT:
        return parse_time_limit(cr, rest);
    case REST_NONE:
        break;
    }
    return SL_OK;
}

/* --tl-at: every listed tensor names a cut of `p`; their indices into cr->cuts. */
static int resolve_tl_at(sl_criterion *cr, const sl_profile *p)
{
    char *items[SL_CRIT_MAX_CUTS], *buf = NULL;
    int n = 0;
    int rc = sl_parse_list("--tl-at", cr->node, &buf, items, SL_CRIT_MAX_CUTS, &n);
    cr->n_cuts = 0;
    for (int i = 0; !rc && i < n; i++) {
        int at = -1;
        for (int j = 0; j < p->n_cuts && at < 0; j++)
            if (!strcmp(p->cuts[j].tensor, items[i])) at = j;
        if (at < 0)
            rc = sl_err(SL_ENOTFOUND,
                        "criterion '%s': '%s' is not a cut of model %s (sl-preprocess inspect "
                        "lists the cut points)",
                        cr->text, items[i], p->model);
        else cr->cuts[cr->n_cuts++] = at;
    }
    free(buf);
    return rc;
}

int sl_constraints_add(sl_constraints *c, const char *flag, const char *value)
{
    sl_criterion cr;
    memset(&cr, 0, sizeof cr);
    cr.node_index = -1;
    cr.node_block = -1;
    snprintf(cr.text, sizeof cr.text, "%s %s", flag, value ? value : "");
    if (!value || !*value) return bad(&cr, "missing value");
    int rc = parse_one(&cr, flag, value);
    if (rc) return rc;
    sl_criterion *items = realloc(c->items, (size_t)(c->n + 1) * sizeof *items);
    if (!items) return sl_err(SL_ENOMEM, "out of memory");
    items[c->n] = cr;
    c->items = items;
    c->n++;
    return SL_OK;
}

int sl_constraints_resolve(sl_constraints *c, const sl_profile *p, int have_cloud)
{
    for (int i = 0; i < c->n; i++) {
        sl_criterion *cr = &c->items[i];
        if (cr->tier == SL_TIER_CLOUD && !have_cloud && cr->kind != SL_CRIT_EXCLUDE_TIER)
            return sl_err(SL_EARG, "criterion '%s': no cloud tier (give --cloud PROFILE)",
                          cr->text);
        if (cr->kind == SL_CRIT_TL_AT) {
            int rc = resolve_tl_at(cr, p);
            if (rc) return rc;
            continue;
        }
        if (cr->kind != SL_CRIT_ONLY_ON && cr->kind != SL_CRIT_NOT_ON) continue;
        cr->node_index = sl_profile_find_node(p, cr->node);
        if (cr->node_index < 0)
            return sl_err(SL_ENOTFOUND, "criterion '%s': no node named '%s' in model %s", cr->text,
                          cr->node, p->model);
        cr->node_block = sl_profile_block_of_node(p, cr->node_index);
        for (int k = 0; k < i; k++) {
            const sl_criterion *o = &c->items[k];
            if (o->kind == SL_CRIT_ONLY_ON && cr->kind == SL_CRIT_ONLY_ON &&
                o->node_index == cr->node_index && o->tier != cr->tier)
                return sl_err(SL_EARG, "criteria '%s' and '%s' contradict each other", o->text,
                              cr->text);
        }
    }
    return SL_OK;
}

int sl_constraints_check_hosts(const sl_constraints *c, const sl_host_names *hosts)
{
    for (int i = 0; c && i < c->n; i++) {
        const sl_criterion *cr = &c->items[i];
        if (cr->kind != SL_CRIT_HOST && cr->kind != SL_CRIT_NOT_HOST) continue;
        int t = (int)cr->tier, found = 0;
        char known[512] = "";
        size_t len = 0;
        for (int k = 0; k < hosts->n[t]; k++) {
            found |= !strcmp(hosts->names[t][k], cr->node);
            if (len < sizeof known)
                len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", k ? ", " : "",
                                        hosts->names[t][k]);
        }
        if (!found)
            return sl_err(SL_ENOTFOUND, "criterion '%s': no %s host named '%s' (%s hosts: %s)",
                          cr->text, tier_names[t], cr->node, tier_names[t],
                          hosts->n[t] ? known : "none");
    }
    return SL_OK;
}

void sl_constraints_free(sl_constraints *c)
{
    if (!c) return;
    free(c->items);
    c->items = NULL;
    c->n = 0;
}

static sl_tier tier_of_block(const sl_placement *pl, int block)
{
    if (block < pl->cut) return SL_TIER_DEVICE;
    if (pl->cut2 < 0 || block < pl->cut2) return SL_TIER_EDGE;
    return SL_TIER_CLOUD;
}

sl_tier sl_placement_node_tier(const sl_placement *pl, const sl_criterion *cr)
{
    if (pl->node_tier) return (sl_tier)pl->node_tier[cr->node_index];
    return tier_of_block(pl, cr->node_block);
}

/* Whether `tier` runs any node. With cuts each tier holds a contiguous range of blocks. */
static int tier_used(const sl_placement *pl, sl_tier tier)
{
    if (pl->node_tier) {
        for (int v = 0; v < pl->n_nodes; v++)
            if (pl->node_tier[v] == tier) return 1;
        return 0;
    }
    int end2 = pl->cut2 < 0 ? pl->n_blocks : pl->cut2;
    if (tier == SL_TIER_DEVICE) return pl->cut > 0;
    if (tier == SL_TIER_EDGE) return end2 > pl->cut;
    return pl->cut2 >= 0 && pl->cut2 < pl->n_blocks;
}

/* Whether any --tl-at criterion lists `cut`: several flags (a config's list) add to one set. */
static int tl_cut_listed(const sl_constraints *c, int cut)
{
    for (int m = 0; m < c->n; m++)
        for (int k = 0; c->items[m].kind == SL_CRIT_TL_AT && k < c->items[m].n_cuts; k++)
            if (c->items[m].cuts[k] == cut) return 1;
    return 0;
}

int sl_constraints_first_violated(const sl_constraints *c, const sl_placement *pl)
{
    for (int i = 0; c && i < c->n; i++) {
        const sl_criterion *cr = &c->items[i];
        int ok = 1;
        switch (cr->kind) {
        case SL_CRIT_ONLY_ON:
            ok = sl_placement_node_tier(pl, cr) == cr->tier;
            break;
        case SL_CRIT_NOT_ON:
            ok = sl_placement_node_tier(pl, cr) != cr->tier;
            break;
        case SL_CRIT_EXCLUDE_TIER:
            ok = !tier_used(pl, cr->tier);
            break;
        case SL_CRIT_MAX_UPLOAD:
            ok = pl->upload_bytes <= cr->limit;
            break;
        case SL_CRIT_MAX_TIME:
            ok = pl->tier_s[cr->tier] <= (cr->percent ? cr->limit * pl->total_s : cr->limit);
            break;
        case SL_CRIT_USE_TIER:
            ok = tier_used(pl, cr->tier);
            break;
        case SL_CRIT_HOST:
            ok = !pl->host[cr->tier] || !strcmp(pl->host[cr->tier], cr->node);
            break;
        case SL_CRIT_NOT_HOST:
            ok = !pl->host[cr->tier] || strcmp(pl->host[cr->tier], cr->node);
            break;
        case SL_CRIT_TL_AT:
            ok = pl->tl_cut < 0 || tl_cut_listed(c, pl->tl_cut);
            break;
        }
        if (!ok) return i;
    }
    return -1;
}
