/* node/store.c - opening and creating a store: the SQLite connection, its layout (derived
 * from the schema as data), prepared statements, transactions and the origin table. */
#include "node/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/log.h"
#include "node/keyfile.h"
#include "node/store_int.h"

#define STORE_DB "store.db"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT w",
    [ST_RELEASE] = "RELEASE w",
    [ST_ROLLBACK_TO] = "ROLLBACK TO w",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_PUT] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
    [ST_ORIGIN_INSERT] = "INSERT INTO origin(idx, replica, epoch) VALUES (?1, ?2, ?3)",
    [ST_ORIGIN_GET] = "SELECT held, applied, link, bound FROM origin WHERE idx = ?1",
    [ST_ORIGIN_SET] = "UPDATE origin SET held = ?2, applied = ?3, link = ?4 WHERE idx = ?1",
    [ST_ORIGIN_SKEW] = "UPDATE origin SET skewed = 1 WHERE idx = ?1 AND skewed = 0",
    [ST_LOG_INSERT] = "INSERT OR IGNORE INTO commit_log(key, hlc, body, unknown, link) "
                      "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_LOG_GET] = "SELECT body, link FROM commit_log WHERE key = ?1",
    [ST_LOG_SET_LINK] = "UPDATE commit_log SET link = ?2 WHERE key = ?1",
    [ST_LOG_RANGE] = "SELECT key, body FROM commit_log WHERE key >= ?1 AND key <= ?2 "
                     "ORDER BY key",
    [ST_CELL_GET] = "SELECT state FROM cell WHERE tbl = ?1 AND row = ?2 AND col = ?3",
    [ST_CELL_PUT] = "INSERT OR REPLACE INTO cell(tbl, row, col, state) VALUES (?1, ?2, ?3, ?4)",
    [ST_CONFLICT_ADD] = "INSERT OR IGNORE INTO conflict(tbl, row, col) VALUES (?1, ?2, ?3)",
    [ST_CONFLICT_DEL] = "DELETE FROM conflict WHERE tbl = ?1 AND row = ?2 AND col = ?3",
};

/* Store layout migrations: entry i takes a store from layout i to i + 1. Frozen once
 * released: a change is a new entry, never an edit. */
static const char *const migrations[NODE_STORE_LAYOUT] = {
    /* 1: identity, origins, the commit log, mv cells and the conflict index. */
    "CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;"
    "CREATE TABLE origin(idx INTEGER PRIMARY KEY, replica BLOB NOT NULL,"
    " epoch INTEGER NOT NULL, held INTEGER NOT NULL DEFAULT 0,"
    " applied INTEGER NOT NULL DEFAULT 0, link BLOB, skewed INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE(replica, epoch));"
    "CREATE TABLE commit_log(key INTEGER PRIMARY KEY, hlc INTEGER NOT NULL,"
    " body BLOB NOT NULL, link BLOB, unknown INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE cell(tbl INTEGER NOT NULL, row BLOB NOT NULL, col INTEGER NOT NULL,"
    " state BLOB NOT NULL, PRIMARY KEY(tbl, row, col)) WITHOUT ROWID;"
    "CREATE TABLE conflict(tbl INTEGER NOT NULL, row BLOB NOT NULL, col INTEGER NOT NULL,"
    " PRIMARY KEY(tbl, row, col)) WITHOUT ROWID;",
    /* 2: this node's users (local, never replicated) and its hash-chained audit log. */
    "CREATE TABLE clinician(id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,"
    " role TEXT NOT NULL, os_user TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,"
    " added_ms INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX clinician_os_user ON clinician(os_user) WHERE disabled = 0;"
    "CREATE TABLE audit(seq INTEGER PRIMARY KEY, wall_ms INTEGER NOT NULL,"
    " hlc INTEGER NOT NULL, user TEXT NOT NULL, os_user TEXT NOT NULL, action TEXT NOT NULL,"
    " patient BLOB, detail TEXT NOT NULL, hash BLOB NOT NULL);"
    "CREATE INDEX audit_patient ON audit(patient) WHERE patient IS NOT NULL;",
    /* 3: certificates of this node and of every origin (trust anchors live in meta). */
    "CREATE TABLE trust_cert(replica BLOB NOT NULL, serial INTEGER NOT NULL,"
    " type INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY(replica, serial)) WITHOUT ROWID;",
    /* 4: signed checkpoints received or made, units waiting for a predecessor, proofs of
     * equivocation, and per origin the highest seq that may apply (revocation, freeze). */
    "CREATE TABLE checkpoint(origin INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " serial INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY(origin, seq)) WITHOUT ROWID;"
    "CREATE TABLE unit_wait(origin INTEGER NOT NULL, first INTEGER NOT NULL,"
    " last INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY(origin, first, last))"
    " WITHOUT ROWID;"
    "CREATE TABLE equivocation(origin INTEGER PRIMARY KEY, seq INTEGER NOT NULL,"
    " ours BLOB NOT NULL, theirs BLOB NOT NULL, found_ms INTEGER NOT NULL);"
    "ALTER TABLE origin ADD COLUMN bound INTEGER;",
    /* 5: what this node knows of each peer it syncs with: the vectors last exchanged (so a
     * HELLO sends only what changed), the unit window, and figures for the operator. */
    "CREATE TABLE peer(replica BLOB PRIMARY KEY NOT NULL, name TEXT NOT NULL DEFAULT '',"
    " seen BLOB, told BLOB, window INTEGER NOT NULL DEFAULT 0,"
    " unit_target INTEGER NOT NULL DEFAULT 0,"
    " last_seen_ms INTEGER NOT NULL DEFAULT 0, last_sync_ms INTEGER NOT NULL DEFAULT 0,"
    " bytes_in INTEGER NOT NULL DEFAULT 0, bytes_out INTEGER NOT NULL DEFAULT 0,"
    " sessions INTEGER NOT NULL DEFAULT 0, completed INTEGER NOT NULL DEFAULT 0,"
    " skew_ms INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',"
    " last_error_ms INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",
    /* 6: store-and-forward bundles (node/bundle.h): every bundle part imported, so a second
     * import is a no-op, and per peer what was last sent to it by bundle, what it last
     * acknowledged and what last came from it. */
    "CREATE TABLE imported_bundles(bundle_id BLOB NOT NULL, part INTEGER NOT NULL,"
    " sender BLOB NOT NULL, hash BLOB NOT NULL, imported_at INTEGER NOT NULL,"
    " PRIMARY KEY(bundle_id, part)) WITHOUT ROWID;"
    "CREATE TABLE bundle_peer(replica BLOB PRIMARY KEY NOT NULL, sent_id BLOB,"
    " sent_ms INTEGER NOT NULL DEFAULT 0, sent_parts INTEGER NOT NULL DEFAULT 0,"
    " sent_commits INTEGER NOT NULL DEFAULT 0, sent BLOB, acked BLOB,"
    " acked_ms INTEGER NOT NULL DEFAULT 0, recv_id BLOB,"
    " recv_ms INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",
    /* 7: an equivocation proof any node can check alone (sync/proof.h), sent to peers. */
    "ALTER TABLE equivocation ADD COLUMN proof BLOB;",
    /* 8: the operator's view (node/status.h): whether a peer's last reported state digest
     * matched ours, when units started waiting for a predecessor, sessions per day... */
    "ALTER TABLE peer ADD COLUMN digest_match INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE peer ADD COLUMN digest_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE unit_wait ADD COLUMN since_ms INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE peer_day(replica BLOB NOT NULL, day INTEGER NOT NULL,"
    " sessions INTEGER NOT NULL DEFAULT 0, completed INTEGER NOT NULL DEFAULT 0,"
    " failed INTEGER NOT NULL DEFAULT 0, bytes_in INTEGER NOT NULL DEFAULT 0,"
    " bytes_out INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(replica, day)) WITHOUT ROWID;"
    /* ... and commits kept for a newer schema counted without reading the whole log. */
    "CREATE INDEX commit_log_unknown ON commit_log(key) WHERE unknown = 1;",
};

/* ---- SQLite through our allocator, so the fault injector reaches it. ---- */
#ifdef SN_TESTABLE
static sqlite3_mem_methods sqlite_orig_mem;

static void *sqlite_malloc(int n)
{
    if (sn_fault_hit(SN_FAULT_ALLOC))
        return NULL;
    return sqlite_orig_mem.xMalloc(n);
}

static void *sqlite_realloc(void *p, int n)
{
    if (sn_fault_hit(SN_FAULT_ALLOC))
        return NULL;
    return sqlite_orig_mem.xRealloc(p, n);
}
#endif

static void sqlite_setup_once(void)
{
    static int done;
    if (done)
        return;
    done = 1;
#ifdef SN_TESTABLE
    sqlite3_mem_methods m;
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_orig_mem) == SQLITE_OK) {
        m = sqlite_orig_mem;
        m.xMalloc = sqlite_malloc;
        m.xRealloc = sqlite_realloc;
        /* Fails with SQLITE_MISUSE when SQLite was already initialised; then the fault
         * injector simply does not reach SQLite. */
        (void)sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
    }
#endif
    /* No allocation statistics: nothing reads them, and keeping them takes a global mutex
     * on every allocation. Like the above, a no-op once SQLite is initialised. */
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
}

int node_store_fail(node_store *st, int rc, sn_err *err, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int code;
    switch (rc & 0xff) {
    case SQLITE_NOMEM: code = SN_ENOMEM; break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: code = SN_EBUSY; break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: code = SN_ECORRUPT; break;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH: code = SN_ECORRUPT; break;
    default: code = SN_EIO; break;
    }
    const char *why = st != NULL && st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
    sn_err_set(err, code, "%s: %s", what, why);
    if (code == SN_EBUSY)
        sn_err_hint(err, "another Outpost process may be writing to this store; retry shortly");
    else if (code == SN_EIO)
        sn_err_hint(err, "check that the disk is not full and the store directory is writable");
    return code;
}

uint64_t node_now_ms(const node_store *st)
{
    uint64_t now;
    if (st->opts.now_ms != NULL) {
        now = st->opts.now_ms(st->opts.now_ctx);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    }
    if (st->clock_offset_ms < 0 && (uint64_t)-st->clock_offset_ms > now)
        return 0;
    return now + (uint64_t)st->clock_offset_ms;
}

void node_stmt_done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

int node_stmt_exec(node_store *st, sqlite3_stmt *s, sn_err *err, const char *what)
{
    int rc = sqlite3_step(s);
    node_stmt_done(s);
    if (rc != SQLITE_DONE)
        return node_store_fail(st, rc, err, "%s", what);
    return 0;
}

static int exec_sql(node_store *st, const char *sql, sn_err *err, const char *what)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "%s", what);
    return 0;
}

/* Bring the layout from `from` to NODE_STORE_LAYOUT, inside the caller's transaction. */
static int migrate(node_store *st, int64_t from, sn_err *err)
{
    for (int64_t v = from; v < NODE_STORE_LAYOUT; v++) {
        int rc = sqlite3_exec(st->db, migrations[v], NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            return node_store_fail(st, rc, err, "upgrading store '%s' to layout %lld", st->dir,
                                   (long long)v + 1);
    }
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", NODE_STORE_LAYOUT);
    return exec_sql(st, pragma, err, "recording the store layout");
}

/* ---- layout ---- */

static const char *sql_type(schema_type t)
{
    switch (t) {
    case SCHEMA_T_INT: return "INTEGER";
    case SCHEMA_T_REAL: return "REAL";
    case SCHEMA_T_REF: return "BLOB";
    default: return "TEXT";
    }
}

/* Materialized tables and their indexes, derived from the schema. Idempotent, so an
 * upgraded build adds the tables and columns it newly knows. */
static int layout_tables(node_store *st, sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, 1 << 20);
    int rc = 0;
    for (size_t i = 0; i < schema_table_count() && rc == 0; i++) {
        const schema_table *t = schema_table_at(i);
        sn_buf_reset(&b);
        rc = sn_buf_appendf(&b, err,
                            "CREATE TABLE IF NOT EXISTS \"%s\"(id BLOB PRIMARY KEY NOT NULL,"
                            " _origin INTEGER, _seq INTEGER, _hlc INTEGER, _author TEXT,"
                            " _entered_by TEXT",
                            t->name);
        for (size_t c = 0; c < t->ncols && rc == 0; c++)
            rc = sn_buf_appendf(&b, err, ", \"%s\" %s", t->cols[c].name,
                                sql_type(t->cols[c].type));
        if (rc == 0)
            rc = sn_buf_appendf(&b, err, ") WITHOUT ROWID;");
        for (size_t c = 0; c < t->ncols && rc == 0; c++) {
            if (t->cols[c].type == SCHEMA_T_REF)
                rc = sn_buf_appendf(&b, err,
                                    "CREATE INDEX IF NOT EXISTS \"%s__%s\" ON \"%s\"(\"%s\");",
                                    t->name, t->cols[c].name, t->name, t->cols[c].name);
        }
        if (rc == 0)
            rc = sn_buf_append(&b, "", 1, err);
        if (rc == 0)
            rc = exec_sql(st, (const char *)b.data, err, "creating the record tables");
    }
    sn_buf_free(&b);
    return rc;
}

static int prepare_all(node_store *st, sn_err *err)
{
    for (int i = 0; i < ST_COUNT; i++) {
        int rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                    &st->stmts[i], NULL);
        if (rc != SQLITE_OK)
            return node_store_fail(st, rc, err, "preparing statement %d", i);
    }
    st->tables = sn_calloc(schema_table_count(), sizeof *st->tables);
    if (st->tables == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory opening store '%s'", st->dir);
    return 0;
}

static int meta_put_blob(node_store *st, const char *key, const void *p, size_t n, sn_err *err)
{
    sqlite3_stmt *s = st->stmts[ST_META_PUT];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, p, (int)n, SQLITE_STATIC);
    return node_stmt_exec(st, s, err, "writing store metadata");
}

static int meta_put_int(node_store *st, const char *key, int64_t v, sn_err *err)
{
    sqlite3_stmt *s = st->stmts[ST_META_PUT];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, v);
    return node_stmt_exec(st, s, err, "writing store metadata");
}

static int meta_put_text(node_store *st, const char *key, const char *v, sn_err *err)
{
    sqlite3_stmt *s = st->stmts[ST_META_PUT];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, v, -1, SQLITE_STATIC);
    return node_stmt_exec(st, s, err, "writing store metadata");
}

/* Read meta `key`; *found false when absent. Blob/text copied into out (up to cap). */
static int meta_get(node_store *st, const char *key, int64_t *ival, void *out, size_t cap,
                    size_t *len, sn_err *err)
{
    sqlite3_stmt *s = st->stmts[ST_META_GET];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        node_stmt_done(s);
        if (rc == SQLITE_DONE)
            return sn_err_set(err, SN_ECORRUPT, "store '%s': metadata '%s' is missing", st->dir,
                              key);
        return node_store_fail(st, rc, err, "reading store metadata '%s'", key);
    }
    if (ival != NULL)
        *ival = sqlite3_column_int64(s, 0);
    if (out != NULL) {
        const void *p = sqlite3_column_blob(s, 0);
        size_t n = (size_t)sqlite3_column_bytes(s, 0);
        if (n > cap) {
            node_stmt_done(s);
            return sn_err_set(err, SN_ECORRUPT, "store '%s': metadata '%s' is too long",
                              st->dir, key);
        }
        if (n > 0)
            memcpy(out, p, n);
        *len = n;
    }
    node_stmt_done(s);
    return 0;
}

static int open_db(node_store *st, const char *dir, bool create, sn_err *err)
{
    size_t n = strlen(dir) + sizeof STORE_DB + 2;
    char *path = sn_malloc(n);
    if (path == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory opening store '%s'", dir);
    snprintf(path, n, "%s/%s", dir, STORE_DB);
    if (!create && access(path, F_OK) != 0) {
        sn_free(path);
        sn_err_set(err, SN_ENOTFOUND, "no store in '%s'", dir);
        sn_err_hint(err, "create one with `outpost init --name NAME`, or pass --store DIR");
        return SN_ENOTFOUND;
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &st->db, flags, NULL);
    sn_free(path);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "cannot open store '%s'", dir);
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, 5000);
    const char *pragmas = st->opts.durability == NODE_FAST
                              ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
                              : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;";
    rc = exec_sql(st, pragmas, err, "configuring the store");
    if (rc != 0)
        return rc;
    return exec_sql(st, "PRAGMA foreign_keys=OFF; PRAGMA cache_size=-16384;", err,
                    "configuring the store");
}

static node_store *store_alloc(const char *dir, const node_open_opts *opts, sn_err *err)
{
    node_store *st = sn_calloc(1, sizeof *st);
    if (st == NULL) {
        sn_err_set(err, SN_ENOMEM, "out of memory opening store '%s'", dir);
        return NULL;
    }
    if (opts != NULL)
        st->opts = *opts;
    if (st->opts.max_skew_ms == 0)
        st->opts.max_skew_ms = CRDT_HLC_DEFAULT_MAX_SKEW_MS;
    if (st->opts.apply_batch == 0)
        st->opts.apply_batch = 256;
    if (st->opts.max_waiting == 0)
        st->opts.max_waiting = 100000;
    sn_buf_init(&st->scratch, SCHEMA_COMMIT_MAX + 1024);
    st->dir = sn_strdup(dir);
    if (st->dir == NULL) {
        sn_free(st);
        sn_err_set(err, SN_ENOMEM, "out of memory opening store '%s'", dir);
        return NULL;
    }
    return st;
}

/* Create the database file ourselves, mode 0600, so SQLite (which gives the WAL and
 * shared-memory files the database's mode) never makes clinical data world-readable. */
static int create_private_file(const char *path, sn_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return sn_err_set(err, SN_EIO, "cannot create '%s': %s", path, strerror(errno));
    close(fd);
    return 0;
}

static int check_name(const char *name, sn_err *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return sn_err_set(err, SN_EINVAL, "node name '%s' must be 1 to 64 bytes long", name);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20)
            return sn_err_set(err, SN_EINVAL, "node name must not hold control characters");
    return 0;
}

int node_store_create(const char *dir, const char *name, const node_open_opts *opts, sn_err *err)
{
    int rc = check_name(name, err);
    if (rc != 0)
        return rc;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return sn_err_set(err, SN_EIO, "cannot create store directory '%s': %s", dir,
                          strerror(errno));
    size_t n = strlen(dir) + sizeof STORE_DB + 2;
    char path[4096];
    if (n > sizeof path)
        return sn_err_set(err, SN_EINVAL, "store path '%s' is too long", dir);
    snprintf(path, sizeof path, "%s/%s", dir, STORE_DB);
    if (access(path, F_OK) == 0) {
        sn_err_set(err, SN_EINVAL, "a store already exists in '%s'", dir);
        sn_err_hint(err, "use it as it is, or choose another directory with --store");
        return SN_EINVAL;
    }
    sqlite_setup_once();
    node_store *st = store_alloc(dir, opts, err);
    if (st == NULL)
        return SN_ENOMEM;
    crdt_origin self = {.epoch = 1};
    sn_random_bytes(self.replica, sizeof self.replica);
    rc = node_keyfile_create(dir, err);
    bool made_keys = rc == 0;
    if (rc == 0)
        rc = create_private_file(path, err);
    if (rc == 0)
        rc = open_db(st, dir, true, err);
    if (rc == 0)
        rc = exec_sql(st, "BEGIN IMMEDIATE", err, "initialising the store");
    if (rc == 0)
        rc = migrate(st, 0, err);
    if (rc == 0)
        rc = layout_tables(st, err);
    if (rc == 0)
        rc = prepare_all(st, err);
    if (rc == 0)
        rc = meta_put_blob(st, "replica", self.replica, sizeof self.replica, err);
    if (rc == 0)
        rc = meta_put_int(st, "epoch", self.epoch, err);
    if (rc == 0)
        rc = meta_put_text(st, "name", name, err);
    if (rc == 0)
        rc = meta_put_int(st, "schema_version", SCHEMA_VERSION, err);
    if (rc == 0)
        rc = meta_put_int(st, "hlc_last", 0, err);
    uint32_t idx = 0;
    if (rc == 0)
        rc = node_origin_intern(st, &self, &idx, err);
    if (rc == 0)
        rc = node_store_epoch_init(st, &self, err);
    if (rc == 0)
        rc = exec_sql(st, "COMMIT", err, "initialising the store");
    node_store_close(st);
    if (rc != 0) {
        /* Leave nothing half-made behind: the next init must be able to start over. */
        char p2[4200];
        snprintf(p2, sizeof p2, "%s/%s", dir, STORE_DB);
        unlink(p2);
        snprintf(p2, sizeof p2, "%s/%s-wal", dir, STORE_DB);
        unlink(p2);
        snprintf(p2, sizeof p2, "%s/%s-shm", dir, STORE_DB);
        unlink(p2);
        if (made_keys)
            node_keyfile_remove(dir);
    }
    return rc;
}

static int load_identity(node_store *st, sn_err *err)
{
    size_t len = 0;
    int rc = meta_get(st, "replica", NULL, st->self.replica, sizeof st->self.replica, &len, err);
    if (rc == 0 && len != CRDT_REPLICA_LEN)
        rc = sn_err_set(err, SN_ECORRUPT, "store '%s': replica id is damaged", st->dir);
    int64_t v = 0;
    if (rc == 0)
        rc = meta_get(st, "epoch", &v, NULL, 0, NULL, err);
    st->self.epoch = (uint32_t)v;
    char name[65];
    if (rc == 0)
        rc = meta_get(st, "name", NULL, name, sizeof name - 1, &len, err);
    if (rc == 0) {
        name[len] = '\0';
        st->name = sn_strdup(name);
        if (st->name == NULL)
            rc = sn_err_set(err, SN_ENOMEM, "out of memory opening store '%s'", st->dir);
    }
    if (rc == 0)
        rc = meta_get(st, "hlc_last", &v, NULL, 0, NULL, err);
    if (rc == 0)
        rc = node_clock_offset_load(st, err);
    if (rc == 0)
        rc = node_origins_reload(st, err);
    if (rc != 0)
        return rc;
    /* The clock resumes from the highest time it issued or observed, never behind. */
    crdt_hlc last = (crdt_hlc)v;
    sqlite3_stmt *s = NULL;
    int src = sqlite3_prepare_v2(st->db, "SELECT max(hlc) FROM commit_log WHERE key BETWEEN ?1 AND ?2",
                                 -1, &s, NULL);
    if (src != SQLITE_OK)
        return node_store_fail(st, src, err, "reading the clock high-water mark");
    sqlite3_bind_int64(s, 1, NODE_LOG_KEY(st->self_idx, 0));
    sqlite3_bind_int64(s, 2, NODE_LOG_KEY(st->self_idx, NODE_SEQ_MAX));
    src = sqlite3_step(s);
    if (src == SQLITE_ROW && (crdt_hlc)sqlite3_column_int64(s, 0) > last)
        last = (crdt_hlc)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (src != SQLITE_ROW)
        return node_store_fail(st, src, err, "reading the clock high-water mark");
    crdt_clock_init(&st->clock, last, st->opts.max_skew_ms);
    return 0;
}

/* Commits held but not applied, left by an apply that failed or was killed after their
 * import committed, are applied now. Failing that the store still opens (the records it
 * has stay readable) and the next sync or import applies them. */
static void apply_interrupted(node_store *st, const char *dir)
{
    size_t n = 0;
    sn_err err = SN_ERR_INIT;
    if (node_apply_pending(st, &n, &err) != 0)
        sn_log_warn("store '%s': commits held but not yet applied stay so for now: %s", dir,
                    err.msg);
    else if (n > 0)
        sn_log_info("store '%s': applied %zu commits an interrupted apply had left", dir, n);
}

int node_store_open(node_store **out, const char *dir, const node_open_opts *opts, sn_err *err)
{
    *out = NULL;
    sqlite_setup_once();
    node_store *st = store_alloc(dir, opts, err);
    if (st == NULL)
        return SN_ENOMEM;
    int rc = open_db(st, dir, false, err);
    if (rc != 0)
        goto fail;
    int64_t layout = 0;
    sqlite3_stmt *s = NULL;
    rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        layout = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW) {
        rc = node_store_fail(st, rc, err, "cannot read the layout of store '%s'", dir);
        goto fail;
    }
    if (layout == 0) {
        rc = sn_err_set(err, SN_ECORRUPT, "'%s/%s' is not an Outpost store", dir, STORE_DB);
        goto fail;
    }
    if (layout > NODE_STORE_LAYOUT) {
        rc = sn_err_set(err, SN_EVERSION,
                        "store '%s' was made by a newer Outpost (layout %lld, this build reads %d)",
                        dir, (long long)layout, NODE_STORE_LAYOUT);
        sn_err_hint(err, "install the newer Outpost to use this store");
        goto fail;
    }
    if (layout < NODE_STORE_LAYOUT) {
        rc = exec_sql(st, "BEGIN IMMEDIATE", err, "upgrading the store");
        if (rc == 0)
            rc = migrate(st, layout, err);
        if (rc == 0)
            rc = exec_sql(st, "COMMIT", err, "upgrading the store");
        if (rc != 0) {
            (void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            goto fail;
        }
    }
    rc = prepare_all(st, err);
    if (rc == 0)
        rc = load_identity(st, err);
    if (rc == 0)
        rc = node_store_epoch_check(st, err);
    if (rc == 0)
        rc = node_store_upgrade(st, err);
    if (rc != 0)
        goto fail;
    apply_interrupted(st, dir);
    *out = st;
    return 0;
fail:
    node_store_close(st);
    return rc;
}

void node_store_close(node_store *st)
{
    if (st == NULL)
        return;
    node_store_batch_abort(st);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(st->stmts[i]);
    node_stmt_cache_close(st);
    if (st->tables != NULL) {
        for (size_t i = 0; i < schema_table_count(); i++)
            node_table_stmts_free(&st->tables[i], schema_table_at(i)->ncols);
        sn_free(st->tables);
    }
    sqlite3_close(st->db);
    sn_buf_free(&st->scratch);
    crdt_vv_free(&st->origin_index);
    sn_free(st->by_idx);
    sn_free(st->name);
    sn_free(st->dir);
    sn_free(st);
}

const crdt_origin *node_store_origin(const node_store *st) { return &st->self; }
const char *node_store_name(const node_store *st) { return st->name; }

int node_meta_blob_put(node_store *st, const char *key, const void *p, size_t n, sn_err *err)
{
    return meta_put_blob(st, key, p, n, err);
}

int node_meta_blob_get(node_store *st, const char *key, sn_buf *out, bool *found, sn_err *err)
{
    sqlite3_stmt *s = st->stmts[ST_META_GET];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *found = rc == SQLITE_ROW;
    int res = 0;
    if (rc == SQLITE_ROW)
        res = sn_buf_append(out, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0),
                            err);
    else if (rc != SQLITE_DONE)
        res = node_store_fail(st, rc, err, "reading store metadata '%s'", key);
    node_stmt_done(s);
    return res;
}

int node_store_meta_hlc_put(node_store *st, sn_err *err)
{
    return meta_put_int(st, "hlc_last", (int64_t)st->clock.last, err);
}

int node_store_upgrade_tables(node_store *st, sn_err *err) { return layout_tables(st, err); }

int node_store_schema_version_put(node_store *st, sn_err *err)
{
    return meta_put_int(st, "schema_version", SCHEMA_VERSION, err);
}

int node_store_schema_version_get(node_store *st, int64_t *v, sn_err *err)
{
    return meta_get(st, "schema_version", v, NULL, 0, NULL, err);
}

int node_store_data_version(node_store *st, uint64_t *out, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "PRAGMA data_version", &s);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(s, 0);
    node_stmt_release(st, s);
    return rc == SQLITE_ROW ? 0 : node_store_fail(st, rc, err, "reading the data version");
}
