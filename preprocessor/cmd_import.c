/* cmd_import.c: `sl-preprocess import` — a PyTorch state_dict (flat HDF5, onto a zoo
 * architecture) or an ONNX model (any CNN the op table covers) into a model bundle. */
#include "common/cli.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/status.h"
#include "model/bundle.h"
#include "model/onnx.h"
#include "model/tensor_io.h"
#include "model/zoo.h"
#include "preprocessor/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-channel normalisation given with --mean / --std. */
typedef struct norm_opt {
    float v[4];
    int n;
} norm_opt;

static struct {
    const char *sd, *onnx, *arch, *out;
    norm_opt mean, std;
} A;

static int parse_norm(void *dest, const char *v, const char *what, double lo)
{
    char *buf, *items[5];
    int n;
    if (sl_parse_list(what, v, &buf, items, 4, &n)) return SL_EARG;
    norm_opt *o = dest;
    for (int i = 0; i < n; i++) {
        double x;
        if (sl_parse_double(what, items[i], lo, 1e6, &x)) {
            free(buf);
            return SL_EARG;
        }
        o->v[i] = (float)x;
    }
    o->n = n;
    free(buf);
    return SL_OK;
}

static int parse_mean(void *dest, const char *v)
{
    return parse_norm(dest, v, "--mean", -1e6);
}

static int parse_std(void *dest, const char *v)
{
    return parse_norm(dest, v, "--std", 1e-12);
}

static const sl_opt options[] = {
    SL_OPT_STRING(0, "state-dict", &A.sd, "FILE.h5", "the state_dict (flat HDF5), with --arch"),
    SL_OPT_STRING(0, "arch", &A.arch, "NAME", "the architecture (sl-preprocess zoo --list)"),
    SL_OPT_STRING(0, "onnx", &A.onnx, "FILE.onnx", "an ONNX model (opsets 11-17) instead"),
    SL_OPT_GROUP(sl_cmd_arch_opts),
    SL_OPT_CALLBACK(0, "mean", &A.mean, "M1,M2,M3", parse_mean,
                    "per-channel input mean stored in the bundle (default: the architecture's;\n"
                    "ONNX: 0)"),
    SL_OPT_CALLBACK(0, "std", &A.std, "S1,S2,S3", parse_std,
                    "per-channel input std stored in the bundle (default: the architecture's;\n"
                    "ONNX: 1)"),
    SL_OPT_OUTPUT(&A.out, "output bundle"),
    SL_OPT_END,
};

const sl_optspec sl_cmd_import_spec = {
    "sl-preprocess import --state-dict FILE.h5 --arch NAME [--classes N] [--input CxHxW]\n"
    "                     [--labels a,b,c] [--mean M --std S] -o model.h5\n"
    "sl-preprocess import --onnx FILE.onnx [--input CxHxW] [--labels a,b,c] [--mean M --std S]\n"
    "                     -o model.h5",
    "Import weights from a flat HDF5 file whose datasets are named by PyTorch state_dict keys, as\n"
    "written by:\n"
    "    with h5py.File('sd.h5', 'w') as f:\n"
    "        for k, v in model.state_dict().items(): f[k] = v.numpy()\n"
    "Missing, unexpected and mis-shaped keys are listed by name. --classes defaults to the size\n"
    "of the state_dict's last layer.\n"
    "\n"
    "Or import any CNN from ONNX, as written by:\n"
    "    torch.onnx.export(model.eval(), torch.randn(1, 3, 224, 224), 'model.onnx',\n"
    "                      opset_version=13, input_names=['image'])\n"
    "Constants, identities and shape arithmetic are folded, batch norm is kept for the executor\n"
    "to fold. --input gives the size when the model's input dims are symbolic. Translated ops:\n"
    "    Add AveragePool BatchNormalization Cast Clip Concat Constant ConstantOfShape Conv Div\n"
    "    Dropout Flatten Gather Gemm GlobalAveragePool GlobalMaxPool HardSigmoid HardSwish\n"
    "    Identity MatMul MaxPool Mul Pad ReduceMean Relu Reshape Shape Sigmoid Slice Softmax\n"
    "    Split Squeeze Sub Transpose Unsqueeze\n"
    "(with limits: an op used in a way the graph IR cannot express is an error naming the node).",
    options,
    0,
    0,
    NULL,
    "output",
};

static int import_labelled(const char *sd, const char *arch, const sl_zoo_opts *zo_in,
                           const char *out, char **names, int nlabels);
static int import_onnx(const char *path, const sl_zoo_opts *zo, const char *out, char **names,
                       int nlabels);

int sl_cmd_import(int argc, char **argv)
{
    memset(&A, 0, sizeof A);
    memset(&sl_cmd_arch, 0, sizeof sl_cmd_arch);
    int rc = sl_opt_parse(&sl_cmd_import_spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    sl_zoo_opts zo = sl_cmd_arch.zoo;
    zo.init = 0;
    int nlabels = sl_cmd_arch.labels.n;
    if (!A.sd == !A.onnx) rc = sl_usage_error("give one of --state-dict FILE.h5 and --onnx FILE.onnx");
    else if (A.sd && !A.arch) rc = sl_usage_error("missing --arch NAME (with --state-dict)");
    else if (A.onnx && A.arch) rc = sl_usage_error("--arch goes with --state-dict; an ONNX model brings its own");
    else if (A.onnx && zo.classes) rc = sl_usage_error("--classes goes with --state-dict; an ONNX model's classes are its outputs");
    else if (A.mean.n != A.std.n) rc = sl_usage_error("--mean and --std need the same number of values");
    if (rc != SL_OPT_CONTINUE) {
        sl_list_free(&sl_cmd_arch.labels);
        return rc;
    }
    if (nlabels && !zo.classes) zo.classes = nlabels;
    if (A.onnx) rc = import_onnx(A.onnx, &zo, A.out, sl_cmd_arch.labels.items, nlabels);
    else rc = import_labelled(A.sd, A.arch, &zo, A.out, sl_cmd_arch.labels.items, nlabels);
    sl_list_free(&sl_cmd_arch.labels);
    return rc;
}

/* Names the classes of g and sets its normalisation from the options, then writes g to `out`
 * (the bundle takes g, also on failure). Returns the exit code. */
static int finish(sl_graph *g, const char *out, char **names, int nlabels, const char *from)
{
    const sl_node *last = &g->nodes[g->out_idx[0]];
    int64_t classes = sl_shape_numel(&last->out);
    if (nlabels && nlabels != classes) {
        sl_graph_free(g);
        return sl_usage_error("%d --labels for a model with %lld classes", nlabels,
                              (long long)classes);
    }
    if (nlabels && sl_graph_set_classes(g, (const char *const *)names, nlabels)) {
        sl_graph_free(g);
        return sl_fail();
    }
    if (A.mean.n) {
        if (A.mean.n != g->input_shape.d[0]) {
            int64_t c = g->input_shape.d[0];
            sl_graph_free(g);
            return sl_usage_error("--mean and --std have %d values for %lld input channels",
                                  A.mean.n, (long long)c);
        }
        for (int i = 0; i < A.mean.n; i++) {
            g->mean[i] = A.mean.v[i];
            g->std[i] = A.std.v[i];
        }
    }
    sl_bundle *b = sl_bundle_new(g);
    int rc = b ? sl_bundle_write(out, b) : sl_err(SL_ENOMEM, "out of memory");
    if (!b) sl_graph_free(g);
    sl_bundle_free(b);
    if (rc) return sl_fail();
    sl_log_info("imported %s into %s", from, out);
    return SL_EXIT_OK;
}

/* Translates the ONNX model at `path` and writes it to `out`. */
static int import_onnx(const char *path, const sl_zoo_opts *zo, const char *out, char **names,
                       int nlabels)
{
    sl_onnx_opts o = {zo->c, zo->h, zo->w};
    sl_graph *g;
    if (sl_onnx_import(path, &o, &g)) return sl_fail();
    sl_log_info("%s: %d nodes, input %s %lldx%lldx%lld", path, g->nnodes, g->input_name,
                (long long)g->input_shape.d[0], (long long)g->input_shape.d[1],
                (long long)g->input_shape.d[2]);
    return finish(g, out, names, nlabels, path);
}

/* Builds `arch`, loads the state_dict `sd` into it, names its classes and writes `out`. */
static int import_labelled(const char *sd, const char *arch, const sl_zoo_opts *zo_in,
                           const char *out, char **names, int nlabels)
{
    sl_zoo_opts zo = *zo_in;
    sl_graph *g;
    if (sl_zoo_build(arch, &zo, &g)) return sl_fail();
    /* Without --classes, take the class count from the state_dict's classifier, before the
     * import reads every tensor (a VGG's are half a gigabyte) and only then finds it mismatched. */
    const sl_node *fc = &g->nodes[g->out_idx[0]];
    sl_tensor *last = NULL;
    char key[SL_NAME_MAX + 16];
    snprintf(key, sizeof key, "%s.bias", fc->name);
    if (!zo.classes && fc->op == SL_OP_LINEAR && sl_tensor_h5_read(sd, key, &last) == SL_OK) {
        int64_t k = sl_tensor_numel(last);
        sl_tensor_free(last);
        if (k != fc->a.out) {
            zo.classes = (int)k;
            sl_graph_free(g);
            if (sl_zoo_build(arch, &zo, &g)) return sl_fail();
        }
    }
    int rc = sl_import_state_dict(g, sd);
    if (rc) {
        sl_graph_free(g);
        return sl_fail();
    }
    char from[1024];
    snprintf(from, sizeof from, "%s (%s)", sd, arch);
    return finish(g, out, names, nlabels, from);
}
