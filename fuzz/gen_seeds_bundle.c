/* fuzz/gen_seeds_bundle.c - the seeds of the proof and bundle targets, made by real stores:
 * a store holding the fixed origin's history takes a second history of it and finds the
 * fork, and its proof of equivocation becomes the proof seeds; then the sender of
 * fuzz/gen_seeds_store.c takes that proof and makes a bundle (and an acknowledgement) for
 * a node holding the fixed bundle key, which become the bundle seeds as files and as the
 * records inside them. */
#include <stdio.h>
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "fuzz/gen_seeds.h"
#include "node/bundle.h"
#include "node/fileio.h"
#include "node/keyfile.h"
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

/* ---- bundles ---- */

/* The certificate of a node holding the fixed bundle key, as the sender knows it. */
static sync_cert recipient(void)
{
    const fuzz_ids *k = fuzz_keys();
    sync_cert c = {.type = SYNC_CERT_NODE, .serial = 7, .valid_after = 1,
                   .valid_before = 4000000000u};
    memset(c.replica, 0x7e, sizeof c.replica);
    memcpy(c.box_pk, k->store_box_pk, sizeof c.box_pk);
    snprintf(c.name, sizeof c.name, "%s", "Fuzz store");
    sn_err err = SN_ERR_INIT;
    if (sync_cert_sign(&c, k->ca_sk, &err) != 0)
        fuzz_fail("the recipient's certificate: %s", err.msg);
    return c;
}

/* A bundle from st for the recipient into *file (read back whole). */
static void make_bundle(node_store *st, bool ack, sn_buf *file)
{
    sync_cert rcpt = recipient();
    node_bundle_opts o = {.ack_only = ack};
    const char *path = fuzz_path("sent.snb");
    sn_err err = SN_ERR_INIT;
    if (node_bundle_create(st, &rcpt, path, &o, NULL, &err) != 0 ||
        node_file_read(path, NODE_BUNDLE_FILE_MAX, file, &err) != 0)
        fuzz_fail("the sender's bundle: %s", err.msg);
}

/* The records inside a bundle, opened with the fixed bundle key. */
static void bundle_records(const sn_buf *file, sn_buf *recs)
{
    const fuzz_ids *k = fuzz_keys();
    sync_bundle_header h;
    uint8_t key[SYNC_BOX_KEY_LEN];
    size_t count;
    sn_err err = SN_ERR_INIT;
    sn_buf_init(recs, NODE_BUNDLE_FILE_MAX);
    if (sync_bundle_header_parse(file->data, file->len, &h, &err) != 0 ||
        sync_bundle_unseal(&h, k->store_box_pk, k->store_box_sk, key, &err) != 0 ||
        sync_bundle_body_open(&h, file->data, file->len, key, recs, &count, &err) != 0)
        fuzz_fail("opening the sender's bundle: %s", err.msg);
}

void seeds_bundle(node_store *st, const char *dir)
{
    sn_buf file, recs;
    make_bundle(st, true, &file);
    seed s;
    seed_begin(&s, 0);
    seed_put(&s, file.data, file.len);
    seed_save(&s, "bundle", "ack");
    sn_buf_free(&file);

    make_bundle(st, false, &file);
    seed_begin(&s, 0);
    seed_put(&s, file.data, file.len);
    seed_save(&s, "bundle", "sent");
    seed_begin(&s, 1);
    seed_put(&s, file.data, file.len);
    seed_save(&s, "bundle", "sent-opened");
    bundle_records(&file, &recs);
    sn_buf_free(&file);
    /* The header of mode 2: LAST, part 1, 180 days to live. */
    static const uint8_t meta[3] = {SYNC_BUNDLE_LAST, 0, 180};
    seed_begin(&s, 2);
    seed_put(&s, meta, sizeof meta);
    seed_put(&s, recs.data, recs.len);
    seed_save(&s, "bundle", "records");
    sync_keys keys;
    sn_err err = SN_ERR_INIT;
    if (node_keyfile_load(dir, &keys, &err) != 0)
        fuzz_fail("the sender's keys: %s", err.msg);
    seed_begin(&s, 3);
    seed_put(&s, keys.sign_sk, sizeof keys.sign_sk);
    seed_put(&s, meta, sizeof meta);
    seed_put(&s, recs.data, recs.len);
    seed_save(&s, "bundle", "records-resealed");
    sync_keys_wipe(&keys);
    sn_buf_free(&recs);
}
