/* fuzz/fuzz_unit.c - signed checkpoints and transfer units (sync/unit.c: parse, verify,
 * the hash chain), then the commit bodies of a unit that verified, decoded as a receiving
 * store does (schema/codec.c).
 *
 * Input: mode u8 | rest; mode % 4 picks:
 *   0 checkpoint as received: parse, verify against the fixed origin key;
 *   1 checkpoint signed here: rest is a checkpoint without its signature; every one that
 *     parses is signed with the origin key and must then verify;
 *   2 unit as received: parse, verify from the zero link (a unit starting at seq 1);
 *   3 unit re-sealed here: every unit that parses gets its chain recomputed and its
 *     checkpoint re-signed by the harness, so it verifies and the fuzzer reaches the
 *     bodies, which are decoded (fuzz_commit_body).
 * Checks: failures say why; parsed checkpoints and units encode back to exactly their
 * bytes; what the harness signed verifies, and the links verification reports are the
 * chain the harness computed. */
#include <string.h>

#include "base/alloc.h"
#include "fuzz/fuzz_common.h"
#include "sync/unit.h"

static const uint8_t zero_link[SYNC_LINK_LEN];

static void checkpoint(const uint8_t *p, size_t n, bool sign_here)
{
    uint8_t b[SYNC_CHECKPOINT_LEN] = {0};
    if (sign_here) {
        if (n > SYNC_CHECKPOINT_LEN - SYNC_SIG_LEN)
            return;
        memcpy(b, p, n);
        p = b;
        n += SYNC_SIG_LEN;
    }
    sync_checkpoint cp;
    sn_err err = SN_ERR_INIT;
    int rc = sync_checkpoint_parse(p, n, &cp, &err);
    fuzz_check_err(rc, &err, "sync_checkpoint_parse");
    if (rc != 0)
        return;
    const fuzz_ids *k = fuzz_keys();
    if (sign_here)
        sync_checkpoint_sign(&cp, k->origin_sk);
    uint8_t again[SYNC_CHECKPOINT_LEN];
    sync_checkpoint_encode(&cp, again);
    if (!sign_here)
        fuzz_check_same(p, n, again, sizeof again, "checkpoint parsed and encoded again");
    rc = sync_checkpoint_verify(&cp, k->origin_pk, &err);
    fuzz_check_err(rc, &err, "sync_checkpoint_verify");
    if (sign_here && rc != 0)
        fuzz_fail("a checkpoint signed here does not verify: %s", err.msg);
}

/* Encode u into out (reset first); the encoder must take what the parser gave. */
static void encode_unit(const sync_unit *u, sn_buf *out)
{
    sn_err err = SN_ERR_INIT;
    sn_buf_reset(out);
    if (sync_unit_encode(u->first, u->bodies, u->lens, u->count, &u->cp, out, &err) != 0)
        fuzz_fail("a parsed unit does not encode: %s", err.msg);
}

/* Verify u from the zero link; on success decode its bodies. `links` has u->count
 * entries; `want` (may be NULL) is the chain verification must report. */
static void verify_unit(const sync_unit *u, uint8_t *links, const uint8_t *want)
{
    sn_err err = SN_ERR_INIT;
    int rc = sync_unit_verify(u, zero_link, fuzz_keys()->origin_pk, links, &err);
    fuzz_check_err(rc, &err, "sync_unit_verify");
    if (want != NULL && rc != 0)
        fuzz_fail("a unit re-sealed here does not verify: %s", err.msg);
    if (rc != 0)
        return;
    if (want != NULL)
        fuzz_check_same(want, (size_t)u->count * SYNC_LINK_LEN, links,
                        (size_t)u->count * SYNC_LINK_LEN, "the links of a verified unit");
    for (uint32_t i = 0; i < u->count; i++)
        fuzz_commit_body(u->bodies[i], u->lens[i]);
}

static void unit(const uint8_t *p, size_t n, bool reseal)
{
    sync_unit u;
    sn_err err = SN_ERR_INIT;
    int rc = sync_unit_parse(p, n, &u, &err);
    fuzz_check_err(rc, &err, "sync_unit_parse");
    if (rc != 0)
        return;
    sn_buf b;
    sn_buf_init(&b, n);
    encode_unit(&u, &b);
    fuzz_check_same(p, n, b.data, b.len, "unit parsed and encoded again");
    uint8_t *links = sn_mallocarray(u.count, 2 * SYNC_LINK_LEN);
    if (links == NULL)
        fuzz_fail("out of memory for %u links", u.count);
    uint8_t *chain = links + (size_t)u.count * SYNC_LINK_LEN;
    if (!reseal) {
        verify_unit(&u, links, NULL);
    } else {
        for (uint32_t i = 0; i < u.count; i++)
            sync_chain_next(chain + (size_t)i * SYNC_LINK_LEN,
                            i == 0 ? zero_link : chain + (size_t)(i - 1) * SYNC_LINK_LEN,
                            u.bodies[i], u.lens[i]);
        memcpy(u.cp.link, chain + (size_t)(u.count - 1) * SYNC_LINK_LEN, SYNC_LINK_LEN);
        sync_checkpoint_sign(&u.cp, fuzz_keys()->origin_sk);
        encode_unit(&u, &b);
        sync_unit resealed;
        if (sync_unit_parse(b.data, b.len, &resealed, &err) != 0)
            fuzz_fail("a unit re-sealed here does not parse: %s", err.msg);
        verify_unit(&resealed, links, chain);
        sync_unit_free(&resealed);
    }
    sn_free(links);
    sn_buf_free(&b);
    sync_unit_free(&u);
}

static void checkpoint_as_received(fuzz_in *in) { checkpoint(in->p, in->n, false); }
static void checkpoint_signed_here(fuzz_in *in) { checkpoint(in->p, in->n, true); }
static void unit_as_received(fuzz_in *in) { unit(in->p, in->n, false); }
static void unit_resealed(fuzz_in *in) { unit(in->p, in->n, true); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_mode modes[] = {checkpoint_as_received, checkpoint_signed_here,
                                      unit_as_received, unit_resealed};
    return fuzz_run(data, size, modes, 4, "fuzz_unit");
}
