/* node/store_txn.c - transactions and batches (savepoints, lost batches), and the origin
 * bookkeeping that must follow them: local origin indices, held/applied vectors, this
 * node's own chain head. */
#include <string.h>

#include "base/alloc.h"
#include "node/store_int.h"

/* ---- transactions ----
 * Outside a batch each operation is one transaction. Inside a batch each is a savepoint,
 * rolled back alone on failure. SQLite may abandon the whole transaction on some failures
 * (out of memory without a statement journal); then the batch is lost: every later
 * operation and batch_commit report it until batch_abort, and no commit sneaks out on its
 * own. Caches are reloaded after every failure, so they never describe rolled-back rows. */

static void after_failure(node_store *st, sn_err *err)
{
    if (st->batch_depth > 0 && sqlite3_get_autocommit(st->db))
        st->batch_lost = true;
    if (node_origins_reload(st, NULL) != 0)
        sn_err_set(err, SN_EIO, "cannot reload the origin table after a rollback");
}

static int batch_lost_error(node_store *st, sn_err *err)
{
    sn_err_set(err, SN_EIO, "the batch on store '%s' was rolled back after an earlier failure",
               st->dir);
    sn_err_hint(err, "abort the batch and enter its records again");
    return SN_EIO;
}

int node_txn_begin(node_store *st, sn_err *err)
{
    if (st->batch_lost)
        return batch_lost_error(st, err);
    enum node_stmt_id id = st->batch_depth > 0 ? ST_SAVEPOINT : ST_BEGIN;
    int rc = node_stmt_exec(st, st->stmts[id], err, "starting a transaction");
    if (rc != 0)
        after_failure(st, err);
    return rc;
}

int node_txn_end(node_store *st, int rc, sn_err *err)
{
    if (rc == 0) {
        if (st->batch_depth == 0 && SN_FAULT(SN_FP_STORE_COMMIT)) {
            rc = sn_err_set(err, SN_EIO, "committing to store '%s': injected disk-full fault",
                            st->dir);
        } else {
            enum node_stmt_id id = st->batch_depth > 0 ? ST_RELEASE : ST_COMMIT;
            rc = node_stmt_exec(st, st->stmts[id], err, "committing a transaction");
        }
        if (rc == 0)
            return 0;
    }
    if (st->batch_depth > 0) {
        if (sqlite3_get_autocommit(st->db) ||
            node_stmt_exec(st, st->stmts[ST_ROLLBACK_TO], NULL, "rollback") != 0 ||
            node_stmt_exec(st, st->stmts[ST_RELEASE], NULL, "release") != 0)
            st->batch_lost = true;
    } else if (!sqlite3_get_autocommit(st->db) &&
               node_stmt_exec(st, st->stmts[ST_ROLLBACK], NULL, "rollback") != 0) {
        sn_err_set(err, SN_EIO, "cannot roll back a failed transaction");
    }
    after_failure(st, err);
    return rc;
}

bool node_read_begin(node_store *st)
{
    if (!sqlite3_get_autocommit(st->db))
        return false;
    /* Optional work: failing it, every read runs as its own transaction, as before. */
    sn_fault_benign_begin();
    sqlite3_stmt *s = NULL;
    bool owned = node_stmt_cached(st, "BEGIN DEFERRED", &s) == SQLITE_OK &&
                 sqlite3_step(s) == SQLITE_DONE;
    node_stmt_release(st, s);
    sn_fault_benign_end();
    return owned;
}

void node_read_end(node_store *st, bool owned)
{
    if (!owned)
        return;
    /* A transaction that has only read commits without fail; should it not, it must not
     * stay open (and if even that fails, the next write's BEGIN says so). */
    int rc = node_stmt_exec(st, st->stmts[ST_COMMIT], NULL, "ending a read");
    if (rc != 0)
        rc = node_stmt_exec(st, st->stmts[ST_ROLLBACK], NULL, "ending a read");
    (void)rc;
}

int node_store_batch_begin(node_store *st, sn_err *err)
{
    if (st->batch_depth > 0)
        return sn_err_set(err, SN_EINVAL, "a batch is already open on store '%s'", st->dir);
    int rc = node_stmt_exec(st, st->stmts[ST_BEGIN], err, "starting a batch");
    if (rc == 0) {
        st->batch_depth = 1;
        st->batch_lost = false;
    }
    return rc;
}

int node_store_batch_commit(node_store *st, sn_err *err)
{
    if (st->batch_depth == 0)
        return sn_err_set(err, SN_EINVAL, "no batch is open on store '%s'", st->dir);
    if (st->batch_lost || sqlite3_get_autocommit(st->db)) {
        node_store_batch_abort(st);
        return batch_lost_error(st, err);
    }
    int rc = 0;
    if (st->self_dirty) {
        node_origin_state os = {.held = st->self_held, .applied = st->self_held};
        memcpy(os.link, st->self_link, 32);
        st->self_dirty = false;
        rc = node_origin_state_put(st, st->self_idx, &os, err);
    }
    st->batch_depth = 0;
    return node_txn_end(st, rc, err);
}

void node_store_batch_abort(node_store *st)
{
    if (st == NULL || st->batch_depth == 0)
        return;
    st->batch_depth = 0;
    st->batch_lost = false;
    (void)node_txn_end(st, SN_EIO, NULL);
}

/* ---- origins ---- */

const crdt_origin *node_origin_of(const node_store *st, uint32_t idx)
{
    if (idx == 0 || idx > st->norigins)
        return NULL;
    return &st->by_idx[idx];
}

uint32_t node_origin_find(const node_store *st, const crdt_origin *o)
{
    return (uint32_t)crdt_vv_get(&st->origin_index, o);
}

/* Add to the in-memory cache (idx must be norigins + 1). */
static int origin_cache_add(node_store *st, const crdt_origin *o, uint32_t idx, sn_err *err)
{
    if (idx + 1 > st->origins_cap) {
        size_t cap = st->origins_cap < 8 ? 16 : st->origins_cap * 2;
        crdt_origin *a = sn_realloc(st->by_idx, cap * sizeof *a);
        if (a == NULL)
            return sn_err_set(err, SN_ENOMEM, "out of memory adding an origin");
        st->by_idx = a;
        st->origins_cap = cap;
    }
    int rc = crdt_vv_set(&st->origin_index, o, idx, err);
    if (rc != 0)
        return rc;
    st->by_idx[idx] = *o;
    st->norigins = idx;
    return 0;
}

int node_origin_intern(node_store *st, const crdt_origin *o, uint32_t *idx, sn_err *err)
{
    *idx = node_origin_find(st, o);
    if (*idx != 0)
        return 0;
    uint32_t n = (uint32_t)st->norigins + 1;
    sqlite3_stmt *s = st->stmts[ST_ORIGIN_INSERT];
    sqlite3_bind_int64(s, 1, n);
    sqlite3_bind_blob(s, 2, o->replica, CRDT_REPLICA_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, o->epoch);
    int rc = node_stmt_exec(st, s, err, "recording a new origin");
    if (rc != 0)
        return rc;
    rc = origin_cache_add(st, o, n, err);
    if (rc != 0)
        return rc;
    *idx = n;
    return 0;
}

/* This node's own commits are made only here, gap-free, so its head is the last own row of
 * the log: the truth after any rollback, whatever the origin row says. */
static int self_state_reload(node_store *st, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT key, link FROM commit_log WHERE key BETWEEN ?1"
                              " AND ?2 ORDER BY key DESC LIMIT 1", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "reading this node's last commit");
    sqlite3_bind_int64(s, 1, NODE_LOG_KEY(st->self_idx, 1));
    sqlite3_bind_int64(s, 2, NODE_LOG_KEY(st->self_idx, NODE_SEQ_MAX));
    rc = sqlite3_step(s);
    st->self_held = 0;
    memset(st->self_link, 0, sizeof st->self_link);
    if (rc == SQLITE_ROW) {
        st->self_held = (uint64_t)sqlite3_column_int64(s, 0) & NODE_SEQ_MAX;
        if (sqlite3_column_bytes(s, 1) == 32)
            memcpy(st->self_link, sqlite3_column_blob(s, 1), 32);
    }
    node_stmt_release(st, s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return node_store_fail(st, rc, err, "reading this node's last commit");
    st->self_dirty = false;
    node_origin_state os;
    rc = node_origin_state_get(st, st->self_idx, &os, err);
    if (rc == 0)
        st->self_dirty = os.held != st->self_held;
    return rc;
}

int node_origins_reload(node_store *st, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT idx, replica, epoch FROM origin ORDER BY idx", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "reading the origin table");
    st->norigins = 0;
    crdt_vv_clear(&st->origin_index);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        crdt_origin o = {.epoch = (uint32_t)sqlite3_column_int64(s, 2)};
        uint32_t idx = (uint32_t)sqlite3_column_int64(s, 0);
        if (sqlite3_column_bytes(s, 1) != CRDT_REPLICA_LEN || idx != st->norigins + 1) {
            node_stmt_release(st, s);
            return sn_err_set(err, SN_ECORRUPT, "store '%s': origin table is damaged", st->dir);
        }
        memcpy(o.replica, sqlite3_column_blob(s, 1), CRDT_REPLICA_LEN);
        int arc = origin_cache_add(st, &o, idx, err);
        if (arc != 0) {
            node_stmt_release(st, s);
            return arc;
        }
    }
    node_stmt_release(st, s);
    if (rc != SQLITE_DONE)
        return node_store_fail(st, rc, err, "reading the origin table");
    st->self_idx = node_origin_find(st, &st->self);
    if (st->self_idx == 0)
        return sn_err_set(err, SN_ECORRUPT, "store '%s': this node's own origin is missing",
                          st->dir);
    return self_state_reload(st, err);
}

int node_origin_state_get(node_store *st, uint32_t idx, node_origin_state *out, sn_err *err)
{
    if (idx == st->self_idx && st->self_dirty) {
        *out = (node_origin_state){.held = st->self_held, .applied = st->self_held,
                                   .bound = NODE_SEQ_MAX};
        memcpy(out->link, st->self_link, 32);
        return 0;
    }
    sqlite3_stmt *s = st->stmts[ST_ORIGIN_GET];
    sqlite3_bind_int64(s, 1, idx);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        node_stmt_done(s);
        if (rc == SQLITE_DONE)
            return sn_err_set(err, SN_ECORRUPT, "store '%s': origin %u is missing", st->dir, idx);
        return node_store_fail(st, rc, err, "reading origin %u", idx);
    }
    out->held = (uint64_t)sqlite3_column_int64(s, 0);
    out->applied = (uint64_t)sqlite3_column_int64(s, 1);
    memset(out->link, 0, sizeof out->link);
    if (sqlite3_column_bytes(s, 2) == 32)
        memcpy(out->link, sqlite3_column_blob(s, 2), 32);
    out->bound = sqlite3_column_type(s, 3) == SQLITE_NULL ? NODE_SEQ_MAX
                                                          : (uint64_t)sqlite3_column_int64(s, 3);
    node_stmt_done(s);
    return 0;
}

int node_origin_state_put(node_store *st, uint32_t idx, const node_origin_state *os, sn_err *err)
{
    sqlite3_stmt *s = st->stmts[ST_ORIGIN_SET];
    sqlite3_bind_int64(s, 1, idx);
    sqlite3_bind_int64(s, 2, (int64_t)os->held);
    sqlite3_bind_int64(s, 3, (int64_t)os->applied);
    sqlite3_bind_blob(s, 4, os->link, 32, SQLITE_STATIC);
    return node_stmt_exec(st, s, err, "updating an origin's vectors");
}
