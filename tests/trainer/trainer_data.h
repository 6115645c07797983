/* trainer_data.h: a small, reliably learnable image set for the trainer tests.
 *
 * Three classes of 1-channel 32 x 32 PNGs on a noisy grey background: "blob" (a bright 6 x 6
 * square anywhere), "clean" (background only) and "line" (a dark 2-pixel row across). Position
 * and noise are random but fixed by the image number, so every run writes the same files.
 */
#ifndef SL_TESTS_TRAINER_DATA_H
#define SL_TESTS_TRAINER_DATA_H

#include "common/fsutil.h"
#include "common/status.h"
#include "datasets/dataset.h"
#include "datasets/image.h"
#include "datasets/loader.h"
#include "trainer/eval.h"
#include "trainer/train.h"

#include <stdint.h>
#include <stdio.h>

static inline uint32_t td_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 33);
}

/* Writes root/<split>/<class>/<k>.png for split train (n_train per class) and val (n_val).
 * Returns 0 on success. */
static inline int td_write(const char *root, int n_train, int n_val)
{
    static const char *const cls[3] = {"blob", "clean", "line"};
    const char *splits[2] = {"train", "val"};
    int counts[2] = {n_train, n_val};
    uint8_t px[32 * 32];
    char dir[1024], path[1100];
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < 3; c++) {
            snprintf(dir, sizeof dir, "%s/%s/%s", root, splits[s], cls[c]);
            if (sl_mkdir_p(dir)) return -1;
            for (int k = 0; k < counts[s]; k++) {
                uint64_t st = (uint64_t)(s * 100000 + c * 1000 + k) * 2654435761ULL + 7;
                for (int i = 0; i < 32 * 32; i++)
                    px[i] = (uint8_t)(90 + td_rand(&st) % 41);
                int x = (int)(td_rand(&st) % 26), y = (int)(td_rand(&st) % 26);
                if (c == 0)
                    for (int dy = 0; dy < 6; dy++)
                        for (int dx = 0; dx < 6; dx++)
                            px[(y + dy) * 32 + x + dx] = 230;
                if (c == 2)
                    for (int i = 0; i < 32; i++)
                        px[y * 32 + i] = px[(y + 1) * 32 + i] = 15;
                snprintf(path, sizeof path, "%s/%03d.png", dir, k);
                if (sl_png_write(path, 32, 32, 1, px)) return -1;
            }
        }
    return 0;
}

/* The test's fresh folder and the image set inside it (td_setup). */
static char td_root[600], td_data[700];

/* Takes the fresh folder dir as td_root and writes the image set to td_data with n_train and
 * n_val images per class. Returns 0, or 1 after saying why on stderr. */
static inline int td_setup(const char *dir, int n_train, int n_val)
{
    snprintf(td_root, sizeof td_root, "%s", dir);
    snprintf(td_data, sizeof td_data, "%s/data", td_root);
    if (td_write(td_data, n_train, n_val)) {
        fprintf(stderr, "cannot write the test images: %s\n", sl_errmsg());
        return 1;
    }
    return 0;
}

/* td_root/name into buf (800 bytes). */
static inline void td_path(char *buf, const char *name)
{
    snprintf(buf, 800, "%s/%s", td_root, name);
}

/* The options every trainer test starts from: the image set, 1 x 32 x 32 input, batch 16, two
 * threads, one loader worker, the model written to out. */
static inline void td_opts(sl_train_opts *o, const char *out)
{
    sl_train_opts_init(o);
    o->data = td_data;
    o->in_c = 1;
    o->in_h = o->in_w = 32;
    o->batch = 16;
    o->threads = 2;
    o->workers = 1;
    o->out = out;
}

/* The tinycnn base the trainer tests train: td_opts with 8 epochs of SGD at lr 0.05 on a cosine
 * schedule, written to out. */
static inline void td_base_opts(sl_train_opts *o, const char *out)
{
    td_opts(o, out);
    o->arch = "tinycnn";
    o->epochs = 8;
    o->lr = 0.05;
    o->schedule = SL_SCHED_COSINE;
}

/* TL stage 2 as the TL tests run it: from the stage-1 model `model`, distillation (T 4, alpha
 * 0.5) from `teacher`, written to out; epochs, lr and the rest as td_opts (the caller sets
 * them). */
static inline void td_stage2_opts(sl_train_opts *o, const char *out, const char *model,
                                  const char *teacher)
{
    td_opts(o, out);
    o->model = model;
    o->tl_stage = 2;
    o->tl_teacher = teacher;
    o->distill_t = 4;
    o->alpha = 0.5;
}

/* The val split of td_data: caller frees with sl_dataset_free; NULL (message in sl_errmsg()) on
 * failure. */
static inline sl_dataset *td_open_val(void)
{
    sl_dataset_opts d;
    sl_dataset_opts_init(&d);
    d.split = "val";
    sl_dataset *ds = NULL;
    return sl_dataset_open(td_data, &d, &ds) ? NULL : ds;
}

/* The top-1 accuracy of g on the val split, evaluated `batch` images at a time; -1 when the
 * split cannot be opened or evaluated. */
static inline double td_val_accuracy(sl_graph *g, int batch)
{
    sl_dataset *ds = td_open_val();
    sl_eval_result *r = NULL;
    sl_eval_opts eo = {.batch = batch, .workers = 1};
    double acc = -1;
    if (ds && !sl_eval_model(g, ds, &eo, &r)) acc = sl_eval_accuracy(r);
    sl_eval_result_free(r);
    sl_dataset_free(ds);
    return acc;
}

/* A loader over ds (borrowed; NULL gives NULL) in file order, `batch` images at a time,
 * normalised as the 1 x 32 x 32 input of a model with this mean and std; caller frees with
 * sl_loader_free. NULL on failure. */
static inline sl_loader *td_val_loader(sl_dataset *ds, float mean, float std, int batch)
{
    sl_loader_opts lo;
    sl_loader_opts_init(&lo);
    lo.spec.c = 1;
    lo.spec.h = lo.spec.w = 32;
    lo.spec.mean[0] = mean;
    lo.spec.std[0] = std;
    lo.batch = batch;
    lo.shuffle = 0;
    lo.threads = 0;
    sl_loader *l = NULL;
    return ds && sl_loader_new(ds, &lo, &l) == SL_OK ? l : NULL;
}

#endif
