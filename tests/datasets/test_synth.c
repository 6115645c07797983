/* test_synth.c: synthetic product lines are deterministic for a seed, differ between seeds and
 * classes, and are written as a complete ImageFolder with a manifest. */
#include "common/fsutil.h"
#include "common/status.h"
#include "datasets/dataset.h"
#include "datasets/synth.h"
#include "dataset_fixture.h"
#include "testutil.h"

#include <cjson/cJSON.h>

static int same_file(const char *a, const char *b)
{
    char *x, *y;
    size_t n, m;
    if (sl_read_file(a, &x, &n) != SL_OK) return 0;
    if (sl_read_file(b, &y, &m) != SL_OK) {
        free(x);
        return 0;
    }
    int same = n == m && !memcmp(x, y, n);
    free(x);
    free(y);
    return same;
}

static void test_render(void)
{
    const char *const *products = sl_synth_product_names();
    int np = 0;
    for (; products[np]; np++) {
        const char *const *cls;
        int nc;
        CHECK_OK(sl_synth_classes(products[np], &cls, &nc), sl_errmsg());
        CHECK(nc >= 3 && nc <= 5);
        int has_ok = 0;
        for (int c = 0; c < nc; c++) {
            has_ok |= !strcmp(cls[c], "ok");
            if (c) CHECK(strcmp(cls[c - 1], cls[c]) < 0); /* sorted, as labels are */
        }
        CHECK(has_ok);
        sl_image a, b, other;
        CHECK_OK(sl_synth_render(products[np], 1, 5, 3, 48, &a), sl_errmsg());
        CHECK_OK(sl_synth_render(products[np], 1, 5, 3, 48, &b), sl_errmsg());
        CHECK(a.w == 48 && a.h == 48 && (a.c == 1 || a.c == 3));
        CHECK(!memcmp(a.data, b.data, (size_t)48 * 48 * a.c));
        sl_image_free(&b);
        CHECK_OK(sl_synth_render(products[np], 1, 6, 3, 48, &other), sl_errmsg());
        CHECK(memcmp(a.data, other.data, (size_t)48 * 48 * a.c) != 0);
        sl_image_free(&other);
        CHECK_OK(sl_synth_render(products[np], 1, 5, 4, 48, &other), sl_errmsg());
        CHECK(memcmp(a.data, other.data, (size_t)48 * 48 * a.c) != 0);
        sl_image_free(&other);
        /* not a flat image: real texture and contrast */
        int lo = 255, hi = 0;
        for (int i = 0; i < 48 * 48 * a.c; i++) {
            lo = a.data[i] < lo ? a.data[i] : lo;
            hi = a.data[i] > hi ? a.data[i] : hi;
        }
        CHECK(hi - lo > 60);
        sl_image_free(&a);
    }
    CHECK_EQ(np, 3);
    CHECK_STR(products[0], "casting");
    sl_image a;
    CHECK_EQ(sl_synth_render("widgets", 0, 1, 0, 64, &a), SL_ENOTFOUND);
    CHECK_EQ(sl_synth_render("pcb", 9, 1, 0, 64, &a), SL_EARG);
    CHECK_EQ(sl_synth_render("pcb", 0, 1, 0, 8, &a), SL_EARG);
}

static void test_generate(const char *tmp)
{
    char a[600], b[600], f1[800], f2[800];
    snprintf(a, sizeof a, "%s/a", tmp);
    snprintf(b, sizeof b, "%s/b", tmp);
    sl_synth_opts o;
    sl_synth_opts_init(&o);
    o.product = "pcb";
    o.size = 32;
    o.per_class = 10;
    o.seed = 9;
    CHECK_OK(sl_synth_generate(&o, a), sl_errmsg());
    o.threads = 1; /* thread count never changes the pixels */
    CHECK_OK(sl_synth_generate(&o, b), sl_errmsg());
    snprintf(f1, sizeof f1, "%s/train/open/open_00003.png", a);
    snprintf(f2, sizeof f2, "%s/train/open/open_00003.png", b);
    CHECK(same_file(f1, f2));
    snprintf(f1, sizeof f1, "%s/test/short/short_00009.png", a);
    snprintf(f2, sizeof f2, "%s/test/short/short_00009.png", b);
    CHECK(same_file(f1, f2));
    snprintf(f1, sizeof f1, "%s/manifest.json", a);
    snprintf(f2, sizeof f2, "%s/manifest.json", b);
    CHECK(same_file(f1, f2));
    char *text;
    size_t len;
    CHECK_OK(sl_read_file(f1, &text, &len), sl_errmsg());
    cJSON *m = cJSON_Parse(text);
    free(text);
    CHECK(m != NULL);
    CHECK_STR(cJSON_GetObjectItem(m, "product")->valuestring, "pcb");
    CHECK_STR(cJSON_GetObjectItem(m, "seed")->valuestring, "9");
    CHECK_EQ(cJSON_GetObjectItem(m, "generator_version")->valueint, SL_SYNTH_VERSION);
    CHECK_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(m, "classes")), 4);
    cJSON *counts = cJSON_GetObjectItem(m, "counts");
    CHECK_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(counts, "train"), "ok")->valueint, 6);
    CHECK_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(counts, "val"), "ok")->valueint, 2);
    CHECK_EQ(cJSON_GetObjectItem(m, "total")->valueint, 40);
    cJSON_Delete(m);
    /* what was written opens as a split ImageFolder with the same classes */
    sl_dataset *ds = dsf_open(a, NULL, "imagefolder-split");
    if (ds) {
        CHECK_EQ(sl_dataset_count(ds), 40);
        CHECK_EQ(sl_dataset_summary(ds)->num_problems, 0);
        CHECK_STR(sl_dataset_class_name(ds, 0), "missing_hole");
    }
    sl_dataset_free(ds);
    /* an existing non-empty folder is never overwritten */
    CHECK_EQ(sl_synth_generate(&o, a), SL_EIO);
    CHECK_CONTAINS(sl_errmsg(), "already exists");
    CHECK(sl_is_file(f1));
    /* flat layout and bad options */
    char c[600];
    snprintf(c, sizeof c, "%s/c", tmp);
    o.splits[0] = o.splits[1] = o.splits[2] = 0;
    o.per_class = 3;
    o.product = "fabric";
    CHECK_OK(sl_synth_generate(&o, c), sl_errmsg());
    snprintf(f1, sizeof f1, "%s/hole/hole_00002.png", c);
    CHECK(sl_is_file(f1));
    o.splits[0] = 0.5;
    CHECK_EQ(sl_synth_generate(&o, c), SL_EARG);
    o.product = "nope";
    CHECK_EQ(sl_synth_generate(&o, tmp), SL_ENOTFOUND);
}

int main(void)
{
    const char *tmp = tu_tmpdir();
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tmp);
    test_render();
    test_generate(dir);
    tu_rmtree(dir);
    return TU_DONE();
}
