/* sync/crypto_noise.c - X25519, ChaCha20-Poly1305, SHA-256 and HMAC-SHA256 for Noise,
 * through libsodium 1.0.18 (which has no HKDF: sync/noise.c builds it from the HMAC here).
 * Like sync/crypto.c, one of the few doors to libsodium: nothing else in sync/ includes it. */
#include "sync/crypto_noise.h"

#include <string.h>

#include <sodium.h>

_Static_assert(SYNC_NOISE_DH_LEN == crypto_scalarmult_BYTES, "X25519 output size");
_Static_assert(SYNC_NOISE_DH_LEN == crypto_scalarmult_SCALARBYTES, "X25519 scalar size");
_Static_assert(SYNC_AEAD_KEY_LEN == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "AEAD key size");
_Static_assert(SYNC_AEAD_TAG_LEN == crypto_aead_chacha20poly1305_ietf_ABYTES, "AEAD tag size");
_Static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12, "IETF nonce size");
_Static_assert(SYNC_SHA256_LEN == crypto_hash_sha256_BYTES, "SHA-256 size");
_Static_assert(SYNC_SHA256_LEN == crypto_auth_hmacsha256_BYTES, "HMAC-SHA256 size");

int sync_noise_keypair(uint8_t sk[SYNC_NOISE_DH_LEN], uint8_t pk[SYNC_NOISE_DH_LEN], sn_err *err)
{
    randombytes_buf(sk, SYNC_NOISE_DH_LEN);
    if (crypto_scalarmult_base(pk, sk) != 0) {
        sodium_memzero(sk, SYNC_NOISE_DH_LEN);
        sodium_memzero(pk, SYNC_NOISE_DH_LEN);
        return sn_err_set(err, SN_EIO, "cannot generate an X25519 key pair");
    }
    return 0;
}

int sync_noise_pk_of(uint8_t pk[SYNC_NOISE_DH_LEN], const uint8_t sk[SYNC_NOISE_DH_LEN],
                     sn_err *err)
{
    if (crypto_scalarmult_base(pk, sk) != 0) {
        sodium_memzero(pk, SYNC_NOISE_DH_LEN);
        return sn_err_set(err, SN_EIO, "cannot derive an X25519 public key");
    }
    return 0;
}

int sync_noise_dh(uint8_t out[SYNC_NOISE_DH_LEN], const uint8_t sk[SYNC_NOISE_DH_LEN],
                  const uint8_t pk[SYNC_NOISE_DH_LEN])
{
    /* libsodium refuses a blacklist of low-order points and an all-zero result; we check the
     * output again so the guarantee does not rest on one implementation's internals. */
    if (crypto_scalarmult(out, sk, pk) != 0 || sodium_is_zero(out, SYNC_NOISE_DH_LEN)) {
        sodium_memzero(out, SYNC_NOISE_DH_LEN);
        return SN_EAUTH;
    }
    return 0;
}

int sync_noise_pk_check(const uint8_t pk[SYNC_NOISE_DH_LEN])
{
    /* X25519 clamps every scalar to a multiple of the cofactor 8, so a point of order 1, 2, 4
     * or 8 gives zero under any scalar: one multiplication by a fixed public one decides. */
    static const uint8_t probe[SYNC_NOISE_DH_LEN] = {
        0x4f, 0x75, 0x74, 0x70, 0x6f, 0x73, 0x74, 0x20, 0x70, 0x72, 0x6f,
        0x62, 0x65, 0x20, 0x73, 0x63, 0x61, 0x6c, 0x61, 0x72, 0x20, 0x66,
        0x6f, 0x72, 0x20, 0x6b, 0x65, 0x79, 0x73, 0x2e, 0x2e, 0x2e,
    };
    uint8_t out[SYNC_NOISE_DH_LEN];
    int rc = sync_noise_dh(out, probe, pk);
    sodium_memzero(out, sizeof out);
    return rc;
}

/* Noise §12.3: 32 bits of zeros, then the 64-bit counter little-endian. */
static void noise_nonce(uint8_t nonce[12], uint64_t n)
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

void sync_aead_encrypt(uint8_t *ct, const uint8_t key[SYNC_AEAD_KEY_LEN], uint64_t n,
                       const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len)
{
    uint8_t nonce[12];
    noise_nonce(nonce, n);
    /* Cannot fail for messages under 256 GiB; Noise messages are at most 64 KiB. */
    (void)crypto_aead_chacha20poly1305_ietf_encrypt(ct, NULL, pt, pt_len, ad, ad_len, NULL,
                                                    nonce, key);
}

int sync_aead_decrypt(uint8_t *pt, const uint8_t key[SYNC_AEAD_KEY_LEN], uint64_t n,
                      const uint8_t *ad, size_t ad_len, const uint8_t *ct, size_t ct_len)
{
    if (ct_len < SYNC_AEAD_TAG_LEN)
        return SN_EAUTH;
    uint8_t nonce[12];
    noise_nonce(nonce, n);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(pt, NULL, NULL, ct, ct_len, ad, ad_len, nonce,
                                                  key) != 0) {
        /* libsodium already clears it; say so here rather than rely on that. */
        if (ct_len > SYNC_AEAD_TAG_LEN)
            sodium_memzero(pt, ct_len - SYNC_AEAD_TAG_LEN);
        return SN_EAUTH;
    }
    return 0;
}

void sync_sha256(uint8_t out[SYNC_SHA256_LEN], const uint8_t *a, size_t a_len)
{
    sync_sha256_2(out, a, a_len, NULL, 0);
}

void sync_sha256_2(uint8_t out[SYNC_SHA256_LEN], const uint8_t *a, size_t a_len,
                   const uint8_t *b, size_t b_len)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    if (a_len > 0)
        crypto_hash_sha256_update(&st, a, a_len);
    if (b_len > 0)
        crypto_hash_sha256_update(&st, b, b_len);
    crypto_hash_sha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

void sync_hmac_sha256(uint8_t out[SYNC_SHA256_LEN], const uint8_t *key, size_t key_len,
                      const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    /* The _init/_update/_final API takes keys of any length (longer ones are hashed first, as
     * RFC 2104 says); the one-shot crypto_auth_hmacsha256 wants exactly 32 bytes. */
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    if (a_len > 0)
        crypto_auth_hmacsha256_update(&st, a, a_len);
    if (b_len > 0)
        crypto_auth_hmacsha256_update(&st, b, b_len);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

void sync_secret_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        sodium_memzero(p, n);
}
