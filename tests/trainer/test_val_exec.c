/* test_val_exec.c: validation's two inference paths. The rule that picks one (--val-exec auto:
 * compiled from SL_VAL_COMPILE_PIXELS input pixels per pass), the path each epoch's log names,
 * and the agreement of the paths: the same training (bit-identical train loss) validated with
 * the plain plan made once and with a compiled plan made each epoch gives the same accuracy and
 * a loss (and stage-1 MSE) within 1e-4 relative, epoch after epoch, so the plain plan follows
 * the weights the optimiser changes in place. */
#include "common/status.h"
#include "model/bundle.h"
#include "preprocessor/tl.h"
#include "testutil.h"
#include "trainer/train.h"
#include "trainer_fixture.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

enum { EPOCHS = 3 };

/* The "val_exec" string of each line of a training log into v (16 bytes each); the line count. */
static int log_paths(const char *path, char v[][16], int max)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    int n = 0;
    while (f && n < max && fgets(line, sizeof line, f)) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *x = cJSON_GetObjectItem(j, "val_exec");
        snprintf(v[n++], 16, "%s", cJSON_IsString(x) ? x->valuestring : "");
        cJSON_Delete(j);
    }
    if (f) fclose(f);
    return n;
}

static void test_rule(void)
{
    sl_train_opts o;
    sl_train_opts_init(&o);
    CHECK_EQ(o.val_exec, SL_VAL_AUTO);
    CHECK_EQ(sl_train_val_compiles(&o, 30, 32, 32), 0); /* this test's validation set */
    CHECK_EQ(sl_train_val_compiles(&o, 255, 32, 32), 0);
    CHECK_EQ(sl_train_val_compiles(&o, 256, 32, 32), 1);
    CHECK_EQ(sl_train_val_compiles(&o, 16, 128, 128), 1);
    CHECK_EQ(sl_train_val_compiles(&o, 15, 128, 128), 0);
    o.val_exec = SL_VAL_COMPILED;
    CHECK_EQ(sl_train_val_compiles(&o, 1, 8, 8), 1);
    o.val_exec = SL_VAL_PLAIN;
    CHECK_EQ(sl_train_val_compiles(&o, 100000, 224, 224), 0);
}

/* Runs o twice, validating with the compiled path and with auto (which must pick plain here),
 * and compares the logs epoch by epoch. */
static void compare(sl_train_opts *o, const char *name, int mse)
{
    char log_c[800], log_a[800], out_c[800], out_a[800], f[64];
    snprintf(f, sizeof f, "%s-compiled.jsonl", name);
    td_path(log_c, f);
    snprintf(f, sizeof f, "%s-auto.jsonl", name);
    td_path(log_a, f);
    snprintf(f, sizeof f, "%s-compiled.h5", name);
    td_path(out_c, f);
    snprintf(f, sizeof f, "%s-auto.h5", name);
    td_path(out_a, f);
    o->epochs = EPOCHS;
    o->val_exec = SL_VAL_COMPILED;
    o->log = log_c;
    o->out = out_c;
    CHECK_OK(sl_train_fit(o, NULL), sl_errmsg());
    o->val_exec = SL_VAL_AUTO;
    o->log = log_a;
    o->out = out_a;
    CHECK_OK(sl_train_fit(o, NULL), sl_errmsg());

    char pc[EPOCHS + 1][16], pa[EPOCHS + 1][16];
    CHECK_EQ(log_paths(log_c, pc, EPOCHS + 1), EPOCHS);
    CHECK_EQ(log_paths(log_a, pa, EPOCHS + 1), EPOCHS);
    for (int e = 0; e < EPOCHS; e++) {
        CHECK_STR(pc[e], "compiled");
        CHECK_STR(pa[e], "plain");
    }
    const char *keys[4] = {"train_loss", "val_acc", "val_loss", "val_mse"};
    double c[4][EPOCHS + 1], a[4][EPOCHS + 1];
    for (int k = 0; k < 4; k++) {
        if (k == 3 && !mse) break;
        CHECK_EQ(td_log_values(log_c, keys[k], c[k], EPOCHS + 1), EPOCHS);
        CHECK_EQ(td_log_values(log_a, keys[k], a[k], EPOCHS + 1), EPOCHS);
    }
    for (int e = 0; e < EPOCHS; e++) {
        /* Validation does not touch training: the same steps, bit for bit. */
        TU_CHECK_MSG(c[0][e] == a[0][e], "%s epoch %d: train loss %.9g vs %.9g", name, e + 1,
                     c[0][e], a[0][e]);
        TU_CHECK_MSG(c[1][e] == a[1][e], "%s epoch %d: val acc %.6f compiled, %.6f plain", name,
                     e + 1, c[1][e], a[1][e]);
        for (int k = 2; k < (mse ? 4 : 3); k++)
            TU_CHECK_MSG(fabs(c[k][e] - a[k][e]) <= 1e-4 * fabs(c[k][e]) + 1e-7,
                         "%s epoch %d: %s %.9g compiled, %.9g plain", name, e + 1, keys[k],
                         c[k][e], a[k][e]);
    }
    /* The weights moved between epochs, so agreeing at every epoch means the plain plan made
     * once read each epoch's weights. */
    int k = mse ? 3 : 2;
    TU_CHECK_MSG(c[k][0] != c[k][EPOCHS - 1], "%s: %s did not change over the epochs", name,
                 keys[k]);
}

int main(void)
{
    if (td_setup(tu_tmpdir(), 30, 10)) return 1;
    test_rule();

    /* Base training: tinycnn from scratch. */
    char base[800];
    td_path(base, "base-compiled.h5");
    sl_train_opts o;
    td_base_opts(&o, NULL);
    compare(&o, "base", 0);

    /* TL stage 1 at pool2 of that base: the validation MSE between cut and decoder too. */
    char tl[800];
    td_path(tl, "tl.h5");
    sl_bundle *b = td_read_bundle(base);
    sl_tl_config tc;
    CHECK_OK(sl_tl_parse_config("conv-r2-s1-b8", &tc), sl_errmsg());
    sl_manual_seed(5);
    CHECK_OK(b ? sl_tl_insert(b->graph, "pool2", &tc) : SL_EARG, sl_errmsg());
    CHECK_OK(b ? sl_bundle_write(tl, b) : SL_EARG, sl_errmsg());
    sl_bundle_free(b);
    td_opts(&o, NULL);
    o.model = tl;
    o.tl_stage = 1;
    o.optim = SL_OPTIM_ADAM;
    o.lr = 0.01;
    compare(&o, "stage1", 1);
    return TU_DONE();
}
