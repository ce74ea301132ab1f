/* crdt/vv.h - origins, dots and sparse version vectors (origin -> highest seq). Pure. */
#ifndef SN_CRDT_VV_H
#define SN_CRDT_VV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define CRDT_REPLICA_LEN 16
/* A vector never holds more origins than this; past it operations fail with SN_ETOOBIG. */
#define CRDT_VV_MAX_ENTRIES 65536

/* A CRDT origin: a node's random replica id plus its epoch (a restored store takes a new
 * epoch so it never reuses a sequence number it already signed). */
typedef struct crdt_origin {
    uint8_t replica[CRDT_REPLICA_LEN];
    uint32_t epoch;
} crdt_origin;

/* The identity of one commit: (origin, seq), seq >= 1. */
typedef struct crdt_dot {
    crdt_origin origin;
    uint64_t seq;
} crdt_dot;

/* Total order on origins: replica bytes by memcmp, then epoch. Returns <0, 0, >0. */
int crdt_origin_cmp(const crdt_origin *a, const crdt_origin *b);
bool crdt_origin_equal(const crdt_origin *a, const crdt_origin *b);

typedef struct crdt_vv_entry {
    crdt_origin origin;
    uint64_t seq; /* always >= 1: absent origins are 0 */
} crdt_vv_entry;

/* Entries sorted by crdt_origin_cmp, no duplicates, no zero seqs. Zero-initialised
 * (or crdt_vv_init) is the empty vector. */
typedef struct crdt_vv {
    crdt_vv_entry *e;
    size_t n;
    size_t cap;
} crdt_vv;

void crdt_vv_init(crdt_vv *vv);
void crdt_vv_free(crdt_vv *vv); /* back to empty; NULL-safe */
void crdt_vv_clear(crdt_vv *vv); /* empty, keeps memory */

/* The seq held for `origin`, 0 when absent. */
uint64_t crdt_vv_get(const crdt_vv *vv, const crdt_origin *origin);
/* Set origin's entry to max(current, seq). SN_ENOMEM or SN_ETOOBIG leave vv unchanged. */
SN_NODISCARD int crdt_vv_raise(crdt_vv *vv, const crdt_origin *origin, uint64_t seq, sn_err *err);
/* Set origin's entry to exactly seq (0 removes it). */
SN_NODISCARD int crdt_vv_set(crdt_vv *vv, const crdt_origin *origin, uint64_t seq, sn_err *err);
/* into := into ⊔ other (pointwise max). On failure `into` is unchanged. */
SN_NODISCARD int crdt_vv_join(crdt_vv *into, const crdt_vv *other, sn_err *err);
/* dst := src (dst's old contents are replaced; on failure dst is unchanged). */
SN_NODISCARD int crdt_vv_copy(crdt_vv *dst, const crdt_vv *src, sn_err *err);
/* True when vv[dot.origin] >= dot.seq. */
bool crdt_vv_covers(const crdt_vv *vv, const crdt_dot *dot);
/* True when every entry of b is <= the same entry of a. */
bool crdt_vv_dominates(const crdt_vv *a, const crdt_vv *b);
bool crdt_vv_equal(const crdt_vv *a, const crdt_vv *b);

typedef enum crdt_vv_order {
    CRDT_VV_EQUAL = 0,
    CRDT_VV_BEFORE = 1,     /* a < b */
    CRDT_VV_AFTER = 2,      /* a > b */
    CRDT_VV_CONCURRENT = 3,
} crdt_vv_order;
crdt_vv_order crdt_vv_compare(const crdt_vv *a, const crdt_vv *b);

/* Invariants (sorted, unique, non-zero). Returns 0 or SN_ECORRUPT with a message. */
SN_NODISCARD int crdt_vv_check(const crdt_vv *vv, sn_err *err);

#endif
