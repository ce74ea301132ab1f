/* tests/check_crdt_vv.c - version vectors: operations, lattice laws, limits and faults. */
#include <check.h>
#include <string.h>

#include "base/alloc.h"
#include "crdt/vv.h"
#include "tests/support.h"

static crdt_origin org(uint8_t id, uint32_t epoch)
{
    crdt_origin o = {.epoch = epoch};
    o.replica[0] = id;
    o.replica[CRDT_REPLICA_LEN - 1] = (uint8_t)(id * 7);
    return o;
}

static crdt_dot dot(uint8_t id, uint32_t epoch, uint64_t seq)
{
    return (crdt_dot){.origin = org(id, epoch), .seq = seq};
}

static void raise_ok(crdt_vv *vv, crdt_origin o, uint64_t seq)
{
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(crdt_vv_raise(vv, &o, seq, &err) == 0, "raise: %s", err.msg);
}

static void assert_valid(const crdt_vv *vv, int seed)
{
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(crdt_vv_check(vv, &err) == 0, "seed %d: invalid vector: %s", seed, err.msg);
}

/* A random vector over a small universe of origins, so random vectors overlap. */
static void vv_random(crdt_vv *vv, test_rng *r)
{
    crdt_vv_clear(vv);
    uint32_t k = test_rng_below(r, 10);
    for (uint32_t i = 0; i < k; i++)
        raise_ok(vv, org((uint8_t)test_rng_below(r, 6), test_rng_below(r, 2)),
                 1 + test_rng_below(r, 20));
}

static void copy_ok(crdt_vv *dst, const crdt_vv *src)
{
    ck_assert_int_eq(crdt_vv_copy(dst, src, NULL), 0);
}

/* ---- basic operations ------------------------------------------------------------------ */

START_TEST(test_vv_origin_order_is_replica_then_epoch)
{
    crdt_origin a = org(1, 9), b = org(2, 0), a2 = org(1, 10);
    ck_assert_int_lt(crdt_origin_cmp(&a, &b), 0);
    ck_assert_int_gt(crdt_origin_cmp(&b, &a), 0);
    ck_assert_int_lt(crdt_origin_cmp(&a, &a2), 0);
    ck_assert_int_eq(crdt_origin_cmp(&a, &a), 0);
    ck_assert(crdt_origin_equal(&a, &a));
    ck_assert(!crdt_origin_equal(&a, &a2));
    /* The last replica byte counts too (memcmp over all 16 bytes). */
    crdt_origin c = a;
    c.replica[CRDT_REPLICA_LEN - 1]++;
    ck_assert_int_lt(crdt_origin_cmp(&a, &c), 0);
}
END_TEST

START_TEST(test_vv_raise_get_and_set)
{
    long base = sn_alloc_live();
    crdt_vv vv;
    crdt_vv_init(&vv);
    crdt_origin a = org(1, 0), b = org(2, 0), c = org(3, 0);
    ck_assert_uint_eq(crdt_vv_get(&vv, &a), 0);
    raise_ok(&vv, b, 5);
    raise_ok(&vv, a, 3);
    raise_ok(&vv, c, 1);
    ck_assert_uint_eq(vv.n, 3);
    assert_valid(&vv, -1);
    ck_assert_uint_eq(crdt_vv_get(&vv, &a), 3);
    ck_assert_uint_eq(crdt_vv_get(&vv, &b), 5);
    raise_ok(&vv, b, 2); /* raise never lowers */
    ck_assert_uint_eq(crdt_vv_get(&vv, &b), 5);
    raise_ok(&vv, org(9, 0), 0); /* raising to 0 adds nothing */
    ck_assert_uint_eq(vv.n, 3);
    ck_assert_int_eq(crdt_vv_set(&vv, &b, 2, NULL), 0); /* set does lower */
    ck_assert_uint_eq(crdt_vv_get(&vv, &b), 2);
    ck_assert_int_eq(crdt_vv_set(&vv, &b, 0, NULL), 0); /* 0 removes */
    ck_assert_uint_eq(vv.n, 2);
    ck_assert_uint_eq(crdt_vv_get(&vv, &b), 0);
    ck_assert_int_eq(crdt_vv_set(&vv, &b, 0, NULL), 0);
    ck_assert_int_eq(crdt_vv_set(&vv, &b, 4, NULL), 0);
    ck_assert_uint_eq(crdt_vv_get(&vv, &b), 4);
    assert_valid(&vv, -1);
    crdt_vv_clear(&vv);
    ck_assert_uint_eq(vv.n, 0);
    ck_assert_uint_eq(crdt_vv_get(&vv, &a), 0);
    crdt_vv_free(&vv);
    crdt_vv_free(NULL);
    ck_assert_int_eq(sn_alloc_live(), base);
}
END_TEST

START_TEST(test_vv_stays_sorted_whatever_the_insertion_order)
{
    test_rng r;
    test_rng_seed(&r, (uint64_t)_i);
    crdt_vv vv = {0};
    uint64_t want[256] = {0};
    for (int k = 0; k < 300; k++) {
        uint8_t id = (uint8_t)test_rng_below(&r, 256);
        uint64_t seq = 1 + test_rng_below(&r, 1000);
        raise_ok(&vv, org(id, 0), seq);
        if (want[id] < seq)
            want[id] = seq;
    }
    assert_valid(&vv, _i);
    for (int id = 0; id < 256; id++) {
        crdt_origin o = org((uint8_t)id, 0);
        ck_assert_msg(crdt_vv_get(&vv, &o) == want[id], "seed %d: origin %d", _i, id);
    }
    crdt_vv_free(&vv);
}
END_TEST

START_TEST(test_vv_join_covers_and_copy)
{
    crdt_vv a = {0}, b = {0}, c = {0};
    raise_ok(&a, org(1, 0), 4);
    raise_ok(&a, org(3, 0), 1);
    raise_ok(&b, org(1, 0), 2);
    raise_ok(&b, org(2, 0), 7);
    raise_ok(&b, org(4, 1), 3);
    ck_assert_int_eq(crdt_vv_join(&a, &b, NULL), 0);
    assert_valid(&a, -1);
    ck_assert_uint_eq(a.n, 4);
    crdt_origin o1 = org(1, 0), o2 = org(2, 0), o3 = org(3, 0), o4 = org(4, 1);
    ck_assert_uint_eq(crdt_vv_get(&a, &o1), 4);
    ck_assert_uint_eq(crdt_vv_get(&a, &o2), 7);
    ck_assert_uint_eq(crdt_vv_get(&a, &o3), 1);
    ck_assert_uint_eq(crdt_vv_get(&a, &o4), 3);
    /* Joining with itself, with a subset, or with nothing changes nothing. */
    copy_ok(&c, &a);
    ck_assert_int_eq(crdt_vv_join(&a, &a, NULL), 0);
    ck_assert_int_eq(crdt_vv_join(&a, &b, NULL), 0);
    crdt_vv empty = {0};
    ck_assert_int_eq(crdt_vv_join(&a, &empty, NULL), 0);
    ck_assert(crdt_vv_equal(&a, &c));
    ck_assert_int_eq(crdt_vv_join(&empty, &a, NULL), 0);
    ck_assert(crdt_vv_equal(&empty, &a));

    crdt_dot d = dot(1, 0, 4);
    ck_assert(crdt_vv_covers(&a, &d));
    d.seq = 5;
    ck_assert(!crdt_vv_covers(&a, &d));
    d = dot(1, 1, 1); /* same replica, other epoch */
    ck_assert(!crdt_vv_covers(&a, &d));

    /* Copy replaces the old contents, both growing and shrinking. */
    copy_ok(&b, &a);
    ck_assert(crdt_vv_equal(&b, &a));
    crdt_vv small = {0};
    raise_ok(&small, org(8, 0), 1);
    copy_ok(&b, &small);
    ck_assert(crdt_vv_equal(&b, &small));
    copy_ok(&b, &b);
    ck_assert(crdt_vv_equal(&b, &small));
    crdt_vv_free(&a);
    crdt_vv_free(&b);
    crdt_vv_free(&c);
    crdt_vv_free(&empty);
    crdt_vv_free(&small);
}
END_TEST

START_TEST(test_vv_dominates_and_compare_including_concurrent)
{
    crdt_vv a = {0}, b = {0}, e = {0};
    ck_assert_int_eq(crdt_vv_compare(&a, &e), CRDT_VV_EQUAL);
    raise_ok(&a, org(1, 0), 2);
    ck_assert_int_eq(crdt_vv_compare(&a, &e), CRDT_VV_AFTER);
    ck_assert_int_eq(crdt_vv_compare(&e, &a), CRDT_VV_BEFORE);
    raise_ok(&b, org(1, 0), 2);
    ck_assert_int_eq(crdt_vv_compare(&a, &b), CRDT_VV_EQUAL);
    ck_assert(crdt_vv_equal(&a, &b));
    raise_ok(&b, org(2, 0), 1);
    ck_assert(crdt_vv_dominates(&b, &a));
    ck_assert(!crdt_vv_dominates(&a, &b));
    ck_assert_int_eq(crdt_vv_compare(&a, &b), CRDT_VV_BEFORE);
    ck_assert_int_eq(crdt_vv_compare(&b, &a), CRDT_VV_AFTER);
    raise_ok(&a, org(1, 0), 3); /* a: {1:3}, b: {1:2, 2:1} */
    ck_assert(!crdt_vv_dominates(&a, &b));
    ck_assert(!crdt_vv_dominates(&b, &a));
    ck_assert_int_eq(crdt_vv_compare(&a, &b), CRDT_VV_CONCURRENT);
    ck_assert_int_eq(crdt_vv_compare(&b, &a), CRDT_VV_CONCURRENT);
    ck_assert(!crdt_vv_equal(&a, &b));
    /* Disjoint origins are concurrent too. */
    crdt_vv c = {0};
    raise_ok(&c, org(5, 0), 1);
    ck_assert_int_eq(crdt_vv_compare(&a, &c), CRDT_VV_CONCURRENT);
    ck_assert(crdt_vv_dominates(&a, &e));
    crdt_vv_free(&a);
    crdt_vv_free(&b);
    crdt_vv_free(&c);
}
END_TEST

START_TEST(test_vv_check_rejects_broken_vectors)
{
    crdt_vv vv = {0};
    raise_ok(&vv, org(1, 0), 1);
    raise_ok(&vv, org(2, 0), 2);
    raise_ok(&vv, org(3, 0), 3);
    assert_valid(&vv, -1);
    sn_err err = SN_ERR_INIT;
    vv.e[1].seq = 0;
    ck_assert_int_eq(crdt_vv_check(&vv, &err), SN_ECORRUPT);
    ck_assert_str_ne(err.msg, "");
    vv.e[1].seq = 2;
    crdt_vv_entry t = vv.e[0];
    vv.e[0] = vv.e[2];
    vv.e[2] = t;
    sn_err_clear(&err);
    ck_assert_int_eq(crdt_vv_check(&vv, &err), SN_ECORRUPT);
    ck_assert_str_ne(err.msg, "");
    vv.e[0] = vv.e[1];
    ck_assert_int_eq(crdt_vv_check(&vv, NULL), SN_ECORRUPT); /* repeated origin */
    crdt_vv_free(&vv);
}
END_TEST

START_TEST(test_vv_more_than_max_entries_is_etoobig_and_unchanged)
{
    long base = sn_alloc_live();
    crdt_vv vv = {0}, other = {0};
    for (uint32_t k = 0; k < CRDT_VV_MAX_ENTRIES; k++)
        raise_ok(&vv, org(0, k), 1); /* epochs ascend: always appends */
    ck_assert_uint_eq(vv.n, CRDT_VV_MAX_ENTRIES);
    sn_err err = SN_ERR_INIT;
    crdt_origin extra = org(1, 0);
    ck_assert_int_eq(crdt_vv_raise(&vv, &extra, 1, &err), SN_ETOOBIG);
    ck_assert_str_ne(err.msg, "");
    ck_assert_uint_eq(vv.n, CRDT_VV_MAX_ENTRIES);
    ck_assert_uint_eq(crdt_vv_get(&vv, &extra), 0);
    sn_err_clear(&err);
    ck_assert_int_eq(crdt_vv_set(&vv, &extra, 1, &err), SN_ETOOBIG);
    /* Raising an origin already present needs no room. */
    crdt_origin last = org(0, CRDT_VV_MAX_ENTRIES - 1);
    raise_ok(&vv, last, 9);
    raise_ok(&other, extra, 1);
    raise_ok(&other, last, 10);
    sn_err_clear(&err);
    ck_assert_int_eq(crdt_vv_join(&vv, &other, &err), SN_ETOOBIG);
    ck_assert_str_ne(err.msg, "");
    ck_assert_uint_eq(crdt_vv_get(&vv, &last), 9);
    ck_assert_uint_eq(vv.n, CRDT_VV_MAX_ENTRIES);
    assert_valid(&vv, -1);
    crdt_vv_free(&vv);
    crdt_vv_free(&other);
    ck_assert_int_eq(sn_alloc_live(), base);
}
END_TEST

/* ---- lattice laws ---------------------------------------------------------------------- */

START_TEST(test_vv_join_is_commutative_associative_idempotent)
{
    test_rng r;
    test_rng_seed(&r, (uint64_t)_i);
    crdt_vv a = {0}, b = {0}, c = {0}, x = {0}, y = {0}, t = {0};
    vv_random(&a, &r);
    vv_random(&b, &r);
    vv_random(&c, &r);

    copy_ok(&x, &a); /* a ⊔ b */
    ck_assert_int_eq(crdt_vv_join(&x, &b, NULL), 0);
    copy_ok(&y, &b); /* b ⊔ a */
    ck_assert_int_eq(crdt_vv_join(&y, &a, NULL), 0);
    assert_valid(&x, _i);
    ck_assert_msg(crdt_vv_equal(&x, &y), "seed %d: join does not commute", _i);
    ck_assert_msg(crdt_vv_dominates(&x, &a) && crdt_vv_dominates(&x, &b),
                  "seed %d: join is not an upper bound", _i);
    /* The join is the least upper bound: every entry comes from a or b. */
    for (size_t k = 0; k < x.n; k++) {
        uint64_t s = x.e[k].seq, sa = crdt_vv_get(&a, &x.e[k].origin),
                 sb = crdt_vv_get(&b, &x.e[k].origin);
        ck_assert_msg(s == (sa > sb ? sa : sb), "seed %d: entry %zu is not the max", _i, k);
    }

    ck_assert_int_eq(crdt_vv_join(&x, &c, NULL), 0); /* (a ⊔ b) ⊔ c */
    copy_ok(&t, &b);                                  /* b ⊔ c */
    ck_assert_int_eq(crdt_vv_join(&t, &c, NULL), 0);
    copy_ok(&y, &a); /* a ⊔ (b ⊔ c) */
    ck_assert_int_eq(crdt_vv_join(&y, &t, NULL), 0);
    ck_assert_msg(crdt_vv_equal(&x, &y), "seed %d: join is not associative", _i);

    copy_ok(&y, &x);
    ck_assert_int_eq(crdt_vv_join(&y, &x, NULL), 0);
    ck_assert_msg(crdt_vv_equal(&x, &y), "seed %d: join is not idempotent", _i);

    /* Order agrees with join: a ≥ b iff a ⊔ b = a. */
    copy_ok(&t, &a);
    ck_assert_int_eq(crdt_vv_join(&t, &b, NULL), 0);
    ck_assert_msg(crdt_vv_dominates(&a, &b) == crdt_vv_equal(&t, &a),
                  "seed %d: dominates disagrees with join", _i);
    crdt_vv_order o = crdt_vv_compare(&a, &b);
    ck_assert_msg((o == CRDT_VV_EQUAL) == crdt_vv_equal(&a, &b), "seed %d: compare", _i);
    ck_assert_msg((o == CRDT_VV_CONCURRENT) ==
                      (!crdt_vv_dominates(&a, &b) && !crdt_vv_dominates(&b, &a)),
                  "seed %d: compare concurrent", _i);

    crdt_vv_free(&a);
    crdt_vv_free(&b);
    crdt_vv_free(&c);
    crdt_vv_free(&x);
    crdt_vv_free(&y);
    crdt_vv_free(&t);
}
END_TEST

/* ---- faults ---------------------------------------------------------------------------- */

typedef enum { OP_JOIN, OP_RAISE, OP_SET, OP_COPY } vv_op;

static int run_op(vv_op op, crdt_vv *vv, const crdt_vv *other, sn_err *err)
{
    crdt_origin fresh = org(200, 3);
    switch (op) {
    case OP_JOIN: return crdt_vv_join(vv, other, err);
    case OP_RAISE: return crdt_vv_raise(vv, &fresh, 12, err);
    case OP_SET: return crdt_vv_set(vv, &fresh, 12, err);
    case OP_COPY: return crdt_vv_copy(vv, other, err);
    }
    return -1;
}

START_TEST(test_vv_fault_leaves_vector_unchanged_and_leaks_nothing)
{
    long base = sn_alloc_live();
    test_rng r;
    test_rng_seed(&r, (uint64_t)_i);
    int fired_total = 0;
    for (vv_op op = OP_JOIN; op <= OP_COPY; op++) {
        for (long n = 0;; n++) {
            crdt_vv vv = {0}, other = {0}, before = {0};
            /* 4 or 8 entries fill the vector's capacity exactly, so join, raise and set
             * must grow it. */
            for (uint32_t k = 0, m = 4u << test_rng_below(&r, 2); k < m; k++)
                raise_ok(&vv, org((uint8_t)(2 * k), 0), 1 + k);
            for (uint32_t k = 0, m = 1 + test_rng_below(&r, 12); k < m; k++)
                raise_ok(&other, org((uint8_t)(k + 1), 0), 5);
            copy_ok(&before, &vv);

            sn_err err = SN_ERR_INIT;
            sn_fault_arm(SN_FAULT_ALLOC, n, 1);
            int rc = run_op(op, &vv, &other, &err);
            bool fired = sn_fault_disarm();
            if (!fired) {
                ck_assert_msg(rc == 0, "seed %d op %d n %ld: rc %d (%s)", _i, op, n, rc, err.msg);
            } else {
                fired_total++;
                ck_assert_msg(rc == SN_ENOMEM, "seed %d op %d n %ld: rc %d", _i, op, n, rc);
                ck_assert_msg(err.msg[0] != '\0', "seed %d op %d n %ld: no message", _i, op, n);
                ck_assert_msg(crdt_vv_equal(&vv, &before), "seed %d op %d n %ld: changed", _i,
                              op, n);
                assert_valid(&vv, _i);
            }
            crdt_vv_free(&vv);
            crdt_vv_free(&other);
            crdt_vv_free(&before);
            ck_assert_msg(sn_alloc_live() == base, "seed %d op %d n %ld: leak", _i, op, n);
            if (!fired)
                break;
        }
    }
    ck_assert_msg(fired_total > 0, "seed %d: no fault ever fired", _i);
}
END_TEST

/* Listed in tests/check_main.c. */
Suite *crdt_vv_suite(void);
Suite *crdt_vv_suite(void)
{
    Suite *s = suite_create("crdt_vv_suite");
    TCase *tc = tcase_create("ops");
    tcase_add_test(tc, test_vv_origin_order_is_replica_then_epoch);
    tcase_add_test(tc, test_vv_raise_get_and_set);
    tcase_add_loop_test(tc, test_vv_stays_sorted_whatever_the_insertion_order, 0, 20);
    tcase_add_test(tc, test_vv_join_covers_and_copy);
    tcase_add_test(tc, test_vv_dominates_and_compare_including_concurrent);
    tcase_add_test(tc, test_vv_check_rejects_broken_vectors);
    tcase_add_test(tc, test_vv_more_than_max_entries_is_etoobig_and_unchanged);
    suite_add_tcase(s, tc);

    tc = tcase_create("laws");
    tcase_add_loop_test(tc, test_vv_join_is_commutative_associative_idempotent, 0, 300);
    suite_add_tcase(s, tc);

    tc = tcase_create("faults");
    tcase_add_loop_test(tc, test_vv_fault_leaves_vector_unchanged_and_leaks_nothing, 0, 20);
    suite_add_tcase(s, tc);
    return s;
}
