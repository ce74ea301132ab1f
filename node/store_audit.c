/* node/store_audit.c - the hash-chained audit log (table `audit`).
 *
 * hash_n = BLAKE2b-256(hash_{n-1} || u64 seq || u64 wall_ms || u64 hlc || u8 action ||
 *                      u8 has_patient [|| 16 patient] || str user || str os_user || str detail)
 * with integers big-endian, each str as u32 length + bytes, and hash_0 = 32 zero bytes. */
#include "node/audit.h"

#include <string.h>

#include "base/buf.h"
#include "base/hash.h"
#include "node/store_int.h"

static void hash_str(sn_blake2b_state *h, const char *s)
{
    uint8_t len[4];
    sn_store_u32be(len, (uint32_t)strlen(s));
    sn_blake2b_update(h, len, 4);
    sn_blake2b_update(h, s, strlen(s));
}

static void event_hash(const uint8_t prev[32], const node_audit_event *ev, uint8_t out[32])
{
    sn_blake2b_state h;
    sn_blake2b_init(&h, 32);
    sn_blake2b_update(&h, prev, 32);
    uint8_t nums[26];
    sn_store_u64be(nums, ev->seq);
    sn_store_u64be(nums + 8, ev->wall_ms);
    sn_store_u64be(nums + 16, ev->hlc);
    nums[24] = (uint8_t)ev->action;
    nums[25] = ev->has_patient;
    sn_blake2b_update(&h, nums, sizeof nums);
    if (ev->has_patient)
        sn_blake2b_update(&h, ev->patient, 16);
    hash_str(&h, ev->user);
    hash_str(&h, ev->os_user);
    hash_str(&h, ev->detail);
    sn_blake2b_final(&h, out, 32);
}

static void read_event(sqlite3_stmt *s, node_audit_event *ev)
{
    ev->seq = (uint64_t)sqlite3_column_int64(s, 0);
    ev->wall_ms = (uint64_t)sqlite3_column_int64(s, 1);
    ev->hlc = (crdt_hlc)sqlite3_column_int64(s, 2);
    ev->user = (const char *)sqlite3_column_text(s, 3);
    ev->os_user = (const char *)sqlite3_column_text(s, 4);
    const char *action = (const char *)sqlite3_column_text(s, 5);
    ev->action = action != NULL ? action[0] : '?';
    ev->has_patient = sqlite3_column_bytes(s, 6) == 16;
    if (ev->has_patient)
        memcpy(ev->patient, sqlite3_column_blob(s, 6), 16);
    ev->detail = (const char *)sqlite3_column_text(s, 7);
    memset(ev->hash, 0, 32);
    if (sqlite3_column_bytes(s, 8) == 32)
        memcpy(ev->hash, sqlite3_column_blob(s, 8), 32);
    if (ev->user == NULL)
        ev->user = "";
    if (ev->os_user == NULL)
        ev->os_user = "";
    if (ev->detail == NULL)
        ev->detail = "";
}

#define EVENT_COLS "seq, wall_ms, hlc, user, os_user, action, patient, detail, hash"

int node_audit_append_in_txn(node_store *st, const char *user, const char *os_user,
                             char action, const uint8_t *patient, const char *detail,
                             sn_err *err)
{
    if (strlen(detail) > NODE_AUDIT_DETAIL_MAX)
        return sn_err_set(err, SN_EINVAL, "audit detail longer than %d bytes",
                          NODE_AUDIT_DETAIL_MAX);
    sqlite3_stmt *last = NULL, *ins = NULL;
    int rc = 0;
    int src = node_stmt_cached(st, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &last);
    if (src == SQLITE_OK)
        src = node_stmt_cached(st, "INSERT INTO audit(" EVENT_COLS ") VALUES (?1, ?2, ?3,"
                               " ?4, ?5, ?6, ?7, ?8, ?9)", &ins);
    if (src != SQLITE_OK)
        rc = node_store_fail(st, src, err, "writing the audit log");
    uint8_t prev[32] = {0};
    node_audit_event ev = {.wall_ms = node_now_ms(st), .user = user, .os_user = os_user,
                           .action = action, .has_patient = patient != NULL,
                           .detail = detail, .seq = 1};
    if (rc == 0) {
        src = sqlite3_step(last);
        if (src == SQLITE_ROW) {
            ev.seq = (uint64_t)sqlite3_column_int64(last, 0) + 1;
            if (sqlite3_column_bytes(last, 1) == 32)
                memcpy(prev, sqlite3_column_blob(last, 1), 32);
        } else if (src != SQLITE_DONE) {
            rc = node_store_fail(st, src, err, "reading the audit log");
        }
    }
    if (rc == 0) {
        ev.hlc = crdt_clock_tick(&st->clock, ev.wall_ms);
        if (patient != NULL)
            memcpy(ev.patient, patient, 16);
        event_hash(prev, &ev, ev.hash);
        char act[2] = {action, '\0'};
        sqlite3_bind_int64(ins, 1, (int64_t)ev.seq);
        sqlite3_bind_int64(ins, 2, (int64_t)ev.wall_ms);
        sqlite3_bind_int64(ins, 3, (int64_t)ev.hlc);
        sqlite3_bind_text(ins, 4, user, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 5, os_user, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 6, act, 1, SQLITE_STATIC); /* act outlives the step */
        if (patient != NULL)
            sqlite3_bind_blob(ins, 7, patient, 16, SQLITE_STATIC);
        sqlite3_bind_text(ins, 8, detail, -1, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 9, ev.hash, 32, SQLITE_STATIC);
        rc = node_stmt_exec(st, ins, err, "writing the audit log");
    }
    if (rc == 0)
        rc = node_store_meta_hlc_put(st, err);
    node_stmt_release(st, last);
    node_stmt_release(st, ins);
    return rc;
}

int node_audit_append(node_store *st, const char *user, const char *os_user,
                      node_audit_action action, const uint8_t *patient, const char *detail,
                      sn_err *err)
{
    int rc = node_txn_begin(st, err);
    if (rc != 0)
        return rc;
    rc = node_audit_append_in_txn(st, user, os_user, (char)action, patient, detail, err);
    return node_txn_end(st, rc, err);
}

int node_audit_each(node_store *st, const uint8_t *patient, const char *user, node_audit_fn fn,
                    void *ctx, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT " EVENT_COLS " FROM audit WHERE"
                              " (?1 IS NULL OR patient = ?1) AND (?2 IS NULL OR user = ?2)"
                              " ORDER BY seq", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "reading the audit log");
    if (patient != NULL)
        sqlite3_bind_blob(s, 1, patient, 16, SQLITE_STATIC);
    if (user != NULL)
        sqlite3_bind_text(s, 2, user, -1, SQLITE_STATIC);
    rc = 0;
    int src;
    while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW) {
        node_audit_event ev;
        read_event(s, &ev);
        rc = fn(ctx, &ev, err);
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = node_store_fail(st, src, err, "reading the audit log");
    node_stmt_release(st, s);
    return rc;
}

typedef struct verifier {
    uint8_t prev[32];
    uint64_t n;
} verifier;

static int verify_one(void *ctx, const node_audit_event *ev, sn_err *err)
{
    verifier *v = ctx;
    if (ev->seq != v->n + 1)
        return sn_err_set(err, SN_ECORRUPT, "audit log: event %llu follows event %llu (a gap: "
                          "events were removed)", (unsigned long long)ev->seq,
                          (unsigned long long)v->n);
    uint8_t h[32];
    event_hash(v->prev, ev, h);
    if (memcmp(h, ev->hash, 32) != 0)
        return sn_err_set(err, SN_ECORRUPT, "audit log: event %llu does not match its hash "
                          "(it or an earlier event was altered)", (unsigned long long)ev->seq);
    memcpy(v->prev, h, 32);
    v->n++;
    return 0;
}

int node_audit_verify(node_store *st, uint64_t *count, sn_err *err)
{
    verifier v = {{0}, 0};
    int rc = node_audit_each(st, NULL, NULL, verify_one, &v, err);
    if (count != NULL)
        *count = v.n;
    return rc;
}
