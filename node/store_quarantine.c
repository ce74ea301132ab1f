/* node/store_quarantine.c - how far each origin may apply. A revoked certificate's entry
 * in the revocation list caps the commits that checkpoints signed under it can vouch for
 * (sync_crl_watermark, per serial); an equivocation proof freezes the origin from the first
 * seq known to differ. Commits past the bound are held but not applied (quarantined,
 * listed); when a bound falls below what was already applied, those commits are
 * un-applied by rebuilding the rows they touched from the commits that remain, so the
 * state is the same whichever arrived first, the list or the commits. */
#include <string.h>

#include "base/alloc.h"
#include "node/store_int.h"
#include "node/trust.h"
#include "node/units.h"

/* Highest seq of origin idx that some stored checkpoint vouches for under the list. */
static int covered_bound(node_store *st, uint32_t idx, const sync_crl *crl, uint64_t *out,
                         sn_err *err)
{
    const crdt_origin *o = node_origin_of(st, idx);
    *out = 0;
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT seq, serial FROM checkpoint WHERE origin = ?1", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "reading checkpoints");
    sqlite3_bind_int64(s, 1, idx);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        uint64_t seq = (uint64_t)sqlite3_column_int64(s, 0);
        uint64_t wm = sync_crl_watermark(crl, o, (uint64_t)sqlite3_column_int64(s, 1));
        uint64_t w = seq < wm ? seq : wm;
        if (w > *out)
            *out = w;
    }
    node_stmt_release(st, s);
    if (rc != SQLITE_DONE)
        return node_store_fail(st, rc, err, "reading checkpoints");
    return 0;
}

/* The first frozen seq of origin idx, 0 when it is not frozen. */
static int frozen_at(node_store *st, uint32_t idx, uint64_t *out, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    *out = 0;
    int rc = node_stmt_cached(st, "SELECT seq FROM equivocation WHERE origin = ?1", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "reading equivocation proofs");
    sqlite3_bind_int64(s, 1, idx);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(s, 0);
    node_stmt_release(st, s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return node_store_fail(st, rc, err, "reading equivocation proofs");
    return 0;
}

bool node_origin_is_frozen(node_store *st, const crdt_origin *o)
{
    uint32_t idx = node_origin_find(st, o);
    uint64_t seq = 0;
    return idx != 0 && frozen_at(st, idx, &seq, NULL) == 0 && seq != 0;
}

static bool crl_names(const sync_crl *crl, const uint8_t replica[16])
{
    return sync_crl_find(crl, replica) != NULL;
}

static int bound_of(node_store *st, uint32_t idx, const sync_crl *crl, uint64_t *out,
                    sn_err *err)
{
    const crdt_origin *o = node_origin_of(st, idx);
    *out = NODE_SEQ_MAX;
    /* This node's own replica is never held back here: it wrote those commits. */
    if (memcmp(o->replica, st->self.replica, CRDT_REPLICA_LEN) == 0)
        return 0;
    int rc = 0;
    if (crl_names(crl, o->replica))
        rc = covered_bound(st, idx, crl, out, err);
    uint64_t frozen = 0;
    if (rc == 0)
        rc = frozen_at(st, idx, &frozen, err);
    if (rc == 0 && frozen != 0 && frozen - 1 < *out)
        *out = frozen - 1;
    return rc;
}

static int bound_put(node_store *st, uint32_t idx, uint64_t bound, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "UPDATE origin SET bound = ?2 WHERE idx = ?1", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "recording an origin's bound");
    sqlite3_bind_int64(s, 1, idx);
    if (bound != NODE_SEQ_MAX)
        sqlite3_bind_int64(s, 2, (int64_t)bound);
    rc = node_stmt_exec(st, s, err, "recording an origin's bound");
    node_stmt_release(st, s);
    return rc;
}

/* Lower or raise origin idx's bound; un-apply what lies past a lowered one. */
static int refresh_one(node_store *st, uint32_t idx, const sync_crl *crl, sn_err *err)
{
    node_origin_state os;
    uint64_t bound;
    int rc = node_origin_state_get(st, idx, &os, err);
    if (rc == 0)
        rc = bound_of(st, idx, crl, &bound, err);
    if (rc != 0 || bound == os.bound)
        return rc;
    rc = bound_put(st, idx, bound, err);
    if (rc != 0 || os.applied <= bound)
        return rc;
    node_rowref *rows = NULL;
    size_t n = 0;
    rc = node_rows_touched(st, idx, bound + 1, os.applied, &rows, &n, err);
    if (rc == 0) {
        os.applied = bound;
        rc = node_origin_state_put(st, idx, &os, err);
    }
    if (rc == 0 && n > 0)
        rc = node_rematerialize_rows(st, rows, n, err);
    sn_free(rows);
    return rc;
}

int node_bounds_refresh(node_store *st, const uint32_t *idxs, size_t n, sn_err *err)
{
    sync_crl crl = {0};
    int rc = node_trust_crl(st, &crl, err);
    if (rc == SN_ENOTFOUND) { /* not enrolled: no list, nothing revoked */
        sn_err_clear(err);
        rc = 0;
    }
    if (idxs == NULL) {
        for (uint32_t idx = 1; idx <= st->norigins && rc == 0; idx++)
            rc = refresh_one(st, idx, &crl, err);
    } else {
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = refresh_one(st, idxs[i], &crl, err);
    }
    sync_crl_free(&crl);
    return rc;
}

int node_store_apply_pending(node_store *st, size_t *applied, sn_err *err)
{
    size_t n = 0;
    int rc = node_apply_pending(st, &n, err);
    if (applied != NULL)
        *applied = n;
    return rc;
}

int node_store_quarantine_each(node_store *st, node_quarantine_fn fn, void *ctx, sn_err *err)
{
    int rc = 0;
    for (uint32_t idx = 1; idx <= st->norigins && rc == 0; idx++) {
        node_origin_state os;
        uint64_t frozen = 0;
        rc = node_origin_state_get(st, idx, &os, err);
        if (rc != 0 || os.held <= os.bound)
            continue;
        rc = frozen_at(st, idx, &frozen, err);
        node_quarantine q = {.origin = *node_origin_of(st, idx), .first = os.bound + 1,
                             .last = os.held, .frozen = frozen != 0 && frozen - 1 == os.bound};
        if (rc == 0)
            rc = fn(ctx, &q, err);
    }
    return rc;
}

int node_store_equivocations_each(node_store *st, node_equivocation_fn fn, void *ctx,
                                  sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT origin, seq, ours, theirs, found_ms,"
                                " coalesce(length(proof), 0) FROM equivocation ORDER BY origin",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "reading equivocation proofs");
    int res = 0;
    while (res == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const crdt_origin *o = node_origin_of(st, (uint32_t)sqlite3_column_int64(s, 0));
        size_t nours = (size_t)sqlite3_column_bytes(s, 2);
        if (o == NULL || sqlite3_column_bytes(s, 3) != SYNC_CHECKPOINT_LEN ||
            (nours != 0 && nours != SYNC_CHECKPOINT_LEN)) {
            res = sn_err_set(err, SN_ECORRUPT, "store '%s': an equivocation proof is damaged",
                             st->dir);
            break;
        }
        node_equivocation e = {.origin = *o, .seq = (uint64_t)sqlite3_column_int64(s, 1),
                               .ours_len = nours,
                               .found_ms = (uint64_t)sqlite3_column_int64(s, 4),
                               .proof_len = (size_t)sqlite3_column_int64(s, 5)};
        if (nours > 0)
            memcpy(e.ours, sqlite3_column_blob(s, 2), nours);
        memcpy(e.theirs, sqlite3_column_blob(s, 3), SYNC_CHECKPOINT_LEN);
        res = fn(ctx, &e, err);
    }
    node_stmt_release(st, s);
    if (res == 0 && rc != SQLITE_DONE)
        res = node_store_fail(st, rc, err, "reading equivocation proofs");
    return res;
}
