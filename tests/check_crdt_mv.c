/* tests/check_crdt_mv.c - the multi-value register: supersession, siblings, display,
 * resolution, convergence against a reference model, faults and invariants. */
#include <check.h>
#include <string.h>

#include "base/alloc.h"
#include "crdt/mv.h"
#include "tests/support.h"

/* ---- helpers --------------------------------------------------------------------------- */

static crdt_origin org(uint16_t id, uint32_t epoch)
{
    crdt_origin o = {.epoch = epoch};
    o.replica[0] = (uint8_t)(id >> 8);
    o.replica[1] = (uint8_t)id;
    return o;
}

static crdt_dot dot(uint16_t id, uint64_t seq) { return (crdt_dot){org(id, 0), seq}; }

/* A write that owns its context and value, so tests can keep many around. */
typedef struct twrite {
    crdt_dot dot;
    crdt_hlc hlc;
    int32_t rank;
    uint8_t value[8];
    size_t value_len;
    crdt_vv ctx;
} twrite;

static twrite tw(crdt_dot d, crdt_hlc hlc, int32_t rank, const char *value)
{
    twrite t = {.dot = d, .hlc = hlc, .rank = rank, .value_len = strlen(value)};
    ck_assert_uint_le(t.value_len, sizeof t.value);
    memcpy(t.value, value, t.value_len);
    return t;
}

/* Give t the context `ctx` (copied). */
static void tw_ctx(twrite *t, const crdt_vv *ctx)
{
    ck_assert_int_eq(crdt_vv_copy(&t->ctx, ctx, NULL), 0);
}

/* Give t a context of the listed dots. */
static void tw_knows(twrite *t, const crdt_dot *dots, size_t n)
{
    for (size_t k = 0; k < n; k++)
        ck_assert_int_eq(crdt_vv_raise(&t->ctx, &dots[k].origin, dots[k].seq, NULL), 0);
}

static crdt_mv_write as_write(const twrite *t)
{
    return (crdt_mv_write){.dot = t->dot, .hlc = t->hlc, .rank = t->rank, .value = t->value,
                           .value_len = t->value_len, .ctx = &t->ctx};
}

static bool apply_ok(crdt_mv *m, const twrite *t)
{
    crdt_mv_write w = as_write(t);
    bool added = true;
    sn_err err = SN_ERR_INIT;
    int rc = crdt_mv_apply(m, &w, &added, &err);
    ck_assert_msg(rc == 0, "apply seq %llu: %s", (unsigned long long)t->dot.seq, err.msg);
    ck_assert_msg(crdt_mv_check(m, &err) == 0, "after apply: %s", err.msg);
    return added;
}

static bool dot_eq(const crdt_dot *a, const crdt_dot *b)
{
    return a->seq == b->seq && crdt_origin_equal(&a->origin, &b->origin);
}

static bool has_sibling(const crdt_mv *m, const crdt_dot *d)
{
    for (size_t k = 0; k < m->n; k++) {
        if (dot_eq(&m->sibs[k].dot, d))
            return true;
    }
    return false;
}

/* Equal cells: same ctx and the same siblings (all fields, value bytes). Sorts both. */
static bool cell_equal(crdt_mv *a, crdt_mv *b)
{
    if (!crdt_vv_equal(&a->ctx, &b->ctx) || a->n != b->n)
        return false;
    crdt_mv_sort(a);
    crdt_mv_sort(b);
    for (size_t k = 0; k < a->n; k++) {
        const crdt_sibling *x = &a->sibs[k], *y = &b->sibs[k];
        if (!dot_eq(&x->dot, &y->dot) || x->hlc != y->hlc || x->rank != y->rank ||
            x->value_len != y->value_len ||
            (x->value_len > 0 && memcmp(x->value, y->value, x->value_len) != 0))
            return false;
    }
    return true;
}

static void copy_ok(crdt_mv *dst, const crdt_mv *src)
{
    ck_assert_int_eq(crdt_mv_copy(dst, src, NULL), 0);
}

/* ---- (1) supersession ------------------------------------------------------------------ */

START_TEST(test_mv_causally_later_write_supersedes_even_with_lower_hlc)
{
    long base = sn_alloc_live();
    twrite w1 = tw(dot(1, 1), CRDT_HLC_MAKE(5000, 0), 0, "old");
    /* B saw w1, but B's clock is far behind. */
    twrite w2 = tw(dot(2, 1), CRDT_HLC_MAKE(10, 0), 0, "new");
    tw_knows(&w2, &w1.dot, 1);
    for (int order = 0; order < 2; order++) {
        crdt_mv m;
        crdt_mv_init(&m);
        bool a1 = apply_ok(&m, order == 0 ? &w1 : &w2);
        bool a2 = apply_ok(&m, order == 0 ? &w2 : &w1);
        ck_assert_msg(a1 && a2 == (order == 0), "order %d", order);
        ck_assert_uint_eq(m.n, 1);
        ck_assert(dot_eq(&m.sibs[0].dot, &w2.dot));
        ck_assert_mem_eq(m.sibs[0].value, "new", 3);
        ck_assert(!crdt_mv_values_differ(&m));
        ck_assert(dot_eq(&crdt_mv_winner(&m, CRDT_DISPLAY_LATEST)->dot, &w2.dot));
        ck_assert(dot_eq(&crdt_mv_winner(&m, CRDT_DISPLAY_RANKED)->dot, &w2.dot));
        ck_assert(crdt_vv_covers(&m.ctx, &w1.dot) && crdt_vv_covers(&m.ctx, &w2.dot));
        crdt_mv_free(&m);
    }
    crdt_vv_free(&w2.ctx);
    ck_assert_int_eq(sn_alloc_live(), base);
}
END_TEST

START_TEST(test_mv_same_write_twice_is_a_no_op)
{
    twrite w1 = tw(dot(1, 1), 100, 0, "a");
    twrite w2 = tw(dot(2, 1), 200, 0, "b");
    crdt_mv m = {0}, before = {0};
    ck_assert(apply_ok(&m, &w1));
    ck_assert(apply_ok(&m, &w2));
    copy_ok(&before, &m);
    ck_assert(!apply_ok(&m, &w1));
    ck_assert(!apply_ok(&m, &w2));
    ck_assert(cell_equal(&m, &before));
    /* The value is the cell's own copy, not the caller's buffer. */
    w1.value[0] = 'z';
    crdt_mv_sort(&m);
    ck_assert_uint_eq(m.sibs[0].value[0], 'a');
    crdt_mv_free(&m);
    crdt_mv_free(&before);
    crdt_mv_free(NULL);

    /* Even a write whose ctx (dishonestly) covers its own dot never prunes itself. */
    twrite self = tw(dot(3, 2), 300, 0, "s");
    tw_knows(&self, &self.dot, 1);
    ck_assert(apply_ok(&m, &self));
    ck_assert(!apply_ok(&m, &self));
    ck_assert_uint_eq(m.n, 1);
    ck_assert(dot_eq(&m.sibs[0].dot, &self.dot));
    crdt_vv_free(&self.ctx);
    crdt_mv_free(&m);
}
END_TEST

/* ---- (2) concurrent writes ------------------------------------------------------------- */

START_TEST(test_mv_concurrent_writes_stay_as_siblings)
{
    twrite a = tw(dot(1, 1), 100, 0, "x");
    twrite b = tw(dot(2, 1), 90, 0, "x");
    twrite c = tw(dot(3, 1), 80, 0, "xy");
    twrite d = tw(dot(4, 1), 70, 0, "xz");
    crdt_mv m = {0};
    ck_assert(!crdt_mv_values_differ(&m));
    ck_assert_ptr_null(crdt_mv_winner(&m, CRDT_DISPLAY_LATEST));
    ck_assert(apply_ok(&m, &a));
    ck_assert(!crdt_mv_values_differ(&m));
    ck_assert(apply_ok(&m, &b));
    ck_assert_uint_eq(m.n, 2);
    ck_assert_msg(!crdt_mv_values_differ(&m), "equal values are not a conflict");
    ck_assert(apply_ok(&m, &c));
    ck_assert_uint_eq(m.n, 3);
    ck_assert_msg(crdt_mv_values_differ(&m), "a longer value differs");
    crdt_mv_free(&m);

    /* Same length, different bytes. */
    ck_assert(apply_ok(&m, &c));
    ck_assert(apply_ok(&m, &d));
    ck_assert(crdt_mv_values_differ(&m));
    crdt_mv_free(&m);

    /* Empty values: two empties agree, an empty and a non-empty differ. */
    twrite e1 = tw(dot(5, 1), 1, 0, ""), e2 = tw(dot(6, 1), 2, 0, "");
    ck_assert(apply_ok(&m, &e1));
    ck_assert(apply_ok(&m, &e2));
    ck_assert(!crdt_mv_values_differ(&m));
    ck_assert(apply_ok(&m, &a));
    ck_assert(crdt_mv_values_differ(&m));
    ck_assert_uint_eq(m.n, 3);
    crdt_mv_free(&m);
}
END_TEST

/* ---- (3) late superseded writes -------------------------------------------------------- */

START_TEST(test_mv_late_superseded_write_is_dropped_and_stays_dropped)
{
    twrite w1 = tw(dot(1, 1), 100, 0, "stale");
    twrite w2 = tw(dot(2, 1), 200, 0, "fresh");
    tw_knows(&w2, &w1.dot, 1);
    crdt_mv m = {0};
    ck_assert(apply_ok(&m, &w2));
    ck_assert_msg(!apply_ok(&m, &w1), "the superseded write came back");
    ck_assert_uint_eq(m.n, 1);
    ck_assert(dot_eq(&m.sibs[0].dot, &w2.dot));
    ck_assert(!apply_ok(&m, &w1));
    ck_assert_uint_eq(m.n, 1);

    /* Round trip through a copy (as a store would persist and reload the cell): the ctx
     * travels with it, so the stale write is still refused. */
    crdt_mv reloaded = {0};
    copy_ok(&reloaded, &m);
    ck_assert(!apply_ok(&reloaded, &w1));
    ck_assert_uint_eq(reloaded.n, 1);

    /* Why the ctx must be persisted: a cell that kept only its siblings' dots as context
     * would let the stale write back in. */
    crdt_mv forgetful = {0};
    copy_ok(&forgetful, &m);
    ck_assert_int_eq(crdt_vv_set(&forgetful.ctx, &w1.dot.origin, 0, NULL), 0);
    ck_assert_int_eq(crdt_mv_check(&forgetful, NULL), 0);
    ck_assert(apply_ok(&forgetful, &w1));
    ck_assert_uint_eq(forgetful.n, 2);

    crdt_mv_free(&m);
    crdt_mv_free(&reloaded);
    crdt_mv_free(&forgetful);
    crdt_vv_free(&w2.ctx);
}
END_TEST

START_TEST(test_mv_later_write_of_same_origin_supersedes_earlier)
{
    /* Even with an empty ctx (an insert's initial value), {dot} prunes the origin's older
     * sibling, and the older one cannot return. */
    twrite w1 = tw(dot(1, 1), 100, 0, "a");
    twrite w2 = tw(dot(1, 2), 50, 0, "b");
    crdt_mv m = {0};
    ck_assert(apply_ok(&m, &w1));
    ck_assert(apply_ok(&m, &w2));
    ck_assert_uint_eq(m.n, 1);
    ck_assert(dot_eq(&m.sibs[0].dot, &w2.dot));
    ck_assert(!apply_ok(&m, &w1));
    ck_assert_uint_eq(m.n, 1);
    crdt_mv_free(&m);
}
END_TEST

/* ---- (4) display ----------------------------------------------------------------------- */

START_TEST(test_mv_ranked_display_prefers_rank_over_newer_hlc)
{
    twrite safe = tw(dot(1, 1), 100, 3, "eie");  /* entered-in-error, older */
    twrite newer = tw(dot(2, 1), 900, 1, "act"); /* active, newer */
    crdt_mv m = {0};
    ck_assert(apply_ok(&m, &newer));
    ck_assert(apply_ok(&m, &safe));
    ck_assert(dot_eq(&crdt_mv_winner(&m, CRDT_DISPLAY_RANKED)->dot, &safe.dot));
    ck_assert(dot_eq(&crdt_mv_winner(&m, CRDT_DISPLAY_LATEST)->dot, &newer.dot));
    /* Equal ranks fall back to latest. */
    twrite peer = tw(dot(3, 1), 950, 3, "eie");
    ck_assert(apply_ok(&m, &peer));
    ck_assert(dot_eq(&crdt_mv_winner(&m, CRDT_DISPLAY_RANKED)->dot, &peer.dot));
    /* Negative and zero ranks rank below positive ones. */
    twrite low = tw(dot(4, 1), 999, -1, "neg");
    ck_assert(apply_ok(&m, &low));
    ck_assert(dot_eq(&crdt_mv_winner(&m, CRDT_DISPLAY_RANKED)->dot, &peer.dot));
    ck_assert(dot_eq(&crdt_mv_winner(&m, CRDT_DISPLAY_LATEST)->dot, &low.dot));
    crdt_mv_free(&m);
}
END_TEST

START_TEST(test_mv_latest_display_breaks_ties_by_replica_then_epoch)
{
    crdt_hlc t = CRDT_HLC_MAKE(1000, 4);
    twrite a = tw(dot(1, 1), t, 0, "a");
    twrite b = tw(dot(2, 1), t, 0, "b");
    crdt_mv m = {0};
    ck_assert(apply_ok(&m, &b));
    ck_assert(apply_ok(&m, &a));
    ck_assert_msg(dot_eq(&crdt_mv_winner(&m, CRDT_DISPLAY_LATEST)->dot, &b.dot),
                  "higher replica id wins an hlc tie");
    /* Same replica, later epoch (a restored store) wins a tie with its earlier epoch. */
    twrite e1 = tw((crdt_dot){org(2, 1), 1}, t, 0, "e");
    ck_assert(apply_ok(&m, &e1));
    ck_assert(dot_eq(&crdt_mv_winner(&m, CRDT_DISPLAY_LATEST)->dot, &e1.dot));
    ck_assert(dot_eq(&crdt_mv_winner(&m, CRDT_DISPLAY_RANKED)->dot, &e1.dot));

    /* The order is total and antisymmetric: 0 only for the same dot. */
    crdt_sibling x = {.dot = dot(1, 1), .hlc = t}, y = x;
    ck_assert_int_eq(crdt_sibling_cmp_latest(&x, &y), 0);
    y.dot.seq = 2;
    ck_assert_int_lt(crdt_sibling_cmp_latest(&x, &y), 0);
    ck_assert_int_gt(crdt_sibling_cmp_latest(&y, &x), 0);
    y = x;
    y.hlc = t + 1;
    y.dot.origin = org(0, 0);
    ck_assert_int_lt(crdt_sibling_cmp_latest(&x, &y), 0);
    crdt_mv_free(&m);
}
END_TEST

/* ---- (5) resolution -------------------------------------------------------------------- */

START_TEST(test_mv_resolution_covers_siblings_but_not_later_concurrent_ones)
{
    twrite a = tw(dot(1, 1), 100, 0, "A");
    twrite b = tw(dot(2, 1), 110, 0, "B");
    twrite late = tw(dot(4, 1), 90, 0, "D"); /* concurrent to everything, arrives last */
    crdt_mv m = {0};
    ck_assert(apply_ok(&m, &a));
    ck_assert(apply_ok(&m, &b));
    ck_assert(crdt_mv_values_differ(&m));
    /* A user at C sees both and resolves: ctx = the cell's ctx. */
    twrite r = tw(dot(3, 1), 50, 0, "A");
    tw_ctx(&r, &m.ctx);
    ck_assert(apply_ok(&m, &r));
    ck_assert_uint_eq(m.n, 1);
    ck_assert(dot_eq(&m.sibs[0].dot, &r.dot));
    ck_assert(!crdt_mv_values_differ(&m));
    ck_assert(apply_ok(&m, &late));
    ck_assert_uint_eq(m.n, 2);
    ck_assert(has_sibling(&m, &late.dot) && has_sibling(&m, &r.dot));
    ck_assert_msg(crdt_mv_values_differ(&m), "the late concurrent value reopens the conflict");

    /* Any arrival order gives the same cell. */
    const twrite *order[][4] = {{&late, &r, &b, &a}, {&r, &a, &late, &b}, {&b, &late, &a, &r}};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        crdt_mv o = {0};
        for (int j = 0; j < 4; j++)
            (void)apply_ok(&o, order[k][j]);
        ck_assert_msg(cell_equal(&o, &m), "order %zu differs", k);
        crdt_mv_free(&o);
    }
    crdt_mv_free(&m);
    crdt_vv_free(&r.ctx);
}
END_TEST

/* ---- (6) convergence ------------------------------------------------------------------- */

#define SIM_MAXR 5
#define SIM_MAXW 64

typedef struct sim {
    test_rng rng;
    int nrep;
    uint32_t epoch;
    twrite w[SIM_MAXW];
    int nw;
    int by_origin[SIM_MAXR][SIM_MAXW]; /* index into w of origin r's seq s+1 */
    int norigin[SIM_MAXR];
    crdt_mv cell[SIM_MAXR];
    int seen[SIM_MAXR][SIM_MAXR]; /* seen[r][o]: origin o's writes applied at r, a prefix */
} sim;

static crdt_origin sim_origin(const sim *s, int r)
{
    /* Replicas 0 and 1 share a replica id with different epochs, to exercise the epoch. */
    return org((uint16_t)(r == 1 ? 0 : r), r == 1 ? s->epoch + 1 : s->epoch);
}

static void sim_write(sim *s, int r, int seed)
{
    if (s->nw == SIM_MAXW)
        return;
    twrite *t = &s->w[s->nw];
    *t = (twrite){.dot = {sim_origin(s, r), (uint64_t)s->norigin[r] + 1}};
    t->hlc = CRDT_HLC_MAKE(100 + test_rng_below(&s->rng, 4), test_rng_below(&s->rng, 2));
    t->rank = (int32_t)test_rng_below(&s->rng, 3);
    t->value_len = test_rng_below(&s->rng, 3);
    for (size_t k = 0; k < t->value_len; k++)
        t->value[k] = (uint8_t)('a' + test_rng_below(&s->rng, 2));
    tw_ctx(t, &s->cell[r].ctx); /* honest: the writer's current context */
    ck_assert_msg(apply_ok(&s->cell[r], t), "seed %d: own write not added", seed);
    s->by_origin[r][s->norigin[r]++] = s->nw++;
    s->seen[r][r]++;
}

/* r receives from q a random prefix extension of each origin q holds beyond r. */
static void sim_sync(sim *s, int r, int q, bool all)
{
    for (int o = 0; o < s->nrep; o++) {
        int lo = s->seen[r][o], hi = all ? s->norigin[o] : s->seen[q][o];
        if (hi <= lo)
            continue;
        int upto = all ? hi : lo + (int)test_rng_below(&s->rng, (uint32_t)(hi - lo + 1));
        for (int k = lo; k < upto; k++)
            (void)apply_ok(&s->cell[r], &s->w[s->by_origin[o][k]]);
        s->seen[r][o] = upto;
    }
}

/* The declarative rule, computed from scratch: ctx = ⊔ P(w); w is a sibling iff no other
 * write w' has P(w') = ctx_w' ⊔ {dot_w'} covering dot_w. */
static void reference_cell(crdt_mv *ref, const twrite *w, int nw)
{
    crdt_mv_init(ref);
    ref->sibs = sn_mallocarray((size_t)nw, sizeof *ref->sibs);
    ck_assert_ptr_nonnull(ref->sibs);
    ref->cap = (size_t)nw;
    for (int i = 0; i < nw; i++) {
        ck_assert_int_eq(crdt_vv_join(&ref->ctx, &w[i].ctx, NULL), 0);
        ck_assert_int_eq(crdt_vv_raise(&ref->ctx, &w[i].dot.origin, w[i].dot.seq, NULL), 0);
        bool superseded = false;
        for (int j = 0; j < nw && !superseded; j++) {
            if (dot_eq(&w[j].dot, &w[i].dot))
                continue;
            superseded = crdt_vv_covers(&w[j].ctx, &w[i].dot) ||
                         (crdt_origin_equal(&w[j].dot.origin, &w[i].dot.origin) &&
                          w[i].dot.seq < w[j].dot.seq);
        }
        if (superseded)
            continue;
        crdt_sibling *s = &ref->sibs[ref->n++];
        *s = (crdt_sibling){.dot = w[i].dot, .hlc = w[i].hlc, .rank = w[i].rank,
                            .value_len = w[i].value_len};
        if (s->value_len > 0) {
            s->value = sn_malloc(s->value_len);
            ck_assert_ptr_nonnull(s->value);
            memcpy(s->value, w[i].value, s->value_len);
        }
    }
}

/* An arrival order of all writes: per-origin seq order unless `any_order`; with `dups`,
 * already delivered writes are sometimes delivered again. Returns the length. */
static int delivery_order(sim *s, int *out, int max, bool any_order, bool dups)
{
    int n = 0, next[SIM_MAXR] = {0}, left = s->nw;
    while (n < max) {
        /* A repeat only while there is still room for every write not yet delivered. */
        if (dups && n > 0 && n + left < max && test_rng_below(&s->rng, 4) == 0) {
            out[n] = out[test_rng_below(&s->rng, (uint32_t)n)];
            n++;
            continue;
        }
        int live[SIM_MAXR], nl = 0;
        for (int o = 0; o < s->nrep; o++) {
            if (next[o] < s->norigin[o])
                live[nl++] = o;
        }
        if (nl == 0)
            break;
        int o = live[test_rng_below(&s->rng, (uint32_t)nl)];
        out[n++] = s->by_origin[o][next[o]++];
        left--;
    }
    if (any_order) {
        for (int k = n - 1; k > 0; k--) {
            int j = (int)test_rng_below(&s->rng, (uint32_t)k + 1), t = out[k];
            out[k] = out[j];
            out[j] = t;
        }
    }
    return n;
}

START_TEST(test_mv_replicas_converge_to_the_reference_rule)
{
    long base = sn_alloc_live();
    sim s = {0};
    test_rng_seed(&s.rng, (uint64_t)_i);
    s.nrep = 3 + (int)test_rng_below(&s.rng, 3);
    s.epoch = test_rng_below(&s.rng, 3);
    int steps = 10 + (int)test_rng_below(&s.rng, 40);
    for (int k = 0; k < steps; k++) {
        int r = (int)test_rng_below(&s.rng, (uint32_t)s.nrep);
        int q = (int)test_rng_below(&s.rng, (uint32_t)s.nrep);
        if (test_rng_below(&s.rng, 2) == 0)
            sim_write(&s, r, _i);
        else if (q != r)
            sim_sync(&s, r, q, false);
    }

    crdt_mv ref;
    reference_cell(&ref, s.w, s.nw);
    ck_assert_msg(crdt_mv_check(&ref, NULL) == 0, "seed %d: reference is invalid", _i);
    const crdt_sibling *rw = crdt_mv_winner(&ref, CRDT_DISPLAY_RANKED);
    crdt_dot ref_ranked = rw ? rw->dot : (crdt_dot){0};
    crdt_dot ref_latest = ref.n ? crdt_mv_winner(&ref, CRDT_DISPLAY_LATEST)->dot : (crdt_dot){0};
    bool ref_differ = crdt_mv_values_differ(&ref);

    /* The replicas themselves, once everyone has everything. */
    for (int r = 0; r < s.nrep; r++) {
        sim_sync(&s, r, r, true);
        ck_assert_msg(cell_equal(&s.cell[r], &ref), "seed %d: replica %d differs", _i, r);
    }

    /* Fresh cells fed every write in many orders. */
    for (int round = 0; round < 7; round++) {
        int order[4 * SIM_MAXW];
        bool any = round == 6, dups = round >= 4;
        int n = delivery_order(&s, order, dups ? 4 * SIM_MAXW : s.nw, any, dups);
        crdt_mv m = {0};
        for (int k = 0; k < n; k++)
            (void)apply_ok(&m, &s.w[order[k]]);
        if (ref.n > 0) {
            ck_assert_msg(dot_eq(&crdt_mv_winner(&m, CRDT_DISPLAY_RANKED)->dot, &ref_ranked) &&
                              dot_eq(&crdt_mv_winner(&m, CRDT_DISPLAY_LATEST)->dot, &ref_latest),
                          "seed %d round %d: winner differs", _i, round);
        }
        ck_assert_msg(crdt_mv_values_differ(&m) == ref_differ, "seed %d round %d: conflict", _i,
                      round);
        ck_assert_msg(cell_equal(&m, &ref), "seed %d round %d: cell differs (%zu vs %zu)", _i,
                      round, m.n, ref.n);
        crdt_mv_free(&m);
    }

    crdt_mv_free(&ref);
    for (int r = 0; r < s.nrep; r++)
        crdt_mv_free(&s.cell[r]);
    for (int k = 0; k < s.nw; k++)
        crdt_vv_free(&s.w[k].ctx);
    ck_assert_msg(sn_alloc_live() == base, "seed %d: leak", _i);
}
END_TEST

/* Writers that lie: each write's ctx is an arbitrary vector (it may miss what the writer
 * saw, cover dots not yet written, or cover the write's own dot). The cell must still be
 * the declarative function of the set of writes, in any arrival order, with repeats. */
START_TEST(test_mv_converges_whatever_dishonest_writers_send)
{
    long base = sn_alloc_live();
    sim s = {0};
    test_rng_seed(&s.rng, (uint64_t)_i);
    s.nrep = 3 + (int)test_rng_below(&s.rng, 2);
    int nw = 5 + (int)test_rng_below(&s.rng, 25);
    for (int k = 0; k < nw; k++) {
        int r = (int)test_rng_below(&s.rng, (uint32_t)s.nrep);
        twrite *t = &s.w[s.nw];
        *t = tw((crdt_dot){sim_origin(&s, r), (uint64_t)s.norigin[r] + 1},
                CRDT_HLC_MAKE(test_rng_below(&s.rng, 3), 0), (int32_t)test_rng_below(&s.rng, 2),
                test_rng_below(&s.rng, 2) ? "p" : "q");
        for (int o = 0; o < s.nrep; o++) {
            uint32_t seq = test_rng_below(&s.rng, 6);
            crdt_origin oo = sim_origin(&s, o);
            if (seq > 0 && test_rng_below(&s.rng, 2) == 0)
                ck_assert_int_eq(crdt_vv_raise(&t->ctx, &oo, seq, NULL), 0);
        }
        s.by_origin[r][s.norigin[r]++] = s.nw++;
    }
    crdt_mv ref;
    reference_cell(&ref, s.w, s.nw);
    for (int round = 0; round < 8; round++) {
        int order[4 * SIM_MAXW];
        int n = delivery_order(&s, order, 4 * SIM_MAXW, round >= 2, round % 2 == 1);
        crdt_mv m = {0};
        for (int k = 0; k < n; k++)
            (void)apply_ok(&m, &s.w[order[k]]);
        ck_assert_msg(cell_equal(&m, &ref), "seed %d round %d: cell differs (%zu vs %zu)", _i,
                      round, m.n, ref.n);
        crdt_mv_free(&m);
    }
    crdt_mv_free(&ref);
    for (int k = 0; k < s.nw; k++)
        crdt_vv_free(&s.w[k].ctx);
    ck_assert_msg(sn_alloc_live() == base, "seed %d: leak", _i);
}
END_TEST

/* ---- (7) faults ------------------------------------------------------------------------ */

START_TEST(test_mv_apply_fault_leaves_cell_unchanged_and_leaks_nothing)
{
    long base = sn_alloc_live();
    enum { NW = 9 };
    twrite w[NW] = {
        tw(dot(1, 1), 10, 0, "one"),  tw(dot(2, 1), 20, 0, "two"),
        tw(dot(3, 1), 30, 0, "three"), tw(dot(4, 1), 40, 1, "four"),   /* prunes 1 */
        tw(dot(5, 1), 50, 0, "five"),  tw(dot(1, 1), 10, 0, "one"),    /* a repeat */
        tw(dot(6, 2), 60, 0, "six"),   /* covered by 5's ctx, but its ctx knows 7 */
        tw(dot(7, 2), 70, 0, ""),      tw(dot(8, 1), 80, 2, "eight"),
    };
    crdt_dot d1 = dot(1, 1), d5[] = {dot(1, 1), dot(2, 1), dot(3, 1), dot(4, 1), dot(6, 3)};
    crdt_dot d7 = dot(7, 1);
    tw_knows(&w[3], &d1, 1);
    tw_knows(&w[4], d5, 5); /* resolves 2, 3, 4 */
    tw_knows(&w[6], &d7, 1);
    int fired_total = 0;
    crdt_mv m = {0};
    for (int k = 0; k < NW; k++) {
        crdt_mv_write wr = as_write(&w[k]);
        for (long n = 0;; n++) {
            crdt_mv before = {0};
            copy_ok(&before, &m);
            long live = sn_alloc_live();
            sn_err err = SN_ERR_INIT;
            bool added = true;
            sn_fault_arm(SN_FAULT_ALLOC, n, 1);
            int rc = crdt_mv_apply(&m, &wr, &added, &err);
            bool fired = sn_fault_disarm();
            if (!fired) {
                ck_assert_msg(rc == 0, "write %d n %ld: rc %d (%s)", k, n, rc, err.msg);
                crdt_mv_free(&before);
                break;
            }
            fired_total++;
            ck_assert_msg(rc == SN_ENOMEM, "write %d n %ld: rc %d", k, n, rc);
            ck_assert_msg(err.msg[0] != '\0', "write %d n %ld: no message", k, n);
            ck_assert_msg(!added, "write %d n %ld: added on failure", k, n);
            ck_assert_msg(sn_alloc_live() == live, "write %d n %ld: leak", k, n);
            ck_assert_msg(crdt_mv_check(&m, NULL) == 0, "write %d n %ld: invalid", k, n);
            ck_assert_msg(cell_equal(&m, &before), "write %d n %ld: cell changed", k, n);
            crdt_mv_free(&before);
        }
    }
    ck_assert_int_gt(fired_total, 5);
    /* The script's end state: 5 resolved 2, 3, 4; 6 came too late; 7 and 8 concurrent. */
    ck_assert_uint_eq(m.n, 3);
    ck_assert(has_sibling(&m, &w[4].dot) && has_sibling(&m, &w[7].dot) &&
              has_sibling(&m, &w[8].dot));

    /* Copy into a non-empty destination. */
    crdt_mv dst = {0}, dst_before = {0};
    twrite other = tw(dot(9, 1), 1, 0, "dst");
    (void)apply_ok(&dst, &other);
    copy_ok(&dst_before, &dst);
    for (long n = 0;; n++) {
        sn_err err = SN_ERR_INIT;
        long live = sn_alloc_live();
        sn_fault_arm(SN_FAULT_ALLOC, n, 1);
        int rc = crdt_mv_copy(&dst, &m, &err);
        if (!sn_fault_disarm()) {
            ck_assert_int_eq(rc, 0);
            ck_assert(cell_equal(&dst, &m));
            break;
        }
        ck_assert_msg(rc == SN_ENOMEM && err.msg[0] != '\0', "copy n %ld: rc %d", n, rc);
        ck_assert_msg(sn_alloc_live() == live, "copy n %ld: leak", n);
        ck_assert_msg(cell_equal(&dst, &dst_before), "copy n %ld: destination changed", n);
    }
    crdt_mv_free(&m);
    crdt_mv_free(&dst);
    crdt_mv_free(&dst_before);
    for (int k = 0; k < NW; k++)
        crdt_vv_free(&w[k].ctx);
    ck_assert_int_eq(sn_alloc_live(), base);
}
END_TEST

START_TEST(test_mv_too_many_siblings_is_etoobig_and_unchanged)
{
    long base = sn_alloc_live();
    crdt_mv m = {0};
    for (uint16_t k = 0; k < CRDT_MV_MAX_SIBLINGS; k++) {
        twrite t = tw(dot(k, 1), k, 0, "v");
        ck_assert(apply_ok(&m, &t));
    }
    ck_assert_uint_eq(m.n, CRDT_MV_MAX_SIBLINGS);
    crdt_mv before = {0};
    copy_ok(&before, &m);
    twrite extra = tw(dot(CRDT_MV_MAX_SIBLINGS, 1), 1, 0, "w");
    crdt_mv_write w = as_write(&extra);
    sn_err err = SN_ERR_INIT;
    bool added = true;
    ck_assert_int_eq(crdt_mv_apply(&m, &w, &added, &err), SN_ETOOBIG);
    ck_assert_str_ne(err.msg, "");
    ck_assert(!added);
    ck_assert(cell_equal(&m, &before));
    /* A write that supersedes one sibling makes room for itself. */
    twrite next = tw(dot(0, 2), 1, 0, "w");
    ck_assert(apply_ok(&m, &next));
    ck_assert_uint_eq(m.n, CRDT_MV_MAX_SIBLINGS);
    crdt_mv_free(&m);
    crdt_mv_free(&before);
    ck_assert_int_eq(sn_alloc_live(), base);
}
END_TEST

START_TEST(test_mv_apply_rejects_seq_zero_and_a_broken_ctx)
{
    crdt_mv m = {0};
    twrite zero = tw(dot(1, 0), 1, 0, "z");
    crdt_mv_write w = as_write(&zero);
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(crdt_mv_apply(&m, &w, NULL, &err), SN_EINVAL);
    ck_assert_str_ne(err.msg, "");
    twrite bad = tw(dot(1, 1), 1, 0, "b");
    crdt_dot ds[] = {dot(2, 1), dot(3, 1)};
    tw_knows(&bad, ds, 2);
    bad.ctx.e[1] = bad.ctx.e[0]; /* repeated origin */
    w = as_write(&bad);
    sn_err_clear(&err);
    ck_assert_int_eq(crdt_mv_apply(&m, &w, NULL, &err), SN_EINVAL);
    ck_assert_str_ne(err.msg, "");
    ck_assert_uint_eq(m.n, 0);
    ck_assert_uint_eq(m.ctx.n, 0);
    /* A NULL ctx is the empty context. */
    twrite plain = tw(dot(1, 1), 1, 0, "p");
    w = as_write(&plain);
    w.ctx = NULL;
    bool added = false;
    ck_assert_int_eq(crdt_mv_apply(&m, &w, &added, NULL), 0);
    ck_assert(added);
    crdt_vv_free(&bad.ctx);
    crdt_mv_free(&m);
}
END_TEST

/* ---- (8) invariants -------------------------------------------------------------------- */

START_TEST(test_mv_check_accepts_good_cells_and_rejects_broken_ones)
{
    crdt_mv m = {0};
    ck_assert_int_eq(crdt_mv_check(&m, NULL), 0);
    twrite a = tw(dot(1, 1), 1, 0, "a"), b = tw(dot(2, 1), 2, 0, "b");
    (void)apply_ok(&m, &a);
    (void)apply_ok(&m, &b);
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(crdt_mv_check(&m, &err), 0);

    /* A sibling the context does not cover. */
    crdt_mv broken = {0};
    copy_ok(&broken, &m);
    ck_assert_int_eq(crdt_vv_set(&broken.ctx, &b.dot.origin, 0, NULL), 0);
    ck_assert_int_eq(crdt_mv_check(&broken, &err), SN_ECORRUPT);
    ck_assert_str_ne(err.msg, "");
    crdt_mv_free(&broken);

    /* The same dot twice. */
    copy_ok(&broken, &m);
    broken.sibs[1].dot = broken.sibs[0].dot;
    ck_assert_int_eq(crdt_mv_check(&broken, NULL), SN_ECORRUPT);
    crdt_mv_free(&broken);

    /* A broken context. */
    copy_ok(&broken, &m);
    broken.ctx.e[0].seq = 0;
    ck_assert_int_eq(crdt_mv_check(&broken, NULL), SN_ECORRUPT);
    crdt_mv_free(&broken);

    /* A value with a length but no bytes. */
    copy_ok(&broken, &m);
    sn_free(broken.sibs[0].value);
    broken.sibs[0].value = NULL;
    ck_assert_int_eq(crdt_mv_check(&broken, NULL), SN_ECORRUPT);
    broken.sibs[0].value_len = 0;
    ck_assert_int_eq(crdt_mv_check(&broken, NULL), 0);
    crdt_mv_free(&broken);
    crdt_mv_free(&m);
}
END_TEST

/* Listed in tests/check_main.c. */
Suite *crdt_mv_suite(void);
Suite *crdt_mv_suite(void)
{
    Suite *s = suite_create("crdt_mv_suite");
    TCase *tc = tcase_create("apply");
    tcase_add_test(tc, test_mv_causally_later_write_supersedes_even_with_lower_hlc);
    tcase_add_test(tc, test_mv_same_write_twice_is_a_no_op);
    tcase_add_test(tc, test_mv_concurrent_writes_stay_as_siblings);
    tcase_add_test(tc, test_mv_late_superseded_write_is_dropped_and_stays_dropped);
    tcase_add_test(tc, test_mv_later_write_of_same_origin_supersedes_earlier);
    tcase_add_test(tc, test_mv_apply_rejects_seq_zero_and_a_broken_ctx);
    suite_add_tcase(s, tc);

    tc = tcase_create("display");
    tcase_add_test(tc, test_mv_ranked_display_prefers_rank_over_newer_hlc);
    tcase_add_test(tc, test_mv_latest_display_breaks_ties_by_replica_then_epoch);
    suite_add_tcase(s, tc);

    tc = tcase_create("resolution");
    tcase_add_test(tc, test_mv_resolution_covers_siblings_but_not_later_concurrent_ones);
    suite_add_tcase(s, tc);

    tc = tcase_create("convergence");
    tcase_add_loop_test(tc, test_mv_replicas_converge_to_the_reference_rule, 0, 300);
    tcase_add_loop_test(tc, test_mv_converges_whatever_dishonest_writers_send, 0, 300);
    suite_add_tcase(s, tc);

    tc = tcase_create("faults");
    tcase_add_test(tc, test_mv_apply_fault_leaves_cell_unchanged_and_leaks_nothing);
    tcase_add_test(tc, test_mv_too_many_siblings_is_etoobig_and_unchanged);
    suite_add_tcase(s, tc);

    tc = tcase_create("check");
    tcase_add_test(tc, test_mv_check_accepts_good_cells_and_rejects_broken_ones);
    suite_add_tcase(s, tc);
    return s;
}
