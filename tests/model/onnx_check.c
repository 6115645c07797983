/* onnx_check.c: the C side of tests/model/onnx_parity.py. Imports an ONNX model with
 * sl_onnx_import, runs it on IN.h5 (/input) with and without batch-norm folding, compares with
 * PyTorch's output REF.h5 (/output), then splits it at a single-tensor cut of C x H x W in the
 * middle of the graph (or at --at TENSOR) and checks device then edge equals the whole.
 *
 * The whole model runs compiled (folded and not) and plain (every node through the op table).
 *
 * With --bundle FILE.h5 it first does in this process what `sl-preprocess import --onnx` and
 * `sl-offload run` would do in two more (each loading libtorch, about 1 s of CPU): the imported
 * graph gets the --labels, --mean and --std given, is written to FILE.h5 (sl_bundle_write) and
 * read back with the check the run command makes (sl_bundle_read_checked), and the read-back
 * graph's output on IN.h5, compiled with folding as `sl-offload run` runs it, is written to OUT.h5
 * (dataset /output) for onnx_parity.py to check as it checks the command's. Every check after
 * that runs on the read-back graph.
 *
 * usage: onnx_check MODEL.onnx IN.h5 REF.h5 [TOL] [--at TENSOR]
 *                   [--bundle FILE.h5 --labels A,B,.. --mean M1,M2,M3 --std S1,S2,S3 -o OUT.h5]
 * Prints one line per check with the figure; exit 0 when every check holds, 1 otherwise. */
#include "common/status.h"
#include "model/bundle.h"
#include "model/exec.h"
#include "model/onnx.h"
#include "model/tensor_io.h"
#include "preprocessor/split.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The compiled path's tolerance for a split against the whole (model/exec.h). */
#define SPLIT_TOL 1e-5

static int fail(const char *what)
{
    fprintf(stderr, "onnx_check: %s: %s\n", what, sl_errmsg());
    return 1;
}

/* max |a - b| / max(|b|, 1e-12); -1 on error. */
static double rel_err(const sl_tensor *a, const sl_tensor *b)
{
    double d, m;
    if (sl_max_abs_diff(a, b, &d, &m)) return -1;
    return d / (m > 1e-12 ? m : 1e-12);
}

static int run(sl_graph *g, const char *const *from, int nfrom, sl_value *in, int fold, int plain,
               sl_value *out)
{
    sl_exec *e = NULL;
    sl_exec_opts o = {.fold_bn = fold, .plain = plain};
    int rc = sl_exec_new(g, from, nfrom, NULL, 0, &o, &e);
    if (!rc) rc = sl_exec_run(e, in, out);
    if (e) sl_exec_free(e);
    return rc;
}

/* Parses the comma-separated numbers of `text` into v[0..max); their count, or -1. */
static int parse_floats(const char *text, float *v, int max)
{
    int n = 0;
    for (const char *p = text; *p;) {
        char *end;
        double d = strtod(p, &end);
        if (end == p || n == max || (*end && *end != ',')) return -1;
        v[n++] = (float)d;
        p = *end ? end + 1 : end;
    }
    return n;
}

/* Gives g the labels, mean and std (args as on the command line), writes it to `path` and reads
 * it back checked into *out (the caller frees); what `sl-preprocess import --onnx` and `sl-offload
 * run` do with the file. Returns 0, or 1 with the reason printed. */
static int bundle_round_trip(sl_graph *g, const char *path, char *labels, const char *mean,
                             const char *std, sl_bundle **out)
{
    const char *names[64];
    int n = 0;
    for (char *t = strtok(labels, ","); t && n < 64; t = strtok(NULL, ","))
        names[n++] = t;
    float m[4], s[4];
    int nm = parse_floats(mean, m, 4), ns = parse_floats(std, s, 4);
    if (nm != g->input_shape.d[0] || ns != nm) {
        fprintf(stderr, "onnx_check: --mean and --std need one value per input channel\n");
        return 1;
    }
    for (int i = 0; i < nm; i++) {
        g->mean[i] = m[i];
        g->std[i] = s[i];
    }
    if (sl_graph_set_classes(g, names, n)) return fail("setting the labels");
    sl_bundle *b = sl_bundle_new(g);
    if (!b) return fail("a bundle");
    int rc = sl_bundle_write(path, b);
    b->graph = NULL; /* g stays the caller's */
    sl_bundle_free(b);
    if (rc) return fail("writing the bundle");
    if (sl_bundle_read_checked(path, out)) return fail("reading the bundle back");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: onnx_check MODEL.onnx IN.h5 REF.h5 [TOL] [--at TENSOR]\n"
                        "       [--bundle FILE.h5 --labels A,B,.. --mean M --std S -o OUT.h5]\n");
        return 2;
    }
    double tol = argc > 4 && strncmp(argv[4], "-", 1) ? atof(argv[4]) : 1e-4;
    const char *at = NULL, *bpath = NULL, *mean = NULL, *std = NULL, *opath = NULL;
    char *labels = NULL;
    for (int i = 4; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--at"))
            at = argv[i + 1];
        else if (!strcmp(argv[i], "--bundle"))
            bpath = argv[i + 1];
        else if (!strcmp(argv[i], "--labels"))
            labels = argv[i + 1];
        else if (!strcmp(argv[i], "--mean"))
            mean = argv[i + 1];
        else if (!strcmp(argv[i], "--std"))
            std = argv[i + 1];
        else if (!strcmp(argv[i], "-o"))
            opath = argv[i + 1];
    }
    if (bpath && (!labels || !mean || !std || !opath)) {
        fprintf(stderr, "onnx_check: --bundle needs --labels, --mean, --std and -o\n");
        return 2;
    }
    sl_graph *g = NULL;
    sl_tensor *x = NULL, *ref = NULL;
    if (sl_onnx_import(argv[1], NULL, &g)) return fail("import");
    if (sl_tensor_h5_read(argv[2], "input", &x) || sl_tensor_h5_read(argv[3], "output", &ref))
        return fail("reading the tensors");
    sl_bundle *b = NULL;
    if (bpath) {
        if (bundle_round_trip(g, bpath, labels, mean, std, &b)) return 1;
        sl_graph_free(g);
        g = b->graph; /* every check below runs on the graph read back */
        b->graph = NULL;
        sl_bundle_free(b);
        sl_value in = {.t = x}, out = {0};
        if (run(g, NULL, 0, &in, 1, 0, &out)) return fail("running the bundle");
        const char *name = "output";
        const sl_tensor *t = out.t;
        if (sl_tensor_h5_write(opath, &name, &t, 1)) return fail("writing the output");
        sl_value_clear(&out);
    }
    int bad = 0;
    sl_tensor *whole = NULL;
    /* The compiled path with and without batch-norm folding, and every node through the op
     * table's forward (plain). */
    static const int modes[3][2] = {{1, 0}, {0, 0}, {1, 1}};
    for (int m = 0; m < 3; m++) {
        sl_value in = {.t = x}, out = {0};
        if (run(g, NULL, 0, &in, modes[m][0], modes[m][1], &out))
            return fail("running the whole model");
        double r = rel_err(out.t, ref);
        int ok = r >= 0 && r <= tol;
        bad += !ok;
        printf("whole %s fold=%d: max relative error to PyTorch %.2e (<= %.0e) %s\n",
               modes[m][1] ? "plain" : "compiled", modes[m][0], r, tol, ok ? "ok" : "FAIL");
        if (m == 0) whole = out.t;
        else sl_value_clear(&out);
    }
    /* The cut: the middle single-tensor cut point whose tensor is C x H x W. */
    char cut[SL_NAME_MAX];
    if (at) {
        snprintf(cut, sizeof cut, "%s", at);
    } else {
        int *idx = NULL, n = 0, pick = -1;
        if (sl_graph_cut_points(g, &idx, &n)) return fail("cut points");
        for (int k = n / 2; k < n && pick < 0; k++)
            if (idx[k] >= 0 && g->nodes[idx[k]].out.ndim == 3) pick = idx[k];
        free(idx);
        if (pick < 0) {
            fprintf(stderr, "onnx_check: no C x H x W cut point in the second half\n");
            return 1;
        }
        snprintf(cut, sizeof cut, "%s", g->nodes[pick].name);
    }
    const char *cuts[1] = {cut};
    sl_bundle *d = NULL, *e = NULL;
    if (sl_split(g, cuts, 1, &d, &e)) return fail("split");
    sl_value in = {.t = x}, wire = {0}, out = {0};
    if (run(d->graph, NULL, 0, &in, 1, 0, &wire)) return fail("running the device half");
    if (run(e->graph, cuts, 1, &wire, 1, 0, &out)) return fail("running the edge half");
    double r = rel_err(out.t, whole);
    int ok = r >= 0 && r <= SPLIT_TOL;
    bad += !ok;
    printf("split at '%s' (%d + %d nodes): max relative error to the whole %.2e (<= %.0e) %s\n",
           cut, d->graph->nnodes, e->graph->nnodes, r, SPLIT_TOL, ok ? "ok" : "FAIL");
    sl_value_clear(&wire);
    sl_value_clear(&out);
    sl_bundle_free(d);
    sl_bundle_free(e);
    sl_tensor_free(whole);
    sl_tensor_free(x);
    sl_tensor_free(ref);
    sl_graph_free(g);
    return bad ? 1 : 0;
}
