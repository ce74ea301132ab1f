/* fuzz/gen_seeds_bundle.c - the seeds of the proof target, made by real stores: a store
 * holding the fixed origin's history takes a second history of it and finds the fork, and
 * its proof of equivocation becomes the proof seeds; the sender of fuzz/gen_seeds_store.c
 * is then given the proof, so what it sends carries one. (Bundle seeds come with their
 * target.) */
#include <stdio.h>
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "fuzz/gen_seeds.h"
#include "node/trust.h"
#include "node/units.h"
#include "sync/proof.h"

/* ---- a proof of equivocation ---- */

static int keep_proof(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    sn_buf *b = ctx;
    sn_buf_reset(b);
    return sn_buf_append(b, p, n, err);
}

/* The proof a store holding fuzz_origin_history makes when it meets a second history
 * that parts from it at commit 3, into `proof`. */
static void find_fork(sn_buf *proof)
{
    char dir[512], state[512];
    snprintf(dir, sizeof dir, "%s", fuzz_path("forker"));
    snprintf(state, sizeof state, "%s", fuzz_path("forker-state"));
    node_store *st = fuzz_store_new(dir, state, 101);
    static const char *const forged[] = {"Smith", "Jones", "Forged", "Green", "White"};
    sn_buf u;
    sn_buf_init(&u, SYNC_PROOF_MAX);
    fuzz_origin_history(&u);
    fuzz_store_take_unit(st, u.data, u.len);
    sn_buf_reset(&u);
    (void)fuzz_origin_unit(forged, 5, &u);
    fuzz_store_take_unit(st, u.data, u.len);
    sn_buf_free(&u);
    size_t n = 0;
    sn_err err = SN_ERR_INIT;
    if (node_store_export_proofs(st, keep_proof, proof, &n, &err) != 0 || n != 1)
        fuzz_fail("the forker's proof (%zu): %s", n, err.msg);
    node_store_close(st);
}

static void seeds_proof(const sn_buf *proof)
{
    static const char *const names[] = {"fork", "fork-signed", "fork-chained", "fork-offered",
                                        "fork-chained-offered"};
    for (unsigned mode = 0; mode < 5; mode++) {
        seed s;
        seed_begin(&s, mode);
        seed_put(&s, proof->data, proof->len);
        seed_save(&s, "proof", names[mode]);
    }
}

void seeds_equivocation(node_store *st)
{
    sn_buf proof;
    sn_buf_init(&proof, SYNC_PROOF_MAX);
    find_fork(&proof);
    seeds_proof(&proof);
    /* The sender holds the proof too, so what it sends carries one. */
    node_body b = {.p = proof.data, .n = proof.len};
    size_t fresh = 0;
    sn_err err = SN_ERR_INIT;
    if (node_trust_cert_add(st, &fuzz_keys()->origin_cert, &err) != 0 ||
        node_store_offer_proofs(st, &b, 1, &fresh, &err) != 0 || fresh != 1)
        fuzz_fail("giving the sender the proof: %s", err.msg);
    sn_buf_free(&proof);
}
