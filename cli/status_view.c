/* cli/status_view.c - the sync part of `outpost status`: on a hub one line per enrolled
 * node, most urgent first, with human ages and the state coloured on a terminal only; on a
 * site its own view (last sync, commits pending each way, conflicts waiting for review).
 * `--json` gives node/status.h's report as "sync". */
#include "cli/status_view.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/output.h"
#include "node/status.h"

/* "3 d 4 h ago", or "never". */
static void ago(char *out, size_t cap, uint64_t now, uint64_t then)
{
    if (then == 0) {
        snprintf(out, cap, "never");
        return;
    }
    char age[32];
    node_status_age(age, sizeof age, now > then ? now - then : 0);
    snprintf(out, cap, "%s%s", age, strcmp(age, "now") == 0 ? "" : " ago");
}

/* ANSI colour of a state: red for what needs action now, yellow for what needs a look. */
static const char *state_colour(node_state s)
{
    if (s <= NODE_STATE_FAILING)
        return "\033[1;31m";
    if (s < NODE_STATE_IN_SYNC)
        return "\033[33m";
    return "\033[32m";
}

/* What the operator most needs to read beside the state. */
static void note_of(char *out, size_t cap, const node_status_node *n, uint64_t now)
{
    char t[32];
    switch (n->state) {
    case NODE_STATE_FAILING: snprintf(out, cap, "%s", n->last_error); break;
    case NODE_STATE_STUCK:
        node_status_age(t, sizeof t, now - n->waiting_since_ms);
        snprintf(out, cap, "%" PRIu64 " commits waiting %s for an earlier one", n->waiting, t);
        break;
    case NODE_STATE_EXPIRED:
    case NODE_STATE_EXPIRING: {
        uint64_t d = n->not_after_ms > now ? n->not_after_ms - now : now - n->not_after_ms;
        node_status_age(t, sizeof t, d);
        snprintf(out, cap, "certificate %s %s%s", n->not_after_ms > now ? "expires in" : "expired",
                 t, n->not_after_ms > now ? "" : " ago");
        break;
    }
    default: snprintf(out, cap, "%s", node_state_meaning(n->state)); break;
    }
}

static int colour_states(sn_buf *out, const sn_buf *grid, sn_err *err)
{
    const char *p = (const char *)grid->data, *end = p + grid->len;
    int rc = 0;
    bool header = true;
    while (rc == 0 && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        size_t word = strcspn(p, " \n");
        node_state s = NODE_STATE_COUNT;
        for (int i = 0; !header && i < NODE_STATE_COUNT; i++)
            if (strlen(node_state_name(i)) == word && strncmp(p, node_state_name(i), word) == 0)
                s = (node_state)i;
        if (s != NODE_STATE_COUNT)
            rc = sn_buf_appendf(out, err, "%s%.*s\033[0m%.*s", state_colour(s), (int)word, p,
                                (int)(len - word), p + word);
        else
            rc = sn_buf_append(out, p, len, err);
        header = false;
        p += len;
    }
    return rc;
}

static int hub_view(sn_buf *out, const node_status_report *r, bool colour, sn_err *err)
{
    int rc = sn_buf_appendf(out, err, "\nnodes      %zu", r->nnodes);
    for (int s = 0; rc == 0 && s < NODE_STATE_COUNT; s++)
        if (r->by_state[s] > 0)
            rc = sn_buf_appendf(out, err, "  %zu %s", r->by_state[s], node_state_name(s));
    if (rc == 0)
        rc = sn_buf_append_str(out, "\n", err);
    if (rc != 0 || r->nnodes == 0)
        return rc;
    static const char *const head[] = {"STATE", "NODE", "LAST SEEN", "LAST SYNC", "BEHIND",
                                       "AHEAD", "SKEW", "CONFLICTS", "WAITING", "NOTE"};
    cli_grid g;
    rc = cli_grid_init(&g, 10, head, err);
    for (size_t i = 0; rc == 0 && i < r->nnodes; i++) {
        const node_status_node *n = &r->nodes[i];
        char seen[48], sync[48], behind[24], ahead[24], skew[24], confl[24], wait[24],
            note[300];
        ago(seen, sizeof seen, r->now_ms, n->last_seen_ms);
        ago(sync, sizeof sync, r->now_ms, n->last_sync_ms);
        snprintf(behind, sizeof behind, n->vector_known ? "%" PRIu64 : "?", n->behind);
        snprintf(ahead, sizeof ahead, n->vector_known ? "%" PRIu64 : "?", n->ahead);
        snprintf(skew, sizeof skew, n->last_seen_ms > 0 ? "%+.1f s" : "-",
                 (double)n->skew_ms / 1000.0);
        snprintf(confl, sizeof confl, "%" PRIu64, n->conflicts);
        snprintf(wait, sizeof wait, "%" PRIu64, n->waiting);
        note_of(note, sizeof note, n, r->now_ms);
        const char *cells[] = {node_state_name(n->state), n->name, seen, sync, behind, ahead,
                               skew, confl, wait, note};
        rc = cli_grid_add(&g, cells, err);
    }
    sn_buf grid;
    sn_buf_init(&grid, SIZE_MAX);
    if (rc == 0)
        rc = cli_grid_render(&g, &grid, err);
    if (rc == 0)
        rc = colour ? colour_states(out, &grid, err) : sn_buf_append(out, grid.data, grid.len, err);
    sn_buf_free(&grid);
    cli_grid_free(&g);
    return rc;
}

static int site_view(sn_buf *out, const node_status_report *r, sn_err *err)
{
    char last[48];
    ago(last, sizeof last, r->now_ms, r->last_sync_ms);
    int rc = 0;
    if (r->self_frozen)
        rc = sn_buf_append_str(out, "\nWARNING    another copy of this node (a restored disk image or a "
                                    "cloned machine?)\n           wrote a second history: "
                                    "this node's own commits are frozen from the\n"
                                    "           fork on (outpost quarantine). Tell the hub "
                                    "operator before recording more.\n", err);
    if (rc == 0)
        rc = sn_buf_appendf(out, err,
                            "\nlast sync  %s\nto send    %" PRIu64
                            " commits the hub lacked when last told\nto receive %" PRIu64
                            " commits the hub held that we lack, as last told\nto review  %" PRIu64
                            " conflicts (outpost conflicts)\n",
                            last, r->pending_out, r->pending_in, r->counts.conflicts);
    for (size_t i = 0; rc == 0 && i < r->nnodes; i++) {
        const node_status_node *n = &r->nodes[i];
        if (!n->hub)
            continue;
        char seen[48];
        ago(seen, sizeof seen, r->now_ms, n->last_sync_ms);
        rc = sn_buf_appendf(out, err, "hub        %s: %s, last in sync %s%s%s\n", n->name,
                            node_state_name(n->state), seen,
                            n->last_error[0] != '\0' && n->state == NODE_STATE_FAILING ? "; "
                                                                                        : "",
                            n->state == NODE_STATE_FAILING ? n->last_error : "");
    }
    return rc;
}

int cli_status_sync(cli_ctx *ctx, node_store *st, sn_err *err)
{
    node_status_report r;
    node_status_limits limits;
    cli_status_limits(ctx, &limits);
    int rc = node_status_build(st, &limits, 0, &r, err);
    if (rc != 0)
        return rc;
    if (ctx->json) {
        rc = sn_buf_append_str(&ctx->out, ",\"sync\":", err);
        if (rc == 0)
            rc = node_status_json(&r, &ctx->out, err);
    } else if (r.enrolled) {
        bool colour = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
        rc = r.hub ? hub_view(&ctx->out, &r, colour, err) : site_view(&ctx->out, &r, err);
    }
    node_status_free(&r);
    return rc;
}

void cli_status_limits(const cli_ctx *ctx, node_status_limits *out)
{
    *out = ctx->config.limits; /* node_config_defaults starts from the defaults */
}
