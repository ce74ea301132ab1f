/* cli/status_view.h - the sync part of `outpost status` (cli/status_view.c). */
#ifndef SN_CLI_STATUS_VIEW_H
#define SN_CLI_STATUS_VIEW_H

#include "cli/cli.h"
#include "node/status.h"

/* Append the report for this store: ",\"sync\":{...}" under --json, else the hub's table
 * of nodes or the site's own view (nothing when the store is not enrolled). */
SN_NODISCARD int cli_status_sync(cli_ctx *ctx, node_store *st, sn_err *err);

/* The alert limits: node_status_limits_default overlaid with the configuration. */
void cli_status_limits(const cli_ctx *ctx, node_status_limits *out);

#endif
