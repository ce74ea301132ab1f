/* node/logfile.h - log files: commits carried by hand between nodes (`outpost log export`
 * / `log import`), and vector files that tell an exporter what a peer already holds. */
#ifndef SN_NODE_LOGFILE_H
#define SN_NODE_LOGFILE_H

#include <stddef.h>

#include "base/err.h"
#include "crdt/vv.h"
#include "node/store.h"

/* Largest log file accepted on import. */
#define NODE_LOGFILE_MAX ((size_t)1 << 30)

/* Write every held commit the peer lacks (peer_held NULL = all) to a new file at `path`
 * (written to a temporary name, fsynced, then renamed). *count gets the number of
 * commits written. SN_EIO naming the path, SN_ENOMEM. */
SN_NODISCARD int node_logfile_export(node_store *st, const crdt_vv *peer_held, const char *path,
                                     size_t *count, sn_err *err);

/* Verify the whole file (magic, version, framing, checksum) before touching the store,
 * then import its commits. A damaged, truncated or foreign file is refused with the store
 * unchanged: SN_ECORRUPT saying what is wrong, SN_EVERSION for a newer file format,
 * SN_ENOTFOUND / SN_EIO for the path. `stats` may be NULL. */
SN_NODISCARD int node_logfile_import(node_store *st, const char *path, node_import_stats *stats,
                                     sn_err *err);

/* Vector files: one line per origin, "<32 hex replica> <epoch> <seq>", '#' comments. */
SN_NODISCARD int node_vecfile_write(const crdt_vv *vv, const char *path, sn_err *err);
SN_NODISCARD int node_vecfile_read(crdt_vv *out, const char *path, sn_err *err);
/* Text form of a vector (same format) appended to `out`. */
SN_NODISCARD int node_vector_format(const crdt_vv *vv, sn_buf *out, sn_err *err);

#endif
