/* test_plan_bundles.c: the manifest of a plan table's bundles (offloader/plan_bundles.h): paths
 * resolved against its folder, one entry per plan, each plan's kind with the files it needs, and
 * refusals naming the field. */
#include "common/fsutil.h"
#include "common/status.h"
#include "offloader/plan_bundles.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

/* Three plans: local-only, a slice, edge-only. */
static const char TABLE[] =
    "{\"format\":\"sl-plan-table\",\"version\":1,\"model\":\"m\",\"graph_hash\":"
    "\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\",\"plans\":["
    "{\"cut\":{\"index\":5,\"tensor\":\"fc\"},\"cut2\":null,\"tl\":null,\"fixed_s\":0.1,"
    "\"upload_bytes\":0,\"pays_rtt\":false},"
    "{\"cut\":{\"index\":2,\"tensor\":\"pool1\"},\"cut2\":null,\"tl\":\"conv\",\"fixed_s\":0.02,"
    "\"upload_bytes\":1000,\"pays_rtt\":true},"
    "{\"cut\":{\"index\":0,\"tensor\":\"image\"},\"cut2\":null,\"tl\":null,\"fixed_s\":0.001,"
    "\"upload_bytes\":3000,\"pays_rtt\":true}]}";

static const char GOOD[] =
    "{\"format\":\"sl-plan-bundles\",\"version\":1,\"table\":\"table.json\",\"pairs\":["
    "{\"plan\":2,\"device\":\"m.h5\",\"edge\":\"m.h5\"},"
    "{\"plan\":0,\"device\":\"m.h5\",\"edge\":null},"
    "{\"plan\":1,\"device\":\"sub/d1.h5\",\"edge\":\"/abs/e1.h5\"}]}";

static char dir[600], manifest[700];

/* Writes GOOD with the first `from` replaced by `to` and reads it: the status, *b filled. */
static int read_with(const char *from, const char *to, sl_plan_bundles *b)
{
    char *buf = from ? tu_subst(GOOD, from, to) : strdup(GOOD);
    if (!buf) return -1;
    int rc = sl_write_file_atomic(manifest, buf, strlen(buf));
    free(buf);
    return rc ? -1 : sl_plan_bundles_read(manifest, b);
}

static void expect_bad(const char *from, const char *to, const char *needle)
{
    sl_plan_bundles b;
    CHECK_EQ(read_with(from, to, &b), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), needle);
    CHECK(b.pairs == NULL && b.table.plans == NULL);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    char table[700], want[800];
    snprintf(table, sizeof table, "%s/table.json", dir);
    snprintf(manifest, sizeof manifest, "%s/plans.json", dir);
    CHECK_OK(sl_write_file_atomic(table, TABLE, strlen(TABLE)), sl_errmsg());

    sl_plan_bundles b;
    CHECK_OK(read_with(NULL, NULL, &b), sl_errmsg());
    CHECK_EQ(b.table.n_plans, 3);
    CHECK_EQ(b.table.n_links, 0);
    if (b.table.n_plans == 3) {
        CHECK_EQ(sl_plan_kind_of(&b.table.plans[0]), SL_PLAN_LOCAL_ONLY);
        CHECK_EQ(sl_plan_kind_of(&b.table.plans[1]), SL_PLAN_SLICE);
        CHECK_EQ(sl_plan_kind_of(&b.table.plans[2]), SL_PLAN_EDGE_ONLY);
        snprintf(want, sizeof want, "%s/m.h5", dir);
        CHECK_STR(b.pairs[0].device, want);
        CHECK_STR(b.pairs[0].edge, "");
        CHECK_STR(b.pairs[2].device, want);
        CHECK_STR(b.pairs[2].edge, want);
        snprintf(want, sizeof want, "%s/sub/d1.h5", dir);
        CHECK_STR(b.pairs[1].device, want);
        CHECK_STR(b.pairs[1].edge, "/abs/e1.h5");
    }
    sl_plan_bundles_free(&b);
    sl_plan_bundles_free(&b);
    CHECK_STR(sl_plan_kind_name(SL_PLAN_EDGE_ONLY), "edge-only");

    expect_bad("sl-plan-bundles", "sl-plan-table", "give the manifest that packs it");
    expect_bad("\"version\":1", "\"version\":2", "version");
    expect_bad(",{\"plan\":0,\"device\":\"m.h5\",\"edge\":null}", "", "2 entries for the table's 3");
    expect_bad("{\"plan\":0,", "{\"plan\":2,", "plan 2 is listed twice");
    expect_bad("{\"plan\":0,", "{\"plan\":3,", "pairs[1].plan: not a plan id");
    expect_bad("\"edge\":null", "\"edge\":\"e.h5\"", "plan 0 is local-only");
    expect_bad("\"edge\":\"/abs/e1.h5\"", "\"edge\":null", "plan 1 (slice) needs an edge file");
    expect_bad("\"edge\":\"m.h5\"", "\"edge\":\"other.h5\"", "both name the same file");
    expect_bad("\"device\":\"sub/d1.h5\"", "\"device\":7", "pairs[2].device");
    CHECK_EQ(read_with("table.json", "nope.json", &b), SL_EIO);
    CHECK_CONTAINS(sl_errmsg(), "plans.json: table: ");
    CHECK(sl_plan_bundles_read("/nonexistent/plans.json", &b) == SL_EIO);
    tu_rmtree(dir);
    return TU_DONE();
}
