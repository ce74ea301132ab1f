/* tests/check_node_link_attack.c - the attacks of SECURITY.md §8 on a live sync link
 * (node/link.h), through the in-memory pair of tests/link_pair.h: tampered, truncated and
 * replayed frames; an old session's handshake replayed; certificates from another CA, bound
 * to another key, or revoked; low-order Noise keys; lengths out of range; malformed and
 * unknown messages; a unit altered by a relay. Every attack ends the victim's link FAILED
 * with a message naming the reason, and leaves the victim's store as it was (digest, held
 * vector, counts, invariants). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "node/link_int.h"
#include "node/trust.h"
#include "node/units.h"
#include "sync/wire.h"
#include "tests/link_pair.h"
#include "tests/node_fixture.h"
#include "tests/support.h"
#include "tests/trust_fixture.h"

static void quiet(void) { sn_log_set_level(SN_LOG_ERROR); }

/* A (with 20 patients: its unit is the largest frame it sends) and an empty B, enrolled
 * with one CA; B's state before the attack. */
typedef struct duo {
    world w;
    tca ca;
    node_store *a, *b;
    sync_cert cert_a, cert_b;
    snap before;
} duo;

static void duo_make(duo *d)
{
    memset(d, 0, sizeof *d);
    d->a = add(&d->w, BASE_MS);
    d->b = add(&d->w, BASE_MS);
    tca_make(&d->ca, "Attack CA");
    d->cert_a = tca_enroll(&d->ca, d->a);
    d->cert_b = tca_enroll(&d->ca, d->b);
    uint8_t ids[20][ID_LEN];
    insert_many(d->a, 20, ids, 0);
    d->before = snap_take(d->b);
}

/* B holds exactly what it held before: nothing of the attack was applied. */
static void duo_end(duo *d, const char *what)
{
    snap_expect(d->b, &d->before, what);
    snap_free(&d->before);
    world_end(&d->w);
}

/* ---- tampering in transit ------------------------------------------------------------- */

/* What a hook does to the largest frame A sends (its unit), once. */
typedef struct tamper {
    int what;
    bool done;
    size_t new_len; /* for a flipped length */
} tamper;

enum { T_LEN, T_CT, T_TAG, T_TAGBYTE, T_TRUNCATE, T_DROP_REST };

static void tamper_unit(void *ctx, lp_chunk *c)
{
    tamper *t = ctx;
    const lp_frame *f = lp_chunk_largest(c);
    if (t->done || c->from != LP_INIT || f == NULL || f->len < 1000)
        return;
    t->done = true;
    uint8_t *fp = c->p + f->off;
    switch (t->what) {
    case T_LEN: { /* clear the lowest set bit of the length: a shorter frame */
        unsigned len = sn_load_u16be(fp);
        unsigned bit = len & (0u - len);
        t->new_len = len ^ bit;
        sn_store_u16be(fp, (uint16_t)t->new_len);
        break;
    }
    case T_CT: fp[2 + f->len / 2] ^= 0x10; break;        /* the unit's bytes */
    case T_TAG: fp[f->len - 1] ^= 0x01; break;           /* the MAC's last byte */
    case T_TAGBYTE: fp[2] ^= 0x80; break;                /* the encrypted stream tag */
    case T_TRUNCATE: /* half the unit arrives, then the connection closes */
        lp_chunk_splice(c, f->off + f->len / 2, c->n - f->off - f->len / 2, NULL, 0);
        c->eof = true;
        break;
    case T_DROP_REST: /* nothing from the unit on arrives */
        lp_chunk_splice(c, f->off, c->n - f->off, NULL, 0);
        c->eof = true;
        break;
    default: break;
    }
}

/* One bit flipped in the unit's frame (length, ciphertext, MAC, stream tag): B refuses
 * the frame and applies nothing. */
START_TEST(test_attack_bit_flip_refused)
{
    duo d;
    duo_make(&d);
    link_pair p = {0};
    tamper t = {.what = _i};
    p.hook = tamper_unit;
    p.hook_ctx = &t;
    lp_open(&p, d.a, d.b, NULL);
    ck_assert(lp_run(&p, 0));
    ck_assert(t.done);
    if (_i == T_LEN && t.new_len < SYNC_FRAME_LEN_MIN)
        lp_expect_failed(&p, LP_RESP, SN_EPROTO, "below the minimum");
    else
        lp_expect_failed(&p, LP_RESP, SN_EAUTH, "failed to authenticate");
    /* B told A why; A's session ends failed too, B's unit count shows nothing taken. */
    ck_assert_int_eq(lp_state(&p, LP_INIT), NODE_LINK_FAILED);
    ck_assert_uint_eq(lp_stats(&p, LP_RESP)->units_in, 0);
    lp_close(&p);
    duo_end(&d, "a flipped bit");
}
END_TEST

/* The connection closes halfway through the unit: B's link is cut, the partial unit is
 * dropped. */
START_TEST(test_attack_truncated_stream_is_a_cut)
{
    duo d;
    duo_make(&d);
    link_pair p = {0};
    tamper t = {.what = T_TRUNCATE};
    p.hook = tamper_unit;
    p.hook_ctx = &t;
    lp_open(&p, d.a, d.b, NULL);
    ck_assert(lp_run(&p, 0));
    ck_assert(t.done);
    lp_expect_failed(&p, LP_RESP, SN_EPROTO, "ended without GOODBYE");
    ck_assert(strstr(lp_error(&p, LP_RESP)->msg, "cut") != NULL);
    ck_assert_uint_eq(lp_stats(&p, LP_RESP)->units_in, 0);
    lp_close(&p);
    duo_end(&d, "a truncated stream");
}
END_TEST

static void duplicate_first_frame(void *ctx, lp_chunk *c)
{
    bool *done = ctx;
    const lp_frame *f = lp_chunk_frame(c, 0);
    if (*done || c->from != LP_INIT || f == NULL)
        return;
    *done = true;
    uint8_t copy[SYNC_FRAME_LEN_MAX + 2];
    memcpy(copy, c->p + f->off, f->len);
    lp_chunk_splice(c, f->off + f->len, 0, copy, f->len);
}

/* A's first frame (its HELLO) arrives twice: the copy fails to authenticate (the stream's
 * counter has moved on). */
START_TEST(test_attack_replayed_frame_refused)
{
    duo d;
    duo_make(&d);
    link_pair p = {0};
    bool done = false;
    p.hook = duplicate_first_frame;
    p.hook_ctx = &done;
    lp_open(&p, d.a, d.b, NULL);
    ck_assert(lp_run(&p, 0));
    ck_assert(done);
    lp_expect_failed(&p, LP_RESP, SN_EAUTH, "frame 2 failed to authenticate");
    lp_close(&p);
    duo_end(&d, "a replayed frame");
}
END_TEST

/* A session is recorded up to (and including) a unit B never got; replayed into a fresh
 * responder, its message 3 fails (new ephemeral keys), so the unit is never reached. The
 * old message 2 fails likewise at a fresh initiator. */
START_TEST(test_attack_old_handshake_replayed)
{
    duo d;
    duo_make(&d);
    link_pair p = {0};
    tamper t = {.what = T_DROP_REST};
    p.hook = tamper_unit;
    p.hook_ctx = &t;
    p.record = true;
    lp_open(&p, d.a, d.b, NULL);
    ck_assert(lp_run(&p, 0));
    ck_assert(t.done);
    lp_expect_failed(&p, LP_RESP, SN_EPROTO, "without GOODBYE");
    snap_expect(d.b, &d.before, "the recorded session");
    const lp_side *si = &p.s[LP_INIT], *sr = &p.s[LP_RESP];
    ck_assert_uint_gt(si->log_n, si->hs_bytes + 1000); /* the transcript holds the unit */

    sn_err err = SN_ERR_INIT;
    node_link *fresh = lp_responder(d.b, NULL);
    CK_FAILS(lp_feed(fresh, si->log, si->log_n, &err), SN_EAUTH);
    ck_assert_msg(strstr(err.msg, "handshake failed") != NULL &&
                  strstr(err.msg, "message 3") != NULL, "%s", err.msg);
    ck_assert_int_eq(node_link_state_get(fresh), NODE_LINK_FAILED);
    ck_assert_str_eq(node_link_error(fresh)->msg, err.msg);
    node_link_free(fresh);

    node_link_opts o = lp_once_opts();
    o.initiator = true;
    node_link *dialler = NULL;
    CK_OK(node_link_new(&dialler, d.b, &o, &err));
    CK_OK(node_link_start(dialler, &err));
    (void)lp_drain(dialler);
    size_t msg2 = 2u + sn_load_u16be(sr->log);
    CK_FAILS(lp_feed(dialler, sr->log, msg2, &err), SN_EAUTH);
    ck_assert_msg(strstr(err.msg, "message 2") != NULL, "%s", err.msg);
    ck_assert_int_eq(node_link_state_get(dialler), NODE_LINK_FAILED);
    node_link_free(dialler);
    lp_close(&p);
    duo_end(&d, "an old handshake replayed");
}
END_TEST

/* ---- identity ------------------------------------------------------------------------ */

/* X belongs to another deployment (another CA). Dialling B, X is refused when it presents
 * its certificate; B dialling X refuses X's. */
START_TEST(test_attack_other_ca_refused)
{
    duo d;
    duo_make(&d);
    test_clock xclock = {BASE_MS};
    char xdir[4096];
    node_store *x = mk("foreign", &xclock, xdir);
    tca theirs;
    tca_make(&theirs, "Their CA");
    sync_cert cert_x = tca_enroll(&theirs, x);

    link_pair p = {0};
    lp_open(&p, d.b, x, NULL);
    ck_assert(lp_run(&p, 0));
    lp_expect_failed(&p, LP_INIT, SN_EAUTH, "not from this deployment's CA");
    lp_close(&p);

    sn_err err = SN_ERR_INIT;
    node_link *resp = lp_responder(d.b, NULL);
    sync_keys k = lp_keys(xdir);
    CK_FAILS(lp_hand_initiate(resp, k.noise_sk, k.noise_pk, &cert_x, BASE_MS, &err), SN_EAUTH);
    sync_keys_wipe(&k);
    ck_assert_msg(strstr(err.msg, "issued by another key") != NULL, "%s", err.msg);
    ck_assert_int_eq(node_link_state_get(resp), NODE_LINK_FAILED);
    ck_assert_str_eq(node_link_error(resp)->msg, err.msg);
    node_link_free(resp);
    node_store_close(x);
    duo_end(&d, "another deployment's node");
}
END_TEST

static void copy_file(const char *from, const char *to)
{
    FILE *f = fopen(from, "rb");
    ck_assert_ptr_nonnull(f);
    uint8_t buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ck_assert(n > 0 && n < sizeof buf);
    f = fopen(to, "wb"); /* an existing file keeps its mode 0600 */
    ck_assert(f != NULL && fwrite(buf, 1, n, f) == n);
    fclose(f);
}

/* Misbinding: a certificate whose noise_pk is not the Noise static key the peer used. First
 * by hand (A's key, C's certificate), then with store A's key file replaced by C's (A's
 * link uses C's key and presents A's certificate), as initiator and as responder. Also a
 * peer presenting B's own identity to B, with B's own key. */
START_TEST(test_attack_misbinding_refused)
{
    duo d;
    duo_make(&d);
    node_store *c = add(&d.w, BASE_MS);
    sync_cert cert_c = tca_enroll(&d.ca, c);

    sn_err err = SN_ERR_INIT;
    node_link *resp = lp_responder(d.b, NULL);
    sync_keys k = lp_keys(d.w.dir[0]);
    CK_FAILS(lp_hand_initiate(resp, k.noise_sk, k.noise_pk, &cert_c, BASE_MS, &err), SN_EAUTH);
    sync_keys_wipe(&k);
    ck_assert_msg(strstr(err.msg, "misbinding") != NULL, "%s", err.msg);
    ck_assert_int_eq(node_link_state_get(resp), NODE_LINK_FAILED);
    node_link_free(resp);

    /* B's own key and certificate, played back at B (a cloned disk dialling home). */
    resp = lp_responder(d.b, NULL);
    k = lp_keys(d.w.dir[1]);
    CK_FAILS(lp_hand_initiate(resp, k.noise_sk, k.noise_pk, &d.cert_b, BASE_MS, &err), SN_EAUTH);
    sync_keys_wipe(&k);
    ck_assert_msg(strstr(err.msg, "own identity") != NULL, "%s", err.msg);
    node_link_free(resp);

    char from[4200], to[4200];
    snprintf(from, sizeof from, "%s/keys", d.w.dir[2]);
    snprintf(to, sizeof to, "%s/keys", d.w.dir[0]);
    copy_file(from, to);
    link_pair p = {0};
    lp_open(&p, d.a, d.b, NULL);
    ck_assert(lp_run(&p, 0));
    lp_expect_failed(&p, LP_RESP, SN_EAUTH, "misbinding");
    lp_close(&p);
    lp_open(&p, d.b, d.a, NULL);
    ck_assert(lp_run(&p, 0));
    lp_expect_failed(&p, LP_INIT, SN_EAUTH, "misbinding");
    lp_close(&p);
    duo_end(&d, "a misbound certificate");
}
END_TEST

/* Message 1 whose ephemeral key is a low-order point (all zero; u = 1): the responder's DH
 * gives zero and the handshake is abandoned before message 2. Then, by hand, a message 3
 * whose static key is all zero: abandoned too. */
START_TEST(test_attack_low_order_keys_refused)
{
    duo d;
    duo_make(&d);
    sn_err err = SN_ERR_INIT;
    uint8_t msg1[6 + 32] = {'S', 'N', 'X', '1', 0, 32};
    if (_i == 1)
        msg1[6] = 1;
    node_link *resp = lp_responder(d.b, NULL);
    CK_FAILS(lp_feed(resp, msg1, sizeof msg1, &err), SN_EAUTH);
    ck_assert_msg(strstr(err.msg, "low-order") != NULL, "%s", err.msg);
    ck_assert_int_eq(node_link_state_get(resp), NODE_LINK_FAILED);
    ck_assert_str_eq(node_link_error(resp)->msg, err.msg);
    ck_assert_uint_eq(lp_drain(resp), 0); /* no message 2 */
    node_link_free(resp);

    resp = lp_responder(d.b, NULL);
    sync_keys k = lp_keys(d.w.dir[0]);
    uint8_t zero[32] = {0};
    zero[0] = (uint8_t)_i;
    CK_FAILS(lp_hand_initiate(resp, k.noise_sk, zero, &d.cert_a, BASE_MS, &err), SN_EAUTH);
    sync_keys_wipe(&k);
    ck_assert_msg(strstr(err.msg, "low-order") != NULL, "%s", err.msg);
    ck_assert_int_eq(node_link_state_get(resp), NODE_LINK_FAILED);
    node_link_free(resp);
    duo_end(&d, "a low-order key");
}
END_TEST

/* A node whose certificate B knows to be revoked: refused whichever side dials. */
START_TEST(test_attack_revoked_node_refused)
{
    sn_err err = SN_ERR_INIT;
    duo d;
    duo_make(&d);
    sync_crl_entry e = tca_entry(&d.cert_a, 1, 0);
    sync_crl crl = tca_crl(&d.ca, &e, 1);
    bool taken = false;
    CK_OK(node_trust_crl_offer(d.b, &crl, &taken, &err));
    ck_assert(taken);
    sync_crl_free(&crl);

    link_pair p = {0};
    lp_open(&p, d.a, d.b, NULL);
    ck_assert(lp_run(&p, 0));
    lp_expect_failed(&p, LP_RESP, SN_EAUTH, "is revoked");
    lp_close(&p);
    lp_open(&p, d.b, d.a, NULL);
    ck_assert(lp_run(&p, 0));
    lp_expect_failed(&p, LP_INIT, SN_EAUTH, "is revoked");
    lp_close(&p);
    duo_end(&d, "a revoked node");
}
END_TEST

/* ---- lengths ------------------------------------------------------------------------ */

static void short_first_frame(void *ctx, lp_chunk *c)
{
    bool *done = ctx;
    const lp_frame *f = lp_chunk_frame(c, 0);
    if (*done || c->from != LP_INIT || f == NULL)
        return;
    *done = true;
    sn_store_u16be(c->p + f->off, SYNC_FRAME_LEN_MIN - 1);
}

/* A frame length below 17 is refused as soon as its two bytes arrive, before any buffer is
 * sized; a message 1 of any length but 32 as soon as its prefix arrives; a message 3 longer
 * than the handshake buffer likewise; a wrong magic at once. */
START_TEST(test_attack_lengths_refused_early)
{
    duo d;
    duo_make(&d);
    link_pair p = {0};
    bool done = false;
    p.hook = short_first_frame;
    p.hook_ctx = &done;
    lp_open(&p, d.a, d.b, NULL);
    ck_assert(lp_run(&p, 0));
    ck_assert(done);
    lp_expect_failed(&p, LP_RESP, SN_EPROTO, "below the minimum");
    ck_assert_uint_eq(sync_rx_memory(&p.s[LP_RESP].link->rx), 0);
    lp_close(&p);

    sn_err err = SN_ERR_INIT;
    static const unsigned lens[] = {0, 31, 33, 65535};
    for (size_t i = 0; i < 4; i++) {
        uint8_t prefix[6] = {'S', 'N', 'X', '1', (uint8_t)(lens[i] >> 8), (uint8_t)lens[i]};
        node_link *resp = lp_responder(d.b, NULL);
        CK_FAILS(lp_feed(resp, prefix, sizeof prefix, &err), SN_EPROTO);
        char want[64];
        snprintf(want, sizeof want, "message of %u bytes refused", lens[i]);
        ck_assert_msg(strstr(err.msg, want) != NULL, "%s", err.msg);
        ck_assert_int_eq(node_link_state_get(resp), NODE_LINK_FAILED);
        ck_assert_uint_le(resp->hsin.cap, LINK_HS_MSG_MAX + 6);
        node_link_free(resp);
    }
    node_link *resp = lp_responder(d.b, NULL);
    CK_FAILS(lp_feed(resp, "SNX2\0\x20", 6, &err), SN_EPROTO);
    ck_assert_msg(strstr(err.msg, "bad magic") != NULL, "%s", err.msg);
    node_link_free(resp);

    /* A genuine message 1 from A, then a message 3 claiming 65535 bytes. */
    lp_open(&p, d.a, d.b, NULL);
    ck_assert_uint_gt(lp_deliver(&p, LP_INIT), 0);
    ck_assert_uint_gt(lp_drain(p.s[LP_RESP].link), 0);
    static const uint8_t huge[2] = {0xff, 0xff};
    CK_FAILS(lp_feed(p.s[LP_RESP].link, huge, 2, &err), SN_EPROTO);
    ck_assert_msg(strstr(err.msg, "65535 bytes refused") != NULL, "%s", err.msg);
    lp_close(&p);
    duo_end(&d, "lengths out of range");
}
END_TEST

/* ---- messages ------------------------------------------------------------------------ */

static void hello_bytes(sn_buf *b)
{
    sn_err err = SN_ERR_INIT;
    sync_hello h = {.version = SYNC_WIRE_VERSION, .flags = SYNC_HELLO_FULL, .schema = 1};
    crdt_vv_init(&h.vv);
    crdt_origin o1 = {{1}, 1}, o2 = {{2}, 1};
    CK_OK(crdt_vv_raise(&h.vv, &o1, 5, &err));
    CK_OK(crdt_vv_raise(&h.vv, &o2, 7, &err));
    sn_buf_init(b, 4096);
    CK_OK(sync_hello_encode(&h, b, &err));
    sync_hello_free(&h);
    ck_assert_uint_eq(b->len, 20 + 4 + 2 * SYNC_VV_ENTRY_LEN);
}

/* Malformed HELLO bodies, parsed directly: each refused with a message, nothing kept. */
START_TEST(test_attack_hello_parse_refuses_malformed)
{
    sn_err err = SN_ERR_INIT;
    sn_buf good;
    hello_bytes(&good);
    sync_hello h;
    CK_OK(sync_hello_parse(good.data, good.len, &h, &err));
    ck_assert_uint_eq(h.vv.n, 2);
    sync_hello_free(&h);

    enum { N = 12 };
    for (int i = 0; i < N; i++) {
        uint8_t m[256];
        size_t n = good.len;
        memcpy(m, good.data, n);
        int want = SN_EPROTO;
        uint8_t *e0 = m + 24, *e1 = m + 24 + SYNC_VV_ENTRY_LEN;
        switch (i) {
        case 0: n = 19; break;                         /* shorter than the fixed part */
        case 1: m[0] = SYNC_WIRE_VERSION + 1; want = SN_EVERSION; break; /* newer */
        case 2: m[0] = 0; break;                       /* an unknown older one */
        case 3: m[1] = 0x80; break;                    /* unknown flags */
        case 4: sn_store_u32be(m + 20, 3); break;      /* more entries than bytes */
        case 5: sn_store_u32be(m + 20, 0xffffffffu); break;
        case 6: sn_store_u32be(m + 20, 1); break;      /* fewer: bytes left over */
        case 7: m[n++] = 0; break;                     /* a trailing byte */
        case 8: n = 23; break;                         /* a vector of 3 bytes */
        case 9: memcpy(e1, e0, 16); break;             /* a repeated origin */
        case 10: e0[0] = 3; break;                     /* out of order */
        case 11: memset(e1 + 20, 0, 8); break;         /* seq 0 */
        default: break;
        }
        sn_err_clear(&err);
        int rc = sync_hello_parse(m, n, &h, &err);
        ck_assert_msg(rc == want && err.msg[0] != '\0', "case %d: %s (%s)", i, sn_err_name(rc),
                      err.msg);
        ck_assert_msg(h.vv.n == 0, "case %d kept %zu entries", i, h.vv.n);
        sync_hello_free(&h);
    }
    sn_buf_free(&good);
}
END_TEST

/* A hostile peer with the session keys: an unknown message type, a HELLO claiming more
 * entries than it holds, an ACK for units never sent. Each sent after A's own HELLO, in
 * the same write as message 3. */
START_TEST(test_attack_hostile_messages_refused)
{
    duo d;
    duo_make(&d);
    sn_err err = SN_ERR_INIT;
    link_pair p = {0};
    lp_open(&p, d.a, d.b, NULL);
    ck_assert_uint_gt(lp_deliver(&p, LP_INIT), 0);
    ck_assert_uint_gt(lp_deliver(&p, LP_RESP), 0);
    ck_assert_int_eq(lp_state(&p, LP_INIT), NODE_LINK_OPEN);
    node_link *a = p.s[LP_INIT].link;
    const char *want = NULL;
    if (_i == 0) {
        static const uint8_t body[3] = {1, 2, 3};
        CK_OK(link_send(a, 0x42, body, sizeof body, &err));
        want = "unknown message type 0x42";
    } else if (_i == 1) {
        sn_buf b;
        hello_bytes(&b);
        sn_store_u32be(b.data + 20, 1000);
        CK_OK(link_send(a, SYNC_MSG_HELLO, b.data, b.len, &err));
        sn_buf_free(&b);
        want = "vector claims 1000 entries";
    } else {
        uint8_t ack[SYNC_ACK_LEN];
        sync_ack_encode(5, ack);
        CK_OK(link_send(a, SYNC_MSG_ACK, ack, sizeof ack, &err));
        want = "acknowledged 5 units of 0 sent";
    }
    ck_assert(lp_run(&p, 0));
    lp_expect_failed(&p, LP_RESP, SN_EPROTO, want);
    lp_close(&p);
    duo_end(&d, "a hostile message");
}
END_TEST

static int keep_first(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    (void)err;
    sn_buf *b = ctx;
    if (b->len == 0)
        return sn_buf_append(b, p, n, err);
    return 0;
}

/* R relays A's commits to B, altering one byte of a commit on the way. The unit's bytes are
 * authenticated end to end by A's checkpoint, not by the session, so the simplest honest
 * way to stage this is a relay with the session keys: R's own link sends, on its real
 * transport stream, the CERTS an honest relay sends first and then the unit as R would cut
 * it from its store (node_store_export_units), with the one byte changed. B refuses the
 * unit, naming it and the broken chain; an honest session after it delivers. */
START_TEST(test_attack_relayed_unit_altered_refused)
{
    sn_err err = SN_ERR_INIT;
    duo d;
    duo_make(&d);
    node_store *r = add(&d.w, BASE_MS);
    (void)tca_enroll(&d.ca, r);
    uint8_t pa[ID_LEN];
    insert_patient(d.a, "Adams", pa);
    tca_send(d.a, r);

    sn_buf unit, cert, certs;
    sn_buf_init(&unit, SYNC_MESSAGE_MAX);
    CK_OK(node_store_export_units(r, NULL, keep_first, NULL, &unit, NULL, &err));
    uint8_t *at = memmem(unit.data, unit.len, "Adams", 5);
    ck_assert_ptr_nonnull(at);
    at[0] = 'E';
    sn_buf_init(&cert, SYNC_CERT_MAX);
    sn_buf_init(&certs, SYNC_CERT_MAX + 4);
    CK_OK(sync_cert_encode(&d.cert_a, &cert, &err));
    CK_OK(sync_certs_add(&certs, cert.data, cert.len, &err));

    link_pair p = {0};
    lp_open(&p, r, d.b, NULL);
    ck_assert_uint_gt(lp_deliver(&p, LP_INIT), 0);
    ck_assert_uint_gt(lp_deliver(&p, LP_RESP), 0);
    node_link *rl = p.s[LP_INIT].link;
    CK_OK(link_send(rl, SYNC_MSG_CERTS, certs.data, certs.len, &err));
    CK_OK(link_send(rl, SYNC_MSG_UNIT, unit.data, unit.len, &err));
    ck_assert(lp_run(&p, 0));
    lp_expect_failed(&p, LP_RESP, SN_EAUTH, "unit 1 refused");
    ck_assert_msg(strstr(lp_error(&p, LP_RESP)->msg, "chain") != NULL, "%s",
                  lp_error(&p, LP_RESP)->msg);
    lp_close(&p);
    snap_expect(d.b, &d.before, "an altered unit");

    lp_sync(r, d.b, NULL, NULL);
    expect_digests(d.a, d.b, true, "after an honest relay");
    expect_row(d.b, pa, true, "A's patient, relayed honestly");
    sn_buf_free(&unit);
    sn_buf_free(&cert);
    sn_buf_free(&certs);
    snap_free(&d.before);
    world_end(&d.w);
}
END_TEST

Suite *node_link_attack_suite(void);
Suite *node_link_attack_suite(void)
{
    Suite *s = suite_create("node_link_attack_suite");
    TCase *tc = fixture_tcase(s, "link_attack");
    tcase_add_unchecked_fixture(tc, quiet, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_attack_bit_flip_refused, T_LEN, T_TAGBYTE + 1);
    tcase_add_test(tc, test_attack_truncated_stream_is_a_cut);
    tcase_add_test(tc, test_attack_replayed_frame_refused);
    tcase_add_test(tc, test_attack_old_handshake_replayed);
    tcase_add_test(tc, test_attack_other_ca_refused);
    tcase_add_test(tc, test_attack_misbinding_refused);
    tcase_add_loop_test(tc, test_attack_low_order_keys_refused, 0, 2);
    tcase_add_test(tc, test_attack_revoked_node_refused);
    tcase_add_test(tc, test_attack_lengths_refused_early);
    tcase_add_test(tc, test_attack_hello_parse_refuses_malformed);
    tcase_add_loop_test(tc, test_attack_hostile_messages_refused, 0, 3);
    tcase_add_test(tc, test_attack_relayed_unit_altered_refused);
    return s;
}
