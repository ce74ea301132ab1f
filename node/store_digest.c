/* node/store_digest.c - the state digest and the store's invariant check.
 *
 * Digest (XXH3-128, seed 0) over a canonical dump of the state, never the log. Integers
 * big-endian; values as canonical msgpack with a u32 length:
 *   per table, in id order:  u16 table id
 *     per row, in id order:  16 id | u8 inserted [| 16 replica | u32 epoch | u64 seq]
 *       per column, in id order: u16 column id | u32 len | value (the displayed value)
 *         mv columns add:     u32 siblings, each 16 replica | u32 epoch | u64 seq |
 *                             u32 len | value, sorted by (replica, epoch, seq) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "node/store_int.h"
#include "sync/unit.h"
#include "sync/wire.h"

typedef struct dumper {
    sn_xxh128_state *h;
    sn_buf b; /* staging for one value */
} dumper;

static void put_u16(dumper *d, uint16_t v)
{
    uint8_t t[2];
    sn_store_u16be(t, v);
    sn_xxh128_update(d->h, t, sizeof t);
}

static void put_u32(dumper *d, uint32_t v)
{
    uint8_t t[4];
    sn_store_u32be(t, v);
    sn_xxh128_update(d->h, t, sizeof t);
}

static void put_u64(dumper *d, uint64_t v)
{
    uint8_t t[8];
    sn_store_u64be(t, v);
    sn_xxh128_update(d->h, t, sizeof t);
}

static void put_origin(dumper *d, const crdt_origin *o)
{
    sn_xxh128_update(d->h, o->replica, sizeof o->replica);
    put_u32(d, o->epoch);
}

static void put_bytes(dumper *d, const uint8_t *p, size_t n)
{
    put_u32(d, (uint32_t)n);
    sn_xxh128_update(d->h, p, n);
}

static int put_value(dumper *d, const schema_value *v, sn_err *err)
{
    sn_buf_reset(&d->b);
    int rc = schema_value_encode(v, &d->b, err);
    if (rc == 0)
        put_bytes(d, d->b.data, d->b.len);
    return rc;
}

static int sibling_order(const void *a, const void *b)
{
    const crdt_sibling *x = a, *y = b;
    int c = crdt_origin_cmp(&x->dot.origin, &y->dot.origin);
    if (c != 0)
        return c;
    return x->dot.seq < y->dot.seq ? -1 : x->dot.seq > y->dot.seq;
}

static int dump_cell(node_store *st, dumper *d, const schema_table *t, const schema_column *c,
                     const uint8_t row[16], sn_err *err)
{
    crdt_mv m;
    crdt_mv_init(&m);
    bool explicit_;
    int rc = node_cell_load(st, t, c, row, &m, &explicit_, err);
    if (rc == 0) {
        if (m.n > 1)
            qsort(m.sibs, m.n, sizeof *m.sibs, sibling_order);
        put_u32(d, (uint32_t)m.n);
        for (size_t i = 0; i < m.n; i++) {
            put_origin(d, &m.sibs[i].dot.origin);
            put_u64(d, m.sibs[i].dot.seq);
            put_bytes(d, m.sibs[i].value, m.sibs[i].value_len);
        }
    }
    crdt_mv_free(&m);
    return rc;
}

static int dump_table(node_store *st, dumper *d, const schema_table *t, sn_err *err)
{
    sn_buf sql;
    sn_buf_init(&sql, 64 * 1024);
    int rc = sn_buf_appendf(&sql, err, "SELECT id, _origin, _seq");
    for (size_t c = 0; c < t->ncols && rc == 0; c++)
        rc = sn_buf_appendf(&sql, err, ", \"%s\"", t->cols[c].name);
    if (rc == 0)
        rc = sn_buf_appendf(&sql, err, " FROM \"%s\" ORDER BY id", t->name);
    if (rc == 0)
        rc = sn_buf_append(&sql, "", 1, err);
    sqlite3_stmt *s = NULL;
    if (rc == 0) {
        int prc = node_stmt_cached(st, (const char *)sql.data, &s);
        if (prc != SQLITE_OK)
            rc = node_store_fail(st, prc, err, "reading table %s", t->name);
    }
    sn_buf_free(&sql);
    if (rc != 0)
        return rc;
    put_u16(d, t->id);
    int src;
    while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW) {
        uint8_t row[16];
        if (sqlite3_column_bytes(s, 0) != 16) {
            rc = sn_err_set(err, SN_ECORRUPT, "store '%s': a %s row has a malformed id", st->dir,
                            t->name);
            break;
        }
        memcpy(row, sqlite3_column_blob(s, 0), 16);
        sn_xxh128_update(d->h, row, 16);
        bool inserted = sqlite3_column_type(s, 1) != SQLITE_NULL;
        uint8_t flag = inserted;
        sn_xxh128_update(d->h, &flag, 1);
        if (inserted) {
            const crdt_origin *o = node_origin_of(st, (uint32_t)sqlite3_column_int64(s, 1));
            if (o == NULL) {
                rc = sn_err_set(err, SN_ECORRUPT, "store '%s': a %s row names an unknown origin",
                                st->dir, t->name);
                break;
            }
            put_origin(d, o);
            put_u64(d, (uint64_t)sqlite3_column_int64(s, 2));
        }
        for (size_t c = 0; c < t->ncols && rc == 0; c++) {
            const schema_column *col = &t->cols[c];
            schema_value v;
            node_column_value(s, 3 + (int)c, schema_type_vkind(col->type), &v);
            put_u16(d, col->id);
            rc = put_value(d, &v, err);
            if (rc == 0 && col->kind == SCHEMA_MV)
                rc = dump_cell(st, d, t, col, row, err);
        }
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = node_store_fail(st, src, err, "reading table %s", t->name);
    node_stmt_release(st, s);
    return rc;
}

int node_store_digest(node_store *st, uint8_t out[16], sn_err *err)
{
    dumper d;
    sn_buf_init(&d.b, SCHEMA_COMMIT_MAX);
    int rc = sn_xxh128_new(&d.h, err);
    if (rc != 0)
        return rc;
    /* One read transaction: the dump is of one consistent state. */
    bool owned = node_read_begin(st);
    for (size_t i = 0; i < schema_table_count() && rc == 0; i++)
        rc = dump_table(st, &d, schema_table_at(i), err);
    node_read_end(st, owned);
    if (rc == 0)
        sn_xxh128_final(d.h, out);
    sn_xxh128_free(d.h);
    sn_buf_free(&d.b);
    return rc;
}

/* The applied vector (per origin, the highest seq applied: what the state is a function
 * of) and XXH3-64 over every origin's (held, applied, bound), which says when the cached
 * digest is stale. */
static int applied_vector(node_store *st, crdt_vv *out, uint64_t *key, sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, SIZE_MAX);
    int rc = 0;
    for (uint32_t idx = 1; idx <= st->norigins && rc == 0; idx++) {
        node_origin_state os;
        rc = node_origin_state_get(st, idx, &os, err);
        uint8_t t[24];
        sn_store_u64be(t, os.held);
        sn_store_u64be(t + 8, os.applied);
        sn_store_u64be(t + 16, os.bound);
        if (rc == 0)
            rc = sn_buf_append(&b, t, sizeof t, err);
        if (rc == 0 && os.applied > 0)
            rc = crdt_vv_set(out, node_origin_of(st, idx), os.applied, err);
    }
    if (rc == 0)
        *key = sn_xxh64(b.data, b.len);
    sn_buf_free(&b);
    return rc;
}

int node_store_state_digest(node_store *st, bool fresh, uint8_t vector[16],
                            uint8_t digest[16], bool *have, sn_err *err)
{
    crdt_vv applied;
    crdt_vv_init(&applied);
    uint64_t key = 0, now = node_now_ms(st), every = st->opts.state_digest_every_ms;
    bool owned = node_read_begin(st);
    int rc = applied_vector(st, &applied, &key, err);
    *have = rc == 0 && st->digest_cached && st->digest_key == key;
    if (rc == 0 && !*have && fresh &&
        (every == 0 || !st->digest_cached || now - st->digest_made_ms >= every)) {
        rc = node_store_digest(st, st->digest, err);
        st->digest_cached = rc == 0;
        st->digest_key = key;
        st->digest_made_ms = now;
        *have = rc == 0;
    }
    node_read_end(st, owned);
    if (*have) {
        sync_vv_digest(&applied, vector);
        memcpy(digest, st->digest, 16);
    }
    crdt_vv_free(&applied);
    return rc;
}

/* ---- invariants ---- */

static int check_log(node_store *st, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT key, body, link FROM commit_log WHERE key BETWEEN"
                              " ?1 AND ?2 ORDER BY key", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "checking the commit log");
    rc = 0;
    for (uint32_t idx = 1; idx <= st->norigins && rc == 0; idx++) {
        node_origin_state os;
        rc = node_origin_state_get(st, idx, &os, err);
        if (rc != 0)
            break;
        if (os.applied > os.held) {
            rc = sn_err_set(err, SN_ECORRUPT, "origin %u: applied %llu is beyond held %llu", idx,
                            (unsigned long long)os.applied, (unsigned long long)os.held);
            break;
        }
        sqlite3_bind_int64(s, 1, NODE_LOG_KEY(idx, 1));
        sqlite3_bind_int64(s, 2, NODE_LOG_KEY(idx, NODE_SEQ_MAX));
        uint8_t link[32] = {0};
        uint64_t expect = 1;
        int src;
        while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW) {
            uint64_t seq = (uint64_t)sqlite3_column_int64(s, 0) & NODE_SEQ_MAX;
            if (seq != expect) {
                src = SQLITE_DONE; /* the rest waits for a predecessor */
                break;
            }
            sync_chain_next(link, link, sqlite3_column_blob(s, 1),
                            (size_t)sqlite3_column_bytes(s, 1));
            if (sqlite3_column_bytes(s, 2) != 32 || memcmp(link, sqlite3_column_blob(s, 2), 32) != 0)
                rc = sn_err_set(err, SN_ECORRUPT, "origin %u: chain link of seq %llu is wrong",
                                idx, (unsigned long long)seq);
            expect++;
        }
        if (rc == 0 && src != SQLITE_ROW && src != SQLITE_DONE)
            rc = node_store_fail(st, src, err, "checking the commit log");
        sqlite3_reset(s);
        if (rc == 0 && expect - 1 != os.held)
            rc = sn_err_set(err, SN_ECORRUPT, "origin %u: held is %llu but the log is gap-free to %llu",
                            idx, (unsigned long long)os.held, (unsigned long long)(expect - 1));
        if (rc == 0 && os.held > 0 && memcmp(link, os.link, 32) != 0)
            rc = sn_err_set(err, SN_ECORRUPT, "origin %u: stored chain head is wrong", idx);
    }
    node_stmt_release(st, s);
    return rc;
}

static int check_cells(node_store *st, sn_err *err)
{
    sqlite3_stmt *s = NULL, *q = NULL;
    int rc = node_stmt_cached(st, "SELECT tbl, row, col FROM cell ORDER BY tbl, row, col", &s);
    if (rc == SQLITE_OK)
        rc = node_stmt_cached(st, "SELECT 1 FROM conflict WHERE tbl = ?1 AND row = ?2 AND"
                              " col = ?3", &q);
    if (rc != SQLITE_OK) {
        node_stmt_release(st, s);
        return node_store_fail(st, rc, err, "checking cells");
    }
    rc = 0;
    int src;
    while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW) {
        const schema_table *t = schema_table_by_id((uint16_t)sqlite3_column_int(s, 0));
        const schema_column *c =
            t != NULL ? schema_column_by_id(t, (uint16_t)sqlite3_column_int(s, 2)) : NULL;
        if (c == NULL || c->kind != SCHEMA_MV || sqlite3_column_bytes(s, 1) != 16) {
            rc = sn_err_set(err, SN_ECORRUPT, "a cell names an unknown mv column");
            break;
        }
        uint8_t row[16];
        memcpy(row, sqlite3_column_blob(s, 1), 16);
        crdt_mv m;
        crdt_mv_init(&m);
        bool explicit_;
        rc = node_cell_load(st, t, c, row, &m, &explicit_, err);
        if (rc == 0)
            rc = crdt_mv_check(&m, err);
        if (rc == 0 && c->policy == SCHEMA_POLICY_REVIEW) {
            sqlite3_bind_int(q, 1, t->id);
            sqlite3_bind_blob(q, 2, row, 16, SQLITE_STATIC);
            sqlite3_bind_int(q, 3, c->id);
            int qrc = sqlite3_step(q);
            bool indexed = qrc == SQLITE_ROW;
            sqlite3_reset(q);
            if (qrc != SQLITE_ROW && qrc != SQLITE_DONE)
                rc = node_store_fail(st, qrc, err, "checking the conflict index");
            else if (indexed != crdt_mv_values_differ(&m))
                rc = sn_err_set(err, SN_ECORRUPT, "conflict index disagrees with cell %s.%s",
                                t->name, c->name);
        }
        crdt_mv_free(&m);
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = node_store_fail(st, src, err, "checking cells");
    node_stmt_release(st, s);
    node_stmt_release(st, q);
    return rc;
}

/* node_store_counts counts the log from the origin table (seqs 1..held of each origin are
 * held, and waiting ones lie past held): the log must hold exactly those. */
static int check_counts(node_store *st, sn_err *err)
{
    node_counts n;
    int rc = node_store_counts(st, &n, err);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = NULL;
    rc = node_stmt_cached(st, "SELECT count(*) FROM commit_log", &s);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    uint64_t rows = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    node_stmt_release(st, s);
    if (rc != SQLITE_ROW)
        return node_store_fail(st, rc, err, "counting the log");
    if (rows != n.commits)
        return sn_err_set(err, SN_ECORRUPT, "the log holds %llu commits, the origin table "
                          "accounts for %llu", (unsigned long long)rows,
                          (unsigned long long)n.commits);
    return 0;
}

int node_store_check(node_store *st, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "PRAGMA quick_check", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "checking store integrity");
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        rc = node_store_fail(st, rc, err, "checking store integrity");
        node_stmt_release(st, s);
        return rc;
    }
    bool ok = strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
    if (!ok)
        rc = sn_err_set(err, SN_ECORRUPT, "store '%s' fails SQLite's integrity check: %s",
                        st->dir, rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0)
                                                  : sqlite3_errmsg(st->db));
    node_stmt_release(st, s);
    if (!ok)
        return rc;
    rc = check_log(st, err);
    if (rc == 0)
        rc = check_counts(st, err);
    if (rc == 0)
        rc = check_cells(st, err);
    if (rc != 0)
        sn_err_prefix(err, "store '%s' is inconsistent", st->dir);
    return rc;
}
