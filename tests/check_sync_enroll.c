/* tests/check_sync_enroll.c - enrolment requests (round trip, strict parsing, proof of
 * possession) and fingerprints (format, check characters, known answers). */
#include <check.h>
#include <string.h>

#include "base/alloc.h"
#include "sync/enroll.h"

#define NAME "Ship \xE2\x80\x9CMercy\xE2\x80\x9D bay 2" /* curly quotes */

static const uint8_t replica[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static sync_keys keys_new(void)
{
    sync_keys k;
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_keys_generate(&k, &err) == 0, "keys: %s", err.msg);
    return k;
}

static void request_bytes(const sync_keys *k, sync_enroll_request *r, sn_buf *b)
{
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_enroll_request_make(r, k, replica, 3, NAME, &err) == 0, "make: %s",
                  err.msg);
    sn_buf_init(b, 1024);
    ck_assert_msg(sync_enroll_request_encode(r, b, &err) == 0, "encode: %s", err.msg);
}

static int parse_rc(const uint8_t *p, size_t n, sn_err *err)
{
    sync_enroll_request r;
    return sync_enroll_request_parse(p, n, &r, err);
}

START_TEST(test_enroll_round_trip)
{
    sync_keys k = keys_new();
    sync_enroll_request r, back, again;
    sn_buf b;
    request_bytes(&k, &r, &b);
    ck_assert_uint_eq(b.len, 141 + strlen(NAME) + 64);
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_enroll_request_parse(b.data, b.len, &back, &err) == 0, "parse: %s",
                  err.msg);
    ck_assert_mem_eq(back.nonce, r.nonce, 16);
    ck_assert_mem_eq(back.sig, r.sig, SYNC_SIG_LEN);
    ck_assert_mem_eq(back.sign_pk, k.sign_pk, SYNC_SIGN_PK_LEN);
    ck_assert_mem_eq(back.noise_pk, k.noise_pk, SYNC_X25519_LEN);
    ck_assert_mem_eq(back.box_pk, k.box_pk, SYNC_X25519_LEN);
    ck_assert_mem_eq(back.replica, replica, 16);
    ck_assert_uint_eq(back.epoch, 3);
    ck_assert_str_eq(back.name, NAME);
    /* A fresh nonce each time. */
    ck_assert_int_eq(sync_enroll_request_make(&again, &k, replica, 3, NAME, &err), 0);
    ck_assert(memcmp(again.nonce, r.nonce, 16) != 0);
    /* An empty name is fine. */
    ck_assert_int_eq(sync_enroll_request_make(&again, &k, replica, 0, "", &err), 0);
    sn_buf_free(&b);
    sync_keys_wipe(&k);
}
END_TEST

START_TEST(test_enroll_make_refuses_bad_input)
{
    sync_keys k = keys_new();
    sync_enroll_request r;
    sn_err err = SN_ERR_INIT;
    char long_name[66];
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    ck_assert_int_eq(sync_enroll_request_make(&r, &k, replica, 1, long_name, &err), SN_EINVAL);
    ck_assert_int_eq(sync_enroll_request_make(&r, &k, replica, 1, "a\xFF", &err), SN_EINVAL);
    ck_assert_int_eq(sync_enroll_request_make(&r, &k, replica, 1, "a\nb", &err), SN_EINVAL);
    sync_keys other = keys_new();
    memcpy(k.sign_pk, other.sign_pk, SYNC_SIGN_PK_LEN); /* pk no longer matches sk */
    sn_err_clear(&err);
    ck_assert_int_eq(sync_enroll_request_make(&r, &k, replica, 1, "x", &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "key"));
    sync_keys_wipe(&k);
    sync_keys_wipe(&other);
}
END_TEST

START_TEST(test_enroll_proof_of_possession)
{
    sync_keys k = keys_new(), other = keys_new();
    sync_enroll_request r;
    sn_buf b;
    request_bytes(&k, &r, &b);
    sn_err err = SN_ERR_INIT;

    /* Re-signed by another key while still claiming k's signing key: refused. */
    sync_sign(b.data + b.len - SYNC_SIG_LEN, "SNQ1-request", b.data, b.len - SYNC_SIG_LEN,
              other.sign_sk);
    ck_assert_int_eq(parse_rc(b.data, b.len, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "proof of possession"));
    /* Signed under another domain string: refused. */
    sync_sign(b.data + b.len - SYNC_SIG_LEN, "SNC1-cert", b.data, b.len - SYNC_SIG_LEN,
              k.sign_sk);
    ck_assert_int_eq(parse_rc(b.data, b.len, &err), SN_EAUTH);
    /* Re-signed by the right key: accepted (the test above can fail). */
    sync_sign(b.data + b.len - SYNC_SIG_LEN, "SNQ1-request", b.data, b.len - SYNC_SIG_LEN,
              k.sign_sk);
    sn_err_clear(&err);
    ck_assert_msg(parse_rc(b.data, b.len, &err) == 0, "%s", err.msg);

    /* Any single bit changed anywhere: refused, by the parser or by the signature. */
    for (size_t bit = 0; bit < b.len * 8; bit++) {
        b.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        sn_err_clear(&err);
        int rc = parse_rc(b.data, b.len, &err);
        ck_assert_msg(rc == SN_EAUTH || rc == SN_ECORRUPT || rc == SN_EVERSION,
                      "bit %zu: %d", bit, rc);
        ck_assert_msg(err.msg[0] != '\0', "bit %zu: no message", bit);
        b.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    sn_buf_free(&b);
    sync_keys_wipe(&k);
    sync_keys_wipe(&other);
}
END_TEST

START_TEST(test_enroll_parse_is_strict)
{
    sync_keys k = keys_new();
    sync_enroll_request r;
    sn_buf b;
    request_bytes(&k, &r, &b);
    uint8_t p[512];
    size_t n = b.len;
    memcpy(p, b.data, n);
    sn_err err = SN_ERR_INIT;
    for (size_t len = 0; len < n; len++) {
        sn_err_clear(&err);
        ck_assert_msg(parse_rc(p, len, &err) == SN_ECORRUPT, "length %zu", len);
    }
    p[n] = 0;
    ck_assert_int_eq(parse_rc(p, n + 1, &err), SN_ECORRUPT);
    struct {
        size_t off;
        uint8_t val;
        int rc;
        const char *word;
    } bad[] = {
        {4, 2, SN_EVERSION, "version 2"},   {4, 0, SN_ECORRUPT, "version"},
        {3, '2', SN_ECORRUPT, "magic"},     {7, 1, SN_ECORRUPT, "reserved"},
        {140, 65, SN_ECORRUPT, "64"},       {141, 0xC0, SN_ECORRUPT, "UTF-8"},
        {141, 0x07, SN_ECORRUPT, "control"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t keep = p[bad[i].off];
        p[bad[i].off] = bad[i].val;
        sn_err_clear(&err);
        ck_assert_msg(parse_rc(p, n, &err) == bad[i].rc, "case %zu", i);
        ck_assert_msg(strstr(err.msg, bad[i].word) != NULL, "case %zu: '%s'", i, err.msg);
        p[bad[i].off] = keep;
    }
    sn_err_clear(&err);
    ck_assert_msg(parse_rc(p, n, &err) == 0, "%s", err.msg);
    sn_buf_free(&b);
    sync_keys_wipe(&k);
}
END_TEST

/* An independent Luhn mod 32 (Syncthing's variant) to check the fingerprint with. */
static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static char check_char(const char *s, size_t n)
{
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        const char *at = strchr(alphabet, s[i]);
        ck_assert_ptr_nonnull(at);
        int v = (int)(at - alphabet) * (i % 2 == 0 ? 1 : 2);
        sum += v / 32 + v % 32;
    }
    return alphabet[(32 - sum % 32) % 32];
}

/* The format: 8 groups joined by '-', 7 digits + check (the last 3 + check). */
static void assert_well_formed(const char *fp)
{
    ck_assert_uint_eq(strlen(fp), 67);
    for (size_t g = 0; g < 8; g++) {
        const char *grp = fp + 9 * g;
        size_t digits = g < 7 ? 7 : 3;
        if (g < 7)
            ck_assert_int_eq(grp[8], '-');
        ck_assert_msg(grp[digits] == check_char(grp, digits), "group %zu of %s", g, fp);
    }
}

START_TEST(test_fingerprint_format_and_known_answers)
{
    char fp[SYNC_FINGERPRINT_MAX], fp2[SYNC_FINGERPRINT_MAX];
    ck_assert_int_eq(check_char("AB725E4GHIQPL3ZFGT", 18), 'G'); /* Syncthing's test vector */
    /* Computed outside this project (Python hashlib.blake2b, base64.b32encode). */
    sync_fingerprint(fp, (const uint8_t *)"", 0);
    ck_assert_str_eq(fp, "BZLVDQBR-G4VB3F2L-FLF2YGBG-GO2UHI6G-LX2HO6HM-XPB72VNZ-C434JP4O-OUAJ");
    sync_fingerprint(fp, (const uint8_t *)"outpost", 7);
    ck_assert_str_eq(fp, "TJHVUKBA-GYHVRUTK-3LB63PNL-MWWSL6G6-TIJZWHHW-RZRVUV2H-DR367O4L-KSQB");
    assert_well_formed(fp);

    /* Deterministic, and a one-bit change of the input changes it. */
    sync_keys k = keys_new();
    sync_enroll_request r;
    sn_buf b;
    request_bytes(&k, &r, &b);
    sync_fingerprint(fp, b.data, b.len);
    sync_fingerprint(fp2, b.data, b.len);
    ck_assert_str_eq(fp, fp2);
    assert_well_formed(fp);
    for (size_t bit = 0; bit < b.len * 8; bit += 37) {
        b.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        sync_fingerprint(fp2, b.data, b.len);
        ck_assert_msg(strcmp(fp, fp2) != 0, "bit %zu", bit);
        assert_well_formed(fp2);
        b.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }

    /* Any one character mistyped in a group is caught by that group's check character. */
    for (size_t g = 0; g < 8; g++) {
        size_t digits = g < 7 ? 7 : 3;
        char grp[8];
        memcpy(grp, fp + 9 * g, digits);
        for (size_t i = 0; i < digits; i++) {
            char keep = grp[i];
            for (const char *c = alphabet; *c; c++) {
                if (*c == keep)
                    continue;
                grp[i] = *c;
                ck_assert_msg(check_char(grp, digits) != fp[9 * g + digits], "group %zu pos %zu",
                              g, i);
            }
            grp[i] = keep;
        }
    }
    sn_buf_free(&b);
    sync_keys_wipe(&k);
}
END_TEST

Suite *sync_enroll_suite(void);
Suite *sync_enroll_suite(void)
{
    Suite *s = suite_create("sync_enroll_suite");
    TCase *tc = tcase_create("request");
    tcase_add_test(tc, test_enroll_round_trip);
    tcase_add_test(tc, test_enroll_make_refuses_bad_input);
    tcase_add_test(tc, test_enroll_proof_of_possession);
    tcase_add_test(tc, test_enroll_parse_is_strict);
    suite_add_tcase(s, tc);

    tc = tcase_create("fingerprint");
    tcase_add_test(tc, test_fingerprint_format_and_known_answers);
    suite_add_tcase(s, tc);
    return s;
}
