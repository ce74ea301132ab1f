/* tests/link_pair.c - two sync links wired to each other in memory (see link_pair.h).
 *
 * Each direction's bytes are parsed as they were sent, to tell a hook which transport frames
 * a chunk holds. The layout (SECURITY.md §2.3-2.4, node/link.c):
 *   initiator -> "SNX1" | u16 len | msg1 | u16 len | msg3 | stream header 24 | frame*
 *   responder -> u16 len | msg2 | stream header 24 | frame*
 *   frame     := u16 len | ciphertext of len bytes */
#include "tests/link_pair.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "node/keyfile.h"
#include "sync/crypto.h"
#include "sync/frame.h"
#include "sync/noise.h"
#include "sync/wire.h"

enum { PH_MAGIC, PH_HS_LEN, PH_HS_BODY, PH_HEADER, PH_F_LEN, PH_F_BODY };

static void side_reset(lp_side *s, int side)
{
    free(s->log);
    *s = (lp_side){.phase = side == LP_INIT ? PH_MAGIC : PH_HS_LEN,
                   .hs_left = side == LP_INIT ? 2 : 1};
}

/* One complete frame ending at stream offset `end` (exclusive). */
static void frame_done(lp_side *s, lp_chunk *c, uint64_t end)
{
    if (s->frame_at >= c->at && c->nframes < LP_FRAMES_MAX)
        c->frames[c->nframes++] = (lp_frame){.index = s->frames,
                                             .off = (size_t)(s->frame_at - c->at),
                                             .len = (size_t)(end - s->frame_at)};
    s->frames++;
    s->have = 0;
    s->phase = PH_F_LEN;
}

/* A handshake message ended at stream offset `end`. */
static void hs_done(lp_side *s, uint64_t end)
{
    s->have = 0;
    if (--s->hs_left > 0) {
        s->phase = PH_HS_LEN;
    } else {
        s->phase = PH_HEADER;
        s->hs_bytes = end;
    }
}

static void parse(lp_side *s, lp_chunk *c)
{
    for (size_t i = 0; i < c->n; i++) {
        uint64_t pos = c->at + i;
        switch (s->phase) {
        case PH_MAGIC:
            if (++s->have == SYNC_WIRE_MAGIC_LEN) {
                s->have = 0;
                s->phase = PH_HS_LEN;
            }
            break;
        case PH_HS_LEN:
        case PH_F_LEN:
            if (s->phase == PH_F_LEN && s->have == 0)
                s->frame_at = pos;
            s->lenb[s->have++] = c->p[i];
            if (s->have < 2)
                break;
            s->need = sn_load_u16be(s->lenb);
            s->have = 0;
            if (s->phase == PH_HS_LEN) {
                s->phase = PH_HS_BODY;
                if (s->need == 0)
                    hs_done(s, pos + 1);
            } else {
                s->phase = PH_F_BODY;
                if (s->need == 0)
                    frame_done(s, c, pos + 1);
            }
            break;
        case PH_HS_BODY:
            if (++s->have == s->need)
                hs_done(s, pos + 1);
            break;
        case PH_HEADER:
            if (++s->have == SYNC_STREAM_HEADER_LEN) {
                s->have = 0;
                s->phase = PH_F_LEN;
            }
            break;
        case PH_F_BODY:
            if (++s->have == s->need)
                frame_done(s, c, pos + 1);
            break;
        default: break;
        }
    }
}

void lp_chunk_splice(lp_chunk *c, size_t off, size_t len, const uint8_t *q, size_t qn)
{
    ck_assert(off <= c->n && len <= c->n - off);
    size_t n = c->n - len + qn;
    if (n > c->cap) {
        c->p = realloc(c->p, n);
        ck_assert_ptr_nonnull(c->p);
        c->cap = n;
    }
    memmove(c->p + off + qn, c->p + off + len, c->n - off - len);
    if (qn > 0)
        memcpy(c->p + off, q, qn);
    c->n = n;
}

const lp_frame *lp_chunk_largest(const lp_chunk *c)
{
    const lp_frame *best = NULL;
    for (size_t i = 0; i < c->nframes; i++)
        if (best == NULL || c->frames[i].len > best->len)
            best = &c->frames[i];
    return best;
}

const lp_frame *lp_chunk_frame(const lp_chunk *c, uint64_t index)
{
    for (size_t i = 0; i < c->nframes; i++)
        if (c->frames[i].index == index)
            return &c->frames[i];
    return NULL;
}

node_link_opts lp_once_opts(void) { return (node_link_opts){.once = true}; }

void lp_open(link_pair *p, node_store *init, node_store *resp, const node_link_opts *o)
{
    sn_err err = SN_ERR_INIT;
    node_link_opts base = o != NULL ? *o : lp_once_opts();
    node_store *st[2] = {init, resp};
    for (int i = 0; i < 2; i++) {
        side_reset(&p->s[i], i);
        p->s[i].st = st[i];
        node_link_opts oi = base;
        oi.initiator = i == LP_INIT;
        oi.peer_label = i == LP_INIT ? "responder" : "initiator";
        int rc = node_link_new(&p->s[i].link, st[i], &oi, &err);
        ck_assert_msg(rc == 0, "node_link_new: %s", err.msg);
    }
    p->rounds = 0;
    int rc = node_link_start(p->s[LP_INIT].link, &err);
    ck_assert_msg(rc == 0, "node_link_start: %s", err.msg);
}

void lp_close(link_pair *p)
{
    for (int i = 0; i < 2; i++) {
        node_link_free(p->s[i].link);
        p->s[i].link = NULL;
        free(p->s[i].log);
        p->s[i].log = NULL;
        p->s[i].log_n = p->s[i].log_cap = 0;
    }
}

/* Keep the first failure a call on side s returned. */
static void note(lp_side *s, int rc, const sn_err *err)
{
    if (rc != 0 && s->rc == 0) {
        s->rc = rc;
        s->err = *err;
    }
}

static void record(lp_side *s, const uint8_t *q, size_t n)
{
    if (s->log_n + n > s->log_cap) {
        s->log_cap = (s->log_n + n) * 2;
        s->log = realloc(s->log, s->log_cap);
        ck_assert_ptr_nonnull(s->log);
    }
    memcpy(s->log + s->log_n, q, n);
    s->log_n += n;
}

size_t lp_deliver(link_pair *p, int from)
{
    lp_side *s = &p->s[from], *d = &p->s[1 - from];
    size_t n = 0;
    const uint8_t *out = node_link_output(s->link, &n);
    if (n == 0)
        return 0;
    lp_chunk *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    *c = (lp_chunk){.from = from, .at = s->sent, .p = malloc(n), .n = n, .cap = n};
    ck_assert_ptr_nonnull(c->p);
    memcpy(c->p, out, n);
    node_link_output_consumed(s->link, n);
    parse(s, c);
    if (p->record)
        record(s, c->p, n);
    s->sent += n;
    if (!s->ended) {
        if (p->hook != NULL)
            p->hook(p->hook_ctx, c);
        sn_err err = SN_ERR_INIT;
        if (c->n > 0)
            note(d, node_link_input(d->link, c->p, c->n, &err), &err);
        if (c->eof) {
            s->ended = true;
            sn_err_clear(&err);
            note(d, node_link_eof(d->link, &err), &err);
        }
        sn_err_clear(&err);
        note(d, node_link_pump(d->link, &err), &err);
    }
    free(c->p);
    free(c);
    return n;
}

bool lp_run(link_pair *p, int max_rounds)
{
    if (max_rounds <= 0)
        max_rounds = 100000;
    for (int r = 0; r < max_rounds; r++) {
        p->rounds++;
        size_t moved = lp_deliver(p, LP_INIT);
        moved += lp_deliver(p, LP_RESP);
        if (moved > 0)
            continue;
        size_t waiting = 0;
        for (int i = 0; i < 2; i++) {
            sn_err err = SN_ERR_INIT;
            note(&p->s[i], node_link_pump(p->s[i].link, &err), &err);
            size_t n = 0;
            (void)node_link_output(p->s[i].link, &n);
            waiting += n;
        }
        if (waiting == 0)
            return true;
    }
    return false;
}

node_link_state lp_state(const link_pair *p, int side)
{
    return node_link_state_get(p->s[side].link);
}

const node_link_stats *lp_stats(const link_pair *p, int side)
{
    return node_link_stats_get(p->s[side].link);
}

const sn_err *lp_error(const link_pair *p, int side) { return node_link_error(p->s[side].link); }

uint64_t lp_transport_bytes(const link_pair *p, int side)
{
    const lp_side *s = &p->s[side];
    ck_assert_msg(s->hs_bytes > 0, "side %d never finished its handshake", side);
    return s->sent - s->hs_bytes;
}

static const char *side_name(int side) { return side == LP_INIT ? "initiator" : "responder"; }

void lp_expect_failed(const link_pair *p, int side, int code, const char *needle)
{
    const sn_err *e = lp_error(p, side);
    const lp_side *s = &p->s[side];
    ck_assert_msg(lp_state(p, side) == NODE_LINK_FAILED, "%s: state %d, want FAILED (%s)",
                  side_name(side), (int)lp_state(p, side), e->msg);
    ck_assert_msg(e->code != 0 && (code == 0 || e->code == code), "%s: code %s, want %s (%s)",
                  side_name(side), sn_err_name(e->code), sn_err_name(code), e->msg);
    ck_assert_msg(strstr(e->msg, needle) != NULL, "%s: error '%s' does not name '%s'",
                  side_name(side), e->msg, needle);
    ck_assert_msg(s->rc == e->code && strstr(s->err.msg, needle) != NULL,
                  "%s: the call returned %s '%s', the link says %s '%s'", side_name(side),
                  sn_err_name(s->rc), s->err.msg, sn_err_name(e->code), e->msg);
}

void lp_expect_done(const link_pair *p)
{
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(lp_state(p, i) == NODE_LINK_DONE, "%s: state %d, want DONE (%s)",
                      side_name(i), (int)lp_state(p, i), lp_error(p, i)->msg);
        ck_assert_msg(lp_stats(p, i)->caught_up, "%s: not caught up", side_name(i));
        ck_assert_int_eq(lp_error(p, i)->code, 0);
    }
}

void lp_sync(node_store *a, node_store *b, node_link_stats *sa, node_link_stats *sb)
{
    link_pair p = {0};
    lp_open(&p, a, b, NULL);
    ck_assert_msg(lp_run(&p, 0), "the session never went quiet");
    lp_expect_done(&p);
    if (sa != NULL)
        *sa = *lp_stats(&p, LP_INIT);
    if (sb != NULL)
        *sb = *lp_stats(&p, LP_RESP);
    lp_close(&p);
}

/* ---- raw bytes ---------------------------------------------------------------------- */

node_link *lp_responder(node_store *st, const node_link_opts *o)
{
    sn_err err = SN_ERR_INIT;
    node_link_opts oi = o != NULL ? *o : lp_once_opts();
    oi.initiator = false;
    oi.peer_label = "raw";
    node_link *l = NULL;
    int rc = node_link_new(&l, st, &oi, &err);
    ck_assert_msg(rc == 0, "node_link_new: %s", err.msg);
    return l;
}

int lp_feed(node_link *l, const void *p, size_t n, sn_err *err)
{
    sn_err_clear(err);
    return node_link_input(l, p, n, err);
}

size_t lp_drain(node_link *l)
{
    size_t n = 0;
    (void)node_link_output(l, &n);
    node_link_output_consumed(l, n);
    return n;
}

sync_keys lp_keys(const char *dir)
{
    sn_err err = SN_ERR_INIT;
    sync_keys k;
    int rc = node_keyfile_load(dir, &k, &err);
    ck_assert_msg(rc == 0, "keys of %s: %s", dir, err.msg);
    return k;
}

int lp_hand_initiate(node_link *resp, const uint8_t noise_sk[32], const uint8_t noise_pk[32],
                     const sync_cert *cert, uint64_t time_ms, sn_err *err)
{
    static const char prologue[] = SYNC_WIRE_PROLOGUE;
    sync_noise hs;
    sync_noise_init(&hs, true, (const uint8_t *)prologue, sizeof prologue - 1, noise_sk,
                    noise_pk);
    uint8_t msg[4096 + 2];
    size_t len = 0;
    int rc = sync_noise_write(&hs, NULL, 0, msg + 6, sizeof msg - 6, &len, err);
    ck_assert_msg(rc == 0, "message 1: %s", err->msg);
    memcpy(msg, SYNC_WIRE_MAGIC, SYNC_WIRE_MAGIC_LEN);
    sn_store_u16be(msg + 4, (uint16_t)len);
    rc = lp_feed(resp, msg, 6 + len, err);
    if (rc != 0) {
        sync_noise_wipe(&hs);
        return rc;
    }

    size_t n = 0;
    const uint8_t *out = node_link_output(resp, &n);
    ck_assert_msg(n > 2 && n == 2u + sn_load_u16be(out), "message 2 of %zu bytes", n);
    uint8_t payload[4096];
    size_t plen = 0;
    rc = sync_noise_read(&hs, out + 2, n - 2, payload, sizeof payload, &plen, err);
    ck_assert_msg(rc == 0, "message 2: %s", err->msg);
    node_link_output_consumed(resp, n);

    sn_buf cb, pb;
    sn_buf_init(&cb, SYNC_CERT_MAX);
    sn_buf_init(&pb, 4096);
    rc = sync_cert_encode(cert, &cb, err);
    ck_assert_msg(rc == 0, "%s", err->msg);
    sync_hs_payload pl = {.cert = cb.data, .cert_len = cb.len, .time_ms = time_ms};
    rc = sync_hs_payload_encode(&pl, &pb, err);
    ck_assert_msg(rc == 0, "%s", err->msg);
    rc = sync_noise_write(&hs, pb.data, pb.len, msg + 2, sizeof msg - 2, &len, err);
    ck_assert_msg(rc == 0, "message 3: %s", err->msg);
    sn_store_u16be(msg, (uint16_t)len);
    sn_buf_free(&cb);
    sn_buf_free(&pb);
    sync_noise_wipe(&hs);
    return lp_feed(resp, msg, 2 + len, err);
}
