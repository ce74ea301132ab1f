/* schema/schema.h - the clinical schema as data: tables and columns with stable numeric
 * ids, merge kinds, display rules and conflict policies. SQL DDL (node/) and validation
 * derive from these tables. Ids are never reused and a column's kind never changes. */
#ifndef SN_SCHEMA_SCHEMA_H
#define SN_SCHEMA_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "crdt/mv.h"
#include "schema/value.h"

/* Bumped whenever a table or column is added. Commits carry the version they were
 * written under; a node keeps the parts it does not know and applies them after upgrade. */
#define SCHEMA_VERSION 1

typedef enum schema_type {
    SCHEMA_T_TEXT = 1,
    SCHEMA_T_INT = 2,
    SCHEMA_T_REAL = 3,
    SCHEMA_T_REF = 4,      /* a record id (16 bytes); ref_table says of what */
    SCHEMA_T_DATE = 5,     /* text YYYY-MM-DD */
    SCHEMA_T_DATETIME = 6, /* text, ISO 8601 */
    SCHEMA_T_CODE = 7,     /* text from the column's list of codes */
} schema_type;

typedef enum schema_kind {
    SCHEMA_FIXED = 1, /* written once at insert, never changed */
    SCHEMA_MV = 2,    /* multi-value register */
} schema_kind;

typedef enum schema_policy {
    SCHEMA_POLICY_NONE = 0, /* fixed columns */
    SCHEMA_POLICY_AUTO = 1, /* show the winner, keep siblings in history */
    SCHEMA_POLICY_REVIEW = 2, /* differing siblings open a conflict */
} schema_policy;

#define SCHEMA_REF_ANY 0xffffu /* a reference to a row of any table (retraction target) */

typedef struct schema_column {
    uint16_t id;
    const char *name;
    schema_type type;
    schema_kind kind;
    crdt_display display;  /* mv columns */
    schema_policy policy;  /* mv columns */
    bool required;         /* must be present and not nil at insert (local write) */
    uint16_t ref_table;    /* SCHEMA_T_REF: table id, or SCHEMA_REF_ANY */
    const char *const *codes; /* SCHEMA_T_CODE: NULL-terminated allowed values */
    const char *const *rank;  /* CRDT_DISPLAY_RANKED: NULL-terminated, safest first */
    /* Extra rule checked at local write for text values (e.g. the NHS check digit): 0 or
     * SN_EINVAL with a message. NULL when none. */
    int (*local_check)(const char *text, size_t n, sn_err *err);
    const char *help;
} schema_column;

typedef struct schema_table {
    uint16_t id;
    const char *name;
    const char *help;
    const schema_column *cols; /* in id order */
    size_t ncols;
    uint16_t patient_col;      /* column holding the patient reference, 0 if none */
} schema_table;

/* The tables this build knows, in id order. */
size_t schema_table_count(void);
const schema_table *schema_table_at(size_t i);
const schema_table *schema_table_by_id(uint16_t id);       /* NULL when unknown */
const schema_table *schema_table_by_name(const char *name); /* NULL when unknown */
const schema_column *schema_column_by_id(const schema_table *t, uint16_t id);
const schema_column *schema_column_by_name(const schema_table *t, const char *name);
/* Index of a column within t->cols, or -1. */
int schema_column_index(const schema_table *t, uint16_t col_id);

/* Rank of a value for a ranked column: the first entry of `rank` scores highest; values
 * not listed (and columns with no order) score 0. */
int32_t schema_column_rank(const schema_column *c, const schema_value *v);

/* The value kind a column stores. */
schema_vkind schema_type_vkind(schema_type t);
const char *schema_type_name(schema_type t);

/* Check a value against its column.
 * Always (apply of a foreign commit too): the value's kind matches the column's type, or
 * is nil. At local write (`local` true) also: required columns are not nil, dates and
 * times are real, codes are in the column's list, text is valid UTF-8.
 * Returns 0 or SN_EINVAL with a message naming table, column and value. */
SN_NODISCARD int schema_value_validate(const schema_table *t, const schema_column *c,
                                       const schema_value *v, bool local, sn_err *err);

/* Parse the text form of a value for column c (as typed on the command line): integers,
 * reals, ids in hex, text as is ("" is nil for optional columns). Text values borrow
 * `text`. SN_EINVAL with a message saying what is allowed. Does not check codes: call
 * schema_value_validate for that. */
SN_NODISCARD int schema_value_parse(const schema_table *t, const schema_column *c,
                                    const char *text, schema_value *out, sn_err *err);

/* Append a value's text form (ids as hex, reals shortest round-trip, nil as ""). */
SN_NODISCARD int schema_value_format(const schema_value *v, sn_buf *out, sn_err *err);

#endif
