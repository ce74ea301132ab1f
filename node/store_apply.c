/* node/store_apply.c - foreign commits: validate, store in the log (per-origin chain,
 * waiting commits kept on disk), apply in per-origin seq order in short transactions,
 * export what a peer lacks, and rematerialize rows from the log.
 *
 * Apply is a pure function of the commits held: each origin's commits apply gap-free in
 * seq order, a reference to a row not yet held is stored (a bare row), never rejected,
 * and the mv rules (crdt/mv.h) make the result independent of the interleaving of
 * origins. Nothing is applied twice: `applied` per origin is advanced in the same
 * transaction as the changes. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "node/store_int.h"
#include "sync/unit.h"

struct node_row_filter {
    node_rowref *rows; /* sorted by (table, id) */
    size_t n;
};

static int rowref_cmp(const void *a, const void *b)
{
    const node_rowref *x = a, *y = b;
    if (x->table != y->table)
        return x->table < y->table ? -1 : 1;
    return memcmp(x->id, y->id, SCHEMA_ID_LEN);
}

static bool filter_has(const node_row_filter *f, uint16_t table, const uint8_t id[16])
{
    if (f == NULL)
        return true;
    node_rowref key = {.table = table};
    memcpy(key.id, id, SCHEMA_ID_LEN);
    return bsearch(&key, f->rows, f->n, sizeof key, rowref_cmp) != NULL;
}

/* Apply one write to an mv cell and store the result. */
static int apply_mv_write(node_store *st, const schema_table *t, const schema_column *c,
                          const uint8_t row[16], const crdt_dot *dot, crdt_hlc hlc,
                          const schema_value *value, const crdt_vv *ctx, sn_err *err)
{
    crdt_mv m;
    crdt_mv_init(&m);
    sn_buf vb;
    sn_buf_init(&vb, SCHEMA_COMMIT_MAX);
    bool explicit_;
    int rc = node_cell_load(st, t, c, row, &m, &explicit_, err);
    if (rc == 0)
        rc = schema_value_encode(value, &vb, err);
    if (rc == 0) {
        crdt_mv_write w = {.dot = *dot, .hlc = hlc, .rank = schema_column_rank(c, value),
                           .value = vb.data, .value_len = vb.len, .ctx = ctx};
        bool added;
        rc = crdt_mv_apply(&m, &w, &added, err);
    }
    if (rc == 0)
        rc = node_cell_store(st, t, c, row, &m, err);
    sn_buf_free(&vb);
    crdt_mv_free(&m);
    return rc;
}

static const schema_value *field_value(const schema_change *ch, uint16_t col)
{
    for (size_t i = 0; i < ch->nfields; i++)
        if (ch->fields[i].col == col)
            return &ch->fields[i].value;
    return NULL;
}

/* Freeze a cell in its explicit form (before the row's insert meta changes). */
static int make_explicit(node_store *st, const schema_table *t, const schema_column *c,
                         const uint8_t row[16], sn_err *err)
{
    crdt_mv m;
    crdt_mv_init(&m);
    bool explicit_;
    int rc = node_cell_load(st, t, c, row, &m, &explicit_, err);
    if (rc == 0 && !explicit_)
        rc = node_cell_store(st, t, c, row, &m, err);
    crdt_mv_free(&m);
    return rc;
}

static int bind_meta(node_store *st, sqlite3_stmt *s, const uint8_t row[16],
                     const schema_commit *c, uint32_t origin_idx)
{
    (void)st;
    sqlite3_bind_blob(s, 1, row, 16, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, origin_idx);
    sqlite3_bind_int64(s, 3, (int64_t)c->seq);
    sqlite3_bind_int64(s, 4, (int64_t)c->hlc);
    sqlite3_bind_text(s, 5, c->author, -1, SQLITE_STATIC);
    if (c->entered_by != NULL)
        sqlite3_bind_text(s, 6, c->entered_by, -1, SQLITE_STATIC);
    return 0;
}

static int apply_insert(node_store *st, const schema_table *t, const schema_commit *c,
                        const schema_change *ch, uint32_t origin_idx, bool fresh, sn_err *err)
{
    node_table_stmts *ts;
    int rc = node_table_stmts_get(st, t, &ts, err);
    if (rc != 0)
        return rc;
    crdt_dot dot = {.origin = c->origin, .seq = c->seq};

    /* Is the row here already: a bare row of early cell writes, or (never from honest nodes)
     * another insert of the same id? Not for a local commit's fresh ids. */
    int src = SQLITE_DONE;
    if (!fresh) {
        sqlite3_bind_blob(ts->select, 1, ch->row, 16, SQLITE_STATIC);
        src = sqlite3_step(ts->select);
    }
    bool exists = src == SQLITE_ROW;
    bool inserted = exists && sqlite3_column_type(ts->select, 0) != SQLITE_NULL;
    crdt_dot old = {0};
    if (inserted) {
        const crdt_origin *o = node_origin_of(st, (uint32_t)sqlite3_column_int64(ts->select, 0));
        if (o != NULL)
            old.origin = *o;
        old.seq = (uint64_t)sqlite3_column_int64(ts->select, 1);
    }
    node_stmt_done(ts->select);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return node_store_fail(st, src, err, "reading a %s row", t->name);

    if (!exists) {
        /* The common case: a fresh row, its mv cells implied by the insert. */
        bind_meta(st, ts->insert, ch->row, c, origin_idx);
        for (size_t i = 0; i < t->ncols; i++) {
            const schema_value *v = field_value(ch, t->cols[i].id);
            if (v != NULL)
                node_bind_value(ts->insert, (int)i + 7, v);
        }
        rc = node_stmt_exec(st, ts->insert, err, "inserting a row");
        for (size_t i = 0; i < t->ncols && rc == 0; i++) {
            const schema_column *col = &t->cols[i];
            if (col->kind == SCHEMA_MV && field_value(ch, col->id) == NULL) {
                crdt_mv empty;
                crdt_mv_init(&empty);
                rc = node_cell_store(st, t, col, ch->row, &empty, err);
            }
        }
        return rc;
    }

    bool take_meta = !inserted;
    if (inserted) {
        if (crdt_origin_equal(&old.origin, &dot.origin) && old.seq == dot.seq)
            return 0;
        /* Two inserts of one id: keep the fixed values of the lowest (origin, seq) so the
         * result does not depend on arrival order; every mv value counts as a write. */
        int oc = crdt_origin_cmp(&dot.origin, &old.origin);
        take_meta = oc < 0 || (oc == 0 && dot.seq < old.seq);
        for (size_t i = 0; i < t->ncols && rc == 0; i++)
            if (t->cols[i].kind == SCHEMA_MV)
                rc = make_explicit(st, t, &t->cols[i], ch->row, err);
        if (rc != 0)
            return rc;
    }
    /* Cells first: a bare row's non-explicit cells are empty until the meta is set. */
    for (size_t i = 0; i < t->ncols && rc == 0; i++) {
        const schema_column *col = &t->cols[i];
        if (col->kind != SCHEMA_MV)
            continue;
        const schema_value *v = field_value(ch, col->id);
        crdt_mv m;
        crdt_mv_init(&m);
        bool explicit_;
        rc = node_cell_load(st, t, col, ch->row, &m, &explicit_, err);
        crdt_mv_free(&m);
        if (rc != 0)
            break;
        if (explicit_ && v != NULL) {
            rc = apply_mv_write(st, t, col, ch->row, &dot, c->hlc, v, NULL, err);
        } else if (!explicit_ && v == NULL) {
            crdt_mv empty;
            crdt_mv_init(&empty);
            rc = node_cell_store(st, t, col, ch->row, &empty, err);
        } else if (!explicit_ && v != NULL && take_meta) {
            sqlite3_stmt *u = ts->set_col[i];
            sqlite3_bind_blob(u, 1, ch->row, 16, SQLITE_STATIC);
            node_bind_value(u, 2, v);
            rc = node_stmt_exec(st, u, err, "setting an initial value");
        }
    }
    if (rc != 0 || !take_meta)
        return rc;
    bind_meta(st, ts->set_meta, ch->row, c, origin_idx);
    rc = node_stmt_exec(st, ts->set_meta, err, "recording a row's insert");
    for (size_t i = 0; i < t->ncols && rc == 0; i++) {
        const schema_column *col = &t->cols[i];
        const schema_value *v = field_value(ch, col->id);
        if (col->kind != SCHEMA_FIXED || v == NULL)
            continue;
        sqlite3_stmt *u = ts->set_col[i];
        sqlite3_bind_blob(u, 1, ch->row, 16, SQLITE_STATIC);
        node_bind_value(u, 2, v);
        rc = node_stmt_exec(st, u, err, "setting a fixed value");
    }
    return rc;
}

static int apply_set(node_store *st, const schema_table *t, const schema_column *col,
                     const schema_commit *c, const schema_change *ch, sn_err *err)
{
    if (col->kind != SCHEMA_MV)
        return 0; /* refused by schema_commit_check before storing */
    node_table_stmts *ts;
    int rc = node_table_stmts_get(st, t, &ts, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_blob(ts->insert_bare, 1, ch->row, 16, SQLITE_STATIC);
    rc = node_stmt_exec(st, ts->insert_bare, err, "recording a row not yet received");
    if (rc != 0)
        return rc;
    crdt_dot dot = {.origin = c->origin, .seq = c->seq};
    return apply_mv_write(st, t, col, ch->row, &dot, c->hlc, &ch->value, &ch->ctx, err);
}

int node_apply_commit(node_store *st, const schema_commit *c, uint32_t origin_idx,
                      const node_row_filter *only, bool local, sn_err *err)
{
    for (size_t i = 0; i < c->nchanges; i++) {
        const schema_change *ch = &c->changes[i];
        const schema_table *t = schema_table_by_id(ch->table);
        if (t == NULL || !filter_has(only, ch->table, ch->row))
            continue; /* unknown tables wait in the log for an upgrade */
        int rc = 0;
        if (ch->op == SCHEMA_OP_INSERT) {
            rc = apply_insert(st, t, c, ch, origin_idx, local, err);
        } else if (ch->op == SCHEMA_OP_SET) {
            const schema_column *col = schema_column_by_id(t, ch->col);
            if (col != NULL)
                rc = apply_set(st, t, col, c, ch, err);
        }
        if (rc != 0) {
            sn_err_prefix(err, "applying change %zu of commit %llu", i + 1,
                          (unsigned long long)c->seq);
            return rc;
        }
    }
    return 0;
}

/* Load and decode the stored body of (idx, seq). *body is the caller's (sn_free). */
static int load_commit(node_store *st, uint32_t idx, uint64_t seq, uint8_t **body,
                       schema_commit **out, sn_err *err)
{
    *body = NULL;
    *out = NULL;
    sqlite3_stmt *s = st->stmts[ST_LOG_GET];
    sqlite3_bind_int64(s, 1, NODE_LOG_KEY(idx, seq));
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        node_stmt_done(s);
        if (rc == SQLITE_DONE)
            return sn_err_set(err, SN_ECORRUPT, "store '%s': commit %llu of origin %u is missing",
                              st->dir, (unsigned long long)seq, idx);
        return node_store_fail(st, rc, err, "reading a commit");
    }
    size_t n = (size_t)sqlite3_column_bytes(s, 0);
    *body = sn_malloc(n == 0 ? 1 : n);
    if (*body == NULL) {
        node_stmt_done(s);
        return sn_err_set(err, SN_ENOMEM, "out of memory reading a commit");
    }
    memcpy(*body, sqlite3_column_blob(s, 0), n);
    node_stmt_done(s);
    rc = schema_commit_decode(*body, n, out, err);
    if (rc != 0) {
        sn_free(*body);
        *body = NULL;
    }
    return rc;
}

/* Apply up to `budget` waiting commits of origin idx; *done counts them. */
static int apply_origin(node_store *st, uint32_t idx, size_t budget, size_t *done, sn_err *err)
{
    node_origin_state os;
    int rc = node_origin_state_get(st, idx, &os, err);
    if (rc != 0)
        return rc;
    uint64_t start = os.applied;
    uint64_t now = node_now_ms(st);
    uint64_t limit = os.held < os.bound ? os.held : os.bound; /* past bound: quarantined */
    while (rc == 0 && os.applied < limit && *done < budget) {
        uint8_t *body;
        schema_commit *c;
        rc = load_commit(st, idx, os.applied + 1, &body, &c, err);
        if (rc != 0)
            break;
        rc = node_apply_commit(st, c, idx, NULL, false, err);
        if (rc == 0 && !crdt_clock_observe(&st->clock, c->hlc, now)) {
            /* A clock far ahead is applied but never drags ours forward: flag it. */
            sqlite3_bind_int64(st->stmts[ST_ORIGIN_SKEW], 1, idx);
            rc = node_stmt_exec(st, st->stmts[ST_ORIGIN_SKEW], err, "flagging a skewed origin");
        }
        schema_commit_free(c);
        sn_free(body);
        if (rc == 0) {
            os.applied++;
            (*done)++;
        }
    }
    if (rc == 0 && os.applied != start)
        rc = node_origin_state_put(st, idx, &os, err);
    return rc;
}

/* Some origin holds commits it may apply but has not: their import committed and the apply
 * after it failed (disk full, out of memory) or the process died in between. */
static int apply_owed(node_store *st, bool *owed, sn_err *err)
{
    *owed = false;
    bool owned = node_read_begin(st);
    int rc = 0;
    for (uint32_t idx = 1; idx <= st->norigins && !*owed && rc == 0; idx++) {
        node_origin_state os;
        rc = node_origin_state_get(st, idx, &os, err);
        *owed = rc == 0 && os.applied < (os.held < os.bound ? os.held : os.bound);
    }
    node_read_end(st, owned);
    return rc;
}

int node_apply_pending(node_store *st, size_t *applied, sn_err *err)
{
    bool owed = false;
    int owed_rc = apply_owed(st, &owed, err);
    if (owed_rc != 0 || !owed)
        return owed_rc;
    for (;;) {
        int rc = node_txn_begin(st, err);
        if (rc != 0)
            return rc;
        size_t done = 0;
        for (uint32_t idx = 1; idx <= st->norigins && rc == 0; idx++)
            if (done < st->opts.apply_batch)
                rc = apply_origin(st, idx, st->opts.apply_batch, &done, err);
        if (rc == 0 && done > 0)
            rc = node_store_meta_hlc_put(st, err);
        rc = node_txn_end(st, rc, err);
        if (rc != 0)
            return rc;
        if (applied != NULL)
            *applied += done;
        /* A batch that was not full emptied every origin: no need for another round (which
         * could fail after everything was applied, and misreport the import). */
        if (done < st->opts.apply_batch)
            return 0;
    }
}

/* ---- import ---- */

static int describe_body(sn_err *err, size_t i, size_t n, const node_body *b)
{
    crdt_origin o;
    uint64_t seq;
    crdt_hlc hlc;
    uint32_t ver;
    if (schema_commit_peek(b->p, b->n, &o, &seq, &hlc, &ver, NULL) == 0) {
        char hex[2 * CRDT_REPLICA_LEN + 1];
        sn_hex(hex, o.replica, sizeof o.replica);
        sn_err_prefix(err, "commit %zu of %zu (origin %.8s/%u seq %llu)", i + 1, n, hex,
                      o.epoch, (unsigned long long)seq);
    } else {
        sn_err_prefix(err, "commit %zu of %zu", i + 1, n);
    }
    return err != NULL ? err->code : SN_ECORRUPT;
}

/* Everything that can be known about each body before writing anything. */
static int validate_bodies(node_store *st, const node_body *bodies, size_t n, bool *unknown,
                           sn_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const node_body *b = &bodies[i];
        schema_commit *c = NULL;
        int rc;
        if (b->n > SCHEMA_COMMIT_MAX)
            rc = sn_err_set(err, SN_ECORRUPT, "body of %zu bytes exceeds the %u-byte limit",
                            b->n, SCHEMA_COMMIT_MAX);
        else
            rc = schema_commit_decode(b->p, b->n, &c, err);
        if (rc == 0)
            rc = schema_commit_check(c, &unknown[i], err);
        if (rc == 0 && c->seq > NODE_SEQ_MAX)
            rc = sn_err_set(err, SN_ECORRUPT, "sequence number %llu is out of range",
                            (unsigned long long)c->seq);
        if (rc == 0 && crdt_origin_equal(&c->origin, &st->self) && c->seq > st->self_held) {
            rc = sn_err_set(err, SN_EINVAL,
                            "it claims this node's own origin with a sequence number this "
                            "node never wrote (it holds %llu)",
                            (unsigned long long)st->self_held);
            sn_err_hint(err, "two stores share one identity (a copied store directory?); "
                             "stop and ask your administrator");
        }
        schema_commit_free(c);
        if (rc != 0)
            return describe_body(err, i, n, b);
    }
    return 0;
}

/* Advance `held` over stored commits that are now gap-free, extending the chain. */
static int advance_held(node_store *st, uint32_t idx, sn_err *err)
{
    node_origin_state os;
    int rc = node_origin_state_get(st, idx, &os, err);
    uint64_t start = os.held;
    sqlite3_stmt *s = st->stmts[ST_LOG_GET];
    while (rc == 0) {
        sqlite3_bind_int64(s, 1, NODE_LOG_KEY(idx, os.held + 1));
        int src = sqlite3_step(s);
        if (src != SQLITE_ROW) {
            node_stmt_done(s);
            if (src != SQLITE_DONE)
                rc = node_store_fail(st, src, err, "reading the commit log");
            break;
        }
        uint8_t link[32];
        sync_chain_next(link, os.link, sqlite3_column_blob(s, 0),
                        (size_t)sqlite3_column_bytes(s, 0));
        node_stmt_done(s);
        sqlite3_stmt *u = st->stmts[ST_LOG_SET_LINK];
        sqlite3_bind_int64(u, 1, NODE_LOG_KEY(idx, os.held + 1));
        sqlite3_bind_blob(u, 2, link, 32, SQLITE_STATIC);
        rc = node_stmt_exec(st, u, err, "recording a chain link");
        memcpy(os.link, link, 32);
        os.held++;
    }
    if (rc == 0 && os.held != start)
        rc = node_origin_state_put(st, idx, &os, err);
    return rc;
}

static int count_waiting(node_store *st, uint32_t idx, uint64_t held, uint64_t *out,
                         sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT count(*) FROM commit_log WHERE key BETWEEN ?1 AND ?2",
                              &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "counting waiting commits");
    sqlite3_bind_int64(s, 1, NODE_LOG_KEY(idx, held + 1));
    sqlite3_bind_int64(s, 2, NODE_LOG_KEY(idx, NODE_SEQ_MAX));
    rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    node_stmt_release(st, s);
    if (rc != SQLITE_ROW)
        return node_store_fail(st, rc, err, "counting waiting commits");
    return 0;
}

/* Store one chunk of bodies in one transaction. */
static int store_chunk(node_store *st, const node_body *bodies, const bool *unknown, size_t n,
                       node_import_stats *stats, sn_err *err)
{
    uint32_t *touched = sn_calloc(n == 0 ? 1 : n, sizeof *touched);
    if (touched == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory importing commits");
    size_t ntouched = 0;
    int rc = node_txn_begin(st, err);
    for (size_t i = 0; i < n && rc == 0; i++) {
        crdt_origin o;
        uint64_t seq;
        crdt_hlc hlc;
        uint32_t ver;
        rc = schema_commit_peek(bodies[i].p, bodies[i].n, &o, &seq, &hlc, &ver, err);
        uint32_t idx = 0;
        if (rc == 0)
            rc = node_origin_intern(st, &o, &idx, err);
        node_origin_state os;
        if (rc == 0)
            rc = node_origin_state_get(st, idx, &os, err);
        if (rc != 0)
            break;
        if (seq <= os.held) {
            stats->duplicates++;
            continue;
        }
        sqlite3_stmt *s = st->stmts[ST_LOG_INSERT];
        sqlite3_bind_int64(s, 1, NODE_LOG_KEY(idx, seq));
        sqlite3_bind_int64(s, 2, (int64_t)hlc);
        sqlite3_bind_blob(s, 3, bodies[i].p, (int)bodies[i].n, SQLITE_STATIC);
        sqlite3_bind_int(s, 4, unknown[i] ? 1 : 0);
        rc = node_stmt_exec(st, s, err, "storing a commit");
        if (rc != 0)
            break;
        if (sqlite3_changes(st->db) == 0) {
            stats->duplicates++; /* already waiting */
            continue;
        }
        stats->stored++;
        if (unknown[i])
            stats->unknown++;
        size_t k = 0;
        while (k < ntouched && touched[k] != idx)
            k++;
        if (k == ntouched)
            touched[ntouched++] = idx;
    }
    for (size_t k = 0; k < ntouched && rc == 0; k++) {
        rc = advance_held(st, touched[k], err);
        node_origin_state os;
        uint64_t waiting = 0;
        if (rc == 0)
            rc = node_origin_state_get(st, touched[k], &os, err);
        if (rc == 0)
            rc = count_waiting(st, touched[k], os.held, &waiting, err);
        if (rc == 0 && waiting > st->opts.max_waiting) {
            rc = sn_err_set(err, SN_ETOOBIG,
                            "%llu commits of one origin wait for earlier ones (limit %llu)",
                            (unsigned long long)waiting,
                            (unsigned long long)st->opts.max_waiting);
            sn_err_hint(err, "import the earlier commits of that origin first");
        }
    }
    sn_free(touched);
    return node_txn_end(st, rc, err);
}

int node_store_import(node_store *st, const node_body *bodies, size_t n,
                      node_import_stats *stats, sn_err *err)
{
    node_import_stats local = {0};
    if (stats == NULL)
        stats = &local;
    *stats = (node_import_stats){.received = n};
    bool *unknown = sn_calloc(n == 0 ? 1 : n, sizeof *unknown);
    if (unknown == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory importing %zu commits", n);
    int rc = validate_bodies(st, bodies, n, unknown, err);
    for (size_t at = 0; at < n && rc == 0; at += st->opts.apply_batch) {
        size_t k = n - at < st->opts.apply_batch ? n - at : st->opts.apply_batch;
        rc = store_chunk(st, bodies + at, unknown + at, k, stats, err);
    }
    sn_free(unknown);
    if (rc == 0)
        rc = node_apply_pending(st, &stats->applied, err);
    node_counts counts;
    if (rc == 0 && node_store_counts(st, &counts, NULL) == 0)
        stats->waiting = (size_t)counts.waiting;
    return rc;
}

/* ---- export ---- */

int node_store_export(node_store *st, const crdt_vv *peer_held, node_emit_fn emit, void *ctx,
                      sn_err *err)
{
    sqlite3_stmt *s = st->stmts[ST_LOG_RANGE];
    int rc = 0;
    for (uint32_t idx = 1; idx <= st->norigins && rc == 0; idx++) {
        node_origin_state os;
        rc = node_origin_state_get(st, idx, &os, err);
        if (rc != 0)
            break;
        uint64_t from = peer_held != NULL ? crdt_vv_get(peer_held, node_origin_of(st, idx)) : 0;
        if (from >= os.held)
            continue;
        sqlite3_bind_int64(s, 1, NODE_LOG_KEY(idx, from + 1));
        sqlite3_bind_int64(s, 2, NODE_LOG_KEY(idx, os.held));
        int src;
        while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW)
            rc = emit(ctx, sqlite3_column_blob(s, 1), (size_t)sqlite3_column_bytes(s, 1), err);
        if (rc == 0 && src != SQLITE_DONE)
            rc = node_store_fail(st, src, err, "reading the commit log");
        node_stmt_done(s);
    }
    return rc;
}

/* ---- rematerialize ---- */

static int clear_rows(node_store *st, const node_row_filter *f, sn_err *err)
{
    char sql[256];
    int rc = 0;
    for (size_t i = 0; i < schema_table_count() && rc == 0; i++) {
        const schema_table *t = schema_table_at(i);
        if (f == NULL) {
            snprintf(sql, sizeof sql, "DELETE FROM \"%s\"", t->name);
            rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
            if (rc != SQLITE_OK)
                return node_store_fail(st, rc, err, "clearing table %s", t->name);
            continue;
        }
        snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE id = ?1", t->name);
        sqlite3_stmt *s;
        rc = node_stmt_cached(st, sql, &s);
        if (rc != SQLITE_OK)
            return node_store_fail(st, rc, err, "clearing rows of %s", t->name);
        rc = 0;
        for (size_t k = 0; k < f->n && rc == 0; k++) {
            if (f->rows[k].table != t->id)
                continue;
            sqlite3_bind_blob(s, 1, f->rows[k].id, 16, SQLITE_STATIC);
            rc = node_stmt_exec(st, s, err, "clearing a row");
        }
        node_stmt_release(st, s);
    }
    if (rc != 0)
        return rc;
    if (f == NULL) {
        rc = sqlite3_exec(st->db, "DELETE FROM cell; DELETE FROM conflict;", NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : node_store_fail(st, rc, err, "clearing cells");
    }
    sqlite3_stmt *a = NULL, *b = NULL;
    rc = node_stmt_cached(st, "DELETE FROM cell WHERE tbl = ?1 AND row = ?2", &a);
    if (rc == SQLITE_OK)
        rc = node_stmt_cached(st, "DELETE FROM conflict WHERE tbl = ?1 AND row = ?2", &b);
    if (rc != SQLITE_OK) {
        node_stmt_release(st, a);
        return node_store_fail(st, rc, err, "clearing cells");
    }
    rc = 0;
    for (size_t k = 0; k < f->n && rc == 0; k++) {
        sqlite3_bind_int(a, 1, f->rows[k].table);
        sqlite3_bind_blob(a, 2, f->rows[k].id, 16, SQLITE_STATIC);
        rc = node_stmt_exec(st, a, err, "clearing cells");
        if (rc == 0) {
            sqlite3_bind_int(b, 1, f->rows[k].table);
            sqlite3_bind_blob(b, 2, f->rows[k].id, 16, SQLITE_STATIC);
            rc = node_stmt_exec(st, b, err, "clearing conflicts");
        }
    }
    node_stmt_release(st, a);
    node_stmt_release(st, b);
    return rc;
}

int node_rematerialize_rows(node_store *st, const node_rowref *rows, size_t n, sn_err *err)
{
    node_row_filter filter = {0}, *f = NULL;
    if (rows != NULL && n > 0) {
        filter.rows = sn_mallocarray(n, sizeof *rows);
        if (filter.rows == NULL)
            return sn_err_set(err, SN_ENOMEM, "out of memory rematerializing %zu rows", n);
        memcpy(filter.rows, rows, n * sizeof *rows);
        qsort(filter.rows, n, sizeof *rows, rowref_cmp);
        filter.n = n;
        f = &filter;
    }
    int rc = clear_rows(st, f, err);
    for (uint32_t idx = 1; idx <= st->norigins && rc == 0; idx++) {
        node_origin_state os;
        rc = node_origin_state_get(st, idx, &os, err);
        for (uint64_t seq = 1; rc == 0 && seq <= os.applied; seq++) {
            uint8_t *body;
            schema_commit *c;
            rc = load_commit(st, idx, seq, &body, &c, err);
            if (rc != 0)
                break;
            rc = node_apply_commit(st, c, idx, f, false, err);
            schema_commit_free(c);
            sn_free(body);
        }
    }
    sn_free(filter.rows);
    return rc;
}

int node_store_rematerialize(node_store *st, const node_rowref *rows, size_t n, sn_err *err)
{
    /* One transaction: a reader never sees the rows half rebuilt. */
    int rc = node_txn_begin(st, err);
    if (rc == 0)
        rc = node_rematerialize_rows(st, rows, n, err);
    return node_txn_end(st, rc, err);
}

int node_rows_touched(node_store *st, uint32_t idx, uint64_t from, uint64_t to,
                      node_rowref **rows, size_t *n, sn_err *err)
{
    *rows = NULL;
    *n = 0;
    size_t cap = 0;
    int rc = 0;
    for (uint64_t seq = from; seq <= to && rc == 0; seq++) {
        uint8_t *body;
        schema_commit *c;
        rc = load_commit(st, idx, seq, &body, &c, err);
        if (rc != 0)
            break;
        for (size_t i = 0; rc == 0 && i < c->nchanges; i++) {
            if (*n == cap) {
                size_t ncap = cap < 16 ? 16 : cap * 2;
                node_rowref *a = sn_realloc(*rows, ncap * sizeof *a);
                if (a == NULL) {
                    rc = sn_err_set(err, SN_ENOMEM, "out of memory listing rows to rebuild");
                    break;
                }
                *rows = a;
                cap = ncap;
            }
            (*rows)[*n].table = c->changes[i].table;
            memcpy((*rows)[*n].id, c->changes[i].row, SCHEMA_ID_LEN);
            (*n)++;
        }
        schema_commit_free(c);
        sn_free(body);
    }
    if (rc != 0) {
        sn_free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}
