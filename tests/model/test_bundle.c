/* test_bundle.c: HDF5 bundle round trip, atomic writes, bad files, state_dict import; checks on
 * read (issue 13): checksums, non-finite weights, declared shapes and the weight limit before any
 * data is read, role and pair_id exactly. */
#include "common/status.h"
#include "h5/h5.h"
#include "model/bundle.h"
#include "model/tensor_io.h"
#include "model/zoo.h"
#include "testutil.h"

#include <sys/stat.h>
#include <time.h>

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
    sl_wire_desc wd;
    const char *outs[] = {"fc"};
    CHECK_OK(sl_wire_desc_from_graph(g, outs, 1, &wd), sl_errmsg());
    char *wj = NULL;
    CHECK_OK(sl_wire_desc_to_json(&wd, &wj), sl_errmsg());
    sl_bundle_set_json(&b->wire_json, wj);
    free(wj);
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
        CHECK(r->wire != NULL && r->wire->n == 1 && r->wire->bytes_per_image == 8);
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

static long read_all(const char *path, unsigned char **buf)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc((size_t)n);
    if (fread(*buf, 1, (size_t)n, f) != (size_t)n) n = -1;
    fclose(f);
    return n;
}

/* Offset of the first run of `count` floats equal to v in the file, or -1. */
static long find_floats(const unsigned char *buf, long n, float v, int count)
{
    for (long i = 0; i + 4L * count <= n; i++) {
        int k = 0;
        while (k < count && !memcmp(buf + i + 4L * k, &v, 4)) k++;
        if (k == count) return i;
    }
    return -1;
}

/* A bundle written the way builds before checksums wrote them (no Fletcher32), with the weight
 * conv1.weight optionally declared as `bomb` (chunked, nothing written) and root attributes as
 * given: the h5 module lets a test craft what a hostile or old writer would. */
static void write_raw(const char *path, const sl_graph *g, const char *role, const char *pair,
                      const int64_t *bomb, int bomb_nd)
{
    sl_h5_id f, w, ng;
    char *json = NULL;
    CHECK_OK(sl_h5_create(path, &f), sl_errmsg());
    sl_h5_attr_write_str(f, "format", SL_BUNDLE_FORMAT);
    sl_h5_attr_write_int(f, "format_version", 1);
    sl_h5_attr_write_str(f, "role", role);
    if (pair) sl_h5_attr_write_str(f, "pair_id", pair);
    sl_graph_to_json(g, &json);
    sl_h5_str_write(f, "model_config", json);
    free(json);
    sl_h5_group_create(f, "model_weights", &w);
    for (int i = 0; i < g->nnodes; i++) {
        const sl_node *n = &g->nodes[i];
        if (!n->nparams) continue;
        sl_h5_group_create(w, n->name, &ng);
        for (int j = 0; j < n->nparams; j++) {
            if (bomb && !strcmp(n->name, "conv1") && !strcmp(n->params[j].name, "weight")) {
                int64_t chunk[4] = {1, 1, 1, 1};
                sl_h5_id d;
                CHECK_OK(sl_h5_dataset_create(ng, "weight", SL_H5_F32, bomb_nd, bomb, chunk, &d),
                         sl_errmsg());
                sl_h5_close(d);
                continue;
            }
            sl_tensor *t = n->params[j].t;
            int64_t shape[SL_MAX_DIMS];
            int nd;
            void *data;
            sl_tensor_shape(t, shape, SL_MAX_DIMS, &nd);
            sl_tensor_data_ptr(t, &data);
            CHECK_OK(sl_h5_write(ng, n->params[j].name, SL_H5_F32, nd, shape, data, 0), sl_errmsg());
        }
        sl_h5_close(ng);
    }
    sl_h5_close(w);
    CHECK_OK(sl_h5_close(f), sl_errmsg());
}

/* Overwrites 2000 bytes (500 floats of 1.25, conv2.weight) of the bundle at path with 0xFF (500
 * NaN) and checks that reading it fails with SL_EFORMAT, the message holding want1 and want2. */
static void damage_and_check(const char *path, const char *want1, const char *want2)
{
    unsigned char *buf = NULL;
    long n = read_all(path, &buf), at = find_floats(buf, n, 1.25f, 500);
    CHECK(at > 0);
    if (at > 0) {
        memset(buf + at, 0xFF, 2000);
        write_bytes(path, buf, (size_t)n);
        sl_bundle *r = NULL;
        CHECK_EQ(sl_bundle_read(path, &r), SL_EFORMAT);
        CHECK_CONTAINS(sl_errmsg(), want1);
        CHECK_CONTAINS(sl_errmsg(), want2);
        CHECK(r == NULL);
    }
    free(buf);
}

/* Issue 13 item 3: corrupt bytes are caught by the checksum; an old bundle without checksums
 * still loads, and its corrupt weights are refused as non-finite, naming the dataset. */
static void test_corrupt_weights(const char *dir)
{
    char path[1024];
    sl_graph *g = tiny();
    int c2 = sl_graph_find(g, "conv2");
    CHECK(c2 >= 0);
    if (c2 < 0) return;
    sl_tensor *wt = sl_node_param(&g->nodes[c2], "weight")->t;
    int64_t wn = sl_tensor_numel(wt);
    CHECK(wn >= 500);
    void *data;
    sl_tensor_data_ptr(wt, &data);
    for (int64_t i = 0; i < wn; i++) ((float *)data)[i] = 1.25f;
    sl_bundle *b = sl_bundle_new(g), *r = NULL;
    snprintf(path, sizeof path, "%s/sum.h5", dir);
    CHECK_OK(sl_bundle_write(path, b), sl_errmsg());
    CHECK_OK(sl_bundle_read(path, &r), sl_errmsg());
    sl_bundle_free(r);

    /* 2000 bytes of 0xFF (500 NaN) in conv2.weight. */
    damage_and_check(path, "model_weights/conv2/weight", "Fletcher32");

    /* The same damage in a bundle written without checksums. */
    snprintf(path, sizeof path, "%s/old.h5", dir);
    write_raw(path, g, "model", NULL, NULL, 0);
    CHECK_OK(sl_bundle_read(path, &r), sl_errmsg()); /* old bundles still load */
    sl_bundle_free(r);
    damage_and_check(path, "model_weights/conv2/weight: 500 of", "not finite");

    /* Written as NaN by a diverged run: refused on read, naming the dataset. */
    ((float *)data)[7] = INFINITY;
    snprintf(path, sizeof path, "%s/inf.h5", dir);
    CHECK_OK(sl_bundle_write(path, b), sl_errmsg());
    r = NULL;
    CHECK_EQ(sl_bundle_read(path, &r), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "model_weights/conv2/weight: 1 of");
    CHECK_CONTAINS(sl_errmsg(), "first at element 7");
    sl_bundle_free(b);
}

/* Issue 13 item 6: a small file declaring a huge weight is refused from its header, before any
 * data is read; the weight limit caps what a graph may declare. */
static void test_bomb(const char *dir)
{
    char path[1024];
    sl_graph *g = tiny();
    snprintf(path, sizeof path, "%s/bomb.h5", dir);
    int64_t huge[4] = {3072000, 32, 3, 3};
    write_raw(path, g, "model", NULL, huge, 4);
    struct stat st;
    stat(path, &st);
    CHECK(st.st_size < 200000);
    sl_bundle *r = NULL;
    double t0 = (double)clock() / CLOCKS_PER_SEC;
    CHECK_EQ(sl_bundle_read(path, &r), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "model_weights/conv1/weight declares shape 3072000x32x3x3");
    CHECK((double)clock() / CLOCKS_PER_SEC - t0 < 2.0); /* nothing of 3.5 GB was touched */
    CHECK(r == NULL);

    /* The limit: a normal bundle over a lowered limit. */
    sl_bundle *b = sl_bundle_new(g);
    snprintf(path, sizeof path, "%s/limit.h5", dir);
    CHECK_OK(sl_bundle_write(path, b), sl_errmsg());
    setenv("SL_MAX_WEIGHT_BYTES", "1000", 1);
    CHECK_EQ(sl_bundle_max_weight_bytes(), 1000);
    CHECK_EQ(sl_bundle_read(path, &r), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "more than 1000 bytes of weights");
    unsetenv("SL_MAX_WEIGHT_BYTES");
    CHECK_EQ(sl_bundle_max_weight_bytes(), SL_BUNDLE_MAX_WEIGHT_BYTES);
    CHECK_OK(sl_bundle_read(path, &r), sl_errmsg());
    sl_bundle_free(r);
    sl_bundle_free(b);
}

/* Issue 13 item 11: role and pair_id are read exactly, never cut to fit. */
static void test_role_pair(const char *dir)
{
    char path[1024], longid[1281];
    sl_graph *g = tiny();
    sl_bundle *r = NULL;
    snprintf(path, sizeof path, "%s/role.h5", dir);
    write_raw(path, g, "modelx", NULL, NULL, 0);
    CHECK_EQ(sl_bundle_read(path, &r), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "role 'modelx' is not one of model, checkpoint, device, edge");
    memset(longid, 'a', 1280);
    longid[1280] = '\0';
    write_raw(path, g, "model", longid, NULL, 0);
    CHECK_EQ(sl_bundle_read(path, &r), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "(1280 characters) is not 32 lowercase hex digits");
    write_raw(path, g, "model", "0123456789ABCDEF0123456789abcdef", NULL, 0);
    CHECK_EQ(sl_bundle_read(path, &r), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "pair_id");
    /* A slice without its wire description, or with a wire that does not fit its graph. */
    write_raw(path, g, "edge", "0123456789abcdef0123456789abcdef", NULL, 0);
    CHECK_EQ(sl_bundle_read(path, &r), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "an edge half has no /wire description");
    sl_bundle *b = sl_bundle_new(g);
    strcpy(b->role, "edge");
    strcpy(b->pair_id, "0123456789abcdef0123456789abcdef");
    sl_wire_desc wd;
    const char *at[] = {"fc"};
    CHECK_OK(sl_wire_desc_from_graph(b->graph, at, 1, &wd), sl_errmsg());
    char *wj;
    sl_wire_desc_to_json(&wd, &wj);
    sl_bundle_set_json(&b->wire_json, wj);
    free(wj);
    CHECK_OK(sl_bundle_write(path, b), sl_errmsg());
    CHECK_EQ(sl_bundle_read(path, &r), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "wire tensor 'fc' has no placeholder node in the edge graph");
    sl_bundle_free(b);
}

/* The wire description: what split writes parses back; each broken field is named. */
static void test_wire_desc(void)
{
    sl_graph *g = tiny();
    sl_wire_desc w, back;
    const char *at[] = {"fc"};
    CHECK_OK(sl_wire_desc_from_graph(g, at, 1, &w), sl_errmsg());
    char *j;
    CHECK_OK(sl_wire_desc_to_json(&w, &j), sl_errmsg());
    CHECK_OK(sl_wire_desc_parse(j, &back), sl_errmsg());
    CHECK(!memcmp(&w, &back, sizeof w));
    CHECK_OK(sl_wire_desc_check(&back, g, "device"), sl_errmsg());
    struct {
        const char *from, *to, *msg;
    } cases[] = {
        {"\"sl-wire\"", "\"sl-wyre\"", "/wire: format: not \"sl-wire\""},
        {"\"bytes_per_image\":\t8\n}", "\"bytes_per_image\":\t9\n}", "bytes_per_image: is not the sum"},
        {"\"float32\"", "\"float64\"", "tensors[0].dtype: expected float32 or uint8"},
        {"\"shape\":\t[2]", "\"shape\":\t[0]", "tensors[0].shape: dimensions must be"},
        {"\"tl\":\tnull", "\"tl\":\t7", "tl: missing, or neither null nor an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *bad = tu_subst(j, cases[i].from, cases[i].to);
        if (!bad) continue;
        CHECK_EQ(sl_wire_desc_parse(bad, &back), SL_EFORMAT);
        CHECK_CONTAINS(sl_errmsg(), cases[i].msg);
        free(bad);
    }
    free(j);
    sl_graph_free(g);
}

int main(void)
{
    const char *dir = tu_tmpdir();
    test_roundtrip(dir);
    test_bad_files(dir);
    test_import(dir);
    test_corrupt_weights(dir);
    test_bomb(dir);
    test_role_pair(dir);
    test_wire_desc();
    tu_rmtree(dir);
    return TU_DONE();
}
