/* sync/crypto.h - keys, and (later) handshake, AEAD and signatures: the libsodium door. */
#ifndef SN_SYNC_CRYPTO_H
#define SN_SYNC_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define SYNC_SIGN_PK_LEN 32
#define SYNC_SIGN_SK_LEN 64
#define SYNC_X25519_LEN 32

/* A node's three key pairs (SECURITY.md §1.1): Ed25519 to sign, X25519 for the Noise
 * handshake, X25519 to receive sealed bundles. */
typedef struct sync_keys {
    uint8_t sign_pk[SYNC_SIGN_PK_LEN];
    uint8_t sign_sk[SYNC_SIGN_SK_LEN];
    uint8_t noise_pk[SYNC_X25519_LEN];
    uint8_t noise_sk[SYNC_X25519_LEN];
    uint8_t box_pk[SYNC_X25519_LEN];
    uint8_t box_sk[SYNC_X25519_LEN];
} sync_keys;

#define SYNC_SIG_LEN 64
#define SYNC_KID_LEN 8

/* Ed25519 over `context` (a NUL-terminated domain string such as "SNC1-cert", whose NUL is
 * signed too, so no two formats' signatures can be confused) followed by the message.
 * Messages over 4 KiB are copied into an sn_malloc'd buffer; if that allocation fails, `sig`
 * is set to all zero bytes, which verifies under no key (so the failure surfaces as a
 * verification failure, never as a forgery). */
void sync_sign(uint8_t sig[SYNC_SIG_LEN], const char *context, const uint8_t *msg, size_t n,
               const uint8_t sk[SYNC_SIGN_SK_LEN]);
/* True when `sig` is `pk`'s signature of context || msg. Constant-time where it matters.
 * False too when a message over 4 KiB cannot be copied (out of memory). */
bool sync_verify(const uint8_t sig[SYNC_SIG_LEN], const char *context, const uint8_t *msg,
                 size_t n, const uint8_t pk[SYNC_SIGN_PK_LEN]);
/* The same two with out of memory reported: sync_sign_checked returns 0 or SN_ENOMEM (sig
 * then all zero); sync_verify_checked returns 0, SN_ENOMEM (with a message) or SN_EAUTH
 * with `err` untouched, so the caller says what failed to verify. */
SN_NODISCARD int sync_sign_checked(uint8_t sig[SYNC_SIG_LEN], const char *context,
                                   const uint8_t *msg, size_t n,
                                   const uint8_t sk[SYNC_SIGN_SK_LEN], sn_err *err);
SN_NODISCARD int sync_verify_checked(const uint8_t sig[SYNC_SIG_LEN], const char *context,
                                     const uint8_t *msg, size_t n,
                                     const uint8_t pk[SYNC_SIGN_PK_LEN], sn_err *err);
/* A signing key's id: the first 8 bytes of BLAKE2b-256(pk). */
void sync_kid(uint8_t kid[SYNC_KID_LEN], const uint8_t pk[SYNC_SIGN_PK_LEN]);
/* The public half of an Ed25519 secret key (libsodium keeps it in the last 32 bytes). */
void sync_sign_pk_of(uint8_t pk[SYNC_SIGN_PK_LEN], const uint8_t sk[SYNC_SIGN_SK_LEN]);
/* Ed25519 key pair only (a CA's key). Returns 0 or SN_EIO. */
SN_NODISCARD int sync_sign_keypair(uint8_t pk[SYNC_SIGN_PK_LEN], uint8_t sk[SYNC_SIGN_SK_LEN],
                                   sn_err *err);

/* Generate fresh key pairs on this device. Returns 0 or SN_EIO. */
SN_NODISCARD int sync_keys_generate(sync_keys *k, sn_err *err);
/* Wipe the secret halves (and everything else) from memory. */
void sync_keys_wipe(sync_keys *k);

#endif
