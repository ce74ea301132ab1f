/* cli/cmd_sync.c - `outpost serve` (the sync daemon, and the status endpoints of
 * node/http.h) and `outpost sync PEER` (one session with a peer, for scripts and for links
 * that come and go): node/daemon.h over TCP. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cli/args.h"
#include "cli/output.h"
#include "node/config.h"
#include "node/daemon.h"
#include "node/trust.h"

static const cli_spec serve_spec = {
    .path = "serve",
    .synopsis = "[--listen HOST:PORT|off] [--hub HOST:PORT[,HOST:PORT...]]\n"
                "                     [--port-file FILE] [--http IP:PORT|off] "
                "[--http-port-file FILE]",
    .min_pos = 0,
    .max_pos = 0,
    .help = "Run the sync daemon: accept enrolled peers on the listen address, keep a\n"
            "session with every hub (dialling again after a failure or a cut, waiting\n"
            "longer each time up to [sync] retry_max, with jitter), relay what each peer\n"
            "sends to every other connected peer, and push new local commits within a\n"
            "second. Every session is a Noise handshake between enrolled certificates,\n"
            "then encrypted, authenticated frames; what a peer refuses or breaks is logged\n"
            "with its name and the reason. Runs until SIGINT or SIGTERM.\n"
            "\n"
            "Options (each overrides the configuration's [sync] section):\n"
            "  --listen ADDR    where to accept peers (default 0.0.0.0:7420; off: nowhere)\n"
            "  --hub LIST       hub addresses to keep a session with, comma-separated\n"
            "  --port-file FILE write the listening port there (useful with port 0)\n"
            "\n"
            "The status endpoints for operators (overriding [status] http): the page at /,\n"
            "/status.json and /metrics (Prometheus). A hub serves them on 127.0.0.1:7480\n"
            "unless told otherwise; other nodes only when an address is given.\n"
            "  --http ADDR      where to serve them (a numeric IP:PORT; off: nowhere)\n"
            "  --http-port-file FILE  write their port there (useful with port 0)\n",
};

static const cli_spec sync_spec = {
    .path = "sync",
    .synopsis = "PEER [--once]",
    .min_pos = 1,
    .max_pos = 1,
    .help = "Sync with PEER (HOST:PORT of a hub or of another enrolled node). With --once,\n"
            "end when both sides hold what the other had and every unit is acknowledged;\n"
            "without it, stay connected and push new commits until interrupted.\n"
            "\n"
            "Exit status: 0 in sync; 75 the peer could not be reached or the link was cut\n"
            "(try again later: nothing acknowledged is lost and the next session resumes);\n"
            "76 the peer broke the protocol; 77 a certificate or a unit was refused.\n"
            "\n"
            "Options:\n"
            "  --once    one session, then exit\n"
            "  --json    print the session's figures as JSON\n",
};

/* Split a comma-separated address list into o->dial. */
static int add_dials(node_daemon_opts *o, char *list, char store[][256])
{
    for (char *tok = list; tok != NULL && *tok != '\0';) {
        char *comma = strchr(tok, ',');
        if (comma != NULL)
            *comma = '\0';
        size_t len = strlen(tok);
        if (o->ndial == NODE_DAEMON_DIAL_MAX || len >= 256 || strchr(tok, ':') == NULL)
            return -1;
        memcpy(store[o->ndial], tok, len + 1);
        o->dial[o->ndial] = store[o->ndial];
        o->ndial++;
        tok = comma != NULL ? comma + 1 : NULL;
    }
    return 0;
}

static void log_at_least_info(const cli_ctx *ctx)
{
    if (ctx->config.log_level == SN_LOG_WARN || ctx->config.log_level == SN_LOG_ERROR)
        sn_log_set_level(SN_LOG_INFO);
}

/* Where the status endpoints go: --http, else [status] http, else the default on a hub;
 * NULL when nowhere. */
static int status_address(const cli_ctx *ctx, node_store *st, const char *flag,
                          const char **out, sn_err *err)
{
    const char *addr = flag != NULL ? flag : ctx->config.http;
    if (addr[0] == '\0') {
        sync_cert own;
        int rc = node_trust_own(st, &own, err);
        if (rc == SN_ENOTFOUND) {
            sn_err_clear(err); /* not enrolled: not a hub */
            own.type = 0;
        } else if (rc != 0) {
            return rc;
        }
        addr = own.type == SYNC_CERT_HUB ? NODE_CONFIG_HTTP_DEFAULT : "off";
    }
    *out = strcmp(addr, "off") == 0 ? NULL : addr;
    return 0;
}

int cli_cmd_serve(cli_ctx *ctx, int argc, char **argv)
{
    const char *listen = NULL, *hub = NULL, *port_file = NULL, *http = NULL,
               *http_port_file = NULL;
    const cli_opt opts[] = {{.name = "listen", .value = &listen},
                            {.name = "hub", .value = &hub},
                            {.name = "port-file", .value = &port_file},
                            {.name = "http", .value = &http},
                            {.name = "http-port-file", .value = &http_port_file}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &serve_spec, opts, 5, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &serve_spec);
    node_daemon_opts o = {.retry_max_ms = ctx->config.retry_max_ms, .port_file = port_file};
    static char dials[NODE_DAEMON_DIAL_MAX][256];
    char list[2048];
    if (hub != NULL) {
        snprintf(list, sizeof list, "%s", hub);
        if (add_dials(&o, list, dials) != 0)
            return cli_usage_error("serve", "--hub '%s' is not a list of at most %d HOST:PORT "
                                   "addresses", hub, NODE_DAEMON_DIAL_MAX);
    } else {
        for (size_t i = 0; i < ctx->config.nhubs; i++)
            o.dial[o.ndial++] = ctx->config.hubs[i];
    }
    o.listen = listen != NULL ? listen : ctx->config.listen;
    if (strcmp(o.listen, "off") == 0)
        o.listen = NULL;
    if (o.listen == NULL && o.ndial == 0)
        return cli_usage_error("serve", "nothing to do: no listen address and no hub");
    log_at_least_info(ctx);
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    int rc = cli_store_open(ctx, &st, &err);
    node_http_opts ho = {.port_file = http_port_file, .limits = ctx->config.limits};
    if (rc == 0)
        rc = status_address(ctx, st, http, &ho.addr, &err);
    if (rc == 0 && ho.addr == NULL && http_port_file != NULL) {
        node_store_close(st);
        return cli_usage_error("serve", "--http-port-file without status endpoints: give "
                               "--http IP:PORT");
    }
    o.http = ho.addr != NULL ? &ho : NULL;
    if (rc == 0)
        rc = node_daemon_run(st, &o, NULL, &err);
    node_store_close(st);
    return cli_finish(rc, &err);
}

int cli_cmd_sync(cli_ctx *ctx, int argc, char **argv)
{
    bool once = false;
    const cli_opt opts[] = {{.name = "once", .flag = &once}};
    cli_parsed p;
    int ex = cli_args_parse(ctx, &sync_spec, opts, 1, argc, argv, &p);
    if (ex != 0 || p.help)
        return ex != 0 ? ex : cli_help(ctx, &sync_spec);
    if (strchr(p.pos[0], ':') == NULL)
        return cli_usage_error("sync", "PEER '%s' is not HOST:PORT", p.pos[0]);
    node_daemon_opts o = {.once = once, .retry_max_ms = ctx->config.retry_max_ms};
    o.dial[o.ndial++] = p.pos[0];
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    node_daemon_report rep;
    int rc = cli_store_open(ctx, &st, &err);
    if (rc == 0)
        rc = node_daemon_run(st, &o, &rep, &err);
    node_store_close(st);
    if (rc == 0) {
        const node_link_stats *s = &rep.last;
        if (ctx->json)
            rc = sn_buf_appendf(&ctx->out, &err,
                                "{\"peer\":\"%s\",\"units_in\":%llu,\"units_out\":%llu,"
                                "\"commits_in\":%llu,\"commits_out\":%llu,\"bytes_in\":%llu,"
                                "\"bytes_out\":%llu,\"skew_ms\":%lld}\n",
                                p.pos[0], (unsigned long long)s->units_in,
                                (unsigned long long)s->units_out,
                                (unsigned long long)s->commits_in,
                                (unsigned long long)s->commits_out,
                                (unsigned long long)s->bytes_in,
                                (unsigned long long)s->bytes_out, (long long)s->skew_ms);
        else
            rc = sn_buf_appendf(&ctx->out, &err,
                                "in sync with %s: %llu commits in, %llu out (%llu bytes in, "
                                "%llu out)\n",
                                p.pos[0], (unsigned long long)s->commits_in,
                                (unsigned long long)s->commits_out,
                                (unsigned long long)s->bytes_in,
                                (unsigned long long)s->bytes_out);
    }
    return cli_finish(rc, &err);
}
