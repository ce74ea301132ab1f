/* node/store_checkpoint.c - is a checkpoint one this store verified and kept already? A
 * peer repeats its heads every session and units come twice; such a checkpoint, byte for
 * byte the stored one (signature included), needs no second signature check. */
#include <string.h>

#include "node/store_int.h"
#include "sync/unit.h"

int node_checkpoint_is_held(node_store *st, const sync_checkpoint *cp, bool *held, sn_err *err)
{
    *held = false;
    uint32_t idx = node_origin_find(st, &cp->origin);
    if (idx == 0)
        return 0;
    uint8_t b[SYNC_CHECKPOINT_LEN];
    sync_checkpoint_encode(cp, b);
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT bytes FROM checkpoint WHERE origin = ?1 AND seq = ?2",
                              &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "reading checkpoints");
    sqlite3_bind_int64(s, 1, idx);
    sqlite3_bind_int64(s, 2, (int64_t)cp->seq);
    rc = sqlite3_step(s);
    *held = rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == SYNC_CHECKPOINT_LEN &&
            memcmp(sqlite3_column_blob(s, 0), b, SYNC_CHECKPOINT_LEN) == 0;
    node_stmt_release(st, s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return node_store_fail(st, rc, err, "reading checkpoints");
    return 0;
}
