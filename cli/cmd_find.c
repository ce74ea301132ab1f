/* cli/cmd_find.c - `outpost patient find` (by NHS number, by name and birth date, by
 * another identifier) and `outpost patient duplicates` (registrations that may be one
 * person, for a clinician to review). */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "cli/args.h"
#include "cli/output.h"
#include "node/history.h"
#include "schema/nhs.h"

static const cli_spec find_spec = {
    .path = "patient find",
    .synopsis = "--nhs-number N | --name FAMILY [--given G] [--birth-date D] | "
                "--identifier SYSTEM=VALUE",
    .help = "Find patients by one key: an NHS number (spaces allowed), a family name (any\n"
            "case; narrowed by given name and birth date), or another identifier. Lists\n"
            "id, name, birth date, gender, NHS number and flags: RETRACTED (registered in\n"
            "error), MERGED-INTO <id> (shown under that record), DUPLICATE? (may be the\n"
            "same person as another registration: 'outpost patient duplicates').\n"
            "\n"
            "Options:\n"
            "  --nhs-number N             NHS number, 10 digits\n"
            "  --name FAMILY              family name, compared without regard to case\n"
            "  --given G                  with --name: given name, without regard to case\n"
            "  --birth-date D             with --name: date of birth, YYYY-MM-DD\n"
            "  --identifier SYSTEM=VALUE  another identifier the patient holds\n"
            "  --json                     an array of objects\n",
};

static const cli_spec duplicates_spec = {
    .path = "patient duplicates",
    .synopsis = "",
    .help = "List pairs of registrations that may be the same person, strongest first: the\n"
            "same verified NHS number (score 100), the same NHS number (80), or the same\n"
            "family name, birth date and gender (60). Nothing is merged automatically: check\n"
            "with the patient, then 'outpost patient merge A B'.\n"
            "\n"
            "Options:\n"
            "  --json   an array of {\"a\",\"b\",\"score\",\"reason\"}\n",
};

typedef struct id_set {
    uint8_t (*v)[SCHEMA_ID_LEN];
    size_t n, cap;
} id_set;

static int id_set_add(id_set *s, const uint8_t id[SCHEMA_ID_LEN], sn_err *err)
{
    for (size_t i = 0; i < s->n; i++)
        if (memcmp(s->v[i], id, SCHEMA_ID_LEN) == 0)
            return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap == 0 ? 16 : 2 * s->cap;
        void *p = sn_realloc(s->v, cap * SCHEMA_ID_LEN);
        if (p == NULL)
            return sn_err_set(err, SN_ENOMEM, "out of memory collecting %zu patients", s->n);
        s->v = p;
        s->cap = cap;
    }
    memcpy(s->v[s->n++], id, SCHEMA_ID_LEN);
    return 0;
}

static bool id_set_has(const id_set *s, const uint8_t id[SCHEMA_ID_LEN])
{
    for (size_t i = 0; i < s->n; i++)
        if (memcmp(s->v[i], id, SCHEMA_ID_LEN) == 0)
            return true;
    return false;
}

typedef struct finder {
    const char *family, *given, *birth; /* --name search */
    const char *system;                 /* --identifier search */
    id_set found;
} finder;

/* Text value equal to s, without regard to ASCII case. */
static bool text_is(const schema_value *v, const char *s)
{
    return v->kind == SCHEMA_V_TEXT && v->u.s.n == strlen(s) &&
           strncasecmp((const char *)v->u.s.p, s, v->u.s.n) == 0;
}

static int by_name(void *vctx, const node_row *r, sn_err *err)
{
    finder *f = vctx;
    if (!text_is(cli_row_value(r, "family"), f->family) ||
        (f->given != NULL && !text_is(cli_row_value(r, "given"), f->given)) ||
        (f->birth != NULL && !text_is(cli_row_value(r, "birth_date"), f->birth)))
        return 0;
    return id_set_add(&f->found, r->id, err);
}

static int by_row(void *vctx, const node_row *r, sn_err *err)
{
    finder *f = vctx;
    return id_set_add(&f->found, r->id, err);
}

static int by_identifier(void *vctx, const node_row *r, sn_err *err)
{
    finder *f = vctx;
    const schema_value *p = cli_row_value(r, "patient_id");
    if (r->retracted || !text_is(cli_row_value(r, "system"), f->system) || p->kind != SCHEMA_V_ID)
        return 0;
    return id_set_add(&f->found, p->u.id, err);
}

static int collect_duplicate(void *vctx, const node_duplicate *d, sn_err *err)
{
    id_set *s = vctx;
    int rc = id_set_add(s, d->a, err);
    return rc != 0 ? rc : id_set_add(s, d->b, err);
}

/* Run the search the options ask for into f->found. */
static int search(node_store *st, finder *f, const char *nhs, const char *ident, sn_err *err)
{
    const schema_table *pt = schema_table_by_name("patient");
    if (f->family != NULL)
        return node_store_rows_each(st, pt->id, 0, NULL, by_name, f, err);
    if (nhs != NULL) {
        char digits[11];
        int rc = schema_nhs_number_check(nhs, digits, err);
        schema_value v = schema_value_text(digits);
        return rc != 0 ? rc
                       : node_store_rows_each(st, pt->id,
                                              schema_column_by_name(pt, "nhs_number")->id, &v,
                                              by_row, f, err);
    }
    const schema_table *it = schema_table_by_name("patient_identifier");
    const char *eq = strchr(ident, '=');
    if (eq == NULL || eq == ident || eq[1] == '\0') {
        sn_err_set(err, SN_EINVAL, "identifier '%s' is not SYSTEM=VALUE", ident);
        sn_err_hint(err, "e.g. --identifier service=30012345");
        return SN_EINVAL;
    }
    char system[128];
    snprintf(system, sizeof system, "%.*s", (int)(eq - ident), ident);
    f->system = system;
    schema_value v = schema_value_text(eq + 1);
    int rc = node_store_rows_each(st, it->id, schema_column_by_name(it, "value")->id, &v,
                                  by_identifier, f, err);
    f->system = NULL;
    return rc;
}

static int found_json(sn_buf *b, const node_row *r, const uint8_t canon[SCHEMA_ID_LEN], bool dup,
                      bool first, sn_err *err)
{
    static const char *const cols[] = {"family",     "given",  "birth_date",
                                       "gender",     "nhs_number", "nhs_number_status"};
    char hex[CLI_ID_HEX], chex[CLI_ID_HEX];
    schema_id_format(hex, r->id);
    schema_id_format(chex, canon);
    bool merged = memcmp(canon, r->id, SCHEMA_ID_LEN) != 0;
    int rc = sn_buf_appendf(b, err, "%s{\"id\":\"%s\"", first ? "" : ",", hex);
    for (size_t i = 0; rc == 0 && i < sizeof cols / sizeof cols[0]; i++) {
        rc = sn_buf_appendf(b, err, ",\"%s\":", cols[i]);
        if (rc == 0)
            rc = cli_json_value(b, cli_row_value(r, cols[i]), err);
    }
    if (rc == 0)
        rc = sn_buf_appendf(b, err, ",\"retracted\":%s,\"merged_into\":", r->retracted ? "true"
                                                                                      : "false");
    if (rc == 0)
        rc = merged ? sn_buf_appendf(b, err, "\"%s\"", chex) : sn_buf_append_str(b, "null", err);
    return rc != 0 ? rc : sn_buf_appendf(b, err, ",\"possible_duplicate\":%s}", dup ? "true"
                                                                                    : "false");
}

static int found_text(cli_grid *g, const node_row *r, const uint8_t canon[SCHEMA_ID_LEN], bool dup,
                      sn_err *err)
{
    char hex[CLI_ID_HEX], flags[96] = "";
    schema_id_format(hex, r->id);
    if (r->retracted)
        snprintf(flags, sizeof flags, "RETRACTED ");
    if (memcmp(canon, r->id, SCHEMA_ID_LEN) != 0) {
        char chex[CLI_ID_HEX];
        schema_id_format(chex, canon);
        snprintf(flags + strlen(flags), sizeof flags - strlen(flags), "MERGED-INTO %s ", chex);
    }
    if (dup)
        snprintf(flags + strlen(flags), sizeof flags - strlen(flags), "DUPLICATE? ");
    if (flags[0] != '\0')
        flags[strlen(flags) - 1] = '\0';
    sn_buf name;
    sn_buf_init(&name, CLI_CELL_MAX);
    char *cells[3] = {NULL};
    int rc = cli_text_value(&name, cli_row_value(r, "family"), err);
    if (rc == 0 && cli_row_value(r, "given")->kind != SCHEMA_V_NIL) {
        rc = sn_buf_append_str(&name, ", ", err);
        if (rc == 0)
            rc = cli_text_value(&name, cli_row_value(r, "given"), err);
    }
    if (rc == 0)
        rc = sn_buf_append(&name, "", 1, err);
    static const char *const cols[] = {"birth_date", "gender", "nhs_number"};
    for (size_t i = 0; rc == 0 && i < 3; i++)
        rc = cli_value_strdup(cli_row_value(r, cols[i]), &cells[i], err);
    if (rc == 0) {
        const char *row[] = {hex, (const char *)name.data, cells[0], cells[1], cells[2], flags};
        rc = cli_grid_add(g, row, err);
    }
    for (size_t i = 0; i < 3; i++)
        sn_free(cells[i]);
    sn_buf_free(&name);
    return rc;
}

/* Render the patients found, in the order found. */
static int found_render(cli_ctx *ctx, node_store *st, const id_set *found, sn_err *err)
{
    static const char *const header[] = {"ID", "NAME", "BIRTH DATE", "GENDER", "NHS NUMBER",
                                         "FLAGS"};
    const schema_table *pt = schema_table_by_name("patient");
    id_set dups = {0};
    cli_grid g = {0};
    int rc = node_store_duplicates_each(st, collect_duplicate, &dups, err);
    if (rc == 0)
        rc = ctx->json ? sn_buf_append_str(&ctx->out, "[", err) : cli_grid_init(&g, 6, header, err);
    for (size_t i = 0; rc == 0 && i < found->n; i++) {
        node_row *r = NULL;
        uint8_t canon[SCHEMA_ID_LEN];
        rc = node_store_row_get(st, pt->id, found->v[i], &r, err);
        if (rc == 0)
            rc = node_store_patient_canonical(st, r->id, canon, err);
        bool dup = id_set_has(&dups, found->v[i]);
        if (rc == 0)
            rc = ctx->json ? found_json(&ctx->out, r, canon, dup, i == 0, err)
                           : found_text(&g, r, canon, dup, err);
        node_row_free(r);
    }
    if (rc == 0 && ctx->json)
        rc = sn_buf_append_str(&ctx->out, "]\n", err);
    else if (rc == 0 && found->n == 0)
        rc = sn_buf_append_str(&ctx->out, "no patient found\n", err);
    else if (rc == 0)
        rc = cli_grid_render(&g, &ctx->out, err);
    cli_grid_free(&g);
    sn_free(dups.v);
    return rc;
}

int cli_cmd_patient_find(cli_ctx *ctx, int argc, char **argv)
{
    const char *nhs = NULL, *ident = NULL;
    finder f = {0};
    const cli_opt opts[] = {{.name = "nhs-number", .value = &nhs},
                            {.name = "name", .value = &f.family},
                            {.name = "given", .value = &f.given},
                            {.name = "birth-date", .value = &f.birth},
                            {.name = "identifier", .value = &ident}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &find_spec, opts, 5, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &find_spec);
    if ((nhs != NULL) + (f.family != NULL) + (ident != NULL) != 1)
        return cli_usage_error(find_spec.path, "give one of --nhs-number, --name or "
                                               "--identifier");
    if (f.family == NULL && (f.given != NULL || f.birth != NULL))
        return cli_usage_error(find_spec.path, "--given and --birth-date narrow a --name search");
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    int rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0)
        rc = search(st, &f, nhs, ident, &err);
    if (rc == 0)
        rc = found_render(ctx, st, &f.found, &err);
    sn_free(f.found.v);
    node_store_close(st);
    return cli_finish(rc, &err);
}

typedef struct dup_view {
    cli_ctx *ctx;
    cli_grid grid;
    size_t n;
} dup_view;

static int each_duplicate(void *vctx, const node_duplicate *d, sn_err *err)
{
    dup_view *v = vctx;
    char a[CLI_ID_HEX], b[CLI_ID_HEX], score[16];
    schema_id_format(a, d->a);
    schema_id_format(b, d->b);
    snprintf(score, sizeof score, "%d", d->score);
    int rc;
    if (v->ctx->json) {
        rc = sn_buf_appendf(&v->ctx->out, err, "%s{\"a\":\"%s\",\"b\":\"%s\",\"score\":%d,"
                            "\"reason\":", v->n > 0 ? "," : "", a, b, d->score);
        if (rc == 0)
            rc = cli_json_cstr(&v->ctx->out, d->reason, err);
        if (rc == 0)
            rc = sn_buf_append_str(&v->ctx->out, "}", err);
    } else {
        const char *row[] = {a, b, score, d->reason};
        rc = cli_grid_add(&v->grid, row, err);
    }
    v->n++;
    return rc;
}

int cli_cmd_patient_duplicates(cli_ctx *ctx, int argc, char **argv)
{
    cli_parsed p;
    int ex = cli_args_parse(ctx, &duplicates_spec, NULL, 0, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &duplicates_spec);
    static const char *const header[] = {"PATIENT A", "PATIENT B", "SCORE", "REASON"};
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    dup_view v = {.ctx = ctx};
    int rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0)
        rc = ctx->json ? sn_buf_append_str(&ctx->out, "[", &err)
                       : cli_grid_init(&v.grid, 4, header, &err);
    if (rc == 0)
        rc = node_store_duplicates_each(st, each_duplicate, &v, &err);
    if (rc == 0 && ctx->json)
        rc = sn_buf_append_str(&ctx->out, "]\n", &err);
    else if (rc == 0 && v.n == 0)
        rc = sn_buf_append_str(&ctx->out, "no possible duplicates\n", &err);
    else if (rc == 0)
        rc = cli_grid_render(&v.grid, &ctx->out, &err);
    cli_grid_free(&v.grid);
    node_store_close(st);
    return cli_finish(rc, &err);
}
