/* dataset.c: scanning ImageFolder and MVTec-AD roots, the seeded ratio split, item access. */
#include "datasets/dataset_internal.h"
#include "datasets/rng.h"

#include "common/fsutil.h"
#include "common/status.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum { SPLIT_NONE = -1 };

void sl_dataset_opts_init(sl_dataset_opts *o)
{
    memset(o, 0, sizeof *o);
    o->layout = SL_LAYOUT_AUTO;
    o->val_ratio = 0.15;
    o->test_ratio = 0.15;
    o->verify = SL_VERIFY_DECODE;
}

static const char *const split_names[] = {
    [SL_SPLIT_TRAIN] = "train", [SL_SPLIT_VAL] = "val", [SL_SPLIT_TEST] = "test"};

const char *sl_split_name(int split)
{
    return split >= SL_SPLIT_TRAIN && split <= SL_SPLIT_TEST ? split_names[split] : NULL;
}

int sl_split_parse(const char *name)
{
    for (int s = SL_SPLIT_TRAIN; s <= SL_SPLIT_TEST; s++)
        if (!strcmp(name, split_names[s])) return s;
    return -1;
}

/* Room for element n of an array of `size`-byte elements with *cap of them allocated: the array
 * itself when n < *cap, else the array reallocated to twice *cap (`first` the first time), or
 * NULL (the array untouched, *cap unchanged) when out of memory. */
static void *grow(void *items, size_t size, int64_t n, int64_t *cap, int64_t first)
{
    if (n < *cap) return items;
    int64_t c = *cap ? *cap * 2 : first;
    void *p = realloc(items, size * (size_t)c);
    if (p) *cap = c;
    return p;
}

int sl_ds_add_item(sl_dataset *ds, const char *path, const char *class_name, int split, int64_t row)
{
    sl_ds_item *items = grow(ds->items, sizeof *items, ds->n, &ds->cap, 256);
    if (!items) return sl_err(SL_ENOMEM, "out of memory listing %s", ds->root);
    ds->items = items;
    sl_ds_item *it = &ds->items[ds->n];
    memset(it, 0, sizeof *it);
    it->path = strdup(path);
    it->class_name = class_name ? strdup(class_name) : NULL;
    if (!it->path || (class_name && !it->class_name)) {
        free(it->path);
        free(it->class_name);
        return sl_err(SL_ENOMEM, "out of memory listing %s", ds->root);
    }
    it->split = split;
    it->row = row;
    ds->n++;
    return SL_OK;
}

int sl_ds_add_problem(sl_dataset *ds, const char *path, const char *reason)
{
    sl_dataset_problem *probs = grow(ds->problems, sizeof *probs, ds->nprob, &ds->capprob, 16);
    if (!probs) return sl_err(SL_ENOMEM, "out of memory listing %s", ds->root);
    ds->problems = probs;
    char *pp = strdup(path), *rr = strdup(reason);
    if (!pp || !rr) {
        free(pp);
        free(rr);
        return sl_err(SL_ENOMEM, "out of memory listing %s", ds->root);
    }
    ds->problems[ds->nprob].path = pp;
    ds->problems[ds->nprob].reason = rr;
    ds->nprob++;
    return SL_OK;
}

/* Records a problem, or with strict turns it into the error of sl_dataset_open. */
static int problem(sl_dataset *ds, const sl_dataset_opts *o, const char *path, const char *why)
{
    char reason[512]; /* `why` may point into the error buffer sl_err is about to rewrite */
    snprintf(reason, sizeof reason, "%s", why);
    if (o->strict) return sl_err(SL_EFORMAT, "%s: %s", path, reason);
    return sl_ds_add_problem(ds, path, reason);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Sorted entry names of `dir` (without . and ..) into *names / *n; the caller frees them with
 * free_names. SL_EIO names the folder when it cannot be read. */
static int list_dir(const char *dir, char ***names, int *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return sl_err(SL_EIO, "%s: cannot read folder: %s", dir, strerror(errno));
    char **v = NULL;
    int cnt = 0;
    int64_t cap = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char **p = grow(v, sizeof *p, cnt, &cap, 64);
        if (!p) break;
        v = p;
        if (!(v[cnt] = strdup(e->d_name))) break;
        cnt++;
    }
    int failed = e != NULL || errno != 0;
    closedir(d);
    if (failed) {
        free_names(v, cnt);
        return sl_err(SL_EIO, "%s: listing failed", dir);
    }
    qsort(v, (size_t)cnt, sizeof *v, cmp_str);
    *names = v;
    *n = cnt;
    return SL_OK;
}

/* The reason part of an image error: drops the leading "<path>: " sl_image_load puts there. */
static const char *reason_of(const char *msg, const char *path)
{
    size_t n = strlen(path);
    if (!strncmp(msg, path, n) && !strncmp(msg + n, ": ", 2)) return msg + n + 2;
    return msg;
}

/* Checks that `path` is an image sl_image_load reads (its magic bytes, or a full decode). */
static int verify_image(const char *path, int verify)
{
    if (verify == SL_VERIFY_DECODE) {
        sl_image img;
        int rc = sl_image_load(path, &img);
        sl_image_free(&img);
        return rc;
    }
    FILE *f = fopen(path, "rb");
    if (!f) return sl_err(SL_EIO, "%s: %s", path, strerror(errno));
    uint8_t buf[SL_IMAGE_MAGIC_BYTES];
    size_t got = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (!sl_image_format(buf, got))
        return sl_err(SL_EFORMAT, "%s: not an image file (PNG, JPEG or BMP)", path);
    return SL_OK;
}

/* Joins dir/name into path (4096 bytes) and stats it into *st. Returns 1 when the entry can be
 * looked at; 0 when not, with *rc the status to stop on (the path did not fit) or to go on with
 * after the entry was recorded as a problem (a dangling link or a vanished entry). */
static int stat_entry(sl_dataset *ds, const sl_dataset_opts *o, const char *dir, const char *name,
                      char *path, struct stat *st, int *rc)
{
    if ((*rc = sl_path_join(path, 4096, dir, name)) != SL_OK) return 0;
    if (stat(path, st) == 0) return 1;
    *rc = problem(ds, o, path, strerror(errno));
    return 0;
}

/* Adds every image of the class folder `dir` as class `cls` in `split`. */
static int scan_class(sl_dataset *ds, const sl_dataset_opts *o, const char *dir, const char *cls,
                      int split)
{
    char **names;
    int n, rc = list_dir(dir, &names, &n);
    if (rc != SL_OK) return problem(ds, o, dir, reason_of(sl_errmsg(), dir));
    int found = 0;
    char path[4096];
    for (int i = 0; i < n && rc == SL_OK; i++) {
        struct stat st;
        if (!stat_entry(ds, o, dir, names[i], path, &st, &rc)) continue;
        if (S_ISDIR(st.st_mode)) {
            rc = problem(ds, o, path, "folder inside a class folder (not read)");
        } else if (verify_image(path, o->verify) != SL_OK) {
            rc = problem(ds, o, path, reason_of(sl_errmsg(), path));
        } else {
            rc = sl_ds_add_item(ds, path, cls, split, -1);
            found++;
        }
    }
    free_names(names, n);
    if (rc == SL_OK && !found) rc = problem(ds, o, dir, "empty class folder (no readable image)");
    return rc;
}

/* root/<class>/ folders; images directly in root are problems, other files (a manifest, a
 * README) are not data and are left alone. */
static int scan_classes(sl_dataset *ds, const sl_dataset_opts *o, const char *root, int split)
{
    char **names;
    int n, rc = list_dir(root, &names, &n);
    if (rc != SL_OK)
        return split == SPLIT_NONE ? rc : problem(ds, o, root, reason_of(sl_errmsg(), root));
    char path[4096];
    for (int i = 0; i < n && rc == SL_OK; i++) {
        struct stat st;
        if (!stat_entry(ds, o, root, names[i], path, &st, &rc)) continue;
        if (S_ISDIR(st.st_mode)) {
            rc = scan_class(ds, o, path, names[i], split);
        } else if (sl_image_has_ext(names[i])) {
            rc = problem(ds, o, path, "image outside any class folder (not read)");
        }
    }
    free_names(names, n);
    return rc;
}

static int scan_mvtec(sl_dataset *ds, const sl_dataset_opts *o, const char *root)
{
    char dir[4096];
    int rc = sl_path_join(dir, sizeof dir, root, "train/good");
    if (rc == SL_OK) rc = scan_class(ds, o, dir, "good", SPLIT_NONE);
    if (rc != SL_OK) return rc;
    char test[4096], **names;
    int n;
    if ((rc = sl_path_join(test, sizeof test, root, "test")) != SL_OK) return rc;
    if ((rc = list_dir(test, &names, &n)) != SL_OK) return rc;
    for (int i = 0; i < n && rc == SL_OK; i++) {
        if ((rc = sl_path_join(dir, sizeof dir, test, names[i])) != SL_OK) break;
        if (!sl_is_dir(dir)) {
            if (sl_image_has_ext(names[i]))
                rc = problem(ds, o, dir, "image outside any class folder (not read)");
            continue;
        }
        const char *cls = strcmp(names[i], "good") && o->binary ? "defect" : names[i];
        rc = scan_class(ds, o, dir, cls, SPLIT_NONE);
    }
    free_names(names, n);
    return rc;
}

static int cmp_item_path(const void *a, const void *b)
{
    return strcmp(((const sl_ds_item *)a)->path, ((const sl_ds_item *)b)->path);
}

/* Stratified seeded split of the items of each class (see dataset.h). */
static int ratio_split(sl_dataset *ds, const sl_dataset_opts *o)
{
    qsort(ds->items, (size_t)ds->n, sizeof *ds->items, cmp_item_path);
    sl_ds_item **cls = malloc(sizeof *cls * (size_t)(ds->n ? ds->n : 1));
    if (!cls) return sl_err(SL_ENOMEM, "out of memory splitting %s", ds->root);
    for (int c = 0; c < ds->num_classes; c++) {
        int64_t m = 0;
        for (int64_t i = 0; i < ds->n; i++)
            if (ds->items[i].label == c) cls[m++] = &ds->items[i];
        sl_rng r = {sl_rng_mix(o->seed, sl_rng_hash_str(ds->classes[c]))};
        for (int64_t i = m - 1; i > 0; i--) {
            int64_t j = (int64_t)sl_rng_below(&r, (uint64_t)i + 1);
            sl_ds_item *t = cls[i];
            cls[i] = cls[j];
            cls[j] = t;
        }
        int64_t nt = (int64_t)(m * o->test_ratio + 0.5), nv = (int64_t)(m * o->val_ratio + 0.5);
        for (int64_t i = 0; i < m; i++)
            cls[i]->split = i < nt ? SL_SPLIT_TEST : i < nt + nv ? SL_SPLIT_VAL : SL_SPLIT_TRAIN;
    }
    free(cls);
    return SL_OK;
}

/* Class list = sorted distinct folder classes of the items; labels follow. */
static int assign_labels(sl_dataset *ds)
{
    char **names = malloc(sizeof *names * (size_t)(ds->n ? ds->n : 1));
    if (!names) return sl_err(SL_ENOMEM, "out of memory listing %s", ds->root);
    for (int64_t i = 0; i < ds->n; i++)
        names[i] = ds->items[i].class_name;
    qsort(names, (size_t)ds->n, sizeof *names, cmp_str);
    int k = 0;
    for (int64_t i = 0; i < ds->n; i++)
        if (k == 0 || strcmp(names[k - 1], names[i])) names[k++] = names[i];
    ds->classes = calloc((size_t)(k ? k : 1), sizeof *ds->classes);
    if (!ds->classes) {
        free(names);
        return sl_err(SL_ENOMEM, "out of memory listing %s", ds->root);
    }
    for (int c = 0; c < k; c++)
        if (!(ds->classes[c] = strdup(names[c]))) {
            free(names);
            return sl_err(SL_ENOMEM, "out of memory listing %s", ds->root);
        }
    ds->num_classes = k;
    free(names);
    for (int64_t i = 0; i < ds->n; i++) {
        char **hit =
            bsearch(&ds->items[i].class_name, ds->classes, (size_t)k, sizeof *ds->classes, cmp_str);
        ds->items[i].label = (int)(hit - ds->classes);
        free(ds->items[i].class_name);
        ds->items[i].class_name = NULL;
    }
    return SL_OK;
}

int sl_ds_finish(sl_dataset *ds, const char *split)
{
    int want = -1;
    if (split && strcmp(split, "all")) {
        want = sl_split_parse(split);
        if (want < 0) return sl_err(SL_EARG, "split '%s' is not train, val, test or all", split);
    }
    int64_t k = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        if (want < 0 || ds->items[i].split == want) {
            ds->items[k++] = ds->items[i];
        } else {
            free(ds->items[i].path);
            free(ds->items[i].class_name);
        }
    }
    ds->n = k;
    ds->class_counts = calloc((size_t)(ds->num_classes ? ds->num_classes : 1), sizeof(int64_t));
    if (!ds->class_counts) return sl_err(SL_ENOMEM, "out of memory listing %s", ds->root);
    for (int64_t i = 0; i < ds->n; i++)
        ds->class_counts[ds->items[i].label]++;
    ds->summary.root = ds->root;
    ds->summary.layout = ds->layout;
    ds->summary.count = ds->n;
    ds->summary.num_classes = ds->num_classes;
    ds->summary.class_counts = ds->class_counts;
    ds->summary.num_problems = ds->nprob;
    ds->summary.problems = ds->problems;
    return SL_OK;
}

static int is_subdir(const char *root, const char *name)
{
    char p[4096];
    return sl_path_join(p, sizeof p, root, name) == SL_OK && sl_is_dir(p);
}

/* Beside split folders, any other folder (or image) at the root would be data nobody reads. */
static int stray_folders(sl_dataset *ds, const sl_dataset_opts *o, const char *root)
{
    char **names, path[4096];
    int n, rc = list_dir(root, &names, &n);
    if (rc != SL_OK) return rc;
    for (int i = 0; i < n && rc == SL_OK; i++) {
        if (sl_split_parse(names[i]) >= 0) continue;
        if ((rc = sl_path_join(path, sizeof path, root, names[i])) != SL_OK) break;
        if (sl_is_dir(path))
            rc = problem(ds, o, path, "folder beside train/ val/ test/ (not read)");
        else if (sl_image_has_ext(names[i]))
            rc = problem(ds, o, path, "image outside any class folder (not read)");
    }
    free_names(names, n);
    return rc;
}

static int open_folder(sl_dataset *ds, const sl_dataset_opts *o)
{
    const char *root = ds->root;
    int mvtec = is_subdir(root, "train/good") && is_subdir(root, "test") && !is_subdir(root, "val");
    int split_dirs = is_subdir(root, "train") || is_subdir(root, "val") || is_subdir(root, "test");
    if (o->layout == SL_LAYOUT_MVTEC && !mvtec)
        return sl_err(SL_EFORMAT, "%s: not an MVTec-AD category (needs train/good/ and test/)",
                      root);
    int rc;
    if (o->layout == SL_LAYOUT_MVTEC || (o->layout == SL_LAYOUT_AUTO && mvtec)) {
        ds->layout = "mvtec";
        if ((rc = scan_mvtec(ds, o, root)) != SL_OK) return rc;
    } else if (split_dirs) {
        ds->layout = "imagefolder-split";
        const char *want = o->split && strcmp(o->split, "all") ? o->split : NULL;
        if (want && !is_subdir(root, want) && sl_split_parse(want) >= 0)
            return sl_err(SL_ENOTFOUND, "%s: has split folders but no %s/", root, want);
        char dir[4096];
        for (int s = SL_SPLIT_TRAIN; s <= SL_SPLIT_TEST; s++) {
            if (!is_subdir(root, sl_split_name(s))) continue;
            if ((rc = sl_path_join(dir, sizeof dir, root, sl_split_name(s))) != SL_OK ||
                (rc = scan_classes(ds, o, dir, s)) != SL_OK)
                return rc;
        }
        if ((rc = stray_folders(ds, o, root)) != SL_OK) return rc;
    } else {
        ds->layout = "imagefolder";
        if ((rc = scan_classes(ds, o, root, SPLIT_NONE)) != SL_OK) return rc;
    }
    if (ds->n == 0 && !o->allow_empty) {
        if (ds->nprob == 0)
            return sl_err(SL_EFORMAT, "%s: no readable image (PNG, JPEG or BMP): no class folders",
                          root);
        return sl_err(SL_EFORMAT,
                      "%s: no readable image (PNG, JPEG or BMP) in any class folder; %d problem%s, "
                      "the first: %s: %s (`sl-data check %s` lists them all)",
                      root, ds->nprob, ds->nprob == 1 ? "" : "s", ds->problems[0].path,
                      ds->problems[0].reason, root);
    }
    if ((rc = assign_labels(ds)) != SL_OK) return rc;
    if (strcmp(ds->layout, "imagefolder-split") && (rc = ratio_split(ds, o)) != SL_OK) return rc;
    return sl_ds_finish(ds, o->split);
}

int sl_dataset_open(const char *path, const sl_dataset_opts *opts, sl_dataset **out)
{
    *out = NULL;
    sl_dataset_opts def;
    if (!opts) {
        sl_dataset_opts_init(&def);
        opts = &def;
    }
    if (!(opts->val_ratio >= 0 && opts->test_ratio >= 0 && opts->val_ratio + opts->test_ratio <= 1))
        return sl_err(SL_EARG, "split ratios val %g + test %g must lie in [0, 1]", opts->val_ratio,
                      opts->test_ratio);
    if (opts->layout < SL_LAYOUT_AUTO || opts->layout > SL_LAYOUT_MVTEC)
        return sl_err(SL_EARG, "unknown layout %d", opts->layout);
    struct stat st;
    if (stat(path, &st) != 0) return sl_err(SL_EIO, "%s: %s", path, strerror(errno));
    sl_dataset *ds = calloc(1, sizeof *ds);
    if (!ds || !(ds->root = strdup(path))) {
        free(ds);
        return sl_err(SL_ENOMEM, "out of memory opening %s", path);
    }
    int rc;
    if (S_ISDIR(st.st_mode)) {
        rc = open_folder(ds, opts);
    } else if (sl_ds_is_cache_file(path)) {
        ds->layout = "cache";
        rc = sl_ds_open_cache(ds, opts);
    } else {
        rc = sl_err(SL_EFORMAT, "%s: neither a dataset folder nor an sl-data cache", path);
    }
    if (rc != SL_OK) {
        sl_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return SL_OK;
}

void sl_dataset_free(sl_dataset *ds)
{
    if (!ds) return;
    if (ds->is_cache) sl_ds_close_cache(ds);
    free(ds->pixels);
    for (int64_t i = 0; i < ds->n; i++) {
        free(ds->items[i].path);
        free(ds->items[i].class_name);
    }
    free(ds->items);
    if (ds->classes)
        for (int c = 0; c < ds->num_classes; c++)
            free(ds->classes[c]);
    free(ds->classes);
    free(ds->class_counts);
    for (int i = 0; i < ds->nprob; i++) {
        free((char *)ds->problems[i].path);
        free((char *)ds->problems[i].reason);
    }
    free(ds->problems);
    free(ds->root);
    free(ds);
}

int64_t sl_dataset_count(const sl_dataset *ds)
{
    return ds->n;
}
int sl_dataset_num_classes(const sl_dataset *ds)
{
    return ds->num_classes;
}

const char *sl_dataset_class_name(const sl_dataset *ds, int i)
{
    return i >= 0 && i < ds->num_classes ? ds->classes[i] : NULL;
}

int sl_dataset_label(const sl_dataset *ds, int64_t i)
{
    return ds->items[i].label;
}
const char *sl_dataset_path(const sl_dataset *ds, int64_t i)
{
    return ds->items[i].path;
}
int sl_dataset_split_of(const sl_dataset *ds, int64_t i)
{
    return ds->items[i].split;
}

const struct sl_dataset_summary *sl_dataset_summary(const sl_dataset *ds)
{
    return &ds->summary;
}

int sl_dataset_cached_shape(const sl_dataset *ds, int *c, int *h, int *w)
{
    if (!ds->is_cache) return 0;
    *c = ds->cc;
    *h = ds->ch;
    *w = ds->cw;
    return 1;
}

int sl_dataset_cached_row(const sl_dataset *ds, int64_t i, uint8_t *chw)
{
    if (!ds->is_cache || i < 0 || i >= ds->n)
        return sl_err(SL_EARG, "%s: no cached row %lld", ds->root, (long long)i);
    return sl_ds_cache_read(ds, ds->items[i].row, chw);
}

int sl_dataset_image(const sl_dataset *ds, int64_t i, sl_image *out)
{
    if (i < 0 || i >= ds->n) {
        memset(out, 0, sizeof *out);
        return sl_err(SL_EARG, "%s: item %lld out of range (%lld items)", ds->root, (long long)i,
                      (long long)ds->n);
    }
    if (ds->is_cache) return sl_ds_cache_image(ds, ds->items[i].row, out);
    return sl_image_load(ds->items[i].path, out);
}
