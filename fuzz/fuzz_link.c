/* fuzz/fuzz_link.c - one live sync session as the listening side runs it (node/link.c,
 * node/link_exchange.c) against a real store enrolled with the fixed CA: what the control
 * messages of fuzz_wire and the units of fuzz_unit do once they reach the engine (HELLO
 * deltas against what was told, units verified, stored, acknowledged and applied, ACK
 * accounting, certificates, revocation lists, heads, GOODBYE), plus pumps and timers.
 *
 * The harness is the peer: a genuine handshake as initiator with the fixed keys and the
 * origin's certificate, then one secretstream of messages built from the input:
 *   records: kind u8 | piece body
 *     kind 0: no message; pump the link and tick its timers body[0..1] (u16) seconds on;
 *     otherwise kind & 0x7f is the message type (GOODBYE goes with the stream's final
 *     tag), and with kind & 0x80 the harness re-seals a UNIT body, or re-signs each
 *     checkpoint of a HEADS body, with the origin's key (fuzz_reseal_unit), so bodies
 *     the fuzzer changed still verify.
 * The store is made afresh for every input (sessions change it). Checks: a failure says
 * why and leaves the link FAILED; the link's own output is well-formed framing; after the
 * session the store passes node_store_check. */
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "node/link.h"
#include "sync/frame.h"
#include "sync/unit.h"
#include "sync/wire.h"

typedef struct session {
    node_store *st;
    node_link *l;
    sync_tx tx;   /* what the harness sends */
    sync_rx rx;   /* what the link sends, checked */
    sn_buf wire;  /* the harness's next bytes for the link */
    bool failed;  /* the link failed: nothing more goes in */
} session;

/* Give the link the bytes in s->wire. */
static void deliver(session *s)
{
    if (s->failed || s->wire.len == 0)
        return;
    sn_err err = SN_ERR_INIT;
    int rc = node_link_input(s->l, s->wire.data, s->wire.len, &err);
    fuzz_check_err(rc, &err, "node_link_input");
    sn_buf_reset(&s->wire);
    if (rc != 0 && node_link_state_get(s->l) != NODE_LINK_FAILED)
        fuzz_fail("node_link_input failed (%s) but the link is not FAILED", err.msg);
    s->failed = rc != 0;
}

/* Read what the link wrote since the last call: framing that must parse (the link
 * never sends a broken stream), or, with hs set, one handshake message into hs. */
static void drain(session *s, uint8_t *hs, size_t *hs_len)
{
    size_t n;
    const uint8_t *p = node_link_output(s->l, &n);
    if (hs != NULL) {
        if (n < 2 || n - 2 != sn_load_u16be(p) || n - 2 > SYNC_NOISE_MSG_MAX)
            fuzz_fail("the link's handshake message 2 is %zu bytes", n);
        memcpy(hs, p + 2, n - 2);
        *hs_len = n - 2;
    }
    for (size_t off = 0; hs == NULL && off < n;) {
        size_t used;
        sync_msg m;
        sn_err err = SN_ERR_INIT;
        int rc = sync_rx_feed(&s->rx, p + off, n - off, &used, &m, &err);
        if (rc < 0)
            fuzz_fail("the link's own output does not read back: %s", err.msg);
        off += used;
    }
    node_link_output_consumed(s->l, n);
}

/* The handshake as initiator, then the transport: the origin is a peer the link accepts,
 * so a failure here is the harness's or the engine's fault. */
static void handshake(session *s)
{
    static uint8_t msg[SYNC_NOISE_MSG_MAX], payload[SYNC_NOISE_MSG_MAX];
    sync_noise i;
    fuzz_noise_start(&i, true);
    size_t len = fuzz_noise_write(&i, NULL, 0, msg), plen;
    sn_err err = SN_ERR_INIT;
    int rc = sn_buf_append(&s->wire, SYNC_WIRE_MAGIC, SYNC_WIRE_MAGIC_LEN, &err);
    if (rc == 0)
        rc = sn_buf_put_u16be(&s->wire, (uint16_t)len, &err);
    if (rc == 0)
        rc = sn_buf_append(&s->wire, msg, len, &err);
    deliver(s);
    drain(s, msg, &len);
    if (s->failed || fuzz_noise_read(&i, msg, len, payload, &plen) != 0)
        fuzz_fail("the handshake with the link failed");
    len = fuzz_noise_write_payload(&i, msg);
    if (rc == 0)
        rc = sn_buf_put_u16be(&s->wire, (uint16_t)len, &err);
    if (rc == 0)
        rc = sn_buf_append(&s->wire, msg, len, &err);
    uint8_t k_i2r[32], k_r2i[32], h[32], header[SYNC_STREAM_HEADER_LEN];
    if (rc == 0)
        rc = sync_noise_split(&i, k_i2r, k_r2i, h, &err);
    if (rc == 0)
        rc = sync_tx_init(&s->tx, k_i2r, header, &err);
    if (rc == 0)
        rc = sn_buf_append(&s->wire, header, sizeof header, &err);
    if (rc != 0)
        fuzz_fail("the harness's side of the handshake: %s", err.msg);
    sync_rx_init(&s->rx, k_r2i);
    deliver(s);
    if (s->failed)
        fuzz_fail("the link refused the origin's genuine handshake: %s",
                  node_link_error(s->l)->msg);
    drain(s, NULL, NULL);
}

/* Pump the link and move its clock `seconds` on. */
static void pump(session *s, uint16_t seconds)
{
    sn_err err = SN_ERR_INIT;
    int rc = node_link_pump(s->l, &err);
    fuzz_check_err(rc, &err, "node_link_pump");
    if (rc == 0) {
        rc = node_link_tick(s->l, (FUZZ_NOW_S + seconds) * 1000u, &err);
        fuzz_check_err(rc, &err, "node_link_tick");
    }
    s->failed = rc != 0 || node_link_state_get(s->l) == NODE_LINK_FAILED;
}

/* Send one message built from a record; HEADS and UNIT bodies re-sealed on request. */
static void send(session *s, uint8_t kind, const uint8_t *p, size_t n, fuzz_resealer *r)
{
    uint8_t type = kind & 0x7f;
    uint8_t body[SYNC_NOISE_MSG_MAX];
    memcpy(body, p, n);
    if ((kind & 0x80) && type == SYNC_MSG_UNIT)
        fuzz_reseal_unit(r, body, n);
    for (size_t off = 0; (kind & 0x80) && type == SYNC_MSG_HEADS && off < n;
         off += SYNC_CHECKPOINT_LEN)
        fuzz_resign_checkpoint(r, body + off, n - off < SYNC_CHECKPOINT_LEN ? n - off :
                                                                             SYNC_CHECKPOINT_LEN);
    sn_err err = SN_ERR_INIT;
    int rc = type == SYNC_MSG_GOODBYE ? sync_tx_final(&s->tx, type, body, n, &s->wire, &err)
                                      : sync_tx_message(&s->tx, type, body, n, 0, &s->wire, &err);
    if (rc != 0) /* only after the final tag: the stream is over */
        return;
    deliver(s);
}

static void session_run(fuzz_in *in)
{
    session s = {.st = fuzz_store_fresh(7)};
    sn_buf_init(&s.wire, (size_t)1 << 20);
    node_link_opts o = {.initiator = false, .peer_label = "fuzz"};
    sn_err err = SN_ERR_INIT;
    if (node_link_new(&s.l, s.st, &o, &err) != 0)
        fuzz_fail("node_link_new: %s", err.msg);
    fuzz_resealer r = {.sk = fuzz_keys()->origin_sk};
    handshake(&s);
    while (in->n > 0 && !s.failed && node_link_state_get(s.l) == NODE_LINK_OPEN) {
        uint8_t kind = fuzz_u8(in);
        const uint8_t *p;
        size_t n;
        fuzz_piece(in, &p, &n);
        if (kind == 0)
            pump(&s, n >= 2 ? sn_load_u16be(p) : 0);
        else
            send(&s, kind, p, n, &r);
        drain(&s, NULL, NULL);
    }
    if (!s.failed) {
        int rc = node_link_eof(s.l, &err);
        fuzz_check_err(rc, &err, "node_link_eof");
    }
    node_link_free(s.l);
    sn_err_clear(&err);
    if (node_store_check(s.st, &err) != 0)
        fuzz_fail("the store fails its invariants after a session: %s", err.msg);
    node_store_close(s.st);
    sync_tx_wipe(&s.tx);
    sync_rx_free(&s.rx);
    sn_buf_free(&s.wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_mode modes[] = {session_run};
    return fuzz_run(data, size, modes, 1, "fuzz_link");
}
