/* node/logfile.h - log files: commits carried by hand between nodes (`outpost log export`
 * / `log import`), and vector files that tell an exporter what a peer already holds. */
#ifndef SN_NODE_LOGFILE_H
#define SN_NODE_LOGFILE_H

#include <stddef.h>

#include "base/err.h"
#include "crdt/vv.h"
#include "node/store.h"
#include "node/units.h"

/* Largest log file accepted on import. */
#define NODE_LOGFILE_MAX ((size_t)1 << 30)

/* Write every held commit the peer lacks (peer_held NULL = all) as signed units to a new
 * file at `path` (temporary name, fsynced, renamed), with the certificates and revocation
 * list a receiver needs and this node's latest checkpoint of every origin. *count gets the
 * number of commits written. SN_ENOTFOUND when this node is not enrolled (it cannot sign),
 * SN_EIO naming the path, SN_ENOMEM. */
SN_NODISCARD int node_logfile_export(node_store *st, const crdt_vv *peer_held, const char *path,
                                     size_t *count, sn_err *err);

typedef struct node_logfile_stats {
    node_unit_stats units;
    bool crl_taken;      /* the file's revocation list was newer and is now held */
    uint64_t crl_number; /* of the file's list (0: none) */
    size_t applied;
} node_logfile_stats;

/* What a log file or a bundle carries (bytes borrowed), by kind. */
typedef struct node_carried {
    const node_body *certs; /* certificates (sync/cert.h) */
    size_t ncerts;
    const node_body *crl;   /* a revocation list (sync/crl.h), or NULL */
    const node_body *units; /* transfer units (sync/unit.h) */
    size_t nunits;
    const node_body *heads; /* head checkpoints */
    size_t nheads;
    const node_body *proofs; /* proofs of equivocation (sync/proof.h) */
    size_t nproofs;
} node_carried;

/* Append every certificate held and the revocation list held (when there is one) as
 * records `kind u8 | length u32be | bytes`, kinds 1 and 2: the sections of a log file, the
 * records of a bundle (sync/bundle.h). *count gets the number of records appended. */
SN_NODISCARD int node_carried_put_trust(node_store *st, sn_buf *out, uint32_t *count,
                                        sn_err *err);

/* Take what a file carries inside the caller's open batch: the certificates (each must
 * chain to the pinned CA), the revocation list (kept when newer), the units (verified
 * before decoding, node/units.h) and the heads. Nothing is applied. On failure the caller
 * aborts its batch; the codes are those of node_logfile_import. */
SN_NODISCARD int node_carried_take(node_store *st, const node_carried *c,
                                   node_logfile_stats *stats, sn_err *err);

/* Check the whole file's frame (magic, version, sections, checksum), then in one batch take
 * its certificates (each must chain to the pinned CA), its revocation list, its units
 * (verified before decoding, node/units.h) and head checkpoints; then apply. Anything bad
 * rolls all of it back and the store is unchanged: SN_ECORRUPT saying what is wrong,
 * SN_EAUTH naming the unit or certificate and the check that failed, SN_EVERSION for
 * another file format, SN_ENOTFOUND (with the enrolment hint) on a node not enrolled,
 * SN_ENOTFOUND / SN_EIO for the path. `stats` may be NULL. */
SN_NODISCARD int node_logfile_import(node_store *st, const char *path, node_logfile_stats *stats,
                                     sn_err *err);

/* Vector files: one line per origin, "<32 hex replica> <epoch> <seq>", '#' comments. */
SN_NODISCARD int node_vecfile_write(const crdt_vv *vv, const char *path, sn_err *err);
SN_NODISCARD int node_vecfile_read(crdt_vv *out, const char *path, sn_err *err);
/* Text form of a vector (same format) appended to `out`. */
SN_NODISCARD int node_vector_format(const crdt_vv *vv, sn_buf *out, sn_err *err);

#endif
