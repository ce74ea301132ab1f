/* cli/record_text.c - the whole record of a person as text, in the order a clinician reads
 * it: who they are, a possible-duplicate banner, ALLERGIES first, PROBLEMS, ENCOUNTERS with
 * their notes under headings, OBSERVATIONS. Only recorded values and times are printed, in
 * a fixed order, so the output is stable for golden tests. */
#include "cli/record_view.h"

#include <stdio.h>
#include <string.h>

#include "cli/output.h"

typedef struct field {
    const char *col;
    const char *label; /* NULL: the value alone */
} field;

/* A headline part: `before` and `after` surround the value when an earlier part shows. */
typedef struct part {
    const char *col;
    const char *before, *after;
} part;

static bool present(const node_row *r, const char *col)
{
    return cli_row_value(r, col)->kind != SCHEMA_V_NIL;
}

static bool in_conflict(const node_row *r, const char *col)
{
    const schema_column *c = schema_column_by_name(r->table, col);
    return c != NULL && r->conflict[schema_column_index(r->table, c->id)];
}

/* "label value, label value" for the non-empty fields, after "\n<indent>"; nothing when
 * every field is empty. A field in conflict is marked. */
static int details(sn_buf *b, const node_row *r, const field *f, size_t n, const char *indent,
                   sn_err *err)
{
    int rc = 0;
    size_t shown = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!present(r, f[i].col))
            continue;
        rc = shown++ == 0 ? sn_buf_appendf(b, err, "%s", indent) : sn_buf_append_str(b, ", ", err);
        if (rc == 0 && f[i].label != NULL)
            rc = sn_buf_appendf(b, err, "%s ", f[i].label);
        if (rc == 0)
            rc = cli_text_value(b, cli_row_value(r, f[i].col), err);
        if (rc == 0 && in_conflict(r, f[i].col))
            rc = sn_buf_append_str(b, " (CONFLICT)", err);
    }
    return rc != 0 || shown == 0 ? rc : sn_buf_append_str(b, "\n", err);
}

/* Each open conflict of r: the values kept, and how to resolve it. */
static int conflicts(node_store *st, const node_row *r, const char *indent, sn_buf *b,
                     sn_err *err)
{
    int rc = 0;
    char hex[CLI_ID_HEX], sub[64];
    schema_id_format(hex, r->id);
    snprintf(sub, sizeof sub, "%s    ", indent);
    for (size_t i = 0; rc == 0 && i < r->table->ncols; i++) {
        if (!r->conflict[i])
            continue;
        const schema_column *c = &r->table->cols[i];
        node_cell *cell = NULL;
        rc = node_store_cell_get(st, r->table->id, r->id, c->id, &cell, err);
        if (rc == 0)
            rc = sn_buf_appendf(b, err, "%sCONFLICT %s: sites recorded different values\n",
                                indent, c->name);
        if (rc == 0)
            rc = cli_siblings_text(b, cell, sub, err);
        if (rc == 0)
            rc = sn_buf_appendf(b, err, "%s  resolve with: outpost conflicts resolve %s %s %s "
                                "VALUE\n", indent, r->table->name, hex, c->name);
        node_cell_free(cell);
    }
    return rc;
}

static int provenance(node_store *st, const node_row *r, const char *indent, sn_buf *b,
                      sn_err *err)
{
    if (!r->inserted)
        return sn_buf_appendf(b, err, "%s(insert not yet received)\n", indent);
    char time[CLI_HLC_MAX], site[128];
    cli_time_format(time, CRDT_HLC_MS(r->hlc));
    cli_site_name(st, &r->dot.origin, site, sizeof site);
    int rc = sn_buf_appendf(b, err, "%srecorded %s by ", indent, time);
    if (rc == 0)
        rc = cli_text_bytes(b, r->author, strlen(r->author), err);
    if (rc == 0 && r->entered_by != NULL) {
        rc = sn_buf_append_str(b, " (entered by ", err);
        if (rc == 0)
            rc = cli_text_bytes(b, r->entered_by, strlen(r->entered_by), err);
        if (rc == 0)
            rc = sn_buf_append_str(b, ")", err);
    }
    if (rc == 0)
        rc = sn_buf_append_str(b, " at ", err);
    if (rc == 0)
        rc = cli_text_bytes(b, site, strlen(site), err);
    return rc != 0 ? rc : sn_buf_append_str(b, "\n", err);
}

static int retracted_mark(const cli_entry *e, sn_buf *b, sn_err *err)
{
    if (!e->row->retracted)
        return 0;
    int rc = sn_buf_append_str(b, "[RETRACTED: ", err);
    if (rc == 0 && e->reason != NULL)
        rc = cli_text_bytes(b, e->reason, strlen(e->reason), err);
    return rc != 0 ? rc : sn_buf_append_str(b, "] ", err);
}

/* "Family, Given": the name as a clinician reads it. */
static int name_text(sn_buf *b, const node_row *r, sn_err *err)
{
    int rc = cli_text_value(b, cli_row_value(r, "family"), err);
    if (rc == 0 && present(r, "given")) {
        rc = sn_buf_append_str(b, ", ", err);
        if (rc == 0)
            rc = cli_text_value(b, cli_row_value(r, "given"), err);
    }
    return rc;
}

static const char *const nhs_status_words[] = {
    "01: verified",         "02: present, not traced", "03: trace required",
    "04: no or multiple match", "05: trace needs resolving", "06: trace in progress",
    "07: absent, not required", "08: trace postponed (baby under six weeks)"};

/* "943 476 5919  (02: present, not traced)" */
static int nhs_text(sn_buf *b, const node_row *r, sn_err *err)
{
    const schema_value *v = cli_row_value(r, "nhs_number");
    int rc = v->kind == SCHEMA_V_TEXT && v->u.s.n == 10
                 ? sn_buf_appendf(b, err, "%.3s %.3s %.4s", (const char *)v->u.s.p,
                                  (const char *)v->u.s.p + 3, (const char *)v->u.s.p + 6)
                 : cli_text_value(b, v, err);
    const schema_value *s = cli_row_value(r, "nhs_number_status");
    if (rc != 0 || s->kind != SCHEMA_V_TEXT)
        return rc;
    for (size_t i = 0; i < sizeof nhs_status_words / sizeof nhs_status_words[0]; i++)
        if (s->u.s.n == 2 && memcmp(s->u.s.p, nhs_status_words[i], 2) == 0)
            return sn_buf_appendf(b, err, "  (%s)", nhs_status_words[i]);
    return 0;
}

/* One "  label        value" line of the header, when any of `cols` has a value. */
static int header_line(sn_buf *b, const node_row *r, const char *label,
                       const char *const *cols, int (*render)(sn_buf *, const node_row *, sn_err *),
                       sn_err *err)
{
    bool any = false, conflict = false;
    for (size_t i = 0; cols[i] != NULL; i++) {
        any = any || present(r, cols[i]);
        conflict = conflict || in_conflict(r, cols[i]);
    }
    if (!any && !conflict)
        return 0;
    int rc = sn_buf_appendf(b, err, "  %-13s", label);
    if (rc == 0 && render != NULL) {
        rc = render(b, r, err);
    } else {
        for (size_t i = 0, k = 0; rc == 0 && cols[i] != NULL; i++)
            if (present(r, cols[i])) {
                rc = k++ > 0 ? sn_buf_append_str(b, ", ", err) : 0;
                if (rc == 0)
                    rc = cli_text_value(b, cli_row_value(r, cols[i]), err);
            }
    }
    if (rc == 0 && conflict)
        rc = sn_buf_append_str(b, "  CONFLICT", err);
    return rc != 0 ? rc : sn_buf_append_str(b, "\n", err);
}

static int header(node_store *st, const cli_record *rec, sn_buf *b, sn_err *err)
{
    char hex[CLI_ID_HEX];
    schema_id_format(hex, rec->canonical);
    int rc = sn_buf_appendf(b, err, "PATIENT %s\n", hex);
    if (rec->patients.n == 0)
        return rc != 0 ? rc : sn_buf_append_str(b, "  (registration not yet received)\n", err);
    const cli_entry *me = &rec->patients.v[0];
    const node_row *r = me->row;
    if (rc == 0 && r->retracted) {
        rc = sn_buf_append_str(b, "  ", err);
        if (rc == 0)
            rc = retracted_mark(me, b, err);
        if (rc == 0)
            rc = sn_buf_append_str(b, "registered in error\n", err);
    }
    static const char *const name[] = {"family", "given", NULL};
    static const char *const born[] = {"birth_date", NULL}, *const gender[] = {"gender", NULL};
    static const char *const nhs[] = {"nhs_number", "nhs_number_status", NULL};
    static const char *const addr[] = {"address", "postcode", NULL};
    static const char *const phone[] = {"phone", NULL}, *const died[] = {"deceased_at", NULL};
    if (rc == 0)
        rc = header_line(b, r, "name", name, name_text, err);
    if (rc == 0)
        rc = header_line(b, r, "born", born, NULL, err);
    if (rc == 0)
        rc = header_line(b, r, "gender", gender, NULL, err);
    if (rc == 0)
        rc = header_line(b, r, "NHS number", nhs, nhs_text, err);
    if (rc == 0)
        rc = header_line(b, r, "address", addr, NULL, err);
    if (rc == 0)
        rc = header_line(b, r, "phone", phone, NULL, err);
    if (rc == 0)
        rc = header_line(b, r, "died", died, NULL, err);
    for (size_t i = 0; rc == 0 && i < rec->identifiers.n; i++) {
        const cli_entry *e = &rec->identifiers.v[i];
        rc = sn_buf_appendf(b, err, "  %-13s", i == 0 ? "identifiers" : "");
        if (rc == 0)
            rc = retracted_mark(e, b, err);
        if (rc == 0)
            rc = cli_text_value(b, cli_row_value(e->row, "system"), err);
        if (rc == 0)
            rc = sn_buf_append_str(b, " ", err);
        if (rc == 0)
            rc = cli_text_value(b, cli_row_value(e->row, "value"), err);
        if (rc == 0)
            rc = sn_buf_append_str(b, "\n", err);
    }
    for (size_t i = 1; rc == 0 && i < rec->patients.n; i++) {
        const cli_entry *e = &rec->patients.v[i];
        schema_id_format(hex, e->row->id);
        static const field merged[] = {{"birth_date", "born"}, {"nhs_number", "NHS"}};
        rc = sn_buf_appendf(b, err, "  %-13s%s  ", i == 1 ? "merged with" : "", hex);
        if (rc == 0)
            rc = retracted_mark(e, b, err);
        if (rc == 0)
            rc = name_text(b, e->row, err);
        if (rc == 0)
            rc = details(b, e->row, merged, 2, ", ", err);
        if (rc == 0 && !present(e->row, "birth_date") && !present(e->row, "nhs_number"))
            rc = sn_buf_append_str(b, "\n", err);
    }
    if (rc == 0)
        rc = provenance(st, r, "  ", b, err);
    for (size_t i = 0; rc == 0 && i < rec->patients.n; i++)
        rc = conflicts(st, rec->patients.v[i].row, "  ", b, err);
    return rc;
}

static int banner(const cli_record *rec, sn_buf *b, sn_err *err)
{
    int rc = 0;
    char canon[CLI_ID_HEX], other[CLI_ID_HEX];
    schema_id_format(canon, rec->canonical);
    for (size_t i = 0; rc == 0 && i < rec->ndups; i++) {
        const cli_duplicate *d = &rec->dups[i];
        schema_id_format(other, d->other);
        rc = sn_buf_appendf(b, err, "\nPOSSIBLE DUPLICATE of %s: %s (score %d)\n"
                            "  allergies recorded there: ", other, d->reason, d->score);
        if (rc == 0)
            rc = d->allergies[0] != '\0'
                     ? cli_text_bytes(b, d->allergies, strlen(d->allergies), err)
                     : sn_buf_append_str(b, "none", err);
        if (rc == 0)
            rc = sn_buf_appendf(b, err, "\n  if they are one person: outpost patient merge %s %s\n",
                                canon, other);
    }
    return rc;
}

/* One entry: "  - " marker and headline, details, conflicts, who recorded it. */
static int entry(node_store *st, const cli_entry *e, const part *head, size_t nhead,
                 const field *more, size_t nmore, sn_buf *b, sn_err *err)
{
    int rc = sn_buf_append_str(b, "  - ", err);
    if (rc == 0)
        rc = retracted_mark(e, b, err);
    for (size_t i = 0, k = 0; rc == 0 && i < nhead; i++) {
        if (!present(e->row, head[i].col))
            continue;
        bool later = k++ > 0;
        rc = later ? sn_buf_append_str(b, head[i].before, err) : 0;
        if (rc == 0)
            rc = cli_text_value(b, cli_row_value(e->row, head[i].col), err);
        if (rc == 0 && later)
            rc = sn_buf_append_str(b, head[i].after, err);
        if (rc == 0 && in_conflict(e->row, head[i].col))
            rc = sn_buf_append_str(b, " (CONFLICT)", err);
    }
    if (rc == 0)
        rc = sn_buf_append_str(b, "\n", err);
    if (rc == 0)
        rc = details(b, e->row, more, nmore, "      ", err);
    if (rc == 0)
        rc = conflicts(st, e->row, "      ", b, err);
    return rc != 0 ? rc : provenance(st, e->row, "      ", b, err);
}

/* Is note r written in one of the person's encounters? */
static bool attached(const cli_record *rec, const node_row *r)
{
    const schema_value *enc = cli_row_value(r, "encounter_id");
    for (size_t i = 0; enc->kind == SCHEMA_V_ID && i < rec->encounters.n; i++)
        if (memcmp(enc->u.id, rec->encounters.v[i].row->id, SCHEMA_ID_LEN) == 0)
            return true;
    return false;
}

/* The notes of `encounter` under their headings; NULL: the notes in no encounter. */
static int notes_of(node_store *st, const cli_record *rec, const uint8_t *encounter,
                    const char *indent, sn_buf *b, sn_err *err)
{
    char text[32], prov[32];
    snprintf(text, sizeof text, "%s  ", indent);
    snprintf(prov, sizeof prov, "%s    ", indent);
    int rc = 0;
    const schema_value *last = NULL;
    for (size_t i = 0; rc == 0 && i < rec->notes.n; i++) {
        const cli_entry *e = &rec->notes.v[i];
        const schema_value *enc = cli_row_value(e->row, "encounter_id");
        bool mine = encounter != NULL ? enc->kind == SCHEMA_V_ID &&
                                            memcmp(enc->u.id, encounter, SCHEMA_ID_LEN) == 0
                                      : !attached(rec, e->row);
        if (!mine)
            continue;
        /* Notes come sorted by heading: a heading line starts each group. */
        const schema_value *h = cli_row_value(e->row, "heading");
        if ((last == NULL || !schema_value_equal(last, h)) && h->kind == SCHEMA_V_TEXT &&
            h->u.s.n > 0) {
            char first = (char)(h->u.s.p[0] >= 'a' && h->u.s.p[0] <= 'z' ? h->u.s.p[0] - 32
                                                                         : h->u.s.p[0]);
            rc = sn_buf_appendf(b, err, "%s%c%.*s\n", indent, first, (int)h->u.s.n - 1,
                                (const char *)h->u.s.p + 1);
            last = h;
        }
        if (rc == 0)
            rc = sn_buf_append_str(b, text, err);
        if (rc == 0)
            rc = retracted_mark(e, b, err);
        if (rc == 0)
            rc = cli_text_value(b, cli_row_value(e->row, "text"), err);
        if (rc == 0)
            rc = sn_buf_append_str(b, "\n", err);
        if (rc == 0)
            rc = provenance(st, e->row, prov, b, err);
    }
    return rc;
}

static int section(const char *title, const cli_entries *l, const char *none, sn_buf *b,
                   sn_err *err)
{
    size_t live = 0;
    for (size_t i = 0; i < l->n; i++)
        live += !l->v[i].row->retracted;
    int rc = sn_buf_appendf(b, err, "\n%s\n", title);
    return rc != 0 || live > 0 ? rc : sn_buf_appendf(b, err, "  %s\n", none);
}

static const part allergy_head[] = {{"display", "", ""}, {"code", " (", ")"}};
static const field allergy_more[] = {
    {"category", "category"}, {"type", "type"}, {"criticality", "criticality"},
    {"clinical_status", "status"}, {"verification", "verification"},
    {"reaction_code", "reaction"}, {"severity", "severity"}, {"onset", "onset"}};
static const part problem_head[] = {{"display", "", ""}, {"code", " (", ")"}};
static const field problem_more[] = {
    {"category", "category"}, {"clinical_status", "status"}, {"verification", "verification"},
    {"significance", "significance"}, {"onset", "onset"}, {"abated", "abated"}};
static const part encounter_head[] = {{"start", "", ""}, {"class", "  ", ""},
                                      {"status", "  ", ""}};
static const field encounter_more[] = {{"end", "ended"}, {"location", "location"},
                                       {"type_code", "type"}, {"reason_code", "reason"}};
static const part observation_head[] = {{"effective", "", ""}, {"code", "  ", ""},
                                        {"value_num", "  ", ""},  {"unit", " ", ""},
                                        {"value_text", "  ", ""}, {"value_code", "  ", ""}};
static const field observation_more[] = {{"status", "status"}};
#define N(a) (sizeof(a) / sizeof((a)[0]))

int cli_record_text(node_store *st, const cli_record *rec, sn_buf *b, sn_err *err)
{
    int rc = header(st, rec, b, err);
    if (rc == 0)
        rc = banner(rec, b, err);
    if (rc == 0)
        rc = section("ALLERGIES", &rec->allergies, "no known allergies recorded", b, err);
    for (size_t i = 0; rc == 0 && i < rec->allergies.n; i++)
        rc = entry(st, &rec->allergies.v[i], allergy_head, N(allergy_head), allergy_more,
                   N(allergy_more), b, err);
    if (rc == 0)
        rc = section("PROBLEMS", &rec->problems, "none recorded", b, err);
    for (size_t i = 0; rc == 0 && i < rec->problems.n; i++)
        rc = entry(st, &rec->problems.v[i], problem_head, N(problem_head), problem_more,
                   N(problem_more), b, err);
    if (rc == 0)
        rc = section("ENCOUNTERS", &rec->encounters, "none recorded", b, err);
    for (size_t i = 0; rc == 0 && i < rec->encounters.n; i++) {
        rc = entry(st, &rec->encounters.v[i], encounter_head, N(encounter_head), encounter_more,
                   N(encounter_more), b, err);
        if (rc == 0)
            rc = notes_of(st, rec, rec->encounters.v[i].row->id, "      ", b, err);
    }
    size_t loose = 0;
    for (size_t i = 0; i < rec->notes.n; i++)
        loose += !attached(rec, rec->notes.v[i].row);
    if (rc == 0 && loose > 0)
        rc = sn_buf_append_str(b, "\nNOTES (in no encounter)\n", err);
    if (rc == 0 && loose > 0)
        rc = notes_of(st, rec, NULL, "  ", b, err);
    if (rc == 0)
        rc = section("OBSERVATIONS", &rec->observations, "none recorded", b, err);
    for (size_t i = 0; rc == 0 && i < rec->observations.n; i++)
        rc = entry(st, &rec->observations.v[i], observation_head, N(observation_head),
                   observation_more, N(observation_more), b, err);
    return rc;
}
