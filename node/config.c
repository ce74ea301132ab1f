/* node/config.c - reads the configuration file through libinih (the only door to it). */
#include "node/config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/hlc.h"

void node_config_defaults(node_config *c)
{
    *c = (node_config){.max_skew_ms = CRDT_HLC_DEFAULT_MAX_SKEW_MS, .log_level = SN_LOG_WARN};
}

int node_config_duration_ms(const char *text, uint64_t *out)
{
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
    char problem[256]; /* what was wrong with the setting on the failing line */
} parse_ctx;

static int fail(parse_ctx *p, const char *section, const char *name, const char *why)
{
    snprintf(p->problem, sizeof p->problem, "[%s] %s: %s", section, name, why);
    return 0; /* libinih: 0 stops at this line and reports it */
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

static int on_setting(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *p = user;
    node_config *c = p->c;
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
                "[log] level, journal)");
}

int node_config_load(node_config *c, const char *path, bool optional, sn_err *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int e = errno;
        if (optional && e == ENOENT)
            return 0;
        return sn_err_set(err, e == ENOENT ? SN_ECONFIG : SN_EIO,
                          "cannot read configuration '%s': %s", path, strerror(e));
    }
    node_config next = *c;
    parse_ctx p = {.c = &next};
    int line = ini_parse_file(f, on_setting, &p);
    fclose(f);
    if (line != 0) {
        if (p.problem[0] == '\0')
            snprintf(p.problem, sizeof p.problem, "not a 'name = value' line or [section]");
        sn_err_set(err, SN_ECONFIG, "%s:%d: %s", path, line, p.problem);
        sn_err_hint(err, "fix the setting, or see the configuration section of the README");
        return SN_ECONFIG;
    }
    *c = next;
    return 0;
}
