/* tests/trust_fixture.h - a deployment CA for tests: a root key and certificate, node
 * certificates issued from stores' enrolment requests, enrolment of stores in one call, and
 * signed revocation lists. Helpers assert instead of returning errors. */
#ifndef SN_TESTS_TRUST_FIXTURE_H
#define SN_TESTS_TRUST_FIXTURE_H

#include <stdint.h>

#include "base/buf.h"
#include "node/logfile.h"
#include "node/store.h"
#include "sync/cert.h"
#include "sync/crl.h"
#include "sync/enroll.h"

typedef struct tca {
    uint8_t pk[SYNC_SIGN_PK_LEN];
    uint8_t sk[SYNC_SIGN_SK_LEN];
    sync_cert root;
    uint64_t next_serial; /* serials issued by tca_enroll */
    uint64_t crl_number;  /* the last list made by tca_crl */
} tca;

/* A new CA named `name` (self-signed root, valid from 1 to 4e9 unix seconds). */
void tca_make(tca *c, const char *name);
/* A node certificate for `req`, issued by `c`, valid in [after, before). */
sync_cert tca_issue(const tca *c, const sync_enroll_request *req, uint64_t serial,
                    uint64_t after, uint64_t before);
/* Enrol `st` with `c` (request, issue the next serial, install); returns the certificate. */
sync_cert tca_enroll(tca *c, node_store *st);
/* The next signed list (number crl_number + 1) with the given entries. Caller frees. */
sync_crl tca_crl(tca *c, const sync_crl_entry *entries, size_t n);
/* An entry revoking certificate `cert` at (epoch, last_good_seq). */
sync_crl_entry tca_entry(const sync_cert *cert, uint32_t epoch, uint64_t last_good_seq);

/* Enrol `st` as a hub: a certificate issued like a node's, then typed HUB and re-signed. */
sync_cert tca_enroll_hub(tca *c, node_store *st);

/* Give `to` every certificate `from` holds (both enrolled with one CA). */
void tca_certs_copy(node_store *from, node_store *to);

/* Send `to` what it lacks from `from` as signed units, with every certificate `from`
 * holds (both must be enrolled with one CA), and apply. */
void tca_send(node_store *from, node_store *to);
/* The same, stored but not applied: as if the apply after the import failed or the
 * process died between the two. */
void tca_send_unapplied(node_store *from, node_store *to);

/* Carry by log file what `to` lacks from `from` (both enrolled with one CA): exported to
 * `name` in the test directory, then imported, which must succeed; its statistics. */
node_logfile_stats tca_carry(node_store *from, node_store *to, const char *name);

/* A unit of commits 1..n of an origin, bodies[0..n) in seq order, under a checkpoint at n
 * signed with the key of the store in directory `dir` as certificate `cert`: with a body
 * that differs from what the origin signed, the forgery of a cloned disk or stolen key
 * (equivocation). The unit's bytes to `out` (initialised by the caller). */
void tca_unit_signed(const char *dir, const sync_cert *cert, const node_body *bodies, size_t n,
                     sn_buf *out);

#endif
