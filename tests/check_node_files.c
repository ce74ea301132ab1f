/* tests/check_node_files.c - moving commits through files and rebuilding state (DESIGN.md
 * section 4): log files (round trip, every kind of bad file refused with the store
 * unchanged), vector files (round trip, bad lines named by line number) and
 * rematerialization (the digest kept, tampered rows repaired). The shared fixture is
 * node_fixture.h. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "crdt/vv.h"
#include "node/logfile.h"
#include "node/store.h"
#include "schema/schema.h"
#include "tests/node_fixture.h"
#include "tests/support.h"
#include "tests/trust_fixture.h"

/* ===== log and vector files ========================================================== */

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert(n == 0 || fwrite(p, 1, n, f) == n);
    fclose(f);
}

START_TEST(test_logfile_round_trip)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS), *c = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Files CA");
    node_store *all[] = {a, b, c};
    for (size_t i = 0; i < 3; i++)
        (void)tca_enroll(&ca, all[i]);
    uint8_t p[ID_LEN], q[ID_LEN];
    insert_patient(b, "Brown", p);
    insert_patient(c, "Clark", q);
    set_text(c, q, "given", "Cleo");
    char path[4096];
    path_in(path, "all.outpostlog");
    size_t n = 0;
    CK_OK(node_logfile_export(c, NULL, path, &n, &err)); /* C's commits reach A through B */
    CK_OK(node_logfile_import(b, path, NULL, &err));
    CK_OK(node_logfile_export(b, NULL, path, &n, &err));
    ck_assert_uint_eq(n, counts(b).commits);
    node_logfile_stats s;
    CK_OK(node_logfile_import(a, path, &s, &err));
    ck_assert_uint_eq(s.units.commits, n);
    ck_assert_uint_eq(s.applied, n);
    ck_assert_uint_eq(s.units.deferred + s.units.equivocations + s.units.frozen, 0);
    expect_digests(a, b, true, "after a log file");
    crdt_vv held = held_of(a); /* given a's vector nothing is left to carry */
    CK_OK(node_logfile_export(b, &held, path, &n, &err));
    crdt_vv_free(&held);
    ck_assert_uint_eq(n, 0);
    CK_OK(node_logfile_import(a, path, &s, &err));
    ck_assert_uint_eq(s.units.units + s.units.commits + s.applied, 0);
    world_end(&w);
}
END_TEST

/* An unenrolled node can neither send nor receive: nothing it could verify or sign. */
START_TEST(test_logfile_needs_enrolment)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    uint8_t p[ID_LEN];
    insert_patient(b, "Brown", p);
    char path[4096];
    path_in(path, "x.outpostlog");
    CK_FAILS(node_logfile_export(b, NULL, path, NULL, &err), SN_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.hint, "enrol"));
    tca ca;
    tca_make(&ca, "Files CA");
    (void)tca_enroll(&ca, b);
    CK_OK(node_logfile_export(b, NULL, path, NULL, &err));
    snap before = snap_take(a);
    CK_FAILS(node_logfile_import(a, path, NULL, &err), SN_ENOTFOUND);
    snap_expect(a, &before, "unenrolled import");
    snap_free(&before);
    world_end(&w);
}
END_TEST

/* _i: the kind of bad file. */
START_TEST(test_logfile_bad_file_refused)
{
    static const struct {
        const char *name;
        int want;
    } kinds[] = {{"flipped byte", SN_ECORRUPT}, {"truncated", SN_ECORRUPT},
                 {"empty", SN_ECORRUPT},        {"not a log", SN_ECORRUPT},
                 {"newer format", SN_EVERSION}, {"missing", SN_ENOTFOUND},
                 {"older format", SN_EVERSION}};
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Files CA");
    (void)tca_enroll(&ca, a);
    (void)tca_enroll(&ca, b);
    uint8_t p[ID_LEN];
    insert_patient(a, "Adams", p);
    insert_patient(b, "Brown", p);
    set_text(b, p, "family", "Smith");
    char good[4096], path[4096], name[32];
    snprintf(name, sizeof name, "bad-%d.outpostlog", _i);
    path_in(good, "good.outpostlog");
    path_in(path, name);
    CK_OK(node_logfile_export(b, NULL, good, NULL, &err));
    uint8_t f[8192];
    FILE *in = fopen(good, "rb");
    ck_assert_ptr_nonnull(in);
    size_t n = fread(f, 1, sizeof f, in);
    fclose(in);
    ck_assert(n > 64 && n < sizeof f);
    switch (_i) {
    case 0: /* a byte of a value, so the body still decodes: only the checksum tells */
        ck_assert_ptr_nonnull(memmem(f, n, "Smith", 5));
        ((uint8_t *)memmem(f, n, "Smith", 5))[0] ^= 0x01;
        break;
    case 1: n -= 10; break;
    case 2: n = 0; break;
    case 3: n = (size_t)snprintf((char *)f, sizeof f, "sign-public 00112233\nnot a log\n"); break;
    case 4:
    case 6:
        f[8] = _i == 4 ? 4 : 1; /* the format byte, with the checksum made right again */
        sn_blake2b(f + n - 32, 32, f, n - 32);
        break;
    default: break;
    }
    if (_i != 5)
        write_bytes(path, f, n);
    snap before = snap_take(a);
    node_logfile_stats s;
    CK_FAILS(node_logfile_import(a, path, &s, &err), kinds[_i].want);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s: message does not name the file: %s",
                  kinds[_i].name, err.msg);
    snap_expect(a, &before, kinds[_i].name);
    snap_free(&before);
    CK_OK(node_logfile_import(a, good, &s, &err));
    ck_assert_uint_eq(s.units.commits, 2);
    ck_assert_uint_eq(s.applied, 2);
    world_end(&w);
}
END_TEST

START_TEST(test_vecfile_round_trip_and_bad_lines)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    uint8_t p[ID_LEN];
    insert_patient(b, "Brown", p);
    set_text(b, p, "given", "Ann");
    insert_patient(a, "Adams", p);
    deliver(b, a);
    crdt_vv held = held_of(a), back = {0}, empty = {0};
    ck_assert_uint_eq(held.n, 2);
    char path[4096], want[4200];
    path_in(path, "held.vec");
    CK_OK(node_vecfile_write(&held, path, &err));
    CK_OK(node_vecfile_read(&back, path, &err));
    ck_assert(crdt_vv_equal(&held, &back));
    CK_OK(node_vecfile_write(&empty, path, &err));
    CK_OK(node_vecfile_read(&back, path, &err));
    ck_assert_uint_eq(back.n, 0);
#define REPLICA "00112233445566778899aabbccddeeff"
    static const struct {
        const char *text;
        int line;
    } bad[] = {{"# held\n" REPLICA " 1 4\nnot a vector line\n", 3},
               {REPLICA " 1 4\n\n0011 1 4\n", 3},
               {"# seq 0 is no entry\n" REPLICA " 1 0\n", 2},
               {REPLICA " 1 4 extra\n", 1},
               {REPLICA " 1 -1\n", 1}};
#undef REPLICA
    crdt_vv_free(&held);
    world_end(&w);
    path_in(path, "bad.vec");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_bytes(path, bad[i].text, strlen(bad[i].text));
        snprintf(want, sizeof want, "%s:%d", path, bad[i].line);
        sn_err_clear(&err);
        int rc = node_vecfile_read(&back, path, &err);
        crdt_vv_free(&back);
        ck_assert_msg(rc == SN_EINVAL && strstr(err.msg, want) != NULL,
                      "case %zu read as %s (%s), want EINVAL naming %s: %s", i, sn_err_name(rc),
                      err.msg, want, bad[i].text);
    }
    path_in(path, "missing.vec");
    CK_FAILS(node_vecfile_read(&back, path, &err), SN_ENOTFOUND);
}
END_TEST

/* ===== rematerialize ================================================================= */

static void remat(node_store *st, const node_rowref *rows, size_t n, const uint8_t want[16],
                  const char *what)
{
    sn_err err = SN_ERR_INIT;
    uint8_t d[16];
    CK_OK(node_store_rematerialize(st, rows, n, &err));
    digest(st, d);
    ck_assert_msg(memcmp(d, want, 16) == 0, "%s: digest differs after rematerialize", what);
    CK_OK(node_store_check(st, &err));
}

START_TEST(test_rematerialize_keeps_digest)
{
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS), *c = add(&w, BASE_MS);
    uint8_t p[ID_LEN], q[ID_LEN], d0[16];
    char v[64];
    two_writers(&w, b, c, p);
    /* a gets c's own commits first (b's patient known from c's sets only), then b's. */
    blist *lc = exp_list(&w, c, NULL), *own = lst(&w);
    for (size_t i = 0; i < lc->n; i++) {
        crdt_origin o;
        uint64_t seq;
        peek(&lc->v[i], &o, &seq);
        if (crdt_origin_equal(&o, node_store_origin(c)))
            blist_push(own, lc->v[i].p, lc->v[i].n);
    }
    import_ok(a, own->v, own->n);
    ck_assert(!shows(a, p, "family", v));
    deliver(b, a);
    insert_patient(a, "Adams", q);
    set_text(a, p, "phone", "0123");
    retract(a, q, NULL);
    node_counts before = counts(a);
    ck_assert_uint_ge(before.conflicts, 1);
    digest(a, d0);
    node_rowref some[2] = {{.table = tbl("patient")}, {.table = tbl("patient")}};
    memcpy(some[0].id, p, ID_LEN);
    memcpy(some[1].id, q, ID_LEN);
    remat(a, some, 2, d0, "two rows");
    remat(a, NULL, 0, d0, "every row");
    ck_assert_uint_eq(counts(a).conflicts, before.conflicts);
    world_end(&w);
}
END_TEST

/* Overwrite patient.family of row id in store.db, behind the engine's back. */
static void tamper(const char *dir, const uint8_t id[ID_LEN])
{
    char db[4200];
    snprintf(db, sizeof db, "%s/store.db", dir);
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    ck_assert_int_eq(sqlite3_prepare_v2(h, "UPDATE patient SET family = 'X' WHERE id = ?1", -1,
                                        &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(s, 1, id, ID_LEN, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
    ck_assert_int_eq(sqlite3_changes(h), 1);
    sqlite3_finalize(s);
    sqlite3_close(h);
}

START_TEST(test_rematerialize_repairs_tampered_rows)
{
    world w = {0};
    node_store *a = add(&w, BASE_MS);
    uint8_t p1[ID_LEN], p2[ID_LEN], d0[16], d1[16];
    char v[64];
    insert_patient(a, "Brown", p1);        /* family as inserted: no cell of its own */
    insert_patient(a, "Green", p2);
    set_text(a, p2, "family", "Grey"); /* family with a cell of its own */
    digest(a, d0);
    const uint8_t *rows[2] = {p1, p2};
    for (int i = 0; i < 2; i++) {
        tamper(w.dir[0], rows[i]);
        shows(a, rows[i], "family", v);
        ck_assert_str_eq(v, "X");
        digest(a, d1);
        ck_assert_msg(memcmp(d0, d1, 16) != 0, "row %d: digest blind to a tampered value", i);
        node_rowref ref = {.table = tbl("patient")};
        memcpy(ref.id, rows[i], ID_LEN);
        remat(a, i == 0 ? &ref : NULL, i == 0 ? 1 : 0, d0, i == 0 ? "the row" : "every row");
        shows(a, rows[i], "family", v);
        ck_assert_str_eq(v, i == 0 ? "Brown" : "Grey");
    }
    world_end(&w);
}
END_TEST

/* ===== suite ========================================================================= */

Suite *node_files_suite(void);
Suite *node_files_suite(void)
{
    Suite *s = suite_create("node_files_suite");
    TCase *tc = fixture_tcase(s, "files");
    tcase_add_test(tc, test_logfile_round_trip);
    tcase_add_loop_test(tc, test_logfile_bad_file_refused, 0, 7);
    tcase_add_test(tc, test_logfile_needs_enrolment);
    tcase_add_test(tc, test_vecfile_round_trip_and_bad_lines);
    tc = fixture_tcase(s, "rematerialize");
    tcase_add_test(tc, test_rematerialize_keeps_digest);
    tcase_add_test(tc, test_rematerialize_repairs_tampered_rows);
    return s;
}
