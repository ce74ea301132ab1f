/* node/link.c - a sync connection's lifecycle: the Noise XX handshake with certificates in
 * its payloads (SECURITY.md §2.3), the framing after it, failures and timers. The
 * exchange itself is node/link_exchange.c.
 *
 * Wire, before the transport is up (each Noise message prefixed by its u16be length):
 *   initiator -> "SNX1" | len | e                      (len must be 32)
 *   responder -> len | e, es(s), payload(cert, time, crl number)
 *   initiator -> len | s, se(payload(cert, time, crl number)) | stream header | HELLO…
 *   responder -> stream header | HELLO…
 * A handshake that fails closes with no detail sent; the log line says why. */
#include "node/link_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/log.h"
#include "node/keyfile.h"
#include "node/store_int.h"
#include "node/trust.h"
#include "sync/crl.h"
#include "sync/wire.h"

#define HS_TIMEOUT_MS 60000u
#define IDLE_TIMEOUT_MS 90000u
#define PING_EVERY_MS 30000u

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int node_link_new(node_link **out, node_store *st, const node_link_opts *o, sn_err *err)
{
    *out = NULL;
    node_link *l = sn_calloc(1, sizeof *l);
    if (l == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory starting a sync link");
    l->st = st;
    l->o = *o;
    if (l->o.handshake_timeout_ms == 0)
        l->o.handshake_timeout_ms = HS_TIMEOUT_MS;
    if (l->o.idle_timeout_ms == 0)
        l->o.idle_timeout_ms = IDLE_TIMEOUT_MS;
    if (l->o.window_max == 0)
        l->o.window_max = 16;
    l->inflight = sn_calloc(l->o.window_max, sizeof *l->inflight);
    if (l->inflight == NULL) {
        sn_free(l);
        return sn_err_set(err, SN_ENOMEM, "out of memory starting a sync link");
    }
    if (l->o.output_high == 0)
        l->o.output_high = (size_t)512 << 10;
    snprintf(l->label, sizeof l->label, "%s", o->peer_label != NULL ? o->peer_label : "peer");
    l->o.peer_label = l->label;
    l->step = o->initiator ? HS_WAIT_MSG2 : HS_WAIT_MSG1;
    sn_buf_init(&l->hsin, LINK_HS_MSG_MAX + 6);
    sn_buf_init(&l->out, LINK_OUTPUT_LIMIT);
    sn_buf_init(&l->scratch, (size_t)SYNC_MESSAGE_MAX);
    l->started_ms = l->last_rx_ms = l->last_tx_ms = mono_ms();

    sync_keys keys;
    int rc = node_keyfile_load(st->dir, &keys, err);
    if (rc != 0) {
        sn_free(l->inflight);
        sn_free(l);
        return rc;
    }
    static const char prologue[] = SYNC_WIRE_PROLOGUE;
    sync_noise_init(&l->hs, o->initiator, (const uint8_t *)prologue, sizeof prologue - 1,
                    keys.noise_sk, keys.noise_pk);
    sync_keys_wipe(&keys);
    *out = l;
    return 0;
}

void node_link_free(node_link *l)
{
    if (l == NULL)
        return;
    link_exchange_finish(l);
    sync_noise_wipe(&l->hs);
    sync_tx_wipe(&l->tx);
    sync_rx_free(&l->rx);
    sn_buf_free(&l->hsin);
    sn_buf_free(&l->out);
    sn_buf_free(&l->scratch);
    node_peer_free(&l->peer);
    crdt_vv_free(&l->peer_vec);
    crdt_vv_free(&l->hello_listed);
    crdt_vv_free(&l->sent);
    sn_free(l->certs_sent);
    sn_free(l->inflight);
    sn_wipe(l, sizeof *l);
    sn_free(l);
}

int link_fail(node_link *l, int rc, sn_err *err)
{
    if (l->state == NODE_LINK_FAILED)
        return rc;
    const char *msg = err != NULL && err->msg[0] != '\0' ? err->msg : sn_err_name(rc);
    l->error.code = rc;
    snprintf(l->error.msg, sizeof l->error.msg, "%s", msg);
    if (err != NULL)
        snprintf(l->error.hint, sizeof l->error.hint, "%s", err->hint);
    sn_log_warn("sync %s%s%s: %s", l->label, l->peer_known ? " " : "",
                l->peer_known ? l->peer_cert.name : "", msg);
    /* Tell the peer why, when there is a channel to tell it on. */
    if (l->step == HS_DONE && !l->bye_out && !l->bye_in) {
        sn_err ignored = SN_ERR_INIT;
        if (link_send_final(l, SYNC_BYE_REFUSED, msg, &ignored) != 0)
            sn_log_debug("sync %s: could not queue GOODBYE: %s", l->label, ignored.msg);
    }
    l->state = NODE_LINK_FAILED;
    return rc;
}

int link_send(node_link *l, uint8_t type, const uint8_t *body, size_t n, sn_err *err)
{
    size_t before = l->out.len;
    int rc = sync_tx_message(&l->tx, type, body, n, 0, &l->out, err);
    if (rc == 0) {
        l->stats.bytes_out += l->out.len - before;
        l->last_tx_ms = mono_ms();
    }
    return rc;
}

int link_send_final(node_link *l, uint8_t reason, const char *text, sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, 1 + SYNC_BYE_TEXT_MAX);
    size_t before = l->out.len;
    int rc = sync_bye_encode(reason, text, &b, err);
    if (rc == 0)
        rc = sync_tx_final(&l->tx, SYNC_MSG_GOODBYE, b.data, b.len, &l->out, err);
    if (rc == 0) {
        l->bye_out = true;
        l->stats.bytes_out += l->out.len - before;
    }
    sn_buf_free(&b);
    return rc;
}

/* ---- handshake ---- */

static int hs_payload(node_link *l, sn_buf *out, sn_err *err)
{
    sync_cert own;
    sync_crl crl;
    int rc = node_trust_own(l->st, &own, err);
    if (rc == SN_ENOTFOUND)
        sn_err_hint(err, "enrol this node first: outpost enroll request, then enroll install");
    if (rc != 0)
        return rc;
    rc = node_trust_crl(l->st, &crl, err);
    if (rc != 0)
        return rc;
    sn_buf cert;
    sn_buf_init(&cert, SYNC_CERT_MAX);
    rc = sync_cert_encode(&own, &cert, err);
    if (rc == 0) {
        sync_hs_payload p = {.cert = cert.data, .cert_len = cert.len,
                             .time_ms = node_now_ms(l->st), .crl_number = crl.number,
                             .offset_ms = node_store_clock_offset(l->st)};
        rc = sync_hs_payload_encode(&p, out, err);
    }
    sn_buf_free(&cert);
    sync_crl_free(&crl);
    return rc;
}

static int queue_hs_message(node_link *l, bool with_magic, const uint8_t *payload, size_t n,
                            sn_err *err)
{
    uint8_t msg[LINK_HS_MSG_MAX];
    size_t len = 0;
    int rc = sync_noise_write(&l->hs, payload, n, msg, sizeof msg, &len, err);
    size_t before = l->out.len;
    if (rc == 0 && with_magic)
        rc = sn_buf_append(&l->out, SYNC_WIRE_MAGIC, SYNC_WIRE_MAGIC_LEN, err);
    if (rc == 0)
        rc = sn_buf_put_u16be(&l->out, (uint16_t)len, err);
    if (rc == 0)
        rc = sn_buf_append(&l->out, msg, len, err);
    if (rc == 0)
        l->stats.bytes_out += l->out.len - before;
    return rc;
}

int node_link_start(node_link *l, sn_err *err)
{
    if (!l->o.initiator)
        return sn_err_set(err, SN_EINVAL, "only the dialling side starts a link");
    int rc = queue_hs_message(l, true, NULL, 0, err);
    return rc != 0 ? link_fail(l, rc, err) : 0;
}

static bool crl_revokes(const sync_crl *crl, const sync_cert *c)
{
    for (size_t i = 0; i < crl->n; i++)
        if (crl->entries[i].serial == c->serial &&
            memcmp(crl->entries[i].replica, c->replica, 16) == 0)
            return true;
    return false;
}

/* The peer's payload: its certificate must chain to our CA, name the Noise key it used,
 * be valid now, not be revoked, and not be ours. Then it is kept (its units verify
 * under it) and its clock compared with ours. */
static int take_peer(node_link *l, const uint8_t *p, size_t n, sn_err *err)
{
    sync_hs_payload pl;
    int rc = sync_hs_payload_parse(p, n, &pl, err);
    if (rc == 0)
        rc = sync_cert_parse(pl.cert, pl.cert_len, &l->peer_cert, err);
    if (rc != 0)
        return rc == SN_EVERSION ? rc : SN_EPROTO;
    const sync_cert *c = &l->peer_cert;
    sync_cert ca, own;
    rc = node_trust_ca(l->st, &ca, err);
    if (rc == 0)
        rc = node_trust_own(l->st, &own, err);
    if (rc != 0)
        return rc;
    uint64_t now_ms = node_now_ms(l->st);
    uint8_t kid[SYNC_KID_LEN];
    sync_kid(kid, ca.sign_pk);
    if (memcmp(kid, c->issuer_kid, SYNC_KID_LEN) != 0)
        return sn_err_set(err, SN_EAUTH, "peer certificate '%s' is not from this deployment's "
                          "CA (issued by another key)", c->name);
    rc = node_trust_cert_verify(l->st, c, ca.sign_pk, now_ms / 1000u, err);
    if (rc != 0) {
        sn_err_prefix(err, "peer certificate '%s' refused", c->name);
        return SN_EAUTH;
    }
    if (c->type != SYNC_CERT_HUB && c->type != SYNC_CERT_NODE)
        return sn_err_set(err, SN_EAUTH, "peer certificate '%s' is a %s certificate, not a "
                          "node's or a hub's", c->name, sync_cert_type_name(c->type));
    const uint8_t *rs = sync_noise_remote_static(&l->hs);
    if (rs == NULL || memcmp(rs, c->noise_pk, 32) != 0)
        return sn_err_set(err, SN_EAUTH, "peer presented certificate '%s' for another key than "
                          "the one it holds (misbinding)", c->name);
    if (memcmp(c->replica, own.replica, 16) == 0)
        return sn_err_set(err, SN_EAUTH, "peer presented this node's own identity");
    sync_crl crl;
    rc = node_trust_crl(l->st, &crl, err);
    if (rc != 0)
        return rc;
    bool revoked = crl_revokes(&crl, c);
    sync_crl_free(&crl);
    if (revoked)
        return sn_err_set(err, SN_EAUTH, "peer certificate '%s' (serial %" PRIu64 ") is revoked",
                          c->name, c->serial);
    rc = node_trust_cert_add(l->st, c, err);
    if (rc != 0)
        return rc;
    l->peer_known = true;
    l->peer_crl_number = pl.crl_number;
    /* Clocks: only a hub's time corrects ours; every peer's skew is recorded. */
    int64_t offset = node_store_clock_offset(l->st);
    uint64_t raw = now_ms - (uint64_t)offset;
    l->stats.skew_ms = (int64_t)(pl.time_ms - now_ms);
    l->stats.clock_error_ms = (int64_t)(pl.time_ms - (uint64_t)pl.offset_ms - raw);
    uint64_t max_skew = l->st->clock.max_skew_ms;
    l->stats.skew_flagged = pl.time_ms > now_ms + max_skew || now_ms > pl.time_ms + max_skew;
    if (c->type == SYNC_CERT_HUB && own.type != SYNC_CERT_HUB) {
        int64_t fresh = (int64_t)(pl.time_ms - raw);
        if (fresh - offset > 500 || offset - fresh > 500) {
            if (fresh > 120000 || fresh < -120000)
                sn_log_warn("sync %s %s: this machine's clock is %+.1f s off the hub's; "
                            "timestamps use the hub's time", l->label, c->name,
                            (double)-fresh / 1000.0);
            rc = node_store_clock_offset_set(l->st, fresh, err);
        }
    } else if (l->stats.skew_flagged) {
        sn_log_warn("sync %s %s: its clock is %+.1f s from ours", l->label, c->name,
                    (double)l->stats.skew_ms / 1000.0);
    }
    return rc;
}

/* The transport keys: each side pushes on its own and pulls on the other's. */
static int transport_up(node_link *l, sn_err *err)
{
    uint8_t k_i2r[32], k_r2i[32], h[32];
    int rc = sync_noise_split(&l->hs, k_i2r, k_r2i, h, err);
    uint8_t header[SYNC_STREAM_HEADER_LEN];
    if (rc == 0)
        rc = sync_tx_init(&l->tx, l->o.initiator ? k_i2r : k_r2i, header, err);
    if (rc == 0) {
        sync_rx_init(&l->rx, l->o.initiator ? k_r2i : k_i2r);
        rc = sn_buf_append(&l->out, header, sizeof header, err);
        l->stats.bytes_out += sizeof header;
    }
    sn_wipe(k_i2r, sizeof k_i2r);
    sn_wipe(k_r2i, sizeof k_r2i);
    char sid[17];
    sn_hex(sid, h, 8);
    if (rc == 0) {
        l->step = HS_DONE;
        l->state = NODE_LINK_OPEN;
        sn_log_info("sync %s %s: session %s up", l->label, l->peer_cert.name, sid);
        rc = link_exchange_start(l, err);
    }
    return rc;
}

static int hs_read(node_link *l, const uint8_t *msg, size_t n, sn_err *err)
{
    uint8_t payload[LINK_HS_MSG_MAX];
    size_t plen = 0;
    int rc = sync_noise_read(&l->hs, msg, n, payload, sizeof payload, &plen, err);
    if (rc != 0)
        return rc;
    sn_buf pl;
    sn_buf_init(&pl, LINK_HS_MSG_MAX);
    switch (l->step) {
    case HS_WAIT_MSG1:
        if (plen != 0) {
            rc = sn_err_set(err, SN_EPROTO, "handshake message 1 carries a payload");
            break;
        }
        rc = hs_payload(l, &pl, err);
        if (rc == 0)
            rc = queue_hs_message(l, false, pl.data, pl.len, err);
        l->step = HS_WAIT_MSG3;
        break;
    case HS_WAIT_MSG2:
        rc = take_peer(l, payload, plen, err);
        if (rc == 0)
            rc = hs_payload(l, &pl, err);
        if (rc == 0)
            rc = queue_hs_message(l, false, pl.data, pl.len, err);
        if (rc == 0)
            rc = transport_up(l, err);
        break;
    case HS_WAIT_MSG3:
        rc = take_peer(l, payload, plen, err);
        if (rc == 0)
            rc = transport_up(l, err);
        break;
    case HS_DONE: break;
    }
    sn_buf_free(&pl);
    sn_wipe(payload, sizeof payload);
    return rc;
}

/* Gather one length-prefixed handshake message (with the magic before message 1). */
static int hs_input(node_link *l, const uint8_t *p, size_t n, size_t *used, sn_err *err)
{
    size_t prefix = l->step == HS_WAIT_MSG1 ? SYNC_WIRE_MAGIC_LEN + 2 : 2;
    *used = 0;
    while (*used < n && l->step != HS_DONE) {
        size_t need = prefix;
        if (l->hsin.len >= prefix)
            need += sn_load_u16be(l->hsin.data + prefix - 2);
        size_t take = need - l->hsin.len;
        if (take > n - *used)
            take = n - *used;
        int rc = sn_buf_append(&l->hsin, p + *used, take, err);
        if (rc != 0)
            return rc;
        *used += take;
        if (l->step == HS_WAIT_MSG1 && l->hsin.len >= SYNC_WIRE_MAGIC_LEN &&
            l->hsin.len <= prefix &&
            memcmp(l->hsin.data, SYNC_WIRE_MAGIC, SYNC_WIRE_MAGIC_LEN) != 0)
            return sn_err_set(err, SN_EPROTO, "not an Outpost sync peer, or another "
                              "protocol version (bad magic)");
        if (l->hsin.len == prefix) {
            size_t len = sn_load_u16be(l->hsin.data + prefix - 2);
            if ((l->step == HS_WAIT_MSG1 && len != 32) || len > LINK_HS_MSG_MAX || len == 0)
                return sn_err_set(err, SN_EPROTO, "handshake message of %zu bytes refused", len);
            continue;
        }
        if (l->hsin.len == need) {
            int rc2 = hs_read(l, l->hsin.data + prefix, need - prefix, err);
            sn_buf_reset(&l->hsin);
            if (rc2 != 0)
                return rc2;
            prefix = 2;
        }
    }
    return 0;
}

int node_link_input(node_link *l, const uint8_t *p, size_t n, sn_err *err)
{
    if (l->state >= NODE_LINK_DONE)
        return l->state == NODE_LINK_FAILED ? l->error.code : 0;
    l->stats.bytes_in += n;
    l->last_rx_ms = mono_ms();
    size_t pos = 0;
    if (l->step != HS_DONE) {
        size_t used = 0;
        int rc = hs_input(l, p, n, &used, err);
        if (rc != 0) {
            sn_err_prefix(err, "handshake failed");
            return link_fail(l, rc, err);
        }
        pos = used;
    }
    while (pos < n && l->state == NODE_LINK_OPEN) {
        size_t used = 0;
        sync_msg m;
        int r = sync_rx_feed(&l->rx, p + pos, n - pos, &used, &m, err);
        pos += used;
        if (r < 0)
            return link_fail(l, r, err);
        if (r == 0)
            break;
        int rc = link_exchange_message(l, m.type, m.body, m.len, m.final, err);
        if (rc != 0)
            return link_fail(l, rc, err);
    }
    return 0;
}

int node_link_eof(node_link *l, sn_err *err)
{
    if (l->state >= NODE_LINK_DONE)
        return 0;
    if (l->step != HS_DONE)
        sn_err_set(err, SN_EPROTO, "peer closed the connection during the handshake");
    else
        sn_err_set(err, SN_EPROTO, "link cut: the peer's stream ended without GOODBYE");
    return link_fail(l, SN_EPROTO, err);
}

int node_link_pump(node_link *l, sn_err *err)
{
    if (l->state != NODE_LINK_OPEN)
        return 0;
    int rc = link_exchange_pump(l, err);
    return rc != 0 ? link_fail(l, rc, err) : 0;
}

int node_link_tick(node_link *l, uint64_t now_ms, sn_err *err)
{
    (void)now_ms; /* the link keeps its own monotonic time */
    uint64_t now = mono_ms();
    if (l->state == NODE_LINK_HANDSHAKE && now - l->started_ms > l->o.handshake_timeout_ms) {
        sn_err_set(err, SN_EPROTO, "handshake timed out after %" PRIu64 " ms",
                   l->o.handshake_timeout_ms);
        return link_fail(l, SN_EPROTO, err);
    }
    if (l->state != NODE_LINK_OPEN)
        return 0;
    if (now - l->last_rx_ms > l->o.idle_timeout_ms) {
        sn_err_set(err, SN_EPROTO, "peer silent for %" PRIu64 " ms", now - l->last_rx_ms);
        return link_fail(l, SN_EPROTO, err);
    }
    uint64_t ping_every = l->o.idle_timeout_ms / 3 < PING_EVERY_MS ? l->o.idle_timeout_ms / 3
                                                                    : PING_EVERY_MS;
    if (now - l->last_tx_ms > ping_every && !l->bye_out) {
        int rc = link_send(l, SYNC_MSG_PING, NULL, 0, err);
        if (rc != 0)
            return link_fail(l, rc, err);
    }
    return 0;
}

const uint8_t *node_link_output(const node_link *l, size_t *n)
{
    *n = l->out.len;
    return l->out.data;
}

void node_link_output_consumed(node_link *l, size_t n)
{
    if (n >= l->out.len) {
        l->out.len = 0;
        return;
    }
    memmove(l->out.data, l->out.data + n, l->out.len - n);
    l->out.len -= n;
}

node_link_state node_link_state_get(const node_link *l) { return l->state; }

bool node_link_take_changed(node_link *l)
{
    bool c = l->changed;
    l->changed = false;
    return c;
}

const node_link_stats *node_link_stats_get(const node_link *l) { return &l->stats; }
const sn_err *node_link_error(const node_link *l) { return &l->error; }
const char *node_link_peer_name(const node_link *l)
{
    return l->peer_known ? l->peer_cert.name : "";
}

bool node_link_peer_replica(const node_link *l, uint8_t out[16])
{
    if (l->peer_known)
        memcpy(out, l->peer_cert.replica, 16);
    return l->peer_known;
}
