/* tests/crash_work.c - a seeded mix of local writes across the schema (see crash_work.h). */
#include "tests/crash_work.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "tests/node_fixture.h"

/* Schema ids, looked up once in the test process: the work itself never asserts. */
static struct {
    uint16_t patient, encounter, allergy, observation, condition, note, link, retraction;
    uint16_t p_family, p_given, p_birth, p_gender, p_phone, p_postcode, p_address;
    uint16_t e_patient, e_start, e_status, e_class, e_location;
    uint16_t a_patient, a_code, a_display, a_crit, a_status;
    uint16_t o_patient, o_code, o_effective, o_value, o_unit, o_status;
    uint16_t c_patient, c_code, c_status;
    uint16_t n_patient, n_heading, n_text;
    uint16_t l_patient, l_other, l_reason;
    uint16_t r_target, r_reason;
} S;

void crash_work_init_schema(void)
{
    S.patient = tbl("patient");
    S.encounter = tbl("encounter");
    S.allergy = tbl("allergy");
    S.observation = tbl("observation");
    S.condition = tbl("condition");
    S.note = tbl("clinical_note");
    S.link = tbl("patient_link");
    S.retraction = tbl("retraction");
    S.p_family = col("patient", "family");
    S.p_given = col("patient", "given");
    S.p_birth = col("patient", "birth_date");
    S.p_gender = col("patient", "gender");
    S.p_phone = col("patient", "phone");
    S.p_postcode = col("patient", "postcode");
    S.p_address = col("patient", "address");
    S.e_patient = col("encounter", "patient_id");
    S.e_start = col("encounter", "start");
    S.e_status = col("encounter", "status");
    S.e_class = col("encounter", "class");
    S.e_location = col("encounter", "location");
    S.a_patient = col("allergy", "patient_id");
    S.a_code = col("allergy", "code");
    S.a_display = col("allergy", "display");
    S.a_crit = col("allergy", "criticality");
    S.a_status = col("allergy", "clinical_status");
    S.o_patient = col("observation", "patient_id");
    S.o_code = col("observation", "code");
    S.o_effective = col("observation", "effective");
    S.o_value = col("observation", "value_num");
    S.o_unit = col("observation", "unit");
    S.o_status = col("observation", "status");
    S.c_patient = col("condition", "patient_id");
    S.c_code = col("condition", "code");
    S.c_status = col("condition", "clinical_status");
    S.n_patient = col("clinical_note", "patient_id");
    S.n_heading = col("clinical_note", "heading");
    S.n_text = col("clinical_note", "text");
    S.l_patient = col("patient_link", "patient_id");
    S.l_other = col("patient_link", "other_id");
    S.l_reason = col("patient_link", "reason");
    S.r_target = col("retraction", "target_id");
    S.r_reason = col("retraction", "reason");
}

void crash_work_start(crash_work *w, uint64_t seed, test_clock *clock, bool batches,
                      const crash_row *rows, size_t nrows)
{
    *w = (crash_work){.clock = clock, .batches = batches};
    test_rng_seed(&w->rng, seed);
    if (nrows > 0 && (w->rows = sn_mallocarray(nrows, sizeof *rows)) != NULL) {
        memcpy(w->rows, rows, nrows * sizeof *rows);
        w->nrows = w->cap = nrows;
    }
}

void crash_work_free(crash_work *w)
{
    sn_free(w->rows);
    *w = (crash_work){0};
}

static uint32_t rnd(crash_work *w, uint32_t n) { return test_rng_below(&w->rng, n); }

static const char *pick_text(crash_work *w, const char *const *codes, size_t n)
{
    return codes[rnd(w, (uint32_t)n)];
}
#define PICK(w, a) pick_text((w), (a), sizeof(a) / sizeof((a)[0]))

/* A random held row of `table` (0: any table); NULL when there is none. */
static const crash_row *pick_row(crash_work *w, uint16_t table)
{
    if (w->nrows == 0)
        return NULL;
    size_t start = rnd(w, (uint32_t)w->nrows);
    for (size_t k = 0; k < w->nrows; k++) {
        const crash_row *r = &w->rows[(start + k) % w->nrows];
        if (table == 0 || r->table == table)
            return r;
    }
    return NULL;
}

static int remember(crash_work *w, uint16_t table, const uint8_t id[SCHEMA_ID_LEN], sn_err *err)
{
    if (w->nrows == w->cap) {
        size_t cap = w->cap < 64 ? 64 : w->cap * 2;
        crash_row *a = sn_realloc(w->rows, cap * sizeof *a);
        if (a == NULL)
            return sn_err_set(err, SN_ENOMEM, "out of memory remembering rows");
        w->rows = a;
        w->cap = cap;
    }
    w->rows[w->nrows].table = table;
    memcpy(w->rows[w->nrows++].id, id, SCHEMA_ID_LEN);
    return 0;
}

/* One commit being built: the first row it inserts is what it reports. */
typedef struct draft {
    node_write *wr;
    crash_commit c;
    crash_row rows[3];
    size_t nrows;
} draft;

#define F(c, v) ((schema_field){.col = (c), .value = (v)})

static int insert(draft *d, uint16_t table, const schema_field *f, size_t n, sn_err *err)
{
    crash_row *r = &d->rows[d->nrows];
    int rc = node_write_insert(d->wr, table, f, n, r->id, err);
    if (rc == 0) {
        r->table = table;
        if (d->nrows++ == 0) {
            d->c.table = table;
            memcpy(d->c.id, r->id, SCHEMA_ID_LEN);
        }
    }
    return rc;
}

static int new_patient(crash_work *w, draft *d, sn_err *err)
{
    static const char *const gender[] = {"male", "female", "other", "unknown"};
    char family[32], birth[16];
    snprintf(family, sizeof family, "Family-%lu", w->made);
    snprintf(birth, sizeof birth, "19%02u-%02u-%02u", 30 + rnd(w, 70), 1 + rnd(w, 12),
             1 + rnd(w, 28));
    schema_field f[3] = {F(S.p_family, txt(family)), F(S.p_birth, txt(birth)),
                         F(S.p_gender, txt(PICK(w, gender)))};
    return insert(d, S.patient, f, 1 + rnd(w, 3), err);
}

/* A clinical record of some kind about an existing patient. */
static int new_clinical(crash_work *w, draft *d, const crash_row *p, sn_err *err)
{
    static const char *const status[] = {"planned", "arrived", "in-progress", "finished"};
    static const char *const cls[] = {"AMB", "VR", "HH", "FLD", "EMER"};
    static const char *const crit[] = {"low", "high", "unable-to-assess"};
    static const char *const heading[] = {"history", "examination", "plan", "comment"};
    char when[32], text[64];
    snprintf(when, sizeof when, "2024-%02u-%02uT%02u:%02uZ", 1 + rnd(w, 12), 1 + rnd(w, 28),
             rnd(w, 24), rnd(w, 60));
    snprintf(text, sizeof text, "written at commit %lu", w->made);
    schema_value pid = schema_value_id(p->id);
    switch (rnd(w, 5)) {
    case 0: {
        schema_field f[4] = {F(S.e_patient, pid), F(S.e_start, txt(when)),
                             F(S.e_status, txt(PICK(w, status))), F(S.e_class, txt(PICK(w, cls)))};
        return insert(d, S.encounter, f, 4, err);
    }
    case 1: {
        schema_field f[4] = {F(S.a_patient, pid), F(S.a_code, txt("91936005")),
                             F(S.a_crit, txt(PICK(w, crit))), F(S.a_display, txt(text))};
        return insert(d, S.allergy, f, 4, err);
    }
    case 2: {
        schema_field f[5] = {F(S.o_patient, pid), F(S.o_code, txt("75367002")),
                             F(S.o_effective, txt(when)),
                             F(S.o_value, schema_value_real(90 + rnd(w, 80))),
                             F(S.o_unit, txt("mm[Hg]"))};
        return insert(d, S.observation, f, 5, err);
    }
    case 3: {
        schema_field f[3] = {F(S.c_patient, pid), F(S.c_code, txt("38341003")),
                             F(S.c_status, txt("active"))};
        return insert(d, S.condition, f, 3, err);
    }
    default: {
        schema_field f[3] = {F(S.n_patient, pid), F(S.n_heading, txt(PICK(w, heading))),
                             F(S.n_text, txt(text))};
        return insert(d, S.note, f, 3, err);
    }
    }
}

/* An mv cell of an existing row set. */
static int set_cell(crash_work *w, draft *d, sn_err *err)
{
    static const char *const enc[] = {"arrived", "in-progress", "finished", "cancelled"};
    static const char *const crit[] = {"low", "high"};
    static const char *const astat[] = {"active", "inactive", "resolved"};
    static const char *const ostat[] = {"final", "amended", "corrected"};
    char text[48];
    snprintf(text, sizeof text, "set at commit %lu", w->made);
    const crash_row *r = pick_row(w, 0);
    uint16_t col;
    schema_value v = txt(text);
    if (r->table == S.encounter) {
        col = rnd(w, 2) ? S.e_status : S.e_location;
        if (col == S.e_status)
            v = txt(PICK(w, enc));
    } else if (r->table == S.allergy) {
        col = rnd(w, 2) ? S.a_crit : S.a_status;
        v = txt(col == S.a_crit ? PICK(w, crit) : PICK(w, astat));
    } else if (r->table == S.observation) {
        col = S.o_status;
        v = txt(PICK(w, ostat));
    } else {
        r = pick_row(w, S.patient);
        const uint16_t cols[] = {S.p_given, S.p_phone, S.p_postcode, S.p_address, S.p_family};
        col = cols[rnd(w, 5)];
    }
    return node_write_set(d->wr, r->table, r->id, col, &v, err);
}

static int link_patients(crash_work *w, draft *d, sn_err *err)
{
    const crash_row *a = pick_row(w, S.patient), *b = pick_row(w, S.patient);
    if (memcmp(a->id, b->id, SCHEMA_ID_LEN) == 0)
        return new_patient(w, d, err);
    schema_field f[3] = {F(S.l_patient, schema_value_id(a->id)),
                         F(S.l_other, schema_value_id(b->id)), F(S.l_reason, txt("same person"))};
    return insert(d, S.link, f, 3, err);
}

static int retract_row(crash_work *w, draft *d, sn_err *err)
{
    schema_field f[2] = {F(S.r_target, schema_value_id(pick_row(w, 0)->id)),
                         F(S.r_reason, txt("entered in error"))};
    return insert(d, S.retraction, f, 2, err);
}

/* The changes of one commit, drawn at random. */
static int draw_changes(crash_work *w, draft *d, sn_err *err)
{
    const crash_row *p = pick_row(w, S.patient);
    uint32_t op = rnd(w, 100);
    if (op < 15 || p == NULL)
        return new_patient(w, d, err);
    if (op < 45)
        return new_clinical(w, d, p, err);
    if (op < 75)
        return set_cell(w, d, err);
    if (op < 83)
        return retract_row(w, d, err);
    if (op < 90)
        return link_patients(w, d, err);
    /* Several changes: a new patient, a record about an existing one, a cell set. */
    int rc = new_patient(w, d, err);
    if (rc == 0)
        rc = new_clinical(w, d, p, err);
    if (rc == 0)
        rc = set_cell(w, d, err);
    return rc;
}

static int one_commit(crash_work *w, node_store *st, crash_commit *out, sn_err *err)
{
    draft d = {0};
    if (w->clock != NULL)
        w->clock->ms++;
    int rc = node_write_begin(st, "dr-crash", NULL, &d.wr, err);
    if (rc == 0)
        rc = draw_changes(w, &d, err);
    node_commit_info info = {0};
    if (rc == 0)
        rc = node_write_commit(d.wr, &info, err);
    else
        node_write_abort(d.wr);
    if (rc != 0) {
        sn_err_prefix(err, "commit %lu of the crash work", w->made + 1);
        return rc;
    }
    w->made++;
    for (size_t i = 0; i < d.nrows && rc == 0; i++)
        rc = remember(w, d.rows[i].table, d.rows[i].id, err);
    *out = d.c;
    out->origin = *node_store_origin(st);
    out->seq = info.seq;
    return rc;
}

int crash_work_run(crash_work *w, node_store *st, size_t n, crash_commit_fn fn, void *ctx,
                   sn_err *err)
{
    crash_commit batch[8];
    int rc = 0;
    for (size_t done = 0; done < n && rc == 0;) {
        size_t k = 1;
        bool in_batch = w->batches && n - done >= 3 && rnd(w, 100) < 10;
        if (in_batch) {
            k = 3 + rnd(w, 6);
            if (k > n - done)
                k = n - done;
            rc = node_store_batch_begin(st, err);
        }
        for (size_t i = 0; i < k && rc == 0; i++)
            rc = one_commit(w, st, &batch[i], err);
        if (in_batch && rc == 0)
            rc = node_store_batch_commit(st, err);
        else if (in_batch)
            node_store_batch_abort(st);
        for (size_t i = 0; i < k && rc == 0 && fn != NULL; i++)
            rc = fn(ctx, &batch[i]);
        done += k;
    }
    return rc;
}
