/* node/store_stmt.c - the store's cache of prepared statements: a query outside the fixed
 * set of store.c is prepared on first use and kept (SQLITE_PREPARE_PERSISTENT), keyed by
 * its SQL text, instead of being parsed and planned again on every call. A statement in
 * use is never handed out twice: a caller that needs the same SQL meanwhile (recursion,
 * a callback) gets one of its own. */
#include <string.h>

#include "base/hash.h"
#include "node/store_int.h"

static node_stmt_slot *slot_of(node_store *st, const sqlite3_stmt *s)
{
    for (size_t i = 0; i < st->ncached; i++)
        if (st->cached[i].s == s)
            return &st->cached[i];
    return NULL;
}

int node_stmt_cached(node_store *st, const char *sql, sqlite3_stmt **out)
{
    *out = NULL;
    size_t len = strlen(sql);
    uint64_t key = sn_xxh64(sql, len);
    for (size_t i = 0; i < st->ncached; i++) {
        node_stmt_slot *sl = &st->cached[i];
        if (sl->key == key && !sl->busy && strcmp(sqlite3_sql(sl->s), sql) == 0) {
            sl->busy = true;
            *out = sl->s;
            return SQLITE_OK;
        }
    }
    bool keep = st->ncached < NODE_STMT_CACHE;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(st->db, sql, (int)len + 1, keep ? SQLITE_PREPARE_PERSISTENT : 0,
                                &s, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(s);
        return rc;
    }
    if (keep) /* when full, the statement is the caller's alone and release finalises it */
        st->cached[st->ncached++] = (node_stmt_slot){.s = s, .key = key, .busy = true};
    *out = s;
    return SQLITE_OK;
}

void node_stmt_release(node_store *st, sqlite3_stmt *s)
{
    if (s == NULL)
        return;
    node_stmt_slot *sl = slot_of(st, s);
    if (sl == NULL) {
        sqlite3_finalize(s);
        return;
    }
    node_stmt_done(s);
    sl->busy = false;
}

void node_stmt_cache_close(node_store *st)
{
    for (size_t i = 0; i < st->ncached; i++) {
        /* Every caller releases what it took, as it once finalised it. */
        (void)SN_NEVER(st->cached[i].busy);
        sqlite3_finalize(st->cached[i].s);
    }
    st->ncached = 0;
}
