/* parity_inproc.c: the C side of parity_check.py for a model whose weights are too large to
 * write, check and read again several times per test run (vgg11: 133 M weights, 515 MB). In one
 * process, with the weights kept in memory: builds ARCH with sl_zoo_build as `sl-preprocess
 * import --state-dict` does (the class count from PyTorch's output), loads the state_dict SD.h5
 * into it with sl_import_state_dict, and runs it on IN.h5 (/input) compiled with and without
 * batch-norm folding, as `sl-offload run` and `run --no-fold` do (sl_exec_opts.fold_bn), against
 * PyTorch's output REF.h5 (/output).
 *
 * usage: parity_inproc ARCH HxW SD.h5 IN.h5 REF.h5 TOL
 * Prints one line per check in parity_check.py's words; exit 0 when both hold, 1 otherwise. */
#include "common/status.h"
#include "model/bundle.h"
#include "model/exec.h"
#include "model/tensor_io.h"
#include "model/zoo.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what)
{
    fprintf(stderr, "parity_inproc: %s: %s\n", what, sl_errmsg());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: parity_inproc ARCH HxW SD.h5 IN.h5 REF.h5 TOL\n");
        return 2;
    }
    const char *arch = argv[1];
    long h, w;
    double tol = atof(argv[6]);
    if (sscanf(argv[2], "%ldx%ld", &h, &w) != 2 || h < 1 || w < 1 || !(tol > 0)) {
        fprintf(stderr, "parity_inproc: bad size '%s' or tolerance '%s'\n", argv[2], argv[6]);
        return 2;
    }
    sl_tensor *x = NULL, *ref = NULL;
    if (sl_tensor_h5_read(argv[4], "input", &x) || sl_tensor_h5_read(argv[5], "output", &ref))
        return fail("reading the tensors");
    int64_t rs[2];
    int nd = 0;
    if (sl_tensor_shape(ref, rs, 2, &nd) || nd != 2) {
        fprintf(stderr, "parity_inproc: %s: /output is not batch x classes\n", argv[5]);
        return 1;
    }
    sl_zoo_opts zo = {.classes = (int)rs[1], .c = 3, .h = h, .w = w};
    sl_graph *g = NULL;
    if (sl_zoo_build(arch, &zo, &g)) return fail(arch);
    if (sl_import_state_dict(g, argv[3])) return fail("importing the state_dict");
    int bad = 0;
    for (int fold = 1; fold >= 0; fold--) {
        sl_exec *e = NULL;
        sl_exec_opts o = {.fold_bn = fold};
        const char *to[1] = {g->outputs[0]};
        sl_value in = {.t = x}, out = {0};
        if (sl_exec_new(g, NULL, 0, to, 1, &o, &e) || sl_exec_run(e, &in, &out))
            return fail("running the model");
        sl_exec_free(e);
        int64_t os[2];
        int ond = 0;
        double d, m;
        if (sl_tensor_shape(out.t, os, 2, &ond) || ond != 2 || os[0] != rs[0] || os[1] != rs[1]) {
            fprintf(stderr, "parity_inproc: the output is not %lldx%lld, as PyTorch's\n",
                    (long long)rs[0], (long long)rs[1]);
            return 1;
        }
        if (sl_max_abs_diff(out.t, ref, &d, &m)) return fail("comparing with PyTorch");
        double rel = d / (m > 1e-12 ? m : 1e-12);
        int ok = rel <= tol;
        bad += !ok;
        printf("%s %ldx%ld fold=%s: max relative error %.2e %s\n", arch, h, w,
               fold ? "True" : "False", rel, ok ? "ok" : "FAIL");
        sl_value_clear(&out);
    }
    printf("%d passed, %d failed\n", 2 - bad, bad);
    sl_graph_free(g);
    sl_tensor_free(x);
    sl_tensor_free(ref);
    return bad ? 1 : 0;
}
