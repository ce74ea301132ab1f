/* tests/check_sync_frame.c - encrypted framing over secretstream: round trips at the size
 * boundaries under every split, and a hostile peer (flipped bits, replayed, swapped, dropped
 * frames, short lengths, endless messages, odd tags, truncation, wrong keys). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "sync/crypto_stream.h"
#include "sync/frame.h"
#include "tests/support.h"

/* ck_assert marks a point (a pipe write in fork mode) even when it passes: far too slow for
 * loops of millions of feeds. This one costs nothing unless it fails. */
#define CHECK(cond, ...) do { if (!(cond)) ck_abort_msg(__VA_ARGS__); } while (0)

#define MIB (1u << 20)
#define MAXWANT 16

static const uint8_t key_a[SYNC_KEY_LEN] = {0xa1, 0xa2, 0xa3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static const uint8_t key_b[SYNC_KEY_LEN] = {0xb1, 0xb2, 0xb3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static long live_at_start;
static void fx_setup(void) { live_at_start = sn_alloc_live(); }
static void fx_teardown(void) { ck_assert_int_eq(sn_alloc_live(), live_at_start); }

/* A message the receiver must deliver, and the wire offset just past its last frame. */
typedef struct want {
    uint8_t type;
    const uint8_t *body;
    size_t len;
    bool final;
    size_t end;
} want;

/* One direction's bytes as a sender produced them, and what they hold. */
typedef struct stream {
    sync_tx tx;
    sn_buf wire;
    want w[MAXWANT];
    int n;
} stream;

static void stream_start(stream *s, const uint8_t key[SYNC_KEY_LEN])
{
    uint8_t header[SYNC_STREAM_HEADER_LEN];
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(sync_tx_init(&s->tx, key, header, &err), 0);
    sn_buf_init(&s->wire, 64 * MIB);
    ck_assert_int_eq(sn_buf_append(&s->wire, header, sizeof header, &err), 0);
    s->n = 0;
}

static void stream_add(stream *s, uint8_t type, const uint8_t *body, size_t len, size_t chunk,
                       bool final)
{
    sn_err err = SN_ERR_INIT;
    int rc = final ? sync_tx_final(&s->tx, type, body, len, &s->wire, &err)
                   : sync_tx_message(&s->tx, type, body, len, chunk, &s->wire, &err);
    ck_assert_msg(rc == 0, "send %zu bytes: %s", len, err.msg);
    ck_assert_int_lt(s->n, MAXWANT);
    s->w[s->n++] = (want){type, body, len, final, s->wire.len};
}

static void stream_free(stream *s)
{
    sync_tx_wipe(&s->tx);
    sn_buf_free(&s->wire);
}

static uint8_t *pattern(size_t n, uint64_t seed)
{
    uint8_t *p = sn_malloc(n > 0 ? n : 1);
    ck_assert_ptr_nonnull(p);
    test_rng r;
    test_rng_seed(&r, seed);
    test_rng_bytes(&r, p, n);
    return p;
}

typedef enum split { SPLIT_WHOLE, SPLIT_ONE, SPLIT_RANDOM } split;

/* Piece sizes from tiny to larger than a frame, so boundaries land everywhere. */
static size_t piece(split mode, test_rng *r)
{
    static const uint32_t scale[] = {4, 40, 700, 70000, 300000};
    if (mode == SPLIT_ONE)
        return 1;
    if (mode == SPLIT_WHOLE)
        return SIZE_MAX;
    return 1 + test_rng_below(r, scale[test_rng_below(r, 5)]);
}

typedef struct fed {
    int rc;      /* the first error from a feed, else what sync_rx_eof said */
    int got;     /* messages delivered, each checked against the wants */
    size_t peak; /* highest sync_rx_memory seen while feeding */
    size_t mem;  /* sync_rx_memory after the last feed */
    bool final;  /* sync_rx_is_final after the last feed */
    sn_err err;  /* the first error's message */
} fed;

/* Feed p[0, n) to rx in pieces, checking each delivered message against `w` (its bytes and
 * where it ended). Returns 0 when all bytes were consumed, else the first error code. */
static int feed(sync_rx *rx, const uint8_t *p, size_t n, split mode, uint64_t seed,
                const want *w, int nw, fed *f)
{
    unsigned long long sd = seed;
    test_rng r;
    test_rng_seed(&r, seed);
    *f = (fed){.peak = sync_rx_memory(rx)};
    for (size_t off = 0, end; off < n;) {
        size_t k = piece(mode, &r);
        end = off + (k < n - off ? k : n - off);
        while (off < end) {
            size_t used = SIZE_MAX;
            sync_msg m;
            int rc = sync_rx_feed(rx, p + off, end - off, &used, &m, &f->err);
            size_t mem = sync_rx_memory(rx);
            f->peak = mem > f->peak ? mem : f->peak;
            if (rc < 0)
                return rc;
            CHECK(used <= end - off, "seed %llu: used %zu of %zu", sd, used, end - off);
            off += used;
            CHECK(rc == 1 || off == end, "seed %llu: returned %d with bytes left", sd, rc);
            if (rc == 0)
                continue;
            CHECK(f->got < nw, "seed %llu: unexpected message %d (type %u, %zu bytes)", sd,
                  f->got, m.type, m.len);
            const want *x = &w[f->got++];
            CHECK(m.type == x->type && m.len == x->len && m.final == x->final,
                  "seed %llu msg %d: type %u len %zu final %d", sd, f->got, m.type, m.len,
                  m.final);
            CHECK(m.len == 0 || memcmp(m.body, x->body, m.len) == 0, "seed %llu msg %d: body",
                  sd, f->got);
            CHECK(off == x->end, "seed %llu msg %d: ended at %zu, not %zu", sd, f->got, off,
                  x->end);
        }
    }
    return 0;
}

/* A fresh receiver under `key` is fed p[0, n), then told EOF. After any error it must stay
 * dead (same code again) and hold no memory. */
static fed run(const uint8_t key[SYNC_KEY_LEN], const uint8_t *p, size_t n, split mode,
               uint64_t seed, const want *w, int nw)
{
    sync_rx rx;
    sync_rx_init(&rx, key);
    fed f;
    int rc = feed(&rx, p, n, mode, seed, w, nw, &f);
    f.mem = sync_rx_memory(&rx);
    f.final = sync_rx_is_final(&rx);
    f.rc = rc != 0 ? rc : sync_rx_eof(&rx, &f.err);
    if (f.rc != 0) {
        size_t used;
        sync_msg m;
        CHECK(sync_rx_feed(&rx, p, n, &used, &m, NULL) == f.rc, "dead rx answered differently");
        CHECK(sync_rx_eof(&rx, NULL) == f.rc, "dead rx eof answered differently");
        CHECK(sync_rx_memory(&rx) == 0, "dead rx holds memory");
    }
    sync_rx_free(&rx);
    sync_rx_free(&rx);
    return f;
}

/* The frame boundaries of a stream: offsets of each frame's first byte, and its size. */
static int frames_of(const sn_buf *wire, size_t *at, size_t *size, int max)
{
    int n = 0;
    for (size_t o = SYNC_STREAM_HEADER_LEN; o < wire->len; n++) {
        ck_assert_int_lt(n, max);
        at[n] = o;
        size[n] = 2 + sn_load_u16be(wire->data + o);
        o += size[n];
    }
    return n;
}

/* ---- round trips ---- */

static const size_t sizes[] = {0, 1, 65517, 65518, 65519, 200000, 8 * MIB - 1};

START_TEST(test_frame_round_trip_sizes)
{
    size_t len = sizes[_i];
    uint8_t *body = pattern(len, (uint64_t)_i);
    stream s;
    stream_start(&s, key_a);
    stream_add(&s, 0x02, body, len, 0, false);
    stream_add(&s, 0x7F, (const uint8_t *)"bye", 3, 0, true);
    for (int i = 0; i < 5; i++) {
        uint64_t seed = (uint64_t)_i * 100 + (uint64_t)i;
        fed f = run(key_a, s.wire.data, s.wire.len, i < 2 ? (split)i : SPLIT_RANDOM, seed, s.w,
                    s.n);
        ck_assert_msg(f.rc == 0 && f.got == 2 && f.final, "size %zu seed %llu: %d %s", len,
                      (unsigned long long)seed, f.rc, f.err.msg);
        /* Buffers grow with what arrived (sn_buf doubles), never to a claimed size... */
        size_t fbound = 2 * s.wire.len < SYNC_FRAME_LEN_MAX ? 2 * s.wire.len : SYNC_FRAME_LEN_MAX;
        ck_assert_uint_le(f.peak, fbound + 2 * (1 + len) + 128);
        ck_assert_uint_le(f.peak, SYNC_MESSAGE_MAX + SYNC_FRAME_LEN_MAX);
        /* ...and a big message's buffer is let go once the next message arrived. */
        ck_assert_uint_le(f.mem, SYNC_FRAME_LEN_MAX + 128);
    }
    stream_free(&s);
    sn_free(body);
}
END_TEST

START_TEST(test_frame_back_to_back_in_one_feed)
{
    uint8_t *big = pattern(100000, 7);
    stream s;
    stream_start(&s, key_a);
    stream_add(&s, 0x05, NULL, 0, 0, false);
    stream_add(&s, 0x02, big, 100000, 0, false);
    stream_add(&s, 0x03, big + 5, 8, 3, false);     /* 3 frames of at most 3 bytes */
    stream_add(&s, 0x04, big + 50, 1000, 7, false); /* 143 frames */
    stream_add(&s, 0x01, big + 9, 65517, 0, false);
    stream_add(&s, 0x7F, big, 2, 0, true);
    for (int i = 0; i < 4; i++) {
        fed f = run(key_a, s.wire.data, s.wire.len, i == 0 ? SPLIT_WHOLE : SPLIT_RANDOM,
                    (uint64_t)i, s.w, s.n);
        ck_assert_msg(f.rc == 0 && f.got == s.n, "run %d: %d %s", i, f.rc, f.err.msg);
    }
    stream_free(&s);
    sn_free(big);
}
END_TEST

START_TEST(test_frame_overhead)
{
    /* 60 KiB: one frame at the default chunk, 16 frames at 4 KiB chunks. */
    static const size_t chunks[] = {0, 4096}, frames[] = {1, 16};
    size_t len = 60 * 1024;
    uint8_t *body = pattern(len, 3);
    for (int i = 0; i < 2; i++) {
        stream s;
        stream_start(&s, key_a);
        stream_add(&s, 0x02, body, len, chunks[i], false);
        ck_assert_uint_eq(s.wire.len, 24 + 19 * frames[i] + 1 + len);
        ck_assert_uint_eq(s.tx.frames, frames[i]);
        stream_free(&s);
    }
    sn_free(body);
}
END_TEST

START_TEST(test_frame_tx_refuses_too_big)
{
    uint8_t *body = pattern(SYNC_MESSAGE_MAX, 5);
    stream s;
    stream_start(&s, key_a);
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(sync_tx_message(&s.tx, 2, body, SYNC_MESSAGE_MAX, 0, &s.wire, &err),
                     SN_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "exceeds the limit"));
    ck_assert_int_eq(sync_tx_final(&s.tx, 2, body, SYNC_MESSAGE_MAX, &s.wire, NULL), SN_ETOOBIG);
    ck_assert_uint_eq(s.wire.len, SYNC_STREAM_HEADER_LEN);
    /* out's own limit: 9 frames of 28 bytes, of which seven would fit; none are written. */
    sn_buf small;
    sn_buf_init(&small, 200);
    ck_assert_int_eq(sn_buf_append(&small, "xyz", 3, NULL), 0);
    ck_assert_int_eq(sync_tx_message(&s.tx, 2, body, 80, 9, &small, NULL), SN_ETOOBIG);
    ck_assert_uint_eq(small.len, 3);
    ck_assert_mem_eq(small.data, "xyz", 3);
    sn_buf_free(&small);
    /* The stream did not move: the largest message still goes, read from frame 1 on. */
    ck_assert_uint_eq(s.tx.frames, 0);
    stream_add(&s, 2, body, SYNC_MESSAGE_MAX - 1, 0, true);
    fed f = run(key_a, s.wire.data, s.wire.len, SPLIT_WHOLE, 0, s.w, s.n);
    ck_assert_msg(f.rc == 0 && f.got == 1, "%s", f.err.msg);
    /* Nothing after final, nothing after wipe. */
    ck_assert_int_eq(sync_tx_message(&s.tx, 5, NULL, 0, 0, &s.wire, NULL), SN_EINVAL);
    ck_assert_int_eq(sync_tx_final(&s.tx, 5, NULL, 0, &s.wire, NULL), SN_EINVAL);
    sync_tx tx;
    uint8_t header[SYNC_STREAM_HEADER_LEN];
    ck_assert_int_eq(sync_tx_init(&tx, key_a, header, NULL), 0);
    sync_tx_wipe(&tx);
    sync_tx_wipe(&tx);
    ck_assert_int_eq(sync_tx_message(&tx, 5, NULL, 0, 0, &s.wire, NULL), SN_EINVAL);
    stream_free(&s);
    sn_free(body);
}
END_TEST

/* ---- a hostile peer ---- */

START_TEST(test_frame_every_bit_flip_refused)
{
    stream s;
    stream_start(&s, key_a);
    stream_add(&s, 0x03, (const uint8_t *)"ack:12345", 9, 0, false);
    size_t at[4], size[4];
    ck_assert_int_eq(frames_of(&s.wire, at, size, 4), 1);
    for (size_t bit = 0; bit < size[0] * 8; bit++) {
        uint8_t w[64];
        memcpy(w, s.wire.data, s.wire.len);
        w[at[0] + bit / 8] ^= (uint8_t)(1u << (bit % 8));
        for (int mode = 0; mode < 2; mode++) {
            /* Nothing may be delivered (no wants), and something must refuse. */
            fed f = run(key_a, w, s.wire.len, (split)mode, 0, NULL, 0);
            ck_assert_msg(f.rc == SN_EAUTH || f.rc == SN_EPROTO, "bit %zu: %d", bit, f.rc);
            ck_assert_msg(bit < 16 || strstr(f.err.msg, "frame 1 failed to authenticate"),
                          "bit %zu: %s", bit, f.err.msg);
        }
    }
    stream_free(&s);
}
END_TEST

START_TEST(test_frame_damaged_header_or_other_key_refused)
{
    stream s;
    stream_start(&s, key_a);
    stream_add(&s, 0x05, NULL, 0, 0, false);
    stream_add(&s, 0x7F, NULL, 0, 0, true);
    fed f = run(key_b, s.wire.data, s.wire.len, SPLIT_WHOLE, 0, NULL, 0);
    ck_assert_int_eq(f.rc, SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(f.err.msg, "frame 1 failed to authenticate"));
    for (size_t bit = 0; bit < SYNC_STREAM_HEADER_LEN * 8; bit++) {
        s.wire.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        f = run(key_a, s.wire.data, s.wire.len, SPLIT_WHOLE, 0, NULL, 0);
        ck_assert_msg(f.rc == SN_EAUTH, "header bit %zu: %s", bit, f.err.msg);
        s.wire.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    stream_free(&s);
}
END_TEST

START_TEST(test_frame_replay_swap_drop_refused)
{
    static const int cases[][8] = {
        {0, 1, 2, 3, 4, 5, -1},    /* as sent: accepted */
        {0, 1, 1, 2, 3, 4, 5, -1}, /* frame 2 replayed */
        {0, 0, 1, 2, 3, 4, 5, -1}, /* frame 1 replayed */
        {0, 2, 1, 3, 4, 5, -1},    /* two swapped */
        {0, 1, 3, 4, 5, -1},       /* one dropped */
        {1, 2, 3, 4, 5, -1},       /* the first dropped */
        {0, 1, 2, 3, 5, -1},       /* the one ending the message dropped */
    };
    uint8_t body[40];
    memset(body, 0x5a, sizeof body);
    stream s;
    stream_start(&s, key_a);
    stream_add(&s, 0x02, body, sizeof body, 9, false); /* frames 0-4 */
    stream_add(&s, 0x7F, NULL, 0, 0, true);            /* frame 5 */
    size_t at[8], size[8];
    ck_assert_int_eq(frames_of(&s.wire, at, size, 8), 6);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t w[512];
        memcpy(w, s.wire.data, SYNC_STREAM_HEADER_LEN);
        size_t n = SYNC_STREAM_HEADER_LEN;
        for (int i = 0; cases[c][i] >= 0; n += size[cases[c][i++]])
            memcpy(w + n, s.wire.data + at[cases[c][i]], size[cases[c][i]]);
        fed f = run(key_a, w, n, SPLIT_WHOLE, 0, s.w, c == 0 ? s.n : 0);
        if (c == 0) {
            ck_assert_msg(n == s.wire.len && f.rc == 0 && f.got == 2, "%s", f.err.msg);
            continue;
        }
        ck_assert_msg(f.rc == SN_EAUTH && strstr(f.err.msg, "failed to authenticate"),
                      "case %zu: %s", c, f.err.msg);
    }
    stream_free(&s);
}
END_TEST

START_TEST(test_frame_short_length_refused_before_allocation)
{
    uint8_t w[SYNC_STREAM_HEADER_LEN + 2 + 40];
    sync_tx tx;
    ck_assert_int_eq(sync_tx_init(&tx, key_a, w, NULL), 0);
    sync_tx_wipe(&tx);
    memset(w + SYNC_STREAM_HEADER_LEN, 0xee, sizeof w - SYNC_STREAM_HEADER_LEN);
    for (unsigned len = 0; len < SYNC_FRAME_LEN_MIN; len++) {
        sn_store_u16be(w + SYNC_STREAM_HEADER_LEN, (uint16_t)len);
        char says[80];
        snprintf(says, sizeof says, "frame length %u is below the minimum 17", len);
        for (int mode = 0; mode < 2; mode++) {
            /* Every allocation would fail: a receiver that sized anything first says ENOMEM. */
            sn_fault_arm(SN_FAULT_ALLOC, 0, -1);
            fed f = run(key_a, w, sizeof w, (split)mode, 0, NULL, 0);
            ck_assert_msg(!sn_fault_disarm(), "len %u: something was allocated", len);
            ck_assert_msg(f.rc == SN_EPROTO && strstr(f.err.msg, says), "len %u: %d %s", len,
                          f.rc, f.err.msg);
            ck_assert_uint_eq(f.peak, 0);
        }
    }
}
END_TEST

/* A keyed but hostile sender: raw secretstream chunks with any tag, any length. */
static void raw_frame(sync_secretstream *ss, sn_buf *wire, const uint8_t *pt, size_t n,
                      uint8_t tag)
{
    ck_assert_int_eq(sn_buf_reserve(wire, n + 19, NULL), 0);
    uint8_t *w = wire->data + wire->len;
    sn_store_u16be(w, (uint16_t)(n + 17));
    sync_secretstream_push(ss, w + 2, pt, n, w, 2, tag);
    wire->len += n + 19;
}

static void raw_start(sync_secretstream *ss, sn_buf *wire)
{
    uint8_t header[SYNC_STREAM_HEADER_LEN];
    sync_secretstream_init_push(ss, header, key_a);
    sn_buf_init(wire, MIB);
    ck_assert_int_eq(sn_buf_append(wire, header, sizeof header, NULL), 0);
}

START_TEST(test_frame_endless_message_refused_within_bound)
{
    static uint8_t chunk[SYNC_FRAME_PT_MAX];
    memset(chunk, 0x42, sizeof chunk);
    sync_secretstream ss;
    sn_buf wire;
    raw_start(&ss, &wire);
    sync_rx rx;
    sync_rx_init(&rx, key_a);
    size_t peak = 0;
    int rc = 0;
    unsigned frames = 0;
    for (; frames < 200 && rc == 0; frames++) {
        if (frames > 0) /* the header goes in front of the first frame only */
            sn_buf_reset(&wire);
        raw_frame(&ss, &wire, chunk, sizeof chunk, SYNC_SECRETSTREAM_TAG_MESSAGE);
        fed f;
        rc = feed(&rx, wire.data, wire.len, frames % 2 ? SPLIT_RANDOM : SPLIT_WHOLE, frames,
                  NULL, 0, &f);
        peak = f.peak > peak ? f.peak : peak;
        ck_assert_msg(rc == 0 || strstr(f.err.msg, "past the limit"), "%s", f.err.msg);
    }
    ck_assert_int_eq(rc, SN_EPROTO);
    /* 128 chunks fit in 8 MiB, the 129th does not; memory stayed under 8 MiB + a frame. */
    ck_assert_uint_eq(frames, SYNC_MESSAGE_MAX / SYNC_FRAME_PT_MAX + 1);
    ck_assert_uint_le(peak, SYNC_MESSAGE_MAX + SYNC_FRAME_LEN_MAX);
    ck_assert_uint_ge(peak, (SYNC_MESSAGE_MAX / SYNC_FRAME_PT_MAX) * SYNC_FRAME_PT_MAX);
    ck_assert_uint_eq(sync_rx_memory(&rx), 0);
    sync_rx_free(&rx);
    sync_secretstream_wipe(&ss);
    sn_buf_free(&wire);
}
END_TEST

START_TEST(test_frame_odd_tags_and_empty_first_chunk_refused)
{
    static const struct {
        uint8_t tag;
        size_t len;
        const char *says;
    } cases[] = {
        {SYNC_SECRETSTREAM_TAG_REKEY, 4, "TAG_REKEY"},
        {0x80, 4, "unknown tag 0x80"},
        {0x10 | SYNC_SECRETSTREAM_TAG_PUSH, 4, "unknown tag 0x11"},
        {SYNC_SECRETSTREAM_TAG_PUSH, 0, "empty chunk"},
        {SYNC_SECRETSTREAM_TAG_FINAL, 0, "empty chunk"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        /* A good message first (delivered), then the bad frame. */
        sync_secretstream ss;
        sn_buf wire;
        raw_start(&ss, &wire);
        raw_frame(&ss, &wire, (const uint8_t *)"\x05", 1, SYNC_SECRETSTREAM_TAG_PUSH);
        want w = {.type = 5, .end = wire.len};
        raw_frame(&ss, &wire, (const uint8_t *)"\x02zzz", cases[c].len, cases[c].tag);
        fed f = run(key_a, wire.data, wire.len, SPLIT_WHOLE, 0, &w, 1);
        ck_assert_msg(f.rc == SN_EPROTO && f.got == 1 && strstr(f.err.msg, cases[c].says),
                      "case %zu: %d %s", c, f.rc, f.err.msg);
        sync_secretstream_wipe(&ss);
        sn_buf_free(&wire);
    }
}
END_TEST

START_TEST(test_frame_alloc_faults)
{
    uint8_t *body = pattern(20000, 11);
    stream s;
    stream_start(&s, key_a);
    stream_add(&s, 0x02, body, 20000, 3000, false); /* 7 frames */
    stream_add(&s, 0x7F, NULL, 0, 0, true);
    /* Receiving: each allocation in turn fails: ENOMEM with a message, dead, no leak. */
    for (long n = 0;; n++) {
        sn_fault_arm(SN_FAULT_ALLOC, n, 1);
        fed f = run(key_a, s.wire.data, s.wire.len, SPLIT_RANDOM, (uint64_t)n, s.w, s.n);
        if (!sn_fault_disarm()) {
            ck_assert_msg(f.rc == 0 && f.got == 2, "pass %ld: %s", n, f.err.msg);
            break;
        }
        ck_assert_msg(f.rc == SN_ENOMEM && f.got == 0 && strstr(f.err.msg, "receiving frame"),
                      "pass %ld: %d %s", n, f.rc, f.err.msg);
    }
    /* Sending (the first chunk is copied to the heap above 4 KiB): out and stream unchanged. */
    for (long n = 0;; n++) {
        sync_tx tx;
        uint8_t header[SYNC_STREAM_HEADER_LEN];
        ck_assert_int_eq(sync_tx_init(&tx, key_a, header, NULL), 0);
        sn_buf out;
        sn_buf_init(&out, MIB);
        ck_assert_int_eq(sn_buf_append(&out, "abc", 3, NULL), 0);
        sn_err err = SN_ERR_INIT;
        sn_fault_arm(SN_FAULT_ALLOC, n, 1);
        int rc = sync_tx_message(&tx, 2, body, 20000, 0, &out, &err);
        bool fired = sn_fault_disarm();
        ck_assert_msg(fired ? rc == SN_ENOMEM && err.msg[0] && out.len == 3 && tx.frames == 0
                            : rc == 0 && tx.frames == 1,
                      "pass %ld: %d %s", n, rc, err.msg);
        sync_tx_wipe(&tx);
        sn_buf_free(&out);
        if (!fired)
            break;
    }
    stream_free(&s);
    sn_free(body);
}
END_TEST

/* ---- the end of the stream ---- */

START_TEST(test_frame_truncation_drops_partial_message)
{
    uint8_t body[300];
    memset(body, 0x33, sizeof body);
    stream s;
    stream_start(&s, key_a);
    stream_add(&s, 0x05, NULL, 0, 0, false);
    stream_add(&s, 0x02, body, sizeof body, 100, false); /* 4 frames */
    size_t at[8], size[8];
    ck_assert_int_eq(frames_of(&s.wire, at, size, 8), 5);
    /* Cut everywhere from the stream's start to one byte short of message 1's end; the
     * whole stream (no final) is truncated too. */
    for (size_t cut = 0; cut <= s.wire.len; cut++) {
        for (int mode = 0; mode < 2; mode++) {
            fed f = run(key_a, s.wire.data, cut, (split)mode, cut, s.w, s.n);
            ck_assert_msg(f.rc == SN_EPROTO && strstr(f.err.msg, "stream truncated"),
                          "cut %zu: %d %s", cut, f.rc, f.err.msg);
            ck_assert_int_eq(f.got, (cut >= s.w[0].end) + (cut == s.wire.len));
            if (cut == at[4]) /* three chunks of 100 decrypted: 1 type + 299 body bytes */
                ck_assert_msg(strstr(f.err.msg, "300 bytes of a partial message"), "%s",
                              f.err.msg);
        }
    }
    stream_free(&s);
}
END_TEST

START_TEST(test_frame_final_then_eof_or_more_bytes)
{
    stream s;
    stream_start(&s, key_a);
    stream_add(&s, 0x05, NULL, 0, 0, false);
    stream_add(&s, 0x7F, (const uint8_t *)"\x00" "done", 5, 0, true);
    fed f = run(key_a, s.wire.data, s.wire.len, SPLIT_ONE, 0, s.w, s.n);
    ck_assert_msg(f.rc == 0 && f.final, "%s", f.err.msg); /* eof after final: fine */

    /* Bytes after final, in the same feed: the final message is delivered, the rest refused. */
    ck_assert_int_eq(sn_buf_append(&s.wire, "\x00\x20junk", 6, NULL), 0);
    sync_rx rx;
    sync_rx_init(&rx, key_a);
    size_t used, off = 0;
    sync_msg m;
    ck_assert_int_eq(sync_rx_feed(&rx, s.wire.data, s.wire.len, &used, &m, NULL), 1);
    off += used;
    ck_assert_int_eq(sync_rx_feed(&rx, s.wire.data + off, s.wire.len - off, &used, &m, NULL), 1);
    off += used;
    ck_assert(m.final && m.type == 0x7F && m.len == 5 && sync_rx_is_final(&rx));
    ck_assert_uint_eq(off, s.wire.len - 6);
    ck_assert_int_eq(sync_rx_feed(&rx, NULL, 0, &used, &m, NULL), 0); /* nothing is fine */
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(sync_rx_feed(&rx, s.wire.data + off, 6, &used, &m, &err), SN_EPROTO);
    ck_assert_ptr_nonnull(strstr(err.msg, "6 bytes arrived after the stream's final message"));
    ck_assert_int_eq(sync_rx_eof(&rx, NULL), SN_EPROTO);
    sync_rx_free(&rx);
    stream_free(&s);
}
END_TEST

Suite *sync_frame_suite(void);

Suite *sync_frame_suite(void)
{
    Suite *s = suite_create("sync_frame_suite");
    TCase *rt = tcase_create("round_trip");
    tcase_add_checked_fixture(rt, fx_setup, fx_teardown);
    tcase_set_timeout(rt, 300);
    tcase_add_loop_test(rt, test_frame_round_trip_sizes, 0, (int)(sizeof sizes / sizeof *sizes));
    tcase_add_test(rt, test_frame_back_to_back_in_one_feed);
    tcase_add_test(rt, test_frame_overhead);
    tcase_add_test(rt, test_frame_tx_refuses_too_big);
    suite_add_tcase(s, rt);

    TCase *h = tcase_create("hostile");
    tcase_add_checked_fixture(h, fx_setup, fx_teardown);
    tcase_set_timeout(h, 120);
    tcase_add_test(h, test_frame_every_bit_flip_refused);
    tcase_add_test(h, test_frame_damaged_header_or_other_key_refused);
    tcase_add_test(h, test_frame_replay_swap_drop_refused);
    tcase_add_test(h, test_frame_short_length_refused_before_allocation);
    tcase_add_test(h, test_frame_endless_message_refused_within_bound);
    tcase_add_test(h, test_frame_odd_tags_and_empty_first_chunk_refused);
    tcase_add_test(h, test_frame_alloc_faults);
    tcase_add_test(h, test_frame_truncation_drops_partial_message);
    tcase_add_test(h, test_frame_final_then_eof_or_more_bytes);
    suite_add_tcase(s, h);
    return s;
}
