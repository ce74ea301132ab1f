/* tests/refmodel.h - a small reference model of DESIGN.md section 3, written from the text
 * and independently of crdt/: given a set of commit bodies, what every node holding exactly
 * those commits must show, cell by cell.
 *
 * The model is declarative, not operational: it never applies writes one after another.
 * It reads the commits' changes (schema_commit_decode) and answers from the whole set:
 *
 *   - writes to an mv cell are the insert's initial values (dot = the commit's (origin,
 *     seq), empty ctx, only for the columns present in the insert) and the sets (dot and
 *     ctx from the change);
 *   - w is a sibling iff no other write w' to the cell has ctx_w' ⊔ {dot_w'} covering
 *     dot_w (covering: vector[origin] >= seq);
 *   - the cell's context is the join of ctx_w ⊔ {dot_w} over every write w;
 *   - winner: `latest` = highest (hlc, replica bytes by memcmp, epoch, seq); `ranked` =
 *     highest schema_column_rank, then latest;
 *   - conflict: policy `review` and at least two siblings whose canonical bytes
 *     (schema_value_encode) differ;
 *   - fixed columns: the value carried by the insert;
 *   - a row is retracted iff some retraction row targeting it is itself not retracted;
 *   - patients are grouped by the non-retracted patient_link rows (undirected); a
 *     component shows under its smallest id (memcmp).
 *
 * Only tables and columns this build knows are modelled; sets to fixed columns are ignored
 * (schema_commit_check refuses them). Memory is plain malloc: the model is test code and
 * stays out of the fault injector's counts. */
#ifndef SN_TESTS_REFMODEL_H
#define SN_TESTS_REFMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "crdt/hlc.h"
#include "crdt/vv.h"
#include "node/store.h"
#include "schema/schema.h"
#include "schema/value.h"

/* Deeper retraction chains than this are cut: a row reached only past this depth counts
 * as not retracted. Honest writers cannot make a cycle (a retraction can only name a row
 * that existed before it was minted), so the bound only keeps hostile input finite. */
#define REFMODEL_RETRACT_DEPTH 64

typedef struct refmodel refmodel;

typedef struct refmodel_sib {
    crdt_dot dot;
    crdt_hlc hlc;
    schema_value value;   /* borrows from the model */
    const uint8_t *canon; /* canonical bytes of value */
    size_t canon_len;
    bool from_insert;     /* the insert's initial value */
} refmodel_sib;

typedef struct refmodel_cell {
    uint16_t table;
    uint8_t row[SCHEMA_ID_LEN];
    uint16_t col;
    const schema_table *t;
    const schema_column *c;
    bool mv;
    /* Fixed columns: the insert's value. mv columns: the winner's value (nil when no
     * sibling, which honest input never produces). */
    schema_value winner;
    const uint8_t *winner_canon;
    size_t winner_canon_len;
    /* mv columns only. */
    refmodel_sib *sibs; /* sorted by (origin, seq) */
    size_t nsibs;
    size_t winner_index; /* index into sibs */
    bool conflict;
    crdt_vv_entry *ctx; /* sorted by (replica, epoch) */
    size_t nctx;
    /* Statistics for the convergence test. */
    size_t nwrites;         /* writes held for this cell (insert values and sets) */
    size_t nsets;           /* of which sets */
    size_t nsets_concurrent; /* sets concurrent with some other write to the cell */
} refmodel_cell;

typedef struct refmodel_row {
    uint16_t table;
    uint8_t id[SCHEMA_ID_LEN];
    bool inserted; /* false when only sets to its cells are held */
    crdt_dot dot;  /* of the insert (see refmodel.c for two inserts of one id) */
    crdt_hlc hlc;
    bool retracted;
} refmodel_row;

/* Build the model from `n` bodies in any order; duplicates (same origin and seq) are
 * counted once. When two different bodies claim the same (origin, seq) — equivocation,
 * never produced by honest nodes — the one whose bytes sort first (memcmp, then length)
 * is used, so the answer does not depend on the order of input. The bodies are copied.
 * SN_ECORRUPT / SN_EVERSION when a body does not decode, SN_ENOMEM. */
SN_NODISCARD int refmodel_build(const node_body *bodies, size_t n, refmodel **out,
                                sn_err *err);
void refmodel_free(refmodel *m); /* NULL is a no-op */

/* Distinct commits the model holds. */
size_t refmodel_commit_count(const refmodel *m);

/* Cells with at least one write, ordered by (table, row, column). */
size_t refmodel_cell_count(const refmodel *m);
const refmodel_cell *refmodel_cell_at(const refmodel *m, size_t i);
/* NULL when the cell has no write. */
const refmodel_cell *refmodel_cell_find(const refmodel *m, uint16_t table,
                                        const uint8_t row[SCHEMA_ID_LEN], uint16_t col);

/* Rows of known tables (inserted or only written to), ordered by (table, id). */
size_t refmodel_row_count(const refmodel *m);
const refmodel_row *refmodel_row_at(const refmodel *m, size_t i);
const refmodel_row *refmodel_row_find(const refmodel *m, uint16_t table,
                                      const uint8_t id[SCHEMA_ID_LEN]);

/* The canonical id of `patient`: the smallest id in its component of live links; the id
 * itself when it has no live link. */
void refmodel_patient_canonical(const refmodel *m, const uint8_t patient[SCHEMA_ID_LEN],
                                uint8_t out[SCHEMA_ID_LEN]);

/* Canonical bytes of two values are equal. */
bool refmodel_value_same(const schema_value *a, const schema_value *b);

/* Text form of a value for messages ("nil", "'text'", "42", "id:0a1b…"), into buf. */
const char *refmodel_value_str(const schema_value *v, char *buf, size_t size);
/* Text form of a dot: first 4 replica bytes in hex, epoch and seq. */
const char *refmodel_dot_str(const crdt_dot *d, char *buf, size_t size);

#endif
