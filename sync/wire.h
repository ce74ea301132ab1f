/* sync/wire.h - the messages of a live sync session (DESIGN.md §5) and the payloads of the
 * Noise handshake (SECURITY.md §2.3), as fixed big-endian layouts.
 *
 * After the handshake every message travels as one logical message of the framing layer
 * (sync/frame.h): a type byte, then the body described here. Units travel as their exact
 * signed bytes (sync/unit.h), never re-encoded. The control messages are small fixed
 * layouts rather than msgpack: each is checked for its exact length before anything is
 * read, and none allocates more than its bytes justify. Pure: no I/O. */
#ifndef SN_SYNC_WIRE_H
#define SN_SYNC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "crdt/vv.h"

/* Sent in clear before the first handshake message, and mixed into the prologue: a new
 * protocol version gets a new magic and never falls back. */
#define SYNC_WIRE_MAGIC "SNX1"
#define SYNC_WIRE_MAGIC_LEN 4
#define SYNC_WIRE_PROLOGUE "outpost/noise/v1SNX1"
/* The session's message set, in HELLO: a peer of another version is refused at HELLO with
 * both versions named (SN_EVERSION when it is newer). 2 added PROOF, 3 STATE. The
 * handshake, its magic and prologue, are the same in all. */
#define SYNC_WIRE_VERSION 3

typedef enum sync_msg_type {
    SYNC_MSG_HELLO = 0x01,     /* what the sender holds */
    SYNC_MSG_UNIT = 0x02,      /* one signed unit (sync/unit.h) */
    SYNC_MSG_ACK = 0x03,       /* units received and durably stored, cumulative */
    SYNC_MSG_CERTS = 0x04,     /* certificates of origins about to be sent */
    SYNC_MSG_PING = 0x05,      /* keep-alive; no body */
    SYNC_MSG_CRL = 0x06,       /* the sender's revocation list */
    SYNC_MSG_HEADS = 0x07,     /* latest checkpoints, to expose equivocation */
    SYNC_MSG_CAUGHT_UP = 0x08, /* everything the peer lacked has been sent; no body */
    SYNC_MSG_NEED_FULL = 0x09, /* the HELLO's base is unknown here: send the whole vector */
    SYNC_MSG_PROOF = 0x0A,     /* one proof of equivocation (sync/proof.h), after its certs */
    SYNC_MSG_STATE = 0x0B,     /* in sync: the sender's held vector hash and state digest */
    SYNC_MSG_GOODBYE = 0x7F,   /* last message, sent with the stream's final tag */
} sync_msg_type;

/* A short name for logs ("HELLO"); "unknown" for others. */
const char *sync_msg_type_name(uint8_t type);

/* ---- handshake payloads: cert_len u16 | cert | time_ms u64 | crl_number u64 ---- */
typedef struct sync_hs_payload {
    const uint8_t *cert; /* borrowed */
    size_t cert_len;
    uint64_t time_ms;    /* the sender's wall clock (corrected by offset_ms) */
    uint64_t crl_number; /* the highest revocation list the sender holds (0: none) */
    int64_t offset_ms;   /* what the sender adds to its machine's clock (learned from a hub):
                          * time_ms - offset_ms is what that clock says */
} sync_hs_payload;

SN_NODISCARD int sync_hs_payload_encode(const sync_hs_payload *p, sn_buf *out, sn_err *err);
/* SN_EPROTO when the bytes do not have exactly this layout. */
SN_NODISCARD int sync_hs_payload_parse(const uint8_t *p, size_t n, sync_hs_payload *out,
                                       sn_err *err);

/* ---- vectors on the wire: n u32 | n × (replica 16 | epoch u32 | seq u64) ---- */
#define SYNC_VV_ENTRY_LEN 28

SN_NODISCARD int sync_vv_encode(const crdt_vv *vv, sn_buf *out, sn_err *err);
/* Strictly increasing origins, non-zero seqs, exactly n entries: else SN_EPROTO. */
SN_NODISCARD int sync_vv_parse(const uint8_t *p, size_t n, crdt_vv *out, sn_err *err);
/* BLAKE2b-128 of the vector's encoding: equal vectors, equal digests. */
void sync_vv_digest(const crdt_vv *vv, uint8_t out[16]);

/* ---- HELLO: version u8 | flags u8 | schema u16 | base 16 | vector ----
 * With SYNC_HELLO_FULL the vector is everything the sender holds. Without it the vector
 * holds only the entries that changed since `base`, the digest of the vector this sender
 * last told this peer: the peer, holding that vector, rebuilds the whole. */
#define SYNC_HELLO_FULL 0x01u

typedef struct sync_hello {
    uint8_t version;
    uint8_t flags;
    uint16_t schema;
    uint8_t base[16]; /* zero when full */
    crdt_vv vv;       /* owned: sync_hello_free */
} sync_hello;

SN_NODISCARD int sync_hello_encode(const sync_hello *h, sn_buf *out, sn_err *err);
/* SN_EPROTO for a malformed body; SN_EVERSION for a newer protocol version. */
SN_NODISCARD int sync_hello_parse(const uint8_t *p, size_t n, sync_hello *out, sn_err *err);
void sync_hello_free(sync_hello *h);

/* ---- ACK: units u64 (received and durably stored in this session, cumulative) ---- */
#define SYNC_ACK_LEN 8
void sync_ack_encode(uint64_t units, uint8_t out[SYNC_ACK_LEN]);
SN_NODISCARD int sync_ack_parse(const uint8_t *p, size_t n, uint64_t *units, sn_err *err);

/* ---- STATE: vector u8[16] | digest u8[16] ----
 * Sent once per session when both sides are in sync, so the receiver can tell whether the
 * same commits gave the same state: `vector` is sync_vv_digest of the sender's applied
 * vector, `digest` its node_store_digest (node_store_state_digest). */
#define SYNC_STATE_LEN 32
void sync_state_encode(const uint8_t vector[16], const uint8_t digest[16],
                       uint8_t out[SYNC_STATE_LEN]);
SN_NODISCARD int sync_state_parse(const uint8_t *p, size_t n, uint8_t vector[16],
                                  uint8_t digest[16], sn_err *err);

/* ---- CERTS: count u16 | count × (len u16 | certificate bytes) ---- */
SN_NODISCARD int sync_certs_add(sn_buf *out, const uint8_t *cert, size_t n, sn_err *err);
typedef int (*sync_cert_bytes_fn)(void *ctx, const uint8_t *cert, size_t n, sn_err *err);
/* Walk the certificates (bytes checked against the body first): SN_EPROTO if malformed. */
SN_NODISCARD int sync_certs_each(const uint8_t *p, size_t n, sync_cert_bytes_fn fn, void *ctx,
                                 sn_err *err);

/* ---- GOODBYE: reason u8 | text (at most 200 bytes, shown in the peer's log) ---- */
typedef enum sync_bye_reason {
    SYNC_BYE_DONE = 0,    /* the session did what it was for */
    SYNC_BYE_REFUSED = 1, /* the peer refused something; text says what */
    SYNC_BYE_SHUTDOWN = 2,
} sync_bye_reason;
#define SYNC_BYE_TEXT_MAX 200
SN_NODISCARD int sync_bye_encode(uint8_t reason, const char *text, sn_buf *out, sn_err *err);
/* *text is printable ASCII (other bytes replaced by '?'), NUL-terminated. */
SN_NODISCARD int sync_bye_parse(const uint8_t *p, size_t n, uint8_t *reason,
                                char text[SYNC_BYE_TEXT_MAX + 1], sn_err *err);

#endif
