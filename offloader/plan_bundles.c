/* plan_bundles.c: the manifest of a plan table's bundles (see plan_bundles.h). */
#include "offloader/plan_bundles.h"
#include "common/json.h"
#include "common/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl_plan_kind_of(const sl_link_plan *p)
{
    return !p->pays_rtt ? SL_PLAN_LOCAL_ONLY : p->cut == 0 ? SL_PLAN_EDGE_ONLY : SL_PLAN_SLICE;
}

const char *sl_plan_kind_name(int kind)
{
    return kind == SL_PLAN_LOCAL_ONLY ? "local-only"
           : kind == SL_PLAN_EDGE_ONLY ? "edge-only"
                                       : "slice";
}

/* rel resolved against dir (rel itself when absolute) into buf; an error naming where when it
 * does not fit. */
static int resolve(const char *dir, const char *rel, const char *what, const char *where,
                   char *buf, size_t n)
{
    int len = rel[0] == '/' ? snprintf(buf, n, "%s", rel) : snprintf(buf, n, "%s/%s", dir, rel);
    if (len < 0 || (size_t)len >= n)
        return sl_err(SL_EFORMAT, "%s: %s: the path is too long", what, where);
    return SL_OK;
}

/* The string at o.key resolved into buf; "" for null when nullable. */
static int get_path(const cJSON *o, const char *key, int nullable, const char *dir,
                    const char *what, const char *where, char *buf, size_t n)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    char at[96];
    snprintf(at, sizeof at, "%s.%s", where, key);
    buf[0] = '\0';
    if (nullable && (!x || cJSON_IsNull(x))) return SL_OK;
    if (!cJSON_IsString(x) || !*x->valuestring)
        return sl_err(SL_EFORMAT, "%s: %s: missing or not a file name%s", what, at,
                      nullable ? " or null" : "");
    return resolve(dir, x->valuestring, what, at, buf, n);
}

static int parse(const cJSON *r, const char *path, const char *dir, sl_plan_bundles *b)
{
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(r, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(r, "version");
    const cJSON *pairs = cJSON_GetObjectItemCaseSensitive(r, "pairs");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "sl-plan-bundles")) {
        if (cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "sl-plan-table"))
            return sl_err(SL_EFORMAT,
                          "%s: a plan table names no bundles: give the manifest that packs it "
                          "(format sl-plan-bundles, docs/formats/plan-bundles.md)",
                          path);
        return sl_err(SL_EFORMAT, "%s: format: not \"sl-plan-bundles\"", path);
    }
    if (!cJSON_IsNumber(ver) || ver->valuedouble != 1)
        return sl_err(SL_EFORMAT, "%s: version: only version 1 is known", path);
    char table[SL_PLAN_BUNDLES_PATH_MAX];
    int rc = get_path(r, "table", 0, dir, path, "manifest", table, sizeof table);
    if (rc) return rc;
    if ((rc = sl_link_table_read(table, &b->table))) return sl_err_ctx(rc, "%s: table: ", path);
    int n = b->table.n_plans;
    if (!cJSON_IsArray(pairs))
        return sl_err(SL_EFORMAT, "%s: pairs: missing or not an array", path);
    if (cJSON_GetArraySize(pairs) != n)
        return sl_err(SL_EFORMAT, "%s: pairs: %d entries for the table's %d plans", path,
                      cJSON_GetArraySize(pairs), n);
    if (!(b->pairs = calloc((size_t)n, sizeof *b->pairs)))
        return sl_err(SL_ENOMEM, "%s: out of memory", path);
    int *seen = calloc((size_t)n, sizeof *seen);
    if (!seen) return sl_err(SL_ENOMEM, "%s: out of memory", path);
    const cJSON *e;
    int k = 0;
    cJSON_ArrayForEach(e, pairs)
    {
        char where[32];
        snprintf(where, sizeof where, "pairs[%d]", k++);
        const cJSON *pl = cJSON_GetObjectItemCaseSensitive(e, "plan");
        if (!cJSON_IsNumber(pl) || pl->valuedouble != (int)pl->valuedouble ||
            pl->valueint < 0 || pl->valueint >= n) {
            rc = sl_err(SL_EFORMAT, "%s: %s.plan: not a plan id of the table (0-%d)", path, where,
                        n - 1);
            break;
        }
        int id = pl->valueint;
        if (seen[id]++) {
            rc = sl_err(SL_EFORMAT, "%s: %s.plan: plan %d is listed twice", path, where, id);
            break;
        }
        int kind = sl_plan_kind_of(&b->table.plans[id]);
        sl_plan_bundle *pb = &b->pairs[id];
        if ((rc = get_path(e, "device", 0, dir, path, where, pb->device, sizeof pb->device)) ||
            (rc = get_path(e, "edge", 1, dir, path, where, pb->edge, sizeof pb->edge)))
            break;
        if (kind == SL_PLAN_LOCAL_ONLY && pb->edge[0]) {
            rc = sl_err(SL_EFORMAT, "%s: %s.edge: plan %d is local-only: its edge is null", path,
                        where, id);
            break;
        }
        if (kind != SL_PLAN_LOCAL_ONLY && !pb->edge[0]) {
            rc = sl_err(SL_EFORMAT, "%s: %s.edge: plan %d (%s) needs an edge file", path, where,
                        id, sl_plan_kind_name(kind));
            break;
        }
        if (kind == SL_PLAN_EDGE_ONLY && strcmp(pb->device, pb->edge)) {
            rc = sl_err(SL_EFORMAT,
                        "%s: %s: plan %d is edge-only: the device and the edge run the same "
                        "whole model, so both name the same file",
                        path, where, id);
            break;
        }
    }
    free(seen);
    return rc;
}

int sl_plan_bundles_read(const char *path, sl_plan_bundles *out)
{
    memset(out, 0, sizeof *out);
    cJSON *r;
    int rc = sl_json_read_file(path, &r);
    if (rc) return rc;
    char dir[SL_PLAN_BUNDLES_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        slash[slash == dir] = '\0'; /* "/x.json" keeps "/" */
    rc = parse(r, path, dir, out);
    cJSON_Delete(r);
    if (rc) sl_plan_bundles_free(out);
    return rc;
}

void sl_plan_bundles_free(sl_plan_bundles *b)
{
    if (!b) return;
    sl_link_table_free(&b->table);
    free(b->pairs);
    memset(b, 0, sizeof *b);
}
