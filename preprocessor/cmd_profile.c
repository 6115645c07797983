/* cmd_profile.c: `sl-preprocess profile` — measure a model on this host into profile JSON. */
#include "common/cli.h"
#include "common/log.h"
#include "common/status.h"
#include "model/bundle.h"
#include "preprocessor/commands.h"
#include "preprocessor/profile.h"
#include "preprocessor/tl.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: sl-preprocess profile MODEL.h5 [--threads N] [--batch N] [--warmup N] [--repeats N]\n"
    "                             [--tl pool,conv-r4-s2-b8,...] [-o profile.json]\n"
    "\n"
    "Measure a model on this host (docs/profile.md): every block between consecutive\n"
    "single-tensor cut points, every node alone (for DADS), the whole model, the bytes at each\n"
    "cut, the wire framing speed, and per cut the encoder/decoder time and wire bytes of each\n"
    "transfer layer given. Batch norm is folded into convs as in deployment.\n"
    "  --threads N      intra-op threads (default: libtorch's default)\n"
    "  --batch N        images per run (default 1)\n"
    "  --warmup N       untimed runs before each measurement (default 2)\n"
    "  --repeats N      timed runs per measurement; medians are reported (default 10)\n"
    "  --tl LIST        transfer layers to measure at every cut (default pool,conv-r4-s2-b8;\n"
    "                   'none' for none)\n"
    "  -o, --output F   write the profile here (default: JSON on stdout)\n";

int sl_cmd_profile(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv, help)) return SL_EXIT_OK;
    static const struct option lo[] = {{"threads", required_argument, 0, 't'},
                                       {"batch", required_argument, 0, 'b'},
                                       {"warmup", required_argument, 0, 'w'},
                                       {"repeats", required_argument, 0, 'r'},
                                       {"tl", required_argument, 0, 'L'},
                                       {"output", required_argument, 0, 'o'},
                                       {0, 0, 0, 0}};
    long threads = 0, batch = 1, warmup = 2, repeats = 10;
    const char *tl = "pool,conv-r4-s2-b8", *output = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:", lo, NULL)) != -1) {
        int rc = SL_OK;
        switch (c) {
        case 't':
            rc = sl_parse_long("--threads", optarg, 1, 1024, &threads);
            break;
        case 'b':
            rc = sl_parse_long("--batch", optarg, 1, 4096, &batch);
            break;
        case 'w':
            rc = sl_parse_long("--warmup", optarg, 0, 100000, &warmup);
            break;
        case 'r':
            rc = sl_parse_long("--repeats", optarg, 1, 100000, &repeats);
            break;
        case 'L':
            tl = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case ':':
            return sl_usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return sl_usage_error("unknown option '%s'", argv[optind - 1]);
        }
        if (rc) return sl_usage_error("%s", sl_errmsg());
    }
    if (optind != argc - 1) return sl_usage_error("expected one MODEL.h5");
    /* --tl "a,b" into ids, each checked before the (slow) measuring starts. */
    char *list = strdup(strcmp(tl, "none") ? tl : "");
    const char *ids[64];
    int nids = 0;
    for (char *save = NULL, *t = list ? strtok_r(list, ",", &save) : NULL; t;
         t = strtok_r(NULL, ",", &save)) {
        if (nids == 64) {
            free(list);
            return sl_usage_error("--tl: at most 64 configurations");
        }
        sl_tl_config cfg;
        if (sl_tl_parse_config(t, &cfg)) {
            free(list);
            return sl_usage_error("--tl: %s", sl_errmsg());
        }
        ids[nids++] = t;
    }
    sl_profile_opts po = {(int)threads, (int)batch, (int)warmup, (int)repeats, ids, nids, 1};
    sl_profile *p = NULL;
    sl_bundle *b = NULL;
    int rc = sl_bundle_read(argv[optind], &b);
    if (!rc) rc = sl_profile_measure(b->graph, &po, &p);
    if (!rc && output) rc = sl_profile_write(output, p);
    if (!rc && !output) {
        char *js = sl_profile_to_json(p);
        if (js)
            puts(js);
        else
            rc = SL_ENOMEM;
        free(js);
    }
    if (!rc)
        sl_log_info("%s: %d nodes, %d cuts; whole model %.4fs (p10 %.4f, p90 %.4f), blocks %.4fs "
                    "(gap %+.4fs), serialise %.2f GB/s, %d threads, batch %d%s%s",
                    p->model, p->n_nodes, p->n_cuts, p->total_median_s, p->total_p10_s,
                    p->total_p90_s, p->block_sum_s, p->gap_s, p->serialise_bytes_per_s / 1e9,
                    p->threads, p->batch, output ? "; wrote " : "", output ? output : "");
    sl_profile_free(p);
    sl_bundle_free(b);
    free(list);
    return rc ? sl_fail() : SL_EXIT_OK;
}
