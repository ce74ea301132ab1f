/* cli/output.h - rendering for people and for programs: values as terminal-safe text or
 * JSON, hand-written JSON string escaping, origins and clock times, aligned tables.
 *
 * Everything appends to an sn_buf and returns 0 or the buffer's SN_ETOOBIG / SN_ENOMEM. */
#ifndef SN_CLI_OUTPUT_H
#define SN_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "crdt/hlc.h"
#include "crdt/vv.h"
#include "schema/value.h"

/* "<32 hex>/<epoch>" (full) or "<8 hex>/<epoch>" (short) plus the NUL. */
#define CLI_ORIGIN_MAX (2 * CRDT_REPLICA_LEN + 12)
/* "YYYY-MM-DDTHH:MM:SS.mmmZ/<counter>" plus the NUL, with room for odd years. */
#define CLI_HLC_MAX 48
/* Largest single rendered value (cell of a table, line of `show`). */
#define CLI_CELL_MAX ((size_t)1 << 20)

/* Append `n` bytes as a JSON string literal, quotes included: '"', '\\' and control
 * characters escaped (\n \t \r \b \f, else \u00XX), valid UTF-8 passed through, each byte
 * of an invalid UTF-8 sequence replaced by \ufffd so the document stays valid. */
SN_NODISCARD int cli_json_string(sn_buf *b, const void *s, size_t n, sn_err *err);
/* The same for a C string; NULL appends null. */
SN_NODISCARD int cli_json_cstr(sn_buf *b, const char *s, sn_err *err);
/* A value as JSON: nil -> null, int and finite real -> number, text -> string, id and
 * blob -> string of lower-case hex. */
SN_NODISCARD int cli_json_value(sn_buf *b, const schema_value *v, sn_err *err);

/* Append `n` bytes for a terminal: valid UTF-8 as is, control characters and invalid
 * bytes as \n, \t, \r or \xHH, so data from other sites cannot move the cursor or hide a
 * line. */
SN_NODISCARD int cli_text_bytes(sn_buf *b, const void *s, size_t n, sn_err *err);
/* A value for a terminal: text as above, ids and blobs in hex, numbers as
 * schema_value_format, nil as nothing. */
SN_NODISCARD int cli_text_value(sn_buf *b, const schema_value *v, sn_err *err);
/* cli_text_value into a new NUL-terminated string the caller frees with sn_free. */
SN_NODISCARD int cli_value_strdup(const schema_value *v, char **out, sn_err *err);

/* Format an origin into out: full replica hex or its first 8 digits, then "/epoch". */
void cli_origin_format(char out[static CLI_ORIGIN_MAX], const crdt_origin *o, bool short_form);
/* Format wall-clock milliseconds as UTC "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void cli_time_format(char out[static CLI_HLC_MAX], uint64_t ms);
/* Format a clock time as UTC "YYYY-MM-DDTHH:MM:SS.mmmZ/<counter>". */
void cli_hlc_format(char out[static CLI_HLC_MAX], crdt_hlc h);

/* A version vector as a JSON array [{"origin":"<hex>/<epoch>","seq":N}, ...] in the
 * vector's order (sorted by origin). */
SN_NODISCARD int cli_json_vv(sn_buf *b, const crdt_vv *vv, sn_err *err);

/* An aligned text table: a header and rows of NUL-terminated cells, rendered with two
 * spaces between columns and no trailing blanks. At most 16 columns. */
typedef struct cli_grid {
    size_t ncols;
    char **cells; /* row-major, row 0 is the header; owned */
    size_t nrows;
    size_t cap;
} cli_grid;

/* Start a grid with `ncols` header cells (copied). SN_ENOMEM. */
SN_NODISCARD int cli_grid_init(cli_grid *g, size_t ncols, const char *const *header,
                               sn_err *err);
/* Add a row of g->ncols cells (copied; NULL cells print empty). SN_ENOMEM. */
SN_NODISCARD int cli_grid_add(cli_grid *g, const char *const *cells, sn_err *err);
/* Append the rendered table. */
SN_NODISCARD int cli_grid_render(const cli_grid *g, sn_buf *out, sn_err *err);
void cli_grid_free(cli_grid *g); /* NULL-safe; back to empty */

#endif
