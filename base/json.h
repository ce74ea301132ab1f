/* base/json.h - JSON strings: the one encoding of text into JSON (base/json.c). */
#ifndef SN_BASE_JSON_H
#define SN_BASE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when the bytes there are not one
 * (stray continuation, overlong form, surrogate, past U+10FFFF, cut short). n >= 1. */
size_t sn_utf8_len(const uint8_t *p, size_t n);

/* Append s[0..n) as a quoted JSON string; invalid UTF-8 becomes U+FFFD. */
SN_NODISCARD int sn_json_string(sn_buf *b, const void *s, size_t n, sn_err *err);
/* The same for a NUL-terminated string; NULL gives null. */
SN_NODISCARD int sn_json_cstr(sn_buf *b, const char *s, sn_err *err);

#endif
