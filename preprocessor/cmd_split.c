/* cmd_split.c: `sl-preprocess split` — paired device and edge bundles from a model. */
#include "common/cli.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/status.h"
#include "model/bundle.h"
#include "preprocessor/commands.h"
#include "preprocessor/split.h"
#include "preprocessor/tl.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
    "usage: sl-preprocess split MODEL.h5 [--plan plan.json | --at TENSOR[,TENSOR...]]\n"
    "                           (-o DIR | --device device.h5 --edge edge.h5)\n"
    "\n"
    "Split a model into device.h5 (input .. cut, TL encoder and quantiser) and edge.h5\n"
    "(placeholders for the wire tensors, dequantiser, TL decoder, cut .. outputs) with a shared\n"
    "pair id and wire description (docs/insert-split.md, docs/formats/wire.md). A model with a\n"
    "transfer layer is split at its wire tensor; without one, at the plan's cut or at the\n"
    "tensors given, which must separate the input from the outputs (a DAG cut may have several).\n"
    "  --plan FILE      the cut of a plan of sl-preprocess select (made for this model)\n"
    "  --use ENTRY      plan entry: best, best_with_tl, best_without_tl, best_split_without_tl,\n"
    "                   dads (DADS partition),\n"
    "                   dads_throughput (default: best_with_tl for a model with a TL, else best)\n"
    "  --at T1,T2,...   every tensor that crosses the cut\n"
    "  -o, --output DIR write DIR/device.h5 and DIR/edge.h5\n"
    "  --device F       the device bundle path\n"
    "  --edge F         the edge bundle path\n"
    "  --json           print the pair id and wire description as JSON on stdout\n";

struct opts {
    const char *model, *plan, *use, *at, *dir, *device, *edge;
    int json;
};

static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"plan", required_argument, 0, 'p'},   {"use", required_argument, 0, 'u'},
        {"at", required_argument, 0, 'a'},     {"output", required_argument, 0, 'o'},
        {"device", required_argument, 0, 'd'}, {"edge", required_argument, 0, 'e'},
        {"json", no_argument, 0, 'j'},         {0, 0, 0, 0}};
    *o = (struct opts){0};
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:", lo, NULL)) != -1) {
        switch (c) {
        case 'p':
            o->plan = optarg;
            break;
        case 'u':
            o->use = optarg;
            break;
        case 'a':
            o->at = optarg;
            break;
        case 'o':
            o->dir = optarg;
            break;
        case 'd':
            o->device = optarg;
            break;
        case 'e':
            o->edge = optarg;
            break;
        case 'j':
            o->json = 1;
            break;
        case ':':
            return sl_usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return sl_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return sl_usage_error("expected one MODEL.h5");
    o->model = argv[optind];
    if (o->plan && o->at) return sl_usage_error("give --plan or --at, not both");
    if (o->use && !o->plan) return sl_usage_error("--use goes with --plan");
    if (!o->dir == !(o->device || o->edge))
        return sl_usage_error("give -o DIR, or --device FILE and --edge FILE");
    if (!o->dir && (!o->device || !o->edge))
        return sl_usage_error("--device and --edge go together");
    if (!o->dir && !strcmp(o->device, o->edge))
        return sl_usage_error("--device and --edge name the same file");
    return SL_EXIT_OK;
}

/* Splits "a,b,c" into a new array of new strings; *n receives the count. */
static char **split_list(const char *s, int *n)
{
    int cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    char **v = calloc((size_t)cap, sizeof *v);
    *n = 0;
    if (!v) return NULL;
    const char *start = s;
    for (;;) {
        const char *end = strchr(start, ',');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (len && !(v[(*n)++] = strndup(start, len))) break;
        if (!end) return v;
        start = end + 1;
    }
    for (int i = 0; i < *n; i++)
        free(v[i]);
    free(v);
    return NULL;
}

/* The tensors to split at, per the options and the model's TL (new strings in pc). */
static int choose_cut(const struct opts *o, const sl_graph *g, sl_plan_cut *pc)
{
    sl_tl_info tl;
    int has_tl = sl_tl_info_get(g, &tl) == SL_OK;
    if (o->plan) {
        const char *use = o->use ? o->use : has_tl ? "best_with_tl" : "best";
        int rc = sl_plan_cut_read(o->plan, use, g, pc);
        if (rc) return rc;
        if (!has_tl && strcmp(pc->kind, "slice") && strcmp(pc->kind, "dads"))
            return sl_err(SL_EARG,
                          "%s: %s is a %s plan: there is nothing to split (--use "
                          "best_split_without_tl or dads pick a real slice)",
                          o->plan, use, pc->kind);
        if (!has_tl && pc->tl[0])
            return sl_err(
                SL_EARG,
                "%s: %s puts a %s transfer layer at '%s', but %s has no transfer "
                "layer: run sl-preprocess insert first, or use --use best_split_without_tl",
                o->plan, use, pc->tl, pc->tensors[0], o->model);
        if (has_tl && (pc->n != 1 || strcmp(pc->tensors[0], tl.cut)))
            sl_log_warn("%s: %s cuts at '%s', but the model's transfer layer is at '%s'; splitting "
                        "at the transfer layer",
                        o->plan, use, pc->tensors[0], tl.cut);
    }
    if (has_tl && !o->at) {
        sl_plan_cut_free(pc);
        pc->n = 1;
        pc->tensors = calloc(1, sizeof *pc->tensors);
        if (!pc->tensors || !(pc->tensors[0] = strdup(tl.wire)))
            return sl_err(SL_ENOMEM, "out of memory");
        return SL_OK;
    }
    if (o->at) {
        if (!(pc->tensors = split_list(o->at, &pc->n)) || !pc->n)
            return sl_err(SL_EARG, "--at: expected tensor names separated by commas");
        return SL_OK;
    }
    if (!o->plan)
        return sl_err(SL_EARG, "%s has no transfer layer: give --plan or --at to say where to cut",
                      o->model);
    return SL_OK;
}

static int write_pair(const struct opts *o, const sl_bundle *d, const sl_bundle *e, char *dpath,
                      char *epath, size_t n)
{
    int rc = SL_OK;
    if (o->dir) {
        if ((rc = sl_mkdir_p(o->dir))) return rc;
        if ((rc = sl_path_join(dpath, n, o->dir, "device.h5")) ||
            (rc = sl_path_join(epath, n, o->dir, "edge.h5")))
            return rc;
    } else {
        snprintf(dpath, n, "%s", o->device);
        snprintf(epath, n, "%s", o->edge);
    }
    if ((rc = sl_bundle_write(dpath, d))) return rc;
    /* A device half without its edge half is of no use and would mislead: remove it. */
    if ((rc = sl_bundle_write(epath, e))) unlink(dpath);
    return rc;
}

int sl_cmd_split(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv, help)) return SL_EXIT_OK;
    struct opts o;
    int ex = parse(argc, argv, &o);
    if (ex) return ex;
    sl_bundle *b, *d = NULL, *e = NULL;
    if (sl_bundle_read(o.model, &b)) return sl_fail();
    sl_plan_cut pc = {0};
    char dpath[4096], epath[4096];
    int rc = choose_cut(&o, b->graph, &pc);
    if (!rc) rc = sl_split(b->graph, (const char *const *)pc.tensors, pc.n, &d, &e);
    if (!rc) rc = write_pair(&o, d, e, dpath, epath, sizeof dpath);
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
    return rc ? sl_fail() : SL_EXIT_OK;
}
