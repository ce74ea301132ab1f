/* fuzz/fuzz_noise_initiator.c - the Noise XX handshake (sync/noise.c) as the initiator
 * reads it: message 2 from a peer, with fixed static and ephemeral keys on both sides,
 * then the peer's handshake payload as node/link.c reads it (sync/wire.c payload,
 * sync/cert.c certificate and its verification), then message 3 and the split.
 *
 * Input: mode u8 | rest.
 *   mode even ("raw"): piece msg2, the responder's message as received. Random bytes stop
 *     at its first tag; the seed, a genuine message made with the same fixed keys, passes.
 *   mode odd ("sealed"): a genuine responder with the fixed keys writes message 2, so the
 *     fuzzer reaches the payload: piece p2 (its payload) | flip u16 (0: none, else one bit
 *     of message 2 is flipped).
 * Checks: a failed read leaves the state wiped; a sealed handshake without a flip
 * completes, and both sides split to the same keys; a flipped one fails. */
#include "fuzz/fuzz_common.h"

static uint8_t msg[SYNC_NOISE_MSG_MAX], payload[SYNC_NOISE_MSG_MAX];

static void run_raw(fuzz_in *in)
{
    const uint8_t *m2;
    size_t n2, plen;
    fuzz_piece(in, &m2, &n2);
    sync_noise i;
    fuzz_noise_start(&i, true);
    fuzz_noise_write(&i, NULL, 0, msg);
    if (fuzz_noise_read(&i, m2, n2, payload, &plen) != 0)
        return;
    fuzz_take_hs_payload(payload, plen);
    fuzz_noise_write_payload(&i, msg);
    fuzz_noise_finish(&i, NULL);
}

static void run_sealed(fuzz_in *in)
{
    const uint8_t *p2;
    size_t n2, len, plen;
    fuzz_piece(in, &p2, &n2);
    uint16_t flip = fuzz_u16(in);
    n2 = n2 > SYNC_NOISE_MSG_MAX - SYNC_NOISE_MSG2_FIXED ? 0 : n2;
    sync_noise i, r;
    fuzz_noise_start(&i, true);
    fuzz_noise_start(&r, false);
    len = fuzz_noise_write(&i, NULL, 0, msg);
    if (fuzz_noise_read(&r, msg, len, payload, &plen) != 0)
        fuzz_fail("the responder refused a genuine message 1");
    len = fuzz_noise_write(&r, p2, n2, msg);
    if (flip != 0)
        msg[(flip - 1u) / 8u % len] ^= (uint8_t)(1u << ((flip - 1u) % 8u));
    int rc = fuzz_noise_read(&i, msg, len, payload, &plen);
    if ((rc == 0) != (flip == 0))
        fuzz_fail("message 2 %s", flip ? "with a flipped bit was accepted" : "was refused");
    if (rc == 0) {
        fuzz_take_hs_payload(payload, plen);
        len = fuzz_noise_write_payload(&i, msg);
        if (fuzz_noise_read(&r, msg, len, payload, &plen) != 0)
            fuzz_fail("the responder refused a genuine message 3");
        fuzz_noise_finish(&i, &r);
    }
    sync_noise_wipe(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_mode modes[] = {run_raw, run_sealed};
    return fuzz_run(data, size, modes, 2, "fuzz_noise_initiator");
}
