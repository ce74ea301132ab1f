/* fuzz/gen_seeds.h - what the two halves of the seed generator share: building one seed
 * input and writing it as DIR/<target>/seed-<name>. */
#ifndef SN_FUZZ_GEN_SEEDS_H
#define SN_FUZZ_GEN_SEEDS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "node/store.h"
#include "sync/cert.h"

/* One input being built. Every helper aborts on failure (a generator has no plan B). */
typedef struct seed {
    sn_buf b;
} seed;

#define SEED_NO_MODE 0x100 /* seed_begin: the target's input has no mode byte */

void seed_begin(seed *s, unsigned mode);
void seed_put(seed *s, const void *p, size_t n);
void seed_piece(seed *s, const void *p, size_t n); /* as fuzz_piece reads it */
void seed_u16(seed *s, uint16_t v);
/* Write the input and free it. */
void seed_save(seed *s, const char *target, const char *name);
/* A certificate's bytes; the caller frees them with sn_buf_free. */
sn_buf seed_cert_bytes(const sync_cert *c);

/* fuzz/gen_seeds_store.c: commit bodies, units and HEADS, log and vector files from a
 * store enrolled with the fixed CA, and configuration files. */
void seeds_from_store(void);
void seeds_config(void);
/* A session for the link target: the fixed origin's HELLO, a unit, heads, GOODBYE. */
void seeds_link(void);

/* fuzz/gen_seeds_bundle.c: a proof of equivocation found by a store of its own, which the
 * sender `st` is then given; bundles from the sender (its store directory `dir`). */
void seeds_equivocation(node_store *st);
void seeds_bundle(node_store *st, const char *dir);

#endif
