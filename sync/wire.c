/* sync/wire.c - encoding and strict parsing of the session messages (sync/wire.h). */
#include "sync/wire.h"

#include <string.h>

#include "base/hash.h"

const char *sync_msg_type_name(uint8_t type)
{
    switch (type) {
    case SYNC_MSG_HELLO: return "HELLO";
    case SYNC_MSG_UNIT: return "UNIT";
    case SYNC_MSG_ACK: return "ACK";
    case SYNC_MSG_CERTS: return "CERTS";
    case SYNC_MSG_PING: return "PING";
    case SYNC_MSG_CRL: return "CRL";
    case SYNC_MSG_HEADS: return "HEADS";
    case SYNC_MSG_CAUGHT_UP: return "CAUGHT_UP";
    case SYNC_MSG_NEED_FULL: return "NEED_FULL";
    case SYNC_MSG_PROOF: return "PROOF";
    case SYNC_MSG_STATE: return "STATE";
    case SYNC_MSG_GOODBYE: return "GOODBYE";
    default: return "unknown";
    }
}

int sync_hs_payload_encode(const sync_hs_payload *p, sn_buf *out, sn_err *err)
{
    if (p->cert_len > UINT16_MAX)
        return sn_err_set(err, SN_EINVAL, "certificate of %zu bytes is too long", p->cert_len);
    int rc = sn_buf_put_u16be(out, (uint16_t)p->cert_len, err);
    if (rc == 0)
        rc = sn_buf_append(out, p->cert, p->cert_len, err);
    if (rc == 0)
        rc = sn_buf_put_u64be(out, p->time_ms, err);
    if (rc == 0)
        rc = sn_buf_put_u64be(out, p->crl_number, err);
    if (rc == 0)
        rc = sn_buf_put_u64be(out, (uint64_t)p->offset_ms, err);
    return rc;
}

int sync_hs_payload_parse(const uint8_t *p, size_t n, sync_hs_payload *out, sn_err *err)
{
    if (n < 2 + 24)
        return sn_err_set(err, SN_EPROTO, "handshake payload of %zu bytes is too short", n);
    size_t cl = sn_load_u16be(p);
    if (n != 2 + cl + 24)
        return sn_err_set(err, SN_EPROTO, "handshake payload of %zu bytes does not hold a "
                          "certificate of %zu bytes, a time, a list number and an offset",
                          n, cl);
    out->cert = p + 2;
    out->cert_len = cl;
    out->time_ms = sn_load_u64be(p + 2 + cl);
    out->crl_number = sn_load_u64be(p + 2 + cl + 8);
    out->offset_ms = (int64_t)sn_load_u64be(p + 2 + cl + 16);
    return 0;
}

static void vv_entry_encode(const crdt_vv_entry *e, uint8_t out[SYNC_VV_ENTRY_LEN])
{
    memcpy(out, e->origin.replica, CRDT_REPLICA_LEN);
    sn_store_u32be(out + 16, e->origin.epoch);
    sn_store_u64be(out + 20, e->seq);
}

int sync_vv_encode(const crdt_vv *vv, sn_buf *out, sn_err *err)
{
    int rc = sn_buf_reserve(out, 4 + vv->n * SYNC_VV_ENTRY_LEN, err);
    if (rc == 0)
        rc = sn_buf_put_u32be(out, (uint32_t)vv->n, err);
    for (size_t i = 0; i < vv->n && rc == 0; i++) {
        uint8_t e[SYNC_VV_ENTRY_LEN];
        vv_entry_encode(&vv->e[i], e);
        rc = sn_buf_append(out, e, sizeof e, err);
    }
    return rc;
}

int sync_vv_parse(const uint8_t *p, size_t n, crdt_vv *out, sn_err *err)
{
    crdt_vv_clear(out);
    if (n < 4)
        return sn_err_set(err, SN_EPROTO, "vector of %zu bytes is too short", n);
    uint32_t count = sn_load_u32be(p);
    if (count > CRDT_VV_MAX_ENTRIES || (size_t)count * SYNC_VV_ENTRY_LEN != n - 4)
        return sn_err_set(err, SN_EPROTO, "vector claims %u entries in %zu bytes", count, n - 4);
    crdt_origin prev = {{0}, 0};
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = p + 4 + (size_t)i * SYNC_VV_ENTRY_LEN;
        crdt_origin o;
        memcpy(o.replica, e, CRDT_REPLICA_LEN);
        o.epoch = sn_load_u32be(e + 16);
        uint64_t seq = sn_load_u64be(e + 20);
        if (seq == 0 || (i > 0 && crdt_origin_cmp(&prev, &o) >= 0)) {
            crdt_vv_clear(out);
            return sn_err_set(err, SN_EPROTO, "vector entry %u is out of order or zero", i);
        }
        /* Entries arrive sorted, so each raise appends. */
        int rc = crdt_vv_raise(out, &o, seq, err);
        if (rc != 0) {
            crdt_vv_clear(out);
            return rc;
        }
        prev = o;
    }
    return 0;
}

void sync_vv_digest(const crdt_vv *vv, uint8_t out[16])
{
    sn_blake2b_state st;
    sn_blake2b_init(&st, 16);
    uint8_t n[4];
    sn_store_u32be(n, (uint32_t)vv->n);
    sn_blake2b_update(&st, n, sizeof n);
    for (size_t i = 0; i < vv->n; i++) {
        uint8_t e[SYNC_VV_ENTRY_LEN];
        vv_entry_encode(&vv->e[i], e);
        sn_blake2b_update(&st, e, sizeof e);
    }
    sn_blake2b_final(&st, out, 16);
}

int sync_hello_encode(const sync_hello *h, sn_buf *out, sn_err *err)
{
    uint8_t head[4 + 16];
    head[0] = h->version;
    head[1] = h->flags;
    sn_store_u16be(head + 2, h->schema);
    memcpy(head + 4, h->base, 16);
    int rc = sn_buf_append(out, head, sizeof head, err);
    if (rc == 0)
        rc = sync_vv_encode(&h->vv, out, err);
    return rc;
}

int sync_hello_parse(const uint8_t *p, size_t n, sync_hello *out, sn_err *err)
{
    crdt_vv_init(&out->vv);
    if (n < 20)
        return sn_err_set(err, SN_EPROTO, "HELLO of %zu bytes is too short", n);
    out->version = p[0];
    out->flags = p[1];
    out->schema = sn_load_u16be(p + 2);
    memcpy(out->base, p + 4, 16);
    if (out->version != SYNC_WIRE_VERSION)
        return sn_err_set(err, out->version > SYNC_WIRE_VERSION ? SN_EVERSION : SN_EPROTO,
                          "peer speaks sync protocol %u, this build speaks %u", out->version,
                          SYNC_WIRE_VERSION);
    if ((out->flags & ~SYNC_HELLO_FULL) != 0)
        return sn_err_set(err, SN_EPROTO, "HELLO has unknown flags 0x%02x", out->flags);
    return sync_vv_parse(p + 20, n - 20, &out->vv, err);
}

void sync_hello_free(sync_hello *h)
{
    if (h != NULL)
        crdt_vv_free(&h->vv);
}

void sync_ack_encode(uint64_t units, uint8_t out[SYNC_ACK_LEN]) { sn_store_u64be(out, units); }

int sync_ack_parse(const uint8_t *p, size_t n, uint64_t *units, sn_err *err)
{
    if (n != SYNC_ACK_LEN)
        return sn_err_set(err, SN_EPROTO, "ACK of %zu bytes, expected %d", n, SYNC_ACK_LEN);
    *units = sn_load_u64be(p);
    return 0;
}

void sync_state_encode(const uint8_t vector[16], const uint8_t digest[16],
                       uint8_t out[SYNC_STATE_LEN])
{
    memcpy(out, vector, 16);
    memcpy(out + 16, digest, 16);
}

int sync_state_parse(const uint8_t *p, size_t n, uint8_t vector[16], uint8_t digest[16],
                     sn_err *err)
{
    if (n != SYNC_STATE_LEN)
        return sn_err_set(err, SN_EPROTO, "STATE of %zu bytes, expected %d", n,
                          SYNC_STATE_LEN);
    memcpy(vector, p, 16);
    memcpy(digest, p + 16, 16);
    return 0;
}

int sync_certs_add(sn_buf *out, const uint8_t *cert, size_t n, sn_err *err)
{
    if (n > UINT16_MAX)
        return sn_err_set(err, SN_EINVAL, "certificate of %zu bytes is too long", n);
    int rc = 0;
    if (out->len == 0)
        rc = sn_buf_put_u16be(out, 0, err);
    if (rc == 0 && sn_load_u16be(out->data) == UINT16_MAX)
        return sn_err_set(err, SN_ETOOBIG, "too many certificates in one message");
    if (rc == 0)
        rc = sn_buf_reserve(out, 2 + n, err);
    if (rc == 0) {
        sn_store_u16be(out->data, (uint16_t)(sn_load_u16be(out->data) + 1));
        rc = sn_buf_put_u16be(out, (uint16_t)n, err);
    }
    if (rc == 0)
        rc = sn_buf_append(out, cert, n, err);
    return rc;
}

int sync_certs_each(const uint8_t *p, size_t n, sync_cert_bytes_fn fn, void *ctx, sn_err *err)
{
    if (n < 2)
        return sn_err_set(err, SN_EPROTO, "CERTS of %zu bytes is too short", n);
    size_t count = sn_load_u16be(p), pos = 2;
    /* Walk the lengths first so a malformed body hands nothing on. */
    for (size_t i = 0; i < count; i++) {
        if (n - pos < 2 || n - pos - 2 < sn_load_u16be(p + pos))
            return sn_err_set(err, SN_EPROTO, "CERTS entry %zu runs past the message", i);
        pos += 2 + sn_load_u16be(p + pos);
    }
    if (pos != n)
        return sn_err_set(err, SN_EPROTO, "CERTS has %zu bytes after its entries", n - pos);
    pos = 2;
    for (size_t i = 0; i < count; i++) {
        size_t len = sn_load_u16be(p + pos);
        int rc = fn(ctx, p + pos + 2, len, err);
        if (rc != 0)
            return rc;
        pos += 2 + len;
    }
    return 0;
}

int sync_bye_encode(uint8_t reason, const char *text, sn_buf *out, sn_err *err)
{
    size_t len = text != NULL ? strlen(text) : 0;
    if (len > SYNC_BYE_TEXT_MAX)
        len = SYNC_BYE_TEXT_MAX;
    int rc = sn_buf_append(out, &reason, 1, err);
    if (rc == 0 && len > 0)
        rc = sn_buf_append(out, text, len, err);
    return rc;
}

int sync_bye_parse(const uint8_t *p, size_t n, uint8_t *reason, char text[SYNC_BYE_TEXT_MAX + 1],
                   sn_err *err)
{
    if (n < 1 || n > 1 + SYNC_BYE_TEXT_MAX)
        return sn_err_set(err, SN_EPROTO, "GOODBYE of %zu bytes", n);
    *reason = p[0];
    for (size_t i = 1; i < n; i++)
        text[i - 1] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    text[n - 1] = '\0';
    return 0;
}
