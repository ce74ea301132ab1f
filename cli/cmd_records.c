/* cli/cmd_records.c - the writing commands: `outpost add` (options generated from the
 * schema), `outpost set` and `outpost retract`; each makes exactly one commit. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/output.h"

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

/* Append "--birth-date" style option name of column c. */
static int opt_name(sn_buf *b, const char *name, sn_err *err)
{
    int rc = sn_buf_append_str(b, "--", err);
    for (const char *p = name; rc == 0 && *p != '\0'; p++)
        rc = sn_buf_append(b, *p == '_' ? "-" : p, 1, err);
    return rc;
}

static int column_help(sn_buf *b, const schema_column *c, sn_err *err)
{
    size_t start = b->len;
    int rc = sn_buf_append_str(b, "  ", err);
    if (rc == 0)
        rc = opt_name(b, c->name, err);
    size_t w = b->len - start;
    if (rc == 0)
        rc = sn_buf_appendf(b, err, "%*s%s, %s%s%s\n", w < 26 ? (int)(26 - w) : 1, "",
                            schema_type_name(c->type), c->kind == SCHEMA_FIXED ? "fixed" : "mv",
                            c->kind == SCHEMA_MV && c->policy == SCHEMA_POLICY_REVIEW
                                ? " (conflicts reviewed)"
                                : "",
                            c->required ? ", required" : "");
    if (rc == 0 && c->help != NULL && c->help[0] != '\0')
        rc = sn_buf_appendf(b, err, "      %s\n", c->help);
    if (rc == 0 && c->type == SCHEMA_T_CODE && c->codes != NULL) {
        rc = sn_buf_append_str(b, "      one of:", err);
        for (size_t i = 0; rc == 0 && c->codes[i] != NULL; i++)
            rc = sn_buf_appendf(b, err, " %s", c->codes[i]);
        if (rc == 0)
            rc = sn_buf_append_str(b, "\n", err);
    }
    if (rc == 0 && c->type == SCHEMA_T_REF) {
        const schema_table *rt = schema_table_by_id(c->ref_table);
        rc = sn_buf_appendf(b, err, "      the id of a %s row\n",
                            c->ref_table == SCHEMA_REF_ANY ? "any" : rt ? rt->name : "?");
    }
    return rc;
}

static int add_help(cli_ctx *ctx, const schema_table *t)
{
    sn_err err = SN_ERR_INIT;
    sn_buf *b = &ctx->out;
    int rc = 0;
    if (t == NULL) {
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
    rc = sn_buf_appendf(b, &err, "usage: outpost add %s [--COLUMN VALUE ...]\n\n%s%s"
                        "Prints the new row's id ({\"id\":...} with --json).\n\nColumns:\n",
                        t->name, t->help ? t->help : "", t->help ? "\n" : "");
    for (size_t i = 0; rc == 0 && i < t->ncols; i++)
        rc = column_help(b, &t->cols[i], &err);
    return cli_finish(rc, &err);
}

/* Parse and check one typed value for column c (local write rules). */
static int value_parse(const schema_table *t, const schema_column *c, const char *text,
                       schema_value *v, sn_err *err)
{
    int rc = schema_value_parse(t, c, text, v, err);
    if (rc == 0)
        rc = schema_value_validate(t, c, v, true, err);
    if (rc != 0 && err != NULL && err->hint[0] == '\0')
        sn_err_hint(err, "'outpost add %s --help' describes its columns", t->name);
    return rc;
}

/* Insert one row with `fields` in one commit; the new id goes to `id`. */
static int insert_row(const cli_ctx *ctx, node_store *st, const schema_table *t,
                      const schema_field *fields, size_t n, uint8_t id[SCHEMA_ID_LEN],
                      sn_err *err)
{
    node_write *w = NULL;
    int rc = node_write_begin(st, ctx->author, NULL, &w, err);
    if (rc != 0)
        return rc;
    rc = node_write_insert(w, t->id, fields, n, id, err);
    if (rc != 0) {
        node_write_abort(w);
        return rc;
    }
    return node_write_commit(w, NULL, err);
}

static int print_new_id(cli_ctx *ctx, const uint8_t id[SCHEMA_ID_LEN], sn_err *err)
{
    char hex[2 * SCHEMA_ID_LEN + 1];
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
    for (int k = i; k < argc && strcmp(argv[k], "--") != 0; k++)
        if (cli_arg_is_help(argv[k]))
            return add_help(ctx, t);
    if (SN_NEVER(t->ncols > SCHEMA_FIELDS_MAX))
        return cli_usage_error("add", "table '%s' has too many columns", t->name);

    char path[64];
    snprintf(path, sizeof path, "add %s", t->name);
    schema_field fields[SCHEMA_FIELDS_MAX];
    bool given[SCHEMA_FIELDS_MAX] = {false};
    size_t n = 0;
    sn_err err = SN_ERR_INIT;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--json") == 0) {
            ctx->json = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
            return cli_usage_error(path, "unexpected argument '%s': columns are given as "
                                         "--COLUMN VALUE", arg);
        const char *name, *value;
        size_t len;
        cli_arg_split(arg, &name, &len, &value);
        const schema_column *c;
        if ((ex = cli_column_lookup(path, t, name, len, &c)) != 0)
            return ex;
        int idx = schema_column_index(t, c->id);
        if (SN_NEVER(idx < 0))
            return cli_usage_error(path, "column '%s' has no index", c->name);
        if (given[idx])
            return cli_usage_error(path, "column --%.*s given twice", (int)len, name);
        if (value == NULL) {
            /* A following "--x" is the next option, not a value: `--family --given Jane`
             * is a forgotten value. Pass `--family=--x` to store such text. */
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
                return cli_usage_error(path, "option --%.*s needs a value", (int)len, name);
            value = argv[++i];
        }
        given[idx] = true;
        fields[n].col = c->id;
        if (value_parse(t, c, value, &fields[n].value, &err) != 0)
            return cli_fail(&err);
        n++;
    }
    for (size_t k = 0; k < t->ncols; k++) {
        if (!t->cols[k].required || given[k])
            continue;
        sn_buf opt;
        sn_buf_init(&opt, 128);
        int rc = opt_name(&opt, t->cols[k].name, &err);
        if (rc == 0) {
            sn_err_set(&err, SN_EINVAL, "'outpost add %s' needs %.*s (a required column)",
                       t->name, (int)opt.len, (const char *)opt.data);
            sn_err_hint(&err, "'outpost add %s --help' lists its columns", t->name);
        }
        sn_buf_free(&opt);
        return cli_fail(&err);
    }

    node_store *st = NULL;
    uint8_t id[SCHEMA_ID_LEN];
    int rc = cli_store_open(ctx, &st, &err);
    if (rc == 0)
        rc = insert_row(ctx, st, t, fields, n, id, &err);
    if (rc == 0)
        rc = print_new_id(ctx, id, &err);
    node_store_close(st);
    return cli_finish(rc, &err);
}

int cli_records_set(const cli_ctx *ctx, node_store *st, const schema_table *t,
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
    int rc = value_parse(t, c, text, &v, err);
    if (rc != 0)
        return rc;
    node_write *w = NULL;
    if ((rc = node_write_begin(st, ctx->author, NULL, &w, err)) != 0)
        return rc;
    if ((rc = node_write_set(w, t->id, id, c->id, &v, err)) != 0) {
        node_write_abort(w);
        return rc;
    }
    return node_write_commit(w, info, err);
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
        rc = cli_store_open(ctx, &st, &err);
    if (rc == 0) {
        rc = cli_records_set(ctx, st, t, id, c, p.pos[3], &info, &err);
        if (rc == SN_ENOTFOUND)
            cli_hint_other_table(st, t, p.pos[1], id, &err);
    }
    if (rc == 0) {
        char hex[2 * SCHEMA_ID_LEN + 1];
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

/* The patient a retraction of row `id` (in table `tid`) belongs to: the row's patient
 * column, or the row itself when it is a patient. *found false when there is none. */
static int retract_patient(node_store *st, uint16_t tid, const uint8_t id[SCHEMA_ID_LEN],
                           const schema_column *pcol, uint8_t patient[SCHEMA_ID_LEN],
                           bool *found, sn_err *err)
{
    *found = false;
    const schema_table *t = schema_table_by_id(tid);
    if (pcol == NULL || t == NULL)
        return 0;
    if (t->id == pcol->ref_table) {
        memcpy(patient, id, SCHEMA_ID_LEN);
        *found = true;
        return 0;
    }
    int idx = t->patient_col != 0 ? schema_column_index(t, t->patient_col) : -1;
    if (idx < 0)
        return 0;
    node_row *row = NULL;
    int rc = node_store_row_get(st, tid, id, &row, err);
    if (rc != 0)
        return rc;
    if (row->values[idx].kind == SCHEMA_V_ID) {
        memcpy(patient, row->values[idx].u.id, SCHEMA_ID_LEN);
        *found = true;
    }
    node_row_free(row);
    return 0;
}

/* Insert a retraction of row `id` for `reason`; the new row's id goes to `rid`. */
static int retract_row(const cli_ctx *ctx, node_store *st, const uint8_t id[SCHEMA_ID_LEN],
                       const char *reason, uint16_t *tid, uint8_t rid[SCHEMA_ID_LEN],
                       sn_err *err)
{
    const schema_table *rt = schema_table_by_name("retraction");
    const schema_column *target = NULL, *why = NULL, *pcol = NULL;
    for (size_t i = 0; rt != NULL && i < rt->ncols; i++) {
        const schema_column *c = &rt->cols[i];
        if (c->type == SCHEMA_T_REF && c->ref_table == SCHEMA_REF_ANY)
            target = c;
        else if (strcmp(c->name, "reason") == 0)
            why = c;
    }
    if (rt != NULL && rt->patient_col != 0)
        pcol = schema_column_by_id(rt, rt->patient_col);
    if (SN_NEVER(target == NULL || why == NULL))
        return sn_err_set(err, SN_EINVAL, "this build's schema has no usable retraction table");
    int rc = node_store_row_table(st, id, tid, err);
    if (rc == SN_ENOTFOUND && err != NULL && err->hint[0] == '\0')
        sn_err_hint(err, "check the id with 'outpost list TABLE'; a row that another site "
                         "recorded is here only once its log has been imported");
    uint8_t patient[SCHEMA_ID_LEN];
    bool has_patient = false;
    if (rc == 0)
        rc = retract_patient(st, *tid, id, pcol, patient, &has_patient, err);
    if (rc != 0)
        return rc;
    schema_field fields[3] = {
        {.col = target->id, .value = schema_value_id(id)},
        {.col = why->id},
    };
    size_t n = 2;
    if ((rc = value_parse(rt, why, reason, &fields[1].value, err)) != 0)
        return rc;
    if (has_patient)
        fields[n++] = (schema_field){.col = pcol->id, .value = schema_value_id(patient)};
    return insert_row(ctx, st, rt, fields, n, rid, err);
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
    int rc = cli_id_parse(p.pos[0], id, &err);
    if (rc == 0)
        rc = cli_store_open(ctx, &st, &err);
    if (rc == 0)
        rc = retract_row(ctx, st, id, reason, &tid, rid, &err);
    if (rc == 0 && ctx->json) {
        char hex[2 * SCHEMA_ID_LEN + 1], target[2 * SCHEMA_ID_LEN + 1];
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
        rc = print_new_id(ctx, rid, &err);
    }
    node_store_close(st);
    return cli_finish(rc, &err);
}
