/* node/keyfile.h - the node's secret keys on disk: `DIR/keys`, mode 0600. */
#ifndef SN_NODE_KEYFILE_H
#define SN_NODE_KEYFILE_H

#include "base/err.h"

/* Generate the node's key pairs and write them to DIR/keys, created exclusively with mode
 * 0600 and fsynced. SN_EINVAL when a key file already exists, SN_EIO. */
SN_NODISCARD int node_keyfile_create(const char *dir, sn_err *err);
/* Read DIR/keys. Refuses a file readable by others (mode beyond 0600: SN_EAUTH with the
 * chmod to run), a malformed one (SN_ECORRUPT naming the line), a missing one
 * (SN_ENOTFOUND). The caller wipes *out with sync_keys_wipe when done. */
struct sync_keys;
SN_NODISCARD int node_keyfile_load(const char *dir, struct sync_keys *out, sn_err *err);

/* Remove DIR/keys (clean-up after a failed init). */
void node_keyfile_remove(const char *dir);

#endif
