/* sync/crypto_stream.h - thin wrappers over libsodium's crypto_secretstream_xchacha20poly1305
 * (SECURITY.md §2.4), so that sodium.h stays behind the sync/crypto*.c door.
 *
 * A stream is one direction of one connection under one key. The pushing side makes a fresh
 * random 24-byte header, sent in clear; the pulling side starts from that header. Each push
 * turns m into 1 (encrypted tag) + |m| + 16 (MAC) bytes and advances an implicit counter, so
 * a replayed, reordered, dropped or altered chunk fails to pull. Nonces are managed by
 * libsodium: never copy, fork or persist a state. The framing rules (lengths, tags per
 * chunk) live in sync/frame.c; these functions add none. */
#ifndef SN_SYNC_CRYPTO_STREAM_H
#define SN_SYNC_CRYPTO_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define SYNC_SECRETSTREAM_KEY_LEN 32u
#define SYNC_SECRETSTREAM_HEADER_LEN 24u
#define SYNC_SECRETSTREAM_ABYTES 17u /* per chunk: encrypted tag byte + 16-byte MAC */
#define SYNC_SECRETSTREAM_STATE_LEN 52u

/* Chunk tags (libsodium's values, checked in the .c file). */
enum {
    SYNC_SECRETSTREAM_TAG_MESSAGE = 0x00, /* more chunks of this message follow */
    SYNC_SECRETSTREAM_TAG_PUSH = 0x01,    /* last chunk of a message */
    SYNC_SECRETSTREAM_TAG_REKEY = 0x02,   /* derive a new key after this chunk */
    SYNC_SECRETSTREAM_TAG_FINAL = 0x03,   /* last chunk of the stream (PUSH | REKEY) */
};

/* libsodium's state as opaque bytes (it holds the current key): embed it, wipe it with
 * sync_secretstream_wipe, never copy it. */
typedef struct sync_secretstream {
    _Alignas(8) uint8_t opaque[SYNC_SECRETSTREAM_STATE_LEN];
} sync_secretstream;

/* Start a push stream under `key`, writing the random header to send in clear. */
void sync_secretstream_init_push(sync_secretstream *st,
                                 uint8_t header[SYNC_SECRETSTREAM_HEADER_LEN],
                                 const uint8_t key[SYNC_SECRETSTREAM_KEY_LEN]);
/* Encrypt `mlen` bytes of `m` with `tag`, authenticating `ad` (may be NULL when adlen is 0),
 * into `c`, which has room for mlen + SYNC_SECRETSTREAM_ABYTES bytes and does not overlap
 * `m`. Cannot fail for the sizes the framing uses. */
void sync_secretstream_push(sync_secretstream *st, uint8_t *c, const uint8_t *m, size_t mlen,
                            const uint8_t *ad, size_t adlen, uint8_t tag);
/* Start a pull stream from the peer's header. Returns 0 or SN_EAUTH (libsodium refused the
 * header); a damaged header is usually noticed only when the first chunk fails to pull. */
SN_NODISCARD int sync_secretstream_init_pull(sync_secretstream *st,
                                             const uint8_t header[SYNC_SECRETSTREAM_HEADER_LEN],
                                             const uint8_t key[SYNC_SECRETSTREAM_KEY_LEN]);
/* Authenticate and decrypt one chunk of `clen` bytes (at least SYNC_SECRETSTREAM_ABYTES)
 * into `m` (room for clen - SYNC_SECRETSTREAM_ABYTES bytes, not overlapping `c`); set *mlen
 * and *tag. Returns 0, or SN_EAUTH (nothing usable in `m`), leaving the caller to say which
 * chunk failed: there is no sn_err here on purpose. */
SN_NODISCARD int sync_secretstream_pull(sync_secretstream *st, uint8_t *m, size_t *mlen,
                                        uint8_t *tag, const uint8_t *c, size_t clen,
                                        const uint8_t *ad, size_t adlen);
/* Overwrite the state (and so the key it holds) with zeros. */
void sync_secretstream_wipe(sync_secretstream *st);

#endif
