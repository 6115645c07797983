/* test_deploy_concurrent.c: real edge bundles deployed to one edge server from several devices at
 * once (each upload is loaded, which reads HDF5, on its connection's thread) while others run
 * requests, every round; then each pair answers. Deploy refuses, with the reason, bundles whose
 * content contradicts them (issue 13, items 3 and 11): an edge half relabelled role "model", a
 * pair_id of 1280 characters, NaN weights. Bundles come from the e2e fixture (tests/e2e/lib.sh's
 * make_models), or from the built sl-preprocess ($SL_BIN) without it. */
#include "common/status.h"
#include "e2e/fixtures.h" /* FIX_TOKEN, fix_pair_id */
#include "h5/h5.h"
#include "offloader/backend.h"
#include "offloader/deploy_store.h"
#include "offloader/client.h"
#include "offloader/edge_server.h"
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>

#define DEVICES 4
#define ROUNDS 3

static char dir[600];

static int port;
static atomic_int failures;

static sl_client *connect_client(void)
{
    sl_client_config cc;
    fix_client_config(&cc, port);
    sl_client *c = NULL;
    if (sl_client_new(&cc, &c)) return NULL;
    return c;
}

static sl_wire_tensor input(void)
{
    sl_wire_tensor t;
    int64_t dims[4] = {1, 16, 16, 16};
    sl_wire_tensor_alloc(&t, SL_WIRE_F32, 4, dims);
    for (size_t i = 0; i < t.nbytes / 4; i++) ((float *)t.data)[i] = (float)(i % 5) * 0.2f;
    return t;
}

/* One device: deploys its own edge half ROUNDS times and runs a request after each. */
static void *device(void *arg)
{
    int id = (int)(intptr_t)arg;
    char path[800], hex[33], want[33];
    snprintf(path, sizeof path, "%s/e%d.h5", dir, id);
    if (fix_pair_id(path, want)) {
        atomic_fetch_add(&failures, 1);
        return NULL;
    }
    sl_client *c = connect_client();
    sl_wire_tensor in = input();
    for (int r = 0; c && r < ROUNDS; r++) {
        char *json = NULL;
        if (sl_client_deploy(c, path, hex, &json) || strcmp(hex, want)) {
            fprintf(stderr, "FAIL device %d round %d: deploy: %s\n", id, r, sl_errmsg());
            atomic_fetch_add(&failures, 1);
        }
        free(json);
        uint8_t pair[SL_PAIR_ID_SIZE];
        sl_pair_from_hex(want, pair);
        sl_client_result res;
        if (sl_client_infer(c, pair, &in, &res) || res.output.ndim != 2 || res.output.dims[1] != 10) {
            fprintf(stderr, "FAIL device %d round %d: infer: %s\n", id, r, res.error);
            atomic_fetch_add(&failures, 1);
        }
        sl_client_result_free(&res);
    }
    if (!c) atomic_fetch_add(&failures, 1);
    sl_wire_tensor_free(&in);
    sl_client_free(c);
    return NULL;
}

/* Writes d<i>.h5 and e<i>.h5, i = 0 .. DEVICES - 1: d.h5 and e.h5 with the pair id
 * 0123456789abcdef0123456789abcd<i as 2 hex digits>, four pairs as four splits would give. */
static void make_pairs(void)
{
    for (const char *half = "de"; *half; half++) {
        char path[800];
        snprintf(path, sizeof path, "%s/%c.h5", dir, *half);
        sl_bundle *b = NULL;
        CHECK_OK(sl_bundle_read(path, &b), sl_errmsg());
        for (int i = 0; b && i < DEVICES; i++) {
            snprintf(b->pair_id, sizeof b->pair_id, "0123456789abcdef0123456789abcd%02x", i);
            snprintf(path, sizeof path, "%s/%c%d.h5", dir, *half, i);
            CHECK_OK(sl_bundle_write(path, b), sl_errmsg());
        }
        sl_bundle_free(b);
    }
}

/* Makes the refused bundles from e0.h5. */
static void make_bad(void)
{
    char src[800], path[800];
    snprintf(src, sizeof src, "%s/e0.h5", dir);
    sl_bundle *b = NULL;
    CHECK_OK(sl_bundle_read(src, &b), sl_errmsg());
    if (!b) return;
    /* An edge half that says it is a whole model. */
    snprintf(path, sizeof path, "%s/as_model.h5", dir);
    strcpy(b->role, "model");
    CHECK_OK(sl_bundle_write(path, b), sl_errmsg());
    strcpy(b->role, "edge");
    /* A pair id of 1280 characters (written past the struct's 33 bytes with the h5 module). */
    snprintf(path, sizeof path, "%s/long_pair.h5", dir);
    char keep[33];
    memcpy(keep, b->pair_id, sizeof keep);
    b->pair_id[0] = '\0';
    CHECK_OK(sl_bundle_write(path, b), sl_errmsg());
    char longid[1281];
    for (int i = 0; i < 1280; i++) longid[i] = keep[i % 32];
    longid[1280] = '\0';
    sl_h5_id f;
    CHECK_OK(sl_h5_open_rw(path, &f), sl_errmsg());
    CHECK_OK(sl_h5_attr_write_str(f, "pair_id", longid), sl_errmsg());
    CHECK_OK(sl_h5_close(f), sl_errmsg());
    memcpy(b->pair_id, keep, sizeof keep);
    /* NaN in the weights of the first node that has any. */
    snprintf(path, sizeof path, "%s/nan.h5", dir);
    for (int i = 0; i < b->graph->nnodes; i++)
        if (b->graph->nodes[i].nparams) {
            void *d;
            sl_tensor_data_ptr(b->graph->nodes[i].params[0].t, &d);
            ((float *)d)[3] = NAN;
            break;
        }
    CHECK_OK(sl_bundle_write(path, b), sl_errmsg());
    sl_bundle_free(b);
}

static void refused(sl_client *c, const char *file, const char *why)
{
    char path[800], hex[33];
    char *json = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int rc = sl_client_deploy(c, path, hex, &json);
    CHECK(rc != SL_OK);
    CHECK_CONTAINS(sl_errmsg(), why);
    free(json);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    /* Four distinct pairs: one float split (the e2e fixture's when CTest made it, else made
     * here) written four times with pair ids of their own. Splitting the model four times gave
     * the same halves with four random ids, at a libtorch start each. */
    int made = fix_make(dir);
    if (made == 77) return 77;
    CHECK_EQ(made, 0);
    make_pairs();
    make_bad();

    sl_backend_opts bo = {.fold_bn = 1};
    sl_edge_backend be;
    CHECK_OK(sl_backend_init(&bo, &be), sl_errmsg());
    char store[800];
    snprintf(store, sizeof store, "%s/deployed", dir); /* empty: fix_make's store/ has e.h5 */
    sl_edge_config cfg;
    fix_edge_config(&cfg, store);
    sl_edge_server *srv = NULL;
    CHECK_OK(sl_edge_start(&cfg, &be, &srv), sl_errmsg());
    if (!srv) return TU_DONE();
    port = sl_edge_port(srv);

    /* Every device deploys at the same time, every round; a fifth connection deploys the bundles
     * that must be refused meanwhile. */
    pthread_t t[DEVICES];
    for (int i = 0; i < DEVICES; i++)
        pthread_create(&t[i], NULL, device, (void *)(intptr_t)i);
    sl_client *c = connect_client();
    CHECK(c != NULL);
    for (int r = 0; c && r < ROUNDS; r++) {
        refused(c, "as_model.h5", "role is 'model' but node 'pool1' is a placeholder");
        refused(c, "long_pair.h5", "(1280 characters) is not 32 lowercase hex digits");
        refused(c, "nan.h5", "not finite");
        refused(c, "d0.h5", "role 'device' cannot be served");
    }
    for (int i = 0; i < DEVICES; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(atomic_load(&failures), 0);

    /* The store holds exactly the four good halves, nothing of the refused ones. */
    char *json = NULL;
    if (c) CHECK_OK(sl_client_list(c, &json), sl_errmsg());
    int n = 0;
    for (const char *p = json; p && (p = strstr(p, "\"pair_id\"")); p++) n++;
    CHECK_EQ(n, DEVICES);
    free(json);
    sl_deploy_entry *v = NULL;
    size_t nfiles = 0;
    CHECK_OK(sl_deploy_store_list(store, &v, &nfiles), sl_errmsg());
    CHECK_EQ(nfiles, DEVICES);
    free(v);

    sl_client_free(c);
    sl_edge_stop(srv);
    sl_backend_free(&be);
    tu_rmtree(dir);
    return TU_DONE();
}
