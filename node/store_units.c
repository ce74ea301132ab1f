/* node/store_units.c - taking in signed transfer units: look up the signer's certificate,
 * hash the chain forward from the link held, check the checkpoint signature, and only then
 * decode the bodies (each must claim the unit's origin and place). A unit that verifies
 * but contradicts the chain held is equivocation: the proof is made and kept, and the
 * origin frozen (node/store_equiv.c). Units whose predecessors have not arrived wait on
 * disk, undecoded, and are taken when the gap fills. Everything is verified before
 * anything is written. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/log.h"
#include "node/store_int.h"
#include "node/trust.h"
#include "node/units.h"

typedef enum unit_fate { U_TAKE, U_DUP, U_DEFER, U_FROZEN, U_EQUIV, U_DISPUTED } unit_fate;

typedef struct unit_item {
    const node_body *raw;
    sync_unit u;
    bool parsed;
    unit_fate fate;
    uint64_t take_from;     /* U_TAKE: first seq new here */
    uint64_t equiv_seq;     /* U_EQUIV: first seq known to differ */
    uint8_t *links;         /* count x 32 when the chain verified */
    schema_commit **commits; /* U_TAKE: decoded bodies take_from..last */
    bool *unknown;
} unit_item;

/* Per origin, what is held in the store and what this call has verified beyond it. */
typedef struct unit_run {
    crdt_origin origin;
    uint32_t idx; /* 0: an origin new to this store */
    uint64_t store_held;
    uint64_t to;
    uint64_t frozen_from; /* 0: not frozen */
} unit_run;

typedef struct unit_call {
    node_store *st;
    unit_item *items;
    size_t n;
    unit_run *runs;
    size_t nruns;
} unit_call;

static void origin_text(char out[48], const crdt_origin *o)
{
    char hex[2 * CRDT_REPLICA_LEN + 1];
    sn_hex(hex, o->replica, CRDT_REPLICA_LEN);
    snprintf(out, 48, "%.8s/%u", hex, o->epoch);
}

static int unit_fail(sn_err *err, size_t i, size_t n, const sync_unit *u)
{
    char o[48];
    origin_text(o, &u->cp.origin);
    sn_err_prefix(err, "unit %zu of %zu (origin %s, commits %llu..%llu)", i + 1, n, o,
                  (unsigned long long)u->first, (unsigned long long)u->cp.seq);
    return err != NULL && err->code != 0 ? err->code : SN_EAUTH;
}

int node_log_link_at(node_store *st, uint32_t idx, uint64_t seq, uint8_t out[32], sn_err *err)
{
    memset(out, 0, 32);
    if (seq == 0)
        return 0;
    sqlite3_stmt *s = st->stmts[ST_LOG_GET];
    sqlite3_bind_int64(s, 1, NODE_LOG_KEY(idx, seq));
    int rc = sqlite3_step(s);
    bool ok = rc == SQLITE_ROW && sqlite3_column_bytes(s, 1) == 32;
    if (ok)
        memcpy(out, sqlite3_column_blob(s, 1), 32);
    node_stmt_done(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return node_store_fail(st, rc, err, "reading the commit log");
    if (!ok)
        return sn_err_set(err, SN_ECORRUPT, "store '%s': the chain link of commit %llu of "
                          "origin %u is missing", st->dir, (unsigned long long)seq, idx);
    return 0;
}

static int run_of(unit_call *c, const crdt_origin *o, unit_run **out, sn_err *err)
{
    for (size_t i = 0; i < c->nruns; i++)
        if (crdt_origin_equal(&c->runs[i].origin, o)) {
            *out = &c->runs[i];
            return 0;
        }
    unit_run *r = &c->runs[c->nruns++]; /* runs has room for one per item */
    *r = (unit_run){.origin = *o, .idx = node_origin_find(c->st, o)};
    if (r->idx != 0) {
        node_origin_state os;
        int rc = node_origin_state_get(c->st, r->idx, &os, err);
        if (rc != 0)
            return rc;
        r->store_held = os.held;
        sqlite3_stmt *s = NULL;
        rc = node_stmt_cached(c->st, "SELECT seq FROM equivocation WHERE origin = ?1", &s);
        if (rc != SQLITE_OK)
            return node_store_fail(c->st, rc, err, "reading equivocation proofs");
        sqlite3_bind_int64(s, 1, r->idx);
        rc = sqlite3_step(s);
        r->frozen_from = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
        node_stmt_release(c->st, s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return node_store_fail(c->st, rc, err, "reading equivocation proofs");
    }
    r->to = r->store_held;
    *out = r;
    return 0;
}

/* The link after commit `seq` as this call knows it: held in the store, or verified by an
 * earlier unit of the call. *known false when neither has it. */
static int link_at(unit_call *c, size_t upto, const unit_run *r, uint64_t seq, uint8_t out[32],
                   bool *known, sn_err *err)
{
    *known = true;
    if (seq <= r->store_held)
        return r->idx == 0 ? (memset(out, 0, 32), 0)
                           : node_log_link_at(c->st, r->idx, seq, out, err);
    for (size_t i = 0; i < upto; i++) {
        const unit_item *it = &c->items[i];
        if (it->fate == U_TAKE && it->links != NULL &&
            crdt_origin_equal(&it->u.cp.origin, &r->origin) && it->u.first <= seq &&
            seq <= it->u.cp.seq) {
            memcpy(out, it->links + (seq - it->u.first) * 32, 32);
            return 0;
        }
    }
    *known = false;
    return 0;
}

/* Decode and check the new bodies of a verified unit: each must be well formed and claim
 * the unit's origin and its own place in the range. */
static int decode_new(node_store *st, unit_item *it, sn_err *err)
{
    const sync_unit *u = &it->u;
    size_t k0 = (size_t)(it->take_from - u->first), m = u->count - k0;
    it->commits = sn_calloc(m, sizeof *it->commits);
    it->unknown = sn_calloc(m, sizeof *it->unknown);
    if (it->commits == NULL || it->unknown == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory decoding a unit");
    for (size_t k = 0; k < m; k++) {
        uint64_t seq = it->take_from + k;
        int rc;
        if (u->lens[k0 + k] > SCHEMA_COMMIT_MAX)
            rc = sn_err_set(err, SN_ECORRUPT, "commit %llu: body of %zu bytes exceeds the "
                            "%u-byte limit", (unsigned long long)seq, u->lens[k0 + k],
                            SCHEMA_COMMIT_MAX);
        else
            rc = schema_commit_decode(u->bodies[k0 + k], u->lens[k0 + k], &it->commits[k], err);
        if (rc == 0)
            rc = schema_commit_check(it->commits[k], &it->unknown[k], err);
        if (rc != 0)
            return rc;
        const schema_commit *cm = it->commits[k];
        if (!crdt_origin_equal(&cm->origin, &u->cp.origin)) {
            char o[48];
            origin_text(o, &cm->origin);
            sn_err_set(err, SN_EAUTH, "commit %llu claims origin %s, not the origin that "
                       "signed the unit", (unsigned long long)seq, o);
            sn_err_hint(err, "a node may only sign its own commits; the unit was refused");
            return SN_EAUTH;
        }
        if (cm->seq != seq)
            return sn_err_set(err, SN_EAUTH, "the commit at place %llu of the unit says it "
                              "is commit %llu", (unsigned long long)seq,
                              (unsigned long long)cm->seq);
    }
    (void)st;
    return 0;
}

static int check_own_origin(node_store *st, const sync_unit *u, sn_err *err)
{
    if (!crdt_origin_equal(&u->cp.origin, &st->self) || u->cp.seq <= st->self_held)
        return 0;
    sn_err_set(err, SN_EINVAL, "it claims this node's own origin with commits this node "
               "never wrote (it holds %llu)", (unsigned long long)st->self_held);
    sn_err_hint(err, "two stores share one identity (a copied store directory?); stop and ask "
                     "your administrator");
    return SN_EINVAL;
}

/* Phase one for item i: everything that can be known without writing. */
static int verify_item(unit_call *c, size_t i, sn_err *err)
{
    node_store *st = c->st;
    unit_item *it = &c->items[i];
    int rc = sync_unit_parse(it->raw->p, it->raw->n, &it->u, err);
    if (rc != 0) {
        sn_err_prefix(err, "unit %zu of %zu", i + 1, c->n);
        return rc;
    }
    it->parsed = true;
    const sync_unit *u = &it->u;
    sync_cert cert;
    rc = node_trust_cert_get(st, u->cp.origin.replica, u->cp.cert_serial, &cert, err);
    if (rc == SN_ENOTFOUND) {
        sn_err_clear(err);
        rc = sn_err_set(err, SN_EAUTH, "its signer's certificate (serial %llu) is not known here",
                   (unsigned long long)u->cp.cert_serial);
        sn_err_hint(err, "log files carry their origins' certificates; this one came without "
                         "it, or from another deployment");
    }
    if (rc == 0)
        rc = check_own_origin(st, u, err);
    unit_run *r = NULL;
    if (rc == 0)
        rc = run_of(c, &u->cp.origin, &r, err);
    if (rc != 0)
        return unit_fail(err, i, c->n, u);
    if (r->frozen_from != 0 && u->first >= r->frozen_from) {
        /* Nothing in it may apply; one that starts before the freeze is still taken, so
         * the commits before it reach every node (those after stay held, not applied). */
        it->fate = U_FROZEN;
        return 0;
    }
    uint8_t prev[32];
    bool known;
    rc = link_at(c, i, r, u->first - 1, prev, &known, err);
    if (rc == 0 && !known) { /* a gap: keep it whole until the commits before it arrive */
        rc = sync_checkpoint_verify(&u->cp, cert.sign_pk, err);
        it->fate = U_DEFER;
        return rc == 0 ? 0 : unit_fail(err, i, c->n, u);
    }
    /* A unit wholly held whose checkpoint is byte for byte the one stored (a duplicate):
     * its signature was checked when that was stored; the chain is hashed all the same. */
    bool kept = false;
    if (rc == 0 && u->cp.seq <= r->store_held)
        rc = node_checkpoint_is_held(st, &u->cp, &kept, err);
    it->links = rc == 0 ? sn_malloc((size_t)u->count * 32) : NULL;
    if (rc == 0 && it->links == NULL)
        rc = sn_err_set(err, SN_ENOMEM, "out of memory verifying a unit");
    if (rc == 0)
        rc = kept ? sync_unit_verify_chain(u, prev, it->links, err)
                  : sync_unit_verify(u, prev, cert.sign_pk, it->links, err);
    if (rc == SN_EAUTH && u->cp.seq <= r->to &&
        sync_checkpoint_verify(&u->cp, cert.sign_pk, NULL) == 0) {
        /* A validly signed checkpoint at a seq held, but the bodies do not lead to it: if
         * our link there differs, the origin signed two histories. */
        uint8_t ours[32];
        int lrc = link_at(c, i, r, u->cp.seq, ours, &known, NULL);
        if (lrc == 0 && known && memcmp(ours, u->cp.link, 32) != 0) {
            sn_err_clear(err);
            sn_free(it->links);
            it->links = NULL;
            it->fate = U_EQUIV;
            it->equiv_seq = u->cp.seq;
            return 0;
        }
    }
    if (rc == SN_EAUTH && u->first > 1 && u->cp.seq > r->to &&
        sync_checkpoint_verify(&u->cp, cert.sign_pk, NULL) == 0) {
        /* A validly signed checkpoint past what we hold that the bodies do not reach from
         * our link at first-1: the origin signed another history than ours up to there (or
         * a relay altered a body). Nothing of it is taken; refusing the whole call would end
         * the session before the heads that can prove the fork, and every later one too. */
        sn_err_clear(err);
        sn_free(it->links);
        it->links = NULL;
        it->fate = U_DISPUTED;
        return 0;
    }
    if (rc != 0)
        return unit_fail(err, i, c->n, u);
    uint64_t overlap = u->cp.seq < r->to ? u->cp.seq : r->to;
    for (uint64_t q = u->first; q <= overlap && rc == 0; q++) {
        uint8_t ours[32];
        rc = link_at(c, i, r, q, ours, &known, err);
        if (rc == 0 && known && memcmp(ours, it->links + (q - u->first) * 32, 32) != 0) {
            it->fate = U_EQUIV;
            it->equiv_seq = q;
            return 0;
        }
    }
    if (rc != 0)
        return unit_fail(err, i, c->n, u);
    if (u->cp.seq <= r->to) {
        it->fate = U_DUP;
        return 0;
    }
    it->fate = U_TAKE;
    it->take_from = r->to + 1;
    rc = decode_new(st, it, err);
    if (rc != 0)
        return unit_fail(err, i, c->n, u);
    r->to = u->cp.seq;
    return 0;
}

static int checkpoint_put(node_store *st, uint32_t idx, const sync_checkpoint *cp, sn_err *err)
{
    uint8_t b[SYNC_CHECKPOINT_LEN];
    sync_checkpoint_encode(cp, b);
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "INSERT OR IGNORE INTO checkpoint(origin, seq, serial,"
                              " bytes) VALUES (?1, ?2, ?3, ?4)", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "storing a checkpoint");
    sqlite3_bind_int64(s, 1, idx);
    sqlite3_bind_int64(s, 2, (int64_t)cp->seq);
    sqlite3_bind_int64(s, 3, (int64_t)cp->cert_serial);
    sqlite3_bind_blob(s, 4, b, sizeof b, SQLITE_TRANSIENT);
    rc = node_stmt_exec(st, s, err, "storing a checkpoint");
    node_stmt_release(st, s);
    return rc;
}

int node_checkpoint_store(node_store *st, uint32_t idx, const sync_checkpoint *cp, sn_err *err)
{
    return checkpoint_put(st, idx, cp, err);
}

/* Store the verified new commits of a unit, their links, and its checkpoint. */
static int store_take(node_store *st, uint32_t idx, const unit_item *it, node_unit_stats *stats,
                      sn_err *err)
{
    node_origin_state os;
    int rc = node_origin_state_get(st, idx, &os, err);
    if (rc == 0 && os.held + 1 != it->take_from)
        rc = sn_err_set(err, SN_ECORRUPT, "store '%s': origin %u moved while importing",
                        st->dir, idx);
    sqlite3_stmt *s = NULL;
    if (rc == 0 &&
        node_stmt_cached(st, "INSERT OR REPLACE INTO commit_log(key, hlc, body, unknown,"
                         " link) VALUES (?1, ?2, ?3, ?4, ?5)", &s) != SQLITE_OK)
        rc = node_store_fail(st, sqlite3_errcode(st->db), err, "storing a commit");
    const sync_unit *u = &it->u;
    for (uint64_t seq = it->take_from; rc == 0 && seq <= u->cp.seq; seq++) {
        size_t k = (size_t)(seq - u->first), j = (size_t)(seq - it->take_from);
        sqlite3_bind_int64(s, 1, NODE_LOG_KEY(idx, seq));
        sqlite3_bind_int64(s, 2, (int64_t)it->commits[j]->hlc);
        sqlite3_bind_blob(s, 3, u->bodies[k], (int)u->lens[k], SQLITE_STATIC);
        sqlite3_bind_int(s, 4, it->unknown[j] ? 1 : 0);
        sqlite3_bind_blob(s, 5, it->links + k * 32, 32, SQLITE_STATIC);
        rc = node_stmt_exec(st, s, err, "storing a commit");
        stats->commits++;
        if (it->unknown[j])
            stats->unknown++;
    }
    node_stmt_release(st, s);
    if (rc == 0) {
        os.held = u->cp.seq;
        memcpy(os.link, u->cp.link, 32);
        rc = node_origin_state_put(st, idx, &os, err);
    }
    if (rc == 0)
        rc = checkpoint_put(st, idx, &u->cp, err);
    return rc;
}

static void unit_warn_disputed(const sync_unit *u)
{
    char o[48];
    origin_text(o, &u->cp.origin);
    sn_log(SN_LOG_WARN, "a unit of origin %s (commits %llu..%llu) is validly signed but does "
           "not follow the history held here: the origin signed two histories, or a relay "
           "altered it; not taken", o, (unsigned long long)u->first,
           (unsigned long long)u->cp.seq);
}

static int wait_put(node_store *st, uint32_t idx, const unit_item *it, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT coalesce(sum(last - first + 1), 0) FROM"
                              " unit_wait WHERE origin = ?1", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "counting waiting units");
    sqlite3_bind_int64(s, 1, idx);
    rc = sqlite3_step(s);
    uint64_t waiting = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    node_stmt_release(st, s);
    if (rc != SQLITE_ROW)
        return node_store_fail(st, rc, err, "counting waiting units");
    if (waiting + it->u.count > st->opts.max_waiting) {
        sn_err_set(err, SN_ETOOBIG, "%llu commits of one origin already wait for earlier ones "
                   "(limit %llu)", (unsigned long long)waiting,
                   (unsigned long long)st->opts.max_waiting);
        sn_err_hint(err, "import the earlier commits of that origin first");
        return SN_ETOOBIG;
    }
    rc = node_stmt_cached(st, "INSERT OR IGNORE INTO unit_wait(origin, first, last, bytes,"
                          " since_ms) VALUES (?1, ?2, ?3, ?4, ?5)", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "keeping a unit for later");
    sqlite3_bind_int64(s, 1, idx);
    sqlite3_bind_int64(s, 2, (int64_t)it->u.first);
    sqlite3_bind_int64(s, 3, (int64_t)it->u.cp.seq);
    sqlite3_bind_blob(s, 4, it->raw->p, (int)it->raw->n, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (int64_t)node_now_ms(st));
    rc = node_stmt_exec(st, s, err, "keeping a unit for later");
    node_stmt_release(st, s);
    return rc;
}

static int wait_prune(node_store *st, uint32_t idx, sn_err *err)
{
    node_origin_state os;
    int rc = node_origin_state_get(st, idx, &os, err);
    sqlite3_stmt *s = NULL;
    if (rc == 0 && node_stmt_cached(st, "DELETE FROM unit_wait WHERE origin = ?1 AND"
                                    " last <= ?2", &s) != SQLITE_OK)
        return node_store_fail(st, sqlite3_errcode(st->db), err, "pruning waiting units");
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, idx);
        sqlite3_bind_int64(s, 2, (int64_t)os.held);
        rc = node_stmt_exec(st, s, err, "pruning waiting units");
    }
    node_stmt_release(st, s);
    return rc;
}

/* Phase two: write what phase one decided, in one transaction. */
static int store_items(unit_call *c, node_unit_stats *stats, uint32_t *touched,
                       size_t *ntouched, sn_err *err)
{
    node_store *st = c->st;
    int rc = node_txn_begin(st, err);
    for (size_t i = 0; i < c->n && rc == 0; i++) {
        unit_item *it = &c->items[i];
        uint32_t idx = 0;
        if (it->fate == U_FROZEN || it->fate == U_DISPUTED) {
            stats->frozen += it->fate == U_FROZEN;
            stats->disputed += it->fate == U_DISPUTED;
            if (it->fate == U_DISPUTED)
                unit_warn_disputed(&it->u);
            continue;
        }
        rc = node_origin_intern(st, &it->u.cp.origin, &idx, err);
        if (rc != 0)
            break;
        switch (it->fate) {
        case U_TAKE:
            rc = store_take(st, idx, it, stats, err);
            stats->taken++;
            break;
        case U_DUP:
            rc = checkpoint_put(st, idx, &it->u.cp, err);
            stats->duplicates++;
            break;
        case U_DEFER:
            rc = wait_put(st, idx, it, err);
            stats->deferred++;
            break;
        case U_EQUIV: {
            bool fresh = false;
            rc = node_equivocation_found(st, idx, it->equiv_seq, &it->u.cp,
                                         it->links != NULL ? &it->u : NULL, it->links, &fresh,
                                         err);
            stats->equivocations += fresh ? 1 : 0;
            break;
        }
        case U_FROZEN:
        case U_DISPUTED:
            break;
        }
        size_t k = 0;
        while (k < *ntouched && touched[k] != idx)
            k++;
        if (k == *ntouched)
            touched[(*ntouched)++] = idx;
    }
    for (size_t k = 0; k < *ntouched && rc == 0; k++)
        rc = wait_prune(st, touched[k], err);
    if (rc == 0)
        rc = node_bounds_refresh(st, touched, *ntouched, err);
    return node_txn_end(st, rc, err);
}

static void call_free(unit_call *c)
{
    for (size_t i = 0; c->items != NULL && i < c->n; i++) {
        unit_item *it = &c->items[i];
        if (it->commits != NULL) {
            size_t m = it->u.count - (size_t)(it->take_from - it->u.first);
            for (size_t k = 0; k < m; k++)
                schema_commit_free(it->commits[k]);
        }
        sn_free(it->commits);
        sn_free(it->unknown);
        sn_free(it->links);
        if (it->parsed)
            sync_unit_free(&it->u);
    }
    sn_free(c->items);
    sn_free(c->runs);
}

static int import_once(node_store *st, const node_body *units, size_t n, node_unit_stats *stats,
                       uint32_t *touched, size_t *ntouched, sn_err *err)
{
    unit_call c = {.st = st, .n = n};
    c.items = sn_calloc(n == 0 ? 1 : n, sizeof *c.items);
    c.runs = sn_calloc(n == 0 ? 1 : n, sizeof *c.runs);
    int rc = 0;
    if (c.items == NULL || c.runs == NULL)
        rc = sn_err_set(err, SN_ENOMEM, "out of memory importing %zu units", n);
    bool owned = rc == 0 && node_read_begin(st); /* phase one only reads */
    for (size_t i = 0; i < n && rc == 0; i++) {
        c.items[i].raw = &units[i];
        rc = verify_item(&c, i, err);
    }
    node_read_end(st, owned);
    if (rc == 0)
        rc = store_items(&c, stats, touched, ntouched, err);
    call_free(&c);
    return rc;
}

/* Units kept for later whose predecessors are now held; loaded into `bufs`. */
static int wait_ready(node_store *st, uint32_t idx, sn_buf **bufs, node_body **bodies, size_t *n,
                      sn_err *err)
{
    node_origin_state os;
    int rc = node_origin_state_get(st, idx, &os, err);
    sqlite3_stmt *s = NULL;
    if (rc == 0 && node_stmt_cached(st, "SELECT bytes FROM unit_wait WHERE origin = ?1"
                                    " AND first <= ?2 ORDER BY first, last", &s) != SQLITE_OK)
        return node_store_fail(st, sqlite3_errcode(st->db), err, "reading waiting units");
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(s, 1, idx);
    sqlite3_bind_int64(s, 2, (int64_t)os.held + 1);
    int src;
    while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(s, 0);
        sn_buf *nb = sn_realloc(*bufs, (*n + 1) * sizeof **bufs);
        node_body *nbody = nb != NULL ? sn_realloc(*bodies, (*n + 1) * sizeof **bodies) : NULL;
        if (nb != NULL)
            *bufs = nb;
        if (nbody != NULL)
            *bodies = nbody;
        if (nb == NULL || nbody == NULL) {
            rc = sn_err_set(err, SN_ENOMEM, "out of memory reading waiting units");
            break;
        }
        sn_buf_init(&(*bufs)[*n], len + 1);
        rc = sn_buf_append(&(*bufs)[*n], sqlite3_column_blob(s, 0), len, err);
        (*n)++;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = node_store_fail(st, src, err, "reading waiting units");
    node_stmt_release(st, s);
    for (size_t i = 0; i < *n; i++)
        (*bodies)[i] = (node_body){.p = (*bufs)[i].data, .n = (*bufs)[i].len};
    return rc;
}

/* A waiting unit that no longer verifies was never accepted: drop it and say so. */
static int wait_drop(node_store *st, uint32_t idx, const node_body *b, const sn_err *why,
                     sn_err *err)
{
    sn_log(SN_LOG_WARN, "dropping a unit kept for later: %s", why->msg);
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "DELETE FROM unit_wait WHERE origin = ?1 AND bytes = ?2", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "dropping a waiting unit");
    sqlite3_bind_int64(s, 1, idx);
    sqlite3_bind_blob(s, 2, b->p, (int)b->n, SQLITE_STATIC);
    rc = node_stmt_exec(st, s, err, "dropping a waiting unit");
    node_stmt_release(st, s);
    return rc;
}

/* Take waiting units whose gap has filled, one at a time, until none is ready. */
static int take_waiting(node_store *st, uint32_t *touched, size_t *ntouched,
                        node_unit_stats *stats, sn_err *err)
{
    int rc = 0;
    for (size_t k = 0; k < *ntouched && rc == 0; k++) {
        bool progress = true;
        while (progress && rc == 0) {
            progress = false;
            sn_buf *bufs = NULL;
            node_body *bodies = NULL;
            size_t n = 0;
            rc = wait_ready(st, touched[k], &bufs, &bodies, &n, err);
            for (size_t i = 0; i < n && rc == 0; i++) {
                node_unit_stats one = {0};
                sn_err why = SN_ERR_INIT;
                int irc = import_once(st, &bodies[i], 1, &one, touched, ntouched, &why);
                if (irc == SN_ENOMEM || irc == SN_EIO) {
                    *err = why;
                    rc = irc;
                } else if (irc != 0) {
                    rc = wait_drop(st, touched[k], &bodies[i], &why, err);
                } else {
                    stats->taken += one.taken;
                    stats->commits += one.commits;
                    stats->unknown += one.unknown;
                    stats->equivocations += one.equivocations;
                    progress = progress || one.taken > 0;
                }
            }
            for (size_t i = 0; i < n; i++)
                sn_buf_free(&bufs[i]);
            sn_free(bufs);
            sn_free(bodies);
        }
    }
    return rc;
}

int node_store_import_units(node_store *st, const node_body *units, size_t n,
                            node_unit_stats *stats, sn_err *err)
{
    node_unit_stats local = {0};
    if (stats == NULL)
        stats = &local;
    *stats = (node_unit_stats){.units = n};
    /* Each unit names one origin; waiting units add none beyond those. */
    uint32_t *touched = sn_calloc(n + 1, sizeof *touched);
    if (touched == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory importing %zu units", n);
    size_t ntouched = 0;
    int rc = import_once(st, units, n, stats, touched, &ntouched, err);
    if (rc == 0)
        rc = take_waiting(st, touched, &ntouched, stats, err);
    sn_free(touched);
    return rc;
}

int node_store_offer_checkpoints(node_store *st, const node_body *cps, size_t n,
                                 size_t *equivocations, sn_err *err)
{
    *equivocations = 0;
    int rc = node_txn_begin(st, err);
    for (size_t i = 0; i < n && rc == 0; i++) {
        sync_checkpoint cp;
        sync_cert cert;
        bool kept = false; /* the one stored, verified when it was: no second check */
        rc = sync_checkpoint_parse(cps[i].p, cps[i].n, &cp, err);
        if (rc == 0)
            rc = node_checkpoint_is_held(st, &cp, &kept, err);
        if (rc == 0 && !kept)
            rc = node_trust_cert_get(st, cp.origin.replica, cp.cert_serial, &cert, err);
        if (rc == 0 && !kept)
            rc = sync_checkpoint_verify(&cp, cert.sign_pk, err);
        if (rc != 0) {
            sn_err_prefix(err, "checkpoint %zu of %zu", i + 1, n);
            break;
        }
        uint32_t idx = node_origin_find(st, &cp.origin);
        node_origin_state os;
        if (idx == 0)
            continue;
        rc = node_origin_state_get(st, idx, &os, err);
        if (rc != 0 || cp.seq > os.held)
            continue; /* the sender holds more: nothing to compare yet */
        uint8_t ours[32];
        rc = node_log_link_at(st, idx, cp.seq, ours, err);
        if (rc == 0 && memcmp(ours, cp.link, 32) == 0) {
            rc = checkpoint_put(st, idx, &cp, err);
        } else if (rc == 0) {
            bool fresh = false;
            rc = node_equivocation_found(st, idx, cp.seq, &cp, NULL, NULL, &fresh, err);
            *equivocations += fresh ? 1 : 0;
            if (rc == 0)
                rc = node_bounds_refresh(st, &idx, 1, err);
        }
    }
    return node_txn_end(st, rc, err);
}
