/* cli/cmd_history.c - `outpost log [--patient ID] [--user ID]`: the commits this store
 * holds, in time order, with who recorded them, where and when, and one line per change;
 * and the one-line change summary the audit log shares. */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/output.h"
#include "node/history.h"

static const cli_spec history_spec = {
    .path = "log",
    .synopsis = "[--patient ID] [--user ID]",
    .help = "List the commits this store holds, oldest first: the time (the clock of the\n"
            "site that made it, UTC), the site (this store's name, or \"site\" and the other\n"
            "site's replica prefix/epoch), the commit's number there, its author and who\n"
            "entered it for them, then one line per change.\n"
            "\n"
            "Options:\n"
            "  --patient ID   only commits about this patient or one merged with it; the\n"
            "                 listing is recorded in the audit log as a read of the record\n"
            "  --user ID      only commits authored or entered by clinician ID\n"
            "  --json         an array of {\"time\",\"hlc\",\"origin\",\"site\",\"seq\",\n"
            "                 \"author\",\"entered_by\",\"changes\":[{\"op\",\"table\",\"id\"\n"
            "                 [,\"column\",\"value\"]}]}\n",
};

/* Longest value quoted in a one-line summary, in bytes. */
#define SUMMARY_VALUE_MAX 60

/* Append the text of v cut to SUMMARY_VALUE_MAX bytes on a character boundary. */
static int short_value(sn_buf *b, const schema_value *v, sn_err *err)
{
    if (v->kind == SCHEMA_V_NIL)
        return sn_buf_append_str(b, "(empty)", err);
    sn_buf tmp;
    sn_buf_init(&tmp, CLI_CELL_MAX);
    int rc = cli_text_value(&tmp, v, err);
    size_t n = tmp.len;
    bool cut = n > SUMMARY_VALUE_MAX;
    if (cut) {
        n = SUMMARY_VALUE_MAX;
        while (n > 0 && (tmp.data[n] & 0xc0) == 0x80)
            n--;
    }
    if (rc == 0)
        rc = sn_buf_append(b, tmp.data, n, err);
    if (rc == 0 && cut)
        rc = sn_buf_append_str(b, "...", err);
    sn_buf_free(&tmp);
    return rc;
}

/* The value an insert gives column `name`, or NULL. */
static const schema_value *field_of(const schema_table *t, const schema_change *ch,
                                    const char *name)
{
    const schema_column *c = t != NULL ? schema_column_by_name(t, name) : NULL;
    for (size_t i = 0; c != NULL && i < ch->nfields; i++)
        if (ch->fields[i].col == c->id && ch->fields[i].value.kind == SCHEMA_V_ID)
            return &ch->fields[i].value;
    return NULL;
}

/* "insert allergy <id>"; retractions and links say what they retract or join. */
static int insert_summary(sn_buf *b, const schema_table *t, const char *tname, const char *hex,
                          const schema_change *ch, sn_err *err)
{
    const schema_value *target = field_of(t, ch, "target_id");
    const schema_value *a = field_of(t, ch, "patient_id"), *o = field_of(t, ch, "other_id");
    char x[CLI_ID_HEX], y[CLI_ID_HEX];
    if (t != NULL && strcmp(t->name, "retraction") == 0 && target != NULL) {
        schema_id_format(x, target->u.id);
        return sn_buf_appendf(b, err, "retract %s (retraction %s)", x, hex);
    }
    if (t != NULL && strcmp(t->name, "patient_link") == 0 && a != NULL && o != NULL) {
        schema_id_format(x, a->u.id);
        schema_id_format(y, o->u.id);
        return sn_buf_appendf(b, err, "merge patient %s with %s (link %s)", x, y, hex);
    }
    return sn_buf_appendf(b, err, "insert %s %s", tname, hex);
}

int cli_change_summary(sn_buf *b, const schema_change *ch, sn_err *err)
{
    const schema_table *t = schema_table_by_id(ch->table);
    char tname[32], hex[CLI_ID_HEX];
    if (t != NULL)
        snprintf(tname, sizeof tname, "%s", t->name);
    else
        snprintf(tname, sizeof tname, "table#%u", (unsigned)ch->table);
    schema_id_format(hex, ch->row);
    if (ch->op == SCHEMA_OP_INSERT)
        return insert_summary(b, t, tname, hex, ch, err);
    if (ch->op != SCHEMA_OP_SET)
        return sn_buf_append_str(b, "a change from a newer schema (kept for later)", err);
    const schema_column *c = t != NULL ? schema_column_by_id(t, ch->col) : NULL;
    int rc = c != NULL ? sn_buf_appendf(b, err, "set %s.%s = ", tname, c->name)
                       : sn_buf_appendf(b, err, "set %s.#%u = ", tname, (unsigned)ch->col);
    if (rc == 0)
        rc = short_value(b, &ch->value, err);
    return rc != 0 ? rc : sn_buf_appendf(b, err, " (%s)", hex);
}

void cli_site_name(node_store *st, const crdt_origin *o, char *out, size_t cap)
{
    if (crdt_origin_equal(o, node_store_origin(st))) {
        snprintf(out, cap, "%s", node_store_name(st));
        return;
    }
    char origin[CLI_ORIGIN_MAX];
    cli_origin_format(origin, o, true);
    snprintf(out, cap, "site %s", origin);
}

typedef struct history {
    cli_ctx *ctx;
    node_store *st;
    size_t n;
} history;

static int change_json(sn_buf *b, const schema_change *ch, sn_err *err)
{
    const schema_table *t = schema_table_by_id(ch->table);
    const schema_column *c = t != NULL && ch->op == SCHEMA_OP_SET ? schema_column_by_id(t, ch->col)
                                                                  : NULL;
    char hex[CLI_ID_HEX];
    schema_id_format(hex, ch->row);
    const char *op = ch->op == SCHEMA_OP_INSERT ? "insert" : ch->op == SCHEMA_OP_SET ? "set"
                                                                                    : "unknown";
    int rc = sn_buf_appendf(b, err, "{\"op\":\"%s\",\"table\":", op);
    if (rc == 0)
        rc = cli_json_cstr(b, t != NULL ? t->name : NULL, err);
    if (rc == 0)
        rc = sn_buf_appendf(b, err, ",\"id\":\"%s\"", hex);
    if (rc == 0 && ch->op == SCHEMA_OP_SET) {
        rc = sn_buf_append_str(b, ",\"column\":", err);
        if (rc == 0)
            rc = cli_json_cstr(b, c != NULL ? c->name : NULL, err);
        if (rc == 0)
            rc = sn_buf_append_str(b, ",\"value\":", err);
        if (rc == 0)
            rc = cli_json_value(b, &ch->value, err);
    }
    return rc != 0 ? rc : sn_buf_append_str(b, "}", err);
}

static int commit_json(history *h, const schema_commit *c, const char *site, sn_err *err)
{
    sn_buf *b = &h->ctx->out;
    char time[CLI_HLC_MAX], hlc[CLI_HLC_MAX], origin[CLI_ORIGIN_MAX];
    cli_time_format(time, CRDT_HLC_MS(c->hlc));
    cli_hlc_format(hlc, c->hlc);
    cli_origin_format(origin, &c->origin, false);
    int rc = sn_buf_appendf(b, err, "%s{\"time\":\"%s\",\"hlc\":\"%s\",\"origin\":\"%s\",\"site\":",
                            h->n > 0 ? "," : "", time, hlc, origin);
    if (rc == 0)
        rc = cli_json_cstr(b, site, err);
    if (rc == 0)
        rc = sn_buf_appendf(b, err, ",\"seq\":%" PRIu64 ",\"author\":", c->seq);
    if (rc == 0)
        rc = cli_json_cstr(b, c->author, err);
    if (rc == 0)
        rc = sn_buf_append_str(b, ",\"entered_by\":", err);
    if (rc == 0)
        rc = cli_json_cstr(b, c->entered_by, err);
    if (rc == 0)
        rc = sn_buf_append_str(b, ",\"changes\":[", err);
    for (size_t i = 0; rc == 0 && i < c->nchanges; i++) {
        if (i > 0)
            rc = sn_buf_append_str(b, ",", err);
        if (rc == 0)
            rc = change_json(b, &c->changes[i], err);
    }
    return rc != 0 ? rc : sn_buf_append_str(b, "]}", err);
}

static int commit_text(history *h, const schema_commit *c, const char *site, sn_err *err)
{
    sn_buf *b = &h->ctx->out;
    char time[CLI_HLC_MAX];
    cli_time_format(time, CRDT_HLC_MS(c->hlc));
    int rc = sn_buf_appendf(b, err, "%s  ", time);
    if (rc == 0)
        rc = cli_text_bytes(b, site, strlen(site), err);
    if (rc == 0)
        rc = sn_buf_appendf(b, err, "  #%" PRIu64 "  by ", c->seq);
    if (rc == 0)
        rc = cli_text_bytes(b, c->author, strlen(c->author), err);
    if (rc == 0 && c->entered_by != NULL) {
        rc = sn_buf_append_str(b, " (entered by ", err);
        if (rc == 0)
            rc = cli_text_bytes(b, c->entered_by, strlen(c->entered_by), err);
        if (rc == 0)
            rc = sn_buf_append_str(b, ")", err);
    }
    for (size_t i = 0; rc == 0 && i < c->nchanges; i++) {
        rc = sn_buf_append_str(b, "\n    ", err);
        if (rc == 0)
            rc = cli_change_summary(b, &c->changes[i], err);
    }
    return rc != 0 ? rc : sn_buf_append_str(b, "\n", err);
}

static int each_commit(void *vctx, const schema_commit *c, sn_err *err)
{
    history *h = vctx;
    char site[128];
    cli_site_name(h->st, &c->origin, site, sizeof site);
    int rc = h->ctx->json ? commit_json(h, c, site, err) : commit_text(h, c, site, err);
    h->n++;
    return rc;
}

int cli_cmd_history(cli_ctx *ctx, int argc, char **argv)
{
    const char *patient = NULL, *user = NULL;
    const cli_opt opts[] = {{.name = "patient", .value = &patient},
                            {.name = "user", .value = &user}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &history_spec, opts, 2, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &history_spec);
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    uint8_t pid[SCHEMA_ID_LEN], canonical[SCHEMA_ID_LEN];
    node_row *row = NULL;
    int rc = patient != NULL ? cli_id_parse(patient, pid, &err) : 0;
    if (rc == 0)
        rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0 && patient != NULL) {
        const schema_table *pt = schema_table_by_name("patient");
        if ((rc = node_store_row_get(st, pt->id, pid, &row, &err)) == SN_ENOTFOUND)
            cli_hint_other_table(st, pt, patient, pid, &err);
        if (rc == 0)
            rc = node_store_patient_canonical(st, pid, canonical, &err);
    }
    node_row_free(row);
    history h = {.ctx = ctx, .st = st};
    node_log_filter filter = {.patient = patient != NULL ? pid : NULL, .user = user};
    if (rc == 0 && ctx->json)
        rc = sn_buf_append_str(&ctx->out, "[", &err);
    if (rc == 0)
        rc = node_store_log_each(st, &filter, each_commit, &h, &err);
    if (rc == 0 && ctx->json)
        rc = sn_buf_append_str(&ctx->out, "]\n", &err);
    else if (rc == 0 && h.n == 0)
        rc = sn_buf_append_str(&ctx->out, "no commits\n", &err);
    if (rc == 0 && patient != NULL)
        rc = cli_audit(ctx, st, NODE_AUDIT_READ, canonical, "log --patient", &err);
    node_store_close(st);
    return cli_finish(rc, &err);
}
