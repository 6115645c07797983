/* test_loader.c: batches are identical for any thread count, shuffles and augmentation depend
 * only on (seed, epoch, index), epochs cover every image once, resets resume exactly, and the
 * cache serves the same pixels as the folder. */
#include "common/status.h"
#include "datasets/cache.h"
#include "datasets/dataset.h"
#include "datasets/loader.h"
#include "datasets/synth.h"
#include "testutil.h"

#define S 24

/* All batches of epoch `epoch` flattened: images, labels, indices. */
typedef struct {
    float *x;
    int64_t *y, *idx;
    int64_t n;
    int batches;
} epoch_dump;

static int dump_epoch(sl_dataset *ds, const sl_loader_opts *o, int epoch, epoch_dump *d)
{
    sl_loader *l;
    if (sl_loader_new(ds, o, &l) != SL_OK) return -1;
    size_t per = (size_t)o->spec.c * o->spec.h * o->spec.w;
    int64_t cap = sl_dataset_count(ds);
    d->x = malloc(sizeof(float) * per * (size_t)cap);
    d->y = malloc(sizeof(int64_t) * (size_t)cap);
    d->idx = malloc(sizeof(int64_t) * (size_t)cap);
    d->n = 0;
    d->batches = 0;
    /* run a partial epoch 0 first so the reset path is exercised */
    sl_batch b;
    if (epoch != 0) sl_loader_next(l, &b);
    sl_loader_reset(l, epoch);
    int rc;
    while ((rc = sl_loader_next(l, &b)) == SL_OK) {
        if (b.epoch != epoch || b.number != d->batches) rc = -99;
        memcpy(d->x + per * d->n, b.x, sizeof(float) * per * b.n);
        memcpy(d->y + d->n, b.y, sizeof(int64_t) * b.n);
        memcpy(d->idx + d->n, b.index, sizeof(int64_t) * b.n);
        d->n += b.n;
        d->batches++;
    }
    if (sl_loader_next(l, &b) != SL_LOADER_END) rc = -98;
    sl_loader_free(l);
    return rc == SL_LOADER_END ? 0 : rc;
}

static void dump_free(epoch_dump *d)
{
    free(d->x);
    free(d->y);
    free(d->idx);
}

static int same_dump(const epoch_dump *a, const epoch_dump *b, size_t per)
{
    return a->n == b->n && a->batches == b->batches &&
           !memcmp(a->idx, b->idx, sizeof(int64_t) * a->n) &&
           !memcmp(a->y, b->y, sizeof(int64_t) * a->n) &&
           !memcmp(a->x, b->x, sizeof(float) * per * a->n);
}

/* Writes ds's 40 images to a cache at path with co and checks that an epoch of o over it is
 * bit for bit `want` (the same epoch over ds itself). */
static void check_cache(sl_dataset *ds, const sl_cache_opts *co, const char *path,
                        const sl_loader_opts *o, const epoch_dump *want)
{
    int64_t rows;
    CHECK_OK(sl_cache_write(ds, co, path, &rows), sl_errmsg());
    CHECK_EQ(rows, 40);
    sl_dataset *cds;
    CHECK_OK(sl_dataset_open(path, NULL, &cds), sl_errmsg());
    if (cds) {
        epoch_dump got;
        CHECK_OK(dump_epoch(cds, o, 0, &got), sl_errmsg());
        CHECK(same_dump(want, &got, (size_t)o->spec.c * o->spec.h * o->spec.w));
        dump_free(&got);
        sl_dataset_free(cds);
    }
}

/* With o's flip augmentation alone: the first of images 0-7 whose coin says "flip" comes out of
 * the loader (into other) as its plain input (into one) mirrored left to right (vertical 0) or
 * top to bottom (1). one and other are the caller's scratch of one image each. Returns 1 when
 * such an image was found and is mirrored exactly, else 0. */
static int flip_mirrors(sl_dataset *ds, const sl_loader_opts *o, int vertical, float *one,
                        float *other)
{
    size_t per = (size_t)o->spec.c * o->spec.h * o->spec.w;
    sl_image img;
    for (int64_t i = 0; i < 8; i++) {
        CHECK_OK(sl_loader_sample(ds, o, 0, i, other), sl_errmsg());
        CHECK_OK(sl_dataset_image(ds, i, &img), sl_errmsg());
        CHECK_OK(sl_image_to_input(&img, &o->spec, one), sl_errmsg());
        sl_image_free(&img);
        int same = 1;
        for (size_t k = 0; k < per; k++)
            same &= fabsf(one[k] - other[k]) < 1e-5f;
        if (same) continue; /* this image's coin said "no flip" */
        int mirror = 1;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                mirror &= fabsf(one[y * S + x] - other[vertical ? (S - 1 - y) * S + x
                                                                : y * S + (S - 1 - x)]) < 1e-5f;
        return mirror;
    }
    return 0;
}

int main(void)
{
    const char *tmp = tu_tmpdir();
    char root[600], cache[600];
    snprintf(root, sizeof root, "%s/casting", tmp);
    snprintf(cache, sizeof cache, "%s/casting.h5", tmp);
    sl_synth_opts so;
    sl_synth_opts_init(&so);
    so.size = S;
    so.per_class = 10;
    so.splits[0] = so.splits[1] = so.splits[2] = 0;
    CHECK_OK(sl_synth_generate(&so, root), sl_errmsg());
    sl_dataset *ds;
    CHECK_OK(sl_dataset_open(root, NULL, &ds), sl_errmsg());
    if (!ds) return TU_DONE();
    int64_t n = sl_dataset_count(ds);
    CHECK_EQ(n, 40);

    sl_loader_opts o;
    sl_loader_opts_init(&o);
    o.spec.h = o.spec.w = S;
    o.batch = 7;
    o.seed = 3;
    o.augment.hflip = 1;
    o.augment.crop_pad = 2;
    o.augment.brightness = 0.2f;
    o.augment.contrast = 0.2f;
    size_t per = (size_t)3 * S * S;

    /* the same epoch for 0, 1 and 2 worker threads */
    epoch_dump t0, t1, t2;
    o.threads = 0;
    CHECK_OK(dump_epoch(ds, &o, 2, &t0), sl_errmsg());
    o.threads = 1;
    CHECK_OK(dump_epoch(ds, &o, 2, &t1), sl_errmsg());
    o.threads = 2;
    CHECK_OK(dump_epoch(ds, &o, 2, &t2), sl_errmsg());
    CHECK(same_dump(&t0, &t1, per));
    CHECK(same_dump(&t0, &t2, per));
    CHECK_EQ(t0.batches, 6);
    /* every image exactly once, labels match the dataset */
    int seen[40] = {0}, ok = 1;
    for (int64_t i = 0; i < t0.n; i++) {
        seen[t0.idx[i]]++;
        ok &= t0.y[i] == sl_dataset_label(ds, t0.idx[i]);
    }
    for (int i = 0; i < 40; i++)
        ok &= seen[i] == 1;
    CHECK(ok);
    /* each image is what sl_loader_sample makes for (seed, epoch, index) */
    float *one = malloc(sizeof(float) * per);
    CHECK_OK(sl_loader_sample(ds, &o, 2, t0.idx[5], one), sl_errmsg());
    CHECK(!memcmp(one, t0.x + per * 5, sizeof(float) * per));

    /* another epoch: another order and other augmentation */
    epoch_dump e3;
    CHECK_OK(dump_epoch(ds, &o, 3, &e3), sl_errmsg());
    CHECK(memcmp(e3.idx, t0.idx, sizeof(int64_t) * 40) != 0);
    float *other = malloc(sizeof(float) * per);
    CHECK_OK(sl_loader_sample(ds, &o, 3, t0.idx[5], other), sl_errmsg());
    CHECK(memcmp(one, other, sizeof(float) * per) != 0);
    dump_free(&e3);
    /* another seed: another order */
    o.seed = 4;
    CHECK_OK(dump_epoch(ds, &o, 2, &e3), sl_errmsg());
    CHECK(memcmp(e3.idx, t0.idx, sizeof(int64_t) * 40) != 0);
    dump_free(&e3);
    o.seed = 3;

    /* no shuffle, no augmentation, drop_last: dataset order, values = sl_image_to_input */
    o.shuffle = 0;
    memset(&o.augment, 0, sizeof o.augment);
    o.drop_last = 1;
    CHECK_OK(dump_epoch(ds, &o, 0, &e3), sl_errmsg());
    CHECK_EQ(e3.n, 35);
    CHECK_EQ(e3.batches, 5);
    CHECK(e3.idx[0] == 0 && e3.idx[34] == 34);
    sl_image img;
    CHECK_OK(sl_dataset_image(ds, 9, &img), sl_errmsg());
    CHECK_OK(sl_image_to_input(&img, &o.spec, one), sl_errmsg());
    sl_image_free(&img);
    CHECK(!memcmp(one, e3.x + per * 9, sizeof(float) * per));

    /* the cache at the same size gives bit-identical batches */
    sl_cache_opts co = {1, S, S, SL_RESIZE_STRETCH, 2, 0};
    check_cache(ds, &co, cache, &o, &e3);
    /* a cache already in the model's shape (3 x S x S) takes the no-resample path */
    co.c = 3;
    check_cache(ds, &co, cache, &o, &e3);
    dump_free(&e3);

    /* horizontal flip alone mirrors the image */
    o.augment.hflip = 1;
    CHECK(flip_mirrors(ds, &o, 0, one, other));

    /* vertical flip alone mirrors top to bottom, never left to right */
    memset(&o.augment, 0, sizeof o.augment);
    o.augment.vflip = 1;
    CHECK(flip_mirrors(ds, &o, 1, one, other));

    /* rotation: deterministic per (seed, epoch, index), different between epochs, a real change
     * of the image, and the centre (S is even: the mean of the middle four pixels) moving least */
    memset(&o.augment, 0, sizeof o.augment);
    o.augment.rotate = 15;
    {
        float *r1 = malloc(sizeof(float) * per), *r2 = malloc(sizeof(float) * per);
        CHECK_OK(sl_loader_sample(ds, &o, 4, 3, r1), sl_errmsg());
        CHECK_OK(sl_loader_sample(ds, &o, 4, 3, r2), sl_errmsg());
        CHECK(!memcmp(r1, r2, sizeof(float) * per));
        CHECK_OK(sl_loader_sample(ds, &o, 5, 3, r2), sl_errmsg());
        CHECK(memcmp(r1, r2, sizeof(float) * per) != 0);
        CHECK_OK(sl_dataset_image(ds, 3, &img), sl_errmsg());
        CHECK_OK(sl_image_to_input(&img, &o.spec, one), sl_errmsg());
        sl_image_free(&img);
        int c0 = (S / 2 - 1) * S + S / 2 - 1;
        double m_rot = (r1[c0] + r1[c0 + 1] + r1[c0 + S] + r1[c0 + S + 1]) / 4;
        double m_one = (one[c0] + one[c0 + 1] + one[c0 + S] + one[c0 + S + 1]) / 4;
        CHECK_NEAR(m_rot, m_one, 0.6); /* normalised units; the centre moves least */
        int differs = 0;
        for (size_t k = 0; k < per; k++)
            differs += fabsf(one[k] - r1[k]) > 1e-3f;
        CHECK(differs > (int)per / 20);
        free(r1);
        free(r2);
    }

    /* a file that vanished after the scan: its batch fails by path, the epoch goes on */
    memset(&o.augment, 0, sizeof o.augment);
    o.drop_last = 0;
    o.threads = 2;
    char gone[1024];
    snprintf(gone, sizeof gone, "%s", sl_dataset_path(ds, 17));
    remove(gone);
    sl_loader *vl;
    CHECK_OK(sl_loader_new(ds, &o, &vl), sl_errmsg());
    if (vl) {
        int errors = 0, good = 0, rc;
        sl_batch b;
        while ((rc = sl_loader_next(vl, &b)) != SL_LOADER_END) {
            if (rc == SL_OK) {
                good += b.n;
            } else {
                errors++;
                CHECK_CONTAINS(sl_errmsg(), gone);
            }
        }
        CHECK_EQ(errors, 1);
        CHECK_EQ(good, 40 - 7);
        sl_loader_free(vl);
    }

    /* bad options */
    sl_loader *l;
    o.batch = 0;
    CHECK_EQ(sl_loader_new(ds, &o, &l), SL_EARG);
    o.batch = 4;
    o.spec.std[0] = 0;
    CHECK_EQ(sl_loader_new(ds, &o, &l), SL_EARG);

    free(one);
    free(other);
    dump_free(&t0);
    dump_free(&t1);
    dump_free(&t2);
    sl_dataset_free(ds);
    tu_rmtree(tmp);
    return TU_DONE();
}
