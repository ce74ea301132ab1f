/* schema/value.c - cell values, record ids (UUIDv7 layout) and calendar checks. */
#include "schema/value.h"

#include <string.h>

#include "base/hash.h"

schema_value schema_value_text(const char *s)
{
    return (schema_value){.kind = SCHEMA_V_TEXT, .u.s = {(const uint8_t *)s, strlen(s)}};
}

schema_value schema_value_id(const uint8_t id[SCHEMA_ID_LEN])
{
    schema_value v = {.kind = SCHEMA_V_ID};
    memcpy(v.u.id, id, SCHEMA_ID_LEN);
    return v;
}

bool schema_value_equal(const schema_value *a, const schema_value *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case SCHEMA_V_NIL: return true;
    case SCHEMA_V_INT: return a->u.i == b->u.i;
    case SCHEMA_V_REAL: return memcmp(&a->u.r, &b->u.r, sizeof a->u.r) == 0;
    case SCHEMA_V_TEXT:
    case SCHEMA_V_BLOB:
        return a->u.s.n == b->u.s.n && (a->u.s.n == 0 || memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0);
    case SCHEMA_V_ID: return memcmp(a->u.id, b->u.id, SCHEMA_ID_LEN) == 0;
    }
    return false;
}

/* Layout (RFC 9562 UUIDv7): bytes 0-5 big-endian Unix milliseconds, the high nibble of
 * byte 6 is the version (7), the top two bits of byte 8 the variant (10); the other 74
 * bits are random. Ids made later sort later, which keeps inserts local in B-trees. */
void schema_id_generate(uint8_t id[SCHEMA_ID_LEN], uint64_t now_ms)
{
    sn_random_bytes(id + 6, SCHEMA_ID_LEN - 6);
    for (int i = 0; i < 6; i++)
        id[i] = (uint8_t)(now_ms >> (8 * (5 - i)));
    id[6] = (uint8_t)(0x70 | (id[6] & 0x0f));
    id[8] = (uint8_t)(0x80 | (id[8] & 0x3f));
}

void schema_id_format(char out[2 * SCHEMA_ID_LEN + 1], const uint8_t id[SCHEMA_ID_LEN])
{
    sn_hex(out, id, SCHEMA_ID_LEN);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int schema_id_parse(uint8_t id[SCHEMA_ID_LEN], const char *text, sn_err *err)
{
    size_t n = strlen(text);
    /* The dashed UUID form has dashes after hex digits 8, 12, 16 and 20 exactly. */
    bool dashed = n == 36;
    if (n != 32 && !dashed)
        goto bad;
    uint8_t tmp[SCHEMA_ID_LEN];
    size_t digit = 0;
    int hi = -1;
    for (size_t i = 0; i < n; i++) {
        if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (text[i] != '-')
                goto bad;
            continue;
        }
        int d = hex_digit(text[i]);
        if (d < 0)
            goto bad;
        if (hi < 0) {
            hi = d;
        } else {
            tmp[digit++] = (uint8_t)(hi << 4 | d);
            hi = -1;
        }
    }
    memcpy(id, tmp, SCHEMA_ID_LEN);
    return 0;
bad:
    return sn_err_set(err, SN_EINVAL,
                      "'%.64s' is not a record id: expected 32 hex digits, optionally with the "
                      "dashes of a UUID (8-4-4-4-12)",
                      text);
}

/* Parse exactly `n` ASCII digits at s; -1 if any is not a digit. */
static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

bool schema_date_is_valid(const char *s, size_t n)
{
    if (n != 10 || s[4] != '-' || s[7] != '-')
        return false;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    return d <= days_in_month(y, m);
}

/* HH:MM with HH 00-23 and MM 00-59. */
static bool hh_mm_is_valid(const char *s)
{
    int h = digits(s, 2), m = digits(s + 3, 2);
    return s[2] == ':' && h >= 0 && h <= 23 && m >= 0 && m <= 59;
}

bool schema_datetime_is_valid(const char *s, size_t n)
{
    /* YYYY-MM-DDTHH:MM is the shortest form. */
    if (n < 16 || !schema_date_is_valid(s, 10) || s[10] != 'T' || !hh_mm_is_valid(s + 11))
        return false;
    size_t i = 16;
    if (i < n && s[i] == ':') {
        if (n - i < 3)
            return false;
        int sec = digits(s + i + 1, 2);
        if (sec < 0 || sec > 59)
            return false;
        i += 3;
        if (i < n && s[i] == '.') {
            size_t start = ++i;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
            if (i == start || i - start > 9)
                return false;
        }
    }
    if (i == n)
        return true;
    if (s[i] == 'Z')
        return i + 1 == n;
    if (s[i] == '+' || s[i] == '-')
        return n - i == 6 && hh_mm_is_valid(s + i + 1);
    return false;
}
