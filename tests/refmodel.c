/* tests/refmodel.c - the reference model of DESIGN.md section 3 (see refmodel.h).
 *
 * Written from the design text, not from crdt/: no crdt_mv_* call and no crdt_vv_* call
 * is made here, so a shared misreading cannot make the engine and its oracle agree. The
 * model answers from the whole set of commits at once:
 *
 *   1. bodies are decoded and deduplicated by (origin, seq);
 *   2. every change becomes either a write to an mv cell (insert values with an empty
 *      ctx, sets with their ctx) or a fixed value;
 *   3. per mv cell, a write survives as a sibling unless another write's ctx ⊔ {dot}
 *      covers its dot; the winner and the conflict follow from the survivors;
 *   4. retraction status and patient link components are computed over the rows.
 *
 * Choices the design leaves to us, for input honest nodes never produce:
 *   - two different bodies for one (origin, seq): the body whose bytes sort first wins;
 *   - two inserts of one row id (in one table): the row's insert is the one with the
 *     smallest dot (replica bytes, epoch, seq); fixed columns take that insert's values
 *     only. Every insert's mv values still count as writes (each has its own dot);
 *   - retraction chains deeper than REFMODEL_RETRACT_DEPTH are cut (not retracted). */
#include "tests/refmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "schema/codec.h"

typedef struct rm_commit {
    uint8_t *body;
    size_t n;
    crdt_origin origin;
    uint64_t seq;
    schema_commit *c;
} rm_commit;

typedef struct rm_write {
    uint16_t table;
    uint8_t row[SCHEMA_ID_LEN];
    uint16_t col;
    const schema_table *t;
    const schema_column *c;
    crdt_dot dot;
    crdt_hlc hlc;
    const schema_value *value;
    const crdt_vv *ctx; /* NULL = empty */
    bool from_insert;
    bool fixed;
} rm_write;

typedef struct rm_retraction {
    uint8_t target[SCHEMA_ID_LEN];
    uint8_t id[SCHEMA_ID_LEN];
    int memo; /* -1 unknown, 0 not retracted, 1 retracted */
} rm_retraction;

typedef struct rm_canon {
    uint8_t id[SCHEMA_ID_LEN];
    uint8_t canon[SCHEMA_ID_LEN];
} rm_canon;

struct refmodel {
    rm_commit *commits;
    size_t ncommits;
    refmodel_cell *cells;
    size_t ncells;
    refmodel_row *rows;
    size_t nrows;
    void **blocks; /* canonical byte strings and sibling arrays, freed with the model */
    size_t nblocks, capblocks;
    rm_retraction *retr;
    size_t nretr;
    rm_canon *pc;
    size_t npc;
};

/* --- Small helpers ------------------------------------------------------------------ */

static int origin_cmp(const crdt_origin *a, const crdt_origin *b)
{
    int c = memcmp(a->replica, b->replica, CRDT_REPLICA_LEN);
    if (c != 0)
        return c;
    return a->epoch < b->epoch ? -1 : a->epoch > b->epoch;
}

static int dot_cmp(const crdt_dot *a, const crdt_dot *b)
{
    int c = origin_cmp(&a->origin, &b->origin);
    if (c != 0)
        return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* vector[origin], 0 when absent; a linear scan that does not trust the vector's order. */
static uint64_t vv_at(const crdt_vv *vv, const crdt_origin *o)
{
    if (vv == NULL)
        return 0;
    uint64_t best = 0;
    for (size_t i = 0; i < vv->n; i++)
        if (origin_cmp(&vv->e[i].origin, o) == 0 && vv->e[i].seq > best)
            best = vv->e[i].seq;
    return best;
}

/* Does ctx_w ⊔ {dot_w} cover d? */
static bool write_covers(const rm_write *w, const crdt_dot *d)
{
    if (origin_cmp(&w->dot.origin, &d->origin) == 0 && w->dot.seq >= d->seq)
        return true;
    return vv_at(w->ctx, &d->origin) >= d->seq;
}

static int keep_block(refmodel *m, void *p)
{
    if (m->nblocks == m->capblocks) {
        size_t cap = m->capblocks ? 2 * m->capblocks : 64;
        void **nb = realloc(m->blocks, cap * sizeof *nb);
        if (nb == NULL)
            return -1;
        m->blocks = nb;
        m->capblocks = cap;
    }
    m->blocks[m->nblocks++] = p;
    return 0;
}

/* Canonical bytes of v, malloc'ed (at least one byte allocated). */
static int encode_value(const schema_value *v, uint8_t **out, size_t *len, sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, SCHEMA_COMMIT_MAX);
    int rc = schema_value_encode(v, &b, err);
    if (rc != 0) {
        sn_buf_free(&b);
        return rc;
    }
    uint8_t *p = malloc(b.len ? b.len : 1);
    if (p == NULL) {
        sn_buf_free(&b);
        return sn_err_set(err, SN_ENOMEM, "reference model: out of memory");
    }
    if (b.len)
        memcpy(p, b.data, b.len);
    *out = p;
    *len = b.len;
    sn_buf_free(&b);
    return 0;
}

static int model_encode(refmodel *m, const schema_value *v, const uint8_t **out, size_t *len,
                        sn_err *err)
{
    uint8_t *p = NULL;
    int rc = encode_value(v, &p, len, err);
    if (rc != 0)
        return rc;
    if (keep_block(m, p) != 0) {
        free(p);
        return sn_err_set(err, SN_ENOMEM, "reference model: out of memory");
    }
    *out = p;
    return 0;
}

bool refmodel_value_same(const schema_value *a, const schema_value *b)
{
    uint8_t *pa = NULL, *pb = NULL;
    size_t na = 0, nb = 0;
    bool same = false;
    if (encode_value(a, &pa, &na, NULL) == 0 && encode_value(b, &pb, &nb, NULL) == 0)
        same = na == nb && memcmp(pa, pb, na) == 0;
    free(pa);
    free(pb);
    return same;
}

const char *refmodel_value_str(const schema_value *v, char *buf, size_t size)
{
    if (v == NULL) {
        snprintf(buf, size, "(none)");
        return buf;
    }
    switch (v->kind) {
    case SCHEMA_V_NIL:
        snprintf(buf, size, "nil");
        break;
    case SCHEMA_V_INT:
        snprintf(buf, size, "%lld", (long long)v->u.i);
        break;
    case SCHEMA_V_REAL:
        snprintf(buf, size, "%g", v->u.r);
        break;
    case SCHEMA_V_TEXT:
        snprintf(buf, size, "'%.*s'", (int)(v->u.s.n > 64 ? 64 : v->u.s.n),
                 (const char *)v->u.s.p);
        break;
    case SCHEMA_V_BLOB:
        snprintf(buf, size, "blob[%zu]", v->u.s.n);
        break;
    case SCHEMA_V_ID: {
        char hex[2 * SCHEMA_ID_LEN + 1];
        for (size_t i = 0; i < SCHEMA_ID_LEN; i++)
            snprintf(hex + 2 * i, 3, "%02x", v->u.id[i]);
        snprintf(buf, size, "id:%s", hex);
        break;
    }
    default:
        snprintf(buf, size, "kind%d", (int)v->kind);
    }
    return buf;
}

const char *refmodel_dot_str(const crdt_dot *d, char *buf, size_t size)
{
    snprintf(buf, size, "(%02x%02x%02x%02x/%u, %llu)", d->origin.replica[0],
             d->origin.replica[1], d->origin.replica[2], d->origin.replica[3],
             (unsigned)d->origin.epoch, (unsigned long long)d->seq);
    return buf;
}

/* --- Step 1: decode and deduplicate ------------------------------------------------- */

typedef struct rm_in {
    const node_body *b;
    crdt_origin origin;
    uint64_t seq;
} rm_in;

static int in_cmp(const void *pa, const void *pb)
{
    const rm_in *a = pa, *b = pb;
    int c = origin_cmp(&a->origin, &b->origin);
    if (c != 0)
        return c;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    size_t n = a->b->n < b->b->n ? a->b->n : b->b->n;
    c = n ? memcmp(a->b->p, b->b->p, n) : 0;
    if (c != 0)
        return c;
    return a->b->n < b->b->n ? -1 : a->b->n > b->b->n;
}

static int load_commits(refmodel *m, const node_body *bodies, size_t n, sn_err *err)
{
    rm_in *in = calloc(n ? n : 1, sizeof *in);
    if (in == NULL)
        return sn_err_set(err, SN_ENOMEM, "reference model: out of memory");
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        crdt_hlc hlc;
        uint32_t sv;
        in[i].b = &bodies[i];
        rc = schema_commit_peek(bodies[i].p, bodies[i].n, &in[i].origin, &in[i].seq, &hlc, &sv,
                                err);
        if (rc != 0) {
            sn_err_prefix(err, "reference model: body %zu", i);
            goto out;
        }
    }
    qsort(in, n, sizeof *in, in_cmp);
    m->commits = calloc(n ? n : 1, sizeof *m->commits);
    if (m->commits == NULL) {
        rc = sn_err_set(err, SN_ENOMEM, "reference model: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && origin_cmp(&in[i].origin, &in[i - 1].origin) == 0 &&
            in[i].seq == in[i - 1].seq)
            continue; /* duplicate, or an equivocating twin that sorts later */
        rm_commit *c = &m->commits[m->ncommits];
        c->n = in[i].b->n;
        c->body = malloc(c->n ? c->n : 1);
        if (c->body == NULL) {
            rc = sn_err_set(err, SN_ENOMEM, "reference model: out of memory");
            goto out;
        }
        memcpy(c->body, in[i].b->p, c->n);
        m->ncommits++;
        c->origin = in[i].origin;
        c->seq = in[i].seq;
        rc = schema_commit_decode(c->body, c->n, &c->c, err);
        if (rc != 0) {
            sn_err_prefix(err, "reference model: decoding commit seq %llu",
                          (unsigned long long)c->seq);
            goto out;
        }
    }
out:
    free(in);
    return rc;
}

/* --- Step 2: writes ------------------------------------------------------------------ */

typedef struct rm_vec {
    rm_write *v;
    size_t n, cap;
} rm_vec;

static int vec_push(rm_vec *vec, const rm_write *w)
{
    if (vec->n == vec->cap) {
        size_t cap = vec->cap ? 2 * vec->cap : 256;
        rm_write *nv = realloc(vec->v, cap * sizeof *nv);
        if (nv == NULL)
            return -1;
        vec->v = nv;
        vec->cap = cap;
    }
    vec->v[vec->n++] = *w;
    return 0;
}

static int write_cmp(const void *pa, const void *pb)
{
    const rm_write *a = pa, *b = pb;
    if (a->table != b->table)
        return a->table < b->table ? -1 : 1;
    int c = memcmp(a->row, b->row, SCHEMA_ID_LEN);
    if (c != 0)
        return c;
    if (a->col != b->col)
        return a->col < b->col ? -1 : 1;
    return dot_cmp(&a->dot, &b->dot);
}

static int row_cmp(const void *pa, const void *pb)
{
    const refmodel_row *a = pa, *b = pb;
    if (a->table != b->table)
        return a->table < b->table ? -1 : 1;
    int c = memcmp(a->id, b->id, SCHEMA_ID_LEN);
    if (c != 0)
        return c;
    /* Inserted first, then by dot: the first entry of a group is the row's insert. */
    if (a->inserted != b->inserted)
        return a->inserted ? -1 : 1;
    return dot_cmp(&a->dot, &b->dot);
}

static int collect(refmodel *m, rm_vec *writes, refmodel_row **rows_out, size_t *nrows_out,
                   sn_err *err)
{
    size_t cap = 64, nrows = 0;
    refmodel_row *rows = malloc(cap * sizeof *rows);
    if (rows == NULL)
        return sn_err_set(err, SN_ENOMEM, "reference model: out of memory");
    for (size_t i = 0; i < m->ncommits; i++) {
        const schema_commit *sc = m->commits[i].c;
        crdt_dot dot = {.origin = m->commits[i].origin, .seq = m->commits[i].seq};
        for (size_t k = 0; k < sc->nchanges; k++) {
            const schema_change *ch = &sc->changes[k];
            const schema_table *t = schema_table_by_id(ch->table);
            if (t == NULL)
                continue; /* unknown table: kept by the node, not modelled */
            if (nrows == cap) {
                cap *= 2;
                refmodel_row *nr = realloc(rows, cap * sizeof *nr);
                if (nr == NULL) {
                    free(rows);
                    return sn_err_set(err, SN_ENOMEM, "reference model: out of memory");
                }
                rows = nr;
            }
            refmodel_row *r = &rows[nrows++];
            memset(r, 0, sizeof *r);
            r->table = ch->table;
            memcpy(r->id, ch->row, SCHEMA_ID_LEN);
            r->inserted = ch->op == SCHEMA_OP_INSERT;
            r->dot = dot;
            r->hlc = sc->hlc;
            rm_write w = {.table = ch->table, .t = t, .dot = dot, .hlc = sc->hlc};
            memcpy(w.row, ch->row, SCHEMA_ID_LEN);
            if (ch->op == SCHEMA_OP_INSERT) {
                for (size_t f = 0; f < ch->nfields; f++) {
                    const schema_column *c = schema_column_by_id(t, ch->fields[f].col);
                    if (c == NULL)
                        continue;
                    w.col = c->id;
                    w.c = c;
                    w.value = &ch->fields[f].value;
                    w.ctx = NULL;
                    w.from_insert = true;
                    w.fixed = c->kind != SCHEMA_MV;
                    if (vec_push(writes, &w) != 0)
                        goto nomem;
                }
            } else if (ch->op == SCHEMA_OP_SET) {
                const schema_column *c = schema_column_by_id(t, ch->col);
                if (c == NULL || c->kind != SCHEMA_MV)
                    continue;
                w.col = c->id;
                w.c = c;
                w.value = &ch->value;
                w.ctx = &ch->ctx;
                w.from_insert = false;
                w.fixed = false;
                if (vec_push(writes, &w) != 0)
                    goto nomem;
            }
        }
    }
    /* One entry per (table, id): the first of each group after sorting. */
    qsort(rows, nrows, sizeof *rows, row_cmp);
    size_t out = 0;
    for (size_t i = 0; i < nrows; i++) {
        if (out > 0 && rows[out - 1].table == rows[i].table &&
            memcmp(rows[out - 1].id, rows[i].id, SCHEMA_ID_LEN) == 0)
            continue;
        rows[out++] = rows[i];
    }
    *rows_out = rows;
    *nrows_out = out;
    return 0;
nomem:
    free(rows);
    return sn_err_set(err, SN_ENOMEM, "reference model: out of memory");
}

/* --- Step 3: cells ------------------------------------------------------------------- */

/* >0 when a wins the `latest` order over b. */
static int latest_cmp(const refmodel_sib *a, const refmodel_sib *b)
{
    if (a->hlc != b->hlc)
        return a->hlc > b->hlc ? 1 : -1;
    int c = origin_cmp(&a->dot.origin, &b->dot.origin);
    if (c != 0)
        return c;
    return a->dot.seq > b->dot.seq ? 1 : a->dot.seq < b->dot.seq ? -1 : 0;
}

static int ctx_raise(refmodel_cell *cell, size_t *cap, const crdt_origin *o, uint64_t seq)
{
    if (seq == 0)
        return 0;
    size_t i = 0;
    while (i < cell->nctx && origin_cmp(&cell->ctx[i].origin, o) < 0)
        i++;
    if (i < cell->nctx && origin_cmp(&cell->ctx[i].origin, o) == 0) {
        if (cell->ctx[i].seq < seq)
            cell->ctx[i].seq = seq;
        return 0;
    }
    if (cell->nctx == *cap) {
        size_t nc = *cap ? 2 * *cap : 4;
        crdt_vv_entry *ne = realloc(cell->ctx, nc * sizeof *ne);
        if (ne == NULL)
            return -1;
        cell->ctx = ne;
        *cap = nc;
    }
    memmove(&cell->ctx[i + 1], &cell->ctx[i], (cell->nctx - i) * sizeof *cell->ctx);
    cell->ctx[i].origin = *o;
    cell->ctx[i].seq = seq;
    cell->nctx++;
    return 0;
}

static int build_mv_cell(refmodel *m, refmodel_cell *cell, const rm_write *w, size_t k,
                         sn_err *err)
{
    cell->mv = true;
    cell->nwrites = k;
    cell->sibs = calloc(k, sizeof *cell->sibs);
    if (cell->sibs == NULL || keep_block(m, cell->sibs) != 0) {
        free(cell->sibs);
        cell->sibs = NULL;
        return sn_err_set(err, SN_ENOMEM, "reference model: out of memory");
    }
    /* The cell's context: the join of every write's ctx ⊔ {dot}. */
    size_t ctxcap = 0;
    for (size_t i = 0; i < k; i++) {
        bool ok = ctx_raise(cell, &ctxcap, &w[i].dot.origin, w[i].dot.seq) == 0;
        for (size_t e = 0; ok && w[i].ctx != NULL && e < w[i].ctx->n; e++)
            ok = ctx_raise(cell, &ctxcap, &w[i].ctx->e[e].origin, w[i].ctx->e[e].seq) == 0;
        if (!ok)
            goto nomem_ctx;
    }
    if (cell->ctx != NULL && keep_block(m, cell->ctx) != 0)
        goto nomem_ctx;
    for (size_t i = 0; i < k; i++) {
        bool covered = false;
        for (size_t j = 0; j < k && !covered; j++)
            if (j != i && write_covers(&w[j], &w[i].dot))
                covered = true;
        if (!w[i].from_insert) {
            cell->nsets++;
            bool concurrent = false;
            for (size_t j = 0; j < k && !concurrent; j++)
                if (j != i && !write_covers(&w[i], &w[j].dot) &&
                    !write_covers(&w[j], &w[i].dot))
                    concurrent = true;
            if (concurrent)
                cell->nsets_concurrent++;
        }
        if (covered)
            continue;
        refmodel_sib *s = &cell->sibs[cell->nsibs++];
        s->dot = w[i].dot;
        s->hlc = w[i].hlc;
        s->value = *w[i].value;
        s->from_insert = w[i].from_insert;
        int rc = model_encode(m, w[i].value, &s->canon, &s->canon_len, err);
        if (rc != 0)
            return rc;
    }
    /* Writes arrive sorted by dot, so the siblings are too. */
    if (cell->nsibs == 0) {
        cell->winner = schema_value_nil();
        return model_encode(m, &cell->winner, &cell->winner_canon, &cell->winner_canon_len,
                            err);
    }
    size_t best = 0;
    bool ranked = cell->c->display == CRDT_DISPLAY_RANKED;
    for (size_t i = 1; i < cell->nsibs; i++) {
        const refmodel_sib *a = &cell->sibs[i], *b = &cell->sibs[best];
        int c = 0;
        if (ranked) {
            int32_t ra = schema_column_rank(cell->c, &a->value);
            int32_t rb = schema_column_rank(cell->c, &b->value);
            c = ra > rb ? 1 : ra < rb ? -1 : 0;
        }
        if (c == 0)
            c = latest_cmp(a, b);
        if (c > 0)
            best = i;
    }
    cell->winner_index = best;
    cell->winner = cell->sibs[best].value;
    cell->winner_canon = cell->sibs[best].canon;
    cell->winner_canon_len = cell->sibs[best].canon_len;
    if (cell->c->policy == SCHEMA_POLICY_REVIEW)
        for (size_t i = 1; i < cell->nsibs && !cell->conflict; i++)
            if (cell->sibs[i].canon_len != cell->sibs[0].canon_len ||
                memcmp(cell->sibs[i].canon, cell->sibs[0].canon, cell->sibs[0].canon_len) != 0)
                cell->conflict = true;
    return 0;
nomem_ctx:
    free(cell->ctx);
    cell->ctx = NULL;
    cell->nctx = 0;
    return sn_err_set(err, SN_ENOMEM, "reference model: out of memory");
}

static bool same_cell(const rm_write *a, const rm_write *b)
{
    return a->table == b->table && a->col == b->col &&
           memcmp(a->row, b->row, SCHEMA_ID_LEN) == 0;
}

static int build_cells(refmodel *m, rm_vec *writes, sn_err *err)
{
    if (writes->n > 0)
        qsort(writes->v, writes->n, sizeof *writes->v, write_cmp);
    m->cells = calloc(writes->n ? writes->n : 1, sizeof *m->cells);
    if (m->cells == NULL)
        return sn_err_set(err, SN_ENOMEM, "reference model: out of memory");
    for (size_t i = 0; i < writes->n;) {
        size_t j = i + 1;
        while (j < writes->n && same_cell(&writes->v[i], &writes->v[j]))
            j++;
        const rm_write *w = &writes->v[i];
        if (w->fixed) {
            /* Fixed: only the row's chosen insert (the smallest dot) provides values. */
            const refmodel_row *r = refmodel_row_find(m, w->table, w->row);
            const rm_write *pick = NULL;
            for (size_t k = i; k < j && pick == NULL; k++)
                if (r != NULL && dot_cmp(&writes->v[k].dot, &r->dot) == 0)
                    pick = &writes->v[k];
            if (pick != NULL) {
                refmodel_cell *cell = &m->cells[m->ncells++];
                cell->table = pick->table;
                memcpy(cell->row, pick->row, SCHEMA_ID_LEN);
                cell->col = pick->col;
                cell->t = pick->t;
                cell->c = pick->c;
                cell->winner = *pick->value;
                cell->nwrites = 1;
                int rc = model_encode(m, pick->value, &cell->winner_canon,
                                      &cell->winner_canon_len, err);
                if (rc != 0)
                    return rc;
            }
        } else {
            refmodel_cell *cell = &m->cells[m->ncells++];
            cell->table = w->table;
            memcpy(cell->row, w->row, SCHEMA_ID_LEN);
            cell->col = w->col;
            cell->t = w->t;
            cell->c = w->c;
            int rc = build_mv_cell(m, cell, w, j - i, err);
            if (rc != 0)
                return rc;
        }
        i = j;
    }
    return 0;
}

/* --- Step 4: retractions and patient links ------------------------------------------ */

static const schema_column *ref_column(const schema_table *t, uint16_t ref_table, size_t skip)
{
    for (size_t i = 0; t != NULL && i < t->ncols; i++)
        if (t->cols[i].type == SCHEMA_T_REF && t->cols[i].ref_table == ref_table &&
            skip-- == 0)
            return &t->cols[i];
    return NULL;
}

static int retr_cmp(const void *pa, const void *pb)
{
    const rm_retraction *a = pa, *b = pb;
    int c = memcmp(a->target, b->target, SCHEMA_ID_LEN);
    return c != 0 ? c : memcmp(a->id, b->id, SCHEMA_ID_LEN);
}

static bool id_retracted(refmodel *m, const uint8_t id[SCHEMA_ID_LEN], int depth, bool *cut);

static bool entry_retracted(refmodel *m, size_t i, int depth, bool *cut)
{
    if (m->retr[i].memo >= 0)
        return m->retr[i].memo == 1;
    bool sub_cut = false;
    bool r = id_retracted(m, m->retr[i].id, depth, &sub_cut);
    if (!sub_cut)
        m->retr[i].memo = r ? 1 : 0; /* exact: no bound was hit below */
    else
        *cut = true;
    return r;
}

/* Some retraction targeting `id` is itself not retracted. */
static bool id_retracted(refmodel *m, const uint8_t id[SCHEMA_ID_LEN], int depth, bool *cut)
{
    if (depth >= REFMODEL_RETRACT_DEPTH) {
        *cut = true;
        return false;
    }
    size_t lo = 0, hi = m->nretr;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (memcmp(m->retr[mid].target, id, SCHEMA_ID_LEN) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < m->nretr && memcmp(m->retr[i].target, id, SCHEMA_ID_LEN) == 0; i++)
        if (!entry_retracted(m, i, depth + 1, cut))
            return true;
    return false;
}

static int build_retractions(refmodel *m, sn_err *err)
{
    const schema_table *rt = schema_table_by_name("retraction");
    const schema_column *tc = ref_column(rt, SCHEMA_REF_ANY, 0);
    if (rt == NULL || tc == NULL)
        return 0;
    m->retr = calloc(m->nrows ? m->nrows : 1, sizeof *m->retr);
    if (m->retr == NULL)
        return sn_err_set(err, SN_ENOMEM, "reference model: out of memory");
    for (size_t i = 0; i < m->nrows; i++) {
        const refmodel_row *r = &m->rows[i];
        if (r->table != rt->id || !r->inserted)
            continue;
        const refmodel_cell *c = refmodel_cell_find(m, rt->id, r->id, tc->id);
        if (c == NULL || c->winner.kind != SCHEMA_V_ID)
            continue;
        rm_retraction *e = &m->retr[m->nretr++];
        memcpy(e->target, c->winner.u.id, SCHEMA_ID_LEN);
        memcpy(e->id, r->id, SCHEMA_ID_LEN);
        e->memo = -1;
    }
    qsort(m->retr, m->nretr, sizeof *m->retr, retr_cmp);
    for (size_t i = 0; i < m->nrows; i++) {
        bool cut = false;
        m->rows[i].retracted = id_retracted(m, m->rows[i].id, 0, &cut);
    }
    return 0;
}

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, SCHEMA_ID_LEN); }

static size_t id_index(const rm_canon *v, size_t n, const uint8_t id[SCHEMA_ID_LEN])
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(v[mid].id, id, SCHEMA_ID_LEN);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return n;
}

static size_t uf_find(size_t *parent, size_t i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

static int build_links(refmodel *m, sn_err *err)
{
    const schema_table *pt = schema_table_by_name("patient");
    const schema_table *lt = schema_table_by_name("patient_link");
    if (pt == NULL)
        return 0;
    const schema_column *ca = ref_column(lt, pt->id, 0), *cb = ref_column(lt, pt->id, 1);
    size_t cap = 2 * m->nrows + 1, n = 0;
    m->pc = calloc(cap, sizeof *m->pc);
    if (m->pc == NULL)
        return sn_err_set(err, SN_ENOMEM, "reference model: out of memory");
    /* Nodes: every patient row and every endpoint of a live link. */
    for (size_t i = 0; i < m->nrows; i++) {
        const refmodel_row *r = &m->rows[i];
        if (r->table == pt->id) {
            memcpy(m->pc[n++].id, r->id, SCHEMA_ID_LEN);
        } else if (lt != NULL && ca != NULL && cb != NULL && r->table == lt->id &&
                   r->inserted && !r->retracted) {
            const refmodel_cell *a = refmodel_cell_find(m, lt->id, r->id, ca->id);
            const refmodel_cell *b = refmodel_cell_find(m, lt->id, r->id, cb->id);
            if (a != NULL && a->winner.kind == SCHEMA_V_ID)
                memcpy(m->pc[n++].id, a->winner.u.id, SCHEMA_ID_LEN);
            if (b != NULL && b->winner.kind == SCHEMA_V_ID)
                memcpy(m->pc[n++].id, b->winner.u.id, SCHEMA_ID_LEN);
        }
    }
    qsort(m->pc, n, sizeof *m->pc, id_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || memcmp(m->pc[u - 1].id, m->pc[i].id, SCHEMA_ID_LEN) != 0)
            m->pc[u++] = m->pc[i];
    m->npc = u;
    size_t *parent = malloc((u ? u : 1) * sizeof *parent);
    if (parent == NULL)
        return sn_err_set(err, SN_ENOMEM, "reference model: out of memory");
    for (size_t i = 0; i < u; i++)
        parent[i] = i;
    for (size_t i = 0; lt != NULL && ca != NULL && cb != NULL && i < m->nrows; i++) {
        const refmodel_row *r = &m->rows[i];
        if (r->table != lt->id || !r->inserted || r->retracted)
            continue;
        const refmodel_cell *a = refmodel_cell_find(m, lt->id, r->id, ca->id);
        const refmodel_cell *b = refmodel_cell_find(m, lt->id, r->id, cb->id);
        if (a == NULL || b == NULL || a->winner.kind != SCHEMA_V_ID ||
            b->winner.kind != SCHEMA_V_ID)
            continue;
        size_t ia = uf_find(parent, id_index(m->pc, u, a->winner.u.id));
        size_t ib = uf_find(parent, id_index(m->pc, u, b->winner.u.id));
        /* The root is always the smallest index, i.e. the smallest id (sorted array). */
        if (ia < ib)
            parent[ib] = ia;
        else if (ib < ia)
            parent[ia] = ib;
    }
    for (size_t i = 0; i < u; i++)
        memcpy(m->pc[i].canon, m->pc[uf_find(parent, i)].id, SCHEMA_ID_LEN);
    free(parent);
    return 0;
}

/* --- Public ------------------------------------------------------------------------- */

int refmodel_build(const node_body *bodies, size_t n, refmodel **out, sn_err *err)
{
    *out = NULL;
    refmodel *m = calloc(1, sizeof *m);
    if (m == NULL)
        return sn_err_set(err, SN_ENOMEM, "reference model: out of memory");
    rm_vec writes = {0};
    int rc = load_commits(m, bodies, n, err);
    if (rc == 0)
        rc = collect(m, &writes, &m->rows, &m->nrows, err);
    if (rc == 0)
        rc = build_cells(m, &writes, err);
    if (rc == 0)
        rc = build_retractions(m, err);
    if (rc == 0)
        rc = build_links(m, err);
    free(writes.v);
    if (rc != 0) {
        refmodel_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void refmodel_free(refmodel *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->ncommits; i++) {
        schema_commit_free(m->commits[i].c);
        free(m->commits[i].body);
    }
    free(m->commits);
    for (size_t i = 0; i < m->nblocks; i++)
        free(m->blocks[i]);
    free(m->blocks);
    free(m->cells);
    free(m->rows);
    free(m->retr);
    free(m->pc);
    free(m);
}

size_t refmodel_commit_count(const refmodel *m) { return m->ncommits; }
size_t refmodel_cell_count(const refmodel *m) { return m->ncells; }
const refmodel_cell *refmodel_cell_at(const refmodel *m, size_t i)
{
    return i < m->ncells ? &m->cells[i] : NULL;
}

const refmodel_cell *refmodel_cell_find(const refmodel *m, uint16_t table,
                                        const uint8_t row[SCHEMA_ID_LEN], uint16_t col)
{
    size_t lo = 0, hi = m->ncells;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const refmodel_cell *c = &m->cells[mid];
        int d = c->table != table ? (c->table < table ? -1 : 1) : 0;
        if (d == 0)
            d = memcmp(c->row, row, SCHEMA_ID_LEN);
        if (d == 0)
            d = c->col != col ? (c->col < col ? -1 : 1) : 0;
        if (d == 0)
            return c;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t refmodel_row_count(const refmodel *m) { return m->nrows; }
const refmodel_row *refmodel_row_at(const refmodel *m, size_t i)
{
    return i < m->nrows ? &m->rows[i] : NULL;
}

const refmodel_row *refmodel_row_find(const refmodel *m, uint16_t table,
                                      const uint8_t id[SCHEMA_ID_LEN])
{
    size_t lo = 0, hi = m->nrows;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const refmodel_row *r = &m->rows[mid];
        int d = r->table != table ? (r->table < table ? -1 : 1) : 0;
        if (d == 0)
            d = memcmp(r->id, id, SCHEMA_ID_LEN);
        if (d == 0)
            return r;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void refmodel_patient_canonical(const refmodel *m, const uint8_t patient[SCHEMA_ID_LEN],
                                uint8_t out[SCHEMA_ID_LEN])
{
    size_t i = id_index(m->pc, m->npc, patient);
    memcpy(out, i < m->npc ? m->pc[i].canon : patient, SCHEMA_ID_LEN);
}
