/* base/json.c - the JSON string encoding every JSON writer shares (the CLI's --json, the
 * status endpoints): UTF-8 checked, control characters escaped, bad bytes as U+FFFD. */
#include "base/json.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when the bytes there are not one
 * (stray continuation, overlong form, surrogate, past U+10FFFF, cut short). */
size_t sn_utf8_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

int sn_json_string(sn_buf *b, const void *s, size_t n, sn_err *err)
{
    const uint8_t *p = s;
    int rc = sn_buf_append(b, "\"", 1, err);
    size_t i = 0;
    while (rc == 0 && i < n) {
        uint8_t c = p[i];
        size_t len = sn_utf8_len(p + i, n - i);
        if (len == 0) {
            rc = sn_buf_append_str(b, "\\ufffd", err);
            i++;
            continue;
        }
        if (len > 1) {
            rc = sn_buf_append(b, p + i, len, err);
        } else if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            rc = sn_buf_append(b, esc, 2, err);
        } else if (c < 0x20) {
            switch (c) {
            case '\n': rc = sn_buf_append_str(b, "\\n", err); break;
            case '\t': rc = sn_buf_append_str(b, "\\t", err); break;
            case '\r': rc = sn_buf_append_str(b, "\\r", err); break;
            case '\b': rc = sn_buf_append_str(b, "\\b", err); break;
            case '\f': rc = sn_buf_append_str(b, "\\f", err); break;
            default: rc = sn_buf_appendf(b, err, "\\u%04x", c); break;
            }
        } else {
            rc = sn_buf_append(b, &c, 1, err);
        }
        i += len;
    }
    return rc != 0 ? rc : sn_buf_append(b, "\"", 1, err);
}

int sn_json_cstr(sn_buf *b, const char *s, sn_err *err)
{
    if (s == NULL)
        return sn_buf_append_str(b, "null", err);
    return sn_json_string(b, s, strlen(s), err);
}
