/* fuzz/fuzz_noise_responder.c - the Noise XX handshake (sync/noise.c) as the responder
 * reads it: message 1 and message 3 from a peer, with fixed static and ephemeral keys on
 * both sides, then the peer's handshake payload as node/link.c reads it (sync/wire.c
 * payload, sync/cert.c certificate and its verification).
 *
 * Input: mode u8 | rest.
 *   mode even ("raw"): piece msg1 | piece msg3, the peer's messages as received. Random
 *     bytes stop at message 3's first tag; the seed, a genuine transcript made with the
 *     same fixed keys, completes.
 *   mode odd ("sealed"): a genuine initiator with the fixed keys writes the messages, so the
 *     fuzzer reaches the payloads: piece p1 (message 1's payload) | piece p3 (message 3's
 *     payload) | flip u16 (0: none, else one bit of message 3 is flipped).
 * Checks: a failed read leaves the state wiped; a sealed handshake without a flip
 * completes, and both sides split to the same keys; a flipped one fails. */
#include "fuzz/fuzz_common.h"

static uint8_t msg[SYNC_NOISE_MSG_MAX], payload[SYNC_NOISE_MSG_MAX];

static void run_raw(fuzz_in *in)
{
    const uint8_t *m1, *m3;
    size_t n1, n3, plen;
    fuzz_piece(in, &m1, &n1);
    fuzz_piece(in, &m3, &n3);
    sync_noise r;
    fuzz_noise_start(&r, false);
    if (fuzz_noise_read(&r, m1, n1, payload, &plen) != 0)
        return;
    fuzz_noise_write_payload(&r, msg);
    if (fuzz_noise_read(&r, m3, n3, payload, &plen) != 0)
        return;
    fuzz_take_hs_payload(payload, plen);
    fuzz_noise_finish(&r, NULL);
}

static void run_sealed(fuzz_in *in)
{
    const uint8_t *p1, *p3;
    size_t n1, n3, len, plen;
    fuzz_piece(in, &p1, &n1);
    fuzz_piece(in, &p3, &n3);
    uint16_t flip = fuzz_u16(in);
    n1 = n1 > SYNC_NOISE_MSG_MAX - SYNC_NOISE_MSG1_FIXED ? 0 : n1;
    n3 = n3 > SYNC_NOISE_MSG_MAX - SYNC_NOISE_MSG3_FIXED ? 0 : n3;
    sync_noise i, r;
    fuzz_noise_start(&i, true);
    fuzz_noise_start(&r, false);
    len = fuzz_noise_write(&i, p1, n1, msg);
    if (fuzz_noise_read(&r, msg, len, payload, &plen) != 0)
        fuzz_fail("the responder refused a genuine message 1");
    len = fuzz_noise_write_payload(&r, msg);
    if (fuzz_noise_read(&i, msg, len, payload, &plen) != 0)
        fuzz_fail("the initiator refused a genuine message 2");
    len = fuzz_noise_write(&i, p3, n3, msg);
    if (flip != 0)
        msg[(flip - 1u) / 8u % len] ^= (uint8_t)(1u << ((flip - 1u) % 8u));
    int rc = fuzz_noise_read(&r, msg, len, payload, &plen);
    if ((rc == 0) != (flip == 0))
        fuzz_fail("message 3 %s", flip ? "with a flipped bit was accepted" : "was refused");
    if (rc == 0) {
        fuzz_take_hs_payload(payload, plen);
        fuzz_noise_finish(&i, &r);
    }
    sync_noise_wipe(&i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_mode modes[] = {run_raw, run_sealed};
    return fuzz_run(data, size, modes, 2, "fuzz_noise_responder");
}
