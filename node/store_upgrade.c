/* node/store_upgrade.c - after this build learns new tables or columns: add them to the
 * store, then apply the parts of held commits that were kept because they were unknown. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "node/store_int.h"

/* Add columns the schema has and the table lacks (CREATE TABLE IF NOT EXISTS does not). */
static int add_missing_columns(node_store *st, const schema_table *t, sn_err *err)
{
    char sql[512];
    for (size_t c = 0; c < t->ncols; c++) {
        snprintf(sql, sizeof sql, "SELECT 1 FROM pragma_table_info('%s') WHERE name = '%s'",
                 t->name, t->cols[c].name);
        sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
        if (rc != SQLITE_OK)
            return node_store_fail(st, rc, err, "inspecting table %s", t->name);
        rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc == SQLITE_ROW)
            continue;
        if (rc != SQLITE_DONE)
            return node_store_fail(st, rc, err, "inspecting table %s", t->name);
        snprintf(sql, sizeof sql, "ALTER TABLE \"%s\" ADD COLUMN \"%s\"", t->name,
                 t->cols[c].name);
        rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            return node_store_fail(st, rc, err, "adding column %s.%s", t->name, t->cols[c].name);
    }
    return 0;
}

/* Rows touched by commits that had unknown parts; their flags are recomputed. */
static int collect_unknown_rows(node_store *st, node_rowref **rows, size_t *n, sn_err *err)
{
    sqlite3_stmt *s = NULL, *u = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT key, body FROM commit_log WHERE unknown = 1", -1,
                                &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(st->db, "UPDATE commit_log SET unknown = ?2 WHERE key = ?1", -1,
                                &u, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(s);
        return node_store_fail(st, rc, err, "reading commits kept for an upgrade");
    }
    size_t cap = 0;
    rc = 0;
    int src;
    while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW) {
        schema_commit *c;
        rc = schema_commit_decode(sqlite3_column_blob(s, 1), (size_t)sqlite3_column_bytes(s, 1),
                                  &c, err);
        if (rc != 0)
            break;
        bool unknown = false;
        rc = schema_commit_check(c, &unknown, err);
        for (size_t i = 0; i < c->nchanges && rc == 0; i++) {
            if (schema_table_by_id(c->changes[i].table) == NULL)
                continue;
            if (*n == cap) {
                cap = cap < 16 ? 16 : cap * 2;
                node_rowref *p = sn_realloc(*rows, cap * sizeof *p);
                if (p == NULL) {
                    rc = sn_err_set(err, SN_ENOMEM, "out of memory upgrading the store");
                    break;
                }
                *rows = p;
            }
            (*rows)[*n].table = c->changes[i].table;
            memcpy((*rows)[*n].id, c->changes[i].row, 16);
            (*n)++;
        }
        if (rc == 0 && !unknown) {
            sqlite3_bind_int64(u, 1, sqlite3_column_int64(s, 0));
            sqlite3_bind_int(u, 2, 0);
            rc = node_stmt_exec(st, u, err, "clearing a commit's unknown flag");
        }
        schema_commit_free(c);
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = node_store_fail(st, src, err, "reading commits kept for an upgrade");
    sqlite3_finalize(s);
    sqlite3_finalize(u);
    return rc;
}

int node_store_upgrade(node_store *st, sn_err *err)
{
    int64_t version = 0;
    int rc = node_store_schema_version_get(st, &version, err);
    if (rc != 0 || version >= SCHEMA_VERSION)
        return rc;
    node_rowref *rows = NULL;
    size_t n = 0;
    rc = node_txn_begin(st, err);
    if (rc == 0)
        rc = node_store_upgrade_tables(st, err);
    for (size_t i = 0; i < schema_table_count() && rc == 0; i++)
        rc = add_missing_columns(st, schema_table_at(i), err);
    if (rc == 0)
        rc = collect_unknown_rows(st, &rows, &n, err);
    if (rc == 0)
        rc = node_store_schema_version_put(st, err);
    rc = node_txn_end(st, rc, err);
    if (rc == 0 && n > 0)
        rc = node_store_rematerialize(st, rows, n, err);
    sn_free(rows);
    if (rc != 0)
        sn_err_prefix(err, "upgrading store '%s' to schema %d", st->dir, SCHEMA_VERSION);
    return rc;
}
