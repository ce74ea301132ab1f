/* node/logfile.c - log files carried by hand between nodes, and vector files.
 *
 * Log file, format 3 (integers big-endian):
 *   OFFSET  SIZE  MEANING
 *   0       8     magic "OUTPOSTL"
 *   8       1     format version (3); another is refused, saying which Outpost to use
 *   9       3     reserved, zero
 *   12      4     n = number of sections
 *   16      ..    n x { u8 kind | u32 length | bytes }, kinds in this order:
 *                   1 certificate (sync/cert.h) of an origin in the file, or of the sender
 *                   2 the sender's revocation list (sync/crl.h), at most one
 *                   3 transfer unit (sync/unit.h): commits a..b of one origin + checkpoint
 *                   4 head checkpoint: the sender's latest of an origin (equivocation check)
 *                   5 proof of equivocation (sync/proof.h), checked before it freezes
 *   end-32  32    BLAKE2b-256 of every byte before it
 * The checksum only catches damage in transit: authenticity comes from the signed units,
 * which the store verifies (node/units.h) before decoding anything. Import is one batch:
 * certificates (each must chain to the pinned CA), the list, the units, the heads and the
 * proofs; any failure rolls all of it back, so a bad file changes nothing. */
#include "node/logfile.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hash.h"
#include "node/fileio.h"
#include "node/trust.h"
#include "sync/bundle.h"

#define LOG_MAGIC "OUTPOSTL"
#define LOG_VERSION 3
#define LOG_KINDS 6 /* section kinds + 1 */
#define LOG_HEADER 16
#define LOG_TRAILER 32

enum { SEC_CERT = 1, SEC_CRL = 2, SEC_UNIT = 3, SEC_HEAD = 4, SEC_PROOF = 5 };
/* Bundles carry the same records (node_carried_put_trust writes both). */
_Static_assert((int)SEC_CERT == (int)SYNC_BREC_CERT && (int)SEC_CRL == (int)SYNC_BREC_CRL &&
                   (int)SEC_UNIT == (int)SYNC_BREC_UNIT && (int)SEC_HEAD == (int)SYNC_BREC_HEAD,
               "log file sections and bundle records share kinds");

/* ---- log files ---- */

typedef struct log_writer {
    sn_buf *b;
    uint32_t sections;
} log_writer;

static int put_section(log_writer *w, uint8_t kind, const uint8_t *p, size_t n, sn_err *err)
{
    if (n > UINT32_MAX)
        return sn_err_set(err, SN_ETOOBIG, "a log file section of %zu bytes is too large", n);
    int rc = sn_buf_append(w->b, &kind, 1, err);
    if (rc == 0)
        rc = sn_buf_put_u32be(w->b, (uint32_t)n, err);
    if (rc == 0)
        rc = sn_buf_append(w->b, p, n, err);
    if (rc == 0)
        w->sections++;
    return rc;
}

static int put_cert(void *ctx, const sync_cert *c, sn_err *err)
{
    sn_buf cb;
    sn_buf_init(&cb, SYNC_CERT_MAX);
    int rc = sync_cert_encode(c, &cb, err);
    if (rc == 0)
        rc = put_section(ctx, SEC_CERT, cb.data, cb.len, err);
    sn_buf_free(&cb);
    return rc;
}

static int put_unit(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    return put_section(ctx, SEC_UNIT, p, n, err);
}

static int put_head(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    return put_section(ctx, SEC_HEAD, p, n, err);
}

static int put_proof(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    return put_section(ctx, SEC_PROOF, p, n, err);
}

static int put_crl(log_writer *w, node_store *st, sn_err *err)
{
    sync_crl crl;
    int rc = node_trust_crl(st, &crl, err);
    if (rc != 0 || crl.number == 0) {
        sync_crl_free(&crl);
        return rc;
    }
    sn_buf cb;
    sn_buf_init(&cb, (size_t)64 << 20);
    rc = sync_crl_encode(&crl, &cb, err);
    if (rc == 0)
        rc = put_section(w, SEC_CRL, cb.data, cb.len, err);
    sn_buf_free(&cb);
    sync_crl_free(&crl);
    return rc;
}

int node_carried_put_trust(node_store *st, sn_buf *out, uint32_t *count, sn_err *err)
{
    log_writer w = {.b = out, .sections = 0};
    int rc = node_trust_cert_each(st, put_cert, &w, err);
    if (rc == 0)
        rc = put_crl(&w, st, err);
    *count = w.sections;
    return rc;
}

int node_logfile_export(node_store *st, const crdt_vv *peer_held, const char *path,
                        size_t *count, sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, NODE_LOGFILE_MAX);
    log_writer w = {.b = &b, .sections = 0};
    uint8_t header[LOG_HEADER] = {0};
    memcpy(header, LOG_MAGIC, 8);
    header[8] = LOG_VERSION;
    sync_cert own;
    int rc = node_trust_own(st, &own, err); /* an unenrolled node cannot sign what it sends */
    if (rc == 0)
        rc = sn_buf_append(&b, header, sizeof header, err);
    if (rc == 0)
        rc = node_carried_put_trust(st, &b, &w.sections, err);
    node_export_stats xs = {0};
    if (rc == 0)
        rc = node_store_export_units(st, peer_held, put_unit, put_head, &w, &xs, err);
    if (rc == 0)
        rc = node_store_export_proofs(st, put_proof, &w, NULL, err);
    if (rc == 0) {
        sn_store_u32be(b.data + 12, w.sections);
        uint8_t sum[LOG_TRAILER];
        sn_blake2b(sum, sizeof sum, b.data, b.len);
        rc = sn_buf_append(&b, sum, sizeof sum, err);
    }
    if (rc == 0)
        rc = node_file_write_atomic(path, b.data, b.len, err);
    sn_buf_free(&b);
    if (rc == 0 && count != NULL)
        *count = xs.commits;
    if (rc != 0)
        sn_err_prefix(err, "exporting the log to '%s'", path);
    return rc;
}

typedef struct log_sections {
    node_body *of[LOG_KINDS]; /* by kind; index 0 unused */
    size_t n[LOG_KINDS];
} log_sections;

static void sections_free(log_sections *ls)
{
    for (int k = 0; k < LOG_KINDS; k++)
        sn_free(ls->of[k]);
    *ls = (log_sections){0};
}

/* Check the file's frame and sort its sections by kind (in file order within a kind). */
static int parse_logfile(const char *path, const sn_buf *b, log_sections *ls, sn_err *err)
{
    *ls = (log_sections){0};
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
    if (b->data[8] < LOG_VERSION) {
        sn_err_set(err, SN_EVERSION, "log file '%s' has format %u, from an older Outpost (this "
                   "build reads format %d)", path, b->data[8], LOG_VERSION);
        sn_err_hint(err, "export it again after upgrading the sending node");
        return SN_EVERSION;
    }
    uint8_t sum[LOG_TRAILER];
    size_t body_end = b->len - LOG_TRAILER;
    sn_blake2b(sum, sizeof sum, b->data, body_end);
    if (memcmp(sum, b->data + body_end, LOG_TRAILER) != 0 || b->data[9] != 0 ||
        b->data[10] != 0 || b->data[11] != 0) {
        sn_err_set(err, SN_ECORRUPT, "log file '%s' is damaged or truncated (checksum mismatch)",
                   path);
        sn_err_hint(err, "export it again from the sending node; nothing was imported");
        return SN_ECORRUPT;
    }
    uint32_t count = sn_load_u32be(b->data + 12);
    if (count > (body_end - LOG_HEADER) / 5)
        return sn_err_set(err, SN_ECORRUPT, "log file '%s' claims %u sections; too many for "
                          "its size", path, count);
    for (int k = 1; k < LOG_KINDS; k++) {
        ls->of[k] = sn_calloc(count == 0 ? 1 : count, sizeof *ls->of[k]);
        if (ls->of[k] == NULL) {
            sections_free(ls);
            return sn_err_set(err, SN_ENOMEM, "out of memory reading '%s'", path);
        }
    }
    size_t off = LOG_HEADER;
    int last = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint8_t kind = body_end - off >= 5 ? b->data[off] : 0;
        size_t len = body_end - off >= 5 ? sn_load_u32be(b->data + off + 1) : 0;
        const char *what = NULL;
        if (body_end - off < 5 || len > body_end - off - 5)
            what = "runs past the end";
        else if (kind < SEC_CERT || kind > SEC_PROOF)
            what = "is of an unknown kind";
        else if (kind < last || (kind == SEC_CRL && ls->n[SEC_CRL] > 0))
            what = "is out of order";
        if (what != NULL) {
            sections_free(ls);
            return sn_err_set(err, SN_ECORRUPT, "log file '%s': section %u %s", path, i + 1,
                              what);
        }
        ls->of[kind][ls->n[kind]++] = (node_body){.p = b->data + off + 5, .n = len};
        last = kind;
        off += 5 + len;
    }
    if (off != body_end) {
        sections_free(ls);
        return sn_err_set(err, SN_ECORRUPT, "log file '%s' has %zu unexpected bytes after its "
                          "sections", path, body_end - off);
    }
    return 0;
}

static int take_certs(node_store *st, const node_carried *c, sn_err *err)
{
    for (size_t i = 0; i < c->ncerts; i++) {
        sync_cert cert;
        int rc = sync_cert_parse(c->certs[i].p, c->certs[i].n, &cert, err);
        if (rc == 0)
            rc = node_trust_cert_add(st, &cert, err);
        if (rc != 0) {
            sn_err_prefix(err, "certificate %zu of %zu%s%s%s", i + 1, c->ncerts,
                          rc == SN_ECORRUPT ? "" : " ('", rc == SN_ECORRUPT ? "" : cert.name,
                          rc == SN_ECORRUPT ? "" : "')");
            return rc;
        }
    }
    return 0;
}

static int take_crl(node_store *st, const node_carried *c, node_logfile_stats *stats,
                    sn_err *err)
{
    if (c->crl == NULL)
        return 0;
    sync_crl crl = {0};
    bool taken = false;
    int rc = sync_crl_parse(c->crl->p, c->crl->n, &crl, err);
    if (rc == 0)
        rc = node_trust_crl_offer(st, &crl, &taken, err);
    if (rc != 0)
        sn_err_prefix(err, "the revocation list");
    stats->crl_taken = taken;
    stats->crl_number = crl.number;
    sync_crl_free(&crl);
    return rc;
}

int node_carried_take(node_store *st, const node_carried *c, node_logfile_stats *stats,
                      sn_err *err)
{
    int rc = take_certs(st, c, err);
    if (rc == 0)
        rc = take_crl(st, c, stats, err);
    if (rc == 0)
        rc = node_store_import_units(st, c->units, c->nunits, &stats->units, err);
    size_t heads_equiv = 0;
    if (rc == 0)
        rc = node_store_offer_checkpoints(st, c->heads, c->nheads, &heads_equiv, err);
    size_t proofs_equiv = 0;
    if (rc == 0)
        rc = node_store_offer_proofs(st, c->proofs, c->nproofs, &proofs_equiv, err);
    stats->units.equivocations += heads_equiv + proofs_equiv;
    return rc;
}

int node_logfile_import(node_store *st, const char *path, node_logfile_stats *stats,
                        sn_err *err)
{
    node_logfile_stats local;
    if (stats == NULL)
        stats = &local;
    *stats = (node_logfile_stats){0};
    sn_buf b;
    int rc = node_file_read(path, NODE_LOGFILE_MAX, &b, err);
    if (rc != 0)
        return rc;
    log_sections ls = {0};
    rc = parse_logfile(path, &b, &ls, err);
    sync_cert ca;
    if (rc == 0)
        rc = node_trust_ca(st, &ca, err); /* nothing can be verified before enrolment */
    bool batch = false;
    if (rc == 0)
        rc = node_store_batch_begin(st, err);
    batch = rc == 0;
    node_carried c = {
        .certs = ls.of[SEC_CERT], .ncerts = ls.n[SEC_CERT],
        .crl = ls.n[SEC_CRL] > 0 ? &ls.of[SEC_CRL][0] : NULL,
        .units = ls.of[SEC_UNIT], .nunits = ls.n[SEC_UNIT],
        .heads = ls.of[SEC_HEAD], .nheads = ls.n[SEC_HEAD],
        .proofs = ls.of[SEC_PROOF], .nproofs = ls.n[SEC_PROOF],
    };
    if (rc == 0)
        rc = node_carried_take(st, &c, stats, err);
    if (batch && rc == 0)
        rc = node_store_batch_commit(st, err);
    else if (batch)
        node_store_batch_abort(st);
    if (rc == 0)
        rc = node_store_apply_pending(st, &stats->applied, err);
    if (rc != 0)
        sn_err_prefix(err, "importing '%s'", path);
    sections_free(&ls);
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
