/* fuzz/fuzz_crl.c - revocation lists (sync/crl.c: sync_crl_parse, sync_crl_verify and the
 * queries the store makes of a list it holds: find, allows, watermark).
 *
 * Input: mode u8 | rest.
 *   mode even: the list as received: parse, then verify against the fixed CA;
 *   mode odd: rest is a list without its signature; the harness appends one, so every list
 *     that parses is re-signed by the fixed CA and must then verify.
 * Checks: failures say why and leave the list empty; a parsed list encodes back to exactly
 * its bytes; every entry is found for its replica, and its watermark for its own serial
 * and epoch is its last good seq. */
#include <string.h>

#include "base/alloc.h"
#include "fuzz/fuzz_common.h"
#include "sync/crl.h"

#define CRL_BYTES_MAX ((size_t)1 << 24)

static int parse(const uint8_t *p, size_t n, sync_crl *crl)
{
    sn_err err = SN_ERR_INIT;
    int rc = sync_crl_parse(p, n, crl, &err);
    fuzz_check_err(rc, &err, "sync_crl_parse");
    if (rc != 0 && (crl->n != 0 || crl->entries != NULL))
        fuzz_fail("a failed sync_crl_parse left %zu entries", crl->n);
    return rc;
}

/* A parsed list encodes to p[0..n) again and answers queries about its own entries. */
static void check_list(const sync_crl *crl, const uint8_t *p, size_t n)
{
    sn_err err = SN_ERR_INIT;
    sn_buf b;
    sn_buf_init(&b, CRL_BYTES_MAX);
    fuzz_check_encoded(sync_crl_encode(crl, &b, &err), &err, &b, p, n, "revocation list");
    for (size_t i = 0; i < crl->n && i < 64; i++) {
        const sync_crl_entry *e = &crl->entries[i];
        crdt_origin o = {.epoch = e->epoch};
        memcpy(o.replica, e->replica, sizeof o.replica);
        const sync_crl_entry *f = sync_crl_find(crl, e->replica);
        if (f == NULL || memcmp(f->replica, e->replica, 16) != 0)
            fuzz_fail("entry %zu is not found for its own replica", i);
        if (sync_crl_watermark(crl, &o, e->serial) != e->last_good_seq)
            fuzz_fail("entry %zu: its watermark is not its last good seq", i);
        (void)sync_crl_allows(crl, &o, e->last_good_seq);
    }
}

static void as_received(fuzz_in *in)
{
    const uint8_t *p = in->p;
    size_t n = in->n;
    sync_crl crl;
    if (parse(p, n, &crl) != 0)
        return;
    check_list(&crl, p, n);
    sn_err err = SN_ERR_INIT;
    fuzz_check_err(sync_crl_verify(&crl, fuzz_keys()->ca_pk, &err), &err, "sync_crl_verify");
    sync_crl_free(&crl);
}

static void signed_here(fuzz_in *in)
{
    const uint8_t *p = in->p;
    size_t n = in->n;
    uint8_t *bytes = sn_calloc(1, n + SYNC_SIG_LEN);
    if (bytes == NULL)
        fuzz_fail("out of memory");
    if (n > 0)
        memcpy(bytes, p, n);
    sync_crl crl;
    int rc = parse(bytes, n + SYNC_SIG_LEN, &crl);
    sn_free(bytes);
    if (rc != 0)
        return;
    const fuzz_ids *k = fuzz_keys();
    sn_err err = SN_ERR_INIT;
    rc = sync_crl_sign(&crl, k->ca_sk, &err);
    fuzz_check_err(rc, &err, "sync_crl_sign");
    sn_buf b;
    sn_buf_init(&b, CRL_BYTES_MAX);
    if (rc == 0 && sync_crl_encode(&crl, &b, &err) != 0)
        fuzz_fail("a list signed here does not encode: %s", err.msg);
    sync_crl_free(&crl);
    if (rc == 0) {
        if (parse(b.data, b.len, &crl) != 0)
            fuzz_fail("a list signed here does not parse");
        check_list(&crl, b.data, b.len);
        if (sync_crl_verify(&crl, k->ca_pk, &err) != 0)
            fuzz_fail("a list signed here does not verify: %s", err.msg);
        sync_crl_free(&crl);
    }
    sn_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_mode modes[] = {as_received, signed_here};
    return fuzz_run(data, size, modes, 2, "fuzz_crl");
}
