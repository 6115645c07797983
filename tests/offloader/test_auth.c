/* test_auth.c: HMAC proofs, constant-time compare, token files (too short refused, readable by
 * others warned about), refusal of wrong or missing tokens over loopback before any model runs,
 * a malformed HELLO named as such, and peer text escaped before it reaches a log. */
#include "fake_backend.h"
#include "offloader/auth.h"
#include "offloader/proto.h"
#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *PAIR_HEX = "0123456789abcdef0123456789abcdef";

static void test_macs(void)
{
    uint8_t sn[32], cn[32], mac[32], mac2[32];
    for (int i = 0; i < 32; i++)
        sn[i] = (uint8_t)i, cn[i] = (uint8_t)(32 + i);
    /* Known answers computed independently with Python's hmac module. */
    uint8_t want[32];
    char hex[65];
    sl_auth_client_mac("secret-token", 12, sn, cn, mac);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    CHECK_STR(hex, "2b5d612ee0d99bda3487752c6cb11be57b871dd465c0945a7aadab533775ddb6");
    sl_auth_server_mac("secret-token", 12, sn, cn, mac2);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac2[i]);
    CHECK_STR(hex, "03b9f13778c29fefbea52d380911d43f77ee1f707e23046dd4c8e17a5c26ff3d");
    CHECK(!sl_auth_mac_equal(mac, mac2));
    memcpy(want, mac, 32);
    CHECK(sl_auth_mac_equal(mac, want));
    want[31] ^= 1;
    CHECK(!sl_auth_mac_equal(mac, want));
    sl_auth_client_mac("secret-tokem", 12, sn, cn, mac2);
    CHECK(!sl_auth_mac_equal(mac, mac2));
    uint8_t n1[32], n2[32];
    CHECK_OK(sl_auth_nonce(n1), sl_errmsg());
    CHECK_OK(sl_auth_nonce(n2), sl_errmsg());
    CHECK(memcmp(n1, n2, 32) != 0);
}

static void test_token_file(const char *dir)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/token", dir);
    char *tok;
    size_t len;
    /* Under 16 bytes is no secret: refused, and the message says how to make a good one. */
    sl_write_file_atomic(path, "s3cret\n\n", 8);
    CHECK_EQ(sl_auth_token_load(path, &tok, &len), SL_EARG);
    CHECK(tok == NULL);
    CHECK_CONTAINS(sl_errmsg(), "token of 6 bytes is too short");
    CHECK_CONTAINS(sl_errmsg(), "/dev/urandom");
    sl_write_file_atomic(path, "0123456789abcdef\n", 17);
    chmod(path, 0600);
    char log[1300];
    snprintf(log, sizeof log, "%s/stderr", dir);
    /* Group/world-readable: used, with a warning naming the file and the fix. */
    fflush(stderr);
    int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    CHECK_OK(sl_auth_token_load(path, &tok, &len), sl_errmsg());
    CHECK_EQ(len, 16);
    CHECK_STR(tok, "0123456789abcdef");
    free(tok);
    chmod(path, 0644);
    CHECK_OK(sl_auth_token_load(path, &tok, &len), sl_errmsg());
    free(tok);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    char *text;
    size_t tl;
    CHECK_OK(sl_read_file(log, &text, &tl), sl_errmsg());
    CHECK_CONTAINS(text, "token file is accessible by group or others (mode 644)");
    CHECK_CONTAINS(text, "chmod 600");
    CHECK(strstr(text, "mode 600") == NULL); /* only the 0644 load warned */
    free(text);
    sl_write_file_atomic(path, " \n", 2);
    CHECK_EQ(sl_auth_token_load(path, &tok, &len), SL_EARG);
    CHECK(tok == NULL);
    CHECK_CONTAINS(sl_errmsg(), "empty");
    snprintf(path, sizeof path, "%s/missing", dir);
    CHECK_EQ(sl_auth_token_load(path, &tok, &len), SL_EIO);
}

static void test_over_loopback(const char *dir)
{
    fake_ctx fc = {0};
    char store[1200];
    snprintf(store, sizeof store, "%s/store", dir);
    sl_mkdir_p(store);
    fake_write_bundle(store, "a.h5", PAIR_HEX, 1.0, 4);
    sl_edge_server *s = fake_edge_start(&fc, store, 0, 1, 4);
    int port = sl_edge_port(s);
    uint8_t pair[16];
    sl_pair_from_hex(PAIR_HEX, pair);
    sl_wire_tensor in = fake_input(1, 4, 1.0f);

    /* Wrong token: refused at connect; the request gets an explicit error; nothing runs. */
    sl_client_config cfg = fake_client_config(port);
    cfg.token = "not the shared secret";
    cfg.token_len = strlen(cfg.token);
    cfg.connect_attempts = 1;
    sl_client *c = fake_client_new(&cfg);
    CHECK_EQ(sl_client_connect(c), SL_EAUTH);
    CHECK_CONTAINS(sl_errmsg(), "wrong token");
    sl_client_result r;
    CHECK_EQ(sl_client_infer(c, pair, &in, &r), SL_EAUTH);
    CHECK_EQ(r.status, SL_EAUTH);
    const char *err = r.error;
    CHECK_CONTAINS(err, "edge unreachable");
    sl_client_result_free(&r);
    sl_client_free(c);
    CHECK_EQ(atomic_load(&fc.runs), 0);

    /* No authentication at all: an INFER straight away is answered AUTH and the connection
     * closed; the model never runs. */
    sl_conn raw;
    raw_connect(port, &raw, 0);
    uint8_t *payload;
    size_t len;
    sl_wire_encode(&in, 0, 1 << 20, &payload, &len, NULL);
    CHECK_OK(sl_proto_send(&raw, SL_MSG_INFER, 0, 5, pair, payload, (uint32_t)len), sl_errmsg());
    char buf[1200];
    const char *text = buf;
    CHECK_EQ(raw_answer(&raw, buf, sizeof buf), SL_PERR_AUTH);
    CHECK_CONTAINS(text, "authenticate first");
    CHECK_EQ(raw_answer(&raw, buf, sizeof buf), 0); /* closed */
    sl_conn_close(&raw);

    /* HELLO then a forged AUTH (random MAC): refused. */
    raw_connect(port, &raw, 0);
    uint8_t hello[4] = {1, 0, 1, 0};
    sl_proto_send(&raw, SL_MSG_HELLO, 0, 0, NULL, hello, 4);
    CHECK_EQ(raw_answer(&raw, buf, sizeof buf), -SL_MSG_CHALLENGE);
    uint8_t forged[64];
    sl_auth_nonce(forged);
    sl_auth_nonce(forged + 32);
    sl_proto_send(&raw, SL_MSG_AUTH, 0, 0, NULL, forged, 64);
    CHECK_EQ(raw_answer(&raw, buf, sizeof buf), SL_PERR_AUTH);
    CHECK_CONTAINS(text, "wrong token");
    sl_proto_send(&raw, SL_MSG_INFER, 0, 6, pair, payload, (uint32_t)len);
    CHECK_EQ(raw_answer(&raw, buf, sizeof buf), 0);
    sl_conn_close(&raw);

    /* An empty HELLO is called malformed, not "expected HELLO, got HELLO". */
    raw_connect(port, &raw, 0);
    sl_proto_send(&raw, SL_MSG_HELLO, 0, 0, NULL, NULL, 0);
    CHECK_EQ(raw_answer(&raw, buf, sizeof buf), SL_PERR_BAD_FRAME);
    CHECK_CONTAINS(text, "malformed HELLO: 0 payload bytes, expected 4");
    CHECK(strstr(text, "got HELLO") == NULL);
    sl_conn_close(&raw);

    /* A device whose HELLO offers only other protocol versions is told so. */
    raw_connect(port, &raw, 0);
    uint8_t hello23[4] = {2, 0, 3, 0};
    sl_proto_send(&raw, SL_MSG_HELLO, 0, 0, NULL, hello23, 4);
    CHECK_EQ(raw_answer(&raw, buf, sizeof buf), SL_PERR_VERSION);
    CHECK_CONTAINS(text, "device speaks protocol versions 2..3, this edge speaks 1");
    sl_conn_close(&raw);

    /* A client that does not answer the challenge is dropped after the auth timeout (10 s by
     * default, too slow for a test), so here only check a silent peer does not block others. */
    raw_connect(port, &raw, 0);
    CHECK_EQ(atomic_load(&fc.runs), 0);

    /* The right token works, and the client verifies the server's proof. */
    cfg.token = FAKE_TOKEN;
    cfg.token_len = strlen(FAKE_TOKEN);
    c = fake_client_new(&cfg);
    CHECK_OK(sl_client_infer(c, pair, &in, &r), r.error);
    CHECK_NEAR(((float *)r.output.data)[0], fake_expected_sum(0, 4, 1.0f, 1.0), 1e-4);
    sl_client_result_free(&r);
    sl_client_free(c);
    CHECK_EQ(atomic_load(&fc.runs), 1);

    sl_edge_stats st;
    sl_edge_get_stats(s, &st);
    /* wrong token twice (connect, infer), no auth, forged, empty HELLO, version */
    CHECK_EQ(st.auth_failures, 6);
    sl_conn_close(&raw);
    free(payload);
    sl_wire_tensor_free(&in);
    sl_edge_stop(s);
}

/* Control characters in peer text cannot forge log lines or drive a terminal. */
static void test_escape(void)
{
    char out[64];
    const char in[] = "ok\nFAKE: line\r\x1b[31m\\ \xc2\x9b \xc3\xa9\x7f";
    sl_proto_escape(in, sizeof in - 1, out, sizeof out);
    CHECK_STR(out, "ok\\nFAKE: line\\r\\x1b[31m\\\\ \\u009b \xc3\xa9\\x7f");
    /* Cut before an escape that does not fit, always terminated. */
    sl_proto_escape("abc\n", 4, out, 5);
    CHECK_STR(out, "abc");
    uint8_t payload[4 + 8] = {3, 0, 0, 0, 'a', '\n', 'b', 0, 'c', 1, 'd', 'e'};
    sl_frame f = {.type = SL_MSG_ERROR, .length = sizeof payload, .payload = payload};
    int code;
    char text[64];
    CHECK_OK(sl_proto_parse_error(&f, &code, text, sizeof text), sl_errmsg());
    CHECK_EQ(code, SL_PERR_AUTH);
    CHECK_STR(text, "a\\nb\\x00c\\x01de");
}

int main(void)
{
    const char *dir = tu_tmpdir();
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s", dir);
    test_macs();
    test_escape();
    test_token_file(tmp);
    test_over_loopback(tmp);
    tu_rmtree(tmp);
    return TU_DONE();
}
