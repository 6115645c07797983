/* test_tensors.c: shim tensor creation, access, views, copies, element-wise ops and reductions. */
#include "shimtest.h"

#include <stdint.h>

#ifdef __SANITIZE_ADDRESS__
/* The out-of-memory check needs a failing allocation to come back as NULL, as it does without
 * the sanitizer, instead of aborting the process. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
#endif

static void test_create(void)
{
    sl_tensor *z = NULL, *e = NULL, *f = NULL;
    CHECK_OK(sl_tensor_zeros(ST_SHAPE(2, 3), 2, SL_DT_F32, &z), sl_torch_last_error());
    CHECK_VALS(z, 0, 0, 0, 0, 0, 0, 0);
    CHECK_EQ(sl_tensor_ndim(z), 2);
    CHECK_EQ(sl_tensor_numel(z), 6);
    CHECK_EQ(sl_tensor_nbytes(z), 24);
    CHECK_EQ(sl_tensor_dtype(z), SL_DT_F32);

    CHECK_OK(sl_tensor_empty(ST_SHAPE(3), 1, SL_DT_U8, &e), sl_torch_last_error());
    CHECK_EQ(sl_tensor_nbytes(e), 3);
    CHECK_EQ(sl_tensor_dtype(e), SL_DT_U8);

    CHECK_OK(sl_tensor_full(ST_SHAPE(2), 1, SL_DT_I64, 7, &f), sl_torch_last_error());
    int64_t iv[2] = {0, 0};
    CHECK_OK(sl_tensor_to_buffer(f, iv, sizeof iv), sl_torch_last_error());
    CHECK(iv[0] == 7 && iv[1] == 7);
    CHECK_EQ(sl_tensor_dtype(f), SL_DT_I64);

    /* A scalar (rank 0) has one element. */
    sl_tensor *s = NULL;
    CHECK_OK(sl_tensor_full(NULL, 0, SL_DT_F32, 2.5, &s), sl_torch_last_error());
    CHECK_NEAR(st_item(s), 2.5, 0);
    CHECK_EQ(sl_tensor_ndim(s), 0);

    /* Bad arguments: rank too high, negative size, unknown dtype, NULL out. */
    sl_tensor *bad = NULL;
    CHECK_FAILS(sl_tensor_zeros(ST_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1), 9, SL_DT_F32, &bad), SLT_EARG,
                "rank 9");
    CHECK_FAILS(sl_tensor_zeros(ST_SHAPE(2, -3), 2, SL_DT_F32, &bad), SLT_EARG, "negative");
    CHECK_FAILS(sl_tensor_zeros(ST_SHAPE(2), 1, (sl_dtype)7, &bad), SLT_EARG, "dtype 7");
    CHECK_FAILS(sl_tensor_zeros(ST_SHAPE(2), 1, SL_DT_F32, NULL), SLT_EARG, "out is NULL");
    /* 2^48 floats is more than any address space: out of memory, and the process goes on. */
    CHECK_FAILS(sl_tensor_empty(ST_SHAPE(1 << 24, 1 << 24), 2, SL_DT_F32, &bad), SLT_ENOMEM,
                "memory");
    CHECK(bad == NULL);

    ST_FREE(z, e, f, s, NULL);
}

static void test_buffers(void)
{
    sl_tensor *x = T(2, ST_SHAPE(2, 3), ST_VALS(1, 2, 3, 4, 5, 6));
    CHECK(x != NULL);
    float *p = NULL;
    CHECK_OK(sl_tensor_data_ptr(x, (void **)&p), sl_torch_last_error());
    CHECK(p && p[0] == 1 && p[5] == 6);

    int64_t shape[SL_MAX_DIMS] = {0};
    int nd = 0;
    CHECK_OK(sl_tensor_shape(x, shape, SL_MAX_DIMS, &nd), sl_torch_last_error());
    CHECK(nd == 2 && shape[0] == 2 && shape[1] == 3);
    /* A short buffer gets the leading dims and the full rank. */
    int64_t one[1] = {0};
    CHECK_OK(sl_tensor_shape(x, one, 1, &nd), sl_torch_last_error());
    CHECK(nd == 2 && one[0] == 2);

    float out[6] = {0};
    CHECK_FAILS(sl_tensor_to_buffer(x, out, 5 * sizeof(float)), SLT_EARG, "20 bytes");
    CHECK(out[0] == 0); /* nothing written on error */
    CHECK_OK(sl_tensor_to_buffer(x, out, sizeof out), sl_torch_last_error());
    CHECK(out[0] == 1 && out[3] == 4 && out[5] == 6);

    CHECK_FAILS(sl_tensor_from_buffer(NULL, ST_SHAPE(2), 1, SL_DT_F32, &x), SLT_EARG,
                "data is NULL");

    /* NULL handles: readable message naming the argument, out-parameters untouched. */
    CHECK_FAILS(sl_tensor_data_ptr(NULL, (void **)&p), SLT_EARG, "t is NULL");
    CHECK_FAILS(sl_tensor_shape(NULL, shape, 2, &nd), SLT_EARG, "t is NULL");
    CHECK(nd == 2);
    CHECK_EQ(sl_tensor_ndim(NULL), -1);
    CHECK_EQ(sl_tensor_numel(NULL), -1);
    CHECK_EQ(sl_tensor_nbytes(NULL), 0);
    CHECK(sl_tensor_dtype(NULL) == SL_DT_NONE);
    sl_tensor_free(x);
}

static void test_handles(void)
{
    sl_tensor *x = T(2, ST_SHAPE(2, 3), ST_VALS(1, 2, 3, 4, 5, 6));
    sl_tensor *sh = NULL, *cl = NULL, *dt = NULL;
    CHECK_OK(sl_tensor_share(x, &sh), sl_torch_last_error());
    CHECK_OK(sl_tensor_clone(x, &cl), sl_torch_last_error());
    float *ps = NULL, *pc = NULL;
    sl_tensor_data_ptr(sh, (void **)&ps);
    sl_tensor_data_ptr(cl, (void **)&pc);
    ps[0] = 10; /* visible through x, not through the clone */
    pc[1] = 20; /* visible only in the clone */
    CHECK_VALS(x, 0, 10, 2, 3, 4, 5, 6);
    CHECK_VALS(cl, 0, 1, 20, 3, 4, 5, 6);

    /* Freeing one handle leaves the other valid. */
    sl_tensor_free(x);
    CHECK_VALS(sh, 0, 10, 2, 3, 4, 5, 6);

    CHECK_OK(sl_tensor_set_requires_grad(sh, 1), sl_torch_last_error());
    CHECK_OK(sl_tensor_detach(sh, &dt), sl_torch_last_error());
    CHECK_EQ(sl_tensor_requires_grad(dt), 0);
    CHECK_EQ(sl_tensor_requires_grad(sh), 1);
    float *pd = NULL;
    sl_tensor_data_ptr(dt, (void **)&pd);
    CHECK(pd == ps); /* detach shares storage */

    /* A clone of a tensor that requires grad is detached. */
    sl_tensor *c2 = NULL;
    CHECK_OK(sl_tensor_clone(sh, &c2), sl_torch_last_error());
    CHECK_EQ(sl_tensor_requires_grad(c2), 0);

    /* copy_ writes values without autograd, even into a leaf that requires grad. */
    sl_tensor *src = T(2, ST_SHAPE(2, 3), ST_VALS(6, 5, 4, 3, 2, 1));
    CHECK_OK(sl_tensor_copy_(sh, src), sl_torch_last_error());
    CHECK_VALS(sh, 0, 6, 5, 4, 3, 2, 1);
    sl_tensor *wrong = T(2, ST_SHAPE(3, 2), ST_VALS(1, 2, 3, 4, 5, 6));
    CHECK_FAILS(sl_tensor_copy_(sh, wrong), SLT_ESHAPE, "[2, 3]");
    CHECK(strstr(sl_torch_last_error(), "[3, 2]") != NULL);
    CHECK_VALS(sh, 0, 6, 5, 4, 3, 2, 1);
    CHECK_FAILS(sl_tensor_copy_(NULL, src), SLT_EARG, "dst is NULL");

    sl_tensor *u8 = NULL;
    sl_tensor *f = T(1, ST_SHAPE(3), ST_VALS(1.0f, 2.0f, 3.5f));
    CHECK_OK(sl_tensor_to_dtype(f, SL_DT_U8, &u8), sl_torch_last_error());
    uint8_t b[3] = {0};
    CHECK_OK(sl_tensor_to_buffer(u8, b, 3), sl_torch_last_error());
    CHECK(b[0] == 1 && b[1] == 2 && b[2] == 3);
    /* to_dtype to the same type is still a copy. */
    sl_tensor *f2 = NULL;
    CHECK_OK(sl_tensor_to_dtype(f, SL_DT_F32, &f2), sl_torch_last_error());
    float *pf = NULL, *pf2 = NULL;
    sl_tensor_data_ptr(f, (void **)&pf);
    sl_tensor_data_ptr(f2, (void **)&pf2);
    CHECK(pf != pf2);

    ST_FREE(sh, cl, dt, c2, src, wrong, u8, f, f2);
}

static void test_views(void)
{
    sl_tensor *x = T(1, ST_SHAPE(6), ST_VALS(1, 2, 3, 4, 5, 6));
    sl_tensor *r = NULL, *n = NULL, *bad = NULL;
    CHECK_OK(sl_tensor_reshape(x, ST_SHAPE(3, -1), 2, &r), sl_torch_last_error());
    CHECK_SHAPE(r, 3, 2);
    CHECK_VALS(r, 0, 1, 2, 3, 4, 5, 6);
    CHECK_FAILS(sl_tensor_reshape(x, ST_SHAPE(4), 1, &bad), SLT_ESHAPE, "[4]");
    CHECK_FAILS(sl_tensor_reshape(x, ST_SHAPE(-1, -1), 2, &bad), SLT_EARG, "-1");
    CHECK(bad == NULL);

    sl_tensor *m = NULL;
    CHECK_OK(sl_tensor_reshape(x, ST_SHAPE(2, 3), 2, &m), sl_torch_last_error());
    CHECK_OK(sl_tensor_narrow(m, 1, 1, 2, &n), sl_torch_last_error());
    CHECK_SHAPE(n, 2, 2);
    CHECK_VALS(n, 0, 2, 3, 5, 6); /* to_buffer reads a non-contiguous view row-major */
    void *p = NULL;
    CHECK_FAILS(sl_tensor_data_ptr(n, &p), SLT_EARG, "not contiguous");
    CHECK_FAILS(sl_tensor_narrow(m, 1, 2, 2, &bad), SLT_EARG, "[2, 4)");
    CHECK_FAILS(sl_tensor_narrow(m, 2, 0, 1, &bad), SLT_EARG, "dim 2");

    /* Channels-last keeps the logical order; the memory is NHWC. */
    sl_tensor *img = T(4, ST_SHAPE(1, 2, 2, 2), ST_VALS(0, 1, 2, 3, 4, 5, 6, 7));
    sl_tensor *cl = NULL, *back = NULL;
    CHECK_OK(sl_tensor_memory_format(img, 1, &cl), sl_torch_last_error());
    CHECK_SHAPE(cl, 1, 2, 2, 2);
    CHECK_VALS(cl, 0, 0, 1, 2, 3, 4, 5, 6, 7);
    CHECK_FAILS(sl_tensor_data_ptr(cl, &p), SLT_EARG, "not contiguous");
    CHECK_OK(sl_tensor_memory_format(cl, 0, &back), sl_torch_last_error());
    float *pb = NULL;
    CHECK_OK(sl_tensor_data_ptr(back, (void **)&pb), sl_torch_last_error());
    CHECK(pb && pb[1] == 1 && pb[4] == 4);
    CHECK_FAILS(sl_tensor_memory_format(x, 1, &bad), SLT_EARG, "4 dims");
    /* to_dtype of a channels-last tensor or a view is a readable row-major copy. */
    sl_tensor *conv = NULL;
    CHECK_OK(sl_tensor_to_dtype(cl, SL_DT_F32, &conv), sl_torch_last_error());
    CHECK_OK(sl_tensor_data_ptr(conv, (void **)&pb), sl_torch_last_error());
    CHECK(pb && pb[1] == 1 && pb[4] == 4);
    sl_tensor_free(conv);
    CHECK_OK(sl_tensor_to_dtype(n, SL_DT_F32, &conv), sl_torch_last_error());
    CHECK_OK(sl_tensor_data_ptr(conv, (void **)&pb), sl_torch_last_error());
    CHECK(pb && pb[0] == 2 && pb[1] == 3 && pb[2] == 5 && pb[3] == 6);
    sl_tensor_free(conv);

    double v = 0;
    CHECK_FAILS(sl_tensor_item(x, &v), SLT_EARG, "6 elements");
    CHECK_FAILS(sl_tensor_item(NULL, &v), SLT_EARG, "t is NULL");

    ST_FREE(x, r, m, n, img, cl, back);
}

static void test_elementwise(void)
{
    sl_tensor *a = T(2, ST_SHAPE(2, 3), ST_VALS(1, 2, 3, 4, 5, 6));
    sl_tensor *row = T(1, ST_SHAPE(3), ST_VALS(10, 20, 30));
    sl_tensor *four = T(1, ST_SHAPE(4), ST_VALS(1, 1, 1, 1));
    sl_tensor *o = NULL;

    CHECK_OK(sl_add(a, row, &o), sl_torch_last_error());
    CHECK_VALS(o, 0, 11, 22, 33, 14, 25, 36);
    sl_tensor_free(o);
    CHECK_OK(sl_sub(a, row, &o), sl_torch_last_error());
    CHECK_VALS(o, 0, -9, -18, -27, -6, -15, -24);
    sl_tensor_free(o);
    CHECK_OK(sl_mul(a, row, &o), sl_torch_last_error());
    CHECK_VALS(o, 0, 10, 40, 90, 40, 100, 180);
    sl_tensor_free(o);
    CHECK_OK(sl_mul_scalar(a, 0.5, &o), sl_torch_last_error());
    CHECK_VALS(o, 0, 0.5f, 1, 1.5f, 2, 2.5f, 3);
    sl_tensor_free(o);
    CHECK_OK(sl_add_scalar(a, -1, &o), sl_torch_last_error());
    CHECK_VALS(o, 0, 0, 1, 2, 3, 4, 5);
    sl_tensor_free(o);
    CHECK_OK(sl_sum(a, &o), sl_torch_last_error());
    CHECK_NEAR(st_item(o), 21, 0);
    CHECK_EQ(sl_tensor_ndim(o), 0);
    sl_tensor_free(o);
    CHECK_OK(sl_mean(a, &o), sl_torch_last_error());
    CHECK_NEAR(st_item(o), 3.5, 0);
    sl_tensor_free(o);

    /* Shape mismatch: a negative code, both shapes in the message, out untouched. */
    o = NULL;
    CHECK_FAILS(sl_add(a, four, &o), SLT_ESHAPE, "[2, 3]");
    CHECK(strstr(sl_torch_last_error(), "[4]") != NULL);
    CHECK(strstr(sl_torch_last_error(), "sl_add") != NULL);
    CHECK(o == NULL);
    CHECK_FAILS(sl_mul(a, four, &o), SLT_ESHAPE, "[4]");
    CHECK_FAILS(sl_add(NULL, four, &o), SLT_EARG, "a is NULL");
    CHECK_FAILS(sl_sub(a, NULL, &o), SLT_EARG, "b is NULL");
    CHECK_FAILS(sl_sum(a, NULL), SLT_EARG, "out is NULL");
    CHECK(o == NULL);

    /* In place: a += row broadcasts; a += a 2x3 into a {3} does not fit. */
    CHECK_OK(sl_add_(a, row), sl_torch_last_error());
    CHECK_VALS(a, 0, 11, 22, 33, 14, 25, 36);
    CHECK_FAILS(sl_add_(row, a), SLT_ESHAPE, "[2, 3]");
    CHECK_VALS(row, 0, 10, 20, 30);

    double d = -1, mb = -1, lo = 0, hi = 0;
    sl_tensor *b = T(2, ST_SHAPE(2, 3), ST_VALS(11, 22, 33.5f, 14, 25, -40));
    CHECK_OK(sl_max_abs_diff(a, b, &d, &mb), sl_torch_last_error());
    CHECK_NEAR(d, 76, 0);
    CHECK_NEAR(mb, 40, 0);
    CHECK_OK(sl_max_abs_diff(a, a, &d, NULL), sl_torch_last_error());
    CHECK_NEAR(d, 0, 0);
    CHECK_FAILS(sl_max_abs_diff(a, row, &d, &mb), SLT_ESHAPE, "[3]");
    CHECK_OK(sl_minmax(b, &lo, &hi), sl_torch_last_error());
    CHECK(lo == -40 && hi == 33.5);

    sl_tensor *am = NULL;
    CHECK_OK(sl_argmax(b, 1, &am), sl_torch_last_error());
    int64_t idx[2] = {-1, -1};
    CHECK_EQ(sl_tensor_dtype(am), SL_DT_I64);
    CHECK_OK(sl_tensor_to_buffer(am, idx, sizeof idx), sl_torch_last_error());
    CHECK(idx[0] == 2 && idx[1] == 1);
    sl_tensor_free(am);
    am = NULL;
    CHECK_FAILS(sl_argmax(b, 5, &am), SLT_EARG, "dim 5");
    CHECK(am == NULL);

    /* uint8 differences are taken in double, so 0 - 255 does not wrap. */
    sl_tensor *u0 = NULL, *u1 = NULL;
    CHECK_OK(sl_tensor_full(ST_SHAPE(2), 1, SL_DT_U8, 0, &u0), sl_torch_last_error());
    CHECK_OK(sl_tensor_full(ST_SHAPE(2), 1, SL_DT_U8, 255, &u1), sl_torch_last_error());
    CHECK_OK(sl_max_abs_diff(u0, u1, &d, NULL), sl_torch_last_error());
    CHECK_NEAR(d, 255, 0);

    ST_FREE(a, b, row, four, u0, u1);
}

int main(void)
{
    test_create();
    test_buffers();
    test_handles();
    test_views();
    test_elementwise();
    return TU_DONE();
}
