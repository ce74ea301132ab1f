/* cli/form.h - a new row given as options: `--COLUMN VALUE` for the columns of a table,
 * as `outpost add TABLE` takes them, plus what the clinical commands add on top: friendlier
 * option names (`--reaction` for reaction_code), columns filled from positional arguments
 * (`outpost allergy add PATIENT`) and extra repeatable options (`--identifier`).
 *
 * Option names follow cli/args.h: '-' and '_' are interchangeable, `--name=VALUE` works,
 * and a value that starts with "--" must be given inline (`--family=--x`), since
 * `--family --given Jane` is far more often a forgotten value. */
#ifndef SN_CLI_FORM_H
#define SN_CLI_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "schema/codec.h"

typedef struct cli_alias {
    const char *opt; /* the option name, e.g. "reaction" */
    const char *col; /* the column it sets, e.g. "reaction_code" */
} cli_alias;

/* An extra option's value, in command-line order; 0 or an SN_E* code (printed). */
typedef int (*cli_extra_fn)(void *ctx, const char *name, const char *value, sn_err *err);

typedef struct cli_form {
    /* Set by the caller before cli_form_parse. */
    const char *path;            /* command words, e.g. "allergy add" */
    const char *synopsis;        /* e.g. "PATIENT --code CODE [--OPTION VALUE ...]" */
    const schema_table *table;
    const cli_alias *aliases;    /* may be NULL */
    size_t naliases;
    const char *const *taken;    /* NULL-terminated columns the command fills itself */
    size_t npos;                 /* positional arguments, required and allowed */
    const char *const *extras;   /* NULL-terminated names of extra (repeatable) options */
    const char *extras_help;     /* their lines in --help, after the columns; may be NULL */
    cli_extra_fn extra;
    void *extra_ctx;
    /* Results. Text values borrow argv. */
    const char *pos[CLI_POS_MAX];
    bool help; /* --help was given: nothing else was checked */
    schema_field fields[SCHEMA_FIELDS_MAX];
    size_t n;
    char nhs[11]; /* the digits of a patient's NHS number (cli_nhs_value) */
} cli_form;

/* Parse argv[0..argc). Returns 0 (see f->help) or an exit status after printing the
 * problem: CLI_EX_USAGE for an unknown or repeated option, a missing value, a wrong
 * number of positional arguments; the value's code (65) when a value does not parse or is
 * not allowed for its column; an extra option's code. --json sets ctx->json. */
int cli_form_parse(cli_ctx *ctx, cli_form *f, int argc, char **argv);

/* The field given for column `col`, or NULL. */
schema_field *cli_form_find(cli_form *f, const char *col);

/* Add (or replace) the value of column `col`: for the columns the command fills. */
void cli_form_put(cli_form *f, const char *col, schema_value v);

/* SN_EINVAL naming the first required column not given, as its option; `taken` columns
 * are the command's business and not checked. */
SN_NODISCARD int cli_form_check(const cli_form *f, sn_err *err);

/* Append the option list: each column (except `taken` ones) under its option name, with
 * its type, kind, whether it is required, its allowed values and its meaning. */
SN_NODISCARD int cli_form_columns_help(sn_buf *b, const cli_form *f, sn_err *err);

/* Append "usage: outpost PATH SYNOPSIS", `text`, "Options:" and the column list to
 * ctx->out. Returns the exit status (0). */
int cli_form_help(cli_ctx *ctx, const cli_form *f, const char *text);

#endif
