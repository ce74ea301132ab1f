/* tests/linksim/linksim.c - the link simulator's proxy: a libuv TCP relay that delays,
 * paces and cuts each forwarded connection the way a satellite or radio link would.
 *
 * Each accepted connection ("conn") joins a client socket to a freshly connected target
 * socket through two lanes: "up" (client -> target) and "down" (target -> client). A lane
 * holds a FIFO of chunks exactly as they were read, each stamped with its due time
 * (arrival + latency). The lane writes at most one slice at a time to its destination:
 * the head chunk's unwritten bytes, cut down to one pacing slice when a bandwidth is set
 * and to the connection's remaining cut budget. The next slice waits on the lane's timer
 * until both its due time and the pacing clock allow it, so nothing busy-loops.
 *
 * Flow control: a lane stops reading its source once more than LINKSIM_QUEUE_MAX bytes
 * wait in it, and resumes when writes bring it back down.
 *
 * Cuts: bytes count as delivered when their write is issued. When a write reaches the
 * budget, both sides stop reading, the last writes finish, the kernel's unsent bytes
 * drain (bounded wait), then both sockets are closed with RST. Queued data is dropped.
 *
 * EOF: once a lane's source has ended and its queue is empty, the destination gets a
 * uv_shutdown. A conn whose two lanes have both forwarded EOF closes normally.
 *
 * Lifetimes: a conn owns five libuv handles (two TCP, three timers) and is freed only
 * when all five close callbacks have run; write, shutdown and connect requests live in
 * the conn, and chunk memory is freed only by a write's callback or at that final free,
 * so every buffer outlives its write. */
#include "linksim.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/sockios.h>
#endif

#include <uv.h>

#define READ_SIZE ((size_t)64 * 1024)
#define NS_PER_MS UINT64_C(1000000)
#define NS_PER_S UINT64_C(1000000000)
/* A lane that falls this far behind its pacing clock (timer lateness) catches up;
 * one idle for longer restarts the clock, so idleness never banks a burst. */
#define PACE_SLACK_NS (20 * NS_PER_MS)
/* Before a cut, wait up to this many 1 ms polls for the kernel to send what we wrote. */
#define DRAIN_POLLS_MAX 250
#define CONN_HANDLES 5
#define NO_BUDGET UINT64_MAX

typedef struct chunk chunk;
struct chunk {
    chunk *next;
    uint64_t due_ns; /* uv_hrtime() at which the first byte may be written */
    size_t len;      /* bytes in data */
    size_t off;      /* bytes already written */
    char data[];
};

typedef struct proxy proxy;
typedef struct conn conn;

typedef struct lane {
    conn *c;
    const char *src_name; /* "client" or "target", for messages */
    const char *dst_name;
    uv_tcp_t *src;
    uv_tcp_t *dst;
    uint64_t *total; /* the proxy's bytes_up or bytes_down */
    chunk *head;
    chunk *tail;
    size_t queued;    /* bytes read but not yet written */
    uint64_t free_ns; /* pacing clock: when the link may start the next slice */
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    size_t in_flight;   /* bytes of the write in progress */
    uint64_t delivered; /* bytes this lane has written on this conn */
    bool writing;
    bool reading;
    bool src_eof;
    bool shut_sent;
    bool shut_done;
} lane;

struct conn {
    conn *prev;
    conn *next;
    proxy *px;
    uint64_t id;
    uv_tcp_t client;
    uv_tcp_t target;
    uv_connect_t creq;
    uv_timer_t cut_timer;
    lane up;
    lane down;
    uint64_t budget; /* delivered bytes after which the conn is cut; NO_BUDGET = never */
    uint64_t delivered;
    int open_handles;
    int drain_polls;
    bool target_connected;
    bool cut_pending;
    bool closing;
    char why[192]; /* how the conn ended, logged after "conn N " */
};

struct proxy {
    const linksim_config *cfg;
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    conn *conns;
    size_t slice; /* pacing slice in bytes, when a bandwidth is set */
    uint64_t rng;
    uint64_t dropped;
    uint64_t connections;
    uint64_t cuts;
    uint64_t bytes_up;
    uint64_t bytes_down;
    bool listener_open;
    bool stopping;
};

/* A dropped connection: accepted only to be reset. */
typedef struct dropped {
    uv_tcp_t tcp;
    proxy *px;
    uint64_t id;
} dropped;

static void lane_pump(lane *ln);
static void conn_close(conn *c, bool reset);

/* --- small helpers ------------------------------------------------------------------- */

static uint64_t rng_next(proxy *px)
{
    /* splitmix64: tiny, seedable, good enough for test schedules. */
    uint64_t z = (px->rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t random_budget(proxy *px, uint64_t mean)
{
    double u = (double)(rng_next(px) >> 11) * 0x1.0p-53; /* [0, 1) */
    double b = ceil(-(double)mean * log1p(-u));
    if (b < 1.0)
        return 1;
    if (b >= 1.8e19)
        return NO_BUDGET - 1;
    return (uint64_t)b;
}

/* A test tool has no useful way to go on without memory for a connection: a connection
 * left unaccepted would stall the listener, so say so and stop. */
static void *calloc_or_die(size_t size)
{
    void *p = calloc(1, size);
    if (p == NULL) {
        fprintf(stderr, "linksim: out of memory for a new connection\n");
        exit(1);
    }
    return p;
}

/* Write `text` to `path` through a temporary file and rename(2), so a reader never
 * sees a half-written file. Returns 0 or -errno. */
static int file_write_atomic(const char *path, const char *text)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -ENAMETOOLONG;
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -errno;
    size_t len = strlen(text);
    int rc = 0;
    if (fwrite(text, 1, len, f) != len)
        rc = errno != 0 ? -errno : -EIO;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

static void stats_write(proxy *px)
{
    if (px->cfg->stats_path == NULL)
        return;
    char text[256];
    snprintf(text, sizeof text,
             "connections %" PRIu64 "\ncuts %" PRIu64 "\nbytes_up %" PRIu64
             "\nbytes_down %" PRIu64 "\n",
             px->connections, px->cuts, px->bytes_up, px->bytes_down);
    int rc = file_write_atomic(px->cfg->stats_path, text);
    if (rc != 0)
        fprintf(stderr, "linksim: cannot write stats file '%s': %s\n", px->cfg->stats_path,
                strerror(-rc));
}

/* Bytes written to the socket that the kernel has not sent yet (0 where unknown). */
static int unsent_bytes(uv_tcp_t *tcp)
{
#if defined(SIOCOUTQNSD)
    uv_os_fd_t fd;
    int n = 0;
    if (uv_fileno((const uv_handle_t *)tcp, &fd) == 0 && ioctl(fd, SIOCOUTQNSD, &n) == 0)
        return n;
#else
    (void)tcp;
#endif
    return 0;
}

/* Close `tcp` abruptly, so its peer sees a reset. uv_tcp_close_reset refuses handles
 * that have been shut down; for those set a zero linger ourselves, which has the same
 * effect on close. */
static void tcp_close_reset(uv_tcp_t *tcp, uv_close_cb cb)
{
    if (uv_tcp_close_reset(tcp, cb) == 0)
        return;
    uv_os_fd_t fd;
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    if (uv_fileno((const uv_handle_t *)tcp, &fd) == 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    uv_close((uv_handle_t *)tcp, cb);
}

/* --- connections --------------------------------------------------------------------- */

static void conn_finish(conn *c)
{
    proxy *px = c->px;
    lane *lanes[2] = {&c->up, &c->down};
    for (int i = 0; i < 2; i++) {
        chunk *k = lanes[i]->head;
        while (k != NULL) {
            chunk *next = k->next;
            free(k);
            k = next;
        }
    }
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        px->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    fprintf(stderr, "linksim: conn %" PRIu64 " %s\n", c->id, c->why);
    free(c);
    stats_write(px);
}

static void conn_handle_closed(conn *c)
{
    if (--c->open_handles == 0)
        conn_finish(c);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    conn_handle_closed(h->data);
}

static void on_lane_timer_closed(uv_handle_t *h)
{
    lane *ln = h->data;
    conn_handle_closed(ln->c);
}

/* Close every handle of `c`; the conn is freed when the last close callback runs.
 * `reset` sends RST to both peers instead of an orderly close. */
static void conn_close(conn *c, bool reset)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_tcp_t *tcps[2] = {&c->client, &c->target};
    for (int i = 0; i < 2; i++) {
        if (reset)
            tcp_close_reset(tcps[i], on_conn_handle_closed);
        else
            uv_close((uv_handle_t *)tcps[i], on_conn_handle_closed);
    }
    uv_close((uv_handle_t *)&c->up.timer, on_lane_timer_closed);
    uv_close((uv_handle_t *)&c->down.timer, on_lane_timer_closed);
    uv_close((uv_handle_t *)&c->cut_timer, on_conn_handle_closed);
}

/* End `c` because of an error; `what` says what failed, `status` is libuv's code. */
static void conn_abort(conn *c, const char *what, int status)
{
    if (c->closing)
        return;
    snprintf(c->why, sizeof c->why, "aborted after %" PRIu64 " bytes: %s: %s", c->delivered,
             what, uv_strerror(status));
    conn_close(c, true);
}

static void lane_read_stop(lane *ln)
{
    if (ln->reading) {
        uv_read_stop((uv_stream_t *)ln->src);
        ln->reading = false;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    chunk *k = malloc(sizeof *k + READ_SIZE);
    /* A NULL base makes libuv report UV_ENOBUFS to on_read, which aborts the conn. */
    *buf = k == NULL ? uv_buf_init(NULL, 0) : uv_buf_init(k->data, (unsigned)READ_SIZE);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void lane_read_start(lane *ln)
{
    conn *c = ln->c;
    if (ln->reading || ln->src_eof || c->closing || c->cut_pending)
        return;
    int rc = uv_read_start((uv_stream_t *)ln->src, on_alloc, on_read);
    if (rc != 0) {
        char what[64];
        snprintf(what, sizeof what, "reading %s", ln->src_name);
        conn_abort(c, what, rc);
        return;
    }
    ln->reading = true;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = s->data;
    lane *ln = s == (uv_stream_t *)&c->client ? &c->up : &c->down;
    chunk *k = buf->base == NULL ? NULL : (chunk *)(buf->base - offsetof(chunk, data));
    if (nread <= 0) {
        free(k);
        if (nread == 0)
            return; /* EAGAIN */
        if (nread == UV_EOF) {
            ln->reading = false; /* libuv stops reading at EOF */
            ln->src_eof = true;
            lane_pump(ln);
            return;
        }
        char what[64];
        snprintf(what, sizeof what, "%s read", ln->src_name);
        conn_abort(c, what, (int)nread);
        return;
    }
    if (c->closing || c->cut_pending) {
        free(k); /* a cut drops what is still arriving */
        return;
    }
    /* Give back the unused tail of the read buffer, so small reads stay small. */
    chunk *shrunk = realloc(k, sizeof *k + (size_t)nread);
    if (shrunk != NULL)
        k = shrunk;
    k->next = NULL;
    k->len = (size_t)nread;
    k->off = 0;
    k->due_ns = uv_hrtime() + c->px->cfg->latency_ms * NS_PER_MS;
    if (ln->tail != NULL)
        ln->tail->next = k;
    else
        ln->head = k;
    ln->tail = k;
    ln->queued += k->len;
    if (ln->queued > LINKSIM_QUEUE_MAX)
        lane_read_stop(ln);
    lane_pump(ln);
}

/* Called when the cut budget is spent and no write is in flight: wait (bounded) for the
 * kernel to send what was written, then reset both sides. */
static void on_cut_drain(uv_timer_t *t)
{
    conn *c = t->data;
    if (c->closing)
        return;
    if (c->drain_polls < DRAIN_POLLS_MAX &&
        (unsent_bytes(&c->client) > 0 || unsent_bytes(&c->target) > 0)) {
        c->drain_polls++;
        uv_timer_start(&c->cut_timer, on_cut_drain, 1, 0);
        return;
    }
    c->px->cuts++;
    snprintf(c->why, sizeof c->why, "cut after %" PRIu64 " bytes", c->delivered);
    conn_close(c, true);
}

static void conn_cut_if_ready(conn *c)
{
    if (c->cut_pending && !c->closing && !c->up.writing && !c->down.writing)
        on_cut_drain(&c->cut_timer);
}

static void on_write(uv_write_t *req, int status)
{
    lane *ln = req->data;
    conn *c = ln->c;
    size_t n = ln->in_flight;
    ln->writing = false;
    ln->in_flight = 0;
    if (c->closing)
        return; /* chunks are freed with the conn */
    if (status < 0) {
        char what[64];
        snprintf(what, sizeof what, "writing to %s", ln->dst_name);
        conn_abort(c, what, status);
        return;
    }
    chunk *k = ln->head;
    k->off += n;
    ln->queued -= n;
    if (k->off == k->len) {
        ln->head = k->next;
        if (ln->head == NULL)
            ln->tail = NULL;
        free(k);
    }
    if (c->cut_pending) {
        conn_cut_if_ready(c);
        return;
    }
    if (ln->queued <= LINKSIM_QUEUE_MAX)
        lane_read_start(ln);
    lane_pump(ln);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    lane *ln = req->data;
    conn *c = ln->c;
    if (c->closing)
        return;
    if (status < 0) {
        char what[64];
        snprintf(what, sizeof what, "forwarding EOF to %s", ln->dst_name);
        conn_abort(c, what, status);
        return;
    }
    ln->shut_done = true;
    if (c->up.shut_done && c->down.shut_done) {
        snprintf(c->why, sizeof c->why,
                 "closed after %" PRIu64 " bytes (up %" PRIu64 ", down %" PRIu64 ")",
                 c->delivered, c->up.delivered, c->down.delivered);
        conn_close(c, false);
    }
}

static void on_lane_timer(uv_timer_t *t)
{
    lane_pump(t->data);
}

/* Write the next slice of `ln` if it is due, or arm the lane's timer for when it will
 * be; forward EOF once the source has ended and everything before it is written. */
static void lane_pump(lane *ln)
{
    conn *c = ln->c;
    proxy *px = c->px;
    if (c->closing || c->cut_pending || ln->writing || !c->target_connected)
        return;
    chunk *k = ln->head;
    if (k == NULL) {
        if (ln->src_eof && !ln->shut_sent) {
            ln->shut_sent = true;
            int rc = uv_shutdown(&ln->sreq, (uv_stream_t *)ln->dst, on_shutdown);
            if (rc != 0) {
                char what[64];
                snprintf(what, sizeof what, "forwarding EOF to %s", ln->dst_name);
                conn_abort(c, what, rc);
            }
        }
        return;
    }
    uint64_t bw = px->cfg->bandwidth;
    uint64_t now = uv_hrtime();
    uint64_t ready = k->due_ns;
    if (bw != 0 && ln->free_ns > ready)
        ready = ln->free_ns;
    if (ready > now) {
        uint64_t ms = (ready - now + NS_PER_MS - 1) / NS_PER_MS;
        uv_timer_start(&ln->timer, on_lane_timer, ms, 0);
        return;
    }
    size_t n = k->len - k->off;
    if (bw != 0 && n > px->slice)
        n = px->slice;
    if (c->budget != NO_BUDGET && n > c->budget - c->delivered)
        n = (size_t)(c->budget - c->delivered);
    uv_buf_t b = uv_buf_init(k->data + k->off, (unsigned)n);
    ln->wreq.data = ln;
    int rc = uv_write(&ln->wreq, (uv_stream_t *)ln->dst, &b, 1, on_write);
    if (rc != 0) {
        char what[64];
        snprintf(what, sizeof what, "writing to %s", ln->dst_name);
        conn_abort(c, what, rc);
        return;
    }
    ln->writing = true;
    ln->in_flight = n;
    c->delivered += n;
    ln->delivered += n;
    *ln->total += n;
    if (bw != 0) {
        /* A little late (timer granularity): keep the schedule. Idle: restart it. */
        uint64_t start = ln->free_ns + PACE_SLACK_NS >= now ? ln->free_ns : now;
        ln->free_ns = start + (uint64_t)n * NS_PER_S / bw;
    }
    if (c->budget != NO_BUDGET && c->delivered >= c->budget) {
        c->cut_pending = true;
        lane_read_stop(&c->up);
        lane_read_stop(&c->down);
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        char what[128];
        snprintf(what, sizeof what, "cannot connect to %s", c->px->cfg->target_text);
        conn_abort(c, what, status);
        return;
    }
    c->target_connected = true;
    uv_tcp_nodelay(&c->target, 1);
    lane_read_start(&c->down);
    lane_pump(&c->up);
    lane_pump(&c->down);
}

static void lane_init(lane *ln, conn *c, uv_tcp_t *src, uv_tcp_t *dst, uint64_t *total)
{
    ln->c = c;
    ln->src = src;
    ln->dst = dst;
    ln->total = total;
    ln->src_name = src == &c->client ? "client" : "target";
    ln->dst_name = dst == &c->client ? "client" : "target";
    ln->timer.data = ln;
    ln->sreq.data = ln;
    ln->wreq.data = ln;
}

static void conn_accept(proxy *px, uint64_t id)
{
    conn *c = calloc_or_die(sizeof *c);
    c->px = px;
    c->id = id;
    c->budget = NO_BUDGET;
    if (px->cfg->cut_every != 0)
        c->budget = px->cfg->cut_every;
    if (px->cfg->cut_random_mean != 0) {
        uint64_t r = random_budget(px, px->cfg->cut_random_mean);
        if (r < c->budget)
            c->budget = r;
    }
    lane_init(&c->up, c, &c->client, &c->target, &px->bytes_up);
    lane_init(&c->down, c, &c->target, &c->client, &px->bytes_down);
    snprintf(c->why, sizeof c->why, "ended");
    /* These cannot fail for TCP and timer handles on a live loop (no socket is made yet). */
    uv_tcp_init(px->loop, &c->client);
    uv_tcp_init(px->loop, &c->target);
    uv_timer_init(px->loop, &c->up.timer);
    uv_timer_init(px->loop, &c->down.timer);
    uv_timer_init(px->loop, &c->cut_timer);
    c->open_handles = CONN_HANDLES;
    c->client.data = c;
    c->target.data = c;
    c->cut_timer.data = c;
    c->creq.data = c;
    c->next = px->conns;
    if (px->conns != NULL)
        px->conns->prev = c;
    px->conns = c;

    int rc = uv_accept((uv_stream_t *)&px->listener, (uv_stream_t *)&c->client);
    if (rc != 0) {
        conn_abort(c, "accepting client", rc);
        return;
    }
    /* Small writes must not wait for Nagle: the latency is ours to add. */
    uv_tcp_nodelay(&c->client, 1);
    rc = uv_tcp_connect(&c->creq, &c->target, (const struct sockaddr *)&px->cfg->target_addr,
                        on_connect);
    if (rc != 0) {
        char what[128];
        snprintf(what, sizeof what, "cannot connect to %s", px->cfg->target_text);
        conn_abort(c, what, rc);
        return;
    }
    lane_read_start(&c->up);
}

/* --- dropped connections ------------------------------------------------------------- */

static void on_dropped_closed(uv_handle_t *h)
{
    dropped *d = h->data;
    proxy *px = d->px;
    fprintf(stderr, "linksim: conn %" PRIu64 " dropped (--drop-first)\n", d->id);
    free(d);
    stats_write(px);
}

static void conn_drop(proxy *px, uint64_t id)
{
    dropped *d = calloc_or_die(sizeof *d);
    d->px = px;
    d->id = id;
    uv_tcp_init(px->loop, &d->tcp);
    d->tcp.data = d;
    int rc = uv_accept((uv_stream_t *)&px->listener, (uv_stream_t *)&d->tcp);
    if (rc != 0) {
        fprintf(stderr, "linksim: conn %" PRIu64 ": accepting client: %s\n", id, uv_strerror(rc));
        uv_close((uv_handle_t *)&d->tcp, on_dropped_closed);
        return;
    }
    tcp_close_reset(&d->tcp, on_dropped_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
    proxy *px = server->data;
    if (status < 0) {
        fprintf(stderr, "linksim: accepting a connection: %s\n", uv_strerror(status));
        return;
    }
    if (px->stopping)
        return;
    uint64_t id = ++px->connections;
    if (px->dropped < px->cfg->drop_first) {
        px->dropped++;
        conn_drop(px, id);
    } else {
        conn_accept(px, id);
    }
}

/* --- start and stop ------------------------------------------------------------------ */

static void on_plain_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_signal(uv_signal_t *s, int signum)
{
    proxy *px = s->data;
    if (px->stopping)
        return;
    px->stopping = true;
    fprintf(stderr, "linksim: exiting on %s\n", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    uv_close((uv_handle_t *)&px->listener, on_plain_closed);
    uv_close((uv_handle_t *)&px->sigterm, on_plain_closed);
    uv_close((uv_handle_t *)&px->sigint, on_plain_closed);
    for (conn *c = px->conns; c != NULL; c = c->next) {
        if (c->closing)
            continue;
        snprintf(c->why, sizeof c->why, "closed at exit after %" PRIu64 " bytes", c->delivered);
        conn_close(c, true);
    }
}

static int proxy_listen(proxy *px)
{
    const linksim_config *cfg = px->cfg;
    int rc = uv_tcp_init(px->loop, &px->listener);
    if (rc != 0)
        goto fail;
    px->listener_open = true;
    px->listener.data = px;
    rc = uv_tcp_bind(&px->listener, (const struct sockaddr *)&cfg->listen_addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&px->listener, 128, on_connection);
    if (rc != 0)
        goto fail;
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    rc = uv_tcp_getsockname(&px->listener, (struct sockaddr *)&ss, &len);
    if (rc != 0)
        goto fail;
    int port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    if (cfg->port_path != NULL) {
        char text[16];
        snprintf(text, sizeof text, "%d\n", port);
        int wrc = file_write_atomic(cfg->port_path, text);
        if (wrc != 0) {
            fprintf(stderr, "linksim: cannot write port file '%s': %s\n", cfg->port_path,
                    strerror(-wrc));
            return -1;
        }
    }
    fprintf(stderr, "linksim: listening on port %d, forwarding to %s\n", port, cfg->target_text);
    return 0;
fail:
    fprintf(stderr, "linksim: cannot listen on %s: %s\n", cfg->listen_text, uv_strerror(rc));
    return -1;
}

int linksim_proxy_run(const linksim_config *cfg)
{
    /* A peer that vanishes must surface as EPIPE from a write, not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    if (rc != 0) {
        fprintf(stderr, "linksim: cannot start the event loop: %s\n", uv_strerror(rc));
        return 1;
    }
    proxy px = {.cfg = cfg, .loop = &loop, .rng = cfg->seed};
    if (cfg->bandwidth != 0) {
        /* About 10 ms of traffic per write: smooth pacing without a timer per byte. */
        uint64_t s = cfg->bandwidth / 100;
        px.slice = s < 1 ? 1 : s > READ_SIZE ? READ_SIZE : (size_t)s;
    }
    int status = 0;
    uv_signal_init(&loop, &px.sigterm);
    uv_signal_init(&loop, &px.sigint);
    px.sigterm.data = &px;
    px.sigint.data = &px;
    if (proxy_listen(&px) != 0) {
        status = 1;
        px.stopping = true;
        if (px.listener_open)
            uv_close((uv_handle_t *)&px.listener, on_plain_closed);
        uv_close((uv_handle_t *)&px.sigterm, on_plain_closed);
        uv_close((uv_handle_t *)&px.sigint, on_plain_closed);
    } else {
        uv_signal_start(&px.sigterm, on_signal, SIGTERM);
        uv_signal_start(&px.sigint, on_signal, SIGINT);
        stats_write(&px);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (status == 0)
        stats_write(&px);
    rc = uv_loop_close(&loop);
    if (rc != 0) {
        fprintf(stderr, "linksim: event loop still busy at exit: %s\n", uv_strerror(rc));
        return 1;
    }
    return status;
}
