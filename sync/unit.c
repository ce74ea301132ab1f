/* sync/unit.c - signed checkpoints and transfer units: the per-origin commit chain.
 *
 * The byte layouts are the tables in sync/unit.h (all integers big-endian); the offsets
 * below name them. What this file guarantees:
 *
 *   - A checkpoint is exactly SYNC_CHECKPOINT_LEN bytes. Parsing refuses any other length,
 *     another magic, non-zero reserved bytes and seq 0 (SN_ECORRUPT), and any version
 *     other than 1 (SN_EVERSION). The signature covers "SNK1-checkpoint\0" || bytes[0, 84),
 *     so it binds origin, certificate serial, seq, link and highest hlc.
 *   - A unit is parsed as a frame only: magic, version, reserved, the embedded checkpoint,
 *     count >= 1, first >= 1, first + count - 1 == cp.seq, every length checked against the
 *     bytes that remain before it is used, no trailing bytes. Before the body arrays are
 *     allocated, count is capped by what the bytes can hold (4 bytes per body at least),
 *     so a hostile count cannot make us allocate more than the unit's own size.
 *   - Verification hashes forward from the receiver's link at first-1 and requires the last
 *     link to equal cp.link, then checks the origin's signature. Since each link commits
 *     to the previous one and to the body's hash, a relay can re-cut ranges but cannot
 *     alter, drop from the middle or reorder commits without the chain missing the signed
 *     link. Bodies stay opaque bytes here: nothing is decoded before it has verified.
 */
#include "sync/unit.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"

#define CP_DOMAIN "SNK1-checkpoint"

/* Checkpoint offsets. */
enum {
    CP_MAGIC = 0,
    CP_VERSION = 4,
    CP_RESERVED = 5,
    CP_REPLICA = 8,
    CP_EPOCH = 24,
    CP_SERIAL = 28,
    CP_SEQ = 36,
    CP_LINK = 44,
    CP_HLC = 76,
    CP_SIGNED_LEN = 84, /* the signature covers bytes [0, 84) */
    CP_SIG = 84,
};
_Static_assert(CP_SIG + SYNC_SIG_LEN == SYNC_CHECKPOINT_LEN, "checkpoint layout");
_Static_assert(CP_REPLICA + CRDT_REPLICA_LEN == CP_EPOCH, "checkpoint layout");

/* Unit offsets. */
enum {
    U_MAGIC = 0,
    U_VERSION = 4,
    U_RESERVED = 5,
    U_FIRST = 8,
    U_COUNT = 16,
    U_CHECKPOINT = 20,
    U_BODIES = SYNC_UNIT_HEADER_LEN,
    U_LEN_PREFIX = 4, /* u32 length before each body */
};

static const uint8_t cp_magic[4] = {'S', 'N', 'K', '1'};
static const uint8_t unit_magic[4] = {'S', 'N', 'U', '1'};

void sync_chain_next(uint8_t out[SYNC_LINK_LEN], const uint8_t prev[SYNC_LINK_LEN],
                     const uint8_t *body, size_t n)
{
    uint8_t h[SN_BLAKE2B_256];
    sn_blake2b(h, sizeof h, body, n);
    sn_blake2b_state bs;
    sn_blake2b_init(&bs, SYNC_LINK_LEN);
    sn_blake2b_update(&bs, prev, SYNC_LINK_LEN);
    sn_blake2b_update(&bs, h, sizeof h);
    sn_blake2b_final(&bs, out, SYNC_LINK_LEN);
}

/* "<replica hex> epoch <n>" for messages: names the origin, never a key. */
typedef struct origin_name {
    char s[2 * CRDT_REPLICA_LEN + 1 + 24];
} origin_name;

static origin_name name_of(const crdt_origin *o)
{
    origin_name n;
    char hex[2 * CRDT_REPLICA_LEN + 1];
    sn_hex(hex, o->replica, CRDT_REPLICA_LEN);
    snprintf(n.s, sizeof n.s, "%s/%" PRIu32, hex, o->epoch);
    return n;
}

void sync_checkpoint_encode(const sync_checkpoint *cp, uint8_t out[SYNC_CHECKPOINT_LEN])
{
    memset(out, 0, SYNC_CHECKPOINT_LEN);
    memcpy(out + CP_MAGIC, cp_magic, sizeof cp_magic);
    out[CP_VERSION] = 1;
    memcpy(out + CP_REPLICA, cp->origin.replica, CRDT_REPLICA_LEN);
    sn_store_u32be(out + CP_EPOCH, cp->origin.epoch);
    sn_store_u64be(out + CP_SERIAL, cp->cert_serial);
    sn_store_u64be(out + CP_SEQ, cp->seq);
    memcpy(out + CP_LINK, cp->link, SYNC_LINK_LEN);
    sn_store_u64be(out + CP_HLC, cp->hlc_max);
    memcpy(out + CP_SIG, cp->sig, SYNC_SIG_LEN);
}

void sync_checkpoint_sign(sync_checkpoint *cp, const uint8_t sk[SYNC_SIGN_SK_LEN])
{
    uint8_t b[SYNC_CHECKPOINT_LEN];
    sync_checkpoint_encode(cp, b);
    sync_sign(cp->sig, CP_DOMAIN, b, CP_SIGNED_LEN, sk);
}

int sync_checkpoint_parse(const uint8_t *p, size_t n, sync_checkpoint *out, sn_err *err)
{
    /* Magic and version first, so a newer format is reported as such even if its length
     * differs from ours. */
    if (n < CP_VERSION + 1 || memcmp(p + CP_MAGIC, cp_magic, sizeof cp_magic) != 0)
        return sn_err_set(err, SN_ECORRUPT, "checkpoint of %zu bytes does not start with 'SNK1'",
                          n);
    if (p[CP_VERSION] != 1) {
        sn_err_set(err, SN_EVERSION,
                   "checkpoint format version %u is not supported (this build reads version 1)",
                   (unsigned)p[CP_VERSION]);
        sn_err_hint(err, "install a newer Outpost to read data from this origin");
        return SN_EVERSION;
    }
    if (n != SYNC_CHECKPOINT_LEN)
        return sn_err_set(err, SN_ECORRUPT, "checkpoint is %zu bytes, expected exactly %d", n,
                          SYNC_CHECKPOINT_LEN);
    if (p[CP_RESERVED] != 0 || p[CP_RESERVED + 1] != 0 || p[CP_RESERVED + 2] != 0)
        return sn_err_set(err, SN_ECORRUPT, "checkpoint has non-zero reserved bytes");
    sync_checkpoint cp;
    memcpy(cp.origin.replica, p + CP_REPLICA, CRDT_REPLICA_LEN);
    cp.origin.epoch = sn_load_u32be(p + CP_EPOCH);
    cp.cert_serial = sn_load_u64be(p + CP_SERIAL);
    cp.seq = sn_load_u64be(p + CP_SEQ);
    memcpy(cp.link, p + CP_LINK, SYNC_LINK_LEN);
    cp.hlc_max = sn_load_u64be(p + CP_HLC);
    memcpy(cp.sig, p + CP_SIG, SYNC_SIG_LEN);
    /* Commits are numbered from 1; a checkpoint at 0 would sign the empty chain. */
    if (cp.seq == 0)
        return sn_err_set(err, SN_ECORRUPT, "checkpoint of origin %s is at seq 0",
                          name_of(&cp.origin).s);
    *out = cp;
    return 0;
}

int sync_checkpoint_verify(const sync_checkpoint *cp, const uint8_t pk[SYNC_SIGN_PK_LEN],
                           sn_err *err)
{
    uint8_t b[SYNC_CHECKPOINT_LEN];
    sync_checkpoint_encode(cp, b);
    if (!sync_verify(cp->sig, CP_DOMAIN, b, CP_SIGNED_LEN, pk))
        return sn_err_set(err, SN_EAUTH,
                          "checkpoint signature does not verify (origin %s, seq %" PRIu64 ")",
                          name_of(&cp->origin).s, cp->seq);
    return 0;
}

bool sync_checkpoint_conflicts(const sync_checkpoint *a, const sync_checkpoint *b)
{
    return crdt_origin_equal(&a->origin, &b->origin) && a->seq == b->seq &&
           memcmp(a->link, b->link, SYNC_LINK_LEN) != 0;
}

int sync_unit_encode(uint64_t first, const uint8_t *const *bodies, const size_t *lens,
                     uint32_t count, const sync_checkpoint *cp, sn_buf *out, sn_err *err)
{
    if (count == 0 || first == 0 || first > UINT64_MAX - (count - 1) ||
        first + (count - 1) != cp->seq)
        return sn_err_set(err, SN_EINVAL,
                          "cannot encode a unit of %" PRIu32 " commits from seq %" PRIu64
                          " with a checkpoint at seq %" PRIu64,
                          count, first, cp->seq);
    size_t total = U_BODIES;
    for (uint32_t i = 0; i < count; i++) {
        if (lens[i] > UINT32_MAX || __builtin_add_overflow(total, U_LEN_PREFIX, &total) ||
            __builtin_add_overflow(total, lens[i], &total))
            return sn_err_set(err, SN_ETOOBIG, "commit %" PRIu64 " of %zu bytes is too big",
                              first + i, lens[i]);
    }
    /* One reservation up front: on failure `out` is untouched. */
    int rc = sn_buf_reserve(out, total, err);
    if (rc != 0) {
        sn_err_prefix(err, "encoding the unit of commits %" PRIu64 "..%" PRIu64, first, cp->seq);
        return rc;
    }
    uint8_t *p = out->data + out->len;
    memset(p, 0, U_CHECKPOINT);
    memcpy(p + U_MAGIC, unit_magic, sizeof unit_magic);
    p[U_VERSION] = 1;
    sn_store_u64be(p + U_FIRST, first);
    sn_store_u32be(p + U_COUNT, count);
    sync_checkpoint_encode(cp, p + U_CHECKPOINT);
    p += U_BODIES;
    for (uint32_t i = 0; i < count; i++) {
        sn_store_u32be(p, (uint32_t)lens[i]);
        p += U_LEN_PREFIX;
        if (lens[i] > 0)
            memcpy(p, bodies[i], lens[i]);
        p += lens[i];
    }
    out->len += total;
    return 0;
}

void sync_unit_free(sync_unit *u)
{
    if (u == NULL)
        return;
    sn_free(u->bodies);
    sn_free(u->lens);
    u->bodies = NULL;
    u->lens = NULL;
    u->count = 0;
}

int sync_unit_parse(const uint8_t *p, size_t n, sync_unit *out, sn_err *err)
{
    memset(out, 0, sizeof *out);
    if (n < U_VERSION + 1 || memcmp(p + U_MAGIC, unit_magic, sizeof unit_magic) != 0)
        return sn_err_set(err, SN_ECORRUPT, "unit of %zu bytes does not start with 'SNU1'", n);
    if (p[U_VERSION] != 1) {
        sn_err_set(err, SN_EVERSION,
                   "unit format version %u is not supported (this build reads version 1)",
                   (unsigned)p[U_VERSION]);
        sn_err_hint(err, "install a newer Outpost to read data from this peer");
        return SN_EVERSION;
    }
    if (n < U_BODIES)
        return sn_err_set(err, SN_ECORRUPT, "unit of %zu bytes is shorter than its %d-byte header",
                          n, U_BODIES);
    if (p[U_RESERVED] != 0 || p[U_RESERVED + 1] != 0 || p[U_RESERVED + 2] != 0)
        return sn_err_set(err, SN_ECORRUPT, "unit has non-zero reserved bytes");
    uint64_t first = sn_load_u64be(p + U_FIRST);
    uint32_t count = sn_load_u32be(p + U_COUNT);
    sync_checkpoint cp;
    int rc = sync_checkpoint_parse(p + U_CHECKPOINT, SYNC_CHECKPOINT_LEN, &cp, err);
    if (rc != 0) {
        sn_err_prefix(err, "in a unit's checkpoint");
        return rc;
    }
    origin_name on = name_of(&cp.origin);
    if (count == 0 || first == 0)
        return sn_err_set(err, SN_ECORRUPT,
                          "unit of origin %s has first seq %" PRIu64 " and count %" PRIu32
                          " (both must be at least 1)",
                          on.s, first, count);
    if (first > UINT64_MAX - (count - 1) || first + (count - 1) != cp.seq)
        return sn_err_set(err, SN_ECORRUPT,
                          "unit of origin %s claims %" PRIu32 " commits from seq %" PRIu64
                          " but its checkpoint is at seq %" PRIu64,
                          on.s, count, first, cp.seq);
    size_t rem = n - U_BODIES;
    /* Every body needs its length prefix, so the bytes bound the count: checking this
     * before allocating keeps a forged count from costing more memory than the unit. */
    if (count > rem / U_LEN_PREFIX)
        return sn_err_set(err, SN_ECORRUPT,
                          "unit of origin %s claims %" PRIu32 " commits but its %zu bytes of "
                          "bodies can hold at most %zu",
                          on.s, count, rem, rem / U_LEN_PREFIX);
    const uint8_t **bodies = sn_mallocarray(count, sizeof *bodies);
    size_t *lens = sn_mallocarray(count, sizeof *lens);
    if (bodies == NULL || lens == NULL) {
        rc = sn_err_set(err, SN_ENOMEM, "parsing a unit of %" PRIu32 " commits: out of memory",
                        count);
        goto fail;
    }
    const uint8_t *q = p + U_BODIES;
    for (uint32_t i = 0; i < count; i++) {
        if (rem < U_LEN_PREFIX) {
            rc = sn_err_set(err, SN_ECORRUPT,
                            "unit of origin %s ends before the length of commit %" PRIu64,
                            on.s, first + i);
            goto fail;
        }
        uint32_t len = sn_load_u32be(q);
        q += U_LEN_PREFIX;
        rem -= U_LEN_PREFIX;
        if (len > rem) {
            rc = sn_err_set(err, SN_ECORRUPT,
                            "commit %" PRIu64 " in a unit of origin %s claims %" PRIu32
                            " bytes but only %zu remain",
                            first + i, on.s, len, rem);
            goto fail;
        }
        bodies[i] = q;
        lens[i] = len;
        q += len;
        rem -= len;
    }
    if (rem != 0) {
        rc = sn_err_set(err, SN_ECORRUPT,
                        "unit of origin %s has %zu trailing bytes after commit %" PRIu64, on.s,
                        rem, cp.seq);
        goto fail;
    }
    *out = (sync_unit){
        .first = first, .count = count, .cp = cp, .bodies = bodies, .lens = lens};
    return 0;
fail:
    sn_free(bodies);
    sn_free(lens);
    return rc;
}

int sync_unit_verify_chain(const sync_unit *u, const uint8_t prev_link[SYNC_LINK_LEN],
                           uint8_t *links_out, sn_err *err)
{
    if (SN_NEVER(u->count == 0 || u->first == 0 || u->first + (u->count - 1) != u->cp.seq))
        return sn_err_set(err, SN_EINVAL, "verifying a unit that did not come from parsing");
    uint8_t link[SYNC_LINK_LEN];
    memcpy(link, prev_link, SYNC_LINK_LEN);
    for (uint32_t i = 0; i < u->count; i++) {
        sync_chain_next(link, link, u->bodies[i], u->lens[i]);
        if (links_out != NULL)
            memcpy(links_out + (size_t)i * SYNC_LINK_LEN, link, SYNC_LINK_LEN);
    }
    if (memcmp(link, u->cp.link, SYNC_LINK_LEN) == 0)
        return 0;
    sn_err_set(err, SN_EAUTH,
               "unit of origin %s: the chain of commits %" PRIu64 "..%" PRIu64
               " does not end in the checkpoint's link: a commit was altered, "
               "dropped or reordered",
               name_of(&u->cp.origin).s, u->first, u->cp.seq);
    sn_err_hint(err, "the unit was refused and nothing from it was stored; if this "
                     "repeats, the sender or a relay is damaging or forging data");
    /* Links of an unverified chain must not look usable. */
    if (links_out != NULL)
        memset(links_out, 0, (size_t)u->count * SYNC_LINK_LEN);
    return SN_EAUTH;
}

int sync_unit_verify(const sync_unit *u, const uint8_t prev_link[SYNC_LINK_LEN],
                     const uint8_t origin_pk[SYNC_SIGN_PK_LEN], uint8_t *links_out,
                     sn_err *err)
{
    int rc = sync_unit_verify_chain(u, prev_link, links_out, err);
    if (rc != 0)
        return rc;
    rc = sync_checkpoint_verify(&u->cp, origin_pk, err);
    if (rc != 0 && links_out != NULL) /* nor the links of a chain nobody signed */
        memset(links_out, 0, (size_t)u->count * SYNC_LINK_LEN);
    return rc;
}
