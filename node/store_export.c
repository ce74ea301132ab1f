/* node/store_export.c - sending commits as signed units. Other origins' commits go out cut
 * at the checkpoints this node received with them, so they verify end to end whoever
 * relays them. This node's own replica's commits (every epoch it held) get checkpoints
 * about every NODE_CHECKPOINT_EVERY bytes, signed now and kept, so a later export reuses
 * them and never signs two different links for one seq. A unit is the longest run of
 * checkpoint ranges within the target size (at least one range). */
#include <string.h>

#include "base/alloc.h"
#include "node/keyfile.h"
#include "node/store_int.h"
#include "node/trust.h"
#include "node/units.h"

typedef struct signer {
    bool ready;
    sync_keys keys;
    uint64_t serial;
} signer;

static int signer_load(node_store *st, signer *sg, sn_err *err)
{
    if (sg->ready)
        return 0;
    sync_cert own;
    int rc = node_trust_own(st, &own, err);
    if (rc == SN_ENOTFOUND)
        sn_err_prefix(err, "this node's commits cannot be signed for sending");
    if (rc == 0)
        rc = node_keyfile_load(st->dir, &sg->keys, err);
    if (rc == 0 && memcmp(own.sign_pk, sg->keys.sign_pk, SYNC_SIGN_PK_LEN) != 0)
        rc = sn_err_set(err, SN_EAUTH, "this node's certificate is for other keys than the "
                        "ones in '%s/keys'", st->dir);
    sg->serial = own.serial;
    sg->ready = rc == 0;
    return rc;
}

static int checkpoint_bytes(node_store *st, uint32_t idx, uint64_t seq, bool latest,
                            uint8_t out[SYNC_CHECKPOINT_LEN], uint64_t *seq_out, bool *found,
                            sn_err *err);

/* Sign and keep checkpoints of our own origin idx after the last one made, up to held,
 * about every NODE_CHECKPOINT_EVERY body bytes and at held. Reads only the commits after
 * that checkpoint, whose hlc_max carries on the running maximum: a push of one new commit
 * costs one commit's work, however long the log. */
static int sign_own(node_store *st, uint32_t idx, uint64_t held, signer *sg, sn_err *err)
{
    uint8_t lastb[SYNC_CHECKPOINT_LEN];
    uint64_t last = 0;
    bool found = false;
    int rc = checkpoint_bytes(st, idx, 0, true, lastb, &last, &found, err);
    if (rc != 0)
        return rc;
    crdt_hlc hlc_max = 0;
    if (found) {
        sync_checkpoint lcp;
        rc = sync_checkpoint_parse(lastb, sizeof lastb, &lcp, err);
        if (rc != 0)
            return rc;
        if (last >= held)
            return 0; /* the usual repeat export: everything is cut already */
        hlc_max = lcp.hlc_max;
    } else {
        last = 0;
    }
    sqlite3_stmt *s = NULL;
    if (node_stmt_cached(st, "SELECT key, hlc, length(body), link FROM"
                         " commit_log WHERE key BETWEEN ?1 AND ?2 ORDER BY key", &s) != SQLITE_OK)
        return node_store_fail(st, sqlite3_errcode(st->db), err, "reading the commit log");
    rc = signer_load(st, sg, err);
    if (rc == 0)
        rc = node_txn_begin(st, err);
    if (rc != 0) {
        node_stmt_release(st, s);
        return rc;
    }
    sqlite3_bind_int64(s, 1, NODE_LOG_KEY(idx, last + 1));
    sqlite3_bind_int64(s, 2, NODE_LOG_KEY(idx, held));
    size_t acc = 0;
    int src;
    while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW) {
        uint64_t seq = (uint64_t)sqlite3_column_int64(s, 0) & NODE_SEQ_MAX;
        crdt_hlc hlc = (crdt_hlc)sqlite3_column_int64(s, 1);
        if (hlc > hlc_max)
            hlc_max = hlc;
        acc += (size_t)sqlite3_column_int64(s, 2) + 4;
        if (acc < NODE_CHECKPOINT_EVERY && seq != held)
            continue;
        if (sqlite3_column_bytes(s, 3) != 32) {
            rc = sn_err_set(err, SN_ECORRUPT, "store '%s': commit %llu has no chain link",
                            st->dir, (unsigned long long)seq);
            break;
        }
        sync_checkpoint cp = {.origin = *node_origin_of(st, idx), .cert_serial = sg->serial,
                              .seq = seq, .hlc_max = hlc_max};
        memcpy(cp.link, sqlite3_column_blob(s, 3), 32);
        sync_checkpoint_sign(&cp, sg->keys.sign_sk);
        rc = node_checkpoint_store(st, idx, &cp, err);
        acc = 0;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = node_store_fail(st, src, err, "reading the commit log");
    node_stmt_release(st, s);
    return node_txn_end(st, rc, err);
}

static int checkpoint_bytes(node_store *st, uint32_t idx, uint64_t seq, bool latest,
                            uint8_t out[SYNC_CHECKPOINT_LEN], uint64_t *seq_out, bool *found,
                            sn_err *err)
{
    sqlite3_stmt *s = NULL;
    const char *sql = latest ? "SELECT seq, bytes FROM checkpoint WHERE origin = ?1"
                               " ORDER BY seq DESC LIMIT 1"
                             : "SELECT seq, bytes FROM checkpoint WHERE origin = ?1 AND"
                               " seq >= ?2 ORDER BY seq LIMIT 1";
    int rc = node_stmt_cached(st, sql, &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "reading checkpoints");
    sqlite3_bind_int64(s, 1, idx);
    if (!latest)
        sqlite3_bind_int64(s, 2, (int64_t)seq);
    rc = sqlite3_step(s);
    *found = rc == SQLITE_ROW && sqlite3_column_bytes(s, 1) == SYNC_CHECKPOINT_LEN;
    if (*found) {
        *seq_out = (uint64_t)sqlite3_column_int64(s, 0);
        memcpy(out, sqlite3_column_blob(s, 1), SYNC_CHECKPOINT_LEN);
    }
    node_stmt_release(st, s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return node_store_fail(st, rc, err, "reading checkpoints");
    return 0;
}

int node_checkpoint_next(node_store *st, uint32_t idx, uint64_t seq, uint8_t out[148],
                         uint64_t *at, bool *found, sn_err *err)
{
    return checkpoint_bytes(st, idx, seq, false, out, at, found, err);
}

int node_unit_cut(node_store *st, uint32_t idx, uint64_t first, const uint8_t cpb[148],
                  sn_buf *out, sn_err *err)
{
    sync_checkpoint cp;
    int rc = sync_checkpoint_parse(cpb, SYNC_CHECKPOINT_LEN, &cp, err);
    if (rc != 0)
        return rc;
    uint32_t count = (uint32_t)(cp.seq - first + 1);
    const uint8_t **bodies = sn_calloc(count, sizeof *bodies);
    size_t *lens = sn_calloc(count, sizeof *lens);
    uint8_t **copies = sn_calloc(count, sizeof *copies);
    if (bodies == NULL || lens == NULL || copies == NULL)
        rc = sn_err_set(err, SN_ENOMEM, "out of memory cutting a unit of %u commits", count);
    sqlite3_stmt *s = st->stmts[ST_LOG_RANGE];
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, NODE_LOG_KEY(idx, first));
        sqlite3_bind_int64(s, 2, NODE_LOG_KEY(idx, cp.seq));
        uint32_t k = 0;
        int src = SQLITE_DONE;
        while (rc == 0 && k < count && (src = sqlite3_step(s)) == SQLITE_ROW) {
            size_t n = (size_t)sqlite3_column_bytes(s, 1);
            copies[k] = sn_malloc(n == 0 ? 1 : n);
            if (copies[k] == NULL) {
                rc = sn_err_set(err, SN_ENOMEM, "out of memory cutting a unit");
                break;
            }
            memcpy(copies[k], sqlite3_column_blob(s, 1), n);
            bodies[k] = copies[k];
            lens[k] = n;
            k++;
        }
        if (rc == 0 && src != SQLITE_ROW && src != SQLITE_DONE)
            rc = node_store_fail(st, src, err, "reading the commit log");
        if (rc == 0 && k != count)
            rc = sn_err_set(err, SN_ECORRUPT, "store '%s': commits of origin %u are missing "
                            "below its checkpoint at %llu", st->dir, idx,
                            (unsigned long long)cp.seq);
        node_stmt_done(s);
    }
    if (rc == 0) {
        out->len = 0;
        rc = sync_unit_encode(first, bodies, lens, count, &cp, out, err);
    }
    for (uint32_t k = 0; copies != NULL && k < count; k++)
        sn_free(copies[k]);
    sn_free(copies);
    sn_free(bodies);
    sn_free(lens);
    return rc;
}

/* Emit commits first..cp.seq of origin idx as one unit under checkpoint `cpb`. */
static int emit_unit(node_store *st, uint32_t idx, uint64_t first, const uint8_t *cpb,
                     node_bytes_fn fn, void *ctx, sn_buf *out, sn_err *err)
{
    int rc = node_unit_cut(st, idx, first, cpb, out, err);
    return rc == 0 ? fn(ctx, out->data, out->len, err) : rc;
}

/* Where the unit starting at `seq` ends: the furthest checkpoint (<= held) whose range
 * from seq stays within `target` body bytes, or the first one when even it does not.
 * *at is 0 when no checkpoint covers seq. */
static int unit_end(node_store *st, uint32_t idx, uint64_t seq, uint64_t held, size_t target,
                    uint64_t *at, sn_err *err)
{
    *at = 0;
    sqlite3_stmt *ck = NULL, *ln = NULL;
    int rc = node_stmt_cached(st, "SELECT seq FROM checkpoint WHERE origin = ?1 AND seq"
                              " BETWEEN ?2 AND ?3 ORDER BY seq", &ck);
    if (rc == SQLITE_OK)
        rc = node_stmt_cached(st, "SELECT key, length(body) FROM commit_log WHERE key"
                              " BETWEEN ?1 AND ?2 ORDER BY key", &ln);
    if (rc != SQLITE_OK) {
        node_stmt_release(st, ck);
        return node_store_fail(st, rc, err, "reading checkpoints");
    }
    sqlite3_bind_int64(ck, 1, idx);
    sqlite3_bind_int64(ck, 2, (int64_t)seq);
    sqlite3_bind_int64(ck, 3, (int64_t)held);
    sqlite3_bind_int64(ln, 1, NODE_LOG_KEY(idx, seq));
    sqlite3_bind_int64(ln, 2, NODE_LOG_KEY(idx, held));
    uint64_t acc = 0, counted = seq - 1;
    int crc, lrc = SQLITE_ROW;
    while ((crc = sqlite3_step(ck)) == SQLITE_ROW) {
        uint64_t c = (uint64_t)sqlite3_column_int64(ck, 0);
        while (counted < c && (lrc = sqlite3_step(ln)) == SQLITE_ROW) {
            counted = (uint64_t)sqlite3_column_int64(ln, 0) & NODE_SEQ_MAX;
            acc += (uint64_t)sqlite3_column_int64(ln, 1) + 4;
        }
        if (lrc != SQLITE_ROW && counted < c)
            break;
        if (acc > target && *at != 0)
            break;
        *at = c;
        if (acc >= target)
            break;
    }
    if (crc != SQLITE_ROW && crc != SQLITE_DONE)
        rc = node_store_fail(st, crc, err, "reading checkpoints");
    else if (lrc != SQLITE_ROW && lrc != SQLITE_DONE)
        rc = node_store_fail(st, lrc, err, "reading the commit log");
    else
        rc = 0;
    node_stmt_release(st, ck);
    node_stmt_release(st, ln);
    return rc;
}

static int export_origin(node_store *st, uint32_t idx, uint64_t from, uint64_t held,
                         size_t target, node_bytes_fn unit, void *ctx, node_export_stats *stats,
                         sn_buf *out, sn_err *err)
{
    int rc = 0;
    uint64_t seq = from + 1;
    while (rc == 0 && seq <= held) {
        uint8_t cpb[SYNC_CHECKPOINT_LEN];
        uint64_t at = 0, end = 0;
        bool found = false;
        rc = unit_end(st, idx, seq, held, target, &end, err);
        if (rc == 0 && end != 0)
            rc = checkpoint_bytes(st, idx, end, false, cpb, &at, &found, err);
        if (rc != 0)
            break;
        if (!found || at > held) {
            stats->uncovered += held - seq + 1;
            break;
        }
        rc = emit_unit(st, idx, seq, cpb, unit, ctx, out, err);
        stats->units++;
        stats->commits += at - seq + 1;
        seq = at + 1;
    }
    return rc;
}

int node_store_export_units(node_store *st, const crdt_vv *peer_held, node_bytes_fn unit,
                            node_bytes_fn head, void *ctx, node_export_stats *stats,
                            sn_err *err)
{
    return node_store_export_units_sized(st, peer_held, NODE_UNIT_TARGET, unit, head, ctx,
                                         stats, err);
}

int node_store_export_units_sized(node_store *st, const crdt_vv *peer_held, size_t target,
                                  node_bytes_fn unit, node_bytes_fn head, void *ctx,
                                  node_export_stats *stats, sn_err *err)
{
    node_export_stats local = {0};
    if (stats == NULL)
        stats = &local;
    *stats = (node_export_stats){0};
    signer sg = {0};
    sn_buf out;
    sn_buf_init(&out, (size_t)1 << 30);
    int rc = 0;
    /* Own commits get their checkpoints first (that writes); the rest only reads, in one
     * read transaction. */
    for (uint32_t idx = 1; idx <= st->norigins && rc == 0; idx++) {
        const crdt_origin *o = node_origin_of(st, idx);
        if (memcmp(o->replica, st->self.replica, CRDT_REPLICA_LEN) != 0)
            continue;
        node_origin_state os;
        rc = node_origin_state_get(st, idx, &os, err);
        uint64_t from = peer_held != NULL ? crdt_vv_get(peer_held, o) : 0;
        if (rc == 0 && from < os.held)
            rc = sign_own(st, idx, os.held, &sg, err);
    }
    bool owned = rc == 0 && node_read_begin(st);
    for (uint32_t idx = 1; idx <= st->norigins && rc == 0; idx++) {
        node_origin_state os;
        rc = node_origin_state_get(st, idx, &os, err);
        uint64_t from = peer_held != NULL ? crdt_vv_get(peer_held, node_origin_of(st, idx)) : 0;
        if (rc == 0 && from < os.held)
            rc = export_origin(st, idx, from, os.held, target, unit, ctx, stats, &out, err);
    }
    for (uint32_t idx = 1; idx <= st->norigins && rc == 0 && head != NULL; idx++) {
        uint8_t cpb[SYNC_CHECKPOINT_LEN];
        uint64_t at;
        bool found;
        rc = checkpoint_bytes(st, idx, 0, true, cpb, &at, &found, err);
        if (rc == 0 && found) {
            rc = head(ctx, cpb, sizeof cpb, err);
            stats->heads++;
        }
    }
    node_read_end(st, owned);
    sn_buf_free(&out);
    sync_keys_wipe(&sg.keys);
    return rc;
}
