/* test_quant_init_threads.c: shim uint8 quantisation, initialisers and randomness (with a parity
 * check against PyTorch when $SL_PYTHON is set), thread count and per-thread error messages. */
#include "shimtest.h"

#include <float.h>
#include <pthread.h>

static void test_quant_params(void)
{
    double s = 0;
    int64_t zp = -1;
    /* [-1, 3]: scale 4/255 (in float), zero point round(1 / scale) = round(63.75) = 64. */
    sl_tensor *x = T(1, ST_SHAPE(4), ST_VALS(-1, 0, 3, 1));
    CHECK_OK(sl_quant_params(x, &s, &zp), sl_torch_last_error());
    CHECK_NEAR(s, (double)(4.0f / 255.0f), 0);
    CHECK_EQ(zp, 64);
    /* Only positive values: the range still includes 0, so zp = 0. */
    sl_tensor *pos = T(1, ST_SHAPE(2), ST_VALS(1, 2));
    CHECK_OK(sl_quant_params(pos, &s, &zp), sl_torch_last_error());
    CHECK_NEAR(s, (double)(2.0f / 255.0f), 0);
    CHECK_EQ(zp, 0);
    /* Only negative values: zp = 255. */
    sl_tensor *neg = T(1, ST_SHAPE(2), ST_VALS(-2, -1));
    CHECK_OK(sl_quant_params(neg, &s, &zp), sl_torch_last_error());
    CHECK_NEAR(s, (double)(2.0f / 255.0f), 0);
    CHECK_EQ(zp, 255);
    /* All zeros: the scale floors at float32 epsilon. */
    sl_tensor *z = NULL;
    sl_tensor_zeros(ST_SHAPE(3), 1, SL_DT_F32, &z);
    CHECK_OK(sl_quant_params(z, &s, &zp), sl_torch_last_error());
    CHECK_NEAR(s, FLT_EPSILON, 0);
    CHECK_EQ(zp, 0);

    sl_tensor *empty = NULL, *u8 = NULL;
    sl_tensor_zeros(ST_SHAPE(0), 1, SL_DT_F32, &empty);
    sl_tensor_zeros(ST_SHAPE(2), 1, SL_DT_U8, &u8);
    s = -1;
    CHECK_FAILS(sl_quant_params(empty, &s, &zp), SLT_EARG, "empty");
    CHECK_FAILS(sl_quant_params(u8, &s, &zp), SLT_EARG, "float32");
    CHECK_FAILS(sl_quant_params(NULL, &s, &zp), SLT_EARG, "x is NULL");
    CHECK(s == -1);
    ST_FREE(x, pos, neg, z, empty, u8);
}

static void test_quantize(void)
{
    const double s = 4.0f / 255.0f;
    sl_tensor *x = T(1, ST_SHAPE(5), ST_VALS(-1, 0, 3, 1, 10)), *q = NULL, *d = NULL, *f = NULL;
    /* x / s + 64: -63.75+64 -> 0, 64, 191.25+64 -> 255, 63.75+64 -> 128, 10 clamps to 255. */
    CHECK_OK(sl_quantize_u8(x, s, 64, &q), sl_torch_last_error());
    CHECK_EQ(sl_tensor_dtype(q), SL_DT_U8);
    uint8_t codes[5] = {0};
    CHECK_OK(sl_tensor_to_buffer(q, codes, sizeof codes), sl_torch_last_error());
    CHECK(codes[0] == 0 && codes[1] == 64 && codes[2] == 255 && codes[3] == 128 && codes[4] == 255);
    CHECK_OK(sl_dequantize_u8(q, s, 64, &d), sl_torch_last_error());
    CHECK_VALS(d, 1e-6, (float)(-64 * s), 0, (float)(191 * s), (float)(64 * s), (float)(191 * s));

    /* Fake quantisation gives the same floats as quantise + dequantise. */
    CHECK_OK(sl_fake_quant_u8(x, s, 64, &f), sl_torch_last_error());
    double diff = -1;
    CHECK_OK(sl_max_abs_diff(f, d, &diff, NULL), sl_torch_last_error());
    CHECK(diff == 0);
    ST_FREE(q, d, f);

    /* Round trip of random data: error at most half a step. */
    sl_tensor *r = NULL;
    double rs = 0;
    int64_t rz = 0;
    sl_manual_seed(3);
    CHECK_OK(sl_tensor_randn(ST_SHAPE(64, 64), 2, &r), sl_torch_last_error());
    CHECK_OK(sl_quant_params(r, &rs, &rz), sl_torch_last_error());
    CHECK_OK(sl_quantize_u8(r, rs, rz, &q), sl_torch_last_error());
    CHECK_OK(sl_dequantize_u8(q, rs, rz, &d), sl_torch_last_error());
    CHECK_OK(sl_max_abs_diff(d, r, &diff, NULL), sl_torch_last_error());
    TU_CHECK_MSG(diff <= rs / 2 * (1 + 1e-5), "round trip error %g > scale/2 = %g", diff, rs / 2);
    CHECK(diff > 0);
    ST_FREE(q, d, r);

    /* Straight-through gradient: 1 inside the representable range, 0 where it clamps. */
    sl_tensor *g = T(1, ST_SHAPE(3), ST_VALS(0.5f, 10, -5)), *sum = NULL, *grad = NULL;
    sl_tensor_set_requires_grad(g, 1);
    CHECK_OK(sl_fake_quant_u8(g, s, 64, &f), sl_torch_last_error());
    CHECK_OK(sl_sum(f, &sum), sl_torch_last_error());
    CHECK_OK(sl_backward(sum), sl_torch_last_error());
    CHECK_OK(sl_tensor_grad(g, &grad), sl_torch_last_error());
    CHECK_VALS(grad, 0, 1, 0, 0);

    q = NULL;
    CHECK_FAILS(sl_quantize_u8(x, 0, 64, &q), SLT_EARG, "scale");
    CHECK_FAILS(sl_quantize_u8(x, s, 300, &q), SLT_EARG, "zero_point 300");
    CHECK_FAILS(sl_dequantize_u8(x, s, 64, &q), SLT_EARG, "uint8");
    CHECK_FAILS(sl_fake_quant_u8(x, NAN, 64, &q), SLT_EARG, "scale");
    CHECK_FAILS(sl_quantize_u8(NULL, s, 64, &q), SLT_EARG, "x is NULL");
    CHECK(q == NULL);

    ST_FREE(x, g, f, sum, grad);
}

/* Mean and standard deviation of a float tensor's values. */
static void moments(const sl_tensor *t, double *mean, double *sd, double *maxabs)
{
    static float buf[16384];
    int64_t n = sl_tensor_numel(t);
    *mean = *sd = *maxabs = NAN;
    if (n <= 0 || n > 16384 || sl_tensor_to_buffer(t, buf, (size_t)n * sizeof(float))) return;
    double s = 0, s2 = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        s += buf[i];
        s2 += (double)buf[i] * buf[i];
        m = fmax(m, fabs(buf[i]));
    }
    *mean = s / n;
    *sd = sqrt(s2 / n - *mean * *mean);
    *maxabs = m;
}

static void test_init(void)
{
    double mean, sd, mx, lo, hi;
    sl_tensor *a = NULL, *b = NULL, *w = NULL;

    /* Same seed, same numbers; uniform in [0, 1). */
    sl_manual_seed(7);
    CHECK_OK(sl_tensor_rand(ST_SHAPE(100), 1, &a), sl_torch_last_error());
    sl_manual_seed(7);
    CHECK_OK(sl_tensor_rand(ST_SHAPE(100), 1, &b), sl_torch_last_error());
    double d = -1;
    CHECK_OK(sl_max_abs_diff(a, b, &d, NULL), sl_torch_last_error());
    CHECK(d == 0);
    CHECK_OK(sl_minmax(a, &lo, &hi), sl_torch_last_error());
    CHECK(lo >= 0 && hi < 1 && hi > lo);
    sl_tensor_free(a);
    sl_tensor_free(b);

    CHECK_OK(sl_tensor_randn(ST_SHAPE(16384), 1, &a), sl_torch_last_error());
    moments(a, &mean, &sd, &mx);
    CHECK_NEAR(mean, 0, 0.05);
    CHECK_NEAR(sd, 1, 0.05);
    sl_tensor_free(a);

    /* Kaiming normal, relu gain sqrt 2: std = sqrt(2 / fan); fan_out = 64*9, fan_in = 16*9. */
    CHECK_OK(sl_tensor_empty(ST_SHAPE(64, 16, 3, 3), 4, SL_DT_F32, &w), sl_torch_last_error());
    CHECK_OK(sl_init_kaiming_normal_(w, 1), sl_torch_last_error());
    moments(w, &mean, &sd, &mx);
    CHECK_NEAR(sd, sqrt(2.0 / 576), 0.05 * sqrt(2.0 / 576));
    CHECK_OK(sl_init_kaiming_normal_(w, 0), sl_torch_last_error());
    moments(w, &mean, &sd, &mx);
    CHECK_NEAR(sd, sqrt(2.0 / 144), 0.05 * sqrt(2.0 / 144));
    sl_tensor_free(w);

    /* Kaiming uniform with a = sqrt 5 (PyTorch's conv default): bound = 1 / sqrt(fan_in). */
    CHECK_OK(sl_tensor_empty(ST_SHAPE(32, 8, 3, 3), 4, SL_DT_F32, &w), sl_torch_last_error());
    sl_tensor_set_requires_grad(w, 1); /* parameters are initialised outside autograd */
    CHECK_OK(sl_init_kaiming_uniform_(w, sqrt(5.0)), sl_torch_last_error());
    moments(w, &mean, &sd, &mx);
    CHECK(mx <= 1 / sqrt(72.0) && mx > 0.95 / sqrt(72.0));
    CHECK_EQ(sl_tensor_requires_grad(w), 1);

    CHECK_OK(sl_init_uniform_(w, -2, 3), sl_torch_last_error());
    CHECK_OK(sl_minmax(w, &lo, &hi), sl_torch_last_error());
    CHECK(lo >= -2 && hi < 3 && lo < -1.9 && hi > 2.9);
    CHECK_OK(sl_init_normal_(w, 5, 0.1), sl_torch_last_error());
    moments(w, &mean, &sd, &mx);
    CHECK_NEAR(mean, 5, 0.01);
    CHECK_NEAR(sd, 0.1, 0.01);
    CHECK_OK(sl_init_constant_(w, 0.25), sl_torch_last_error());
    CHECK_OK(sl_minmax(w, &lo, &hi), sl_torch_last_error());
    CHECK(lo == 0.25 && hi == 0.25);
    sl_tensor_free(w);

    sl_tensor *v = NULL, *u8 = NULL;
    sl_tensor_zeros(ST_SHAPE(5), 1, SL_DT_F32, &v);
    sl_tensor_zeros(ST_SHAPE(5, 5), 2, SL_DT_U8, &u8);
    CHECK_FAILS(sl_init_kaiming_normal_(v, 1), SLT_EARG, "at least 2 dims");
    CHECK_FAILS(sl_init_kaiming_uniform_(u8, 0), SLT_EARG, "float32");
    CHECK_FAILS(sl_init_uniform_(v, 1, 0), SLT_EARG, "empty");
    CHECK_FAILS(sl_init_normal_(NULL, 0, 1), SLT_EARG, "t is NULL");
    CHECK_FAILS(sl_tensor_randn(ST_SHAPE(-1), 1, &a), SLT_EARG, "negative");
    sl_tensor_free(v);
    sl_tensor_free(u8);
}

/* Runs PyTorch's own initialisers from the same seed; the values must agree bit for bit. */
static void test_init_parity(void)
{
    const char *py = getenv("SL_PYTHON");
    if (!py || access(py, X_OK) != 0) {
        printf("parity with PyTorch skipped: SL_PYTHON not set\n");
        return;
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s -c \"import torch\n"
             "torch.manual_seed(123)\n"
             "w = torch.empty(4, 3, 3, 3); torch.nn.init.kaiming_normal_(w, mode='fan_out', "
             "nonlinearity='relu')\n"
             "u = torch.empty(5, 4); torch.nn.init.kaiming_uniform_(u, a=5 ** 0.5)\n"
             "r = torch.randn(6); q = torch.rand(3)\n"
             "print(' '.join(repr(float(v)) for v in torch.cat([w.flatten(), u.flatten(), r, "
             "q])))\"",
             py);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p) return;
    float want[108 + 20 + 6 + 3];
    int n = 0;
    double v;
    while (n < (int)(sizeof want / sizeof want[0]) && fscanf(p, "%lf", &v) == 1)
        want[n++] = (float)v;
    int status = pclose(p);
    TU_CHECK_MSG(status == 0 && n == 137, "python exited %d after %d values", status, n);
    if (n != 137) return;

    sl_tensor *w = NULL, *u = NULL, *r = NULL, *q = NULL;
    sl_manual_seed(123);
    sl_tensor_empty(ST_SHAPE(4, 3, 3, 3), 4, SL_DT_F32, &w);
    CHECK_OK(sl_init_kaiming_normal_(w, 1), sl_torch_last_error());
    sl_tensor_empty(ST_SHAPE(5, 4), 2, SL_DT_F32, &u);
    CHECK_OK(sl_init_kaiming_uniform_(u, sqrt(5.0)), sl_torch_last_error());
    CHECK_OK(sl_tensor_randn(ST_SHAPE(6), 1, &r), sl_torch_last_error());
    CHECK_OK(sl_tensor_rand(ST_SHAPE(3), 1, &q), sl_torch_last_error());
    float got[137];
    CHECK_OK(sl_tensor_to_buffer(w, got, 108 * sizeof(float)), sl_torch_last_error());
    CHECK_OK(sl_tensor_to_buffer(u, got + 108, 20 * sizeof(float)), sl_torch_last_error());
    CHECK_OK(sl_tensor_to_buffer(r, got + 128, 6 * sizeof(float)), sl_torch_last_error());
    CHECK_OK(sl_tensor_to_buffer(q, got + 134, 3 * sizeof(float)), sl_torch_last_error());
    int first_bad = -1;
    for (int i = 0; i < 137 && first_bad < 0; i++)
        if (got[i] != want[i]) first_bad = i;
    TU_CHECK_MSG(first_bad < 0, "value %d: shim %.9g, PyTorch %.9g", first_bad,
                 first_bad >= 0 ? got[first_bad] : 0.0, first_bad >= 0 ? want[first_bad] : 0.0);
    ST_FREE(w, u, r, q);
}

struct worker {
    int kind;     /* 0: shape errors, 1: NULL errors */
    int failures; /* checks that went wrong in this thread */
};

/* Each thread alternates real work with its own kind of error and checks that the message it
 * reads is its own. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    sl_tensor *a = T(2, ST_SHAPE(2, 3), ST_VALS(1, 2, 3, 4, 5, 6));
    sl_tensor *b = T(1, ST_SHAPE(4), ST_VALS(1, 2, 3, 4));
    sl_tensor *k = T(4, ST_SHAPE(1, 1, 1, 1), ST_VALS(2));
    sl_tensor *img = T(4, ST_SHAPE(1, 1, 2, 2), ST_VALS(1, 2, 3, 4));
    for (int i = 0; i < 200; i++) {
        sl_tensor *o = NULL;
        int rc;
        const char *want;
        if (w->kind == 0) {
            rc = sl_add(a, b, &o);
            want = "sl_add: shapes [2, 3] and [4]";
        } else {
            double v;
            rc = sl_tensor_item(NULL, &v);
            want = "sl_tensor_item: t is NULL";
        }
        if (rc >= 0 || !strstr(sl_torch_last_error(), want)) w->failures++;
        if (sl_conv2d(img, k, NULL, NULL, NULL, NULL, 1, &o)) {
            w->failures++;
            continue;
        }
        float v[4];
        if (sl_tensor_to_buffer(o, v, sizeof v) || v[0] != 2 || v[3] != 8) w->failures++;
        sl_tensor_free(o);
    }
    ST_FREE(a, b, k, img);
    return NULL;
}

static void test_threads(void)
{
    int before = sl_get_num_threads();
    CHECK(before >= 1);
    CHECK_OK(sl_set_num_threads(1), sl_torch_last_error());
    CHECK_EQ(sl_get_num_threads(), 1);
    CHECK_OK(sl_set_num_threads(2), sl_torch_last_error());
    CHECK_EQ(sl_get_num_threads(), 2);
    CHECK_FAILS(sl_set_num_threads(0), SLT_EARG, "0");
    CHECK_EQ(sl_get_num_threads(), 2);

    struct worker ws[2] = {{0, 0}, {1, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, worker_main, &ws[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(ws[0].failures, 0);
    CHECK_EQ(ws[1].failures, 0);
    CHECK_OK(sl_set_num_threads(before), sl_torch_last_error());
}

int main(void)
{
    test_quant_params();
    test_quantize();
    test_init();
    test_init_parity();
    test_threads();
    return TU_DONE();
}
