/* checkpoint.h: training checkpoints — weights, optimiser state, best weights and the loop's
 * position in one HDF5 bundle (role "checkpoint"), written atomically after every epoch.
 *
 * Layout (model/bundle.h): the graph and its current weights (batch-norm running statistics
 * included); /train_state, a JSON object with epoch (completed), step, best_metric, best_epoch,
 * bad_epochs, best_acc, best_mse, has_best, seed, optim, batch, tl_stage and graph_hash;
 * /extra/optim/<k>/<state> the optimiser state of trainable tensor k (SGD momentum_buffer; Adam
 * exp_avg, exp_avg_sq, step); /extra/best/<node>/<param> the best-on-validation weights.
 * libtorch's generator needs no saving: the loop reseeds it from (seed, epoch) every epoch.
 */
#ifndef SL_TRAINER_CHECKPOINT_H
#define SL_TRAINER_CHECKPOINT_H

#include "model/graph.h"
#include "trainer/train.h"

/* Every parameter tensor of a graph, in graph order: node and parameter indices. */
typedef struct sl_ckpt_params {
    sl_graph *g; /* borrowed */
    int n;
    int *node, *param;
} sl_ckpt_params;

/* Where the loop stands; `best` holds n copies of the best weights when has_best (owned). */
typedef struct sl_ckpt_state {
    int epoch; /* epochs completed */
    int64_t step;
    double best_metric, best_acc, best_mse;
    int best_epoch, bad_epochs, has_best;
    int nbest;
    sl_tensor **best;
} sl_ckpt_state;

/* Lists g's parameters (g borrowed for ps's life). On error ps is empty. */
int sl_ckpt_params_list(sl_graph *g, sl_ckpt_params *ps);
void sl_ckpt_params_free(sl_ckpt_params *ps);
/* Copies the n tensors `src` (same order as ps) into the graph's parameters, without autograd. */
int sl_ckpt_params_copy(const sl_ckpt_params *ps, sl_tensor *const *src, int into_graph);
/* Stores a copy of the graph's current weights as st's best weights (has_best = 1). */
int sl_ckpt_params_snapshot(const sl_ckpt_params *ps, sl_ckpt_state *st);

/* A fresh state (epoch 0, no best). */
void sl_ckpt_state_init(sl_ckpt_state *st);
/* Frees the best weights; the state can be initialised again. */
void sl_ckpt_state_free(sl_ckpt_state *st);

/* Writes the checkpoint atomically to `path`: on error the previous file stays. `ntrain` is the
 * number of tensors the optimiser `opt` holds. */
int sl_ckpt_save(const char *path, const sl_train_opts *o, const sl_graph *g,
                 const sl_ckpt_params *ps, const sl_optim *opt, int ntrain,
                 const sl_ckpt_state *st);

/* Restores weights, optimiser state and the loop state from the checkpoint at `path` into the
 * graph of ps, `opt` and *st. The checkpoint must come from the same graph structure, seed,
 * optimiser, batch size and TL stage (the message names what differs). A missing, foreign or
 * corrupt file is SL_EIO / SL_EFORMAT with the path in the message. On error the weights may be
 * partly restored: the caller must not go on training. */
int sl_ckpt_load(const char *path, const sl_train_opts *o, const sl_ckpt_params *ps, sl_optim *opt,
                 int ntrain, sl_ckpt_state *st);

#endif
