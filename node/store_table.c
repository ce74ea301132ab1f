/* node/store_table.c - materialized tables and mv cells.
 *
 * Each schema table is an SQL table of the same name: `id`, the inserting commit's
 * (_origin, _seq, _hlc, _author, _entered_by), then one column per schema column holding
 * the value (fixed) or the display winner (mv). A row whose insert has not arrived yet but
 * whose cells were written has NULL _origin (a bare row).
 *
 * An mv cell's full state (causal context and siblings) lives in `cell` — except in the
 * common case of a cell nobody has written since the insert: then no `cell` row exists and
 * the state is implied by the row: one sibling (insert dot, insert hlc, the materialized
 * value) with context {insert dot}. An insert that leaves an mv column out gets an explicit
 * empty cell so the implication never invents a write. Cell state blob, integers
 * big-endian, origins as this store's local indices:
 *
 *   OFFSET  SIZE  MEANING
 *   0       1     layout version (1)
 *   1       4     n = context entries, then n x { origin u32, seq u64 }
 *   ..      4     m = siblings, then m x { origin u32, seq u64, hlc u64, len u32, value }
 *
 * Values are their canonical msgpack bytes (schema_value_encode). */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "node/store_int.h"

#define CELL_LAYOUT 1

static int prepare(node_store *st, sqlite3_stmt **s, sn_buf *b, sn_err *err)
{
    int rc = sn_buf_append(b, "", 1, err);
    if (rc != 0)
        return rc;
    rc = sqlite3_prepare_v3(st->db, (const char *)b->data, -1, SQLITE_PREPARE_PERSISTENT, s,
                            NULL);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "preparing a statement on the record tables");
    return 0;
}

static int make_table_stmts(node_store *st, const schema_table *t, node_table_stmts *ts,
                            sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, 64 * 1024);
    int rc = sn_buf_appendf(&b, err, "INSERT INTO \"%s\"(id, _origin, _seq, _hlc, _author,"
                            " _entered_by", t->name);
    for (size_t c = 0; c < t->ncols && rc == 0; c++)
        rc = sn_buf_appendf(&b, err, ", \"%s\"", t->cols[c].name);
    if (rc == 0)
        rc = sn_buf_appendf(&b, err, ") VALUES (?1, ?2, ?3, ?4, ?5, ?6");
    for (size_t c = 0; c < t->ncols && rc == 0; c++)
        rc = sn_buf_appendf(&b, err, ", ?%zu", c + 7);
    if (rc == 0)
        rc = sn_buf_appendf(&b, err, ")");
    if (rc == 0)
        rc = prepare(st, &ts->insert, &b, err);

    sn_buf_reset(&b);
    if (rc == 0)
        rc = sn_buf_appendf(&b, err, "INSERT OR IGNORE INTO \"%s\"(id) VALUES (?1)", t->name);
    if (rc == 0)
        rc = prepare(st, &ts->insert_bare, &b, err);

    sn_buf_reset(&b);
    if (rc == 0)
        rc = sn_buf_appendf(&b, err, "SELECT _origin, _seq, _hlc, _author, _entered_by");
    for (size_t c = 0; c < t->ncols && rc == 0; c++)
        rc = sn_buf_appendf(&b, err, ", \"%s\"", t->cols[c].name);
    if (rc == 0)
        rc = sn_buf_appendf(&b, err, " FROM \"%s\" WHERE id = ?1", t->name);
    if (rc == 0)
        rc = prepare(st, &ts->select, &b, err);

    sn_buf_reset(&b);
    if (rc == 0)
        rc = sn_buf_appendf(&b, err, "UPDATE \"%s\" SET _origin = ?2, _seq = ?3, _hlc = ?4,"
                            " _author = ?5, _entered_by = ?6 WHERE id = ?1", t->name);
    if (rc == 0)
        rc = prepare(st, &ts->set_meta, &b, err);

    if (rc == 0) {
        ts->set_col = sn_calloc(t->ncols, sizeof *ts->set_col);
        if (ts->set_col == NULL)
            rc = sn_err_set(err, SN_ENOMEM, "out of memory preparing table '%s'", t->name);
    }
    for (size_t c = 0; c < t->ncols && rc == 0; c++) {
        sn_buf_reset(&b);
        rc = sn_buf_appendf(&b, err, "UPDATE \"%s\" SET \"%s\" = ?2 WHERE id = ?1", t->name,
                            t->cols[c].name);
        if (rc == 0)
            rc = prepare(st, &ts->set_col[c], &b, err);
    }
    sn_buf_free(&b);
    return rc;
}

void node_table_stmts_free(node_table_stmts *ts, size_t ncols)
{
    sqlite3_finalize(ts->insert);
    sqlite3_finalize(ts->insert_bare);
    sqlite3_finalize(ts->select);
    sqlite3_finalize(ts->set_meta);
    if (ts->set_col != NULL) {
        for (size_t c = 0; c < ncols; c++)
            sqlite3_finalize(ts->set_col[c]);
        sn_free(ts->set_col);
    }
    *ts = (node_table_stmts){0};
}

int node_table_stmts_get(node_store *st, const schema_table *t, node_table_stmts **out,
                         sn_err *err)
{
    size_t i = 0;
    while (i < schema_table_count() && schema_table_at(i) != t)
        i++;
    if (SN_NEVER(i == schema_table_count()))
        return sn_err_set(err, SN_EINVAL, "table '%s' is not in the schema", t->name);
    node_table_stmts *ts = &st->tables[i];
    if (ts->set_col == NULL) {
        int rc = make_table_stmts(st, t, ts, err);
        if (rc != 0) {
            node_table_stmts_free(ts, t->ncols);
            return rc;
        }
    }
    *out = ts;
    return 0;
}

/* Binding with SQLITE_STATIC allocates nothing and our indices are right by
 * construction, so binds cannot fail here. */
void node_bind_value(sqlite3_stmt *s, int i, const schema_value *v)
{
    switch (v->kind) {
    case SCHEMA_V_INT: sqlite3_bind_int64(s, i, v->u.i); break;
    case SCHEMA_V_REAL: sqlite3_bind_double(s, i, v->u.r); break;
    case SCHEMA_V_TEXT:
        sqlite3_bind_text(s, i, (const char *)v->u.s.p, (int)v->u.s.n, SQLITE_STATIC);
        break;
    case SCHEMA_V_BLOB: sqlite3_bind_blob(s, i, v->u.s.p, (int)v->u.s.n, SQLITE_STATIC); break;
    case SCHEMA_V_ID: sqlite3_bind_blob(s, i, v->u.id, SCHEMA_ID_LEN, SQLITE_STATIC); break;
    default: sqlite3_bind_null(s, i); break;
    }
}

void node_column_value(sqlite3_stmt *s, int i, schema_vkind kind, schema_value *out)
{
    *out = schema_value_nil();
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return;
    switch (kind) {
    case SCHEMA_V_INT: *out = schema_value_int(sqlite3_column_int64(s, i)); break;
    case SCHEMA_V_REAL: *out = schema_value_real(sqlite3_column_double(s, i)); break;
    case SCHEMA_V_ID:
        if (sqlite3_column_bytes(s, i) == SCHEMA_ID_LEN) {
            *out = schema_value_id(sqlite3_column_blob(s, i));
            break;
        }
        /* Not an id: keep whatever bytes are there, the digest will show them. */
        __attribute__((fallthrough));
    case SCHEMA_V_BLOB: {
        const uint8_t *p = sqlite3_column_blob(s, i);
        out->kind = SCHEMA_V_BLOB;
        out->u.s.n = (size_t)sqlite3_column_bytes(s, i);
        out->u.s.p = p != NULL ? p : (const uint8_t *)"";
        break;
    }
    default: {
        const uint8_t *p = sqlite3_column_text(s, i);
        out->kind = SCHEMA_V_TEXT;
        out->u.s.n = (size_t)sqlite3_column_bytes(s, i);
        out->u.s.p = p != NULL ? p : (const uint8_t *)"";
        break;
    }
    }
}

/* ---- cell state blob ---- */

static int state_encode(node_store *st, const crdt_mv *m, sn_buf *b, sn_err *err)
{
    int rc = sn_buf_append(b, (uint8_t[]){CELL_LAYOUT}, 1, err);
    if (rc == 0)
        rc = sn_buf_put_u32be(b, (uint32_t)m->ctx.n, err);
    for (size_t i = 0; i < m->ctx.n && rc == 0; i++) {
        /* A context may name an origin whose commits have not reached us yet (the writer
         * saw them through a third node): record the origin now. */
        uint32_t idx;
        rc = node_origin_intern(st, &m->ctx.e[i].origin, &idx, err);
        if (rc == 0)
            rc = sn_buf_put_u32be(b, idx, err);
        if (rc == 0)
            rc = sn_buf_put_u64be(b, m->ctx.e[i].seq, err);
    }
    if (rc == 0)
        rc = sn_buf_put_u32be(b, (uint32_t)m->n, err);
    for (size_t i = 0; i < m->n && rc == 0; i++) {
        const crdt_sibling *s = &m->sibs[i];
        uint32_t idx = node_origin_find(st, &s->dot.origin);
        if (SN_NEVER(idx == 0))
            return sn_err_set(err, SN_ECORRUPT, "cell sibling names an unknown origin");
        rc = sn_buf_put_u32be(b, idx, err);
        if (rc == 0)
            rc = sn_buf_put_u64be(b, s->dot.seq, err);
        if (rc == 0)
            rc = sn_buf_put_u64be(b, s->hlc, err);
        if (rc == 0)
            rc = sn_buf_put_u32be(b, (uint32_t)s->value_len, err);
        if (rc == 0)
            rc = sn_buf_append(b, s->value, s->value_len, err);
    }
    return rc;
}

typedef struct reader {
    const uint8_t *p;
    size_t n;
    bool bad;
} reader;

static const uint8_t *take(reader *r, size_t k)
{
    if (r->bad || r->n < k) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += k;
    r->n -= k;
    return p;
}

static uint32_t take_u32(reader *r)
{
    const uint8_t *p = take(r, 4);
    return p != NULL ? sn_load_u32be(p) : 0;
}

static uint64_t take_u64(reader *r)
{
    const uint8_t *p = take(r, 8);
    return p != NULL ? sn_load_u64be(p) : 0;
}

static int state_decode(node_store *st, const schema_column *c, const uint8_t *p, size_t n,
                        crdt_mv *m, sn_err *err)
{
    reader r = {p, n, false};
    const uint8_t *ver = take(&r, 1);
    if (ver == NULL || *ver != CELL_LAYOUT)
        goto corrupt;
    uint32_t nctx = take_u32(&r);
    for (uint32_t i = 0; i < nctx && !r.bad; i++) {
        const crdt_origin *o = node_origin_of(st, take_u32(&r));
        uint64_t seq = take_u64(&r);
        if (o == NULL || r.bad)
            goto corrupt;
        int rc = crdt_vv_raise(&m->ctx, o, seq, err);
        if (rc != 0)
            return rc;
    }
    uint32_t nsib = take_u32(&r);
    for (uint32_t i = 0; i < nsib && !r.bad; i++) {
        const crdt_origin *o = node_origin_of(st, take_u32(&r));
        uint64_t seq = take_u64(&r);
        crdt_hlc hlc = take_u64(&r);
        uint32_t len = take_u32(&r);
        const uint8_t *v = take(&r, len);
        if (o == NULL || v == NULL)
            goto corrupt;
        schema_value val;
        if (schema_value_decode(v, len, &val, NULL) != 0)
            goto corrupt;
        /* Re-adding through apply with the sibling's own dot as its context keeps the
         * cell's invariants and reuses the one place that owns sibling memory. */
        crdt_mv_write w = {.dot = {.origin = *o, .seq = seq}, .hlc = hlc,
                           .rank = schema_column_rank(c, &val), .value = v, .value_len = len};
        crdt_vv tmp = m->ctx;
        m->ctx = (crdt_vv){0};
        bool added;
        int rc = crdt_mv_apply(m, &w, &added, err);
        crdt_vv_free(&m->ctx);
        m->ctx = tmp;
        if (rc != 0)
            return rc;
        if (!added)
            goto corrupt;
    }
    if (r.bad || r.n != 0)
        goto corrupt;
    return 0;
corrupt:
    return sn_err_set(err, SN_ECORRUPT, "store '%s': the state of a '%s' cell is damaged",
                      st->dir, c->name);
}

/* ---- cells ---- */

int node_cell_load(node_store *st, const schema_table *t, const schema_column *c,
                   const uint8_t row[16], crdt_mv *m, bool *explicit_, sn_err *err)
{
    sqlite3_stmt *s = st->stmts[ST_CELL_GET];
    sqlite3_bind_int(s, 1, t->id);
    sqlite3_bind_blob(s, 2, row, 16, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, c->id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *explicit_ = true;
        rc = state_decode(st, c, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0),
                          m, err);
        node_stmt_done(s);
        return rc;
    }
    node_stmt_done(s);
    if (rc != SQLITE_DONE)
        return node_store_fail(st, rc, err, "reading cell %s.%s", t->name, c->name);
    *explicit_ = false;

    /* No cell row: the state is the insert's value, if the insert is held. */
    node_table_stmts *ts;
    rc = node_table_stmts_get(st, t, &ts, err);
    if (rc != 0)
        return rc;
    int ci = schema_column_index(t, c->id);
    sqlite3_bind_blob(ts->select, 1, row, 16, SQLITE_STATIC);
    rc = sqlite3_step(ts->select);
    if (rc == SQLITE_DONE || (rc == SQLITE_ROW && sqlite3_column_type(ts->select, 0) == SQLITE_NULL)) {
        node_stmt_done(ts->select);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        node_stmt_done(ts->select);
        return node_store_fail(st, rc, err, "reading row of %s", t->name);
    }
    const crdt_origin *o = node_origin_of(st, (uint32_t)sqlite3_column_int64(ts->select, 0));
    if (o == NULL) {
        node_stmt_done(ts->select);
        return sn_err_set(err, SN_ECORRUPT, "store '%s': a %s row names an unknown origin",
                          st->dir, t->name);
    }
    schema_value v;
    node_column_value(ts->select, 5 + ci, schema_type_vkind(c->type), &v);
    sn_buf vb;
    sn_buf_init(&vb, SCHEMA_COMMIT_MAX);
    rc = schema_value_encode(&v, &vb, err);
    if (rc == 0) {
        crdt_mv_write w = {
            .dot = {.origin = *o, .seq = (uint64_t)sqlite3_column_int64(ts->select, 1)},
            .hlc = (crdt_hlc)sqlite3_column_int64(ts->select, 2),
            .rank = schema_column_rank(c, &v),
            .value = vb.data,
            .value_len = vb.len,
        };
        bool added;
        rc = crdt_mv_apply(m, &w, &added, err);
    }
    node_stmt_done(ts->select);
    sn_buf_free(&vb);
    return rc;
}

int node_cell_store(node_store *st, const schema_table *t, const schema_column *c,
                    const uint8_t row[16], const crdt_mv *m, sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, (size_t)1 << 30);
    int rc = state_encode(st, m, &b, err);
    if (rc == 0) {
        sqlite3_stmt *s = st->stmts[ST_CELL_PUT];
        sqlite3_bind_int(s, 1, t->id);
        sqlite3_bind_blob(s, 2, row, 16, SQLITE_STATIC);
        sqlite3_bind_int(s, 3, c->id);
        sqlite3_bind_blob(s, 4, b.data, (int)b.len, SQLITE_STATIC);
        rc = node_stmt_exec(st, s, err, "writing a cell");
    }
    sn_buf_free(&b);
    if (rc != 0)
        return rc;

    /* The display value. */
    node_table_stmts *ts;
    rc = node_table_stmts_get(st, t, &ts, err);
    if (rc != 0)
        return rc;
    const crdt_sibling *win = crdt_mv_winner(m, c->display);
    schema_value v = schema_value_nil();
    if (win != NULL && schema_value_decode(win->value, win->value_len, &v, err) != 0)
        return SN_ECORRUPT;
    sqlite3_stmt *u = ts->set_col[schema_column_index(t, c->id)];
    sqlite3_bind_blob(u, 1, row, 16, SQLITE_STATIC);
    node_bind_value(u, 2, &v);
    rc = node_stmt_exec(st, u, err, "updating a display value");
    if (rc != 0 || c->policy != SCHEMA_POLICY_REVIEW)
        return rc;

    /* The conflict index. */
    sqlite3_stmt *q = st->stmts[crdt_mv_values_differ(m) ? ST_CONFLICT_ADD : ST_CONFLICT_DEL];
    sqlite3_bind_int(q, 1, t->id);
    sqlite3_bind_blob(q, 2, row, 16, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, c->id);
    return node_stmt_exec(st, q, err, "updating the conflict index");
}
