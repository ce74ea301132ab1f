/* tests/check_node_review.c - review fields between real stores (DESIGN.md section 3):
 * concurrent edits of a `review` column show one winner and both siblings with a conflict
 * open on every node; a resolution clears it everywhere; a causally later edit
 * supersedes whatever the clocks say; a sibling that arrives after a resolution stays
 * open; `auto` columns never open a conflict; `ranked` columns display the safer value. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "node/store.h"
#include "schema/schema.h"
#include "tests/support.h"

Suite *node_review_suite(void);

#define BASE_MS UINT64_C(1700000000000)

static char *g_dir; /* per test case, removed by the unchecked teardown even on failure */

static void suite_setup(void) { g_dir = test_tmpdir(); }
static void suite_teardown(void)
{
    test_rmtree(g_dir);
    free(g_dir);
    g_dir = NULL;
}

/* A fresh store in its own subdirectory. */
static node_store *mk(const char *name, test_clock *clock)
{
    static int serial;
    char sub[64];
    snprintf(sub, sizeof sub, "%s-%d-%d", name, (int)getpid(), serial++);
    return test_store_new(g_dir, sub, clock);
}

/* --- moving commits ------------------------------------------------------------------ */

typedef struct bodies {
    node_body *v;
    uint8_t **own;
    size_t n, cap;
} bodies;

static int collect(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    (void)err;
    bodies *b = ctx;
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 16;
        b->v = realloc(b->v, b->cap * sizeof *b->v);
        b->own = realloc(b->own, b->cap * sizeof *b->own);
        ck_assert(b->v != NULL && b->own != NULL);
    }
    b->own[b->n] = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(b->own[b->n]);
    memcpy(b->own[b->n], p, n);
    b->v[b->n] = (node_body){.p = b->own[b->n], .n = n};
    b->n++;
    return 0;
}

/* Everything `from` holds that `to` lacks, by to's held vector. */
static void send(node_store *from, node_store *to)
{
    sn_err err = SN_ERR_INIT;
    crdt_vv held;
    crdt_vv_init(&held);
    ck_assert_msg(node_store_held(to, &held, &err) == 0, "held: %s", err.msg);
    bodies b = {0};
    ck_assert_msg(node_store_export(from, &held, collect, &b, &err) == 0, "export: %s", err.msg);
    if (b.n > 0)
        ck_assert_msg(node_store_import(to, b.v, b.n, NULL, &err) == 0, "import: %s", err.msg);
    for (size_t i = 0; i < b.n; i++)
        free(b.own[i]);
    free(b.v);
    free(b.own);
    crdt_vv_free(&held);
}

static void exchange(node_store *a, node_store *b)
{
    send(a, b);
    send(b, a);
}

/* --- writing ------------------------------------------------------------------------- */

static const schema_table *table(const char *name)
{
    const schema_table *t = schema_table_by_name(name);
    ck_assert_msg(t != NULL, "schema has no table %s", name);
    return t;
}

static uint16_t col(const char *tname, const char *cname)
{
    const schema_column *c = schema_column_by_name(table(tname), cname);
    ck_assert_msg(c != NULL, "schema has no column %s.%s", tname, cname);
    return c->id;
}

static void insert_patient(node_store *st, const char *family, uint8_t id[SCHEMA_ID_LEN])
{
    sn_err err = SN_ERR_INIT;
    node_write *w = NULL;
    ck_assert_msg(node_write_begin(st, "dr-review", NULL, &w, &err) == 0, "%s", err.msg);
    schema_field f = {.col = col("patient", "family"), .value = schema_value_text(family)};
    ck_assert_msg(node_write_insert(w, table("patient")->id, &f, 1, id, &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(node_write_commit(w, NULL, &err) == 0, "%s", err.msg);
}

static void insert_allergy(node_store *st, const uint8_t patient[SCHEMA_ID_LEN],
                           uint8_t id[SCHEMA_ID_LEN])
{
    sn_err err = SN_ERR_INIT;
    node_write *w = NULL;
    ck_assert_msg(node_write_begin(st, "dr-review", NULL, &w, &err) == 0, "%s", err.msg);
    schema_field f[2] = {
        {.col = col("allergy", "patient_id"), .value = schema_value_id(patient)},
        {.col = col("allergy", "code"), .value = schema_value_text("372687004")},
    };
    ck_assert_msg(node_write_insert(w, table("allergy")->id, f, 2, id, &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(node_write_commit(w, NULL, &err) == 0, "%s", err.msg);
}

/* One commit setting tname.cname of row to text; returns its hlc. */
static crdt_hlc set_text(node_store *st, const char *tname, const uint8_t row[SCHEMA_ID_LEN],
                         const char *cname, const char *text)
{
    sn_err err = SN_ERR_INIT;
    node_write *w = NULL;
    ck_assert_msg(node_write_begin(st, "dr-review", NULL, &w, &err) == 0, "%s", err.msg);
    schema_value v = schema_value_text(text);
    ck_assert_msg(node_write_set(w, table(tname)->id, row, col(tname, cname), &v, &err) == 0,
                  "set %s.%s = %s: %s", tname, cname, text, err.msg);
    node_commit_info info = {0};
    ck_assert_msg(node_write_commit(w, &info, &err) == 0, "%s", err.msg);
    return info.hlc;
}

/* --- reading ------------------------------------------------------------------------- */

static node_cell *cell(node_store *st, const char *tname, const uint8_t row[SCHEMA_ID_LEN],
                       const char *cname)
{
    sn_err err = SN_ERR_INIT;
    node_cell *c = NULL;
    ck_assert_msg(node_store_cell_get(st, table(tname)->id, row, col(tname, cname), &c,
                                      &err) == 0,
                  "cell_get %s.%s: %s", tname, cname, err.msg);
    return c;
}

static bool is_text(const schema_value *v, const char *s)
{
    return v->kind == SCHEMA_V_TEXT && v->u.s.n == strlen(s) && memcmp(v->u.s.p, s, v->u.s.n) == 0;
}

static const char *text_of(const schema_value *v, char *buf, size_t n)
{
    if (v->kind == SCHEMA_V_TEXT)
        snprintf(buf, n, "'%.*s'", (int)v->u.s.n, (const char *)v->u.s.p);
    else
        snprintf(buf, n, "(kind %d)", (int)v->kind);
    return buf;
}

static bool has_sibling(const node_cell *c, const char *s)
{
    for (size_t i = 0; i < c->nsibs; i++)
        if (is_text(&c->sibs[i].value, s))
            return true;
    return false;
}

static size_t count_conflicts_cb_n;
static int count_conflict(void *ctx, uint16_t t, const uint8_t row[SCHEMA_ID_LEN], uint16_t c,
                          sn_err *err)
{
    (void)err;
    const uint8_t *want = ctx;
    (void)t;
    (void)c;
    if (memcmp(row, want, SCHEMA_ID_LEN) == 0)
        count_conflicts_cb_n++;
    return 0;
}

/* Open conflicts listed for row. */
static size_t conflicts_on(node_store *st, const uint8_t row[SCHEMA_ID_LEN])
{
    sn_err err = SN_ERR_INIT;
    count_conflicts_cb_n = 0;
    ck_assert_msg(node_store_conflicts_each(st, count_conflict, (void *)(uintptr_t)row, &err) ==
                      0,
                  "conflicts_each: %s", err.msg);
    return count_conflicts_cb_n;
}

/* The cell on `st`: n siblings, each of `vals` among them, winner `win`, conflict flag,
 * and the row's display and conflict flag agree. */
static void expect(node_store *st, const char *who, const char *tname,
                   const uint8_t row[SCHEMA_ID_LEN], const char *cname, size_t n,
                   const char *const *vals, const char *win, bool conflict)
{
    node_cell *c = cell(st, tname, row, cname);
    char b[128];
    ck_assert_msg(c->known, "%s: %s.%s not known", who, tname, cname);
    ck_assert_msg(c->nsibs == n, "%s: %s.%s has %zu siblings, want %zu", who, tname, cname,
                  c->nsibs, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(has_sibling(c, vals[i]), "%s: %s.%s lacks sibling '%s'", who, tname, cname,
                      vals[i]);
    ck_assert_msg(is_text(&c->winner, win), "%s: %s.%s shows %s, want '%s'", who, tname, cname,
                  text_of(&c->winner, b, sizeof b), win);
    ck_assert_msg(c->conflict == conflict, "%s: %s.%s conflict %d, want %d", who, tname, cname,
                  c->conflict, conflict);
    node_cell_free(c);

    sn_err err = SN_ERR_INIT;
    node_row *r = NULL;
    ck_assert_msg(node_store_row_get(st, table(tname)->id, row, &r, &err) == 0, "row_get: %s",
                  err.msg);
    int k = schema_column_index(table(tname), col(tname, cname));
    ck_assert_msg(is_text(&r->values[k], win), "%s: row display of %s.%s is %s, want '%s'", who,
                  tname, cname, text_of(&r->values[k], b, sizeof b), win);
    ck_assert_msg(r->conflict[k] == conflict, "%s: row conflict flag of %s.%s is %d", who, tname,
                  cname, r->conflict[k]);
    node_row_free(r);
    ck_assert_msg(conflicts_on(st, row) == (conflict ? 1u : 0u),
                  "%s: conflicts_each lists %zu conflicts on the row, want %d", who,
                  conflicts_on(st, row), conflict ? 1 : 0);
}

static void same_digest(node_store *a, node_store *b)
{
    sn_err err = SN_ERR_INIT;
    uint8_t da[16], db[16];
    ck_assert_msg(node_store_digest(a, da, &err) == 0, "%s", err.msg);
    ck_assert_msg(node_store_digest(b, db, &err) == 0, "%s", err.msg);
    ck_assert_msg(memcmp(da, db, 16) == 0, "digests differ after exchange");
}

/* --- (1) and (2): concurrent edits, then a resolution on either node ----------------- */

START_TEST(test_review_concurrent_edits_conflict_on_both)
{
    test_clock ca = {BASE_MS}, cb = {BASE_MS};
    node_store *a = mk("a", &ca), *b = mk("b", &cb);
    uint8_t p[SCHEMA_ID_LEN];
    insert_patient(a, "Brown", p);
    exchange(a, b);
    ca.ms += 10;
    cb.ms += 20; /* B's edit is the later one by the clock */
    crdt_hlc ha = set_text(a, "patient", p, "family", "Smith");
    crdt_hlc hb = set_text(b, "patient", p, "family", "Jones");
    ck_assert(hb > ha);
    exchange(a, b);
    const char *both[] = {"Smith", "Jones"};
    expect(a, "A", "patient", p, "family", 2, both, "Jones", true);
    expect(b, "B", "patient", p, "family", 2, both, "Jones", true);
    same_digest(a, b);
    node_store_close(a);
    node_store_close(b);
}
END_TEST

START_TEST(test_review_resolution_clears_on_both)
{
    /* _i = 0: A resolves; _i = 1: B resolves. The resolution keeps the losing value, to
     * show that covering the siblings, not the value, is what closes the conflict. */
    test_clock ca = {BASE_MS}, cb = {BASE_MS};
    node_store *a = mk("a", &ca), *b = mk("b", &cb);
    uint8_t p[SCHEMA_ID_LEN];
    insert_patient(a, "Brown", p);
    exchange(a, b);
    ca.ms += 10;
    cb.ms += 20;
    set_text(a, "patient", p, "family", "Smith");
    set_text(b, "patient", p, "family", "Jones");
    exchange(a, b);
    node_store *resolver = _i == 0 ? a : b;
    ca.ms += 100;
    cb.ms += 100;
    set_text(resolver, "patient", p, "family", "Smith");
    const char *one[] = {"Smith"};
    expect(resolver, "resolver", "patient", p, "family", 1, one, "Smith", false);
    exchange(a, b);
    expect(a, "A", "patient", p, "family", 1, one, "Smith", false);
    expect(b, "B", "patient", p, "family", 1, one, "Smith", false);
    same_digest(a, b);
    node_store_close(a);
    node_store_close(b);
}
END_TEST

/* --- (3) causality beats the clock --------------------------------------------------- */

START_TEST(test_review_causal_edit_supersedes_despite_clock)
{
    test_clock ca = {BASE_MS}, cb = {BASE_MS - 60 * 60 * 1000}; /* B an hour behind */
    node_store *a = mk("a", &ca), *b = mk("b", &cb);
    uint8_t p[SCHEMA_ID_LEN];
    insert_patient(a, "Brown", p);
    ca.ms += 10;
    crdt_hlc ha = set_text(a, "patient", p, "family", "Alpha");
    send(a, b);
    cb.ms += 10;
    crdt_hlc hb = set_text(b, "patient", p, "family", "Beta");
    ck_assert_msg(hb < ha,
                  "B's write (hlc %llx) should carry an earlier time than A's (%llx): a remote "
                  "time beyond the skew limit must not drag B's clock forward",
                  (unsigned long long)hb, (unsigned long long)ha);
    exchange(a, b);
    const char *one[] = {"Beta"};
    expect(a, "A", "patient", p, "family", 1, one, "Beta", false);
    expect(b, "B", "patient", p, "family", 1, one, "Beta", false);
    node_cell *c = cell(a, "patient", p, "family");
    ck_assert(crdt_origin_equal(&c->sibs[0].dot.origin, node_store_origin(b)));
    node_cell_free(c);
    same_digest(a, b);
    node_store_close(a);
    node_store_close(b);
}
END_TEST

/* --- (4) a sibling arriving after a resolution stays open ---------------------------- */

START_TEST(test_review_late_sibling_reopens)
{
    test_clock ca = {BASE_MS}, cb = {BASE_MS}, cc = {BASE_MS};
    node_store *a = mk("a", &ca), *b = mk("b", &cb), *c = mk("c", &cc);
    uint8_t p[SCHEMA_ID_LEN];
    insert_patient(a, "Brown", p);
    send(a, b);
    send(a, c);
    ca.ms += 10;
    cb.ms += 20;
    cc.ms += 5;
    set_text(a, "patient", p, "family", "Smith");
    set_text(b, "patient", p, "family", "Jones");
    set_text(c, "patient", p, "family", "Clark"); /* C is offline */
    exchange(a, b);
    const char *ab[] = {"Smith", "Jones"};
    expect(a, "A", "patient", p, "family", 2, ab, "Jones", true);
    ca.ms += 100;
    set_text(a, "patient", p, "family", "Smith"); /* resolves what A was shown */
    const char *one[] = {"Smith"};
    expect(a, "A after resolving", "patient", p, "family", 1, one, "Smith", false);
    /* Now C comes back. */
    exchange(a, c);
    exchange(b, c);
    exchange(a, b);
    const char *open[] = {"Smith", "Clark"};
    node_store *all[3] = {a, b, c};
    const char *names[3] = {"A", "B", "C"};
    for (int i = 0; i < 3; i++)
        expect(all[i], names[i], "patient", p, "family", 2, open, "Smith", true);
    same_digest(a, c);
    same_digest(b, c);
    node_store_close(a);
    node_store_close(b);
    node_store_close(c);
}
END_TEST

/* --- (5) an auto column keeps siblings and opens no conflict ------------------------- */

START_TEST(test_auto_column_no_conflict)
{
    test_clock ca = {BASE_MS}, cb = {BASE_MS};
    node_store *a = mk("a", &ca), *b = mk("b", &cb);
    uint8_t p[SCHEMA_ID_LEN];
    insert_patient(a, "Brown", p);
    exchange(a, b);
    ca.ms += 30;
    cb.ms += 20;
    set_text(a, "patient", p, "address", "1 High Street");
    set_text(b, "patient", p, "address", "2 Low Road");
    exchange(a, b);
    const char *both[] = {"1 High Street", "2 Low Road"};
    expect(a, "A", "patient", p, "address", 2, both, "1 High Street", false);
    expect(b, "B", "patient", p, "address", 2, both, "1 High Street", false);
    same_digest(a, b);
    node_store_close(a);
    node_store_close(b);
}
END_TEST

/* --- (6) a ranked column shows the safer value whatever the clocks ------------------- */

START_TEST(test_ranked_column_confirmed_wins)
{
    /* _i = 0: the confirming write has the later hlc; _i = 1: the refuting one has. */
    test_clock ca = {BASE_MS}, cb = {BASE_MS};
    node_store *a = mk("a", &ca), *b = mk("b", &cb);
    uint8_t p[SCHEMA_ID_LEN], al[SCHEMA_ID_LEN];
    insert_patient(a, "Brown", p);
    insert_allergy(a, p, al);
    exchange(a, b);
    ca.ms += _i == 0 ? 50 : 10;
    cb.ms += _i == 0 ? 10 : 50;
    crdt_hlc hc = set_text(a, "allergy", al, "verification", "confirmed");
    crdt_hlc hr = set_text(b, "allergy", al, "verification", "refuted");
    ck_assert(_i == 0 ? hc > hr : hr > hc);
    exchange(a, b);
    const char *both[] = {"confirmed", "refuted"};
    expect(a, "A", "allergy", al, "verification", 2, both, "confirmed", true);
    expect(b, "B", "allergy", al, "verification", 2, both, "confirmed", true);
    same_digest(a, b);
    node_store_close(a);
    node_store_close(b);
}
END_TEST

Suite *node_review_suite(void)
{
    Suite *s = suite_create("node_review_suite");
    TCase *tc = tcase_create("review");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_review_concurrent_edits_conflict_on_both);
    tcase_add_loop_test(tc, test_review_resolution_clears_on_both, 0, 2);
    tcase_add_test(tc, test_review_causal_edit_supersedes_despite_clock);
    tcase_add_test(tc, test_review_late_sibling_reopens);
    suite_add_tcase(s, tc);
    TCase *tk = tcase_create("auto_and_ranked");
    tcase_add_unchecked_fixture(tk, suite_setup, suite_teardown);
    tcase_set_timeout(tk, 60);
    tcase_add_test(tk, test_auto_column_no_conflict);
    tcase_add_loop_test(tk, test_ranked_column_confirmed_wins, 0, 2);
    suite_add_tcase(s, tk);
    return s;
}
