/* tests/schema_fixture.h - helpers shared by the schema suites (check_schema_codec.c,
 * check_schema_hostile.c, check_schema_value_bytes.c): commits built by hand or at random,
 * random values, encoding and decoding commit bodies where the sanitizers can see every byte,
 * and a tiny msgpack writer for hand-made bodies. Helpers assert (ck_assert) instead of
 * returning an error, so a failing step fails the test where it happens; the decode helpers
 * return the decoder's code because that code is what the tests look at. */
#ifndef SN_TESTS_SCHEMA_FIXTURE_H
#define SN_TESTS_SCHEMA_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "crdt/vv.h"
#include "schema/codec.h"
#include "schema/value.h"
#include "tests/support.h"

/* ---- building commits -------------------------------------------------------------- */

/* A commit built by a test: schema SCHEMA_VERSION, origin replica a1 00.., seq 1, a fixed hlc,
 * author "ana", no entered-by. Arrays come from sn_calloc and are freed by gen_free; TEXT and
 * BLOB values may borrow `pool`, which gen_new fills with 'a'..'z'. */
typedef struct gen {
    schema_commit c;
    uint8_t pool[512];
    char author[SCHEMA_NAME_MAX + 1];
    char entered[SCHEMA_NAME_MAX + 1];
} gen;

/* A new commit with `nchanges` zeroed changes for gen_insert / gen_set to fill. */
gen *gen_new(size_t nchanges);
/* Free g, its changes' fields and contexts. NULL is a no-op. */
void gen_free(gen *g);
/* Make change i an insert into `table` of the row whose id is 01, zeros with 70 at byte 6,
 * then `row`; with `nfields` zeroed fields (sn_calloc) for the caller to fill in increasing
 * column order. */
schema_change *gen_insert(gen *g, size_t i, uint16_t table, uint8_t row, size_t nfields);
/* Make change i a set of column `col` of that row to `v`, with an empty context. */
schema_change *gen_set(gen *g, size_t i, uint16_t table, uint8_t row, uint16_t col,
                       schema_value v);
/* The origin whose replica id is `id`, zeros, then id ^ 5a, at `epoch`. */
crdt_origin gen_origin(uint8_t id, uint32_t epoch);
/* Raise set `ch`'s context to (o, seq). */
void gen_ctx_add(schema_change *ch, crdt_origin o, uint64_t seq);

/* A random value of any kind. TEXT and BLOB values borrow `pool` (pool_len > 40): one text
 * in `long_text_one_in` may be as long as the pool, the others and every blob are under 40
 * bytes. A 16-byte blob is ambiguous with an id and refused by the encoder, so that draw
 * gives a blob of `blob16_len` bytes instead. (The commit and value suites were written with
 * different mixes; each keeps its own so that its seeded inputs stay as they were.) */
schema_value gen_random_value(test_rng *r, const uint8_t *pool, size_t pool_len,
                              uint32_t long_text_one_in, size_t blob16_len);
/* A random, well-formed commit: any header values, 1 to 150 changes on any tables (known or
 * not), any value kinds. Free with gen_free. */
gen *gen_random(test_rng *r);

/* ---- encoding and decoding commits ------------------------------------------------- */

/* Initialise *b (limit 1 MiB) and encode c into it, which must succeed ("seed N" in the
 * message). The caller frees b with sn_buf_free. */
void commit_encode_ok(const schema_commit *c, sn_buf *b, int seed);
/* Decode p[0..n) from an exact-size heap copy so the sanitizers see any read past the end.
 * Returns schema_commit_decode's code. *copy is the caller's, freed with free() after the
 * commit, which borrows it. */
int commit_decode_copy(const uint8_t *p, size_t n, schema_commit **out, uint8_t **copy,
                       sn_err *err);
/* Decode p[0..n) as above and free everything; asserts that a failure leaves no commit.
 * Returns schema_commit_decode's code. */
int commit_decode_rc(const uint8_t *p, size_t n, sn_err *err);
/* Decoding p[0..n) fails with SN_ECORRUPT, a message containing `needle` (when not NULL),
 * and no allocation left live. `seed` goes into every failure message. */
void commit_expect_corrupt(const uint8_t *p, size_t n, const char *needle, int seed);
/* Commits a and b are equal field by field, values and contexts included. */
void commit_assert_equal(const schema_commit *a, const schema_commit *b, int seed);

/* ---- hand-made bodies -------------------------------------------------------------- */

/* A tiny msgpack writer for hand-made hostile bodies (tests may not include msgpack.h). Every
 * writer asserts the 16 KiB buffer has room. Start with `mpb m = {.n = 0};`. */
typedef struct mpb {
    uint8_t b[16384];
    size_t n;
} mpb;

/* One raw byte. */
void mpb_byte(mpb *m, uint8_t x);
/* An unsigned integer in its shortest form. */
void mpb_uint(mpb *m, uint64_t v);
/* An array header for n elements (fixarray or array 16; n <= 65535). */
void mpb_array(mpb *m, uint32_t n);
/* A bin 8 of p[0..n) (n <= 255). */
void mpb_bin(mpb *m, const uint8_t *p, size_t n);
/* A fixstr of the NUL-terminated s (under 32 bytes). */
void mpb_str(mpb *m, const char *s);
/* Bytes written as hex digits; spaces are ignored. */
void mpb_hex(mpb *m, const char *hex);

/* A valid record id (UUIDv7 version and variant bits) for hand-made bodies. */
extern const uint8_t ID_A[16];

#endif
