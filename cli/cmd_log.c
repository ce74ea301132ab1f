/* cli/cmd_log.c - `outpost log export|import` and `outpost vector`: moving commits between
 * sites by file, and telling an exporter what a peer already holds. */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/output.h"
#include "node/logfile.h"
#include "node/units.h"

static const cli_spec export_spec = {
    .path = "log export",
    .synopsis = "[--peer-vector FILE] -o FILE",
    .help = "Write the commits this store holds to a log file, to be carried to another\n"
            "site and loaded there with 'outpost log import'. With --peer-vector, only the\n"
            "commits the peer lacks are written (the peer makes the file with\n"
            "'outpost vector -o FILE'). Prints the number of commits written.\n"
            "\n"
            "Options:\n"
            "  -o, --output FILE     the log file to write (replaced if it exists)\n"
            "  --peer-vector FILE    the peer's vector file: skip what it already holds\n"
            "  --json                print {\"exported\":N,\"file\":\"...\"}\n",
};

static const cli_spec import_spec = {
    .path = "log import",
    .synopsis = "FILE",
    .min_pos = 1,
    .max_pos = 1,
    .help = "Load a log file written by 'outpost log export' at another site. The whole\n"
            "file is checked first: a damaged, truncated or foreign file is refused and\n"
            "the store is left as it was. Importing the same file twice is harmless.\n"
            "Prints how many commits were received, newly stored, already held\n"
            "(duplicates), waiting for an earlier commit, applied, and kept for a newer\n"
            "schema (unknown).\n"
            "\n"
            "Options:\n"
            "  --json   the same as one JSON object\n",
};

static const cli_spec vector_spec = {
    .path = "vector",
    .synopsis = "[-o FILE]",
    .help = "Print the held vector: for each origin, the highest commit this store holds\n"
            "with none missing, one line per origin \"<replica hex> <epoch> <seq>\".\n"
            "Give the file to a peer so its 'outpost log export --peer-vector FILE' sends\n"
            "only what this store lacks.\n"
            "\n"
            "Options:\n"
            "  -o, --output FILE   write the vector file there instead of printing it\n"
            "  --json              print the vector as [{\"origin\":...,\"seq\":N}, ...]\n",
};

static int cmd_export(cli_ctx *ctx, int argc, char **argv)
{
    const char *out = NULL, *peer = NULL;
    const cli_opt opts[] = {
        {.name = "output", .short_name = 'o', .value = &out},
        {.name = "peer-vector", .value = &peer},
    };
    cli_parsed p;
    int ex = cli_args_parse(ctx, &export_spec, opts, 2, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &export_spec);
    if (out == NULL)
        return cli_usage_error(export_spec.path, "'outpost log export' needs -o FILE");

    sn_err err = SN_ERR_INIT;
    crdt_vv vv;
    crdt_vv_init(&vv);
    node_store *st = NULL;
    size_t count = 0;
    int rc = peer != NULL ? node_vecfile_read(&vv, peer, &err) : 0;
    if (rc == 0)
        rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0)
        rc = node_logfile_export(st, peer != NULL ? &vv : NULL, out, &count, &err);
    if (rc == 0) {
        /* Records leaving the node are audited, whoever carries the file. */
        char detail[NODE_AUDIT_DETAIL_MAX + 1];
        snprintf(detail, sizeof detail, "log export: %zu commit%s to '%.400s'", count,
                 count == 1 ? "" : "s", out);
        rc = cli_audit(ctx, st, NODE_AUDIT_EXPORT, NULL, detail, &err);
    }
    if (rc == 0 && ctx->json) {
        rc = sn_buf_appendf(&ctx->out, &err, "{\"exported\":%zu,\"file\":", count);
        if (rc == 0)
            rc = cli_json_cstr(&ctx->out, out, &err);
        if (rc == 0)
            rc = sn_buf_append_str(&ctx->out, "}\n", &err);
    } else if (rc == 0) {
        rc = sn_buf_appendf(&ctx->out, &err, "exported %zu commit%s to ", count,
                            count == 1 ? "" : "s");
        if (rc == 0)
            rc = cli_text_bytes(&ctx->out, out, strlen(out), &err);
        if (rc == 0)
            rc = sn_buf_append_str(&ctx->out, "\n", &err);
    }
    node_store_close(st);
    crdt_vv_free(&vv);
    return cli_finish(rc, &err);
}

static int count_quarantined(void *ctx, const node_quarantine *q, sn_err *err)
{
    (void)err;
    *(uint64_t *)ctx += q->last - q->first + 1;
    return 0;
}

static int cmd_import(cli_ctx *ctx, int argc, char **argv)
{
    cli_parsed p;
    int ex = cli_args_parse(ctx, &import_spec, NULL, 0, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &import_spec);
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    node_logfile_stats s = {0};
    uint64_t quarantined = 0;
    int rc = cli_store_open(ctx, &st, &err);
    if (rc == 0)
        rc = node_logfile_import(st, p.pos[0], &s, &err);
    if (rc == 0)
        rc = node_store_quarantine_each(st, count_quarantined, &quarantined, &err);
    const node_unit_stats *u = &s.units;
    if (rc == 0)
        rc = sn_buf_appendf(
            &ctx->out, &err,
            ctx->json ? "{\"units\":%zu,\"stored\":%zu,\"duplicates\":%zu,\"waiting\":%zu,"
                        "\"applied\":%zu,\"unknown\":%zu,\"quarantined\":%llu,"
                        "\"equivocations\":%zu,\"frozen\":%zu,\"crl\":%llu,"
                        "\"crl_taken\":%s}\n"
                      : "units          %zu\nstored         %zu\nduplicates     %zu\n"
                        "waiting        %zu\napplied        %zu\nunknown        %zu\n"
                        "quarantined    %llu\nequivocations  %zu\nfrozen         %zu\n"
                        "revocations    %llu%s\n",
            u->units, u->commits, u->duplicates, u->deferred, s.applied, u->unknown,
            (unsigned long long)quarantined, u->equivocations, u->frozen,
            (unsigned long long)s.crl_number,
            ctx->json ? (s.crl_taken ? "true" : "false")
                      : (s.crl_taken ? " (new list taken)" : ""));
    node_store_close(st);
    return cli_finish(rc, &err);
}

static const cli_sub log_subs[] = {
    {"export", cmd_export, "write the commits a peer lacks to a log file"},
    {"import", cmd_import, "load a log file from another site"},
};

int cli_cmd_log(cli_ctx *ctx, int argc, char **argv)
{
    /* `outpost log` alone, or with options, reads the history; a word picks a subcommand. */
    int i = 0;
    while (i < argc && strcmp(argv[i], "--json") == 0)
        i++;
    if (i == argc || (cli_arg_is_option(argv[i]) && !cli_arg_is_help(argv[i])))
        return cli_cmd_history(ctx, argc, argv);
    return cli_group_dispatch(ctx, "log",
                              "With no subcommand, list the commits this store holds: who\n"
                              "recorded what, when and at which site, oldest first.\n"
                              "  outpost log [--patient ID] [--user ID] [--json]\n"
                              "    --patient ID   only commits about this patient or one merged\n"
                              "                   with it (the listing is audited as a read)\n"
                              "    --user ID      only commits authored or entered by ID\n"
                              "\n"
                              "Log files carry commits between sites by hand (USB stick,\n"
                              "e-mail) when there is no network link between them.\n",
                              log_subs, sizeof log_subs / sizeof log_subs[0], argc, argv);
}

int cli_cmd_vector(cli_ctx *ctx, int argc, char **argv)
{
    const char *out = NULL;
    const cli_opt opts[] = {{.name = "output", .short_name = 'o', .value = &out}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &vector_spec, opts, 1, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &vector_spec);
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    crdt_vv held;
    crdt_vv_init(&held);
    int rc = cli_store_open(ctx, &st, &err);
    if (rc == 0)
        rc = node_store_held(st, &held, &err);
    if (rc == 0 && out != NULL) {
        rc = node_vecfile_write(&held, out, &err);
        if (rc == 0 && ctx->json) {
            rc = sn_buf_appendf(&ctx->out, &err, "{\"origins\":%zu,\"file\":", held.n);
            if (rc == 0)
                rc = cli_json_cstr(&ctx->out, out, &err);
            if (rc == 0)
                rc = sn_buf_append_str(&ctx->out, "}\n", &err);
        }
    } else if (rc == 0 && ctx->json) {
        rc = cli_json_vv(&ctx->out, &held, &err);
        if (rc == 0)
            rc = sn_buf_append_str(&ctx->out, "\n", &err);
    } else if (rc == 0) {
        rc = node_vector_format(&held, &ctx->out, &err);
    }
    crdt_vv_free(&held);
    node_store_close(st);
    return cli_finish(rc, &err);
}
