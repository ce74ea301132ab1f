/* tests/check_schema_value.c - the schema tables, value validation and parsing, record ids
 * and ranks; the canonical value bytes test case is in check_schema_value_bytes.c. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "schema/schema.h"
#include "schema/value.h"

static const schema_table *table(const char *name)
{
    const schema_table *t = schema_table_by_name(name);
    ck_assert_msg(t != NULL, "no table %s", name);
    return t;
}

static const schema_column *column(const char *tname, const char *cname)
{
    const schema_column *c = schema_column_by_name(table(tname), cname);
    ck_assert_msg(c != NULL, "no column %s.%s", tname, cname);
    return c;
}

static bool in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* ---- tables and columns ------------------------------------------------------------ */

START_TEST(test_table_lookup_by_id_and_name)
{
    static const char *const names[] = {"patient",   "patient_identifier", "patient_link",
                                        "encounter", "clinical_note",      "allergy",
                                        "condition", "observation",        "retraction"};
    ck_assert_uint_eq(schema_table_count(), 9);
    for (size_t i = 0; i < 9; i++) {
        const schema_table *t = schema_table_at(i);
        ck_assert_ptr_nonnull(t);
        ck_assert_uint_eq(t->id, i + 1);
        ck_assert_str_eq(t->name, names[i]);
        ck_assert_ptr_eq(schema_table_by_id(t->id), t);
        ck_assert_ptr_eq(schema_table_by_name(names[i]), t);
        ck_assert_msg(t->help != NULL && t->help[0] != '\0', "%s has no help", t->name);
    }
    ck_assert_ptr_null(schema_table_at(9));
    ck_assert_ptr_null(schema_table_by_id(0));
    ck_assert_ptr_null(schema_table_by_id(10));
    ck_assert_ptr_null(schema_table_by_id(SCHEMA_REF_ANY));
    ck_assert_ptr_null(schema_table_by_name("medication"));
    ck_assert_ptr_null(schema_table_by_name(""));
}
END_TEST

START_TEST(test_column_lookup_by_id_name_and_index)
{
    const schema_table *t = table("allergy");
    const schema_column *c = schema_column_by_name(t, "verification");
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(c->id, 8);
    ck_assert_ptr_eq(schema_column_by_id(t, 8), c);
    ck_assert_int_eq(schema_column_index(t, 8), 7);
    ck_assert_int_eq(schema_column_index(t, 1), 0);
    ck_assert_int_eq(schema_column_index(t, 12), 11);
    ck_assert_int_eq(schema_column_index(t, 13), -1);
    ck_assert_int_eq(schema_column_index(t, 0), -1);
    ck_assert_ptr_null(schema_column_by_id(t, 99));
    ck_assert_ptr_null(schema_column_by_name(t, "verified"));
    for (size_t i = 0; i < schema_table_count(); i++) {
        const schema_table *tt = schema_table_at(i);
        for (size_t j = 0; j < tt->ncols; j++) {
            ck_assert_ptr_eq(schema_column_by_id(tt, tt->cols[j].id), &tt->cols[j]);
            ck_assert_ptr_eq(schema_column_by_name(tt, tt->cols[j].name), &tt->cols[j]);
            ck_assert_int_eq(schema_column_index(tt, tt->cols[j].id), (int)j);
        }
    }
}
END_TEST

START_TEST(test_every_table_has_increasing_unique_column_ids)
{
    for (size_t i = 0; i < schema_table_count(); i++) {
        const schema_table *t = schema_table_at(i);
        ck_assert_msg(t->ncols > 0, "%s has no columns", t->name);
        for (size_t j = 0; j < t->ncols; j++) {
            ck_assert_msg(t->cols[j].id >= 1, "%s column %zu has id 0", t->name, j);
            if (j > 0)
                ck_assert_msg(t->cols[j].id > t->cols[j - 1].id, "%s.%s: ids not increasing",
                              t->name, t->cols[j].name);
            for (size_t k = 0; k < j; k++)
                ck_assert_msg(strcmp(t->cols[j].name, t->cols[k].name) != 0,
                              "%s.%s appears twice", t->name, t->cols[j].name);
        }
    }
}
END_TEST

START_TEST(test_columns_are_consistent)
{
    for (size_t i = 0; i < schema_table_count(); i++) {
        const schema_table *t = schema_table_at(i);
        for (size_t j = 0; j < t->ncols; j++) {
            const schema_column *c = &t->cols[j];
            ck_assert_msg(c->help != NULL && c->help[0] != '\0', "%s.%s: no help", t->name,
                          c->name);
            ck_assert_msg((c->type == SCHEMA_T_CODE) == (c->codes != NULL),
                          "%s.%s: codes go with code columns", t->name, c->name);
            ck_assert_msg((c->type == SCHEMA_T_REF) == (c->ref_table != 0),
                          "%s.%s: ref_table goes with id columns", t->name, c->name);
            if (c->type == SCHEMA_T_REF && c->ref_table != SCHEMA_REF_ANY)
                ck_assert_ptr_nonnull(schema_table_by_id(c->ref_table));
            if (c->kind == SCHEMA_FIXED) {
                ck_assert_msg(c->policy == SCHEMA_POLICY_NONE && c->rank == NULL,
                              "%s.%s: fixed columns have no policy or rank", t->name, c->name);
                continue;
            }
            ck_assert_int_eq(c->kind, SCHEMA_MV);
            ck_assert_msg(c->display == CRDT_DISPLAY_LATEST || c->display == CRDT_DISPLAY_RANKED,
                          "%s.%s: display", t->name, c->name);
            ck_assert_msg(c->policy == SCHEMA_POLICY_AUTO || c->policy == SCHEMA_POLICY_REVIEW,
                          "%s.%s: policy", t->name, c->name);
            ck_assert_msg((c->display == CRDT_DISPLAY_RANKED) == (c->rank != NULL),
                          "%s.%s: ranked columns and only they have an order", t->name, c->name);
            for (size_t k = 0; c->rank != NULL && c->rank[k] != NULL; k++) {
                ck_assert_msg(in_list(c->codes, c->rank[k]), "%s.%s: rank value %s not a code",
                              t->name, c->name, c->rank[k]);
                ck_assert_msg(!in_list(c->rank + k + 1, c->rank[k]), "%s.%s: %s ranked twice",
                              t->name, c->name, c->rank[k]);
            }
        }
        /* The patient column is a required reference to a patient (the target of a
         * retraction may be anything, so its patient column is optional). */
        if (t->patient_col == 0) {
            ck_assert_str_eq(t->name, "patient");
        } else {
            const schema_column *pc = schema_column_by_id(t, t->patient_col);
            ck_assert_ptr_nonnull(pc);
            ck_assert_str_eq(pc->name, "patient_id");
            ck_assert_int_eq(pc->type, SCHEMA_T_REF);
            ck_assert_uint_eq(pc->ref_table, 1);
            ck_assert_int_eq(pc->kind, SCHEMA_FIXED);
        }
    }
}
END_TEST

START_TEST(test_schema_matches_the_agreed_ids)
{
    /* Spot checks of ids and kinds that other nodes rely on forever. */
    const schema_column *c = column("encounter", "status");
    ck_assert_uint_eq(c->id, 2);
    ck_assert_int_eq(c->display, CRDT_DISPLAY_RANKED);
    ck_assert_int_eq(c->policy, SCHEMA_POLICY_REVIEW);
    ck_assert_str_eq(c->rank[0], "entered-in-error");
    c = column("allergy", "severity");
    ck_assert_uint_eq(c->id, 10);
    ck_assert_int_eq(c->policy, SCHEMA_POLICY_AUTO);
    c = column("patient", "nhs_number_status");
    ck_assert_uint_eq(c->id, 2);
    ck_assert_str_eq(c->codes[0], "01");
    ck_assert_str_eq(c->codes[7], "08");
    ck_assert_ptr_null(c->codes[8]);
    c = column("patient", "family");
    ck_assert(c->required);
    ck_assert_uint_eq(column("retraction", "target_id")->ref_table, SCHEMA_REF_ANY);
    ck_assert_uint_eq(table("retraction")->patient_col, 3);
    ck_assert_uint_eq(column("condition", "encounter_id")->id, 10);
    ck_assert_uint_eq(column("condition", "encounter_id")->ref_table, 4);
    ck_assert_int_eq(column("observation", "value_num")->type, SCHEMA_T_REAL);
    ck_assert_int_eq(column("observation", "effective")->type, SCHEMA_T_DATETIME);
    ck_assert_int_eq(schema_type_vkind(SCHEMA_T_DATE), SCHEMA_V_TEXT);
    ck_assert_int_eq(schema_type_vkind(SCHEMA_T_REF), SCHEMA_V_ID);
    ck_assert_int_eq(schema_type_vkind(SCHEMA_T_REAL), SCHEMA_V_REAL);
    ck_assert_int_eq(schema_type_vkind(SCHEMA_T_INT), SCHEMA_V_INT);
    ck_assert_str_eq(schema_type_name(SCHEMA_T_DATETIME), "datetime");
}
END_TEST

/* ---- dates ------------------------------------------------------------------------- */

static bool date_ok(const char *s) { return schema_date_is_valid(s, strlen(s)); }
static bool datetime_ok(const char *s) { return schema_datetime_is_valid(s, strlen(s)); }

START_TEST(test_dates_are_real_calendar_days)
{
    static const char *const good[] = {"2024-02-29", "2000-02-29", "2023-02-28", "1999-12-31",
                                       "0001-01-01", "9999-12-31", "2024-04-30"};
    static const char *const bad[] = {"2023-02-29", "1900-02-29", "2024-13-01", "2024-00-10",
                                      "2024-04-31", "2024-01-00", "2024-01-32", "0000-01-01",
                                      "2024-1-01",  "24-01-01",   "2024/01/01", "2024-01-01T",
                                      "",           "2024-0a-01", "+024-01-01"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(date_ok(good[i]), "%s should be a date", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!date_ok(bad[i]), "%s should not be a date", bad[i]);
    /* Length is what counts, not a NUL. */
    ck_assert(schema_date_is_valid("2024-02-29garbage", 10));
}
END_TEST

START_TEST(test_datetimes)
{
    static const char *const good[] = {
        "2024-02-29T10:30",        "2024-02-29T10:30:15",       "2024-02-29T10:30:15.123",
        "2024-02-29T10:30:15.1Z",  "2024-02-29T10:30Z",         "2024-02-29T10:30+01:00",
        "2024-02-29T23:59:59-05:30", "2024-02-29T00:00:00.123456789+14:00"};
    static const char *const bad[] = {
        "2024-02-29",           "2024-02-29 10:30",       "2024-02-29T24:00",
        "2024-02-29T10:60",     "2024-02-29T10:30:60",    "2024-02-30T10:30",
        "2023-02-29T10:30",     "2024-02-29T10:30:15.",   "2024-02-29T10:30+0100",
        "2024-02-29T10:30Z+",   "2024-02-29T10:30:1",     "2024-02-29T10:30+01",
        "2024-02-29T10",        "2024-02-29t10:30",       "2024-02-29T10:30z",
        "2024-02-29T10:30.5",   "2024-02-29T10:30:15.1234567890",
        "2024-02-29T10:30:15+24:00"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(datetime_ok(good[i]), "%s should be a datetime", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!datetime_ok(bad[i]), "%s should not be a datetime", bad[i]);
}
END_TEST

/* ---- parse and validate ------------------------------------------------------------ */

static int parse(const char *tname, const char *cname, const char *text, schema_value *v,
                 sn_err *err)
{
    return schema_value_parse(table(tname), column(tname, cname), text, v, err);
}

static int validate(const char *tname, const char *cname, const schema_value *v, bool local,
                    sn_err *err)
{
    return schema_value_validate(table(tname), column(tname, cname), v, local, err);
}

START_TEST(test_parse_dates_with_messages)
{
    sn_err err = SN_ERR_INIT;
    schema_value v;
    ck_assert_int_eq(parse("patient", "birth_date", "1990-13-01", &v, &err), SN_EINVAL);
    ck_assert_str_eq(err.msg, "patient.birth_date: '1990-13-01' is not a date (expected "
                              "YYYY-MM-DD)");
    sn_err_clear(&err);
    ck_assert_int_eq(parse("patient", "birth_date", "2023-02-29", &v, &err), SN_EINVAL);
    sn_err_clear(&err);
    ck_assert_int_eq(parse("patient", "birth_date", "2024-02-29", &v, &err), 0);
    ck_assert_int_eq(v.kind, SCHEMA_V_TEXT);
    ck_assert_uint_eq(v.u.s.n, 10);
    ck_assert_int_eq(validate("patient", "birth_date", &v, true, &err), 0);
    ck_assert_int_eq(parse("encounter", "start", "2024-02-29T09:15:00Z", &v, &err), 0);
    ck_assert_int_eq(parse("encounter", "start", "2024-02-29 09:15", &v, &err), SN_EINVAL);
    ck_assert_msg(strstr(err.msg, "encounter.start: '2024-02-29 09:15' is not a date and time") ==
                      err.msg,
                  "%s", err.msg);
    /* Validate checks dates too, at local write only. */
    schema_value bad = schema_value_text("2024-13-01");
    sn_err_clear(&err);
    ck_assert_int_eq(validate("patient", "birth_date", &bad, true, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "is not a date"));
    ck_assert_int_eq(validate("patient", "birth_date", &bad, false, NULL), 0);
}
END_TEST

START_TEST(test_codes_are_checked_with_the_allowed_list)
{
    sn_err err = SN_ERR_INIT;
    schema_value v;
    /* Parse does not check codes; validate does. */
    ck_assert_int_eq(parse("patient", "gender", "mal", &v, &err), 0);
    ck_assert_int_eq(validate("patient", "gender", &v, true, &err), SN_EINVAL);
    ck_assert_str_eq(err.msg, "patient.gender: 'mal' is not an allowed code (allowed: male, "
                              "female, other, unknown)");
    v = schema_value_text("female");
    ck_assert_int_eq(validate("patient", "gender", &v, true, NULL), 0);
    /* Codes are case-sensitive and exact. */
    v = schema_value_text("Female");
    ck_assert_int_eq(validate("patient", "gender", &v, true, NULL), SN_EINVAL);
    v = schema_value_text("male ");
    ck_assert_int_eq(validate("patient", "gender", &v, true, NULL), SN_EINVAL);
    /* A foreign commit may carry a code from a newer list: only the kind is checked. */
    v = schema_value_text("nonbinary");
    ck_assert_int_eq(validate("patient", "gender", &v, false, NULL), 0);
    sn_err_clear(&err);
    v = schema_value_text("maybe");
    ck_assert_int_eq(validate("allergy", "verification", &v, true, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "unconfirmed, confirmed, refuted, entered-in-error"));
}
END_TEST

/* A column of each type the clinical tables do not use yet. */
static const schema_column int_col = {.id = 1, .name = "count", .type = SCHEMA_T_INT,
                                      .kind = SCHEMA_FIXED, .help = "a count"};
static const schema_column req_int_col = {.id = 2, .name = "needed", .type = SCHEMA_T_INT,
                                          .kind = SCHEMA_FIXED, .required = true,
                                          .help = "a required count"};
static const schema_table test_table = {.id = 999, .name = "t", .help = "test", .cols = &int_col,
                                        .ncols = 1};

START_TEST(test_parse_integers_with_range_checks)
{
    sn_err err = SN_ERR_INIT;
    schema_value v;
    ck_assert_int_eq(schema_value_parse(&test_table, &int_col, "42", &v, &err), 0);
    ck_assert_int_eq(v.kind, SCHEMA_V_INT);
    ck_assert_int_eq(v.u.i, 42);
    ck_assert_int_eq(schema_value_parse(&test_table, &int_col, "-9223372036854775808", &v, &err),
                     0);
    ck_assert(v.u.i == INT64_MIN);
    ck_assert_int_eq(schema_value_parse(&test_table, &int_col, "+9223372036854775807", &v, &err),
                     0);
    ck_assert(v.u.i == INT64_MAX);
    ck_assert_int_eq(schema_value_parse(&test_table, &int_col, "9223372036854775808", &v, &err),
                     SN_EINVAL);
    ck_assert_msg(strstr(err.msg, "t.count: '9223372036854775808' is out of range") == err.msg,
                  "%s", err.msg);
    static const char *const bad[] = {"-9223372036854775809", "12a", " 12", "12 ", "1.5", "-",
                                      "+", "0x10", "1e3", "--1", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sn_err_clear(&err);
        ck_assert_msg(schema_value_parse(&test_table, &int_col, bad[i], &v, &err) == SN_EINVAL,
                      "%s accepted", bad[i]);
        ck_assert_msg(strstr(err.msg, bad[i]) != NULL, "message does not quote %s: %s", bad[i],
                      err.msg);
    }
    ck_assert_int_eq(schema_value_parse(&test_table, &int_col, "", &v, &err), 0);
    ck_assert_int_eq(v.kind, SCHEMA_V_NIL);
    sn_err_clear(&err);
    ck_assert_int_eq(schema_value_parse(&test_table, &req_int_col, "", &v, &err), SN_EINVAL);
    ck_assert_str_eq(err.msg, "t.needed is required and cannot be empty");
}
END_TEST

START_TEST(test_parse_reals_refs_and_text)
{
    sn_err err = SN_ERR_INIT;
    schema_value v;
    ck_assert_int_eq(parse("observation", "value_num", "37.5", &v, &err), 0);
    ck_assert_int_eq(v.kind, SCHEMA_V_REAL);
    ck_assert(v.u.r == 37.5);
    ck_assert_int_eq(parse("observation", "value_num", "-1e-3", &v, &err), 0);
    ck_assert(v.u.r == -1e-3);
    static const char *const bad[] = {"nan", "inf", "-inf", "1e999", "0x1p3", "37,5", " 1", "1 ",
                                      "abc", "."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sn_err_clear(&err);
        ck_assert_msg(parse("observation", "value_num", bad[i], &v, &err) == SN_EINVAL,
                      "%s accepted", bad[i]);
        ck_assert_ptr_nonnull(strstr(err.msg, "observation.value_num"));
    }
    ck_assert_int_eq(parse("observation", "value_num", "", &v, &err), 0);
    ck_assert_int_eq(v.kind, SCHEMA_V_NIL);

    ck_assert_int_eq(parse("allergy", "patient_id", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", &v,
                           &err),
                     0);
    ck_assert_int_eq(v.kind, SCHEMA_V_ID);
    ck_assert_uint_eq(v.u.id[0], 0x01);
    ck_assert_uint_eq(v.u.id[15], 0x5b);
    sn_err_clear(&err);
    ck_assert_int_eq(parse("allergy", "patient_id", "not-an-id", &v, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "allergy.patient_id: 'not-an-id' is not a record id"));
    sn_err_clear(&err);
    ck_assert_int_eq(parse("allergy", "patient_id", "", &v, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "required"));

    const char *text = "Penicillin";
    ck_assert_int_eq(parse("allergy", "display", text, &v, &err), 0);
    ck_assert_int_eq(v.kind, SCHEMA_V_TEXT);
    ck_assert_ptr_eq(v.u.s.p, (const uint8_t *)text); /* borrowed */
    ck_assert_int_eq(parse("allergy", "display", "", &v, &err), 0);
    ck_assert_int_eq(v.kind, SCHEMA_V_NIL);
}
END_TEST

START_TEST(test_required_nil_refused_at_local_write_only)
{
    sn_err err = SN_ERR_INIT;
    schema_value nil = schema_value_nil();
    ck_assert_int_eq(validate("patient", "family", &nil, true, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "patient.family is required"));
    ck_assert_int_eq(validate("patient", "family", &nil, false, NULL), 0);
    ck_assert_int_eq(validate("patient", "given", &nil, true, NULL), 0);
    ck_assert_int_eq(validate("observation", "value_num", &nil, true, NULL), 0);
}
END_TEST

START_TEST(test_kind_mismatch_refused_at_apply)
{
    sn_err err = SN_ERR_INIT;
    schema_value i = schema_value_int(3), r = schema_value_real(1.0), t = schema_value_text("x");
    uint8_t idb[SCHEMA_ID_LEN] = {1};
    schema_value id = schema_value_id(idb);
    ck_assert_int_eq(validate("allergy", "code", &i, false, &err), SN_EINVAL);
    ck_assert_str_eq(err.msg, "allergy.code is of type text and cannot hold an integer");
    ck_assert_int_eq(validate("observation", "value_num", &t, false, NULL), SN_EINVAL);
    ck_assert_int_eq(validate("observation", "value_num", &i, false, NULL), SN_EINVAL);
    ck_assert_int_eq(validate("observation", "value_num", &r, false, NULL), 0);
    ck_assert_int_eq(validate("allergy", "patient_id", &t, false, NULL), SN_EINVAL);
    ck_assert_int_eq(validate("allergy", "patient_id", &id, false, NULL), 0);
    ck_assert_int_eq(validate("patient", "birth_date", &id, false, NULL), SN_EINVAL);
    schema_value blob = {.kind = SCHEMA_V_BLOB, .u.s = {(const uint8_t *)"ab", 2}};
    ck_assert_int_eq(validate("allergy", "display", &blob, false, NULL), SN_EINVAL);
    schema_value nan = schema_value_real(NAN);
    ck_assert_int_eq(validate("observation", "value_num", &nan, false, NULL), 0);
    ck_assert_int_eq(validate("observation", "value_num", &nan, true, NULL), SN_EINVAL);
}
END_TEST

START_TEST(test_text_must_be_utf8_at_local_write)
{
    static const char *const bad[] = {"\xc3\x28", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                      "abc\xe2\x82", "\xff", "\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        schema_value v = schema_value_text(bad[i]);
        sn_err err = SN_ERR_INIT;
        ck_assert_msg(validate("allergy", "display", &v, true, &err) == SN_EINVAL, "case %zu", i);
        ck_assert_ptr_nonnull(strstr(err.msg, "UTF-8"));
        ck_assert_int_eq(validate("allergy", "display", &v, false, NULL), 0);
    }
    static const char *const good[] = {"", "plain", "caf\xc3\xa9", "\xe2\x82\xac 5",
                                       "\xf0\x9f\x98\x80", "\xef\xbf\xbf"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        schema_value v = schema_value_text(good[i]);
        ck_assert_msg(validate("allergy", "display", &v, true, NULL) == 0, "case %zu", i);
    }
    schema_value nul = {.kind = SCHEMA_V_TEXT, .u.s = {(const uint8_t *)"a\0b", 3}};
    ck_assert_int_eq(validate("allergy", "display", &nul, true, NULL), SN_EINVAL);
}
END_TEST

START_TEST(test_format_values)
{
    sn_buf b;
    sn_buf_init(&b, 1024);
    struct {
        schema_value v;
        const char *want;
    } cases[] = {
        {schema_value_nil(), ""},
        {schema_value_int(-42), "-42"},
        {schema_value_int(INT64_MIN), "-9223372036854775808"},
        {schema_value_real(0.1), "0.1"},
        {schema_value_real(37.5), "37.5"},
        {schema_value_real(1e300), "1e+300"},
        {schema_value_real(1.0 / 3.0), "0.3333333333333333"},
        {schema_value_text("hello"), "hello"},
        {{.kind = SCHEMA_V_BLOB, .u.s = {(const uint8_t *)"\x01\xab", 2}}, "01ab"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sn_buf_reset(&b);
        ck_assert_int_eq(schema_value_format(&cases[i].v, &b, NULL), 0);
        ck_assert_msg(b.len == strlen(cases[i].want) &&
                          (b.len == 0 || memcmp(b.data, cases[i].want, b.len) == 0),
                      "case %zu: got '%.*s', want '%s'", i, (int)b.len, (const char *)b.data,
                      cases[i].want);
    }
    uint8_t id[SCHEMA_ID_LEN];
    for (int i = 0; i < SCHEMA_ID_LEN; i++)
        id[i] = (uint8_t)(i * 17);
    schema_value v = schema_value_id(id);
    sn_buf_reset(&b);
    ck_assert_int_eq(schema_value_format(&v, &b, NULL), 0);
    ck_assert_uint_eq(b.len, 32);
    ck_assert_int_eq(memcmp(b.data, "00112233445566778899aabbccddeeff", 32), 0);
    sn_buf_free(&b);
}
END_TEST

/* ---- ids --------------------------------------------------------------------------- */

START_TEST(test_id_generate_has_uuidv7_layout)
{
    uint64_t ms = 0x0190a1b2c3d4ull;
    uint8_t a[SCHEMA_ID_LEN], b[SCHEMA_ID_LEN];
    schema_id_generate(a, ms);
    schema_id_generate(b, ms);
    ck_assert_int_ne(memcmp(a, b, SCHEMA_ID_LEN), 0);
    static const uint8_t prefix[6] = {0x01, 0x90, 0xa1, 0xb2, 0xc3, 0xd4};
    ck_assert_int_eq(memcmp(a, prefix, 6), 0);
    ck_assert_uint_eq(a[6] >> 4, 7);
    ck_assert_uint_eq(a[8] >> 6, 2);
    /* Later ids sort after earlier ones. */
    schema_id_generate(b, ms + 1);
    ck_assert_int_lt(memcmp(a, b, SCHEMA_ID_LEN), 0);
    /* The random bits vary (74 of them: 1000 ids would collide with negligible chance). */
    int version_ok = 0;
    for (int i = 0; i < 1000; i++) {
        schema_id_generate(b, ms);
        version_ok += (b[6] >> 4) == 7 && (b[8] >> 6) == 2;
    }
    ck_assert_int_eq(version_ok, 1000);
}
END_TEST

START_TEST(test_id_format_and_parse)
{
    uint8_t id[SCHEMA_ID_LEN], back[SCHEMA_ID_LEN];
    schema_id_generate(id, 1700000000000ull);
    char hex[2 * SCHEMA_ID_LEN + 1];
    schema_id_format(hex, id);
    ck_assert_uint_eq(strlen(hex), 32);
    ck_assert_uint_eq(strspn(hex, "0123456789abcdef"), 32);
    ck_assert_int_eq(schema_id_parse(back, hex, NULL), 0);
    ck_assert_int_eq(memcmp(id, back, SCHEMA_ID_LEN), 0);

    ck_assert_int_eq(schema_id_parse(back, "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B", NULL), 0);
    schema_id_format(hex, back);
    ck_assert_str_eq(hex, "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b");

    static const char *const bad[] = {
        "",
        "0190a1b2c3d47e5f8a9b0c1d2e3f4a5",    /* 31 digits */
        "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b0",  /* 33 */
        "0190a1b2c3d47e5f8a9b0c1d2e3f4a5g",   /* not hex */
        "0190a1b2-c3d4-7e5f-8a9b0c1d2e3f4a5b", /* one dash short */
        "0190a1b2c-3d4-7e5f-8a9b-0c1d2e3f4a5b", /* dash in the wrong place */
        "0190a1b2 c3d4 7e5f 8a9b 0c1d2e3f4a5b",
        "{0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t keep[SCHEMA_ID_LEN];
        memset(back, 0xee, sizeof back);
        memcpy(keep, back, sizeof keep);
        sn_err err = SN_ERR_INIT;
        ck_assert_msg(schema_id_parse(back, bad[i], &err) == SN_EINVAL, "'%s' accepted", bad[i]);
        ck_assert_ptr_nonnull(strstr(err.msg, "is not a record id"));
        ck_assert_int_eq(memcmp(back, keep, SCHEMA_ID_LEN), 0); /* untouched */
    }
}
END_TEST

/* ---- rank -------------------------------------------------------------------------- */

START_TEST(test_rank_follows_the_safety_order)
{
    const schema_column *c = column("allergy", "verification");
    schema_value confirmed = schema_value_text("confirmed");
    schema_value refuted = schema_value_text("refuted");
    schema_value eie = schema_value_text("entered-in-error");
    schema_value unknown = schema_value_text("banana"), nil = schema_value_nil();
    ck_assert_int_gt(schema_column_rank(c, &confirmed), schema_column_rank(c, &refuted));
    ck_assert_int_gt(schema_column_rank(c, &eie), schema_column_rank(c, &confirmed));
    ck_assert_int_gt(schema_column_rank(c, &refuted), 0);
    ck_assert_int_eq(schema_column_rank(c, &unknown), 0);
    ck_assert_int_eq(schema_column_rank(c, &nil), 0);
    /* A prefix of a ranked value is not that value. */
    schema_value prefix = {.kind = SCHEMA_V_TEXT, .u.s = {(const uint8_t *)"confirmed", 7}};
    ck_assert_int_eq(schema_column_rank(c, &prefix), 0);
    /* Unranked columns score 0 for everything. */
    ck_assert_int_eq(schema_column_rank(column("patient", "gender"), &confirmed), 0);
    schema_value male = schema_value_text("male");
    ck_assert_int_eq(schema_column_rank(column("patient", "gender"), &male), 0);
    c = column("allergy", "criticality");
    schema_value high = schema_value_text("high"), low = schema_value_text("low");
    ck_assert_int_gt(schema_column_rank(c, &high), schema_column_rank(c, &low));
    c = column("condition", "clinical_status");
    schema_value active = schema_value_text("active"), resolved = schema_value_text("resolved");
    ck_assert_int_gt(schema_column_rank(c, &active), schema_column_rank(c, &resolved));
}
END_TEST

/* The "bytes" test case: canonical value bytes (check_schema_value_bytes.c). */
TCase *schema_value_bytes_tcase(void);

Suite *schema_value_suite(void);
Suite *schema_value_suite(void)
{
    Suite *s = suite_create("schema_value_suite");
    TCase *tc = tcase_create("tables");
    tcase_add_test(tc, test_table_lookup_by_id_and_name);
    tcase_add_test(tc, test_column_lookup_by_id_name_and_index);
    tcase_add_test(tc, test_every_table_has_increasing_unique_column_ids);
    tcase_add_test(tc, test_columns_are_consistent);
    tcase_add_test(tc, test_schema_matches_the_agreed_ids);
    suite_add_tcase(s, tc);

    tc = tcase_create("validate");
    tcase_add_test(tc, test_dates_are_real_calendar_days);
    tcase_add_test(tc, test_datetimes);
    tcase_add_test(tc, test_parse_dates_with_messages);
    tcase_add_test(tc, test_codes_are_checked_with_the_allowed_list);
    tcase_add_test(tc, test_parse_integers_with_range_checks);
    tcase_add_test(tc, test_parse_reals_refs_and_text);
    tcase_add_test(tc, test_required_nil_refused_at_local_write_only);
    tcase_add_test(tc, test_kind_mismatch_refused_at_apply);
    tcase_add_test(tc, test_text_must_be_utf8_at_local_write);
    tcase_add_test(tc, test_format_values);
    suite_add_tcase(s, tc);

    suite_add_tcase(s, schema_value_bytes_tcase());

    tc = tcase_create("ids_and_rank");
    tcase_add_test(tc, test_id_generate_has_uuidv7_layout);
    tcase_add_test(tc, test_id_format_and_parse);
    tcase_add_test(tc, test_rank_follows_the_safety_order);
    suite_add_tcase(s, tc);
    return s;
}
