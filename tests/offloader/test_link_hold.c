/* test_link_hold.c: the plan chooser's hold after a switch and its back-off, on synthetic
 * bandwidth series fed with their own timestamps (no wall clock): a switch back waits for the
 * hold, a move on to a third plan does not,
 * fast switches double it up to its cap and a calm spell restores it, a loaded host's bursts of
 * slow-looking requests make it flap without the hold and only a bounded number of times with
 * it, and a real change of the link after such a spell is still followed within the capped hold.
 */
#include "common/status.h"
#include "offloader/link_estimate.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>

/* Two plans crossing at 2 Mbit/s (RTT 0): local-only at 0.1 s, and a split sending 25 kB
 * (200 kbit) on top of 0 s fixed. At 10 Mbit/s the split costs 0.02 s, at 1 Mbit/s 0.2 s. */
static const sl_link_plan PLANS[2] = {{0.1, 0, 0, 3, -1, "fc", "", 0, 0},
                                      {0, 25000, 1, 1, -1, "maxpool", "pool", 0, 0}};

/* One request of the split's bytes at `bw` bit/s at time t; returns the plan to use next and
 * sets *sw when the chooser switched. The device probes with the split's bytes while on
 * local-only, as the adaptive device does when its estimate is moving. */
static int step(sl_link_estimate *e, sl_link_chooser *c, double bw, double t, int *sw)
{
    CHECK_OK(sl_link_observe(e, 25000, 25000 * 8 / bw, 0, t), sl_errmsg());
    return sl_link_choose(c, e, sw);
}

/* An estimate from `prior` bit/s with the given hold and jump run, and a chooser over `plans`
 * starting at plan `start`. */
static void setup(sl_link_estimate *e, sl_link_chooser *c, double prior, double hold_s,
                  int jump_run, const sl_link_plan *plans, int n, int start)
{
    sl_link_config cfg = sl_link_config_default(prior, 0);
    if (jump_run) cfg.jump_run = jump_run;
    cfg.hold_s = hold_s;
    CHECK_OK(sl_link_init(e, &cfg), sl_errmsg());
    CHECK_OK(sl_link_chooser_init(c, plans, n, start), sl_errmsg());
}

/* A clean change right after a switch waits for the hold (2 s on the estimate's clock), then
 * switches at the first estimate after it; the switch after that came within 4 holds, so its
 * hold is 4 s; a switch after a calm spell is back to 2 s. */
static void test_hold(void)
{
    sl_link_estimate e;
    sl_link_chooser c;
    /* jump run 1: every 3x jump restarts the average, so the estimate follows at once */
    setup(&e, &c, 10e6, 2, 1, PLANS, 2, 1);
    int sw, i = 0;
    double down = -1, up = -1, again = -1;
    /* a sample every 0.1 s; 10 -> 1 Mbit/s at 1 s: the first switch has no hold to wait for,
     * it comes with the third slow sample */
    for (; i < 10; i++)
        step(&e, &c, 10e6, i / 10.0, &sw);
    for (; i < 20 && down < 0; i++)
        if (step(&e, &c, 1e6, i / 10.0, &sw) == 0 && sw) down = i / 10.0;
    CHECK_NEAR(down, 1.2, 1e-9);
    CHECK_NEAR(c.hold_s, 2, 0);
    /* back to 10 Mbit/s at once: confirmed after 3 samples, but held until down + 2 s */
    for (; i < 60 && up < 0; i++)
        if (step(&e, &c, 10e6, i / 10.0, &sw) == 1 && sw) up = i / 10.0;
    TU_CHECK_MSG(fabs(up - (down + 2)) < 1e-9, "switched back at %.2f s, the hold ends at %.2f s",
                 up, down + 2);
    CHECK_NEAR(c.hold_s, 4, 0); /* within 4 holds of the previous switch: doubled */
    /* a calm spell longer than 4 holds of 4 s, then a change: the hold is 2 s again */
    for (int end = i + 200; i < end; i++)
        step(&e, &c, 10e6, i / 10.0, &sw);
    for (int end = i + 10; i < end && again < 0; i++)
        if (step(&e, &c, 1e6, i / 10.0, &sw) == 0 && sw) again = i / 10.0;
    CHECK(again > 0);
    CHECK_NEAR(c.hold_s, 2, 0);
    CHECK_EQ(c.switches, 3);
    /* hold_s is checked like the other fields */
    sl_link_config cfg = sl_link_config_default(10e6, 0);
    cfg.hold_s = -1;
    CHECK(sl_link_init(&e, &cfg) == SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "hold_s");
}

/* A move on to a third plan is not held: local-only, a split of 25 kB and edge-only sending
 * 150 kB at 0.02 s less fixed cost. From local-only at a slow prior, a link of 100 Mbit/s makes
 * the split and edge-only both win; the estimate passes through the split first (jump_run 1 and
 * the first samples at 10 Mbit/s), and the move on to edge-only comes 3 samples later, well
 * inside the 2 s hold, since it does not go back. */
static void test_third_plan(void)
{
    static const sl_link_plan three[3] = {{0.1, 0, 0, 3, -1, "fc", "", 0, 0},
                                          {0.03, 25000, 1, 1, -1, "maxpool", "pool", 0, 0},
                                          {0.01, 150000, 1, 0, -1, "image", "", 0, 0}};
    sl_link_estimate e;
    sl_link_chooser c;
    setup(&e, &c, 0.5e6, 2, 1, three, 3, 0);
    int sw, i = 0;
    for (; i < 3; i++) {
        CHECK_OK(sl_link_observe(&e, 25000, 25000 * 8 / 10e6, 0, i / 10.0), sl_errmsg());
        sl_link_choose(&c, &e, &sw);
    }
    CHECK_EQ(c.current, 1);
    for (; i < 6; i++) {
        CHECK_OK(sl_link_observe(&e, 25000, 25000 * 8 / 100e6, 0, i / 10.0), sl_errmsg());
        sl_link_choose(&c, &e, &sw);
    }
    CHECK_EQ(c.current, 2); /* 0.3 s after the first switch, under a 2 s hold */
    CHECK_EQ(c.switches, 2);
    CHECK_NEAR(c.hold_s, 2, 0);
}

/* The series of a loaded host: the link is 10 Mbit/s throughout, a request every 0.1 s, but
 * every 4 s a burst of 6 requests takes 10x as long (the device and the edge waiting for CPU) —
 * far beyond the margin, and longer than `confirm`. Without the hold the chooser leaves for
 * local-only and comes back at every burst; with it, the gaps between switches are at least the
 * hold and grow (2, 4, 8, 16, 16... s), so 120 s of it gives at most 10 switches. Then the link
 * really drops to 1 Mbit/s right after a switch: the chooser follows when that switch's hold
 * ends, within the cap (16 s). */
static void test_load_bursts(void)
{
    for (int hold = 0; hold <= 1; hold++) {
        const double hold_s = hold ? 2 : 0;
        sl_link_estimate e;
        sl_link_chooser c;
        setup(&e, &c, 10e6, hold_s, 0, PLANS, 2, 1);
        int sw, i = 0;
        double t = 0, last = -1, min_gap = 1e9;
        for (; i < 1200; i++, t = i * 0.1) {
            double bw = i % 40 >= 20 && i % 40 < 26 ? 1e6 : 10e6;
            step(&e, &c, bw, t, &sw);
            if (!sw) continue;
            if (last >= 0) min_gap = fmin(min_gap, t - last);
            last = t;
        }
        long flaps = c.switches;
        printf("hold %g s: %ld switches in 120 s of load bursts, closest %.1f s apart\n",
               hold_s, flaps, min_gap);
        if (!hold) {
            CHECK(flaps >= 50); /* two per burst: what the hold is for */
            continue;
        }
        CHECK(flaps >= 2 && flaps <= 10);
        CHECK(min_gap >= hold_s - 1e-9);
        CHECK(c.hold_s <= SL_LINK_HOLD_MAX * hold_s);
        /* the link steady at 10 Mbit/s until the chooser is back on the split, and at once a
         * real drop to 1 Mbit/s: it waits out the hold of that last (fast) switch, at most the
         * cap, then follows */
        for (; i < 1600 && c.current != 1; i++, t = i * 0.1)
            step(&e, &c, 10e6, t, &sw);
        CHECK_EQ(c.current, 1);
        double drop = t, held = c.switch_s + c.hold_s, at = -1;
        for (; i < 2000 && at < 0; i++, t = i * 0.1)
            if (step(&e, &c, 1e6, t, &sw) == 0) at = t;
        printf("a real drop at %.1f s, under a hold of %.0f s: on local-only at %.1f s\n", drop,
               c.hold_s, at);
        TU_CHECK_MSG(at >= held - 1e-9 && at <= held + 0.1 + 1e-9 &&
                         at - drop <= SL_LINK_HOLD_MAX * hold_s + 1e-9,
                     "the real drop at %.1f s followed at %.1f s (hold until %.1f s)", drop, at,
                     held);
    }
}

int main(void)
{
    test_hold();
    test_third_plan();
    test_load_bursts();
    return TU_DONE();
}
