/* schema/mpcursor.h - a validating msgpack reader for untrusted bytes, internal to schema/.
 *
 * Only schema/ includes this. msgpack-c's unpacker never sees received bytes (SECURITY.md,
 * Adjustments): it trusts lengths and allocates what they claim. This cursor checks every
 * length against the bytes that remain before using it, allocates nothing, caps nesting
 * when it skips parts it does not interpret, and reports what it expected and what it
 * found, with the byte offset. Every read either consumes exactly one item and returns 0,
 * or returns SN_ECORRUPT with the cursor position unspecified (callers give up then). */
#ifndef SN_SCHEMA_MPCURSOR_H
#define SN_SCHEMA_MPCURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "schema/value.h"

/* Deepest nesting of arrays and maps accepted anywhere in one decoded object, counting the
 * outermost array as 1. */
#define SCHEMA_MPCURSOR_DEPTH_MAX 8

typedef struct schema_mpcursor {
    const uint8_t *p; /* borrowed */
    size_t len;
    size_t pos;
} schema_mpcursor;

void schema_mpcursor_init(schema_mpcursor *c, const uint8_t *p, size_t len);

/* Bytes not consumed yet. */
static inline size_t schema_mpcursor_left(const schema_mpcursor *c) { return c->len - c->pos; }

/* Each read below takes `what`, a short phrase naming the item for messages ("change
 * count", "column id"), and fails with SN_ECORRUPT when the next item is not of the kind
 * asked for, is out of range, or runs past the end of the bytes. */

/* An array header. *n is at most the bytes left (each element takes at least one). */
SN_NODISCARD int schema_mpcursor_read_array(schema_mpcursor *c, size_t *n, const char *what,
                                            sn_err *err);

/* A non-negative integer of any msgpack width, at most `max`. */
SN_NODISCARD int schema_mpcursor_read_uint(schema_mpcursor *c, uint64_t max, uint64_t *out,
                                           const char *what, sn_err *err);

/* A string of at most `max` bytes; *p borrows from the cursor's bytes. Contents are not
 * checked (UTF-8 validity is a local-write rule). */
SN_NODISCARD int schema_mpcursor_read_str(schema_mpcursor *c, size_t max, const uint8_t **p,
                                          size_t *n, const char *what, sn_err *err);

/* A binary string of exactly `n` bytes, copied to `out`. */
SN_NODISCARD int schema_mpcursor_read_bin_exact(schema_mpcursor *c, uint8_t *out, size_t n,
                                                const char *what, sn_err *err);

/* If the next item is nil, consume it and return true; otherwise consume nothing. */
bool schema_mpcursor_take_nil(schema_mpcursor *c);

/* A cell value: nil, an integer of any width that fits int64, a float32/64 (as double), a
 * string (SCHEMA_V_TEXT) or a binary string (16 bytes: SCHEMA_V_ID, otherwise
 * SCHEMA_V_BLOB). TEXT and BLOB borrow the cursor's bytes. Booleans, arrays, maps and
 * extension types are refused. */
SN_NODISCARD int schema_mpcursor_read_value(schema_mpcursor *c, schema_value *out,
                                            const char *what, sn_err *err);

/* Walk one well-formed item of any type without interpreting it. `levels` is how many
 * levels of arrays/maps the item may open (0: it must be a scalar). */
SN_NODISCARD int schema_mpcursor_skip(schema_mpcursor *c, unsigned levels, const char *what,
                                      sn_err *err);

#endif
