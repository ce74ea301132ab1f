/* schema/codec.c - commit body format 1.
 *
 * A commit body is one local transaction as a single msgpack array. The bytes are what the
 * origin's hash chain covers, what the store keeps and what peers relay unchanged, so the
 * layout below is frozen: a new meaning needs a new format number (refused by older
 * builds with SN_EVERSION) or a new trailing element (ignored by older builds).
 *
 * Top level: an array of at least 9 elements.
 *
 *   INDEX  MSGPACK TYPE     MEANING
 *   [0]    uint             format, 1. Larger: SN_EVERSION ("install a newer Outpost").
 *   [1]    uint <= 2^32-1   schema version the writer ran (schema.h SCHEMA_VERSION)
 *   [2]    bin, 16 bytes    origin replica id
 *   [3]    uint <= 2^32-1   origin epoch
 *   [4]    uint >= 1        seq: 1, 2, 3 ... per origin, no gaps
 *   [5]    uint             hlc: 48-bit ms << 16 | 16-bit counter
 *   [6]    str, 1..256      author (the clinician responsible), no NUL bytes
 *   [7]    str 1..256 | nil entered by, when someone else typed it in; nil otherwise
 *   [8]    array, 1..4096   changes, applied in order
 *   [9..]  anything         reserved for later formats: must be well-formed, is skipped
 *
 * The format number is read before anything else is checked (even the element count),
 * so a later format is free to change everything after it and still be told apart.
 *
 * A change is an array whose first element is its op:
 *
 *   insert  [1, table uint16, row bin(16), fields array]
 *           fields: 2k items (k <= 256), column uint16 then value, column ids strictly
 *           increasing. Mv columns take these as initial values, with an empty context.
 *   set     [2, table uint16, row bin(16), column uint16, value, ctx array]
 *           ctx: 3k items (k <= CRDT_VV_MAX_ENTRIES), replica bin(16), epoch uint32,
 *           seq uint64 >= 1, strictly increasing by (replica by memcmp, epoch): the
 *           cell's causal context as the writer saw it.
 *   other   any other op number: a change from a newer format. Its elements are walked
 *           (well-formed, depth capped) and kept as SCHEMA_OP_UNKNOWN.
 *
 * Elements after those listed for insert and set are skipped like [9..]. A value is nil,
 * an integer, a float 64 (float 32 is read too), a str (text) or a bin (16 bytes: an id;
 * otherwise a blob); see codec_value.c. No maps, booleans or extension types appear in
 * format 1, except inside the skipped parts.
 *
 * Encoding is canonical (msgpack-c's smallest forms, floats always 64-bit), so decoding
 * and re-encoding a body gives the same bytes. Decoding accepts wider forms than needed.
 * Whole bodies are at most SCHEMA_COMMIT_MAX (56 KiB) so one fits in a transfer unit.
 *
 * Worked example: origin replica R (16 bytes) epoch 0, seq 7, hlc 1700000000000 ms counter
 * 0, author "ana", one change setting allergy (6) row W column verification (8) to
 * "confirmed" after seeing origin S epoch 0 up to seq 5. 91 bytes:
 *
 *   OFFSET  SIZE  BYTES                 MEANING
 *   0       1     99                    array of 9 (more elements: dc + u16 count)
 *   1       1     01                    [0] format 1
 *   2       1     01                    [1] schema version 1
 *   3       18    c4 10 R               [2] replica: bin 8, length 16, the bytes
 *   21      1     00                    [3] epoch 0
 *   22      1     07                    [4] seq 7
 *   23      9     cf 018bcfe568000000   [5] hlc: uint 64, big-endian
 *   32      4     a3 616e61             [6] author "ana": fixstr of 3
 *   36      1     c0                    [7] entered by: nil
 *   37      1     91                    [8] array of 1 change
 *   38      1     96                      change: array of 6
 *   39      1     02                      op: set
 *   40      1     06                      table 6 (allergy)
 *   41      18    c4 10 W                 row id
 *   59      1     08                      column 8 (verification)
 *   60      10    a9 "confirmed"          value: fixstr of 9
 *   70      1     93                      ctx: array of 3 (one entry)
 *   71      18    c4 10 S                   replica
 *   89      1     00                        epoch 0
 *   90      1     05                        seq 5
 *
 * (tests/check_schema_codec.c checks this example byte for byte.)
 *
 * Decoding never gives these bytes to msgpack-c: mpcursor.c checks every length against
 * the bytes that remain, bounds every count by them, caps nesting at
 * SCHEMA_MPCURSOR_DEPTH_MAX and refuses trailing bytes. Decoding checks structure and value
 * kinds; whether tables and columns exist is schema_commit_check's business, because a
 * commit from a newer schema must still be stored and relayed. */
#include "schema/codec.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "schema/mpcursor.h"
#include "schema/schema.h"

/* Elements of the top-level array that format 1 defines. */
#define HEADER_ELEMS 9
#define INSERT_ELEMS 4
#define SET_ELEMS 6

/* ---- shared helpers ---------------------------------------------------------------- */

/* The public entry points below never touch a message the caller's err already holds
 * (the first failure wins and keeps its words): they work on a scratch sn_err then. */
static sn_err *own_err(sn_err *err, sn_err *scratch)
{
    *scratch = (sn_err)SN_ERR_INIT;
    return err == NULL || err->code == 0 ? err : scratch;
}

/* Prepend context to the failure `rc` just reported. */
static int add_context(sn_err *err, int rc, const char *fmt, ...) SN_PRINTF(3, 4);
static int add_context(sn_err *err, int rc, const char *fmt, ...)
{
    if (err == NULL || err->code != rc)
        return rc;
    char ctx[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    sn_err_prefix(err, "%s", ctx);
    return rc;
}

static const char *op_name(schema_op op)
{
    switch (op) {
    case SCHEMA_OP_INSERT: return "insert";
    case SCHEMA_OP_SET: return "set";
    case SCHEMA_OP_UNKNOWN: break;
    }
    return "unknown op";
}

/* ---- encode ------------------------------------------------------------------------ */

typedef struct commit_sink {
    sn_buf *out;
    size_t start;
    sn_err *err;
    int rc;
} commit_sink;

static int too_big(sn_err *err)
{
    int rc = sn_err_set(err, SN_ETOOBIG,
                        "the commit would be larger than %u bytes, the most one transfer unit "
                        "carries",
                        SCHEMA_COMMIT_MAX);
    sn_err_hint(err, "record the changes in several smaller commits");
    return rc;
}

static int sink_write(void *data, const char *buf, size_t len)
{
    commit_sink *s = data;
    if (s->rc != 0)
        return -1;
    if (len > SCHEMA_COMMIT_MAX - (s->out->len - s->start))
        s->rc = too_big(s->err);
    else
        s->rc = sn_buf_append(s->out, buf, len, s->err);
    return s->rc == 0 ? 0 : -1;
}

static int name_check(const char *name, bool nullable, const char *what, sn_err *err)
{
    if (name == NULL) {
        if (nullable)
            return 0;
        return sn_err_set(err, SN_EINVAL, "cannot encode a commit without %s", what);
    }
    size_t n = strlen(name);
    if (n == 0 || n > SCHEMA_NAME_MAX)
        return sn_err_set(err, SN_EINVAL, "cannot encode a commit whose %s is %zu bytes long "
                                          "(1 to %d allowed)",
                          what, n, SCHEMA_NAME_MAX);
    return 0;
}

static int ctx_check(const crdt_vv *ctx, size_t i, sn_err *err)
{
    if (ctx->n > CRDT_VV_MAX_ENTRIES)
        return sn_err_set(err, SN_EINVAL, "change %zu: context has %zu entries, more than %d", i,
                          ctx->n, CRDT_VV_MAX_ENTRIES);
    for (size_t j = 0; j < ctx->n; j++) {
        if (ctx->e[j].seq == 0)
            return sn_err_set(err, SN_EINVAL, "change %zu: context entry %zu has seq 0", i, j);
        if (j > 0 && crdt_origin_cmp(&ctx->e[j - 1].origin, &ctx->e[j].origin) >= 0)
            return sn_err_set(err, SN_EINVAL,
                              "change %zu: context entries %zu and %zu are not in strictly "
                              "increasing origin order",
                              i, j - 1, j);
    }
    return 0;
}

/* What encode refuses before writing a byte (SN_EINVAL): the caller built a commit that
 * format 1 cannot express or that no node would accept. Change numbers are 1-based. */
static int commit_validate(const schema_commit *c, sn_err *err)
{
    if (c->seq == 0)
        return sn_err_set(err, SN_EINVAL, "cannot encode a commit with seq 0 (seqs start at 1)");
    int rc = name_check(c->author, false, "an author", err);
    if (rc == 0)
        rc = name_check(c->entered_by, true, "entered-by name", err);
    if (rc != 0)
        return rc;
    if (c->nchanges == 0 || c->nchanges > SCHEMA_CHANGES_MAX)
        return sn_err_set(err, SN_EINVAL, "cannot encode a commit with %zu changes (1 to %d "
                                          "allowed)",
                          c->nchanges, SCHEMA_CHANGES_MAX);
    for (size_t i = 0; i < c->nchanges; i++) {
        const schema_change *ch = &c->changes[i];
        switch (ch->op) {
        case SCHEMA_OP_INSERT:
            if (ch->nfields > SCHEMA_FIELDS_MAX)
                return sn_err_set(err, SN_EINVAL, "change %zu: an insert of %zu fields (at most "
                                                  "%d allowed)",
                                  i + 1, ch->nfields, SCHEMA_FIELDS_MAX);
            for (size_t j = 1; j < ch->nfields; j++)
                if (ch->fields[j].col <= ch->fields[j - 1].col)
                    return sn_err_set(err, SN_EINVAL,
                                      "change %zu: insert field %zu (column %u) does not follow "
                                      "column %u: fields must be in increasing column order",
                                      i + 1, j + 1, ch->fields[j].col, ch->fields[j - 1].col);
            break;
        case SCHEMA_OP_SET:
            if ((rc = ctx_check(&ch->ctx, i + 1, err)) != 0)
                return rc;
            break;
        case SCHEMA_OP_UNKNOWN:
        default:
            return sn_err_set(err, SN_EINVAL, "change %zu: op %d cannot be encoded (only insert "
                                              "and set exist in format %d)",
                              i + 1, (int)ch->op, SCHEMA_FORMAT_VERSION);
        }
    }
    return 0;
}

static void pack_value(commit_sink *s, const schema_value *v)
{
    if (s->rc != 0)
        return;
    /* Values go straight into the buffer, past the packer's sink: refuse a text that
     * cannot fit before copying it, and check the total after. */
    size_t used = s->out->len - s->start;
    if ((v->kind == SCHEMA_V_TEXT || v->kind == SCHEMA_V_BLOB) &&
        v->u.s.n > SCHEMA_COMMIT_MAX - used) {
        s->rc = too_big(s->err);
        return;
    }
    s->rc = schema_value_encode(v, s->out, s->err);
    if (s->rc == 0 && s->out->len - s->start > SCHEMA_COMMIT_MAX)
        s->rc = too_big(s->err);
}

int schema_commit_encode(const schema_commit *c, sn_buf *out, sn_err *err)
{
    sn_err scratch;
    err = own_err(err, &scratch);
    int rc = commit_validate(c, err);
    if (rc != 0)
        return rc;
    commit_sink s = {.out = out, .start = out->len, .err = err};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &s, sink_write);

    msgpack_pack_array(&pk, HEADER_ELEMS);
    msgpack_pack_uint64(&pk, SCHEMA_FORMAT_VERSION);
    msgpack_pack_uint32(&pk, c->schema_version);
    msgpack_pack_bin_with_body(&pk, c->origin.replica, CRDT_REPLICA_LEN);
    msgpack_pack_uint32(&pk, c->origin.epoch);
    msgpack_pack_uint64(&pk, c->seq);
    msgpack_pack_uint64(&pk, c->hlc);
    msgpack_pack_str_with_body(&pk, c->author, strlen(c->author));
    if (c->entered_by != NULL)
        msgpack_pack_str_with_body(&pk, c->entered_by, strlen(c->entered_by));
    else
        msgpack_pack_nil(&pk);
    msgpack_pack_array(&pk, c->nchanges);
    for (size_t i = 0; i < c->nchanges && s.rc == 0; i++) {
        const schema_change *ch = &c->changes[i];
        if (ch->op == SCHEMA_OP_INSERT) {
            msgpack_pack_array(&pk, INSERT_ELEMS);
            msgpack_pack_uint64(&pk, SCHEMA_OP_INSERT);
            msgpack_pack_uint16(&pk, ch->table);
            msgpack_pack_bin_with_body(&pk, ch->row, SCHEMA_ID_LEN);
            msgpack_pack_array(&pk, 2 * ch->nfields);
            for (size_t j = 0; j < ch->nfields && s.rc == 0; j++) {
                msgpack_pack_uint16(&pk, ch->fields[j].col);
                pack_value(&s, &ch->fields[j].value);
            }
        } else {
            msgpack_pack_array(&pk, SET_ELEMS);
            msgpack_pack_uint64(&pk, SCHEMA_OP_SET);
            msgpack_pack_uint16(&pk, ch->table);
            msgpack_pack_bin_with_body(&pk, ch->row, SCHEMA_ID_LEN);
            msgpack_pack_uint16(&pk, ch->col);
            pack_value(&s, &ch->value);
            msgpack_pack_array(&pk, 3 * ch->ctx.n);
            for (size_t j = 0; j < ch->ctx.n && s.rc == 0; j++) {
                const crdt_vv_entry *e = &ch->ctx.e[j];
                msgpack_pack_bin_with_body(&pk, e->origin.replica, CRDT_REPLICA_LEN);
                msgpack_pack_uint32(&pk, e->origin.epoch);
                msgpack_pack_uint64(&pk, e->seq);
            }
        }
        if (s.rc != 0)
            add_context(err, s.rc, "encoding commit change %zu of %zu (%s)", i + 1,
                        c->nchanges, op_name(ch->op));
    }
    if (s.rc != 0)
        out->len = s.start;
    return s.rc;
}

/* ---- decode ------------------------------------------------------------------------ */

typedef struct commit_head {
    size_t nelem;
    uint32_t schema_version;
    crdt_origin origin;
    uint64_t seq;
    crdt_hlc hlc;
} commit_head;

static int size_check(size_t len, sn_err *err)
{
    if (len > SCHEMA_COMMIT_MAX)
        return sn_err_set(err, SN_ECORRUPT,
                          "commit body is %zu bytes, more than the limit of %u", len,
                          SCHEMA_COMMIT_MAX);
    return 0;
}

/* Elements [0]..[5]: everything peek needs. */
static int read_head(schema_mpcursor *cur, commit_head *h, sn_err *err)
{
    int rc = schema_mpcursor_read_array(cur, &h->nelem, "commit", err);
    if (rc != 0)
        return rc;
    if (h->nelem == 0)
        return sn_err_set(err, SN_ECORRUPT, "commit: the top-level array is empty (expected "
                                            "the format number first)");
    uint64_t format, v;
    if ((rc = schema_mpcursor_read_uint(cur, UINT64_MAX, &format, "commit format [0]", err)))
        return rc;
    if (format > SCHEMA_FORMAT_VERSION) {
        rc = sn_err_set(err, SN_EVERSION,
                        "commit format %llu is newer than this build (%d); install a newer "
                        "Outpost",
                        (unsigned long long)format, SCHEMA_FORMAT_VERSION);
        return rc;
    }
    if (format == 0)
        return sn_err_set(err, SN_ECORRUPT, "commit format [0]: 0 is not a format number");
    if (h->nelem < HEADER_ELEMS)
        return sn_err_set(err, SN_ECORRUPT,
                          "commit: the top-level array has %zu elements; format %d needs at "
                          "least %d",
                          h->nelem, SCHEMA_FORMAT_VERSION, HEADER_ELEMS);
    if ((rc = schema_mpcursor_read_uint(cur, UINT32_MAX, &v, "commit schema version [1]", err)))
        return rc;
    h->schema_version = (uint32_t)v;
    if ((rc = schema_mpcursor_read_bin_exact(cur, h->origin.replica, CRDT_REPLICA_LEN,
                                             "commit replica id [2]", err)))
        return rc;
    if ((rc = schema_mpcursor_read_uint(cur, UINT32_MAX, &v, "commit epoch [3]", err)))
        return rc;
    h->origin.epoch = (uint32_t)v;
    if ((rc = schema_mpcursor_read_uint(cur, UINT64_MAX, &h->seq, "commit seq [4]", err)))
        return rc;
    if (h->seq == 0)
        return sn_err_set(err, SN_ECORRUPT, "commit seq [4]: 0 is not a sequence number "
                                            "(they start at 1)");
    return schema_mpcursor_read_uint(cur, UINT64_MAX, &h->hlc, "commit hlc [5]", err);
}

/* Author and entered-by: 1..SCHEMA_NAME_MAX bytes without NUL, copied NUL-terminated. */
static int read_name(schema_mpcursor *cur, char **out, const char *what, sn_err *err)
{
    const uint8_t *p;
    size_t n;
    size_t at = cur->pos;
    int rc = schema_mpcursor_read_str(cur, SCHEMA_NAME_MAX, &p, &n, what, err);
    if (rc != 0)
        return rc;
    if (n == 0)
        return sn_err_set(err, SN_ECORRUPT, "%s: empty name at byte %zu", what, at);
    if (memchr(p, '\0', n) != NULL)
        return sn_err_set(err, SN_ECORRUPT, "%s: the name at byte %zu contains a NUL byte",
                          what, at);
    char *s = sn_malloc(n + 1);
    if (s == NULL)
        return sn_err_set(err, SN_ENOMEM, "%s: out of memory for %zu bytes", what, n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    *out = s;
    return 0;
}

static int read_u16(schema_mpcursor *cur, uint16_t *out, const char *what, sn_err *err)
{
    uint64_t v;
    int rc = schema_mpcursor_read_uint(cur, UINT16_MAX, &v, what, err);
    if (rc == 0)
        *out = (uint16_t)v;
    return rc;
}

static int decode_insert(schema_mpcursor *cur, schema_change *ch, sn_err *err)
{
    size_t items;
    int rc = schema_mpcursor_read_array(cur, &items, "insert field list", err);
    if (rc != 0)
        return rc;
    if (items % 2 != 0)
        return sn_err_set(err, SN_ECORRUPT,
                          "insert field list: %zu items, expected column and value pairs",
                          items);
    size_t k = items / 2;
    if (k > SCHEMA_FIELDS_MAX)
        return sn_err_set(err, SN_ECORRUPT, "insert field list: %zu fields, more than the limit "
                                            "of %d",
                          k, SCHEMA_FIELDS_MAX);
    if (k == 0)
        return 0;
    ch->fields = sn_calloc(k, sizeof *ch->fields);
    if (ch->fields == NULL)
        return sn_err_set(err, SN_ENOMEM, "insert field list: out of memory for %zu fields", k);
    ch->nfields = k;
    for (size_t j = 0; j < k; j++) {
        schema_field *f = &ch->fields[j];
        rc = read_u16(cur, &f->col, "column id", err);
        if (rc == 0 && j > 0 && f->col <= ch->fields[j - 1].col)
            rc = sn_err_set(err, SN_ECORRUPT,
                            "column %u follows column %u: an insert lists its columns in "
                            "strictly increasing order",
                            f->col, ch->fields[j - 1].col);
        if (rc == 0)
            rc = schema_mpcursor_read_value(cur, &f->value, "value", err);
        if (rc != 0)
            return add_context(err, rc, "insert field %zu of %zu", j + 1, k);
    }
    return 0;
}

static int decode_ctx(schema_mpcursor *cur, crdt_vv *ctx, sn_err *err)
{
    size_t items;
    int rc = schema_mpcursor_read_array(cur, &items, "set context", err);
    if (rc != 0)
        return rc;
    if (items % 3 != 0)
        return sn_err_set(err, SN_ECORRUPT,
                          "set context: %zu items, expected (replica, epoch, seq) triples", items);
    size_t k = items / 3;
    if (k > CRDT_VV_MAX_ENTRIES)
        return sn_err_set(err, SN_ECORRUPT, "set context: %zu entries, more than the limit of %d",
                          k, CRDT_VV_MAX_ENTRIES);
    crdt_origin prev = {{0}, 0};
    for (size_t j = 0; j < k; j++) {
        crdt_origin o;
        uint64_t epoch, seq;
        rc = schema_mpcursor_read_bin_exact(cur, o.replica, CRDT_REPLICA_LEN, "replica id", err);
        if (rc == 0)
            rc = schema_mpcursor_read_uint(cur, UINT32_MAX, &epoch, "epoch", err);
        if (rc == 0)
            rc = schema_mpcursor_read_uint(cur, UINT64_MAX, &seq, "seq", err);
        if (rc == 0) {
            o.epoch = (uint32_t)epoch;
            if (seq == 0) {
                rc = sn_err_set(err, SN_ECORRUPT, "seq 0 (a context lists seqs from 1)");
            } else if (j > 0 && crdt_origin_cmp(&prev, &o) >= 0) {
                char a[2 * CRDT_REPLICA_LEN + 1], b[2 * CRDT_REPLICA_LEN + 1];
                sn_hex(a, prev.replica, CRDT_REPLICA_LEN);
                sn_hex(b, o.replica, CRDT_REPLICA_LEN);
                rc = sn_err_set(err, SN_ECORRUPT,
                                "origin %s/%u follows %s/%u: entries must be in strictly "
                                "increasing (replica, epoch) order",
                                b, o.epoch, a, prev.epoch);
            } else {
                rc = crdt_vv_raise(ctx, &o, seq, err);
            }
        }
        if (rc != 0)
            return add_context(err, rc, "set context entry %zu of %zu", j + 1, k);
        prev = o;
    }
    return 0;
}

static int decode_change(schema_mpcursor *cur, schema_change *ch, sn_err *err)
{
    size_t m;
    int rc = schema_mpcursor_read_array(cur, &m, "change", err);
    if (rc != 0)
        return rc;
    if (m == 0)
        return sn_err_set(err, SN_ECORRUPT, "change: an empty array (expected the op first)");
    uint64_t op;
    if ((rc = schema_mpcursor_read_uint(cur, UINT64_MAX, &op, "change op", err)) != 0)
        return rc;
    size_t used = 1;
    if (op == SCHEMA_OP_INSERT) {
        ch->op = SCHEMA_OP_INSERT;
        if (m < INSERT_ELEMS)
            return sn_err_set(err, SN_ECORRUPT,
                              "insert: %zu elements, expected at least %d [op, table, row, "
                              "fields]",
                              m, INSERT_ELEMS);
        if ((rc = read_u16(cur, &ch->table, "table id", err)) != 0 ||
            (rc = schema_mpcursor_read_bin_exact(cur, ch->row, SCHEMA_ID_LEN, "row id", err)) !=
                0 ||
            (rc = decode_insert(cur, ch, err)) != 0)
            return rc;
        used = INSERT_ELEMS;
    } else if (op == SCHEMA_OP_SET) {
        ch->op = SCHEMA_OP_SET;
        if (m < SET_ELEMS)
            return sn_err_set(err, SN_ECORRUPT,
                              "set: %zu elements, expected at least %d [op, table, row, column, "
                              "value, context]",
                              m, SET_ELEMS);
        if ((rc = read_u16(cur, &ch->table, "table id", err)) != 0 ||
            (rc = schema_mpcursor_read_bin_exact(cur, ch->row, SCHEMA_ID_LEN, "row id", err)) !=
                0 ||
            (rc = read_u16(cur, &ch->col, "column id", err)) != 0 ||
            (rc = schema_mpcursor_read_value(cur, &ch->value, "value", err)) != 0 ||
            (rc = decode_ctx(cur, &ch->ctx, err)) != 0)
            return rc;
        used = SET_ELEMS;
    } else {
        /* A change from a newer format: keep its place, walk its bytes. */
        ch->op = SCHEMA_OP_UNKNOWN;
    }
    /* The change array sits at depth 3 (commit, change list, change). */
    for (size_t j = used; j < m; j++)
        if ((rc = schema_mpcursor_skip(cur, SCHEMA_MPCURSOR_DEPTH_MAX - 3,
                                       "an element this build does not know", err)) != 0)
            return rc;
    return 0;
}

static int decode_body(schema_mpcursor *cur, schema_commit *c, sn_err *err)
{
    commit_head h;
    int rc = read_head(cur, &h, err);
    if (rc != 0)
        return rc;
    c->schema_version = h.schema_version;
    c->origin = h.origin;
    c->seq = h.seq;
    c->hlc = h.hlc;
    if ((rc = read_name(cur, &c->author, "commit author [6]", err)) != 0)
        return rc;
    if (!schema_mpcursor_take_nil(cur) &&
        (rc = read_name(cur, &c->entered_by, "commit entered-by [7]", err)) != 0)
        return rc;
    size_t n;
    if ((rc = schema_mpcursor_read_array(cur, &n, "commit change list [8]", err)) != 0)
        return rc;
    if (n == 0 || n > SCHEMA_CHANGES_MAX)
        return sn_err_set(err, SN_ECORRUPT,
                          "commit change list [8]: %zu changes (1 to %d allowed)", n,
                          SCHEMA_CHANGES_MAX);
    c->changes = sn_calloc(n, sizeof *c->changes);
    if (c->changes == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory for %zu changes", n);
    c->nchanges = n;
    for (size_t i = 0; i < n; i++) {
        if ((rc = decode_change(cur, &c->changes[i], err)) != 0) {
            schema_op op = c->changes[i].op;
            return add_context(err, rc, "change %zu of %zu%s%s%s", i + 1, n,
                               op != SCHEMA_OP_UNKNOWN ? " (" : "",
                               op != SCHEMA_OP_UNKNOWN ? op_name(op) : "",
                               op != SCHEMA_OP_UNKNOWN ? ")" : "");
        }
    }
    for (size_t k = HEADER_ELEMS; k < h.nelem; k++)
        if ((rc = schema_mpcursor_skip(cur, SCHEMA_MPCURSOR_DEPTH_MAX - 1,
                                       "commit: an element from a later format", err)) != 0)
            return rc;
    if (schema_mpcursor_left(cur) != 0)
        return sn_err_set(err, SN_ECORRUPT, "commit: %zu unexpected bytes after the end, at "
                                            "byte %zu",
                          schema_mpcursor_left(cur), cur->pos);
    return 0;
}

int schema_commit_decode(const uint8_t *body, size_t len, schema_commit **out, sn_err *err)
{
    *out = NULL;
    sn_err scratch;
    err = own_err(err, &scratch);
    int rc = size_check(len, err);
    if (rc != 0)
        return rc;
    schema_commit *c = sn_calloc(1, sizeof *c);
    if (c == NULL)
        return sn_err_set(err, SN_ENOMEM, "decoding a commit body of %zu bytes: out of memory",
                          len);
    schema_mpcursor cur;
    schema_mpcursor_init(&cur, body, len);
    rc = decode_body(&cur, c, err);
    if (rc != 0) {
        schema_commit_free(c);
        /* A newer format's message is already exactly what the user needs to read. */
        if (rc != SN_EVERSION)
            add_context(err, rc, "decoding commit body (%zu bytes)", len);
        return rc;
    }
    *out = c;
    return 0;
}

void schema_commit_free(schema_commit *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nchanges; i++) {
        sn_free(c->changes[i].fields);
        crdt_vv_free(&c->changes[i].ctx);
    }
    sn_free(c->changes);
    sn_free(c->author);
    sn_free(c->entered_by);
    sn_free(c);
}

int schema_commit_peek(const uint8_t *body, size_t len, crdt_origin *origin, uint64_t *seq,
                       crdt_hlc *hlc, uint32_t *schema_version, sn_err *err)
{
    sn_err scratch;
    err = own_err(err, &scratch);
    int rc = size_check(len, err);
    if (rc != 0)
        return rc;
    schema_mpcursor cur;
    schema_mpcursor_init(&cur, body, len);
    commit_head h;
    if ((rc = read_head(&cur, &h, err)) != 0) {
        if (rc != SN_EVERSION)
            add_context(err, rc, "reading commit header (%zu bytes)", len);
        return rc;
    }
    if (origin != NULL)
        *origin = h.origin;
    if (seq != NULL)
        *seq = h.seq;
    if (hlc != NULL)
        *hlc = h.hlc;
    if (schema_version != NULL)
        *schema_version = h.schema_version;
    return 0;
}

/* ---- check ------------------------------------------------------------------------- */

/* One cell a change writes, or (whole_row) the row an insert creates. */
typedef struct cell_key {
    uint16_t table;
    uint16_t col;
    bool whole_row;
    uint8_t row[SCHEMA_ID_LEN];
    size_t change; /* 0-based index */
} cell_key;

static int cell_key_cmp(const void *pa, const void *pb)
{
    const cell_key *a = pa, *b = pb;
    if (a->table != b->table)
        return a->table < b->table ? -1 : 1;
    int r = memcmp(a->row, b->row, SCHEMA_ID_LEN);
    if (r != 0)
        return r;
    if (a->whole_row != b->whole_row)
        return a->whole_row ? -1 : 1;
    if (a->col != b->col)
        return a->col < b->col ? -1 : 1;
    return a->change < b->change ? -1 : (a->change > b->change);
}

static void cell_name(char *out, size_t cap, uint16_t table_id, uint16_t col_id, bool whole_row)
{
    const schema_table *t = schema_table_by_id(table_id);
    const schema_column *c = t != NULL ? schema_column_by_id(t, col_id) : NULL;
    char tname[32], cname[32];
    if (t != NULL)
        snprintf(tname, sizeof tname, "%s", t->name);
    else
        snprintf(tname, sizeof tname, "table %u", table_id);
    if (c != NULL)
        snprintf(cname, sizeof cname, "%s", c->name);
    else
        snprintf(cname, sizeof cname, "column %u", col_id);
    if (whole_row)
        snprintf(out, cap, "%s", tname);
    else
        snprintf(out, cap, "%s.%s", tname, cname);
}

static int check_cells(const schema_commit *c, sn_err *err)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nchanges; i++) {
        const schema_change *ch = &c->changes[i];
        size_t add = ch->op == SCHEMA_OP_INSERT ? 1 + ch->nfields : ch->op == SCHEMA_OP_SET;
        if (__builtin_add_overflow(n, add, &n))
            return sn_err_set(err, SN_EINVAL, "checking commit: too many cells");
    }
    if (n < 2)
        return 0;
    cell_key *keys = sn_mallocarray(n, sizeof *keys);
    if (keys == NULL)
        return sn_err_set(err, SN_ENOMEM, "checking commit: out of memory for %zu cells", n);
    size_t k = 0;
    for (size_t i = 0; i < c->nchanges; i++) {
        const schema_change *ch = &c->changes[i];
        cell_key key = {.table = ch->table, .change = i};
        memcpy(key.row, ch->row, SCHEMA_ID_LEN);
        if (ch->op == SCHEMA_OP_INSERT) {
            key.whole_row = true;
            keys[k++] = key;
            key.whole_row = false;
            for (size_t j = 0; j < ch->nfields; j++) {
                key.col = ch->fields[j].col;
                keys[k++] = key;
            }
        } else if (ch->op == SCHEMA_OP_SET) {
            key.col = ch->col;
            keys[k++] = key;
        }
    }
    qsort(keys, n, sizeof *keys, cell_key_cmp);
    int rc = 0;
    for (size_t i = 1; i < n && rc == 0; i++) {
        const cell_key *a = &keys[i - 1], *b = &keys[i];
        if (a->table != b->table || a->whole_row != b->whole_row ||
            (!a->whole_row && a->col != b->col) || memcmp(a->row, b->row, SCHEMA_ID_LEN) != 0)
            continue;
        char what[80], row[2 * SCHEMA_ID_LEN + 1];
        cell_name(what, sizeof what, a->table, a->col, a->whole_row);
        schema_id_format(row, a->row);
        if (a->whole_row)
            rc = sn_err_set(err, SN_EINVAL,
                            "commit changes %zu and %zu both insert row %s into %s; a row is "
                            "inserted once",
                            a->change + 1, b->change + 1, row, what);
        else
            rc = sn_err_set(err, SN_EINVAL,
                            "commit changes %zu and %zu both write %s of row %s; a commit "
                            "changes each cell at most once",
                            a->change + 1, b->change + 1, what, row);
    }
    sn_free(keys);
    return rc;
}

int schema_commit_check(const schema_commit *c, bool *has_unknown, sn_err *err)
{
    sn_err scratch;
    err = own_err(err, &scratch);
    bool unknown = false;
    int rc = 0;
    for (size_t i = 0; i < c->nchanges && rc == 0; i++) {
        const schema_change *ch = &c->changes[i];
        bool known_op = ch->op == SCHEMA_OP_INSERT || ch->op == SCHEMA_OP_SET;
        const schema_table *t = known_op ? schema_table_by_id(ch->table) : NULL;
        if (t == NULL) {
            unknown = true; /* an unknown op, or a table from a newer schema */
            continue;
        }
        if (ch->op == SCHEMA_OP_INSERT) {
            for (size_t j = 0; j < ch->nfields && rc == 0; j++) {
                const schema_column *col = schema_column_by_id(t, ch->fields[j].col);
                if (col == NULL)
                    unknown = true;
                else
                    rc = schema_value_validate(t, col, &ch->fields[j].value, false, err);
            }
        } else {
            const schema_column *col = schema_column_by_id(t, ch->col);
            if (col == NULL) {
                unknown = true;
            } else if (col->kind != SCHEMA_MV) {
                rc = sn_err_set(err, SN_EINVAL,
                                "%s.%s is written once when the record is created; it cannot "
                                "be set",
                                t->name, col->name);
            } else {
                rc = schema_value_validate(t, col, &ch->value, false, err);
            }
        }
        if (rc != 0)
            add_context(err, rc, "commit change %zu of %zu (%s)", i + 1, c->nchanges,
                        op_name(ch->op));
    }
    if (rc == 0)
        rc = check_cells(c, err);
    if (rc == 0 && has_unknown != NULL)
        *has_unknown = unknown;
    return rc;
}
