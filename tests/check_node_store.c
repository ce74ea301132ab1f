/* tests/check_node_store.c - the node store through its public API (DESIGN.md sections 2-4):
 * identity (files, modes, reopen, names, a clock that never runs backwards), local writes
 * (values, authorship, cells, and bad input of every kind leaving the store unchanged) and
 * batches (a failing commit is rolled back alone, whatever the point of failure). Row reads
 * and the digest are in check_node_read.c; the shared fixture is node_fixture.h. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "crdt/vv.h"
#include "node/store.h"
#include "schema/codec.h"
#include "schema/schema.h"
#include "tests/node_fixture.h"
#include "tests/support.h"

/* ===== identity ====================================================================== */

static void file_path(char *out, const char *dir, const char *file)
{
    snprintf(out, 4200, "%s/%s", dir, file);
}

static void expect_mode(const char *dir, const char *file, mode_t want)
{
    char path[4200];
    struct stat sb;
    file_path(path, dir, file);
    ck_assert_msg(stat(path, &sb) == 0 && S_ISREG(sb.st_mode), "%s is missing", path);
    ck_assert_msg((sb.st_mode & 07777) == want, "%s has mode %04o, want %04o", path,
                  (unsigned)(sb.st_mode & 07777), (unsigned)want);
}

static char *slurp(const char *dir, const char *file)
{
    char path[4200];
    file_path(path, dir, file);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = calloc(1, 1 << 16);
    ck_assert_ptr_nonnull(buf);
    buf[fread(buf, 1, (1 << 16) - 1, f)] = '\0';
    fclose(f);
    return buf;
}

/* The keys file has the lines "label <lower-case hex>" of the three key pairs. */
static void expect_key_lines(const char *dir)
{
    static const struct {
        const char *label;
        size_t hexlen;
    } want[] = {{"sign-public", 64}, {"sign-secret", 128}, {"noise-public", 64},
                {"noise-secret", 64}, {"box-public", 64},  {"box-secret", 64}};
    char *keys = slurp(dir, "keys"), pat[64];
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf(pat, sizeof pat, "\n%s ", want[i].label);
        const char *p = strstr(keys, pat);
        ck_assert_msg(p != NULL, "keys file has no '%s' line", want[i].label);
        size_t n = strspn(p + strlen(pat), "0123456789abcdef");
        ck_assert_msg(n == want[i].hexlen && p[strlen(pat) + n] == '\n',
                      "'%s' has %zu hex digits", want[i].label, n);
    }
    free(keys);
}

START_TEST(test_create_makes_private_files_with_keys)
{
    sn_err err = SN_ERR_INIT;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/fresh", g_dir);
    test_clock clock = {BASE_MS};
    node_open_opts o = OPTS(&clock);
    mode_t old = umask(022); /* the usual umask: privacy must not depend on a stricter one */
    sn_err_clear(&err);
    int rc = node_store_create(dir, "north-base", &o, &err);
    umask(old);
    ck_assert_msg(rc == 0, "create: %s", err.msg);
    expect_mode(dir, "keys", 0600);
    expect_key_lines(dir);
    node_store *st = reopen(dir, &clock);
    ck_assert_str_eq(node_store_name(st), "north-base");
    ck_assert_uint_eq(node_store_origin(st)->epoch, 1);
    ck_assert_uint_eq(counts(st).commits, 0);
    node_store_close(st);
    expect_mode(dir, "store.db", 0600); /* clinical records: as private as the keys */
}
END_TEST

/* A refused create leaves the store as it was; reopening keeps origin, name and state. */
START_TEST(test_create_on_existing_store_refused_intact)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096];
    node_store *st = mk("exists", &clock, dir);
    uint8_t p[ID_LEN];
    insert_patient(st, "Brown", p);
    crdt_origin origin = *node_store_origin(st);
    snap before = snap_take(st);
    node_store_close(st);
    char *keys = slurp(dir, "keys");
    node_open_opts o = OPTS(&clock);
    CK_FAILS(node_store_create(dir, "intruder", &o, &err), SN_EINVAL);
    ck_assert_msg(strstr(err.msg, dir) != NULL, "message does not name the directory: %s",
                  err.msg);
    char *keys2 = slurp(dir, "keys");
    ck_assert_msg(strcmp(keys, keys2) == 0, "the keys file changed");
    free(keys);
    free(keys2);
    for (int i = 0; i < 2; i++) {
        st = reopen(dir, &clock);
        ck_assert(crdt_origin_equal(node_store_origin(st), &origin));
        ck_assert_str_eq(node_store_name(st), strrchr(dir, '/') + 1);
        snap_expect(st, &before, "reopened after a refused create");
        node_store_close(st);
    }
    snap_free(&before);
    st = mk("exists", &clock, NULL);
    ck_assert(!crdt_origin_equal(node_store_origin(st), &origin)); /* each store its own */
    node_store_close(st);
}
END_TEST

/* A directory holding a key file but no database: create refuses, and must not delete
 * secret keys it did not make. */
START_TEST(test_create_refused_by_key_file_keeps_it)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/keys-only", g_dir);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    file_path(path, dir, "keys");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("# keys put here by an administrator\n", f);
    fclose(f);
    node_open_opts o = OPTS(&clock);
    CK_FAILS(node_store_create(dir, "node", &o, &err), SN_EINVAL);
    ck_assert_msg(access(path, F_OK) == 0,
                  "a refused create deleted the key file it found (%s): %s", path, err.msg);
}
END_TEST

START_TEST(test_open_without_store_not_found_with_hint)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_open_opts o = OPTS(&clock);
    char missing[4200];
    file_path(missing, g_dir, "no-such-dir");
    const char *dirs[2] = {g_dir, missing};
    for (int i = 0; i < 2; i++) {
        node_store *st = (node_store *)&o; /* must be reset */
        CK_FAILS(node_store_open(&st, dirs[i], &o, &err), SN_ENOTFOUND);
        ck_assert_ptr_null(st);
        ck_assert_msg(err.hint[0] != '\0', "no hint with: %s", err.msg);
        ck_assert_msg(strstr(err.msg, dirs[i]) != NULL, "message does not name the directory");
    }
    ck_assert_msg(access(missing, F_OK) != 0, "open created %s", missing);
}
END_TEST

START_TEST(test_bad_names_refused)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_open_opts o = OPTS(&clock);
    char longest[66] = {0}, too_long[66] = {0}, dir[4200];
    memset(longest, 'n', 64);
    memset(too_long, 'n', 65);
    const char *bad[] = {"", too_long, "tab\there"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(dir, sizeof dir, "%s/bad-%zu", g_dir, i);
        CK_FAILS(node_store_create(dir, bad[i], &o, &err), SN_EINVAL);
        node_store *st = NULL;
        CK_FAILS(node_store_open(&st, dir, &o, &err), SN_ENOTFOUND);
    }
    file_path(dir, g_dir, "longest");
    CK_OK(node_store_create(dir, longest, &o, &err));
    node_store *st = reopen(dir, &clock);
    ck_assert_str_eq(node_store_name(st), longest);
    node_store_close(st);
}
END_TEST

START_TEST(test_hlc_never_backwards_across_restart)
{
    test_clock clock = {BASE_MS + HOUR_MS};
    char dir[4096];
    node_store *st = mk("hlc", &clock, dir);
    uint8_t p[ID_LEN];
    node_commit_info first = insert_patient(st, "Brown", p);
    ck_assert_uint_eq(CRDT_HLC_MS(first.hlc), BASE_MS + HOUR_MS);
    node_store_close(st);
    clock.ms = BASE_MS - 24 * HOUR_MS; /* the wall clock jumped a day back */
    st = reopen(dir, &clock);
    node_commit_info second = set_text(st, p, "family", "Smith");
    ck_assert_uint_eq(second.seq, first.seq + 1);
    ck_assert_msg(second.hlc > first.hlc, "hlc went backwards across a restart: %llx after %llx",
                  (unsigned long long)second.hlc, (unsigned long long)first.hlc);
    ck_assert(set_text(st, p, "family", "Jones").hlc > second.hlc);
    node_store_close(st);
}
END_TEST

/* ===== local writes ================================================================== */

START_TEST(test_local_insert_and_set_visible)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk("write", &clock, NULL);
    const crdt_origin *self = node_store_origin(st);
    node_write *w = NULL;
    schema_field f[4] = {fld("patient", "family", txt("Brown")),
                         fld("patient", "given", txt("Ann")),
                         fld("patient", "birth_date", txt("1980-02-29")),
                         fld("patient", "gender", txt("female"))};
    uint8_t p[ID_LEN];
    node_commit_info ins = {0};
    CK_OK(node_write_begin(st, "dr-ana", "clerk-bo", &w, &err));
    CK_OK(node_write_insert(w, tbl("patient"), f, 4, p, &err));
    CK_OK(node_write_commit(w, &ins, &err));
    ck_assert_uint_eq(ins.seq, 1);
    clock.ms += 10;
    node_commit_info set = set_text(st, p, "family", "Smith");
    ck_assert_uint_eq(set.seq, 2);
    ck_assert(set.hlc > ins.hlc);

    node_row *r = row_of(st, "patient", p);
    ck_assert(r->inserted && !r->retracted && memcmp(r->id, p, ID_LEN) == 0);
    ck_assert(crdt_origin_equal(&r->dot.origin, self) && r->dot.seq == 1);
    ck_assert_uint_eq(r->hlc, ins.hlc);
    ck_assert_str_eq(r->author, "dr-ana");
    ck_assert_ptr_nonnull(r->entered_by);
    ck_assert_str_eq(r->entered_by, "clerk-bo");
    const char *shown[4][2] = {
        {"family", "Smith"}, {"given", "Ann"}, {"birth_date", "1980-02-29"}, {"gender", "female"}};
    for (int i = 0; i < 4; i++)
        ck_assert_msg(is_text(&r->values[cidx("patient", shown[i][0])], shown[i][1]), "%s",
                      shown[i][0]);
    ck_assert_int_eq(r->values[cidx("patient", "phone")].kind, SCHEMA_V_NIL);
    ck_assert(!r->conflict[cidx("patient", "family")]);
    node_row_free(r);

    /* The set cell: one sibling with the set's dot; the untouched one: the insert's. */
    node_cell *c = NULL;
    CK_OK(node_store_cell_get(st, tbl("patient"), p, col("patient", "family"), &c, &err));
    ck_assert(c->known && !c->conflict);
    ck_assert_uint_eq(c->nsibs, 1);
    ck_assert(crdt_origin_equal(&c->sibs[0].dot.origin, self) && c->sibs[0].dot.seq == set.seq);
    ck_assert_uint_eq(c->sibs[0].hlc, set.hlc);
    ck_assert(is_text(&c->sibs[0].value, "Smith") && is_text(&c->winner, "Smith"));
    ck_assert_uint_eq(crdt_vv_get(&c->ctx, self), set.seq);
    node_cell_free(c);
    CK_OK(node_store_cell_get(st, tbl("patient"), p, col("patient", "given"), &c, &err));
    ck_assert(c->nsibs == 1 && c->sibs[0].dot.seq == ins.seq && is_text(&c->winner, "Ann"));
    node_cell_free(c);
    CK_OK(node_store_check(st, &err));
    node_store_close(st);
}
END_TEST

/* Bad input: each case makes `npre` valid changes, then one bad one. */
typedef struct bad_fx {
    uint8_t patient[ID_LEN], ident[ID_LEN], nowhere[ID_LEN];
} bad_fx;

static const struct {
    const char *name;
    int want;
    size_t npre;
} bad_cases[] = {
    {"set on a fixed column", SN_EINVAL, 0},
    {"set on an unknown row", SN_ENOTFOUND, 0},
    {"encounter of an unknown patient", SN_ENOTFOUND, 0},
    {"insert with birth date 1990-02-30", SN_EINVAL, 0},
    {"set birth date 1990-02-30", SN_EINVAL, 0},
    {"patient without family", SN_EINVAL, 0},
    {"gender 'x'", SN_EINVAL, 0},
    {"insert with gender 'x'", SN_EINVAL, 0},
    {"two changes to one cell", SN_EINVAL, 1},
    {"an integer into a text column", SN_EINVAL, 0},
    {"a required column set to nil", SN_EINVAL, 0},
    {"unknown column", SN_EINVAL, 0},
    {"unknown table", SN_EINVAL, 0},
};
#define NBAD ((int)(sizeof bad_cases / sizeof bad_cases[0]))

static int set_val(node_write *w, const char *t, const uint8_t *row, const char *c,
                   schema_value v, sn_err *err)
{
    return node_write_set(w, tbl(t), row, col(t, c), &v, err);
}

/* An insert of (c1, v1) and, when c2 is not NULL, (c2, v2) into patient. */
static int ins_patient(node_write *w, const char *c1, schema_value v1, const char *c2,
                       schema_value v2, sn_err *err)
{
    schema_field f[2] = {fld("patient", c1, v1), c2 != NULL ? fld("patient", c2, v2) : f[0]};
    uint8_t id[ID_LEN];
    return node_write_insert(w, tbl("patient"), f, c2 != NULL ? 2 : 1, id, err);
}

static int bad_run(int k, node_write *w, const bad_fx *fx, sn_err *err)
{
    schema_value v = txt("x");
    uint8_t id[ID_LEN];
    schema_field enc[2] = {fld("encounter", "patient_id", schema_value_id(fx->nowhere)),
                           fld("encounter", "start", txt("2024-03-01T09:30"))};
    switch (k) {
    case 0: return set_val(w, "patient_identifier", fx->ident, "system", v, err);
    case 1: return set_val(w, "patient", fx->nowhere, "family", txt("X"), err);
    case 2: return node_write_insert(w, tbl("encounter"), enc, 2, id, err);
    case 3: return ins_patient(w, "family", txt("Doe"), "birth_date", txt("1990-02-30"), err);
    case 4: return set_val(w, "patient", fx->patient, "birth_date", txt("1990-02-30"), err);
    case 5: return ins_patient(w, "given", txt("Ann"), NULL, v, err);
    case 6: return set_val(w, "patient", fx->patient, "gender", v, err);
    case 7: return ins_patient(w, "family", txt("Doe"), "gender", v, err);
    case 8:
        ck_assert_int_eq(set_val(w, "patient", fx->patient, "family", txt("First"), err), 0);
        return set_val(w, "patient", fx->patient, "family", txt("Second"), err);
    case 9: return set_val(w, "patient", fx->patient, "family", schema_value_int(5), err);
    case 10: return set_val(w, "patient", fx->patient, "family", schema_value_nil(), err);
    case 11: return node_write_set(w, tbl("patient"), fx->patient, 200, &v, err);
    default: return node_write_insert(w, 200, enc, 1, id, err);
    }
}

/* _i = 2 * case + mode. Mode 0: the write goes on with a valid change and commits; mode 1:
 * it is aborted. Either way the bad change leaves no trace. */
START_TEST(test_bad_input_leaves_store_unchanged)
{
    int k = _i / 2;
    const char *name = bad_cases[k].name;
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk("bad", &clock, NULL);
    bad_fx fx;
    insert_patient(st, "Brown", fx.patient);
    schema_field f[3] = {fld("patient_identifier", "patient_id", schema_value_id(fx.patient)),
                         fld("patient_identifier", "system", txt("hospital")),
                         fld("patient_identifier", "value", txt("H123"))};
    insert_row(st, "patient_identifier", f, 3, fx.ident);
    memset(fx.nowhere, 0x5a, sizeof fx.nowhere);
    snap before = snap_take(st);

    node_write *w = NULL;
    CK_OK(node_write_begin(st, "dr-bad", NULL, &w, &err));
    sn_err_clear(&err);
    int rc = bad_run(k, w, &fx, &err);
    ck_assert_msg(rc == bad_cases[k].want && err.msg[0] != '\0', "%s: got %s (%s), want %s",
                  name, sn_err_name(rc), err.msg, sn_err_name(bad_cases[k].want));
    snap_expect(st, &before, name);
    if (_i % 2 == 1) {
        node_write_abort(w);
        snap_expect(st, &before, name);
        snap_free(&before);
        node_store_close(st);
        return;
    }
    node_commit_info info = {0};
    CK_OK(set_val(w, "patient", fx.patient, "given", txt("Valid"), &err));
    CK_OK(node_write_commit(w, &info, &err));
    ck_assert_uint_eq(info.seq, before.counts.commits + 1);
    snap_free(&before);
    blist l = {0}; /* the new commit, the last exported, holds the valid changes only */
    CK_OK(node_store_export(st, NULL, blist_emit, &l, &err));
    schema_commit *c = NULL;
    CK_OK(schema_commit_decode(l.v[l.n - 1].p, l.v[l.n - 1].n, &c, &err));
    ck_assert_msg(c->seq == info.seq && c->nchanges == bad_cases[k].npre + 1,
                  "%s: the commit holds %zu changes", name, c->nchanges);
    ck_assert(c->changes[c->nchanges - 1].op == SCHEMA_OP_SET &&
              c->changes[c->nchanges - 1].col == col("patient", "given"));
    schema_commit_free(c);
    blist_free(&l);
    node_row *r = row_of(st, "patient", fx.patient);
    ck_assert(is_text(&r->values[cidx("patient", "given")], "Valid"));
    node_row_free(r);
    CK_OK(node_store_check(st, &err));
    node_store_close(st);
}
END_TEST

/* ===== batches ======================================================================= */

START_TEST(test_batch_commits_all)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096];
    node_store *st = mk("batch", &clock, dir);
    uint8_t ids[100][ID_LEN];
    CK_OK(node_store_batch_begin(st, &err));
    CK_FAILS(node_store_batch_begin(st, &err), SN_EINVAL); /* one at a time */
    insert_many(st, 100, ids, 0);
    CK_OK(node_store_batch_commit(st, &err));
    CK_FAILS(node_store_batch_commit(st, &err), SN_EINVAL);
    for (int pass = 0; pass < 2; pass++) {
        ck_assert_uint_eq(counts(st).commits, 100);
        expect_rows(st, 100, ids, true);
        CK_OK(node_store_check(st, &err));
        node_store_close(st);
        st = pass == 0 ? reopen(dir, &clock) : NULL;
    }
}
END_TEST

/* In a batch, between good commits, one commit fails: n = -1 is a commit too big for one
 * body; n >= 0 fails its n-th allocation (SQLite's included), for n = 0, 1, ... until one
 * fires no fault. Every other commit survives, the next one takes the following seq (no
 * gap), the batch commits and the store passes its check. */
START_TEST(test_batch_failing_commit_rolled_back_alone_or_batch_lost)
{
    test_clock clock = {BASE_MS};
    for (long n = -1;; n++) {
        sn_err err = SN_ERR_INIT, berr = SN_ERR_INIT, cerr = SN_ERR_INIT;
        node_store *st = mk("batchfail", &clock, NULL);
        uint8_t ids[4][ID_LEN], lost[ID_LEN];
        insert_many(st, 1, ids, 0);
        CK_OK(node_store_batch_begin(st, &err));
        insert_many(st, 2, ids + 1, 1);
        size_t len = n < 0 ? SCHEMA_COMMIT_MAX + 16 : 6;
        char *family = calloc(1, len + 1);
        ck_assert_ptr_nonnull(family);
        memset(family, 'a', len);
        schema_field f = fld("patient", "family", txt(family));
        node_write *w = NULL;
        CK_OK(node_write_begin(st, "dr-batch", NULL, &w, &err));
        CK_OK(node_write_insert(w, tbl("patient"), &f, 1, lost, &err));
        sn_err_clear(&err);
        if (n >= 0)
            sn_fault_arm(SN_FAULT_ALLOC, n, 1);
        int rc = node_write_commit(w, NULL, &err);
        bool fired = n < 0 || sn_fault_disarm();
        free(family);
        if (!fired) {
            ck_assert_msg(rc == 0 && n > 0, "n=%ld: %s", n, err.msg);
            node_store_close(st);
            break;
        }
        ck_assert_msg(n < 0 ? rc == SN_ETOOBIG : rc == 0 || rc == SN_ENOMEM, "n=%ld: %s (%s)",
                      n, sn_err_name(rc), err.msg);
        ck_assert_msg(rc == 0 || err.msg[0] != '\0', "n=%ld: no message", n);
        uint64_t kept = counts(st).commits, want = rc == 0 ? 4 : 3;
        if (rc != 0 && kept == 1) {
            /* SQLite abandoned the whole transaction: the batch is lost, and says so to every
             * later write and to batch_commit; nothing of it leaks out, and after an abort
             * the node writes on from its last durable commit. */
            node_write *w2 = NULL;
            CK_OK(node_write_begin(st, "dr-batch", NULL, &w2, &err));
            schema_field f2 = fld("patient", "family", txt("Lost"));
            CK_OK(node_write_insert(w2, tbl("patient"), &f2, 1, lost, &err));
            sn_err_clear(&err);
            ck_assert_int_eq(node_write_commit(w2, NULL, &err), SN_EIO);
            ck_assert_msg(strstr(err.msg, "rolled back") != NULL, "n=%ld: %s", n, err.msg);
            ck_assert_int_eq(node_store_batch_commit(st, &berr), SN_EIO);
            ck_assert_uint_eq(counts(st).commits, 1);
            CK_OK(node_store_check(st, &cerr));
            ck_assert_uint_eq(insert_patient(st, "After", ids[3]).seq, 2);
            node_store_close(st);
            continue;
        }
        uint64_t next = insert_patient(st, "After", ids[3]).seq;
        int brc = node_store_batch_commit(st, &berr), crc = node_store_check(st, &cerr);
        if (kept == want && brc == 0) {
            expect_rows(st, 4, ids, true);
            expect_row(st, lost, rc == 0, "the failed commit's row");
        }
        node_store_close(st);
        ck_assert_msg(kept == want && next == want + 1 && brc == 0 && crc == 0,
                      "n=%ld, the commit failed with %s (%s); then the batch held %llu commits "
                      "(want %llu), the next commit got seq %llu (want %llu), batch_commit "
                      "gave %s (%s), check gave %s (%s)",
                      n, sn_err_name(rc), err.msg, (unsigned long long)kept,
                      (unsigned long long)want, (unsigned long long)next,
                      (unsigned long long)want + 1, sn_err_name(brc), berr.msg, sn_err_name(crc),
                      cerr.msg);
    }
}
END_TEST

START_TEST(test_batch_abort_discards_all)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk("abort", &clock, NULL);
    uint8_t ids[12][ID_LEN];
    insert_many(st, 2, ids, 0);
    snap before = snap_take(st);
    CK_OK(node_store_batch_begin(st, &err));
    insert_many(st, 10, ids + 2, 2);
    node_store_batch_abort(st);
    snap_expect(st, &before, "after batch_abort");
    snap_free(&before);
    expect_rows(st, 10, ids + 2, false);
    expect_rows(st, 2, ids, true);
    CK_FAILS(node_store_batch_commit(st, &err), SN_EINVAL);
    ck_assert_uint_eq(set_text(st, ids[0], "family", "After").seq, 3);
    CK_OK(node_store_check(st, &err));
    node_store_close(st);
}
END_TEST

/* ===== suite ========================================================================= */

Suite *node_store_suite(void);
Suite *node_store_suite(void)
{
    Suite *s = suite_create("node_store_suite");
    TCase *tc = fixture_tcase(s, "identity");
    tcase_add_test(tc, test_create_makes_private_files_with_keys);
    tcase_add_test(tc, test_create_on_existing_store_refused_intact);
    tcase_add_test(tc, test_create_refused_by_key_file_keeps_it);
    tcase_add_test(tc, test_open_without_store_not_found_with_hint);
    tcase_add_test(tc, test_bad_names_refused);
    tcase_add_test(tc, test_hlc_never_backwards_across_restart);
    tc = fixture_tcase(s, "local_writes");
    tcase_add_test(tc, test_local_insert_and_set_visible);
    tcase_add_loop_test(tc, test_bad_input_leaves_store_unchanged, 0, 2 * NBAD);
    tc = fixture_tcase(s, "batch");
    tcase_add_test(tc, test_batch_commits_all);
    tcase_add_test(tc, test_batch_failing_commit_rolled_back_alone_or_batch_lost);
    tcase_add_test(tc, test_batch_abort_discards_all);
    return s;
}
