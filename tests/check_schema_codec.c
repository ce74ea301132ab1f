/* tests/check_schema_codec.c - commit bodies: round trips, the byte layout, newer formats and
 * schemas, and check(). Hostile input and faults are in check_schema_hostile.c. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "schema/codec.h"
#include "schema/schema.h"
#include "tests/schema_fixture.h"
#include "tests/support.h"

/* ---- round trips and layout -------------------------------------------------------- */

START_TEST(test_codec_round_trip_random)
{
    test_rng r;
    test_rng_seed(&r, (uint64_t)_i);
    long base = sn_alloc_live();
    gen *g = gen_random(&r);
    sn_buf b1, b2;
    commit_encode_ok(&g->c, &b1, _i);
    ck_assert_msg(b1.len <= SCHEMA_COMMIT_MAX, "seed %d: %zu bytes", _i, b1.len);
    schema_commit *d = NULL;
    uint8_t *copy;
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(commit_decode_copy(b1.data, b1.len, &d, &copy, &err) == 0,
                  "seed %d: decode: %s", _i, err.msg);
    commit_assert_equal(&g->c, d, _i);
    commit_encode_ok(d, &b2, _i);
    ck_assert_msg(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0,
                  "seed %d: re-encoding gives different bytes", _i);
    /* Peek agrees with decode. */
    crdt_origin o;
    uint64_t seq;
    crdt_hlc hlc;
    uint32_t sv;
    ck_assert_int_eq(schema_commit_peek(b1.data, b1.len, &o, &seq, &hlc, &sv, NULL), 0);
    ck_assert(crdt_origin_equal(&o, &g->c.origin) && seq == g->c.seq && hlc == g->c.hlc &&
              sv == g->c.schema_version);
    /* check() reports, never crashes, on whatever the generator made. */
    bool unknown;
    int rc = schema_commit_check(d, &unknown, NULL);
    ck_assert_msg(rc == 0 || rc == SN_EINVAL, "seed %d: check rc %d", _i, rc);
    schema_commit_free(d);
    free(copy);
    sn_buf_free(&b1);
    sn_buf_free(&b2);
    gen_free(g);
    ck_assert_msg(sn_alloc_live() == base, "seed %d: leak", _i);
}
END_TEST

/* The worked example in codec.c's opening comment, byte for byte. */
START_TEST(test_codec_layout_matches_the_essay)
{
    gen *g = gen_new(1);
    memset(g->c.origin.replica, 0x11, CRDT_REPLICA_LEN);
    g->c.seq = 7;
    schema_change *ch = gen_set(g, 0, 6, 0, 8, schema_value_text("confirmed"));
    memset(ch->row, 0x22, SCHEMA_ID_LEN);
    crdt_origin s = {.epoch = 0};
    memset(s.replica, 0x33, CRDT_REPLICA_LEN);
    gen_ctx_add(ch, s, 5);
    sn_buf b;
    commit_encode_ok(&g->c, &b, -1);
    ck_assert_uint_eq(b.len, 91);
    char hex[2 * 91 + 1];
    sn_hex(hex, b.data, b.len);
    mpb want = {.n = 0};
    mpb_hex(&want, "99 01 01 c410 11111111111111111111111111111111 00 07 cf018bcfe5680000 00"
                   "a3616e61 c0 91 96 02 06 c410 22222222222222222222222222222222 08"
                   "a9636f6e6669726d6564 93 c410 33333333333333333333333333333333 00 05");
    ck_assert_uint_eq(want.n, 91);
    char want_hex[2 * 91 + 1];
    sn_hex(want_hex, want.b, want.n);
    ck_assert_str_eq(hex, want_hex);
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

START_TEST(test_codec_encode_appends_and_refuses_malformed_commits)
{
    gen *g = gen_new(2);
    gen_set(g, 0, 1, 1, 3, schema_value_text("Smith"));
    schema_change *ins = gen_insert(g, 1, 6, 2, 2);
    ins->fields[0] = (schema_field){1, schema_value_id(ID_A)};
    ins->fields[1] = (schema_field){2, schema_value_text("91936005")};
    sn_buf b;
    sn_buf_init(&b, 1 << 16);
    ck_assert_int_eq(sn_buf_append(&b, "xyz", 3, NULL), 0);
    ck_assert_int_eq(schema_commit_encode(&g->c, &b, NULL), 0);
    ck_assert_int_eq(memcmp(b.data, "xyz", 3), 0); /* appended after what was there */
    size_t len = b.len;
    schema_commit *d = NULL;
    ck_assert_int_eq(schema_commit_decode(b.data + 3, len - 3, &d, NULL), 0);
    schema_commit_free(d);

    struct {
        const char *what;
        const char *needle;
    } cases[] = {
        {"seq 0", "seq 0"},
        {"no author", "author"},
        {"empty author", "author"},
        {"long author", "author"},
        {"empty entered_by", "entered-by"},
        {"no changes", "0 changes"},
        {"fields out of order", "increasing column order"},
        {"too many fields", "fields"},
        {"unknown op", "op 0"},
        {"too many changes", "4097 changes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gen saved = *g;
        char longname[SCHEMA_NAME_MAX + 2], empty[1] = "";
        memset(longname, 'x', sizeof longname - 1);
        longname[sizeof longname - 1] = '\0';
        schema_field swapped[2] = {ins->fields[1], ins->fields[0]};
        schema_field *keep_fields = ins->fields;
        switch (i) {
        case 0: g->c.seq = 0; break;
        case 1: g->c.author = NULL; break;
        case 2: g->c.author = empty; break;
        case 3: g->c.author = longname; break;
        case 4: g->c.entered_by = empty; break;
        case 5: g->c.nchanges = 0; break;
        case 6: ins->fields = swapped; break;
        case 7: ins->nfields = SCHEMA_FIELDS_MAX + 1; break;
        case 8: g->c.changes[0].op = SCHEMA_OP_UNKNOWN; break;
        case 9: g->c.nchanges = SCHEMA_CHANGES_MAX + 1; break;
        }
        sn_err err = SN_ERR_INIT;
        ck_assert_msg(schema_commit_encode(&g->c, &b, &err) == SN_EINVAL, "%s accepted",
                      cases[i].what);
        ck_assert_msg(strstr(err.msg, cases[i].needle) != NULL, "%s: '%s'", cases[i].what,
                      err.msg);
        ck_assert_uint_eq(b.len, len); /* nothing written */
        ins->fields = keep_fields;
        ins->nfields = 2;
        g->c = saved.c;
    }
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

START_TEST(test_codec_peek_reads_the_header)
{
    gen *g = gen_new(1);
    g->c.origin = gen_origin(9, 3);
    g->c.seq = 123456789;
    g->c.hlc = CRDT_HLC_MAKE(1700000000123ull, 7);
    g->c.schema_version = 4;
    gen_set(g, 0, 1, 1, 3, schema_value_text("Smith"));
    sn_buf b;
    commit_encode_ok(&g->c, &b, -1);
    crdt_origin o;
    uint64_t seq;
    crdt_hlc hlc;
    uint32_t sv;
    ck_assert_int_eq(schema_commit_peek(b.data, b.len, &o, &seq, &hlc, &sv, NULL), 0);
    ck_assert(crdt_origin_equal(&o, &g->c.origin));
    ck_assert_uint_eq(seq, 123456789);
    ck_assert_uint_eq(hlc, g->c.hlc);
    ck_assert_uint_eq(sv, 4);
    /* Peek reads only the header: a body cut after it still peeks. */
    ck_assert_int_eq(schema_commit_peek(b.data, 40, &o, &seq, &hlc, &sv, NULL), 0);
    for (size_t cut = 0; cut < 30; cut++) {
        sn_err err = SN_ERR_INIT;
        ck_assert_int_eq(schema_commit_peek(b.data, cut, &o, &seq, &hlc, &sv, &err),
                         SN_ECORRUPT);
        ck_assert_ptr_nonnull(strstr(err.msg, "reading commit header"));
    }
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

/* ---- newer formats and schemas ---------------------------------------------------- */

START_TEST(test_codec_newer_format_is_refused_with_version_error)
{
    gen *g = gen_new(1);
    gen_set(g, 0, 1, 1, 3, schema_value_text("Smith"));
    sn_buf b;
    commit_encode_ok(&g->c, &b, -1);
    ck_assert_uint_eq(b.data[1], 0x01);
    b.data[1] = 0x02;
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(commit_decode_rc(b.data, b.len, &err), SN_EVERSION);
    ck_assert_str_eq(err.msg,
                     "commit format 2 is newer than this build (1); install a newer Outpost");
    sn_err_clear(&err);
    ck_assert_int_eq(schema_commit_peek(b.data, b.len, NULL, NULL, NULL, NULL, &err),
                     SN_EVERSION);
    ck_assert_str_eq(err.msg,
                     "commit format 2 is newer than this build (1); install a newer Outpost");
    /* A newer format may look nothing like this one after its number. */
    mpb m = {.n = 0};
    mpb_array(&m, 1);
    mpb_uint(&m, UINT64_MAX);
    sn_err_clear(&err);
    ck_assert_int_eq(commit_decode_rc(m.b, m.n, &err), SN_EVERSION);
    ck_assert_ptr_nonnull(strstr(err.msg, "18446744073709551615"));
    /* Format 0 never existed. */
    b.data[1] = 0x00;
    commit_expect_corrupt(b.data, b.len, "format", -1);
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

START_TEST(test_codec_newer_schema_decodes_and_check_reports_unknown)
{
    gen *g = gen_new(5);
    g->c.schema_version = SCHEMA_VERSION + 1;
    /* Known table, known columns plus a column from the future. */
    schema_change *ins = gen_insert(g, 0, 6, 1, 4);
    ins->fields[0] = (schema_field){1, schema_value_id(ID_A)};
    ins->fields[1] = (schema_field){2, schema_value_text("91936005")};
    ins->fields[2] = (schema_field){8, schema_value_text("confirmed")};
    ins->fields[3] = (schema_field){99, schema_value_int(7)};
    /* A table from the future. */
    schema_change *fut = gen_insert(g, 1, 42, 2, 1);
    fut->fields[0] = (schema_field){1, schema_value_real(2.5)};
    /* A set on a column from the future, and one on a known mv column. */
    gen_set(g, 2, 1, 3, 77, schema_value_text("x"));
    gen_set(g, 3, 1, 3, 3, schema_value_text("Smith"));
    gen_set(g, 4, 6, 1, 6, schema_value_text("high"));
    sn_buf b;
    commit_encode_ok(&g->c, &b, -1);
    schema_commit *d = NULL;
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(schema_commit_decode(b.data, b.len, &d, &err), 0);
    ck_assert_uint_eq(d->schema_version, SCHEMA_VERSION + 1);
    bool unknown = false;
    ck_assert_msg(schema_commit_check(d, &unknown, &err) == 0, "%s", err.msg);
    ck_assert(unknown);
    schema_commit_free(d);
    sn_buf_free(&b);

    /* Known parts still validate: a known column holding the wrong kind is refused. */
    ins->fields[1].value = schema_value_int(5);
    commit_encode_ok(&g->c, &b, -1);
    ck_assert_int_eq(schema_commit_decode(b.data, b.len, &d, NULL), 0);
    sn_err_clear(&err);
    ck_assert_int_eq(schema_commit_check(d, &unknown, &err), SN_EINVAL);
    ck_assert_str_eq(err.msg, "commit change 1 of 5 (insert): allergy.code is of type text and "
                              "cannot hold an integer");
    schema_commit_free(d);
    sn_buf_free(&b);

    /* Only known parts: nothing unknown. */
    ins->fields[1].value = schema_value_text("91936005");
    g->c.nchanges = 1;
    ins->nfields = 3;
    commit_encode_ok(&g->c, &b, -1);
    ck_assert_int_eq(schema_commit_decode(b.data, b.len, &d, NULL), 0);
    unknown = true;
    ck_assert_int_eq(schema_commit_check(d, &unknown, NULL), 0);
    ck_assert(!unknown);
    schema_commit_free(d);
    sn_buf_free(&b);
    ins->nfields = 4;
    g->c.nchanges = 5;
    gen_free(g);
}
END_TEST

START_TEST(test_codec_unknown_op_is_kept_and_reported)
{
    gen *g = gen_new(2);
    gen_set(g, 0, 6, 0, 8, schema_value_text("confirmed"));
    gen_set(g, 1, 6, 0, 7, schema_value_text("active"));
    sn_buf b;
    commit_encode_ok(&g->c, &b, -1);
    /* Header is 37 bytes up to the change list, then 0x92, then the first change's array
     * byte 0x96 and its op. */
    ck_assert_uint_eq(b.data[37], 0x92);
    ck_assert_uint_eq(b.data[38], 0x96);
    ck_assert_uint_eq(b.data[39], 0x02);
    b.data[39] = 0x07;
    schema_commit *d = NULL;
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(schema_commit_decode(b.data, b.len, &d, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(d->nchanges, 2);
    ck_assert_int_eq(d->changes[0].op, SCHEMA_OP_UNKNOWN);
    ck_assert_int_eq(d->changes[1].op, SCHEMA_OP_SET);
    bool unknown = false;
    ck_assert_int_eq(schema_commit_check(d, &unknown, NULL), 0);
    ck_assert(unknown);
    sn_buf again;
    sn_buf_init(&again, 1 << 16);
    ck_assert_int_eq(schema_commit_encode(d, &again, NULL), SN_EINVAL);
    sn_buf_free(&again);
    schema_commit_free(d);
    /* An unknown change is still walked: a malformed one is refused. */
    b.data[40] = 0xc1;
    commit_expect_corrupt(b.data, b.len, "0xc1", -1);
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

/* ---- check ------------------------------------------------------------------------- */

static int check_commit(gen *g, bool *unknown, sn_err *err)
{
    sn_buf b;
    commit_encode_ok(&g->c, &b, -1);
    schema_commit *d = NULL;
    ck_assert_int_eq(schema_commit_decode(b.data, b.len, &d, NULL), 0);
    int rc = schema_commit_check(d, unknown, err);
    schema_commit_free(d);
    sn_buf_free(&b);
    return rc;
}

START_TEST(test_codec_check_refuses_set_on_fixed_column)
{
    gen *g = gen_new(2);
    gen_set(g, 0, 6, 1, 6, schema_value_text("high"));
    gen_set(g, 1, 6, 1, 2, schema_value_text("91936005")); /* allergy.code is fixed */
    sn_err err = SN_ERR_INIT;
    bool unknown = false;
    ck_assert_int_eq(check_commit(g, &unknown, &err), SN_EINVAL);
    ck_assert_str_eq(err.msg, "commit change 2 of 2 (set): allergy.code is written once when "
                              "the record is created; it cannot be set");
    /* The same change on an mv column is fine, and a wrong kind there is not. */
    g->c.changes[1].col = 7;
    g->c.changes[1].value = schema_value_text("active");
    ck_assert_int_eq(check_commit(g, &unknown, NULL), 0);
    ck_assert(!unknown);
    g->c.changes[1].value = schema_value_real(1.0);
    sn_err_clear(&err);
    ck_assert_int_eq(check_commit(g, &unknown, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "allergy.clinical_status is of type code"));
    /* Codes from a newer list and nil are accepted from other nodes. */
    g->c.changes[1].value = schema_value_text("in-remission");
    ck_assert_int_eq(check_commit(g, &unknown, NULL), 0);
    g->c.changes[1].value = schema_value_nil();
    ck_assert_int_eq(check_commit(g, &unknown, NULL), 0);
    gen_free(g);
}
END_TEST

START_TEST(test_codec_check_refuses_duplicate_cells)
{
    sn_err err = SN_ERR_INIT;
    bool unknown;
    /* Two sets of one cell. */
    gen *g = gen_new(3);
    gen_set(g, 0, 6, 1, 8, schema_value_text("confirmed"));
    gen_set(g, 1, 6, 2, 8, schema_value_text("refuted")); /* another row: fine */
    gen_set(g, 2, 6, 1, 8, schema_value_text("refuted"));
    ck_assert_int_eq(check_commit(g, &unknown, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "commit changes 1 and 3 both write allergy."
                                          "verification of row "));
    g->c.changes[2].col = 7;
    g->c.changes[2].value = schema_value_text("active");
    ck_assert_int_eq(check_commit(g, &unknown, NULL), 0);
    gen_free(g);

    /* An insert counts for each of its fields. */
    g = gen_new(2);
    schema_change *ins = gen_insert(g, 0, 6, 1, 2);
    ins->fields[0] = (schema_field){1, schema_value_id(ID_A)};
    ins->fields[1] = (schema_field){8, schema_value_text("unconfirmed")};
    gen_set(g, 1, 6, 1, 8, schema_value_text("confirmed"));
    sn_err_clear(&err);
    ck_assert_int_eq(check_commit(g, &unknown, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "commit changes 1 and 2 both write allergy."
                                          "verification"));
    g->c.changes[1].col = 7; /* a cell the insert left out */
    g->c.changes[1].value = schema_value_text("active");
    ck_assert_int_eq(check_commit(g, &unknown, NULL), 0);
    gen_free(g);

    /* Two inserts of one row, even with different fields. */
    g = gen_new(2);
    ins = gen_insert(g, 0, 6, 1, 1);
    ins->fields[0] = (schema_field){1, schema_value_id(ID_A)};
    ins = gen_insert(g, 1, 6, 1, 1);
    ins->fields[0] = (schema_field){2, schema_value_text("91936005")};
    sn_err_clear(&err);
    ck_assert_int_eq(check_commit(g, &unknown, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "commit changes 1 and 2 both insert row"));
    ck_assert_ptr_nonnull(strstr(err.msg, "into allergy"));
    /* The same row id in two tables is two rows. */
    g->c.changes[1].table = 7;
    ck_assert_int_eq(check_commit(g, &unknown, NULL), 0);
    gen_free(g);

    /* The rule is structural: it holds for tables this build does not know. */
    g = gen_new(2);
    gen_set(g, 0, 300, 1, 2, schema_value_int(1));
    gen_set(g, 1, 300, 1, 2, schema_value_int(2));
    sn_err_clear(&err);
    ck_assert_int_eq(check_commit(g, &unknown, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "table 300.column 2"));
    gen_free(g);
}
END_TEST

Suite *schema_codec_suite(void);
Suite *schema_codec_suite(void)
{
    Suite *s = suite_create("schema_codec_suite");
    TCase *tc = tcase_create("round_trip");
    tcase_add_loop_test(tc, test_codec_round_trip_random, 0, 300);
    tcase_add_test(tc, test_codec_layout_matches_the_essay);
    tcase_add_test(tc, test_codec_encode_appends_and_refuses_malformed_commits);
    tcase_add_test(tc, test_codec_peek_reads_the_header);
    suite_add_tcase(s, tc);

    tc = tcase_create("versions");
    tcase_add_test(tc, test_codec_newer_format_is_refused_with_version_error);
    tcase_add_test(tc, test_codec_newer_schema_decodes_and_check_reports_unknown);
    tcase_add_test(tc, test_codec_unknown_op_is_kept_and_reported);
    suite_add_tcase(s, tc);

    tc = tcase_create("check");
    tcase_add_test(tc, test_codec_check_refuses_set_on_fixed_column);
    tcase_add_test(tc, test_codec_check_refuses_duplicate_cells);
    suite_add_tcase(s, tc);
    return s;
}
