/* loader.c: opens the shim's shared library on first use (see loader.h for where it looks). */
#include "shim/loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef SL_SHIM_LIB_NAME
#error "SL_SHIM_LIB_NAME (the shared library's file name) is set by shim/CMakeLists.txt"
#endif
#ifndef SL_SHIM_BUILD_PATH
#error "SL_SHIM_BUILD_PATH (the shared library in the build tree) is set by shim/CMakeLists.txt"
#endif

/* The thread's message, as the library's own sl_torch_last_error() until the library is loaded. */
static _Thread_local char t_err[PATH_MAX + 512] = "no error";
/* The function whose call is loading the library, for SL_SHIM_DENY's notice. */
static _Thread_local const char *t_fn = "?";
/* Why the load failed; written once, inside the pthread_once routine. */
static char g_why[PATH_MAX + 256];
/* 0 not tried, 1 loaded, -1 failed. Set (release) after the function table is filled. */
static atomic_int g_state;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* <directory of this executable>/../lib/SL_SHIM_LIB_NAME into buf; -1 if /proc/self/exe cannot
 * be read or the path does not fit. */
static int exe_relative(char *buf, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return -1;
    *slash = '\0';
    int w = snprintf(buf, size, "%s/../lib/%s", exe, SL_SHIM_LIB_NAME);
    return w < 0 || (size_t)w >= size ? -1 : 0;
}

__attribute__((format(printf, 1, 2))) static void fail_load(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_why, sizeof g_why, fmt, ap);
    va_end(ap);
    atomic_store_explicit(&g_state, -1, memory_order_release);
}

/* With SL_SHIM_DROP_PAGES=1 (deploy/sl-device.service sets it), called once libtorch is loaded:
 * unmaps from this process the resident pages of every read-only private file mapping (the
 * programs' and libraries' code and read-only data) that holds no private copy (smaps
 * "Anonymous: 0 kB"), with MADV_DONTNEED. Loading libtorch runs about 700 static constructors
 * once, which leave some 60 MB of library pages resident that nothing runs again; those pages
 * stay in the page cache (no disk read, nothing evicted), and a page used again comes back by a
 * minor fault. Nothing is lost: a page without a private copy is the file's. The process's own
 * memory (heap, relocated data) is not touched. Best effort, silent: a mapping that cannot be
 * read or advised stays as it is. Returns the kB dropped (what smaps called resident). */
static long drop_file_pages(void)
{
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f) return 0;
    struct range {
        unsigned long lo, hi;
        long rss;
    } *r = NULL;
    size_t n = 0, cap = 0;
    int cand = 0; /* the current mapping is read-only, private and file-backed */
    char line[PATH_MAX + 128];
    unsigned long lo, hi;
    char perm[8], path[PATH_MAX];
    long kb;
    while (fgets(line, sizeof line, f)) {
        path[0] = '\0';
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %4095s", &lo, &hi, perm, path) >= 3) {
            cand = path[0] == '/' && perm[0] == 'r' && perm[1] != 'w' && perm[3] == 'p';
            if (cand && n == cap) {
                struct range *g = realloc(r, (cap = cap ? 2 * cap : 256) * sizeof *r);
                if (!g) break;
                r = g;
            }
            if (cand) r[n++] = (struct range){lo, hi, 0};
        } else if (cand && sscanf(line, "Rss: %ld", &kb) == 1) {
            r[n - 1].rss = kb;
        } else if (cand && sscanf(line, "Anonymous: %ld", &kb) == 1 && kb != 0) {
            n--; /* a private copy of some page (a relocation, a patch): leave it */
            cand = 0;
        }
    }
    fclose(f);
    long dropped = 0;
    for (size_t i = 0; i < n; i++)
        if (r[i].rss > 0 && madvise((void *)r[i].lo, r[i].hi - r[i].lo, MADV_DONTNEED) == 0)
            dropped += r[i].rss;
    free(r);
    return dropped;
}

/* SL_SHIM_DROP_PAGES is set, not empty and not "0". */
static int drop_wanted(void)
{
    const char *drop = getenv("SL_SHIM_DROP_PAGES");
    return drop && *drop && strcmp(drop, "0") != 0;
}

/* The stand-ins loaded from torch-stubs/ (at most this many; a folder with more is not used). */
enum { MAX_STUBS = 256 };
static void *g_stubs[MAX_STUBS];
static size_t g_nstubs;

static void close_stubs(void)
{
    while (g_nstubs > 0) dlclose(g_stubs[--g_nstubs]);
}

/* <folder of the shim library at `lib`>/torch-stubs into buf; -1 if it does not fit. */
static int stubs_dir(const char *lib, char *buf, size_t size)
{
    const char *slash = strrchr(lib, '/');
    int w = slash ? snprintf(buf, size, "%.*s/torch-stubs", (int)(slash - lib), lib)
                  : snprintf(buf, size, "torch-stubs");
    return w < 0 || (size_t)w >= size ? -1 : 0;
}

/* The stand-ins (cmake/torch-stubs.py): when the folder `dir` exists and SL_TORCH_STUBS is not
 * "0", dlopens each shared library in it (a name with ".so"), so that libtorch's DT_NEEDED of
 * that soname is met by the object already loaded (glibc matches loaded objects by soname before
 * it searches the library path) and the real library, with its own dependencies, is not loaded.
 * 0 when none are loaded (no folder, turned off); 1 when some are; -1 (none loaded, `why` set)
 * when one cannot be loaded or the folder has too many. */
static int open_stubs(const char *dir, char *why, size_t size)
{
    const char *knob = getenv("SL_TORCH_STUBS");
    if (knob && strcmp(knob, "0") == 0) return 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !strstr(e->d_name, ".so")) continue;
        char p[PATH_MAX];
        int w = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (w < 0 || (size_t)w >= sizeof p || g_nstubs == MAX_STUBS) {
            snprintf(why, size, "%s: too many files or too long a path", dir);
            rc = -1;
            break;
        }
        dlerror();
        void *h = dlopen(p, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *err = dlerror();
            snprintf(why, size, "%s", err ? err : p);
            rc = -1;
        } else {
            g_stubs[g_nstubs++] = h;
        }
    }
    closedir(d);
    if (rc < 0) close_stubs();
    return rc < 0 ? -1 : g_nstubs > 0;
}

/* Once per process (load_once runs once): the stand-ins of `dir` could not be used. */
static void warn_stubs(const char *dir, const char *why)
{
    fprintf(stderr,
            "sl_shim: warning: the stand-ins of %s cannot be used (%s); loading libtorch "
            "without them (a rebuild remakes them; SL_TORCH_STUBS=0 skips them)\n",
            dir, why);
}

static void load_once(void)
{
    const char *deny = getenv("SL_SHIM_DENY");
    if (deny && *deny && strcmp(deny, "0") != 0) {
        fprintf(stderr, "sl_shim: %s needs the model runtime: load refused (SL_SHIM_DENY is set)\n",
                t_fn);
        fail_load("refused (SL_SHIM_DENY is set)");
        return;
    }
    char rel[PATH_MAX];
    const char *path = getenv("SL_SHIM_LIB");
    if (!path || !*path) {
        if (exe_relative(rel, sizeof rel) == 0 && access(rel, F_OK) == 0)
            path = rel;
        else if (access(SL_SHIM_BUILD_PATH, F_OK) == 0)
            path = SL_SHIM_BUILD_PATH;
        else {
            fail_load("%s not found next to the program (../lib/) nor at %s; set SL_SHIM_LIB to "
                      "its path",
                      SL_SHIM_LIB_NAME, SL_SHIM_BUILD_PATH);
            return;
        }
    }
    /* Tensors are allocated with malloc. glibc serves a request above M_MMAP_THRESHOLD (128 KiB
     * until a large block has been freed, which raises it) with a fresh mmap, and unmaps it on
     * free: a model's activations (1.6 MB per tensor in mobilenet_v2 at 224 px) then pay page
     * faults and the kernel's zeroing on every run. A process whose first model was a small
     * range ran it 5-7x slower than one that had loaded a larger model before (mobilenet_v2's
     * device half at features.1: 13 ms against 2 ms per image; docs/benchmarks.md,
     * "Predictions"). So the threshold is fixed where glibc's own adjustment would take it,
     * 32 MiB (its upper bound). Freed memory at the top of the heap is kept up to 1 GiB: with
     * 64 MiB, a model whose run peaks higher (densenet121 at batch 8) gave the rest back after
     * every run and faulted it in again on the next, 30-105k page faults and up to 0.7 s of
     * system time per run (docs/benchmarks.md, "Inference (executor)"). */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    char stubs[PATH_MAX], why[PATH_MAX + 256];
    int with_stubs = stubs_dir(path, stubs, sizeof stubs) == 0 ? open_stubs(stubs, why, sizeof why) : 0;
    if (with_stubs < 0) warn_stubs(stubs, why);
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h && with_stubs > 0) {
        /* Stale stand-ins (libtorch upgraded and now calls one of them: an undefined symbol):
         * never a failure that plain loading would not have. */
        const char *err = dlerror();
        snprintf(why, sizeof why, "%s", err ? err : "dlopen failed");
        close_stubs();
        warn_stubs(stubs, why);
        dlerror();
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    }
    if (!h) {
        const char *why = dlerror();
        fail_load("%s%s", why ? why : path, why ? "" : ": dlopen failed");
        return;
    }
    /* Not closed on failure below: libtorch's static state may not survive an unload, and the
     * process goes on without it either way. */
    const char *abi = dlsym(h, "sl_shim_abi");
    if (!abi || strcmp(abi, sl_shim_abi_expected) != 0) {
        fail_load("%s was built from other shim headers than this program (stamp %s, expected %s)",
                  path, abi ? abi : "none", sl_shim_abi_expected);
        return;
    }
    for (size_t i = 0; i < sl_shim_nfn; i++) {
        void *p = dlsym(h, sl_shim_fn_names[i]);
        if (!p) {
            fail_load("%s has no function %s", path, sl_shim_fn_names[i]);
            return;
        }
        sl_shim_fn[i] = p;
    }
    if (drop_wanted()) drop_file_pages();
    atomic_store_explicit(&g_state, 1, memory_order_release);
}

int sl_shim_need(const char *fn)
{
    if (atomic_load_explicit(&g_state, memory_order_acquire) == 1) return 0;
    t_fn = fn;
    pthread_once(&g_once, load_once);
    if (atomic_load_explicit(&g_state, memory_order_acquire) == 1) return 0;
    snprintf(t_err, sizeof t_err, "cannot load the model runtime: %s", g_why);
    return -1;
}

int sl_shim_loaded(void)
{
    return atomic_load_explicit(&g_state, memory_order_acquire) == 1;
}

const char *sl_shim_error(void)
{
    return t_err;
}

long sl_shim_release_pages(void)
{
    if (!sl_shim_loaded() || !drop_wanted()) return 0;
    return drop_file_pages();
}
