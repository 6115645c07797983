/* select_run.h: one `sl-preprocess select` run as a library call — read the profiles (one or
 * several candidate hosts per tier), build the network from a Scission CSV and flags, resolve
 * the constraints, rank the plans (select.c) and add the DADS partitions (mincut.c). The command
 * only parses options and prints. */
#ifndef SL_PREPROCESSOR_SELECT_RUN_H
#define SL_PREPROCESSOR_SELECT_RUN_H

#include "preprocessor/constraints.h"
#include "preprocessor/mincut.h"
#include "preprocessor/netcfg.h"
#include "preprocessor/profile.h"
#include "preprocessor/select.h"

/* What to select from; paths are read by sl_select_execute. Every profile is "FILE" or
 * "NAME=FILE" (NAME names the host in plans and in the network CSV; without it the profile's
 * host field does). */
typedef struct sl_select_request {
    const char *device, *edge, *cloud; /* profiles; cloud may be NULL (two tiers) */
    const char *network;               /* Scission CSV, or NULL */
    /* Per hop, from flags: bandwidth in bit/s and RTT in s; < 0 = not given. Flags win over the
     * CSV (for every host of the hop); a hop is set by the flags only when both are given. */
    double bandwidth_bps[SL_HOP_COUNT], rtt_s[SL_HOP_COUNT];
    sl_constraints *constraints; /* resolved against the device profile here; borrowed */
    int dads, throughput;        /* also the DADS latency / throughput partitions */
    /* Several candidate hosts per tier: with n_edges > 0 these replace `edge`, with n_clouds > 0
     * these replace `cloud`. */
    const char *const *edges;
    int n_edges;
    const char *const *clouds;
    int n_clouds;
    int dads_cloud; /* also the three-tier DADS partition (needs a cloud) */
} sl_select_request;

/* Everything a run produced; owned, free with sl_select_outcome_free. */
typedef struct sl_select_outcome {
    sl_profile *device, *edge, *cloud; /* edge and cloud: the first candidates */
    sl_select_input in; /* points at the profiles above and the request's constraints */
    sl_selection sel;
    sl_dag dag;
    sl_dads_result dads, throughput; /* filled when requested; edge_host says on which edge */
    sl_dads3_result dads3;           /* three tiers, with dads_cloud */
    int dads3_edge, dads3_cloud;     /* the candidates it was made for */
    int user_error; /* on failure: 1 when the arguments are at fault (a constraint naming an
                       unknown node or host, a cloud criterion without a cloud, two candidates of
                       one name), 0 otherwise */
    /* The candidates (n_edges >= 1; n_clouds 0 without a cloud) and their names. */
    sl_profile **edges, **clouds;
    int n_edges, n_clouds;
    char *device_name, **edge_names, **cloud_names;
    sl_netcfg *nets; /* per (edge, cloud), as sl_hosts.nets */
    sl_hosts hosts;  /* in.hosts points here with several candidates in a tier */
} sl_select_outcome;

/* Runs the selection. Returns SL_OK; SL_ECONSTRAINT when no plan satisfies the constraints
 * (out->sel is still filled, for a chart of what was ruled out); or the status of the failing
 * step (profile read, CSV, missing hop, profiles of different models, constraints, DADS) with
 * its message. out is always initialised and must be freed. */
int sl_select_execute(const sl_select_request *rq, sl_select_outcome *out);

/* Frees what out owns; NULL is fine. */
void sl_select_outcome_free(sl_select_outcome *out);

#endif
