/* fuzz/fuzz_common_keys.c - the harness's fixed identities (see fuzz_common.h): keys,
 * certificates, both sides of a handshake made with them, enrolled stores, the fixed
 * origin's commits and units, and units and checkpoints re-sealed with a key. */
#include "fuzz/fuzz_common.h"

#include <stdio.h>
#include <string.h>

#include "node/keyfile.h"
#include "node/trust.h"
#include "node/units.h"
#include "schema/codec.h"
#include "schema/schema.h"
#include "sync/crypto_noise.h"
#include "sync/unit.h"
#include "sync/wire.h"

/* ---- fixed identities ---- */

/* Ed25519 secret keys are seed || public key; the seeds are byte patterns and the public
 * halves were computed once from them (fuzz_init checks that each pair signs). */
static const uint8_t ca_pk_const[32] = {
    0x50, 0xd6, 0x40, 0x49, 0x5b, 0x3d, 0xed, 0x20, 0xdf, 0xfa, 0x5d, 0x71, 0xb4, 0x4f, 0x39, 0xfe,
    0x3b, 0xfc, 0x68, 0x26, 0x80, 0x0d, 0xeb, 0x07, 0x2d, 0x6b, 0x69, 0x0c, 0xf2, 0xcc, 0x4f, 0x4d,
};
static const uint8_t origin_pk_const[32] = {
    0x4f, 0x24, 0x31, 0x78, 0x66, 0x02, 0x5f, 0x79, 0xc8, 0xb3, 0x71, 0x01, 0x51, 0x95, 0x08, 0x55,
    0xa7, 0x7c, 0x59, 0x46, 0x21, 0x86, 0x6f, 0xc5, 0x9a, 0x0d, 0xa7, 0xa6, 0x35, 0xbd, 0x26, 0x3b,
};

static fuzz_ids g_ids;

static void sign_pair(uint8_t pk[32], uint8_t sk[64], uint8_t pattern, const uint8_t pub[32])
{
    for (int i = 0; i < 32; i++)
        sk[i] = (uint8_t)(pattern ^ i);
    memcpy(sk + 32, pub, 32);
    memcpy(pk, pub, 32);
    uint8_t sig[SYNC_SIG_LEN];
    sync_sign(sig, "fuzz", pk, 32, sk);
    if (!sync_verify(sig, "fuzz", pk, 32, pk))
        fuzz_fail("the fixed signing key with pattern 0x%02x does not sign", pattern);
}

static void noise_pair(uint8_t sk[32], uint8_t pk[32], uint8_t pattern)
{
    for (int i = 0; i < 32; i++)
        sk[i] = (uint8_t)(pattern + i);
    sn_err err = SN_ERR_INIT;
    if (sync_noise_pk_of(pk, sk, &err) != 0)
        fuzz_fail("fixed noise key 0x%02x: %s", pattern, err.msg);
}

static void make_ids(fuzz_ids *k)
{
    sign_pair(k->ca_pk, k->ca_sk, 0xca, ca_pk_const);
    sign_pair(k->origin_pk, k->origin_sk, 0x0e, origin_pk_const);
    noise_pair(k->init_s_sk, k->init_s_pk, 0x10);
    noise_pair(k->init_e_sk, k->init_e_pk, 0x30);
    noise_pair(k->resp_s_sk, k->resp_s_pk, 0x50);
    noise_pair(k->resp_e_sk, k->resp_e_pk, 0x70);
    noise_pair(k->store_box_sk, k->store_box_pk, 0x90);
    for (int i = 0; i < 32; i++)
        k->stream_key[i] = (uint8_t)(0xf0 - i);

    sn_err err = SN_ERR_INIT;
    k->ca_root = (sync_cert){.type = SYNC_CERT_ROOT, .serial = 1, .valid_after = 1,
                             .valid_before = 4000000000u};
    memcpy(k->ca_root.sign_pk, k->ca_pk, 32);
    snprintf(k->ca_root.name, sizeof k->ca_root.name, "%s", "Fuzz CA");
    sync_cert *o = &k->origin_cert;
    *o = (sync_cert){.type = SYNC_CERT_NODE, .serial = 100, .valid_after = 1,
                     .valid_before = 4000000000u, .nscopes = 1};
    memset(o->replica, 0x0e, sizeof o->replica);
    memset(o->site, 0x5e, sizeof o->site);
    memset(o->scopes[0], 0x5c, sizeof o->scopes[0]);
    memcpy(o->sign_pk, k->origin_pk, 32);
    memcpy(o->noise_pk, k->init_s_pk, 32);
    memcpy(o->box_pk, k->resp_e_pk, 32);
    snprintf(o->name, sizeof o->name, "%s", "Fuzz origin");
    if (sync_cert_sign(&k->ca_root, k->ca_sk, &err) != 0 || sync_cert_sign(o, k->ca_sk, &err) != 0)
        fuzz_fail("signing the fixed certificates: %s", err.msg);
}

const fuzz_ids *fuzz_keys(void)
{
    static bool made;
    fuzz_init();
    if (!made) {
        made = true;
        make_ids(&g_ids);
    }
    return &g_ids;
}

void fuzz_noise_start(sync_noise *hs, bool initiator)
{
    static const char prologue[] = SYNC_WIRE_PROLOGUE;
    const fuzz_ids *k = fuzz_keys();
    sync_noise_init(hs, initiator, (const uint8_t *)prologue, sizeof prologue - 1,
                    initiator ? k->init_s_sk : k->resp_s_sk,
                    initiator ? k->init_s_pk : k->resp_s_pk);
    sync_noise_fix_ephemeral(hs, initiator ? k->init_e_sk : k->resp_e_sk,
                             initiator ? k->init_e_pk : k->resp_e_pk);
}

size_t fuzz_noise_write(sync_noise *hs, const uint8_t *p, size_t n, uint8_t *out)
{
    sn_err err = SN_ERR_INIT;
    size_t len = 0;
    if (sync_noise_write(hs, p, n, out, SYNC_NOISE_MSG_MAX, &len, &err) != 0)
        fuzz_fail("the harness's side failed to write message %u: %s", hs->msgs + 1, err.msg);
    return len;
}

size_t fuzz_noise_write_payload(sync_noise *hs, uint8_t *out)
{
    sn_buf pl;
    sn_buf_init(&pl, SYNC_NOISE_MSG_MAX);
    sn_err err = SN_ERR_INIT;
    if (fuzz_hs_payload(&pl, &err) != 0)
        fuzz_fail("building a handshake payload: %s", err.msg);
    size_t len = fuzz_noise_write(hs, pl.data, pl.len, out);
    sn_buf_free(&pl);
    return len;
}

int fuzz_noise_read(sync_noise *hs, const uint8_t *msg, size_t n, uint8_t *payload,
                    size_t *plen)
{
    sn_err err = SN_ERR_INIT;
    *plen = 0;
    int rc = sync_noise_read(hs, msg, n, payload, SYNC_NOISE_MSG_MAX, plen, &err);
    fuzz_check_err(rc, &err, "sync_noise_read");
    static const sync_noise dead; /* what sync_noise_wipe leaves: all zero bytes */
    if (rc != 0 && memcmp(hs, &dead, sizeof dead) != 0)
        fuzz_fail("a failed sync_noise_read (%s) left the handshake state standing", err.msg);
    if (rc == 0 && *plen > SYNC_NOISE_MSG_MAX)
        fuzz_fail("sync_noise_read gave a payload of %zu bytes", *plen);
    return rc;
}

void fuzz_noise_finish(sync_noise *a, sync_noise *b)
{
    uint8_t k[2][3][32];
    sn_err err = SN_ERR_INIT;
    sync_noise *side[2] = {a, b};
    for (int i = 0; i < 2 && side[i] != NULL; i++)
        if (!sync_noise_is_done(side[i]) ||
            sync_noise_split(side[i], k[i][0], k[i][1], k[i][2], &err) != 0)
            fuzz_fail("a completed handshake does not split: %s", err.msg);
    if (b != NULL) {
        fuzz_check_same(k[0][0], 96, k[1][0], 96, "the two sides' transport keys and hash");
        for (int i = 0; i < 2; i++) {
            const uint8_t *rs = sync_noise_remote_static(side[i]);
            const fuzz_ids *ids = fuzz_keys();
            if (rs == NULL || memcmp(rs, side[i]->initiator ? ids->resp_s_pk : ids->init_s_pk,
                                     32) != 0)
                fuzz_fail("a side does not hold its peer's static key after the split");
        }
    }
    sync_noise_wipe(a);
    sync_noise_wipe(b);
}

int fuzz_hs_payload(sn_buf *out, sn_err *err)
{
    sn_buf cert;
    sn_buf_init(&cert, SYNC_CERT_MAX);
    int rc = sync_cert_encode(&fuzz_keys()->origin_cert, &cert, err);
    if (rc == 0) {
        sync_hs_payload p = {.cert = cert.data, .cert_len = cert.len,
                             .time_ms = FUZZ_NOW_S * 1000u, .crl_number = 3};
        rc = sync_hs_payload_encode(&p, out, err);
    }
    sn_buf_free(&cert);
    return rc;
}

void fuzz_take_hs_payload(const uint8_t *p, size_t n)
{
    sn_err err = SN_ERR_INIT;
    sync_hs_payload pl;
    sync_cert c;
    int rc = sync_hs_payload_parse(p, n, &pl, &err);
    fuzz_check_err(rc, &err, "sync_hs_payload_parse");
    if (rc == 0) {
        rc = sync_cert_parse(pl.cert, pl.cert_len, &c, &err);
        fuzz_check_err(rc, &err, "sync_cert_parse (handshake payload)");
    }
    if (rc == 0) {
        rc = sync_cert_verify(&c, fuzz_keys()->ca_pk, FUZZ_NOW_S, &err);
        fuzz_check_err(rc, &err, "sync_cert_verify (handshake payload)");
    }
}

static uint64_t fixed_now(void *ctx)
{
    (void)ctx;
    return FUZZ_NOW_S * 1000u;
}

/* Replace the bundle key pair in the key file of the store in `dir` with the fixed one. */
static int fix_box_keys(const char *dir, sn_err *err)
{
    sync_keys keys;
    int rc = node_keyfile_load(dir, &keys, err);
    if (rc != 0)
        return rc;
    memcpy(keys.box_sk, fuzz_keys()->store_box_sk, sizeof keys.box_sk);
    memcpy(keys.box_pk, fuzz_keys()->store_box_pk, sizeof keys.box_pk);
    node_keyfile_remove(dir);
    rc = node_keyfile_save(dir, &keys, err);
    sync_keys_wipe(&keys);
    return rc;
}

node_store *fuzz_store_new(const char *dir, const char *state_dir, uint64_t serial)
{
    node_open_opts o = {.now_ms = fixed_now, .durability = NODE_FAST, .state_dir = state_dir,
                        .machine_id = "fuzz"};
    const fuzz_ids *k = fuzz_keys();
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    sync_enroll_request req;
    int rc = node_store_create(dir, "fuzz", &o, &err);
    if (rc == 0)
        rc = fix_box_keys(dir, &err);
    if (rc == 0)
        rc = node_store_open(&st, dir, &o, &err);
    if (rc == 0)
        rc = node_trust_request(st, &req, &err);
    if (rc == 0) {
        sync_cert own = {.type = SYNC_CERT_NODE, .serial = serial, .valid_after = 1,
                         .valid_before = 4000000000u};
        memcpy(own.replica, req.replica, 16);
        memcpy(own.sign_pk, req.sign_pk, sizeof own.sign_pk);
        memcpy(own.noise_pk, req.noise_pk, sizeof own.noise_pk);
        memcpy(own.box_pk, req.box_pk, sizeof own.box_pk);
        snprintf(own.name, sizeof own.name, "%s", req.name);
        rc = sync_cert_sign(&own, k->ca_sk, &err);
        if (rc == 0)
            rc = node_trust_install(st, &own, &k->ca_root, &err);
    }
    if (rc != 0)
        fuzz_fail("making an enrolled store in '%s': %s", dir, err.msg);
    return st;
}

node_store *fuzz_store_fresh(uint64_t serial)
{
    char dir[512], state[512];
    snprintf(dir, sizeof dir, "%s", fuzz_path("store"));
    snprintf(state, sizeof state, "%s", fuzz_path("state"));
    fuzz_remove_tree(dir);
    fuzz_remove_tree(state);
    return fuzz_store_new(dir, state, serial);
}

/* ---- the fixed origin's history ---- */

void fuzz_origin_commit(uint64_t seq, const char *family, sn_buf *out)
{
    const schema_table *t = schema_table_by_name("patient");
    schema_field f = {.col = schema_column_by_name(t, "family")->id,
                      .value = schema_value_text(family)};
    schema_change ch = {.op = SCHEMA_OP_INSERT, .table = t->id, .fields = &f, .nfields = 1};
    memset(ch.row, (int)(0x40 + seq), sizeof ch.row);
    char author[] = "dr-origin";
    schema_commit c = {.schema_version = SCHEMA_VERSION, .origin.epoch = 1, .seq = seq,
                       .hlc = CRDT_HLC_MAKE(FUZZ_NOW_S * 1000u - 1000u + seq, 0),
                       .author = author, .changes = &ch, .nchanges = 1};
    memcpy(c.origin.replica, fuzz_keys()->origin_cert.replica, sizeof c.origin.replica);
    sn_buf_init(out, SCHEMA_COMMIT_MAX);
    sn_err err = SN_ERR_INIT;
    if (schema_commit_encode(&c, out, &err) != 0)
        fuzz_fail("an origin commit: %s", err.msg);
}

sync_checkpoint fuzz_unit_make(const uint8_t *const *b, const size_t *lens, size_t n,
                               uint64_t serial, const uint8_t *sk, sn_buf *out)
{
    sync_checkpoint cp = {.cert_serial = serial, .seq = n};
    memset(cp.link, 0, sizeof cp.link);
    sn_err err = SN_ERR_INIT;
    for (size_t i = 0; i < n; i++) {
        sync_chain_next(cp.link, cp.link, b[i], lens[i]);
        uint64_t seq;
        crdt_hlc hlc;
        uint32_t version;
        if (schema_commit_peek(b[i], lens[i], &cp.origin, &seq, &hlc, &version, &err) != 0)
            fuzz_fail("peeking a body for a unit: %s", err.msg);
        cp.hlc_max = hlc > cp.hlc_max ? hlc : cp.hlc_max;
    }
    sync_checkpoint_sign(&cp, sk);
    if (sync_unit_encode(1, b, lens, (uint32_t)n, &cp, out, &err) != 0)
        fuzz_fail("making a unit: %s", err.msg);
    return cp;
}

sync_checkpoint fuzz_origin_unit(const char *const *families, size_t n, sn_buf *out)
{
    sn_buf bodies[8];
    const uint8_t *p[8];
    size_t lens[8];
    if (n > 8)
        fuzz_fail("a unit of %zu origin commits asked for (at most 8)", n);
    for (size_t i = 0; i < n; i++) {
        fuzz_origin_commit(i + 1, families[i], &bodies[i]);
        p[i] = bodies[i].data;
        lens[i] = bodies[i].len;
    }
    const fuzz_ids *k = fuzz_keys();
    sync_checkpoint cp = fuzz_unit_make(p, lens, n, k->origin_cert.serial, k->origin_sk, out);
    for (size_t i = 0; i < n; i++)
        sn_buf_free(&bodies[i]);
    return cp;
}

void fuzz_origin_history(sn_buf *out)
{
    static const char *const families[] = {"Smith", "Jones", "Brown", "Green"};
    (void)fuzz_origin_unit(families, 4, out);
}

void fuzz_store_take_unit(node_store *st, const uint8_t *u, size_t n)
{
    sn_err err = SN_ERR_INIT;
    node_body b = {.p = u, .n = n};
    int rc = node_trust_cert_add(st, &fuzz_keys()->origin_cert, &err);
    if (rc == 0)
        rc = node_store_import_units(st, &b, 1, NULL, &err);
    if (rc == 0)
        rc = node_store_apply_pending(st, NULL, &err);
    if (rc != 0)
        fuzz_fail("giving a store the origin's unit: %s", err.msg);
}

/* ---- re-sealing units and checkpoints ---- */

#define UNIT_CHECKPOINT_AT 20 /* a unit's checkpoint, after magic, version, first, count */

static fuzz_chain_end *chain_of(fuzz_resealer *r, const crdt_origin *o)
{
    for (size_t i = 0; i < r->n; i++)
        if (crdt_origin_equal(&r->ends[i].origin, o))
            return &r->ends[i];
    return NULL;
}

void fuzz_reseal_unit(fuzz_resealer *r, uint8_t *p, size_t n)
{
    sync_unit u;
    if (sync_unit_parse(p, n, &u, NULL) != 0)
        return;
    fuzz_chain_end *end = chain_of(r, &u.cp.origin);
    static const uint8_t zero[SYNC_LINK_LEN];
    const uint8_t *prev = u.first == 1 ? zero : end != NULL && end->seq + 1 == u.first ?
                                                end->link : NULL;
    if (prev != NULL && end == NULL && r->n < FUZZ_CHAINS_MAX) {
        end = &r->ends[r->n++];
        end->origin = u.cp.origin;
    }
    if (prev != NULL && end != NULL) {
        uint8_t link[SYNC_LINK_LEN];
        memcpy(link, prev, sizeof link);
        for (uint32_t i = 0; i < u.count; i++)
            sync_chain_next(link, link, u.bodies[i], u.lens[i]);
        memcpy(u.cp.link, link, sizeof link);
        memcpy(end->link, link, sizeof link);
        end->seq = u.cp.seq;
        sync_checkpoint_sign(&u.cp, r->sk);
        sync_checkpoint_encode(&u.cp, p + UNIT_CHECKPOINT_AT);
    }
    sync_unit_free(&u);
}

void fuzz_resign_checkpoint(fuzz_resealer *r, uint8_t *p, size_t n)
{
    sync_checkpoint cp;
    if (sync_checkpoint_parse(p, n, &cp, NULL) != 0)
        return;
    fuzz_chain_end *end = chain_of(r, &cp.origin);
    if (end != NULL && end->seq == cp.seq)
        memcpy(cp.link, end->link, sizeof cp.link);
    sync_checkpoint_sign(&cp, r->sk);
    sync_checkpoint_encode(&cp, p);
}
