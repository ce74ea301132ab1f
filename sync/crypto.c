/* sync/crypto.c - key generation through libsodium (handshake and signatures come later). */
#include "sync/crypto.h"

#include <sodium.h>

int sync_keys_generate(sync_keys *k, sn_err *err)
{
    if (crypto_sign_keypair(k->sign_pk, k->sign_sk) != 0 ||
        crypto_box_keypair(k->noise_pk, k->noise_sk) != 0 ||
        crypto_box_keypair(k->box_pk, k->box_sk) != 0) {
        sync_keys_wipe(k);
        return sn_err_set(err, SN_EIO, "cannot generate node keys");
    }
    return 0;
}

void sync_keys_wipe(sync_keys *k) { sodium_memzero(k, sizeof *k); }
