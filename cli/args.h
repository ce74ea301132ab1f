/* cli/args.h - command-line parsing shared by the subcommands: options with values,
 * flags, positional arguments, --help, usage errors, and schema names typed as options.
 *
 * Conventions: options may come before, between or after positional arguments; `--`
 * ends the options; `--name VALUE` and `--name=VALUE` are the same; in option names '-'
 * and '_' are interchangeable (`--birth-date` is `--birth_date`); `-5` is a positional
 * argument (a negative number), not an option. `--help`/`-h` anywhere asks for help and
 * wins over every other mistake; `--json` anywhere sets ctx->json. */
#ifndef SN_CLI_ARGS_H
#define SN_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"
#include "schema/schema.h"

#define CLI_POS_MAX 64

/* One option a command accepts. Exactly one of `value` and `flag` is set. */
typedef struct cli_opt {
    const char *name;   /* long name without dashes, e.g. "peer-vector" */
    char short_name;    /* e.g. 'o'; 0 for none */
    const char **value; /* receives the value (borrowed from argv); NULL for a flag */
    bool *flag;         /* set to true when the flag is present */
} cli_opt;

/* What a command is, for messages and --help. */
typedef struct cli_spec {
    const char *path;     /* command words, e.g. "log export" */
    const char *synopsis; /* arguments, e.g. "[--peer-vector FILE] -o FILE" */
    const char *help;     /* the rest of the --help text: one paragraph and the options */
    size_t min_pos;       /* positional arguments required ... */
    size_t max_pos;       /* ... and allowed (<= CLI_POS_MAX) */
} cli_spec;

typedef struct cli_parsed {
    const char *pos[CLI_POS_MAX];
    size_t npos;
    bool help; /* --help was given: print cli_help and succeed, nothing else was checked */
} cli_parsed;

/* Parse argv[0..argc) against `opts`. Returns 0 (see out->help) or CLI_EX_USAGE after
 * printing `error:`/`hint:` for an unknown option, a missing option value, a repeated
 * option, or too few or too many positional arguments. */
int cli_args_parse(cli_ctx *ctx, const cli_spec *spec, const cli_opt *opts, size_t nopts,
                   int argc, char **argv, cli_parsed *out);

/* Append the --help text of `spec` to ctx->out. Returns 0 (the exit status). */
int cli_help(cli_ctx *ctx, const cli_spec *spec);

/* Print `error: <formatted>` and `hint: run 'outpost <path> --help' ...` to stderr.
 * Returns CLI_EX_USAGE. */
int cli_usage_error(const char *path, const char *fmt, ...) SN_PRINTF(2, 3);

/* True for "--help" and "-h". */
bool cli_arg_is_help(const char *arg);
/* True when `arg` is an option: "--x..." or "-" followed by a letter. */
bool cli_arg_is_option(const char *arg);
/* Split a long option "--name[=value]": *name and *name_len get the name (no dashes),
 * *inline_value the text after '=' or NULL. `arg` must start with "--". */
void cli_arg_split(const char *arg, const char **name, size_t *name_len,
                   const char **inline_value);
/* True when the `n` bytes at `typed` spell `name`, with '-' and '_' interchangeable. */
bool cli_name_equal(const char *typed, size_t n, const char *name);

/* A subcommand of a command group (`outpost log export`). */
typedef struct cli_sub {
    const char *name;
    int (*fn)(cli_ctx *ctx, int argc, char **argv);
    const char *summary;
} cli_sub;

/* Run the subcommand named by argv[0] with the words after it. With no word, or an
 * unknown one, print a usage error (CLI_EX_USAGE); with --help/-h print the group's help
 * (`group_help` then the subcommands and their summaries). Leading --json is accepted. */
int cli_group_dispatch(cli_ctx *ctx, const char *group, const char *group_help,
                       const cli_sub *subs, size_t nsubs, int argc, char **argv);

/* Schema lookups by typed name. On an unknown name they print a usage error whose hint
 * lists what exists, and return CLI_EX_USAGE; else 0 with *out set (borrowed). */
int cli_table_lookup(const char *path, const char *name, const schema_table **out);
int cli_column_lookup(const char *path, const schema_table *t, const char *name, size_t n,
                      const schema_column **out);

/* Parse a record id typed by the user (32 hex digits, dashes allowed). SN_EINVAL naming
 * the text, with a hint. */
SN_NODISCARD int cli_id_parse(const char *text, uint8_t id[SCHEMA_ID_LEN], sn_err *err);

#endif
