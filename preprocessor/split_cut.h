/* split_cut.h: where `sl-preprocess split` cuts a model: its transfer layer, a plan's entry or
 * the tensors given (the policy; split.h does the splitting). */
#ifndef SL_PREPROCESSOR_SPLIT_CUT_H
#define SL_PREPROCESSOR_SPLIT_CUT_H

#include "model/graph.h"
#include "preprocessor/split.h"

/* What the user asked for; any field may be NULL / 0. */
typedef struct sl_cut_request {
    const char *model_path; /* for messages */
    const char *plan;       /* a plan file of sl-preprocess select */
    const char *use;        /* its entry; NULL: best_with_tl for a model with a TL, else best */
    char *const *at;        /* tensors crossing the cut, as given */
    int nat;
} sl_cut_request;

/* Chooses the tensors to split g at. A model with a TL is split at its wire tensor unless `at`
 * is given (a plan cutting elsewhere is warned about); otherwise at the plan's entry or at `at`.
 * On success pc->tensors[0..pc->n) are new strings (free with sl_plan_cut_free, also on
 * failure). Errors: SL_EARG naming the plan entry and why it cannot be split (an edge-only or
 * local-only plan, a plan with a TL for a model without one, nothing given), or those of
 * sl_plan_cut_read; SL_ENOMEM. */
int sl_split_choose_cut(const sl_cut_request *req, const sl_graph *g, sl_plan_cut *pc);

#endif
