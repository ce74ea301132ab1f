/* node/store_equiv.c - proofs of equivocation: made where a fork is found, kept, sent to
 * peers, and checked before a received one freezes anything.
 *
 * The rule (DESIGN.md §4): an origin that signed two histories is frozen on every node that
 * learns of it, with the proof kept and shown, and every node must end in the same state.
 * So a proof must convince a node that holds neither history past the fork, and every node
 * must freeze from the same seq:
 *
 *   - Made here (node_equivocation_found): when a unit's verified chain, or a checkpoint
 *     offered alone, parts from the history held at seq s (for a unit, the first seq whose
 *     links differ), the proof (sync/proof.h) gets two sides at s: ours, from the store (the
 *     link held at s, our nearest checkpoint at or after s and the commits between), and
 *     theirs, from the unit (its link at s, its commits after s and its checkpoint) or the
 *     checkpoint alone when it lies at s. Both are signed by the origin and hash to their
 *     checkpoints, so any holder of the origin's certificates can check the proof alone.
 *     (Departure from DESIGN.md §4: the two checkpoints of a proof may be at different
 *     seqs; the links they vouch for are compared at one seq.) When no checkpoint of ours
 *     lies at or after s (this node's own commits not yet sent), the freeze is kept
 *     without a proof to send: its peers find the fork from the other side.
 *   - Kept: one per origin. A proof at a lower seq replaces the one held (and lowers the
 *     freeze), so the freeze seq is the minimum over the proofs anyone found, and every
 *     node that receives them all ends at the same one. Units of the origin that wait here
 *     from the frozen seq on are dropped; those before it are still taken (node/units.h).
 *   - Sent: with the heads of every session (a PROOF message per proof, after the
 *     certificates of its two checkpoints) and in every log file (node/logfile.c).
 *   - Received (node_store_offer_proofs): parsed strictly, both signatures checked under
 *     the certificates held, the chains hashed; only then kept, the origin frozen and what
 *     it had applied from the seq on rebuilt. A proof that fails refuses the whole call
 *     with the store unchanged. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/log.h"
#include "node/store_int.h"
#include "node/trust.h"
#include "node/units.h"
#include "sync/proof.h"

static void origin_text(char out[48], const crdt_origin *o)
{
    char hex[2 * CRDT_REPLICA_LEN + 1];
    sn_hex(hex, o->replica, CRDT_REPLICA_LEN);
    snprintf(out, 48, "%.8s/%u", hex, o->epoch);
}

/* Our side at `seq` of origin idx, appended to `out`: the link held at seq, our nearest
 * checkpoint at or after seq, and the commits between. *have false (nothing appended) when
 * no checkpoint of ours lies at or after seq. */
static int side_from_store(node_store *st, uint32_t idx, uint64_t seq, sn_buf *out,
                           sync_checkpoint *cp, bool *have, sn_err *err)
{
    uint8_t cpb[SYNC_CHECKPOINT_LEN];
    uint64_t at = 0;
    int rc = node_checkpoint_next(st, idx, seq, cpb, &at, have, err);
    if (rc == 0 && *have)
        rc = sync_checkpoint_parse(cpb, sizeof cpb, cp, err);
    if (rc != 0 || !*have)
        return rc;
    if (at == seq)
        return sync_proof_add_side(out, seq, cp->link, cp, NULL, NULL, err);
    uint8_t link[SYNC_LINK_LEN];
    sn_buf ub;
    sn_buf_init(&ub, SYNC_PROOF_MAX);
    sync_unit u = {0};
    rc = node_log_link_at(st, idx, seq, link, err);
    if (rc == 0)
        rc = node_unit_cut(st, idx, seq + 1, cpb, &ub, err);
    if (rc == 0)
        rc = sync_unit_parse(ub.data, ub.len, &u, err);
    if (rc == 0)
        rc = sync_proof_add_side(out, seq, link, cp, u.bodies, u.lens, err);
    sync_unit_free(&u);
    sn_buf_free(&ub);
    return rc;
}

/* Their side at `seq`: from a unit whose chain verified (`links` holds each of its commits'
 * links) or, when `unit` is NULL, the checkpoint alone (at seq). */
static int side_from_unit(sn_buf *out, uint64_t seq, const sync_checkpoint *cp,
                          const sync_unit *unit, const uint8_t *links, sn_err *err)
{
    if (unit == NULL || SN_NEVER(seq < unit->first || seq > unit->cp.seq))
        return sync_proof_add_side(out, seq, cp->link, cp, NULL, NULL, err);
    size_t k = (size_t)(seq - unit->first);
    return sync_proof_add_side(out, seq, links + k * SYNC_LINK_LEN, &unit->cp,
                               unit->bodies + k + 1, unit->lens + k + 1, err);
}

/* Waiting units of origin idx from `seq` on: a frozen origin's are never taken. */
static int wait_forget_from(node_store *st, uint32_t idx, uint64_t seq, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "DELETE FROM unit_wait WHERE origin = ?1 AND"
                                " first >= ?2", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "dropping a frozen origin's waiting units");
    sqlite3_bind_int64(s, 1, idx);
    sqlite3_bind_int64(s, 2, (int64_t)seq);
    rc = node_stmt_exec(st, s, err, "dropping a frozen origin's waiting units");
    sqlite3_finalize(s);
    return rc;
}

/* Keep the proof at `seq` of origin idx unless one at a lower seq (or at seq, with proof
 * bytes when these have none) is held. *fresh: the freeze is new or lowered. */
static int proof_keep(node_store *st, uint32_t idx, uint64_t seq, const sync_checkpoint *a,
                      const sync_checkpoint *b, const uint8_t *proof, size_t proof_len,
                      bool *fresh, sn_err *err)
{
    *fresh = false;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT seq, proof IS NOT NULL FROM equivocation"
                                " WHERE origin = ?1", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "reading equivocation proofs");
    sqlite3_bind_int64(s, 1, idx);
    rc = sqlite3_step(s);
    bool held = rc == SQLITE_ROW;
    uint64_t held_seq = held ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    bool held_bytes = held && sqlite3_column_int(s, 1) != 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return node_store_fail(st, rc, err, "reading equivocation proofs");
    bool better = !held || seq < held_seq ||
                  (seq == held_seq && !held_bytes && proof != NULL);
    if (!better)
        return 0;
    uint8_t ab[SYNC_CHECKPOINT_LEN], bb[SYNC_CHECKPOINT_LEN];
    if (a != NULL)
        sync_checkpoint_encode(a, ab);
    sync_checkpoint_encode(b, bb);
    rc = sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO equivocation(origin, seq, ours,"
                            " theirs, found_ms, proof) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &s,
                            NULL);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "recording an equivocation proof");
    sqlite3_bind_int64(s, 1, idx);
    sqlite3_bind_int64(s, 2, (int64_t)seq);
    sqlite3_bind_blob(s, 3, a != NULL ? ab : (const uint8_t *)"", a != NULL ? (int)sizeof ab : 0,
                      SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, bb, sizeof bb, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (int64_t)node_now_ms(st));
    if (proof != NULL)
        sqlite3_bind_blob(s, 6, proof, (int)proof_len, SQLITE_STATIC);
    rc = node_stmt_exec(st, s, err, "recording an equivocation proof");
    sqlite3_finalize(s);
    *fresh = rc == 0 && (!held || seq < held_seq);
    if (rc == 0)
        rc = wait_forget_from(st, idx, seq, err);
    if (rc == 0 && *fresh) {
        char o[48];
        origin_text(o, &b->origin);
        sn_log(SN_LOG_WARN, "origin %s signed two different histories at commit %llu "
               "(equivocation): frozen from there on; the proof is kept (outpost quarantine)",
               o, (unsigned long long)seq);
    }
    return rc;
}

int node_equivocation_found(node_store *st, uint32_t idx, uint64_t seq,
                            const sync_checkpoint *theirs, const sync_unit *unit,
                            const uint8_t *links, bool *fresh, sn_err *err)
{
    sn_buf proof;
    sn_buf_init(&proof, SYNC_PROOF_MAX);
    sync_checkpoint ours;
    bool have = false;
    int rc = sync_proof_begin(seq, &proof, err);
    if (rc == 0)
        rc = side_from_store(st, idx, seq, &proof, &ours, &have, err);
    if (rc == 0 && have)
        rc = side_from_unit(&proof, seq, theirs, unit, links, err);
    if (rc == 0)
        rc = proof_keep(st, idx, seq, have ? &ours : NULL, unit != NULL ? &unit->cp : theirs,
                        have ? proof.data : NULL, proof.len, fresh, err);
    sn_buf_free(&proof);
    if (rc != 0)
        sn_err_prefix(err, "recording the equivocation of origin %u at commit %llu", idx,
                      (unsigned long long)seq);
    return rc;
}

/* Check one received proof against the certificates held. */
static int proof_check(node_store *st, const node_body *b, sync_proof *pr, sn_err *err)
{
    int rc = sync_proof_parse(b->p, b->n, pr, err);
    uint8_t pk[2][SYNC_SIGN_PK_LEN];
    for (int i = 0; i < 2 && rc == 0; i++) {
        sync_cert cert;
        const sync_checkpoint *cp = &pr->side[i].cp;
        rc = node_trust_cert_get(st, cp->origin.replica, cp->cert_serial, &cert, err);
        if (rc == SN_ENOTFOUND) {
            sn_err_clear(err);
            sn_err_set(err, SN_EAUTH, "side %d of a proof of equivocation is signed under a "
                       "certificate (serial %llu) not known here", i + 1,
                       (unsigned long long)cp->cert_serial);
            sn_err_hint(err, "log files and sessions carry the certificates a proof needs; "
                             "this one came without it, or from another deployment");
            rc = SN_EAUTH;
        }
        if (rc == 0)
            memcpy(pk[i], cert.sign_pk, SYNC_SIGN_PK_LEN);
    }
    if (rc == 0)
        rc = sync_proof_verify(pr, (const uint8_t(*)[SYNC_SIGN_PK_LEN])pk, err);
    return rc;
}

int node_store_offer_proofs(node_store *st, const node_body *proofs, size_t n,
                            size_t *equivocations, sn_err *err)
{
    *equivocations = 0;
    if (n == 0)
        return 0;
    int rc = node_txn_begin(st, err);
    for (size_t i = 0; i < n && rc == 0; i++) {
        sync_proof pr;
        rc = proof_check(st, &proofs[i], &pr, err);
        uint32_t idx = 0;
        if (rc == 0)
            rc = node_origin_intern(st, &pr.side[0].cp.origin, &idx, err);
        bool fresh = false;
        if (rc == 0)
            rc = proof_keep(st, idx, pr.seq, &pr.side[0].cp, &pr.side[1].cp, proofs[i].p,
                            proofs[i].n, &fresh, err);
        if (rc == 0 && fresh)
            rc = node_bounds_refresh(st, &idx, 1, err);
        *equivocations += fresh ? 1 : 0;
        sync_proof_free(&pr);
        if (rc != 0)
            sn_err_prefix(err, "proof %zu of %zu", i + 1, n);
    }
    return node_txn_end(st, rc, err);
}

int node_store_own_fork_unproven(node_store *st, bool *out, sn_err *err)
{
    *out = false;
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT 1 FROM equivocation WHERE origin = ?1 AND"
                              " proof IS NULL", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "reading this node's own equivocation");
    sqlite3_bind_int64(s, 1, st->self_idx);
    rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW;
    node_stmt_release(st, s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return node_store_fail(st, rc, err, "reading this node's own equivocation");
    return 0;
}

int node_store_export_proofs(node_store *st, node_bytes_fn fn, void *ctx, size_t *count,
                             sn_err *err)
{
    sqlite3_stmt *s = NULL;
    size_t local = 0;
    if (count == NULL)
        count = &local;
    *count = 0;
    int rc = sqlite3_prepare_v2(st->db, "SELECT proof FROM equivocation WHERE proof IS NOT"
                                " NULL ORDER BY origin", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "reading equivocation proofs");
    int res = 0;
    while (res == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        res = fn(ctx, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), err);
        ++*count;
    }
    sqlite3_finalize(s);
    if (res == 0 && rc != SQLITE_DONE)
        res = node_store_fail(st, rc, err, "reading equivocation proofs");
    return res;
}
