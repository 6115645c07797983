/* cmd_run.c: `sl-offload run` — run a whole model on this host on a tensor file or images. */
#include "common/cli.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "model/tensor_io.h"
#include "offloader/commands.h"
#include "offloader/local_run.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    const char *model, *tensor, *images, *out;
    long batch, threads;
    int no_fold, logits;
} A;

static const sl_opt options[] = {
    SL_OPT_STRING(0, "model", &A.model, "FILE", "the model bundle"),
    SL_OPT_STRING(0, "tensor", &A.tensor, "FILE", "an input tensor file (dataset /input, NCHW float32)"),
    SL_OPT_STRING(0, "images", &A.images, "DIR|FILE|GLOB",
                  "images to classify (PNG, JPEG, BMP; a folder is searched for\n"
                  ".png, .jpg, .jpeg, .bmp)"),
    SL_OPT_FLAG(0, "logits", &A.logits, "add the logits to each JSON line"),
    SL_OPT_OUTPUT(&A.out, "out.h5 (logits of --tensor) or out.jsonl (default: JSON lines on stdout)"),
    SL_OPT_LONG(0, "batch", &A.batch, "N", 1, 4096, "images per forward pass (default 8)"),
    SL_OPT_LONG(0, "threads", &A.threads, "N", 1, 256, "intra-op threads (default: libtorch's choice)"),
    SL_OPT_FLAG(0, "no-fold", &A.no_fold, "do not fold batch norm into convolutions"),
    SL_OPT_GROUP(sl_cmd_image_opts),
    SL_OPT_END,
};

const sl_optspec sl_cmd_run_spec = {
    "sl-offload run --model model.h5 (--tensor in.h5 | --images DIR|FILE|GLOB)\n"
    "               [-o out.h5|out.jsonl] [--logits] [--batch N] [--threads N] [--no-fold]\n"
    "               [--max-pixels N]",
    "Run a model locally. A tensor file holds dataset /input (NCHW float32); the logits go to\n"
    "dataset /output of an .h5 output. Images are loaded, resized and normalised for the model.\n"
    "With a .jsonl output (or none: stdout) one JSON line per image gives the class and score\n"
    "(and with --logits the logits, as sl-offload device --logits does).\n"
    "An image that cannot be read or gives no finite logits gets a line with \"error\" instead\n"
    "(and one on stderr); the others go on, and the exit code is 1 at the end.",
    options,
    0,
    0,
    NULL,
    "model",
};

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* One JSON line per row of logits; a row whose image failed (why[r], may be NULL) or whose logits
 * are not finite gets an "error" line and a message on stderr, counted in *bad. */
static int emit_rows(FILE *f, const sl_graph *g, const sl_tensor *logits, int64_t base,
                     char *const *paths, char *const *why, int *bad)
{
    int64_t shape[SL_MAX_DIMS];
    int nd;
    if (sl_tensor_shape(logits, shape, SL_MAX_DIMS, &nd) || nd != 2)
        return sl_err(SL_ESHAPE, "the model's output is not logits {N, K}");
    sl_tensor *f32 = NULL; /* --logits: a contiguous float copy to read the values from */
    const float *lv = NULL;
    if (A.logits) {
        void *ptr;
        if (sl_tensor_to_dtype(logits, SL_DT_F32, &f32) || sl_tensor_data_ptr(f32, &ptr)) {
            sl_tensor_free(f32);
            return sl_err(SL_EIO, "cannot read the logits: %s", sl_torch_last_error());
        }
        lv = ptr;
    }
    for (int64_t r = 0; r < shape[0]; r++) {
        int cls = -1;
        double p = 0;
        const char *err = why && why[r] ? why[r] : NULL;
        if (!err && sl_top1(logits, r, &cls, &p)) err = sl_errmsg();
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", (double)(base + r));
        if (paths) cJSON_AddStringToObject(o, "file", paths[r]);
        if (err) {
            cJSON_AddStringToObject(o, "error", err);
            if (!paths) sl_log_error("row %lld: %s", (long long)(base + r), err);
            else if (!strncmp(err, paths[r], strlen(paths[r]))) sl_log_error("%s", err);
            else sl_log_error("%s: %s", paths[r], err);
            (*bad)++;
        } else {
            cJSON_AddNumberToObject(o, "class_index", cls);
            if (cls < g->nclasses) cJSON_AddStringToObject(o, "class", g->classes[cls]);
            cJSON_AddNumberToObject(o, "score", p);
            if (lv) {
                cJSON *l = cJSON_AddArrayToObject(o, "logits");
                for (int64_t k = 0; k < shape[1]; k++)
                    cJSON_AddItemToArray(l, cJSON_CreateNumber(lv[r * shape[1] + k]));
            }
        }
        char *line = cJSON_PrintUnformatted(o);
        fprintf(f, "%s\n", line);
        free(line);
        cJSON_Delete(o);
    }
    sl_tensor_free(f32);
    return SL_OK;
}

/* JSON-lines output goes to a temporary file renamed into place when every row is written. */
static FILE *open_out(const char *path, char *tmp, size_t n)
{
    return sl_tmp_path_for(path, tmp, n) ? NULL : fopen(tmp, "w");
}

static int close_out(FILE *f, const char *tmp, const char *path, int rc)
{
    if (fclose(f) != 0 && !rc) rc = sl_err(SL_EIO, "%s: write failed", path);
    if (rc) {
        remove(tmp);
        return rc;
    }
    return sl_commit_tmp(tmp, path);
}

int sl_cmd_run(int argc, char **argv)
{
    memset(&A, 0, sizeof A);
    A.batch = 8;
    int rc = sl_opt_parse(&sl_cmd_run_spec, argc, argv, NULL);
    if (rc != SL_OPT_CONTINUE) return rc;
    const char *model = A.model, *tensor = A.tensor, *images = A.images, *out = A.out;
    long batch = A.batch, threads = A.threads;
    int fold = !A.no_fold;
    if (!tensor == !images) return sl_usage_error("give exactly one of --tensor and --images");
    if (out && !ends_with(out, ".h5") && !ends_with(out, ".jsonl"))
        return sl_usage_error("-o must end in .h5 or .jsonl");
    if (images && out && ends_with(out, ".h5"))
        return sl_usage_error("-o FILE.h5 goes with --tensor; use .jsonl for images");
    /* The input file is checked, or the images listed, before the model is opened; the runner
     * refuses a half of a split model on its structure before the weights load the model
     * runtime (about a second of CPU), which a refusal should not pay. */
    char **paths = NULL;
    int n = 0;
    if (tensor ? sl_tensor_h5_check(tensor, "input") : sl_path_list(images, &paths, &n))
        return sl_fail();
    sl_runner *r;
    if (sl_runner_open(model, fold, &r)) {
        sl_path_list_free(paths, n);
        return sl_fail();
    }
    if (threads) sl_set_num_threads((int)threads);
    const sl_graph *g = r->bundle->graph;
    rc = SL_OK;
    double t0 = sl_now();
    int64_t done = 0;
    int bad = 0;
    char tmp[4096];
    if (tensor) {
        sl_tensor *x = NULL, *y = NULL;
        rc = sl_tensor_h5_read(tensor, "input", &x);
        if (!rc) rc = sl_runner_forward(r, x, &y);
        if (!rc) done = sl_tensor_numel(x) / sl_shape_numel(&g->input_shape);
        if (!rc && out && ends_with(out, ".h5")) {
            const char *names[1] = {"output"};
            const sl_tensor *ts[1] = {y};
            rc = sl_tensor_h5_write(out, names, ts, 1);
        } else if (!rc) {
            FILE *f = out ? open_out(out, tmp, sizeof tmp) : stdout;
            rc = f ? emit_rows(f, g, y, 0, NULL, NULL, &bad)
                   : sl_err(SL_EIO, "%s: cannot write", out);
            if (f && f != stdout) rc = close_out(f, tmp, out, rc);
        }
        sl_tensor_free(x);
        sl_tensor_free(y);
    } else {
        sl_input_spec spec;
        sl_input_spec_from_graph(g, &spec);
        FILE *f = out ? open_out(out, tmp, sizeof tmp) : stdout;
        char **why = calloc((size_t)batch, sizeof *why);
        if (!f) rc = sl_err(SL_EIO, "%s: cannot write", out);
        else if (!why) rc = sl_err(SL_ENOMEM, "out of memory");
        for (int i = 0; !rc && i < n; i += (int)batch) {
            int k = n - i < batch ? n - i : (int)batch;
            sl_tensor *x = NULL, *y = NULL;
            rc = sl_images_to_tensor_each(paths + i, k, &spec, &x, why);
            if (!rc) rc = sl_runner_forward(r, x, &y);
            if (!rc) rc = emit_rows(f, g, y, i, paths + i, why, &bad);
            if (why) sl_images_why_free(why, k);
            sl_tensor_free(x);
            sl_tensor_free(y);
            done += k;
        }
        free(why);
        if (f && f != stdout) rc = close_out(f, tmp, out, rc);
        sl_path_list_free(paths, n);
    }
    sl_runner_free(r);
    if (rc) return sl_fail();
    double el = sl_now() - t0;
    sl_log_info("%lld image(s) in %.3f s (%.1f images/s)", (long long)done, el, el > 0 ? done / el : 0);
    if (bad) {
        sl_log_error("%d of %lld image(s) failed", bad, (long long)done);
        return SL_EXIT_FAIL;
    }
    return SL_EXIT_OK;
}
