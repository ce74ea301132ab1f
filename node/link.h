/* node/link.h - one sync connection's protocol engine, with no I/O of its own (DESIGN.md
 * §5, SECURITY.md §2): the Noise XX handshake with certificates in its payloads and the
 * key-binding, chain, validity and revocation checks; one secretstream per direction;
 * then the exchange — HELLO with the vector last told plus what changed, units the peer
 * lacks with a window of them in flight, acknowledged one by one once durably stored,
 * certificates and the revocation list as needed, and live push of new commits.
 *
 * The caller moves bytes: it feeds what the socket delivered to node_link_input, writes
 * out what node_link_output holds, and calls node_link_pump when the store may have
 * changed (new local commits; another link imported something) and node_link_tick on a
 * timer. The daemon (node/daemon.h) drives links over libuv; tests wire two links to each
 * other in memory and may tamper with the bytes between them.
 *
 * A link that fails says why (node_link_error) and has logged one line naming the peer
 * and the reason; nothing from a message that failed was applied. Loop thread only. */
#ifndef SN_NODE_LINK_H
#define SN_NODE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "node/store.h"

typedef struct node_link node_link;

typedef struct node_link_opts {
    bool initiator;
    /* End the session (GOODBYE) once both sides have sent everything the other lacked and
     * every unit is acknowledged: `outpost sync --once`. Otherwise the link stays up and
     * pushes new commits as they come. */
    bool once;
    const char *peer_label;        /* for logs, e.g. "10.0.0.2:7420"; copied */
    uint64_t handshake_timeout_ms; /* 0 = 60 s */
    uint64_t idle_timeout_ms;      /* nothing heard for this long fails the link; 0 = 90 s */
    uint32_t window_max;           /* units in flight at most; 0 = 16 */
    size_t output_high;            /* stop cutting units while this much waits; 0 = 512 KiB */
} node_link_opts;

typedef enum node_link_state {
    NODE_LINK_HANDSHAKE = 0,
    NODE_LINK_OPEN = 1,
    NODE_LINK_DONE = 2,   /* ended cleanly: flush the output, then close */
    NODE_LINK_FAILED = 3, /* flush the output (a GOODBYE may say why), then close */
} node_link_state;

typedef struct node_link_stats {
    uint64_t bytes_in, bytes_out;
    uint64_t units_in, units_out, commits_in, commits_out;
    uint64_t duplicate_units; /* received but holding nothing new */
    uint64_t hellos_full;     /* HELLOs sent with the whole vector */
    int64_t skew_ms;          /* peer clock minus ours at the handshake */
    int64_t clock_error_ms;   /* the same for the machines' clocks, before either applies
                               * the correction it learned from a hub */
    bool skew_flagged;        /* beyond the store's max skew */
    bool caught_up;           /* both sides sent all the other lacked, all acknowledged */
} node_link_stats;

SN_NODISCARD int node_link_new(node_link **out, node_store *st, const node_link_opts *o,
                               sn_err *err);
/* Record the outcome for the peer (a cut halves its unit window) and free. NULL-safe. */
void node_link_free(node_link *l);

/* Initiator: queue the first handshake message. */
SN_NODISCARD int node_link_start(node_link *l, sn_err *err);
/* Bytes from the peer. On failure the link is FAILED and `err` (also kept, see
 * node_link_error) says why; the output may still hold a GOODBYE worth flushing. */
SN_NODISCARD int node_link_input(node_link *l, const uint8_t *p, size_t n, sn_err *err);
/* The peer closed its side. A stream not ended by GOODBYE is a cut (SN_EPROTO). */
SN_NODISCARD int node_link_eof(node_link *l, sn_err *err);
/* Cut more units if the window and output allow, and pick up new local commits. */
SN_NODISCARD int node_link_pump(node_link *l, sn_err *err);
/* Timers: handshake and idle timeouts, keep-alive pings. */
SN_NODISCARD int node_link_tick(node_link *l, uint64_t now_ms, sn_err *err);

/* Output waiting to be written: borrow it, then say how much was taken. */
const uint8_t *node_link_output(const node_link *l, size_t *n);
void node_link_output_consumed(node_link *l, size_t n);

node_link_state node_link_state_get(const node_link *l);
/* True after an input stored something new (other links may have things to push). */
bool node_link_take_changed(node_link *l);
const node_link_stats *node_link_stats_get(const node_link *l);
/* The failure (code 0 while none). */
const sn_err *node_link_error(const node_link *l);
/* The peer's certificate name and replica id once the handshake verified it ("" before). */
const char *node_link_peer_name(const node_link *l);
bool node_link_peer_replica(const node_link *l, uint8_t out[16]);

#endif
