/* tests/check_node_read.c - reading the node store through its public API (DESIGN.md
 * sections 3-4): row reads (retractions and their undoing, filtered listing in id order, the
 * table of a row, canonical ids of linked patients) and the state digest. The shared
 * fixture is node_fixture.h. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/store.h"
#include "schema/schema.h"
#include "tests/node_fixture.h"
#include "tests/support.h"

/* ===== row reads ===================================================================== */

START_TEST(test_retraction_and_its_undoing)
{
    test_clock clock = {BASE_MS};
    node_store *st = mk("retract", &clock, NULL);
    uint8_t p[ID_LEN], al[ID_LEN], r1[ID_LEN], r2[ID_LEN], r3[ID_LEN];
    insert_patient(st, "Brown", p);
    schema_field f[2] = {fld("allergy", "patient_id", schema_value_id(p)),
                         fld("allergy", "code", txt("372687004"))};
    insert_row(st, "allergy", f, 2, al);
    ck_assert(!retracted(st, "allergy", al));
    retract(st, al, r1);
    ck_assert(retracted(st, "allergy", al));
    ck_assert(!retracted(st, "patient", p) && !retracted(st, "retraction", r1));
    retract(st, r1, r2); /* the retraction was itself an error */
    ck_assert(retracted(st, "retraction", r1));
    ck_assert_msg(!retracted(st, "allergy", al), "still retracted after its retraction was");
    retract(st, r2, r3); /* and so was that */
    ck_assert(retracted(st, "allergy", al) && !retracted(st, "retraction", r1));
    node_row *r = row_of(st, "allergy", al); /* still there, values and all */
    ck_assert(r->inserted && is_text(&r->values[cidx("allergy", "code")], "372687004"));
    node_row_free(r);
    node_store_close(st);
}
END_TEST

typedef struct id_list {
    uint8_t ids[8][ID_LEN];
    size_t n;
} id_list;

static int collect_id(void *ctx, const node_row *r, sn_err *err)
{
    (void)err;
    id_list *l = ctx;
    ck_assert(l->n < 8);
    memcpy(l->ids[l->n++], r->id, ID_LEN);
    return 0;
}

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, ID_LEN); }

/* The rows listed with column `filter_col` = `v` are exactly want[0..n) in id order. */
static void expect_listed(node_store *st, uint16_t filter_col, const uint8_t *v,
                          uint8_t (*want)[ID_LEN], size_t n)
{
    sn_err err = SN_ERR_INIT;
    id_list l = {.n = 0};
    schema_value fv = v != NULL ? schema_value_id(v) : schema_value_nil();
    CK_OK(node_store_rows_each(st, tbl("patient_identifier"), filter_col, &fv, collect_id, &l,
                               &err));
    ck_assert_uint_eq(l.n, n);
    qsort(want, n, ID_LEN, id_cmp);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(l.ids[i], want[i], ID_LEN) == 0, "row %zu out of id order", i);
}

START_TEST(test_rows_each_filter_in_id_order)
{
    test_clock clock = {BASE_MS};
    node_store *st = mk("rows", &clock, NULL);
    uint8_t p[3][ID_LEN], idn[5][ID_LEN], of1[3][ID_LEN], of2[2][ID_LEN];
    for (int i = 0; i < 3; i++)
        insert_patient(st, "Patient", p[i]);
    for (int i = 0; i < 5; i++) { /* p[0] holds identifiers 0, 2, 4; p[1] holds 1, 3 */
        char value[16];
        snprintf(value, sizeof value, "H%d", i);
        schema_field f[3] = {fld("patient_identifier", "patient_id", schema_value_id(p[i % 2])),
                             fld("patient_identifier", "system", txt("hosp")),
                             fld("patient_identifier", "value", txt(value))};
        clock.ms = BASE_MS + 100 - 10 * (uint64_t)i; /* ids (time ordered) run backwards */
        insert_row(st, "patient_identifier", f, 3, idn[i]);
        memcpy(i % 2 == 0 ? of1[i / 2] : of2[i / 2], idn[i], ID_LEN);
    }
    uint16_t pc = col("patient_identifier", "patient_id");
    expect_listed(st, pc, p[0], of1, 3);
    expect_listed(st, pc, p[1], of2, 2);
    expect_listed(st, pc, p[2], of2, 0);
    expect_listed(st, 0, NULL, idn, 5);
    node_store_close(st);
}
END_TEST

START_TEST(test_row_table_finds_the_table)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk("rowtable", &clock, NULL);
    uint8_t p[ID_LEN], enc[ID_LEN], ret[ID_LEN], none[ID_LEN];
    insert_patient(st, "Brown", p);
    schema_field f[2] = {fld("encounter", "patient_id", schema_value_id(p)),
                         fld("encounter", "start", txt("2024-03-01T09:30Z"))};
    insert_row(st, "encounter", f, 2, enc);
    retract(st, enc, ret);
    const uint8_t *ids[3] = {p, enc, ret};
    const char *names[3] = {"patient", "encounter", "retraction"};
    for (size_t i = 0; i < 3; i++) {
        uint16_t t = 0;
        CK_OK(node_store_row_table(st, ids[i], &t, &err));
        ck_assert_msg(t == tbl(names[i]), "row of %s found in table %u", names[i], t);
    }
    memset(none, 0x77, sizeof none);
    uint16_t t = 0;
    CK_FAILS(node_store_row_table(st, none, &t, &err), SN_ENOTFOUND);
    expect_row(st, enc, false, "an encounter read as a patient");
    node_store_close(st);
}
END_TEST

static void link_patients(node_store *st, const uint8_t *a, const uint8_t *b, uint8_t id[ID_LEN])
{
    schema_field f[3] = {fld("patient_link", "patient_id", schema_value_id(a)),
                         fld("patient_link", "other_id", schema_value_id(b)),
                         fld("patient_link", "reason", txt("same person"))};
    insert_row(st, "patient_link", f, 3, id);
}

static void expect_canonical(node_store *st, const uint8_t *p, const uint8_t *want,
                             const char *what)
{
    sn_err err = SN_ERR_INIT;
    uint8_t out[ID_LEN];
    char a[33], b[33];
    CK_OK(node_store_patient_canonical(st, p, out, &err));
    schema_id_format(a, out);
    schema_id_format(b, want);
    ck_assert_msg(memcmp(out, want, ID_LEN) == 0, "%s: canonical %s, want %s", what, a, b);
}

static const uint8_t *min_id(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, ID_LEN) <= 0 ? a : b;
}

START_TEST(test_patient_links_canonical_id)
{
    test_clock clock = {BASE_MS + 2000};
    node_store *st = mk("links", &clock, NULL);
    uint8_t a[ID_LEN], b[ID_LEN], c[ID_LEN], ab[ID_LEN], bc[ID_LEN], r[ID_LEN], rr[ID_LEN];
    insert_patient(st, "A", a);
    clock.ms -= 1000; /* ids are time ordered: B's is the smallest */
    insert_patient(st, "B", b);
    clock.ms += 5000;
    insert_patient(st, "C", c);
    expect_canonical(st, c, c, "C unlinked");
    link_patients(st, a, b, ab);
    link_patients(st, c, b, bc); /* the other way round: links are undirected */
    const uint8_t *all = min_id(min_id(a, b), c);
    expect_canonical(st, a, all, "A");
    expect_canonical(st, b, all, "B");
    expect_canonical(st, c, all, "C");
    retract(st, bc, r); /* unmerge C */
    expect_canonical(st, c, c, "C after unlinking");
    expect_canonical(st, a, min_id(a, b), "A after unlinking C");
    expect_canonical(st, b, min_id(a, b), "B after unlinking C");
    retract(st, r, rr); /* the unmerge was wrong */
    expect_canonical(st, c, all, "C linked again");
    node_store_close(st);
}
END_TEST

/* ===== digest ======================================================================== */

START_TEST(test_digest_reads_state)
{
    test_clock ca = {BASE_MS}, cb = {BASE_MS + 5000};
    node_store *a = mk("da", &ca, NULL), *b = mk("db", &cb, NULL);
    uint8_t p[ID_LEN];
    expect_digests(a, b, true, "two empty stores differ");
    insert_patient(a, "Brown", p);
    set_text(a, p, "given", "Ann");
    expect_digests(a, b, false, "writes left the digest as it was");
    deliver(a, b);
    expect_digests(a, b, true, "same commits, different digests");
    set_text(a, p, "given", "Anne");
    expect_digests(a, b, false, "one more write left the digest as it was");
    deliver(a, b);
    expect_digests(a, b, true, "same commits, different digests");
    node_store_close(a);
    node_store_close(b);
}
END_TEST

/* ===== suite ========================================================================= */

Suite *node_read_suite(void);
Suite *node_read_suite(void)
{
    Suite *s = suite_create("node_read_suite");
    TCase *tc = fixture_tcase(s, "row_reads");
    tcase_add_test(tc, test_retraction_and_its_undoing);
    tcase_add_test(tc, test_rows_each_filter_in_id_order);
    tcase_add_test(tc, test_row_table_finds_the_table);
    tcase_add_test(tc, test_patient_links_canonical_id);
    tc = fixture_tcase(s, "digest");
    tcase_add_test(tc, test_digest_reads_state);
    return s;
}
