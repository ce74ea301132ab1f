/* fuzz/gen_seeds.c - writes the seed inputs of every fuzz target, made by the real
 * encoders with the harness's fixed keys, as DIR/<target>/seed-<name> (`make fuzz-seeds`
 * runs it on tests/fuzz). The store-made seeds (commit bodies, units, log and vector
 * files) come from fuzz/gen_seeds_store.c, those of proofs and bundles from
 * fuzz/gen_seeds_bundle.c. Random parts (stream headers, store ids, file keys) differ
 * from run to run; every seed is valid however. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz_common.h"
#include "fuzz/gen_seeds.h"
#include "sync/crl.h"
#include "sync/enroll.h"
#include "sync/frame.h"
#include "sync/wire.h"

static const char *g_out;

void seed_begin(seed *s, unsigned mode)
{
    sn_buf_init(&s->b, (size_t)1 << 24);
    uint8_t m = (uint8_t)mode;
    if (mode != SEED_NO_MODE)
        seed_put(s, &m, 1);
}

void seed_put(seed *s, const void *p, size_t n)
{
    sn_err err = SN_ERR_INIT;
    if (n > 0 && sn_buf_append(&s->b, p, n, &err) != 0)
        fuzz_fail("building a seed: %s", err.msg);
}

void seed_piece(seed *s, const void *p, size_t n)
{
    sn_err err = SN_ERR_INIT;
    if (fuzz_put_piece(&s->b, p, n, &err) != 0)
        fuzz_fail("building a seed: %s", err.msg);
}

void seed_u16(seed *s, uint16_t v)
{
    uint8_t b[2];
    sn_store_u16be(b, v);
    seed_put(s, b, 2);
}

void seed_save(seed *s, const char *target, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", g_out, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/seed-%s", g_out, target, name);
    fuzz_write_file(path, s->b.data, s->b.len);
    sn_buf_free(&s->b);
}

sn_buf seed_cert_bytes(const sync_cert *c)
{
    sn_buf b;
    sn_buf_init(&b, SYNC_CERT_MAX);
    sn_err err = SN_ERR_INIT;
    if (sync_cert_encode(c, &b, &err) != 0)
        fuzz_fail("encoding a certificate: %s", err.msg);
    return b;
}

/* ---- frames: a stream under the fixed key, and the records of the sealed mode ---- */

static void seeds_frame(void)
{
    sync_tx tx;
    uint8_t header[SYNC_STREAM_HEADER_LEN], body[300];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (uint8_t)i;
    sn_err err = SN_ERR_INIT;
    sn_buf wire;
    sn_buf_init(&wire, (size_t)1 << 20);
    int rc = sync_tx_init(&tx, fuzz_keys()->stream_key, header, &err);
    if (rc == 0)
        rc = sn_buf_append(&wire, header, sizeof header, &err);
    if (rc == 0)
        rc = sync_tx_message(&tx, SYNC_MSG_PING, NULL, 0, 0, &wire, &err);
    if (rc == 0)
        rc = sync_tx_message(&tx, SYNC_MSG_UNIT, body, sizeof body, 64, &wire, &err);
    if (rc == 0)
        rc = sync_tx_final(&tx, SYNC_MSG_GOODBYE, (const uint8_t *)"\0done", 5, &wire, &err);
    if (rc != 0)
        fuzz_fail("sending the frame seed: %s", err.msg);
    sync_tx_wipe(&tx);
    static const uint8_t splits[] = {0, 7, 200};
    for (size_t i = 0; i < sizeof splits; i++) {
        seed s;
        seed_begin(&s, 0);
        seed_put(&s, &splits[i], 1);
        seed_put(&s, wire.data, wire.len);
        char name[32];
        snprintf(name, sizeof name, "raw-split%u", splits[i]);
        seed_save(&s, "frame", name);
    }
    sn_buf_free(&wire);
    /* Sealed: PING; a message in two chunks; a final GOODBYE. */
    seed s;
    seed_begin(&s, 1);
    seed_put(&s, "\x05", 1);
    seed_put(&s, "\x01", 1);
    seed_piece(&s, "\x05", 1);
    seed_put(&s, "\x00", 1);
    seed_piece(&s, "\x02part", 5);
    seed_put(&s, "\x01", 1);
    seed_piece(&s, " two", 4);
    seed_put(&s, "\x03", 1);
    seed_piece(&s, "\x7f\x00", 2);
    seed_save(&s, "frame", "sealed");
}

/* ---- the handshake: one genuine transcript with the fixed keys ---- */

static void seeds_noise(void)
{
    static uint8_t m[3][SYNC_NOISE_MSG_MAX], pl[SYNC_NOISE_MSG_MAX];
    size_t len[3], plen;
    sn_buf payload;
    sn_buf_init(&payload, SYNC_NOISE_MSG_MAX);
    sn_err err = SN_ERR_INIT;
    if (fuzz_hs_payload(&payload, &err) != 0)
        fuzz_fail("the handshake payload: %s", err.msg);
    sync_noise i, r;
    fuzz_noise_start(&i, true);
    fuzz_noise_start(&r, false);
    len[0] = fuzz_noise_write(&i, NULL, 0, m[0]);
    if (fuzz_noise_read(&r, m[0], len[0], pl, &plen) != 0)
        fuzz_fail("message 1 of the seed transcript");
    len[1] = fuzz_noise_write(&r, payload.data, payload.len, m[1]);
    if (fuzz_noise_read(&i, m[1], len[1], pl, &plen) != 0)
        fuzz_fail("message 2 of the seed transcript");
    len[2] = fuzz_noise_write(&i, payload.data, payload.len, m[2]);
    if (fuzz_noise_read(&r, m[2], len[2], pl, &plen) != 0)
        fuzz_fail("message 3 of the seed transcript");
    fuzz_noise_finish(&i, &r);
    seed s;
    seed_begin(&s, 0);
    seed_piece(&s, m[0], len[0]);
    seed_piece(&s, m[2], len[2]);
    seed_save(&s, "noise_responder", "raw");
    seed_begin(&s, 1);
    seed_piece(&s, NULL, 0);
    seed_piece(&s, payload.data, payload.len);
    seed_u16(&s, 0);
    seed_save(&s, "noise_responder", "sealed");
    seed_begin(&s, 0);
    seed_piece(&s, m[1], len[1]);
    seed_save(&s, "noise_initiator", "raw");
    seed_begin(&s, 1);
    seed_piece(&s, payload.data, payload.len);
    seed_u16(&s, 0);
    seed_save(&s, "noise_initiator", "sealed");
    seed_begin(&s, 0); /* a type the wire target has no parser for: a payload */
    seed_put(&s, payload.data, payload.len);
    seed_save(&s, "wire", "hs-payload");
    sn_buf_free(&payload);
}

/* ---- certificates, enrolment requests, revocation lists ---- */

static void seeds_cert(void)
{
    const fuzz_ids *k = fuzz_keys();
    const sync_cert *certs[2] = {&k->ca_root, &k->origin_cert};
    const char *names[2] = {"root", "node"};
    for (int i = 0; i < 2; i++) {
        sn_buf b = seed_cert_bytes(certs[i]);
        seed s;
        char name[32];
        for (uint8_t mode = 0; mode < 2; mode++) {
            seed_begin(&s, mode);
            seed_put(&s, b.data, mode == 0 ? b.len : b.len - SYNC_SIG_LEN);
            snprintf(name, sizeof name, "%s-%s", names[i], mode == 0 ? "signed" : "unsigned");
            seed_save(&s, "cert", name);
        }
        sn_buf_free(&b);
    }
    sync_keys keys = {0};
    memcpy(keys.sign_pk, k->origin_pk, sizeof keys.sign_pk);
    memcpy(keys.sign_sk, k->origin_sk, sizeof keys.sign_sk);
    memcpy(keys.noise_pk, k->init_s_pk, sizeof keys.noise_pk);
    memcpy(keys.box_pk, k->resp_e_pk, sizeof keys.box_pk);
    sync_enroll_request req;
    sn_buf b;
    sn_buf_init(&b, 1024);
    sn_err err = SN_ERR_INIT;
    if (sync_enroll_request_make(&req, &keys, k->origin_cert.replica, 1, "Fuzz site é", &err) !=
            0 ||
        sync_enroll_request_encode(&req, &b, &err) != 0)
        fuzz_fail("the enrolment request seed: %s", err.msg);
    seed s;
    seed_begin(&s, 2);
    seed_put(&s, b.data, b.len);
    seed_save(&s, "cert", "enrol-request");
    sn_buf_free(&b);
}

static void seeds_crl(void)
{
    const fuzz_ids *k = fuzz_keys();
    sync_crl crl = {.number = 3, .issued_at = FUZZ_NOW_S - 60, .next_update = FUZZ_NOW_S + 600};
    sync_crl_entry e = {.serial = k->origin_cert.serial, .epoch = 1,
                        .reason = SYNC_REVOKE_LOST, .revoked_at = FUZZ_NOW_S - 120,
                        .last_good_seq = 2};
    memcpy(e.replica, k->origin_cert.replica, 16);
    sn_err err = SN_ERR_INIT;
    int rc = sync_crl_add(&crl, &e, &err);
    e.serial = 5;
    e.epoch = 2;
    e.reason = SYNC_REVOKE_SUPERSEDED;
    memset(e.replica, 0x21, 16);
    if (rc == 0)
        rc = sync_crl_add(&crl, &e, &err);
    sn_buf b;
    sn_buf_init(&b, (size_t)1 << 20);
    if (rc == 0)
        rc = sync_crl_sign(&crl, k->ca_sk, &err);
    if (rc == 0)
        rc = sync_crl_encode(&crl, &b, &err);
    if (rc != 0)
        fuzz_fail("the revocation list seed: %s", err.msg);
    seed s;
    seed_begin(&s, 0);
    seed_put(&s, b.data, b.len);
    seed_save(&s, "crl", "signed");
    seed_begin(&s, 1);
    seed_put(&s, b.data, b.len - SYNC_SIG_LEN);
    seed_save(&s, "crl", "unsigned");
    sn_buf_free(&b);
    sync_crl_free(&crl);
}

/* ---- control messages; the payload and HEADS seeds come with the handshake and units ---- */

static void seeds_wire(void)
{
    const fuzz_ids *k = fuzz_keys();
    sync_hello h = {.version = SYNC_WIRE_VERSION, .flags = SYNC_HELLO_FULL, .schema = 1};
    crdt_vv_init(&h.vv);
    crdt_origin o = {.epoch = 1};
    memcpy(o.replica, k->origin_cert.replica, 16);
    sn_err err = SN_ERR_INIT;
    seed s;
    seed_begin(&s, SYNC_MSG_HELLO);
    int rc = crdt_vv_raise(&h.vv, &o, 3, &err);
    o.epoch = 2;
    if (rc == 0)
        rc = crdt_vv_raise(&h.vv, &o, 1, &err);
    if (rc == 0)
        rc = sync_hello_encode(&h, &s.b, &err);
    sync_hello_free(&h);
    if (rc != 0)
        fuzz_fail("the HELLO seed: %s", err.msg);
    seed_save(&s, "wire", "hello");
    uint8_t ack[SYNC_ACK_LEN];
    sync_ack_encode(42, ack);
    seed_begin(&s, SYNC_MSG_ACK);
    seed_put(&s, ack, sizeof ack);
    seed_save(&s, "wire", "ack");
    sn_buf certs;
    sn_buf_init(&certs, 1 << 16);
    sn_buf root = seed_cert_bytes(&k->ca_root), node = seed_cert_bytes(&k->origin_cert);
    if (sync_certs_add(&certs, root.data, root.len, &err) != 0 ||
        sync_certs_add(&certs, node.data, node.len, &err) != 0)
        fuzz_fail("the CERTS seed: %s", err.msg);
    seed_begin(&s, SYNC_MSG_CERTS);
    seed_put(&s, certs.data, certs.len);
    seed_save(&s, "wire", "certs");
    sn_buf_free(&certs);
    sn_buf_free(&root);
    sn_buf_free(&node);
    seed_begin(&s, SYNC_MSG_GOODBYE);
    if (sync_bye_encode(SYNC_BYE_REFUSED, "certificate revoked", &s.b, &err) != 0)
        fuzz_fail("the GOODBYE seed: %s", err.msg);
    seed_save(&s, "wire", "goodbye");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR (writes DIR/<target>/seed-*)\n", argv[0]);
        return 2;
    }
    g_out = argv[1];
    mkdir(g_out, 0755);
    fuzz_init();
    seeds_frame();
    seeds_noise();
    seeds_cert();
    seeds_crl();
    seeds_wire();
    seeds_from_store();
    seeds_config();
    seeds_link();
    printf("  SEEDS   written to %s/<target>/seed-*\n", g_out);
    return 0;
}
