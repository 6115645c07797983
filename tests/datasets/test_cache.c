/* test_cache.c: the HDF5 cache keeps images, labels, splits, classes, paths and problems;
 * images that fail to decode are skipped (or fail with strict); foreign files are refused. */
#include "common/fsutil.h"
#include "common/status.h"
#include "datasets/cache.h"
#include "datasets/dataset.h"
#include "testutil.h"

#include "h5/h5.h"

static void put_png(const char *dir, const char *name, int w, int h, uint8_t v)
{
    char path[1024];
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h * 3; i++)
        px[i] = (uint8_t)(v + i % 7);
    sl_mkdir_p(dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    sl_png_write(path, w, h, 3, px);
    free(px);
}

int main(void)
{
    const char *tmp = tu_tmpdir();
    char root[600], d[700], h5[700], path[800];
    snprintf(root, sizeof root, "%s/ds", tmp);
    snprintf(h5, sizeof h5, "%s/ds.h5", tmp);
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 5; i++) {
            snprintf(d, sizeof d, "%s/%s", root, c ? "ok" : "bad");
            char name[16];
            snprintf(name, sizeof name, "%d.png", i);
            put_png(d, name, 20 + i, 16, (uint8_t)(c * 100 + i * 10));
        }
    snprintf(d, sizeof d, "%s/ok/junk.png", root);
    sl_write_file_atomic(d, "junk", 4);

    sl_dataset_opts o;
    sl_dataset_opts_init(&o);
    o.val_ratio = 0.2;
    o.test_ratio = 0.2;
    o.seed = 5;
    sl_dataset *ds;
    CHECK_OK(sl_dataset_open(root, &o, &ds), sl_errmsg());
    if (!ds) return TU_DONE();
    sl_cache_opts co = {3, 12, 10, SL_RESIZE_SHORT_CROP, 2, 0};
    int64_t rows = 0;
    CHECK_OK(sl_cache_write(ds, &co, h5, &rows), sl_errmsg());
    CHECK_EQ(rows, 10);

    sl_dataset *c;
    CHECK_OK(sl_dataset_open(h5, &o, &c), sl_errmsg());
    if (c) {
        const struct sl_dataset_summary *s = sl_dataset_summary(c);
        CHECK_STR(s->layout, "cache");
        CHECK_EQ(sl_dataset_count(c), 10);
        CHECK_EQ(sl_dataset_num_classes(c), 2);
        CHECK_STR(sl_dataset_class_name(c, 0), "bad");
        CHECK_EQ(s->num_problems, 1);
        CHECK_CONTAINS(s->problems[0].path, "junk.png");
        int ch, hh, ww;
        CHECK(sl_dataset_cached_shape(c, &ch, &hh, &ww) == 1 && ch == 3 && hh == 12 && ww == 10);
        int same = 1;
        for (int64_t i = 0; i < 10; i++) {
            same &= !strcmp(sl_dataset_path(c, i), sl_dataset_path(ds, i));
            same &= sl_dataset_label(c, i) == sl_dataset_label(ds, i);
            same &= sl_dataset_split_of(c, i) == sl_dataset_split_of(ds, i);
            sl_image a, b;
            uint8_t want[3 * 12 * 10];
            CHECK_OK(sl_dataset_image(ds, i, &a), sl_errmsg());
            CHECK_OK(sl_image_to_u8(&a, 3, 12, 10, SL_RESIZE_SHORT_CROP, want), sl_errmsg());
            CHECK_OK(sl_dataset_image(c, i, &b), sl_errmsg());
            same &= b.w == 10 && b.h == 12 && b.c == 3;
            for (int p = 0; p < 120; p++)
                for (int k = 0; k < 3; k++)
                    same &= b.data[p * 3 + k] == want[k * 120 + p];
            sl_image_free(&a);
            sl_image_free(&b);
        }
        CHECK(same);
        sl_dataset_free(c);
    }
    /* rows read one by one from the file (a cache too big for memory) are the same bytes */
    sl_dataset *mem, *rows_ds;
    o.cache_memory = -1;
    CHECK_OK(sl_dataset_open(h5, &o, &rows_ds), sl_errmsg());
    o.cache_memory = 0;
    CHECK_OK(sl_dataset_open(h5, &o, &mem), sl_errmsg());
    if (mem && rows_ds) {
        int same = 1;
        for (int64_t i = 0; i < 10; i++) {
            uint8_t a[360], b[360];
            CHECK_OK(sl_dataset_cached_row(mem, i, a), sl_errmsg());
            CHECK_OK(sl_dataset_cached_row(rows_ds, i, b), sl_errmsg());
            same &= !memcmp(a, b, sizeof a);
        }
        CHECK(same);
        uint8_t a[360];
        CHECK_EQ(sl_dataset_cached_row(mem, 10, a), SL_EARG);
        CHECK_EQ(sl_dataset_cached_row(ds, 0, a), SL_EARG); /* a folder has no rows */
    }
    sl_dataset_free(mem);
    sl_dataset_free(rows_ds);

    /* the split view of a cache is the split the folder had */
    o.split = "test";
    CHECK_OK(sl_dataset_open(h5, &o, &c), sl_errmsg());
    CHECK(c && sl_dataset_count(c) == 2);
    sl_dataset_free(c);
    o.split = NULL;

    /* a file that vanishes after the scan is skipped and recorded, or fails with strict */
    snprintf(path, sizeof path, "%s/ok/3.png", root);
    remove(path);
    snprintf(d, sizeof d, "%s/ds2.h5", tmp);
    CHECK_OK(sl_cache_write(ds, &co, d, &rows), sl_errmsg());
    CHECK_EQ(rows, 9);
    CHECK_OK(sl_dataset_open(d, &o, &c), sl_errmsg());
    if (c) {
        CHECK_EQ(sl_dataset_count(c), 9);
        CHECK_EQ(sl_dataset_summary(c)->num_problems, 2);
        CHECK_CONTAINS(sl_dataset_summary(c)->problems[1].path, "ok/3.png");
        sl_dataset_free(c);
    }
    co.strict = 1;
    snprintf(d, sizeof d, "%s/ds3.h5", tmp);
    CHECK(sl_cache_write(ds, &co, d, &rows) != SL_OK);
    CHECK_CONTAINS(sl_errmsg(), "3.png");
    CHECK(!sl_is_file(d)); /* nothing half-written is left */
    co.c = 2;
    CHECK_EQ(sl_cache_write(ds, &co, d, &rows), SL_EARG);

    /* an HDF5 file that is not a cache, and a damaged cache */
    snprintf(d, sizeof d, "%s/other.h5", tmp);
    sl_h5_id f;
    CHECK_OK(sl_h5_create(d, &f), sl_errmsg());
    sl_h5_close(f);
    CHECK_EQ(sl_dataset_open(d, &o, &c), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "not an sl-data cache");
    char *data;
    size_t len;
    CHECK_OK(sl_read_file(h5, &data, &len), sl_errmsg());
    snprintf(d, sizeof d, "%s/cut.h5", tmp);
    sl_write_file_atomic(d, data, len / 3);
    free(data);
    CHECK(sl_dataset_open(d, &o, &c) != SL_OK);
    CHECK(c == NULL);
    CHECK_CONTAINS(sl_errmsg(), "cut.h5");

    sl_dataset_free(ds);
    tu_rmtree(tmp);
    return TU_DONE();
}
