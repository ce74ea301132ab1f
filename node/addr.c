/* node/addr.c - "HOST:PORT" addresses (addr.h). */
#include "node/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int node_addr_split(const char *addr, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) >= pcap)
        return SN_EINVAL;
    const char *h = addr;
    size_t hl = (size_t)(colon - addr);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= hcap)
        return SN_EINVAL;
    /* Only digits: strtol would take blanks, signs and "0x". */
    if (strspn(colon + 1, "0123456789") != strlen(colon + 1))
        return SN_EINVAL;
    long p = strtol(colon + 1, NULL, 10);
    if (p > 65535 || strlen(colon + 1) > 5)
        return SN_EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    snprintf(port, pcap, "%s", colon + 1);
    return 0;
}

int node_addr_numeric(const char *what, const char *addr, struct sockaddr_storage *out,
                      sn_err *err)
{
    char host[256], port[8];
    if (node_addr_split(addr, host, sizeof host, port, sizeof port) != 0)
        return sn_err_set(err, SN_ECONFIG, "%s '%s' is not HOST:PORT", what, addr);
    uint16_t p = (uint16_t)strtol(port, NULL, 10); /* checked by node_addr_split */
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(p);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(p);
        return 0;
    }
    return sn_err_set(err, SN_ECONFIG, "%s '%s' needs a numeric IP address", what, addr);
}
