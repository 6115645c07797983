/* wire.c: tensor payload encoding with optional zstd (see wire.h). */
#include "offloader/wire.h"
#include "offloader/proto.h"
#include "common/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define WIRE_FIXED 12

size_t sl_wire_elem_size(int dtype)
{
    return dtype == SL_WIRE_F32 ? 4 : dtype == SL_WIRE_U8 ? 1 : 0;
}

static int count_bytes(int dtype, int ndim, const int64_t *dims, size_t *nbytes)
{
    size_t es = sl_wire_elem_size(dtype);
    if (!es) return sl_err(SL_EFORMAT, "tensor dtype %d is neither f32 (1) nor u8 (2)", dtype);
    if (ndim < 1 || ndim > SL_WIRE_MAX_DIMS)
        return sl_err(SL_EFORMAT, "tensor rank %d outside 1..%d", ndim, SL_WIRE_MAX_DIMS);
    uint64_t n = es;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 1 || dims[i] > UINT32_MAX)
            return sl_err(SL_EFORMAT, "tensor dim %d is %lld (must be 1..%u)", i,
                          (long long)dims[i], UINT32_MAX);
        if (n > SIZE_MAX / 2 / (uint64_t)dims[i])
            return sl_err(SL_EFORMAT, "tensor dims overflow the address space");
        n *= (uint64_t)dims[i];
    }
    *nbytes = (size_t)n;
    return SL_OK;
}

int sl_wire_tensor_alloc(sl_wire_tensor *t, int dtype, int ndim, const int64_t *dims)
{
    memset(t, 0, sizeof *t);
    size_t nbytes;
    int rc = count_bytes(dtype, ndim, dims, &nbytes);
    if (rc) return sl_err(SL_EARG, "%s", sl_errmsg());
    t->data = calloc(1, nbytes);
    if (!t->data) return sl_err(SL_ENOMEM, "out of memory for a %zu-byte tensor", nbytes);
    t->dtype = dtype;
    t->ndim = ndim;
    memcpy(t->dims, dims, (size_t)ndim * sizeof *dims);
    t->scale = 1.0f;
    t->nbytes = nbytes;
    return SL_OK;
}

void sl_wire_tensor_free(sl_wire_tensor *t)
{
    if (!t) return;
    free(t->data);
    memset(t, 0, sizeof *t);
}

void sl_wire_describe(const sl_wire_tensor *t, char *buf, size_t n)
{
    size_t w = (size_t)snprintf(buf, n, "%s[",
                                t->dtype == SL_WIRE_F32  ? "f32"
                                : t->dtype == SL_WIRE_U8 ? "u8"
                                                         : "?");
    for (int i = 0; i < t->ndim && w < n; i++)
        w += (size_t)snprintf(buf + w, n - w, "%s%lld", i ? "x" : "", (long long)t->dims[i]);
    if (w < n) snprintf(buf + w, n - w, "]");
}

/* Elements travel little-endian; on a big-endian host f32 words are swapped in a copy. */
static void copy_le(uint8_t *dst, const void *src, size_t nbytes, int dtype)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    if (dtype == SL_WIRE_F32) {
        const uint8_t *s = src;
        for (size_t i = 0; i + 3 < nbytes; i += 4) {
            dst[i] = s[i + 3];
            dst[i + 1] = s[i + 2];
            dst[i + 2] = s[i + 1];
            dst[i + 3] = s[i];
        }
        return;
    }
#else
    (void)dtype;
#endif
    memcpy(dst, src, nbytes);
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int sl_wire_encode_list(const sl_wire_tensor *ts, int n, int zstd_level, size_t max_payload,
                        uint8_t **out, size_t *len, int *compressed)
{
    *out = NULL;
    *len = 0;
    if (compressed) *compressed = 0;
    if (n < 1 || n > SL_WIRE_MAX_TENSORS)
        return sl_err(SL_EARG, "%d tensors in one payload (1..%d allowed)", n, SL_WIRE_MAX_TENSORS);
    uint8_t *parts[SL_WIRE_MAX_TENSORS];
    size_t sizes[SL_WIRE_MAX_TENSORS], total = 0;
    int rc = SL_OK, k = 0;
    for (; k < n && rc == SL_OK; k++) {
        int comp = 0;
        rc = sl_wire_encode(&ts[k], zstd_level, max_payload - total, &parts[k], &sizes[k], &comp);
        if (rc) {
            sl_err_ctx(rc, "tensor %d: ", k);
            break;
        }
        total += sizes[k];
        if (compressed) *compressed |= comp;
    }
    uint8_t *p = rc ? NULL : malloc(total);
    if (!rc && !p) rc = sl_err(SL_ENOMEM, "out of memory for a %zu-byte payload", total);
    size_t off = 0;
    for (int i = 0; i < k; i++) {
        if (p) memcpy(p + off, parts[i], sizes[i]);
        off += sizes[i];
        free(parts[i]);
    }
    if (rc) {
        if (compressed) *compressed = 0;
        return rc;
    }
    *out = p;
    *len = total;
    return SL_OK;
}

int sl_wire_encode(const sl_wire_tensor *t, int zstd_level, size_t max_payload, uint8_t **out,
                   size_t *len, int *compressed)
{
    *out = NULL;
    *len = 0;
    if (compressed) *compressed = 0;
    size_t nbytes;
    int rc = count_bytes(t->dtype, t->ndim, t->dims, &nbytes);
    if (rc) return sl_err(SL_EARG, "%s", sl_errmsg());
    if (nbytes != t->nbytes)
        return sl_err(SL_EARG, "tensor holds %zu bytes but its dims need %zu", t->nbytes, nbytes);
    size_t head = WIRE_FIXED + 4 * (size_t)t->ndim + 16;
    uint8_t *raw = malloc(nbytes ? nbytes : 1);
    if (!raw) return sl_err(SL_ENOMEM, "out of memory encoding a %zu-byte tensor", nbytes);
    copy_le(raw, t->data, nbytes, t->dtype);

    const uint8_t *data = raw;
    size_t data_len = nbytes;
    uint8_t *z = NULL;
    if (zstd_level > 0 && nbytes >= 64) {
        size_t bound = ZSTD_compressBound(nbytes);
        z = malloc(bound);
        if (z) {
            size_t zn = ZSTD_compress(z, bound, raw, nbytes, zstd_level);
            if (!ZSTD_isError(zn) && zn <= nbytes - nbytes / 8) {
                data = z;
                data_len = zn;
            }
        }
    }
    size_t total = head + data_len;
    if (total > max_payload) {
        free(z);
        free(raw);
        return sl_err(SL_EARG, "tensor payload of %zu bytes is over the frame limit of %zu", total,
                      max_payload);
    }
    uint8_t *p = malloc(total);
    if (!p) {
        free(z);
        free(raw);
        return sl_err(SL_ENOMEM, "out of memory for a %zu-byte payload", total);
    }
    p[0] = (uint8_t)t->dtype;
    p[1] = (uint8_t)t->ndim;
    p[2] = data == raw ? SL_WIRE_RAW : SL_WIRE_ZSTD;
    p[3] = 0;
    sl_le32_put(p + 4, f32_bits(t->dtype == SL_WIRE_U8 ? t->scale : 1.0f));
    sl_le32_put(p + 8, (uint32_t)(t->dtype == SL_WIRE_U8 ? t->zero_point : 0));
    for (int i = 0; i < t->ndim; i++)
        sl_le32_put(p + WIRE_FIXED + 4 * i, (uint32_t)t->dims[i]);
    sl_le64_put(p + head - 16, nbytes);
    sl_le64_put(p + head - 8, data_len);
    memcpy(p + head, data, data_len);
    if (compressed) *compressed = data != raw;
    free(z);
    free(raw);
    *out = p;
    *len = total;
    return SL_OK;
}

/* Decodes the tensor at the start of p[0..len); *used gets its size (head + data_bytes). */
static int decode_one(const uint8_t *p, size_t len, size_t max_bytes, sl_wire_tensor *t,
                      size_t *used)
{
    memset(t, 0, sizeof *t);
    if (len < WIRE_FIXED)
        return sl_err(SL_EFORMAT, "tensor payload of %zu bytes is shorter than its %d-byte head",
                      len, WIRE_FIXED);
    int dtype = p[0], ndim = p[1], comp = p[2];
    if (comp != SL_WIRE_RAW && comp != SL_WIRE_ZSTD)
        return sl_err(SL_EFORMAT, "tensor compression %d is neither none (0) nor zstd (1)", comp);
    if (ndim < 1 || ndim > SL_WIRE_MAX_DIMS)
        return sl_err(SL_EFORMAT, "tensor rank %d outside 1..%d", ndim, SL_WIRE_MAX_DIMS);
    size_t head = WIRE_FIXED + 4 * (size_t)ndim + 16;
    if (len < head)
        return sl_err(SL_EFORMAT, "tensor payload of %zu bytes is shorter than its %zu-byte head",
                      len, head);
    if (dtype == SL_WIRE_U8) {
        float scale = bits_f32(sl_le32_get(p + 4));
        int32_t zp = (int32_t)sl_le32_get(p + 8);
        if (!(scale > 0) || isinf(scale) || zp < 0 || zp > 255)
            return sl_err(SL_EFORMAT, "u8 tensor scale %g / zero_point %d out of range", scale, zp);
    }
    int64_t dims[SL_WIRE_MAX_DIMS];
    for (int i = 0; i < ndim; i++)
        dims[i] = sl_le32_get(p + WIRE_FIXED + 4 * i);
    size_t nbytes;
    int rc = count_bytes(dtype, ndim, dims, &nbytes);
    if (rc) return rc;
    uint64_t raw_bytes = sl_le64_get(p + head - 16), data_bytes = sl_le64_get(p + head - 8);
    if (raw_bytes != nbytes)
        return sl_err(SL_EFORMAT, "tensor raw_bytes %llu does not match its dims (%zu bytes)",
                      (unsigned long long)raw_bytes, nbytes);
    if (nbytes > max_bytes)
        return sl_err(SL_EFORMAT, "tensor of %zu bytes is over the limit of %zu", nbytes,
                      max_bytes);
    if (data_bytes > len - head)
        return sl_err(SL_EFORMAT, "tensor data_bytes %llu but only %zu bytes follow the head",
                      (unsigned long long)data_bytes, len - head);
    if (comp == SL_WIRE_RAW && data_bytes != nbytes)
        return sl_err(SL_EFORMAT, "uncompressed tensor carries %llu bytes, dims need %zu",
                      (unsigned long long)data_bytes, nbytes);
    uint8_t *buf = malloc(nbytes ? nbytes : 1);
    if (!buf) return sl_err(SL_ENOMEM, "out of memory for a %zu-byte tensor", nbytes);
    if (comp == SL_WIRE_ZSTD) {
        unsigned long long fcs = ZSTD_getFrameContentSize(p + head, data_bytes);
        if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != nbytes) {
            free(buf);
            return sl_err(SL_EFORMAT, "zstd tensor data declares %llu bytes, dims need %zu", fcs,
                          nbytes);
        }
        size_t got = ZSTD_decompress(buf, nbytes, p + head, data_bytes);
        if (ZSTD_isError(got) || got != nbytes) {
            free(buf);
            return sl_err(SL_EFORMAT, "zstd tensor data is corrupt: %s",
                          ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short output");
        }
    } else {
        memcpy(buf, p + head, nbytes);
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    if (dtype == SL_WIRE_F32) {
        for (size_t i = 0; i + 3 < nbytes; i += 4) {
            uint8_t a = buf[i], b = buf[i + 1];
            buf[i] = buf[i + 3];
            buf[i + 1] = buf[i + 2];
            buf[i + 2] = b;
            buf[i + 3] = a;
        }
    }
#endif
    t->dtype = dtype;
    t->ndim = ndim;
    memcpy(t->dims, dims, sizeof dims[0] * (size_t)ndim);
    t->scale = dtype == SL_WIRE_U8 ? bits_f32(sl_le32_get(p + 4)) : 1.0f;
    t->zero_point = dtype == SL_WIRE_U8 ? (int32_t)sl_le32_get(p + 8) : 0;
    t->data = buf;
    t->nbytes = nbytes;
    *used = head + (size_t)data_bytes;
    return SL_OK;
}

int sl_wire_decode(const uint8_t *p, size_t len, size_t max_bytes, sl_wire_tensor *t)
{
    size_t used;
    int rc = decode_one(p, len, max_bytes, t, &used);
    if (rc) return rc;
    if (used != len) {
        sl_wire_tensor_free(t);
        return sl_err(SL_EFORMAT, "%zu stray bytes after the tensor", len - used);
    }
    return SL_OK;
}

int sl_wire_decode_list(const uint8_t *p, size_t len, size_t max_bytes, sl_wire_tensor *ts,
                        int max_n, int *n)
{
    *n = 0;
    size_t off = 0, total = 0;
    int rc = SL_OK;
    if (len == 0) return sl_err(SL_EFORMAT, "tensor list is empty");
    while (off < len && rc == SL_OK) {
        if (*n == max_n) {
            rc = sl_err(SL_EFORMAT, "more than %d tensors in one payload", max_n);
            break;
        }
        size_t used;
        rc = decode_one(p + off, len - off, max_bytes - total, &ts[*n], &used);
        if (rc) {
            sl_err_ctx(rc, "tensor %d: ", *n);
            break;
        }
        total += ts[*n].nbytes;
        off += used;
        (*n)++;
    }
    if (rc) {
        for (int i = 0; i < *n; i++)
            sl_wire_tensor_free(&ts[i]);
        *n = 0;
    }
    return rc;
}
