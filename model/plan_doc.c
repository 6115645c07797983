/* plan_doc.c: the plan document reader (plan_doc.h). */
#include "model/plan_doc.h"
#include "common/json.h"
#include "common/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sl_plan_doc {
    cJSON *root;
    char path[4096];
    char graph_hash[65];
    char model[SL_NAME_MAX];
};

static const char *str_field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

void sl_plan_entry_free(sl_plan_entry *e)
{
    if (!e) return;
    for (int i = 0; i < e->n; i++)
        free(e->tensors[i]);
    free(e->tensors);
    free(e->text);
    memset(e, 0, sizeof *e);
}

static int add_tensor(sl_plan_entry *e, const char *name)
{
    char **t = realloc(e->tensors, (size_t)(e->n + 1) * sizeof *t);
    if (!t) return sl_err(SL_ENOMEM, "out of memory");
    e->tensors = t;
    if (!(t[e->n] = strdup(name))) return sl_err(SL_ENOMEM, "out of memory");
    e->n++;
    return SL_OK;
}

/* Parses plan object `p` (named `which` in messages; DADS partitions when `dads`). */
static int parse_plan(const cJSON *p, const char *path, const char *which, int dads,
                      sl_plan_entry *c)
{
    c->total_s = num_field(cJSON_GetObjectItemCaseSensitive(p, "latency_s"), "total");
    const char *text = str_field(p, "text");
    if (text && !(c->text = strdup(text))) return sl_err(SL_ENOMEM, "out of memory");
    if (dads) {
        strcpy(c->kind, "dads");
        c->upload_bytes = num_field(p, "upload_bytes");
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(p, "cut_tensors"), *t;
        if (!cJSON_IsArray(ts))
            return sl_err(SL_EFORMAT, "%s: %s.cut_tensors: missing", path, which);
        int i = 0;
        cJSON_ArrayForEach(t, ts)
        {
            const char *name = str_field(t, "tensor");
            if (!name)
                return sl_err(SL_EFORMAT, "%s: %s.cut_tensors[%d].tensor: missing", path, which, i);
            int rc = add_tensor(c, name);
            if (rc) return rc;
            i++;
        }
        if (!c->n)
            return sl_err(SL_EFORMAT, "%s: %s.cut_tensors: empty (local-only partition)", path,
                          which);
        return SL_OK;
    }
    c->upload_bytes = num_field(cJSON_GetObjectItemCaseSensitive(p, "bytes"), "upload");
    const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(p, "hosts");
    const char *eh = str_field(hosts, "edge"), *ch = str_field(hosts, "cloud");
    if ((eh && strlen(eh) >= sizeof c->edge_host) || (ch && strlen(ch) >= sizeof c->cloud_host))
        return sl_err(SL_EFORMAT, "%s: %s.hosts: a host name is too long", path, which);
    snprintf(c->edge_host, sizeof c->edge_host, "%s", eh ? eh : "");
    snprintf(c->cloud_host, sizeof c->cloud_host, "%s", ch ? ch : "");
    c->direct = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "direct_to_cloud"));
    const cJSON *cut = cJSON_GetObjectItemCaseSensitive(p, "cut");
    const char *tensor = str_field(cut, "tensor"), *kind = str_field(cut, "kind");
    if (!tensor || !kind || strlen(kind) >= sizeof c->kind)
        return sl_err(SL_EFORMAT, "%s: %s.cut: missing tensor or kind", path, which);
    strcpy(c->kind, kind);
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(p, "tl");
    if (cJSON_IsString(tl)) {
        if (strlen(tl->valuestring) >= sizeof c->tl)
            return sl_err(SL_EFORMAT, "%s: %s.tl: too long", path, which);
        strcpy(c->tl, tl->valuestring);
    } else if (tl && !cJSON_IsNull(tl)) {
        return sl_err(SL_EFORMAT, "%s: %s.tl: not a string or null", path, which);
    }
    return add_tensor(c, tensor);
}

int sl_plan_doc_read(const char *path, sl_plan_doc **out)
{
    *out = NULL;
    cJSON *root;
    int rc = sl_json_read_file(path, &root);
    if (rc) return rc;
    const char *fmt = str_field(root, "format"), *hash = str_field(root, "graph_hash"),
               *model = str_field(root, "model");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    sl_plan_doc *d = calloc(1, sizeof *d);
    if (!d)
        rc = sl_err(SL_ENOMEM, "out of memory");
    else if (!fmt || strcmp(fmt, "sl-plan"))
        rc = sl_err(SL_EFORMAT, "%s: not a plan (format is not \"sl-plan\")", path);
    else if (!cJSON_IsNumber(ver) || ver->valueint != 1)
        rc = sl_err(SL_EFORMAT, "%s: version: this build reads version 1", path);
    else if (!hash || strlen(hash) != 64)
        rc = sl_err(SL_EFORMAT, "%s: graph_hash: missing or not 64 hex digits", path);
    else if (!model || strlen(model) >= sizeof d->model)
        rc = sl_err(SL_EFORMAT, "%s: model: missing", path);
    if (rc) {
        free(d);
        cJSON_Delete(root);
        return rc;
    }
    d->root = root;
    snprintf(d->path, sizeof d->path, "%s", path);
    strcpy(d->graph_hash, hash);
    strcpy(d->model, model);
    *out = d;
    return SL_OK;
}

void sl_plan_doc_free(sl_plan_doc *d)
{
    if (!d) return;
    cJSON_Delete(d->root);
    free(d);
}

const char *sl_plan_doc_graph_hash(const sl_plan_doc *d)
{
    return d->graph_hash;
}

const char *sl_plan_doc_model(const sl_plan_doc *d)
{
    return d->model;
}

int sl_plan_doc_entry(const sl_plan_doc *d, const char *which, sl_plan_entry *out)
{
    memset(out, 0, sizeof *out);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(d->root, which);
    if (!e) return sl_err(SL_EFORMAT, "%s: %s: missing", d->path, which);
    if (cJSON_IsNull(e))
        return sl_err(SL_ENOTFOUND,
                      "%s: %s: the plan has no such plan (null: no plan of this kind "
                      "was allowed or requested)",
                      d->path, which);
    if (!cJSON_IsObject(e)) return sl_err(SL_EFORMAT, "%s: %s: not an object", d->path, which);
    int rc = parse_plan(e, d->path, which, !strncmp(which, "dads", 4), out);
    if (rc) sl_plan_entry_free(out);
    return rc;
}

int sl_plan_doc_per_cut(const sl_plan_doc *d, int with_tl, const char *kind, const char *tensor,
                        sl_plan_entry *out)
{
    memset(out, 0, sizeof *out);
    const cJSON *e;
    const char *side = with_tl ? "with_tl" : "without_tl";
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(d->root, "per_cut"))
    {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, side);
        if (!cJSON_IsObject(p)) continue;
        const cJSON *cut = cJSON_GetObjectItemCaseSensitive(p, "cut");
        const char *k = str_field(cut, "kind"), *t = str_field(cut, "tensor");
        if (kind ? !(k && !strcmp(k, kind)) : !(t && !strcmp(t, tensor))) continue;
        char what[64];
        snprintf(what, sizeof what, "per_cut[].%s", side);
        int rc = parse_plan(p, d->path, what, 0, out);
        if (rc) sl_plan_entry_free(out);
        return rc;
    }
    return sl_err(SL_ENOTFOUND, "%s: per_cut has no plan %s a TL at %s", d->path,
                  with_tl ? "with" : "without", kind ? kind : tensor);
}
