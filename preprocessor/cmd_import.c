/* cmd_import.c: `sl-preprocess import` — a PyTorch state_dict (flat HDF5) into a model bundle. */
#include "common/cli.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/status.h"
#include "model/bundle.h"
#include "model/tensor_io.h"
#include "model/zoo.h"
#include "preprocessor/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    const char *sd, *arch, *out;
} A;

static const sl_opt options[] = {
    SL_OPT_STRING(0, "state-dict", &A.sd, "FILE.h5", "the state_dict (flat HDF5)"),
    SL_OPT_STRING(0, "arch", &A.arch, "NAME", "the architecture (sl-preprocess zoo --list)"),
    SL_OPT_GROUP(sl_cmd_arch_opts),
    SL_OPT_OUTPUT(&A.out, "output bundle"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_import_spec = {
    "sl-preprocess import --state-dict FILE.h5 --arch NAME [--classes N] [--input CxHxW]\n"
    "                     [--labels a,b,c] -o model.h5",
    "Import weights from a flat HDF5 file whose datasets are named by PyTorch state_dict keys, as\n"
    "written by:\n"
    "    with h5py.File('sd.h5', 'w') as f:\n"
    "        for k, v in model.state_dict().items(): f[k] = v.numpy()\n"
    "Missing, unexpected and mis-shaped keys are listed by name. --classes defaults to the size\n"
    "of the state_dict's last layer.",
    options,
    0,
    0,
    NULL,
    "state-dict arch output",
};

static int import_labelled(const char *sd, const char *arch, const sl_zoo_opts *zo_in,
                           const char *out, char **names, int nlabels);

int sl_cmd_import(int argc, char **argv)
{
    memset(&A, 0, sizeof A);
    memset(&sl_cmd_arch, 0, sizeof sl_cmd_arch);
    int rc = sl_opt_parse(&sl_cmd_import_spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    sl_zoo_opts zo = sl_cmd_arch.zoo;
    zo.init = 0;
    int nlabels = sl_cmd_arch.labels.n;
    if (nlabels && !zo.classes) zo.classes = nlabels;
    rc = import_labelled(A.sd, A.arch, &zo, A.out, sl_cmd_arch.labels.items, nlabels);
    sl_list_free(&sl_cmd_arch.labels);
    return rc;
}

/* Builds `arch`, loads the state_dict `sd` into it, names its classes and writes `out`. */
static int import_labelled(const char *sd, const char *arch, const sl_zoo_opts *zo_in,
                           const char *out, char **names, int nlabels)
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
