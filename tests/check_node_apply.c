/* tests/check_node_apply.c - foreign commits (DESIGN.md section 4): import in any order with
 * duplicates and gaps, exact import statistics, waiting commits, export against a peer's
 * vector, references to rows not yet held, bodies refused before anything is written,
 * newer schemas and far-future clocks. Log and vector files and rematerialization are in
 * check_node_files.c; the shared fixture is node_fixture.h. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "crdt/vv.h"
#include "node/store.h"
#include "schema/codec.h"
#include "schema/schema.h"
#include "tests/node_fixture.h"
#include "tests/support.h"

static char g_author[] = "dr-hand"; /* of the hand-made commits */

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
    blist_push(l, b.data, b.len);
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
        blist_push(d, all->v[i].p, all->v[i].n);
        if (_i != 0 && test_rng_below(&rng, 3) == 0) /* a duplicate */
            blist_push(d, all->v[i].p, all->v[i].n);
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
    expect_digests(a, b, true, what);
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
    insert_patient(b, "Brown", p);
    set_text(b, p, "family", "Smith");
    set_text(b, p, "given", "Ann");
    insert_patient(c, "Clark", q);
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
    expect_digests(a, r, true, "out of order with duplicates vs in order");
    /* Everything again: all duplicates, nothing changes. */
    for (size_t i = 0; i < 5; i++)
        blist_push(all, i < 3 ? lb->v[i].p : lc->v[i - 3].p,
                   i < 3 ? lb->v[i].n : lc->v[i - 3].n);
    snap before = snap_take(a);
    s = import_ok(a, all->v, all->n);
    ST(s, 5, 0, 5, 0, 0, 0);
    snap_expect(a, &before, "second import of the same bodies");
    snap_free(&before);
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
    insert_patient(b, "Brown", p);
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
        expect_row(a, p, false, "only later commits held");
        crdt_vv held = held_of(a), applied = {0};
        CK_OK(node_store_applied(a, &applied, &err));
        ck_assert(crdt_vv_get(&held, ob) == 0 && crdt_vv_get(&applied, ob) == 0);
        crdt_vv_free(&held);
        crdt_vv_free(&applied);
        CK_OK(node_store_check(a, &err));
        expect_digests(a, e, true, "waiting commits are not state"); /* e holds nothing */
        a = world_reopen(&w, 0, BASE_MS);
    }
    s = import_ok(a, (node_body[]){body_of(l, ob, 1)}, 1);
    ST(s, 1, 1, 0, 0, 5, 0);
    ck_assert_uint_eq(counts(a).waiting, 0);
    ck_assert(shows(a, p, "family", v));
    ck_assert_str_eq(v, "Evans");
    expect_digests(a, b, true, "after the gap was filled");
    world_end(&w);
}
END_TEST

START_TEST(test_export_emits_what_the_peer_lacks)
{
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS), *peer = add(&w, BASE_MS);
    uint8_t p[ID_LEN], q[ID_LEN];
    insert_patient(a, "Adams", p);
    set_text(a, p, "given", "Al");
    set_text(a, p, "given", "Alan");
    insert_patient(b, "Baker", q);
    for (int i = 0; i < 3; i++)
        set_text(b, q, "given", i == 0 ? "B" : i == 1 ? "Bo" : "Bob");
    deliver(b, a);
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
    expect_digests(a, peer, true, "after the export was imported");
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
    node_commit_info ins = insert_patient(b, "Brown", p);
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
    ck_assert_str_eq(r->author, FX_AUTHOR);
    node_row_free(r);
    CK_OK(node_store_cell_get(a, tbl("patient"), p, col("patient", "family"), &c, &err));
    ck_assert_msg(c->nsibs == 1 && !c->conflict, "the insert's family was covered by the set");
    node_cell_free(c);
    CK_OK(node_store_check(a, &err));
    import_ok(d, lb->v, 1); /* the other order gives the same state */
    import_ok(d, lc->v, 1);
    expect_digests(a, d, true, "set before insert vs insert before set");
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
    insert_patient(a, "Adams", q);
    insert_patient(b, "Brown", p);
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
        blist_push(l, l->v[ngood - 1].p, l->v[ngood - 1].n);
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
    snap_free(&before);
    expect_row(a, p, false, kinds[_i].name);
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
    insert_patient(a, "Adams", p);
    set_text(a, p, "given", "Al");
    blist *own = exp_list(&w, a, NULL), *l = lst(&w);
    schema_change ch = set_change("patient", p, "family", txt("Forged"));
    push_commit(l, node_store_origin(a), 3, CRDT_HLC_MAKE(BASE_MS + 5, 0), SCHEMA_VERSION, &ch,
                1);
    snap before = snap_take(a);
    CK_FAILS(node_store_import(a, l->v, l->n, NULL, &err), SN_EINVAL);
    snap_expect(a, &before, "own origin, a seq never written");
    snap_free(&before);
    before = snap_take(a);
    node_import_stats s = import_ok(a, own->v, own->n); /* its real ones are duplicates */
    ST(s, 2, 0, 2, 0, 0, 0);
    snap_expect(a, &before, "own commits back");
    snap_free(&before);
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
    expect_digests(a, relay, true, "relayed newer-schema commit");
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
    insert_patient(a, "Adams", q);
    node_commit_info fh = insert_patient(far, "Future", p);
    ck_assert_uint_eq(CRDT_HLC_MS(fh.hlc), BASE_MS + HOUR_MS);
    deliver(far, a);
    ck_assert(shows(a, p, "family", v));
    ck_assert_str_eq(v, "Future");
    ck_assert_uint_eq(counts(a).skewed, 1);
    for (int pass = 0; pass < 2; pass++) {
        node_commit_info local = set_text(a, q, "given", pass ? "Bo" : "Al");
        ck_assert_msg(local.hlc < fh.hlc && CRDT_HLC_MS(local.hlc) == w.clock[0].ms,
                      "pass %d: the local clock followed a far-future commit: %llx (future %llx)",
                      pass, (unsigned long long)local.hlc, (unsigned long long)fh.hlc);
        a = world_reopen(&w, 0, BASE_MS + 5);
    }
    node_commit_info nh = insert_patient(near, "Soon", r);
    deliver(near, a);
    ck_assert(shows(a, r, "family", v));
    ck_assert_uint_eq(counts(a).skewed, 1); /* still only the far one */
    node_commit_info local = set_text(a, r, "given", "Cy");
    ck_assert_msg(local.hlc > nh.hlc, "a write after observing %llx got %llx",
                  (unsigned long long)nh.hlc, (unsigned long long)local.hlc);
    a = world_reopen(&w, 0, BASE_MS - 24 * HOUR_MS); /* what was observed survives a restart */
    ck_assert(set_text(a, r, "given", "Cyd").hlc > local.hlc);
    world_end(&w);
}
END_TEST

/* ===== suite ========================================================================= */

Suite *node_apply_suite(void);
Suite *node_apply_suite(void)
{
    Suite *s = suite_create("node_apply_suite");
    TCase *tc = fixture_tcase(s, "import");
    tcase_add_loop_test(tc, test_import_any_order_converges, 0, 8);
    tcase_add_test(tc, test_import_stats_exact);
    tcase_add_test(tc, test_waiting_commits_survive_reopen);
    tcase_add_test(tc, test_export_emits_what_the_peer_lacks);
    tcase_add_test(tc, test_dangling_set_shown_then_inserted);
    tc = fixture_tcase(s, "refusals");
    tcase_add_loop_test(tc, test_bad_body_refused_store_unchanged, 0, 5);
    tcase_add_test(tc, test_own_origin_unknown_seq_refused);
    tc = fixture_tcase(s, "schema_and_clock");
    tcase_add_test(tc, test_newer_schema_parts_kept_known_applied);
    tcase_add_test(tc, test_future_clocks);
    return s;
}
