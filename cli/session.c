/* cli/session.c - opening the store, who acts (authorship from the users table), and
 * audited commits: every write the CLI makes goes through a cli_txn. */
#include "cli/cli.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cli/args.h"
#include "node/history.h"

node_open_opts cli_open_opts(const cli_ctx *ctx)
{
    return (node_open_opts){.max_skew_ms = ctx->config.max_skew_ms,
                            .state_digest_every_ms = NODE_STATE_DIGEST_EVERY_MS};
}

int cli_store_open(const cli_ctx *ctx, node_store **out, sn_err *err)
{
    node_open_opts opts = cli_open_opts(ctx);
    int rc = node_store_open(out, ctx->store_dir, &opts, err);
    if (rc == SN_ENOTFOUND && err != NULL && err->hint[0] == '\0')
        sn_err_hint(err, "create it with 'outpost --store %s init --name NAME', or pass "
                         "--store DIR (or set OUTPOST_STORE) to use another store",
                    ctx->store_dir);
    if (rc == 0)
        sn_log_debug("store '%s' opened by OS user '%s'", ctx->store_dir, ctx->os_user);
    return rc;
}

int cli_store_open_user(cli_ctx *ctx, node_store **out, sn_err *err)
{
    int rc = cli_store_open(ctx, out, err);
    if (rc != 0)
        return rc;
    rc = node_user_authorship(*out, ctx->os_user, ctx->as, &ctx->author, &ctx->entered_by, err);
    if (rc != 0) {
        node_store_close(*out);
        *out = NULL;
        return rc;
    }
    ctx->who_known = true;
    return 0;
}

const node_user *cli_actor(const cli_ctx *ctx)
{
    assert(ctx->who_known);
    return ctx->entered_by.id[0] != '\0' ? &ctx->entered_by : &ctx->author;
}

int cli_admin_require(const cli_ctx *ctx, const char *what, sn_err *err)
{
    const node_user *me = cli_actor(ctx);
    if (me->role == NODE_ROLE_ADMIN)
        return 0;
    sn_err_set(err, SN_EAUTH, "only an administrator may %s ('%s' is a %s)", what, me->id,
               node_role_name(me->role));
    sn_err_hint(err, "ask an administrator of this node ('outpost user list' run by one "
                     "shows who they are)");
    return SN_EAUTH;
}

int cli_audit(const cli_ctx *ctx, node_store *st, node_audit_action action,
              const uint8_t *patient, const char *detail, sn_err *err)
{
    const node_user *me = cli_actor(ctx);
    sn_log_info("audit %c by %s: %s", (char)action, me->id, detail);
    return node_audit_append(st, me->id, ctx->os_user, action, patient, detail, err);
}

int cli_txn_begin(cli_txn *tx, cli_ctx *ctx, node_store *st, sn_err *err)
{
    assert(ctx->who_known);
    *tx = (cli_txn){.ctx = ctx, .st = st, .action = NODE_AUDIT_CREATE};
    const char *entered = ctx->entered_by.id[0] != '\0' ? ctx->entered_by.id : NULL;
    return node_write_begin(st, ctx->author.id, entered, &tx->w, err);
}

/* Note what a change added to the transaction is about, for the audit event. */
static int txn_note(cli_txn *tx, const schema_change *ch, sn_err *err)
{
    /* Retractions and links change what existing records mean: updates, not creations. */
    const schema_table *t = schema_table_by_id(ch->table);
    bool amends = t != NULL && (strcmp(t->name, "retraction") == 0 ||
                                strcmp(t->name, "patient_link") == 0);
    if (ch->op == SCHEMA_OP_SET || amends)
        tx->action = NODE_AUDIT_UPDATE;
    if (!tx->has_patient) {
        int rc = node_change_patient(tx->st, ch, tx->patient, &tx->has_patient, err);
        if (rc != 0)
            return rc;
    }
    if (tx->nchanges++ == 0) {
        sn_buf b;
        sn_buf_init(&b, CLI_OUT_MAX);
        int rc = cli_change_summary(&b, ch, err);
        if (rc == 0)
            snprintf(tx->first, sizeof tx->first, "%.*s", (int)b.len, (const char *)b.data);
        sn_buf_free(&b);
        return rc;
    }
    return 0;
}

int cli_txn_insert(cli_txn *tx, const schema_table *t, const schema_field *fields, size_t n,
                   uint8_t id[SCHEMA_ID_LEN], sn_err *err)
{
    int rc = node_write_insert(tx->w, t->id, fields, n, id, err);
    if (rc != 0)
        return rc;
    schema_change ch = {.op = SCHEMA_OP_INSERT, .table = t->id,
                        .fields = (schema_field *)(uintptr_t)fields, .nfields = n};
    memcpy(ch.row, id, SCHEMA_ID_LEN);
    return txn_note(tx, &ch, err);
}

int cli_txn_set(cli_txn *tx, const schema_table *t, const uint8_t id[SCHEMA_ID_LEN],
                const schema_column *c, const schema_value *v, sn_err *err)
{
    int rc = node_write_set(tx->w, t->id, id, c->id, v, err);
    if (rc != 0)
        return rc;
    schema_change ch = {.op = SCHEMA_OP_SET, .table = t->id, .col = c->id, .value = *v};
    memcpy(ch.row, id, SCHEMA_ID_LEN);
    return txn_note(tx, &ch, err);
}

void cli_txn_abort(cli_txn *tx)
{
    node_write_abort(tx->w);
    tx->w = NULL;
}

int cli_txn_commit(cli_txn *tx, node_commit_info *info, sn_err *err)
{
    /* The audit event goes into the commit's own transaction: never one without the other. */
    const cli_ctx *ctx = tx->ctx;
    const node_user *me = cli_actor(ctx);
    char detail[NODE_AUDIT_DETAIL_MAX + 1], more[48] = "", who[NODE_USER_ID_MAX + 32] = "";
    if (tx->nchanges > 1)
        snprintf(more, sizeof more, " and %zu more change%s", tx->nchanges - 1,
                 tx->nchanges == 2 ? "" : "s");
    if (ctx->entered_by.id[0] != '\0')
        snprintf(who, sizeof who, " (entered for %s)", ctx->author.id);
    snprintf(detail, sizeof detail, "%.300s%s%s", tx->first, more, who);
    int rc = node_write_audit(tx->w, me->id, ctx->os_user, (node_audit_action)tx->action,
                              tx->has_patient ? tx->patient : NULL, detail, err);
    if (rc != 0) {
        cli_txn_abort(tx);
        return rc;
    }
    sn_log_info("audit %c by %s: %s", (char)tx->action, me->id, detail);
    rc = node_write_commit(tx->w, info, err);
    tx->w = NULL;
    return rc;
}

int cli_row_patient(node_store *st, uint16_t table, const uint8_t id[SCHEMA_ID_LEN],
                    uint8_t out[SCHEMA_ID_LEN], bool *found, sn_err *err)
{
    /* A write to the row would be about the same patient as the row itself. */
    schema_change probe = {.op = SCHEMA_OP_SET, .table = table};
    memcpy(probe.row, id, SCHEMA_ID_LEN);
    return node_change_patient(st, &probe, out, found, err);
}

int cli_retract_add(cli_txn *tx, const uint8_t target[SCHEMA_ID_LEN], const char *reason,
                    uint16_t *tid, uint8_t rid[SCHEMA_ID_LEN], sn_err *err)
{
    const schema_table *rt = schema_table_by_name("retraction");
    const schema_column *tcol = rt != NULL ? schema_column_by_name(rt, "target_id") : NULL;
    const schema_column *why = rt != NULL ? schema_column_by_name(rt, "reason") : NULL;
    const schema_column *pcol = rt != NULL ? schema_column_by_id(rt, rt->patient_col) : NULL;
    if (SN_NEVER(tcol == NULL || why == NULL || pcol == NULL))
        return sn_err_set(err, SN_EINVAL, "this build's schema has no usable retraction table");
    int rc = node_store_row_table(tx->st, target, tid, err);
    if (rc == SN_ENOTFOUND && err != NULL && err->hint[0] == '\0')
        sn_err_hint(err, "check the id with 'outpost list TABLE'; a row that another site "
                         "recorded is here only once its log has been imported");
    if (rc != 0)
        return rc;
    /* The retraction belongs to the patient of the row it corrects. */
    uint8_t patient[SCHEMA_ID_LEN];
    bool has_patient = false;
    if ((rc = cli_row_patient(tx->st, *tid, target, patient, &has_patient, err)) != 0)
        return rc;
    schema_field fields[3] = {{.col = tcol->id, .value = schema_value_id(target)},
                              {.col = why->id}};
    size_t n = 2;
    if ((rc = cli_value_parse(rt, why, reason, &fields[1].value, err)) != 0)
        return rc;
    if (has_patient)
        fields[n++] = (schema_field){.col = pcol->id, .value = schema_value_id(patient)};
    return cli_txn_insert(tx, rt, fields, n, rid, err);
}

int cli_row_require(node_store *st, const char *name, const char *id_text, node_row **out,
                    sn_err *err)
{
    *out = NULL;
    const schema_table *t = schema_table_by_name(name);
    uint8_t id[SCHEMA_ID_LEN];
    if (SN_NEVER(t == NULL))
        return sn_err_set(err, SN_EINVAL, "this build's schema has no table '%s'", name);
    int rc = cli_id_parse(id_text, id, err);
    if (rc == 0 && (rc = node_store_row_get(st, t->id, id, out, err)) == SN_ENOTFOUND)
        cli_hint_other_table(st, t, id_text, id, err);
    if (rc == 0 && (*out)->retracted) {
        rc = sn_err_set(err, SN_EINVAL, "%s %s was retracted (entered in error)", name, id_text);
        sn_err_hint(err, "'outpost show %s %s' says why; record against the right %s", name,
                    id_text, name);
    }
    if (rc != 0) {
        node_row_free(*out);
        *out = NULL;
    }
    return rc;
}
