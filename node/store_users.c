/* node/store_users.c - the node's clinicians (table `clinician`) and who authors a write. */
#include "node/users.h"

#include <stdio.h>
#include <string.h>

#include "node/store_int.h"

const char *node_role_name(node_role r) { return r == NODE_ROLE_ADMIN ? "admin" : "clinician"; }

int node_role_parse(const char *s, node_role *out)
{
    if (strcmp(s, "clinician") == 0)
        *out = NODE_ROLE_CLINICIAN;
    else if (strcmp(s, "admin") == 0)
        *out = NODE_ROLE_ADMIN;
    else
        return SN_EINVAL;
    return 0;
}

static int check_ident(const char *what, const char *s, sn_err *err)
{
    size_t n = strlen(s);
    if (n == 0 || n > NODE_USER_ID_MAX)
        return sn_err_set(err, SN_EINVAL, "%s '%s' must be 1 to %d characters long", what, s,
                          NODE_USER_ID_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-' || c == '@';
        if (!ok)
            return sn_err_set(err, SN_EINVAL, "%s '%s' may hold only letters, digits and . _ - @",
                              what, s);
    }
    return 0;
}

static int prepare(node_store *st, const char *sql, sqlite3_stmt **s, sn_err *err)
{
    int rc = node_stmt_cached(st, sql, s);
    return rc == SQLITE_OK ? 0 : node_store_fail(st, rc, err, "reading the users table");
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
    const char *t = (const char *)sqlite3_column_text(s, col);
    snprintf(dst, cap, "%s", t != NULL ? t : "");
}

static void read_user(sqlite3_stmt *s, node_user *u)
{
    copy_text(u->id, sizeof u->id, s, 0);
    copy_text(u->name, sizeof u->name, s, 1);
    /* Anything but "admin" reads as the least privileged role. */
    const char *role = (const char *)sqlite3_column_text(s, 2);
    u->role = role != NULL && strcmp(role, "admin") == 0 ? NODE_ROLE_ADMIN : NODE_ROLE_CLINICIAN;
    copy_text(u->os_user, sizeof u->os_user, s, 3);
    u->disabled = sqlite3_column_int(s, 4) != 0;
}

#define USER_COLS "id, name, role, os_user, disabled"

/* Run a one-row lookup; SN_ENOTFOUND with `what` when there is none. */
static int lookup(node_store *st, const char *sql, const char *key, node_user *out,
                  const char *what, sn_err *err)
{
    sqlite3_stmt *s;
    int rc = prepare(st, sql, &s, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW)
        read_user(s, out);
    else if (src == SQLITE_DONE)
        rc = sn_err_set(err, SN_ENOTFOUND, "%s '%s'", what, key);
    else
        rc = node_store_fail(st, src, err, "reading the users table");
    node_stmt_release(st, s);
    return rc;
}

int node_user_get(node_store *st, const char *id, node_user *out, sn_err *err)
{
    int rc = lookup(st, "SELECT " USER_COLS " FROM clinician WHERE id = ?1", id, out,
                    "no user with id", err);
    if (rc == SN_ENOTFOUND)
        sn_err_hint(err, "`outpost user list` shows the users of this node");
    return rc;
}

int node_user_by_os(node_store *st, const char *os_user, node_user *out, sn_err *err)
{
    return lookup(st, "SELECT " USER_COLS " FROM clinician WHERE os_user = ?1 AND disabled = 0",
                  os_user, out, "no enabled user is mapped to OS user", err);
}

int node_user_check(const node_user *u, sn_err *err)
{
    int rc = check_ident("user id", u->id, err);
    if (rc == 0)
        rc = check_ident("OS user", u->os_user, err);
    if (rc == 0 && (u->name[0] == '\0' || strlen(u->name) > NODE_USER_NAME_MAX))
        rc = sn_err_set(err, SN_EINVAL, "user name must be 1 to %d bytes long",
                        NODE_USER_NAME_MAX);
    return rc;
}

int node_user_add(node_store *st, const node_user *u, sn_err *err)
{
    int rc = node_user_check(u, err);
    if (rc != 0)
        return rc;
    node_user other;
    if (node_user_get(st, u->id, &other, NULL) == 0)
        return sn_err_set(err, SN_EINVAL, "a user with id '%s' already exists", u->id);
    if (node_user_by_os(st, u->os_user, &other, NULL) == 0) {
        sn_err_set(err, SN_EINVAL, "OS user '%s' is already mapped to user '%s'", u->os_user,
                   other.id);
        sn_err_hint(err, "disable '%s' first with `outpost user disable %s`", other.id, other.id);
        return SN_EINVAL;
    }
    sqlite3_stmt *s;
    rc = prepare(st, "INSERT INTO clinician(id, name, role, os_user, disabled, added_ms)"
                     " VALUES (?1, ?2, ?3, ?4, 0, ?5)", &s, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(s, 1, u->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, u->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, node_role_name(u->role), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, u->os_user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (int64_t)node_now_ms(st));
    rc = node_stmt_exec(st, s, err, "adding a user");
    node_stmt_release(st, s);
    return rc;
}

int node_user_disable(node_store *st, const char *id, sn_err *err)
{
    node_user u;
    int rc = node_user_get(st, id, &u, err);
    if (rc != 0 || u.disabled)
        return rc;
    if (u.role == NODE_ROLE_ADMIN) {
        sqlite3_stmt *c;
        rc = prepare(st, "SELECT count(*) FROM clinician WHERE role = 'admin' AND disabled = 0",
                     &c, err);
        if (rc != 0)
            return rc;
        int src = sqlite3_step(c);
        int64_t admins = src == SQLITE_ROW ? sqlite3_column_int64(c, 0) : 0;
        node_stmt_release(st, c);
        if (src != SQLITE_ROW)
            return node_store_fail(st, src, err, "counting administrators");
        if (admins <= 1) {
            sn_err_set(err, SN_EINVAL, "'%s' is the last enabled administrator", id);
            sn_err_hint(err, "add another administrator first, so the node stays manageable");
            return SN_EINVAL;
        }
    }
    sqlite3_stmt *s;
    rc = prepare(st, "UPDATE clinician SET disabled = 1 WHERE id = ?1", &s, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    rc = node_stmt_exec(st, s, err, "disabling a user");
    node_stmt_release(st, s);
    return rc;
}

int node_user_each(node_store *st, node_user_fn fn, void *ctx, sn_err *err)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "SELECT " USER_COLS " FROM clinician ORDER BY id", &s, err);
    if (rc != 0)
        return rc;
    int src;
    while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW) {
        node_user u;
        read_user(s, &u);
        rc = fn(ctx, &u, err);
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = node_store_fail(st, src, err, "reading the users table");
    node_stmt_release(st, s);
    return rc;
}

int node_user_authorship(node_store *st, const char *os_user, const char *as,
                         node_user *author, node_user *entered_by, sn_err *err)
{
    node_user me;
    int rc = node_user_by_os(st, os_user, &me, NULL);
    if (rc == SN_ENOTFOUND) {
        sn_err_set(err, SN_EAUTH, "OS user '%s' is not a clinician on this node", os_user);
        sn_err_hint(err, "ask an administrator to run: outpost user add --id ID --name NAME "
                         "--role clinician --os-user %s", os_user);
        return SN_EAUTH;
    }
    if (rc != 0)
        return node_user_by_os(st, os_user, &me, err);
    *entered_by = (node_user){0};
    if (as == NULL || strcmp(as, me.id) == 0) {
        *author = me;
        return 0;
    }
    if (me.role != NODE_ROLE_ADMIN) {
        sn_err_set(err, SN_EAUTH, "only an administrator may record as another clinician "
                   "('%s' is a %s)", me.id, node_role_name(me.role));
        sn_err_hint(err, "record under your own name, without --as");
        return SN_EAUTH;
    }
    rc = node_user_get(st, as, author, err);
    if (rc != 0)
        return rc;
    if (author->disabled) {
        sn_err_set(err, SN_EAUTH, "user '%s' is disabled and cannot author records", as);
        return SN_EAUTH;
    }
    *entered_by = me;
    return 0;
}
