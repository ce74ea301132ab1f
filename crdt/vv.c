/* crdt/vv.c - origins, dots and sparse version vectors.
 *
 * A version vector maps each origin (replica id, epoch) to the highest sequence number
 * seen from it; an absent origin means 0. Because every origin numbers its commits 1, 2,
 * 3 ... without gaps and each node applies them in order, "vv[o] >= s" says exactly that
 * the commit (o, s) and all of o's earlier ones are known: the vector *covers* that dot.
 *
 * The laws the rest of the system leans on:
 *
 *   join      (a ⊔ b)[o] = max(a[o], b[o])      pointwise maximum
 *   commutes  a ⊔ b = b ⊔ a
 *   assoc.    (a ⊔ b) ⊔ c = a ⊔ (b ⊔ c)
 *   idempot.  a ⊔ a = a
 *   order     a ≥ b  iff  a ⊔ b = a  iff  every b[o] <= a[o]  (dominates)
 *             a and b are concurrent when neither dominates the other
 *   covers    covers(a ⊔ b, d) iff covers(a, d) or covers(b, d)   (max on one origin)
 *
 * Join and raise only ever move entries upwards, so a vector is a grow-only lattice
 * element; crdt_vv_set is the one non-monotone operation and exists for loading and tests.
 *
 * Representation: entries sorted by crdt_origin_cmp, unique, seq >= 1, at most
 * CRDT_VV_MAX_ENTRIES. Lookups binary-search; join merges two sorted runs in place from
 * the back after one realloc. Every fallible operation does its allocation before it
 * changes anything, so a failure leaves the vector as it was. */
#include "crdt/vv.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"

/* Enough for "<32 hex digits>/<epoch>". */
#define ORIGIN_TEXT_MAX (2 * CRDT_REPLICA_LEN + 1 + 10 + 1)

static const char *origin_text(char out[static ORIGIN_TEXT_MAX], const crdt_origin *o)
{
    char hex[2 * CRDT_REPLICA_LEN + 1];
    sn_hex(hex, o->replica, CRDT_REPLICA_LEN);
    snprintf(out, ORIGIN_TEXT_MAX, "%s/%u", hex, (unsigned)o->epoch);
    return out;
}

int crdt_origin_cmp(const crdt_origin *a, const crdt_origin *b)
{
    int c = memcmp(a->replica, b->replica, CRDT_REPLICA_LEN);
    if (c != 0)
        return c < 0 ? -1 : 1;
    if (a->epoch != b->epoch)
        return a->epoch < b->epoch ? -1 : 1;
    return 0;
}

bool crdt_origin_equal(const crdt_origin *a, const crdt_origin *b)
{
    return crdt_origin_cmp(a, b) == 0;
}

void crdt_vv_init(crdt_vv *vv) { *vv = (crdt_vv){0}; }

void crdt_vv_free(crdt_vv *vv)
{
    if (vv == NULL)
        return;
    sn_free(vv->e);
    crdt_vv_init(vv);
}

void crdt_vv_clear(crdt_vv *vv) { vv->n = 0; }

/* Index of `origin` in vv, or of the place it would be inserted; *found says which. */
static size_t vv_find(const crdt_vv *vv, const crdt_origin *origin, bool *found)
{
    size_t lo = 0, hi = vv->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = crdt_origin_cmp(&vv->e[mid].origin, origin);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Make room for `need` entries: 0, SN_ETOOBIG or SN_ENOMEM (err is not touched; the
 * caller knows what it was doing). Leaves vv unchanged on failure. */
static int vv_reserve(crdt_vv *vv, size_t need)
{
    if (need > CRDT_VV_MAX_ENTRIES)
        return SN_ETOOBIG;
    if (need <= vv->cap)
        return 0;
    size_t cap = vv->cap < 4 ? 4 : vv->cap;
    while (cap < need)
        cap *= 2;
    if (cap > CRDT_VV_MAX_ENTRIES)
        cap = CRDT_VV_MAX_ENTRIES;
    crdt_vv_entry *e = sn_realloc(vv->e, cap * sizeof *e);
    if (e == NULL)
        return SN_ENOMEM;
    vv->e = e;
    vv->cap = cap;
    return 0;
}

/* The message for a vv_reserve failure while `doing` something. */
static int reserve_fail(int rc, size_t need, const char *doing, sn_err *err)
{
    if (rc == SN_ETOOBIG)
        return sn_err_set(err, rc,
                          "%s: a version vector would hold %zu origins, more than the limit "
                          "of %d",
                          doing, need, CRDT_VV_MAX_ENTRIES);
    return sn_err_set(err, rc, "%s: out of memory growing a version vector to %zu origins",
                      doing, need);
}

uint64_t crdt_vv_get(const crdt_vv *vv, const crdt_origin *origin)
{
    bool found;
    size_t i = vv_find(vv, origin, &found);
    return found ? vv->e[i].seq : 0;
}

/* Insert a new entry at index i (origin absent). */
static int vv_insert(crdt_vv *vv, size_t i, const crdt_origin *origin, uint64_t seq,
                     const char *what, sn_err *err)
{
    int rc = vv_reserve(vv, vv->n + 1);
    if (rc != 0) {
        char text[ORIGIN_TEXT_MAX], doing[ORIGIN_TEXT_MAX + 80];
        snprintf(doing, sizeof doing, "%s: adding origin %s at seq %llu", what,
                 origin_text(text, origin), (unsigned long long)seq);
        return reserve_fail(rc, vv->n + 1, doing, err);
    }
    memmove(&vv->e[i + 1], &vv->e[i], (vv->n - i) * sizeof vv->e[0]);
    vv->e[i] = (crdt_vv_entry){.origin = *origin, .seq = seq};
    vv->n++;
    return 0;
}

int crdt_vv_raise(crdt_vv *vv, const crdt_origin *origin, uint64_t seq, sn_err *err)
{
    if (seq == 0)
        return 0;
    bool found;
    size_t i = vv_find(vv, origin, &found);
    if (found) {
        if (vv->e[i].seq < seq)
            vv->e[i].seq = seq;
        return 0;
    }
    return vv_insert(vv, i, origin, seq, "raising a version vector", err);
}

int crdt_vv_set(crdt_vv *vv, const crdt_origin *origin, uint64_t seq, sn_err *err)
{
    bool found;
    size_t i = vv_find(vv, origin, &found);
    if (found) {
        if (seq != 0) {
            vv->e[i].seq = seq;
        } else {
            memmove(&vv->e[i], &vv->e[i + 1], (vv->n - i - 1) * sizeof vv->e[0]);
            vv->n--;
        }
        return 0;
    }
    if (seq == 0)
        return 0;
    return vv_insert(vv, i, origin, seq, "setting a version vector entry", err);
}

int crdt_vv_join(crdt_vv *into, const crdt_vv *other, sn_err *err)
{
    if (into == other || other->n == 0)
        return 0;
    /* First count the union, so the one allocation happens before anything moves. */
    size_t i = 0, j = 0, total = 0;
    while (i < into->n && j < other->n) {
        int c = crdt_origin_cmp(&into->e[i].origin, &other->e[j].origin);
        i += c <= 0;
        j += c >= 0;
        total++;
    }
    total += (into->n - i) + (other->n - j);
    if (total == into->n) {
        /* Every origin of `other` is already present: raise in place. */
        for (i = 0, j = 0; j < other->n; i++) {
            if (crdt_origin_cmp(&into->e[i].origin, &other->e[j].origin) == 0) {
                if (into->e[i].seq < other->e[j].seq)
                    into->e[i].seq = other->e[j].seq;
                j++;
            }
        }
        return 0;
    }
    int rc = vv_reserve(into, total);
    if (rc != 0)
        return reserve_fail(rc, total, "joining version vectors", err);
    /* Merge from the back. k is always the size of the union of into[0..a) and
     * other[0..b), so k >= a: a write at k - 1 never lands on an unread entry of `into`. */
    size_t a = into->n, b = other->n, k = total;
    while (b > 0) {
        int c = a > 0 ? crdt_origin_cmp(&into->e[a - 1].origin, &other->e[b - 1].origin) : -1;
        if (c > 0) {
            into->e[--k] = into->e[--a];
        } else if (c < 0) {
            into->e[--k] = other->e[--b];
        } else {
            crdt_vv_entry x = into->e[--a];
            uint64_t s = other->e[--b].seq;
            if (x.seq < s)
                x.seq = s;
            into->e[--k] = x;
        }
    }
    /* What remains of `into` (a entries) is already in place at 0..a-1 = 0..k-1. */
    into->n = total;
    return 0;
}

int crdt_vv_copy(crdt_vv *dst, const crdt_vv *src, sn_err *err)
{
    if (dst == src)
        return 0;
    if (src->n > dst->cap) {
        crdt_vv_entry *e = sn_mallocarray(src->n, sizeof *e);
        if (e == NULL)
            return sn_err_set(err, SN_ENOMEM,
                              "copying a version vector of %zu origins: out of memory", src->n);
        sn_free(dst->e);
        dst->e = e;
        dst->cap = src->n;
    }
    if (src->n > 0)
        memcpy(dst->e, src->e, src->n * sizeof src->e[0]);
    dst->n = src->n;
    return 0;
}

bool crdt_vv_covers(const crdt_vv *vv, const crdt_dot *dot)
{
    return crdt_vv_get(vv, &dot->origin) >= dot->seq;
}

bool crdt_vv_dominates(const crdt_vv *a, const crdt_vv *b)
{
    size_t i = 0;
    for (size_t j = 0; j < b->n; j++) {
        while (i < a->n && crdt_origin_cmp(&a->e[i].origin, &b->e[j].origin) < 0)
            i++;
        if (i == a->n || !crdt_origin_equal(&a->e[i].origin, &b->e[j].origin))
            return false; /* b has an origin a lacks, and b's seqs are >= 1 */
        if (a->e[i].seq < b->e[j].seq)
            return false;
    }
    return true;
}

bool crdt_vv_equal(const crdt_vv *a, const crdt_vv *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        if (a->e[i].seq != b->e[i].seq || !crdt_origin_equal(&a->e[i].origin, &b->e[i].origin))
            return false;
    }
    return true;
}

crdt_vv_order crdt_vv_compare(const crdt_vv *a, const crdt_vv *b)
{
    bool ab = crdt_vv_dominates(a, b), ba = crdt_vv_dominates(b, a);
    if (ab && ba)
        return CRDT_VV_EQUAL;
    if (ab)
        return CRDT_VV_AFTER;
    if (ba)
        return CRDT_VV_BEFORE;
    return CRDT_VV_CONCURRENT;
}

int crdt_vv_check(const crdt_vv *vv, sn_err *err)
{
    if (vv->n > CRDT_VV_MAX_ENTRIES)
        return sn_err_set(err, SN_ECORRUPT,
                          "version vector holds %zu origins, more than the limit of %d", vv->n,
                          CRDT_VV_MAX_ENTRIES);
    if (vv->n > vv->cap || (vv->n > 0 && vv->e == NULL))
        return sn_err_set(err, SN_ECORRUPT,
                          "version vector claims %zu origins but has room for %zu", vv->n,
                          vv->e == NULL ? (size_t)0 : vv->cap);
    char text[ORIGIN_TEXT_MAX];
    for (size_t i = 0; i < vv->n; i++) {
        if (vv->e[i].seq == 0)
            return sn_err_set(err, SN_ECORRUPT,
                              "version vector entry %zu (origin %s) has seq 0; absent origins "
                              "must be left out",
                              i, origin_text(text, &vv->e[i].origin));
        if (i > 0 && crdt_origin_cmp(&vv->e[i - 1].origin, &vv->e[i].origin) >= 0)
            return sn_err_set(err, SN_ECORRUPT,
                              "version vector entry %zu (origin %s) is out of order or "
                              "repeated",
                              i, origin_text(text, &vv->e[i].origin));
    }
    return 0;
}
