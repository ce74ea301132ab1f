/* schema/mpcursor.c - the validating msgpack cursor (see mpcursor.h for the contract).
 *
 * Reading an item is two steps. classify() looks at the first byte only, so a type
 * mismatch is reported as such even when the length that follows is nonsense. head() then
 * reads the rest of the item's header (lengths, counts, integer and float payloads) and
 * checks, before anything uses a length, that the bytes it claims are present: a string
 * or binary payload must fit in what is left, an array of n elements needs at least n
 * bytes and a map of n pairs at least 2n, because every item takes at least one byte.
 * That last rule bounds every count by the input size, so nothing a hostile length says
 * can make us allocate or loop more than the body's own length allows. */
#include "schema/mpcursor.h"

#include <string.h>

typedef enum mp_class {
    MP_BAD = 0, /* 0xc1, never used by msgpack */
    MP_NIL,
    MP_BOOL,
    MP_UINT, /* positive fixint, uint 8..64 */
    MP_SINT, /* negative fixint, int 8..64 (the value may still be >= 0) */
    MP_FLOAT,
    MP_STR,
    MP_BIN,
    MP_ARRAY,
    MP_MAP,
    MP_EXT,
} mp_class;

typedef struct mp_head {
    mp_class cls;
    uint64_t u; /* MP_UINT value; STR/BIN/EXT payload length; ARRAY/MAP count */
    int64_t i;  /* MP_SINT value */
    double r;   /* MP_FLOAT value */
} mp_head;

void schema_mpcursor_init(schema_mpcursor *c, const uint8_t *p, size_t len)
{
    *c = (schema_mpcursor){.p = p, .len = len, .pos = 0};
}

static mp_class classify(uint8_t b)
{
    if (b <= 0x7f)
        return MP_UINT;
    if (b <= 0x8f)
        return MP_MAP;
    if (b <= 0x9f)
        return MP_ARRAY;
    if (b <= 0xbf)
        return MP_STR;
    if (b >= 0xe0)
        return MP_SINT;
    switch (b) {
    case 0xc0: return MP_NIL;
    case 0xc2:
    case 0xc3: return MP_BOOL;
    case 0xc4:
    case 0xc5:
    case 0xc6: return MP_BIN;
    case 0xc7:
    case 0xc8:
    case 0xc9: return MP_EXT;
    case 0xca:
    case 0xcb: return MP_FLOAT;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: return MP_UINT;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: return MP_SINT;
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: return MP_EXT;
    case 0xd9:
    case 0xda:
    case 0xdb: return MP_STR;
    case 0xdc:
    case 0xdd: return MP_ARRAY;
    case 0xde:
    case 0xdf: return MP_MAP;
    default: return MP_BAD;
    }
}

static const char *class_name(mp_class k)
{
    switch (k) {
    case MP_NIL: return "nil";
    case MP_BOOL: return "a boolean";
    case MP_UINT: return "an unsigned integer";
    case MP_SINT: return "a signed integer";
    case MP_FLOAT: return "a floating-point number";
    case MP_STR: return "a string";
    case MP_BIN: return "a binary string";
    case MP_ARRAY: return "an array";
    case MP_MAP: return "a map";
    case MP_EXT: return "an extension type";
    case MP_BAD: break;
    }
    return "the reserved byte 0xc1";
}

static int fail_short(const schema_mpcursor *c, const char *what, size_t at, uint64_t need,
                      sn_err *err)
{
    return sn_err_set(err, SN_ECORRUPT,
                      "%s: truncated at byte %zu (the item needs %llu bytes, %zu are left)", what,
                      at, (unsigned long long)need, c->len - at);
}

static int fail_type(const schema_mpcursor *c, const char *what, const char *expected,
                     sn_err *err)
{
    if (c->pos >= c->len)
        return sn_err_set(err, SN_ECORRUPT,
                          "%s: expected %s at byte %zu, found the end of the data", what,
                          expected, c->pos);
    return sn_err_set(err, SN_ECORRUPT, "%s: expected %s at byte %zu, found %s", what, expected,
                      c->pos, class_name(classify(c->p[c->pos])));
}

/* Big-endian unsigned of `n` bytes at p. */
static uint64_t load_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Read the header of the next item and advance past it (not past a STR/BIN/EXT payload).
 * Checks that the header is present and that any payload or element count fits in what
 * is left. */
static int head(schema_mpcursor *c, mp_head *h, const char *what, sn_err *err)
{
    size_t at = c->pos;
    if (at >= c->len)
        return fail_short(c, what, at, 1, err);
    uint8_t b = c->p[at];
    *h = (mp_head){.cls = classify(b)};
    size_t extra = 0; /* header bytes after the tag */
    switch (h->cls) {
    case MP_BAD:
        return sn_err_set(err, SN_ECORRUPT, "%s: byte %zu is 0xc1, which msgpack never uses",
                          what, at);
    case MP_NIL:
    case MP_BOOL: break;
    case MP_UINT: extra = b <= 0x7f ? 0 : (size_t)1 << (b - 0xcc); break;
    case MP_SINT: extra = b >= 0xe0 ? 0 : (size_t)1 << (b - 0xd0); break;
    case MP_FLOAT: extra = b == 0xca ? 4 : 8; break;
    case MP_STR: extra = b <= 0xbf ? 0 : (size_t)1 << (b - 0xd9); break;
    case MP_BIN: extra = (size_t)1 << (b - 0xc4); break;
    case MP_ARRAY: extra = b <= 0x9f ? 0 : (b == 0xdc ? 2 : 4); break;
    case MP_MAP: extra = b <= 0x8f ? 0 : (b == 0xde ? 2 : 4); break;
    case MP_EXT: extra = b >= 0xd4 ? 1 : ((size_t)1 << (b - 0xc7)) + 1; break;
    }
    if (c->len - at - 1 < extra)
        return fail_short(c, what, at, 1 + extra, err);
    const uint8_t *q = c->p + at + 1;
    c->pos = at + 1 + extra;
    size_t left = c->len - c->pos;
    switch (h->cls) {
    case MP_BAD:
    case MP_NIL:
    case MP_BOOL: return 0;
    case MP_UINT: h->u = b <= 0x7f ? b : load_be(q, extra); return 0;
    case MP_SINT:
        if (b >= 0xe0) {
            h->i = (int8_t)b;
        } else {
            /* Sign-extend from the item's width (two's complement conversions). */
            uint64_t raw = load_be(q, extra);
            switch (extra) {
            case 1: h->i = (int8_t)raw; break;
            case 2: h->i = (int16_t)raw; break;
            case 4: h->i = (int32_t)raw; break;
            default: h->i = (int64_t)raw; break;
            }
        }
        return 0;
    case MP_FLOAT:
        if (extra == 4) {
            uint32_t bits = (uint32_t)load_be(q, 4);
            float f;
            memcpy(&f, &bits, sizeof f);
            h->r = f;
        } else {
            uint64_t bits = load_be(q, 8);
            memcpy(&h->r, &bits, sizeof h->r);
        }
        return 0;
    case MP_STR:
    case MP_BIN:
        h->u = (b >= 0xa0 && b <= 0xbf) ? (uint64_t)(b & 0x1f) : load_be(q, extra);
        if (h->u > left)
            return fail_short(c, what, at, (c->pos - at) + h->u, err);
        return 0;
    case MP_EXT:
        /* fixext 1..16 carry only the type byte; ext 8/16/32 carry length then type. */
        h->u = b >= 0xd4 ? (uint64_t)1 << (b - 0xd4) : load_be(q, extra - 1);
        if (h->u > left)
            return fail_short(c, what, at, (c->pos - at) + h->u, err);
        return 0;
    case MP_ARRAY:
    case MP_MAP: {
        h->u = (b <= 0x9f) ? (uint64_t)(b & 0x0f) : load_be(q, extra);
        uint64_t items = h->cls == MP_MAP ? 2 * h->u : h->u;
        if (items > left)
            return sn_err_set(err, SN_ECORRUPT,
                              "%s: %s at byte %zu claims %llu %s but only %zu bytes are left",
                              what, class_name(h->cls), at, (unsigned long long)h->u,
                              h->cls == MP_MAP ? "key-value pairs" : "elements", left);
        return 0;
    }
    }
    return 0;
}

/* The class of the next item without consuming it, MP_BAD at the end of the data. */
static bool next_is(const schema_mpcursor *c, mp_class k)
{
    return c->pos < c->len && classify(c->p[c->pos]) == k;
}

int schema_mpcursor_read_array(schema_mpcursor *c, size_t *n, const char *what, sn_err *err)
{
    if (!next_is(c, MP_ARRAY))
        return fail_type(c, what, "an array", err);
    mp_head h;
    int rc = head(c, &h, what, err);
    if (rc != 0)
        return rc;
    *n = (size_t)h.u;
    return 0;
}

int schema_mpcursor_read_uint(schema_mpcursor *c, uint64_t max, uint64_t *out,
                              const char *what, sn_err *err)
{
    if (!next_is(c, MP_UINT) && !next_is(c, MP_SINT))
        return fail_type(c, what, "an unsigned integer", err);
    size_t at = c->pos;
    mp_head h;
    int rc = head(c, &h, what, err);
    if (rc != 0)
        return rc;
    /* A signed encoding of a non-negative number is wasteful but not wrong. */
    if (h.cls == MP_SINT) {
        if (h.i < 0)
            return sn_err_set(err, SN_ECORRUPT,
                              "%s: expected an unsigned integer at byte %zu, found %lld", what,
                              at, (long long)h.i);
        h.u = (uint64_t)h.i;
    }
    if (h.u > max)
        return sn_err_set(err, SN_ECORRUPT, "%s: %llu at byte %zu is out of range (at most %llu)",
                          what, (unsigned long long)h.u, at, (unsigned long long)max);
    *out = h.u;
    return 0;
}

int schema_mpcursor_read_str(schema_mpcursor *c, size_t max, const uint8_t **p, size_t *n,
                             const char *what, sn_err *err)
{
    if (!next_is(c, MP_STR))
        return fail_type(c, what, "a string", err);
    size_t at = c->pos;
    mp_head h;
    int rc = head(c, &h, what, err);
    if (rc != 0)
        return rc;
    if (h.u > max)
        return sn_err_set(err, SN_ECORRUPT,
                          "%s: the string at byte %zu is %llu bytes long, more than the limit "
                          "of %zu",
                          what, at, (unsigned long long)h.u, max);
    *p = c->p + c->pos;
    *n = (size_t)h.u;
    c->pos += (size_t)h.u;
    return 0;
}

int schema_mpcursor_read_bin_exact(schema_mpcursor *c, uint8_t *out, size_t n,
                                   const char *what, sn_err *err)
{
    if (!next_is(c, MP_BIN))
        return fail_type(c, what, "a binary string", err);
    size_t at = c->pos;
    mp_head h;
    int rc = head(c, &h, what, err);
    if (rc != 0)
        return rc;
    if (h.u != n)
        return sn_err_set(err, SN_ECORRUPT,
                          "%s: expected %zu bytes of binary at byte %zu, found %llu", what, n, at,
                          (unsigned long long)h.u);
    memcpy(out, c->p + c->pos, n);
    c->pos += n;
    return 0;
}

bool schema_mpcursor_take_nil(schema_mpcursor *c)
{
    if (!next_is(c, MP_NIL))
        return false;
    c->pos++;
    return true;
}

int schema_mpcursor_read_value(schema_mpcursor *c, schema_value *out, const char *what,
                               sn_err *err)
{
    static const char expected[] = "a value (nil, integer, real, text or binary)";
    if (c->pos >= c->len)
        return fail_type(c, what, expected, err);
    mp_class k = classify(c->p[c->pos]);
    if (k != MP_NIL && k != MP_UINT && k != MP_SINT && k != MP_FLOAT && k != MP_STR &&
        k != MP_BIN)
        return fail_type(c, what, expected, err);
    size_t at = c->pos;
    mp_head h;
    int rc = head(c, &h, what, err);
    if (rc != 0)
        return rc;
    switch (h.cls) {
    case MP_NIL: *out = schema_value_nil(); return 0;
    case MP_UINT:
        if (h.u > (uint64_t)INT64_MAX)
            return sn_err_set(err, SN_ECORRUPT,
                              "%s: the integer %llu at byte %zu does not fit in 64 signed bits",
                              what, (unsigned long long)h.u, at);
        *out = schema_value_int((int64_t)h.u);
        return 0;
    case MP_SINT: *out = schema_value_int(h.i); return 0;
    case MP_FLOAT: *out = schema_value_real(h.r); return 0;
    case MP_STR:
        *out = (schema_value){.kind = SCHEMA_V_TEXT, .u.s = {c->p + c->pos, (size_t)h.u}};
        c->pos += (size_t)h.u;
        return 0;
    case MP_BIN:
        if (h.u == SCHEMA_ID_LEN) {
            *out = schema_value_id(c->p + c->pos);
        } else {
            *out = (schema_value){.kind = SCHEMA_V_BLOB, .u.s = {c->p + c->pos, (size_t)h.u}};
        }
        c->pos += (size_t)h.u;
        return 0;
    default: break;
    }
    return fail_type(c, what, expected, err); /* not reached: classes checked above */
}

int schema_mpcursor_skip(schema_mpcursor *c, unsigned levels, const char *what, sn_err *err)
{
    size_t at = c->pos;
    mp_head h;
    int rc = head(c, &h, what, err);
    if (rc != 0)
        return rc;
    switch (h.cls) {
    case MP_STR:
    case MP_BIN:
    case MP_EXT: c->pos += (size_t)h.u; return 0;
    case MP_ARRAY:
    case MP_MAP: break;
    default: return 0;
    }
    if (levels == 0)
        return sn_err_set(err, SN_ECORRUPT,
                          "%s: %s at byte %zu is nested more than %d levels deep", what,
                          class_name(h.cls), at, SCHEMA_MPCURSOR_DEPTH_MAX);
    /* head() bounded the count by the bytes left, so this loop is bounded by the input. */
    uint64_t items = h.cls == MP_MAP ? 2 * h.u : h.u;
    for (uint64_t i = 0; i < items; i++) {
        rc = schema_mpcursor_skip(c, levels - 1, what, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}
