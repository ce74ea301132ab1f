/* cli/cmd_quarantine.c - `outpost quarantine`: commits this node holds but does not apply
 * (past a revoked certificate's watermark, or from an origin frozen for equivocation),
 * and the proofs of equivocation it keeps, for review by an administrator. */
#include "cli/cli.h"

#include <stdio.h>

#include "base/hash.h"
#include "cli/args.h"
#include "cli/output.h"
#include "node/units.h"

static const cli_spec quarantine_spec = {
    .path = "quarantine",
    .synopsis = "",
    .help = "List what this node holds but does not apply:\n"
            "  - commits past the last good commit of a revoked certificate (a lost or\n"
            "    stolen laptop): kept for clinical review, never deleted;\n"
            "  - commits of an origin that signed two different histories (equivocation:\n"
            "    a cloned disk or a stolen key), frozen from the first commit that differs,\n"
            "    with the two signed checkpoints that prove it.\n"
            "Ask the deployment's administrator to revoke a frozen node (outpost ca revoke)\n"
            "with the last good commit number; its records up to there then apply again.\n"
            "\n"
            "Options:\n"
            "  --json   one JSON document: {\"quarantine\":[...],\"equivocations\":[...]}\n",
};

typedef struct listing {
    cli_ctx *ctx;
    size_t n;
} listing;

static void origin_hex(char out[2 * CRDT_REPLICA_LEN + 1], const crdt_origin *o)
{
    sn_hex(out, o->replica, CRDT_REPLICA_LEN);
}

static int put_range(void *arg, const node_quarantine *q, sn_err *err)
{
    listing *l = arg;
    char hex[2 * CRDT_REPLICA_LEN + 1];
    origin_hex(hex, &q->origin);
    bool json = l->ctx->json;
    const char *why = q->frozen ? (json ? "equivocation" : "frozen: equivocation")
                                : (json ? "revoked" : "revoked certificate");
    int rc = sn_buf_appendf(&l->ctx->out, err,
                            json ? "%s{\"origin\":\"%s\",\"epoch\":%u,\"first\":%llu,"
                                   "\"last\":%llu,\"reason\":\"%s\"}"
                                 : "%s%s/%u  commits %llu..%llu  %s\n",
                            json && l->n > 0 ? "," : "", hex, q->origin.epoch,
                            (unsigned long long)q->first, (unsigned long long)q->last, why);
    l->n++;
    return rc;
}

static int put_checkpoint(sn_buf *out, const char *label, const uint8_t *b, size_t n, bool json,
                          sn_err *err)
{
    if (n == 0)
        return sn_buf_appendf(out, err, json ? "\"%s\":null" : "  %s: none kept\n", label);
    sync_checkpoint cp;
    int rc = sync_checkpoint_parse(b, n, &cp, err);
    char link[2 * SYNC_LINK_LEN + 1];
    if (rc == 0)
        sn_hex(link, cp.link, sizeof cp.link);
    if (rc == 0)
        rc = sn_buf_appendf(out, err,
                            json ? "\"%s\":{\"seq\":%llu,\"serial\":%llu,\"link\":\"%s\"}"
                                 : "  %s: checkpoint at %llu (certificate %llu), link %s\n",
                            label, (unsigned long long)cp.seq,
                            (unsigned long long)cp.cert_serial, link);
    return rc;
}

static int put_proof(void *arg, const node_equivocation *e, sn_err *err)
{
    listing *l = arg;
    sn_buf *out = &l->ctx->out;
    bool json = l->ctx->json;
    char hex[2 * CRDT_REPLICA_LEN + 1];
    origin_hex(hex, &e->origin);
    int rc = sn_buf_appendf(out, err,
                            json ? "%s{\"origin\":\"%s\",\"epoch\":%u,\"from\":%llu,"
                                   "\"found_ms\":%llu,"
                                 : "%sorigin %s/%u signed two histories; frozen from commit "
                                   "%llu (found at %llu ms)\n",
                            json && l->n > 0 ? "," : "", hex, e->origin.epoch,
                            (unsigned long long)e->seq, (unsigned long long)e->found_ms);
    if (rc == 0)
        rc = put_checkpoint(out, "ours", e->ours, e->ours_len, json, err);
    if (rc == 0 && json)
        rc = sn_buf_append_str(out, ",", err);
    if (rc == 0)
        rc = put_checkpoint(out, "theirs", e->theirs, SYNC_CHECKPOINT_LEN, json, err);
    if (rc == 0 && json)
        rc = sn_buf_append_str(out, "}", err);
    l->n++;
    return rc;
}

int cli_cmd_quarantine(cli_ctx *ctx, int argc, char **argv)
{
    cli_parsed p;
    int ex = cli_args_parse(ctx, &quarantine_spec, NULL, 0, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &quarantine_spec);
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    listing ranges = {.ctx = ctx}, proofs = {.ctx = ctx};
    int rc = cli_store_open(ctx, &st, &err);
    if (rc == 0 && ctx->json)
        rc = sn_buf_append_str(&ctx->out, "{\"quarantine\":[", &err);
    if (rc == 0)
        rc = node_store_quarantine_each(st, put_range, &ranges, &err);
    if (rc == 0 && ctx->json)
        rc = sn_buf_append_str(&ctx->out, "],\"equivocations\":[", &err);
    if (rc == 0)
        rc = node_store_equivocations_each(st, put_proof, &proofs, &err);
    if (rc == 0 && ctx->json)
        rc = sn_buf_append_str(&ctx->out, "]}\n", &err);
    if (rc == 0 && !ctx->json && ranges.n + proofs.n == 0)
        rc = sn_buf_append_str(&ctx->out, "nothing quarantined\n", &err);
    node_store_close(st);
    return cli_finish(rc, &err);
}
