/* fuzz/fuzz_bundle.c - store-and-forward bundles: their opening by sync/bundle.c (header,
 * the sender's signature, the stanza sealed to this node, the body's frames and manifest)
 * and their import into a real store enrolled with the fixed CA (node/bundle.c:
 * node_bundle_import): the sender's certificate and revocation, expiry, then the carried
 * certificates, revocation list, units with their commit bodies, heads, proofs of
 * equivocation and held vector, and apply.
 *
 * Input: mode u8 | rest; mode % 4 picks:
 *   0 the file as received, imported (random bytes stop at the sender's signature; the
 *     seeds are real bundles sealed to the fixed bundle key every harness store holds);
 *   1 the file as received, opened without a store as the import does: the header parsed,
 *     the certificate in it verified against the fixed CA, the signature checked under it,
 *     the stanza opened with the fixed bundle key, the body decrypted and its manifest
 *     checked;
 *   2 rest is opts u8 | part u8 | expiry u8 | records (type u8 | len u32be | bytes, as
 *     sync_bundle_rec_put writes them; the well-formed prefix is taken). The harness seals
 *     the records as one part sent by the fixed origin to the store, after (opts >> 4) & 3
 *     other recipients, with header flags opts & 3, part number part + 1 and expiry 0
 *     (never), 1 (a day ago) or n (n days on); opens it again as mode 1 does, which must
 *     give back the same fields and records (or refuse it, when a record is of an unknown
 *     type); then imports it, accepting it expired when opts & 4;
 *   3 rest is sk (64 bytes, an Ed25519 secret key) | mode 2's input: every unit record the
 *     harness can follow is re-sealed and every head re-signed with sk (as fuzz_logfile's
 *     mode 2), so mutated commit bodies reach decoding, storing and apply. The seeds carry
 *     the key of the store that made them.
 * The store is made once; an import that succeeds changes it, so it is then checked, the
 * same file imported again must be a duplicate that changes nothing, and the store is made
 * afresh. Checks: a refusal says why and leaves the store's counts, held vector,
 * equivocations and state as they were; a header that parses has the layout
 * sync/bundle.c gives it; a body that fails to open leaves no records, one that opens holds
 * records of known types, as many as it says. */
#include <string.h>

#include "base/alloc.h"
#include "fuzz/fuzz_common.h"
#include "node/bundle.h"
#include "sync/bundle.h"
#include "sync/frame.h"

#define DAY_MS (UINT64_C(86400) * 1000)
#define OTHERS_MAX 3

static node_store *g_store;
static uint8_t g_box_pk[SYNC_X25519_LEN]; /* the store's bundle key, as the store reads it */

static void store_reset(void)
{
    node_store_close(g_store);
    g_store = fuzz_store_fresh(7);
    sync_keys keys;
    sn_err err = SN_ERR_INIT;
    if (node_bundle_keys(g_store, &keys, &err) != 0)
        fuzz_fail("reading the store's bundle key: %s", err.msg);
    memcpy(g_box_pk, keys.box_pk, sizeof g_box_pk);
    sync_keys_wipe(&keys);
}

/* ---- opening without a store ---- */

/* What sync/bundle.h promises of a header that parses out of n bytes. */
static void check_header(const sync_bundle_header *h, size_t n)
{
    if (h->len != sync_bundle_header_len(h->cert_len, h->n_rcpt) || h->len > n ||
        h->keyed_len + SYNC_STREAM_HEADER_LEN != h->signed_len ||
        h->signed_len + SYNC_SIG_LEN != h->len || h->n_rcpt == 0 ||
        h->n_rcpt > SYNC_BUNDLE_RCPT_MAX || h->m.part == 0 ||
        (h->m.flags & ~SYNC_BUNDLE_FLAGS_KNOWN) != 0)
        fuzz_fail("a parsed bundle header of %zu bytes in %zu is not laid out as promised",
                  h->len, n);
}

/* Records opened from a body: `count` of them, of known types, filling recs exactly. */
static void check_records(const sn_buf *recs, size_t count)
{
    size_t off = 0, seen = 0;
    sync_bundle_rec r;
    while (sync_bundle_rec_next(recs->data, recs->len, &off, &r)) {
        if (r.type == 0 || r.type >= SYNC_BREC_MANIFEST)
            fuzz_fail("an opened bundle holds record %zu of type %u", seen + 1, r.type);
        seen++;
    }
    if (off != recs->len || seen != count)
        fuzz_fail("an opened bundle said %zu records; %zu fill %zu of its %zu bytes", count,
                  seen, off, recs->len);
}

/* Open p[0..n) as node_bundle_import does, with the fixed CA and bundle key: returns 0
 * with the header in *h and the records in recs (empty on entry), or the first failure. */
static int open_bundle(const uint8_t *p, size_t n, sync_bundle_header *h, sn_buf *recs,
                       size_t *count)
{
    const fuzz_ids *k = fuzz_keys();
    sn_err err = SN_ERR_INIT;
    sync_cert sender;
    uint8_t key[SYNC_BOX_KEY_LEN];
    *count = 0;
    int rc = sync_bundle_header_parse(p, n, h, &err);
    fuzz_check_err(rc, &err, "sync_bundle_header_parse");
    if (rc == 0) {
        check_header(h, n);
        rc = sync_cert_parse(h->cert, h->cert_len, &sender, &err);
        fuzz_check_err(rc, &err, "sync_cert_parse (a bundle's sender)");
    }
    if (rc == 0) {
        rc = sync_cert_verify(&sender, k->ca_pk, 0, &err);
        fuzz_check_err(rc, &err, "sync_cert_verify (a bundle's sender)");
    }
    if (rc == 0) {
        /* A bad signature leaves err for the caller to name the sender in. */
        rc = sync_bundle_header_verify(h, sender.sign_pk, &err);
        if (rc == SN_EAUTH && err.msg[0] != '\0')
            fuzz_fail("sync_bundle_header_verify wrote a message: %s", err.msg);
        if (rc != SN_EAUTH)
            fuzz_check_err(rc, &err, "sync_bundle_header_verify");
    }
    if (rc == 0) {
        rc = sync_bundle_unseal(h, k->store_box_pk, k->store_box_sk, key, &err);
        fuzz_check_err(rc, &err, "sync_bundle_unseal");
    }
    if (rc == 0) {
        rc = sync_bundle_body_open(h, p, n, key, recs, count, &err);
        fuzz_check_err(rc, &err, "sync_bundle_body_open");
        if (rc != 0 && (recs->len != 0 || *count != 0))
            fuzz_fail("a failed sync_bundle_body_open left %zu records", *count);
    }
    if (rc == 0)
        check_records(recs, *count);
    return rc;
}

static void opened(fuzz_in *in)
{
    sync_bundle_header h;
    sn_buf recs;
    sn_buf_init(&recs, NODE_BUNDLE_FILE_MAX);
    size_t count;
    (void)open_bundle(in->p, in->n, &h, &recs, &count);
    sn_buf_free(&recs);
}

/* ---- importing ---- */

static void import(const uint8_t *file, size_t n, bool accept_expired)
{
    const char *path = fuzz_path("in.snb");
    fuzz_write_file(path, file, n);
    node_bundle_import_opts opts = {.accept_expired = accept_expired};
    fuzz_store_state before;
    fuzz_store_state_take(g_store, &before);
    node_bundle_got got;
    sn_err err = SN_ERR_INIT;
    int rc = node_bundle_import(g_store, path, &opts, &got, &err);
    if (rc == 0 && got.duplicate)
        fuzz_fail("a bundle part new to the store was taken for a duplicate");
    fuzz_store_expect(g_store, rc, &err, &before, "bundle import");
    if (rc != 0)
        return;
    fuzz_store_state_take(g_store, &before);
    sn_err_clear(&err);
    rc = node_bundle_import(g_store, path, &opts, &got, &err);
    if (rc != 0 || !got.duplicate)
        fuzz_fail("a bundle part imported again: %s", rc != 0 ? err.msg : "not a duplicate");
    fuzz_store_state_same(g_store, &before, "a bundle part imported again");
    fuzz_store_state_free(&before);
    store_reset();
}

static void as_received(fuzz_in *in) { import(in->p, in->n, false); }

/* ---- sealed here ---- */

/* Bytes of the well-formed records at the start of p[0..n); *known: all of known types. */
static size_t records_len(const uint8_t *p, size_t n, bool *known)
{
    size_t off = 0;
    sync_bundle_rec r;
    *known = true;
    while (sync_bundle_rec_next(p, n, &off, &r))
        *known = *known && r.type != 0 && r.type < SYNC_BREC_MANIFEST;
    return off;
}

/* In place: re-seal the units and re-sign the heads among the records p[0..n) with sk. */
static void reseal_records(uint8_t *p, size_t n, const uint8_t *sk)
{
    fuzz_resealer r = {.sk = sk};
    size_t off = 0;
    sync_bundle_rec rec;
    while (sync_bundle_rec_next(p, n, &off, &rec)) {
        uint8_t *body = p + (rec.p - p);
        if (rec.type == SYNC_BREC_UNIT)
            fuzz_reseal_unit(&r, body, rec.n);
        else if (rec.type == SYNC_BREC_HEAD)
            fuzz_resign_checkpoint(&r, body, rec.n);
    }
}

/* Open what the harness sealed: records of known types give back m and recs[0..n); a
 * record of another type is refused. */
static void check_reopens(const sn_buf *sealed, const sync_bundle_meta *m, const uint8_t *recs,
                          size_t n, size_t nrcpt, bool known)
{
    sync_bundle_header h;
    sn_buf got;
    sn_buf_init(&got, NODE_BUNDLE_FILE_MAX);
    size_t count;
    int rc = open_bundle(sealed->data, sealed->len, &h, &got, &count);
    if (rc != 0 && known)
        fuzz_fail("a bundle sealed here does not open");
    if (rc == 0 && !known)
        fuzz_fail("a bundle sealed here with a record of an unknown type opens");
    const sync_bundle_meta *o = &h.m;
    if (rc == 0 && (o->flags != m->flags || memcmp(o->id, m->id, sizeof o->id) != 0 ||
                    memcmp(o->sender, m->sender, sizeof o->sender) != 0 ||
                    o->serial != m->serial || o->created_ms != m->created_ms ||
                    o->expires_ms != m->expires_ms || o->part != m->part || h.n_rcpt != nrcpt))
        fuzz_fail("a bundle sealed here opens with other header fields");
    if (rc == 0)
        fuzz_check_same(recs, n, got.data, got.len, "bundle records sealed and opened again");
    sn_buf_free(&got);
}

/* Mode 2's input in `in`; with sk (not NULL) the units and heads are re-sealed first. */
static void seal_and_import(fuzz_in *in, const uint8_t *sk)
{
    const fuzz_ids *k = fuzz_keys();
    uint8_t opts = fuzz_u8(in), part = fuzz_u8(in), expiry = fuzz_u8(in);
    uint64_t now = FUZZ_NOW_S * 1000u;
    sync_bundle_meta m = {
        .flags = opts & SYNC_BUNDLE_FLAGS_KNOWN,
        .serial = k->origin_cert.serial,
        .created_ms = now - 2 * DAY_MS,
        .expires_ms = expiry == 0 ? 0 : expiry == 1 ? now - DAY_MS : now + expiry * DAY_MS,
        .part = part + 1u,
    };
    memset(m.id, 0xb1, sizeof m.id);
    memcpy(m.sender, k->origin_cert.replica, sizeof m.sender);
    uint8_t rcpt[OTHERS_MAX + 1][SYNC_X25519_LEN];
    size_t others = (opts >> 4) & OTHERS_MAX;
    for (size_t i = 0; i < others; i++)
        memcpy(rcpt[i], k->origin_cert.box_pk, SYNC_X25519_LEN); /* another node's key */
    memcpy(rcpt[others], g_box_pk, SYNC_X25519_LEN);

    bool known;
    size_t n = records_len(in->p, in->n, &known);
    uint8_t *recs = sn_malloc(n > 0 ? n : 1);
    if (recs == NULL)
        fuzz_fail("out of memory for %zu bytes of records", n);
    if (n > 0)
        memcpy(recs, in->p, n);
    if (sk != NULL)
        reseal_records(recs, n, sk);
    sn_buf cert, sealed;
    sn_buf_init(&cert, SYNC_CERT_MAX);
    sn_buf_init(&sealed, NODE_BUNDLE_FILE_MAX);
    sn_err err = SN_ERR_INIT;
    if (sync_cert_encode(&k->origin_cert, &cert, &err) != 0)
        fuzz_fail("encoding the origin's certificate: %s", err.msg);
    int rc = sync_bundle_seal(&m, cert.data, cert.len, (const uint8_t(*)[SYNC_X25519_LEN])rcpt,
                              others + 1, k->origin_sk, recs, n, &sealed, &err);
    fuzz_check_err(rc, &err, "sync_bundle_seal");
    if (rc == 0) {
        check_reopens(&sealed, &m, recs, n, others + 1, known);
        import(sealed.data, sealed.len, (opts & 4) != 0);
    }
    sn_buf_free(&sealed);
    sn_buf_free(&cert);
    sn_free(recs);
}

static void sealed_here(fuzz_in *in) { seal_and_import(in, NULL); }

static void resealed(fuzz_in *in)
{
    if (in->n < SYNC_SIGN_SK_LEN)
        return;
    const uint8_t *sk = in->p;
    fuzz_in rest = {in->p + SYNC_SIGN_SK_LEN, in->n - SYNC_SIGN_SK_LEN};
    seal_and_import(&rest, sk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_mode modes[] = {as_received, opened, sealed_here, resealed};
    fuzz_init();
    if (g_store == NULL) /* before fuzz_run counts allocations: the store lives on */
        store_reset();
    return fuzz_run(data, size, modes, 4, "fuzz_bundle");
}
