/* test_autograd.c: shim losses, gradients, grad mode and inference mode. */
#include "shimtest.h"

static sl_tensor *labels(int n, const int64_t *v)
{
    sl_tensor *t = NULL;
    if (sl_tensor_from_buffer(v, (const int64_t[]){n}, 1, SL_DT_I64, &t))
        fprintf(stderr, "labels: %s\n", sl_torch_last_error());
    return t;
}

static void test_cross_entropy(void)
{
    /* Row 0: uniform over 3 -> ln 3. Row 1: -log softmax([1,2,3])[2] = log(1 + e^-1 + e^-2). */
    sl_tensor *l = T(2, ST_SHAPE(2, 3), ST_VALS(0, 0, 0, 1, 2, 3)), *o = NULL;
    sl_tensor *y = labels(2, (const int64_t[]){0, 2});
    double lse = log(1 + exp(-1.0) + exp(-2.0));
    CHECK_OK(sl_cross_entropy(l, y, 0, &o), sl_torch_last_error());
    CHECK_EQ(sl_tensor_ndim(o), 0);
    CHECK_NEAR(st_item(o), (log(3.0) + lse) / 2, 1e-6);
    sl_tensor_free(o);

    /* Label smoothing 0.3 on row [1,2,3] with target 2: -log p = 2+lse, 1+lse, lse;
     * loss = 0.7 * lse + 0.3 * mean(-log p) = lse + 0.3. */
    sl_tensor *l1 = T(2, ST_SHAPE(1, 3), ST_VALS(1, 2, 3));
    sl_tensor *y1 = labels(1, (const int64_t[]){2});
    CHECK_OK(sl_cross_entropy(l1, y1, 0.3, &o), sl_torch_last_error());
    CHECK_NEAR(st_item(o), lse + 0.3, 1e-6);
    sl_tensor_free(o);

    o = NULL;
    CHECK_FAILS(sl_cross_entropy(l, y1, 0, &o), SLT_ESHAPE, "[1]");
    CHECK(strstr(sl_torch_last_error(), "[2, 3]") != NULL);
    sl_tensor *y_bad = labels(2, (const int64_t[]){0, 3});
    CHECK_FAILS(sl_cross_entropy(l, y_bad, 0, &o), SLT_EARG, "holds 3");
    sl_tensor *yf = T(1, ST_SHAPE(2), ST_VALS(0, 1));
    CHECK_FAILS(sl_cross_entropy(l, yf, 0, &o), SLT_EARG, "int64");
    CHECK_FAILS(sl_cross_entropy(l, y, 1.0, &o), SLT_EARG, "label_smoothing");
    CHECK_FAILS(sl_cross_entropy(NULL, y, 0, &o), SLT_EARG, "logits is NULL");
    CHECK(o == NULL);

    ST_FREE(l, l1, y, y1, y_bad, yf);
}

static void test_mse_kl(void)
{
    sl_tensor *a = T(1, ST_SHAPE(2), ST_VALS(1, 2)), *b = T(1, ST_SHAPE(2), ST_VALS(2, 4));
    sl_tensor *o = NULL;
    CHECK_OK(sl_mse_loss(a, b, &o), sl_torch_last_error());
    CHECK_NEAR(st_item(o), 2.5, 1e-7);
    sl_tensor_free(o);
    o = NULL;
    sl_tensor *c = T(2, ST_SHAPE(2, 1), ST_VALS(2, 4));
    CHECK_FAILS(sl_mse_loss(a, c, &o), SLT_ESHAPE, "[2, 1]");
    CHECK(o == NULL);

    /* KL(t || p) with p = (.5, .5), t = (.25, .75), two identical rows, batchmean: one row's sum.
     */
    float lh = (float)log(0.5);
    sl_tensor *lp = T(2, ST_SHAPE(2, 2), ST_VALS(lh, lh, lh, lh));
    sl_tensor *t = T(2, ST_SHAPE(2, 2), ST_VALS(0.25f, 0.75f, 0.25f, 0.75f));
    sl_tensor *lt =
        T(2, ST_SHAPE(2, 2),
          ST_VALS((float)log(0.25), (float)log(0.75), (float)log(0.25), (float)log(0.75)));
    double want = 0.25 * log(0.25 / 0.5) + 0.75 * log(0.75 / 0.5);
    CHECK_OK(sl_kl_div(lp, t, 0, &o), sl_torch_last_error());
    CHECK_NEAR(st_item(o), want, 1e-6);
    sl_tensor_free(o);
    CHECK_OK(sl_kl_div(lp, lt, 1, &o), sl_torch_last_error());
    CHECK_NEAR(st_item(o), want, 1e-6);
    sl_tensor_free(o);
    o = NULL;
    CHECK_FAILS(sl_kl_div(lp, a, 0, &o), SLT_ESHAPE, "[2, 2]");
    CHECK(o == NULL);

    ST_FREE(a, b, c, lp, t, lt);
}

static void test_backward(void)
{
    sl_tensor *x = T(1, ST_SHAPE(3), ST_VALS(1, 2, 3)), *y = NULL, *s = NULL, *g = NULL;
    CHECK_EQ(sl_tensor_requires_grad(x), 0);
    CHECK_OK(sl_tensor_set_requires_grad(x, 1), sl_torch_last_error());
    CHECK_EQ(sl_tensor_requires_grad(x), 1);
    CHECK_OK(sl_tensor_grad(x, &g), sl_torch_last_error());
    CHECK(g == NULL); /* no gradient yet */

    /* d/dx sum(x * x) = 2x */
    CHECK_OK(sl_mul(x, x, &y), sl_torch_last_error());
    CHECK_EQ(sl_tensor_requires_grad(y), 1);
    CHECK_OK(sl_sum(y, &s), sl_torch_last_error());
    CHECK_OK(sl_backward(s), sl_torch_last_error());
    CHECK_OK(sl_tensor_grad(x, &g), sl_torch_last_error());
    CHECK_VALS(g, 0, 2, 4, 6);
    sl_tensor_free(g);
    /* A non-leaf has no stored gradient. */
    g = (sl_tensor *)1;
    CHECK_OK(sl_tensor_grad(y, &g), sl_torch_last_error());
    CHECK(g == NULL);
    sl_tensor_free(y);
    sl_tensor_free(s);

    /* Gradients accumulate until cleared. */
    CHECK_OK(sl_mul(x, x, &y), sl_torch_last_error());
    CHECK_OK(sl_sum(y, &s), sl_torch_last_error());
    CHECK_OK(sl_backward(s), sl_torch_last_error());
    CHECK_OK(sl_tensor_grad(x, &g), sl_torch_last_error());
    CHECK_VALS(g, 0, 4, 8, 12);
    sl_tensor_free(g);
    CHECK_OK(sl_tensor_zero_grad(x), sl_torch_last_error());
    CHECK_OK(sl_tensor_grad(x, &g), sl_torch_last_error());
    CHECK(g == NULL);

    /* Through a layer: d/dw sum(relu(conv(x, w))) for a 1x1 conv is the sum of positive inputs. */
    sl_tensor *img = T(4, ST_SHAPE(1, 1, 2, 2), ST_VALS(1, -2, 3, 4)), *w = NULL, *c = NULL,
              *r = NULL, *cs = NULL, *gw = NULL;
    CHECK_OK(sl_tensor_full(ST_SHAPE(1, 1, 1, 1), 4, SL_DT_F32, 1, &w), sl_torch_last_error());
    sl_tensor_set_requires_grad(w, 1);
    CHECK_OK(sl_conv2d(img, w, NULL, NULL, NULL, NULL, 1, &c), sl_torch_last_error());
    CHECK_OK(sl_relu(c, &r), sl_torch_last_error());
    CHECK_OK(sl_sum(r, &cs), sl_torch_last_error());
    CHECK_OK(sl_backward(cs), sl_torch_last_error());
    CHECK_OK(sl_tensor_grad(w, &gw), sl_torch_last_error());
    CHECK_VALS(gw, 1e-6, 8);

    /* Errors: non-scalar loss, loss without graph, changing a non-leaf's flag, int grads. */
    CHECK_FAILS(sl_backward(x), SLT_EARG, "[3]");
    sl_tensor *plain = T(1, ST_SHAPE(1), ST_VALS(1));
    CHECK_FAILS(sl_backward(plain), SLT_EARG, "does not require grad");
    CHECK_FAILS(sl_tensor_set_requires_grad(c, 0), SLT_EARG, "not a leaf");
    CHECK_EQ(sl_tensor_requires_grad(c), 1);
    sl_tensor *iv = NULL;
    sl_tensor_zeros(ST_SHAPE(2), 1, SL_DT_I64, &iv);
    CHECK(sl_tensor_set_requires_grad(iv, 1) < 0);
    CHECK_FAILS(sl_backward(NULL), SLT_EARG, "loss is NULL");
    CHECK_FAILS(sl_tensor_grad(NULL, &g), SLT_EARG, "t is NULL");
    CHECK_FAILS(sl_tensor_requires_grad(NULL), SLT_EARG, "t is NULL");
    CHECK_FAILS(sl_tensor_zero_grad(NULL), SLT_EARG, "t is NULL");

    ST_FREE(x, y, s, img, w, c, r, cs, gw, plain, iv);
}

static void test_grad_mode(void)
{
    sl_tensor *x = T(1, ST_SHAPE(2), ST_VALS(1, 2)), *y = NULL, *s = NULL;
    sl_tensor_set_requires_grad(x, 1);
    CHECK_EQ(sl_grad_mode_set(0), 1);
    CHECK_OK(sl_mul(x, x, &y), sl_torch_last_error());
    CHECK_EQ(sl_tensor_requires_grad(y), 0); /* no graph */
    CHECK_OK(sl_sum(y, &s), sl_torch_last_error());
    CHECK_FAILS(sl_backward(s), SLT_EARG, "does not require grad");
    CHECK_EQ(sl_grad_mode_set(1), 0);
    sl_tensor_free(y);
    sl_tensor_free(s);
    CHECK_OK(sl_mul(x, x, &y), sl_torch_last_error());
    CHECK_EQ(sl_tensor_requires_grad(y), 1);
    sl_tensor_free(y);
    sl_tensor_free(x);
}

struct infer_ctx {
    sl_tensor *x, *out;
    int grad_inside;
};

static int infer_fn(void *p)
{
    struct infer_ctx *c = p;
    if (sl_mul_scalar(c->x, 3, &c->out)) return -100;
    c->grad_inside = sl_tensor_requires_grad(c->out);
    return 42;
}

static int failing_fn(void *p)
{
    (void)p;
    return sl_relu(NULL, NULL);
}

static void test_inference(void)
{
    struct infer_ctx c = {T(1, ST_SHAPE(2), ST_VALS(1, -2)), NULL, -1};
    sl_tensor_set_requires_grad(c.x, 1);
    CHECK_EQ(sl_run_inference(infer_fn, &c), 42);
    CHECK_EQ(c.grad_inside, 0);
    CHECK_VALS(c.out, 0, 3, -6);
    /* Grad mode is back afterwards. */
    sl_tensor *y = NULL;
    CHECK_OK(sl_mul_scalar(c.x, 3, &y), sl_torch_last_error());
    CHECK_EQ(sl_tensor_requires_grad(y), 1);
    /* fn's failure comes back unchanged, with its message. */
    CHECK_FAILS(sl_run_inference(failing_fn, NULL), SLT_EARG, "sl_relu: x is NULL");
    CHECK_FAILS(sl_run_inference(NULL, NULL), SLT_EARG, "fn is NULL");
    sl_tensor_free(c.x);
    sl_tensor_free(c.out);
    sl_tensor_free(y);
}

int main(void)
{
    test_cross_entropy();
    test_mse_kl();
    test_backward();
    test_grad_mode();
    test_inference();
    return TU_DONE();
}
