/* test_profile_idle.c: the profile's idle gap (`profile --idle-gap`). With a gap, every timed
 * prefix, suffix and edge-side whole run is preceded by that much sleep (checked as a lower
 * bound on the profile's wall time, which the sleeps alone make up), the gap is recorded and
 * survives the JSON, the ends are the whole model back to back (the last cut's prefix: local
 * only) and after the gap (cut 0's suffix: edge-only's edge); without one, both ends are the
 * same back-to-back whole as before. Profiles written before the field read as gap 0; bad gaps
 * are refused by name. No upper time bound: not a `timing` test. */
#include "common/status.h"
#include "common/timeutil.h"
#include "model/zoo.h"
#include "preprocessor/profile.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    sl_graph *g = NULL;
    sl_zoo_opts zo = {.classes = 3, .c = 1, .h = 16, .w = 16, .init = 1};
    CHECK_OK(sl_zoo_build("tinycnn", &zo, &g), sl_errmsg());
    if (!g) return TU_DONE();
    const double gap = 0.005;
    sl_profile_opts o = {.threads = 1, .batch = 1, .warmup = 1, .repeats = 2, .idle_gap_s = gap};
    sl_profile *p = NULL;
    double t0 = sl_now();
    CHECK_OK(sl_profile_measure(g, &o, &p), sl_errmsg());
    double wall = sl_now() - t0;
    if (p) {
        const int last = p->n_cuts - 1, turns = o.warmup + o.repeats;
        CHECK(last >= 3);
        CHECK_NEAR(p->idle_gap_s, gap, 0);
        /* Per inner cut and turn: the prefix, the suffix and the whole after the gap. */
        double slept = (double)(last - 1) * turns * 3 * gap;
        printf("%d cuts, profile %.3f s, of which at least %.3f s asleep\n", p->n_cuts, wall, slept);
        CHECK(wall >= slept);
        CHECK_NEAR(p->cuts[last].prefix_s, p->total_median_s, 0);
        CHECK(p->cuts[0].suffix_s > 0);
        for (int i = 1; i < last; i++)
            CHECK(p->cuts[i].prefix_s > 0 && p->cuts[i].suffix_s > 0);

        /* The gap is written and read back; an older profile without it reads as 0. */
        char *js = sl_profile_to_json(p);
        CHECK(js != NULL);
        sl_profile *q = NULL;
        CHECK_OK(js ? sl_profile_parse(js, "idle.json", &q) : SL_EARG, sl_errmsg());
        if (q) CHECK_NEAR(q->idle_gap_s, gap, 0);
        sl_profile_free(q);
        q = NULL;
        char *old = js ? tu_subst(js, "\"idle_gap_s\":", "\"idle_gap_was\":") : NULL;
        CHECK(old && strcmp(old, js) != 0);
        CHECK_OK(old ? sl_profile_parse(old, "old.json", &q) : SL_EARG, sl_errmsg());
        if (q) CHECK_NEAR(q->idle_gap_s, 0, 0);
        sl_profile_free(q);
        q = NULL;
        char *neg = js ? tu_subst(js, "\"idle_gap_s\":", "\"idle_gap_s\":-1,\"was\":") : NULL;
        CHECK(neg && sl_profile_parse(neg, "neg.json", &q) == SL_EFORMAT);
        CHECK_CONTAINS(sl_errmsg(), "idle_gap_s");
        CHECK(q == NULL);
        free(neg);
        free(old);
        free(js);
    }
    sl_profile_free(p);
    p = NULL;

    /* No gap: both ends are the back-to-back whole, as profiles always had them. */
    o.idle_gap_s = 0;
    CHECK_OK(sl_profile_measure(g, &o, &p), sl_errmsg());
    if (p) {
        CHECK_NEAR(p->idle_gap_s, 0, 0);
        CHECK_NEAR(p->cuts[0].suffix_s, p->total_median_s, 0);
        CHECK_NEAR(p->cuts[p->n_cuts - 1].prefix_s, p->total_median_s, 0);
    }
    sl_profile_free(p);
    p = NULL;

    /* A negative or huge gap is refused before anything runs. */
    o.idle_gap_s = -0.001;
    CHECK_EQ(sl_profile_measure(g, &o, &p), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "idle gap");
    CHECK(p == NULL);
    o.idle_gap_s = 1e9;
    CHECK_EQ(sl_profile_measure(g, &o, &p), SL_EARG);
    sl_graph_free(g);
    return TU_DONE();
}
