/* fake_backend.h: a tiny edge backend for the network tests, so the server runs real requests
 * over loopback without the model library.
 *
 * A fake bundle is a text file "SLFAKE <pair id hex> <scale> <n>". Its model takes f32 or u8
 * (dequantised) input [N, n] and returns f32 [N, 2]: scale * sum of the row, and the row's max.
 * An optional delay per run lets tests fill the server's queue.
 */
#ifndef SL_TEST_FAKE_BACKEND_H
#define SL_TEST_FAKE_BACKEND_H

#include "common/fsutil.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "offloader/auth.h"
#include "offloader/client.h"
#include "offloader/edge_server.h"
#include "testutil.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Polls cond every millisecond for up to `seconds`; a failed check (not a hang until the ctest
 * timeout) when it never holds. */
#define WAIT_UNTIL(cond, seconds)                                                                  \
    do {                                                                                           \
        double until_ = sl_now() + (seconds);                                                      \
        while (!(cond) && sl_now() < until_)                                                       \
            usleep(1000);                                                                          \
        TU_CHECK_MSG(cond, "not within %g s", (double)(seconds));                                  \
    } while (0)

typedef struct fake_ctx {
    atomic_int runs;
    atomic_int loads;
    atomic_int unloads;
    int delay_ms;
    int delay_step_ms; /* extra delay: (first input value mod 5) * step, to reorder answers */
} fake_ctx;

typedef struct fake_model {
    double scale;
    int n;
} fake_model;

#define FAKE_TOKEN "a shared secret for tests"

static int fake_load(void *ctx, const char *path, void **model, char pair_id[33])
{
    fake_ctx *fc = ctx;
    char *text;
    size_t len;
    int rc = sl_read_file(path, &text, &len);
    if (rc) return rc;
    fake_model m;
    char hex[64];
    int ok = sscanf(text, "SLFAKE %63s %lf %d", hex, &m.scale, &m.n) == 3 && strlen(hex) == 32 &&
             m.n > 0;
    free(text);
    if (!ok) return sl_err(SL_EFORMAT, "%s: not a fake bundle", path);
    fake_model *pm = malloc(sizeof *pm);
    *pm = m;
    memcpy(pair_id, hex, 33);
    *model = pm;
    atomic_fetch_add(&fc->loads, 1);
    return SL_OK;
}

/* The value of column j of row i across the concatenated inputs. */
static double fake_value(const sl_wire_tensor *in, int nin, int64_t i, int j)
{
    for (int k = 0; k < nin; k++) {
        int w = (int)in[k].dims[1];
        if (j < w) {
            int64_t at = i * w + j;
            return in[k].dtype == SL_WIRE_F32
                       ? ((const float *)in[k].data)[at]
                       : in[k].scale * (((const uint8_t *)in[k].data)[at] - in[k].zero_point);
        }
        j -= w;
    }
    return 0;
}

/* Inputs [N, w_k] (k < nin) are read as one [N, sum w_k] row by row. */
static int fake_run(void *ctx, void *model, const sl_wire_tensor *in, int nin, sl_wire_tensor *out)
{
    fake_ctx *fc = ctx;
    fake_model *m = model;
    atomic_fetch_add(&fc->runs, 1);
    int width = 0;
    for (int k = 0; k < nin; k++) {
        if (in[k].ndim != 2 || in[k].dims[0] != in[0].dims[0]) width = -1;
        if (width >= 0) width += (int)in[k].dims[1];
    }
    if (width != m->n) {
        char d[64];
        sl_wire_describe(&in[0], d, sizeof d);
        return sl_err(SL_ESHAPE, "input %s%s does not fit [N, %d]", d, nin > 1 ? " ..." : "", m->n);
    }
    long delay = fc->delay_ms;
    if (fc->delay_step_ms && in[0].dtype == SL_WIRE_F32)
        delay += ((long)((const float *)in[0].data)[0] % 5) * fc->delay_step_ms;
    if (delay) {
        struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    int64_t dims[2] = {in[0].dims[0], 2};
    int rc = sl_wire_tensor_alloc(out, SL_WIRE_F32, 2, dims);
    if (rc) return rc;
    float *o = out->data;
    for (int64_t i = 0; i < in[0].dims[0]; i++) {
        double sum = 0, mx = -1e300;
        for (int j = 0; j < m->n; j++) {
            double v = fake_value(in, nin, i, j);
            sum += v;
            if (v > mx) mx = v;
        }
        o[2 * i] = (float)(m->scale * sum);
        o[2 * i + 1] = (float)mx;
    }
    return SL_OK;
}

static void fake_unload(void *ctx, void *model)
{
    fake_ctx *fc = ctx;
    atomic_fetch_add(&fc->unloads, 1);
    free(model);
}

static inline sl_edge_backend fake_backend(fake_ctx *fc)
{
    sl_edge_backend b = {fc, fake_load, fake_run, fake_unload, NULL};
    return b;
}

/* The test's fresh folder (tu_tmpdir) into dir (600 bytes) and its subfolder dir/store, made
 * empty, into store (700 bytes): where the test's edges keep their bundles. */
static inline void fake_store_dirs(char dir[600], char store[700])
{
    snprintf(dir, 600, "%s", tu_tmpdir());
    snprintf(store, 700, "%s/store", dir);
    if (sl_mkdir_p(store) != SL_OK) {
        fprintf(stderr, "cannot make %s: %s\n", store, sl_errmsg());
        exit(2);
    }
}

/* Writes a fake bundle file; returns its path in a static buffer. */
static inline const char *fake_write_bundle(const char *dir, const char *name, const char *pair,
                                            double scale, int n)
{
    static char path[4096];
    char text[256];
    int len = snprintf(text, sizeof text, "SLFAKE %s %g %d\n", pair, scale, n);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (sl_write_file_atomic(path, text, (size_t)len) != SL_OK) {
        fprintf(stderr, "cannot write %s: %s\n", path, sl_errmsg());
        exit(2);
    }
    return path;
}

/* The defaults for an edge on loopback (any free port) serving the bundles of folder store, with
 * the fake token. */
static inline void fake_edge_config(sl_edge_config *cfg, const char *store)
{
    sl_edge_config_defaults(cfg);
    cfg->host = "127.0.0.1";
    cfg->store_dir = store;
    cfg->token = FAKE_TOKEN;
    cfg->token_len = strlen(FAKE_TOKEN);
}

/* Starts an edge server with the fake backend on a free loopback port. */
static inline sl_edge_server *fake_edge_start(fake_ctx *fc, const char *store, int port,
                                              int workers, int queue)
{
    sl_edge_config cfg;
    fake_edge_config(&cfg, store);
    cfg.port = port;
    if (workers) cfg.workers = workers;
    if (queue) cfg.queue_capacity = queue;
    sl_edge_backend be = fake_backend(fc);
    sl_edge_server *s = NULL;
    if (sl_edge_start(&cfg, &be, &s) != SL_OK) {
        fprintf(stderr, "edge start: %s\n", sl_errmsg());
        exit(2);
    }
    return s;
}

/* A client config for the fake edge on `port`. */
static inline sl_client_config fake_client_config(int port)
{
    sl_client_config cfg;
    sl_client_config_defaults(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = port;
    cfg.token = FAKE_TOKEN;
    cfg.token_len = strlen(FAKE_TOKEN);
    cfg.request_timeout = 10;
    return cfg;
}

/* A client of cfg (the caller frees it with sl_client_free), made under a check: NULL after a
 * failed check. */
static inline sl_client *fake_client_new(const sl_client_config *cfg)
{
    sl_client *c = NULL;
    CHECK_OK(sl_client_new(cfg, &c), sl_errmsg());
    return c;
}

/* An f32 [rows, n] tensor whose element (i, j) is base + i + j / 8. */
static inline sl_wire_tensor fake_input(int rows, int n, float base)
{
    sl_wire_tensor t;
    int64_t dims[2] = {rows, n};
    sl_wire_tensor_alloc(&t, SL_WIRE_F32, 2, dims);
    float *d = t.data;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < n; j++)
            d[i * n + j] = base + (float)i + (float)j / 8.0f;
    return t;
}

/* An f32 [1, n] tensor of pseudo-random values in [0, 256) from a fixed-seed generator (the same
 * values for the same seed); the caller frees it with sl_wire_tensor_free. */
static inline sl_wire_tensor fake_noise(int n, uint32_t seed)
{
    int64_t dims[2] = {1, n};
    sl_wire_tensor t;
    sl_wire_tensor_alloc(&t, SL_WIRE_F32, 2, dims);
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        ((float *)t.data)[i] = (float)(seed >> 8) / 65536.0f;
    }
    return t;
}

/* What the fake model returns for row i of fake_input(rows, n, base): sum * scale. */
static inline double fake_expected_sum(int i, int n, float base, double scale)
{
    double s = 0;
    for (int j = 0; j < n; j++)
        s += (double)(base + (float)i + (float)j / 8.0f);
    return s * scale;
}

/* A raw loopback connection to the fake edge, authenticated when `auth`; exits on failure. */
static inline void raw_connect(int port, sl_conn *c, int auth)
{
    int fd;
    if (sl_net_connect("127.0.0.1", port, 2, &fd) != SL_OK) {
        fprintf(stderr, "connect: %s\n", sl_errmsg());
        exit(2);
    }
    sl_conn_init(c, fd, 5, 5);
    if (auth && sl_auth_client(c, FAKE_TOKEN, strlen(FAKE_TOKEN), 1 << 20, NULL) != SL_OK) {
        fprintf(stderr, "auth: %s\n", sl_errmsg());
        exit(2);
    }
}

/* Receives one frame; when it is an ERROR returns its code (text into text), else -type. */
static inline int raw_answer(sl_conn *c, char *text, size_t n)
{
    sl_frame f;
    int rc = sl_proto_recv(c, 1 << 20, &f, NULL);
    if (rc) {
        snprintf(text, n, "%s", sl_errmsg());
        return 0;
    }
    int code = -(int)f.type;
    if (f.type == SL_MSG_ERROR) sl_proto_parse_error(&f, &code, text, n);
    sl_frame_free(&f);
    return code;
}

#endif
