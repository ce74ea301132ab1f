/* tests/check_node_history.c - the commit log read as history (node/history.h): commits in
 * time order with their author and enterer, the user and patient filters (a patient's own
 * rows, rows pointing at it, sets on those rows, retractions naming it, and patients linked
 * to it), the patient a change is about, linked components, and duplicate candidates. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "node/history.h"
#include "node/store.h"
#include "schema/schema.h"
#include "tests/node_fixture.h"
#include "tests/support.h"

/* ===== writing with a chosen author ====================================================== */

static node_write *begin(node_store *st, const char *author, const char *entered_by)
{
    sn_err err = SN_ERR_INIT;
    node_write *w = NULL;
    CK_OK(node_write_begin(st, author, entered_by, &w, &err));
    return w;
}

static uint64_t finish(node_write *w)
{
    sn_err err = SN_ERR_INIT;
    node_commit_info info = {0};
    CK_OK(node_write_commit(w, &info, &err));
    return info.seq;
}

/* One commit by author (entered by `by`, or NULL) inserting a `tname` row; its seq. */
static uint64_t ins_by(node_store *st, const char *author, const char *by, const char *tname,
                       const schema_field *f, size_t n, uint8_t id[ID_LEN])
{
    sn_err err = SN_ERR_INIT;
    node_write *w = begin(st, author, by);
    CK_OK(node_write_insert(w, tbl(tname), f, n, id, &err));
    return finish(w);
}

/* One commit by author setting tname.cname of `row` to the text (or code) `text`. */
static uint64_t set_by(node_store *st, const char *author, const char *tname,
                       const uint8_t *row, const char *cname, const char *text)
{
    sn_err err = SN_ERR_INIT;
    node_write *w = begin(st, author, NULL);
    schema_value v = txt(text);
    CK_OK(node_write_set(w, tbl(tname), row, col(tname, cname), &v, &err));
    return finish(w);
}

static uint64_t patient_by(node_store *st, const char *author, const char *family,
                           uint8_t id[ID_LEN])
{
    schema_field f = fld("patient", "family", txt(family));
    return ins_by(st, author, NULL, "patient", &f, 1, id);
}

/* A retraction of target naming `patient` (NULL: none), by author. */
static uint64_t retract_by(node_store *st, const char *author, const uint8_t *target,
                           const uint8_t *patient, uint8_t id[ID_LEN])
{
    schema_field f[3] = {fld("retraction", "target_id", schema_value_id(target)),
                         fld("retraction", "reason", txt("entered in error"))};
    if (patient != NULL)
        f[2] = fld("retraction", "patient_id", schema_value_id(patient));
    return ins_by(st, author, NULL, "retraction", f, patient != NULL ? 3 : 2, id);
}

static uint64_t link_by(node_store *st, const char *author, const uint8_t *a, const uint8_t *b,
                        uint8_t id[ID_LEN])
{
    schema_field f[3] = {fld("patient_link", "patient_id", schema_value_id(a)),
                         fld("patient_link", "other_id", schema_value_id(b)),
                         fld("patient_link", "reason", txt("same person"))};
    return ins_by(st, author, NULL, "patient_link", f, 3, id);
}

/* ===== reading the log ================================================================== */

typedef struct log_entry {
    uint64_t seq;
    crdt_hlc hlc;
    char author[80];
    char entered_by[80]; /* "" when the author entered it */
} log_entry;

typedef struct log_list {
    log_entry v[32];
    size_t n;
} log_list;

static int collect_commit(void *ctx, const schema_commit *c, sn_err *err)
{
    (void)err;
    log_list *l = ctx;
    ck_assert(l->n < 32);
    log_entry *e = &l->v[l->n++];
    e->seq = c->seq;
    e->hlc = c->hlc;
    snprintf(e->author, sizeof e->author, "%s", c->author);
    snprintf(e->entered_by, sizeof e->entered_by, "%s",
             c->entered_by != NULL ? c->entered_by : "");
    return 0;
}

static log_list log_of(node_store *st, const uint8_t *patient, const char *user)
{
    sn_err err = SN_ERR_INIT;
    log_list l = {0};
    node_log_filter f = {.patient = patient, .user = user};
    CK_OK(node_store_log_each(st, &f, collect_commit, &l, &err));
    return l;
}

/* The log of st filtered by (patient, user) lists exactly the seqs want[0..n), in order. */
static void expect_log(node_store *st, const uint8_t *patient, const char *user,
                       const uint64_t *want, size_t n, const char *what)
{
    log_list l = log_of(st, patient, user);
    char got[256] = "", *p = got;
    for (size_t i = 0; i < l.n && p < got + sizeof got - 24; i++)
        p += snprintf(p, 24, " %llu", (unsigned long long)l.v[i].seq);
    ck_assert_msg(l.n == n, "%s: commits%s (%zu), want %zu", what, got, l.n, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(l.v[i].seq == want[i], "%s: commits%s, want seq %llu at %zu", what, got,
                      (unsigned long long)want[i], i);
}

#define SEQS(...)                                                                          \
    ((const uint64_t[]){__VA_ARGS__}),                                                     \
        (sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t))

/* The scenario: A and B (later linked) and an unrelated C, with rows of each.
 *   1 dr.a  insert A            7 dr.c  insert C
 *   2 dr.b  insert B            8 dr.c  set C.given
 *   3 dr.a  (entered by admin)  9 dr.a  retraction of the allergy, patient_id A
 *           allergy of A       10 admin link A-B
 *   4 dr.b  encounter of B     11 dr.c  encounter of C
 *   5 dr.b  set A.given        12 dr.b  set status of B's encounter
 *   6 dr.a  set allergy criticality */
typedef struct scene {
    node_store *st;
    test_clock clock;
    uint8_t a[ID_LEN], b[ID_LEN], c[ID_LEN], allergy[ID_LEN], enc_b[ID_LEN], enc_c[ID_LEN];
    uint8_t retraction[ID_LEN], link[ID_LEN];
} scene;

static uint64_t encounter_by(node_store *st, const char *author, const uint8_t *p,
                             uint8_t id[ID_LEN])
{
    schema_field f[2] = {fld("encounter", "patient_id", schema_value_id(p)),
                         fld("encounter", "start", txt("2024-03-01T10:00Z"))};
    return ins_by(st, author, NULL, "encounter", f, 2, id);
}

static void family_build(scene *x)
{
    x->clock.ms = BASE_MS;
    x->st = mk_tracked("history", &x->clock, NULL);
    node_store *st = x->st;
    ck_assert_uint_eq(patient_by(st, "dr.a", "Smith", x->a), 1);
    ck_assert_uint_eq(patient_by(st, "dr.b", "Smyth", x->b), 2);
    schema_field al[2] = {fld("allergy", "patient_id", schema_value_id(x->a)),
                          fld("allergy", "code", txt("372687004"))};
    ck_assert_uint_eq(ins_by(st, "dr.a", "admin", "allergy", al, 2, x->allergy), 3);
    ck_assert_uint_eq(encounter_by(st, "dr.b", x->b, x->enc_b), 4);
    ck_assert_uint_eq(set_by(st, "dr.b", "patient", x->a, "given", "Ann"), 5);
    ck_assert_uint_eq(set_by(st, "dr.a", "allergy", x->allergy, "criticality", "high"), 6);
    ck_assert_uint_eq(patient_by(st, "dr.c", "Jones", x->c), 7);
    ck_assert_uint_eq(set_by(st, "dr.c", "patient", x->c, "given", "Cy"), 8);
    ck_assert_uint_eq(retract_by(st, "dr.a", x->allergy, x->a, x->retraction), 9);
    ck_assert_uint_eq(link_by(st, "admin", x->a, x->b, x->link), 10);
    ck_assert_uint_eq(encounter_by(st, "dr.c", x->c, x->enc_c), 11);
    ck_assert_uint_eq(set_by(st, "dr.b", "encounter", x->enc_b, "status", "finished"), 12);
}

/* ===== the log =========================================================================== */

START_TEST(test_history_lists_commits_with_authors)
{
    scene x;
    family_build(&x);
    log_list l = log_of(x.st, NULL, NULL);
    ck_assert_uint_eq(l.n, 12);
    static const char *const authors[] = {"dr.a", "dr.b", "dr.a", "dr.b", "dr.b", "dr.a",
                                          "dr.c", "dr.c", "dr.a", "admin", "dr.c", "dr.b"};
    for (size_t i = 0; i < l.n; i++) {
        ck_assert_uint_eq(l.v[i].seq, i + 1);
        ck_assert_str_eq(l.v[i].author, authors[i]);
        ck_assert_str_eq(l.v[i].entered_by, i == 2 ? "admin" : "");
        if (i > 0)
            ck_assert_msg(l.v[i].hlc > l.v[i - 1].hlc, "commit %zu is not after %zu", i + 1, i);
    }
    /* A NULL filter is no filter. */
    sn_err err = SN_ERR_INIT;
    log_list all = {0};
    CK_OK(node_store_log_each(x.st, NULL, collect_commit, &all, &err));
    ck_assert_uint_eq(all.n, 12);
    close_tracked(x.st);
}
END_TEST

static int stop_after_one(void *ctx, const schema_commit *c, sn_err *err)
{
    (void)c;
    (void)err;
    (*(int *)ctx)++;
    return 3;
}

START_TEST(test_history_stops_on_nonzero)
{
    sn_err err = SN_ERR_INIT;
    scene x;
    family_build(&x);
    int calls = 0;
    ck_assert_int_eq(node_store_log_each(x.st, NULL, stop_after_one, &calls, &err), 3);
    ck_assert_int_eq(calls, 1);
    close_tracked(x.st);
}
END_TEST

/* Commits of two sites interleave by clock, not by origin. */
START_TEST(test_history_time_order_across_sites)
{
    world w = {0};
    node_store *x = add(&w, BASE_MS), *y = add(&w, BASE_MS);
    uint8_t id[ID_LEN];
    static const char *const order[] = {"x1", "y1", "x2", "y2", "x3"};
    for (int i = 0; i < 5; i++) {
        bool on_x = order[i][0] == 'x';
        w.clock[on_x ? 0 : 1].ms = BASE_MS + 1000 * (uint64_t)(i + 1);
        patient_by(on_x ? x : y, order[i], "Site", id);
    }
    deliver(y, x);
    log_list l = log_of(x, NULL, NULL);
    ck_assert_uint_eq(l.n, 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_msg(strcmp(l.v[i].author, order[i]) == 0, "commit %zu is by %s, want %s", i,
                      l.v[i].author, order[i]);
    world_end(&w);
}
END_TEST

START_TEST(test_history_user_filter)
{
    scene x;
    family_build(&x);
    expect_log(x.st, NULL, "dr.a", SEQS(1, 3, 6, 9), "dr.a");
    expect_log(x.st, NULL, "admin", SEQS(3, 10), "admin (entered by, and author)");
    expect_log(x.st, NULL, "dr.b", SEQS(2, 4, 5, 12), "dr.b");
    expect_log(x.st, NULL, "dr.c", SEQS(7, 8, 11), "dr.c");
    log_list none = log_of(x.st, NULL, "dr.zz");
    ck_assert_uint_eq(none.n, 0);
    none = log_of(x.st, NULL, "dr"); /* whole ids only */
    ck_assert_uint_eq(none.n, 0);
    close_tracked(x.st);
}
END_TEST

START_TEST(test_history_patient_filter)
{
    scene x;
    family_build(&x);
    /* A: its insert, its allergy, the set on it and on its allergy, the retraction naming
     * it, the link; and, B being linked to A, B's insert, encounter and its set. */
    expect_log(x.st, x.a, NULL, SEQS(1, 2, 3, 4, 5, 6, 9, 10, 12), "patient A");
    expect_log(x.st, x.b, NULL, SEQS(1, 2, 3, 4, 5, 6, 9, 10, 12), "patient B (linked to A)");
    expect_log(x.st, x.c, NULL, SEQS(7, 8, 11), "patient C");
    expect_log(x.st, x.a, "dr.a", SEQS(1, 3, 6, 9), "patient A by dr.a");
    expect_log(x.st, x.a, "admin", SEQS(3, 10), "patient A by admin");
    expect_log(x.st, x.c, "dr.b", NULL, 0, "patient C by dr.b");
    /* A patient this store does not hold has no history. */
    uint8_t nobody[ID_LEN];
    memset(nobody, 0xee, sizeof nobody);
    expect_log(x.st, nobody, NULL, NULL, 0, "unknown patient");

    /* Once the link is retracted, B's commits are B's alone. */
    uint8_t r[ID_LEN];
    ck_assert_uint_eq(retract_by(x.st, "admin", x.link, x.a, r), 13);
    expect_log(x.st, x.a, NULL, SEQS(1, 3, 5, 6, 9, 10, 13), "A after unlinking");
    log_list lb = log_of(x.st, x.b, NULL);
    for (size_t i = 0; i < lb.n; i++)
        ck_assert_msg(lb.v[i].seq != 1 && lb.v[i].seq != 3 && lb.v[i].seq != 5,
                      "A's commit %llu is in B's history after unlinking",
                      (unsigned long long)lb.v[i].seq);
    close_tracked(x.st);
}
END_TEST

/* A link is about both of its patients ("commits touching this patient", history.h): the
 * commit asserting it stays in the history of its `other_id` patient after the link is
 * retracted, as it does for its `patient_id` patient. */
START_TEST(test_history_link_shows_for_both_patients)
{
    scene x;
    family_build(&x);
    uint8_t r[ID_LEN];
    ck_assert_uint_eq(retract_by(x.st, "admin", x.link, x.a, r), 13);
    expect_log(x.st, x.b, NULL, SEQS(2, 4, 10, 12), "B after unlinking");
    close_tracked(x.st);
}
END_TEST

/* ===== the patient of a change ============================================================ */

static void expect_change(node_store *st, const schema_change *ch, const uint8_t *want,
                          const char *what)
{
    sn_err err = SN_ERR_INIT;
    uint8_t out[ID_LEN];
    bool found = !want;
    CK_OK(node_change_patient(st, ch, out, &found, &err));
    ck_assert_msg(found == (want != NULL), "%s: found %d", what, (int)found);
    if (want != NULL)
        ck_assert_msg(memcmp(out, want, ID_LEN) == 0, "%s: another patient", what);
    ck_assert_msg(err.code == 0 && err.msg[0] == '\0', "%s: err left set: %s", what, err.msg);
}

START_TEST(test_history_change_patient)
{
    scene x;
    family_build(&x);
    schema_change ch = {.op = SCHEMA_OP_INSERT, .table = tbl("patient")};
    memcpy(ch.row, x.c, ID_LEN);
    expect_change(x.st, &ch, x.c, "insert of a patient");

    schema_field f[2] = {fld("allergy", "code", txt("91936005")),
                         fld("allergy", "patient_id", schema_value_id(x.b))};
    ch = (schema_change){.op = SCHEMA_OP_INSERT, .table = tbl("allergy"), .fields = f,
                         .nfields = 2};
    memset(ch.row, 0x77, ID_LEN); /* not held: an insert names its patient itself */
    expect_change(x.st, &ch, x.b, "insert of an allergy");
    ch.nfields = 1;
    expect_change(x.st, &ch, NULL, "insert without a patient column");

    ch = (schema_change){.op = SCHEMA_OP_SET, .table = tbl("allergy"),
                         .col = col("allergy", "criticality"), .value = txt("low")};
    memcpy(ch.row, x.allergy, ID_LEN);
    expect_change(x.st, &ch, x.a, "set on an allergy");
    ch.table = tbl("encounter");
    ch.col = col("encounter", "status");
    memcpy(ch.row, x.enc_c, ID_LEN);
    expect_change(x.st, &ch, x.c, "set on an encounter");
    ch.table = tbl("patient");
    ch.col = col("patient", "given");
    memcpy(ch.row, x.b, ID_LEN);
    expect_change(x.st, &ch, x.b, "set on a patient");
    ch.table = tbl("allergy");
    memset(ch.row, 0x66, ID_LEN);
    expect_change(x.st, &ch, NULL, "set on a row not held");

    schema_field rf[2] = {fld("retraction", "target_id", schema_value_id(x.allergy)),
                          fld("retraction", "patient_id", schema_value_id(x.a))};
    ch = (schema_change){.op = SCHEMA_OP_INSERT, .table = tbl("retraction"), .fields = rf,
                         .nfields = 2};
    expect_change(x.st, &ch, x.a, "retraction naming its patient");
    ch.nfields = 1;
    expect_change(x.st, &ch, NULL, "retraction without patient_id");

    ch = (schema_change){.op = SCHEMA_OP_INSERT, .table = 999};
    expect_change(x.st, &ch, NULL, "unknown table");
    ch.op = SCHEMA_OP_SET;
    expect_change(x.st, &ch, NULL, "set in an unknown table");
    close_tracked(x.st);
}
END_TEST

/* ===== linked components ================================================================= */

typedef struct idv {
    uint8_t id[ID_LEN];
} idv;

static int idv_cmp(const void *a, const void *b) { return memcmp(a, b, ID_LEN); }

/* The component of p is exactly the set want[0..n), sorted by id. */
static void expect_component(node_store *st, const uint8_t *p, const idv *want, size_t n,
                             const char *what)
{
    sn_err err = SN_ERR_INIT;
    idv sorted[8];
    ck_assert(n <= 8);
    memcpy(sorted, want, n * sizeof *want);
    qsort(sorted, n, sizeof *sorted, idv_cmp);
    uint8_t (*ids)[ID_LEN] = NULL;
    size_t got = 99;
    CK_OK(node_store_patient_component(st, p, &ids, &got, &err));
    ck_assert_msg(got == n, "%s: %zu ids, want %zu", what, got, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(ids[i], sorted[i].id, ID_LEN) == 0, "%s: id %zu wrong or unsorted",
                      what, i);
    uint8_t canon[ID_LEN];
    CK_OK(node_store_patient_canonical(st, p, canon, &err));
    ck_assert_msg(memcmp(canon, sorted[0].id, ID_LEN) == 0, "%s: canonical is not the smallest",
                  what);
    sn_free(ids);
}

START_TEST(test_history_component)
{
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("component", &clock, NULL);
    idv a, b, c, d;
    uint8_t ab[ID_LEN], bc[ID_LEN], r[ID_LEN];
    patient_by(st, "dr.a", "Ames", a.id);
    patient_by(st, "dr.a", "Ames", b.id);
    patient_by(st, "dr.a", "Ames", c.id);
    patient_by(st, "dr.a", "Dee", d.id);
    expect_component(st, a.id, &a, 1, "A alone");
    link_by(st, "admin", a.id, b.id, ab);
    link_by(st, "admin", c.id, b.id, bc); /* C names B as other_id: links go both ways */
    expect_component(st, a.id, (idv[]){a, b, c}, 3, "A");
    expect_component(st, b.id, (idv[]){a, b, c}, 3, "B");
    expect_component(st, c.id, (idv[]){a, b, c}, 3, "C");
    expect_component(st, d.id, &d, 1, "D");
    retract_by(st, "admin", ab, NULL, r);
    expect_component(st, a.id, &a, 1, "A after unlinking A-B");
    expect_component(st, b.id, (idv[]){b, c}, 2, "B after unlinking A-B");
    expect_component(st, c.id, (idv[]){b, c}, 2, "C after unlinking A-B");
    /* Retracting the retraction restores the link. */
    uint8_t rr[ID_LEN];
    retract_by(st, "admin", r, NULL, rr);
    expect_component(st, a.id, (idv[]){a, b, c}, 3, "A after undoing the unlinking");
    close_tracked(st);
}
END_TEST

/* ===== duplicate candidates =============================================================== */

typedef struct dup_list {
    struct {
        uint8_t a[ID_LEN], b[ID_LEN];
        int score;
        char reason[96];
    } v[16];
    size_t n;
} dup_list;

static int collect_dup(void *ctx, const node_duplicate *d, sn_err *err)
{
    (void)err;
    dup_list *l = ctx;
    ck_assert(l->n < 16);
    memcpy(l->v[l->n].a, d->a, ID_LEN);
    memcpy(l->v[l->n].b, d->b, ID_LEN);
    l->v[l->n].score = d->score;
    snprintf(l->v[l->n].reason, sizeof l->v[l->n].reason, "%s", d->reason ? d->reason : "");
    l->n++;
    return 0;
}

/* A patient with these demographics (NULL: not given). */
static void dup_patient(node_store *st, const char *family, const char *birth,
                        const char *gender, const char *nhs, const char *status,
                        uint8_t id[ID_LEN])
{
    schema_field f[5];
    size_t n = 0;
    f[n++] = fld("patient", "family", txt(family));
    if (birth != NULL)
        f[n++] = fld("patient", "birth_date", txt(birth));
    if (gender != NULL)
        f[n++] = fld("patient", "gender", txt(gender));
    if (nhs != NULL)
        f[n++] = fld("patient", "nhs_number", txt(nhs));
    if (status != NULL)
        f[n++] = fld("patient", "nhs_number_status", txt(status));
    ins_by(st, "dr.a", NULL, "patient", f, n, id);
}

/* The pair {x, y} is listed exactly once, with `score`. */
static void expect_pair(const dup_list *l, const uint8_t *x, const uint8_t *y, int score,
                        const char *what)
{
    int seen = 0;
    for (size_t i = 0; i < l->n; i++) {
        bool xy = memcmp(l->v[i].a, x, ID_LEN) == 0 && memcmp(l->v[i].b, y, ID_LEN) == 0;
        bool yx = memcmp(l->v[i].a, y, ID_LEN) == 0 && memcmp(l->v[i].b, x, ID_LEN) == 0;
        if (!xy && !yx)
            continue;
        seen++;
        ck_assert_msg(l->v[i].score == score, "%s: score %d, want %d", what, l->v[i].score,
                      score);
        ck_assert_msg(l->v[i].reason[0] != '\0', "%s: no reason", what);
    }
    ck_assert_msg(seen == 1, "%s: listed %d times", what, seen);
}

START_TEST(test_history_duplicates)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("dups", &clock, NULL);
    uint8_t p[19][ID_LEN], link[ID_LEN], r1[ID_LEN], r2[ID_LEN];
    /* Same verified NHS number: 100. */
    dup_patient(st, "Able", "1970-01-01", "male", "9434765919", "01", p[0]);
    dup_patient(st, "Baker", "1971-02-02", "male", "9434765919", "01", p[1]);
    /* Same NHS number, one unverified: 80; same number, no status at all: 80. */
    dup_patient(st, "Cole", "1972-03-03", "female", "9000000009", "01", p[2]);
    dup_patient(st, "Cole", "1972-03-04", "female", "9000000009", "02", p[3]);
    dup_patient(st, "Dunn", NULL, NULL, "4010232137", NULL, p[4]);
    dup_patient(st, "Egan", NULL, NULL, "4010232137", NULL, p[5]);
    /* Same family name (other case), birth date and gender, no NHS numbers: 60. */
    dup_patient(st, "Jones", "1980-01-02", "female", NULL, NULL, p[6]);
    dup_patient(st, "JONES", "1980-01-02", "female", NULL, NULL, p[7]);
    /* ... but not with another gender or birth date. */
    dup_patient(st, "jones", "1980-01-02", "male", NULL, NULL, p[8]);
    dup_patient(st, "Jones", "1980-01-03", "female", NULL, NULL, p[9]);
    /* Verified NHS number and name, birth and gender all the same: once, at 100. */
    dup_patient(st, "Ford", "1990-05-05", "male", "9000000025", "01", p[10]);
    dup_patient(st, "Ford", "1990-05-05", "male", "9000000025", "01", p[11]);
    /* Already linked: not listed. */
    dup_patient(st, "Gray", "1960-06-06", "other", "9876543210", "01", p[12]);
    dup_patient(st, "Grey", "1960-06-06", "other", "9876543210", "01", p[13]);
    link_by(st, "admin", p[12], p[13], link);
    /* One of them retracted: not listed. */
    dup_patient(st, "Hart", "1950-07-07", "female", "9000000017", "01", p[14]);
    dup_patient(st, "Hart", "1950-07-07", "female", "9000000017", "01", p[15]);
    retract_by(st, "admin", p[15], p[15], r1);
    /* Unrelated. */
    dup_patient(st, "Irwin", "1985-08-08", "male", "9000000033", "01", p[16]);
    dup_patient(st, "Ivers", "1985-08-08", "male", "9000000041", "01", p[17]);
    dup_patient(st, "Jones", "1980-01-02", "unknown", "9123456787", "02", p[18]);

    dup_list l = {0};
    CK_OK(node_store_duplicates_each(st, collect_dup, &l, &err));
    expect_pair(&l, p[0], p[1], 100, "same verified NHS number");
    expect_pair(&l, p[10], p[11], 100, "same verified NHS number and name");
    expect_pair(&l, p[2], p[3], 80, "same NHS number, one unverified");
    expect_pair(&l, p[4], p[5], 80, "same NHS number, no status");
    expect_pair(&l, p[6], p[7], 60, "same family (case folded), birth and gender");
    ck_assert_msg(l.n == 5, "%zu pairs listed, want 5 (linked, retracted or unrelated listed)",
                  l.n);
    for (size_t i = 1; i < l.n; i++)
        ck_assert_msg(l.v[i].score <= l.v[i - 1].score, "pair %zu is stronger than pair %zu", i,
                      i - 1);

    /* Unlinking the linked pair brings it back. */
    retract_by(st, "admin", link, p[12], r2);
    l = (dup_list){0};
    CK_OK(node_store_duplicates_each(st, collect_dup, &l, &err));
    ck_assert_uint_eq(l.n, 6);
    expect_pair(&l, p[12], p[13], 100, "after unlinking");
    close_tracked(st);
}
END_TEST

Suite *node_history_suite(void);
Suite *node_history_suite(void)
{
    Suite *s = suite_create("node_history_suite");
    TCase *tc = tracked_tcase(s, "log");
    tcase_add_test(tc, test_history_lists_commits_with_authors);
    tcase_add_test(tc, test_history_stops_on_nonzero);
    tcase_add_test(tc, test_history_time_order_across_sites);
    tcase_add_test(tc, test_history_user_filter);
    tcase_add_test(tc, test_history_patient_filter);
    tcase_add_test(tc, test_history_link_shows_for_both_patients);
    tc = tracked_tcase(s, "patients");
    tcase_add_test(tc, test_history_change_patient);
    tcase_add_test(tc, test_history_component);
    tc = tracked_tcase(s, "duplicates");
    tcase_add_test(tc, test_history_duplicates);
    return s;
}
