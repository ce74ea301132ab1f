/* tests/linksim/linksim_main.c - the `linksim` command line: options, usage, exit status.
 * Exit status: 0 after a clean exit on SIGTERM/SIGINT (or --help), 1 when the proxy cannot
 * start, 2 for bad command-line input. */
#include "linksim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

static const char usage_text[] =
    "usage: linksim --listen HOST:PORT --to HOST:PORT [options]\n"
    "\n"
    "A TCP proxy that makes a loopback connection behave like a slow, high-latency link\n"
    "that is cut without warning. Each accepted connection is forwarded to --to.\n"
    "\n"
    "  --listen HOST:PORT    address to accept clients on (PORT 0 picks a free port)\n"
    "  --to HOST:PORT        address each connection is forwarded to\n"
    "  --latency-ms N        one-way delay added in each direction (default 0)\n"
    "  --bandwidth BYTES/S   per-direction rate limit (default unlimited)\n"
    "  --cut-every BYTES     reset a connection once BYTES have been delivered on it,\n"
    "                        both directions together; each connection starts afresh\n"
    "  --cut-random MEAN     reset each connection after an exponentially distributed\n"
    "                        number of delivered bytes with this mean (with --cut-every,\n"
    "                        the smaller budget wins)\n"
    "  --drop-first N        reset the first N connections as soon as they are accepted\n"
    "  --seed N              seed for --cut-random (default 1)\n"
    "  --stats FILE          after each connection and at exit, atomically rewrite FILE\n"
    "                        with `connections N`, `cuts N`, `bytes_up N`, `bytes_down N`\n"
    "                        (connections counts dropped ones too; bytes are delivered\n"
    "                        bytes, up = client to target)\n"
    "  --port-file FILE      write the bound port to FILE once listening\n"
    "  --help                show this help\n"
    "\n"
    "HOST is a numeric IPv4 address, [IPv6] in brackets, or localhost. Runs until SIGTERM\n"
    "or SIGINT; logs one line per connection to stderr. Exit status: 0 clean exit, 1 the\n"
    "proxy could not start, 2 bad command line.\n";

/* Print "linksim: <message>" and a pointer to --help; returns exit status 2. */
__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("linksim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\ntry 'linksim --help'\n", stderr);
    va_end(ap);
    return 2;
}

/* Parse a whole decimal number in [min, max]; on failure print why and return false. */
static bool parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = 0;
    bool digits = s[0] >= '0' && s[0] <= '9'; /* strtoull accepts " -1"; we do not */
    if (digits)
        v = strtoull(s, &end, 10);
    if (!digits || errno != 0 || *end != '\0' || v < min || v > max) {
        usage_error("%s: '%s' is not a whole number from %" PRIu64 " to %" PRIu64, opt, s, min,
                    max);
        return false;
    }
    *out = v;
    return true;
}

/* Parse HOST:PORT into *ss; PORT 0 is allowed only when `allow_any_port`. */
static bool parse_addr(const char *opt, const char *s, bool allow_any_port,
                       struct sockaddr_storage *ss, char *text, size_t text_size)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s) {
        usage_error("%s: '%s' is not HOST:PORT (for example 127.0.0.1:7000)", opt, s);
        return false;
    }
    size_t hlen = (size_t)(colon - s);
    bool v6 = s[0] == '[' && hlen >= 2 && s[hlen - 1] == ']';
    if (v6) {
        s++;
        hlen -= 2;
    }
    if (hlen >= sizeof host) {
        usage_error("%s: host in '%s' is too long", opt, s);
        return false;
    }
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (!v6 && strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    uint64_t port = 0;
    char what[64];
    snprintf(what, sizeof what, "%s port", opt);
    if (!parse_u64(what, colon + 1, allow_any_port ? 0 : 1, 65535, &port))
        return false;
    int rc = v6 ? uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss)
                : uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss);
    if (rc != 0) {
        usage_error("%s: '%s' is not a numeric IP address (IPv6 goes in brackets)", opt, host);
        return false;
    }
    snprintf(text, text_size, "%s", v6 ? s - 1 : s);
    return true;
}

enum {
    OPT_LISTEN = 256,
    OPT_TO,
    OPT_LATENCY,
    OPT_BANDWIDTH,
    OPT_CUT_EVERY,
    OPT_CUT_RANDOM,
    OPT_DROP_FIRST,
    OPT_SEED,
    OPT_STATS,
    OPT_PORT_FILE,
    OPT_HELP,
};

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"to", required_argument, NULL, OPT_TO},
        {"latency-ms", required_argument, NULL, OPT_LATENCY},
        {"bandwidth", required_argument, NULL, OPT_BANDWIDTH},
        {"cut-every", required_argument, NULL, OPT_CUT_EVERY},
        {"cut-random", required_argument, NULL, OPT_CUT_RANDOM},
        {"drop-first", required_argument, NULL, OPT_DROP_FIRST},
        {"seed", required_argument, NULL, OPT_SEED},
        {"stats", required_argument, NULL, OPT_STATS},
        {"port-file", required_argument, NULL, OPT_PORT_FILE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    linksim_config cfg = {.seed = 1};
    bool have_listen = false, have_to = false;
    opterr = 0; /* we print our own messages */
    for (;;) {
        int prev = optind;
        int o = getopt_long(argc, argv, ":", opts, NULL);
        if (o == -1)
            break;
        bool ok = true;
        switch (o) {
        case OPT_LISTEN:
            ok = have_listen = parse_addr("--listen", optarg, true, &cfg.listen_addr,
                                          cfg.listen_text, sizeof cfg.listen_text);
            break;
        case OPT_TO:
            ok = have_to = parse_addr("--to", optarg, false, &cfg.target_addr, cfg.target_text,
                                      sizeof cfg.target_text);
            break;
        case OPT_LATENCY:
            ok = parse_u64("--latency-ms", optarg, 0, UINT64_C(86400000), &cfg.latency_ms);
            break;
        case OPT_BANDWIDTH:
            ok = parse_u64("--bandwidth", optarg, 1, UINT64_C(1000000000000), &cfg.bandwidth);
            break;
        case OPT_CUT_EVERY:
            ok = parse_u64("--cut-every", optarg, 1, UINT64_MAX / 2, &cfg.cut_every);
            break;
        case OPT_CUT_RANDOM:
            ok = parse_u64("--cut-random", optarg, 1, UINT64_C(1000000000000000),
                           &cfg.cut_random_mean);
            break;
        case OPT_DROP_FIRST:
            ok = parse_u64("--drop-first", optarg, 0, UINT64_C(1000000000), &cfg.drop_first);
            break;
        case OPT_SEED:
            ok = parse_u64("--seed", optarg, 0, UINT64_MAX, &cfg.seed);
            break;
        case OPT_STATS:
            cfg.stats_path = optarg;
            break;
        case OPT_PORT_FILE:
            cfg.port_path = optarg;
            break;
        case OPT_HELP:
            fputs(usage_text, stdout);
            return 0;
        case ':':
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            /* getopt_long has stepped past the offending word. */
            return usage_error("unknown option '%s'", argv[optind > prev ? optind - 1 : prev]);
        }
        if (!ok)
            return 2;
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!have_listen)
        return usage_error("--listen HOST:PORT is required");
    if (!have_to)
        return usage_error("--to HOST:PORT is required");
    return linksim_proxy_run(&cfg);
}
