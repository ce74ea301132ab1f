/* node/store_peers.c - the peer table (node/peers.h) and the persisted clock offset. */
#include "node/peers.h"

#include <string.h>

#include "node/store_int.h"
#include "sync/wire.h"

#define PEER_COLS                                                                          \
    "replica, name, seen, told, window, last_seen_ms, last_sync_ms, bytes_in, bytes_out, " \
    "sessions, completed, skew_ms, last_error, last_error_ms, unit_target, digest_match, " \
    "digest_ms"

int node_vv_column(sqlite3_stmt *s, int i, crdt_vv *out, sn_err *err)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return 0;
    int rc = sync_vv_parse(sqlite3_column_blob(s, i), (size_t)sqlite3_column_bytes(s, i), out,
                           err);
    if (rc != 0)
        sn_err_prefix(err, "a peer's stored vector is damaged");
    return rc;
}

static void text_column(sqlite3_stmt *s, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    size_t n = t != NULL ? strlen((const char *)t) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n > 0)
        memcpy(out, t, n);
    out[n] = '\0';
}

static int peer_row(sqlite3_stmt *s, node_peer *p, sn_err *err)
{
    if (sqlite3_column_bytes(s, 0) == CRDT_REPLICA_LEN)
        memcpy(p->replica, sqlite3_column_blob(s, 0), CRDT_REPLICA_LEN);
    text_column(s, 1, p->name, sizeof p->name);
    int rc = node_vv_column(s, 2, &p->seen, err);
    if (rc == 0)
        rc = node_vv_column(s, 3, &p->told, err);
    p->window = (uint32_t)sqlite3_column_int64(s, 4);
    p->last_seen_ms = (uint64_t)sqlite3_column_int64(s, 5);
    p->last_sync_ms = (uint64_t)sqlite3_column_int64(s, 6);
    p->bytes_in = (uint64_t)sqlite3_column_int64(s, 7);
    p->bytes_out = (uint64_t)sqlite3_column_int64(s, 8);
    p->sessions = (uint64_t)sqlite3_column_int64(s, 9);
    p->completed = (uint64_t)sqlite3_column_int64(s, 10);
    p->skew_ms = sqlite3_column_int64(s, 11);
    text_column(s, 12, p->last_error, sizeof p->last_error);
    p->last_error_ms = (uint64_t)sqlite3_column_int64(s, 13);
    p->unit_target = (uint32_t)sqlite3_column_int64(s, 14);
    p->digest_match = (uint8_t)sqlite3_column_int(s, 15);
    p->digest_ms = (uint64_t)sqlite3_column_int64(s, 16);
    return rc;
}

int node_peer_load(node_store *st, const uint8_t replica[CRDT_REPLICA_LEN], node_peer *out,
                   bool *found, sn_err *err)
{
    memset(out, 0, sizeof *out);
    memcpy(out->replica, replica, CRDT_REPLICA_LEN);
    *found = false;
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT " PEER_COLS " FROM peer WHERE replica = ?1", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "reading what is known of a peer");
    sqlite3_bind_blob(s, 1, replica, CRDT_REPLICA_LEN, SQLITE_STATIC);
    rc = sqlite3_step(s);
    int res = 0;
    if (rc == SQLITE_ROW) {
        *found = true;
        res = peer_row(s, out, err);
    } else if (rc != SQLITE_DONE) {
        res = node_store_fail(st, rc, err, "reading what is known of a peer");
    }
    node_stmt_release(st, s);
    if (res != 0)
        node_peer_free(out);
    return res;
}

static int bind_vv(sqlite3_stmt *s, int i, const crdt_vv *vv, sn_buf *b, sn_err *err)
{
    int rc = sync_vv_encode(vv, b, err);
    if (rc == 0)
        sqlite3_bind_blob(s, i, b->data, (int)b->len, SQLITE_TRANSIENT);
    sn_buf_reset(b);
    return rc;
}

/* Write the peer's row (inside the caller's transaction). */
static int peer_write(node_store *st, const node_peer *p, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "INSERT OR REPLACE INTO peer(" PEER_COLS ") VALUES"
                              " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
                              " ?16, ?17)", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "recording what is known of a peer");
    sn_buf b;
    sn_buf_init(&b, (size_t)CRDT_VV_MAX_ENTRIES * SYNC_VV_ENTRY_LEN + 4);
    sqlite3_bind_blob(s, 1, p->replica, CRDT_REPLICA_LEN, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, p->name, -1, SQLITE_STATIC);
    rc = bind_vv(s, 3, &p->seen, &b, err);
    if (rc == 0)
        rc = bind_vv(s, 4, &p->told, &b, err);
    sqlite3_bind_int64(s, 5, p->window);
    sqlite3_bind_int64(s, 6, (int64_t)p->last_seen_ms);
    sqlite3_bind_int64(s, 7, (int64_t)p->last_sync_ms);
    sqlite3_bind_int64(s, 8, (int64_t)p->bytes_in);
    sqlite3_bind_int64(s, 9, (int64_t)p->bytes_out);
    sqlite3_bind_int64(s, 10, (int64_t)p->sessions);
    sqlite3_bind_int64(s, 11, (int64_t)p->completed);
    sqlite3_bind_int64(s, 12, p->skew_ms);
    sqlite3_bind_text(s, 13, p->last_error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 14, (int64_t)p->last_error_ms);
    sqlite3_bind_int64(s, 15, p->unit_target);
    sqlite3_bind_int(s, 16, p->digest_match);
    sqlite3_bind_int64(s, 17, (int64_t)p->digest_ms);
    if (rc == 0)
        rc = node_stmt_exec(st, s, err, "recording what is known of a peer");
    node_stmt_release(st, s);
    sn_buf_free(&b);
    return rc;
}

int node_peer_save(node_store *st, const node_peer *p, sn_err *err)
{
    int rc = node_txn_begin(st, err);
    if (rc == 0)
        rc = peer_write(st, p, err);
    return node_txn_end(st, rc, err);
}

#define DAY_MS UINT64_C(86400000)

static int day_add(node_store *st, const uint8_t replica[CRDT_REPLICA_LEN],
                   const node_peer_session *ps, sn_err *err)
{
    uint64_t day = ps->at_ms / DAY_MS;
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "INSERT INTO peer_day(replica, day, sessions, completed,"
                              " failed, bytes_in, bytes_out) VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6)"
                              " ON CONFLICT(replica, day) DO UPDATE SET"
                              " sessions = sessions + 1, completed = completed + ?3,"
                              " failed = failed + ?4, bytes_in = bytes_in + ?5,"
                              " bytes_out = bytes_out + ?6", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "recording a day's sessions with a peer");
    sqlite3_bind_blob(s, 1, replica, CRDT_REPLICA_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (int64_t)day);
    sqlite3_bind_int(s, 3, ps->completed);
    sqlite3_bind_int(s, 4, ps->failed);
    sqlite3_bind_int64(s, 5, (int64_t)ps->bytes_in);
    sqlite3_bind_int64(s, 6, (int64_t)ps->bytes_out);
    rc = node_stmt_exec(st, s, err, "recording a day's sessions with a peer");
    node_stmt_release(st, s);
    if (rc != 0 || day < NODE_PEER_DAYS_KEPT)
        return rc;
    rc = node_stmt_cached(st, "DELETE FROM peer_day WHERE replica = ?1 AND day < ?2", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "dropping old days of sessions");
    sqlite3_bind_blob(s, 1, replica, CRDT_REPLICA_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (int64_t)(day - NODE_PEER_DAYS_KEPT));
    rc = node_stmt_exec(st, s, err, "dropping old days of sessions");
    node_stmt_release(st, s);
    return rc;
}

int node_peer_save_session(node_store *st, const node_peer *p, const node_peer_session *ps,
                           sn_err *err)
{
    int rc = node_txn_begin(st, err);
    if (rc == 0)
        rc = peer_write(st, p, err);
    if (rc == 0)
        rc = day_add(st, p->replica, ps, err);
    return node_txn_end(st, rc, err);
}

int node_peer_days(node_store *st, const uint8_t replica[CRDT_REPLICA_LEN], uint64_t since_day,
                   node_peer_day_fn fn, void *ctx, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT day, sessions, completed, failed, bytes_in, bytes_out"
                              " FROM peer_day WHERE replica = ?1 AND day >= ?2 ORDER BY day", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "reading the days of sessions with a peer");
    sqlite3_bind_blob(s, 1, replica, CRDT_REPLICA_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (int64_t)since_day);
    int res = 0;
    while (res == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        node_peer_day d = {
            .day = (uint64_t)sqlite3_column_int64(s, 0),
            .sessions = (uint64_t)sqlite3_column_int64(s, 1),
            .completed = (uint64_t)sqlite3_column_int64(s, 2),
            .failed = (uint64_t)sqlite3_column_int64(s, 3),
            .bytes_in = (uint64_t)sqlite3_column_int64(s, 4),
            .bytes_out = (uint64_t)sqlite3_column_int64(s, 5),
        };
        res = fn(ctx, &d, err);
    }
    if (res == 0 && rc != SQLITE_DONE)
        res = node_store_fail(st, rc, err, "reading the days of sessions with a peer");
    node_stmt_release(st, s);
    return res;
}

void node_peer_free(node_peer *p)
{
    if (p == NULL)
        return;
    crdt_vv_free(&p->seen);
    crdt_vv_free(&p->told);
}

int node_peer_each(node_store *st, node_peer_fn fn, void *ctx, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT " PEER_COLS " FROM peer ORDER BY replica", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "listing peers");
    int res = 0;
    while (res == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        node_peer p;
        memset(&p, 0, sizeof p);
        res = peer_row(s, &p, err);
        if (res == 0)
            res = fn(ctx, &p, err);
        node_peer_free(&p);
    }
    if (res == 0 && rc != SQLITE_DONE)
        res = node_store_fail(st, rc, err, "listing peers");
    node_stmt_release(st, s);
    return res;
}

int node_store_clock_offset_set(node_store *st, int64_t offset_ms, sn_err *err)
{
    uint8_t b[8];
    sn_store_u64be(b, (uint64_t)offset_ms);
    int rc = node_txn_begin(st, err);
    if (rc == 0)
        rc = node_meta_blob_put(st, "clock_offset_ms", b, sizeof b, err);
    rc = node_txn_end(st, rc, err);
    if (rc == 0)
        st->clock_offset_ms = offset_ms;
    return rc;
}

int64_t node_store_clock_offset(const node_store *st) { return st->clock_offset_ms; }

int node_clock_offset_load(node_store *st, sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, 64);
    bool found = false;
    int rc = node_meta_blob_get(st, "clock_offset_ms", &b, &found, err);
    if (rc == 0 && found && b.len == 8)
        st->clock_offset_ms = (int64_t)sn_load_u64be(b.data);
    sn_buf_free(&b);
    return rc;
}
