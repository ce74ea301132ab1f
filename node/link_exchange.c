/* node/link_exchange.c - the exchange after the handshake (DESIGN.md §5): HELLO with the
 * vector last told this peer plus what changed (the whole vector when the peer's copy is
 * unknown or stale), then units the peer lacks, cut from the store with a window of them
 * in flight, each acknowledged by the receiver once durably stored; certificates of the
 * origins sent, the revocation list when the peer's is older, the latest checkpoints of
 * the origins the peer named (to expose equivocation) and every proof of equivocation held
 * (node/store_equiv.c), CAUGHT_UP when all is sent. */
#include <inttypes.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "node/link_int.h"
#include "node/status.h"
#include "node/store_int.h"
#include "node/trust.h"
#include "node/units.h"
#include "schema/schema.h"
#include "sync/crl.h"
#include "sync/proof.h"
#include "sync/unit.h"
#include "sync/wire.h"

#define WINDOW_START 4u

/* Our HELLO: the whole vector unless the peer holds the one we last told it. */
static int send_hello(node_link *l, bool full, sn_err *err)
{
    sync_hello h = {.version = SYNC_WIRE_VERSION, .schema = SCHEMA_VERSION};
    crdt_vv held;
    crdt_vv_init(&held);
    crdt_vv_init(&h.vv);
    int rc = node_store_held(l->st, &held, err);
    if (rc == 0 && !full)
        full = !crdt_vv_dominates(&held, &l->peer.told); /* a restore went back: start over */
    if (rc == 0 && full) {
        h.flags = SYNC_HELLO_FULL;
        rc = crdt_vv_copy(&h.vv, &held, err);
        l->stats.hellos_full++;
        l->full_hello = true;
    } else if (rc == 0) {
        sync_vv_digest(&l->peer.told, h.base);
        for (size_t i = 0; i < held.n && rc == 0; i++)
            if (crdt_vv_get(&l->peer.told, &held.e[i].origin) != held.e[i].seq)
                rc = crdt_vv_raise(&h.vv, &held.e[i].origin, held.e[i].seq, err);
    }
    sn_buf_reset(&l->scratch);
    if (rc == 0)
        rc = sync_hello_encode(&h, &l->scratch, err);
    if (rc == 0)
        rc = link_send(l, SYNC_MSG_HELLO, l->scratch.data, l->scratch.len, err);
    if (rc == 0)
        rc = crdt_vv_copy(&l->peer.told, &held, err);
    if (rc == 0)
        rc = node_peer_save(l->st, &l->peer, err);
    l->hello_out = rc == 0;
    crdt_vv_free(&held);
    sync_hello_free(&h);
    return rc;
}

int link_exchange_start(node_link *l, sn_err *err)
{
    bool found = false;
    /* Commits an earlier session stored but failed to apply are applied first. */
    int rc = node_store_apply_pending(l->st, NULL, err);
    if (rc == 0)
        rc = node_peer_load(l->st, l->peer_cert.replica, &l->peer, &found, err);
    if (rc != 0)
        return rc;
    memcpy(l->peer.name, l->peer_cert.name, sizeof l->peer.name);
    l->peer.sessions++;
    l->peer.last_seen_ms = node_now_ms(l->st);
    l->peer.skew_ms = l->stats.clock_error_ms;
    l->window = l->peer.window != 0 ? l->peer.window : WINDOW_START;
    if (l->window > l->o.window_max)
        l->window = l->o.window_max;
    l->unit_target = l->peer.unit_target != 0 ? l->peer.unit_target : NODE_UNIT_TARGET;
    return send_hello(l, !found, err);
}

/* ---- sending ---- */

static int ensure_cert(node_link *l, const uint8_t replica[16], uint64_t serial, sn_err *err)
{
    for (size_t i = 0; i < l->ncerts_sent; i++)
        if (l->certs_sent[i].serial == serial && memcmp(l->certs_sent[i].replica, replica, 16) == 0)
            return 0;
    sync_cert c;
    int rc = node_trust_cert_get(l->st, replica, serial, &c, err);
    sn_buf one, msg;
    sn_buf_init(&one, SYNC_CERT_MAX);
    sn_buf_init(&msg, SYNC_CERT_MAX + 4);
    if (rc == 0)
        rc = sync_cert_encode(&c, &one, err);
    if (rc == 0)
        rc = sync_certs_add(&msg, one.data, one.len, err);
    if (rc == 0)
        rc = link_send(l, SYNC_MSG_CERTS, msg.data, msg.len, err);
    if (rc == 0 && l->ncerts_sent == l->certs_cap) {
        size_t cap = l->certs_cap < 16 ? 16 : l->certs_cap * 2;
        link_cert_key *a = sn_realloc(l->certs_sent, cap * sizeof *a);
        if (a == NULL)
            rc = sn_err_set(err, SN_ENOMEM, "out of memory tracking certificates sent");
        else {
            l->certs_sent = a;
            l->certs_cap = cap;
        }
    }
    if (rc == 0) {
        memcpy(l->certs_sent[l->ncerts_sent].replica, replica, 16);
        l->certs_sent[l->ncerts_sent++].serial = serial;
    }
    sn_buf_free(&one);
    sn_buf_free(&msg);
    return rc;
}

static bool window_full(const node_link *l)
{
    return l->stats.units_out - l->units_acked >= l->window || l->out.len >= l->o.output_high;
}

static int on_unit(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    node_link *l = ctx;
    sync_unit u;
    int rc = sync_unit_parse(p, n, &u, err);
    if (rc != 0)
        return rc;
    rc = ensure_cert(l, u.cp.origin.replica, u.cp.cert_serial, err);
    if (rc == 0)
        rc = link_send(l, SYNC_MSG_UNIT, p, n, err);
    if (rc == 0)
        l->inflight[l->stats.units_out % l->o.window_max] =
            (crdt_dot){.origin = u.cp.origin, .seq = u.cp.seq};
    if (rc == 0)
        rc = crdt_vv_raise(&l->sent, &u.cp.origin, u.cp.seq, err);
    if (rc == 0) {
        l->stats.units_out++;
        l->stats.commits_out += u.count;
        l->caught_up_out = false;
    }
    sync_unit_free(&u);
    if (rc == 0 && window_full(l))
        return NODE_EXPORT_PAUSE;
    return rc;
}

typedef struct heads_ctx {
    node_link *l;
    sn_buf *b;
} heads_ctx;

/* Heads of the origins the peer named in its HELLO: enough to expose equivocation where
 * both sides hold the same seq of an origin under different links; and those of every
 * origin frozen here (its proof among them), so a fork is known wherever the origin is. */
static int on_head(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    heads_ctx *h = ctx;
    sync_checkpoint cp;
    int rc = sync_checkpoint_parse(p, n, &cp, err);
    if (rc != 0 || (crdt_vv_get(&h->l->hello_listed, &cp.origin) == 0 &&
                    !node_origin_is_frozen(h->l->st, &cp.origin)))
        return rc;
    return sn_buf_append(h->b, p, n, err);
}

/* A proof of equivocation held here, after the certificates of its two checkpoints: every
 * proof goes with the heads of every session, so a freeze reaches every node. */
static int on_proof(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    node_link *l = ctx;
    sync_proof pr;
    int rc = sync_proof_parse(p, n, &pr, err);
    for (int i = 0; i < 2 && rc == 0; i++)
        rc = ensure_cert(l, pr.side[i].cp.origin.replica, pr.side[i].cp.cert_serial, err);
    sync_proof_free(&pr);
    if (rc == 0)
        rc = link_send(l, SYNC_MSG_PROOF, p, n, err);
    return rc;
}

static int on_unit_or_head(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    return on_unit(((heads_ctx *)ctx)->l, p, n, err);
}

static int check_done(node_link *l, sn_err *err);
static int resend_own_if_forked(node_link *l, sn_err *err);

int link_exchange_pump(node_link *l, sn_err *err)
{
    if (!l->hello_in || l->bye_out || window_full(l))
        return 0;
    sn_buf heads;
    sn_buf_init(&heads, (size_t)SYNC_MESSAGE_MAX - 1);
    heads_ctx hc = {.l = l, .b = &heads};
    int rc = node_store_export_units_sized(l->st, &l->sent, l->unit_target, on_unit_or_head,
                                           l->heads_sent ? NULL : on_head, &hc, NULL, err);
    l->export_more = rc == NODE_EXPORT_PAUSE;
    if (rc == NODE_EXPORT_PAUSE) {
        sn_buf_free(&heads);
        return 0;
    }
    if (rc == 0 && !l->heads_sent) {
        l->heads_sent = true;
        if (heads.len > 0)
            rc = link_send(l, SYNC_MSG_HEADS, heads.data, heads.len, err);
        if (rc == 0)
            rc = node_store_export_proofs(l->st, on_proof, l, NULL, err);
    }
    sn_buf_free(&heads);
    if (rc == 0 && !l->caught_up_out) {
        rc = link_send(l, SYNC_MSG_CAUGHT_UP, NULL, 0, err);
        l->caught_up_out = rc == 0;
    }
    if (rc == 0)
        rc = check_done(l, err);
    return rc;
}

/* Whether both sides send STATE when in sync: when units moved either way or a HELLO was
 * full (a first meeting, or one side forgot). Both sides see the same, so each knows
 * whether to wait for the other's; a sync with nothing new stays as small as it was. */
static bool state_due(const node_link *l)
{
    return l->stats.units_in > 0 || l->stats.units_out > 0 || l->full_hello;
}

/* In sync: tell the peer what our state is for the vector we now hold, so it can see that
 * the same commits gave the same state. When no digest is at hand (a fresh one is too
 * soon, or this session was a bootstrap: node_open_opts) the STATE says so with zeros: the
 * peer waits for it all the same. */
static int send_state(node_link *l, sn_err *err)
{
    uint8_t vector[16] = {0}, digest[16] = {0}, body[SYNC_STATE_LEN];
    bool have = false;
    bool fresh = l->st->opts.state_digest_every_ms == 0 ||
                 l->stats.units_in + l->stats.units_out <= NODE_STATE_UNITS_MAX;
    int rc = node_store_state_digest(l->st, fresh, vector, digest, &have, err);
    if (rc != 0)
        return rc;
    if (!have) {
        memset(vector, 0, sizeof vector);
        memset(digest, 0, sizeof digest);
    }
    sync_state_encode(vector, digest, body);
    return link_send(l, SYNC_MSG_STATE, body, sizeof body, err);
}

/* Both sides have sent all the other lacked and everything sent is acknowledged. */
static int check_done(node_link *l, sn_err *err)
{
    if (!l->caught_up_out || !l->caught_up_in || l->export_more ||
        l->units_acked != l->stats.units_out)
        return 0;
    int rc = 0;
    if (!l->stats.caught_up) {
        l->stats.caught_up = true;
        l->peer.completed++;
        l->peer.last_sync_ms = node_now_ms(l->st);
        sn_log_info("sync %s %s: in sync (%" PRIu64 " units in, %" PRIu64 " out)", l->label,
                    l->peer_cert.name, l->stats.units_in, l->stats.units_out);
        if (state_due(l))
            rc = send_state(l, err);
    }
    if (rc != 0 || !l->o.once || l->bye_out)
        return rc;
    /* With STATEs to exchange the dialling side ends, once the peer's has come: one
     * GOODBYE, never two crossing. */
    if (state_due(l) && (!l->state_in || !l->o.initiator))
        return 0;
    /* Nothing more will come that we need: end now, not a round trip later. */
    rc = link_send_final(l, SYNC_BYE_DONE, "in sync", err);
    if (rc == 0)
        l->state = NODE_LINK_DONE;
    return rc;
}

/* ---- receiving ---- */

static int take_hello(node_link *l, const uint8_t *p, size_t n, sn_err *err)
{
    sync_hello h;
    int rc = sync_hello_parse(p, n, &h, err);
    if (rc != 0) {
        sync_hello_free(&h);
        return rc;
    }
    if (h.flags & SYNC_HELLO_FULL) {
        l->full_hello = true;
        rc = crdt_vv_copy(&l->peer_vec, &h.vv, err);
    } else {
        uint8_t d[16];
        sync_vv_digest(&l->peer.seen, d);
        if (memcmp(d, h.base, 16) != 0) {
            sync_hello_free(&h);
            sn_log_debug("sync %s: peer's HELLO base is not the vector held here; asking for "
                         "the whole", l->label);
            return link_send(l, SYNC_MSG_NEED_FULL, NULL, 0, err);
        }
        rc = crdt_vv_copy(&l->peer_vec, &l->peer.seen, err);
        for (size_t i = 0; i < h.vv.n && rc == 0; i++)
            rc = crdt_vv_set(&l->peer_vec, &h.vv.e[i].origin, h.vv.e[i].seq, err);
    }
    if (rc == 0)
        rc = crdt_vv_copy(&l->hello_listed, &h.vv, err);
    sync_hello_free(&h);
    if (rc == 0)
        rc = crdt_vv_copy(&l->peer.seen, &l->peer_vec, err);
    if (rc == 0)
        rc = node_peer_save(l->st, &l->peer, err);
    if (rc == 0)
        rc = crdt_vv_copy(&l->sent, &l->peer_vec, err);
    if (rc == 0)
        rc = resend_own_if_forked(l, err);
    if (rc != 0)
        return rc;
    l->hello_in = true;
    l->heads_sent = false;
    l->caught_up_out = false;
    /* The peer's revocation list is older than ours: send ours first. */
    sync_crl crl;
    rc = node_trust_crl(l->st, &crl, err);
    if (rc == 0 && crl.number > l->peer_crl_number) {
        sn_buf b;
        sn_buf_init(&b, 64u << 20);
        rc = sync_crl_encode(&crl, &b, err);
        if (rc == 0)
            rc = link_send(l, SYNC_MSG_CRL, b.data, b.len, err);
        sn_buf_free(&b);
    }
    sync_crl_free(&crl);
    return rc == 0 ? link_exchange_pump(l, err) : rc;
}

static int take_unit(node_link *l, const uint8_t *p, size_t n, sn_err *err)
{
    node_body b = {.p = p, .n = n};
    node_unit_stats us;
    int rc = node_store_import_units(l->st, &b, 1, &us, err);
    size_t applied = 0;
    if (rc == 0)
        rc = node_store_apply_pending(l->st, &applied, err);
    if (rc != 0) {
        sn_err_prefix(err, "the session's unit %" PRIu64 " refused", l->stats.units_in + 1);
        return rc;
    }
    l->stats.units_in++;
    l->stats.commits_in += us.commits;
    if (us.commits == 0 && us.deferred == 0)
        l->stats.duplicate_units++;
    if (us.commits > 0 || us.equivocations > 0)
        l->changed = true;
    if (us.equivocations > 0)
        sn_log_warn("sync %s %s: a unit it sent proves an origin equivocated; that origin "
                    "is frozen", l->label, l->peer_cert.name);
    uint8_t ack[SYNC_ACK_LEN];
    sync_ack_encode(++l->units_in_ok, ack);
    rc = link_send(l, SYNC_MSG_ACK, ack, sizeof ack, err);
    /* The peer will count this unit as held here once it reads the ACK: so do we, and the
     * next HELLO's delta leaves it out. (A lost ACK only costs a full HELLO.) */
    sync_unit u;
    if (rc == 0 && sync_unit_parse(p, n, &u, err) == 0) {
        rc = crdt_vv_raise(&l->peer.told, &u.cp.origin, u.cp.seq, err);
        sync_unit_free(&u);
    }
    return rc;
}

static int take_ack(node_link *l, const uint8_t *p, size_t n, sn_err *err)
{
    uint64_t units;
    int rc = sync_ack_parse(p, n, &units, err);
    if (rc != 0)
        return rc;
    if (units < l->units_acked || units > l->stats.units_out)
        return sn_err_set(err, SN_EPROTO, "peer acknowledged %" PRIu64 " units of %" PRIu64
                          " sent", units, l->stats.units_out);
    for (uint64_t k = l->units_acked; k < units && rc == 0; k++) {
        const crdt_dot *d = &l->inflight[k % l->o.window_max];
        rc = crdt_vv_raise(&l->peer.seen, &d->origin, d->seq, err);
    }
    if (rc != 0)
        return rc;
    l->units_acked = units;
    if (l->window < l->o.window_max)
        l->window++;
    /* Grow the unit again after success, a quarter at a time, up to the usual size. */
    l->unit_target += l->unit_target / 4;
    if (l->unit_target > NODE_UNIT_TARGET)
        l->unit_target = NODE_UNIT_TARGET;
    rc = link_exchange_pump(l, err);
    return rc == 0 ? check_done(l, err) : rc;
}

static int take_cert(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    node_link *l = ctx;
    sync_cert c;
    int rc = sync_cert_parse(p, n, &c, err);
    if (rc == 0)
        rc = node_trust_cert_add(l->st, &c, err);
    return rc;
}

static int take_crl(node_link *l, const uint8_t *p, size_t n, sn_err *err)
{
    sync_crl crl;
    bool taken = false;
    int rc = sync_crl_parse(p, n, &crl, err);
    if (rc == 0)
        rc = node_trust_crl_offer(l->st, &crl, &taken, err);
    if (rc == 0 && taken) {
        l->changed = true;
        sn_log_info("sync %s %s: revocation list %" PRIu64 " taken", l->label,
                    l->peer_cert.name, crl.number);
    }
    sync_crl_free(&crl);
    return rc;
}

/* Another copy of this node wrote a second history under our seqs, and no proof shows it
 * yet: the peer lacks our bodies and we lack its. Send it ours from seq 1 (again, if this
 * session sent some already): holding both, it can prove the fork to everyone. */
static int resend_own_if_forked(node_link *l, sn_err *err)
{
    bool forked = false;
    int rc = node_store_own_fork_unproven(l->st, &forked, err);
    if (rc != 0 || !forked || crdt_vv_get(&l->sent, node_store_origin(l->st)) == 0)
        return rc;
    sn_log_warn("sync %s %s: a second history of this node exists; sending it ours from the "
                "start, so the fork can be proven", l->label, l->peer_cert.name);
    l->caught_up_out = false;
    return crdt_vv_set(&l->sent, node_store_origin(l->st), 0, err);
}

static int take_heads(node_link *l, const uint8_t *p, size_t n, sn_err *err)
{
    if (n % SYNC_CHECKPOINT_LEN != 0)
        return sn_err_set(err, SN_EPROTO, "HEADS of %zu bytes", n);
    size_t count = n / SYNC_CHECKPOINT_LEN;
    node_body *b = sn_calloc(count == 0 ? 1 : count, sizeof *b);
    if (b == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory reading checkpoints");
    for (size_t i = 0; i < count; i++)
        b[i] = (node_body){.p = p + i * SYNC_CHECKPOINT_LEN, .n = SYNC_CHECKPOINT_LEN};
    size_t eq = 0;
    int rc = node_store_offer_checkpoints(l->st, b, count, &eq, err);
    sn_free(b);
    if (rc == 0 && eq > 0) {
        l->changed = true;
        sn_log_warn("sync %s %s: its checkpoints prove %zu origin(s) equivocated; frozen",
                    l->label, l->peer_cert.name, eq);
        if (l->hello_in) {
            rc = resend_own_if_forked(l, err);
            if (rc == 0)
                rc = link_exchange_pump(l, err);
        }
    }
    return rc;
}

static int take_proof(node_link *l, const uint8_t *p, size_t n, sn_err *err)
{
    node_body b = {.p = p, .n = n};
    size_t eq = 0;
    int rc = node_store_offer_proofs(l->st, &b, 1, &eq, err);
    if (rc != 0) {
        sn_err_prefix(err, "the peer's proof of equivocation refused");
        return rc;
    }
    if (eq > 0) {
        l->changed = true;
        sn_log_warn("sync %s %s: its proof shows an origin equivocated; frozen", l->label,
                    l->peer_cert.name);
    }
    return 0;
}

/* The peer's state for the vector it holds: compared with ours when we hold the same. */
static int take_state(node_link *l, const uint8_t *p, size_t n, sn_err *err)
{
    static const uint8_t none[16];
    uint8_t their_vector[16], their_digest[16], vector[16], digest[16];
    bool have = false;
    int rc = sync_state_parse(p, n, their_vector, their_digest, err);
    if (rc == 0 && memcmp(their_vector, none, sizeof none) != 0)
        rc = node_store_state_digest(l->st, true, vector, digest, &have, err);
    if (rc != 0)
        return rc;
    l->state_in = true;
    if (!have) /* nothing to compare: theirs or ours was not at hand */
        return check_done(l, err);
    l->peer.digest_ms = node_now_ms(l->st);
    if (memcmp(vector, their_vector, sizeof vector) != 0) {
        /* Not comparable: a divergence seen stays until a comparison clears it. */
        if (l->peer.digest_match != NODE_DIGEST_DIFFER)
            l->peer.digest_match = NODE_DIGEST_OTHER;
    } else if (memcmp(digest, their_digest, sizeof digest) == 0) {
        l->peer.digest_match = NODE_DIGEST_MATCH;
    } else {
        l->peer.digest_match = NODE_DIGEST_DIFFER;
        sn_log_error("sync %s %s: the same commits gave it a different state from ours "
                     "(state digests differ for the same vector)", l->label,
                     l->peer_cert.name);
    }
    return check_done(l, err);
}

static int take_bye(node_link *l, const uint8_t *p, size_t n, sn_err *err)
{
    uint8_t reason;
    char text[SYNC_BYE_TEXT_MAX + 1];
    int rc = sync_bye_parse(p, n, &reason, text, err);
    if (rc != 0)
        return rc;
    l->bye_in = true;
    if (reason == SYNC_BYE_REFUSED) {
        sn_err_set(err, SN_EAUTH, "peer ended the session: %s", text);
        return SN_EAUTH;
    }
    /* The peer has ended its side; ours ends with the connection. */
    l->state = NODE_LINK_DONE;
    return 0;
}

int link_exchange_message(node_link *l, uint8_t type, const uint8_t *body, size_t n, bool final,
                          sn_err *err)
{
    if (final != (type == SYNC_MSG_GOODBYE))
        return sn_err_set(err, SN_EPROTO, "%s message %s the stream's final tag",
                          sync_msg_type_name(type), final ? "carries" : "lacks");
    /* CAUGHT_UP may come before the HELLO we asked again for (NEED_FULL): it answers our
     * HELLO, not theirs. An ACK cannot: we send units only once we have their HELLO. */
    if (!l->hello_in && type == SYNC_MSG_ACK)
        return sn_err_set(err, SN_EPROTO, "%s before HELLO", sync_msg_type_name(type));
    switch (type) {
    case SYNC_MSG_HELLO: return take_hello(l, body, n, err);
    case SYNC_MSG_UNIT: return take_unit(l, body, n, err);
    case SYNC_MSG_ACK: return take_ack(l, body, n, err);
    case SYNC_MSG_CERTS: return sync_certs_each(body, n, take_cert, l, err);
    case SYNC_MSG_CRL: return take_crl(l, body, n, err);
    case SYNC_MSG_HEADS: return take_heads(l, body, n, err);
    case SYNC_MSG_PROOF: return take_proof(l, body, n, err);
    case SYNC_MSG_STATE: return take_state(l, body, n, err);
    case SYNC_MSG_PING: return n == 0 ? 0 : sn_err_set(err, SN_EPROTO, "PING with a body");
    case SYNC_MSG_NEED_FULL: return send_hello(l, true, err);
    case SYNC_MSG_CAUGHT_UP:
        l->caught_up_in = true;
        return check_done(l, err);
    case SYNC_MSG_GOODBYE: return take_bye(l, body, n, err);
    default:
        return sn_err_set(err, SN_EPROTO, "unknown message type 0x%02x", type);
    }
}

void link_exchange_finish(node_link *l)
{
    if (!l->peer_known)
        return;
    sn_err err = SN_ERR_INIT;
    if (!l->hello_out) { /* failed before the exchange: load what is known to record it */
        bool found;
        node_peer_free(&l->peer);
        if (node_peer_load(l->st, l->peer_cert.replica, &l->peer, &found, &err) != 0)
            return;
        memcpy(l->peer.name, l->peer_cert.name, sizeof l->peer.name);
        l->peer.last_seen_ms = node_now_ms(l->st);
        l->peer.skew_ms = l->stats.clock_error_ms;
        l->window = l->peer.window;
        l->unit_target = l->peer.unit_target;
    }
    /* A cut with units in flight: fewer and smaller units next time (DESIGN.md §5). */
    bool cut = l->state != NODE_LINK_DONE && l->stats.units_out > l->units_acked;
    if (cut && l->window > 1)
        l->window /= 2;
    if (cut && l->unit_target != 0)
        l->unit_target = l->unit_target / 2 < NODE_UNIT_FLOOR ? NODE_UNIT_FLOOR
                                                              : l->unit_target / 2;
    l->peer.window = l->window;
    l->peer.unit_target = l->unit_target;
    l->peer.bytes_in += l->stats.bytes_in;
    l->peer.bytes_out += l->stats.bytes_out;
    /* A link that drops after reaching "in sync" is a link going down, not a failure. */
    if (l->state == NODE_LINK_FAILED && !l->stats.caught_up) {
        memcpy(l->peer.last_error, l->error.msg, sizeof l->peer.last_error - 1);
        l->peer.last_error[sizeof l->peer.last_error - 1] = '\0';
        l->peer.last_error_ms = node_now_ms(l->st);
    }
    node_peer_session ps = {
        .at_ms = node_now_ms(l->st),
        .completed = l->stats.caught_up,
        .failed = l->state == NODE_LINK_FAILED && !l->stats.caught_up,
        .bytes_in = l->stats.bytes_in,
        .bytes_out = l->stats.bytes_out,
    };
    if (node_peer_save_session(l->st, &l->peer, &ps, &err) != 0)
        sn_log_warn("sync %s: could not record the session: %s", l->label, err.msg);
}
