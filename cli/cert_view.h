/* cli/cert_view.h - certificates and revocation entries as text and JSON, shared by
 * `outpost ca`, `outpost enroll` and `outpost trust`. Names in certificates are checked at
 * parse time (valid UTF-8, no control characters), so they are safe on a terminal. */
#ifndef SN_CLI_CERT_VIEW_H
#define SN_CLI_CERT_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "sync/cert.h"
#include "sync/crl.h"

/* "YYYY-MM-DDTHH:MM:SSZ" and the NUL, with room for odd years. */
#define CLI_CERT_TIME_MAX 40

/* UTC time of unix seconds s: "YYYY-MM-DDTHH:MM:SSZ", or only "YYYY-MM-DD" (date_only). */
void cli_cert_time(char out[static CLI_CERT_TIME_MAX], uint64_t s, bool date_only);

/* The role a certificate gives: "node", "hub", "root CA", ... */
const char *cli_cert_role(const sync_cert *c);

/* The members of a certificate's JSON object, without braces: "serial", "name", "role",
 * "replica" (32 hex), "valid_after", "valid_before" (cli_cert_time). */
SN_NODISCARD int cli_cert_json(sn_buf *b, const sync_cert *c, sn_err *err);

/* A revocation entry as a JSON object: {"serial","replica","epoch","reason","revoked_at",
 * "last_good_seq"}. */
SN_NODISCARD int cli_crl_entry_json(sn_buf *b, const sync_crl_entry *e, sn_err *err);

#endif
