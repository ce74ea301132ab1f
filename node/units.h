/* node/units.h - commits in and out of a store as signed, chained transfer units
 * (DESIGN.md §4, sync/unit.h): the checkpoints a node keeps so any holder can re-cut and
 * relay ranges, quarantine of commits past a revoked certificate's watermark, and the
 * freeze of an origin caught equivocating, with its proof.
 *
 * Verification comes before decoding: a unit's certificate is looked up by (replica,
 * serial) in the trust store (node/trust.h), the checkpoint signature is checked, the
 * chain is hashed forward from the link this node holds at first-1, and only then are
 * the bodies decoded, each of which must claim the unit's origin and its place in it. */
#ifndef SN_NODE_UNITS_H
#define SN_NODE_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "crdt/vv.h"
#include "node/store.h"
#include "sync/unit.h"

/* Target size of a unit: at most about this many body bytes under one checkpoint. */
#define NODE_UNIT_TARGET (60u * 1024u)
/* The smallest unit a link falls back to after cuts (DESIGN.md §5: halve, floor 4 KiB). */
#define NODE_UNIT_FLOOR (4u * 1024u)
/* This node signs a checkpoint of its own commits about every this many body bytes (and
 * at the end of every export), so any holder can cut units as small as NODE_UNIT_FLOOR
 * and as large as it likes: a unit is any range ending at a checkpoint. */
#define NODE_CHECKPOINT_EVERY NODE_UNIT_FLOOR

typedef struct node_unit_stats {
    size_t units;         /* units offered */
    size_t taken;         /* verified, with commits new here */
    size_t duplicates;    /* verified, nothing new */
    size_t deferred;      /* kept until the commits before them arrive */
    size_t frozen;        /* of a frozen origin, from its frozen seq on: not taken */
    size_t disputed;      /* validly signed, not following the history held: not taken */
    size_t equivocations; /* new proofs of equivocation found */
    size_t commits;       /* commits stored */
    size_t unknown;       /* of them, with parts from a newer schema */
} node_unit_stats;

/* Verify and store units (each the exact bytes of one unit). Every unit is verified, and
 * its new bodies decoded and checked, before anything is written; then all is stored in
 * one transaction (a savepoint inside a batch). A unit that fails verification refuses
 * the whole call with the store unchanged: SN_EAUTH naming the unit, its origin and range,
 * and what failed (unknown certificate, bad signature, broken chain at which commit, a
 * body claiming another origin), SN_ECORRUPT / SN_EVERSION for a malformed frame or body.
 * A validly signed unit that contradicts the chain held is equivocation: the proof is
 * kept and the origin frozen (no error). Units of a frozen origin that start at or after
 * its frozen seq are not taken (those before are, so the commits before the fork reach
 * every node; what they hold after it stays quarantined). Units whose predecessors are
 * missing wait on disk and are taken when the gap fills. Nothing is applied: call
 * node_store_apply_pending after (after the batch, when in one). `stats` may be NULL. */
SN_NODISCARD int node_store_import_units(node_store *st, const node_body *units, size_t n,
                                         node_unit_stats *stats, sn_err *err);

/* Offer checkpoints alone (an exporter's latest per origin): each must verify; one that
 * contradicts the chain held is equivocation (proof kept, origin frozen); one at a seq
 * held that agrees is kept for re-cutting. SN_EAUTH / SN_ECORRUPT refuse the call. */
SN_NODISCARD int node_store_offer_checkpoints(node_store *st, const node_body *cps, size_t n,
                                              size_t *equivocations, sn_err *err);

/* Apply what verified commits wait (short transactions). *applied may be NULL. */
SN_NODISCARD int node_store_apply_pending(node_store *st, size_t *applied, sn_err *err);

typedef int (*node_bytes_fn)(void *ctx, const uint8_t *p, size_t n, sn_err *err);

typedef struct node_export_stats {
    size_t units;
    size_t commits;
    size_t heads;
    size_t uncovered; /* commits held without a checkpoint to send them under (legacy) */
} node_export_stats;

/* Emit units holding every commit the peer lacks (peer_held NULL = all), per origin in
 * seq order, about NODE_UNIT_TARGET body bytes per unit. Units end at checkpoints stored
 * here; this node's own replica's commits (every epoch) get checkpoints about every
 * NODE_CHECKPOINT_EVERY bytes first, signed now with its key and certificate serial (SN_ENOTFOUND with a hint
 * when the node is not enrolled). Then `head` gets each origin's latest checkpoint, so a
 * peer can detect equivocation even when it lacks nothing (proofs of equivocation go
 * separately: node_store_export_proofs). `stats` may be NULL.
 * A `unit` callback may return NODE_EXPORT_PAUSE to stop after that unit (a sender whose
 * window is full): the call then returns NODE_EXPORT_PAUSE without emitting heads, and
 * the caller resumes later with a vector raised by what it was given. */
#define NODE_EXPORT_PAUSE 1
SN_NODISCARD int node_store_export_units(node_store *st, const crdt_vv *peer_held,
                                         node_bytes_fn unit, node_bytes_fn head, void *ctx,
                                         node_export_stats *stats, sn_err *err);
/* The same with units of about `target` body bytes (at least one checkpoint range each,
 * however long): a link shrinks them after cuts. */
SN_NODISCARD int node_store_export_units_sized(node_store *st, const crdt_vv *peer_held,
                                               size_t target, node_bytes_fn unit,
                                               node_bytes_fn head, void *ctx,
                                               node_export_stats *stats, sn_err *err);

/* Quarantined commits: held and verified but not applied, per origin. */
typedef struct node_quarantine {
    crdt_origin origin;
    uint64_t first, last; /* seq range */
    bool frozen;          /* equivocation, else a revoked certificate's watermark */
} node_quarantine;
typedef int (*node_quarantine_fn)(void *ctx, const node_quarantine *q, sn_err *err);
SN_NODISCARD int node_store_quarantine_each(node_store *st, node_quarantine_fn fn, void *ctx,
                                            sn_err *err);

/* Proofs of equivocation (sync/proof.h): two sides, each a checkpoint of the origin and the
 * commits that tie it to a link at one seq, that cannot both be true. `ours` is the
 * checkpoint of the side of the chain this node held when it found the fork (side 1 of a
 * received proof; its length 0 when this node found the fork but had no checkpoint at or
 * after seq to prove it with: then nothing is sent); `theirs` the other side's. */
typedef struct node_equivocation {
    crdt_origin origin;
    uint64_t seq; /* commits from here on are frozen */
    uint8_t ours[SYNC_CHECKPOINT_LEN];
    size_t ours_len;
    uint8_t theirs[SYNC_CHECKPOINT_LEN];
    uint64_t found_ms;
    size_t proof_len; /* bytes of the proof sent to peers (0: none) */
} node_equivocation;
typedef int (*node_equivocation_fn)(void *ctx, const node_equivocation *e, sn_err *err);
SN_NODISCARD int node_store_equivocations_each(node_store *st, node_equivocation_fn fn,
                                               void *ctx, sn_err *err);

/* Offer proofs of equivocation (each the exact bytes of one, sync/proof.h), as a peer or a
 * log file sends them. Each is parsed strictly and checked (both checkpoints' signatures
 * under the certificates held, both chains hashed) before anything is written; any that
 * fails refuses the whole call with the store unchanged: SN_ECORRUPT / SN_EVERSION for a
 * malformed one, SN_EAUTH naming the side and what failed (unknown certificate, bad
 * signature, commits that do not lead to the checkpoint). A valid one freezes its origin
 * from its seq (kept unless a proof at a lower seq is held; a lower one replaces it and
 * lowers the freeze, un-applying what it covers). *equivocations counts freezes new or
 * lowered. */
SN_NODISCARD int node_store_offer_proofs(node_store *st, const node_body *proofs, size_t n,
                                         size_t *equivocations, sn_err *err);

/* Whether this node's own origin is frozen by a fork that no proof shows yet: a peer's
 * checkpoint for one of our seqs contradicts our chain (another copy of this node, a
 * restored disk image, wrote a second history). The peer lacks our bodies and we lack its:
 * the link then resends our history from seq 1, so the peer holds both and can prove it. */
SN_NODISCARD int node_store_own_fork_unproven(node_store *st, bool *out, sn_err *err);

/* Call fn with the bytes of every proof held (those this node could make or received), in
 * origin order; *count (may be NULL) says how many. */
SN_NODISCARD int node_store_export_proofs(node_store *st, node_bytes_fn fn, void *ctx,
                                          size_t *count, sn_err *err);

#endif
