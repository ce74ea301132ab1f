/* node/status.c - building the operator's report (node/status.h) from the store: the
 * certificates say who is enrolled, the peer table what the sessions saw, the origin and
 * log tables what is held, waiting, quarantined and frozen, the conflict index who is in
 * a conflict. Then each node's alerts, its state, and the order most urgent first. */
#include "node/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "node/peers.h"
#include "node/store_int.h"
#include "node/trust.h"

#define DAY_MS UINT64_C(86400000)
#define SEQ_MASK ((UINT64_C(1) << 40) - 1)

void node_status_limits_default(node_status_limits *l)
{
    *l = (node_status_limits){
        .silent_ms = DAY_MS,
        .behind = 100,
        .skew_ms = 2 * 60 * 1000,
        .stuck_ms = 60 * 60 * 1000,
        .expiring_ms = 30 * DAY_MS,
    };
}

/* ---- the nodes: one per replica with a certificate held, this node's own excepted ---- */

typedef struct build {
    node_store *st;
    node_status_report *r;
    size_t cap;
    sync_crl crl;
} build;

static node_status_node *node_by_replica(node_status_report *r, const uint8_t replica[16])
{
    for (size_t i = 0; i < r->nnodes; i++)
        if (memcmp(r->nodes[i].replica, replica, 16) == 0)
            return &r->nodes[i];
    return NULL;
}

static bool serial_revoked(const sync_crl *crl, const uint8_t replica[16], uint64_t serial)
{
    for (size_t i = 0; i < crl->n; i++)
        if (crl->entries[i].serial == serial && memcmp(crl->entries[i].replica, replica, 16) == 0)
            return true;
    return false;
}

static int take_cert(void *ctx, const sync_cert *c, sn_err *err)
{
    build *b = ctx;
    if ((c->type != SYNC_CERT_NODE && c->type != SYNC_CERT_HUB) ||
        memcmp(c->replica, b->r->replica, 16) == 0)
        return 0;
    node_status_node *n = node_by_replica(b->r, c->replica);
    if (n == NULL) {
        if (b->r->nnodes == b->cap) {
            size_t cap = b->cap < 8 ? 8 : b->cap * 2;
            node_status_node *p = sn_realloc(b->r->nodes, cap * sizeof *p);
            if (p == NULL)
                return sn_err_set(err, SN_ENOMEM, "out of memory listing the nodes");
            b->r->nodes = p;
            b->cap = cap;
        }
        n = &b->r->nodes[b->r->nnodes++];
        memset(n, 0, sizeof *n);
        memcpy(n->replica, c->replica, 16);
    } else if (c->serial < n->serial) {
        return 0; /* an older certificate of a node already listed */
    }
    /* The newest certificate speaks for the node. */
    memcpy(n->name, c->name, sizeof n->name);
    n->hub = c->type == SYNC_CERT_HUB;
    n->serial = c->serial;
    n->not_before_ms = c->valid_after * 1000;
    n->not_after_ms = c->valid_before * 1000;
    n->revoked = serial_revoked(&b->crl, c->replica, c->serial);
    return 0;
}

/* ---- what the peer table says ---- */

static uint64_t vv_excess(const crdt_vv *a, const crdt_vv *b) /* sum of max(0, a - b) */
{
    uint64_t n = 0;
    for (size_t i = 0; i < a->n; i++) {
        uint64_t other = crdt_vv_get(b, &a->e[i].origin);
        if (a->e[i].seq > other)
            n += a->e[i].seq - other;
    }
    return n;
}

static int take_day(void *ctx, const node_peer_day *d, sn_err *err)
{
    (void)err;
    node_status_node *n = ctx;
    uint64_t first = n->days[0].day;
    if (d->day >= first && d->day < first + NODE_STATUS_DAYS) {
        node_status_day *day = &n->days[d->day - first];
        day->sessions = d->sessions;
        day->completed = d->completed;
        day->failed = d->failed;
        day->bytes_in = d->bytes_in;
        day->bytes_out = d->bytes_out;
    }
    return 0;
}

static int fill_peer(build *b, node_status_node *n, const crdt_vv *held, sn_err *err)
{
    node_peer p;
    bool found = false;
    int rc = node_peer_load(b->st, n->replica, &p, &found, err);
    if (rc != 0)
        return rc;
    if (found) {
        n->last_seen_ms = p.last_seen_ms;
        n->last_sync_ms = p.last_sync_ms;
        n->vector_known = p.seen.n > 0 || p.last_sync_ms > 0;
        n->behind = vv_excess(held, &p.seen);
        n->ahead = vv_excess(&p.seen, held);
        n->bytes_in = p.bytes_in;
        n->bytes_out = p.bytes_out;
        n->sessions = p.sessions;
        n->completed = p.completed;
        memcpy(n->last_error, p.last_error, sizeof n->last_error);
        n->last_error_ms = p.last_error_ms;
        n->skew_ms = p.skew_ms;
        n->digest = p.digest_match <= NODE_DIGEST_OTHER ? (node_digest_match)p.digest_match
                                                        : NODE_DIGEST_UNKNOWN;
        n->digest_ms = p.digest_ms;
    }
    node_peer_free(&p);
    uint64_t today = b->r->now_ms / DAY_MS;
    for (size_t i = 0; i < NODE_STATUS_DAYS; i++)
        n->days[i].day = today - (NODE_STATUS_DAYS - 1) + i;
    return node_peer_days(b->st, n->replica, n->days[0].day, take_day, n, err);
}

/* ---- what the log says, per origin of each node ---- */

static int origin_figures(build *b, uint32_t idx, node_status_node *n, sn_err *err)
{
    node_origin_state os;
    int rc = node_origin_state_get(b->st, idx, &os, err);
    if (rc != 0)
        return rc;
    uint64_t bound = os.bound < os.held ? os.bound : os.held;
    n->quarantined += os.held - bound;
    sqlite3_stmt *s = NULL;
    uint64_t base = (uint64_t)idx << 40;
    if (os.held > 0) { /* the newest commit held: seqs of one origin rise with its clock */
        rc = node_stmt_cached(b->st, "SELECT hlc FROM commit_log WHERE key = ?1", &s);
        if (rc != SQLITE_OK)
            return node_store_fail(b->st, rc, err, "reading a node's newest commit");
        sqlite3_bind_int64(s, 1, (int64_t)(base | os.held));
        if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            uint64_t ms = (uint64_t)sqlite3_column_int64(s, 0) >> 16;
            if (ms > n->freshest_ms)
                n->freshest_ms = ms;
        }
        node_stmt_release(b->st, s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return node_store_fail(b->st, rc, err, "reading a node's newest commit");
    }
    /* Waiting: commit bodies stored past the held seq, and units kept for later. */
    rc = node_stmt_cached(b->st, "SELECT count(*) FROM commit_log WHERE key > ?1 AND key <= ?2",
                          &s);
    if (rc != SQLITE_OK)
        return node_store_fail(b->st, rc, err, "counting a node's waiting commits");
    sqlite3_bind_int64(s, 1, (int64_t)(base | os.held));
    sqlite3_bind_int64(s, 2, (int64_t)(base | SEQ_MASK));
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        n->waiting += (uint64_t)sqlite3_column_int64(s, 0);
    node_stmt_release(b->st, s);
    if (rc != SQLITE_ROW)
        return node_store_fail(b->st, rc, err, "counting a node's waiting commits");
    rc = node_stmt_cached(b->st, "SELECT coalesce(sum(last - first + 1), 0), min(since_ms)"
                          " FROM unit_wait WHERE origin = ?1", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(b->st, rc, err, "counting a node's waiting units");
    sqlite3_bind_int64(s, 1, idx);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        n->waiting += (uint64_t)sqlite3_column_int64(s, 0);
        uint64_t since = (uint64_t)sqlite3_column_int64(s, 1);
        if (since > 0 && (n->waiting_since_ms == 0 || since < n->waiting_since_ms))
            n->waiting_since_ms = since;
    }
    node_stmt_release(b->st, s);
    if (rc != SQLITE_ROW)
        return node_store_fail(b->st, rc, err, "counting a node's waiting units");
    rc = node_stmt_cached(b->st, "SELECT 1 FROM equivocation WHERE origin = ?1", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(b->st, rc, err, "reading a node's equivocation");
    sqlite3_bind_int64(s, 1, idx);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        n->frozen = true;
    node_stmt_release(b->st, s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return node_store_fail(b->st, rc, err, "reading a node's equivocation");
    return 0;
}

static int fill_origins(build *b, sn_err *err)
{
    int rc = 0;
    for (uint32_t idx = 1; idx <= b->st->norigins && rc == 0; idx++) {
        node_status_node *n = node_by_replica(b->r, node_origin_of(b->st, idx)->replica);
        if (n != NULL)
            rc = origin_figures(b, idx, n, err);
    }
    return rc;
}

/* Open conflicts with a sibling written by a node: each conflicting cell, read once. */
static int fill_conflicts(build *b, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(b->st, "SELECT tbl, row, col FROM conflict", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(b->st, rc, err, "listing conflicts");
    int res = 0;
    while (res == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const schema_table *t = schema_table_by_id((uint16_t)sqlite3_column_int(s, 0));
        const schema_column *c =
            t != NULL ? schema_column_by_id(t, (uint16_t)sqlite3_column_int(s, 2)) : NULL;
        if (c == NULL || sqlite3_column_bytes(s, 1) != 16)
            continue;
        crdt_mv m;
        crdt_mv_init(&m);
        bool explicit_ = false;
        res = node_cell_load(b->st, t, c, sqlite3_column_blob(s, 1), &m, &explicit_, err);
        for (size_t i = 0; res == 0 && i < b->r->nnodes; i++) {
            for (size_t k = 0; k < m.n; k++) {
                if (memcmp(m.sibs[k].dot.origin.replica, b->r->nodes[i].replica, 16) == 0) {
                    b->r->nodes[i].conflicts++;
                    break;
                }
            }
        }
        crdt_mv_free(&m);
    }
    if (res == 0 && rc != SQLITE_DONE)
        res = node_store_fail(b->st, rc, err, "listing conflicts");
    node_stmt_release(b->st, s);
    return res;
}

/* ---- alerts and order ---- */

static uint64_t silent_limit(const node_status_limits *l, const char *name)
{
    for (size_t i = 0; i < l->nexpect; i++)
        if (strcmp(l->expect[i].name, name) == 0)
            return l->expect[i].silent_ms;
    return l->silent_ms;
}

#define BIT(s) (1u << (s))

static void judge(node_status_node *n, const node_status_limits *l, uint64_t now)
{
    uint32_t a = 0;
    if (n->frozen)
        a |= BIT(NODE_STATE_EQUIVOCATING);
    if (n->digest == NODE_DIGEST_DIFFER)
        a |= BIT(NODE_STATE_DIVERGED);
    if (n->waiting > 0 && n->waiting_since_ms > 0 && now > n->waiting_since_ms &&
        now - n->waiting_since_ms > l->stuck_ms)
        a |= BIT(NODE_STATE_STUCK);
    if (n->last_error_ms > n->last_sync_ms)
        a |= BIT(NODE_STATE_FAILING);
    uint64_t skew = n->skew_ms < 0 ? (uint64_t)-n->skew_ms : (uint64_t)n->skew_ms;
    if (n->last_seen_ms > 0 && skew > l->skew_ms)
        a |= BIT(NODE_STATE_SKEWED);
    if (n->last_seen_ms > 0 && now > n->last_seen_ms &&
        now - n->last_seen_ms > silent_limit(l, n->name))
        a |= BIT(NODE_STATE_SILENT);
    if (n->vector_known && n->behind > l->behind)
        a |= BIT(NODE_STATE_BEHIND);
    if (n->not_after_ms <= now)
        a |= BIT(NODE_STATE_EXPIRED);
    else if (n->not_after_ms - now <= l->expiring_ms)
        a |= BIT(NODE_STATE_EXPIRING);
    if (n->revoked)
        a |= BIT(NODE_STATE_REVOKED);
    if (n->last_seen_ms == 0)
        a |= BIT(NODE_STATE_NEVER);
    /* A node that can no longer sync is expected to fall silent and behind: what matters
     * of it is why it cannot, and anything it did before. */
    if (a & (BIT(NODE_STATE_REVOKED) | BIT(NODE_STATE_EXPIRED)))
        a &= ~(BIT(NODE_STATE_SILENT) | BIT(NODE_STATE_BEHIND) | BIT(NODE_STATE_NEVER) |
               BIT(NODE_STATE_FAILING) | BIT(NODE_STATE_EXPIRING));
    if (a & BIT(NODE_STATE_REVOKED))
        a &= ~BIT(NODE_STATE_EXPIRED);
    n->alerts = a;
    n->state = NODE_STATE_IN_SYNC;
    for (int s = 0; s < NODE_STATE_IN_SYNC; s++) {
        if (a & BIT(s)) {
            n->state = (node_state)s;
            break;
        }
    }
}

static int by_urgency(const void *pa, const void *pb)
{
    const node_status_node *a = pa, *b = pb;
    if (a->state != b->state)
        return a->state < b->state ? -1 : 1;
    int c = strcmp(a->name, b->name);
    return c != 0 ? c : memcmp(a->replica, b->replica, 16);
}

/* This node's own view: its latest sync, and what is pending with its hubs. */
static void own_view(node_status_report *r)
{
    for (size_t i = 0; i < r->nnodes; i++) {
        const node_status_node *n = &r->nodes[i];
        if (n->last_sync_ms > r->last_sync_ms)
            r->last_sync_ms = n->last_sync_ms;
        if (!n->hub || !n->vector_known)
            continue;
        if (n->behind > r->pending_out)
            r->pending_out = n->behind;
        if (n->ahead > r->pending_in)
            r->pending_in = n->ahead;
    }
}

/* This node's own origin frozen: a copy of it wrote another history under its seqs. */
static int self_frozen(build *b, sn_err *err)
{
    uint32_t idx = node_origin_find(b->st, node_store_origin(b->st));
    if (idx == 0)
        return 0;
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(b->st, "SELECT 1 FROM equivocation WHERE origin = ?1", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(b->st, rc, err, "reading this node's equivocation");
    sqlite3_bind_int64(s, 1, idx);
    rc = sqlite3_step(s);
    b->r->self_frozen = rc == SQLITE_ROW;
    node_stmt_release(b->st, s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return node_store_fail(b->st, rc, err, "reading this node's equivocation");
    return 0;
}

static int build_nodes(build *b, sn_err *err)
{
    node_status_report *r = b->r;
    sync_cert own;
    int rc = node_trust_own(b->st, &own, err);
    if (rc == SN_ENOTFOUND) { /* not enrolled: no peers to speak of */
        sn_err_clear(err);
        return 0;
    }
    if (rc != 0)
        return rc;
    r->enrolled = true;
    r->hub = own.type == SYNC_CERT_HUB;
    memcpy(r->name, own.name, sizeof r->name);
    rc = node_trust_crl(b->st, &b->crl, err);
    if (rc == 0)
        rc = node_trust_cert_each(b->st, take_cert, b, err);
    crdt_vv held;
    crdt_vv_init(&held);
    if (rc == 0)
        rc = node_store_held(b->st, &held, err);
    for (size_t i = 0; rc == 0 && i < held.n; i++)
        r->held += held.e[i].seq;
    for (size_t i = 0; rc == 0 && i < r->nnodes; i++)
        rc = fill_peer(b, &r->nodes[i], &held, err);
    crdt_vv_free(&held);
    if (rc == 0)
        rc = fill_origins(b, err);
    if (rc == 0)
        rc = self_frozen(b, err);
    if (rc == 0)
        rc = fill_conflicts(b, err);
    return rc;
}

int node_status_build(node_store *st, const node_status_limits *limits, uint64_t now_ms,
                      node_status_report *out, sn_err *err)
{
    memset(out, 0, sizeof *out);
    out->now_ms = now_ms != 0 ? now_ms : node_now_ms(st);
    if (limits != NULL)
        out->limits = *limits;
    else
        node_status_limits_default(&out->limits);
    memcpy(out->replica, node_store_origin(st)->replica, 16);
    snprintf(out->name, sizeof out->name, "%s", node_store_name(st));
    build b = {.st = st, .r = out};
    bool owned = node_read_begin(st);
    int rc = node_store_counts(st, &out->counts, err);
    if (rc == 0)
        rc = build_nodes(&b, err);
    node_read_end(st, owned);
    sync_crl_free(&b.crl);
    if (rc != 0) {
        node_status_free(out);
        return rc;
    }
    for (size_t i = 0; i < out->nnodes; i++) {
        judge(&out->nodes[i], &out->limits, out->now_ms);
        out->by_state[out->nodes[i].state]++;
    }
    if (out->nnodes > 1)
        qsort(out->nodes, out->nnodes, sizeof *out->nodes, by_urgency);
    own_view(out);
    return 0;
}

void node_status_free(node_status_report *r)
{
    if (r == NULL)
        return;
    sn_free(r->nodes);
    r->nodes = NULL;
    r->nnodes = 0;
}
