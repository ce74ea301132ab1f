/* schema/codec.h - the commit body: one local transaction as msgpack bytes, exactly as
 * stored and as carried between nodes. The byte layout is described in codec.c. */
#ifndef SN_SCHEMA_CODEC_H
#define SN_SCHEMA_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "crdt/hlc.h"
#include "crdt/vv.h"
#include "schema/value.h"

/* The body format this build writes and reads; a newer one is refused (SN_EVERSION). */
#define SCHEMA_FORMAT_VERSION 1
/* A commit must fit in one transfer unit. */
#define SCHEMA_COMMIT_MAX (56u * 1024u)
#define SCHEMA_CHANGES_MAX 4096
#define SCHEMA_FIELDS_MAX 256
#define SCHEMA_NAME_MAX 256 /* author / entered-by bytes */

typedef enum schema_op {
    SCHEMA_OP_UNKNOWN = 0, /* decoded only: a change from a newer format, kept but not read */
    SCHEMA_OP_INSERT = 1, /* a new row with its initial column values */
    SCHEMA_OP_SET = 2,    /* a write to one mv cell, with the context the writer saw */
} schema_op;

typedef struct schema_field {
    uint16_t col;
    schema_value value;
} schema_field;

typedef struct schema_change {
    schema_op op;
    uint16_t table;
    uint8_t row[SCHEMA_ID_LEN];
    /* SCHEMA_OP_INSERT */
    schema_field *fields;
    size_t nfields;
    /* SCHEMA_OP_SET */
    uint16_t col;
    schema_value value;
    crdt_vv ctx;
} schema_change;

typedef struct schema_commit {
    uint32_t schema_version;
    crdt_origin origin;
    uint64_t seq;
    crdt_hlc hlc;
    char *author;     /* NUL-terminated, owned */
    char *entered_by; /* NULL when the author entered it */
    schema_change *changes;
    size_t nchanges;
} schema_commit;

/* Encode `c` (format SCHEMA_FORMAT_VERSION) appending to `out`. Fails with SN_ETOOBIG when
 * the body would exceed SCHEMA_COMMIT_MAX, SN_EINVAL for a malformed commit (seq 0, an
 * unknown op, more than the limits), SN_ENOMEM. */
SN_NODISCARD int schema_commit_encode(const schema_commit *c, sn_buf *out, sn_err *err);

/* Decode a body with a validating cursor: every length is checked against the bytes that
 * remain, counts are capped, trailing bytes are refused. Structure and value kinds only:
 * whether tables and columns are known is the caller's business (schema_commit_check).
 * On success *out is owned by the caller (schema_commit_free); its TEXT/BLOB values
 * borrow from `body`, which must outlive it. SN_ECORRUPT names what was malformed;
 * SN_EVERSION for a newer format; SN_ENOMEM. */
SN_NODISCARD int schema_commit_decode(const uint8_t *body, size_t len, schema_commit **out,
                                      sn_err *err);
void schema_commit_free(schema_commit *c);

/* Read only the header fields (origin, seq, hlc, schema version) without decoding the
 * changes. Same errors as decode for the part it reads. */
SN_NODISCARD int schema_commit_peek(const uint8_t *body, size_t len, crdt_origin *origin,
                                    uint64_t *seq, crdt_hlc *hlc, uint32_t *schema_version,
                                    sn_err *err);

/* Check a decoded foreign commit against this build's schema, for what cannot depend on
 * arrival order: known columns hold values of their type, sets target mv columns, at most
 * one change per cell. *has_unknown says whether some change names a table or column this
 * build does not know, or is SCHEMA_OP_UNKNOWN (kept, applied after upgrade); it may be
 * NULL. SN_EINVAL on a violation, SN_ENOMEM (the per-cell check sorts a copy). */
SN_NODISCARD int schema_commit_check(const schema_commit *c, bool *has_unknown, sn_err *err);

#endif
