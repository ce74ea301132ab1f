/* cli/cmd_bundle.c - `outpost bundle create|import|ack`: syncing by USB stick, e-mail or
 * courier with sealed, signed bundles (node/bundle.h), and the bundle lines of
 * `outpost status`. */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "cli/args.h"
#include "cli/output.h"
#include "node/bundle.h"
#include "node/peers.h"

static const cli_spec create_spec = {
    .path = "bundle create",
    .synopsis = "--to PEER [-o FILE] [--split SIZE] [--all] [--expires DAYS]",
    .help = "Write a bundle for PEER: the commits it is not known to hold (from its last\n"
            "acknowledgement or sync), sealed so only PEER can read them and signed by\n"
            "this node. Carry the file by USB stick, e-mail or courier; PEER loads it with\n"
            "'outpost bundle import'. A bundle larger than --split is written as FILE.1,\n"
            "FILE.2, ... which can be sent separately and imported in any order.\n"
            "PEER is a node's name or replica id (see 'outpost trust show'); a hub can make\n"
            "bundles for any site.\n"
            "\n"
            "Options:\n"
            "  --to PEER        the node the bundle is for\n"
            "  -o, --output FILE  where to write it (default: bundle-for-PEER.snb)\n"
            "  --split SIZE     largest file, e.g. 10M (the default, fits most e-mail),\n"
            "                   500K, 1G, or 'none' for one file\n"
            "  --all            carry every commit held, even those PEER acknowledged\n"
            "  --expires DAYS   PEER refuses the bundle after DAYS days unless told to\n"
            "                   accept it (default 180; 0: never)\n"
            "  --json           print {\"id\":...,\"files\":[...],\"commits\":N,...}\n",
};

static const cli_spec import_spec = {
    .path = "bundle import",
    .synopsis = "FILE... [--no-ack] [--ack-dir DIR] [--accept-expired]",
    .min_pos = 1,
    .max_pos = CLI_POS_MAX,
    .help = "Load bundles made for this node by 'outpost bundle create', in any order. Each\n"
            "file is checked whole before anything is stored: who sent it, that it is for\n"
            "this node, that nothing in it was changed or cut short, and every commit's\n"
            "signature. A bad file is refused and changes nothing; the others still load.\n"
            "Commits whose earlier commits have not arrived yet wait and are applied when\n"
            "they do. Importing a file again does nothing.\n"
            "Then an acknowledgement is written for each sender (a small bundle telling it\n"
            "what arrived, so its next bundle carries only what is missing): send it back.\n"
            "\n"
            "Options:\n"
            "  --no-ack          write no acknowledgement\n"
            "  --ack-dir DIR     where to write them (default: beside the first FILE)\n"
            "  --accept-expired  load a bundle past the expiry its sender set\n"
            "  --json            one JSON object per file, then the acknowledgements\n",
};

static const cli_spec ack_spec = {
    .path = "bundle ack",
    .synopsis = "--to PEER [-o FILE]",
    .help = "Write an acknowledgement for PEER: a small signed bundle telling it what this\n"
            "node holds, so its next bundle carries only what is missing. 'bundle import'\n"
            "writes one by itself; use this when that one was lost.\n"
            "\n"
            "Options:\n"
            "  --to PEER          the node to acknowledge\n"
            "  -o, --output FILE  where to write it (default: ack-for-PEER.snb)\n"
            "  --json             print {\"id\":...,\"files\":[...]}\n",
};

/* A file name made of `prefix`, the peer's name (letters, digits, '-', '_' kept) and
 * ".snb", in `dir` (NULL: the current directory). */
static void default_path(char *out, size_t cap, const char *dir, const char *prefix,
                         const char *name)
{
    char safe[SYNC_CERT_NAME_MAX + 1];
    size_t j = 0;
    for (size_t i = 0; name[i] != '\0' && j + 1 < sizeof safe; i++) {
        char c = name[i];
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
        safe[j++] = keep ? c : '_';
    }
    safe[j] = '\0';
    snprintf(out, cap, "%s%s%s%s.snb", dir != NULL ? dir : "", dir != NULL ? "/" : "", prefix,
             j > 0 ? safe : "peer");
}

/* "10M", "500K", "1G", "123456" or "none" (0). */
static int parse_size(const char *s, size_t *out)
{
    if (strcmp(s, "none") == 0) {
        *out = 0;
        return 0;
    }
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || s[0] == '-')
        return -1;
    unsigned long long mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1024;
    else if (*end == 'M' || *end == 'm')
        mul = 1024 * 1024;
    else if (*end == 'G' || *end == 'g')
        mul = 1024 * 1024 * 1024;
    if (mul != 1)
        end++;
    if (*end != '\0' || v > NODE_BUNDLE_FILE_MAX / mul)
        return -1;
    *out = (size_t)(v * mul);
    return 0;
}

static int print_made(cli_ctx *ctx, const char *path, const sync_cert *rcpt,
                      const node_bundle_made *m, bool ack, sn_err *err)
{
    char id[33];
    sn_hex(id, m->id, SYNC_BUNDLE_ID_LEN);
    sn_buf *b = &ctx->out;
    int rc = ctx->json ? sn_buf_appendf(b, err, "{\"id\":\"%s\",\"to\":", id)
                       : sn_buf_appendf(b, err, "%s %.8s for ", ack ? "acknowledgement"
                                        : "bundle", id);
    if (rc == 0)
        rc = ctx->json ? cli_json_cstr(b, rcpt->name, err)
                       : cli_text_bytes(b, rcpt->name, strlen(rcpt->name), err);
    if (rc == 0 && ack && !ctx->json)
        rc = sn_buf_appendf(b, err, ": %" PRIu64 " bytes\n", m->file_bytes);
    else if (rc == 0)
        rc = sn_buf_appendf(b, err,
                            ctx->json ? ",\"units\":%zu,\"commits\":%zu,\"commit_bytes\":%" PRIu64
                                        ",\"bytes\":%" PRIu64 ",\"files\":["
                                      : ": %zu commits in %zu units (%" PRIu64 " bytes), %"
                                        PRIu64 " bytes written\n",
                            ctx->json ? m->units : m->commits, ctx->json ? m->commits : m->units,
                            m->commit_bytes, m->file_bytes);
    for (size_t i = 1; rc == 0 && i <= m->parts; i++) {
        char *p = node_bundle_part_path(path, i, m->parts);
        if (p == NULL)
            return sn_err_set(err, SN_ENOMEM, "out of memory");
        if (ctx->json) {
            rc = i > 1 ? sn_buf_append_str(b, ",", err) : 0;
            if (rc == 0)
                rc = cli_json_cstr(b, p, err);
        } else {
            rc = sn_buf_append_str(b, "  ", err);
            if (rc == 0)
                rc = cli_text_bytes(b, p, strlen(p), err);
            if (rc == 0)
                rc = sn_buf_append_str(b, "\n", err);
        }
        sn_free(p);
    }
    if (rc == 0 && ctx->json)
        rc = sn_buf_append_str(b, "]}\n", err);
    if (rc == 0 && m->oversized && !ctx->json)
        rc = sn_buf_append_str(b, "note: a single unit was larger than --split: its file is "
                                  "larger too\n", err);
    return rc;
}

/* Make a bundle (or an acknowledgement) for `to`; writes what was made to ctx->out. */
static int make_bundle(cli_ctx *ctx, node_store *st, const char *to, const char *out,
                       const node_bundle_opts *o, sn_err *err)
{
    sync_cert rcpt;
    int rc = node_bundle_peer_find(st, to, &rcpt, err);
    char dflt[4096];
    if (rc == 0 && out == NULL) {
        default_path(dflt, sizeof dflt, NULL, o->ack_only ? "ack-for-" : "bundle-for-",
                     rcpt.name);
        out = dflt;
    }
    node_bundle_made m;
    if (rc == 0)
        rc = node_bundle_create(st, &rcpt, out, o, &m, err);
    if (rc == 0 && !o->ack_only && m.commits > 0) {
        /* Records leaving the node are audited, whoever carries the file. */
        char detail[NODE_AUDIT_DETAIL_MAX + 1];
        snprintf(detail, sizeof detail, "bundle create: %zu commit%s for '%.64s' to '%.300s'",
                 m.commits, m.commits == 1 ? "" : "s", rcpt.name, out);
        rc = cli_audit(ctx, st, NODE_AUDIT_EXPORT, NULL, detail, err);
    }
    if (rc == 0)
        rc = print_made(ctx, out, &rcpt, &m, o->ack_only, err);
    return rc;
}

static int cmd_create(cli_ctx *ctx, int argc, char **argv)
{
    const char *to = NULL, *out = NULL, *split = NULL, *expires = NULL;
    bool all = false;
    const cli_opt opts[] = {
        {.name = "to", .value = &to},
        {.name = "output", .short_name = 'o', .value = &out},
        {.name = "split", .value = &split},
        {.name = "expires", .value = &expires},
        {.name = "all", .flag = &all},
    };
    cli_parsed p;
    int ex = cli_args_parse(ctx, &create_spec, opts, 5, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &create_spec);
    if (to == NULL)
        return cli_usage_error(create_spec.path, "'outpost bundle create' needs --to PEER");
    node_bundle_opts o = {.all = all};
    if (split != NULL && parse_size(split, &o.part_max) != 0)
        return cli_usage_error(create_spec.path, "--split '%s' is not a size such as 10M, "
                               "500K or none", split);
    if (split != NULL && o.part_max == 0)
        o.part_max = NODE_BUNDLE_FILE_MAX;
    if (split != NULL && o.part_max < NODE_BUNDLE_PART_MIN)
        return cli_usage_error(create_spec.path, "--split %s is too small: at least %zuK",
                               split, NODE_BUNDLE_PART_MIN >> 10);
    if (expires != NULL) {
        char *end = NULL;
        unsigned long days = strtoul(expires, &end, 10);
        if (end == expires || *end != '\0' || expires[0] == '-' || days > 36500)
            return cli_usage_error(create_spec.path, "--expires '%s' is not a number of days "
                                   "(0 to 36500)", expires);
        o.lifetime_ms = days == 0 ? UINT64_MAX : (uint64_t)days * 86400000u;
    }
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    int rc = cli_store_open_user(ctx, &st, &err);
    if (rc == 0)
        rc = make_bundle(ctx, st, to, out, &o, &err);
    node_store_close(st);
    return cli_finish(rc, &err);
}

static int cmd_ack(cli_ctx *ctx, int argc, char **argv)
{
    const char *to = NULL, *out = NULL;
    const cli_opt opts[] = {
        {.name = "to", .value = &to},
        {.name = "output", .short_name = 'o', .value = &out},
    };
    cli_parsed p;
    int ex = cli_args_parse(ctx, &ack_spec, opts, 2, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &ack_spec);
    if (to == NULL)
        return cli_usage_error(ack_spec.path, "'outpost bundle ack' needs --to PEER");
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    node_bundle_opts o = {.ack_only = true, .lifetime_ms = UINT64_MAX};
    int rc = cli_store_open(ctx, &st, &err);
    if (rc == 0)
        rc = make_bundle(ctx, st, to, out, &o, &err);
    node_store_close(st);
    return cli_finish(rc, &err);
}

static int print_got(cli_ctx *ctx, const char *path, const node_bundle_got *g, sn_err *err)
{
    sn_buf *b = &ctx->out;
    char id[33];
    sn_hex(id, g->meta.id, SYNC_BUNDLE_ID_LEN);
    const node_unit_stats *u = &g->taken.units;
    int rc = sn_buf_append_str(b, ctx->json ? "{\"file\":" : "", err);
    if (rc == 0)
        rc = ctx->json ? cli_json_cstr(b, path, err) : cli_text_bytes(b, path, strlen(path), err);
    if (rc == 0)
        rc = sn_buf_appendf(b, err, ctx->json ? ",\"id\":\"%s\",\"part\":%u,\"last\":%s,"
                                                "\"ack\":%s,\"from\":"
                                              : ": bundle %.8s part %u%s%s from ",
                            id, g->meta.part,
                            (g->meta.flags & SYNC_BUNDLE_LAST) ? (ctx->json ? "true" : " (last)")
                                                               : (ctx->json ? "false" : ""),
                            (g->meta.flags & SYNC_BUNDLE_ACK) ? (ctx->json ? "true" : ", an "
                                                                 "acknowledgement,")
                                                              : (ctx->json ? "false" : ""));
    if (rc == 0)
        rc = ctx->json ? cli_json_cstr(b, g->sender_name, err)
                       : cli_text_bytes(b, g->sender_name, strlen(g->sender_name), err);
    char when[CLI_HLC_MAX];
    cli_time_format(when, g->duplicate_ms);
    if (rc == 0 && g->duplicate)
        rc = sn_buf_appendf(b, err, ctx->json ? ",\"duplicate\":true,\"imported_at\":\"%s\"}\n"
                                              : ": already imported at %s, nothing to do\n",
                            when);
    else if (rc == 0)
        rc = sn_buf_appendf(b, err, ctx->json ? ",\"duplicate\":false,\"units\":%zu,"
                                                "\"stored\":%zu,\"duplicates\":%zu,"
                                                "\"waiting\":%zu,\"applied\":%zu}\n"
                                              : ": %zu units, %zu commits stored, %zu "
                                                "already held, %zu waiting, %zu applied\n",
                            u->units, u->commits, u->duplicates, u->deferred, g->taken.applied);
    return rc;
}

/* The directory part of `path` into out ("." when it has none). */
static void dir_of(char *out, size_t cap, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(out, cap, ".");
    else if (slash == path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

/* Acknowledge each sender of a bundle (not of an acknowledgement) once. */
static int write_acks(cli_ctx *ctx, node_store *st, const node_bundle_got *got, size_t n,
                      const char *dir, sn_err *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool again = (got[i].meta.flags & SYNC_BUNDLE_ACK) != 0 || got[i].meta.part == 0;
        for (size_t j = 0; j < i && !again; j++)
            again = memcmp(got[j].meta.sender, got[i].meta.sender, 16) == 0 &&
                    (got[j].meta.flags & SYNC_BUNDLE_ACK) == 0 && got[j].meta.part != 0;
        if (again)
            continue;
        char to[33], path[4096];
        sn_hex(to, got[i].meta.sender, 16);
        default_path(path, sizeof path, dir, "ack-for-", got[i].sender_name);
        node_bundle_opts o = {.ack_only = true, .lifetime_ms = UINT64_MAX};
        rc = make_bundle(ctx, st, to, path, &o, err);
    }
    return rc;
}

static int cmd_import(cli_ctx *ctx, int argc, char **argv)
{
    const char *ack_dir = NULL;
    bool no_ack = false, accept_expired = false;
    const cli_opt opts[] = {
        {.name = "ack-dir", .value = &ack_dir},
        {.name = "no-ack", .flag = &no_ack},
        {.name = "accept-expired", .flag = &accept_expired},
    };
    cli_parsed p;
    int ex = cli_args_parse(ctx, &import_spec, opts, 3, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &import_spec);
    if (no_ack && ack_dir != NULL)
        return cli_usage_error(import_spec.path, "--no-ack and --ack-dir contradict each other");
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    node_bundle_got got[CLI_POS_MAX];
    memset(got, 0, sizeof got);
    node_bundle_import_opts io = {.accept_expired = accept_expired};
    int rc = cli_store_open(ctx, &st, &err), status = 0;
    for (size_t i = 0; rc == 0 && i < p.npos; i++) {
        /* A bad file is reported and skipped: the others are independent. */
        int one = node_bundle_import(st, p.pos[i], &io, &got[i], &err);
        if (one == 0)
            one = print_got(ctx, p.pos[i], &got[i], &err);
        if (one != 0 && status == 0)
            status = cli_fail(&err);
        else if (one != 0)
            (void)cli_fail(&err);
        if (one != 0)
            got[i].meta.part = 0; /* nothing to acknowledge */
        sn_err_clear(&err);
    }
    char dir[4096];
    if (ack_dir != NULL)
        snprintf(dir, sizeof dir, "%s", ack_dir);
    else
        dir_of(dir, sizeof dir, p.pos[0]);
    if (rc == 0 && !no_ack)
        rc = write_acks(ctx, st, got, p.npos, dir, &err);
    node_store_close(st);
    if (rc == 0 && status != 0) {
        /* stdout is kept for success: say on stderr what did load. */
        if (ctx->out.len > 0)
            fwrite(ctx->out.data, 1, ctx->out.len, stderr);
        sn_buf_reset(&ctx->out);
        return status;
    }
    return cli_finish(rc, &err);
}

static const cli_sub bundle_subs[] = {
    {"create", cmd_create, "write the commits a peer lacks to a sealed, signed bundle"},
    {"import", cmd_import, "load bundles made for this node, and acknowledge them"},
    {"ack", cmd_ack, "write an acknowledgement of what this node holds for a peer"},
};

int cli_cmd_bundle(cli_ctx *ctx, int argc, char **argv)
{
    return cli_group_dispatch(ctx, "bundle",
                              "Bundles carry commits between nodes that have no network link:\n"
                              "a file made for one peer, sealed so only it can read it and\n"
                              "signed by this node, carried by USB stick, e-mail or courier.\n",
                              bundle_subs, sizeof bundle_subs / sizeof bundle_subs[0], argc,
                              argv);
}

/* ---- `outpost status` ---- */

typedef struct status_ctx {
    cli_ctx *ctx;
    node_store *st;
    size_t n;
} status_ctx;

static int status_peer(void *vctx, const node_bundle_peer *bp, sn_err *err)
{
    status_ctx *sc = vctx;
    sn_buf *b = &sc->ctx->out;
    char name[SYNC_CERT_NAME_MAX + 1], sent[CLI_HLC_MAX], acked[CLI_HLC_MAX];
    char recv[CLI_HLC_MAX], id[33], rid[33], hex[33];
    sn_hex(hex, bp->replica, CRDT_REPLICA_LEN);
    sync_cert c;
    sn_err ignored = SN_ERR_INIT;
    if (node_bundle_peer_find(sc->st, hex, &c, &ignored) == 0)
        snprintf(name, sizeof name, "%s", c.name);
    else
        snprintf(name, sizeof name, "%.8s", hex);
    cli_time_format(sent, bp->sent_ms);
    cli_time_format(acked, bp->acked_ms);
    cli_time_format(recv, bp->recv_ms);
    sn_hex(id, bp->sent_id, SYNC_BUNDLE_ID_LEN);
    sn_hex(rid, bp->recv_id, SYNC_BUNDLE_ID_LEN);
    /* What a live session acknowledged counts too. */
    node_peer lp;
    bool found = false;
    node_bundle_peer joined = *bp;
    crdt_vv_init(&joined.acked);
    int rc = crdt_vv_copy(&joined.acked, &bp->acked, err);
    if (rc == 0 && (rc = node_peer_load(sc->st, bp->replica, &lp, &found, err)) == 0) {
        rc = crdt_vv_join(&joined.acked, &lp.seen, err);
        node_peer_free(&lp);
    }
    uint64_t missing = rc == 0 ? node_bundle_unacked(&joined) : 0;
    crdt_vv_free(&joined.acked);
    if (rc == 0 && sc->ctx->json) {
        rc = sn_buf_append_str(b, sc->n++ > 0 ? ",{\"peer\":" : "{\"peer\":", err);
        if (rc == 0)
            rc = cli_json_cstr(b, name, err);
        if (rc == 0)
            rc = sn_buf_appendf(b, err, ",\"sent_id\":\"%s\",\"sent_at\":%" PRIu64
                                ",\"sent_parts\":%" PRIu64 ",\"sent_commits\":%" PRIu64
                                ",\"acked_at\":%" PRIu64 ",\"unacknowledged\":%" PRIu64
                                ",\"received_id\":\"%s\",\"received_at\":%" PRIu64 "}",
                                id, bp->sent_ms, bp->sent_parts, bp->sent_commits,
                                bp->acked_ms, missing, rid, bp->recv_ms);
    } else if (rc == 0) {
        rc = sn_buf_append_str(b, sc->n++ == 0 ? "bundles\n" : "", err);
        if (rc == 0)
            rc = sn_buf_append_str(b, "  ", err);
        if (rc == 0)
            rc = cli_text_bytes(b, name, strlen(name), err);
        if (rc == 0 && bp->sent_ms != 0)
            rc = sn_buf_appendf(b, err, "\n    sent      %s  bundle %.8s, %" PRIu64 " part%s, "
                                "%" PRIu64 " commits", sent, id, bp->sent_parts,
                                bp->sent_parts == 1 ? "" : "s", bp->sent_commits);
        if (rc == 0)
            rc = sn_buf_appendf(b, err, "\n    acked     %s  %" PRIu64 " commits sent not "
                                "yet acknowledged", bp->acked_ms != 0 ? acked : "never",
                                missing);
        if (rc == 0 && bp->recv_ms != 0)
            rc = sn_buf_appendf(b, err, "\n    received  %s  bundle %.8s", recv, rid);
        if (rc == 0)
            rc = sn_buf_append_str(b, "\n", err);
    }
    return rc;
}

int cli_bundle_status(cli_ctx *ctx, node_store *st, sn_err *err)
{
    status_ctx sc = {.ctx = ctx, .st = st};
    int rc = ctx->json ? sn_buf_append_str(&ctx->out, ",\"bundles\":[", err) : 0;
    if (rc == 0)
        rc = node_bundle_peer_each(st, status_peer, &sc, err);
    if (rc == 0 && ctx->json)
        rc = sn_buf_append_str(&ctx->out, "]", err);
    return rc;
}
