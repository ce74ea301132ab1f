/* fuzz/fuzz_common.c - the fuzz targets' shared harness (see fuzz_common.h). */
#include "fuzz/fuzz_common.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/log.h"
#include "node/units.h"
#include "schema/codec.h"

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: check failed: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* ---- cutting an input into fields ---- */

uint8_t fuzz_u8(fuzz_in *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

uint16_t fuzz_u16(fuzz_in *in)
{
    uint16_t hi = fuzz_u8(in);
    return (uint16_t)(hi << 8 | fuzz_u8(in));
}

void fuzz_piece(fuzz_in *in, const uint8_t **p, size_t *n)
{
    size_t want = fuzz_u16(in);
    *n = want < in->n ? want : in->n;
    *p = in->p;
    in->p += *n;
    in->n -= *n;
}

int fuzz_run(const uint8_t *data, size_t size, const fuzz_mode *modes, size_t n,
             const char *name)
{
    fuzz_init();
    long mark = fuzz_live();
    fuzz_in in = {data, size};
    size_t pick = n > 1 ? fuzz_u8(&in) % n : 0;
    modes[pick](&in);
    fuzz_live_check(mark, name);
    return 0;
}

int fuzz_put_piece(sn_buf *out, const uint8_t *p, size_t n, sn_err *err)
{
    if (n > UINT16_MAX)
        return sn_err_set(err, SN_ETOOBIG, "a fuzz input piece of %zu bytes is too long", n);
    int rc = sn_buf_put_u16be(out, (uint16_t)n, err);
    return rc == 0 ? sn_buf_append(out, p, n, err) : rc;
}

/* ---- commit bodies ---- */

/* Encode c into out (reset first): 0, or the encoder's code (c holds what it cannot). */
static int encode_commit(const schema_commit *c, sn_buf *out)
{
    sn_err err = SN_ERR_INIT;
    sn_buf_reset(out);
    int rc = schema_commit_encode(c, out, &err);
    fuzz_check_err(rc, &err, "schema_commit_encode");
    return rc;
}

void fuzz_commit_body(const uint8_t *p, size_t n)
{
    sn_err err = SN_ERR_INIT;
    schema_commit *c = NULL;
    int rc = schema_commit_decode(p, n, &c, &err);
    fuzz_check_err(rc, &err, "schema_commit_decode");
    crdt_origin o;
    uint64_t seq;
    crdt_hlc hlc;
    uint32_t version;
    sn_err perr = SN_ERR_INIT;
    int prc = schema_commit_peek(p, n, &o, &seq, &hlc, &version, &perr);
    fuzz_check_err(prc, &perr, "schema_commit_peek");
    if (rc != 0)
        return;
    if (prc != 0 || !crdt_origin_equal(&o, &c->origin) || seq != c->seq || hlc != c->hlc ||
        version != c->schema_version)
        fuzz_fail("schema_commit_peek disagrees with schema_commit_decode");
    bool unknown = false;
    rc = schema_commit_check(c, &unknown, &err);
    fuzz_check_err(rc, &err, "schema_commit_check");
    sn_buf once, twice;
    sn_buf_init(&once, SCHEMA_COMMIT_MAX);
    sn_buf_init(&twice, SCHEMA_COMMIT_MAX);
    if (encode_commit(c, &once) == 0) {
        schema_commit *again = NULL;
        sn_err_clear(&err);
        if (schema_commit_decode(once.data, once.len, &again, &err) != 0)
            fuzz_fail("a decoded commit, encoded again, does not decode: %s", err.msg);
        if (encode_commit(again, &twice) != 0)
            fuzz_fail("a commit decoded from an encoding does not encode");
        fuzz_check_same(once.data, once.len, twice.data, twice.len,
                        "commit encoded, decoded and encoded again");
        schema_commit_free(again);
    }
    sn_buf_free(&once);
    sn_buf_free(&twice);
    schema_commit_free(c);
}

/* ---- checks ---- */

void fuzz_check_err(int rc, const sn_err *err, const char *what)
{
    if (rc >= 0)
        return;
    if (strcmp(sn_err_name(rc), "EUNKNOWN") == 0)
        fuzz_fail("%s returned the unknown code %d", what, rc);
    if (err->msg[0] == '\0')
        fuzz_fail("%s failed with %s and no message", what, sn_err_name(rc));
}

void fuzz_check_same(const uint8_t *a, size_t an, const uint8_t *b, size_t bn, const char *what)
{
    if (an != bn)
        fuzz_fail("%s: %zu bytes, then %zu", what, an, bn);
    for (size_t i = 0; i < an; i++)
        if (a[i] != b[i])
            fuzz_fail("%s: byte %zu of %zu differs (0x%02x, then 0x%02x)", what, i, an, a[i],
                      b[i]);
}

void fuzz_check_encoded(int rc, const sn_err *err, sn_buf *b, const uint8_t *p, size_t n,
                        const char *what)
{
    if (rc != 0)
        fuzz_fail("a decoded %s does not encode: %s", what, err->msg);
    char again[96];
    snprintf(again, sizeof again, "%s decoded and encoded again", what);
    fuzz_check_same(p, n, b->data, b->len, again);
    sn_buf_free(b);
}

/* ---- the state of a store ---- */

static int keep_equiv(void *ctx, const node_equivocation *e, sn_err *err)
{
    sn_buf *b = ctx;
    int rc = sn_buf_append(b, e->origin.replica, sizeof e->origin.replica, err);
    if (rc == 0)
        rc = sn_buf_put_u32be(b, e->origin.epoch, err);
    if (rc == 0)
        rc = sn_buf_put_u64be(b, e->seq, err);
    if (rc == 0)
        rc = sn_buf_put_u64be(b, e->proof_len, err);
    return rc;
}

void fuzz_store_state_take(node_store *st, fuzz_store_state *out)
{
    crdt_vv_init(&out->held);
    sn_buf_init(&out->equiv, (size_t)1 << 20);
    sn_err err = SN_ERR_INIT;
    if (node_store_counts(st, &out->counts, &err) != 0 ||
        node_store_held(st, &out->held, &err) != 0 ||
        node_store_equivocations_each(st, keep_equiv, &out->equiv, &err) != 0 ||
        node_store_digest(st, out->digest, &err) != 0)
        fuzz_fail("reading the store's state: %s", err.msg);
}

void fuzz_store_state_free(fuzz_store_state *s)
{
    crdt_vv_free(&s->held);
    sn_buf_free(&s->equiv);
}

void fuzz_store_state_same(node_store *st, const fuzz_store_state *before, const char *what)
{
    fuzz_store_state now;
    fuzz_store_state_take(st, &now);
    const char *changed = NULL;
    if (memcmp(&before->counts, &now.counts, sizeof now.counts) != 0)
        changed = "counts";
    else if (!crdt_vv_equal(&before->held, &now.held))
        changed = "held vector";
    else if (before->equiv.len != now.equiv.len ||
             (now.equiv.len > 0 && memcmp(before->equiv.data, now.equiv.data, now.equiv.len) != 0))
        changed = "equivocations";
    else if (memcmp(before->digest, now.digest, sizeof now.digest) != 0)
        changed = "state digest";
    fuzz_store_state_free(&now);
    if (changed != NULL)
        fuzz_fail("%s changed the store's %s", what, changed);
}

void fuzz_store_expect(node_store *st, int rc, const sn_err *err, fuzz_store_state *before,
                       const char *what)
{
    fuzz_check_err(rc, err, what);
    char done[sizeof err->msg + 128];
    if (rc != 0) {
        snprintf(done, sizeof done, "a refused %.100s (%s)", what, err->msg);
        fuzz_store_state_same(st, before, done);
    } else {
        sn_err cerr = SN_ERR_INIT;
        if (node_store_check(st, &cerr) != 0)
            fuzz_fail("the store fails its invariants after %s: %s", what, cerr.msg);
    }
    fuzz_store_state_free(before);
}

long fuzz_live(void)
{
#ifdef SN_TESTABLE
    return sn_alloc_live();
#else
    return 0;
#endif
}

void fuzz_live_check(long mark, const char *what)
{
    long now = fuzz_live();
    if (now != mark)
        fuzz_fail("%s: %ld project allocations live, %ld before", what, now, mark);
}

/* ---- files and set-up ---- */

static char g_dir[256];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void fuzz_remove_tree(const char *path) { nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static void remove_dir(void)
{
    if (g_dir[0] != '\0')
        fuzz_remove_tree(g_dir);
}

const char *fuzz_path(const char *name)
{
    static char path[512];
    fuzz_init();
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    return path;
}

void fuzz_write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        fuzz_fail("cannot write '%s'", path);
}

void fuzz_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    sn_err err = SN_ERR_INIT;
    if (sn_hash_init(&err) != 0)
        fuzz_fail("initialising libsodium: %s", err.msg);
    sn_log_set_level(SN_LOG_ERROR);
    /* $TMPDIR when set, else memory-backed when possible (the file targets write a file
     * per input), else /tmp. The names are mkdtemp templates. */
    const char *tmp = getenv("TMPDIR");
    const char *bases[] = {tmp != NULL && *tmp != '\0' ? tmp : "/dev/shm", "/tmp"};
    size_t tries = tmp != NULL && *tmp != '\0' ? 1 : 2;
    bool made = false;
    for (size_t i = 0; i < tries && !made; i++) {
        snprintf(g_dir, sizeof g_dir, "%s/outpost-fuzz-XXXXXX", bases[i]);
        made = mkdtemp(g_dir) != NULL;
    }
    if (!made)
        fuzz_fail("cannot make a temporary directory in %s", tries == 1 ? tmp : "/dev/shm or /tmp");
    atexit(remove_dir);
}
