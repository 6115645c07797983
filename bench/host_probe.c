/* host_probe.c: how fast is each CPU of this machine right now? Runs one fixed piece of work
 * pinned to each CPU it may use, one after the other, and prints the CPU milliseconds each took.
 * Two kinds of work:
 *   fp     a multiply-add over 64 KiB (in L2), about 4 ms on a quiet 2.7 GHz core: on a shared
 *          virtual machine it takes about twice as long while another tenant's work shares the
 *          physical core;
 *   chase  a random pointer chase over 4 MiB (one pointer per 64-byte line, four laps), about
 *          4 ms when the last-level cache holds it: slow when other work fills that cache.
 * bench/noise.sh runs it beside the local bench to see whether either explains the bench's spread.
 *
 * usage: host_probe [--kind fp|chase] [--rounds N]   (N runs per CPU, the median printed)
 * Prints one line: "cpu0 MS cpu1 MS ...".
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { N = 16384, REPS = 3000, MAX_ROUNDS = 64, CHASE_LINES = (4 << 20) / 64, LAPS = 4 };

static double thread_cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* The fixed work: REPS passes of a multiply-add over 64 KiB (in L2), kept live by its result. */
static double loop_ms(float *a, const float *b)
{
    for (int i = 0; i < N; i++)
        a[i] = i * 1e-6f;
    double t0 = thread_cpu_ms();
    float keep = 0;
    for (int r = 0; r < REPS; r++) {
        for (int i = 0; i < N; i++)
            a[i] = a[i] * b[i] + 0.5f;
        keep += a[r % N];
    }
    double ms = thread_cpu_ms() - t0;
    return keep == -1.0f ? -ms : ms; /* never true: makes the loop's result observable */
}

/* The chase: next[] holds one random cycle through CHASE_LINES lines of 64 bytes (a fixed seed,
 * so every run walks the same cycle). */
static double chase_ms(const size_t *next)
{
    size_t p = 0;
    for (size_t i = 0; i < CHASE_LINES; i++) /* one lap to bring it into the caches */
        p = next[p];
    double t0 = thread_cpu_ms();
    for (size_t i = 0; i < (size_t)LAPS * CHASE_LINES; i++)
        p = next[p];
    double ms = thread_cpu_ms() - t0;
    return p == (size_t)-1 ? -ms : ms; /* never true: makes the walk observable */
}

static size_t *chase_make(void)
{
    size_t *next = aligned_alloc(64, (size_t)CHASE_LINES * 64);
    size_t *order = malloc(CHASE_LINES * sizeof *order);
    if (!next || !order) {
        free(next);
        free(order);
        return NULL;
    }
    const size_t stride = 64 / sizeof *next;
    uint32_t x = 2463534242u; /* xorshift32, fixed seed */
    for (size_t i = 0; i < CHASE_LINES; i++)
        order[i] = i;
    for (size_t i = CHASE_LINES - 1; i > 0; i--) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        size_t j = x % (i + 1), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    for (size_t i = 0; i < CHASE_LINES; i++)
        next[order[i] * stride] = order[(i + 1) % CHASE_LINES] * stride;
    free(order);
    return next;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
    int rounds = 1, chase = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: host_probe [--kind fp|chase] [--rounds N]\n"
                   "Times one fixed piece of work pinned to each CPU this process may use and\n"
                   "prints \"cpu0 MS cpu1 MS ...\" (CPU milliseconds; the median of N rounds).\n"
                   "  fp     a multiply-add over 64 KiB (the core's own throughput; default)\n"
                   "  chase  a random pointer chase over 4 MiB (the last-level cache)\n");
            return 0;
        }
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > MAX_ROUNDS) {
                fprintf(stderr, "host_probe: --rounds: '%s' is not a whole number from 1 to %d\n",
                        argv[i], MAX_ROUNDS);
                return 2;
            }
            rounds = (int)v;
            continue;
        }
        if (!strcmp(argv[i], "--kind") && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "fp") && strcmp(argv[i], "chase")) {
                fprintf(stderr, "host_probe: --kind: '%s' is not fp or chase\n", argv[i]);
                return 2;
            }
            chase = !strcmp(argv[i], "chase");
            continue;
        }
        fprintf(stderr, "host_probe: unknown argument '%s' (try --help)\n", argv[i]);
        return 2;
    }
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed)) {
        perror("host_probe: sched_getaffinity");
        return 1;
    }
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    size_t *next = chase ? chase_make() : NULL;
    if (!a || !b || (chase && !next)) {
        fprintf(stderr, "host_probe: out of memory\n");
        return 1;
    }
    for (int i = 0; i < N; i++)
        b[i] = 1.0001f;
    const char *sep = "";
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed))
            continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (sched_setaffinity(0, sizeof one, &one)) {
            perror("host_probe: sched_setaffinity");
            return 1;
        }
        double ms[MAX_ROUNDS];
        for (int r = 0; r < rounds; r++)
            ms[r] = chase ? chase_ms(next) : loop_ms(a, b);
        qsort(ms, rounds, sizeof ms[0], cmp_double);
        printf("%scpu%d %.2f", sep, cpu, ms[rounds / 2]);
        sep = " ";
    }
    printf("\n");
    free(a);
    free(b);
    free(next);
    return 0;
}
