/* sync/bundle.c - the bundle file format (SECURITY.md §4, modelled on age v1 with a sender
 * signature). Integers big-endian.
 *
 *   HEADER  OFFSET  SIZE      FIELD
 *           0       8         magic "SNBUNDL1" (the digit is the format version)
 *           8       2         flags: 0x0001 ACK (acknowledgement only), 0x0002 LAST part
 *           10      2         n_rcpt, 1..16
 *           12      16        bundle id (random; the same in every part of one bundle)
 *           28      16        sender replica id
 *           44      8         sender certificate serial
 *           52      8         created, unix ms
 *           60      8         expires, unix ms (0: never)
 *           68      4         part number, from 1
 *           72      2         cert_len, at most SYNC_CERT_MAX
 *           74      cert_len  the sender's certificate (sync/cert.h), so a node that never
 *                             met the sender can check it against its pinned CA
 *           ..      88 x n    recipients: kid 8 (sync_kid of the recipient's bundle key) |
 *                             crypto_box_seal(file key 32) 80
 *           ..      24        secretstream header of the body
 *           ..      64        Ed25519 by the sender over "SNBUNDL1-hdr\0" || all bytes above
 *   (one recipient, a certificate of c bytes: 250 + c bytes)
 *
 *   body key := keyed BLAKE2b-256(key = file key, "SNBUNDL1-body" || header up to the
 *               secretstream header)
 *   body     := frames of sync/frame.c under the body key (the stream header sits in the
 *               signed header above): one message per record, type byte then bytes:
 *               certificates, the revocation list, the held vector, units, head
 *               checkpoints, then the manifest {count u32 | BLAKE2b-256 over every record
 *               as type u8 | len u32 | bytes} tagged FINAL.
 *
 * The signature covers the recipients, so a recipient cannot re-seal the bundle to someone
 * else under the sender's name; the body key depends on every header field before the
 * stream header (sender, certificate, recipients), so a header re-signed by another key
 * leaves the body undecryptable. The stream header cannot be an input to the body key
 * (libsodium derives it from the key), but it is signed. A file cut short lacks the FINAL
 * manifest: it is refused whole. Units carry their own origin signatures; this layer only
 * proves who sent the file, to whom, and that it arrived whole. */
#include "sync/bundle.h"

#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "sync/cert.h"
#include "sync/frame.h"

#define HDR_FIXED 74
#define SIGN_CONTEXT "SNBUNDL1-hdr"
#define BODY_CONTEXT "SNBUNDL1-body"
#define REC_HEAD 5 /* type u8 | len u32 */
#define MANIFEST_LEN (4 + SN_BLAKE2B_256)
#define FRAME_OVERHEAD (2 + SYNC_SECRETSTREAM_ABYTES)

_Static_assert(SYNC_BOX_KEY_LEN == SYNC_KEY_LEN, "the file key keys a secretstream");

int sync_bundle_rec_put(sn_buf *recs, uint8_t type, const uint8_t *p, size_t n, sn_err *err)
{
    if (n >= SYNC_MESSAGE_MAX)
        return sn_err_set(err, SN_ETOOBIG, "a bundle record of %zu bytes exceeds the limit of "
                          "%u bytes", n, SYNC_MESSAGE_MAX - 1);
    int rc = sn_buf_append(recs, &type, 1, err);
    if (rc == 0)
        rc = sn_buf_put_u32be(recs, (uint32_t)n, err);
    if (rc == 0)
        rc = sn_buf_append(recs, p, n, err);
    return rc;
}

bool sync_bundle_rec_next(const uint8_t *recs, size_t len, size_t *off, sync_bundle_rec *out)
{
    if (len - *off < REC_HEAD)
        return false;
    const uint8_t *r = recs + *off;
    size_t n = sn_load_u32be(r + 1);
    if (n > len - *off - REC_HEAD)
        return false;
    *out = (sync_bundle_rec){.type = r[0], .p = r + REC_HEAD, .n = n};
    *off += REC_HEAD + n;
    return true;
}

size_t sync_bundle_rec_cost(size_t n)
{
    size_t total = 1 + n;
    size_t frames = (total + SYNC_FRAME_PT_MAX - 1) / SYNC_FRAME_PT_MAX;
    return total + frames * FRAME_OVERHEAD;
}

size_t sync_bundle_header_len(size_t cert_len, size_t n_rcpt)
{
    return HDR_FIXED + cert_len + n_rcpt * SYNC_BUNDLE_RCPT_LEN + SYNC_STREAM_HEADER_LEN +
           SYNC_SIG_LEN;
}

size_t sync_bundle_trailer_len(void) { return sync_bundle_rec_cost(MANIFEST_LEN); }

static void manifest_make(uint8_t out[MANIFEST_LEN], const uint8_t *recs, size_t len,
                          size_t count)
{
    sn_store_u32be(out, (uint32_t)count);
    sn_blake2b(out + 4, SN_BLAKE2B_256, recs, len);
}

static void body_key(uint8_t key[SYNC_KEY_LEN], const uint8_t file_key[SYNC_BOX_KEY_LEN],
                     const uint8_t *hdr, size_t keyed_len)
{
    sync_keyed_hash(key, SYNC_KEY_LEN, file_key, SYNC_BOX_KEY_LEN, BODY_CONTEXT, hdr, keyed_len);
}

/* The header up to its recipients' stanzas. */
static int put_fixed(sn_buf *out, const sync_bundle_meta *m, const uint8_t *cert,
                     size_t cert_len, size_t n_rcpt, sn_err *err)
{
    uint8_t f[HDR_FIXED];
    memcpy(f, SYNC_BUNDLE_MAGIC, SYNC_BUNDLE_MAGIC_LEN);
    sn_store_u16be(f + 8, m->flags);
    sn_store_u16be(f + 10, (uint16_t)n_rcpt);
    memcpy(f + 12, m->id, SYNC_BUNDLE_ID_LEN);
    memcpy(f + 28, m->sender, 16);
    sn_store_u64be(f + 44, m->serial);
    sn_store_u64be(f + 52, m->created_ms);
    sn_store_u64be(f + 60, m->expires_ms);
    sn_store_u32be(f + 68, m->part);
    sn_store_u16be(f + 72, (uint16_t)cert_len);
    int rc = sn_buf_append(out, f, sizeof f, err);
    if (rc == 0)
        rc = sn_buf_append(out, cert, cert_len, err);
    return rc;
}

int sync_bundle_seal(const sync_bundle_meta *m, const uint8_t *cert, size_t cert_len,
                     const uint8_t (*rcpt_pk)[SYNC_X25519_LEN], size_t n_rcpt,
                     const uint8_t sign_sk[SYNC_SIGN_SK_LEN], const uint8_t *recs,
                     size_t recs_len, sn_buf *out, sn_err *err)
{
    if (n_rcpt == 0 || n_rcpt > SYNC_BUNDLE_RCPT_MAX)
        return sn_err_set(err, SN_EINVAL, "a bundle needs 1 to %d recipients, not %zu",
                          SYNC_BUNDLE_RCPT_MAX, n_rcpt);
    if (cert_len == 0 || cert_len > SYNC_CERT_MAX || (m->flags & ~SYNC_BUNDLE_FLAGS_KNOWN) != 0 ||
        m->part == 0)
        return sn_err_set(err, SN_EINVAL, "bundle header fields out of range (certificate of "
                          "%zu bytes, flags 0x%04x, part %u)", cert_len, m->flags, m->part);
    size_t start = out->len, count = 0, off = 0;
    sync_bundle_rec r;
    while (sync_bundle_rec_next(recs, recs_len, &off, &r))
        count++;
    if (off != recs_len)
        return sn_err_set(err, SN_EINVAL, "bundle records are malformed at byte %zu", off);

    uint8_t file_key[SYNC_BOX_KEY_LEN], key[SYNC_KEY_LEN];
    sn_random_bytes(file_key, sizeof file_key);
    int rc = sn_buf_reserve(out, sync_bundle_header_len(cert_len, n_rcpt), err);
    if (rc == 0)
        rc = put_fixed(out, m, cert, cert_len, n_rcpt, err);
    for (size_t i = 0; rc == 0 && i < n_rcpt; i++) {
        uint8_t st[SYNC_BUNDLE_RCPT_LEN];
        sync_kid(st, rcpt_pk[i]);
        sync_box_seal(st + SYNC_KID_LEN, file_key, rcpt_pk[i]);
        rc = sn_buf_append(out, st, sizeof st, err);
    }
    sync_tx tx;
    uint8_t ss_header[SYNC_STREAM_HEADER_LEN];
    if (rc == 0) {
        body_key(key, file_key, out->data + start, out->len - start);
        rc = sync_tx_init(&tx, key, ss_header, err);
        sn_wipe(key, sizeof key);
    }
    sn_wipe(file_key, sizeof file_key);
    if (rc != 0) {
        out->len = start;
        return rc;
    }
    rc = sn_buf_append(out, ss_header, sizeof ss_header, err);
    uint8_t sig[SYNC_SIG_LEN];
    if (rc == 0)
        rc = sync_sign_checked(sig, SIGN_CONTEXT, out->data + start, out->len - start, sign_sk,
                               err);
    if (rc == 0)
        rc = sn_buf_append(out, sig, sizeof sig, err);
    off = 0;
    while (rc == 0 && sync_bundle_rec_next(recs, recs_len, &off, &r))
        rc = sync_tx_message(&tx, r.type, r.p, r.n, 0, out, err);
    uint8_t manifest[MANIFEST_LEN];
    manifest_make(manifest, recs, recs_len, count);
    if (rc == 0)
        rc = sync_tx_final(&tx, SYNC_BREC_MANIFEST, manifest, sizeof manifest, out, err);
    sync_tx_wipe(&tx);
    if (rc != 0) {
        sn_wipe(out->data + start, out->len - start);
        out->len = start;
        sn_err_prefix(err, "sealing bundle part %u", m->part);
    }
    return rc;
}

int sync_bundle_header_parse(const uint8_t *p, size_t n, sync_bundle_header *out, sn_err *err)
{
    *out = (sync_bundle_header){0};
    if (n < SYNC_BUNDLE_MAGIC_LEN && memcmp(p, SYNC_BUNDLE_MAGIC, n) == 0)
        return sn_err_set(err, SN_ECORRUPT, "the bundle is truncated: %zu bytes, shorter than "
                          "its header", n);
    if (n < SYNC_BUNDLE_MAGIC_LEN || memcmp(p, SYNC_BUNDLE_MAGIC, 7) != 0) {
        sn_err_set(err, SN_ECORRUPT, "not an Outpost bundle (it does not start with '%s')",
                   SYNC_BUNDLE_MAGIC);
        sn_err_hint(err, "bundles are made with `outpost bundle create`");
        return SN_ECORRUPT;
    }
    if (p[7] != '1') {
        sn_err_set(err, SN_EVERSION, "bundle format '%c' is not the format this build reads "
                   "('1')", p[7]);
        sn_err_hint(err, "install the Outpost version of the sending site to import it");
        return SN_EVERSION;
    }
    if (n < HDR_FIXED)
        return sn_err_set(err, SN_ECORRUPT, "the bundle is truncated: %zu bytes, shorter than "
                          "its header", n);
    sync_bundle_meta *m = &out->m;
    m->flags = sn_load_u16be(p + 8);
    out->n_rcpt = sn_load_u16be(p + 10);
    memcpy(m->id, p + 12, SYNC_BUNDLE_ID_LEN);
    memcpy(m->sender, p + 28, 16);
    m->serial = sn_load_u64be(p + 44);
    m->created_ms = sn_load_u64be(p + 52);
    m->expires_ms = sn_load_u64be(p + 60);
    m->part = sn_load_u32be(p + 68);
    out->cert_len = sn_load_u16be(p + 72);
    if ((m->flags & ~SYNC_BUNDLE_FLAGS_KNOWN) != 0)
        return sn_err_set(err, SN_ECORRUPT, "the bundle header has unknown flags 0x%04x",
                          m->flags);
    if (out->n_rcpt == 0 || out->n_rcpt > SYNC_BUNDLE_RCPT_MAX)
        return sn_err_set(err, SN_ECORRUPT, "the bundle header names %zu recipients (1 to %d "
                          "allowed)", out->n_rcpt, SYNC_BUNDLE_RCPT_MAX);
    if (m->part == 0)
        return sn_err_set(err, SN_ECORRUPT, "the bundle header has part number 0");
    if (out->cert_len == 0 || out->cert_len > SYNC_CERT_MAX)
        return sn_err_set(err, SN_ECORRUPT, "the bundle header's sender certificate length %zu "
                          "is out of range", out->cert_len);
    out->len = sync_bundle_header_len(out->cert_len, out->n_rcpt);
    if (n < out->len)
        return sn_err_set(err, SN_ECORRUPT, "the bundle is truncated: %zu bytes, shorter than "
                          "its %zu-byte header", n, out->len);
    out->cert = p + HDR_FIXED;
    out->rcpt = out->cert + out->cert_len;
    out->ss_header = out->rcpt + out->n_rcpt * SYNC_BUNDLE_RCPT_LEN;
    out->sig = out->ss_header + SYNC_STREAM_HEADER_LEN;
    out->keyed_len = (size_t)(out->ss_header - p);
    out->signed_len = (size_t)(out->sig - p);
    return 0;
}

int sync_bundle_header_verify(const sync_bundle_header *h, const uint8_t pk[SYNC_SIGN_PK_LEN],
                              sn_err *err)
{
    const uint8_t *start = h->cert - HDR_FIXED;
    return sync_verify_checked(h->sig, SIGN_CONTEXT, start, h->signed_len, pk, err);
}

int sync_bundle_unseal(const sync_bundle_header *h, const uint8_t box_pk[SYNC_X25519_LEN],
                       const uint8_t box_sk[SYNC_X25519_LEN], uint8_t file_key[SYNC_BOX_KEY_LEN],
                       sn_err *err)
{
    uint8_t kid[SYNC_KID_LEN];
    sync_kid(kid, box_pk);
    for (size_t i = 0; i < h->n_rcpt; i++) {
        const uint8_t *st = h->rcpt + i * SYNC_BUNDLE_RCPT_LEN;
        if (memcmp(st, kid, SYNC_KID_LEN) != 0)
            continue;
        if (sync_box_open(file_key, st + SYNC_KID_LEN, box_pk, box_sk) == 0)
            return 0;
        return sn_err_set(err, SN_EAUTH, "the bundle's key for this node (recipient %zu of %zu) "
                          "does not open: it was altered or swapped", i + 1, h->n_rcpt);
    }
    return sn_err_set(err, SN_EAUTH, "the bundle is not addressed to this node (it has %zu "
                      "other recipient%s)", h->n_rcpt, h->n_rcpt == 1 ? "" : "s");
}

/* Check the manifest message against the records gathered. */
static int manifest_check(const sync_msg *msg, const sn_buf *recs, size_t count, sn_err *err)
{
    if (msg->type != SYNC_BREC_MANIFEST || !msg->final)
        return sn_err_set(err, SN_ECORRUPT, "the bundle's body ends with record %zu of type %u "
                          "instead of its manifest", count + 1, msg->type);
    if (msg->len != MANIFEST_LEN)
        return sn_err_set(err, SN_ECORRUPT, "the bundle's manifest is %zu bytes, not %d",
                          msg->len, MANIFEST_LEN);
    uint8_t want[MANIFEST_LEN];
    manifest_make(want, recs->data, recs->len, count);
    if (sn_load_u32be(msg->body) != count)
        return sn_err_set(err, SN_ECORRUPT, "the bundle's manifest lists %u records but the body "
                          "holds %zu", sn_load_u32be(msg->body), count);
    if (memcmp(want, msg->body, MANIFEST_LEN) != 0)
        return sn_err_set(err, SN_ECORRUPT, "the bundle's records do not match its manifest's "
                          "hash");
    return 0;
}

int sync_bundle_body_open(const sync_bundle_header *h, const uint8_t *p, size_t n,
                          const uint8_t file_key[SYNC_BOX_KEY_LEN], sn_buf *recs, size_t *count,
                          sn_err *err)
{
    *count = 0;
    uint8_t key[SYNC_KEY_LEN];
    body_key(key, file_key, p, h->keyed_len);
    sync_rx rx;
    sync_rx_init(&rx, key);
    sn_wipe(key, sizeof key);
    size_t used = 0, off = h->len;
    sync_msg msg = {0};
    /* The stream header travels in the signed bundle header: feed it first. */
    int rc = sync_rx_feed(&rx, h->ss_header, SYNC_STREAM_HEADER_LEN, &used, &msg, err);
    bool done = false, truncated = false;
    while (rc == 0 && !done) {
        rc = sync_rx_feed(&rx, p + off, n - off, &used, &msg, err);
        off += used;
        if (rc == 0) { /* every byte taken, no whole record: the file ends early */
            truncated = true;
            rc = sn_err_set(err, SN_ECORRUPT, "the bundle is truncated: it ends after %zu of "
                            "its records, before its manifest", *count);
        } else if (rc == 1 && msg.final) {
            rc = manifest_check(&msg, recs, *count, err);
            done = true;
        } else if (rc == 1 && (msg.type == 0 || msg.type >= SYNC_BREC_MANIFEST)) {
            rc = sn_err_set(err, SN_ECORRUPT, "record %zu of the bundle has an unknown type %u",
                            *count + 1, msg.type);
        } else if (rc == 1) {
            rc = sync_bundle_rec_put(recs, msg.type, msg.body, msg.len, err);
            *count += rc == 0;
        }
    }
    if (rc == 0 && off != n)
        rc = sn_err_set(err, SN_ECORRUPT, "%zu unexpected bytes follow the end of the bundle",
                        n - off);
    if (rc == SN_EAUTH) { /* the frame layer blames a connection: say it of a file */
        if (err != NULL)
            sn_err_clear(err);
        sn_err_set(err, SN_EAUTH, "the bundle's body was altered or damaged: frame %llu after "
                   "%zu good records fails to authenticate",
                   (unsigned long long)rx.frames + 1, *count);
        sn_err_hint(err, "the file was changed after it was made: ask the sender for it "
                    "again; nothing from it was imported");
    } else if (rc == SN_EPROTO) { /* a file breaks no protocol: its bytes are damaged */
        sn_err_prefix(err, "the bundle's body is malformed after %zu good records", *count);
        if (err != NULL)
            err->code = SN_ECORRUPT;
        rc = SN_ECORRUPT;
    }
    if (truncated)
        sn_err_hint(err, "the file was cut short (copy or download incomplete): copy it again; "
                    "nothing from it was imported");
    sync_rx_free(&rx);
    if (rc != 0) {
        sn_wipe(recs->data, recs->len);
        sn_buf_reset(recs);
        *count = 0;
    }
    return rc;
}
