/* sync/crypto.c - keys and Ed25519 signatures through libsodium (the handshake and AEAD
 * come later). The one door to libsodium in sync/: every other sync file calls these. */
#include "sync/crypto.h"

#include <string.h>

#include <sodium.h>

#include "base/alloc.h"
#include "base/hash.h"

_Static_assert(SYNC_SIGN_PK_LEN == crypto_sign_PUBLICKEYBYTES, "Ed25519 public key size");
_Static_assert(SYNC_SIGN_SK_LEN == crypto_sign_SECRETKEYBYTES, "Ed25519 secret key size");
_Static_assert(SYNC_SIG_LEN == crypto_sign_BYTES, "Ed25519 signature size");
_Static_assert(SYNC_X25519_LEN == crypto_box_PUBLICKEYBYTES, "X25519 key size");

/* Build context || NUL || msg in one buffer, so that plain Ed25519 (not the prehashed
 * Ed25519ph variant) signs exactly those bytes. Messages up to a few KiB use the stack;
 * larger ones are allocated. Returns the buffer (stack or heap) or NULL when the
 * allocation failed or the length overflows. */
#define SIGN_STACK_MAX 4096

static uint8_t *signed_bytes(uint8_t stack[SIGN_STACK_MAX], const char *context,
                             const uint8_t *msg, size_t n, size_t *len)
{
    size_t clen = strlen(context) + 1;
    size_t total;
    if (__builtin_add_overflow(clen, n, &total))
        return NULL;
    uint8_t *p = total <= SIGN_STACK_MAX ? stack : sn_malloc(total);
    if (p == NULL)
        return NULL;
    memcpy(p, context, clen);
    if (n > 0)
        memcpy(p + clen, msg, n);
    *len = total;
    return p;
}

static void signed_bytes_free(uint8_t *p, uint8_t stack[SIGN_STACK_MAX])
{
    if (p != stack)
        sn_free(p);
}

int sync_sign_checked(uint8_t sig[SYNC_SIG_LEN], const char *context, const uint8_t *msg,
                      size_t n, const uint8_t sk[SYNC_SIGN_SK_LEN], sn_err *err)
{
    uint8_t stack[SIGN_STACK_MAX];
    size_t len = 0;
    uint8_t *p = signed_bytes(stack, context, msg, n, &len);
    if (p == NULL) {
        /* All zero bytes verifies under no key: libsodium refuses the small-order R = 0. */
        memset(sig, 0, SYNC_SIG_LEN);
        return sn_err_set(err, SN_ENOMEM, "signing %zu bytes (%s): out of memory", n, context);
    }
    crypto_sign_detached(sig, NULL, p, len, sk);
    signed_bytes_free(p, stack);
    return 0;
}

int sync_verify_checked(const uint8_t sig[SYNC_SIG_LEN], const char *context, const uint8_t *msg,
                        size_t n, const uint8_t pk[SYNC_SIGN_PK_LEN], sn_err *err)
{
    uint8_t stack[SIGN_STACK_MAX];
    size_t len = 0;
    uint8_t *p = signed_bytes(stack, context, msg, n, &len);
    if (p == NULL)
        return sn_err_set(err, SN_ENOMEM, "verifying %zu bytes (%s): out of memory", n, context);
    int rc = crypto_sign_verify_detached(sig, p, len, pk) == 0 ? 0 : SN_EAUTH;
    signed_bytes_free(p, stack);
    return rc;
}

void sync_sign(uint8_t sig[SYNC_SIG_LEN], const char *context, const uint8_t *msg, size_t n,
               const uint8_t sk[SYNC_SIGN_SK_LEN])
{
    /* Out of memory leaves an all-zero signature that nothing accepts (see the header). */
    if (sync_sign_checked(sig, context, msg, n, sk, NULL) != 0)
        return;
}

bool sync_verify(const uint8_t sig[SYNC_SIG_LEN], const char *context, const uint8_t *msg,
                 size_t n, const uint8_t pk[SYNC_SIGN_PK_LEN])
{
    return sync_verify_checked(sig, context, msg, n, pk, NULL) == 0;
}

void sync_kid(uint8_t kid[SYNC_KID_LEN], const uint8_t pk[SYNC_SIGN_PK_LEN])
{
    uint8_t h[SN_BLAKE2B_256];
    sn_blake2b(h, sizeof h, pk, SYNC_SIGN_PK_LEN);
    memcpy(kid, h, SYNC_KID_LEN);
}

void sync_sign_pk_of(uint8_t pk[SYNC_SIGN_PK_LEN], const uint8_t sk[SYNC_SIGN_SK_LEN])
{
    /* libsodium's Ed25519 secret key is seed || pk. */
    memcpy(pk, sk + 32, SYNC_SIGN_PK_LEN);
}

int sync_sign_keypair(uint8_t pk[SYNC_SIGN_PK_LEN], uint8_t sk[SYNC_SIGN_SK_LEN], sn_err *err)
{
    if (crypto_sign_keypair(pk, sk) != 0) {
        sodium_memzero(sk, SYNC_SIGN_SK_LEN);
        return sn_err_set(err, SN_EIO, "cannot generate a signing key pair");
    }
    return 0;
}

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
