/* tests/check_link_fault.c - fault injection over the sync session path (STYLE.md §9):
 * a once-mode session, wired in memory (tests/link_pair.h), between a loaded store and a
 * fresh one, with the n-th allocation failing, or the n-th store transaction commit failing
 * as if the disk were full, for n = 0, 1, ... until a pass fires no fault.
 *
 * The loaded store holds its own records and another site's (so relayed units and
 * certificates cross), cut into units of NODE_UNIT_FLOOR so that several are in flight.
 * Each pass runs against a new fresh store, so that every pass starts from the same state;
 * the fresh store dials (a site bootstrapping from its hub) or is dialled (a hub taking a
 * new site's first sync). After each pass, with the fault disarmed:
 *   - the session either completed on both sides, or a side failed with the fault's own
 *     error (SN_ENOMEM; SN_EIO for a failed commit) and a message, and any other failed
 *     side has a message too; nothing leaked;
 *   - both stores pass node_store_check, and rematerializing the receiver from its log
 *     leaves its digest unchanged (what it holds is whole units, applied fully);
 *   - nothing acknowledged is lost: what the sender recorded as held by the receiver
 *     (raised by its acknowledgements) the receiver holds;
 *   - a second session without faults completes and leaves the digests equal.
 * An allocation loop is some 5,000 passes: `make test` runs the first 64 and one in 29
 * after (SN_LINK_FAULT_STRIDE), `make soak` every one. A failing pass prints the command
 * that replays it from there (SN_LINK_FAULT_FROM). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "node/peers.h"
#include "node/units.h"
#include "tests/link_pair.h"
#include "tests/node_fixture.h"
#include "tests/trust_fixture.h"

/* The passes of one loop, summed for the report. */
typedef struct pass_tally {
    int passes, completed, failed;
} pass_tally;

static tca g_ca;
static test_clock g_clock = {.ms = BASE_MS};
static node_store *g_loaded;
static char g_loaded_dir[4096];

static FILE *g_null; /* where the failing sessions' log lines go */

/* The loaded store: 40 patients of its own with addresses (about 12 KiB of bodies), a
 * conflict on one of them, and 20 patients of another site it relays. */
static void loaded_setup(void)
{
    dir_setup_mem();
    g_null = fopen("/dev/null", "w");
    ck_assert_ptr_nonnull(g_null);
    sn_log_set_output(g_null, 0);
    tca_make(&g_ca, "Fault CA");
    g_loaded = mk("loaded", &g_clock, g_loaded_dir);
    (void)tca_enroll(&g_ca, g_loaded);
    node_store *other = mk("other", &g_clock, NULL);
    (void)tca_enroll(&g_ca, other);
    uint8_t id[ID_LEN], first[ID_LEN];
    for (int i = 0; i < 20; i++) {
        char family[32];
        snprintf(family, sizeof family, "Other%02d", i);
        insert_patient(other, family, id);
    }
    insert_patient(g_loaded, "Shared", first);
    tca_send(g_loaded, other);
    set_text(other, first, "family", "Sharpe");
    for (int i = 0; i < 40; i++) {
        char family[32];
        snprintf(family, sizeof family, "Loaded%02d", i);
        schema_field f[2] = {fld("patient", "family", txt(family)),
                             fld("patient", "address",
                                 txt("Sick bay, deck 3, frame 112, port side, by the hatch "
                                     "to the dispensary, second berth from the bulkhead"))};
        insert_row(g_loaded, "patient", f, 2, id);
    }
    set_text(g_loaded, first, "family", "Sharp");
    tca_send(other, g_loaded);
    node_store_close(other);
}

static void loaded_teardown(void)
{
    node_store_close(g_loaded);
    g_loaded = NULL;
    sn_log_set_output(stderr, 0);
    fclose(g_null);
    dir_teardown();
}

/* The loaded store cuts units of NODE_UNIT_FLOOR for the fresh store. */
static void small_units_for(node_store *fresh)
{
    sn_err err = SN_ERR_INIT;
    node_peer p;
    bool found;
    CK_OK(node_peer_load(g_loaded, node_store_origin(fresh)->replica, &p, &found, &err));
    p.unit_target = NODE_UNIT_FLOOR;
    CK_OK(node_peer_save(g_loaded, &p, &err));
    node_peer_free(&p);
}

/* What `of` recorded as held by `peer` is held by `peer`. */
static void expect_acked_held(node_store *of, node_store *peer, const char *what)
{
    sn_err err = SN_ERR_INIT;
    node_peer p;
    bool found;
    CK_OK(node_peer_load(of, node_store_origin(peer)->replica, &p, &found, &err));
    crdt_vv held = held_of(peer);
    ck_assert_msg(crdt_vv_dominates(&held, &p.seen),
                  "%s: the peer acknowledged commits it does not hold", what);
    crdt_vv_free(&held);
    node_peer_free(&p);
}

/* Rematerializing every row from the log gives the digest the store had. */
static void expect_whole(node_store *st, const char *what)
{
    sn_err err = SN_ERR_INIT;
    CK_OK(node_store_check(st, &err));
    uint8_t before[16], after[16];
    digest(st, before);
    CK_OK(node_store_rematerialize(st, NULL, 0, &err));
    digest(st, after);
    ck_assert_msg(memcmp(before, after, 16) == 0, "%s: the materialized state is not the "
                  "log's", what);
}

/* How a session ended on each side, taken before its links are freed. */
typedef struct outcome {
    node_link_state state[2];
    sn_err err[2];
} outcome;

static outcome outcome_of(const link_pair *p)
{
    outcome o;
    for (int i = 0; i < 2; i++) {
        o.state[i] = lp_state(p, i);
        o.err[i] = *lp_error(p, i);
    }
    return o;
}

/* A failed side said why; the side the fault hit failed with the fault's own code.
 * Returns true when both sides completed despite the fault. */
static bool check_outcome(const outcome *o, int want, const char *what)
{
    bool completed = true, faulted = false;
    for (int i = 0; i < 2; i++) {
        if (o->state[i] == NODE_LINK_DONE)
            continue;
        completed = false;
        ck_assert_msg(o->err[i].code != 0 && o->err[i].msg[0] != '\0',
                      "%s: side %d state %d without an error", what, i, o->state[i]);
        faulted |= o->err[i].code == want;
    }
    ck_assert_msg(completed || faulted, "%s: no side failed with %s (%s / %s)", what,
                  sn_err_name(want), o->err[0].msg, o->err[1].msg);
    return completed;
}

/* A side that ended closes its connection, as the daemon does once its output is flushed:
 * the other side, still waiting, sees the end of the stream. */
static void hang_up(link_pair *p)
{
    for (int i = 0; i < 2; i++) {
        node_link_state mine = lp_state(p, i), theirs = lp_state(p, 1 - i);
        if ((mine == NODE_LINK_DONE || mine == NODE_LINK_FAILED) &&
            (theirs == NODE_LINK_HANDSHAKE || theirs == NODE_LINK_OPEN)) {
            sn_err err = SN_ERR_INIT;
            int rc = node_link_eof(p->s[1 - i].link, &err);
            ck_assert_msg(rc != 0, "a stream cut before GOODBYE ended cleanly");
        }
    }
}

/* One pass: a session with the n-th hit of `kind` failing; true when no fault fired. */
static bool fault_pass(sn_fault_kind kind, long n, bool fresh_dials, pass_tally *t)
{
    char what[96];
    snprintf(what, sizeof what, "%s n=%ld", kind == SN_FAULT_ALLOC ? "alloc" : "commit", n);
    long live = sn_alloc_live();
    node_store *fresh = mk("fresh", &g_clock, NULL);
    (void)tca_enroll(&g_ca, fresh);
    small_units_for(fresh);

    link_pair p = {0};
    if (fresh_dials)
        lp_open(&p, fresh, g_loaded, NULL);
    else
        lp_open(&p, g_loaded, fresh, NULL);
    sn_fault_arm(kind, n, 1);
    bool quiet_end = lp_run(&p, 0);
    hang_up(&p);
    outcome o = outcome_of(&p);
    lp_close(&p);
    bool fired = sn_fault_disarm();

    ck_assert_msg(quiet_end, "%s: the session never went quiet", what);
    if (fired) {
        bool completed = check_outcome(&o, kind == SN_FAULT_ALLOC ? SN_ENOMEM : SN_EIO, what);
        t->completed += completed;
        t->failed += !completed;
    }
    expect_whole(fresh, what);
    expect_whole(g_loaded, what);
    expect_acked_held(g_loaded, fresh, what);
    lp_sync(fresh, g_loaded, NULL, NULL);
    expect_digests(fresh, g_loaded, true, what);
    node_store_close(fresh);
    ck_assert_msg(sn_alloc_live() == live, "%s: %ld blocks leaked (replay: "
                  "SN_LINK_FAULT_FROM=%ld CK_FORK=no CK_RUN_SUITE=link_fault_suite)", what,
                  sn_alloc_live() - live, n);
    t->passes++;
    return !fired;
}

static void fault_loop(sn_fault_kind kind, bool fresh_dials)
{
    pass_tally t = {0};
    const char *from = getenv("SN_LINK_FAULT_FROM"); /* replay: start at this pass */
    long n = from != NULL ? atol(from) : 0;
    /* Every pass in `make soak`; in `make test` the first 64 and then one in `stride`. */
    const char *every = getenv("SN_LINK_FAULT_STRIDE");
    long stride = every != NULL && atol(every) > 0 ? atol(every) : 29;
    while (!fault_pass(kind, n, fresh_dials, &t))
        n += n < 64 ? 1 : stride;
    if (from == NULL) {
        ck_assert_int_gt(t.passes, 1); /* the faults really fired */
        ck_assert_int_gt(t.failed, 0);
    }
    fprintf(stderr, "link faults (%s, %s): %d passes, %d failed sessions, %d completed "
            "despite the fault\n", kind == SN_FAULT_ALLOC ? "allocation" : "store commit",
            fresh_dials ? "new site dials" : "new site is dialled", t.passes, t.failed,
            t.completed);
}

/* Loop index: bit 0 who dials, bit 1 the fault kind. */
START_TEST(test_link_faults)
{
    fault_loop(_i & 2 ? SN_FP_STORE_COMMIT : SN_FAULT_ALLOC, (_i & 1) == 0);
}
END_TEST

/* Commits stored whose apply failed (or was killed) are not left unapplied: the next open
 * applies them, and so does the next session, which has nothing new to bring. Without
 * that the held vectors agree, no session sends anything, and the digests never meet. */
START_TEST(test_unapplied_commits_applied_at_open)
{
    char dir[4096];
    node_store *fresh = mk("fresh", &g_clock, dir);
    (void)tca_enroll(&g_ca, fresh);
    tca_send_unapplied(g_loaded, fresh);
    expect_digests(fresh, g_loaded, false, "stored, not applied");
    node_store_close(fresh);
    fresh = reopen(dir, &g_clock);
    expect_digests(fresh, g_loaded, true, "after reopening");
    expect_whole(fresh, "after reopening");
    node_store_close(fresh);
}
END_TEST

START_TEST(test_unapplied_commits_applied_by_next_session)
{
    node_store *fresh = mk("fresh", &g_clock, NULL);
    (void)tca_enroll(&g_ca, fresh);
    tca_send_unapplied(g_loaded, fresh);
    node_link_stats in;
    lp_sync(fresh, g_loaded, &in, NULL);
    ck_assert_uint_eq(in.units_in, 0); /* it held everything already */
    expect_digests(fresh, g_loaded, true, "after the session");
    node_store_close(fresh);
}
END_TEST

Suite *link_fault_suite(void);
Suite *link_fault_suite(void)
{
    Suite *s = suite_create("link_fault_suite");
    TCase *tc = tcase_create("session");
    tcase_add_checked_fixture(tc, loaded_setup, loaded_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_link_faults, 0, 4);
    tcase_add_test(tc, test_unapplied_commits_applied_at_open);
    tcase_add_test(tc, test_unapplied_commits_applied_by_next_session);
    suite_add_tcase(s, tc);
    return s;
}
