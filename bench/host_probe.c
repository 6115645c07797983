/* host_probe.c: how fast is each CPU of this machine right now? Runs one fixed floating-point
 * loop (about 4 ms of CPU on a quiet 2.7 GHz core) pinned to each CPU it may use, one after the
 * other, and prints the CPU milliseconds each took. On a shared virtual machine the same loop
 * takes about twice as long when another tenant's work shares the physical core; bench/noise.sh
 * runs it beside the local bench to see whether such spells explain the bench's spread.
 *
 * usage: host_probe [--rounds N]     (N loops per CPU, the median printed; default 1)
 * Prints one line: "cpu0 MS cpu1 MS ...".
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { N = 16384, REPS = 3000, MAX_ROUNDS = 64 };

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

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
    int rounds = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: host_probe [--rounds N]\n"
                   "Times one fixed floating-point loop pinned to each CPU this process may use\n"
                   "and prints \"cpu0 MS cpu1 MS ...\" (CPU milliseconds; the median of N rounds).\n");
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
        fprintf(stderr, "host_probe: unknown argument '%s' (try --help)\n", argv[i]);
        return 2;
    }
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed)) {
        perror("host_probe: sched_getaffinity");
        return 1;
    }
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    if (!a || !b) {
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
            ms[r] = loop_ms(a, b);
        qsort(ms, rounds, sizeof ms[0], cmp_double);
        printf("%scpu%d %.2f", sep, cpu, ms[rounds / 2]);
        sep = " ";
    }
    printf("\n");
    free(a);
    free(b);
    return 0;
}
