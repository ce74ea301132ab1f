/* cli/cmd_conflicts.c - `outpost conflicts list|show|resolve`: reviewed fields that sites
 * changed concurrently, and their resolution (a write that supersedes every value shown). */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "cli/args.h"
#include "cli/output.h"

static const cli_spec list_spec = {
    .path = "conflicts list",
    .synopsis = "",
    .help = "List the open conflicts: table, row id, column and number of values kept,\n"
            "ordered by table, row and column.\n"
            "\n"
            "Options:\n"
            "  --json   an array of {\"table\",\"id\",\"column\",\"siblings\"}\n",
};

static const cli_spec show_spec = {
    .path = "conflicts show",
    .synopsis = "TABLE ID COLUMN",
    .help = "Show each value of a field kept by a conflict, with the site (origin replica\n"
            "prefix/epoch) and commit number that wrote it, and the value displayed now.\n"
            "\n"
            "Options:\n"
            "  --json   the same as one JSON object\n",
    .min_pos = 3,
    .max_pos = 3,
};

static const cli_spec resolve_spec = {
    .path = "conflicts resolve",
    .synopsis = "TABLE ID COLUMN VALUE",
    .help = "Resolve a conflict by writing VALUE (one of the values shown, or a new one):\n"
            "the write supersedes every value this store holds, so once other sites\n"
            "receive it the conflict closes there too. A value written elsewhere that\n"
            "this store has not seen yet stays open.\n"
            "\n"
            "Options:\n"
            "  --json   print {\"table\":...,\"id\":...,\"column\":...,\"seq\":N}\n",
    .min_pos = 4,
    .max_pos = 4,
};

typedef struct conflict_ref {
    uint16_t table;
    uint16_t col;
    uint8_t row[SCHEMA_ID_LEN];
} conflict_ref;

typedef struct conflict_set {
    conflict_ref *v;
    size_t n, cap;
} conflict_set;

static int collect(void *ctx, uint16_t table, const uint8_t row[SCHEMA_ID_LEN], uint16_t col,
                   sn_err *err)
{
    conflict_set *cs = ctx;
    if (cs->n == cs->cap) {
        size_t cap = cs->cap == 0 ? 16 : 2 * cs->cap;
        conflict_ref *p = sn_mallocarray(cap, sizeof *p);
        if (p == NULL)
            return sn_err_set(err, SN_ENOMEM, "out of memory listing %zu conflicts", cs->n);
        if (cs->n > 0)
            memcpy(p, cs->v, cs->n * sizeof *p);
        sn_free(cs->v);
        cs->v = p;
        cs->cap = cap;
    }
    conflict_ref *r = &cs->v[cs->n++];
    r->table = table;
    r->col = col;
    memcpy(r->row, row, SCHEMA_ID_LEN);
    return 0;
}

/* Names of a conflict's table and column; "#<id>" for those of a newer schema. */
static void ref_names(const conflict_ref *r, char tname[static 64], char cname[static 64])
{
    const schema_table *t = schema_table_by_id(r->table);
    const schema_column *c = t != NULL ? schema_column_by_id(t, r->col) : NULL;
    if (t != NULL)
        snprintf(tname, 64, "%s", t->name);
    else
        snprintf(tname, 64, "#%u", (unsigned)r->table);
    if (c != NULL)
        snprintf(cname, 64, "%s", c->name);
    else
        snprintf(cname, 64, "#%u", (unsigned)r->col);
}

/* Render the collected conflicts, fetching each one's sibling count. */
static int list_render(cli_ctx *ctx, node_store *st, const conflict_set *cs, sn_err *err)
{
    static const char *const header[] = {"TABLE", "ID", "COLUMN", "SIBLINGS"};
    cli_grid g = {0};
    sn_buf *b = &ctx->out;
    int rc = ctx->json ? sn_buf_append_str(b, "[", err) : cli_grid_init(&g, 4, header, err);
    for (size_t i = 0; rc == 0 && i < cs->n; i++) {
        const conflict_ref *r = &cs->v[i];
        node_cell *cell = NULL;
        if ((rc = node_store_cell_get(st, r->table, r->row, r->col, &cell, err)) != 0)
            break;
        char tname[64], cname[64], hex[2 * SCHEMA_ID_LEN + 1], count[24];
        ref_names(r, tname, cname);
        schema_id_format(hex, r->row);
        snprintf(count, sizeof count, "%zu", cell->nsibs);
        if (ctx->json) {
            rc = sn_buf_appendf(b, err,
                                "%s{\"table\":\"%s\",\"id\":\"%s\",\"column\":\"%s\","
                                "\"siblings\":%zu}",
                                i > 0 ? "," : "", tname, hex, cname, cell->nsibs);
        } else {
            const char *row[] = {tname, hex, cname, count};
            rc = cli_grid_add(&g, row, err);
        }
        node_cell_free(cell);
    }
    if (rc == 0 && ctx->json)
        rc = sn_buf_append_str(b, "]\n", err);
    else if (rc == 0 && cs->n == 0)
        rc = sn_buf_append_str(b, "no open conflicts\n", err);
    else if (rc == 0)
        rc = cli_grid_render(&g, b, err);
    cli_grid_free(&g);
    return rc;
}

static int cmd_list(cli_ctx *ctx, int argc, char **argv)
{
    cli_parsed p;
    int ex = cli_args_parse(ctx, &list_spec, NULL, 0, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &list_spec);
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    conflict_set cs = {0};
    int rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0)
        rc = node_store_conflicts_each(st, collect, &cs, &err);
    if (rc == 0)
        rc = list_render(ctx, st, &cs, &err);
    sn_free(cs.v);
    node_store_close(st);
    return cli_finish(rc, &err);
}

/* Resolve TABLE ID COLUMN from the positional arguments; an exit status on failure. */
static int cell_args(const char *path, const cli_parsed *p, const schema_table **t,
                     const schema_column **c, uint8_t id[SCHEMA_ID_LEN])
{
    int ex = cli_table_lookup(path, p->pos[0], t);
    if (ex == 0)
        ex = cli_column_lookup(path, *t, p->pos[2], strlen(p->pos[2]), c);
    if (ex != 0)
        return ex;
    sn_err err = SN_ERR_INIT;
    return cli_id_parse(p->pos[1], id, &err) != 0 ? cli_fail(&err) : 0;
}

static int show_render(cli_ctx *ctx, const schema_table *t, const schema_column *c,
                       const uint8_t id[SCHEMA_ID_LEN], const node_cell *cell, sn_err *err)
{
    sn_buf *b = &ctx->out;
    char hex[2 * SCHEMA_ID_LEN + 1];
    schema_id_format(hex, id);
    if (ctx->json) {
        int rc = sn_buf_appendf(b, err,
                                "{\"table\":\"%s\",\"id\":\"%s\",\"column\":\"%s\","
                                "\"conflict\":%s,\"value\":",
                                t->name, hex, c->name, cell->conflict ? "true" : "false");
        if (rc == 0)
            rc = cli_json_value(b, &cell->winner, err);
        if (rc == 0)
            rc = sn_buf_append_str(b, ",\"siblings\":", err);
        if (rc == 0)
            rc = cli_siblings_json(b, cell, err);
        return rc != 0 ? rc : sn_buf_append_str(b, "}\n", err);
    }
    int rc = sn_buf_appendf(b, err, "%s %s %s: %s, %zu value%s kept\n  shown now:%s", t->name,
                            hex, c->name, cell->conflict ? "CONFLICT" : "no open conflict",
                            cell->nsibs, cell->nsibs == 1 ? "" : "s",
                            cell->winner.kind == SCHEMA_V_NIL ? "" : " ");
    if (rc == 0)
        rc = cli_text_value(b, &cell->winner, err);
    if (rc == 0)
        rc = sn_buf_append_str(b, "\n", err);
    if (rc == 0)
        rc = cli_siblings_text(b, cell, "  ", err);
    if (rc == 0 && cell->conflict)
        rc = sn_buf_appendf(b, err, "resolve with: outpost conflicts resolve %s %s %s VALUE\n",
                            t->name, hex, c->name);
    return rc;
}

static int cmd_show(cli_ctx *ctx, int argc, char **argv)
{
    cli_parsed p;
    int ex = cli_args_parse(ctx, &show_spec, NULL, 0, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &show_spec);
    const schema_table *t;
    const schema_column *c;
    uint8_t id[SCHEMA_ID_LEN];
    if ((ex = cell_args(show_spec.path, &p, &t, &c, id)) != 0)
        return ex;
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    node_cell *cell = NULL;
    node_row *row = NULL;
    int rc = cli_store_open_user(ctx, &st, &err);
    /* A cell of a row never seen reads as empty; say the row is unknown instead. */
    if (rc == 0 && (rc = node_store_row_get(st, t->id, id, &row, &err)) == SN_ENOTFOUND)
        cli_hint_other_table(st, t, p.pos[1], id, &err);
    node_row_free(row);
    if (rc == 0)
        rc = node_store_cell_get(st, t->id, id, c->id, &cell, &err);
    if (rc == 0)
        rc = show_render(ctx, t, c, id, cell, &err);
    node_cell_free(cell);
    node_store_close(st);
    return cli_finish(rc, &err);
}

static int cmd_resolve(cli_ctx *ctx, int argc, char **argv)
{
    cli_parsed p;
    int ex = cli_args_parse(ctx, &resolve_spec, NULL, 0, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &resolve_spec);
    const schema_table *t;
    const schema_column *c;
    uint8_t id[SCHEMA_ID_LEN];
    if ((ex = cell_args(resolve_spec.path, &p, &t, &c, id)) != 0)
        return ex;
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    node_cell *cell = NULL;
    node_commit_info info;
    char hex[2 * SCHEMA_ID_LEN + 1];
    schema_id_format(hex, id);
    int rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0 && (rc = node_store_cell_get(st, t->id, id, c->id, &cell, &err)) == SN_ENOTFOUND)
        cli_hint_other_table(st, t, p.pos[1], id, &err);
    if (rc == 0 && !cell->conflict) {
        /* Refusing keeps a stale instruction ("resolve to X") from overwriting a value
         * someone already settled; a deliberate change is `outpost set`. */
        rc = sn_err_set(&err, SN_EINVAL, "no open conflict on %s %s %s", t->name, hex, c->name);
        sn_err_hint(&err, "it may have been resolved already; to change the value anyway use "
                          "'outpost set %s %s %s VALUE'",
                    t->name, hex, c->name);
    }
    if (rc == 0)
        rc = cli_records_set(ctx, st, t, id, c, p.pos[3], &info, &err);
    if (rc == 0)
        rc = sn_buf_appendf(&ctx->out, &err,
                            ctx->json ? "{\"table\":\"%s\",\"id\":\"%s\",\"column\":\"%s\","
                                        "\"seq\":%" PRIu64 "}\n"
                                      : "resolved %s %s %s (commit %" PRIu64 ")\n",
                            t->name, hex, c->name, info.seq);
    node_cell_free(cell);
    node_store_close(st);
    return cli_finish(rc, &err);
}

static const cli_sub conflict_subs[] = {
    {"list", cmd_list, "list the open conflicts"},
    {"show", cmd_show, "show the values a conflict keeps"},
    {"resolve", cmd_resolve, "write the value that settles a conflict"},
};

int cli_cmd_conflicts(cli_ctx *ctx, int argc, char **argv)
{
    return cli_group_dispatch(ctx, "conflicts",
                              "When two sites change the same reviewed field (a patient's\n"
                              "name, an allergy's status, ...) before they exchange records,\n"
                              "both values are kept and the field is in conflict until a\n"
                              "clinician chooses.\n",
                              conflict_subs, sizeof conflict_subs / sizeof conflict_subs[0],
                              argc, argv);
}
