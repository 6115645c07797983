/* test_plan.c: reading the cut a plan chose (single cuts, DADS partitions) and refusing
 * truncated, foreign and mismatched plans with a message naming the file and field. */
#include "common/fsutil.h"
#include "common/status.h"
#include "dag.h"
#include "preprocessor/split.h"
#include "preprocessor/tl.h"
#include "testutil.h"

#include <stdio.h>

static char path[600];

static void put(const char *text)
{
    CHECK_OK(sl_write_file_atomic(path, text, strlen(text)), sl_errmsg());
}

/* A plan in the shape sl-preprocess select writes (docs/formats/plan.md), for hash h. */
static void put_plan(const char *h)
{
    char buf[2048];
    snprintf(
        buf, sizeof buf,
        "{\"format\": \"sl-plan\", \"version\": 1, \"model\": \"dag\", \"graph_hash\": \"%s\",\n"
        " \"best\": {\"rank\": 1, \"cut\": {\"index\": 2, \"tensor\": \"b\", \"kind\": \"slice\"},"
        " \"tl\": \"conv-r4-s2-b8\"},\n"
        " \"best_with_tl\": {\"cut\": {\"index\": 2, \"tensor\": \"b\", \"kind\": \"slice\"},"
        " \"tl\": \"conv-r4-s2-b8\"},\n"
        " \"best_without_tl\": {\"cut\": {\"index\": 0, \"tensor\": \"x\", \"kind\": "
        "\"edge-only\"},"
        " \"tl\": null},\n"
        " \"dads\": {\"mode\": \"latency\", \"cut_tensors\": [{\"tensor\": \"b\", \"raw_image\": "
        "false},"
        " {\"tensor\": \"f\", \"raw_image\": false}]},\n"
        " \"dads_throughput\": null}\n",
        h);
    put(buf);
}

int main(void)
{
    const char *tmp = tu_tmpdir();
    snprintf(path, sizeof path, "%s/plan.json", tmp);
    sl_graph *g = dag_build(8, 8);
    char h[65];
    sl_graph_hash(g, h);
    put_plan(h);
    sl_plan_cut c;
    CHECK_OK(sl_plan_cut_read(path, "best", NULL, &c), sl_errmsg());
    CHECK_EQ(c.n, 1);
    CHECK_STR(c.tensors[0], "b");
    CHECK_STR(c.tl, "conv-r4-s2-b8");
    CHECK_STR(c.kind, "slice");
    CHECK_STR(c.graph_hash, h);
    CHECK_OK(sl_plan_cut_check(&c, path, g), sl_errmsg());
    sl_plan_cut_free(&c);
    CHECK_OK(sl_plan_cut_read(path, "best_without_tl", NULL, &c), sl_errmsg());
    CHECK_STR(c.kind, "edge-only");
    CHECK_STR(c.tl, "");
    sl_plan_cut_free(&c);
    CHECK_OK(sl_plan_cut_read(path, "dads", NULL, &c), sl_errmsg());
    CHECK_EQ(c.n, 2);
    CHECK_STR(c.kind, "dads");
    CHECK(c.n == 2 && !strcmp(c.tensors[0], "b") && !strcmp(c.tensors[1], "f"));
    sl_plan_cut_free(&c);
    CHECK_EQ(sl_plan_cut_read(path, "dads_throughput", NULL, &c), SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "dads_throughput: the plan has no such plan");
    CHECK_EQ(sl_plan_cut_read(path, "worst", NULL, &c), SL_EARG);

    /* A TL graph made from this model accepts the model's plan; another model does not. */
    sl_graph *t = dag_build(8, 8);
    CHECK_OK(sl_tl_insert(t, "b", &(sl_tl_config){SL_TL_CONV, 4, 2, 8}), sl_errmsg());
    CHECK_OK(sl_plan_cut_read(path, "best", NULL, &c), sl_errmsg());
    CHECK_OK(sl_plan_cut_check(&c, path, t), sl_errmsg());
    sl_graph *other = dag_build(16, 16);
    CHECK_EQ(sl_plan_cut_check(&c, path, other), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "was made for another model");
    sl_plan_cut_free(&c);
    /* Reading with the graph checks the hash first, even for an entry that is null. */
    CHECK_OK(sl_plan_cut_read(path, "dads", t, &c), sl_errmsg());
    sl_plan_cut_free(&c);
    CHECK_EQ(sl_plan_cut_read(path, "dads_throughput", other, &c), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "was made for another model");

    /* Truncated, foreign, wrong version, missing fields. */
    char full[2048];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(full, 1, sizeof full - 1, f) : 0;
    if (f) fclose(f);
    full[n] = '\0';
    full[n / 2] = '\0';
    put(full);
    CHECK_EQ(sl_plan_cut_read(path, "best", NULL, &c), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "invalid or truncated JSON");
    CHECK_CONTAINS(sl_errmsg(), path);
    put("{\"format\": \"sl-profile\", \"version\": 1}");
    CHECK_EQ(sl_plan_cut_read(path, "best", NULL, &c), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "not a plan");
    put("{\"format\": \"sl-plan\", \"version\": 2}");
    CHECK_EQ(sl_plan_cut_read(path, "best", NULL, &c), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "version");
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"format\": \"sl-plan\", \"version\": 1, \"model\": \"dag\", "
             "\"graph_hash\": \"%s\", \"best\": {\"tl\": null}}",
             h);
    put(buf);
    CHECK_EQ(sl_plan_cut_read(path, "best", NULL, &c), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "best.cut: missing");
    CHECK_EQ(sl_plan_cut_read(path, "dads", NULL, &c), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "dads: missing");
    CHECK_EQ(c.n, 0);
    snprintf(path, sizeof path, "%s/none.json", tmp);
    CHECK_EQ(sl_plan_cut_read(path, "best", NULL, &c), SL_EIO);
    sl_graph_free(g);
    sl_graph_free(t);
    sl_graph_free(other);
    tu_rmtree(tmp);
    return TU_DONE();
}
