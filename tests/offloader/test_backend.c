/* test_backend.c: the model backend on real bundles: what each kind of bundle accepts and
 * refuses (count, dtype, shape; a device half or a non-bundle on load), the edge-only pair id,
 * and, through a running edge server, an error frame for a wrong shape and an unknown pair id
 * while good requests on the same connection are still answered. */
#include "common/status.h"
#include "e2e/fixtures.h"
#include "offloader/backend.h"
#include "offloader/client.h"
#include "offloader/edge_server.h"
#include "testutil.h"

static sl_wire_tensor mk(int dtype, int64_t a, int64_t b, int64_t c, int64_t d)
{
    sl_wire_tensor t;
    int64_t dims[4] = {a, b, c, d};
    sl_wire_tensor_alloc(&t, dtype, 4, dims);
    if (dtype == SL_WIRE_F32)
        for (size_t i = 0; i < t.nbytes / 4; i++)
            ((float *)t.data)[i] = (float)(i % 7) * 0.1f;
    else
        for (size_t i = 0; i < t.nbytes; i++)
            ((uint8_t *)t.data)[i] = (uint8_t)(i * 13);
    t.scale = dtype == SL_WIRE_U8 ? 0.05f : 1.0f;
    t.zero_point = dtype == SL_WIRE_U8 ? 7 : 0;
    return t;
}

/* Checks that model m of be runs a u8 [1 x c x h x w] tensor to 10 logits and refuses the f32
 * tensor of that shape, saying `refusal`. Returns the u8 tensor (the caller frees it with
 * sl_wire_tensor_free). */
static sl_wire_tensor check_u8_only(sl_edge_backend *be, void *m, int64_t c, int64_t h, int64_t w,
                                    const char *refusal)
{
    sl_wire_tensor out, q = mk(SL_WIRE_U8, 1, c, h, w), f = mk(SL_WIRE_F32, 1, c, h, w);
    CHECK_OK(be->run(be->ctx, m, &q, 1, &out), sl_errmsg());
    CHECK(out.ndim == 2 && out.dims[1] == 10);
    sl_wire_tensor_free(&out);
    CHECK_EQ(be->run(be->ctx, m, &f, 1, &out), SL_ESHAPE);
    CHECK_CONTAINS(sl_errmsg(), refusal);
    sl_wire_tensor_free(&f);
    return q;
}

static void test_backend_direct(const char *dir)
{
    sl_backend_opts bo = {.fold_bn = 1};
    sl_edge_backend be;
    CHECK_OK(sl_backend_init(&bo, &be), sl_errmsg());
    char path[1024], pair[33], want[33];
    void *m = NULL;
    sl_wire_tensor out;

    /* Float edge half: f32 [N x 16 x 16 x 16]. */
    snprintf(path, sizeof path, "%s/e.h5", dir);
    CHECK_OK(be.load(be.ctx, path, &m, pair), sl_errmsg());
    CHECK_OK(fix_pair_id(path, want), "pair id");
    CHECK_STR(pair, want);
    sl_wire_tensor good = mk(SL_WIRE_F32, 2, 16, 16, 16);
    CHECK_OK(be.run(be.ctx, m, &good, 1, &out), sl_errmsg());
    CHECK(out.dtype == SL_WIRE_F32 && out.ndim == 2 && out.dims[0] == 2 && out.dims[1] == 10);
    sl_wire_tensor_free(&out);
    sl_wire_tensor bad = mk(SL_WIRE_F32, 1, 16, 16, 8);
    CHECK_EQ(be.run(be.ctx, m, &bad, 1, &out), SL_ESHAPE);
    CHECK_CONTAINS(sl_errmsg(), "tensor 'pool1': expected float32[Nx16x16x16]");
    CHECK_CONTAINS(sl_errmsg(), "f32[1x16x16x8]");
    CHECK(out.data == NULL);
    sl_wire_tensor_free(&bad);
    bad = mk(SL_WIRE_U8, 1, 16, 16, 16);
    CHECK_EQ(be.run(be.ctx, m, &bad, 1, &out), SL_ESHAPE);
    CHECK_CONTAINS(sl_errmsg(), "u8[1x16x16x16]");
    sl_wire_tensor two[2] = {good, good};
    CHECK_EQ(be.run(be.ctx, m, two, 2, &out), SL_ESHAPE);
    CHECK_CONTAINS(sl_errmsg(), "takes 1 tensor(s), the request holds 2");
    be.unload(be.ctx, m);

    /* 8-bit TL edge half: u8 [N x 8 x 4 x 4] with scale / zero point; float refused. */
    snprintf(path, sizeof path, "%s/te.h5", dir);
    CHECK_OK(be.load(be.ctx, path, &m, pair), sl_errmsg());
    sl_wire_tensor q = check_u8_only(&be, m, 8, 4, 4, "expected uint8");
    /* The answer depends on the scale that travels with the tensor. */
    sl_wire_tensor out2;
    CHECK_OK(be.run(be.ctx, m, &q, 1, &out), sl_errmsg());
    q.scale *= 4;
    CHECK_OK(be.run(be.ctx, m, &q, 1, &out2), sl_errmsg());
    CHECK(out.data && out2.data && memcmp(out.data, out2.data, out.nbytes) != 0);
    sl_wire_tensor_free(&out);
    sl_wire_tensor_free(&out2);
    sl_wire_tensor_free(&q);
    be.unload(be.ctx, m);

    /* Whole model (edge-only): keyed by the file's SHA-256 prefix, takes the raw u8 image. */
    snprintf(path, sizeof path, "%s/m.h5", dir);
    CHECK_OK(be.load(be.ctx, path, &m, pair), sl_errmsg());
    CHECK_OK(sl_backend_model_pair_id(path, want), sl_errmsg());
    CHECK_STR(pair, want);
    CHECK_EQ(strlen(pair), 32);
    sl_wire_tensor img = check_u8_only(&be, m, 3, 32, 32, "raw image");
    sl_wire_tensor_free(&img);
    be.unload(be.ctx, m);

    /* A device half and a non-bundle are refused on load, naming why. */
    snprintf(path, sizeof path, "%s/d.h5", dir);
    m = (void *)1;
    CHECK_EQ(be.load(be.ctx, path, &m, pair), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "role 'device' cannot be served");
    CHECK(m == NULL);
    snprintf(path, sizeof path, "%s/junk.h5", dir);
    CHECK_OK(sl_write_file_atomic(path, "not hdf5", 8), sl_errmsg());
    CHECK(be.load(be.ctx, path, &m, pair) != SL_OK);
    CHECK_CONTAINS(sl_errmsg(), "junk.h5");
    sl_wire_tensor_free(&good);
    sl_wire_tensor_free(&bad);
    sl_backend_free(&be);
    CHECK(be.ctx == NULL);
}

static void test_server_refusals(const char *dir)
{
    sl_backend_opts bo = {.fold_bn = 1};
    sl_edge_backend be;
    CHECK_OK(sl_backend_init(&bo, &be), sl_errmsg());
    char store[1024], path[1024], hex[33];
    snprintf(store, sizeof store, "%s/store", dir);
    snprintf(path, sizeof path, "%s/e.h5", dir);
    CHECK_OK(fix_pair_id(path, hex), "pair id");
    uint8_t pair[SL_PAIR_ID_SIZE], other[SL_PAIR_ID_SIZE];
    CHECK_OK(sl_pair_from_hex(hex, pair), "hex");
    memcpy(other, pair, sizeof other);
    other[0] ^= 0xff;

    sl_edge_config cfg;
    fix_edge_config(&cfg, store);
    sl_edge_server *srv = NULL;
    CHECK_OK(sl_edge_start(&cfg, &be, &srv), sl_errmsg());
    if (!srv) return;
    sl_client_config cc;
    fix_client_config(&cc, sl_edge_port(srv));
    sl_client *c = NULL;
    CHECK_OK(sl_client_new(&cc, &c), sl_errmsg());

    sl_wire_tensor good = mk(SL_WIRE_F32, 1, 16, 16, 16), bad = mk(SL_WIRE_F32, 1, 8, 16, 16);
    sl_client_result r;
    CHECK_EQ(sl_client_infer(c, pair, &bad, &r), SL_ESHAPE);
    CHECK_EQ(r.edge_code, SL_PERR_BAD_SHAPE);
    CHECK_CONTAINS(r.error, "expected float32[Nx16x16x16]");
    sl_client_result_free(&r);
    CHECK_EQ(sl_client_infer(c, other, &good, &r), SL_ENOTFOUND);
    CHECK_EQ(r.edge_code, SL_PERR_UNKNOWN_PAIR);
    CHECK_CONTAINS(r.error, "no bundle with pair id");
    sl_client_result_free(&r);
    CHECK_OK(sl_client_infer(c, pair, &good, &r), r.error);
    CHECK(r.output.ndim == 2 && r.output.dims[1] == 10);
    sl_client_result_free(&r);
    /* Refusals are answers, not broken frames: the connection stayed up throughout. */
    sl_edge_stats st;
    sl_edge_get_stats(srv, &st);
    CHECK_EQ(st.bad_frames, 0);
    CHECK_EQ(st.connections, 1);
    sl_wire_tensor_free(&good);
    sl_wire_tensor_free(&bad);
    sl_client_free(c);
    sl_edge_stop(srv);
    sl_backend_free(&be);
}

int main(void)
{
    const char *dir;
    int rc = fix_make_tmp(&dir);
    if (rc) return rc;
    test_backend_direct(dir);
    test_server_refusals(dir);
    tu_rmtree(dir);
    return TU_DONE();
}
