/* cmd_plans.c: `sl-offload plans` — the plans of a plan table as the pipeline builds them, and
 * the manifest that packs their bundles (docs/formats/plan-bundles.md). */
#include "common/cli.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/opt.h"
#include "common/status.h"
#include "offloader/commands.h"
#include "offloader/plan_bundles.h"

#include <cjson/cJSON.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    long cuts;
    const char *manifest;
} A;

static const sl_opt options[] = {
    SL_OPT_LONG(0, "cuts", &A.cuts, "N", 1, 64,
                "refuse a table of more than N plans (default 3): each is a pair to build"),
    SL_OPT_STRING(0, "manifest", &A.manifest, "FILE",
                  "write the manifest there, naming the files the pipeline builds in its folder"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_plans_spec = {
    "sl-offload plans TABLE.json [--cuts N] [--manifest plans.json]",
    "List the plans of a plan table (select --bandwidths), one line each, tab-separated: id,\n"
    "kind (slice, edge-only, local-only), cut index, cut tensor and TL (\"-\" for none), for a\n"
    "build script to make each plan's bundles. A table of more than --cuts plans is refused\n"
    "(sample fewer links). With --manifest FILE, also write the manifest an adaptive device\n"
    "(sl-offload device --plans) and its edge read: a slice's files are planK-device.h5 and\n"
    "planK-edge.h5, edge-only and local-only use model.h5, all in FILE's folder; the table is\n"
    "named by its path relative to that folder when it is there, else absolutely.",
    options,
    1,
    1,
    "one TABLE.json",
    NULL,
};

/* The table's path as the manifest at `manifest` names it, into ref (n bytes). Returns SL_OK,
 * or SL_EIO when either cannot be resolved. */
static int table_ref(const char *table, const char *manifest, char *ref, size_t n)
{
    char t[PATH_MAX], m[PATH_MAX], mdir[PATH_MAX];
    snprintf(mdir, sizeof mdir, "%s", manifest);
    if (!realpath(table, t) || !realpath(dirname(mdir), m))
        return sl_err(SL_EIO, "%s or the folder of %s: cannot resolve", table, manifest);
    size_t len = strlen(m);
    snprintf(ref, n, "%s", !strncmp(t, m, len) && t[len] == '/' ? t + len + 1 : t);
    return SL_OK;
}

static int write_manifest(const sl_link_table *t, const char *table, const char *path)
{
    char ref[PATH_MAX];
    int rc = table_ref(table, path, ref, sizeof ref);
    if (rc) return rc;
    cJSON *r = sl_json_doc_new("sl-plan-bundles", 1);
    cJSON_AddStringToObject(r, "table", ref);
    cJSON *pairs = cJSON_AddArrayToObject(r, "pairs");
    for (int k = 0; k < t->n_plans; k++) {
        int kind = sl_plan_kind_of(&t->plans[k]);
        char dev[64], edge[64];
        snprintf(dev, sizeof dev, "plan%d-device.h5", k);
        snprintf(edge, sizeof edge, "plan%d-edge.h5", k);
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "plan", k);
        cJSON_AddStringToObject(p, "device", kind == SL_PLAN_SLICE ? dev : "model.h5");
        if (kind == SL_PLAN_LOCAL_ONLY)
            cJSON_AddNullToObject(p, "edge");
        else
            cJSON_AddStringToObject(p, "edge", kind == SL_PLAN_SLICE ? edge : "model.h5");
        cJSON_AddItemToArray(pairs, p);
    }
    char *doc = cJSON_Print(r);
    cJSON_Delete(r);
    if (!doc) return sl_err(SL_ENOMEM, "out of memory");
    rc = sl_write_file_atomic(path, doc, strlen(doc));
    free(doc);
    return rc;
}

int sl_cmd_plans(int argc, char **argv)
{
    memset(&A, 0, sizeof A);
    A.cuts = 3;
    int nargs, rc = sl_opt_parse(&sl_cmd_plans_spec, argc, argv, &nargs);
    if (rc != SL_OPT_CONTINUE) return rc;
    const char *table = argv[1];
    sl_link_table t;
    if (sl_link_table_read(table, &t)) return sl_fail();
    if (t.n_plans > A.cuts) {
        sl_err(SL_EARG,
               "%s: %d plans, more than --cuts %ld: each is a pair to build and deploy; sample "
               "fewer links (select --bandwidths) or allow more cuts",
               table, t.n_plans, A.cuts);
        sl_link_table_free(&t);
        return sl_fail();
    }
    for (int k = 0; k < t.n_plans; k++) {
        const sl_link_plan *p = &t.plans[k];
        printf("%d\t%s\t%d\t%s\t%s\n", k, sl_plan_kind_name(sl_plan_kind_of(p)), p->cut,
               p->tensor, p->tl[0] ? p->tl : "-");
    }
    rc = A.manifest ? write_manifest(&t, table, A.manifest) : SL_OK;
    sl_link_table_free(&t);
    return rc ? sl_fail() : SL_EXIT_OK;
}
