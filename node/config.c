/* node/config.c - reads the configuration file through libinih (the only door to it). */
#include "node/config.h"

#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "crdt/hlc.h"
#include "node/addr.h"

void node_config_defaults(node_config *c)
{
    *c = (node_config){.max_skew_ms = CRDT_HLC_DEFAULT_MAX_SKEW_MS, .log_level = SN_LOG_WARN,
                       .retry_max_ms = 300000};
    snprintf(c->listen, sizeof c->listen, "%s", NODE_CONFIG_LISTEN_DEFAULT);
    node_status_limits_default(&c->limits);
}

int node_config_duration_ms(const char *text, uint64_t *out)
{
    if (text[0] < '0' || text[0] > '9') /* strtoull would skip blanks and accept '-' */
        return SN_EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || errno != 0 || text[0] == '-')
        return SN_EINVAL;
    uint64_t unit;
    if (strcmp(end, "ms") == 0)
        unit = 1;
    else if (strcmp(end, "s") == 0)
        unit = 1000;
    else if (strcmp(end, "m") == 0)
        unit = 60 * 1000;
    else if (strcmp(end, "h") == 0)
        unit = 3600 * 1000;
    else if (strcmp(end, "d") == 0)
        unit = 86400 * 1000;
    else
        return SN_EINVAL;
    if (__builtin_mul_overflow((uint64_t)v, unit, out))
        return SN_EINVAL;
    return 0;
}

typedef struct parse_ctx {
    node_config *c;
    char problem[384]; /* what was wrong with the setting on the failing line */
} parse_ctx;

static int fail(parse_ctx *p, const char *section, const char *name, const char *why)
{
    /* libinih goes on past a bad line but reports the first one: keep its problem. */
    if (p->problem[0] == '\0')
        snprintf(p->problem, sizeof p->problem, "[%s] %s: %s", section, name, why);
    return 0;
}

static int copy_setting(parse_ctx *p, const char *section, const char *name, const char *value,
                        char *dst, size_t cap)
{
    size_t n = strlen(value);
    if (n == 0 || n >= cap) {
        char why[96];
        snprintf(why, sizeof why, "must be 1 to %zu characters long", cap - 1);
        return fail(p, section, name, why);
    }
    memcpy(dst, value, n + 1);
    return 1;
}

/* The [status] thresholds that are durations, and the least each may be. */
static const struct status_duration {
    const char *name;
    size_t off; /* of the uint64_t in node_status_limits */
    uint64_t min_ms;
    const char *expected;
} status_durations[] = {
    {"silent_after", offsetof(node_status_limits, silent_ms), 1000,
     "expected a duration of at least 1s, such as 1d"},
    {"skew", offsetof(node_status_limits, skew_ms), 1,
     "expected a positive duration, such as 2m"},
    {"stuck_after", offsetof(node_status_limits, stuck_ms), 1000,
     "expected a duration of at least 1s, such as 1h"},
    {"expiring", offsetof(node_status_limits, expiring_ms), 0,
     "expected a duration, such as 30d (0d: never warn)"},
};

static int on_status(parse_ctx *p, const char *section, const char *name, const char *value)
{
    node_config *c = p->c;
    if (strcmp(name, "http") == 0) {
        struct sockaddr_storage ss;
        if (strcmp(value, "off") != 0 && node_addr_numeric("address", value, &ss, NULL) != 0)
            return fail(p, section, name,
                        "expected a numeric IP:PORT such as 127.0.0.1:7480, or off");
        return copy_setting(p, section, name, value, c->http, sizeof c->http);
    }
    if (strcmp(name, "behind") == 0) {
        errno = 0;
        char *end;
        unsigned long long v = strtoull(value, &end, 10);
        if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0)
            return fail(p, section, name, "expected a number of commits, such as 100");
        c->limits.behind = v;
        return 1;
    }
    for (size_t i = 0; i < sizeof status_durations / sizeof status_durations[0]; i++) {
        const struct status_duration *d = &status_durations[i];
        if (strcmp(name, d->name) != 0)
            continue;
        uint64_t ms;
        if (node_config_duration_ms(value, &ms) != 0 || ms < d->min_ms)
            return fail(p, section, name, d->expected);
        memcpy((unsigned char *)&c->limits + d->off, &ms, sizeof ms);
        return 1;
    }
    return fail(p, section, name,
                "unknown setting (known: http, silent_after, behind, skew, stuck_after, "
                "expiring)");
}

/* [expect] NAME = DURATION: how often the node with certificate name NAME is expected. */
static int on_expect(parse_ctx *p, const char *section, const char *name, const char *value)
{
    node_status_limits *l = &p->c->limits;
    size_t cap = sizeof l->expect / sizeof l->expect[0];
    if (strlen(name) >= sizeof l->expect[0].name)
        return fail(p, section, name, "a certificate name is at most 64 bytes long");
    for (size_t i = 0; i < l->nexpect; i++)
        if (strcmp(l->expect[i].name, name) == 0)
            return fail(p, section, name, "this node is listed twice");
    if (l->nexpect == cap)
        return fail(p, section, name, "at most 32 nodes may have their own interval");
    uint64_t ms;
    if (node_config_duration_ms(value, &ms) != 0 || ms < 1000)
        return fail(p, section, name, "expected a duration of at least 1s, such as 7d");
    snprintf(l->expect[l->nexpect].name, sizeof l->expect[0].name, "%s", name);
    l->expect[l->nexpect++].silent_ms = ms;
    return 1;
}

static int on_setting(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *p = user;
    node_config *c = p->c;
    if (strcmp(section, "status") == 0)
        return on_status(p, section, name, value);
    if (strcmp(section, "expect") == 0)
        return on_expect(p, section, name, value);
    if (strcmp(section, "node") == 0 && strcmp(name, "store") == 0)
        return copy_setting(p, section, name, value, c->store, sizeof c->store);
    if (strcmp(section, "node") == 0 && strcmp(name, "name") == 0)
        return copy_setting(p, section, name, value, c->name, sizeof c->name);
    if (strcmp(section, "clock") == 0 && strcmp(name, "max_skew") == 0) {
        uint64_t ms;
        if (node_config_duration_ms(value, &ms) != 0 || ms == 0)
            return fail(p, section, name, "expected a positive duration such as 30s, 5m or 2h");
        c->max_skew_ms = ms;
        return 1;
    }
    if (strcmp(section, "sync") == 0 && strcmp(name, "listen") == 0)
        return copy_setting(p, section, name, value, c->listen, sizeof c->listen);
    if (strcmp(section, "sync") == 0 && strcmp(name, "hub") == 0) {
        if (c->nhubs == sizeof c->hubs / sizeof c->hubs[0])
            return fail(p, section, name, "at most 8 hub addresses");
        if (strchr(value, ':') == NULL)
            return fail(p, section, name, "expected HOST:PORT, such as hub.example.org:7420");
        return copy_setting(p, section, name, value, c->hubs[c->nhubs++], sizeof c->hubs[0]);
    }
    if (strcmp(section, "sync") == 0 && strcmp(name, "retry_max") == 0) {
        if (node_config_duration_ms(value, &c->retry_max_ms) != 0 || c->retry_max_ms < 1000)
            return fail(p, section, name, "expected a duration of at least 1s, such as 5m");
        return 1;
    }
    if (strcmp(section, "log") == 0 && strcmp(name, "level") == 0) {
        if (sn_log_level_parse(value, &c->log_level) != 0)
            return fail(p, section, name, "expected error, warn, info or debug");
        return 1;
    }
    if (strcmp(section, "log") == 0 && strcmp(name, "journal") == 0) {
        if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0) {
            c->log_journal = strcmp(value, "true") == 0;
            return 1;
        }
        return fail(p, section, name, "expected true or false");
    }
    return fail(p, section, name,
                "unknown setting (known: [node] store, name; [clock] max_skew; "
                "[sync] listen, hub, retry_max; [status] http, silent_after, behind, skew, "
                "stuck_after, expiring; [expect] NAME; [log] level, journal)");
}

/* libinih (Debian's build) splits lines longer than this; refuse them clearly instead. */
#define CONFIG_LINE_MAX 199
#define CONFIG_FILE_MAX (1u << 20)

static int read_whole(const char *path, bool optional, char **out, bool *missing, sn_err *err)
{
    *out = NULL;
    *missing = false;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int e = errno;
        *missing = e == ENOENT;
        if (optional && *missing)
            return 0;
        return sn_err_set(err, e == ENOENT ? SN_ECONFIG : SN_EIO,
                          "cannot read configuration '%s': %s", path, strerror(e));
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > CONFIG_FILE_MAX) {
        fclose(f);
        return sn_err_set(err, SN_ECONFIG, "configuration '%s' is not a regular file of at "
                          "most %u bytes", path, CONFIG_FILE_MAX);
    }
    char *buf = sn_malloc((size_t)sb.st_size + 1);
    if (buf == NULL) {
        fclose(f);
        return sn_err_set(err, SN_ENOMEM, "out of memory reading '%s'", path);
    }
    size_t n = fread(buf, 1, (size_t)sb.st_size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        sn_free(buf);
        return sn_err_set(err, SN_EIO, "cannot read configuration '%s'", path);
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

/* The [section] in force at `line` (1-based), for messages about lines libinih rejects. */
static void section_at(const char *text, int line, char *out, size_t cap)
{
    snprintf(out, cap, "%s", "");
    int at = 1;
    for (const char *p = text; *p != '\0' && at < line; at++) {
        const char *end = strchr(p, '\n');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *q = p + strspn(p, " \t");
        const char *close = memchr(q, ']', len - (size_t)(q - p));
        if (*q == '[' && close != NULL)
            snprintf(out, cap, "%.*s", (int)(close - q - 1), q + 1);
        if (end == NULL)
            break;
        p = end + 1;
    }
}

static int check_line_lengths(const char *path, const char *text, sn_err *err)
{
    int line = 1;
    for (const char *p = text; *p != '\0'; line++) {
        const char *end = strchr(p, '\n');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > CONFIG_LINE_MAX) {
            char section[64];
            section_at(text, line, section, sizeof section);
            return sn_err_set(err, SN_ECONFIG, "%s:%d: [%s] line is %zu characters long; at "
                              "most %d are allowed", path, line, section, len, CONFIG_LINE_MAX);
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return 0;
}

int node_config_load(node_config *c, const char *path, bool optional, sn_err *err)
{
    char *text;
    bool missing;
    int rc = read_whole(path, optional, &text, &missing, err);
    if (rc != 0 || text == NULL)
        return rc;
    rc = check_line_lengths(path, text, err);
    node_config next = *c;
    parse_ctx p = {.c = &next};
    int line = rc == 0 ? ini_parse_string(text, on_setting, &p) : 0;
    if (rc == 0 && line != 0) {
        if (p.problem[0] == '\0') {
            char section[64];
            section_at(text, line, section, sizeof section);
            snprintf(p.problem, sizeof p.problem, "[%s]: not a 'name = value' line or a "
                     "[section]", section);
        }
        rc = sn_err_set(err, SN_ECONFIG, "%s:%d: %s", path, line, p.problem);
    }
    sn_free(text);
    if (rc == SN_ECONFIG)
        sn_err_hint(err, "fix the setting, or see the configuration section of the README");
    if (rc == 0)
        *c = next;
    return rc;
}
