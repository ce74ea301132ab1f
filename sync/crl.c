/* sync/crl.c - the signed, numbered revocation list (SECURITY.md §1.5).
 *
 *   OFFSET  SIZE  MEANING
 *   0       4     magic "SNR1"
 *   4       1     version (1; larger is SN_EVERSION, 0 is corrupt)
 *   5       3     reserved (0)
 *   8       8     issuer key id (first 8 bytes of BLAKE2b-256 of the CA's sign_pk)
 *   16      8     crl_number (1, 2, 3 ...)
 *   24      8     issued_at (unix seconds)
 *   32      8     next_update
 *   40      4     n = entries (at most SYNC_CRL_MAX_ENTRIES)
 *   44      45n   entries, sorted by (replica, serial), no two alike:
 *                   +0  8   serial of the revoked certificate
 *                   +8  16  replica
 *                   +24 4   epoch of the replica the watermark belongs to
 *                   +28 1   reason (1 superseded, 2 lost, 3 compromised, 4 retired)
 *                   +29 8   revoked_at (unix seconds)
 *                   +37 8   last_good_seq
 *   end-64  64    Ed25519 by the CA over "SNR1-crl\0" || every byte before it
 *
 * The parser checks the count against the bytes present before it allocates, so a
 * hostile count costs nothing. Sorting makes the encoding canonical (sign sorts, parse
 * refuses anything else); lookups still scan every entry, so they are right for a list
 * being built with sync_crl_add too. */
#include "sync/crl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

#define CRL_MAGIC "SNR1"
#define CRL_CONTEXT "SNR1-crl"
#define CRL_VERSION 1
#define CRL_HEADER 44

_Static_assert((uint64_t)SYNC_CRL_MAX_ENTRIES * SYNC_CRL_ENTRY_LEN < SIZE_MAX / 2,
               "largest list fits in memory arithmetic");

static size_t body_len(size_t n) { return CRL_HEADER + SYNC_CRL_ENTRY_LEN * n; }

static bool reason_is_known(uint8_t r)
{
    return r >= SYNC_REVOKE_SUPERSEDED && r <= SYNC_REVOKE_RETIRED;
}

/* Order of the encoding: replica bytes, then serial. */
static int entry_cmp(const void *a, const void *b)
{
    const sync_crl_entry *x = a, *y = b;
    int c = memcmp(x->replica, y->replica, sizeof x->replica);
    if (c != 0)
        return c;
    return x->serial < y->serial ? -1 : x->serial > y->serial;
}

void sync_crl_free(sync_crl *crl)
{
    if (crl == NULL)
        return;
    sn_free(crl->entries);
    crl->entries = NULL;
    crl->n = 0;
    crl->cap = 0;
}

int sync_crl_add(sync_crl *crl, const sync_crl_entry *e, sn_err *err)
{
    if (crl->n >= SYNC_CRL_MAX_ENTRIES)
        return sn_err_set(err, SN_ETOOBIG,
                          "revocation list %" PRIu64 ": already holds the maximum of %d entries",
                          crl->number, SYNC_CRL_MAX_ENTRIES);
    if (SN_NEVER(crl->n > crl->cap))
        return sn_err_set(err, SN_EINVAL, "revocation list: entry count past its allocation");
    if (crl->n == crl->cap) {
        size_t cap = crl->cap == 0 ? 16 : crl->cap * 2;
        if (cap > SYNC_CRL_MAX_ENTRIES)
            cap = SYNC_CRL_MAX_ENTRIES;
        sync_crl_entry *p = sn_realloc(crl->entries, cap * sizeof *p);
        if (p == NULL)
            return sn_err_set(err, SN_ENOMEM,
                              "adding to revocation list %" PRIu64 " (%zu entries): out of memory",
                              crl->number, crl->n);
        crl->entries = p;
        crl->cap = cap;
    }
    crl->entries[crl->n++] = *e;
    return 0;
}

/* Every byte before the signature, into p (body_len(crl->n) bytes). */
static void write_body(const sync_crl *crl, uint8_t *p)
{
    memcpy(p, CRL_MAGIC, 4);
    p[4] = CRL_VERSION;
    p[5] = p[6] = p[7] = 0;
    memcpy(p + 8, crl->issuer_kid, SYNC_KID_LEN);
    sn_store_u64be(p + 16, crl->number);
    sn_store_u64be(p + 24, crl->issued_at);
    sn_store_u64be(p + 32, crl->next_update);
    sn_store_u32be(p + 40, (uint32_t)crl->n);
    uint8_t *q = p + CRL_HEADER;
    for (size_t i = 0; i < crl->n; i++, q += SYNC_CRL_ENTRY_LEN) {
        const sync_crl_entry *e = &crl->entries[i];
        sn_store_u64be(q, e->serial);
        memcpy(q + 8, e->replica, 16);
        sn_store_u32be(q + 24, e->epoch);
        q[28] = e->reason;
        sn_store_u64be(q + 29, e->revoked_at);
        sn_store_u64be(q + 37, e->last_good_seq);
    }
}

static int check_count(const sync_crl *crl, sn_err *err)
{
    if (crl->n > SYNC_CRL_MAX_ENTRIES)
        return sn_err_set(err, SN_ETOOBIG, "revocation list %" PRIu64 ": %zu entries (at most %d)",
                          crl->number, crl->n, SYNC_CRL_MAX_ENTRIES);
    return 0;
}

/* The body in a fresh allocation (sn_free it). */
static int body_new(const sync_crl *crl, uint8_t **out, size_t *len, sn_err *err)
{
    *len = body_len(crl->n);
    *out = sn_malloc(*len);
    if (*out == NULL)
        return sn_err_set(err, SN_ENOMEM, "encoding revocation list %" PRIu64 ": out of memory",
                          crl->number);
    write_body(crl, *out);
    return 0;
}

int sync_crl_sign(sync_crl *crl, const uint8_t ca_sk[SYNC_SIGN_SK_LEN], sn_err *err)
{
    int rc = check_count(crl, err);
    if (rc != 0)
        return rc;
    if (crl->number == 0)
        return sn_err_set(err, SN_EINVAL, "revocation list: numbers start at 1, not 0");
    for (size_t i = 0; i < crl->n; i++)
        if (!reason_is_known(crl->entries[i].reason))
            return sn_err_set(err, SN_EINVAL,
                              "revocation list %" PRIu64 ": entry for serial %" PRIu64
                              " has unknown reason %u",
                              crl->number, crl->entries[i].serial, crl->entries[i].reason);
    if (crl->n > 1)
        qsort(crl->entries, crl->n, sizeof *crl->entries, entry_cmp);
    for (size_t i = 1; i < crl->n; i++)
        if (entry_cmp(&crl->entries[i - 1], &crl->entries[i]) == 0)
            return sn_err_set(err, SN_EINVAL,
                              "revocation list %" PRIu64 ": serial %" PRIu64
                              " is listed twice for one replica",
                              crl->number, crl->entries[i].serial);
    uint8_t pk[SYNC_SIGN_PK_LEN];
    sync_sign_pk_of(pk, ca_sk);
    sync_kid(crl->issuer_kid, pk);
    uint8_t *body;
    size_t len;
    if ((rc = body_new(crl, &body, &len, err)) != 0)
        return rc;
    rc = sync_sign_checked(crl->sig, CRL_CONTEXT, body, len, ca_sk, err);
    sn_free(body);
    return rc;
}

int sync_crl_encode(const sync_crl *crl, sn_buf *out, sn_err *err)
{
    int rc = check_count(crl, err);
    if (rc != 0)
        return rc;
    size_t len = body_len(crl->n);
    /* Reserve everything first, so a failure leaves `out` as it was. */
    if ((rc = sn_buf_reserve(out, len + SYNC_SIG_LEN, err)) != 0)
        return rc;
    write_body(crl, out->data + out->len);
    memcpy(out->data + out->len + len, crl->sig, SYNC_SIG_LEN);
    out->len += len + SYNC_SIG_LEN;
    return 0;
}

static int corrupt(sn_err *err, const char *what, size_t off)
{
    return sn_err_set(err, SN_ECORRUPT, "revocation list: %s at offset %zu", what, off);
}

int sync_crl_parse(const uint8_t *p, size_t n, sync_crl *out, sn_err *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < 4 && i < n; i++)
        if (p[i] != (uint8_t)CRL_MAGIC[i])
            return corrupt(err, "bad magic (not \"SNR1\")", 0);
    if (n < 5)
        return sn_err_set(err, SN_ECORRUPT, "revocation list: truncated at %zu bytes", n);
    if (p[4] > CRL_VERSION)
        return sn_err_set(err, SN_EVERSION,
                          "revocation list: version %u is newer than this build understands (%d)",
                          p[4], CRL_VERSION);
    if (p[4] != CRL_VERSION)
        return corrupt(err, "version 0", 4);
    if (n < CRL_HEADER + SYNC_SIG_LEN)
        return sn_err_set(err, SN_ECORRUPT,
                          "revocation list: truncated (%zu bytes, at least %d needed)", n,
                          CRL_HEADER + SYNC_SIG_LEN);
    for (size_t i = 5; i < 8; i++)
        if (p[i] != 0)
            return corrupt(err, "non-zero reserved byte", i);
    uint32_t count = sn_load_u32be(p + 40);
    if (count > SYNC_CRL_MAX_ENTRIES)
        return sn_err_set(err, SN_ECORRUPT,
                          "revocation list: entry count %" PRIu32 " at offset 40 exceeds %d",
                          count, SYNC_CRL_MAX_ENTRIES);
    /* Count against the bytes present, before allocating anything. */
    size_t want = body_len(count) + SYNC_SIG_LEN;
    if (n < want)
        return sn_err_set(err, SN_ECORRUPT,
                          "revocation list: truncated (%zu bytes; %" PRIu32
                          " entries need %zu)",
                          n, count, want);
    if (n > want)
        return sn_err_set(err, SN_ECORRUPT,
                          "revocation list: %zu trailing bytes after the signature at offset %zu",
                          n - want, want);
    uint64_t number = sn_load_u64be(p + 16);
    if (number == 0)
        return corrupt(err, "list number 0", 16);
    sync_crl_entry *entries = NULL;
    if (count > 0) {
        entries = sn_mallocarray(count, sizeof *entries);
        if (entries == NULL)
            return sn_err_set(err, SN_ENOMEM,
                              "reading revocation list %" PRIu64 " (%" PRIu32
                              " entries): out of memory",
                              number, count);
    }
    const uint8_t *q = p + CRL_HEADER;
    for (size_t i = 0; i < count; i++, q += SYNC_CRL_ENTRY_LEN) {
        sync_crl_entry *e = &entries[i];
        size_t off = (size_t)(q - p);
        e->serial = sn_load_u64be(q);
        memcpy(e->replica, q + 8, 16);
        e->epoch = sn_load_u32be(q + 24);
        e->reason = q[28];
        e->revoked_at = sn_load_u64be(q + 29);
        e->last_good_seq = sn_load_u64be(q + 37);
        if (!reason_is_known(e->reason)) {
            sn_free(entries);
            return corrupt(err, "unknown revocation reason", off + 28);
        }
        if (i > 0 && entry_cmp(&entries[i - 1], e) >= 0) {
            sn_free(entries);
            return corrupt(err, "entry out of order or repeated", off);
        }
    }
    memcpy(out->issuer_kid, p + 8, SYNC_KID_LEN);
    out->number = number;
    out->issued_at = sn_load_u64be(p + 24);
    out->next_update = sn_load_u64be(p + 32);
    out->entries = entries;
    out->n = out->cap = count;
    memcpy(out->sig, p + n - SYNC_SIG_LEN, SYNC_SIG_LEN);
    return 0;
}

int sync_crl_verify(const sync_crl *crl, const uint8_t ca_pk[SYNC_SIGN_PK_LEN], sn_err *err)
{
    int rc = check_count(crl, err);
    if (rc != 0)
        return rc;
    uint8_t kid[SYNC_KID_LEN];
    sync_kid(kid, ca_pk);
    if (memcmp(kid, crl->issuer_kid, SYNC_KID_LEN) != 0)
        return sn_err_set(err, SN_EAUTH,
                          "revocation list %" PRIu64 ": issued by another key (its issuer key "
                          "id does not match the CA)",
                          crl->number);
    uint8_t *body;
    size_t len;
    if ((rc = body_new(crl, &body, &len, err)) != 0)
        return rc;
    rc = sync_verify_checked(crl->sig, CRL_CONTEXT, body, len, ca_pk, err);
    sn_free(body);
    if (rc == SN_EAUTH)
        return sn_err_set(err, SN_EAUTH,
                          "revocation list %" PRIu64
                          ": bad signature (does not verify against the CA key)",
                          crl->number);
    return rc;
}

/* True when entry a allows less than entry b: (epoch, last_good_seq) is smaller. An entry
 * allows exactly the commits at or below its (epoch, last_good_seq), so these sets nest
 * and the smallest pair is the most restrictive. */
static bool more_restrictive(const sync_crl_entry *a, const sync_crl_entry *b)
{
    return a->epoch != b->epoch ? a->epoch < b->epoch : a->last_good_seq < b->last_good_seq;
}

const sync_crl_entry *sync_crl_find(const sync_crl *crl, const uint8_t replica[16])
{
    const sync_crl_entry *best = NULL;
    for (size_t i = 0; i < crl->n; i++) {
        const sync_crl_entry *e = &crl->entries[i];
        if (memcmp(e->replica, replica, 16) == 0 && (best == NULL || more_restrictive(e, best)))
            best = e;
    }
    return best;
}

bool sync_crl_allows(const sync_crl *crl, const crdt_origin *origin, uint64_t seq)
{
    const sync_crl_entry *e = sync_crl_find(crl, origin->replica);
    if (e == NULL || origin->epoch < e->epoch)
        return true;
    if (origin->epoch == e->epoch)
        return seq <= e->last_good_seq;
    return false;
}

uint64_t sync_crl_watermark(const sync_crl *crl, const crdt_origin *origin, uint64_t serial)
{
    uint64_t wm = UINT64_MAX;
    for (size_t i = 0; i < crl->n; i++) {
        const sync_crl_entry *e = &crl->entries[i];
        if (e->serial != serial || memcmp(e->replica, origin->replica, 16) != 0)
            continue;
        uint64_t w = origin->epoch < e->epoch ? UINT64_MAX
                     : origin->epoch == e->epoch ? e->last_good_seq
                                                 : 0;
        if (w < wm)
            wm = w;
    }
    return wm;
}
