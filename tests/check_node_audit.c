/* tests/check_node_audit.c - the hash-chained audit log (node/audit.h): appending and
 * listing events with their filters, verification, tampering and deletion showing on
 * verification, independence from the clinical digest, limits, and allocation faults. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "node/audit.h"
#include "node/store.h"
#include "schema/schema.h"
#include "tests/node_fixture.h"
#include "tests/support.h"

/* A copy of what node_audit_each reports (its strings are borrowed for the call). */
typedef struct ev_copy {
    uint64_t seq, wall_ms;
    crdt_hlc hlc;
    char user[80], os_user[80], detail[NODE_AUDIT_DETAIL_MAX + 1];
    char action;
    bool has_patient;
    uint8_t patient[16];
    uint8_t hash[32];
} ev_copy;

typedef struct ev_list {
    ev_copy v[16];
    size_t n;
} ev_list;

static int collect_ev(void *ctx, const node_audit_event *ev, sn_err *err)
{
    (void)err;
    ev_list *l = ctx;
    ck_assert(l->n < 16);
    ev_copy *c = &l->v[l->n++];
    c->seq = ev->seq;
    c->wall_ms = ev->wall_ms;
    c->hlc = ev->hlc;
    snprintf(c->user, sizeof c->user, "%s", ev->user);
    snprintf(c->os_user, sizeof c->os_user, "%s", ev->os_user);
    snprintf(c->detail, sizeof c->detail, "%s", ev->detail);
    c->action = ev->action;
    c->has_patient = ev->has_patient;
    memcpy(c->patient, ev->patient, 16);
    memcpy(c->hash, ev->hash, 32);
    return 0;
}

static ev_list events(node_store *st, const uint8_t *patient, const char *user)
{
    sn_err err = SN_ERR_INIT;
    ev_list l = {0};
    CK_OK(node_audit_each(st, patient, user, collect_ev, &l, &err));
    return l;
}

/* The seqs of l are exactly want[0..n). */
static void expect_seqs(const ev_list *l, const uint64_t *want, size_t n, const char *what)
{
    ck_assert_msg(l->n == n, "%s: %zu events, want %zu", what, l->n, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(l->v[i].seq == want[i], "%s: event %zu has seq %llu, want %llu", what, i,
                      (unsigned long long)l->v[i].seq, (unsigned long long)want[i]);
}

static uint64_t verified_count(node_store *st)
{
    sn_err err = SN_ERR_INIT;
    uint64_t n = 99;
    CK_OK(node_audit_verify(st, &n, &err));
    return n;
}

/* Run `sql` on dir/store.db directly, behind the engine's back; rows changed. */
static int db_exec(const char *dir, const char *sql)
{
    char db[4200];
    snprintf(db, sizeof db, "%s/store.db", dir);
    sqlite3 *h = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    char *msg = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg != NULL ? msg : "?");
    sqlite3_free(msg);
    int changed = sqlite3_changes(h);
    ck_assert_int_eq(sqlite3_close(h), SQLITE_OK);
    return changed;
}

/* Three events: a read of p by dr.a at BASE_MS, a create for q by dr.b a second later,
 * an administrative event without a patient by dr.a a second after that. */
static void three_events(node_store *st, test_clock *clock, const uint8_t *p, const uint8_t *q)
{
    sn_err err = SN_ERR_INIT;
    CK_OK(node_audit_append(st, "dr.a", "alice", NODE_AUDIT_READ, p, "viewed summary", &err));
    clock->ms += 1000;
    CK_OK(node_audit_append(st, "dr.b", "bob", NODE_AUDIT_CREATE, q, "allergy added", &err));
    clock->ms += 1000;
    CK_OK(node_audit_append(st, "dr.a", "alice", NODE_AUDIT_ADMIN, NULL, "added user dr.c",
                            &err));
}

/* ===== audit with a commit ============================================================= */

/* The event travels in the commit's transaction: a commit that fails leaves no event, and a
 * stored commit always has its event, naming the commit. */
START_TEST(test_write_audit_is_atomic_with_its_commit)
{
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("atomic", &clock, NULL);
    uint8_t p[ID_LEN];
    insert_patient(st, "Brown", p);
    uint64_t commits = counts(st).commits;
    const schema_table *pt = schema_table_by_name("patient");
    schema_field f = {.col = schema_column_by_name(pt, "family")->id,
                      .value = schema_value_text("White")};
    for (int attempt = 0; attempt < 2; attempt++) {
        sn_err err = SN_ERR_INIT;
        node_write *w = NULL;
        uint8_t id[ID_LEN];
        CK_OK(node_write_begin(st, "dr.a", NULL, &w, &err));
        CK_OK(node_write_insert(w, pt->id, &f, 1, id, &err));
        CK_OK(node_write_audit(w, "dr.a", "alice", NODE_AUDIT_CREATE, id, "insert patient",
                               &err));
        if (attempt == 0)
            sn_fault_arm(SN_FP_STORE_COMMIT, 0, 1);
        int rc = node_write_commit(w, NULL, &err);
        bool fired = sn_fault_disarm();
        if (attempt == 0) {
            ck_assert(fired);
            ck_assert_int_eq(rc, SN_EIO);
            ck_assert_uint_eq(counts(st).commits, commits);
            ck_assert_uint_eq(events(st, NULL, NULL).n, 0);
            continue;
        }
        CK_OK(rc);
        ck_assert_uint_eq(counts(st).commits, commits + 1);
        ev_list l = events(st, NULL, NULL);
        ck_assert_uint_eq(l.n, 1);
        ck_assert_str_eq(l.v[0].detail, "commit 2: insert patient");
        ck_assert(l.v[0].has_patient && memcmp(l.v[0].patient, id, ID_LEN) == 0);
    }
    ck_assert_uint_eq(verified_count(st), 1);
    close_tracked(st);
}
END_TEST

/* ===== appending and listing =========================================================== */

START_TEST(test_audit_append_and_each)
{
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("audit", &clock, NULL);
    uint8_t p[ID_LEN], q[ID_LEN];
    insert_patient(st, "Brown", p);
    insert_patient(st, "Green", q);
    ck_assert_uint_eq(events(st, NULL, NULL).n, 0);
    ck_assert_uint_eq(verified_count(st), 0);
    three_events(st, &clock, p, q);

    ev_list l = events(st, NULL, NULL);
    expect_seqs(&l, (uint64_t[]){1, 2, 3}, 3, "all");
    ck_assert_str_eq(l.v[0].user, "dr.a");
    ck_assert_str_eq(l.v[0].os_user, "alice");
    ck_assert_int_eq(l.v[0].action, 'R');
    ck_assert(l.v[0].has_patient && memcmp(l.v[0].patient, p, ID_LEN) == 0);
    ck_assert_str_eq(l.v[0].detail, "viewed summary");
    ck_assert_uint_eq(l.v[0].wall_ms, BASE_MS);
    ck_assert_str_eq(l.v[1].user, "dr.b");
    ck_assert_int_eq(l.v[1].action, 'C');
    ck_assert(l.v[1].has_patient && memcmp(l.v[1].patient, q, ID_LEN) == 0);
    ck_assert_uint_eq(l.v[1].wall_ms, BASE_MS + 1000);
    ck_assert_int_eq(l.v[2].action, 'A');
    ck_assert(!l.v[2].has_patient);
    ck_assert_str_eq(l.v[2].detail, "added user dr.c");
    for (size_t i = 1; i < l.n; i++) {
        ck_assert_msg(l.v[i].hlc > l.v[i - 1].hlc, "event %zu: clock did not advance", i + 1);
        ck_assert_msg(memcmp(l.v[i].hash, l.v[i - 1].hash, 32) != 0, "equal hashes");
    }
    /* An empty detail is an event too. */
    sn_err err = SN_ERR_INIT;
    CK_OK(node_audit_append(st, "dr.b", "bob", NODE_AUDIT_EXPORT, NULL, "", &err));
    ck_assert_uint_eq(verified_count(st), 4);
    close_tracked(st);
}
END_TEST

START_TEST(test_audit_filters)
{
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("filters", &clock, NULL);
    uint8_t p[ID_LEN], q[ID_LEN], r[ID_LEN];
    insert_patient(st, "Brown", p);
    insert_patient(st, "Green", q);
    insert_patient(st, "White", r);
    three_events(st, &clock, p, q);
    sn_err err = SN_ERR_INIT;
    CK_OK(node_audit_append(st, "dr.b", "bob", NODE_AUDIT_UPDATE, p, "family changed", &err));
    ev_list l = events(st, p, NULL);
    expect_seqs(&l, (uint64_t[]){1, 4}, 2, "patient p");
    l = events(st, q, NULL);
    expect_seqs(&l, (uint64_t[]){2}, 1, "patient q");
    l = events(st, r, NULL);
    expect_seqs(&l, NULL, 0, "patient r");
    l = events(st, NULL, "dr.a");
    expect_seqs(&l, (uint64_t[]){1, 3}, 2, "user dr.a");
    l = events(st, NULL, "dr.b");
    expect_seqs(&l, (uint64_t[]){2, 4}, 2, "user dr.b");
    l = events(st, NULL, "alice"); /* an OS user is not a clinician id */
    expect_seqs(&l, NULL, 0, "user alice");
    l = events(st, p, "dr.b");
    expect_seqs(&l, (uint64_t[]){4}, 1, "patient p and user dr.b");
    l = events(st, q, "dr.a");
    expect_seqs(&l, NULL, 0, "patient q and user dr.a");
    close_tracked(st);
}
END_TEST

static int stop_now(void *ctx, const node_audit_event *ev, sn_err *err)
{
    (void)ev;
    (void)err;
    (*(int *)ctx)++;
    return 5;
}

START_TEST(test_audit_each_stops_on_nonzero)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("stop", &clock, NULL);
    uint8_t p[ID_LEN];
    insert_patient(st, "Brown", p);
    three_events(st, &clock, p, p);
    int calls = 0;
    ck_assert_int_eq(node_audit_each(st, NULL, NULL, stop_now, &calls, &err), 5);
    ck_assert_int_eq(calls, 1);
    close_tracked(st);
}
END_TEST

/* The chain survives closing and reopening; appends continue it. */
START_TEST(test_audit_persists_across_reopen)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096];
    node_store *st = mk_tracked("persist", &clock, dir);
    uint8_t p[ID_LEN];
    insert_patient(st, "Brown", p);
    three_events(st, &clock, p, p);
    close_tracked(st);
    st = reopen_tracked(dir, &clock);
    ck_assert_uint_eq(verified_count(st), 3);
    CK_OK(node_audit_append(st, "dr.c", "carol", NODE_AUDIT_READ, p, "after reopen", &err));
    ev_list l = events(st, NULL, NULL);
    expect_seqs(&l, (uint64_t[]){1, 2, 3, 4}, 4, "after reopen");
    ck_assert_msg(l.v[3].hlc > l.v[2].hlc, "the clock went back after reopening");
    ck_assert_uint_eq(verified_count(st), 4);
    close_tracked(st);
}
END_TEST

/* ===== verification ==================================================================== */

START_TEST(test_audit_tampering_detected)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096];
    node_store *st = mk_tracked("tamper", &clock, dir);
    uint8_t p[ID_LEN];
    insert_patient(st, "Brown", p);
    three_events(st, &clock, p, p);
    ck_assert_uint_eq(verified_count(st), 3);
    ck_assert_int_eq(db_exec(dir, "UPDATE audit SET detail = 'x' WHERE seq = 2"), 1);
    uint64_t n = 99;
    CK_FAILS(node_audit_verify(st, &n, &err), SN_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "event 2") != NULL, "message '%s' does not name event 2",
                  err.msg);
    ck_assert_uint_eq(n, 1); /* the events before the damage still verify */
    close_tracked(st);
}
END_TEST

START_TEST(test_audit_other_fields_covered)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096];
    node_store *st = mk_tracked("fields", &clock, dir);
    uint8_t p[ID_LEN];
    insert_patient(st, "Brown", p);
    three_events(st, &clock, p, p);
    static const char *const edits[][2] = {
        {"UPDATE audit SET user = 'dr.z' WHERE seq = 1", "event 1"},
        {"UPDATE audit SET action = 'U' WHERE seq = 2", "event 2"},
        {"UPDATE audit SET patient = NULL WHERE seq = 2", "event 2"},
        {"UPDATE audit SET wall_ms = wall_ms + 1 WHERE seq = 3", "event 3"},
        {"UPDATE audit SET os_user = 'eve' WHERE seq = 3", "event 3"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        close_tracked(st);
        st = mk_tracked("fields", &clock, dir);
        insert_patient(st, "Brown", p);
        three_events(st, &clock, p, p);
        ck_assert_int_eq(db_exec(dir, edits[i][0]), 1);
        CK_FAILS(node_audit_verify(st, NULL, &err), SN_ECORRUPT);
        ck_assert_msg(strstr(err.msg, edits[i][1]) != NULL, "%s: message '%s'", edits[i][0],
                      err.msg);
    }
    close_tracked(st);
}
END_TEST

START_TEST(test_audit_deletion_detected)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096];
    node_store *st = mk_tracked("delete", &clock, dir);
    uint8_t p[ID_LEN];
    insert_patient(st, "Brown", p);
    three_events(st, &clock, p, p);
    ck_assert_int_eq(db_exec(dir, "DELETE FROM audit WHERE seq = 2"), 1);
    uint64_t n = 99;
    CK_FAILS(node_audit_verify(st, &n, &err), SN_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "event 3") != NULL && strstr(err.msg, "event 1") != NULL &&
                      strstr(err.msg, "gap") != NULL,
                  "message '%s' does not name the gap after event 1", err.msg);
    ck_assert_uint_eq(n, 1);
    /* Renumbering to hide the gap still breaks the chain. */
    ck_assert_int_eq(db_exec(dir, "UPDATE audit SET seq = 2 WHERE seq = 3"), 1);
    CK_FAILS(node_audit_verify(st, NULL, &err), SN_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "event 2") != NULL, "message '%s'", err.msg);
    /* Deleting the first event shows too. */
    close_tracked(st);
    st = mk_tracked("delete-first", &clock, dir);
    insert_patient(st, "Brown", p);
    three_events(st, &clock, p, p);
    ck_assert_int_eq(db_exec(dir, "DELETE FROM audit WHERE seq = 1"), 1);
    CK_FAILS(node_audit_verify(st, NULL, &err), SN_ECORRUPT);
    close_tracked(st);
}
END_TEST

/* ===== outside the clinical state ======================================================= */

START_TEST(test_audit_outside_the_digest)
{
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("digest", &clock, NULL);
    uint8_t p[ID_LEN];
    insert_patient(st, "Brown", p);
    set_text(st, p, "given", "Ann");
    snap s = snap_take(st);
    three_events(st, &clock, p, p);
    snap_expect(st, &s, "after three audit events");
    /* A clinical write after them lands exactly as it would have without them. */
    set_text(st, p, "given", "Anne");
    node_cell *c = NULL;
    sn_err err = SN_ERR_INIT;
    CK_OK(node_store_cell_get(st, tbl("patient"), p, col("patient", "given"), &c, &err));
    ck_assert(c->nsibs == 1 && is_text(&c->winner, "Anne"));
    node_cell_free(c);
    snap_free(&s);
    close_tracked(st);
}
END_TEST

START_TEST(test_audit_detail_limit)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("limit", &clock, NULL);
    char detail[NODE_AUDIT_DETAIL_MAX + 2];
    memset(detail, 'd', NODE_AUDIT_DETAIL_MAX);
    detail[NODE_AUDIT_DETAIL_MAX] = '\0';
    CK_OK(node_audit_append(st, "dr.a", "alice", NODE_AUDIT_READ, NULL, detail, &err));
    detail[NODE_AUDIT_DETAIL_MAX] = 'd';
    detail[NODE_AUDIT_DETAIL_MAX + 1] = '\0';
    sn_err_clear(&err);
    int rc = node_audit_append(st, "dr.a", "alice", NODE_AUDIT_READ, NULL, detail, &err);
    ck_assert_msg((rc == SN_EINVAL || rc == SN_ETOOBIG) && err.msg[0] != '\0',
                  "an over-long detail gave %s (%s)", sn_err_name(rc), err.msg);
    ck_assert_uint_eq(verified_count(st), 1);
    ev_list l = events(st, NULL, NULL);
    ck_assert_uint_eq(strlen(l.v[0].detail), NODE_AUDIT_DETAIL_MAX);
    close_tracked(st);
}
END_TEST

/* ===== faults ========================================================================== */

/* Every allocation of an append failing in turn (STYLE.md section 9): 0 or SN_ENOMEM with
 * a message, nothing leaked, and after a failure the log verifies with the same count. */
START_TEST(test_audit_append_alloc_faults)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("faults", &clock, NULL);
    uint8_t p[ID_LEN];
    insert_patient(st, "Brown", p);
    three_events(st, &clock, p, p);
    uint64_t count = verified_count(st);
    int failures = 0;
    for (int n = 0;; n++) {
        ck_assert_msg(n < 100000, "the fault keeps firing");
        clock.ms += 10;
        sn_err_clear(&err);
        long live = sn_alloc_live();
        sn_fault_arm(SN_FAULT_ALLOC, n, 1);
        int rc = node_audit_append(st, "dr.a", "alice", NODE_AUDIT_READ, p, "fault pass", &err);
        bool fired = sn_fault_disarm();
        ck_assert_msg(sn_alloc_live() <= live, "n=%d: %ld blocks more live after the append (%s)",
                      n, sn_alloc_live() - live, sn_err_name(rc));
        if (!fired) {
            ck_assert_msg(rc == 0, "n=%d: no fault fired, yet %s: %s", n, sn_err_name(rc),
                          err.msg);
            count++;
            ck_assert_uint_eq(verified_count(st), count);
            break;
        }
        ck_assert_msg(rc == 0 || (rc == SN_ENOMEM && err.msg[0] != '\0'),
                      "n=%d: rc %s, want 0 or ENOMEM with a message: '%s'", n, sn_err_name(rc),
                      err.msg);
        if (rc == 0)
            count++;
        else
            failures++;
        uint64_t now = 0;
        sn_err verr = SN_ERR_INIT;
        int vrc = node_audit_verify(st, &now, &verr);
        ck_assert_msg(vrc == 0, "n=%d: after %s the log does not verify: %s", n,
                      sn_err_name(rc), verr.msg);
        ck_assert_msg(now == count, "n=%d: after %s the log holds %llu events, want %llu", n,
                      sn_err_name(rc), (unsigned long long)now, (unsigned long long)count);
    }
    ck_assert_msg(failures > 0, "no allocation of an append ever failed: not exercised");
    close_tracked(st);
}
END_TEST

Suite *node_audit_suite(void);
Suite *node_audit_suite(void)
{
    Suite *s = suite_create("node_audit_suite");
    TCase *tc = tracked_tcase(s, "events");
    tcase_add_test(tc, test_audit_append_and_each);
    tcase_add_test(tc, test_audit_filters);
    tcase_add_test(tc, test_audit_each_stops_on_nonzero);
    tcase_add_test(tc, test_audit_persists_across_reopen);
    tc = tracked_tcase(s, "verify");
    tcase_add_test(tc, test_audit_tampering_detected);
    tcase_add_test(tc, test_audit_other_fields_covered);
    tcase_add_test(tc, test_audit_deletion_detected);
    tc = tracked_tcase(s, "limits");
    tcase_add_test(tc, test_audit_outside_the_digest);
    tcase_add_test(tc, test_audit_detail_limit);
    tcase_add_test(tc, test_audit_append_alloc_faults);
    tcase_add_test(tc, test_write_audit_is_atomic_with_its_commit);
    return s;
}
