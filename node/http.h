/* node/http.h - the hub operator's HTTP endpoints (DESIGN.md §7), served by `outpost serve`:
 *
 *   /             the status page (node_status_html), refreshing itself every 10 s
 *   /status.json  the report as JSON (node_status_json), as `outpost status --json` gives it
 *   /metrics      the report in the Prometheus text format (node_status_metrics)
 *
 * libmicrohttpd answers on a thread of its own and never touches the store: the loop
 * thread builds a snapshot (the report and its three renderings) and swaps it in under a
 * mutex; a request takes a reference to the snapshot current at that moment and sends it
 * without copying; the loop thread frees a replaced snapshot once no response uses it. So
 * a slow or hostile client never holds up the sync loop. While requests come, the loop
 * rebuilds every refresh_ms; when nobody has asked for a minute, it builds nothing. A
 * request that finds the snapshot more than a second past due, or made before a change
 * the daemon reported (node_http_changed), waits (its connection suspended, the others
 * served) for the next refresh. Builds never take more than 2% of the loop's time: they
 * are spaced at least 50 times their duration.
 *
 * Only GET and HEAD (405 otherwise, with Allow), the three paths (404 otherwise); a request
 * line or headers larger than the connection's memory are refused by libmicrohttpd (414 or
 * 431); connections are capped, and one idle for timeout_s is closed. */
#ifndef SN_NODE_HTTP_H
#define SN_NODE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "node/status.h"
#include "node/store.h"

#define NODE_HTTP_PAGE_REFRESH_S 10 /* the page's <meta http-equiv="refresh"> */

typedef struct node_http node_http;

typedef struct node_http_opts {
    const char *addr;           /* numeric "IP:PORT" or "[IPv6]:PORT"; port 0: any free one */
    const char *port_file;      /* written with the bound port once serving; NULL = none */
    node_status_limits limits;  /* the alert thresholds the reports are built with */
    unsigned max_connections;   /* at once; 0 = 32 */
    unsigned timeout_s;         /* a connection idle this long is closed; 0 = 10 s */
    size_t conn_memory;         /* per connection: request line, headers, buffers; 0 = 16 KiB */
    uint64_t refresh_ms;        /* rebuild interval while requests come; 0 = 2 s */
    size_t body_max;            /* limit of each rendering; 0 = 64 MiB */
} node_http_opts;

/* Figures of the snapshots, for logs, tests and benchmarks. Loop thread. */
typedef struct node_http_stats {
    uint64_t builds;        /* snapshots built */
    uint64_t failures;      /* builds that failed (the previous snapshot stayed) */
    uint64_t last_build_us; /* time of the last build, report and renderings */
    uint64_t max_build_us;
    uint64_t requests;      /* status documents asked for (404s and 405s not counted) */
} node_http_stats;

/* Bind o->addr, start answering, build the first snapshot from `st`, then write the port
 * file. SN_ECONFIG for a bad address, SN_EIO when it cannot be bound (its message names
 * the address and the reason), or a failure of the first build. Loop thread; `st` is
 * borrowed for the call. */
SN_NODISCARD int node_http_open(node_http **out, node_store *st, const node_http_opts *o,
                                sn_err *err);

/* Stop answering (open connections are closed), free everything. NULL is a no-op. */
void node_http_close(node_http *h);

/* The port bound (useful with port 0). */
uint16_t node_http_port(const node_http *h);

/* Build a new snapshot from `st` when one is due (a request waits for it, or refresh_ms
 * has passed while requests come), else do nothing; also free replaced snapshots no
 * response uses any more. Call it often: requests may be waiting (the daemon calls it every
 * 100 ms). *built (may be NULL) says whether a snapshot was built. On failure the previous
 * snapshot stays served, waiting requests get it, and the error is returned. Loop thread. */
SN_NODISCARD int node_http_refresh(node_http *h, node_store *st, bool *built, sn_err *err);

/* The store has changed (a session moved commits or ended, a local commit): requests
 * from now on wait for a snapshot built after it, as soon as the spacing of builds allows.
 * Cheap (one atomic store); NULL is a no-op. Loop thread. */
void node_http_changed(node_http *h);

void node_http_stats_get(const node_http *h, node_http_stats *out);

#endif
