/* fuzz/fuzz_proof.c - proofs of equivocation (sync/proof.c: parse, verify) and their offer
 * to a real store (node/store_equiv.c: node_store_offer_proofs), which checks them under
 * the certificates it holds, keeps them, freezes the origin and takes back what it had
 * applied of the origin's commits from the proof's seq on.
 *
 * Input: mode u8 | a proof; mode % 5 picks:
 *   0 as received: parse; a proof that parses encodes back to exactly its bytes and is
 *     verified under the fixed origin's key;
 *   1 signed here: both checkpoints of a proof that parses are re-signed with the origin's
 *     key, so verification reaches both sides' chains; the proof is encoded, must parse
 *     again, and is verified;
 *   2 chained and signed here: as 1, but each checkpoint's link is first set to where its
 *     side's bodies lead from the side's link at the seq: the proof must then verify;
 *   3 as received, offered to the store;
 *   4 chained and signed here (as 2), offered to the store.
 * The store holds the fixed origin's certificate and its commits 1..4 (so a freeze has
 * commits to take back); it is made once, and afresh after an offer that succeeds.
 * Checks: failures say why; a refused offer leaves the store's counts, held vector,
 * equivocations and state as they were; an accepted one leaves the store passing
 * node_store_check with one freeze, of the proof's origin at its seq, and offering it again
 * changes nothing. */
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "node/units.h"
#include "sync/proof.h"

static node_store *g_store;

static void store_reset(void)
{
    node_store_close(g_store);
    g_store = fuzz_store_fresh(7);
    sn_buf u;
    sn_buf_init(&u, SYNC_PROOF_MAX);
    fuzz_origin_history(&u);
    fuzz_store_take_unit(g_store, u.data, u.len);
    sn_buf_free(&u);
}

static int encode(const sync_proof *pr, sn_buf *out, sn_err *err)
{
    int rc = sync_proof_begin(pr->seq, out, err);
    for (int i = 0; i < 2 && rc == 0; i++) {
        const sync_proof_side *s = &pr->side[i];
        rc = sync_proof_add_side(out, pr->seq, s->link, &s->cp, s->bodies, s->lens, err);
    }
    return rc;
}

static int parse(const uint8_t *p, size_t n, sync_proof *pr)
{
    sn_err err = SN_ERR_INIT;
    int rc = sync_proof_parse(p, n, pr, &err);
    fuzz_check_err(rc, &err, "sync_proof_parse");
    return rc;
}

/* Verify pr with the origin's key on both sides; `must` when the harness signed it and
 * chained it. */
static void verify(const sync_proof *pr, bool must)
{
    const fuzz_ids *k = fuzz_keys();
    uint8_t pk[2][SYNC_SIGN_PK_LEN];
    memcpy(pk[0], k->origin_pk, SYNC_SIGN_PK_LEN);
    memcpy(pk[1], k->origin_pk, SYNC_SIGN_PK_LEN);
    sn_err err = SN_ERR_INIT;
    int rc = sync_proof_verify(pr, (const uint8_t(*)[SYNC_SIGN_PK_LEN])pk, &err);
    fuzz_check_err(rc, &err, "sync_proof_verify");
    if (must && rc != 0)
        fuzz_fail("a proof chained and signed here does not verify: %s", err.msg);
}

/* ---- offered to the store ---- */

typedef struct equiv_seen {
    size_t n;
    node_equivocation first;
} equiv_seen;

static int see_equiv(void *ctx, const node_equivocation *e, sn_err *err)
{
    (void)err;
    equiv_seen *s = ctx;
    if (s->n++ == 0)
        s->first = *e;
    return 0;
}

static void offer(const uint8_t *p, size_t n)
{
    fuzz_store_state before;
    fuzz_store_state_take(g_store, &before);
    node_body b = {.p = p, .n = n};
    size_t fresh = 0;
    sn_err err = SN_ERR_INIT;
    int rc = node_store_offer_proofs(g_store, &b, 1, &fresh, &err);
    fuzz_store_expect(g_store, rc, &err, &before, "proof offer");
    if (rc != 0)
        return;
    sync_proof pr;
    if (parse(p, n, &pr) != 0)
        fuzz_fail("the store took a proof that does not parse");
    equiv_seen seen = {.n = 0};
    if (node_store_equivocations_each(g_store, see_equiv, &seen, &err) != 0)
        fuzz_fail("listing equivocations: %s", err.msg);
    if (fresh != 1 || seen.n != 1 || seen.first.seq != pr.seq || seen.first.proof_len != n ||
        !crdt_origin_equal(&seen.first.origin, &pr.side[0].cp.origin))
        fuzz_fail("a proof at seq %llu taken by a store with no freeze: %zu new, %zu kept, "
                  "the first at seq %llu", (unsigned long long)pr.seq, fresh, seen.n,
                  (unsigned long long)seen.first.seq);
    sync_proof_free(&pr);
    fuzz_store_state_take(g_store, &before);
    if (node_store_offer_proofs(g_store, &b, 1, &fresh, &err) != 0 || fresh != 0)
        fuzz_fail("a proof offered again: %s", err.msg[0] != '\0' ? err.msg : "a new freeze");
    fuzz_store_state_same(g_store, &before, "a proof offered again");
    fuzz_store_state_free(&before);
    store_reset();
}

/* ---- the modes ---- */

static void as_received(const uint8_t *p, size_t n, bool to_store)
{
    sync_proof pr;
    if (parse(p, n, &pr) == 0) {
        sn_buf b;
        sn_buf_init(&b, SYNC_PROOF_MAX);
        sn_err err = SN_ERR_INIT;
        fuzz_check_encoded(encode(&pr, &b, &err), &err, &b, p, n, "proof of equivocation");
        verify(&pr, false);
        sync_proof_free(&pr);
    }
    if (to_store)
        offer(p, n);
}

/* Re-sign both checkpoints with the origin's key, after setting their links to where
 * their sides' bodies lead when `chain`. */
static void signed_here(const uint8_t *p, size_t n, bool chain, bool to_store)
{
    sync_proof pr;
    if (parse(p, n, &pr) != 0)
        return;
    for (int i = 0; i < 2; i++) {
        sync_proof_side *s = &pr.side[i];
        if (chain) {
            memcpy(s->cp.link, s->link, SYNC_LINK_LEN);
            for (uint32_t k = 0; k < s->count; k++)
                sync_chain_next(s->cp.link, s->cp.link, s->bodies[k], s->lens[k]);
        }
        sync_checkpoint_sign(&s->cp, fuzz_keys()->origin_sk);
    }
    sn_buf b;
    sn_buf_init(&b, SYNC_PROOF_MAX);
    sn_err err = SN_ERR_INIT;
    if (encode(&pr, &b, &err) != 0)
        fuzz_fail("a parsed proof signed here does not encode: %s", err.msg);
    sync_proof_free(&pr);
    if (parse(b.data, b.len, &pr) != 0)
        fuzz_fail("a proof signed here does not parse");
    verify(&pr, chain);
    sync_proof_free(&pr);
    if (to_store)
        offer(b.data, b.len);
    sn_buf_free(&b);
}

static void received(fuzz_in *in) { as_received(in->p, in->n, false); }
static void signed_only(fuzz_in *in) { signed_here(in->p, in->n, false, false); }
static void chained(fuzz_in *in) { signed_here(in->p, in->n, true, false); }
static void received_offered(fuzz_in *in) { as_received(in->p, in->n, true); }
static void chained_offered(fuzz_in *in) { signed_here(in->p, in->n, true, true); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_mode modes[] = {received, signed_only, chained, received_offered,
                                      chained_offered};
    fuzz_init();
    if (g_store == NULL) /* before fuzz_run counts allocations: the store lives on */
        store_reset();
    return fuzz_run(data, size, modes, 5, "fuzz_proof");
}
