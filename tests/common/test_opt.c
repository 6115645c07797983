/* test_opt.c: the declarative option table (common/opt.h): parsing, aliases, errors, usage. */
#include "common/cli.h"
#include "common/opt.h"
#include "common/status.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

static int parse_even(void *dest, const char *v)
{
    long x;
    if (sl_parse_long("--even", v, 0, 100, &x)) return SL_EARG;
    if (x % 2) return sl_err(SL_EARG, "--even: %ld is odd", x);
    *(long *)dest = x;
    return SL_OK;
}

static int run(const sl_optspec *spec, int argc, char **argv, int *nargs)
{
    /* Usage errors go to stderr; keep the test's own output readable. */
    fflush(stderr);
    return sl_opt_parse(spec, argc, argv, nargs);
}

/* EXPECT_RUN(spec, nargs, want, args...): parses the argument vector {args..., NULL} (argc
 * counted from it) against spec and checks the result is want. */
#define EXPECT_RUN(spec, nargs, want, ...)                                                         \
    do {                                                                                           \
        char *argv_[] = {__VA_ARGS__, NULL};                                                       \
        CHECK_EQ(run((spec), (int)(sizeof argv_ / sizeof *argv_) - 1, argv_, (nargs)), (want));    \
    } while (0)

static void test_parse(void)
{
    long threads = 0, even = 0;
    double bw = 0, rtt = 0, ratio = 0;
    const char *out = NULL;
    int json = 0, layout = 0, nargs = -1;
    sl_strv edges = {0};
    const sl_opt shared[] = {SL_OPT_CHOICE(0, "layout", &layout, "auto|imagefolder|mvtec", "layout"),
                             SL_OPT_END};
    const sl_opt opts[] = {
        SL_OPT_LONG('t', "threads", &threads, "N", 1, 64, "threads"),
        SL_OPT_DOUBLE(0, "ratio", &ratio, "R", 0, 1, "ratio"),
        SL_OPT_BANDWIDTH(0, "bandwidth", &bw, "link"),
        SL_OPT_DURATION(0, "rtt", &rtt, "rtt"),
        SL_OPT_FLAG(0, "json", &json, "json"),
        SL_OPT_STRINGS(0, "edge", &edges, "HOST:PORT", "edges"),
        SL_OPT_CALLBACK(0, "even", &even, "N", parse_even, "an even number"),
        SL_OPT_OUTPUT(&out, "output"),
        SL_OPT_GROUP(shared),
        SL_OPT_END,
    };
    const sl_optspec spec = {"t MODEL [options]", NULL, opts, 1, 2, NULL, NULL};
    char *argv[] = {"t", "a.h5", "--threads", "4", "--bandwidth=10mbit", "-o", "x.json",
                    "--json", "--rtt", "20ms", "--edge", "a:1", "--edge=b:2", "b.h5",
                    "--layout", "mvtec", "--even", "8", "--ratio", "0.5", NULL};
    int rc = run(&spec, 20, argv, &nargs);
    CHECK_EQ(rc, SL_OPT_CONTINUE);
    CHECK_EQ(nargs, 2);
    CHECK_STR(argv[1], "a.h5");
    CHECK_STR(argv[2], "b.h5");
    CHECK_EQ(threads, 4);
    CHECK_NEAR(bw, 10e6, 1e-6);
    CHECK_NEAR(rtt, 0.02, 1e-12);
    CHECK_NEAR(ratio, 0.5, 1e-12);
    CHECK_STR(out, "x.json");
    CHECK_EQ(json, 1);
    CHECK_EQ(edges.n, 2);
    CHECK_STR(edges.v[1], "b:2");
    CHECK_EQ(layout, 2);
    CHECK_EQ(even, 8);
    sl_strv_free(&edges);

    /* --out, --output and -oFILE are the one output option. */
    EXPECT_RUN(&spec, &nargs, SL_OPT_CONTINUE, "t", "--out", "y", "m");
    CHECK_STR(out, "y");
    EXPECT_RUN(&spec, &nargs, SL_OPT_CONTINUE, "t", "--output=z", "m");
    CHECK_STR(out, "z");
    char *a4[] = {"t", "-ow", "m", "--", "--json", NULL};
    CHECK_EQ(run(&spec, 5, a4, &nargs), SL_OPT_CONTINUE);
    CHECK_STR(out, "w");
    CHECK_EQ(nargs, 2);
    CHECK_STR(argv[1], "a.h5"); /* a4 was rearranged, not argv */
    CHECK_STR(a4[2], "--json");
}

static void test_errors(void)
{
    long threads = 0, even = 0;
    int json = 0, layout = 0, nargs;
    const sl_opt opts[] = {
        SL_OPT_LONG('t', "threads", &threads, "N", 1, 64, "threads"),
        SL_OPT_FLAG(0, "json", &json, "json"),
        SL_OPT_CHOICE(0, "layout", &layout, "auto|imagefolder", "layout"),
        SL_OPT_CALLBACK(0, "even", &even, "N", parse_even, "an even number"),
        SL_OPT_END,
    };
    const sl_optspec spec = {"t MODEL", NULL, opts, 1, 1, "one MODEL", NULL};
    EXPECT_RUN(&spec, &nargs, SL_EXIT_USAGE, "t", "m", "--threads", "x");
    EXPECT_RUN(&spec, &nargs, SL_EXIT_USAGE, "t", "m", "--threads", "65");
    EXPECT_RUN(&spec, &nargs, SL_EXIT_USAGE, "t", "m", "--threads");
    EXPECT_RUN(&spec, &nargs, SL_EXIT_USAGE, "t", "m", "--thread", "2");
    EXPECT_RUN(&spec, &nargs, SL_EXIT_USAGE, "t", "m", "--json=1");
    EXPECT_RUN(&spec, &nargs, SL_EXIT_USAGE, "t", "m", "--layout", "mvtec");
    char *odd[] = {"t", "m", "--even", "7", NULL};
    CHECK_EQ(run(&spec, 4, odd, &nargs), SL_EXIT_USAGE);
    CHECK_EQ(even, 0);
    EXPECT_RUN(&spec, &nargs, SL_EXIT_USAGE, "t");
    EXPECT_RUN(&spec, &nargs, SL_EXIT_USAGE, "t", "a", "b");
}

/* The usage text sl_opt_usage writes for spec, in a static buffer (overwritten by the next
 * call; truncated at 4 KiB). */
static const char *usage_of(const sl_optspec *spec)
{
    static char buf[4096];
    memset(buf, 0, sizeof buf);
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    if (!f) return "";
    sl_opt_usage(spec, f);
    fclose(f);
    return buf;
}

static void test_usage(void)
{
    long threads = 0;
    const char *out = NULL;
    const sl_opt opts[] = {
        SL_OPT_LONG('t', "threads", &threads, "N", 1, 64, "intra-op threads"),
        SL_OPT_OUTPUT(&out, "write here"),
        SL_OPT_END,
    };
    const sl_optspec spec = {"t MODEL [options]", "Does a thing.", opts, 1, 1, NULL, NULL};
    const char *text = usage_of(&spec);
    CHECK_CONTAINS(text, "usage: t MODEL [options]");
    CHECK_CONTAINS(text, "Does a thing.");
    CHECK_CONTAINS(text, "-t, --threads N");
    CHECK_CONTAINS(text, "intra-op threads");
    CHECK_CONTAINS(text, "-o, --output FILE");
    CHECK_CONTAINS(text, "-h, --help");
    CHECK(sl_opt_find(opts, "out") == &opts[1]);
    CHECK(sl_opt_find(opts, "output") == &opts[1]);
    CHECK(sl_opt_find(opts, "thread") == NULL);
}

static void test_pair_list_section(void)
{
    const char *pair[2] = {NULL, NULL};
    sl_list tl = {0};
    int json = 0, nargs, workers = -1;
    const sl_opt opts[] = {
        SL_OPT_SECTION("inputs"),
        SL_OPT_PAIR(0, "pair", pair, "DEVICE.h5 EDGE.h5", "a split pair"),
        SL_OPT_LIST(0, "tl", &tl, "LIST", 3, "transfer layers\nmore about them"),
        SL_OPT_SECTION("output"),
        SL_OPT_FLAG(0, "json", &json, "json"),
        SL_OPT_INT(0, "workers", &workers, "N", 0, 8, "workers"),
        SL_OPT_END,
    };
    const sl_optspec spec = {"t [options]", NULL, opts, 0, 0, NULL, NULL};
    char *ok[] = {"t", "--pair", "d.h5", "e.h5", "--tl", "a,b", "--tl=pool,c,d", "--json",
                  "--workers", "0", NULL};
    CHECK_EQ(run(&spec, 10, ok, &nargs), SL_OPT_CONTINUE);
    CHECK_EQ(workers, 0);
    EXPECT_RUN(&spec, &nargs, SL_EXIT_USAGE, "t", "--workers", "9");
    CHECK_EQ(workers, 0);
    CHECK_EQ(nargs, 0);
    CHECK_STR(pair[0], "d.h5");
    CHECK_STR(pair[1], "e.h5");
    CHECK_EQ(tl.n, 3); /* the last --tl wins */
    CHECK_STR(tl.items[0], "pool");
    CHECK_STR(tl.items[2], "d");
    CHECK_EQ(json, 1);
    /* One value, or an option as the second value, is a usage error. */
    EXPECT_RUN(&spec, &nargs, SL_EXIT_USAGE, "t", "--pair", "d.h5");
    EXPECT_RUN(&spec, &nargs, SL_EXIT_USAGE, "t", "--pair", "d.h5", "--json");
    /* Lists: empty items and too many items are refused, the old value stays. */
    EXPECT_RUN(&spec, &nargs, SL_EXIT_USAGE, "t", "--tl", "a,,b");
    EXPECT_RUN(&spec, &nargs, SL_EXIT_USAGE, "t", "--tl", "a,b,c,d");
    CHECK_EQ(tl.n, 3);
    /* A long list is not truncated (some commands cut lists at 128 bytes before). */
    char longv[600];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    EXPECT_RUN(&spec, &nargs, SL_OPT_CONTINUE, "t", "--tl", longv);
    CHECK_EQ(tl.n, 1);
    CHECK_EQ((long)strlen(tl.items[0]), (long)sizeof longv - 1);
    sl_list_free(&tl);
    CHECK(tl.items == NULL && tl.n == 0);
    CHECK(sl_opt_find(opts, "tl") == &opts[2]);
    CHECK(sl_opt_find(opts, "inputs") == NULL); /* a section is no option */

    const char *text = usage_of(&spec);
    CHECK_CONTAINS(text, "\ninputs:\n");
    CHECK_CONTAINS(text, "--pair DEVICE.h5 EDGE.h5");
    CHECK_CONTAINS(text, "\noutput:\n");
    CHECK_CONTAINS(text, "transfer layers\n                           more about them\n");
    CHECK(strstr(text, "options:") == NULL);
}

static void test_required(void)
{
    const char *model = NULL, *out = NULL;
    int nargs;
    const sl_opt opts[] = {
        SL_OPT_STRING('m', "model", &model, "FILE", "model"),
        SL_OPT_OUTPUT(&out, "output"),
        SL_OPT_END,
    };
    const sl_optspec spec = {"t --model FILE -o FILE", NULL, opts, 0, 0, NULL, "model out"};
    EXPECT_RUN(&spec, &nargs, SL_OPT_CONTINUE, "t", "-m", "a", "--out=b");
    CHECK_STR(model, "a");
    CHECK_STR(out, "b");
    /* A value that spells the option's name is not the option. */
    EXPECT_RUN(&spec, &nargs, SL_EXIT_USAGE, "t", "--model", "--out");
    EXPECT_RUN(&spec, &nargs, SL_EXIT_USAGE, "t", "-o", "b");
}

int main(void)
{
    test_required();
    test_pair_list_section();
    test_parse();
    test_errors();
    test_usage();
    return TU_DONE();
}
