/* sync/frame.h - encrypted, authenticated framing of one connection direction after the
 * handshake (SECURITY.md §2.4), sans-IO: bytes in, messages out; bytes out, never a socket.
 *
 *   stream  := header (24 B, in clear) | frame*        one secretstream per direction
 *   frame   := len u16be | ct                          17 <= len <= 65535
 *   ct      := secretstream_push(pt, ad = the 2 len bytes, tag)   |ct| = |pt| + 17
 *   message := frames with TAG_MESSAGE ... then one with TAG_PUSH (TAG_FINAL ends the stream)
 *   pt      := type u8 | body...  in a message's first chunk; body only in later chunks
 *
 * A logical message (type byte + body) is at most SYNC_MESSAGE_MAX bytes. The byte tables and
 * the receiver's guarantees are in sync/frame.c. Not thread-safe: one owner per object. */
#ifndef SN_SYNC_FRAME_H
#define SN_SYNC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "sync/crypto_stream.h"

#define SYNC_FRAME_LEN_MIN 17u
#define SYNC_FRAME_LEN_MAX 65535u
#define SYNC_FRAME_PT_MAX (SYNC_FRAME_LEN_MAX - 17u)
#define SYNC_MESSAGE_MAX (8u << 20)
#define SYNC_STREAM_HEADER_LEN 24u
#define SYNC_KEY_LEN 32u

/* ---- sending ---- */

/* Public so callers can embed it; touch it only through these functions. Holds no heap. */
typedef struct sync_tx {
    sync_secretstream ss; /* push state: holds the current key */
    uint64_t frames;      /* frames produced so far */
    bool ready;           /* initialised, not wiped */
    bool final;           /* the stream was ended with TAG_FINAL */
} sync_tx;

/* Start the push stream under `key` (this direction's key from the handshake); `header` is
 * sent in clear before the first frame. The key is copied into the stream state; the caller
 * may wipe its copy. Returns 0 (int so a future failure mode needs no API change). */
SN_NODISCARD int sync_tx_init(sync_tx *tx, const uint8_t key[SYNC_KEY_LEN],
                              uint8_t header[SYNC_STREAM_HEADER_LEN], sn_err *err);
/* Append the frames of one logical message (type, then body of n bytes, n may be 0 and body
 * NULL then) to `out`. `chunk` is the largest plaintext per frame: 0 means SYNC_FRAME_PT_MAX,
 * larger values are treated as SYNC_FRAME_PT_MAX (tests use small values to force many
 * frames). Every frame but the last carries TAG_MESSAGE, the last TAG_PUSH.
 * Returns 0; SN_ETOOBIG when 1 + n > SYNC_MESSAGE_MAX or out's limit would be exceeded;
 * SN_ENOMEM; SN_EINVAL when tx is not initialised, wiped or already final. On any error
 * `out` keeps its contents and length, and the stream is unchanged (nothing was pushed). */
SN_NODISCARD int sync_tx_message(sync_tx *tx, uint8_t type, const uint8_t *body, size_t n,
                                 size_t chunk, sn_buf *out, sn_err *err);
/* The same with chunk 0, ending the stream with TAG_FINAL on the last frame; the key is wiped
 * and nothing may be sent after it (later calls return SN_EINVAL). */
SN_NODISCARD int sync_tx_final(sync_tx *tx, uint8_t type, const uint8_t *body, size_t n,
                               sn_buf *out, sn_err *err);
/* Wipe the state; later calls return SN_EINVAL. Safe twice; NULL is a no-op. */
void sync_tx_wipe(sync_tx *tx);

/* ---- receiving ---- */

/* Public so callers can embed it; touch it only through these functions. */
typedef struct sync_rx {
    sync_secretstream ss;                   /* pull state, once the header arrived */
    uint8_t key[SYNC_KEY_LEN];              /* held only until the header arrives */
    uint8_t header[SYNC_STREAM_HEADER_LEN]; /* the peer's header, gathered */
    size_t header_have;
    uint8_t len_bytes[2]; /* the current frame's length, also its AD */
    size_t len_have;
    size_t frame_len;   /* ct length the current frame claims (valid when len_have == 2) */
    sn_buf frame;       /* the current frame's ct as it arrives, limit SYNC_FRAME_LEN_MAX */
    sn_buf msg;         /* the logical message being assembled: type | body */
    uint64_t frames;    /* frames authenticated so far */
    int dead;           /* 0, or the code every later feed returns */
    bool started;       /* the header arrived and the pull stream is running */
    bool delivered;     /* msg holds a delivered message, dropped at the next feed */
    bool final;         /* a TAG_FINAL message was delivered */
} sync_rx;

/* Prepare to receive under `key` (the peer's sending key); the header arrives in-band as the
 * first 24 bytes fed. Copies the key; allocates nothing. */
void sync_rx_init(sync_rx *rx, const uint8_t key[SYNC_KEY_LEN]);
/* Wipe keys and free the buffers; later feeds return SN_EINVAL. Safe twice; NULL is a no-op. */
void sync_rx_free(sync_rx *rx);

typedef struct sync_msg {
    uint8_t type;
    const uint8_t *body; /* borrowed from rx: valid until the next sync_rx_feed */
    size_t len;
    bool final; /* it ended the stream (TAG_FINAL) */
} sync_msg;

/* Feed received bytes (any split, down to 1 byte at a time). Consumes bytes up to and
 * including the end of the first complete logical message and returns 1 with *msg set and
 * *used = bytes consumed; returns 0 with *used == n when more bytes are needed; negative on
 * error:
 *   SN_EAUTH   a frame fails to authenticate (tampered ct/tag/len, replayed, reordered,
 *              dropped frame: secretstream's counter catches these), or the header is bad
 *              or belongs to another key (noticed at the first frame);
 *   SN_EPROTO  len < 17, bytes arrive after TAG_FINAL, a message would exceed
 *              SYNC_MESSAGE_MAX, a chunk carries TAG_REKEY or an unknown tag, or a first
 *              chunk is empty (no type);
 *   SN_ENOMEM  a buffer could not grow.
 * After an error rx is dead: every later feed returns the same code. A message is delivered
 * only when all its frames authenticated. rx never holds more than one frame's ct plus one
 * logical message, each grown only as bytes actually arrive. */
SN_NODISCARD int sync_rx_feed(sync_rx *rx, const uint8_t *p, size_t n, size_t *used,
                              sync_msg *msg, sn_err *err);
/* True once a TAG_FINAL message was delivered. */
bool sync_rx_is_final(const sync_rx *rx);
/* At EOF: 0 if the stream ended with TAG_FINAL; SN_EPROTO "stream truncated..." otherwise,
 * saying how many bytes of a partial message were pending (they are dropped and rx is dead);
 * a dead rx returns its code. */
SN_NODISCARD int sync_rx_eof(sync_rx *rx, sn_err *err);
/* Heap bytes rx holds now: the frame buffer plus the message buffer (for the memory-bound
 * tests and benchmarks). At most SYNC_FRAME_LEN_MAX + SYNC_MESSAGE_MAX. */
size_t sync_rx_memory(const sync_rx *rx);

#endif
