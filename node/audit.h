/* node/audit.h - the local, hash-chained audit log: who read or changed which patient,
 * when and where. Outside the clinical digest; each event's hash covers the previous
 * one's, so an edit or a deletion in the middle shows on verification. */
#ifndef SN_NODE_AUDIT_H
#define SN_NODE_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "crdt/hlc.h"
#include "node/store.h"

#define NODE_AUDIT_DETAIL_MAX 512

typedef enum node_audit_action {
    NODE_AUDIT_READ = 'R',   /* a patient's record was viewed */
    NODE_AUDIT_CREATE = 'C', /* a record was written */
    NODE_AUDIT_UPDATE = 'U', /* a field was changed, a record retracted or merged */
    NODE_AUDIT_ADMIN = 'A',  /* users were managed */
    NODE_AUDIT_EXPORT = 'E', /* records left the node (log export) */
} node_audit_action;

typedef struct node_audit_event {
    uint64_t seq;           /* 1, 2, 3 ...: a gap shows a deletion */
    uint64_t wall_ms;
    crdt_hlc hlc;
    const char *user;       /* clinician id */
    const char *os_user;
    char action;            /* node_audit_action */
    bool has_patient;
    uint8_t patient[16];
    const char *detail;
    uint8_t hash[32];       /* BLAKE2b-256(previous hash || this event) */
} node_audit_event;

/* Append an event (own transaction, durable). `patient` may be NULL. */
SN_NODISCARD int node_audit_append(node_store *st, const char *user, const char *os_user,
                                   node_audit_action action, const uint8_t *patient,
                                   const char *detail, sn_err *err);

/* Attach an audit event to a local write: it is appended in the commit's own transaction,
 * so a commit is never stored without its event (nor the event without the commit). The
 * detail is stored as "commit SEQ: <detail>". Copies its arguments. SN_EINVAL for an
 * over-long detail, SN_ENOMEM. */
SN_NODISCARD int node_write_audit(node_write *w, const char *user, const char *os_user,
                                  node_audit_action action, const uint8_t *patient,
                                  const char *detail, sn_err *err);

/* Events in order, optionally only those about `patient` (NULL: all) and/or by `user`
 * (NULL: all). Strings are borrowed for the call. */
typedef int (*node_audit_fn)(void *ctx, const node_audit_event *ev, sn_err *err);
SN_NODISCARD int node_audit_each(node_store *st, const uint8_t *patient, const char *user,
                                 node_audit_fn fn, void *ctx, sn_err *err);

/* Recompute the chain: 0 with *count events, or SN_ECORRUPT naming the first event whose
 * hash or sequence number is wrong. */
SN_NODISCARD int node_audit_verify(node_store *st, uint64_t *count, sn_err *err);

#endif
