/* cmd_deploy.c: `sl-offload deploy` — upload, list or remove bundles on one edge or a fleet. */
#include "common/cli.h"
#include "common/fsutil.h"
#include "common/opt.h"
#include "common/log.h"
#include "common/status.h"
#include "offloader/auth.h"
#include "offloader/commands.h"
#include "offloader/client.h"
#include "offloader/net.h"
#include "offloader/sha256.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Some edges of the fleet did what was asked and some did not: run the command again. */
#define EXIT_PARTIAL 3
/* Edges one command handles. */
#define MAX_FLEET 64

static struct {
    const char *edge, *fleet, *token_file, *remove;
    int list, json;
} A;

static const sl_opt options[] = {
    SL_OPT_STRING(0, "edge", &A.edge, "HOST:PORT[,...]", "the edge server(s)"),
    SL_OPT_STRING(0, "fleet", &A.fleet, "FILE",
                  "more edges: one HOST:PORT per line ('#' starts a comment)"),
    SL_OPT_STRING(0, "token-file", &A.token_file, "FILE", "the shared token (HMAC-SHA256)"),
    SL_OPT_FLAG(0, "list", &A.list,
                "print the deployed bundles as JSON (and which edge holds what)"),
    SL_OPT_STRING(0, "remove", &A.remove, "PAIRID", "take a pair id (32 hex digits) off the edges"),
    SL_OPT_FLAG(0, "json", &A.json, "one JSON document per run on stdout, per edge"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_deploy_spec = {
    "sl-offload deploy (--edge HOST:PORT[,HOST:PORT...] | --fleet FILE) --token-file FILE\n"
    "                  [--json] (BUNDLE.h5... | --list | --remove PAIRID)",
    "Upload edge bundles (or a whole model, for the edge-only plan) to running edge servers.\n"
    "Each edge checks the SHA-256, validates the bundle, installs it atomically and serves it at\n"
    "once, replacing a bundle of the same pair id. A file an edge already holds (same SHA-256,\n"
    "so the same pair id) is skipped there, so running the command again completes a fleet\n"
    "that was left partly updated. One JSON line per file and edge goes to stdout ({\"file\",\n"
    "\"pair_id\", \"at\": HOST:PORT, \"action\": uploaded|replaced|skipped, \"edge\": the\n"
    "edge's answer}), one line per edge to stderr; --json prints one document instead. --list\n"
    "prints the deployed bundles ({\"bundles\"} for one edge, {\"edges\"} for several, with a\n"
    "table of which edge holds what on stderr); --remove takes a pair id off every edge.\n"
    "Exit code: 0 every edge did it, 1 none did, 2 usage, 3 some edges did and some did not\n"
    "(each failure named on stderr).",
    options,
    0,
    -1,
    NULL,
    "token-file",
};

/* The edges of --edge and --fleet as one comma-separated list (new string) or NULL with the
 * error set. */
static char *edge_list(void)
{
    size_t cap = (A.edge ? strlen(A.edge) : 0) + 2;
    char *text = NULL;
    if (A.fleet) {
        size_t len;
        if (sl_read_file(A.fleet, &text, &len)) return NULL;
        cap += len;
    }
    char *out = malloc(cap);
    if (!out) {
        free(text);
        sl_err(SL_ENOMEM, "out of memory");
        return NULL;
    }
    out[0] = '\0';
    if (A.edge) strcat(out, A.edge);
    for (char *line = text, *next; line && *line; line = next) {
        next = line + strcspn(line, "\n");
        if (*next) *next++ = '\0';
        line[strcspn(line, "#")] = '\0';
        while (isspace((unsigned char)*line))
            line++;
        size_t l = strlen(line);
        while (l && isspace((unsigned char)line[l - 1]))
            line[--l] = '\0';
        if (!l) continue;
        if (out[0]) strcat(out, ",");
        strcat(out, line);
    }
    free(text);
    return out;
}

typedef struct local_file {
    const char *path;
    char sha[65];
} local_file;

/* o's string member key, or "" when it has none. */
static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* The entry of the edge's LIST answer with this SHA-256, or NULL. */
static const cJSON *held(const cJSON *bundles, const char *sha)
{
    const cJSON *b;
    cJSON_ArrayForEach(b, bundles)
    {
        if (strcmp(str_of(b, "sha256"), sha) == 0) return b;
    }
    return NULL;
}

/* The edge's bundles ({"bundles": [...]}) as a new cJSON, or NULL with the error set. */
static cJSON *list_edge(sl_client *cl)
{
    char *json = NULL;
    if (sl_client_list(cl, &json)) return NULL;
    cJSON *doc = cJSON_Parse(json);
    free(json);
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "bundles"))) {
        cJSON_Delete(doc);
        sl_err(SL_EFORMAT, "the edge's list is not {\"bundles\": [...]}");
        return NULL;
    }
    return doc;
}

/* Brings one edge up to date with files[0..n): adds {"file", "pair_id", "sha256", "action",
 * "edge"} to items per file done; returns the number of files done, and sets *why to the first
 * failure ("" when none). */
static int deploy_edge(sl_client *cl, const local_file *files, int n, cJSON *items, char *why,
                       size_t why_n, const char *addr)
{
    why[0] = '\0';
    cJSON *list = list_edge(cl);
    if (!list) {
        snprintf(why, why_n, "%s", sl_errmsg());
        return 0;
    }
    const cJSON *bundles = cJSON_GetObjectItemCaseSensitive(list, "bundles");
    int done = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *have = held(bundles, files[i].sha);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", files[i].path);
        cJSON_AddStringToObject(o, "at", addr);
        if (have) {
            cJSON_AddStringToObject(o, "pair_id", str_of(have, "pair_id"));
            cJSON_AddStringToObject(o, "action", "skipped");
            cJSON_AddItemToObject(o, "edge", cJSON_Duplicate(have, 1));
        } else {
            char hex[33], *json = NULL;
            int rc = sl_client_deploy(cl, files[i].path, hex, &json);
            if (rc != SL_OK) {
                cJSON_Delete(o);
                if (!why[0]) snprintf(why, why_n, "%s: %s", files[i].path, sl_errmsg());
                if (rc == SL_ENET || rc == SL_ETIMEOUT) break; /* the edge is gone */
                continue;
            }
            cJSON *ans = json ? cJSON_Parse(json) : NULL;
            free(json);
            cJSON_AddStringToObject(o, "pair_id", hex);
            cJSON_AddStringToObject(o, "action",
                                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "replaced"))
                                        ? "replaced"
                                        : "uploaded");
            cJSON_AddItemToObject(o, "edge", ans ? ans : cJSON_CreateNull());
        }
        cJSON_AddStringToObject(o, "sha256", files[i].sha);
        cJSON_AddItemToArray(items, o);
        done++;
    }
    cJSON_Delete(list);
    return done;
}

/* Prints a line of JSON on stdout. */
static void print_line(const cJSON *o)
{
    char *line = cJSON_PrintUnformatted(o);
    if (line) printf("%s\n", line);
    fflush(stdout);
    free(line);
}

/* Which edge holds what: one row per (pair id, SHA-256), one column per edge, on stderr. */
static void print_holdings(const cJSON *edges)
{
    fprintf(stderr, "%-32s  %-12s", "pair id", "sha256");
    const cJSON *e;
    cJSON_ArrayForEach(e, edges)
    {
        fprintf(stderr, "  %s", str_of(e, "edge"));
    }
    fprintf(stderr, "\n");
    cJSON *seen = cJSON_CreateObject();
    cJSON_ArrayForEach(e, edges)
    {
        const cJSON *b;
        cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(e, "bundles"))
        {
            const char *pid = str_of(b, "pair_id"), *sha = str_of(b, "sha256");
            char key[100];
            snprintf(key, sizeof key, "%s %s", pid, sha);
            if (cJSON_GetObjectItemCaseSensitive(seen, key)) continue;
            cJSON_AddTrueToObject(seen, key);
            fprintf(stderr, "%-32s  %-12.12s", pid, sha);
            const cJSON *e2;
            cJSON_ArrayForEach(e2, edges)
            {
                const cJSON *bs = cJSON_GetObjectItemCaseSensitive(e2, "bundles");
                const char *mark = bs ? "-" : "?";
                const cJSON *h = bs ? held(bs, sha) : NULL;
                if (h) mark = "x";
                int w = (int)strlen(str_of(e2, "edge"));
                fprintf(stderr, "  %-*s", w, mark);
            }
            fprintf(stderr, "\n");
        }
    }
    cJSON_Delete(seen);
    fprintf(stderr, "(x: holds this file, -: does not, ?: edge unreachable)\n");
}

int sl_cmd_deploy(int argc, char **argv)
{
    memset(&A, 0, sizeof A);
    int nfiles, rc = sl_opt_parse(&sl_cmd_deploy_spec, argc, argv, &nfiles);
    if (rc != SL_OPT_CONTINUE) return rc;
    if (!A.edge && !A.fleet) return sl_usage_error("give --edge HOST:PORT[,...] or --fleet FILE");
    if ((A.list != 0) + (A.remove != NULL) + (nfiles > 0) != 1)
        return sl_usage_error("give bundle files, --list or --remove PAIRID (exactly one of them)");
    uint8_t pair[SL_PAIR_ID_SIZE];
    if (A.remove && sl_pair_from_hex(A.remove, pair))
        return sl_usage_error("--remove '%s': a pair id is 32 hex digits", A.remove);
    char *edges = edge_list();
    if (!edges) return sl_fail();
    static sl_hostport addrs[MAX_FLEET];
    int naddr;
    if (sl_net_hostport_list(edges, addrs, MAX_FLEET, &naddr)) {
        free(edges);
        return sl_usage_error("%s %s", A.fleet ? "--edge/--fleet" : "--edge", sl_errmsg());
    }
    free(edges);
    char *token;
    size_t tlen;
    if (sl_auth_token_load(A.token_file, &token, &tlen)) return sl_fail();
    local_file *files = calloc((size_t)nfiles + 1, sizeof *files);
    if (!files) {
        free(token);
        sl_err(SL_ENOMEM, "out of memory");
        return sl_fail();
    }
    for (int i = 0; i < nfiles && rc == SL_OPT_CONTINUE; i++) {
        uint8_t d[SL_SHA256_SIZE];
        files[i].path = argv[i + 1];
        if (sl_sha256_file(files[i].path, d)) rc = SL_EXIT_FAIL;
        sl_sha256_hex(d, files[i].sha);
    }
    if (rc != SL_OPT_CONTINUE) {
        free(token);
        free(files);
        return sl_fail();
    }

    cJSON *report = cJSON_CreateArray();
    int good = 0, held_anywhere = 0;
    for (int e = 0; e < naddr; e++) {
        char addr[300], why[1400] = "";
        snprintf(addr, sizeof addr, "%.255s:%d", addrs[e].host, addrs[e].port);
        cJSON *er = cJSON_CreateObject();
        cJSON_AddStringToObject(er, "edge", addr);
        cJSON_AddItemToArray(report, er);
        sl_client_config cfg;
        sl_client_config_defaults(&cfg);
        cfg.host = addrs[e].host;
        cfg.port = addrs[e].port;
        cfg.token = token;
        cfg.token_len = tlen;
        sl_client *cl = NULL;
        if (sl_client_new(&cfg, &cl) || sl_client_connect(cl)) {
            snprintf(why, sizeof why, "%s", sl_errmsg());
        } else if (A.list) {
            cJSON *doc = list_edge(cl);
            if (doc) {
                cJSON_AddItemToObject(er, "bundles", cJSON_DetachItemFromObject(doc, "bundles"));
                cJSON_Delete(doc);
            } else {
                snprintf(why, sizeof why, "%s", sl_errmsg());
            }
        } else if (A.remove) {
            int r = sl_client_remove(cl, pair);
            if (r == SL_OK || r == SL_ENOTFOUND) {
                held_anywhere += r == SL_OK;
                cJSON_AddStringToObject(er, "action", r == SL_OK ? "removed" : "absent");
                sl_log_info("%s: %s %s", addr, r == SL_OK ? "removed" : "does not hold", A.remove);
            } else {
                snprintf(why, sizeof why, "%s", sl_errmsg());
            }
        } else {
            cJSON *items = cJSON_AddArrayToObject(er, "bundles");
            int done = deploy_edge(cl, files, nfiles, items, why, sizeof why, addr);
            int up = 0, skip = 0;
            const cJSON *it;
            cJSON_ArrayForEach(it, items)
            {
                const char *act = str_of(it, "action");
                skip += strcmp(act, "skipped") == 0;
                up += strcmp(act, "skipped") != 0;
                if (!A.json) print_line(it);
            }
            if (done == nfiles)
                sl_log_info("%s: %d uploaded, %d already held", addr, up, skip);
            else if (!why[0])
                snprintf(why, sizeof why, "%d of %d file(s) not installed", nfiles - done, nfiles);
        }
        sl_client_free(cl);
        cJSON_AddBoolToObject(er, "ok", why[0] == 0);
        if (why[0]) {
            cJSON_AddStringToObject(er, "error", why);
            sl_log_error("%s: failed: %s", addr, why);
        }
        good += why[0] == 0;
    }
    free(token);
    free(files);

    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "edges", report);
    cJSON_AddNumberToObject(doc, "ok", good);
    cJSON_AddNumberToObject(doc, "failed", naddr - good);
    if (A.json) {
        print_line(doc);
    } else if (A.list && naddr == 1) {
        /* One edge: its own answer, as before fleets existed. */
        cJSON *b = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(report, 0), "bundles");
        if (b) {
            cJSON *one = cJSON_CreateObject();
            cJSON_AddItemReferenceToObject(one, "bundles", b);
            print_line(one);
            cJSON_Delete(one);
        }
    } else if (A.list) {
        print_line(doc);
    }
    if (A.list && naddr > 1) print_holdings(report);
    int code = good == naddr ? SL_EXIT_OK : good == 0 ? SL_EXIT_FAIL : EXIT_PARTIAL;
    if (naddr > 1 && code != SL_EXIT_OK)
        sl_log_error("%d of %d edges failed (exit %d): run the same command again to complete "
                     "the fleet",
                     naddr - good, naddr, code);
    else if (naddr > 1 && nfiles)
        sl_log_info("all %d edges hold every bundle", naddr);
    if (A.remove && code == SL_EXIT_OK && !held_anywhere) {
        sl_log_error("no edge holds pair id %s", A.remove);
        code = SL_EXIT_FAIL;
    }
    cJSON_Delete(doc);
    return code;
}
