/* sync/cert.c - certificates: a fixed big-endian layout read by offset (SECURITY.md §1.2,
 * with the Adjustments' name field). Version 1, one tier: the root CA signs itself and
 * signs hub and node certificates.
 *
 *   OFFSET      SIZE  MEANING
 *   0           4     magic "SNC1"
 *   4           1     version (1; a larger one is SN_EVERSION, 0 is corrupt)
 *   5           1     type: 1 root CA, 2 operator CA, 3 hub, 4 node
 *   6           2     flags (0; anything else is corrupt in version 1)
 *   8           8     serial (unique per issuer)
 *   16          16    replica_id
 *   32          16    site_id
 *   48          32    sign_pk (Ed25519)
 *   80          32    noise_pk (X25519)
 *   112         32    box_pk (X25519)
 *   144         8     valid_after (unix seconds)
 *   152         8     valid_before
 *   160         8     issuer key id: first 8 bytes of BLAKE2b-256(issuer sign_pk)
 *   168         2     n = write scopes (at most 64)
 *   170         16n   write scope ids
 *   170+16n     1     name_len (at most 64)
 *   171+16n     ..    name: UTF-8, no control characters
 *   end-64      64    Ed25519 by the issuer over "SNC1-cert\0" || every byte before it
 *
 * A hub certificate without a name is 235 bytes; the largest is SYNC_CERT_MAX. The parser
 * accepts exactly one encoding per certificate (flags zero, exact length, no trailing
 * bytes), so re-encoding a parsed certificate gives back the bytes that were signed. */
#include "sync/cert.h"

#include <inttypes.h>
#include <string.h>

#include "base/hash.h"

#define CERT_MAGIC "SNC1"
#define CERT_CONTEXT "SNC1-cert"
#define CERT_VERSION 1
#define CERT_FIXED 171 /* everything up to and including name_len when n = 0 */

bool sync_cert_name_is_valid(const uint8_t *p, size_t n)
{
    if (n > SYNC_CERT_NAME_MAX)
        return false;
    for (size_t i = 0; i < n;) {
        uint8_t b = p[i];
        uint32_t cp;
        size_t len;
        if (b < 0x80) {
            cp = b;
            len = 1;
        } else if (b >= 0xC2 && b <= 0xDF) {
            cp = b & 0x1Fu;
            len = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            cp = b & 0x0Fu;
            len = 3;
        } else if (b >= 0xF0 && b <= 0xF4) {
            cp = b & 0x07u;
            len = 4;
        } else {
            return false; /* continuation byte, overlong lead C0/C1, or past U+10FFFF */
        }
        if (len > n - i)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3Fu);
        }
        /* Shortest form, no surrogates, nothing past U+10FFFF. */
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
            return false;
        i += len;
    }
    return true;
}

const char *sync_cert_type_name(uint8_t type)
{
    switch (type) {
    case SYNC_CERT_ROOT:
        return "root CA";
    case SYNC_CERT_OPERATOR:
        return "operator CA";
    case SYNC_CERT_HUB:
        return "hub";
    case SYNC_CERT_NODE:
        return "node";
    default:
        return "unknown";
    }
}

static bool type_is_known(uint8_t type)
{
    return type >= SYNC_CERT_ROOT && type <= SYNC_CERT_NODE;
}

/* Check the fields the encoding constrains; sets *name_len. SN_EINVAL saying which. */
static int cert_check(const sync_cert *c, size_t *name_len, sn_err *err)
{
    if (!type_is_known(c->type))
        return sn_err_set(err, SN_EINVAL, "certificate serial %" PRIu64 ": unknown type %u",
                          c->serial, c->type);
    if (c->flags != 0)
        return sn_err_set(err, SN_EINVAL,
                          "certificate serial %" PRIu64 ": flags 0x%04x (version 1 has none)",
                          c->serial, c->flags);
    if (c->nscopes > SYNC_CERT_SCOPES_MAX)
        return sn_err_set(err, SN_EINVAL,
                          "certificate serial %" PRIu64 ": %u write scopes (at most %d)",
                          c->serial, c->nscopes, SYNC_CERT_SCOPES_MAX);
    size_t len = strnlen(c->name, sizeof c->name);
    if (len > SYNC_CERT_NAME_MAX)
        return sn_err_set(err, SN_EINVAL,
                          "certificate serial %" PRIu64 ": name longer than %d bytes", c->serial,
                          SYNC_CERT_NAME_MAX);
    if (!sync_cert_name_is_valid((const uint8_t *)c->name, len))
        return sn_err_set(err, SN_EINVAL,
                          "certificate serial %" PRIu64
                          ": name is not valid UTF-8 or holds control characters",
                          c->serial);
    *name_len = len;
    return 0;
}

/* Write every byte before the signature into `p` (SYNC_CERT_MAX bytes); returns the
 * length. The certificate must have passed cert_check. */
static size_t cert_body(const sync_cert *c, size_t name_len, uint8_t p[static SYNC_CERT_MAX])
{
    memcpy(p, CERT_MAGIC, 4);
    p[4] = CERT_VERSION;
    p[5] = c->type;
    sn_store_u16be(p + 6, c->flags);
    sn_store_u64be(p + 8, c->serial);
    memcpy(p + 16, c->replica, 16);
    memcpy(p + 32, c->site, 16);
    memcpy(p + 48, c->sign_pk, SYNC_SIGN_PK_LEN);
    memcpy(p + 80, c->noise_pk, SYNC_X25519_LEN);
    memcpy(p + 112, c->box_pk, SYNC_X25519_LEN);
    sn_store_u64be(p + 144, c->valid_after);
    sn_store_u64be(p + 152, c->valid_before);
    memcpy(p + 160, c->issuer_kid, SYNC_KID_LEN);
    sn_store_u16be(p + 168, c->nscopes);
    size_t off = 170;
    for (size_t i = 0; i < c->nscopes; i++, off += 16)
        memcpy(p + off, c->scopes[i], 16);
    p[off++] = (uint8_t)name_len;
    memcpy(p + off, c->name, name_len);
    return off + name_len;
}

int sync_cert_sign(sync_cert *c, const uint8_t issuer_sk[SYNC_SIGN_SK_LEN], sn_err *err)
{
    size_t name_len;
    int rc = cert_check(c, &name_len, err);
    if (rc != 0)
        return rc;
    if (c->valid_after > c->valid_before)
        return sn_err_set(err, SN_EINVAL,
                          "certificate serial %" PRIu64 ": validity reversed (valid_after %" PRIu64
                          " is later than valid_before %" PRIu64 ")",
                          c->serial, c->valid_after, c->valid_before);
    uint8_t issuer_pk[SYNC_SIGN_PK_LEN];
    sync_sign_pk_of(issuer_pk, issuer_sk);
    sync_kid(c->issuer_kid, issuer_pk);
    uint8_t body[SYNC_CERT_MAX];
    size_t n = cert_body(c, name_len, body);
    return sync_sign_checked(c->sig, CERT_CONTEXT, body, n, issuer_sk, err);
}

int sync_cert_encode(const sync_cert *c, sn_buf *out, sn_err *err)
{
    size_t name_len;
    int rc = cert_check(c, &name_len, err);
    if (rc != 0)
        return rc;
    uint8_t body[SYNC_CERT_MAX];
    size_t n = cert_body(c, name_len, body);
    memcpy(body + n, c->sig, SYNC_SIG_LEN);
    return sn_buf_append(out, body, n + SYNC_SIG_LEN, err);
}

static int corrupt(sn_err *err, const char *what, size_t off)
{
    return sn_err_set(err, SN_ECORRUPT, "certificate: %s at offset %zu", what, off);
}

int sync_cert_parse(const uint8_t *p, size_t n, sync_cert *out, sn_err *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < 4 && i < n; i++)
        if (p[i] != (uint8_t)CERT_MAGIC[i])
            return corrupt(err, "bad magic (not \"SNC1\")", 0);
    if (n < 5)
        return sn_err_set(err, SN_ECORRUPT, "certificate: truncated at %zu bytes", n);
    if (p[4] > CERT_VERSION)
        return sn_err_set(err, SN_EVERSION,
                          "certificate: version %u is newer than this build understands (%d)",
                          p[4], CERT_VERSION);
    if (p[4] != CERT_VERSION)
        return corrupt(err, "version 0", 4);
    if (n < CERT_FIXED + SYNC_SIG_LEN)
        return sn_err_set(err, SN_ECORRUPT,
                          "certificate: truncated (%zu bytes, at least %d needed)", n,
                          CERT_FIXED + SYNC_SIG_LEN);
    if (!type_is_known(p[5]))
        return corrupt(err, "unknown type", 5);
    if (sn_load_u16be(p + 6) != 0)
        return corrupt(err, "non-zero flags", 6);
    size_t nscopes = sn_load_u16be(p + 168);
    if (nscopes > SYNC_CERT_SCOPES_MAX)
        return corrupt(err, "more than 64 write scopes", 168);
    size_t name_off = 170 + 16 * nscopes; /* the name_len byte */
    if (n < name_off + 1 + SYNC_SIG_LEN)
        return sn_err_set(err, SN_ECORRUPT,
                          "certificate: truncated in the write scopes (%zu bytes, %zu scopes)",
                          n, nscopes);
    size_t name_len = p[name_off];
    if (name_len > SYNC_CERT_NAME_MAX)
        return corrupt(err, "name longer than 64 bytes", name_off);
    size_t want = name_off + 1 + name_len + SYNC_SIG_LEN;
    if (n < want)
        return sn_err_set(err, SN_ECORRUPT, "certificate: truncated (%zu bytes, %zu expected)",
                          n, want);
    if (n > want)
        return sn_err_set(err, SN_ECORRUPT,
                          "certificate: %zu trailing bytes after the signature at offset %zu",
                          n - want, want);
    if (!sync_cert_name_is_valid(p + name_off + 1, name_len))
        return corrupt(err, "name not valid UTF-8 or holds control characters", name_off + 1);

    out->type = p[5];
    out->flags = 0;
    out->serial = sn_load_u64be(p + 8);
    memcpy(out->replica, p + 16, 16);
    memcpy(out->site, p + 32, 16);
    memcpy(out->sign_pk, p + 48, SYNC_SIGN_PK_LEN);
    memcpy(out->noise_pk, p + 80, SYNC_X25519_LEN);
    memcpy(out->box_pk, p + 112, SYNC_X25519_LEN);
    out->valid_after = sn_load_u64be(p + 144);
    out->valid_before = sn_load_u64be(p + 152);
    memcpy(out->issuer_kid, p + 160, SYNC_KID_LEN);
    out->nscopes = (uint16_t)nscopes;
    for (size_t i = 0; i < nscopes; i++)
        memcpy(out->scopes[i], p + 170 + 16 * i, 16);
    memcpy(out->name, p + name_off + 1, name_len);
    out->name[name_len] = '\0';
    memcpy(out->sig, p + n - SYNC_SIG_LEN, SYNC_SIG_LEN);
    return 0;
}

void sync_cert_cache_clear(sync_cert_cache *cache)
{
    cache->n = 0;
    cache->next = 0;
}

/* The cache key of signed bytes `body` (n) under issuer_pk with signature sig. */
static void cache_key(uint8_t out[32], const uint8_t issuer_pk[SYNC_SIGN_PK_LEN],
                      const uint8_t *body, size_t n, const uint8_t sig[SYNC_SIG_LEN])
{
    sn_blake2b_state h;
    sn_blake2b_init(&h, 32);
    sn_blake2b_update(&h, issuer_pk, SYNC_SIGN_PK_LEN);
    sn_blake2b_update(&h, body, n);
    sn_blake2b_update(&h, sig, SYNC_SIG_LEN);
    sn_blake2b_final(&h, out, 32);
}

static bool cache_has(const sync_cert_cache *cache, const uint8_t key[32])
{
    for (size_t i = 0; i < cache->n; i++)
        if (memcmp(cache->digest[i], key, 32) == 0)
            return true;
    return false;
}

static void cache_add(sync_cert_cache *cache, const uint8_t key[32])
{
    if (cache->n < SYNC_CERT_CACHE_N) {
        memcpy(cache->digest[cache->n++], key, 32);
    } else {
        memcpy(cache->digest[cache->next], key, 32);
        cache->next = (cache->next + 1) % SYNC_CERT_CACHE_N;
    }
}

int sync_cert_verify(const sync_cert *c, const uint8_t issuer_pk[SYNC_SIGN_PK_LEN],
                     uint64_t now_s, sn_err *err)
{
    return sync_cert_verify_cached(c, issuer_pk, now_s, NULL, err);
}

int sync_cert_verify_cached(const sync_cert *c, const uint8_t issuer_pk[SYNC_SIGN_PK_LEN],
                            uint64_t now_s, sync_cert_cache *cache, sn_err *err)
{
    size_t name_len;
    int rc = cert_check(c, &name_len, err);
    if (rc != 0)
        return rc;
    const char *type = sync_cert_type_name(c->type);
    uint8_t kid[SYNC_KID_LEN];
    sync_kid(kid, issuer_pk);
    if (memcmp(kid, c->issuer_kid, SYNC_KID_LEN) != 0)
        return sn_err_set(err, SN_EAUTH,
                          "%s certificate serial %" PRIu64 " ('%s'): issued by another key "
                          "(its issuer key id does not match the expected issuer)",
                          type, c->serial, c->name);
    uint8_t body[SYNC_CERT_MAX], key[32];
    size_t n = cert_body(c, name_len, body);
    bool hit = false;
    if (cache != NULL) {
        cache_key(key, issuer_pk, body, n, c->sig);
        hit = cache_has(cache, key);
    }
    rc = hit ? 0 : sync_verify_checked(c->sig, CERT_CONTEXT, body, n, issuer_pk, err);
    if (rc == 0 && cache != NULL && !hit)
        cache_add(cache, key);
    if (rc == SN_EAUTH)
        return sn_err_set(err, SN_EAUTH,
                          "%s certificate serial %" PRIu64
                          " ('%s'): bad signature (does not verify against the issuer key)",
                          type, c->serial, c->name);
    if (rc != 0)
        return rc;
    if (now_s != 0 && now_s < c->valid_after)
        return sn_err_set(err, SN_EAUTH,
                          "%s certificate serial %" PRIu64
                          " ('%s'): not yet valid (valid from %" PRIu64 ", now %" PRIu64 ")",
                          type, c->serial, c->name, c->valid_after, now_s);
    if (now_s != 0 && now_s >= c->valid_before)
        return sn_err_set(err, SN_EAUTH,
                          "%s certificate serial %" PRIu64
                          " ('%s'): expired (valid until %" PRIu64 ", now %" PRIu64 ")",
                          type, c->serial, c->name, c->valid_before, now_s);
    return 0;
}

bool sync_cert_has_scope(const sync_cert *c, const uint8_t scope[16])
{
    size_t n = c->nscopes <= SYNC_CERT_SCOPES_MAX ? c->nscopes : SYNC_CERT_SCOPES_MAX;
    for (size_t i = 0; i < n; i++)
        if (memcmp(c->scopes[i], scope, 16) == 0)
            return true;
    return false;
}
