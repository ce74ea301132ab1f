/* tests/check_node_status.c - the operator's report (node/status.h) as a hub and its sites
 * go through every state: never synced, in sync, behind, cut mid-sync (failing), skewed
 * clock, silent, revoked, equivocating, diverged, stuck on a gap, certificate expiring;
 * the order most urgent first, the per-node figures behind each state, the day history,
 * the site's own view, and the JSON every view shares. Sessions run in memory
 * (tests/link_pair.h) on the stores' fake clocks. */
#include <check.h>
#include <string.h>

#include "base/log.h"
#include "node/peers.h"
#include "node/status.h"
#include "node/store_int.h"
#include "node/trust.h"
#include "node/units.h"
#include "schema/codec.h"
#include "tests/link_pair.h"
#include "tests/node_fixture.h"
#include "tests/support.h"
#include "tests/trust_fixture.h"

#define DAY_MS (24 * HOUR_MS)

static void quiet(void) { sn_log_set_level(SN_LOG_ERROR); }

/* The report of st with the default limits at its own clock. */
static node_status_report report(node_store *st)
{
    sn_err err = SN_ERR_INIT;
    node_status_report r;
    CK_OK(node_status_build(st, NULL, 0, &r, &err));
    return r;
}

/* The entry for `of` in r (fails when absent). */
static const node_status_node *entry(const node_status_report *r, node_store *of)
{
    for (size_t i = 0; i < r->nnodes; i++)
        if (memcmp(r->nodes[i].replica, node_store_origin(of)->replica, 16) == 0)
            return &r->nodes[i];
    ck_abort_msg("no entry for %s", node_store_name(of));
    return NULL;
}

/* `of`'s state as st sees it, and its JSON names it so. */
static void expect_state(node_store *st, node_store *of, node_state want, const char *what)
{
    sn_err err = SN_ERR_INIT;
    node_status_report r = report(st);
    const node_status_node *n = entry(&r, of);
    ck_assert_msg(n->state == want, "%s: %s is %s, expected %s", what, n->name,
                  node_state_name(n->state), node_state_name(want));
    ck_assert_msg(n->alerts & (want == NODE_STATE_IN_SYNC ? 0 : 1u << want) ||
                      want == NODE_STATE_IN_SYNC,
                  "%s: alert bit missing", what);
    sn_buf j;
    sn_buf_init(&j, SIZE_MAX);
    CK_OK(node_status_json(&r, &j, &err));
    CK_OK(sn_buf_append(&j, "", 1, &err));
    char needle[128];
    snprintf(needle, sizeof needle, "\"name\":\"%s\",", n->name);
    const char *at = strstr((const char *)j.data, needle);
    ck_assert_msg(at != NULL, "%s: the JSON lacks %s", what, n->name);
    snprintf(needle, sizeof needle, "\"state\":\"%s\"", node_state_name(want));
    const char *state = strstr(at, needle);
    const char *next = strstr(at + 1, "{\"name\":");
    ck_assert_msg(state != NULL && (next == NULL || state < next), "%s: JSON: %s", what, at);
    sn_buf_free(&j);
    node_status_free(&r);
}

static void patients(node_store *st, int n)
{
    uint8_t p[ID_LEN];
    for (int i = 0; i < n; i++)
        insert_patient(st, "Bulk", p);
}

/* Cut the responder's stream at its first unit-sized frame. */
static void cut_first_unit(void *ctx, lp_chunk *c)
{
    bool *done = ctx;
    const lp_frame *f = lp_chunk_largest(c);
    if (*done || c->from != LP_RESP || f == NULL || f->len < 1000)
        return;
    c->n = f->off + f->len / 2;
    c->eof = true;
    *done = true;
}

/* A hub H, sites A and B, and C enrolled but never seen: never synced, in sync with a
 * matching state digest, behind, and cut mid-sync, in that order of urgency reversed. */
START_TEST(test_status_never_in_sync_behind_failing)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *h = add(&w, BASE_MS), *a = add(&w, BASE_MS), *b = add(&w, BASE_MS),
               *c = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Status CA");
    (void)tca_enroll_hub(&ca, h);
    (void)tca_enroll(&ca, a);
    (void)tca_enroll(&ca, b);
    sync_cert cert_c = tca_enroll(&ca, c);
    CK_OK(node_trust_cert_add(h, &cert_c, &err)); /* `outpost trust add-cert` */

    node_status_report r = report(h);
    ck_assert(r.hub && r.enrolled);
    ck_assert_uint_eq(r.nnodes, 1);
    node_status_free(&r);
    expect_state(h, c, NODE_STATE_NEVER, "before any session");

    patients(a, 3);
    lp_sync(a, h, NULL, NULL);
    lp_sync(b, h, NULL, NULL);
    expect_state(h, a, NODE_STATE_IN_SYNC, "after A's session");
    r = report(h);
    const node_status_node *na = entry(&r, a);
    ck_assert_uint_eq(na->digest, NODE_DIGEST_MATCH);
    ck_assert_uint_eq(na->behind, 0);
    ck_assert_uint_eq(na->sessions, 1);
    ck_assert_uint_eq(na->completed, 1);
    ck_assert_uint_gt(na->bytes_in, 0);
    ck_assert_uint_eq(na->freshest_ms / 1000, BASE_MS / 1000);
    const node_status_day *today = &na->days[NODE_STATUS_DAYS - 1];
    ck_assert_uint_eq(today->day, BASE_MS / DAY_MS);
    ck_assert_uint_eq(today->sessions, 1);
    ck_assert_uint_eq(today->completed, 1);
    node_status_free(&r);
    /* And A's own view: its hub, nothing pending. */
    r = report(a);
    ck_assert(!r.hub);
    ck_assert_uint_eq(r.last_sync_ms, BASE_MS);
    ck_assert_uint_eq(r.pending_out, 0);
    node_status_free(&r);

    /* The hub gets 150 commits B lacks; A takes them, B does not. */
    patients(h, 150);
    lp_sync(a, h, NULL, NULL);
    expect_state(h, a, NODE_STATE_IN_SYNC, "A took everything");
    expect_state(h, b, NODE_STATE_BEHIND, "B has not synced since");
    r = report(h);
    ck_assert_uint_eq(entry(&r, b)->behind, 150);
    node_status_free(&r);

    /* A writes 5 commits: its own view shows them pending for the hub. */
    patients(a, 5);
    r = report(a);
    ck_assert_uint_eq(r.pending_out, 5);
    node_status_free(&r);

    /* A's next session, a second later, is cut in the middle of the hub's first unit. */
    patients(h, 40);
    w.clock[0].ms += 1000;
    w.clock[1].ms += 1000;
    link_pair p = {0};
    bool cut = false;
    p.hook = cut_first_unit;
    p.hook_ctx = &cut;
    lp_open(&p, a, h, NULL);
    ck_assert(lp_run(&p, 0));
    ck_assert(cut);
    lp_close(&p);
    expect_state(h, a, NODE_STATE_FAILING, "A's session was cut");
    r = report(h);
    na = entry(&r, a);
    ck_assert_msg(na->last_error[0] != '\0', "no error recorded");
    ck_assert_uint_eq(na->days[NODE_STATUS_DAYS - 1].sessions, 3);
    ck_assert_uint_eq(na->days[NODE_STATUS_DAYS - 1].failed, 1);
    /* Most urgent first: failing A, behind B, never-synced C. */
    ck_assert_uint_eq(r.nnodes, 3);
    ck_assert_int_eq(r.nodes[0].state, NODE_STATE_FAILING);
    ck_assert_int_eq(r.nodes[1].state, NODE_STATE_BEHIND);
    ck_assert_int_eq(r.nodes[2].state, NODE_STATE_NEVER);
    ck_assert_uint_eq(r.by_state[NODE_STATE_BEHIND], 1);
    node_status_free(&r);

    /* A clean session later clears it. */
    w.clock[0].ms += 1000;
    w.clock[1].ms += 1000;
    lp_sync(a, h, NULL, NULL);
    expect_state(h, a, NODE_STATE_IN_SYNC, "after a clean session");
    world_end(&w);
}
END_TEST

/* A site's clock 10 minutes ahead is skewed; two days without a word it is silent too,
 * unless its expected interval is a week. */
START_TEST(test_status_skewed_and_silent)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *h = add(&w, BASE_MS), *s = add(&w, BASE_MS + 10 * 60 * 1000);
    tca ca;
    tca_make(&ca, "Skew CA");
    (void)tca_enroll_hub(&ca, h);
    (void)tca_enroll(&ca, s);
    lp_sync(s, h, NULL, NULL);
    expect_state(h, s, NODE_STATE_SKEWED, "10 minutes ahead");
    node_status_report r = report(h);
    ck_assert_int_ge(entry(&r, s)->skew_ms, 9 * 60 * 1000);
    node_status_free(&r);

    w.clock[0].ms += 2 * DAY_MS;
    r = report(h);
    const node_status_node *n = entry(&r, s);
    ck_assert(n->alerts & (1u << NODE_STATE_SILENT));
    ck_assert(n->alerts & (1u << NODE_STATE_SKEWED));
    ck_assert_int_eq(n->state, NODE_STATE_SKEWED);
    node_status_free(&r);

    node_status_limits l;
    node_status_limits_default(&l);
    l.skew_ms = 15 * 60 * 1000;
    CK_OK(node_status_build(h, &l, 0, &r, &err));
    ck_assert_int_eq(entry(&r, s)->state, NODE_STATE_SILENT);
    node_status_free(&r);
    node_status_report named = report(h);
    snprintf(l.expect[0].name, sizeof l.expect[0].name, "%s", entry(&named, s)->name);
    node_status_free(&named);
    l.expect[0].silent_ms = 7 * DAY_MS;
    l.nexpect = 1;
    CK_OK(node_status_build(h, &l, 0, &r, &err));
    ck_assert_int_eq(entry(&r, s)->state, NODE_STATE_IN_SYNC);
    node_status_free(&r);
    world_end(&w);
}
END_TEST

/* A revoked site shows as revoked, not failing or silent, though its sessions are refused
 * and it falls quiet. */
START_TEST(test_status_revoked)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *h = add(&w, BASE_MS), *s = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Revoke CA");
    (void)tca_enroll_hub(&ca, h);
    sync_cert cert_s = tca_enroll(&ca, s);
    patients(s, 2);
    lp_sync(s, h, NULL, NULL);
    sync_crl_entry e = tca_entry(&cert_s, node_store_origin(s)->epoch, 2);
    sync_crl crl = tca_crl(&ca, &e, 1);
    bool taken = false;
    CK_OK(node_trust_crl_offer(h, &crl, &taken, &err));
    sync_crl_free(&crl);
    link_pair p = {0};
    lp_open(&p, s, h, NULL);
    ck_assert(lp_run(&p, 0));
    lp_close(&p);
    w.clock[0].ms += 3 * DAY_MS;
    expect_state(h, s, NODE_STATE_REVOKED, "revoked, refused, quiet");
    node_status_report r = report(h);
    ck_assert(entry(&r, s)->revoked);
    ck_assert_uint_eq(entry(&r, s)->alerts, 1u << NODE_STATE_REVOKED);
    node_status_free(&r);
    world_end(&w);
}
END_TEST

/* A's commit 2 exists in two validly signed versions: the hub holds the genuine one, then
 * receives the forgery: A is equivocating, first of all. */
START_TEST(test_status_equivocating)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *h = add(&w, BASE_MS), *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Fork CA");
    (void)tca_enroll_hub(&ca, h);
    sync_cert cert_a = tca_enroll(&ca, a);
    (void)tca_enroll(&ca, b);
    uint8_t pid[ID_LEN];
    insert_patient(a, "Adams", pid);
    set_text(a, pid, "family", "Genuine");
    lp_sync(a, h, NULL, NULL);
    lp_sync(b, h, NULL, NULL);

    blist *bodies = exp_list(&w, a, NULL);
    ck_assert_uint_eq(bodies->n, 2);
    schema_commit *c2 = NULL;
    CK_OK(schema_commit_decode(bodies->v[1].p, bodies->v[1].n, &c2, &err));
    c2->changes[0].value = txt("Forged");
    sn_buf forged;
    sn_buf_init(&forged, 1 << 20);
    CK_OK(schema_commit_encode(c2, &forged, &err));
    schema_commit_free(c2);
    node_body fb[2] = {{bodies->v[0].p, bodies->v[0].n}, {forged.data, forged.len}};
    sn_buf unit;
    sn_buf_init(&unit, 1 << 20);
    tca_unit_signed(w.dir[1], &cert_a, fb, 2, &unit);
    node_body u = {unit.data, unit.len};
    CK_OK(node_store_import_units(h, &u, 1, NULL, &err));
    expect_state(h, a, NODE_STATE_EQUIVOCATING, "after the forgery");
    node_status_report r = report(h);
    ck_assert(r.nodes[0].frozen);
    ck_assert_int_eq(r.nodes[0].state, NODE_STATE_EQUIVOCATING);
    node_status_free(&r);
    sn_buf_free(&unit);
    sn_buf_free(&forged);
    world_end(&w);
}
END_TEST

/* Same commits, different state: a hub whose materialized table was altered behind the
 * engine's back reports the site's digest as differing, and the site as diverged. */
START_TEST(test_status_diverged)
{
    world w = {0};
    node_store *h = add(&w, BASE_MS), *s = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Digest CA");
    (void)tca_enroll_hub(&ca, h);
    (void)tca_enroll(&ca, s);
    uint8_t pid[ID_LEN];
    insert_patient(s, "Adams", pid);
    lp_sync(s, h, NULL, NULL);
    expect_state(h, s, NODE_STATE_IN_SYNC, "same state");
    ck_assert_int_eq(sqlite3_exec(h->db, "UPDATE patient SET family = 'Altered'", NULL, NULL,
                                  NULL), SQLITE_OK);
    h->digest_cached = false;
    insert_patient(s, "Brown", pid); /* something to send: the states are compared again */
    lp_sync(s, h, NULL, NULL);
    expect_state(h, s, NODE_STATE_DIVERGED, "altered hub");
    node_status_report r = report(h);
    ck_assert_uint_eq(entry(&r, s)->digest, NODE_DIGEST_DIFFER);
    node_status_free(&r);
    world_end(&w);
}
END_TEST

/* Units of a site that arrive without the commits before them wait; past an hour the
 * site is stuck, and the wait is measured from their arrival. */
START_TEST(test_status_stuck_on_a_gap)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *h = add(&w, BASE_MS), *s = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Gap CA");
    (void)tca_enroll_hub(&ca, h);
    sync_cert cert_s = tca_enroll(&ca, s);
    CK_OK(node_trust_cert_add(h, &cert_s, &err));
    patients(s, 2);
    blist *first = lst(&w);
    CK_OK(node_store_export_units_sized(s, NULL, 0, blist_emit, NULL, first, NULL, &err));
    patients(s, 2);
    crdt_vv two;
    crdt_vv_init(&two);
    CK_OK(crdt_vv_raise(&two, node_store_origin(s), 2, &err));
    blist *second = lst(&w);
    CK_OK(node_store_export_units_sized(s, &two, 0, blist_emit, NULL, second, NULL, &err));
    crdt_vv_free(&two);
    ck_assert_uint_eq(second->n, 1);
    node_body u = {second->v[0].p, second->v[0].n};
    CK_OK(node_store_import_units(h, &u, 1, NULL, &err));
    node_status_report r = report(h);
    ck_assert_uint_eq(entry(&r, s)->waiting, 2);
    ck_assert_uint_eq(entry(&r, s)->waiting_since_ms, BASE_MS);
    ck_assert_int_ne(entry(&r, s)->state, NODE_STATE_STUCK);
    node_status_free(&r);
    w.clock[0].ms += 2 * HOUR_MS;
    expect_state(h, s, NODE_STATE_STUCK, "two hours on a gap");
    world_end(&w);
}
END_TEST

/* A certificate within 30 days of its end is expiring; past it, expired. */
START_TEST(test_status_certificate_expiry)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *h = add(&w, BASE_MS), *s = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Expiry CA");
    (void)tca_enroll_hub(&ca, h);
    (void)tca_enroll(&ca, s);
    sync_enroll_request req;
    CK_OK(node_trust_request(s, &req, &err));
    uint64_t end_s = (BASE_MS + 10 * DAY_MS) / 1000;
    sync_cert c = tca_issue(&ca, &req, ca.next_serial++, BASE_MS / 1000 - 10, end_s);
    CK_OK(node_trust_cert_add(h, &c, &err));
    lp_sync(s, h, NULL, NULL);
    expect_state(h, s, NODE_STATE_EXPIRING, "ten days left");
    w.clock[0].ms += 11 * DAY_MS;
    expect_state(h, s, NODE_STATE_EXPIRED, "a day past its end");
    world_end(&w);
}
END_TEST

START_TEST(test_status_ages)
{
    char t[32];
    node_status_age(t, sizeof t, 500);
    ck_assert_str_eq(t, "now");
    node_status_age(t, sizeof t, 12 * 1000);
    ck_assert_str_eq(t, "12 s");
    node_status_age(t, sizeof t, 5 * 60 * 1000 + 3000);
    ck_assert_str_eq(t, "5 min 3 s");
    node_status_age(t, sizeof t, 3 * DAY_MS + 4 * HOUR_MS + 59 * 60 * 1000);
    ck_assert_str_eq(t, "3 d 4 h");
    node_status_age(t, sizeof t, 40 * DAY_MS + HOUR_MS);
    ck_assert_str_eq(t, "40 d");
    for (int s = 0; s < NODE_STATE_COUNT; s++)
        ck_assert_str_ne(node_state_name(s), "unknown");
}
END_TEST

Suite *node_status_suite(void);
Suite *node_status_suite(void)
{
    Suite *s = suite_create("node_status_suite");
    TCase *tc = fixture_tcase(s, "status");
    tcase_add_unchecked_fixture(tc, quiet, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_status_never_in_sync_behind_failing);
    tcase_add_test(tc, test_status_skewed_and_silent);
    tcase_add_test(tc, test_status_revoked);
    tcase_add_test(tc, test_status_equivocating);
    tcase_add_test(tc, test_status_diverged);
    tcase_add_test(tc, test_status_stuck_on_a_gap);
    tcase_add_test(tc, test_status_certificate_expiry);
    tcase_add_test(tc, test_status_ages);
    return s;
}
