/* cli/cmd_users.c - `outpost user add|list|disable`: the node's clinicians, kept by its
 * administrators. Users are local to the node and never replicated; each management act
 * is an 'A' event in the audit log. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/output.h"

static const cli_spec add_spec = {
    .path = "user add",
    .synopsis = "--id ID --name NAME [--role clinician|admin] --os-user LOGIN",
    .help = "Add a clinician to this node (administrators only). Everything the clinician\n"
            "records is written under ID, and they are recognised by the login name they\n"
            "use on this machine. An administrator can also manage users and record for\n"
            "another clinician with --as.\n"
            "\n"
            "Options:\n"
            "  --id ID          clinician id, e.g. an SDS user id or \"dr.hughes\": letters,\n"
            "                   digits and . _ - @, at most 64\n"
            "  --name NAME      the clinician's name as colleagues know it\n"
            "  --role ROLE      clinician (default) or admin\n"
            "  --os-user LOGIN  the OS login name the clinician works under\n"
            "  --json           print {\"id\":...}\n",
};

static const cli_spec list_spec = {
    .path = "user list",
    .synopsis = "",
    .help = "List this node's users (administrators only): id, name, role, OS user and\n"
            "whether they are enabled.\n"
            "\n"
            "Options:\n"
            "  --json   an array of {\"id\",\"name\",\"role\",\"os_user\",\"enabled\"}\n",
};

static const cli_spec disable_spec = {
    .path = "user disable",
    .synopsis = "ID",
    .help = "Disable user ID (administrators only): they can no longer record or read\n"
            "here; what they recorded stays theirs. The last enabled administrator cannot\n"
            "be disabled.\n"
            "\n"
            "Options:\n"
            "  --json   print {\"id\":...,\"disabled\":true}\n",
    .min_pos = 1,
    .max_pos = 1,
};

/* Open the store as an administrator; `what` names the act for a refusal. */
static int open_admin(cli_ctx *ctx, node_store **st, const char *what, sn_err *err)
{
    int rc = cli_store_open_user(ctx, st, err);
    if (rc == 0 && (rc = cli_admin_require(ctx, what, err)) != 0) {
        node_store_close(*st);
        *st = NULL;
    }
    return rc;
}

static int cmd_add(cli_ctx *ctx, int argc, char **argv)
{
    const char *id = NULL, *name = NULL, *role = "clinician", *os = NULL;
    const cli_opt opts[] = {{.name = "id", .value = &id},
                            {.name = "name", .value = &name},
                            {.name = "role", .value = &role},
                            {.name = "os-user", .value = &os}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &add_spec, opts, 4, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &add_spec);
    if (id == NULL || name == NULL || os == NULL)
        return cli_usage_error(add_spec.path, "'outpost user add' needs --id, --name and "
                                              "--os-user");
    sn_err err = SN_ERR_INIT;
    node_user u = {0};
    if (node_role_parse(role, &u.role) != 0) {
        sn_err_set(&err, SN_EINVAL, "unknown role '%s'", role);
        sn_err_hint(&err, "a role is clinician or admin");
        return cli_fail(&err);
    }
    if (strlen(id) > NODE_USER_ID_MAX || strlen(os) > NODE_USER_ID_MAX ||
        strlen(name) > NODE_USER_NAME_MAX) {
        sn_err_set(&err, SN_EINVAL, "user id and OS user may be at most %d bytes, the name %d",
                   NODE_USER_ID_MAX, NODE_USER_NAME_MAX);
        return cli_fail(&err);
    }
    snprintf(u.id, sizeof u.id, "%s", id);
    snprintf(u.name, sizeof u.name, "%s", name);
    snprintf(u.os_user, sizeof u.os_user, "%s", os);
    node_store *st = NULL;
    int rc = open_admin(ctx, &st, "add users", &err);
    if (rc == 0)
        rc = node_user_add(st, &u, &err);
    if (rc == 0) {
        char detail[NODE_AUDIT_DETAIL_MAX + 1];
        snprintf(detail, sizeof detail, "user add %s (%s, OS user %s)", u.id,
                 node_role_name(u.role), u.os_user);
        rc = cli_audit(ctx, st, NODE_AUDIT_ADMIN, NULL, detail, &err);
    }
    if (rc == 0) {
        rc = sn_buf_append_str(&ctx->out, ctx->json ? "{\"id\":" : "added user ", &err);
        if (rc == 0)
            rc = ctx->json ? cli_json_cstr(&ctx->out, u.id, &err)
                           : cli_text_bytes(&ctx->out, u.id, strlen(u.id), &err);
        if (rc == 0)
            rc = sn_buf_append_str(&ctx->out, ctx->json ? "}\n" : "\n", &err);
    }
    node_store_close(st);
    return cli_finish(rc, &err);
}

typedef struct user_list {
    cli_ctx *ctx;
    cli_grid grid;
    size_t n;
} user_list;

static int each_user(void *vctx, const node_user *u, sn_err *err)
{
    user_list *ul = vctx;
    sn_buf *b = &ul->ctx->out;
    int rc = 0;
    if (ul->ctx->json) {
        rc = sn_buf_append_str(b, ul->n > 0 ? ",{\"id\":" : "{\"id\":", err);
        if (rc == 0)
            rc = cli_json_cstr(b, u->id, err);
        if (rc == 0)
            rc = sn_buf_append_str(b, ",\"name\":", err);
        if (rc == 0)
            rc = cli_json_cstr(b, u->name, err);
        if (rc == 0)
            rc = sn_buf_appendf(b, err, ",\"role\":\"%s\",\"os_user\":", node_role_name(u->role));
        if (rc == 0)
            rc = cli_json_cstr(b, u->os_user, err);
        if (rc == 0)
            rc = sn_buf_appendf(b, err, ",\"enabled\":%s}", u->disabled ? "false" : "true");
    } else {
        /* Ids and OS users are plain by construction; names are checked for the terminal. */
        sn_buf name;
        sn_buf_init(&name, CLI_CELL_MAX);
        rc = cli_text_bytes(&name, u->name, strlen(u->name), err);
        if (rc == 0)
            rc = sn_buf_append(&name, "", 1, err);
        if (rc == 0) {
            const char *row[] = {u->id, (const char *)name.data, node_role_name(u->role),
                                 u->os_user, u->disabled ? "disabled" : "enabled"};
            rc = cli_grid_add(&ul->grid, row, err);
        }
        sn_buf_free(&name);
    }
    ul->n++;
    return rc;
}

static int cmd_list(cli_ctx *ctx, int argc, char **argv)
{
    cli_parsed p;
    int ex = cli_args_parse(ctx, &list_spec, NULL, 0, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &list_spec);
    static const char *const header[] = {"ID", "NAME", "ROLE", "OS USER", "STATUS"};
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    user_list ul = {.ctx = ctx};
    int rc = open_admin(ctx, &st, "list users", &err);
    if (rc == 0)
        rc = ctx->json ? sn_buf_append_str(&ctx->out, "[", &err)
                       : cli_grid_init(&ul.grid, 5, header, &err);
    if (rc == 0)
        rc = node_user_each(st, each_user, &ul, &err);
    if (rc == 0)
        rc = ctx->json ? sn_buf_append_str(&ctx->out, "]\n", &err)
                       : cli_grid_render(&ul.grid, &ctx->out, &err);
    cli_grid_free(&ul.grid);
    node_store_close(st);
    return cli_finish(rc, &err);
}

static int cmd_disable(cli_ctx *ctx, int argc, char **argv)
{
    cli_parsed p;
    int ex = cli_args_parse(ctx, &disable_spec, NULL, 0, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &disable_spec);
    const char *id = p.pos[0];
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    int rc = open_admin(ctx, &st, "disable users", &err);
    if (rc == 0)
        rc = node_user_disable(st, id, &err);
    if (rc == 0) {
        char detail[NODE_AUDIT_DETAIL_MAX + 1];
        snprintf(detail, sizeof detail, "user disable %.400s", id);
        rc = cli_audit(ctx, st, NODE_AUDIT_ADMIN, NULL, detail, &err);
    }
    if (rc == 0) {
        rc = sn_buf_append_str(&ctx->out, ctx->json ? "{\"id\":" : "disabled user ", &err);
        if (rc == 0)
            rc = ctx->json ? cli_json_cstr(&ctx->out, id, &err)
                           : cli_text_bytes(&ctx->out, id, strlen(id), &err);
        if (rc == 0)
            rc = sn_buf_append_str(&ctx->out, ctx->json ? ",\"disabled\":true}\n" : "\n", &err);
    }
    node_store_close(st);
    return cli_finish(rc, &err);
}

static const cli_sub user_subs[] = {
    {"add", cmd_add, "add a clinician or administrator"},
    {"list", cmd_list, "list the users of this node"},
    {"disable", cmd_disable, "stop a user from recording and reading"},
};

int cli_cmd_user(cli_ctx *ctx, int argc, char **argv)
{
    return cli_group_dispatch(ctx, "user",
                              "Who may use this node. Each OS login that records or reads\n"
                              "patient records must be mapped to a clinician here; only an\n"
                              "administrator may add, list or disable users.\n",
                              user_subs, sizeof user_subs / sizeof user_subs[0], argc, argv);
}
