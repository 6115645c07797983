/* test_bundle.c: HDF5 bundle round trip, atomic writes, bad files, state_dict import. */
#include "common/status.h"
#include "model/bundle.h"
#include "model/tensor_io.h"
#include "model/zoo.h"
#include "testutil.h"

#include <sys/stat.h>

static double diff(const sl_tensor *a, const sl_tensor *b)
{
    double d = 1e9, m;
    if (sl_max_abs_diff(a, b, &d, &m)) return 1e9;
    return d;
}

static sl_graph *tiny(void)
{
    sl_graph *g = NULL;
    sl_zoo_opts zo = {.classes = 2, .c = 3, .h = 16, .w = 16, .init = 1};
    CHECK_OK(sl_zoo_build("tinycnn", &zo, &g), sl_errmsg());
    const char *names[] = {"ok", "crack"};
    sl_graph_set_classes(g, names, 2);
    return g;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static void test_roundtrip(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/m.h5", dir);
    sl_graph *g = tiny();
    sl_bundle *b = sl_bundle_new(g);
    strcpy(b->role, "device");
    strcpy(b->pair_id, "0123456789abcdef0123456789abcdef");
    sl_bundle_set_json(&b->metrics_json, "{\"val_acc\":0.9}");
    sl_bundle_set_json(&b->wire_json, "{\"tensors\":[]}");
    int64_t s[2] = {2, 3};
    sl_tensor *t;
    sl_tensor_full(s, 2, SL_DT_F32, 1.5, &t);
    CHECK_OK(sl_bundle_set_extra(b, "optim/fc.weight/exp_avg", t), sl_errmsg());
    CHECK_OK(sl_bundle_write(path, b), sl_errmsg());
    sl_bundle *r;
    CHECK_OK(sl_bundle_read(path, &r), sl_errmsg());
    if (r) {
        CHECK_STR(r->role, "device");
        CHECK_STR(r->pair_id, "0123456789abcdef0123456789abcdef");
        CHECK_STR(r->metrics_json, "{\"val_acc\":0.9}");
        CHECK_EQ(r->graph->nclasses, 2);
        CHECK_STR(r->graph->classes[1], "crack");
        CHECK(sl_bundle_extra(r, "optim/fc.weight/exp_avg") != NULL);
        if (sl_bundle_extra(r, "optim/fc.weight/exp_avg"))
            CHECK(diff(sl_bundle_extra(r, "optim/fc.weight/exp_avg"), t) == 0);
        int same = 1;
        for (int i = 0; i < g->nnodes; i++)
            for (int j = 0; j < g->nodes[i].nparams; j++)
                same &= diff(g->nodes[i].params[j].t, r->graph->nodes[i].params[j].t) == 0;
        CHECK(same);
        sl_bundle_free(r);
    }
    sl_tensor_free(t);

    /* A failed write leaves nothing behind and does not touch an existing file. */
    snprintf(path, sizeof path, "%s/no/such/dir/m.h5", dir);
    CHECK(sl_bundle_write(path, b) == SL_EIO);
    CHECK_CONTAINS(sl_errmsg(), "no/such/dir/m.h5");
    sl_bundle_free(b);
}

static void test_bad_files(const char *dir)
{
    char good[1024], path[1024];
    snprintf(good, sizeof good, "%s/m.h5", dir);
    sl_bundle *r = NULL;
    snprintf(path, sizeof path, "%s/missing.h5", dir);
    CHECK(sl_bundle_read(path, &r) == SL_EIO);
    CHECK_CONTAINS(sl_errmsg(), "missing.h5");

    snprintf(path, sizeof path, "%s/garbage.h5", dir);
    write_bytes(path, "this is not hdf5 at all, just text\n", 35);
    CHECK(sl_bundle_read(path, &r) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "not an HDF5 file");
    CHECK(r == NULL);

    /* Truncated copies of a good bundle at several lengths: errors, never a crash. */
    char *buf;
    size_t len;
    FILE *f = fopen(good, "rb");
    struct stat st;
    stat(good, &st);
    len = (size_t)st.st_size;
    buf = malloc(len);
    CHECK(fread(buf, 1, len, f) == len);
    fclose(f);
    int all_refused = 1;
    for (int k = 1; k < 8; k++) {
        snprintf(path, sizeof path, "%s/trunc%d.h5", dir, k);
        write_bytes(path, buf, len * (size_t)k / 8);
        r = NULL;
        int rc = sl_bundle_read(path, &r);
        all_refused &= rc != SL_OK && r == NULL;
        sl_bundle_free(r);
    }
    CHECK(all_refused);
    /* Flipped bytes in the middle: an error or (if only padding changed) a valid bundle. */
    for (size_t i = len / 3; i < len / 3 + 64 && i < len; i++) buf[i] ^= 0x5a;
    snprintf(path, sizeof path, "%s/flipped.h5", dir);
    write_bytes(path, buf, len);
    r = NULL;
    int rc = sl_bundle_read(path, &r);
    CHECK(rc != SL_OK || r != NULL);
    sl_bundle_free(r);
    free(buf);

    /* A foreign HDF5 file: a plain tensor file. */
    snprintf(path, sizeof path, "%s/foreign.h5", dir);
    int64_t s[1] = {4};
    sl_tensor *t;
    sl_tensor_zeros(s, 1, SL_DT_F32, &t);
    const char *names[] = {"input"};
    const sl_tensor *ts[] = {t};
    CHECK_OK(sl_tensor_h5_write(path, names, ts, 1), sl_errmsg());
    CHECK(sl_bundle_read(path, &r) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "not a ScissionLite bundle");
    sl_tensor_free(t);
}

static void test_import(const char *dir)
{
    sl_graph *g = tiny(), *src = tiny();
    /* Write the source graph's parameters as a flat state_dict, then break some keys. */
    const char *names[64];
    const sl_tensor *ts[64];
    char keys[64][160];
    int n = 0;
    for (int i = 0; i < src->nnodes; i++)
        for (int j = 0; j < src->nodes[i].nparams; j++) {
            snprintf(keys[n], sizeof keys[n], "%s.%s", src->nodes[i].name, src->nodes[i].params[j].name);
            names[n] = keys[n];
            ts[n] = src->nodes[i].params[j].t;
            n++;
        }
    int64_t s0[1] = {1};
    sl_tensor *nbt;
    sl_tensor_zeros(s0, 1, SL_DT_F32, &nbt);
    snprintf(keys[n], sizeof keys[n], "bn1.num_batches_tracked");
    names[n] = keys[n];
    ts[n++] = nbt;
    char path[1024];
    snprintf(path, sizeof path, "%s/sd.h5", dir);
    CHECK_OK(sl_tensor_h5_write(path, names, ts, n), sl_errmsg());
    CHECK_OK(sl_import_state_dict(g, path), sl_errmsg());
    CHECK(diff(g->nodes[0].params[0].t, src->nodes[0].params[0].t) == 0);

    /* Missing conv1.weight, an unexpected key, and a mis-shaped fc.bias: all three named. */
    int64_t s3[1] = {3};
    sl_tensor *wrong;
    sl_tensor_zeros(s3, 1, SL_DT_F32, &wrong);
    int k = 0;
    const char *bn[64];
    const sl_tensor *bt[64];
    for (int i = 0; i < n; i++) {
        if (!strcmp(names[i], "conv1.weight")) continue;
        bn[k] = names[i];
        bt[k++] = !strcmp(names[i], "fc.bias") ? wrong : ts[i];
    }
    bn[k] = "head.extra.weight";
    bt[k++] = wrong;
    snprintf(path, sizeof path, "%s/sd_bad.h5", dir);
    CHECK_OK(sl_tensor_h5_write(path, bn, bt, k), sl_errmsg());
    sl_tensor *before;
    sl_tensor_clone(g->nodes[0].params[0].t, &before);
    CHECK(sl_import_state_dict(g, path) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "missing key 'conv1.weight'");
    CHECK_CONTAINS(sl_errmsg(), "unexpected key 'head.extra.weight'");
    CHECK_CONTAINS(sl_errmsg(), "mis-shaped key 'fc.bias' has shape 3, expected 2");
    CHECK(diff(g->nodes[0].params[0].t, before) == 0); /* nothing changed on error */
    sl_tensor_free(before);
    sl_tensor_free(wrong);
    sl_tensor_free(nbt);
    sl_graph_free(g);
    sl_graph_free(src);
}

int main(void)
{
    const char *dir = tu_tmpdir();
    test_roundtrip(dir);
    test_bad_files(dir);
    test_import(dir);
    tu_rmtree(dir);
    return TU_DONE();
}
