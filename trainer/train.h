/* train.h: training a model bundle on a dataset, and fine-tuning its transfer layer (TL).
 *
 * One call, sl_train_fit(), does what `sl-train fit` does: open the dataset (train view plus a
 * validation view), build or read the model, freeze what the options and the TL stage say, then
 * run epochs of seeded, shuffled mini-batches with SGD or Adam, a learning-rate schedule,
 * validation after each epoch, best-on-validation weights, early stopping, an atomic checkpoint
 * per epoch and a JSON-lines log.
 *
 * Determinism. The loader's order and augmentation depend only on (seed, epoch, index), and
 * libtorch's generator is reseeded from (seed, epoch) at the start of every epoch, so a run
 * resumed from the checkpoint of epoch e gives bit-identical weights to an uninterrupted run
 * with the same options and thread count.
 *
 * Efficiency. Nodes whose parameters are all frozen before the last single-tensor cut that has
 * only frozen ancestors form a prefix that runs once per batch in inference mode (batch norm
 * folded, no autograd); only the rest runs with gradients. TL stage 1 stops at the decoder
 * output: the tail of the model is never run.
 *
 * Validation after each epoch runs one of two inference paths (docs/trainer.md, "Validation's
 * inference path"): the compiled path (frozen, optimised TorchScript modules with batch norm
 * folded) is planned afresh every epoch, since the weights changed, and costs a compile; the
 * plain path (node by node, reading the live weights) is planned once per run. By default
 * (SL_VAL_AUTO) a pass over fewer than SL_VAL_COMPILE_PIXELS input pixels (images x H x W) runs
 * plain, a larger one compiles. The two agree to float rounding (accuracy equal, loss and MSE
 * within 1e-4 relative in tests/trainer/test_val_exec.c).
 */
#ifndef SL_TRAINER_TRAIN_H
#define SL_TRAINER_TRAIN_H

#include "datasets/loader.h"
#include "model/graph.h"

#include <stdint.h>

enum { SL_OPTIM_SGD = 0, SL_OPTIM_ADAM = 1 };
enum { SL_SCHED_NONE = 0, SL_SCHED_STEP = 1, SL_SCHED_COSINE = 2 };
enum { SL_VAL_AUTO = 0, SL_VAL_COMPILED = 1, SL_VAL_PLAIN = 2 };
/* SL_VAL_AUTO compiles validation's plan when a pass covers at least this many input pixels
 * (256 images at 32 x 32, 64 at 64 x 64, 16 at 128 x 128): the measured break-even of the compile
 * against the plain path's slower batches (docs/benchmarks.md, "Training"). */
#define SL_VAL_COMPILE_PIXELS (256 * 1024)

typedef struct sl_train_opts {
    const char *data;         /* dataset folder or cache (.h5) */
    const char *model;        /* bundle to start from, or NULL to build `arch` from scratch */
    const char *arch;         /* zoo architecture when model is NULL */
    int classes;              /* with arch: class count (0 = the dataset's); checked otherwise */
    int64_t in_c, in_h, in_w; /* with arch: input size; 0 = the data's (a cache's stored shape,
                               * else the first training image's size and channels) */
    int nmean, nstd;          /* with arch: how many of mean/std are given (0 = the zoo's;
                               * 1 = the same for every channel; else one per channel) */
    float mean[4], std[4];    /* normalisation stored in the model: (v/255 - mean) / std */
    const char *out;          /* output bundle: the best-on-validation weights */
    int epochs;               /* total epochs of the run */
    int stop_after;           /* stop after this many epochs in this call (0 = no limit) */
    int batch;
    int epoch_images; /* images drawn per epoch (a fresh shuffle each epoch), 0 = the whole set */
    double lr;
    int optim; /* SL_OPTIM_* */
    double momentum, weight_decay;
    int nesterov;
    int schedule;  /* SL_SCHED_* */
    int step_size; /* step schedule: epochs between decays */
    double gamma;  /* step schedule: decay factor */
    int warmup;    /* epochs of linear warm-up (per step) before the schedule */
    double label_smoothing;
    uint64_t seed;
    int threads;            /* libtorch intra-op threads */
    int workers;            /* loader prefetch threads */
    const char *freeze;     /* comma-separated fnmatch patterns on node names, or NULL */
    double val_split;       /* flat datasets: fraction held out for validation (0 = none) */
    const char *val;        /* a separate validation dataset, or NULL */
    int patience;           /* early stopping after this many epochs without improvement; 0 = off */
    const char *checkpoint; /* written atomically after every epoch, or NULL */
    const char *resume;     /* checkpoint to continue from, or NULL */
    const char *log;        /* JSON-lines metrics log, or NULL */
    sl_augment augment;
    int tl_stage;             /* 0 = ordinary training, 1 or 2 = TL stages */
    const char *tl_teacher;   /* the bundle the TL was inserted into (distillation teacher) */
    const char *tl_stages_at; /* stage 1: comma-separated later tensors also matched (MSE) */
    double distill_t;         /* stage 2: distillation temperature; 0 = task loss only */
    double alpha;             /* stage 2: weight of the distillation loss (1 - alpha: task loss) */
    int val_exec;             /* validation's inference path: SL_VAL_* (default auto) */
} sl_train_opts;

/* Defaults: tinycnn, 10 epochs, batch 32, lr 0.01, SGD momentum 0.9, no weight decay, no
 * schedule, step size 10, gamma 0.1, seed 1, 2 threads, 2 workers, val split 0.15, alpha 0.5. */
void sl_train_opts_init(sl_train_opts *o);

typedef struct sl_train_result {
    int epochs_run;      /* epochs completed, counting those before a resume */
    int best_epoch;      /* 1-based epoch whose weights were written */
    double best_val_acc; /* validation accuracy of those weights (-1 without validation) */
    double best_val_mse; /* stage 1: validation reconstruction MSE of those weights */
    double first_loss;   /* mean training loss of the first epoch run in this call */
    double last_loss;    /* mean training loss of the last epoch */
    double images_per_s; /* training throughput of this call */
    int stopped_early;
} sl_train_result;

/* Runs the training that `o` describes and writes o->out (and o->checkpoint, o->log). Prints a
 * progress line per epoch (common/progress.h). `res` (may be NULL) receives the figures above.
 * Returns SL_OK or a status with a message naming the file, option, node or tensor at fault;
 * on error o->out is not written (an earlier checkpoint stays valid). */
int sl_train_fit(const sl_train_opts *o, sl_train_result *res);

/* The learning rate of step `step` (0-based within the epoch) of epoch `epoch` (0-based) of an
 * epoch with `steps` steps, under o's lr, schedule and warm-up. */
double sl_train_lr(const sl_train_opts *o, int epoch, int64_t step, int64_t steps);

/* 1 when validation with options o compiles its plan for a pass over `images` images of
 * h x w pixels, 0 when it runs the plain path (o->val_exec, else the SL_VAL_COMPILE_PIXELS
 * rule). */
int sl_train_val_compiles(const sl_train_opts *o, int64_t images, int64_t h, int64_t w);

/* Marks in frozen[] (one byte per node of g, 1 = frozen) every node whose name matches one of
 * the comma-separated fnmatch patterns; other bytes are left as they are. A pattern that matches
 * no node is an error naming it (SL_ENOTFOUND); on error frozen[] is unchanged. */
int sl_train_freeze_patterns(const sl_graph *g, const char *patterns, unsigned char *frozen);

/* ---- step by step (benchmarks, embedding) ---------------------------------------------- */

typedef struct sl_trainer sl_trainer;

/* A trainer for validated graph g with allocated parameters (borrowed; it must outlive the
 * trainer) under options o (borrowed likewise; data, model, out, log, checkpoint and resume are
 * not used): freezing, TL stage, frozen-prefix plan and optimiser as sl_train_fit sets them up.
 * The caller frees *out with sl_trainer_free; on error *out is NULL and g's parameters keep
 * their values. */
int sl_trainer_new(sl_graph *g, const sl_train_opts *o, sl_trainer **out);

/* One optimisation step on n images x (n*C*H*W normalised floats, NCHW) with labels y (class
 * indices; unused by TL stage 1) at the optimiser's current learning rate (o->lr). *loss (may
 * be NULL) gets the step's loss. On error the weights may be partly updated. */
int sl_trainer_step(sl_trainer *t, const float *x, const int64_t *y, int n, double *loss);

void sl_trainer_free(sl_trainer *t);

#endif
