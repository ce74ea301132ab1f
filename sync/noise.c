/* sync/noise.c - Noise_XX_25519_ChaChaPoly_SHA256 (Noise Protocol Framework rev 34), the one
 * handshake Outpost speaks (SECURITY.md §2). Only XX, only these primitives, no PSK, no
 * fallback and no negotiation: a new version gets a new prologue, never a downgrade.
 *
 * The pattern (§7.5), with the token each side processes in order:
 *
 *   -> e                     initiator sends its ephemeral key in the clear
 *   <- e, ee, s, es          responder: ephemeral, DH(e, re), encrypted static, DH(s, re)
 *   -> s, se                 initiator: encrypted static, DH(s, re)
 *
 * and the bytes of each message (raw Noise; the transport adds the u16be length prefix):
 *
 *   MESSAGE  OFFSET  SIZE     MEANING
 *   1        0       32       e: initiator's ephemeral X25519 public key
 *   1        32      n        payload, in the clear (no key yet: never put secrets here)
 *   2        0       32       e: responder's ephemeral public key
 *   2        32      32+16    s: responder's static public key, encrypted under the ee key
 *   2        80      n+16     payload, encrypted under the ee+es key
 *   3        0       32+16    s: initiator's static public key, encrypted
 *   3        48      n+16     payload, encrypted under the ee+es+se key
 *
 * Every encryption uses h (the running hash of everything sent so far, prologue included) as
 * associated data and then folds the ciphertext into h, so a changed byte anywhere breaks
 * every later tag (§5.2). HKDF is Noise's (§4.3) over HMAC-SHA256, because libsodium 1.0.18
 * has none. The protocol name is exactly HASHLEN (32) bytes, so it is h's first value
 * unhashed and unpadded.
 *
 * Key checks: every DH refuses a low-order peer key (libsodium returns -1, and we refuse an
 * all-zero result too), so a peer cannot force a predictable shared secret (§14 "misusing
 * public keys as secrets"). The responder's first DH with the initiator's ephemeral comes only
 * when it writes message 2, so reading message 1 checks that key at once.
 *
 * Failure is final: a read that fails for any reason wipes the whole state, so no caller can
 * retry with a tampered message against half-updated hashes. */
#include "sync/noise.h"

#include <assert.h>
#include <string.h>

#include "sync/crypto_noise.h"

#define PROTOCOL_NAME "Noise_XX_25519_ChaChaPoly_SHA256"
_Static_assert(sizeof PROTOCOL_NAME - 1 == SYNC_NOISE_HASH_LEN, "name fills h exactly");
_Static_assert(SYNC_NOISE_KEY_LEN == SYNC_NOISE_DH_LEN, "X25519 keys");
_Static_assert(SYNC_NOISE_KEY_LEN == SYNC_AEAD_KEY_LEN, "ChaChaPoly keys");
_Static_assert(SYNC_NOISE_HASH_LEN == SYNC_SHA256_LEN, "SHA-256");

#define DH SYNC_NOISE_DH_LEN
#define TAG SYNC_AEAD_TAG_LEN

enum { PHASE_DEAD = 0, PHASE_RUNNING, PHASE_DONE, PHASE_SPLIT };

static const unsigned fixed_len[3] = {SYNC_NOISE_MSG1_FIXED, SYNC_NOISE_MSG2_FIXED,
                                      SYNC_NOISE_MSG3_FIXED};
_Static_assert(SYNC_NOISE_MSG1_FIXED == DH, "e");
_Static_assert(SYNC_NOISE_MSG2_FIXED == DH + DH + TAG + TAG, "e, enc(s), tag");
_Static_assert(SYNC_NOISE_MSG3_FIXED == DH + TAG + TAG, "enc(s), tag");

/* HKDF(ck, ikm) with two outputs (§4.3): temp = HMAC(ck, ikm), out1 = HMAC(temp, 0x01),
 * out2 = HMAC(temp, out1 || 0x02). out1 may be ck itself. XX without PSK never needs the
 * three-output form. */
static void hkdf2(uint8_t out1[SYNC_NOISE_HASH_LEN], uint8_t out2[SYNC_NOISE_HASH_LEN],
                  const uint8_t ck[SYNC_NOISE_HASH_LEN], const uint8_t *ikm, size_t ikm_len)
{
    static const uint8_t one = 0x01, two = 0x02;
    uint8_t temp[SYNC_NOISE_HASH_LEN];
    sync_hmac_sha256(temp, ck, SYNC_NOISE_HASH_LEN, ikm, ikm_len, NULL, 0);
    sync_hmac_sha256(out1, temp, sizeof temp, &one, 1, NULL, 0);
    sync_hmac_sha256(out2, temp, sizeof temp, out1, SYNC_NOISE_HASH_LEN, &two, 1);
    sync_secret_wipe(temp, sizeof temp);
}

/* MixHash (§5.2): h = HASH(h || data). */
static void mix_hash(sync_noise *hs, const uint8_t *data, size_t len)
{
    sync_sha256_2(hs->h, hs->h, sizeof hs->h, data, len);
}

/* MixKey (§5.2): ck, k = HKDF(ck, ikm); n = 0. */
static void mix_key(sync_noise *hs, const uint8_t ikm[DH])
{
    hkdf2(hs->ck, hs->k, hs->ck, ikm, DH);
    hs->has_k = true;
    hs->n = 0;
}

/* MixKey(DH(sk, pk)); SN_EAUTH (no message) when pk is low-order. */
static int mix_dh(sync_noise *hs, const uint8_t sk[DH], const uint8_t pk[DH])
{
    uint8_t shared[DH];
    if (sync_noise_dh(shared, sk, pk) != 0)
        return SN_EAUTH;
    mix_key(hs, shared);
    sync_secret_wipe(shared, sizeof shared);
    return 0;
}

/* EncryptAndHash (§5.2): out = ENCRYPT(k, n++, h, pt) (or pt itself before any key), then
 * MixHash(out). Returns the bytes written: len, plus a tag once there is a key. */
static size_t encrypt_and_hash(sync_noise *hs, const uint8_t *pt, size_t len, uint8_t *out)
{
    size_t out_len = len;
    if (hs->has_k) {
        sync_aead_encrypt(out, hs->k, hs->n++, hs->h, sizeof hs->h, pt, len);
        out_len += TAG;
    } else if (len > 0) {
        memcpy(out, pt, len);
    }
    mix_hash(hs, out, out_len);
    return out_len;
}

/* DecryptAndHash (§5.2): out = DECRYPT(k, n++, h, ct), then MixHash(ct). ct must stay intact
 * (it is hashed after decrypting), so out must not overlap it. SN_EAUTH, no message, on a bad
 * tag. */
static int decrypt_and_hash(sync_noise *hs, const uint8_t *ct, size_t len, uint8_t *out)
{
    if (hs->has_k) {
        if (sync_aead_decrypt(out, hs->k, hs->n, hs->h, sizeof hs->h, ct, len) != 0)
            return SN_EAUTH;
        hs->n++;
    } else if (len > 0) {
        memcpy(out, ct, len);
    }
    mix_hash(hs, ct, len);
    return 0;
}

void sync_noise_wipe(sync_noise *hs)
{
    if (hs != NULL)
        sync_secret_wipe(hs, sizeof *hs); /* phase 0: dead */
}

void sync_noise_init(sync_noise *hs, bool initiator, const uint8_t *prologue, size_t prologue_len,
                     const uint8_t s_sk[32], const uint8_t s_pk[32])
{
    sync_noise_wipe(hs);
    if (SN_NEVER(prologue_len > SYNC_NOISE_PROLOGUE_MAX))
        return;
    /* InitializeSymmetric (§5.2): the name is exactly HASHLEN, so h = name, ck = h. */
    memcpy(hs->h, PROTOCOL_NAME, SYNC_NOISE_HASH_LEN);
    memcpy(hs->ck, hs->h, SYNC_NOISE_HASH_LEN);
    mix_hash(hs, prologue, prologue_len);
    hs->initiator = initiator;
    memcpy(hs->s_sk, s_sk, DH);
    memcpy(hs->s_pk, s_pk, DH);
    /* Generated now rather than at the first `e` token so that init is the only place
     * randomness is needed and tests can replace it before any message. */
    if (sync_noise_keypair(hs->e_sk, hs->e_pk, NULL) != 0) {
        sync_noise_wipe(hs);
        return;
    }
    hs->phase = PHASE_RUNNING;
}

void sync_noise_fix_ephemeral(sync_noise *hs, const uint8_t e_sk[32], const uint8_t e_pk[32])
{
    assert(hs->phase == PHASE_RUNNING && hs->msgs == 0);
    memcpy(hs->e_sk, e_sk, DH);
    memcpy(hs->e_pk, e_pk, DH);
}

/* 0 when the handshake can take its next message in direction `writing`; else SN_EINVAL with a
 * message. Changes nothing. */
static int check_turn(const sync_noise *hs, bool writing, sn_err *err)
{
    const char *verb = writing ? "write" : "read";
    if (hs->phase == PHASE_DEAD)
        return sn_err_set(err, SN_EINVAL, "noise: cannot %s: the handshake state is unusable "
                          "(it failed, was wiped, or was never initialised)", verb);
    if (hs->phase != PHASE_RUNNING)
        return sn_err_set(err, SN_EINVAL, "noise: cannot %s: the handshake is already complete",
                          verb);
    /* Messages 1 and 3 go initiator -> responder, message 2 the other way. */
    bool initiator_sends = hs->msgs % 2 == 0;
    if ((initiator_sends == hs->initiator) != writing)
        return sn_err_set(err, SN_EINVAL, "noise: cannot %s message %d as the %s: it is the "
                          "%s's to %s", verb, hs->msgs + 1,
                          hs->initiator ? "initiator" : "responder",
                          hs->initiator ? "responder" : "initiator", verb);
    return 0;
}

static void advance(sync_noise *hs)
{
    hs->msgs++;
    if (hs->msgs == 3)
        hs->phase = PHASE_DONE;
}

/* Wipe the state and the half-written message (nothing in it may be sent). */
static int write_fail(sync_noise *hs, uint8_t *out, size_t len, int code)
{
    sync_noise_wipe(hs);
    sync_secret_wipe(out, len);
    return code;
}

int sync_noise_write(sync_noise *hs, const uint8_t *payload, size_t n, uint8_t *out, size_t cap,
                     size_t *out_len, sn_err *err)
{
    *out_len = 0;
    int rc = check_turn(hs, true, err);
    if (rc != 0)
        return rc;
    int num = hs->msgs + 1;
    size_t fixed = fixed_len[hs->msgs];
    if (n > SYNC_NOISE_MSG_MAX - fixed)
        return sn_err_set(err, SN_ETOOBIG, "noise: a %zu-byte payload makes message %d longer "
                          "than the %d-byte Noise limit", n, num, SYNC_NOISE_MSG_MAX);
    if (fixed + n > cap)
        return sn_err_set(err, SN_EINVAL, "noise: message %d needs %zu bytes but the buffer "
                          "holds %zu", num, fixed + n, cap);
    assert(payload != NULL || n == 0);
    /* Every DH here is with the peer's ephemeral key: message 1's read already refused a
     * low-order one, and message 2's read (initiator) did so through its ee DH. */
    size_t p = 0;
    bool dh_ok = true;
    switch (hs->msgs) {
    case 0: /* -> e */
        memcpy(out, hs->e_pk, DH);
        mix_hash(hs, hs->e_pk, DH);
        p = DH;
        break;
    case 1: /* <- e, ee, s, es */
        memcpy(out, hs->e_pk, DH);
        mix_hash(hs, hs->e_pk, DH);
        p = DH;
        dh_ok = mix_dh(hs, hs->e_sk, hs->re) == 0;
        if (dh_ok) {
            p += encrypt_and_hash(hs, hs->s_pk, DH, out + p);
            dh_ok = mix_dh(hs, hs->s_sk, hs->re) == 0;
        }
        break;
    default: /* message 3 (check_turn allows no other): -> s, se */
        p = encrypt_and_hash(hs, hs->s_pk, DH, out);
        dh_ok = mix_dh(hs, hs->s_sk, hs->re) == 0;
        break;
    }
    if (!dh_ok) {
        sn_err_set(err, SN_EAUTH, "noise: peer sent a low-order ephemeral public key (found "
                   "writing message %d)", num);
        return write_fail(hs, out, fixed + n, SN_EAUTH);
    }
    p += encrypt_and_hash(hs, payload, n, out + p);
    assert(p == fixed + n);
    *out_len = p;
    advance(hs);
    return 0;
}

/* Wipe the state (and the payload written so far) and pass the code through. */
static int read_fail(sync_noise *hs, uint8_t *payload, size_t cap, int code)
{
    sync_noise_wipe(hs);
    sync_secret_wipe(payload, cap);
    return code;
}

static int auth_fail(sync_noise *hs, uint8_t *payload, size_t cap, int num, sn_err *err)
{
    sn_err_set(err, SN_EAUTH, "noise: message %d failed to authenticate", num);
    sn_err_hint(err, "the peer does not hold the keys it claims, or the link altered the data");
    return read_fail(hs, payload, cap, SN_EAUTH);
}

static int low_order(sync_noise *hs, uint8_t *payload, size_t cap, const char *which, int num,
                     sn_err *err)
{
    sn_err_set(err, SN_EAUTH, "noise: peer sent a low-order %s public key in message %d", which,
               num);
    return read_fail(hs, payload, cap, SN_EAUTH);
}

int sync_noise_read(sync_noise *hs, const uint8_t *msg, size_t n, uint8_t *payload, size_t cap,
                    size_t *payload_len, sn_err *err)
{
    *payload_len = 0;
    int rc = check_turn(hs, false, err);
    if (rc != 0)
        return read_fail(hs, payload, cap, rc);
    int num = hs->msgs + 1;
    size_t fixed = fixed_len[hs->msgs];
    if (n < fixed || n > SYNC_NOISE_MSG_MAX) {
        sn_err_set(err, SN_EPROTO, "noise: message %d is %zu bytes; it must be %zu to %d", num,
                   n, fixed, SYNC_NOISE_MSG_MAX);
        return read_fail(hs, payload, cap, SN_EPROTO);
    }
    size_t plen = n - fixed;
    if (plen > cap) {
        sn_err_set(err, SN_EPROTO, "noise: message %d carries a %zu-byte payload, more than the "
                   "%zu bytes expected", num, plen, cap);
        return read_fail(hs, payload, cap, SN_EPROTO);
    }
    assert(payload != NULL || plen == 0);
    /* DH bytes are used; the tag's room keeps DecryptAndHash's keyless branch (a plain copy of
     * DH + TAG bytes, which XX never reaches for s since ee always comes first) in bounds. */
    uint8_t rs[DH + TAG];
    size_t p = 0;
    switch (hs->msgs) {
    case 0: /* -> e */
        memcpy(hs->re, msg, DH);
        if (sync_noise_pk_check(hs->re) != 0)
            return low_order(hs, payload, cap, "ephemeral", num, err);
        mix_hash(hs, hs->re, DH);
        p = DH;
        break;
    case 1: /* <- e, ee, s, es */
        memcpy(hs->re, msg, DH);
        mix_hash(hs, hs->re, DH);
        p = DH;
        if (mix_dh(hs, hs->e_sk, hs->re) != 0)
            return low_order(hs, payload, cap, "ephemeral", num, err);
        if (decrypt_and_hash(hs, msg + p, DH + TAG, rs) != 0)
            return auth_fail(hs, payload, cap, num, err);
        p += DH + TAG;
        if (mix_dh(hs, hs->e_sk, rs) != 0)
            return low_order(hs, payload, cap, "static", num, err);
        break;
    case 2: /* -> s, se */
        if (decrypt_and_hash(hs, msg, DH + TAG, rs) != 0)
            return auth_fail(hs, payload, cap, num, err);
        p = DH + TAG;
        if (mix_dh(hs, hs->e_sk, rs) != 0)
            return low_order(hs, payload, cap, "static", num, err);
        break;
    default:
        sn_err_set(err, SN_EINVAL, "noise: corrupt handshake state");
        return read_fail(hs, payload, cap, SN_EINVAL);
    }
    size_t ct_len = n - p;
    if (decrypt_and_hash(hs, msg + p, ct_len, payload) != 0)
        return auth_fail(hs, payload, cap, num, err);
    /* The peer's static key counts only once the tag over everything after it has verified. */
    if (hs->msgs > 0) {
        memcpy(hs->rs, rs, DH);
        hs->has_rs = true;
    }
    *payload_len = plen;
    advance(hs);
    return 0;
}

bool sync_noise_is_done(const sync_noise *hs)
{
    return hs->phase == PHASE_DONE || hs->phase == PHASE_SPLIT;
}

const uint8_t *sync_noise_remote_static(const sync_noise *hs)
{
    return hs->phase != PHASE_DEAD && hs->has_rs ? hs->rs : NULL;
}

int sync_noise_split(sync_noise *hs, uint8_t k_i2r[32], uint8_t k_r2i[32],
                     uint8_t handshake_hash[32], sn_err *err)
{
    if (hs->phase != PHASE_DONE)
        return sn_err_set(err, SN_EINVAL, "noise: cannot split: %s",
                          hs->phase == PHASE_SPLIT ? "the keys were already taken"
                          : hs->phase == PHASE_RUNNING ? "the handshake is not finished"
                                                       : "the handshake state is unusable");
    /* Split (§5.2): k1, k2 = HKDF(ck, zero-length input); k1 protects initiator -> responder. */
    hkdf2(k_i2r, k_r2i, hs->ck, NULL, 0);
    memcpy(handshake_hash, hs->h, SYNC_NOISE_HASH_LEN);
    /* Keep only what is public and still useful: the peer's static key (for the certificate's
     * noise_pk check) and which side we were. */
    uint8_t rs[DH];
    memcpy(rs, hs->rs, DH);
    bool initiator = hs->initiator;
    sync_noise_wipe(hs);
    memcpy(hs->rs, rs, DH);
    hs->has_rs = true;
    hs->initiator = initiator;
    hs->msgs = 3;
    hs->phase = PHASE_SPLIT;
    return 0;
}
