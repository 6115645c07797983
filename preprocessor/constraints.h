/* constraints.h: Scission's placement criteria for slice selection, parsed from flags, resolved
 * against a profile, and checked against a placement (single cut or DADS partition).
 *
 * Flag syntax (docs/select.md):
 *   --device-only NODE / --edge-only NODE / --cloud-only NODE   the node must run on that tier
 *   --not-on TIER:NODE                                          the node must not run there
 *   --exclude-tier TIER                                         the tier runs no node at all
 *   --max-upload BYTES         bytes the device sends, e.g. 0.5MB (decimal units, as Scission)
 *   --max-time TIER:LIMIT      time on a tier: 0.05s, 50ms, or 30% of the plan's total latency
 *   --use-tier TIER            the tier runs at least one node
 *   --host TIER:NAME           when the tier takes part, it is host NAME (of several candidates)
 *   --not-host TIER:NAME       host NAME of the tier is not used
 *   --tl-at CUT[,CUT...]       a TL goes only at these cuts (tensor names; several flags add
 *                              to one set); plans without a TL are not affected. Where a TL keeps accuracy is measured, not
 *                              costed (bench/train.sh quality): this is how a user says it.
 */
#ifndef SL_PREPROCESSOR_CONSTRAINTS_H
#define SL_PREPROCESSOR_CONSTRAINTS_H

#include "preprocessor/netcfg.h"
#include "preprocessor/profile_io.h"

#include <stdint.h>

typedef enum { SL_TIER_DEVICE = 0, SL_TIER_EDGE = 1, SL_TIER_CLOUD = 2, SL_TIER_COUNT = 3 } sl_tier;

/* Parses a tier name (case-insensitive). Returns SL_OK or SL_EARG. */
int sl_tier_parse(const char *s, sl_tier *out);

typedef enum {
    SL_CRIT_ONLY_ON,      /* node must run on `tier` */
    SL_CRIT_NOT_ON,       /* node must not run on `tier` */
    SL_CRIT_EXCLUDE_TIER, /* `tier` runs no node */
    SL_CRIT_MAX_UPLOAD,   /* device upload <= limit bytes */
    SL_CRIT_MAX_TIME,     /* time on `tier` <= limit seconds (or limit * total when percent) */
    SL_CRIT_USE_TIER,     /* `tier` runs at least one node */
    SL_CRIT_HOST,         /* `tier`, when it takes part, is host `node` */
    SL_CRIT_NOT_HOST,     /* host `node` of `tier` takes no part */
    SL_CRIT_TL_AT,        /* a TL only at the cuts of `node` (a comma list of tensor names) */
} sl_crit_kind;

#define SL_CRIT_MAX_CUTS 32

typedef struct sl_criterion {
    sl_crit_kind kind;
    sl_tier tier;
    char node[128]; /* the node, or the host for SL_CRIT_HOST / SL_CRIT_NOT_HOST */
    int node_index; /* set by sl_constraints_resolve */
    int node_block; /* block of node_index in the profile, set by sl_constraints_resolve */
    double limit;
    int percent;    /* MAX_TIME: limit is a fraction of the plan's total */
    char text[192]; /* the criterion as the user wrote it, for messages: "--max-time device:30%" */
    int cuts[SL_CRIT_MAX_CUTS]; /* TL_AT: the cut indices, set by sl_constraints_resolve */
    int n_cuts;
} sl_criterion;

typedef struct sl_constraints {
    sl_criterion *items;
    int n;
} sl_constraints;

/* Parses one criterion given as a flag and its value (flag is "--device-only", "--edge-only",
 * "--cloud-only", "--not-on", "--exclude-tier", "--max-upload", "--max-time", "--use-tier",
 * "--host", "--not-host" or "--tl-at") and appends it.
 * Returns SL_OK, or SL_EARG with a message quoting the criterion; on error `c` is unchanged. */
int sl_constraints_add(sl_constraints *c, const char *flag, const char *value);

/* Looks up every node name (and --tl-at cut) in `p` and checks tiers against the tiers in use
 * (`have_cloud`). Returns SL_OK, SL_ENOTFOUND (unknown node or cut, criterion quoted) or SL_EARG
 * (cloud criterion without a cloud profile, or contradicting criteria on the same node). Only
 * the node_index, node_block and cuts fields are written, so resolving again (against another
 * profile) is safe. */
int sl_constraints_resolve(sl_constraints *c, const sl_profile *p, int have_cloud);

/* Checks the host names of --host / --not-host against the candidate hosts of each tier.
 * Returns SL_OK or SL_ENOTFOUND quoting the criterion and listing the tier's hosts. */
int sl_constraints_check_hosts(const sl_constraints *c, const sl_host_names *hosts);

/* Frees the items; the struct itself may be reused. NULL is a no-op. */
void sl_constraints_free(sl_constraints *c);

/* Where a plan puts things. Either `node_tier` (a tier per node, for DADS partitions) or the cut
 * indices (nodes of blocks < cut on the device, < cut2 on the edge, the rest on the cloud;
 * cut2 = -1 without a cloud) say where each node runs. */
typedef struct sl_placement {
    const uint8_t *node_tier;
    int n_nodes; /* length of node_tier */
    int cut, cut2;
    int n_blocks; /* blocks in the profile, for placements given by cuts */
    int tl_cut;   /* the cut carrying a TL, -1 for none (a DADS partition has none) */
    double upload_bytes;
    double tier_s[SL_TIER_COUNT]; /* compute time per tier, TL encode/decode included */
    double total_s;
    /* The host of each tier taking part (an edge that only forwards takes part), NULL for a tier
     * the plan does not reach; host criteria pass when all are NULL. */
    const char *host[SL_TIER_COUNT];
} sl_placement;

/* Index of the first criterion the placement violates, or -1 when it satisfies all. */
int sl_constraints_first_violated(const sl_constraints *c, const sl_placement *pl);

/* The tier that runs criterion `cr`'s node under `pl`. */
sl_tier sl_placement_node_tier(const sl_placement *pl, const sl_criterion *cr);

#endif
