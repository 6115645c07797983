/* test_interop.c: frames written by an independent Python implementation of docs/protocol.md
 * (fuzz_seeds.py, stdlib only) decode here field for field, so the document and the code agree. */
#include "offloader/proto.h"
#include "offloader/wire.h"
#include "common/fsutil.h"
#include "common/status.h"
#include "testutil.h"

static char dir[600];

/* Reads seed `name` and decodes its first frame; returns the buffer (caller frees). */
static uint8_t *seed(const char *name, size_t *len)
{
    char path[800];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *buf = NULL;
    if (sl_read_file(path, &buf, len) != SL_OK) {
        fprintf(stderr, "%s\n", sl_errmsg());
        exit(2);
    }
    return (uint8_t *)buf;
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    const char *py = getenv("SL_PYTHON"), *src = getenv("SL_SRC");
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/offloader/fuzz_seeds.py' '%s/seeds'",
             py && *py ? py : "/usr/bin/python3", src && *src ? src : SL_SOURCE_DIR, dir);
    CHECK_EQ(system(cmd), 0);
    snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/seeds");

    size_t len, used;
    sl_frame f;
    sl_wire_tensor t;
    int perr;

    uint8_t *b = seed("infer_f32", &len);
    CHECK_OK(sl_proto_decode(b, len, 1 << 20, &f, &used, &perr), sl_errmsg());
    CHECK_EQ(used, len);
    CHECK_EQ(f.type, SL_MSG_INFER);
    CHECK_EQ(f.request_id, 1);
    CHECK_EQ(f.pair_id[0], 0);
    CHECK_EQ(f.pair_id[15], 15);
    CHECK_OK(sl_wire_decode(f.payload, f.length, 1 << 20, &t), sl_errmsg());
    CHECK_EQ(t.dtype, SL_WIRE_F32);
    CHECK_EQ(t.ndim, 2);
    CHECK_EQ(t.dims[1], 4);
    CHECK_NEAR(((float *)t.data)[3], 4.0, 0);
    sl_wire_tensor_free(&t);
    sl_frame_free(&f);
    free(b);

    b = seed("infer_u8", &len);
    CHECK_OK(sl_proto_decode(b, len, 1 << 20, &f, &used, &perr), sl_errmsg());
    CHECK_EQ(f.request_id, 2);
    CHECK_OK(sl_wire_decode(f.payload, f.length, 1 << 20, &t), sl_errmsg());
    CHECK_EQ(t.dtype, SL_WIRE_U8);
    CHECK_EQ(t.dims[0], 2);
    CHECK_EQ(t.dims[1], 3);
    CHECK_NEAR(t.scale, 0.5, 0);
    CHECK_EQ(t.zero_point, 3);
    CHECK_EQ(((uint8_t *)t.data)[5], 5);
    sl_wire_tensor_free(&t);
    sl_frame_free(&f);
    free(b);

    b = seed("result", &len);
    CHECK_OK(sl_proto_decode(b, len, 1 << 20, &f, &used, &perr), sl_errmsg());
    CHECK_EQ(f.type, SL_MSG_RESULT);
    CHECK_EQ(sl_le64_get(f.payload), 1000);
    CHECK_EQ(sl_le64_get(f.payload + 8), 2000);
    CHECK_OK(sl_wire_decode(f.payload + 16, f.length - 16, 1 << 20, &t), sl_errmsg());
    sl_wire_tensor_free(&t);
    sl_frame_free(&f);
    free(b);

    b = seed("error", &len);
    CHECK_OK(sl_proto_decode(b, len, 1 << 20, &f, &used, &perr), sl_errmsg());
    int code;
    char text[64];
    CHECK_OK(sl_proto_parse_error(&f, &code, text, sizeof text), sl_errmsg());
    CHECK_EQ(code, SL_PERR_UNKNOWN_PAIR);
    CHECK_STR(text, "unknown pair id");
    sl_frame_free(&f);
    free(b);

    b = seed("deploy", &len);
    int types[3] = {0}, k = 0;
    for (size_t off = 0; off < len && k < 3; off += used, k++) {
        CHECK_OK(sl_proto_decode(b + off, len - off, 1 << 20, &f, &used, &perr), sl_errmsg());
        types[k] = f.type;
        sl_frame_free(&f);
    }
    CHECK_EQ(types[0], SL_MSG_DEPLOY_BEGIN);
    CHECK_EQ(types[1], SL_MSG_DEPLOY_CHUNK);
    CHECK_EQ(types[2], SL_MSG_DEPLOY_END);
    free(b);

    b = seed("version2", &len);
    CHECK_EQ(sl_proto_decode(b, len, 1 << 20, &f, &used, &perr), SL_EUNSUPPORTED);
    CHECK_EQ(perr, SL_PERR_VERSION);
    free(b);

    /* And the other way: what this side encodes is byte for byte what Python writes. */
    b = seed("ping_pong", &len);
    uint8_t *mine;
    size_t mlen;
    CHECK_OK(sl_proto_encode(SL_MSG_PING, 0, 1, NULL, "x", 1, &mine, &mlen), sl_errmsg());
    CHECK(mlen <= len && memcmp(mine, b, mlen) == 0);
    free(mine);
    free(b);

    dir[strlen(dir) - strlen("/seeds")] = '\0';
    tu_rmtree(dir);
    return TU_DONE();
}
