/* cmd_zoo.c: `sl-preprocess zoo NAME` — a model bundle with freshly initialised weights. */
#include "common/cli.h"
#include "common/log.h"
#include "common/status.h"
#include "model/bundle.h"
#include "model/zoo.h"
#include "preprocessor/commands.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: sl-preprocess zoo NAME [--classes N] [--input CxHxW] [--labels a,b,c] [--seed S]\n"
    "                         -o model.h5\n"
    "\n"
    "Make a model bundle of architecture NAME with freshly initialised weights (torchvision's\n"
    "initialisation scheme and parameter names).\n"
    "\n"
    "  --classes N      output classes (default 1000; tinycnn 10; or the number of --labels)\n"
    "  --input CxHxW    input size (default 3x224x224; tinycnn 3x64x64)\n"
    "  --labels LIST    comma-separated class names stored in the bundle\n"
    "  --seed S         seed for the initialisation (default 0)\n"
    "  -o FILE          output bundle\n"
    "  --list           list the architectures and exit\n";

int sl_cmd_zoo(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv, help)) return SL_EXIT_OK;
    static const struct option opts[] = {{"classes", required_argument, 0, 'c'},
                                         {"input", required_argument, 0, 'i'},
                                         {"labels", required_argument, 0, 'l'},
                                         {"seed", required_argument, 0, 's'},
                                         {"output", required_argument, 0, 'o'},
                                         {"list", no_argument, 0, 'L'},
                                         {0, 0, 0, 0}};
    sl_zoo_opts zo = {.init = 1};
    const char *out = NULL, *labels = NULL;
    long v, seed = 0;
    int64_t dims[3];
    int nd, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (sl_parse_long("--classes", optarg, 1, 100000, &v)) return sl_usage_error("%s", sl_errmsg());
            zo.classes = (int)v;
            break;
        case 'i':
            if (sl_parse_shape("--input", optarg, dims, 3, &nd) || nd != 3)
                return sl_usage_error("--input: '%s' is not a shape like 3x224x224", optarg);
            zo.c = dims[0];
            zo.h = dims[1];
            zo.w = dims[2];
            break;
        case 'l': labels = optarg; break;
        case 's':
            if (sl_parse_long("--seed", optarg, 0, 1L << 62, &seed)) return sl_usage_error("%s", sl_errmsg());
            break;
        case 'o': out = optarg; break;
        case 'L':
            for (const char *const *n = sl_zoo_names(); *n; n++) printf("%s\n", *n);
            return SL_EXIT_OK;
        default: return sl_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return sl_usage_error("expected one architecture NAME");
    if (!out) return sl_usage_error("missing -o FILE");
    char *names[1024], *buf = NULL; /* names point into buf */
    int nlabels = 0;
    if (labels) {
        if (sl_parse_list("--labels", labels, &buf, names, 1024, &nlabels))
            return sl_usage_error("%s", sl_errmsg());
        if (zo.classes && zo.classes != nlabels) {
            free(buf);
            return sl_usage_error("--classes %d disagrees with %d --labels", zo.classes, nlabels);
        }
        zo.classes = nlabels;
    }
    sl_manual_seed((uint64_t)seed);
    sl_graph *g;
    if (sl_zoo_build(argv[optind], &zo, &g)) {
        free(buf);
        return sl_fail();
    }
    int set = nlabels ? sl_graph_set_classes(g, (const char *const *)names, nlabels) : SL_OK;
    free(buf); /* the graph keeps its own copies */
    if (set) {
        sl_graph_free(g);
        return sl_fail();
    }
    long long nparams = (long long)sl_graph_param_count(g);
    sl_bundle *b = sl_bundle_new(g);
    int rc = b ? sl_bundle_write(out, b) : sl_err(SL_ENOMEM, "out of memory");
    if (!b) sl_graph_free(g);
    sl_bundle_free(b);
    if (rc) return sl_fail();
    sl_log_info("wrote %s (%s, %lld parameters)", out, argv[optind], nparams);
    return SL_EXIT_OK;
}
