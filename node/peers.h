/* node/peers.h - what a node remembers of each peer it syncs with (store layout 5): the
 * vectors last exchanged in HELLO, so the next HELLO carries only what changed; the unit
 * window that adapts to cuts; and the figures an operator reads (last seen, bytes moved,
 * sessions, clock skew, the last error). Also the clock offset learned from a hub. */
#ifndef SN_NODE_PEERS_H
#define SN_NODE_PEERS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "crdt/vv.h"
#include "node/store.h"

#define NODE_PEER_ERROR_MAX 255

typedef struct node_peer {
    uint8_t replica[CRDT_REPLICA_LEN];
    char name[65];
    crdt_vv seen; /* the peer's held vector as its last HELLO said (owned) */
    crdt_vv told; /* our held vector as our last HELLO to it said (owned) */
    uint32_t window; /* units in flight to it; 0 = not learned yet */
    uint32_t unit_target; /* body bytes per unit sent to it (halved after a cut); 0 = not
                           * learned yet */
    uint64_t last_seen_ms, last_sync_ms; /* last handshake, last completed exchange */
    uint64_t bytes_in, bytes_out, sessions, completed;
    int64_t skew_ms; /* its machine's clock minus ours at the last handshake (before either
                      * applies the correction learned from a hub) */
    char last_error[NODE_PEER_ERROR_MAX + 1];
    uint64_t last_error_ms;
    uint8_t digest_match; /* node_digest_match (node/status.h) of its last STATE */
    uint64_t digest_ms;   /* when that STATE came */
} node_peer;

/* How one session with a peer ended, for its day's tally (node_peer_save_session). */
typedef struct node_peer_session {
    uint64_t at_ms; /* when it ended: picks the UTC day */
    bool completed; /* reached "in sync" */
    bool failed;    /* ended on an error (a cut, a refusal, bad input) */
    uint64_t bytes_in, bytes_out;
} node_peer_session;

/* Load the peer (vectors empty, counters zero and *found false when never met). The
 * caller frees with node_peer_free. */
SN_NODISCARD int node_peer_load(node_store *st, const uint8_t replica[CRDT_REPLICA_LEN],
                                node_peer *out, bool *found, sn_err *err);
/* Write the whole record (one transaction, or a savepoint inside a batch). */
SN_NODISCARD int node_peer_save(node_store *st, const node_peer *p, sn_err *err);
/* The same, and the session added to the peer's tally for its day (table peer_day; days
 * older than NODE_PEER_DAYS_KEPT are dropped), in one transaction. */
#define NODE_PEER_DAYS_KEPT 31
SN_NODISCARD int node_peer_save_session(node_store *st, const node_peer *p,
                                        const node_peer_session *s, sn_err *err);
void node_peer_free(node_peer *p); /* NULL-safe; the vectors */

/* One day's tally with a peer. */
typedef struct node_peer_day {
    uint64_t day; /* days since 1970-01-01, UTC */
    uint64_t sessions, completed, failed, bytes_in, bytes_out;
} node_peer_day;
typedef int (*node_peer_day_fn)(void *ctx, const node_peer_day *d, sn_err *err);
/* The peer's days from `since_day` on, oldest first. */
SN_NODISCARD int node_peer_days(node_store *st, const uint8_t replica[CRDT_REPLICA_LEN],
                                uint64_t since_day, node_peer_day_fn fn, void *ctx,
                                sn_err *err);

typedef int (*node_peer_fn)(void *ctx, const node_peer *p, sn_err *err);
/* Every peer, by replica id. */
SN_NODISCARD int node_peer_each(node_store *st, node_peer_fn fn, void *ctx, sn_err *err);

/* The offset added to the system clock for this node's timestamps (learned from a hub's
 * time at each handshake; the system clock itself is never set). Persisted. */
SN_NODISCARD int node_store_clock_offset_set(node_store *st, int64_t offset_ms, sn_err *err);
int64_t node_store_clock_offset(const node_store *st);

#endif
