/* base/log.h - levelled logging, one event per line, suitable for systemd's journal. */
#ifndef SN_BASE_LOG_H
#define SN_BASE_LOG_H

#include <stdio.h>

#include "base/err.h"

typedef enum sn_log_level {
    SN_LOG_ERROR = 3, /* syslog priorities, so journald's <N> prefixes line up */
    SN_LOG_WARN = 4,
    SN_LOG_INFO = 6,
    SN_LOG_DEBUG = 7,
} sn_log_level;

/* Events below `level` are dropped. Default SN_LOG_WARN. Not thread-safe: set at start-up. */
void sn_log_set_level(sn_log_level level);
/* Send events to `f` (default stderr). With `journal` true each line starts with "<N>". */
void sn_log_set_output(FILE *f, int journal);
/* Parse "error", "warn", "info", "debug". Returns 0 or SN_EINVAL. */
SN_NODISCARD int sn_log_level_parse(const char *s, sn_log_level *out);

void sn_log(sn_log_level level, const char *fmt, ...) SN_PRINTF(2, 3);

#define sn_log_error(...) sn_log(SN_LOG_ERROR, __VA_ARGS__)
#define sn_log_warn(...) sn_log(SN_LOG_WARN, __VA_ARGS__)
#define sn_log_info(...) sn_log(SN_LOG_INFO, __VA_ARGS__)
#define sn_log_debug(...) sn_log(SN_LOG_DEBUG, __VA_ARGS__)

#endif
