/* test_stubs.c: the shim's loader loads the stand-ins of lib/torch-stubs (cmake/torch-stubs.py)
 * before the shim library, with no environment variable (shim/loader.c), each case in a child
 * process (the library is loaded once per process):
 *  - as built: libopencv_core, which libtorch names but never calls, is mapped from
 *    torch-stubs/ only, never the real one, and nothing is said on stderr;
 *  - SL_TORCH_STUBS=0: the real libopencv_core is mapped, no stand-in;
 *  - a stand-ins folder that cannot work (a stand-in for libc10, which libtorch calls; a file
 *    that is no library) falls back to plain loading: the shim loads, the real libraries are
 *    mapped, and one warning names the folder.
 * Skipped (77) when the build made no stand-ins (torch-stubs.py refused). */
#include "shim/loader.h"
#include "shim/sl_torch.h"
#include "testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* Lines of /proc/self/maps naming `lib`: those from a torch-stubs/ folder and the others. */
static void maps_count(const char *lib, int *stub, int *real)
{
    *stub = *real = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f))
        if (strstr(line, lib)) ++*(strstr(line, "/torch-stubs/") ? stub : real);
    fclose(f);
}

/* Runs one case in a child: env (NAME=VALUE or NULL) set, the shim at `lib` (NULL: as found),
 * loaded; then `want_stub` says whether libopencv_core must come from the stand-ins; `warn`
 * whether stderr must hold the loader's warning (else it must hold nothing). */
static void check_case(const char *what, const char *dir, const char *env, const char *lib,
                       int want_stub, int warn)
{
    char err[PATH_MAX], buf[8192] = "";
    snprintf(err, sizeof err, "%s/stderr.txt", dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        tu_passed = tu_failed = 0;
        int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(126);
        int keep = dup(2);
        dup2(fd, 2);
        if (env) putenv((char *)env);
        if (lib) setenv("SL_SHIM_LIB", lib, 1);
        int rc = sl_shim_need("test_stubs");
        fflush(stderr);
        dup2(keep, 2);
        TU_CHECK_MSG(rc == 0, "%s: %s", what, sl_shim_error());
        int stub, real;
        maps_count("libopencv_core", &stub, &real);
        TU_CHECK_MSG(want_stub ? stub > 0 && real == 0 : stub == 0 && real > 0,
                     "%s: libopencv_core mapped %d times from torch-stubs/, %d from elsewhere", what,
                     stub, real);
        maps_count("libc10.so", &stub, &real);
        TU_CHECK_MSG(stub == 0 && real > 0, "%s: libc10 mapped %d times from torch-stubs/", what,
                     stub);
        _exit(tu_failed ? 1 : 0);
    }
    int st = 0;
    TU_CHECK_MSG(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                 "%s: child status %d", what, st);
    FILE *f = fopen(err, "r");
    if (f) {
        buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
        fclose(f);
    }
    int warnings = 0;
    for (const char *w = buf; (w = strstr(w, "sl_shim: warning")) != NULL; w++) warnings++;
    if (warn)
        TU_CHECK_MSG(warnings == 1 && strstr(buf, "/torch-stubs cannot be used (") &&
                         strstr(buf, "loading libtorch without them"),
                     "%s: not the one warning expected:\n%s", what, buf);
    else
        TU_CHECK_MSG(buf[0] == '\0', "%s: stderr not empty:\n%s", what, buf);
}

/* dir/libsl_torch.so, a link to the built one, and dir/torch-stubs/ holding links to the built
 * stand-ins and the file `extra` (copied) as `extra_name`. */
static void fake_tree(const char *dir, const char *lib, const char *stubs, const char *extra,
                      const char *extra_name)
{
    char p[PATH_MAX], q[PATH_MAX];
    snprintf(p, sizeof p, "%s/libsl_torch.so", dir);
    CHECK(symlink(lib, p) == 0);
    snprintf(p, sizeof p, "%s/torch-stubs", dir);
    CHECK(mkdir(p, 0755) == 0);
    DIR *d = opendir(stubs);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", stubs, e->d_name);
        snprintf(q, sizeof q, "%s/torch-stubs/%s", dir, e->d_name);
        CHECK(symlink(p, q) == 0);
    }
    if (d) closedir(d);
    snprintf(q, sizeof q, "%s/torch-stubs/%s", dir, extra_name);
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", extra, q);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    unsetenv("SL_TORCH_STUBS"); /* the cases set it themselves (a suite run may set it) */
    const char *bin = getenv("SL_BIN");
    if (!bin) {
        fprintf(stderr, "SL_BIN is not set (ctest sets it)\n");
        return 2;
    }
    char lib[PATH_MAX], stubs[PATH_MAX];
    snprintf(lib, sizeof lib, "%s/../lib/libsl_torch.so", bin);
    snprintf(stubs, sizeof stubs, "%s/../lib/torch-stubs", bin);
    struct stat sb;
    if (stat(stubs, &sb) != 0) {
        printf("skipped: the build made no stand-ins (%s; see the build's torch-stubs message)\n",
               stubs);
        return 77;
    }
    DIR *d = opendir(stubs);
    struct dirent *e;
    int opencv = 0;
    while (d && (e = readdir(d)) != NULL) opencv |= strncmp(e->d_name, "libopencv_core.so", 17) == 0;
    if (d) closedir(d);
    TU_CHECK_MSG(opencv, "%s has no stand-in for libopencv_core", stubs);
    const char *dir = tu_tmpdir();

    check_case("as built", dir, NULL, NULL, 1, 0);
    check_case("SL_TORCH_STUBS=0", dir, "SL_TORCH_STUBS=0", NULL, 0, 0);

    /* A file that is no library: the stand-ins are not used at all. */
    char sub[1024], shim[PATH_MAX], text[1024]; /* dir is at most 511 characters */
    snprintf(text, sizeof text, "%s/text", dir);
    FILE *f = fopen(text, "w");
    CHECK(f && fputs("not a library\n", f) >= 0 && fclose(f) == 0);
    snprintf(sub, sizeof sub, "%s/notelf", dir);
    CHECK(mkdir(sub, 0755) == 0);
    fake_tree(sub, lib, stubs, text, "libnot-a-library.so.1");
    snprintf(shim, sizeof shim, "%s/libsl_torch.so", sub);
    check_case("a stand-in that is no library", dir, NULL, shim, 0, 1);

#ifdef SL_FAKE_C10
    /* A stand-in for libc10, which libtorch calls: the shim fails with them, loads without. */
    snprintf(sub, sizeof sub, "%s/c10", dir);
    CHECK(mkdir(sub, 0755) == 0);
    fake_tree(sub, lib, stubs, SL_FAKE_C10, SL_C10_SONAME);
    snprintf(shim, sizeof shim, "%s/libsl_torch.so", sub);
    check_case("a stand-in for libc10", dir, NULL, shim, 0, 1);
#else
    printf("no libc10 stand-in case: libc10's soname was not found at configure time\n");
#endif
    tu_rmtree(dir);
    return TU_DONE();
}
