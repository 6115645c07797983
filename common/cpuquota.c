/* cpuquota.c: a cgroup CPU quota for this process, v2 or v1 (see cpuquota.h). */
#include "common/cpuquota.h"

#include "common/log.h"
#include "common/status.h"
#include "common/timeutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PATH_N 1024
#define MIN_QUOTA_US 1000L
#define PERIOD_US 4000L

struct sl_cpuquota {
    int dilate; /* no group: a dilation in force (below) */
    int v2;
    int thread; /* only one thread moved: its id goes through `tasks` */
    long id;    /* the process or thread id moved */
    double pct;
    long quota_us, period_us;
    char dir[2 * PATH_N];  /* the group made for us */
    char back[2 * PATH_N]; /* the group we came from */
};

long sl_cpuquota_period_us(double pct)
{
    long period = PERIOD_US;
    if (pct > 0 && pct / 100.0 * (double)period < (double)MIN_QUOTA_US)
        period = (long)ceil((double)MIN_QUOTA_US * 100.0 / pct);
    return period;
}

static int write_str(const char *dir, const char *file, const char *text)
{
    char path[3 * PATH_N];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    if (!f) return sl_err(SL_EIO, "%s: %s", path, strerror(errno));
    int ok = fputs(text, f) >= 0;
    ok &= fclose(f) == 0;
    if (!ok) return sl_err(SL_EIO, "%s: writing '%s': %s", path, text, strerror(errno));
    return SL_OK;
}

/* 1 when the comma-separated list `opts` holds the word `w`. */
static int has_word(const char *opts, const char *w, char sep)
{
    size_t n = strlen(w);
    for (const char *p = opts; p && *p;) {
        const char *e = strchr(p, sep);
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && (p[len - 1] == '\n' || p[len - 1] == ' '))
            len--;
        if (len == n && !strncmp(p, w, n)) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* Finds the hierarchy with a cpu controller: a cgroup2 mount listing it (preferred) or a v1
 * cgroup mount with the cpu option. Fills `mount` and *v2; 0 when there is none. */
static int find_mount(char *mount, size_t n, int *v2)
{
    FILE *f = fopen("/proc/self/mounts", "r");
    if (!f) return 0;
    char dev[256], dir[PATH_N], type[64], opts[512];
    char v1[PATH_N] = "";
    int found = 0;
    while (fscanf(f, "%255s %1023s %63s %511s %*d %*d", dev, dir, type, opts) == 4) {
        if (!strcmp(type, "cgroup2")) {
            char path[PATH_N + 32], line[512] = "";
            snprintf(path, sizeof path, "%s/cgroup.controllers", dir);
            FILE *c = fopen(path, "r");
            if (c && fgets(line, sizeof line, c) && has_word(line, "cpu", ' ')) {
                snprintf(mount, n, "%s", dir);
                *v2 = 1;
                found = 1;
            }
            if (c) fclose(c);
            if (found) break;
        } else if (!strcmp(type, "cgroup") && has_word(opts, "cpu", ',') && !v1[0]) {
            snprintf(v1, sizeof v1, "%s", dir);
        }
    }
    fclose(f);
    if (!found && v1[0]) {
        snprintf(mount, n, "%s", v1);
        *v2 = 0;
        found = 1;
    }
    return found;
}

/* The path of this process's group in the hierarchy (v2: "0::/x"; v1: the line naming cpu). */
static void current_group(int v2, int thread, char *path, size_t n)
{
    snprintf(path, n, "/");
    FILE *f = fopen(thread ? "/proc/thread-self/cgroup" : "/proc/self/cgroup", "r");
    char line[PATH_N + 128];
    while (f && fgets(line, sizeof line, f)) {
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b) continue;
        *b = '\0';
        int match = v2 ? !strcmp(a + 1, "") : has_word(a + 1, "cpu", ',');
        if (!match) continue;
        b[1 + strcspn(b + 1, "\n")] = '\0';
        snprintf(path, n, "%s", b + 1);
        break;
    }
    if (f) fclose(f);
}

/* SL_OK when pct is a share this host can play: above 0, at most 100 per online core. */
static int check_pct(double pct)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (!(pct > 0) || pct > 100.0 * (double)(cores > 0 ? cores : 1))
        return sl_err(SL_EARG, "--cpu %g: must be above 0 and at most %ld (%% of one core)", pct,
                      100 * (cores > 0 ? cores : 1));
    return SL_OK;
}

static int enter(double pct, int thread, sl_cpuquota **out)
{
    *out = NULL;
    int rc = check_pct(pct);
    if (rc) return rc;
    char mount[PATH_N];
    int v2 = 0;
    if (!find_mount(mount, sizeof mount, &v2))
        return sl_err(SL_EIO, "--cpu: no cgroup cpu controller is mounted (neither a cgroup2 "
                              "hierarchy listing 'cpu' nor a v1 'cpu' hierarchy), so the CPU "
                              "cannot be limited; run without --cpu, or on a host that has one");
    if (thread && v2)
        return sl_err(SL_EIO, "--cpu: this host's cpu controller is cgroup v2, where a quota for "
                              "one thread needs a threaded subtree: run the device as its own "
                              "process (sl-offload device --cpu) instead");
    sl_cpuquota *q = calloc(1, sizeof *q);
    if (!q) return sl_err(SL_ENOMEM, "out of memory");
    q->v2 = v2;
    q->thread = thread;
    q->id = thread ? (long)syscall(SYS_gettid) : (long)getpid();
    q->pct = pct;
    q->period_us = sl_cpuquota_period_us(pct);
    q->quota_us = (long)llround(pct / 100.0 * (double)q->period_us);
    char cur[PATH_N];
    current_group(v2, thread, cur, sizeof cur);
    snprintf(q->back, sizeof q->back, "%s%s", mount, strcmp(cur, "/") ? cur : "");
    snprintf(q->dir, sizeof q->dir, "%s/sl-cpu-%ld", mount, q->id);
    if (mkdir(q->dir, 0755) && errno != EEXIST) {
        int e = errno;
        long id = q->id;
        free(q);
        return sl_err(SL_EIO, "--cpu: cannot create the cgroup %s/sl-cpu-%ld: %s%s", mount, id,
                      strerror(e),
                      e == EACCES || e == EPERM || e == EROFS ? " (needs root)" : "");
    }
    char text[64];
    if (v2) {
        /* The root's children get the cpu controller only once the root enables it. */
        rc = write_str(mount, "cgroup.subtree_control", "+cpu");
        snprintf(text, sizeof text, "%ld %ld", q->quota_us, q->period_us);
        if (!rc) rc = write_str(q->dir, "cpu.max", text);
        if (!rc) rc = write_str(q->dir, "cpu.weight", "10000");
    } else {
        snprintf(text, sizeof text, "%ld", q->period_us);
        rc = write_str(q->dir, "cpu.cfs_period_us", text);
        snprintf(text, sizeof text, "%ld", q->quota_us);
        if (!rc) rc = write_str(q->dir, "cpu.cfs_quota_us", text);
        if (!rc) rc = write_str(q->dir, "cpu.shares", "262144");
    }
    snprintf(text, sizeof text, "%ld", q->id);
    if (!rc) rc = write_str(q->dir, thread ? "tasks" : "cgroup.procs", text);
    if (rc) {
        rmdir(q->dir);
        free(q);
        return sl_err_ctx(rc, "--cpu %g: ", pct);
    }
    *out = q;
    return SL_OK;
}

int sl_cpuquota_enter(double pct, sl_cpuquota **out)
{
    return enter(pct, 0, out);
}

int sl_cpuquota_enter_thread(double pct, sl_cpuquota **out)
{
    return enter(pct, 1, out);
}

/* ---- dilation ------------------------------------------------------------------------------
 * Set before the device's work starts and read by it; the edge threads of an in-process bench
 * never read it. */
static double slow_share;
static int slow_idle; /* sleep, not spin, to the span's end */
static clockid_t slow_clock = CLOCK_PROCESS_CPUTIME_ID;

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(slow_clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double sl_slow_share(void)
{
    return slow_share;
}

double sl_slow_now(void)
{
    return slow_share > 0 ? cpu_seconds() / slow_share : sl_now();
}

void sl_slow_begin(sl_slow_span *s)
{
    s->wall0 = sl_now();
    s->cpu0 = slow_share > 0 ? cpu_seconds() : 0;
}

double sl_slow_end(const sl_slow_span *s)
{
    double wall = sl_now() - s->wall0;
    if (!(slow_share > 0)) return wall;
    double want = (cpu_seconds() - s->cpu0) / slow_share;
    if (want <= wall) return wall;
    /* Busy, not asleep (unless dilate-idle): a sleeping core runs the host's other work, which
     * evicts the device's weights from the caches; the next forward then cost 3.6 ms of CPU
     * instead of 3.0 (mobilenet_v2 at 128 px, under load; docs/profile.md). */
    double until = s->wall0 + want, now;
    if (slow_idle) {
        struct timespec ts = {.tv_sec = (time_t)until};
        ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
        if (ts.tv_nsec > 999999999L) ts.tv_nsec = 999999999L;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
    }
    while ((now = sl_now()) < until) {
    }
    return now - s->wall0;
}

int sl_cpu_slow_enter(double pct, int mode, int thread, const char *who, sl_cpuquota **out)
{
    *out = NULL;
    int rc;
    if (mode == SL_CPU_QUOTA) {
        rc = enter(pct, thread, out);
    } else {
        if ((rc = check_pct(pct))) return rc;
        sl_cpuquota *q = calloc(1, sizeof *q);
        if (!q) return sl_err(SL_ENOMEM, "out of memory");
        q->dilate = 1;
        q->thread = thread;
        q->pct = pct;
        slow_clock = thread ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID;
        slow_share = pct / 100.0;
        slow_idle = mode == SL_CPU_DILATE_IDLE;
        *out = q;
        rc = SL_OK;
    }
    if (rc == SL_OK) {
        char what[160];
        sl_cpuquota_describe(*out, what, sizeof what);
        sl_log_info("%s under %s", who, what);
    }
    return rc;
}

void sl_cpuquota_describe(const sl_cpuquota *q, char *buf, unsigned long n)
{
    if (!q) {
        snprintf(buf, n, "no CPU quota");
        return;
    }
    if (q->dilate) {
        snprintf(buf, n, "%g%% of a core, dilated (full speed, then %s until %s CPU time / %g)",
                 q->pct, slow_idle ? "asleep" : "busy", q->thread ? "the thread's" : "the process's",
                 q->pct / 100.0);
        return;
    }
    snprintf(buf, n, "cgroup %s cpu, %g%% of a core (%ld/%ld us)", q->v2 ? "v2" : "v1", q->pct,
             q->quota_us, q->period_us);
}

void sl_cpuquota_leave(sl_cpuquota *q)
{
    if (!q) return;
    if (q->dilate) {
        slow_share = 0;
        free(q);
        return;
    }
    char text[32];
    snprintf(text, sizeof text, "%ld", q->id);
    /* Every thread goes back with the process (or the one thread alone); the group, empty once
     * threads started inside it have ended, can then be removed. */
    write_str(q->back, q->thread ? "tasks" : "cgroup.procs", text);
    rmdir(q->dir);
    free(q);
}
