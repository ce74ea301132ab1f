/* node/ca.c - the certificate authority directory (node/ca.h): init, open, issue, revoke
 * and list. Every change writes whole files atomically, the state file last, and undoes
 * what it wrote when a later step fails, so a failed command leaves the directory as it
 * was.
 *
 * The state file is text, one "key value" line each, '#' lines ignored:
 *
 *   # Outpost certificate authority state, written by 'outpost ca'.
 *   next-serial 7        the serial of the next certificate issued (>= 2)
 *   crl-number 3         the number of the list in DIR/crl (>= 1)
 */
#include "node/ca.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "node/fileio.h"
#include "node/keyfile.h"
#include "sync/crypto.h"

#define CA_PATH_MAX 4096
#define CA_STATE_MAX 4096
#define CA_CRL_FILE_MAX ((size_t)SYNC_CRL_MAX_ENTRIES * SYNC_CRL_ENTRY_LEN + 4096)
#define CA_DAY_S UINT64_C(86400)
#define CA_DAMAGED_HINT                                                                    \
    "restore the CA directory from its backup (a lost ca.key cannot be made again); "     \
    "'outpost ca init' makes a new CA only in a new or empty directory"

struct node_ca {
    char *dir;
    int lock_fd; /* the directory, flock'ed while the CA is open */
    uint8_t pk[SYNC_SIGN_PK_LEN];
    uint8_t sk[SYNC_SIGN_SK_LEN];
    sync_cert root;
    uint8_t root_bytes[SYNC_CERT_MAX];
    size_t root_len;
    sync_crl crl;
    uint64_t next_serial;
};

static const char *const reason_names[] = {NULL, "superseded", "lost", "compromised", "retired"};
#define NREASONS (sizeof reason_names / sizeof reason_names[0])

bool node_ca_decimal_parse(const char *text, uint64_t *out)
{
    uint64_t v = 0;
    if (text[0] == '\0')
        return false;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
            return false;
    }
    *out = v;
    return true;
}

int node_ca_reason_parse(const char *text, uint8_t *out, sn_err *err)
{
    for (size_t i = 1; i < NREASONS; i++) {
        if (strcmp(text, reason_names[i]) == 0) {
            *out = (uint8_t)i;
            return 0;
        }
    }
    sn_err_set(err, SN_EINVAL, "unknown revocation reason '%s'", text);
    sn_err_hint(err, "a reason is lost, compromised, retired or superseded");
    return SN_EINVAL;
}

const char *node_ca_reason_name(uint8_t reason)
{
    return reason > 0 && reason < NREASONS ? reason_names[reason] : "?";
}

/* ---- paths, dates, the key and the state ------------------------------------------------ */

static int ca_path(char out[static CA_PATH_MAX], const char *dir, const char *file, sn_err *err)
{
    if ((size_t)snprintf(out, CA_PATH_MAX, "%s/%s", dir, file) >= CA_PATH_MAX)
        return sn_err_set(err, SN_EINVAL, "CA directory path '%s' is too long", dir);
    return 0;
}

static int issued_path(char out[static CA_PATH_MAX], const char *dir, uint64_t serial,
                       sn_err *err)
{
    char name[48];
    snprintf(name, sizeof name, "issued/%" PRIu64 ".cert", serial);
    return ca_path(out, dir, name, err);
}

/* "<serial>.cert" -> serial; false for any other name (temporary files, strays). */
static bool issued_name_parse(const char *name, uint64_t *serial)
{
    const char *dot = strchr(name, '.');
    char digits[24];
    size_t n = dot != NULL ? (size_t)(dot - name) : 0;
    if (n == 0 || n >= sizeof digits || strcmp(dot, ".cert") != 0)
        return false;
    memcpy(digits, name, n);
    digits[n] = '\0';
    return node_ca_decimal_parse(digits, serial);
}

/* UTC day of unix time s, for messages. */
static void date_of(char out[static 32], uint64_t s)
{
    time_t t = (time_t)s;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%d", &tm) == 0)
        snprintf(out, 32, "@%" PRIu64, s);
}

/* The CA key file's two lines. */
static void key_fields(node_keyfile_field f[static 2], uint8_t *pk, uint8_t *sk)
{
    f[0] = (node_keyfile_field){"sign-public", pk, SYNC_SIGN_PK_LEN};
    f[1] = (node_keyfile_field){"sign-secret", sk, SYNC_SIGN_SK_LEN};
}

static int state_write(const char *dir, uint64_t next_serial, uint64_t crl_number, sn_err *err)
{
    char path[CA_PATH_MAX], text[256];
    int rc = ca_path(path, dir, "state", err);
    if (rc != 0)
        return rc;
    int n = snprintf(text, sizeof text,
                     "# Outpost certificate authority state, written by 'outpost ca'.\n"
                     "next-serial %" PRIu64 "\ncrl-number %" PRIu64 "\n",
                     next_serial, crl_number);
    return node_file_write_atomic(path, (const uint8_t *)text, (size_t)n, err);
}

static int state_bad(const char *path, int lineno, const char *what, sn_err *err)
{
    return sn_err_set(err, SN_ECORRUPT, "CA state '%s' line %d: %s", path, lineno, what);
}

static int state_read(const char *dir, uint64_t *next_serial, uint64_t *crl_number,
                      sn_err *err)
{
    char path[CA_PATH_MAX];
    int rc = ca_path(path, dir, "state", err);
    if (rc != 0)
        return rc;
    sn_buf b;
    if ((rc = node_file_read(path, CA_STATE_MAX, &b, err)) != 0)
        return rc;
    rc = sn_buf_append(&b, "", 1, err);
    bool have_serial = false, have_crl = false;
    int lineno = 0;
    for (char *line = (char *)b.data; rc == 0 && line != NULL && *line != '\0';) {
        char *next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        lineno++;
        char *sp = strchr(line, ' ');
        uint64_t v = 0;
        if (line[0] == '#' || line[0] == '\0') {
            /* a comment or a blank line */
        } else if (sp == NULL || !node_ca_decimal_parse(sp + 1, &v)) {
            rc = state_bad(path, lineno, "expected 'next-serial N' or 'crl-number N'", err);
        } else if (strncmp(line, "next-serial ", 12) == 0 && !have_serial) {
            *next_serial = v;
            have_serial = true;
        } else if (strncmp(line, "crl-number ", 11) == 0 && !have_crl) {
            *crl_number = v;
            have_crl = true;
        } else {
            rc = state_bad(path, lineno, "unknown or repeated setting", err);
        }
        line = next;
    }
    if (rc == 0 && (!have_serial || !have_crl))
        rc = sn_err_set(err, SN_ECORRUPT, "CA state '%s' lacks %s", path,
                        have_serial ? "crl-number" : "next-serial");
    if (rc == 0 && (*next_serial <= NODE_CA_ROOT_SERIAL || *crl_number == 0))
        rc = sn_err_set(err, SN_ECORRUPT,
                        "CA state '%s': next-serial must be at least %d and crl-number at "
                        "least 1",
                        path, NODE_CA_ROOT_SERIAL + 1);
    sn_buf_free(&b);
    return rc;
}

/* ---- open ------------------------------------------------------------------------------- */

static int key_load(node_ca *ca, sn_err *err)
{
    char path[CA_PATH_MAX];
    int rc = ca_path(path, ca->dir, "ca.key", err);
    if (rc != 0)
        return rc;
    node_keyfile_field f[2];
    key_fields(f, ca->pk, ca->sk);
    if ((rc = node_keyfile_read(path, f, 2, err)) != 0)
        return rc;
    uint8_t pk[SYNC_SIGN_PK_LEN];
    sync_sign_pk_of(pk, ca->sk);
    if (memcmp(pk, ca->pk, sizeof pk) != 0)
        return sn_err_set(err, SN_ECORRUPT,
                          "key file '%s': sign-public is not the public half of sign-secret",
                          path);
    return 0;
}

static int root_load(node_ca *ca, sn_err *err)
{
    char path[CA_PATH_MAX];
    int rc = ca_path(path, ca->dir, "ca.cert", err);
    if (rc != 0)
        return rc;
    sn_buf b;
    if ((rc = node_file_read(path, SYNC_CERT_MAX, &b, err)) != 0)
        return rc;
    rc = sync_cert_parse(b.data, b.len, &ca->root, err);
    if (rc == 0 && ca->root.type != SYNC_CERT_ROOT)
        rc = sn_err_set(err, SN_ECORRUPT, "it is a %s certificate, not a root",
                        sync_cert_type_name(ca->root.type));
    if (rc == 0 && memcmp(ca->root.sign_pk, ca->pk, sizeof ca->pk) != 0)
        rc = sn_err_set(err, SN_EAUTH, "it is not the certificate of the key in ca.key");
    if (rc == 0)
        rc = sync_cert_verify(&ca->root, ca->pk, 0, err);
    if (rc == 0) {
        memcpy(ca->root_bytes, b.data, b.len);
        ca->root_len = b.len;
    } else if (rc != SN_ENOMEM) {
        sn_err_prefix(err, "CA certificate '%s'", path);
    }
    sn_buf_free(&b);
    return rc;
}

static int crl_load(node_ca *ca, uint64_t number, sn_err *err)
{
    char path[CA_PATH_MAX];
    int rc = ca_path(path, ca->dir, "crl", err);
    if (rc != 0)
        return rc;
    sn_buf b;
    if ((rc = node_file_read(path, CA_CRL_FILE_MAX, &b, err)) != 0)
        return rc;
    rc = sync_crl_parse(b.data, b.len, &ca->crl, err);
    if (rc == 0)
        rc = sync_crl_verify(&ca->crl, ca->pk, err);
    if (rc == 0 && ca->crl.number != number)
        rc = sn_err_set(err, SN_ECORRUPT,
                        "it is list %" PRIu64 " but the state says %" PRIu64
                        " (an interrupted revoke, or files restored from different backups)",
                        ca->crl.number, number);
    if (rc != 0 && rc != SN_ENOMEM)
        sn_err_prefix(err, "CA revocation list '%s'", path);
    sn_buf_free(&b);
    return rc;
}

int node_ca_open(node_ca **out, const char *dir, sn_err *err)
{
    *out = NULL;
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        int e = errno;
        if (e != ENOENT)
            return sn_err_set(err, SN_EIO, "cannot open CA directory '%s': %s", dir,
                              strerror(e));
        sn_err_set(err, SN_ENOTFOUND, "no certificate authority at '%s'", dir);
        sn_err_hint(err, "create one with 'outpost ca init --name NAME', or pass --ca DIR (or "
                         "set OUTPOST_CA) to use another");
        return SN_ENOTFOUND;
    }
    if (!S_ISDIR(sb.st_mode))
        return sn_err_set(err, SN_EINVAL, "CA directory '%s' is not a directory", dir);
    node_ca *ca = sn_calloc(1, sizeof *ca);
    if (ca == NULL || (ca->dir = sn_strdup(dir)) == NULL) {
        sn_free(ca);
        return sn_err_set(err, SN_ENOMEM, "opening CA '%s': out of memory", dir);
    }
    /* One command at a time: two issuing at once would hand out one serial twice. */
    int rc = 0;
    ca->lock_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ca->lock_fd < 0 || flock(ca->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        rc = sn_err_set(err, e == EWOULDBLOCK ? SN_EBUSY : SN_EIO, "cannot lock '%s': %s", dir,
                        e == EWOULDBLOCK ? "another outpost command is using this CA"
                                         : strerror(e));
        if (rc == SN_EBUSY)
            sn_err_hint(err, "wait for the other 'outpost ca' command to finish");
    }
    uint64_t crl_number = 0;
    if (rc == 0)
        rc = state_read(dir, &ca->next_serial, &crl_number, err);
    if (rc == 0)
        rc = key_load(ca, err);
    if (rc == 0)
        rc = root_load(ca, err);
    if (rc == 0)
        rc = crl_load(ca, crl_number, err);
    if (rc != 0) {
        if ((rc == SN_ECORRUPT || rc == SN_ENOTFOUND) && err != NULL && err->hint[0] == '\0')
            sn_err_hint(err, CA_DAMAGED_HINT);
        if (rc != SN_ENOMEM)
            sn_err_prefix(err, "certificate authority '%s'", dir);
        node_ca_close(ca);
        return rc;
    }
    *out = ca;
    return 0;
}

void node_ca_close(node_ca *ca)
{
    if (ca == NULL)
        return;
    sn_wipe(ca->sk, sizeof ca->sk);
    if (ca->lock_fd >= 0)
        close(ca->lock_fd); /* releases the lock */
    sync_crl_free(&ca->crl);
    sn_free(ca->dir);
    sn_free(ca);
}

const sync_cert *node_ca_root(const node_ca *ca) { return &ca->root; }
const sync_crl *node_ca_crl(const node_ca *ca) { return &ca->crl; }
uint64_t node_ca_next_serial(const node_ca *ca) { return ca->next_serial; }
const char *node_ca_dir(const node_ca *ca) { return ca->dir; }

void node_ca_fingerprint(const node_ca *ca, char out[static SYNC_FINGERPRINT_MAX])
{
    sync_fingerprint(out, ca->root_bytes, ca->root_len);
}

/* ---- init ------------------------------------------------------------------------------- */

static int name_check(const char *name, const char *what, sn_err *err)
{
    size_t n = strlen(name);
    if (n > 0 && n <= SYNC_CERT_NAME_MAX && sync_cert_name_is_valid((const uint8_t *)name, n))
        return 0;
    sn_err_set(err, SN_EINVAL, "%s name '%.80s' is not usable", what, name);
    sn_err_hint(err, "a name is 1 to %d bytes of text without control characters",
                SYNC_CERT_NAME_MAX);
    return SN_EINVAL;
}

static int days_check(uint32_t days, sn_err *err)
{
    if (days >= 1 && days <= NODE_CA_DAYS_MAX)
        return 0;
    sn_err_set(err, SN_EINVAL, "a validity of %" PRIu32 " days is out of range", days);
    sn_err_hint(err, "give --days from 1 to %d", NODE_CA_DAYS_MAX);
    return SN_EINVAL;
}

static uint64_t backdated(uint64_t now_s)
{
    return now_s > NODE_CA_BACKDATE_S ? now_s - NODE_CA_BACKDATE_S : 0;
}

/* An existing `dir` may become a CA only when it is an empty directory. */
static int dir_check_empty(const char *dir, sn_err *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return sn_err_set(err, SN_EINVAL, "cannot use '%s' as a CA directory: %s", dir,
                          strerror(errno));
    bool empty = true;
    for (struct dirent *de; empty && (de = readdir(d)) != NULL;)
        empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
    closedir(d);
    if (empty)
        return 0;
    sn_err_set(err, SN_EINVAL, "'%s' already exists and is not empty", dir);
    sn_err_hint(err, "a CA is made once: use the existing one with --ca DIR, or give init a "
                     "new or empty directory");
    return SN_EINVAL;
}

/* Sign and encode `crl` and write it to `path`. */
static int crl_write(sync_crl *crl, const uint8_t sk[static SYNC_SIGN_SK_LEN], const char *path,
                     sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, CA_CRL_FILE_MAX);
    int rc = sync_crl_sign(crl, sk, err);
    if (rc == 0)
        rc = sync_crl_encode(crl, &b, err);
    if (rc == 0)
        rc = node_file_write_atomic(path, b.data, b.len, err);
    sn_buf_free(&b);
    return rc;
}

int node_ca_init(const char *dir, const char *name, uint32_t days, uint64_t now_s, sn_err *err)
{
    char key[CA_PATH_MAX], cert[CA_PATH_MAX], crl[CA_PATH_MAX], state[CA_PATH_MAX],
        issued[CA_PATH_MAX];
    int rc = name_check(name, "CA", err);
    if (rc == 0)
        rc = days_check(days, err);
    if (rc == 0) /* the longest name: when it fits, the others do */
        rc = ca_path(cert, dir, "ca.cert", err);
    if (rc != 0)
        return rc;
    (void)ca_path(key, dir, "ca.key", NULL);
    (void)ca_path(crl, dir, "crl", NULL);
    (void)ca_path(state, dir, "state", NULL);
    (void)ca_path(issued, dir, "issued", NULL);
    bool made_dir = false;
    if (mkdir(dir, 0700) == 0)
        made_dir = true;
    else if (errno == EEXIST)
        rc = dir_check_empty(dir, err);
    else
        rc = sn_err_set(err, SN_EIO, "cannot create CA directory '%s': %s", dir,
                        strerror(errno));
    if (rc != 0)
        return rc;
    /* From here on the directory was empty: everything in it is ours to remove. */
    sync_cert root = {.type = SYNC_CERT_ROOT,
                      .serial = NODE_CA_ROOT_SERIAL,
                      .valid_after = backdated(now_s),
                      .valid_before = now_s + days * CA_DAY_S};
    snprintf(root.name, sizeof root.name, "%s", name);
    uint8_t sk[SYNC_SIGN_SK_LEN];
    sync_crl list = {.number = 1, .issued_at = now_s,
                     .next_update = now_s + NODE_CA_CRL_DAYS * CA_DAY_S};
    sn_buf b;
    sn_buf_init(&b, SYNC_CERT_MAX);
    if (mkdir(issued, 0700) != 0)
        rc = sn_err_set(err, SN_EIO, "cannot create '%s': %s", issued, strerror(errno));
    if (rc == 0)
        rc = sync_sign_keypair(root.sign_pk, sk, err);
    if (rc == 0) {
        node_keyfile_field f[2];
        key_fields(f, root.sign_pk, sk);
        rc = node_keyfile_write(key, "Outpost certificate authority key: secret, keep this "
                                     "file mode 0600, offline and backed up.",
                                f, 2, err);
    }
    if (rc == 0)
        rc = sync_cert_sign(&root, sk, err);
    if (rc == 0)
        rc = sync_cert_encode(&root, &b, err);
    if (rc == 0)
        rc = node_file_write_atomic(cert, b.data, b.len, err);
    if (rc == 0)
        rc = crl_write(&list, sk, crl, err);
    if (rc == 0)
        rc = state_write(dir, NODE_CA_ROOT_SERIAL + 1, list.number, err);
    sn_wipe(sk, sizeof sk);
    sn_buf_free(&b);
    sync_crl_free(&list);
    if (rc != 0) {
        unlink(crl);
        unlink(cert);
        unlink(key);
        rmdir(issued);
        if (made_dir)
            rmdir(dir);
        sn_err_prefix(err, "creating a certificate authority in '%s'", dir);
    }
    return rc;
}

/* ---- issue ------------------------------------------------------------------------------ */

/* Fingerprints are equal ignoring case, spaces and dashes. */
static bool fingerprint_equal(const char *a, const char *b)
{
    for (;; a++, b++) {
        a += strspn(a, "- ");
        b += strspn(b, "- ");
        if (toupper((unsigned char)*a) != toupper((unsigned char)*b))
            return false;
        if (*a == '\0')
            return true;
    }
}

/* The request in req[0..n), checked for what issuing needs. */
static int request_check(const node_ca *ca, const uint8_t *req, size_t n,
                         const node_ca_issue_opts *o, sync_enroll_request *r, sn_err *err)
{
    int rc = sync_enroll_request_parse(req, n, r, err);
    if (rc != 0) {
        if (rc != SN_ENOMEM)
            sn_err_prefix(err, "enrolment request");
        sn_err_hint(err, "ask the node for a new request ('outpost enroll request') and "
                         "carry the file unchanged");
        return rc;
    }
    char fp[SYNC_FINGERPRINT_MAX];
    sync_fingerprint(fp, req, n);
    if (o->expect_fingerprint != NULL && !fingerprint_equal(fp, o->expect_fingerprint)) {
        sn_err_set(err, SN_EAUTH, "the request's fingerprint %s is not the expected %.80s", fp,
                   o->expect_fingerprint);
        sn_err_hint(err, "do not issue: the request may have been altered or swapped on its "
                         "way; make a new request on the node and compare again");
        return SN_EAUTH;
    }
    const sync_crl_entry *e = sync_crl_find(&ca->crl, r->replica);
    if (e != NULL) {
        char hex[33];
        sn_hex(hex, r->replica, 16);
        sn_err_set(err, SN_EINVAL,
                   "replica %s was revoked (serial %" PRIu64 ", %s, in revocation list %" PRIu64
                   "): a certificate for it would be refused",
                   hex, e->serial, node_ca_reason_name(e->reason), ca->crl.number);
        sn_err_hint(err, "a node that is back in use needs a new store (a new replica id) "
                         "and a new request");
        return SN_EINVAL;
    }
    return 0;
}

int node_ca_issue(node_ca *ca, const uint8_t *req, size_t n, const node_ca_issue_opts *o,
                  uint64_t now_s, sync_cert *out, sn_buf *bytes, sn_err *err)
{
    sync_enroll_request r;
    int rc = request_check(ca, req, n, o, &r, err);
    if (rc != 0)
        return rc;
    uint8_t type = o->type == 0 ? SYNC_CERT_NODE : o->type;
    if (type != SYNC_CERT_NODE && type != SYNC_CERT_HUB)
        return sn_err_set(err, SN_EINVAL, "the CA issues node and hub certificates, not %s",
                          sync_cert_type_name(type));
    const char *name = o->name != NULL ? o->name : r.name;
    uint32_t days = o->days != 0 ? o->days : NODE_CA_DAYS_DEFAULT;
    if ((rc = name_check(name, "certificate", err)) != 0 || (rc = days_check(days, err)) != 0)
        return rc;
    sync_cert c = {.type = type,
                   .serial = ca->next_serial,
                   .valid_after = backdated(now_s),
                   .valid_before = now_s + days * CA_DAY_S};
    if (c.valid_before > ca->root.valid_before) {
        char until[32];
        date_of(until, ca->root.valid_before);
        sn_err_set(err, SN_EINVAL,
                   "a certificate valid for %" PRIu32 " days would outlive the CA certificate "
                   "(valid until %s)",
                   days, until);
        sn_err_hint(err, "give fewer --days");
        return SN_EINVAL;
    }
    memcpy(c.replica, r.replica, sizeof c.replica);
    memcpy(c.sign_pk, r.sign_pk, sizeof c.sign_pk);
    memcpy(c.noise_pk, r.noise_pk, sizeof c.noise_pk);
    memcpy(c.box_pk, r.box_pk, sizeof c.box_pk);
    snprintf(c.name, sizeof c.name, "%s", name);
    char path[CA_PATH_MAX];
    if ((rc = issued_path(path, ca->dir, c.serial, err)) != 0)
        return rc;
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        sn_err_set(err, SN_ECORRUPT, "'%s' already exists, yet the state says serial %" PRIu64
                   " is next", path, c.serial);
        sn_err_hint(err, "an issue was interrupted or the state comes from an older backup: "
                         "set next-serial in '%s/state' above every file in issued/", ca->dir);
        return SN_ECORRUPT;
    }
    size_t start = bytes->len;
    rc = sync_cert_sign(&c, ca->sk, err);
    if (rc == 0)
        rc = sync_cert_encode(&c, bytes, err);
    if (rc == 0)
        rc = node_file_write_atomic(path, bytes->data + start, bytes->len - start, err);
    if (rc == 0 && (rc = state_write(ca->dir, c.serial + 1, ca->crl.number, err)) != 0)
        unlink(path);
    if (rc != 0) {
        bytes->len = start;
        return rc;
    }
    ca->next_serial = c.serial + 1;
    *out = c;
    return 0;
}

/* ---- list ------------------------------------------------------------------------------- */

static int item_cmp(const void *a, const void *b)
{
    uint64_t x = ((const node_ca_item *)a)->cert.serial, y = ((const node_ca_item *)b)->cert.serial;
    return x < y ? -1 : x > y;
}

/* Read issued/<serial>.cert into *it, checked against the root and its file name. */
static int item_load(const node_ca *ca, uint64_t serial, node_ca_item *it, sn_err *err)
{
    char path[CA_PATH_MAX];
    int rc = issued_path(path, ca->dir, serial, err);
    if (rc != 0)
        return rc;
    sn_buf b;
    if ((rc = node_file_read(path, SYNC_CERT_MAX, &b, err)) != 0)
        return rc;
    rc = sync_cert_parse(b.data, b.len, &it->cert, err);
    sn_buf_free(&b);
    if (rc == 0)
        rc = sync_cert_verify(&it->cert, ca->pk, 0, err);
    if (rc == 0 && it->cert.serial != serial)
        rc = sn_err_set(err, SN_ECORRUPT, "it holds serial %" PRIu64, it->cert.serial);
    if (rc != 0) {
        if (rc != SN_ENOMEM)
            sn_err_prefix(err, "issued certificate '%s'", path);
        return rc;
    }
    it->revoked = false;
    for (size_t i = 0; i < ca->crl.n && !it->revoked; i++) {
        const sync_crl_entry *e = &ca->crl.entries[i];
        if (e->serial == serial && memcmp(e->replica, it->cert.replica, 16) == 0) {
            it->revoked = true;
            it->entry = *e;
        }
    }
    return 0;
}

int node_ca_list(node_ca *ca, node_ca_item **items, size_t *n, sn_err *err)
{
    *items = NULL;
    *n = 0;
    char path[CA_PATH_MAX];
    int rc = ca_path(path, ca->dir, "issued", err);
    if (rc != 0)
        return rc;
    DIR *d = opendir(path);
    if (d == NULL) {
        int e = errno;
        sn_err_set(err, e == ENOENT ? SN_ECORRUPT : SN_EIO, "cannot read '%s': %s", path,
                   strerror(e));
        sn_err_hint(err, CA_DAMAGED_HINT);
        return e == ENOENT ? SN_ECORRUPT : SN_EIO;
    }
    node_ca_item *v = NULL;
    size_t count = 0, cap = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            if (errno != 0)
                rc = sn_err_set(err, SN_EIO, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        uint64_t serial;
        if (!issued_name_parse(de->d_name, &serial))
            continue;
        if (count == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            node_ca_item *p = sn_realloc(v, ncap * sizeof *p);
            if (p == NULL) {
                rc = sn_err_set(err, SN_ENOMEM, "listing '%s': out of memory", path);
                break;
            }
            v = p;
            cap = ncap;
        }
        if ((rc = item_load(ca, serial, &v[count], err)) != 0)
            break;
        count++;
    }
    closedir(d);
    if (rc != 0) {
        sn_free(v);
        return rc;
    }
    if (count > 1)
        qsort(v, count, sizeof *v, item_cmp);
    *items = v;
    *n = count;
    return 0;
}

/* ---- revoke ----------------------------------------------------------------------------- */

/* 32 hex digits, dashes allowed between them. */
static bool replica_parse(const char *text, uint8_t out[static 16])
{
    char hex[33];
    size_t n = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '-')
            continue;
        if (n == 32)
            return false;
        hex[n++] = *p;
    }
    hex[n] = '\0';
    return n == 32 && sn_unhex(out, 16, hex) == 0;
}

/* The replica `text` names: a certificate name, a replica id or a serial. */
static int select_replica(const node_ca_item *v, size_t n, const char *text,
                          uint8_t out[static 16], sn_err *err)
{
    uint8_t want[16];
    uint64_t serial = 0;
    bool by_replica = replica_parse(text, want), by_serial = node_ca_decimal_parse(text, &serial);
    const uint8_t *found = NULL;
    bool ambiguous = false;
    for (size_t i = 0; i < n; i++) {
        const sync_cert *c = &v[i].cert;
        if (!(by_replica && memcmp(c->replica, want, 16) == 0) &&
            !(by_serial && c->serial == serial) && strcmp(c->name, text) != 0)
            continue;
        if (found == NULL)
            found = c->replica;
        else if (memcmp(found, c->replica, 16) != 0)
            ambiguous = true;
    }
    if (found == NULL) {
        sn_err_set(err, SN_ENOTFOUND,
                   "no certificate issued by this CA has the name, replica id or serial "
                   "'%.80s'", text);
        sn_err_hint(err, "'outpost ca list' shows the certificates issued");
        return SN_ENOTFOUND;
    }
    if (ambiguous) {
        sn_err_set(err, SN_EINVAL, "'%.80s' names more than one node", text);
        sn_err_hint(err, "give the node's replica id (32 hex digits) from 'outpost ca list'");
        return SN_EINVAL;
    }
    memcpy(out, found, 16);
    return 0;
}

/* Write the new list and the state; when the state cannot be written, put the old list
 * back. */
static int revoke_commit(node_ca *ca, sync_crl *next, sn_err *err)
{
    char path[CA_PATH_MAX];
    sn_buf old;
    sn_buf_init(&old, CA_CRL_FILE_MAX);
    int rc = ca_path(path, ca->dir, "crl", err);
    if (rc == 0)
        rc = sync_crl_encode(&ca->crl, &old, err);
    if (rc == 0)
        rc = crl_write(next, ca->sk, path, err);
    if (rc == 0 && (rc = state_write(ca->dir, ca->next_serial, next->number, err)) != 0) {
        sn_err restore = SN_ERR_INIT;
        if (node_file_write_atomic(path, old.data, old.len, &restore) != 0)
            sn_err_hint(err, "'%s' now holds list %" PRIu64 " but the state was not updated; "
                             "set crl-number %" PRIu64 " in '%s/state'",
                        path, next->number, next->number, ca->dir);
    }
    sn_buf_free(&old);
    return rc;
}

int node_ca_revoke(node_ca *ca, const node_ca_revoke_opts *o, uint64_t now_s,
                   size_t *nrevoked, uint8_t replica[static 16], sn_err *err)
{
    *nrevoked = 0;
    uint8_t reason = o->reason != 0 ? o->reason : SYNC_REVOKE_LOST;
    if (reason >= NREASONS)
        return sn_err_set(err, SN_EINVAL, "unknown revocation reason %u", reason);
    node_ca_item *v;
    size_t n;
    int rc = node_ca_list(ca, &v, &n, err);
    if (rc != 0)
        return rc;
    sync_crl next = {.number = ca->crl.number + 1, .issued_at = now_s,
                     .next_update = now_s + NODE_CA_CRL_DAYS * CA_DAY_S};
    size_t added = 0;
    rc = select_replica(v, n, o->node, replica, err);
    for (size_t i = 0; rc == 0 && i < ca->crl.n; i++)
        rc = sync_crl_add(&next, &ca->crl.entries[i], err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (v[i].revoked || memcmp(v[i].cert.replica, replica, 16) != 0)
            continue;
        sync_crl_entry e = {.serial = v[i].cert.serial, .epoch = o->epoch != 0 ? o->epoch : 1,
                            .reason = reason, .revoked_at = now_s,
                            .last_good_seq = o->last_good_seq};
        memcpy(e.replica, replica, 16);
        rc = sync_crl_add(&next, &e, err);
        added++;
    }
    if (rc == 0 && added == 0) {
        char hex[33];
        sn_hex(hex, replica, 16);
        sn_err_set(err, SN_EINVAL,
                   "node '%.80s' (replica %s) is already revoked: revocation list %" PRIu64
                   " holds every certificate issued to it",
                   o->node, hex, ca->crl.number);
        sn_err_hint(err, "'outpost ca list' shows it; a revocation is never changed or undone");
        rc = SN_EINVAL;
    }
    if (rc == 0)
        rc = revoke_commit(ca, &next, err);
    sn_free(v);
    if (rc != 0) {
        sync_crl_free(&next);
        return rc;
    }
    sync_crl_free(&ca->crl);
    ca->crl = next;
    *nrevoked = added;
    return 0;
}
