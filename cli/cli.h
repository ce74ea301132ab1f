/* cli/cli.h - what the `outpost` subcommands share: the invocation context, the command
 * entry points, store opening, error printing and the one-commit write helper.
 *
 * A command entry point takes the words after its own name and returns the process exit
 * status: 0, CLI_EX_USAGE for a command-line mistake (already explained on stderr), or
 * sn_err_exit_status() of a library failure (printed by cli_fail). Output meant for
 * stdout is appended to ctx->out and printed by main only when the command succeeds, so
 * a failed command never leaves half a table or half a JSON document behind. */
#ifndef SN_CLI_CLI_H
#define SN_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "node/store.h"
#include "schema/schema.h"

#define CLI_EX_USAGE 64 /* sysexits EX_USAGE */
/* Largest stdout document a command builds (a listing of a very large table). */
#define CLI_OUT_MAX ((size_t)256 << 20)

typedef struct cli_ctx {
    const char *store_dir; /* --store, $OUTPOST_STORE or ./outpost-data */
    const char *author;    /* --author, else the OS user name */
    bool json;             /* --json: machine-readable output */
    sn_buf out;            /* stdout document, limit CLI_OUT_MAX */
} cli_ctx;

/* Print `error: <msg>` and, when set, `hint: <hint>` to stderr. Returns the exit status
 * for err->code (sn_err_exit_status; 70 when the code is 0, which would be our bug). */
int cli_fail(const sn_err *err);

/* 0 when rc is 0, else cli_fail(err): the usual last line of a command. */
int cli_finish(int rc, const sn_err *err);

/* Open the store at ctx->store_dir. On success *out owns it (node_store_close). Codes of
 * node_store_open; adds a hint naming `outpost init` / --store when the store is missing
 * and the node gave none. */
SN_NODISCARD int cli_store_open(const cli_ctx *ctx, node_store **out, sn_err *err);

/* Write `text` (parsed for and validated against column c of table t, local rules) to the
 * mv cell (t, id, c) in one commit authored by ctx->author. SN_EINVAL for a fixed column,
 * a malformed or invalid value; node_write_* codes otherwise (SN_ENOTFOUND: no such row).
 * On failure nothing is stored. `info` may be NULL. */
SN_NODISCARD int cli_records_set(const cli_ctx *ctx, node_store *st, const schema_table *t,
                                 const uint8_t id[SCHEMA_ID_LEN], const schema_column *c,
                                 const char *text, node_commit_info *info, sn_err *err);

/* Append the siblings of a cell, one per line: `<indent>- VALUE  (origin <8 hex>/<epoch>
 * seq N)`, in the cell's (origin, seq) order; a nil value reads "(empty)". */
SN_NODISCARD int cli_siblings_text(sn_buf *b, const node_cell *cell, const char *indent,
                                   sn_err *err);
/* Append the siblings as a JSON array of {"value","origin" (full),"seq","hlc"}. */
SN_NODISCARD int cli_siblings_json(sn_buf *b, const node_cell *cell, sn_err *err);

/* After SN_ENOTFOUND for row `id` (typed as `id_text`) in table t: when the row is held
 * in another table, replace err's hint with one naming that table. Best effort. */
void cli_hint_other_table(node_store *st, const schema_table *t, const char *id_text,
                          const uint8_t id[SCHEMA_ID_LEN], sn_err *err);

/* The subcommands. Each parses argv[0..argc) (the words after its name), handles --help
 * itself, and returns an exit status as described at the top of this file. */
int cli_cmd_init(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_status(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_digest(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_vector(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_add(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_set(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_retract(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_show(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_list(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_conflicts(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_log(cli_ctx *ctx, int argc, char **argv);

#endif
