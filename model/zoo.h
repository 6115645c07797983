/* zoo.h: model architectures with torchvision's parameter names, so a torchvision state_dict maps
 * onto them key for key: resnet18, resnet34, resnet50, mobilenet_v2, vgg11, vgg16, densenet121,
 * and tinycnn (small enough for unit tests). */
#ifndef SL_MODEL_ZOO_H
#define SL_MODEL_ZOO_H

#include "model/graph.h"

typedef struct sl_zoo_opts {
    int classes;        /* 0 = the architecture's default (1000; tinycnn 10) */
    int64_t c, h, w;    /* input; 0 = the architecture's default (3x224x224; tinycnn 3x64x64) */
    int init;           /* 1 = initialise weights as torchvision does; 0 = zeros */
} sl_zoo_opts;

/* NULL-terminated list of architecture names (static storage). */
const char *const *sl_zoo_names(void);

/* SL_OK when `arch` is a known name, else SL_ENOTFOUND with the error naming the known ones (what
 * sl_zoo_build says). Needs no model runtime. */
int sl_zoo_check_name(const char *arch);

/* Builds architecture `arch` as a validated graph with allocated (and, with o->init, freshly
 * initialised) parameters. The caller frees *out. Unknown names and inputs too small for the
 * architecture are errors. */
int sl_zoo_build(const char *arch, const sl_zoo_opts *o, sl_graph **out);

#endif
