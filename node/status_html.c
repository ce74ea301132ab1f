/* node/status_html.c - the status report (status.h) as the hub operator's page, served at /.
 *
 * One self-contained document: inline CSS, inline SVG, no script, no fonts, images or
 * links off the node, so it works on a ship's LAN with no internet. It refreshes itself
 * with <meta http-equiv="refresh">. Nodes come most urgent first, each row with its state
 * as a word on a coloured badge (colour is a cue, never the only one), the figures behind
 * it, and a bar chart of its sessions over the last NODE_STATUS_DAYS days drawn on the
 * server: completed sessions green, failed red, others (still running, cut) grey, scaled to
 * the row's busiest day. A legend says what every state means and which limits apply. */
#include "node/status.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"

/* Appending with a sticky error: after the first failure every call does nothing, and
 * the caller returns `rc` once at the end. */
typedef struct page {
    sn_buf *out;
    sn_err *err;
    int rc;
} page;

static void put(page *p, const char *fmt, ...) SN_PRINTF(2, 3);
static void put(page *p, const char *fmt, ...)
{
    if (p->rc != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    p->rc = sn_buf_vappendf(p->out, p->err, fmt, ap);
    va_end(ap);
}

/* Text from outside (names, error messages), escaped for element content and attributes. */
static void text(page *p, const char *s)
{
    for (; *s != '\0' && p->rc == 0; s++) {
        switch (*s) {
        case '&': p->rc = sn_buf_append_str(p->out, "&amp;", p->err); break;
        case '<': p->rc = sn_buf_append_str(p->out, "&lt;", p->err); break;
        case '>': p->rc = sn_buf_append_str(p->out, "&gt;", p->err); break;
        case '"': p->rc = sn_buf_append_str(p->out, "&quot;", p->err); break;
        case '\'': p->rc = sn_buf_append_str(p->out, "&#39;", p->err); break;
        default: p->rc = sn_buf_append(p->out, s, 1, p->err); break;
        }
    }
}

/* ---- words for times ---------------------------------------------------------------- */

/* "3 h 5 min ago", "just now", or `never` when t is 0. */
static void ago(page *p, uint64_t now_ms, uint64_t t, const char *never)
{
    if (t == 0) {
        put(p, "%s", never);
        return;
    }
    uint64_t ms = now_ms > t ? now_ms - t : 0;
    if (ms < 1000) {
        put(p, "just now");
        return;
    }
    char age[48];
    node_status_age(age, sizeof age, ms);
    put(p, "%s ago", age);
}

/* A UTC date, "2024-03-01", or date and time, "2024-03-01 09:30:12 UTC". */
static void utc(page *p, uint64_t unix_ms, bool with_time)
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    char s[64];
    size_t n = 0;
    if (gmtime_r(&t, &tm) != NULL)
        n = with_time ? strftime(s, sizeof s, "%Y-%m-%d %H:%M:%S UTC", &tm)
                      : strftime(s, sizeof s, "%Y-%m-%d", &tm);
    put(p, "%s", n > 0 ? s : "?");
}

/* A duration with a unit, for limits and skews: "300 ms", else node_status_age. */
static void span(page *p, uint64_t ms)
{
    char age[48];
    if (ms < 1000)
        snprintf(age, sizeof age, "%" PRIu64 " ms", ms);
    else
        node_status_age(age, sizeof age, ms);
    put(p, "%s", age);
}

/* ---- the page ----------------------------------------------------------------------- */

/* Badge colours: background and text per state (urgent red, attention amber, certificate
 * trouble purple, nothing yet grey, soon yellow, fine green). */
static const struct colour {
    const char *bg, *fg;
} state_colours[NODE_STATE_COUNT] = {
    [NODE_STATE_EQUIVOCATING] = {"#7a0019", "#fff"}, [NODE_STATE_DIVERGED] = {"#7a0019", "#fff"},
    [NODE_STATE_STUCK] = {"#c62828", "#fff"},        [NODE_STATE_FAILING] = {"#c62828", "#fff"},
    [NODE_STATE_SKEWED] = {"#e67e00", "#000"},       [NODE_STATE_SILENT] = {"#e67e00", "#000"},
    [NODE_STATE_BEHIND] = {"#e67e00", "#000"},       [NODE_STATE_EXPIRED] = {"#6a1b9a", "#fff"},
    [NODE_STATE_REVOKED] = {"#6a1b9a", "#fff"},      [NODE_STATE_NEVER] = {"#616161", "#fff"},
    [NODE_STATE_EXPIRING] = {"#f2c200", "#000"},     [NODE_STATE_IN_SYNC] = {"#2e7d32", "#fff"},
};

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#1a1a1a;background:#f6f6f4}"
    "h1{font-size:22px;margin:0}"
    ".sub,.small{color:#555;font-size:12px}"
    ".summary{display:flex;flex-wrap:wrap;gap:8px 20px;margin:12px 0;align-items:baseline}"
    ".summary b{font-size:18px}"
    "table{border-collapse:collapse;width:100%;background:#fff}"
    "th,td{padding:6px 8px;text-align:left;vertical-align:top;border-bottom:1px solid #ddd}"
    "td{white-space:nowrap}td.wrap{white-space:normal;min-width:9em}"
    "th{font-size:12px;color:#444;background:#eceae6}"
    "td.num{text-align:right;white-space:nowrap}"
    ".badge{display:inline-block;padding:2px 8px;border-radius:10px;font-weight:600;"
    "font-size:12px;white-space:nowrap}"
    "tr.error td{border-top:0;color:#8a1010;font-size:12px;padding-top:0}"
    ".name{font-weight:600}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;font-size:13px}"
    "dd{margin:0}"
    "svg{display:block}";

static void badge(page *p, node_state s)
{
    put(p, "<span class=\"badge state-%s\" style=\"background:%s;color:%s\">%s</span>",
        node_state_name(s), state_colours[s].bg, state_colours[s].fg, node_state_name(s));
}

static void head(page *p, const node_status_report *r, unsigned refresh_s)
{
    put(p, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    if (refresh_s > 0)
        put(p, "<meta http-equiv=\"refresh\" content=\"%u\">\n", refresh_s);
    put(p, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
           "<title>Outpost status: ");
    text(p, r->name);
    put(p, "</title>\n<style>%s</style>\n</head>\n<body>\n<header>\n<h1>", css);
    text(p, r->name[0] != '\0' ? r->name : "(unnamed node)");
    char hex[33];
    sn_hex(hex, r->replica, sizeof r->replica);
    put(p, "</h1>\n<div class=\"sub\">%s%s, replica %.8s &middot; ", r->hub ? "hub" : "node",
        r->enrolled ? "" : " (not enrolled)", hex);
    utc(p, r->now_ms, true);
    if (refresh_s > 0)
        put(p, " &middot; refreshes every %u s", refresh_s);
    put(p, " &middot; <a href=\"status.json\">status.json</a> &middot; "
           "<a href=\"metrics\">metrics</a></div>\n</header>\n");
}

/* Counts by state (those not zero), then this node's own figures. */
static void summary(page *p, const node_status_report *r)
{
    put(p, "<section class=\"summary\" aria-label=\"summary\">\n<span><b>%zu</b> nodes</span>\n",
        r->nnodes);
    for (size_t s = 0; s < NODE_STATE_COUNT; s++)
        if (r->by_state[s] > 0) {
            put(p, "<span><b>%zu</b> ", r->by_state[s]);
            badge(p, (node_state)s);
            put(p, "</span>\n");
        }
    put(p, "<span><b>%" PRIu64 "</b> commits held</span>\n<span>last sync <b>", r->held);
    ago(p, r->now_ms, r->last_sync_ms, "never");
    put(p, "</b></span>\n<span><b>%" PRIu64 "</b> conflicts to review</span>\n",
        r->counts.conflicts);
    if (r->pending_out > 0 || r->pending_in > 0)
        put(p, "<span><b>%" PRIu64 "</b> to send, <b>%" PRIu64 "</b> to receive</span>\n",
            r->pending_out, r->pending_in);
    put(p, "</section>\n");
}

#define CHART_BAR 8    /* bar width, px */
#define CHART_GAP 2    /* between bars */
#define CHART_HEIGHT 32

/* One rectangle of a stacked bar, `v` of `max` sessions on top of `*y`. */
static void bar_part(page *p, unsigned x, uint64_t v, uint64_t max, unsigned *y,
                     const char *fill)
{
    if (v == 0)
        return;
    /* Round up, so one session among many still shows; never above the chart. */
    unsigned h = (unsigned)((v * CHART_HEIGHT + max - 1) / max);
    if (h > *y)
        h = *y;
    *y -= h;
    put(p, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"%s\"/>", x, *y, CHART_BAR,
        h, fill);
}

static void chart(page *p, const node_status_node *n)
{
    uint64_t max = 1, total = 0, completed = 0, failed = 0;
    for (size_t i = 0; i < NODE_STATUS_DAYS; i++) {
        const node_status_day *d = &n->days[i];
        uint64_t top = d->sessions > d->completed + d->failed ? d->sessions
                                                               : d->completed + d->failed;
        if (top > max)
            max = top;
        total += d->sessions;
        completed += d->completed;
        failed += d->failed;
    }
    unsigned width = NODE_STATUS_DAYS * (CHART_BAR + CHART_GAP) - CHART_GAP;
    put(p, "<svg class=\"chart\" width=\"%u\" "
           "height=\"%u\" viewBox=\"0 0 %u %u\" role=\"img\" aria-label=\"last %d days: %" PRIu64
           " sessions, %" PRIu64 " completed, %" PRIu64 " failed\">",
        width, CHART_HEIGHT + 1, width, CHART_HEIGHT + 1, NODE_STATUS_DAYS, total, completed,
        failed);
    for (size_t i = 0; i < NODE_STATUS_DAYS; i++) {
        const node_status_day *d = &n->days[i];
        unsigned x = (unsigned)i * (CHART_BAR + CHART_GAP), y = CHART_HEIGHT;
        put(p, "<g><title>");
        utc(p, d->day * 86400000, false);
        put(p, ": %" PRIu64 " sessions, %" PRIu64 " completed, %" PRIu64 " failed</title>",
            d->sessions, d->completed, d->failed);
        /* The baseline marks every day, so an empty one reads as zero, not as missing. */
        put(p, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"1\" fill=\"#bbb\"/>", x,
            CHART_HEIGHT, CHART_BAR);
        uint64_t other = d->sessions > d->completed + d->failed
                             ? d->sessions - d->completed - d->failed : 0;
        bar_part(p, x, d->completed, max, &y, "#2e7d32");
        bar_part(p, x, d->failed, max, &y, "#c62828");
        bar_part(p, x, other, max, &y, "#9e9e9e");
        put(p, "</g>");
    }
    put(p, "</svg><div class=\"small\">%" PRIu64 " sessions, %" PRIu64 " failed</div>", total,
        failed);
}

/* What holds besides the state itself ("also silent, behind"). */
static void other_alerts(page *p, const node_status_node *n)
{
    const char *sep = "<div class=\"small\">also ";
    for (size_t s = 0; s < NODE_STATE_IN_SYNC; s++)
        if ((n->alerts >> s & 1u) && (node_state)s != n->state) {
            put(p, "%s%s", sep, node_state_name((node_state)s));
            sep = ", ";
        }
    if (strcmp(sep, ", ") == 0)
        put(p, "</div>");
}

static void certificate(page *p, const node_status_report *r, const node_status_node *n)
{
    put(p, "<td>");
    if (n->revoked)
        put(p, "revoked");
    else if (n->not_after_ms == 0)
        put(p, "&mdash;");
    else if (n->not_after_ms <= r->now_ms) {
        put(p, "expired ");
        ago(p, r->now_ms, n->not_after_ms, "");
    } else {
        put(p, "expires in ");
        span(p, n->not_after_ms - r->now_ms);
    }
    put(p, "<div class=\"small\">serial %" PRIu64 "</div></td>", n->serial);
}

static void table_row(page *p, const node_status_report *r, const node_status_node *n)
{
    char hex[33];
    sn_hex(hex, n->replica, sizeof n->replica);
    put(p, "<tr class=\"node\" id=\"node-%s\" data-state=\"%s\" style=\"border-left:6px solid "
           "%s\">\n<td>",
        hex, node_state_name(n->state), state_colours[n->state].bg);
    badge(p, n->state);
    other_alerts(p, n);
    put(p, "</td>\n<td class=\"wrap\"><span class=\"name\">");
    text(p, n->name[0] != '\0' ? n->name : "(unnamed)");
    put(p, "</span><div class=\"small\">%s %.8s</div></td>\n<td>", n->hub ? "hub" : "node", hex);
    ago(p, r->now_ms, n->last_seen_ms, "never");
    put(p, "<div class=\"small\">sync ");
    ago(p, r->now_ms, n->last_sync_ms, "never");
    put(p, "</div></td>\n");
    if (n->vector_known)
        put(p, "<td class=\"num\">%" PRIu64 " / %" PRIu64 "</td>\n", n->behind, n->ahead);
    else
        put(p, "<td class=\"num\">&mdash;</td>\n");
    put(p, "<td class=\"num\">");
    if (n->last_seen_ms == 0)
        put(p, "&mdash;");
    else if (n->skew_ms == 0)
        put(p, "0");
    else {
        span(p, n->skew_ms < 0 ? (uint64_t)0 - (uint64_t)n->skew_ms : (uint64_t)n->skew_ms);
        put(p, "%s", n->skew_ms < 0 ? " behind" : " ahead");
    }
    put(p, "</td>\n<td class=\"num\">%" PRIu64 "</td>\n<td class=\"num\">%" PRIu64, n->conflicts,
        n->waiting);
    if (n->waiting > 0 && n->waiting_since_ms != 0) {
        put(p, "<div class=\"small\">oldest ");
        ago(p, r->now_ms, n->waiting_since_ms, "");
        put(p, "</div>");
    }
    put(p, "</td>\n<td class=\"num\">%" PRIu64 "%s</td>\n<td>%s</td>\n", n->quarantined,
        n->frozen ? "<div class=\"small\">frozen</div>" : "", node_digest_match_name(n->digest));
    certificate(p, r, n);
    put(p, "\n<td>");
    chart(p, n);
    put(p, "</td>\n</tr>\n");
    if (n->last_error[0] != '\0') {
        put(p, "<tr class=\"error\"><td></td><td class=\"wrap\" colspan=\"10\">last error ");
        ago(p, r->now_ms, n->last_error_ms, "");
        put(p, ": ");
        text(p, n->last_error);
        put(p, "</td></tr>\n");
    }
}

static void nodes_table(page *p, const node_status_report *r)
{
    if (r->nnodes == 0) {
        put(p, "<p>No other node is known yet: enrol sites with this node's CA and let them "
               "sync.</p>\n");
        return;
    }
    put(p, "<table>\n<thead><tr><th>State</th><th>Node</th><th>Last seen</th>"
           "<th>Behind / ahead</th><th>Clock</th><th>Conflicts</th><th>Waiting</th>"
           "<th>Quarantined</th><th>Digest</th><th>Certificate</th><th>Last %d days</th>"
           "</tr></thead>\n<tbody>\n",
        NODE_STATUS_DAYS);
    for (size_t i = 0; i < r->nnodes; i++)
        table_row(p, r, &r->nodes[i]);
    put(p, "</tbody>\n</table>\n");
}

static void legend(page *p, const node_status_report *r)
{
    const node_status_limits *l = &r->limits;
    put(p, "<section aria-label=\"states\">\n<h2>States, most urgent first</h2>\n<dl>\n");
    for (size_t s = 0; s < NODE_STATE_COUNT; s++) {
        put(p, "<dt>");
        badge(p, (node_state)s);
        put(p, "</dt><dd>%s</dd>\n", node_state_meaning((node_state)s));
    }
    put(p, "</dl>\n<p class=\"small\">Limits: silent after ");
    span(p, l->silent_ms);
    for (size_t i = 0; i < l->nexpect; i++) {
        put(p, " (");
        text(p, l->expect[i].name);
        put(p, ": ");
        span(p, l->expect[i].silent_ms);
        put(p, ")");
    }
    put(p, "; behind by more than %" PRIu64 " commits; clock off by more than ", l->behind);
    span(p, l->skew_ms);
    put(p, "; stuck after ");
    span(p, l->stuck_ms);
    put(p, "; expiring within ");
    span(p, l->expiring_ms);
    put(p, ". Chart: completed sessions green, failed red, others grey.</p>\n</section>\n");
}

int node_status_html(const node_status_report *r, unsigned refresh_s, sn_buf *out, sn_err *err)
{
    page p = {.out = out, .err = err};
    head(&p, r, refresh_s);
    put(&p, "<main>\n");
    summary(&p, r);
    nodes_table(&p, r);
    legend(&p, r);
    put(&p, "</main>\n</body>\n</html>\n");
    return p.rc;
}
