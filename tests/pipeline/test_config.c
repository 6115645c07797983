/* test_config.c: product-line config validation and per-step argument files. */
#include "common/fsutil.h"
#include "common/status.h"
#include "pipeline/config.h"
#include "testutil.h"

#include <sys/stat.h>

static const char *GOOD =
    "{\"format\":\"sl-config\",\"version\":1,\"product\":\"t\",\"input\":\"3x32x32\","
    "\"dataset\":{\"synth\":{\"product\":\"casting\",\"size\":32}},\"model\":{\"arch\":\"tinycnn\"},"
    "\"train\":{\"epochs\":2,\"lr\":0.1,\"nesterov\":true},"
    "\"network\":{\"bandwidth\":\"10mbit\",\"rtt\":\"20ms\"},"
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
    char p[1024];
    char *s = NULL;
    snprintf(p, sizeof p, "%s/cfg/%s.args", dir, name);
    sl_read_file(p, &s, NULL);
    return s;
}

static void expect(const char *dir, const char *from, const char *to, const char *want)
{
    char buf[4096], path[1024];
    const char *p = strstr(GOOD, from);
    CHECK(p != NULL);
    if (!p) return;
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - GOOD), GOOD, to, p + strlen(from));
    put_file(dir, "bad.json", buf, path, sizeof path);
    int changed;
    CHECK(sl_config_process(path, NULL, &changed) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), want);
}

int main(void)
{
    const char *dir = tu_tmpdir();
    char path[1024], out[1024];
    snprintf(out, sizeof out, "%s/out", dir);
    put_file(dir, "good.json", GOOD, path, sizeof path);
    int changed = 0;
    CHECK_OK(sl_config_process(path, out, &changed), sl_errmsg());
    CHECK(changed >= 10);
    char *s = slurp(out, "train");
    CHECK_STR(s ? s : "", "--epochs 2 --lr 0.1 --nesterov\n");
    free(s);
    s = slurp(out, "select");
    CHECK_STR(s ? s : "", "--bandwidth 10mbit --rtt 20ms --device-only conv1 --max-upload 1MB\n");
    free(s);
    s = slurp(out, "profile-device");
    CHECK_CONTAINS(s, "--threads 1");
    CHECK_CONTAINS(s, "--tl pool,conv-r4-s2-b8");
    free(s);
    s = slurp(out, "finetune-stage1");
    CHECK_STR(s ? s : "", "--epochs 1 --tl-stages-at @output\n");
    free(s);
    s = slurp(out, "finetune-stage2");
    CHECK_STR(s ? s : "", "--schedule cosine --augment flip --distill 4\n");
    free(s);
    s = slurp(out, "dataset");
    CHECK_STR(s ? s : "", "synth --product casting --size 32\n");
    free(s);
    /* Unchanged config: nothing rewritten, so make sees nothing new. */
    CHECK_OK(sl_config_process(path, out, &changed), sl_errmsg());
    CHECK_EQ(changed, 0);
    /* Errors name the key. */
    expect(dir, "\"rtt\":\"20ms\"", "\"rtt\":20", "'network.rtt' must be a string");
    expect(dir, "\"network\":{\"bandwidth\":\"10mbit\",", "\"network\":{", "'network.bandwidth' is missing");
    expect(dir, "\"epochs\":2", "\"epochs\":2.5", "'train.epochs' must be an integer");
    expect(dir, "\"input\":\"3x32x32\"", "\"input\":\"big\"", "'input' must be a shape");
    expect(dir, "\"version\":1", "\"version\":2", "version");
    expect(dir, "\"model\":{\"arch\":\"tinycnn\"}", "\"model\":{}", "'model' needs exactly one");
    expect(dir, "\"epochs\":1,", "\"epochs\":\"x\",", "'finetune.stage1.epochs' must be an integer");
    CHECK(sl_config_process("/nonexistent/x.json", NULL, &changed) == SL_EIO);
    tu_rmtree(dir);
    return TU_DONE();
}
