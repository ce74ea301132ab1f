/* tests/support.h - shared test helpers: temporary directories, a fake clock, a seeded
 * RNG, and store set-up. */
#ifndef SN_TESTS_SUPPORT_H
#define SN_TESTS_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "node/store.h"

/* A deterministic RNG (splitmix64) for seeded property tests. */
typedef struct test_rng {
    uint64_t s;
} test_rng;
void test_rng_seed(test_rng *r, uint64_t seed);
uint64_t test_rng_next(test_rng *r);
/* Uniform in [0, n). n > 0. */
uint32_t test_rng_below(test_rng *r, uint32_t n);
void test_rng_bytes(test_rng *r, uint8_t *out, size_t n);

/* `size` zeroed bytes shared with the children of Check's fork mode (MAP_SHARED), for
 * figures summed over tests; NULL when the mapping fails. Never unmapped. */
void *test_shared_map(size_t size);

/* A fake wall clock: tests move it by hand. */
typedef struct test_clock {
    uint64_t ms;
} test_clock;
uint64_t test_clock_now(void *ctx);

/* A fresh temporary directory (mkdtemp under $TMPDIR or /tmp); caller frees the string
 * with free() and removes the tree with test_rmtree. */
char *test_tmpdir(void);
/* The same in memory (/dev/shm) when TMPDIR is not set and it exists: for suites that make
 * thousands of throw-away NODE_FAST stores, whose fsyncs (keys file, WAL set-up) on a disk
 * cost minutes and test nothing. */
char *test_tmpdir_mem(void);
void test_rmtree(const char *path);

/* Create and open a store named `name` in a new subdirectory of `parent`, with the fake
 * clock and NODE_FAST durability; `parent` is its state directory (instance tokens), so
 * reopen it with .state_dir = parent. Asserts on failure. */
node_store *test_store_new(const char *parent, const char *name, test_clock *clock);

#endif
