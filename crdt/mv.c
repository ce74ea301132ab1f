/* crdt/mv.c - the multi-value register with a persisted causal context.
 *
 * A cell is (ctx, siblings). Each write w carries its dot (origin, seq), its hlc, its
 * value and ctx_w, the cell context its writer had seen. Write P(w) = ctx_w ⊔ {dot_w} for
 * everything w knows about. Applying w to a cell:
 *
 *   covered   := ctx covers dot_w                      (some applied write already knew w)
 *   siblings  := { s : s = w by dot, or P(w) does not cover dot_s }  ∪ ({w} unless covered)
 *   ctx       := ctx ⊔ P(w)
 *
 * The laws, for any set W of writes applied in any order, with repeats:
 *
 *   state     ctx = ⊔ { P(w) : w ∈ W }
 *             siblings = { w ∈ W : no other w' ∈ W (by dot) has P(w') covering dot_w }
 *   so        apply is commutative and idempotent: the cell is a function of the *set* of
 *             writes, which is what lets every node converge whatever path a commit took.
 *
 * Proof sketch: ctx covers a dot iff some applied P(w') covers it (join is a pointwise
 * max), so "covered" is exactly "some earlier write supersedes w"; a later write prunes the
 * siblings its P covers, and a pruned sibling never comes back because ctx already covers
 * it. A repeated write is covered (ctx holds its dot) and prunes nothing new, since
 * anything its P covers was pruned, or refused, when it first arrived. This is why the
 * cell persists ctx and not only its siblings: without it a late superseded write would
 * reappear. Pruning even when w itself is covered keeps the law true whatever a dishonest
 * writer puts in ctx_w. A write never prunes itself: its own dot is in P(w).
 *
 * Consequences the rest of the system relies on: a causally later write supersedes with
 * no conflict even when its hlc is lower (clocks never decide supersession); concurrent
 * writes stay as siblings until a write whose ctx covers them all (a resolution); a
 * sibling concurrent to the resolution stays. The display winner is a pure function of
 * the sibling set (crdt_mv_winner), so it converges too.
 *
 * Failure: apply and copy build the new state aside and swap it in only when every
 * allocation has succeeded, so SN_ENOMEM and SN_ETOOBIG leave the cell unchanged. */
#include "crdt/mv.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"

/* Enough for "<32 hex digits>/<epoch>:<seq>". */
#define DOT_TEXT_MAX (2 * CRDT_REPLICA_LEN + 1 + 10 + 1 + 20 + 1)

static const char *dot_text(char out[static DOT_TEXT_MAX], const crdt_dot *d)
{
    char hex[2 * CRDT_REPLICA_LEN + 1];
    sn_hex(hex, d->origin.replica, CRDT_REPLICA_LEN);
    snprintf(out, DOT_TEXT_MAX, "%s/%u:%llu", hex, (unsigned)d->origin.epoch,
             (unsigned long long)d->seq);
    return out;
}

static bool dot_equal(const crdt_dot *a, const crdt_dot *b)
{
    return a->seq == b->seq && crdt_origin_equal(&a->origin, &b->origin);
}

void crdt_mv_init(crdt_mv *m) { *m = (crdt_mv){0}; }

void crdt_mv_free(crdt_mv *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        sn_free(m->sibs[i].value);
    sn_free(m->sibs);
    crdt_vv_free(&m->ctx);
    crdt_mv_init(m);
}

/* True when w's knowledge P(w) = ctx_w ⊔ {dot_w} covers sibling s, s being another write. */
static bool write_prunes(const crdt_mv_write *w, const crdt_sibling *s)
{
    if (dot_equal(&s->dot, &w->dot))
        return false;
    if (crdt_origin_equal(&s->dot.origin, &w->dot.origin) && s->dot.seq < w->dot.seq)
        return true;
    return w->ctx != NULL && crdt_vv_covers(w->ctx, &s->dot);
}

/* The cell's context after w: ctx ⊔ ctx_w ⊔ {dot_w}, built in `out` (empty on entry). */
static int next_ctx(crdt_vv *out, const crdt_mv *m, const crdt_mv_write *w, sn_err *err)
{
    int rc = crdt_vv_copy(out, &m->ctx, err);
    if (rc == 0 && w->ctx != NULL)
        rc = crdt_vv_join(out, w->ctx, err);
    if (rc == 0)
        rc = crdt_vv_raise(out, &w->dot.origin, w->dot.seq, err);
    return rc;
}

int crdt_mv_apply(crdt_mv *m, const crdt_mv_write *w, bool *added, sn_err *err)
{
    assert(w->value != NULL || w->value_len == 0);
    if (added != NULL)
        *added = false;
    char text[DOT_TEXT_MAX];
    if (w->dot.seq == 0)
        return sn_err_set(err, SN_EINVAL,
                          "applying a write from origin %s to a cell: seq 0 names no commit "
                          "(seqs start at 1)",
                          dot_text(text, &w->dot));
    if (w->ctx != NULL && crdt_vv_check(w->ctx, NULL) != 0)
        return sn_err_set(err, SN_EINVAL,
                          "applying write %s to a cell: its context is not a valid version "
                          "vector (unsorted, repeated or zero entries)",
                          dot_text(text, &w->dot));

    bool covered = crdt_vv_covers(&m->ctx, &w->dot);
    /* A repeat (or a superseded write that knows nothing new) leaves ctx as it is; skip
     * the copy so the common duplicate costs no allocation. */
    bool ctx_grows = !covered || (w->ctx != NULL && !crdt_vv_dominates(&m->ctx, w->ctx));
    crdt_vv ctx = {0};
    uint8_t *value = NULL;
    int rc = 0;
    if (ctx_grows && (rc = next_ctx(&ctx, m, w, err)) != 0) {
        sn_err_prefix(err, "applying write %s to a cell", dot_text(text, &w->dot));
        goto fail;
    }

    size_t keep = 0;
    for (size_t i = 0; i < m->n; i++)
        keep += !write_prunes(w, &m->sibs[i]);
    if (!covered) {
        if (keep + 1 > CRDT_MV_MAX_SIBLINGS) {
            rc = sn_err_set(err, SN_ETOOBIG,
                            "applying write %s to a cell: it would hold %zu concurrent values, "
                            "more than the limit of %d; a write that resolves them is needed",
                            dot_text(text, &w->dot), keep + 1, CRDT_MV_MAX_SIBLINGS);
            goto fail;
        }
        if (w->value_len > 0) {
            value = sn_malloc(w->value_len);
            if (value == NULL) {
                rc = sn_err_set(err, SN_ENOMEM,
                                "applying write %s to a cell: out of memory copying its "
                                "%zu-byte value",
                                dot_text(text, &w->dot), w->value_len);
                goto fail;
            }
            memcpy(value, w->value, w->value_len);
        }
        if (keep + 1 > m->cap) {
            size_t cap = m->cap < 2 ? 2 : m->cap;
            while (cap < keep + 1)
                cap *= 2;
            if (cap > CRDT_MV_MAX_SIBLINGS)
                cap = CRDT_MV_MAX_SIBLINGS;
            crdt_sibling *sibs = sn_realloc(m->sibs, cap * sizeof *sibs);
            if (sibs == NULL) {
                rc = sn_err_set(err, SN_ENOMEM,
                                "applying write %s to a cell: out of memory growing it to %zu "
                                "values",
                                dot_text(text, &w->dot), cap);
                goto fail;
            }
            /* Only spare capacity changed: the cell still reads the same if we fail now. */
            m->sibs = sibs;
            m->cap = cap;
        }
    }

    /* Nothing below can fail. */
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (write_prunes(w, &m->sibs[i]))
            sn_free(m->sibs[i].value);
        else
            m->sibs[n++] = m->sibs[i];
    }
    if (!covered) {
        m->sibs[n++] = (crdt_sibling){.dot = w->dot, .hlc = w->hlc, .rank = w->rank,
                                      .value = value, .value_len = w->value_len};
    }
    m->n = n;
    if (ctx_grows) {
        crdt_vv_free(&m->ctx);
        m->ctx = ctx;
    }
    if (added != NULL)
        *added = !covered;
    return 0;
fail:
    sn_free(value);
    crdt_vv_free(&ctx);
    return rc;
}

int crdt_sibling_cmp_latest(const crdt_sibling *a, const crdt_sibling *b)
{
    if (a->hlc != b->hlc)
        return a->hlc > b->hlc ? 1 : -1;
    int c = crdt_origin_cmp(&a->dot.origin, &b->dot.origin);
    if (c != 0)
        return c;
    if (a->dot.seq != b->dot.seq)
        return a->dot.seq > b->dot.seq ? 1 : -1;
    return 0;
}

/* >0 when a is displayed over b under `rule`. */
static int sibling_cmp_display(const crdt_sibling *a, const crdt_sibling *b, crdt_display rule)
{
    if (rule == CRDT_DISPLAY_RANKED && a->rank != b->rank)
        return a->rank > b->rank ? 1 : -1;
    return crdt_sibling_cmp_latest(a, b);
}

const crdt_sibling *crdt_mv_winner(const crdt_mv *m, crdt_display rule)
{
    assert(rule == CRDT_DISPLAY_LATEST || rule == CRDT_DISPLAY_RANKED);
    const crdt_sibling *best = NULL;
    for (size_t i = 0; i < m->n; i++) {
        if (best == NULL || sibling_cmp_display(&m->sibs[i], best, rule) > 0)
            best = &m->sibs[i];
    }
    return best;
}

static bool value_equal(const crdt_sibling *a, const crdt_sibling *b)
{
    return a->value_len == b->value_len &&
           (a->value_len == 0 || memcmp(a->value, b->value, a->value_len) == 0);
}

bool crdt_mv_values_differ(const crdt_mv *m)
{
    for (size_t i = 1; i < m->n; i++) {
        if (!value_equal(&m->sibs[0], &m->sibs[i]))
            return true;
    }
    return false;
}

static int sibling_cmp_dot(const void *pa, const void *pb)
{
    const crdt_sibling *a = pa, *b = pb;
    int c = crdt_origin_cmp(&a->dot.origin, &b->dot.origin);
    if (c != 0)
        return c;
    return a->dot.seq < b->dot.seq ? -1 : a->dot.seq > b->dot.seq;
}

void crdt_mv_sort(crdt_mv *m)
{
    if (m->n > 1)
        qsort(m->sibs, m->n, sizeof m->sibs[0], sibling_cmp_dot);
}

int crdt_mv_copy(crdt_mv *dst, const crdt_mv *src, sn_err *err)
{
    if (dst == src)
        return 0;
    crdt_mv tmp = {0};
    int rc = crdt_vv_copy(&tmp.ctx, &src->ctx, err);
    if (rc != 0) {
        sn_err_prefix(err, "copying a cell");
        goto fail;
    }
    if (src->n > 0) {
        tmp.sibs = sn_mallocarray(src->n, sizeof *tmp.sibs);
        if (tmp.sibs == NULL) {
            rc = sn_err_set(err, SN_ENOMEM, "copying a cell of %zu values: out of memory",
                            src->n);
            goto fail;
        }
        tmp.cap = src->n;
    }
    for (; tmp.n < src->n; tmp.n++) {
        const crdt_sibling *s = &src->sibs[tmp.n];
        crdt_sibling *d = &tmp.sibs[tmp.n];
        *d = *s;
        d->value = NULL;
        if (s->value_len > 0) {
            d->value = sn_malloc(s->value_len);
            if (d->value == NULL) {
                rc = sn_err_set(err, SN_ENOMEM,
                                "copying a cell: out of memory copying a %zu-byte value",
                                s->value_len);
                goto fail;
            }
            memcpy(d->value, s->value, s->value_len);
        }
    }
    crdt_mv_free(dst);
    *dst = tmp;
    return 0;
fail:
    crdt_mv_free(&tmp);
    return rc;
}

int crdt_mv_check(const crdt_mv *m, sn_err *err)
{
    int rc = crdt_vv_check(&m->ctx, err);
    if (rc != 0) {
        sn_err_prefix(err, "checking a cell's context");
        return rc;
    }
    if (m->n > CRDT_MV_MAX_SIBLINGS)
        return sn_err_set(err, SN_ECORRUPT, "cell holds %zu values, more than the limit of %d",
                          m->n, CRDT_MV_MAX_SIBLINGS);
    if (m->n > m->cap || (m->n > 0 && m->sibs == NULL))
        return sn_err_set(err, SN_ECORRUPT, "cell claims %zu values but has room for %zu", m->n,
                          m->sibs == NULL ? (size_t)0 : m->cap);
    char text[DOT_TEXT_MAX];
    for (size_t i = 0; i < m->n; i++) {
        const crdt_sibling *s = &m->sibs[i];
        if (s->dot.seq == 0)
            return sn_err_set(err, SN_ECORRUPT, "cell value %zu has seq 0 (origin %s)", i,
                              dot_text(text, &s->dot));
        if (s->value == NULL && s->value_len > 0)
            return sn_err_set(err, SN_ECORRUPT,
                              "cell value %s claims %zu bytes but has no storage",
                              dot_text(text, &s->dot), s->value_len);
        if (!crdt_vv_covers(&m->ctx, &s->dot))
            return sn_err_set(err, SN_ECORRUPT,
                              "cell value %s is not covered by the cell's context; the context "
                              "must include every write the cell holds",
                              dot_text(text, &s->dot));
        /* Quadratic, but n is capped at CRDT_MV_MAX_SIBLINGS and check allocates nothing. */
        for (size_t j = 0; j < i; j++) {
            if (dot_equal(&m->sibs[j].dot, &s->dot))
                return sn_err_set(err, SN_ECORRUPT, "cell holds write %s twice",
                                  dot_text(text, &s->dot));
        }
    }
    return 0;
}
