/* config.c: product-line config validation and per-step argument files. */
#include "pipeline/config.h"
#include "common/cli.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "common/status.h"
#include "datasets/commands.h"
#include "datasets/synth.h"
#include "offloader/commands.h"
#include "preprocessor/commands.h"
#include "trainer/commands.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_STR, K_INT, K_NUM, K_BOOL, K_LIST, K_OBJ, K_NUMS, K_OBJ_OR_FALSE };

/* One key of a section: its type, whether it is required, and the flag it becomes ("" = none,
 * NULL = handled specially). Boolean keys become a bare flag when true. */
typedef struct key {
    const char *name;
    enum kind kind;
    int required;
    const char *flag;
} key;

typedef struct section {
    const char *name;
    int required;
    const key *keys;
} section;

static const key k_synth[] = {{"product", K_STR, 1, "--product"}, {"size", K_INT, 0, "--size"},
                              {"per_class", K_INT, 0, "--per-class"}, {"seed", K_INT, 0, "--seed"},
                              {"splits", K_STR, 0, "--splits"}, {NULL, 0, 0, NULL}};
static const key k_dataset[] = {{"synth", K_OBJ, 0, NULL}, {"path", K_STR, 0, NULL},
                                {"layout", K_STR, 0, "--layout"}, {"binary", K_BOOL, 0, "--binary"},
                                {NULL, 0, 0, NULL}};
static const key k_model[] = {{"arch", K_STR, 0, "--arch"}, {"bundle", K_STR, 0, "--model"},
                              {NULL, 0, 0, NULL}};
static const key k_train[] = {
    {"epochs", K_INT, 0, "--epochs"},       {"batch", K_INT, 0, "--batch"},
    {"lr", K_NUM, 0, "--lr"},               {"optim", K_STR, 0, "--optim"},
    {"momentum", K_NUM, 0, "--momentum"},   {"nesterov", K_BOOL, 0, "--nesterov"},
    {"weight_decay", K_NUM, 0, "--weight-decay"}, {"schedule", K_STR, 0, "--schedule"},
    {"warmup", K_INT, 0, "--warmup"},       {"label_smoothing", K_NUM, 0, "--label-smoothing"},
    {"augment", K_STR, 0, "--augment"},     {"seed", K_INT, 0, "--seed"},
    {"threads", K_INT, 0, "--threads"},     {"workers", K_INT, 0, "--workers"},
    {"patience", K_INT, 0, "--patience"},   {"epoch_images", K_INT, 0, "--epoch-images"},
    {NULL, 0, 0, NULL}};
static const key k_profile[] = {{"device_threads", K_INT, 0, NULL}, {"edge_threads", K_INT, 0, NULL},
                                {"device_cpu", K_NUM, 0, NULL},
                                {"batch", K_INT, 0, "--batch"},     {"warmup", K_INT, 0, "--warmup"},
                                {"repeats", K_INT, 0, "--repeats"}, {"idle_gap", K_STR, 0, "--idle-gap"},
                                {NULL, 0, 0, NULL}};
static const key k_network[] = {{"bandwidth", K_STR, 1, "--bandwidth"}, {"rtt", K_STR, 1, "--rtt"},
                                {"bandwidths", K_LIST, 0, NULL}, {NULL, 0, 0, NULL}};
static const key k_constraints[] = {
    {"device_only", K_LIST, 0, "--device-only"}, {"edge_only", K_LIST, 0, "--edge-only"},
    {"not_on", K_LIST, 0, "--not-on"},           {"exclude_tier", K_LIST, 0, "--exclude-tier"},
    {"max_upload", K_STR, 0, "--max-upload"},    {"max_time", K_LIST, 0, "--max-time"},
    {"tl_at", K_LIST, 0, "--tl-at"},             {NULL, 0, 0, NULL}};
static const key k_tl[] = {{"candidates", K_LIST, 1, NULL}, {"use", K_STR, 0, NULL},
                           {"seed", K_INT, 0, "--seed"}, {NULL, 0, 0, NULL}};
static const key k_stage[] = {{"epochs", K_INT, 0, "--epochs"},     {"lr", K_NUM, 0, "--lr"},
                              {"batch", K_INT, 0, "--batch"},       {"optim", K_STR, 0, "--optim"},
                              {"schedule", K_STR, 0, "--schedule"}, {"augment", K_STR, 0, "--augment"},
                              {"distill", K_NUM, 0, "--distill"},   {"alpha", K_NUM, 0, "--alpha"},
                              {"stages_at", K_STR, 0, "--tl-stages-at"},
                              {"seed", K_INT, 0, "--seed"},         {"threads", K_INT, 0, "--threads"},
                              {"epoch_images", K_INT, 0, "--epoch-images"},
                              {"freeze", K_STR, 0, "--freeze"},     {NULL, 0, 0, NULL}};
static const key k_finetune[] = {{"stage1", K_OBJ, 0, NULL}, {"stage2", K_OBJ_OR_FALSE, 0, NULL},
                                 {NULL, 0, 0, NULL}};
static const key k_deploy[] = {{"edge", K_STR, 0, NULL}, {"token", K_STR, 0, NULL},
                               {NULL, 0, 0, NULL}};
static const key k_bench[] = {{"images", K_INT, 0, NULL}, {"bandwidth", K_STR, 0, NULL},
                              {"rtt", K_STR, 0, NULL}, {NULL, 0, 0, NULL}};

static const section sections[] = {
    {"dataset", 1, k_dataset}, {"model", 1, k_model},     {"train", 0, k_train},
    {"profile", 0, k_profile}, {"network", 1, k_network}, {"constraints", 0, k_constraints},
    {"tl", 1, k_tl},           {"finetune", 0, k_finetune}, {"deploy", 0, k_deploy},
    {"bench", 0, k_bench},     {NULL, 0, NULL}};

static const char *kind_name(enum kind k)
{
    static const char *n[] = {"a string", "an integer", "a number", "true or false",
                              "an array of strings", "an object", "an array of 1 to 4 numbers",
                              "an object, or false"};
    return n[k];
}

static int check_kind(const cJSON *v, enum kind k)
{
    switch (k) {
    case K_STR: return cJSON_IsString(v);
    case K_INT: return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble);
    case K_NUM: return cJSON_IsNumber(v);
    case K_BOOL: return cJSON_IsBool(v);
    case K_OBJ: return cJSON_IsObject(v);
    case K_OBJ_OR_FALSE: return cJSON_IsObject(v) || cJSON_IsFalse(v);
    case K_NUMS: {
        int n = cJSON_GetArraySize(v);
        if (!cJSON_IsArray(v) || n < 1 || n > 4) return 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, v) if (!cJSON_IsNumber(e)) return 0;
        return 1;
    }
    case K_LIST: {
        if (!cJSON_IsArray(v)) return 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, v) if (!cJSON_IsString(e)) return 0;
        return 1;
    }
    }
    return 0;
}

/* Validates obj against keys (warning on unknown ones); `where` is the dotted path. */
static int check_object(const char *file, const char *where, const cJSON *obj, const key *keys)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, obj)
    {
        const key *k = keys;
        while (k->name && strcmp(k->name, v->string)) k++;
        if (!k->name) {
            sl_log_warn("%s: ignoring unknown key '%s.%s'", file, where, v->string);
            continue;
        }
        if (!check_kind(v, k->kind))
            return sl_err(SL_EFORMAT, "%s: '%s.%s' must be %s", file, where, k->name, kind_name(k->kind));
    }
    for (const key *k = keys; k->name; k++)
        if (k->required && !cJSON_GetObjectItemCaseSensitive(obj, k->name))
            return sl_err(SL_EFORMAT, "%s: required key '%s.%s' is missing", file, where, k->name);
    return SL_OK;
}

/* Growing argument string with shell-safe single quoting. */
typedef struct buf {
    char *s;
    size_t n, cap;
    const sl_optspec *to; /* the command the arguments are for; every flag is checked */
    const char *bad;      /* the first flag `to` does not take, or NULL */
} buf;

static void put(buf *b, const char *text)
{
    size_t l = strlen(text);
    if (b->n + l + 1 > b->cap) {
        size_t cap = (b->n + l + 1) * 2;
        char *ns = realloc(b->s, cap);
        if (!ns) return;
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, text, l + 1);
    b->n += l;
}

static void put_arg(buf *b, const char *a)
{
    if (b->n) put(b, " ");
    int plain = *a != '\0';
    for (const char *p = a; *p && plain; p++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/%=+@", *p) != NULL;
    if (plain) {
        put(b, a);
        return;
    }
    put(b, "'");
    for (const char *p = a; *p; p++) {
        char c[2] = {*p, 0};
        put(b, *p == '\'' ? "'\\''" : c);
    }
    put(b, "'");
}

/* Appends a flag after checking that the target command's option table has it. */
static void put_flag(buf *b, const char *flag)
{
    if (!b->bad && (strncmp(flag, "--", 2) || !sl_opt_find(b->to->opts, flag + 2))) b->bad = flag;
    put_arg(b, flag);
}

static void put_value(buf *b, const cJSON *v)
{
    char num[64];
    if (cJSON_IsString(v)) {
        put_arg(b, v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        snprintf(num, sizeof num, "%.10g", v->valuedouble);
        put_arg(b, num);
    }
}

/* Appends every flagged key of obj in table order. */
static void flags(buf *b, const cJSON *obj, const key *keys)
{
    for (const key *k = keys; k->name; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, k->name);
        if (!v || !k->flag || !*k->flag) continue;
        if (k->kind == K_BOOL) {
            if (cJSON_IsTrue(v)) put_flag(b, k->flag);
        } else if (k->kind == K_LIST) {
            const cJSON *e;
            cJSON_ArrayForEach(e, v)
            {
                put_flag(b, k->flag);
                put_value(b, e);
            }
        } else {
            put_flag(b, k->flag);
            put_value(b, v);
        }
    }
}

/* Writes dir/cfg/<name>.args when its content differs; counts rewrites. A flag the target
 * command does not take is an error (a bug of this file, caught before make runs the step). */
static int emit(const char *dir, const char *name, buf *b, int *changed)
{
    if (b->bad) {
        int rc = sl_err(SL_EARG, "%s.args: '%s' is not an option of %s", name, b->bad,
                        b->to->usage);
        free(b->s);
        memset(b, 0, sizeof *b);
        return rc;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/cfg/%s.args", dir, name);
    put(b, "");
    const char *text = b->s ? b->s : "";
    char line[65536];
    snprintf(line, sizeof line, "%s\n", text);
    char *old = NULL;
    size_t len;
    int same = sl_read_file(path, &old, &len) == SL_OK && !strcmp(old, line);
    free(old);
    free(b->s);
    memset(b, 0, sizeof *b);
    if (same) return SL_OK;
    (*changed)++;
    return sl_write_file_atomic(path, line, strlen(line));
}

static int write_args(const cJSON *root, const char *dir, int *changed)
{
    char cfgdir[4096];
    snprintf(cfgdir, sizeof cfgdir, "%s/cfg", dir);
    int rc = sl_mkdir_p(cfgdir);
    if (rc) return rc;
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(root, "dataset");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(root, "input");
    buf b = {0};

    /* dataset: "synth <sl-data synth flags>" or "path DIR <flags>" */
    const cJSON *synth = cJSON_GetObjectItemCaseSensitive(ds, "synth");
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(ds, "path");
    b.to = &sl_cmd_synth_spec;
    if (synth) {
        put_arg(&b, "synth");
        flags(&b, synth, k_synth);
    } else {
        put_arg(&b, "path");
        put_arg(&b, path->valuestring);
    }
    if ((rc = emit(dir, "dataset", &b, changed))) return rc;

    /* data-open: how the dataset is read (sl-data stats) */
    b.to = &sl_cmd_stats_spec;
    flags(&b, ds, k_dataset);
    if ((rc = emit(dir, "data-open", &b, changed))) return rc;

    /* model: flags for the base training ("--arch NAME [--input CxHxW] [--mean M,..]
     * [--std S,..]" or "--model FILE"); without "input" the model's input follows the data */
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(model, "arch");
    b.to = &sl_cmd_fit_spec;
    flags(&b, model, k_model);
    if (arch && input) {
        put_flag(&b, "--input");
        put_arg(&b, input->valuestring);
    }
    const char *norm[2] = {"mean", "std"};
    for (int k = 0; k < 2 && arch; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, norm[k]), *e;
        if (!v) continue;
        buf list = {0};
        cJSON_ArrayForEach(e, v)
        {
            char num[32];
            snprintf(num, sizeof num, "%s%.9g", list.n ? "," : "", e->valuedouble);
            put(&list, num);
        }
        put_flag(&b, k ? "--std" : "--mean");
        put_arg(&b, list.s ? list.s : "");
        free(list.s);
    }
    if ((rc = emit(dir, "model", &b, changed))) return rc;

    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "train");
    b.to = &sl_cmd_fit_spec;
    flags(&b, s, k_train);
    if ((rc = emit(dir, "train", &b, changed))) return rc;
    /* base: "fit" trains the base model; "keep" ("train": false) copies model.bundle as it is */
    b.to = &sl_cmd_fit_spec; /* a plain value: no flags */
    put_arg(&b, cJSON_IsFalse(s) ? "keep" : "fit");
    if ((rc = emit(dir, "base", &b, changed))) return rc;

    /* profile: one file per host; the TL candidates are measured at every cut. */
    s = cJSON_GetObjectItemCaseSensitive(root, "profile");
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(root, "tl");
    const cJSON *cand = cJSON_GetObjectItemCaseSensitive(tl, "candidates");
    buf list = {0}; /* "pool,conv-r4-s2-b8": the candidates joined, however long */
    const cJSON *e;
    cJSON_ArrayForEach(e, cand)
    {
        if (list.n) put(&list, ",");
        put(&list, e->valuestring);
    }
    const char *host[2] = {"device", "edge"};
    for (int h = 0; h < 2; h++) {
        char tk[32];
        snprintf(tk, sizeof tk, "%s_threads", host[h]);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, tk);
        b.to = &sl_cmd_profile_spec;
        put_flag(&b, "--threads");
        char num[32];
        snprintf(num, sizeof num, "%d", t ? (int)t->valuedouble : (h ? 2 : 1));
        put_arg(&b, num);
        /* the emulated weak device: its profile runs under the CPU quota (--cpu PCT) */
        const cJSON *cpu = h ? NULL : cJSON_GetObjectItemCaseSensitive(s, "device_cpu");
        if (cpu) {
            put_flag(&b, "--cpu");
            snprintf(num, sizeof num, "%g", cpu->valuedouble);
            put_arg(&b, num);
        }
        flags(&b, s, k_profile);
        /* A split's halves wait one round trip of the line for each answer: without
         * profile.idle_gap, the profile idles that long before each timed half. */
        const cJSON *rtt = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(root, "network"), "rtt");
        if (!cJSON_GetObjectItemCaseSensitive(s, "idle_gap") && cJSON_IsString(rtt)) {
            put_flag(&b, "--idle-gap");
            put_arg(&b, rtt->valuestring);
        }
        if (list.n) {
            put_flag(&b, "--tl");
            put_arg(&b, list.s);
        }
        char nm[32];
        snprintf(nm, sizeof nm, "profile-%s", host[h]);
        if ((rc = emit(dir, nm, &b, changed))) break;
    }
    free(list.s);
    if (rc) return rc;

    /* select: network and constraints */
    b.to = &sl_cmd_select_spec;
    flags(&b, cJSON_GetObjectItemCaseSensitive(root, "network"), k_network);
    flags(&b, cJSON_GetObjectItemCaseSensitive(root, "constraints"), k_constraints);
    if ((rc = emit(dir, "select", &b, changed))) return rc;

    /* plans: the links of an adaptive device's plan table (`make plans`), empty without them */
    const cJSON *bws = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "network"), "bandwidths");
    b.to = &sl_cmd_select_spec;
    if (cJSON_GetArraySize(bws) > 0) {
        buf joined = {0};
        const cJSON *bw;
        cJSON_ArrayForEach(bw, bws)
        {
            if (joined.n) put(&joined, ",");
            put(&joined, bw->valuestring);
        }
        put_flag(&b, "--bandwidths");
        put_arg(&b, joined.s ? joined.s : "");
        free(joined.s);
    }
    if ((rc = emit(dir, "plans", &b, changed))) return rc;

    /* insert: the TL to use ("plan" = the best with-TL plan's config) */
    const cJSON *use = cJSON_GetObjectItemCaseSensitive(tl, "use");
    b.to = &sl_cmd_insert_spec;
    put_flag(&b, "--use");
    put_arg(&b, "best_with_tl");
    if (use && strcmp(use->valuestring, "plan")) {
        put_flag(&b, "--tl");
        put_arg(&b, use->valuestring);
    }
    flags(&b, tl, k_tl);
    if ((rc = emit(dir, "insert", &b, changed))) return rc;

    /* fine-tuning stages */
    const cJSON *ft = cJSON_GetObjectItemCaseSensitive(root, "finetune");
    for (int st = 1; st <= 2; st++) {
        char nm[16];
        snprintf(nm, sizeof nm, "stage%d", st);
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(ft, nm);
        b.to = &sl_cmd_fit_spec;
        /* "stage2": false keeps stage 1's model as the tuned one (a plain value: no flags) */
        if (st == 2 && cJSON_IsFalse(o)) put_arg(&b, "skip");
        else flags(&b, o, k_stage);
        char fn[32];
        snprintf(fn, sizeof fn, "finetune-%s", nm);
        if ((rc = emit(dir, fn, &b, changed))) return rc;
    }

    /* deploy and bench: plain values for the demo scripts */
    const cJSON *dep = cJSON_GetObjectItemCaseSensitive(root, "deploy");
    const cJSON *edge = cJSON_GetObjectItemCaseSensitive(dep, "edge");
    b.to = &sl_cmd_deploy_spec; /* a plain value: no flags */
    put_arg(&b, edge ? edge->valuestring : "127.0.0.1:7070");
    if ((rc = emit(dir, "deploy", &b, changed))) return rc;
    const cJSON *bench = cJSON_GetObjectItemCaseSensitive(root, "bench");
    const cJSON *net = cJSON_GetObjectItemCaseSensitive(root, "network");
    const cJSON *imgs = cJSON_GetObjectItemCaseSensitive(bench, "images");
    const cJSON *bw = cJSON_GetObjectItemCaseSensitive(bench, "bandwidth");
    const cJSON *rtt = cJSON_GetObjectItemCaseSensitive(bench, "rtt");
    char num[32];
    snprintf(num, sizeof num, "%d", imgs ? (int)imgs->valuedouble : 40);
    b.to = &sl_cmd_bench_spec;
    put_flag(&b, "--limit");
    put_arg(&b, num);
    put_flag(&b, "--bandwidth");
    put_arg(&b, (bw ? bw : cJSON_GetObjectItemCaseSensitive(net, "bandwidth"))->valuestring);
    put_flag(&b, "--rtt");
    put_arg(&b, (rtt ? rtt : cJSON_GetObjectItemCaseSensitive(net, "rtt"))->valuestring);
    /* the device side is measured on the same emulated device it was profiled on */
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "profile"), "device_cpu");
    if (cpu) {
        put_flag(&b, "--cpu");
        snprintf(num, sizeof num, "%g", cpu->valuedouble);
        put_arg(&b, num);
        /* with the device's threads (profile.device_threads, default 1): a device of a share of
         * one core gains nothing from more, and its profile was taken with these */
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(root, "profile"), "device_threads");
        put_flag(&b, "--threads");
        snprintf(num, sizeof num, "%d", dt ? dt->valueint : 1);
        put_arg(&b, num);
    }
    return emit(dir, "bench", &b, changed);
}

/* Which command each key table's flags are written for. */
static const struct {
    const key *keys;
    const sl_optspec *to;
} flag_targets[] = {
    {k_synth, &sl_cmd_synth_spec},   {k_dataset, &sl_cmd_stats_spec},   {k_model, &sl_cmd_fit_spec},
    {k_train, &sl_cmd_fit_spec},     {k_profile, &sl_cmd_profile_spec}, {k_network, &sl_cmd_select_spec},
    {k_constraints, &sl_cmd_select_spec}, {k_tl, &sl_cmd_insert_spec},  {k_stage, &sl_cmd_fit_spec},
};

int sl_config_check_flags(void)
{
    for (size_t t = 0; t < sizeof flag_targets / sizeof flag_targets[0]; t++)
        for (const key *k = flag_targets[t].keys; k->name; k++)
            if (k->flag && *k->flag &&
                (strncmp(k->flag, "--", 2) || !sl_opt_find(flag_targets[t].to->opts, k->flag + 2)))
                return sl_err(SL_EARG, "config key '%s' becomes '%s', which is not an option of %s",
                              k->name, k->flag, flag_targets[t].to->usage);
    return SL_OK;
}

/* The config at `path` into *root (caller cJSON_Delete): SL_OK, or the reader's error, or
 * SL_EFORMAT when it is not a JSON object, with *root NULL. */
static int read_config(const char *path, cJSON **root)
{
    int rc = sl_json_read_file(path, root);
    if (!rc && !cJSON_IsObject(*root)) {
        cJSON_Delete(*root);
        *root = NULL;
        rc = sl_err(SL_EFORMAT, "%s: not a JSON object", path);
    }
    return rc;
}

int sl_config_process(const char *file, const char *out_dir, int *changed)
{
    *changed = 0;
    cJSON *root;
    int rc = sl_config_check_flags();
    if (!rc) rc = read_config(file, &root);
    if (rc) return rc;
    static const key top[] = {{"format", K_STR, 1, NULL},  {"version", K_INT, 1, NULL},
                              {"product", K_STR, 1, NULL}, {"description", K_STR, 0, NULL},
                              {"input", K_STR, 0, NULL},   {"mean", K_NUMS, 0, NULL},
                              {"std", K_NUMS, 0, NULL},   {"dataset", K_OBJ, 1, NULL},
                              {"model", K_OBJ, 1, NULL},   {"train", K_OBJ_OR_FALSE, 0, NULL},
                              {"profile", K_OBJ, 0, NULL}, {"network", K_OBJ, 1, NULL},
                              {"constraints", K_OBJ, 0, NULL}, {"tl", K_OBJ, 1, NULL},
                              {"finetune", K_OBJ, 0, NULL}, {"deploy", K_OBJ, 0, NULL},
                              {"bench", K_OBJ, 0, NULL},   {NULL, 0, 0, NULL}};
    rc = check_object(file, "config", root, top);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!rc && strcmp(fmt->valuestring, "sl-config"))
        rc = sl_err(SL_EFORMAT, "%s: 'format' must be \"sl-config\"", file);
    if (!rc && ver->valuedouble != 1)
        rc = sl_err(SL_EFORMAT, "%s: config version %g is not supported (this build reads 1)", file,
                    ver->valuedouble);
    for (const section *s = sections; !rc && s->name; s++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, s->name);
        if (cJSON_IsObject(o)) rc = check_object(file, s->name, o, s->keys);
    }
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(root, "dataset");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!rc && !cJSON_GetObjectItemCaseSensitive(ds, "synth") == !cJSON_GetObjectItemCaseSensitive(ds, "path"))
        rc = sl_err(SL_EFORMAT, "%s: 'dataset' needs exactly one of 'synth' and 'path'", file);
    if (!rc && !cJSON_GetObjectItemCaseSensitive(md, "arch") == !cJSON_GetObjectItemCaseSensitive(md, "bundle"))
        rc = sl_err(SL_EFORMAT, "%s: 'model' needs exactly one of 'arch' (a zoo name) and 'bundle' "
                                "(a model file, e.g. made by sl-preprocess import)", file);
    if (!rc && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "train")) &&
        !cJSON_GetObjectItemCaseSensitive(md, "bundle"))
        rc = sl_err(SL_EFORMAT, "%s: '\"train\": false' keeps a given model's weights; it needs "
                                "'model.bundle'", file);
    const char *normk[2] = {"mean", "std"};
    for (int k = 0; k < 2 && !rc; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, normk[k]), *e;
        if (v && !cJSON_GetObjectItemCaseSensitive(md, "arch"))
            rc = sl_err(SL_EFORMAT, "%s: '%s' is for 'model.arch' (a bundle has its own; "
                                    "sl-preprocess import sets it)", file, normk[k]);
        cJSON_ArrayForEach(e, v) if (!rc && k == 1 && !(e->valuedouble > 0))
            rc = sl_err(SL_EFORMAT, "%s: 'std' values must be positive, got %g", file, e->valuedouble);
    }
    const cJSON *nested = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "dataset"), "synth");
    if (!rc && nested) {
        rc = check_object(file, "dataset.synth", nested, k_synth);
        /* the generator's line, checked here rather than when make reaches the data step */
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(nested, "product");
        const char *const *cls;
        int ncls;
        if (!rc && cJSON_IsString(sp) && sl_synth_classes(sp->valuestring, &cls, &ncls)) {
            char why[256];
            snprintf(why, sizeof why, "%s", sl_errmsg());
            rc = sl_err(SL_EFORMAT, "%s: 'dataset.synth.product': %s", file, why);
        }
    }
    const cJSON *ft = cJSON_GetObjectItemCaseSensitive(root, "finetune");
    if (!rc && (nested = cJSON_GetObjectItemCaseSensitive(ft, "stage1")))
        rc = check_object(file, "finetune.stage1", nested, k_stage);
    if (!rc && (nested = cJSON_GetObjectItemCaseSensitive(ft, "stage2")))
        rc = check_object(file, "finetune.stage2", nested, k_stage);
    if (!rc) {
        int64_t dims[3];
        int nd;
        const cJSON *iv = cJSON_GetObjectItemCaseSensitive(root, "input");
        const char *in = iv ? iv->valuestring : NULL;
        if (in && (sl_parse_shape("input", in, dims, 3, &nd) || nd != 3))
            rc = sl_err(SL_EFORMAT, "%s: 'input' must be a shape like \"3x64x64\", got \"%s\"", file, in);
    }
    const cJSON *bws = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "network"), "bandwidths");
    if (!rc && bws && cJSON_GetArraySize(bws) < 1)
        rc = sl_err(SL_EFORMAT, "%s: 'network.bandwidths' lists no link", file);
    int nbw = 0;
    const cJSON *bw;
    cJSON_ArrayForEach(bw, bws)
    {
        double v;
        char what[64];
        snprintf(what, sizeof what, "'network.bandwidths' item %d", ++nbw);
        if (!rc && (strchr(bw->valuestring, ',') || sl_parse_bandwidth(what, bw->valuestring, &v) ||
                    !(v > 0)))
            rc = sl_err(SL_EFORMAT, "%s: %s: \"%s\" is not one rate above 0 (\"5mbit\")", file,
                        what, bw->valuestring);
    }
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "profile"), "device_cpu");
    if (!rc && cpu && !(cpu->valuedouble >= 0.1 && cpu->valuedouble <= 6400))
        rc = sl_err(SL_EFORMAT, "%s: 'profile.device_cpu' must be a share of one core in percent, "
                                "0.1..6400, got %g", file, cpu->valuedouble);
    if (!rc && out_dir) rc = write_args(root, out_dir, changed);
    cJSON_Delete(root);
    return rc;
}

/* "a, b, c" of a JSON string array, into buf. */
static void join(const cJSON *arr, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        if (!cJSON_IsString(e) || len >= n) continue;
        len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "", e->valuestring);
    }
}

int sl_config_describe(const char *path, FILE *f)
{
    cJSON *root;
    int rc = read_config(path, &root);
    if (rc) return rc;
#define OBJ(o, k) cJSON_GetObjectItemCaseSensitive(o, k)
#define STR(o, k) (cJSON_IsString(OBJ(o, k)) ? OBJ(o, k)->valuestring : NULL)
    const cJSON *model = OBJ(root, "model"), *ds = OBJ(root, "dataset"), *prof = OBJ(root, "profile");
    const cJSON *net = OBJ(root, "network"), *cons = OBJ(root, "constraints"), *tl = OBJ(root, "tl");
    fprintf(f, "%s: valid\n", path);
    fprintf(f, "  product %s: %s %s, input %s\n", STR(root, "product") ? STR(root, "product") : "?",
            STR(model, "arch") ? "zoo architecture" : "model file",
            STR(model, "arch") ? STR(model, "arch") : (STR(model, "bundle") ? STR(model, "bundle") : "?"),
            STR(root, "input") ? STR(root, "input") : "from the data");
    const cJSON *synth = OBJ(ds, "synth");
    if (synth)
        fprintf(f, "  data: synthetic %s images, %d px, %d per class\n",
                STR(synth, "product") ? STR(synth, "product") : "?",
                OBJ(synth, "size") ? (int)OBJ(synth, "size")->valuedouble : 64,
                OBJ(synth, "per_class") ? (int)OBJ(synth, "per_class")->valuedouble : 0);
    else
        fprintf(f, "  data: %s\n", STR(ds, "path") ? STR(ds, "path") : "?");
    const cJSON *train = OBJ(root, "train");
    if (cJSON_IsFalse(train)) fprintf(f, "  base model: the given weights, unchanged (train: false)\n");
    const cJSON *cpu = OBJ(prof, "device_cpu"), *dt = OBJ(prof, "device_threads");
    int threads = dt ? (int)dt->valuedouble : 1;
    if (cpu)
        fprintf(f, "  device: %d thread(s) under a CPU quota of %g%% of one core (profile.device_cpu)\n",
                threads, cpu->valuedouble);
    else
        fprintf(f, "  device: %d thread(s) at this machine's full speed (no profile.device_cpu)\n",
                threads);
    fprintf(f, "  link: %s, RTT %s\n", STR(net, "bandwidth") ? STR(net, "bandwidth") : "?",
            STR(net, "rtt") ? STR(net, "rtt") : "?");
    if (cJSON_IsArray(OBJ(net, "bandwidths"))) {
        char links[512];
        join(OBJ(net, "bandwidths"), links, sizeof links);
        fprintf(f, "  adaptive device's links: %s (make -f pipeline.mk plans)\n", links);
    }
    char list[512];
    int any = 0;
    static const char *const lists[] = {"device_only", "edge_only", "not_on", "exclude_tier", "max_time"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const cJSON *l = OBJ(cons, lists[i]);
        if (!cJSON_IsArray(l)) continue;
        join(l, list, sizeof list);
        fprintf(f, "  constraint %s: %s%s\n", lists[i], list,
                !strcmp(lists[i], "device_only")
                    ? " (the raw image stays on the device: no edge-only plan)"
                    : "");
        any = 1;
    }
    if (STR(cons, "max_upload")) {
        fprintf(f, "  constraint max_upload: %s per image\n", STR(cons, "max_upload"));
        any = 1;
    }
    if (!any) fprintf(f, "  constraints: none (every plan is allowed, edge-only included)\n");
    join(OBJ(tl, "candidates"), list, sizeof list);
    fprintf(f, "  TL candidates: %s (use: %s)\n", list, STR(tl, "use") ? STR(tl, "use") : "plan");
#undef STR
#undef OBJ
    cJSON_Delete(root);
    return SL_OK;
}
