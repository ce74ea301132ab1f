/* sync/crypto_box.c - sealed file keys and keyed BLAKE2b for bundles, behind
 * sync/crypto_box.h: one of the sync/crypto*.c files that see sodium.h. */
#include "sync/crypto_box.h"

#include <string.h>

#include <sodium.h>

_Static_assert(SYNC_BOX_SEALED_LEN == crypto_box_SEALBYTES + SYNC_BOX_KEY_LEN, "sealed key size");
_Static_assert(SYNC_X25519_LEN == crypto_box_PUBLICKEYBYTES, "bundle key size");

void sync_box_seal(uint8_t out[SYNC_BOX_SEALED_LEN], const uint8_t key[SYNC_BOX_KEY_LEN],
                   const uint8_t pk[SYNC_X25519_LEN])
{
    /* Fails only for a public key libsodium cannot use (all-zero or low order); the
     * recipient then cannot open it, which the recipient reports. */
    if (crypto_box_seal(out, key, SYNC_BOX_KEY_LEN, pk) != 0)
        memset(out, 0, SYNC_BOX_SEALED_LEN);
}

int sync_box_open(uint8_t key[SYNC_BOX_KEY_LEN], const uint8_t sealed[SYNC_BOX_SEALED_LEN],
                  const uint8_t pk[SYNC_X25519_LEN], const uint8_t sk[SYNC_X25519_LEN])
{
    if (crypto_box_seal_open(key, sealed, SYNC_BOX_SEALED_LEN, pk, sk) != 0) {
        sodium_memzero(key, SYNC_BOX_KEY_LEN);
        return SN_EAUTH;
    }
    return 0;
}

void sync_keyed_hash(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen,
                     const char *context, const uint8_t *msg, size_t n)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, keylen, outlen);
    crypto_generichash_update(&st, (const uint8_t *)context, strlen(context));
    crypto_generichash_update(&st, msg, n);
    crypto_generichash_final(&st, out, outlen);
    sodium_memzero(&st, sizeof st);
}
