/* node/config.h - the node's configuration file (INI, parsed by libinih):
 *
 *   [node]
 *   store = /var/lib/outpost       ; the store directory
 *   name = HMS Example             ; used by `outpost init` when --name is not given
 *   [clock]
 *   max_skew = 5m                  ; remote clocks further ahead are flagged (s, m, h, d)
 *   [sync]
 *   listen = 0.0.0.0:7420          ; where `outpost serve` accepts peers ("off": nowhere)
 *   hub = hub.example.org:7420     ; a hub to keep a session with (repeat for more, up to 8)
 *   retry_max = 5m                 ; longest wait between redials after failures
 *   [status]                       ; the operator's view (node/status.h, node/http.h)
 *   http = 127.0.0.1:7480          ; /, /status.json, /metrics ("off": none); the default
 *                                  ; applies to a hub, other nodes serve only when it is set
 *   silent_after = 1d              ; not heard from for longer: silent
 *   behind = 100                   ; lacking more commits than this: behind
 *   skew = 2m                      ; clock off by more at the handshake: skewed
 *   stuck_after = 1h               ; commits waiting on a gap for longer: stuck
 *   expiring = 30d                 ; certificate expiring within: expiring (0d: never)
 *   [expect]                       ; nodes expected less (or more) often than silent_after,
 *   HMS Example = 7d               ; by certificate name (up to 32; no '=', ':' or ';')
 *   [log]
 *   level = info                   ; error, warn, info or debug
 *   journal = false                ; true: "<N>" priority prefixes for systemd's journal
 *
 * A bad setting is refused whole, naming the file, the line, the setting and what is
 * allowed; unknown sections and settings are errors too, so a typo never goes unnoticed. */
#ifndef SN_NODE_CONFIG_H
#define SN_NODE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/log.h"
#include "node/status.h"

#define NODE_CONFIG_DEFAULT_PATH "/etc/outpost/outpost.conf"
#define NODE_CONFIG_LISTEN_DEFAULT "0.0.0.0:7420"
#define NODE_CONFIG_HTTP_DEFAULT "127.0.0.1:7480"

typedef struct node_config {
    char store[4096];  /* "" when not set */
    char name[65];     /* "" when not set */
    uint64_t max_skew_ms;
    char listen[128]; /* NODE_CONFIG_LISTEN_DEFAULT unless set; "off" = none */
    char hubs[8][256];
    size_t nhubs;
    uint64_t retry_max_ms;
    char http[128];              /* [status] http; "" when not set, "off" = none */
    node_status_limits limits;   /* [status] thresholds, [expect] intervals */
    sn_log_level log_level;
    bool log_journal;
} node_config;

/* Defaults: no store, no name, 5 minutes, listen on port 7420, no hubs, redial at most
 * every 5 minutes, status endpoints not set (NODE_CONFIG_HTTP_DEFAULT on a hub), the
 * limits of node_status_limits_default, warn, no journal prefixes. */
void node_config_defaults(node_config *c);

/* Read `path` over the values in *c. With `optional` a missing file is not an error (the
 * defaults stand). SN_ECONFIG naming file, line and setting; SN_EIO when unreadable. */
SN_NODISCARD int node_config_load(node_config *c, const char *path, bool optional, sn_err *err);

/* Parse a duration: a number with a unit s, m, h or d (ms for milliseconds). */
SN_NODISCARD int node_config_duration_ms(const char *text, uint64_t *out);

#endif
