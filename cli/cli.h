/* cli/cli.h - what the `outpost` subcommands share: the invocation context, the command
 * entry points, store opening, authorship, audited commits and error printing.
 *
 * A command entry point takes the words after its own name and returns the process exit
 * status: 0, CLI_EX_USAGE for a command-line mistake (already explained on stderr), or
 * sn_err_exit_status() of a library failure (printed by cli_fail). Output meant for
 * stdout is appended to ctx->out and printed by main only when the command succeeds, so
 * a failed command never leaves half a table or half a JSON document behind.
 *
 * Who acts: the OS user running the command is mapped to a clinician through the node's
 * users table (node/users.h). Commands that write or read clinical records open the store
 * with cli_store_open_user, which refuses an unmapped OS user (SN_EAUTH, exit 77) and
 * resolves --as; every write then goes through a cli_txn, which commits and appends the
 * matching event to the local audit log. */
#ifndef SN_CLI_CLI_H
#define SN_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "node/audit.h"
#include "node/config.h"
#include "node/store.h"
#include "node/users.h"
#include "schema/schema.h"

#define CLI_EX_USAGE 64 /* sysexits EX_USAGE */
/* Largest stdout document a command builds (a listing of a very large table). */
#define CLI_OUT_MAX ((size_t)256 << 20)
/* 32 hex digits and the NUL. */
#define CLI_ID_HEX (2 * SCHEMA_ID_LEN + 1)

typedef struct cli_ctx {
    const char *store_dir;   /* --store, $OUTPOST_STORE, config [node] store, ./outpost-data */
    const char *config_path; /* the configuration file read, NULL when none was */
    node_config config;      /* defaults overlaid with the configuration file */
    const char *as;          /* --as CLINICIAN_ID: record for another clinician (admins) */
    const char *os_user;     /* the login name running the command */
    bool json;               /* --json: machine-readable output */
    sn_buf out;              /* stdout document, limit CLI_OUT_MAX */
    /* Filled by cli_store_open_user. */
    bool who_known;
    node_user author;     /* whom records are written under */
    node_user entered_by; /* the administrator typing them for `author` (id "" when none) */
} cli_ctx;

/* Print `error: <msg>` and, when set, `hint: <hint>` to stderr. Returns the exit status
 * for err->code (sn_err_exit_status; 70 when the code is 0, which would be our bug). */
int cli_fail(const sn_err *err);

/* 0 when rc is 0, else cli_fail(err): the usual last line of a command. */
int cli_finish(int rc, const sn_err *err);

/* The options every store is opened with (clock skew limit from the configuration). */
node_open_opts cli_open_opts(const cli_ctx *ctx);

/* Open the store at ctx->store_dir. On success *out owns it (node_store_close). Codes of
 * node_store_open; adds a hint naming `outpost init` / --store when the store is missing
 * and the node gave none. For commands that touch no clinical record (status, digest). */
SN_NODISCARD int cli_store_open(const cli_ctx *ctx, node_store **out, sn_err *err);

/* cli_store_open, then resolve who acts (node_user_authorship of ctx->os_user and
 * ctx->as) into ctx->author / ctx->entered_by. SN_EAUTH with a hint when the OS user is
 * no enabled clinician here or may not use --as; the store is then closed, *out NULL. */
SN_NODISCARD int cli_store_open_user(cli_ctx *ctx, node_store **out, sn_err *err);

/* The clinician at the keyboard: entered_by when --as is in force, else the author.
 * Only after cli_store_open_user succeeded. */
const node_user *cli_actor(const cli_ctx *ctx);

/* SN_EAUTH unless the actor is an administrator; `what` names the act for the message. */
SN_NODISCARD int cli_admin_require(const cli_ctx *ctx, const char *what, sn_err *err);

/* Append an event by the actor to the audit log. `patient` may be NULL. */
SN_NODISCARD int cli_audit(const cli_ctx *ctx, node_store *st, node_audit_action action,
                           const uint8_t *patient, const char *detail, sn_err *err);

/* One audited commit. Begin, add changes, commit (or abort). The audit event is 'C' for
 * inserts, 'U' when any change sets a field, retracts or links; its patient is the one
 * the first change is about (node_change_patient); its detail summarises the changes. */
typedef struct cli_txn {
    cli_ctx *ctx;
    node_store *st;
    node_write *w;
    char action;
    bool has_patient;
    uint8_t patient[SCHEMA_ID_LEN];
    size_t nchanges;
    char first[160]; /* summary of the first change */
} cli_txn;

/* Start a commit by ctx->author (entered by ctx->entered_by). Needs cli_store_open_user. */
SN_NODISCARD int cli_txn_begin(cli_txn *tx, cli_ctx *ctx, node_store *st, sn_err *err);
/* node_write_insert of `fields` into t; the new row's id goes to `id`. */
SN_NODISCARD int cli_txn_insert(cli_txn *tx, const schema_table *t, const schema_field *fields,
                                size_t n, uint8_t id[SCHEMA_ID_LEN], sn_err *err);
/* node_write_set of mv cell (t, id, c). */
SN_NODISCARD int cli_txn_set(cli_txn *tx, const schema_table *t, const uint8_t id[SCHEMA_ID_LEN],
                             const schema_column *c, const schema_value *v, sn_err *err);
/* Commit, then append the audit event. Ends the transaction whatever happens. When the
 * commit is stored but the audit event fails, the error says the commit was stored. */
SN_NODISCARD int cli_txn_commit(cli_txn *tx, node_commit_info *info, sn_err *err);
void cli_txn_abort(cli_txn *tx); /* after a failed insert/set; no-op when already ended */

/* The patient row (table, id) is about: the row itself for a patient, else its patient
 * column (node_change_patient). *found false when it has none or the row is not held. */
SN_NODISCARD int cli_row_patient(node_store *st, uint16_t table, const uint8_t id[SCHEMA_ID_LEN],
                                 uint8_t out[SCHEMA_ID_LEN], bool *found, sn_err *err);

/* Insert a retraction of row `target` for `reason` into the transaction (its patient_id
 * is the target's patient when known). *tid gets the target's table, `rid` the new
 * retraction's id. SN_ENOTFOUND for an unknown row, SN_EINVAL for an empty reason. */
SN_NODISCARD int cli_retract_add(cli_txn *tx, const uint8_t target[SCHEMA_ID_LEN],
                                 const char *reason, uint16_t *tid, uint8_t rid[SCHEMA_ID_LEN],
                                 sn_err *err);

/* Write `text` (parsed for and validated against column c of table t, local rules) to the
 * mv cell (t, id, c) in one audited commit. SN_EINVAL for a fixed column, a malformed or
 * invalid value; node_write_* codes otherwise (SN_ENOTFOUND: no such row). On failure
 * nothing is stored. `info` may be NULL. */
SN_NODISCARD int cli_records_set(cli_ctx *ctx, node_store *st, const schema_table *t,
                                 const uint8_t id[SCHEMA_ID_LEN], const schema_column *c,
                                 const char *text, node_commit_info *info, sn_err *err);

/* Parse and check one typed value for column c under local write rules; the hint points
 * at 'outpost add TABLE --help'. */
SN_NODISCARD int cli_value_parse(const schema_table *t, const schema_column *c,
                                 const char *text, schema_value *v, sn_err *err);

/* The same, and for patient.nhs_number first reduce the typed number to its 10 digits
 * (kept in `nhs_digits`, 11 bytes) so "943 476 5919" is stored as 9434765919; the schema
 * then checks the modulus-11 digit. nhs_digits NULL: no reduction. */
SN_NODISCARD int cli_value_parse_nhs(const schema_table *t, const schema_column *c,
                                     const char *text, schema_value *v, char *nhs_digits,
                                     sn_err *err);

/* Append the new row's id: "<hex>\n", or {"id":"<hex>"} with --json. */
SN_NODISCARD int cli_print_id(cli_ctx *ctx, const uint8_t id[SCHEMA_ID_LEN], sn_err *err);

/* A one-line summary of a change: "insert allergy <id>", "set patient.family = Smyth
 * (<id>)"; long values are cut. */
SN_NODISCARD int cli_change_summary(sn_buf *b, const schema_change *ch, sn_err *err);

/* The site of an origin for people: this store's name for its own origin, else
 * "site <8 hex>/<epoch>" (other sites' names are not known here). */
void cli_site_name(node_store *st, const crdt_origin *o, char *out, size_t cap);

/* Append the siblings of a cell, one per line: `<indent>- VALUE  (origin <8 hex>/<epoch>
 * seq N)`, in the cell's (origin, seq) order; a nil value reads "(empty)". */
SN_NODISCARD int cli_siblings_text(sn_buf *b, const node_cell *cell, const char *indent,
                                   sn_err *err);
/* Append the siblings as a JSON array of {"value","origin" (full),"seq","hlc"}. */
SN_NODISCARD int cli_siblings_json(sn_buf *b, const node_cell *cell, sn_err *err);

/* Append the members of a row's JSON object, without the braces: "table", "id",
 * "inserted", "retracted", "author", "entered_by", "origin", "seq", "hlc" and "columns"
 * (each {"value","conflict"[,"siblings"]}); fetches the cells of conflicted columns. */
SN_NODISCARD int cli_row_json(node_store *st, const node_row *r, sn_buf *b, sn_err *err);

/* The displayed value of column `name` of row r (nil when r's table has no such column). */
const schema_value *cli_row_value(const node_row *r, const char *name);

/* After SN_ENOTFOUND for row `id` (typed as `id_text`) in table t: when the row is held
 * in another table, replace err's hint with one naming that table. Best effort. */
void cli_hint_other_table(node_store *st, const schema_table *t, const char *id_text,
                          const uint8_t id[SCHEMA_ID_LEN], sn_err *err);

/* Fetch row `id` of table `name` (a patient, an encounter) that a new record will refer
 * to: SN_ENOTFOUND (hint naming the right table when the id is another kind of row), or
 * SN_EINVAL when the row was retracted (entered in error). *out is the caller's. */
SN_NODISCARD int cli_row_require(node_store *st, const char *name, const char *id_text,
                                 node_row **out, sn_err *err);

/* The subcommands. Each parses argv[0..argc) (the words after its name), handles --help
 * itself, and returns an exit status as described at the top of this file. */
int cli_cmd_init(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_status(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_quarantine(cli_ctx *ctx, int argc, char **argv); /* cmd_quarantine.c */
int cli_cmd_digest(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_vector(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_add(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_set(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_retract(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_show(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_list(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_conflicts(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_log(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_bundle(cli_ctx *ctx, int argc, char **argv); /* cmd_bundle.c */
/* The bundle lines of `outpost status` (a ",\"bundles\":[...]" member with --json). */
SN_NODISCARD int cli_bundle_status(cli_ctx *ctx, node_store *st, sn_err *err);
int cli_cmd_history(cli_ctx *ctx, int argc, char **argv); /* `outpost log [--patient ...]` */
int cli_cmd_audit(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_user(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_patient(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_patient_show(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_patient_find(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_patient_duplicates(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_patient_merge(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_patient_unmerge(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_encounter(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_note(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_allergy(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_condition(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_observation(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_backup(cli_ctx *ctx, int argc, char **argv);  /* cmd_backup.c */
int cli_cmd_restore(cli_ctx *ctx, int argc, char **argv); /* cmd_backup.c */
int cli_cmd_serve(cli_ctx *ctx, int argc, char **argv);   /* cmd_sync.c */
int cli_cmd_sync(cli_ctx *ctx, int argc, char **argv);    /* cmd_sync.c */
int cli_cmd_ca(cli_ctx *ctx, int argc, char **argv);     /* cmd_ca.c */
int cli_cmd_enroll(cli_ctx *ctx, int argc, char **argv); /* cmd_enroll.c */
int cli_cmd_trust(cli_ctx *ctx, int argc, char **argv);  /* cmd_enroll.c */

#endif
