/* auth.h: shared-token authentication, HMAC-SHA256 challenge-response (OpenSSL libcrypto).
 *
 * The token never crosses the wire. After the client's HELLO the server sends a fresh random
 * 32-byte nonce; the client answers with HMAC(token, "SLOF1 client" | server_nonce |
 * client_nonce) and its own nonce; the server compares in constant time and, if equal, proves
 * that it holds the token too with HMAC(token, "SLOF1 server" | client_nonce | server_nonce).
 * A connection does nothing else (no model runs, no deploy) before this succeeds.
 */
#ifndef SL_OFFLOADER_AUTH_H
#define SL_OFFLOADER_AUTH_H

#include "offloader/net.h"

#include <stddef.h>
#include <stdint.h>

#define SL_AUTH_NONCE_SIZE 32
#define SL_AUTH_MAC_SIZE 32
#define SL_AUTH_TOKEN_MAX 4096
#define SL_AUTH_TOKEN_MIN 16 /* bytes a token file must hold: 128 bits as hex text is 32 */

/* Fills nonce with cryptographically random bytes. Returns SL_OK or SL_EIO. */
int sl_auth_nonce(uint8_t nonce[SL_AUTH_NONCE_SIZE]);

/* The client's and the server's proofs (see above) into mac. */
void sl_auth_client_mac(const void *token, size_t token_len,
                        const uint8_t server_nonce[SL_AUTH_NONCE_SIZE],
                        const uint8_t client_nonce[SL_AUTH_NONCE_SIZE],
                        uint8_t mac[SL_AUTH_MAC_SIZE]);
void sl_auth_server_mac(const void *token, size_t token_len,
                        const uint8_t server_nonce[SL_AUTH_NONCE_SIZE],
                        const uint8_t client_nonce[SL_AUTH_NONCE_SIZE],
                        uint8_t mac[SL_AUTH_MAC_SIZE]);

/* 1 when the two MACs are equal; the time taken does not depend on where they differ. */
int sl_auth_mac_equal(const uint8_t a[SL_AUTH_MAC_SIZE], const uint8_t b[SL_AUTH_MAC_SIZE]);

/* Reads a token file: the whole content minus trailing whitespace (newlines). Returns SL_OK and a
 * new buffer (*token, caller frees; *len bytes, NUL-terminated), or SL_EIO / SL_EARG (shorter
 * than SL_AUTH_TOKEN_MIN or longer than SL_AUTH_TOKEN_MAX bytes) with *token = NULL. A file that
 * group or others may access is used, with a warning (sl_log_warn) asking for chmod 600: scripts
 * and configuration tools often create it with the default umask, and refusing would stop a
 * service at the next restart rather than at the change that caused it. */
int sl_auth_token_load(const char *path, char **token, size_t *len);

/* Client side of the handshake on a fresh connection: HELLO, CHALLENGE, AUTH, AUTH_OK. Returns
 * SL_OK; SL_EAUTH when the server refuses the token or fails to prove it holds it;
 * SL_EUNSUPPORTED on a version mismatch; SL_ENET / SL_ETIMEOUT / SL_EFORMAT otherwise. On success
 * *server_max_frame (may be NULL) is the largest payload the server accepts. */
int sl_auth_client(sl_conn *c, const void *token, size_t token_len, uint32_t max_frame,
                   uint32_t *server_max_frame);

/* Server side: expects HELLO first and answers anything else (or a bad frame, or a wrong token)
 * with an ERROR frame. Returns SL_OK when the client proved the token, with the server's proof in
 * `proof`: the caller then admits the client with sl_auth_server_accept (AUTH_OK) or refuses it
 * (BUSY) — so a server can count only authenticated peers against its capacity. Otherwise returns
 * the error (SL_EAUTH for a missing or wrong token, SL_EFORMAT for a malformed HELLO, SL_ETIMEOUT
 * when c's deadline passes) after the ERROR has been sent, if one could be; the caller closes. */
int sl_auth_server(sl_conn *c, const void *token, size_t token_len, uint32_t max_frame,
                   uint8_t proof[SL_AUTH_MAC_SIZE]);

/* Sends AUTH_OK with the proof from sl_auth_server. Returns SL_OK or the socket's error. */
int sl_auth_server_accept(sl_conn *c, const uint8_t proof[SL_AUTH_MAC_SIZE]);

#endif
