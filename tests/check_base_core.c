/* tests/check_base_core.c - sn_err, sn_buf, the allocation fault injector, hex and hashes. */
#include <check.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/hash.h"
#include "tests/support.h"

/* ---- sn_err ---------------------------------------------------------------------------- */

START_TEST(test_err_first_failure_wins)
{
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(sn_err_set(&err, SN_EIO, "cannot read '%s': %s", "a.db", "disk gone"),
                     SN_EIO);
    /* A later failure reports its own code to its caller but does not replace the first. */
    ck_assert_int_eq(sn_err_set(&err, SN_ENOMEM, "out of memory"), SN_ENOMEM);
    ck_assert_int_eq(err.code, SN_EIO);
    ck_assert_str_eq(err.msg, "cannot read 'a.db': disk gone");
    ck_assert_int_eq(sn_err_set(NULL, SN_EINVAL, "nobody listens"), SN_EINVAL);
    sn_err_clear(&err);
    ck_assert_int_eq(err.code, 0);
    ck_assert_str_eq(err.msg, "");
    ck_assert_int_eq(sn_err_set(&err, SN_EBUSY, "locked"), SN_EBUSY);
    ck_assert_str_eq(err.msg, "locked");
}
END_TEST

START_TEST(test_err_prefix_prepends_context)
{
    sn_err err = SN_ERR_INIT;
    (void)sn_err_set(&err, SN_EAUTH, "bad signature");
    sn_err_prefix(&err, "push to peer %s", "hub");
    sn_err_prefix(&err, "sync");
    ck_assert_str_eq(err.msg, "sync: push to peer hub: bad signature");
    ck_assert_int_eq(err.code, SN_EAUTH);
    sn_err_prefix(NULL, "ignored");
}
END_TEST

START_TEST(test_err_hint_is_separate_from_message)
{
    sn_err err = SN_ERR_INIT;
    (void)sn_err_set(&err, SN_EBUSY, "cannot open store 'x': database is locked");
    sn_err_hint(&err, "stop the daemon or pass --store %s", "y");
    ck_assert_str_eq(err.hint, "stop the daemon or pass --store y");
    ck_assert_str_eq(err.msg, "cannot open store 'x': database is locked");
    sn_err_hint(NULL, "ignored");
    ck_assert_str_eq(sn_err_name(SN_ENOMEM), "ENOMEM");
    ck_assert_int_ne(sn_err_exit_status(SN_EIO), 0);
}
END_TEST

/* ---- sn_buf ---------------------------------------------------------------------------- */

START_TEST(test_buf_limit_gives_etoobig_and_keeps_contents)
{
    long base = sn_alloc_live();
    sn_buf b;
    sn_buf_init(&b, 8);
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(sn_buf_append_str(&b, "abcdef", &err), 0);
    ck_assert_int_eq(sn_buf_append(&b, "ghi", 3, &err), SN_ETOOBIG);
    ck_assert_int_eq(err.code, SN_ETOOBIG);
    ck_assert_str_ne(err.msg, "");
    ck_assert_uint_eq(b.len, 6);
    ck_assert_mem_eq(b.data, "abcdef", 6);
    /* Exactly at the limit is allowed. */
    ck_assert_int_eq(sn_buf_append(&b, "gh", 2, NULL), 0);
    ck_assert_uint_eq(b.len, 8);
    ck_assert_mem_eq(b.data, "abcdefgh", 8);
    ck_assert_int_eq(sn_buf_put_u16be(&b, 1, NULL), SN_ETOOBIG);
    ck_assert_uint_eq(b.len, 8);
    sn_buf_free(&b);
    ck_assert_int_eq(sn_alloc_live(), base);
}
END_TEST

START_TEST(test_buf_big_endian_and_format)
{
    sn_buf b;
    sn_buf_init(&b, 64);
    ck_assert_int_eq(sn_buf_put_u16be(&b, 0x0102, NULL), 0);
    ck_assert_int_eq(sn_buf_put_u32be(&b, 0x03040506, NULL), 0);
    ck_assert_int_eq(sn_buf_put_u64be(&b, 0x0708090a0b0c0d0eull, NULL), 0);
    static const uint8_t want[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    ck_assert_uint_eq(b.len, sizeof want);
    ck_assert_mem_eq(b.data, want, sizeof want);
    ck_assert_uint_eq(sn_load_u64be(b.data + 6), 0x0708090a0b0c0d0eull);
    ck_assert_int_eq(sn_buf_appendf(&b, NULL, "<%d>", 42), 0);
    ck_assert_mem_eq(b.data + sizeof want, "<42>", 4);
    size_t len;
    uint8_t *p = sn_buf_steal(&b, &len);
    ck_assert_uint_eq(len, sizeof want + 4);
    ck_assert_uint_eq(b.len, 0);
    sn_free(p);
    sn_buf_free(&b);
}
END_TEST

/* ---- allocation fault injector --------------------------------------------------------- */

START_TEST(test_alloc_fault_fires_exactly_the_nth_allocation)
{
    long base = sn_alloc_live();
    enum { ALLOCS = 6 };
    for (int n = 0; n < ALLOCS; n++) {
        void *p[ALLOCS];
        sn_fault_arm(SN_FAULT_ALLOC, n, 1);
        for (int k = 0; k < ALLOCS; k++)
            p[k] = sn_malloc(16);
        ck_assert_msg(sn_fault_disarm(), "fault armed at %d did not fire", n);
        for (int k = 0; k < ALLOCS; k++) {
            if (k == n)
                ck_assert_msg(p[k] == NULL, "allocation %d should have failed (armed %d)", k, n);
            else
                ck_assert_msg(p[k] != NULL, "allocation %d failed (armed %d)", k, n);
            sn_free(p[k]);
        }
        ck_assert_int_eq(sn_alloc_live(), base);
    }
    /* Armed past the last allocation: nothing fires. */
    sn_fault_arm(SN_FAULT_ALLOC, 3, 1);
    void *a = sn_malloc(1), *b = sn_calloc(2, 8);
    ck_assert(!sn_fault_disarm());
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    sn_free(a);
    sn_free(b);
    /* Disarmed: allocation works again and disarm reports nothing. */
    void *c = sn_malloc(8);
    ck_assert_ptr_nonnull(c);
    sn_free(c);
    ck_assert(!sn_fault_disarm());
    ck_assert_int_eq(sn_alloc_live(), base);
}
END_TEST

START_TEST(test_alloc_fault_persistent_and_realloc_keeps_block)
{
    long base = sn_alloc_live();
    char *p = sn_malloc(4);
    ck_assert_ptr_nonnull(p);
    memcpy(p, "abc", 4);
    sn_fault_arm(SN_FAULT_ALLOC, 1, -1);
    void *first = sn_malloc(1); /* hit 0 passes */
    ck_assert_ptr_nonnull(first);
    ck_assert_ptr_null(sn_realloc(p, 4096));
    ck_assert_ptr_null(sn_malloc(1));
    ck_assert_ptr_null(sn_strdup("x"));
    ck_assert(sn_fault_disarm());
    /* The failed realloc left the old block intact and still ours. */
    ck_assert_str_eq(p, "abc");
    sn_free(first);
    sn_free(p);
    ck_assert_int_eq(sn_alloc_live(), base);
    ck_assert_ptr_null(sn_mallocarray(SIZE_MAX / 2, 4));
}
END_TEST

/* ---- hex ------------------------------------------------------------------------------- */

START_TEST(test_hex_round_trip)
{
    test_rng r;
    test_rng_seed(&r, (uint64_t)_i);
    uint8_t in[40], back[40];
    size_t n = test_rng_below(&r, sizeof in + 1);
    test_rng_bytes(&r, in, n);
    char hex[2 * sizeof in + 1];
    sn_hex(hex, in, n);
    ck_assert_msg(strlen(hex) == 2 * n, "seed %d: hex length", _i);
    ck_assert_msg(strspn(hex, "0123456789abcdef") == 2 * n, "seed %d: not lower-case hex", _i);
    ck_assert_msg(sn_unhex(back, n, hex) == 0, "seed %d: unhex failed", _i);
    ck_assert_msg(n == 0 || memcmp(in, back, n) == 0, "seed %d: round trip differs", _i);
}
END_TEST

START_TEST(test_unhex_rejects_bad_digits_and_length)
{
    uint8_t out[4];
    ck_assert_int_eq(sn_unhex(out, 2, "0aFf"), 0);
    ck_assert_uint_eq(out[0], 0x0a);
    ck_assert_uint_eq(out[1], 0xff);
    ck_assert_int_eq(sn_unhex(out, 2, "0g00"), SN_EINVAL);
    ck_assert_int_eq(sn_unhex(out, 2, "00 0"), SN_EINVAL);
    ck_assert_int_eq(sn_unhex(out, 2, "000"), SN_EINVAL);   /* too short, odd */
    ck_assert_int_eq(sn_unhex(out, 2, "00"), SN_EINVAL);    /* too short */
    ck_assert_int_eq(sn_unhex(out, 2, "000000"), SN_EINVAL); /* too long */
    ck_assert_int_eq(sn_unhex(out, 0, ""), 0);
    ck_assert_int_eq(sn_unhex(out, 0, "a"), SN_EINVAL);
}
END_TEST

/* ---- hashes ---------------------------------------------------------------------------- */

START_TEST(test_blake2b_256_of_empty_string)
{
    uint8_t out[SN_BLAKE2B_256];
    sn_blake2b(out, sizeof out, "", 0);
    char hex[2 * SN_BLAKE2B_256 + 1];
    sn_hex(hex, out, sizeof out);
    ck_assert_str_eq(hex, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
}
END_TEST

START_TEST(test_blake2b_incremental_equals_one_shot)
{
    test_rng r;
    test_rng_seed(&r, (uint64_t)_i);
    uint8_t data[1000];
    size_t n = test_rng_below(&r, sizeof data + 1);
    test_rng_bytes(&r, data, n);
    uint8_t one[SN_BLAKE2B_256], inc[SN_BLAKE2B_256];
    sn_blake2b(one, sizeof one, data, n);
    sn_blake2b_state st;
    sn_blake2b_init(&st, sizeof inc);
    for (size_t off = 0; off < n;) {
        size_t k = 1 + test_rng_below(&r, 200);
        if (k > n - off)
            k = n - off;
        sn_blake2b_update(&st, data + off, k);
        off += k;
    }
    sn_blake2b_final(&st, inc, sizeof inc);
    ck_assert_msg(memcmp(one, inc, sizeof one) == 0, "seed %d: %zu bytes differ", _i, n);
}
END_TEST

static void xxh128_chunks(uint8_t out[16], const uint8_t *data, size_t n, test_rng *r)
{
    sn_xxh128_state *st = NULL;
    ck_assert_int_eq(sn_xxh128_new(&st, NULL), 0);
    for (size_t off = 0; off < n;) {
        size_t k = r == NULL ? n : 1 + test_rng_below(r, 300);
        if (k > n - off)
            k = n - off;
        sn_xxh128_update(st, data + off, k);
        off += k;
    }
    sn_xxh128_final(st, out);
    sn_xxh128_free(st);
}

START_TEST(test_xxh128_streaming_equals_chunked)
{
    long base = sn_alloc_live();
    test_rng r;
    test_rng_seed(&r, (uint64_t)_i);
    uint8_t data[2000];
    size_t n = test_rng_below(&r, sizeof data + 1);
    test_rng_bytes(&r, data, n);
    uint8_t whole[16], chunked[16];
    xxh128_chunks(whole, data, n, NULL);
    xxh128_chunks(chunked, data, n, &r);
    ck_assert_msg(memcmp(whole, chunked, 16) == 0, "seed %d: %zu bytes differ", _i, n);
    if (n > 0) {
        data[0] ^= 1;
        xxh128_chunks(chunked, data, n, &r);
        ck_assert_msg(memcmp(whole, chunked, 16) != 0, "seed %d: a flipped bit went unseen",
                      _i);
    }
    ck_assert_int_eq(sn_alloc_live(), base);
}
END_TEST

START_TEST(test_xxh128_new_reports_enomem)
{
    long base = sn_alloc_live();
    sn_xxh128_state *st = NULL;
    sn_err err = SN_ERR_INIT;
    sn_fault_arm(SN_FAULT_ALLOC, 0, 1);
    int rc = sn_xxh128_new(&st, &err);
    ck_assert(sn_fault_disarm());
    ck_assert_int_eq(rc, SN_ENOMEM);
    ck_assert_ptr_null(st);
    ck_assert_str_ne(err.msg, "");
    ck_assert_int_eq(sn_alloc_live(), base);
}
END_TEST

/* Listed in tests/check_main.c. */
Suite *base_core_suite(void);
Suite *base_core_suite(void)
{
    Suite *s = suite_create("base_core_suite");
    TCase *tc = tcase_create("err");
    tcase_add_test(tc, test_err_first_failure_wins);
    tcase_add_test(tc, test_err_prefix_prepends_context);
    tcase_add_test(tc, test_err_hint_is_separate_from_message);
    suite_add_tcase(s, tc);

    tc = tcase_create("buf");
    tcase_add_test(tc, test_buf_limit_gives_etoobig_and_keeps_contents);
    tcase_add_test(tc, test_buf_big_endian_and_format);
    suite_add_tcase(s, tc);

    tc = tcase_create("alloc");
    tcase_add_test(tc, test_alloc_fault_fires_exactly_the_nth_allocation);
    tcase_add_test(tc, test_alloc_fault_persistent_and_realloc_keeps_block);
    suite_add_tcase(s, tc);

    tc = tcase_create("hex");
    tcase_add_loop_test(tc, test_hex_round_trip, 0, 50);
    tcase_add_test(tc, test_unhex_rejects_bad_digits_and_length);
    suite_add_tcase(s, tc);

    tc = tcase_create("hash");
    tcase_add_test(tc, test_blake2b_256_of_empty_string);
    tcase_add_loop_test(tc, test_blake2b_incremental_equals_one_shot, 0, 50);
    tcase_add_loop_test(tc, test_xxh128_streaming_equals_chunked, 0, 50);
    tcase_add_test(tc, test_xxh128_new_reports_enomem);
    suite_add_tcase(s, tc);
    return s;
}
