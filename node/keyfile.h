/* node/keyfile.h - secret key files, mode 0600: the node's `DIR/keys`, and the format it
 * shares with the certificate authority's `ca.key` (node/ca.h). */
#ifndef SN_NODE_KEYFILE_H
#define SN_NODE_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Generate the node's key pairs and write them to DIR/keys, created exclusively with mode
 * 0600 and fsynced. SN_EINVAL when a key file already exists, SN_EIO. */
SN_NODISCARD int node_keyfile_create(const char *dir, sn_err *err);
/* Write the key pairs `k` to DIR/keys as node_keyfile_create does, with the same codes
 * (the fuzz harness gives its stores a known bundle key this way, after
 * node_keyfile_remove). */
struct sync_keys;
SN_NODISCARD int node_keyfile_save(const char *dir, const struct sync_keys *k, sn_err *err);
/* Read DIR/keys. Refuses a file readable by others (mode beyond 0600: SN_EAUTH with the
 * chmod to run), a malformed one (SN_ECORRUPT naming the line), a missing one
 * (SN_ENOTFOUND). The caller wipes *out with sync_keys_wipe when done. */
SN_NODISCARD int node_keyfile_load(const char *dir, struct sync_keys *out, sn_err *err);

/* Remove DIR/keys (clean-up after a failed init). */
void node_keyfile_remove(const char *dir);

/* The format shared by every secret key file (the node's, the CA's `ca.key`): '#' comment
 * lines and one "label hex" line per key, in a fixed order. */
typedef struct node_keyfile_field {
    const char *label;
    uint8_t *key; /* the bytes written, or filled by node_keyfile_read */
    size_t len;   /* at most 64 */
} node_keyfile_field;
#define NODE_KEYFILE_FIELDS_MAX 8

/* Write `comment` (one line, without "# ") and f[0..n) to `path`, created exclusively with
 * mode 0600 and fsynced. SN_EINVAL when a file already exists there (the caller adds a
 * hint), SN_EIO. On failure nothing is left at `path`. */
SN_NODISCARD int node_keyfile_write(const char *path, const char *comment,
                                    const node_keyfile_field *f, size_t n, sn_err *err);
/* Read f[0..n), in that order, from `path`: SN_EAUTH (with the chmod to run) when the file
 * is readable by group or others, SN_ECORRUPT naming the line, SN_ENOTFOUND, SN_EIO. On
 * failure every field's bytes are wiped. */
SN_NODISCARD int node_keyfile_read(const char *path, const node_keyfile_field *f, size_t n,
                                   sn_err *err);

#endif
