/* tests/check_node_quarantine.c - revocation and equivocation (node/units.h): a revoked
 * origin's commits past its watermark are quarantined whether the list arrives before or
 * after them, with equal digests either way; watermarks are per certificate serial; two
 * histories signed by one origin are detected and frozen on both sides of an exchange,
 * with the proof kept. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/keyfile.h"
#include "node/logfile.h"
#include "node/trust.h"
#include "node/units.h"
#include "schema/codec.h"
#include "tests/node_fixture.h"
#include "tests/support.h"
#include "tests/trust_fixture.h"

static void offer(node_store *st, const sync_crl *crl)
{
    sn_err err = SN_ERR_INIT;
    bool taken = false;
    CK_OK(node_trust_crl_offer(st, crl, &taken, &err));
    ck_assert(taken);
}

typedef struct qlist {
    node_quarantine q[8];
    size_t n;
} qlist;

static int keep_q(void *ctx, const node_quarantine *q, sn_err *err)
{
    (void)err;
    qlist *l = ctx;
    ck_assert(l->n < 8);
    l->q[l->n++] = *q;
    return 0;
}

static qlist quarantined(node_store *st)
{
    sn_err err = SN_ERR_INIT;
    qlist l = {.n = 0};
    CK_OK(node_store_quarantine_each(st, keep_q, &l, &err));
    return l;
}

typedef struct elist {
    node_equivocation e[2];
    size_t n;
} elist;

static int keep_e(void *ctx, const node_equivocation *q, sn_err *err)
{
    (void)err;
    elist *l = ctx;
    ck_assert(l->n < 2);
    l->e[l->n++] = *q;
    return 0;
}

/* A writes 5 commits; C edits a row A inserted in commit 4. The list cuts A at 3. A node
 * that gets the list first and one that gets it last end in the same state, without A's
 * commits 4 and 5, which stay held and listed. */
START_TEST(test_revocation_before_or_after_gives_equal_digests)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *c = add(&w, BASE_MS), *early = add(&w, BASE_MS),
               *late = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Revocation CA");
    sync_cert cert_a = tca_enroll(&ca, a);
    node_store *others[] = {c, early, late};
    for (size_t i = 0; i < 3; i++)
        (void)tca_enroll(&ca, others[i]);
    uint8_t p[ID_LEN], q[ID_LEN], r[ID_LEN];
    insert_patient(a, "Adams", p);
    set_text(a, p, "given", "Ann");
    set_text(a, p, "phone", "01632 960000");
    insert_patient(a, "Stolen", q); /* 4: written after the laptop was lost */
    set_text(a, p, "family", "Forged");
    tca_send(a, c);
    set_text(c, q, "given", "Quentin"); /* C builds on a commit that will be revoked */
    insert_patient(c, "Clark", r);
    sync_crl_entry e = tca_entry(&cert_a, 1, 3);
    sync_crl crl = tca_crl(&ca, &e, 1);

    offer(early, &crl);
    tca_send(a, early);
    tca_send(c, early);
    tca_send(a, late);
    tca_send(c, late);
    node_counts before = counts(late);
    ck_assert_uint_eq(before.quarantined, 0);
    char shown[64];
    ck_assert(shows(late, p, "family", shown) && strcmp(shown, "Forged") == 0);
    offer(late, &crl);

    expect_digests(early, late, true, "list before vs after the commits");
    node_store *both[] = {early, late};
    for (size_t i = 0; i < 2; i++) {
        node_counts n = counts(both[i]);
        ck_assert_uint_eq(n.quarantined, 2);
        ck_assert_uint_eq(n.commits, before.commits); /* kept, not deleted */
        qlist l = quarantined(both[i]);
        ck_assert_uint_eq(l.n, 1);
        ck_assert(crdt_origin_equal(&l.q[0].origin, node_store_origin(a)));
        ck_assert_uint_eq(l.q[0].first, 4);
        ck_assert_uint_eq(l.q[0].last, 5);
        ck_assert(!l.q[0].frozen);
        ck_assert(shows(both[i], p, "family", shown) && strcmp(shown, "Adams") == 0);
        /* The revoked insert is gone; C's later edit of that row stays (a bare row). */
        node_row *row = NULL;
        CK_OK(node_store_row_get(both[i], tbl("patient"), q, &row, &err));
        ck_assert(!row->inserted);
        node_row_free(row);
        CK_OK(node_store_check(both[i], &err));
    }
    expect_digests(early, a, false, "the revoked commits are not applied");
    /* A relay passes the quarantined commits on; the receiver quarantines them too. */
    test_clock kclock = {BASE_MS};
    node_store *k = mk("keeper", &kclock, NULL);
    (void)tca_enroll(&ca, k);
    char path[4096];
    path_in(path, "relayed.log");
    CK_OK(node_logfile_export(late, NULL, path, NULL, &err));
    node_logfile_stats s;
    CK_OK(node_logfile_import(k, path, &s, &err));
    ck_assert(s.crl_taken);
    expect_digests(k, early, true, "relayed with the list");
    ck_assert_uint_eq(counts(k).quarantined, 2);
    node_store_close(k);
    sync_crl_free(&crl);
    world_end(&w);
}
END_TEST

/* A key rotated out as superseded at 2 limits what its own checkpoints vouch for; the
 * replica's next certificate carries on. */
START_TEST(test_revocation_watermark_is_per_serial)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Rotation CA");
    sync_cert old = tca_enroll(&ca, a);
    (void)tca_enroll(&ca, b);
    uint8_t p[ID_LEN];
    insert_patient(a, "Adams", p);
    set_text(a, p, "given", "Ann");
    tca_send(a, b); /* a checkpoint at 2 under the old serial */
    sync_cert renewed = tca_enroll(&ca, a);
    ck_assert_uint_ne(renewed.serial, old.serial);
    set_text(a, p, "phone", "01632 960000");
    set_text(a, p, "family", "Adamson");
    sync_crl_entry e = tca_entry(&old, 1, 2);
    e.reason = SYNC_REVOKE_SUPERSEDED;
    sync_crl crl = tca_crl(&ca, &e, 1);
    offer(b, &crl);
    tca_send(a, b); /* 3..4 under the new serial */
    ck_assert_uint_eq(counts(b).quarantined, 0);
    expect_digests(a, b, true, "commits of the renewed certificate");
    CK_OK(node_store_check(b, &err));
    sync_crl_free(&crl);
    world_end(&w);
}
END_TEST

/* A's commit 3 exists in two versions, both signed with A's key (a cloned disk, a stolen
 * key). X holds the genuine one, Y the other; when they exchange, both see the proof and
 * freeze A from 3 on, keeping 1..2 applied, and refuse A's later units. */
START_TEST(test_equivocation_frozen_on_both_sides)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *x = add(&w, BASE_MS), *y = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Equivocation CA");
    sync_cert cert_a = tca_enroll(&ca, a);
    (void)tca_enroll(&ca, x);
    (void)tca_enroll(&ca, y);
    uint8_t p[ID_LEN];
    insert_patient(a, "Adams", p);
    set_text(a, p, "given", "Ann");
    set_text(a, p, "family", "Genuine");
    tca_send(a, x);

    /* The forged history: commits 1..2 as they are, 3 re-made with another value. */
    blist *bodies = exp_list(&w, a, NULL);
    ck_assert_uint_eq(bodies->n, 3);
    schema_commit *c3 = NULL;
    CK_OK(schema_commit_decode(bodies->v[2].p, bodies->v[2].n, &c3, &err));
    c3->changes[0].value = txt("Forged");
    sn_buf forged;
    sn_buf_init(&forged, 1 << 20);
    CK_OK(schema_commit_encode(c3, &forged, &err));
    schema_commit_free(c3);
    const uint8_t *bp[3] = {bodies->v[0].p, bodies->v[1].p, forged.data};
    size_t bn[3] = {bodies->v[0].n, bodies->v[1].n, forged.len};
    sync_checkpoint cp = {.origin = *node_store_origin(a), .cert_serial = cert_a.serial,
                          .seq = 3, .hlc_max = 1};
    uint8_t link[32] = {0};
    for (int i = 0; i < 3; i++)
        sync_chain_next(link, link, bp[i], bn[i]);
    memcpy(cp.link, link, 32);
    sync_keys keys;
    CK_OK(node_keyfile_load(w.dir[0], &keys, &err));
    sync_checkpoint_sign(&cp, keys.sign_sk);
    sync_keys_wipe(&keys);
    sn_buf ub;
    sn_buf_init(&ub, 1 << 20);
    CK_OK(sync_unit_encode(1, bp, bn, 3, &cp, &ub, &err));
    CK_OK(node_trust_cert_add(y, &cert_a, &err));
    node_body unit = {.p = ub.data, .n = ub.len};
    node_unit_stats us;
    CK_OK(node_store_import_units(y, &unit, 1, &us, &err));
    CK_OK(node_store_apply_pending(y, NULL, &err));
    ck_assert_uint_eq(us.commits, 3);

    /* The exchange, both ways, by log file: each side finds the other's checkpoint. */
    char path[4096];
    path_in(path, "x-to-y.log");
    crdt_vv held = held_of(y);
    CK_OK(node_logfile_export(x, &held, path, NULL, &err));
    crdt_vv_free(&held);
    node_logfile_stats s;
    CK_OK(node_logfile_import(y, path, &s, &err));
    ck_assert_uint_eq(s.units.equivocations, 1);
    path_in(path, "y-to-x.log");
    held = held_of(x);
    CK_OK(node_logfile_export(y, &held, path, NULL, &err));
    crdt_vv_free(&held);
    CK_OK(node_logfile_import(x, path, &s, &err));
    ck_assert_uint_eq(s.units.equivocations, 1);

    node_store *both[] = {x, y};
    for (size_t i = 0; i < 2; i++) {
        elist el = {.n = 0};
        CK_OK(node_store_equivocations_each(both[i], keep_e, &el, &err));
        const node_equivocation *e = el.e;
        size_t ne = el.n;
        ck_assert_uint_eq(ne, 1);
        ck_assert_uint_eq(e[0].seq, 3);
        ck_assert_uint_eq(e[0].ours_len, SYNC_CHECKPOINT_LEN);
        sync_checkpoint ours, theirs;
        CK_OK(sync_checkpoint_parse(e[0].ours, SYNC_CHECKPOINT_LEN, &ours, &err));
        CK_OK(sync_checkpoint_parse(e[0].theirs, SYNC_CHECKPOINT_LEN, &theirs, &err));
        CK_OK(sync_checkpoint_verify(&ours, cert_a.sign_pk, &err));
        CK_OK(sync_checkpoint_verify(&theirs, cert_a.sign_pk, &err));
        ck_assert(sync_checkpoint_conflicts(&ours, &theirs));
        qlist l = quarantined(both[i]);
        ck_assert_uint_eq(l.n, 1);
        ck_assert(l.q[0].frozen);
        ck_assert_uint_eq(l.q[0].first, 3);
        char shown[64];
        ck_assert(shows(both[i], p, "family", shown) && strcmp(shown, "Adams") == 0);
        CK_OK(node_store_check(both[i], &err));
    }
    expect_digests(x, y, true, "both frozen at the fork");
    /* A's later commits are not taken while it is frozen. */
    set_text(a, p, "phone", "01632 960000");
    snap before = snap_take(x);
    s = (node_logfile_stats){0};
    path_in(path, "later.log");
    held = held_of(x);
    CK_OK(node_logfile_export(a, &held, path, NULL, &err));
    crdt_vv_free(&held);
    CK_OK(node_logfile_import(x, path, &s, &err));
    ck_assert_uint_eq(s.units.frozen, 1);
    snap_expect(x, &before, "a frozen origin's later unit");
    snap_free(&before);
    sn_buf_free(&ub);
    sn_buf_free(&forged);
    world_end(&w);
}
END_TEST

Suite *node_quarantine_suite(void);
Suite *node_quarantine_suite(void)
{
    Suite *s = suite_create("node_quarantine_suite");
    TCase *tc = fixture_tcase(s, "quarantine");
    tcase_add_test(tc, test_revocation_before_or_after_gives_equal_digests);
    tcase_add_test(tc, test_revocation_watermark_is_per_serial);
    tcase_add_test(tc, test_equivocation_frozen_on_both_sides);
    return s;
}
