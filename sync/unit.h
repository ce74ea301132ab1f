/* sync/unit.h - signed checkpoints and transfer units (DESIGN.md §4).
 *
 * Per origin, commits chain: link_n = BLAKE2b-256(link_{n-1} || BLAKE2b-256(body_n)),
 * link_0 = 32 zero bytes. The origin signs small checkpoints (never one per commit):
 *
 *   CHECKPOINT  OFFSET  SIZE  FIELD
 *               0       4     magic "SNK1"
 *               4       1     version (1)
 *               5       3     reserved (0)
 *               8       16    replica
 *               24      4     epoch
 *               28      8     certificate serial of the signing key
 *               36      8     seq
 *               44      32    link at seq
 *               76      8     highest hlc in commits 1..seq
 *               84      64    Ed25519 by the origin over "SNK1-checkpoint\0" || bytes [0, 84)
 *
 * A transfer unit carries one origin's commits a..b and the checkpoint at b:
 *
 *   UNIT        OFFSET  SIZE  FIELD
 *               0       4     magic "SNU1"
 *               4       1     version (1)
 *               5       3     reserved (0)
 *               8       8     first seq a
 *               16      4     count (b - a + 1, at least 1)
 *               20      148   checkpoint at b (above)
 *               168     ..    count x { u32 length | commit body }
 *
 * The receiver hashes forward from the link it holds at a-1, checks that the chain ends in
 * the checkpoint's link and that the signature verifies, and only then decodes anything.
 * Any holder may re-cut ranges (a relay keeps every checkpoint it received); two valid
 * checkpoints at one (origin, seq) with different links are equivocation. */
#ifndef SN_SYNC_UNIT_H
#define SN_SYNC_UNIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "crdt/hlc.h"
#include "crdt/vv.h"
#include "sync/crypto.h"

#define SYNC_CHECKPOINT_LEN 148
#define SYNC_UNIT_HEADER_LEN (20 + SYNC_CHECKPOINT_LEN)
#define SYNC_LINK_LEN 32

typedef struct sync_checkpoint {
    crdt_origin origin;
    uint64_t cert_serial;
    uint64_t seq;
    uint8_t link[SYNC_LINK_LEN];
    crdt_hlc hlc_max;
    uint8_t sig[SYNC_SIG_LEN];
} sync_checkpoint;

/* The next chain link: BLAKE2b-256(prev || BLAKE2b-256(body)). */
void sync_chain_next(uint8_t out[SYNC_LINK_LEN], const uint8_t prev[SYNC_LINK_LEN],
                     const uint8_t *body, size_t n);

void sync_checkpoint_sign(sync_checkpoint *cp, const uint8_t sk[SYNC_SIGN_SK_LEN]);
void sync_checkpoint_encode(const sync_checkpoint *cp, uint8_t out[SYNC_CHECKPOINT_LEN]);
/* Strict parse of exactly SYNC_CHECKPOINT_LEN bytes: SN_ECORRUPT / SN_EVERSION. */
SN_NODISCARD int sync_checkpoint_parse(const uint8_t *p, size_t n, sync_checkpoint *out,
                                       sn_err *err);
/* SN_EAUTH when the signature is not `pk`'s. */
SN_NODISCARD int sync_checkpoint_verify(const sync_checkpoint *cp,
                                        const uint8_t pk[SYNC_SIGN_PK_LEN], sn_err *err);
/* Same origin and seq, different links: the proof of equivocation. */
bool sync_checkpoint_conflicts(const sync_checkpoint *a, const sync_checkpoint *b);

/* Build a unit of commits first..first+count-1 (bodies in order) with its checkpoint. */
SN_NODISCARD int sync_unit_encode(uint64_t first, const uint8_t *const *bodies,
                                  const size_t *lens, uint32_t count, const sync_checkpoint *cp,
                                  sn_buf *out, sn_err *err);

/* A parsed unit: bodies point into the buffer given to sync_unit_parse. */
typedef struct sync_unit {
    uint64_t first;
    uint32_t count;
    sync_checkpoint cp;
    const uint8_t **bodies; /* owned array (sync_unit_free), borrowed bytes */
    size_t *lens;
} sync_unit;

/* Frame check only: magic, version, count, every length within the bytes, no trailing
 * bytes, first + count - 1 == cp.seq. SN_ECORRUPT / SN_EVERSION / SN_ENOMEM. */
SN_NODISCARD int sync_unit_parse(const uint8_t *p, size_t n, sync_unit *out, sn_err *err);
void sync_unit_free(sync_unit *u);

/* Verify before decoding: hash forward from `prev_link` (the link at first-1) and check the
 * result equals cp.link, then the checkpoint signature against `origin_pk`. On success
 * `links_out` (count x 32 bytes, may be NULL) holds each commit's link. SN_EAUTH naming
 * what failed: a broken chain (which commit) or a bad signature. */
SN_NODISCARD int sync_unit_verify(const sync_unit *u, const uint8_t prev_link[SYNC_LINK_LEN],
                                  const uint8_t origin_pk[SYNC_SIGN_PK_LEN], uint8_t *links_out,
                                  sn_err *err);
/* The chain half of sync_unit_verify alone, for a unit whose checkpoint the caller knows
 * is genuine: byte for byte one it verified before (a duplicate). Never for anything else:
 * the signature is what makes the chain mean anything. */
SN_NODISCARD int sync_unit_verify_chain(const sync_unit *u,
                                        const uint8_t prev_link[SYNC_LINK_LEN],
                                        uint8_t *links_out, sn_err *err);

#endif
