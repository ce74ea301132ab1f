/* node/store_read.c - reads: cells, rows, conflicts, patient links, vectors, counts, the
 * state digest and the store's invariants. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "node/store_int.h"

/* How deep retractions of retractions are followed; a longer chain (or a cycle, which
 * honest nodes cannot make) reads as not retracted. */
#define RETRACTION_DEPTH_MAX 64

/* ---- vectors and counts ---- */

static int vector(node_store *st, bool applied, crdt_vv *out, sn_err *err)
{
    crdt_vv_clear(out);
    bool owned = node_read_begin(st);
    int rc = 0;
    for (uint32_t idx = 1; idx <= st->norigins && rc == 0; idx++) {
        node_origin_state os;
        rc = node_origin_state_get(st, idx, &os, err);
        uint64_t v = applied ? os.applied : os.held;
        if (rc == 0 && v > 0)
            rc = crdt_vv_raise(out, node_origin_of(st, idx), v, err);
    }
    node_read_end(st, owned);
    return rc;
}

int node_store_held(node_store *st, crdt_vv *out, sn_err *err)
{
    return vector(st, false, out, err);
}

int node_store_applied(node_store *st, crdt_vv *out, sn_err *err)
{
    return vector(st, true, out, err);
}

static int count_sql(node_store *st, const char *sql, uint64_t *out, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, sql, &s);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    node_stmt_release(st, s);
    if (rc != SQLITE_ROW)
        return node_store_fail(st, rc, err, "counting");
    return 0;
}

/* Every figure from the origin table, indexes and small tables: nothing here scans the
 * log, so the operator's report stays cheap on a hub holding millions of commits. Held
 * commits are the seqs 1..held of each origin; waiting ones lie past held in its key
 * range. */
int node_store_counts(node_store *st, node_counts *out, sn_err *err)
{
    *out = (node_counts){.origins = st->norigins};
    uint64_t held = 0;
    int rc = count_sql(st, "SELECT coalesce(sum(held), 0) FROM origin", &held, err);
    if (rc == 0)
        rc = count_sql(st, "SELECT coalesce(sum((SELECT count(*) FROM commit_log"
                           " WHERE key > (o.idx << 40) + o.held AND key < (o.idx + 1) << 40)),"
                           " 0) FROM origin o", &out->waiting, err);
    out->commits = held + out->waiting;
    uint64_t in_units = 0; /* commits of verified units kept until their gap fills */
    if (rc == 0)
        rc = count_sql(st, "SELECT coalesce(sum(last - first + 1), 0) FROM unit_wait",
                       &in_units, err);
    out->waiting += in_units;
    if (rc == 0)
        rc = count_sql(st, "SELECT count(*) FROM commit_log WHERE unknown = 1", &out->unknown,
                       err);
    if (rc == 0)
        rc = count_sql(st, "SELECT coalesce(sum(held - min(held, coalesce(bound, held))), 0)"
                           " FROM origin", &out->quarantined, err);
    if (rc == 0)
        rc = count_sql(st, "SELECT count(*) FROM conflict", &out->conflicts, err);
    if (rc == 0)
        rc = count_sql(st, "SELECT count(*) FROM origin WHERE skewed = 1", &out->skewed, err);
    return rc;
}

/* ---- cells ---- */

/* Copy a value's borrowed bytes into `b` (the caller fixes pointers up after growth). */
typedef struct arena {
    uint8_t *p;
    size_t len;
    size_t cap;
} arena;

static int arena_reserve(arena *a, size_t n, sn_err *err)
{
    if (a->len + n <= a->cap)
        return 0;
    size_t cap = a->cap < 256 ? 256 : a->cap;
    while (cap < a->len + n)
        cap *= 2;
    uint8_t *p = sn_realloc(a->p, cap);
    if (p == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory reading a record");
    a->p = p;
    a->cap = cap;
    return 0;
}

/* Values whose bytes live in the arena record offsets first, pointers at the end. */
static int arena_value(arena *a, schema_value *v, sn_err *err)
{
    if (v->kind != SCHEMA_V_TEXT && v->kind != SCHEMA_V_BLOB)
        return 0;
    int rc = arena_reserve(a, v->u.s.n + 1, err);
    if (rc != 0)
        return rc;
    memcpy(a->p + a->len, v->u.s.p, v->u.s.n);
    a->p[a->len + v->u.s.n] = '\0';
    v->u.s.p = (const uint8_t *)(uintptr_t)a->len; /* offset until fix-up */
    a->len += v->u.s.n + 1;
    return 0;
}

static void arena_fix(const arena *a, schema_value *v)
{
    if (v->kind == SCHEMA_V_TEXT || v->kind == SCHEMA_V_BLOB)
        v->u.s.p = a->p + (uintptr_t)v->u.s.p;
}

static int sib_cmp(const void *a, const void *b)
{
    const node_sibling *x = a, *y = b;
    int c = crdt_origin_cmp(&x->dot.origin, &y->dot.origin);
    if (c != 0)
        return c;
    return x->dot.seq < y->dot.seq ? -1 : x->dot.seq > y->dot.seq;
}

int node_store_cell_get(node_store *st, uint16_t table, const uint8_t row[SCHEMA_ID_LEN],
                        uint16_t col, node_cell **out, sn_err *err)
{
    *out = NULL;
    const schema_table *t = schema_table_by_id(table);
    const schema_column *c = t != NULL ? schema_column_by_id(t, col) : NULL;
    if (c == NULL)
        return sn_err_set(err, SN_EINVAL, "unknown cell %u.%u", table, col);
    node_cell *cell = sn_calloc(1, sizeof *cell);
    if (cell == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory reading a cell");
    arena a = {0};
    int rc = 0;
    if (c->kind == SCHEMA_MV) {
        crdt_mv m;
        crdt_mv_init(&m);
        bool explicit_;
        rc = node_cell_load(st, t, c, row, &m, &explicit_, err);
        if (rc == 0 && m.n > 0) {
            cell->sibs = sn_calloc(m.n, sizeof *cell->sibs);
            if (cell->sibs == NULL)
                rc = sn_err_set(err, SN_ENOMEM, "out of memory reading a cell");
        }
        for (size_t i = 0; i < m.n && rc == 0; i++) {
            node_sibling *s = &cell->sibs[cell->nsibs++];
            s->dot = m.sibs[i].dot;
            s->hlc = m.sibs[i].hlc;
            rc = schema_value_decode(m.sibs[i].value, m.sibs[i].value_len, &s->value, err);
            if (rc == 0)
                rc = arena_value(&a, &s->value, err);
        }
        const crdt_sibling *win = rc == 0 ? crdt_mv_winner(&m, c->display) : NULL;
        if (win != NULL) {
            rc = schema_value_decode(win->value, win->value_len, &cell->winner, err);
            if (rc == 0)
                rc = arena_value(&a, &cell->winner, err);
        }
        if (rc == 0) {
            cell->known = m.ctx.n > 0;
            cell->conflict = c->policy == SCHEMA_POLICY_REVIEW && crdt_mv_values_differ(&m);
            rc = crdt_vv_copy(&cell->ctx, &m.ctx, err);
        }
        crdt_mv_free(&m);
    } else {
        node_row *r = NULL;
        rc = node_store_row_get(st, table, row, &r, err);
        if (rc == SN_ENOTFOUND) {
            sn_err_clear(err);
            rc = 0;
        } else if (rc == 0) {
            cell->known = r->inserted;
            cell->winner = r->values[schema_column_index(t, col)];
            rc = arena_value(&a, &cell->winner, err);
        }
        node_row_free(r);
    }
    if (rc != 0) {
        sn_free(a.p);
        node_cell_free(cell);
        return rc;
    }
    cell->mem = a.p;
    arena_fix(&a, &cell->winner);
    for (size_t i = 0; i < cell->nsibs; i++)
        arena_fix(&a, &cell->sibs[i].value);
    if (cell->nsibs > 1)
        qsort(cell->sibs, cell->nsibs, sizeof *cell->sibs, sib_cmp);
    *out = cell;
    return 0;
}

void node_cell_free(node_cell *c)
{
    if (c == NULL)
        return;
    sn_free(c->sibs);
    crdt_vv_free(&c->ctx);
    sn_free(c->mem);
    sn_free(c);
}

/* ---- rows ---- */

static int is_retracted(node_store *st, const uint8_t id[16], int depth, bool *out, sn_err *err);

static int retraction_stmt(node_store *st, sqlite3_stmt **s, sn_err *err)
{
    int rc = node_stmt_cached(st, "SELECT id FROM retraction WHERE target_id = ?1 AND"
                              " _origin IS NOT NULL ORDER BY id", s);
    return rc == SQLITE_OK ? 0 : node_store_fail(st, rc, err, "reading retractions");
}

static int is_retracted(node_store *st, const uint8_t id[16], int depth, bool *out, sn_err *err)
{
    *out = false;
    if (depth >= RETRACTION_DEPTH_MAX)
        return 0;
    sqlite3_stmt *s;
    int rc = retraction_stmt(st, &s, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_blob(s, 1, id, 16, SQLITE_STATIC);
    /* Collect first: recursion prepares its own statements. */
    uint8_t (*ids)[16] = NULL;
    size_t n = 0, cap = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap == 0 ? 4 : cap * 2;
            void *p = sn_realloc(ids, cap * 16);
            if (p == NULL) {
                rc = SQLITE_NOMEM;
                break;
            }
            ids = p;
        }
        memcpy(ids[n++], sqlite3_column_blob(s, 0), 16);
    }
    node_stmt_release(st, s);
    if (rc != SQLITE_DONE) {
        sn_free(ids);
        if (rc == SQLITE_NOMEM)
            return sn_err_set(err, SN_ENOMEM, "out of memory reading retractions");
        return node_store_fail(st, rc, err, "reading retractions");
    }
    rc = 0;
    for (size_t i = 0; i < n && rc == 0 && !*out; i++) {
        bool undone;
        rc = is_retracted(st, ids[i], depth + 1, &undone, err);
        if (rc == 0 && !undone)
            *out = true;
    }
    sn_free(ids);
    return rc;
}

int node_store_row_get(node_store *st, uint16_t table, const uint8_t id[SCHEMA_ID_LEN],
                       node_row **out, sn_err *err)
{
    *out = NULL;
    const schema_table *t = schema_table_by_id(table);
    if (t == NULL)
        return sn_err_set(err, SN_EINVAL, "unknown table id %u", table);
    node_table_stmts *ts;
    int rc = node_table_stmts_get(st, t, &ts, err);
    if (rc != 0)
        return rc;
    node_row *r = sn_calloc(1, sizeof *r);
    schema_value *values = sn_calloc(t->ncols, sizeof *values);
    bool *conflict = sn_calloc(t->ncols, sizeof *conflict);
    if (r == NULL || values == NULL || conflict == NULL) {
        sn_free(r);
        sn_free(values);
        sn_free(conflict);
        return sn_err_set(err, SN_ENOMEM, "out of memory reading a %s", t->name);
    }
    r->table = t;
    r->values = values;
    r->conflict = conflict;
    memcpy(r->id, id, 16);
    arena a = {0};
    ssize_t author_off = -1, entered_off = -1;
    sqlite3_stmt *s = ts->select;
    sqlite3_bind_blob(s, 1, id, 16, SQLITE_STATIC);
    int src = sqlite3_step(s);
    if (src == SQLITE_DONE) {
        char hex[33];
        schema_id_format(hex, id);
        rc = sn_err_set(err, SN_ENOTFOUND, "no %s with id %s is held on this node", t->name, hex);
    } else if (src != SQLITE_ROW) {
        rc = node_store_fail(st, src, err, "reading a %s", t->name);
    } else {
        r->inserted = sqlite3_column_type(s, 0) != SQLITE_NULL;
        if (r->inserted) {
            const crdt_origin *o = node_origin_of(st, (uint32_t)sqlite3_column_int64(s, 0));
            if (o != NULL)
                r->dot.origin = *o;
            r->dot.seq = (uint64_t)sqlite3_column_int64(s, 1);
            r->hlc = (crdt_hlc)sqlite3_column_int64(s, 2);
            schema_value au, en;
            node_column_value(s, 3, SCHEMA_V_TEXT, &au);
            node_column_value(s, 4, SCHEMA_V_TEXT, &en);
            if (au.kind == SCHEMA_V_TEXT && (rc = arena_value(&a, &au, err)) == 0)
                author_off = (ssize_t)(uintptr_t)au.u.s.p;
            if (rc == 0 && en.kind == SCHEMA_V_TEXT && (rc = arena_value(&a, &en, err)) == 0)
                entered_off = (ssize_t)(uintptr_t)en.u.s.p;
        }
        for (size_t i = 0; i < t->ncols && rc == 0; i++) {
            node_column_value(s, 5 + (int)i, schema_type_vkind(t->cols[i].type), &values[i]);
            rc = arena_value(&a, &values[i], err);
        }
    }
    node_stmt_done(s);
    /* Conflict flags of review columns. */
    sqlite3_stmt *q = NULL;
    if (rc == 0) {
        int prc = node_stmt_cached(st, "SELECT col FROM conflict WHERE tbl = ?1 AND row = ?2", &q);
        if (prc != SQLITE_OK)
            rc = node_store_fail(st, prc, err, "reading conflicts");
    }
    if (rc == 0) {
        sqlite3_bind_int(q, 1, t->id);
        sqlite3_bind_blob(q, 2, id, 16, SQLITE_STATIC);
        int qrc;
        while ((qrc = sqlite3_step(q)) == SQLITE_ROW) {
            int ci = schema_column_index(t, (uint16_t)sqlite3_column_int(q, 0));
            if (ci >= 0)
                conflict[ci] = true;
        }
        if (qrc != SQLITE_DONE)
            rc = node_store_fail(st, qrc, err, "reading conflicts");
    }
    node_stmt_release(st, q);
    if (rc == 0)
        rc = is_retracted(st, id, 0, &r->retracted, err);
    if (rc != 0) {
        sn_free(a.p);
        r->mem = NULL;
        node_row_free(r);
        return rc;
    }
    r->mem = a.p;
    for (size_t i = 0; i < t->ncols; i++)
        arena_fix(&a, &values[i]);
    r->author = author_off >= 0 ? (char *)a.p + author_off : NULL;
    r->entered_by = entered_off >= 0 ? (char *)a.p + entered_off : NULL;
    *out = r;
    return 0;
}

void node_row_free(node_row *r)
{
    if (r == NULL)
        return;
    sn_free(r->values);
    sn_free(r->conflict);
    sn_free(r->mem);
    sn_free(r);
}

int node_store_rows_each(node_store *st, uint16_t table, uint16_t filter_col,
                         const schema_value *filter, node_row_fn fn, void *ctx, sn_err *err)
{
    const schema_table *t = schema_table_by_id(table);
    if (t == NULL)
        return sn_err_set(err, SN_EINVAL, "unknown table id %u", table);
    const schema_column *fc = NULL;
    if (filter_col != 0 && (fc = schema_column_by_id(t, filter_col)) == NULL)
        return sn_err_set(err, SN_EINVAL, "table %s has no column with id %u", t->name,
                          filter_col);
    char sql[256];
    if (fc != NULL)
        snprintf(sql, sizeof sql, "SELECT id FROM \"%s\" WHERE \"%s\" = ?1 ORDER BY id", t->name,
                 fc->name);
    else
        snprintf(sql, sizeof sql, "SELECT id FROM \"%s\" ORDER BY id", t->name);
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, sql, &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "listing %s", t->name);
    if (fc != NULL)
        node_bind_value(s, 1, filter);
    /* Ids first, rows after: fn may read the store. */
    uint8_t (*ids)[16] = NULL;
    size_t n = 0, cap = 0;
    rc = 0;
    int src;
    while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap == 0 ? 64 : cap * 2;
            void *p = sn_realloc(ids, cap * 16);
            if (p == NULL) {
                rc = sn_err_set(err, SN_ENOMEM, "out of memory listing %s", t->name);
                break;
            }
            ids = p;
        }
        memcpy(ids[n++], sqlite3_column_blob(s, 0), 16);
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = node_store_fail(st, src, err, "listing %s", t->name);
    node_stmt_release(st, s);
    for (size_t i = 0; i < n && rc == 0; i++) {
        node_row *r;
        rc = node_store_row_get(st, table, ids[i], &r, err);
        if (rc == 0)
            rc = fn(ctx, r, err);
        node_row_free(r);
    }
    sn_free(ids);
    return rc;
}

int node_store_row_table(node_store *st, const uint8_t id[SCHEMA_ID_LEN], uint16_t *table,
                         sn_err *err)
{
    for (size_t i = 0; i < schema_table_count(); i++) {
        const schema_table *t = schema_table_at(i);
        node_table_stmts *ts;
        int rc = node_table_stmts_get(st, t, &ts, err);
        if (rc != 0)
            return rc;
        sqlite3_bind_blob(ts->select, 1, id, 16, SQLITE_STATIC);
        rc = sqlite3_step(ts->select);
        node_stmt_done(ts->select);
        if (rc == SQLITE_ROW) {
            *table = t->id;
            return 0;
        }
        if (rc != SQLITE_DONE)
            return node_store_fail(st, rc, err, "looking up a record");
    }
    char hex[33];
    schema_id_format(hex, id);
    return sn_err_set(err, SN_ENOTFOUND, "no record with id %s is held on this node", hex);
}

int node_store_conflicts_each(node_store *st, node_conflict_fn fn, void *ctx, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT tbl, row, col FROM conflict ORDER BY tbl, row, col", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "listing conflicts");
    rc = 0;
    int src;
    while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW) {
        uint8_t row[16];
        memcpy(row, sqlite3_column_blob(s, 1), 16);
        rc = fn(ctx, (uint16_t)sqlite3_column_int(s, 0), row, (uint16_t)sqlite3_column_int(s, 2),
                err);
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = node_store_fail(st, src, err, "listing conflicts");
    node_stmt_release(st, s);
    return rc;
}

/* ---- patient links ---- */

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, 16); }

int node_store_patient_component(node_store *st, const uint8_t patient[SCHEMA_ID_LEN],
                                 uint8_t (**ids)[SCHEMA_ID_LEN], size_t *count, sn_err *err)
{
    *ids = NULL;
    *count = 0;
    /* Breadth-first over live links; the component's smallest id names the person. */
    uint8_t (*seen)[16] = sn_malloc(16);
    if (seen == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory following patient links");
    size_t n = 1, cap = 1;
    memcpy(seen[0], patient, 16);
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT id, patient_id, other_id FROM patient_link"
                              " WHERE (patient_id = ?1 OR other_id = ?1) AND _origin IS NOT NULL"
                              " ORDER BY id", &s);
    if (rc != SQLITE_OK) {
        sn_free(seen);
        return node_store_fail(st, rc, err, "reading patient links");
    }
    rc = 0;
    for (size_t at = 0; at < n && rc == 0; at++) {
        uint8_t cur[16];
        memcpy(cur, seen[at], 16);
        sqlite3_bind_blob(s, 1, cur, 16, SQLITE_STATIC);
        /* Gather this node's neighbours before recursing into retraction checks. */
        uint8_t (*nb)[32] = NULL;
        size_t nn = 0;
        int src;
        while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW) {
            if (sqlite3_column_bytes(s, 1) != 16 || sqlite3_column_bytes(s, 2) != 16)
                continue;
            void *p = sn_realloc(nb, (nn + 1) * 32);
            if (p == NULL) {
                rc = sn_err_set(err, SN_ENOMEM, "out of memory following patient links");
                break;
            }
            nb = p;
            const uint8_t *a = sqlite3_column_blob(s, 1), *b = sqlite3_column_blob(s, 2);
            memcpy(nb[nn], memcmp(a, cur, 16) == 0 ? b : a, 16);
            memcpy(nb[nn] + 16, sqlite3_column_blob(s, 0), 16);
            nn++;
        }
        if (rc == 0 && src != SQLITE_DONE)
            rc = node_store_fail(st, src, err, "reading patient links");
        sqlite3_reset(s);
        for (size_t k = 0; k < nn && rc == 0; k++) {
            bool retracted;
            rc = is_retracted(st, nb[k] + 16, 0, &retracted, err);
            if (rc != 0 || retracted)
                continue;
            bool have = false;
            for (size_t j = 0; j < n && !have; j++)
                have = memcmp(seen[j], nb[k], 16) == 0;
            if (have)
                continue;
            if (n == cap) {
                cap *= 2;
                void *p = sn_realloc(seen, cap * 16);
                if (p == NULL) {
                    rc = sn_err_set(err, SN_ENOMEM, "out of memory following patient links");
                    break;
                }
                seen = p;
            }
            memcpy(seen[n++], nb[k], 16);
        }
        sn_free(nb);
    }
    node_stmt_release(st, s);
    if (rc != 0) {
        sn_free(seen);
        return rc;
    }
    qsort(seen, n, 16, id_cmp);
    *ids = seen;
    *count = n;
    return 0;
}

int node_store_patient_canonical(node_store *st, const uint8_t patient[SCHEMA_ID_LEN],
                                 uint8_t out[SCHEMA_ID_LEN], sn_err *err)
{
    uint8_t (*ids)[SCHEMA_ID_LEN];
    size_t n;
    int rc = node_store_patient_component(st, patient, &ids, &n, err);
    if (rc == 0)
        memcpy(out, ids[0], SCHEMA_ID_LEN);
    sn_free(ids);
    return rc;
}
