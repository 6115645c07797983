/* onnx_check.c: the C side of tests/model/onnx_parity.py. Imports an ONNX model with
 * sl_onnx_import, runs it on IN.h5 (/input) with and without batch-norm folding, compares with
 * PyTorch's output REF.h5 (/output), then splits it at a single-tensor cut of C x H x W in the
 * middle of the graph (or at --at TENSOR) and checks device then edge equals the whole.
 *
 * The whole model runs compiled (folded and not) and plain (every node through the op table).
 *
 * usage: onnx_check MODEL.onnx IN.h5 REF.h5 [TOL] [--at TENSOR]
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

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: onnx_check MODEL.onnx IN.h5 REF.h5 [TOL] [--at TENSOR]\n");
        return 2;
    }
    double tol = argc > 4 && strcmp(argv[4], "--at") ? atof(argv[4]) : 1e-4;
    const char *at = NULL;
    for (int i = 4; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--at")) at = argv[i + 1];
    sl_graph *g = NULL;
    sl_tensor *x = NULL, *ref = NULL;
    if (sl_onnx_import(argv[1], NULL, &g)) return fail("import");
    if (sl_tensor_h5_read(argv[2], "input", &x) || sl_tensor_h5_read(argv[3], "output", &ref))
        return fail("reading the tensors");
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
