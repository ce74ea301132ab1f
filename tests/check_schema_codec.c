/* tests/check_schema_codec.c - commit bodies: round trips, the byte layout, hostile input
 * (truncated, mutated, oversize, out of order), newer formats and schemas, check(), faults. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "schema/codec.h"
#include "schema/schema.h"
#include "tests/support.h"

/* ---- building commits -------------------------------------------------------------- */

/* A commit built by a test. Arrays come from sn_calloc and are freed by gen_free; TEXT
 * and BLOB values borrow `pool`. */
typedef struct gen {
    schema_commit c;
    uint8_t pool[512];
    char author[SCHEMA_NAME_MAX + 1];
    char entered[SCHEMA_NAME_MAX + 1];
} gen;

static gen *gen_new(size_t nchanges)
{
    gen *g = calloc(1, sizeof *g);
    ck_assert_ptr_nonnull(g);
    g->c.schema_version = SCHEMA_VERSION;
    g->c.origin.replica[0] = 0xa1;
    g->c.seq = 1;
    g->c.hlc = CRDT_HLC_MAKE(1700000000000ull, 0);
    snprintf(g->author, sizeof g->author, "ana");
    g->c.author = g->author;
    g->c.changes = sn_calloc(nchanges, sizeof *g->c.changes);
    ck_assert_ptr_nonnull(g->c.changes);
    g->c.nchanges = nchanges;
    for (size_t i = 0; i < sizeof g->pool; i++)
        g->pool[i] = (uint8_t)('a' + i % 26);
    return g;
}

static void gen_free(gen *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->c.nchanges; i++) {
        sn_free(g->c.changes[i].fields);
        crdt_vv_free(&g->c.changes[i].ctx);
    }
    sn_free(g->c.changes);
    free(g);
}

static void row_id(uint8_t row[SCHEMA_ID_LEN], uint8_t n)
{
    memset(row, 0, SCHEMA_ID_LEN);
    row[0] = 0x01;
    row[6] = 0x70;
    row[15] = n;
}

static schema_change *gen_insert(gen *g, size_t i, uint16_t table, uint8_t row, size_t nfields)
{
    schema_change *ch = &g->c.changes[i];
    ch->op = SCHEMA_OP_INSERT;
    ch->table = table;
    row_id(ch->row, row);
    if (nfields > 0) {
        ch->fields = sn_calloc(nfields, sizeof *ch->fields);
        ck_assert_ptr_nonnull(ch->fields);
    }
    ch->nfields = nfields;
    return ch;
}

static schema_change *gen_set(gen *g, size_t i, uint16_t table, uint8_t row, uint16_t col,
                              schema_value v)
{
    schema_change *ch = &g->c.changes[i];
    ch->op = SCHEMA_OP_SET;
    ch->table = table;
    row_id(ch->row, row);
    ch->col = col;
    ch->value = v;
    return ch;
}

static crdt_origin origin(uint8_t id, uint32_t epoch)
{
    crdt_origin o = {.epoch = epoch};
    o.replica[0] = id;
    o.replica[CRDT_REPLICA_LEN - 1] = (uint8_t)(id ^ 0x5a);
    return o;
}

static void ctx_add(schema_change *ch, crdt_origin o, uint64_t seq)
{
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(crdt_vv_raise(&ch->ctx, &o, seq, &err) == 0, "raise: %s", err.msg);
}

static schema_value random_value(test_rng *r, const uint8_t *pool, size_t pool_len)
{
    switch (test_rng_below(r, 6)) {
    case 0: return schema_value_nil();
    case 1: {
        uint64_t u = test_rng_next(r) >> test_rng_below(r, 64);
        return schema_value_int(test_rng_below(r, 2) ? (int64_t)u : -(int64_t)(u >> 1));
    }
    case 2: {
        uint64_t bits = test_rng_next(r);
        double d;
        memcpy(&d, &bits, sizeof d);
        return schema_value_real(d);
    }
    case 3: {
        size_t n = test_rng_below(r, test_rng_below(r, 8) == 0 ? (uint32_t)pool_len : 40);
        return (schema_value){.kind = SCHEMA_V_TEXT,
                              .u.s = {pool + test_rng_below(r, (uint32_t)(pool_len - n + 1)), n}};
    }
    case 4: {
        schema_value v = {.kind = SCHEMA_V_ID};
        test_rng_bytes(r, v.u.id, SCHEMA_ID_LEN);
        return v;
    }
    default: {
        size_t n = test_rng_below(r, 40);
        return (schema_value){.kind = SCHEMA_V_BLOB, .u.s = {pool, n == SCHEMA_ID_LEN ? 0 : n}};
    }
    }
}

/* A random, well-formed commit: any tables (known or not), any value kinds. */
static gen *gen_random(test_rng *r)
{
    size_t n = 1 + test_rng_below(r, test_rng_below(r, 8) == 0 ? 150 : 12);
    bool small = n > 12;
    gen *g = gen_new(n);
    test_rng_bytes(r, g->pool, sizeof g->pool);
    g->c.schema_version = (uint32_t)(test_rng_next(r) >> test_rng_below(r, 64));
    test_rng_bytes(r, g->c.origin.replica, CRDT_REPLICA_LEN);
    g->c.origin.epoch = (uint32_t)(test_rng_next(r) >> test_rng_below(r, 64));
    g->c.seq = 1 + (test_rng_next(r) >> (1 + test_rng_below(r, 63)));
    g->c.hlc = test_rng_next(r) >> test_rng_below(r, 64);
    size_t alen = 1 + test_rng_below(r, test_rng_below(r, 4) == 0 ? SCHEMA_NAME_MAX : 20);
    for (size_t i = 0; i < alen; i++)
        g->author[i] = (char)('a' + test_rng_below(r, 26));
    g->author[alen] = '\0';
    if (test_rng_below(r, 2)) {
        size_t elen = 1 + test_rng_below(r, SCHEMA_NAME_MAX);
        for (size_t i = 0; i < elen; i++)
            g->entered[i] = (char)(' ' + test_rng_below(r, 95));
        g->entered[elen] = '\0';
        g->c.entered_by = g->entered;
    }
    for (size_t i = 0; i < n; i++) {
        uint16_t table = (uint16_t)(test_rng_below(r, 4) == 0 ? test_rng_below(r, 65536)
                                                              : test_rng_below(r, 12));
        uint8_t row = (uint8_t)test_rng_below(r, 256);
        if (test_rng_below(r, 2)) {
            size_t k = test_rng_below(r, small ? 3 : 12);
            schema_change *ch = gen_insert(g, i, table, row, k);
            test_rng_bytes(r, ch->row, SCHEMA_ID_LEN);
            uint32_t col = test_rng_below(r, 3);
            for (size_t j = 0; j < k; j++) {
                ch->fields[j].col = (uint16_t)col;
                ch->fields[j].value = random_value(r, g->pool, sizeof g->pool);
                col += 1 + test_rng_below(r, 5);
            }
        } else {
            schema_change *ch = gen_set(g, i, table, row, (uint16_t)test_rng_below(r, 20),
                                        random_value(r, g->pool, sizeof g->pool));
            test_rng_bytes(r, ch->row, SCHEMA_ID_LEN);
            size_t k = test_rng_below(r, 6);
            for (size_t j = 0; j < k; j++)
                ctx_add(ch, origin((uint8_t)test_rng_below(r, 8), test_rng_below(r, 3)),
                        1 + (test_rng_next(r) >> test_rng_below(r, 64)) / 2);
        }
    }
    return g;
}

static void encode_ok(const schema_commit *c, sn_buf *b, int seed)
{
    sn_err err = SN_ERR_INIT;
    sn_buf_init(b, 1 << 20);
    ck_assert_msg(schema_commit_encode(c, b, &err) == 0, "seed %d: encode: %s", seed, err.msg);
}

/* Decode from an exact-size heap copy so the sanitizers see any read past the end. The
 * commit borrows *copy (free it after the commit). */
static int decode_copy(const uint8_t *p, size_t n, schema_commit **out, uint8_t **copy,
                       sn_err *err)
{
    *copy = malloc(n == 0 ? 1 : n);
    ck_assert_ptr_nonnull(*copy);
    if (n > 0)
        memcpy(*copy, p, n);
    return schema_commit_decode(*copy, n, out, err);
}

static int decode_rc(const uint8_t *p, size_t n, sn_err *err)
{
    schema_commit *c = NULL;
    uint8_t *copy;
    int rc = decode_copy(p, n, &c, &copy, err);
    if (rc != 0)
        ck_assert_ptr_null(c);
    schema_commit_free(c);
    free(copy);
    return rc;
}

static void expect_corrupt(const uint8_t *p, size_t n, const char *needle, int seed)
{
    sn_err err = SN_ERR_INIT;
    long base = sn_alloc_live();
    int rc = decode_rc(p, n, &err);
    ck_assert_msg(rc == SN_ECORRUPT, "seed %d: rc %d (%s), want ECORRUPT", seed, rc, err.msg);
    ck_assert_msg(err.msg[0] != '\0', "seed %d: no message", seed);
    if (needle != NULL)
        ck_assert_msg(strstr(err.msg, needle) != NULL, "seed %d: '%s' not in '%s'", seed, needle,
                      err.msg);
    ck_assert_int_eq(sn_alloc_live(), base);
}

static void assert_commits_equal(const schema_commit *a, const schema_commit *b, int seed)
{
    ck_assert_msg(a->schema_version == b->schema_version, "seed %d: schema version", seed);
    ck_assert_msg(crdt_origin_equal(&a->origin, &b->origin), "seed %d: origin", seed);
    ck_assert_msg(a->seq == b->seq && a->hlc == b->hlc, "seed %d: seq/hlc", seed);
    ck_assert_msg(strcmp(a->author, b->author) == 0, "seed %d: author", seed);
    ck_assert_msg((a->entered_by == NULL) == (b->entered_by == NULL) &&
                      (a->entered_by == NULL || strcmp(a->entered_by, b->entered_by) == 0),
                  "seed %d: entered_by", seed);
    ck_assert_msg(a->nchanges == b->nchanges, "seed %d: nchanges", seed);
    for (size_t i = 0; i < a->nchanges; i++) {
        const schema_change *x = &a->changes[i], *y = &b->changes[i];
        ck_assert_msg(x->op == y->op && x->table == y->table &&
                          memcmp(x->row, y->row, SCHEMA_ID_LEN) == 0,
                      "seed %d change %zu: op/table/row", seed, i);
        if (x->op == SCHEMA_OP_INSERT) {
            ck_assert_msg(x->nfields == y->nfields, "seed %d change %zu: nfields", seed, i);
            for (size_t j = 0; j < x->nfields; j++)
                ck_assert_msg(x->fields[j].col == y->fields[j].col &&
                                  schema_value_equal(&x->fields[j].value, &y->fields[j].value),
                              "seed %d change %zu field %zu", seed, i, j);
        } else {
            ck_assert_msg(x->col == y->col && schema_value_equal(&x->value, &y->value),
                          "seed %d change %zu: col/value", seed, i);
            ck_assert_msg(crdt_vv_equal(&x->ctx, &y->ctx), "seed %d change %zu: ctx", seed, i);
        }
    }
}

/* A tiny msgpack writer for hand-made hostile bodies (tests may not include msgpack.h). */
typedef struct mpb {
    uint8_t b[16384];
    size_t n;
} mpb;

static void mpb_byte(mpb *m, uint8_t x)
{
    ck_assert_uint_lt(m->n, sizeof m->b);
    m->b[m->n++] = x;
}

static void mpb_be(mpb *m, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        mpb_byte(m, (uint8_t)(v >> (8 * i)));
}

static void mpb_uint(mpb *m, uint64_t v)
{
    if (v < 128) {
        mpb_byte(m, (uint8_t)v);
    } else if (v <= 0xff) {
        mpb_byte(m, 0xcc);
        mpb_be(m, v, 1);
    } else if (v <= 0xffff) {
        mpb_byte(m, 0xcd);
        mpb_be(m, v, 2);
    } else if (v <= 0xffffffffu) {
        mpb_byte(m, 0xce);
        mpb_be(m, v, 4);
    } else {
        mpb_byte(m, 0xcf);
        mpb_be(m, v, 8);
    }
}

static void mpb_array(mpb *m, uint32_t n)
{
    if (n < 16) {
        mpb_byte(m, (uint8_t)(0x90 | n));
    } else {
        mpb_byte(m, 0xdc);
        mpb_be(m, n, 2);
    }
}

static void mpb_bin(mpb *m, const uint8_t *p, size_t n)
{
    mpb_byte(m, 0xc4);
    mpb_byte(m, (uint8_t)n);
    for (size_t i = 0; i < n; i++)
        mpb_byte(m, p[i]);
}

static void mpb_str(mpb *m, const char *s)
{
    size_t n = strlen(s);
    ck_assert_uint_lt(n, 32);
    mpb_byte(m, (uint8_t)(0xa0 | n));
    for (size_t i = 0; i < n; i++)
        mpb_byte(m, (uint8_t)s[i]);
}

/* Hex digits, spaces ignored. */
static void mpb_hex(mpb *m, const char *hex)
{
    for (size_t i = 0; hex[i] != '\0';) {
        if (hex[i] == ' ') {
            i++;
            continue;
        }
        unsigned x;
        ck_assert_int_eq(sscanf(hex + i, "%2x", &x), 1);
        mpb_byte(m, (uint8_t)x);
        i += 2;
    }
}

static const uint8_t ID_A[16] = {1, 2, 3, 4, 5, 6, 0x70, 8, 0x80, 10, 11, 12, 13, 14, 15, 16};

/* [0]..[7] of a valid body whose top array has `nelem` elements. */
static void mpb_head(mpb *m, uint32_t nelem)
{
    mpb_array(m, nelem);
    mpb_uint(m, 1);
    mpb_uint(m, 1);
    mpb_bin(m, ID_A, 16);
    mpb_uint(m, 0);
    mpb_uint(m, 1);
    mpb_uint(m, 5);
    mpb_str(m, "ana");
    mpb_byte(m, 0xc0);
}

/* ---- round trips and layout -------------------------------------------------------- */

START_TEST(test_codec_round_trip_random)
{
    test_rng r;
    test_rng_seed(&r, (uint64_t)_i);
    long base = sn_alloc_live();
    gen *g = gen_random(&r);
    sn_buf b1, b2;
    encode_ok(&g->c, &b1, _i);
    ck_assert_msg(b1.len <= SCHEMA_COMMIT_MAX, "seed %d: %zu bytes", _i, b1.len);
    schema_commit *d = NULL;
    uint8_t *copy;
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(decode_copy(b1.data, b1.len, &d, &copy, &err) == 0, "seed %d: decode: %s", _i,
                  err.msg);
    assert_commits_equal(&g->c, d, _i);
    encode_ok(d, &b2, _i);
    ck_assert_msg(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0,
                  "seed %d: re-encoding gives different bytes", _i);
    /* Peek agrees with decode. */
    crdt_origin o;
    uint64_t seq;
    crdt_hlc hlc;
    uint32_t sv;
    ck_assert_int_eq(schema_commit_peek(b1.data, b1.len, &o, &seq, &hlc, &sv, NULL), 0);
    ck_assert(crdt_origin_equal(&o, &g->c.origin) && seq == g->c.seq && hlc == g->c.hlc &&
              sv == g->c.schema_version);
    /* check() reports, never crashes, on whatever the generator made. */
    bool unknown;
    int rc = schema_commit_check(d, &unknown, NULL);
    ck_assert_msg(rc == 0 || rc == SN_EINVAL, "seed %d: check rc %d", _i, rc);
    schema_commit_free(d);
    free(copy);
    sn_buf_free(&b1);
    sn_buf_free(&b2);
    gen_free(g);
    ck_assert_msg(sn_alloc_live() == base, "seed %d: leak", _i);
}
END_TEST

/* The worked example in codec.c's opening comment, byte for byte. */
START_TEST(test_codec_layout_matches_the_essay)
{
    gen *g = gen_new(1);
    memset(g->c.origin.replica, 0x11, CRDT_REPLICA_LEN);
    g->c.seq = 7;
    schema_change *ch = gen_set(g, 0, 6, 0, 8, schema_value_text("confirmed"));
    memset(ch->row, 0x22, SCHEMA_ID_LEN);
    crdt_origin s = {.epoch = 0};
    memset(s.replica, 0x33, CRDT_REPLICA_LEN);
    ctx_add(ch, s, 5);
    sn_buf b;
    encode_ok(&g->c, &b, -1);
    ck_assert_uint_eq(b.len, 91);
    char hex[2 * 91 + 1];
    sn_hex(hex, b.data, b.len);
    mpb want = {.n = 0};
    mpb_hex(&want, "99 01 01 c410 11111111111111111111111111111111 00 07 cf018bcfe5680000 00"
                   "a3616e61 c0 91 96 02 06 c410 22222222222222222222222222222222 08"
                   "a9636f6e6669726d6564 93 c410 33333333333333333333333333333333 00 05");
    ck_assert_uint_eq(want.n, 91);
    char want_hex[2 * 91 + 1];
    sn_hex(want_hex, want.b, want.n);
    ck_assert_str_eq(hex, want_hex);
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

START_TEST(test_codec_encode_appends_and_refuses_malformed_commits)
{
    gen *g = gen_new(2);
    gen_set(g, 0, 1, 1, 3, schema_value_text("Smith"));
    schema_change *ins = gen_insert(g, 1, 6, 2, 2);
    ins->fields[0] = (schema_field){1, schema_value_id(ID_A)};
    ins->fields[1] = (schema_field){2, schema_value_text("91936005")};
    sn_buf b;
    sn_buf_init(&b, 1 << 16);
    ck_assert_int_eq(sn_buf_append(&b, "xyz", 3, NULL), 0);
    ck_assert_int_eq(schema_commit_encode(&g->c, &b, NULL), 0);
    ck_assert_int_eq(memcmp(b.data, "xyz", 3), 0); /* appended after what was there */
    size_t len = b.len;
    schema_commit *d = NULL;
    ck_assert_int_eq(schema_commit_decode(b.data + 3, len - 3, &d, NULL), 0);
    schema_commit_free(d);

    struct {
        const char *what;
        const char *needle;
    } cases[] = {
        {"seq 0", "seq 0"},
        {"no author", "author"},
        {"empty author", "author"},
        {"long author", "author"},
        {"empty entered_by", "entered-by"},
        {"no changes", "0 changes"},
        {"fields out of order", "increasing column order"},
        {"too many fields", "fields"},
        {"unknown op", "op 0"},
        {"too many changes", "4097 changes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gen saved = *g;
        char longname[SCHEMA_NAME_MAX + 2], empty[1] = "";
        memset(longname, 'x', sizeof longname - 1);
        longname[sizeof longname - 1] = '\0';
        schema_field swapped[2] = {ins->fields[1], ins->fields[0]};
        schema_field *keep_fields = ins->fields;
        switch (i) {
        case 0: g->c.seq = 0; break;
        case 1: g->c.author = NULL; break;
        case 2: g->c.author = empty; break;
        case 3: g->c.author = longname; break;
        case 4: g->c.entered_by = empty; break;
        case 5: g->c.nchanges = 0; break;
        case 6: ins->fields = swapped; break;
        case 7: ins->nfields = SCHEMA_FIELDS_MAX + 1; break;
        case 8: g->c.changes[0].op = SCHEMA_OP_UNKNOWN; break;
        case 9: g->c.nchanges = SCHEMA_CHANGES_MAX + 1; break;
        }
        sn_err err = SN_ERR_INIT;
        ck_assert_msg(schema_commit_encode(&g->c, &b, &err) == SN_EINVAL, "%s accepted",
                      cases[i].what);
        ck_assert_msg(strstr(err.msg, cases[i].needle) != NULL, "%s: '%s'", cases[i].what,
                      err.msg);
        ck_assert_uint_eq(b.len, len); /* nothing written */
        ins->fields = keep_fields;
        ins->nfields = 2;
        g->c = saved.c;
    }
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

/* ---- hostile input ----------------------------------------------------------------- */

START_TEST(test_codec_every_truncation_is_refused)
{
    test_rng r;
    test_rng_seed(&r, 1000 + (uint64_t)_i);
    gen *g = gen_random(&r);
    sn_buf b;
    encode_ok(&g->c, &b, _i);
    for (size_t cut = 0; cut < b.len; cut++)
        expect_corrupt(b.data, cut, NULL, _i);
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

START_TEST(test_codec_single_byte_mutations_never_crash)
{
    static const uint8_t nasty[] = {0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
                                    0xc1, 0xc2, 0xc4, 0xc6, 0xc9, 0xca, 0xcb, 0xcf, 0xd3, 0xd4,
                                    0xd8, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};
    test_rng r;
    test_rng_seed(&r, 5000 + (uint64_t)_i);
    long base = sn_alloc_live();
    gen *g = gen_random(&r);
    sn_buf b;
    encode_ok(&g->c, &b, _i);
    uint8_t *m = malloc(b.len);
    ck_assert_ptr_nonnull(m);
    for (int k = 0; k < 64; k++) {
        memcpy(m, b.data, b.len);
        size_t pos = test_rng_below(&r, (uint32_t)b.len);
        switch (test_rng_below(&r, 3)) {
        case 0: m[pos] = (uint8_t)test_rng_next(&r); break;
        case 1: m[pos] = nasty[test_rng_below(&r, sizeof nasty)]; break;
        default: m[pos] ^= (uint8_t)(1u << test_rng_below(&r, 8)); break;
        }
        schema_commit *d = NULL;
        uint8_t *copy;
        sn_err err = SN_ERR_INIT;
        int rc = decode_copy(m, b.len, &d, &copy, &err);
        ck_assert_msg(rc == 0 || rc == SN_ECORRUPT || rc == SN_EVERSION,
                      "seed %d mutation %d at %zu: rc %d", _i, k, pos, rc);
        if (rc != 0) {
            ck_assert_msg(err.msg[0] != '\0', "seed %d: no message", _i);
        } else {
            bool unknown;
            int crc = schema_commit_check(d, &unknown, NULL);
            ck_assert_msg(crc == 0 || crc == SN_EINVAL, "seed %d: check rc %d", _i, crc);
            /* What decodes re-encodes, unless it holds a change from a "newer format". */
            sn_buf again;
            sn_buf_init(&again, 1 << 20);
            int erc = schema_commit_encode(d, &again, NULL);
            ck_assert_msg(erc == 0 || erc == SN_EINVAL, "seed %d: encode rc %d", _i, erc);
            if (erc == 0) {
                schema_commit *d2 = NULL;
                ck_assert_int_eq(schema_commit_decode(again.data, again.len, &d2, NULL), 0);
                assert_commits_equal(d, d2, _i);
                schema_commit_free(d2);
            }
            sn_buf_free(&again);
        }
        schema_commit_free(d);
        free(copy);
    }
    free(m);
    sn_buf_free(&b);
    gen_free(g);
    ck_assert_msg(sn_alloc_live() == base, "seed %d: leak", _i);
}
END_TEST

START_TEST(test_codec_newer_format_is_refused_with_version_error)
{
    gen *g = gen_new(1);
    gen_set(g, 0, 1, 1, 3, schema_value_text("Smith"));
    sn_buf b;
    encode_ok(&g->c, &b, -1);
    ck_assert_uint_eq(b.data[1], 0x01);
    b.data[1] = 0x02;
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(decode_rc(b.data, b.len, &err), SN_EVERSION);
    ck_assert_str_eq(err.msg,
                     "commit format 2 is newer than this build (1); install a newer Outpost");
    sn_err_clear(&err);
    ck_assert_int_eq(schema_commit_peek(b.data, b.len, NULL, NULL, NULL, NULL, &err),
                     SN_EVERSION);
    ck_assert_str_eq(err.msg,
                     "commit format 2 is newer than this build (1); install a newer Outpost");
    /* A newer format may look nothing like this one after its number. */
    mpb m = {.n = 0};
    mpb_array(&m, 1);
    mpb_uint(&m, UINT64_MAX);
    sn_err_clear(&err);
    ck_assert_int_eq(decode_rc(m.b, m.n, &err), SN_EVERSION);
    ck_assert_ptr_nonnull(strstr(err.msg, "18446744073709551615"));
    /* Format 0 never existed. */
    b.data[1] = 0x00;
    expect_corrupt(b.data, b.len, "format", -1);
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

START_TEST(test_codec_newer_schema_decodes_and_check_reports_unknown)
{
    gen *g = gen_new(5);
    g->c.schema_version = SCHEMA_VERSION + 1;
    /* Known table, known columns plus a column from the future. */
    schema_change *ins = gen_insert(g, 0, 6, 1, 4);
    ins->fields[0] = (schema_field){1, schema_value_id(ID_A)};
    ins->fields[1] = (schema_field){2, schema_value_text("91936005")};
    ins->fields[2] = (schema_field){8, schema_value_text("confirmed")};
    ins->fields[3] = (schema_field){99, schema_value_int(7)};
    /* A table from the future. */
    schema_change *fut = gen_insert(g, 1, 42, 2, 1);
    fut->fields[0] = (schema_field){1, schema_value_real(2.5)};
    /* A set on a column from the future, and one on a known mv column. */
    gen_set(g, 2, 1, 3, 77, schema_value_text("x"));
    gen_set(g, 3, 1, 3, 3, schema_value_text("Smith"));
    gen_set(g, 4, 6, 1, 6, schema_value_text("high"));
    sn_buf b;
    encode_ok(&g->c, &b, -1);
    schema_commit *d = NULL;
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(schema_commit_decode(b.data, b.len, &d, &err), 0);
    ck_assert_uint_eq(d->schema_version, SCHEMA_VERSION + 1);
    bool unknown = false;
    ck_assert_msg(schema_commit_check(d, &unknown, &err) == 0, "%s", err.msg);
    ck_assert(unknown);
    schema_commit_free(d);
    sn_buf_free(&b);

    /* Known parts still validate: a known column holding the wrong kind is refused. */
    ins->fields[1].value = schema_value_int(5);
    encode_ok(&g->c, &b, -1);
    ck_assert_int_eq(schema_commit_decode(b.data, b.len, &d, NULL), 0);
    sn_err_clear(&err);
    ck_assert_int_eq(schema_commit_check(d, &unknown, &err), SN_EINVAL);
    ck_assert_str_eq(err.msg, "commit change 1 of 5 (insert): allergy.code is of type text and "
                              "cannot hold an integer");
    schema_commit_free(d);
    sn_buf_free(&b);

    /* Only known parts: nothing unknown. */
    ins->fields[1].value = schema_value_text("91936005");
    g->c.nchanges = 1;
    ins->nfields = 3;
    encode_ok(&g->c, &b, -1);
    ck_assert_int_eq(schema_commit_decode(b.data, b.len, &d, NULL), 0);
    unknown = true;
    ck_assert_int_eq(schema_commit_check(d, &unknown, NULL), 0);
    ck_assert(!unknown);
    schema_commit_free(d);
    sn_buf_free(&b);
    ins->nfields = 4;
    g->c.nchanges = 5;
    gen_free(g);
}
END_TEST

START_TEST(test_codec_unknown_op_is_kept_and_reported)
{
    gen *g = gen_new(2);
    gen_set(g, 0, 6, 0, 8, schema_value_text("confirmed"));
    gen_set(g, 1, 6, 0, 7, schema_value_text("active"));
    sn_buf b;
    encode_ok(&g->c, &b, -1);
    /* Header is 37 bytes up to the change list, then 0x92, then the first change's array
     * byte 0x96 and its op. */
    ck_assert_uint_eq(b.data[37], 0x92);
    ck_assert_uint_eq(b.data[38], 0x96);
    ck_assert_uint_eq(b.data[39], 0x02);
    b.data[39] = 0x07;
    schema_commit *d = NULL;
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(schema_commit_decode(b.data, b.len, &d, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(d->nchanges, 2);
    ck_assert_int_eq(d->changes[0].op, SCHEMA_OP_UNKNOWN);
    ck_assert_int_eq(d->changes[1].op, SCHEMA_OP_SET);
    bool unknown = false;
    ck_assert_int_eq(schema_commit_check(d, &unknown, NULL), 0);
    ck_assert(unknown);
    sn_buf again;
    sn_buf_init(&again, 1 << 16);
    ck_assert_int_eq(schema_commit_encode(d, &again, NULL), SN_EINVAL);
    sn_buf_free(&again);
    schema_commit_free(d);
    /* An unknown change is still walked: a malformed one is refused. */
    b.data[40] = 0xc1;
    expect_corrupt(b.data, b.len, "0xc1", -1);
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

START_TEST(test_codec_trailing_elements_and_bytes)
{
    gen *g = gen_new(1);
    gen_set(g, 0, 6, 0, 8, schema_value_text("confirmed"));
    sn_buf b;
    encode_ok(&g->c, &b, -1);
    ck_assert_uint_eq(b.data[0], 0x99);
    mpb m = {.n = 0};
    /* A tenth element from a later format: well-formed, skipped. */
    memcpy(m.b, b.data, b.len);
    m.n = b.len;
    m.b[0] = 0x9a;
    mpb_hex(&m, "8101920203"); /* {1: [2, 3]} */
    ck_assert_int_eq(decode_rc(m.b, m.n, NULL), 0);
    /* Seven arrays deep inside the top array: 8 levels in all, the most allowed. */
    m.n = b.len;
    mpb_hex(&m, "91919191919191c0");
    ck_assert_int_eq(decode_rc(m.b, m.n, NULL), 0);
    m.n = b.len;
    mpb_hex(&m, "9191919191919191c0");
    expect_corrupt(m.b, m.n, "nested more than 8 levels", -1);
    m.n = b.len;
    for (int i = 0; i < 3000; i++)
        mpb_byte(&m, 0x91);
    mpb_byte(&m, 0xc0);
    expect_corrupt(m.b, m.n, "nested more than 8 levels", -1);
    /* Malformed trailing element. */
    m.n = b.len;
    mpb_hex(&m, "8101");
    expect_corrupt(m.b, m.n, "a map at byte 71 claims 1 key-value pairs but only 1 bytes are left",
                   -1);
    m.n = b.len;
    mpb_hex(&m, "d9 05 6162");
    expect_corrupt(m.b, m.n, "truncated at byte 71", -1);
    m.n = b.len;
    mpb_hex(&m, "c1");
    expect_corrupt(m.b, m.n, "0xc1", -1);
    /* Trailing bytes after the top array. */
    m.n = b.len;
    m.b[0] = 0x99;
    mpb_hex(&m, "c0");
    expect_corrupt(m.b, m.n, "1 unexpected bytes after the end", -1);
    /* Extra elements inside a change are skipped too. */
    m.n = 0;
    mpb_head(&m, 9);
    mpb_array(&m, 1);
    mpb_array(&m, 7);
    mpb_uint(&m, 2);
    mpb_uint(&m, 6);
    mpb_bin(&m, ID_A, 16);
    mpb_uint(&m, 8);
    mpb_str(&m, "refuted");
    mpb_array(&m, 0);
    mpb_hex(&m, "d40102"); /* a fixext: fine inside skipped parts */
    ck_assert_int_eq(decode_rc(m.b, m.n, NULL), 0);
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

/* A valid one-change list: [[2, 6, ID_A, 8, "refuted", []]]. */
static void mpb_one_set(mpb *m)
{
    mpb_array(m, 1);
    mpb_array(m, 6);
    mpb_uint(m, 2);
    mpb_uint(m, 6);
    mpb_bin(m, ID_A, 16);
    mpb_uint(m, 8);
    mpb_str(m, "refuted");
    mpb_array(m, 0);
}

START_TEST(test_codec_decode_refuses_malformed_header)
{
    mpb m = {.n = 0};
    mpb_str(&m, "hello");
    expect_corrupt(m.b, m.n, "commit: expected an array at byte 0, found a string", -1);
    m.n = 0;
    mpb_array(&m, 0);
    expect_corrupt(m.b, m.n, "empty", -1);
    m.n = 0;
    mpb_head(&m, 8);
    mpb_one_set(&m);
    expect_corrupt(m.b, m.n, "8 elements", -1);
    /* The well-formed version decodes (the cases below differ from it in one place). */
    m.n = 0;
    mpb_head(&m, 9);
    mpb_one_set(&m);
    ck_assert_int_eq(decode_rc(m.b, m.n, NULL), 0);

    static const struct {
        const char *hex; /* body up to the change list */
        const char *needle;
    } heads[] = {
        {"99 01 01 c40f 000102030405060708090a0b0c0d0e 00 01 05 a3616e61 c0", "expected 16 bytes"},
        {"99 01 cf0000000100000000 c410 000102030405060708090a0b0c0d0e0f 00 01 05 a3616e61 c0",
         "schema version [1]: 4294967296"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f ce00000001 01 05 a3616e61 c0", NULL},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f cf0000000100000000 01 05 a3616e61 c0",
         "epoch [3]"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 00 05 a3616e61 c0", "seq [4]: 0"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 ff 05 a3616e61 c0", "found -1"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 01 c0 a3616e61 c0", "hlc [5]"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 01 05 a0 c0", "empty name"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 01 05 a3610061 c0", "NUL"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 01 05 a3616e61 a0", "empty name"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 01 05 a3616e61 05", "entered-by [7]"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 01 05 c3 c0", "author [6]"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 01 05 da0101", "author [6]"},
        {"99 01 01 c410 000102030405060708090a0b0c0d0e0f 00 01 05 a3616e61 c0 c0", "change list"},
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        m.n = 0;
        mpb_hex(&m, heads[i].hex);
        if (i == 12) {
            for (int k = 0; k < 257; k++)
                mpb_byte(&m, 'a');
            mpb_byte(&m, 0xc0);
        }
        mpb_one_set(&m);
        if (heads[i].needle == NULL) {
            ck_assert_int_eq(decode_rc(m.b, m.n, NULL), 0); /* wide but valid */
            continue;
        }
        expect_corrupt(m.b, m.n, heads[i].needle, (int)i);
    }

    /* A count bigger than the bytes left: refused before anything is allocated. */
    m.n = 0;
    mpb_head(&m, 9);
    mpb_hex(&m, "ddffffffff");
    expect_corrupt(m.b, m.n, "claims 4294967295 elements", -1);
    m.n = 0;
    mpb_head(&m, 9);
    mpb_array(&m, 0);
    expect_corrupt(m.b, m.n, "0 changes", -1);
    m.n = 0;
    mpb_head(&m, 9);
    mpb_array(&m, SCHEMA_CHANGES_MAX + 1);
    for (int k = 0; k <= SCHEMA_CHANGES_MAX; k++)
        mpb_byte(&m, 0x90);
    expect_corrupt(m.b, m.n, "4097 changes", -1);
}
END_TEST

START_TEST(test_codec_decode_refuses_malformed_changes)
{
    static const struct {
        const char *hex; /* the one change, after a valid header and 0x91 */
        const char *needle;
    } cases[] = {
        {"05", "change 1 of 1: change: expected an array"},
        {"90", "empty array"},
        {"91 a0", "change op: expected an unsigned integer"},
        {"93 01 06 c410 0102030405067008800a0b0c0d0e0f10", "insert: 3 elements"},
        {"95 02 06 c410 0102030405067008800a0b0c0d0e0f10 08 c0", "set: 5 elements"},
        {"94 01 ce00010000 c410 0102030405067008800a0b0c0d0e0f10 90", "table id: 65536"},
        {"94 01 06 c411 0102030405067008800a0b0c0d0e0f1011 90", "row id: expected 16 bytes"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 91 01", "column and value pairs"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 94 02 a0 01 a0",
         "column 1 follows column 2"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 94 02 a0 02 a0",
         "column 2 follows column 2"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 92 01 80",
         "change 1 of 1 (insert): insert field 1 of 1: value: expected a value"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 92 01 c3", "found a boolean"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 92 01 90", "found an array"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 92 01 d6ff00000000",
         "found an extension type"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 92 01 cf8000000000000000",
         "does not fit in 64 signed bits"},
        {"94 01 06 c410 0102030405067008800a0b0c0d0e0f10 92 ff a0", "column id"},
        {"96 02 06 c410 0102030405067008800a0b0c0d0e0f10 08 a0 92 01 02", "triples"},
        {"96 02 06 c410 0102030405067008800a0b0c0d0e0f10 08 a0 80", "set context: expected an "
                                                                     "array"},
        {"96 02 06 c410 0102030405067008800a0b0c0d0e0f10 08 a0 "
         "93 c410 0102030405067008800a0b0c0d0e0f10 cf0000000100000000 01",
         "epoch: 4294967296"},
        {"96 02 06 c410 0102030405067008800a0b0c0d0e0f10 08 a0 "
         "93 c410 0102030405067008800a0b0c0d0e0f10 00 00",
         "set context entry 1 of 1: seq 0"},
        {"96 02 06 c410 0102030405067008800a0b0c0d0e0f10 08 a0 93 a0 00 01", "replica id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mpb m = {.n = 0};
        mpb_head(&m, 9);
        mpb_array(&m, 1);
        mpb_hex(&m, cases[i].hex);
        expect_corrupt(m.b, m.n, cases[i].needle, (int)i);
    }
    /* More fields than an insert may carry, with the bytes to back the claim. */
    mpb m = {.n = 0};
    mpb_head(&m, 9);
    mpb_array(&m, 1);
    mpb_hex(&m, "94 01 06 c410 0102030405067008800a0b0c0d0e0f10 dc0202");
    for (int k = 0; k < 2 * (SCHEMA_FIELDS_MAX + 1); k++)
        mpb_byte(&m, 0x01);
    expect_corrupt(m.b, m.n, "257 fields, more than the limit of 256", -1);
}
END_TEST

START_TEST(test_codec_ctx_out_of_order_is_refused)
{
    gen *g = gen_new(1);
    schema_change *ch = gen_set(g, 0, 6, 0, 8, schema_value_text("confirmed"));
    ctx_add(ch, origin(1, 0), 3);
    ctx_add(ch, origin(2, 0), 4);
    sn_buf b;
    encode_ok(&g->c, &b, -1);
    ck_assert_int_eq(decode_rc(b.data, b.len, NULL), 0);
    /* Each entry is 20 bytes (bin 16 with its 2-byte header, epoch, seq) at the end. */
    ck_assert_uint_eq(b.data[b.len - 41], 0x96); /* ctx array of 6 items */
    uint8_t *e1 = b.data + b.len - 40, *e2 = b.data + b.len - 20, tmp[20];
    uint8_t *m = malloc(b.len);
    ck_assert_ptr_nonnull(m);
    /* Swapped. */
    memcpy(m, b.data, b.len);
    memcpy(tmp, e1, 20);
    memcpy(m + b.len - 40, e2, 20);
    memcpy(m + b.len - 20, tmp, 20);
    expect_corrupt(m, b.len, "strictly increasing (replica, epoch) order", -1);
    /* Duplicated. */
    memcpy(m, b.data, b.len);
    memcpy(m + b.len - 20, e1, 20);
    expect_corrupt(m, b.len, "strictly increasing", -1);
    /* Same replica, epochs out of order. */
    memcpy(m, b.data, b.len);
    memcpy(m + b.len - 20, e1, 20);
    m[b.len - 40 + 18] = 0x05;
    m[b.len - 20 + 18] = 0x04;
    expect_corrupt(m, b.len, "strictly increasing", -1);
    /* Same replica, epochs in order: fine. */
    m[b.len - 20 + 18] = 0x06;
    ck_assert_int_eq(decode_rc(m, b.len, NULL), 0);
    free(m);
    sn_buf_free(&b);

    /* Encode refuses a context that breaks the vector's invariants. */
    crdt_vv_entry *e = ch->ctx.e;
    crdt_vv_entry t = e[0];
    e[0] = e[1];
    e[1] = t;
    sn_buf_init(&b, 1 << 16);
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(schema_commit_encode(&g->c, &b, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "increasing origin order"));
    ck_assert_uint_eq(b.len, 0);
    e[1] = e[0];
    e[0] = t;
    e[1].seq = 0;
    sn_err_clear(&err);
    ck_assert_int_eq(schema_commit_encode(&g->c, &b, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "seq 0"));
    e[1].seq = 4;
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

START_TEST(test_codec_oversize_is_refused)
{
    static uint8_t big[SCHEMA_COMMIT_MAX + 2];
    memset(big, 'x', sizeof big);
    /* Decode refuses more than the limit before reading anything. */
    sn_err err = SN_ERR_INIT;
    schema_commit *d = NULL;
    ck_assert_int_eq(schema_commit_decode(big, SCHEMA_COMMIT_MAX + 1, &d, &err), SN_ECORRUPT);
    ck_assert_ptr_null(d);
    ck_assert_ptr_nonnull(strstr(err.msg, "57345 bytes, more than the limit of 57344"));
    sn_err_clear(&err);
    ck_assert_int_eq(schema_commit_peek(big, SCHEMA_COMMIT_MAX + 1, NULL, NULL, NULL, NULL, &err),
                     SN_ECORRUPT);

    /* Encode: find the text length that makes the body exactly the limit. */
    gen *g = gen_new(1);
    schema_change *ch = gen_set(g, 0, 5, 0, 4, schema_value_nil());
    sn_buf b;
    sn_buf_init(&b, 1 << 20);
    ch->value = (schema_value){.kind = SCHEMA_V_TEXT, .u.s = {big, 1000}};
    ck_assert_int_eq(schema_commit_encode(&g->c, &b, NULL), 0);
    size_t overhead = b.len - 1000; /* str 16 header included */
    size_t fit = SCHEMA_COMMIT_MAX - overhead;
    sn_buf_reset(&b);
    ch->value.u.s.n = fit;
    ck_assert_int_eq(schema_commit_encode(&g->c, &b, NULL), 0);
    ck_assert_uint_eq(b.len, SCHEMA_COMMIT_MAX);
    ck_assert_int_eq(decode_rc(b.data, b.len, NULL), 0);
    ck_assert_int_eq(sn_buf_append(&b, "\xc0", 1, NULL), 0);
    expect_corrupt(b.data, b.len, "more than the limit", -1);
    /* One byte more: refused, and the buffer is left as it was. */
    sn_buf_reset(&b);
    ck_assert_int_eq(sn_buf_append(&b, "ab", 2, NULL), 0);
    ch->value.u.s.n = fit + 1;
    ck_assert_int_eq(schema_commit_encode(&g->c, &b, &err), SN_ETOOBIG);
    ck_assert_uint_eq(b.len, 2);
    ch->value.u.s.n = sizeof big;
    sn_err_clear(&err);
    ck_assert_int_eq(schema_commit_encode(&g->c, &b, &err), SN_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "larger than 57344 bytes"));
    ck_assert_ptr_nonnull(strstr(err.hint, "smaller commits"));
    ck_assert_uint_eq(b.len, 2);
    gen_free(g);

    /* Many small changes add up too. */
    g = gen_new(SCHEMA_CHANGES_MAX);
    for (size_t i = 0; i < SCHEMA_CHANGES_MAX; i++)
        gen_set(g, i, 1, (uint8_t)i, 3, schema_value_text("a name"));
    sn_err_clear(&err);
    ck_assert_int_eq(schema_commit_encode(&g->c, &b, &err), SN_ETOOBIG);
    ck_assert_uint_eq(b.len, 2);
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

START_TEST(test_codec_peek_reads_the_header)
{
    gen *g = gen_new(1);
    g->c.origin = origin(9, 3);
    g->c.seq = 123456789;
    g->c.hlc = CRDT_HLC_MAKE(1700000000123ull, 7);
    g->c.schema_version = 4;
    gen_set(g, 0, 1, 1, 3, schema_value_text("Smith"));
    sn_buf b;
    encode_ok(&g->c, &b, -1);
    crdt_origin o;
    uint64_t seq;
    crdt_hlc hlc;
    uint32_t sv;
    ck_assert_int_eq(schema_commit_peek(b.data, b.len, &o, &seq, &hlc, &sv, NULL), 0);
    ck_assert(crdt_origin_equal(&o, &g->c.origin));
    ck_assert_uint_eq(seq, 123456789);
    ck_assert_uint_eq(hlc, g->c.hlc);
    ck_assert_uint_eq(sv, 4);
    /* Peek reads only the header: a body cut after it still peeks. */
    ck_assert_int_eq(schema_commit_peek(b.data, 40, &o, &seq, &hlc, &sv, NULL), 0);
    for (size_t cut = 0; cut < 30; cut++) {
        sn_err err = SN_ERR_INIT;
        ck_assert_int_eq(schema_commit_peek(b.data, cut, &o, &seq, &hlc, &sv, &err),
                         SN_ECORRUPT);
        ck_assert_ptr_nonnull(strstr(err.msg, "reading commit header"));
    }
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

/* ---- check ------------------------------------------------------------------------- */

static int check_commit(gen *g, bool *unknown, sn_err *err)
{
    sn_buf b;
    encode_ok(&g->c, &b, -1);
    schema_commit *d = NULL;
    ck_assert_int_eq(schema_commit_decode(b.data, b.len, &d, NULL), 0);
    int rc = schema_commit_check(d, unknown, err);
    schema_commit_free(d);
    sn_buf_free(&b);
    return rc;
}

START_TEST(test_codec_check_refuses_set_on_fixed_column)
{
    gen *g = gen_new(2);
    gen_set(g, 0, 6, 1, 6, schema_value_text("high"));
    gen_set(g, 1, 6, 1, 2, schema_value_text("91936005")); /* allergy.code is fixed */
    sn_err err = SN_ERR_INIT;
    bool unknown = false;
    ck_assert_int_eq(check_commit(g, &unknown, &err), SN_EINVAL);
    ck_assert_str_eq(err.msg, "commit change 2 of 2 (set): allergy.code is written once when "
                              "the record is created; it cannot be set");
    /* The same change on an mv column is fine, and a wrong kind there is not. */
    g->c.changes[1].col = 7;
    g->c.changes[1].value = schema_value_text("active");
    ck_assert_int_eq(check_commit(g, &unknown, NULL), 0);
    ck_assert(!unknown);
    g->c.changes[1].value = schema_value_real(1.0);
    sn_err_clear(&err);
    ck_assert_int_eq(check_commit(g, &unknown, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "allergy.clinical_status is of type code"));
    /* Codes from a newer list and nil are accepted from other nodes. */
    g->c.changes[1].value = schema_value_text("in-remission");
    ck_assert_int_eq(check_commit(g, &unknown, NULL), 0);
    g->c.changes[1].value = schema_value_nil();
    ck_assert_int_eq(check_commit(g, &unknown, NULL), 0);
    gen_free(g);
}
END_TEST

START_TEST(test_codec_check_refuses_duplicate_cells)
{
    sn_err err = SN_ERR_INIT;
    bool unknown;
    /* Two sets of one cell. */
    gen *g = gen_new(3);
    gen_set(g, 0, 6, 1, 8, schema_value_text("confirmed"));
    gen_set(g, 1, 6, 2, 8, schema_value_text("refuted")); /* another row: fine */
    gen_set(g, 2, 6, 1, 8, schema_value_text("refuted"));
    ck_assert_int_eq(check_commit(g, &unknown, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "commit changes 1 and 3 both write allergy."
                                          "verification of row "));
    g->c.changes[2].col = 7;
    g->c.changes[2].value = schema_value_text("active");
    ck_assert_int_eq(check_commit(g, &unknown, NULL), 0);
    gen_free(g);

    /* An insert counts for each of its fields. */
    g = gen_new(2);
    schema_change *ins = gen_insert(g, 0, 6, 1, 2);
    ins->fields[0] = (schema_field){1, schema_value_id(ID_A)};
    ins->fields[1] = (schema_field){8, schema_value_text("unconfirmed")};
    gen_set(g, 1, 6, 1, 8, schema_value_text("confirmed"));
    sn_err_clear(&err);
    ck_assert_int_eq(check_commit(g, &unknown, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "commit changes 1 and 2 both write allergy."
                                          "verification"));
    g->c.changes[1].col = 7; /* a cell the insert left out */
    g->c.changes[1].value = schema_value_text("active");
    ck_assert_int_eq(check_commit(g, &unknown, NULL), 0);
    gen_free(g);

    /* Two inserts of one row, even with different fields. */
    g = gen_new(2);
    ins = gen_insert(g, 0, 6, 1, 1);
    ins->fields[0] = (schema_field){1, schema_value_id(ID_A)};
    ins = gen_insert(g, 1, 6, 1, 1);
    ins->fields[0] = (schema_field){2, schema_value_text("91936005")};
    sn_err_clear(&err);
    ck_assert_int_eq(check_commit(g, &unknown, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "commit changes 1 and 2 both insert row"));
    ck_assert_ptr_nonnull(strstr(err.msg, "into allergy"));
    /* The same row id in two tables is two rows. */
    g->c.changes[1].table = 7;
    ck_assert_int_eq(check_commit(g, &unknown, NULL), 0);
    gen_free(g);

    /* The rule is structural: it holds for tables this build does not know. */
    g = gen_new(2);
    gen_set(g, 0, 300, 1, 2, schema_value_int(1));
    gen_set(g, 1, 300, 1, 2, schema_value_int(2));
    sn_err_clear(&err);
    ck_assert_int_eq(check_commit(g, &unknown, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "table 300.column 2"));
    gen_free(g);
}
END_TEST

/* ---- faults ------------------------------------------------------------------------ */

static gen *gen_rich(void)
{
    gen *g = gen_new(4);
    snprintf(g->entered, sizeof g->entered, "admin");
    g->c.entered_by = g->entered;
    schema_change *ins = gen_insert(g, 0, 6, 1, 3);
    ins->fields[0] = (schema_field){1, schema_value_id(ID_A)};
    ins->fields[1] = (schema_field){2, schema_value_text("91936005")};
    ins->fields[2] = (schema_field){8, schema_value_text("unconfirmed")};
    schema_change *set = gen_set(g, 1, 6, 1, 7, schema_value_text("active"));
    for (uint8_t k = 0; k < 6; k++)
        ctx_add(set, origin(k, k), 10u + k);
    ins = gen_insert(g, 2, 1, 2, 2);
    ins->fields[0] = (schema_field){3, schema_value_text("Smith")};
    ins->fields[1] = (schema_field){5, schema_value_text("1990-01-01")};
    set = gen_set(g, 3, 1, 2, 4, schema_value_text("Ann"));
    ctx_add(set, origin(1, 0), 1);
    return g;
}

START_TEST(test_codec_decode_fault_loop)
{
    gen *g = gen_rich();
    sn_buf b;
    encode_ok(&g->c, &b, -1);
    long base = sn_alloc_live();
    int faults = 0;
    for (int n = 0;; n++) {
        sn_err err = SN_ERR_INIT;
        schema_commit *d = NULL;
        sn_fault_arm(SN_FAULT_ALLOC, n, 1);
        int rc = schema_commit_decode(b.data, b.len, &d, &err);
        bool fired = sn_fault_disarm();
        if (!fired) {
            ck_assert_msg(rc == 0, "pass %d: %s", n, err.msg);
            schema_commit_free(d);
            ck_assert_int_eq(sn_alloc_live(), base);
            break;
        }
        faults++;
        ck_assert_msg(rc == SN_ENOMEM || rc == 0, "pass %d: rc %d (%s)", n, rc, err.msg);
        if (rc == SN_ENOMEM) {
            ck_assert_msg(err.msg[0] != '\0', "pass %d: no message", n);
            ck_assert_ptr_null(d);
        }
        schema_commit_free(d);
        ck_assert_msg(sn_alloc_live() == base, "pass %d: leak", n);
    }
    ck_assert_int_ge(faults, 5); /* commit, author, entered-by, changes, fields, ctx ... */
    sn_buf_free(&b);
    gen_free(g);
}
END_TEST

START_TEST(test_codec_encode_and_check_fault_loops)
{
    gen *g = gen_rich();
    long base = sn_alloc_live();
    for (int n = 0;; n++) {
        sn_err err = SN_ERR_INIT;
        sn_buf b;
        sn_buf_init(&b, 1 << 16);
        sn_fault_arm(SN_FAULT_ALLOC, n, 1);
        int rc = schema_commit_encode(&g->c, &b, &err);
        bool fired = sn_fault_disarm();
        sn_buf_free(&b);
        ck_assert_int_eq(sn_alloc_live(), base);
        if (!fired) {
            ck_assert_int_eq(rc, 0);
            break;
        }
        ck_assert_msg(rc == SN_ENOMEM && err.msg[0] != '\0', "pass %d: rc %d", n, rc);
    }
    for (int n = 0;; n++) {
        sn_err err = SN_ERR_INIT;
        bool unknown = true;
        sn_fault_arm(SN_FAULT_ALLOC, n, 1);
        int rc = schema_commit_check(&g->c, &unknown, &err);
        bool fired = sn_fault_disarm();
        ck_assert_int_eq(sn_alloc_live(), base);
        if (!fired) {
            ck_assert_msg(rc == 0, "%s", err.msg);
            ck_assert(!unknown);
            break;
        }
        ck_assert_msg(rc == SN_ENOMEM && err.msg[0] != '\0', "pass %d: rc %d", n, rc);
    }
    gen_free(g);
}
END_TEST

START_TEST(test_codec_existing_error_is_kept)
{
    /* The first failure wins: a decode error does not rewrite what err already holds. */
    sn_err err = SN_ERR_INIT;
    sn_err_set(&err, SN_EIO, "earlier failure");
    schema_commit *d = NULL;
    ck_assert_int_eq(schema_commit_decode((const uint8_t *)"\xc0", 1, &d, &err), SN_ECORRUPT);
    ck_assert_int_eq(err.code, SN_EIO);
    ck_assert_str_eq(err.msg, "earlier failure");
}
END_TEST

Suite *schema_codec_suite(void);
Suite *schema_codec_suite(void)
{
    Suite *s = suite_create("schema_codec_suite");
    TCase *tc = tcase_create("round_trip");
    tcase_add_loop_test(tc, test_codec_round_trip_random, 0, 300);
    tcase_add_test(tc, test_codec_layout_matches_the_essay);
    tcase_add_test(tc, test_codec_encode_appends_and_refuses_malformed_commits);
    tcase_add_test(tc, test_codec_peek_reads_the_header);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_codec_every_truncation_is_refused, 0, 20);
    tcase_add_loop_test(tc, test_codec_single_byte_mutations_never_crash, 0, 400);
    tcase_add_test(tc, test_codec_decode_refuses_malformed_header);
    tcase_add_test(tc, test_codec_decode_refuses_malformed_changes);
    tcase_add_test(tc, test_codec_trailing_elements_and_bytes);
    tcase_add_test(tc, test_codec_ctx_out_of_order_is_refused);
    tcase_add_test(tc, test_codec_oversize_is_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("versions");
    tcase_add_test(tc, test_codec_newer_format_is_refused_with_version_error);
    tcase_add_test(tc, test_codec_newer_schema_decodes_and_check_reports_unknown);
    tcase_add_test(tc, test_codec_unknown_op_is_kept_and_reported);
    suite_add_tcase(s, tc);

    tc = tcase_create("check");
    tcase_add_test(tc, test_codec_check_refuses_set_on_fixed_column);
    tcase_add_test(tc, test_codec_check_refuses_duplicate_cells);
    suite_add_tcase(s, tc);

    tc = tcase_create("faults");
    tcase_add_test(tc, test_codec_decode_fault_loop);
    tcase_add_test(tc, test_codec_encode_and_check_fault_loops);
    tcase_add_test(tc, test_codec_existing_error_is_kept);
    suite_add_tcase(s, tc);
    return s;
}
