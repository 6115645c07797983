/* status.h: status codes and the thread-local error message shared by every C module.
 *
 * Library functions return 0 (SL_OK) or a negative SL_E* code and, on failure, leave a
 * human-readable message in a thread-local buffer owned by this module (sl_errmsg()).
 * The message names the file / field / node and the reason, so a command can print
 * "sl-train: fit: <message>" and nothing else. Programmer errors (NULL where the contract
 * forbids it) are asserts, not statuses.
 */
#ifndef SL_COMMON_STATUS_H
#define SL_COMMON_STATUS_H

#include <stdarg.h>

enum sl_status {
    SL_OK = 0,
    SL_EARG = -1,       /* bad argument or option value */
    SL_EIO = -2,        /* file or folder could not be read or written */
    SL_EFORMAT = -3,    /* content is malformed, truncated or of a foreign format */
    SL_ESHAPE = -4,     /* tensor shapes do not fit */
    SL_ETORCH = -5,     /* libtorch reported an error (through the shim) */
    SL_ENOMEM = -6,     /* allocation failed */
    SL_ENET = -7,       /* network failure: refused, reset, unreachable */
    SL_ETIMEOUT = -8,   /* an operation ran out of time */
    SL_EAUTH = -9,      /* authentication refused */
    SL_ENOTFOUND = -10, /* a named thing (node, key, bundle, class) does not exist */
    SL_EBUSY = -11,     /* the peer is overloaded; try later */
    SL_EUNSUPPORTED = -12, /* valid request this build does not support */
    SL_ECONSTRAINT = -13,  /* no solution satisfies the constraints */
};

/* A short name for a status code ("io error", "bad format"); static storage. */
const char *sl_status_str(int status);

/* Sets the thread-local message from a printf format and returns `status`, so library code
 * can write `return sl_err(SL_EIO, "%s: %s", path, strerror(errno));`. */
int sl_err(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sl_verr(int status, const char *fmt, va_list ap);

/* Prepends context to the current message ("reading plan.json: " + old message) and returns
 * `status`. Use when passing an error up through a layer that knows more about where. */
int sl_err_ctx(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message set on this thread; never NULL, owned by this module, valid until the next
 * sl_err* call on this thread. */
const char *sl_errmsg(void);

#endif
