/* cli/args.c - option parsing, --help text, usage errors and schema name lookups. */
#include "cli/args.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool cli_arg_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

bool cli_arg_is_option(const char *arg)
{
    if (arg[0] != '-')
        return false;
    if (arg[1] == '-')
        return arg[2] != '\0'; /* "--" alone ends the options; the caller checks it */
    return isalpha((unsigned char)arg[1]) != 0;
}

void cli_arg_split(const char *arg, const char **name, size_t *name_len,
                   const char **inline_value)
{
    const char *n = arg + 2;
    const char *eq = strchr(n, '=');
    *name = n;
    *name_len = eq != NULL ? (size_t)(eq - n) : strlen(n);
    *inline_value = eq != NULL ? eq + 1 : NULL;
}

bool cli_name_equal(const char *typed, size_t n, const char *name)
{
    if (strlen(name) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char a = typed[i] == '-' ? '_' : typed[i];
        char b = name[i] == '-' ? '_' : name[i];
        if (a != b)
            return false;
    }
    return true;
}

int cli_usage_error(const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (path != NULL && path[0] != '\0')
        fprintf(stderr, "hint: run 'outpost %s --help' for its usage\n", path);
    else
        fputs("hint: run 'outpost --help' for the list of commands\n", stderr);
    return CLI_EX_USAGE;
}

int cli_help(cli_ctx *ctx, const cli_spec *spec)
{
    sn_err err = SN_ERR_INIT;
    int rc = sn_buf_appendf(&ctx->out, &err, "usage: outpost %s%s%s\n\n%s", spec->path,
                            spec->synopsis[0] != '\0' ? " " : "", spec->synopsis, spec->help);
    return cli_finish(rc, &err);
}

/* The option of `opts` that `arg` names, or NULL. */
static const cli_opt *opt_find(const cli_opt *opts, size_t nopts, const char *arg,
                               const char **inline_value)
{
    *inline_value = NULL;
    if (arg[1] != '-') {
        for (size_t i = 0; i < nopts; i++) {
            if (opts[i].short_name == arg[1]) {
                /* "-oFILE" carries its value inline, like getopt. */
                if (arg[2] != '\0')
                    *inline_value = arg + 2;
                return &opts[i];
            }
        }
        return NULL;
    }
    const char *name;
    size_t n;
    cli_arg_split(arg, &name, &n, inline_value);
    for (size_t i = 0; i < nopts; i++)
        if (cli_name_equal(name, n, opts[i].name))
            return &opts[i];
    return NULL;
}

int cli_args_parse(cli_ctx *ctx, const cli_spec *spec, const cli_opt *opts, size_t nopts,
                   int argc, char **argv, cli_parsed *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (cli_arg_is_help(argv[i])) {
            out->help = true;
            return 0;
        }
    }
    bool seen[32] = {false};
    if (SN_NEVER(nopts > sizeof seen / sizeof seen[0]))
        return cli_usage_error(spec->path, "internal error: too many options");
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (options_done || !cli_arg_is_option(arg)) {
            if (out->npos == spec->max_pos)
                return cli_usage_error(spec->path, "unexpected argument '%s'", arg);
            out->pos[out->npos++] = arg;
            continue;
        }
        if (strcmp(arg, "--json") == 0) {
            ctx->json = true;
            continue;
        }
        const char *inline_value;
        const cli_opt *o = opt_find(opts, nopts, arg, &inline_value);
        if (o == NULL)
            return cli_usage_error(spec->path, "unknown option '%s' for 'outpost %s'", arg,
                                   spec->path);
        size_t k = (size_t)(o - opts);
        if (seen[k])
            return cli_usage_error(spec->path, "option --%s given twice", o->name);
        seen[k] = true;
        if (o->value == NULL) {
            if (inline_value != NULL)
                return cli_usage_error(spec->path, "option --%s takes no value", o->name);
            *o->flag = true;
            continue;
        }
        if (inline_value == NULL) {
            if (i + 1 >= argc)
                return cli_usage_error(spec->path, "option --%s needs a value", o->name);
            inline_value = argv[++i];
        }
        *o->value = inline_value;
    }
    if (out->npos < spec->min_pos)
        return cli_usage_error(spec->path, "missing argument: usage is 'outpost %s %s'",
                               spec->path, spec->synopsis);
    return 0;
}

int cli_group_dispatch(cli_ctx *ctx, const char *group, const char *group_help,
                       const cli_sub *subs, size_t nsubs, int argc, char **argv)
{
    int i = 0;
    while (i < argc && strcmp(argv[i], "--json") == 0) {
        ctx->json = true;
        i++;
    }
    if (i < argc && cli_arg_is_help(argv[i])) {
        sn_err err = SN_ERR_INIT;
        int rc = sn_buf_appendf(&ctx->out, &err, "usage: outpost %s SUBCOMMAND ...\n\n%s\n"
                                "Subcommands:\n", group, group_help);
        for (size_t k = 0; rc == 0 && k < nsubs; k++)
            rc = sn_buf_appendf(&ctx->out, &err, "  %-10s  %s\n", subs[k].name,
                                subs[k].summary);
        if (rc == 0)
            rc = sn_buf_appendf(&ctx->out, &err,
                                "\nRun 'outpost %s SUBCOMMAND --help' for its usage.\n",
                                group);
        return cli_finish(rc, &err);
    }
    if (i >= argc)
        return cli_usage_error(group, "'outpost %s' needs a subcommand", group);
    for (size_t k = 0; k < nsubs; k++)
        if (strcmp(argv[i], subs[k].name) == 0)
            return subs[k].fn(ctx, argc - i - 1, argv + i + 1);
    return cli_usage_error(group, "unknown subcommand '%s' of 'outpost %s'", argv[i], group);
}

int cli_table_lookup(const char *path, const char *name, const schema_table **out)
{
    *out = NULL;
    for (size_t i = 0; i < schema_table_count(); i++) {
        const schema_table *t = schema_table_at(i);
        if (cli_name_equal(name, strlen(name), t->name)) {
            *out = t;
            return 0;
        }
    }
    fprintf(stderr, "error: unknown table '%s'\nhint: tables are:", name);
    for (size_t i = 0; i < schema_table_count(); i++)
        fprintf(stderr, " %s", schema_table_at(i)->name);
    fprintf(stderr, " (see 'outpost %s --help')\n", path);
    return CLI_EX_USAGE;
}

int cli_column_lookup(const char *path, const schema_table *t, const char *name, size_t n,
                      const schema_column **out)
{
    *out = NULL;
    for (size_t i = 0; i < t->ncols; i++) {
        if (cli_name_equal(name, n, t->cols[i].name)) {
            *out = &t->cols[i];
            return 0;
        }
    }
    fprintf(stderr, "error: table '%s' has no column '%.*s'\nhint: its columns are:", t->name,
            (int)n, name);
    for (size_t i = 0; i < t->ncols; i++)
        fprintf(stderr, " %s", t->cols[i].name);
    fprintf(stderr, " (see 'outpost %s --help')\n", path);
    return CLI_EX_USAGE;
}

int cli_id_parse(const char *text, uint8_t id[SCHEMA_ID_LEN], sn_err *err)
{
    int rc = schema_id_parse(id, text, err);
    if (rc != 0 && err != NULL && err->hint[0] == '\0')
        sn_err_hint(err, "a record id is 32 hex digits, as printed by 'outpost add' or "
                         "'outpost list'");
    return rc;
}
