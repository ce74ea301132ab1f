/* tests/conv_compare.c - the convergence suite's comparison of stores with the reference
 * model, and the statistics the model yields about how much concurrency a seed produced. */
#include "tests/conv_compare.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "crdt/hlc.h"
#include "crdt/vv.h"
#include "node/store.h"
#include "schema/schema.h"
#include "tests/refmodel.h"

/* ---- comparison with the model ----------------------------------------------------- */

static const char *hexid(const uint8_t id[SCHEMA_ID_LEN], char out[2 * SCHEMA_ID_LEN + 1])
{
    schema_id_format(out, id);
    return out;
}


static bool canon_eq(const schema_value *v, const uint8_t *canon, size_t n)
{
    sn_buf b;
    sn_buf_init(&b, SCHEMA_COMMIT_MAX);
    bool eq = schema_value_encode(v, &b, NULL) == 0 && b.len == n &&
              (n == 0 || memcmp(b.data, canon, n) == 0);
    sn_buf_free(&b);
    return eq;
}

/* Append sibling number i as "dot=value@hlc", after ", " unless it is the first, at
 * out + *used; false once the text is cut short (or cannot be formatted). */
static bool describe_sibling(char *out, size_t size, size_t *used, size_t i, const crdt_dot *dot,
                             const schema_value *value, crdt_hlc hlc)
{
    char v[96], d[64];
    int k = snprintf(out + *used, size - *used, "%s%s=%s@%llx", i ? ", " : "",
                     refmodel_dot_str(dot, d, sizeof d), refmodel_value_str(value, v, sizeof v),
                     (unsigned long long)hlc);
    if (k < 0)
        return false;
    *used += (size_t)k;
    return *used < size;
}

static void describe_model(const refmodel_cell *mc, char *out, size_t size)
{
    size_t used = 0;
    for (size_t i = 0; i < mc->nsibs; i++)
        if (!describe_sibling(out, size, &used, i, &mc->sibs[i].dot, &mc->sibs[i].value,
                              mc->sibs[i].hlc))
            break;
    char v[96];
    if (mc->nsibs == 0)
        snprintf(out, size, "(fixed) %s", refmodel_value_str(&mc->winner, v, sizeof v));
}

static void describe_node(const node_cell *nc, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < nc->nsibs; i++)
        if (!describe_sibling(out, size, &used, i, &nc->sibs[i].dot, &nc->sibs[i].value,
                              nc->sibs[i].hlc))
            break;
}

static bool ctx_equal(const refmodel_cell *mc, const crdt_vv *ctx)
{
    if (mc->nctx != ctx->n)
        return false;
    for (size_t i = 0; i < mc->nctx; i++)
        if (crdt_vv_get(ctx, &mc->ctx[i].origin) != mc->ctx[i].seq)
            return false;
    return true;
}

static bool check_cell(conv_world *c, int wi, const refmodel_cell *mc)
{
    char hex[33], want[1024], got[1024], v1[96], v2[96];
    sn_err err = SN_ERR_INIT;
    node_cell *nc = NULL;
    if (node_store_cell_get(c->w[wi].st, mc->table, mc->row, mc->col, &nc, &err) != 0)
        return conv_fail(c, "%s: cell_get %s.%s row %s: %s", c->w[wi].name, mc->t->name,
                         mc->c->name, hexid(mc->row, hex), err.msg);
    bool ok = true;
    const char *what = NULL;
    if (!nc->known)
        what = "not known";
    else if (!canon_eq(&nc->winner, mc->winner_canon, mc->winner_canon_len))
        what = "winner differs";
    else if (mc->mv) {
        if (nc->conflict != mc->conflict)
            what = "conflict flag differs";
        else if (nc->nsibs != mc->nsibs)
            what = "sibling count differs";
        else if (!ctx_equal(mc, &nc->ctx))
            what = "context differs";
        for (size_t i = 0; what == NULL && i < mc->nsibs; i++) {
            const node_sibling *s = &nc->sibs[i];
            const refmodel_sib *m = &mc->sibs[i];
            if (!crdt_origin_equal(&s->dot.origin, &m->dot.origin) || s->dot.seq != m->dot.seq)
                what = "sibling dots differ";
            else if (s->hlc != m->hlc)
                what = "sibling hlc differs";
            else if (!canon_eq(&s->value, m->canon, m->canon_len))
                what = "sibling value differs";
        }
    }
    if (what != NULL) {
        describe_model(mc, want, sizeof want);
        describe_node(nc, got, sizeof got);
        ok = conv_fail(c,
                       "%s: cell %s.%s row %s: %s (%zu writes held)\n"
                       "  model: winner %s conflict %d siblings [%s]\n"
                       "  node:  known %d winner %s conflict %d siblings [%s]",
                       c->w[wi].name, mc->t->name, mc->c->name, hexid(mc->row, hex), what,
                       mc->nwrites, refmodel_value_str(&mc->winner, v1, sizeof v1), mc->conflict,
                       want, nc->known, refmodel_value_str(&nc->winner, v2, sizeof v2),
                       nc->conflict, got);
    }
    node_cell_free(nc);
    return ok;
}

typedef struct conflict_list {
    struct {
        uint16_t table, col;
        uint8_t row[SCHEMA_ID_LEN];
    } * v;
    size_t n, cap;
} conflict_list;

static int conflict_collect(void *ctx, uint16_t table, const uint8_t row[SCHEMA_ID_LEN],
                            uint16_t col, sn_err *err)
{
    (void)err;
    conflict_list *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        ck_assert_ptr_nonnull(l->v);
    }
    l->v[l->n].table = table;
    l->v[l->n].col = col;
    memcpy(l->v[l->n].row, row, SCHEMA_ID_LEN);
    l->n++;
    return 0;
}

static bool check_conflicts(conv_world *c, int wi, const refmodel *m, bool final)
{
    sn_err err = SN_ERR_INIT;
    conflict_list l = {0};
    if (node_store_conflicts_each(c->w[wi].st, conflict_collect, &l, &err) != 0) {
        free(l.v);
        return conv_fail(c, "%s: conflicts_each: %s", c->w[wi].name, err.msg);
    }
    size_t k = 0;
    bool ok = true;
    char hex[33];
    for (size_t i = 0; i < refmodel_cell_count(m) && ok; i++) {
        const refmodel_cell *mc = refmodel_cell_at(m, i);
        if (!mc->conflict)
            continue;
        if (k >= l.n || l.v[k].table != mc->table || l.v[k].col != mc->col ||
            memcmp(l.v[k].row, mc->row, SCHEMA_ID_LEN) != 0)
            ok = conv_fail(c,
                           "%s: open conflict #%zu should be %s.%s row %s (model has it; node "
                           "lists %zu conflicts)",
                           c->w[wi].name, k, mc->t->name, mc->c->name, hexid(mc->row, hex), l.n);
        k++;
    }
    if (ok && k != l.n) {
        const schema_table *t = schema_table_by_id(l.v[k].table);
        const schema_column *col = t ? schema_column_by_id(t, l.v[k].col) : NULL;
        ok = conv_fail(c, "%s: node lists %zu open conflicts, model %zu; first extra: %s.%s row %s",
                       c->w[wi].name, l.n, k, t ? t->name : "?", col ? col->name : "?",
                       hexid(l.v[k].row, hex));
    }
    node_counts counts;
    if (ok && node_store_counts(c->w[wi].st, &counts, &err) != 0)
        ok = conv_fail(c, "%s: counts: %s", c->w[wi].name, err.msg);
    if (ok && counts.conflicts != k)
        ok = conv_fail(c, "%s: counts.conflicts %llu, model %zu", c->w[wi].name,
                       (unsigned long long)counts.conflicts, k);
    if (ok && final && counts.waiting != c->w[wi].stuck)
        ok = conv_fail(c, "%s: %llu commits still waiting after the full exchange, want %llu "
                       "(behind commits lost with a restore)", c->w[wi].name,
                       (unsigned long long)counts.waiting, (unsigned long long)c->w[wi].stuck);
    free(l.v);
    return ok;
}

static bool check_rows(conv_world *c, int wi, const refmodel *m)
{
    sn_err err = SN_ERR_INIT;
    char hex[33], hex2[33], v1[96], v2[96];
    for (size_t i = 0; i < refmodel_row_count(m); i++) {
        const refmodel_row *mr = refmodel_row_at(m, i);
        const schema_table *t = schema_table_by_id(mr->table);
        node_row *nr = NULL;
        if (node_store_row_get(c->w[wi].st, mr->table, mr->id, &nr, &err) != 0)
            return conv_fail(c, "%s: row_get %s %s: %s", c->w[wi].name, t->name,
                             hexid(mr->id, hex), err.msg);
        bool ok = true;
        if (nr->inserted != mr->inserted)
            ok = conv_fail(c, "%s: %s %s: inserted %d, model %d", c->w[wi].name, t->name,
                           hexid(mr->id, hex), nr->inserted, mr->inserted);
        else if (nr->retracted != mr->retracted)
            ok = conv_fail(c, "%s: %s %s: retracted %d, model %d", c->w[wi].name, t->name,
                           hexid(mr->id, hex), nr->retracted, mr->retracted);
        else if (mr->inserted && (!crdt_origin_equal(&nr->dot.origin, &mr->dot.origin) ||
                                  nr->dot.seq != mr->dot.seq || nr->hlc != mr->hlc))
            ok = conv_fail(c, "%s: %s %s: insert dot or hlc differs", c->w[wi].name, t->name,
                           hexid(mr->id, hex));
        for (size_t k = 0; ok && k < t->ncols; k++) {
            const refmodel_cell *mc = refmodel_cell_find(m, t->id, mr->id, t->cols[k].id);
            schema_value nil = schema_value_nil();
            const schema_value *want = mc ? &mc->winner : &nil;
            if (!refmodel_value_same(&nr->values[k], want))
                ok = conv_fail(c, "%s: %s %s: displayed %s is %s, model %s", c->w[wi].name,
                               t->name, hexid(mr->id, hex), t->cols[k].name,
                               refmodel_value_str(&nr->values[k], v1, sizeof v1),
                               refmodel_value_str(want, v2, sizeof v2));
            else if (nr->conflict[k] != (mc != NULL && mc->conflict))
                ok = conv_fail(c, "%s: %s %s: row conflict flag of %s is %d, model %d",
                               c->w[wi].name, t->name, hexid(mr->id, hex), t->cols[k].name,
                               nr->conflict[k], mc != NULL && mc->conflict);
        }
        node_row_free(nr);
        if (!ok)
            return false;
        if (t == c->t_patient) {
            uint8_t want[SCHEMA_ID_LEN], got[SCHEMA_ID_LEN];
            refmodel_patient_canonical(m, mr->id, want);
            if (node_store_patient_canonical(c->w[wi].st, mr->id, got, &err) != 0)
                return conv_fail(c, "%s: patient_canonical %s: %s", c->w[wi].name,
                                 hexid(mr->id, hex), err.msg);
            if (memcmp(want, got, SCHEMA_ID_LEN) != 0)
                return conv_fail(c, "%s: patient %s: canonical id %s, model %s", c->w[wi].name,
                                 hexid(mr->id, hex), hexid(got, hex2), hexid(want, v1));
        }
    }
    return true;
}

static bool digest_of(conv_world *c, int wi, uint8_t out[16])
{
    sn_err err = SN_ERR_INIT;
    if (node_store_digest(c->w[wi].st, out, &err) != 0)
        return conv_fail(c, "%s: digest: %s", c->w[wi].name, err.msg);
    return true;
}

/* ---- statistics from the model ----------------------------------------------------- */

/* Does the graph of links (all of them, or only the live ones) hold a cycle? Union-find
 * over the endpoints: an edge whose ends are already joined closes one. */
static bool links_cycle(conv_world *c, const refmodel *m, bool live_only)
{
    const schema_column *ca = schema_column_by_name(c->t_link, "patient_id");
    const schema_column *cb = schema_column_by_name(c->t_link, "other_id");
    uint8_t ids[64][SCHEMA_ID_LEN];
    size_t parent[64], n = 0;
    struct {
        size_t a, b;
    } seen[256];
    size_t nseen = 0;
    for (size_t i = 0; i < refmodel_row_count(m); i++) {
        const refmodel_row *r = refmodel_row_at(m, i);
        if (r->table != c->t_link->id || !r->inserted || (live_only && r->retracted))
            continue;
        const refmodel_cell *ea = refmodel_cell_find(m, r->table, r->id, ca->id);
        const refmodel_cell *eb = refmodel_cell_find(m, r->table, r->id, cb->id);
        if (ea == NULL || eb == NULL)
            continue;
        size_t end[2];
        const uint8_t *p[2] = {ea->winner.u.id, eb->winner.u.id};
        for (int k = 0; k < 2; k++) {
            size_t j = 0;
            while (j < n && memcmp(ids[j], p[k], SCHEMA_ID_LEN) != 0)
                j++;
            if (j == n) {
                if (n == 64)
                    return false;
                memcpy(ids[n], p[k], SCHEMA_ID_LEN);
                parent[n] = n;
                n++;
            }
            end[k] = j;
        }
        size_t lo = end[0] < end[1] ? end[0] : end[1], hi = end[0] ^ end[1] ^ lo;
        bool dup = false;
        for (size_t k = 0; k < nseen && !dup; k++)
            dup = seen[k].a == lo && seen[k].b == hi;
        if (dup || nseen == 256)
            continue; /* the same pair linked twice is not a cycle */
        seen[nseen].a = lo;
        seen[nseen++].b = hi;
        while (parent[lo] != lo)
            lo = parent[lo];
        while (parent[hi] != hi)
            hi = parent[hi];
        if (lo == hi)
            return true;
        parent[hi] = lo;
    }
    return false;
}

static void model_stats(conv_world *c, const refmodel *m)
{
    for (size_t i = 0; i < refmodel_cell_count(m); i++) {
        const refmodel_cell *mc = refmodel_cell_at(m, i);
        if (!mc->mv)
            continue;
        c->local.mv_all++;
        if (mc->nsets == 0)
            continue;
        c->local.mv_cells++;
        c->local.mv_multi += mc->nsibs > 1;
        bool equal = mc->nsibs > 1;
        for (size_t k = 1; k < mc->nsibs && equal; k++)
            equal = mc->sibs[k].canon_len == mc->sibs[0].canon_len &&
                    memcmp(mc->sibs[k].canon, mc->sibs[0].canon, mc->sibs[0].canon_len) == 0;
        c->local.multi_equal += equal;
        c->local.conflicts += mc->conflict;
        c->local.sets += mc->nsets;
        c->local.sets_concurrent += mc->nsets_concurrent;
    }
    for (size_t i = 0; i < refmodel_row_count(m); i++) {
        const refmodel_row *r = refmodel_row_at(m, i);
        c->local.rows++;
        c->local.retracted += r->retracted;
        if (r->table == c->t_retraction->id)
            c->local.retracted_retractions += r->retracted;
        if (r->table == c->t_link->id)
            c->local.links++;
        if (r->table == c->t_patient->id) {
            uint8_t canon[SCHEMA_ID_LEN];
            refmodel_patient_canonical(m, r->id, canon);
            c->local.patients++;
            c->local.merged_patients += memcmp(canon, r->id, SCHEMA_ID_LEN) != 0;
        }
    }
    c->local.cycles += links_cycle(c, m, false);
    c->local.live_cycles += links_cycle(c, m, true);
}

/* ---- one store, and all of them ---------------------------------------------------- */

/* Every cell, the open conflicts, every row of store wi against the model. */
static bool check_store(conv_world *c, int wi, const refmodel *m, bool final)
{
    for (size_t k = 0; k < refmodel_cell_count(m); k++)
        if (!check_cell(c, wi, refmodel_cell_at(m, k)))
            return false;
    return check_conflicts(c, wi, m, final) && check_rows(c, wi, m);
}

/* Midway, a store shows exactly what the model derives from the commits it holds (its
 * export): rows known only from sets, links to patients not yet held, retractions of
 * rows not yet held. */
bool conv_check_midway(conv_world *c, int wi, int round)
{
    snprintf(c->phase, sizeof c->phase, "midway, round %d, %s", round, c->w[wi].name);
    conv_bodies held = {0};
    sn_err err = SN_ERR_INIT;
    refmodel *m = NULL;
    bool ok = conv_world_export(c, wi, &held);
    if (ok && refmodel_build(held.v, held.n, &m, &err) != 0)
        ok = conv_fail(c, "reference model: %s", err.msg);
    if (ok && node_store_check(c->w[wi].st, &err) != 0)
        ok = conv_fail(c, "%s: store check: %s", c->w[wi].name, err.msg);
    if (ok)
        ok = check_store(c, wi, m, false);
    if (ok) {
        c->local.midway++;
        for (size_t i = 0; i < refmodel_row_count(m); i++)
            c->local.midway_stubs += !refmodel_row_at(m, i)->inserted;
    }
    refmodel_free(m);
    conv_bodies_free(&held);
    c->phase[0] = '\0';
    return ok;
}

bool conv_check_final(conv_world *c, const conv_bodies *all)
{
    snprintf(c->phase, sizeof c->phase, "final");
    sn_err err = SN_ERR_INIT;
    refmodel *m = NULL;
    if (refmodel_build(all->v, all->n, &m, &err) != 0)
        return conv_fail(c, "reference model: %s", err.msg);
    model_stats(c, m);
    /* Retired writers are not compared; w[first] is the reference. */
    int first = 0;
    while (first < c->nw && c->w[first].retired)
        first++;
    ck_assert_int_lt(first, c->nw);
    uint8_t d0[16], d[16];
    bool ok = digest_of(c, first, d0);
    for (int i = first; ok && i < c->nw; i++) {
        if (c->w[i].retired)
            continue;
        if (node_store_check(c->w[i].st, &err) != 0) {
            ok = conv_fail(c, "%s: store check: %s", c->w[i].name, err.msg);
            break;
        }
        ok = digest_of(c, i, d);
        if (ok && memcmp(d, d0, 16) != 0)
            ok = conv_fail(c, "digest of %s differs from %s's", c->w[i].name,
                           c->w[first].name);
        if (ok && c->w[i].digest_only)
            ok = check_conflicts(c, i, m, true);
        else
            ok = ok && check_store(c, i, m, true);
    }
    /* Rebuilding from the log changes nothing: every row, then a few rows on another. */
    int wi = c->seed % c->nw;
    while (c->w[wi].retired)
        wi = (wi + 1) % c->nw;
    if (ok && node_store_rematerialize(c->w[wi].st, NULL, 0, &err) != 0)
        ok = conv_fail(c, "%s: rematerialize: %s", c->w[wi].name, err.msg);
    if (ok && (ok = digest_of(c, wi, d)) && memcmp(d, d0, 16) != 0)
        ok = conv_fail(c, "%s: digest changed after rematerializing every row", c->w[wi].name);
    if (ok && node_store_check(c->w[wi].st, &err) != 0)
        ok = conv_fail(c, "%s: store check after rematerialize: %s", c->w[wi].name, err.msg);
    if (ok && refmodel_row_count(m) > 0) {
        int wj = (wi + 1) % c->nw;
        while (c->w[wj].retired)
            wj = (wj + 1) % c->nw;
        node_rowref refs[3];
        size_t nref = 0;
        for (; nref < 3; nref++) {
            uint32_t pick = conv_rnd(c, (uint32_t)refmodel_row_count(m));
            const refmodel_row *r = refmodel_row_at(m, pick);
            refs[nref].table = r->table;
            memcpy(refs[nref].id, r->id, SCHEMA_ID_LEN);
        }
        if (node_store_rematerialize(c->w[wj].st, refs, nref, &err) != 0)
            ok = conv_fail(c, "%s: rematerialize of 3 rows: %s", c->w[wj].name, err.msg);
        if (ok && (ok = digest_of(c, wj, d)) && memcmp(d, d0, 16) != 0)
            ok = conv_fail(c, "%s: digest changed after rematerializing 3 rows", c->w[wj].name);
    }
    refmodel_free(m);
    return ok;
}
