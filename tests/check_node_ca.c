/* tests/check_node_ca.c - the certificate authority directory (node/ca.h): init, issue,
 * revoke and list round trips, certificates that chain on a node, requests and options
 * refused, damaged or exposed pieces reported clearly, and failures (refusals, short
 * writes, failed syncs, out of memory) that leave the directory byte for byte as it was. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "node/ca.h"
#include "node/fileio.h"
#include "node/trust.h"
#include "tests/node_fixture.h"
#include "tests/support.h"

#define NOW UINT64_C(1700000000)
#define DAY UINT64_C(86400)

/* A fresh, unique CA directory path under g_dir (tests of one case share g_dir). */
static void ca_path_new(char dir[4096], const char *name)
{
    static int serial;
    char sub[64];
    snprintf(sub, sizeof sub, "ca-%s-%d-%d", name, (int)getpid(), serial++);
    path_in(dir, sub);
}

/* A new CA named `name` in a fresh directory (to dir), opened. */
static node_ca *ca_new(char dir[4096], const char *name)
{
    sn_err err = SN_ERR_INIT;
    ca_path_new(dir, "x");
    CK_OK(node_ca_init(dir, name, NODE_CA_ROOT_DAYS_DEFAULT, NOW, &err));
    node_ca *ca = NULL;
    CK_OK(node_ca_open(&ca, dir, &err));
    return ca;
}

static node_ca *ca_reopen(const char *dir)
{
    sn_err err = SN_ERR_INIT;
    node_ca *ca = NULL;
    CK_OK(node_ca_open(&ca, dir, &err));
    return ca;
}

/* The encoded enrolment request of st, into b (initialised here; the caller frees it). */
static void request_of(node_store *st, sn_buf *b)
{
    sn_err err = SN_ERR_INIT;
    sync_enroll_request r;
    sn_buf_init(b, 4096);
    CK_OK(node_trust_request(st, &r, &err));
    CK_OK(sync_enroll_request_encode(&r, b, &err));
}

/* Issue for st with options o (NULL: defaults); the certificate. */
static sync_cert issue_for(node_ca *ca, node_store *st, const node_ca_issue_opts *o)
{
    sn_err err = SN_ERR_INIT;
    node_ca_issue_opts none = {0};
    sn_buf req, bytes;
    request_of(st, &req);
    sn_buf_init(&bytes, SYNC_CERT_MAX);
    sync_cert c;
    CK_OK(node_ca_issue(ca, req.data, req.len, o != NULL ? o : &none, NOW, &c, &bytes, &err));
    sync_cert parsed;
    CK_OK(sync_cert_parse(bytes.data, bytes.len, &parsed, &err));
    ck_assert_uint_eq(parsed.serial, c.serial);
    sn_buf_free(&req);
    sn_buf_free(&bytes);
    return c;
}

static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    sn_err err = SN_ERR_INIT;
    CK_OK(node_file_write_atomic(path, p, n, &err));
}

static void remove_file(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert_msg(unlink(path) == 0, "unlink %s", path);
}

/* ---- directory snapshots ---------------------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Append "name mode size blake2b\n" for every entry of dir/sub (recursing) to `out`. */
static void snap_walk(const char *dir, const char *sub, sn_buf *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", dir, sub[0] != '\0' ? "/" : "", sub);
    DIR *d = opendir(path);
    ck_assert_msg(d != NULL, "opendir %s", path);
    char(*names)[256] = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap == 0 ? 64 : 2 * cap;
            names = sn_realloc(names, cap * sizeof *names);
            ck_assert(names != NULL);
        }
        snprintf(names[n++], 256, "%s", de->d_name);
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof names[0], name_cmp);
    sn_err err = SN_ERR_INIT;
    for (size_t i = 0; i < n; i++) {
        char rel[1024], full[4096];
        snprintf(rel, sizeof rel, "%s%s%s", sub, sub[0] != '\0' ? "/" : "", names[i]);
        snprintf(full, sizeof full, "%s/%s", dir, rel);
        struct stat sb;
        ck_assert(lstat(full, &sb) == 0);
        if (S_ISDIR(sb.st_mode)) {
            CK_OK(sn_buf_appendf(out, &err, "%s/ %o\n", rel, (unsigned)(sb.st_mode & 0777)));
            snap_walk(dir, rel, out);
            continue;
        }
        sn_buf f;
        CK_OK(node_file_read(full, 1u << 20, &f, &err));
        uint8_t h[32];
        char hex[65];
        sn_blake2b(h, sizeof h, f.data, f.len);
        sn_hex(hex, h, sizeof h);
        CK_OK(sn_buf_appendf(out, &err, "%s %o %zu %s\n", rel, (unsigned)(sb.st_mode & 0777),
                             f.len, hex));
        sn_buf_free(&f);
    }
    sn_free(names);
}

/* Everything in dir, as text (the caller frees it with sn_buf_free). */
static sn_buf dir_snap(const char *dir)
{
    sn_buf b;
    sn_buf_init(&b, 1u << 20);
    snap_walk(dir, "", &b);
    sn_err err = SN_ERR_INIT;
    CK_OK(sn_buf_append(&b, "", 1, &err));
    return b;
}

static void snap_same(const char *dir, sn_buf *before, const char *what)
{
    sn_buf now = dir_snap(dir);
    ck_assert_msg(strcmp((char *)before->data, (char *)now.data) == 0,
                  "%s changed the CA directory:\nbefore:\n%s\nafter:\n%s", what,
                  (char *)before->data, (char *)now.data);
    sn_buf_free(&now);
}

/* ---- init and open ---------------------------------------------------------------------- */

START_TEST(test_ca_init_writes_a_root_key_list_and_state)
{
    sn_err err = SN_ERR_INIT;
    char dir[4096];
    node_ca *ca = ca_new(dir, "Fleet Medical CA");
    const sync_cert *root = node_ca_root(ca);
    ck_assert_uint_eq(root->type, SYNC_CERT_ROOT);
    ck_assert_uint_eq(root->serial, NODE_CA_ROOT_SERIAL);
    ck_assert_str_eq(root->name, "Fleet Medical CA");
    CK_OK(sync_cert_verify(root, root->sign_pk, NOW, &err));
    ck_assert_uint_eq(root->valid_before, NOW + NODE_CA_ROOT_DAYS_DEFAULT * DAY);
    ck_assert_uint_eq(node_ca_crl(ca)->number, 1);
    ck_assert_uint_eq(node_ca_crl(ca)->n, 0);
    CK_OK(sync_crl_verify(node_ca_crl(ca), root->sign_pk, &err));
    ck_assert_uint_eq(node_ca_next_serial(ca), NODE_CA_ROOT_SERIAL + 1);
    char fp[SYNC_FINGERPRINT_MAX];
    node_ca_fingerprint(ca, fp);
    ck_assert_uint_eq(strlen(fp), 67);

    char path[8192];
    struct stat sb;
    snprintf(path, sizeof path, "%s/ca.key", dir);
    ck_assert(stat(path, &sb) == 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/issued", dir);
    ck_assert(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode));

    node_ca_item *v;
    size_t n;
    CK_OK(node_ca_list(ca, &v, &n, &err));
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(v);
    node_ca_close(ca);

    /* An existing CA is refused and left alone; an existing empty directory is used. */
    sn_buf before = dir_snap(dir);
    CK_FAILS(node_ca_init(dir, "Again", 10, NOW, &err), SN_EINVAL);
    ck_assert(strstr(err.msg, "not empty") != NULL && err.hint[0] != '\0');
    snap_same(dir, &before, "init over an existing CA");
    sn_buf_free(&before);
    char empty[4096];
    ca_path_new(empty, "empty");
    ck_assert(mkdir(empty, 0700) == 0);
    CK_OK(node_ca_init(empty, "Second", 10, NOW, &err));
    ca = ca_reopen(empty);
    ck_assert_str_eq(node_ca_root(ca)->name, "Second");
    node_ca_close(ca);

    /* Bad names and validities make nothing. */
    char bad[4096];
    ca_path_new(bad, "bad");
    CK_FAILS(node_ca_init(bad, "", 10, NOW, &err), SN_EINVAL);
    CK_FAILS(node_ca_init(bad, "tab\there", 10, NOW, &err), SN_EINVAL);
    CK_FAILS(node_ca_init(bad, "x", 0, NOW, &err), SN_EINVAL);
    CK_FAILS(node_ca_init(bad, "x", NODE_CA_DAYS_MAX + 1, NOW, &err), SN_EINVAL);
    ck_assert(access(bad, F_OK) != 0);
}
END_TEST

START_TEST(test_ca_open_reports_missing_damaged_and_exposed_pieces)
{
    sn_err err = SN_ERR_INIT;
    char dir[4096], other[4096], path[8192];
    node_ca *ca = ca_new(dir, "Deployment CA"), *o = ca_new(other, "Other CA"), *x = NULL;
    node_ca_close(o);
    node_ca_close(ca);

    /* One command at a time. */
    ca = ca_reopen(dir);
    CK_FAILS(node_ca_open(&x, dir, &err), SN_EBUSY);
    ck_assert(strstr(err.msg, "another outpost command") != NULL);
    node_ca_close(ca);

    char nowhere[4096];
    ca_path_new(nowhere, "nowhere");
    CK_FAILS(node_ca_open(&x, nowhere, &err), SN_ENOTFOUND);
    ck_assert(strstr(err.msg, "no certificate authority") != NULL);
    ck_assert(strstr(err.hint, "ca init") != NULL);

    /* ca.key readable by the group: refused with the chmod to run. */
    snprintf(path, sizeof path, "%s/ca.key", dir);
    ck_assert(chmod(path, 0644) == 0);
    CK_FAILS(node_ca_open(&x, dir, &err), SN_EAUTH);
    ck_assert(strstr(err.msg, "readable by others") != NULL);
    ck_assert(strstr(err.hint, "chmod 600") != NULL);
    ck_assert(chmod(path, 0600) == 0);

    /* Damaged pieces: each named, each with a hint. */
    sn_buf key, state, cert, crl;
    CK_OK(node_file_read(path, 4096, &key, &err));
    snprintf(path, sizeof path, "%s/state", dir);
    CK_OK(node_file_read(path, 4096, &state, &err));
    snprintf(path, sizeof path, "%s/ca.cert", dir);
    CK_OK(node_file_read(path, 4096, &cert, &err));
    snprintf(path, sizeof path, "%s/crl", dir);
    CK_OK(node_file_read(path, 4096, &crl, &err));
    static const struct {
        const char *file, *text, *says;
        int code;
    } cases[] = {
        {"state", "next-serial 2\n", "lacks crl-number", SN_ECORRUPT},
        {"state", "next-serial two\ncrl-number 1\n", "line 1", SN_ECORRUPT},
        {"state", "next-serial 2\ncrl-number 1\ncrl-number 1\n", "line 3", SN_ECORRUPT},
        {"state", "next-serial 2\ncrl-number 2\n", "list 1 but the state says 2", SN_ECORRUPT},
        {"state", "next-serial 1\ncrl-number 1\n", "at least 2", SN_ECORRUPT},
        {"ca.key", "sign-public 00\n", "ca.key:1", SN_ECORRUPT},
        {"ca.cert", "not a certificate", "ca.cert", SN_ECORRUPT},
        {"crl", "", "crl", SN_ECORRUPT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(dir, cases[i].file, cases[i].text, strlen(cases[i].text));
        snprintf(path, sizeof path, "%s/ca.key", dir);
        ck_assert(chmod(path, 0600) == 0);
        sn_err_clear(&err);
        int rc = node_ca_open(&x, dir, &err);
        ck_assert_msg(rc == cases[i].code && strstr(err.msg, cases[i].says) != NULL &&
                          err.hint[0] != '\0',
                      "case %zu: %s (%s) hint '%s'", i, sn_err_name(rc), err.msg, err.hint);
        ck_assert_ptr_null(x);
        write_file(dir, "state", state.data, state.len);
        write_file(dir, "ca.key", key.data, key.len);
        write_file(dir, "ca.cert", cert.data, cert.len);
        write_file(dir, "crl", crl.data, crl.len);
    }

    /* Missing pieces. */
    static const char *const pieces[] = {"state", "ca.key", "ca.cert", "crl"};
    for (size_t i = 0; i < 4; i++) {
        remove_file(dir, pieces[i]);
        CK_FAILS(node_ca_open(&x, dir, &err), SN_ENOTFOUND);
        ck_assert_msg(strstr(err.msg, pieces[i]) != NULL && strstr(err.hint, "backup") != NULL,
                      "%s: %s / %s", pieces[i], err.msg, err.hint);
        write_file(dir, "state", state.data, state.len);
        write_file(dir, "ca.key", key.data, key.len);
        write_file(dir, "ca.cert", cert.data, cert.len);
        write_file(dir, "crl", crl.data, crl.len);
    }

    /* Another CA's key or certificate: the pieces do not belong together. */
    char okey[8192];
    snprintf(okey, sizeof okey, "%s/ca.key", other);
    sn_buf ok;
    CK_OK(node_file_read(okey, 4096, &ok, &err));
    write_file(dir, "ca.key", ok.data, ok.len);
    CK_FAILS(node_ca_open(&x, dir, &err), SN_EAUTH);
    ck_assert(strstr(err.msg, "not the certificate of the key") != NULL);
    write_file(dir, "ca.key", key.data, key.len);

    ca = ca_reopen(dir);
    node_ca_close(ca);
    sn_buf_free(&ok);
    sn_buf_free(&key);
    sn_buf_free(&state);
    sn_buf_free(&cert);
    sn_buf_free(&crl);
}
END_TEST

/* ---- issue ---------------------------------------------------------------------------- */

START_TEST(test_ca_issue_chains_on_the_node)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *a = mk_tracked("camp-alpha", &clock, NULL);
    node_store *h = mk_tracked("hub", &clock, NULL);
    char dir[4096];
    node_ca *ca = ca_new(dir, "Deployment CA");

    sync_cert c = issue_for(ca, a, NULL);
    ck_assert_uint_eq(c.serial, 2);
    ck_assert_uint_eq(c.type, SYNC_CERT_NODE);
    ck_assert_str_eq(c.name, node_store_name(a));
    ck_assert(memcmp(c.replica, node_store_origin(a)->replica, 16) == 0);
    ck_assert_uint_eq(c.valid_before, NOW + NODE_CA_DAYS_DEFAULT * DAY);
    ck_assert_uint_eq(c.valid_after, NOW - NODE_CA_BACKDATE_S);
    CK_OK(sync_cert_verify(&c, node_ca_root(ca)->sign_pk, NOW, &err));
    ck_assert_uint_eq(node_ca_next_serial(ca), 3);

    /* The node installs it with the CA's certificate and takes the CA's list. */
    CK_OK(node_trust_install(a, &c, node_ca_root(ca), &err));
    bool taken;
    CK_OK(node_trust_crl_offer(a, node_ca_crl(ca), &taken, &err));
    ck_assert(taken);
    sync_cert own;
    CK_OK(node_trust_own(a, &own, &err));
    ck_assert_uint_eq(own.serial, 2);

    /* A hub, a long validity (a ship), another name: the serials go on. */
    node_ca_issue_opts ho = {.type = SYNC_CERT_HUB, .name = "Hub One", .days = 3650};
    sync_cert hc = issue_for(ca, h, &ho);
    ck_assert_uint_eq(hc.serial, 3);
    ck_assert_uint_eq(hc.type, SYNC_CERT_HUB);
    ck_assert_str_eq(hc.name, "Hub One");
    ck_assert_uint_eq(hc.valid_before, NOW + 3650 * DAY);
    CK_OK(node_trust_cert_add(a, &hc, &err));

    /* Reopened, the CA goes on from where it was; issued/ keeps every certificate. */
    node_ca_close(ca);
    ca = ca_reopen(dir);
    ck_assert_uint_eq(node_ca_next_serial(ca), 4);
    node_ca_item *v;
    size_t n;
    CK_OK(node_ca_list(ca, &v, &n, &err));
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(v[0].cert.serial, 2);
    ck_assert_uint_eq(v[1].cert.serial, 3);
    ck_assert(!v[0].revoked && !v[1].revoked);
    sn_free(v);

    /* Strays in issued/ are ignored; a damaged certificate there is named. */
    write_file(dir, "issued/notes.txt", "x", 1);
    write_file(dir, "issued/9.cert.tmp", "x", 1);
    CK_OK(node_ca_list(ca, &v, &n, &err));
    ck_assert_uint_eq(n, 2);
    sn_free(v);
    write_file(dir, "issued/9.cert", "SNC1", 4);
    CK_FAILS(node_ca_list(ca, &v, &n, &err), SN_ECORRUPT);
    ck_assert(strstr(err.msg, "issued/9.cert") != NULL);
    remove_file(dir, "issued/9.cert");
    node_ca_close(ca);
    close_tracked(a);
    close_tracked(h);
}
END_TEST

START_TEST(test_ca_issue_refuses_bad_requests_and_options)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *a = mk_tracked("a", &clock, NULL);
    char dir[4096];
    node_ca *ca = ca_new(dir, "Deployment CA");
    sn_buf req, bytes;
    request_of(a, &req);
    sn_buf_init(&bytes, SYNC_CERT_MAX);
    sn_buf before = dir_snap(dir);
    sync_cert c;
    node_ca_issue_opts none = {0};

    /* Proof of possession: any changed byte breaks the request's own signature. */
    for (size_t i = 8; i < req.len; i += 13) {
        req.data[i] ^= 0x01;
        sn_err_clear(&err);
        int rc = node_ca_issue(ca, req.data, req.len, &none, NOW, &c, &bytes, &err);
        ck_assert_msg(rc == SN_EAUTH || rc == SN_ECORRUPT, "byte %zu: %s", i, sn_err_name(rc));
        ck_assert(strstr(err.msg, "enrolment request") != NULL && err.hint[0] != '\0');
        req.data[i] ^= 0x01;
    }
    CK_FAILS(node_ca_issue(ca, req.data, req.len - 1, &none, NOW, &c, &bytes, &err), SN_ECORRUPT);
    CK_FAILS(node_ca_issue(ca, req.data, 0, &none, NOW, &c, &bytes, &err), SN_ECORRUPT);

    /* The fingerprint the node showed: compared ignoring case and dashes. */
    char fp[SYNC_FINGERPRINT_MAX], typed[SYNC_FINGERPRINT_MAX];
    sync_fingerprint(fp, req.data, req.len);
    node_ca_issue_opts wrong = {.expect_fingerprint = "AAAAAAA-AAAAAAA"};
    CK_FAILS(node_ca_issue(ca, req.data, req.len, &wrong, NOW, &c, &bytes, &err), SN_EAUTH);
    ck_assert(strstr(err.msg, fp) != NULL);

    /* Options out of range. */
    node_ca_issue_opts o = {.days = NODE_CA_ROOT_DAYS_DEFAULT + 1};
    CK_FAILS(node_ca_issue(ca, req.data, req.len, &o, NOW, &c, &bytes, &err), SN_EINVAL);
    ck_assert(strstr(err.msg, "outlive the CA certificate") != NULL);
    o = (node_ca_issue_opts){.days = NODE_CA_DAYS_MAX + 1};
    CK_FAILS(node_ca_issue(ca, req.data, req.len, &o, NOW, &c, &bytes, &err), SN_EINVAL);
    o = (node_ca_issue_opts){.name = "bell\a"};
    CK_FAILS(node_ca_issue(ca, req.data, req.len, &o, NOW, &c, &bytes, &err), SN_EINVAL);
    o = (node_ca_issue_opts){.type = SYNC_CERT_ROOT};
    CK_FAILS(node_ca_issue(ca, req.data, req.len, &o, NOW, &c, &bytes, &err), SN_EINVAL);
    ck_assert_uint_eq(bytes.len, 0);
    snap_same(dir, &before, "refused issues");
    ck_assert_uint_eq(node_ca_next_serial(ca), 2);

    /* A state behind issued/ is not allowed to overwrite a certificate. */
    write_file(dir, "issued/2.cert", "x", 1);
    CK_FAILS(node_ca_issue(ca, req.data, req.len, &none, NOW, &c, &bytes, &err), SN_ECORRUPT);
    ck_assert(strstr(err.hint, "next-serial") != NULL);
    remove_file(dir, "issued/2.cert");

    size_t k = 0;
    for (const char *p = fp; *p != '\0'; p++)
        if (*p != '-')
            typed[k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    typed[k] = '\0';
    node_ca_issue_opts right = {.expect_fingerprint = typed};
    CK_OK(node_ca_issue(ca, req.data, req.len, &right, NOW, &c, &bytes, &err));
    ck_assert_uint_eq(c.serial, 2);
    sn_buf_free(&before);
    sn_buf_free(&req);
    sn_buf_free(&bytes);
    node_ca_close(ca);
    close_tracked(a);
}
END_TEST

/* ---- revoke ----------------------------------------------------------------------------- */

START_TEST(test_ca_revoke_numbers_lists_and_refuses_twice)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *a = mk_tracked("a", &clock, NULL), *b = mk_tracked("b", &clock, NULL);
    node_store *c = mk_tracked("c", &clock, NULL);
    char dir[4096];
    node_ca *ca = ca_new(dir, "Deployment CA");
    node_ca_issue_opts alpha = {.name = "Alpha"}, twin = {.name = "Twin"};
    sync_cert a1 = issue_for(ca, a, &alpha), a2 = issue_for(ca, a, &alpha);
    sync_cert b1 = issue_for(ca, b, &twin), c1 = issue_for(ca, c, &twin);
    CK_OK(node_trust_install(b, &b1, node_ca_root(ca), &err));

    /* By name: every certificate of the node, with the options given. */
    size_t added;
    uint8_t replica[16];
    node_ca_revoke_opts o = {.node = "Alpha", .last_good_seq = 41, .epoch = 2,
                             .reason = SYNC_REVOKE_COMPROMISED};
    CK_OK(node_ca_revoke(ca, &o, NOW + 10, &added, replica, &err));
    ck_assert_uint_eq(added, 2);
    ck_assert(memcmp(replica, a1.replica, 16) == 0);
    const sync_crl *l = node_ca_crl(ca);
    ck_assert_uint_eq(l->number, 2);
    ck_assert_uint_eq(l->n, 2);
    ck_assert_uint_eq(l->issued_at, NOW + 10);
    ck_assert_uint_eq(l->next_update, NOW + 10 + NODE_CA_CRL_DAYS * DAY);
    for (size_t i = 0; i < 2; i++) {
        ck_assert(l->entries[i].serial == a1.serial || l->entries[i].serial == a2.serial);
        ck_assert_uint_eq(l->entries[i].epoch, 2);
        ck_assert_uint_eq(l->entries[i].last_good_seq, 41);
        ck_assert_uint_eq(l->entries[i].reason, SYNC_REVOKE_COMPROMISED);
        ck_assert_uint_eq(l->entries[i].revoked_at, NOW + 10);
    }

    /* Twice: refused, nothing written. The replica may not be certified again. */
    sn_buf before = dir_snap(dir);
    CK_FAILS(node_ca_revoke(ca, &o, NOW, &added, replica, &err), SN_EINVAL);
    ck_assert(strstr(err.msg, "already revoked") != NULL);
    char hex[33];
    sn_hex(hex, a1.replica, 16);
    o.node = hex;
    CK_FAILS(node_ca_revoke(ca, &o, NOW, &added, replica, &err), SN_EINVAL);
    sn_buf req, bytes;
    request_of(a, &req);
    sn_buf_init(&bytes, SYNC_CERT_MAX);
    sync_cert again;
    node_ca_issue_opts none = {0};
    CK_FAILS(node_ca_issue(ca, req.data, req.len, &none, NOW, &again, &bytes, &err), SN_EINVAL);
    ck_assert(strstr(err.msg, "was revoked") != NULL);
    sn_buf_free(&req);
    sn_buf_free(&bytes);

    /* Unknown, ambiguous (two nodes named Twin), a bad reason. */
    o = (node_ca_revoke_opts){.node = "Nobody"};
    CK_FAILS(node_ca_revoke(ca, &o, NOW, &added, replica, &err), SN_ENOTFOUND);
    o.node = "Twin";
    CK_FAILS(node_ca_revoke(ca, &o, NOW, &added, replica, &err), SN_EINVAL);
    ck_assert(strstr(err.msg, "more than one node") != NULL);
    o = (node_ca_revoke_opts){.node = "Twin", .reason = 9};
    CK_FAILS(node_ca_revoke(ca, &o, NOW, &added, replica, &err), SN_EINVAL);
    snap_same(dir, &before, "refused revocations");
    sn_buf_free(&before);

    /* By serial, with the defaults (epoch 1, lost); then by replica id. */
    char serial[24];
    snprintf(serial, sizeof serial, "%llu", (unsigned long long)b1.serial);
    o = (node_ca_revoke_opts){.node = serial, .last_good_seq = 7};
    CK_OK(node_ca_revoke(ca, &o, NOW, &added, replica, &err));
    ck_assert_uint_eq(added, 1);
    ck_assert_uint_eq(node_ca_crl(ca)->number, 3);
    sn_buf three;
    sn_buf_init(&three, 1 << 16);
    CK_OK(sync_crl_encode(node_ca_crl(ca), &three, &err));
    const sync_crl_entry *e = sync_crl_find(node_ca_crl(ca), b1.replica);
    ck_assert(e != NULL && e->epoch == 1 && e->reason == SYNC_REVOKE_LOST);
    sn_hex(hex, c1.replica, 16);
    o.node = hex;
    CK_OK(node_ca_revoke(ca, &o, NOW, &added, replica, &err));
    ck_assert_uint_eq(node_ca_crl(ca)->number, 4);

    /* Persisted: reopened, the list and the listing agree. */
    node_ca_close(ca);
    ca = ca_reopen(dir);
    ck_assert_uint_eq(node_ca_crl(ca)->number, 4);
    ck_assert_uint_eq(node_ca_crl(ca)->n, 4);
    node_ca_item *v;
    size_t n;
    CK_OK(node_ca_list(ca, &v, &n, &err));
    ck_assert_uint_eq(n, 4);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(v[i].revoked, "serial %llu", (unsigned long long)v[i].cert.serial);
    ck_assert_uint_eq(v[0].entry.reason, SYNC_REVOKE_COMPROMISED);
    sn_free(v);

    /* A node takes the newest list and ignores an older one. */
    bool taken;
    CK_OK(node_trust_crl_offer(b, node_ca_crl(ca), &taken, &err));
    ck_assert(taken);
    sync_crl old = {0};
    CK_OK(sync_crl_parse(three.data, three.len, &old, &err));
    CK_OK(node_trust_crl_offer(b, &old, &taken, &err));
    ck_assert(!taken);
    sync_crl held;
    CK_OK(node_trust_crl(b, &held, &err));
    ck_assert_uint_eq(held.number, 4);
    sync_crl_free(&held);
    sync_crl_free(&old);
    sn_buf_free(&three);
    node_ca_close(ca);
    close_tracked(a);
    close_tracked(b);
    close_tracked(c);
}
END_TEST

/* ---- failures leave the directory as it was --------------------------------------------- */

typedef enum ca_op { OP_ISSUE, OP_REVOKE, OP_INIT } ca_op;

/* Run op on a fresh CA with fault `kind` armed at every point in turn: each faulted run
 * fails with a message and leaves the directory byte for byte as it was, and the CA still
 * opens as it was afterwards. (A fresh CA each time: a revocation reads every issued
 * certificate, so a growing directory would add fault points faster than the loop.) */
static void fault_loop(ca_op op, sn_fault_kind kind)
{
    test_clock clock = {BASE_MS};
    node_store *st = mk_tracked("f", &clock, NULL);
    sn_buf req;
    request_of(st, &req);
    int faults = 0;
    for (long n = 0;; n++) {
        sn_err err = SN_ERR_INIT;
        char dir[4096], idir[4096], node[24] = "";
        node_ca *ca = ca_new(dir, "Fault CA");
        if (op == OP_REVOKE) {
            sync_cert c = issue_for(ca, st, NULL);
            snprintf(node, sizeof node, "%llu", (unsigned long long)c.serial);
        }
        ca_path_new(idir, "init");
        sn_buf before = dir_snap(dir);
        uint64_t next = node_ca_next_serial(ca), number = node_ca_crl(ca)->number;
        sn_buf bytes;
        sn_buf_init(&bytes, SYNC_CERT_MAX);
        sync_cert c;
        node_ca_issue_opts none = {0};
        node_ca_revoke_opts ro = {.node = node, .last_good_seq = 1};
        size_t added;
        uint8_t replica[16];
        sn_fault_arm(kind, n, 1);
        int rc = op == OP_ISSUE ? node_ca_issue(ca, req.data, req.len, &none, NOW, &c, &bytes,
                                                &err)
                 : op == OP_REVOKE ? node_ca_revoke(ca, &ro, NOW, &added, replica, &err)
                                   : node_ca_init(idir, "Init CA", 10, NOW, &err);
        bool fired = sn_fault_disarm();
        sn_buf_free(&bytes);
        if (!fired || rc == 0) { /* done, or a benign fault */
            ck_assert_msg(fired || rc == 0, "op %d kind %d n %ld: %s", op, kind, n, err.msg);
            sn_buf_free(&before);
            node_ca_close(ca);
            if (!fired)
                break;
            continue;
        }
        faults++;
        ck_assert_msg(err.msg[0] != '\0', "op %d kind %d n %ld: no message", op, kind, n);
        int want = kind == SN_FAULT_ALLOC ? SN_ENOMEM : SN_EIO;
        ck_assert_msg(rc == want, "op %d kind %d n %ld: %s (%s)", op, kind, n, sn_err_name(rc),
                      err.msg);
        snap_same(dir, &before, "a faulted operation");
        sn_buf_free(&before);
        ck_assert_uint_eq(node_ca_next_serial(ca), next);
        ck_assert_uint_eq(node_ca_crl(ca)->number, number);
        ck_assert_msg(access(idir, F_OK) != 0, "a failed init left '%s'", idir);
        node_ca_close(ca);
        ca = ca_reopen(dir);
        ck_assert_uint_eq(node_ca_next_serial(ca), next);
        ck_assert_uint_eq(node_ca_crl(ca)->number, number);
        node_ca_close(ca);
    }
    ck_assert_msg(faults > 0, "op %d kind %d: no fault point was reached", op, kind);
    sn_buf_free(&req);
    close_tracked(st);
}

START_TEST(test_ca_faults_leave_the_directory_unchanged)
{
    static const sn_fault_kind kinds[] = {SN_FP_FILE_WRITE, SN_FP_FILE_SYNC, SN_FAULT_ALLOC};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        fault_loop(OP_ISSUE, kinds[k]);
        fault_loop(OP_REVOKE, kinds[k]);
        fault_loop(OP_INIT, kinds[k]);
    }
}
END_TEST

Suite *node_ca_suite(void);
Suite *node_ca_suite(void)
{
    Suite *s = suite_create("node_ca_suite");
    TCase *tc = tracked_tcase(s, "ca");
    tcase_add_test(tc, test_ca_init_writes_a_root_key_list_and_state);
    tcase_add_test(tc, test_ca_open_reports_missing_damaged_and_exposed_pieces);
    tcase_add_test(tc, test_ca_issue_chains_on_the_node);
    tcase_add_test(tc, test_ca_issue_refuses_bad_requests_and_options);
    tcase_add_test(tc, test_ca_revoke_numbers_lists_and_refuses_twice);
    tcase_add_test(tc, test_ca_faults_leave_the_directory_unchanged);
    return s;
}
