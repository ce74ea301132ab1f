/* tests/check_node_config.c - the configuration file (node/config.h): defaults, a full good
 * file, the status limits and per-node intervals, durations and addresses, every kind of
 * bad file (refused whole, naming file, line and section, leaving the caller's values
 * untouched), and missing files. */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "node/addr.h"
#include "node/config.h"
#include "tests/node_fixture.h"

/* Write `text` to the file `name` in g_dir; its path to out (4096 bytes). */
static void write_conf(char *out, const char *name, const char *text)
{
    path_in(out, name);
    FILE *f = fopen(out, "w");
    ck_assert_msg(f != NULL, "cannot write %s", out);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

static bool same_limits(const node_status_limits *a, const node_status_limits *b)
{
    if (a->silent_ms != b->silent_ms || a->behind != b->behind || a->skew_ms != b->skew_ms ||
        a->stuck_ms != b->stuck_ms || a->expiring_ms != b->expiring_ms ||
        a->nexpect != b->nexpect)
        return false;
    for (size_t i = 0; i < a->nexpect; i++)
        if (strcmp(a->expect[i].name, b->expect[i].name) != 0 ||
            a->expect[i].silent_ms != b->expect[i].silent_ms)
            return false;
    return true;
}

/* a and b hold the same settings. */
static bool same_config(const node_config *a, const node_config *b)
{
    return strcmp(a->store, b->store) == 0 && strcmp(a->name, b->name) == 0 &&
           a->max_skew_ms == b->max_skew_ms && a->log_level == b->log_level &&
           a->log_journal == b->log_journal && strcmp(a->http, b->http) == 0 &&
           same_limits(&a->limits, &b->limits);
}

/* A configuration unlike the defaults in every field, as a bad load must leave it. */
static node_config custom(void)
{
    node_config c;
    node_config_defaults(&c);
    snprintf(c.store, sizeof c.store, "/srv/before");
    snprintf(c.name, sizeof c.name, "Before");
    c.max_skew_ms = 42000;
    c.log_level = SN_LOG_ERROR;
    c.log_journal = true;
    snprintf(c.http, sizeof c.http, "10.0.0.1:9000");
    c.limits.behind = 5;
    c.limits.silent_ms = 7000;
    snprintf(c.limits.expect[0].name, sizeof c.limits.expect[0].name, "Before Ship");
    c.limits.expect[0].silent_ms = 9000;
    c.limits.nexpect = 1;
    return c;
}

/* ===== defaults and good files ========================================================= */

START_TEST(test_config_defaults)
{
    node_config c;
    memset(&c, 0x5a, sizeof c);
    node_config_defaults(&c);
    ck_assert_str_eq(c.store, "");
    ck_assert_str_eq(c.name, "");
    ck_assert_uint_eq(c.max_skew_ms, 5 * 60 * 1000);
    ck_assert_int_eq(c.log_level, SN_LOG_WARN);
    ck_assert(!c.log_journal);
    ck_assert_str_eq(c.http, "");
    node_status_limits want;
    node_status_limits_default(&want);
    ck_assert(same_limits(&c.limits, &want));
}
END_TEST

START_TEST(test_config_full_file_sets_every_field)
{
    sn_err err = SN_ERR_INIT;
    char path[4096];
    write_conf(path, "full.conf",
               "; Outpost test configuration\n"
               "# a hash comment too\n"
               "\n"
               "[node]\n"
               "store = /srv/outpost/store\n"
               "name = HMS Example\n"
               "[clock]\n"
               "max_skew = 2h\n"
               "[log]\n"
               "level = debug\n"
               "journal = true\n");
    node_config c;
    node_config_defaults(&c);
    CK_OK(node_config_load(&c, path, false, &err));
    ck_assert_str_eq(c.store, "/srv/outpost/store");
    ck_assert_str_eq(c.name, "HMS Example");
    ck_assert_uint_eq(c.max_skew_ms, 2 * 3600 * 1000);
    ck_assert_int_eq(c.log_level, SN_LOG_DEBUG);
    ck_assert(c.log_journal);
}
END_TEST

/* The example in node/config.h, inline comments and all, reads as it says. */
START_TEST(test_config_header_example_parses)
{
    sn_err err = SN_ERR_INIT;
    char path[4096];
    write_conf(path, "example.conf",
               "[node]\n"
               "store = /var/lib/outpost       ; the store directory\n"
               "name = HMS Example             ; used by `outpost init` when --name is not given\n"
               "[clock]\n"
               "max_skew = 5m                  ; remote clocks further ahead are flagged\n"
               "[log]\n"
               "level = info                   ; error, warn, info or debug\n"
               "journal = false                ; true: \"<N>\" priority prefixes\n");
    node_config c = custom();
    CK_OK(node_config_load(&c, path, false, &err));
    ck_assert_str_eq(c.store, "/var/lib/outpost");
    ck_assert_str_eq(c.name, "HMS Example");
    ck_assert_uint_eq(c.max_skew_ms, 5 * 60 * 1000);
    ck_assert_int_eq(c.log_level, SN_LOG_INFO);
    ck_assert(!c.log_journal);
}
END_TEST

/* Settings the file does not mention keep the values already in *c. */
START_TEST(test_config_partial_file_keeps_other_values)
{
    sn_err err = SN_ERR_INIT;
    char path[4096];
    write_conf(path, "partial.conf", "[log]\nlevel = info\n");
    node_config c = custom(), want = custom();
    want.log_level = SN_LOG_INFO;
    CK_OK(node_config_load(&c, path, false, &err));
    ck_assert(same_config(&c, &want));
}
END_TEST

/* libinih splits lines past 199 characters, so the loader refuses them with a clear message
 * (section, length, limit) rather than misreading them; a path that fits is taken whole. */
START_TEST(test_config_long_store_path_accepted)
{
    sn_err err = SN_ERR_INIT;
    char path[4096], text[1200], store[1001];
    memset(store, 'a', 1000);
    store[0] = '/';
    store[1000] = '\0';
    snprintf(text, sizeof text, "[node]\nstore = %s\nname = Long\n", store);
    write_conf(path, "longpath.conf", text);
    node_config c, before;
    node_config_defaults(&c);
    before = c;
    ck_assert_int_eq(node_config_load(&c, path, false, &err), SN_ECONFIG);
    ck_assert_msg(strstr(err.msg, "longpath.conf:2: [node] line is 1008 characters long") != NULL,
                  "%s", err.msg);
    ck_assert(same_config(&c, &before));

    store[180] = '\0';
    snprintf(text, sizeof text, "[node]\nstore = %s\nname = Long\n", store);
    write_conf(path, "fits.conf", text);
    sn_err_clear(&err);
    CK_OK(node_config_load(&c, path, false, &err));
    ck_assert_uint_eq(strlen(c.store), 180);
    ck_assert_str_eq(c.store, store);
    ck_assert_str_eq(c.name, "Long");
}
END_TEST

/* The [status] and [expect] example of node/config.h, comments and all. */
START_TEST(test_config_status_sections)
{
    sn_err err = SN_ERR_INIT;
    char path[4096];
    write_conf(path, "status.conf",
               "[status]                       ; the operator's view\n"
               "http = 127.0.0.1:7480          ; /, /status.json, /metrics\n"
               "silent_after = 2d              ; not heard from for longer: silent\n"
               "behind = 0                     ; lacking more commits than this: behind\n"
               "skew = 30s                     ; clock off by more at the handshake\n"
               "stuck_after = 90m              ; commits waiting on a gap for longer\n"
               "expiring = 0d                  ; never warn\n"
               "[expect]                       ; nodes expected less often\n"
               "HMS Example = 7d               ; by certificate name\n"
               "Camp North (Forward) = 12h\n");
    node_config c;
    node_config_defaults(&c);
    CK_OK(node_config_load(&c, path, false, &err));
    ck_assert_str_eq(c.http, "127.0.0.1:7480");
    ck_assert_uint_eq(c.limits.silent_ms, 2 * 86400000);
    ck_assert_uint_eq(c.limits.behind, 0);
    ck_assert_uint_eq(c.limits.skew_ms, 30000);
    ck_assert_uint_eq(c.limits.stuck_ms, 90 * 60000);
    ck_assert_uint_eq(c.limits.expiring_ms, 0);
    ck_assert_uint_eq(c.limits.nexpect, 2);
    ck_assert_str_eq(c.limits.expect[0].name, "HMS Example");
    ck_assert_uint_eq(c.limits.expect[0].silent_ms, 7 * 86400000);
    ck_assert_str_eq(c.limits.expect[1].name, "Camp North (Forward)");
    ck_assert_uint_eq(c.limits.expect[1].silent_ms, 12 * 3600000);

    write_conf(path, "off.conf", "[status]\nhttp = off\n[status]\nhttp = [::1]:0\n");
    CK_OK(node_config_load(&c, path, false, &err));
    ck_assert_str_eq(c.http, "[::1]:0");
    write_conf(path, "off.conf", "[status]\nhttp = off\n");
    CK_OK(node_config_load(&c, path, false, &err));
    ck_assert_str_eq(c.http, "off");
}
END_TEST

/* Addresses: split for dialling (names allowed), numeric for listening. */
START_TEST(test_config_addresses)
{
    sn_err err = SN_ERR_INIT;
    char host[64], port[8];
    ck_assert_int_eq(node_addr_split("hub.example.org:7420", host, sizeof host, port,
                                     sizeof port), 0);
    ck_assert_str_eq(host, "hub.example.org");
    ck_assert_str_eq(port, "7420");
    ck_assert_int_eq(node_addr_split("[fe80::1]:0", host, sizeof host, port, sizeof port), 0);
    ck_assert_str_eq(host, "fe80::1");
    static const char *const bad[] = {"hub", "hub:", ":80", "hub:65536", "hub:+80", "hub: 80",
                                      "hub:0x50", "[]:80", "hub:123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(node_addr_split(bad[i], host, sizeof host, port, sizeof port) == SN_EINVAL,
                      "'%s' accepted", bad[i]);
    struct sockaddr_storage ss;
    CK_OK(node_addr_numeric("status address", "127.0.0.1:7480", &ss, &err));
    ck_assert_int_eq(ss.ss_family, AF_INET);
    CK_OK(node_addr_numeric("status address", "[::1]:0", &ss, &err));
    ck_assert_int_eq(ss.ss_family, AF_INET6);
    CK_FAILS(node_addr_numeric("status address", "localhost:7480", &ss, &err), SN_ECONFIG);
    ck_assert_str_eq(err.msg, "status address 'localhost:7480' needs a numeric IP address");
    CK_FAILS(node_addr_numeric("status address", "127.0.0.1", &ss, &err), SN_ECONFIG);
    ck_assert_str_eq(err.msg, "status address '127.0.0.1' is not HOST:PORT");
}
END_TEST

/* ===== durations ====================================================================== */

START_TEST(test_config_durations)
{
    static const struct {
        const char *text;
        uint64_t ms;
    } good[] = {{"30s", 30000},     {"5m", 300000},   {"2h", 7200000},
                {"1d", 86400000},   {"1500ms", 1500}, {"90s", 90000}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t ms = 0;
        ck_assert_msg(node_config_duration_ms(good[i].text, &ms) == 0, "'%s' refused",
                      good[i].text);
        ck_assert_msg(ms == good[i].ms, "'%s' = %llu ms, want %llu", good[i].text,
                      (unsigned long long)ms, (unsigned long long)good[i].ms);
    }
    static const char *const bad[] = {"0",  "-5m", "5x",  "",   "m",    "5",
                                      "5 m", "5mm", "5M", "1.5h", "ms5", "99999999999999999999d",
                                      "213503982335d", " -1ms", "\t-5m"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t ms = 7;
        int rc = node_config_duration_ms(bad[i], &ms);
        ck_assert_msg(rc == SN_EINVAL, "'%s' accepted as %llu ms (rc %d)", bad[i],
                      (unsigned long long)ms, rc);
    }
}
END_TEST

/* ===== bad files ======================================================================= */

/* Loading `text` fails with SN_ECONFIG, the message holding "<path>:<line>:" and every
 * string of says[] (NULL-terminated), and *c is left as it was. */
static void expect_bad(const char *name, const char *text, int line, const char *const *says)
{
    sn_err err = SN_ERR_INIT;
    char path[4096], where[4200];
    write_conf(path, name, text);
    node_config c = custom(), before = custom();
    int rc = node_config_load(&c, path, false, &err);
    ck_assert_msg(rc == SN_ECONFIG, "%s: got %s (%s), want ECONFIG", name, sn_err_name(rc),
                  err.msg);
    snprintf(where, sizeof where, "%s:%d:", path, line);
    ck_assert_msg(strstr(err.msg, where) != NULL, "%s: message '%s' lacks '%s'", name, err.msg,
                  where);
    for (size_t i = 0; says[i] != NULL; i++)
        ck_assert_msg(strstr(err.msg, says[i]) != NULL, "%s: message '%s' lacks '%s'", name,
                      err.msg, says[i]);
    ck_assert_msg(same_config(&c, &before), "%s: a refused file changed the configuration",
                  name);
}

#define SAYS(...) ((const char *const[]){__VA_ARGS__, NULL})

START_TEST(test_config_unknown_setting)
{
    expect_bad("unknown-setting.conf", "[node]\nstore = /srv/x\ncolour = blue\n", 3,
               SAYS("[node]", "colour", "unknown setting"));
}
END_TEST

START_TEST(test_config_unknown_section)
{
    expect_bad("unknown-section.conf", "[log]\nlevel = info\n\n[paint]\ncolour = red\n", 5,
               SAYS("[paint]", "colour"));
}
END_TEST

START_TEST(test_config_bad_level)
{
    expect_bad("bad-level.conf", "[log]\nlevel = loud\n", 2,
               SAYS("[log]", "level", "error, warn, info or debug"));
}
END_TEST

START_TEST(test_config_bad_journal)
{
    expect_bad("bad-journal.conf", "[log]\nlevel = info\njournal = yes\n", 3,
               SAYS("[log]", "journal", "true or false"));
}
END_TEST

START_TEST(test_config_bad_max_skew)
{
    static const char *const values[] = {"0", "0s", "-5m", "5x", "soon"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[clock]\nmax_skew = %s\n", values[i]);
        expect_bad("bad-skew.conf", text, 2, SAYS("[clock]", "max_skew"));
    }
}
END_TEST

START_TEST(test_config_empty_values_refused)
{
    expect_bad("empty-store.conf", "[node]\nstore =\n", 2, SAYS("[node]", "store"));
    expect_bad("empty-skew.conf", "[clock]\nmax_skew =\n", 2, SAYS("[clock]", "max_skew"));
}
END_TEST

START_TEST(test_config_overlong_name)
{
    char text[256], name[80];
    memset(name, 'n', 65);
    name[65] = '\0';
    snprintf(text, sizeof text, "[node]\nname = %s\n", name);
    expect_bad("long-name.conf", text, 2, SAYS("[node]", "name"));
}
END_TEST

START_TEST(test_config_overlong_store_path)
{
    static char text[6000];
    char store[4200];
    memset(store, 'a', 4100);
    store[0] = '/';
    store[4100] = '\0';
    snprintf(text, sizeof text, "[node]\nstore = %s\nname = Long\n", store);
    expect_bad("long-store.conf", text, 2, SAYS("[node]", "store"));
}
END_TEST

START_TEST(test_config_line_without_equals)
{
    expect_bad("no-equals.conf", "[log]\nlevel = info\njust some words\n", 3, SAYS("[log]"));
}
END_TEST

/* Several bad lines: the message describes the first, line and problem together. */
START_TEST(test_config_first_error_is_reported)
{
    expect_bad("two-errors.conf", "[log]\nlevel = loud\n[node]\nbogus = 1\n", 2,
               SAYS("[log]", "level"));
    sn_err err = SN_ERR_INIT;
    char path[4096];
    path_in(path, "two-errors.conf");
    node_config c = custom();
    ck_assert_int_eq(node_config_load(&c, path, false, &err), SN_ECONFIG);
    ck_assert_msg(strstr(err.msg, "bogus") == NULL,
                  "the message pairs line 2 with line 4's problem: '%s'", err.msg);
}
END_TEST

/* Good settings before the bad line are not half-applied. */
START_TEST(test_config_bad_file_leaves_values_unchanged)
{
    expect_bad("half.conf",
               "[node]\nstore = /srv/new\nname = New\n[clock]\nmax_skew = 1d\n"
               "[log]\nlevel = debug\njournal = maybe\n",
               8, SAYS("[log]", "journal"));
}
END_TEST

START_TEST(test_config_bad_status)
{
    static const struct {
        const char *line, *says;
    } cases[] = {
        {"http = localhost:7480", "numeric IP:PORT"},
        {"http = 127.0.0.1", "numeric IP:PORT"},
        {"http = 127.0.0.1:99999", "numeric IP:PORT"},
        {"http = on", "or off"},
        {"http =", "http"},
        {"behind = -1", "number of commits"},
        {"behind = lots", "number of commits"},
        {"behind = 1e3", "number of commits"},
        {"behind = 99999999999999999999999", "number of commits"},
        {"silent_after = 500ms", "at least 1s"},
        {"silent_after = 0s", "at least 1s"},
        {"skew = 0s", "positive duration"},
        {"stuck_after = soon", "such as 1h"},
        {"expiring = 30", "such as 30d"},
        {"colour = red", "known: http, silent_after"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256], name[64];
        snprintf(text, sizeof text, "[log]\nlevel = info\n[status]\n%s\n", cases[i].line);
        snprintf(name, sizeof name, "%.*s", (int)strcspn(cases[i].line, " "), cases[i].line);
        expect_bad("bad-status.conf", text, 4, SAYS("[status]", name, cases[i].says));
    }
}
END_TEST

START_TEST(test_config_bad_expect)
{
    expect_bad("expect-twice.conf", "[expect]\nShip = 7d\nCamp = 1d\nShip = 2d\n", 4,
               SAYS("[expect] Ship", "listed twice"));
    expect_bad("expect-duration.conf", "[expect]\nShip = weekly\n", 2,
               SAYS("[expect] Ship", "such as 7d"));
    expect_bad("expect-zero.conf", "[expect]\nShip = 0d\n", 2, SAYS("[expect] Ship", "1s"));
    char text[4096], name[80];
    memset(name, 'n', 65);
    name[65] = '\0';
    snprintf(text, sizeof text, "[expect]\n%s = 1d\n", name);
    expect_bad("expect-long.conf", text, 2, SAYS("[expect]", "at most 64 bytes"));
    /* 32 nodes fit: with custom()'s one already there, the file's 32nd is refused. */
    size_t n = (size_t)snprintf(text, sizeof text, "[expect]\n");
    for (int i = 1; i <= 32; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "Site %d = 1d\n", i);
    expect_bad("expect-many.conf", text, 33, SAYS("[expect] Site 32", "at most 32"));
}
END_TEST

/* ===== missing and unreadable files ==================================================== */

START_TEST(test_config_missing_file)
{
    sn_err err = SN_ERR_INIT;
    char path[4096];
    path_in(path, "no-such.conf");
    node_config c, want;
    node_config_defaults(&c);
    node_config_defaults(&want);
    CK_OK(node_config_load(&c, path, true, &err));
    ck_assert(same_config(&c, &want));
    CK_FAILS(node_config_load(&c, path, false, &err), SN_ECONFIG);
    ck_assert_msg(strstr(err.msg, path) != NULL, "message '%s' does not name the file",
                  err.msg);
    ck_assert(same_config(&c, &want));
}
END_TEST

/* A path that exists but cannot be read as a file is an error, even when optional. */
START_TEST(test_config_directory_is_not_a_file)
{
    sn_err err = SN_ERR_INIT;
    node_config c = custom(), before = custom();
    sn_err_clear(&err);
    int rc = node_config_load(&c, g_dir, true, &err);
    ck_assert_msg(rc == SN_EIO || rc == SN_ECONFIG,
                  "loading the directory '%s' gave %s: read as an empty file", g_dir,
                  sn_err_name(rc));
    ck_assert_msg(err.msg[0] != '\0', "no message");
    ck_assert(same_config(&c, &before));
}
END_TEST

Suite *node_config_suite(void);
Suite *node_config_suite(void)
{
    Suite *s = suite_create("node_config_suite");
    TCase *tc = fixture_tcase(s, "good");
    tcase_add_test(tc, test_config_defaults);
    tcase_add_test(tc, test_config_full_file_sets_every_field);
    tcase_add_test(tc, test_config_header_example_parses);
    tcase_add_test(tc, test_config_partial_file_keeps_other_values);
    tcase_add_test(tc, test_config_long_store_path_accepted);
    tcase_add_test(tc, test_config_durations);
    tcase_add_test(tc, test_config_status_sections);
    tcase_add_test(tc, test_config_addresses);
    tc = fixture_tcase(s, "bad");
    tcase_add_test(tc, test_config_unknown_setting);
    tcase_add_test(tc, test_config_unknown_section);
    tcase_add_test(tc, test_config_bad_level);
    tcase_add_test(tc, test_config_bad_journal);
    tcase_add_test(tc, test_config_bad_max_skew);
    tcase_add_test(tc, test_config_empty_values_refused);
    tcase_add_test(tc, test_config_overlong_name);
    tcase_add_test(tc, test_config_overlong_store_path);
    tcase_add_test(tc, test_config_line_without_equals);
    tcase_add_test(tc, test_config_first_error_is_reported);
    tcase_add_test(tc, test_config_bad_file_leaves_values_unchanged);
    tcase_add_test(tc, test_config_bad_status);
    tcase_add_test(tc, test_config_bad_expect);
    tc = fixture_tcase(s, "files");
    tcase_add_test(tc, test_config_missing_file);
    tcase_add_test(tc, test_config_directory_is_not_a_file);
    return s;
}
