/* split_cut.c: the cut policy of `sl-preprocess split` (see split_cut.h). */
#include "preprocessor/split_cut.h"
#include "common/log.h"
#include "common/status.h"
#include "preprocessor/tl.h"

#include <stdlib.h>
#include <string.h>

/* Replaces pc's tensors with copies of the n names. */
static int set_tensors(sl_plan_cut *pc, const char *const *names, int n)
{
    sl_plan_cut_free(pc);
    pc->tensors = calloc((size_t)n, sizeof *pc->tensors);
    if (!pc->tensors) return sl_err(SL_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        if (!(pc->tensors[i] = strdup(names[i]))) return sl_err(SL_ENOMEM, "out of memory");
        pc->n = i + 1;
    }
    return SL_OK;
}

int sl_split_choose_cut(const sl_cut_request *req, const sl_graph *g, sl_plan_cut *pc)
{
    sl_tl_info tl;
    int has_tl = sl_tl_info_get(g, &tl) == SL_OK;
    if (req->plan) {
        const char *use = req->use ? req->use : has_tl ? "best_with_tl" : "best";
        int rc = sl_plan_cut_read(req->plan, use, g, pc);
        if (rc) return rc;
        if (!has_tl && strcmp(pc->kind, "slice") && strcmp(pc->kind, "dads"))
            return sl_err(SL_EARG,
                          "%s: %s is a %s plan: there is nothing to split (--use "
                          "best_split_without_tl or dads pick a real slice)",
                          req->plan, use, pc->kind);
        if (!has_tl && pc->tl[0])
            return sl_err(
                SL_EARG,
                "%s: %s puts a %s transfer layer at '%s', but %s has no transfer "
                "layer: run sl-preprocess insert first, or use --use best_split_without_tl",
                req->plan, use, pc->tl, pc->tensors[0], req->model_path);
        if (has_tl && (pc->n != 1 || strcmp(pc->tensors[0], tl.cut)))
            sl_log_warn("%s: %s cuts at '%s', but the model's transfer layer is at '%s'; splitting "
                        "at the transfer layer",
                        req->plan, use, pc->tensors[0], tl.cut);
    }
    if (req->nat) return set_tensors(pc, (const char *const *)req->at, req->nat);
    if (has_tl) {
        const char *wire = tl.wire;
        return set_tensors(pc, &wire, 1);
    }
    if (!req->plan)
        return sl_err(SL_EARG, "%s has no transfer layer: give --plan or --at to say where to cut",
                      req->model_path);
    return SL_OK;
}
