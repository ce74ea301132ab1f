/* sync/crl.h - the signed, numbered revocation list (SECURITY.md §1.5). Nodes keep the
 * highest number seen and never go back. Each entry names a revoked certificate and the
 * last good sequence number of its replica: commits up to it stay valid, later ones are
 * quarantined (kept, not applied, listed). Epochs: commits of an earlier epoch of the
 * replica stay valid, of the entry's epoch up to last_good_seq, of later epochs none.
 *
 *   OFFSET  SIZE  FIELD
 *   0       4     magic "SNR1"
 *   4       1     version (1)
 *   5       3     reserved (0)
 *   8       8     issuer key id
 *   16      8     crl_number (1, 2, 3 ...)
 *   24      8     issued_at (unix seconds)
 *   32      8     next_update
 *   40      4     n = entries (at most SYNC_CRL_MAX_ENTRIES)
 *   44      45n   entries: serial u64 | replica 16 | epoch u32 | reason u8 |
 *                 revoked_at u64 | last_good_seq u64
 *   end-64  64    Ed25519 by the CA over "SNR1-crl\0" || every byte before it
 */
#ifndef SN_SYNC_CRL_H
#define SN_SYNC_CRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "crdt/vv.h"
#include "sync/crypto.h"

#define SYNC_CRL_MAX_ENTRIES 100000
#define SYNC_CRL_ENTRY_LEN 45

typedef enum sync_revoke_reason {
    SYNC_REVOKE_SUPERSEDED = 1,
    SYNC_REVOKE_LOST = 2,
    SYNC_REVOKE_COMPROMISED = 3,
    SYNC_REVOKE_RETIRED = 4,
} sync_revoke_reason;

typedef struct sync_crl_entry {
    uint64_t serial;
    uint8_t replica[16];
    uint32_t epoch;
    uint8_t reason;
    uint64_t revoked_at;
    uint64_t last_good_seq;
} sync_crl_entry;

typedef struct sync_crl {
    uint8_t issuer_kid[SYNC_KID_LEN];
    uint64_t number;
    uint64_t issued_at;
    uint64_t next_update;
    sync_crl_entry *entries; /* owned (sync_crl_free); sorted by (replica, serial) on sign */
    size_t n;
    size_t cap; /* entries allocated; grown by sync_crl_add (zero-initialised is empty) */
    uint8_t sig[SYNC_SIG_LEN];
} sync_crl;

void sync_crl_free(sync_crl *crl); /* frees entries; NULL-safe */
/* Add an entry (the list grows; SN_ETOOBIG past the maximum, SN_ENOMEM). */
SN_NODISCARD int sync_crl_add(sync_crl *crl, const sync_crl_entry *e, sn_err *err);
/* Sort the entries, set issuer_kid and sign. SN_EINVAL for number 0, an unknown reason or
 * two entries with one (replica, serial); SN_ENOMEM. */
SN_NODISCARD int sync_crl_sign(sync_crl *crl, const uint8_t ca_sk[SYNC_SIGN_SK_LEN], sn_err *err);
SN_NODISCARD int sync_crl_encode(const sync_crl *crl, sn_buf *out, sn_err *err);
/* Strict parse (magic, version, count against length, no trailing bytes, known reasons,
 * entries sorted without duplicates). SN_ECORRUPT, SN_EVERSION, SN_ENOMEM. Does not verify
 * the signature. `out` is overwritten (free what it held first); on failure it is empty. */
SN_NODISCARD int sync_crl_parse(const uint8_t *p, size_t n, sync_crl *out, sn_err *err);
SN_NODISCARD int sync_crl_verify(const sync_crl *crl, const uint8_t ca_pk[SYNC_SIGN_PK_LEN],
                                 sn_err *err);
/* Is commit (origin, seq) still valid under this list? No entry for origin's replica:
 * yes. Otherwise the most restrictive entry of that replica (the smallest (epoch,
 * last_good_seq)) decides: an earlier epoch yes, the same epoch when seq <= last_good_seq,
 * a later epoch no. Scans every entry, so it holds for an unsorted list too. */
bool sync_crl_allows(const sync_crl *crl, const crdt_origin *origin, uint64_t seq);
/* The highest seq of `origin` that a checkpoint signed under certificate `serial` may
 * cover: UINT64_MAX when the list has no entry for (origin's replica, serial) or the
 * entry's epoch is later than the origin's, the entry's last_good_seq for the same epoch,
 * 0 for a later epoch. Per serial, so a key rotated out as superseded does not block the
 * replica's new key. */
uint64_t sync_crl_watermark(const sync_crl *crl, const crdt_origin *origin, uint64_t serial);
/* The entry for a replica (the most restrictive one when there are several), or NULL. */
const sync_crl_entry *sync_crl_find(const sync_crl *crl, const uint8_t replica[16]);

#endif
