/* node/daemon.c - the libuv loop of `outpost serve` / `outpost sync --once` (daemon.h):
 * TCP connections, each driving one node_link; dialers with backoff and jitter; the poll
 * that notices local commits; signals. */
#include "node/daemon.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/log.h"
#include "node/addr.h"
#include "node/fileio.h"

#define READ_BUF 65536u
#define WRITE_QUEUE_HIGH ((size_t)512 << 10)

typedef struct daemon daemon_t;
typedef struct dialer dialer;

typedef struct conn {
    uv_tcp_t tcp;
    daemon_t *d;
    dialer *from;      /* the dialer that made it, NULL when accepted */
    node_link *link;
    char label[96];
    bool closing;
    bool cut;          /* the connection ended under a session still running */
    uv_shutdown_t shut;
    struct conn *next;
    uint8_t rbuf[READ_BUF];
} conn;

struct dialer {
    daemon_t *d;
    const char *addr;
    uint32_t fails;
    bool busy; /* resolving, connecting or connected */
    uv_timer_t retry;
    uv_getaddrinfo_t gai;
    uv_connect_t connect;
    conn *c;
};

struct daemon {
    uv_loop_t loop;
    node_store *st;
    const node_daemon_opts *o;
    node_daemon_report report;
    uv_tcp_t server;
    bool listening;
    uv_timer_t tick;
    uv_signal_t sigint, sigterm;
    node_http *http;       /* the status endpoints, or NULL */
    uv_timer_t status;     /* refreshes their snapshot */
    bool status_failing;   /* the last build failed (logged once until one succeeds) */
    dialer dialers[NODE_DAEMON_DIAL_MAX];
    conn *conns;
    uint64_t data_version;
    bool stopping;
    int once_rc;
    sn_err once_err;
};

static void conn_close(conn *c);
static void conn_end(conn *c);

static void conn_pump(conn *c);

static void write_done(uv_write_t *w, int status)
{
    conn *c = w->data;
    sn_free(w);
    if (status < 0 || c->closing)
        return;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) < WRITE_QUEUE_HIGH / 2)
        conn_pump(c);
}


/* Hand the link's output to libuv; when the link has ended, close once it is written. */
static void conn_flush(conn *c)
{
    if (c->closing)
        return;
    size_t n = 0;
    const uint8_t *p = node_link_output(c->link, &n);
    if (n > 0) {
        uv_write_t *w = sn_malloc(sizeof *w + n);
        if (w == NULL) {
            sn_log_error("sync %s: out of memory writing", c->label);
            conn_close(c);
            return;
        }
        memcpy((uint8_t *)(w + 1), p, n);
        uv_buf_t b = uv_buf_init((char *)(w + 1), (unsigned)n);
        w->data = c;
        int rc = uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, write_done);
        node_link_output_consumed(c->link, n);
        if (rc < 0) {
            sn_free(w);
            conn_close(c);
            return;
        }
    }
    if (node_link_state_get(c->link) >= NODE_LINK_DONE)
        conn_end(c);
}

static void conn_pump(conn *c)
{
    if (c->closing || uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WRITE_QUEUE_HIGH)
        return;
    sn_err err = SN_ERR_INIT;
    if (node_link_pump(c->link, &err) != 0)
        sn_log_debug("sync %s: %s", c->label, err.msg); /* the link logged it; closed below */
    conn_flush(c);
}

static void pump_all(daemon_t *d, conn *except)
{
    for (conn *c = d->conns; c != NULL; c = c->next)
        if (c != except && !c->closing)
            conn_pump(c);
}

static void schedule_redial(dialer *dl);

static void after_close(uv_handle_t *h)
{
    conn *c = h->data;
    daemon_t *d = c->d;
    for (conn **pp = &d->conns; *pp != NULL; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    if (c->link != NULL) {
        node_http_changed(d->http); /* a session ended: its figures changed */
        const sn_err *e = node_link_error(c->link);
        node_link_state s = node_link_state_get(c->link);
        d->report.last = *node_link_stats_get(c->link);
        if (s == NODE_LINK_DONE) {
            d->report.sessions_ok++;
        } else {
            d->report.sessions_failed++;
            if (d->o->once && d->once_rc == 0) {
                /* A cut link is for trying again later, whatever the link made of it. */
                d->once_rc = c->cut ? SN_EBUSY : e->code != 0 ? e->code : SN_EPROTO;
                d->once_err = *e;
                d->once_err.code = d->once_rc;
                if (d->once_err.msg[0] == '\0')
                    snprintf(d->once_err.msg, sizeof d->once_err.msg, "link to %s ended early",
                             c->label);
            }
        }
        node_link_free(c->link);
    }
    dialer *dl = c->from;
    sn_free(c);
    if (dl != NULL) {
        dl->c = NULL;
        dl->busy = false;
        if (d->o->once)
            d->stopping = true;
        else if (!d->stopping)
            schedule_redial(dl);
    }
    if (d->stopping && d->conns == NULL) {
        uv_stop(&d->loop);
    }
}

static void after_shutdown_close(uv_shutdown_t *req, int status)
{
    (void)status;
    conn *c = req->data;
    uv_close((uv_handle_t *)&c->tcp, after_close);
}

static void conn_close(conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, after_close);
}

/* Close once what is queued has been written (a GOODBYE, the last ACK). */
static void conn_end(conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, after_shutdown_close) != 0)
        uv_close((uv_handle_t *)&c->tcp, after_close);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    conn *c = h->data;
    *b = uv_buf_init((char *)c->rbuf, READ_BUF);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    conn *c = s->data;
    sn_err err = SN_ERR_INIT;
    if (n > 0) {
        if (node_link_input(c->link, (const uint8_t *)b->base, (size_t)n, &err) != 0)
            sn_log_debug("sync %s: %s", c->label, err.msg); /* logged by the link */
        conn_flush(c);
        if (node_link_take_changed(c->link)) {
            node_http_changed(c->d->http);
            pump_all(c->d, c);
        }
        return;
    }
    if (n == 0)
        return;
    if (n != UV_EOF)
        sn_log_info("sync %s: connection lost: %s", c->label, uv_strerror((int)n));
    c->cut = node_link_state_get(c->link) < NODE_LINK_DONE;
    if (node_link_eof(c->link, &err) != 0)
        sn_log_debug("sync %s: %s", c->label, err.msg); /* logged by the link */
    conn_flush(c);
    conn_close(c);
}

static int conn_start(conn *c, bool initiator, sn_err *err)
{
    node_link_opts lo = c->d->o->link;
    lo.initiator = initiator;
    lo.once = c->d->o->once;
    lo.peer_label = c->label;
    int rc = node_link_new(&c->link, c->d->st, &lo, err);
    if (rc == 0 && initiator)
        rc = node_link_start(c->link, err);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0 ? SN_EIO : 0;
    if (rc != 0)
        return rc;
    conn_flush(c);
    return 0;
}

static conn *conn_new(daemon_t *d)
{
    conn *c = sn_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->d = d;
    uv_tcp_init(&d->loop, &c->tcp);
    c->tcp.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    c->next = d->conns;
    d->conns = c;
    return c;
}

static void peer_label(conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[64] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    snprintf(c->label, sizeof c->label, "%s:%d", ip, port);
}

static size_t handshakes(const daemon_t *d)
{
    size_t n = 0;
    for (const conn *c = d->conns; c != NULL; c = c->next)
        if (!c->closing && c->link != NULL && node_link_state_get(c->link) == NODE_LINK_HANDSHAKE)
            n++;
    return n;
}

static void on_connection(uv_stream_t *server, int status)
{
    daemon_t *d = server->data;
    if (status < 0)
        return;
    conn *c = conn_new(d);
    if (c == NULL)
        return;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    peer_label(c);
    size_t cap = d->o->max_handshakes != 0 ? d->o->max_handshakes : 64;
    if (handshakes(d) >= cap) {
        sn_log_warn("sync %s: refused: %zu connections already in their handshake", c->label,
                    cap);
        conn_close(c);
        return;
    }
    sn_err err = SN_ERR_INIT;
    if (conn_start(c, false, &err) != 0) {
        sn_log_warn("sync %s: %s", c->label, err.msg);
        conn_close(c);
    }
}

/* ---- dialling ---- */

static void dial_failed(dialer *dl, const char *why)
{
    daemon_t *d = dl->d;
    d->report.connect_failures++;
    sn_log_warn("sync %s: cannot connect: %s", dl->addr, why);
    dl->busy = false;
    if (d->o->once) {
        if (d->once_rc == 0) {
            d->once_rc = SN_EBUSY;
            sn_err_set(&d->once_err, SN_EBUSY, "cannot reach %s: %s", dl->addr, why);
            sn_err_hint(&d->once_err, "check the address and the link, then try again");
        }
        d->stopping = true;
        if (d->conns == NULL)
            uv_stop(&d->loop);
        return;
    }
    schedule_redial(dl);
}

static void on_connect(uv_connect_t *req, int status)
{
    dialer *dl = req->data;
    conn *c = dl->c;
    if (status < 0) {
        dl->c = NULL;
        c->from = NULL;
        conn_close(c);
        dial_failed(dl, uv_strerror(status));
        return;
    }
    dl->fails = 0;
    sn_err err = SN_ERR_INIT;
    if (conn_start(c, true, &err) != 0) {
        sn_log_warn("sync %s: %s", c->label, err.msg);
        conn_close(c);
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    dialer *dl = req->data;
    daemon_t *d = dl->d;
    if (status < 0 || res == NULL) {
        if (res != NULL)
            uv_freeaddrinfo(res);
        dial_failed(dl, uv_strerror(status));
        return;
    }
    conn *c = conn_new(d);
    if (c == NULL) {
        uv_freeaddrinfo(res);
        dial_failed(dl, "out of memory");
        return;
    }
    c->from = dl;
    dl->c = c;
    snprintf(c->label, sizeof c->label, "%s", dl->addr);
    dl->connect.data = dl;
    int rc = uv_tcp_connect(&dl->connect, &c->tcp, res->ai_addr, on_connect);
    uv_freeaddrinfo(res);
    if (rc < 0) {
        dl->c = NULL;
        c->from = NULL;
        conn_close(c);
        dial_failed(dl, uv_strerror(rc));
    }
}

static void dial(dialer *dl)
{
    char host[256], port[8];
    if (node_addr_split(dl->addr, host, sizeof host, port, sizeof port) != 0) {
        dial_failed(dl, "not HOST:PORT");
        return;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    dl->busy = true;
    dl->gai.data = dl;
    int rc = uv_getaddrinfo(&dl->d->loop, &dl->gai, on_resolved, host, port, &hints);
    if (rc < 0)
        dial_failed(dl, uv_strerror(rc));
}

static void on_retry(uv_timer_t *t) { dial(t->data); }

static void schedule_redial(dialer *dl)
{
    const node_daemon_opts *o = dl->d->o;
    uint64_t lo = o->retry_min_ms != 0 ? o->retry_min_ms : 1000;
    uint64_t hi = o->retry_max_ms != 0 ? o->retry_max_ms : 300000;
    uint64_t delay = lo;
    for (uint32_t i = 0; i < dl->fails && delay < hi; i++)
        delay *= 2;
    if (delay > hi)
        delay = hi;
    /* Full jitter over the upper half, so many sites cut together do not redial together. */
    delay = delay / 2 + sn_random_uniform((uint32_t)(delay / 2 + 1));
    dl->fails++;
    dl->busy = true;
    uv_timer_start(&dl->retry, on_retry, delay, 0);
}

/* ---- timers, signals ---- */

static void on_tick(uv_timer_t *t)
{
    daemon_t *d = t->data;
    sn_err err = SN_ERR_INIT;
    for (conn *c = d->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (c->closing || c->link == NULL)
            continue;
        if (node_link_tick(c->link, 0, &err) != 0)
            sn_err_clear(&err); /* logged by the link; flushed and closed below */
        conn_flush(c);
    }
    /* Commits made by another connection (the CLI): push them. A link's own imports, its
     * acks and its drained write queue pump it (and the others) where they happen. */
    uint64_t v = 0;
    if (node_store_data_version(d->st, &v, &err) == 0 && v != d->data_version) {
        d->data_version = v;
        node_http_changed(d->http);
        pump_all(d, NULL);
    }
}

/* The status endpoints' snapshot: rebuilt here, on the loop thread, when it is due. */
static void on_status_tick(uv_timer_t *t)
{
    daemon_t *d = t->data;
    sn_err err = SN_ERR_INIT;
    bool built = false;
    if (node_http_refresh(d->http, d->st, &built, &err) != 0) {
        if (!d->status_failing)
            sn_log_warn("status endpoints: %s (the last report stays served)", err.msg);
        d->status_failing = true;
    } else if (built && d->status_failing) {
        sn_log_info("status endpoints: the report builds again");
        d->status_failing = false;
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    daemon_t *d = s->data;
    sn_log_info("outpost serve: signal %d, stopping", signum);
    d->stopping = true;
    for (conn *c = d->conns, *next; c != NULL; c = next) {
        next = c->next;
        conn_close(c);
    }
    if (d->conns == NULL)
        uv_stop(&d->loop);
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static int start_listen(daemon_t *d, sn_err *err)
{
    struct sockaddr_storage ss;
    int rc = node_addr_numeric("listen address", d->o->listen, &ss, err);
    if (rc != 0)
        return rc;
    uv_tcp_init(&d->loop, &d->server);
    d->server.data = d;
    rc = uv_tcp_bind(&d->server, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&d->server, 128, on_connection);
    if (rc != 0)
        return sn_err_set(err, SN_EIO, "cannot listen on %s: %s", d->o->listen, uv_strerror(rc));
    d->listening = true;
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&d->server, (struct sockaddr *)&bound, &len);
    int p = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
    sn_log_info("outpost serve: listening on %s (port %d)", d->o->listen, p);
    if (d->o->port_file != NULL) {
        char text[16];
        int tl = snprintf(text, sizeof text, "%d\n", p);
        return node_file_write_atomic(d->o->port_file, (const uint8_t *)text, (size_t)tl, err);
    }
    return 0;
}

int node_daemon_run(node_store *st, const node_daemon_opts *o, node_daemon_report *report,
                    sn_err *err)
{
    if (o->once && o->ndial == 0)
        return sn_err_set(err, SN_EINVAL, "sync --once needs a peer address");
    if (o->ndial > NODE_DAEMON_DIAL_MAX)
        return sn_err_set(err, SN_EINVAL, "at most %d peer addresses", NODE_DAEMON_DIAL_MAX);
    /* A peer that resets mid-write is an error to handle, not a reason to die. */
    signal(SIGPIPE, SIG_IGN);
    daemon_t *d = sn_calloc(1, sizeof *d);
    if (d == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory starting the daemon");
    d->st = st;
    d->o = o;
    int rc = uv_loop_init(&d->loop) == 0 ? 0 : SN_EIO;
    if (rc != 0) {
        sn_free(d);
        return sn_err_set(err, SN_EIO, "cannot start the event loop");
    }
    if (node_store_data_version(st, &d->data_version, err) != 0)
        sn_err_clear(err); /* the first poll tries again */
    if (o->listen != NULL && o->listen[0] != '\0' && !o->once)
        rc = start_listen(d, err);
    if (rc == 0 && o->http != NULL && !o->once)
        rc = node_http_open(&d->http, st, o->http, err);
    if (rc == 0) {
        if (d->http != NULL) {
            uv_timer_init(&d->loop, &d->status);
            d->status.data = d;
            uv_timer_start(&d->status, on_status_tick, 100, 100);
        }
        uv_timer_init(&d->loop, &d->tick);
        d->tick.data = d;
        uint64_t poll = o->poll_ms != 0 ? o->poll_ms : 250;
        uv_timer_start(&d->tick, on_tick, poll, poll);
        uv_signal_init(&d->loop, &d->sigint);
        uv_signal_init(&d->loop, &d->sigterm);
        d->sigint.data = d->sigterm.data = d;
        uv_signal_start(&d->sigint, on_signal, SIGINT);
        uv_signal_start(&d->sigterm, on_signal, SIGTERM);
        for (size_t i = 0; i < o->ndial; i++) {
            dialer *dl = &d->dialers[i];
            dl->d = d;
            dl->addr = o->dial[i];
            uv_timer_init(&d->loop, &dl->retry);
            dl->retry.data = dl;
            dial(dl);
        }
        uv_run(&d->loop, UV_RUN_DEFAULT);
        if (o->once && d->once_rc != 0) {
            rc = d->once_rc;
            if (err != NULL) {
                *err = d->once_err;
                err->code = rc;
            }
        } else if (o->once && d->report.sessions_ok == 0) {
            rc = sn_err_set(err, SN_EBUSY, "the session with %s did not complete", o->dial[0]);
        }
    }
    /* Close every handle, then let their callbacks run. */
    for (conn *c = d->conns; c != NULL; c = c->next)
        if (!c->closing)
            conn_close(c);
    uv_walk(&d->loop, close_any, NULL);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&d->loop) != 0)
        sn_log_debug("outpost serve: event loop closed with handles open");
    node_http_close(d->http);
    if (report != NULL)
        *report = d->report;
    sn_free(d);
    return rc;
}
