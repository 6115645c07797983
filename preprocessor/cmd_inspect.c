/* cmd_inspect.c: `sl-preprocess inspect FILE.h5` — what a bundle holds. */
#include "common/cli.h"
#include "common/json.h"
#include "common/opt.h"
#include "common/status.h"
#include "model/bundle.h"
#include "preprocessor/commands.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int json;

static const sl_opt options[] = {
    SL_OPT_FLAG(0, "json", &json, "print one JSON document instead of text"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_inspect_spec = {
    "sl-preprocess inspect FILE.h5 [--json]",
    "Show a bundle: role and metadata, every node with its output shape, parameter count and\n"
    "FLOPs, the single-tensor cut points, and (for slices) the wire description.",
    options,
    1,
    1,
    "one bundle FILE.h5",
    NULL,
};

static void shape_str(const sl_shape *s, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "x" : "", (long long)s->d[i]);
}

static int64_t node_params(const sl_node *n)
{
    int64_t c = 0;
    for (int j = 0; j < n->nparams; j++)
        if (strcmp(n->params[j].name, "running_mean") && strcmp(n->params[j].name, "running_var"))
            c += sl_shape_numel(&n->params[j].shape);
    return c;
}

int sl_cmd_inspect(int argc, char **argv)
{
    json = 0;
    int rc = sl_opt_parse(&sl_cmd_inspect_spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    const char *path = argv[1];
    sl_bundle *b;
    if (sl_bundle_read_structure(path, &b)) return sl_fail();
    sl_graph *g = b->graph;
    int *cuts = NULL, ncuts = 0;
    char hash[65];
    if (sl_graph_hash(g, hash)) {
        sl_bundle_free(b);
        return sl_fail();
    }
    /* An edge slice starts from placeholders, not from the input: it has no cut points. */
    int has_placeholder = 0;
    for (int i = 0; i < g->nnodes; i++) has_placeholder |= g->nodes[i].op == SL_OP_PLACEHOLDER;
    if (!has_placeholder && sl_graph_cut_points(g, &cuts, &ncuts)) {
        sl_bundle_free(b);
        return sl_fail();
    }
    char *is_cut = calloc((size_t)g->nnodes + 1, 1);
    for (int i = 0; i < ncuts; i++) is_cut[cuts[i] + 1] = 1;
    int64_t flops = 0;
    for (int i = 0; i < g->nnodes; i++) flops += sl_node_flops(g, i);
    char sbuf[64];
    if (json) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "file", path);
        cJSON_AddStringToObject(r, "role", b->role);
        cJSON_AddStringToObject(r, "created_by", b->created_by);
        if (b->pair_id[0]) cJSON_AddStringToObject(r, "pair_id", b->pair_id);
        cJSON_AddStringToObject(r, "name", g->name);
        cJSON_AddStringToObject(r, "graph_hash", hash);
        cJSON *in = cJSON_AddObjectToObject(r, "input");
        cJSON_AddStringToObject(in, "name", g->input_name);
        const sl_shape *is = &g->input_shape;
        cJSON_AddItemToObject(in, "shape", sl_json_int_array(is->d, is->ndim));
        int nch = g->input_shape.ndim == 3 && g->input_shape.d[0] <= 4 ? (int)g->input_shape.d[0] : 0;
        cJSON_AddItemToObject(in, "mean", cJSON_CreateFloatArray(g->mean, nch));
        cJSON_AddItemToObject(in, "std", cJSON_CreateFloatArray(g->std, nch));
        cJSON_AddItemToObject(r, "classes", sl_json_string_array(g->classes, g->nclasses));
        cJSON_AddNumberToObject(r, "params", (double)sl_graph_param_count(g));
        cJSON_AddNumberToObject(r, "flops", (double)flops);
        cJSON *nodes = cJSON_AddArrayToObject(r, "nodes");
        for (int i = 0; i < g->nnodes; i++) {
            const sl_node *n = &g->nodes[i];
            cJSON *jn = cJSON_CreateObject();
            cJSON_AddNumberToObject(jn, "index", i);
            cJSON_AddStringToObject(jn, "name", n->name);
            cJSON_AddStringToObject(jn, "op", sl_op_name(n->op));
            cJSON_AddItemToObject(jn, "inputs", sl_json_string_array(n->inputs, n->ninputs));
            cJSON_AddItemToObject(jn, "shape", sl_json_int_array(n->out.d, n->out.ndim));
            cJSON_AddNumberToObject(jn, "params", (double)node_params(n));
            cJSON_AddNumberToObject(jn, "flops", (double)sl_node_flops(g, i));
            cJSON_AddBoolToObject(jn, "cut", is_cut[i + 1]);
            if (n->role[0]) cJSON_AddStringToObject(jn, "role", n->role);
            cJSON_AddItemToArray(nodes, jn);
        }
        cJSON *cj = cJSON_AddArrayToObject(r, "cuts");
        for (int i = 0; i < ncuts; i++)
            cJSON_AddItemToArray(cj, cJSON_CreateString(cuts[i] < 0 ? g->input_name : g->nodes[cuts[i]].name));
        const char *jf[3] = {"wire", "metrics", "train_state"};
        const char *jv[3] = {b->wire_json, b->metrics_json, b->train_state_json};
        for (int k = 0; k < 3; k++)
            if (jv[k]) {
                cJSON *x = cJSON_Parse(jv[k]);
                if (x) cJSON_AddItemToObject(r, jf[k], x);
            }
        if (g->tl_json) {
            cJSON *x = cJSON_Parse(g->tl_json);
            if (x) cJSON_AddItemToObject(r, "tl", x);
        }
        char *txt = cJSON_Print(r);
        puts(txt);
        free(txt);
        cJSON_Delete(r);
    } else {
        shape_str(&g->input_shape, sbuf, sizeof sbuf);
        printf("%s: %s bundle '%s' (%s)\n", path, b->role, g->name, b->created_by);
        if (b->pair_id[0]) printf("pair id: %s\n", b->pair_id);
        printf("graph hash: %s\n", hash);
        printf("input: %s %s; %d classes", g->input_name, sbuf, g->nclasses);
        for (int i = 0; i < g->nclasses && i < 12; i++) printf("%s%s", i ? ", " : ": ", g->classes[i]);
        printf("%s\n", g->nclasses > 12 ? ", ..." : "");
        int nch = g->input_shape.ndim == 3 && g->input_shape.d[0] <= 4 ? (int)g->input_shape.d[0] : 0;
        printf("normalisation: (v/255 - mean) / std, mean");
        for (int k = 0; k < nch; k++) printf("%s%.4g", k ? "," : " ", g->mean[k]);
        printf(", std");
        for (int k = 0; k < nch; k++) printf("%s%.4g", k ? "," : " ", g->std[k]);
        printf("\n");
        printf("%d nodes, %.3fM parameters, %.3f GFLOPs per image\n\n", g->nnodes,
               (double)sl_graph_param_count(g) / 1e6, (double)flops / 1e9);
        printf("%4s  %-44s %-18s %-14s %10s %10s  %s\n", "#", "node", "op", "output", "params",
               "MFLOPs", "cut");
        for (int i = 0; i < g->nnodes; i++) {
            const sl_node *n = &g->nodes[i];
            shape_str(&n->out, sbuf, sizeof sbuf);
            printf("%4d  %-44s %-18s %-14s %10lld %10.2f  %s%s\n", i, n->name, sl_op_name(n->op), sbuf,
                   (long long)node_params(n), (double)sl_node_flops(g, i) / 1e6, is_cut[i + 1] ? "cut" : "",
                   n->role[0] ? n->role : "");
        }
        printf("\n%d cut points:", ncuts);
        for (int i = 0; i < ncuts; i++)
            printf(" %s", cuts[i] < 0 ? g->input_name : g->nodes[cuts[i]].name);
        printf("\n");
        if (b->wire_json) printf("wire: %s\n", b->wire_json);
        if (g->tl_json) printf("transfer layer: %s\n", g->tl_json);
        if (b->metrics_json) printf("metrics: %s\n", b->metrics_json);
    }
    free(is_cut);
    free(cuts);
    sl_bundle_free(b);
    return SL_EXIT_OK;
}
