/* wire.h: tensors as they cross the network (INFER and RESULT payloads).
 *
 * A wire tensor is float32 or uint8 (per-tensor quantised: real = scale * (q - zero_point)) with
 * up to 8 dimensions, row-major, elements little-endian. Its payload (docs/protocol.md):
 *
 *   off size field
 *     0   1  dtype        1 = f32, 2 = u8
 *     1   1  ndim         1..8
 *     2   1  compression  0 = none, 1 = zstd (one zstd frame holding the raw bytes)
 *     3   1  reserved     0
 *     4   4  scale        f32 (u8 only; 1.0 for f32)
 *     8   4  zero_point   i32 (u8 only; 0 for f32)
 *    12 4*n  dims         u32 each, >= 1
 *     .   8  raw_bytes    u64, = product(dims) * element size
 *     .   8  data_bytes   u64, bytes that follow (= raw_bytes when not compressed)
 *     .   .  data
 *
 * A cut of several tensors (a DAG cut without a TL) travels as several such payloads back to
 * back in one frame, at most SL_WIRE_MAX_TENSORS, in the order of the bundles' wire description
 * (sl_wire_encode_list / sl_wire_decode_list).
 *
 * sl_wire_encode compresses with zstd only when that saves at least 1/8 of the bytes, so
 * incompressible activations do not pay the encode time on both ends for nothing.
 */
#ifndef SL_OFFLOADER_WIRE_H
#define SL_OFFLOADER_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define SL_WIRE_MAX_DIMS 8
#define SL_WIRE_MAX_TENSORS 16
/* A decoded tensor may be at most this many times the frame limit, which bounds what a small
 * zstd payload can make the receiver allocate. */
#define SL_TENSOR_EXPANSION 4

enum sl_wire_dtype { SL_WIRE_F32 = 1, SL_WIRE_U8 = 2 };
enum sl_wire_compression { SL_WIRE_RAW = 0, SL_WIRE_ZSTD = 1 };

typedef struct sl_wire_tensor {
    int dtype; /* SL_WIRE_F32 or SL_WIRE_U8 */
    int ndim;
    int64_t dims[SL_WIRE_MAX_DIMS];
    float scale;        /* u8 only */
    int32_t zero_point; /* u8 only */
    void *data;         /* host-order elements; owned as documented per function */
    size_t nbytes;      /* product(dims) * element size */
} sl_wire_tensor;

/* Bytes per element of a dtype (4 or 1), 0 for an unknown dtype. */
size_t sl_wire_elem_size(int dtype);

/* Fills t with a new zeroed buffer for dtype and dims (t->data owned by t; free with
 * sl_wire_tensor_free). Returns SL_OK, SL_EARG (bad dtype/rank/dims) or SL_ENOMEM; on error t
 * holds no buffer. */
int sl_wire_tensor_alloc(sl_wire_tensor *t, int dtype, int ndim, const int64_t *dims);

/* Frees t->data and zeroes t; NULL is a no-op. */
void sl_wire_tensor_free(sl_wire_tensor *t);

/* "f32[1x8x28x28]" into buf, for messages. */
void sl_wire_describe(const sl_wire_tensor *t, char *buf, size_t n);

/* Encodes t (borrowed) into a new payload (*out, caller frees; *len its size). zstd_level 0 = never
 * compress; 1..19 = try zstd at that level and keep it when it pays. max_payload bounds the
 * result. *compressed (may be NULL) tells whether zstd was used. On error *out is NULL. */
int sl_wire_encode(const sl_wire_tensor *t, int zstd_level, size_t max_payload, uint8_t **out,
                   size_t *len, int *compressed);

/* Decodes a payload into t (t->data new, owned by t). Every field is checked: dtype, rank, dims
 * (>= 1, product without overflow, <= max_bytes), raw_bytes consistent with dims, data_bytes equal
 * to what is left, zstd output exactly raw_bytes. Returns SL_OK or SL_EFORMAT / SL_ENOMEM with a
 * message naming the field; on error t holds no buffer. */
int sl_wire_decode(const uint8_t *payload, size_t len, size_t max_bytes, sl_wire_tensor *t);

/* Encodes n tensors (1..SL_WIRE_MAX_TENSORS, borrowed) back to back into one new payload, each
 * compressed or not on its own merits; max_payload bounds the whole. *compressed (may be NULL)
 * tells whether any was compressed. On error *out is NULL. */
int sl_wire_encode_list(const sl_wire_tensor *ts, int n, int zstd_level, size_t max_payload,
                        uint8_t **out, size_t *len, int *compressed);

/* Decodes every tensor of a payload into ts[0..*n) (each owning its data), at most max_n, their
 * raw bytes together at most max_bytes. On error (any tensor bad, none at all, too many) no
 * tensor is kept, *n is 0 and the message names the tensor's index. */
int sl_wire_decode_list(const uint8_t *payload, size_t len, size_t max_bytes, sl_wire_tensor *ts,
                        int max_n, int *n);

#endif
