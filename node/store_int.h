/* node/store_int.h - the store's internal layout, shared by node/store*.c only. */
#ifndef SN_NODE_STORE_INT_H
#define SN_NODE_STORE_INT_H

#include <sqlite3.h>

#include "base/buf.h"
#include "crdt/hlc.h"
#include "crdt/mv.h"
#include "node/store.h"
#include "sync/cert.h"

/* The on-disk layout version (PRAGMA user_version). */
#define NODE_STORE_LAYOUT 8
/* Commit log rows are keyed by (origin index << 40) | seq so one rowid B-tree keeps each
 * origin's commits together and in seq order. */
#define NODE_SEQ_BITS 40
#define NODE_SEQ_MAX ((UINT64_C(1) << NODE_SEQ_BITS) - 1)
#define NODE_LOG_KEY(idx, seq) ((int64_t)(((uint64_t)(idx) << NODE_SEQ_BITS) | (seq)))

/* Prepared statements of one materialized table, made on first use. */
typedef struct node_table_stmts {
    sqlite3_stmt *insert;      /* INSERT a row with meta and every column */
    sqlite3_stmt *insert_bare; /* INSERT OR IGNORE a row that only has cell writes */
    sqlite3_stmt *select;      /* SELECT meta and every column by id */
    sqlite3_stmt *set_meta;    /* UPDATE meta of a bare row when its insert arrives */
    sqlite3_stmt **set_col;    /* per column: UPDATE one column by id */
} node_table_stmts;

enum node_stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_META_GET,
    ST_META_PUT,
    ST_ORIGIN_INSERT,
    ST_ORIGIN_GET,   /* held, applied, link, bound by idx */
    ST_ORIGIN_SET,   /* held, applied, link by idx */
    ST_ORIGIN_SKEW,
    ST_LOG_INSERT,
    ST_LOG_GET,      /* body, link by key */
    ST_LOG_SET_LINK,
    ST_LOG_RANGE,    /* key, body from key range */
    ST_CELL_GET,
    ST_CELL_PUT,
    ST_CONFLICT_ADD,
    ST_CONFLICT_DEL,
    ST_COUNT
};

/* A statement kept by the statement cache (store_stmt.c); the cache holds at most
 * NODE_STMT_CACHE (a store runs a few dozen distinct queries), past which statements are
 * prepared per call as before. */
#define NODE_STMT_CACHE 128
typedef struct node_stmt_slot {
    sqlite3_stmt *s;
    uint64_t key; /* XXH3-64 of its SQL text */
    bool busy;    /* handed out and not yet released */
} node_stmt_slot;

struct node_store {
    sqlite3 *db;
    char *dir;
    char *name;
    crdt_origin self;
    uint32_t self_idx;
    node_open_opts opts;
    crdt_clock clock;
    uint64_t self_held;             /* own seq; re-derived from the log after a rollback */
    uint8_t self_link[32];          /* chain link at self_held */
    bool self_dirty;                /* origin row behind self_held (written at batch commit) */
    /* Origins get small local indices (never sent, never used to break ties): */
    crdt_vv origin_index;           /* origin -> idx, a vector whose "seq" is the index */
    crdt_origin *by_idx;            /* idx -> origin (entry 0 unused) */
    size_t norigins;
    size_t origins_cap;
    sqlite3_stmt *stmts[ST_COUNT];
    node_stmt_slot cached[NODE_STMT_CACHE];
    size_t ncached;
    sync_cert_cache cert_cache;     /* certificates verified (node_trust_cert_verify) */
    node_table_stmts *tables;       /* one per schema table, index as schema_table_at */
    int batch_depth;                /* > 0 while node_store_batch_begin is open */
    bool batch_lost;                /* SQLite abandoned the batch's transaction */
    sn_buf scratch;                 /* encoding buffer reused across commits */
    int64_t clock_offset_ms;        /* added to the wall clock (node/peers.h) */
    /* The last state digest made for a STATE message, and the fingerprint of the origins'
     * held, applied and bound seqs it was made at (store_digest.c). */
    bool digest_cached;
    uint64_t digest_key;
    uint64_t digest_made_ms; /* when it was made (node_now_ms) */
    uint8_t digest[16];
};

/* Translate an SQLite failure into our codes, keeping SQLite's words. */
int node_store_fail(node_store *st, int rc, sn_err *err, const char *fmt, ...) SN_PRINTF(4, 5);

/* Transactions: begin a write transaction (or a savepoint inside a batch), and finish it.
 * node_txn_end commits when rc == 0 and rolls back otherwise, returning the final rc. */
SN_NODISCARD int node_txn_begin(node_store *st, sn_err *err);
int node_txn_end(node_store *st, int rc, sn_err *err);

/* A read transaction around a run of reads outside any transaction, so they see one
 * state and take SQLite's locks once, not once per statement: node_read_begin returns
 * true when it began one (false inside a transaction or batch, or when it could not: the
 * reads then run as before); node_read_end(st, that) ends it. Only around reads: a
 * node_txn_begin inside fails. */
bool node_read_begin(node_store *st);
void node_read_end(node_store *st, bool owned);

/* Reset + clear bindings, ready for reuse. */
void node_stmt_done(sqlite3_stmt *s);
/* The statement cache (store_stmt.c), for queries outside the fixed set: node_stmt_cached
 * gives *out a prepared statement of `sql` that nobody else is using (prepared on first
 * use and kept) and returns SQLite's code, as sqlite3_prepare_v2 would; *out is NULL on
 * failure. node_stmt_release resets it and clears its bindings for the next caller (NULL
 * is a no-op): release on every path, where one would finalise. node_stmt_cache_close
 * finalises them all (node_store_close). */
SN_NODISCARD int node_stmt_cached(node_store *st, const char *sql, sqlite3_stmt **out);
void node_stmt_release(node_store *st, sqlite3_stmt *s);
void node_stmt_cache_close(node_store *st);
/* Step a statement that returns no rows (SQLITE_DONE expected). */
SN_NODISCARD int node_stmt_exec(node_store *st, sqlite3_stmt *s, sn_err *err, const char *what);

/* Origins: look up or add (inside a transaction) the local index of an origin. */
SN_NODISCARD int node_origin_intern(node_store *st, const crdt_origin *o, uint32_t *idx,
                                    sn_err *err);
const crdt_origin *node_origin_of(const node_store *st, uint32_t idx);
/* Index of a known origin, or 0 when this store has never seen it. */
uint32_t node_origin_find(const node_store *st, const crdt_origin *o);
/* Reload the origin cache and own-origin state from the database (after a rollback). */
SN_NODISCARD int node_origins_reload(node_store *st, sn_err *err);

typedef struct node_origin_state {
    uint64_t held;
    uint64_t applied;
    uint8_t link[32];
    uint64_t bound; /* highest seq that may apply (revocation, freeze); NODE_SEQ_MAX: any.
                     * Read only: node_origin_state_put leaves it (store_quarantine.c sets it) */
} node_origin_state;
SN_NODISCARD int node_origin_state_get(node_store *st, uint32_t idx, node_origin_state *out,
                                       sn_err *err);
SN_NODISCARD int node_origin_state_put(node_store *st, uint32_t idx,
                                       const node_origin_state *s, sn_err *err);


/* Materialized tables. */
SN_NODISCARD int node_table_stmts_get(node_store *st, const schema_table *t,
                                      node_table_stmts **out, sn_err *err);
/* Finalize a table's statements (NULL ones are skipped) and zero the struct. */
void node_table_stmts_free(node_table_stmts *ts, size_t ncols);
/* Bind a value to parameter i (1-based) / read a column into a value whose bytes borrow
 * the statement until its next step or reset. */
void node_bind_value(sqlite3_stmt *s, int i, const schema_value *v);
void node_column_value(sqlite3_stmt *s, int i, schema_vkind kind, schema_value *out);

/* Cells. Load the state of an mv cell into `m` (empty when nothing is held). *explicit_
 * says whether a cell row exists (otherwise the state was derived from the row's insert). */
SN_NODISCARD int node_cell_load(node_store *st, const schema_table *t, const schema_column *c,
                                const uint8_t row[16], crdt_mv *m, bool *explicit_,
                                sn_err *err);
/* Write an mv cell's state, its display value and its conflict flag. */
SN_NODISCARD int node_cell_store(node_store *st, const schema_table *t, const schema_column *c,
                                 const uint8_t row[16], const crdt_mv *m, sn_err *err);

/* Apply one decoded commit (already stored in the log) to the materialized state. When
 * `only` is not NULL, changes to rows outside it are skipped (rematerialize). `local`
 * says the commit was just made here, so its inserts are of fresh ids no row has. */
typedef struct node_row_filter node_row_filter;
SN_NODISCARD int node_apply_commit(node_store *st, const schema_commit *c, uint32_t origin_idx,
                                   const node_row_filter *only, bool local, sn_err *err);
/* Rebuild rows (NULL/0 = all) inside the caller's transaction. */
SN_NODISCARD int node_rematerialize_rows(node_store *st, const node_rowref *rows, size_t n,
                                         sn_err *err);
/* The rows changed by commits from..to of origin idx (duplicates possible). *rows is the
 * caller's (sn_free). */
SN_NODISCARD int node_rows_touched(node_store *st, uint32_t idx, uint64_t from, uint64_t to,
                                   node_rowref **rows, size_t *n, sn_err *err);
/* Recompute the apply bound of origins (idxs NULL = every origin) from the revocation list
 * held, the checkpoints stored and equivocation proofs; when a bound falls below what was
 * applied, un-apply: lower `applied` and rebuild the rows those commits touched. Inside the
 * caller's transaction (store_quarantine.c). */
SN_NODISCARD int node_bounds_refresh(node_store *st, const uint32_t *idxs, size_t n,
                                     sn_err *err);
/* Does this store hold a proof that origin o equivocated (o frozen)? False on any error. */
bool node_origin_is_frozen(node_store *st, const crdt_origin *o);
/* Store a verified checkpoint of origin idx (kept for re-cutting; idempotent). */
struct sync_checkpoint;
struct sync_unit;
SN_NODISCARD int node_checkpoint_store(node_store *st, uint32_t idx,
                                       const struct sync_checkpoint *cp, sn_err *err);
/* *held says `cp` is byte for byte (signature included) a checkpoint this store keeps:
 * one verified before it was stored, whose signature needs no second check
 * (store_checkpoint.c). Only a check's cost changes with it, never a decision. */
SN_NODISCARD int node_checkpoint_is_held(node_store *st, const struct sync_checkpoint *cp,
                                         bool *held, sn_err *err);
/* The chain link held after commit `seq` of origin idx (32 zero bytes for seq 0);
 * SN_ECORRUPT when the log lacks it (store_units.c). */
SN_NODISCARD int node_log_link_at(node_store *st, uint32_t idx, uint64_t seq, uint8_t out[32],
                                  sn_err *err);
/* The stored checkpoint of origin idx at the smallest seq >= seq: its bytes and *at; *found
 * false when there is none (store_export.c). */
SN_NODISCARD int node_checkpoint_next(node_store *st, uint32_t idx, uint64_t seq,
                                      uint8_t out[148], uint64_t *at, bool *found, sn_err *err);
/* Encode into `out` (reset first) the unit of commits first..cp.seq of origin idx under
 * the stored checkpoint `cpb` (store_export.c). */
SN_NODISCARD int node_unit_cut(node_store *st, uint32_t idx, uint64_t first,
                               const uint8_t cpb[148], sn_buf *out, sn_err *err);
/* Equivocation of origin idx found at `seq`, where `theirs` (a checkpoint alone, at seq,
 * when `unit` is NULL; else the checkpoint of `unit`, whose chain verified to `links`)
 * contradicts the chain held. Makes the proof (our side from the store, theirs from the
 * unit or checkpoint; store_equiv.c), keeps it unless one at a lower seq is held, drops
 * waiting units from seq on and logs a warning. *fresh: the freeze is new or lowered; the
 * caller refreshes the origin's bound. */
SN_NODISCARD int node_equivocation_found(node_store *st, uint32_t idx, uint64_t seq,
                                         const struct sync_checkpoint *theirs,
                                         const struct sync_unit *unit, const uint8_t *links,
                                         bool *fresh, sn_err *err);
/* Apply every held, not yet applied commit, apply_batch per transaction. */
SN_NODISCARD int node_apply_pending(node_store *st, size_t *applied, sn_err *err);

/* Metadata helpers (store.c): blobs by key; *found false when absent. */
SN_NODISCARD int node_meta_blob_get(node_store *st, const char *key, sn_buf *out, bool *found,
                                    sn_err *err);
SN_NODISCARD int node_meta_blob_put(node_store *st, const char *key, const void *p, size_t n,
                                    sn_err *err);
/* Metadata helpers (store.c). */
SN_NODISCARD int node_store_meta_hlc_put(node_store *st, sn_err *err);
SN_NODISCARD int node_store_upgrade_tables(node_store *st, sn_err *err);
SN_NODISCARD int node_store_schema_version_put(node_store *st, sn_err *err);
SN_NODISCARD int node_store_schema_version_get(node_store *st, int64_t *v, sn_err *err);
/* Bring a store written under an older schema up to this build's (store_upgrade.c):
 * add tables and columns, then apply the parts of commits kept for later. */
SN_NODISCARD int node_store_upgrade(node_store *st, sn_err *err);

/* Append an audit event inside the caller's transaction (store_audit.c). */
SN_NODISCARD int node_audit_append_in_txn(node_store *st, const char *user, const char *os_user,
                                          char action, const uint8_t *patient,
                                          const char *detail, sn_err *err);

/* Clone and restore detection (store_epoch.c). At creation, inside the caller's
 * transaction: record a fresh instance nonce and this machine in meta and in the store's
 * token file (state directory). `self` is the new store's origin. */
SN_NODISCARD int node_store_epoch_init(node_store *st, const crdt_origin *self, sn_err *err);
/* At open, once the identity is loaded, in its own transaction: when the store was
 * restored, copied or cloned (token missing or different, another machine), take a new
 * epoch (st->self and the own chain state follow); then rotate the nonce. */
SN_NODISCARD int node_store_epoch_check(node_store *st, sn_err *err);

/* Read a vector stored as sync_vv_encode bytes in column i (NULL: left empty), saying a
 * peer's stored vector is damaged when it does not parse (store_peers.c). */
SN_NODISCARD int node_vv_column(sqlite3_stmt *s, int i, crdt_vv *out, sn_err *err);

/* Load the persisted clock offset (store_peers.c). */
SN_NODISCARD int node_clock_offset_load(node_store *st, sn_err *err);

/* Current wall time per the store's clock source, plus the clock offset. */
uint64_t node_now_ms(const node_store *st);

#endif
