/* test_constraints.c: every constraint flag parses and binds the hand-made selection as
 * expected; malformed criteria and unknown nodes are refused with the criterion quoted; when no
 * plan is left the message counts what each criterion ruled out. */
#include "common/status.h"
#include "fixture.h"
#include "preprocessor/select.h"
#include "testutil.h"

/* Plans of the fixture (see test_select_cost.c): cut1+pool 0.11555 (50 kB), edge-only 0.14635
 * (150 kB raw), local 0.155 (0 B), cut1 0.2344 (200 kB), cut2 0.2503 (100 kB). */
typedef struct expect {
    const char *flag, *value;
    int n_allowed;
    int best_cut, best_tl;
} expect;

/* Adds the n criteria fv (flag, value, flag, value...) to c, resolves c against dev and runs the
 * two-tier selection of dev and edge under it into *s. Returns select's status (its message in
 * sl_errmsg()); a criterion refused on adding or resolving is a failed check. */
static int select_under(sl_constraints *c, sl_profile *dev, sl_profile *edge, const char *const *fv,
                        int n, sl_selection *s)
{
    for (int i = 0; i < n; i++)
        CHECK_OK(sl_constraints_add(c, fv[2 * i], fv[2 * i + 1]), sl_errmsg());
    CHECK_OK(sl_constraints_resolve(c, dev, 0), sl_errmsg());
    sl_select_input in = fx_two_tier(dev, edge);
    in.constraints = c;
    return sl_select_run(&in, s);
}

static void run_one(const expect *e)
{
    sl_profile *dev = fx_device(), *edge = fx_edge();
    sl_constraints c = {0};
    sl_selection s;
    const char *fv[2] = {e->flag, e->value};
    int rc = select_under(&c, dev, edge, fv, 1, &s);
    TU_CHECK_MSG(rc == SL_OK, "%s %s: %s", e->flag, e->value, sl_errmsg());
    TU_CHECK_MSG(s.n_allowed == e->n_allowed, "%s %s: %d allowed, expected %d", e->flag, e->value,
                 s.n_allowed, e->n_allowed);
    if (s.n_allowed) {
        TU_CHECK_MSG(s.plans[0].cut == e->best_cut && s.plans[0].tl == e->best_tl,
                     "%s %s: best is cut %d tl %d", e->flag, e->value, s.plans[0].cut,
                     s.plans[0].tl);
        for (int i = 0; i < s.n_allowed; i++)
            CHECK_EQ(s.plans[i].violated, -1);
        for (int i = s.n_allowed; i < s.n_plans; i++)
            CHECK_EQ(s.plans[i].violated, 0);
    }
    CHECK_EQ(s.excluded[0], s.n_plans - s.n_allowed);
    sl_selection_free(&s);
    sl_constraints_free(&c);
    sl_profile_free(dev);
    sl_profile_free(edge);
}

static void test_each_criterion(void)
{
    static const expect cases[] = {
        {"--max-upload", "0.1MB", 3, 1, 0}, /* drops 150 kB and 200 kB; 100 kB is allowed */
        {"--max-upload", "100000", 3, 1, 0},
        {"--device-only", "conv2", 2, 3, -1}, /* conv2 is block 1: cuts 2 and 3 */
        {"--edge-only", "conv1", 1, 0, -1},   /* only edge-only */
        {"--not-on", "device:maxpool", 1, 0, -1},
        {"--not-on", "edge:fc", 1, 3, -1}, /* fc is the last node: local-only */
        {"--exclude-tier", "edge", 1, 3, -1},
        {"--exclude-tier", "device", 1, 0, -1},
        {"--exclude-tier", "cloud", 5, 1, 0},    /* no cloud in use: nothing excluded */
        {"--max-time", "device:0.06s", 3, 1, 0}, /* device 0, 0.05, 0.051 */
        {"--max-time", "device:60ms", 3, 1, 0},
        {"--max-time", "device:40%", 2, 0, -1}, /* 0.051 > 0.4 * 0.11555 rules out the TL plan */
        {"--max-time", "edge:0.005s", 4, 1, 0}, /* edge-only runs 0.0062 s on the edge */
        {"--tl-at", "conv2", 4, 0, -1},         /* the pool TL at maxpool is ruled out */
        {"--tl-at", "maxpool", 5, 1, 0},        /* the TL's own cut: nothing ruled out */
        {"--tl-at", "conv2,maxpool", 5, 1, 0},  /* a list is a set */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_one(&cases[i]);
}

static void test_malformed(void)
{
    sl_constraints c = {0};
    static const char *bad[][3] = {
        {"--not-on", "conv1", "expected TIER:NODE"},
        {"--not-on", "moon:conv1", "expected TIER:NODE"},
        {"--not-on", "edge:", "no node name"},
        {"--exclude-tier", "fog", "expected device, edge or cloud"},
        {"--max-upload", "lots", "expected a size"},
        {"--max-time", "device", "expected TIER:LIMIT"},
        {"--max-time", "device:fast", "limit must be a time"},
        {"--max-time", "device:150%", "percent must be"},
        {"--max-time", "gpu:10ms", "expected TIER:LIMIT"},
        {"--device-only", "", "missing value"},
        {"--tl-at", "", "missing value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = sl_constraints_add(&c, bad[i][0], bad[i][1]);
        TU_CHECK_MSG(rc == SL_EARG, "%s %s accepted", bad[i][0], bad[i][1]);
        CHECK_CONTAINS(sl_errmsg(), bad[i][2]);
        char quoted[128];
        snprintf(quoted, sizeof quoted, "'%s %s'", bad[i][0], bad[i][1]);
        CHECK_CONTAINS(sl_errmsg(), quoted);
    }
    CHECK_EQ(c.n, 0);

    sl_profile *dev = fx_device();
    CHECK_OK(sl_constraints_add(&c, "--device-only", "conv9"), sl_errmsg());
    CHECK(sl_constraints_resolve(&c, dev, 0) == SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "'--device-only conv9'");
    CHECK_CONTAINS(sl_errmsg(), "no node named 'conv9'");
    sl_constraints_free(&c);

    CHECK_OK(sl_constraints_add(&c, "--tl-at", "maxpool,conv9"), sl_errmsg());
    CHECK(sl_constraints_resolve(&c, dev, 0) == SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "'conv9' is not a cut");
    sl_constraints_free(&c);

    /* several --tl-at flags add to one set: conv2 alone would rule the maxpool TL out */
    sl_profile *edge = fx_edge();
    static const char *const tl_at[4] = {"--tl-at", "conv2", "--tl-at", "maxpool"};
    sl_selection s;
    CHECK_OK(select_under(&c, dev, edge, tl_at, 2, &s), sl_errmsg());
    CHECK_EQ(s.n_allowed, 5);
    CHECK(s.plans[0].cut == 1 && s.plans[0].tl == 0);
    sl_selection_free(&s);
    sl_constraints_free(&c);
    sl_profile_free(edge);

    CHECK_OK(sl_constraints_add(&c, "--cloud-only", "fc"), sl_errmsg());
    CHECK(sl_constraints_resolve(&c, dev, 0) == SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "no cloud tier");
    sl_constraints_free(&c);

    CHECK_OK(sl_constraints_add(&c, "--device-only", "fc"), sl_errmsg());
    CHECK_OK(sl_constraints_add(&c, "--edge-only", "fc"), sl_errmsg());
    CHECK(sl_constraints_resolve(&c, dev, 0) == SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "contradict");
    sl_constraints_free(&c);
    sl_profile_free(dev);
}

static void test_none_satisfies(void)
{
    sl_profile *dev = fx_device(), *edge = fx_edge();
    sl_constraints c = {0};
    static const char *const both[4] = {"--max-upload", "0.01MB", "--exclude-tier", "device"};
    sl_selection s;
    CHECK(select_under(&c, dev, edge, both, 2, &s) == SL_ECONSTRAINT);
    CHECK_EQ(s.n_allowed, 0);
    CHECK_CONTAINS(sl_errmsg(), "no plan satisfies the constraints (5 plans considered)");
    CHECK_CONTAINS(sl_errmsg(), "'--max-upload 0.01MB' rules out 4");
    CHECK_CONTAINS(sl_errmsg(), "'--exclude-tier device' rules out 4");
    sl_selection_free(&s);
    sl_constraints_free(&c);
    sl_profile_free(dev);
    sl_profile_free(edge);
}

int main(void)
{
    test_each_criterion();
    test_malformed();
    test_none_satisfies();
    return TU_DONE();
}
