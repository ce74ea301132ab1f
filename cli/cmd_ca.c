/* cli/cmd_ca.c - `outpost ca init|issue|revoke|list|show`: the deployment's certificate
 * authority (node/ca.h), run wherever its key is kept. These commands work on a CA
 * directory (--ca DIR, else $OUTPOST_CA, else ./outpost-ca), never on a node store. */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "cli/args.h"
#include "cli/cert_view.h"
#include "cli/output.h"
#include "node/ca.h"
#include "node/fileio.h"

#define CA_DIR_HELP                                                                        \
    "  --ca DIR     the CA directory (default: $OUTPOST_CA, else ./" NODE_CA_DIR_DEFAULT ")\n"
#define REQUEST_MAX 4096

static const cli_spec init_spec = {
    .path = "ca init",
    .synopsis = "[--name NAME] [--days N] [--ca DIR]",
    .help = "Create the deployment's certificate authority in a new or empty directory: its\n"
            "key (ca.key, mode 0600), its self-signed root certificate (ca.cert), an empty\n"
            "revocation list (crl, number 1) and its state. Run it once, on the machine that\n"
            "will keep the CA key: an offline workstation, or the hub in a small deployment.\n"
            "Back the directory up: a lost ca.key cannot be made again, and every node would\n"
            "have to be enrolled anew.\n"
            "\n"
            "Options:\n"
            "  --name NAME  the CA's name, shown on nodes when they enrol\n"
            "               (default \"Outpost CA\")\n"
            "  --days N     how long the root certificate is valid (default 7300, 20 years)\n"
            CA_DIR_HELP
            "  --json       print {\"ca\",\"name\",\"key_id\",\"fingerprint\",\"valid_until\"}\n",
};

static const cli_spec issue_spec = {
    .path = "ca issue",
    .synopsis = "REQUEST [-o CERT] [--role node|hub] [--name NAME] [--days N]\n"
                "                        [--expect-fingerprint FP] [--ca DIR]",
    .help = "Issue a certificate for a node's enrolment request (made on the node with\n"
            "'outpost enroll request'). The request's signature proves the node holds the\n"
            "keys in it; who the node is, only a person can tell. So the request's\n"
            "fingerprint, node name and replica id are printed: compare the fingerprint with\n"
            "the one the node showed, every group, before the certificate is installed -\n"
            "or give it with --expect-fingerprint and a request that differs is refused.\n"
            "Every certificate is kept in the CA directory as issued/SERIAL.cert.\n"
            "\n"
            "Options:\n"
            "  -o, --output CERT        also write the certificate there (replaced if it exists)\n"
            "  --role ROLE              node (default) or hub\n"
            "  --name NAME              the name in the certificate (default: the request's)\n"
            "  --days N                 validity in days (default 180; up to 36500 for a ship\n"
            "                           away for many months)\n"
            "  --expect-fingerprint FP  refuse unless the request's fingerprint is FP (case,\n"
            "                           spaces and dashes do not matter)\n"
            CA_DIR_HELP
            "  --json                   print the certificate, fingerprint and file as JSON\n",
    .min_pos = 1,
    .max_pos = 1,
};

static const cli_spec revoke_spec = {
    .path = "ca revoke",
    .synopsis = "NODE --last-good-seq N [--epoch E] [--reason R] [-o CRL] [--ca DIR]",
    .help = "Revoke a node (a lost laptop, a captured device): every certificate of it not\n"
            "yet revoked goes into a new revocation list, numbered one more than the last,\n"
            "written to the CA directory as crl. NODE is a certificate name, a replica id\n"
            "(32 hex digits) or a serial, as 'outpost ca list' shows them. Commits the node\n"
            "made up to --last-good-seq stay valid; later ones are kept for review, never\n"
            "applied. Give the new list to every hub and node: 'outpost trust add-crl FILE'.\n"
            "\n"
            "Options:\n"
            "  --last-good-seq N  the node's last commit to keep trusting: the highest the\n"
            "                     hubs had accepted from it (required; 0 trusts none)\n"
            "  --epoch E          the node's epoch N counts in (default 1)\n"
            "  --reason R         lost (default), compromised, retired or superseded\n"
            "  -o, --output CRL   also write a copy of the new list there\n" CA_DIR_HELP
            "  --json             print {\"crl_number\",\"replica\",\"revoked\",\"file\"}\n",
    .min_pos = 1,
    .max_pos = 1,
};

static const cli_spec list_spec = {
    .path = "ca list",
    .synopsis = "[--json] [--ca DIR]",
    .help = "List every certificate this CA issued: serial, name, role, replica id,\n"
            "validity, and whether it is active, expired or revoked (with the reason).\n"
            "\n"
            "Options:\n" CA_DIR_HELP
            "  --json       an array of {\"serial\",\"name\",\"role\",\"replica\",\n"
            "               \"valid_after\",\"valid_before\",\"status\"[,\"revocation\"]}\n",
};

static const cli_spec show_spec = {
    .path = "ca show",
    .synopsis = "[--json] [--ca DIR]",
    .help = "Show the CA: its name, key id and the fingerprint of its certificate (the one\n"
            "'outpost enroll install' shows on each node, to be compared aloud), the next\n"
            "serial and the current revocation list.\n"
            "\n"
            "Options:\n" CA_DIR_HELP "  --json       the same as one JSON object\n",
};

static const char *ca_dir(const char *opt)
{
    if (opt != NULL)
        return opt;
    const char *env = getenv("OUTPOST_CA");
    return env != NULL && env[0] != '\0' ? env : NODE_CA_DIR_DEFAULT;
}

static uint64_t now_s(void)
{
    return (uint64_t)time(NULL);
}

/* Parse option --name's value into [min, max]; a usage error (CLI_EX_USAGE) otherwise. */
static int number_opt(const char *path, const char *name, const char *text, uint64_t min,
                      uint64_t max, uint64_t *out)
{
    if (text == NULL)
        return 0;
    if (!node_ca_decimal_parse(text, out) || *out < min || *out > max)
        return cli_usage_error(path, "--%s needs a whole number from %" PRIu64 " to %" PRIu64
                               ", not '%s'", name, min, max, text);
    return 0;
}

/* Append "label  text\n" (text terminal-safe) or nothing when text is NULL. */
static int text_line(sn_buf *b, const char *label, const char *text, sn_err *err)
{
    int rc = sn_buf_appendf(b, err, "%-13s", label);
    if (rc == 0)
        rc = cli_text_bytes(b, text, strlen(text), err);
    return rc != 0 ? rc : sn_buf_append_str(b, "\n", err);
}

/* The CA's description: text lines or JSON members (without braces). */
static int ca_describe(cli_ctx *ctx, node_ca *ca, bool full, sn_err *err)
{
    const sync_cert *root = node_ca_root(ca);
    const sync_crl *crl = node_ca_crl(ca);
    char fp[SYNC_FINGERPRINT_MAX], kid[2 * SYNC_KID_LEN + 1], until[CLI_CERT_TIME_MAX],
        next[CLI_CERT_TIME_MAX];
    node_ca_fingerprint(ca, fp);
    sn_hex(kid, root->issuer_kid, SYNC_KID_LEN);
    cli_cert_time(until, root->valid_before, !ctx->json);
    cli_cert_time(next, crl->next_update, !ctx->json);
    sn_buf *b = &ctx->out;
    int rc;
    if (ctx->json) {
        rc = sn_buf_append_str(b, "\"ca\":", err);
        if (rc == 0)
            rc = cli_json_cstr(b, node_ca_dir(ca), err);
        if (rc == 0)
            rc = sn_buf_append_str(b, ",\"name\":", err);
        if (rc == 0)
            rc = cli_json_cstr(b, root->name, err);
        if (rc == 0)
            rc = sn_buf_appendf(b, err, ",\"key_id\":\"%s\",\"fingerprint\":\"%s\","
                                "\"valid_until\":\"%s\"", kid, fp, until);
        if (rc == 0 && full)
            rc = sn_buf_appendf(b, err, ",\"next_serial\":%" PRIu64 ",\"crl_number\":%" PRIu64
                                ",\"crl_entries\":%zu,\"crl_next_update\":\"%s\"",
                                node_ca_next_serial(ca), crl->number, crl->n, next);
        return rc;
    }
    rc = text_line(b, "name", root->name, err);
    if (rc == 0)
        rc = sn_buf_appendf(b, err, "key id       %s\nfingerprint  %s\nvalid until  %s\n", kid,
                            fp, until);
    if (rc == 0 && full)
        rc = sn_buf_appendf(b, err, "next serial  %" PRIu64 "\nrevocation   list %" PRIu64
                            ", %zu entr%s, next update due %s\n",
                            node_ca_next_serial(ca), crl->number, crl->n,
                            crl->n == 1 ? "y" : "ies", next);
    return rc;
}

static int cmd_init(cli_ctx *ctx, int argc, char **argv)
{
    const char *dir = NULL, *name = "Outpost CA", *days_text = NULL;
    const cli_opt opts[] = {{.name = "name", .value = &name},
                            {.name = "days", .value = &days_text},
                            {.name = "ca", .value = &dir}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &init_spec, opts, 3, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &init_spec);
    uint64_t days = NODE_CA_ROOT_DAYS_DEFAULT;
    if ((ex = number_opt(init_spec.path, "days", days_text, 1, NODE_CA_DAYS_MAX, &days)) != 0)
        return ex;
    dir = ca_dir(dir);
    sn_err err = SN_ERR_INIT;
    node_ca *ca = NULL;
    int rc = node_ca_init(dir, name, (uint32_t)days, now_s(), &err);
    if (rc == 0)
        rc = node_ca_open(&ca, dir, &err);
    if (rc == 0)
        rc = ctx->json ? sn_buf_append_str(&ctx->out, "{", &err)
                       : text_line(&ctx->out, "created CA", dir, &err);
    if (rc == 0)
        rc = ca_describe(ctx, ca, false, &err);
    if (rc == 0)
        rc = sn_buf_append_str(&ctx->out,
                               ctx->json ? "}\n"
                                         : "Keep ca.key secret and offline, and back up the "
                                           "whole directory.\n",
                               &err);
    node_ca_close(ca);
    return cli_finish(rc, &err);
}

/* What `ca issue` prints after issuing c for the request in req[0..n). */
static int issue_print(cli_ctx *ctx, const sync_cert *c, const uint8_t *req, size_t n,
                       const char *file, const char *out, bool expected, sn_err *err)
{
    sync_enroll_request r;
    int rc = sync_enroll_request_parse(req, n, &r, err);
    if (rc != 0)
        return rc;
    char fp[SYNC_FINGERPRINT_MAX], replica[33], until[CLI_CERT_TIME_MAX];
    sync_fingerprint(fp, req, n);
    sn_hex(replica, r.replica, sizeof r.replica);
    sn_buf *b = &ctx->out;
    if (ctx->json) {
        rc = sn_buf_append_str(b, "{", err);
        if (rc == 0)
            rc = cli_cert_json(b, c, err);
        if (rc == 0)
            rc = sn_buf_appendf(b, err, ",\"epoch\":%" PRIu32 ",\"fingerprint\":\"%s\","
                                "\"request_name\":", r.epoch, fp);
        if (rc == 0)
            rc = cli_json_cstr(b, r.name, err);
        if (rc == 0)
            rc = sn_buf_append_str(b, ",\"file\":", err);
        if (rc == 0)
            rc = cli_json_cstr(b, file, err);
        if (rc == 0)
            rc = sn_buf_append_str(b, ",\"output\":", err);
        if (rc == 0)
            rc = cli_json_cstr(b, out, err);
        return rc != 0 ? rc : sn_buf_append_str(b, "}\n", err);
    }
    cli_cert_time(until, c->valid_before, true);
    rc = sn_buf_appendf(b, err, "request fingerprint  %s\n", fp);
    if (rc == 0)
        rc = sn_buf_appendf(b, err, "node name            %s\nreplica              %s/%" PRIu32
                            "\nissued               serial %" PRIu64 ", %s '%s', valid until "
                            "%s\ncertificate          ",
                            r.name, replica, r.epoch, c->serial, cli_cert_role(c), c->name,
                            until);
    if (rc == 0)
        rc = cli_text_bytes(b, file, strlen(file), err);
    if (rc == 0 && out != NULL) {
        rc = sn_buf_append_str(b, "\n                     ", err);
        if (rc == 0)
            rc = cli_text_bytes(b, out, strlen(out), err);
    }
    if (rc == 0)
        rc = sn_buf_append_str(b, expected ? "\nThe fingerprint is the one expected.\n"
                                           : "\nCompare the fingerprint with the one the node "
                                             "showed; hand the certificate\nover only if every "
                                             "group is the same.\n",
                               err);
    return rc;
}

static int cmd_issue(cli_ctx *ctx, int argc, char **argv)
{
    const char *dir = NULL, *out = NULL, *role = "node", *name = NULL, *days_text = NULL,
               *expect = NULL;
    const cli_opt opts[] = {{.name = "output", .short_name = 'o', .value = &out},
                            {.name = "role", .value = &role},
                            {.name = "name", .value = &name},
                            {.name = "days", .value = &days_text},
                            {.name = "expect-fingerprint", .value = &expect},
                            {.name = "ca", .value = &dir}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &issue_spec, opts, 6, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &issue_spec);
    uint64_t days = NODE_CA_DAYS_DEFAULT;
    if ((ex = number_opt(issue_spec.path, "days", days_text, 1, NODE_CA_DAYS_MAX, &days)) != 0)
        return ex;
    node_ca_issue_opts o = {.name = name, .days = (uint32_t)days, .expect_fingerprint = expect};
    if (strcmp(role, "node") == 0)
        o.type = SYNC_CERT_NODE;
    else if (strcmp(role, "hub") == 0)
        o.type = SYNC_CERT_HUB;
    else
        return cli_usage_error(issue_spec.path, "--role is node or hub, not '%s'", role);
    sn_err err = SN_ERR_INIT;
    sn_buf req, cert;
    sn_buf_init(&cert, SYNC_CERT_MAX);
    node_ca *ca = NULL;
    int rc = node_file_read(p.pos[0], REQUEST_MAX, &req, &err);
    if (rc != 0) {
        sn_err_prefix(&err, "reading the enrolment request");
        return cli_fail(&err);
    }
    rc = node_ca_open(&ca, ca_dir(dir), &err);
    sync_cert c;
    if (rc == 0)
        rc = node_ca_issue(ca, req.data, req.len, &o, now_s(), &c, &cert, &err);
    char file[4096];
    if (rc == 0)
        snprintf(file, sizeof file, "%s/issued/%" PRIu64 ".cert", node_ca_dir(ca), c.serial);
    if (rc == 0 && out != NULL &&
        (rc = node_file_write_atomic(out, cert.data, cert.len, &err)) != 0)
        sn_err_hint(&err, "the certificate was issued as serial %" PRIu64 "; copy it from '%s'",
                    c.serial, file);
    if (rc == 0)
        rc = issue_print(ctx, &c, req.data, req.len, file, out, expect != NULL, &err);
    node_ca_close(ca);
    sn_buf_free(&req);
    sn_buf_free(&cert);
    return cli_finish(rc, &err);
}

/* What `ca revoke` prints: the list's number and the serials it holds for `replica`. */
static int revoke_print(cli_ctx *ctx, node_ca *ca, const char *node, const uint8_t *replica,
                        size_t added, const char *out, sn_err *err)
{
    const sync_crl *crl = node_ca_crl(ca);
    char hex[33], file[4096];
    sn_hex(hex, replica, 16);
    snprintf(file, sizeof file, "%s/crl", node_ca_dir(ca));
    sn_buf *b = &ctx->out;
    int rc;
    if (ctx->json) {
        rc = sn_buf_appendf(b, err, "{\"crl_number\":%" PRIu64 ",\"replica\":\"%s\","
                            "\"revoked\":[", crl->number, hex);
        size_t k = 0;
        for (size_t i = 0; rc == 0 && i < crl->n; i++)
            if (memcmp(crl->entries[i].replica, replica, 16) == 0)
                rc = sn_buf_appendf(b, err, "%s%" PRIu64, k++ > 0 ? "," : "",
                                    crl->entries[i].serial);
        if (rc == 0)
            rc = sn_buf_append_str(b, "],\"file\":", err);
        if (rc == 0)
            rc = cli_json_cstr(b, file, err);
        if (rc == 0)
            rc = sn_buf_append_str(b, ",\"output\":", err);
        if (rc == 0)
            rc = cli_json_cstr(b, out, err);
        return rc != 0 ? rc : sn_buf_append_str(b, "}\n", err);
    }
    rc = sn_buf_append_str(b, "revoked      ", err);
    if (rc == 0)
        rc = cli_text_bytes(b, node, strlen(node), err);
    if (rc == 0)
        rc = sn_buf_appendf(b, err, " (replica %s): %zu certificate%s; serials listed:", hex,
                            added, added == 1 ? "" : "s");
    for (size_t i = 0; rc == 0 && i < crl->n; i++)
        if (memcmp(crl->entries[i].replica, replica, 16) == 0)
            rc = sn_buf_appendf(b, err, " %" PRIu64, crl->entries[i].serial);
    if (rc == 0)
        rc = sn_buf_appendf(b, err, "\nrevocation   list %" PRIu64 " in ", crl->number);
    if (rc == 0)
        rc = cli_text_bytes(b, file, strlen(file), err);
    if (rc == 0 && out != NULL) {
        rc = sn_buf_append_str(b, " and ", err);
        if (rc == 0)
            rc = cli_text_bytes(b, out, strlen(out), err);
    }
    if (rc == 0)
        rc = sn_buf_append_str(b, "\nGive the list to every hub and node: outpost trust "
                                  "add-crl FILE\n", err);
    return rc;
}

static int cmd_revoke(cli_ctx *ctx, int argc, char **argv)
{
    const char *dir = NULL, *out = NULL, *seq_text = NULL, *epoch_text = NULL,
               *reason_text = "lost";
    const cli_opt opts[] = {{.name = "last-good-seq", .value = &seq_text},
                            {.name = "epoch", .value = &epoch_text},
                            {.name = "reason", .value = &reason_text},
                            {.name = "output", .short_name = 'o', .value = &out},
                            {.name = "ca", .value = &dir}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &revoke_spec, opts, 5, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &revoke_spec);
    if (seq_text == NULL)
        return cli_usage_error(revoke_spec.path, "'outpost ca revoke' needs --last-good-seq N "
                                                 "(0 keeps none of the node's commits)");
    node_ca_revoke_opts o = {.node = p.pos[0], .epoch = 1};
    uint64_t epoch = 1;
    if ((ex = number_opt(revoke_spec.path, "last-good-seq", seq_text, 0, UINT64_MAX,
                         &o.last_good_seq)) != 0 ||
        (ex = number_opt(revoke_spec.path, "epoch", epoch_text, 1, UINT32_MAX, &epoch)) != 0)
        return ex;
    o.epoch = (uint32_t)epoch;
    sn_err err = SN_ERR_INIT;
    if (node_ca_reason_parse(reason_text, &o.reason, NULL) != 0)
        return cli_usage_error(revoke_spec.path, "--reason is lost, compromised, retired or "
                                                 "superseded, not '%s'", reason_text);
    node_ca *ca = NULL;
    size_t added = 0;
    uint8_t replica[16];
    int rc = node_ca_open(&ca, ca_dir(dir), &err);
    if (rc == 0)
        rc = node_ca_revoke(ca, &o, now_s(), &added, replica, &err);
    if (rc == 0 && out != NULL) {
        sn_buf b;
        sn_buf_init(&b, (size_t)SYNC_CRL_MAX_ENTRIES * SYNC_CRL_ENTRY_LEN + 4096);
        rc = sync_crl_encode(node_ca_crl(ca), &b, &err);
        if (rc == 0)
            rc = node_file_write_atomic(out, b.data, b.len, &err);
        if (rc != 0)
            sn_err_hint(&err, "the node was revoked; copy the list from '%s/crl'",
                        node_ca_dir(ca));
        sn_buf_free(&b);
    }
    if (rc == 0)
        rc = revoke_print(ctx, ca, o.node, replica, added, out, &err);
    node_ca_close(ca);
    return cli_finish(rc, &err);
}

/* "active", "expired" or "revoked (reason)" for a list. */
static void item_status(const node_ca_item *it, uint64_t now, char out[static 48])
{
    if (it->revoked)
        snprintf(out, 48, "revoked (%s)", node_ca_reason_name(it->entry.reason));
    else
        snprintf(out, 48, "%s", now >= it->cert.valid_before ? "expired" : "active");
}

static int list_json(cli_ctx *ctx, const node_ca_item *v, size_t n, sn_err *err)
{
    sn_buf *b = &ctx->out;
    uint64_t now = now_s();
    int rc = sn_buf_append_str(b, "[", err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char status[48];
        item_status(&v[i], now, status);
        *strchrnul(status, ' ') = '\0'; /* the reason goes into "revocation" */
        rc = sn_buf_append_str(b, i > 0 ? ",{" : "{", err);
        if (rc == 0)
            rc = cli_cert_json(b, &v[i].cert, err);
        if (rc == 0)
            rc = sn_buf_appendf(b, err, ",\"status\":\"%s\"", status);
        if (rc == 0 && v[i].revoked) {
            rc = sn_buf_append_str(b, ",\"revocation\":", err);
            if (rc == 0)
                rc = cli_crl_entry_json(b, &v[i].entry, err);
        }
        if (rc == 0)
            rc = sn_buf_append_str(b, "}", err);
    }
    return rc != 0 ? rc : sn_buf_append_str(b, "]\n", err);
}

static int list_text(cli_ctx *ctx, const node_ca_item *v, size_t n, sn_err *err)
{
    static const char *const header[] = {"SERIAL", "NAME", "ROLE", "REPLICA", "FROM", "UNTIL",
                                         "STATUS"};
    cli_grid g;
    uint64_t now = now_s();
    int rc = cli_grid_init(&g, 7, header, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const sync_cert *c = &v[i].cert;
        char serial[24], replica[33], from[CLI_CERT_TIME_MAX], until[CLI_CERT_TIME_MAX],
            status[48];
        snprintf(serial, sizeof serial, "%" PRIu64, c->serial);
        sn_hex(replica, c->replica, sizeof c->replica);
        cli_cert_time(from, c->valid_after, true);
        cli_cert_time(until, c->valid_before, true);
        item_status(&v[i], now, status);
        const char *row[] = {serial, c->name, cli_cert_role(c), replica, from, until, status};
        rc = cli_grid_add(&g, row, err);
    }
    if (rc == 0)
        rc = cli_grid_render(&g, &ctx->out, err);
    cli_grid_free(&g);
    return rc;
}

static int cmd_list(cli_ctx *ctx, int argc, char **argv)
{
    const char *dir = NULL;
    const cli_opt opts[] = {{.name = "ca", .value = &dir}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &list_spec, opts, 1, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &list_spec);
    sn_err err = SN_ERR_INIT;
    node_ca *ca = NULL;
    node_ca_item *v = NULL;
    size_t n = 0;
    int rc = node_ca_open(&ca, ca_dir(dir), &err);
    if (rc == 0)
        rc = node_ca_list(ca, &v, &n, &err);
    if (rc == 0)
        rc = ctx->json ? list_json(ctx, v, n, &err) : list_text(ctx, v, n, &err);
    sn_free(v);
    node_ca_close(ca);
    return cli_finish(rc, &err);
}

static int cmd_show(cli_ctx *ctx, int argc, char **argv)
{
    const char *dir = NULL;
    const cli_opt opts[] = {{.name = "ca", .value = &dir}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &show_spec, opts, 1, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &show_spec);
    sn_err err = SN_ERR_INIT;
    node_ca *ca = NULL;
    int rc = node_ca_open(&ca, ca_dir(dir), &err);
    if (rc == 0)
        rc = ctx->json ? sn_buf_append_str(&ctx->out, "{", &err)
                       : text_line(&ctx->out, "directory", node_ca_dir(ca), &err);
    if (rc == 0)
        rc = ca_describe(ctx, ca, true, &err);
    if (rc == 0 && ctx->json)
        rc = sn_buf_append_str(&ctx->out, "}\n", &err);
    node_ca_close(ca);
    return cli_finish(rc, &err);
}

static const cli_sub ca_subs[] = {
    {"init", cmd_init, "create the deployment's certificate authority"},
    {"issue", cmd_issue, "issue a certificate for a node's enrolment request"},
    {"revoke", cmd_revoke, "revoke a node: a new, signed revocation list"},
    {"list", cmd_list, "list the certificates issued, and which are revoked"},
    {"show", cmd_show, "the CA's name, key id and certificate fingerprint"},
};

int cli_cmd_ca(cli_ctx *ctx, int argc, char **argv)
{
    return cli_group_dispatch(ctx, "ca",
                              "The deployment's certificate authority, kept in a directory\n"
                              "(--ca DIR, else $OUTPOST_CA, else ./" NODE_CA_DIR_DEFAULT ") on the "
                              "machine that holds\nits key. It certifies each node's keys after "
                              "a person has compared the\nenrolment request's fingerprint, and "
                              "revokes nodes that are lost. It needs\nno node store.\n",
                              ca_subs, sizeof ca_subs / sizeof ca_subs[0], argc, argv);
}
