/* test_preauth.c: before authentication the edge reads no frame over 256 payload bytes
 * (docs/protocol.md §5): a header announcing 257 is refused as too large at once, without
 * waiting for a payload it will never allocate, in both handshake steps; a 256-byte frame passes
 * the size check and is refused for not authenticating; after authentication the server's full
 * limit applies again. Everyone else is served throughout. */
#include "fake_backend.h"
#include "offloader/proto.h"
#include "testutil.h"

#include <sys/socket.h>

static const char *PAIR = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

/* Sends the first `send` bytes of a frame of `type` with a `length`-byte payload. */
static void send_frame(sl_conn *c, int type, uint32_t length, size_t send)
{
    uint8_t *payload = calloc(length ? length : 1, 1), *frame = NULL;
    size_t flen = 0;
    CHECK_OK(sl_proto_encode(type, 0, 0, NULL, payload, length, &frame, &flen), sl_errmsg());
    CHECK_OK(sl_conn_write_full(c, frame, send < flen ? send : flen), sl_errmsg());
    free(frame);
    free(payload);
}

/* The next answer is ERROR `code` with `part` in its text, then the server closes. */
static void expect_refused(sl_conn *c, int code, const char *part)
{
    char buf[1200] = "";
    const char *text = buf; /* a pointer, for CHECK_CONTAINS's NULL test */
    CHECK_EQ(raw_answer(c, buf, sizeof buf), code);
    CHECK_CONTAINS(text, part);
    CHECK_EQ(raw_answer(c, buf, sizeof buf), 0);
    CHECK_CONTAINS(text, "closed by peer");
}

static int served(int port)
{
    sl_client_config cfg = fake_client_config(port);
    sl_client *c = NULL;
    sl_wire_tensor in = fake_input(1, 4, 1.0f);
    uint8_t pair[SL_PAIR_ID_SIZE];
    sl_pair_from_hex(PAIR, pair);
    sl_client_result r = {0};
    int ok = sl_client_new(&cfg, &c) == SL_OK && sl_client_infer(c, pair, &in, &r) == SL_OK &&
             r.status == SL_OK;
    sl_client_result_free(&r);
    sl_client_free(c);
    sl_wire_tensor_free(&in);
    return ok;
}

int main(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    fake_write_bundle(dir, "p.h5", PAIR, 1.0, 4);
    fake_ctx fc = {0};
    sl_edge_server *s = fake_edge_start(&fc, dir, 0, 2, 8);
    int port = sl_edge_port(s);
    sl_conn c;

    /* First frame: only the header of a 257-byte HELLO. The refusal comes without the payload
     * (the read timeout of raw_connect is 5 s, far more than an answer takes). */
    raw_connect(port, &c, 0);
    send_frame(&c, SL_MSG_HELLO, 257, SL_PROTO_HEADER_SIZE);
    expect_refused(&c, SL_PERR_TOO_LARGE, "256");
    sl_conn_close(&c);

    /* A header announcing 2 GiB before authentication: the same refusal. */
    raw_connect(port, &c, 0);
    uint8_t hdr[SL_PROTO_HEADER_SIZE];
    uint8_t *frame = NULL;
    size_t flen = 0;
    CHECK_OK(sl_proto_encode(SL_MSG_PING, 0, 0, NULL, "x", 1, &frame, &flen), sl_errmsg());
    memcpy(hdr, frame, sizeof hdr);
    free(frame);
    sl_le32_put(hdr + 32, 0x7fffffffu);
    CHECK_OK(sl_conn_write_full(&c, hdr, sizeof hdr), sl_errmsg());
    expect_refused(&c, SL_PERR_TOO_LARGE, "256");
    sl_conn_close(&c);

    /* Exactly 256 bytes pass the size check; a PING is then refused for not authenticating. */
    raw_connect(port, &c, 0);
    send_frame(&c, SL_MSG_PING, 256, (size_t)-1);
    expect_refused(&c, SL_PERR_AUTH, "authenticate first");
    sl_conn_close(&c);

    /* Second step: after a good HELLO and the CHALLENGE, a 257-byte AUTH header is refused. */
    raw_connect(port, &c, 0);
    uint8_t hello[4];
    sl_le16_put(hello, SL_PROTO_VERSION);
    sl_le16_put(hello + 2, SL_PROTO_VERSION);
    CHECK_OK(sl_proto_send(&c, SL_MSG_HELLO, 0, 0, NULL, hello, sizeof hello), sl_errmsg());
    char text[1200];
    CHECK_EQ(raw_answer(&c, text, sizeof text), -SL_MSG_CHALLENGE);
    send_frame(&c, SL_MSG_AUTH, 257, SL_PROTO_HEADER_SIZE);
    expect_refused(&c, SL_PERR_TOO_LARGE, "256");
    sl_conn_close(&c);

    /* Authenticated, the server's own limit applies: a 64 KiB PING is answered. */
    raw_connect(port, &c, 1);
    send_frame(&c, SL_MSG_PING, 65536, (size_t)-1);
    CHECK_EQ(raw_answer(&c, text, sizeof text), -SL_MSG_PONG);
    sl_conn_close(&c);

    CHECK(served(port));
    sl_edge_stats st;
    sl_edge_get_stats(s, &st);
    CHECK_EQ(st.auth_failures, 4); /* every refusal above is a failed handshake */
    sl_edge_stop(s);
    tu_rmtree(dir);
    return TU_DONE();
}
