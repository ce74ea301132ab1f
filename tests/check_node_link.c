/* tests/check_node_link.c - the sync link engine (node/link.h) between stores wired in
 * memory (tests/link_pair.h): a once-mode session converges and the next one costs a delta
 * HELLO and a few hundred bytes; a revocation list spreads; three stores converge through a
 * hub; the unit window bounds what is in flight; a cut session halves it and the next
 * resumes; an origin that equivocated is frozen on both sides; silent and slow handshakes
 * and idle links time out; a peer ten years ahead is applied, flagged, and does not drag the
 * local clock. The attacks are in check_node_link_attack.c. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "node/keyfile.h"
#include "node/link_int.h"
#include "node/peers.h"
#include "node/trust.h"
#include "node/units.h"
#include "schema/codec.h"
#include "tests/link_pair.h"
#include "tests/node_fixture.h"
#include "tests/support.h"
#include "tests/trust_fixture.h"

#define YEAR_MS (365 * 24 * HOUR_MS)

static void quiet(void) { sn_log_set_level(SN_LOG_ERROR); }

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* What st remembers of the peer `other`; *found says whether it met it. */
static node_peer peer_of(node_store *st, node_store *other, bool *found)
{
    sn_err err = SN_ERR_INIT;
    node_peer p;
    CK_OK(node_peer_load(st, node_store_origin(other)->replica, &p, found, &err));
    return p;
}

/* Two enrolled stores with different records sync in once mode; the second session finds
 * nothing to send, says so with delta HELLOs (both sides remember the vectors), and costs
 * little on the wire. */
START_TEST(test_link_once_then_delta)
{
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Link CA");
    (void)tca_enroll(&ca, a);
    (void)tca_enroll(&ca, b);
    uint8_t pa[ID_LEN], pb[ID_LEN];
    insert_patient(a, "Adams", pa);
    set_text(a, pa, "given", "Ann");
    insert_patient(b, "Brown", pb);
    expect_digests(a, b, false, "before the session");

    link_pair p = {0};
    lp_open(&p, a, b, NULL);
    ck_assert(lp_run(&p, 0));
    lp_expect_done(&p);
    const node_link_stats *si = lp_stats(&p, LP_INIT), *sr = lp_stats(&p, LP_RESP);
    ck_assert_uint_eq(si->commits_out, 2);
    ck_assert_uint_eq(si->commits_in, 1);
    ck_assert_uint_eq(sr->commits_in, 2);
    ck_assert_uint_eq(si->hellos_full, 1);
    ck_assert_uint_eq(sr->hellos_full, 1);
    ck_assert_uint_eq(si->bytes_out, p.s[LP_INIT].sent);
    ck_assert_uint_eq(si->bytes_in, p.s[LP_RESP].sent);
    uint8_t replica[16];
    ck_assert(node_link_peer_replica(p.s[LP_INIT].link, replica));
    ck_assert(memcmp(replica, node_store_origin(b)->replica, 16) == 0);
    ck_assert_str_eq(node_link_peer_name(p.s[LP_RESP].link), node_store_name(a));
    lp_close(&p);
    expect_digests(a, b, true, "after one session");
    expect_row(b, pa, true, "A's patient at B");
    expect_row(a, pb, true, "B's patient at A");

    lp_open(&p, a, b, NULL);
    ck_assert(lp_run(&p, 0));
    lp_expect_done(&p);
    for (int i = 0; i < 2; i++) {
        const node_link_stats *s = lp_stats(&p, i);
        ck_assert_uint_eq(s->units_in, 0);
        ck_assert_uint_eq(s->units_out, 0);
        ck_assert_uint_eq(s->hellos_full, 0);
        ck_assert_msg(lp_transport_bytes(&p, i) < 1024, "side %d: %llu bytes after the "
                      "handshake", i, (unsigned long long)lp_transport_bytes(&p, i));
        ck_assert_uint_lt(s->bytes_out, 2048);
    }
    lp_close(&p);
    expect_digests(a, b, true, "after the second session");
    bool found = false;
    node_peer pr = peer_of(a, b, &found);
    ck_assert(found);
    ck_assert_uint_eq(pr.sessions, 2);
    ck_assert_uint_eq(pr.completed, 2);
    ck_assert_str_eq(pr.last_error, "");
    node_peer_free(&pr);
    world_end(&w);
}
END_TEST

/* B holds a revocation list A lacks: the session hands it over, and the revoked node Z is
 * then refused by A as well. */
START_TEST(test_link_crl_spreads)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS), *z = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "CRL CA");
    (void)tca_enroll(&ca, a);
    (void)tca_enroll(&ca, b);
    sync_cert cert_z = tca_enroll(&ca, z);
    sync_crl_entry e = tca_entry(&cert_z, 1, 0);
    sync_crl crl = tca_crl(&ca, &e, 1);
    bool taken = false;
    CK_OK(node_trust_crl_offer(b, &crl, &taken, &err));
    ck_assert(taken);
    sync_crl_free(&crl);

    lp_sync(a, b, NULL, NULL);
    sync_crl got;
    CK_OK(node_trust_crl(a, &got, &err));
    ck_assert_uint_eq(got.number, 1);
    ck_assert_uint_eq(got.n, 1);
    sync_crl_free(&got);
    link_pair p = {0};
    lp_open(&p, z, a, NULL);
    ck_assert(lp_run(&p, 0));
    lp_expect_failed(&p, LP_RESP, SN_EAUTH, "is revoked");
    lp_close(&p);
    world_end(&w);
}
END_TEST

/* Enrol st with a hub certificate (issued like a node's, then typed HUB and re-signed). */
static void enroll_hub(tca *ca, node_store *st)
{
    sn_err err = SN_ERR_INIT;
    sync_enroll_request req;
    CK_OK(node_trust_request(st, &req, &err));
    sync_cert c = tca_issue(ca, &req, ca->next_serial++, 1, 4000000000u);
    c.type = SYNC_CERT_HUB;
    CK_OK(sync_cert_sign(&c, ca->sk, &err));
    CK_OK(node_trust_install(st, &c, &ca->root, &err));
}

/* Sites A and B never meet; each syncs with the hub H: A, then B, then A again. All three
 * converge, and B holds A's records though it only ever spoke to H. */
START_TEST(test_link_three_stores_through_hub)
{
    world w = {0};
    node_store *h = add(&w, BASE_MS), *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Hub CA");
    enroll_hub(&ca, h);
    (void)tca_enroll(&ca, a);
    (void)tca_enroll(&ca, b);
    uint8_t pa[ID_LEN], pb[ID_LEN], ph[ID_LEN];
    insert_patient(a, "Adams", pa);
    set_text(a, pa, "given", "Ann");
    insert_patient(b, "Brown", pb);
    insert_patient(h, "Hughes", ph);

    node_link_stats sa, sh;
    lp_sync(a, h, &sa, &sh);
    ck_assert_uint_eq(sa.commits_out, 2);
    lp_sync(b, h, &sa, &sh);
    ck_assert_uint_eq(sa.commits_in, 3); /* A's two, relayed by H, and H's own */
    ck_assert_uint_eq(sh.commits_in, 1);
    lp_sync(a, h, &sa, &sh);
    ck_assert_uint_eq(sa.commits_in, 1); /* B's, relayed */
    ck_assert_uint_eq(sa.commits_out, 0);

    expect_digests(a, h, true, "A and the hub");
    expect_digests(b, h, true, "B and the hub");
    node_store *all[] = {a, b, h};
    for (size_t i = 0; i < 3; i++) {
        expect_row(all[i], pa, true, "A's patient");
        expect_row(all[i], pb, true, "B's patient");
        expect_row(all[i], ph, true, "H's patient");
    }
    char shown[64];
    ck_assert(shows(b, pa, "given", shown) && strcmp(shown, "Ann") == 0);
    bool found = true;
    node_peer none = peer_of(b, a, &found);
    ck_assert_msg(!found, "B met A directly");
    node_peer_free(&none);
    crdt_vv held = held_of(b);
    ck_assert_uint_eq(crdt_vv_get(&held, node_store_origin(a)), 2);
    crdt_vv_free(&held);
    world_end(&w);
}
END_TEST

/* n patients in one batch, each with an address of `len` bytes (units are cut at ~60 KiB). */
static void bulk(node_store *st, int n, size_t len)
{
    sn_err err = SN_ERR_INIT;
    char *text = malloc(len + 1);
    ck_assert_ptr_nonnull(text);
    memset(text, 'x', len);
    text[len] = '\0';
    CK_OK(node_store_batch_begin(st, &err));
    for (int i = 0; i < n; i++) {
        char family[32];
        snprintf(family, sizeof family, "Bulk%03d", i);
        text[0] = (char)('a' + i % 26);
        schema_field f[2] = {fld("patient", "family", txt(family)),
                             fld("patient", "address", txt(text))};
        uint8_t id[ID_LEN];
        insert_row(st, "patient", f, 2, id);
    }
    CK_OK(node_store_batch_commit(st, &err));
    free(text);
}

/* Counts, as bytes cross, the units the sender has out that the receiver has not yet
 * acknowledged. The receiver acknowledges each unit as it takes it, so its output holds an
 * ACK for every unit it has taken. */
typedef struct window_watch {
    link_pair *p;
    uint64_t acked; /* ACKs the sender has been given */
    uint64_t max_unacked, chunks;
} window_watch;

static void watch_window(void *ctx, lp_chunk *c)
{
    window_watch *w = ctx;
    if (c->from == LP_RESP) {
        w->acked = lp_stats(w->p, LP_RESP)->units_in;
        return;
    }
    uint64_t out = lp_stats(w->p, LP_INIT)->units_out;
    ck_assert_uint_ge(out, w->acked);
    if (out - w->acked > w->max_unacked)
        w->max_unacked = out - w->acked;
    w->chunks++;
}

/* With window_max 2 the sender never has more than two units unacknowledged, uses both
 * slots, and the sync completes. */
START_TEST(test_link_window_bounds_units_in_flight)
{
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Window CA");
    (void)tca_enroll(&ca, a);
    (void)tca_enroll(&ca, b);
    bulk(a, 40, 20000);

    link_pair p = {0};
    window_watch ww = {.p = &p};
    p.hook = watch_window;
    p.hook_ctx = &ww;
    node_link_opts o = lp_once_opts();
    o.window_max = 2;
    lp_open(&p, a, b, &o);
    ck_assert(lp_run(&p, 0));
    lp_expect_done(&p);
    const node_link_stats *s = lp_stats(&p, LP_INIT);
    ck_assert_msg(s->units_out > 10, "only %llu units", (unsigned long long)s->units_out);
    ck_assert_uint_eq(s->commits_out, 40);
    ck_assert_uint_eq(lp_stats(&p, LP_RESP)->units_in, s->units_out);
    ck_assert_msg(ww.max_unacked == 2, "at most %llu units unacknowledged",
                  (unsigned long long)ww.max_unacked);
    ck_assert_uint_gt(ww.chunks, s->units_out / 2);
    lp_close(&p);
    expect_digests(a, b, true, "after a windowed sync");
    world_end(&w);
}
END_TEST

/* The third chunk A sends that holds a unit is lost, and the connection with it. */
static void cut_third_unit_chunk(void *ctx, lp_chunk *c)
{
    int *seen = ctx;
    const lp_frame *f = lp_chunk_largest(c);
    if (c->from != LP_INIT || f == NULL || f->len < 10000 || ++*seen != 3)
        return;
    c->n = 0;
    c->eof = true;
}

/* A session cut with units in flight: the sender halves its window for that peer, and the
 * next session resumes from what the receiver durably holds, sending only the rest. */
START_TEST(test_link_cut_then_resume)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Resume CA");
    (void)tca_enroll(&ca, a);
    (void)tca_enroll(&ca, b);
    bulk(a, 40, 20000);

    link_pair p = {0};
    int seen = 0;
    p.hook = cut_third_unit_chunk;
    p.hook_ctx = &seen;
    node_link_opts o = lp_once_opts();
    o.window_max = 8;
    lp_open(&p, a, b, &o);
    ck_assert(lp_run(&p, 0));
    ck_assert_int_ge(seen, 3);
    lp_expect_failed(&p, LP_RESP, SN_EPROTO, "without GOODBYE");
    const node_link_stats *s = lp_stats(&p, LP_INIT);
    ck_assert_uint_gt(s->units_out, p.s[LP_INIT].link->units_acked);
    uint32_t window = p.s[LP_INIT].link->window;
    ck_assert_uint_ge(window, 2);
    lp_close(&p);
    crdt_vv held = held_of(b);
    uint64_t got = crdt_vv_get(&held, node_store_origin(a));
    crdt_vv_free(&held);
    ck_assert_msg(got > 0 && got < 40, "B holds %llu of A's commits", (unsigned long long)got);
    bool found = false;
    node_peer pr = peer_of(a, b, &found);
    ck_assert(found);
    ck_assert_uint_eq(pr.window, window / 2);
    ck_assert_msg(strstr(pr.last_error, "GOODBYE") != NULL, "%s", pr.last_error);
    node_peer_free(&pr);

    node_link_stats sa, sb;
    lp_sync(a, b, &sa, &sb);
    ck_assert_uint_eq(sb.commits_in, 40 - got);
    ck_assert_uint_eq(sa.hellos_full, 0);
    expect_digests(a, b, true, "after the resumed session");
    CK_OK(node_store_check(b, &err));
    world_end(&w);
}
END_TEST

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

static int keep_frozen(void *ctx, const node_quarantine *q, sn_err *err)
{
    (void)err;
    if (q->frozen)
        ++*(int *)ctx;
    return 0;
}

/* A's commit 3 exists in two versions, both signed with A's key: X holds the genuine one,
 * Y the forgery (built as in check_node_quarantine.c). Both hold seq 3, so neither sends
 * the other a unit of A; the heads exchanged in the session expose the fork, and A is
 * frozen on both sides. */
START_TEST(test_link_equivocation_frozen_on_both_sides)
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
    sync_keys keys = lp_keys(w.dir[0]);
    sync_checkpoint_sign(&cp, keys.sign_sk);
    sync_keys_wipe(&keys);
    sn_buf ub;
    sn_buf_init(&ub, 1 << 20);
    CK_OK(sync_unit_encode(1, bp, bn, 3, &cp, &ub, &err));
    CK_OK(node_trust_cert_add(y, &cert_a, &err));
    node_body unit = {.p = ub.data, .n = ub.len};
    CK_OK(node_store_import_units(y, &unit, 1, NULL, &err));
    CK_OK(node_store_apply_pending(y, NULL, &err));

    node_link_stats sx, sy;
    lp_sync(x, y, &sx, &sy);
    ck_assert_uint_eq(sx.units_out + sy.units_out, 0);
    node_store *both[] = {x, y};
    for (size_t i = 0; i < 2; i++) {
        elist el = {.n = 0};
        CK_OK(node_store_equivocations_each(both[i], keep_e, &el, &err));
        ck_assert_msg(el.n == 1, "store %zu: %zu proofs", i, el.n);
        ck_assert_uint_eq(el.e[0].seq, 3);
        ck_assert(crdt_origin_equal(&el.e[0].origin, node_store_origin(a)));
        int frozen = 0;
        CK_OK(node_store_quarantine_each(both[i], keep_frozen, &frozen, &err));
        ck_assert_int_eq(frozen, 1);
        char shown[64];
        ck_assert(shows(both[i], p, "family", shown) && strcmp(shown, "Adams") == 0);
        CK_OK(node_store_check(both[i], &err));
    }
    expect_digests(x, y, true, "both frozen at the fork");
    sn_buf_free(&ub);
    sn_buf_free(&forged);
    world_end(&w);
}
END_TEST

/* A handshake that never starts, one trickled a byte at a time (slowloris), an initiator
 * never answered, and an open link that hears nothing: each fails on a tick. */
START_TEST(test_link_timeouts)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *a = add(&w, BASE_MS), *b = add(&w, BASE_MS);
    tca ca;
    tca_make(&ca, "Timeout CA");
    (void)tca_enroll(&ca, a);
    (void)tca_enroll(&ca, b);
    snap before = snap_take(b);
    node_link_opts o = lp_once_opts();
    o.handshake_timeout_ms = 50;

    node_link *silent = lp_responder(b, &o);
    CK_OK(node_link_tick(silent, 0, &err));
    ck_assert_int_eq(node_link_state_get(silent), NODE_LINK_HANDSHAKE);
    sleep_ms(100);
    CK_FAILS(node_link_tick(silent, 0, &err), SN_EPROTO);
    ck_assert_msg(strstr(err.msg, "timed out") != NULL, "%s", err.msg);
    ck_assert_int_eq(node_link_state_get(silent), NODE_LINK_FAILED);
    ck_assert_str_eq(node_link_error(silent)->msg, err.msg);
    node_link_free(silent);

    /* Bytes trickling in do not keep a handshake alive. */
    o.handshake_timeout_ms = 100;
    node_link *slow = lp_responder(b, &o);
    static const uint8_t start[] = {'S', 'N', 'X', '1', 0, 32, 1, 2, 3, 4, 5, 6, 7, 8};
    size_t fed = 0;
    int rc = 0;
    while (fed < sizeof start && rc == 0) {
        CK_OK(lp_feed(slow, start + fed++, 1, &err));
        sleep_ms(30);
        sn_err_clear(&err);
        rc = node_link_tick(slow, 0, &err);
    }
    ck_assert_msg(rc == SN_EPROTO && strstr(err.msg, "timed out") != NULL,
                  "after %zu bytes: %s", fed, err.msg);
    ck_assert_uint_le(fed, 6);
    ck_assert_int_eq(node_link_state_get(slow), NODE_LINK_FAILED);
    node_link_free(slow);

    link_pair p = {0};
    o.handshake_timeout_ms = 50;
    lp_open(&p, a, b, &o);
    ck_assert_uint_gt(lp_drain(p.s[LP_INIT].link), 0); /* message 1, lost */
    sleep_ms(100);
    CK_FAILS(node_link_tick(p.s[LP_INIT].link, 0, &err), SN_EPROTO);
    ck_assert_msg(strstr(node_link_error(p.s[LP_INIT].link)->msg, "timed out") != NULL, "%s",
                  err.msg);
    lp_close(&p);

    /* An open link (not once: it would stay up) whose peer goes silent. */
    o = (node_link_opts){.idle_timeout_ms = 50};
    lp_open(&p, a, b, &o);
    ck_assert(lp_run(&p, 0));
    ck_assert_int_eq(lp_state(&p, LP_INIT), NODE_LINK_OPEN);
    ck_assert(lp_stats(&p, LP_INIT)->caught_up);
    CK_OK(node_link_tick(p.s[LP_INIT].link, 0, &err));
    sleep_ms(100);
    CK_FAILS(node_link_tick(p.s[LP_INIT].link, 0, &err), SN_EPROTO);
    ck_assert_msg(strstr(err.msg, "silent") != NULL, "%s", err.msg);
    ck_assert_int_eq(lp_state(&p, LP_INIT), NODE_LINK_FAILED);
    ck_assert_str_eq(lp_error(&p, LP_INIT)->msg, err.msg);
    lp_close(&p);
    snap_expect(b, &before, "timed-out sessions");
    snap_free(&before);
    world_end(&w);
}
END_TEST

/* A peer whose clock is ten years ahead: its commits are applied (digests equal), the link
 * flags the skew, and the honest store's next commit is stamped with its own time. */
START_TEST(test_link_far_future_peer_applied_not_followed)
{
    sn_err err = SN_ERR_INIT;
    world w = {0};
    node_store *h = add(&w, BASE_MS), *f = add(&w, BASE_MS + 10 * YEAR_MS);
    tca ca;
    tca_make(&ca, "Clock CA");
    (void)tca_enroll(&ca, h);
    (void)tca_enroll(&ca, f);
    uint8_t pf[ID_LEN], ph[ID_LEN];
    node_commit_info fi = insert_patient(f, "Future", pf);
    ck_assert_uint_ge(CRDT_HLC_MS(fi.hlc), BASE_MS + 10 * YEAR_MS);
    set_text(f, pf, "given", "Fay");
    insert_patient(h, "Honest", ph);

    node_link_stats sf, sh;
    lp_sync(f, h, &sf, &sh);
    ck_assert(sh.skew_flagged);
    ck_assert_int_gt(sh.skew_ms, (int64_t)(9 * YEAR_MS));
    ck_assert(sf.skew_flagged);
    ck_assert_uint_eq(sh.commits_in, 2);
    expect_digests(f, h, true, "far-future commits applied");
    char shown[64];
    ck_assert(shows(h, pf, "given", shown) && strcmp(shown, "Fay") == 0);

    node_commit_info next = insert_patient(h, "Later", ph);
    ck_assert_msg(CRDT_HLC_MS(next.hlc) < BASE_MS + HOUR_MS, "the local clock jumped to %llu",
                  (unsigned long long)CRDT_HLC_MS(next.hlc));
    ck_assert_uint_ge(counts(h).skewed, 1);
    CK_OK(node_store_check(h, &err));
    world_end(&w);
}
END_TEST

Suite *node_link_suite(void);
Suite *node_link_suite(void)
{
    Suite *s = suite_create("node_link_suite");
    TCase *tc = fixture_tcase(s, "link");
    tcase_add_unchecked_fixture(tc, quiet, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_link_once_then_delta);
    tcase_add_test(tc, test_link_crl_spreads);
    tcase_add_test(tc, test_link_three_stores_through_hub);
    tcase_add_test(tc, test_link_window_bounds_units_in_flight);
    tcase_add_test(tc, test_link_cut_then_resume);
    tcase_add_test(tc, test_link_equivocation_frozen_on_both_sides);
    tcase_add_test(tc, test_link_timeouts);
    tcase_add_test(tc, test_link_far_future_peer_applied_not_followed);
    return s;
}
