/* base/err.h - error codes and the sn_err object that carries an actionable message. */
#ifndef SN_BASE_ERR_H
#define SN_BASE_ERR_H

#include <stddef.h>

#define SN_NODISCARD __attribute__((warn_unused_result))
#define SN_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* One closed set of codes, explicitly numbered, never renumbered or reused. */
enum {
    SN_OK = 0,
    SN_EINVAL = -1,    /* caller input */
    SN_ENOMEM = -2,    /* out of memory */
    SN_EIO = -3,       /* operating system or storage failure */
    SN_ECORRUPT = -4,  /* stored or received data is damaged */
    SN_EPROTO = -5,    /* a peer broke the protocol */
    SN_EAUTH = -6,     /* authentication or signature failure */
    SN_EBUSY = -7,     /* resource locked or in use */
    SN_ENOTFOUND = -8, /* no such object */
    SN_ECONFIG = -9,   /* bad configuration */
    SN_ETOOBIG = -10,  /* a limit was exceeded */
    SN_EVERSION = -11, /* data from a newer format than this build understands */
};

#define SN_ERR_MSG_MAX 512
#define SN_ERR_HINT_MAX 256

typedef struct sn_err {
    int code;
    char msg[SN_ERR_MSG_MAX];
    char hint[SN_ERR_HINT_MAX];
} sn_err;

#define SN_ERR_INIT {0, {0}, {0}}

/* Fill `err` (may be NULL) with `code` and a formatted message, unless it already holds
 * one: the first failure, where the most is known, wins. Returns `code`. */
int sn_err_set(sn_err *err, int code, const char *fmt, ...) SN_PRINTF(3, 4);

/* Set the hint: what the user can do about it. No-op when err is NULL. */
void sn_err_hint(sn_err *err, const char *fmt, ...) SN_PRINTF(2, 3);

/* Prepend context ("while doing X: ") to the message already held. */
void sn_err_prefix(sn_err *err, const char *fmt, ...) SN_PRINTF(2, 3);

/* Clear back to SN_ERR_INIT. */
void sn_err_clear(sn_err *err);

/* Short stable name of a code, e.g. "ENOMEM". */
const char *sn_err_name(int code);

/* Process exit status (sysexits style) for a code. */
int sn_err_exit_status(int code);

/* Defensive check for conditions that must not happen: asserts in debug builds,
 * evaluates to the condition in release so the caller can degrade gracefully. */
#ifdef NDEBUG
#define SN_NEVER(x) (x)
#else
#include <assert.h>
#define SN_NEVER(x) ((x) ? (assert(!#x), 1) : 0)
#endif

#endif
