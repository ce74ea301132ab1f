/* node/bundle.h - store-and-forward bundles against the store (SECURITY.md §4, DESIGN.md §5):
 * `outpost bundle create|import|ack`. A bundle carries the units a peer is not known to hold,
 * sealed to that peer and signed by this node (format: sync/bundle.h); importing one
 * verifies the sender and every unit before anything is stored, remembers it so a second
 * import is a no-op, and learns from it what the sender holds, so the next bundle to the
 * sender carries only what is still missing. Bundles and live sync mix freely: units are
 * deduplicated by (origin, seq) whichever way they arrive. */
#ifndef SN_NODE_BUNDLE_H
#define SN_NODE_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "crdt/vv.h"
#include "node/logfile.h"
#include "node/store.h"
#include "sync/bundle.h"
#include "sync/cert.h"

/* Default largest part: fits the attachment limit of most e-mail services. */
#define NODE_BUNDLE_PART_DEFAULT ((size_t)10 << 20)
/* Smallest part size accepted (a part holds at least one ~60 KiB unit). */
#define NODE_BUNDLE_PART_MIN ((size_t)256 << 10)
/* Largest bundle file read on import. */
#define NODE_BUNDLE_FILE_MAX ((size_t)1 << 30)
/* Default lifetime of a bundle (a privacy limit: importing later needs an override). */
#define NODE_BUNDLE_LIFETIME_MS (UINT64_C(180) * 24 * 3600 * 1000)

/* The peer a bundle is for: `peer` is a certificate's name, or the hex of a replica id (at
 * least 8 digits, a prefix is enough). The latest certificate of that replica is given.
 * SN_ENOTFOUND (with a hint on how a certificate arrives), SN_EINVAL (ambiguous, or this
 * node itself). */
SN_NODISCARD int node_bundle_peer_find(node_store *st, const char *peer, sync_cert *out,
                                       sn_err *err);

typedef struct node_bundle_opts {
    size_t part_max;      /* largest part file; 0: NODE_BUNDLE_PART_DEFAULT */
    uint64_t lifetime_ms; /* 0: NODE_BUNDLE_LIFETIME_MS; UINT64_MAX: never expires */
    bool ack_only;        /* an acknowledgement: this node's held vector, no units */
    bool all;             /* carry everything held, whatever the peer acknowledged */
} node_bundle_opts;

typedef struct node_bundle_made {
    uint8_t id[SYNC_BUNDLE_ID_LEN];
    size_t parts;          /* files written: `path` alone, or path.1 .. path.N */
    size_t units, commits; /* carried */
    uint64_t commit_bytes; /* bytes of the commit bodies carried */
    uint64_t file_bytes;   /* bytes of every part written */
    bool oversized;        /* a unit larger than part_max made a part larger than it */
} node_bundle_made;

/* Write a bundle for the peer `rcpt` (its certificate, node_bundle_peer_find) to `path`:
 * every unit it lacks according to what it acknowledged (by bundle or live sync; all held
 * with opts->all), the certificates and revocation list needed to check them, and this
 * node's held vector; split into parts of at most part_max bytes, each importable alone and
 * in any order. One part is written to `path`, several to path.1, path.2, ... (each fsynced
 * and renamed into place). Records the bundle as the last sent to the peer. `opts` and
 * `made` may be NULL. SN_ENOTFOUND (not enrolled), SN_EAUTH (the peer is revoked), SN_EIO
 * naming the path, SN_EINVAL, SN_ENOMEM. */
SN_NODISCARD int node_bundle_create(node_store *st, const sync_cert *rcpt, const char *path,
                                    const node_bundle_opts *opts, node_bundle_made *made,
                                    sn_err *err);
/* The file name of part `part` of `nparts` written for `path` (the caller frees). */
char *node_bundle_part_path(const char *path, size_t part, size_t nparts);

typedef struct node_bundle_import_opts {
    bool accept_expired; /* import a bundle past its expiry (the operator's override) */
} node_bundle_import_opts;

typedef struct node_bundle_got {
    sync_bundle_meta meta;
    char sender_name[SYNC_CERT_NAME_MAX + 1];
    bool duplicate;        /* this very part was imported before: nothing was done */
    uint64_t duplicate_ms; /* when it was */
    node_logfile_stats taken;
} node_bundle_got;

/* Import one bundle part from `path`: read it whole, then verify in this order, refusing
 * the whole part with the store unchanged at the first failure: the header's frame; the
 * sender's certificate against the pinned CA; the header signature; the sender against the
 * revocation list held; the stanza sealed to this node; expiry; the body (every frame, the
 * manifest: a truncated file is refused whole); then, in one batch, the certificates,
 * revocation list, units (each verified before decoding) and heads, as a log file's. Units
 * whose predecessors have not arrived wait and are applied when they do. A part imported
 * before (same id, part and bytes) is a logged no-op (got->duplicate). Errors name the
 * file and what was wrong: SN_ECORRUPT (damaged, truncated), SN_EAUTH (altered, re-signed,
 * re-sealed, not for this node, revoked sender), SN_EVERSION, SN_EINVAL (expired without
 * the override), SN_ENOTFOUND (no such file; not enrolled), SN_EIO, SN_ENOMEM. */
SN_NODISCARD int node_bundle_import(node_store *st, const char *path,
                                    const node_bundle_import_opts *opts, node_bundle_got *got,
                                    sn_err *err);

/* ---- per peer (store_bundle.c) ---- */

typedef struct node_bundle_peer {
    uint8_t replica[CRDT_REPLICA_LEN];
    uint8_t sent_id[SYNC_BUNDLE_ID_LEN]; /* the last bundle made for it (zero: none) */
    uint64_t sent_ms;
    uint64_t sent_parts, sent_commits;
    crdt_vv sent;  /* this node's held vector when it made that bundle (owned) */
    crdt_vv acked; /* the peer's held vector, as its last bundle or acknowledgement said */
    uint64_t acked_ms;
    uint8_t recv_id[SYNC_BUNDLE_ID_LEN]; /* the last bundle imported from it */
    uint64_t recv_ms;
} node_bundle_peer;

/* Load (zeroed with empty vectors and *found false when none) / save one peer's record. */
SN_NODISCARD int node_bundle_peer_load(node_store *st, const uint8_t replica[CRDT_REPLICA_LEN],
                                       node_bundle_peer *out, bool *found, sn_err *err);
SN_NODISCARD int node_bundle_peer_save(node_store *st, const node_bundle_peer *p, sn_err *err);
void node_bundle_peer_free(node_bundle_peer *p); /* NULL-safe */
typedef int (*node_bundle_peer_fn)(void *ctx, const node_bundle_peer *p, sn_err *err);
/* Every peer with a bundle record, by replica id. */
SN_NODISCARD int node_bundle_peer_each(node_store *st, node_bundle_peer_fn fn, void *ctx,
                                       sn_err *err);
/* Commits in `sent` not covered by `acked`: what a peer has not acknowledged. */
uint64_t node_bundle_unacked(const node_bundle_peer *p);

/* Was this bundle part imported before with these bytes? *when_ms then says when. */
SN_NODISCARD int node_bundle_seen(node_store *st, const sync_bundle_meta *m,
                                  const uint8_t hash[32], bool *seen, uint64_t *when_ms,
                                  sn_err *err);
/* Remember an imported part (inside the caller's batch). */
SN_NODISCARD int node_bundle_seen_put(node_store *st, const sync_bundle_meta *m,
                                      const uint8_t hash[32], sn_err *err);
/* This node's keys (the caller wipes them: sync_keys_wipe) and the store's clock. */
SN_NODISCARD int node_bundle_keys(node_store *st, sync_keys *out, sn_err *err);
uint64_t node_bundle_now_ms(node_store *st);

#endif
