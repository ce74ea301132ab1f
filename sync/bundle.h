/* sync/bundle.h - store-and-forward bundles (SECURITY.md §4): signed, chained units carried
 * in a file sealed to its recipients and signed by its sender, for sites whose only link is
 * e-mail or a USB stick. Sans-IO: bytes in memory in, bytes out; the store side is
 * node/bundle.h. The byte layout is in sync/bundle.c.
 *
 * A bundle may be split into parts; every part is a complete bundle of its own (same id,
 * its own part number, its own file key) that verifies and imports alone, in any order. */
#ifndef SN_SYNC_BUNDLE_H
#define SN_SYNC_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "sync/crypto.h"
#include "sync/crypto_box.h"

#define SYNC_BUNDLE_MAGIC "SNBUNDL1"
#define SYNC_BUNDLE_MAGIC_LEN 8
#define SYNC_BUNDLE_ID_LEN 16
#define SYNC_BUNDLE_RCPT_MAX 16
#define SYNC_BUNDLE_RCPT_LEN (SYNC_KID_LEN + SYNC_BOX_SEALED_LEN)

/* Header flags. */
#define SYNC_BUNDLE_ACK 0x0001u  /* an acknowledgement: the sender's held vector, no units */
#define SYNC_BUNDLE_LAST 0x0002u /* the last part of its bundle */
#define SYNC_BUNDLE_FLAGS_KNOWN (SYNC_BUNDLE_ACK | SYNC_BUNDLE_LAST)

/* Record types in the body (one logical message of sync/frame.h each). */
typedef enum sync_bundle_rec_type {
    SYNC_BREC_CERT = 1,     /* a certificate (sync/cert.h) of an origin carried */
    SYNC_BREC_CRL = 2,      /* the sender's revocation list (sync/crl.h) */
    SYNC_BREC_UNIT = 3,     /* a transfer unit (sync/unit.h) */
    SYNC_BREC_HEAD = 4,     /* the sender's latest checkpoint of an origin */
    SYNC_BREC_HELD = 5,     /* the sender's held vector (sync/wire.h): what it acknowledges */
    SYNC_BREC_PROOF = 6,    /* a proof of equivocation (sync/proof.h) */
    SYNC_BREC_MANIFEST = 7, /* count u32 | BLAKE2b-256 of the records; ends the stream */
} sync_bundle_rec_type;

/* The fixed fields of a header. */
typedef struct sync_bundle_meta {
    uint16_t flags;
    uint8_t id[SYNC_BUNDLE_ID_LEN];
    uint8_t sender[16];  /* replica id */
    uint64_t serial;     /* of the sender's certificate */
    uint64_t created_ms; /* unix ms */
    uint64_t expires_ms; /* 0: never */
    uint32_t part;       /* 1, 2, ... */
} sync_bundle_meta;

/* ---- records: type u8 | len u32be | bytes, back to back, in memory ---- */

typedef struct sync_bundle_rec {
    uint8_t type;
    const uint8_t *p;
    size_t n;
} sync_bundle_rec;

/* Append one record. SN_ETOOBIG past the buffer's limit or the framing's message size. */
SN_NODISCARD int sync_bundle_rec_put(sn_buf *recs, uint8_t type, const uint8_t *p, size_t n,
                                     sn_err *err);
/* The record at *off of recs[0..len) (checked by whoever built the buffer); advances *off.
 * False at the end. */
bool sync_bundle_rec_next(const uint8_t *recs, size_t len, size_t *off, sync_bundle_rec *out);
/* Bytes a record of n body bytes takes in a sealed bundle (frames and their overhead). */
size_t sync_bundle_rec_cost(size_t n);
/* Bytes of a header with this certificate length and number of recipients. */
size_t sync_bundle_header_len(size_t cert_len, size_t n_rcpt);
/* Bytes of a sealed bundle's fixed costs besides the header: the manifest record. */
size_t sync_bundle_trailer_len(void);

/* Seal records (without a manifest: it is added) as one bundle part: a fresh file key
 * sealed to each recipient's bundle key `rcpt_pk`, the header signed with `sign_sk`, the
 * body under a key bound to the header. Appends the part's bytes to `out`. SN_EINVAL (no
 * or too many recipients, a certificate too long, unknown flags), SN_ETOOBIG, SN_ENOMEM. */
SN_NODISCARD int sync_bundle_seal(const sync_bundle_meta *m, const uint8_t *cert,
                                  size_t cert_len, const uint8_t (*rcpt_pk)[SYNC_X25519_LEN],
                                  size_t n_rcpt, const uint8_t sign_sk[SYNC_SIGN_SK_LEN],
                                  const uint8_t *recs, size_t recs_len, sn_buf *out,
                                  sn_err *err);

/* ---- opening ---- */

/* A parsed header; pointers borrow the bytes given to sync_bundle_header_parse. */
typedef struct sync_bundle_header {
    sync_bundle_meta m;
    const uint8_t *cert; /* the sender's certificate, as signed */
    size_t cert_len;
    size_t n_rcpt;
    const uint8_t *rcpt; /* n_rcpt x (kid 8 | sealed file key 80) */
    const uint8_t *ss_header;
    const uint8_t *sig;
    size_t keyed_len;  /* header bytes the body key is bound to: all before ss_header */
    size_t signed_len; /* header bytes the signature covers: all before sig */
    size_t len;        /* the whole header; the body starts here */
} sync_bundle_header;

/* Strict parse of the header at the start of p[0..n): magic (another version is
 * SN_EVERSION), known flags, 1..SYNC_BUNDLE_RCPT_MAX recipients, part >= 1, a certificate
 * length within limits, all within n. SN_ECORRUPT saying which field. No signature check. */
SN_NODISCARD int sync_bundle_header_parse(const uint8_t *p, size_t n, sync_bundle_header *out,
                                          sn_err *err);
/* Check the header's signature against the sender's signing key `pk`. 0, SN_EAUTH with
 * `err` untouched (the caller names the sender), SN_ENOMEM. */
SN_NODISCARD int sync_bundle_header_verify(const sync_bundle_header *h,
                                           const uint8_t pk[SYNC_SIGN_PK_LEN], sn_err *err);
/* Find the stanza for this node's bundle key pair and open the file key. SN_EAUTH saying
 * which: no stanza for this key (addressed to others), or it does not open (altered or
 * swapped). */
SN_NODISCARD int sync_bundle_unseal(const sync_bundle_header *h,
                                    const uint8_t box_pk[SYNC_X25519_LEN],
                                    const uint8_t box_sk[SYNC_X25519_LEN],
                                    uint8_t file_key[SYNC_BOX_KEY_LEN], sn_err *err);
/* Decrypt and check the body that follows the header in p[0..n) (the same bytes given to
 * sync_bundle_header_parse): every frame authenticates, records are of known types, the
 * stream ends with a manifest tagged final whose count and hash match, and nothing follows.
 * On success `recs` (empty on entry) holds the records but the manifest, *count how many.
 * SN_EAUTH (a frame fails: altered, or not the key of this header), SN_ECORRUPT
 * (truncated, manifest mismatch, unknown record), each naming the record or frame. */
SN_NODISCARD int sync_bundle_body_open(const sync_bundle_header *h, const uint8_t *p, size_t n,
                                       const uint8_t file_key[SYNC_BOX_KEY_LEN], sn_buf *recs,
                                       size_t *count, sn_err *err);

#endif
