/* tests/check_schema_nhs.c - the NHS number check digit (modulus 11, DOMAIN.md section 2):
 * the worked examples of the domain table, separators, the C = 10 and C = 11 rules, wrong
 * lengths and letters, and a seeded comparison with an independent computation. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "schema/nhs.h"
#include "schema/schema.h"
#include "tests/support.h"

/* `text` is valid and its ten digits, NUL-terminated, land in `out`. */
static void expect_valid(const char *text, const char *digits)
{
    sn_err err = SN_ERR_INIT;
    char out[11];
    memset(out, 'Z', sizeof out);
    int rc = schema_nhs_number_check(text, out, &err);
    ck_assert_msg(rc == 0, "'%s': %s (%s)", text, sn_err_name(rc), err.msg);
    ck_assert_msg(out[10] == '\0' && strcmp(out, digits) == 0, "'%s' gave digits '%.11s'", text,
                  out);
}

/* `text` is refused with SN_EINVAL and a message quoting it and holding `says`. */
static void expect_invalid(const char *text, const char *says)
{
    sn_err err = SN_ERR_INIT;
    char out[11];
    int rc = schema_nhs_number_check(text, out, &err);
    ck_assert_msg(rc == SN_EINVAL, "'%s': got %s, want EINVAL", text, sn_err_name(rc));
    ck_assert_int_eq(err.code, SN_EINVAL);
    ck_assert_msg(strstr(err.msg, says) != NULL, "'%s': message '%s' lacks '%s'", text,
                  err.msg, says);
    ck_assert_msg(strstr(err.msg, text) != NULL, "'%s': message '%s' does not quote it", text,
                  err.msg);
}

/* ===== the domain table ================================================================ */

/* The schema itself refuses a bad NHS number at local write, whoever writes it; a foreign
 * commit is only kind-checked (apply never rejects for what depends on local rules). */
START_TEST(test_nhs_checked_by_the_schema_at_local_write)
{
    const schema_table *t = schema_table_by_name("patient");
    const schema_column *c = schema_column_by_name(t, "nhs_number");
    sn_err err = SN_ERR_INIT;
    schema_value good = schema_value_text("9434765919"), bad = schema_value_text("9434765918"),
                 spaced = schema_value_text("943 476 5919");
    ck_assert_int_eq(schema_value_validate(t, c, &good, true, &err), 0);
    ck_assert_int_eq(schema_value_validate(t, c, &bad, true, &err), SN_EINVAL);
    ck_assert_msg(strstr(err.msg, "patient.nhs_number") != NULL &&
                      strstr(err.msg, "check digit should be 9") != NULL, "%s", err.msg);
    sn_err_clear(&err);
    ck_assert_int_eq(schema_value_validate(t, c, &spaced, true, &err), SN_EINVAL);
    sn_err_clear(&err);
    ck_assert_int_eq(schema_value_validate(t, c, &bad, false, &err), 0);
}
END_TEST

START_TEST(test_nhs_domain_valid_numbers)
{
    static const char *const valid[] = {"9434765919", "9000000009", "4010232137", "9876543210",
                                        "9000000017"};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        expect_valid(valid[i], valid[i]);
}
END_TEST

START_TEST(test_nhs_spaces_and_hyphens_between_digits)
{
    expect_valid("943 476 5919", "9434765919");
    expect_valid("943-476-5919", "9434765919");
    expect_valid("900-000-0009", "9000000009");
    expect_valid("401 023-2137", "4010232137");
    expect_valid("9 8 7 6 5 4 3 2 1 0", "9876543210");
    /* Separators count for nothing: they never make up for a missing digit. */
    expect_invalid("943 476 591", "10 digits");
    expect_invalid("943-476-59190", "10 digits");
}
END_TEST

/* 9434765918: S = 299, S mod 11 = 2, C = 9; the message gives the right check digit. */
START_TEST(test_nhs_wrong_last_digit_names_the_right_one)
{
    expect_invalid("9434765918", "should be 9");
    expect_invalid("943 476 5918", "should be 9");
    /* 9437465919 (digits 4 and 5 swapped): S = 302, C = 6. */
    expect_invalid("9437465919", "should be 6");
    /* 9876543211: C = 11 reads as 0, so only 0 is right. */
    expect_invalid("9876543211", "should be 0");
}
END_TEST

/* 1234567890: S = 210, R = 1, C = 10: no number with these nine digits is valid. */
START_TEST(test_nhs_check_digit_ten_never_valid)
{
    expect_invalid("1234567890", "no check digit exists");
    expect_invalid("1234567891", "no check digit exists");
}
END_TEST

/* 900000005x: S = 100, R = 1, C = 10, for every final digit x. */
START_TEST(test_nhs_900000005x_invalid_for_every_x)
{
    char text[11];
    snprintf(text, sizeof text, "900000005%d", _i);
    expect_invalid(text, "no check digit exists");
}
END_TEST

START_TEST(test_nhs_zeros_pass_the_checksum)
{
    /* Unallocated, but the checksum alone accepts it (range checks are separate). */
    expect_valid("0000000000", "0000000000");
}
END_TEST

/* ===== malformed input ================================================================= */

START_TEST(test_nhs_wrong_lengths_refused)
{
    static const char *const bad[] = {"",           "   ",         "943476591",
                                      "94347659199", "9",           "94347659190000000000",
                                      "- - -",      "943 476 59 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_invalid(bad[i], "exactly 10 digits");
}
END_TEST

START_TEST(test_nhs_letters_and_other_characters_refused)
{
    static const char *const bad[] = {"94347659A9", "abcdefghij", "943476591O", "+9434765919",
                                      "9434765919.", "943_476_5919", "943\t476\t5919",
                                      "9434765919\n", "９434765919"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_invalid(bad[i], "exactly 10 digits");
}
END_TEST

START_TEST(test_nhs_refusal_says_what_is_allowed)
{
    sn_err err = SN_ERR_INIT;
    char out[11];
    ck_assert_int_eq(schema_nhs_number_check("12345", out, &err), SN_EINVAL);
    ck_assert_msg(err.hint[0] != '\0', "no hint for a short number");
    /* err may be NULL: the code alone still comes back. */
    ck_assert_int_eq(schema_nhs_number_check("12345", out, NULL), SN_EINVAL);
    ck_assert_int_eq(schema_nhs_number_check("9434765918", out, NULL), SN_EINVAL);
    ck_assert_int_eq(schema_nhs_number_check("9434765919", out, NULL), 0);
}
END_TEST

/* ===== an independent computation ===================================================== */

/* C = 11 - (S mod 11) over weights 10..2; -1 when C = 10 (no check digit exists). */
static int expected_check(const char d[9])
{
    int s = 0;
    for (int i = 0; i < 9; i++)
        s += (10 - i) * (d[i] - '0');
    int c = 11 - s % 11;
    return c == 11 ? 0 : c == 10 ? -1 : c;
}

/* For random nine-digit prefixes, exactly the computed final digit is accepted (none when
 * C = 10), and the refusal names it. Seed = _i. */
START_TEST(test_nhs_matches_independent_computation)
{
    test_rng rng;
    test_rng_seed(&rng, (uint64_t)_i);
    for (int k = 0; k < 200; k++) {
        char text[11];
        for (int i = 0; i < 9; i++)
            text[i] = (char)('0' + test_rng_below(&rng, 10));
        text[10] = '\0';
        int want = expected_check(text);
        for (int last = 0; last < 10; last++) {
            text[9] = (char)('0' + last);
            sn_err err = SN_ERR_INIT;
            char out[11];
            int rc = schema_nhs_number_check(text, out, &err);
            ck_assert_msg((rc == 0) == (last == want), "seed %d: '%s' gave %s, check digit %d",
                          _i, text, sn_err_name(rc), want);
            if (rc == 0) {
                ck_assert_msg(strcmp(out, text) == 0, "seed %d: '%s' -> '%s'", _i, text, out);
            } else if (want < 0) {
                ck_assert_msg(strstr(err.msg, "no check digit exists") != NULL, "seed %d: %s", _i,
                              err.msg);
            } else {
                char says[32];
                snprintf(says, sizeof says, "should be %d", want);
                ck_assert_msg(strstr(err.msg, says) != NULL, "seed %d: '%s' lacks '%s'", _i,
                              err.msg, says);
            }
        }
    }
}
END_TEST

Suite *schema_nhs_suite(void);
Suite *schema_nhs_suite(void)
{
    Suite *s = suite_create("schema_nhs_suite");
    TCase *tc = tcase_create("domain_table");
    tcase_add_test(tc, test_nhs_domain_valid_numbers);
    tcase_add_test(tc, test_nhs_checked_by_the_schema_at_local_write);
    tcase_add_test(tc, test_nhs_spaces_and_hyphens_between_digits);
    tcase_add_test(tc, test_nhs_wrong_last_digit_names_the_right_one);
    tcase_add_test(tc, test_nhs_check_digit_ten_never_valid);
    tcase_add_loop_test(tc, test_nhs_900000005x_invalid_for_every_x, 0, 10);
    tcase_add_test(tc, test_nhs_zeros_pass_the_checksum);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_test(tc, test_nhs_wrong_lengths_refused);
    tcase_add_test(tc, test_nhs_letters_and_other_characters_refused);
    tcase_add_test(tc, test_nhs_refusal_says_what_is_allowed);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_add_loop_test(tc, test_nhs_matches_independent_computation, 0, 8);
    suite_add_tcase(s, tc);
    return s;
}
