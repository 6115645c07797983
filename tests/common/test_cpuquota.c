/* test_cpuquota.c: --cpu is refused cleanly where it cannot be applied (bad share, no root),
 * and applied where it can: as root with a cpu controller, a busy loop under a 25% quota takes
 * about 4x its CPU time in wall time, and leaving removes the group. Dilation (the default mode,
 * no root): a span of work lasts its CPU time / share, short or long, and the profiler's clock
 * reads the same. Wall-clock bound: label `timing`, run serially. */
#include "common/cpuquota.h"
#include "common/status.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double clock_s(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static volatile double sink;

/* Spins until this thread has used `cpu_s` of CPU; returns the wall time it took. */
static double spin(double cpu_s)
{
    double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
    while (clock_s(CLOCK_THREAD_CPUTIME_ID) - c0 < cpu_s)
        for (int i = 0; i < 1000; i++)
            sink += i;
    return clock_s(CLOCK_MONOTONIC) - w0;
}

static int in_group(const char *needle)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[1024];
    int found = 0;
    while (f && fgets(line, sizeof line, f))
        found |= strstr(line, needle) != NULL;
    if (f) fclose(f);
    return found;
}

/* Dilation at 25%: spans of 2 ms and 50 ms of CPU, each right after an idle wait, last 4x their
 * CPU time (the quota's weakness was short work after idle running at full speed). */
static void check_dilation(void)
{
    sl_cpuquota *q = NULL;
    CHECK_EQ(sl_cpu_slow_enter(0, SL_CPU_DILATE, 0, "test", &q), SL_EARG);
    CHECK(q == NULL && sl_slow_share() == 0);
    for (int mode = 0; mode < 2; mode++) {
        CHECK_EQ(sl_cpu_slow_enter(25, mode ? SL_CPU_DILATE_IDLE : SL_CPU_DILATE, 1, "test", &q),
                 SL_OK);
        CHECK(q != NULL);
        CHECK(sl_slow_share() == 0.25);
        char what[160];
        sl_cpuquota_describe(q, what, sizeof what);
        CHECK(strstr(what,
                     mode ? "dilated (full speed, then asleep" : "dilated (full speed, then busy"));
        const double cpu[2] = {0.002, 0.05};
        for (int k = 0; k < 2; k++) {
            struct timespec idle = {0, 20 * 1000 * 1000};
            nanosleep(&idle, NULL);
            sl_slow_span span;
            sl_slow_begin(&span);
            double d0 = sl_slow_now(), used = clock_s(CLOCK_THREAD_CPUTIME_ID);
            spin(cpu[k]);
            used = clock_s(CLOCK_THREAD_CPUTIME_ID) - used;
            double dev = sl_slow_now() - d0;
            double took = sl_slow_end(&span);
            printf("%s 25%%: %.1f ms of CPU lasted %.1f ms (%.2fx); device clock %.1f ms\n",
                   mode ? "dilate-idle" : "dilate", 1e3 * used, 1e3 * took, took / used, 1e3 * dev);
            /* never shorter than CPU / share; longer only by what the host's other work adds (a
             * wake-up, a preemption: up to 15 ms on a loaded host) */
            TU_CHECK_MSG(took >= used / 0.25 * 0.99, "%.2fx, want at least 4x", took / used);
            TU_CHECK_MSG(took < used / 0.25 * 1.5 + 0.015, "%.2fx, want about 4x", took / used);
            /* the profiler's clock: the CPU time / share */
            TU_CHECK_MSG(dev > used / 0.25 * 0.95 && dev < used / 0.25 * 1.25 + 0.001,
                         "device clock %.2f ms for %.2f ms of CPU", 1e3 * dev, 1e3 * used);
        }
        sl_cpuquota_leave(q);
        CHECK(sl_slow_share() == 0);
    }
    /* Off: a span is its wall time, with no wait. */
    sl_slow_span span;
    sl_slow_begin(&span);
    double took = sl_slow_end(&span);
    CHECK(took >= 0 && took < 0.01);
}

int main(void)
{
    check_dilation();
    sl_cpuquota *q = NULL;
    /* Shares out of range: usage errors, nothing changed. */
    CHECK_EQ(sl_cpuquota_enter(0, &q), SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "--cpu 0");
    CHECK_EQ(sl_cpuquota_enter(-5, &q), SL_EARG);
    CHECK_EQ(sl_cpuquota_enter(1e9, &q), SL_EARG);
    CHECK(q == NULL);
    /* The period is short, and long enough for the kernel's 1 ms minimum quota. */
    CHECK_EQ(sl_cpuquota_period_us(25), 4000);
    CHECK_EQ(sl_cpuquota_period_us(50), 4000);
    CHECK_EQ(sl_cpuquota_period_us(10), 10000);
    CHECK_EQ(sl_cpuquota_period_us(5), 20000);

    /* Without root: a clear error, never a silent unthrottled run. */
    pid_t pid = fork();
    if (pid == 0) {
        if (getuid() == 0 && (setgid(65534) || setuid(65534))) _exit(3);
        sl_cpuquota *c = NULL;
        int rc = sl_cpuquota_enter(25, &c);
        const char *m = sl_errmsg();
        int ok = rc == SL_EIO && c == NULL && strstr(m, "--cpu") &&
                 (strstr(m, "needs root") || strstr(m, "no cgroup cpu controller") ||
                  strstr(m, "Permission denied"));
        if (!ok) fprintf(stderr, "unprivileged: status %d: %s\n", rc, m);
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    TU_CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "unprivileged child: status %d", st);

    /* As root with a controller: applied, and about 4x slower in wall time. */
    int rc = sl_cpuquota_enter(25, &q);
    if (rc == SL_OK) {
        char what[128], group[64];
        sl_cpuquota_describe(q, what, sizeof what);
        snprintf(group, sizeof group, "sl-cpu-%ld", (long)getpid());
        CHECK(in_group(group));
        double wall = spin(0.2);
        printf("%s: 0.2 s of CPU took %.3f s (%.2fx)\n", what, wall, wall / 0.2);
        /* 4x, give or take the period's granularity and the host's other work. */
        TU_CHECK_MSG(wall / 0.2 > 3.3 && wall / 0.2 < 5.5, "%.2fx, want about 4x", wall / 0.2);
        sl_cpuquota_leave(q);
        CHECK(!in_group(group));
        /* The one-thread variant: cgroup v1 only, else a clear error. */
        rc = sl_cpuquota_enter_thread(25, &q);
        if (rc == SL_OK) {
            wall = spin(0.1);
            TU_CHECK_MSG(wall / 0.1 > 3.3 && wall / 0.1 < 5.5, "thread: %.2fx", wall / 0.1);
            sl_cpuquota_leave(q);
        } else {
            CHECK_CONTAINS(sl_errmsg(), "cgroup v2");
        }
    } else {
        printf("quota not applied here (%s): only the refusals were checked\n", sl_errmsg());
        CHECK_EQ(rc, SL_EIO);
    }
    return TU_DONE();
}
