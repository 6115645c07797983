/* auth.c: HMAC-SHA256 challenge-response over the frame protocol (see auth.h). */
#include "offloader/auth.h"
#include "offloader/proto.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/status.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HELLO_SIZE 4
#define CHALLENGE_SIZE (SL_AUTH_NONCE_SIZE + 4)
#define AUTH_SIZE (SL_AUTH_MAC_SIZE + SL_AUTH_NONCE_SIZE)

int sl_auth_nonce(uint8_t nonce[SL_AUTH_NONCE_SIZE])
{
    if (RAND_bytes(nonce, SL_AUTH_NONCE_SIZE) != 1)
        return sl_err(SL_EIO, "cannot draw a random nonce from OpenSSL");
    return SL_OK;
}

static void mac_of(const char *label, const void *token, size_t token_len, const uint8_t *a,
                   const uint8_t *b, uint8_t mac[SL_AUTH_MAC_SIZE])
{
    uint8_t msg[16 + 2 * SL_AUTH_NONCE_SIZE];
    size_t l = strlen(label);
    memcpy(msg, label, l);
    memcpy(msg + l, a, SL_AUTH_NONCE_SIZE);
    memcpy(msg + l + SL_AUTH_NONCE_SIZE, b, SL_AUTH_NONCE_SIZE);
    unsigned int n = SL_AUTH_MAC_SIZE;
    HMAC(EVP_sha256(), token, (int)token_len, msg, l + 2 * SL_AUTH_NONCE_SIZE, mac, &n);
}

void sl_auth_client_mac(const void *token, size_t token_len,
                        const uint8_t server_nonce[SL_AUTH_NONCE_SIZE],
                        const uint8_t client_nonce[SL_AUTH_NONCE_SIZE],
                        uint8_t mac[SL_AUTH_MAC_SIZE])
{
    mac_of("SLOF1 client", token, token_len, server_nonce, client_nonce, mac);
}

void sl_auth_server_mac(const void *token, size_t token_len,
                        const uint8_t server_nonce[SL_AUTH_NONCE_SIZE],
                        const uint8_t client_nonce[SL_AUTH_NONCE_SIZE],
                        uint8_t mac[SL_AUTH_MAC_SIZE])
{
    mac_of("SLOF1 server", token, token_len, client_nonce, server_nonce, mac);
}

int sl_auth_mac_equal(const uint8_t a[SL_AUTH_MAC_SIZE], const uint8_t b[SL_AUTH_MAC_SIZE])
{
    return CRYPTO_memcmp(a, b, SL_AUTH_MAC_SIZE) == 0;
}

int sl_auth_token_load(const char *path, char **token, size_t *len)
{
    *token = NULL;
    *len = 0;
    char *buf;
    size_t n;
    int rc = sl_read_file(path, &buf, &n);
    if (rc) return sl_err_ctx(rc, "token file: ");
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        buf[--n] = '\0';
    if (n == 0) {
        free(buf);
        return sl_err(SL_EARG, "%s: token file is empty", path);
    }
    if (n > SL_AUTH_TOKEN_MAX || n < SL_AUTH_TOKEN_MIN) {
        OPENSSL_cleanse(buf, n);
        free(buf);
        if (n < SL_AUTH_TOKEN_MIN)
            return sl_err(SL_EARG,
                          "%s: token of %zu bytes is too short to be a secret: it needs at least "
                          "%d (e.g. head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > %s)",
                          path, n, SL_AUTH_TOKEN_MIN, path);
        return sl_err(SL_EARG, "%s: token longer than %d bytes", path, SL_AUTH_TOKEN_MAX);
    }
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
        sl_log_warn("%s: token file is accessible by group or others (mode %03o); the token is "
                    "the only secret: chmod 600 %s",
                    path, (unsigned)(st.st_mode & 0777), path);
    *token = buf;
    *len = n;
    return SL_OK;
}

/* Turns an ERROR frame from the peer into a status with its text. */
static int peer_error(const sl_frame *f, const char *during)
{
    int code;
    char text[1100];
    if (sl_proto_parse_error(f, &code, text, sizeof text))
        return sl_err_ctx(SL_EFORMAT, "%s: ", during);
    return sl_err(sl_proto_err_status(code), "%s: server says %s: %s", during,
                  sl_proto_err_name(code), text);
}

static int expect(sl_conn *c, uint32_t max_frame, int type, uint32_t size, sl_frame *f,
                  const char *during)
{
    int rc = sl_proto_recv(c, max_frame, f, NULL);
    if (rc) return sl_err_ctx(rc, "%s: ", during);
    if (f->type == SL_MSG_ERROR) {
        rc = peer_error(f, during);
        sl_frame_free(f);
        return rc;
    }
    if (f->type == SL_MSG_BUSY) {
        char text[600] = "busy";
        if (f->length > 4) sl_proto_escape(f->payload + 4, f->length - 4, text, sizeof text);
        rc = sl_err(SL_EBUSY, "%s: %s refused the connection: %s", during, c->peer, text);
        sl_frame_free(f);
        return rc;
    }
    if (f->type != type || f->length != size) {
        rc = sl_err(SL_EFORMAT, "%s: expected a %u-byte %s, got a %u-byte %s", during, size,
                    sl_proto_type_name(type), f->length, sl_proto_type_name(f->type));
        sl_frame_free(f);
        return rc;
    }
    return SL_OK;
}

int sl_auth_client(sl_conn *c, const void *token, size_t token_len, uint32_t max_frame,
                   uint32_t *server_max_frame)
{
    uint8_t hello[HELLO_SIZE];
    sl_le16_put(hello, SL_PROTO_VERSION);
    sl_le16_put(hello + 2, SL_PROTO_VERSION);
    int rc = sl_proto_send(c, SL_MSG_HELLO, 0, 0, NULL, hello, sizeof hello);
    if (rc) return sl_err_ctx(rc, "authentication: ");
    sl_frame f;
    rc = expect(c, max_frame, SL_MSG_CHALLENGE, CHALLENGE_SIZE, &f, "authentication");
    if (rc) return rc;
    uint8_t server_nonce[SL_AUTH_NONCE_SIZE], auth[AUTH_SIZE];
    memcpy(server_nonce, f.payload, SL_AUTH_NONCE_SIZE);
    if (server_max_frame) *server_max_frame = sl_le32_get(f.payload + SL_AUTH_NONCE_SIZE);
    sl_frame_free(&f);
    uint8_t *client_nonce = auth + SL_AUTH_MAC_SIZE;
    rc = sl_auth_nonce(client_nonce);
    if (rc) return rc;
    sl_auth_client_mac(token, token_len, server_nonce, client_nonce, auth);
    rc = sl_proto_send(c, SL_MSG_AUTH, 0, 0, NULL, auth, sizeof auth);
    if (rc) return sl_err_ctx(rc, "authentication: ");
    rc = expect(c, max_frame, SL_MSG_AUTH_OK, SL_AUTH_MAC_SIZE, &f, "authentication");
    if (rc) return rc;
    uint8_t want[SL_AUTH_MAC_SIZE];
    sl_auth_server_mac(token, token_len, server_nonce, client_nonce, want);
    int ok = sl_auth_mac_equal(want, f.payload);
    sl_frame_free(&f);
    if (!ok)
        return sl_err(SL_EAUTH,
                      "authentication: %s could not prove it holds the token "
                      "(a different server or token)",
                      c->peer);
    return SL_OK;
}

int sl_auth_server(sl_conn *c, const void *token, size_t token_len, uint32_t max_frame,
                   uint8_t proof[SL_AUTH_MAC_SIZE])
{
    sl_frame f;
    int perr;
    /* Before authentication only tiny frames are legitimate, so an unauthenticated peer cannot
     * make the server allocate max_frame bytes. */
    uint32_t limit = max_frame < 256 ? max_frame : 256;
    int rc = sl_proto_recv(c, limit, &f, &perr);
    if (rc) {
        if (perr) sl_proto_send_error(c, f.request_id, NULL, perr, "%s", sl_errmsg());
        return rc;
    }
    if (f.type == SL_MSG_HELLO && f.length != HELLO_SIZE) {
        rc = sl_err(SL_EFORMAT, "%s sent a %u-byte HELLO", c->peer, f.length);
        sl_proto_send_error(c, 0, NULL, SL_PERR_BAD_FRAME,
                            "malformed HELLO: %u payload bytes, expected %d (u16 min_version, "
                            "u16 max_version)",
                            f.length, HELLO_SIZE);
        sl_frame_free(&f);
        return rc;
    }
    if (f.type != SL_MSG_HELLO) {
        rc = sl_err(SL_EAUTH, "%s sent %s before authenticating", c->peer,
                    sl_proto_type_name(f.type));
        sl_proto_send_error(c, f.request_id, NULL, SL_PERR_AUTH,
                            "authenticate first: expected HELLO, got %s",
                            sl_proto_type_name(f.type));
        sl_frame_free(&f);
        return rc;
    }
    int lo = sl_le16_get(f.payload), hi = sl_le16_get(f.payload + 2);
    sl_frame_free(&f);
    if (lo > SL_PROTO_VERSION || hi < SL_PROTO_VERSION) {
        sl_proto_send_error(c, 0, NULL, SL_PERR_VERSION,
                            "device speaks protocol versions %d..%d, this edge speaks %d", lo, hi,
                            SL_PROTO_VERSION);
        return sl_err(SL_EUNSUPPORTED, "%s speaks protocol versions %d..%d only", c->peer, lo, hi);
    }
    uint8_t challenge[CHALLENGE_SIZE];
    rc = sl_auth_nonce(challenge);
    if (rc) return rc;
    sl_le32_put(challenge + SL_AUTH_NONCE_SIZE, max_frame);
    rc = sl_proto_send(c, SL_MSG_CHALLENGE, 0, 0, NULL, challenge, sizeof challenge);
    if (rc) return rc;
    rc = sl_proto_recv(c, limit, &f, &perr);
    if (rc) {
        if (perr) sl_proto_send_error(c, f.request_id, NULL, perr, "%s", sl_errmsg());
        return rc;
    }
    if (f.type != SL_MSG_AUTH || f.length != AUTH_SIZE) {
        rc = sl_err(SL_EAUTH, "%s sent %s instead of AUTH", c->peer, sl_proto_type_name(f.type));
        sl_proto_send_error(c, f.request_id, NULL, SL_PERR_AUTH,
                            "authenticate first: expected a %d-byte AUTH, got a %u-byte %s",
                            AUTH_SIZE, f.length, sl_proto_type_name(f.type));
        sl_frame_free(&f);
        return rc;
    }
    uint8_t want[SL_AUTH_MAC_SIZE];
    const uint8_t *client_nonce = f.payload + SL_AUTH_MAC_SIZE;
    sl_auth_client_mac(token, token_len, challenge, client_nonce, want);
    if (!sl_auth_mac_equal(want, f.payload)) {
        sl_frame_free(&f);
        sl_proto_send_error(c, 0, NULL, SL_PERR_AUTH, "wrong token");
        return sl_err(SL_EAUTH, "%s presented a wrong token", c->peer);
    }
    sl_auth_server_mac(token, token_len, challenge, client_nonce, proof);
    sl_frame_free(&f);
    return SL_OK;
}

int sl_auth_server_accept(sl_conn *c, const uint8_t proof[SL_AUTH_MAC_SIZE])
{
    return sl_proto_send(c, SL_MSG_AUTH_OK, 0, 0, NULL, proof, SL_AUTH_MAC_SIZE);
}
