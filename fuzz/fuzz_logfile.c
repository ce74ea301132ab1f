/* fuzz/fuzz_logfile.c - log file import (node/logfile.c: node_logfile_import) into a real
 * store enrolled with the fixed CA: the file's frame and checksum, then certificates
 * (chained to the CA, node/store_trust.c), the revocation list, signed units
 * (node/store_units.c) with their commit bodies, head checkpoints, and apply.
 *
 * Input: mode u8 | rest; mode % 3 picks:
 *   0 the file as received (random bytes stop at the checksum);
 *   1 rest is the file without its 32-byte checksum, which the harness appends;
 *   2 rest is sk (64 bytes, an origin's Ed25519 secret key) | the file without its
 *     checksum: the harness re-seals every unit it can follow (its chain from seq 1 is
 *     recomputed and its checkpoint signed with sk) and re-signs every head, then appends
 *     the checksum, so mutated commit bodies reach decoding, storing and apply. The seeds
 *     carry the key of the store that exported them.
 * The store is made once; an import that succeeds changes it, so it is then checked
 * (node_store_check) and made afresh. Checks: a refusal says why and leaves the store's
 * counts and held vector as they were (the import is one batch). */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "fuzz/fuzz_common.h"
#include "node/logfile.h"
#include "sync/unit.h"

#define LOG_HEADER 16
#define LOG_TRAILER 32
#define LOG_SEC_UNIT 3
#define LOG_SEC_HEAD 4
#define UNIT_CHECKPOINT_AT 20 /* a unit's checkpoint, after magic, version, first, count */

static node_store *g_store;

/* Make the store afresh in the temporary directory. */
static void store_reset(void)
{
    node_store_close(g_store);
    char dir[512], state[512];
    snprintf(dir, sizeof dir, "%s", fuzz_path("store"));
    snprintf(state, sizeof state, "%s", fuzz_path("state"));
    fuzz_remove_tree(dir);
    fuzz_remove_tree(state);
    g_store = fuzz_store_new(dir, state, 7);
}

/* The chain end of the units re-sealed so far, per origin. */
typedef struct chain_end {
    crdt_origin origin;
    uint64_t seq;
    uint8_t link[SYNC_LINK_LEN];
} chain_end;

#define CHAINS_MAX 16

typedef struct resealer {
    const uint8_t *sk;
    chain_end ends[CHAINS_MAX];
    size_t n;
} resealer;

static chain_end *chain_of(resealer *r, const crdt_origin *o)
{
    for (size_t i = 0; i < r->n; i++)
        if (crdt_origin_equal(&r->ends[i].origin, o))
            return &r->ends[i];
    return NULL;
}

/* Re-seal the unit at p[0..n) in place when its predecessor's link is known. */
static void reseal_unit(resealer *r, uint8_t *p, size_t n)
{
    sync_unit u;
    if (sync_unit_parse(p, n, &u, NULL) != 0)
        return;
    chain_end *end = chain_of(r, &u.cp.origin);
    static const uint8_t zero[SYNC_LINK_LEN];
    const uint8_t *prev = u.first == 1 ? zero : end != NULL && end->seq + 1 == u.first ?
                                                end->link : NULL;
    if (prev != NULL && end == NULL && r->n < CHAINS_MAX) {
        end = &r->ends[r->n++];
        end->origin = u.cp.origin;
    }
    if (prev != NULL && end != NULL) {
        uint8_t link[SYNC_LINK_LEN];
        memcpy(link, prev, sizeof link);
        for (uint32_t i = 0; i < u.count; i++)
            sync_chain_next(link, link, u.bodies[i], u.lens[i]);
        memcpy(u.cp.link, link, sizeof link);
        memcpy(end->link, link, sizeof link);
        end->seq = u.cp.seq;
        sync_checkpoint_sign(&u.cp, r->sk);
        sync_checkpoint_encode(&u.cp, p + UNIT_CHECKPOINT_AT);
    }
    sync_unit_free(&u);
}

/* Re-sign the head checkpoint at p[0..n) in place, with the re-sealed link at its seq. */
static void resign_head(resealer *r, uint8_t *p, size_t n)
{
    sync_checkpoint cp;
    if (sync_checkpoint_parse(p, n, &cp, NULL) != 0)
        return;
    chain_end *end = chain_of(r, &cp.origin);
    if (end != NULL && end->seq == cp.seq)
        memcpy(cp.link, end->link, sizeof cp.link);
    sync_checkpoint_sign(&cp, r->sk);
    sync_checkpoint_encode(&cp, p);
}

/* Walk the sections of a file (without its checksum) as node/logfile.c lays them out. */
static void reseal_file(resealer *r, uint8_t *p, size_t n)
{
    for (size_t off = LOG_HEADER; n >= 5 && off <= n - 5;) {
        uint8_t kind = p[off];
        size_t len = sn_load_u32be(p + off + 1);
        off += 5;
        if (len > n - off)
            break;
        if (kind == LOG_SEC_UNIT)
            reseal_unit(r, p + off, len);
        else if (kind == LOG_SEC_HEAD)
            resign_head(r, p + off, len);
        off += len;
    }
}

typedef struct store_state {
    node_counts counts;
    crdt_vv held;
} store_state;

static store_state state_of(void)
{
    store_state s;
    crdt_vv_init(&s.held);
    sn_err err = SN_ERR_INIT;
    if (node_store_counts(g_store, &s.counts, &err) != 0 ||
        node_store_held(g_store, &s.held, &err) != 0)
        fuzz_fail("reading the store's state: %s", err.msg);
    return s;
}

static void import(const uint8_t *file, size_t n)
{
    const char *path = fuzz_path("in.log");
    fuzz_write_file(path, file, n);
    store_state before = state_of();
    node_logfile_stats stats;
    sn_err err = SN_ERR_INIT;
    int rc = node_logfile_import(g_store, path, &stats, &err);
    fuzz_check_err(rc, &err, "node_logfile_import");
    if (rc != 0) {
        store_state after = state_of();
        if (memcmp(&before.counts, &after.counts, sizeof before.counts) != 0 ||
            !crdt_vv_equal(&before.held, &after.held))
            fuzz_fail("a refused import (%s) changed the store", err.msg);
        crdt_vv_free(&after.held);
    } else {
        sn_err_clear(&err);
        if (node_store_check(g_store, &err) != 0)
            fuzz_fail("the store fails its invariants after an import: %s", err.msg);
        store_reset();
    }
    crdt_vv_free(&before.held);
}

static void as_received(fuzz_in *in) { import(in->p, in->n); }

/* Import in->p[0..n) with its checksum appended, re-sealed with sk first unless NULL. */
static void import_checksummed(fuzz_in *in, const uint8_t *sk)
{
    uint8_t *file = sn_malloc(in->n + LOG_TRAILER);
    if (file == NULL)
        fuzz_fail("out of memory for a file of %zu bytes", in->n);
    if (in->n > 0)
        memcpy(file, in->p, in->n);
    if (sk != NULL) {
        resealer r = {.sk = sk};
        reseal_file(&r, file, in->n);
    }
    sn_blake2b(file + in->n, LOG_TRAILER, file, in->n);
    import(file, in->n + LOG_TRAILER);
    sn_free(file);
}

static void checksummed(fuzz_in *in) { import_checksummed(in, NULL); }

static void resealed(fuzz_in *in)
{
    if (in->n < SYNC_SIGN_SK_LEN)
        return;
    fuzz_in file = {in->p + SYNC_SIGN_SK_LEN, in->n - SYNC_SIGN_SK_LEN};
    import_checksummed(&file, in->p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_mode modes[] = {as_received, checksummed, resealed};
    fuzz_init();
    if (g_store == NULL) /* before fuzz_run counts allocations: the store lives on */
        store_reset();
    return fuzz_run(data, size, modes, 3, "fuzz_logfile");
}
