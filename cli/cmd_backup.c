/* cli/cmd_backup.c - `outpost backup FILE` and `outpost restore FILE`: a consistent copy
 * of the store while it is in use, and bringing one back (node_store_backup/_restore). */
#include "cli/cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/output.h"

static const cli_spec backup_spec = {
    .path = "backup",
    .synopsis = "FILE [--force]",
    .min_pos = 1,
    .max_pos = 1,
    .help = "Copy the whole store (records, commit log, users, audit log, certificates)\n"
            "into FILE, a new file readable by you only, while the store stays in use; the\n"
            "copy is checked before it is put in place. Administrators only; the backup is\n"
            "recorded in the audit log. The secret key file (`keys` in the store\n"
            "directory) is not in the backup: keep one copy of it apart, safely.\n"
            "\n"
            "Bring a backup back with 'outpost restore FILE'.\n"
            "\n"
            "Options:\n"
            "  --force   replace FILE if it exists\n"
            "  --json    print {\"backup\",\"store\",\"origin\"}\n",
};

static const cli_spec restore_spec = {
    .path = "restore",
    .synopsis = "FILE [--store DIR] [--keys KEYFILE]",
    .min_pos = 1,
    .max_pos = 1,
    .help = "Bring back a store from a backup made by 'outpost backup' into the store\n"
            "directory (--store DIR here or before the command, $OUTPOST_STORE, ...),\n"
            "which must hold no store. The backup is checked first; a damaged or foreign\n"
            "file is refused and the directory is left as it was.\n"
            "\n"
            "The node's secret keys are not in a backup. To replace a damaged store,\n"
            "move its store.db, store.db-wal and store.db-shm aside, keep `keys`, and\n"
            "restore into the same directory. Into a new directory, give a copy of the\n"
            "node's key file with --keys (copied in, mode 0600).\n"
            "\n"
            "The restored store takes a new epoch (a new origin for its commits) the first\n"
            "time it is opened: after the backup was made it may have signed commits that\n"
            "other sites hold, and it must never number two commits alike. Those commits\n"
            "come back with the next exchange. Run restore as the user who owns the store.\n"
            "\n"
            "Options:\n"
            "  --store DIR      the directory to restore into\n"
            "  --keys KEYFILE   copy this key file into the directory\n"
            "  --json           print {\"store\",\"name\",\"origin\",\"backup\"}\n",
};

int cli_cmd_backup(cli_ctx *ctx, int argc, char **argv)
{
    bool force = false;
    const cli_opt opts[] = {{.name = "force", .flag = &force}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &backup_spec, opts, 1, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &backup_spec);
    const char *file = p.pos[0];
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    int rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0)
        rc = cli_admin_require(ctx, "back up the store", &err);
    if (rc == 0)
        rc = node_store_backup(st, file, force, &err);
    if (rc == 0) {
        char detail[NODE_AUDIT_DETAIL_MAX + 1];
        snprintf(detail, sizeof detail, "backup: the whole store to '%.400s'", file);
        rc = cli_audit(ctx, st, NODE_AUDIT_EXPORT, NULL, detail, &err);
    }
    char origin[CLI_ORIGIN_MAX];
    if (rc == 0)
        cli_origin_format(origin, node_store_origin(st), false);
    sn_buf *b = &ctx->out;
    if (rc == 0 && ctx->json) {
        rc = sn_buf_append_str(b, "{\"backup\":", &err);
        if (rc == 0)
            rc = cli_json_cstr(b, file, &err);
        if (rc == 0)
            rc = sn_buf_append_str(b, ",\"store\":", &err);
        if (rc == 0)
            rc = cli_json_cstr(b, ctx->store_dir, &err);
        if (rc == 0)
            rc = sn_buf_appendf(b, &err, ",\"origin\":\"%s\"}\n", origin);
    } else if (rc == 0) {
        rc = sn_buf_append_str(b, "backed up store ", &err);
        if (rc == 0)
            rc = cli_text_bytes(b, node_store_name(st), strlen(node_store_name(st)), &err);
        if (rc == 0)
            rc = sn_buf_appendf(b, &err, " (origin %s) to ", origin);
        if (rc == 0)
            rc = cli_text_bytes(b, file, strlen(file), &err);
        if (rc == 0)
            rc = sn_buf_append_str(b, "\nthe secret key file is not in the backup: keep a copy "
                                      "of ", &err);
        if (rc == 0)
            rc = cli_text_bytes(b, ctx->store_dir, strlen(ctx->store_dir), &err);
        if (rc == 0)
            rc = sn_buf_append_str(b, "/keys apart, safely\n", &err);
    }
    node_store_close(st);
    return cli_finish(rc, &err);
}

static int restore_print(cli_ctx *ctx, const char *file, const node_restore_info *info,
                         sn_err *err)
{
    char origin[CLI_ORIGIN_MAX];
    cli_origin_format(origin, &info->origin, false);
    sn_buf *b = &ctx->out;
    int rc;
    if (ctx->json) {
        rc = sn_buf_append_str(b, "{\"store\":", err);
        if (rc == 0)
            rc = cli_json_cstr(b, ctx->store_dir, err);
        if (rc == 0)
            rc = sn_buf_append_str(b, ",\"name\":", err);
        if (rc == 0)
            rc = cli_json_cstr(b, info->name, err);
        if (rc == 0)
            rc = sn_buf_appendf(b, err, ",\"origin\":\"%s\",\"backup\":", origin);
        if (rc == 0)
            rc = cli_json_cstr(b, file, err);
        return rc != 0 ? rc : sn_buf_append_str(b, "}\n", err);
    }
    rc = sn_buf_append_str(b, "restored store ", err);
    if (rc == 0)
        rc = cli_text_bytes(b, info->name, strlen(info->name), err);
    if (rc == 0)
        rc = sn_buf_appendf(b, err, " (origin %s) into ", origin);
    if (rc == 0)
        rc = cli_text_bytes(b, ctx->store_dir, strlen(ctx->store_dir), err);
    if (rc == 0)
        rc = sn_buf_append_str(b, " from ", err);
    if (rc == 0)
        rc = cli_text_bytes(b, file, strlen(file), err);
    if (rc == 0)
        rc = sn_buf_append_str(
            b,
            "\nits first open takes a new epoch: after this backup was made the store may have\n"
            "signed commits that other sites hold, and it must never number two commits\n"
            "alike; those commits come back with the next exchange\n",
            err);
    return rc;
}

int cli_cmd_restore(cli_ctx *ctx, int argc, char **argv)
{
    const char *store = NULL, *keys = NULL;
    const cli_opt opts[] = {{.name = "store", .value = &store}, {.name = "keys", .value = &keys}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &restore_spec, opts, 2, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &restore_spec);
    if (store != NULL)
        ctx->store_dir = store;
    sn_err err = SN_ERR_INIT;
    node_restore_info info;
    int rc = node_store_restore(p.pos[0], ctx->store_dir, keys, &info, &err);
    if (rc == 0)
        rc = restore_print(ctx, p.pos[0], &info, &err);
    return cli_finish(rc, &err);
}
