/* base/log.c - levelled logging: one event per line, newlines in messages escaped. */
#include "base/log.h"

#include <stdarg.h>
#include <string.h>

static sn_log_level log_level = SN_LOG_WARN;
static FILE *log_out;
static int log_journal;

void sn_log_set_level(sn_log_level level) { log_level = level; }

void sn_log_set_output(FILE *f, int journal)
{
    log_out = f;
    log_journal = journal;
}

int sn_log_level_parse(const char *s, sn_log_level *out)
{
    static const struct { const char *name; sn_log_level level; } names[] = {
        {"error", SN_LOG_ERROR}, {"warn", SN_LOG_WARN}, {"info", SN_LOG_INFO},
        {"debug", SN_LOG_DEBUG},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return SN_EINVAL;
}

static const char *level_name(sn_log_level level)
{
    switch (level) {
    case SN_LOG_ERROR: return "error";
    case SN_LOG_WARN: return "warn";
    case SN_LOG_INFO: return "info";
    default: return "debug";
    }
}

void sn_log(sn_log_level level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    for (char *p = line; *p; p++) /* one event per line, always */
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    FILE *f = log_out != NULL ? log_out : stderr;
    if (log_journal)
        fprintf(f, "<%d>%s\n", (int)level, line);
    else
        fprintf(f, "outpost: %s: %s\n", level_name(level), line);
    fflush(f);
}
