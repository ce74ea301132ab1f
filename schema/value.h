/* schema/value.h - typed cell values, their text form, validation and canonical bytes. */
#ifndef SN_SCHEMA_VALUE_H
#define SN_SCHEMA_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define SCHEMA_ID_LEN 16

typedef enum schema_vkind {
    SCHEMA_V_NIL = 0,
    SCHEMA_V_INT = 1,
    SCHEMA_V_REAL = 2,
    SCHEMA_V_TEXT = 3, /* UTF-8, not NUL-terminated; bytes borrowed */
    SCHEMA_V_BLOB = 4, /* bytes borrowed */
    SCHEMA_V_ID = 5,   /* a 16-byte record id, held inline */
} schema_vkind;

typedef struct schema_value {
    schema_vkind kind;
    union {
        int64_t i;
        double r;
        struct {
            const uint8_t *p;
            size_t n;
        } s;
        uint8_t id[SCHEMA_ID_LEN];
    } u;
} schema_value;

static inline schema_value schema_value_nil(void) { return (schema_value){.kind = SCHEMA_V_NIL}; }
static inline schema_value schema_value_int(int64_t i)
{
    return (schema_value){.kind = SCHEMA_V_INT, .u.i = i};
}
static inline schema_value schema_value_real(double r)
{
    return (schema_value){.kind = SCHEMA_V_REAL, .u.r = r};
}
/* Borrows `s` (a NUL-terminated string; the NUL is not part of the value). */
schema_value schema_value_text(const char *s);
schema_value schema_value_id(const uint8_t id[SCHEMA_ID_LEN]);

/* Equal kinds and equal contents (REAL compared bitwise). */
bool schema_value_equal(const schema_value *a, const schema_value *b);

/* Canonical bytes of a value (msgpack, smallest encodings): the form kept for siblings
 * and compared for conflicts. Appends to `out`; on failure `out` is unchanged. SN_EINVAL
 * for a 16-byte BLOB (it would read back as an ID), SN_ETOOBIG, SN_ENOMEM. */
SN_NODISCARD int schema_value_encode(const schema_value *v, sn_buf *out, sn_err *err);
/* Decode one value occupying exactly `len` bytes; TEXT/BLOB borrow from `p`. Wider than
 * canonical encodings are accepted (and decode to the same value). SN_ECORRUPT when the
 * bytes are not one well-formed value. */
SN_NODISCARD int schema_value_decode(const uint8_t *p, size_t len, schema_value *out,
                                     sn_err *err);

/* Record ids: UUID version 7 layout (48-bit ms, version 7, random, variant 10). */
void schema_id_generate(uint8_t id[SCHEMA_ID_LEN], uint64_t now_ms);
/* 32 lower-case hex digits, no dashes; out holds 33 bytes. */
void schema_id_format(char out[2 * SCHEMA_ID_LEN + 1], const uint8_t id[SCHEMA_ID_LEN]);
/* Accepts 32 hex digits, with or without the 4 dashes of the UUID form. */
SN_NODISCARD int schema_id_parse(uint8_t id[SCHEMA_ID_LEN], const char *text, sn_err *err);

/* Calendar checks: YYYY-MM-DD with a real day (years 0001-9999, leap years counted);
 * YYYY-MM-DDTHH:MM[:SS[.f...]][Z|±HH:MM] with 1 to 9 fraction digits. */
bool schema_date_is_valid(const char *s, size_t n);
bool schema_datetime_is_valid(const char *s, size_t n);

#endif
