/* cli/cmd_clinical.c - recording care: `outpost encounter add`, `note add`, `allergy add`,
 * `condition add` and `observation add`. Each is a row of its table given as options (the
 * machinery of `outpost add`, cli/form.h) against a patient or an encounter named by the
 * first argument, in one audited commit. */
#include "cli/cli.h"

#include <string.h>

#include "cli/args.h"
#include "cli/form.h"

typedef struct clinical_cmd {
    const char *group;    /* "allergy" */
    const char *path;     /* "allergy add" */
    const char *table;    /* "allergy" */
    const char *parent;   /* the positional argument's table: "patient" or "encounter" */
    const char *synopsis;
    const char *text;     /* the --help paragraph */
    const cli_alias *aliases;
    size_t naliases;
    int (*check)(cli_form *f, sn_err *err); /* rules across options; may be NULL */
} clinical_cmd;

static const char *const taken_patient[] = {"patient_id", NULL};
static const char *const taken_encounter[] = {"patient_id", "encounter_id", NULL};

/* Fill the row's patient (and encounter) from the parent row the argument names. */
static int fill_parent(cli_form *f, const node_row *parent, sn_err *err)
{
    if (strcmp(parent->table->name, "patient") == 0) {
        cli_form_put(f, "patient_id", schema_value_id(parent->id));
        return 0;
    }
    const schema_column *pc = schema_column_by_id(parent->table, parent->table->patient_col);
    int idx = pc != NULL ? schema_column_index(parent->table, pc->id) : -1;
    if (idx < 0 || parent->values[idx].kind != SCHEMA_V_ID)
        return sn_err_set(err, SN_EINVAL, "the %s names no patient", parent->table->name);
    cli_form_put(f, "patient_id", parent->values[idx]);
    cli_form_put(f, "encounter_id", schema_value_id(parent->id));
    return 0;
}

static int record(cli_ctx *ctx, const clinical_cmd *cmd, int argc, char **argv)
{
    cli_form f = {.path = cmd->path,
                  .synopsis = cmd->synopsis,
                  .table = schema_table_by_name(cmd->table),
                  .aliases = cmd->aliases,
                  .naliases = cmd->naliases,
                  .taken = strcmp(cmd->parent, "patient") == 0 ? taken_patient : taken_encounter,
                  .npos = 1};
    if (SN_NEVER(f.table == NULL))
        return cli_usage_error(NULL, "this build's schema has no table '%s'", cmd->table);
    int ex = cli_form_parse(ctx, &f, argc, argv);
    if (ex != 0 || f.help)
        return ex != 0 ? ex : cli_form_help(ctx, &f, cmd->text);
    sn_err err = SN_ERR_INIT;
    if (cli_form_check(&f, &err) != 0 || (cmd->check != NULL && cmd->check(&f, &err) != 0))
        return cli_fail(&err);
    node_store *st = NULL;
    node_row *parent = NULL;
    uint8_t id[SCHEMA_ID_LEN];
    cli_txn tx;
    int rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0)
        rc = cli_row_require(st, cmd->parent, f.pos[0], &parent, &err);
    if (rc == 0)
        rc = fill_parent(&f, parent, &err);
    if (rc == 0 && (rc = cli_txn_begin(&tx, ctx, st, &err)) == 0) {
        if ((rc = cli_txn_insert(&tx, f.table, f.fields, f.n, id, &err)) == 0)
            rc = cli_txn_commit(&tx, NULL, &err);
        else
            cli_txn_abort(&tx);
    }
    if (rc == 0)
        rc = cli_print_id(ctx, id, &err);
    node_row_free(parent);
    node_store_close(st);
    return cli_finish(rc, &err);
}

/* An observation holds one kind of result; a unit belongs to a number. */
static int observation_check(cli_form *f, sn_err *err)
{
    int kinds = (cli_form_find(f, "value_num") != NULL) + (cli_form_find(f, "value_text") != NULL) +
                (cli_form_find(f, "value_code") != NULL);
    if (kinds > 1) {
        sn_err_set(err, SN_EINVAL, "an observation has one result: give --value (with --unit), "
                                   "--value-text or --value-code, not several");
        sn_err_hint(err, "record each result as its own observation");
        return SN_EINVAL;
    }
    if (cli_form_find(f, "unit") != NULL && cli_form_find(f, "value_num") == NULL) {
        sn_err_set(err, SN_EINVAL, "--unit needs a --value: it is the unit of a number");
        return SN_EINVAL;
    }
    return 0;
}

static const cli_alias allergy_aliases[] = {{"reaction", "reaction_code"}};
static const cli_alias observation_aliases[] = {{"value", "value_num"},
                                                {"encounter", "encounter_id"}};

static const clinical_cmd encounter_cmd = {
    .group = "encounter", .path = "encounter add", .table = "encounter", .parent = "patient",
    .synopsis = "PATIENT --start DATETIME [--class C] [--status S] [--reason-code CODE] "
                "[--location TEXT]",
    .text = "Record a consultation with patient PATIENT (an id from 'outpost patient find').\n"
            "Write its notes with 'outpost note add ENCOUNTER'. Prints the encounter's id.\n"
            "  outpost encounter add 0190... --start 2024-05-02T08:15Z --class FLD \\\n"
            "      --status in-progress --location \"Sick bay\"\n",
};

static const clinical_cmd note_cmd = {
    .group = "note", .path = "note add", .table = "clinical_note", .parent = "encounter",
    .synopsis = "ENCOUNTER --heading HEADING --text TEXT",
    .text = "Write a note in consultation ENCOUNTER under a record heading; the patient is\n"
            "the encounter's. Notes are never edited: a wrong note is retracted ('outpost\n"
            "retract ID --reason TEXT') and written again. Prints the note's id.\n"
            "  outpost note add 0190... --heading history --text \"Cough for three days.\"\n",
};

static const clinical_cmd allergy_cmd = {
    .group = "allergy", .path = "allergy add", .table = "allergy", .parent = "patient",
    .synopsis = "PATIENT --code CODE [--display TEXT] [--category C] [--criticality C] "
                "[--verification V] [--reaction CODE] [--severity S]",
    .text = "Record an allergy or intolerance of patient PATIENT. Allergies are listed first\n"
            "in 'outpost patient show'. Prints the allergy's id.\n"
            "  outpost allergy add 0190... --code 91936005 --display \"Penicillin allergy\" \\\n"
            "      --category medication --criticality high --verification confirmed\n",
    .aliases = allergy_aliases, .naliases = 1,
};

static const clinical_cmd condition_cmd = {
    .group = "condition", .path = "condition add", .table = "condition", .parent = "patient",
    .synopsis = "PATIENT --code CODE [--display TEXT] [--clinical-status S] "
                "[--verification V] [--onset DATE]",
    .text = "Record a problem or diagnosis of patient PATIENT (shown under PROBLEMS).\n"
            "Prints the condition's id.\n"
            "  outpost condition add 0190... --code 195967001 --display Asthma \\\n"
            "      --clinical-status active --verification confirmed --onset 2001-05-01\n",
};

static const clinical_cmd observation_cmd = {
    .group = "observation", .path = "observation add", .table = "observation",
    .parent = "patient",
    .synopsis = "PATIENT --code CODE [--value N --unit U | --value-text T | --value-code C] "
                "--effective DATETIME [--encounter ID]",
    .text = "Record a measurement or finding of patient PATIENT: one result, a number with\n"
            "its unit, words, or a code. Prints the observation's id.\n"
            "  outpost observation add 0190... --code 72313002 --value 120 --unit mm[Hg] \\\n"
            "      --effective 2024-05-02T08:20Z\n",
    .aliases = observation_aliases, .naliases = 2, .check = observation_check,
};

static int encounter_add(cli_ctx *ctx, int argc, char **argv)
{
    return record(ctx, &encounter_cmd, argc, argv);
}
static int note_add(cli_ctx *ctx, int argc, char **argv)
{
    return record(ctx, &note_cmd, argc, argv);
}
static int allergy_add(cli_ctx *ctx, int argc, char **argv)
{
    return record(ctx, &allergy_cmd, argc, argv);
}
static int condition_add(cli_ctx *ctx, int argc, char **argv)
{
    return record(ctx, &condition_cmd, argc, argv);
}
static int observation_add(cli_ctx *ctx, int argc, char **argv)
{
    return record(ctx, &observation_cmd, argc, argv);
}

/* `outpost GROUP add ...`: each group has the one subcommand. */
static int group(cli_ctx *ctx, const clinical_cmd *cmd, cli_sub sub, int argc, char **argv)
{
    const schema_table *t = schema_table_by_name(cmd->table);
    return cli_group_dispatch(ctx, cmd->group, t != NULL && t->help != NULL ? t->help : "", &sub,
                              1, argc, argv);
}

int cli_cmd_encounter(cli_ctx *ctx, int argc, char **argv)
{
    return group(ctx, &encounter_cmd, (cli_sub){"add", encounter_add, "record a consultation"},
                 argc, argv);
}

int cli_cmd_note(cli_ctx *ctx, int argc, char **argv)
{
    return group(ctx, &note_cmd, (cli_sub){"add", note_add, "write a note in a consultation"},
                 argc, argv);
}

int cli_cmd_allergy(cli_ctx *ctx, int argc, char **argv)
{
    return group(ctx, &allergy_cmd, (cli_sub){"add", allergy_add, "record an allergy"}, argc,
                 argv);
}

int cli_cmd_condition(cli_ctx *ctx, int argc, char **argv)
{
    return group(ctx, &condition_cmd, (cli_sub){"add", condition_add, "record a condition"},
                 argc, argv);
}

int cli_cmd_observation(cli_ctx *ctx, int argc, char **argv)
{
    return group(ctx, &observation_cmd,
                 (cli_sub){"add", observation_add, "record an observation"}, argc, argv);
}
