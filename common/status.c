/* status.c: thread-local error messages. */
#include "common/status.h"

#include <stdio.h>
#include <string.h>

#define SL_ERRMSG_MAX 2048

static _Thread_local char errbuf[SL_ERRMSG_MAX];

const char *sl_status_str(int status)
{
    switch (status) {
    case SL_OK: return "ok";
    case SL_EARG: return "bad argument";
    case SL_EIO: return "i/o error";
    case SL_EFORMAT: return "bad format";
    case SL_ESHAPE: return "shape mismatch";
    case SL_ETORCH: return "libtorch error";
    case SL_ENOMEM: return "out of memory";
    case SL_ENET: return "network error";
    case SL_ETIMEOUT: return "timed out";
    case SL_EAUTH: return "authentication refused";
    case SL_ENOTFOUND: return "not found";
    case SL_EBUSY: return "busy";
    case SL_EUNSUPPORTED: return "unsupported";
    case SL_ECONSTRAINT: return "constraints cannot be met";
    default: return "unknown error";
    }
}

int sl_verr(int status, const char *fmt, va_list ap)
{
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    return status;
}

int sl_err(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl_verr(status, fmt, ap);
    va_end(ap);
    return status;
}

int sl_err_ctx(int status, const char *fmt, ...)
{
    char old[SL_ERRMSG_MAX];
    memcpy(old, errbuf, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof errbuf) {
        const char *rest = old[0] ? old : sl_status_str(status);
        size_t room = sizeof errbuf - (size_t)n - 1, len = strlen(rest);
        if (len > room) len = room;
        memcpy(errbuf + n, rest, len);
        errbuf[(size_t)n + len] = '\0';
    }
    return status;
}

const char *sl_errmsg(void)
{
    return errbuf[0] ? errbuf : "unknown error";
}
