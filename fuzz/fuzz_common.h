/* fuzz/fuzz_common.h - what the fuzz targets (fuzz/fuzz_<name>.c) share: one-time set-up,
 * a cursor that cuts an input into fields, fixed keys and certificates (so seeds made by
 * fuzz/gen_seeds.c stay valid), temporary files, and the checks every target makes.
 *
 * Each target defines LLVMFuzzerTestOneInput and is built twice: with clang and libFuzzer
 * (`make fuzz`), and with the project's compiler against fuzz/replay_main.c, which feeds it
 * the committed corpus in tests/fuzz/<name>/ (`make test`, `make check`). A failed check
 * aborts, so both builds report it as a crash. */
#ifndef SN_FUZZ_COMMON_H
#define SN_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "crdt/vv.h"
#include "node/store.h"
#include "sync/cert.h"
#include "sync/noise.h"
#include "sync/unit.h"

/* libFuzzer's entry point, defined once per target. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Once per process (later calls do nothing): libsodium, logging quietened to errors, and a
 * temporary directory removed at exit. Aborts when any of it fails. */
void fuzz_init(void);

/* Abort with a message on stderr: a check of the code under test failed. */
_Noreturn void fuzz_fail(const char *fmt, ...) SN_PRINTF(1, 2);

/* ---- running a target ---- */

typedef struct fuzz_in fuzz_in;
/* One way a target reads its input: what follows the mode byte, or all of it. */
typedef void (*fuzz_mode)(fuzz_in *in);

/* The body of every LLVMFuzzerTestOneInput: fuzz_init, then the mode the first byte picks
 * (modulo n; with n == 1 no byte is read and the whole input goes to modes[0]), then a
 * check that it left no project allocation behind (`name` says whose). Returns 0. */
int fuzz_run(const uint8_t *data, size_t size, const fuzz_mode *modes, size_t n,
             const char *name);

/* ---- cutting an input into fields ---- */

/* Fields are read from the front; a read past the end gives zeros or fewer bytes, never
 * fails, so every input means something. */
struct fuzz_in {
    const uint8_t *p;
    size_t n;
};

uint8_t fuzz_u8(fuzz_in *in);
uint16_t fuzz_u16(fuzz_in *in); /* big-endian */
/* A piece: u16be length, then that many bytes (fewer when the input ends first). */
void fuzz_piece(fuzz_in *in, const uint8_t **p, size_t *n);
/* The writing side, for fuzz/gen_seeds.c: append a piece to `out`. */
SN_NODISCARD int fuzz_put_piece(sn_buf *out, const uint8_t *p, size_t n, sn_err *err);

/* ---- fixed identities ---- */

/* Wall clock the targets verify against: inside every fixed certificate's validity. */
#define FUZZ_NOW_S UINT64_C(1700000000)

/* Keys derived from constants: the deployment CA, one node ("the origin") whose
 * certificate the CA issued, Noise keys for both sides of a handshake, and the bundle key
 * pair of every store the harness makes. The origin's certificate carries the initiator's
 * static Noise key. */
typedef struct fuzz_ids {
    uint8_t ca_pk[SYNC_SIGN_PK_LEN], ca_sk[SYNC_SIGN_SK_LEN];
    sync_cert ca_root;
    uint8_t origin_pk[SYNC_SIGN_PK_LEN], origin_sk[SYNC_SIGN_SK_LEN];
    sync_cert origin_cert;
    uint8_t init_s_sk[32], init_s_pk[32], init_e_sk[32], init_e_pk[32];
    uint8_t resp_s_sk[32], resp_s_pk[32], resp_e_sk[32], resp_e_pk[32];
    uint8_t stream_key[32]; /* a secretstream key for the framing */
    uint8_t store_box_sk[32], store_box_pk[32]; /* X25519: bundles are sealed to it */
} fuzz_ids;

/* Made at the first call; borrowed for the life of the process. */
const fuzz_ids *fuzz_keys(void);

/* Start `hs` as the initiator or responder with its fixed static and ephemeral keys and
 * the protocol's prologue, exactly as node/link.c starts a handshake. */
void fuzz_noise_start(sync_noise *hs, bool initiator);
/* Write the next handshake message with payload p[0..n) into out (SYNC_NOISE_MSG_MAX
 * bytes); the harness's own side must never fail, so this aborts when it does. */
size_t fuzz_noise_write(sync_noise *hs, const uint8_t *p, size_t n, uint8_t *out);
/* The same carrying the payload node/link.c sends in message 2 or 3 (fuzz_hs_payload). */
size_t fuzz_noise_write_payload(sync_noise *hs, uint8_t *out);
/* Read a peer's message: returns sync_noise_read's code, with the payload in payload
 * (SYNC_NOISE_MSG_MAX bytes) and its length in *plen. Checks that a failure leaves the
 * state wiped, as sync/noise.h promises. */
int fuzz_noise_read(sync_noise *hs, const uint8_t *msg, size_t n, uint8_t *payload,
                    size_t *plen);
/* Both sides finished: split each and check they agree on keys and handshake hash. b may
 * be NULL (only a's split is checked to succeed). Wipes both. */
void fuzz_noise_finish(sync_noise *a, sync_noise *b);
/* The payload a side sends in handshake message 2 or 3, as node/link.c builds it: the
 * origin's certificate, the fixed clock and a revocation list number. */
SN_NODISCARD int fuzz_hs_payload(sn_buf *out, sn_err *err);
/* What node/link.c does with a peer's handshake payload before it consults its store:
 * parse the payload, parse the certificate, verify it against the fixed CA. */
void fuzz_take_hs_payload(const uint8_t *p, size_t n);

/* A new store in directory `dir` (its instance tokens in `state_dir`) on a clock fixed at
 * FUZZ_NOW_S, enrolled with the fixed CA under certificate `serial`. Its bundle key pair
 * is the fixed one (store_box_*), so bundles sealed to it when the seeds were made open in
 * every store the harness makes; its other keys and its replica id are random. Aborts on
 * failure. */
node_store *fuzz_store_new(const char *dir, const char *state_dir, uint64_t serial);
/* The same in the temporary directory's "store" (tokens in "state"), removing what a
 * store made there before left (close it first): a fresh store for each input. */
node_store *fuzz_store_fresh(uint64_t serial);

/* ---- the state of a store ---- */

/* What a refused import or offer must leave as it was: the store's counts, held vector,
 * equivocations kept and state digest. */
typedef struct fuzz_store_state {
    node_counts counts;
    crdt_vv held;
    sn_buf equiv; /* each equivocation kept: origin, seq, bytes of its proof */
    uint8_t digest[16];
} fuzz_store_state;

/* Read st's state into *out (free it with fuzz_store_state_free). Aborts on failure. */
void fuzz_store_state_take(node_store *st, fuzz_store_state *out);
void fuzz_store_state_free(fuzz_store_state *s);
/* Abort unless st is in state `before` (`what` says what was done to it). */
void fuzz_store_state_same(node_store *st, const fuzz_store_state *before, const char *what);
/* After a call on st that returned rc (`err`; `what` names the call) from state `before`:
 * a refusal must say why (fuzz_check_err) and leave the store as it was, a success must
 * leave it passing node_store_check. Frees before. */
void fuzz_store_expect(node_store *st, int rc, const sn_err *err, fuzz_store_state *before,
                       const char *what);

/* ---- the fixed origin's history ---- */

/* Commit `seq` of the fixed origin (epoch 1): the insert of one patient, family name
 * `family`, row id bytes 0x40 + seq. Into `out`, initialised here (the caller frees). */
void fuzz_origin_commit(uint64_t seq, const char *family, sn_buf *out);
/* Bodies b[0..n) (seqs 1..n of one origin, as they claim) as one unit appended to `out`,
 * its checkpoint signed with sk under certificate `serial`; returns the checkpoint. */
sync_checkpoint fuzz_unit_make(const uint8_t *const *b, const size_t *lens, size_t n,
                               uint64_t serial, const uint8_t *sk, sn_buf *out);
/* The fixed origin's commits 1..n (n <= 8), of the given family names, as one unit signed
 * with its key, appended to `out`; returns its checkpoint. */
sync_checkpoint fuzz_origin_unit(const char *const *families, size_t n, sn_buf *out);
/* The history the proof target's store holds and the proof seeds fork from: the fixed
 * origin's commits 1..4 in one unit, appended to `out`. */
void fuzz_origin_history(sn_buf *out);
/* Give st the fixed origin's certificate, then take the unit u[0..n) and apply what it
 * brings (a unit that contradicts what st holds is found as equivocation). Aborts on
 * failure. */
void fuzz_store_take_unit(node_store *st, const uint8_t *u, size_t n);

/* ---- re-sealing units and checkpoints ---- */

/* The link after the last unit re-sealed for an origin. */
typedef struct fuzz_chain_end {
    crdt_origin origin;
    uint64_t seq;
    uint8_t link[32];
} fuzz_chain_end;

#define FUZZ_CHAINS_MAX 16

/* Re-seals units with one signing key, following each origin's chain from one unit to the
 * next. Zero-initialise it and set sk (an Ed25519 secret key, borrowed). */
typedef struct fuzz_resealer {
    const uint8_t *sk;
    fuzz_chain_end ends[FUZZ_CHAINS_MAX];
    size_t n;
} fuzz_resealer;

/* In place: recompute the chain of the unit at p[0..n) from seq 1, or from the end of the
 * unit last re-sealed for its origin when it follows it, and sign its checkpoint with sk.
 * A unit that does not parse, or follows nothing known, is left as it is. */
void fuzz_reseal_unit(fuzz_resealer *r, uint8_t *p, size_t n);
/* In place: sign the checkpoint at p[0..n) with sk, with the re-sealed link when a unit
 * re-sealed earlier ends at its seq. One that does not parse is left as it is. */
void fuzz_resign_checkpoint(fuzz_resealer *r, uint8_t *p, size_t n);

/* ---- commit bodies ---- */

/* Decode a commit body as a receiving store does (schema_commit_decode, then
 * schema_commit_check) and check that schema_commit_peek agrees with the decoder, and that
 * a decoded commit which encodes again decodes to one that encodes to the same bytes. */
void fuzz_commit_body(const uint8_t *p, size_t n);

/* ---- checks ---- */

/* A call returned rc: when negative it must be one of base/err.h's codes and `err` must
 * say what went wrong (STYLE.md section 4). `what` names the call in the abort message. */
void fuzz_check_err(int rc, const sn_err *err, const char *what);
/* The two byte strings are equal (a round trip through a decoder and an encoder). */
void fuzz_check_same(const uint8_t *a, size_t an, const uint8_t *b, size_t bn,
                     const char *what);
/* An encoder returned rc having appended to b, fed an object decoded from p[0..n): it
 * must succeed and write exactly those bytes (the formats have one encoding). `what` names
 * the format. Frees b. */
void fuzz_check_encoded(int rc, const sn_err *err, sn_buf *b, const uint8_t *p, size_t n,
                        const char *what);
/* Project allocations live now (0 in builds without the counting allocator). */
long fuzz_live(void);
/* As many project allocations are live as at `mark`: nothing leaked through sn_malloc. */
void fuzz_live_check(long mark, const char *what);

/* ---- files ---- */

/* `name` inside the process's temporary directory, in a static buffer. */
const char *fuzz_path(const char *name);
/* Remove `path` and everything below it; a missing path is not an error. */
void fuzz_remove_tree(const char *path);
/* Replace the file at `path` with p[0..n). Aborts when it cannot. */
void fuzz_write_file(const char *path, const uint8_t *p, size_t n);

#endif
