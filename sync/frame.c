/* sync/frame.c - encrypted, authenticated framing over secretstream (SECURITY.md §2.4).
 *
 * Each direction of a connection is one secretstream under its own key. On the wire:
 *
 *   STREAM  OFFSET  SIZE  MEANING
 *           0       24    secretstream header, in clear (sender's random nonce material)
 *           24      ..    frames, back to back, until the one tagged TAG_FINAL
 *
 *   FRAME   OFFSET  SIZE  MEANING
 *           0       2     len u16be = |ct|, 17 <= len <= 65535; also the chunk's AD
 *           2       1     tag, encrypted (MESSAGE 0x00, PUSH 0x01, FINAL 0x03)
 *           3       len-17  plaintext chunk, encrypted (XChaCha20)
 *           len-14  16    Poly1305 MAC over AD, tag and ciphertext
 *
 *   MESSAGE (the plaintext chunks of consecutive frames, concatenated)
 *           0       1     type (sync/wire.h), in the first chunk
 *           1       ..    body; total type + body <= SYNC_MESSAGE_MAX (8 MiB)
 *
 * Every chunk of a message but the last carries TAG_MESSAGE; the last carries TAG_PUSH, or
 * TAG_FINAL when it ends the stream. So the overhead is 24 bytes once plus 19 per frame.
 *
 * What the receiver guarantees:
 *   - The length is read before anything is sized: len < 17 is SN_EPROTO with nothing
 *     allocated, and no u16 can exceed SYNC_FRAME_LEN_MAX. The frame buffer and the message
 *     buffer grow only as bytes arrive (sn_buf doubling), never to a claimed size; a
 *     message that would pass SYNC_MESSAGE_MAX is SN_EPROTO before its frame is decrypted.
 *     So rx holds at most one frame's ct (65535 B) plus one message (8 MiB).
 *   - Nothing is interpreted before its frame authenticates. secretstream's implicit counter
 *     makes a replayed, reordered, dropped or spliced frame fail (SN_EAUTH); the length is
 *     the AD, so changing it fails too (or shifts the frame boundary, which fails or reads
 *     as truncation). A wrong key or damaged header shows up as frame 1 failing.
 *   - A message is delivered only when its last frame authenticated; a partial message at
 *     EOF without TAG_FINAL is dropped and reported as truncation (Noise §13). TAG_REKEY and
 *     unknown tags are refused: we never send them, so only a broken peer would.
 *   - After any error rx is dead: its keys are wiped, its buffers freed, and every later feed
 *     returns the same code.
 */
#include "sync/frame.h"

#include <assert.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"

_Static_assert(SYNC_FRAME_LEN_MIN == SYNC_SECRETSTREAM_ABYTES, "a frame is at least the overhead");
_Static_assert(SYNC_STREAM_HEADER_LEN == SYNC_SECRETSTREAM_HEADER_LEN, "stream header size");
_Static_assert(SYNC_KEY_LEN == SYNC_SECRETSTREAM_KEY_LEN, "stream key size");
_Static_assert(SYNC_FRAME_LEN_MAX <= UINT16_MAX, "len is a u16");

#define FRAME_LEN_BYTES 2u
#define FRAME_OVERHEAD (FRAME_LEN_BYTES + SYNC_SECRETSTREAM_ABYTES)

/* A message's first chunk is assembled (type + body) before it is pushed; small ones on the
 * stack, as sync/crypto.c does for signed bytes. */
#define FIRST_STACK_MAX 4096

/* ---- sending ---- */

int sync_tx_init(sync_tx *tx, const uint8_t key[SYNC_KEY_LEN],
                 uint8_t header[SYNC_STREAM_HEADER_LEN], sn_err *err)
{
    (void)err;
    *tx = (sync_tx){0};
    sync_secretstream_init_push(&tx->ss, header, key);
    tx->ready = true;
    return 0;
}

/* Push one logical message as frames of at most `chunk` plaintext bytes, the last with
 * `last_tag`. All checks and allocations happen before the first push, so on failure
 * neither `out` nor the stream changes. */
static int tx_push(sync_tx *tx, uint8_t type, const uint8_t *body, size_t n, size_t chunk,
                   uint8_t last_tag, sn_buf *out, sn_err *err)
{
    if (!tx->ready)
        return sn_err_set(err, SN_EINVAL,
                          "sending a message (type 0x%02x) on a stream that was not started or "
                          "was wiped", type);
    if (tx->final)
        return sn_err_set(err, SN_EINVAL,
                          "sending a message (type 0x%02x) after the stream's final message",
                          type);
    assert(body != NULL || n == 0);
    if (n > SYNC_MESSAGE_MAX - 1)
        return sn_err_set(err, SN_ETOOBIG,
                          "message (type 0x%02x) of 1 + %zu bytes exceeds the limit of %u bytes",
                          type, n, SYNC_MESSAGE_MAX);
    if (chunk == 0 || chunk > SYNC_FRAME_PT_MAX)
        chunk = SYNC_FRAME_PT_MAX;
    /* total <= 8 MiB and frames <= total, so none of this can overflow. */
    size_t total = 1 + n;
    size_t frames = (total + chunk - 1) / chunk;
    size_t wire = total + frames * FRAME_OVERHEAD;
    int rc = sn_buf_reserve(out, wire, err);
    if (rc != 0) {
        sn_err_prefix(err, "framing a message (type 0x%02x) of 1 + %zu bytes as %zu bytes", type,
                      n, wire);
        return rc;
    }
    size_t first = total < chunk ? total : chunk;
    uint8_t stack[FIRST_STACK_MAX];
    uint8_t *pt = first <= sizeof stack ? stack : sn_malloc(first);
    if (pt == NULL)
        return sn_err_set(err, SN_ENOMEM, "framing a message (type 0x%02x): out of memory", type);
    pt[0] = type;
    if (first > 1)
        memcpy(pt + 1, body, first - 1);

    uint8_t *w = out->data + out->len;
    size_t off = first - 1; /* body bytes already framed */
    for (size_t f = 0; f < frames; f++) {
        const uint8_t *m = pt;
        size_t mlen = first;
        if (f > 0) {
            m = body + off;
            mlen = n - off < chunk ? n - off : chunk;
            off += mlen;
        }
        uint8_t tag = f + 1 == frames ? last_tag : SYNC_SECRETSTREAM_TAG_MESSAGE;
        sn_store_u16be(w, (uint16_t)(mlen + SYNC_SECRETSTREAM_ABYTES));
        sync_secretstream_push(&tx->ss, w + FRAME_LEN_BYTES, m, mlen, w, FRAME_LEN_BYTES, tag);
        w += mlen + FRAME_OVERHEAD;
    }
    assert(off == n && w == out->data + out->len + wire);
    out->len += wire;
    tx->frames += frames;
    /* The copy holds clinical plaintext: do not leave it in freed memory or on the stack. */
    sn_wipe(pt, first);
    if (pt != stack)
        sn_free(pt);
    return 0;
}

int sync_tx_message(sync_tx *tx, uint8_t type, const uint8_t *body, size_t n, size_t chunk,
                    sn_buf *out, sn_err *err)
{
    return tx_push(tx, type, body, n, chunk, SYNC_SECRETSTREAM_TAG_PUSH, out, err);
}

int sync_tx_final(sync_tx *tx, uint8_t type, const uint8_t *body, size_t n, sn_buf *out,
                  sn_err *err)
{
    int rc = tx_push(tx, type, body, n, 0, SYNC_SECRETSTREAM_TAG_FINAL, out, err);
    if (rc != 0)
        return rc;
    /* Nothing may follow: drop the key now rather than at wipe. */
    sync_secretstream_wipe(&tx->ss);
    tx->final = true;
    return 0;
}

void sync_tx_wipe(sync_tx *tx)
{
    if (tx == NULL)
        return;
    sync_secretstream_wipe(&tx->ss);
    sn_wipe(tx, sizeof *tx);
}

/* ---- receiving ---- */

void sync_rx_init(sync_rx *rx, const uint8_t key[SYNC_KEY_LEN])
{
    *rx = (sync_rx){0};
    memcpy(rx->key, key, SYNC_KEY_LEN);
    sn_buf_init(&rx->frame, SYNC_FRAME_LEN_MAX);
    sn_buf_init(&rx->msg, SYNC_MESSAGE_MAX);
}

/* Forget the keys and the bytes; keep only the code. */
static void rx_drop(sync_rx *rx)
{
    sync_secretstream_wipe(&rx->ss);
    sn_wipe(rx->key, sizeof rx->key);
    sn_buf_free(&rx->frame);
    sn_buf_free(&rx->msg);
}

/* Mark rx dead with `code` (already in err) and return it. */
static int rx_die(sync_rx *rx, int code)
{
    rx_drop(rx);
    rx->dead = code;
    return code;
}

void sync_rx_free(sync_rx *rx)
{
    if (rx == NULL)
        return;
    rx_drop(rx);
    sn_wipe(rx, sizeof *rx);
    rx->dead = SN_EINVAL;
}

bool sync_rx_is_final(const sync_rx *rx) { return rx->final; }

size_t sync_rx_memory(const sync_rx *rx) { return rx->frame.cap + rx->msg.cap; }

/* The previous feed delivered a message: its body is no longer borrowed. A buffer grown past
 * one frame for a big message is released, so an idle connection holds little. */
static void rx_release(sync_rx *rx)
{
    rx->delivered = false;
    if (rx->msg.cap > SYNC_FRAME_LEN_MAX)
        sn_buf_free(&rx->msg);
    else
        sn_buf_reset(&rx->msg);
}

/* The current frame's ct is complete: authenticate it, append its chunk to the message and
 * return 1 when that completes a message (filling *msg), 0 when more frames are needed. */
static int rx_frame(sync_rx *rx, sync_msg *msg, sn_err *err)
{
    unsigned long long no = (unsigned long long)rx->frames + 1;
    size_t ptlen = rx->frame_len - SYNC_SECRETSTREAM_ABYTES;
    if (ptlen > SYNC_MESSAGE_MAX - rx->msg.len)
        return rx_die(rx, sn_err_set(err, SN_EPROTO,
                                     "frame %llu would grow a message of %zu bytes by %zu, past "
                                     "the limit of %u bytes",
                                     no, rx->msg.len, ptlen, SYNC_MESSAGE_MAX));
    int rc = sn_buf_reserve(&rx->msg, ptlen, err);
    if (rc != 0) {
        sn_err_prefix(err, "receiving frame %llu", no);
        return rx_die(rx, rc);
    }
    uint8_t none;
    uint8_t *m = ptlen > 0 ? rx->msg.data + rx->msg.len : &none;
    size_t mlen = 0;
    uint8_t tag = 0;
    if (sync_secretstream_pull(&rx->ss, m, &mlen, &tag, rx->frame.data, rx->frame_len,
                               rx->len_bytes, FRAME_LEN_BYTES) != 0)
        return rx_die(rx, sn_err_set(err, SN_EAUTH, "frame %llu failed to authenticate%s", no,
                                     no == 1 ? " (wrong key or damaged stream header?)" : ""));
    assert(mlen == ptlen);
    rx->frames++;
    rx->len_have = 0;
    sn_buf_reset(&rx->frame);
    if (tag == SYNC_SECRETSTREAM_TAG_REKEY)
        return rx_die(rx, sn_err_set(err, SN_EPROTO,
                                     "frame %llu carries TAG_REKEY, which this protocol does not "
                                     "use", no));
    if (tag != SYNC_SECRETSTREAM_TAG_MESSAGE && tag != SYNC_SECRETSTREAM_TAG_PUSH &&
        tag != SYNC_SECRETSTREAM_TAG_FINAL)
        return rx_die(rx, sn_err_set(err, SN_EPROTO, "frame %llu carries unknown tag 0x%02x", no,
                                     tag));
    if (rx->msg.len == 0 && ptlen == 0)
        return rx_die(rx, sn_err_set(err, SN_EPROTO,
                                     "frame %llu starts a message with an empty chunk (no type "
                                     "byte)", no));
    rx->msg.len += ptlen;
    if (tag == SYNC_SECRETSTREAM_TAG_MESSAGE)
        return 0;
    *msg = (sync_msg){.type = rx->msg.data[0], .body = rx->msg.data + 1,
                      .len = rx->msg.len - 1, .final = tag == SYNC_SECRETSTREAM_TAG_FINAL};
    rx->delivered = true;
    if (msg->final) {
        rx->final = true;
        /* Nothing may follow: the key is no longer needed. */
        sync_secretstream_wipe(&rx->ss);
    }
    return 1;
}

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

int sync_rx_feed(sync_rx *rx, const uint8_t *p, size_t n, size_t *used, sync_msg *msg,
                 sn_err *err)
{
    *used = 0;
    *msg = (sync_msg){0};
    if (rx->dead != 0)
        return sn_err_set(err, rx->dead,
                          "receive stream is dead after an earlier error (%s) or was freed",
                          sn_err_name(rx->dead));
    if (rx->delivered)
        rx_release(rx);
    if (rx->final && n > 0)
        return rx_die(rx, sn_err_set(err, SN_EPROTO,
                                     "%zu bytes arrived after the stream's final message", n));
    size_t i = 0;
    while (i < n) {
        if (!rx->started) {
            size_t k = min_size(SYNC_STREAM_HEADER_LEN - rx->header_have, n - i);
            memcpy(rx->header + rx->header_have, p + i, k);
            rx->header_have += k;
            i += k;
            if (rx->header_have < SYNC_STREAM_HEADER_LEN)
                continue;
            int rc = sync_secretstream_init_pull(&rx->ss, rx->header, rx->key);
            sn_wipe(rx->key, sizeof rx->key);
            if (rc != 0)
                return rx_die(rx, sn_err_set(err, SN_EAUTH, "the peer's stream header is bad"));
            rx->started = true;
            continue;
        }
        if (rx->len_have < FRAME_LEN_BYTES) {
            rx->len_bytes[rx->len_have++] = p[i++];
            if (rx->len_have < FRAME_LEN_BYTES)
                continue;
            /* Checked before any buffer is sized for it; the u16 caps it from above. */
            rx->frame_len = sn_load_u16be(rx->len_bytes);
            if (rx->frame_len < SYNC_FRAME_LEN_MIN)
                return rx_die(rx, sn_err_set(err, SN_EPROTO,
                                             "frame length %zu is below the minimum %u (frame "
                                             "%llu)",
                                             rx->frame_len, SYNC_FRAME_LEN_MIN,
                                             (unsigned long long)rx->frames + 1));
            continue;
        }
        size_t k = min_size(rx->frame_len - rx->frame.len, n - i);
        int rc = sn_buf_append(&rx->frame, p + i, k, err);
        if (rc != 0) {
            sn_err_prefix(err, "receiving frame %llu", (unsigned long long)rx->frames + 1);
            return rx_die(rx, rc);
        }
        i += k;
        if (rx->frame.len < rx->frame_len)
            continue;
        rc = rx_frame(rx, msg, err);
        if (rc != 0) {
            if (rc > 0)
                *used = i;
            return rc;
        }
    }
    *used = n;
    return 0;
}

int sync_rx_eof(sync_rx *rx, sn_err *err)
{
    if (rx->dead != 0)
        return sn_err_set(err, rx->dead,
                          "receive stream is dead after an earlier error (%s) or was freed",
                          sn_err_name(rx->dead));
    if (rx->final)
        return 0;
    size_t pending = rx->delivered ? 0 : rx->msg.len;
    size_t partial = rx->started ? rx->len_have + rx->frame.len : rx->header_have;
    return rx_die(rx, sn_err_set(err, SN_EPROTO,
                                 "stream truncated: it ended after %llu frames without a final "
                                 "message (%zu bytes of a partial message dropped, %zu bytes of "
                                 "an incomplete %s)",
                                 (unsigned long long)rx->frames, pending, partial,
                                 rx->started ? "frame" : "stream header"));
}
