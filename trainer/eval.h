/* eval.h: accuracy, per-class precision / recall and the confusion matrix of a model, or of a
 * device + edge pair run locally with the real wire format (`sl-train eval`).
 *
 * Labels are matched by class name: dataset class "crack" counts as model class "crack" wherever
 * the model lists it. A model without class names must have at least as many outputs as the
 * dataset has classes, and label i is output i.
 */
#ifndef SL_TRAINER_EVAL_H
#define SL_TRAINER_EVAL_H

#include "datasets/dataset.h"
#include "model/graph.h"

#include <stdint.h>
#include <stdio.h>

typedef struct sl_eval_opts {
    int batch;   /* images per forward pass (a pair quantises each batch as one wire message) */
    int workers; /* loader threads */
} sl_eval_opts;

typedef struct sl_eval_result {
    int k;              /* classes (rows and columns of the confusion matrix) */
    char **classes;     /* k names (owned) */
    int64_t n, correct; /* images evaluated, top-1 hits */
    int64_t *confusion; /* k * k counts, [true * k + predicted] (owned) */
    int64_t *pred;      /* n predictions in dataset order (owned) */
    double wire_bytes;  /* pair: mean bytes per image that cross the wire; 0 otherwise */
} sl_eval_result;

/* Evaluates graph g (borrowed) on every image of ds in inference mode. *out (caller frees with
 * sl_eval_result_free) is NULL on error; the message names the image, class or tensor. */
int sl_eval_model(sl_graph *g, sl_dataset *ds, const sl_eval_opts *o, sl_eval_result **out);

/* Same for a device + edge pair: the device graph runs to its outputs (the wire tensors, uint8
 * with scale and zero point for an 8-bit wire), which feed the edge graph's placeholders of the
 * same names. wire_bytes counts the tensor payload per image (1 byte per element for uint8, 4
 * for float32). The pair's classes are the edge graph's. */
int sl_eval_pair(sl_graph *device, sl_graph *edge, sl_dataset *ds, const sl_eval_opts *o,
                 sl_eval_result **out);

void sl_eval_result_free(sl_eval_result *r);

/* Top-1 accuracy (0 for no images). */
double sl_eval_accuracy(const sl_eval_result *r);
/* Precision and recall of class c (0 when undefined: nothing predicted / no support). */
double sl_eval_precision(const sl_eval_result *r, int c);
double sl_eval_recall(const sl_eval_result *r, int c);

/* Writes the accuracy, a per-class table and the confusion matrix as text. */
void sl_eval_print(const sl_eval_result *r, FILE *f);
/* The same as a JSON object in a new string the caller frees; NULL when out of memory. */
char *sl_eval_json(const sl_eval_result *r);

#endif
