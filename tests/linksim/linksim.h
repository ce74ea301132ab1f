/* tests/linksim/linksim.h - the link simulator's configuration and its proxy entry point. */
#ifndef SN_TESTS_LINKSIM_H
#define SN_TESTS_LINKSIM_H

#include <stdint.h>
#include <sys/socket.h>

/* Bytes queued for delivery in one direction above which linksim stops reading the
 * sending side; reading resumes once the queue drops back to this size. */
#define LINKSIM_QUEUE_MAX ((size_t)1 << 20)

/* Everything the command line decides. Zero in a limit means "off". */
typedef struct linksim_config {
    struct sockaddr_storage listen_addr; /* where clients connect (port 0: any free port) */
    struct sockaddr_storage target_addr; /* where each accepted connection is forwarded */
    char listen_text[80];                /* both addresses as the user wrote them, for logs */
    char target_text[80];
    uint64_t latency_ms;      /* one-way delay added in each direction */
    uint64_t bandwidth;       /* bytes per second per direction; 0 = unlimited */
    uint64_t cut_every;       /* reset a connection after this many delivered bytes; 0 = never */
    uint64_t cut_random_mean; /* mean of the exponential cut budget; 0 = never */
    uint64_t drop_first;      /* reset the first N accepted connections at once */
    uint64_t seed;            /* seeds the random cut budgets */
    const char *stats_path;   /* rewritten atomically after each connection and at exit */
    const char *port_path;    /* receives the bound port once listening; may be NULL */
} linksim_config;

/* Listen on cfg->listen_addr and shape every accepted connection until SIGTERM or
 * SIGINT. Borrows `cfg` for the whole call. Logs one line per connection to stderr.
 * Returns the process exit status: 0 after a clean exit on a signal, 1 when the proxy
 * could not start (the reason is printed to stderr first). */
int linksim_proxy_run(const linksim_config *cfg);

#endif
