/* base/err.c - sn_err: the first failure's message, with context and a hint. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sn_err_set(sn_err *err, int code, const char *fmt, ...)
{
    if (err == NULL || err->code != 0)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void sn_err_hint(sn_err *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->hint, sizeof err->hint, fmt, ap);
    va_end(ap);
}

void sn_err_prefix(sn_err *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    char prefix[SN_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Truncation keeps the front: the outermost context and as much detail as fits. */
    char joined[SN_ERR_MSG_MAX];
    int n = snprintf(joined, sizeof joined, "%s: %s", prefix, err->msg);
    if (n < 0)
        return;
    memcpy(err->msg, joined, sizeof err->msg);
}

void sn_err_clear(sn_err *err)
{
    if (err != NULL)
        *err = (sn_err)SN_ERR_INIT;
}

const char *sn_err_name(int code)
{
    switch (code) {
    case SN_OK: return "OK";
    case SN_EINVAL: return "EINVAL";
    case SN_ENOMEM: return "ENOMEM";
    case SN_EIO: return "EIO";
    case SN_ECORRUPT: return "ECORRUPT";
    case SN_EPROTO: return "EPROTO";
    case SN_EAUTH: return "EAUTH";
    case SN_EBUSY: return "EBUSY";
    case SN_ENOTFOUND: return "ENOTFOUND";
    case SN_ECONFIG: return "ECONFIG";
    case SN_ETOOBIG: return "ETOOBIG";
    case SN_EVERSION: return "EVERSION";
    default: return "EUNKNOWN";
    }
}

int sn_err_exit_status(int code)
{
    switch (code) {
    case SN_OK: return 0;
    case SN_EINVAL: return 65;     /* EX_DATAERR */
    case SN_ENOTFOUND: return 66;  /* EX_NOINPUT */
    case SN_ENOMEM: return 71;     /* EX_OSERR */
    case SN_EIO: return 74;        /* EX_IOERR */
    case SN_ECORRUPT: return 65;   /* EX_DATAERR */
    case SN_EPROTO: return 76;     /* EX_PROTOCOL */
    case SN_EAUTH: return 77;      /* EX_NOPERM */
    case SN_EBUSY: return 75;      /* EX_TEMPFAIL */
    case SN_ECONFIG: return 78;    /* EX_CONFIG */
    case SN_ETOOBIG: return 65;
    case SN_EVERSION: return 65;
    default: return 70;            /* EX_SOFTWARE */
    }
}
