/* node/daemon.h - `outpost serve` and `outpost sync --once`: the libuv loop that carries
 * sync links (node/link.h) over TCP. It listens for enrolled peers, keeps a session with
 * every configured hub address (dialling again with exponential backoff and jitter after
 * a failure or a cut), relays what one link brings to every other link at once, and
 * pushes new local commits (noticed by polling the store's data version) within a
 * second. Memory stays bounded: a link cuts units only while its socket's write queue is
 * short, and reads are processed as they arrive, one message at a time.
 *
 * The store is the caller's and stays open for the whole run; loop thread only. */
#ifndef SN_NODE_DAEMON_H
#define SN_NODE_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "node/http.h"
#include "node/link.h"
#include "node/store.h"

#define NODE_DAEMON_DIAL_MAX 8

typedef struct node_daemon_opts {
    const char *listen;    /* "HOST:PORT" ("[v6]:PORT"); NULL or "" = accept nothing */
    const char *dial[NODE_DAEMON_DIAL_MAX]; /* peers to keep a session with (hubs) */
    size_t ndial;
    /* One session with dial[0], then return: 0 when it ended in sync. A peer that cannot
     * be reached, or a cut, is SN_EBUSY (try again later); a refusal SN_EAUTH; a broken
     * protocol SN_EPROTO. */
    bool once;
    const char *port_file;  /* written with the bound port once listening; NULL = none */
    uint64_t retry_min_ms;  /* first redial delay; 0 = 1 s */
    uint64_t retry_max_ms;  /* cap of the doubling delay; 0 = 5 min */
    uint64_t poll_ms;       /* how often the store is checked for new commits; 0 = 250 ms */
    size_t max_handshakes;  /* connections still in their handshake at once; 0 = 64 */
    uint64_t connect_timeout_ms; /* 0 = 30 s */
    node_link_opts link;    /* timeouts and window of every link (initiator/once/label set
                             * per link) */
    /* The status endpoints (node/http.h), refreshed from this loop; NULL = none. Not with
     * `once`. */
    const node_http_opts *http;
} node_daemon_opts;

typedef struct node_daemon_report {
    uint64_t sessions_ok, sessions_failed, connect_failures;
    node_link_stats last; /* the figures of the last link that ended */
} node_daemon_report;

/* Run until SIGINT or SIGTERM (or, with `once`, the session's end). `report` may be NULL.
 * SN_ECONFIG for a bad address, SN_EIO when the listening socket (or the status endpoints'
 * address) cannot be bound. */
SN_NODISCARD int node_daemon_run(node_store *st, const node_daemon_opts *o,
                                 node_daemon_report *report, sn_err *err);

#endif
