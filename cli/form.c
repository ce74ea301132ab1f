/* cli/form.c - `--COLUMN VALUE` options for a new row, shared by `outpost add` and the
 * clinical recording commands. */
#include "cli/form.h"

#include <stdio.h>
#include <string.h>

static bool in_list(const char *const *list, const char *name)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

/* The option name a column is given under: its alias, else its own name. */
static const char *opt_name_of(const cli_form *f, const schema_column *c)
{
    for (size_t i = 0; i < f->naliases; i++)
        if (strcmp(f->aliases[i].col, c->name) == 0)
            return f->aliases[i].opt;
    return c->name;
}

/* Append "--birth-date" for the name "birth_date". */
static int dashed(sn_buf *b, const char *name, sn_err *err)
{
    int rc = sn_buf_append_str(b, "--", err);
    for (const char *p = name; rc == 0 && *p != '\0'; p++)
        rc = sn_buf_append(b, *p == '_' ? "-" : p, 1, err);
    return rc;
}

/* The column a typed option name sets, or NULL. */
static const schema_column *column_of(const cli_form *f, const char *name, size_t n)
{
    for (size_t i = 0; i < f->naliases; i++)
        if (cli_name_equal(name, n, f->aliases[i].opt))
            return schema_column_by_name(f->table, f->aliases[i].col);
    for (size_t i = 0; i < f->table->ncols; i++)
        if (cli_name_equal(name, n, f->table->cols[i].name))
            return &f->table->cols[i];
    return NULL;
}

static const char *extra_of(const cli_form *f, const char *name, size_t n)
{
    for (size_t i = 0; f->extras != NULL && f->extras[i] != NULL; i++)
        if (cli_name_equal(name, n, f->extras[i]))
            return f->extras[i];
    return NULL;
}

schema_field *cli_form_find(cli_form *f, const char *col)
{
    const schema_column *c = schema_column_by_name(f->table, col);
    for (size_t i = 0; c != NULL && i < f->n; i++)
        if (f->fields[i].col == c->id)
            return &f->fields[i];
    return NULL;
}

void cli_form_put(cli_form *f, const char *col, schema_value v)
{
    schema_field *fld = cli_form_find(f, col);
    const schema_column *c = schema_column_by_name(f->table, col);
    if (SN_NEVER(c == NULL))
        return;
    if (fld == NULL) {
        if (SN_NEVER(f->n >= SCHEMA_FIELDS_MAX))
            return;
        fld = &f->fields[f->n++];
    }
    *fld = (schema_field){.col = c->id, .value = v};
}

/* One `--name[=value]` at argv[*i]. */
static int parse_option(cli_form *f, int argc, char **argv, int *i)
{
    const char *name, *value;
    size_t len;
    cli_arg_split(argv[*i], &name, &len, &value);
    const schema_column *c = column_of(f, name, len);
    const char *extra = c == NULL ? extra_of(f, name, len) : NULL;
    if (c == NULL && extra == NULL) {
        /* A plain table form: the hint lists the columns. */
        if (f->naliases == 0 && f->extras == NULL && f->taken == NULL)
            return cli_column_lookup(f->path, f->table, name, len, &c);
        return cli_usage_error(f->path, "unknown option '--%.*s' for 'outpost %s'", (int)len,
                               name, f->path);
    }
    if (c != NULL && in_list(f->taken, c->name))
        return cli_usage_error(f->path, "option --%.*s cannot be given: 'outpost %s' fills it "
                                        "from its arguments", (int)len, name, f->path);
    if (c != NULL && cli_form_find(f, c->name) != NULL)
        return cli_usage_error(f->path, "option --%.*s given twice", (int)len, name);
    if (value == NULL) {
        /* A following "--x" is the next option, not a value. */
        if (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0)
            return cli_usage_error(f->path, "option --%.*s needs a value", (int)len, name);
        value = argv[++*i];
    }
    sn_err err = SN_ERR_INIT;
    if (extra != NULL)
        return f->extra(f->extra_ctx, extra, value, &err) != 0 ? cli_fail(&err) : 0;
    schema_value v;
    if (cli_value_parse_nhs(f->table, c, value, &v, f->nhs, &err) != 0)
        return cli_fail(&err);
    cli_form_put(f, c->name, v);
    return 0;
}

int cli_form_parse(cli_ctx *ctx, cli_form *f, int argc, char **argv)
{
    f->n = 0;
    f->help = false;
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (cli_arg_is_help(argv[i])) {
            f->help = true;
            return 0;
        }
    size_t npos = 0;
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
        } else if (!options_done && strcmp(arg, "--json") == 0) {
            ctx->json = true;
        } else if (!options_done && strncmp(arg, "--", 2) == 0) {
            int ex = parse_option(f, argc, argv, &i);
            if (ex != 0)
                return ex;
        } else if (npos < f->npos && npos < CLI_POS_MAX) {
            f->pos[npos++] = arg;
        } else {
            return cli_usage_error(f->path, "unexpected argument '%s': %s", arg,
                                   f->npos == 0 ? "columns are given as --COLUMN VALUE"
                                                : "see the usage");
        }
    }
    if (npos < f->npos)
        return cli_usage_error(f->path, "missing argument: usage is 'outpost %s %s'", f->path,
                               f->synopsis);
    return 0;
}

int cli_form_check(const cli_form *f, sn_err *err)
{
    for (size_t k = 0; k < f->table->ncols; k++) {
        const schema_column *c = &f->table->cols[k];
        bool given = false;
        for (size_t i = 0; i < f->n; i++)
            given |= f->fields[i].col == c->id && f->fields[i].value.kind != SCHEMA_V_NIL;
        if (!c->required || given || in_list(f->taken, c->name))
            continue;
        sn_buf opt;
        sn_buf_init(&opt, 128);
        int rc = dashed(&opt, opt_name_of(f, c), err);
        if (rc == 0) {
            sn_err_set(err, SN_EINVAL, "'outpost %s' needs %.*s (a required column)", f->path,
                       (int)opt.len, (const char *)opt.data);
            sn_err_hint(err, "'outpost %s --help' lists its options", f->path);
            rc = SN_EINVAL;
        }
        sn_buf_free(&opt);
        return rc;
    }
    return 0;
}

static int column_help(sn_buf *b, const cli_form *f, const schema_column *c, sn_err *err)
{
    size_t start = b->len;
    int rc = sn_buf_append_str(b, "  ", err);
    if (rc == 0)
        rc = dashed(b, opt_name_of(f, c), err);
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

int cli_form_columns_help(sn_buf *b, const cli_form *f, sn_err *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < f->table->ncols; i++)
        if (!in_list(f->taken, f->table->cols[i].name))
            rc = column_help(b, f, &f->table->cols[i], err);
    return rc;
}

/* Append "usage: outpost PATH SYNOPSIS", wrapped before a '[' group past 78 columns. */
static int usage_line(sn_buf *b, const cli_form *f, sn_err *err)
{
    int rc = sn_buf_appendf(b, err, "usage: outpost %s", f->path);
    size_t col = strlen("usage: outpost ") + strlen(f->path);
    const char *p = f->synopsis;
    while (rc == 0 && *p != '\0') {
        /* The next piece: up to the next space that starts a '[' group. */
        const char *end = p + 1;
        while (*end != '\0' && !(end[0] == ' ' && end[1] == '['))
            end++;
        size_t n = (size_t)(end - p) - (*p == ' ' ? 1 : 0);
        const char *start = *p == ' ' ? p + 1 : p;
        if (col + 1 + n > 78 && col > 20) {
            rc = sn_buf_append_str(b, "\n       ", err);
            col = 7;
        }
        if (rc == 0)
            rc = sn_buf_appendf(b, err, " %.*s", (int)n, start);
        col += 1 + n;
        p = end;
    }
    return rc;
}

int cli_form_help(cli_ctx *ctx, const cli_form *f, const char *text)
{
    sn_err err = SN_ERR_INIT;
    int rc = usage_line(&ctx->out, f, &err);
    if (rc == 0)
        rc = sn_buf_appendf(&ctx->out, &err, "\n\n%s\nOptions:\n", text);
    if (rc == 0)
        rc = cli_form_columns_help(&ctx->out, f, &err);
    if (rc == 0 && f->extras_help != NULL)
        rc = sn_buf_append_str(&ctx->out, f->extras_help, &err);
    if (rc == 0)
        rc = sn_buf_append_str(&ctx->out, "  --json                  print {\"id\":...}\n", &err);
    return cli_finish(rc, &err);
}
