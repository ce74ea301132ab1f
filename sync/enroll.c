/* sync/enroll.c - enrolment requests and human-comparable fingerprints (SECURITY.md §1.4).
 *
 *   OFFSET  SIZE  MEANING
 *   0       4     magic "SNQ1"
 *   4       1     version (1; larger is SN_EVERSION, 0 is corrupt)
 *   5       3     reserved (0)
 *   8       16    replica_id
 *   24      4     epoch
 *   28      32    sign_pk (Ed25519)
 *   60      32    noise_pk (X25519)
 *   92      32    box_pk (X25519)
 *   124     16    nonce (random, so two requests for the same keys differ)
 *   140     1     name_len (at most 64)
 *   141     ..    name: UTF-8, no control characters (sync_cert_name_is_valid)
 *   end-64  64    Ed25519 by sign_pk over "SNQ1-request\0" || every byte before it
 *
 * The signature by the request's own key is the proof of possession: whoever made the
 * request holds the secret half of sign_pk. It does not say who that is; the person
 * comparing the fingerprint on the node's screen with the one at the CA does.
 *
 * Fingerprint: BLAKE2b-256 of the bytes, RFC 4648 base32 (A-Z 2-7) without padding, 52
 * characters, cut into groups of 7 (the last has 3), each group followed by a Luhn mod 32
 * check character computed as Syncthing does (left to right, factors 1, 2, 1, ...), groups
 * joined by '-': 7 x 8 + 4 characters plus 7 dashes = 67 characters. */
#include "sync/enroll.h"

#include <inttypes.h>
#include <string.h>

#include "base/hash.h"

#define REQ_MAGIC "SNQ1"
#define REQ_CONTEXT "SNQ1-request"
#define REQ_VERSION 1
#define REQ_FIXED 141 /* everything up to and including name_len */
#define REQ_MAX (REQ_FIXED + SYNC_CERT_NAME_MAX + SYNC_SIG_LEN)

/* Every byte before the signature into p (REQ_MAX bytes); returns the length, or 0 when
 * the name is not acceptable. */
static size_t req_body(const sync_enroll_request *r, uint8_t p[static REQ_MAX])
{
    size_t name_len = strnlen(r->name, sizeof r->name);
    if (!sync_cert_name_is_valid((const uint8_t *)r->name, name_len))
        return 0;
    memcpy(p, REQ_MAGIC, 4);
    p[4] = REQ_VERSION;
    p[5] = p[6] = p[7] = 0;
    memcpy(p + 8, r->replica, 16);
    sn_store_u32be(p + 24, r->epoch);
    memcpy(p + 28, r->sign_pk, SYNC_SIGN_PK_LEN);
    memcpy(p + 60, r->noise_pk, SYNC_X25519_LEN);
    memcpy(p + 92, r->box_pk, SYNC_X25519_LEN);
    memcpy(p + 124, r->nonce, 16);
    p[140] = (uint8_t)name_len;
    memcpy(p + REQ_FIXED, r->name, name_len);
    return REQ_FIXED + name_len;
}

static int bad_name(sn_err *err)
{
    return sn_err_set(err, SN_EINVAL,
                      "enrolment request: the name must be at most %d bytes of UTF-8 without "
                      "control characters",
                      SYNC_CERT_NAME_MAX);
}

int sync_enroll_request_make(sync_enroll_request *r, const sync_keys *keys,
                             const uint8_t replica[16], uint32_t epoch, const char *name,
                             sn_err *err)
{
    memset(r, 0, sizeof *r);
    size_t name_len = strnlen(name, SYNC_CERT_NAME_MAX + 1);
    if (!sync_cert_name_is_valid((const uint8_t *)name, name_len))
        return bad_name(err);
    uint8_t pk[SYNC_SIGN_PK_LEN];
    sync_sign_pk_of(pk, keys->sign_sk);
    if (memcmp(pk, keys->sign_pk, SYNC_SIGN_PK_LEN) != 0)
        return sn_err_set(err, SN_EINVAL,
                          "enrolment request: the signing key pair does not match itself");
    memcpy(r->replica, replica, 16);
    r->epoch = epoch;
    memcpy(r->sign_pk, keys->sign_pk, SYNC_SIGN_PK_LEN);
    memcpy(r->noise_pk, keys->noise_pk, SYNC_X25519_LEN);
    memcpy(r->box_pk, keys->box_pk, SYNC_X25519_LEN);
    sn_random_bytes(r->nonce, sizeof r->nonce);
    memcpy(r->name, name, name_len);
    r->name[name_len] = '\0';
    uint8_t body[REQ_MAX];
    size_t n = req_body(r, body);
    if (SN_NEVER(n == 0))
        return bad_name(err);
    int rc = sync_sign_checked(r->sig, REQ_CONTEXT, body, n, keys->sign_sk, err);
    if (rc != 0)
        memset(r, 0, sizeof *r);
    return rc;
}

int sync_enroll_request_encode(const sync_enroll_request *r, sn_buf *out, sn_err *err)
{
    uint8_t body[REQ_MAX];
    size_t n = req_body(r, body);
    if (n == 0)
        return bad_name(err);
    memcpy(body + n, r->sig, SYNC_SIG_LEN);
    return sn_buf_append(out, body, n + SYNC_SIG_LEN, err);
}

static int corrupt(sn_err *err, const char *what, size_t off)
{
    return sn_err_set(err, SN_ECORRUPT, "enrolment request: %s at offset %zu", what, off);
}

int sync_enroll_request_parse(const uint8_t *p, size_t n, sync_enroll_request *out,
                              sn_err *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < 4 && i < n; i++)
        if (p[i] != (uint8_t)REQ_MAGIC[i])
            return corrupt(err, "bad magic (not \"SNQ1\")", 0);
    if (n < 5)
        return sn_err_set(err, SN_ECORRUPT, "enrolment request: truncated at %zu bytes", n);
    if (p[4] > REQ_VERSION)
        return sn_err_set(err, SN_EVERSION,
                          "enrolment request: version %u is newer than this build understands "
                          "(%d)",
                          p[4], REQ_VERSION);
    if (p[4] != REQ_VERSION)
        return corrupt(err, "version 0", 4);
    if (n < REQ_FIXED + SYNC_SIG_LEN)
        return sn_err_set(err, SN_ECORRUPT,
                          "enrolment request: truncated (%zu bytes, at least %d needed)", n,
                          REQ_FIXED + SYNC_SIG_LEN);
    for (size_t i = 5; i < 8; i++)
        if (p[i] != 0)
            return corrupt(err, "non-zero reserved byte", i);
    size_t name_len = p[140];
    if (name_len > SYNC_CERT_NAME_MAX)
        return corrupt(err, "name longer than 64 bytes", 140);
    size_t want = REQ_FIXED + name_len + SYNC_SIG_LEN;
    if (n < want)
        return sn_err_set(err, SN_ECORRUPT,
                          "enrolment request: truncated (%zu bytes, %zu expected)", n, want);
    if (n > want)
        return sn_err_set(err, SN_ECORRUPT,
                          "enrolment request: %zu trailing bytes after the signature at offset "
                          "%zu",
                          n - want, want);
    if (!sync_cert_name_is_valid(p + REQ_FIXED, name_len))
        return corrupt(err, "name not valid UTF-8 or holds control characters", REQ_FIXED);

    /* Proof of possession, over the bytes as received (the strict checks above make them
     * the only encoding of what we return). */
    int rc = sync_verify_checked(p + n - SYNC_SIG_LEN, REQ_CONTEXT, p, n - SYNC_SIG_LEN,
                                 p + 28, err);
    if (rc != 0) {
        if (rc != SN_EAUTH)
            return rc;
        char hex[2 * 16 + 1];
        sn_hex(hex, p + 8, 16);
        return sn_err_set(err, SN_EAUTH,
                          "enrolment request for replica %s: proof of possession failed (not "
                          "signed by the signing key it carries)",
                          hex);
    }
    memcpy(out->replica, p + 8, 16);
    out->epoch = sn_load_u32be(p + 24);
    memcpy(out->sign_pk, p + 28, SYNC_SIGN_PK_LEN);
    memcpy(out->noise_pk, p + 60, SYNC_X25519_LEN);
    memcpy(out->box_pk, p + 92, SYNC_X25519_LEN);
    memcpy(out->nonce, p + 124, 16);
    memcpy(out->name, p + REQ_FIXED, name_len);
    out->name[name_len] = '\0';
    memcpy(out->sig, p + n - SYNC_SIG_LEN, SYNC_SIG_LEN);
    return 0;
}

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* Luhn mod 32 over base32 characters, Syncthing's variant: factors 1, 2, 1, ... from the
 * left; each product folded to (p / 32 + p % 32). Any one changed character changes it. */
static char luhn32(const char *s, size_t n)
{
    unsigned factor = 1, sum = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned cp = (unsigned)(strchr(b32, s[i]) - b32);
        unsigned addend = factor * cp;
        factor = factor == 2 ? 1 : 2;
        sum += addend / 32 + addend % 32;
    }
    return b32[(32 - sum % 32) % 32];
}

void sync_fingerprint(char out[SYNC_FINGERPRINT_MAX], const uint8_t *bytes, size_t n)
{
    uint8_t h[SN_BLAKE2B_256];
    sn_blake2b(h, sizeof h, bytes, n);
    /* 256 bits in 5-bit digits: 51 full digits and one with 1 bit plus 4 zero bits. */
    char digits[52];
    size_t nd = 0;
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < sizeof h; i++) {
        acc = (acc << 8 | h[i]) & 0xFFFu;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            digits[nd++] = b32[(acc >> bits) & 31u];
        }
    }
    if (bits > 0)
        digits[nd++] = b32[(acc << (5 - bits)) & 31u];
    _Static_assert(sizeof digits == 52, "BLAKE2b-256 in base32 is 52 digits");
    size_t o = 0;
    for (size_t g = 0; g < nd; g += 7) {
        size_t len = nd - g < 7 ? nd - g : 7;
        if (g > 0)
            out[o++] = '-';
        memcpy(out + o, digits + g, len);
        o += len;
        out[o++] = luhn32(digits + g, len);
    }
    out[o] = '\0';
}
