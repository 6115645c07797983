/* cli.c: subcommand dispatch and option-value parsing. */
#include "common/cli.h"
#include "common/log.h"
#include "common/status.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef SL_VERSION
#define SL_VERSION "0.0.0"
#endif

static const char *cur_prog = "sl";
static const char *cur_cmd = NULL;

static void list_commands(FILE *f, const char *prog, const char *summary, const sl_subcmd *cmds)
{
    fprintf(f, "usage: %s <command> [options]\n\n%s\n\ncommands:\n", prog, summary);
    for (const sl_subcmd *c = cmds; c->name; c++) fprintf(f, "  %-12s %s\n", c->name, c->summary);
    fprintf(f, "\nRun '%s <command> --help' for the options of one command.\n", prog);
}

int sl_cli_dispatch(const char *prog, const char *summary, const sl_subcmd *cmds, int argc,
                    char **argv)
{
    cur_prog = prog;
    sl_log_set_prefix(prog);
    if (argc < 2) {
        list_commands(stderr, prog, summary, cmds);
        return SL_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
        list_commands(stdout, prog, summary, cmds);
        return SL_EXIT_OK;
    }
    if (!strcmp(name, "--version")) {
        printf("%s %s\n", prog, SL_VERSION);
        return SL_EXIT_OK;
    }
    int help = 0;
    if (!strcmp(name, "help")) {
        if (argc < 3) {
            list_commands(stdout, prog, summary, cmds);
            return SL_EXIT_OK;
        }
        name = argv[2];
        help = 1;
    }
    for (const sl_subcmd *c = cmds; c->name; c++) {
        if (strcmp(c->name, name)) continue;
        char prefix[128];
        snprintf(prefix, sizeof prefix, "%s: %s", prog, c->name);
        sl_log_set_prefix(prefix);
        cur_cmd = c->name;
        if (help) {
            char *hargv[] = {(char *)c->name, "--help", NULL};
            return c->fn(2, hargv);
        }
        return c->fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "%s: unknown command '%s'\n", prog, name);
    list_commands(stderr, prog, summary, cmds);
    return SL_EXIT_USAGE;
}

int sl_usage_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n", sl_log_prefix(), msg);
    if (cur_cmd)
        fprintf(stderr, "try '%s %s --help'\n", cur_prog, cur_cmd);
    return SL_EXIT_USAGE;
}

int sl_fail(void)
{
    fprintf(stderr, "%s: %s\n", sl_log_prefix(), sl_errmsg());
    return SL_EXIT_FAIL;
}

int sl_parse_long(const char *what, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno)
        return sl_err(SL_EARG, "%s: '%s' is not a whole number", what, s ? s : "");
    if (v < lo || v > hi)
        return sl_err(SL_EARG, "%s: %ld is out of range [%ld, %ld]", what, v, lo, hi);
    *out = v;
    return SL_OK;
}

int sl_parse_double(const char *what, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !isfinite(v))
        return sl_err(SL_EARG, "%s: '%s' is not a number", what, s ? s : "");
    if (v < lo || v > hi) return sl_err(SL_EARG, "%s: %g is out of range [%g, %g]", what, v, lo, hi);
    *out = v;
    return SL_OK;
}

int sl_parse_shape(const char *what, const char *s, int64_t *dims, int max, int *n)
{
    int k = 0;
    const char *p = s;
    if (!s || !*s) return sl_err(SL_EARG, "%s: empty shape", what);
    while (*p) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v <= 0 || v > (1 << 20))
            return sl_err(SL_EARG, "%s: '%s' is not a shape like 3x224x224", what, s);
        if (k == max) return sl_err(SL_EARG, "%s: '%s' has more than %d dimensions", what, s, max);
        dims[k++] = v;
        p = end;
        if (*p == 'x' || *p == 'X' || *p == ',') {
            p++;
            if (!*p) return sl_err(SL_EARG, "%s: '%s' is not a shape like 3x224x224", what, s);
        } else if (*p) {
            return sl_err(SL_EARG, "%s: '%s' is not a shape like 3x224x224", what, s);
        }
    }
    *n = k;
    return SL_OK;
}

/* Splits "12.5mbit" into 12.5 and "mbit". */
static int number_unit(const char *what, const char *s, double *v, const char **unit)
{
    char *end;
    errno = 0;
    *v = s ? strtod(s, &end) : 0;
    if (!s || end == s || errno || !isfinite(*v) || *v < 0)
        return sl_err(SL_EARG, "%s: '%s' is not a number with a unit", what, s ? s : "");
    while (isspace((unsigned char)*end)) end++;
    *unit = end;
    return SL_OK;
}

/* A unit and what it multiplies by. */
typedef struct {
    const char *name;
    double scale;
} unit;

/* "12.5mbit" with a unit from `units` (n of them; matched ignoring case when `fold`) into *out;
 * an unknown unit is an error naming `kind` and the units to `use`. */
static int scaled(const char *what, const char *s, const unit *units, size_t n, int fold,
                  const char *kind, const char *use, double *out)
{
    double v;
    const char *u;
    int rc = number_unit(what, s, &v, &u);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++)
        if (!(fold ? strcasecmp : strcmp)(u, units[i].name)) {
            *out = v * units[i].scale;
            return SL_OK;
        }
    return sl_err(SL_EARG, "%s: unknown %s unit in '%s' (use %s)", what, kind, s, use);
}

int sl_parse_bandwidth(const char *what, const char *s, double *bps)
{
    static const unit units[] = {
        {"", 1}, {"bit", 1}, {"bps", 1}, {"kbit", 1e3}, {"kbps", 1e3}, {"mbit", 1e6},
        {"mbps", 1e6}, {"gbit", 1e9}, {"gbps", 1e9},
    };
    int rc = scaled(what, s, units, sizeof units / sizeof units[0], 1, "bandwidth",
                    "kbit, mbit, gbit", bps);
    if (!rc && *bps <= 0) return sl_err(SL_EARG, "%s: bandwidth must be positive", what);
    return rc;
}

int sl_parse_duration(const char *what, const char *s, double *sec)
{
    static const unit units[] = {
        {"", 1}, {"s", 1}, {"ms", 1e-3}, {"us", 1e-6}, {"m", 60}, {"min", 60},
    };
    return scaled(what, s, units, sizeof units / sizeof units[0], 0, "time", "us, ms, s", sec);
}

int sl_parse_bytes(const char *what, const char *s, double *bytes)
{
    static const unit units[] = {{"", 1}, {"b", 1}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}};
    return scaled(what, s, units, sizeof units / sizeof units[0], 1, "size", "B, kB, MB, GB",
                  bytes);
}

int sl_parse_list(const char *what, const char *s, char **buf, char **items, int max, int *n)
{
    *buf = NULL;
    *n = 0;
    if (!s || !*s) return sl_err(SL_EARG, "%s: empty list", what);
    char *copy = strdup(s);
    if (!copy) return sl_err(SL_ENOMEM, "%s: out of memory", what);
    int k = 0;
    for (char *p = copy;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (!*p) {
            free(copy);
            return sl_err(SL_EARG, "%s: '%s' has an empty item (item %d)", what, s, k + 1);
        }
        if (k == max) {
            free(copy);
            return sl_err(SL_EARG, "%s: more than %d items", what, max);
        }
        items[k++] = p;
        if (!comma) break;
        p = comma + 1;
    }
    *buf = copy;
    *n = k;
    return SL_OK;
}

void sl_format_bytes(char *buf, size_t n, double b)
{
    if (b < 0) snprintf(buf, n, "-");
    else if (b >= 1e9) snprintf(buf, n, "%.2f GB", b / 1e9);
    else if (b >= 1e6) snprintf(buf, n, "%.2f MB", b / 1e6);
    else if (b >= 1e3) snprintf(buf, n, "%.1f kB", b / 1e3);
    else snprintf(buf, n, "%.0f B", b);
}

void sl_format_seconds(char *buf, size_t n, double s)
{
    if (s < 0) snprintf(buf, n, "-");
    else if (s >= 1) snprintf(buf, n, "%.3f s", s);
    else if (s >= 1e-3) snprintf(buf, n, "%.1f ms", s * 1e3);
    else snprintf(buf, n, "%.2f ms", s * 1e3);
}
