/* test_proto.c: frame layout, round trips and every malformed-frame case of the parser. */
#include "offloader/proto.h"
#include "common/status.h"
#include "testutil.h"

#include <zlib.h>

static const uint8_t PAIR[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void recrc(uint8_t *b, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, b, 36);
    c = crc32(c, b + 40, (uInt)(len - 40));
    sl_le32_put(b + 36, (uint32_t)c);
}

static void test_layout_and_round_trip(void)
{
    const char payload[] = "hello, edge";
    uint8_t *b;
    size_t len;
    CHECK_OK(sl_proto_encode(SL_MSG_INFER, 0, 0x0102030405060708ull, PAIR, payload, 11, &b, &len),
             sl_errmsg());
    CHECK_EQ(len, 40 + 11);
    CHECK(memcmp(b, "SLOF", 4) == 0);
    CHECK_EQ(b[4], 1);
    CHECK_EQ(b[5], SL_MSG_INFER);
    CHECK_EQ(b[8], 0x08); /* little-endian request id */
    CHECK_EQ(b[15], 0x01);
    CHECK(memcmp(b + 16, PAIR, 16) == 0);
    CHECK_EQ(b[32], 11);
    CHECK_EQ(b[33], 0);
    uLong c = crc32(crc32(crc32(0L, Z_NULL, 0), b, 36), (const Bytef *)payload, 11);
    CHECK_EQ(sl_le32_get(b + 36), (uint32_t)c);

    sl_frame f;
    size_t used;
    int perr = -1;
    CHECK_OK(sl_proto_decode(b, len, 1024, &f, &used, &perr), sl_errmsg());
    CHECK_EQ(used, len);
    CHECK_EQ(perr, 0);
    CHECK_EQ(f.type, SL_MSG_INFER);
    CHECK_EQ(f.request_id, 0x0102030405060708ull);
    CHECK(memcmp(f.pair_id, PAIR, 16) == 0);
    CHECK_EQ(f.length, 11);
    CHECK(f.payload && memcmp(f.payload, payload, 11) == 0);
    sl_frame_free(&f);

    /* Empty payload, NULL pair id: zeros on the wire. */
    free(b);
    CHECK_OK(sl_proto_encode(SL_MSG_PING, 0, 7, NULL, NULL, 0, &b, &len), sl_errmsg());
    CHECK_OK(sl_proto_decode(b, len, 0, &f, &used, NULL), sl_errmsg());
    CHECK_EQ(f.length, 0);
    CHECK(f.payload == NULL);
    static const uint8_t zero[16];
    CHECK(memcmp(f.pair_id, zero, 16) == 0);
    sl_frame_free(&f);
    free(b);
}

static void expect_refused(const uint8_t *b, size_t len, uint32_t max, int want_rc, int want_perr,
                           const char *want_text)
{
    sl_frame f;
    size_t used = 99;
    int perr = 0;
    int rc = sl_proto_decode(b, len, max, &f, &used, &perr);
    CHECK_EQ(rc, want_rc);
    CHECK_EQ(perr, want_perr);
    CHECK_EQ(used, 0);
    CHECK(f.payload == NULL);
    CHECK_CONTAINS(sl_errmsg(), want_text);
}

static void test_malformed(void)
{
    uint8_t *b;
    size_t len;
    CHECK_OK(sl_proto_encode(SL_MSG_INFER, 0, 42, PAIR, "0123456789abcdef", 16, &b, &len),
             sl_errmsg());
    uint8_t *m = malloc(len);

    memcpy(m, b, len);
    m[0] = 'X';
    expect_refused(m, len, 1024, SL_EFORMAT, SL_PERR_BAD_FRAME, "bad magic");

    memcpy(m, b, len);
    m[45] ^= 0x40;
    expect_refused(m, len, 1024, SL_EFORMAT, SL_PERR_BAD_FRAME, "CRC mismatch");

    memcpy(m, b, len);
    m[12] ^= 1; /* a header byte is covered too */
    expect_refused(m, len, 1024, SL_EFORMAT, SL_PERR_BAD_FRAME, "CRC mismatch");

    expect_refused(b, len, 15, SL_EFORMAT, SL_PERR_TOO_LARGE, "over the limit of 15 bytes");

    memcpy(m, b, len);
    sl_le32_put(m + 32, 0xFFFFFFF0u); /* huge length must be refused before any allocation */
    expect_refused(m, len, SL_PROTO_DEFAULT_MAX_FRAME, SL_EFORMAT, SL_PERR_TOO_LARGE,
                   "over the limit");

    expect_refused(b, 39, 1024, SL_EFORMAT, SL_PERR_BAD_FRAME, "truncated frame");
    expect_refused(b, len - 1, 1024, SL_EFORMAT, SL_PERR_BAD_FRAME, "payload has 15 of 16");
    expect_refused(b, 0, 1024, SL_EFORMAT, SL_PERR_BAD_FRAME, "truncated frame");

    memcpy(m, b, len);
    m[5] = 99;
    recrc(m, len);
    expect_refused(m, len, 1024, SL_EFORMAT, SL_PERR_UNKNOWN_TYPE, "unknown message type 99");
    m[5] = 0;
    recrc(m, len);
    expect_refused(m, len, 1024, SL_EFORMAT, SL_PERR_UNKNOWN_TYPE, "unknown message type 0");

    memcpy(m, b, len);
    m[4] = 2;
    recrc(m, len);
    sl_frame f;
    size_t used;
    int perr;
    CHECK_EQ(sl_proto_decode(m, len, 1024, &f, &used, &perr), SL_EUNSUPPORTED);
    CHECK_EQ(perr, SL_PERR_VERSION);
    CHECK_EQ(f.request_id, 42); /* still known, so the answer can carry it */
    CHECK_CONTAINS(sl_errmsg(), "protocol version 2 is not supported");

    /* Two frames back to back: decode consumes exactly one. */
    uint8_t *two = malloc(2 * len);
    memcpy(two, b, len);
    memcpy(two + len, b, len);
    CHECK_OK(sl_proto_decode(two, 2 * len, 1024, &f, &used, NULL), sl_errmsg());
    CHECK_EQ(used, len);
    sl_frame_free(&f);
    free(two);
    free(m);
    free(b);
}

static void test_error_payload_and_names(void)
{
    uint8_t p[64];
    sl_le16_put(p, SL_PERR_UNKNOWN_PAIR);
    sl_le16_put(p + 2, 0);
    memcpy(p + 4, "no such pair", 12);
    sl_frame f = {.type = SL_MSG_ERROR, .length = 16, .payload = p};
    int code;
    char text[8];
    CHECK_OK(sl_proto_parse_error(&f, &code, text, sizeof text), sl_errmsg());
    CHECK_EQ(code, SL_PERR_UNKNOWN_PAIR);
    CHECK_STR(text, "no such"); /* cut to the buffer */
    f.length = 3;
    CHECK_EQ(sl_proto_parse_error(&f, &code, text, sizeof text), SL_EFORMAT);
    CHECK_EQ(sl_proto_err_status(SL_PERR_AUTH), SL_EAUTH);
    CHECK_EQ(sl_proto_err_status(SL_PERR_UNKNOWN_PAIR), SL_ENOTFOUND);
    CHECK_EQ(sl_proto_status_err(SL_ESHAPE), SL_PERR_BAD_SHAPE);
    CHECK_STR(sl_proto_type_name(SL_MSG_DEPLOY_CHUNK), "DEPLOY_CHUNK");
    CHECK_STR(sl_proto_type_name(200), "unknown");

    uint8_t id[16];
    char hex[33];
    CHECK_OK(sl_pair_from_hex("00112233445566778899AaBbCcDdEeFf", id), sl_errmsg());
    CHECK_EQ(id[0], 0x00);
    CHECK_EQ(id[15], 0xff);
    sl_pair_to_hex(id, hex);
    CHECK_STR(hex, "00112233445566778899aabbccddeeff");
    CHECK_EQ(sl_pair_from_hex("0011", id), SL_EARG);
    CHECK_EQ(sl_pair_from_hex("g0112233445566778899aabbccddeeff", id), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "not a hex digit");
}

int main(void)
{
    test_layout_and_round_trip();
    test_malformed();
    test_error_payload_and_names();
    return TU_DONE();
}
