/* tests/check_schema_hostile.c - commit bodies from a hostile or broken peer: every
 * truncation, random byte mutations, malformed headers and changes, trailing data, nesting and
 * size limits, out-of-order contexts; and allocation-fault loops over encode, decode, check. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "schema/codec.h"
#include "schema/schema.h"
#include "tests/schema_fixture.h"
#include "tests/support.h"

/* ---- hostile input ----------------------------------------------------------------- */

/* [0]..[7] of a valid body whose top array has `nelem` elements. */
static void mpb_head(mpb *m, uint32_t nelem)
{
    mpb_array(m, nelem);
    mpb_uint(m, 1);
    mpb_uint(m, 1);
    mpb_bin(m, ID_A, 16);
    mpb_uint(m, 0);
    mpb_uint(m, 1);
    mpb_uint(m, 5);
    mpb_str(m, "ana");
    mpb_byte(m, 0xc0);
}

START_TEST(test_codec_every_truncation_is_refused)
{
    test_rng r;
    test_rng_seed(&r, 1000 + (uint64_t)_i);
    gen *g = gen_random(&r);
    sn_buf b;
    commit_encode_ok(&g->c, &b, _i);
    for (size_t cut = 0; cut < b.len; cut++)
        commit_expect_corrupt(b.data, cut, NULL, _i);
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

START_TEST(test_codec_single_byte_mutations_never_crash)
{
    static const uint8_t nasty[] = {0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
                                    0xc1, 0xc2, 0xc4, 0xc6, 0xc9, 0xca, 0xcb, 0xcf, 0xd3, 0xd4,
                                    0xd8, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};
    test_rng r;
    test_rng_seed(&r, 5000 + (uint64_t)_i);
    long base = sn_alloc_live();
    gen *g = gen_random(&r);
    sn_buf b;
    commit_encode_ok(&g->c, &b, _i);
    uint8_t *m = malloc(b.len);
    ck_assert_ptr_nonnull(m);
    for (int k = 0; k < 64; k++) {
        memcpy(m, b.data, b.len);
        size_t pos = test_rng_below(&r, (uint32_t)b.len);
        switch (test_rng_below(&r, 3)) {
        case 0: m[pos] = (uint8_t)test_rng_next(&r); break;
        case 1: m[pos] = nasty[test_rng_below(&r, sizeof nasty)]; break;
        default: m[pos] ^= (uint8_t)(1u << test_rng_below(&r, 8)); break;
        }
        schema_commit *d = NULL;
        uint8_t *copy;
        sn_err err = SN_ERR_INIT;
        int rc = commit_decode_copy(m, b.len, &d, &copy, &err);
        ck_assert_msg(rc == 0 || rc == SN_ECORRUPT || rc == SN_EVERSION,
                      "seed %d mutation %d at %zu: rc %d", _i, k, pos, rc);
        if (rc != 0) {
            ck_assert_msg(err.msg[0] != '\0', "seed %d: no message", _i);
        } else {
            bool unknown;
            int crc = schema_commit_check(d, &unknown, NULL);
            ck_assert_msg(crc == 0 || crc == SN_EINVAL, "seed %d: check rc %d", _i, crc);
            /* What decodes re-encodes, unless it holds a change from a "newer format". */
            sn_buf again;
            sn_buf_init(&again, 1 << 20);
            int erc = schema_commit_encode(d, &again, NULL);
            ck_assert_msg(erc == 0 || erc == SN_EINVAL, "seed %d: encode rc %d", _i, erc);
            if (erc == 0) {
                schema_commit *d2 = NULL;
                ck_assert_int_eq(schema_commit_decode(again.data, again.len, &d2, NULL), 0);
                commit_assert_equal(d, d2, _i);
                schema_commit_free(d2);
            }
            sn_buf_free(&again);
        }
        schema_commit_free(d);
        free(copy);
    }
    free(m);
    sn_buf_free(&b);
    gen_free(g);
    ck_assert_msg(sn_alloc_live() == base, "seed %d: leak", _i);
}
END_TEST

START_TEST(test_codec_trailing_elements_and_bytes)
{
    gen *g = gen_new(1);
    gen_set(g, 0, 6, 0, 8, schema_value_text("confirmed"));
    sn_buf b;
    commit_encode_ok(&g->c, &b, -1);
    ck_assert_uint_eq(b.data[0], 0x99);
    mpb m = {.n = 0};
    /* A tenth element from a later format: well-formed, skipped. */
    memcpy(m.b, b.data, b.len);
    m.n = b.len;
    m.b[0] = 0x9a;
    mpb_hex(&m, "8101920203"); /* {1: [2, 3]} */
    ck_assert_int_eq(commit_decode_rc(m.b, m.n, NULL), 0);
    /* Seven arrays deep inside the top array: 8 levels in all, the most allowed. */
    m.n = b.len;
    mpb_hex(&m, "91919191919191c0");
    ck_assert_int_eq(commit_decode_rc(m.b, m.n, NULL), 0);
    m.n = b.len;
    mpb_hex(&m, "9191919191919191c0");
    commit_expect_corrupt(m.b, m.n, "nested more than 8 levels", -1);
    m.n = b.len;
    for (int i = 0; i < 3000; i++)
        mpb_byte(&m, 0x91);
    mpb_byte(&m, 0xc0);
    commit_expect_corrupt(m.b, m.n, "nested more than 8 levels", -1);
    /* Malformed trailing element. */
    m.n = b.len;
    mpb_hex(&m, "8101");
    commit_expect_corrupt(m.b, m.n,
                          "a map at byte 71 claims 1 key-value pairs but only 1 bytes are left",
                          -1);
    m.n = b.len;
    mpb_hex(&m, "d9 05 6162");
    commit_expect_corrupt(m.b, m.n, "truncated at byte 71", -1);
    m.n = b.len;
    mpb_hex(&m, "c1");
    commit_expect_corrupt(m.b, m.n, "0xc1", -1);
    /* Trailing bytes after the top array. */
    m.n = b.len;
    m.b[0] = 0x99;
    mpb_hex(&m, "c0");
    commit_expect_corrupt(m.b, m.n, "1 unexpected bytes after the end", -1);
    /* Extra elements inside a change are skipped too. */
    m.n = 0;
    mpb_head(&m, 9);
    mpb_array(&m, 1);
    mpb_array(&m, 7);
    mpb_uint(&m, 2);
    mpb_uint(&m, 6);
    mpb_bin(&m, ID_A, 16);
    mpb_uint(&m, 8);
    mpb_str(&m, "refuted");
    mpb_array(&m, 0);
    mpb_hex(&m, "d40102"); /* a fixext: fine inside skipped parts */
    ck_assert_int_eq(commit_decode_rc(m.b, m.n, NULL), 0);
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

/* A valid one-change list: [[2, 6, ID_A, 8, "refuted", []]]. */
static void mpb_one_set(mpb *m)
{
    mpb_array(m, 1);
    mpb_array(m, 6);
    mpb_uint(m, 2);
    mpb_uint(m, 6);
    mpb_bin(m, ID_A, 16);
    mpb_uint(m, 8);
    mpb_str(m, "refuted");
    mpb_array(m, 0);
}

START_TEST(test_codec_decode_refuses_malformed_header)
{
    mpb m = {.n = 0};
    mpb_str(&m, "hello");
    commit_expect_corrupt(m.b, m.n, "commit: expected an array at byte 0, found a string", -1);
    m.n = 0;
    mpb_array(&m, 0);
    commit_expect_corrupt(m.b, m.n, "empty", -1);
    m.n = 0;
    mpb_head(&m, 8);
    mpb_one_set(&m);
    commit_expect_corrupt(m.b, m.n, "8 elements", -1);
    /* The well-formed version decodes (the cases below differ from it in one place). */
    m.n = 0;
    mpb_head(&m, 9);
    mpb_one_set(&m);
    ck_assert_int_eq(commit_decode_rc(m.b, m.n, NULL), 0);

    static const struct {
        const char *hex; /* body up to the change list */
        const char *needle;
    } heads[] = {
        {"99 01 01 c40f 000102030405060708090a0b0c0d0e 00 01 05 a3616e61 c0", "expected 16 bytes"},
        {"99 01 cf0000000100000000 c410 000102030405060708090a0b0c0d0e0f 00 01 05 a3616e61 c0",
         "schema version [1]: 4294967296"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f ce00000001 01 05 a3616e61 c0", NULL},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f cf0000000100000000 01 05 a3616e61 c0",
         "epoch [3]"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 00 05 a3616e61 c0", "seq [4]: 0"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 ff 05 a3616e61 c0", "found -1"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 01 c0 a3616e61 c0", "hlc [5]"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 01 05 a0 c0", "empty name"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 01 05 a3610061 c0", "NUL"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 01 05 a3616e61 a0", "empty name"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 01 05 a3616e61 05", "entered-by [7]"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 01 05 c3 c0", "author [6]"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 01 05 da0101", "author [6]"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 01 05 a3616e61 c0 c0", "change list"},
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        m.n = 0;
        mpb_hex(&m, heads[i].hex);
        if (i == 12) {
            for (int k = 0; k < 257; k++)
                mpb_byte(&m, 'a');
            mpb_byte(&m, 0xc0);
        }
        mpb_one_set(&m);
        if (heads[i].needle == NULL) {
            ck_assert_int_eq(commit_decode_rc(m.b, m.n, NULL), 0); /* wide but valid */
            continue;
        }
        commit_expect_corrupt(m.b, m.n, heads[i].needle, (int)i);
    }

    /* A count bigger than the bytes left: refused before anything is allocated. */
    m.n = 0;
    mpb_head(&m, 9);
    mpb_hex(&m, "ddffffffff");
    commit_expect_corrupt(m.b, m.n, "claims 4294967295 elements", -1);
    m.n = 0;
    mpb_head(&m, 9);
    mpb_array(&m, 0);
    commit_expect_corrupt(m.b, m.n, "0 changes", -1);
    m.n = 0;
    mpb_head(&m, 9);
    mpb_array(&m, SCHEMA_CHANGES_MAX + 1);
    for (int k = 0; k <= SCHEMA_CHANGES_MAX; k++)
        mpb_byte(&m, 0x90);
    commit_expect_corrupt(m.b, m.n, "4097 changes", -1);
}
END_TEST

START_TEST(test_codec_decode_refuses_malformed_changes)
{
    static const struct {
        const char *hex; /* the one change, after a valid header and 0x91 */
        const char *needle;
    } cases[] = {
        {"05", "change 1 of 1: change: expected an array"},
        {"90", "empty array"},
        {"91 a0", "change op: expected an unsigned integer"},
        {"93 01 06 c410 0102030405067008800a0b0c0d0e0f10", "insert: 3 elements"},
        {"95 02 06 c410 0102030405067008800a0b0c0d0e0f10 08 c0", "set: 5 elements"},
        {"94 01 ce00010000 c410 0102030405067008800a0b0c0d0e0f10 90", "table id: 65536"},
        {"94 01 06 c411 0102030405067008800a0b0c0d0e0f1011 90", "row id: expected 16 bytes"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 91 01", "column and value pairs"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 94 02 a0 01 a0",
         "column 1 follows column 2"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 94 02 a0 02 a0",
         "column 2 follows column 2"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 92 01 80",
         "change 1 of 1 (insert): insert field 1 of 1: value: expected a value"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 92 01 c3", "found a boolean"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 92 01 90", "found an array"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 92 01 d6ff00000000",
         "found an extension type"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 92 01 cf8000000000000000",
         "does not fit in 64 signed bits"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 92 ff a0", "column id"},
        {"96 02 06 c410 0102030405067008800a0b0c0d0e0f10 08 a0 92 01 02", "triples"},
        {"96 02 06 c410 0102030405067008800a0b0c0d0e0f10 08 a0 80", "set context: expected an "
                                                                     "array"},
        {"96 02 06 c410 0102030405067008800a0b0c0d0e0f10 08 a0 "
         "93 c410 0102030405067008800a0b0c0d0e0f10 cf0000000100000000 01",
         "epoch: 4294967296"},
        {"96 02 06 c410 0102030405067008800a0b0c0d0e0f10 08 a0 "
         "93 c410 0102030405067008800a0b0c0d0e0f10 00 00",
         "set context entry 1 of 1: seq 0"},
        {"96 02 06 c410 0102030405067008800a0b0c0d0e0f10 08 a0 93 a0 00 01", "replica id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mpb m = {.n = 0};
        mpb_head(&m, 9);
        mpb_array(&m, 1);
        mpb_hex(&m, cases[i].hex);
        commit_expect_corrupt(m.b, m.n, cases[i].needle, (int)i);
    }
    /* More fields than an insert may carry, with the bytes to back the claim. */
    mpb m = {.n = 0};
    mpb_head(&m, 9);
    mpb_array(&m, 1);
    mpb_hex(&m, "94 01 06 c410 0102030405067008800a0b0c0d0e0f10 dc0202");
    for (int k = 0; k < 2 * (SCHEMA_FIELDS_MAX + 1); k++)
        mpb_byte(&m, 0x01);
    commit_expect_corrupt(m.b, m.n, "257 fields, more than the limit of 256", -1);
}
END_TEST

START_TEST(test_codec_ctx_out_of_order_is_refused)
{
    gen *g = gen_new(1);
    schema_change *ch = gen_set(g, 0, 6, 0, 8, schema_value_text("confirmed"));
    gen_ctx_add(ch, gen_origin(1, 0), 3);
    gen_ctx_add(ch, gen_origin(2, 0), 4);
    sn_buf b;
    commit_encode_ok(&g->c, &b, -1);
    ck_assert_int_eq(commit_decode_rc(b.data, b.len, NULL), 0);
    /* Each entry is 20 bytes (bin 16 with its 2-byte header, epoch, seq) at the end. */
    ck_assert_uint_eq(b.data[b.len - 41], 0x96); /* ctx array of 6 items */
    uint8_t *e1 = b.data + b.len - 40, *e2 = b.data + b.len - 20, tmp[20];
    uint8_t *m = malloc(b.len);
    ck_assert_ptr_nonnull(m);
    /* Swapped. */
    memcpy(m, b.data, b.len);
    memcpy(tmp, e1, 20);
    memcpy(m + b.len - 40, e2, 20);
    memcpy(m + b.len - 20, tmp, 20);
    commit_expect_corrupt(m, b.len, "strictly increasing (replica, epoch) order", -1);
    /* Duplicated. */
    memcpy(m, b.data, b.len);
    memcpy(m + b.len - 20, e1, 20);
    commit_expect_corrupt(m, b.len, "strictly increasing", -1);
    /* Same replica, epochs out of order. */
    memcpy(m, b.data, b.len);
    memcpy(m + b.len - 20, e1, 20);
    m[b.len - 40 + 18] = 0x05;
    m[b.len - 20 + 18] = 0x04;
    commit_expect_corrupt(m, b.len, "strictly increasing", -1);
    /* Same replica, epochs in order: fine. */
    m[b.len - 20 + 18] = 0x06;
    ck_assert_int_eq(commit_decode_rc(m, b.len, NULL), 0);
    free(m);
    sn_buf_free(&b);

    /* Encode refuses a context that breaks the vector's invariants. */
    crdt_vv_entry *e = ch->ctx.e;
    crdt_vv_entry t = e[0];
    e[0] = e[1];
    e[1] = t;
    sn_buf_init(&b, 1 << 16);
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(schema_commit_encode(&g->c, &b, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "increasing origin order"));
    ck_assert_uint_eq(b.len, 0);
    e[1] = e[0];
    e[0] = t;
    e[1].seq = 0;
    sn_err_clear(&err);
    ck_assert_int_eq(schema_commit_encode(&g->c, &b, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "seq 0"));
    e[1].seq = 4;
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

START_TEST(test_codec_oversize_is_refused)
{
    static uint8_t big[SCHEMA_COMMIT_MAX + 2];
    memset(big, 'x', sizeof big);
    /* Decode refuses more than the limit before reading anything. */
    sn_err err = SN_ERR_INIT;
    schema_commit *d = NULL;
    ck_assert_int_eq(schema_commit_decode(big, SCHEMA_COMMIT_MAX + 1, &d, &err), SN_ECORRUPT);
    ck_assert_ptr_null(d);
    ck_assert_ptr_nonnull(strstr(err.msg, "57345 bytes, more than the limit of 57344"));
    sn_err_clear(&err);
    ck_assert_int_eq(schema_commit_peek(big, SCHEMA_COMMIT_MAX + 1, NULL, NULL, NULL, NULL, &err),
                     SN_ECORRUPT);

    /* Encode: find the text length that makes the body exactly the limit. */
    gen *g = gen_new(1);
    schema_change *ch = gen_set(g, 0, 5, 0, 4, schema_value_nil());
    sn_buf b;
    sn_buf_init(&b, 1 << 20);
    ch->value = (schema_value){.kind = SCHEMA_V_TEXT, .u.s = {big, 1000}};
    ck_assert_int_eq(schema_commit_encode(&g->c, &b, NULL), 0);
    size_t overhead = b.len - 1000; /* str 16 header included */
    size_t fit = SCHEMA_COMMIT_MAX - overhead;
    sn_buf_reset(&b);
    ch->value.u.s.n = fit;
    ck_assert_int_eq(schema_commit_encode(&g->c, &b, NULL), 0);
    ck_assert_uint_eq(b.len, SCHEMA_COMMIT_MAX);
    ck_assert_int_eq(commit_decode_rc(b.data, b.len, NULL), 0);
    ck_assert_int_eq(sn_buf_append(&b, "\xc0", 1, NULL), 0);
    commit_expect_corrupt(b.data, b.len, "more than the limit", -1);
    /* One byte more: refused, and the buffer is left as it was. */
    sn_buf_reset(&b);
    ck_assert_int_eq(sn_buf_append(&b, "ab", 2, NULL), 0);
    ch->value.u.s.n = fit + 1;
    ck_assert_int_eq(schema_commit_encode(&g->c, &b, &err), SN_ETOOBIG);
    ck_assert_uint_eq(b.len, 2);
    ch->value.u.s.n = sizeof big;
    sn_err_clear(&err);
    ck_assert_int_eq(schema_commit_encode(&g->c, &b, &err), SN_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "larger than 57344 bytes"));
    ck_assert_ptr_nonnull(strstr(err.hint, "smaller commits"));
    ck_assert_uint_eq(b.len, 2);
    gen_free(g);

    /* Many small changes add up too. */
    g = gen_new(SCHEMA_CHANGES_MAX);
    for (size_t i = 0; i < SCHEMA_CHANGES_MAX; i++)
        gen_set(g, i, 1, (uint8_t)i, 3, schema_value_text("a name"));
    sn_err_clear(&err);
    ck_assert_int_eq(schema_commit_encode(&g->c, &b, &err), SN_ETOOBIG);
    ck_assert_uint_eq(b.len, 2);
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

/* ---- faults ------------------------------------------------------------------------ */

static gen *gen_rich(void)
{
    gen *g = gen_new(4);
    snprintf(g->entered, sizeof g->entered, "admin");
    g->c.entered_by = g->entered;
    schema_change *ins = gen_insert(g, 0, 6, 1, 3);
    ins->fields[0] = (schema_field){1, schema_value_id(ID_A)};
    ins->fields[1] = (schema_field){2, schema_value_text("91936005")};
    ins->fields[2] = (schema_field){8, schema_value_text("unconfirmed")};
    schema_change *set = gen_set(g, 1, 6, 1, 7, schema_value_text("active"));
    for (uint8_t k = 0; k < 6; k++)
        gen_ctx_add(set, gen_origin(k, k), 10u + k);
    ins = gen_insert(g, 2, 1, 2, 2);
    ins->fields[0] = (schema_field){3, schema_value_text("Smith")};
    ins->fields[1] = (schema_field){5, schema_value_text("1990-01-01")};
    set = gen_set(g, 3, 1, 2, 4, schema_value_text("Ann"));
    gen_ctx_add(set, gen_origin(1, 0), 1);
    return g;
}

START_TEST(test_codec_decode_fault_loop)
{
    gen *g = gen_rich();
    sn_buf b;
    commit_encode_ok(&g->c, &b, -1);
    long base = sn_alloc_live();
    int faults = 0;
    for (int n = 0;; n++) {
        sn_err err = SN_ERR_INIT;
        schema_commit *d = NULL;
        sn_fault_arm(SN_FAULT_ALLOC, n, 1);
        int rc = schema_commit_decode(b.data, b.len, &d, &err);
        bool fired = sn_fault_disarm();
        if (!fired) {
            ck_assert_msg(rc == 0, "pass %d: %s", n, err.msg);
            schema_commit_free(d);
            ck_assert_int_eq(sn_alloc_live(), base);
            break;
        }
        faults++;
        ck_assert_msg(rc == SN_ENOMEM || rc == 0, "pass %d: rc %d (%s)", n, rc, err.msg);
        if (rc == SN_ENOMEM) {
            ck_assert_msg(err.msg[0] != '\0', "pass %d: no message", n);
            ck_assert_ptr_null(d);
        }
        schema_commit_free(d);
        ck_assert_msg(sn_alloc_live() == base, "pass %d: leak", n);
    }
    ck_assert_int_ge(faults, 5); /* commit, author, entered-by, changes, fields, ctx ... */
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

START_TEST(test_codec_encode_and_check_fault_loops)
{
    gen *g = gen_rich();
    long base = sn_alloc_live();
    for (int n = 0;; n++) {
        sn_err err = SN_ERR_INIT;
        sn_buf b;
        sn_buf_init(&b, 1 << 16);
        sn_fault_arm(SN_FAULT_ALLOC, n, 1);
        int rc = schema_commit_encode(&g->c, &b, &err);
        bool fired = sn_fault_disarm();
        sn_buf_free(&b);
        ck_assert_int_eq(sn_alloc_live(), base);
        if (!fired) {
            ck_assert_int_eq(rc, 0);
            break;
        }
        ck_assert_msg(rc == SN_ENOMEM && err.msg[0] != '\0', "pass %d: rc %d", n, rc);
    }
    for (int n = 0;; n++) {
        sn_err err = SN_ERR_INIT;
        bool unknown = true;
        sn_fault_arm(SN_FAULT_ALLOC, n, 1);
        int rc = schema_commit_check(&g->c, &unknown, &err);
        bool fired = sn_fault_disarm();
        ck_assert_int_eq(sn_alloc_live(), base);
        if (!fired) {
            ck_assert_msg(rc == 0, "%s", err.msg);
            ck_assert(!unknown);
            break;
        }
        ck_assert_msg(rc == SN_ENOMEM && err.msg[0] != '\0', "pass %d: rc %d", n, rc);
    }
    gen_free(g);
}
END_TEST

START_TEST(test_codec_existing_error_is_kept)
{
    /* The first failure wins: a decode error does not rewrite what err already holds. */
    sn_err err = SN_ERR_INIT;
    sn_err_set(&err, SN_EIO, "earlier failure");
    schema_commit *d = NULL;
    ck_assert_int_eq(schema_commit_decode((const uint8_t *)"\xc0", 1, &d, &err), SN_ECORRUPT);
    ck_assert_int_eq(err.code, SN_EIO);
    ck_assert_str_eq(err.msg, "earlier failure");
}
END_TEST

Suite *schema_hostile_suite(void);
Suite *schema_hostile_suite(void)
{
    Suite *s = suite_create("schema_hostile_suite");
    TCase *tc = tcase_create("hostile");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_codec_every_truncation_is_refused, 0, 20);
    tcase_add_loop_test(tc, test_codec_single_byte_mutations_never_crash, 0, 400);
    tcase_add_test(tc, test_codec_decode_refuses_malformed_header);
    tcase_add_test(tc, test_codec_decode_refuses_malformed_changes);
    tcase_add_test(tc, test_codec_trailing_elements_and_bytes);
    tcase_add_test(tc, test_codec_ctx_out_of_order_is_refused);
    tcase_add_test(tc, test_codec_oversize_is_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("faults");
    tcase_add_test(tc, test_codec_decode_fault_loop);
    tcase_add_test(tc, test_codec_encode_and_check_fault_loops);
    tcase_add_test(tc, test_codec_existing_error_is_kept);
    suite_add_tcase(s, tc);
    return s;
}
