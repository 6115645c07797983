/* dag.h: the hand-made DAG the model and preprocessor tests share, with a long skip connection.
 *
 *   x -> a(conv) -> b(relu) -+-> c(conv) -+-> e(add) -> f(relu) -> g(conv) -> h(add) -> i(relu)
 *                            +-> d(conv) -+                                   ^
 *                            +------------------------------------------------+
 *   i -> p(adaptive pool) -> fl(flatten) -> fc(linear)
 * Single-tensor cuts: x a b h i p fl fc. {b, f} and {b, c, d} are two- and three-tensor cuts;
 * {c, d} is not (b -> h bypasses it).
 */
#ifndef SL_TESTS_DAG_H
#define SL_TESTS_DAG_H

#include "model/graph.h"

static sl_node *dag_add(sl_graph *g, const char *name, sl_op op, const char *a, const char *b)
{
    sl_attrs at;
    sl_attrs_default(&at);
    if (op == SL_OP_CONV2D) {
        sl_attrs_window(&at, 3, 1, 1);
        at.out = 4;
    } else if (op == SL_OP_ADAPTIVE_AVG_POOL) {
        at.out_hw[0] = at.out_hw[1] = 1;
    } else if (op == SL_OP_LINEAR) {
        at.out = 3;
    }
    const char *in[2] = {a, b};
    return sl_graph_add(g, name, op, in, b ? 2 : 1, &at);
}

/* The DAG above on a 3 x H x W input with freshly initialised (seeded) weights; NULL on error. */
static sl_graph *dag_build(int64_t h, int64_t w)
{
    sl_graph *g = sl_graph_new("dag");
    sl_graph_set_input(g, "x", 3, h, w, NULL, NULL);
    dag_add(g, "a", SL_OP_CONV2D, "x", NULL);
    dag_add(g, "b", SL_OP_RELU, "a", NULL);
    dag_add(g, "c", SL_OP_CONV2D, "b", NULL);
    dag_add(g, "d", SL_OP_CONV2D, "b", NULL);
    dag_add(g, "e", SL_OP_ADD, "c", "d");
    dag_add(g, "f", SL_OP_RELU, "e", NULL);
    dag_add(g, "g", SL_OP_CONV2D, "f", NULL);
    dag_add(g, "h", SL_OP_ADD, "g", "b");
    dag_add(g, "i", SL_OP_RELU, "h", NULL);
    dag_add(g, "p", SL_OP_ADAPTIVE_AVG_POOL, "i", NULL);
    dag_add(g, "fl", SL_OP_FLATTEN, "p", NULL);
    dag_add(g, "fc", SL_OP_LINEAR, "fl", NULL);
    sl_graph_add_output(g, "fc");
    if (sl_graph_validate(g, 0) || sl_graph_alloc_params(g)) {
        sl_graph_free(g);
        return NULL;
    }
    sl_manual_seed(7);
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nparams; j++)
            sl_init_uniform_(g->nodes[i].params[j].t, -0.5, 0.5);
    return g;
}

#endif
