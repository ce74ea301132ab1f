/* cli/cmd_audit.c - `outpost audit`: the local, hash-chained audit log of who read or
 * changed which patient's record, and its verification. */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "cli/args.h"
#include "cli/output.h"

static const cli_spec audit_spec = {
    .path = "audit",
    .synopsis = "[--patient ID] [--user ID] [--verify]",
    .help = "Show this node's audit log, oldest first: each event's number, time (UTC),\n"
            "the clinician and OS user who acted, the action (read: a record was viewed;\n"
            "create, update: a record was written, changed, retracted or merged; admin:\n"
            "users were managed; export: records left the node in a log file), the\n"
            "patient and a detail. The log stays on this node; each event's hash covers the\n"
            "one before, so a changed or deleted event shows on verification.\n"
            "\n"
            "Options:\n"
            "  --patient ID   only events about this patient or a record merged with it\n"
            "  --user ID      only events by clinician ID\n"
            "  --verify       check the hash chain instead: prints \"audit log intact: N\n"
            "                 events\", or fails naming the first event that does not match\n"
            "  --json         an array of {\"seq\",\"time\",\"user\",\"os_user\",\"action\",\n"
            "                 \"patient\",\"detail\"}\n",
};

static const char *action_name(char a)
{
    switch (a) {
    case NODE_AUDIT_READ: return "read";
    case NODE_AUDIT_CREATE: return "create";
    case NODE_AUDIT_UPDATE: return "update";
    case NODE_AUDIT_ADMIN: return "admin";
    case NODE_AUDIT_EXPORT: return "export";
    default: return "?";
    }
}

typedef struct audit_view {
    cli_ctx *ctx;
    uint8_t (*ids)[SCHEMA_ID_LEN]; /* the person's ids, sorted; NULL: every event */
    size_t nids;
    cli_grid grid;
    size_t n;
} audit_view;

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, SCHEMA_ID_LEN); }

static int event_json(audit_view *v, const node_audit_event *ev, const char *time,
                      const char *patient, sn_err *err)
{
    sn_buf *b = &v->ctx->out;
    int rc = sn_buf_appendf(b, err, "%s{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"user\":",
                            v->n > 0 ? "," : "", ev->seq, time);
    if (rc == 0)
        rc = cli_json_cstr(b, ev->user, err);
    if (rc == 0)
        rc = sn_buf_append_str(b, ",\"os_user\":", err);
    if (rc == 0)
        rc = cli_json_cstr(b, ev->os_user, err);
    if (rc == 0)
        rc = sn_buf_appendf(b, err, ",\"action\":\"%s\",\"patient\":", action_name(ev->action));
    if (rc == 0)
        rc = cli_json_cstr(b, ev->has_patient ? patient : NULL, err);
    if (rc == 0)
        rc = sn_buf_append_str(b, ",\"detail\":", err);
    if (rc == 0)
        rc = cli_json_cstr(b, ev->detail, err);
    return rc != 0 ? rc : sn_buf_append_str(b, "}", err);
}

/* A cell for the text table: terminal-safe copy of s. */
static int safe_cell(const char *s, char **out, sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, CLI_CELL_MAX);
    int rc = cli_text_bytes(&b, s, strlen(s), err);
    if (rc == 0)
        rc = sn_buf_append(&b, "", 1, err);
    *out = rc == 0 ? (char *)sn_buf_steal(&b, NULL) : NULL;
    sn_buf_free(&b);
    return rc;
}

static int each_event(void *vctx, const node_audit_event *ev, sn_err *err)
{
    audit_view *v = vctx;
    if (v->ids != NULL &&
        (!ev->has_patient || bsearch(ev->patient, v->ids, v->nids, SCHEMA_ID_LEN, id_cmp) == NULL))
        return 0;
    char time[CLI_HLC_MAX], patient[CLI_ID_HEX] = "", seq[24];
    cli_time_format(time, ev->wall_ms);
    if (ev->has_patient)
        schema_id_format(patient, ev->patient);
    int rc;
    if (v->ctx->json) {
        rc = event_json(v, ev, time, patient, err);
    } else {
        char *user = NULL, *os = NULL, *detail = NULL;
        snprintf(seq, sizeof seq, "%" PRIu64, ev->seq);
        rc = safe_cell(ev->user, &user, err);
        if (rc == 0)
            rc = safe_cell(ev->os_user, &os, err);
        if (rc == 0)
            rc = safe_cell(ev->detail, &detail, err);
        if (rc == 0) {
            const char *row[] = {seq, time, user, os, action_name(ev->action), patient, detail};
            rc = cli_grid_add(&v->grid, row, err);
        }
        sn_free(user);
        sn_free(os);
        sn_free(detail);
    }
    v->n++;
    return rc;
}

static int verify(cli_ctx *ctx, node_store *st, sn_err *err)
{
    uint64_t n = 0;
    int rc = node_audit_verify(st, &n, err);
    if (rc == SN_ECORRUPT && err != NULL && err->hint[0] == '\0')
        sn_err_hint(err, "the audit log was altered outside Outpost: keep a copy of '%s' and "
                         "report it to the node's administrator", ctx->store_dir);
    if (rc != 0)
        return rc;
    return sn_buf_appendf(&ctx->out, err,
                          ctx->json ? "{\"intact\":true,\"events\":%" PRIu64 "}\n"
                                    : "audit log intact: %" PRIu64 " events\n",
                          n);
}

int cli_cmd_audit(cli_ctx *ctx, int argc, char **argv)
{
    const char *patient = NULL, *user = NULL;
    bool check = false;
    const cli_opt opts[] = {{.name = "patient", .value = &patient},
                            {.name = "user", .value = &user},
                            {.name = "verify", .flag = &check}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &audit_spec, opts, 3, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &audit_spec);
    if (check && (patient != NULL || user != NULL))
        return cli_usage_error(audit_spec.path, "--verify checks the whole log: it takes no "
                                                "--patient or --user");
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    uint8_t pid[SCHEMA_ID_LEN];
    static const char *const header[] = {"SEQ",    "TIME",    "USER",  "OS USER",
                                         "ACTION", "PATIENT", "DETAIL"};
    audit_view v = {.ctx = ctx};
    int rc = patient != NULL ? cli_id_parse(patient, pid, &err) : 0;
    if (rc == 0)
        rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0 && check) {
        rc = verify(ctx, st, &err);
        node_store_close(st);
        return cli_finish(rc, &err);
    }
    if (rc == 0 && patient != NULL)
        rc = node_store_patient_component(st, pid, &v.ids, &v.nids, &err);
    if (rc == 0)
        rc = ctx->json ? sn_buf_append_str(&ctx->out, "[", &err)
                       : cli_grid_init(&v.grid, 7, header, &err);
    if (rc == 0)
        rc = node_audit_each(st, NULL, user, each_event, &v, &err);
    if (rc == 0)
        rc = ctx->json ? sn_buf_append_str(&ctx->out, "]\n", &err)
                       : cli_grid_render(&v.grid, &ctx->out, &err);
    cli_grid_free(&v.grid);
    sn_free(v.ids);
    node_store_close(st);
    return cli_finish(rc, &err);
}
