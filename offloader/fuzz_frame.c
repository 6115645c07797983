/* fuzz_frame.c: libFuzzer target for everything that parses bytes from the network: frames
 * from a buffer and from a socket, tensor payloads, ERROR payloads and the server handshake. */
#include "offloader/auth.h"
#include "offloader/proto.h"
#include "offloader/wire.h"
#include "common/timeutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FUZZ_MAX_FRAME (1u << 20)
#define FUZZ_SOCKET_BYTES 65536

static void payloads(const sl_frame *f)
{
    sl_wire_tensor t, ts[SL_WIRE_MAX_TENSORS];
    int code, n;
    char text[256];
    if (f->type == SL_MSG_INFER &&
        sl_wire_decode_list(f->payload, f->length, 1u << 24, ts, SL_WIRE_MAX_TENSORS, &n) == 0)
        for (int i = 0; i < n; i++)
            sl_wire_tensor_free(&ts[i]);
    if (f->type == SL_MSG_RESULT && f->length >= 16 &&
        sl_wire_decode(f->payload + 16, f->length - 16, 1u << 24, &t) == 0)
        sl_wire_tensor_free(&t);
    if (f->type == SL_MSG_ERROR) sl_proto_parse_error(f, &code, text, sizeof text);
}

/* Feeds `data` to a reader through a socket pair, as the edge server would receive it. */
static void through_socket(const uint8_t *data, size_t size, int handshake)
{
    int sv[2];
    if (size > FUZZ_SOCKET_BYTES || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return;
    int buf = 4 * FUZZ_SOCKET_BYTES;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (size && write(sv[0], data, size) != (ssize_t)size) {
        close(sv[0]);
        close(sv[1]);
        return;
    }
    shutdown(sv[0], SHUT_WR);
    sl_conn c;
    sl_conn_init(&c, sv[1], 1, 1);
    if (handshake) {
        uint8_t proof[SL_AUTH_MAC_SIZE];
        sl_conn_set_deadline(&c, sl_now() + 1);
        if (sl_auth_server(&c, "token", 5, FUZZ_MAX_FRAME, proof) == 0)
            sl_auth_server_accept(&c, proof);
    } else {
        sl_frame f;
        while (sl_proto_recv(&c, FUZZ_MAX_FRAME, &f, NULL) == 0) {
            payloads(&f);
            sl_frame_free(&f);
        }
    }
    sl_conn_close(&c);
    close(sv[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        sl_frame f;
        size_t used;
        int perr;
        if (sl_proto_decode(data + off, size - off, FUZZ_MAX_FRAME, &f, &used, &perr) != 0) break;
        payloads(&f);
        sl_frame_free(&f);
        off += used;
    }
    /* The CRC stops most mutations at the frame level, so the payload parsers get the raw
     * input as well. */
    sl_wire_tensor t;
    if (sl_wire_decode(data, size, 1u << 24, &t) == 0) sl_wire_tensor_free(&t);
    sl_frame inf = {.type = SL_MSG_INFER, .length = (uint32_t)size, .payload = (uint8_t *)data};
    payloads(&inf);
    sl_frame ef = {.type = SL_MSG_ERROR, .length = (uint32_t)size, .payload = (uint8_t *)data};
    payloads(&ef);
    through_socket(data, size, 0);
    through_socket(data, size, 1);
    return 0;
}
