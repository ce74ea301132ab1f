/* schema/codec_value.c - the canonical msgpack bytes of one cell value.
 *
 * A value is one msgpack item in its smallest encoding, as msgpack-c's packer chooses it:
 *
 *   kind         encoding                                  example
 *   NIL          nil                                       c0
 *   INT          positive/negative fixint, uint/int 8..64  1 -> 01, 200 -> cc c8, -100 -> d0 9c
 *   REAL         float 64, always (bit-exact)              1.5 -> cb 3f f8 00 00 00 00 00 00
 *   TEXT         fixstr / str 8 / 16 / 32                  "ab" -> a2 61 62
 *   ID           bin 8 of exactly 16 bytes                 c4 10 <16 bytes>
 *   BLOB         bin 8 / 16 / 32 of any length but 16
 *
 * Siblings keep these bytes and compare them with memcmp, so two nodes must produce the
 * same bytes for the same value: that is why encoding is canonical. Decoding accepts any
 * well-formed encoding (a 1 written as uint 64 reads as INT 1); it never hands bytes to
 * msgpack-c, only to the validating cursor in mpcursor.c. */
#include "schema/value.h"

#include <msgpack.h>

#include "schema/mpcursor.h"

typedef struct value_sink {
    sn_buf *out;
    sn_err *err;
    int rc;
} value_sink;

static int sink_write(void *data, const char *buf, size_t len)
{
    value_sink *s = data;
    if (s->rc == 0)
        s->rc = sn_buf_append(s->out, buf, len, s->err);
    return s->rc == 0 ? 0 : -1;
}

int schema_value_encode(const schema_value *v, sn_buf *out, sn_err *err)
{
    /* A 16-byte blob would read back as an id; refuse rather than change kind silently. */
    if (v->kind == SCHEMA_V_BLOB && v->u.s.n == SCHEMA_ID_LEN)
        return sn_err_set(err, SN_EINVAL,
                          "cannot encode a 16-byte binary value: it would read back as a "
                          "record id");
    if ((v->kind == SCHEMA_V_TEXT || v->kind == SCHEMA_V_BLOB) && v->u.s.n > UINT32_MAX)
        return sn_err_set(err, SN_ETOOBIG, "cannot encode a value of %zu bytes (msgpack allows "
                                           "at most 4 GiB)", v->u.s.n);
    size_t start = out->len;
    value_sink sink = {.out = out, .err = err};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sink, sink_write);
    switch (v->kind) {
    case SCHEMA_V_NIL: (void)msgpack_pack_nil(&pk); break;
    case SCHEMA_V_INT: (void)msgpack_pack_int64(&pk, v->u.i); break;
    case SCHEMA_V_REAL: (void)msgpack_pack_double(&pk, v->u.r); break;
    case SCHEMA_V_TEXT: (void)msgpack_pack_str_with_body(&pk, v->u.s.p, v->u.s.n); break;
    case SCHEMA_V_BLOB: (void)msgpack_pack_bin_with_body(&pk, v->u.s.p, v->u.s.n); break;
    case SCHEMA_V_ID: (void)msgpack_pack_bin_with_body(&pk, v->u.id, SCHEMA_ID_LEN); break;
    default:
        return sn_err_set(err, SN_EINVAL, "cannot encode a value of unknown kind %d",
                          (int)v->kind);
    }
    /* The sink remembers the first failure; msgpack-c's own return adds nothing to it. */
    if (sink.rc != 0)
        out->len = start;
    return sink.rc;
}

int schema_value_decode(const uint8_t *p, size_t len, schema_value *out, sn_err *err)
{
    schema_mpcursor cur;
    schema_mpcursor_init(&cur, p, len);
    schema_value v;
    int rc = schema_mpcursor_read_value(&cur, &v, "decoding a stored value", err);
    if (rc != 0)
        return rc;
    if (schema_mpcursor_left(&cur) != 0)
        return sn_err_set(err, SN_ECORRUPT,
                          "decoding a stored value: %zu unexpected bytes after the value at "
                          "byte %zu",
                          schema_mpcursor_left(&cur), cur.pos);
    *out = v;
    return 0;
}
