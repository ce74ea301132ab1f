/* sync/crypto_noise.h - the libsodium primitives the Noise handshake needs: X25519, the
 * ChaCha20-Poly1305 IETF AEAD with Noise's nonce, SHA-256, HMAC-SHA256 and a wipe. */
#ifndef SN_SYNC_CRYPTO_NOISE_H
#define SN_SYNC_CRYPTO_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define SYNC_NOISE_DH_LEN 32   /* X25519 public key, secret key and shared secret */
#define SYNC_AEAD_KEY_LEN 32   /* ChaCha20-Poly1305 key */
#define SYNC_AEAD_TAG_LEN 16   /* Poly1305 tag appended to every ciphertext */
#define SYNC_SHA256_LEN 32     /* SHA-256 and HMAC-SHA256 output */

/* A fresh X25519 key pair from the system's random source. Returns 0 or SN_EIO (both
 * halves wiped). */
SN_NODISCARD int sync_noise_keypair(uint8_t sk[SYNC_NOISE_DH_LEN], uint8_t pk[SYNC_NOISE_DH_LEN],
                                    sn_err *err);

/* The X25519 public key of secret key `sk` (clamped as X25519 always does). Returns 0 or
 * SN_EIO. */
SN_NODISCARD int sync_noise_pk_of(uint8_t pk[SYNC_NOISE_DH_LEN],
                                  const uint8_t sk[SYNC_NOISE_DH_LEN], sn_err *err);

/* out = X25519(sk, pk). Returns 0, or SN_EAUTH when `pk` is a low-order point or the result
 * is all zero (libsodium's -1, plus our own check of the output); `out` is then wiped.
 * Leaves no message: the caller knows whose key it was and says so. */
SN_NODISCARD int sync_noise_dh(uint8_t out[SYNC_NOISE_DH_LEN], const uint8_t sk[SYNC_NOISE_DH_LEN],
                               const uint8_t pk[SYNC_NOISE_DH_LEN]);

/* Whether `pk` is usable as a peer's X25519 public key: 0, or SN_EAUTH when any DH with it
 * would give the all-zero result (a low-order point, in any encoding). Costs one scalar
 * multiplication. No message, as for sync_noise_dh. */
SN_NODISCARD int sync_noise_pk_check(const uint8_t pk[SYNC_NOISE_DH_LEN]);

/* ChaCha20-Poly1305 (IETF) under `key` with Noise's nonce for counter `n`: four zero bytes
 * then n as a little-endian u64 (Noise §12.3). Writes pt_len + SYNC_AEAD_TAG_LEN bytes to
 * `ct`, which may be `pt` itself (in place) but must not otherwise overlap it. `ad` may be
 * NULL when ad_len is 0. The caller keeps n unique per key. */
void sync_aead_encrypt(uint8_t *ct, const uint8_t key[SYNC_AEAD_KEY_LEN], uint64_t n,
                       const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len);

/* The inverse: writes ct_len - SYNC_AEAD_TAG_LEN bytes to `pt` (which may be `ct` itself).
 * Returns 0, or SN_EAUTH when the tag does not verify or ct_len is shorter than a tag; `pt`
 * then holds zeros, never unauthenticated plaintext. No message (the caller says what
 * failed to authenticate). */
SN_NODISCARD int sync_aead_decrypt(uint8_t *pt, const uint8_t key[SYNC_AEAD_KEY_LEN], uint64_t n,
                                   const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                                   size_t ct_len);

/* SHA-256 of a, and of a || b (either part may be NULL when its length is 0). */
void sync_sha256(uint8_t out[SYNC_SHA256_LEN], const uint8_t *a, size_t a_len);
void sync_sha256_2(uint8_t out[SYNC_SHA256_LEN], const uint8_t *a, size_t a_len,
                   const uint8_t *b, size_t b_len);

/* HMAC-SHA256 under a key of any length, over a || b (b may be NULL when b_len is 0). */
void sync_hmac_sha256(uint8_t out[SYNC_SHA256_LEN], const uint8_t *key, size_t key_len,
                      const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);

/* Overwrite n bytes at p with zeros in a way the compiler cannot drop (sodium_memzero). */
void sync_secret_wipe(void *p, size_t n);

#endif
