/* node/keyfile.c - secret key files (mode 0600): the node's key pairs, written at init,
 * and the "label hex" format shared with the CA's key. */
#include "node/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hash.h"
#include "sync/crypto.h"

static int append_key(sn_buf *b, const char *label, const uint8_t *k, size_t n, sn_err *err)
{
    char hex[2 * 64 + 1];
    if (SN_NEVER(n > 64))
        return sn_err_set(err, SN_EINVAL, "key '%s' is longer than 64 bytes", label);
    sn_hex(hex, k, n);
    int rc = sn_buf_appendf(b, err, "%s %s\n", label, hex);
    sn_wipe(hex, sizeof hex);
    return rc;
}

int node_keyfile_write(const char *path, const char *comment, const node_keyfile_field *f,
                       size_t n, sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, 4096);
    int rc = sn_buf_appendf(&b, err, "# %s\n", comment);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = append_key(&b, f[i].label, f[i].key, f[i].len, err);
    if (rc != 0)
        goto out;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            rc = sn_err_set(err, SN_EINVAL, "a key file already exists at '%s'", path);
        else
            rc = sn_err_set(err, SN_EIO, "cannot create key file '%s': %s", path,
                            strerror(errno));
        goto out;
    }
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = SN_FAULT(SN_FP_FILE_WRITE) ? -1 : write(fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = sn_err_set(err, SN_EIO, "cannot write key file '%s': %s", path,
                            w < 0 ? strerror(errno) : "short write");
            break;
        }
        off += (size_t)w;
    }
    if (rc == 0 && (SN_FAULT(SN_FP_FILE_SYNC) || fsync(fd) != 0))
        rc = sn_err_set(err, SN_EIO, "cannot sync key file '%s': %s", path, strerror(errno));
    close(fd);
    if (rc != 0)
        unlink(path);
out:
    if (b.data != NULL)
        sn_wipe(b.data, b.cap);
    sn_buf_free(&b);
    return rc;
}

/* The node's six keys, in file order. */
#define NODE_KEYS 6
static void key_fields(struct sync_keys *k, node_keyfile_field f[static NODE_KEYS])
{
    f[0] = (node_keyfile_field){"sign-public", k->sign_pk, sizeof k->sign_pk};
    f[1] = (node_keyfile_field){"sign-secret", k->sign_sk, sizeof k->sign_sk};
    f[2] = (node_keyfile_field){"noise-public", k->noise_pk, sizeof k->noise_pk};
    f[3] = (node_keyfile_field){"noise-secret", k->noise_sk, sizeof k->noise_sk};
    f[4] = (node_keyfile_field){"box-public", k->box_pk, sizeof k->box_pk};
    f[5] = (node_keyfile_field){"box-secret", k->box_sk, sizeof k->box_sk};
}

int node_keyfile_save(const char *dir, const struct sync_keys *keys, sn_err *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/keys", dir) >= sizeof path)
        return sn_err_set(err, SN_EINVAL, "store path '%s' is too long", dir);
    sync_keys k = *keys; /* the fields point at what they write, so not at `keys` */
    node_keyfile_field f[NODE_KEYS];
    key_fields(&k, f);
    int rc = node_keyfile_write(path, "Outpost node keys: secret, keep this file mode 0600.", f,
                                NODE_KEYS, err);
    sync_keys_wipe(&k);
    if (rc == SN_EINVAL)
        sn_err_hint(err, "this directory already holds a node; choose another --store");
    return rc;
}

int node_keyfile_create(const char *dir, sn_err *err)
{
    sync_keys k;
    int rc = sync_keys_generate(&k, err);
    if (rc == 0)
        rc = node_keyfile_save(dir, &k, err);
    sync_keys_wipe(&k);
    return rc;
}

void node_keyfile_remove(const char *dir)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/keys", dir) < sizeof path)
        unlink(path);
}

/* One "label hex" line into `out` (n bytes). */
static int parse_key_line(const char *path, int lineno, const char *line, const char *label,
                          uint8_t *out, size_t n, sn_err *err)
{
    size_t ll = strlen(label);
    if (strncmp(line, label, ll) != 0 || line[ll] != ' ' || strlen(line + ll + 1) != 2 * n ||
        sn_unhex(out, n, line + ll + 1) != 0)
        return sn_err_set(err, SN_ECORRUPT, "%s:%d: expected '%s' and %zu hex digits", path,
                          lineno, label, 2 * n);
    return 0;
}

int node_keyfile_read(const char *path, const node_keyfile_field *f, size_t n, sn_err *err)
{
    if (SN_NEVER(n > NODE_KEYFILE_FIELDS_MAX))
        return sn_err_set(err, SN_EINVAL, "key file '%s': too many fields asked for", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return sn_err_set(err, e == ENOENT ? SN_ENOTFOUND : SN_EIO, "cannot open key file '%s': %s",
                          path, strerror(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return sn_err_set(err, SN_EIO, "key file '%s' is not a regular file", path);
    }
    if ((sb.st_mode & 077) != 0) {
        close(fd);
        sn_err_set(err, SN_EAUTH, "key file '%s' is readable by others (mode %03o)", path,
                   (unsigned)(sb.st_mode & 0777));
        sn_err_hint(err, "run: chmod 600 '%s' (and consider the keys exposed)", path);
        return SN_EAUTH;
    }
    char buf[1024];
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got < 0)
        return sn_err_set(err, SN_EIO, "cannot read key file '%s': %s", path, strerror(errno));
    buf[got] = '\0';
    int rc = 0, lineno = 0;
    size_t field = 0;
    for (char *line = buf; rc == 0 && line != NULL && *line != '\0';) {
        char *next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        lineno++;
        if (line[0] != '#' && line[0] != '\0') {
            if (field == n)
                rc = sn_err_set(err, SN_ECORRUPT, "%s:%d: unexpected line", path, lineno);
            else
                rc = parse_key_line(path, lineno, line, f[field].label, f[field].key,
                                    f[field].len, err);
            field++;
        }
        line = next;
    }
    if (rc == 0 && field != n)
        rc = sn_err_set(err, SN_ECORRUPT, "key file '%s' is incomplete", path);
    sn_wipe(buf, sizeof buf);
    if (rc != 0)
        for (size_t i = 0; i < n; i++)
            sn_wipe(f[i].key, f[i].len);
    return rc;
}

int node_keyfile_load(const char *dir, struct sync_keys *k, sn_err *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/keys", dir) >= sizeof path)
        return sn_err_set(err, SN_EINVAL, "store path '%s' is too long", dir);
    node_keyfile_field f[NODE_KEYS];
    key_fields(k, f);
    int rc = node_keyfile_read(path, f, NODE_KEYS, err);
    if (rc != 0)
        sync_keys_wipe(k);
    return rc;
}
