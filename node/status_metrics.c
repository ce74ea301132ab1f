/* node/status_metrics.c - the status report (status.h) in the Prometheus text exposition
 * format, version 0.0.4, as /metrics serves it.
 *
 * Every metric is prefixed outpost_. Per node known to this store, labelled
 * node="<certificate name>",replica="<32 hex digits>" (names need not be unique; replica
 * ids are): the figures of node_status_node as gauges and counters (times as unix seconds,
 * durations in seconds, 0 for "never"; an age that does not apply is left out), an info
 * metric, the state one-hot (outpost_node_state{state=...} 1 for the node's state, 0 for
 * every other), every alert 0/1, and the digest comparison one-hot. Then this node's own
 * figures and outpost_nodes{state=...}, the count of nodes in each state.
 *
 * Families are written whole, one after another, each with its HELP and TYPE lines; label
 * values escape backslash, double quote and newline as the format asks. */
#include "node/status.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

#include "base/hash.h"

/* How a field is read and written as a sample value. */
typedef enum metric_kind {
    M_COUNT, /* uint64_t, as is */
    M_BOOL,  /* bool, 0 or 1 */
    M_TIME,  /* uint64_t unix ms, as unix seconds (0 stays 0: never) */
    M_SKEW,  /* int64_t ms, as signed seconds */
    M_AGE,   /* uint64_t unix ms of an event: seconds since, left out when 0 */
} metric_kind;

typedef struct metric {
    const char *name;
    const char *type; /* "gauge" or "counter" */
    const char *help;
    metric_kind kind;
    size_t off; /* of the field in node_status_node, or in node_status_report */
} metric;

#define NODE_FIELD(f) offsetof(node_status_node, f)
#define SELF_FIELD(f) offsetof(node_status_report, f)

static const metric node_metrics[] = {
    {"outpost_node_last_seen_timestamp_seconds", "gauge",
     "Time of the last handshake with the node (0: never).", M_TIME, NODE_FIELD(last_seen_ms)},
    {"outpost_node_last_sync_timestamp_seconds", "gauge",
     "Time of the last session with the node that reached in sync (0: never).", M_TIME,
     NODE_FIELD(last_sync_ms)},
    {"outpost_node_vector_known", "gauge",
     "1 when the node has told this one which commits it holds at least once.", M_BOOL,
     NODE_FIELD(vector_known)},
    {"outpost_node_behind_commits", "gauge",
     "Commits held here that the node lacked at its last HELLO.", M_COUNT, NODE_FIELD(behind)},
    {"outpost_node_ahead_commits", "gauge",
     "Commits the node held at its last HELLO that this node lacks.", M_COUNT,
     NODE_FIELD(ahead)},
    {"outpost_node_freshest_commit_age_seconds", "gauge",
     "Age of the newest commit held from the node (absent: none held).", M_AGE,
     NODE_FIELD(freshest_ms)},
    {"outpost_node_received_bytes_total", "counter", "Bytes received from the node.", M_COUNT,
     NODE_FIELD(bytes_in)},
    {"outpost_node_sent_bytes_total", "counter", "Bytes sent to the node.", M_COUNT,
     NODE_FIELD(bytes_out)},
    {"outpost_node_sessions_total", "counter", "Sessions with the node.", M_COUNT,
     NODE_FIELD(sessions)},
    {"outpost_node_sessions_completed_total", "counter",
     "Sessions with the node that reached in sync.", M_COUNT, NODE_FIELD(completed)},
    {"outpost_node_last_error_timestamp_seconds", "gauge",
     "Time of the last failed session with the node (0: none).", M_TIME,
     NODE_FIELD(last_error_ms)},
    {"outpost_node_clock_skew_seconds", "gauge",
     "The node machine's clock minus this one's at the last handshake, before corrections.",
     M_SKEW, NODE_FIELD(skew_ms)},
    {"outpost_node_conflicts", "gauge", "Open conflicts with a value written by the node.",
     M_COUNT, NODE_FIELD(conflicts)},
    {"outpost_node_waiting_commits", "gauge",
     "Commits of the node held here, waiting for a predecessor.", M_COUNT, NODE_FIELD(waiting)},
    {"outpost_node_waiting_age_seconds", "gauge",
     "How long the oldest waiting commit of the node has waited (absent: none waits).", M_AGE,
     NODE_FIELD(waiting_since_ms)},
    {"outpost_node_quarantined_commits", "gauge",
     "Commits of the node held here but not applied.", M_COUNT, NODE_FIELD(quarantined)},
    {"outpost_node_frozen", "gauge",
     "1 when the node signed two histories and its origin is frozen.", M_BOOL,
     NODE_FIELD(frozen)},
    {"outpost_node_revoked", "gauge", "1 when the node's certificate is revoked.", M_BOOL,
     NODE_FIELD(revoked)},
    {"outpost_node_certificate_expiry_timestamp_seconds", "gauge",
     "When the node's newest certificate held expires.", M_TIME, NODE_FIELD(not_after_ms)},
    {"outpost_node_digest_timestamp_seconds", "gauge",
     "When the node last reported its state digest (0: never).", M_TIME,
     NODE_FIELD(digest_ms)},
};

static const metric self_metrics[] = {
    {"outpost_status_timestamp_seconds", "gauge", "When this report was built.", M_TIME,
     SELF_FIELD(now_ms)},
    {"outpost_held_commits", "gauge", "Commits held by this node, all origins.", M_COUNT,
     SELF_FIELD(held)},
    {"outpost_last_sync_timestamp_seconds", "gauge",
     "Time of this node's latest session with any peer that reached in sync (0: never).",
     M_TIME, SELF_FIELD(last_sync_ms)},
    {"outpost_pending_out_commits", "gauge",
     "Commits held here that some hub lacked at its last HELLO.", M_COUNT,
     SELF_FIELD(pending_out)},
    {"outpost_pending_in_commits", "gauge",
     "Commits some hub held at its last HELLO that this node lacks.", M_COUNT,
     SELF_FIELD(pending_in)},
    {"outpost_conflicts", "gauge", "Conflicts waiting for review in this store.", M_COUNT,
     SELF_FIELD(counts.conflicts)},
    {"outpost_waiting_commits", "gauge",
     "Commits held by this store, waiting for a predecessor.", M_COUNT,
     SELF_FIELD(counts.waiting)},
    {"outpost_quarantined_commits", "gauge", "Commits held by this store but not applied.",
     M_COUNT, SELF_FIELD(counts.quarantined)},
};

static int family(sn_buf *out, const char *name, const char *type, const char *help,
                  sn_err *err)
{
    return sn_buf_appendf(out, err, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped: backslash, double quote and line feed. */
static int label_value(sn_buf *out, const char *v, sn_err *err)
{
    for (const char *p = v; *p != '\0'; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        int rc = esc != NULL ? sn_buf_append_str(out, esc, err) : sn_buf_append(out, p, 1, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* `name{node="...",replica="..."` (no closing brace: callers add labels, then "} "). */
static int node_labels(sn_buf *out, const char *name, const node_status_node *n, sn_err *err)
{
    char hex[33];
    sn_hex(hex, n->replica, sizeof n->replica);
    int rc = sn_buf_appendf(out, err, "%s{node=\"", name);
    if (rc == 0)
        rc = label_value(out, n->name, err);
    if (rc == 0)
        rc = sn_buf_appendf(out, err, "\",replica=\"%s\"", hex);
    return rc;
}

/* The sample value of field `m` of `base`; false when it is left out. */
static bool value_text(const metric *m, const void *base, uint64_t now_ms, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)base + m->off;
    uint64_t ms;
    switch (m->kind) {
    case M_COUNT:
        snprintf(out, cap, "%" PRIu64, *(const uint64_t *)p);
        return true;
    case M_BOOL:
        snprintf(out, cap, "%d", *(const bool *)p ? 1 : 0);
        return true;
    case M_TIME:
        ms = *(const uint64_t *)p;
        break;
    case M_SKEW: {
        int64_t s = *(const int64_t *)p;
        uint64_t mag = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
        snprintf(out, cap, "%s%" PRIu64 ".%03" PRIu64, s < 0 ? "-" : "", mag / 1000,
                 mag % 1000);
        return true;
    }
    case M_AGE:
        ms = *(const uint64_t *)p;
        if (ms == 0)
            return false;
        ms = now_ms > ms ? now_ms - ms : 0; /* an event "in the future" is a skewed clock */
        break;
    default:
        return false;
    }
    snprintf(out, cap, "%" PRIu64 ".%03" PRIu64, ms / 1000, ms % 1000);
    return true;
}

static int per_node_metric(sn_buf *out, const node_status_report *r, const metric *m,
                           sn_err *err)
{
    int rc = family(out, m->name, m->type, m->help, err);
    for (size_t i = 0; rc == 0 && i < r->nnodes; i++) {
        char v[48];
        if (!value_text(m, &r->nodes[i], r->now_ms, v, sizeof v))
            continue;
        rc = node_labels(out, m->name, &r->nodes[i], err);
        if (rc == 0)
            rc = sn_buf_appendf(out, err, "} %s\n", v);
    }
    return rc;
}

/* A family with one sample per node and per value of `label` (one-hot or 0/1 flags):
 * value(n, k) for k in [0, count). */
static int per_node_choice(sn_buf *out, const node_status_report *r, const char *name,
                           const char *help, const char *label, size_t count,
                           const char *(*word)(size_t k),
                           bool (*value)(const node_status_node *n, size_t k), sn_err *err)
{
    int rc = family(out, name, "gauge", help, err);
    for (size_t i = 0; rc == 0 && i < r->nnodes; i++)
        for (size_t k = 0; rc == 0 && k < count; k++) {
            rc = node_labels(out, name, &r->nodes[i], err);
            if (rc == 0)
                rc = sn_buf_appendf(out, err, ",%s=\"%s\"} %d\n", label, word(k),
                                    value(&r->nodes[i], k) ? 1 : 0);
        }
    return rc;
}

/* Every state but in-sync is an alert: in-sync must stay the last. */
_Static_assert(NODE_STATE_IN_SYNC + 1 == NODE_STATE_COUNT, "in-sync is the last state");

static const char *state_word(size_t k) { return node_state_name((node_state)k); }
static const char *digest_word(size_t k) { return node_digest_match_name((node_digest_match)k); }
static bool is_state(const node_status_node *n, size_t k) { return n->state == (node_state)k; }
static bool has_alert(const node_status_node *n, size_t k) { return (n->alerts >> k) & 1u; }
static bool is_digest(const node_status_node *n, size_t k)
{
    return n->digest == (node_digest_match)k;
}

static int info_metrics(sn_buf *out, const node_status_report *r, sn_err *err)
{
    char hex[33];
    sn_hex(hex, r->replica, sizeof r->replica);
    int rc = family(out, "outpost_info", "gauge",
                    "This node: its certificate name, replica id and role.", err);
    if (rc == 0)
        rc = sn_buf_append_str(out, "outpost_info{node=\"", err);
    if (rc == 0)
        rc = label_value(out, r->name, err);
    if (rc == 0)
        rc = sn_buf_appendf(out, err, "\",replica=\"%s\",role=\"%s\",enrolled=\"%s\"} 1\n", hex,
                            r->hub ? "hub" : "node", r->enrolled ? "yes" : "no");
    if (rc == 0)
        rc = family(out, "outpost_node_info", "gauge",
                    "Each node this store knows: its role and newest certificate's serial.",
                    err);
    for (size_t i = 0; rc == 0 && i < r->nnodes; i++) {
        const node_status_node *n = &r->nodes[i];
        rc = node_labels(out, "outpost_node_info", n, err);
        if (rc == 0)
            rc = sn_buf_appendf(out, err, ",role=\"%s\",serial=\"%" PRIu64 "\"} 1\n",
                                n->hub ? "hub" : "node", n->serial);
    }
    return rc;
}

int node_status_metrics(const node_status_report *r, sn_buf *out, sn_err *err)
{
    int rc = info_metrics(out, r, err);
    for (size_t i = 0; rc == 0 && i < sizeof self_metrics / sizeof self_metrics[0]; i++) {
        const metric *m = &self_metrics[i];
        char v[48];
        rc = family(out, m->name, m->type, m->help, err);
        if (rc == 0 && value_text(m, r, r->now_ms, v, sizeof v))
            rc = sn_buf_appendf(out, err, "%s %s\n", m->name, v);
    }
    if (rc == 0)
        rc = family(out, "outpost_nodes", "gauge", "Nodes known to this store, by state.", err);
    for (size_t k = 0; rc == 0 && k < NODE_STATE_COUNT; k++)
        rc = sn_buf_appendf(out, err, "outpost_nodes{state=\"%s\"} %zu\n", state_word(k),
                            r->by_state[k]);
    if (rc == 0)
        rc = per_node_choice(out, r, "outpost_node_state",
                             "The node's state (the most urgent of its alerts): 1 for it, 0 "
                             "for every other.",
                             "state", NODE_STATE_COUNT, state_word, is_state, err);
    if (rc == 0)
        rc = per_node_choice(out, r, "outpost_node_alert",
                             "1 for every alert that holds for the node.", "alert",
                             NODE_STATE_IN_SYNC, state_word, has_alert, err);
    if (rc == 0)
        rc = per_node_choice(out, r, "outpost_node_digest",
                             "How the node's last state digest compared with this node's: 1 "
                             "for the outcome, 0 for the others.",
                             "result", NODE_DIGEST_OTHER + 1, digest_word, is_digest, err);
    for (size_t i = 0; rc == 0 && i < sizeof node_metrics / sizeof node_metrics[0]; i++)
        rc = per_node_metric(out, r, &node_metrics[i], err);
    return rc;
}
