/* proto.h: the sl-offload wire protocol, version 1: frames, message types, error codes.
 *
 * Every message is one frame: a fixed 40-byte header followed by `length` payload bytes. All
 * integers are little-endian whatever the host. docs/protocol.md describes every byte; in short:
 *
 *   off size field
 *     0   4  magic        "SLOF"
 *     4   1  version      1
 *     5   1  type         SL_MSG_*
 *     6   2  flags        none defined in version 1: sent as 0, ignored
 *     8   8  request_id   chosen by the client, echoed in the answer
 *    16  16  pair_id      the bundle pair (all zero when not about a bundle)
 *    32   4  length       payload bytes, <= the receiver's max frame (64 MiB by default)
 *    36   4  crc32        zlib crc32 over header bytes 0..35 then the payload
 *
 * The length is checked against the receiver's limit before anything is allocated, and the CRC
 * before the payload is interpreted. The parser is a pure function over bytes
 * (sl_proto_decode) so it can be fuzzed; sl_proto_recv / sl_proto_send do the socket side.
 */
#ifndef SL_OFFLOADER_PROTO_H
#define SL_OFFLOADER_PROTO_H

#include "offloader/net.h"

#include <stddef.h>
#include <stdint.h>

#define SL_PROTO_MAGIC "SLOF"
#define SL_PROTO_VERSION 1
#define SL_PROTO_HEADER_SIZE 40
#define SL_PROTO_DEFAULT_MAX_FRAME (64u << 20)
#define SL_PAIR_ID_SIZE 16

enum sl_msg_type {
    SL_MSG_HELLO = 1,        /* client -> server: opens the handshake */
    SL_MSG_CHALLENGE = 2,    /* server -> client: nonce to sign */
    SL_MSG_AUTH = 3,         /* client -> server: HMAC over the nonces + client nonce */
    SL_MSG_AUTH_OK = 4,      /* server -> client: server's proof of the token */
    SL_MSG_INFER = 5,        /* client -> server: wire tensor for the pair's edge bundle */
    SL_MSG_RESULT = 6,       /* server -> client: edge time + output tensor */
    SL_MSG_ERROR = 7,        /* either way: code + text */
    SL_MSG_DEPLOY_BEGIN = 8, /* client -> server: size + SHA-256 of a bundle upload */
    SL_MSG_DEPLOY_CHUNK = 9, /* client -> server: next bytes of the upload */
    SL_MSG_DEPLOY_END = 10,  /* client -> server: upload complete, verify and install */
    SL_MSG_LIST = 11,        /* client -> server: which bundles are deployed */
    SL_MSG_REMOVE = 12,      /* client -> server: remove the bundle of pair_id */
    SL_MSG_OK = 13,          /* server -> client: deploy / list / remove done; JSON payload */
    SL_MSG_PING = 14,        /* either way: payload echoed in PONG */
    SL_MSG_PONG = 15,
    SL_MSG_BUSY = 16, /* server -> client: request refused for load; retry later */
};
#define SL_MSG_MAX SL_MSG_BUSY

/* Codes carried by ERROR frames (u16). sl_proto_err_status maps each to an SL_E* status. */
enum sl_proto_err {
    SL_PERR_BAD_FRAME = 1,    /* bad magic, CRC mismatch, truncated or malformed payload */
    SL_PERR_VERSION = 2,      /* protocol version not spoken by the receiver */
    SL_PERR_AUTH = 3,         /* missing or wrong token, or a message before authentication */
    SL_PERR_UNKNOWN_PAIR = 4, /* no deployed bundle has this pair id */
    SL_PERR_BAD_SHAPE = 5,    /* tensor dtype or shape does not fit the bundle */
    SL_PERR_TOO_LARGE = 6,    /* frame or upload over the receiver's limit */
    SL_PERR_UNKNOWN_TYPE = 7, /* message type not known to this version */
    SL_PERR_BAD_STATE = 8,    /* message not valid now (chunk without an upload, ...) */
    SL_PERR_RUN = 9,          /* the model failed while running */
    SL_PERR_DEPLOY = 10,      /* upload refused: hash mismatch, truncated, not a bundle */
    SL_PERR_NOT_FOUND = 11,   /* remove of a pair id that is not deployed */
    SL_PERR_INTERNAL = 12,    /* server-side failure (disk, memory) */
    SL_PERR_SHUTDOWN = 13,    /* server stopping; request not run */
};

typedef struct sl_frame {
    uint8_t version;
    uint8_t type;
    uint16_t flags;
    uint64_t request_id;
    uint8_t pair_id[SL_PAIR_ID_SIZE];
    uint32_t length;
    uint32_t crc;
    uint8_t *payload; /* owned: malloc'd (NULL when length == 0) */
} sl_frame;

/* Little-endian load/store, independent of the host byte order. */
static inline void sl_le16_put(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void sl_le32_put(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void sl_le64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t sl_le16_get(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t sl_le32_get(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t sl_le64_get(const uint8_t *p)
{
    return (uint64_t)sl_le32_get(p) | ((uint64_t)sl_le32_get(p + 4) << 32);
}

/* "INFER", "ERROR", ... or "unknown" ; static storage. */
const char *sl_proto_type_name(int type);
/* "unknown pair id", ... ; static storage. */
const char *sl_proto_err_name(int code);
/* The SL_E* status matching an ERROR code (SL_PERR_AUTH -> SL_EAUTH, ...). */
int sl_proto_err_status(int code);
/* The ERROR code to send for an SL_E* status from a backend or the store. */
int sl_proto_status_err(int status);

/* Validates a 40-byte header and fills the fixed fields of *f (payload untouched). Checks in this
 * order: magic, version, type, length <= max_payload. Returns SL_OK, SL_EUNSUPPORTED for another
 * version, or SL_EFORMAT for bad magic, unknown type or a length over the limit; the fields are
 * filled as far as they could be read so the caller can answer with the request id. *perr (may
 * be NULL) gets the ERROR code to answer with. */
int sl_proto_parse_header(const uint8_t hdr[SL_PROTO_HEADER_SIZE], uint32_t max_payload,
                          sl_frame *f, int *perr);

/* Parses one whole frame from buf[0..len): header checks, then truncation, then CRC. On success
 * *out holds a malloc'd copy of the payload (free with sl_frame_free) and *consumed the frame's
 * size. On error *out has no payload, *perr (if not NULL) the ERROR code, and the message says
 * what was wrong. Never reads outside buf. */
int sl_proto_decode(const uint8_t *buf, size_t len, uint32_t max_payload, sl_frame *out,
                    size_t *consumed, int *perr);

/* Serialises a frame into a new buffer (*out, caller frees; *len its size), computing length and
 * crc from the payload given. */
int sl_proto_encode(int type, uint16_t flags, uint64_t request_id,
                    const uint8_t pair_id[SL_PAIR_ID_SIZE], const void *payload, uint32_t length,
                    uint8_t **out, size_t *len);

/* Sends one frame (header then payload, under c->send_lock). pair_id NULL = all zero. */
int sl_proto_send(sl_conn *c, int type, uint16_t flags, uint64_t request_id,
                  const uint8_t pair_id[SL_PAIR_ID_SIZE], const void *payload, uint32_t length);

/* Sends an ERROR frame with code and a printf-formatted text (cut to 1024 bytes). */
int sl_proto_send_error(sl_conn *c, uint64_t request_id, const uint8_t pair_id[SL_PAIR_ID_SIZE],
                        int code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Receives one frame into *f (payload malloc'd, caller frees with sl_frame_free). Returns SL_OK;
 * on a bad header/CRC the status of sl_proto_parse_header / SL_EFORMAT with *perr set, and f's
 * header fields filled as far as they could be read; SL_ENET / SL_ETIMEOUT from the socket
 * (c->eof tells a clean close between frames). */
int sl_proto_recv(sl_conn *c, uint32_t max_payload, sl_frame *f, int *perr);

/* Frees the payload and zeroes *f; NULL is a no-op. */
void sl_frame_free(sl_frame *f);

/* Parses an ERROR payload: *code and the text, escaped with sl_proto_escape (so a peer cannot
 * forge log lines or drive a terminal), into text. Returns SL_OK or SL_EFORMAT when shorter than
 * 4 bytes. */
int sl_proto_parse_error(const sl_frame *f, int *code, char *text, size_t n);

/* Copies n bytes of peer-supplied text into out (outn bytes with its NUL) with every control
 * character escaped: \n \r \t as such, other bytes below 0x20 and 0x7f as \xNN, the C1 controls
 * (UTF-8 c2 80..c2 9f) as \u00NN, a backslash as \\. Other bytes, UTF-8 included, are kept. The
 * result is cut before an escape that would not fit. Returns the length written. */
size_t sl_proto_escape(const void *in, size_t n, char *out, size_t outn);

/* Pair ids: 32 lowercase hex characters <-> 16 bytes. from_hex returns SL_EARG on anything that
 * is not exactly 32 hex digits. */
int sl_pair_from_hex(const char *hex, uint8_t out[SL_PAIR_ID_SIZE]);
void sl_pair_to_hex(const uint8_t id[SL_PAIR_ID_SIZE], char hex[2 * SL_PAIR_ID_SIZE + 1]);

#endif
