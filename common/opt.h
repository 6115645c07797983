/* opt.h: declarative command-line options, in the spirit of git's parse-options.
 *
 * A command declares its options once, as a table; the table parses argv, writes the usage text
 * and words every usage error the same way. Example:
 *
 *     long threads = 0;
 *     const char *out = NULL;
 *     int json = 0;
 *     const sl_opt opts[] = {
 *         SL_OPT_LONG(0, "threads", &threads, "N", 1, 1024, "intra-op threads"),
 *         SL_OPT_FLAG(0, "json", &json, "print JSON"),
 *         SL_OPT_OUTPUT(&out, "write the profile here (default: stdout)"),
 *         SL_OPT_END,
 *     };
 *     const sl_optspec spec = {"sl-preprocess profile MODEL.h5 [options]",
 *                              "Measure a model on this host.", opts, 1, 1};
 *     int nargs, rc = sl_opt_parse(&spec, argc, argv, &nargs);
 *     if (rc != SL_OPT_CONTINUE) return rc;      // help printed (0) or usage error (2)
 *     // the positional arguments are now argv[1] .. argv[nargs]
 *
 * Rules, the same for every command:
 * - `--name VALUE`, `--name=VALUE`, `-x VALUE`, `-xVALUE`; options and positional arguments mix
 *   in any order; `--` ends the options.
 * - `-h`/`--help` prints the generated usage to stdout (exit 0).
 * - `--out` and `--output` name the same option, whichever of the two a table declares.
 * - A usage error prints "<prog>: <cmd>: <what>" and "try '<prog> <cmd> --help'" on stderr and
 *   the command exits 2. Values are checked as they are parsed, and the message names the option.
 * - A repeated scalar option keeps its last value; SL_OPT_STRINGS collects every occurrence.
 * - SL_OPT_PAIR takes two values (`--pair DEVICE.h5 EDGE.h5`); SL_OPT_LIST splits "a,b,c" with
 *   sl_parse_list (an empty item is an error); SL_OPT_SECTION starts a heading in the usage text
 *   (a table that begins with one has no "options:" heading).
 * - The tables of the sl-* commands live at file scope next to their commands (see each
 *   commands.h), so that a generator of command lines (pipeline/config.c) can check its flags.
 */
#ifndef SL_COMMON_OPT_H
#define SL_COMMON_OPT_H

#include <stdint.h>

typedef enum sl_opt_kind {
    SL_OPTK_END = 0,
    SL_OPTK_FLAG,      /* int *: set to 1 */
    SL_OPTK_STRING,    /* const char **: points into argv */
    SL_OPTK_STRINGS,   /* sl_strv *: every occurrence appended */
    SL_OPTK_LONG,      /* long *, within [lo, hi] */
    SL_OPTK_INT,       /* int *, within [lo, hi] */
    SL_OPTK_DOUBLE,    /* double *, within [lo, hi] */
    SL_OPTK_BANDWIDTH, /* double *, bit/s: "10mbit" */
    SL_OPTK_DURATION,  /* double *, seconds: "20ms" */
    SL_OPTK_BYTES,     /* double *, bytes: "1.5MB" */
    SL_OPTK_CHOICE,    /* int *: index of the value in `choices` ("a|b|c") */
    SL_OPTK_CALLBACK,  /* cb(dest, value) returns SL_OK or SL_EARG with sl_errmsg() set */
    SL_OPTK_GROUP,     /* `dest` is another sl_opt table, included here (a shared option set) */
    SL_OPTK_PAIR,      /* const char *[2]: the option takes two values, `--pair A B` */
    SL_OPTK_LIST,      /* sl_list *: "a,b,c" split by sl_parse_list, at most `hi` items */
    SL_OPTK_SECTION,   /* no option: `help` is a heading in the usage text ("inputs") */
} sl_opt_kind;

/* A growing list of strings for repeatable options; the strings point into argv. */
typedef struct sl_strv {
    const char **v;
    int n, cap;
} sl_strv;

/* A comma-separated list option's items (SL_OPTK_LIST); the items point into `buf`. A repeated
 * list option keeps its last value. Release with sl_list_free. */
typedef struct sl_list {
    char *buf;
    char **items;
    int n;
} sl_list;

typedef struct sl_opt {
    sl_opt_kind kind;
    char short_name;       /* 0: none */
    const char *long_name; /* without the dashes; NULL only for SL_OPTK_GROUP / END */
    void *dest;
    const char *argh;    /* the value's placeholder in the usage text: "N", "FILE" */
    const char *help;    /* one line; NULL hides the option from the usage text */
    double lo, hi;       /* range for LONG and DOUBLE */
    const char *choices; /* CHOICE: "auto|imagefolder|mvtec" */
    int (*cb)(void *dest, const char *value);
} sl_opt;

#define SL_OPT_END {SL_OPTK_END, 0, NULL, NULL, NULL, NULL, 0, 0, NULL, NULL}
#define SL_OPT_FLAG(s, l, d, h) {SL_OPTK_FLAG, s, l, d, NULL, h, 0, 0, NULL, NULL}
#define SL_OPT_STRING(s, l, d, a, h) {SL_OPTK_STRING, s, l, d, a, h, 0, 0, NULL, NULL}
#define SL_OPT_STRINGS(s, l, d, a, h) {SL_OPTK_STRINGS, s, l, d, a, h, 0, 0, NULL, NULL}
#define SL_OPT_LONG(s, l, d, a, lo, hi, h) {SL_OPTK_LONG, s, l, d, a, h, lo, hi, NULL, NULL}
#define SL_OPT_INT(s, l, d, a, lo, hi, h) {SL_OPTK_INT, s, l, d, a, h, lo, hi, NULL, NULL}
#define SL_OPT_DOUBLE(s, l, d, a, lo, hi, h) {SL_OPTK_DOUBLE, s, l, d, a, h, lo, hi, NULL, NULL}
#define SL_OPT_BANDWIDTH(s, l, d, h) {SL_OPTK_BANDWIDTH, s, l, d, "RATE", h, 0, 0, NULL, NULL}
#define SL_OPT_DURATION(s, l, d, h) {SL_OPTK_DURATION, s, l, d, "TIME", h, 0, 0, NULL, NULL}
#define SL_OPT_BYTES(s, l, d, h) {SL_OPTK_BYTES, s, l, d, "SIZE", h, 0, 0, NULL, NULL}
#define SL_OPT_CHOICE(s, l, d, c, h) {SL_OPTK_CHOICE, s, l, d, c, h, 0, 0, c, NULL}
#define SL_OPT_CALLBACK(s, l, d, a, fn, h) {SL_OPTK_CALLBACK, s, l, d, a, h, 0, 0, NULL, fn}
#define SL_OPT_PAIR(s, l, d, a, h) {SL_OPTK_PAIR, s, l, d, a, h, 0, 0, NULL, NULL}
#define SL_OPT_LIST(s, l, d, a, max, h) {SL_OPTK_LIST, s, l, d, a, h, 1, max, NULL, NULL}
#define SL_OPT_SECTION(title) {SL_OPTK_SECTION, 0, NULL, NULL, NULL, title, 0, 0, NULL, NULL}
#define SL_OPT_GROUP(table) {SL_OPTK_GROUP, 0, NULL, (void *)(table), NULL, NULL, 0, 0, NULL, NULL}
/* The one output option: -o, --output (and --out). */
#define SL_OPT_OUTPUT(d, h) SL_OPT_STRING('o', "output", d, "FILE", h)

typedef struct sl_optspec {
    const char *usage;       /* "sl-preprocess profile MODEL.h5 [options]"; more lines with \n */
    const char *description; /* paragraph(s) after the usage line; may be NULL */
    const sl_opt *opts;
    int min_args, max_args; /* positional arguments allowed; max_args < 0: no limit */
    const char *args_help;  /* what the positional arguments are, for the count error:
                               "one MODEL.h5"; NULL: "<n> arguments" */
    const char *required;   /* long names of the options that must be given, space-separated:
                               "model images"; the first one missing is a usage error
                               "missing --model FILE". NULL: none */
} sl_optspec;

enum { SL_OPT_CONTINUE = -1 };

/* Parses argv[1..argc) (argv[0] is the subcommand's name) against the table. Positional
 * arguments are moved, in order, to argv[1..*nargs]. Returns SL_OPT_CONTINUE when the command
 * should go on, 0 (SL_EXIT_OK) when --help was printed, 2 (SL_EXIT_USAGE) after a usage error
 * was printed. On a usage error the destinations may be partly written. */
int sl_opt_parse(const sl_optspec *spec, int argc, char **argv, int *nargs);

/* Writes the generated usage text (what --help prints) to `f` (a FILE *). */
void sl_opt_usage(const sl_optspec *spec, void *f);

/* Looks an option up by long name (or its out/output twin) in a table and its groups; NULL
 * if absent. For checks that a generated command line only uses flags that exist. */
const sl_opt *sl_opt_find(const sl_opt *opts, const char *long_name);

/* Frees what SL_OPT_STRINGS collected (not the strings: they belong to argv). */
void sl_strv_free(sl_strv *s);

/* Frees what SL_OPT_LIST parsed and zeroes the list; NULL is fine. */
void sl_list_free(sl_list *l);

#endif
