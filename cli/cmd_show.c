/* cli/cmd_show.c - the reading commands `outpost show` (one row, its conflicts and who
 * recorded it) and `outpost list` (rows of a table in id order), plus the sibling
 * rendering that `outpost conflicts show` shares. Output is stable: rows in id order,
 * columns in schema order, siblings by (origin, seq), only recorded times. */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "cli/args.h"
#include "cli/output.h"

static const cli_spec show_spec = {
    .path = "show",
    .synopsis = "TABLE ID",
    .help = "Show every column of one row with its value. A reviewed field that sites\n"
            "changed concurrently is marked CONFLICT, with each value kept, the site\n"
            "(origin replica prefix/epoch) and commit number that wrote it. Then who\n"
            "recorded the row (author, entered-by), its origin, its clock time, and\n"
            "whether it was retracted. A row whose changes arrived before its insert\n"
            "says \"(insert not yet received)\".\n"
            "\n"
            "Options:\n"
            "  --json   the same as one JSON object\n",
    .min_pos = 2,
    .max_pos = 2,
};

static const cli_spec list_spec = {
    .path = "list",
    .synopsis = "TABLE [--COLUMN VALUE]",
    .help = "List the rows of TABLE in id order, one per line with its main columns and\n"
            "flags (CONFLICT, RETRACTED, PENDING: insert not yet received). With\n"
            "--COLUMN VALUE, only rows whose COLUMN shows VALUE, e.g.\n"
            "  outpost list encounter --patient-id 0190...\n"
            "\n"
            "Options:\n"
            "  --json   an array of objects with every column\n",
};

#define MAX_KEY_COLS 5

int cli_siblings_text(sn_buf *b, const node_cell *cell, const char *indent, sn_err *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < cell->nsibs; i++) {
        const node_sibling *s = &cell->sibs[i];
        char origin[CLI_ORIGIN_MAX];
        cli_origin_format(origin, &s->dot.origin, true);
        rc = sn_buf_appendf(b, err, "%s- ", indent);
        if (rc == 0)
            rc = s->value.kind == SCHEMA_V_NIL ? sn_buf_append_str(b, "(empty)", err)
                                               : cli_text_value(b, &s->value, err);
        if (rc == 0)
            rc = sn_buf_appendf(b, err, "  (origin %s seq %" PRIu64 ")\n", origin, s->dot.seq);
    }
    return rc;
}

int cli_siblings_json(sn_buf *b, const node_cell *cell, sn_err *err)
{
    int rc = sn_buf_append_str(b, "[", err);
    for (size_t i = 0; rc == 0 && i < cell->nsibs; i++) {
        const node_sibling *s = &cell->sibs[i];
        char origin[CLI_ORIGIN_MAX], hlc[CLI_HLC_MAX];
        cli_origin_format(origin, &s->dot.origin, false);
        cli_hlc_format(hlc, s->hlc);
        rc = sn_buf_append_str(b, i > 0 ? ",{\"value\":" : "{\"value\":", err);
        if (rc == 0)
            rc = cli_json_value(b, &s->value, err);
        if (rc == 0)
            rc = sn_buf_appendf(b, err, ",\"origin\":\"%s\",\"seq\":%" PRIu64 ",\"hlc\":\"%s\"}",
                                origin, s->dot.seq, hlc);
    }
    return rc != 0 ? rc : sn_buf_append_str(b, "]", err);
}

/* Text of one column; `width` aligns values. Conflicts list their siblings below. */
static int show_column_text(sn_buf *b, const schema_column *c, const schema_value *v,
                            const node_cell *cell, int width, sn_err *err)
{
    /* An empty value gets no padding, so no line ends in blanks. */
    bool empty = v->kind == SCHEMA_V_NIL && cell == NULL;
    int rc = sn_buf_appendf(b, err, "  %-*s", empty ? 0 : width, c->name);
    if (rc == 0)
        rc = cli_text_value(b, v, err);
    if (rc == 0 && cell != NULL)
        rc = sn_buf_append_str(b, v->kind == SCHEMA_V_NIL ? "CONFLICT" : "  CONFLICT", err);
    if (rc == 0)
        rc = sn_buf_append_str(b, "\n", err);
    if (rc == 0 && cell != NULL) {
        char indent[64];
        snprintf(indent, sizeof indent, "  %*s", width, "");
        rc = cli_siblings_text(b, cell, indent, err);
    }
    return rc;
}

static int show_meta_text(sn_buf *b, const node_row *r, int width, sn_err *err)
{
    if (!r->inserted)
        return sn_buf_appendf(b, err, "\n  %-*s(insert not yet received)\n", width, "inserted");
    char origin[CLI_ORIGIN_MAX], hlc[CLI_HLC_MAX];
    cli_origin_format(origin, &r->dot.origin, false);
    cli_hlc_format(hlc, r->hlc);
    int rc = sn_buf_appendf(b, err, "\n  %-*syes\n  %-*s", width, "inserted", width, "author");
    if (rc == 0)
        rc = cli_text_bytes(b, r->author != NULL ? r->author : "", r->author != NULL
                                                                       ? strlen(r->author)
                                                                       : 0,
                            err);
    if (rc == 0)
        rc = sn_buf_appendf(b, err, "\n  %-*s", width, "entered-by");
    if (rc == 0)
        rc = r->entered_by != NULL ? cli_text_bytes(b, r->entered_by, strlen(r->entered_by), err)
                                   : sn_buf_append_str(b, "(the author)", err);
    if (rc == 0)
        rc = sn_buf_appendf(b, err, "\n  %-*s%s seq %" PRIu64 "\n  %-*s%s\n", width, "origin",
                            origin, r->dot.seq, width, "hlc", hlc);
    return rc;
}

static int show_meta_json(sn_buf *b, const node_row *r, sn_err *err)
{
    int rc = sn_buf_appendf(b, err, ",\"inserted\":%s,\"retracted\":%s,\"author\":",
                            r->inserted ? "true" : "false", r->retracted ? "true" : "false");
    if (rc == 0)
        rc = cli_json_cstr(b, r->inserted ? r->author : NULL, err);
    if (rc == 0)
        rc = sn_buf_append_str(b, ",\"entered_by\":", err);
    if (rc == 0)
        rc = cli_json_cstr(b, r->inserted ? r->entered_by : NULL, err);
    if (rc != 0 || !r->inserted)
        return rc != 0 ? rc : sn_buf_append_str(b, ",\"origin\":null,\"seq\":null,\"hlc\":null",
                                                err);
    char origin[CLI_ORIGIN_MAX], hlc[CLI_HLC_MAX];
    cli_origin_format(origin, &r->dot.origin, false);
    cli_hlc_format(hlc, r->hlc);
    return sn_buf_appendf(b, err, ",\"origin\":\"%s\",\"seq\":%" PRIu64 ",\"hlc\":\"%s\"", origin,
                          r->dot.seq, hlc);
}

int cli_row_json(node_store *st, const node_row *r, sn_buf *b, sn_err *err)
{
    const schema_table *t = r->table;
    char hex[CLI_ID_HEX];
    schema_id_format(hex, r->id);
    int rc = sn_buf_appendf(b, err, "\"table\":\"%s\",\"id\":\"%s\"", t->name, hex);
    if (rc == 0)
        rc = show_meta_json(b, r, err);
    if (rc == 0)
        rc = sn_buf_append_str(b, ",\"columns\":{", err);
    for (size_t i = 0; rc == 0 && i < t->ncols; i++) {
        const schema_column *c = &t->cols[i];
        node_cell *cell = NULL;
        if (r->conflict[i])
            rc = node_store_cell_get(st, t->id, r->id, c->id, &cell, err);
        if (rc == 0)
            rc = sn_buf_appendf(b, err, "%s\"%s\":{\"value\":", i > 0 ? "," : "", c->name);
        if (rc == 0)
            rc = cli_json_value(b, &r->values[i], err);
        if (rc == 0)
            rc = sn_buf_append_str(b, cell != NULL ? ",\"conflict\":true,\"siblings\":"
                                                   : ",\"conflict\":false",
                                   err);
        if (rc == 0 && cell != NULL)
            rc = cli_siblings_json(b, cell, err);
        if (rc == 0)
            rc = sn_buf_append_str(b, "}", err);
        node_cell_free(cell);
    }
    return rc != 0 ? rc : sn_buf_append_str(b, "}", err);
}

/* Render row r as text into b, fetching the sibling sets of conflicted columns. */
static int show_row_text(node_store *st, const node_row *r, sn_buf *b, sn_err *err)
{
    const schema_table *t = r->table;
    char hex[CLI_ID_HEX];
    schema_id_format(hex, r->id);
    int width = (int)strlen("entered-by") + 2;
    for (size_t i = 0; i < t->ncols; i++)
        if ((int)strlen(t->cols[i].name) + 2 > width)
            width = (int)strlen(t->cols[i].name) + 2;
    int rc = sn_buf_appendf(b, err, "%s %s%s\n", t->name, hex, r->retracted ? "  RETRACTED" : "");
    for (size_t i = 0; rc == 0 && i < t->ncols; i++) {
        const schema_column *c = &t->cols[i];
        node_cell *cell = NULL;
        if (r->conflict[i])
            rc = node_store_cell_get(st, t->id, r->id, c->id, &cell, err);
        if (rc == 0)
            rc = show_column_text(b, c, &r->values[i], cell, width, err);
        node_cell_free(cell);
    }
    return rc != 0 ? rc : show_meta_text(b, r, width, err);
}

/* A viewed row that belongs to a patient is a read of that patient's record. */
static int show_audit(cli_ctx *ctx, node_store *st, const node_row *r, sn_err *err)
{
    uint8_t patient[SCHEMA_ID_LEN];
    bool found = false;
    int rc = cli_row_patient(st, r->table->id, r->id, patient, &found, err);
    if (rc != 0 || !found)
        return rc;
    char detail[96], hex[CLI_ID_HEX];
    schema_id_format(hex, r->id);
    snprintf(detail, sizeof detail, "show %s %s", r->table->name, hex);
    return cli_audit(ctx, st, NODE_AUDIT_READ, patient, detail, err);
}

const schema_value *cli_row_value(const node_row *r, const char *name)
{
    static const schema_value nil = {.kind = SCHEMA_V_NIL};
    const schema_column *c = schema_column_by_name(r->table, name);
    return c != NULL ? &r->values[schema_column_index(r->table, c->id)] : &nil;
}

void cli_hint_other_table(node_store *st, const schema_table *t, const char *id_text,
                          const uint8_t id[SCHEMA_ID_LEN], sn_err *err)
{
    uint16_t other;
    if (node_store_row_table(st, id, &other, NULL) != 0 || other == t->id)
        return;
    const schema_table *o = schema_table_by_id(other);
    if (o != NULL)
        sn_err_hint(err, "%s is a row of table '%s': try 'outpost show %s %s'", id_text, o->name,
                    o->name, id_text);
}

int cli_cmd_show(cli_ctx *ctx, int argc, char **argv)
{
    cli_parsed p;
    int ex = cli_args_parse(ctx, &show_spec, NULL, 0, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &show_spec);
    const schema_table *t;
    if ((ex = cli_table_lookup("show", p.pos[0], &t)) != 0)
        return ex;
    sn_err err = SN_ERR_INIT;
    uint8_t id[SCHEMA_ID_LEN];
    node_store *st = NULL;
    node_row *row = NULL;
    int rc = cli_id_parse(p.pos[1], id, &err);
    if (rc == 0)
        rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0) {
        rc = node_store_row_get(st, t->id, id, &row, &err);
        if (rc == SN_ENOTFOUND)
            cli_hint_other_table(st, t, p.pos[1], id, &err);
    }
    if (rc == 0 && ctx->json) {
        rc = sn_buf_append_str(&ctx->out, "{", &err);
        if (rc == 0)
            rc = cli_row_json(st, row, &ctx->out, &err);
        if (rc == 0)
            rc = sn_buf_append_str(&ctx->out, "}\n", &err);
    } else if (rc == 0) {
        rc = show_row_text(st, row, &ctx->out, &err);
    }
    if (rc == 0)
        rc = show_audit(ctx, st, row, &err);
    node_row_free(row);
    node_store_close(st);
    return cli_finish(rc, &err);
}

/* --- list -------------------------------------------------------------------------- */

typedef struct list_state {
    const cli_ctx *ctx;
    sn_buf *out;
    cli_grid grid;
    int key[MAX_KEY_COLS]; /* column indexes shown in text mode */
    size_t nkey;
    size_t nrows;
} list_state;

/* The columns a text listing shows: required ones, then reviewed ones, then the rest,
 * in schema order, at most MAX_KEY_COLS. */
static void pick_key_columns(const schema_table *t, list_state *ls)
{
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < t->ncols && ls->nkey < MAX_KEY_COLS; i++) {
            const schema_column *c = &t->cols[i];
            bool review = c->kind == SCHEMA_MV && c->policy == SCHEMA_POLICY_REVIEW;
            bool take = pass == 0 ? c->required : pass == 1 ? !c->required && review
                                                            : !c->required && !review;
            if (take)
                ls->key[ls->nkey++] = (int)i;
        }
}

static int list_row_json(list_state *ls, const node_row *r, sn_err *err)
{
    char hex[2 * SCHEMA_ID_LEN + 1];
    schema_id_format(hex, r->id);
    bool conflict = false;
    for (size_t i = 0; i < r->table->ncols; i++)
        conflict = conflict || r->conflict[i];
    int rc = sn_buf_appendf(ls->out, err,
                            "%s{\"id\":\"%s\",\"inserted\":%s,\"retracted\":%s,\"conflict\":%s,"
                            "\"columns\":{",
                            ls->nrows > 0 ? "," : "", hex, r->inserted ? "true" : "false",
                            r->retracted ? "true" : "false", conflict ? "true" : "false");
    for (size_t i = 0; rc == 0 && i < r->table->ncols; i++) {
        rc = sn_buf_appendf(ls->out, err, "%s\"%s\":", i > 0 ? "," : "", r->table->cols[i].name);
        if (rc == 0)
            rc = cli_json_value(ls->out, &r->values[i], err);
    }
    return rc != 0 ? rc : sn_buf_append_str(ls->out, "}}", err);
}

static int list_row_text(list_state *ls, const node_row *r, sn_err *err)
{
    char *cells[MAX_KEY_COLS + 2] = {NULL};
    char hex[2 * SCHEMA_ID_LEN + 1], flags[40];
    schema_id_format(hex, r->id);
    bool conflict = false;
    for (size_t i = 0; i < r->table->ncols; i++)
        conflict = conflict || r->conflict[i];
    snprintf(flags, sizeof flags, "%s%s%s", conflict ? "CONFLICT " : "",
             r->retracted ? "RETRACTED " : "", r->inserted ? "" : "PENDING ");
    if (flags[0] != '\0')
        flags[strlen(flags) - 1] = '\0';
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < ls->nkey; k++)
        rc = cli_value_strdup(&r->values[ls->key[k]], &cells[k + 1], err);
    if (rc == 0) {
        const char *row[MAX_KEY_COLS + 2];
        row[0] = hex;
        for (size_t k = 0; k < ls->nkey; k++)
            row[k + 1] = cells[k + 1];
        row[ls->nkey + 1] = flags;
        rc = cli_grid_add(&ls->grid, row, err);
    }
    for (size_t k = 0; k < ls->nkey; k++)
        sn_free(cells[k + 1]);
    return rc;
}

static int list_each(void *vctx, const node_row *r, sn_err *err)
{
    list_state *ls = vctx;
    int rc = ls->ctx->json ? list_row_json(ls, r, err) : list_row_text(ls, r, err);
    ls->nrows++;
    return rc;
}

/* Parse `TABLE [--COLUMN VALUE]`. Returns 0 or an exit status (help printed, usage or
 * value error). */
static int list_args(cli_ctx *ctx, int argc, char **argv, const schema_table **t,
                     const schema_column **fcol, schema_value *fval, bool *help)
{
    *fcol = NULL;
    *help = false;
    const char *table = NULL;
    for (int i = 0; i < argc; i++) {
        if (cli_arg_is_help(argv[i])) {
            *help = true;
            return cli_help(ctx, &list_spec);
        }
    }
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--json") == 0) {
            ctx->json = true;
        } else if (!cli_arg_is_option(arg)) {
            if (table != NULL)
                return cli_usage_error("list", "unexpected argument '%s'", arg);
            table = arg;
            if (cli_table_lookup("list", table, t) != 0)
                return CLI_EX_USAGE;
        } else if (table == NULL || strncmp(arg, "--", 2) != 0) {
            return cli_usage_error("list", "give TABLE before options ('%s')", arg);
        } else if (*fcol != NULL) {
            return cli_usage_error("list", "only one --COLUMN VALUE filter is supported");
        } else {
            const char *name, *value;
            size_t n;
            cli_arg_split(arg, &name, &n, &value);
            int ex = cli_column_lookup("list", *t, name, n, fcol);
            if (ex != 0)
                return ex;
            if (value == NULL && i + 1 >= argc)
                return cli_usage_error("list", "option --%.*s needs a value", (int)n, name);
            if (value == NULL)
                value = argv[++i];
            sn_err err = SN_ERR_INIT;
            if (schema_value_parse(*t, *fcol, value, fval, &err) != 0)
                return cli_fail(&err);
        }
    }
    if (table == NULL)
        return cli_usage_error("list", "'outpost list' needs a TABLE");
    return 0;
}

int cli_cmd_list(cli_ctx *ctx, int argc, char **argv)
{
    const schema_table *t = NULL;
    const schema_column *fcol;
    schema_value fval = schema_value_nil();
    bool help;
    int ex = list_args(ctx, argc, argv, &t, &fcol, &fval, &help);
    if (ex != 0 || help)
        return ex;
    list_state ls = {.ctx = ctx, .out = &ctx->out};
    pick_key_columns(t, &ls);
    const char *header[MAX_KEY_COLS + 2] = {"ID"};
    char names[MAX_KEY_COLS][64];
    for (size_t k = 0; k < ls.nkey; k++) {
        snprintf(names[k], sizeof names[k], "%s", t->cols[ls.key[k]].name);
        for (char *q = names[k]; *q != '\0'; q++)
            *q = (char)(*q >= 'a' && *q <= 'z' ? *q - 'a' + 'A' : *q);
        header[k + 1] = names[k];
    }
    header[ls.nkey + 1] = "FLAGS";
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    int rc = ctx->json ? sn_buf_append_str(&ctx->out, "[", &err)
                       : cli_grid_init(&ls.grid, ls.nkey + 2, header, &err);
    if (rc == 0)
        rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0)
        rc = node_store_rows_each(st, t->id, fcol != NULL ? fcol->id : 0, &fval, list_each, &ls,
                                  &err);
    if (rc == 0)
        rc = ctx->json ? sn_buf_append_str(&ctx->out, "]\n", &err)
                       : cli_grid_render(&ls.grid, &ctx->out, &err);
    cli_grid_free(&ls.grid);
    node_store_close(st);
    return cli_finish(rc, &err);
}
