/* sync/enroll.h - enrolment requests (SECURITY.md §1.4): a node's public keys and replica
 * id, signed with its own signing key (proof of possession), and the fingerprint a person
 * compares before the CA issues a certificate.
 *
 *   OFFSET  SIZE  FIELD
 *   0       4     magic "SNQ1"
 *   4       1     version (1)
 *   5       3     reserved (0)
 *   8       16    replica_id
 *   24      4     epoch
 *   28      32    sign_pk
 *   60      32    noise_pk
 *   92      32    box_pk
 *   124     16    nonce (random)
 *   140     1     name_len (at most 64)
 *   141     ..    name (UTF-8)
 *   end-64  64    Ed25519 by sign_pk over "SNQ1-request\0" || every byte before it
 */
#ifndef SN_SYNC_ENROLL_H
#define SN_SYNC_ENROLL_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "sync/cert.h"
#include "sync/crypto.h"

typedef struct sync_enroll_request {
    uint8_t replica[16];
    uint32_t epoch;
    uint8_t sign_pk[SYNC_SIGN_PK_LEN];
    uint8_t noise_pk[SYNC_X25519_LEN];
    uint8_t box_pk[SYNC_X25519_LEN];
    uint8_t nonce[16];
    char name[SYNC_CERT_NAME_MAX + 1];
    uint8_t sig[SYNC_SIG_LEN];
} sync_enroll_request;

/* Make a request for `keys` (fills the nonce, signs with keys->sign_sk). */
SN_NODISCARD int sync_enroll_request_make(sync_enroll_request *r, const sync_keys *keys,
                                          const uint8_t replica[16], uint32_t epoch,
                                          const char *name, sn_err *err);
SN_NODISCARD int sync_enroll_request_encode(const sync_enroll_request *r, sn_buf *out,
                                            sn_err *err);
/* Strict parse and proof-of-possession check: SN_ECORRUPT / SN_EVERSION / SN_EAUTH. */
SN_NODISCARD int sync_enroll_request_parse(const uint8_t *p, size_t n, sync_enroll_request *out,
                                           sn_err *err);

/* The human-comparable fingerprint of some bytes (a request, a CA key): BLAKE2b-256, in
 * base32 (RFC 4648 alphabet), groups of 7 characters each followed by a check character
 * (Luhn mod 32 over the group), groups separated by '-': 52 + 8 + 7 separators = 67 < 96. */
#define SYNC_FINGERPRINT_MAX 96
void sync_fingerprint(char out[SYNC_FINGERPRINT_MAX], const uint8_t *bytes, size_t n);

#endif
