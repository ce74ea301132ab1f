/* base/buf.h - growable byte buffers with a hard limit set at creation. */
#ifndef SN_BASE_BUF_H
#define SN_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct sn_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t limit; /* len never exceeds this; growing past it is SN_ETOOBIG */
} sn_buf;

/* Initialise an empty buffer that may grow to `limit` bytes. Allocates nothing. */
void sn_buf_init(sn_buf *b, size_t limit);
/* Release the memory; the buffer is empty and reusable with the same limit. */
void sn_buf_free(sn_buf *b);
/* Forget the contents, keep the memory. */
void sn_buf_reset(sn_buf *b);
/* Make room for `extra` more bytes. SN_ETOOBIG past the limit, SN_ENOMEM. */
SN_NODISCARD int sn_buf_reserve(sn_buf *b, size_t extra, sn_err *err);
/* Append bytes / a C string's bytes (no NUL) / a formatted string (no NUL). */
SN_NODISCARD int sn_buf_append(sn_buf *b, const void *p, size_t n, sn_err *err);
SN_NODISCARD int sn_buf_append_str(sn_buf *b, const char *s, sn_err *err);
SN_NODISCARD int sn_buf_appendf(sn_buf *b, sn_err *err, const char *fmt, ...) SN_PRINTF(3, 4);
SN_NODISCARD int sn_buf_vappendf(sn_buf *b, sn_err *err, const char *fmt, va_list ap)
    SN_PRINTF(3, 0);
/* Append big-endian integers. */
SN_NODISCARD int sn_buf_put_u16be(sn_buf *b, uint16_t v, sn_err *err);
SN_NODISCARD int sn_buf_put_u32be(sn_buf *b, uint32_t v, sn_err *err);
SN_NODISCARD int sn_buf_put_u64be(sn_buf *b, uint64_t v, sn_err *err);
/* Hand the bytes to the caller (sn_free them); the buffer becomes empty. */
uint8_t *sn_buf_steal(sn_buf *b, size_t *len);

/* Big-endian loads and stores for fixed layouts. */
static inline uint16_t sn_load_u16be(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t sn_load_u32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t sn_load_u64be(const uint8_t *p)
{
    return (uint64_t)sn_load_u32be(p) << 32 | sn_load_u32be(p + 4);
}
static inline void sn_store_u16be(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void sn_store_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void sn_store_u64be(uint8_t *p, uint64_t v)
{
    sn_store_u32be(p, (uint32_t)(v >> 32));
    sn_store_u32be(p + 4, (uint32_t)v);
}

#endif
