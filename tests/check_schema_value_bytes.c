/* tests/check_schema_value_bytes.c - the "bytes" test case of schema_value_suite: canonical
 * value bytes, non-canonical and malformed input, random round trips, encode faults, and
 * value equality. (A test case, not a suite: check_schema_value.c adds it to its suite.) */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "schema/value.h"
#include "tests/schema_fixture.h"
#include "tests/support.h"

static void encode_ok(const schema_value *v, sn_buf *b)
{
    sn_err err = SN_ERR_INIT;
    sn_buf_reset(b);
    ck_assert_msg(schema_value_encode(v, b, &err) == 0, "encode: %s", err.msg);
}

static void assert_bytes(const sn_buf *b, const char *hex)
{
    char got[256];
    ck_assert_uint_lt(b->len, sizeof got / 2);
    sn_hex(got, b->data, b->len);
    ck_assert_str_eq(got, hex);
}

START_TEST(test_value_encoding_is_canonical)
{
    sn_buf b;
    sn_buf_init(&b, 1 << 20);
    struct {
        schema_value v;
        const char *hex;
    } cases[] = {
        {schema_value_nil(), "c0"},
        {schema_value_int(1), "01"},
        {schema_value_int(0), "00"},
        {schema_value_int(127), "7f"},
        {schema_value_int(128), "cc80"},
        {schema_value_int(256), "cd0100"},
        {schema_value_int(65536), "ce00010000"},
        {schema_value_int(4294967296LL), "cf0000000100000000"},
        {schema_value_int(-1), "ff"},
        {schema_value_int(-32), "e0"},
        {schema_value_int(-33), "d0df"},
        {schema_value_int(-129), "d1ff7f"},
        {schema_value_int(INT64_MIN), "d38000000000000000"},
        {schema_value_real(1.5), "cb3ff8000000000000"},
        {schema_value_text(""), "a0"},
        {schema_value_text("ab"), "a26162"},
        {{.kind = SCHEMA_V_BLOB, .u.s = {(const uint8_t *)"\x01\x02", 2}}, "c4020102"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        encode_ok(&cases[i].v, &b);
        assert_bytes(&b, cases[i].hex);
    }
    uint8_t id[SCHEMA_ID_LEN] = {0};
    schema_value v = schema_value_id(id);
    encode_ok(&v, &b);
    assert_bytes(&b, "c41000000000000000000000000000000000");
    /* Longer strings take the smallest header. */
    char s[300];
    memset(s, 'x', sizeof s - 1);
    s[299] = '\0';
    v = schema_value_text(s);
    encode_ok(&v, &b);
    ck_assert_uint_eq(b.len, 3 + 299);
    ck_assert_uint_eq(b.data[0], 0xda);
    s[40] = '\0';
    v = schema_value_text(s);
    encode_ok(&v, &b);
    ck_assert_uint_eq(b.len, 2 + 40);
    ck_assert_uint_eq(b.data[0], 0xd9);
    sn_buf_free(&b);
}
END_TEST

START_TEST(test_value_encode_refuses_ambiguous_blob)
{
    uint8_t bytes[SCHEMA_ID_LEN] = {0};
    schema_value v = {.kind = SCHEMA_V_BLOB, .u.s = {bytes, SCHEMA_ID_LEN}};
    sn_buf b;
    sn_buf_init(&b, 64);
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(schema_value_encode(&v, &b, &err), SN_EINVAL);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "16-byte"));
    /* A full buffer leaves it as it was. */
    sn_buf_init(&b, 4);
    schema_value t = schema_value_text("hello");
    ck_assert_int_eq(schema_value_encode(&t, &b, NULL), SN_ETOOBIG);
    ck_assert_uint_eq(b.len, 0);
    sn_buf_free(&b);
}
END_TEST

static void decode_hex(const char *hex, schema_value *v, int want)
{
    uint8_t bytes[64];
    size_t n = strlen(hex) / 2;
    ck_assert_uint_le(n, sizeof bytes);
    for (size_t i = 0; i < n; i++) {
        unsigned x;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &x), 1);
        bytes[i] = (uint8_t)x;
    }
    /* An exact-size heap copy, so the sanitizers see any read past the end. */
    uint8_t *copy = sn_malloc(n == 0 ? 1 : n);
    memcpy(copy, bytes, n);
    sn_err err = SN_ERR_INIT;
    int rc = schema_value_decode(copy, n, v, &err);
    ck_assert_msg(rc == want, "%s: rc %d (%s), want %d", hex, rc, err.msg, want);
    if (rc != 0)
        ck_assert_msg(err.msg[0] != '\0', "%s: no message", hex);
    /* TEXT/BLOB borrow the copy, freed below: callers look at kinds and lengths only. */
    if (rc == 0 && (v->kind == SCHEMA_V_TEXT || v->kind == SCHEMA_V_BLOB))
        v->u.s.p = NULL;
    sn_free(copy);
}

START_TEST(test_non_canonical_input_decodes_to_equal_value)
{
    schema_value v, want;
    decode_hex("cf0000000000000001", &v, 0);
    want = schema_value_int(1);
    ck_assert(schema_value_equal(&v, &want));
    decode_hex("d3ffffffffffffffff", &v, 0);
    want = schema_value_int(-1);
    ck_assert(schema_value_equal(&v, &want));
    decode_hex("d10005", &v, 0);
    want = schema_value_int(5);
    ck_assert(schema_value_equal(&v, &want));
    decode_hex("ca3fc00000", &v, 0); /* float 32 */
    want = schema_value_real(1.5);
    ck_assert(schema_value_equal(&v, &want));
    decode_hex("c5001000112233445566778899aabbccddeeff", &v, 0); /* bin 16 as bin16 */
    ck_assert_int_eq(v.kind, SCHEMA_V_ID);
    ck_assert_uint_eq(v.u.id[15], 0xff);
    decode_hex("d9026162", &v, 0); /* str 8 for a fixstr */
    ck_assert_int_eq(v.kind, SCHEMA_V_TEXT);
    ck_assert_uint_eq(v.u.s.n, 2);
    decode_hex("db00000000", &v, 0);
    ck_assert_int_eq(v.kind, SCHEMA_V_TEXT);
    ck_assert_uint_eq(v.u.s.n, 0);
    decode_hex("c403010203", &v, 0);
    ck_assert_int_eq(v.kind, SCHEMA_V_BLOB);
    ck_assert_uint_eq(v.u.s.n, 3);
}
END_TEST

START_TEST(test_value_decode_refuses_malformed_bytes)
{
    schema_value v;
    static const char *const bad[] = {
        "",                   /* nothing */
        "0101",               /* trailing byte */
        "c1",                 /* never used */
        "c2",                 /* booleans are not values */
        "80",                 /* map */
        "90",                 /* array */
        "d401ff",             /* fixext */
        "c7010100",           /* ext 8 */
        "cf8000000000000000", /* 2^63 does not fit */
        "cfffffffffffffffff", /* nor does 2^64 - 1 */
        "a3616263ff",         /* trailing after a string */
        "a36162",             /* string cut short */
        "d9",                 /* str 8 without its length */
        "dbffffffff61",       /* 4 GiB string claimed */
        "c410001122",         /* bin 16 claimed, 3 given */
        "cb3ff8",             /* float cut short */
        "cd01",               /* uint 16 cut short */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        decode_hex(bad[i], &v, SN_ECORRUPT);
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(schema_value_decode((const uint8_t *)"\x80", 1, &v, &err), SN_ECORRUPT);
    ck_assert_str_eq(err.msg, "decoding a stored value: expected a value (nil, integer, real, "
                              "text or binary) at byte 0, found a map");
}
END_TEST

START_TEST(test_value_round_trip_random)
{
    test_rng r;
    test_rng_seed(&r, (uint64_t)_i);
    static uint8_t pool[70000];
    test_rng_bytes(&r, pool, sizeof pool);
    sn_buf b, b2;
    sn_buf_init(&b, 1 << 20);
    sn_buf_init(&b2, 1 << 20);
    for (int k = 0; k < 200; k++) {
        /* The mix this test was written with: one text in 4 may be long, and a 17-byte
         * blob stands in for a 16-byte one. */
        schema_value v = gen_random_value(&r, pool, sizeof pool, 4, SCHEMA_ID_LEN + 1), back;
        sn_err err = SN_ERR_INIT;
        sn_buf_reset(&b);
        ck_assert_msg(schema_value_encode(&v, &b, &err) == 0, "seed %d: %s", _i, err.msg);
        ck_assert_msg(schema_value_decode(b.data, b.len, &back, &err) == 0, "seed %d: %s", _i,
                      err.msg);
        ck_assert_msg(schema_value_equal(&v, &back), "seed %d value %d: kind %d", _i, k, v.kind);
        sn_buf_reset(&b2);
        ck_assert_int_eq(schema_value_encode(&back, &b2, NULL), 0);
        ck_assert_msg(b.len == b2.len && memcmp(b.data, b2.data, b.len) == 0,
                      "seed %d: re-encoding differs", _i);
        /* Every proper prefix is refused. */
        for (size_t cut = 0; cut < b.len && cut < 20; cut++)
            ck_assert_msg(schema_value_decode(b.data, cut, &back, NULL) == SN_ECORRUPT,
                          "seed %d: prefix %zu accepted", _i, cut);
    }
    sn_buf_free(&b);
    sn_buf_free(&b2);
}
END_TEST

START_TEST(test_value_encode_fault_loop)
{
    long base = sn_alloc_live();
    schema_value v = schema_value_text("a value that needs a buffer");
    for (int n = 0;; n++) {
        sn_buf b;
        sn_buf_init(&b, 1024);
        sn_err err = SN_ERR_INIT;
        sn_fault_arm(SN_FAULT_ALLOC, n, 1);
        int rc = schema_value_encode(&v, &b, &err);
        bool fired = sn_fault_disarm();
        sn_buf_free(&b);
        ck_assert_int_eq(sn_alloc_live(), base);
        if (!fired) {
            ck_assert_int_eq(rc, 0);
            break;
        }
        ck_assert_msg(rc == SN_ENOMEM && err.msg[0] != '\0', "pass %d: rc %d", n, rc);
    }
}
END_TEST

START_TEST(test_value_equal)
{
    schema_value a = schema_value_real(0.0), b = schema_value_real(-0.0);
    ck_assert(!schema_value_equal(&a, &b)); /* bitwise */
    a = schema_value_real(NAN);
    b = a;
    ck_assert(schema_value_equal(&a, &b));
    a = schema_value_int(1);
    b = schema_value_real(1.0);
    ck_assert(!schema_value_equal(&a, &b));
    a = schema_value_text("ab");
    b = (schema_value){.kind = SCHEMA_V_BLOB, .u.s = {(const uint8_t *)"ab", 2}};
    ck_assert(!schema_value_equal(&a, &b));
    b = schema_value_text("ab");
    ck_assert(schema_value_equal(&a, &b));
    b = schema_value_text("abc");
    ck_assert(!schema_value_equal(&a, &b));
    a = schema_value_nil();
    b = schema_value_nil();
    ck_assert(schema_value_equal(&a, &b));
}
END_TEST

TCase *schema_value_bytes_tcase(void);
TCase *schema_value_bytes_tcase(void)
{
    TCase *tc = tcase_create("bytes");
    tcase_add_test(tc, test_value_encoding_is_canonical);
    tcase_add_test(tc, test_value_encode_refuses_ambiguous_blob);
    tcase_add_test(tc, test_non_canonical_input_decodes_to_equal_value);
    tcase_add_test(tc, test_value_decode_refuses_malformed_bytes);
    tcase_add_loop_test(tc, test_value_round_trip_random, 0, 50);
    tcase_add_test(tc, test_value_encode_fault_loop);
    tcase_add_test(tc, test_value_equal);
    return tc;
}
