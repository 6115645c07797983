/* test_cuts.c: single-tensor cut points of zoo models and of a hand-made DAG, written out. */
#include "common/status.h"
#include "dag.h"
#include "model/zoo.h"
#include "testutil.h"

#include <stdlib.h>

static void check_cuts(const char *what, sl_graph *g, const char *const *want, int nwant)
{
    int *idx = NULL, n = 0;
    CHECK_OK(g ? sl_graph_cut_points(g, &idx, &n) : SL_EARG, sl_errmsg());
    TU_CHECK_MSG(n == nwant, "%s: %d cuts, expected %d", what, n, nwant);
    for (int i = 0; i < n && i < nwant; i++) {
        const char *got = idx[i] < 0 ? g->input_name : g->nodes[idx[i]].name;
        TU_CHECK_MSG(!strcmp(got, want[i]), "%s: cut %d is '%s', expected '%s'", what, i, got,
                     want[i]);
    }
    free(idx);
}

static void zoo(const char *arch, const char *const *want, int nwant)
{
    sl_graph *g = NULL;
    sl_zoo_opts o = {.classes = 4, .c = 3, .h = 32, .w = 32, .init = 0};
    CHECK_OK(sl_zoo_build(arch, &o, &g), sl_errmsg());
    check_cuts(arch, g, want, nwant);
    sl_graph_free(g);
}

#define N(a) ((int)(sizeof(a) / sizeof(a)[0]))

int main(void)
{
    /* ResNet: inside a basic block the skip bypasses conv/bn/relu, so only the block's add and
     * relu are cuts; the stem and head are chains. */
    static const char *const resnet18[] = {
        "image",    "conv1",        "bn1",      "relu",         "maxpool",  "layer1.0.add",
        "layer1.0", "layer1.1.add", "layer1.1", "layer2.0.add", "layer2.0", "layer2.1.add",
        "layer2.1", "layer3.0.add", "layer3.0", "layer3.1.add", "layer3.1", "layer4.0.add",
        "layer4.0", "layer4.1.add", "layer4.1", "avgpool",      "flatten",  "fc"};
    zoo("resnet18", resnet18, N(resnet18));

    /* MobileNetV2: blocks without a residual (stride 2 or a channel change: 1, 2, 4, 7, 11, 14,
     * 17) are chains where every layer is a cut; residual blocks (3, 5, 6, 8-10, 12, 13, 15, 16)
     * only at their output. */
    static const char *const mobilenet_v2[] = {"image",
                                               "features.0.0",
                                               "features.0.1",
                                               "features.0",
                                               "features.1.conv.0.0",
                                               "features.1.conv.0.1",
                                               "features.1.conv.0.2",
                                               "features.1.conv.1",
                                               "features.1.conv.2",
                                               "features.2.conv.0.0",
                                               "features.2.conv.0.1",
                                               "features.2.conv.0.2",
                                               "features.2.conv.1.0",
                                               "features.2.conv.1.1",
                                               "features.2.conv.1.2",
                                               "features.2.conv.2",
                                               "features.2.conv.3",
                                               "features.3",
                                               "features.4.conv.0.0",
                                               "features.4.conv.0.1",
                                               "features.4.conv.0.2",
                                               "features.4.conv.1.0",
                                               "features.4.conv.1.1",
                                               "features.4.conv.1.2",
                                               "features.4.conv.2",
                                               "features.4.conv.3",
                                               "features.5",
                                               "features.6",
                                               "features.7.conv.0.0",
                                               "features.7.conv.0.1",
                                               "features.7.conv.0.2",
                                               "features.7.conv.1.0",
                                               "features.7.conv.1.1",
                                               "features.7.conv.1.2",
                                               "features.7.conv.2",
                                               "features.7.conv.3",
                                               "features.8",
                                               "features.9",
                                               "features.10",
                                               "features.11.conv.0.0",
                                               "features.11.conv.0.1",
                                               "features.11.conv.0.2",
                                               "features.11.conv.1.0",
                                               "features.11.conv.1.1",
                                               "features.11.conv.1.2",
                                               "features.11.conv.2",
                                               "features.11.conv.3",
                                               "features.12",
                                               "features.13",
                                               "features.14.conv.0.0",
                                               "features.14.conv.0.1",
                                               "features.14.conv.0.2",
                                               "features.14.conv.1.0",
                                               "features.14.conv.1.1",
                                               "features.14.conv.1.2",
                                               "features.14.conv.2",
                                               "features.14.conv.3",
                                               "features.15",
                                               "features.16",
                                               "features.17.conv.0.0",
                                               "features.17.conv.0.1",
                                               "features.17.conv.0.2",
                                               "features.17.conv.1.0",
                                               "features.17.conv.1.1",
                                               "features.17.conv.1.2",
                                               "features.17.conv.2",
                                               "features.17.conv.3",
                                               "features.18.0",
                                               "features.18.1",
                                               "features.18",
                                               "avgpool",
                                               "flatten",
                                               "classifier.0",
                                               "classifier.1"};
    zoo("mobilenet_v2", mobilenet_v2, N(mobilenet_v2));

    /* DenseNet: every layer of a dense block feeds the block's concat, so a block is one step;
     * transitions are chains. */
    static const char *const densenet121[] = {"image",
                                              "features.conv0",
                                              "features.norm0",
                                              "features.relu0",
                                              "features.pool0",
                                              "features.denseblock1",
                                              "features.transition1.norm",
                                              "features.transition1.relu",
                                              "features.transition1.conv",
                                              "features.transition1.pool",
                                              "features.denseblock2",
                                              "features.transition2.norm",
                                              "features.transition2.relu",
                                              "features.transition2.conv",
                                              "features.transition2.pool",
                                              "features.denseblock3",
                                              "features.transition3.norm",
                                              "features.transition3.relu",
                                              "features.transition3.conv",
                                              "features.transition3.pool",
                                              "features.denseblock4",
                                              "features.norm5",
                                              "relu",
                                              "avgpool",
                                              "flatten",
                                              "classifier"};
    zoo("densenet121", densenet121, N(densenet121));

    /* The hand-made DAG: the skip b -> h bypasses c, d, e, f and g. */
    static const char *const dag[] = {"x", "a", "b", "h", "i", "p", "fl", "fc"};
    sl_graph *g = dag_build(8, 8);
    check_cuts("dag", g, dag, N(dag));
    sl_graph_free(g);
    return TU_DONE();
}
