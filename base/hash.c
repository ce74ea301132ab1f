/* base/hash.c - BLAKE2b through libsodium, XXH3 through xxHash, randomness, hex. */
#include "base/hash.h"

#include <sodium.h>
#include <string.h>
#include <xxhash.h>

#include "base/alloc.h"

_Static_assert(sizeof(crypto_generichash_state) <= sizeof(sn_blake2b_state),
               "sn_blake2b_state too small for libsodium's state");

int sn_hash_init(sn_err *err)
{
    if (sodium_init() < 0)
        return sn_err_set(err, SN_EIO, "cannot initialise libsodium");
    return 0;
}

void sn_blake2b(uint8_t *out, size_t outlen, const void *in, size_t inlen)
{
    crypto_generichash(out, outlen, in, inlen, NULL, 0);
}

void sn_blake2b_init(sn_blake2b_state *st, size_t outlen)
{
    crypto_generichash_init((crypto_generichash_state *)st->opaque, NULL, 0, outlen);
}

void sn_blake2b_update(sn_blake2b_state *st, const void *in, size_t inlen)
{
    crypto_generichash_update((crypto_generichash_state *)st->opaque, in, inlen);
}

void sn_blake2b_final(sn_blake2b_state *st, uint8_t *out, size_t outlen)
{
    crypto_generichash_final((crypto_generichash_state *)st->opaque, out, outlen);
}

struct sn_xxh128_state {
    XXH3_state_t *xx;
};

int sn_xxh128_new(sn_xxh128_state **out, sn_err *err)
{
    *out = NULL;
    sn_xxh128_state *st = sn_malloc(sizeof *st);
    if (st == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory creating a digest");
    /* xxHash allocates its state with malloc; the state is 576 bytes and aligned, so we
     * keep it in xxHash's own allocator and only account for our wrapper. */
    st->xx = XXH3_createState();
    if (st->xx == NULL) {
        sn_free(st);
        return sn_err_set(err, SN_ENOMEM, "out of memory creating a digest");
    }
    XXH3_128bits_reset(st->xx);
    *out = st;
    return 0;
}

void sn_xxh128_update(sn_xxh128_state *st, const void *in, size_t inlen)
{
    XXH3_128bits_update(st->xx, in, inlen);
}

void sn_xxh128_final(sn_xxh128_state *st, uint8_t out[16])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st->xx));
    memcpy(out, c.digest, 16);
}

void sn_xxh128_free(sn_xxh128_state *st)
{
    if (st == NULL)
        return;
    XXH3_freeState(st->xx);
    sn_free(st);
}

uint64_t sn_xxh64(const void *in, size_t inlen) { return XXH3_64bits(in, inlen); }

void sn_random_bytes(void *out, size_t n) { randombytes_buf(out, n); }

uint32_t sn_random_uniform(uint32_t upper) { return randombytes_uniform(upper); }

#ifdef SN_TESTABLE
/* Each request draws from ChaCha20 keyed by BLAKE2b(seed, request number). */
static uint64_t g_det_seed, g_det_count;

static const char *det_name(void) { return "outpost-test-deterministic"; }

static void det_buf(void *buf, size_t n)
{
    uint8_t in[16], key[randombytes_SEEDBYTES];
    memcpy(in, &g_det_seed, 8);
    memcpy(in + 8, &g_det_count, 8);
    g_det_count++;
    crypto_generichash(key, sizeof key, in, sizeof in, NULL, 0);
    randombytes_buf_deterministic(buf, n, key);
}

static uint32_t det_random(void)
{
    uint32_t r;
    det_buf(&r, sizeof r);
    return r;
}

static uint32_t det_uniform(const uint32_t upper)
{
    if (upper < 2)
        return 0;
    uint32_t min = (uint32_t)(-upper % upper), r;
    do
        r = det_random();
    while (r < min);
    return r % upper;
}

static randombytes_implementation g_det_impl = {
    .implementation_name = det_name, .random = det_random, .uniform = det_uniform,
    .buf = det_buf};

void sn_random_deterministic(uint64_t seed)
{
    g_det_seed = seed;
    g_det_count = 0;
    (void)randombytes_set_implementation(&g_det_impl);
}

void sn_random_system(void)
{
    (void)randombytes_set_implementation(&randombytes_sysrandom_implementation);
}
#endif

void sn_wipe(void *p, size_t n) { sodium_memzero(p, n); }

void sn_hex(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int sn_unhex(uint8_t *out, size_t n, const char *hex)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]);
        if (hi < 0)
            return SN_EINVAL;
        int lo = hexval(hex[2 * i + 1]);
        if (lo < 0)
            return SN_EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return hex[2 * n] == '\0' ? 0 : SN_EINVAL;
}
