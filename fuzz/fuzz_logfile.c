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
 * counts, held vector, equivocations and state as they were (the import is one batch). */
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "fuzz/fuzz_common.h"
#include "node/logfile.h"

#define LOG_HEADER 16
#define LOG_TRAILER 32
#define LOG_SEC_UNIT 3
#define LOG_SEC_HEAD 4

static node_store *g_store;

static void store_reset(void)
{
    node_store_close(g_store);
    g_store = fuzz_store_fresh(7);
}

/* Walk the sections of a file (without its checksum) as node/logfile.c lays them out. */
static void reseal_file(fuzz_resealer *r, uint8_t *p, size_t n)
{
    for (size_t off = LOG_HEADER; n >= 5 && off <= n - 5;) {
        uint8_t kind = p[off];
        size_t len = sn_load_u32be(p + off + 1);
        off += 5;
        if (len > n - off)
            break;
        if (kind == LOG_SEC_UNIT)
            fuzz_reseal_unit(r, p + off, len);
        else if (kind == LOG_SEC_HEAD)
            fuzz_resign_checkpoint(r, p + off, len);
        off += len;
    }
}

static void import(const uint8_t *file, size_t n)
{
    const char *path = fuzz_path("in.log");
    fuzz_write_file(path, file, n);
    fuzz_store_state before;
    fuzz_store_state_take(g_store, &before);
    node_logfile_stats stats;
    sn_err err = SN_ERR_INIT;
    int rc = node_logfile_import(g_store, path, &stats, &err);
    fuzz_store_expect(g_store, rc, &err, &before, "node_logfile_import");
    if (rc == 0)
        store_reset();
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
        fuzz_resealer r = {.sk = sk};
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
