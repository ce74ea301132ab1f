/* node/status.h - the operator's view of sync (DESIGN.md §7): per node this store knows
 * (every certificate held but its own), what the last sessions, the peer table, the log
 * and the conflict index say about it, reduced to one state, most urgent first; and this
 * node's own view (last sync, commits pending each way, conflicts waiting for review).
 *
 * Built from the store alone (node_status_build), so `outpost status`, /status.json,
 * /metrics and the HTML page (node/status_*.c) all say the same thing. The renderers take
 * a built report and never touch the store. */
#ifndef SN_NODE_STATUS_H
#define SN_NODE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "node/store.h"

/* States, most urgent first: a node's state is the most urgent of its alerts, or
 * NODE_STATE_IN_SYNC when it has none. The names (node_state_name) are what the JSON, the
 * metrics labels and the page say. */
typedef enum node_state {
    NODE_STATE_EQUIVOCATING, /* it signed two histories: its origin is frozen */
    NODE_STATE_DIVERGED,     /* its state digest differed from ours for the same vector */
    NODE_STATE_STUCK,        /* its commits wait on a missing predecessor past the limit */
    NODE_STATE_FAILING,      /* its last session failed (cut mid-sync, refused, error) */
    NODE_STATE_SKEWED,       /* its clock was off by more than the limit at the handshake */
    NODE_STATE_SILENT,       /* not heard from for longer than its expected interval */
    NODE_STATE_BEHIND,       /* it lacks more than the limit of commits we hold */
    NODE_STATE_EXPIRED,      /* its certificate has expired: it cannot start a session */
    NODE_STATE_REVOKED,      /* its certificate is revoked */
    NODE_STATE_NEVER,        /* enrolled, never had a session with us */
    NODE_STATE_EXPIRING,     /* its certificate expires within the limit */
    NODE_STATE_IN_SYNC,      /* none of the above */
    NODE_STATE_COUNT
} node_state;

const char *node_state_name(node_state s); /* "equivocating", ..., "in-sync" */
/* A one-line explanation for people ("not heard from for longer than expected"). */
const char *node_state_meaning(node_state s);

/* Alert thresholds ([status] in the configuration). */
typedef struct node_status_limits {
    uint64_t silent_ms;   /* not heard from for longer: silent (default 1 d) */
    uint64_t behind;      /* lacking more commits than this: behind (default 100) */
    uint64_t skew_ms;     /* clock off by more: skewed (default 2 min) */
    uint64_t stuck_ms;    /* commits waiting on a gap for longer: stuck (default 1 h) */
    uint64_t expiring_ms; /* certificate expiring within: expiring (default 30 d) */
    /* Per-node expected intervals overriding silent_ms, by certificate name. */
    struct node_status_expect {
        char name[65];
        uint64_t silent_ms;
    } expect[32];
    size_t nexpect;
} node_status_limits;

void node_status_limits_default(node_status_limits *l);

/* Whether a node's last reported state digest matched ours (SYNC_MSG_STATE). */
typedef enum node_digest_match {
    NODE_DIGEST_UNKNOWN = 0, /* never reported */
    NODE_DIGEST_MATCH = 1,   /* same vector, same digest */
    NODE_DIGEST_DIFFER = 2,  /* same vector, different digest: divergence */
    NODE_DIGEST_OTHER = 3,   /* reported for a vector other than ours then: not comparable */
} node_digest_match;

const char *node_digest_match_name(node_digest_match m); /* unknown|match|differ|other-vector */

#define NODE_STATUS_DAYS 14 /* days of sync history kept and shown */

/* One day of sessions with a node (UTC days). */
typedef struct node_status_day {
    uint64_t day; /* days since 1970-01-01 */
    uint64_t sessions, completed, failed, bytes_in, bytes_out;
} node_status_day;

/* What this store knows of one other node. Times are unix ms; 0 = never / unknown. */
typedef struct node_status_node {
    uint8_t replica[16];
    char name[65];
    bool hub;                 /* its certificate is a hub's */
    uint64_t serial;          /* of its newest certificate held */
    uint64_t not_before_ms, not_after_ms;
    bool revoked;
    uint64_t last_seen_ms;    /* last handshake */
    uint64_t last_sync_ms;    /* last session that reached "in sync" */
    bool vector_known;        /* it told us its held vector at least once */
    uint64_t behind;          /* commits we hold that it lacked at its last HELLO */
    uint64_t ahead;           /* commits it held at its last HELLO that we lack */
    uint64_t freshest_ms;     /* physical time of the newest commit we hold from it */
    uint64_t bytes_in, bytes_out, sessions, completed;
    char last_error[256];
    uint64_t last_error_ms;
    int64_t skew_ms;          /* its clock minus ours at the last handshake */
    uint64_t conflicts;       /* open conflicts with a sibling written by it */
    uint64_t waiting;         /* its commits held, waiting for a predecessor */
    uint64_t waiting_since_ms;/* when the oldest of them arrived */
    uint64_t quarantined;     /* its commits held but not applied */
    bool frozen;              /* equivocation proven: its origin is frozen */
    node_digest_match digest;
    uint64_t digest_ms;       /* when it last reported a digest */
    uint32_t alerts;          /* bit (1u << node_state) for every alert that holds */
    node_state state;         /* the most urgent */
    node_status_day days[NODE_STATUS_DAYS]; /* oldest first, ending today; empty days 0 */
} node_status_node;

/* The whole report. */
typedef struct node_status_report {
    uint64_t now_ms;
    char name[65];            /* this node */
    uint8_t replica[16];
    bool hub;                 /* this node's certificate is a hub's */
    bool enrolled;
    node_counts counts;       /* this store's counts (conflicts waiting for review...) */
    uint64_t held;            /* commits held, all origins */
    uint64_t last_sync_ms;    /* latest completed session with any peer */
    uint64_t pending_out;     /* commits we hold that some hub lacked at its last HELLO */
    uint64_t pending_in;      /* commits a hub held at its last HELLO that we lack */
    bool self_frozen;         /* another copy of this node signed a second history (a
                               * restored disk image, a cloned machine): its own origin is
                               * frozen from the fork on */
    node_status_limits limits;
    size_t nnodes;
    node_status_node *nodes;  /* most urgent first, then by name */
    size_t by_state[NODE_STATE_COUNT];
} node_status_report;

/* Build the report from the store at time now_ms (node_now_ms when 0), in one read
 * transaction. Free with node_status_free. */
SN_NODISCARD int node_status_build(node_store *st, const node_status_limits *limits,
                                   uint64_t now_ms, node_status_report *out, sn_err *err);
void node_status_free(node_status_report *r); /* NULL-safe */

/* The report as one JSON object (what `outpost status --json` and /status.json give). */
SN_NODISCARD int node_status_json(const node_status_report *r, sn_buf *out, sn_err *err);

/* "3 d 4 h", "5 min", "12 s", "now": the two largest units of a duration. */
void node_status_age(char *out, size_t cap, uint64_t ms);

/* The report in the Prometheus text exposition format 0.0.4 (/metrics; the metrics are
 * listed in node/status_metrics.c), appended to `out`. SN_ETOOBIG past out's limit,
 * SN_ENOMEM. */
SN_NODISCARD int node_status_metrics(const node_status_report *r, sn_buf *out, sn_err *err);

/* The report as a self-contained HTML page (/): no external assets (inline CSS and SVG),
 * refreshing itself every `refresh_s` seconds (0: never), one row per node with its state
 * in words and colour and a chart of its last NODE_STATUS_DAYS days of sessions. Appended
 * to `out`; SN_ETOOBIG past out's limit, SN_ENOMEM. */
SN_NODISCARD int node_status_html(const node_status_report *r, unsigned refresh_s, sn_buf *out,
                                  sn_err *err);

#endif
