/* sync/proof.h - proofs of equivocation that any node can check with nothing but the
 * origin's certificates (DESIGN.md §4; the layout and the reasoning are in sync/proof.c).
 *
 * A proof names a seq s and gives two sides, each a signed checkpoint of the origin at
 * some seq t >= s with the link at s and the commit bodies s+1..t: hashing forward from
 * that link over those bodies must end at the checkpoint's link, so the signature vouches
 * for the link at s. Two sides whose links at s differ show that the origin signed two
 * histories; the origin is frozen from s on. */
#ifndef SN_SYNC_PROOF_H
#define SN_SYNC_PROOF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "sync/crypto.h"
#include "sync/unit.h"

/* The largest proof accepted or made: two sides of at most a few units each. */
#define SYNC_PROOF_MAX (4u << 20)

/* One side: the link at the proof's seq, the checkpoint, and the bodies between. */
typedef struct sync_proof_side {
    uint8_t link[SYNC_LINK_LEN]; /* at the proof's seq */
    sync_checkpoint cp;          /* at seq + count */
    uint32_t count;
    const uint8_t **bodies; /* owned array (sync_proof_free), borrowed bytes */
    size_t *lens;
} sync_proof_side;

typedef struct sync_proof {
    uint64_t seq;
    sync_proof_side side[2];
} sync_proof;

/* Start a proof at `seq` in `out` (appended), then add exactly two sides. A side is the
 * link at seq, the checkpoint at cp->seq >= seq and the cp->seq - seq bodies after seq in
 * order. SN_EINVAL for a checkpoint before seq, SN_ETOOBIG past SYNC_PROOF_MAX. */
SN_NODISCARD int sync_proof_begin(uint64_t seq, sn_buf *out, sn_err *err);
SN_NODISCARD int sync_proof_add_side(sn_buf *out, uint64_t seq,
                                     const uint8_t link[SYNC_LINK_LEN],
                                     const sync_checkpoint *cp, const uint8_t *const *bodies,
                                     const size_t *lens, sn_err *err);

/* Frame check only: magic, version, reserved bytes, seq >= 1, two sides of one origin whose
 * checkpoints parse and lie at or after seq, every length within the bytes, no trailing
 * bytes, at most SYNC_PROOF_MAX bytes, and links at seq that differ. SN_ECORRUPT (saying
 * what is wrong), SN_EVERSION for a newer format, SN_ENOMEM. On success `out` borrows `p`
 * and must be freed with sync_proof_free. */
SN_NODISCARD int sync_proof_parse(const uint8_t *p, size_t n, sync_proof *out, sn_err *err);
void sync_proof_free(sync_proof *pr);

/* Check each side: its bodies hash forward from its link at seq to its checkpoint's link,
 * and the checkpoint's signature verifies under pk[i] (the certificate of the side's
 * serial). SN_EAUTH naming the side and what failed. */
SN_NODISCARD int sync_proof_verify(const sync_proof *pr,
                                   const uint8_t pk[2][SYNC_SIGN_PK_LEN], sn_err *err);

#endif
