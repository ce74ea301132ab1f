/* node/ca.h - the deployment's certificate authority (SECURITY.md §1 and its Adjustments:
 * one tier, the CA is the root), kept in one directory wherever its key lives: an offline
 * workstation, or the hub machine in a small deployment.
 *
 *   DIR/ca.key          the CA's Ed25519 key pair, mode 0600 (node/keyfile.h format);
 *                       refused when group or others may read it
 *   DIR/ca.cert         the self-signed root certificate (SNC1, type root, serial 1)
 *   DIR/state           "next-serial N" and "crl-number N": written atomically, and last
 *   DIR/issued/N.cert   every certificate issued, by decimal serial, kept forever
 *   DIR/crl             the current signed revocation list (SNR1); init writes list 1,
 *                       empty, so a node can be given one at enrolment
 *
 * Every change writes its new files atomically (node/fileio.h) and the state file last;
 * when a step fails, what was written is removed or restored, so a failed command leaves
 * the directory as it was. Opening checks that the pieces agree: the key is the root's,
 * the root is self-signed, the list is signed by it and has the number the state gives.
 * Functions take the time (unix seconds) from the caller so tests can fix it. */
#ifndef SN_NODE_CA_H
#define SN_NODE_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "sync/cert.h"
#include "sync/crl.h"
#include "sync/enroll.h"

#define NODE_CA_DIR_DEFAULT "outpost-ca"
#define NODE_CA_DAYS_DEFAULT 180        /* issued certificates */
#define NODE_CA_ROOT_DAYS_DEFAULT 7300  /* the root: 20 years */
#define NODE_CA_DAYS_MAX 36500          /* ships may be away for many months; cap at 100 y */
#define NODE_CA_CRL_DAYS 30             /* next_update of each list after its issue */
#define NODE_CA_BACKDATE_S 3600         /* valid_after is an hour early: slow node clocks */
#define NODE_CA_ROOT_SERIAL 1           /* issued certificates start at 2 */

typedef struct node_ca node_ca;

/* Create a CA in `dir` (made with mode 0700; an existing empty directory is used, a
 * non-empty one refused with SN_EINVAL) named `name` (1..64 bytes, sync_cert_name_is_valid),
 * its root valid for `days` (1..NODE_CA_DAYS_MAX) from `now_s`. Writes ca.key, ca.cert,
 * an empty revocation list number 1, issued/ and state. SN_EINVAL, SN_EIO, SN_ENOMEM; on
 * failure nothing is left behind. */
SN_NODISCARD int node_ca_init(const char *dir, const char *name, uint32_t days, uint64_t now_s,
                              sn_err *err);

/* Open the CA in `dir`, locking it (flock) until node_ca_close. SN_ENOTFOUND (no CA
 * there: the hint says how to make one; or a piece is missing), SN_EBUSY (another command
 * has it open), SN_EAUTH (ca.key readable by others, or the key is not the root's),
 * SN_ECORRUPT (a damaged state, certificate or list), SN_EIO, SN_ENOMEM. On success *out
 * owns the CA, secret key included (node_ca_close wipes it). */
SN_NODISCARD int node_ca_open(node_ca **out, const char *dir, sn_err *err);
void node_ca_close(node_ca *ca); /* NULL is a no-op */

/* The root certificate and the current revocation list (borrowed until close or the next
 * node_ca_revoke), the next serial to be issued, and the root's fingerprint: the
 * sync_fingerprint of ca.cert's bytes, which `outpost enroll install` shows on the node. */
const sync_cert *node_ca_root(const node_ca *ca);
const sync_crl *node_ca_crl(const node_ca *ca);
uint64_t node_ca_next_serial(const node_ca *ca);
void node_ca_fingerprint(const node_ca *ca, char out[static SYNC_FINGERPRINT_MAX]);
/* The directory the CA was opened from (borrowed until close). */
const char *node_ca_dir(const node_ca *ca);

/* What node_ca_issue makes of a request. Zero fields take the defaults. */
typedef struct node_ca_issue_opts {
    uint8_t type;                   /* SYNC_CERT_NODE (also for 0) or SYNC_CERT_HUB */
    const char *name;               /* NULL: the request's name */
    uint32_t days;                  /* 0: NODE_CA_DAYS_DEFAULT */
    const char *expect_fingerprint; /* NULL, or the fingerprint the node showed: compared
                                       ignoring case, spaces and dashes */
} node_ca_issue_opts;

/* Issue a certificate for the enrolment request in req[0..n): parse it and check its proof
 * of possession (SN_ECORRUPT, SN_EVERSION, SN_EAUTH), compare the fingerprint when one is
 * expected (SN_EAUTH), refuse a replica this CA revoked and a validity that would outlive
 * the root (SN_EINVAL). Assigns the next serial, writes issued/<serial>.cert and advances
 * the state. *out gets the certificate and `bytes` (appended to) its encoding. On failure
 * the directory is unchanged. */
SN_NODISCARD int node_ca_issue(node_ca *ca, const uint8_t *req, size_t n,
                               const node_ca_issue_opts *o, uint64_t now_s, sync_cert *out,
                               sn_buf *bytes, sn_err *err);

/* Which node to revoke, and how. */
typedef struct node_ca_revoke_opts {
    const char *node;       /* a certificate name, a 32-hex replica id, or a serial */
    uint64_t last_good_seq; /* commits of the replica up to this stay valid */
    uint32_t epoch;         /* the epoch last_good_seq counts in; 0: 1 */
    uint8_t reason;         /* sync_revoke_reason; 0: SYNC_REVOKE_LOST */
} node_ca_revoke_opts;

/* Revoke every certificate of the selected node not yet revoked: a new list numbered one
 * more than the current one, written to DIR/crl, then the state. SN_ENOTFOUND (nothing
 * issued matches), SN_EINVAL (the text matches several nodes, or the node is already
 * revoked, or a bad reason), SN_EIO, SN_ENOMEM. *nrevoked gets the number of entries
 * added and `replica` the node's replica id. On failure the directory is unchanged. */
SN_NODISCARD int node_ca_revoke(node_ca *ca, const node_ca_revoke_opts *o, uint64_t now_s,
                                size_t *nrevoked, uint8_t replica[static 16], sn_err *err);

/* One issued certificate and whether the current list revokes it. */
typedef struct node_ca_item {
    sync_cert cert;
    bool revoked;
    sync_crl_entry entry; /* the list's entry, when revoked */
} node_ca_item;

/* Every certificate in issued/, sorted by serial, each checked against the root
 * (SN_ECORRUPT naming a damaged file). *items is the caller's (sn_free); NULL when *n is 0. */
SN_NODISCARD int node_ca_list(node_ca *ca, node_ca_item **items, size_t *n, sn_err *err);

/* Revocation reasons by name: "superseded", "lost", "compromised", "retired". The parser
 * returns 0 or SN_EINVAL (with a hint listing them); the name of an unknown one is "?". */
SN_NODISCARD int node_ca_reason_parse(const char *text, uint8_t *out, sn_err *err);
const char *node_ca_reason_name(uint8_t reason);

/* Strict unsigned decimal: digits only (no sign, no blanks), at most UINT64_MAX. Used for
 * the state file, serials typed as a NODE, and the commands' numeric options. */
bool node_ca_decimal_parse(const char *text, uint64_t *out);

#endif
