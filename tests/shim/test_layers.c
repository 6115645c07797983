/* test_layers.c: shim layers (conv, transposed conv, batch norm, activations, pools, linear, cat,
 * flatten, dropout, interpolate, softmax) and batch-norm folding, against values worked out by
 * hand. */
#include "shimtest.h"

#define X33 T(4, ST_SHAPE(1, 1, 3, 3), ST_VALS(1, 2, 3, 4, 5, 6, 7, 8, 9))

static void test_conv2d(void)
{
    sl_tensor *x = X33, *o = NULL;
    sl_tensor *w = T(4, ST_SHAPE(1, 1, 2, 2), ST_VALS(1, 2, 3, 4));
    sl_tensor *b = T(1, ST_SHAPE(1), ST_VALS(0.5f));
    /* out[i][j] = x[i][j] + 2 x[i][j+1] + 3 x[i+1][j] + 4 x[i+1][j+1] + 0.5 */
    CHECK_OK(sl_conv2d(x, w, b, NULL, NULL, NULL, 1, &o), sl_torch_last_error());
    CHECK_SHAPE(o, 1, 1, 2, 2);
    CHECK_VALS(o, 1e-5, 37.5f, 47.5f, 67.5f, 77.5f);
    sl_tensor_free(o);

    /* 3x3 ones, stride 2, pad 1: sums of the 2x2 corners. */
    sl_tensor *ones = NULL;
    CHECK_OK(sl_tensor_full(ST_SHAPE(1, 1, 3, 3), 4, SL_DT_F32, 1, &ones), sl_torch_last_error());
    CHECK_OK(sl_conv2d(x, ones, NULL, ST_SHAPE(2, 2), ST_SHAPE(1, 1), ST_SHAPE(1, 1), 1, &o),
             sl_torch_last_error());
    CHECK_VALS(o, 1e-5, 12, 16, 24, 28);
    sl_tensor_free(o);

    /* Dilation 2 with a 2x2 kernel of ones reads the four corners. */
    sl_tensor *w22 = NULL;
    CHECK_OK(sl_tensor_full(ST_SHAPE(1, 1, 2, 2), 4, SL_DT_F32, 1, &w22), sl_torch_last_error());
    CHECK_OK(sl_conv2d(x, w22, NULL, NULL, NULL, ST_SHAPE(2, 2), 1, &o), sl_torch_last_error());
    CHECK_VALS(o, 1e-5, 20);
    sl_tensor_free(o);

    /* Depthwise: groups = 2 scales each channel by its own weight. */
    sl_tensor *x2 = T(4, ST_SHAPE(1, 2, 1, 2), ST_VALS(1, 2, 3, 4));
    sl_tensor *wd = T(4, ST_SHAPE(2, 1, 1, 1), ST_VALS(2, 3));
    CHECK_OK(sl_conv2d(x2, wd, NULL, NULL, NULL, NULL, 2, &o), sl_torch_last_error());
    CHECK_VALS(o, 0, 2, 4, 9, 12);
    sl_tensor_free(o);

    /* Errors: wrong in-channels, kernel larger than input, bias size, NULL weight. */
    o = NULL;
    sl_tensor *w2c = NULL;
    CHECK_OK(sl_tensor_zeros(ST_SHAPE(1, 2, 3, 3), 4, SL_DT_F32, &w2c), sl_torch_last_error());
    CHECK_FAILS(sl_conv2d(x, w2c, NULL, NULL, NULL, NULL, 1, &o), SLT_ESHAPE, "[1, 2, 3, 3]");
    CHECK(strstr(sl_torch_last_error(), "[1, 1, 3, 3]") != NULL);
    CHECK(strstr(sl_torch_last_error(), "sl_conv2d") != NULL);
    sl_tensor *w5 = NULL;
    CHECK_OK(sl_tensor_zeros(ST_SHAPE(1, 1, 5, 5), 4, SL_DT_F32, &w5), sl_torch_last_error());
    CHECK_FAILS(sl_conv2d(x, w5, NULL, NULL, NULL, NULL, 1, &o), SLT_ESHAPE, "kernel");
    sl_tensor *b2 = T(1, ST_SHAPE(2), ST_VALS(1, 2));
    CHECK_FAILS(sl_conv2d(x, w, b2, NULL, NULL, NULL, 1, &o), SLT_ESHAPE, "bias");
    CHECK_FAILS(sl_conv2d(x, NULL, NULL, NULL, NULL, NULL, 1, &o), SLT_EARG, "w is NULL");
    CHECK_FAILS(sl_conv2d(x, w, NULL, ST_SHAPE(0, 1), NULL, NULL, 1, &o), SLT_EARG, "stride");
    CHECK(o == NULL);
    /* The process goes on: the next call works. */
    CHECK_OK(sl_conv2d(x, w, b, NULL, NULL, NULL, 1, &o), sl_torch_last_error());
    CHECK_VALS(o, 1e-5, 37.5f, 47.5f, 67.5f, 77.5f);

    ST_FREE(o, x, w, b, b2, ones, w22, x2, wd, w2c, w5);
}

static void test_conv_transpose2d(void)
{
    sl_tensor *x = T(4, ST_SHAPE(1, 1, 2, 2), ST_VALS(1, 2, 3, 4)), *o = NULL;
    sl_tensor *w2 = NULL, *w3 = NULL;
    CHECK_OK(sl_tensor_full(ST_SHAPE(1, 1, 2, 2), 4, SL_DT_F32, 1, &w2), sl_torch_last_error());
    CHECK_OK(sl_tensor_full(ST_SHAPE(1, 1, 3, 3), 4, SL_DT_F32, 1, &w3), sl_torch_last_error());

    /* Stride 2, 2x2 ones: every input spreads over its own 2x2 block. */
    CHECK_OK(sl_conv_transpose2d(x, w2, NULL, ST_SHAPE(2, 2), NULL, NULL, 1, NULL, &o),
             sl_torch_last_error());
    CHECK_VALS(o, 0, 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4);
    sl_tensor_free(o);

    /* Stride 1: overlapping blocks add up; bias adds to all. */
    sl_tensor *b = T(1, ST_SHAPE(1), ST_VALS(1));
    CHECK_OK(sl_conv_transpose2d(x, w2, b, NULL, NULL, NULL, 1, ST_SHAPE(0, 0), &o),
             sl_torch_last_error());
    CHECK_VALS(o, 0, 2, 4, 3, 5, 11, 7, 4, 8, 5);
    sl_tensor_free(o);

    /* k3 s2 p1 gives 3 by default; asking for 4 sets output_padding 1. Rows of the 4x4 output
     * take input rows {0}, {0,1}, {1}, {1} (same for columns). */
    CHECK_OK(sl_conv_transpose2d(x, w3, NULL, ST_SHAPE(2, 2), ST_SHAPE(1, 1), NULL, 1, NULL, &o),
             sl_torch_last_error());
    CHECK_SHAPE(o, 1, 1, 3, 3);
    sl_tensor_free(o);
    CHECK_OK(sl_conv_transpose2d(x, w3, NULL, ST_SHAPE(2, 2), ST_SHAPE(1, 1), NULL, 1,
                                 ST_SHAPE(4, 4), &o),
             sl_torch_last_error());
    CHECK_SHAPE(o, 1, 1, 4, 4);
    CHECK_VALS(o, 0, 1, 3, 2, 2, 4, 10, 6, 6, 3, 7, 4, 4, 3, 7, 4, 4);
    sl_tensor_free(o);
    /* One dim exact, the other default. */
    CHECK_OK(sl_conv_transpose2d(x, w3, NULL, ST_SHAPE(2, 2), ST_SHAPE(1, 1), NULL, 1,
                                 ST_SHAPE(4, 0), &o),
             sl_torch_last_error());
    CHECK_SHAPE(o, 1, 1, 4, 3);
    sl_tensor_free(o);

    /* Unreachable sizes say which sizes are reachable. */
    o = NULL;
    CHECK_FAILS(sl_conv_transpose2d(x, w3, NULL, ST_SHAPE(2, 2), ST_SHAPE(1, 1), NULL, 1,
                                    ST_SHAPE(5, 4), &o),
                SLT_ESHAPE, "reachable 3..4");
    CHECK_FAILS(sl_conv_transpose2d(x, w3, NULL, ST_SHAPE(2, 2), ST_SHAPE(1, 1), NULL, 1,
                                    ST_SHAPE(4, 2), &o),
                SLT_ESHAPE, "width 2");
    /* Weight {C=2, ...} for a 1-channel input. */
    sl_tensor *wc = NULL;
    CHECK_OK(sl_tensor_zeros(ST_SHAPE(2, 1, 2, 2), 4, SL_DT_F32, &wc), sl_torch_last_error());
    CHECK_FAILS(sl_conv_transpose2d(x, wc, NULL, NULL, NULL, NULL, 1, NULL, &o), SLT_ESHAPE,
                "[2, 1, 2, 2]");
    CHECK(o == NULL);

    ST_FREE(x, w2, w3, b, wc);
}

static void test_batch_norm(void)
{
    /* One channel holding 1, 2, 3, 4: mean 2.5, biased variance 1.25, unbiased 5/3. */
    sl_tensor *x = T(4, ST_SHAPE(2, 1, 1, 2), ST_VALS(1, 2, 3, 4)), *o = NULL;
    sl_tensor *g = T(1, ST_SHAPE(1), ST_VALS(2)), *beta = T(1, ST_SHAPE(1), ST_VALS(1));
    sl_tensor *rm = T(1, ST_SHAPE(1), ST_VALS(0)), *rv = T(1, ST_SHAPE(1), ST_VALS(1));
    double eps = 1e-5, sd = sqrt(1.25 + eps);
    CHECK_OK(sl_batch_norm(x, g, beta, rm, rv, 1, 0.1, eps, &o), sl_torch_last_error());
    CHECK_VALS(o, 1e-5, (float)(-1.5 / sd * 2 + 1), (float)(-0.5 / sd * 2 + 1),
               (float)(0.5 / sd * 2 + 1), (float)(1.5 / sd * 2 + 1));
    sl_tensor_free(o);
    /* Running stats move by momentum 0.1 towards the batch mean and unbiased variance. */
    CHECK_VALS(rm, 1e-6, 0.25f);
    CHECK_VALS(rv, 1e-6, (float)(0.9 + 0.1 * 5.0 / 3.0));

    /* Eval uses the running stats and leaves them alone. */
    double rsd = sqrt(0.9 + 0.1 * 5.0 / 3.0 + eps);
    CHECK_OK(sl_batch_norm(x, g, beta, rm, rv, 0, 0.1, eps, &o), sl_torch_last_error());
    CHECK_VALS(o, 1e-5, (float)(0.75 / rsd * 2 + 1), (float)(1.75 / rsd * 2 + 1),
               (float)(2.75 / rsd * 2 + 1), (float)(3.75 / rsd * 2 + 1));
    sl_tensor_free(o);
    CHECK_VALS(rm, 1e-6, 0.25f);

    /* affine = false, no running stats in training. */
    CHECK_OK(sl_batch_norm(x, NULL, NULL, NULL, NULL, 1, 0.1, 0, &o), sl_torch_last_error());
    CHECK_VALS(o, 1e-5, (float)(-1.5 / sqrt(1.25)), (float)(-0.5 / sqrt(1.25)),
               (float)(0.5 / sqrt(1.25)), (float)(1.5 / sqrt(1.25)));
    sl_tensor_free(o);

    o = NULL;
    sl_tensor *g2 = T(1, ST_SHAPE(2), ST_VALS(1, 1));
    CHECK_FAILS(sl_batch_norm(x, g2, NULL, rm, rv, 0, 0.1, eps, &o), SLT_ESHAPE, "[2]");
    CHECK_FAILS(sl_batch_norm(x, g, beta, NULL, NULL, 0, 0.1, eps, &o), SLT_EARG, "running_mean");
    sl_tensor *single = T(4, ST_SHAPE(1, 1, 1, 1), ST_VALS(3));
    CHECK_FAILS(sl_batch_norm(single, g, beta, rm, rv, 1, 0.1, eps, &o), SLT_ESHAPE,
                "more than 1 value");
    CHECK(o == NULL);

    ST_FREE(x, g, g2, beta, rm, rv, single);
}

static void test_activations(void)
{
    sl_tensor *x = T(1, ST_SHAPE(4), ST_VALS(-4, -1, 1, 7)), *o = NULL;
    CHECK_OK(sl_relu(x, &o), sl_torch_last_error());
    CHECK_VALS(o, 0, 0, 0, 1, 7);
    sl_tensor_free(o);
    CHECK_OK(sl_relu6(x, &o), sl_torch_last_error());
    CHECK_VALS(o, 0, 0, 0, 1, 6);
    sl_tensor_free(o);
    /* hardswish(x) = x * relu6(x + 3) / 6 */
    CHECK_OK(sl_hardswish(x, &o), sl_torch_last_error());
    CHECK_VALS(o, 1e-6, 0, -1.0f / 3, 4.0f / 6, 7);
    sl_tensor_free(o);
    sl_tensor *s = T(1, ST_SHAPE(2), ST_VALS(0, (float)log(3.0)));
    CHECK_OK(sl_sigmoid(s, &o), sl_torch_last_error());
    CHECK_VALS(o, 1e-6, 0.5f, 0.75f);
    sl_tensor_free(o);
    CHECK_OK(sl_softmax(s, 0, &o), sl_torch_last_error());
    CHECK_VALS(o, 1e-6, 0.25f, 0.75f);
    sl_tensor_free(o);
    CHECK_OK(sl_log_softmax(s, -1, &o), sl_torch_last_error());
    CHECK_VALS(o, 1e-6, (float)log(0.25), (float)log(0.75));
    sl_tensor_free(o);

    CHECK_OK(sl_relu_(x), sl_torch_last_error());
    CHECK_VALS(x, 0, 0, 0, 1, 7);
    CHECK_FAILS(sl_relu_(NULL), SLT_EARG, "x is NULL");
    o = NULL;
    CHECK_FAILS(sl_softmax(s, 3, &o), SLT_EARG, "out of range");
    CHECK(o == NULL);
    sl_tensor_free(x);
    sl_tensor_free(s);
}

static void test_pools(void)
{
    sl_tensor *x =
        T(4, ST_SHAPE(1, 1, 4, 4), ST_VALS(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    sl_tensor *o = NULL;
    CHECK_OK(sl_max_pool2d(x, ST_SHAPE(2, 2), NULL, NULL, NULL, 0, &o), sl_torch_last_error());
    CHECK_VALS(o, 0, 5, 7, 13, 15);
    sl_tensor_free(o);
    CHECK_OK(sl_avg_pool2d(x, ST_SHAPE(2, 2), NULL, NULL, 0, 1, &o), sl_torch_last_error());
    CHECK_VALS(o, 1e-6, 2.5f, 4.5f, 10.5f, 12.5f);
    sl_tensor_free(o);
    CHECK_OK(sl_adaptive_avg_pool2d(x, ST_SHAPE(1, 1), &o), sl_torch_last_error());
    CHECK_VALS(o, 1e-6, 7.5f);
    sl_tensor_free(o);
    CHECK_OK(sl_adaptive_avg_pool2d(x, ST_SHAPE(2, 1), &o), sl_torch_last_error());
    CHECK_VALS(o, 1e-6, 3.5f, 11.5f);
    sl_tensor_free(o);

    /* ceil_mode keeps the partial window at the edge of a 3x3 input. */
    sl_tensor *x3 = X33;
    CHECK_OK(sl_max_pool2d(x3, ST_SHAPE(2, 2), ST_SHAPE(2, 2), NULL, NULL, 1, &o),
             sl_torch_last_error());
    CHECK_VALS(o, 0, 5, 6, 8, 9);
    sl_tensor_free(o);
    CHECK_OK(sl_max_pool2d(x3, ST_SHAPE(2, 2), ST_SHAPE(2, 2), NULL, NULL, 0, &o),
             sl_torch_last_error());
    CHECK_VALS(o, 0, 5);
    sl_tensor_free(o);
    /* Kernel 2 with dilation 2 reads x[i][j], x[i][j+2], x[i+2][j], x[i+2][j+2]. */
    CHECK_OK(sl_max_pool2d(x, ST_SHAPE(2, 2), ST_SHAPE(1, 1), NULL, ST_SHAPE(2, 2), 0, &o),
             sl_torch_last_error());
    CHECK_VALS(o, 0, 10, 11, 14, 15);
    sl_tensor_free(o);

    /* Padding: each 2x2 window of a padded 2x2 input holds one real value. */
    sl_tensor *x2 = T(4, ST_SHAPE(1, 1, 2, 2), ST_VALS(1, 2, 3, 4));
    CHECK_OK(sl_avg_pool2d(x2, ST_SHAPE(2, 2), ST_SHAPE(2, 2), ST_SHAPE(1, 1), 0, 0, &o),
             sl_torch_last_error());
    CHECK_VALS(o, 1e-6, 1, 2, 3, 4);
    sl_tensor_free(o);
    CHECK_OK(sl_avg_pool2d(x2, ST_SHAPE(2, 2), ST_SHAPE(2, 2), ST_SHAPE(1, 1), 0, 1, &o),
             sl_torch_last_error());
    CHECK_VALS(o, 1e-6, 0.25f, 0.5f, 0.75f, 1);
    sl_tensor_free(o);

    o = NULL;
    CHECK_FAILS(sl_max_pool2d(x, ST_SHAPE(2, 2), NULL, ST_SHAPE(2, 2), NULL, 0, &o), SLT_EARG,
                "half the kernel");
    CHECK_FAILS(sl_avg_pool2d(x, NULL, NULL, NULL, 0, 1, &o), SLT_EARG, "k is NULL");
    CHECK(o == NULL);
    ST_FREE(x, x3, x2);
}

static void test_linear_cat_flatten(void)
{
    sl_tensor *x = T(2, ST_SHAPE(1, 2), ST_VALS(1, 2)), *o = NULL;
    sl_tensor *w = T(2, ST_SHAPE(3, 2), ST_VALS(1, 0, 0, 1, 1, 1));
    sl_tensor *b = T(1, ST_SHAPE(3), ST_VALS(0, 0, 1));
    CHECK_OK(sl_linear(x, w, b, &o), sl_torch_last_error());
    CHECK_SHAPE(o, 1, 3);
    CHECK_VALS(o, 0, 1, 2, 4);
    sl_tensor_free(o);
    CHECK_OK(sl_linear(x, w, NULL, &o), sl_torch_last_error());
    CHECK_VALS(o, 0, 1, 2, 3);
    sl_tensor_free(o);
    o = NULL;
    sl_tensor *x3 = T(2, ST_SHAPE(1, 3), ST_VALS(1, 2, 3));
    CHECK_FAILS(sl_linear(x3, w, b, &o), SLT_ESHAPE, "[1, 3]");
    CHECK(strstr(sl_torch_last_error(), "[3, 2]") != NULL);
    CHECK(o == NULL);

    sl_tensor *a = T(2, ST_SHAPE(1, 2), ST_VALS(1, 2)), *c = T(2, ST_SHAPE(1, 3), ST_VALS(3, 4, 5));
    const sl_tensor *xs[2] = {a, c};
    CHECK_OK(sl_cat(xs, 2, 1, &o), sl_torch_last_error());
    CHECK_SHAPE(o, 1, 5);
    CHECK_VALS(o, 0, 1, 2, 3, 4, 5);
    sl_tensor_free(o);
    CHECK_OK(sl_cat(xs, 2, -1, &o), sl_torch_last_error());
    CHECK_SHAPE(o, 1, 5);
    sl_tensor_free(o);
    o = NULL;
    CHECK_FAILS(sl_cat(xs, 2, 0, &o), SLT_ESHAPE, "[1, 3]");
    const sl_tensor *withnull[2] = {a, NULL};
    CHECK_FAILS(sl_cat(withnull, 2, 1, &o), SLT_EARG, "xs[1] is NULL");
    CHECK_FAILS(sl_cat(xs, 0, 1, &o), SLT_EARG, "at least one");
    CHECK(o == NULL);

    sl_tensor *z = NULL;
    CHECK_OK(sl_tensor_zeros(ST_SHAPE(2, 3, 4), 3, SL_DT_F32, &z), sl_torch_last_error());
    CHECK_OK(sl_flatten(z, 1, -1, &o), sl_torch_last_error());
    CHECK_SHAPE(o, 2, 12);
    sl_tensor_free(o);
    CHECK_OK(sl_flatten(z, 0, 1, &o), sl_torch_last_error());
    CHECK_SHAPE(o, 6, 4);
    sl_tensor_free(o);

    ST_FREE(x, x3, w, b, a, c, z);
}

static void test_dropout(void)
{
    sl_tensor *x = NULL, *o = NULL;
    CHECK_OK(sl_tensor_full(ST_SHAPE(1000), 1, SL_DT_F32, 1, &x), sl_torch_last_error());
    CHECK_OK(sl_dropout(x, 0.5, 0, &o), sl_torch_last_error());
    double d = -1;
    sl_max_abs_diff(o, x, &d, NULL);
    CHECK_NEAR(d, 0, 0);
    sl_tensor_free(o);
    /* Training: every value is 0 or 1 / (1 - p) = 2, with about half of each. */
    CHECK_OK(sl_dropout(x, 0.5, 1, &o), sl_torch_last_error());
    float v[1000];
    int zeros = 0, twos = 0;
    sl_tensor_to_buffer(o, v, sizeof v);
    for (int i = 0; i < 1000; i++) {
        zeros += v[i] == 0;
        twos += v[i] == 2;
    }
    CHECK_EQ(zeros + twos, 1000);
    CHECK(zeros > 400 && zeros < 600);
    sl_tensor_free(o);
    o = NULL;
    CHECK_FAILS(sl_dropout(x, 1.5, 1, &o), SLT_EARG, "1.5");
    CHECK(o == NULL);
    sl_tensor_free(x);
}

static void test_interpolate(void)
{
    sl_tensor *x = T(4, ST_SHAPE(1, 1, 2, 2), ST_VALS(1, 2, 3, 4)), *o = NULL;
    /* Nearest to 3x3: source index floor(dst * 2 / 3) = 0, 0, 1. */
    CHECK_OK(sl_interpolate(x, SL_INTERP_NEAREST, ST_SHAPE(3, 3), &o), sl_torch_last_error());
    CHECK_VALS(o, 0, 1, 1, 2, 1, 1, 2, 3, 3, 4);
    sl_tensor_free(o);
    /* Bilinear to 4x4, half-pixel centres: weights per axis (1,0), (.75,.25), (.25,.75), (0,1). */
    CHECK_OK(sl_interpolate(x, SL_INTERP_BILINEAR, ST_SHAPE(4, 4), &o), sl_torch_last_error());
    CHECK_VALS(o, 1e-6, 1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3,
               3.25f, 3.75f, 4);
    sl_tensor_free(o);
    /* Odd sizes come out exact. */
    CHECK_OK(sl_interpolate(x, SL_INTERP_NEAREST, ST_SHAPE(5, 7), &o), sl_torch_last_error());
    CHECK_SHAPE(o, 1, 1, 5, 7);
    sl_tensor_free(o);
    o = NULL;
    CHECK_FAILS(sl_interpolate(x, (sl_interp)9, ST_SHAPE(4, 4), &o), SLT_EARG, "mode 9");
    sl_tensor *flat = T(1, ST_SHAPE(4), ST_VALS(1, 2, 3, 4));
    CHECK_FAILS(sl_interpolate(flat, SL_INTERP_NEAREST, ST_SHAPE(4, 4), &o), SLT_ESHAPE, "4 dims");
    CHECK(o == NULL);
    sl_tensor_free(x);
    sl_tensor_free(flat);
}

static void test_fold_batch_norm(void)
{
    sl_tensor *w = T(4, ST_SHAPE(2, 1, 1, 1), ST_VALS(1, 2)),
              *cb = T(1, ST_SHAPE(2), ST_VALS(1, 1));
    sl_tensor *g = T(1, ST_SHAPE(2), ST_VALS(2, 3)), *beta = T(1, ST_SHAPE(2), ST_VALS(0.5f, -1));
    sl_tensor *m = T(1, ST_SHAPE(2), ST_VALS(1, 0)), *v = T(1, ST_SHAPE(2), ST_VALS(3, 8));
    sl_tensor *ow = NULL, *ob = NULL;
    /* eps 1: 1/sqrt(v+eps) = 0.5, 1/3. w' = 1*2*0.5, 2*3/3; b' = 0*.5*2+.5, 1/3*3-1. */
    CHECK_OK(sl_fold_batch_norm(w, cb, g, beta, m, v, 1.0, &ow, &ob), sl_torch_last_error());
    CHECK_SHAPE(ow, 2, 1, 1, 1);
    CHECK_VALS(ow, 1e-6, 1, 2);
    CHECK_VALS(ob, 1e-6, 0.5f, 0);

    /* The folded conv equals conv followed by eval batch norm. */
    sl_tensor *x = T(4, ST_SHAPE(1, 1, 2, 2), ST_VALS(0.5f, -1, 2, 3)), *c = NULL, *bn = NULL;
    sl_tensor *fused = NULL;
    CHECK_OK(sl_conv2d(x, w, cb, NULL, NULL, NULL, 1, &c), sl_torch_last_error());
    CHECK_OK(sl_batch_norm(c, g, beta, m, v, 0, 0.1, 1.0, &bn), sl_torch_last_error());
    CHECK_OK(sl_conv2d(x, ow, ob, NULL, NULL, NULL, 1, &fused), sl_torch_last_error());
    double d = -1;
    CHECK_OK(sl_max_abs_diff(fused, bn, &d, NULL), sl_torch_last_error());
    CHECK(d < 1e-6);
    sl_tensor_free(ow);
    sl_tensor_free(ob);

    /* NULL conv bias, gamma, beta mean 0, 1, 0. */
    CHECK_OK(sl_fold_batch_norm(w, NULL, NULL, NULL, m, v, 1.0, &ow, &ob), sl_torch_last_error());
    CHECK_VALS(ow, 1e-6, 0.5f, 2.0f / 3);
    CHECK_VALS(ob, 1e-6, -0.5f, 0);
    sl_tensor_free(ow);
    sl_tensor_free(ob);

    ow = ob = NULL;
    sl_tensor *m3 = T(1, ST_SHAPE(3), ST_VALS(0, 0, 0));
    CHECK_FAILS(sl_fold_batch_norm(w, NULL, NULL, NULL, m3, v, 1e-5, &ow, &ob), SLT_ESHAPE,
                "bn_mean");
    CHECK_FAILS(sl_fold_batch_norm(w, NULL, NULL, NULL, m, v, 1e-5, &ow, NULL), SLT_EARG,
                "out_b is NULL");
    CHECK(ow == NULL && ob == NULL);

    ST_FREE(w, cb, g, beta, m, m3, v, x, c, bn, fused);
}

int main(void)
{
    test_conv2d();
    test_conv_transpose2d();
    test_batch_norm();
    test_activations();
    test_pools();
    test_linear_cat_flatten();
    test_dropout();
    test_interpolate();
    test_fold_batch_norm();
    return TU_DONE();
}
