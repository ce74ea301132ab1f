/* cli/cmd_patient.c - `outpost patient ...`: the group, and registering and updating a
 * patient (identity fields checked: the NHS number by its modulus 11 check digit). */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/form.h"
#include "cli/output.h"

#define IDENTIFIERS_MAX 16

static const char register_text[] =
    "Register a new patient; prints the patient's id. With no link to the national\n"
    "tracing service a number cannot be verified here, so a given NHS number is stored\n"
    "with status 02 (present, not traced) unless --nhs-status says otherwise. Each\n"
    "--identifier SYSTEM=VALUE (repeatable) records another identifier the patient holds\n"
    "(service, prison or hospital number) in the same commit. Check first that the\n"
    "patient is not already registered: 'outpost patient find'.\n"
    "  outpost patient register --family Smith --given Jane --birth-date 1990-04-12 \\\n"
    "      --gender female --nhs-number \"943 476 5919\" --identifier service=30012345\n";

static const char update_text[] =
    "Change one or more fields of patient ID in one commit; an empty VALUE clears an\n"
    "optional field. A changed NHS number is checked and, unless --nhs-status is given,\n"
    "its status becomes 02 (present, not traced). If another site changed a reviewed\n"
    "field meanwhile, both values are kept and shown as a CONFLICT until resolved.\n"
    "  outpost patient update 0190... --address \"1 High Street, Portsmouth\" \\\n"
    "      --postcode \"PO1 1AA\"\n";

static const cli_alias patient_aliases[] = {{"nhs-status", "nhs_number_status"}};

typedef struct identifiers {
    struct {
        char system[128];
        char value[128];
    } v[IDENTIFIERS_MAX];
    size_t n;
} identifiers;

static int add_identifier(void *vctx, const char *name, const char *value, sn_err *err)
{
    identifiers *ids = vctx;
    (void)name;
    const char *eq = strchr(value, '=');
    if (eq == NULL || eq == value || eq[1] == '\0') {
        sn_err_set(err, SN_EINVAL, "identifier '%s' is not SYSTEM=VALUE", value);
        sn_err_hint(err, "e.g. --identifier service=30012345 (who issued it, then the number)");
        return SN_EINVAL;
    }
    if (ids->n == IDENTIFIERS_MAX)
        return sn_err_set(err, SN_ETOOBIG, "at most %d identifiers at registration",
                          IDENTIFIERS_MAX);
    size_t ns = (size_t)(eq - value);
    if (ns >= sizeof ids->v[0].system || strlen(eq + 1) >= sizeof ids->v[0].value)
        return sn_err_set(err, SN_EINVAL, "identifier '%.40s...' is too long", value);
    memcpy(ids->v[ids->n].system, value, ns);
    ids->v[ids->n].system[ns] = '\0';
    snprintf(ids->v[ids->n].value, sizeof ids->v[0].value, "%s", eq + 1);
    ids->n++;
    return 0;
}

/* Insert the identifiers of patient `pid` into the transaction. */
static int insert_identifiers(cli_txn *tx, const identifiers *ids,
                              const uint8_t pid[SCHEMA_ID_LEN], sn_err *err)
{
    const schema_table *t = schema_table_by_name("patient_identifier");
    const schema_column *pc = schema_column_by_name(t, "patient_id");
    const schema_column *sc = schema_column_by_name(t, "system");
    const schema_column *vc = schema_column_by_name(t, "value");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < ids->n; i++) {
        schema_field f[3] = {{.col = pc->id, .value = schema_value_id(pid)}, {.col = sc->id},
                             {.col = vc->id}};
        uint8_t id[SCHEMA_ID_LEN];
        rc = cli_value_parse(t, sc, ids->v[i].system, &f[1].value, err);
        if (rc == 0)
            rc = cli_value_parse(t, vc, ids->v[i].value, &f[2].value, err);
        if (rc == 0)
            rc = cli_txn_insert(tx, t, f, 3, id, err);
    }
    return rc;
}

static int cmd_register(cli_ctx *ctx, int argc, char **argv)
{
    static const char *const extras[] = {"identifier", NULL};
    identifiers ids = {.n = 0};
    cli_form f = {.path = "patient register",
                  .synopsis = "--family F [--given G] [--birth-date D] [--gender G] "
                              "[--nhs-number N] [--nhs-status 01..08] [--address ...] "
                              "[--postcode ...] [--phone ...] [--identifier SYSTEM=VALUE ...]",
                  .table = schema_table_by_name("patient"),
                  .aliases = patient_aliases,
                  .naliases = 1,
                  .extras = extras,
                  .extras_help = "  --identifier SYSTEM=VALUE another identifier (repeatable): "
                                 "who issued it, the number\n",
                  .extra = add_identifier,
                  .extra_ctx = &ids};
    int ex = cli_form_parse(ctx, &f, argc, argv);
    if (ex != 0 || f.help)
        return ex != 0 ? ex : cli_form_help(ctx, &f, register_text);
    sn_err err = SN_ERR_INIT;
    if (cli_form_check(&f, &err) != 0)
        return cli_fail(&err);
    schema_field *nhs = cli_form_find(&f, "nhs_number");
    if (nhs != NULL && nhs->value.kind != SCHEMA_V_NIL &&
        cli_form_find(&f, "nhs_number_status") == NULL)
        cli_form_put(&f, "nhs_number_status", schema_value_text("02"));
    node_store *st = NULL;
    uint8_t pid[SCHEMA_ID_LEN];
    cli_txn tx;
    int rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0 && (rc = cli_txn_begin(&tx, ctx, st, &err)) == 0) {
        rc = cli_txn_insert(&tx, f.table, f.fields, f.n, pid, &err);
        if (rc == 0)
            rc = insert_identifiers(&tx, &ids, pid, &err);
        if (rc == 0)
            rc = cli_txn_commit(&tx, NULL, &err);
        else
            cli_txn_abort(&tx);
    }
    if (rc == 0)
        rc = cli_print_id(ctx, pid, &err);
    node_store_close(st);
    return cli_finish(rc, &err);
}

/* A new NHS number has not been traced: unless told otherwise its status becomes 02. */
static void nhs_status_default(cli_form *f, const node_row *row)
{
    schema_field *nhs = cli_form_find(f, "nhs_number");
    if (nhs == NULL || nhs->value.kind == SCHEMA_V_NIL || cli_form_find(f, "nhs_number_status"))
        return;
    if (schema_value_equal(cli_row_value(row, "nhs_number"), &nhs->value))
        return;
    cli_form_put(f, "nhs_number_status", schema_value_text("02"));
}

static int cmd_update(cli_ctx *ctx, int argc, char **argv)
{
    cli_form f = {.path = "patient update",
                  .synopsis = "ID --FIELD VALUE [--FIELD VALUE ...]",
                  .table = schema_table_by_name("patient"),
                  .aliases = patient_aliases,
                  .naliases = 1,
                  .npos = 1};
    int ex = cli_form_parse(ctx, &f, argc, argv);
    if (ex != 0 || f.help)
        return ex != 0 ? ex : cli_form_help(ctx, &f, update_text);
    if (f.n == 0)
        return cli_usage_error(f.path, "nothing to change: give at least one --FIELD VALUE");
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    node_row *row = NULL;
    node_commit_info info;
    cli_txn tx;
    int rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0)
        rc = cli_row_require(st, "patient", f.pos[0], &row, &err);
    if (rc == 0)
        nhs_status_default(&f, row);
    if (rc == 0 && (rc = cli_txn_begin(&tx, ctx, st, &err)) == 0) {
        for (size_t i = 0; rc == 0 && i < f.n; i++)
            rc = cli_txn_set(&tx, f.table, row->id, schema_column_by_id(f.table, f.fields[i].col),
                             &f.fields[i].value, &err);
        if (rc == 0)
            rc = cli_txn_commit(&tx, &info, &err);
        else
            cli_txn_abort(&tx);
    }
    if (rc == 0 && ctx->json) {
        char hex[CLI_ID_HEX];
        schema_id_format(hex, row->id);
        rc = sn_buf_appendf(&ctx->out, &err, "{\"id\":\"%s\",\"seq\":%" PRIu64 ",\"fields\":[",
                            hex, info.seq);
        for (size_t i = 0; rc == 0 && i < f.n; i++)
            rc = sn_buf_appendf(&ctx->out, &err, "%s\"%s\"", i > 0 ? "," : "",
                                schema_column_by_id(f.table, f.fields[i].col)->name);
        if (rc == 0)
            rc = sn_buf_append_str(&ctx->out, "]}\n", &err);
    } else if (rc == 0) {
        rc = sn_buf_append_str(&ctx->out, "updated", &err);
        for (size_t i = 0; rc == 0 && i < f.n; i++)
            rc = sn_buf_appendf(&ctx->out, &err, "%s %s", i > 0 ? "," : "",
                                schema_column_by_id(f.table, f.fields[i].col)->name);
        if (rc == 0)
            rc = sn_buf_appendf(&ctx->out, &err, " (commit %" PRIu64 ")\n", info.seq);
    }
    node_row_free(row);
    node_store_close(st);
    return cli_finish(rc, &err);
}

static const cli_sub patient_subs[] = {
    {"register", cmd_register, "register a new patient"},
    {"find", cli_cmd_patient_find, "find patients by NHS number, name or identifier"},
    {"show", cli_cmd_patient_show, "the whole record, as a clinician reads it"},
    {"update", cmd_update, "change demographic fields"},
    {"duplicates", cli_cmd_patient_duplicates, "list possible duplicate registrations"},
    {"merge", cli_cmd_patient_merge, "join two registrations of one person"},
    {"unmerge", cli_cmd_patient_unmerge, "undo a merge made in error"},
};

int cli_cmd_patient(cli_ctx *ctx, int argc, char **argv)
{
    return cli_group_dispatch(ctx, "patient",
                              "Patients: registration, finding, the whole record, and the\n"
                              "duplicate registrations that offline sites make.\n",
                              patient_subs, sizeof patient_subs / sizeof patient_subs[0], argc,
                              argv);
}
