/* cli/record_view.c - loading the whole record of a person, its JSON form, and the
 * `outpost patient show` command (an audited read). */
#include "cli/record_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "cli/args.h"
#include "cli/output.h"
#include "node/history.h"

static const cli_spec show_spec = {
    .path = "patient show",
    .synopsis = "ID",
    .help = "Show the whole record of the person patient ID belongs to, as a clinician\n"
            "reads it: who they are (with every registration merged with ID), a POSSIBLE\n"
            "DUPLICATE banner when another registration may be the same person, ALLERGIES\n"
            "first, PROBLEMS, ENCOUNTERS in time order with their notes under headings, and\n"
            "OBSERVATIONS. Entries recorded in error are marked [RETRACTED: reason]; a field\n"
            "two sites changed differently is flagged CONFLICT with each value kept.\n"
            "Viewing a record is recorded in the audit log ('outpost audit').\n"
            "\n"
            "Options:\n"
            "  --json   the same as one JSON document\n",
    .min_pos = 1,
    .max_pos = 1,
};

static void entries_free(cli_entries *l)
{
    for (size_t i = 0; i < l->n; i++) {
        node_row_free(l->v[i].row);
        sn_free(l->v[i].reason);
    }
    sn_free(l->v);
    *l = (cli_entries){0};
}

void cli_record_free(cli_record *rec)
{
    cli_entries *lists[] = {&rec->patients,   &rec->identifiers, &rec->links,
                            &rec->allergies,  &rec->problems,    &rec->encounters,
                            &rec->notes,      &rec->observations};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        entries_free(lists[i]);
    sn_free(rec->ids);
    sn_free(rec->dups);
    *rec = (cli_record){0};
}

/* The reason of the first live retraction of row `id`. */
static int reason_each(void *vctx, const node_row *r, sn_err *err)
{
    char **out = vctx;
    if (r->retracted || *out != NULL)
        return 0;
    return cli_value_strdup(cli_row_value(r, "reason"), out, err);
}

/* Fetch row (table, id), with its retraction reason, onto l. */
static int entries_add(node_store *st, cli_entries *l, uint16_t table,
                       const uint8_t id[SCHEMA_ID_LEN], sn_err *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap == 0 ? 8 : 2 * l->cap;
        cli_entry *p = sn_realloc(l->v, cap * sizeof *p);
        if (p == NULL)
            return sn_err_set(err, SN_ENOMEM, "out of memory reading a patient's record");
        l->v = p;
        l->cap = cap;
    }
    cli_entry *e = &l->v[l->n];
    *e = (cli_entry){0};
    int rc = node_store_row_get(st, table, id, &e->row, err);
    if (rc != 0)
        return rc;
    l->n++;
    if (!e->row->retracted)
        return 0;
    const schema_table *rt = schema_table_by_name("retraction");
    schema_value target = schema_value_id(id);
    return node_store_rows_each(st, rt->id, schema_column_by_name(rt, "target_id")->id, &target,
                                reason_each, &e->reason, err);
}

typedef struct gather {
    node_store *st;
    cli_entries *into;
    bool live_only;
} gather;

static int gather_each(void *vctx, const node_row *r, sn_err *err)
{
    gather *g = vctx;
    if (g->live_only && r->retracted)
        return 0;
    return entries_add(g->st, g->into, r->table->id, r->id, err);
}

/* Rows of table `name` written against patient `id`. */
static int gather_table(node_store *st, const char *name, const uint8_t id[SCHEMA_ID_LEN],
                        cli_entries *into, bool live_only, sn_err *err)
{
    const schema_table *t = schema_table_by_name(name);
    gather g = {.st = st, .into = into, .live_only = live_only};
    schema_value v = schema_value_id(id);
    return node_store_rows_each(st, t->id, t->patient_col, &v, gather_each, &g, err);
}

/* ---- ordering ---- */

static int by_id(const cli_entry *a, const cli_entry *b)
{
    return memcmp(a->row->id, b->row->id, SCHEMA_ID_LEN);
}

static int text_cmp(const schema_value *a, const schema_value *b)
{
    size_t na = a->kind == SCHEMA_V_TEXT ? a->u.s.n : 0;
    size_t nb = b->kind == SCHEMA_V_TEXT ? b->u.s.n : 0;
    int c = memcmp(na > 0 ? a->u.s.p : (const uint8_t *)"", nb > 0 ? b->u.s.p : (const uint8_t *)"",
                   na < nb ? na : nb);
    return c != 0 ? c : (na > nb) - (na < nb);
}

/* Live entries first, then retracted ones; each by id (the time they were recorded). */
static int cmp_live_first(const void *x, const void *y)
{
    const cli_entry *a = x, *b = y;
    if (a->row->retracted != b->row->retracted)
        return a->row->retracted ? 1 : -1;
    return by_id(a, b);
}

static int cmp_encounter(const void *x, const void *y)
{
    const cli_entry *a = x, *b = y;
    int c = text_cmp(cli_row_value(a->row, "start"), cli_row_value(b->row, "start"));
    return c != 0 ? c : by_id(a, b);
}

static int cmp_observation(const void *x, const void *y)
{
    const cli_entry *a = x, *b = y;
    int c = text_cmp(cli_row_value(a->row, "effective"), cli_row_value(b->row, "effective"));
    return c != 0 ? c : by_id(a, b);
}

/* Notes in record-heading order (the schema's order of codes), then as written. */
static int heading_rank(const node_row *r)
{
    const schema_column *c = schema_column_by_name(r->table, "heading");
    const schema_value *v = cli_row_value(r, "heading");
    for (int i = 0; c != NULL && c->codes != NULL && c->codes[i] != NULL; i++)
        if (v->kind == SCHEMA_V_TEXT && v->u.s.n == strlen(c->codes[i]) &&
            memcmp(v->u.s.p, c->codes[i], v->u.s.n) == 0)
            return i;
    return 1000;
}

static int cmp_note(const void *x, const void *y)
{
    const cli_entry *a = x, *b = y;
    int c = heading_rank(a->row) - heading_rank(b->row);
    return c != 0 ? c : by_id(a, b);
}

static int cmp_canonical_first(const void *x, const void *y) { return by_id(x, y); }

static void entries_sort(cli_entries *l, int (*cmp)(const void *, const void *))
{
    if (l->n > 1) /* an empty list has no array to hand qsort */
        qsort(l->v, l->n, sizeof *l->v, cmp);
}

/* ---- duplicates ---- */

static int dup_allergy(void *vctx, const node_row *r, sn_err *err)
{
    cli_duplicate *d = vctx;
    if (r->retracted)
        return 0;
    const schema_value *v = cli_row_value(r, "display");
    if (v->kind == SCHEMA_V_NIL)
        v = cli_row_value(r, "code");
    char *text = NULL;
    int rc = cli_value_strdup(v, &text, err);
    if (rc == 0) {
        size_t len = strlen(d->allergies);
        snprintf(d->allergies + len, sizeof d->allergies - len, "%s%s", len > 0 ? ", " : "", text);
    }
    sn_free(text);
    return rc;
}

typedef struct dup_gather {
    node_store *st;
    cli_record *rec;
    size_t cap;
} dup_gather;

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, SCHEMA_ID_LEN); }

static int dup_each(void *vctx, const node_duplicate *d, sn_err *err)
{
    dup_gather *g = vctx;
    cli_record *rec = g->rec;
    bool a = bsearch(d->a, rec->ids, rec->nids, SCHEMA_ID_LEN, id_cmp) != NULL;
    bool b = bsearch(d->b, rec->ids, rec->nids, SCHEMA_ID_LEN, id_cmp) != NULL;
    if (a == b)
        return 0;
    if (rec->ndups == g->cap) {
        size_t cap = g->cap == 0 ? 4 : 2 * g->cap;
        cli_duplicate *p = sn_realloc(rec->dups, cap * sizeof *p);
        if (p == NULL)
            return sn_err_set(err, SN_ENOMEM, "out of memory listing duplicates");
        rec->dups = p;
        g->cap = cap;
    }
    cli_duplicate *x = &rec->dups[rec->ndups++];
    *x = (cli_duplicate){.score = d->score};
    memcpy(x->other, a ? d->b : d->a, SCHEMA_ID_LEN);
    snprintf(x->reason, sizeof x->reason, "%s", d->reason);
    const schema_table *at = schema_table_by_name("allergy");
    schema_value v = schema_value_id(x->other);
    return node_store_rows_each(g->st, at->id, at->patient_col, &v, dup_allergy, x, err);
}

int cli_record_load(node_store *st, const uint8_t id[SCHEMA_ID_LEN], cli_record *rec,
                    sn_err *err)
{
    *rec = (cli_record){0};
    const schema_table *pt = schema_table_by_name("patient");
    int rc = node_store_patient_canonical(st, id, rec->canonical, err);
    if (rc == 0)
        rc = node_store_patient_component(st, id, &rec->ids, &rec->nids, err);
    for (size_t i = 0; rc == 0 && i < rec->nids; i++) {
        const uint8_t *p = rec->ids[i];
        rc = entries_add(st, &rec->patients, pt->id, p, err);
        if (rc == SN_ENOTFOUND) { /* linked, but its registration has not arrived yet */
            sn_err_clear(err);
            rc = 0;
        }
        if (rc == 0)
            rc = gather_table(st, "patient_identifier", p, &rec->identifiers, false, err);
        if (rc == 0)
            rc = gather_table(st, "patient_link", p, &rec->links, true, err);
        if (rc == 0)
            rc = gather_table(st, "allergy", p, &rec->allergies, false, err);
        if (rc == 0)
            rc = gather_table(st, "condition", p, &rec->problems, false, err);
        if (rc == 0)
            rc = gather_table(st, "encounter", p, &rec->encounters, false, err);
        if (rc == 0)
            rc = gather_table(st, "clinical_note", p, &rec->notes, false, err);
        if (rc == 0)
            rc = gather_table(st, "observation", p, &rec->observations, false, err);
    }
    dup_gather g = {.st = st, .rec = rec};
    if (rc == 0)
        rc = node_store_duplicates_each(st, dup_each, &g, err);
    if (rc != 0)
        return rc;
    entries_sort(&rec->patients, cmp_canonical_first);
    entries_sort(&rec->identifiers, cmp_live_first);
    entries_sort(&rec->links, cmp_canonical_first);
    entries_sort(&rec->allergies, cmp_live_first);
    entries_sort(&rec->problems, cmp_live_first);
    entries_sort(&rec->encounters, cmp_encounter);
    entries_sort(&rec->notes, cmp_note);
    entries_sort(&rec->observations, cmp_observation);
    return 0;
}

/* ---- JSON ---- */

static int entry_json(node_store *st, const cli_entry *e, sn_buf *b, sn_err *err)
{
    int rc = sn_buf_append_str(b, "{", err);
    if (rc == 0)
        rc = cli_row_json(st, e->row, b, err);
    if (rc == 0)
        rc = sn_buf_append_str(b, ",\"retraction_reason\":", err);
    if (rc == 0)
        rc = cli_json_cstr(b, e->reason, err);
    return rc;
}

/* A JSON array of entries; with `notes`, each encounter carries its notes. */
static int entries_json(node_store *st, const char *key, const cli_entries *l,
                        const cli_entries *notes, sn_buf *b, sn_err *err)
{
    int rc = sn_buf_appendf(b, err, ",\"%s\":[", key);
    for (size_t i = 0; rc == 0 && i < l->n; i++) {
        rc = sn_buf_append_str(b, i > 0 ? "," : "", err);
        if (rc == 0)
            rc = entry_json(st, &l->v[i], b, err);
        if (rc == 0 && notes != NULL) {
            rc = sn_buf_append_str(b, ",\"notes\":[", err);
            size_t k = 0;
            for (size_t j = 0; rc == 0 && j < notes->n; j++) {
                const schema_value *enc = cli_row_value(notes->v[j].row, "encounter_id");
                if (enc->kind != SCHEMA_V_ID ||
                    memcmp(enc->u.id, l->v[i].row->id, SCHEMA_ID_LEN) != 0)
                    continue;
                rc = sn_buf_append_str(b, k++ > 0 ? "," : "", err);
                if (rc == 0)
                    rc = entry_json(st, &notes->v[j], b, err);
                if (rc == 0)
                    rc = sn_buf_append_str(b, "}", err);
            }
            if (rc == 0)
                rc = sn_buf_append_str(b, "]", err);
        }
        if (rc == 0)
            rc = sn_buf_append_str(b, "}", err);
    }
    return rc != 0 ? rc : sn_buf_append_str(b, "]", err);
}

int cli_record_json(node_store *st, const cli_record *rec, sn_buf *b, sn_err *err)
{
    char hex[CLI_ID_HEX];
    schema_id_format(hex, rec->canonical);
    int rc = sn_buf_appendf(b, err, "{\"patient\":\"%s\",\"ids\":[", hex);
    for (size_t i = 0; rc == 0 && i < rec->nids; i++) {
        schema_id_format(hex, rec->ids[i]);
        rc = sn_buf_appendf(b, err, "%s\"%s\"", i > 0 ? "," : "", hex);
    }
    if (rc == 0)
        rc = sn_buf_append_str(b, "]", err);
    if (rc == 0)
        rc = entries_json(st, "registrations", &rec->patients, NULL, b, err);
    if (rc == 0)
        rc = entries_json(st, "identifiers", &rec->identifiers, NULL, b, err);
    if (rc == 0)
        rc = entries_json(st, "links", &rec->links, NULL, b, err);
    if (rc == 0)
        rc = sn_buf_append_str(b, ",\"possible_duplicates\":[", err);
    for (size_t i = 0; rc == 0 && i < rec->ndups; i++) {
        schema_id_format(hex, rec->dups[i].other);
        rc = sn_buf_appendf(b, err, "%s{\"other\":\"%s\",\"score\":%d,\"reason\":",
                            i > 0 ? "," : "", hex, rec->dups[i].score);
        if (rc == 0)
            rc = cli_json_cstr(b, rec->dups[i].reason, err);
        if (rc == 0)
            rc = sn_buf_append_str(b, "}", err);
    }
    if (rc == 0)
        rc = sn_buf_append_str(b, "]", err);
    if (rc == 0)
        rc = entries_json(st, "allergies", &rec->allergies, NULL, b, err);
    if (rc == 0)
        rc = entries_json(st, "problems", &rec->problems, NULL, b, err);
    if (rc == 0)
        rc = entries_json(st, "encounters", &rec->encounters, &rec->notes, b, err);
    if (rc == 0)
        rc = entries_json(st, "notes", &rec->notes, NULL, b, err);
    if (rc == 0)
        rc = entries_json(st, "observations", &rec->observations, NULL, b, err);
    return rc != 0 ? rc : sn_buf_append_str(b, "}\n", err);
}

/* ---- the command ---- */

int cli_cmd_patient_show(cli_ctx *ctx, int argc, char **argv)
{
    cli_parsed p;
    int ex = cli_args_parse(ctx, &show_spec, NULL, 0, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &show_spec);
    const schema_table *pt = schema_table_by_name("patient");
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    node_row *row = NULL;
    uint8_t id[SCHEMA_ID_LEN];
    cli_record rec = {0};
    int rc = cli_id_parse(p.pos[0], id, &err);
    if (rc == 0)
        rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0 && (rc = node_store_row_get(st, pt->id, id, &row, &err)) == SN_ENOTFOUND)
        cli_hint_other_table(st, pt, p.pos[0], id, &err);
    node_row_free(row);
    if (rc == 0)
        rc = cli_record_load(st, id, &rec, &err);
    /* The read is audited before anything is shown; no audit, no record. */
    if (rc == 0)
        rc = cli_audit(ctx, st, NODE_AUDIT_READ, rec.canonical, "patient show", &err);
    if (rc == 0)
        rc = ctx->json ? cli_record_json(st, &rec, &ctx->out, &err)
                       : cli_record_text(st, &rec, &ctx->out, &err);
    cli_record_free(&rec);
    node_store_close(st);
    return cli_finish(rc, &err);
}
