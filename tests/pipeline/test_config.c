/* test_config.c: product-line config validation and per-step argument files. */
#include "common/fsutil.h"
#include "common/status.h"
#include "datasets/commands.h"
#include "offloader/commands.h"
#include "pipeline/config.h"
#include "preprocessor/commands.h"
#include "testutil.h"
#include "trainer/commands.h"

#include <glob.h>
#include <string.h>
#include <sys/stat.h>

static const char *GOOD =
    "{\"format\":\"sl-config\",\"version\":1,\"product\":\"t\",\"input\":\"3x32x32\","
    "\"dataset\":{\"synth\":{\"product\":\"casting\",\"size\":32}},\"model\":{\"arch\":\"tinycnn\"},"
    "\"train\":{\"epochs\":2,\"lr\":0.1,\"nesterov\":true},"
    "\"profile\":{\"device_cpu\":30},\"network\":{\"bandwidth\":\"10mbit\",\"rtt\":\"20ms\","
    "\"bandwidths\":[\"1mbit\",\"5mbit\",\"20mbit\"]},"
    "\"constraints\":{\"device_only\":[\"conv1\"],\"max_upload\":\"1MB\"},"
    "\"tl\":{\"candidates\":[\"pool\",\"conv-r4-s2-b8\"]},"
    "\"finetune\":{\"stage1\":{\"epochs\":1,\"stages_at\":\"@output\"},"
    "\"stage2\":{\"schedule\":\"cosine\",\"augment\":\"flip\",\"distill\":4}},\"colour\":\"blue\"}";

static int put_file(const char *dir, const char *name, const char *text, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", dir, name);
    return sl_write_file_atomic(path, text, strlen(text));
}

static char *slurp(const char *dir, const char *name)
{
    char p[2048];
    char *s = NULL;
    snprintf(p, sizeof p, "%s/cfg/%s.args", dir, name);
    sl_read_file(p, &s, NULL);
    return s;
}

/* Checks that out/cfg/<step>.args is exactly want. */
static void check_args(const char *out, const char *step, const char *want)
{
    char *s = slurp(out, step);
    TU_CHECK_MSG(s && !strcmp(s, want), "%s.args: \"%s\", not \"%s\"", step, s ? s : "(none)",
                 want);
    free(s);
}

/* Checks that out/cfg/<step>.args holds `part` (has = 1) or lacks it (has = 0). */
static void check_args_has(const char *out, const char *step, const char *part, int has)
{
    char *s = slurp(out, step);
    TU_CHECK_MSG(s && !strstr(s, part) == !has, "%s.args: \"%s\" %s \"%s\"", step, s ? s : "(none)",
                 has ? "lacks" : "has", part);
    free(s);
}

static void expect(const char *dir, const char *from, const char *to, const char *want)
{
    char path[1024], *buf = tu_subst(GOOD, from, to);
    if (!buf) return;
    put_file(dir, "bad.json", buf, path, sizeof path);
    free(buf);
    int changed;
    CHECK(sl_config_process(path, NULL, &changed) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), want);
}

/* Every "--flag" in out/cfg/<step>.args is an option of the command the step runs. */
static void check_step_flags(const char *out, const char *step, const sl_optspec *spec)
{
    char *s = slurp(out, step);
    CHECK(s != NULL);
    if (!s) return;
    int flags = 0;
    for (char *save = NULL, *t = strtok_r(s, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
        if (strncmp(t, "--", 2)) continue;
        flags++;
        if (!sl_opt_find(spec->opts, t + 2)) {
            char what[256];
            snprintf(what, sizeof what, "%s.args writes %s, not an option of %s", step, t,
                     spec->usage);
            TU_CHECK_MSG(0, "%s", what);
        }
    }
    CHECK(flags > 0 || !strcmp(step, "data-open"));
    free(s);
}

/* The flag checks themselves: a flag a command does not take is caught. */
static void test_flag_checks(void)
{
    CHECK_OK(sl_config_check_flags(), sl_errmsg());
    /* The tables the check reads know the flags config writes, and nothing else. */
    CHECK(sl_opt_find(sl_cmd_fit_spec.opts, "tl-stages-at") != NULL);
    CHECK(sl_opt_find(sl_cmd_fit_spec.opts, "frobnicate") == NULL);
    CHECK(sl_opt_find(sl_cmd_synth_spec.opts, "layout") == NULL); /* why data-open exists */
    CHECK(sl_opt_find(sl_cmd_stats_spec.opts, "layout") != NULL);
}

/* Every config shipped in configs/ is valid: a line that names no generator fails here, not
   when make reaches its data step. */
static void test_shipped_configs(const char *dir)
{
    const char *src = getenv("SL_SRC");
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s/configs/*.json", src ? src : ".");
    glob_t g;
    CHECK(glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc >= 5);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char out[1024];
        snprintf(out, sizeof out, "%s/shipped-%zu", dir, i);
        int changed = 0;
        TU_CHECK_MSG(sl_config_process(g.gl_pathv[i], out, &changed) == 0, "%s: %s",
                     g.gl_pathv[i], sl_errmsg());
    }
    globfree(&g);
}

/* "stage2": false keeps stage 1's model as the tuned one: the args file says so, the stage-2
   flags are gone, and a stage 2 that is neither an object nor false is refused. */
static void test_stage2_skipped(const char *dir)
{
    static const char from[] = "\"stage2\":{\"schedule\":\"cosine\",\"augment\":\"flip\",\"distill\":4}";
    char path[1024], out[1024], *buf = tu_subst(GOOD, from, "\"stage2\":false");
    if (!buf) return;
    put_file(dir, "skip.json", buf, path, sizeof path);
    free(buf);
    snprintf(out, sizeof out, "%s/skip-out", dir);
    int changed = 0;
    CHECK_OK(sl_config_process(path, out, &changed), sl_errmsg());
    check_args(out, "finetune-stage2", "skip\n");
    expect(dir, from, "\"stage2\":true", "'finetune.stage2' must be");
}

int main(void)
{
    test_flag_checks();
    const char *dir = tu_tmpdir();
    char path[1024], out[1024];
    snprintf(out, sizeof out, "%s/out", dir);
    put_file(dir, "good.json", GOOD, path, sizeof path);
    int changed = 0;
    CHECK_OK(sl_config_process(path, out, &changed), sl_errmsg());
    CHECK(changed >= 10);
    check_args(out, "train", "--epochs 2 --lr 0.1 --nesterov\n");
    check_args(out, "select",
               "--bandwidth 10mbit --rtt 20ms --device-only conv1 --max-upload 1MB\n");
    /* the adaptive device's links (network.bandwidths), for `make plans`: select's argument */
    check_args(out, "plans", "--bandwidths 1mbit,5mbit,20mbit\n");
    check_args_has(out, "profile-device", "--threads 1", 1);
    check_args_has(out, "profile-device", "--tl pool,conv-r4-s2-b8", 1);
    check_args_has(out, "profile-device", "--cpu 30", 1); /* profiled under the device's quota */
    check_args_has(out, "profile-edge", "--cpu", 0);
    /* each half idles the line's round trip before it is timed, as in a split */
    check_args_has(out, "profile-device", "--idle-gap 20ms", 1);
    check_args_has(out, "profile-edge", "--idle-gap 20ms", 1);
    check_args_has(out, "bench", "--cpu 30", 1); /* and its side of the bench runs under it too */
    check_args(out, "finetune-stage1", "--epochs 1 --tl-stages-at @output\n");
    check_args(out, "finetune-stage2", "--schedule cosine --augment flip --distill 4\n");
    check_args(out, "dataset", "synth --product casting --size 32\n");
    static const struct {
        const char *step;
        const sl_optspec *spec;
    } steps[] = {{"model", &sl_cmd_fit_spec},          {"train", &sl_cmd_fit_spec},
                 {"profile-device", &sl_cmd_profile_spec}, {"profile-edge", &sl_cmd_profile_spec},
                 {"select", &sl_cmd_select_spec},     {"insert", &sl_cmd_insert_spec},
                 {"finetune-stage1", &sl_cmd_fit_spec}, {"finetune-stage2", &sl_cmd_fit_spec},
                 {"bench", &sl_cmd_bench_spec},       {"data-open", &sl_cmd_stats_spec},
                 {"plans", &sl_cmd_select_spec}};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        check_step_flags(out, steps[i].step, steps[i].spec);
    /* What the config sets up, for a person. */
    char *desc = NULL;
    size_t dn = 0;
    FILE *df = open_memstream(&desc, &dn);
    CHECK(df != NULL);
    if (df) {
        CHECK_OK(sl_config_describe(path, df), sl_errmsg());
        fclose(df);
        CHECK_CONTAINS(desc, ": valid\n");
        CHECK_CONTAINS(desc, "zoo architecture tinycnn, input 3x32x32");
        CHECK_CONTAINS(desc, "under a CPU quota of 30% of one core");
        CHECK_CONTAINS(desc, "link: 10mbit, RTT 20ms");
        CHECK_CONTAINS(desc, "adaptive device's links: 1mbit, 5mbit, 20mbit");
        CHECK_CONTAINS(desc, "constraint device_only: conv1 (the raw image stays on the device");
        CHECK_CONTAINS(desc, "constraint max_upload: 1MB per image");
        CHECK_CONTAINS(desc, "TL candidates: pool, conv-r4-s2-b8 (use: plan)");
        free(desc);
    }
    /* Unchanged config: nothing rewritten, so make sees nothing new. */
    CHECK_OK(sl_config_process(path, out, &changed), sl_errmsg());
    CHECK_EQ(changed, 0);
    /* Errors name the key. */
    expect(dir, "\"rtt\":\"20ms\"", "\"rtt\":20", "'network.rtt' must be a string");
    expect(dir, "\"network\":{\"bandwidth\":\"10mbit\",", "\"network\":{", "'network.bandwidth' is missing");
    expect(dir, "\"1mbit\",", "\"1mbit,2mbit\",", "'network.bandwidths' item 1: \"1mbit,2mbit\"");
    expect(dir, "\"5mbit\"", "\"fast\"", "'network.bandwidths' item 2: \"fast\" is not one rate");
    expect(dir, "[\"1mbit\",\"5mbit\",\"20mbit\"]", "[]", "'network.bandwidths' lists no link");
    expect(dir, "[\"1mbit\",\"5mbit\",\"20mbit\"]", "\"1mbit\"",
           "'network.bandwidths' must be an array of strings");
    expect(dir, "\"epochs\":2", "\"epochs\":2.5", "'train.epochs' must be an integer");
    expect(dir, "\"input\":\"3x32x32\"", "\"input\":\"big\"", "'input' must be a shape");
    expect(dir, "\"product\":\"casting\"", "\"product\":\"casting-2mbit\"",
           "'dataset.synth.product': unknown product line 'casting-2mbit'");
    expect(dir, "\"version\":1", "\"version\":2", "version");
    expect(dir, "\"model\":{\"arch\":\"tinycnn\"}", "\"model\":{}", "'model' needs exactly one");
    expect(dir, "\"epochs\":1,", "\"epochs\":\"x\",", "'finetune.stage1.epochs' must be an integer");
    expect(dir, "\"device_cpu\":30", "\"device_cpu\":0", "'profile.device_cpu' must be a share");
    CHECK(sl_config_process("/nonexistent/x.json", NULL, &changed) == SL_EIO);
    test_shipped_configs(dir);
    test_stage2_skipped(dir);
    tu_rmtree(dir);
    return TU_DONE();
}
