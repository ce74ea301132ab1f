/* node/store_trust.c - the node's trust store (node/trust.h): the pinned CA in meta
 * 'ca_cert', this node's certificate serial in meta 'own_serial', every certificate in
 * `trust_cert`, and the highest revocation list in meta 'crl'. */
#include "node/trust.h"

#include <string.h>

#include "base/buf.h"
#include "base/hash.h"
#include "node/keyfile.h"
#include "node/store_int.h"
#include "sync/crypto.h"

int node_trust_request(node_store *st, sync_enroll_request *out, sn_err *err)
{
    sync_keys keys;
    int rc = node_keyfile_load(st->dir, &keys, err);
    if (rc == 0)
        rc = sync_enroll_request_make(out, &keys, st->self.replica, st->self.epoch, st->name,
                                      err);
    sync_keys_wipe(&keys);
    return rc;
}

/* Read and parse a certificate kept in meta under `key`. */
static int meta_cert(node_store *st, const char *key, sync_cert *out, bool *found, sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, SYNC_CERT_MAX);
    int rc = node_meta_blob_get(st, key, &b, found, err);
    if (rc == 0 && *found)
        rc = sync_cert_parse(b.data, b.len, out, err);
    sn_buf_free(&b);
    return rc;
}

static int not_enrolled(node_store *st, sn_err *err)
{
    sn_err_set(err, SN_ENOTFOUND, "node '%s' is not enrolled with a certificate authority",
               st->name);
    sn_err_hint(err, "run `outpost enroll request`, have the CA issue a certificate, then "
                     "`outpost enroll install CERT CA_CERT`");
    return SN_ENOTFOUND;
}

int node_trust_ca(node_store *st, sync_cert *out, sn_err *err)
{
    bool found;
    int rc = meta_cert(st, "ca_cert", out, &found, err);
    if (rc == 0 && !found)
        rc = not_enrolled(st, err);
    return rc;
}

/* The exact bytes of `c` into *b (the caller frees it, whatever the result), and the
 * statement `sql` with ?1 = its replica and ?2 = its serial bound (release it). */
static int cert_stmt(node_store *st, const sync_cert *c, const char *sql, const char *what,
                     sn_buf *b, sqlite3_stmt **s, sn_err *err)
{
    sn_buf_init(b, SYNC_CERT_MAX);
    int rc = sync_cert_encode(c, b, err);
    if (rc == 0) {
        int src = node_stmt_cached(st, sql, s);
        if (src != SQLITE_OK)
            rc = node_store_fail(st, src, err, "%s", what);
    }
    if (rc == 0) {
        sqlite3_bind_blob(*s, 1, c->replica, 16, SQLITE_STATIC);
        sqlite3_bind_int64(*s, 2, (int64_t)c->serial);
    }
    return rc;
}

static int cert_put(node_store *st, const sync_cert *c, sn_err *err)
{
    sn_buf b;
    sqlite3_stmt *s = NULL;
    int rc = cert_stmt(st, c, "INSERT OR IGNORE INTO trust_cert(replica, serial, type, bytes)"
                       " VALUES (?1, ?2, ?3, ?4)", "storing a certificate", &b, &s, err);
    if (rc == 0) {
        sqlite3_bind_int(s, 3, c->type);
        sqlite3_bind_blob(s, 4, b.data, (int)b.len, SQLITE_STATIC);
        rc = node_stmt_exec(st, s, err, "storing a certificate");
    }
    node_stmt_release(st, s);
    sn_buf_free(&b);
    return rc;
}

int node_trust_cert_get(node_store *st, const uint8_t replica[16], uint64_t serial,
                        sync_cert *out, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT bytes FROM trust_cert WHERE replica = ?1 AND"
                              " serial = ?2", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "reading certificates");
    sqlite3_bind_blob(s, 1, replica, 16, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (int64_t)serial);
    rc = sqlite3_step(s);
    int res;
    if (rc == SQLITE_ROW) {
        res = sync_cert_parse(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), out,
                              err);
    } else if (rc == SQLITE_DONE) {
        char hex[33];
        sn_hex(hex, replica, 16);
        res = sn_err_set(err, SN_ENOTFOUND, "no certificate %llu of replica %.8s is known here",
                         (unsigned long long)serial, hex);
    } else {
        res = node_store_fail(st, rc, err, "reading certificates");
    }
    node_stmt_release(st, s);
    return res;
}

int node_trust_own(node_store *st, sync_cert *out, sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, 8);
    bool found;
    int rc = node_meta_blob_get(st, "own_serial", &b, &found, err);
    if (rc == 0 && (!found || b.len != 8))
        rc = not_enrolled(st, err);
    if (rc == 0)
        rc = node_trust_cert_get(st, st->self.replica, sn_load_u64be(b.data), out, err);
    sn_buf_free(&b);
    return rc;
}

/* The keys in `c` must be this node's own. */
static int check_own_keys(node_store *st, const sync_cert *c, sn_err *err)
{
    sync_keys keys;
    int rc = node_keyfile_load(st->dir, &keys, err);
    if (rc != 0)
        return rc;
    if (memcmp(c->sign_pk, keys.sign_pk, sizeof keys.sign_pk) != 0 ||
        memcmp(c->noise_pk, keys.noise_pk, sizeof keys.noise_pk) != 0 ||
        memcmp(c->box_pk, keys.box_pk, sizeof keys.box_pk) != 0)
        rc = sn_err_set(err, SN_EAUTH, "the certificate's keys are not this node's keys");
    sync_keys_wipe(&keys);
    if (rc != 0)
        sn_err_hint(err, "it was issued for another request; send this node's own request "
                         "(`outpost enroll request`) to the CA");
    return rc;
}

int node_trust_install(node_store *st, const sync_cert *own, const sync_cert *root, sn_err *err)
{
    if (root->type != SYNC_CERT_ROOT)
        return sn_err_set(err, SN_EAUTH, "the CA certificate is a %s certificate, not a root",
                          sync_cert_type_name(root->type));
    int rc = sync_cert_verify(root, root->sign_pk, 0, err);
    if (rc != 0) {
        sn_err_prefix(err, "the CA certificate is not self-signed");
        return rc;
    }
    sync_cert pinned;
    bool found;
    rc = meta_cert(st, "ca_cert", &pinned, &found, err);
    if (rc != 0)
        return rc;
    if (found && memcmp(pinned.sign_pk, root->sign_pk, sizeof root->sign_pk) != 0) {
        sn_err_set(err, SN_EAUTH, "this node already trusts CA '%s'; '%s' is another CA",
                   pinned.name, root->name);
        sn_err_hint(err, "a node belongs to one deployment; ask that deployment's CA instead");
        return SN_EAUTH;
    }
    if (own->type != SYNC_CERT_NODE && own->type != SYNC_CERT_HUB)
        return sn_err_set(err, SN_EAUTH, "a %s certificate cannot be a node's own",
                          sync_cert_type_name(own->type));
    if ((rc = sync_cert_verify(own, root->sign_pk, 0, err)) != 0) {
        sn_err_prefix(err, "the certificate was not issued by CA '%s'", root->name);
        return rc;
    }
    if (memcmp(own->replica, st->self.replica, 16) != 0)
        return sn_err_set(err, SN_EAUTH, "the certificate names another replica, not this node");
    if ((rc = check_own_keys(st, own, err)) != 0)
        return rc;
    sn_buf b;
    sn_buf_init(&b, SYNC_CERT_MAX);
    uint8_t serial[8];
    sn_store_u64be(serial, own->serial);
    sync_cert_cache_clear(&st->cert_cache);
    rc = node_txn_begin(st, err);
    if (rc == 0)
        rc = sync_cert_encode(root, &b, err);
    if (rc == 0 && !found)
        rc = node_meta_blob_put(st, "ca_cert", b.data, b.len, err);
    if (rc == 0)
        rc = cert_put(st, own, err);
    if (rc == 0)
        rc = node_meta_blob_put(st, "own_serial", serial, sizeof serial, err);
    rc = node_txn_end(st, rc, err);
    sn_buf_free(&b);
    return rc;
}

int node_trust_cert_verify(node_store *st, const sync_cert *c,
                           const uint8_t issuer_pk[SYNC_SIGN_PK_LEN], uint64_t now_s, sn_err *err)
{
    return sync_cert_verify_cached(c, issuer_pk, now_s, &st->cert_cache, err);
}

/* *held: the store keeps exactly these bytes for (replica, serial) already. */
static int cert_held(node_store *st, const sync_cert *c, bool *held, sn_err *err)
{
    *held = false;
    sn_buf b;
    sqlite3_stmt *s = NULL;
    int rc = cert_stmt(st, c, "SELECT bytes FROM trust_cert WHERE replica = ?1 AND serial = ?2",
                       "reading certificates", &b, &s, err);
    if (rc == 0) {
        int src = sqlite3_step(s);
        *held = src == SQLITE_ROW && (size_t)sqlite3_column_bytes(s, 0) == b.len &&
                memcmp(sqlite3_column_blob(s, 0), b.data, b.len) == 0;
        if (src != SQLITE_ROW && src != SQLITE_DONE)
            rc = node_store_fail(st, src, err, "reading certificates");
    }
    node_stmt_release(st, s);
    sn_buf_free(&b);
    return rc;
}

int node_trust_cert_add(node_store *st, const sync_cert *c, sn_err *err)
{
    /* Held byte for byte: it was verified before it was stored, and storing it again
     * would change nothing. */
    bool held;
    int rc = cert_held(st, c, &held, err);
    if (rc != 0 || held)
        return rc;
    sync_cert ca;
    rc = node_trust_ca(st, &ca, err);
    if (rc == 0 && (rc = node_trust_cert_verify(st, c, ca.sign_pk, 0, err)) != 0)
        sn_err_prefix(err, "certificate '%s' (serial %llu) is not from this deployment's CA",
                      c->name, (unsigned long long)c->serial);
    if (rc == 0)
        rc = cert_put(st, c, err);
    return rc;
}

int node_trust_crl(node_store *st, sync_crl *out, sn_err *err)
{
    *out = (sync_crl){0};
    sn_buf b;
    sn_buf_init(&b, 64u << 20);
    bool found;
    int rc = node_meta_blob_get(st, "crl", &b, &found, err);
    if (rc == 0 && found)
        rc = sync_crl_parse(b.data, b.len, out, err);
    sn_buf_free(&b);
    return rc;
}

int node_trust_crl_offer(node_store *st, const sync_crl *crl, bool *taken, sn_err *err)
{
    *taken = false;
    sync_cert ca;
    int rc = node_trust_ca(st, &ca, err);
    if (rc == 0)
        rc = sync_crl_verify(crl, ca.sign_pk, err); /* its messages name the list */
    sync_crl held;
    if (rc == 0)
        rc = node_trust_crl(st, &held, err);
    uint64_t have = rc == 0 ? held.number : 0;
    if (rc == 0)
        sync_crl_free(&held);
    if (rc != 0 || crl->number <= have)
        return rc; /* never go back to an older list */
    sn_buf b;
    sn_buf_init(&b, 64u << 20);
    rc = sync_crl_encode(crl, &b, err);
    if (rc == 0)
        rc = node_txn_begin(st, err);
    if (rc == 0) {
        rc = node_meta_blob_put(st, "crl", b.data, b.len, err);
        if (rc == 0) /* quarantine what the list cuts off, even if applied already */
            rc = node_bounds_refresh(st, NULL, 0, err);
        rc = node_txn_end(st, rc, err);
        /* Nothing verified before a new list is trusted from here on without checking. */
        sync_cert_cache_clear(&st->cert_cache);
    }
    sn_buf_free(&b);
    *taken = rc == 0;
    return rc;
}
