/* cmd_split.c: `sl-preprocess split` — paired device and edge bundles from a model. */
#include "common/cli.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/status.h"
#include "model/bundle.h"
#include "preprocessor/commands.h"
#include "preprocessor/split.h"
#include "preprocessor/split_cut.h"
#include "preprocessor/split_pair.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct opts {
    const char *model, *plan, *use, *dir, *device, *edge;
    sl_list at;
    int json;
};

static struct opts A;

static const sl_opt options[] = {
    SL_OPT_STRING(0, "plan", &A.plan, "FILE", "the cut of a plan of sl-preprocess select (made for this model)"),
    SL_OPT_STRING(0, "use", &A.use, "ENTRY",
                  "plan entry: best, best_with_tl, best_without_tl, best_split_without_tl,\n"
                  "dads (DADS partition),\n"
                  "dads_throughput (default: best_with_tl for a model with a TL, else best)"),
    SL_OPT_LIST(0, "at", &A.at, "T1,T2,...", 1024, "every tensor that crosses the cut"),
    SL_OPT_STRING('o', "output", &A.dir, "DIR", "write DIR/device.h5 and DIR/edge.h5"),
    SL_OPT_STRING(0, "device", &A.device, "FILE", "the device bundle path"),
    SL_OPT_STRING(0, "edge", &A.edge, "FILE", "the edge bundle path"),
    SL_OPT_FLAG(0, "json", &A.json, "print the pair id and wire description as JSON on stdout"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_split_spec = {
    "sl-preprocess split MODEL.h5 [--plan plan.json | --at TENSOR[,TENSOR...]]\n"
    "                    (-o DIR | --device device.h5 --edge edge.h5)",
    "Split a model into device.h5 (input .. cut, TL encoder and quantiser) and edge.h5\n"
    "(placeholders for the wire tensors, dequantiser, TL decoder, cut .. outputs) with a shared\n"
    "pair id and wire description (docs/insert-split.md, docs/formats/wire.md). A model with a\n"
    "transfer layer is split at its wire tensor; without one, at the plan's cut or at the\n"
    "tensors given, which must separate the input from the outputs (a DAG cut may have several).",
    options,
    1,
    1,
    "one MODEL.h5",
    NULL,
};

/* Parses and checks the options into *o; SL_OPT_CONTINUE, or the exit code (help, usage). */
static int parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){0};
    int rc = sl_opt_parse(&sl_cmd_split_spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    o->model = argv[1];
    if (o->plan && o->at.n) return sl_usage_error("give --plan or --at, not both");
    if (o->use && !o->plan) return sl_usage_error("--use goes with --plan");
    if (!o->dir == !(o->device || o->edge))
        return sl_usage_error("give -o DIR, or --device FILE and --edge FILE");
    if (!o->dir && (!o->device || !o->edge))
        return sl_usage_error("--device and --edge go together");
    if (!o->dir && !strcmp(o->device, o->edge))
        return sl_usage_error("--device and --edge name the same file");
    return SL_OPT_CONTINUE;
}

/* The two paths the halves go to, from -o DIR or --device/--edge; DIR is created. */
static int pair_paths(const struct opts *o, char *dpath, char *epath, size_t n)
{
    int rc;
    if (!o->dir) {
        snprintf(dpath, n, "%s", o->device);
        snprintf(epath, n, "%s", o->edge);
        return SL_OK;
    }
    if ((rc = sl_mkdir_p(o->dir))) return rc;
    if ((rc = sl_path_join(dpath, n, o->dir, "device.h5")) ||
        (rc = sl_path_join(epath, n, o->dir, "edge.h5")))
        return rc;
    return SL_OK;
}

int sl_cmd_split(int argc, char **argv)
{
    int ex = parse(argc, argv, &A);
    if (ex != SL_OPT_CONTINUE) {
        sl_list_free(&A.at);
        return ex;
    }
    struct opts o = A;
    sl_bundle *b, *d = NULL, *e = NULL;
    /* The cut is chosen and checked on the model's structure, read without its weights, so a
     * refused split never loads the model runtime (about 1 s of CPU); then the weights. */
    if (sl_bundle_read_structure(o.model, &b)) {
        sl_list_free(&o.at);
        return sl_fail();
    }
    sl_plan_cut pc = {0};
    char dpath[4096], epath[4096];
    sl_cut_request req = {o.model, o.plan, o.use, o.at.items, o.at.n};
    int rc = sl_split_choose_cut(&req, b->graph, &pc);
    if (!rc) rc = sl_split_check(b->graph, (const char *const *)pc.tensors, pc.n);
    if (!rc) {
        sl_bundle_free(b);
        rc = sl_bundle_read(o.model, &b);
    }
    if (!rc) rc = sl_split(b->graph, (const char *const *)pc.tensors, pc.n, &d, &e);
    if (!rc) rc = pair_paths(&o, dpath, epath, sizeof dpath);
    if (!rc) rc = sl_split_pair_write(dpath, epath, d, e);
    if (!rc) {
        cJSON *w = cJSON_Parse(d->wire_json);
        if (o.json) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "device", dpath);
            cJSON_AddStringToObject(r, "edge", epath);
            cJSON_AddStringToObject(r, "pair_id", d->pair_id);
            cJSON_AddNumberToObject(r, "device_nodes", d->graph->nnodes);
            cJSON_AddNumberToObject(r, "edge_nodes", e->graph->nnodes);
            cJSON_AddItemToObject(r, "wire", w);
            w = NULL;
            char *txt = cJSON_Print(r);
            if (txt) puts(txt);
            free(txt);
            cJSON_Delete(r);
        } else {
            printf("pair id %s: %s (%d nodes) -> %s (%d nodes), %.0f bytes per image over",
                   d->pair_id, dpath, d->graph->nnodes, epath, e->graph->nnodes,
                   (double)d->wire->bytes_per_image); /* parsed and checked by sl_split */
            for (int i = 0; i < pc.n; i++)
                printf("%s %s", i ? "," : "", pc.tensors[i]);
            printf("\n");
        }
        cJSON_Delete(w);
    }
    sl_bundle_free(d);
    sl_bundle_free(e);
    sl_bundle_free(b);
    sl_plan_cut_free(&pc);
    sl_list_free(&o.at);
    return rc ? sl_fail() : SL_EXIT_OK;
}
