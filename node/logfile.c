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

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hash.h"
#include "node/fileio.h"

#define LOG_MAGIC "OUTPOSTL"
#define LOG_VERSION 1
#define LOG_HEADER 16
#define LOG_TRAILER 32

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
        rc = node_file_write_atomic(path, b.data, b.len, err);
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
    int rc = node_file_read(path, NODE_LOGFILE_MAX, &b, err);
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
        rc = node_file_write_atomic(path, b.data, b.len, err);
    sn_buf_free(&b);
    return rc;
}

int node_vecfile_read(crdt_vv *out, const char *path, sn_err *err)
{
    sn_buf b;
    int rc = node_file_read(path, (size_t)64 << 20, &b, err);
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
