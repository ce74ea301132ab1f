/* node/store_history.c - the commit log read as history, and duplicate candidates. */
#include "node/history.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "node/store_int.h"

int node_change_patient(node_store *st, const schema_change *ch, uint8_t out[SCHEMA_ID_LEN],
                        bool *found, sn_err *err)
{
    *found = false;
    const schema_table *t = schema_table_by_id(ch->table);
    if (t == NULL)
        return 0;
    if (t->id == 1) { /* the patient table: the row is the patient */
        memcpy(out, ch->row, SCHEMA_ID_LEN);
        *found = true;
        return 0;
    }
    if (t->patient_col == 0)
        return 0;
    if (ch->op == SCHEMA_OP_INSERT) {
        for (size_t i = 0; i < ch->nfields; i++) {
            if (ch->fields[i].col == t->patient_col && ch->fields[i].value.kind == SCHEMA_V_ID) {
                memcpy(out, ch->fields[i].value.u.id, SCHEMA_ID_LEN);
                *found = true;
            }
        }
        return 0;
    }
    node_row *r = NULL;
    int rc = node_store_row_get(st, t->id, ch->row, &r, err);
    if (rc == SN_ENOTFOUND) {
        sn_err_clear(err);
        return 0;
    }
    if (rc == 0) {
        const schema_value *v = &r->values[schema_column_index(t, t->patient_col)];
        if (v->kind == SCHEMA_V_ID) {
            memcpy(out, v->u.id, SCHEMA_ID_LEN);
            *found = true;
        }
    }
    node_row_free(r);
    return rc;
}

/* patient_link and its other_id column (schema ids never change). */
#define LINK_TABLE 3
#define LINK_OTHER 2

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, SCHEMA_ID_LEN); }

/* `ids` is sorted (node_store_patient_component sorts it). */
static bool in_ids(uint8_t (*ids)[SCHEMA_ID_LEN], size_t n, const uint8_t id[SCHEMA_ID_LEN])
{
    return bsearch(id, ids, n, SCHEMA_ID_LEN, id_cmp) != NULL;
}

static int commit_matches(node_store *st, const schema_commit *c, const node_log_filter *f,
                          uint8_t (*ids)[SCHEMA_ID_LEN], size_t nids, bool *match, sn_err *err)
{
    *match = true;
    if (f->user != NULL && strcmp(c->author, f->user) != 0 &&
        (c->entered_by == NULL || strcmp(c->entered_by, f->user) != 0)) {
        *match = false;
        return 0;
    }
    if (f->patient == NULL)
        return 0;
    *match = false;
    for (size_t i = 0; i < c->nchanges && !*match; i++) {
        const schema_change *ch = &c->changes[i];
        uint8_t p[SCHEMA_ID_LEN];
        bool found;
        int rc = node_change_patient(st, ch, p, &found, err);
        if (rc != 0)
            return rc;
        *match = found && in_ids(ids, nids, p);
        /* A link is about both of the patients it joins. */
        for (size_t k = 0; !*match && ch->op == SCHEMA_OP_INSERT && ch->table == LINK_TABLE &&
                           k < ch->nfields; k++)
            *match = ch->fields[k].col == LINK_OTHER && ch->fields[k].value.kind == SCHEMA_V_ID &&
                     in_ids(ids, nids, ch->fields[k].value.u.id);
    }
    return 0;
}

int node_store_log_each(node_store *st, const node_log_filter *filter, node_commit_fn fn,
                        void *ctx, sn_err *err)
{
    node_log_filter none = {0};
    if (filter == NULL)
        filter = &none;
    uint8_t (*ids)[SCHEMA_ID_LEN] = NULL;
    size_t nids = 0;
    if (filter->patient != NULL) {
        int rc = node_store_patient_component(st, filter->patient, &ids, &nids, err);
        if (rc != 0)
            return rc;
    }
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT l.body FROM commit_log l JOIN origin o"
                              " ON l.key >> 40 = o.idx WHERE (l.key & 1099511627775) <= o.held"
                              " ORDER BY l.hlc, l.key", &s);
    if (rc != SQLITE_OK) {
        sn_free(ids);
        return node_store_fail(st, rc, err, "reading the commit log");
    }
    rc = 0;
    int src;
    while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW) {
        schema_commit *c;
        rc = schema_commit_decode(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0),
                                  &c, err);
        if (rc != 0)
            break;
        bool match;
        rc = commit_matches(st, c, filter, ids, nids, &match, err);
        if (rc == 0 && match)
            rc = fn(ctx, c, err);
        schema_commit_free(c);
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = node_store_fail(st, src, err, "reading the commit log");
    node_stmt_release(st, s);
    sn_free(ids);
    return rc;
}

/* ---- duplicate candidates ---- */

static int linked(node_store *st, const uint8_t a[16], const uint8_t b[16], bool *out,
                  sn_err *err)
{
    uint8_t (*ids)[SCHEMA_ID_LEN];
    size_t n;
    int rc = node_store_patient_component(st, a, &ids, &n, err);
    if (rc == 0)
        *out = in_ids(ids, n, b);
    sn_free(ids);
    return rc;
}

/* Each rule is one self-join over the patient table; a pair is reported once, under the
 * strongest rule that matches it. */
static const struct {
    int score;
    const char *reason;
    const char *sql;
} rules[] = {
    {100, "same verified NHS number",
     "SELECT a.id, b.id FROM patient a JOIN patient b ON a.nhs_number = b.nhs_number"
     " AND a.id < b.id WHERE a.nhs_number_status = '01' AND b.nhs_number_status = '01'"},
    {80, "same NHS number",
     "SELECT a.id, b.id FROM patient a JOIN patient b ON a.nhs_number = b.nhs_number"
     " AND a.id < b.id WHERE NOT (a.nhs_number_status IS '01' AND b.nhs_number_status IS '01')"},
    {60, "same family name, birth date and gender",
     "SELECT a.id, b.id FROM patient a JOIN patient b ON lower(a.family) = lower(b.family)"
     " AND a.birth_date = b.birth_date AND a.gender IS b.gender AND a.id < b.id"
     " WHERE a.nhs_number IS NULL OR b.nhs_number IS NULL OR a.nhs_number <> b.nhs_number"},
};

int node_store_duplicates_each(node_store *st, node_duplicate_fn fn, void *ctx, sn_err *err)
{
    int rc = 0;
    for (size_t r = 0; r < sizeof rules / sizeof rules[0] && rc == 0; r++) {
        sqlite3_stmt *s = NULL;
        int src = node_stmt_cached(st, rules[r].sql, &s);
        if (src != SQLITE_OK)
            return node_store_fail(st, src, err, "looking for duplicate patients");
        while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW) {
            node_duplicate d = {.score = rules[r].score, .reason = rules[r].reason};
            memcpy(d.a, sqlite3_column_blob(s, 0), 16);
            memcpy(d.b, sqlite3_column_blob(s, 1), 16);
            node_row *ra = NULL, *rb = NULL;
            bool skip = false;
            rc = node_store_row_get(st, 1, d.a, &ra, err);
            if (rc == 0)
                rc = node_store_row_get(st, 1, d.b, &rb, err);
            if (rc == 0)
                skip = ra->retracted || rb->retracted || !ra->inserted || !rb->inserted;
            node_row_free(ra);
            node_row_free(rb);
            if (rc == 0 && !skip)
                rc = linked(st, d.a, d.b, &skip, err);
            if (rc == 0 && !skip)
                rc = fn(ctx, &d, err);
        }
        if (rc == 0 && src != SQLITE_DONE)
            rc = node_store_fail(st, src, err, "looking for duplicate patients");
        node_stmt_release(st, s);
    }
    return rc;
}
