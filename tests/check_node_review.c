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

/* Two or three nodes, A, B and C, each with its own store and fake clock. The stores keep
 * pointers to the clocks, so a `nodes` must stay where it is while they are open. */
typedef struct nodes {
    test_clock ca, cb, cc;
    node_store *a, *b, *c; /* c is NULL for two nodes */
} nodes;

/* Open `count` (2 or 3) fresh stores; A's and C's clocks start at BASE_MS, B's at b_ms. */
static void nodes_open(nodes *n, int count, uint64_t b_ms)
{
    ck_assert(count == 2 || count == 3);
    *n = (nodes){.ca = {BASE_MS}, .cb = {b_ms}, .cc = {BASE_MS}};
    n->a = mk("a", &n->ca);
    n->b = mk("b", &n->cb);
    if (count == 3)
        n->c = mk("c", &n->cc);
}

static void nodes_close(nodes *n)
{
    node_store_close(n->a);
    node_store_close(n->b);
    node_store_close(n->c);
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

/* One cell by names: table, row and column. */
typedef struct cellref {
    const char *table;
    const uint8_t *row; /* SCHEMA_ID_LEN bytes */
    const char *col;
} cellref;

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

/* One commit setting the cell to text; returns its hlc. */
static crdt_hlc set_text(node_store *st, cellref at, const char *text)
{
    sn_err err = SN_ERR_INIT;
    node_write *w = NULL;
    ck_assert_msg(node_write_begin(st, "dr-review", NULL, &w, &err) == 0, "%s", err.msg);
    schema_value v = schema_value_text(text);
    ck_assert_msg(node_write_set(w, table(at.table)->id, at.row, col(at.table, at.col), &v,
                                 &err) == 0,
                  "set %s.%s = %s: %s", at.table, at.col, text, err.msg);
    node_commit_info info = {0};
    ck_assert_msg(node_write_commit(w, &info, &err) == 0, "%s", err.msg);
    return info.hlc;
}

/* A patient, Brown, inserted on A and exchanged, so that both nodes hold it. */
static void patient_on_both(nodes *n, uint8_t id[SCHEMA_ID_LEN])
{
    insert_patient(n->a, "Brown", id);
    exchange(n->a, n->b);
}

typedef struct edit_hlcs {
    crdt_hlc a, b;
} edit_hlcs;

/* A and B each set the cell, neither having seen the other's edit; first A's clock moves
 * on by a_ms and B's by b_ms. Returns the two commits' hlcs. */
static edit_hlcs edit_concurrently(nodes *n, uint64_t a_ms, uint64_t b_ms, cellref at,
                                   const char *a_text, const char *b_text)
{
    n->ca.ms += a_ms;
    n->cb.ms += b_ms;
    edit_hlcs h;
    h.a = set_text(n->a, at, a_text);
    h.b = set_text(n->b, at, b_text);
    return h;
}

/* --- reading ------------------------------------------------------------------------- */

static node_cell *cell(node_store *st, cellref at)
{
    sn_err err = SN_ERR_INIT;
    node_cell *c = NULL;
    ck_assert_msg(node_store_cell_get(st, table(at.table)->id, at.row, col(at.table, at.col),
                                      &c, &err) == 0,
                  "cell_get %s.%s: %s", at.table, at.col, err.msg);
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
static void expect(node_store *st, const char *who, cellref at, size_t n,
                   const char *const *vals, const char *win, bool conflict)
{
    const char *tname = at.table, *cname = at.col;
    const uint8_t *row = at.row;
    node_cell *c = cell(st, at);
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

/* After the exchange: the cell as `expect` says on every node (named "A", "B", "C"), and
 * every node's digest equal to the last one's. */
static void expect_everywhere(const nodes *n, cellref at, size_t nsibs,
                              const char *const *vals, const char *win, bool conflict)
{
    node_store *all[3] = {n->a, n->b, n->c};
    const char *names[3] = {"A", "B", "C"};
    size_t count = n->c != NULL ? 3 : 2;
    for (size_t i = 0; i < count; i++)
        expect(all[i], names[i], at, nsibs, vals, win, conflict);
    for (size_t i = 0; i + 1 < count; i++)
        same_digest(all[i], all[count - 1]);
}

/* --- (1) and (2): concurrent edits, then a resolution on either node ----------------- */

START_TEST(test_review_concurrent_edits_conflict_on_both)
{
    nodes n;
    nodes_open(&n, 2, BASE_MS);
    uint8_t p[SCHEMA_ID_LEN];
    patient_on_both(&n, p);
    const cellref family = {"patient", p, "family"};
    /* B's edit is the later one by the clock. */
    edit_hlcs h = edit_concurrently(&n, 10, 20, family, "Smith", "Jones");
    ck_assert(h.b > h.a);
    exchange(n.a, n.b);
    const char *both[] = {"Smith", "Jones"};
    expect_everywhere(&n, family, 2, both, "Jones", true);
    nodes_close(&n);
}
END_TEST

START_TEST(test_review_resolution_clears_on_both)
{
    /* _i = 0: A resolves; _i = 1: B resolves. The resolution keeps the losing value, to
     * show that covering the siblings, not the value, is what closes the conflict. */
    nodes n;
    nodes_open(&n, 2, BASE_MS);
    uint8_t p[SCHEMA_ID_LEN];
    patient_on_both(&n, p);
    const cellref family = {"patient", p, "family"};
    edit_concurrently(&n, 10, 20, family, "Smith", "Jones");
    exchange(n.a, n.b);
    node_store *resolver = _i == 0 ? n.a : n.b;
    n.ca.ms += 100;
    n.cb.ms += 100;
    set_text(resolver, family, "Smith");
    const char *one[] = {"Smith"};
    expect(resolver, "resolver", family, 1, one, "Smith", false);
    exchange(n.a, n.b);
    expect_everywhere(&n, family, 1, one, "Smith", false);
    nodes_close(&n);
}
END_TEST

/* --- (3) causality beats the clock --------------------------------------------------- */

START_TEST(test_review_causal_edit_supersedes_despite_clock)
{
    nodes n;
    nodes_open(&n, 2, BASE_MS - 60 * 60 * 1000); /* B an hour behind */
    uint8_t p[SCHEMA_ID_LEN];
    insert_patient(n.a, "Brown", p);
    const cellref family = {"patient", p, "family"};
    n.ca.ms += 10;
    crdt_hlc ha = set_text(n.a, family, "Alpha");
    send(n.a, n.b);
    n.cb.ms += 10;
    crdt_hlc hb = set_text(n.b, family, "Beta");
    ck_assert_msg(hb < ha,
                  "B's write (hlc %llx) should carry an earlier time than A's (%llx): a remote "
                  "time beyond the skew limit must not drag B's clock forward",
                  (unsigned long long)hb, (unsigned long long)ha);
    exchange(n.a, n.b);
    const char *one[] = {"Beta"};
    expect_everywhere(&n, family, 1, one, "Beta", false);
    node_cell *c = cell(n.a, family);
    ck_assert(crdt_origin_equal(&c->sibs[0].dot.origin, node_store_origin(n.b)));
    node_cell_free(c);
    nodes_close(&n);
}
END_TEST

/* --- (4) a sibling arriving after a resolution stays open ---------------------------- */

START_TEST(test_review_late_sibling_reopens)
{
    nodes n;
    nodes_open(&n, 3, BASE_MS);
    uint8_t p[SCHEMA_ID_LEN];
    insert_patient(n.a, "Brown", p);
    send(n.a, n.b);
    send(n.a, n.c);
    const cellref family = {"patient", p, "family"};
    edit_concurrently(&n, 10, 20, family, "Smith", "Jones");
    n.cc.ms += 5;
    set_text(n.c, family, "Clark"); /* C is offline */
    exchange(n.a, n.b);
    const char *ab[] = {"Smith", "Jones"};
    expect(n.a, "A", family, 2, ab, "Jones", true);
    n.ca.ms += 100;
    set_text(n.a, family, "Smith"); /* resolves what A was shown */
    const char *one[] = {"Smith"};
    expect(n.a, "A after resolving", family, 1, one, "Smith", false);
    /* Now C comes back. */
    exchange(n.a, n.c);
    exchange(n.b, n.c);
    exchange(n.a, n.b);
    const char *open[] = {"Smith", "Clark"};
    expect_everywhere(&n, family, 2, open, "Smith", true);
    nodes_close(&n);
}
END_TEST

/* --- (5) an auto column keeps siblings and opens no conflict ------------------------- */

START_TEST(test_auto_column_no_conflict)
{
    nodes n;
    nodes_open(&n, 2, BASE_MS);
    uint8_t p[SCHEMA_ID_LEN];
    patient_on_both(&n, p);
    const cellref address = {"patient", p, "address"};
    edit_concurrently(&n, 30, 20, address, "1 High Street", "2 Low Road");
    exchange(n.a, n.b);
    const char *both[] = {"1 High Street", "2 Low Road"};
    expect_everywhere(&n, address, 2, both, "1 High Street", false);
    nodes_close(&n);
}
END_TEST

/* --- (6) a ranked column shows the safer value whatever the clocks ------------------- */

START_TEST(test_ranked_column_confirmed_wins)
{
    /* _i = 0: the confirming write has the later hlc; _i = 1: the refuting one has. */
    nodes n;
    nodes_open(&n, 2, BASE_MS);
    uint8_t p[SCHEMA_ID_LEN], al[SCHEMA_ID_LEN];
    insert_patient(n.a, "Brown", p);
    insert_allergy(n.a, p, al);
    exchange(n.a, n.b);
    const cellref verification = {"allergy", al, "verification"};
    edit_hlcs h = edit_concurrently(&n, _i == 0 ? 50 : 10, _i == 0 ? 10 : 50, verification,
                                    "confirmed", "refuted");
    ck_assert(_i == 0 ? h.a > h.b : h.b > h.a);
    exchange(n.a, n.b);
    const char *both[] = {"confirmed", "refuted"};
    expect_everywhere(&n, verification, 2, both, "confirmed", true);
    nodes_close(&n);
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
