/* fixtures.h: real bundles for the e2e C tests, made with the built sl-preprocess ($SL_BIN). */
#ifndef SL_TEST_E2E_FIXTURES_H
#define SL_TEST_E2E_FIXTURES_H

#include "common/fsutil.h"
#include "model/bundle.h"
#include "offloader/client.h"
#include "offloader/edge_server.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX_TOKEN "e2e-test-token"

/* Runs the shell commands `script` in dir, with $P the built sl-preprocess, output discarded.
 * Returns 0, or 77 (skip) when SL_BIN is not set, or 1 when a command failed. */
static inline int fix_sh(const char *dir, const char *script)
{
    const char *bin = getenv("SL_BIN");
    if (!bin || !*bin) {
        fprintf(stderr, "skip: SL_BIN is not set\n");
        return 77;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "( cd '%s' && P='%s/sl-preprocess' && %s ) >/dev/null 2>&1", dir,
             bin, script);
    return system(cmd) == 0 ? 0 : 1;
}

/* In dir: m.h5 (tinycnn 3x32x32, 10 classes), e.h5 + d.h5 (float split at pool1: the wire is
 * f32 16x16x16), te.h5 + td.h5 (8-bit conv TL at pool2: u8 8x4x4), store/ holding a copy of
 * e.h5. The bundles are tests/e2e/lib.sh's make_models: copied from $SL_E2E_MODELS when CTest's
 * fixture e2e_models made them, else made here. Returns as fix_sh. */
static inline int fix_make(const char *dir)
{
    return fix_sh(dir, "mkdir -p store && "
                       "if [ -n \"$SL_E2E_MODELS\" ] && [ -s \"$SL_E2E_MODELS/te.h5\" ]; then "
                       "for f in m d e tl td te; do cp \"$SL_E2E_MODELS/$f.h5\" . || exit 1; done; "
                       "else $P zoo tinycnn --input 3x32x32 -o m.h5 && "
                       "$P split m.h5 --at pool1 --device d.h5 --edge e.h5 && "
                       "$P insert m.h5 --at pool2 --tl conv --r 4 --s 2 --bits 8 -o tl.h5 && "
                       "$P split tl.h5 --device td.h5 --edge te.h5; fi && cp e.h5 store/");
}

/* fix_make in a new scratch folder (tu_tmpdir), named in *dir; on failure the folder is removed
 * and fix_make's code returned (77: skip). */
static inline int fix_make_tmp(const char **dir)
{
    *dir = tu_tmpdir();
    int rc = fix_make(*dir);
    if (rc) tu_rmtree(*dir);
    return rc;
}

/* The pair id stored in a bundle file (32 hex chars + NUL); 0 or -1. */
static inline int fix_pair_id(const char *path, char hex[33])
{
    sl_bundle *b;
    if (sl_bundle_read(path, &b)) return -1;
    snprintf(hex, 33, "%s", b->pair_id);
    sl_bundle_free(b);
    return 0;
}

/* The defaults for an edge on loopback (any free port) serving the bundles of folder store,
 * with the fixtures' token. */
static inline void fix_edge_config(sl_edge_config *cfg, const char *store)
{
    sl_edge_config_defaults(cfg);
    cfg->host = "127.0.0.1";
    cfg->store_dir = store;
    cfg->token = FIX_TOKEN;
    cfg->token_len = strlen(FIX_TOKEN);
}

/* The defaults for a client of the loopback edge at port, with the fixtures' token. */
static inline void fix_client_config(sl_client_config *cc, int port)
{
    sl_client_config_defaults(cc);
    cc->host = "127.0.0.1";
    cc->port = port;
    cc->token = FIX_TOKEN;
    cc->token_len = strlen(FIX_TOKEN);
}

#endif
