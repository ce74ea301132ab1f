/* base/hash.h - BLAKE2b (libsodium) for integrity, XXH3 (xxHash) for fast digests, and
 * system randomness. The only door to libsodium and xxHash outside sync/crypto.c. */
#ifndef SN_BASE_HASH_H
#define SN_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define SN_BLAKE2B_256 32
#define SN_BLAKE2B_128 16

/* Initialise libsodium; call once at start-up. Returns 0 or SN_EIO. */
SN_NODISCARD int sn_hash_init(sn_err *err);

/* One-shot BLAKE2b with an output of `outlen` bytes (16..64). */
void sn_blake2b(uint8_t *out, size_t outlen, const void *in, size_t inlen);

/* Incremental BLAKE2b-256. */
typedef struct sn_blake2b_state {
    _Alignas(64) uint8_t opaque[384];
} sn_blake2b_state;
void sn_blake2b_init(sn_blake2b_state *st, size_t outlen);
void sn_blake2b_update(sn_blake2b_state *st, const void *in, size_t inlen);
void sn_blake2b_final(sn_blake2b_state *st, uint8_t *out, size_t outlen);

/* Incremental XXH3-128 (seed 0, part of every digest format that uses it). */
typedef struct sn_xxh128_state sn_xxh128_state;
SN_NODISCARD int sn_xxh128_new(sn_xxh128_state **out, sn_err *err);
void sn_xxh128_update(sn_xxh128_state *st, const void *in, size_t inlen);
/* Writes the 16-byte canonical (big-endian) form of the digest. */
void sn_xxh128_final(sn_xxh128_state *st, uint8_t out[16]);
void sn_xxh128_free(sn_xxh128_state *st);
/* One-shot XXH3-64. */
uint64_t sn_xxh64(const void *in, size_t inlen);

/* Fill `out` with cryptographically secure random bytes. */
void sn_random_bytes(void *out, size_t n);
/* Uniform random number in [0, upper). */
uint32_t sn_random_uniform(uint32_t upper);

#ifdef SN_TESTABLE
/* Test builds only: from now on every random byte in the process (libsodium's generator:
 * keys, Noise ephemerals, stream headers, replica and row ids, nonces) is a function of
 * `seed`, so a seeded simulation replays exactly; sn_random_system() goes back to the
 * system's generator. Never compiled into release builds. */
void sn_random_deterministic(uint64_t seed);
void sn_random_system(void);
#endif

/* Overwrite memory with zeros in a way the compiler cannot elide (secrets). */
void sn_wipe(void *p, size_t n);

/* Lower-case hex of `n` bytes into `out` (2n+1 bytes, NUL-terminated). */
void sn_hex(char *out, const uint8_t *in, size_t n);
/* Parse exactly 2n hex digits into n bytes. Returns 0 or SN_EINVAL. */
SN_NODISCARD int sn_unhex(uint8_t *out, size_t n, const char *hex);

#endif
