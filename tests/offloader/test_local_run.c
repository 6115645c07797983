/* test_local_run.c: a non-finite logit is an error, never a class; a fallback model is checked
 * against the pair it stands in for (input size, class names, logit count) before it is used. */
#include "common/status.h"
#include "model/zoo.h"
#include "offloader/local_run.h"
#include "testutil.h"

static void test_top1(void)
{
    float v[2][3] = {{0.5f, 2.0f, -1.0f}, {0.5f, NAN, 3.0f}};
    int64_t shape[2] = {2, 3};
    sl_tensor *y = NULL;
    CHECK_OK(sl_tensor_from_buffer(v, shape, 2, SL_DT_F32, &y), sl_torch_last_error());
    int cls = -1;
    double p = -1;
    CHECK_OK(sl_top1(y, 0, &cls, &p), sl_errmsg());
    CHECK_EQ(cls, 1);
    CHECK_NEAR(p, 1.0 / (exp(-1.5) + 1 + exp(-3.0)), 1e-9);
    cls = -1;
    CHECK_EQ(sl_top1(y, 1, &cls, &p), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "logit 1 of 3 is NaN");
    CHECK_EQ(cls, -1);
    sl_tensor_free(y);
    v[1][1] = -INFINITY;
    CHECK_OK(sl_tensor_from_buffer(v, shape, 2, SL_DT_F32, &y), sl_torch_last_error());
    CHECK_EQ(sl_top1(y, 1, &cls, &p), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "logit 1 of 3 is infinite");
    sl_tensor_free(y);
}

/* A runner around a tinycnn graph (no file: only the graph is looked at). */
static sl_runner *runner_of(int classes, int64_t side, const char *const *names)
{
    sl_zoo_opts o = {.classes = classes, .c = 3, .h = side, .w = side};
    sl_graph *g = NULL;
    if (sl_zoo_build("tinycnn", &o, &g) != SL_OK) {
        fprintf(stderr, "zoo: %s\n", sl_errmsg());
        exit(2);
    }
    if (names) sl_graph_set_classes(g, names, classes);
    sl_runner *r = calloc(1, sizeof *r);
    r->bundle = sl_bundle_new(g);
    return r;
}

/* Checks that fallback fb (file fb_file) is refused for the pair (or whole model) whose graph is
 * pg, from file pg_file, with a usage error containing want. */
static void expect_refused(const sl_runner *fb, const char *fb_file, const sl_graph *pg, int whole,
                           const char *pg_file, const char *want)
{
    CHECK_EQ(sl_runner_check_fallback(fb, fb_file, pg, whole, pg_file), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), want);
}

static void test_fallback_check(void)
{
    static const char *const four[] = {"ok", "crack", "pit", "flash"};
    static const char *const four_b[] = {"ok", "crack", "flash", "pit"};
    static const char *const seven[] = {"a", "b", "c", "d", "e", "f", "g"};
    sl_runner *pair = runner_of(4, 32, four), *same = runner_of(4, 32, four);
    const sl_graph *pg = pair->bundle->graph;
    CHECK_OK(sl_runner_check_fallback(same, "base.h5", pg, 0, "device.h5"), sl_errmsg());
    CHECK_OK(sl_runner_check_fallback(same, "base.h5", pg, 1, "model.h5"), sl_errmsg());

    sl_runner *other = runner_of(7, 32, seven), *order = runner_of(4, 32, four_b);
    sl_runner *size = runner_of(4, 48, four), *unnamed = runner_of(4, 32, NULL);
    expect_refused(other, "other.h5", pg, 0, "device.h5",
                   "fallback other.h5 has 7 classes, device.h5 has 4");
    expect_refused(order, "o.h5", pg, 0, "device.h5",
                   "calls class 2 'flash', device.h5 calls it 'pit'");
    expect_refused(size, "s.h5", pg, 0, "device.h5",
                   "takes 3x48x48 images but device.h5 was made for 3x32x32");
    expect_refused(unnamed, "u.h5", pg, 0, "device.h5", "has no class names");
    /* Without names on either side, a whole model's logit count still tells them apart. */
    sl_runner *u7 = runner_of(7, 32, NULL);
    expect_refused(u7, "u7.h5", unnamed->bundle->graph, 1, "m.h5", "gives 7 logits, m.h5 gives 4");
    CHECK_OK(sl_runner_check_fallback(unnamed, "u.h5", u7->bundle->graph, 0, "d.h5"),
             sl_errmsg()); /* a device half without names: nothing more to compare at start */
    sl_runner *all[] = {pair, same, other, order, size, unnamed, u7};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        sl_runner_free(all[i]);
}

int main(void)
{
    test_top1();
    test_fallback_check();
    return TU_DONE();
}
