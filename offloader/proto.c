/* proto.c: frame encoding, validation and socket I/O for the sl-offload protocol (proto.h). */
#include "offloader/proto.h"
#include "common/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SL_ERROR_TEXT_MAX 1024
#define SMALL_FRAME 4096

static const char *const type_names[] = {
    [SL_MSG_HELLO] = "HELLO",
    [SL_MSG_CHALLENGE] = "CHALLENGE",
    [SL_MSG_AUTH] = "AUTH",
    [SL_MSG_AUTH_OK] = "AUTH_OK",
    [SL_MSG_INFER] = "INFER",
    [SL_MSG_RESULT] = "RESULT",
    [SL_MSG_ERROR] = "ERROR",
    [SL_MSG_DEPLOY_BEGIN] = "DEPLOY_BEGIN",
    [SL_MSG_DEPLOY_CHUNK] = "DEPLOY_CHUNK",
    [SL_MSG_DEPLOY_END] = "DEPLOY_END",
    [SL_MSG_LIST] = "LIST",
    [SL_MSG_REMOVE] = "REMOVE",
    [SL_MSG_OK] = "OK",
    [SL_MSG_PING] = "PING",
    [SL_MSG_PONG] = "PONG",
    [SL_MSG_BUSY] = "BUSY",
};

const char *sl_proto_type_name(int type)
{
    return type >= 1 && type <= SL_MSG_MAX ? type_names[type] : "unknown";
}

/* Each ERROR code: its name, and the SL_E* status a device reports it as. */
static const struct {
    const char *name;
    int status;
} perr_codes[] = {
    [SL_PERR_BAD_FRAME] = {"bad frame", SL_EFORMAT},
    [SL_PERR_VERSION] = {"unsupported protocol version", SL_EUNSUPPORTED},
    [SL_PERR_AUTH] = {"authentication refused", SL_EAUTH},
    [SL_PERR_UNKNOWN_PAIR] = {"unknown pair id", SL_ENOTFOUND},
    [SL_PERR_BAD_SHAPE] = {"bad tensor shape", SL_ESHAPE},
    [SL_PERR_TOO_LARGE] = {"too large", SL_EARG},
    [SL_PERR_UNKNOWN_TYPE] = {"unknown message type", SL_EUNSUPPORTED},
    [SL_PERR_BAD_STATE] = {"unexpected message", SL_EARG},
    [SL_PERR_RUN] = {"model run failed", SL_ETORCH},
    [SL_PERR_DEPLOY] = {"deploy refused", SL_EFORMAT},
    [SL_PERR_NOT_FOUND] = {"not found", SL_ENOTFOUND},
    [SL_PERR_INTERNAL] = {"internal server error", SL_EIO},
    [SL_PERR_SHUTDOWN] = {"server shutting down", SL_ENET},
};

static int perr_known(int code)
{
    return code > 0 && code < (int)(sizeof perr_codes / sizeof perr_codes[0]) &&
           perr_codes[code].name;
}

const char *sl_proto_err_name(int code)
{
    return perr_known(code) ? perr_codes[code].name : "unknown error code";
}

int sl_proto_err_status(int code)
{
    return perr_known(code) ? perr_codes[code].status : SL_EIO;
}

int sl_proto_status_err(int status)
{
    switch (status) {
    case SL_ESHAPE:
        return SL_PERR_BAD_SHAPE;
    case SL_ENOTFOUND:
        return SL_PERR_UNKNOWN_PAIR;
    case SL_EFORMAT:
        return SL_PERR_BAD_FRAME;
    case SL_EAUTH:
        return SL_PERR_AUTH;
    case SL_ETORCH:
        return SL_PERR_RUN;
    case SL_EUNSUPPORTED:
        return SL_PERR_BAD_SHAPE;
    default:
        return SL_PERR_INTERNAL;
    }
}

static void header_fill(uint8_t h[SL_PROTO_HEADER_SIZE], int type, uint16_t flags,
                        uint64_t request_id, const uint8_t *pair_id, uint32_t length)
{
    memcpy(h, SL_PROTO_MAGIC, 4);
    h[4] = SL_PROTO_VERSION;
    h[5] = (uint8_t)type;
    sl_le16_put(h + 6, flags);
    sl_le64_put(h + 8, request_id);
    if (pair_id)
        memcpy(h + 16, pair_id, SL_PAIR_ID_SIZE);
    else
        memset(h + 16, 0, SL_PAIR_ID_SIZE);
    sl_le32_put(h + 32, length);
}

static uint32_t frame_crc(const uint8_t *h, const uint8_t *payload, uint32_t length)
{
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, h, SL_PROTO_HEADER_SIZE - 4);
    /* zlib takes uInt lengths; frames are bounded below 4 GiB, so one call suffices. */
    if (length) c = crc32(c, payload, length);
    return (uint32_t)c;
}

int sl_proto_parse_header(const uint8_t h[SL_PROTO_HEADER_SIZE], uint32_t max_payload, sl_frame *f,
                          int *perr)
{
    int dummy;
    if (!perr) perr = &dummy;
    memset(f, 0, sizeof *f);
    if (memcmp(h, SL_PROTO_MAGIC, 4) != 0) {
        *perr = SL_PERR_BAD_FRAME;
        return sl_err(SL_EFORMAT, "bad magic %02x %02x %02x %02x (expected \"SLOF\")", h[0], h[1],
                      h[2], h[3]);
    }
    f->version = h[4];
    f->type = h[5];
    f->flags = sl_le16_get(h + 6);
    f->request_id = sl_le64_get(h + 8);
    memcpy(f->pair_id, h + 16, SL_PAIR_ID_SIZE);
    f->length = sl_le32_get(h + 32);
    f->crc = sl_le32_get(h + 36);
    if (f->version != SL_PROTO_VERSION) {
        *perr = SL_PERR_VERSION;
        return sl_err(SL_EUNSUPPORTED, "protocol version %u is not supported (this side speaks %d)",
                      f->version, SL_PROTO_VERSION);
    }
    if (f->type < 1 || f->type > SL_MSG_MAX) {
        *perr = SL_PERR_UNKNOWN_TYPE;
        return sl_err(SL_EFORMAT, "unknown message type %u", f->type);
    }
    if (f->length > max_payload) {
        *perr = SL_PERR_TOO_LARGE;
        return sl_err(SL_EFORMAT, "%s frame of %u bytes is over the limit of %u bytes",
                      sl_proto_type_name(f->type), f->length, max_payload);
    }
    *perr = 0;
    return SL_OK;
}

int sl_proto_decode(const uint8_t *buf, size_t len, uint32_t max_payload, sl_frame *out,
                    size_t *consumed, int *perr)
{
    int dummy;
    if (!perr) perr = &dummy;
    *consumed = 0;
    if (len < SL_PROTO_HEADER_SIZE) {
        memset(out, 0, sizeof *out);
        *perr = SL_PERR_BAD_FRAME;
        return sl_err(SL_EFORMAT, "truncated frame: %zu bytes, a header needs %d", len,
                      SL_PROTO_HEADER_SIZE);
    }
    int rc = sl_proto_parse_header(buf, max_payload, out, perr);
    if (rc) return rc;
    if (len - SL_PROTO_HEADER_SIZE < out->length) {
        *perr = SL_PERR_BAD_FRAME;
        return sl_err(SL_EFORMAT, "truncated %s frame: payload has %zu of %u bytes",
                      sl_proto_type_name(out->type), len - SL_PROTO_HEADER_SIZE, out->length);
    }
    const uint8_t *payload = buf + SL_PROTO_HEADER_SIZE;
    uint32_t c = frame_crc(buf, payload, out->length);
    if (c != out->crc) {
        *perr = SL_PERR_BAD_FRAME;
        return sl_err(SL_EFORMAT, "%s frame CRC mismatch: header says %08x, content gives %08x",
                      sl_proto_type_name(out->type), out->crc, c);
    }
    if (out->length) {
        out->payload = malloc(out->length);
        if (!out->payload) {
            *perr = SL_PERR_INTERNAL;
            return sl_err(SL_ENOMEM, "out of memory for a %u-byte payload", out->length);
        }
        memcpy(out->payload, payload, out->length);
    }
    *consumed = SL_PROTO_HEADER_SIZE + (size_t)out->length;
    *perr = 0;
    return SL_OK;
}

int sl_proto_encode(int type, uint16_t flags, uint64_t request_id,
                    const uint8_t pair_id[SL_PAIR_ID_SIZE], const void *payload, uint32_t length,
                    uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    uint8_t *b = malloc(SL_PROTO_HEADER_SIZE + (size_t)length);
    if (!b) return sl_err(SL_ENOMEM, "out of memory for a %u-byte frame", length);
    header_fill(b, type, flags, request_id, pair_id, length);
    if (length) memcpy(b + SL_PROTO_HEADER_SIZE, payload, length);
    sl_le32_put(b + 36, frame_crc(b, b + SL_PROTO_HEADER_SIZE, length));
    *out = b;
    *len = SL_PROTO_HEADER_SIZE + (size_t)length;
    return SL_OK;
}

int sl_proto_send(sl_conn *c, int type, uint16_t flags, uint64_t request_id,
                  const uint8_t pair_id[SL_PAIR_ID_SIZE], const void *payload, uint32_t length)
{
    uint8_t h[SL_PROTO_HEADER_SIZE];
    header_fill(h, type, flags, request_id, pair_id, length);
    sl_le32_put(h + 36, frame_crc(h, payload, length));
    int rc;
    if (length <= SMALL_FRAME) {
        /* One write, so a small frame leaves as one segment. */
        uint8_t buf[SL_PROTO_HEADER_SIZE + SMALL_FRAME];
        memcpy(buf, h, sizeof h);
        if (length) memcpy(buf + sizeof h, payload, length);
        pthread_mutex_lock(&c->send_lock);
        rc = sl_conn_write_full(c, buf, sizeof h + length);
        pthread_mutex_unlock(&c->send_lock);
    } else {
        pthread_mutex_lock(&c->send_lock);
        rc = sl_conn_write_full(c, h, sizeof h);
        if (!rc) rc = sl_conn_write_full(c, payload, length);
        pthread_mutex_unlock(&c->send_lock);
    }
    if (rc) return sl_err_ctx(rc, "sending %s: ", sl_proto_type_name(type));
    return SL_OK;
}

int sl_proto_send_error(sl_conn *c, uint64_t request_id, const uint8_t pair_id[SL_PAIR_ID_SIZE],
                        int code, const char *fmt, ...)
{
    uint8_t p[4 + SL_ERROR_TEXT_MAX];
    sl_le16_put(p, (uint16_t)code);
    sl_le16_put(p + 2, 0);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf((char *)p + 4, SL_ERROR_TEXT_MAX, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if (n >= SL_ERROR_TEXT_MAX) n = SL_ERROR_TEXT_MAX - 1;
    return sl_proto_send(c, SL_MSG_ERROR, 0, request_id, pair_id, p, (uint32_t)(4 + n));
}

int sl_proto_recv(sl_conn *c, uint32_t max_payload, sl_frame *f, int *perr)
{
    int dummy;
    if (!perr) perr = &dummy;
    *perr = 0;
    memset(f, 0, sizeof *f);
    uint8_t h[SL_PROTO_HEADER_SIZE];
    int rc = sl_conn_read_full(c, h, sizeof h);
    if (rc) return rc;
    rc = sl_proto_parse_header(h, max_payload, f, perr);
    if (rc) return rc;
    if (f->length) {
        f->payload = malloc(f->length);
        if (!f->payload) {
            *perr = SL_PERR_TOO_LARGE;
            return sl_err(SL_ENOMEM, "out of memory for a %u-byte %s payload", f->length,
                          sl_proto_type_name(f->type));
        }
        rc = sl_conn_read_full(c, f->payload, f->length);
        if (rc) {
            sl_frame_free(f);
            c->eof = 0;
            *perr = SL_PERR_BAD_FRAME;
            return sl_err_ctx(rc, "truncated %s frame: ", sl_proto_type_name(h[5]));
        }
    }
    uint32_t crc = frame_crc(h, f->payload, f->length);
    if (crc != f->crc) {
        *perr = SL_PERR_BAD_FRAME;
        int type = f->type;
        uint32_t want = f->crc;
        free(f->payload);
        f->payload = NULL;
        return sl_err(SL_EFORMAT, "%s frame CRC mismatch: header says %08x, content gives %08x",
                      sl_proto_type_name(type), want, crc);
    }
    atomic_fetch_add_explicit(&c->frames_in, 1, memory_order_relaxed);
    return SL_OK;
}

void sl_frame_free(sl_frame *f)
{
    if (!f) return;
    free(f->payload);
    memset(f, 0, sizeof *f);
}

int sl_proto_parse_error(const sl_frame *f, int *code, char *text, size_t n)
{
    if (f->length < 4) {
        *code = SL_PERR_INTERNAL;
        if (n) text[0] = '\0';
        return sl_err(SL_EFORMAT, "ERROR frame of %u bytes is shorter than its 4-byte code",
                      f->length);
    }
    *code = sl_le16_get(f->payload);
    sl_proto_escape(f->payload + 4, f->length - 4, text, n);
    return SL_OK;
}

size_t sl_proto_escape(const void *in, size_t n, char *out, size_t outn)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = in;
    size_t w = 0;
    if (!outn) return 0;
    for (size_t i = 0; i < n; i++) {
        char esc[8];
        size_t k = 0;
        unsigned char ch = s[i];
        if (ch == '\n' || ch == '\r' || ch == '\t' || ch == '\\') {
            esc[k++] = '\\';
            esc[k++] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : ch == '\t' ? 't' : '\\';
        } else if (ch < 0x20 || ch == 0x7f) {
            memcpy(esc, "\\x", 2);
            k = 2;
            esc[k++] = hex[ch >> 4];
            esc[k++] = hex[ch & 15];
        } else if (ch == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f) {
            memcpy(esc, "\\u00", 4);
            k = 4;
            esc[k++] = hex[s[i + 1] >> 4];
            esc[k++] = hex[s[i + 1] & 15];
            i++;
        } else {
            esc[k++] = (char)ch;
        }
        if (w + k > outn - 1) break;
        memcpy(out + w, esc, k);
        w += k;
    }
    out[w] = '\0';
    return w;
}

int sl_pair_from_hex(const char *hex, uint8_t out[SL_PAIR_ID_SIZE])
{
    if (!hex || strlen(hex) != 2 * SL_PAIR_ID_SIZE)
        return sl_err(SL_EARG, "pair id \"%s\": expected %d hex digits", hex ? hex : "",
                      2 * SL_PAIR_ID_SIZE);
    for (int i = 0; i < SL_PAIR_ID_SIZE; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char ch = hex[2 * i + k];
            int d = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (d < 0) return sl_err(SL_EARG, "pair id \"%s\": '%c' is not a hex digit", hex, ch);
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
    return SL_OK;
}

void sl_pair_to_hex(const uint8_t id[SL_PAIR_ID_SIZE], char hex[2 * SL_PAIR_ID_SIZE + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SL_PAIR_ID_SIZE; i++) {
        hex[2 * i] = digits[id[i] >> 4];
        hex[2 * i + 1] = digits[id[i] & 15];
    }
    hex[2 * SL_PAIR_ID_SIZE] = '\0';
}
