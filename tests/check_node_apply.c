/* tests/check_node_apply.c - foreign commits (DESIGN.md section 4): import in any order with
 * duplicates and gaps, exact import statistics, waiting commits, export against a peer's
 * vector, references to rows not yet held, bodies refused before anything is written,
 * newer schemas, far-future clocks, log and vector files, and rematerialization. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/hash.h"
#include "crdt/vv.h"
#include "node/logfile.h"
#include "node/store.h"
#include "schema/codec.h"
#include "schema/schema.h"
#include "tests/support.h"

Suite *node_apply_suite(void);

#define BASE_MS UINT64_C(1700000000000)
#define HOUR_MS UINT64_C(3600000)
#define ID_LEN SCHEMA_ID_LEN

/* `expr` fills the local `err`: it succeeds / fails with `code` and a message. */
#define CK_OK(expr)                                                                        \
    do {                                                                                   \
        sn_err_clear(&err);                                                                \
        int rc_ = (expr);                                                                  \
        ck_assert_msg(rc_ == 0, "%s: %s: %s", #expr, sn_err_name(rc_), err.msg);           \
    } while (0)
#define CK_FAILS(expr, code)                                                               \
    do {                                                                                   \
        sn_err_clear(&err);                                                                \
        int rc_ = (expr);                                                                  \
        ck_assert_msg(rc_ == (code) && err.msg[0] != '\0', "%s: got %s (%s), want %s",     \
                      #expr, sn_err_name(rc_), err.msg, sn_err_name(code));                \
    } while (0)

static char *g_dir; /* per test case, removed by the unchecked teardown even on failure */
static char g_author[] = "dr-hand";

static void dir_setup(void) { g_dir = test_tmpdir(); }
static void dir_teardown(void)
{
    test_rmtree(g_dir);
    free(g_dir);
    g_dir = NULL;
}

static void path_in(char *out, const char *name) { snprintf(out, 4096, "%s/%s", g_dir, name); }

/* ---- a test's stores and body lists, released together ------------------------------- */

typedef struct blist {
    node_body *v;
    size_t n, cap;
} blist;

typedef struct world {
    node_store *st[4];
    test_clock clock[4];
    char dir[4][4096];
    blist lists[8];
    int nst, nl;
} world;

/* Store number w->nst: fresh, in its own directory, its fake clock at `ms`. */
static node_store *add(world *w, uint64_t ms)
{
    static int serial;
    int i = w->nst++;
    ck_assert(i < 4);
    char sub[64];
    snprintf(sub, sizeof sub, "s%d-%d-%d", i, (int)getpid(), serial++);
    snprintf(w->dir[i], sizeof w->dir[i], "%s/%s", g_dir, sub);
    w->clock[i].ms = ms;
    return w->st[i] = test_store_new(g_dir, sub, &w->clock[i]);
}

/* Close store i and open it again with its clock at `ms`. */
static node_store *reopen(world *w, int i, uint64_t ms)
{
    sn_err err = SN_ERR_INIT;
    node_store_close(w->st[i]);
    w->st[i] = NULL;
    w->clock[i].ms = ms;
    node_open_opts o = {.now_ms = test_clock_now, .now_ctx = &w->clock[i],
                        .durability = NODE_FAST};
    CK_OK(node_store_open(&w->st[i], w->dir[i], &o, &err));
    return w->st[i];
}

static blist *lst(world *w)
{
    ck_assert(w->nl < 8);
    return &w->lists[w->nl++];
}

static void world_end(world *w)
{
    for (int i = 0; i < w->nst; i++)
        node_store_close(w->st[i]);
    for (int i = 0; i < w->nl; i++) {
        for (size_t k = 0; k < w->lists[i].n; k++)
            free((void *)(uintptr_t)w->lists[i].v[k].p);
        free(w->lists[i].v);
    }
}

static void push(blist *l, const uint8_t *p, size_t n)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        ck_assert_ptr_nonnull(l->v);
    }
    uint8_t *copy = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, p, n);
    l->v[l->n++] = (node_body){.p = copy, .n = n};
}

static int emit(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    (void)err;
    push(ctx, p, n);
    return 0;
}

/* What st holds beyond `peer` (NULL: everything). */
static blist *exp_list(world *w, node_store *st, const crdt_vv *peer)
{
    sn_err err = SN_ERR_INIT;
    blist *l = lst(w);
    CK_OK(node_store_export(st, peer, emit, l, &err));
    return l;
}

static crdt_vv held_of(node_store *st)
{
    sn_err err = SN_ERR_INIT;
    crdt_vv v = {0};
    CK_OK(node_store_held(st, &v, &err));
    return v;
}

static node_import_stats import_ok(node_store *st, const node_body *v, size_t n)
{
    sn_err err = SN_ERR_INIT;
    node_import_stats s;
    CK_OK(node_store_import(st, v, n, &s, &err));
    return s;
}

/* Everything `from` holds that `to` lacks. */
static void send(world *w, node_store *from, node_store *to)
{
    crdt_vv held = held_of(to);
    blist *l = exp_list(w, from, &held);
    import_ok(to, l->v, l->n);
    crdt_vv_free(&held);
}

static void peek(const node_body *b, crdt_origin *o, uint64_t *seq)
{
    sn_err err = SN_ERR_INIT;
    crdt_hlc hlc;
    uint32_t ver;
    CK_OK(schema_commit_peek(b->p, b->n, o, seq, &hlc, &ver, &err));
}

/* The body of (o, seq) in l. */
static node_body body_of(const blist *l, const crdt_origin *o, uint64_t seq)
{
    for (size_t i = 0; i < l->n; i++) {
        crdt_origin bo;
        uint64_t bs;
        peek(&l->v[i], &bo, &bs);
        if (bs == seq && crdt_origin_equal(&bo, o))
            return l->v[i];
    }
    ck_abort_msg("no body of seq %llu", (unsigned long long)seq);
    return (node_body){0};
}

/* Import statistics are exactly (received, stored, duplicates, waiting, applied, unknown). */
#define ST(s, rcv, sto, dup, wai, app, unk)                                                \
    ck_assert_msg(memcmp(&(s), &(node_import_stats){rcv, sto, dup, wai, app, unk},         \
                         sizeof(s)) == 0,                                                  \
                  "stats %zu %zu %zu %zu %zu %zu, want %s", (s).received, (s).stored,      \
                  (s).duplicates, (s).waiting, (s).applied, (s).unknown,                   \
                  #rcv " " #sto " " #dup " " #wai " " #app " " #unk)

/* ---- schema, local writes, reads ----------------------------------------------------- */

static uint16_t tbl(const char *name)
{
    const schema_table *t = schema_table_by_name(name);
    ck_assert_msg(t != NULL, "schema has no table %s", name);
    return t->id;
}

static uint16_t col(const char *tname, const char *cname)
{
    const schema_column *c = schema_column_by_name(schema_table_by_id(tbl(tname)), cname);
    ck_assert_msg(c != NULL, "schema has no column %s.%s", tname, cname);
    return c->id;
}

static schema_value txt(const char *s) { return schema_value_text(s); }

/* One local commit: an insert of a `tname` row with fields f (its id to `out`) when row
 * is NULL, else a set of f[0] on row. */
static node_commit_info write1(node_store *st, const char *tname, const uint8_t *row,
                               const schema_field *f, size_t n, uint8_t *out)
{
    sn_err err = SN_ERR_INIT;
    node_write *w = NULL;
    node_commit_info info = {0};
    CK_OK(node_write_begin(st, "dr-apply", NULL, &w, &err));
    if (row == NULL)
        CK_OK(node_write_insert(w, tbl(tname), f, n, out, &err));
    else
        CK_OK(node_write_set(w, tbl(tname), row, f[0].col, &f[0].value, &err));
    CK_OK(node_write_commit(w, &info, &err));
    return info;
}

static node_commit_info patient(node_store *st, const char *family, uint8_t id[ID_LEN])
{
    return write1(st, "patient", NULL, &(schema_field){col("patient", "family"), txt(family)}, 1,
                  id);
}

static node_commit_info set_text(node_store *st, const uint8_t *row, const char *cname,
                                 const char *text)
{
    return write1(st, "patient", row, &(schema_field){col("patient", cname), txt(text)}, 1, NULL);
}

static void retract(node_store *st, const uint8_t *target)
{
    uint8_t id[ID_LEN];
    schema_field f[2] = {{col("retraction", "target_id"), schema_value_id(target)},
                         {col("retraction", "reason"), txt("wrong patient")}};
    write1(st, "retraction", NULL, f, 2, id);
}

/* patient.cname of id as text ("" for nil) to out; returns whether the row is inserted. */
static bool shows(node_store *st, const uint8_t *id, const char *cname, char out[64])
{
    sn_err err = SN_ERR_INIT;
    node_row *r = NULL;
    CK_OK(node_store_row_get(st, tbl("patient"), id, &r, &err));
    const schema_value *v = &r->values[schema_column_index(r->table, col("patient", cname))];
    bool is_text = v->kind == SCHEMA_V_TEXT;
    snprintf(out, 64, "%.*s", is_text ? (int)v->u.s.n : 0, is_text ? (const char *)v->u.s.p : "");
    bool inserted = r->inserted;
    node_row_free(r);
    return inserted;
}

static void expect_absent(node_store *st, const uint8_t *id)
{
    sn_err err = SN_ERR_INIT;
    node_row *r = NULL;
    CK_FAILS(node_store_row_get(st, tbl("patient"), id, &r, &err), SN_ENOTFOUND);
}

/* ---- hand-made commits --------------------------------------------------------------- */

static crdt_origin origin_n(uint8_t n)
{
    crdt_origin o = {.epoch = 1};
    memset(o.replica, n, sizeof o.replica);
    return o;
}

static void push_commit(blist *l, const crdt_origin *o, uint64_t seq, crdt_hlc hlc,
                        uint32_t schema_version, schema_change *ch, size_t n)
{
    sn_err err = SN_ERR_INIT;
    schema_commit c = {.schema_version = schema_version, .origin = *o, .seq = seq, .hlc = hlc,
                       .author = g_author, .changes = ch, .nchanges = n};
    sn_buf b;
    sn_buf_init(&b, SCHEMA_COMMIT_MAX);
    CK_OK(schema_commit_encode(&c, &b, &err));
    push(l, b.data, b.len);
    sn_buf_free(&b);
}

static schema_change set_change(const char *tname, const uint8_t *row, const char *cname,
                                schema_value v)
{
    schema_change ch = {.op = SCHEMA_OP_SET, .table = tbl(tname), .col = col(tname, cname),
                        .value = v};
    memcpy(ch.row, row, ID_LEN);
    return ch;
}

/* ---- state ------------------------------------------------------------------------- */

static node_counts counts(node_store *st)
{
    sn_err err = SN_ERR_INIT;
    node_counts c;
    CK_OK(node_store_counts(st, &c, &err));
    return c;
}

static void digest(node_store *st, uint8_t out[16])
{
    sn_err err = SN_ERR_INIT;
    CK_OK(node_store_digest(st, out, &err));
}

static void same_digest(node_store *a, node_store *b, const char *what)
{
    uint8_t da[16], db[16];
    digest(a, da);
    digest(b, db);
    ck_assert_msg(memcmp(da, db, 16) == 0, "%s: digests differ", what);
}

typedef struct snap {
    node_counts counts;
    uint8_t digest[16];
    crdt_vv held;
} snap;

static snap snap_take(node_store *st)
{
    snap s = {.counts = counts(st), .held = held_of(st)};
    digest(st, s.digest);
    return s;
}

/* st holds what it held at *s (freed here) and passes its invariants. */
static void snap_expect(node_store *st, snap *s, const char *what)
{
    sn_err err = SN_ERR_INIT;
    snap now = snap_take(st);
    ck_assert_msg(memcmp(&now.counts, &s->counts, sizeof now.counts) == 0,
                  "%s: counts changed (%llu commits, was %llu)", what,
                  (unsigned long long)now.counts.commits, (unsigned long long)s->counts.commits);
    ck_assert_msg(crdt_vv_equal(&now.held, &s->held), "%s: held vector changed", what);
    ck_assert_msg(memcmp(now.digest, s->digest, 16) == 0, "%s: digest changed", what);
    CK_OK(node_store_check(st, &err));
    crdt_vv_free(&now.held);
    crdt_vv_free(&s->held);
}

/* Stores b and c edit one patient concurrently (a review conflict), c also inserts and
 * retracts another; b ends holding every commit. */
static void two_writers(world *w, node_store *b, node_store *c, uint8_t p[ID_LEN])
{
    uint8_t q[ID_LEN];
    patient(b, "Brown", p);
    send(w, b, c);
    for (int i = 0; i < w->nst; i++) /* b's edit is the earlier one by the clock */
        w->clock[i].ms += w->st[i] == b ? 10 : w->st[i] == c ? 20 : 0;
    set_text(b, p, "family", "Smith");
    set_text(c, p, "family", "Jones");
    set_text(c, p, "address", "1 High St");
    patient(c, "Other", q);
    retract(c, q);
    set_text(b, p, "given", "Ann");
    send(w, c, b);
    ck_assert_uint_ge(counts(b).conflicts, 1);
}

/* ===== import ======================================================================== */

/* _i = 0: reversed; otherwise shuffled by seed _i with duplicates, in 1 to 3 calls. */
START_TEST(test_import_any_order_converges)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS), *c = add(&w, BASE_MS);
    uint8_t p[ID_LEN];
    two_writers(&w, b, c, p);
    blist *all = exp_list(&w, b, NULL), *d = lst(&w);
    test_rng rng;
    test_rng_seed(&rng, (uint64_t)_i);
    for (size_t i = all->n; i-- > 0;) {
        push(d, all->v[i].p, all->v[i].n);
        if (_i != 0 && test_rng_below(&rng, 3) == 0) /* a duplicate */
            push(d, all->v[i].p, all->v[i].n);
    }
    for (size_t i = d->n; _i != 0 && i > 1; i--) {
        size_t j = test_rng_below(&rng, (uint32_t)i);
        node_body t = d->v[i - 1];
        d->v[i - 1] = d->v[j];
        d->v[j] = t;
    }
    size_t calls = _i == 0 ? 1 : 1 + test_rng_below(&rng, 3), at = 0;
    for (size_t k = 0; k < calls; k++) {
        size_t n = k + 1 == calls ? d->n - at : test_rng_below(&rng, (uint32_t)(d->n - at + 1));
        import_ok(a, d->v + at, n);
        at += n;
    }
    char what[64];
    snprintf(what, sizeof what, "seed %d, %zu bodies in %zu calls", _i, d->n, calls);
    same_digest(a, b, what);
    node_counts ca = counts(a);
    ck_assert_msg(ca.waiting == 0 && ca.commits == all->n && ca.conflicts == counts(b).conflicts,
                  "%s: waiting %llu, commits %llu", what, (unsigned long long)ca.waiting,
                  (unsigned long long)ca.commits);
    CK_OK(node_store_check(a, &err));
    world_end(&w);
}
END_TEST

START_TEST(test_import_stats_exact)
{
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS), *c = add(&w, BASE_MS);
    node_store *r = add(&w, BASE_MS);
    uint8_t p[ID_LEN], q[ID_LEN];
    patient(b, "Brown", p);
    set_text(b, p, "family", "Smith");
    set_text(b, p, "given", "Ann");
    patient(c, "Clark", q);
    set_text(c, q, "given", "Cy");
    blist *lb = exp_list(&w, b, NULL), *lc = exp_list(&w, c, NULL), *all = lst(&w);
    const crdt_origin *ob = node_store_origin(b), *oc = node_store_origin(c);
    node_body b1 = body_of(lb, ob, 1), b2 = body_of(lb, ob, 2), b3 = body_of(lb, ob, 3);
    node_body c1 = body_of(lc, oc, 1), c2 = body_of(lc, oc, 2);
    node_import_stats s = import_ok(a, (node_body[]){b3, c2}, 2);
    ST(s, 2, 2, 0, 2, 0, 0);
    s = import_ok(a, (node_body[]){b1, b3, b2, b1}, 4); /* b3 waits already; b1 twice */
    ST(s, 4, 2, 2, 1, 3, 0);
    s = import_ok(a, (node_body[]){c1, c2, b2}, 3);
    ST(s, 3, 1, 2, 0, 2, 0);
    import_ok(r, lb->v, lb->n);
    import_ok(r, lc->v, lc->n);
    same_digest(a, r, "out of order with duplicates vs in order");
    /* Everything again: all duplicates, nothing changes. */
    for (size_t i = 0; i < 5; i++)
        push(all, i < 3 ? lb->v[i].p : lc->v[i - 3].p, i < 3 ? lb->v[i].n : lc->v[i - 3].n);
    snap before = snap_take(a);
    s = import_ok(a, all->v, all->n);
    ST(s, 5, 0, 5, 0, 0, 0);
    snap_expect(a, &before, "second import of the same bodies");
    world_end(&w);
}
END_TEST

START_TEST(test_waiting_commits_survive_reopen)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS), *e = add(&w, BASE_MS);
    uint8_t p[ID_LEN];
    char v[64];
    patient(b, "Brown", p);
    const char *names[] = {"Smith", "Jones", "Clark", "Evans"};
    for (int i = 0; i < 4; i++)
        set_text(b, p, "family", names[i]);
    blist *l = exp_list(&w, b, NULL);
    const crdt_origin *ob = node_store_origin(b);
    node_body later[4] = {body_of(l, ob, 5), body_of(l, ob, 3), body_of(l, ob, 2),
                          body_of(l, ob, 4)};
    node_import_stats s = import_ok(a, later, 4);
    ST(s, 4, 4, 0, 4, 0, 0);
    for (int pass = 0; pass < 2; pass++) {
        node_counts n = counts(a);
        ck_assert(n.commits == 4 && n.waiting == 4);
        expect_absent(a, p);
        crdt_vv held = held_of(a), applied = {0};
        CK_OK(node_store_applied(a, &applied, &err));
        ck_assert(crdt_vv_get(&held, ob) == 0 && crdt_vv_get(&applied, ob) == 0);
        crdt_vv_free(&held);
        crdt_vv_free(&applied);
        CK_OK(node_store_check(a, &err));
        same_digest(a, e, "waiting commits are not state"); /* e holds nothing */
        a = reopen(&w, 0, BASE_MS);
    }
    s = import_ok(a, (node_body[]){body_of(l, ob, 1)}, 1);
    ST(s, 1, 1, 0, 0, 5, 0);
    ck_assert_uint_eq(counts(a).waiting, 0);
    ck_assert(shows(a, p, "family", v));
    ck_assert_str_eq(v, "Evans");
    same_digest(a, b, "after the gap was filled");
    world_end(&w);
}
END_TEST

START_TEST(test_export_emits_what_the_peer_lacks)
{
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS), *peer = add(&w, BASE_MS);
    uint8_t p[ID_LEN], q[ID_LEN];
    patient(a, "Adams", p);
    set_text(a, p, "given", "Al");
    set_text(a, p, "given", "Alan");
    patient(b, "Baker", q);
    for (int i = 0; i < 3; i++)
        set_text(b, q, "given", i == 0 ? "B" : i == 1 ? "Bo" : "Bob");
    send(&w, b, a);
    blist *all = exp_list(&w, a, NULL);
    const crdt_origin *o[2] = {node_store_origin(a), node_store_origin(b)};
    import_ok(peer, (node_body[]){body_of(all, o[0], 1), body_of(all, o[1], 1),
                                  body_of(all, o[1], 2)}, 3);
    crdt_vv held = held_of(peer);
    blist *l = exp_list(&w, a, &held);
    crdt_vv_free(&held);
    /* Exactly a's 2, 3 and b's 3, 4: per origin, in seq order, each origin in one run. */
    ck_assert_uint_eq(l->n, 4);
    uint64_t next[2] = {2, 3};
    int prev = -1;
    for (size_t i = 0; i < l->n; i++) {
        crdt_origin bo;
        uint64_t seq;
        peek(&l->v[i], &bo, &seq);
        int k = crdt_origin_equal(&bo, o[0]) ? 0 : crdt_origin_equal(&bo, o[1]) ? 1 : -1;
        ck_assert_msg(k >= 0, "body %zu of an origin a does not hold", i);
        ck_assert_msg(k == prev || next[k] == (k == 0 ? 2u : 3u), "origin %d not in one run", k);
        ck_assert_msg(seq == next[k]++, "body %zu has seq %llu", i, (unsigned long long)seq);
        prev = k;
    }
    ck_assert(next[0] == 4 && next[1] == 5);
    import_ok(peer, l->v, l->n);
    same_digest(a, peer, "after the export was imported");
    held = held_of(peer);
    ck_assert_uint_eq(exp_list(&w, a, &held)->n, 0);
    crdt_vv_free(&held);
    world_end(&w);
}
END_TEST

START_TEST(test_dangling_set_shown_then_inserted)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS), *d = add(&w, BASE_MS);
    uint8_t p[ID_LEN];
    char v[64];
    node_commit_info ins = patient(b, "Brown", p);
    blist *lb = exp_list(&w, b, NULL), *lc = lst(&w);
    /* Origin C saw b's insert and set the family; its commit 1 reaches a before the insert. */
    crdt_origin oc = origin_n(0xc3);
    schema_change ch = set_change("patient", p, "family", txt("Late"));
    CK_OK(crdt_vv_raise(&ch.ctx, node_store_origin(b), 1, &err));
    push_commit(lc, &oc, 1, ins.hlc + 10, SCHEMA_VERSION, &ch, 1);
    crdt_vv_free(&ch.ctx);

    node_import_stats s = import_ok(a, lc->v, 1);
    ST(s, 1, 1, 0, 0, 1, 0);
    ck_assert_msg(!shows(a, p, "family", v), "a row known only from a set shows as inserted");
    ck_assert_str_eq(v, "Late");
    uint16_t t = 0;
    CK_OK(node_store_row_table(a, p, &t, &err));
    ck_assert_uint_eq(t, tbl("patient"));
    node_cell *c = NULL;
    CK_OK(node_store_cell_get(a, tbl("patient"), p, col("patient", "family"), &c, &err));
    ck_assert(c->known && c->nsibs == 1 && crdt_origin_equal(&c->sibs[0].dot.origin, &oc));
    node_cell_free(c);
    CK_OK(node_store_check(a, &err));

    s = import_ok(a, lb->v, 1);
    ST(s, 1, 1, 0, 0, 1, 0);
    ck_assert_msg(shows(a, p, "family", v), "the insert arrived but the row is not inserted");
    ck_assert_str_eq(v, "Late"); /* the set saw the insert: it supersedes the insert's value */
    node_row *r = NULL;
    CK_OK(node_store_row_get(a, tbl("patient"), p, &r, &err));
    ck_assert(crdt_origin_equal(&r->dot.origin, node_store_origin(b)) && r->dot.seq == 1);
    ck_assert_str_eq(r->author, "dr-apply");
    node_row_free(r);
    CK_OK(node_store_cell_get(a, tbl("patient"), p, col("patient", "family"), &c, &err));
    ck_assert_msg(c->nsibs == 1 && !c->conflict, "the insert's family was covered by the set");
    node_cell_free(c);
    CK_OK(node_store_check(a, &err));
    import_ok(d, lb->v, 1); /* the other order gives the same state */
    import_ok(d, lc->v, 1);
    same_digest(a, d, "set before insert vs insert before set");
    world_end(&w);
}
END_TEST

/* ===== refusals ====================================================================== */

/* _i: the kind of bad body that ends a list of good ones. */
START_TEST(test_bad_body_refused_store_unchanged)
{
    static const struct {
        const char *name;
        int want;
    } kinds[] = {{"flipped byte", SN_ECORRUPT}, {"truncated", SN_ECORRUPT},
                 {"set on a fixed column", SN_EINVAL}, {"newer format", SN_EVERSION},
                 {"empty", SN_ECORRUPT}};
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    uint8_t p[ID_LEN], q[ID_LEN];
    patient(a, "Adams", q);
    patient(b, "Brown", p);
    set_text(b, p, "family", "Smith");
    set_text(b, p, "given", "Ann");
    blist *l = exp_list(&w, b, NULL);
    size_t ngood = l->n;
    crdt_origin ox = origin_n(0x0e);
    if (_i == 2 || _i == 3) {
        schema_change ch = _i == 2 ? set_change("patient_identifier", p, "system", txt("x"))
                                   : set_change("patient", p, "given", txt("Al"));
        push_commit(l, &ox, 1, CRDT_HLC_MAKE(BASE_MS, 0), SCHEMA_VERSION, &ch, 1);
    } else {
        push(l, l->v[ngood - 1].p, l->v[ngood - 1].n);
    }
    uint8_t *bad = (uint8_t *)(uintptr_t)l->v[ngood].p;
    if (_i == 0) {
        ck_assert_uint_eq(bad[3], 0xc4); /* element [2]: the bin 8 header of the replica */
        bad[3] ^= 0xff;
    } else if (_i == 1) {
        l->v[ngood].n -= 5;
    } else if (_i == 3) {
        ck_assert_uint_eq(bad[1], SCHEMA_FORMAT_VERSION); /* element [0]: the format */
        bad[1] = SCHEMA_FORMAT_VERSION + 1;
    } else if (_i == 4) {
        l->v[ngood].n = 0;
    }
    snap before = snap_take(a);
    CK_FAILS(node_store_import(a, l->v, l->n, NULL, &err), kinds[_i].want);
    char where[32];
    snprintf(where, sizeof where, "commit %zu of %zu", l->n, l->n);
    ck_assert_msg(strstr(err.msg, where) != NULL, "%s: message does not say '%s': %s",
                  kinds[_i].name, where, err.msg);
    snap_expect(a, &before, kinds[_i].name);
    expect_absent(a, p);
    node_import_stats s = import_ok(a, l->v, ngood); /* the good ones alone go in */
    ST(s, ngood, ngood, 0, 0, ngood, 0);
    world_end(&w);
}
END_TEST

START_TEST(test_own_origin_unknown_seq_refused)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS);
    uint8_t p[ID_LEN];
    patient(a, "Adams", p);
    set_text(a, p, "given", "Al");
    blist *own = exp_list(&w, a, NULL), *l = lst(&w);
    schema_change ch = set_change("patient", p, "family", txt("Forged"));
    push_commit(l, node_store_origin(a), 3, CRDT_HLC_MAKE(BASE_MS + 5, 0), SCHEMA_VERSION, &ch,
                1);
    snap before = snap_take(a);
    CK_FAILS(node_store_import(a, l->v, l->n, NULL, &err), SN_EINVAL);
    snap_expect(a, &before, "own origin, a seq never written");
    before = snap_take(a);
    node_import_stats s = import_ok(a, own->v, own->n); /* its real ones are duplicates */
    ST(s, 2, 0, 2, 0, 0, 0);
    snap_expect(a, &before, "own commits back");
    ck_assert_uint_eq(set_text(a, p, "family", "Real").seq, 3);
    world_end(&w);
}
END_TEST

/* ===== newer schema, clocks ========================================================== */

START_TEST(test_newer_schema_parts_kept_known_applied)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *relay = add(&w, BASE_MS);
    uint8_t p[ID_LEN], x[ID_LEN], d0[16], d1[16];
    char v[64];
    memset(p, 0x11, sizeof p);
    memset(x, 0x22, sizeof x);
    schema_field pf[3] = {{col("patient", "family"), txt("Newman")},
                          {col("patient", "given"), txt("Ada")},
                          {99, txt("from the future")}};
    schema_field xf[1] = {{1, schema_value_int(7)}};
    schema_change ch[2] = {{.op = SCHEMA_OP_INSERT, .table = 200, .fields = xf, .nfields = 1},
                           {.op = SCHEMA_OP_INSERT, .table = tbl("patient"), .fields = pf,
                            .nfields = 3}};
    memcpy(ch[0].row, x, ID_LEN);
    memcpy(ch[1].row, p, ID_LEN);
    blist *l = lst(&w);
    crdt_origin ox = origin_n(0x5e);
    push_commit(l, &ox, 1, CRDT_HLC_MAKE(BASE_MS, 0), SCHEMA_VERSION + 1, ch, 2);
    node_import_stats s = import_ok(a, l->v, 1);
    ST(s, 1, 1, 0, 0, 1, 1);
    ck_assert_uint_eq(counts(a).unknown, 1);
    ck_assert(shows(a, p, "family", v));
    ck_assert_str_eq(v, "Newman");
    shows(a, p, "given", v);
    ck_assert_str_eq(v, "Ada");
    uint16_t t = 0;
    CK_FAILS(node_store_row_table(a, x, &t, &err), SN_ENOTFOUND);
    CK_OK(node_store_check(a, &err));
    digest(a, d0);
    CK_OK(node_store_rematerialize(a, NULL, 0, &err));
    digest(a, d1);
    ck_assert_msg(memcmp(d0, d1, 16) == 0, "rematerialize changed the digest");
    blist *back = exp_list(&w, a, NULL); /* kept byte for byte, relayed as it came */
    ck_assert(back->n == 1 && back->v[0].n == l->v[0].n &&
              memcmp(back->v[0].p, l->v[0].p, l->v[0].n) == 0);
    s = import_ok(relay, back->v, 1);
    ST(s, 1, 1, 0, 0, 1, 1);
    same_digest(a, relay, "relayed newer-schema commit");
    world_end(&w);
}
END_TEST

/* A commit an hour ahead is applied and flags its origin, but the local clock does not
 * follow it, before or after a restart; one a second ahead is observed, not flagged. */
START_TEST(test_future_clocks)
{
    world w = {0};
    node_store *a = add(&w, BASE_MS), *far = add(&w, BASE_MS + HOUR_MS);
    node_store *near = add(&w, BASE_MS + 1000);
    uint8_t p[ID_LEN], q[ID_LEN], r[ID_LEN];
    char v[64];
    patient(a, "Adams", q);
    node_commit_info fh = patient(far, "Future", p);
    ck_assert_uint_eq(CRDT_HLC_MS(fh.hlc), BASE_MS + HOUR_MS);
    send(&w, far, a);
    ck_assert(shows(a, p, "family", v));
    ck_assert_str_eq(v, "Future");
    ck_assert_uint_eq(counts(a).skewed, 1);
    for (int pass = 0; pass < 2; pass++) {
        node_commit_info local = set_text(a, q, "given", pass ? "Bo" : "Al");
        ck_assert_msg(local.hlc < fh.hlc && CRDT_HLC_MS(local.hlc) == w.clock[0].ms,
                      "pass %d: the local clock followed a far-future commit: %llx (future %llx)",
                      pass, (unsigned long long)local.hlc, (unsigned long long)fh.hlc);
        a = reopen(&w, 0, BASE_MS + 5);
    }
    node_commit_info nh = patient(near, "Soon", r);
    send(&w, near, a);
    ck_assert(shows(a, r, "family", v));
    ck_assert_uint_eq(counts(a).skewed, 1); /* still only the far one */
    node_commit_info local = set_text(a, r, "given", "Cy");
    ck_assert_msg(local.hlc > nh.hlc, "a write after observing %llx got %llx",
                  (unsigned long long)nh.hlc, (unsigned long long)local.hlc);
    a = reopen(&w, 0, BASE_MS - 24 * HOUR_MS); /* what was observed survives a restart */
    ck_assert(set_text(a, r, "given", "Cyd").hlc > local.hlc);
    world_end(&w);
}
END_TEST

/* ===== log and vector files ========================================================== */

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert(n == 0 || fwrite(p, 1, n, f) == n);
    fclose(f);
}

START_TEST(test_logfile_round_trip)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS), *c = add(&w, BASE_MS);
    uint8_t p[ID_LEN];
    two_writers(&w, b, c, p);
    char path[4096];
    path_in(path, "all.outpostlog");
    size_t n = 0;
    CK_OK(node_logfile_export(b, NULL, path, &n, &err));
    ck_assert_uint_eq(n, counts(b).commits);
    node_import_stats s;
    CK_OK(node_logfile_import(a, path, &s, &err));
    ST(s, n, n, 0, 0, n, 0);
    same_digest(a, b, "after a log file");
    crdt_vv held = held_of(a); /* given a's vector nothing is left to carry */
    CK_OK(node_logfile_export(b, &held, path, &n, &err));
    crdt_vv_free(&held);
    ck_assert_uint_eq(n, 0);
    CK_OK(node_logfile_import(a, path, &s, &err));
    ST(s, 0, 0, 0, 0, 0, 0);
    world_end(&w);
}
END_TEST

/* _i: the kind of bad file. */
START_TEST(test_logfile_bad_file_refused)
{
    static const struct {
        const char *name;
        int want;
    } kinds[] = {{"flipped byte", SN_ECORRUPT}, {"truncated", SN_ECORRUPT},
                 {"empty", SN_ECORRUPT},        {"not a log", SN_ECORRUPT},
                 {"newer format", SN_EVERSION}, {"missing", SN_ENOTFOUND}};
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    uint8_t p[ID_LEN];
    patient(a, "Adams", p);
    patient(b, "Brown", p);
    set_text(b, p, "family", "Smith");
    char good[4096], path[4096], name[32];
    snprintf(name, sizeof name, "bad-%d.outpostlog", _i);
    path_in(good, "good.outpostlog");
    path_in(path, name);
    CK_OK(node_logfile_export(b, NULL, good, NULL, &err));
    uint8_t f[4096];
    FILE *in = fopen(good, "rb");
    ck_assert_ptr_nonnull(in);
    size_t n = fread(f, 1, sizeof f, in);
    fclose(in);
    ck_assert(n > 64 && n < sizeof f);
    switch (_i) {
    case 0: /* a byte of a value, so the body still decodes: only the checksum tells */
        ck_assert_ptr_nonnull(memmem(f, n, "Smith", 5));
        ((uint8_t *)memmem(f, n, "Smith", 5))[0] ^= 0x01;
        break;
    case 1: n -= 10; break;
    case 2: n = 0; break;
    case 3: n = (size_t)snprintf((char *)f, sizeof f, "sign-public 00112233\nnot a log\n"); break;
    case 4:
        f[8] = 2; /* the format byte, with the checksum made right again */
        sn_blake2b(f + n - 32, 32, f, n - 32);
        break;
    default: break;
    }
    if (_i != 5)
        write_bytes(path, f, n);
    snap before = snap_take(a);
    node_import_stats s;
    CK_FAILS(node_logfile_import(a, path, &s, &err), kinds[_i].want);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s: message does not name the file: %s",
                  kinds[_i].name, err.msg);
    snap_expect(a, &before, kinds[_i].name);
    CK_OK(node_logfile_import(a, good, &s, &err));
    ST(s, 2, 2, 0, 0, 2, 0);
    world_end(&w);
}
END_TEST

START_TEST(test_vecfile_round_trip_and_bad_lines)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    uint8_t p[ID_LEN];
    patient(b, "Brown", p);
    set_text(b, p, "given", "Ann");
    patient(a, "Adams", p);
    send(&w, b, a);
    crdt_vv held = held_of(a), back = {0}, empty = {0};
    ck_assert_uint_eq(held.n, 2);
    char path[4096], want[4200];
    path_in(path, "held.vec");
    CK_OK(node_vecfile_write(&held, path, &err));
    CK_OK(node_vecfile_read(&back, path, &err));
    ck_assert(crdt_vv_equal(&held, &back));
    CK_OK(node_vecfile_write(&empty, path, &err));
    CK_OK(node_vecfile_read(&back, path, &err));
    ck_assert_uint_eq(back.n, 0);
#define REPLICA "00112233445566778899aabbccddeeff"
    static const struct {
        const char *text;
        int line;
    } bad[] = {{"# held\n" REPLICA " 1 4\nnot a vector line\n", 3},
               {REPLICA " 1 4\n\n0011 1 4\n", 3},
               {"# seq 0 is no entry\n" REPLICA " 1 0\n", 2},
               {REPLICA " 1 4 extra\n", 1},
               {REPLICA " 1 -1\n", 1}};
#undef REPLICA
    crdt_vv_free(&held);
    world_end(&w);
    path_in(path, "bad.vec");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_bytes(path, bad[i].text, strlen(bad[i].text));
        snprintf(want, sizeof want, "%s:%d", path, bad[i].line);
        sn_err_clear(&err);
        int rc = node_vecfile_read(&back, path, &err);
        crdt_vv_free(&back);
        ck_assert_msg(rc == SN_EINVAL && strstr(err.msg, want) != NULL,
                      "case %zu read as %s (%s), want EINVAL naming %s: %s", i, sn_err_name(rc),
                      err.msg, want, bad[i].text);
    }
    path_in(path, "missing.vec");
    CK_FAILS(node_vecfile_read(&back, path, &err), SN_ENOTFOUND);
}
END_TEST

/* ===== rematerialize ================================================================= */

static void remat(node_store *st, const node_rowref *rows, size_t n, const uint8_t want[16],
                  const char *what)
{
    sn_err err = SN_ERR_INIT;
    uint8_t d[16];
    CK_OK(node_store_rematerialize(st, rows, n, &err));
    digest(st, d);
    ck_assert_msg(memcmp(d, want, 16) == 0, "%s: digest differs after rematerialize", what);
    CK_OK(node_store_check(st, &err));
}

START_TEST(test_rematerialize_keeps_digest)
{
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS), *c = add(&w, BASE_MS);
    uint8_t p[ID_LEN], q[ID_LEN], d0[16];
    char v[64];
    two_writers(&w, b, c, p);
    /* a gets c's own commits first (b's patient known from c's sets only), then b's. */
    blist *lc = exp_list(&w, c, NULL), *own = lst(&w);
    for (size_t i = 0; i < lc->n; i++) {
        crdt_origin o;
        uint64_t seq;
        peek(&lc->v[i], &o, &seq);
        if (crdt_origin_equal(&o, node_store_origin(c)))
            push(own, lc->v[i].p, lc->v[i].n);
    }
    import_ok(a, own->v, own->n);
    ck_assert(!shows(a, p, "family", v));
    send(&w, b, a);
    patient(a, "Adams", q);
    set_text(a, p, "phone", "0123");
    retract(a, q);
    node_counts before = counts(a);
    ck_assert_uint_ge(before.conflicts, 1);
    digest(a, d0);
    node_rowref some[2] = {{.table = tbl("patient")}, {.table = tbl("patient")}};
    memcpy(some[0].id, p, ID_LEN);
    memcpy(some[1].id, q, ID_LEN);
    remat(a, some, 2, d0, "two rows");
    remat(a, NULL, 0, d0, "every row");
    ck_assert_uint_eq(counts(a).conflicts, before.conflicts);
    world_end(&w);
}
END_TEST

/* Overwrite patient.family of row id in store.db, behind the engine's back. */
static void tamper(const char *dir, const uint8_t id[ID_LEN])
{
    char db[4200];
    snprintf(db, sizeof db, "%s/store.db", dir);
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    ck_assert_int_eq(sqlite3_prepare_v2(h, "UPDATE patient SET family = 'X' WHERE id = ?1", -1,
                                        &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(s, 1, id, ID_LEN, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
    ck_assert_int_eq(sqlite3_changes(h), 1);
    sqlite3_finalize(s);
    sqlite3_close(h);
}

START_TEST(test_rematerialize_repairs_tampered_rows)
{
    world w = {0};
    node_store *a = add(&w, BASE_MS);
    uint8_t p1[ID_LEN], p2[ID_LEN], d0[16], d1[16];
    char v[64];
    patient(a, "Brown", p1);        /* family as inserted: no cell of its own */
    patient(a, "Green", p2);
    set_text(a, p2, "family", "Grey"); /* family with a cell of its own */
    digest(a, d0);
    const uint8_t *rows[2] = {p1, p2};
    for (int i = 0; i < 2; i++) {
        tamper(w.dir[0], rows[i]);
        shows(a, rows[i], "family", v);
        ck_assert_str_eq(v, "X");
        digest(a, d1);
        ck_assert_msg(memcmp(d0, d1, 16) != 0, "row %d: digest blind to a tampered value", i);
        node_rowref ref = {.table = tbl("patient")};
        memcpy(ref.id, rows[i], ID_LEN);
        remat(a, i == 0 ? &ref : NULL, i == 0 ? 1 : 0, d0, i == 0 ? "the row" : "every row");
        shows(a, rows[i], "family", v);
        ck_assert_str_eq(v, i == 0 ? "Brown" : "Grey");
    }
    world_end(&w);
}
END_TEST

/* ===== suite ========================================================================= */

static TCase *tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_unchecked_fixture(tc, dir_setup, dir_teardown);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return tc;
}

Suite *node_apply_suite(void)
{
    Suite *s = suite_create("node_apply_suite");
    TCase *tc = tcase(s, "import");
    tcase_add_loop_test(tc, test_import_any_order_converges, 0, 8);
    tcase_add_test(tc, test_import_stats_exact);
    tcase_add_test(tc, test_waiting_commits_survive_reopen);
    tcase_add_test(tc, test_export_emits_what_the_peer_lacks);
    tcase_add_test(tc, test_dangling_set_shown_then_inserted);
    tc = tcase(s, "refusals");
    tcase_add_loop_test(tc, test_bad_body_refused_store_unchanged, 0, 5);
    tcase_add_test(tc, test_own_origin_unknown_seq_refused);
    tc = tcase(s, "schema_and_clock");
    tcase_add_test(tc, test_newer_schema_parts_kept_known_applied);
    tcase_add_test(tc, test_future_clocks);
    tc = tcase(s, "files");
    tcase_add_test(tc, test_logfile_round_trip);
    tcase_add_loop_test(tc, test_logfile_bad_file_refused, 0, 6);
    tcase_add_test(tc, test_vecfile_round_trip_and_bad_lines);
    tc = tcase(s, "rematerialize");
    tcase_add_test(tc, test_rematerialize_keeps_digest);
    tcase_add_test(tc, test_rematerialize_repairs_tampered_rows);
    return s;
}
