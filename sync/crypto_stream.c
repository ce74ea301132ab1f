/* sync/crypto_stream.c - libsodium's secretstream behind sync/crypto_stream.h: the only file
 * of the framing layer that sees sodium.h. No policy here; sync/frame.c decides what the
 * tags and lengths mean. */
#include "sync/crypto_stream.h"

#include <stdalign.h>

#include <sodium.h>

typedef crypto_secretstream_xchacha20poly1305_state sodium_state;

_Static_assert(SYNC_SECRETSTREAM_KEY_LEN == crypto_secretstream_xchacha20poly1305_KEYBYTES,
               "secretstream key size");
_Static_assert(SYNC_SECRETSTREAM_HEADER_LEN ==
                   crypto_secretstream_xchacha20poly1305_HEADERBYTES,
               "secretstream header size");
_Static_assert(SYNC_SECRETSTREAM_ABYTES == crypto_secretstream_xchacha20poly1305_ABYTES,
               "secretstream overhead");
_Static_assert(SYNC_SECRETSTREAM_STATE_LEN == sizeof(sodium_state), "secretstream state size");
_Static_assert(alignof(sync_secretstream) >= alignof(sodium_state), "secretstream alignment");
_Static_assert(SYNC_SECRETSTREAM_TAG_MESSAGE == crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
               "tag MESSAGE");
_Static_assert(SYNC_SECRETSTREAM_TAG_PUSH == crypto_secretstream_xchacha20poly1305_TAG_PUSH,
               "tag PUSH");
_Static_assert(SYNC_SECRETSTREAM_TAG_REKEY == crypto_secretstream_xchacha20poly1305_TAG_REKEY,
               "tag REKEY");
_Static_assert(SYNC_SECRETSTREAM_TAG_FINAL == crypto_secretstream_xchacha20poly1305_TAG_FINAL,
               "tag FINAL");

static sodium_state *state_of(sync_secretstream *st) { return (sodium_state *)(void *)st->opaque; }

void sync_secretstream_init_push(sync_secretstream *st,
                                 uint8_t header[SYNC_SECRETSTREAM_HEADER_LEN],
                                 const uint8_t key[SYNC_SECRETSTREAM_KEY_LEN])
{
    /* libsodium 1.0.18 always returns 0 here: it only draws the random header. */
    (void)crypto_secretstream_xchacha20poly1305_init_push(state_of(st), header, key);
}

void sync_secretstream_push(sync_secretstream *st, uint8_t *c, const uint8_t *m, size_t mlen,
                            const uint8_t *ad, size_t adlen, uint8_t tag)
{
    /* Fails only for mlen above MESSAGEBYTES_MAX (about 256 GiB), which aborts instead. */
    (void)crypto_secretstream_xchacha20poly1305_push(state_of(st), c, NULL, m, mlen, ad, adlen,
                                                     tag);
}

int sync_secretstream_init_pull(sync_secretstream *st,
                                const uint8_t header[SYNC_SECRETSTREAM_HEADER_LEN],
                                const uint8_t key[SYNC_SECRETSTREAM_KEY_LEN])
{
    if (crypto_secretstream_xchacha20poly1305_init_pull(state_of(st), header, key) != 0) {
        sodium_memzero(st, sizeof *st);
        return SN_EAUTH;
    }
    return 0;
}

int sync_secretstream_pull(sync_secretstream *st, uint8_t *m, size_t *mlen, uint8_t *tag,
                           const uint8_t *c, size_t clen, const uint8_t *ad, size_t adlen)
{
    unsigned long long n = 0;
    unsigned char t = 0;
    if (clen < SYNC_SECRETSTREAM_ABYTES ||
        crypto_secretstream_xchacha20poly1305_pull(state_of(st), m, &n, &t, c, clen, ad, adlen) !=
            0)
        return SN_EAUTH;
    *mlen = (size_t)n;
    *tag = t;
    return 0;
}

void sync_secretstream_wipe(sync_secretstream *st) { sodium_memzero(st, sizeof *st); }
