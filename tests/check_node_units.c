/* tests/check_node_units.c - commits travel as signed, chained units (node/units.h):
 * round trips, units waiting for their predecessors, three nodes converging through a
 * relay that cannot alter what it carries, every one-bit change of a unit or a log file
 * refused with the store unchanged (a duplicate of a unit held too), a commit claiming
 * another origin, a certificate from another CA, and an expired certificate whose commits
 * still verify. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "node/keyfile.h"
#include "node/logfile.h"
#include "node/trust.h"
#include "node/units.h"
#include "tests/node_fixture.h"
#include "tests/support.h"
#include "tests/trust_fixture.h"

/* The units `st` sends to a peer holding `peer` (NULL: nothing), into l. */
static void units_of(node_store *st, const crdt_vv *peer, blist *l)
{
    sn_err err = SN_ERR_INIT;
    CK_OK(node_store_export_units(st, peer, blist_emit, NULL, l, NULL, &err));
}

static node_unit_stats take_units(node_store *st, const blist *l)
{
    sn_err err = SN_ERR_INIT;
    node_unit_stats s;
    CK_OK(node_store_import_units(st, l->v, l->n, &s, &err));
    CK_OK(node_store_apply_pending(st, NULL, &err));
    return s;
}

static void read_file(const char *path, uint8_t **p, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    *n = (size_t)ftell(f);
    rewind(f);
    *p = malloc(*n);
    ck_assert(*p != NULL && fread(*p, 1, *n, f) == *n);
    fclose(f);
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert(f != NULL && fwrite(p, 1, n, f) == n);
    fclose(f);
}

START_TEST(test_units_round_trip_and_waiting)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Units CA");
    sync_cert cert_a = tca_enroll(&ca, a);
    (void)tca_enroll(&ca, b);
    CK_OK(node_trust_cert_add(b, &cert_a, &err)); /* units alone carry no certificate */
    uint8_t p[ID_LEN];
    insert_patient(a, "Adams", p);
    set_text(a, p, "given", "Ann");
    blist *first = lst(&w), *second = lst(&w), *again = lst(&w);
    units_of(a, NULL, first); /* signs a checkpoint at 2 */
    ck_assert_uint_eq(first->n, 1);
    set_text(a, p, "given", "Anna");
    set_text(a, p, "phone", "01632 960000");
    crdt_vv two = held_of(b);
    CK_OK(crdt_vv_raise(&two, node_store_origin(a), 2, &err));
    units_of(a, &two, second); /* commits 3..4 under a checkpoint at 4 */
    crdt_vv_free(&two);
    ck_assert_uint_eq(second->n, 1);

    /* The later unit first: kept whole until the commits before it arrive. */
    node_unit_stats s = take_units(b, second);
    ck_assert_uint_eq(s.deferred, 1);
    ck_assert_uint_eq(s.commits, 0);
    ck_assert_uint_eq(counts(b).waiting, 2);
    s = take_units(b, first);
    ck_assert_uint_eq(s.taken, 2);
    ck_assert_uint_eq(s.commits, 4);
    ck_assert_uint_eq(counts(b).waiting, 0);
    expect_digests(a, b, true, "after the gap filled");
    CK_OK(node_store_check(b, &err));

    /* Everything again: one unit spanning both checkpoint ranges (any holder may re-cut
     * at any checkpoint); and, with the smallest unit size, one unit per range. Both are
     * duplicates: no change. */
    units_of(a, NULL, again);
    ck_assert_uint_eq(again->n, 1);
    blist *small = lst(&w);
    CK_OK(node_store_export_units_sized(a, NULL, 1, blist_emit, NULL, small, NULL, &err));
    ck_assert_uint_eq(small->n, 2);
    snap before = snap_take(b);
    s = take_units(b, again);
    ck_assert_uint_eq(s.duplicates, 1);
    ck_assert_uint_eq(s.commits, 0);
    s = take_units(b, small);
    ck_assert_uint_eq(s.duplicates, 2);
    snap_expect(b, &before, "duplicate units");
    snap_free(&before);
    world_end(&w);
}
END_TEST

/* A, B and C exchange log files only through R, which relays: all four converge, and what
 * R carries verifies end to end; R altering a unit is refused. */
START_TEST(test_units_relay_converges_and_cannot_alter)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *r = add(&w, BASE_MS), *a = add(&w, BASE_MS), *b = add(&w, BASE_MS),
               *c = add(&w, BASE_MS);
    node_store *sites[] = {a, b, c};
    tca ca;
    tca_make(&ca, "Relay CA");
    (void)tca_enroll(&ca, r);
    for (size_t i = 0; i < 3; i++)
        (void)tca_enroll(&ca, sites[i]);
    uint8_t p[ID_LEN], q[ID_LEN], s2[ID_LEN];
    insert_patient(a, "Adams", p);
    tca_carry(a, r, "a-r.log");
    tca_carry(r, b, "r-b.log");
    tca_carry(r, c, "r-c.log");
    /* Concurrent edits of one review field on all three sites, and more records. */
    set_text(a, p, "family", "Adamson");
    set_text(b, p, "family", "Addams");
    set_text(c, p, "family", "Adam");
    insert_patient(b, "Brown", q);
    insert_patient(c, "Clark", s2);
    set_text(c, s2, "given", "Cleo");
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < 3; i++) {
            tca_carry(sites[i], r, "up.log");
            tca_carry(r, sites[i], "down.log");
        }
    for (size_t i = 0; i < 3; i++)
        expect_digests(r, sites[i], true, "after relaying");
    ck_assert_uint_eq(counts(a).conflicts, 1);

    /* R alters one of B's commits on its way to a new site D (and fixes the checksum, as a
     * dishonest relay can): refused, D unchanged. */
    test_clock dclock = {BASE_MS};
    node_store *d = mk("late-site", &dclock, NULL);
    (void)tca_enroll(&ca, d);
    char path[4096];
    path_in(path, "altered.log");
    CK_OK(node_logfile_export(r, NULL, path, NULL, &err));
    uint8_t *f;
    size_t n;
    read_file(path, &f, &n);
    uint8_t *at = memmem(f, n, "Brown", 5);
    ck_assert_ptr_nonnull(at);
    at[0] = 'C';
    sn_blake2b(f + n - 32, 32, f, n - 32);
    write_file(path, f, n);
    free(f);
    snap before = snap_take(d);
    CK_FAILS(node_logfile_import(d, path, NULL, &err), SN_EAUTH);
    ck_assert_msg(strstr(err.msg, "chain") != NULL, "%s", err.msg);
    snap_expect(d, &before, "a unit altered by the relay");
    snap_free(&before);
    tca_carry(r, d, "honest.log");
    expect_digests(r, d, true, "after an honest relay");
    node_store_close(d);
    world_end(&w);
}
END_TEST

/* Flip one bit of every byte of a log file and make its checksum right again (as anyone
 * carrying it can): every change is refused, the store unchanged, and the message names
 * the file and what failed. */
START_TEST(test_units_every_bit_flip_refused)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Flip CA");
    sync_cert cert_a = tca_enroll(&ca, a);
    (void)tca_enroll(&ca, b);
    sync_crl_entry none = tca_entry(&cert_a, 9, 1); /* a later epoch: revokes nothing here */
    sync_crl crl = tca_crl(&ca, &none, 1);
    bool taken;
    CK_OK(node_trust_crl_offer(a, &crl, &taken, &err));
    sync_crl_free(&crl);
    uint8_t p[ID_LEN];
    insert_patient(a, "Adams", p);
    set_text(a, p, "given", "Ann");
    char good[4096], path[4096];
    path_in(good, "good.log");
    path_in(path, "flipped.log");
    CK_OK(node_logfile_export(a, NULL, good, NULL, &err));
    uint8_t *f;
    size_t n;
    read_file(good, &f, &n);
    snap before = snap_take(b);
    static const char *const words[] = {"chain", "signature", "certificate", "checkpoint",
                                        "section", "unit", "revocation", "format",
                                        "reserved", "log file", "proof"};
    for (size_t i = 0; i + 32 < n; i++) {
        f[i] ^= (uint8_t)(1u << (i % 8));
        sn_blake2b(f + n - 32, 32, f, n - 32);
        write_file(path, f, n);
        sn_err_clear(&err);
        int rc = node_logfile_import(b, path, NULL, &err);
        ck_assert_msg(rc != 0, "a flip at byte %zu of %zu was accepted", i, n);
        bool named = false;
        for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
            named = named || strstr(err.msg, words[k]) != NULL;
        ck_assert_msg(named && strstr(err.msg, path) != NULL, "byte %zu: %s", i, err.msg);
        f[i] ^= (uint8_t)(1u << (i % 8));
        if (i % 97 == 0)
            snap_expect(b, &before, "a flipped log file");
    }
    snap_expect(b, &before, "every flipped log file");
    snap_free(&before);
    free(f);
    node_logfile_stats s;
    CK_OK(node_logfile_import(b, good, &s, &err));
    ck_assert_uint_eq(s.units.commits, 2);
    expect_digests(a, b, true, "the unflipped file");
    world_end(&w);
}
END_TEST

/* Flips inside a unit alone (no file around it) name the part that failed. */
START_TEST(test_units_flip_names_what_failed)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Flip CA");
    (void)tca_enroll(&ca, a);
    (void)tca_enroll(&ca, b);
    sync_cert cert_a;
    CK_OK(node_trust_own(a, &cert_a, &err));
    CK_OK(node_trust_cert_add(b, &cert_a, &err));
    uint8_t p[ID_LEN];
    insert_patient(a, "Adams", p);
    blist *l = lst(&w);
    units_of(a, NULL, l);
    ck_assert_uint_eq(l->n, 1);
    size_t n = l->v[0].n;
    uint8_t *u = malloc(n);
    ck_assert_ptr_nonnull(u);
    memcpy(u, l->v[0].p, n);
    node_body flipped = {.p = u, .n = n};
    /* offset -> the word the refusal must contain */
    const struct {
        size_t at;
        const char *word;
    } cases[] = {
        {0, "SNU1"},
        {SYNC_UNIT_HEADER_LEN + 4 + 10, "chain"},  /* a body byte */
        {20 + 44 + 3, "chain"},                    /* the checkpoint's link */
        {20 + 28 + 7, "certificate"},              /* the signing certificate's serial */
        {20 + 84 + 5, "signature"},                /* the signature */
        {20 + 76 + 7, "signature"},                /* hlc_max: signed, not chained */
    };
    /* Then again once B holds the unit: a duplicate whose checkpoint is the one stored
     * skips only the signature check, never the chain. */
    for (int held = 0; held < 2; held++) {
        snap before = snap_take(b);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            ck_assert(cases[i].at < n);
            u[cases[i].at] ^= 0x01;
            CK_FAILS(node_store_import_units(b, &flipped, 1, NULL, &err),
                     i == 0 ? SN_ECORRUPT : SN_EAUTH);
            ck_assert_msg(strstr(err.msg, cases[i].word) != NULL,
                          "held %d, flip at %zu: '%s' lacks '%s'", held, cases[i].at, err.msg,
                          cases[i].word);
            u[cases[i].at] ^= 0x01;
        }
        snap_expect(b, &before, "flipped units");
        snap_free(&before);
        if (held == 0) {
            (void)take_units(b, l);
            expect_digests(a, b, true, "the intact unit");
        }
    }
    node_unit_stats again = take_units(b, l);
    ck_assert_uint_eq(again.duplicates, 1);

    /* Its checkpoint offered alone: the stored one passes, a forged signature does not. */
    node_body cp = {.p = u + 20, .n = SYNC_CHECKPOINT_LEN};
    size_t equivocations = 9;
    CK_OK(node_store_offer_checkpoints(b, &cp, 1, &equivocations, &err));
    ck_assert_uint_eq(equivocations, 0);
    u[20 + 84 + 5] ^= 0x01;
    CK_FAILS(node_store_offer_checkpoints(b, &cp, 1, &equivocations, &err), SN_EAUTH);
    ck_assert_msg(strstr(err.msg, "signature") != NULL, "%s", err.msg);
    free(u);
    world_end(&w);
}
END_TEST

/* A signs a unit of its own chain holding a body that claims B's origin: refused. */
START_TEST(test_units_commit_claiming_another_origin_refused)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS), *c = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Forgery CA");
    sync_cert cert_a = tca_enroll(&ca, a);
    (void)tca_enroll(&ca, b);
    (void)tca_enroll(&ca, c);
    uint8_t p[ID_LEN];
    insert_patient(b, "Brown", p);
    blist *bodies = exp_list(&w, b, NULL);
    ck_assert_uint_eq(bodies->n, 1);
    sync_keys keys;
    CK_OK(node_keyfile_load(w.dir[0], &keys, &err));
    /* A's commit 1 would be this body of B's: the chain and signature are A's own. */
    sync_checkpoint cp = {.origin = *node_store_origin(a), .cert_serial = cert_a.serial,
                          .seq = 1, .hlc_max = 1};
    uint8_t zero[32] = {0};
    sync_chain_next(cp.link, zero, bodies->v[0].p, bodies->v[0].n);
    sync_checkpoint_sign(&cp, keys.sign_sk);
    sync_keys_wipe(&keys);
    sn_buf ub;
    sn_buf_init(&ub, 1 << 20);
    const uint8_t *bp = bodies->v[0].p;
    size_t bn = bodies->v[0].n;
    CK_OK(sync_unit_encode(1, &bp, &bn, 1, &cp, &ub, &err));
    CK_OK(node_trust_cert_add(c, &cert_a, &err));
    node_body unit = {.p = ub.data, .n = ub.len};
    snap before = snap_take(c);
    CK_FAILS(node_store_import_units(c, &unit, 1, NULL, &err), SN_EAUTH);
    ck_assert_msg(strstr(err.msg, "claims origin") != NULL, "%s", err.msg);
    snap_expect(c, &before, "a commit claiming another origin");
    snap_free(&before);
    sn_buf_free(&ub);
    world_end(&w);
}
END_TEST

/* A log file from a node of another deployment: its certificate does not chain. */
START_TEST(test_units_other_ca_refused)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *x = add(&w, BASE_MS);
    tca ours, theirs;
    tca_make(&ours, "Our CA");
    tca_make(&theirs, "Their CA");
    (void)tca_enroll(&ours, a);
    (void)tca_enroll(&theirs, x);
    uint8_t p[ID_LEN];
    insert_patient(x, "Xavier", p);
    char path[4096];
    path_in(path, "foreign.log");
    CK_OK(node_logfile_export(x, NULL, path, NULL, &err));
    snap before = snap_take(a);
    CK_FAILS(node_logfile_import(a, path, NULL, &err), SN_EAUTH);
    ck_assert_msg(strstr(err.msg, "certificate") != NULL, "%s", err.msg);
    snap_expect(a, &before, "another CA's node");
    snap_free(&before);
    world_end(&w);
}
END_TEST

/* Expiry blocks new sessions, never the commits of an unrevoked certificate. */
START_TEST(test_units_expired_certificate_still_verifies)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Expiry CA");
    sync_enroll_request req;
    CK_OK(node_trust_request(a, &req, &err));
    uint64_t now_s = BASE_MS / 1000;
    sync_cert short_lived = tca_issue(&ca, &req, 7, now_s - 86400, now_s + 3600);
    CK_OK(node_trust_install(a, &short_lived, &ca.root, &err));
    (void)tca_enroll(&ca, b);
    uint8_t p[ID_LEN];
    insert_patient(a, "Adams", p);
    /* Both clocks a year on: the certificate expired long ago. */
    w.clock[0].ms += 365 * 24 * HOUR_MS;
    w.clock[1].ms += 365 * 24 * HOUR_MS;
    node_logfile_stats s = tca_carry(a, b, "late.log");
    ck_assert_uint_eq(s.units.commits, 1);
    expect_digests(a, b, true, "commits of an expired certificate");
    world_end(&w);
}
END_TEST

Suite *node_units_suite(void);
Suite *node_units_suite(void)
{
    Suite *s = suite_create("node_units_suite");
    TCase *tc = fixture_tcase(s, "units");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_units_round_trip_and_waiting);
    tcase_add_test(tc, test_units_relay_converges_and_cannot_alter);
    tcase_add_test(tc, test_units_every_bit_flip_refused);
    tcase_add_test(tc, test_units_flip_names_what_failed);
    tcase_add_test(tc, test_units_commit_claiming_another_origin_refused);
    tcase_add_test(tc, test_units_other_ca_refused);
    tcase_add_test(tc, test_units_expired_certificate_still_verifies);
    return s;
}
