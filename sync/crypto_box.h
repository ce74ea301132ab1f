/* sync/crypto_box.h - the libsodium calls of store-and-forward bundles (SECURITY.md §4):
 * a 32-byte file key sealed to a recipient's X25519 bundle key (crypto_box_seal, used for
 * nothing larger), and keyed BLAKE2b to bind a body key to the header it travels under. */
#ifndef SN_SYNC_CRYPTO_BOX_H
#define SN_SYNC_CRYPTO_BOX_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "sync/crypto.h"

#define SYNC_BOX_KEY_LEN 32u
/* crypto_box_seal of a 32-byte key: ephemeral public key (32) + MAC (16) + key (32). */
#define SYNC_BOX_SEALED_LEN 80u

/* Seal `key` to the holder of X25519 public key `pk`: only pk's secret half opens it, and
 * nothing in it says who sealed it (the bundle's signature says that). */
void sync_box_seal(uint8_t out[SYNC_BOX_SEALED_LEN], const uint8_t key[SYNC_BOX_KEY_LEN],
                   const uint8_t pk[SYNC_X25519_LEN]);
/* Open a sealed key with this node's bundle key pair. 0, or SN_EAUTH (sealed to another key
 * or altered) with `err` untouched so the caller says which stanza failed. */
SN_NODISCARD int sync_box_open(uint8_t key[SYNC_BOX_KEY_LEN],
                               const uint8_t sealed[SYNC_BOX_SEALED_LEN],
                               const uint8_t pk[SYNC_X25519_LEN],
                               const uint8_t sk[SYNC_X25519_LEN]);
/* BLAKE2b with a key (16..64 bytes) over context || msg, `outlen` (16..64) bytes out. */
void sync_keyed_hash(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen,
                     const char *context, const uint8_t *msg, size_t n);

#endif
