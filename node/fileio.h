/* node/fileio.h - whole-file reads with a limit, and atomic, durable file writes. */
#ifndef SN_NODE_FILEIO_H
#define SN_NODE_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* Write `len` bytes to `path` atomically: a temporary file (mode 0600), fsync, rename. On
 * failure nothing is left at `path` or at the temporary name. SN_EIO naming the path. */
SN_NODISCARD int node_file_write_atomic(const char *path, const uint8_t *data, size_t len,
                                        sn_err *err);

/* Read a regular file of at most `limit` bytes into `out` (initialised here; the caller
 * frees it). SN_ENOTFOUND, SN_EIO, SN_EINVAL (not a regular file), SN_ETOOBIG. */
SN_NODISCARD int node_file_read(const char *path, size_t limit, sn_buf *out, sn_err *err);

#endif
