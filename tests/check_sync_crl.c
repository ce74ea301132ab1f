/* tests/check_sync_crl.c - revocation lists: round trips, tampering, hostile counts, the
 * epoch/sequence watermark rule, the entry limit and allocation faults. */
#include <check.h>
#include <string.h>

#include "base/alloc.h"
#include "sync/crl.h"

typedef struct ca {
    uint8_t pk[SYNC_SIGN_PK_LEN];
    uint8_t sk[SYNC_SIGN_SK_LEN];
} ca;

static ca ca_new(void)
{
    ca k;
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_sign_keypair(k.pk, k.sk, &err) == 0, "keypair: %s", err.msg);
    return k;
}

static sync_crl_entry ent(uint8_t replica, uint64_t serial, uint32_t epoch, uint64_t last_good)
{
    sync_crl_entry e = {.serial = serial, .epoch = epoch, .reason = SYNC_REVOKE_LOST,
                        .revoked_at = 1700000000 + serial, .last_good_seq = last_good};
    memset(e.replica, replica, 16);
    return e;
}

static crdt_origin org(uint8_t replica, uint32_t epoch)
{
    crdt_origin o = {.epoch = epoch};
    memset(o.replica, replica, 16);
    return o;
}

static void add_ok(sync_crl *crl, sync_crl_entry e)
{
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_crl_add(crl, &e, &err) == 0, "add: %s", err.msg);
}

/* A signed list of three entries (added out of order) and its bytes. */
static void sample(sync_crl *crl, const ca *k, sn_buf *b)
{
    *crl = (sync_crl){.number = 3, .issued_at = 1700000000, .next_update = 1700604800};
    add_ok(crl, ent(0x20, 9, 2, 100));
    add_ok(crl, ent(0x10, 7, 1, 50));
    add_ok(crl, ent(0x20, 4, 1, 70));
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_crl_sign(crl, k->sk, &err) == 0, "sign: %s", err.msg);
    sn_buf_init(b, 1 << 24);
    ck_assert_msg(sync_crl_encode(crl, b, &err) == 0, "encode: %s", err.msg);
}

static void assert_entry_eq(const sync_crl_entry *a, const sync_crl_entry *b)
{
    ck_assert_uint_eq(a->serial, b->serial);
    ck_assert_mem_eq(a->replica, b->replica, 16);
    ck_assert_uint_eq(a->epoch, b->epoch);
    ck_assert_uint_eq(a->reason, b->reason);
    ck_assert_uint_eq(a->revoked_at, b->revoked_at);
    ck_assert_uint_eq(a->last_good_seq, b->last_good_seq);
}

START_TEST(test_crl_round_trip_sorted_and_verified)
{
    ca k = ca_new();
    long base = sn_alloc_live();
    sync_crl crl;
    sn_buf b;
    sample(&crl, &k, &b);
    ck_assert_uint_eq(b.len, 44 + 3 * SYNC_CRL_ENTRY_LEN + 64);
    /* Sorted by (replica, serial) when signed. */
    ck_assert_uint_eq(crl.entries[0].serial, 7);
    ck_assert_uint_eq(crl.entries[1].serial, 4);
    ck_assert_uint_eq(crl.entries[2].serial, 9);

    sync_crl back;
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_crl_parse(b.data, b.len, &back, &err) == 0, "parse: %s", err.msg);
    ck_assert_msg(sync_crl_verify(&back, k.pk, &err) == 0, "verify: %s", err.msg);
    ck_assert_uint_eq(back.n, 3);
    ck_assert_uint_eq(back.number, 3);
    ck_assert_uint_eq(back.issued_at, 1700000000);
    ck_assert_uint_eq(back.next_update, 1700604800);
    ck_assert_mem_eq(back.issuer_kid, crl.issuer_kid, SYNC_KID_LEN);
    ck_assert_mem_eq(back.sig, crl.sig, SYNC_SIG_LEN);
    for (size_t i = 0; i < 3; i++)
        assert_entry_eq(&back.entries[i], &crl.entries[i]);

    /* An empty list round-trips too. */
    sync_crl empty = {.number = 1};
    ck_assert_int_eq(sync_crl_sign(&empty, k.sk, &err), 0);
    sn_buf e;
    sn_buf_init(&e, 1024);
    ck_assert_int_eq(sync_crl_encode(&empty, &e, &err), 0);
    ck_assert_uint_eq(e.len, 44 + 64);
    sync_crl eback;
    ck_assert_int_eq(sync_crl_parse(e.data, e.len, &eback, &err), 0);
    ck_assert_int_eq(sync_crl_verify(&eback, k.pk, &err), 0);
    ck_assert_ptr_null(sync_crl_find(&eback, crl.entries[0].replica));
    sn_buf_free(&e);

    /* Verified by the wrong CA, or with a changed field: refused. */
    ca other = ca_new();
    ck_assert_int_eq(sync_crl_verify(&back, other.pk, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "issuer key id"));
    back.entries[1].last_good_seq++;
    sn_err_clear(&err);
    ck_assert_int_eq(sync_crl_verify(&back, k.pk, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad signature"));

    sync_crl_free(&back);
    sync_crl_free(&crl);
    sync_crl_free(NULL);
    sn_buf_free(&b);
    ck_assert_int_eq(sn_alloc_live(), base);
}
END_TEST

START_TEST(test_crl_every_bit_flip_is_refused)
{
    ca k = ca_new();
    sync_crl crl;
    sn_buf b;
    sample(&crl, &k, &b);
    for (size_t bit = 0; bit < b.len * 8; bit++) {
        b.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        sync_crl c;
        sn_err err = SN_ERR_INIT;
        int rc = sync_crl_parse(b.data, b.len, &c, &err);
        if (rc == 0) {
            rc = sync_crl_verify(&c, k.pk, &err);
            ck_assert_msg(rc == SN_EAUTH, "bit %zu: verify gave %d", bit, rc);
            sync_crl_free(&c);
        } else {
            ck_assert_msg(rc == SN_ECORRUPT || rc == SN_EVERSION, "bit %zu: parse gave %d", bit,
                          rc);
        }
        ck_assert_msg(err.msg[0] != '\0', "bit %zu: no message", bit);
        b.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    sync_crl_free(&crl);
    sn_buf_free(&b);
}
END_TEST

static int parse_rc(const uint8_t *p, size_t n, sn_err *err)
{
    sync_crl c;
    int rc = sync_crl_parse(p, n, &c, err);
    sync_crl_free(&c);
    return rc;
}

START_TEST(test_crl_parse_is_strict)
{
    ca k = ca_new();
    sync_crl crl;
    sn_buf b;
    sample(&crl, &k, &b);
    long base = sn_alloc_live();
    uint8_t p[512];
    size_t n = b.len;
    ck_assert_uint_lt(n, sizeof p);
    memcpy(p, b.data, n);
    sn_err err = SN_ERR_INIT;
    for (size_t len = 0; len < n; len++)
        ck_assert_msg(parse_rc(p, len, &err) == SN_ECORRUPT, "length %zu", len);
    p[n] = 0;
    sn_err_clear(&err);
    ck_assert_int_eq(parse_rc(p, n + 1, &err), SN_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "trailing"));

    size_t e1 = 44 + SYNC_CRL_ENTRY_LEN; /* second entry */
    struct {
        size_t off;
        uint8_t val;
        int rc;
        const char *word;
    } bad[] = {
        {4, 2, SN_EVERSION, "version 2"},  {4, 0, SN_ECORRUPT, "version"},
        {0, 'X', SN_ECORRUPT, "magic"},    {6, 1, SN_ECORRUPT, "reserved"},
        {43, 4, SN_ECORRUPT, "truncated"}, {43, 2, SN_ECORRUPT, "trailing"},
        {e1 + 28, 0, SN_ECORRUPT, "reason"}, {e1 + 28, 5, SN_ECORRUPT, "reason"},
        {e1 + 8, 0x00, SN_ECORRUPT, "order"}, /* replica 0x00.. sorts before the first */
        {23, 0, SN_ECORRUPT, "number 0"},     /* crl_number 3 -> 0 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t keep = p[bad[i].off];
        p[bad[i].off] = bad[i].val;
        sn_err_clear(&err);
        ck_assert_msg(parse_rc(p, n, &err) == bad[i].rc, "case %zu", i);
        ck_assert_msg(strstr(err.msg, bad[i].word) != NULL, "case %zu: '%s'", i, err.msg);
        p[bad[i].off] = keep;
    }
    ck_assert_int_eq(parse_rc(p, n, &err), 0);

    /* A repeated entry is refused too. */
    memcpy(p + 44 + 2 * SYNC_CRL_ENTRY_LEN, p + 44 + SYNC_CRL_ENTRY_LEN, SYNC_CRL_ENTRY_LEN);
    sn_err_clear(&err);
    ck_assert_int_eq(parse_rc(p, n, &err), SN_ECORRUPT);
    ck_assert_int_eq(sn_alloc_live(), base); /* refused lists leave nothing behind */
    sync_crl_free(&crl);
    sn_buf_free(&b);
}
END_TEST

START_TEST(test_crl_hostile_count_allocates_nothing)
{
    ca k = ca_new();
    sync_crl crl;
    sn_buf b;
    sample(&crl, &k, &b);
    long base = sn_alloc_live();
    uint32_t counts[] = {4, 1000, SYNC_CRL_MAX_ENTRIES, SYNC_CRL_MAX_ENTRIES + 1, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        sn_store_u32be(b.data + 40, counts[i]);
        sn_err err = SN_ERR_INIT;
        /* Any allocation attempt would fail and turn the result into SN_ENOMEM. */
        sn_fault_arm(SN_FAULT_ALLOC, 0, -1);
        int rc = parse_rc(b.data, b.len, &err);
        ck_assert_msg(!sn_fault_disarm(), "count %u: parse allocated", counts[i]);
        ck_assert_msg(rc == SN_ECORRUPT, "count %u: %d", counts[i], rc);
        ck_assert_ptr_nonnull(strstr(err.msg, "entr"));
    }
    ck_assert_int_eq(sn_alloc_live(), base);
    sync_crl_free(&crl);
    sn_buf_free(&b);
}
END_TEST

START_TEST(test_crl_allows_by_epoch_and_watermark)
{
    sync_crl crl = {.number = 1};
    crdt_origin r1 = org(1, 5), r2 = org(2, 0);
    /* Empty list: everything allowed. */
    ck_assert(sync_crl_allows(&crl, &r1, 1000000));
    add_ok(&crl, ent(1, 10, 5, 100));
    ck_assert(sync_crl_allows(&crl, &r2, 1000000)); /* other replica */
    ck_assert(sync_crl_allows(&crl, &r1, 1));
    ck_assert(sync_crl_allows(&crl, &r1, 100));
    ck_assert(!sync_crl_allows(&crl, &r1, 101));
    crdt_origin early = org(1, 4), late = org(1, 6);
    ck_assert(sync_crl_allows(&crl, &early, UINT64_MAX));
    ck_assert(!sync_crl_allows(&crl, &late, 1));
    ck_assert(!sync_crl_allows(&crl, &late, 0));
    ck_assert_uint_eq(sync_crl_find(&crl, r1.replica)->serial, 10);
    ck_assert_ptr_null(sync_crl_find(&crl, r2.replica));

    /* Several entries for one replica (a rotation, then a loss): the smallest allowance
     * applies, whichever order they were added in. */
    add_ok(&crl, ent(1, 11, 5, 40));  /* same epoch, lower watermark */
    add_ok(&crl, ent(1, 12, 6, 500)); /* later epoch: looser */
    ck_assert(sync_crl_allows(&crl, &r1, 40));
    ck_assert(!sync_crl_allows(&crl, &r1, 41));
    ck_assert(!sync_crl_allows(&crl, &late, 1));
    ck_assert(sync_crl_allows(&crl, &early, 7));
    ck_assert_uint_eq(sync_crl_find(&crl, r1.replica)->serial, 11);
    add_ok(&crl, ent(1, 13, 3, 9)); /* an earlier epoch: now even epoch 4 is cut */
    ck_assert(!sync_crl_allows(&crl, &early, 1));
    crdt_origin e3 = org(1, 3), e2 = org(1, 2);
    ck_assert(sync_crl_allows(&crl, &e3, 9));
    ck_assert(!sync_crl_allows(&crl, &e3, 10));
    ck_assert(sync_crl_allows(&crl, &e2, UINT64_MAX));
    ck_assert_uint_eq(sync_crl_find(&crl, r1.replica)->serial, 13);
    sync_crl_free(&crl);
}
END_TEST

/* Watermarks are per certificate serial: a rotated-out key (superseded at 40) limits only
 * the checkpoints it signs; the replica's new key is not held back by it. */
START_TEST(test_crl_watermark_per_serial)
{
    sync_crl crl = {.number = 1};
    crdt_origin r1 = org(1, 5), early = org(1, 4), late = org(1, 6), r2 = org(2, 5);
    ck_assert_uint_eq(sync_crl_watermark(&crl, &r1, 10), UINT64_MAX);
    add_ok(&crl, ent(1, 10, 5, 40));
    ck_assert_uint_eq(sync_crl_watermark(&crl, &r1, 10), 40);
    ck_assert_uint_eq(sync_crl_watermark(&crl, &r1, 11), UINT64_MAX); /* the new key */
    ck_assert_uint_eq(sync_crl_watermark(&crl, &early, 10), UINT64_MAX);
    ck_assert_uint_eq(sync_crl_watermark(&crl, &late, 10), 0);
    ck_assert_uint_eq(sync_crl_watermark(&crl, &r2, 10), UINT64_MAX); /* other replica */
    add_ok(&crl, ent(1, 11, 5, 90));
    ck_assert_uint_eq(sync_crl_watermark(&crl, &r1, 11), 90);
    ck_assert_uint_eq(sync_crl_watermark(&crl, &r1, 10), 40);
    sync_crl_free(&crl);
}
END_TEST

START_TEST(test_crl_sign_refuses_bad_lists)
{
    ca k = ca_new();
    sn_err err = SN_ERR_INIT;
    sync_crl crl = {0};
    add_ok(&crl, ent(1, 1, 0, 1));
    ck_assert_int_eq(sync_crl_sign(&crl, k.sk, &err), SN_EINVAL); /* number 0 */
    crl.number = 1;
    crl.entries[0].reason = 0;
    sn_err_clear(&err);
    ck_assert_int_eq(sync_crl_sign(&crl, k.sk, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "reason"));
    crl.entries[0].reason = SYNC_REVOKE_COMPROMISED;
    add_ok(&crl, ent(2, 1, 0, 1));
    add_ok(&crl, ent(1, 1, 3, 9)); /* same replica and serial as the first */
    sn_err_clear(&err);
    ck_assert_int_eq(sync_crl_sign(&crl, k.sk, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "twice"));
    sync_crl_free(&crl);
}
END_TEST

START_TEST(test_crl_limit_is_enforced_and_the_largest_list_round_trips)
{
    ca k = ca_new();
    long base = sn_alloc_live();
    sync_crl crl = {.number = 7};
    sn_err err = SN_ERR_INIT;
    for (uint32_t i = 0; i < SYNC_CRL_MAX_ENTRIES; i++) {
        sync_crl_entry e = ent(0, i + 1, 1, i);
        sn_store_u32be(e.replica, i);
        if (sync_crl_add(&crl, &e, &err) != 0)
            ck_abort_msg("add %u: %s", i, err.msg);
    }
    sync_crl_entry extra = ent(0xFF, 1, 1, 1);
    ck_assert_int_eq(sync_crl_add(&crl, &extra, &err), SN_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "maximum"));
    ck_assert_uint_eq(crl.n, SYNC_CRL_MAX_ENTRIES);

    sn_err_clear(&err);
    ck_assert_msg(sync_crl_sign(&crl, k.sk, &err) == 0, "sign: %s", err.msg);
    sn_buf b;
    sn_buf_init(&b, 1 << 23);
    ck_assert_int_eq(sync_crl_encode(&crl, &b, &err), 0);
    ck_assert_uint_eq(b.len, 44 + (size_t)SYNC_CRL_ENTRY_LEN * SYNC_CRL_MAX_ENTRIES + 64);
    sync_crl back;
    ck_assert_msg(sync_crl_parse(b.data, b.len, &back, &err) == 0, "parse: %s", err.msg);
    ck_assert_msg(sync_crl_verify(&back, k.pk, &err) == 0, "verify: %s", err.msg);
    ck_assert_int_eq(sync_crl_add(&back, &extra, &err), SN_ETOOBIG);
    sync_crl_free(&back);
    sync_crl_free(&crl);
    sn_buf_free(&b);
    ck_assert_int_eq(sn_alloc_live(), base);
}
END_TEST

START_TEST(test_crl_faults_are_enomem_and_leak_nothing)
{
    ca k = ca_new();
    sync_crl crl;
    sn_buf b;
    sample(&crl, &k, &b);
    /* Enough entries that signing and verifying need a heap copy (over 4 KiB). */
    for (uint8_t i = 0; i < 120; i++)
        add_ok(&crl, ent(0x40 + i, 1, 1, 1));
    long base = sn_alloc_live();
    int fired = 0;
    for (int op = 0; op < 4; op++) {
        for (long n = 0;; n++) {
            sn_err err = SN_ERR_INIT;
            sync_crl out = {0}, grow = {.number = 2};
            sn_fault_arm(SN_FAULT_ALLOC, n, 1);
            int rc;
            switch (op) {
            case 0: rc = sync_crl_parse(b.data, b.len, &out, &err); break;
            case 1: rc = sync_crl_sign(&crl, k.sk, &err); break;
            case 2: rc = sync_crl_verify(&crl, k.pk, &err); break;
            default:
                rc = 0;
                for (int i = 0; i < 40 && rc == 0; i++) {
                    sync_crl_entry e = ent((uint8_t)i, 1, 1, 1);
                    rc = sync_crl_add(&grow, &e, &err);
                }
                break;
            }
            bool faulted = sn_fault_disarm();
            sync_crl_free(&out);
            sync_crl_free(&grow);
            ck_assert_msg(sn_alloc_live() == base, "op %d n %ld: leak", op, n);
            if (!faulted) {
                ck_assert_msg(rc == 0, "op %d: %s", op, err.msg);
                break;
            }
            fired++;
            ck_assert_msg(rc == SN_ENOMEM && err.msg[0] != '\0', "op %d n %ld: rc %d", op, n,
                          rc);
        }
    }
    ck_assert_int_ge(fired, 4); /* every operation met at least one fault */
    sync_crl_free(&crl);
    sn_buf_free(&b);
}
END_TEST

Suite *sync_crl_suite(void);
Suite *sync_crl_suite(void)
{
    Suite *s = suite_create("sync_crl_suite");
    TCase *tc = tcase_create("format");
    tcase_add_test(tc, test_crl_round_trip_sorted_and_verified);
    tcase_add_test(tc, test_crl_every_bit_flip_is_refused);
    tcase_add_test(tc, test_crl_parse_is_strict);
    tcase_add_test(tc, test_crl_hostile_count_allocates_nothing);
    tcase_add_test(tc, test_crl_sign_refuses_bad_lists);
    suite_add_tcase(s, tc);

    tc = tcase_create("rules");
    tcase_add_test(tc, test_crl_allows_by_epoch_and_watermark);
    tcase_add_test(tc, test_crl_watermark_per_serial);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_crl_limit_is_enforced_and_the_largest_list_round_trips);
    tcase_add_test(tc, test_crl_faults_are_enomem_and_leak_nothing);
    suite_add_tcase(s, tc);
    return s;
}
