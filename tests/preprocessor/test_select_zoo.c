/* test_select_zoo.c: selection on the real zoo graphs (resnet18, mobilenet_v2, densenet121):
 * profiles built from the graph IR's nodes and cut points with FLOP-proportional times validate,
 * every plan is costed, DADS partitions are valid and never worse than the best single cut, and
 * everything solves in well under a second. */
#include "common/status.h"
#include "common/timeutil.h"
#include "model/graph.h"
#include "model/zoo.h"
#include "preprocessor/mincut.h"
#include "preprocessor/select.h"
#include "fixture.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* A profile of graph `g` on a host doing `flops_per_s` with a fixed per-node overhead. Block
 * times are the sums of node times, so single cuts and DADS price the same partitions alike. */
static sl_profile *profile_of(const sl_graph *g, const char *hash, double flops_per_s)
{
    sl_profile *p = calloc(1, sizeof *p);
    p->model = strdup(g->name);
    memcpy(p->graph_hash, hash, 65);
    p->host = strdup("synthetic");
    p->cpu = strdup("flops model");
    p->date = strdup("2026-11-23T12:00:00Z");
    p->threads = p->batch = p->repeats = 1;
    p->input_name = strdup(g->input_name);
    p->input_rank = 3;
    for (int i = 0; i < 3; i++)
        p->input_shape[i] = g->input_shape.d[i];
    p->input_raw_bytes = sl_shape_numel(&g->input_shape);
    p->input_bytes = 4 * p->input_raw_bytes;
    p->serialise_bytes_per_s = 2e9;
    p->n_nodes = g->nnodes;
    p->nodes = calloc((size_t)g->nnodes, sizeof *p->nodes);
    for (int i = 0; i < g->nnodes; i++) {
        const sl_node *n = &g->nodes[i];
        sl_prof_node *q = &p->nodes[i];
        q->name = strdup(n->name);
        q->op = strdup(sl_op_name(n->op));
        q->n_inputs = n->ninputs;
        q->inputs = calloc((size_t)n->ninputs, sizeof(char *));
        for (int k = 0; k < n->ninputs; k++)
            q->inputs[k] = strdup(n->inputs[k]);
        q->out_rank = n->out.ndim;
        for (int k = 0; k < n->out.ndim; k++)
            q->out_shape[k] = n->out.d[k];
        q->out_bytes = 4 * sl_shape_numel(&n->out);
        q->median_s = (double)sl_node_flops(g, i) / flops_per_s + 2e-6;
    }
    int *idx, n_cuts;
    if (sl_graph_cut_points(g, &idx, &n_cuts)) {
        sl_profile_free(p);
        return NULL;
    }
    p->n_cuts = n_cuts;
    p->cuts = calloc((size_t)n_cuts, sizeof *p->cuts);
    for (int c = 0; c < n_cuts; c++) {
        sl_prof_cut *cu = &p->cuts[c];
        cu->node_index = idx[c];
        if (idx[c] < 0) {
            cu->tensor = strdup(p->input_name);
            cu->rank = 3;
            memcpy(cu->shape, p->input_shape, sizeof cu->shape);
            cu->bytes = p->input_bytes;
            continue;
        }
        const sl_prof_node *q = &p->nodes[idx[c]];
        cu->tensor = strdup(q->name);
        cu->rank = q->out_rank;
        memcpy(cu->shape, q->out_shape, sizeof cu->shape);
        cu->bytes = q->out_bytes;
        if (c == n_cuts - 1 || q->out_rank != 3) continue;
        /* Two TLs as the profile command measures them: the pool stand-in and an 8-bit conv. */
        cu->n_tl = 2;
        cu->tl = calloc(2, sizeof *cu->tl);
        cu->tl[0] = (sl_prof_tl){strdup("pool"), 1e-4, 1e-4, cu->bytes / 4, {0, 0, 0}};
        cu->tl[1] = (sl_prof_tl){strdup("conv-r4-s2-b8"), 3e-4, 3e-4, cu->bytes / 64 + 1, {0, 0, 0}};
    }
    free(idx);
    fx_chain_blocks(p, 1.0);
    return p;
}

static void run_arch(const char *arch)
{
    sl_zoo_opts zo = {0};
    sl_graph *g = NULL;
    int rc = sl_zoo_build(arch, &zo, &g);
    TU_CHECK_MSG(rc == SL_OK, "%s: %s", arch, sl_errmsg());
    if (rc) return;
    char hash[65];
    CHECK_OK(sl_graph_hash(g, hash), sl_errmsg());
    /* A slow device (2 GFLOP/s) and an edge 10x faster. */
    sl_profile *dev = profile_of(g, hash, 2e9), *edge = profile_of(g, hash, 2e10);
    CHECK(dev && edge);
    if (!dev || !edge) goto out;
    CHECK_OK(sl_profile_validate(dev, arch), sl_errmsg());
    CHECK(dev->n_cuts >= 3);

    sl_select_input in = fx_two_tier(dev, edge);
    double t0 = sl_now();
    sl_selection s;
    CHECK_OK(sl_select_run(&in, &s), sl_errmsg());
    double t_sel = sl_now() - t0;
    t0 = sl_now();
    sl_dag dag;
    CHECK_OK(sl_dag_from_profiles(dev, edge, &in.net.hop[SL_HOP_DEVICE_EDGE], NULL, &dag),
             sl_errmsg());
    sl_dads_result dsl, dsh;
    CHECK_OK(sl_dads_latency(&dag, 0.020, &dsl), sl_errmsg());
    double t_dsl = sl_now() - t0;
    t0 = sl_now();
    CHECK_OK(sl_dads_throughput(&dag, 0.020, &dsh), sl_errmsg());
    double t_dsh = sl_now() - t0;
    CHECK(sl_dag_partition_valid(&dag, dsl.on_device));
    CHECK(sl_dag_partition_valid(&dag, dsh.on_device));
    const sl_plan *plain = sl_selection_best(&s, 0);
    CHECK(plain != NULL);
    if (plain) CHECK(dsl.latency_s <= plain->total_s + 1e-9);
    CHECK(dsh.bottleneck_s <= dsl.bottleneck_s + 1e-12);
    TU_CHECK_MSG(t_sel < 1 && t_dsl < 1 && t_dsh < 1, "%s: select %.3f s, DSL %.3f s, DSH %.3f s",
                 arch, t_sel, t_dsl, t_dsh);

    char best[256], best_plain[256];
    sl_plan_format(&in, &s.plans[0], best, sizeof best);
    sl_plan_format(&in, plain ? plain : &s.plans[0], best_plain, sizeof best_plain);
    printf("%s: %d nodes, %d cuts, %d plans (select %.1f ms, DSL %.1f ms, DSH %.1f ms)\n"
           "  best:          %s\n  best w/o TL:   %s\n"
           "  DADS latency:  %.4fs, %d tensors cross\n  DADS through.: bottleneck %.4fs\n",
           arch, dev->n_nodes, dev->n_cuts, s.n_plans, t_sel * 1e3, t_dsl * 1e3, t_dsh * 1e3, best,
           best_plain, dsl.latency_s, dsl.n_crossing, dsh.bottleneck_s);
    sl_dads_result_free(&dsl);
    sl_dads_result_free(&dsh);
    sl_dag_free(&dag);
    sl_selection_free(&s);
out:
    sl_profile_free(dev);
    sl_profile_free(edge);
    sl_graph_free(g);
}

int main(void)
{
    run_arch("resnet18");
    run_arch("mobilenet_v2");
    run_arch("densenet121");
    return TU_DONE();
}
