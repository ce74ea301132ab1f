/* fuzz/fuzz_cert.c - certificates (sync/cert.c: sync_cert_parse, sync_cert_verify) and
 * enrolment requests (sync/enroll.c: sync_enroll_request_parse, which checks the proof of
 * possession), the signed blobs a node and its CA take from outside.
 *
 * Input: mode u8 | rest; mode % 3 picks:
 *   0 certificate as received: parse, then verify against the fixed CA now;
 *   1 certificate signed here: rest is a certificate without its signature; the harness
 *     appends one, so every certificate that parses is re-signed by the fixed CA and the
 *     fuzzer reaches verification's later checks (validity window, type);
 *   2 enrolment request as received, and its fingerprint.
 * Checks: failures say why; a parsed certificate or request encodes back to exactly the
 * bytes it came from (the formats have one encoding); a certificate the CA signed here
 * verifies against it. */
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "sync/enroll.h"

/* Parse p[0..n) as a certificate; on success check it encodes back to p. */
static int parse_cert(const uint8_t *p, size_t n, sync_cert *c)
{
    sn_err err = SN_ERR_INIT;
    int rc = sync_cert_parse(p, n, c, &err);
    fuzz_check_err(rc, &err, "sync_cert_parse");
    if (rc != 0)
        return rc;
    if (!sync_cert_name_is_valid((const uint8_t *)c->name, strlen(c->name)))
        fuzz_fail("a certificate with an invalid name '%s' parsed", c->name);
    sn_buf b;
    sn_buf_init(&b, SYNC_CERT_MAX);
    fuzz_check_encoded(sync_cert_encode(c, &b, &err), &err, &b, p, n, "certificate");
    return 0;
}

static void cert_as_received(fuzz_in *in)
{
    const uint8_t *p = in->p;
    size_t n = in->n;
    sync_cert c;
    if (parse_cert(p, n, &c) != 0)
        return;
    sn_err err = SN_ERR_INIT;
    fuzz_check_err(sync_cert_verify(&c, fuzz_keys()->ca_pk, FUZZ_NOW_S, &err), &err,
                   "sync_cert_verify");
    (void)sync_cert_has_scope(&c, fuzz_keys()->origin_cert.scopes[0]);
    (void)sync_cert_type_name(c.type);
}

static void cert_signed_here(fuzz_in *in)
{
    const uint8_t *p = in->p;
    size_t n = in->n;
    if (n > SYNC_CERT_MAX - SYNC_SIG_LEN)
        return;
    uint8_t bytes[SYNC_CERT_MAX] = {0};
    memcpy(bytes, p, n);
    sync_cert c;
    sn_err err = SN_ERR_INIT;
    int rc = sync_cert_parse(bytes, n + SYNC_SIG_LEN, &c, &err);
    fuzz_check_err(rc, &err, "sync_cert_parse");
    if (rc != 0)
        return;
    const fuzz_ids *k = fuzz_keys();
    rc = sync_cert_sign(&c, k->ca_sk, &err);
    fuzz_check_err(rc, &err, "sync_cert_sign");
    if (rc != 0)
        return;
    sn_buf b;
    sn_buf_init(&b, SYNC_CERT_MAX);
    if (sync_cert_encode(&c, &b, &err) != 0)
        fuzz_fail("a certificate signed here does not encode: %s", err.msg);
    sync_cert again;
    if (parse_cert(b.data, b.len, &again) != 0)
        fuzz_fail("a certificate signed here does not parse");
    sn_buf_free(&b);
    if (sync_cert_verify(&again, k->ca_pk, 0, &err) != 0)
        fuzz_fail("a certificate signed here does not verify: %s", err.msg);
    sn_err_clear(&err);
    fuzz_check_err(sync_cert_verify(&again, k->ca_pk, FUZZ_NOW_S, &err), &err,
                   "sync_cert_verify");
}

static void enroll_request(fuzz_in *in)
{
    const uint8_t *p = in->p;
    size_t n = in->n;
    char fp[SYNC_FINGERPRINT_MAX];
    sync_fingerprint(fp, p, n);
    if (strnlen(fp, sizeof fp) == sizeof fp)
        fuzz_fail("a fingerprint is not terminated");
    sync_enroll_request r;
    sn_err err = SN_ERR_INIT;
    int rc = sync_enroll_request_parse(p, n, &r, &err);
    fuzz_check_err(rc, &err, "sync_enroll_request_parse");
    if (rc != 0)
        return;
    sn_buf b;
    sn_buf_init(&b, 1024);
    fuzz_check_encoded(sync_enroll_request_encode(&r, &b, &err), &err, &b, p, n,
                       "enrolment request");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_mode modes[] = {cert_as_received, cert_signed_here, enroll_request};
    return fuzz_run(data, size, modes, 3, "fuzz_cert");
}
