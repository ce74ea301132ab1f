/* sync/crypto.h - keys, and (later) handshake, AEAD and signatures: the libsodium door. */
#ifndef SN_SYNC_CRYPTO_H
#define SN_SYNC_CRYPTO_H

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

/* Generate fresh key pairs on this device. Returns 0 or SN_EIO. */
SN_NODISCARD int sync_keys_generate(sync_keys *k, sn_err *err);
/* Wipe the secret halves (and everything else) from memory. */
void sync_keys_wipe(sync_keys *k);

#endif
