/* crdt/mv.h - the multi-value register with a persisted causal context (DESIGN.md §3).
 * Pure. Values are opaque canonical byte strings; the caller supplies each sibling's rank
 * for the `ranked` display rule (higher rank = safer = displayed first). */
#ifndef SN_CRDT_MV_H
#define SN_CRDT_MV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "crdt/hlc.h"
#include "crdt/vv.h"

/* Siblings per cell are capped; a write beyond it is SN_ETOOBIG. */
#define CRDT_MV_MAX_SIBLINGS 1024

typedef enum crdt_display {
    CRDT_DISPLAY_LATEST = 1, /* highest (hlc, replica by memcmp, epoch) */
    CRDT_DISPLAY_RANKED = 2, /* highest rank, then as LATEST */
} crdt_display;

typedef struct crdt_sibling {
    crdt_dot dot;
    crdt_hlc hlc;
    int32_t rank;   /* 0 for values outside the column's order */
    uint8_t *value; /* owned; canonical encoding, compared with memcmp */
    size_t value_len;
} crdt_sibling;

/* A cell: its causal context and its current siblings (in no particular order). */
typedef struct crdt_mv {
    crdt_vv ctx;
    crdt_sibling *sibs;
    size_t n;
    size_t cap;
} crdt_mv;

/* One write to a cell: the commit's dot and hlc, the value, and the context the writer
 * had seen (empty for the initial value carried by an insert). Borrowed. */
typedef struct crdt_mv_write {
    crdt_dot dot;
    crdt_hlc hlc;
    int32_t rank;
    const uint8_t *value;
    size_t value_len;
    const crdt_vv *ctx; /* NULL = empty */
} crdt_mv_write;

void crdt_mv_init(crdt_mv *m);
void crdt_mv_free(crdt_mv *m); /* back to empty; NULL-safe */

/* Apply one write (DESIGN.md §3):
 *   covered  := cell.ctx covers w.dot
 *   siblings := { s : s.dot = w.dot or s not covered by (w.ctx ⊔ {w.dot}) }
 *               ∪ ({w} unless covered)
 *   cell.ctx := cell.ctx ⊔ w.ctx ⊔ {w.dot}
 * (A write never prunes the sibling with its own dot, i.e. itself: that is what makes a
 * repeat a no-op.)
 * For honest writers (whose ctx covers everything their own dot does) this is exactly
 * the rule of DESIGN.md; pruning with the incoming ctx even when the write itself is
 * covered makes the result a function of the set of writes, whatever a dishonest writer
 * sends. *added (may be NULL) says whether w became a sibling. Returns 0, SN_EINVAL (w.dot
 * has seq 0, or w.ctx fails crdt_vv_check), SN_ENOMEM or SN_ETOOBIG; on failure the cell
 * is unchanged. Applying the same write twice changes nothing the second time. */
SN_NODISCARD int crdt_mv_apply(crdt_mv *m, const crdt_mv_write *w, bool *added, sn_err *err);

/* The display winner, or NULL when the cell has no siblings. Borrowed from m. */
const crdt_sibling *crdt_mv_winner(const crdt_mv *m, crdt_display rule);

/* True when the siblings hold at least two different values (a `review` conflict). */
bool crdt_mv_values_differ(const crdt_mv *m);

/* The `latest` order: >0 when a wins over b (higher hlc, then replica by memcmp, then
 * epoch, then seq), <0 when b wins, 0 only for the same dot. */
int crdt_sibling_cmp_latest(const crdt_sibling *a, const crdt_sibling *b);

/* Sort siblings by (origin, seq) so equal cells have equal layouts (digests, tests). */
void crdt_mv_sort(crdt_mv *m);

/* Deep copy. On failure dst is unchanged. */
SN_NODISCARD int crdt_mv_copy(crdt_mv *dst, const crdt_mv *src, sn_err *err);

/* Invariants: ctx valid, every sibling's dot covered by ctx, no two siblings with the same
 * dot, at most CRDT_MV_MAX_SIBLINGS. Returns 0 or SN_ECORRUPT. */
SN_NODISCARD int crdt_mv_check(const crdt_mv *m, sn_err *err);

#endif
