/* tests/check_node_bundle.c - store-and-forward bundles (node/bundle.h, sync/bundle.h): a
 * round trip site -> hub -> site by bundles only, acknowledgements, a second import as a
 * no-op, a split bundle imported in reverse order, and every refusal of SECURITY.md §8 row
 * 11 (another recipient, tampered, truncated, re-signed, re-sealed, revoked sender,
 * expired) with the store unchanged; bundles and live sync mixed converge. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "node/bundle.h"
#include "node/fileio.h"
#include "node/keyfile.h"
#include "node/trust.h"
#include "sync/bundle.h"
#include "tests/link_pair.h"
#include "tests/node_fixture.h"
#include "tests/support.h"
#include "tests/trust_fixture.h"

/* A hub and two sites, enrolled with one CA, each holding the others' certificates. */
typedef struct trio {
    world w;
    tca ca;
    node_store *a, *h, *b;
    sync_cert ca_a, ca_h, ca_b; /* their certificates */
} trio;

static void trio_make(trio *t)
{
    sn_err err = SN_ERR_INIT;
    memset(t, 0, sizeof *t);
    t->a = add(&t->w, BASE_MS);
    t->h = add(&t->w, BASE_MS);
    t->b = add(&t->w, BASE_MS);
    tca_make(&t->ca, "Bundle CA");
    t->ca_a = tca_enroll(&t->ca, t->a);
    t->ca_h = tca_enroll_hub(&t->ca, t->h);
    t->ca_b = tca_enroll(&t->ca, t->b);
    /* A site learns the hub's certificate at enrolment (`trust add-cert`); the hub learns
     * the sites' from their first bundles, but here from the start. */
    CK_OK(node_trust_cert_add(t->a, &t->ca_h, &err));
    CK_OK(node_trust_cert_add(t->b, &t->ca_h, &err));
    CK_OK(node_trust_cert_add(t->h, &t->ca_a, &err));
    CK_OK(node_trust_cert_add(t->h, &t->ca_b, &err));
}

/* The bytes of a test file (the caller frees the buffer). */
static sn_buf file_get(const char *path)
{
    sn_err err = SN_ERR_INIT;
    sn_buf b;
    CK_OK(node_file_read(path, NODE_BUNDLE_FILE_MAX, &b, &err));
    CK_OK(sn_buf_reserve(&b, 1, &err)); /* room for one byte more */
    return b;
}

static void file_put(const char *path, const uint8_t *p, size_t n)
{
    sn_err err = SN_ERR_INIT;
    CK_OK(node_file_write_atomic(path, p, n, &err));
}

/* Make a bundle from `from` for `to` in the test directory file `name`. */
static node_bundle_made make(node_store *from, node_store *to, const char *name,
                             const node_bundle_opts *o)
{
    sn_err err = SN_ERR_INIT;
    sync_cert rcpt;
    CK_OK(node_bundle_peer_find(from, node_store_name(to), &rcpt, &err));
    char path[4096];
    path_in(path, name);
    node_bundle_made m;
    CK_OK(node_bundle_create(from, &rcpt, path, o, &m, &err));
    return m;
}

/* A trio in which site a recorded one patient (id to p) and made a-h.snb for the hub. */
static void trio_sent(trio *t, uint8_t p[ID_LEN])
{
    trio_make(t);
    insert_patient(t->a, "Adams", p);
    (void)make(t->a, t->h, "a-h.snb", NULL);
}

static node_bundle_got take(node_store *st, const char *name)
{
    sn_err err = SN_ERR_INIT;
    char path[4096];
    path_in(path, name);
    node_bundle_got g;
    CK_OK(node_bundle_import(st, path, NULL, &g, &err));
    return g;
}

/* Importing `name` into st fails with `code`, a message holding `needle`, nothing changed. */
static void refused(node_store *st, const char *name, int code, const char *needle)
{
    sn_err err = SN_ERR_INIT;
    char path[4096];
    path_in(path, name);
    snap s = snap_take(st);
    CK_FAILS(node_bundle_import(st, path, NULL, NULL, &err), code);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "'%s' not in: %s", needle, err.msg);
    ck_assert_msg(strstr(err.msg, path) != NULL, "the file is not named: %s", err.msg);
    snap_expect(st, &s, name);
    snap_free(&s);
}

START_TEST(test_bundle_round_trip_by_bundles_only)
{
    trio t;
    trio_make(&t);
    uint8_t p[ID_LEN], q[ID_LEN];
    insert_patient(t.a, "Adams", p);
    set_text(t.a, p, "given", "Ann");
    insert_patient(t.b, "Brown", q);

    node_bundle_made m = make(t.a, t.h, "a-h.snb", NULL);
    ck_assert_uint_eq(m.parts, 1);
    ck_assert_uint_eq(m.commits, 2);
    node_bundle_got g = take(t.h, "a-h.snb");
    ck_assert(!g.duplicate);
    ck_assert_str_eq(g.sender_name, node_store_name(t.a));
    ck_assert_uint_eq(g.taken.units.commits, 2);
    ck_assert_uint_eq(g.taken.applied, 2);
    (void)make(t.b, t.h, "b-h.snb", NULL);
    (void)take(t.h, "b-h.snb");
    /* The hub relays each site's commits to the other. */
    m = make(t.h, t.b, "h-b.snb", NULL);
    ck_assert_uint_eq(m.commits, 2); /* a's: b's own are acknowledged by its bundle */
    (void)take(t.b, "h-b.snb");
    m = make(t.h, t.a, "h-a.snb", NULL);
    ck_assert_uint_eq(m.commits, 1);
    (void)take(t.a, "h-a.snb");
    expect_digests(t.a, t.b, true, "sites after bundles through the hub");
    expect_digests(t.a, t.h, true, "site and hub");
    char v[64];
    ck_assert(shows(t.b, p, "given", v));
    ck_assert_str_eq(v, "Ann");
    world_end(&t.w);
}
END_TEST

START_TEST(test_bundle_ack_means_nothing_resent)
{
    sn_err err = SN_ERR_INIT;
    trio t;
    uint8_t p[ID_LEN];
    trio_sent(&t, p);
    /* Not acknowledged yet: the next bundle carries it again. */
    ck_assert_uint_eq(make(t.a, t.h, "a-h2.snb", NULL).commits, 1);
    (void)take(t.h, "a-h.snb");
    node_bundle_opts ack = {.ack_only = true};
    node_bundle_made m = make(t.h, t.a, "ack.snb", &ack);
    ck_assert_uint_eq(m.units, 0);
    node_bundle_got g = take(t.a, "ack.snb");
    ck_assert(g.meta.flags & SYNC_BUNDLE_ACK);
    ck_assert_uint_eq(g.taken.units.commits, 0);
    ck_assert_uint_eq(make(t.a, t.h, "a-h3.snb", NULL).commits, 0);
    node_bundle_peer bp;
    bool found = false;
    CK_OK(node_bundle_peer_load(t.a, t.ca_h.replica, &bp, &found, &err));
    ck_assert(found);
    ck_assert_uint_eq(node_bundle_unacked(&bp), 0);
    node_bundle_peer_free(&bp);
    /* A new commit is unacknowledged until the hub says so; --all carries everything. */
    insert_patient(t.a, "Abbot", p);
    ck_assert_uint_eq(make(t.a, t.h, "a-h4.snb", NULL).commits, 1);
    CK_OK(node_bundle_peer_load(t.a, t.ca_h.replica, &bp, &found, &err));
    ck_assert_uint_eq(node_bundle_unacked(&bp), 1);
    node_bundle_peer_free(&bp);
    node_bundle_opts all = {.all = true};
    ck_assert_uint_eq(make(t.a, t.h, "a-h5.snb", &all).commits, 2);
    world_end(&t.w);
}
END_TEST

START_TEST(test_bundle_second_import_is_noop)
{
    trio t;
    uint8_t p[ID_LEN];
    trio_sent(&t, p);
    node_bundle_got g = take(t.h, "a-h.snb");
    ck_assert(!g.duplicate);
    snap s = snap_take(t.h);
    g = take(t.h, "a-h.snb");
    ck_assert(g.duplicate);
    ck_assert_uint_eq(g.duplicate_ms, BASE_MS);
    ck_assert_uint_eq(g.taken.units.units, 0);
    snap_expect(t.h, &s, "after the second import");
    snap_free(&s);
    world_end(&t.w);
}
END_TEST

START_TEST(test_bundle_split_imported_in_reverse)
{
    trio t;
    trio_make(&t);
    sn_err err = SN_ERR_INIT;
    uint8_t(*ids)[ID_LEN] = malloc(8000 * sizeof *ids);
    CK_OK(node_store_batch_begin(t.a, &err));
    insert_many(t.a, 8000, ids, 0);
    CK_OK(node_store_batch_commit(t.a, &err));
    free(ids);
    node_bundle_opts o = {.part_max = NODE_BUNDLE_PART_MIN};
    node_bundle_made m = make(t.a, t.h, "big.snb", &o);
    ck_assert_msg(m.parts >= 3, "only %zu parts", m.parts);
    ck_assert(!m.oversized);
    ck_assert_uint_eq(m.commits, 8000);
    for (size_t i = m.parts; i >= 1; i--) {
        char name[64], path[4096];
        snprintf(name, sizeof name, "big.snb.%zu", i);
        path_in(path, name);
        sn_buf fb = file_get(path);
        ck_assert_msg(fb.len <= NODE_BUNDLE_PART_MIN, "part %zu: %zu bytes", i, fb.len);
        sn_buf_free(&fb);
        node_bundle_got g = take(t.h, name);
        ck_assert_uint_eq(g.meta.part, i);
        ck_assert_uint_eq((g.meta.flags & SYNC_BUNDLE_LAST) != 0, i == m.parts);
        if (i > 1) /* nothing before part 1 can apply: it waits */
            ck_assert_uint_eq(g.taken.applied, 0);
    }
    expect_digests(t.a, t.h, true, "after every part");
    ck_assert_uint_eq(counts(t.h).waiting, 0);
    world_end(&t.w);
}
END_TEST

START_TEST(test_bundle_for_another_recipient_refused)
{
    trio t;
    uint8_t p[ID_LEN];
    trio_sent(&t, p);
    refused(t.b, "a-h.snb", SN_EAUTH, "not addressed to this node");
    world_end(&t.w);
}
END_TEST

/* Copy file `from` to `to` with bytes [off, off + n) replaced by q (n bytes). */
static void patched(const char *from, const char *to, size_t off, const uint8_t *q, size_t n)
{
    char pf[4096], pt[4096];
    path_in(pf, from);
    path_in(pt, to);
    sn_buf fb = file_get(pf);
    ck_assert(off + n <= fb.len);
    memcpy(fb.data + off, q, n);
    file_put(pt, fb.data, fb.len);
    sn_buf_free(&fb);
}

START_TEST(test_bundle_tampered_and_truncated_refused)
{
    trio t;
    trio_make(&t);
    uint8_t p[ID_LEN];
    insert_patient(t.a, "Adams", p);
    set_text(t.a, p, "given", "Ann");
    (void)make(t.a, t.h, "a-h.snb", NULL);
    char path[4096];
    path_in(path, "a-h.snb");
    sn_buf fb = file_get(path);
    uint8_t *b = fb.data;
    size_t n = fb.len;
    sync_bundle_header h;
    sn_err err = SN_ERR_INIT;
    CK_OK(sync_bundle_header_parse(b, n, &h, &err));

    /* One byte of the body, of the header's fixed fields, of the certificate, of a
     * stanza, of the signature; the magic. */
    struct {
        size_t off;
        int code;
        const char *needle;
    } flips[] = {
        {h.len + 40, SN_EAUTH, "body was altered"},
        {n - 5, SN_EAUTH, "body was altered"},
        {60, SN_EAUTH, "signature does not verify"},
        {h.keyed_len - 10, SN_EAUTH, "signature does not verify"},
        {h.signed_len - 3, SN_EAUTH, "signature does not verify"},
        {h.len - 1, SN_EAUTH, "signature does not verify"},
        {80 + h.cert_len - 70, SN_EAUTH, "does not chain"},
        {0, SN_ECORRUPT, "not an Outpost bundle"},
    };
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        uint8_t x = b[flips[i].off] ^ 0x20;
        patched("a-h.snb", "bad.snb", flips[i].off, &x, 1);
        refused(t.h, "bad.snb", flips[i].code, flips[i].needle);
    }
    /* Truncated anywhere: in the header, in the body, just before the end. */
    size_t cuts[] = {5, h.len - 1, h.len, h.len + 30, n / 2, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char bad[4096];
        path_in(bad, "cut.snb");
        file_put(bad, b, cuts[i]);
        refused(t.h, "cut.snb", SN_ECORRUPT, "truncated");
    }
    /* Bytes after the end. */
    path_in(path, "long.snb");
    b[n] = 0;
    file_put(path, b, n + 1);
    refused(t.h, "long.snb", SN_ECORRUPT, "follow the end");
    sn_buf_free(&fb);
    /* The good file still imports. */
    ck_assert_uint_eq(take(t.h, "a-h.snb").taken.units.commits, 2);
    world_end(&t.w);
}
END_TEST

START_TEST(test_bundle_resigned_and_resealed_refused)
{
    sn_err err = SN_ERR_INIT;
    trio t;
    uint8_t p[ID_LEN];
    trio_sent(&t, p);
    char path[4096];
    path_in(path, "a-h.snb");
    sn_buf fb = file_get(path);
    uint8_t *b = fb.data;
    size_t n = fb.len;
    sync_bundle_header h;
    CK_OK(sync_bundle_header_parse(b, n, &h, &err));

    /* Re-signed: b strips a's signature and signs the header as itself (its certificate
     * and serial in place of a's). The header verifies, but the body key was bound to
     * a's header: the body does not decrypt. */
    sync_keys kb = lp_keys(t.w.dir[2]);
    sn_buf cb;
    sn_buf_init(&cb, SYNC_CERT_MAX);
    CK_OK(sync_cert_encode(&t.ca_b, &cb, &err));
    sn_buf nb;
    sn_buf_init(&nb, 1 << 24);
    CK_OK(sn_buf_append(&nb, b, 74, &err));
    memcpy(nb.data + 28, t.ca_b.replica, 16);
    sn_store_u64be(nb.data + 44, t.ca_b.serial);
    sn_store_u16be(nb.data + 72, (uint16_t)cb.len);
    CK_OK(sn_buf_append(&nb, cb.data, cb.len, &err));
    size_t tail = h.signed_len - h.keyed_len + (h.keyed_len - 74 - h.cert_len);
    CK_OK(sn_buf_append(&nb, h.rcpt, tail, &err));
    uint8_t sig[SYNC_SIG_LEN];
    sync_sign(sig, "SNBUNDL1-hdr", nb.data, nb.len, kb.sign_sk);
    CK_OK(sn_buf_append(&nb, sig, sizeof sig, &err));
    CK_OK(sn_buf_append(&nb, b + h.len, n - h.len, &err));
    path_in(path, "resigned.snb");
    file_put(path, nb.data, nb.len);
    refused(t.h, "resigned.snb", SN_EAUTH, "body was altered");

    /* Re-sealed: the hub, which can open the file key, seals it to b instead and passes
     * the bundle on as if a had sent it to b. The recipients are signed: refused. */
    sync_keys kh = lp_keys(t.w.dir[1]);
    uint8_t fk[SYNC_BOX_KEY_LEN];
    CK_OK(sync_bundle_unseal(&h, kh.box_pk, kh.box_sk, fk, &err));
    uint8_t st[SYNC_BUNDLE_RCPT_LEN];
    sync_kid(st, t.ca_b.box_pk);
    sync_box_seal(st + SYNC_KID_LEN, fk, t.ca_b.box_pk);
    patched("a-h.snb", "resealed.snb", (size_t)(h.rcpt - b), st, sizeof st);
    refused(t.b, "resealed.snb", SN_EAUTH, "signature does not verify");
    /* A stanza swapped for garbage: the signature covers it too. */
    memset(st, 0x55, sizeof st);
    patched("a-h.snb", "swapped.snb", (size_t)(h.rcpt - b), st, sizeof st);
    refused(t.h, "swapped.snb", SN_EAUTH, "signature does not verify");

    sync_keys_wipe(&kb);
    sync_keys_wipe(&kh);
    sn_buf_free(&cb);
    sn_buf_free(&nb);
    sn_buf_free(&fb);
    world_end(&t.w);
}
END_TEST

START_TEST(test_bundle_revoked_sender_refused)
{
    sn_err err = SN_ERR_INIT;
    trio t;
    uint8_t p[ID_LEN];
    trio_sent(&t, p);
    sync_crl_entry e = tca_entry(&t.ca_a, node_store_origin(t.a)->epoch, 0);
    sync_crl crl = tca_crl(&t.ca, &e, 1);
    bool taken = false;
    CK_OK(node_trust_crl_offer(t.h, &crl, &taken, &err));
    ck_assert(taken);
    refused(t.h, "a-h.snb", SN_EAUTH, "is revoked");
    /* Nor does the hub make bundles for it. */
    sync_cert rcpt;
    CK_OK(node_bundle_peer_find(t.h, node_store_name(t.a), &rcpt, &err));
    char path[4096];
    path_in(path, "h-a.snb");
    CK_FAILS(node_bundle_create(t.h, &rcpt, path, NULL, NULL, &err), SN_EAUTH);
    sync_crl_free(&crl);
    world_end(&t.w);
}
END_TEST

START_TEST(test_bundle_expired_needs_override)
{
    sn_err err = SN_ERR_INIT;
    trio t;
    trio_make(&t);
    uint8_t p[ID_LEN];
    insert_patient(t.a, "Adams", p);
    node_bundle_opts o = {.lifetime_ms = 24 * HOUR_MS};
    (void)make(t.a, t.h, "a-h.snb", &o);
    t.w.clock[1].ms += 49 * HOUR_MS;
    refused(t.h, "a-h.snb", SN_EINVAL, "expired 1 days ago");
    char path[4096];
    path_in(path, "a-h.snb");
    node_bundle_import_opts io = {.accept_expired = true};
    node_bundle_got g;
    CK_OK(node_bundle_import(t.h, path, &io, &g, &err));
    ck_assert_uint_eq(g.taken.units.commits, 1);
    world_end(&t.w);
}
END_TEST

START_TEST(test_bundle_peer_lookup)
{
    sn_err err = SN_ERR_INIT;
    trio t;
    trio_make(&t);
    sync_cert c;
    char hex[33];
    sn_hex(hex, t.ca_b.replica, 16);
    hex[10] = '\0';
    CK_OK(node_bundle_peer_find(t.h, hex, &c, &err));
    ck_assert_str_eq(c.name, node_store_name(t.b));
    CK_FAILS(node_bundle_peer_find(t.h, "nobody", &c, &err), SN_ENOTFOUND);
    CK_FAILS(node_bundle_peer_find(t.h, node_store_name(t.h), &c, &err), SN_EINVAL);
    /* A bundle made by a node is not imported back into it. */
    (void)make(t.a, t.h, "a-h.snb", NULL);
    refused(t.a, "a-h.snb", SN_EINVAL, "made by this node");
    world_end(&t.w);
}
END_TEST

START_TEST(test_bundle_mixed_with_live_sync_converges)
{
    trio t;
    trio_make(&t);
    uint8_t p[ID_LEN], q[ID_LEN];
    insert_patient(t.a, "Adams", p);
    insert_patient(t.b, "Brown", q);
    (void)make(t.a, t.h, "a-h.snb", NULL);
    (void)make(t.h, t.a, "h-a-early.snb", NULL); /* made before the hub knew anything */
    /* The same commits arrive first live, then by bundle: nothing is applied twice. */
    lp_sync(t.a, t.h, NULL, NULL);
    node_bundle_got g = take(t.h, "a-h.snb");
    ck_assert_uint_eq(g.taken.units.commits, 0);
    ck_assert_uint_eq(g.taken.applied, 0);
    lp_sync(t.b, t.h, NULL, NULL);
    /* The hub sends a by bundle only what the live session did not already carry. */
    node_bundle_made m = make(t.h, t.a, "h-a.snb", NULL);
    ck_assert_uint_eq(m.commits, 1);
    (void)take(t.a, "h-a-early.snb");
    (void)take(t.a, "h-a.snb");
    set_text(t.a, p, "given", "Ann");
    (void)make(t.a, t.h, "a-h2.snb", NULL);
    (void)take(t.h, "a-h2.snb");
    lp_sync(t.b, t.h, NULL, NULL);
    expect_digests(t.a, t.h, true, "site a and the hub");
    expect_digests(t.a, t.b, true, "site a (bundles) and site b (live)");
    world_end(&t.w);
}
END_TEST

/* Each allocation (into the hub), then each store commit (into site b), failing in turn
 * during an import: every failure is SN_ENOMEM / SN_EIO with a message, leaks nothing and
 * leaves the records as they were (a commit failing after the units were stored leaves
 * them waiting to apply: importing the file again applies them); the first pass without a
 * fault imports it all. */
START_TEST(test_bundle_import_under_faults)
{
    sn_err err = SN_ERR_INIT;
    trio t;
    trio_make(&t);
    CK_OK(node_trust_cert_add(t.a, &t.ca_b, &err));
    uint8_t p[ID_LEN], q[ID_LEN];
    insert_patient(t.a, "Adams", p);
    set_text(t.a, p, "given", "Ann");
    (void)make(t.a, t.h, "a-h.snb", NULL);
    (void)make(t.a, t.b, "a-b.snb", NULL);
    struct {
        sn_fault_kind kind;
        node_store *st;
        const char *file;
        int want;
    } runs[] = {{SN_FAULT_ALLOC, t.h, "a-h.snb", SN_ENOMEM},
                {SN_FP_STORE_COMMIT, t.b, "a-b.snb", SN_EIO}};
    for (size_t k = 0; k < 2; k++) {
        node_store *st = runs[k].st;
        /* Warm the store's caches of the tables the bundle touches: they are not leaks. */
        insert_patient(st, "Warm", q);
        set_text(st, q, "given", "Up");
        char path[4096];
        path_in(path, runs[k].file);
        for (int n = 0;; n++) {
            ck_assert_msg(n < 100000, "the fault keeps firing");
            uint8_t d0[16], d1[16];
            digest(st, d0);
            long live = sn_alloc_live();
            sn_err_clear(&err);
            sn_fault_arm(runs[k].kind, n, 1);
            int rc = node_bundle_import(st, path, NULL, NULL, &err);
            bool fired = sn_fault_disarm();
            ck_assert_msg(sn_alloc_live() == live, "kind %zu n=%d: %ld blocks leaked (%s)", k, n,
                          sn_alloc_live() - live, err.msg);
            if (rc == 0)
                break;
            ck_assert_msg(fired, "n=%d: no fault, yet %s", n, err.msg);
            ck_assert_msg(rc == runs[k].want && err.msg[0] != '\0', "kind %zu n=%d: rc %d: %s",
                          k, n, rc, err.msg);
            digest(st, d1);
            ck_assert_msg(memcmp(d0, d1, 16) == 0, "kind %zu n=%d: failed, yet the records "
                          "changed", k, n);
        }
        ck_assert_uint_eq(counts(st).waiting, 0);
        char v[64];
        ck_assert(shows(st, p, "given", v));
        ck_assert_str_eq(v, "Ann");
    }
    world_end(&t.w);
}
END_TEST

Suite *node_bundle_suite(void);
Suite *node_bundle_suite(void)
{
    Suite *s = suite_create("node_bundle_suite");
    TCase *tc = fixture_tcase(s, "bundle");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_bundle_round_trip_by_bundles_only);
    tcase_add_test(tc, test_bundle_ack_means_nothing_resent);
    tcase_add_test(tc, test_bundle_second_import_is_noop);
    tcase_add_test(tc, test_bundle_split_imported_in_reverse);
    tcase_add_test(tc, test_bundle_for_another_recipient_refused);
    tcase_add_test(tc, test_bundle_tampered_and_truncated_refused);
    tcase_add_test(tc, test_bundle_resigned_and_resealed_refused);
    tcase_add_test(tc, test_bundle_revoked_sender_refused);
    tcase_add_test(tc, test_bundle_expired_needs_override);
    tcase_add_test(tc, test_bundle_peer_lookup);
    tcase_add_test(tc, test_bundle_mixed_with_live_sync_converges);
    tcase_add_test(tc, test_bundle_import_under_faults);
    return s;
}
