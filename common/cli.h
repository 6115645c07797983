/* cli.h: git-style subcommand dispatch and option-value parsing for the sl-* commands.
 *
 * Conventions (DESIGN.md §2): `--help` prints to stdout and exits 0, `--version` likewise;
 * exit codes are 0 ok, 1 runtime failure, 2 usage error; messages go to stderr as
 * "<prog>: <subcommand>: <what failed>: <why>".
 */
#ifndef SL_COMMON_CLI_H
#define SL_COMMON_CLI_H

#include <stddef.h>
#include <stdint.h>

enum { SL_EXIT_OK = 0, SL_EXIT_FAIL = 1, SL_EXIT_USAGE = 2 };

typedef struct sl_subcmd {
    const char *name;
    int (*fn)(int argc, char **argv); /* argv[0] is the subcommand name; returns an exit code */
    const char *summary;              /* one line for the command list */
} sl_subcmd;

/* Runs the subcommand named by argv[1] from a NULL-name-terminated table. Handles `--help`,
 * `help [CMD]`, `--version`, a missing or unknown subcommand (exit 2), and sets the log prefix to
 * "<prog>: <subcommand>". Returns the exit code. */
int sl_cli_dispatch(const char *prog, const char *summary, const sl_subcmd *cmds, int argc,
                    char **argv);

/* Prints "<prefix>: <message>" and "try '<prog> <cmd> --help'" on stderr; returns SL_EXIT_USAGE. */
int sl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints the current sl_errmsg() as "<prefix>: <message>"; returns SL_EXIT_FAIL. */
int sl_fail(void);

/* Option-value parsers. Each returns SL_OK or SL_EARG with a message naming `what` and the value.
 * sl_parse_long / sl_parse_double: whole string must parse and lie in [lo, hi].
 * sl_parse_shape: "3x224x224" (or "224x224", "224") into dims; *n receives the count.
 * sl_parse_bandwidth: "10mbit", "500kbit", "1gbit", "20Mbps", "100000" (bit/s) -> bits per second.
 * sl_parse_duration: "20ms", "1.5s", "300us", "2" (seconds) -> seconds.
 * sl_parse_bytes: "1.5MB", "200kB", "1GB", "512" -> bytes (decimal units, as Scission uses MB).
 * sl_parse_list: "a,b,c" split in place into a copy: *buf (caller frees) holds the text and
 *   items[0..*n) point into it; an empty item, more than `max` items or an empty list is an
 *   error naming `what`. */
int sl_parse_long(const char *what, const char *s, long lo, long hi, long *out);
int sl_parse_double(const char *what, const char *s, double lo, double hi, double *out);
int sl_parse_shape(const char *what, const char *s, int64_t *dims, int max, int *n);
int sl_parse_bandwidth(const char *what, const char *s, double *bits_per_s);
int sl_parse_duration(const char *what, const char *s, double *seconds);
int sl_parse_bytes(const char *what, const char *s, double *bytes);
int sl_parse_list(const char *what, const char *s, char **buf, char **items, int max, int *n);

/* The inverses, for people: "16 B", "1.5 kB", "2.25 MB", "1.20 GB" (decimal units, as parsed
 * above; negative: "-"), and "0.27 ms", "20.5 ms", "1.234 s". They write at most n bytes. */
void sl_format_bytes(char *buf, size_t n, double bytes);
void sl_format_seconds(char *buf, size_t n, double seconds);

#endif
