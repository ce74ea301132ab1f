/* tests/node_fixture.c - the fixture shared by the node store suites (see node_fixture.h). */
#include "tests/node_fixture.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schema/codec.h"

/* ---- test cases and their directory ------------------------------------------------- */

char *g_dir; /* per test case, removed by the unchecked teardown even on failure */

void dir_setup(void) { g_dir = test_tmpdir(); }

void dir_setup_mem(void) { g_dir = test_tmpdir_mem(); }

void dir_teardown(void)
{
    test_rmtree(g_dir);
    free(g_dir);
    g_dir = NULL;
}

TCase *fixture_tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_unchecked_fixture(tc, dir_setup, dir_teardown);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return tc;
}

void path_in(char *out, const char *name) { snprintf(out, 4096, "%s/%s", g_dir, name); }

/* ---- stores ----------------------------------------------------------------------------- */

node_store *mk(const char *name, test_clock *clock, char *dir)
{
    static int serial;
    char sub[64];
    snprintf(sub, sizeof sub, "%s-%d-%d", name, (int)getpid(), serial++);
    if (dir != NULL)
        snprintf(dir, 4096, "%s/%s", g_dir, sub);
    return test_store_new(g_dir, sub, clock);
}

node_store *reopen(const char *dir, test_clock *clock)
{
    sn_err err = SN_ERR_INIT;
    node_open_opts o = OPTS(clock);
    node_store *st = NULL;
    CK_OK(node_store_open(&st, dir, &o, &err));
    return st;
}

/* ---- schema --------------------------------------------------------------------------- */

uint16_t tbl(const char *name)
{
    const schema_table *t = schema_table_by_name(name);
    ck_assert_msg(t != NULL, "schema has no table %s", name);
    return t->id;
}

uint16_t col(const char *tname, const char *cname)
{
    const schema_column *c = schema_column_by_name(schema_table_by_id(tbl(tname)), cname);
    ck_assert_msg(c != NULL, "schema has no column %s.%s", tname, cname);
    return c->id;
}

int cidx(const char *tname, const char *cname)
{
    return schema_column_index(schema_table_by_id(tbl(tname)), col(tname, cname));
}

schema_field fld(const char *tname, const char *cname, schema_value v)
{
    return (schema_field){.col = col(tname, cname), .value = v};
}

schema_value txt(const char *s) { return schema_value_text(s); }

bool is_text(const schema_value *v, const char *s)
{
    return v->kind == SCHEMA_V_TEXT && v->u.s.n == strlen(s) && memcmp(v->u.s.p, s, v->u.s.n) == 0;
}

/* ---- local writes --------------------------------------------------------------------- */

node_commit_info insert_row(node_store *st, const char *tname, const schema_field *f, size_t n,
                            uint8_t id[ID_LEN])
{
    sn_err err = SN_ERR_INIT;
    node_write *w = NULL;
    node_commit_info info = {0};
    CK_OK(node_write_begin(st, FX_AUTHOR, NULL, &w, &err));
    CK_OK(node_write_insert(w, tbl(tname), f, n, id, &err));
    CK_OK(node_write_commit(w, &info, &err));
    return info;
}

node_commit_info insert_patient(node_store *st, const char *family, uint8_t id[ID_LEN])
{
    schema_field f = fld("patient", "family", txt(family));
    return insert_row(st, "patient", &f, 1, id);
}

void insert_many(node_store *st, size_t n, uint8_t (*ids)[ID_LEN], uint64_t after)
{
    for (size_t i = 0; i < n; i++) {
        char family[32];
        snprintf(family, sizeof family, "P%03zu", i);
        ck_assert_uint_eq(insert_patient(st, family, ids[i]).seq, after + i + 1);
    }
}

node_commit_info set_text(node_store *st, const uint8_t *row, const char *cname,
                          const char *text)
{
    sn_err err = SN_ERR_INIT;
    node_write *w = NULL;
    node_commit_info info = {0};
    schema_value v = txt(text);
    CK_OK(node_write_begin(st, FX_AUTHOR, NULL, &w, &err));
    CK_OK(node_write_set(w, tbl("patient"), row, col("patient", cname), &v, &err));
    CK_OK(node_write_commit(w, &info, &err));
    return info;
}

void retract(node_store *st, const uint8_t *target, uint8_t *id)
{
    uint8_t own[ID_LEN];
    schema_field f[2] = {fld("retraction", "target_id", schema_value_id(target)),
                         fld("retraction", "reason", txt("entered in error"))};
    insert_row(st, "retraction", f, 2, id != NULL ? id : own);
}

/* ---- row reads ------------------------------------------------------------------------ */

node_row *row_of(node_store *st, const char *tname, const uint8_t *id)
{
    sn_err err = SN_ERR_INIT;
    node_row *r = NULL;
    CK_OK(node_store_row_get(st, tbl(tname), id, &r, &err));
    return r;
}

bool retracted(node_store *st, const char *tname, const uint8_t *id)
{
    node_row *r = row_of(st, tname, id);
    bool out = r->retracted;
    node_row_free(r);
    return out;
}

bool shows(node_store *st, const uint8_t *id, const char *cname, char out[64])
{
    node_row *r = row_of(st, "patient", id);
    const schema_value *v = &r->values[schema_column_index(r->table, col("patient", cname))];
    bool text = v->kind == SCHEMA_V_TEXT;
    snprintf(out, 64, "%.*s", text ? (int)v->u.s.n : 0, text ? (const char *)v->u.s.p : "");
    bool inserted = r->inserted;
    node_row_free(r);
    return inserted;
}

void expect_row(node_store *st, const uint8_t *id, bool present, const char *what)
{
    sn_err err = SN_ERR_INIT;
    node_row *r = NULL;
    int rc = node_store_row_get(st, tbl("patient"), id, &r, &err);
    ck_assert_msg(present ? rc == 0 : rc == SN_ENOTFOUND && err.msg[0] != '\0',
                  "%s: row_get gave %s (%s)", what, sn_err_name(rc), err.msg);
    node_row_free(r);
}

void expect_rows(node_store *st, size_t n, uint8_t (*ids)[ID_LEN], bool present)
{
    for (size_t i = 0; i < n; i++)
        expect_row(st, ids[i], present, "batch row");
}

/* ---- state ---------------------------------------------------------------------------- */

node_counts counts(node_store *st)
{
    sn_err err = SN_ERR_INIT;
    node_counts c;
    CK_OK(node_store_counts(st, &c, &err));
    return c;
}

void digest(node_store *st, uint8_t out[16])
{
    sn_err err = SN_ERR_INIT;
    CK_OK(node_store_digest(st, out, &err));
}

void expect_digests(node_store *a, node_store *b, bool equal, const char *what)
{
    uint8_t da[16], db[16];
    digest(a, da);
    digest(b, db);
    ck_assert_msg((memcmp(da, db, 16) == 0) == equal, "%s: digests %s", what,
                  equal ? "differ" : "are equal");
}

snap snap_take(node_store *st)
{
    snap s = {.counts = counts(st), .held = held_of(st)};
    digest(st, s.digest);
    return s;
}

void snap_expect(node_store *st, const snap *s, const char *what)
{
    sn_err err = SN_ERR_INIT;
    snap now = snap_take(st);
    ck_assert_msg(memcmp(&now.counts, &s->counts, sizeof now.counts) == 0,
                  "%s: counts changed (%llu commits, was %llu)", what,
                  (unsigned long long)now.counts.commits, (unsigned long long)s->counts.commits);
    ck_assert_msg(crdt_vv_equal(&now.held, &s->held), "%s: held vector changed", what);
    ck_assert_msg(memcmp(now.digest, s->digest, 16) == 0, "%s: digest changed", what);
    sn_err_clear(&err);
    ck_assert_msg(node_store_check(st, &err) == 0, "%s: check: %s", what, err.msg);
    snap_free(&now);
}

void snap_free(snap *s) { crdt_vv_free(&s->held); }

/* ---- commit bodies -------------------------------------------------------------------- */

void blist_push(blist *l, const uint8_t *p, size_t n)
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

int blist_emit(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    (void)err;
    blist_push(ctx, p, n);
    return 0;
}

void blist_free(blist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free((void *)(uintptr_t)l->v[i].p);
    free(l->v);
    *l = (blist){0};
}

crdt_vv held_of(node_store *st)
{
    sn_err err = SN_ERR_INIT;
    crdt_vv v = {0};
    CK_OK(node_store_held(st, &v, &err));
    return v;
}

node_import_stats import_ok(node_store *st, const node_body *v, size_t n)
{
    sn_err err = SN_ERR_INIT;
    node_import_stats s;
    CK_OK(node_store_import(st, v, n, &s, &err));
    return s;
}

void deliver(node_store *from, node_store *to)
{
    sn_err err = SN_ERR_INIT;
    crdt_vv held = held_of(to);
    blist l = {0};
    CK_OK(node_store_export(from, &held, blist_emit, &l, &err));
    import_ok(to, l.v, l.n);
    blist_free(&l);
    crdt_vv_free(&held);
}

void peek(const node_body *b, crdt_origin *o, uint64_t *seq)
{
    sn_err err = SN_ERR_INIT;
    crdt_hlc hlc;
    uint32_t ver;
    CK_OK(schema_commit_peek(b->p, b->n, o, seq, &hlc, &ver, &err));
}

node_body body_of(const blist *l, const crdt_origin *o, uint64_t seq)
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

/* ---- a test's stores and body lists, released together ---------------------------------- */

node_store *add(world *w, uint64_t ms)
{
    int i = w->nst++;
    ck_assert(i < 4);
    char name[16];
    snprintf(name, sizeof name, "s%d", i);
    w->clock[i].ms = ms;
    return w->st[i] = mk(name, &w->clock[i], w->dir[i]);
}

node_store *world_reopen(world *w, int i, uint64_t ms)
{
    node_store_close(w->st[i]);
    w->st[i] = NULL;
    w->clock[i].ms = ms;
    return w->st[i] = reopen(w->dir[i], &w->clock[i]);
}

blist *lst(world *w)
{
    ck_assert(w->nl < 8);
    return &w->lists[w->nl++];
}

blist *exp_list(world *w, node_store *st, const crdt_vv *peer)
{
    sn_err err = SN_ERR_INIT;
    blist *l = lst(w);
    CK_OK(node_store_export(st, peer, blist_emit, l, &err));
    return l;
}

void world_end(world *w)
{
    for (int i = 0; i < w->nst; i++)
        node_store_close(w->st[i]);
    for (int i = 0; i < w->nl; i++)
        blist_free(&w->lists[i]);
}

void two_writers(world *w, node_store *b, node_store *c, uint8_t p[ID_LEN])
{
    uint8_t q[ID_LEN];
    insert_patient(b, "Brown", p);
    deliver(b, c);
    for (int i = 0; i < w->nst; i++) /* b's edit is the earlier one by the clock */
        w->clock[i].ms += w->st[i] == b ? 10 : w->st[i] == c ? 20 : 0;
    set_text(b, p, "family", "Smith");
    set_text(c, p, "family", "Jones");
    set_text(c, p, "address", "1 High St");
    insert_patient(c, "Other", q);
    retract(c, q, NULL);
    set_text(b, p, "given", "Ann");
    deliver(c, b);
    ck_assert_uint_ge(counts(b).conflicts, 1);
}

/* ---- stores closed by the teardown ------------------------------------------------------ */

static node_store *g_tracked[8];

static node_store *track(node_store *st)
{
    for (size_t i = 0; i < 8; i++) {
        if (g_tracked[i] == NULL) {
            g_tracked[i] = st;
            return st;
        }
    }
    node_store_close(st);
    ck_abort_msg("more than 8 tracked stores open");
    return NULL;
}

node_store *mk_tracked(const char *name, test_clock *clock, char *dir)
{
    return track(mk(name, clock, dir));
}

node_store *reopen_tracked(const char *dir, test_clock *clock)
{
    return track(reopen(dir, clock));
}

void close_tracked(node_store *st)
{
    for (size_t i = 0; i < 8 && st != NULL; i++)
        if (g_tracked[i] == st)
            g_tracked[i] = NULL;
    node_store_close(st);
}

void tracked_teardown(void)
{
    for (size_t i = 0; i < 8; i++) {
        node_store_close(g_tracked[i]);
        g_tracked[i] = NULL;
    }
}

TCase *tracked_tcase(Suite *s, const char *name)
{
    TCase *tc = fixture_tcase(s, name);
    tcase_add_checked_fixture(tc, NULL, tracked_teardown);
    return tc;
}
