/* opt.c: the one command-line option parser (see opt.h for the rules). */
#include "common/opt.h"
#include "common/cli.h"
#include "common/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "out" and "output" are one option whichever of the two a table declares. */
static int same_name(const char *declared, const char *given, size_t len)
{
    if (strlen(declared) == len && !strncmp(declared, given, len)) return 1;
    if (!strcmp(declared, "output") && len == 3 && !strncmp(given, "out", 3)) return 1;
    if (!strcmp(declared, "out") && len == 6 && !strncmp(given, "output", 6)) return 1;
    return 0;
}

static const sl_opt *find_long(const sl_opt *opts, const char *name, size_t len)
{
    for (const sl_opt *o = opts; o->kind != SL_OPTK_END; o++) {
        if (o->kind == SL_OPTK_GROUP) {
            const sl_opt *g = find_long((const sl_opt *)o->dest, name, len);
            if (g) return g;
        } else if (o->long_name && same_name(o->long_name, name, len)) {
            return o;
        }
    }
    return NULL;
}

static const sl_opt *find_short(const sl_opt *opts, char c)
{
    for (const sl_opt *o = opts; o->kind != SL_OPTK_END; o++) {
        if (o->kind == SL_OPTK_GROUP) {
            const sl_opt *g = find_short((const sl_opt *)o->dest, c);
            if (g) return g;
        } else if (o->short_name && o->short_name == c) {
            return o;
        }
    }
    return NULL;
}

const sl_opt *sl_opt_find(const sl_opt *opts, const char *long_name)
{
    return find_long(opts, long_name, strlen(long_name));
}

void sl_strv_free(sl_strv *s)
{
    if (!s) return;
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

void sl_list_free(sl_list *l)
{
    if (!l) return;
    free(l->buf);
    free(l->items);
    l->buf = NULL;
    l->items = NULL;
    l->n = 0;
}

/* Splits `v` into a fresh list replacing the old one; SL_OK or SL_EARG/SL_ENOMEM with
 * sl_errmsg() set (the old list is kept on failure). */
static int list_set(const char *name, sl_list *l, const char *v, int max)
{
    char **items = malloc((size_t)max * sizeof *items);
    if (!items) return sl_err(SL_ENOMEM, "%s: out of memory", name);
    char *buf;
    int n;
    int rc = sl_parse_list(name, v, &buf, items, max, &n);
    if (rc) {
        free(items);
        return rc;
    }
    sl_list_free(l);
    l->buf = buf;
    l->items = items;
    l->n = n;
    return SL_OK;
}

static int strv_push(sl_strv *s, const char *v)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 8;
        const char **nv = realloc(s->v, (size_t)cap * sizeof *nv);
        if (!nv) return SL_ENOMEM;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = v;
    return SL_OK;
}

/* The option as the user is told about it: "--threads" (or "-o" when only short). */
static void opt_label(const sl_opt *o, char *buf, size_t n)
{
    if (o->long_name)
        snprintf(buf, n, "--%s", o->long_name);
    else
        snprintf(buf, n, "-%c", o->short_name);
}

static int choice_index(const char *choices, const char *v)
{
    size_t len = strlen(v);
    int i = 0;
    for (const char *p = choices; *p; i++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && !strncmp(p, v, n)) return i;
        if (!bar) break;
        p = bar + 1;
    }
    return -1;
}

/* Stores `v` for option `o`; returns 0 or prints the usage error and returns SL_EXIT_USAGE. */
static int apply(const sl_opt *o, const char *v)
{
    char name[64];
    opt_label(o, name, sizeof name);
    int rc = SL_OK;
    switch (o->kind) {
    case SL_OPTK_FLAG:
        *(int *)o->dest = 1;
        return 0;
    case SL_OPTK_STRING:
        *(const char **)o->dest = v;
        return 0;
    case SL_OPTK_STRINGS:
        if (strv_push((sl_strv *)o->dest, v)) return sl_usage_error("%s: out of memory", name);
        return 0;
    case SL_OPTK_LONG:
        rc = sl_parse_long(name, v, (long)o->lo, (long)o->hi, (long *)o->dest);
        break;
    case SL_OPTK_INT: {
        long x;
        rc = sl_parse_long(name, v, (long)o->lo, (long)o->hi, &x);
        if (!rc) *(int *)o->dest = (int)x;
        break;
    }
    case SL_OPTK_DOUBLE:
        rc = sl_parse_double(name, v, o->lo, o->hi, (double *)o->dest);
        break;
    case SL_OPTK_BANDWIDTH:
        rc = sl_parse_bandwidth(name, v, (double *)o->dest);
        break;
    case SL_OPTK_DURATION:
        rc = sl_parse_duration(name, v, (double *)o->dest);
        break;
    case SL_OPTK_BYTES:
        rc = sl_parse_bytes(name, v, (double *)o->dest);
        break;
    case SL_OPTK_CHOICE: {
        int i = choice_index(o->choices, v);
        if (i < 0) {
            char alt[256];
            snprintf(alt, sizeof alt, "%s", o->choices);
            for (char *p = alt; *p; p++)
                if (*p == '|') *p = ',';
            return sl_usage_error("%s: '%s' is not one of %s", name, v, alt);
        }
        *(int *)o->dest = i;
        return 0;
    }
    case SL_OPTK_CALLBACK:
        rc = o->cb(o->dest, v); /* sets sl_errmsg() on failure */
        break;
    case SL_OPTK_LIST:
        rc = list_set(name, (sl_list *)o->dest, v, (int)o->hi);
        break;
    default:
        return sl_usage_error("%s: option kind %d is not handled", name, (int)o->kind);
    }
    if (rc) return sl_usage_error("%s", sl_errmsg());
    return 0;
}

/* The first option of spec->required that argv does not give is a usage error. */
static int check_required(const sl_optspec *spec, const sl_opt **seen, int nseen)
{
    for (const char *p = spec->required; *p;) {
        while (*p == ' ') p++;
        size_t len = strcspn(p, " ");
        if (!len) break;
        const sl_opt *o = find_long(spec->opts, p, len);
        if (!o) return sl_usage_error("required option '--%.*s' is not in the table", (int)len, p);
        int found = 0;
        for (int k = 0; k < nseen && !found; k++)
            found = seen[k] == o;
        if (!found) {
            if (o->short_name)
                return sl_usage_error("missing -%c/--%s %s", o->short_name, o->long_name,
                                      o->argh ? o->argh : "VALUE");
            return sl_usage_error("missing --%s%s%s", o->long_name, o->argh ? " " : "",
                                  o->argh ? o->argh : "");
        }
        p += len;
    }
    return SL_OPT_CONTINUE;
}

int sl_opt_parse(const sl_optspec *spec, int argc, char **argv, int *nargs)
{
    char **pos = calloc((size_t)(argc > 0 ? argc : 1), sizeof *pos);
    const sl_opt **seen = calloc((size_t)(argc > 0 ? argc : 1), sizeof *seen);
    int npos = 0, nseen = 0, rc = SL_OPT_CONTINUE, only_args = 0;
    if (!pos || !seen) {
        free(pos);
        free(seen);
        return sl_usage_error("out of memory");
    }
    for (int i = 1; i < argc && rc == SL_OPT_CONTINUE; i++) {
        char *a = argv[i];
        if (only_args || a[0] != '-' || a[1] == '\0') {
            pos[npos++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_args = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            sl_opt_usage(spec, stdout);
            rc = SL_EXIT_OK;
            break;
        }
        const sl_opt *o;
        const char *val = NULL;
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(spec->opts, name, len);
            if (!o) {
                rc = sl_usage_error("unknown option '--%.*s'", (int)len, name);
                break;
            }
            if (eq) {
                if (o->kind == SL_OPTK_FLAG) {
                    rc = sl_usage_error("option '--%s' takes no value", o->long_name);
                    break;
                }
                val = eq + 1;
            }
        } else {
            o = find_short(spec->opts, a[1]);
            if (!o) {
                rc = sl_usage_error("unknown option '-%c'", a[1]);
                break;
            }
            if (a[2] != '\0') {
                if (o->kind == SL_OPTK_FLAG) {
                    rc = sl_usage_error("option '-%c' takes no value", a[1]);
                    break;
                }
                val = a + 2;
            }
        }
        seen[nseen++] = o;
        if (o->kind != SL_OPTK_FLAG && !val) {
            if (i + 1 >= argc) {
                char name[64];
                opt_label(o, name, sizeof name);
                rc = o->kind == SL_OPTK_PAIR
                         ? sl_usage_error("option '%s' needs two values: %s", name, o->argh)
                         : sl_usage_error("option '%s' needs a value", name);
                break;
            }
            val = argv[++i];
        }
        if (o->kind == SL_OPTK_PAIR) {
            /* The second value is the next argument, which must not look like an option. */
            if (i + 1 >= argc || (argv[i + 1][0] == '-' && argv[i + 1][1] != '\0')) {
                char name[64];
                opt_label(o, name, sizeof name);
                rc = sl_usage_error("option '%s' needs two values: %s", name, o->argh);
                break;
            }
            ((const char **)o->dest)[0] = val;
            ((const char **)o->dest)[1] = argv[++i];
            continue;
        }
        if (apply(o, val)) rc = SL_EXIT_USAGE;
    }
    if (rc == SL_OPT_CONTINUE) {
        int too_few = npos < spec->min_args, too_many = spec->max_args >= 0 && npos > spec->max_args;
        if (too_few || too_many) {
            if (spec->args_help)
                rc = sl_usage_error("expected %s, got %d argument%s", spec->args_help, npos,
                                    npos == 1 ? "" : "s");
            else if (spec->max_args == 0)
                rc = sl_usage_error("unexpected argument '%s'", pos[0]);
            else
                rc = sl_usage_error("expected %s%d argument%s, got %d",
                                    too_few ? "at least " : "at most ",
                                    too_few ? spec->min_args : spec->max_args,
                                    (too_few ? spec->min_args : spec->max_args) == 1 ? "" : "s",
                                    npos);
        }
    }
    if (rc == SL_OPT_CONTINUE && spec->required) rc = check_required(spec, seen, nseen);
    if (rc == SL_OPT_CONTINUE) {
        for (int k = 0; k < npos; k++) argv[1 + k] = pos[k];
        if (1 + npos < argc) argv[1 + npos] = NULL;
        if (nargs) *nargs = npos;
    }
    free(pos);
    free(seen);
    return rc;
}

static void usage_opts(FILE *f, const sl_opt *opts)
{
    for (const sl_opt *o = opts; o->kind != SL_OPTK_END; o++) {
        if (o->kind == SL_OPTK_GROUP) {
            usage_opts(f, (const sl_opt *)o->dest);
            continue;
        }
        if (o->kind == SL_OPTK_SECTION) {
            fprintf(f, "\n%s:\n", o->help);
            continue;
        }
        if (!o->help) continue;
        char left[96];
        int n = 0;
        if (o->short_name && o->long_name)
            n = snprintf(left, sizeof left, "-%c, --%s", o->short_name, o->long_name);
        else if (o->long_name)
            n = snprintf(left, sizeof left, "    --%s", o->long_name);
        else
            n = snprintf(left, sizeof left, "-%c", o->short_name);
        if (o->kind != SL_OPTK_FLAG && n > 0 && (size_t)n < sizeof left)
            snprintf(left + n, sizeof left - (size_t)n, " %s",
                     o->kind == SL_OPTK_CHOICE ? o->choices : (o->argh ? o->argh : "VALUE"));
        if (strlen(left) <= 24)
            fprintf(f, "  %-24s ", left);
        else
            fprintf(f, "  %s\n  %-24s ", left, "");
        /* A help text of several lines continues under its first line. */
        for (const char *p = o->help; *p; p++) {
            fputc(*p, f);
            if (*p == '\n' && p[1]) fprintf(f, "  %-24s ", "");
        }
        fputc('\n', f);
    }
}

void sl_opt_usage(const sl_optspec *spec, void *fp)
{
    FILE *f = fp;
    const char *u = spec->usage;
    fprintf(f, "usage: ");
    for (const char *p = u; *p; p++) {
        fputc(*p, f);
        if (*p == '\n' && p[1]) fprintf(f, "       ");
    }
    fputc('\n', f);
    if (spec->description) fprintf(f, "\n%s\n", spec->description);
    if (spec->opts[0].kind != SL_OPTK_SECTION) fprintf(f, "\noptions:\n");
    usage_opts(f, spec->opts);
    fprintf(f, "  %-24s %s\n", "-h, --help", "show this help");
}
