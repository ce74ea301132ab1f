/* tests/check_node_trust.c - the node's trust store: enrolment request, installing a
 * certificate (chain, replica and keys checked, one CA only), origin certificates, and the
 * revocation-list ratchet (which empties the cache of verified certificates). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "node/store_int.h"
#include "node/trust.h"
#include "tests/node_fixture.h"
#include "tests/trust_fixture.h"
#include "tests/support.h"

/* A node certificate for `req`, issued by `c`. */
static sync_cert issue(const tca *c, const sync_enroll_request *req, uint64_t serial)
{
    return tca_issue(c, req, serial, 1, 4000000000u);
}

static sync_crl crl_make(const tca *c, uint64_t number)
{
    sn_err err = SN_ERR_INIT;
    sync_crl l = {.number = number, .issued_at = 1, .next_update = 2};
    sync_crl_entry e = {.serial = 9, .epoch = 1, .reason = SYNC_REVOKE_LOST, .last_good_seq = 5};
    memset(e.replica, (int)number, 16);
    CK_OK(sync_crl_add(&l, &e, &err));
    CK_OK(sync_crl_sign(&l, c->sk, &err));
    return l;
}

START_TEST(test_trust_install_checks_chain_replica_keys_and_ca)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *a = mk_tracked("a", &clock, NULL), *b = mk_tracked("b", &clock, NULL);
    tca good, other;
    tca_make(&good, "Deployment CA");
    tca_make(&other, "Another CA");
    sync_enroll_request ra, rb;
    CK_OK(node_trust_request(a, &ra, &err));
    CK_OK(node_trust_request(b, &rb, &err));
    ck_assert(memcmp(ra.replica, node_store_origin(a)->replica, 16) == 0);
    sync_cert out;
    CK_FAILS(node_trust_own(a, &out, &err), SN_ENOTFOUND);

    /* Issued by another CA than the root offered; issued for another node. */
    sync_cert wrong_ca = issue(&other, &ra, 2), for_b = issue(&good, &rb, 3);
    CK_FAILS(node_trust_install(a, &wrong_ca, &good.root, &err), SN_EAUTH);
    CK_FAILS(node_trust_install(a, &for_b, &good.root, &err), SN_EAUTH);
    sync_cert keys_of_b = issue(&good, &ra, 4);
    memcpy(keys_of_b.sign_pk, rb.sign_pk, sizeof rb.sign_pk);
    CK_OK(sync_cert_sign(&keys_of_b, good.sk, &err));
    CK_FAILS(node_trust_install(a, &keys_of_b, &good.root, &err), SN_EAUTH);
    CK_FAILS(node_trust_ca(a, &out, &err), SN_ENOTFOUND);

    sync_cert own = issue(&good, &ra, 5);
    CK_OK(node_trust_install(a, &own, &good.root, &err));
    CK_OK(node_trust_own(a, &out, &err));
    ck_assert_uint_eq(out.serial, 5);
    CK_OK(node_trust_ca(a, &out, &err));
    ck_assert_str_eq(out.name, "Deployment CA");

    /* Once pinned, another CA is refused even with a certificate it signed for us. */
    sync_cert from_other = issue(&other, &ra, 6);
    CK_FAILS(node_trust_install(a, &from_other, &other.root, &err), SN_EAUTH);

    /* Origin certificates: from the pinned CA only. */
    CK_OK(node_trust_cert_add(a, &for_b, &err));
    CK_OK(node_trust_cert_get(a, rb.replica, 3, &out, &err));
    ck_assert(memcmp(out.sign_pk, rb.sign_pk, sizeof rb.sign_pk) == 0);
    sync_cert b_other = issue(&other, &rb, 7);
    CK_FAILS(node_trust_cert_add(a, &b_other, &err), SN_EAUTH);
    CK_FAILS(node_trust_cert_get(a, rb.replica, 7, &out, &err), SN_ENOTFOUND);
    /* One held is taken again unchecked only byte for byte: the same replica and serial
     * from another CA are still refused. */
    CK_OK(node_trust_cert_add(a, &for_b, &err));
    sync_cert b_again = issue(&other, &rb, 3);
    CK_FAILS(node_trust_cert_add(a, &b_again, &err), SN_EAUTH);
    close_tracked(a);
    close_tracked(b);
}
END_TEST

START_TEST(test_trust_crl_never_goes_back)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096];
    node_store *st = mk_tracked("crl", &clock, dir);
    tca good, other;
    tca_make(&good, "Deployment CA");
    tca_make(&other, "Another CA");
    sync_enroll_request r;
    CK_OK(node_trust_request(st, &r, &err));
    sync_cert own = issue(&good, &r, 2);
    CK_OK(node_trust_install(st, &own, &good.root, &err));

    sync_crl held;
    CK_OK(node_trust_crl(st, &held, &err));
    ck_assert_uint_eq(held.number, 0);
    sync_crl_free(&held);

    /* Certificates verified before a newer list is taken are verified again after it. */
    CK_OK(node_trust_cert_verify(st, &own, good.root.sign_pk, 0, &err));
    ck_assert_uint_eq(st->cert_cache.n, 1);
    bool taken;
    sync_crl two = crl_make(&good, 2), one = crl_make(&good, 1), forged = crl_make(&other, 9);
    CK_OK(node_trust_crl_offer(st, &two, &taken, &err));
    ck_assert(taken);
    ck_assert_uint_eq(st->cert_cache.n, 0);
    CK_OK(node_trust_cert_verify(st, &own, good.root.sign_pk, 0, &err));
    CK_OK(node_trust_crl_offer(st, &one, &taken, &err));
    ck_assert(!taken);
    ck_assert_uint_eq(st->cert_cache.n, 1);
    CK_FAILS(node_trust_crl_offer(st, &forged, &taken, &err), SN_EAUTH);
    ck_assert(!taken);
    close_tracked(st);
    st = reopen_tracked(dir, &clock);
    CK_OK(node_trust_crl(st, &held, &err));
    ck_assert_uint_eq(held.number, 2);
    ck_assert_uint_eq(held.n, 1);
    sync_crl_free(&held);
    sync_crl_free(&two);
    sync_crl_free(&one);
    sync_crl_free(&forged);
    close_tracked(st);
}
END_TEST

Suite *node_trust_suite(void);
Suite *node_trust_suite(void)
{
    Suite *s = suite_create("node_trust_suite");
    TCase *tc = tracked_tcase(s, "trust");
    tcase_add_test(tc, test_trust_install_checks_chain_replica_keys_and_ca);
    tcase_add_test(tc, test_trust_crl_never_goes_back);
    return s;
}
