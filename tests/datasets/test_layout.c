/* test_layout.c: ImageFolder (flat and split) and MVTec-AD layouts, the seeded ratio split,
 * and every bad-input case reported by path (skipped by default, fatal with strict). */
#include "common/fsutil.h"
#include "common/status.h"
#include "datasets/dataset.h"
#include "dataset_fixture.h"
#include "testutil.h"

#include <stdint.h>
#include <sys/stat.h>

static void put_png(const char *dir, const char *name, uint8_t v)
{
    char path[1024];
    uint8_t px[8 * 8];
    memset(px, v, sizeof px);
    sl_mkdir_p(dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (sl_png_write(path, 8, 8, 1, px) != SL_OK) fprintf(stderr, "setup: %s\n", sl_errmsg());
}

static void put_text(const char *dir, const char *name, const char *text)
{
    char path[1024];
    sl_mkdir_p(dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    sl_write_file_atomic(path, text, strlen(text));
}

static int has_problem(const sl_dataset *ds, const char *path_end, const char *reason)
{
    const struct sl_dataset_summary *s = sl_dataset_summary(ds);
    for (int i = 0; i < s->num_problems; i++) {
        size_t n = strlen(s->problems[i].path), m = strlen(path_end);
        if (n >= m && !strcmp(s->problems[i].path + n - m, path_end) &&
            strstr(s->problems[i].reason, reason))
            return 1;
    }
    return 0;
}

static void test_flat_and_problems(const char *tmp)
{
    char root[600], d[700], name[32];
    snprintf(root, sizeof root, "%s/flat", tmp);
    for (int c = 0; c < 3; c++) {
        const char *cls[] = {"scratch", "good", "dent"};
        snprintf(d, sizeof d, "%s/%s", root, cls[c]);
        for (int i = 0; i < 20; i++) {
            snprintf(name, sizeof name, "%02d.png", i);
            put_png(d, name, (uint8_t)(c * 50 + i));
        }
    }
    /* the bad inputs */
    snprintf(d, sizeof d, "%s/dent", root);
    put_text(d, "notes.txt", "not an image");
    put_text(d, "fake.png", "GIF89a not really");
    char good[800], trunc[800];
    snprintf(good, sizeof good, "%s/00.png", d);
    snprintf(trunc, sizeof trunc, "%s/trunc.png", d);
    char *data;
    size_t len;
    sl_read_file(good, &data, &len);
    sl_write_file_atomic(trunc, data, len - 20);
    free(data);
    snprintf(d, sizeof d, "%s/empty_class", root);
    sl_mkdir_p(d);
    snprintf(d, sizeof d, "%s/gone_class", root);
    CHECK(symlink("/nonexistent/folder", d) == 0);
    put_png(root, "stray.png", 1);
    put_text(root, "README", "a dataset");

    sl_dataset_opts o;
    sl_dataset_opts_init(&o);
    sl_dataset *ds;
    CHECK_OK(sl_dataset_open(root, &o, &ds), sl_errmsg());
    if (!ds) return;
    const struct sl_dataset_summary *s = sl_dataset_summary(ds);
    CHECK_STR(s->layout, "imagefolder");
    CHECK_EQ(sl_dataset_count(ds), 60);
    CHECK_EQ(sl_dataset_num_classes(ds), 3);
    CHECK_STR(sl_dataset_class_name(ds, 0), "dent");
    CHECK_STR(sl_dataset_class_name(ds, 1), "good");
    CHECK_STR(sl_dataset_class_name(ds, 2), "scratch");
    CHECK(sl_dataset_class_name(ds, 3) == NULL);
    CHECK_EQ(s->class_counts[0], 20);
    CHECK(has_problem(ds, "dent/notes.txt", "not an image file"));
    CHECK(has_problem(ds, "dent/fake.png", "not an image file"));
    CHECK(has_problem(ds, "dent/trunc.png", "truncated"));
    CHECK(has_problem(ds, "empty_class", "empty class folder"));
    CHECK(has_problem(ds, "gone_class", ""));
    CHECK(has_problem(ds, "stray.png", "outside any class folder"));
    CHECK_EQ(s->num_problems, 6); /* README is not data and is not a problem */
    for (int64_t i = 0; i < sl_dataset_count(ds); i++) {
        const char *p = sl_dataset_path(ds, i);
        CHECK(strstr(p, sl_dataset_class_name(ds, sl_dataset_label(ds, i))) != NULL);
    }
    sl_image img;
    CHECK_OK(sl_dataset_image(ds, 0, &img), sl_errmsg());
    CHECK(img.w == 8 && img.c == 1);
    sl_image_free(&img);
    CHECK_EQ(sl_dataset_image(ds, 60, &img), SL_EARG);
    sl_dataset_free(ds);

    /* header-only verification cannot see the truncation */
    o.verify = SL_VERIFY_HEADER;
    CHECK_OK(sl_dataset_open(root, &o, &ds), sl_errmsg());
    CHECK_EQ(sl_dataset_count(ds), 61);
    sl_dataset_free(ds);
    o.verify = SL_VERIFY_DECODE;

    /* strict: the first problem fails the open, naming the file */
    o.strict = 1;
    CHECK_EQ(sl_dataset_open(root, &o, &ds), SL_EFORMAT);
    CHECK(ds == NULL);
    CHECK_CONTAINS(sl_errmsg(), root);
    o.strict = 0;

    /* seeded ratio split: disjoint, stratified, sizes by ratio, same for the same seed */
    o.val_ratio = 0.2;
    o.test_ratio = 0.1;
    o.seed = 42;
    int64_t total = 0;
    static char seen[3][60][700];
    for (int sp = 0; sp < 3; sp++) {
        const char *names[] = {"train", "val", "test"};
        o.split = names[sp];
        CHECK_OK(sl_dataset_open(root, &o, &ds), sl_errmsg());
        if (!ds) continue;
        int64_t n = sl_dataset_count(ds);
        CHECK_EQ(n, sp == 0 ? 42 : sp == 1 ? 12 : 6);
        CHECK_EQ(sl_dataset_summary(ds)->class_counts[1], sp == 0 ? 14 : sp == 1 ? 4 : 2);
        for (int64_t i = 0; i < n && i < 60; i++)
            snprintf(seen[sp][i], sizeof seen[sp][i], "%s", sl_dataset_path(ds, i));
        for (int64_t i = 0; i < n; i++)
            CHECK_EQ(sl_dataset_split_of(ds, i), sp);
        total += n;
        sl_dataset_free(ds);
    }
    CHECK_EQ(total, 60);
    int overlap = 0;
    for (int i = 0; i < 42; i++)
        for (int j = 0; j < 12; j++)
            overlap += !strcmp(seen[0][i], seen[1][j]);
    CHECK_EQ(overlap, 0);
    o.split = "val";
    CHECK_OK(sl_dataset_open(root, &o, &ds), sl_errmsg());
    int same = ds != NULL;
    for (int64_t i = 0; ds && i < 12; i++)
        same &= !strcmp(seen[1][i], sl_dataset_path(ds, i));
    CHECK(same);
    sl_dataset_free(ds);
    o.seed = 43;
    CHECK_OK(sl_dataset_open(root, &o, &ds), sl_errmsg());
    int differs = 0;
    for (int64_t i = 0; ds && i < 12; i++)
        differs |= strcmp(seen[1][i], sl_dataset_path(ds, i)) != 0;
    CHECK(differs);
    sl_dataset_free(ds);
    o.split = "bogus";
    CHECK_EQ(sl_dataset_open(root, &o, &ds), SL_EARG);
}

static void test_split_layout(const char *tmp)
{
    char root[600], d[700];
    snprintf(root, sizeof root, "%s/split", tmp);
    const char *splits[] = {"train", "val"};
    for (int s = 0; s < 2; s++) {
        snprintf(d, sizeof d, "%s/%s/ok", root, splits[s]);
        put_png(d, "a.png", 10);
        put_png(d, "b.png", 11);
        snprintf(d, sizeof d, "%s/%s/%s", root, splits[s], s ? "crack" : "flash");
        put_png(d, "c.png", 12);
    }
    snprintf(d, sizeof d, "%s/extra/ok", root);
    put_png(d, "x.png", 13);
    sl_dataset *ds = dsf_open(root, "val", "imagefolder-split");
    if (ds) {
        /* classes from every split, so labels agree between train and val */
        CHECK_EQ(sl_dataset_num_classes(ds), 3);
        CHECK_STR(sl_dataset_class_name(ds, 0), "crack");
        CHECK_STR(sl_dataset_class_name(ds, 1), "flash");
        CHECK_EQ(sl_dataset_count(ds), 3);
        CHECK_EQ(sl_dataset_summary(ds)->class_counts[1], 0);
        CHECK_EQ(sl_dataset_split_of(ds, 0), SL_SPLIT_VAL);
        CHECK(has_problem(ds, "split/extra", "beside train/ val/ test/"));
        CHECK_EQ(sl_dataset_summary(ds)->num_problems, 1);
    }
    sl_dataset_free(ds);
    ds = dsf_open(root, NULL, "imagefolder-split");
    CHECK(ds && sl_dataset_count(ds) == 6);
    sl_dataset_free(ds);
    sl_dataset_opts o;
    sl_dataset_opts_init(&o);
    o.split = "test";
    CHECK_EQ(sl_dataset_open(root, &o, &ds), SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "test/");
}

static void test_mvtec(const char *tmp)
{
    char root[600], d[700];
    snprintf(root, sizeof root, "%s/bottle", tmp);
    snprintf(d, sizeof d, "%s/train/good", root);
    for (int i = 0; i < 6; i++) {
        char n[16];
        snprintf(n, sizeof n, "%03d.png", i);
        put_png(d, n, (uint8_t)i);
    }
    const char *defects[] = {"good", "broken_large", "contamination"};
    for (int k = 0; k < 3; k++) {
        snprintf(d, sizeof d, "%s/test/%s", root, defects[k]);
        put_png(d, "000.png", 100);
        put_png(d, "001.png", 101);
    }
    snprintf(d, sizeof d, "%s/ground_truth/broken_large", root);
    put_png(d, "000_mask.png", 255);
    sl_dataset *ds = dsf_open(root, NULL, "mvtec");
    if (ds) {
        CHECK_EQ(sl_dataset_count(ds), 12); /* masks are not images of the dataset */
        CHECK_EQ(sl_dataset_num_classes(ds), 3);
        CHECK_STR(sl_dataset_class_name(ds, 0), "broken_large");
        CHECK_STR(sl_dataset_class_name(ds, 2), "good");
        CHECK_EQ(sl_dataset_summary(ds)->class_counts[2], 8);
        CHECK_EQ(sl_dataset_summary(ds)->num_problems, 0);
    }
    sl_dataset_free(ds);
    sl_dataset_opts o;
    sl_dataset_opts_init(&o);
    o.binary = 1;
    CHECK_OK(sl_dataset_open(root, &o, &ds), sl_errmsg());
    if (ds) {
        CHECK_EQ(sl_dataset_num_classes(ds), 2);
        CHECK_STR(sl_dataset_class_name(ds, 0), "defect");
        CHECK_EQ(sl_dataset_summary(ds)->class_counts[0], 4);
    }
    sl_dataset_free(ds);
    /* asking for MVTec on a plain folder says what is missing */
    o.layout = SL_LAYOUT_MVTEC;
    snprintf(d, sizeof d, "%s/split", tmp);
    CHECK_EQ(sl_dataset_open(d, &o, &ds), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "train/good");
    /* not a dataset at all */
    o.layout = SL_LAYOUT_AUTO;
    snprintf(d, sizeof d, "%s/missing", tmp);
    CHECK_EQ(sl_dataset_open(d, &o, &ds), SL_EIO);
    snprintf(d, sizeof d, "%s/flat/README", tmp);
    CHECK_EQ(sl_dataset_open(d, &o, &ds), SL_EFORMAT);
    snprintf(d, sizeof d, "%s/nothing", tmp);
    sl_mkdir_p(d);
    CHECK_EQ(sl_dataset_open(d, &o, &ds), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "no readable image");
}

int main(void)
{
    const char *tmp = tu_tmpdir();
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tmp);
    test_flat_and_problems(dir);
    test_split_layout(dir);
    test_mvtec(dir);
    tu_rmtree(dir);
    return TU_DONE();
}
