/* node/trust.h - what a node trusts, kept in its store: the pinned CA certificate, its own
 * certificate, every origin's certificates, and the highest revocation list seen (never
 * going back). */
#ifndef SN_NODE_TRUST_H
#define SN_NODE_TRUST_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "node/store.h"
#include "sync/cert.h"
#include "sync/crl.h"
#include "sync/enroll.h"

/* This node's enrolment request, from its keys and identity. */
SN_NODISCARD int node_trust_request(node_store *st, sync_enroll_request *out, sn_err *err);

/* Install this node's certificate: the root must be self-signed; once a CA is pinned a
 * different one is refused; the certificate must chain to it and name this node's
 * replica and keys exactly. SN_EAUTH saying which check failed. */
SN_NODISCARD int node_trust_install(node_store *st, const sync_cert *own, const sync_cert *root,
                                    sn_err *err);

/* The pinned CA and this node's certificate; SN_ENOTFOUND (with an enrolment hint) when
 * the node is not enrolled. */
SN_NODISCARD int node_trust_ca(node_store *st, sync_cert *out, sn_err *err);
SN_NODISCARD int node_trust_own(node_store *st, sync_cert *out, sn_err *err);

/* Remember another origin's certificate after checking it chains to the pinned CA (one
 * held byte for byte already was checked when it was stored, and is not again).
 * Expiry is not checked: it blocks new sessions, never the commits of an unrevoked
 * certificate. Idempotent. */
SN_NODISCARD int node_trust_cert_add(node_store *st, const sync_cert *c, sn_err *err);
/* sync_cert_verify of `c` against `issuer_pk` (the pinned CA's key) through the store's
 * cache of certificates already verified, so a certificate met again (every session, every
 * log file) costs a hash, not a signature check; validity at now_s (0: not checked) is
 * checked every time. The cache empties when a newer revocation list is taken or a CA
 * certificate installed. SN_EAUTH as sync_cert_verify. */
SN_NODISCARD int node_trust_cert_verify(node_store *st, const sync_cert *c,
                                        const uint8_t issuer_pk[SYNC_SIGN_PK_LEN],
                                        uint64_t now_s, sn_err *err);
/* The certificate of (replica, serial). SN_ENOTFOUND. */
SN_NODISCARD int node_trust_cert_get(node_store *st, const uint8_t replica[16], uint64_t serial,
                                     sync_cert *out, sn_err *err);

/* Call fn for every certificate held, this node's own included, in (replica, serial)
 * order. A non-zero return from fn stops the walk and is returned. SN_ECORRUPT for a
 * stored certificate that does not parse. */
typedef int (*node_trust_cert_fn)(void *ctx, const sync_cert *c, sn_err *err);
SN_NODISCARD int node_trust_cert_each(node_store *st, node_trust_cert_fn fn, void *ctx,
                                      sn_err *err);

/* Offer a revocation list: verified against the pinned CA; kept when its number is higher
 * than the one held (*taken true), ignored when not higher (rollback refused, *taken
 * false). */
SN_NODISCARD int node_trust_crl_offer(node_store *st, const sync_crl *crl, bool *taken,
                                      sn_err *err);
/* The list held (an empty list numbered 0 when none). Caller frees with sync_crl_free. */
SN_NODISCARD int node_trust_crl(node_store *st, sync_crl *out, sn_err *err);

#endif
