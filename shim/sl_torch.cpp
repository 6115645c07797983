// sl_torch.cpp: the C API of shim/sl_torch.h implemented over libtorch (ATen + torch::optim).
#include "shim/sl_torch.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/nn/init.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <cfloat>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

struct sl_tensor {
    at::Tensor t;
};

struct sl_jit {
    torch::jit::Module m;
    torch::jit::Method fwd;
    int nin, nout;
};

struct sl_optim {
    // The optimiser's own parameter handles, in creation order, so that param_index in the
    // state functions names the same tensor the caller passed.
    std::vector<at::Tensor> params;
    std::unique_ptr<torch::optim::Optimizer> opt;
    bool adam;
};

namespace
{

// A fixed buffer, so that recording an error never allocates (and so never throws).
thread_local char t_err[4096] = "no error";
// The public function running on this thread, used as the message prefix.
thread_local const char *t_fn = "sl_torch";

__attribute__((format(printf, 2, 3))) int fail(int code, const char *fmt, ...)
{
    int n = snprintf(t_err, sizeof t_err, "%s: ", t_fn);
    if (n < 0 || (size_t)n >= sizeof t_err) n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_err + n, sizeof t_err - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

bool contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != nullptr;
}

// libtorch reports every failure as c10::Error; the text is the only thing that tells a shape
// mismatch from other failures, so the class is read from it.
int torch_code(const char *msg)
{
    if (contains(msg, "can't allocate memory") || contains(msg, "out of memory")) return SLT_ENOMEM;
    if (contains(msg, "size") || contains(msg, "shape") || contains(msg, "dimension") ||
        contains(msg, "channels"))
        return SLT_ESHAPE;
    return SLT_ETORCH;
}

// Called from a catch (...) block: turns the exception in flight into a status and a message.
int caught() noexcept
{
    try {
        throw;
    } catch (const c10::Error &e) {
        const char *m = e.what_without_backtrace();
        // IndexError is libtorch's "dim / index out of range": a bad argument, not a shape clash.
        int code = dynamic_cast<const c10::IndexError *>(&e) ? SLT_EARG : torch_code(m);
        fail(code, "%s", m);
        // libtorch messages may end in a newline; the caller adds its own punctuation.
        size_t len = strlen(t_err);
        while (len && (t_err[len - 1] == '\n' || t_err[len - 1] == ' '))
            t_err[--len] = '\0';
        return code;
    } catch (const std::bad_alloc &) {
        return fail(SLT_ENOMEM, "out of memory");
    } catch (const std::exception &e) {
        return fail(SLT_ETORCH, "%s", e.what());
    } catch (...) {
        return fail(SLT_ETORCH, "unknown C++ exception");
    }
}

// Runs one public function's body with its name as the error prefix; nothing escapes.
template <typename F> int guarded(const char *fn, F &&body) noexcept
{
    t_fn = fn;
    try {
        return body();
    } catch (...) {
        return caught();
    }
}

std::string dims_str(at::IntArrayRef s)
{
    std::string r = "[";
    for (size_t i = 0; i < s.size(); i++) {
        if (i) r += ", ";
        r += std::to_string(s[i]);
    }
    return r + "]";
}

// The int a C caller stored in an enum parameter. C lets any int through; reading an
// out-of-range value as the C++ enum type would be undefined, so the bits are copied out.
template <typename E> int enum_int(const E &e)
{
    static_assert(sizeof(E) == sizeof(int), "C enums are int-sized");
    int v;
    memcpy(&v, &e, sizeof v);
    return v;
}

bool to_scalar_type(int dt, at::ScalarType *st)
{
    switch (dt) {
    case SL_DT_F32:
        *st = at::kFloat;
        return true;
    case SL_DT_U8:
        *st = at::kByte;
        return true;
    case SL_DT_I64:
        *st = at::kLong;
        return true;
    default:
        return false;
    }
}

// Checks a C shape array; on success `out` holds it.
int read_shape(const int64_t *shape, int ndim, std::vector<int64_t> &out)
{
    if (ndim < 0 || ndim > SL_MAX_DIMS)
        return fail(SLT_EARG, "rank %d outside 0..%d", ndim, SL_MAX_DIMS);
    if (ndim > 0 && !shape) return fail(SLT_EARG, "shape is NULL");
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return fail(SLT_EARG, "shape[%d] = %lld is negative", i, (long long)shape[i]);
    out.assign(shape, shape + ndim);
    return SLT_OK;
}

int give(at::Tensor r, sl_tensor **out)
{
    *out = new sl_tensor{std::move(r)};
    return SLT_OK;
}

// SLT_OK when a and b broadcast against each other, else SLT_ESHAPE naming both shapes and the
// clashing dim (libtorch's own message does not show the shapes).
int broadcast_check(const at::Tensor &a, const at::Tensor &b)
{
    int64_t na = a.dim(), nb = b.dim(), n = std::max(na, nb);
    for (int64_t i = 0; i < n; i++) {
        int64_t da = i < n - na ? 1 : a.size(i - (n - na));
        int64_t db = i < n - nb ? 1 : b.size(i - (n - nb));
        if (da != db && da != 1 && db != 1)
            return fail(SLT_ESHAPE, "shapes %s and %s do not broadcast (dim %lld: %lld vs %lld)",
                        dims_str(a.sizes()).c_str(), dims_str(b.sizes()).c_str(), (long long)i,
                        (long long)da, (long long)db);
    }
    return SLT_OK;
}

int same_shape(const at::Tensor &a, const at::Tensor &b, const char *na, const char *nb)
{
    if (a.sizes() != b.sizes())
        return fail(SLT_ESHAPE, "%s %s and %s %s differ in shape", na, dims_str(a.sizes()).c_str(),
                    nb, dims_str(b.sizes()).c_str());
    return SLT_OK;
}

int check_vec(const sl_tensor *v, int64_t n, const char *name)
{
    if (v && (v->t.dim() != 1 || v->t.size(0) != n))
        return fail(SLT_ESHAPE, "%s has shape %s, expected [%lld]", name,
                    dims_str(v->t.sizes()).c_str(), (long long)n);
    return SLT_OK;
}

int check_float(const at::Tensor &t, const char *name)
{
    if (t.scalar_type() != at::kFloat)
        return fail(SLT_EARG, "%s is %s, expected float32", name, c10::toString(t.scalar_type()));
    return SLT_OK;
}

at::Tensor opt_t(const sl_tensor *t)
{
    return t ? t->t : at::Tensor();
}

// Reads a {h, w} pair; NULL gives `dflt` in both places.
void pair(const int64_t *p, int64_t dflt, int64_t out[2])
{
    out[0] = p ? p[0] : dflt;
    out[1] = p ? p[1] : dflt;
}

int check_min(const int64_t v[2], int64_t lo, const char *name)
{
    if (v[0] < lo || v[1] < lo)
        return fail(SLT_EARG, "%s {%lld, %lld} must be >= %lld", name, (long long)v[0],
                    (long long)v[1], (long long)lo);
    return SLT_OK;
}

int check_4d(const at::Tensor &t, const char *name)
{
    if (t.dim() != 4)
        return fail(SLT_ESHAPE, "%s has shape %s, expected 4 dims", name,
                    dims_str(t.sizes()).c_str());
    return SLT_OK;
}

// The smallest and largest element of `t` (`name` in the error), which must not be empty.
int tensor_minmax(const at::Tensor &t, const char *name, at::Tensor *lo, at::Tensor *hi)
{
    if (!t.numel()) return fail(SLT_EARG, "%s %s is empty", name, dims_str(t.sizes()).c_str());
    at::NoGradGuard no_grad;
    std::tie(*lo, *hi) = at::aminmax(t);
    return SLT_OK;
}

} // namespace

#define NEED(p)                                                                                    \
    do {                                                                                           \
        if (!(p)) return fail(SLT_EARG, "%s is NULL", #p);                                         \
    } while (0)
#define TRY(expr)                                                                                  \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_) return rc_;                                                                       \
    } while (0)

extern "C" {

const char *sl_torch_last_error(void)
{
    return t_err;
}

/* ---- tensors ---------------------------------------------------------------------------- */

// Checks a C shape and dtype; on success `s` and `opts` describe the tensor to make.
static int read_shape_dtype(const int64_t *shape, int ndim, sl_dtype dt, std::vector<int64_t> &s,
                            at::TensorOptions &opts)
{
    TRY(read_shape(shape, ndim, s));
    at::ScalarType st;
    if (!to_scalar_type(enum_int(dt), &st)) return fail(SLT_EARG, "unknown dtype %d", enum_int(dt));
    opts = at::TensorOptions().dtype(st);
    return SLT_OK;
}

static int make_filled(const char *fn, const int64_t *shape, int ndim, sl_dtype dt,
                       const double *value, bool zero, sl_tensor **out)
{
    return guarded(fn, [&]() -> int {
        NEED(out);
        std::vector<int64_t> s;
        at::TensorOptions opts;
        TRY(read_shape_dtype(shape, ndim, dt, s, opts));
        if (value) return give(at::full(s, *value, opts), out);
        return give(zero ? at::zeros(s, opts) : at::empty(s, opts), out);
    });
}

int sl_tensor_zeros(const int64_t *shape, int ndim, sl_dtype dt, sl_tensor **out)
{
    return make_filled(__func__, shape, ndim, dt, nullptr, true, out);
}

int sl_tensor_empty(const int64_t *shape, int ndim, sl_dtype dt, sl_tensor **out)
{
    return make_filled(__func__, shape, ndim, dt, nullptr, false, out);
}

int sl_tensor_full(const int64_t *shape, int ndim, sl_dtype dt, double value, sl_tensor **out)
{
    return make_filled(__func__, shape, ndim, dt, &value, false, out);
}

int sl_tensor_from_buffer(const void *data, const int64_t *shape, int ndim, sl_dtype dt,
                          sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(out);
        std::vector<int64_t> s;
        at::TensorOptions opts;
        TRY(read_shape_dtype(shape, ndim, dt, s, opts));
        at::Tensor r = at::empty(s, opts);
        size_t nbytes = r.nbytes();
        if (nbytes && !data) return fail(SLT_EARG, "data is NULL");
        if (nbytes) memcpy(r.data_ptr(), data, nbytes);
        return give(std::move(r), out);
    });
}

int sl_tensor_to_buffer(const sl_tensor *t, void *data, size_t nbytes)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        size_t have = t->t.numel() * t->t.element_size();
        if (nbytes != have)
            return fail(SLT_EARG, "buffer holds %zu bytes, tensor %s needs %zu", nbytes,
                        dims_str(t->t.sizes()).c_str(), have);
        if (!have) return SLT_OK;
        NEED(data);
        // detach: a row-major copy of a view must not add a node to the autograd graph.
        at::Tensor c = t->t.is_contiguous() ? t->t : t->t.detach().contiguous();
        memcpy(data, c.data_ptr(), have);
        return SLT_OK;
    });
}

int sl_tensor_data_ptr(const sl_tensor *t, void **ptr)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        NEED(ptr);
        if (!t->t.is_contiguous())
            return fail(SLT_EARG, "tensor %s is not contiguous", dims_str(t->t.sizes()).c_str());
        *ptr = t->t.data_ptr();
        return SLT_OK;
    });
}

int sl_tensor_shape(const sl_tensor *t, int64_t *shape, int max, int *ndim)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        int n = (int)t->t.dim();
        int k = std::min(n, std::max(max, 0));
        if (k > 0) NEED(shape);
        for (int i = 0; i < k; i++)
            shape[i] = t->t.size(i);
        if (ndim) *ndim = n;
        return SLT_OK;
    });
}

int sl_tensor_ndim(const sl_tensor *t)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        return (int)t->t.dim();
    });
}

int64_t sl_tensor_numel(const sl_tensor *t)
{
    int64_t n = -1;
    guarded(__func__, [&]() -> int {
        NEED(t);
        n = t->t.numel();
        return SLT_OK;
    });
    return n;
}

size_t sl_tensor_nbytes(const sl_tensor *t)
{
    size_t n = 0;
    guarded(__func__, [&]() -> int {
        NEED(t);
        n = t->t.numel() * t->t.element_size();
        return SLT_OK;
    });
    return n;
}

sl_dtype sl_tensor_dtype(const sl_tensor *t)
{
    sl_dtype dt = SL_DT_NONE;
    guarded(__func__, [&]() -> int {
        NEED(t);
        switch (t->t.scalar_type()) {
        case at::kFloat:
            dt = SL_DT_F32;
            break;
        case at::kByte:
            dt = SL_DT_U8;
            break;
        case at::kLong:
            dt = SL_DT_I64;
            break;
        default:
            return fail(SLT_EARG, "tensor has type %s, which sl_dtype cannot name",
                        c10::toString(t->t.scalar_type()));
        }
        return SLT_OK;
    });
    return dt;
}

int sl_tensor_share(const sl_tensor *t, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        NEED(out);
        return give(t->t, out);
    });
}

int sl_tensor_clone(const sl_tensor *t, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        NEED(out);
        return give(t->t.detach().clone(at::MemoryFormat::Contiguous), out);
    });
}

int sl_tensor_detach(const sl_tensor *t, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        NEED(out);
        return give(t->t.detach(), out);
    });
}

int sl_tensor_copy_(sl_tensor *dst, const sl_tensor *src)
{
    return guarded(__func__, [&]() -> int {
        NEED(dst);
        NEED(src);
        TRY(same_shape(dst->t, src->t, "dst", "src"));
        at::NoGradGuard no_grad;
        dst->t.copy_(src->t);
        return SLT_OK;
    });
}

int sl_tensor_to_dtype(const sl_tensor *t, sl_dtype dt, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        NEED(out);
        at::ScalarType st;
        if (!to_scalar_type(enum_int(dt), &st))
            return fail(SLT_EARG, "unknown dtype %d", enum_int(dt));
        // Contiguous, so that the copy can be read through sl_tensor_data_ptr whatever the
        // layout of the source (a view, channels-last).
        return give(
            t->t.to(st, /*non_blocking=*/false, /*copy=*/true, at::MemoryFormat::Contiguous), out);
    });
}

int sl_tensor_reshape(const sl_tensor *t, const int64_t *shape, int ndim, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        NEED(out);
        if (ndim < 0 || ndim > SL_MAX_DIMS)
            return fail(SLT_EARG, "rank %d outside 0..%d", ndim, SL_MAX_DIMS);
        if (ndim > 0) NEED(shape);
        std::vector<int64_t> s(shape, shape + ndim);
        int64_t known = 1;
        int inferred = 0;
        for (int i = 0; i < ndim; i++) {
            if (s[i] == -1)
                inferred++;
            else if (s[i] < 0)
                return fail(SLT_EARG, "shape[%d] = %lld is negative", i, (long long)s[i]);
            else
                known *= s[i];
        }
        if (inferred > 1) return fail(SLT_EARG, "more than one -1 in the new shape");
        int64_t numel = t->t.numel();
        bool fits = inferred ? known != 0 && numel % known == 0 : known == numel;
        if (!fits)
            return fail(SLT_ESHAPE, "cannot reshape %s (%lld elements) to %s",
                        dims_str(t->t.sizes()).c_str(), (long long)numel, dims_str(s).c_str());
        return give(t->t.reshape(s), out);
    });
}

int sl_tensor_narrow(const sl_tensor *t, int dim, int64_t start, int64_t len, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        NEED(out);
        int64_t nd = t->t.dim();
        if (dim < -nd || dim >= nd || nd == 0)
            return fail(SLT_EARG, "dim %d out of range for shape %s", dim,
                        dims_str(t->t.sizes()).c_str());
        int64_t size = t->t.size(dim);
        if (start < 0 || len < 0 || start + len > size)
            return fail(SLT_EARG, "[%lld, %lld) outside dim %d of shape %s", (long long)start,
                        (long long)(start + len), dim, dims_str(t->t.sizes()).c_str());
        return give(t->t.narrow(dim, start, len), out);
    });
}

int sl_tensor_memory_format(const sl_tensor *t, int channels_last, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        NEED(out);
        if (channels_last && t->t.dim() != 4)
            return fail(SLT_EARG, "channels-last needs 4 dims, tensor has shape %s",
                        dims_str(t->t.sizes()).c_str());
        auto fmt = channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
        return give(t->t.contiguous(fmt), out);
    });
}

int sl_tensor_item(const sl_tensor *t, double *out)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        NEED(out);
        if (t->t.numel() != 1)
            return fail(SLT_EARG, "tensor %s has %lld elements, expected 1",
                        dims_str(t->t.sizes()).c_str(), (long long)t->t.numel());
        *out = t->t.item<double>();
        return SLT_OK;
    });
}

void sl_tensor_free(sl_tensor *t)
{
    delete t;
}

/* ---- element-wise and reductions -------------------------------------------------------- */

// A one-tensor op: the tensor (`name` in the error) and `out` must be given; then `op` runs.
static int unary_op(const char *fn, const char *name, const sl_tensor *x, sl_tensor **out,
                    at::Tensor (*op)(const at::Tensor &))
{
    return guarded(fn, [&]() -> int {
        if (!x) return fail(SLT_EARG, "%s is NULL", name);
        NEED(out);
        return give(op(x->t), out);
    });
}

// A tensor-and-scalar op: `a` and `out` must be given; then `op` runs with `s`.
static int scalar_op(const char *fn, const sl_tensor *a, double s, sl_tensor **out,
                     at::Tensor (*op)(const at::Tensor &, const at::Scalar &))
{
    return guarded(fn, [&]() -> int {
        NEED(a);
        NEED(out);
        return give(op(a->t, at::Scalar(s)), out);
    });
}

// A binary op whose operands broadcast against each other: both are checked, then `op` runs.
static int broadcast_op(const char *fn, const sl_tensor *a, const sl_tensor *b, sl_tensor **out,
                        at::Tensor (*op)(const at::Tensor &, const at::Tensor &))
{
    return guarded(fn, [&]() -> int {
        NEED(a);
        NEED(b);
        NEED(out);
        TRY(broadcast_check(a->t, b->t));
        return give(op(a->t, b->t), out);
    });
}

int sl_add(const sl_tensor *a, const sl_tensor *b, sl_tensor **out)
{
    return broadcast_op(__func__, a, b, out,
                        [](const at::Tensor &x, const at::Tensor &y) { return at::add(x, y); });
}

int sl_sub(const sl_tensor *a, const sl_tensor *b, sl_tensor **out)
{
    return broadcast_op(__func__, a, b, out,
                        [](const at::Tensor &x, const at::Tensor &y) { return at::sub(x, y); });
}

int sl_mul(const sl_tensor *a, const sl_tensor *b, sl_tensor **out)
{
    return broadcast_op(__func__, a, b, out,
                        [](const at::Tensor &x, const at::Tensor &y) { return at::mul(x, y); });
}

int sl_add_(sl_tensor *a, const sl_tensor *b)
{
    return guarded(__func__, [&]() -> int {
        NEED(a);
        NEED(b);
        TRY(broadcast_check(a->t, b->t));
        if (b->t.dim() > a->t.dim())
            return fail(SLT_ESHAPE, "cannot add %s into %s in place",
                        dims_str(b->t.sizes()).c_str(), dims_str(a->t.sizes()).c_str());
        for (int64_t i = 0; i < b->t.dim(); i++) {
            int64_t da = a->t.size(a->t.dim() - b->t.dim() + i), db = b->t.size(i);
            if (da != db && db != 1)
                return fail(SLT_ESHAPE, "cannot add %s into %s in place",
                            dims_str(b->t.sizes()).c_str(), dims_str(a->t.sizes()).c_str());
        }
        a->t.add_(b->t);
        return SLT_OK;
    });
}

int sl_mul_scalar(const sl_tensor *a, double s, sl_tensor **out)
{
    return scalar_op(__func__, a, s, out,
                     [](const at::Tensor &t, const at::Scalar &v) { return at::mul(t, v); });
}

int sl_add_scalar(const sl_tensor *a, double s, sl_tensor **out)
{
    return scalar_op(__func__, a, s, out,
                     [](const at::Tensor &t, const at::Scalar &v) { return at::add(t, v); });
}

int sl_sum(const sl_tensor *a, sl_tensor **out)
{
    return unary_op(__func__, "a", a, out, [](const at::Tensor &t) { return at::sum(t); });
}

int sl_mean(const sl_tensor *a, sl_tensor **out)
{
    return unary_op(__func__, "a", a, out, [](const at::Tensor &t) { return at::mean(t); });
}

int sl_max_abs_diff(const sl_tensor *a, const sl_tensor *b, double *diff, double *max_abs_b)
{
    return guarded(__func__, [&]() -> int {
        NEED(a);
        NEED(b);
        NEED(diff);
        TRY(same_shape(a->t, b->t, "a", "b"));
        at::NoGradGuard no_grad;
        double d = 0, m = 0;
        if (a->t.numel()) {
            // Integer differences would wrap (uint8); compare in double unless both are float.
            bool both_float = a->t.scalar_type() == at::kFloat && b->t.scalar_type() == at::kFloat;
            at::Tensor x = both_float ? a->t : a->t.to(at::kDouble);
            at::Tensor y = both_float ? b->t : b->t.to(at::kDouble);
            d = (x - y).abs().max().item<double>();
            m = y.abs().max().item<double>();
        }
        *diff = d;
        if (max_abs_b) *max_abs_b = m;
        return SLT_OK;
    });
}

int sl_minmax(const sl_tensor *a, double *min, double *max)
{
    return guarded(__func__, [&]() -> int {
        NEED(a);
        NEED(min);
        NEED(max);
        at::Tensor lo, hi;
        TRY(tensor_minmax(a->t, "tensor", &lo, &hi));
        *min = lo.item<double>();
        *max = hi.item<double>();
        return SLT_OK;
    });
}

int sl_argmax(const sl_tensor *a, int dim, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(a);
        NEED(out);
        int64_t nd = a->t.dim();
        if (nd == 0 || dim < -nd || dim >= nd)
            return fail(SLT_EARG, "dim %d out of range for shape %s", dim,
                        dims_str(a->t.sizes()).c_str());
        if (a->t.size(dim) == 0)
            return fail(SLT_ESHAPE, "dim %d of shape %s is empty", dim,
                        dims_str(a->t.sizes()).c_str());
        return give(at::argmax(a->t, dim), out);
    });
}

/* ---- layers ----------------------------------------------------------------------------- */

// The arguments every 2-D convolution entry point checks first: present, and 4-D.
static int check_conv_tensors(const sl_tensor *x, const sl_tensor *w, sl_tensor **out)
{
    NEED(x);
    NEED(w);
    NEED(out);
    TRY(check_4d(x->t, "input"));
    TRY(check_4d(w->t, "weight"));
    return SLT_OK;
}

// Reads stride, pad and dilation (NULL means 1, 0 and 1) into s, p and d and checks their ranges.
static int read_conv_geometry(const int64_t stride[2], const int64_t pad[2], const int64_t dil[2],
                              int64_t s[2], int64_t p[2], int64_t d[2])
{
    pair(stride, 1, s);
    pair(pad, 0, p);
    pair(dil, 1, d);
    TRY(check_min(s, 1, "stride"));
    TRY(check_min(p, 0, "pad"));
    TRY(check_min(d, 1, "dilation"));
    return SLT_OK;
}

// The channel and bias checks of a forward convolution (strided or MKL-DNN weight alike).
static int check_conv_channels(const at::Tensor &xt, const at::Tensor &wt, const sl_tensor *b,
                               int64_t groups)
{
    if (groups < 1) return fail(SLT_EARG, "groups %lld must be >= 1", (long long)groups);
    if (wt.size(1) * groups != xt.size(1) || wt.size(0) % groups != 0)
        return fail(SLT_ESHAPE,
                    "weight %s with groups=%lld expects %lld input channels, input %s has "
                    "%lld",
                    dims_str(wt.sizes()).c_str(), (long long)groups,
                    (long long)(wt.size(1) * groups), dims_str(xt.sizes()).c_str(),
                    (long long)xt.size(1));
    return check_vec(b, wt.size(0), "bias");
}

// SLT_ESHAPE when the padded input is smaller than the dilated kernel in either dim.
static int check_kernel_fits(const at::Tensor &xt, const at::Tensor &wt, const int64_t p[2],
                             const int64_t d[2])
{
    for (int i = 0; i < 2; i++) {
        int64_t in = xt.size(2 + i) + 2 * p[i], k = d[i] * (wt.size(2 + i) - 1) + 1;
        if (in < k)
            return fail(SLT_ESHAPE,
                        "padded input %s (%lld) is smaller than the kernel "
                        "%s (%lld with dilation)",
                        i ? "width" : "height", (long long)in, i ? "width" : "height",
                        (long long)k);
    }
    return SLT_OK;
}

int sl_conv2d(const sl_tensor *x, const sl_tensor *w, const sl_tensor *b, const int64_t stride[2],
              const int64_t pad[2], const int64_t dil[2], int64_t groups, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        TRY(check_conv_tensors(x, w, out));
        int64_t s[2], p[2], d[2];
        TRY(read_conv_geometry(stride, pad, dil, s, p, d));
        const at::Tensor &xt = x->t, &wt = w->t;
        TRY(check_conv_channels(xt, wt, b, groups));
        TRY(check_kernel_fits(xt, wt, p, d));
        return give(at::conv2d(xt, wt, opt_t(b), s, p, d, groups), out);
    });
}

int sl_conv_transpose2d(const sl_tensor *x, const sl_tensor *w, const sl_tensor *b,
                        const int64_t stride[2], const int64_t pad[2], const int64_t dil[2],
                        int64_t groups, const int64_t out_hw[2], sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        TRY(check_conv_tensors(x, w, out));
        int64_t s[2], p[2], d[2], op[2] = {0, 0};
        TRY(read_conv_geometry(stride, pad, dil, s, p, d));
        if (groups < 1) return fail(SLT_EARG, "groups %lld must be >= 1", (long long)groups);
        const at::Tensor &xt = x->t, &wt = w->t;
        if (wt.size(0) != xt.size(1) || wt.size(0) % groups != 0)
            return fail(SLT_ESHAPE,
                        "weight %s expects %lld input channels (groups=%lld), input %s has %lld",
                        dims_str(wt.sizes()).c_str(), (long long)wt.size(0), (long long)groups,
                        dims_str(xt.sizes()).c_str(), (long long)xt.size(1));
        TRY(check_vec(b, wt.size(1) * groups, "bias"));
        for (int i = 0; i < 2; i++) {
            const char *what = i ? "width" : "height";
            int64_t in = xt.size(2 + i);
            int64_t base = (in - 1) * s[i] - 2 * p[i] + d[i] * (wt.size(2 + i) - 1) + 1;
            int64_t span = std::max(s[i], d[i]);
            if (base < 1)
                return fail(SLT_ESHAPE, "output %s would be %lld for input %s %lld", what,
                            (long long)base, what, (long long)in);
            if (out_hw && out_hw[i] > 0) {
                op[i] = out_hw[i] - base;
                if (op[i] < 0 || op[i] >= span)
                    return fail(SLT_ESHAPE,
                                "output %s %lld is unreachable from input %s %lld (stride %lld, "
                                "pad %lld, dilation %lld, kernel %lld): reachable %lld..%lld",
                                what, (long long)out_hw[i], what, (long long)in, (long long)s[i],
                                (long long)p[i], (long long)d[i], (long long)wt.size(2 + i),
                                (long long)base, (long long)(base + span - 1));
            }
        }
        return give(at::conv_transpose2d(xt, wt, opt_t(b), s, p, op, groups, d), out);
    });
}

int sl_batch_norm(const sl_tensor *x, const sl_tensor *weight, const sl_tensor *bias,
                  sl_tensor *running_mean, sl_tensor *running_var, int training, double momentum,
                  double eps, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        NEED(out);
        if (x->t.dim() < 2)
            return fail(SLT_ESHAPE, "input %s needs a channel dim 1",
                        dims_str(x->t.sizes()).c_str());
        int64_t c = x->t.size(1);
        TRY(check_vec(weight, c, "weight"));
        TRY(check_vec(bias, c, "bias"));
        TRY(check_vec(running_mean, c, "running_mean"));
        TRY(check_vec(running_var, c, "running_var"));
        if (!training && (!running_mean || !running_var))
            return fail(SLT_EARG, "eval mode needs running_mean and running_var");
        if (!(eps >= 0)) return fail(SLT_EARG, "eps %g must be >= 0", eps);
        if (training && c && x->t.numel() / c <= 1)
            return fail(SLT_ESHAPE,
                        "training needs more than 1 value per channel, input has shape %s",
                        dims_str(x->t.sizes()).c_str());
        return give(at::batch_norm(x->t, opt_t(weight), opt_t(bias), opt_t(running_mean),
                                   opt_t(running_var), training != 0, momentum, eps,
                                   /*cudnn_enabled=*/false),
                    out);
    });
}

int sl_relu(const sl_tensor *x, sl_tensor **out)
{
    return unary_op(__func__, "x", x, out, [](const at::Tensor &t) { return at::relu(t); });
}

int sl_relu_(sl_tensor *x)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        at::relu_(x->t);
        return SLT_OK;
    });
}

int sl_relu6(const sl_tensor *x, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        NEED(out);
        // torch.nn.functional.relu6 is hardtanh(0, 6); the same kernel gives the same gradient.
        return give(at::hardtanh(x->t, 0.0, 6.0), out);
    });
}

int sl_hardswish(const sl_tensor *x, sl_tensor **out)
{
    return unary_op(__func__, "x", x, out, [](const at::Tensor &t) { return at::hardswish(t); });
}

int sl_sigmoid(const sl_tensor *x, sl_tensor **out)
{
    return unary_op(__func__, "x", x, out, [](const at::Tensor &t) { return at::sigmoid(t); });
}

int sl_silu(const sl_tensor *x, sl_tensor **out)
{
    return unary_op(__func__, "x", x, out, [](const at::Tensor &t) { return at::silu(t); });
}

int sl_hardsigmoid(const sl_tensor *x, sl_tensor **out)
{
    return unary_op(__func__, "x", x, out, [](const at::Tensor &t) { return at::hardsigmoid(t); });
}

int sl_clamp(const sl_tensor *x, double lo, double hi, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        NEED(out);
        if (!(lo <= hi)) return fail(SLT_EARG, "clamp range [%g, %g] is empty", lo, hi);
        return give(at::clamp(x->t, lo, hi), out);
    });
}

int sl_channel_shuffle(const sl_tensor *x, int64_t groups, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        NEED(out);
        if (x->t.dim() != 4)
            return fail(SLT_ESHAPE, "x has shape %s, expected 4 dims", dims_str(x->t.sizes()).c_str());
        int64_t n = x->t.size(0), c = x->t.size(1), h = x->t.size(2), w = x->t.size(3);
        if (groups < 1 || c % groups)
            return fail(SLT_EARG, "%lld groups do not divide %lld channels", (long long)groups,
                        (long long)c);
        // What ShuffleNet's reshape / transpose / reshape computes, kernel for kernel.
        at::Tensor t = x->t.reshape({n, groups, c / groups, h, w}).transpose(1, 2).contiguous();
        return give(t.reshape({n, c, h, w}), out);
    });
}

int sl_constant_pad(const sl_tensor *x, const int64_t pads[4], double value, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        NEED(pads);
        NEED(out);
        return give(at::constant_pad_nd(x->t, {pads[0], pads[1], pads[2], pads[3]}, value), out);
    });
}

// Checks the pooling geometry PyTorch requires: positive kernel and stride, pad <= k / 2.
static int check_pool(const int64_t k[2], const int64_t s[2], const int64_t p[2])
{
    TRY(check_min(k, 1, "kernel"));
    TRY(check_min(s, 1, "stride"));
    TRY(check_min(p, 0, "pad"));
    if (p[0] > k[0] / 2 || p[1] > k[1] / 2)
        return fail(SLT_EARG, "pad {%lld, %lld} must be at most half the kernel {%lld, %lld}",
                    (long long)p[0], (long long)p[1], (long long)k[0], (long long)k[1]);
    return SLT_OK;
}

int sl_max_pool2d(const sl_tensor *x, const int64_t k[2], const int64_t stride[2],
                  const int64_t pad[2], const int64_t dil[2], int ceil_mode, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        NEED(k);
        NEED(out);
        int64_t s[2], p[2], d[2];
        pair(stride ? stride : k, 1, s);
        pair(pad, 0, p);
        pair(dil, 1, d);
        TRY(check_pool(k, s, p));
        TRY(check_min(d, 1, "dilation"));
        return give(at::max_pool2d(x->t, {k[0], k[1]}, s, p, d, ceil_mode != 0), out);
    });
}

int sl_avg_pool2d(const sl_tensor *x, const int64_t k[2], const int64_t stride[2],
                  const int64_t pad[2], int ceil_mode, int count_include_pad, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        NEED(k);
        NEED(out);
        int64_t s[2], p[2];
        pair(stride ? stride : k, 1, s);
        pair(pad, 0, p);
        TRY(check_pool(k, s, p));
        return give(at::avg_pool2d(x->t, {k[0], k[1]}, s, p, ceil_mode != 0, count_include_pad != 0,
                                   c10::nullopt),
                    out);
    });
}

int sl_adaptive_avg_pool2d(const sl_tensor *x, const int64_t out_hw[2], sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        NEED(out_hw);
        NEED(out);
        TRY(check_min(out_hw, 1, "out_hw"));
        return give(at::adaptive_avg_pool2d(x->t, {out_hw[0], out_hw[1]}), out);
    });
}

int sl_linear(const sl_tensor *x, const sl_tensor *w, const sl_tensor *b, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        NEED(w);
        NEED(out);
        if (w->t.dim() != 2)
            return fail(SLT_ESHAPE, "weight has shape %s, expected {out, in}",
                        dims_str(w->t.sizes()).c_str());
        if (x->t.dim() < 1 || x->t.size(-1) != w->t.size(1))
            return fail(SLT_ESHAPE, "input %s does not end in %lld features for weight %s",
                        dims_str(x->t.sizes()).c_str(), (long long)w->t.size(1),
                        dims_str(w->t.sizes()).c_str());
        TRY(check_vec(b, w->t.size(0), "bias"));
        return give(at::linear(x->t, w->t, opt_t(b)), out);
    });
}

int sl_cat(const sl_tensor *const *xs, int n, int dim, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(xs);
        NEED(out);
        if (n < 1) return fail(SLT_EARG, "needs at least one tensor, got %d", n);
        std::vector<at::Tensor> ts;
        ts.reserve(n);
        for (int i = 0; i < n; i++) {
            if (!xs[i]) return fail(SLT_EARG, "xs[%d] is NULL", i);
            ts.push_back(xs[i]->t);
        }
        int64_t nd = ts[0].dim();
        if (nd == 0 || dim < -nd || dim >= nd)
            return fail(SLT_EARG, "dim %d out of range for shape %s", dim,
                        dims_str(ts[0].sizes()).c_str());
        int64_t cd = dim < 0 ? dim + nd : dim;
        for (int i = 1; i < n; i++) {
            bool ok = ts[i].dim() == nd;
            for (int64_t j = 0; ok && j < nd; j++)
                ok = j == cd || ts[i].size(j) == ts[0].size(j);
            if (!ok)
                return fail(SLT_ESHAPE, "xs[%d] %s does not fit xs[0] %s outside dim %d", i,
                            dims_str(ts[i].sizes()).c_str(), dims_str(ts[0].sizes()).c_str(), dim);
        }
        return give(at::cat(ts, cd), out);
    });
}

int sl_flatten(const sl_tensor *x, int start, int end, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        NEED(out);
        return give(at::flatten(x->t, start, end), out);
    });
}

int sl_dropout(const sl_tensor *x, double p, int training, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        NEED(out);
        if (!(p >= 0 && p <= 1)) return fail(SLT_EARG, "p %g outside [0, 1]", p);
        return give(at::dropout(x->t, p, training != 0), out);
    });
}

int sl_interpolate(const sl_tensor *x, sl_interp mode, const int64_t out_hw[2], sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        NEED(out_hw);
        NEED(out);
        TRY(check_4d(x->t, "input"));
        TRY(check_min(out_hw, 1, "out_hw"));
        at::IntArrayRef size(out_hw, 2);
        switch (enum_int(mode)) {
        case SL_INTERP_NEAREST:
            return give(at::upsample_nearest2d(x->t, size, c10::nullopt, c10::nullopt), out);
        case SL_INTERP_BILINEAR:
            return give(at::upsample_bilinear2d(x->t, size, /*align_corners=*/false, c10::nullopt,
                                                c10::nullopt),
                        out);
        }
        return fail(SLT_EARG, "unknown interpolation mode %d", enum_int(mode));
    });
}

int sl_softmax(const sl_tensor *x, int dim, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        NEED(out);
        return give(at::softmax(x->t, dim), out);
    });
}

int sl_log_softmax(const sl_tensor *x, int dim, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        NEED(out);
        return give(at::log_softmax(x->t, dim), out);
    });
}

/* ---- losses ----------------------------------------------------------------------------- */

int sl_cross_entropy(const sl_tensor *logits, const sl_tensor *target, double label_smoothing,
                     sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(logits);
        NEED(target);
        NEED(out);
        const at::Tensor &l = logits->t, &y = target->t;
        if (l.dim() != 2)
            return fail(SLT_ESHAPE, "logits have shape %s, expected {N, K}",
                        dims_str(l.sizes()).c_str());
        if (y.dim() != 1 || y.size(0) != l.size(0))
            return fail(SLT_ESHAPE, "target has shape %s, expected [%lld] for logits %s",
                        dims_str(y.sizes()).c_str(), (long long)l.size(0),
                        dims_str(l.sizes()).c_str());
        if (y.scalar_type() != at::kLong)
            return fail(SLT_EARG, "target is %s, expected int64", c10::toString(y.scalar_type()));
        if (!(label_smoothing >= 0 && label_smoothing < 1))
            return fail(SLT_EARG, "label_smoothing %g outside [0, 1)", label_smoothing);
        if (y.numel()) {
            auto mm = at::aminmax(y);
            int64_t lo = std::get<0>(mm).item<int64_t>(), hi = std::get<1>(mm).item<int64_t>();
            if (lo < 0 || hi >= l.size(1))
                return fail(SLT_EARG, "target holds %lld, outside 0..%lld for %lld classes",
                            (long long)(lo < 0 ? lo : hi), (long long)(l.size(1) - 1),
                            (long long)l.size(1));
        }
        return give(at::cross_entropy_loss(l, y, {}, at::Reduction::Mean, -100, label_smoothing),
                    out);
    });
}

int sl_mse_loss(const sl_tensor *a, const sl_tensor *b, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(a);
        NEED(b);
        NEED(out);
        TRY(same_shape(a->t, b->t, "a", "b"));
        return give(at::mse_loss(a->t, b->t, at::Reduction::Mean), out);
    });
}

int sl_kl_div(const sl_tensor *log_input, const sl_tensor *target, int log_target, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(log_input);
        NEED(target);
        NEED(out);
        TRY(same_shape(log_input->t, target->t, "log_input", "target"));
        if (log_input->t.dim() < 1) return fail(SLT_ESHAPE, "log_input needs a batch dim");
        // "batchmean" is not an ATen reduction: torch.nn.functional divides the sum by N.
        at::Tensor s = at::kl_div(log_input->t, target->t, at::Reduction::Sum, log_target != 0);
        return give(s / (double)log_input->t.size(0), out);
    });
}

/* ---- autograd --------------------------------------------------------------------------- */

int sl_tensor_set_requires_grad(sl_tensor *t, int requires)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        // libtorch's C++ API ignores the flag on a non-leaf; PyTorch refuses, and so does this.
        if (!t->t.is_leaf())
            return fail(SLT_EARG,
                        "tensor %s is not a leaf; only leaves' flags can change "
                        "(detach it first)",
                        dims_str(t->t.sizes()).c_str());
        t->t.set_requires_grad(requires != 0);
        return SLT_OK;
    });
}

int sl_tensor_requires_grad(const sl_tensor *t)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        return t->t.requires_grad() ? 1 : 0;
    });
}

int sl_backward(const sl_tensor *loss)
{
    return guarded(__func__, [&]() -> int {
        NEED(loss);
        if (loss->t.numel() != 1)
            return fail(SLT_EARG, "loss has shape %s; backward needs a one-element tensor",
                        dims_str(loss->t.sizes()).c_str());
        if (!loss->t.requires_grad())
            return fail(SLT_EARG, "loss does not require grad (no graph was built)");
        loss->t.backward();
        return SLT_OK;
    });
}

int sl_tensor_grad(const sl_tensor *t, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        NEED(out);
        // Reading .grad of a non-leaf makes libtorch print a warning; such tensors have none.
        if (!t->t.is_leaf() && !t->t.retains_grad()) {
            *out = nullptr;
            return SLT_OK;
        }
        const at::Tensor &g = t->t.grad();
        if (!g.defined()) {
            *out = nullptr;
            return SLT_OK;
        }
        return give(g, out);
    });
}

int sl_tensor_zero_grad(sl_tensor *t)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        t->t.mutable_grad().reset();
        return SLT_OK;
    });
}

int sl_grad_mode_set(int enabled)
{
    return guarded(__func__, [&]() -> int {
        int prev = at::GradMode::is_enabled() ? 1 : 0;
        at::GradMode::set_enabled(enabled != 0);
        return prev;
    });
}

int sl_run_inference(int (*fn)(void *ctx), void *ctx)
{
    return guarded(__func__, [&]() -> int {
        NEED(fn);
        c10::InferenceMode guard;
        return fn(ctx);
    });
}

/* ---- optimisers ------------------------------------------------------------------------- */

// The checks every optimiser constructor makes (out, the parameters, the learning rate); on
// success `ps` holds the parameters the optimiser will update.
static int check_optim_args(sl_tensor *const *params, int n, double lr, sl_optim **out,
                            std::vector<at::Tensor> &ps)
{
    NEED(out);
    NEED(params);
    if (n < 1) return fail(SLT_EARG, "needs at least one parameter, got %d", n);
    ps.reserve(n);
    for (int i = 0; i < n; i++) {
        if (!params[i]) return fail(SLT_EARG, "params[%d] is NULL", i);
        const at::Tensor &p = params[i]->t;
        if (!p.is_leaf() || !p.requires_grad())
            return fail(SLT_EARG, "params[%d] %s is not a leaf that requires grad", i,
                        dims_str(p.sizes()).c_str());
        ps.push_back(p);
    }
    if (!(lr >= 0)) return fail(SLT_EARG, "learning rate %g must be >= 0", lr);
    return SLT_OK;
}

// Hands the caller `opt`, which updates the tensors `ps` holds handles to.
static int give_optim(std::unique_ptr<torch::optim::Optimizer> opt, std::vector<at::Tensor> &&ps,
                      bool adam, sl_optim **out)
{
    auto o = std::make_unique<sl_optim>();
    o->params = std::move(ps);
    o->opt = std::move(opt);
    o->adam = adam;
    *out = o.release();
    return SLT_OK;
}

int sl_optim_sgd_new(sl_tensor *const *params, int n, double lr, double momentum, double dampening,
                     double weight_decay, int nesterov, sl_optim **out)
{
    return guarded(__func__, [&]() -> int {
        std::vector<at::Tensor> ps;
        TRY(check_optim_args(params, n, lr, out, ps));
        if (!(momentum >= 0)) return fail(SLT_EARG, "momentum %g must be >= 0", momentum);
        if (!(weight_decay >= 0))
            return fail(SLT_EARG, "weight_decay %g must be >= 0", weight_decay);
        if (nesterov && (momentum <= 0 || dampening != 0))
            return fail(SLT_EARG, "nesterov needs momentum > 0 and dampening 0 (got %g, %g)",
                        momentum, dampening);
        auto opts = torch::optim::SGDOptions(lr)
                        .momentum(momentum)
                        .dampening(dampening)
                        .weight_decay(weight_decay)
                        .nesterov(nesterov != 0);
        return give_optim(std::make_unique<torch::optim::SGD>(ps, opts), std::move(ps), false, out);
    });
}

int sl_optim_adam_new(sl_tensor *const *params, int n, double lr, double beta1, double beta2,
                      double eps, double weight_decay, sl_optim **out)
{
    return guarded(__func__, [&]() -> int {
        std::vector<at::Tensor> ps;
        TRY(check_optim_args(params, n, lr, out, ps));
        if (!(beta1 >= 0 && beta1 < 1)) return fail(SLT_EARG, "beta1 %g outside [0, 1)", beta1);
        if (!(beta2 >= 0 && beta2 < 1)) return fail(SLT_EARG, "beta2 %g outside [0, 1)", beta2);
        if (!(eps >= 0)) return fail(SLT_EARG, "eps %g must be >= 0", eps);
        if (!(weight_decay >= 0))
            return fail(SLT_EARG, "weight_decay %g must be >= 0", weight_decay);
        auto opts = torch::optim::AdamOptions(lr)
                        .betas(std::make_tuple(beta1, beta2))
                        .eps(eps)
                        .weight_decay(weight_decay);
        return give_optim(std::make_unique<torch::optim::Adam>(ps, opts), std::move(ps), true, out);
    });
}

int sl_optim_step(sl_optim *o)
{
    return guarded(__func__, [&]() -> int {
        NEED(o);
        o->opt->step();
        return SLT_OK;
    });
}

int sl_optim_zero_grad(sl_optim *o)
{
    return guarded(__func__, [&]() -> int {
        NEED(o);
        o->opt->zero_grad();
        return SLT_OK;
    });
}

int sl_optim_set_lr(sl_optim *o, double lr)
{
    return guarded(__func__, [&]() -> int {
        NEED(o);
        if (!(lr >= 0)) return fail(SLT_EARG, "learning rate %g must be >= 0", lr);
        for (auto &g : o->opt->param_groups())
            g.options().set_lr(lr);
        return SLT_OK;
    });
}

double sl_optim_lr(const sl_optim *o)
{
    double lr = -1.0;
    guarded(__func__, [&]() -> int {
        NEED(o);
        lr = o->opt->param_groups().at(0).options().get_lr();
        return SLT_OK;
    });
    return lr;
}

// The key torch::optim uses for a parameter's state.
static std::string state_key(const at::Tensor &p)
{
    return c10::guts::to_string(p.unsafeGetTensorImpl());
}

static int check_state_args(const sl_optim *o, int param_index, const char *name)
{
    NEED(o);
    NEED(name);
    int n = (int)o->params.size();
    if (param_index < 0 || param_index >= n)
        return fail(SLT_EARG, "param_index %d outside 0..%d", param_index, n - 1);
    bool known =
        o->adam ? !strcmp(name, "exp_avg") || !strcmp(name, "exp_avg_sq") || !strcmp(name, "step")
                : !strcmp(name, "momentum_buffer");
    if (!known)
        return fail(SLT_EARG, "unknown state \"%s\" for %s (known: %s)", name,
                    o->adam ? "Adam" : "SGD",
                    o->adam ? "exp_avg, exp_avg_sq, step" : "momentum_buffer");
    return SLT_OK;
}

int sl_optim_state_get(const sl_optim *o, int param_index, const char *name, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        TRY(check_state_args(o, param_index, name));
        NEED(out);
        const auto &state = o->opt->state();
        auto it = state.find(state_key(o->params[param_index]));
        at::Tensor v;
        if (it != state.end() && o->adam) {
            const auto &s = static_cast<const torch::optim::AdamParamState &>(*it->second);
            if (!strcmp(name, "step"))
                v = at::full({1}, (double)s.step(), at::TensorOptions().dtype(at::kFloat));
            else
                v = !strcmp(name, "exp_avg") ? s.exp_avg() : s.exp_avg_sq();
        } else if (it != state.end()) {
            v = static_cast<const torch::optim::SGDParamState &>(*it->second).momentum_buffer();
        }
        if (!v.defined()) {
            *out = nullptr;
            return SLT_OK;
        }
        return give(v.detach().clone(at::MemoryFormat::Contiguous), out);
    });
}

int sl_optim_state_set(sl_optim *o, int param_index, const char *name, const sl_tensor *value)
{
    return guarded(__func__, [&]() -> int {
        TRY(check_state_args(o, param_index, name));
        NEED(value);
        const at::Tensor &p = o->params[param_index];
        at::NoGradGuard no_grad;
        auto &state = o->opt->state();
        std::string key = state_key(p);
        auto it = state.find(key);
        if (o->adam && !strcmp(name, "step")) {
            if (value->t.numel() != 1)
                return fail(SLT_ESHAPE, "step has shape %s, expected one element",
                            dims_str(value->t.sizes()).c_str());
            double step = value->t.item<double>();
            if (!(step >= 0) || step != std::floor(step) || step > 9.0e15)
                return fail(SLT_EARG, "step %g is not a count", step);
            if (it == state.end()) {
                auto s = std::make_unique<torch::optim::AdamParamState>();
                s->exp_avg(at::zeros_like(p, at::MemoryFormat::Preserve));
                s->exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
                it = state.emplace(key, std::move(s)).first;
            }
            static_cast<torch::optim::AdamParamState &>(*it->second).step((int64_t)step);
            return SLT_OK;
        }
        TRY(same_shape(value->t, p, name, "the parameter"));
        at::Tensor v = value->t.detach().to(p.scalar_type(), false, /*copy=*/true).contiguous();
        if (o->adam) {
            if (it == state.end()) {
                auto s = std::make_unique<torch::optim::AdamParamState>();
                s->exp_avg(at::zeros_like(p, at::MemoryFormat::Preserve));
                s->exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
                it = state.emplace(key, std::move(s)).first;
            }
            auto &s = static_cast<torch::optim::AdamParamState &>(*it->second);
            if (!strcmp(name, "exp_avg"))
                s.exp_avg(v);
            else
                s.exp_avg_sq(v);
            return SLT_OK;
        }
        if (it == state.end()) {
            auto s = std::make_unique<torch::optim::SGDParamState>();
            s->momentum_buffer(v);
            state.emplace(key, std::move(s));
        } else {
            static_cast<torch::optim::SGDParamState &>(*it->second).momentum_buffer(v);
        }
        return SLT_OK;
    });
}

void sl_optim_free(sl_optim *o)
{
    delete o;
}

/* ---- quantisation ----------------------------------------------------------------------- */

static int check_qparams(double scale, int64_t zero_point)
{
    if (!(scale > 0) || !std::isfinite(scale))
        return fail(SLT_EARG, "scale %g must be positive and finite", scale);
    if (zero_point < 0 || zero_point > 255)
        return fail(SLT_EARG, "zero_point %lld outside 0..255", (long long)zero_point);
    return SLT_OK;
}

int sl_quant_params(const sl_tensor *x, double *scale, int64_t *zero_point)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        NEED(scale);
        NEED(zero_point);
        TRY(check_float(x->t, "x"));
        at::Tensor tlo, thi;
        TRY(tensor_minmax(x->t, "x", &tlo, &thi));
        // MinMaxObserver computes in float32; so does this, to give the same scale bit for bit.
        float lo = std::min(tlo.item<float>(), 0.0f);
        float hi = std::max(thi.item<float>(), 0.0f);
        if (!std::isfinite(lo) || !std::isfinite(hi))
            return fail(SLT_EARG, "x holds a non-finite value");
        float s = std::max((hi - lo) / 255.0f, FLT_EPSILON);
        float zp = 0.0f - std::nearbyint(lo / s);
        *scale = s;
        *zero_point = (int64_t)std::min(std::max(zp, 0.0f), 255.0f);
        return SLT_OK;
    });
}

// The checks of a float tensor `x` about to be quantised with scale and zero_point.
static int check_quant_args(const sl_tensor *x, double scale, int64_t zero_point, sl_tensor **out)
{
    NEED(x);
    NEED(out);
    TRY(check_float(x->t, "x"));
    return check_qparams(scale, zero_point);
}

int sl_quantize_u8(const sl_tensor *x, double scale, int64_t zero_point, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        TRY(check_quant_args(x, scale, zero_point, out));
        // PyTorch's own kernel, so the codes equal torch.quantize_per_tensor's and match the
        // rounding of sl_fake_quant_u8 (both multiply by 1/scale in float).
        at::Tensor q = at::quantize_per_tensor(x->t.detach(), scale, zero_point, at::kQUInt8);
        return give(q.int_repr(), out);
    });
}

int sl_dequantize_u8(const sl_tensor *q, double scale, int64_t zero_point, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(q);
        NEED(out);
        if (q->t.scalar_type() != at::kByte)
            return fail(SLT_EARG, "q is %s, expected uint8", c10::toString(q->t.scalar_type()));
        TRY(check_qparams(scale, zero_point));
        at::Tensor qt = at::_make_per_tensor_quantized_tensor(q->t.contiguous(), scale, zero_point);
        return give(qt.dequantize(), out);
    });
}

int sl_fake_quant_u8(const sl_tensor *x, double scale, int64_t zero_point, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        TRY(check_quant_args(x, scale, zero_point, out));
        return give(at::fake_quantize_per_tensor_affine(x->t, scale, zero_point, 0, 255), out);
    });
}

/* ---- initialisation and randomness ------------------------------------------------------ */

static int check_init_target(const sl_tensor *t, int min_dims)
{
    NEED(t);
    TRY(check_float(t->t, "t"));
    if (t->t.dim() < min_dims)
        return fail(SLT_EARG, "t has shape %s; fan in/out needs at least %d dims",
                    dims_str(t->t.sizes()).c_str(), min_dims);
    return SLT_OK;
}

int sl_init_kaiming_normal_(sl_tensor *t, int fan_out)
{
    return guarded(__func__, [&]() -> int {
        TRY(check_init_target(t, 2));
        at::NoGradGuard no_grad;
        torch::nn::init::FanModeType mode = torch::kFanIn;
        if (fan_out) mode = torch::kFanOut;
        torch::nn::init::kaiming_normal_(t->t, 0.0, mode, torch::kReLU);
        return SLT_OK;
    });
}

int sl_init_kaiming_uniform_(sl_tensor *t, double a)
{
    return guarded(__func__, [&]() -> int {
        TRY(check_init_target(t, 2));
        at::NoGradGuard no_grad;
        torch::nn::init::kaiming_uniform_(t->t, a, torch::kFanIn, torch::kLeakyReLU);
        return SLT_OK;
    });
}

int sl_init_uniform_(sl_tensor *t, double lo, double hi)
{
    return guarded(__func__, [&]() -> int {
        TRY(check_init_target(t, 0));
        if (!(lo <= hi)) return fail(SLT_EARG, "range [%g, %g) is empty", lo, hi);
        at::NoGradGuard no_grad;
        torch::nn::init::uniform_(t->t, lo, hi);
        return SLT_OK;
    });
}

int sl_init_normal_(sl_tensor *t, double mean, double std)
{
    return guarded(__func__, [&]() -> int {
        TRY(check_init_target(t, 0));
        if (!(std >= 0)) return fail(SLT_EARG, "std %g must be >= 0", std);
        at::NoGradGuard no_grad;
        torch::nn::init::normal_(t->t, mean, std);
        return SLT_OK;
    });
}

int sl_init_constant_(sl_tensor *t, double value)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        at::NoGradGuard no_grad;
        torch::nn::init::constant_(t->t, value);
        return SLT_OK;
    });
}

// A float tensor of the given shape drawn by `draw` from the global generator.
static int make_random(const char *fn, const int64_t *shape, int ndim, sl_tensor **out,
                       at::Tensor (*draw)(at::IntArrayRef))
{
    return guarded(fn, [&]() -> int {
        NEED(out);
        std::vector<int64_t> s;
        TRY(read_shape(shape, ndim, s));
        return give(draw(s), out);
    });
}

int sl_tensor_randn(const int64_t *shape, int ndim, sl_tensor **out)
{
    return make_random(__func__, shape, ndim, out, [](at::IntArrayRef s) { return at::randn(s); });
}

int sl_tensor_rand(const int64_t *shape, int ndim, sl_tensor **out)
{
    return make_random(__func__, shape, ndim, out, [](at::IntArrayRef s) { return at::rand(s); });
}

void sl_manual_seed(uint64_t seed)
{
    guarded(__func__, [&]() -> int {
        at::manual_seed(seed);
        return SLT_OK;
    });
}

/* ---- fusion helpers --------------------------------------------------------------------- */

int sl_fold_batch_norm(const sl_tensor *conv_w, const sl_tensor *conv_b, const sl_tensor *bn_w,
                       const sl_tensor *bn_b, const sl_tensor *bn_mean, const sl_tensor *bn_var,
                       double eps, sl_tensor **out_w, sl_tensor **out_b)
{
    return guarded(__func__, [&]() -> int {
        NEED(conv_w);
        NEED(bn_mean);
        NEED(bn_var);
        NEED(out_w);
        NEED(out_b);
        TRY(check_4d(conv_w->t, "conv_w"));
        int64_t o = conv_w->t.size(0);
        TRY(check_vec(conv_b, o, "conv_b"));
        TRY(check_vec(bn_w, o, "bn_w"));
        TRY(check_vec(bn_b, o, "bn_b"));
        TRY(check_vec(bn_mean, o, "bn_mean"));
        TRY(check_vec(bn_var, o, "bn_var"));
        if (!(eps >= 0)) return fail(SLT_EARG, "eps %g must be >= 0", eps);
        at::NoGradGuard no_grad;
        // The same expression order as torch.nn.utils.fusion.fuse_conv_bn_weights.
        at::Tensor rs = at::rsqrt(bn_var->t + eps);
        at::Tensor g = bn_w ? bn_w->t * rs : rs;
        at::Tensor w = conv_w->t * g.reshape({-1, 1, 1, 1});
        at::Tensor cb = conv_b ? conv_b->t : at::zeros_like(bn_mean->t);
        at::Tensor b = (cb - bn_mean->t) * rs;
        if (bn_w) b = b * bn_w->t;
        if (bn_b) b = b + bn_b->t;
        auto nw = std::make_unique<sl_tensor>(sl_tensor{w.contiguous()});
        auto nb = std::make_unique<sl_tensor>(sl_tensor{b.contiguous()});
        *out_w = nw.release();
        *out_b = nb.release();
        return SLT_OK;
    });
}

/* ---- MKL-DNN layout (inference) -------------------------------------------------------- */

int sl_tensor_is_mkldnn(const sl_tensor *t)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        return t->t.is_mkldnn() ? 1 : 0;
    });
}

int sl_tensor_to_mkldnn(const sl_tensor *t, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        NEED(out);
        if (t->t.is_mkldnn()) return give(t->t, out);
        TRY(check_float(t->t, "tensor"));
        if (t->t.requires_grad() && at::GradMode::is_enabled())
            return fail(SLT_EARG, "tensor requires grad; MKL-DNN tensors are for inference only");
        return give(t->t.to_mkldnn(), out);
    });
}

int sl_tensor_to_dense(const sl_tensor *t, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(t);
        NEED(out);
        return give(t->t.is_mkldnn() ? t->t.to_dense() : t->t, out);
    });
}

int sl_mkldnn_conv_weight(const sl_tensor *w, const int64_t stride[2], const int64_t pad[2],
                          const int64_t dil[2], int64_t groups, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(w);
        NEED(out);
        TRY(check_4d(w->t, "weight"));
        TRY(check_float(w->t, "weight"));
        int64_t s[2], p[2], d[2];
        TRY(read_conv_geometry(stride, pad, dil, s, p, d));
        if (groups < 1 || w->t.size(0) % groups != 0)
            return fail(SLT_EARG, "groups %lld must be >= 1 and divide %lld output channels",
                        (long long)groups, (long long)w->t.size(0));
        at::NoGradGuard no_grad;
        at::Tensor mw = w->t.is_mkldnn() ? w->t : w->t.contiguous().to_mkldnn();
        return give(at::mkldnn_reorder_conv2d_weight(mw, p, s, d, groups), out);
    });
}

int sl_mkldnn_conv2d(const sl_tensor *x, const sl_tensor *w, const sl_tensor *b,
                     const int64_t stride[2], const int64_t pad[2], const int64_t dil[2],
                     int64_t groups, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        TRY(check_conv_tensors(x, w, out));
        TRY(check_float(x->t, "input"));
        int64_t s[2], p[2], d[2];
        TRY(read_conv_geometry(stride, pad, dil, s, p, d));
        const at::Tensor &xt = x->t, &wt = w->t;
        TRY(check_conv_channels(xt, wt, b, groups));
        if (b && b->t.is_mkldnn()) return fail(SLT_EARG, "bias must be a strided tensor");
        TRY(check_kernel_fits(xt, wt, p, d));
        if ((xt.requires_grad() || wt.requires_grad()) && at::GradMode::is_enabled())
            return fail(SLT_EARG, "MKL-DNN convolution is for inference only (grad mode is on)");
        // A strided input must be contiguous for MKL-DNN to read it as NCHW.
        at::Tensor xin = xt.is_mkldnn() ? xt : xt.contiguous();
        at::Tensor bias = b ? b->t.contiguous() : at::Tensor();
        return give(at::mkldnn_convolution(xin, wt, bias, p, s, d, groups), out);
    });
}

int sl_mkldnn_linear(const sl_tensor *x, const sl_tensor *w, const sl_tensor *b, sl_tensor **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(x);
        NEED(w);
        NEED(out);
        if (w->t.dim() != 2 || w->t.is_mkldnn())
            return fail(SLT_ESHAPE, "weight has shape %s, expected a strided {out, in}",
                        dims_str(w->t.sizes()).c_str());
        if (x->t.dim() != 2 || x->t.size(1) != w->t.size(1))
            return fail(SLT_ESHAPE, "input %s is not {N, %lld} for weight %s",
                        dims_str(x->t.sizes()).c_str(), (long long)w->t.size(1),
                        dims_str(w->t.sizes()).c_str());
        TRY(check_float(x->t, "input"));
        TRY(check_float(w->t, "weight"));
        TRY(check_vec(b, w->t.size(0), "bias"));
        if ((x->t.requires_grad() || w->t.requires_grad()) && at::GradMode::is_enabled())
            return fail(SLT_EARG, "MKL-DNN linear is for inference only (grad mode is on)");
        at::Tensor xm = x->t.is_mkldnn() ? x->t : x->t.contiguous().to_mkldnn();
        at::Tensor y = at::mkldnn_linear(xm, w->t.contiguous(), b ? b->t.contiguous() : at::Tensor());
        return give(x->t.is_mkldnn() ? y : y.to_dense(), out);
    });
}

/* ---- TorchScript compilation (inference) ---------------------------------------------- */

int sl_jit_compile(const char *source, const char *const *names, const sl_tensor *const *attrs,
                   int nattrs, int nin, int nout, int fold, sl_jit **out)
{
    return guarded(__func__, [&]() -> int {
        NEED(out);
        *out = nullptr;
        NEED(source);
        if (nattrs < 0 || (nattrs > 0 && (!names || !attrs)))
            return fail(SLT_EARG, "bad attribute list (%d entries)", nattrs);
        if (nin < 1 || nout < 1)
            return fail(SLT_EARG, "needs inputs and outputs (%d, %d)", nin, nout);
        // The module stays in the caller's grad mode rules: freezing and optimising run
        // their own passes without autograd, and the constants must not require grad.
        at::NoGradGuard no_grad;
        torch::jit::Module m("__torch__.ScissionLiteRange");
        for (int i = 0; i < nattrs; i++) {
            NEED(names[i]);
            NEED(attrs[i]);
            m.register_buffer(names[i], attrs[i]->t.detach());
        }
        m.define(source);
        m.eval();
        torch::jit::Module f = torch::jit::freeze(m, c10::nullopt, fold != 0);
        torch::jit::Module o = torch::jit::optimize_for_inference(f);
        auto *j = new sl_jit{o, o.get_method("forward"), nin, nout};
        *out = j;
        return SLT_OK;
    });
}

int sl_jit_run(sl_jit *m, const sl_tensor *const *in, int nin, sl_tensor **out, int nout)
{
    return guarded(__func__, [&]() -> int {
        NEED(m);
        NEED(in);
        NEED(out);
        if (nin != m->nin || nout != m->nout)
            return fail(SLT_EARG, "module takes %d inputs and gives %d outputs, called with %d, %d",
                        m->nin, m->nout, nin, nout);
        std::vector<c10::IValue> args;
        args.reserve((size_t)nin);
        for (int i = 0; i < nin; i++) {
            NEED(in[i]);
            args.emplace_back(in[i]->t);
        }
        at::NoGradGuard no_grad;
        // The graph executor's optimiser stays on, as for TorchScript in Python: its profiling
        // runs make the first two calls slower, and the specialised graph it then runs was
        // 1.3-2.4x faster on densenet121 (docs/benchmarks.md, "Inference (executor)").
        c10::IValue r = m->fwd(std::move(args));
        std::vector<at::Tensor> res;
        if (r.isTuple()) {
            for (const auto &v : r.toTupleRef().elements())
                res.push_back(v.toTensor());
        } else {
            res.push_back(r.toTensor());
        }
        if ((int)res.size() != nout)
            return fail(SLT_ETORCH, "module gave %zu outputs, expected %d", res.size(), nout);
        for (int i = 0; i < nout; i++)
            out[i] = new sl_tensor{res[(size_t)i]};
        return SLT_OK;
    });
}

int sl_jit_count_kind(const sl_jit *m, const char *kind)
{
    return guarded(__func__, [&]() -> int {
        NEED(m);
        NEED(kind);
        auto g = m->fwd.graph();
        c10::Symbol sym = c10::Symbol::fromQualString(kind);
        int n = 0;
        std::vector<torch::jit::Block *> todo{g->block()};
        while (!todo.empty()) {
            torch::jit::Block *b = todo.back();
            todo.pop_back();
            for (torch::jit::Node *node : b->nodes()) {
                n += node->kind() == sym;
                for (torch::jit::Block *sub : node->blocks())
                    todo.push_back(sub);
            }
        }
        return n;
    });
}

int sl_jit_graph_text(const sl_jit *m, char *buf, size_t size, size_t *len)
{
    return guarded(__func__, [&]() -> int {
        NEED(m);
        std::string s = m->fwd.graph()->toString();
        if (len) *len = s.size();
        if (buf && size) {
            size_t n = std::min(size - 1, s.size());
            memcpy(buf, s.data(), n);
            buf[n] = '\0';
        }
        return SLT_OK;
    });
}

void sl_jit_free(sl_jit *m)
{
    delete m;
}

/* ---- threads ---------------------------------------------------------------------------- */

int sl_set_num_threads(int n)
{
    return guarded(__func__, [&]() -> int {
        if (n < 1) return fail(SLT_EARG, "thread count %d must be >= 1", n);
        at::set_num_threads(n);
        return SLT_OK;
    });
}

int sl_get_num_threads(void)
{
    return guarded(__func__, [&]() -> int { return at::get_num_threads(); });
}

} // extern "C"
