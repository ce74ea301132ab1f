/* cli/cmd_records.c - the writing commands: `outpost add` (options generated from the
 * schema), `outpost set` and `outpost retract`; each makes exactly one commit. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/form.h"
#include "cli/output.h"
#include "schema/nhs.h"

static const cli_spec add_spec = {
    .path = "add",
    .synopsis = "TABLE [--COLUMN VALUE ...]",
    .help = "Record a new row in TABLE; its columns are given as options, e.g.\n"
            "  outpost add patient --family Smith --given Jane --birth-date 1990-04-12 \\\n"
            "      --gender female\n"
            "Prints the new row's id. Run 'outpost add TABLE --help' for the columns of one\n"
            "table: type, kind (fixed: written once; mv: can be changed with 'outpost set'),\n"
            "whether it is required, allowed values, and what it means.\n"
            "\n"
            "Tables:\n",
};

static const cli_spec set_spec = {
    .path = "set",
    .synopsis = "TABLE ID COLUMN VALUE",
    .help = "Change a mutable (mv) column of a row, in one commit. Fixed columns cannot\n"
            "change: retract the row and add a corrected one. If another site changed the\n"
            "same field meanwhile, both values are kept and, for reviewed fields, shown as\n"
            "a conflict until someone resolves it ('outpost conflicts').\n"
            "An empty VALUE clears an optional column.\n"
            "\n"
            "Options:\n"
            "  --json   print {\"table\":...,\"id\":...,\"column\":...,\"seq\":N}\n",
    .min_pos = 4,
    .max_pos = 4,
};

static const cli_spec retract_spec = {
    .path = "retract",
    .synopsis = "ID --reason TEXT",
    .help = "Mark row ID as entered in error. Nothing is deleted: a retraction row records\n"
            "who retracted it, when and why, and the row is shown as RETRACTED. Retracting\n"
            "a retraction undoes it. Prints the id of the new retraction row.\n"
            "\n"
            "Options:\n"
            "  --reason TEXT   why the row is wrong (required)\n"
            "  --json          print {\"id\":...,\"target\":...,\"table\":...}\n",
    .min_pos = 1,
    .max_pos = 1,
};

static int add_help(cli_ctx *ctx, const cli_form *f)
{
    sn_err err = SN_ERR_INIT;
    sn_buf *b = &ctx->out;
    int rc = 0;
    if (f == NULL) {
        rc = cli_help(ctx, &add_spec);
        int width = 0;
        for (size_t i = 0; i < schema_table_count(); i++)
            if ((int)strlen(schema_table_at(i)->name) > width)
                width = (int)strlen(schema_table_at(i)->name);
        for (size_t i = 0; rc == 0 && i < schema_table_count(); i++) {
            const schema_table *x = schema_table_at(i);
            rc = sn_buf_appendf(b, &err, "  %-*s  %s\n", width, x->name, x->help ? x->help : "");
        }
        return cli_finish(rc, &err);
    }
    const schema_table *t = f->table;
    rc = sn_buf_appendf(b, &err, "usage: outpost add %s [--COLUMN VALUE ...]\n\n%s%s"
                        "Prints the new row's id ({\"id\":...} with --json).\n\nColumns:\n",
                        t->name, t->help ? t->help : "", t->help ? "\n" : "");
    if (rc == 0)
        rc = cli_form_columns_help(b, f, &err);
    return cli_finish(rc, &err);
}

static int nhs_value(const schema_table *t, const schema_column *c, schema_value *v,
                     char digits[static 11], sn_err *err)
{
    if (strcmp(t->name, "patient") != 0 || strcmp(c->name, "nhs_number") != 0 ||
        v->kind != SCHEMA_V_TEXT)
        return 0;
    char typed[64];
    if (v->u.s.n >= sizeof typed)
        return sn_err_set(err, SN_EINVAL, "NHS number '%.20s...' must be exactly 10 digits",
                          (const char *)v->u.s.p);
    memcpy(typed, v->u.s.p, v->u.s.n);
    typed[v->u.s.n] = '\0';
    int rc = schema_nhs_number_check(typed, digits, err);
    if (rc == 0)
        *v = schema_value_text(digits);
    return rc;
}

int cli_value_parse_nhs(const schema_table *t, const schema_column *c, const char *text,
                        schema_value *v, char *nhs_digits, sn_err *err)
{
    /* An NHS number is stored as its ten digits: drop spaces and hyphens before checking. */
    int rc = schema_value_parse(t, c, text, v, err);
    if (rc == 0 && nhs_digits != NULL)
        rc = nhs_value(t, c, v, nhs_digits, err);
    if (rc == 0)
        rc = schema_value_validate(t, c, v, true, err);
    if (rc != 0 && err != NULL && err->hint[0] == '\0')
        sn_err_hint(err, "'outpost add %s --help' describes its columns", t->name);
    return rc;
}

int cli_value_parse(const schema_table *t, const schema_column *c, const char *text,
                    schema_value *v, sn_err *err)
{
    return cli_value_parse_nhs(t, c, text, v, NULL, err);
}

int cli_print_id(cli_ctx *ctx, const uint8_t id[SCHEMA_ID_LEN], sn_err *err)
{
    char hex[CLI_ID_HEX];
    schema_id_format(hex, id);
    return sn_buf_appendf(&ctx->out, err, ctx->json ? "{\"id\":\"%s\"}\n" : "%s\n", hex);
}

int cli_cmd_add(cli_ctx *ctx, int argc, char **argv)
{
    int i = 0;
    for (; i < argc && strcmp(argv[i], "--json") == 0; i++)
        ctx->json = true;
    if (i < argc && cli_arg_is_help(argv[i]))
        return add_help(ctx, NULL);
    if (i >= argc || cli_arg_is_option(argv[i]))
        return cli_usage_error("add", "'outpost add' needs a TABLE first, e.g. 'outpost add "
                                      "patient --family Smith ...'");
    const schema_table *t;
    int ex = cli_table_lookup("add", argv[i++], &t);
    if (ex != 0)
        return ex;
    char path[64];
    snprintf(path, sizeof path, "add %s", t->name);
    cli_form f = {.path = path, .synopsis = "[--COLUMN VALUE ...]", .table = t};
    if ((ex = cli_form_parse(ctx, &f, argc - i, argv + i)) != 0 || f.help)
        return ex != 0 ? ex : add_help(ctx, &f);
    sn_err err = SN_ERR_INIT;
    if (cli_form_check(&f, &err) != 0)
        return cli_fail(&err);
    node_store *st = NULL;
    uint8_t id[SCHEMA_ID_LEN];
    cli_txn tx;
    int rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0 && (rc = cli_txn_begin(&tx, ctx, st, &err)) == 0) {
        if ((rc = cli_txn_insert(&tx, t, f.fields, f.n, id, &err)) == 0)
            rc = cli_txn_commit(&tx, NULL, &err);
        else
            cli_txn_abort(&tx);
    }
    if (rc == 0)
        rc = cli_print_id(ctx, id, &err);
    node_store_close(st);
    return cli_finish(rc, &err);
}

int cli_records_set(cli_ctx *ctx, node_store *st, const schema_table *t,
                    const uint8_t id[SCHEMA_ID_LEN], const schema_column *c, const char *text,
                    node_commit_info *info, sn_err *err)
{
    if (c->kind != SCHEMA_MV) {
        int rc = sn_err_set(err, SN_EINVAL,
                            "column '%s' of %s is fixed: it is written once, when the row "
                            "is added",
                            c->name, t->name);
        sn_err_hint(err, "if it is wrong, retract the row ('outpost retract ID --reason "
                         "TEXT') and add a corrected one");
        return rc;
    }
    schema_value v;
    char digits[11];
    int rc = cli_value_parse_nhs(t, c, text, &v, digits, err);
    cli_txn tx;
    if (rc == 0 && (rc = cli_txn_begin(&tx, ctx, st, err)) == 0) {
        if ((rc = cli_txn_set(&tx, t, id, c, &v, err)) == 0)
            rc = cli_txn_commit(&tx, info, err);
        else
            cli_txn_abort(&tx);
    }
    return rc;
}

int cli_cmd_set(cli_ctx *ctx, int argc, char **argv)
{
    cli_parsed p;
    int ex = cli_args_parse(ctx, &set_spec, NULL, 0, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &set_spec);
    const schema_table *t;
    const schema_column *c;
    if ((ex = cli_table_lookup("set", p.pos[0], &t)) != 0 ||
        (ex = cli_column_lookup("set", t, p.pos[2], strlen(p.pos[2]), &c)) != 0)
        return ex;
    sn_err err = SN_ERR_INIT;
    uint8_t id[SCHEMA_ID_LEN];
    node_store *st = NULL;
    node_commit_info info;
    int rc = cli_id_parse(p.pos[1], id, &err);
    if (rc == 0)
        rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0) {
        rc = cli_records_set(ctx, st, t, id, c, p.pos[3], &info, &err);
        if (rc == SN_ENOTFOUND)
            cli_hint_other_table(st, t, p.pos[1], id, &err);
    }
    if (rc == 0) {
        char hex[CLI_ID_HEX];
        schema_id_format(hex, id);
        rc = sn_buf_appendf(&ctx->out, &err,
                            ctx->json ? "{\"table\":\"%s\",\"id\":\"%s\",\"column\":\"%s\","
                                        "\"seq\":%llu}\n"
                                      : "set %s %s %s (commit %llu)\n",
                            t->name, hex, c->name, (unsigned long long)info.seq);
    }
    node_store_close(st);
    return cli_finish(rc, &err);
}

int cli_cmd_retract(cli_ctx *ctx, int argc, char **argv)
{
    const char *reason = NULL;
    const cli_opt opts[] = {{.name = "reason", .value = &reason}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &retract_spec, opts, 1, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &retract_spec);
    if (reason == NULL)
        return cli_usage_error("retract", "'outpost retract' needs --reason TEXT");
    sn_err err = SN_ERR_INIT;
    uint8_t id[SCHEMA_ID_LEN], rid[SCHEMA_ID_LEN];
    uint16_t tid = 0;
    node_store *st = NULL;
    cli_txn tx;
    int rc = cli_id_parse(p.pos[0], id, &err);
    if (rc == 0)
        rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0 && (rc = cli_txn_begin(&tx, ctx, st, &err)) == 0) {
        if ((rc = cli_retract_add(&tx, id, reason, &tid, rid, &err)) == 0)
            rc = cli_txn_commit(&tx, NULL, &err);
        else
            cli_txn_abort(&tx);
    }
    if (rc == 0 && ctx->json) {
        char hex[CLI_ID_HEX], target[CLI_ID_HEX];
        const schema_table *t = schema_table_by_id(tid);
        schema_id_format(hex, rid);
        schema_id_format(target, id);
        rc = sn_buf_appendf(&ctx->out, &err, "{\"id\":\"%s\",\"target\":\"%s\",\"table\":",
                            hex, target);
        if (rc == 0)
            rc = cli_json_cstr(&ctx->out, t != NULL ? t->name : NULL, &err);
        if (rc == 0)
            rc = sn_buf_append_str(&ctx->out, "}\n", &err);
    } else if (rc == 0) {
        rc = cli_print_id(ctx, rid, &err);
    }
    node_store_close(st);
    return cli_finish(rc, &err);
}
