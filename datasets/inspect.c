/* inspect.c: dataset statistics and problem reports as JSON (sl-data stats / check). */
#include "datasets/inspect.h"

#include "common/progress.h"
#include "common/status.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIZES 16

typedef struct {
    int w, h, c;
    int64_t n;
} size_count;

typedef struct {
    const sl_dataset *ds;
    int use_split; /* -1 = every item feeds mean/std */
    pthread_mutex_t mu;
    int64_t next, done;
    double sum[3], sumsq[3];
    int64_t pixels;
    size_count sizes[MAX_SIZES];
    int nsizes;
    int64_t other_sizes;
    int rc;
    char msg[512];
    sl_progress *progress; /* updated under mu */
} stats_job;

static void *stats_worker(void *arg)
{
    stats_job *j = arg;
    int64_t n = sl_dataset_count(j->ds);
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int64_t i = j->rc == SL_OK && j->next < n ? j->next++ : -1;
        pthread_mutex_unlock(&j->mu);
        if (i < 0) return NULL;
        sl_image img;
        int rc = sl_dataset_image(j->ds, i, &img);
        double s[3] = {0, 0, 0}, q[3] = {0, 0, 0};
        int use = j->use_split < 0 || sl_dataset_split_of(j->ds, i) == j->use_split;
        size_t np = rc == SL_OK ? (size_t)img.w * img.h : 0;
        for (size_t p = 0; use && p < np; p++)
            for (int k = 0; k < 3; k++) {
                double v = img.data[p * img.c + (img.c == 3 ? k : 0)] / 255.0;
                s[k] += v;
                q[k] += v * v;
            }
        pthread_mutex_lock(&j->mu);
        if (rc != SL_OK) {
            if (j->rc == SL_OK) {
                j->rc = rc;
                snprintf(j->msg, sizeof j->msg, "%s", sl_errmsg());
            }
        } else {
            if (use) {
                for (int k = 0; k < 3; k++) {
                    j->sum[k] += s[k];
                    j->sumsq[k] += q[k];
                }
                j->pixels += (int64_t)np;
            }
            int found = 0;
            for (int t = 0; t < j->nsizes && !found; t++)
                if (j->sizes[t].w == img.w && j->sizes[t].h == img.h && j->sizes[t].c == img.c) {
                    j->sizes[t].n++;
                    found = 1;
                }
            if (!found && j->nsizes < MAX_SIZES)
                j->sizes[j->nsizes++] = (size_count){img.w, img.h, img.c, 1};
            else if (!found)
                j->other_sizes++;
        }
        j->done++;
        sl_progress_update(j->progress, (uint64_t)j->done, NULL);
        pthread_mutex_unlock(&j->mu);
        sl_image_free(&img);
    }
}

static cJSON *class_counts(const sl_dataset *ds, int split)
{
    cJSON *o = cJSON_CreateObject();
    int nc = sl_dataset_num_classes(ds);
    int64_t *cnt = calloc((size_t)nc + 1, sizeof *cnt);
    for (int64_t i = 0; cnt && i < sl_dataset_count(ds); i++)
        if (split < 0 || sl_dataset_split_of(ds, i) == split) cnt[sl_dataset_label(ds, i)]++;
    for (int c = 0; c < nc; c++)
        cJSON_AddNumberToObject(o, sl_dataset_class_name(ds, c), cnt ? (double)cnt[c] : 0);
    free(cnt);
    return o;
}

static int emit(cJSON *root, char **json)
{
    *json = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return *json ? SL_OK : sl_err(SL_ENOMEM, "out of memory building JSON");
}

int sl_dataset_stats_json(const sl_dataset *ds, int threads, char **json)
{
    *json = NULL;
    int64_t n = sl_dataset_count(ds);
    stats_job j;
    memset(&j, 0, sizeof j);
    pthread_mutex_init(&j.mu, NULL);
    j.ds = ds;
    j.use_split = -1;
    for (int64_t i = 0; i < n; i++)
        if (sl_dataset_split_of(ds, i) == SL_SPLIT_TRAIN) j.use_split = SL_SPLIT_TRAIN;
    int nt = threads < 1 ? 1 : threads > 64 ? 64 : threads;
    pthread_t tid[64];
    int started = 0;
    j.progress = sl_progress_start("reading", (uint64_t)n);
    for (int i = 1; i < nt; i++)
        if (pthread_create(&tid[started], NULL, stats_worker, &j) == 0) started++;
    stats_worker(&j);
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    sl_progress_done(j.progress, j.rc == SL_OK ? NULL : "failed");
    pthread_mutex_destroy(&j.mu);
    if (j.rc != SL_OK) return sl_err(j.rc, "%s", j.msg);

    const struct sl_dataset_summary *s = sl_dataset_summary(ds);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "root", s->root);
    cJSON_AddStringToObject(root, "layout", s->layout);
    cJSON_AddNumberToObject(root, "count", (double)n);
    cJSON *cl = cJSON_AddArrayToObject(root, "classes");
    for (int c = 0; c < sl_dataset_num_classes(ds); c++)
        cJSON_AddItemToArray(cl, cJSON_CreateString(sl_dataset_class_name(ds, c)));
    cJSON *counts = cJSON_AddObjectToObject(root, "counts");
    for (int sp = SL_SPLIT_TRAIN; sp <= SL_SPLIT_TEST; sp++) {
        int any = 0;
        for (int64_t i = 0; i < n && !any; i++)
            any = sl_dataset_split_of(ds, i) == sp;
        if (any) cJSON_AddItemToObject(counts, sl_split_name(sp), class_counts(ds, sp));
    }
    cJSON_AddItemToObject(counts, "all", class_counts(ds, -1));
    cJSON *sizes = cJSON_AddArrayToObject(root, "sizes");
    for (int t = 0; t < j.nsizes; t++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "width", j.sizes[t].w);
        cJSON_AddNumberToObject(e, "height", j.sizes[t].h);
        cJSON_AddNumberToObject(e, "channels", j.sizes[t].c);
        cJSON_AddNumberToObject(e, "count", (double)j.sizes[t].n);
        cJSON_AddItemToArray(sizes, e);
    }
    if (j.other_sizes) cJSON_AddNumberToObject(root, "other_sizes", (double)j.other_sizes);
    double mean[3], std[3];
    for (int k = 0; k < 3; k++) {
        double px = j.pixels ? (double)j.pixels : 1;
        mean[k] = j.sum[k] / px;
        double var = j.sumsq[k] / px - mean[k] * mean[k];
        std[k] = var > 0 ? sqrt(var) : 0;
        /* four decimals are what a config needs and keep the JSON readable */
        mean[k] = floor(mean[k] * 1e4 + 0.5) / 1e4;
        std[k] = floor(std[k] * 1e4 + 0.5) / 1e4;
    }
    cJSON_AddStringToObject(root, "mean_std_over", j.use_split < 0 ? "all" : "train");
    cJSON_AddItemToObject(root, "mean", cJSON_CreateDoubleArray(mean, 3));
    cJSON_AddItemToObject(root, "std", cJSON_CreateDoubleArray(std, 3));
    cJSON_AddNumberToObject(root, "problems", s->num_problems);
    return emit(root, json);
}

int sl_dataset_check_json(const sl_dataset *ds, char **json)
{
    const struct sl_dataset_summary *s = sl_dataset_summary(ds);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "root", s->root);
    cJSON_AddStringToObject(root, "layout", s->layout);
    cJSON_AddNumberToObject(root, "count", (double)s->count);
    cJSON_AddItemToObject(root, "classes", class_counts(ds, -1));
    cJSON *pr = cJSON_AddArrayToObject(root, "problems");
    for (int i = 0; i < s->num_problems; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "path", s->problems[i].path);
        cJSON_AddStringToObject(e, "reason", s->problems[i].reason);
        cJSON_AddItemToArray(pr, e);
    }
    return emit(root, json);
}
