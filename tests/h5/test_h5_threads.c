/* test_h5_threads.c: HDF5 from many threads of one process at once — bundle reads of one file and
 * of several, bundle writes, tensor files, a dataset cache being written and another read row by
 * row — every result intact. Run it under ASan (SL_SANITIZE) and TSan (docs/architecture.md,
 * "HDF5") as well as plainly. */
#include "common/fsutil.h"
#include "common/status.h"
#include "datasets/cache.h"
#include "datasets/dataset.h"
#include "h5/h5.h"
#include "model/bundle.h"
#include "model/tensor_io.h"
#include "model/zoo.h"
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>

#define ROUNDS 12
#define READERS 4

static const char *dir;
static char shared_path[700], cache_in[700], cache_rows[700];
static atomic_int failures;
static float shared_sum;

static void fail(const char *what)
{
    atomic_fetch_add(&failures, 1);
    fprintf(stderr, "FAIL in a thread: %s: %s\n", what, sl_errmsg());
}

/* Sum of every parameter value: what a read must give back exactly. */
static float param_sum(const sl_graph *g)
{
    double s = 0;
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nparams; j++) {
            void *d;
            const sl_tensor *t = g->nodes[i].params[j].t;
            if (sl_tensor_data_ptr(t, &d)) return -1;
            for (int64_t k = 0; k < sl_tensor_numel(t); k++) s += ((float *)d)[k];
        }
    return (float)s;
}

static void *bundle_reader(void *arg)
{
    int id = (int)(intptr_t)arg;
    char own[800];
    snprintf(own, sizeof own, "%s/own%d.h5", dir, id);
    for (int r = 0; r < ROUNDS; r++) {
        sl_bundle *b;
        if (sl_bundle_read(shared_path, &b)) {
            fail("reading the shared bundle");
            continue;
        }
        if (param_sum(b->graph) != shared_sum) fail("the shared bundle's weights differ");
        /* Each thread also writes its own bundle and reads it back. */
        snprintf(b->created_by, sizeof b->created_by, "thread %d round %d", id, r);
        if (sl_bundle_write(own, b)) fail("writing a bundle");
        sl_bundle_free(b);
        if (sl_bundle_read(own, &b)) {
            fail("reading back a bundle");
            continue;
        }
        char want[64];
        snprintf(want, sizeof want, "thread %d round %d", id, r);
        if (strcmp(b->created_by, want) || param_sum(b->graph) != shared_sum)
            fail("a bundle read back is not the one written");
        sl_bundle_free(b);
    }
    return NULL;
}

static void *tensor_files(void *arg)
{
    (void)arg;
    char path[800];
    snprintf(path, sizeof path, "%s/t.h5", dir);
    for (int r = 0; r < ROUNDS * 3; r++) {
        int64_t s[3] = {2, 3, 5};
        sl_tensor *t, *back = NULL;
        sl_tensor_full(s, 3, SL_DT_F32, (double)r, &t);
        const char *names[] = {"input"};
        const sl_tensor *ts[] = {t};
        if (sl_tensor_h5_write(path, names, ts, 1) || sl_tensor_h5_read(path, "input", &back))
            fail("tensor file round trip");
        else {
            double d = 1, m;
            sl_max_abs_diff(t, back, &d, &m);
            if (d != 0) fail("tensor file values differ");
        }
        sl_tensor_free(back);
        sl_tensor_free(t);
    }
    return NULL;
}

/* Writes a cache (its own decode threads call into HDF5 too) while others read. */
static void *cache_writer(void *arg)
{
    sl_dataset *ds = arg;
    char out[800];
    snprintf(out, sizeof out, "%s/written.h5", dir);
    for (int r = 0; r < 3; r++) {
        sl_cache_opts co = {3, 16, 16, SL_RESIZE_STRETCH, 2, 1};
        int64_t rows = 0;
        if (sl_cache_write(ds, &co, out, &rows) || rows != sl_dataset_count(ds))
            fail("writing a dataset cache");
    }
    return NULL;
}

/* Reads a cache row by row (cache_memory < 0: nothing preloaded, every row is an HDF5 read). */
static void *cache_reader(void *arg)
{
    (void)arg;
    sl_dataset_opts o;
    sl_dataset_opts_init(&o);
    o.cache_memory = -1;
    for (int r = 0; r < ROUNDS; r++) {
        sl_dataset *c;
        if (sl_dataset_open(cache_rows, &o, &c)) {
            fail("opening a cache");
            continue;
        }
        uint8_t px[3 * 16 * 16];
        for (int64_t i = 0; i < sl_dataset_count(c); i++)
            if (sl_dataset_cached_row(c, i, px) || px[0] != (uint8_t)(sl_dataset_label(c, i) * 100))
                fail("a cached row");
        sl_dataset_free(c);
    }
    return NULL;
}

int main(void)
{
    dir = tu_tmpdir();
    sl_graph *g = NULL;
    sl_zoo_opts zo = {.classes = 3, .c = 3, .h = 16, .w = 16, .init = 1};
    CHECK_OK(sl_zoo_build("tinycnn", &zo, &g), sl_errmsg());
    if (!g) return TU_DONE();
    shared_sum = param_sum(g);
    sl_bundle *b = sl_bundle_new(g);
    snprintf(shared_path, sizeof shared_path, "%s/shared.h5", dir);
    CHECK_OK(sl_bundle_write(shared_path, b), sl_errmsg());
    sl_bundle_free(b);

    /* A small image folder (one flat colour per class) and a cache of it to read row by row. */
    snprintf(cache_in, sizeof cache_in, "%s/ds", dir);
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 6; i++) {
            char sub[800], path[900];
            snprintf(sub, sizeof sub, "%s/%s", cache_in, c ? "ok" : "bad");
            sl_mkdir_p(sub);
            snprintf(path, sizeof path, "%s/%d.png", sub, i);
            uint8_t px[16 * 16 * 3];
            memset(px, c * 100, sizeof px);
            CHECK_OK(sl_png_write(path, 16, 16, 3, px), sl_errmsg());
        }
    sl_dataset *ds = NULL;
    CHECK_OK(sl_dataset_open(cache_in, NULL, &ds), sl_errmsg());
    if (!ds) return TU_DONE();
    snprintf(cache_rows, sizeof cache_rows, "%s/rows.h5", dir);
    sl_cache_opts co = {3, 16, 16, SL_RESIZE_STRETCH, 1, 1};
    CHECK_OK(sl_cache_write(ds, &co, cache_rows, NULL), sl_errmsg());

    pthread_t t[READERS + 3];
    for (int i = 0; i < READERS; i++)
        pthread_create(&t[i], NULL, bundle_reader, (void *)(intptr_t)i);
    pthread_create(&t[READERS], NULL, tensor_files, NULL);
    pthread_create(&t[READERS + 1], NULL, cache_writer, ds);
    pthread_create(&t[READERS + 2], NULL, cache_reader, NULL);
    for (int i = 0; i < READERS + 3; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(atomic_load(&failures), 0);

    /* The lock is recursive: a caller may hold it around a sequence of calls. */
    sl_h5_lock();
    CHECK(sl_h5_is_hdf5(shared_path));
    sl_h5_unlock();

    sl_dataset_free(ds);
    tu_rmtree(dir);
    return TU_DONE();
}
