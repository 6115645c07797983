/* log.h: messages on stderr as "<program>: <subcommand>: <text>", and verbosity. */
#ifndef SL_COMMON_LOG_H
#define SL_COMMON_LOG_H

/* Sets the prefix printed before every message, e.g. "sl-train: fit". Copied. */
void sl_log_set_prefix(const char *prefix);
const char *sl_log_prefix(void);

/* 0 = quiet (errors only), 1 = normal (default), 2 = verbose. */
void sl_log_set_level(int level);
int sl_log_level(void);

void sl_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sl_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sl_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sl_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
