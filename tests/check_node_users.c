/* tests/check_node_users.c - the node's clinicians and authorship (node/users.h): adding,
 * looking up and listing users, the id rules, one enabled user per OS login, disabling
 * (never the last administrator), who authors a write and who may use --as, and the
 * migration of a store of layout 1 (no users, no audit) to layout 2. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "node/store.h"
#include "node/store_int.h"
#include "node/users.h"
#include "tests/node_fixture.h"
#include "tests/support.h"

static node_user user(const char *id, const char *name, node_role role, const char *os)
{
    node_user u = {.role = role};
    snprintf(u.id, sizeof u.id, "%s", id);
    snprintf(u.name, sizeof u.name, "%s", name);
    snprintf(u.os_user, sizeof u.os_user, "%s", os);
    return u;
}

static void add_user(node_store *st, const char *id, node_role role, const char *os)
{
    sn_err err = SN_ERR_INIT;
    node_user u = user(id, "Dr Test", role, os);
    CK_OK(node_user_add(st, &u, &err));
}

typedef struct user_list {
    node_user v[8];
    size_t n;
} user_list;

static int collect_user(void *ctx, const node_user *u, sn_err *err)
{
    (void)err;
    user_list *l = ctx;
    ck_assert(l->n < 8);
    l->v[l->n++] = *u;
    return 0;
}

/* ===== adding, looking up, listing ===================================================== */

START_TEST(test_users_add_get_by_os_each)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("users", &clock, NULL);
    node_user zed = user("zed", "Dr Zed Zephyr", NODE_ROLE_CLINICIAN, "zz");
    node_user amy = user("amy@site", "Amy Adams", NODE_ROLE_ADMIN, "aadams");
    node_user mo = user("mo.b_2-x", "Mo B", NODE_ROLE_CLINICIAN, "mo");
    CK_OK(node_user_add(st, &zed, &err));
    CK_OK(node_user_add(st, &amy, &err));
    CK_OK(node_user_add(st, &mo, &err));

    node_user got;
    CK_OK(node_user_get(st, "amy@site", &got, &err));
    ck_assert_str_eq(got.id, "amy@site");
    ck_assert_str_eq(got.name, "Amy Adams");
    ck_assert_int_eq(got.role, NODE_ROLE_ADMIN);
    ck_assert_str_eq(got.os_user, "aadams");
    ck_assert(!got.disabled);
    CK_OK(node_user_by_os(st, "zz", &got, &err));
    ck_assert_str_eq(got.id, "zed");
    ck_assert_int_eq(got.role, NODE_ROLE_CLINICIAN);
    CK_FAILS(node_user_get(st, "nobody", &got, &err), SN_ENOTFOUND);
    CK_FAILS(node_user_by_os(st, "nobody", &got, &err), SN_ENOTFOUND);

    user_list l = {0};
    CK_OK(node_user_each(st, collect_user, &l, &err));
    ck_assert_uint_eq(l.n, 3);
    ck_assert_str_eq(l.v[0].id, "amy@site");
    ck_assert_str_eq(l.v[1].id, "mo.b_2-x");
    ck_assert_str_eq(l.v[2].id, "zed");
    ck_assert_str_eq(l.v[2].name, "Dr Zed Zephyr");

    /* Users are kept in the store: they are there after reopening. */
    char dir[4096];
    close_tracked(st);
    st = mk_tracked("users2", &clock, dir);
    add_user(st, "kept", NODE_ROLE_ADMIN, "kept");
    close_tracked(st);
    st = reopen_tracked(dir, &clock);
    CK_OK(node_user_by_os(st, "kept", &got, &err));
    ck_assert_str_eq(got.id, "kept");
    close_tracked(st);
}
END_TEST

static int stop_at_first(void *ctx, const node_user *u, sn_err *err)
{
    (void)u;
    (void)err;
    (*(int *)ctx)++;
    return 7;
}

START_TEST(test_users_each_stops_on_nonzero)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("stop", &clock, NULL);
    add_user(st, "a", NODE_ROLE_ADMIN, "a");
    add_user(st, "b", NODE_ROLE_CLINICIAN, "b");
    int calls = 0;
    ck_assert_int_eq(node_user_each(st, stop_at_first, &calls, &err), 7);
    ck_assert_int_eq(calls, 1);
    close_tracked(st);
}
END_TEST

START_TEST(test_users_role_names)
{
    node_role r = 0;
    ck_assert_str_eq(node_role_name(NODE_ROLE_CLINICIAN), "clinician");
    ck_assert_str_eq(node_role_name(NODE_ROLE_ADMIN), "admin");
    ck_assert_int_eq(node_role_parse("admin", &r), 0);
    ck_assert_int_eq(r, NODE_ROLE_ADMIN);
    ck_assert_int_eq(node_role_parse("clinician", &r), 0);
    ck_assert_int_eq(r, NODE_ROLE_CLINICIAN);
    ck_assert_int_eq(node_role_parse("root", &r), SN_EINVAL);
    ck_assert_int_eq(node_role_parse("Admin", &r), SN_EINVAL);
    ck_assert_int_eq(node_role_parse("", &r), SN_EINVAL);
}
END_TEST

/* ===== the rules ====================================================================== */

START_TEST(test_users_invalid_ids_refused)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("ids", &clock, NULL);
    static const char *const bad[] = {"", "dr hughes", "dr/hughes", "dr'x", "dr\\x", "é"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        node_user u = user(bad[i], "Name", NODE_ROLE_CLINICIAN, "os1");
        CK_FAILS(node_user_add(st, &u, &err), SN_EINVAL);
        node_user v = user("fine", "Name", NODE_ROLE_CLINICIAN, bad[i]);
        CK_FAILS(node_user_add(st, &v, &err), SN_EINVAL);
    }
    /* 64 bytes is the most an id may hold. */
    char id64[65];
    memset(id64, 'x', 64);
    id64[64] = '\0';
    node_user ok = user(id64, "Sixty Four", NODE_ROLE_CLINICIAN, id64);
    CK_OK(node_user_add(st, &ok, &err));
    /* 65 bytes cannot be NUL-terminated inside node_user.id, so a caller who fills all 65
     * bytes hands over an id running on into `name`: it must be refused by length, not
     * stored. */
    node_user long_id = user("", "y", NODE_ROLE_CLINICIAN, "os65");
    memset(long_id.id, 'y', sizeof long_id.id);
    CK_FAILS(node_user_add(st, &long_id, &err), SN_EINVAL);
    ck_assert_msg(strstr(err.msg, "64") != NULL, "message '%s' does not give the limit",
                  err.msg);
    node_user empty_name = user("noname", "", NODE_ROLE_CLINICIAN, "os2");
    CK_FAILS(node_user_add(st, &empty_name, &err), SN_EINVAL);

    user_list l = {0};
    CK_OK(node_user_each(st, collect_user, &l, &err));
    ck_assert_uint_eq(l.n, 1); /* only the 64-byte id was stored */
    close_tracked(st);
}
END_TEST

START_TEST(test_users_duplicates_refused)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("dup", &clock, NULL);
    add_user(st, "dr.a", NODE_ROLE_ADMIN, "alice");
    node_user same_id = user("dr.a", "Other", NODE_ROLE_CLINICIAN, "someone");
    CK_FAILS(node_user_add(st, &same_id, &err), SN_EINVAL);
    ck_assert_msg(strstr(err.msg, "dr.a") != NULL, "'%s' does not name the id", err.msg);
    node_user same_os = user("dr.b", "Bob", NODE_ROLE_CLINICIAN, "alice");
    CK_FAILS(node_user_add(st, &same_os, &err), SN_EINVAL);
    ck_assert_msg(strstr(err.msg, "alice") && strstr(err.msg, "dr.a"), "'%s'", err.msg);
    ck_assert_msg(strstr(err.hint, "disable") != NULL, "hint '%s'", err.hint);
    node_user got;
    CK_OK(node_user_by_os(st, "alice", &got, &err));
    ck_assert_str_eq(got.id, "dr.a");
    ck_assert_str_eq(got.name, "Dr Test");
    close_tracked(st);
}
END_TEST

START_TEST(test_users_disabled_os_user_can_be_mapped_again)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("remap", &clock, NULL);
    add_user(st, "admin", NODE_ROLE_ADMIN, "root1");
    add_user(st, "dr.old", NODE_ROLE_CLINICIAN, "locum");
    CK_OK(node_user_disable(st, "dr.old", &err));
    node_user got;
    CK_OK(node_user_get(st, "dr.old", &got, &err));
    ck_assert(got.disabled);
    CK_FAILS(node_user_by_os(st, "locum", &got, &err), SN_ENOTFOUND);
    CK_OK(node_user_disable(st, "dr.old", &err)); /* already disabled: nothing to do */
    add_user(st, "dr.new", NODE_ROLE_CLINICIAN, "locum");
    CK_OK(node_user_by_os(st, "locum", &got, &err));
    ck_assert_str_eq(got.id, "dr.new");
    /* The old id stays taken, disabled. */
    node_user again = user("dr.old", "Again", NODE_ROLE_CLINICIAN, "other");
    CK_FAILS(node_user_add(st, &again, &err), SN_EINVAL);
    CK_FAILS(node_user_disable(st, "dr.nobody", &err), SN_ENOTFOUND);
    close_tracked(st);
}
END_TEST

START_TEST(test_users_last_admin_cannot_be_disabled)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("admins", &clock, NULL);
    add_user(st, "boss", NODE_ROLE_ADMIN, "boss");
    add_user(st, "dr.c", NODE_ROLE_CLINICIAN, "drc");
    CK_FAILS(node_user_disable(st, "boss", &err), SN_EINVAL);
    ck_assert_msg(err.hint[0] != '\0', "no hint");
    node_user got;
    CK_OK(node_user_get(st, "boss", &got, &err));
    ck_assert(!got.disabled);
    add_user(st, "boss2", NODE_ROLE_ADMIN, "boss2");
    CK_OK(node_user_disable(st, "boss", &err));
    CK_FAILS(node_user_disable(st, "boss2", &err), SN_EINVAL);
    CK_OK(node_user_disable(st, "dr.c", &err)); /* clinicians are not counted */
    CK_OK(node_user_get(st, "boss2", &got, &err));
    ck_assert(!got.disabled);
    close_tracked(st);
}
END_TEST

/* Users are local: adding and disabling them is not clinical state. */
START_TEST(test_users_do_not_touch_clinical_state)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("local", &clock, NULL);
    uint8_t p[ID_LEN];
    insert_patient(st, "Brown", p);
    snap s = snap_take(st);
    add_user(st, "a1", NODE_ROLE_ADMIN, "a1");
    add_user(st, "a2", NODE_ROLE_ADMIN, "a2");
    CK_OK(node_user_disable(st, "a1", &err));
    snap_expect(st, &s, "after managing users");
    snap_free(&s);
    close_tracked(st);
}
END_TEST

/* ===== authorship ===================================================================== */

START_TEST(test_users_authorship)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("author", &clock, NULL);
    add_user(st, "admin", NODE_ROLE_ADMIN, "sysop");
    add_user(st, "dr.h", NODE_ROLE_CLINICIAN, "hughes");
    add_user(st, "dr.k", NODE_ROLE_CLINICIAN, "khan");
    add_user(st, "dr.gone", NODE_ROLE_CLINICIAN, "gone");
    CK_OK(node_user_disable(st, "dr.gone", &err));
    node_user a, e;

    /* A mapped clinician writes as themself. */
    memset(&e, 'x', sizeof e);
    CK_OK(node_user_authorship(st, "hughes", NULL, &a, &e, &err));
    ck_assert_str_eq(a.id, "dr.h");
    ck_assert_str_eq(e.id, "");
    /* --as themself is the same thing. */
    CK_OK(node_user_authorship(st, "hughes", "dr.h", &a, &e, &err));
    ck_assert_str_eq(a.id, "dr.h");
    ck_assert_str_eq(e.id, "");

    /* An OS user nobody is mapped to is told how to be added. */
    CK_FAILS(node_user_authorship(st, "mallory", NULL, &a, &e, &err), SN_EAUTH);
    ck_assert_msg(strstr(err.msg, "mallory") != NULL, "'%s'", err.msg);
    ck_assert_msg(strstr(err.hint, "outpost user add") != NULL, "hint '%s'", err.hint);
    /* So is a disabled user's login. */
    CK_FAILS(node_user_authorship(st, "gone", NULL, &a, &e, &err), SN_EAUTH);
    ck_assert_msg(strstr(err.hint, "outpost user add") != NULL, "hint '%s'", err.hint);

    /* A clinician may not write as someone else. */
    CK_FAILS(node_user_authorship(st, "hughes", "dr.k", &a, &e, &err), SN_EAUTH);
    ck_assert_msg(err.hint[0] != '\0', "no hint for --as by a clinician");

    /* An administrator may: author = that user, entered by = the administrator. */
    CK_OK(node_user_authorship(st, "sysop", "dr.k", &a, &e, &err));
    ck_assert_str_eq(a.id, "dr.k");
    ck_assert_str_eq(a.os_user, "khan");
    ck_assert_str_eq(e.id, "admin");
    ck_assert_int_eq(e.role, NODE_ROLE_ADMIN);
    CK_OK(node_user_authorship(st, "sysop", NULL, &a, &e, &err));
    ck_assert_str_eq(a.id, "admin");
    ck_assert_str_eq(e.id, "");

    /* ... but not as a disabled user, nor as one who does not exist. */
    CK_FAILS(node_user_authorship(st, "sysop", "dr.gone", &a, &e, &err), SN_EAUTH);
    ck_assert_msg(strstr(err.msg, "dr.gone") != NULL, "'%s'", err.msg);
    CK_FAILS(node_user_authorship(st, "sysop", "dr.who", &a, &e, &err), SN_ENOTFOUND);
    ck_assert_msg(strstr(err.msg, "dr.who") != NULL, "'%s'", err.msg);
    close_tracked(st);
}
END_TEST

/* ===== migration from layout 1 ========================================================= */

/* Run `sql` on dir/store.db directly, behind the engine's back. */
static void db_exec(const char *dir, const char *sql)
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
    ck_assert_int_eq(sqlite3_close(h), SQLITE_OK);
}

/* The single integer `sql` yields on dir/store.db. */
static long long db_int(const char *dir, const char *sql)
{
    char db[4200];
    snprintf(db, sizeof db, "%s/store.db", dir);
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    long long v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    ck_assert_int_eq(sqlite3_close(h), SQLITE_OK);
    return v;
}

START_TEST(test_users_layout1_store_migrates)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096];
    node_store *st = mk_tracked("layout1", &clock, dir);
    uint8_t p[ID_LEN], q[ID_LEN];
    insert_patient(st, "Brown", p);
    insert_patient(st, "Green", q);
    set_text(st, p, "given", "Ann");
    retract(st, q, NULL);
    snap s = snap_take(st);
    close_tracked(st);
    ck_assert_int_eq(db_int(dir, "PRAGMA user_version"), NODE_STORE_LAYOUT);

    /* Turn it into a store as layout 1 made it. */
    db_exec(dir, "DROP TABLE clinician; DROP TABLE audit; DROP TABLE trust_cert;"
                 " DROP TABLE checkpoint; DROP TABLE unit_wait; DROP TABLE equivocation;"
                 " DROP TABLE peer; DROP TABLE imported_bundles; DROP TABLE bundle_peer;"
                 " DROP TABLE peer_day; DROP INDEX commit_log_unknown;"
                 " ALTER TABLE origin DROP COLUMN bound; PRAGMA user_version=1;");
    ck_assert_int_eq(db_int(dir, "PRAGMA user_version"), 1);
    ck_assert_int_eq(db_int(dir, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                 "('clinician', 'audit')"),
                     0);

    clock.ms += HOUR_MS;
    st = reopen_tracked(dir, &clock);
    snap_expect(st, &s, "after the migration");
    char v[64];
    ck_assert(shows(st, p, "given", v));
    ck_assert_str_eq(v, "Ann");
    ck_assert(retracted(st, "patient", q));
    add_user(st, "dr.after", NODE_ROLE_ADMIN, "after");
    node_user got;
    CK_OK(node_user_by_os(st, "after", &got, &err));
    ck_assert_str_eq(got.id, "dr.after");
    close_tracked(st);
    ck_assert_int_eq(db_int(dir, "PRAGMA user_version"), NODE_STORE_LAYOUT);
    ck_assert_int_eq(db_int(dir, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                 "('clinician', 'audit', 'clinician_os_user', "
                                 "'audit_patient')"),
                     4);

    /* Opening again does not migrate twice, and the user is still there. */
    st = reopen_tracked(dir, &clock);
    snap_expect(st, &s, "after reopening the migrated store");
    CK_OK(node_user_get(st, "dr.after", &got, &err));
    close_tracked(st);
    snap_free(&s);
}
END_TEST

Suite *node_users_suite(void);
Suite *node_users_suite(void)
{
    Suite *s = suite_create("node_users_suite");
    TCase *tc = tracked_tcase(s, "users");
    tcase_add_test(tc, test_users_add_get_by_os_each);
    tcase_add_test(tc, test_users_each_stops_on_nonzero);
    tcase_add_test(tc, test_users_role_names);
    tcase_add_test(tc, test_users_invalid_ids_refused);
    tcase_add_test(tc, test_users_duplicates_refused);
    tcase_add_test(tc, test_users_disabled_os_user_can_be_mapped_again);
    tcase_add_test(tc, test_users_last_admin_cannot_be_disabled);
    tcase_add_test(tc, test_users_do_not_touch_clinical_state);
    tc = tracked_tcase(s, "authorship");
    tcase_add_test(tc, test_users_authorship);
    tc = tracked_tcase(s, "migration");
    tcase_add_test(tc, test_users_layout1_store_migrates);
    return s;
}
