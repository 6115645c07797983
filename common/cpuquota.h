/* cpuquota.h: running this process as a slow device — a CPU quota of a share of one core.
 *
 * `--cpu PCT` on profile, bench and device: the process moves into a new cgroup whose quota is
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

/* "cgroup v1 cpu, 25% of a core (1000/4000 us)" into buf, for logs. */
void sl_cpuquota_describe(const sl_cpuquota *q, char *buf, unsigned long n);

/* Moves the process back to the cgroup it came from and removes the group. NULL is a no-op. */
void sl_cpuquota_leave(sl_cpuquota *q);

#endif
