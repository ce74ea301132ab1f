/* tests/link_pair.h - two sync links (node/link.h) wired to each other in memory, for the
 * link suites: each side's output is moved to the other's input, round after round, until
 * neither has anything to say. A hook sees every chunk in transit, told where in its
 * direction's stream it lies and which transport frames it holds, and may change it (flip
 * a bit, drop, truncate, duplicate, replace) or end the stream there. Also: a responder fed
 * raw bytes, and a handshake initiator played by hand with any keys and certificate.
 * Helpers assert (ck_assert) instead of returning errors. */
#ifndef SN_TESTS_LINK_PAIR_H
#define SN_TESTS_LINK_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/link.h"
#include "sync/cert.h"
#include "sync/crypto.h"

/* Sides, and the direction of the bytes a side sends. */
#define LP_INIT 0 /* the initiator; its bytes go initiator -> responder */
#define LP_RESP 1

/* One transport frame (after the handshake and the stream header), as the sender made it. */
typedef struct lp_frame {
    uint64_t index; /* its number in this direction's stream, from 0 */
    size_t off;     /* where its 2-byte length starts in the chunk */
    size_t len;     /* 2 + the ciphertext length */
} lp_frame;

#define LP_FRAMES_MAX 256

/* Bytes on their way from side `from` to the other. */
typedef struct lp_chunk {
    int from;
    uint64_t at; /* offset of p[0] in the direction's stream as sent */
    uint8_t *p;  /* the bytes to deliver: change them in place or with lp_chunk_* */
    size_t n, cap;
    lp_frame frames[LP_FRAMES_MAX]; /* frames wholly inside the chunk, as sent (the first
                                       LP_FRAMES_MAX of them) */
    size_t nframes;
    bool eof; /* set by the hook: deliver p[0..n), then end the stream (node_link_eof) and
                 drop everything the sender says later */
} lp_chunk;

typedef void (*lp_hook)(void *ctx, lp_chunk *c);

/* Replace p[off, off+len) with q[0..qn) (q may be NULL to delete). */
void lp_chunk_splice(lp_chunk *c, size_t off, size_t len, const uint8_t *q, size_t qn);
/* The largest frame of the chunk (NULL when it has none). */
const lp_frame *lp_chunk_largest(const lp_chunk *c);
/* The frame with this stream index, if the chunk holds it. */
const lp_frame *lp_chunk_frame(const lp_chunk *c, uint64_t index);

typedef struct lp_side {
    node_store *st;
    node_link *link;
    sn_err err;         /* the first failure a call on this link returned (code 0: none) */
    int rc;             /* its code */
    uint64_t sent;      /* bytes this side produced */
    uint64_t hs_bytes;  /* of them, the handshake before its stream header (0: not yet) */
    uint64_t frames;    /* transport frames it produced */
    bool ended;         /* its stream was ended by the hook: later output is dropped */
    uint8_t *log;       /* everything it produced, as sent, when recording */
    size_t log_n, log_cap;
    /* the stream parser (bytes as sent) */
    int phase;
    size_t need, have;
    uint8_t lenb[2];
    int hs_left;
    uint64_t frame_at;
} lp_side;

typedef struct link_pair {
    lp_side s[2];
    lp_hook hook;
    void *hook_ctx;
    bool record; /* keep every byte each side produced (s[i].log) */
    int rounds;  /* rounds run by lp_run so far */
} link_pair;

/* Options for a once-mode session (the fields a test does not set stay zero: defaults). */
node_link_opts lp_once_opts(void);

/* Links for `init` (dialling) and `resp`, each with `o` (NULL: lp_once_opts(); `initiator`
 * is set per side), and the initiator's first message queued. */
void lp_open(link_pair *p, node_store *init, node_store *resp, const node_link_opts *o);
/* Free both links (recording the session in each store's peer table); p may be reopened. */
void lp_close(link_pair *p);

/* Move side `from`'s output to the other side through the hook, then pump the receiver.
 * Returns the bytes taken from `from` (0: it had nothing). */
size_t lp_deliver(link_pair *p, int from);
/* Deliver both ways, pumping, until neither side has output, at most `max_rounds` rounds
 * (0: 100000). Returns true when it went quiet. */
bool lp_run(link_pair *p, int max_rounds);

node_link_state lp_state(const link_pair *p, int side);
const node_link_stats *lp_stats(const link_pair *p, int side);
const sn_err *lp_error(const link_pair *p, int side);
/* Bytes side produced after the handshake (stream header and frames). */
uint64_t lp_transport_bytes(const link_pair *p, int side);

/* Side ended FAILED; node_link_error and the failure a call returned both name `needle`
 * (and have code `code` unless it is 0). */
void lp_expect_failed(const link_pair *p, int side, int code, const char *needle);
/* Both sides ended DONE, caught up. */
void lp_expect_done(const link_pair *p);

/* A whole once-mode session between a (dialling) and b, which must end DONE on both
 * sides; the stats of each side to sa / sb when not NULL. */
void lp_sync(node_store *a, node_store *b, node_link_stats *sa, node_link_stats *sb);

/* ---- raw bytes ---------------------------------------------------------------------- */

/* A responder link for st (o: NULL for lp_once_opts()). */
node_link *lp_responder(node_store *st, const node_link_opts *o);
/* node_link_input of p[0..n); returns its code, the failure to err. */
int lp_feed(node_link *l, const void *p, size_t n, sn_err *err);
/* Drop whatever the link has queued; returns how many bytes that was. */
size_t lp_drain(node_link *l);

/* The `keys` file of the store in directory `dir` (the caller wipes it: sync_keys_wipe). */
sync_keys lp_keys(const char *dir);
/* Play a Noise XX initiator by hand against the responder link `resp` (fresh, nothing fed):
 * Noise static key pair (noise_sk, noise_pk) as given, even if they do not match, presenting
 * certificate `cert` with wall time `time_ms` in message 3 (the responder's certificate is
 * not checked). Returns what feeding message 3 to `resp` returned; failures to err. */
int lp_hand_initiate(node_link *resp, const uint8_t noise_sk[32], const uint8_t noise_pk[32],
                     const sync_cert *cert, uint64_t time_ms, sn_err *err);

#endif
