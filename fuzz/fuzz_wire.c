/* fuzz/fuzz_wire.c - the control messages of a live session (sync/wire.c): handshake
 * payloads, HELLO with its vector, ACK, CERTS (each certificate parsed, sync/cert.c),
 * HEADS (each checkpoint parsed, sync/unit.c), GOODBYE, and the type names for logs.
 *
 * Input: type u8 | body, one logical message as node/link_exchange.c receives it; the
 * type picks the parser it would call (an unknown type goes to the handshake payload
 * parser, which has no message type of its own).
 * Checks: failures say why; a parsed payload, HELLO or ACK encodes back to exactly its
 * bytes; a parsed vector is sorted and passes crdt_vv_check; GOODBYE's text is printable
 * and terminated. */
#include <string.h>

#include "crdt/vv.h"
#include "fuzz/fuzz_common.h"
#include "sync/frame.h"
#include "sync/unit.h"
#include "sync/wire.h"

#define BODY_MAX ((size_t)SYNC_MESSAGE_MAX)

static void hs_payload(const uint8_t *p, size_t n)
{
    sync_hs_payload pl;
    sn_err err = SN_ERR_INIT;
    int rc = sync_hs_payload_parse(p, n, &pl, &err);
    fuzz_check_err(rc, &err, "sync_hs_payload_parse");
    if (rc != 0)
        return;
    sn_buf b;
    sn_buf_init(&b, BODY_MAX);
    fuzz_check_encoded(sync_hs_payload_encode(&pl, &b, &err), &err, &b, p, n,
                       "handshake payload");
    fuzz_take_hs_payload(p, n);
}

static void hello(const uint8_t *p, size_t n)
{
    sync_hello h;
    sn_err err = SN_ERR_INIT;
    int rc = sync_hello_parse(p, n, &h, &err);
    fuzz_check_err(rc, &err, "sync_hello_parse");
    if (rc == 0) {
        if (crdt_vv_check(&h.vv, &err) != 0)
            fuzz_fail("a parsed HELLO's vector fails its check: %s", err.msg);
        sn_buf b;
        sn_buf_init(&b, BODY_MAX);
        fuzz_check_encoded(sync_hello_encode(&h, &b, &err), &err, &b, p, n, "HELLO");
        uint8_t d[16];
        sync_vv_digest(&h.vv, d);
    }
    sync_hello_free(&h);
}

static void ack(const uint8_t *p, size_t n)
{
    uint64_t units;
    sn_err err = SN_ERR_INIT;
    int rc = sync_ack_parse(p, n, &units, &err);
    fuzz_check_err(rc, &err, "sync_ack_parse");
    if (rc == 0) {
        uint8_t b[SYNC_ACK_LEN];
        sync_ack_encode(units, b);
        fuzz_check_same(p, n, b, sizeof b, "ACK parsed and encoded again");
    }
}

static int one_cert(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    (void)ctx;
    sync_cert c;
    int rc = sync_cert_parse(p, n, &c, err);
    fuzz_check_err(rc, err, "sync_cert_parse (CERTS)");
    return rc;
}

static void certs(const uint8_t *p, size_t n)
{
    sn_err err = SN_ERR_INIT;
    fuzz_check_err(sync_certs_each(p, n, one_cert, NULL, &err), &err, "sync_certs_each");
}

/* HEADS has no parser of its own: node/link_exchange.c cuts it into checkpoints. */
static void heads(const uint8_t *p, size_t n)
{
    if (n % SYNC_CHECKPOINT_LEN != 0)
        return;
    for (size_t off = 0; off < n; off += SYNC_CHECKPOINT_LEN) {
        sync_checkpoint cp;
        sn_err err = SN_ERR_INIT;
        fuzz_check_err(sync_checkpoint_parse(p + off, SYNC_CHECKPOINT_LEN, &cp, &err), &err,
                       "sync_checkpoint_parse (HEADS)");
    }
}

static void bye(const uint8_t *p, size_t n)
{
    uint8_t reason;
    char text[SYNC_BYE_TEXT_MAX + 1];
    sn_err err = SN_ERR_INIT;
    int rc = sync_bye_parse(p, n, &reason, text, &err);
    fuzz_check_err(rc, &err, "sync_bye_parse");
    if (rc != 0)
        return;
    size_t len = strnlen(text, sizeof text);
    if (len != n - 1)
        fuzz_fail("GOODBYE's text is %zu characters from %zu bytes", len, n - 1);
    for (size_t i = 0; i < len; i++)
        if (text[i] < 0x20 || text[i] > 0x7e)
            fuzz_fail("GOODBYE's text holds byte 0x%02x", (unsigned)(uint8_t)text[i]);
}

/* The type byte picks the parser, as node/link_exchange.c's dispatch does. */
static void message(fuzz_in *in)
{
    uint8_t type = fuzz_u8(in);
    if (strlen(sync_msg_type_name(type)) == 0)
        fuzz_fail("message type %u has an empty name", type);
    switch (type) {
    case SYNC_MSG_HELLO: hello(in->p, in->n); break;
    case SYNC_MSG_ACK: ack(in->p, in->n); break;
    case SYNC_MSG_CERTS: certs(in->p, in->n); break;
    case SYNC_MSG_HEADS: heads(in->p, in->n); break;
    case SYNC_MSG_GOODBYE: bye(in->p, in->n); break;
    default: hs_payload(in->p, in->n); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_mode modes[] = {message};
    return fuzz_run(data, size, modes, 1, "fuzz_wire");
}
