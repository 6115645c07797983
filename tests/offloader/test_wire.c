/* test_wire.c: tensor payload round trips (raw, u8, zstd) and refusal of corrupt payloads. */
#include "offloader/proto.h"
#include "offloader/wire.h"
#include "common/status.h"
#include "testutil.h"

static void test_f32_round_trip(void)
{
    int64_t dims[4] = {2, 3, 5, 7};
    sl_wire_tensor t, u;
    CHECK_OK(sl_wire_tensor_alloc(&t, SL_WIRE_F32, 4, dims), sl_errmsg());
    float *d = t.data;
    for (int i = 0; i < 210; i++)
        d[i] = (float)i * 0.37f - 20.0f + (float)(i % 7) * 1e-3f;
    uint8_t *p;
    size_t len;
    int comp = -1;
    CHECK_OK(sl_wire_encode(&t, 0, 1 << 20, &p, &len, &comp), sl_errmsg());
    CHECK_EQ(comp, 0);
    CHECK_EQ(len, 12 + 4 * 4 + 16 + 210 * 4);
    CHECK_EQ(p[0], SL_WIRE_F32);
    CHECK_EQ(p[1], 4);
    CHECK_EQ(sl_le32_get(p + 12 + 4 * 3), 7);
    CHECK_OK(sl_wire_decode(p, len, 1 << 20, &u), sl_errmsg());
    CHECK_EQ(u.dtype, SL_WIRE_F32);
    CHECK_EQ(u.ndim, 4);
    CHECK_EQ(u.dims[3], 7);
    CHECK_EQ(u.nbytes, t.nbytes);
    CHECK(memcmp(u.data, t.data, t.nbytes) == 0);
    char desc[64];
    sl_wire_describe(&u, desc, sizeof desc);
    CHECK_STR(desc, "f32[2x3x5x7]");
    sl_wire_tensor_free(&u);
    free(p);
    sl_wire_tensor_free(&t);
}

static void test_u8_and_zstd(void)
{
    int64_t dims[3] = {8, 32, 32};
    sl_wire_tensor t, u;
    CHECK_OK(sl_wire_tensor_alloc(&t, SL_WIRE_U8, 3, dims), sl_errmsg());
    t.scale = 0.05f;
    t.zero_point = 128;
    uint8_t *d = t.data;
    for (size_t i = 0; i < t.nbytes; i++)
        d[i] = (uint8_t)(i % 16 == 0 ? i / 64 : 0);
    uint8_t *p;
    size_t len;
    int comp = 0;
    CHECK_OK(sl_wire_encode(&t, 3, 1 << 20, &p, &len, &comp), sl_errmsg());
    CHECK_EQ(comp, 1);
    CHECK_EQ(p[2], SL_WIRE_ZSTD);
    CHECK(len < t.nbytes / 4);
    CHECK_OK(sl_wire_decode(p, len, 1 << 20, &u), sl_errmsg());
    CHECK_EQ(u.dtype, SL_WIRE_U8);
    CHECK_NEAR(u.scale, 0.05, 1e-9);
    CHECK_EQ(u.zero_point, 128);
    CHECK(memcmp(u.data, t.data, t.nbytes) == 0);
    sl_wire_tensor_free(&u);

    /* Corrupting the compressed bytes must be caught, not decoded into garbage. */
    size_t head = 12 + 3 * 4 + 16;
    p[head + (len - head) / 2] ^= 0xff;
    p[len - 1] ^= 0x55;
    int rc = sl_wire_decode(p, len, 1 << 20, &u);
    if (rc == SL_OK) {
        CHECK(memcmp(u.data, t.data, t.nbytes) != 0);
        sl_wire_tensor_free(&u);
    } else {
        CHECK_EQ(rc, SL_EFORMAT);
        CHECK_CONTAINS(sl_errmsg(), "zstd");
    }
    free(p);

    /* Incompressible data goes raw even when zstd is allowed. */
    uint32_t x = 12345;
    for (size_t i = 0; i < t.nbytes; i++) {
        x = x * 1664525u + 1013904223u;
        d[i] = (uint8_t)(x >> 24);
    }
    CHECK_OK(sl_wire_encode(&t, 3, 1 << 20, &p, &len, &comp), sl_errmsg());
    CHECK_EQ(comp, 0);
    CHECK_EQ(len, head + t.nbytes);
    free(p);
    sl_wire_tensor_free(&t);
}

static void expect_bad(const uint8_t *p, size_t len, size_t max, const char *text)
{
    sl_wire_tensor u;
    CHECK_EQ(sl_wire_decode(p, len, max, &u), SL_EFORMAT);
    CHECK(u.data == NULL);
    CHECK_CONTAINS(sl_errmsg(), text);
}

static void test_corrupt(void)
{
    int64_t dims[2] = {4, 6};
    sl_wire_tensor t;
    sl_wire_tensor_alloc(&t, SL_WIRE_U8, 2, dims);
    t.scale = 0.5f;
    uint8_t *p, *m;
    size_t len;
    CHECK_OK(sl_wire_encode(&t, 0, 4096, &p, &len, NULL), sl_errmsg());
    m = malloc(len);
    expect_bad(p, 5, 4096, "shorter than its 12-byte head");
    expect_bad(p, 20, 4096, "shorter than its");
    expect_bad(p, len - 1, 4096, "data_bytes");
    expect_bad(p, len, 10, "over the limit");
    memcpy(m, p, len), m[0] = 3;
    expect_bad(m, len, 4096, "dtype 3");
    memcpy(m, p, len), m[1] = 0;
    expect_bad(m, len, 4096, "rank 0");
    memcpy(m, p, len), m[1] = 9;
    expect_bad(m, len, 4096, "rank 9");
    memcpy(m, p, len), m[2] = 7;
    expect_bad(m, len, 4096, "compression 7");
    memcpy(m, p, len), sl_le32_put(m + 12, 0);
    expect_bad(m, len, 4096, "dim 0 is 0");
    memcpy(m, p, len), sl_le32_put(m + 12, 5);
    expect_bad(m, len, 4096, "raw_bytes 24 does not match");
    memcpy(m, p, len), sl_le32_put(m + 4, 0x7fc00000u); /* NaN scale */
    expect_bad(m, len, 4096, "scale");
    memcpy(m, p, len), sl_le32_put(m + 8, 300);
    expect_bad(m, len, 4096, "zero_point 300");
    memcpy(m, p, len), sl_le32_put(m + 12, 0xffffffffu), sl_le32_put(m + 16, 0xffffffffu);
    expect_bad(m, len, 4096, "");
    free(m);
    free(p);

    /* The encoder refuses a payload over the frame limit and a tensor whose bytes lie. */
    CHECK_EQ(sl_wire_encode(&t, 0, 30, &p, &len, NULL), SL_EARG);
    CHECK(p == NULL);
    t.nbytes = 5;
    CHECK_EQ(sl_wire_encode(&t, 0, 4096, &p, &len, NULL), SL_EARG);
    t.nbytes = 24;
    sl_wire_tensor_free(&t);
    int64_t bad[1] = {0};
    CHECK_EQ(sl_wire_tensor_alloc(&t, SL_WIRE_F32, 1, bad), SL_EARG);
}

static void test_list(void)
{
    int64_t da[2] = {2, 3}, db[3] = {1, 4, 4};
    sl_wire_tensor in[2], out[SL_WIRE_MAX_TENSORS];
    sl_wire_tensor_alloc(&in[0], SL_WIRE_F32, 2, da);
    sl_wire_tensor_alloc(&in[1], SL_WIRE_U8, 3, db);
    in[1].scale = 2.0f;
    in[1].zero_point = 1;
    for (int i = 0; i < 6; i++)
        ((float *)in[0].data)[i] = (float)i - 2.5f;
    for (int i = 0; i < 16; i++)
        ((uint8_t *)in[1].data)[i] = (uint8_t)(3 * i);
    uint8_t *p;
    size_t len;
    CHECK_OK(sl_wire_encode_list(in, 2, 0, 4096, &p, &len, NULL), sl_errmsg());
    CHECK_EQ(len, (12 + 8 + 16 + 24) + (12 + 12 + 16 + 16));
    int n = -1;
    CHECK_OK(sl_wire_decode_list(p, len, 4096, out, SL_WIRE_MAX_TENSORS, &n), sl_errmsg());
    CHECK_EQ(n, 2);
    CHECK_EQ(out[0].dtype, SL_WIRE_F32);
    CHECK(memcmp(out[0].data, in[0].data, 24) == 0);
    CHECK_EQ(out[1].ndim, 3);
    CHECK_EQ(out[1].zero_point, 1);
    CHECK(memcmp(out[1].data, in[1].data, 16) == 0);
    for (int i = 0; i < n; i++)
        sl_wire_tensor_free(&out[i]);

    /* A single tensor decoder refuses the pair (stray bytes); a list decoder with room for one
     * refuses it too; a broken second tensor loses both, naming the index. */
    sl_wire_tensor one;
    CHECK_EQ(sl_wire_decode(p, len, 4096, &one), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "stray bytes");
    CHECK_EQ(sl_wire_decode_list(p, len, 4096, out, 1, &n), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "more than 1 tensors");
    CHECK_EQ(sl_wire_decode_list(p, len - 1, 4096, out, SL_WIRE_MAX_TENSORS, &n), SL_EFORMAT);
    CHECK_EQ(n, 0);
    CHECK_CONTAINS(sl_errmsg(), "tensor 1: ");
    CHECK_EQ(sl_wire_decode_list(p, len, 30, out, SL_WIRE_MAX_TENSORS, &n), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "over the limit");
    CHECK_EQ(sl_wire_decode_list(p, 0, 4096, out, SL_WIRE_MAX_TENSORS, &n), SL_EFORMAT);
    free(p);
    CHECK_EQ(sl_wire_encode_list(in, 0, 0, 4096, &p, &len, NULL), SL_EARG);
    CHECK_EQ(sl_wire_encode_list(in, 2, 0, 80, &p, &len, NULL), SL_EARG);
    CHECK(p == NULL);
    sl_wire_tensor_free(&in[0]);
    sl_wire_tensor_free(&in[1]);
}

int main(void)
{
    test_list();
    test_f32_round_trip();
    test_u8_and_zstd();
    test_corrupt();
    return TU_DONE();
}
