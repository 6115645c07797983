/* test_input.c: `fit --arch` takes the model's input size and channels from the data when
 * --input is not given (1 x 32 x 32 gray images make a 1 x 32 x 32 model, not the zoo's
 * 3 x 64 x 64); --input still sets another; --mean / --std land in the model (one value for
 * every channel, or one per channel) and a count that fits no channel count is refused. */
#include "testutil.h"
#include "trainer_data.h"

#include "model/bundle.h"
#include "trainer/train.h"

static sl_graph *fit(const char *data, const char *out, void (*set)(sl_train_opts *), int *rc)
{
    sl_train_opts o;
    sl_train_opts_init(&o);
    o.data = data;
    o.arch = "tinycnn";
    o.out = out;
    o.epochs = 1;
    o.batch = 16;
    o.threads = 2;
    o.workers = 1;
    if (set) set(&o);
    *rc = sl_train_fit(&o, NULL);
    if (*rc != SL_OK) return NULL;
    sl_bundle *b;
    if (sl_bundle_read(out, &b) != SL_OK) return NULL;
    sl_graph *g = b->graph;
    b->graph = NULL;
    sl_bundle_free(b);
    return g;
}

static void set_input(sl_train_opts *o)
{
    o->in_c = 3;
    o->in_h = o->in_w = 24;
}

static void set_norm(sl_train_opts *o)
{
    o->nmean = 1;
    o->mean[0] = 0.42f;
    o->nstd = 1;
    o->std[0] = 0.13f;
}

static void set_bad_norm(sl_train_opts *o)
{
    o->nmean = 3; /* three values for a 1-channel model */
    o->mean[0] = o->mean[1] = o->mean[2] = 0.5f;
}

static void set_rgb_norm(sl_train_opts *o)
{
    set_input(o);
    o->nmean = 3;
    o->mean[0] = 0.1f;
    o->mean[1] = 0.2f;
    o->mean[2] = 0.3f;
}

int main(void)
{
    const char *dir = tu_tmpdir();
    char data[700], out[800];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(out, sizeof out, "%s/m.h5", dir);
    if (td_write(data, 6, 3)) {
        fprintf(stderr, "cannot write the test images: %s\n", sl_errmsg());
        return 1;
    }
    int rc;

    /* from the data: 1 x 32 x 32, the zoo's 1-channel normalisation */
    sl_graph *g = fit(data, out, NULL, &rc);
    CHECK_OK(rc, sl_errmsg());
    if (g) {
        CHECK_EQ(g->input_shape.d[0], 1);
        CHECK_EQ(g->input_shape.d[1], 32);
        CHECK_EQ(g->input_shape.d[2], 32);
        CHECK_NEAR(g->mean[0], 0.5, 1e-6);
        CHECK_NEAR(g->std[0], 0.25, 1e-6);
        sl_graph_free(g);
    }

    /* --input sets another (the images are resized and repeated to 3 channels) */
    g = fit(data, out, set_input, &rc);
    CHECK_OK(rc, sl_errmsg());
    if (g) {
        CHECK_EQ(g->input_shape.d[0], 3);
        CHECK_EQ(g->input_shape.d[1], 24);
        CHECK_NEAR(g->mean[0], 0.485, 1e-6);
        sl_graph_free(g);
    }

    /* --mean / --std: one value for the one channel */
    g = fit(data, out, set_norm, &rc);
    CHECK_OK(rc, sl_errmsg());
    if (g) {
        CHECK_NEAR(g->mean[0], 0.42, 1e-6);
        CHECK_NEAR(g->std[0], 0.13, 1e-6);
        sl_graph_free(g);
    }
    /* one per channel of a 3-channel model; the std stays the zoo's */
    g = fit(data, out, set_rgb_norm, &rc);
    CHECK_OK(rc, sl_errmsg());
    if (g) {
        CHECK_NEAR(g->mean[0], 0.1, 1e-6);
        CHECK_NEAR(g->mean[2], 0.3, 1e-6);
        CHECK_NEAR(g->std[1], 0.224, 1e-6);
        sl_graph_free(g);
    }
    /* three values for one channel: refused, named */
    g = fit(data, out, set_bad_norm, &rc);
    CHECK_EQ(rc, SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "--mean has 3 values but the model's input has 1 channel");
    CHECK(g == NULL);

    tu_rmtree(dir);
    return TU_DONE();
}
