/* node/store_bundle.c - the bundle tables (store layout 6, node/bundle.h): bundle parts
 * imported, and per peer the last bundle sent to it, its last acknowledgement and the last
 * bundle from it. */
#include "node/bundle.h"

#include <string.h>

#include "node/keyfile.h"
#include "node/store_int.h"
#include "sync/wire.h"

#define BPEER_COLS                                                                        \
    "replica, sent_id, sent_ms, sent_parts, sent_commits, sent, acked, acked_ms, recv_id, " \
    "recv_ms"

static void id_column(sqlite3_stmt *s, int i, uint8_t out[SYNC_BUNDLE_ID_LEN])
{
    if (sqlite3_column_bytes(s, i) == SYNC_BUNDLE_ID_LEN)
        memcpy(out, sqlite3_column_blob(s, i), SYNC_BUNDLE_ID_LEN);
}

static int bpeer_row(sqlite3_stmt *s, node_bundle_peer *p, sn_err *err)
{
    if (sqlite3_column_bytes(s, 0) == CRDT_REPLICA_LEN)
        memcpy(p->replica, sqlite3_column_blob(s, 0), CRDT_REPLICA_LEN);
    id_column(s, 1, p->sent_id);
    p->sent_ms = (uint64_t)sqlite3_column_int64(s, 2);
    p->sent_parts = (uint64_t)sqlite3_column_int64(s, 3);
    p->sent_commits = (uint64_t)sqlite3_column_int64(s, 4);
    int rc = node_vv_column(s, 5, &p->sent, err);
    if (rc == 0)
        rc = node_vv_column(s, 6, &p->acked, err);
    p->acked_ms = (uint64_t)sqlite3_column_int64(s, 7);
    id_column(s, 8, p->recv_id);
    p->recv_ms = (uint64_t)sqlite3_column_int64(s, 9);
    return rc;
}

int node_bundle_peer_load(node_store *st, const uint8_t replica[CRDT_REPLICA_LEN],
                          node_bundle_peer *out, bool *found, sn_err *err)
{
    memset(out, 0, sizeof *out);
    memcpy(out->replica, replica, CRDT_REPLICA_LEN);
    *found = false;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT " BPEER_COLS " FROM bundle_peer WHERE"
                                " replica = ?1", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "reading the bundles exchanged with a peer");
    sqlite3_bind_blob(s, 1, replica, CRDT_REPLICA_LEN, SQLITE_STATIC);
    rc = sqlite3_step(s);
    int res = 0;
    if (rc == SQLITE_ROW) {
        *found = true;
        res = bpeer_row(s, out, err);
    } else if (rc != SQLITE_DONE) {
        res = node_store_fail(st, rc, err, "reading the bundles exchanged with a peer");
    }
    sqlite3_finalize(s);
    if (res != 0)
        node_bundle_peer_free(out);
    return res;
}

static int bind_vv(sqlite3_stmt *s, int i, const crdt_vv *vv, sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, (size_t)CRDT_VV_MAX_ENTRIES * SYNC_VV_ENTRY_LEN + 4);
    int rc = sync_vv_encode(vv, &b, err);
    if (rc == 0)
        sqlite3_bind_blob(s, i, b.data, (int)b.len, SQLITE_TRANSIENT);
    sn_buf_free(&b);
    return rc;
}

int node_bundle_peer_save(node_store *st, const node_bundle_peer *p, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO bundle_peer(" BPEER_COLS ")"
                                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", -1, &s,
                                NULL);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "recording the bundles exchanged with a peer");
    sqlite3_bind_blob(s, 1, p->replica, CRDT_REPLICA_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, p->sent_id, SYNC_BUNDLE_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (int64_t)p->sent_ms);
    sqlite3_bind_int64(s, 4, (int64_t)p->sent_parts);
    sqlite3_bind_int64(s, 5, (int64_t)p->sent_commits);
    rc = bind_vv(s, 6, &p->sent, err);
    if (rc == 0)
        rc = bind_vv(s, 7, &p->acked, err);
    sqlite3_bind_int64(s, 8, (int64_t)p->acked_ms);
    sqlite3_bind_blob(s, 9, p->recv_id, SYNC_BUNDLE_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 10, (int64_t)p->recv_ms);
    if (rc == 0)
        rc = node_txn_begin(st, err);
    if (rc == 0) {
        int src = sqlite3_step(s);
        if (src != SQLITE_DONE)
            rc = node_store_fail(st, src, err, "recording the bundles exchanged with a peer");
        rc = node_txn_end(st, rc, err);
    }
    sqlite3_finalize(s);
    return rc;
}

void node_bundle_peer_free(node_bundle_peer *p)
{
    if (p == NULL)
        return;
    crdt_vv_free(&p->sent);
    crdt_vv_free(&p->acked);
}

int node_bundle_peer_each(node_store *st, node_bundle_peer_fn fn, void *ctx, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT " BPEER_COLS " FROM bundle_peer ORDER BY"
                                " replica", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "listing the bundles exchanged with peers");
    int res = 0;
    while (res == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        node_bundle_peer p;
        memset(&p, 0, sizeof p);
        res = bpeer_row(s, &p, err);
        if (res == 0)
            res = fn(ctx, &p, err);
        node_bundle_peer_free(&p);
    }
    if (res == 0 && rc != SQLITE_DONE)
        res = node_store_fail(st, rc, err, "listing the bundles exchanged with peers");
    sqlite3_finalize(s);
    return res;
}

uint64_t node_bundle_unacked(const node_bundle_peer *p)
{
    uint64_t n = 0;
    for (size_t i = 0; i < p->sent.n; i++) {
        uint64_t acked = crdt_vv_get(&p->acked, &p->sent.e[i].origin);
        if (p->sent.e[i].seq > acked)
            n += p->sent.e[i].seq - acked;
    }
    return n;
}

int node_bundle_seen(node_store *st, const sync_bundle_meta *m, const uint8_t hash[32],
                     bool *seen, uint64_t *when_ms, sn_err *err)
{
    *seen = false;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT imported_at FROM imported_bundles WHERE"
                                " bundle_id = ?1 AND part = ?2 AND hash = ?3", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "looking up the bundles imported");
    sqlite3_bind_blob(s, 1, m->id, SYNC_BUNDLE_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, m->part);
    sqlite3_bind_blob(s, 3, hash, 32, SQLITE_STATIC);
    rc = sqlite3_step(s);
    int res = 0;
    if (rc == SQLITE_ROW) {
        *seen = true;
        *when_ms = (uint64_t)sqlite3_column_int64(s, 0);
    } else if (rc != SQLITE_DONE) {
        res = node_store_fail(st, rc, err, "looking up the bundles imported");
    }
    sqlite3_finalize(s);
    return res;
}

int node_bundle_seen_put(node_store *st, const sync_bundle_meta *m, const uint8_t hash[32],
                         sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO imported_bundles(bundle_id,"
                                " part, sender, hash, imported_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "recording a bundle imported");
    sqlite3_bind_blob(s, 1, m->id, SYNC_BUNDLE_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, m->part);
    sqlite3_bind_blob(s, 3, m->sender, 16, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (int64_t)node_now_ms(st));
    rc = node_txn_begin(st, err);
    if (rc == 0) {
        int src = sqlite3_step(s);
        if (src != SQLITE_DONE)
            rc = node_store_fail(st, src, err, "recording a bundle imported");
        rc = node_txn_end(st, rc, err);
    }
    sqlite3_finalize(s);
    return rc;
}

int node_bundle_keys(node_store *st, sync_keys *out, sn_err *err)
{
    return node_keyfile_load(st->dir, out, err);
}

uint64_t node_bundle_now_ms(node_store *st) { return node_now_ms(st); }
