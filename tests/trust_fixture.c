/* tests/trust_fixture.c - a deployment CA for tests (see trust_fixture.h). */
#include "tests/trust_fixture.h"

#include <stdbool.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/keyfile.h"
#include "tests/node_fixture.h"
#include "node/trust.h"
#include "schema/codec.h"
#include "sync/unit.h"
#include "node/units.h"

void tca_make(tca *c, const char *name)
{
    sn_err err = SN_ERR_INIT;
    *c = (tca){.next_serial = 100};
    ck_assert_msg(sync_sign_keypair(c->pk, c->sk, &err) == 0, "%s", err.msg);
    c->root = (sync_cert){.type = SYNC_CERT_ROOT, .serial = 1, .valid_after = 1,
                          .valid_before = 4000000000u};
    memcpy(c->root.sign_pk, c->pk, sizeof c->pk);
    snprintf(c->root.name, sizeof c->root.name, "%s", name);
    ck_assert_msg(sync_cert_sign(&c->root, c->sk, &err) == 0, "%s", err.msg);
}

sync_cert tca_issue(const tca *c, const sync_enroll_request *req, uint64_t serial,
                    uint64_t after, uint64_t before)
{
    sn_err err = SN_ERR_INIT;
    sync_cert n = {.type = SYNC_CERT_NODE, .serial = serial, .valid_after = after,
                   .valid_before = before};
    memcpy(n.replica, req->replica, 16);
    memcpy(n.sign_pk, req->sign_pk, sizeof n.sign_pk);
    memcpy(n.noise_pk, req->noise_pk, sizeof n.noise_pk);
    memcpy(n.box_pk, req->box_pk, sizeof n.box_pk);
    snprintf(n.name, sizeof n.name, "%s", req->name);
    ck_assert_msg(sync_cert_sign(&n, c->sk, &err) == 0, "%s", err.msg);
    return n;
}

sync_cert tca_enroll(tca *c, node_store *st)
{
    sn_err err = SN_ERR_INIT;
    sync_enroll_request req;
    ck_assert_msg(node_trust_request(st, &req, &err) == 0, "%s", err.msg);
    sync_cert cert = tca_issue(c, &req, c->next_serial++, 1, 4000000000u);
    ck_assert_msg(node_trust_install(st, &cert, &c->root, &err) == 0, "%s", err.msg);
    return cert;
}

sync_crl tca_crl(tca *c, const sync_crl_entry *entries, size_t n)
{
    sn_err err = SN_ERR_INIT;
    sync_crl l = {.number = ++c->crl_number, .issued_at = 1, .next_update = 2};
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(sync_crl_add(&l, &entries[i], &err) == 0, "%s", err.msg);
    ck_assert_msg(sync_crl_sign(&l, c->sk, &err) == 0, "%s", err.msg);
    return l;
}

sync_crl_entry tca_entry(const sync_cert *cert, uint32_t epoch, uint64_t last_good_seq)
{
    sync_crl_entry e = {.serial = cert->serial, .epoch = epoch, .reason = SYNC_REVOKE_LOST,
                        .revoked_at = 1, .last_good_seq = last_good_seq};
    memcpy(e.replica, cert->replica, 16);
    return e;
}

sync_cert tca_enroll_hub(tca *c, node_store *st)
{
    sn_err err = SN_ERR_INIT;
    sync_enroll_request req;
    ck_assert_msg(node_trust_request(st, &req, &err) == 0, "%s", err.msg);
    sync_cert cert = tca_issue(c, &req, c->next_serial++, 1, 4000000000u);
    cert.type = SYNC_CERT_HUB;
    ck_assert_msg(sync_cert_sign(&cert, c->sk, &err) == 0, "%s", err.msg);
    ck_assert_msg(node_trust_install(st, &cert, &c->root, &err) == 0, "%s", err.msg);
    return cert;
}

static int copy_cert(void *ctx, const sync_cert *c, sn_err *err)
{
    return node_trust_cert_add(ctx, c, err);
}

void tca_certs_copy(node_store *from, node_store *to)
{
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(node_trust_cert_each(from, copy_cert, to, &err) == 0, "certificates: %s",
                  err.msg);
}

node_logfile_stats tca_carry(node_store *from, node_store *to, const char *name)
{
    sn_err err = SN_ERR_INIT;
    char path[4096];
    path_in(path, name);
    crdt_vv held;
    crdt_vv_init(&held);
    ck_assert_msg(node_store_held(to, &held, &err) == 0, "%s", err.msg);
    node_logfile_stats s;
    ck_assert_msg(node_logfile_export(from, &held, path, NULL, &err) == 0, "export: %s",
                  err.msg);
    crdt_vv_free(&held);
    ck_assert_msg(node_logfile_import(to, path, &s, &err) == 0, "import: %s", err.msg);
    return s;
}

void tca_unit_signed(const char *dir, const sync_cert *cert, const node_body *bodies, size_t n,
                     sn_buf *out)
{
    sn_err err = SN_ERR_INIT;
    const uint8_t **bp = calloc(n + 1, sizeof *bp);
    size_t *bn = calloc(n + 1, sizeof *bn);
    ck_assert(bp != NULL && bn != NULL && n > 0);
    sync_checkpoint cp = {.cert_serial = cert->serial, .seq = n, .hlc_max = 1};
    memcpy(cp.origin.replica, cert->replica, 16);
    uint8_t link[32] = {0};
    for (size_t i = 0; i < n; i++) {
        bp[i] = bodies[i].p;
        bn[i] = bodies[i].n;
        sync_chain_next(link, link, bp[i], bn[i]);
    }
    crdt_hlc hlc;
    uint32_t ver;
    uint64_t seq;
    ck_assert_msg(schema_commit_peek(bp[n - 1], bn[n - 1], &cp.origin, &seq, &hlc, &ver, &err) == 0,
                  "%s", err.msg);
    memcpy(cp.link, link, 32);
    sync_keys keys;
    ck_assert_msg(node_keyfile_load(dir, &keys, &err) == 0, "keys of %s: %s", dir, err.msg);
    sync_checkpoint_sign(&cp, keys.sign_sk);
    sync_keys_wipe(&keys);
    ck_assert_msg(sync_unit_encode(1, bp, bn, (uint32_t)n, &cp, out, &err) == 0, "%s", err.msg);
    free(bp);
    free(bn);
}

typedef struct unit_copies {
    node_body *v;
    size_t n;
} unit_copies;

static int keep_unit(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    unit_copies *u = ctx;
    node_body *v = realloc(u->v, (u->n + 1) * sizeof *v);
    uint8_t *copy = malloc(n);
    if (v == NULL || copy == NULL) {
        free(copy);
        if (v != NULL)
            u->v = v;
        return sn_err_set(err, SN_ENOMEM, "out of memory keeping a unit");
    }
    memcpy(copy, p, n);
    u->v = v;
    u->v[u->n++] = (node_body){.p = copy, .n = n};
    return 0;
}

static void send_units(node_store *from, node_store *to, bool apply)
{
    sn_err err = SN_ERR_INIT;
    crdt_vv held;
    crdt_vv_init(&held);
    unit_copies u = {0};
    tca_certs_copy(from, to);
    int rc = node_store_held(to, &held, &err);
    if (rc == 0)
        rc = node_store_export_units(from, &held, keep_unit, NULL, &u, NULL, &err);
    if (rc == 0)
        rc = node_store_import_units(to, u.v, u.n, NULL, &err);
    if (rc == 0 && apply)
        rc = node_store_apply_pending(to, NULL, &err);
    for (size_t i = 0; i < u.n; i++)
        free((void *)(uintptr_t)u.v[i].p);
    free(u.v);
    crdt_vv_free(&held);
    ck_assert_msg(rc == 0, "sending units: %s", err.msg);
}

void tca_send(node_store *from, node_store *to) { send_units(from, to, true); }

void tca_send_unapplied(node_store *from, node_store *to) { send_units(from, to, false); }
