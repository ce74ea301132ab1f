/* tests/check_node_status_render.c - the renderers of the status report (node/status.h)
 * that /metrics and / serve, on reports filled by hand: the Prometheus text (families whole
 * with HELP and TYPE, one-hot states, values and units, label escaping, promtool's verdict)
 * and the HTML page (every node and state word, escaping, no external URL, the refresh,
 * the session chart); both under a buffer limit and under failing allocations. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "node/status.h"
#include "tests/node_fixture.h"

#define NOW_MS UINT64_C(1700000000123) /* 2023-11-14 22:13:20.123 UTC, day 19675 */
#define DAY_MS UINT64_C(86400000)
#define TODAY (NOW_MS / DAY_MS)

static const char ship_name[] = "Ship \"A\"\\ North\nDeck"; /* quote, backslash, newline */
static const char camp_name[] = "Camp <script>x</script> & 'co'";
static node_status_node nodes[3];

/* Three nodes: a silent, behind ship with an awkward name; a camp in sync; a failing hub. */
static node_status_report report(void)
{
    memset(nodes, 0, sizeof nodes);
    node_status_node *ship = &nodes[0], *camp = &nodes[1], *hub = &nodes[2];
    snprintf(ship->name, sizeof ship->name, "%s", ship_name);
    memset(ship->replica, 0x01, 16);
    ship->serial = 7;
    ship->not_after_ms = NOW_MS + 200 * DAY_MS;
    ship->last_seen_ms = NOW_MS - 2 * DAY_MS;
    ship->last_sync_ms = NOW_MS - 3 * DAY_MS;
    ship->vector_known = true;
    ship->behind = 250;
    ship->skew_ms = -1500;
    ship->bytes_in = 1000;
    ship->bytes_out = 12345;
    ship->sessions = 9;
    ship->completed = 7;
    ship->waiting = 2;
    ship->waiting_since_ms = NOW_MS - 90000;
    ship->alerts = 1u << NODE_STATE_SILENT | 1u << NODE_STATE_BEHIND;
    ship->state = NODE_STATE_SILENT;
    ship->digest = NODE_DIGEST_OTHER;

    snprintf(camp->name, sizeof camp->name, "%s", camp_name);
    memset(camp->replica, 0x02, 16);
    camp->last_seen_ms = NOW_MS - 5000;
    camp->last_sync_ms = NOW_MS - 5000;
    camp->freshest_ms = NOW_MS - 60000;
    camp->vector_known = true;
    camp->skew_ms = 250;
    camp->state = NODE_STATE_IN_SYNC;
    camp->digest = NODE_DIGEST_MATCH;

    snprintf(hub->name, sizeof hub->name, "Hub Two");
    memset(hub->replica, 0xab, 16);
    hub->hub = true;
    hub->last_seen_ms = NOW_MS - 60000;
    snprintf(hub->last_error, sizeof hub->last_error, "cut <mid-unit> by peer");
    hub->last_error_ms = NOW_MS - 60000;
    hub->alerts = 1u << NODE_STATE_FAILING | 1u << NODE_STATE_EXPIRING;
    hub->state = NODE_STATE_FAILING;
    hub->frozen = true;

    for (size_t n = 0; n < 3; n++)
        for (size_t i = 0; i < NODE_STATUS_DAYS; i++)
            nodes[n].days[i].day = TODAY - (NODE_STATUS_DAYS - 1) + i;
    /* The ship's busiest day is the oldest (4 sessions, all completed); today 3, 1 failed. */
    ship->days[0] = (node_status_day){.day = TODAY - 13, .sessions = 4, .completed = 4};
    ship->days[13] = (node_status_day){.day = TODAY, .sessions = 3, .completed = 2, .failed = 1};
    camp->days[12] = (node_status_day){.day = TODAY - 1, .sessions = 1, .completed = 1};

    node_status_report r = {.now_ms = NOW_MS, .hub = true, .enrolled = true, .held = 4242,
                            .last_sync_ms = NOW_MS - 5000, .nnodes = 3, .nodes = nodes};
    snprintf(r.name, sizeof r.name, "Fleet HQ");
    memset(r.replica, 0xcd, 16);
    r.counts.conflicts = 3;
    node_status_limits_default(&r.limits);
    r.by_state[NODE_STATE_SILENT] = 1;
    r.by_state[NODE_STATE_IN_SYNC] = 1;
    r.by_state[NODE_STATE_FAILING] = 1;
    return r;
}

/* Render with `fn` into a NUL-terminated string the caller frees with sn_free. */
static char *render(int (*fn)(const node_status_report *, sn_buf *, sn_err *),
                    const node_status_report *r)
{
    sn_err err = SN_ERR_INIT;
    sn_buf b;
    sn_buf_init(&b, 1 << 20);
    CK_OK(fn(r, &b, &err));
    CK_OK(sn_buf_append(&b, "", 1, &err));
    size_t len;
    return (char *)sn_buf_steal(&b, &len);
}

static int html10(const node_status_report *r, sn_buf *out, sn_err *err)
{
    return node_status_html(r, 10, out, err);
}

#define HAS(text, s) ck_assert_msg(strstr((text), (s)) != NULL, "missing: %s", (s))
#define HASNT(text, s) ck_assert_msg(strstr((text), (s)) == NULL, "unexpected: %s", (s))

/* Some line of `text` is exactly `line`. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}
#define LINE(text, l) ck_assert_msg(has_line((text), (l)), "no line: %s", (l))

#define SHIP "node=\"Ship \\\"A\\\"\\\\ North\\nDeck\",replica=\"01010101010101010101010101010101\""
#define CAMP "node=\"Camp <script>x</script> & 'co'\",replica=\"02020202020202020202020202020202\""
#define HUB "node=\"Hub Two\",replica=\"abababababababababababababababab\""

/* ===== metrics ========================================================================== */

START_TEST(test_metrics_values_and_escaping)
{
    node_status_report r = report();
    char *m = render(node_status_metrics, &r);
    LINE(m, "outpost_node_state{" SHIP ",state=\"silent\"} 1");
    LINE(m, "outpost_node_state{" SHIP ",state=\"in-sync\"} 0");
    LINE(m, "outpost_node_state{" CAMP ",state=\"in-sync\"} 1");
    LINE(m, "outpost_node_state{" HUB ",state=\"failing\"} 1");
    LINE(m, "outpost_node_alert{" SHIP ",alert=\"behind\"} 1");
    LINE(m, "outpost_node_alert{" SHIP ",alert=\"failing\"} 0");
    LINE(m, "outpost_node_alert{" HUB ",alert=\"expiring\"} 1");
    HASNT(m, "alert=\"in-sync\"");
    LINE(m, "outpost_nodes{state=\"silent\"} 1");
    LINE(m, "outpost_nodes{state=\"diverged\"} 0");
    LINE(m, "outpost_node_last_seen_timestamp_seconds{" CAMP "} 1699999995.123");
    LINE(m, "outpost_node_last_sync_timestamp_seconds{" HUB "} 0.000");
    LINE(m, "outpost_node_clock_skew_seconds{" SHIP "} -1.500");
    LINE(m, "outpost_node_clock_skew_seconds{" CAMP "} 0.250");
    LINE(m, "outpost_node_behind_commits{" SHIP "} 250");
    LINE(m, "outpost_node_sent_bytes_total{" SHIP "} 12345");
    LINE(m, "outpost_node_sessions_completed_total{" SHIP "} 7");
    LINE(m, "outpost_node_waiting_age_seconds{" SHIP "} 90.000");
    LINE(m, "outpost_node_freshest_commit_age_seconds{" CAMP "} 60.000");
    /* No commit held from the ship, none waiting at the camp: those ages are left out. */
    HASNT(m, "outpost_node_freshest_commit_age_seconds{" SHIP);
    HASNT(m, "outpost_node_waiting_age_seconds{" CAMP);
    LINE(m, "outpost_node_frozen{" HUB "} 1");
    LINE(m, "outpost_node_certificate_expiry_timestamp_seconds{" SHIP "} 1717280000.123");
    LINE(m, "outpost_node_digest{" CAMP ",result=\"match\"} 1");
    LINE(m, "outpost_node_digest{" SHIP ",result=\"other-vector\"} 1");
    LINE(m, "outpost_node_info{" HUB ",role=\"hub\",serial=\"0\"} 1");
    LINE(m, "outpost_info{node=\"Fleet HQ\",replica=\"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\","
            "role=\"hub\",enrolled=\"yes\"} 1");
    LINE(m, "outpost_held_commits 4242");
    LINE(m, "outpost_conflicts 3");
    LINE(m, "outpost_status_timestamp_seconds 1700000000.123");
    LINE(m, "# TYPE outpost_node_sessions_total counter");
    LINE(m, "# TYPE outpost_node_behind_commits gauge");
    sn_free(m);
}
END_TEST

/* Every sample belongs to the family of the TYPE line above it, each family is announced
 * once with HELP then TYPE, and there are no blank lines. */
START_TEST(test_metrics_families_whole)
{
    node_status_report r = report();
    char *m = render(node_status_metrics, &r);
    char family[128] = "", seen[64][128];
    size_t nseen = 0, samples = 0;
    for (char *line = m, *end; *line != '\0'; line = end + 1) {
        end = strchr(line, '\n');
        ck_assert_msg(end != NULL, "the text does not end with a newline");
        *end = '\0';
        ck_assert_msg(line[0] != '\0', "a blank line");
        char name[128];
        if (sscanf(line, "# HELP %127s ", name) == 1) {
            for (size_t i = 0; i < nseen; i++)
                ck_assert_msg(strcmp(seen[i], name) != 0, "family %s twice", name);
            ck_assert_uint_lt(nseen, 64);
            snprintf(seen[nseen++], sizeof seen[0], "%s", name);
            snprintf(family, sizeof family, "%s", name);
            continue;
        }
        if (sscanf(line, "# TYPE %127s ", name) == 1) {
            ck_assert_str_eq(name, family);
            continue;
        }
        size_t n = strcspn(line, "{ ");
        ck_assert_msg(strncmp(line, family, n) == 0 && family[n] == '\0',
                      "sample '%s' outside its family (after %s)", line, family);
        samples++;
    }
    /* 12 states for each of 3 nodes, to name one family; the count guards the parse. */
    ck_assert_uint_gt(samples, 3 * NODE_STATE_COUNT);
    ck_assert_uint_gt(nseen, 25);
    sn_free(m);
}
END_TEST

/* promtool (Prometheus' own checker) accepts the text: syntax, escaping, names, units. */
START_TEST(test_metrics_promtool_accepts)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        ck_abort_msg("promtool not found: install prometheus (scripts/install-deps)");
    node_status_report r = report();
    char *m = render(node_status_metrics, &r);
    char path[4096], out[4096], cmd[9000];
    path_in(path, "metrics.txt");
    path_in(out, "promtool.out");
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    ck_assert_int_eq(fputs(m, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    sn_free(m);
    snprintf(cmd, sizeof cmd, "promtool check metrics < '%s' > '%s' 2>&1", path, out);
    int rc = system(cmd);
    char said[2048] = "";
    f = fopen(out, "r");
    if (f != NULL) {
        size_t n = fread(said, 1, sizeof said - 1, f);
        said[n] = '\0';
        fclose(f);
    }
    ck_assert_msg(rc == 0 && said[0] == '\0', "promtool check metrics (exit %d): %s", rc, said);
}
END_TEST

/* ===== the page ========================================================================= */

START_TEST(test_html_nodes_states_and_refresh)
{
    node_status_report r = report();
    char *h = render(html10, &r);
    HAS(h, "<!DOCTYPE html>");
    HAS(h, "<meta http-equiv=\"refresh\" content=\"10\">");
    HAS(h, "<title>Outpost status: Fleet HQ</title>");
    /* Every node by name (escaped), with its state as a word in its row. */
    HAS(h, "Ship &quot;A&quot;\\ North\nDeck");
    HAS(h, "Camp &lt;script&gt;x&lt;/script&gt; &amp; &#39;co&#39;");
    HAS(h, "Hub Two");
    HAS(h, "id=\"node-01010101010101010101010101010101\" data-state=\"silent\"");
    HAS(h, "id=\"node-02020202020202020202020202020202\" data-state=\"in-sync\"");
    HAS(h, "id=\"node-abababababababababababababababab\" data-state=\"failing\"");
    HAS(h, ">silent</span>");
    HAS(h, ">in-sync</span>");
    HAS(h, ">failing</span>");
    HAS(h, "also behind");
    HAS(h, "cut &lt;mid-unit&gt; by peer");
    HASNT(h, "<script");
    /* Rows most urgent first, as the report orders them. */
    ck_assert(strstr(h, "node-0101") < strstr(h, "node-0202"));
    ck_assert(strstr(h, "node-0202") < strstr(h, "node-abab"));
    /* Every state explained in the legend. */
    for (size_t s = 0; s < NODE_STATE_COUNT; s++)
        HAS(h, node_state_meaning((node_state)s));
    sn_free(h);
    /* No refresh asked, none given. */
    sn_err err = SN_ERR_INIT;
    sn_buf b;
    sn_buf_init(&b, 1 << 20);
    CK_OK(node_status_html(&r, 0, &b, &err));
    CK_OK(sn_buf_append(&b, "", 1, &err));
    HASNT((char *)b.data, "http-equiv");
    sn_buf_free(&b);
}
END_TEST

/* Nothing leaves the node: no scheme in any attribute, no external resource at all. */
START_TEST(test_html_self_contained)
{
    node_status_report r = report();
    char *h = render(html10, &r);
    HASNT(h, "http://");
    HASNT(h, "https://");
    HASNT(h, "src=");
    HASNT(h, "@import");
    HASNT(h, "url(");
    HASNT(h, "//");
    for (const char *p = h; (p = strstr(p, "href=\"")) != NULL; p += 6)
        ck_assert_msg(strncmp(p + 6, "status.json\"", 12) == 0 ||
                          strncmp(p + 6, "metrics\"", 8) == 0,
                      "a link off the node: %.40s", p);
    HAS(h, "<style>");
    sn_free(h);
}
END_TEST

/* The chart: 14 days per node, dated, the busiest day full height, failures drawn red. */
START_TEST(test_html_chart)
{
    node_status_report r = report();
    char *h = render(html10, &r);
    size_t svgs = 0, days = 0;
    for (const char *p = h; (p = strstr(p, "<svg")) != NULL; p++)
        svgs++;
    for (const char *p = h; (p = strstr(p, "<g><title>")) != NULL; p++)
        days++;
    ck_assert_uint_eq(svgs, 3);
    ck_assert_uint_eq(days, 3 * NODE_STATUS_DAYS);
    HAS(h, "<title>2023-11-14: 3 sessions, 2 completed, 1 failed</title>");
    HAS(h, "<title>2023-11-01: 4 sessions, 4 completed, 0 failed</title>");
    HAS(h, "aria-label=\"last 14 days: 7 sessions, 6 completed, 1 failed\"");
    /* Oldest day of the ship: 4 of 4, the whole 32 px; today: 2 of 4 green (16 px), then
     * 1 red (8 px) above it. */
    HAS(h, "<rect x=\"0\" y=\"0\" width=\"8\" height=\"32\" fill=\"#2e7d32\"/>");
    HAS(h, "<rect x=\"130\" y=\"16\" width=\"8\" height=\"16\" fill=\"#2e7d32\"/>"
           "<rect x=\"130\" y=\"8\" width=\"8\" height=\"8\" fill=\"#c62828\"/>");
    sn_free(h);
}
END_TEST

START_TEST(test_html_no_nodes)
{
    node_status_report r = report();
    r.nnodes = 0;
    memset(r.by_state, 0, sizeof r.by_state);
    char *h = render(html10, &r);
    HAS(h, "No other node is known yet");
    HASNT(h, "<table");
    sn_free(h);
}
END_TEST

/* ===== limits and failures ============================================================== */

/* Past the buffer's limit: SN_ETOOBIG with a message, from both renderers. */
START_TEST(test_render_too_big)
{
    node_status_report r = report();
    for (int which = 0; which < 2; which++) {
        sn_err err = SN_ERR_INIT;
        sn_buf b;
        sn_buf_init(&b, 2000);
        int rc = which == 0 ? node_status_metrics(&r, &b, &err) : html10(&r, &b, &err);
        ck_assert_msg(rc == SN_ETOOBIG && err.msg[0] != '\0', "renderer %d: %s (%s)", which,
                      sn_err_name(rc), err.msg);
        sn_buf_free(&b);
    }
}
END_TEST

/* Every allocation failing in turn: SN_ENOMEM with a message each time, nothing leaked. */
START_TEST(test_render_alloc_faults)
{
    node_status_report r = report();
    long live = sn_alloc_live();
    for (int which = 0; which < 2; which++)
        for (long n = 0;; n++) {
            sn_err err = SN_ERR_INIT;
            sn_buf b;
            sn_buf_init(&b, 1 << 20);
            sn_fault_arm(SN_FAULT_ALLOC, n, 1);
            int rc = which == 0 ? node_status_metrics(&r, &b, &err) : html10(&r, &b, &err);
            bool fired = sn_fault_disarm();
            sn_buf_free(&b);
            if (!fired) {
                ck_assert_int_eq(rc, 0);
                break;
            }
            ck_assert_msg(rc == SN_ENOMEM && err.msg[0] != '\0', "renderer %d, fault %ld: %s",
                          which, n, sn_err_name(rc));
        }
    ck_assert_int_eq(sn_alloc_live(), live);
}
END_TEST

Suite *node_status_render_suite(void);
Suite *node_status_render_suite(void)
{
    Suite *s = suite_create("node_status_render_suite");
    TCase *tc = fixture_tcase(s, "metrics");
    tcase_add_test(tc, test_metrics_values_and_escaping);
    tcase_add_test(tc, test_metrics_families_whole);
    tcase_add_test(tc, test_metrics_promtool_accepts);
    tc = fixture_tcase(s, "html");
    tcase_add_test(tc, test_html_nodes_states_and_refresh);
    tcase_add_test(tc, test_html_self_contained);
    tcase_add_test(tc, test_html_chart);
    tcase_add_test(tc, test_html_no_nodes);
    tc = fixture_tcase(s, "limits");
    tcase_add_test(tc, test_render_too_big);
    tcase_add_test(tc, test_render_alloc_faults);
    return s;
}
