/* cli/cmd_store.c - `outpost init`, `outpost status` and `outpost digest`: the store as a
 * whole. */
#include "cli/cli.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "cli/args.h"
#include "cli/output.h"
#include "cli/status_view.h"

static const cli_spec init_spec = {
    .path = "init",
    .synopsis = "--name NAME [--admin-id ID] [--admin-name NAME]",
    .help = "Create a new store for this site in the store directory (--store DIR,\n"
            "$OUTPOST_STORE, [node] store in the configuration, or ./outpost-data), with a\n"
            "new random origin and new keys. The OS user running init becomes the node's\n"
            "first administrator, who then adds the clinicians ('outpost user add').\n"
            "Prints the store's path, its name, its origin (replica id / epoch) and the\n"
            "administrator.\n"
            "\n"
            "Options:\n"
            "  --name NAME         the site's name as people know it, e.g. \"HMS Example\"\n"
            "                      (default: [node] name in the configuration)\n"
            "  --admin-id ID       the administrator's clinician id (default: the OS user)\n"
            "  --admin-name NAME   the administrator's name (default: the id)\n"
            "  --json              print {\"store\",\"name\",\"origin\",\"admin\"}\n",
};

static const cli_spec status_spec = {
    .path = "status",
    .synopsis = "",
    .help = "Show the store's name, origin, counts (commits, commits waiting for a\n"
            "predecessor, commits from a newer schema, open conflicts, origins) and the\n"
            "held vector: for each origin, the highest commit held with none missing.\n"
            "\n"
            "Then who is in sync. On a hub: one line per enrolled node, the most urgent\n"
            "first, with its state (equivocating, diverged, stuck, failing, skewed, silent,\n"
            "behind, expired, revoked, never-synced, expiring, in-sync), when it was last\n"
            "seen and last in sync, how many commits it lacks and holds that the hub lacks,\n"
            "its clock error, its open conflicts and waiting commits. The limits behind\n"
            "the states are the [status] settings of the configuration. On a site: the\n"
            "last sync, commits pending each way, and conflicts waiting for review.\n"
            "Colour is used only on a terminal (and never with NO_COLOR set).\n"
            "\n"
            "Options:\n"
            "  --json   the same as one JSON object; \"sync\" holds the report above, the\n"
            "           same as a hub's /status.json\n",
};

static const cli_spec digest_spec = {
    .path = "digest",
    .synopsis = "",
    .help = "Print the 32 hex digits of the state digest: a fingerprint of the records,\n"
            "their conflicting values and retractions. Two stores that hold the same\n"
            "commits print the same digest, whatever order the commits arrived in.\n"
            "\n"
            "Options:\n"
            "  --json   print {\"digest\":\"...\"}\n",
};

/* The store directory as an absolute path when it can be resolved, for messages. */
static const char *store_path(const cli_ctx *ctx, char buf[static PATH_MAX])
{
    return realpath(ctx->store_dir, buf) != NULL ? buf : ctx->store_dir;
}

/* The first administrator: the OS user running init. Checked before the store exists. */
static int init_admin_make(const cli_ctx *ctx, const char *id, const char *name, node_user *u,
                           sn_err *err)
{
    *u = (node_user){.role = NODE_ROLE_ADMIN};
    if (strlen(id) > NODE_USER_ID_MAX || strlen(name) > NODE_USER_NAME_MAX)
        return sn_err_set(err, SN_EINVAL, "administrator id may be at most %d bytes, the name "
                          "%d", NODE_USER_ID_MAX, NODE_USER_NAME_MAX);
    snprintf(u->id, sizeof u->id, "%s", id);
    snprintf(u->name, sizeof u->name, "%s", name);
    snprintf(u->os_user, sizeof u->os_user, "%s", ctx->os_user);
    return node_user_check(u, err);
}

/* Make the OS user running init the store's first administrator. */
static int init_admin(cli_ctx *ctx, node_store *st, const node_user *admin, sn_err *err)
{
    node_user u = *admin;
    int rc = node_user_add(st, &u, err);
    if (rc == 0)
        rc = node_user_authorship(st, ctx->os_user, NULL, &ctx->author, &ctx->entered_by, err);
    if (rc != 0)
        return rc;
    ctx->who_known = true;
    char detail[NODE_AUDIT_DETAIL_MAX + 1];
    snprintf(detail, sizeof detail, "init: store created; first administrator %s (OS user %s)",
             u.id, u.os_user);
    return cli_audit(ctx, st, NODE_AUDIT_ADMIN, NULL, detail, err);
}

static int init_print(cli_ctx *ctx, node_store *st, sn_err *err)
{
    char origin[CLI_ORIGIN_MAX], path[PATH_MAX];
    cli_origin_format(origin, node_store_origin(st), false);
    const char *where = store_path(ctx, path);
    const char *admin = ctx->author.id;
    sn_buf *b = &ctx->out;
    int rc;
    if (ctx->json) {
        rc = sn_buf_append_str(b, "{\"store\":", err);
        if (rc == 0)
            rc = cli_json_cstr(b, where, err);
        if (rc == 0)
            rc = sn_buf_append_str(b, ",\"name\":", err);
        if (rc == 0)
            rc = cli_json_cstr(b, node_store_name(st), err);
        if (rc == 0)
            rc = sn_buf_appendf(b, err, ",\"origin\":\"%s\",\"admin\":", origin);
        if (rc == 0)
            rc = cli_json_cstr(b, admin, err);
        return rc != 0 ? rc : sn_buf_append_str(b, "}\n", err);
    }
    rc = sn_buf_append_str(b, "created store ", err);
    if (rc == 0)
        rc = cli_text_bytes(b, where, strlen(where), err);
    if (rc == 0)
        rc = sn_buf_append_str(b, "\nname    ", err);
    if (rc == 0)
        rc = cli_text_bytes(b, node_store_name(st), strlen(node_store_name(st)), err);
    if (rc == 0)
        rc = sn_buf_appendf(b, err, "\norigin  %s\nadmin   %s (OS user %s)\n", origin, admin,
                            ctx->os_user);
    return rc;
}

int cli_cmd_init(cli_ctx *ctx, int argc, char **argv)
{
    const char *name = NULL, *admin_id = NULL, *admin_name = NULL;
    const cli_opt opts[] = {{.name = "name", .value = &name},
                            {.name = "admin-id", .value = &admin_id},
                            {.name = "admin-name", .value = &admin_name}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &init_spec, opts, 3, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &init_spec);
    if (name == NULL && ctx->config.name[0] != '\0')
        name = ctx->config.name;
    if (name == NULL)
        return cli_usage_error(init_spec.path, "'outpost init' needs --name NAME (or [node] "
                                               "name in the configuration)");
    if (ctx->as != NULL)
        return cli_usage_error(init_spec.path, "--as has no meaning for init: the OS user "
                                               "running it becomes the administrator");
    if (admin_id == NULL)
        admin_id = ctx->os_user;
    if (admin_name == NULL)
        admin_name = admin_id;

    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    node_user admin;
    node_open_opts opts_open = cli_open_opts(ctx);
    int rc = init_admin_make(ctx, admin_id, admin_name, &admin, &err);
    if (rc == 0)
        rc = node_store_create(ctx->store_dir, name, &opts_open, &err);
    if (rc == 0)
        rc = cli_store_open(ctx, &st, &err);
    if (rc != 0)
        return cli_fail(&err);
    if ((rc = init_admin(ctx, st, &admin, &err)) != 0)
        sn_err_hint(&err, "the store was created but its administrator could not be added: "
                          "remove '%s' and run init again", ctx->store_dir);
    if (rc == 0)
        rc = init_print(ctx, st, &err);
    node_store_close(st);
    return cli_finish(rc, &err);
}

static int status_text(sn_buf *b, const char *where, node_store *st, const node_counts *n,
                       const crdt_vv *held, sn_err *err)
{
    const crdt_origin *self = node_store_origin(st);
    char origin[CLI_ORIGIN_MAX];
    cli_origin_format(origin, self, false);
    int rc = sn_buf_append_str(b, "store      ", err);
    if (rc == 0)
        rc = cli_text_bytes(b, where, strlen(where), err);
    if (rc == 0)
        rc = sn_buf_append_str(b, "\nname       ", err);
    if (rc == 0)
        rc = cli_text_bytes(b, node_store_name(st), strlen(node_store_name(st)), err);
    if (rc == 0)
        rc = sn_buf_appendf(b, err,
                            "\norigin     %s\ncommits    %" PRIu64 "\nwaiting    %" PRIu64
                            "\nunknown    %" PRIu64 "\nconflicts  %" PRIu64
                            "\nquarantined %" PRIu64 "\norigins    %" PRIu64 "\nheld\n",
                            origin, n->commits, n->waiting, n->unknown, n->conflicts,
                            n->quarantined, n->origins);
    for (size_t i = 0; rc == 0 && i < held->n; i++) {
        cli_origin_format(origin, &held->e[i].origin, false);
        rc = sn_buf_appendf(b, err, "  %s  %" PRIu64 "%s\n", origin, held->e[i].seq,
                            crdt_origin_equal(&held->e[i].origin, self) ? "  (this store)"
                                                                        : "");
    }
    return rc;
}

static int status_json(sn_buf *b, const char *where, node_store *st, const node_counts *n,
                       const crdt_vv *held, sn_err *err)
{
    char origin[CLI_ORIGIN_MAX];
    cli_origin_format(origin, node_store_origin(st), false);
    int rc = sn_buf_append_str(b, "{\"store\":", err);
    if (rc == 0)
        rc = cli_json_cstr(b, where, err);
    if (rc == 0)
        rc = sn_buf_append_str(b, ",\"name\":", err);
    if (rc == 0)
        rc = cli_json_cstr(b, node_store_name(st), err);
    if (rc == 0)
        rc = sn_buf_appendf(b, err,
                            ",\"origin\":\"%s\",\"commits\":%" PRIu64 ",\"waiting\":%" PRIu64
                            ",\"unknown\":%" PRIu64 ",\"conflicts\":%" PRIu64
                            ",\"quarantined\":%" PRIu64 ",\"origins\":%" PRIu64 ",\"held\":",
                            origin, n->commits, n->waiting, n->unknown, n->conflicts,
                            n->quarantined, n->origins);
    if (rc == 0)
        rc = cli_json_vv(b, held, err);
    return rc;
}

int cli_cmd_status(cli_ctx *ctx, int argc, char **argv)
{
    cli_parsed p;
    int ex = cli_args_parse(ctx, &status_spec, NULL, 0, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &status_spec);
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    node_counts counts;
    crdt_vv held;
    crdt_vv_init(&held);
    int rc = cli_store_open(ctx, &st, &err);
    if (rc == 0)
        rc = node_store_counts(st, &counts, &err);
    if (rc == 0)
        rc = node_store_held(st, &held, &err);
    if (rc == 0) {
        char path[PATH_MAX];
        const char *where = store_path(ctx, path);
        rc = ctx->json ? status_json(&ctx->out, where, st, &counts, &held, &err)
                       : status_text(&ctx->out, where, st, &counts, &held, &err);
    }
    if (rc == 0)
        rc = cli_status_sync(ctx, st, &err);
    if (rc == 0)
        rc = cli_bundle_status(ctx, st, &err);
    if (rc == 0 && ctx->json)
        rc = sn_buf_append_str(&ctx->out, "}\n", &err);
    crdt_vv_free(&held);
    node_store_close(st);
    return cli_finish(rc, &err);
}

int cli_cmd_digest(cli_ctx *ctx, int argc, char **argv)
{
    cli_parsed p;
    int ex = cli_args_parse(ctx, &digest_spec, NULL, 0, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &digest_spec);
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    uint8_t digest[16];
    int rc = cli_store_open(ctx, &st, &err);
    if (rc == 0)
        rc = node_store_digest(st, digest, &err);
    if (rc == 0) {
        char hex[2 * sizeof digest + 1];
        sn_hex(hex, digest, sizeof digest);
        rc = sn_buf_appendf(&ctx->out, &err, ctx->json ? "{\"digest\":\"%s\"}\n" : "%s\n",
                            hex);
    }
    node_store_close(st);
    return cli_finish(rc, &err);
}
