/* node/logfile.c - log files carried by hand between nodes, and vector files.
 *
 * Log file, format 1 (integers big-endian):
 *   OFFSET  SIZE  MEANING
 *   0       8     magic "OUTPOSTL"
 *   8       1     format version (1); a newer one is refused with the version to install
 *   9       3     reserved, zero
 *   12      4     n = number of commits
 *   16      ..    n x { u32 length | commit body (schema/codec.c), at most SCHEMA_COMMIT_MAX }
 *   end-32  32    BLAKE2b-256 of every byte before it
 * The whole file is verified before the store is touched, so a damaged or truncated file
 * changes nothing. (Signed, chained transfer units replace the checksum in format 2.) */
#include "node/logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hash.h"

#define LOG_MAGIC "OUTPOSTL"
#define LOG_VERSION 1
#define LOG_HEADER 16
#define LOG_TRAILER 32

/* ---- files ---- */

static int write_all(int fd, const uint8_t *p, size_t n, const char *path, sn_err *err)
{
    while (n > 0) {
        ssize_t w = SN_FAULT(SN_FP_FILE_WRITE) ? -1 : write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return sn_err_set(err, SN_EIO, "cannot write '%s': %s", path,
                              w < 0 ? strerror(errno) : "short write");
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write `b` to `path` atomically: temporary file, fsync, rename. */
static int write_file_atomic(const char *path, const sn_buf *b, sn_err *err)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return sn_err_set(err, SN_EINVAL, "path '%s' is too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return sn_err_set(err, SN_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    int rc = write_all(fd, b->data, b->len, tmp, err);
    if (rc == 0 && (SN_FAULT(SN_FP_FILE_SYNC) || fsync(fd) != 0))
        rc = sn_err_set(err, SN_EIO, "cannot sync '%s': %s", tmp, strerror(errno));
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = sn_err_set(err, SN_EIO, "cannot rename '%s' to '%s': %s", tmp, path,
                        strerror(errno));
    if (rc != 0)
        unlink(tmp);
    return rc;
}

static int read_file(const char *path, size_t limit, sn_buf *out, sn_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return sn_err_set(err, e == ENOENT ? SN_ENOTFOUND : SN_EIO, "cannot open '%s': %s",
                          path, strerror(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return sn_err_set(err, SN_EINVAL, "'%s' is not a regular file", path);
    }
    if ((uint64_t)sb.st_size > limit) {
        close(fd);
        return sn_err_set(err, SN_ETOOBIG, "'%s' is %lld bytes, more than the %zu allowed", path,
                          (long long)sb.st_size, limit);
    }
    sn_buf_init(out, limit);
    int rc = sn_buf_reserve(out, (size_t)sb.st_size + 1, err);
    while (rc == 0) {
        ssize_t r = read(fd, out->data + out->len, out->cap - out->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = sn_err_set(err, SN_EIO, "cannot read '%s': %s", path, strerror(errno));
        if (r <= 0)
            break;
        out->len += (size_t)r;
        if (out->len == out->cap)
            rc = sn_buf_reserve(out, 4096, err);
    }
    close(fd);
    if (rc != 0)
        sn_buf_free(out);
    return rc;
}

/* ---- log files ---- */

static int emit_body(void *ctx, const uint8_t *body, size_t n, sn_err *err)
{
    sn_buf *b = ctx;
    int rc = sn_buf_put_u32be(b, (uint32_t)n, err);
    if (rc == 0)
        rc = sn_buf_append(b, body, n, err);
    return rc;
}

int node_logfile_export(node_store *st, const crdt_vv *peer_held, const char *path,
                        size_t *count, sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, NODE_LOGFILE_MAX);
    uint8_t header[LOG_HEADER] = {0};
    memcpy(header, LOG_MAGIC, 8);
    header[8] = LOG_VERSION;
    int rc = sn_buf_append(&b, header, sizeof header, err);
    if (rc == 0)
        rc = node_store_export(st, peer_held, emit_body, &b, err);
    size_t n = 0;
    if (rc == 0) {
        for (size_t off = LOG_HEADER; off < b.len; n++)
            off += 4 + sn_load_u32be(b.data + off);
        sn_store_u32be(b.data + 12, (uint32_t)n);
        uint8_t sum[LOG_TRAILER];
        sn_blake2b(sum, sizeof sum, b.data, b.len);
        rc = sn_buf_append(&b, sum, sizeof sum, err);
    }
    if (rc == 0)
        rc = write_file_atomic(path, &b, err);
    sn_buf_free(&b);
    if (rc == 0 && count != NULL)
        *count = n;
    if (rc != 0)
        sn_err_prefix(err, "exporting the log to '%s'", path);
    return rc;
}

/* Check the file's frame and find its bodies. *bodies is the caller's (sn_free). */
static int parse_logfile(const char *path, const sn_buf *b, node_body **bodies, size_t *n,
                         sn_err *err)
{
    *bodies = NULL;
    *n = 0;
    if (b->len < 8 || memcmp(b->data, LOG_MAGIC, 8) != 0) {
        sn_err_set(err, SN_ECORRUPT, "'%s' is not an Outpost log file", path);
        sn_err_hint(err, "log files are made with `outpost log export -o FILE`");
        return SN_ECORRUPT;
    }
    if (b->len < LOG_HEADER + LOG_TRAILER)
        return sn_err_set(err, SN_ECORRUPT, "log file '%s' is truncated (%zu bytes)", path,
                          b->len);
    if (b->data[8] > LOG_VERSION) {
        sn_err_set(err, SN_EVERSION, "log file '%s' has format %u; this build reads format %d",
                   path, b->data[8], LOG_VERSION);
        sn_err_hint(err, "install a newer Outpost to import it");
        return SN_EVERSION;
    }
    uint8_t sum[LOG_TRAILER];
    size_t body_end = b->len - LOG_TRAILER;
    sn_blake2b(sum, sizeof sum, b->data, body_end);
    if (b->data[8] != LOG_VERSION || memcmp(sum, b->data + body_end, LOG_TRAILER) != 0) {
        sn_err_set(err, SN_ECORRUPT, "log file '%s' is damaged or truncated (checksum mismatch)",
                   path);
        sn_err_hint(err, "export it again from the sending node; nothing was imported");
        return SN_ECORRUPT;
    }
    uint32_t count = sn_load_u32be(b->data + 12);
    if (count > (body_end - LOG_HEADER) / 4)
        return sn_err_set(err, SN_ECORRUPT, "log file '%s' claims %u commits; too many for its "
                          "size", path, count);
    node_body *v = sn_calloc(count == 0 ? 1 : count, sizeof *v);
    if (v == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory reading '%s'", path);
    size_t off = LOG_HEADER;
    for (uint32_t i = 0; i < count; i++) {
        if (body_end - off < 4 || sn_load_u32be(b->data + off) > body_end - off - 4) {
            sn_free(v);
            return sn_err_set(err, SN_ECORRUPT, "log file '%s': commit %u runs past the end", path,
                              i + 1);
        }
        v[i] = (node_body){.p = b->data + off + 4, .n = sn_load_u32be(b->data + off)};
        off += 4 + v[i].n;
    }
    if (off != body_end) {
        sn_free(v);
        return sn_err_set(err, SN_ECORRUPT, "log file '%s' has %zu unexpected bytes after its "
                          "commits", path, body_end - off);
    }
    *bodies = v;
    *n = count;
    return 0;
}

int node_logfile_import(node_store *st, const char *path, node_import_stats *stats, sn_err *err)
{
    sn_buf b;
    int rc = read_file(path, NODE_LOGFILE_MAX, &b, err);
    if (rc != 0)
        return rc;
    node_body *bodies = NULL;
    size_t n = 0;
    rc = parse_logfile(path, &b, &bodies, &n, err);
    if (rc == 0) {
        rc = node_store_import(st, bodies, n, stats, err);
        if (rc != 0)
            sn_err_prefix(err, "importing '%s'", path);
    }
    sn_free(bodies);
    sn_buf_free(&b);
    return rc;
}

/* ---- vector files ---- */

int node_vector_format(const crdt_vv *vv, sn_buf *out, sn_err *err)
{
    for (size_t i = 0; i < vv->n; i++) {
        char hex[2 * CRDT_REPLICA_LEN + 1];
        sn_hex(hex, vv->e[i].origin.replica, CRDT_REPLICA_LEN);
        int rc = sn_buf_appendf(out, err, "%s %u %llu\n", hex, vv->e[i].origin.epoch,
                                (unsigned long long)vv->e[i].seq);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int node_vecfile_write(const crdt_vv *vv, const char *path, sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, (size_t)64 << 20);
    int rc = sn_buf_append_str(&b, "# Outpost held vector: replica epoch seq\n", err);
    if (rc == 0)
        rc = node_vector_format(vv, &b, err);
    if (rc == 0)
        rc = write_file_atomic(path, &b, err);
    sn_buf_free(&b);
    return rc;
}

int node_vecfile_read(crdt_vv *out, const char *path, sn_err *err)
{
    sn_buf b;
    int rc = read_file(path, (size_t)64 << 20, &b, err);
    if (rc != 0)
        return rc;
    rc = sn_buf_append(&b, "", 1, err);
    crdt_vv_clear(out);
    char *line = rc == 0 ? (char *)b.data : NULL;
    for (int lineno = 1; rc == 0 && line != NULL && *line != '\0'; lineno++) {
        char *next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (line[0] != '#' && line[strspn(line, " \t\r")] != '\0') {
            char hex[40];
            unsigned long epoch;
            unsigned long long seq;
            int used = 0;
            crdt_origin o;
            if (sscanf(line, "%39s %lu %llu %n", hex, &epoch, &seq, &used) != 3 ||
                line[used] != '\0' || strchr(line, '-') != NULL || epoch > UINT32_MAX ||
                seq == 0 ||
                sn_unhex(o.replica, CRDT_REPLICA_LEN, hex) != 0) {
                rc = sn_err_set(err, SN_EINVAL, "%s:%d: expected '<32 hex digits> <epoch> <seq>'",
                                path, lineno);
                sn_err_hint(err, "vector files are made with `outpost vector -o FILE`");
                break;
            }
            o.epoch = (uint32_t)epoch;
            rc = crdt_vv_raise(out, &o, seq, err);
        }
        line = next;
    }
    sn_buf_free(&b);
    return rc;
}
