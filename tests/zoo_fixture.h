/* zoo_fixture.h: zoo models for the tests whose batch norms do real work: random weights with a
 * fixed seed, and non-trivial running statistics and scales, so that folding a batch norm into
 * its conv changes the arithmetic (fresh ones are the identity). */
#ifndef SL_TEST_ZOO_FIXTURE_H
#define SL_TEST_ZOO_FIXTURE_H

#include "common/status.h"
#include "model/zoo.h"
#include "testutil.h"

/* Zoo model arch for classes classes and 3 x hw x hw input, built after sl_manual_seed(seed);
 * every batch norm's running mean, running variance and weight are drawn uniformly from
 * [-0.2, 0.2], [0.5, 1.5] and [0.5, 1.5], and with `bias` its bias from [-0.2, 0.2]. The caller
 * frees the graph (sl_graph_free); NULL after a failed check. */
static inline sl_graph *tz_zoo(const char *arch, int classes, int64_t hw, uint64_t seed, int bias)
{
    sl_graph *g = NULL;
    sl_zoo_opts zo = {.classes = classes, .c = 3, .h = hw, .w = hw, .init = 1};
    sl_manual_seed(seed);
    CHECK_OK(sl_zoo_build(arch, &zo, &g), sl_errmsg());
    for (int i = 0; g && i < g->nnodes; i++)
        if (g->nodes[i].op == SL_OP_BATCH_NORM) {
            sl_init_uniform_(sl_node_param(&g->nodes[i], "running_mean")->t, -0.2, 0.2);
            sl_init_uniform_(sl_node_param(&g->nodes[i], "running_var")->t, 0.5, 1.5);
            sl_init_uniform_(sl_node_param(&g->nodes[i], "weight")->t, 0.5, 1.5);
            if (bias) sl_init_uniform_(sl_node_param(&g->nodes[i], "bias")->t, -0.2, 0.2);
        }
    return g;
}

#endif
