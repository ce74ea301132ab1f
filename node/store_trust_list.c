/* node/store_trust_list.c - listing the certificates a node's trust store holds
 * (node_trust_cert_each in node/trust.h), for `outpost trust show`. */
#include "node/trust.h"

#include "node/store_int.h"

int node_trust_cert_each(node_store *st, node_trust_cert_fn fn, void *ctx, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, "SELECT bytes FROM trust_cert ORDER BY replica, serial", &s);
    if (rc != SQLITE_OK)
        return node_store_fail(st, rc, err, "listing certificates");
    int res = 0;
    while (res == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        sync_cert c;
        res = sync_cert_parse(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), &c,
                              err);
        if (res == 0)
            res = fn(ctx, &c, err);
    }
    if (res == 0 && rc != SQLITE_DONE)
        res = node_store_fail(st, rc, err, "listing certificates");
    node_stmt_release(st, s);
    return res;
}
