/* test_optim.c: shim SGD (momentum, dampening, nesterov, weight decay) and Adam against hand
 * computation, learning-rate changes, and state get/set for exact resume. */
#include "shimtest.h"

/* One training step with loss = sum(p * c), so that the gradient of p is exactly c. */
static int step_with(sl_optim *o, sl_tensor *p, const float c[2])
{
    sl_tensor *ct = T(1, ST_SHAPE(2), c), *m = NULL, *s = NULL;
    int rc = sl_optim_zero_grad(o);
    if (!rc) rc = sl_mul(p, ct, &m);
    if (!rc) rc = sl_sum(m, &s);
    if (!rc) rc = sl_backward(s);
    if (!rc) rc = sl_optim_step(o);
    ST_FREE(ct, m, s);
    return rc;
}

static const float C[2] = {0.5f, 1.0f};

static sl_tensor *param(void)
{
    sl_tensor *p = T(1, ST_SHAPE(2), ST_VALS(1, -2));
    sl_tensor_set_requires_grad(p, 1);
    return p;
}

/* CHECK_STEP(o, p, c, tol, values...): one step of o with gradient c (step_with), after which the
 * parameter p holds these values. */
#define CHECK_STEP(o, p, c, tol, ...)                                                              \
    do {                                                                                           \
        CHECK_OK(step_with((o), (p), (c)), sl_torch_last_error());                                 \
        CHECK_VALS((p), (tol), __VA_ARGS__);                                                       \
    } while (0)

/* CHECK_STATE(o, i, name, tol, values...): parameter i's optimiser state `name` holds these
 * values. */
#define CHECK_STATE(o, i, name, tol, ...)                                                          \
    do {                                                                                           \
        sl_tensor *st_ = NULL;                                                                     \
        CHECK_OK(sl_optim_state_get((o), (i), (name), &st_), sl_torch_last_error());               \
        CHECK_VALS(st_, (tol), __VA_ARGS__);                                                       \
        sl_tensor_free(st_);                                                                       \
    } while (0)

static void test_sgd(void)
{
    sl_tensor *p = param(), *buf = NULL;
    sl_optim *o = NULL;

    /* Plain SGD: p -= lr * c; no momentum state. */
    CHECK_OK(sl_optim_sgd_new(&p, 1, 0.1, 0, 0, 0, 0, &o), sl_torch_last_error());
    CHECK_STEP(o, p, C, 1e-7, 0.95f, -2.1f);
    CHECK_OK(sl_optim_state_get(o, 0, "momentum_buffer", &buf), sl_torch_last_error());
    CHECK(buf == NULL);
    sl_optim_free(o);
    sl_tensor_free(p);

    /* Momentum 0.9, weight decay 0.01. Step 1: g = c + wd p = (.51, .98), buf = g,
     * p = (0.949, -2.098). Step 2: g = (.50949, .97902), buf = .9 buf + g = (.96849, 1.86102),
     * p = (0.852151, -2.284102). */
    p = param();
    CHECK_OK(sl_optim_sgd_new(&p, 1, 0.1, 0.9, 0, 0.01, 0, &o), sl_torch_last_error());
    CHECK_STEP(o, p, C, 1e-6, 0.949f, -2.098f);
    CHECK_STATE(o, 0, "momentum_buffer", 1e-6, 0.51f, 0.98f);
    CHECK_STEP(o, p, C, 1e-6, 0.852151f, -2.284102f);
    CHECK_STATE(o, 0, "momentum_buffer", 1e-6, 0.96849f, 1.86102f);
    sl_optim_free(o);
    sl_tensor_free(p);

    /* Nesterov, momentum 0.9: step 1 d = c + .9 c = 1.9 c; step 2 buf = 1.9 c, d = c + .9 buf =
     * 2.71 c. p = p0 - .1 (1.9 + 2.71) c. */
    p = param();
    CHECK_OK(sl_optim_sgd_new(&p, 1, 0.1, 0.9, 0, 0, 1, &o), sl_torch_last_error());
    CHECK_STEP(o, p, C, 1e-6, 0.905f, -2.19f);
    CHECK_STEP(o, p, C, 1e-6, 0.7695f, -2.461f);
    sl_optim_free(o);
    sl_tensor_free(p);

    /* Dampening 0.5: the first step takes g whole, the second buf = .9 g + .5 g = 1.4 g. */
    p = param();
    CHECK_OK(sl_optim_sgd_new(&p, 1, 0.1, 0.9, 0.5, 0, 0, &o), sl_torch_last_error());
    CHECK_OK(step_with(o, p, C), sl_torch_last_error());
    CHECK_STEP(o, p, C, 1e-6, 1 - 0.24f * 0.5f, -2 - 0.24f);

    /* The learning rate can change between steps. */
    CHECK_NEAR(sl_optim_lr(o), 0.1, 0);
    CHECK_OK(sl_optim_set_lr(o, 0.0), sl_torch_last_error());
    CHECK_NEAR(sl_optim_lr(o), 0.0, 0);
    CHECK_STEP(o, p, C, 1e-6, 1 - 0.24f * 0.5f, -2 - 0.24f);
    CHECK_FAILS(sl_optim_set_lr(o, -1), SLT_EARG, "-1");
    CHECK_NEAR(sl_optim_lr(o), 0.0, 0);
    sl_optim_free(o);
    sl_tensor_free(p);
}

static void test_adam(void)
{
    const double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const float c2[2] = {1.0f, 0.0f};
    sl_tensor *p = param(), *st = NULL;
    sl_optim *o = NULL;
    CHECK_OK(sl_optim_adam_new(&p, 1, lr, b1, b2, eps, 0, &o), sl_torch_last_error());
    CHECK_OK(sl_optim_state_get(o, 0, "exp_avg", &st), sl_torch_last_error());
    CHECK(st == NULL);

    /* Step 1: m = .1 g, v = .001 g^2; bias-corrected m^ = g, v^ = g^2: p -= lr g / (|g| + eps). */
    CHECK_OK(step_with(o, p, C), sl_torch_last_error());
    double p0 = 1 - lr * C[0] / (C[0] + eps), p1 = -2 - lr * C[1] / (C[1] + eps);
    CHECK_VALS(p, 1e-6, (float)p0, (float)p1);
    CHECK_STATE(o, 0, "exp_avg", 1e-8, 0.05f, 0.1f);
    CHECK_STATE(o, 0, "exp_avg_sq", 1e-9, 0.00025f, 0.001f);
    CHECK_STATE(o, 0, "step", 0, 1);

    /* Step 2 with a different gradient, worked out from the update rule. */
    CHECK_OK(step_with(o, p, c2), sl_torch_last_error());
    double m[2], v[2], want[2] = {p0, p1};
    for (int i = 0; i < 2; i++) {
        m[i] = b1 * (1 - b1) * C[i] + (1 - b1) * c2[i];
        v[i] = b2 * (1 - b2) * C[i] * C[i] + (1 - b2) * c2[i] * c2[i];
        double mh = m[i] / (1 - b1 * b1), vh = v[i] / (1 - b2 * b2);
        want[i] -= lr * mh / (sqrt(vh) + eps);
    }
    CHECK_VALS(p, 1e-6, (float)want[0], (float)want[1]);
    CHECK_STATE(o, 0, "exp_avg", 1e-7, (float)m[0], (float)m[1]);
    sl_optim_free(o);
    sl_tensor_free(p);

    /* Weight decay adds wd * p to the gradient before the moments: step 1 moves by lr * sign. */
    p = param();
    CHECK_OK(sl_optim_adam_new(&p, 1, lr, b1, b2, eps, 0.1, &o), sl_torch_last_error());
    CHECK_OK(step_with(o, p, C), sl_torch_last_error());
    CHECK_STATE(o, 0, "exp_avg", 1e-7, 0.1f * (0.5f + 0.1f * 1), 0.1f * (1.0f - 0.1f * 2));
    sl_optim_free(o);
    sl_tensor_free(p);
}

/* A fresh optimiser over *p: Adam (lr 0.01, betas 0.8 / 0.95, eps 1e-6, weight decay 0.02) or
 * SGD (lr 0.05, momentum 0.9, dampening 0.1, weight decay 0.01), as check_resume compares them. */
static sl_optim *resume_optim(int adam, sl_tensor **p)
{
    sl_optim *o = NULL;
    if (adam)
        CHECK_OK(sl_optim_adam_new(p, 1, 0.01, 0.8, 0.95, 1e-6, 0.02, &o), sl_torch_last_error());
    else
        CHECK_OK(sl_optim_sgd_new(p, 1, 0.05, 0.9, 0.1, 0.01, 0, &o), sl_torch_last_error());
    return o;
}

/* Steps optimiser A twice, copies its state into a fresh B over a copy of A's parameter, steps
 * both once more with the same gradient: the parameters must agree bit for bit. */
static void check_resume(int adam)
{
    static const char *sgd_names[] = {"momentum_buffer"};
    static const char *adam_names[] = {"exp_avg", "exp_avg_sq", "step"};
    const char **names = adam ? adam_names : sgd_names;
    int nnames = adam ? 3 : 1;
    const float c1[2] = {0.3f, -0.7f}, c2[2] = {-1.1f, 0.25f}, c3[2] = {0.9f, 0.4f};

    sl_tensor *pa = param(), *pb = NULL;
    sl_optim *a = resume_optim(adam, &pa);
    CHECK_OK(step_with(a, pa, c1), sl_torch_last_error());
    CHECK_OK(step_with(a, pa, c2), sl_torch_last_error());

    CHECK_OK(sl_tensor_clone(pa, &pb), sl_torch_last_error());
    sl_tensor_set_requires_grad(pb, 1);
    sl_optim *b = resume_optim(adam, &pb);
    for (int i = 0; i < nnames; i++) {
        sl_tensor *s = NULL;
        CHECK_OK(sl_optim_state_get(a, 0, names[i], &s), sl_torch_last_error());
        CHECK(s != NULL);
        CHECK_OK(sl_optim_state_set(b, 0, names[i], s), sl_torch_last_error());
        sl_tensor_free(s);
    }
    CHECK_OK(step_with(a, pa, c3), sl_torch_last_error());
    CHECK_OK(step_with(b, pb, c3), sl_torch_last_error());
    double d = -1, mx = 0;
    CHECK_OK(sl_max_abs_diff(pa, pb, &d, &mx), sl_torch_last_error());
    TU_CHECK_MSG(d == 0 && mx > 0, "%s resume differs by %g", adam ? "Adam" : "SGD", d);

    /* Without the state, B's next step would have differed. */
    sl_tensor *pc = NULL;
    CHECK_OK(sl_tensor_clone(pa, &pc), sl_torch_last_error());
    sl_tensor_set_requires_grad(pc, 1);
    sl_optim *c = resume_optim(adam, &pc);
    CHECK_OK(step_with(a, pa, c3), sl_torch_last_error());
    CHECK_OK(step_with(c, pc, c3), sl_torch_last_error());
    CHECK_OK(sl_max_abs_diff(pa, pc, &d, NULL), sl_torch_last_error());
    CHECK(d > 0);

    sl_optim_free(a);
    sl_optim_free(b);
    sl_optim_free(c);
    ST_FREE(pa, pb, pc);
}

static void test_errors(void)
{
    sl_tensor *p = param(), *q = param(), *st = NULL;
    sl_optim *o = NULL;

    /* Parameters must be leaves that require grad. */
    sl_tensor *plain = T(1, ST_SHAPE(2), ST_VALS(1, 2)), *nonleaf = NULL;
    CHECK_FAILS(sl_optim_sgd_new(&plain, 1, 0.1, 0, 0, 0, 0, &o), SLT_EARG, "params[0]");
    CHECK_OK(sl_mul_scalar(p, 2, &nonleaf), sl_torch_last_error());
    sl_tensor *two[2] = {p, nonleaf};
    CHECK_FAILS(sl_optim_adam_new(two, 2, 0.1, 0.9, 0.999, 1e-8, 0, &o), SLT_EARG, "params[1]");
    sl_tensor *withnull[2] = {p, NULL};
    CHECK_FAILS(sl_optim_sgd_new(withnull, 2, 0.1, 0, 0, 0, 0, &o), SLT_EARG, "params[1] is NULL");
    CHECK_FAILS(sl_optim_sgd_new(&p, 1, 0.1, 0.9, 0.1, 0, 1, &o), SLT_EARG, "nesterov");
    CHECK_FAILS(sl_optim_sgd_new(&p, 1, -0.1, 0, 0, 0, 0, &o), SLT_EARG, "learning rate");
    CHECK_FAILS(sl_optim_adam_new(&p, 1, 0.1, 1.0, 0.999, 1e-8, 0, &o), SLT_EARG, "beta1");
    CHECK(o == NULL);

    /* State: indices, names, shapes. */
    sl_tensor *pq[2] = {p, q};
    CHECK_OK(sl_optim_adam_new(pq, 2, 0.1, 0.9, 0.999, 1e-8, 0, &o), sl_torch_last_error());
    CHECK_FAILS(sl_optim_state_get(o, 2, "exp_avg", &st), SLT_EARG, "param_index 2");
    CHECK_FAILS(sl_optim_state_get(o, 0, "momentum_buffer", &st), SLT_EARG, "momentum_buffer");
    CHECK(strstr(sl_torch_last_error(), "exp_avg, exp_avg_sq, step") != NULL);
    sl_tensor *three = T(1, ST_SHAPE(3), ST_VALS(1, 2, 3));
    CHECK_FAILS(sl_optim_state_set(o, 1, "exp_avg", three), SLT_ESHAPE, "[3]");
    CHECK_FAILS(sl_optim_state_set(o, 1, "step", three), SLT_ESHAPE, "one element");
    sl_tensor *half = T(1, ST_SHAPE(1), ST_VALS(1.5f));
    CHECK_FAILS(sl_optim_state_set(o, 1, "step", half), SLT_EARG, "1.5");
    CHECK(st == NULL);

    /* Setting one Adam entry creates the rest: exp_avg_sq zeros, step 0. */
    sl_tensor *ea = T(1, ST_SHAPE(2), ST_VALS(0.5f, 0.25f));
    CHECK_OK(sl_optim_state_set(o, 1, "exp_avg", ea), sl_torch_last_error());
    CHECK_STATE(o, 1, "exp_avg_sq", 0, 0, 0);
    CHECK_STATE(o, 1, "step", 0, 0);
    CHECK_STATE(o, 1, "exp_avg", 0, 0.5f, 0.25f);
    CHECK_OK(sl_optim_state_get(o, 0, "exp_avg", &st), sl_torch_last_error());
    CHECK(st == NULL); /* the other parameter is untouched */

    CHECK_FAILS(sl_optim_step(NULL), SLT_EARG, "o is NULL");
    CHECK_FAILS(sl_optim_zero_grad(NULL), SLT_EARG, "o is NULL");
    CHECK_FAILS(sl_optim_state_get(NULL, 0, "exp_avg", &st), SLT_EARG, "o is NULL");
    CHECK_NEAR(sl_optim_lr(NULL), -1, 0);
    sl_optim_free(NULL);

    sl_optim_free(o);
    ST_FREE(p, q, plain, nonleaf, three, half, ea);
}

int main(void)
{
    test_sgd();
    test_adam();
    check_resume(0);
    check_resume(1);
    test_errors();
    return TU_DONE();
}
