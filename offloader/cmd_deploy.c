/* cmd_deploy.c: `sl-offload deploy` — upload, list or remove bundles on a running edge server. */
#include "common/cli.h"
#include "common/opt.h"
#include "common/log.h"
#include "common/status.h"
#include "offloader/commands.h"
#include "offloader/client.h"
#include "offloader/net.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    const char *edge, *token_file, *remove;
    int list;
} A;

static const sl_opt options[] = {
    SL_OPT_STRING(0, "edge", &A.edge, "HOST:PORT", "the edge server"),
    SL_OPT_STRING(0, "token-file", &A.token_file, "FILE", "the shared token (HMAC-SHA256)"),
    SL_OPT_FLAG(0, "list", &A.list, "print the deployed bundles as JSON"),
    SL_OPT_STRING(0, "remove", &A.remove, "PAIRID", "take a pair id (32 hex digits) off the edge"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_deploy_spec = {
    "sl-offload deploy --edge HOST:PORT --token-file FILE BUNDLE.h5...\n"
    "sl-offload deploy --edge HOST:PORT --token-file FILE --list\n"
    "sl-offload deploy --edge HOST:PORT --token-file FILE --remove PAIRID",
    "Upload edge bundles (or a whole model, for the edge-only plan) to a running edge server.\n"
    "The edge checks the SHA-256, validates the bundle, installs it atomically and serves it at\n"
    "once, replacing a bundle of the same pair id. One JSON line per upload goes to stdout\n"
    "({\"file\", \"pair_id\", \"edge\": the edge's answer}). --list prints the deployed bundles as\n"
    "JSON; --remove takes a pair id (32 hex digits) off the edge.",
    options,
    0,
    -1,
    NULL,
    "edge token-file",
};

int sl_cmd_deploy(int argc, char **argv)
{
    memset(&A, 0, sizeof A);
    int nfiles, rc = sl_opt_parse(&sl_cmd_deploy_spec, argc, argv, &nfiles);
    if (rc != SL_OPT_CONTINUE) return rc;
    const char *edge = A.edge, *token_file = A.token_file, *remove = A.remove;
    int list = A.list;
    if ((list != 0) + (remove != NULL) + (nfiles > 0) != 1)
        return sl_usage_error("give bundle files, --list or --remove PAIRID (exactly one of them)");
    uint8_t pair[SL_PAIR_ID_SIZE];
    if (remove && sl_pair_from_hex(remove, pair))
        return sl_usage_error("--remove '%s': a pair id is 32 hex digits", remove);
    char host[256];
    int port;
    if (sl_net_hostport_parse(edge, host, sizeof host, &port))
        return sl_usage_error("--edge %s", sl_errmsg());

    sl_client_config cfg;
    sl_client_config_defaults(&cfg);
    cfg.max_inflight = 1;
    sl_client *cl;
    if (sl_client_new_at(edge, token_file, &cfg, &cl)) return sl_fail();
    rc = sl_client_connect(cl);
    if (rc == SL_OK && list) {
        char *json = NULL;
        rc = sl_client_list(cl, &json);
        if (rc == SL_OK) printf("%s\n", json);
        free(json);
    } else if (rc == SL_OK && remove) {
        rc = sl_client_remove(cl, pair);
        if (rc == SL_OK) sl_log_info("removed %s", remove);
    }
    for (int i = 1; rc == SL_OK && i <= nfiles; i++) {
        char hex[33];
        char *json = NULL;
        rc = sl_client_deploy(cl, argv[i], hex, &json);
        if (rc == SL_OK) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "file", argv[i]);
            cJSON_AddStringToObject(o, "pair_id", hex);
            cJSON *ans = json ? cJSON_Parse(json) : NULL;
            cJSON_AddItemToObject(o, "edge", ans ? ans : cJSON_CreateNull());
            char *line = cJSON_PrintUnformatted(o);
            if (line) printf("%s\n", line);
            fflush(stdout);
            free(line);
            cJSON_Delete(o);
            sl_log_info("%s deployed as pair id %s", argv[i], hex);
        } else {
            sl_err_ctx(rc, "%s: ", argv[i]);
        }
        free(json);
    }
    sl_client_free(cl);
    return rc == SL_OK ? SL_EXIT_OK : sl_fail();
}
