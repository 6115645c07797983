/* cmd_insert.c: `sl-preprocess insert` — put a transfer layer at a single-tensor cut. */
#include "common/cli.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/status.h"
#include "model/bundle.h"
#include "preprocessor/commands.h"
#include "preprocessor/split.h"
#include "preprocessor/tl.h"

#include <stdio.h>
#include <string.h>

struct opts {
    const char *model, *plan, *use, *at, *tl, *output;
    long r, s, bits, seed;
};

static struct opts A;

static const sl_opt options[] = {
    SL_OPT_STRING(0, "plan", &A.plan, "FILE",
                  "take the cut (and TL, unless --tl is given) from a plan of sl-preprocess\n"
                  "select; the plan must be for this model"),
    SL_OPT_STRING(0, "use", &A.use, "ENTRY", "plan entry: best (default), best_with_tl, best_without_tl"),
    SL_OPT_STRING(0, "at", &A.at, "NODE", "the cut tensor; a wrong name lists the valid cut points"),
    SL_OPT_STRING(0, "tl", &A.tl, "KIND",
                  "pool, conv (with --r/--s/--bits) or an id like conv-r4-s2-b8\n"
                  "(default: the plan's TL, else conv-r4-s2-b8)"),
    SL_OPT_LONG(0, "r", &A.r, "R", 1, 1024, "conv: channel reduction (default 4)"),
    SL_OPT_LONG(0, "s", &A.s, "S", 1, 8, "conv: spatial stride, 1 = none (default 2)"),
    SL_OPT_LONG(0, "bits", &A.bits, "B", 8, 32, "conv: 8 (uint8 wire) or 32 (float wire) (default 8)"),
    SL_OPT_LONG(0, "seed", &A.seed, "N", 0, 1L << 62, "seed for the TL's fresh weights (default 1)"),
    SL_OPT_OUTPUT(&A.output, "the model with the TL (HDF5 bundle)"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_insert_spec = {
    "sl-preprocess insert MODEL.h5 (--plan plan.json | --at NODE) [--tl KIND] -o tl.h5",
    "Insert a transfer layer (TL) at a single-tensor cut (docs/insert-split.md). The TL nodes are\n"
    "named tl.*, carry the roles tl_encoder / tl_decoder, and the graph's \"tl\" object names the\n"
    "cut, the wire tensor and the decoder output (docs/formats/tl.md).",
    options,
    1,
    1,
    "one MODEL.h5",
    "output",
};

/* Parses and checks the options into *o; SL_OPT_CONTINUE, or the exit code (help, usage). */
static int parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.use = "best", .r = -1, .s = -1, .bits = -1, .seed = 1};
    int rc = sl_opt_parse(&sl_cmd_insert_spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    o->model = argv[1];
    if (!o->plan == !o->at) return sl_usage_error("give exactly one of --plan and --at");
    if (o->bits > 0 && o->bits != 8 && o->bits != 32)
        return sl_usage_error("--bits must be 8 or 32");
    return SL_OPT_CONTINUE;
}

/* The TL configuration from --tl/--r/--s/--bits (default conv-r4-s2-b8); an exit code. */
static int config_from(const struct opts *o, sl_tl_config *c)
{
    int knobs = o->r > 0 || o->s > 0 || o->bits > 0;
    const char *kind = o->tl ? o->tl : "conv";
    if (!strcmp(kind, "conv")) {
        *c = (sl_tl_config){SL_TL_CONV, o->r > 0 ? (int)o->r : 4, o->s > 0 ? (int)o->s : 2,
                            o->bits > 0 ? (int)o->bits : 8};
        return SL_EXIT_OK;
    }
    if (knobs) return sl_usage_error("--r, --s and --bits go with --tl conv");
    if (sl_tl_parse_config(kind, c)) return sl_usage_error("%s", sl_errmsg());
    return SL_EXIT_OK;
}

int sl_cmd_insert(int argc, char **argv)
{
    int ex = parse(argc, argv, &A);
    if (ex != SL_OPT_CONTINUE) return ex;
    struct opts o = A;
    if (o.plan && strcmp(o.use, "best_with_tl") && strcmp(o.use, "best") &&
        strcmp(o.use, "best_without_tl"))
        return sl_usage_error("--use: expected best_with_tl, best or best_without_tl");
    sl_tl_config cfg;
    /* Options are checked in full before the (slow) model read; the plan's TL comes later. */
    if ((ex = config_from(&o, &cfg))) return ex;
    /* The plan and the cut are checked on the model's structure, read without its weights, so
     * a refused insertion never loads the model runtime (about 1 s of CPU); then the weights. */
    sl_bundle *b;
    if (sl_bundle_read_structure(o.model, &b)) return sl_fail();
    sl_plan_cut pc = {0};
    int rc = SL_OK;
    if (o.plan && !(rc = sl_plan_cut_read(o.plan, o.use, b->graph, &pc))) {
        if (strcmp(pc.kind, "slice"))
            rc = sl_err(SL_EARG,
                        "%s: %s is a %s plan: there is no slice point to put a TL at "
                        "(--use best_with_tl takes the best plan with a TL)",
                        o.plan, o.use, pc.kind);
        else if (pc.tl[0] && !o.tl && !(o.r > 0 || o.s > 0 || o.bits > 0) &&
                 sl_tl_parse_config(pc.tl, &cfg))
            rc = sl_err_ctx(SL_EFORMAT, "%s: %s.tl: ", o.plan, o.use);
    }
    const char *cut = o.plan ? pc.tensors[0] : o.at;
    if (!rc) rc = sl_tl_check_cut(b->graph, cut);
    if (!rc) {
        sl_bundle_free(b);
        rc = sl_bundle_read(o.model, &b);
    }
    if (!rc) sl_manual_seed((uint64_t)o.seed);
    if (!rc) rc = sl_tl_insert(b->graph, cut, &cfg);
    sl_tl_info info;
    if (!rc) rc = sl_tl_info_get(b->graph, &info);
    if (!rc) {
        strcpy(b->role, "model");
        rc = sl_bundle_write(o.output, b);
    }
    if (!rc) {
        sl_shape cs, ws;
        sl_graph_tensor_shape(b->graph, info.cut, &cs);
        sl_graph_tensor_shape(b->graph, info.wire, &ws);
        double cb = (double)sl_shape_numel(&cs) * 4;
        double wb = (double)sl_shape_numel(&ws) * (cfg.bits == 8 ? 1 : 4);
        sl_log_info("%s at '%s': wire '%s' %lldx%lldx%lld %s, %.0f bytes per image instead of %.0f "
                    "(%.1fx smaller); wrote %s",
                    info.config_name, info.cut, info.wire, (long long)ws.d[0], (long long)ws.d[1],
                    (long long)ws.d[2], cfg.bits == 8 ? "uint8" : "float32", wb, cb, cb / wb,
                    o.output);
    }
    sl_bundle_free(b);
    sl_plan_cut_free(&pc);
    return rc ? sl_fail() : SL_EXIT_OK;
}
