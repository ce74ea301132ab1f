/* base/buf.c - growable byte buffers with a hard limit. */
#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

void sn_buf_init(sn_buf *b, size_t limit) { *b = (sn_buf){.limit = limit}; }

void sn_buf_free(sn_buf *b)
{
    sn_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void sn_buf_reset(sn_buf *b) { b->len = 0; }

int sn_buf_reserve(sn_buf *b, size_t extra, sn_err *err)
{
    if (extra > b->limit || b->len > b->limit - extra)
        return sn_err_set(err, SN_ETOOBIG, "buffer limit of %zu bytes exceeded (need %zu more)",
                          b->limit, extra);
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->limit)
        cap = b->limit;
    uint8_t *p = sn_realloc(b->data, cap);
    if (p == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return 0;
}

int sn_buf_append(sn_buf *b, const void *p, size_t n, sn_err *err)
{
    if (n == 0)
        return 0;
    int rc = sn_buf_reserve(b, n, err);
    if (rc != 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int sn_buf_append_str(sn_buf *b, const char *s, sn_err *err)
{
    return sn_buf_append(b, s, strlen(s), err);
}

int sn_buf_vappendf(sn_buf *b, sn_err *err, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    /* Format straight into the room there is; only when it does not fit, grow and again. */
    size_t room = b->cap - b->len;
    int n = vsnprintf(room > 0 ? (char *)b->data + b->len : NULL, room, fmt, ap);
    int rc = 0;
    if (n < 0) {
        rc = sn_err_set(err, SN_EINVAL, "cannot format '%s'", fmt);
    } else if ((size_t)n >= room) {
        rc = sn_buf_reserve(b, (size_t)n + 1, err);
        if (rc == 0)
            vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, again);
    }
    if (rc == 0)
        b->len += (size_t)n;
    va_end(again);
    return rc;
}

int sn_buf_appendf(sn_buf *b, sn_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = sn_buf_vappendf(b, err, fmt, ap);
    va_end(ap);
    return rc;
}

int sn_buf_put_u16be(sn_buf *b, uint16_t v, sn_err *err)
{
    uint8_t t[2];
    sn_store_u16be(t, v);
    return sn_buf_append(b, t, sizeof t, err);
}

int sn_buf_put_u32be(sn_buf *b, uint32_t v, sn_err *err)
{
    uint8_t t[4];
    sn_store_u32be(t, v);
    return sn_buf_append(b, t, sizeof t, err);
}

int sn_buf_put_u64be(sn_buf *b, uint64_t v, sn_err *err)
{
    uint8_t t[8];
    sn_store_u64be(t, v);
    return sn_buf_append(b, t, sizeof t, err);
}

uint8_t *sn_buf_steal(sn_buf *b, size_t *len)
{
    uint8_t *p = b->data;
    if (len != NULL)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
