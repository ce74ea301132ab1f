/* node/bundle.c - making and importing store-and-forward bundles (node/bundle.h): which
 * units a peer lacks and how they are cut into parts, and the order of checks on import. */
#include "node/bundle.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/log.h"
#include "node/fileio.h"
#include "node/peers.h"
#include "node/trust.h"
#include "node/units.h"
#include "sync/crl.h"
#include "sync/unit.h"
#include "sync/wire.h"

/* ---- shared ---- */

/* The entry of `crl` revoking certificate `c`, or NULL. */
static const sync_crl_entry *crl_revokes(const sync_crl *crl, const sync_cert *c)
{
    for (size_t i = 0; i < crl->n; i++)
        if (crl->entries[i].serial == c->serial &&
            memcmp(crl->entries[i].replica, c->replica, 16) == 0)
            return &crl->entries[i];
    return NULL;
}

static int refuse_revoked(node_store *st, const sync_cert *c, const char *role, sn_err *err)
{
    sync_crl crl;
    int rc = node_trust_crl(st, &crl, err);
    if (rc == 0 && crl_revokes(&crl, c) != NULL) {
        char hex[33];
        sn_hex(hex, c->replica, 16);
        rc = sn_err_set(err, SN_EAUTH, "the %s '%s' (%.8s, certificate %llu) is revoked by "
                        "revocation list %llu", role, c->name, hex,
                        (unsigned long long)c->serial, (unsigned long long)crl.number);
    }
    sync_crl_free(&crl);
    return rc;
}

static void id_hex(char out[17], const uint8_t id[SYNC_BUNDLE_ID_LEN]) { sn_hex(out, id, 8); }

/* ---- the peer ---- */

typedef struct peer_match {
    const char *want;
    bool hex; /* `want` could be a replica id prefix */
    const uint8_t *self;
    bool is_self; /* `want` names this node */
    sync_cert best;
    size_t found; /* distinct replicas matching */
} peer_match;

static int match_cert(void *ctx, const sync_cert *c, sn_err *err)
{
    (void)err;
    peer_match *m = ctx;
    if (c->type != SYNC_CERT_NODE && c->type != SYNC_CERT_HUB)
        return 0;
    char hex[33];
    sn_hex(hex, c->replica, 16);
    bool by_hex = m->hex && strncmp(hex, m->want, strlen(m->want)) == 0;
    if (strcmp(c->name, m->want) != 0 && !by_hex)
        return 0;
    if (memcmp(c->replica, m->self, 16) == 0) {
        m->is_self = true;
        return 0;
    }
    /* Certificates come in (replica, serial) order: a later one of the same replica is
     * newer. */
    if (m->found == 0 || memcmp(m->best.replica, c->replica, 16) != 0)
        m->found++;
    m->best = *c;
    return 0;
}

int node_bundle_peer_find(node_store *st, const char *peer, sync_cert *out, sn_err *err)
{
    size_t n = strlen(peer);
    peer_match m = {.want = peer, .hex = n >= 8 && n <= 32 && strspn(peer, "0123456789abcdef")
                    == n, .self = node_store_origin(st)->replica};
    int rc = node_trust_cert_each(st, match_cert, &m, err);
    if (rc != 0)
        return rc;
    if (m.found == 0 && m.is_self)
        return sn_err_set(err, SN_EINVAL, "'%s' is this node: a bundle is for another node",
                          peer);
    if (m.found == 0) {
        sn_err_set(err, SN_ENOTFOUND, "no node named '%s' is known here", peer);
        sn_err_hint(err, "a node's certificate arrives with its first bundle or sync; or add "
                    "it with `outpost trust add-cert FILE`; `outpost trust show` lists them");
        return SN_ENOTFOUND;
    }
    if (m.found > 1) {
        sn_err_set(err, SN_EINVAL, "'%s' names %zu different nodes", peer, m.found);
        sn_err_hint(err, "give the node's replica id (hex) instead: `outpost trust show`");
        return SN_EINVAL;
    }
    *out = m.best;
    return 0;
}

char *node_bundle_part_path(const char *path, size_t part, size_t nparts)
{
    if (nparts == 1)
        return sn_strdup(path);
    size_t n = strlen(path) + 24;
    char *p = sn_malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s.%zu", path, part);
    return p;
}

/* ---- create ---- */

typedef struct bundle_writer {
    const char *path;
    sync_bundle_meta meta;
    sn_buf cert;                       /* this node's certificate */
    uint8_t rcpt_pk[1][SYNC_X25519_LEN];
    sync_keys keys;
    sn_buf pre;         /* the records every part starts with: trust, held vector */
    size_t pre_cost;    /* their sealed size */
    sn_buf recs;        /* the part being gathered */
    size_t part_cost;   /* sealed size of recs, header and manifest included */
    size_t part_units;  /* units and heads in recs */
    size_t part_max;
    sn_buf sealed;
    node_bundle_made *made;
} bundle_writer;

static size_t recs_cost(const sn_buf *b)
{
    size_t off = 0, cost = 0;
    sync_bundle_rec r;
    while (sync_bundle_rec_next(b->data, b->len, &off, &r))
        cost += sync_bundle_rec_cost(r.n);
    return cost;
}

static int part_start(bundle_writer *w, sn_err *err)
{
    sn_buf_reset(&w->recs);
    w->part_units = 0;
    w->part_cost = sync_bundle_header_len(w->cert.len, 1) + w->pre_cost +
                   sync_bundle_trailer_len();
    return sn_buf_append(&w->recs, w->pre.data, w->pre.len, err);
}

/* Seal the part gathered and write it to path.N. */
static int part_flush(bundle_writer *w, bool last, sn_err *err)
{
    w->meta.part++;
    if (last)
        w->meta.flags |= SYNC_BUNDLE_LAST;
    sn_buf_reset(&w->sealed);
    int rc = sync_bundle_seal(&w->meta, w->cert.data, w->cert.len,
                              (const uint8_t(*)[SYNC_X25519_LEN])w->rcpt_pk, 1,
                              w->keys.sign_sk, w->recs.data, w->recs.len, &w->sealed, err);
    char *p = node_bundle_part_path(w->path, w->meta.part, 0);
    if (rc == 0 && p == NULL)
        rc = sn_err_set(err, SN_ENOMEM, "out of memory naming bundle part %u", w->meta.part);
    if (rc == 0)
        rc = node_file_write_atomic(p, w->sealed.data, w->sealed.len, err);
    sn_free(p);
    if (rc != 0)
        return rc;
    w->made->parts = w->meta.part;
    w->made->file_bytes += w->sealed.len;
    return last ? 0 : part_start(w, err);
}

static int put_carried(bundle_writer *w, uint8_t type, const uint8_t *p, size_t n, sn_err *err)
{
    size_t cost = sync_bundle_rec_cost(n);
    int rc = 0;
    if (w->part_units > 0 && w->part_cost + cost > w->part_max)
        rc = part_flush(w, false, err);
    if (rc == 0 && w->part_units == 0 && w->part_cost + cost > w->part_max)
        w->made->oversized = true;
    if (rc == 0)
        rc = sync_bundle_rec_put(&w->recs, type, p, n, err);
    if (rc == 0) {
        w->part_units++;
        w->part_cost += cost;
    }
    return rc;
}

static int on_unit(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    bundle_writer *w = ctx;
    int rc = put_carried(w, SYNC_BREC_UNIT, p, n, err);
    if (rc == 0 && n >= SYNC_UNIT_HEADER_LEN) {
        uint32_t count = sn_load_u32be(p + 16);
        w->made->units++;
        w->made->commits += count;
        w->made->commit_bytes += n - SYNC_UNIT_HEADER_LEN - 4 * (uint64_t)count;
    }
    return rc;
}

static int on_head(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    return put_carried(ctx, SYNC_BREC_HEAD, p, n, err);
}

static int on_proof(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    return put_carried(ctx, SYNC_BREC_PROOF, p, n, err);
}

/* What the peer is known to hold: its acknowledgements by bundle and by live sync. */
static int peer_known(node_store *st, const sync_cert *rcpt, crdt_vv *out, sn_err *err)
{
    node_bundle_peer bp;
    node_peer lp;
    bool found = false;
    int rc = node_bundle_peer_load(st, rcpt->replica, &bp, &found, err);
    if (rc == 0)
        rc = crdt_vv_copy(out, &bp.acked, err);
    node_bundle_peer_free(&bp);
    if (rc == 0 && (rc = node_peer_load(st, rcpt->replica, &lp, &found, err)) == 0) {
        rc = crdt_vv_join(out, &lp.seen, err);
        node_peer_free(&lp);
    }
    return rc;
}

/* Record the bundle as the last sent to the peer. */
static int remember_sent(node_store *st, const sync_cert *rcpt, const bundle_writer *w,
                         const crdt_vv *held, sn_err *err)
{
    node_bundle_peer bp;
    bool found = false;
    int rc = node_bundle_peer_load(st, rcpt->replica, &bp, &found, err);
    if (rc != 0)
        return rc;
    memcpy(bp.sent_id, w->meta.id, SYNC_BUNDLE_ID_LEN);
    bp.sent_ms = w->meta.created_ms;
    bp.sent_parts = w->made->parts;
    bp.sent_commits = w->made->commits;
    rc = crdt_vv_copy(&bp.sent, held, err);
    if (rc == 0)
        rc = node_bundle_peer_save(st, &bp, err);
    node_bundle_peer_free(&bp);
    return rc;
}

static int writer_open(node_store *st, bundle_writer *w, const sync_cert *rcpt,
                       const node_bundle_opts *o, const crdt_vv *held, sn_err *err)
{
    sync_cert own;
    int rc = node_trust_own(st, &own, err); /* an unenrolled node cannot sign */
    if (rc == 0)
        rc = refuse_revoked(st, rcpt, "recipient", err);
    if (rc == 0)
        rc = node_bundle_keys(st, &w->keys, err);
    if (rc == 0)
        rc = sync_cert_encode(&own, &w->cert, err);
    uint32_t ntrust = 0;
    if (rc == 0)
        rc = node_carried_put_trust(st, &w->pre, &ntrust, err);
    sn_buf vb;
    sn_buf_init(&vb, (size_t)CRDT_VV_MAX_ENTRIES * SYNC_VV_ENTRY_LEN + 4);
    if (rc == 0)
        rc = sync_vv_encode(held, &vb, err);
    if (rc == 0)
        rc = sync_bundle_rec_put(&w->pre, SYNC_BREC_HELD, vb.data, vb.len, err);
    sn_buf_free(&vb);
    if (rc != 0)
        return rc;
    memcpy(w->rcpt_pk[0], rcpt->box_pk, SYNC_X25519_LEN);
    w->part_max = o->part_max != 0 ? o->part_max : NODE_BUNDLE_PART_DEFAULT;
    w->pre_cost = recs_cost(&w->pre);
    uint64_t now = node_bundle_now_ms(st);
    uint64_t life = o->lifetime_ms != 0 ? o->lifetime_ms : NODE_BUNDLE_LIFETIME_MS;
    w->meta = (sync_bundle_meta){
        .flags = o->ack_only ? SYNC_BUNDLE_ACK : 0,
        .serial = own.serial,
        .created_ms = now,
        .expires_ms = life == UINT64_MAX || now > UINT64_MAX - life ? 0 : now + life,
    };
    sn_random_bytes(w->meta.id, sizeof w->meta.id);
    memcpy(w->meta.sender, own.replica, 16);
    memcpy(w->made->id, w->meta.id, SYNC_BUNDLE_ID_LEN);
    return part_start(w, err);
}

int node_bundle_create(node_store *st, const sync_cert *rcpt, const char *path,
                       const node_bundle_opts *opts, node_bundle_made *made, sn_err *err)
{
    node_bundle_opts dflt = {0};
    node_bundle_made local;
    if (opts == NULL)
        opts = &dflt;
    if (made == NULL)
        made = &local;
    *made = (node_bundle_made){0};
    if (opts->part_max != 0 && opts->part_max < NODE_BUNDLE_PART_MIN)
        return sn_err_set(err, SN_EINVAL, "a bundle part of at most %zu bytes is too small "
                          "(at least %zu)", opts->part_max, NODE_BUNDLE_PART_MIN);
    bundle_writer w = {.path = path, .made = made};
    sn_buf_init(&w.cert, SYNC_CERT_MAX);
    sn_buf_init(&w.pre, NODE_BUNDLE_FILE_MAX);
    sn_buf_init(&w.recs, NODE_BUNDLE_FILE_MAX);
    sn_buf_init(&w.sealed, NODE_BUNDLE_FILE_MAX);
    crdt_vv held, known;
    crdt_vv_init(&held);
    crdt_vv_init(&known);
    int rc = node_store_held(st, &held, err);
    if (rc == 0 && !opts->all)
        rc = peer_known(st, rcpt, &known, err);
    if (rc == 0)
        rc = writer_open(st, &w, rcpt, opts, &held, err);
    if (rc == 0 && !opts->ack_only) {
        size_t target = w.part_max / 4 < NODE_UNIT_TARGET ? w.part_max / 4 : NODE_UNIT_TARGET;
        rc = node_store_export_units_sized(st, opts->all ? NULL : &known, target, on_unit,
                                           on_head, &w, NULL, err);
        if (rc == 0) /* and every proof of equivocation held: the freeze travels too */
            rc = node_store_export_proofs(st, on_proof, &w, NULL, err);
    }
    if (rc == 0)
        rc = part_flush(&w, true, err);
    if (rc == 0 && made->parts == 1) {
        char *p1 = node_bundle_part_path(path, 1, 0);
        if (p1 == NULL)
            rc = sn_err_set(err, SN_ENOMEM, "out of memory naming a bundle file");
        else if (rename(p1, path) != 0)
            rc = sn_err_set(err, SN_EIO, "cannot rename '%s' to '%s': %s", p1, path,
                            strerror(errno));
        sn_free(p1);
    }
    if (rc == 0)
        rc = remember_sent(st, rcpt, &w, &held, err);
    if (rc != 0)
        sn_err_prefix(err, "making a bundle for '%s' in '%s'", rcpt->name, path);
    sync_keys_wipe(&w.keys);
    sn_wipe(w.recs.data, w.recs.len);
    sn_buf_free(&w.cert);
    sn_buf_free(&w.pre);
    sn_buf_free(&w.recs);
    sn_buf_free(&w.sealed);
    crdt_vv_free(&held);
    crdt_vv_free(&known);
    return rc;
}

/* ---- import ---- */

/* The sender: its certificate chains to the pinned CA and is the one the header names, the
 * header is signed by it, and it is not revoked. */
static int check_sender(node_store *st, const sync_bundle_header *h, sync_cert *sender,
                        sn_err *err)
{
    sync_cert ca;
    int rc = node_trust_ca(st, &ca, err); /* nothing can be verified before enrolment */
    if (rc != 0)
        return rc;
    if ((rc = sync_cert_parse(h->cert, h->cert_len, sender, err)) != 0) {
        sn_err_prefix(err, "the sender's certificate in the bundle header");
        return rc;
    }
    if ((rc = sync_cert_verify(sender, ca.sign_pk, 0, err)) != 0) {
        sn_err_prefix(err, "the sender's certificate ('%s') does not chain to this node's CA",
                      sender->name);
        sn_err_hint(err, "the bundle comes from another deployment: it cannot be imported");
        return SN_EAUTH;
    }
    if (memcmp(sender->replica, h->m.sender, 16) != 0 || sender->serial != h->m.serial)
        return sn_err_set(err, SN_EAUTH, "the bundle header names another sender than its "
                          "certificate ('%s')", sender->name);
    if (memcmp(sender->replica, node_store_origin(st)->replica, 16) == 0)
        return sn_err_set(err, SN_EINVAL, "the bundle was made by this node: it is for "
                          "the node it was made for");
    rc = sync_bundle_header_verify(h, sender->sign_pk, err);
    if (rc == SN_EAUTH) {
        sn_err_set(err, SN_EAUTH, "the bundle header's signature does not verify as sender "
                   "'%s': the header was altered or re-signed", sender->name);
        sn_err_hint(err, "ask the sender for a new bundle; nothing was imported");
    }
    if (rc == 0)
        rc = refuse_revoked(st, sender, "sender", err);
    return rc;
}

static int unseal(node_store *st, const sync_bundle_header *h, uint8_t key[SYNC_BOX_KEY_LEN],
                  sn_err *err)
{
    sync_keys keys;
    int rc = node_bundle_keys(st, &keys, err);
    if (rc == 0)
        rc = sync_bundle_unseal(h, keys.box_pk, keys.box_sk, key, err);
    sync_keys_wipe(&keys);
    return rc;
}

typedef struct carried_recs {
    node_body *of[SYNC_BREC_MANIFEST]; /* by record type; index 0 unused */
    size_t n[SYNC_BREC_MANIFEST];
} carried_recs;

static void carried_free(carried_recs *c)
{
    for (int k = 0; k < SYNC_BREC_MANIFEST; k++)
        sn_free(c->of[k]);
}

/* Sort the records by type; at most one revocation list and one held vector, and no
 * units in an acknowledgement. */
static int carried_sort(const sn_buf *recs, size_t count, bool ack, carried_recs *c,
                        sn_err *err)
{
    for (int k = 1; k < SYNC_BREC_MANIFEST; k++) {
        c->of[k] = sn_calloc(count == 0 ? 1 : count, sizeof *c->of[k]);
        if (c->of[k] == NULL)
            return sn_err_set(err, SN_ENOMEM, "out of memory sorting %zu bundle records",
                              count);
    }
    size_t off = 0;
    sync_bundle_rec r;
    while (sync_bundle_rec_next(recs->data, recs->len, &off, &r))
        c->of[r.type][c->n[r.type]++] = (node_body){.p = r.p, .n = r.n};
    if (c->n[SYNC_BREC_CRL] > 1 || c->n[SYNC_BREC_HELD] > 1)
        return sn_err_set(err, SN_ECORRUPT, "the bundle holds %zu revocation lists and %zu "
                          "held vectors (at most one each)", c->n[SYNC_BREC_CRL],
                          c->n[SYNC_BREC_HELD]);
    if (ack && c->n[SYNC_BREC_UNIT] > 0)
        return sn_err_set(err, SN_ECORRUPT, "the acknowledgement bundle carries %zu units",
                          c->n[SYNC_BREC_UNIT]);
    return 0;
}

/* Learn what the sender holds and that this bundle came from it (inside the batch). */
static int remember_received(node_store *st, const sync_bundle_header *h, const carried_recs *c,
                             sn_err *err)
{
    node_bundle_peer bp;
    bool found = false;
    int rc = node_bundle_peer_load(st, h->m.sender, &bp, &found, err);
    if (rc != 0)
        return rc;
    crdt_vv held;
    crdt_vv_init(&held);
    if (c->n[SYNC_BREC_HELD] == 1) {
        rc = sync_vv_parse(c->of[SYNC_BREC_HELD][0].p, c->of[SYNC_BREC_HELD][0].n, &held, err);
        if (rc != 0)
            sn_err_prefix(err, "the sender's held vector in the bundle");
        if (rc == 0)
            rc = crdt_vv_join(&bp.acked, &held, err);
        bp.acked_ms = node_bundle_now_ms(st);
    }
    memcpy(bp.recv_id, h->m.id, SYNC_BUNDLE_ID_LEN);
    bp.recv_ms = node_bundle_now_ms(st);
    if (rc == 0)
        rc = node_bundle_peer_save(st, &bp, err);
    crdt_vv_free(&held);
    node_bundle_peer_free(&bp);
    return rc;
}

/* Everything verified: take it in one batch, then apply what became contiguous. */
static int take(node_store *st, const sync_bundle_header *h, const sync_cert *sender,
                const carried_recs *c, const uint8_t hash[32], node_logfile_stats *stats,
                sn_err *err)
{
    node_carried nc = {
        .certs = c->of[SYNC_BREC_CERT], .ncerts = c->n[SYNC_BREC_CERT],
        .crl = c->n[SYNC_BREC_CRL] > 0 ? &c->of[SYNC_BREC_CRL][0] : NULL,
        .units = c->of[SYNC_BREC_UNIT], .nunits = c->n[SYNC_BREC_UNIT],
        .heads = c->of[SYNC_BREC_HEAD], .nheads = c->n[SYNC_BREC_HEAD],
        .proofs = c->of[SYNC_BREC_PROOF], .nproofs = c->n[SYNC_BREC_PROOF],
    };
    int rc = node_store_batch_begin(st, err);
    if (rc != 0)
        return rc;
    rc = node_trust_cert_add(st, sender, err); /* so an acknowledgement can be sealed to it */
    if (rc == 0)
        rc = node_carried_take(st, &nc, stats, err);
    if (rc == 0)
        rc = remember_received(st, h, c, err);
    if (rc == 0)
        rc = node_bundle_seen_put(st, &h->m, hash, err);
    if (rc == 0)
        rc = node_store_batch_commit(st, err);
    else
        node_store_batch_abort(st);
    if (rc == 0)
        rc = node_store_apply_pending(st, &stats->applied, err);
    return rc;
}

static int check_expiry(node_store *st, const sync_bundle_meta *m, bool accept, sn_err *err)
{
    uint64_t now = node_bundle_now_ms(st);
    if (m->expires_ms == 0 || now <= m->expires_ms || accept)
        return 0;
    sn_err_set(err, SN_EINVAL, "the bundle expired %llu days ago (its sender set a lifetime "
               "of %llu days)", (unsigned long long)((now - m->expires_ms) / 86400000),
               (unsigned long long)((m->expires_ms - m->created_ms) / 86400000));
    sn_err_hint(err, "import it anyway with --accept-expired if the records are still wanted");
    return SN_EINVAL;
}

int node_bundle_import(node_store *st, const char *path, const node_bundle_import_opts *opts,
                       node_bundle_got *got, sn_err *err)
{
    node_bundle_import_opts dflt = {0};
    node_bundle_got local;
    if (opts == NULL)
        opts = &dflt;
    if (got == NULL)
        got = &local;
    *got = (node_bundle_got){0};
    sn_buf b, recs;
    sn_buf_init(&recs, NODE_BUNDLE_FILE_MAX);
    int rc = node_file_read(path, NODE_BUNDLE_FILE_MAX, &b, err);
    if (rc != 0)
        return rc;
    sync_bundle_header h;
    sync_cert sender;
    uint8_t key[SYNC_BOX_KEY_LEN], hash[32];
    carried_recs c = {0};
    size_t count = 0;
    rc = sync_bundle_header_parse(b.data, b.len, &h, err);
    if (rc == 0)
        got->meta = h.m;
    if (rc == 0)
        rc = check_sender(st, &h, &sender, err);
    if (rc == 0) {
        snprintf(got->sender_name, sizeof got->sender_name, "%s", sender.name);
        rc = unseal(st, &h, key, err);
    }
    if (rc == 0) {
        sn_blake2b(hash, sizeof hash, b.data, b.len);
        rc = node_bundle_seen(st, &h.m, hash, &got->duplicate, &got->duplicate_ms, err);
    }
    if (rc == 0 && got->duplicate) {
        char id[17];
        id_hex(id, h.m.id);
        sn_log_info("bundle %s part %u from '%s' ('%s') was already imported: nothing to do",
                    id, h.m.part, sender.name, path);
        /* Unless an apply after that import failed (full disk): finish it now. */
        rc = node_store_apply_pending(st, &got->taken.applied, err);
    } else {
        if (rc == 0)
            rc = check_expiry(st, &h.m, opts->accept_expired, err);
        if (rc == 0)
            rc = sync_bundle_body_open(&h, b.data, b.len, key, &recs, &count, err);
        if (rc == 0)
            rc = carried_sort(&recs, count, (h.m.flags & SYNC_BUNDLE_ACK) != 0, &c, err);
        if (rc == 0)
            rc = take(st, &h, &sender, &c, hash, &got->taken, err);
    }
    if (rc != 0)
        sn_err_prefix(err, "importing bundle '%s'", path);
    sn_wipe(key, sizeof key);
    carried_free(&c);
    sn_wipe(recs.data, recs.len);
    sn_buf_free(&recs);
    sn_buf_free(&b);
    return rc;
}
