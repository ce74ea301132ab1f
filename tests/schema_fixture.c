/* tests/schema_fixture.c - helpers shared by the schema suites (see schema_fixture.h). */
#include "tests/schema_fixture.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "schema/schema.h"

/* ---- building commits -------------------------------------------------------------- */

gen *gen_new(size_t nchanges)
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

void gen_free(gen *g)
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

schema_change *gen_insert(gen *g, size_t i, uint16_t table, uint8_t row, size_t nfields)
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

schema_change *gen_set(gen *g, size_t i, uint16_t table, uint8_t row, uint16_t col,
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

crdt_origin gen_origin(uint8_t id, uint32_t epoch)
{
    crdt_origin o = {.epoch = epoch};
    o.replica[0] = id;
    o.replica[CRDT_REPLICA_LEN - 1] = (uint8_t)(id ^ 0x5a);
    return o;
}

void gen_ctx_add(schema_change *ch, crdt_origin o, uint64_t seq)
{
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(crdt_vv_raise(&ch->ctx, &o, seq, &err) == 0, "raise: %s", err.msg);
}

schema_value gen_random_value(test_rng *r, const uint8_t *pool, size_t pool_len,
                              uint32_t long_text_one_in, size_t blob16_len)
{
    /* The draws and their order are part of every seeded test's input: keep them. */
    switch (test_rng_below(r, 6)) {
    case 0: return schema_value_nil();
    case 1: {
        /* Every width: shift a random 64-bit number right by a random amount. */
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
        uint32_t most = test_rng_below(r, long_text_one_in) == 0 ? (uint32_t)pool_len : 40;
        size_t n = test_rng_below(r, most);
        size_t off = test_rng_below(r, (uint32_t)(pool_len - n + 1));
        return (schema_value){.kind = SCHEMA_V_TEXT, .u.s = {pool + off, n}};
    }
    case 4: {
        schema_value v = {.kind = SCHEMA_V_ID};
        test_rng_bytes(r, v.u.id, SCHEMA_ID_LEN);
        return v;
    }
    default: {
        size_t n = test_rng_below(r, 40);
        if (n == SCHEMA_ID_LEN)
            n = blob16_len;
        return (schema_value){.kind = SCHEMA_V_BLOB, .u.s = {pool, n}};
    }
    }
}

/* The mix the commit suites were written with: one text in 8 may be long, and an empty blob
 * stands in for a 16-byte one. */
static schema_value commit_value(test_rng *r, gen *g)
{
    return gen_random_value(r, g->pool, sizeof g->pool, 8, 0);
}

gen *gen_random(test_rng *r)
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
                ch->fields[j].value = commit_value(r, g);
                col += 1 + test_rng_below(r, 5);
            }
        } else {
            schema_change *ch = gen_set(g, i, table, row, (uint16_t)test_rng_below(r, 20),
                                        commit_value(r, g));
            test_rng_bytes(r, ch->row, SCHEMA_ID_LEN);
            size_t k = test_rng_below(r, 6);
            for (size_t j = 0; j < k; j++)
                gen_ctx_add(ch, gen_origin((uint8_t)test_rng_below(r, 8), test_rng_below(r, 3)),
                            1 + (test_rng_next(r) >> test_rng_below(r, 64)) / 2);
        }
    }
    return g;
}

void commit_encode_ok(const schema_commit *c, sn_buf *b, int seed)
{
    sn_err err = SN_ERR_INIT;
    sn_buf_init(b, 1 << 20);
    ck_assert_msg(schema_commit_encode(c, b, &err) == 0, "seed %d: encode: %s", seed, err.msg);
}

/* ---- encoding and decoding commits ------------------------------------------------- */

int commit_decode_copy(const uint8_t *p, size_t n, schema_commit **out, uint8_t **copy,
                       sn_err *err)
{
    *copy = malloc(n == 0 ? 1 : n);
    ck_assert_ptr_nonnull(*copy);
    if (n > 0)
        memcpy(*copy, p, n);
    return schema_commit_decode(*copy, n, out, err);
}

int commit_decode_rc(const uint8_t *p, size_t n, sn_err *err)
{
    schema_commit *c = NULL;
    uint8_t *copy;
    int rc = commit_decode_copy(p, n, &c, &copy, err);
    if (rc != 0)
        ck_assert_ptr_null(c);
    schema_commit_free(c);
    free(copy);
    return rc;
}

void commit_expect_corrupt(const uint8_t *p, size_t n, const char *needle, int seed)
{
    sn_err err = SN_ERR_INIT;
    long base = sn_alloc_live();
    int rc = commit_decode_rc(p, n, &err);
    ck_assert_msg(rc == SN_ECORRUPT, "seed %d: rc %d (%s), want ECORRUPT", seed, rc, err.msg);
    ck_assert_msg(err.msg[0] != '\0', "seed %d: no message", seed);
    if (needle != NULL)
        ck_assert_msg(strstr(err.msg, needle) != NULL, "seed %d: '%s' not in '%s'", seed, needle,
                      err.msg);
    ck_assert_int_eq(sn_alloc_live(), base);
}

void commit_assert_equal(const schema_commit *a, const schema_commit *b, int seed)
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

/* ---- hand-made bodies -------------------------------------------------------------- */

void mpb_byte(mpb *m, uint8_t x)
{
    ck_assert_uint_lt(m->n, sizeof m->b);
    m->b[m->n++] = x;
}

static void mpb_be(mpb *m, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        mpb_byte(m, (uint8_t)(v >> (8 * i)));
}

void mpb_uint(mpb *m, uint64_t v)
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

void mpb_array(mpb *m, uint32_t n)
{
    if (n < 16) {
        mpb_byte(m, (uint8_t)(0x90 | n));
    } else {
        mpb_byte(m, 0xdc);
        mpb_be(m, n, 2);
    }
}

void mpb_bin(mpb *m, const uint8_t *p, size_t n)
{
    mpb_byte(m, 0xc4);
    mpb_byte(m, (uint8_t)n);
    for (size_t i = 0; i < n; i++)
        mpb_byte(m, p[i]);
}

void mpb_str(mpb *m, const char *s)
{
    size_t n = strlen(s);
    ck_assert_uint_lt(n, 32);
    mpb_byte(m, (uint8_t)(0xa0 | n));
    for (size_t i = 0; i < n; i++)
        mpb_byte(m, (uint8_t)s[i]);
}

void mpb_hex(mpb *m, const char *hex)
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

const uint8_t ID_A[16] = {1, 2, 3, 4, 5, 6, 0x70, 8, 0x80, 10, 11, 12, 13, 14, 15, 16};

