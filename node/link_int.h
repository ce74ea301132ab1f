/* node/link_int.h - the state of a link, shared by node/link.c (handshake, framing,
 * lifecycle) and node/link_exchange.c (the exchange after the handshake). */
#ifndef SN_NODE_LINK_INT_H
#define SN_NODE_LINK_INT_H

#include "base/buf.h"
#include "crdt/vv.h"
#include "node/link.h"
#include "node/peers.h"
#include "sync/cert.h"
#include "sync/frame.h"
#include "sync/noise.h"

/* The largest handshake message accepted (certificates with every scope fit). */
#define LINK_HS_MSG_MAX 4096u
/* Output kept at most: a window of units plus control messages. */
#define LINK_OUTPUT_LIMIT ((size_t)48 << 20)

typedef enum link_hs_step {
    HS_WAIT_MSG1 = 0, /* responder */
    HS_WAIT_MSG2,     /* initiator */
    HS_WAIT_MSG3,     /* responder */
    HS_DONE,
} link_hs_step;

/* A certificate sent in this session: (replica, serial). */
typedef struct link_cert_key {
    uint8_t replica[16];
    uint64_t serial;
} link_cert_key;

struct node_link {
    node_store *st;
    node_link_opts o;
    char label[96];
    node_link_state state;
    sn_err error;

    /* handshake */
    link_hs_step step;
    sync_noise hs;
    sn_buf hsin; /* bytes of the handshake message being received */
    uint64_t started_ms, last_rx_ms, last_tx_ms;
    sync_cert peer_cert;
    bool peer_known;
    uint64_t peer_crl_number;

    /* transport */
    sync_tx tx;
    sync_rx rx;
    sn_buf out;
    bool changed;
    node_link_stats stats;

    /* exchange */
    node_peer peer;
    crdt_vv peer_vec; /* what the peer holds, per its HELLO */
    crdt_vv hello_listed; /* origins the peer's last HELLO named (heads are sent for them) */
    crdt_vv sent;     /* peer_vec raised by every unit sent */
    bool hello_in, hello_out, heads_sent, caught_up_out, caught_up_in, bye_out, bye_in;
    bool full_hello;    /* a full HELLO went either way this session */
    bool state_in;      /* the peer's STATE came */
    bool export_more; /* the last export paused: more to cut */
    uint64_t units_acked, units_in_ok;
    uint32_t window;
    uint32_t unit_target; /* body bytes per unit: halved after a cut, grows on acks */
    crdt_dot *inflight; /* (origin, last seq) of units sent, not yet acknowledged: a ring of
                         * window_max */
    link_cert_key *certs_sent;
    size_t ncerts_sent, certs_cap;
    sn_buf scratch;
};

/* Fail the link: keep the error, log one line naming the peer, and (when the transport is
 * up) queue a GOODBYE saying why. Returns `rc`. */
int link_fail(node_link *l, int rc, sn_err *err);
/* Queue one logical message. */
SN_NODISCARD int link_send(node_link *l, uint8_t type, const uint8_t *body, size_t n,
                           sn_err *err);
/* Queue the last message (GOODBYE, final tag). */
SN_NODISCARD int link_send_final(node_link *l, uint8_t reason, const char *text, sn_err *err);

/* link_exchange.c: the transport is up; send HELLO. */
SN_NODISCARD int link_exchange_start(node_link *l, sn_err *err);
/* One whole message from the peer. */
SN_NODISCARD int link_exchange_message(node_link *l, uint8_t type, const uint8_t *body,
                                       size_t n, bool final, sn_err *err);
/* Cut units while the window and output allow. */
SN_NODISCARD int link_exchange_pump(node_link *l, sn_err *err);
/* Save what was learned of the peer (window halved after a cut). */
void link_exchange_finish(node_link *l);

#endif
