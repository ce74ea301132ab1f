/* tests/check_sync_unit.c - the commit chain, checkpoints and transfer units: round trips,
 * re-cutting, and a hostile relay (flipped bits, dropped, swapped, truncated commits); proofs
 * of equivocation (sync/proof.h): round trip, verification, strict parsing. */
#include <check.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "sync/proof.h"
#include "sync/unit.h"

#define NCOMMITS 8

/* One origin's log: bodies 1..NCOMMITS (index 0 unused), links[0] = zeros. */
typedef struct olog {
    sync_keys keys;
    crdt_origin origin;
    uint8_t body[NCOMMITS + 1][40];
    size_t len[NCOMMITS + 1];
    uint8_t links[NCOMMITS + 1][SYNC_LINK_LEN];
} olog;

static void log_init(olog *l, uint8_t id)
{
    memset(l, 0, sizeof *l);
    ck_assert_int_eq(sync_keys_generate(&l->keys, NULL), 0);
    l->origin.replica[0] = id;
    l->origin.replica[CRDT_REPLICA_LEN - 1] = 0x5a;
    l->origin.epoch = 3;
    for (int s = 1; s <= NCOMMITS; s++) {
        /* Varied lengths, including an empty body at seq 4. */
        l->len[s] = s == 4 ? 0 : (size_t)(3 + (s * 7) % 30);
        for (size_t i = 0; i < l->len[s]; i++)
            l->body[s][i] = (uint8_t)(id + s * 31 + i);
        sync_chain_next(l->links[s], l->links[s - 1], l->body[s], l->len[s]);
    }
}

static sync_checkpoint log_checkpoint(const olog *l, uint64_t seq)
{
    sync_checkpoint cp = {.origin = l->origin, .cert_serial = 77, .seq = seq,
                          .hlc_max = CRDT_HLC_MAKE(1700000000000ull + seq, seq)};
    memcpy(cp.link, l->links[seq], SYNC_LINK_LEN);
    sync_checkpoint_sign(&cp, l->keys.sign_sk);
    return cp;
}

/* Encode commits a..b of `l`, in the order given by `order` (NULL: natural order), with a
 * checkpoint at b. */
static void log_unit_ordered(const olog *l, uint64_t a, uint64_t b, const int *order,
                             sn_buf *out)
{
    const uint8_t *bodies[NCOMMITS];
    size_t lens[NCOMMITS];
    uint32_t count = (uint32_t)(b - a + 1);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t s = order != NULL ? (uint64_t)order[i] : a + i;
        bodies[i] = l->body[s];
        lens[i] = l->len[s];
    }
    sync_checkpoint cp = log_checkpoint(l, b);
    sn_buf_init(out, 1 << 20);
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_unit_encode(a, bodies, lens, count, &cp, out, &err) == 0, "encode: %s",
                  err.msg);
}

static void log_unit(const olog *l, uint64_t a, uint64_t b, sn_buf *out)
{
    log_unit_ordered(l, a, b, NULL, out);
}

/* Parse and verify `p` against the olog; returns the first non-zero code, 0 on success. */
static int parse_verify(const uint8_t *p, size_t n, const uint8_t prev[SYNC_LINK_LEN],
                        const uint8_t pk[SYNC_SIGN_PK_LEN], sn_err *err)
{
    sync_unit u;
    int rc = sync_unit_parse(p, n, &u, err);
    if (rc != 0)
        return rc;
    rc = sync_unit_verify(&u, prev, pk, NULL, err);
    sync_unit_free(&u);
    return rc;
}

/* ---- the chain ------------------------------------------------------------------------- */

START_TEST(test_chain_matches_independent_blake2b)
{
    static const char *bodies[3] = {"first commit", "", "third, a little longer commit"};
    uint8_t ours[SYNC_LINK_LEN] = {0}, ref[SYNC_LINK_LEN] = {0};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(bodies[i]);
        sync_chain_next(ours, ours, (const uint8_t *)bodies[i], n);
        /* Independently: one-shot BLAKE2b-256 over prev || BLAKE2b-256(body). */
        uint8_t cat[2 * SN_BLAKE2B_256];
        memcpy(cat, ref, SN_BLAKE2B_256);
        sn_blake2b(cat + SN_BLAKE2B_256, SN_BLAKE2B_256, bodies[i], n);
        sn_blake2b(ref, SN_BLAKE2B_256, cat, sizeof cat);
        ck_assert_msg(memcmp(ours, ref, SYNC_LINK_LEN) == 0, "link %d differs", i + 1);
    }
    /* The chain depends on order: the same bodies reversed end elsewhere. */
    uint8_t rev[SYNC_LINK_LEN] = {0};
    for (int i = 2; i >= 0; i--)
        sync_chain_next(rev, rev, (const uint8_t *)bodies[i], strlen(bodies[i]));
    ck_assert(memcmp(rev, ref, SYNC_LINK_LEN) != 0);
}
END_TEST

/* ---- checkpoints ----------------------------------------------------------------------- */

START_TEST(test_checkpoint_round_trip_and_verify)
{
    olog l, other;
    log_init(&l, 1);
    log_init(&other, 2);
    sync_checkpoint cp = log_checkpoint(&l, 5), back;
    uint8_t b[SYNC_CHECKPOINT_LEN];
    sync_checkpoint_encode(&cp, b);
    ck_assert(memcmp(b, "SNK1\x01\0\0\0", 8) == 0);
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_checkpoint_parse(b, sizeof b, &back, &err) == 0, "%s", err.msg);
    ck_assert(memcmp(&back.origin, &cp.origin, sizeof cp.origin) == 0);
    ck_assert(back.cert_serial == 77 && back.seq == 5 && back.hlc_max == cp.hlc_max);
    ck_assert(memcmp(back.link, cp.link, SYNC_LINK_LEN) == 0);
    ck_assert(memcmp(back.sig, cp.sig, SYNC_SIG_LEN) == 0);
    ck_assert_int_eq(sync_checkpoint_verify(&back, l.keys.sign_pk, NULL), 0);
    ck_assert_int_eq(sync_checkpoint_verify(&back, other.keys.sign_pk, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "checkpoint signature does not verify"));
    /* Every signed bit matters. */
    for (size_t bit = 0; bit < 84 * 8; bit++) {
        uint8_t t[SYNC_CHECKPOINT_LEN];
        memcpy(t, b, sizeof t);
        t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        sync_checkpoint c;
        if (sync_checkpoint_parse(t, sizeof t, &c, NULL) == 0)
            ck_assert_msg(sync_checkpoint_verify(&c, l.keys.sign_pk, NULL) == SN_EAUTH,
                          "bit %zu", bit);
    }
}
END_TEST

START_TEST(test_checkpoint_parse_is_strict)
{
    olog l;
    log_init(&l, 1);
    sync_checkpoint cp = log_checkpoint(&l, 2), c;
    uint8_t b[SYNC_CHECKPOINT_LEN + 1], t[SYNC_CHECKPOINT_LEN + 1];
    sync_checkpoint_encode(&cp, b);
    b[SYNC_CHECKPOINT_LEN] = 0;
    sn_err err = SN_ERR_INIT;
    for (size_t n = 0; n < SYNC_CHECKPOINT_LEN; n++)
        ck_assert_msg(sync_checkpoint_parse(b, n, &c, NULL) == SN_ECORRUPT, "length %zu", n);
    ck_assert_int_eq(sync_checkpoint_parse(b, sizeof b, &c, &err), SN_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "expected exactly 148"));

    memcpy(t, b, sizeof t);
    t[3] = '2';
    ck_assert_int_eq(sync_checkpoint_parse(t, SYNC_CHECKPOINT_LEN, &c, NULL), SN_ECORRUPT);
    for (int v = 0; v < 256; v++) {
        if (v == 1)
            continue;
        memcpy(t, b, sizeof t);
        t[4] = (uint8_t)v;
        sn_err_clear(&err);
        ck_assert_int_eq(sync_checkpoint_parse(t, SYNC_CHECKPOINT_LEN, &c, &err), SN_EVERSION);
        ck_assert(err.msg[0] != '\0' && err.hint[0] != '\0');
    }
    for (int r = 5; r < 8; r++) {
        memcpy(t, b, sizeof t);
        t[r] = 0x80;
        ck_assert_msg(sync_checkpoint_parse(t, SYNC_CHECKPOINT_LEN, &c, NULL) == SN_ECORRUPT,
                      "reserved byte %d", r);
    }
    /* A checkpoint at seq 0 would sign the empty chain. */
    memcpy(t, b, sizeof t);
    memset(t + 36, 0, 8);
    ck_assert_int_eq(sync_checkpoint_parse(t, SYNC_CHECKPOINT_LEN, &c, NULL), SN_ECORRUPT);
}
END_TEST

START_TEST(test_checkpoint_conflicts_only_on_same_origin_and_seq)
{
    olog l, fork;
    log_init(&l, 1);
    log_init(&fork, 1); /* same origin, different bodies: a cloned disk */
    fork.body[3][0] ^= 1;
    sync_chain_next(fork.links[3], fork.links[2], fork.body[3], fork.len[3]);
    memcpy(fork.keys.sign_sk, l.keys.sign_sk, SYNC_SIGN_SK_LEN);
    sync_checkpoint a = log_checkpoint(&l, 3), b = log_checkpoint(&fork, 3);
    ck_assert(sync_checkpoint_conflicts(&a, &b));
    ck_assert(sync_checkpoint_conflicts(&b, &a));
    ck_assert(!sync_checkpoint_conflicts(&a, &a));
    sync_checkpoint c = log_checkpoint(&l, 2); /* another seq */
    ck_assert(!sync_checkpoint_conflicts(&a, &c));
    sync_checkpoint d = b;
    d.origin.epoch++; /* another origin: epoch */
    ck_assert(!sync_checkpoint_conflicts(&a, &d));
    d = b;
    d.origin.replica[7] ^= 1; /* another origin: replica */
    ck_assert(!sync_checkpoint_conflicts(&a, &d));
    /* Same link but another hlc or serial is not equivocation. */
    d = a;
    d.hlc_max++;
    d.cert_serial++;
    ck_assert(!sync_checkpoint_conflicts(&a, &d));
}
END_TEST

/* ---- units ------------------------------------------------------------------------------ */

static void round_trip(uint64_t a, uint64_t b)
{
    olog l;
    log_init(&l, 1);
    sn_buf ub;
    log_unit(&l, a, b, &ub);
    sync_unit u;
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_unit_parse(ub.data, ub.len, &u, &err) == 0, "%s", err.msg);
    ck_assert(u.first == a && u.count == b - a + 1 && u.cp.seq == b);
    for (uint32_t i = 0; i < u.count; i++) {
        ck_assert_uint_eq(u.lens[i], l.len[a + i]);
        ck_assert(u.lens[i] == 0 || memcmp(u.bodies[i], l.body[a + i], u.lens[i]) == 0);
        /* Bodies are borrowed from the buffer, not copied. */
        ck_assert(u.bodies[i] >= ub.data && u.bodies[i] <= ub.data + ub.len);
    }
    uint8_t links[NCOMMITS * SYNC_LINK_LEN];
    ck_assert_msg(sync_unit_verify(&u, l.links[a - 1], l.keys.sign_pk, links, &err) == 0, "%s",
                  err.msg);
    for (uint32_t i = 0; i < u.count; i++)
        ck_assert(memcmp(links + i * SYNC_LINK_LEN, l.links[a + i], SYNC_LINK_LEN) == 0);
    ck_assert_int_eq(sync_unit_verify(&u, l.links[a - 1], l.keys.sign_pk, NULL, NULL), 0);
    sync_unit_free(&u);
    sync_unit_free(&u); /* idempotent */
    sync_unit_free(NULL);
    sn_buf_free(&ub);
}

START_TEST(test_unit_round_trip_one_commit)
{
    round_trip(1, 1);
    round_trip(5, 5);
}
END_TEST

START_TEST(test_unit_round_trip_many_commits) { round_trip(1, NCOMMITS); }
END_TEST

START_TEST(test_unit_recut_ranges_verify)
{
    olog l;
    log_init(&l, 1);
    /* A relay holding checkpoints at 7 and 4 may send 2..7, 2..4 and 5..7. */
    static const uint64_t cuts[][2] = {{2, 7}, {2, 4}, {5, 7}, {3, 3}};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        sn_buf ub;
        log_unit(&l, cuts[k][0], cuts[k][1], &ub);
        sn_err err = SN_ERR_INIT;
        ck_assert_msg(parse_verify(ub.data, ub.len, l.links[cuts[k][0] - 1], l.keys.sign_pk,
                                   &err) == 0,
                      "cut %zu: %s", k, err.msg);
        sn_buf_free(&ub);
    }
}
END_TEST

START_TEST(test_unit_any_flipped_bit_is_refused)
{
    olog l;
    log_init(&l, 1);
    sn_buf ub;
    log_unit(&l, 2, 3, &ub);
    for (size_t bit = 0; bit < ub.len * 8; bit++) {
        ub.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        sn_err err = SN_ERR_INIT;
        int rc = parse_verify(ub.data, ub.len, l.links[1], l.keys.sign_pk, &err);
        ck_assert_msg(rc == SN_ECORRUPT || rc == SN_EVERSION || rc == SN_EAUTH,
                      "bit %zu of %zu: rc %d", bit, ub.len * 8, rc);
        ck_assert_msg(err.msg[0] != '\0', "bit %zu: no message", bit);
        ub.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    ck_assert_int_eq(parse_verify(ub.data, ub.len, l.links[1], l.keys.sign_pk, NULL), 0);
    sn_buf_free(&ub);
}
END_TEST

START_TEST(test_unit_dropped_or_swapped_commit_is_refused)
{
    olog l;
    log_init(&l, 1);
    sn_buf ub;
    log_unit(&l, 1, 5, &ub);
    /* Cut commit 3 out of the bytes: offset of its length prefix, then 4 + len bytes. */
    size_t off = SYNC_UNIT_HEADER_LEN + (4 + l.len[1]) + (4 + l.len[2]);
    size_t skip = 4 + l.len[3];
    ck_assert_uint_eq(sn_load_u32be(ub.data + off), l.len[3]);
    memmove(ub.data + off, ub.data + off + skip, ub.len - off - skip);
    size_t n = ub.len - skip;
    sn_store_u32be(ub.data + 16, 4);
    sn_err err = SN_ERR_INIT;
    /* Count 4 from seq 1 no longer ends at the checkpoint... */
    ck_assert_int_eq(parse_verify(ub.data, n, l.links[0], l.keys.sign_pk, &err), SN_ECORRUPT);
    /* ...and claiming to start at 2 breaks the chain. */
    sn_store_u64be(ub.data + 8, 2);
    sn_err_clear(&err);
    ck_assert_int_eq(parse_verify(ub.data, n, l.links[1], l.keys.sign_pk, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "chain of commits 2..5 does not end in the"));
    sn_buf_free(&ub);
    /* Swapping two commits keeps the frame valid but not the chain. */
    static const int order[] = {1, 3, 2, 4, 5};
    log_unit_ordered(&l, 1, 5, order, &ub);
    sn_err_clear(&err);
    ck_assert_int_eq(parse_verify(ub.data, ub.len, l.links[0], l.keys.sign_pk, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "altered, dropped or reordered"));
    sn_buf_free(&ub);
}
END_TEST

START_TEST(test_unit_truncated_or_extended_is_refused)
{
    olog l;
    log_init(&l, 1);
    sn_buf ub;
    log_unit(&l, 1, 6, &ub);
    for (size_t n = 0; n < ub.len; n++) {
        sync_unit u;
        sn_err err = SN_ERR_INIT;
        ck_assert_msg(sync_unit_parse(ub.data, n, &u, &err) == SN_ECORRUPT, "length %zu", n);
        ck_assert(err.msg[0] != '\0');
    }
    ck_assert_int_eq(sn_buf_append(&ub, "", 1, NULL), 0);
    sn_err err = SN_ERR_INIT;
    sync_unit u;
    ck_assert_int_eq(sync_unit_parse(ub.data, ub.len, &u, &err), SN_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "trailing"));
    sn_buf_free(&ub);
}
END_TEST

START_TEST(test_unit_wrong_prev_link_or_key_is_refused)
{
    olog l, other;
    log_init(&l, 1);
    log_init(&other, 2);
    sn_buf ub;
    log_unit(&l, 3, 6, &ub);
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(parse_verify(ub.data, ub.len, l.links[3], l.keys.sign_pk, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "does not end in the checkpoint's link"));
    ck_assert(err.hint[0] != '\0');
    /* links_out must not hold the links of a refused unit. */
    sync_unit u;
    ck_assert_int_eq(sync_unit_parse(ub.data, ub.len, &u, NULL), 0);
    uint8_t links[4 * SYNC_LINK_LEN], zero[4 * SYNC_LINK_LEN] = {0};
    memset(links, 0xee, sizeof links);
    ck_assert_int_eq(sync_unit_verify(&u, other.links[2], l.keys.sign_pk, links, NULL), SN_EAUTH);
    ck_assert(memcmp(links, zero, sizeof links) == 0);
    /* The right chain but another origin's key. */
    sn_err_clear(&err);
    memset(links, 0xee, sizeof links);
    ck_assert_int_eq(sync_unit_verify(&u, l.links[2], other.keys.sign_pk, links, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "checkpoint signature does not verify"));
    ck_assert(memcmp(links, zero, sizeof links) == 0);
    ck_assert_int_eq(sync_unit_verify(&u, l.links[2], l.keys.sign_pk, links, NULL), 0);
    /* The chain half alone ignores the signature and nothing else. */
    memset(links, 0xee, sizeof links);
    ck_assert_int_eq(sync_unit_verify_chain(&u, other.links[2], links, NULL), SN_EAUTH);
    ck_assert(memcmp(links, zero, sizeof links) == 0);
    u.cp.sig[0] ^= 1;
    ck_assert_int_eq(sync_unit_verify(&u, l.links[2], l.keys.sign_pk, NULL, NULL), SN_EAUTH);
    ck_assert_int_eq(sync_unit_verify_chain(&u, l.links[2], links, NULL), 0);
    ck_assert(memcmp(links + 3 * SYNC_LINK_LEN, l.links[6], SYNC_LINK_LEN) == 0);
    sync_unit_free(&u);
    sn_buf_free(&ub);
}
END_TEST

START_TEST(test_unit_range_must_end_at_checkpoint)
{
    olog l;
    log_init(&l, 1);
    sn_buf ub;
    log_unit(&l, 2, 4, &ub);
    uint8_t t[1024];
    ck_assert_uint_le(ub.len, sizeof t);
    static const struct {
        uint64_t first;
        uint32_t count;
    } bad[] = {{3, 3}, {1, 3}, {2, 2}, {0, 3}, {2, 0}, {UINT64_MAX, 3}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        memcpy(t, ub.data, ub.len);
        sn_store_u64be(t + 8, bad[k].first);
        sn_store_u32be(t + 16, bad[k].count);
        sync_unit u;
        sn_err err = SN_ERR_INIT;
        ck_assert_msg(sync_unit_parse(t, ub.len, &u, &err) == SN_ECORRUPT, "case %zu", k);
        ck_assert(err.msg[0] != '\0');
    }
    /* The encoder refuses the same mistakes from its caller. */
    sync_checkpoint cp = log_checkpoint(&l, 4);
    const uint8_t *bodies[3] = {l.body[2], l.body[3], l.body[4]};
    size_t lens[3] = {l.len[2], l.len[3], l.len[4]};
    sn_buf nb;
    sn_buf_init(&nb, 4096);
    ck_assert_int_eq(sync_unit_encode(3, bodies, lens, 3, &cp, &nb, NULL), SN_EINVAL);
    ck_assert_int_eq(sync_unit_encode(2, bodies, lens, 2, &cp, &nb, NULL), SN_EINVAL);
    ck_assert_int_eq(sync_unit_encode(0, bodies, lens, 0, &cp, &nb, NULL), SN_EINVAL);
    ck_assert_uint_eq(nb.len, 0);
    /* A buffer limit too small for the unit is SN_ETOOBIG and leaves the buffer as it was. */
    sn_buf small;
    sn_buf_init(&small, SYNC_UNIT_HEADER_LEN);
    ck_assert_int_eq(sync_unit_encode(2, bodies, lens, 3, &cp, &small, NULL), SN_ETOOBIG);
    ck_assert_uint_eq(small.len, 0);
    sn_buf_free(&small);
    sn_buf_free(&nb);
    sn_buf_free(&ub);
}
END_TEST

/* A header claiming 2^32-1 commits over a few bytes: refused before any allocation. */
START_TEST(test_unit_huge_count_is_refused_without_allocating)
{
    olog l;
    log_init(&l, 1);
    sync_checkpoint cp = log_checkpoint(&l, 1);
    static const uint32_t counts[] = {UINT32_MAX, 5, 6};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        cp.seq = counts[k]; /* so that first + count - 1 == seq holds */
        uint8_t t[SYNC_UNIT_HEADER_LEN + 16] = {'S', 'N', 'U', '1', 1};
        sn_store_u64be(t + 8, 1);
        sn_store_u32be(t + 16, counts[k]);
        sync_checkpoint_encode(&cp, t + 20);
        /* 16 bytes of bodies hold at most 4 empty ones. */
        sync_unit u;
        sn_err err = SN_ERR_INIT;
        sn_fault_arm(SN_FAULT_ALLOC, 0, -1); /* any allocation would fail */
        int rc = sync_unit_parse(t, sizeof t, &u, &err);
        ck_assert_msg(!sn_fault_disarm(), "count %u: parse allocated", counts[k]);
        ck_assert_int_eq(rc, SN_ECORRUPT);
        ck_assert_msg(strstr(err.msg, "can hold at most 4") != NULL, "%s", err.msg);
    }
    /* A count the bytes can hold, but lengths that overrun them. */
    cp.seq = 2;
    uint8_t t[SYNC_UNIT_HEADER_LEN + 12] = {'S', 'N', 'U', '1', 1};
    sn_store_u64be(t + 8, 1);
    sn_store_u32be(t + 16, 2);
    sync_checkpoint_encode(&cp, t + 20);
    sn_store_u32be(t + SYNC_UNIT_HEADER_LEN, 4);
    sn_store_u32be(t + SYNC_UNIT_HEADER_LEN + 8, 0xfffffff0u);
    sync_unit u;
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(sync_unit_parse(t, sizeof t, &u, &err), SN_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "only 0 remain"));
}
END_TEST

START_TEST(test_unit_parse_and_encode_fault_loops)
{
    olog l;
    log_init(&l, 1);
    sn_buf ub;
    log_unit(&l, 1, NCOMMITS, &ub);
    long base = sn_alloc_live();
    for (int n = 0;; n++) {
        sync_unit u;
        sn_err err = SN_ERR_INIT;
        sn_fault_arm(SN_FAULT_ALLOC, n, 1);
        int rc = sync_unit_parse(ub.data, ub.len, &u, &err);
        if (!sn_fault_disarm()) {
            ck_assert_int_eq(rc, 0);
            ck_assert_int_eq(sync_unit_verify(&u, l.links[0], l.keys.sign_pk, NULL, NULL), 0);
            sync_unit_free(&u);
            ck_assert_msg(n >= 2, "parse made only %d allocations", n);
            break;
        }
        ck_assert_msg(rc == SN_ENOMEM && err.msg[0] != '\0', "n %d: rc %d '%s'", n, rc, err.msg);
        ck_assert(u.bodies == NULL && u.lens == NULL);
        ck_assert_int_eq(sn_alloc_live(), base);
    }
    ck_assert_int_eq(sn_alloc_live(), base);

    sync_checkpoint cp = log_checkpoint(&l, NCOMMITS);
    const uint8_t *bodies[NCOMMITS];
    size_t lens[NCOMMITS];
    for (int i = 0; i < NCOMMITS; i++) {
        bodies[i] = l.body[i + 1];
        lens[i] = l.len[i + 1];
    }
    for (int n = 0;; n++) {
        sn_buf b;
        sn_buf_init(&b, 1 << 16);
        sn_err err = SN_ERR_INIT;
        sn_fault_arm(SN_FAULT_ALLOC, n, 1);
        int rc = sync_unit_encode(1, bodies, lens, NCOMMITS, &cp, &b, &err);
        bool fired = sn_fault_disarm();
        if (!fired) {
            ck_assert_int_eq(rc, 0);
            ck_assert(b.len == ub.len && memcmp(b.data, ub.data, ub.len) == 0);
            sn_buf_free(&b);
            break;
        }
        ck_assert_msg(rc == SN_ENOMEM && err.msg[0] != '\0', "n %d: rc %d", n, rc);
        ck_assert_uint_eq(b.len, 0);
        sn_buf_free(&b);
        ck_assert_int_eq(sn_alloc_live(), base);
    }
    sn_buf_free(&ub);
}
END_TEST

/* ---- proofs of equivocation (sync/proof.h) --------------------------------------------- */

/* `l` signed a second history from seq `from` on (another body there, links after it). */
static void log_fork(const olog *l, uint64_t from, olog *out)
{
    *out = *l;
    out->body[from][0] ^= 0xff;
    if (out->len[from] == 0)
        out->len[from] = 1;
    for (uint64_t s = from; s <= NCOMMITS; s++)
        sync_chain_next(out->links[s], out->links[s - 1], out->body[s], out->len[s]);
}

/* A log `l` and a proof that its origin signed two histories from 5 on: side 1 from `l`
 * (commits 6..NCOMMITS under its last checkpoint), side 2 the other's checkpoint at 5 alone.
 * The caller wipes l->keys and frees `out`. */
static void proof_make(olog *l, sn_buf *out)
{
    sn_err err = SN_ERR_INIT;
    olog fork;
    log_init(l, 1);
    log_fork(l, 5, &fork);
    sn_buf_init(out, SYNC_PROOF_MAX);
    const uint8_t *bodies[NCOMMITS];
    size_t lens[NCOMMITS];
    for (int s = 6; s <= NCOMMITS; s++) {
        bodies[s - 6] = l->body[s];
        lens[s - 6] = l->len[s];
    }
    sync_checkpoint a = log_checkpoint(l, NCOMMITS), b = log_checkpoint(&fork, 5);
    ck_assert_int_eq(sync_proof_begin(5, out, &err), 0);
    ck_assert_int_eq(sync_proof_add_side(out, 5, l->links[5], &a, bodies, lens, &err), 0);
    ck_assert_int_eq(sync_proof_add_side(out, 5, fork.links[5], &b, NULL, NULL, &err), 0);
    sync_keys_wipe(&fork.keys);
}

static int proof_check(const uint8_t *p, size_t n, const uint8_t pk[SYNC_SIGN_PK_LEN],
                       sn_err *err)
{
    sync_proof pr;
    int rc = sync_proof_parse(p, n, &pr, err);
    uint8_t pks[2][SYNC_SIGN_PK_LEN];
    memcpy(pks[0], pk, SYNC_SIGN_PK_LEN);
    memcpy(pks[1], pk, SYNC_SIGN_PK_LEN);
    if (rc == 0)
        rc = sync_proof_verify(&pr, (const uint8_t(*)[SYNC_SIGN_PK_LEN])pks, err);
    sync_proof_free(&pr);
    return rc;
}

START_TEST(test_proof_round_trip_and_verify)
{
    olog l;
    sn_buf b;
    proof_make(&l, &b);
    sn_err err = SN_ERR_INIT;
    sync_proof pr;
    ck_assert_int_eq(sync_proof_parse(b.data, b.len, &pr, &err), 0);
    ck_assert_uint_eq(pr.seq, 5);
    ck_assert_uint_eq(pr.side[0].count, NCOMMITS - 5);
    ck_assert_uint_eq(pr.side[0].cp.seq, NCOMMITS);
    ck_assert_uint_eq(pr.side[1].count, 0);
    ck_assert_mem_eq(pr.side[1].link, pr.side[1].cp.link, SYNC_LINK_LEN);
    sync_proof_free(&pr);
    ck_assert_int_eq(proof_check(b.data, b.len, l.keys.sign_pk, &err), 0);
    /* Another key: refused, naming the side. */
    olog other;
    log_init(&other, 2);
    ck_assert_int_eq(proof_check(b.data, b.len, other.keys.sign_pk, &err), SN_EAUTH);
    ck_assert_msg(strstr(err.msg, "side 1") && strstr(err.msg, "signature"), "%s", err.msg);
    sync_keys_wipe(&other.keys);
    sync_keys_wipe(&l.keys);
    sn_buf_free(&b);
}
END_TEST

/* Every truncation, every flipped bit and each malformed field is refused with a message. */
START_TEST(test_proof_parse_is_strict)
{
    olog l;
    sn_buf b;
    proof_make(&l, &b);
    sn_err err = SN_ERR_INIT;
    for (size_t n = 0; n < b.len; n++) {
        sn_err_clear(&err);
        int rc = proof_check(b.data, n, l.keys.sign_pk, &err);
        ck_assert_msg(rc == SN_ECORRUPT && err.msg[0] != '\0', "cut at %zu: %d", n, rc);
    }
    for (size_t i = 0; i < b.len; i++) {
        b.data[i] ^= (uint8_t)(1u << (i % 8));
        sn_err_clear(&err);
        int rc = proof_check(b.data, b.len, l.keys.sign_pk, &err);
        ck_assert_msg(rc != 0 && strstr(err.msg, "proof") != NULL, "flip at %zu: %d %s", i, rc,
                      err.msg);
        b.data[i] ^= (uint8_t)(1u << (i % 8));
    }
    static const struct {
        size_t at;
        uint8_t v;
        int code;
        const char *needle;
    } cases[] = {
        {4, 2, SN_EVERSION, "version 2"},
        {5, 1, SN_ECORRUPT, "reserved"},
        {15, 0, SN_ECORRUPT, "seq 0"},
        {16 + 32 + 148, 0xff, SN_ECORRUPT, "before its checkpoint"}, /* side 1's count */
        {16 + 32 + 8 + 15, 9, SN_ECORRUPT, "different origins"},     /* side 1's replica */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sn_buf c;
        sn_buf_init(&c, SYNC_PROOF_MAX);
        ck_assert_int_eq(sn_buf_append(&c, b.data, b.len, &err), 0);
        if (cases[k].at == 15)
            memset(c.data + 8, 0, 8);
        c.data[cases[k].at] = cases[k].v;
        sn_err_clear(&err);
        int rc = proof_check(c.data, c.len, l.keys.sign_pk, &err);
        ck_assert_msg(rc == cases[k].code && strstr(err.msg, cases[k].needle) != NULL,
                      "case %zu: %d %s", k, rc, err.msg);
        sn_buf_free(&c);
    }
    /* A trailing byte; two sides that agree (it proves nothing). */
    ck_assert_int_eq(sn_buf_append(&b, "", 1, &err), 0);
    sn_err_clear(&err);
    ck_assert_int_eq(proof_check(b.data, b.len, l.keys.sign_pk, &err), SN_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "trailing") != NULL, "%s", err.msg);
    sn_buf same;
    sn_buf_init(&same, SYNC_PROOF_MAX);
    sync_checkpoint a = log_checkpoint(&l, 5);
    ck_assert_int_eq(sync_proof_begin(5, &same, &err), 0);
    for (int s = 0; s < 2; s++)
        ck_assert_int_eq(sync_proof_add_side(&same, 5, l.links[5], &a, NULL, NULL, &err), 0);
    sn_err_clear(&err);
    ck_assert_int_eq(proof_check(same.data, same.len, l.keys.sign_pk, &err), SN_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "proves nothing") != NULL, "%s", err.msg);
    /* A side cannot end before the proof's seq. */
    ck_assert_int_eq(sync_proof_add_side(&same, 6, l.links[6], &a, NULL, NULL, &err),
                     SN_EINVAL);
    sn_buf_free(&same);
    sync_keys_wipe(&l.keys);
    sn_buf_free(&b);
}
END_TEST

Suite *sync_unit_suite(void);
Suite *sync_unit_suite(void)
{
    Suite *s = suite_create("sync_unit_suite");
    TCase *tc = tcase_create("chain");
    tcase_add_test(tc, test_chain_matches_independent_blake2b);
    suite_add_tcase(s, tc);
    tc = tcase_create("checkpoint");
    tcase_add_test(tc, test_checkpoint_round_trip_and_verify);
    tcase_add_test(tc, test_checkpoint_parse_is_strict);
    tcase_add_test(tc, test_checkpoint_conflicts_only_on_same_origin_and_seq);
    suite_add_tcase(s, tc);
    tc = tcase_create("unit");
    tcase_add_test(tc, test_unit_round_trip_one_commit);
    tcase_add_test(tc, test_unit_round_trip_many_commits);
    tcase_add_test(tc, test_unit_recut_ranges_verify);
    tcase_add_test(tc, test_unit_range_must_end_at_checkpoint);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile");
    tcase_add_test(tc, test_unit_any_flipped_bit_is_refused);
    tcase_add_test(tc, test_unit_dropped_or_swapped_commit_is_refused);
    tcase_add_test(tc, test_unit_truncated_or_extended_is_refused);
    tcase_add_test(tc, test_unit_wrong_prev_link_or_key_is_refused);
    tcase_add_test(tc, test_unit_huge_count_is_refused_without_allocating);
    suite_add_tcase(s, tc);
    tc = tcase_create("proof");
    tcase_add_test(tc, test_proof_round_trip_and_verify);
    tcase_add_test(tc, test_proof_parse_is_strict);
    suite_add_tcase(s, tc);
    tc = tcase_create("faults");
    tcase_add_test(tc, test_unit_parse_and_encode_fault_loops);
    suite_add_tcase(s, tc);
    return s;
}
