/* tests/check_node_equivocation.c - proofs of equivocation (node/store_equiv.c,
 * sync/proof.h) reach every node: origin O signs commits 1..7; A holds them; B holds a
 * second history of 1..5 (commit 5 re-made and signed with O's key) and finds the fork
 * through a unit of A's that overlaps it; C holds 1..4 only, so neither history past the
 * fork. Whatever order the three exchange in, by sessions or log files, each ends frozen
 * at 5 with the proof kept, and all three show the same digest. A proof altered anywhere
 * is refused with a message and changes nothing, in a call, a log file or a session. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/log.h"
#include "node/bundle.h"
#include "node/logfile.h"
#include "node/trust.h"
#include "node/units.h"
#include "schema/codec.h"
#include "sync/proof.h"
#include "tests/link_pair.h"
#include "tests/node_fixture.h"
#include "tests/support.h"
#include "tests/trust_fixture.h"

#define FORK 5

typedef struct fork_world {
    world w;
    node_store *o, *a, *b, *c;
    uint8_t p[ID_LEN];
} fork_world;

/* O's first k commits as it holds them, the last re-made with another value and signed
 * with O's key: the unit a cloned disk would send. */
static void forge(fork_world *f, const sync_cert *cert, size_t k, sn_buf *unit)
{
    sn_err err = SN_ERR_INIT;
    blist *bodies = exp_list(&f->w, f->o, NULL);
    ck_assert_uint_ge(bodies->n, k);
    schema_commit *cm = NULL;
    CK_OK(schema_commit_decode(bodies->v[k - 1].p, bodies->v[k - 1].n, &cm, &err));
    cm->hlc++;
    sn_buf forged;
    sn_buf_init(&forged, 1 << 20);
    CK_OK(schema_commit_encode(cm, &forged, &err));
    schema_commit_free(cm);
    node_body *v = calloc(k, sizeof *v);
    ck_assert_ptr_nonnull(v);
    memcpy(v, bodies->v, k * sizeof *v);
    v[k - 1] = (node_body){.p = forged.data, .n = forged.len};
    tca_unit_signed(f->w.dir[0], cert, v, k, unit);
    free(v);
    sn_buf_free(&forged);
}

typedef struct elist {
    node_equivocation e[2];
    size_t n;
} elist;

static int keep_e(void *ctx, const node_equivocation *e, sn_err *err)
{
    (void)err;
    elist *l = ctx;
    ck_assert(l->n < 2);
    l->e[l->n++] = *e;
    return 0;
}

static elist proofs_of(node_store *st)
{
    sn_err err = SN_ERR_INIT;
    elist l = {.n = 0};
    CK_OK(node_store_equivocations_each(st, keep_e, &l, &err));
    return l;
}

/* B's import of A's units, which overlap B's history and part from it at 5: with the n-th
 * hit of `fault` failing (0: none), n = 0, 1, ..., each pass finds the fork or fails with a
 * message, leaking nothing and keeping the whole proof or none. */
static void find_fork(fork_world *f, int fault)
{
    blist units = {0};
    sn_err err = SN_ERR_INIT;
    CK_OK(node_store_export_units(f->a, NULL, blist_emit, NULL, &units, NULL, &err));
    for (int n = 0;; n++) {
        node_unit_stats us = {0};
        sn_err_clear(&err);
        long live = sn_alloc_live();
        if (fault != 0)
            sn_fault_arm((sn_fault_kind)fault, n, 1);
        int rc = node_store_import_units(f->b, units.v, units.n, &us, &err);
        bool fired = fault != 0 && sn_fault_disarm();
        ck_assert_msg(sn_alloc_live() == live, "n=%d: %ld blocks leaked", n,
                      sn_alloc_live() - live);
        ck_assert_msg(rc == 0 || fired, "no fault fired, yet rc %d: %s", rc, err.msg);
        ck_assert_msg(rc == 0 || ((rc == SN_ENOMEM || rc == SN_EIO) && err.msg[0] != '\0'),
                      "n=%d: rc %d (%s)", n, rc, err.msg);
        /* The units' own transaction keeps the proof or nothing; a failure after it (in the
         * units that waited) leaves it kept, and the retry finds nothing new. */
        elist l = proofs_of(f->b);
        ck_assert_msg(l.n == 0 || (l.n == 1 && l.e[0].seq == FORK && l.e[0].proof_len > 0),
                      "n=%d: rc %d, %zu proofs", n, rc, l.n);
        CK_OK(node_store_check(f->b, &err));
        if (rc == 0) {
            ck_assert_msg(l.n == 1 && (fault != 0 || us.equivocations == 1), "n=%d", n);
            break;
        }
    }
    CK_OK(node_store_apply_pending(f->b, NULL, &err));
    blist_free(&units);
}

/* The world above; B has found the fork unless `find` is false. */
static void fork_setup_at(fork_world *f, bool find)
{
    sn_err err = SN_ERR_INIT;
    *f = (fork_world){0};
    f->o = add(&f->w, BASE_MS);
    f->a = add(&f->w, BASE_MS);
    f->b = add(&f->w, BASE_MS);
    f->c = add(&f->w, BASE_MS);
    tca ca;
    tca_make(&ca, "Fork CA");
    sync_cert cert_o = tca_enroll(&ca, f->o);
    (void)tca_enroll(&ca, f->a);
    (void)tca_enroll(&ca, f->b);
    (void)tca_enroll(&ca, f->c);
    insert_patient(f->o, "Adams", f->p);
    set_text(f->o, f->p, "given", "Ann");
    set_text(f->o, f->p, "phone", "01632 960001");
    set_text(f->o, f->p, "family", "Before");
    tca_send(f->o, f->c); /* C: 1..4 */
    set_text(f->o, f->p, "family", "Genuine");
    set_text(f->o, f->p, "given", "Anne");
    set_text(f->o, f->p, "phone", "01632 960002");
    tca_send(f->o, f->a); /* A: 1..7 */

    sn_buf unit;
    sn_buf_init(&unit, 1 << 20);
    forge(f, &cert_o, FORK, &unit);
    tca_certs_copy(f->o, f->b);
    node_body u = {.p = unit.data, .n = unit.len};
    CK_OK(node_store_import_units(f->b, &u, 1, NULL, &err)); /* B: the other 1..5 */
    CK_OK(node_store_apply_pending(f->b, NULL, &err));
    sn_buf_free(&unit);

    if (find)
        find_fork(f, 0);
}

static void fork_setup(fork_world *f) { fork_setup_at(f, true); }

enum carrier { BY_SESSION, BY_LOG_FILE, BY_BUNDLE, CARRIERS };

/* x sends y a bundle (sealed to y's own certificate) and y imports it. */
static void bundle_to(node_store *x, node_store *y)
{
    sn_err err = SN_ERR_INIT;
    sync_cert rcpt;
    CK_OK(node_trust_own(y, &rcpt, &err));
    char path[4096];
    path_in(path, "x-to-y.snb");
    node_bundle_made m;
    CK_OK(node_bundle_create(x, &rcpt, path, NULL, &m, &err));
    node_bundle_import_opts o = {0};
    node_bundle_got g;
    CK_OK(node_bundle_import(y, path, &o, &g, &err));
}

static void exchange(node_store *x, node_store *y, enum carrier by)
{
    switch (by) {
    case BY_SESSION: lp_sync(x, y, NULL, NULL); break;
    case BY_LOG_FILE:
        (void)tca_carry(x, y, "x-to-y.log");
        (void)tca_carry(y, x, "y-to-x.log");
        break;
    default:
        bundle_to(x, y);
        bundle_to(y, x);
        break;
    }
}

/* Every node frozen at FORK with a proof it could check, the same state everywhere. */
static void expect_converged(fork_world *f, int order)
{
    node_store *all[] = {f->a, f->b, f->c};
    const char *names[] = {"A", "B", "C"};
    sn_err err = SN_ERR_INIT;
    for (int i = 0; i < 3; i++) {
        elist l = proofs_of(all[i]);
        ck_assert_msg(l.n == 1, "order %d: %s keeps %zu proofs", order, names[i], l.n);
        ck_assert_msg(l.e[0].seq == FORK, "order %d: %s frozen from %llu", order, names[i],
                      (unsigned long long)l.e[0].seq);
        ck_assert_msg(l.e[0].proof_len > 0, "order %d: %s has no proof to send", order,
                      names[i]);
        char shown[64];
        ck_assert(shows(all[i], f->p, "family", shown));
        ck_assert_msg(strcmp(shown, "Before") == 0, "order %d: %s shows %s", order, names[i],
                      shown);
        CK_OK(node_store_check(all[i], &err));
    }
    expect_digests(f->a, f->b, true, "A and B frozen at the fork");
    expect_digests(f->a, f->c, true, "A and C frozen at the fork");
}

/* The three pairs in each of their six orders, twice over (the proof may need two hops),
 * by sessions, by log files and by bundles (_i % 3). */
START_TEST(test_equivocation_reaches_every_node_in_any_order)
{
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                     {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    int order = _i / CARRIERS;
    enum carrier by = (enum carrier)(_i % CARRIERS);
    fork_world f;
    fork_setup(&f);
    node_store *pairs[3][2] = {{f.a, f.b}, {f.b, f.c}, {f.c, f.a}};
    for (int round = 0; round < 2; round++)
        for (int k = 0; k < 3; k++) {
            const int *o = orders[order];
            exchange(pairs[o[k]][0], pairs[o[k]][1], by);
        }
    expect_converged(&f, _i);
    world_end(&f.w);
}
END_TEST

/* ---- forged and altered proofs -------------------------------------------------------- */

static int keep_bytes(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    (void)err;
    blist_push(ctx, p, n);
    return 0;
}

/* B's proof, as it would send it: at the fork, its own side the checkpoint it holds there,
 * the other A's unit from the fork on (the link at 5, commits 6..7, the checkpoint at 7). */
static void proof_of_b(fork_world *f, blist *out)
{
    sn_err err = SN_ERR_INIT;
    size_t n = 0;
    CK_OK(node_store_export_proofs(f->b, keep_bytes, out, &n, &err));
    ck_assert_uint_eq(n, 1);
    sync_proof pr;
    CK_OK(sync_proof_parse(out->v[0].p, out->v[0].n, &pr, &err));
    ck_assert_uint_eq(pr.seq, FORK);
    ck_assert_uint_eq(pr.side[0].count, 0);
    ck_assert_uint_eq(pr.side[0].cp.seq, FORK);
    ck_assert_uint_eq(pr.side[1].count, 2);
    ck_assert_uint_eq(pr.side[1].cp.seq, FORK + 2);
    sync_proof_free(&pr);
}

/* Flip one bit of every byte of the proof: each is refused with a message saying what is
 * wrong, and C (which holds neither history past the fork) is left as it was; the proof
 * itself is then taken. */
START_TEST(test_equivocation_altered_proof_refused)
{
    sn_err err = SN_ERR_INIT;
    fork_world f;
    fork_setup(&f);
    blist pl = {0};
    proof_of_b(&f, &pl);
    uint8_t *bytes = malloc(pl.v[0].n);
    ck_assert_ptr_nonnull(bytes);
    memcpy(bytes, pl.v[0].p, pl.v[0].n);
    node_body b = {.p = bytes, .n = pl.v[0].n};
    snap before = snap_take(f.c);
    static const char *const words[] = {"proof", "checkpoint", "signature", "certificate"};
    for (size_t i = 0; i < b.n; i++) {
        bytes[i] ^= (uint8_t)(1u << (i % 8));
        size_t eq = 0;
        sn_err_clear(&err);
        int rc = node_store_offer_proofs(f.c, &b, 1, &eq, &err);
        ck_assert_msg(rc != 0, "a flip at byte %zu of %zu was taken", i, b.n);
        bool named = false;
        for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
            named = named || strstr(err.msg, words[k]) != NULL;
        ck_assert_msg(named, "byte %zu: %s", i, err.msg);
        bytes[i] ^= (uint8_t)(1u << (i % 8));
        if (i % 61 == 0)
            snap_expect(f.c, &before, "an altered proof");
    }
    snap_expect(f.c, &before, "every altered proof");
    ck_assert_uint_eq(proofs_of(f.c).n, 0);
    size_t eq = 0;
    CK_OK(node_store_offer_proofs(f.c, &b, 1, &eq, &err));
    ck_assert_uint_eq(eq, 1);
    ck_assert_uint_eq(proofs_of(f.c).e[0].seq, FORK);
    snap_free(&before);
    free(bytes);
    blist_free(&pl);
    world_end(&f.w);
}
END_TEST

/* Proofs made without O's key, or proving nothing, or under a certificate C lacks: each
 * refused with its own message, C unchanged; and in a log file the whole file is. */
START_TEST(test_equivocation_forged_proofs_refused)
{
    sn_err err = SN_ERR_INIT;
    fork_world f;
    fork_setup(&f);
    blist pl = {0};
    proof_of_b(&f, &pl);
    sync_proof pr;
    CK_OK(sync_proof_parse(pl.v[0].p, pl.v[0].n, &pr, &err));
    snap before = snap_take(f.c);
    for (int kind = 0; kind < 4; kind++) {
        sn_buf fake;
        sn_buf_init(&fake, SYNC_PROOF_MAX);
        CK_OK(sync_proof_begin(pr.seq, &fake, &err));
        const char *want = NULL;
        int code = SN_EAUTH;
        for (int s = 0; s < 2; s++) {
            sync_proof_side side = pr.side[s];
            sync_checkpoint cp = side.cp;
            if (kind == 0 && s == 1) { /* re-signed by C with O's name */
                sync_keys keys = lp_keys(f.w.dir[3]);
                sync_checkpoint_sign(&cp, keys.sign_sk);
                sync_keys_wipe(&keys);
                want = "signature";
            }
            if (kind == 1 && s == 1) { /* both sides the same history */
                side = pr.side[0];
                cp = side.cp;
                want = "proves nothing";
                code = SN_ECORRUPT;
            }
            if (kind == 2 && s == 0) { /* a certificate serial nobody issued */
                cp.cert_serial += 1000;
                want = "not known here";
            }
            if (kind == 3 && s == 0 && side.count == 0) { /* a link at the fork not O's */
                side.link[0] ^= 1;
                want = "do not lead";
            }
            if (kind == 3 && s == 1 && want == NULL) {
                side.link[0] ^= 1;
                want = "do not lead";
            }
            CK_OK(sync_proof_add_side(&fake, pr.seq, side.link, &cp, side.bodies, side.lens,
                                      &err));
        }
        node_body b = {.p = fake.data, .n = fake.len};
        size_t eq = 0;
        sn_err_clear(&err);
        CK_FAILS(node_store_offer_proofs(f.c, &b, 1, &eq, &err), code);
        ck_assert_msg(strstr(err.msg, want) != NULL, "kind %d: %s", kind, err.msg);
        snap_expect(f.c, &before, "a forged proof");
        sn_buf_free(&fake);
    }
    sync_proof_free(&pr);

    /* An altered proof in a log file: the whole file is refused. */
    char path[4096];
    path_in(path, "altered.log");
    crdt_vv held = held_of(f.c);
    CK_OK(node_logfile_export(f.b, &held, path, NULL, &err));
    crdt_vv_free(&held);
    FILE *in = fopen(path, "rb");
    ck_assert_ptr_nonnull(in);
    static uint8_t file[1 << 20];
    size_t n = fread(file, 1, sizeof file, in);
    fclose(in);
    uint8_t *at = memmem(file, n, "SNP1", 4);
    ck_assert_ptr_nonnull(at);
    at[8 + 16 + 3] ^= 0x40; /* the link at the fork of the proof's first side */
    sn_blake2b(file + n - 32, 32, file, n - 32);
    FILE *out = fopen(path, "wb");
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(fwrite(file, 1, n, out), n);
    fclose(out);
    sn_err_clear(&err);
    CK_FAILS(node_logfile_import(f.c, path, NULL, &err), SN_EAUTH);
    ck_assert_msg(strstr(err.msg, "proof") != NULL && strstr(err.msg, "do not lead") != NULL &&
                      strstr(err.msg, path) != NULL,
                  "%s", err.msg);
    snap_expect(f.c, &before, "a log file with an altered proof");
    snap_free(&before);
    blist_free(&pl);
    world_end(&f.w);
}
END_TEST

/* Flip byte `at` of the proof kept in the store in `dir` (closed), behind its back. */
static void tamper_kept_proof(const char *dir, size_t at)
{
    char db[4200];
    snprintf(db, sizeof db, "%s/store.db", dir);
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(h, "SELECT proof FROM equivocation", -1, &s, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    size_t n = (size_t)sqlite3_column_bytes(s, 0);
    ck_assert_uint_gt(n, at);
    uint8_t *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    memcpy(p, sqlite3_column_blob(s, 0), n);
    sqlite3_finalize(s);
    p[at] ^= 0x10;
    ck_assert_int_eq(sqlite3_prepare_v2(h, "UPDATE equivocation SET proof = ?1", -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(s, 1, p, (int)n, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    ck_assert_int_eq(sqlite3_close(h), SQLITE_OK);
    free(p);
}

/* A peer that sends a proof altered in a commit body (here B, its store edited): the
 * receiver checks it before anything, refuses it and ends the session naming it; nothing
 * is frozen. */
START_TEST(test_equivocation_altered_proof_ends_the_session)
{
    fork_world f;
    fork_setup(&f);
    node_store_close(f.b);
    f.w.st[2] = NULL;
    /* Past the header (16), side 1 (32 + 148 + 4) and side 2's link, checkpoint and count
     * (184) and its first body's length (4): a byte of commit 6. */
    tamper_kept_proof(f.w.dir[2], 16 + 184 + 184 + 4 + 2);
    f.b = world_reopen(&f.w, 2, BASE_MS);
    link_pair p = {0};
    lp_open(&p, f.b, f.c, NULL);
    (void)lp_run(&p, 0);
    lp_expect_failed(&p, LP_RESP, SN_EAUTH, "proof of equivocation refused");
    ck_assert_msg(strstr(lp_error(&p, LP_RESP)->msg, "do not lead") != NULL, "%s",
                  lp_error(&p, LP_RESP)->msg);
    lp_close(&p);
    ck_assert_uint_eq(proofs_of(f.c).n, 0);
    ck_assert_uint_eq(counts(f.c).quarantined, 0);
    world_end(&f.w);
}
END_TEST

/* ---- faults ------------------------------------------------------------------------- */

/* Finding the fork with each allocation, then each store commit, failing in turn. */
START_TEST(test_equivocation_found_under_faults)
{
    static const int kinds[] = {SN_FAULT_ALLOC, SN_FP_STORE_COMMIT};
    fork_world f;
    fork_setup_at(&f, false);
    find_fork(&f, kinds[_i]);
    elist l = proofs_of(f.b);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_uint_eq(l.e[0].seq, FORK);
    world_end(&f.w);
}
END_TEST

/* Taking B's proof with each allocation, then each store commit, failing in turn: 0, or
 * the fault's code with a message and C as it was, nothing leaked. */
START_TEST(test_equivocation_proof_offered_under_faults)
{
    static const int kinds[] = {SN_FAULT_ALLOC, SN_FP_STORE_COMMIT};
    sn_err err = SN_ERR_INIT;
    fork_world f;
    fork_setup(&f);
    blist pl = {0};
    proof_of_b(&f, &pl);
    snap before = snap_take(f.c);
    for (int n = 0;; n++) {
        size_t eq = 0;
        sn_err_clear(&err);
        long live = sn_alloc_live();
        sn_fault_arm((sn_fault_kind)kinds[_i], n, 1);
        int rc = node_store_offer_proofs(f.c, pl.v, 1, &eq, &err);
        bool fired = sn_fault_disarm();
        ck_assert_msg(sn_alloc_live() == live, "n=%d: %ld blocks leaked", n,
                      sn_alloc_live() - live);
        if (rc == 0) {
            ck_assert_uint_eq(eq, 1);
            break;
        }
        ck_assert_msg(fired && (rc == SN_ENOMEM || rc == SN_EIO) && err.msg[0] != '\0',
                      "n=%d: rc %d (%s)", n, rc, err.msg);
        snap_expect(f.c, &before, "a proof refused by a fault");
    }
    ck_assert_uint_eq(proofs_of(f.c).e[0].seq, FORK);
    snap_free(&before);
    blist_free(&pl);
    world_end(&f.w);
}
END_TEST

Suite *node_equivocation_suite(void);
Suite *node_equivocation_suite(void)
{
    Suite *s = suite_create("node_equivocation_suite");
    TCase *tc = fixture_tcase(s, "equivocation");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_equivocation_reaches_every_node_in_any_order, 0,
                        6 * CARRIERS);
    tcase_add_test(tc, test_equivocation_altered_proof_refused);
    tcase_add_test(tc, test_equivocation_forged_proofs_refused);
    tcase_add_test(tc, test_equivocation_altered_proof_ends_the_session);
    tcase_add_loop_test(tc, test_equivocation_found_under_faults, 0, 2);
    tcase_add_loop_test(tc, test_equivocation_proof_offered_under_faults, 0, 2);
    return s;
}
