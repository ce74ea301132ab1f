/* sync/proof.c - proofs of equivocation, checkable by any node.
 *
 * Why this shape. DESIGN.md §4 calls two valid checkpoints at one (origin, seq) with
 * different links equivocation. A node rarely holds such a pair: it finds a fork when a
 * unit's chain, hashed forward from the link it holds, parts from its own at some seq k
 * between the checkpoints either history was cut at. Keeping "our checkpoint at one seq,
 * theirs at another" (as before) proves nothing to a third node that holds neither
 * history past k. But a checkpoint at t vouches, through the hash chain, for the link at
 * every seq s <= t given the bodies s+1..t: so each side of a proof carries the link at s,
 * the bodies after it and the checkpoint they lead to. The node that finds the fork picks
 * s = k, the first seq whose links differ, and for each history the nearest checkpoint at
 * or after k (for its own history from its store, for the other from the unit); a side
 * whose checkpoint is at s itself carries no bodies. Any node holding the origin's
 * certificates checks it alone, whatever it holds. (Departure from DESIGN.md §4: the
 * two checkpoints of a proof may lie at different seqs; what they vouch for is compared at
 * one seq.)
 *
 * Layout (integers big-endian):
 *
 *   PROOF  OFFSET  SIZE  FIELD
 *          0       4     magic "SNP1"
 *          4       1     version (1)
 *          5       3     reserved (0)
 *          8       8     seq s (>= 1): the origin is frozen from here on
 *          16      ..    side 0, then side 1, then nothing
 *
 *   SIDE   OFFSET  SIZE  FIELD
 *          0       32    link at s
 *          32      148   checkpoint at t >= s (sync/unit.h)
 *          180     4     count = t - s
 *          184     ..    count x { u32 length | commit body s+1 .. t }
 *
 * Parsing checks the frame and refuses a proof whose two links at s are equal (it would
 * prove nothing) or whose sides name two origins; verification hashes each side forward
 * and checks each checkpoint's signature, before anything is believed. Bodies stay opaque
 * bytes: nothing here is decoded. */
#include "sync/proof.h"

#include <inttypes.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"

enum {
    P_MAGIC = 0,
    P_VERSION = 4,
    P_RESERVED = 5,
    P_SEQ = 8,
    P_SIDES = 16,
    S_LINK = 0,
    S_CHECKPOINT = SYNC_LINK_LEN,
    S_COUNT = S_CHECKPOINT + SYNC_CHECKPOINT_LEN,
    S_BODIES = S_COUNT + 4,
    LEN_PREFIX = 4,
};

static const uint8_t proof_magic[4] = {'S', 'N', 'P', '1'};

int sync_proof_begin(uint64_t seq, sn_buf *out, sn_err *err)
{
    if (seq == 0)
        return sn_err_set(err, SN_EINVAL, "a proof of equivocation cannot be at seq 0");
    uint8_t h[P_SIDES] = {0};
    memcpy(h + P_MAGIC, proof_magic, sizeof proof_magic);
    h[P_VERSION] = 1;
    sn_store_u64be(h + P_SEQ, seq);
    return sn_buf_append(out, h, sizeof h, err);
}

int sync_proof_add_side(sn_buf *out, uint64_t seq, const uint8_t link[SYNC_LINK_LEN],
                        const sync_checkpoint *cp, const uint8_t *const *bodies,
                        const size_t *lens, sn_err *err)
{
    if (cp->seq < seq || cp->seq - seq > UINT32_MAX)
        return sn_err_set(err, SN_EINVAL, "a proof's side at seq %" PRIu64 " cannot end at a "
                          "checkpoint at seq %" PRIu64, seq, cp->seq);
    uint32_t count = (uint32_t)(cp->seq - seq);
    size_t total = S_BODIES;
    for (uint32_t i = 0; i < count; i++)
        if (lens[i] > UINT32_MAX || __builtin_add_overflow(total, LEN_PREFIX + lens[i], &total))
            return sn_err_set(err, SN_ETOOBIG, "commit %" PRIu64 " is too big for a proof",
                              seq + 1 + i);
    if (out->len > SYNC_PROOF_MAX || total > SYNC_PROOF_MAX - out->len)
        return sn_err_set(err, SN_ETOOBIG, "a proof of equivocation at seq %" PRIu64 " would "
                          "exceed %u bytes", seq, SYNC_PROOF_MAX);
    int rc = sn_buf_reserve(out, total, err);
    if (rc != 0)
        return rc;
    uint8_t *p = out->data + out->len;
    memcpy(p + S_LINK, link, SYNC_LINK_LEN);
    sync_checkpoint_encode(cp, p + S_CHECKPOINT);
    sn_store_u32be(p + S_COUNT, count);
    p += S_BODIES;
    for (uint32_t i = 0; i < count; i++) {
        sn_store_u32be(p, (uint32_t)lens[i]);
        p += LEN_PREFIX;
        if (lens[i] > 0)
            memcpy(p, bodies[i], lens[i]);
        p += lens[i];
    }
    out->len += total;
    return 0;
}

void sync_proof_free(sync_proof *pr)
{
    if (pr == NULL)
        return;
    for (int i = 0; i < 2; i++) {
        sn_free(pr->side[i].bodies);
        sn_free(pr->side[i].lens);
        pr->side[i].bodies = NULL;
        pr->side[i].lens = NULL;
        pr->side[i].count = 0;
    }
}

/* One side from p[*off, n): advances *off past it. */
static int parse_side(const uint8_t *p, size_t n, size_t *off, uint64_t seq, int which,
                      sync_proof_side *s, sn_err *err)
{
    size_t rem = n - *off;
    if (rem < S_BODIES)
        return sn_err_set(err, SN_ECORRUPT, "proof of equivocation ends inside side %d "
                          "(%zu bytes left, a side needs at least %d)", which + 1, rem,
                          S_BODIES);
    const uint8_t *q = p + *off;
    memcpy(s->link, q + S_LINK, SYNC_LINK_LEN);
    int rc = sync_checkpoint_parse(q + S_CHECKPOINT, SYNC_CHECKPOINT_LEN, &s->cp, err);
    if (rc != 0) {
        sn_err_prefix(err, "side %d of a proof of equivocation", which + 1);
        return rc;
    }
    uint32_t count = sn_load_u32be(q + S_COUNT);
    if (s->cp.seq < seq || s->cp.seq - seq != count)
        return sn_err_set(err, SN_ECORRUPT, "side %d of a proof at seq %" PRIu64 " has %" PRIu32
                          " commits before its checkpoint at seq %" PRIu64, which + 1, seq,
                          count, s->cp.seq);
    rem -= S_BODIES;
    q += S_BODIES;
    if (count > rem / LEN_PREFIX)
        return sn_err_set(err, SN_ECORRUPT, "side %d of a proof claims %" PRIu32 " commits but "
                          "only %zu bytes remain", which + 1, count, rem);
    s->bodies = sn_mallocarray(count == 0 ? 1 : count, sizeof *s->bodies);
    s->lens = sn_mallocarray(count == 0 ? 1 : count, sizeof *s->lens);
    if (s->bodies == NULL || s->lens == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory parsing a proof of equivocation");
    for (uint32_t i = 0; i < count; i++) {
        uint32_t len = rem >= LEN_PREFIX ? sn_load_u32be(q) : 0;
        if (rem < LEN_PREFIX || len > rem - LEN_PREFIX)
            return sn_err_set(err, SN_ECORRUPT, "side %d of a proof: commit %" PRIu64 " runs "
                              "past the end", which + 1, seq + 1 + i);
        s->bodies[i] = q + LEN_PREFIX;
        s->lens[i] = len;
        q += LEN_PREFIX + len;
        rem -= LEN_PREFIX + len;
    }
    s->count = count;
    *off = n - rem;
    return 0;
}

int sync_proof_parse(const uint8_t *p, size_t n, sync_proof *out, sn_err *err)
{
    memset(out, 0, sizeof *out);
    if (n < P_VERSION + 1 || memcmp(p + P_MAGIC, proof_magic, sizeof proof_magic) != 0)
        return sn_err_set(err, SN_ECORRUPT, "proof of equivocation of %zu bytes does not start "
                          "with 'SNP1'", n);
    if (p[P_VERSION] != 1) {
        sn_err_set(err, SN_EVERSION, "proof of equivocation format version %u is not "
                   "supported (this build reads version 1)", (unsigned)p[P_VERSION]);
        sn_err_hint(err, "install a newer Outpost to check it");
        return SN_EVERSION;
    }
    if (n > SYNC_PROOF_MAX)
        return sn_err_set(err, SN_ECORRUPT, "proof of equivocation of %zu bytes exceeds the "
                          "%u-byte limit", n, SYNC_PROOF_MAX);
    if (n < P_SIDES)
        return sn_err_set(err, SN_ECORRUPT, "proof of equivocation of %zu bytes is shorter than "
                          "its header", n);
    if (p[P_RESERVED] != 0 || p[P_RESERVED + 1] != 0 || p[P_RESERVED + 2] != 0)
        return sn_err_set(err, SN_ECORRUPT, "proof of equivocation has non-zero reserved bytes");
    out->seq = sn_load_u64be(p + P_SEQ);
    if (out->seq == 0)
        return sn_err_set(err, SN_ECORRUPT, "proof of equivocation is at seq 0");
    size_t off = P_SIDES;
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++)
        rc = parse_side(p, n, &off, out->seq, i, &out->side[i], err);
    if (rc == 0 && off != n)
        rc = sn_err_set(err, SN_ECORRUPT, "proof of equivocation has %zu trailing bytes",
                        n - off);
    if (rc == 0 && !crdt_origin_equal(&out->side[0].cp.origin, &out->side[1].cp.origin))
        rc = sn_err_set(err, SN_ECORRUPT, "the two sides of a proof of equivocation are of "
                        "different origins");
    if (rc == 0 && memcmp(out->side[0].link, out->side[1].link, SYNC_LINK_LEN) == 0)
        rc = sn_err_set(err, SN_ECORRUPT, "the two sides of a proof of equivocation agree at "
                        "seq %" PRIu64 ": it proves nothing", out->seq);
    if (rc != 0)
        sync_proof_free(out);
    return rc;
}

int sync_proof_verify(const sync_proof *pr, const uint8_t pk[2][SYNC_SIGN_PK_LEN], sn_err *err)
{
    for (int i = 0; i < 2; i++) {
        const sync_proof_side *s = &pr->side[i];
        uint8_t link[SYNC_LINK_LEN];
        memcpy(link, s->link, sizeof link);
        for (uint32_t k = 0; k < s->count; k++)
            sync_chain_next(link, link, s->bodies[k], s->lens[k]);
        if (memcmp(link, s->cp.link, SYNC_LINK_LEN) != 0)
            return sn_err_set(err, SN_EAUTH, "side %d of a proof of equivocation at seq %"
                              PRIu64 ": its commits do not lead to its checkpoint's link at "
                              "seq %" PRIu64, i + 1, pr->seq, s->cp.seq);
        int rc = sync_checkpoint_verify(&s->cp, pk[i], err);
        if (rc != 0) {
            sn_err_prefix(err, "side %d of a proof of equivocation at seq %" PRIu64, i + 1,
                          pr->seq);
            return rc;
        }
    }
    return 0;
}
