/* test_load.c: 16 devices at once on one edge serving a real edge bundle, for a bounded time:
 * every request answered, none failed, every device served, and each answer equal to the one the
 * backend gives for the same input on its own (no mix-up between concurrent requests). */
#include "common/status.h"
#include "common/timeutil.h"
#include "fixtures.h"
#include "offloader/backend.h"
#include "offloader/client.h"
#include "offloader/edge_server.h"
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>

#define DEVICES 16
#define SECONDS 4.0
#define INPUTS 4 /* distinct inputs; device i sends input (i + k) % INPUTS on its k-th request */

static sl_wire_tensor inputs[INPUTS], expected[INPUTS];
static uint8_t pair[SL_PAIR_ID_SIZE];
static int port;
static atomic_int ok_total, failed_total, wrong_total;

typedef struct dev {
    int id, ok;
    char error[1200];
} dev;

static void *device(void *arg)
{
    dev *d = arg;
    sl_client_config cc;
    fix_client_config(&cc, port);
    sl_client *c;
    if (sl_client_new(&cc, &c)) {
        snprintf(d->error, sizeof d->error, "%s", sl_errmsg());
        atomic_fetch_add(&failed_total, 1);
        return NULL;
    }
    double end = sl_now() + SECONDS;
    for (int k = 0; sl_now() < end; k++) {
        int i = (d->id + k) % INPUTS;
        sl_client_result r;
        if (sl_client_infer(c, pair, &inputs[i], &r) != SL_OK) {
            snprintf(d->error, sizeof d->error, "%s", r.error);
            atomic_fetch_add(&failed_total, 1);
        } else if (r.output.nbytes != expected[i].nbytes ||
                   memcmp(r.output.data, expected[i].data, expected[i].nbytes)) {
            atomic_fetch_add(&wrong_total, 1);
        } else {
            d->ok++;
            atomic_fetch_add(&ok_total, 1);
        }
        sl_client_result_free(&r);
    }
    sl_client_free(c);
    return NULL;
}

int main(void)
{
    const char *dir;
    int rc = fix_make_tmp(&dir);
    if (rc) return rc;
    char store[1024], path[1024], hex[33];
    snprintf(store, sizeof store, "%s/store", dir);
    snprintf(path, sizeof path, "%s/e.h5", dir);
    CHECK_OK(fix_pair_id(path, hex), "pair id");
    CHECK_OK(sl_pair_from_hex(hex, pair), "hex");

    sl_backend_opts bo = {.fold_bn = 1};
    sl_edge_backend be;
    CHECK_OK(sl_backend_init(&bo, &be), sl_errmsg());
    /* The reference answers, from the backend alone. */
    void *m = NULL;
    CHECK_OK(be.load(be.ctx, path, &m, hex), sl_errmsg());
    int64_t dims[4] = {1, 16, 16, 16};
    for (int i = 0; i < INPUTS; i++) {
        sl_wire_tensor_alloc(&inputs[i], SL_WIRE_F32, 4, dims);
        float *f = inputs[i].data;
        for (size_t k = 0; k < inputs[i].nbytes / 4; k++)
            f[k] = (float)((k * (i + 3)) % 11) * 0.2f - 0.5f;
        CHECK_OK(be.run(be.ctx, m, &inputs[i], 1, &expected[i]), sl_errmsg());
    }
    be.unload(be.ctx, m);

    sl_edge_config cfg;
    fix_edge_config(&cfg, store);
    cfg.workers = 2;
    sl_edge_server *srv = NULL;
    CHECK_OK(sl_edge_start(&cfg, &be, &srv), sl_errmsg());
    if (srv) {
        port = sl_edge_port(srv);
        pthread_t th[DEVICES];
        dev devs[DEVICES] = {{0}};
        for (int i = 0; i < DEVICES; i++) {
            devs[i].id = i;
            pthread_create(&th[i], NULL, device, &devs[i]);
        }
        for (int i = 0; i < DEVICES; i++)
            pthread_join(th[i], NULL);
        for (int i = 0; i < DEVICES; i++)
            TU_CHECK_MSG(devs[i].ok > 0 && !devs[i].error[0], "device %d: %d answers, error '%s'",
                         i, devs[i].ok, devs[i].error);
        sl_edge_stats st;
        sl_edge_get_stats(srv, &st);
        CHECK_EQ(atomic_load(&failed_total), 0);
        CHECK_EQ(atomic_load(&wrong_total), 0);
        CHECK(atomic_load(&ok_total) >= DEVICES);
        CHECK_EQ(st.connections, DEVICES);
        CHECK_EQ(st.auth_failures, 0);
        CHECK_EQ(st.bad_frames, 0);
        printf("%d devices, %.0f s: %d answers (%.0f/s), %llu busy\n", DEVICES, SECONDS,
               atomic_load(&ok_total), atomic_load(&ok_total) / SECONDS,
               (unsigned long long)st.busy);
        sl_edge_stop(srv);
    }
    for (int i = 0; i < INPUTS; i++) {
        sl_wire_tensor_free(&inputs[i]);
        sl_wire_tensor_free(&expected[i]);
    }
    sl_backend_free(&be);
    tu_rmtree(dir);
    return TU_DONE();
}
