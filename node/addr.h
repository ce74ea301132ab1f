/* node/addr.h - network addresses as the configuration and the command line spell them,
 * "HOST:PORT" or "[IPv6]:PORT": split for dialling (the host may be a name), or parsed to
 * a socket address for listening (the host must be a numeric IP address). */
#ifndef SN_NODE_ADDR_H
#define SN_NODE_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

#include "base/err.h"

/* Split `addr` into its host (brackets of an IPv6 address removed) and its port, a
 * decimal number 0..65535. Returns 0, or SN_EINVAL when it is not HOST:PORT or a part does
 * not fit its buffer. */
SN_NODISCARD int node_addr_split(const char *addr, char *host, size_t hcap, char *port,
                                 size_t pcap);

/* Parse `addr` ("127.0.0.1:7480", "[::1]:0") into *out. `what` names the setting in the
 * message ("listen address"). SN_ECONFIG: "<what> 'ADDR' is not HOST:PORT" or "... needs a
 * numeric IP address". */
SN_NODISCARD int node_addr_numeric(const char *what, const char *addr,
                                   struct sockaddr_storage *out, sn_err *err);

#endif
