/* cli/cert_view.c - certificates and revocation entries as text and JSON. */
#include "cli/cert_view.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "cli/output.h"
#include "node/ca.h"

void cli_cert_time(char out[static CLI_CERT_TIME_MAX], uint64_t s, bool date_only)
{
    time_t t = (time_t)s;
    struct tm tm;
    if (s > (uint64_t)INT64_MAX || gmtime_r(&t, &tm) == NULL ||
        strftime(out, CLI_CERT_TIME_MAX, date_only ? "%Y-%m-%d" : "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, CLI_CERT_TIME_MAX, "@%" PRIu64, s);
}

const char *cli_cert_role(const sync_cert *c)
{
    switch (c->type) {
    case SYNC_CERT_NODE: return "node";
    case SYNC_CERT_HUB: return "hub";
    default: return sync_cert_type_name(c->type);
    }
}

int cli_cert_json(sn_buf *b, const sync_cert *c, sn_err *err)
{
    char replica[33], after[CLI_CERT_TIME_MAX], before[CLI_CERT_TIME_MAX];
    sn_hex(replica, c->replica, sizeof c->replica);
    cli_cert_time(after, c->valid_after, false);
    cli_cert_time(before, c->valid_before, false);
    int rc = sn_buf_appendf(b, err, "\"serial\":%" PRIu64 ",\"name\":", c->serial);
    if (rc == 0)
        rc = cli_json_cstr(b, c->name, err);
    if (rc == 0)
        rc = sn_buf_appendf(b, err,
                            ",\"role\":\"%s\",\"replica\":\"%s\",\"valid_after\":\"%s\","
                            "\"valid_before\":\"%s\"",
                            cli_cert_role(c), replica, after, before);
    return rc;
}

int cli_crl_entry_json(sn_buf *b, const sync_crl_entry *e, sn_err *err)
{
    char replica[33], at[CLI_CERT_TIME_MAX];
    sn_hex(replica, e->replica, sizeof e->replica);
    cli_cert_time(at, e->revoked_at, false);
    return sn_buf_appendf(b, err,
                          "{\"serial\":%" PRIu64 ",\"replica\":\"%s\",\"epoch\":%" PRIu32
                          ",\"reason\":\"%s\",\"revoked_at\":\"%s\",\"last_good_seq\":%" PRIu64
                          "}",
                          e->serial, replica, e->epoch, node_ca_reason_name(e->reason), at,
                          e->last_good_seq);
}
