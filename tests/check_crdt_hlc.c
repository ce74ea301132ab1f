/* tests/check_crdt_hlc.c - the hybrid logical clock: monotone, persistent, bounded skew. */
#include <check.h>

#include "crdt/hlc.h"
#include "tests/support.h"

#define SKEW CRDT_HLC_DEFAULT_MAX_SKEW_MS

START_TEST(test_hlc_tick_follows_a_wall_clock_that_moves_forward)
{
    crdt_clock c;
    crdt_clock_init(&c, 0, SKEW);
    ck_assert_uint_eq(crdt_clock_tick(&c, 1000), CRDT_HLC_MAKE(1000, 0));
    ck_assert_uint_eq(crdt_clock_tick(&c, 1000), CRDT_HLC_MAKE(1000, 1));
    ck_assert_uint_eq(crdt_clock_tick(&c, 1001), CRDT_HLC_MAKE(1001, 0));
    ck_assert_uint_eq(c.last, CRDT_HLC_MAKE(1001, 0));
    ck_assert_uint_eq(CRDT_HLC_MS(c.last), 1001);
    ck_assert_uint_eq(CRDT_HLC_COUNTER(CRDT_HLC_MAKE(7, 9)), 9);
}
END_TEST

START_TEST(test_hlc_never_goes_backwards_when_wall_clock_steps_back)
{
    crdt_clock c;
    crdt_clock_init(&c, 0, SKEW);
    crdt_hlc a = crdt_clock_tick(&c, 50000);
    crdt_hlc b = crdt_clock_tick(&c, 20000); /* someone set the clock back */
    ck_assert_uint_gt(b, a);
    ck_assert_uint_eq(CRDT_HLC_MS(b), 50000);
    ck_assert_uint_eq(CRDT_HLC_COUNTER(b), 1);
    crdt_hlc d = crdt_clock_tick(&c, 0);
    ck_assert_uint_gt(d, b);
}
END_TEST

START_TEST(test_hlc_never_goes_backwards_across_a_restart)
{
    crdt_clock c;
    crdt_clock_init(&c, 0, SKEW);
    crdt_hlc issued = 0;
    for (int k = 0; k < 10; k++)
        issued = crdt_clock_tick(&c, 90000);
    crdt_hlc persisted = c.last;
    ck_assert_uint_eq(persisted, issued);
    /* Restart with the wall clock a minute behind. */
    crdt_clock again;
    crdt_clock_init(&again, persisted, SKEW);
    ck_assert_uint_eq(again.last, persisted);
    ck_assert_uint_eq(again.max_skew_ms, SKEW);
    crdt_hlc next = crdt_clock_tick(&again, 90000 - 60000);
    ck_assert_uint_gt(next, issued);
}
END_TEST

START_TEST(test_hlc_strictly_increasing_over_many_ticks)
{
    test_rng r;
    test_rng_seed(&r, (uint64_t)_i);
    crdt_clock c;
    crdt_clock_init(&c, test_rng_next(&r) >> 20, SKEW);
    uint64_t wall = test_rng_below(&r, 1u << 30);
    crdt_hlc prev = c.last;
    for (int k = 0; k < 20000; k++) {
        /* Mostly small steps forward, sometimes a jump back, sometimes a remote time. */
        uint32_t roll = test_rng_below(&r, 100);
        if (roll < 70)
            wall += test_rng_below(&r, 3);
        else if (roll < 75)
            wall -= wall < 5000 ? wall : test_rng_below(&r, 5000);
        else if (roll < 80)
            (void)crdt_clock_observe(&c, CRDT_HLC_MAKE(wall + test_rng_below(&r, 2 * SKEW), 7),
                                     wall);
        crdt_hlc before = c.last;
        crdt_hlc t = crdt_clock_tick(&c, wall);
        ck_assert_msg(t > before && t > prev, "seed %d step %d: %llu after %llu", _i, k,
                      (unsigned long long)t, (unsigned long long)before);
        ck_assert_msg(c.last == t, "seed %d step %d: last not updated", _i, k);
        ck_assert_msg(CRDT_HLC_MS(t) >= wall, "seed %d step %d: behind the wall clock", _i, k);
        prev = t;
    }
}
END_TEST

START_TEST(test_hlc_counter_overflow_advances_ms)
{
    crdt_clock c;
    crdt_clock_init(&c, CRDT_HLC_MAKE(1000, 0xfffe), SKEW);
    ck_assert_uint_eq(crdt_clock_tick(&c, 1000), CRDT_HLC_MAKE(1000, 0xffff));
    ck_assert_uint_eq(crdt_clock_tick(&c, 1000), CRDT_HLC_MAKE(1001, 0));
    /* Far more events than one millisecond's counter holds, with the wall clock stuck:
     * the clock keeps issuing new times (it runs ahead rather than stalls). */
    crdt_hlc prev = c.last;
    for (long k = 0; k < 3L * 65536; k++) {
        crdt_hlc t = crdt_clock_tick(&c, 1000);
        ck_assert_msg(t > prev, "tick %ld did not advance", k);
        prev = t;
    }
    ck_assert_uint_eq(CRDT_HLC_MS(prev), 1004);
    /* Once the wall clock catches up, the clock follows it again. */
    ck_assert_uint_eq(crdt_clock_tick(&c, 2000), CRDT_HLC_MAKE(2000, 0));
}
END_TEST

START_TEST(test_hlc_far_future_remote_is_not_observed)
{
    crdt_clock c;
    crdt_clock_init(&c, 0, SKEW);
    uint64_t wall = 1700000000000ull;
    crdt_hlc t = crdt_clock_tick(&c, wall);
    crdt_hlc remote = CRDT_HLC_MAKE(wall + SKEW + 1, 0);
    ck_assert(crdt_clock_is_skewed(&c, remote, wall));
    ck_assert(!crdt_clock_observe(&c, remote, wall));
    ck_assert_uint_eq(c.last, t);
    crdt_hlc next = crdt_clock_tick(&c, wall + 1);
    ck_assert_uint_eq(next, CRDT_HLC_MAKE(wall + 1, 0));
    ck_assert_uint_lt(next, remote);
    /* Exactly max_skew_ms ahead is still acceptable; a year ahead never is. */
    ck_assert(!crdt_clock_is_skewed(&c, CRDT_HLC_MAKE(wall + SKEW, 0xffff), wall));
    ck_assert(crdt_clock_is_skewed(&c, UINT64_MAX, wall));
    /* Skew is measured against the wall clock passed in, not against our last time. */
    crdt_clock_init(&c, CRDT_HLC_MAKE(wall + SKEW, 0), SKEW);
    ck_assert(crdt_clock_is_skewed(&c, CRDT_HLC_MAKE(wall + SKEW + 1, 0), wall));
}
END_TEST

START_TEST(test_hlc_near_remote_is_observed_and_next_tick_is_after_it)
{
    crdt_clock c;
    crdt_clock_init(&c, 0, SKEW);
    uint64_t wall = 5000000;
    (void)crdt_clock_tick(&c, wall);
    crdt_hlc remote = CRDT_HLC_MAKE(wall + 1000, 42);
    ck_assert(!crdt_clock_is_skewed(&c, remote, wall));
    ck_assert(crdt_clock_observe(&c, remote, wall));
    ck_assert_uint_eq(c.last, remote);
    crdt_hlc next = crdt_clock_tick(&c, wall + 1);
    ck_assert_uint_gt(next, remote);
    ck_assert_uint_eq(next, CRDT_HLC_MAKE(wall + 1000, 43));
    /* An older remote time is observed but never lowers the clock. */
    ck_assert(crdt_clock_observe(&c, CRDT_HLC_MAKE(10, 0), wall));
    ck_assert_uint_eq(c.last, next);
}
END_TEST

/* Listed in tests/check_main.c. */
Suite *crdt_hlc_suite(void);
Suite *crdt_hlc_suite(void)
{
    Suite *s = suite_create("crdt_hlc_suite");
    TCase *tc = tcase_create("tick");
    tcase_add_test(tc, test_hlc_tick_follows_a_wall_clock_that_moves_forward);
    tcase_add_test(tc, test_hlc_never_goes_backwards_when_wall_clock_steps_back);
    tcase_add_test(tc, test_hlc_never_goes_backwards_across_a_restart);
    tcase_add_loop_test(tc, test_hlc_strictly_increasing_over_many_ticks, 0, 20);
    tcase_add_test(tc, test_hlc_counter_overflow_advances_ms);
    suite_add_tcase(s, tc);

    tc = tcase_create("observe");
    tcase_add_test(tc, test_hlc_far_future_remote_is_not_observed);
    tcase_add_test(tc, test_hlc_near_remote_is_observed_and_next_tick_is_after_it);
    suite_add_tcase(s, tc);
    return s;
}
