/* cli/cmd_enroll.c - the node's side of the certificate authority: `outpost enroll
 * request|install` (making a request, installing the certificate the CA issued) and
 * `outpost trust show|add-crl|add-cert` (what this node trusts, and taking new revocation
 * lists and other nodes' certificates). They need no clinician; the commands that change
 * what the node trusts need an administrator and are audited like user management. */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "cli/args.h"
#include "cli/cert_view.h"
#include "cli/output.h"
#include "node/ca.h"
#include "node/fileio.h"
#include "node/trust.h"

#define REQUEST_DEFAULT "enroll.request"
#define CRL_FILE_MAX ((size_t)SYNC_CRL_MAX_ENTRIES * SYNC_CRL_ENTRY_LEN + 4096)
#define EXPIRY_WARN_DAYS 30
#define WARNING_MAX 192

static const cli_spec request_spec = {
    .path = "enroll request",
    .synopsis = "[-o FILE]",
    .help = "Make this node's enrolment request: its public keys and replica id, signed\n"
            "with its own key. Carry the file to the CA (a USB stick will do) for\n"
            "'outpost ca issue'. Then compare the fingerprint printed here with the one\n"
            "'outpost ca issue' prints, every group, in person or by voice with someone you\n"
            "know: the file may have been changed on its way. Each run makes a new request\n"
            "with a new fingerprint; compare the one of the file you carried.\n"
            "\n"
            "Options:\n"
            "  -o, --output FILE  where to write the request (default: " REQUEST_DEFAULT ")\n"
            "  --json             print {\"file\",\"name\",\"replica\",\"epoch\",\n"
            "                     \"fingerprint\"}\n",
};

static const cli_spec install_spec = {
    .path = "enroll install",
    .synopsis = "CERT CA_CERT [--crl CRL]",
    .min_pos = 2,
    .max_pos = 2,
    .help = "Install the certificate the CA issued for this node (administrators only).\n"
            "CA_CERT is the CA's certificate (ca.cert in the CA directory); the first one\n"
            "installed is pinned, and this node then trusts no other CA. CERT must be signed\n"
            "by it and name this node's replica and keys. The CA's fingerprint is printed:\n"
            "read it aloud with the CA's operator ('outpost ca show' prints it there).\n"
            "\n"
            "Options:\n"
            "  --crl CRL  also take the CA's current revocation list (crl in the CA directory)\n"
            "  --json     print {\"serial\",\"name\",\"role\",...,\"ca\",\"ca_fingerprint\"}\n",
};

static const cli_spec show_spec = {
    .path = "trust show",
    .synopsis = "[--json]",
    .help = "Show what this node trusts: the pinned CA and its fingerprint, this node's own\n"
            "certificate (serial, role, validity, and a warning when it is revoked or\n"
            "expires within 30 days), the revocation list held (its number and entries),\n"
            "and the certificates of the nodes it knows.\n"
            "\n"
            "Options:\n"
            "  --json   the same as one JSON object\n",
};

static const cli_spec add_crl_spec = {
    .path = "trust add-crl",
    .synopsis = "FILE",
    .min_pos = 1,
    .max_pos = 1,
    .help = "Offer a revocation list from the CA (administrators only). It must be signed\n"
            "by the pinned CA. A newer list than the one held is taken; an older or equal\n"
            "one is ignored (exit status 0, a note on stderr), so a node never goes back to\n"
            "an older list.\n"
            "\n"
            "Options:\n"
            "  --json   print {\"taken\":true|false,\"number\":N,\"held\":N}\n",
};

static const cli_spec add_cert_spec = {
    .path = "trust add-cert",
    .synopsis = "FILE",
    .min_pos = 1,
    .max_pos = 1,
    .help = "Remember another node's certificate (administrators only), after checking\n"
            "that the pinned CA issued it. Adding it again is harmless. On a hub this is\n"
            "how a node enrolled but not yet heard from shows in 'outpost status' (as\n"
            "never-synced).\n"
            "\n"
            "Options:\n"
            "  --json   print the certificate as JSON\n",
};

/* Open the store as an administrator of it; `what` names the act for a refusal. */
static int open_admin(cli_ctx *ctx, node_store **st, const char *what, sn_err *err)
{
    int rc = cli_store_open_user(ctx, st, err);
    if (rc == 0 && (rc = cli_admin_require(ctx, what, err)) != 0) {
        node_store_close(*st);
        *st = NULL;
    }
    return rc;
}

/* Read and parse the certificate in `path`. */
static int cert_file(const char *path, sync_cert *c, sn_err *err)
{
    sn_buf b;
    int rc = node_file_read(path, SYNC_CERT_MAX, &b, err);
    if (rc != 0)
        return rc;
    if ((rc = sync_cert_parse(b.data, b.len, c, err)) != 0) {
        sn_err_prefix(err, "certificate file '%s'", path);
        sn_err_hint(err, "give a certificate file as the CA wrote it ('outpost ca issue -o', or "
                         "ca.cert of the CA directory), unchanged");
    }
    sn_buf_free(&b);
    return rc;
}

/* Read and parse the revocation list in `path` (the caller frees *crl). */
static int crl_file(const char *path, sync_crl *crl, sn_err *err)
{
    *crl = (sync_crl){0};
    sn_buf b;
    int rc = node_file_read(path, CRL_FILE_MAX, &b, err);
    if (rc != 0)
        return rc;
    if ((rc = sync_crl_parse(b.data, b.len, crl, err)) != 0)
        sn_err_prefix(err, "revocation list file '%s'", path);
    sn_buf_free(&b);
    return rc;
}

/* The fingerprint of the pinned CA's certificate. */
static int ca_fingerprint(node_store *st, sync_cert *ca, char fp[static SYNC_FINGERPRINT_MAX],
                          sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, SYNC_CERT_MAX);
    int rc = node_trust_ca(st, ca, err);
    if (rc == 0)
        rc = sync_cert_encode(ca, &b, err);
    if (rc == 0)
        sync_fingerprint(fp, b.data, b.len);
    sn_buf_free(&b);
    return rc;
}

/* Append an audit event 'A' with a formatted detail. */
static int audit_admin(cli_ctx *ctx, node_store *st, sn_err *err, const char *fmt, ...)
    SN_PRINTF(4, 5);
static int audit_admin(cli_ctx *ctx, node_store *st, sn_err *err, const char *fmt, ...)
{
    char detail[NODE_AUDIT_DETAIL_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return cli_audit(ctx, st, NODE_AUDIT_ADMIN, NULL, detail, err);
}

/* "serial 2, node 'Camp', valid until 2024-10-28" for people. */
static int cert_line(sn_buf *b, const sync_cert *c, sn_err *err)
{
    char until[CLI_CERT_TIME_MAX];
    cli_cert_time(until, c->valid_before, true);
    return sn_buf_appendf(b, err, "serial %" PRIu64 ", %s '%s', valid until %s", c->serial,
                          cli_cert_role(c), c->name, until);
}

/* ---- enroll ------------------------------------------------------------------------------ */

static int cmd_request(cli_ctx *ctx, int argc, char **argv)
{
    const char *out = REQUEST_DEFAULT;
    const cli_opt opts[] = {{.name = "output", .short_name = 'o', .value = &out}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &request_spec, opts, 1, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &request_spec);
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    sync_enroll_request r;
    sn_buf b;
    sn_buf_init(&b, 4096);
    int rc = cli_store_open(ctx, &st, &err);
    if (rc == 0)
        rc = node_trust_request(st, &r, &err);
    if (rc == 0)
        rc = sync_enroll_request_encode(&r, &b, &err);
    if (rc == 0)
        rc = node_file_write_atomic(out, b.data, b.len, &err);
    char fp[SYNC_FINGERPRINT_MAX], replica[33];
    if (rc == 0) {
        sync_fingerprint(fp, b.data, b.len);
        sn_hex(replica, r.replica, sizeof r.replica);
    }
    if (rc == 0 && ctx->json) {
        rc = sn_buf_append_str(&ctx->out, "{\"file\":", &err);
        if (rc == 0)
            rc = cli_json_cstr(&ctx->out, out, &err);
        if (rc == 0)
            rc = sn_buf_append_str(&ctx->out, ",\"name\":", &err);
        if (rc == 0)
            rc = cli_json_cstr(&ctx->out, r.name, &err);
        if (rc == 0)
            rc = sn_buf_appendf(&ctx->out, &err, ",\"replica\":\"%s\",\"epoch\":%" PRIu32
                                ",\"fingerprint\":\"%s\"}\n", replica, r.epoch, fp);
    } else if (rc == 0) {
        rc = sn_buf_append_str(&ctx->out, "request      ", &err);
        if (rc == 0)
            rc = cli_text_bytes(&ctx->out, out, strlen(out), &err);
        if (rc == 0)
            rc = sn_buf_appendf(&ctx->out, &err,
                                "\nnode         %s\nreplica      %s/%" PRIu32
                                "\nfingerprint  %s\n"
                                "Carry the file to the CA. Compare this fingerprint with the one "
                                "'outpost ca issue'\nshows there, every group, before installing "
                                "the certificate.\n",
                                r.name, replica, r.epoch, fp);
    }
    sn_buf_free(&b);
    node_store_close(st);
    return cli_finish(rc, &err);
}

static int cmd_install(cli_ctx *ctx, int argc, char **argv)
{
    const char *crl_path = NULL;
    const cli_opt opts[] = {{.name = "crl", .value = &crl_path}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &install_spec, opts, 1, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &install_spec);
    sn_err err = SN_ERR_INIT;
    sync_cert own, root, pinned;
    sync_crl crl = {0};
    node_store *st = NULL;
    bool taken = false;
    int rc = cert_file(p.pos[0], &own, &err);
    if (rc == 0)
        rc = cert_file(p.pos[1], &root, &err);
    /* Check the list against the CA offered before anything is installed, so a bad list
     * leaves the node as it was. */
    if (rc == 0 && crl_path != NULL && (rc = crl_file(crl_path, &crl, &err)) == 0 &&
        (rc = sync_crl_verify(&crl, root.sign_pk, &err)) != 0)
        sn_err_prefix(&err, "'%s'", crl_path);
    if (rc == 0)
        rc = open_admin(ctx, &st, "install this node's certificate", &err);
    if (rc == 0 && (rc = node_trust_install(st, &own, &root, &err)) == SN_EAUTH &&
        err.hint[0] == '\0')
        sn_err_hint(&err, "CERT must be what 'outpost ca issue' wrote for this node's own "
                          "request, and CA_CERT the ca.cert of the same CA");
    if (rc == 0 && crl_path != NULL)
        rc = node_trust_crl_offer(st, &crl, &taken, &err);
    char fp[SYNC_FINGERPRINT_MAX];
    if (rc == 0)
        rc = ca_fingerprint(st, &pinned, fp, &err);
    if (rc == 0)
        rc = audit_admin(ctx, st, &err, "enroll install: certificate serial %" PRIu64
                         " (%s) from CA '%s'", own.serial, cli_cert_role(&own), pinned.name);
    sn_buf *b = &ctx->out;
    if (rc == 0 && ctx->json) {
        rc = sn_buf_append_str(b, "{", &err);
        if (rc == 0)
            rc = cli_cert_json(b, &own, &err);
        if (rc == 0)
            rc = sn_buf_append_str(b, ",\"ca\":", &err);
        if (rc == 0)
            rc = cli_json_cstr(b, pinned.name, &err);
        if (rc == 0)
            rc = sn_buf_appendf(b, &err, ",\"ca_fingerprint\":\"%s\",\"crl_taken\":%s}\n", fp,
                                taken ? "true" : "false");
    } else if (rc == 0) {
        rc = sn_buf_append_str(b, "installed    ", &err);
        if (rc == 0)
            rc = cert_line(b, &own, &err);
        if (rc == 0)
            rc = sn_buf_appendf(b, &err, "\nCA           %s\nfingerprint  %s\n", pinned.name, fp);
        if (rc == 0 && crl_path != NULL)
            rc = sn_buf_appendf(b, &err, "revocation   list %" PRIu64 " %s\n", crl.number,
                                taken ? "taken" : "ignored: not newer than the one held");
        if (rc == 0)
            rc = sn_buf_append_str(b, "Read the CA fingerprint aloud with the CA's operator: "
                                      "it must be the one\n'outpost ca show' prints there.\n",
                                   &err);
    }
    sync_crl_free(&crl);
    node_store_close(st);
    return cli_finish(rc, &err);
}

static const cli_sub enroll_subs[] = {
    {"request", cmd_request, "write this node's enrolment request for the CA"},
    {"install", cmd_install, "install the certificate the CA issued, and its CA"},
};

int cli_cmd_enroll(cli_ctx *ctx, int argc, char **argv)
{
    return cli_group_dispatch(ctx, "enroll",
                              "Enrol this node with the deployment's certificate authority:\n"
                              "  1. on the node:  outpost enroll request -o node.request\n"
                              "  2. at the CA:    outpost ca issue node.request -o node.cert\n"
                              "     (compare the fingerprints shown at both ends)\n"
                              "  3. on the node:  outpost enroll install node.cert ca.cert "
                              "--crl crl\n",
                              enroll_subs, sizeof enroll_subs / sizeof enroll_subs[0], argc,
                              argv);
}

/* ---- trust ------------------------------------------------------------------------------- */

typedef struct cert_walk {
    cli_ctx *ctx;
    const sync_cert *own;
    cli_grid grid;
    size_t n;
} cert_walk;

static int each_cert(void *vctx, const sync_cert *c, sn_err *err)
{
    cert_walk *w = vctx;
    sn_buf *b = &w->ctx->out;
    bool mine = memcmp(c->replica, w->own->replica, 16) == 0 && c->serial == w->own->serial;
    int rc = 0;
    if (w->ctx->json) {
        rc = sn_buf_append_str(b, w->n > 0 ? ",{" : "{", err);
        if (rc == 0)
            rc = cli_cert_json(b, c, err);
        if (rc == 0)
            rc = sn_buf_appendf(b, err, ",\"this_node\":%s}", mine ? "true" : "false");
    } else {
        char serial[24], replica[33], until[CLI_CERT_TIME_MAX];
        snprintf(serial, sizeof serial, "%" PRIu64, c->serial);
        sn_hex(replica, c->replica, sizeof c->replica);
        cli_cert_time(until, c->valid_before, true);
        const char *row[] = {serial, c->name, cli_cert_role(c), replica, until,
                             mine ? "this node" : ""};
        rc = cli_grid_add(&w->grid, row, err);
    }
    w->n++;
    return rc;
}

/* The warning about this node's certificate at `now`, or "" when there is none. */
static void own_warning(const sync_cert *own, const sync_crl *crl, uint64_t now,
                        char out[static WARNING_MAX])
{
    out[0] = '\0';
    const sync_crl_entry *e = NULL;
    for (size_t i = 0; i < crl->n && e == NULL; i++)
        if (crl->entries[i].serial == own->serial &&
            memcmp(crl->entries[i].replica, own->replica, 16) == 0)
            e = &crl->entries[i];
    if (e != NULL)
        snprintf(out, WARNING_MAX,
                 "revoked (%s) by revocation list %" PRIu64
                 ": other nodes refuse its commits after seq %" PRIu64,
                 node_ca_reason_name(e->reason), crl->number, e->last_good_seq);
    else if (now >= own->valid_before)
        snprintf(out, WARNING_MAX,
                 "expired: new sessions are refused; ask the CA for a new certificate");
    else if (own->valid_before - now < EXPIRY_WARN_DAYS * UINT64_C(86400))
        snprintf(out, WARNING_MAX, "expires in %" PRIu64 " days: ask the CA for a new certificate",
                 (own->valid_before - now + 86399) / 86400);
}

static int show_json(cli_ctx *ctx, node_store *st, const sync_cert *ca, const char *fp,
                     const sync_cert *own, const sync_crl *crl, const char *warning, sn_err *err)
{
    sn_buf *b = &ctx->out;
    char issued[CLI_CERT_TIME_MAX], next[CLI_CERT_TIME_MAX];
    int rc = sn_buf_append_str(b, "{\"ca\":{\"name\":", err);
    if (rc == 0)
        rc = cli_json_cstr(b, ca->name, err);
    if (rc == 0)
        rc = sn_buf_appendf(b, err, ",\"fingerprint\":\"%s\"},\"own\":{", fp);
    if (rc == 0)
        rc = cli_cert_json(b, own, err);
    if (rc == 0)
        rc = sn_buf_append_str(b, ",\"warning\":", err);
    if (rc == 0)
        rc = cli_json_cstr(b, warning[0] != '\0' ? warning : NULL, err);
    if (rc == 0 && crl->number == 0) {
        rc = sn_buf_append_str(b, "},\"crl\":null", err);
    } else if (rc == 0) {
        cli_cert_time(issued, crl->issued_at, false);
        cli_cert_time(next, crl->next_update, false);
        rc = sn_buf_appendf(b, err, "},\"crl\":{\"number\":%" PRIu64 ",\"issued_at\":\"%s\","
                            "\"next_update\":\"%s\",\"entries\":[", crl->number, issued, next);
        for (size_t i = 0; rc == 0 && i < crl->n; i++) {
            if (i > 0)
                rc = sn_buf_append_str(b, ",", err);
            if (rc == 0)
                rc = cli_crl_entry_json(b, &crl->entries[i], err);
        }
        if (rc == 0)
            rc = sn_buf_append_str(b, "]}", err);
    }
    cert_walk w = {.ctx = ctx, .own = own};
    if (rc == 0)
        rc = sn_buf_append_str(b, ",\"certificates\":[", err);
    if (rc == 0)
        rc = node_trust_cert_each(st, each_cert, &w, err);
    return rc != 0 ? rc : sn_buf_append_str(b, "]}\n", err);
}

static int show_text(cli_ctx *ctx, node_store *st, const sync_cert *ca, const char *fp,
                     const sync_cert *own, const sync_crl *crl, const char *warning, sn_err *err)
{
    sn_buf *b = &ctx->out;
    int rc = sn_buf_appendf(b, err, "CA           %s\nfingerprint  %s\nthis node    ", ca->name,
                            fp);
    if (rc == 0)
        rc = cert_line(b, own, err);
    if (rc == 0 && warning[0] != '\0')
        rc = sn_buf_appendf(b, err, "\n             WARNING: %s", warning);
    if (rc == 0 && crl->number == 0) {
        rc = sn_buf_append_str(b, "\nrevocation   no list held yet\n", err);
    } else if (rc == 0) {
        char next[CLI_CERT_TIME_MAX];
        cli_cert_time(next, crl->next_update, true);
        rc = sn_buf_appendf(b, err, "\nrevocation   list %" PRIu64 ", %zu entr%s, next update "
                            "due %s\n", crl->number, crl->n, crl->n == 1 ? "y" : "ies", next);
    }
    for (size_t i = 0; rc == 0 && i < crl->n; i++) {
        const sync_crl_entry *e = &crl->entries[i];
        char replica[33];
        sn_hex(replica, e->replica, sizeof e->replica);
        rc = sn_buf_appendf(b, err, "  serial %" PRIu64 " of %s/%" PRIu32 ": %s, commits after "
                            "seq %" PRIu64 " refused\n", e->serial, replica, e->epoch,
                            node_ca_reason_name(e->reason), e->last_good_seq);
    }
    static const char *const header[] = {"SERIAL", "NAME", "ROLE", "REPLICA", "UNTIL", ""};
    cert_walk w = {.ctx = ctx, .own = own};
    if (rc == 0)
        rc = sn_buf_append_str(b, "\ncertificates known:\n", err);
    if (rc == 0)
        rc = cli_grid_init(&w.grid, 6, header, err);
    if (rc == 0)
        rc = node_trust_cert_each(st, each_cert, &w, err);
    if (rc == 0)
        rc = cli_grid_render(&w.grid, b, err);
    cli_grid_free(&w.grid);
    return rc;
}

static int cmd_show(cli_ctx *ctx, int argc, char **argv)
{
    cli_parsed p;
    int ex = cli_args_parse(ctx, &show_spec, NULL, 0, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &show_spec);
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    sync_cert ca, own;
    sync_crl crl = {0};
    char fp[SYNC_FINGERPRINT_MAX], warning[WARNING_MAX];
    int rc = cli_store_open(ctx, &st, &err);
    if (rc == 0)
        rc = ca_fingerprint(st, &ca, fp, &err);
    if (rc == 0)
        rc = node_trust_own(st, &own, &err);
    if (rc == 0)
        rc = node_trust_crl(st, &crl, &err);
    if (rc == 0) {
        own_warning(&own, &crl, (uint64_t)time(NULL), warning);
        rc = ctx->json ? show_json(ctx, st, &ca, fp, &own, &crl, warning, &err)
                       : show_text(ctx, st, &ca, fp, &own, &crl, warning, &err);
    }
    sync_crl_free(&crl);
    node_store_close(st);
    return cli_finish(rc, &err);
}

static int cmd_add_crl(cli_ctx *ctx, int argc, char **argv)
{
    cli_parsed p;
    int ex = cli_args_parse(ctx, &add_crl_spec, NULL, 0, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &add_crl_spec);
    sn_err err = SN_ERR_INIT;
    sync_crl crl = {0}, held = {0};
    node_store *st = NULL;
    bool taken = false;
    int rc = crl_file(p.pos[0], &crl, &err);
    if (rc == 0)
        rc = open_admin(ctx, &st, "change the revocation list", &err);
    if (rc == 0)
        rc = node_trust_crl(st, &held, &err);
    if (rc == 0 && (rc = node_trust_crl_offer(st, &crl, &taken, &err)) != 0)
        sn_err_prefix(&err, "'%s'", p.pos[0]);
    if (rc == 0 && taken)
        rc = audit_admin(ctx, st, &err, "trust add-crl: revocation list %" PRIu64
                         " (%zu entr%s)", crl.number, crl.n, crl.n == 1 ? "y" : "ies");
    if (rc == 0 && ctx->json)
        rc = sn_buf_appendf(&ctx->out, &err, "{\"taken\":%s,\"number\":%" PRIu64
                            ",\"held\":%" PRIu64 "}\n", taken ? "true" : "false", crl.number,
                            taken ? crl.number : held.number);
    else if (rc == 0 && taken)
        rc = sn_buf_appendf(&ctx->out, &err, "taken: revocation list %" PRIu64 " (%zu entr%s)\n",
                            crl.number, crl.n, crl.n == 1 ? "y" : "ies");
    if (rc == 0 && !taken)
        fprintf(stderr, "ignored: revocation list %" PRIu64 " is not newer than list %" PRIu64
                " held here\n", crl.number, held.number);
    sync_crl_free(&crl);
    sync_crl_free(&held);
    node_store_close(st);
    return cli_finish(rc, &err);
}

static int cmd_add_cert(cli_ctx *ctx, int argc, char **argv)
{
    cli_parsed p;
    int ex = cli_args_parse(ctx, &add_cert_spec, NULL, 0, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &add_cert_spec);
    sn_err err = SN_ERR_INIT;
    sync_cert c;
    node_store *st = NULL;
    int rc = cert_file(p.pos[0], &c, &err);
    if (rc == 0)
        rc = open_admin(ctx, &st, "add certificates", &err);
    if (rc == 0)
        rc = node_trust_cert_add(st, &c, &err);
    char replica[33] = "";
    if (rc == 0)
        sn_hex(replica, c.replica, sizeof c.replica);
    if (rc == 0)
        rc = audit_admin(ctx, st, &err, "trust add-cert: serial %" PRIu64 " (%s '%s', replica %s)",
                         c.serial, cli_cert_role(&c), c.name, replica);
    if (rc == 0 && ctx->json) {
        rc = sn_buf_append_str(&ctx->out, "{", &err);
        if (rc == 0)
            rc = cli_cert_json(&ctx->out, &c, &err);
        if (rc == 0)
            rc = sn_buf_append_str(&ctx->out, "}\n", &err);
    } else if (rc == 0) {
        rc = sn_buf_append_str(&ctx->out, "added        ", &err);
        if (rc == 0)
            rc = cert_line(&ctx->out, &c, &err);
        if (rc == 0)
            rc = sn_buf_appendf(&ctx->out, &err, "\nreplica      %s\n", replica);
    }
    node_store_close(st);
    return cli_finish(rc, &err);
}

static const cli_sub trust_subs[] = {
    {"show", cmd_show, "the pinned CA, this node's certificate, revocations, known nodes"},
    {"add-crl", cmd_add_crl, "take a newer revocation list from the CA"},
    {"add-cert", cmd_add_cert, "remember another node's certificate"},
};

int cli_cmd_trust(cli_ctx *ctx, int argc, char **argv)
{
    return cli_group_dispatch(ctx, "trust",
                              "What this node trusts: the certificate authority pinned at\n"
                              "enrolment, the revocation list (never going back to an older\n"
                              "one) and the certificates of other nodes.\n",
                              trust_subs, sizeof trust_subs / sizeof trust_subs[0], argc, argv);
}
