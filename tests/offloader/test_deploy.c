/* test_deploy.c: deploy over the protocol: installed atomically and served without a restart,
 * replaced, listed, removed; a bad hash, a truncated or interrupted upload, a file that is not a
 * bundle and an oversize upload are refused and leave no file behind. */
#include "fake_backend.h"
#include "offloader/deploy_store.h"
#include "common/timeutil.h"
#include "testutil.h"

#include <pthread.h>

static const char *PAIR = "0f0e0d0c0b0a09080706050403020100";

static double infer_sum(sl_client *c, const uint8_t *pair, int *status)
{
    sl_wire_tensor in = fake_input(1, 3, 1.0f);
    sl_client_result r;
    *status = sl_client_infer(c, pair, &in, &r);
    double v = *status ? 0 : ((float *)r.output.data)[0];
    sl_client_result_free(&r);
    sl_wire_tensor_free(&in);
    return v;
}

/* Sends a raw upload on an authenticated connection and returns the ERROR code answered
 * (or -type). declared/digest_of let the test lie about size and hash. */
static int raw_upload(int port, const char *content, uint64_t declared, const char *digest_of,
                      size_t send_bytes, int send_end, char *text, size_t n)
{
    sl_conn raw;
    raw_connect(port, &raw, 1);
    uint8_t begin[40];
    sl_le64_put(begin, declared);
    sl_sha256(digest_of, strlen(digest_of), begin + 8);
    sl_proto_send(&raw, SL_MSG_DEPLOY_BEGIN, 0, 77, NULL, begin, sizeof begin);
    size_t half = send_bytes / 2;
    sl_proto_send(&raw, SL_MSG_DEPLOY_CHUNK, 0, 77, NULL, content, (uint32_t)half);
    sl_proto_send(&raw, SL_MSG_DEPLOY_CHUNK, 0, 77, NULL, content + half,
                  (uint32_t)(send_bytes - half));
    int code = 0;
    if (send_end) {
        sl_proto_send(&raw, SL_MSG_DEPLOY_END, 0, 77, NULL, NULL, 0);
        code = raw_answer(&raw, text, n);
        /* The connection stays usable after a refused upload. */
        sl_proto_send(&raw, SL_MSG_PING, 0, 78, NULL, NULL, 0);
        char t2[64];
        CHECK_EQ(raw_answer(&raw, t2, sizeof t2), -SL_MSG_PONG);
    }
    sl_conn_close(&raw);
    return code;
}

static void test_refusals(int port, const char *store, const char *bundle_text)
{
    char buf[1200];
    const char *text = buf;
    size_t len = strlen(bundle_text);
    int before = tu_count_entries(store);

    CHECK_EQ(raw_upload(port, bundle_text, len, "some other content", len, 1, buf, sizeof buf),
             SL_PERR_DEPLOY);
    CHECK_CONTAINS(text, "does not match the announced");
    CHECK_EQ(tu_count_entries(store), before);

    CHECK_EQ(raw_upload(port, bundle_text, len, bundle_text, len - 5, 1, buf, sizeof buf),
             SL_PERR_DEPLOY);
    CHECK_CONTAINS(text, "truncated upload");
    CHECK_EQ(tu_count_entries(store), before);

    CHECK_EQ(raw_upload(port, bundle_text, len - 5, bundle_text, len, 1, buf, sizeof buf),
             SL_PERR_DEPLOY);
    CHECK_CONTAINS(text, "more than the");
    CHECK_EQ(tu_count_entries(store), before);

    const char *junk = "this is not an edge bundle at all";
    CHECK_EQ(raw_upload(port, junk, strlen(junk), junk, strlen(junk), 1, buf, sizeof buf),
             SL_PERR_DEPLOY);
    CHECK_CONTAINS(text, "not a loadable edge bundle");
    CHECK_EQ(tu_count_entries(store), before);

    /* The device vanishes mid-upload: the temporary file goes with it. */
    raw_upload(port, bundle_text, len, bundle_text, len / 2, 0, buf, sizeof buf);
    double until = sl_now() + 5;
    while (tu_count_entries(store) != before && sl_now() < until)
        usleep(10000);
    CHECK_EQ(tu_count_entries(store), before);

    /* Chunks without a BEGIN are refused. */
    sl_conn raw;
    raw_connect(port, &raw, 1);
    sl_proto_send(&raw, SL_MSG_DEPLOY_CHUNK, 0, 5, NULL, "abc", 3);
    CHECK_EQ(raw_answer(&raw, buf, sizeof buf), SL_PERR_BAD_STATE);
    sl_conn_close(&raw);
}

typedef struct hammer {
    int port;
    const uint8_t *pair;
    atomic_int stop;
    int ok, bad;
} hammer;

/* Infers in a loop while the main thread redeploys: each answer must come from one of the two
 * bundles being swapped (scale 2 or -1), and none may fail. */
static void *hammer_main(void *arg)
{
    hammer *h = arg;
    sl_client_config cfg = fake_client_config(h->port);
    sl_client *c;
    if (sl_client_new(&cfg, &c)) return NULL;
    double a = fake_expected_sum(0, 3, 1.0f, 2.0), b = fake_expected_sum(0, 3, 1.0f, -1.0);
    while (!atomic_load(&h->stop)) {
        int st;
        double v = infer_sum(c, h->pair, &st);
        if (st == SL_OK && (fabs(v - a) < 1e-4 || fabs(v - b) < 1e-4))
            h->ok++;
        else
            h->bad++;
    }
    sl_client_free(c);
    return NULL;
}

static void test_big_upload_and_hot_swap(int port, const char *src, const uint8_t *pair)
{
    /* 2.5 MB: the client sends it in three chunks. */
    char path[800], *json;
    snprintf(path, sizeof path, "%s/big.h5", src);
    size_t n = 2500000;
    char *big = malloc(n);
    memset(big, '#', n);
    int head = snprintf(big, 128, "SLFAKE %s %g %d\n", "0f0e0d0c0b0a09080706050403020100", 2.0, 3);
    big[head] = '#';
    sl_write_file_atomic(path, big, n);
    uint8_t d[32];
    char dhex[65];
    sl_sha256(big, n, d);
    sl_sha256_hex(d, dhex);
    free(big);

    sl_client_config cfg = fake_client_config(port);
    sl_client *c = fake_client_new(&cfg);
    char small[800];
    snprintf(small, sizeof small, "%s/edge2.h5", src);
    hammer h = {.port = port, .pair = pair};
    pthread_t th;
    pthread_create(&th, NULL, hammer_main, &h);
    for (int i = 0; i < 4; i++) {
        CHECK_OK(sl_client_deploy(c, path, NULL, &json), sl_errmsg());
        CHECK_CONTAINS(json, "\"bytes\":2500000");
        CHECK_CONTAINS(json, dhex);
        free(json);
        CHECK_OK(sl_client_deploy(c, small, NULL, NULL), sl_errmsg());
    }
    atomic_store(&h.stop, 1);
    pthread_join(th, NULL);
    CHECK(h.ok > 0);
    CHECK_EQ(h.bad, 0);
    sl_client_free(c);
}

int main(void)
{
    char dir[600], store[700], src[700];
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    snprintf(store, sizeof store, "%s/store", dir);
    snprintf(src, sizeof src, "%s/src", dir);
    sl_mkdir_p(src);
    uint8_t pair[16];
    sl_pair_from_hex(PAIR, pair);

    /* A temporary upload left by a crash is cleaned away at start and never served. */
    sl_mkdir_p(store);
    fake_write_bundle(store, ".upload.Ab12Cd", PAIR, 9.0, 3);
    fake_ctx fc = {0};
    sl_edge_server *s = fake_edge_start(&fc, store, 0, 2, 16);
    CHECK_EQ(tu_count_entries(store), 0);
    int port = sl_edge_port(s);
    sl_client_config cfg = fake_client_config(port);
    sl_client *c = fake_client_new(&cfg);

    int st;
    infer_sum(c, pair, &st);
    CHECK_EQ(st, SL_ENOTFOUND);

    /* Deploy: served at once, no restart. */
    const char *path = fake_write_bundle(src, "edge.h5", PAIR, 2.0, 3);
    char hex[33], *json;
    CHECK_OK(sl_client_deploy(c, path, hex, &json), sl_errmsg());
    CHECK_STR(hex, PAIR);
    CHECK_CONTAINS(json, "\"replaced\":false");
    free(json);
    char installed[800];
    snprintf(installed, sizeof installed, "%s/%s.h5", store, PAIR);
    CHECK(sl_is_file(installed));
    CHECK_EQ(tu_count_entries(store), 1);
    CHECK_NEAR(infer_sum(c, pair, &st), fake_expected_sum(0, 3, 1.0f, 2.0), 1e-4);
    CHECK_EQ(st, SL_OK);

    /* Redeploy of the same pair replaces it; the new weights answer. */
    path = fake_write_bundle(src, "edge2.h5", PAIR, -1.0, 3);
    CHECK_OK(sl_client_deploy(c, path, hex, &json), sl_errmsg());
    CHECK_CONTAINS(json, "\"replaced\":true");
    free(json);
    CHECK_NEAR(infer_sum(c, pair, &st), fake_expected_sum(0, 3, 1.0f, -1.0), 1e-4);
    CHECK_EQ(tu_count_entries(store), 1);

    CHECK_OK(sl_client_list(c, &json), sl_errmsg());
    CHECK_CONTAINS(json, PAIR);
    uint8_t d[32];
    char dhex[65];
    sl_sha256_file(path, d);
    sl_sha256_hex(d, dhex);
    CHECK_CONTAINS(json, dhex);
    free(json);

    char *text;
    size_t tlen;
    sl_read_file(path, &text, &tlen);
    test_refusals(port, store, text);
    free(text);

    test_big_upload_and_hot_swap(port, src, pair);
    CHECK_EQ(tu_count_entries(store), 1);

    /* A restart finds the bundle in the store. */
    sl_client_free(c);
    sl_edge_stop(s);
    s = fake_edge_start(&fc, store, port, 2, 16);
    c = fake_client_new(&cfg);
    CHECK_NEAR(infer_sum(c, pair, &st), fake_expected_sum(0, 3, 1.0f, -1.0), 1e-4);

    /* Remove: gone from memory and disk; removing again is "not found". */
    CHECK_OK(sl_client_remove(c, pair), sl_errmsg());
    CHECK(!sl_is_file(installed));
    infer_sum(c, pair, &st);
    CHECK_EQ(st, SL_ENOTFOUND);
    CHECK_EQ(sl_client_remove(c, pair), SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "no bundle with pair id");
    CHECK_OK(sl_client_list(c, &json), sl_errmsg());
    CHECK_STR(json, "{\"bundles\":[]}");
    free(json);
    sl_client_free(c);
    sl_edge_stop(s);

    /* An upload over the edge's limit is refused before anything is written. */
    sl_edge_config ecfg;
    fake_edge_config(&ecfg, store);
    ecfg.max_bundle = 10;
    sl_edge_backend be = fake_backend(&fc);
    CHECK_OK(sl_edge_start(&ecfg, &be, &s), sl_errmsg());
    cfg.port = sl_edge_port(s);
    c = fake_client_new(&cfg);
    CHECK_EQ(sl_client_deploy(c, path, hex, NULL), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "over the limit of 10 bytes");
    CHECK_EQ(tu_count_entries(store), 0);
    CHECK_EQ(sl_client_deploy(c, "/nonexistent/edge.h5", hex, NULL), SL_EIO);
    sl_client_free(c);
    sl_edge_stop(s);
    CHECK_EQ(atomic_load(&fc.unloads), atomic_load(&fc.loads));

    tu_rmtree(dir);
    return TU_DONE();
}
