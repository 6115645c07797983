/* cmd_import.c: `sl-preprocess import` — a PyTorch state_dict (flat HDF5) into a model bundle. */
#include "common/cli.h"
#include "common/log.h"
#include "common/status.h"
#include "model/bundle.h"
#include "model/tensor_io.h"
#include "model/zoo.h"
#include "preprocessor/commands.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: sl-preprocess import --state-dict FILE.h5 --arch NAME [--classes N] [--input CxHxW]\n"
    "                            [--labels a,b,c] -o model.h5\n"
    "\n"
    "Import weights from a flat HDF5 file whose datasets are named by PyTorch state_dict keys, as\n"
    "written by:\n"
    "    with h5py.File('sd.h5', 'w') as f:\n"
    "        for k, v in model.state_dict().items(): f[k] = v.numpy()\n"
    "Missing, unexpected and mis-shaped keys are listed by name. --classes defaults to the size\n"
    "of the state_dict's last layer.\n";

static int import_labelled(const char *sd, const char *arch, const sl_zoo_opts *zo_in,
                           const char *out,
                           char **names, int nlabels);

int sl_cmd_import(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv, help)) return SL_EXIT_OK;
    static const struct option opts[] = {{"state-dict", required_argument, 0, 's'},
                                         {"arch", required_argument, 0, 'a'},
                                         {"classes", required_argument, 0, 'c'},
                                         {"input", required_argument, 0, 'i'},
                                         {"labels", required_argument, 0, 'l'},
                                         {"output", required_argument, 0, 'o'},
                                         {0, 0, 0, 0}};
    sl_zoo_opts zo = {.init = 0};
    const char *sd = NULL, *arch = NULL, *out = NULL, *labels = NULL;
    long v;
    int64_t dims[3];
    int nd, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 's': sd = optarg; break;
        case 'a': arch = optarg; break;
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
        case 'o': out = optarg; break;
        default: return sl_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc) return sl_usage_error("unexpected argument '%s'", argv[optind]);
    if (!sd || !arch || !out) return sl_usage_error("--state-dict, --arch and -o are required");
    char *names[1024], *buf = NULL; /* names point into buf */
    int nlabels = 0;
    if (labels) {
        if (sl_parse_list("--labels", labels, &buf, names, 1024, &nlabels))
            return sl_usage_error("%s", sl_errmsg());
        if (!zo.classes) zo.classes = nlabels;
    }
    int rc = import_labelled(sd, arch, &zo, out, names, nlabels);
    free(buf);
    return rc;
}

/* Builds `arch`, loads the state_dict `sd` into it, names its classes and writes `out`. */
static int import_labelled(const char *sd, const char *arch, const sl_zoo_opts *zo_in,
                           const char *out,
                           char **names, int nlabels)
{
    sl_zoo_opts zo = *zo_in;
    sl_graph *g;
    if (sl_zoo_build(arch, &zo, &g)) return sl_fail();
    /* Without --classes, take the class count from the state_dict's classifier. */
    int rc = sl_import_state_dict(g, sd);
    if (rc == SL_EFORMAT && !zo.classes) {
        sl_tensor *last = NULL;
        const sl_node *fc = &g->nodes[g->out_idx[0]];
        char key[SL_NAME_MAX + 16];
        snprintf(key, sizeof key, "%s.bias", fc->name);
        if (fc->op == SL_OP_LINEAR && sl_tensor_h5_read(sd, key, &last) == SL_OK) {
            zo.classes = (int)sl_tensor_numel(last);
            sl_tensor_free(last);
            sl_graph_free(g);
            if (sl_zoo_build(arch, &zo, &g)) return sl_fail();
            rc = sl_import_state_dict(g, sd);
        }
    }
    if (rc) {
        sl_graph_free(g);
        return sl_fail();
    }
    if (nlabels && nlabels != g->nodes[g->out_idx[0]].out.d[0]) {
        sl_graph_free(g);
        return sl_usage_error("%d --labels for a model with %lld classes", nlabels,
                              (long long)g->nodes[g->out_idx[0]].out.d[0]);
    }
    if (nlabels && sl_graph_set_classes(g, (const char *const *)names, nlabels)) {
        sl_graph_free(g);
        return sl_fail();
    }
    sl_bundle *b = sl_bundle_new(g);
    rc = b ? sl_bundle_write(out, b) : sl_err(SL_ENOMEM, "out of memory");
    if (!b) sl_graph_free(g);
    sl_bundle_free(b);
    if (rc) return sl_fail();
    sl_log_info("imported %s into %s (%s)", sd, out, arch);
    return SL_EXIT_OK;
}
