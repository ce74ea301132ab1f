/* cli/cmd_merge.c - `outpost patient merge|unmerge`: two registrations of one person are
 * joined by a link row (never re-keyed), and separated again by retracting the links that
 * join them. Records stay under the id they were written against. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "cli/args.h"
#include "cli/output.h"

#define LINKS_MAX 64

static const cli_spec merge_spec = {
    .path = "patient merge",
    .synopsis = "A B [--reason TEXT]",
    .help = "Record that patients A and B are the same person. Nothing is re-keyed: each\n"
            "record keeps its own entries, and 'outpost patient show' on either id shows the\n"
            "whole record under the smallest id of the two. Check with the patient first;\n"
            "a merge made in error is undone with 'outpost patient unmerge'.\n"
            "\n"
            "Options:\n"
            "  --reason TEXT   why the two are judged to be one person\n"
            "  --json          print {\"link\":...,\"canonical\":...}\n",
    .min_pos = 2,
    .max_pos = 2,
};

static const cli_spec unmerge_spec = {
    .path = "patient unmerge",
    .synopsis = "A B --reason TEXT",
    .help = "Undo a merge made in error: retract every live link between A and B, in one\n"
            "commit. Each record then shows its own entries again; entries written while the\n"
            "two were merged stay with the id they were written against.\n"
            "\n"
            "Options:\n"
            "  --reason TEXT   why the two are not the same person (required)\n"
            "  --json          print {\"retracted\":[...]}\n",
    .min_pos = 2,
    .max_pos = 2,
};

/* Both arguments as patients this store holds, neither registered in error. */
static int two_patients(node_store *st, const cli_parsed *p, uint8_t a[SCHEMA_ID_LEN],
                        uint8_t b[SCHEMA_ID_LEN], sn_err *err)
{
    node_row *ra = NULL, *rb = NULL;
    int rc = cli_row_require(st, "patient", p->pos[0], &ra, err);
    if (rc == 0)
        rc = cli_row_require(st, "patient", p->pos[1], &rb, err);
    if (rc == 0) {
        memcpy(a, ra->id, SCHEMA_ID_LEN);
        memcpy(b, rb->id, SCHEMA_ID_LEN);
    }
    node_row_free(ra);
    node_row_free(rb);
    if (rc == 0 && memcmp(a, b, SCHEMA_ID_LEN) == 0)
        rc = sn_err_set(err, SN_EINVAL, "A and B are the same id");
    return rc;
}

static int ids_linked(node_store *st, const uint8_t a[SCHEMA_ID_LEN],
                      const uint8_t b[SCHEMA_ID_LEN], bool *linked, sn_err *err)
{
    uint8_t (*ids)[SCHEMA_ID_LEN] = NULL;
    size_t n = 0;
    int rc = node_store_patient_component(st, a, &ids, &n, err);
    *linked = false;
    for (size_t i = 0; rc == 0 && i < n; i++)
        *linked = *linked || memcmp(ids[i], b, SCHEMA_ID_LEN) == 0;
    sn_free(ids);
    return rc;
}

int cli_cmd_patient_merge(cli_ctx *ctx, int argc, char **argv)
{
    const char *reason = NULL;
    const cli_opt opts[] = {{.name = "reason", .value = &reason}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &merge_spec, opts, 1, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &merge_spec);
    const schema_table *lt = schema_table_by_name("patient_link");
    const schema_column *pc = schema_column_by_name(lt, "patient_id");
    const schema_column *oc = schema_column_by_name(lt, "other_id");
    const schema_column *rcol = schema_column_by_name(lt, "reason");
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    uint8_t a[SCHEMA_ID_LEN], b[SCHEMA_ID_LEN], link[SCHEMA_ID_LEN], canon[SCHEMA_ID_LEN];
    bool linked = false;
    schema_field f[3] = {{.col = pc->id}, {.col = oc->id}, {.col = rcol->id}};
    cli_txn tx;
    int rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0)
        rc = two_patients(st, &p, a, b, &err);
    if (rc == 0)
        rc = ids_linked(st, a, b, &linked, &err);
    if (rc == 0 && linked)
        rc = sn_err_set(&err, SN_EINVAL, "patients %s and %s are already merged", p.pos[0],
                        p.pos[1]);
    if (rc == 0 && reason != NULL)
        rc = cli_value_parse(lt, rcol, reason, &f[2].value, &err);
    f[0].value = schema_value_id(a);
    f[1].value = schema_value_id(b);
    if (rc == 0 && (rc = cli_txn_begin(&tx, ctx, st, &err)) == 0) {
        if ((rc = cli_txn_insert(&tx, lt, f, reason != NULL ? 3 : 2, link, &err)) == 0)
            rc = cli_txn_commit(&tx, NULL, &err);
        else
            cli_txn_abort(&tx);
    }
    if (rc == 0)
        rc = node_store_patient_canonical(st, a, canon, &err);
    if (rc == 0) {
        char lhex[CLI_ID_HEX], chex[CLI_ID_HEX], ahex[CLI_ID_HEX], bhex[CLI_ID_HEX];
        schema_id_format(lhex, link);
        schema_id_format(chex, canon);
        schema_id_format(ahex, a);
        schema_id_format(bhex, b);
        rc = ctx->json
                 ? sn_buf_appendf(&ctx->out, &err, "{\"link\":\"%s\",\"canonical\":\"%s\"}\n",
                                  lhex, chex)
                 : sn_buf_appendf(&ctx->out, &err, "merged %s and %s: one patient, shown as %s\n"
                                  "link %s\n", ahex, bhex, chex, lhex);
    }
    node_store_close(st);
    return cli_finish(rc, &err);
}

typedef struct link_search {
    const uint8_t *other; /* the far end wanted */
    uint8_t v[LINKS_MAX][SCHEMA_ID_LEN];
    size_t n;
} link_search;

static int each_link(void *vctx, const node_row *r, sn_err *err)
{
    link_search *ls = vctx;
    const schema_value *o = cli_row_value(r, "other_id");
    if (r->retracted || o->kind != SCHEMA_V_ID || memcmp(o->u.id, ls->other, SCHEMA_ID_LEN) != 0)
        return 0;
    if (ls->n == LINKS_MAX)
        return sn_err_set(err, SN_ETOOBIG, "more than %d links join the two patients",
                          LINKS_MAX);
    memcpy(ls->v[ls->n++], r->id, SCHEMA_ID_LEN);
    return 0;
}

/* Every live link row whose two ends are a and b, in either order. */
static int live_links(node_store *st, const uint8_t a[SCHEMA_ID_LEN],
                      const uint8_t b[SCHEMA_ID_LEN], link_search *ls, sn_err *err)
{
    const schema_table *lt = schema_table_by_name("patient_link");
    const schema_column *pc = schema_column_by_name(lt, "patient_id");
    schema_value va = schema_value_id(a), vb = schema_value_id(b);
    ls->other = b;
    int rc = node_store_rows_each(st, lt->id, pc->id, &va, each_link, ls, err);
    ls->other = a;
    if (rc == 0)
        rc = node_store_rows_each(st, lt->id, pc->id, &vb, each_link, ls, err);
    return rc;
}

int cli_cmd_patient_unmerge(cli_ctx *ctx, int argc, char **argv)
{
    const char *reason = NULL;
    const cli_opt opts[] = {{.name = "reason", .value = &reason}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &unmerge_spec, opts, 1, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &unmerge_spec);
    if (reason == NULL)
        return cli_usage_error(unmerge_spec.path, "'outpost patient unmerge' needs --reason "
                                                  "TEXT");
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    uint8_t a[SCHEMA_ID_LEN], b[SCHEMA_ID_LEN];
    uint8_t rid[LINKS_MAX][SCHEMA_ID_LEN];
    link_search *ls = sn_calloc(1, sizeof *ls);
    cli_txn tx;
    int rc = ls != NULL ? cli_store_open_user(ctx, &st, &err)
                        : sn_err_set(&err, SN_ENOMEM, "out of memory");
    if (rc == 0)
        rc = two_patients(st, &p, a, b, &err);
    if (rc == 0)
        rc = live_links(st, a, b, ls, &err);
    if (rc == 0 && ls->n == 0) {
        rc = sn_err_set(&err, SN_EINVAL, "no live link joins patients %s and %s", p.pos[0],
                        p.pos[1]);
        sn_err_hint(&err, "'outpost patient show %s' lists the records merged with it; unmerge "
                          "the two ids that were merged", p.pos[0]);
    }
    if (rc == 0 && (rc = cli_txn_begin(&tx, ctx, st, &err)) == 0) {
        uint16_t tid;
        for (size_t i = 0; rc == 0 && i < ls->n; i++)
            rc = cli_retract_add(&tx, ls->v[i], reason, &tid, rid[i], &err);
        if (rc == 0)
            rc = cli_txn_commit(&tx, NULL, &err);
        else
            cli_txn_abort(&tx);
    }
    if (rc == 0)
        rc = sn_buf_append_str(&ctx->out, ctx->json ? "{\"retracted\":[" : "", &err);
    for (size_t i = 0; rc == 0 && i < ls->n; i++) {
        char hex[CLI_ID_HEX];
        schema_id_format(hex, ls->v[i]);
        rc = sn_buf_appendf(&ctx->out, &err, ctx->json ? "%s\"%s\"" : "%sretracted link %s\n",
                            ctx->json && i > 0 ? "," : "", hex);
    }
    if (rc == 0 && ctx->json) {
        rc = sn_buf_append_str(&ctx->out, "]}\n", &err);
    } else if (rc == 0) {
        char ahex[CLI_ID_HEX], bhex[CLI_ID_HEX];
        schema_id_format(ahex, a);
        schema_id_format(bhex, b);
        rc = sn_buf_appendf(&ctx->out, &err, "unmerged %s and %s\n", ahex, bhex);
    }
    sn_free(ls);
    node_store_close(st);
    return cli_finish(rc, &err);
}
