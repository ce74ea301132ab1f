/* fuzz/fuzz_frame.c - the receiving side of the encrypted framing (sync/frame.c,
 * sync_rx_feed and sync_rx_eof), fed in pieces of varying size as libuv's partial reads
 * would deliver a stream.
 *
 * Input: mode u8 | split u8 | rest. split seeds the piece sizes (0: all bytes at once).
 *   mode even ("raw"): rest is the stream as received under the fixed key: the 24-byte
 *     header, then frames. Random bytes stop at the first frame's tag; the seeds, made by
 *     sync_tx, authenticate.
 *   mode odd ("sealed"): the harness is the sender, so frames authenticate and the fuzzer
 *     reaches what comes after: rest is records ctrl u8 | piece. ctrl & 3 is the chunk's
 *     tag (MESSAGE, PUSH, REKEY, FINAL); ctrl & 0x04 uses ctrl itself as the tag (unknown
 *     tags); ctrl & 0x08 flips one bit of the sealed frame; ctrl & 0x10 sends the piece
 *     raw instead of sealing it (lengths that lie, garbage between frames).
 * Checks: the documented results only; a dead receiver stays dead with the same code; it
 * never holds more than one frame plus one message; and when the sealed stream is clean
 * (no flips, raw bytes or odd tags) every message delivered is the one that was sent. */
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "sync/frame.h"

/* The messages a clean sealed stream carries, in order: type byte and body. */
typedef struct sent {
    sn_buf msgs[16];
    int n;          /* complete messages */
    bool clean;     /* no fault was injected: what arrives must be what was sent */
    sn_buf partial; /* the message being assembled */
} sent;

/* Append one sealed frame (len u16be | ct) of pt[0..n) with `tag` to `wire`. */
static void seal(sync_secretstream *ss, const uint8_t *pt, size_t n, uint8_t tag, sn_buf *wire)
{
    uint8_t len[2];
    sn_store_u16be(len, (uint16_t)(n + SYNC_SECRETSTREAM_ABYTES));
    sn_err err = SN_ERR_INIT;
    if (sn_buf_append(wire, len, 2, &err) != 0 ||
        sn_buf_reserve(wire, n + SYNC_SECRETSTREAM_ABYTES, &err) != 0)
        fuzz_fail("growing the sealed stream: %s", err.msg);
    sync_secretstream_push(ss, wire->data + wire->len, pt, n, len, 2, tag);
    wire->len += n + SYNC_SECRETSTREAM_ABYTES;
}

/* Note a clean chunk in `s`: a PUSH or FINAL completes a message. */
static void expect_chunk(sent *s, const uint8_t *pt, size_t n, uint8_t tag)
{
    sn_err err = SN_ERR_INIT;
    if (sn_buf_append(&s->partial, pt, n, &err) != 0)
        fuzz_fail("noting a chunk: %s", err.msg);
    if (tag == SYNC_SECRETSTREAM_TAG_MESSAGE)
        return;
    if (s->n == (int)(sizeof s->msgs / sizeof s->msgs[0])) {
        s->clean = false; /* too many to follow; still fuzzed, no longer compared */
        return;
    }
    s->msgs[s->n++] = s->partial;
    sn_buf_init(&s->partial, SYNC_MESSAGE_MAX);
}

/* Build the stream a sealed-mode input describes into `wire`. */
static void build_sealed(fuzz_in *in, sn_buf *wire, sent *s)
{
    sync_secretstream ss;
    uint8_t header[SYNC_STREAM_HEADER_LEN];
    sync_secretstream_init_push(&ss, header, fuzz_keys()->stream_key);
    sn_err err = SN_ERR_INIT;
    if (sn_buf_append(wire, header, sizeof header, &err) != 0)
        fuzz_fail("%s", err.msg);
    while (in->n > 0) {
        uint8_t ctrl = fuzz_u8(in);
        const uint8_t *p;
        size_t n;
        fuzz_piece(in, &p, &n);
        if (ctrl & 0x10) {
            s->clean = false;
            if (sn_buf_append(wire, p, n, &err) != 0)
                fuzz_fail("%s", err.msg);
            continue;
        }
        if (n > SYNC_FRAME_PT_MAX)
            n = SYNC_FRAME_PT_MAX;
        uint8_t tag = (ctrl & 0x04) ? ctrl : (uint8_t)(ctrl & 3);
        size_t at = wire->len;
        seal(&ss, p, n, tag, wire);
        if (tag > SYNC_SECRETSTREAM_TAG_PUSH && tag != SYNC_SECRETSTREAM_TAG_FINAL)
            s->clean = false;
        if (ctrl & 0x08) {
            size_t off = at + (size_t)ctrl % (wire->len - at);
            wire->data[off] ^= (uint8_t)(1u << (ctrl >> 5));
            s->clean = false;
        }
        if (s->clean)
            expect_chunk(s, p, n, tag);
    }
    sync_secretstream_wipe(&ss);
}

/* A deterministic piece size for the next feed. */
static size_t next_piece(uint32_t *state, size_t left)
{
    static const uint32_t scale[] = {1, 3, 24, 300, 70000};
    if (*state == 0)
        return left;
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    size_t k = 1 + *state % scale[(*state >> 8) % 5];
    return k < left ? k : left;
}

static void check_delivered(sent *s, int *got, const sync_msg *m)
{
    if (m->len + 1 > SYNC_MESSAGE_MAX)
        fuzz_fail("a message of %zu bytes was delivered", m->len + 1);
    if (!s->clean)
        return;
    if (*got >= s->n)
        fuzz_fail("message %d was delivered but only %d were sent", *got + 1, s->n);
    const sn_buf *w = &s->msgs[(*got)++];
    if (w->len == 0 || m->type != w->data[0])
        fuzz_fail("message %d: type %u delivered, not the one sent", *got, m->type);
    fuzz_check_same(w->data + 1, w->len - 1, m->body, m->len, "a delivered message's body");
}

/* Feed wire[0..n) to a fresh receiver and check what it says; the end of the bytes is EOF. */
static void receive(const uint8_t *wire, size_t n, uint32_t split, sent *s)
{
    sync_rx rx;
    sync_rx_init(&rx, fuzz_keys()->stream_key);
    sn_err err = SN_ERR_INIT;
    int rc = 0, got = 0;
    for (size_t off = 0; off < n && rc >= 0;) {
        size_t k = next_piece(&split, n - off), used = SIZE_MAX;
        sync_msg m;
        sn_err_clear(&err);
        rc = sync_rx_feed(&rx, wire + off, k, &used, &m, &err);
        fuzz_check_err(rc, &err, "sync_rx_feed");
        if (sync_rx_memory(&rx) > SYNC_FRAME_LEN_MAX + SYNC_MESSAGE_MAX)
            fuzz_fail("the receiver holds %zu bytes", sync_rx_memory(&rx));
        if (rc < 0)
            break;
        if (used > k || (rc == 0 && used != k))
            fuzz_fail("sync_rx_feed returned %d having used %zu of %zu bytes", rc, used, k);
        off += used;
        if (rc == 1)
            check_delivered(s, &got, &m);
    }
    if (rc < 0) {
        if (s->clean && rc == SN_EAUTH)
            fuzz_fail("a clean sealed stream failed to authenticate: %s", err.msg);
        int first = rc;
        size_t used;
        sync_msg m;
        sn_err_clear(&err);
        rc = sync_rx_feed(&rx, wire, n, &used, &m, &err);
        if (rc != first || err.msg[0] == '\0')
            fuzz_fail("a dead receiver returned %d after %d", rc, first);
    }
    sn_err_clear(&err);
    int eof = sync_rx_eof(&rx, &err);
    fuzz_check_err(eof, &err, "sync_rx_eof");
    if (eof == 0 && !sync_rx_is_final(&rx))
        fuzz_fail("sync_rx_eof accepted a stream that did not end with TAG_FINAL");
    sync_rx_free(&rx);
}

static void run_raw(fuzz_in *in)
{
    uint32_t split = fuzz_u8(in);
    sent s = {.clean = false};
    receive(in->p, in->n, split, &s);
}

static void run_sealed(fuzz_in *in)
{
    uint32_t split = fuzz_u8(in);
    sent s = {.clean = true};
    sn_buf_init(&s.partial, SYNC_MESSAGE_MAX);
    sn_buf wire;
    sn_buf_init(&wire, (size_t)16 << 20);
    build_sealed(in, &wire, &s);
    receive(wire.data, wire.len, split, &s);
    sn_buf_free(&wire);
    for (int i = 0; i < s.n; i++)
        sn_buf_free(&s.msgs[i]);
    sn_buf_free(&s.partial);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_mode modes[] = {run_raw, run_sealed};
    return fuzz_run(data, size, modes, 2, "fuzz_frame");
}
