/* select_run.c: one selection run (see select_run.h). */
#include "preprocessor/select_run.h"
#include "common/status.h"

#include <string.h>

/* The network from the CSV (if any) and the flags; flags win. */
static int load_network(const sl_select_request *rq, sl_netcfg *net)
{
    memset(net, 0, sizeof *net);
    int rc = rq->network ? sl_netcfg_read_csv(rq->network, net) : SL_OK;
    for (int h = 0; !rc && h < SL_HOP_COUNT; h++) {
        int bw = rq->bandwidth_bps[h] >= 0, rtt = rq->rtt_s[h] >= 0;
        if (bw) net->hop[h].bandwidth_bps = rq->bandwidth_bps[h];
        if (rtt) net->hop[h].rtt_s = rq->rtt_s[h];
        if (bw || rtt) net->hop[h].set = net->hop[h].set || (bw && rtt);
    }
    if (!rc)
        rc = sl_netcfg_require(net, rq->cloud != NULL, rq->network ? rq->network : "network flags");
    return rc;
}

int sl_select_execute(const sl_select_request *rq, sl_select_outcome *out)
{
    memset(out, 0, sizeof *out);
    int rc = sl_profile_read(rq->device, &out->device);
    if (!rc) rc = sl_profile_read(rq->edge, &out->edge);
    if (!rc && rq->cloud) rc = sl_profile_read(rq->cloud, &out->cloud);
    if (rc) return rc;
    sl_select_input *in = &out->in;
    in->device = out->device;
    in->edge = out->edge;
    in->cloud = out->cloud;
    in->constraints = rq->constraints;
    if ((rc = load_network(rq, &in->net)) || (rc = sl_select_check(in))) return rc;
    if ((rc = sl_constraints_resolve(rq->constraints, out->device, out->cloud != NULL))) {
        out->user_error = 1;
        return rc;
    }
    if ((rc = sl_select_run(in, &out->sel))) return rc; /* SL_ECONSTRAINT keeps sel */
    if (rq->dads || rq->throughput) {
        const sl_hop *hop = &in->net.hop[SL_HOP_DEVICE_EDGE];
        if ((rc = sl_dag_from_profiles(out->device, out->edge, hop, rq->constraints, &out->dag)))
            return rc;
        if ((rq->dads && (rc = sl_dads_latency(&out->dag, hop->rtt_s, &out->dads))) ||
            (rq->throughput && (rc = sl_dads_throughput(&out->dag, hop->rtt_s, &out->throughput))))
            return rc;
    }
    return SL_OK;
}

void sl_select_outcome_free(sl_select_outcome *out)
{
    if (!out) return;
    sl_dag_free(&out->dag);
    sl_dads_result_free(&out->dads);
    sl_dads_result_free(&out->throughput);
    sl_selection_free(&out->sel);
    sl_profile_free(out->device);
    sl_profile_free(out->edge);
    sl_profile_free(out->cloud);
    memset(out, 0, sizeof *out);
}
