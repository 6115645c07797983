/* cpuquota.h: running this process as a slow device: PCT % of one core.
 *
 * Two ways, chosen with `--cpu-mode` on profile, bench and device (docs/profile.md, "A slow
 * device on a fast machine"):
 *
 * dilate (the default): the work runs at the host's full speed and the device's time is its CPU
 * time divided by the share. A span of device work (sl_slow_begin/sl_slow_end: the device's
 * compute for one image, its codec) then sleeps until it has lasted cpu / share, and the
 * profiler reads the same clock (sl_slow_now) without sleeping. Every span is slowed by exactly
 * 1/share, short or long, after idle time or not; load on the host does not change the result
 * while it stretches the work by less than 1/share; no root is needed. The device waits busy,
 * keeping its core (and caches) as a real device has them; dilate-idle sleeps instead, for
 * several emulated devices sharing a few cores. What it does not model:
 * a slower device's different cache and memory-bandwidth balance (nor does a quota).
 *
 * quota: the process moves into a new cgroup whose quota is
 * PCT % of one core per period. The period is short (4 ms, longer only when the kernel's 1 ms
 * minimum quota needs it: 10 ms at 10 %), so a 0.3 ms block and a 300 ms model are throttled
 * alike; with the kernel's default 100 ms period a short block runs at full speed inside the
 * period's quota and a profile calls a slow device several times faster than it is. The group
 * also gets the highest CPU weight, so other work on the machine does not push the device below
 * its quota (a device is a machine of its own).
 *
 * cgroup v2 (a cgroup2 mount whose cgroup.controllers lists cpu: cpu.max, cpu.weight) and v1
 * (a cgroup mount with the cpu controller: cpu.cfs_period_us, cpu.cfs_quota_us, cpu.shares)
 * are both handled. It needs root (or write access to the hierarchy): without it, or without a
 * cpu controller, entering fails with a message saying why — never a silent unthrottled run.
 */
#ifndef SL_COMMON_CPUQUOTA_H
#define SL_COMMON_CPUQUOTA_H

typedef struct sl_cpuquota sl_cpuquota;

/* The period (microseconds) used for a quota of `pct` % of one core: 4000, or more when the
 * quota would fall below the kernel's 1000 us minimum. */
long sl_cpuquota_period_us(double pct);

/* Moves this whole process (every thread) into a new cgroup limited to `pct` % of one core
 * (0 < pct <= 100 * cores). Returns SL_OK and *out (leave with sl_cpuquota_leave), or SL_EARG
 * (pct out of range) / SL_EIO (no controller, no permission; the message says which and what
 * to do) with *out = NULL and nothing changed. */
int sl_cpuquota_enter(double pct, sl_cpuquota **out);

/* Same for the calling thread only (and threads it starts later), so one process can play a
 * slow device beside an unthrottled edge (`sl-offload bench`). Needs cgroup v1's cpu
 * hierarchy (per-thread groups in v2 need a threaded subtree this does not set up: SL_EIO
 * saying so). */
int sl_cpuquota_enter_thread(double pct, sl_cpuquota **out);

/* The two modes of `--cpu-mode`, in the order of SL_CPU_MODES (an SL_OPT_CHOICE list). */
enum { SL_CPU_DILATE = 0, SL_CPU_QUOTA = 1, SL_CPU_DILATE_IDLE = 2 };
#define SL_CPU_MODES "dilate|quota|dilate-idle"
#define SL_CPU_MODE_HELP                                                                           \
    "how --cpu slows the device: dilate (default: full speed, then busy until CPU time / "       \
    "share; no root), quota (a short-period cgroup quota; root) or dilate-idle (as dilate, "     \
    "but asleep, leaving the core to others: for several devices side by side on one host)"

/* Plays a device of `pct` % of one core in `mode`, for this process (thread 0) or only the
 * calling thread and the threads it starts (thread 1: a device beside an in-process edge), and
 * logs "<who> under ..." at info level. Returns SL_OK and *out (leave with sl_cpuquota_leave),
 * or the error of sl_cpuquota_enter / SL_EARG (pct out of range) with *out = NULL. In dilate
 * mode, time spans are measured on the thread's CPU clock when `thread`, else the process's. */
int sl_cpu_slow_enter(double pct, int mode, int thread, const char *who, sl_cpuquota **out);

/* A span of device work under dilation. */
typedef struct sl_slow_span {
    double wall0, cpu0;
} sl_slow_span;

/* The share of a core being played (pct / 100), or 0 when no dilation is in force. */
double sl_slow_share(void);

/* Seconds on the slow device's clock: CPU time / share while dilation is in force (so the
 * difference of two readings is what the work between them takes on the device), otherwise
 * sl_now(). For measuring (the profiler); it never sleeps. */
double sl_slow_now(void);

/* Starts a span of device computation (no waits on the network inside it). */
void sl_slow_begin(sl_slow_span *s);

/* Ends it: under dilation sleeps until the span has lasted max(its wall time, its CPU time /
 * share) and returns that; otherwise returns its wall time at once. */
double sl_slow_end(const sl_slow_span *s);

/* "cgroup v1 cpu, 25% of a core (1000/4000 us)" into buf, for logs. */
void sl_cpuquota_describe(const sl_cpuquota *q, char *buf, unsigned long n);

/* Moves the process back to the cgroup it came from and removes the group (quota), or ends the
 * dilation. NULL is a no-op. */
void sl_cpuquota_leave(sl_cpuquota *q);

#endif
