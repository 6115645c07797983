/* shimtest.h: small helpers shared by the shim tests (float tensors from literals, value and
 * error checks on top of tests/testutil.h). */
#ifndef SL_TESTS_SHIMTEST_H
#define SL_TESTS_SHIMTEST_H

#include "shim/sl_torch.h"
#include "testutil.h"

/* Frees the n tensors of t (sl_tensor_free each; NULL ones are fine). */
static inline void st_free_all(sl_tensor *const *t, int n)
{
    for (int i = 0; i < n; i++)
        sl_tensor_free(t[i]);
}

/* ST_FREE(a, b, ...): frees each of the tensors, as st_free_all. */
#define ST_FREE(...)                                                                               \
    st_free_all((sl_tensor *const[]){__VA_ARGS__},                                                 \
                (int)(sizeof((sl_tensor *const[]){__VA_ARGS__}) / sizeof(sl_tensor *)))

/* A float32 tensor of `shape` holding `v` (as many values as the shape has); NULL on error. */
static inline sl_tensor *st_f32(int ndim, const int64_t *shape, const float *v)
{
    sl_tensor *t = NULL;
    if (sl_tensor_from_buffer(v, shape, ndim, SL_DT_F32, &t))
        fprintf(stderr, "st_f32: %s\n", sl_torch_last_error());
    return t;
}

#define ST_SHAPE(...) ((const int64_t[]){__VA_ARGS__})
#define ST_VALS(...) ((const float[]){__VA_ARGS__})
/* T(ndim, ST_SHAPE(...), ST_VALS(...)) */
#define T(nd, shape, vals) st_f32((nd), (shape), (vals))

/* Compares a float32 tensor with `n` expected values. Returns 0 when all are within tol, else 1
 * with *bad the first differing index (-1 when the size, type or read failed). */
static inline int st_mismatch(const sl_tensor *t, const float *e, int n, double tol, int *bad,
                              float *got)
{
    *bad = -1;
    *got = 0;
    if (!t || sl_tensor_numel(t) != n || sl_tensor_dtype(t) != SL_DT_F32) return 1;
    float buf[4096];
    if (n > 4096 || sl_tensor_to_buffer(t, buf, (size_t)n * sizeof(float))) return 1;
    for (int i = 0; i < n; i++) {
        if (!(fabs((double)buf[i] - (double)e[i]) <= tol)) {
            *bad = i;
            *got = buf[i];
            return 1;
        }
    }
    return 0;
}

/* CHECK_VALS(t, tol, expected...): the tensor holds exactly these values (row-major). */
#define CHECK_VALS(t, tol, ...)                                                                    \
    do {                                                                                           \
        const float e_[] = {__VA_ARGS__};                                                          \
        int n_ = (int)(sizeof e_ / sizeof e_[0]), bad_;                                            \
        float got_;                                                                                \
        int rc_ = st_mismatch((t), e_, n_, (tol), &bad_, &got_);                                   \
        TU_CHECK_MSG(rc_ == 0, "element %d is %.9g, expected %.9g (numel %lld)", bad_,             \
                     (double)got_, bad_ >= 0 ? (double)e_[bad_] : 0.0,                             \
                     (long long)sl_tensor_numel(t));                                               \
    } while (0)

/* CHECK_SHAPE(t, dims...): the tensor has exactly this shape. */
#define CHECK_SHAPE(t, ...)                                                                        \
    do {                                                                                           \
        const int64_t s_[] = {__VA_ARGS__};                                                        \
        int n_ = (int)(sizeof s_ / sizeof s_[0]), nd_ = -1, same_ = 1;                             \
        int64_t g_[SL_MAX_DIMS] = {0};                                                             \
        int rc_ = sl_tensor_shape((t), g_, SL_MAX_DIMS, &nd_);                                     \
        for (int i_ = 0; i_ < n_ && i_ < SL_MAX_DIMS; i_++)                                        \
            same_ &= g_[i_] == s_[i_];                                                             \
        TU_CHECK_MSG(rc_ == 0 && nd_ == n_ && same_, "rank %d, dims %lld %lld %lld %lld", nd_,     \
                     (long long)g_[0], (long long)g_[1], (long long)g_[2], (long long)g_[3]);      \
    } while (0)

/* CHECK_FAILS(call, code, needle): the call returns `code` and the message contains needle. */
#define CHECK_FAILS(call, code, needle)                                                            \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        const char *m_ = sl_torch_last_error();                                                    \
        TU_CHECK_MSG(rc_ == (code) && strstr(m_, (needle)) != NULL,                                \
                     "status %d (want %d), message \"%s\" (want \"%s\")", rc_, (int)(code), m_,    \
                     (needle));                                                                    \
    } while (0)

/* The value of a one-element tensor, NAN on error. */
static inline double st_item(const sl_tensor *t)
{
    double v;
    return sl_tensor_item(t, &v) ? NAN : v;
}

#endif
