/* node/status_json.c - the operator's report (node/status.h) as JSON, the one shape
 * `outpost status --json` and the hub's /status.json share; with the names of states and
 * digest results, and the human ages ("3 d 4 h") the text views print. */
#include "node/status.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "base/hash.h"
#include "base/json.h"

static const struct {
    const char *name, *meaning;
} states[NODE_STATE_COUNT] = {
    [NODE_STATE_EQUIVOCATING] = {"equivocating", "signed two different histories: frozen"},
    [NODE_STATE_DIVERGED] = {"diverged", "same commits, different state from ours"},
    [NODE_STATE_STUCK] = {"stuck", "its commits wait on a missing earlier commit"},
    [NODE_STATE_FAILING] = {"failing", "its last session failed"},
    [NODE_STATE_SKEWED] = {"skewed", "its clock is off by more than the limit"},
    [NODE_STATE_SILENT] = {"silent", "not heard from for longer than expected"},
    [NODE_STATE_BEHIND] = {"behind", "lacks more commits than the limit"},
    [NODE_STATE_EXPIRED] = {"expired", "its certificate has expired"},
    [NODE_STATE_REVOKED] = {"revoked", "its certificate is revoked"},
    [NODE_STATE_NEVER] = {"never-synced", "enrolled, never synced with us"},
    [NODE_STATE_EXPIRING] = {"expiring", "its certificate expires soon"},
    [NODE_STATE_IN_SYNC] = {"in-sync", "nothing wrong"},
};

const char *node_state_name(node_state s)
{
    return (unsigned)s < NODE_STATE_COUNT ? states[s].name : "unknown";
}

const char *node_state_meaning(node_state s)
{
    return (unsigned)s < NODE_STATE_COUNT ? states[s].meaning : "unknown";
}

const char *node_digest_match_name(node_digest_match m)
{
    switch (m) {
    case NODE_DIGEST_MATCH: return "match";
    case NODE_DIGEST_DIFFER: return "differ";
    case NODE_DIGEST_OTHER: return "other-vector";
    default: return "unknown";
    }
}

void node_status_age(char *out, size_t cap, uint64_t ms)
{
    static const struct {
        uint64_t ms;
        const char *unit;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "min"}, {1000, "s"}};
    if (ms < 1000) {
        snprintf(out, cap, "now");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms < units[i].ms)
            continue;
        uint64_t big = ms / units[i].ms;
        uint64_t rest = i + 1 < sizeof units / sizeof units[0] ? ms % units[i].ms / units[i + 1].ms
                                                                 : 0;
        if (rest > 0 && big < 10)
            snprintf(out, cap, "%" PRIu64 " %s %" PRIu64 " %s", big, units[i].unit, rest,
                     units[i + 1].unit);
        else
            snprintf(out, cap, "%" PRIu64 " %s", big, units[i].unit);
        return;
    }
}

static int day_json(sn_buf *b, const node_status_day *d, bool first, sn_err *err)
{
    time_t t = (time_t)(d->day * 86400);
    struct tm tm;
    char date[16] = "";
    if (gmtime_r(&t, &tm) != NULL)
        strftime(date, sizeof date, "%Y-%m-%d", &tm);
    return sn_buf_appendf(b, err,
                          "%s{\"day\":\"%s\",\"sessions\":%" PRIu64 ",\"completed\":%" PRIu64
                          ",\"failed\":%" PRIu64 ",\"bytes_in\":%" PRIu64
                          ",\"bytes_out\":%" PRIu64 "}",
                          first ? "" : ",", date, d->sessions, d->completed, d->failed,
                          d->bytes_in, d->bytes_out);
}

static int node_json(sn_buf *b, const node_status_node *n, uint64_t now, sn_err *err)
{
    char replica[33];
    sn_hex(replica, n->replica, 16);
    int rc = sn_buf_append_str(b, "{\"name\":", err);
    if (rc == 0)
        rc = sn_json_cstr(b, n->name, err);
    if (rc == 0)
        rc = sn_buf_appendf(b, err, ",\"replica\":\"%s\",\"role\":\"%s\",\"state\":\"%s\","
                            "\"alerts\":[", replica, n->hub ? "hub" : "site",
                            node_state_name(n->state));
    bool first = true;
    for (int s = 0; rc == 0 && s < NODE_STATE_IN_SYNC; s++) {
        if (n->alerts & (1u << s)) {
            rc = sn_buf_appendf(b, err, "%s\"%s\"", first ? "" : ",", node_state_name(s));
            first = false;
        }
    }
    char age[32] = "";
    if (n->last_seen_ms > 0)
        node_status_age(age, sizeof age, now > n->last_seen_ms ? now - n->last_seen_ms : 0);
    if (rc == 0)
        rc = sn_buf_appendf(
            b, err,
            "],\"cert_serial\":%" PRIu64 ",\"cert_not_after_ms\":%" PRIu64
            ",\"revoked\":%s,\"last_seen_ms\":%" PRIu64 ",\"last_seen_ago\":\"%s\""
            ",\"last_sync_ms\":%" PRIu64 ",\"vector_known\":%s,\"behind\":%" PRIu64
            ",\"ahead\":%" PRIu64 ",\"freshest_ms\":%" PRIu64 ",\"bytes_in\":%" PRIu64
            ",\"bytes_out\":%" PRIu64 ",\"sessions\":%" PRIu64 ",\"completed\":%" PRIu64
            ",\"skew_ms\":%" PRId64 ",\"conflicts\":%" PRIu64 ",\"waiting\":%" PRIu64
            ",\"waiting_since_ms\":%" PRIu64 ",\"quarantined\":%" PRIu64 ",\"frozen\":%s"
            ",\"digest\":\"%s\",\"digest_ms\":%" PRIu64 ",\"last_error_ms\":%" PRIu64
            ",\"last_error\":",
            n->serial, n->not_after_ms, n->revoked ? "true" : "false", n->last_seen_ms, age,
            n->last_sync_ms, n->vector_known ? "true" : "false", n->behind, n->ahead,
            n->freshest_ms, n->bytes_in, n->bytes_out, n->sessions, n->completed, n->skew_ms,
            n->conflicts, n->waiting, n->waiting_since_ms, n->quarantined,
            n->frozen ? "true" : "false", node_digest_match_name(n->digest), n->digest_ms,
            n->last_error_ms);
    if (rc == 0)
        rc = sn_json_cstr(b, n->last_error, err);
    if (rc == 0)
        rc = sn_buf_append_str(b, ",\"days\":[", err);
    for (size_t i = 0; rc == 0 && i < NODE_STATUS_DAYS; i++)
        rc = day_json(b, &n->days[i], i == 0, err);
    return rc != 0 ? rc : sn_buf_append_str(b, "]}", err);
}

int node_status_json(const node_status_report *r, sn_buf *out, sn_err *err)
{
    char replica[33];
    sn_hex(replica, r->replica, 16);
    const node_status_limits *l = &r->limits;
    int rc = sn_buf_append_str(out, "{\"name\":", err);
    if (rc == 0)
        rc = sn_json_cstr(out, r->name, err);
    if (rc == 0)
        rc = sn_buf_appendf(
            out, err,
            ",\"replica\":\"%s\",\"role\":\"%s\",\"enrolled\":%s,\"now_ms\":%" PRIu64
            ",\"held\":%" PRIu64 ",\"commits\":%" PRIu64 ",\"waiting\":%" PRIu64
            ",\"conflicts\":%" PRIu64 ",\"quarantined\":%" PRIu64 ",\"last_sync_ms\":%" PRIu64
            ",\"pending_out\":%" PRIu64 ",\"pending_in\":%" PRIu64 ",\"self_frozen\":%s"
            ",\"limits\":{\"silent_ms\":%" PRIu64 ",\"behind\":%" PRIu64 ",\"skew_ms\":%" PRIu64
            ",\"stuck_ms\":%" PRIu64 ",\"expiring_ms\":%" PRIu64 "},\"states\":{",
            replica, r->hub ? "hub" : "site", r->enrolled ? "true" : "false", r->now_ms,
            r->held, r->counts.commits, r->counts.waiting, r->counts.conflicts,
            r->counts.quarantined, r->last_sync_ms, r->pending_out, r->pending_in,
            r->self_frozen ? "true" : "false",
            l->silent_ms, l->behind, l->skew_ms, l->stuck_ms, l->expiring_ms);
    for (int s = 0; rc == 0 && s < NODE_STATE_COUNT; s++)
        rc = sn_buf_appendf(out, err, "%s\"%s\":%zu", s > 0 ? "," : "", node_state_name(s),
                            r->by_state[s]);
    if (rc == 0)
        rc = sn_buf_append_str(out, "},\"nodes\":[", err);
    for (size_t i = 0; rc == 0 && i < r->nnodes; i++) {
        if (i > 0)
            rc = sn_buf_append_str(out, ",", err);
        if (rc == 0)
            rc = node_json(out, &r->nodes[i], r->now_ms, err);
    }
    return rc != 0 ? rc : sn_buf_append_str(out, "]}", err);
}
