/* sync/noise.h - the Noise_XX_25519_ChaChaPoly_SHA256 handshake (Noise rev 34), and only it:
 * no other pattern, no PSK, no negotiation (SECURITY.md §2.1-2.3). */
#ifndef SN_SYNC_NOISE_H
#define SN_SYNC_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define SYNC_NOISE_KEY_LEN 32
#define SYNC_NOISE_HASH_LEN 32
#define SYNC_NOISE_MSG_MAX 65535     /* Noise message cap (Noise §3) */
#define SYNC_NOISE_PROLOGUE_MAX 256  /* longest prologue sync_noise_init accepts */

/* Fixed (payload-free) size of each XX message: -> e; <- e, ee, s, es; -> s, se. */
#define SYNC_NOISE_MSG1_FIXED 32u    /* e */
#define SYNC_NOISE_MSG2_FIXED 96u    /* e, enc(s) 32+16, payload tag 16 */
#define SYNC_NOISE_MSG3_FIXED 64u    /* enc(s) 32+16, payload tag 16 */

/* The whole handshake state, kept by value so callers embed it (no heap). Its fields are
 * public only for that reason and for tests; use the functions. A zero-filled value is a
 * dead handshake on which every call fails. */
typedef struct sync_noise {
    /* SymmetricState (Noise §5.2) with its CipherState (§5.1). */
    uint8_t ck[SYNC_NOISE_HASH_LEN];
    uint8_t h[SYNC_NOISE_HASH_LEN];
    uint8_t k[SYNC_NOISE_KEY_LEN];
    uint64_t n;
    bool has_k;
    /* HandshakeState (§5.3). */
    uint8_t s_sk[SYNC_NOISE_KEY_LEN], s_pk[SYNC_NOISE_KEY_LEN];
    uint8_t e_sk[SYNC_NOISE_KEY_LEN], e_pk[SYNC_NOISE_KEY_LEN];
    uint8_t re[SYNC_NOISE_KEY_LEN], rs[SYNC_NOISE_KEY_LEN];
    bool has_rs;
    bool initiator;
    uint8_t msgs;   /* handshake messages written or read so far, 0..3 */
    uint8_t phase;  /* internal: dead (0), running, done, split */
} sync_noise;

/* Start a handshake as initiator or responder with this side's static key pair (copied) and
 * the prologue (at most SYNC_NOISE_PROLOGUE_MAX bytes, mixed in now, not kept; both sides
 * must pass the same bytes). Generates a fresh ephemeral key pair. Cannot fail: if the
 * random key cannot be made, the state is left dead and the first write or read says so. */
void sync_noise_init(sync_noise *hs, bool initiator, const uint8_t *prologue, size_t prologue_len,
                     const uint8_t s_sk[32], const uint8_t s_pk[32]);

/* Tests only: use this ephemeral key pair instead of a fresh random one. Call right after
 * init, before the first message. */
void sync_noise_fix_ephemeral(sync_noise *hs, const uint8_t e_sk[32], const uint8_t e_pk[32]);

/* Write the next handshake message (raw Noise bytes, no length prefix) carrying `payload`
 * (n bytes, may be NULL when n is 0; sent in the clear in message 1, encrypted in 2 and 3)
 * into out[0..cap); *out_len is its length: the message's fixed size (SYNC_NOISE_MSGx_FIXED)
 * plus n. `out` must not overlap `payload`. Returns 0;
 * SN_EINVAL when it is not this side's turn, the handshake is finished, failed or dead, or
 * cap is too small; SN_ETOOBIG when the message would exceed SYNC_NOISE_MSG_MAX (in these
 * cases the state is unchanged); SN_EAUTH on a DH failure, after which the state is wiped. */
SN_NODISCARD int sync_noise_write(sync_noise *hs, const uint8_t *payload, size_t n, uint8_t *out,
                                  size_t cap, size_t *out_len, sn_err *err);

/* Read the peer's next handshake message msg[0..n) and put its decrypted payload in
 * payload[0..cap) (`payload` may be NULL when cap is 0; it must not overlap `msg`);
 * *payload_len is its length. Returns 0;
 * SN_EPROTO for a message of the wrong size: shorter than its fixed part, longer than
 * SYNC_NOISE_MSG_MAX, or carrying a payload longer than cap (so with cap 0, message 1 must
 * be exactly 32 bytes); SN_EAUTH when a tag fails or the peer's ephemeral or static key is
 * a low-order point (a DH would give zero); SN_EINVAL when it is not this side's turn or the
 * handshake is finished, failed or dead. On any failure the state is wiped and unusable,
 * and `payload` holds no unauthenticated bytes. */
SN_NODISCARD int sync_noise_read(sync_noise *hs, const uint8_t *msg, size_t n, uint8_t *payload,
                                 size_t cap, size_t *payload_len, sn_err *err);

/* True once this side has written or read all three messages. */
bool sync_noise_is_done(const sync_noise *hs);

/* The peer's static public key once the handshake has revealed and authenticated it (after
 * message 2 for the initiator, message 3 for the responder), else NULL. Borrowed from `hs`;
 * still available after split, gone after wipe or a failure. */
const uint8_t *sync_noise_remote_static(const sync_noise *hs);

/* After the last message: the two transport keys (initiator->responder, responder->initiator;
 * each starts at nonce 0) and the handshake hash h (the session id, Noise §11.2). Wipes ck,
 * h, k and the ephemeral and static secrets; only the remote static key survives. Returns 0
 * or SN_EINVAL (handshake not finished, failed, or already split; outputs untouched). */
SN_NODISCARD int sync_noise_split(sync_noise *hs, uint8_t k_i2r[32], uint8_t k_r2i[32],
                                  uint8_t handshake_hash[32], sn_err *err);

/* Wipe everything, leaving a dead state. NULL is a no-op. */
void sync_noise_wipe(sync_noise *hs);

#endif
