/* sync/cert.h - certificates (SECURITY.md §1.2 with the Adjustments' name field): a fixed,
 * big-endian binary layout, not X.509 and not msgpack, so a verifier reads every byte by
 * offset. Version 1 has one tier: the deployment CA is the root and signs node and hub
 * certificates.
 *
 *   OFFSET      SIZE  FIELD
 *   0           4     magic "SNC1"
 *   4           1     version (1)
 *   5           1     type: 1 root CA, 2 operator CA, 3 hub, 4 node
 *   6           2     flags (0)
 *   8           8     serial (unique per issuer)
 *   16          16    replica_id
 *   32          16    site_id
 *   48          32    sign_pk (Ed25519)
 *   80          32    noise_pk (X25519)
 *   112         32    box_pk (X25519)
 *   144         8     valid_after (unix seconds)
 *   152         8     valid_before
 *   160         8     issuer key id: first 8 bytes of BLAKE2b-256(issuer sign_pk)
 *   168         2     n = write scopes (at most 64)
 *   170         16n   write scope ids
 *   170+16n     1     name_len (at most 64)
 *   171+16n     ..    name, UTF-8
 *   end-64      64    Ed25519 by the issuer over "SNC1-cert\0" || every byte before it
 */
#ifndef SN_SYNC_CERT_H
#define SN_SYNC_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "sync/crypto.h"

#define SYNC_CERT_SCOPES_MAX 64
#define SYNC_CERT_NAME_MAX 64
#define SYNC_CERT_MAX (171 + 16 * SYNC_CERT_SCOPES_MAX + SYNC_CERT_NAME_MAX + SYNC_SIG_LEN)

typedef enum sync_cert_type {
    SYNC_CERT_ROOT = 1,
    SYNC_CERT_OPERATOR = 2,
    SYNC_CERT_HUB = 3,
    SYNC_CERT_NODE = 4,
} sync_cert_type;

typedef struct sync_cert {
    uint8_t type;
    uint16_t flags;
    uint64_t serial;
    uint8_t replica[16];
    uint8_t site[16];
    uint8_t sign_pk[SYNC_SIGN_PK_LEN];
    uint8_t noise_pk[SYNC_X25519_LEN];
    uint8_t box_pk[SYNC_X25519_LEN];
    uint64_t valid_after;
    uint64_t valid_before;
    uint8_t issuer_kid[SYNC_KID_LEN];
    uint16_t nscopes;
    uint8_t scopes[SYNC_CERT_SCOPES_MAX][16];
    char name[SYNC_CERT_NAME_MAX + 1]; /* NUL-terminated */
    uint8_t sig[SYNC_SIG_LEN];
} sync_cert;

/* Sign `c` with the issuer's secret key: sets issuer_kid and sig. SN_EINVAL for a malformed
 * certificate (bad type, too many scopes, name too long or not UTF-8, validity reversed). */
SN_NODISCARD int sync_cert_sign(sync_cert *c, const uint8_t issuer_sk[SYNC_SIGN_SK_LEN],
                                sn_err *err);
/* The exact bytes (signature included), appended to `out`. */
SN_NODISCARD int sync_cert_encode(const sync_cert *c, sn_buf *out, sn_err *err);
/* Parse strictly: magic, version 1 (a newer one is SN_EVERSION), known type, n <= 64, name
 * <= 64 bytes of valid UTF-8, no trailing bytes. SN_ECORRUPT saying which field. Does not
 * verify the signature. */
SN_NODISCARD int sync_cert_parse(const uint8_t *p, size_t n, sync_cert *out, sn_err *err);
/* Verify `c` was signed by `issuer_pk` (its kid must match too); with now_s != 0 also that
 * valid_after <= now_s < valid_before. SN_EAUTH saying what failed (wrong issuer, bad
 * signature, expired, not yet valid). */
SN_NODISCARD int sync_cert_verify(const sync_cert *c, const uint8_t issuer_pk[SYNC_SIGN_PK_LEN],
                                  uint64_t now_s, sn_err *err);

/* Certificates whose signature verified, so one met again (every session presents the
 * peer's, every log file carries its origins') costs a hash, not an Ed25519 check. Each
 * entry is BLAKE2b-256 over the issuer key, the signed bytes and the signature, so only
 * those exact bytes under that key hit. A small value its owner keeps (a store keeps one
 * and clears it when the revocation list changes); the oldest entry makes room. */
#define SYNC_CERT_CACHE_N 64
typedef struct sync_cert_cache {
    uint8_t digest[SYNC_CERT_CACHE_N][32];
    size_t n;    /* entries in use */
    size_t next; /* the entry the next miss overwrites once full */
} sync_cert_cache;
void sync_cert_cache_clear(sync_cert_cache *cache);
/* sync_cert_verify through `cache` (NULL: none): a hit skips only the signature check;
 * the structure, issuer key id and validity at now_s are checked every time. */
SN_NODISCARD int sync_cert_verify_cached(const sync_cert *c,
                                         const uint8_t issuer_pk[SYNC_SIGN_PK_LEN],
                                         uint64_t now_s, sync_cert_cache *cache, sn_err *err);
/* True when `scope` is one of c's write scopes. */
bool sync_cert_has_scope(const sync_cert *c, const uint8_t scope[16]);
const char *sync_cert_type_name(uint8_t type);
/* True when `p` (n bytes) is a valid name for a certificate or enrolment request: at most
 * SYNC_CERT_NAME_MAX bytes of well-formed UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF) without control characters (C0, DEL, C1), since names are shown
 * to people when they compare fingerprints. The empty name is valid. */
bool sync_cert_name_is_valid(const uint8_t *p, size_t n);

#endif
