/* test_loader.c: libtorch is opened on the first model-running call and not before
 * (shim/loader.c and the forwarders gen_forward.py writes):
 *  - in this process, nothing is mapped until a call needs it; freeing NULL and reading the last
 *    error load nothing;
 *  - a library that cannot be loaded (missing, refused, or built from other headers) makes
 *    calls fail with "cannot load the model runtime: ..." and their failure values, no crash;
 *  - commands that run no model (--version, select on the three-tier example, config, inspect,
 *    a usage error) succeed with SL_SHIM_DENY=1, which refuses any load and says so on stderr, while a
 *    command that runs one (zoo) fails under it: the refusal is real, so the passes mean
 *    something;
 *  - no command has libtorch in its DT_NEEDED (readelf -d). */
#include "shim/loader.h"
#include "shim/sl_torch.h"
#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int maps_has(const char *needle)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* Runs argv[0] (a path), with SL_SHIM_DENY=1 when `deny`; stdout and stderr go to `out` (read
 * back into buf, at most n - 1 bytes, NUL-terminated). Returns the exit status, or -1 if it did
 * not exit. */
static int run_cmd(int deny, char *const argv[], const char *out, char *buf, size_t n)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        if (deny) setenv("SL_SHIM_DENY", "1", 1);
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) return -1;
    buf[0] = '\0';
    FILE *f = fopen(out, "r");
    if (f) {
        size_t got = fread(buf, 1, n - 1, f);
        buf[got] = '\0';
        fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* In a child (nothing loaded yet): with the library at SL_SHIM_LIB = lib, or refused when lib is
 * NULL, every kind of call fails cleanly with `why` in its message. Returns the child's verdict. */
static void check_cannot_load(const char *lib, const char *why)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        tu_passed = tu_failed = 0;
        if (lib) setenv("SL_SHIM_LIB", lib, 1);
        else setenv("SL_SHIM_DENY", "1", 1);
        int64_t shape[2] = {2, 3};
        sl_tensor *t = NULL;
        CHECK_EQ(sl_tensor_zeros(shape, 2, SL_DT_F32, &t), SLT_ETORCH);
        CHECK(t == NULL);
        CHECK_CONTAINS(sl_torch_last_error(), "cannot load the model runtime: ");
        CHECK_CONTAINS(sl_torch_last_error(), why);
        /* Other return types get their documented failure values. */
        CHECK(sl_tensor_ndim(NULL) < 0);
        CHECK_EQ(sl_tensor_numel(NULL), -1);
        CHECK_EQ(sl_tensor_nbytes(NULL), 0);
        CHECK_EQ(sl_tensor_dtype(NULL), SL_DT_NONE);
        CHECK(sl_optim_lr(NULL) < 0);
        sl_manual_seed(1); /* void: sets the message, nothing else */
        CHECK_CONTAINS(sl_torch_last_error(), "cannot load the model runtime: ");
        sl_tensor_free(t);
        CHECK(!sl_shim_loaded());
        CHECK_EQ(maps_has("libtorch_cpu"), 0);
        fflush(NULL);
        _exit(tu_failed ? 1 : 0);
    }
    int st = 0;
    TU_CHECK_MSG(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                 "cannot-load child (%s) failed: status %d", lib ? lib : "SL_SHIM_DENY", st);
}

static void check_command(const char *dir, const char *what, char *const argv[], int want_rc,
                          const char *needle)
{
    char out[4096], buf[8192];
    snprintf(out, sizeof out, "%s/out.txt", dir);
    int rc = run_cmd(1, argv, out, buf, sizeof buf);
    TU_CHECK_MSG(rc == want_rc, "%s: exit %d, want %d; output:\n%s", what, rc, want_rc, buf);
    TU_CHECK_MSG(!strstr(buf, "sl_shim:"), "%s tried to load libtorch:\n%s", what, buf);
    if (needle) TU_CHECK_MSG(strstr(buf, needle) != NULL, "%s: no '%s' in:\n%s", what, needle, buf);
}

static void check_needed(const char *bin)
{
    char cmd[4096], line[1024];
    snprintf(cmd, sizeof cmd, "readelf -d '%s' 2>&1", bin);
    FILE *p = popen(cmd, "r");
    if (!p) {
        TU_CHECK_MSG(0, "cannot run readelf on %s", bin);
        return;
    }
    int needed = 0, torch = 0;
    while (fgets(line, sizeof line, p)) {
        if (!strstr(line, "(NEEDED)")) continue;
        needed++;
        if (strstr(line, "libtorch") || strstr(line, "libc10") || strstr(line, "libstdc++")) {
            torch++;
            fprintf(stderr, "%s: %s", bin, line);
        }
    }
    pclose(p);
    TU_CHECK_MSG(needed > 0, "readelf -d %s listed no NEEDED entries", bin);
    TU_CHECK_MSG(torch == 0, "%s needs libtorch, libc10 or libstdc++ at start", bin);
}

int main(void)
{
    /* Nothing is loaded at start, and these calls load nothing. */
    CHECK_EQ(maps_has("libtorch_cpu"), 0);
    CHECK(!sl_shim_loaded());
    CHECK_STR(sl_torch_last_error(), "no error");
    sl_tensor_free(NULL);
    sl_optim_free(NULL);
    CHECK(!sl_shim_loaded());
    CHECK_EQ(maps_has("libtorch_cpu"), 0);

    /* A library that cannot be loaded: missing, refused, not a shim library at all. */
    check_cannot_load("/nonexistent/libsl_torch.so", "/nonexistent/libsl_torch.so");
    check_cannot_load(NULL, "refused (SL_SHIM_DENY is set)");
    check_cannot_load("libm.so.6", "other shim headers");

    /* Commands that run no model load nothing; one that does is refused. */
    const char *bin = getenv("SL_BIN"), *src = getenv("SL_SRC");
    if (bin && src) {
        const char *dir = tu_tmpdir();
        char pre[1024], train[1024], off[1024], data[1024];
        snprintf(pre, sizeof pre, "%s/sl-preprocess", bin);
        snprintf(train, sizeof train, "%s/sl-train", bin);
        snprintf(off, sizeof off, "%s/sl-offload", bin);
        snprintf(data, sizeof data, "%s/sl-data", bin);
        char d[1024], e[1024], c[1024], net[1024], cfg[1024], cfgout[1024], model[1024];
        snprintf(d, sizeof d, "%s/tests/preprocessor/data/device.json", src);
        snprintf(e, sizeof e, "%s/tests/preprocessor/data/edge.json", src);
        snprintf(c, sizeof c, "%s/tests/preprocessor/data/cloud.json", src);
        snprintf(net, sizeof net, "%s/tests/preprocessor/data/net.csv", src);
        snprintf(cfg, sizeof cfg, "%s/configs/ci-tiny.json", src);
        snprintf(cfgout, sizeof cfgout, "%s/cfg", dir);
        snprintf(model, sizeof model, "%s/m.h5", dir);

        char *const *cmds[] = {
            (char *const[]){pre, "--version", NULL},
            (char *const[]){train, "--version", NULL},
            (char *const[]){off, "--version", NULL},
            (char *const[]){data, "--version", NULL},
        };
        for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
            check_command(dir, cmds[i][0], cmds[i], 0, "0.");
        check_command(dir, "select (three tiers)",
                      (char *const[]){pre, "select", "--device", d, "--edge", e, "--cloud", c,
                                      "--network", net, NULL},
                      0, "plans");
        check_command(dir, "config", (char *const[]){pre, "config", cfg, "--out", cfgout, NULL}, 0,
                      NULL);
        check_command(dir, "a usage error", (char *const[]){train, "fit", NULL}, 2, NULL);
        check_command(dir, "--help", (char *const[]){off, "--help", NULL}, 0, "usage");

        char out[4096], buf[8192];
        snprintf(out, sizeof out, "%s/zoo.txt", dir);
        int rc = run_cmd(1, (char *const[]){pre, "zoo", "tinycnn", "-o", model, NULL}, out, buf,
                         sizeof buf);
        const char *said = buf;
        CHECK_EQ(rc, 1);
        CHECK_CONTAINS(said, "sl_shim: sl_");
        CHECK_CONTAINS(said, "cannot load the model runtime: refused (SL_SHIM_DENY is set)");
        struct stat sb;
        CHECK(stat(model, &sb) != 0);

        /* inspect reads the bundle's structure, not its weights. */
        rc = run_cmd(0, (char *const[]){pre, "zoo", "tinycnn", "-o", model, NULL}, out, buf,
                     sizeof buf);
        TU_CHECK_MSG(rc == 0, "zoo tinycnn: exit %d: %s", rc, buf);
        check_command(dir, "inspect", (char *const[]){pre, "inspect", model, NULL}, 0,
                      "0.024M parameters");

        check_needed(pre);
        check_needed(train);
        check_needed(off);
        check_needed(data);
        tu_rmtree(dir);
    } else {
        fprintf(stderr, "SL_BIN or SL_SRC not set: the commands were not checked\n");
        CHECK(0);
    }

    /* The first call that needs libtorch loads it, here, once. */
    int64_t shape[1] = {4};
    sl_tensor *t = NULL;
    CHECK_OK(sl_tensor_full(shape, 1, SL_DT_F32, 2.5, &t), sl_torch_last_error());
    CHECK(sl_shim_loaded());
    CHECK_EQ(maps_has("libtorch_cpu"), 1);
    CHECK_EQ(maps_has("libsl_torch"), 1);
    double v = 0;
    sl_tensor *s = NULL;
    CHECK_OK(sl_sum(t, &s), sl_torch_last_error());
    CHECK_OK(sl_tensor_item(s, &v), sl_torch_last_error());
    CHECK_NEAR(v, 10.0, 1e-6);
    sl_tensor_free(s);
    sl_tensor_free(t);
    return TU_DONE();
}
