/* node/store.h - one site's record store: identity, the per-origin commit log, local
 * writes as atomic commits, apply of foreign commits, reads, digest and invariants.
 *
 * A store is a directory holding `store.db` (SQLite, WAL) and `keys` (mode 0600). One
 * process writes at a time (SN_EBUSY otherwise). Every function here is for one thread. */
#ifndef SN_NODE_STORE_H
#define SN_NODE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "crdt/hlc.h"
#include "crdt/vv.h"
#include "schema/codec.h"
#include "schema/schema.h"

typedef struct node_store node_store;

typedef enum node_durability {
    NODE_DURABLE = 0, /* synchronous=FULL: an acknowledged commit survives power loss */
    NODE_FAST = 1,    /* synchronous=OFF: simulations and tests only */
} node_durability;

typedef struct node_open_opts {
    /* Wall clock in ms since the epoch; NULL means the system clock. Tests inject one. */
    uint64_t (*now_ms)(void *ctx);
    void *now_ctx;
    node_durability durability;
    uint64_t max_skew_ms;  /* 0 = CRDT_HLC_DEFAULT_MAX_SKEW_MS */
    size_t apply_batch;    /* commits per apply transaction; 0 = 256 */
    uint64_t max_waiting;  /* commits waiting for a predecessor, per origin; 0 = 100000 */
    /* Clone and restore detection (node/store_epoch.c); both borrowed for the call. The
     * directory, outside every store, holding the stores' instance tokens. NULL:
     * $OUTPOST_STATE_DIR, else $XDG_STATE_HOME/outpost, else $HOME/.local/state/outpost
     * (created 0700 as needed). */
    const char *state_dir;
    /* This machine's identity. NULL: /etc/machine-id (else the host name), plus the
     * hardware's product UUID when readable. Tests inject one. */
    const char *machine_id;
    /* State digests for STATE messages (node_store_state_digest) cost a read of the whole
     * state: at most one fresh one per this many ms, and none at the end of a session that
     * moved more than NODE_STATE_UNITS_MAX units (a bootstrap). 0: whenever asked (tests,
     * the simulation); `outpost` uses NODE_STATE_DIGEST_EVERY_MS. */
    uint64_t state_digest_every_ms;
} node_open_opts;

#define NODE_STATE_DIGEST_EVERY_MS (10u * 60u * 1000u)
#define NODE_STATE_UNITS_MAX 64u

/* Create a new store in directory `dir` (created if missing, must not hold a store):
 * generates the replica id, epoch 1 and the node's keys (file `keys`, mode 0600).
 * `opts` may be NULL. SN_EINVAL (bad name, store exists), SN_EIO, SN_ENOMEM. */
SN_NODISCARD int node_store_create(const char *dir, const char *name,
                                   const node_open_opts *opts, sn_err *err);

/* Open an existing store. On success *out owns it. A store that was restored, copied or
 * cloned since it was last opened here takes a new epoch first (see "Backup, restore"
 * below). SN_ENOTFOUND (no store there: run `outpost init`), SN_EBUSY, SN_ECORRUPT,
 * SN_EVERSION (made by a newer Outpost), SN_ECONFIG (no state directory), SN_EIO,
 * SN_ENOMEM. */
SN_NODISCARD int node_store_open(node_store **out, const char *dir,
                                 const node_open_opts *opts, sn_err *err);
void node_store_close(node_store *st); /* NULL is a no-op */

/* Changes when another connection (a CLI command writing while the daemon runs) has
 * committed to the store since the last call: PRAGMA data_version. */
SN_NODISCARD int node_store_data_version(node_store *st, uint64_t *out, sn_err *err);

/* This node's origin and name (borrowed until close). */
const crdt_origin *node_store_origin(const node_store *st);
const char *node_store_name(const node_store *st);

/* --- Local writes ---------------------------------------------------------------
 * A node_write gathers the changes of one commit. Values are copied in. Referential
 * checks (the patient exists, a set's row exists) run here, at local write only. */
typedef struct node_write node_write;

/* Start a commit authored by `author` (entered by `entered_by`, or NULL when the author
 * typed it). SN_EINVAL for an empty or over-long name, SN_ENOMEM. */
SN_NODISCARD int node_write_begin(node_store *st, const char *author, const char *entered_by,
                                  node_write **out, sn_err *err);
/* Add an insert of a new row into `table` with the given fields; mv columns not given
 * start as nil. The new row's id is written to `row_out`. Validates everything now:
 * unknown table or column, wrong type, bad date or code, missing required column, a
 * reference to a row this store does not hold (SN_EINVAL / SN_ENOTFOUND). */
SN_NODISCARD int node_write_insert(node_write *w, uint16_t table, const schema_field *fields,
                                   size_t nfields, uint8_t row_out[SCHEMA_ID_LEN], sn_err *err);
/* Add a write of `value` to mv cell (table, row, col). The row must exist here; the
 * column must be mv; one change per cell per commit. The write's context is the cell's
 * context when the commit is made, so it supersedes every sibling this node holds. */
SN_NODISCARD int node_write_set(node_write *w, uint16_t table, const uint8_t row[SCHEMA_ID_LEN],
                                uint16_t col, const schema_value *value, sn_err *err);

typedef struct node_commit_info {
    uint64_t seq;
    crdt_hlc hlc;
} node_commit_info;

/* Make the commit: assign seq and hlc, store the body in the log, apply it, all in one
 * transaction (durable per the store's durability when no batch is open). Frees `w`
 * whatever happens. On failure nothing of it is stored. `info` may be NULL. */
SN_NODISCARD int node_write_commit(node_write *w, node_commit_info *info, sn_err *err);
void node_write_abort(node_write *w); /* NULL is a no-op */

/* Group many local commits in one transaction (bulk entry, benchmarks); nothing in it is
 * durable before batch_commit returns 0. A failed commit inside a batch is rolled back
 * alone, except when SQLite had to abandon the whole transaction (out of memory): then the
 * batch is lost, and every later write and batch_commit fail with SN_EIO saying so. While
 * a batch is open, this node's own entry in `counts` and history reads may lag. */
SN_NODISCARD int node_store_batch_begin(node_store *st, sn_err *err);
SN_NODISCARD int node_store_batch_commit(node_store *st, sn_err *err);
void node_store_batch_abort(node_store *st);

/* --- The log and apply ------------------------------------------------------------ */
typedef struct node_body {
    const uint8_t *p;
    size_t n;
} node_body;

typedef struct node_import_stats {
    size_t received;   /* bodies offered */
    size_t stored;     /* new commits stored */
    size_t duplicates; /* already held: ignored */
    size_t waiting;    /* stored but waiting for a predecessor (now, all origins) */
    size_t applied;    /* commits applied by this call */
    size_t unknown;    /* commits with parts from a newer schema, kept for later */
} node_import_stats;

/* Store and apply foreign commit bodies, in any order, duplicates allowed. Every body is
 * decoded and checked before anything is written: one bad body refuses the whole call
 * and the store is unchanged (SN_ECORRUPT / SN_EINVAL / SN_EVERSION naming the body).
 * Commits of this node's own origin that it does not hold are refused (SN_EINVAL): a
 * node never learns its own history from others. Then commits are stored and applied
 * per origin in seq order, `apply_batch` per transaction; a commit whose predecessor is
 * missing waits on disk. `stats` may be NULL. */
SN_NODISCARD int node_store_import(node_store *st, const node_body *bodies, size_t n,
                                   node_import_stats *stats, sn_err *err);

/* Call `emit` for every held commit the peer lacks given its `held` vector (NULL =
 * everything), per origin in seq order. Stops at the first non-zero return. */
typedef int (*node_emit_fn)(void *ctx, const uint8_t *body, size_t n, sn_err *err);
SN_NODISCARD int node_store_export(node_store *st, const crdt_vv *peer_held, node_emit_fn emit,
                                   void *ctx, sn_err *err);

/* The held vector (verified and stored, gap-free per origin) and the applied vector. */
SN_NODISCARD int node_store_held(node_store *st, crdt_vv *out, sn_err *err);
SN_NODISCARD int node_store_applied(node_store *st, crdt_vv *out, sn_err *err);

typedef struct node_counts {
    uint64_t commits;  /* commit bodies stored (held + waiting) */
    uint64_t waiting;  /* stored or in units kept until the commits before them arrive */
    uint64_t unknown;  /* held commits with parts for a newer schema */
    uint64_t conflicts;
    uint64_t origins;
    uint64_t skewed;   /* origins flagged for a clock far ahead of ours */
    uint64_t quarantined; /* held but not applied: past a revocation watermark or frozen */
} node_counts;
SN_NODISCARD int node_store_counts(node_store *st, node_counts *out, sn_err *err);

/* The 16-byte XXH3-128 state digest: a canonical dump of the materialized tables and the
 * mv sibling sets (table, row id, column id, value; siblings by origin and seq). Reads
 * the state, not the log. */
SN_NODISCARD int node_store_digest(node_store *st, uint8_t out[16], sn_err *err);

/* What a STATE message reports (sync/wire.h): sync_vv_digest of the applied vector (per
 * origin the highest seq applied; commits held but quarantined or frozen are not, so two
 * nodes that differ only in what their revocation lists hold back are not compared), and
 * the state digest. The digest made last is reused while no origin's held, applied or
 * bound seq has moved; a fresh one is made only when `fresh` is allowed and the store's
 * state_digest_every_ms has passed since the last. *have says whether there is one. */
SN_NODISCARD int node_store_state_digest(node_store *st, bool fresh, uint8_t vector[16],
                                         uint8_t digest[16], bool *have, sn_err *err);

/* Rebuild the given rows (table, id) from the applied commits held; NULL/0 = every row. */
typedef struct node_rowref {
    uint16_t table;
    uint8_t id[SCHEMA_ID_LEN];
} node_rowref;
SN_NODISCARD int node_store_rematerialize(node_store *st, const node_rowref *rows, size_t n,
                                          sn_err *err);

/* Invariants: SQLite integrity, vectors agree with the log, cells well formed, the
 * conflict index matches the cells. 0 or SN_ECORRUPT naming the first violation. */
SN_NODISCARD int node_store_check(node_store *st, sn_err *err);

/* --- Reads ------------------------------------------------------------------------ */
typedef struct node_sibling {
    crdt_dot dot;
    crdt_hlc hlc;
    schema_value value; /* bytes owned by the enclosing object */
} node_sibling;

typedef struct node_cell {
    bool known;          /* some write to this cell is held */
    schema_value winner; /* display value (fixed columns: the value) */
    bool conflict;       /* review column whose siblings differ */
    node_sibling *sibs;  /* mv columns: sorted by (origin, seq) */
    size_t nsibs;
    crdt_vv ctx;
    uint8_t *mem;        /* internal */
} node_cell;
SN_NODISCARD int node_store_cell_get(node_store *st, uint16_t table,
                                     const uint8_t row[SCHEMA_ID_LEN], uint16_t col,
                                     node_cell **out, sn_err *err);
void node_cell_free(node_cell *c);

typedef struct node_row {
    const schema_table *table;
    uint8_t id[SCHEMA_ID_LEN];
    bool inserted;       /* false when only writes to its cells are held so far */
    crdt_dot dot;        /* of the inserting commit */
    crdt_hlc hlc;
    char *author;
    char *entered_by;    /* NULL when the author entered it */
    schema_value *values; /* one per table->cols entry: the display value */
    bool *conflict;       /* one per column */
    bool retracted;       /* some retraction of it is not itself retracted */
    uint8_t *mem;         /* internal */
} node_row;
/* SN_ENOTFOUND when no row with that id is held. */
SN_NODISCARD int node_store_row_get(node_store *st, uint16_t table,
                                    const uint8_t id[SCHEMA_ID_LEN], node_row **out,
                                    sn_err *err);
void node_row_free(node_row *r);

/* Call fn for each row of `table` in id order, or only those whose column `filter_col`
 * displays `filter` (filter_col 0 = all rows). Stops at the first non-zero return. */
typedef int (*node_row_fn)(void *ctx, const node_row *row, sn_err *err);
SN_NODISCARD int node_store_rows_each(node_store *st, uint16_t table, uint16_t filter_col,
                                      const schema_value *filter, node_row_fn fn, void *ctx,
                                      sn_err *err);

/* Find which table holds row `id`. SN_ENOTFOUND when none does. */
SN_NODISCARD int node_store_row_table(node_store *st, const uint8_t id[SCHEMA_ID_LEN],
                                      uint16_t *table, sn_err *err);

/* Open conflicts, ordered by (table, row, column). */
typedef int (*node_conflict_fn)(void *ctx, uint16_t table, const uint8_t row[SCHEMA_ID_LEN],
                                uint16_t col, sn_err *err);
SN_NODISCARD int node_store_conflicts_each(node_store *st, node_conflict_fn fn, void *ctx,
                                           sn_err *err);

/* Every patient id linked to `patient` through live (not retracted) links, itself included,
 * sorted by id. *ids is the caller's (sn_free). */
SN_NODISCARD int node_store_patient_component(node_store *st,
                                              const uint8_t patient[SCHEMA_ID_LEN],
                                              uint8_t (**ids)[SCHEMA_ID_LEN], size_t *n,
                                              sn_err *err);

/* The patient a record set belongs to: the smallest id of the component of live links
 * that contains `patient`. */
SN_NODISCARD int node_store_patient_canonical(node_store *st,
                                              const uint8_t patient[SCHEMA_ID_LEN],
                                              uint8_t out[SCHEMA_ID_LEN], sn_err *err);

/* --- Backup, restore and clone detection (node/store_backup.c, node/store_epoch.c) -----
 * A node must never sign two commits with one (origin, seq). A store brought back from a
 * backup, or a copy of it running elsewhere, would: so every open compares an instance
 * nonce kept in the database with a token file kept outside the store directory (in the
 * state directory, see node_open_opts) and the machine's fingerprint; on any difference
 * the store takes a new epoch before it writes (its old epoch becomes an ordinary foreign
 * origin whose later commits it accepts from peers). Each open then rotates the nonce.
 * The `keys` file is never in a backup: secret keys are not copied around. */

/* Copy the open store, consistently and while it is in use, into the new file `path`
 * (mode 0600, made under a temporary name, synced, then renamed). The copy carries a
 * fresh instance nonce, so a store brought back from it, however, takes a new epoch.
 * SN_EINVAL when `path` exists and !replace (or a batch is open), SN_EIO, SN_ENOMEM,
 * SN_ECORRUPT (the copy does not check out; nothing is left at `path`). */
SN_NODISCARD int node_store_backup(node_store *st, const char *path, bool replace,
                                   sn_err *err);

typedef struct node_restore_info {
    crdt_origin origin; /* the backup's origin; the store takes a later epoch at first open */
    char name[65];      /* the node's name */
} node_restore_info;

/* Restore the backup file `backup` as the store of directory `dir`, which must hold no
 * store (store.db, store.db-wal, store.db-shm: SN_EINVAL with a hint). The node's keys:
 * `dir/keys` when `keys` is NULL (restoring into the store's own directory after moving
 * the damaged store.db aside), else a copy of the key file `keys`, made mode 0600 (then
 * `dir/keys` must not exist). The backup is checked (an Outpost store of a layout this
 * build reads, SQLite's integrity_check) and given a fresh instance nonce before it is
 * renamed into place, so a failure leaves `dir` as it was. `info` may be NULL. SN_ENOTFOUND (no
 * backup, no keys), SN_EINVAL, SN_ECORRUPT, SN_EVERSION, SN_EAUTH (key file readable by
 * others), SN_EIO, SN_ENOMEM. Call no other store function on `dir` meanwhile. */
SN_NODISCARD int node_store_restore(const char *backup, const char *dir, const char *keys,
                                    node_restore_info *info, sn_err *err);

#endif
