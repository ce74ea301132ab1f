/* tests/check_node_http.c - the status endpoints (node/http.h) over real loopback sockets, a
 * hub store and sites synced with it in memory: the three documents and their headers,
 * HEAD, every refused request (method, path, oversized URL and headers, garbage), the
 * connection cap and the idle timeout, a fresh snapshot after a change, a client thread
 * hammering while the test thread swaps snapshots (run it under `make check`), a bad or
 * busy address, and what a snapshot costs to build (SN_HTTP_NODES sites, default 12, and
 * SN_HTTP_COMMITS more commits on the hub, default 0). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "node/http.h"
#include "tests/link_pair.h"
#include "tests/node_fixture.h"
#include "tests/trust_fixture.h"

#define SITES_MAX 512

/* A hub and `n` sites, each enrolled and synced once with the hub. */
typedef struct hubworld {
    test_clock clock;
    node_store *hub;
    node_store *sites[SITES_MAX];
    size_t n;
    tca ca;
} hubworld;

static void world_make(hubworld *w, size_t n)
{
    sn_log_set_level(SN_LOG_ERROR);
    ck_assert_uint_le(n, SITES_MAX);
    w->clock.ms = BASE_MS;
    tca_make(&w->ca, "HTTP CA");
    w->hub = mk("Hub", &w->clock, NULL);
    (void)tca_enroll_hub(&w->ca, w->hub);
    w->n = n;
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "Site %zu", i + 1);
        w->sites[i] = mk(name, &w->clock, NULL);
        (void)tca_enroll(&w->ca, w->sites[i]);
        uint8_t id[ID_LEN];
        insert_patient(w->sites[i], "Http", id);
        lp_sync(w->sites[i], w->hub, NULL, NULL);
    }
    /* Again, so every site holds every other's commits: all in sync. */
    for (size_t i = 0; i < n; i++)
        lp_sync(w->sites[i], w->hub, NULL, NULL);
}

static void world_free(hubworld *w)
{
    for (size_t i = 0; i < w->n; i++)
        node_store_close(w->sites[i]);
    node_store_close(w->hub);
}

static node_http *serve(hubworld *w, node_http_opts o)
{
    sn_err err = SN_ERR_INIT;
    if (o.addr == NULL)
        o.addr = "127.0.0.1:0";
    node_http *h = NULL;
    CK_OK(node_http_open(&h, w->hub, &o, &err));
    ck_assert_uint_gt(node_http_port(h), 0);
    return h;
}

static uint64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleep `extra_ms` past the interval between builds: refresh_ms, or 50 builds' time. */
static void sleep_past_interval(node_http *h, uint64_t refresh_ms, uint64_t extra_ms)
{
    node_http_stats st;
    node_http_stats_get(h, &st);
    uint64_t every = st.last_build_us * 50 / 1000;
    usleep((useconds_t)((every > refresh_ms ? every : refresh_ms) + extra_ms) * 1000);
}

/* ---- a raw HTTP client --------------------------------------------------------------- */

static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s",
                  strerror(errno));
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return; /* the server may refuse before reading it all */
        p += k;
        n -= (size_t)k;
    }
}

/* Read until the server closes (or timeout_ms passes); the bytes to out (NUL-terminated).
 * Returns the count, or -1 on timeout. */
static ssize_t read_all(int fd, char *out, size_t cap, int timeout_ms)
{
    size_t n = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, timeout_ms);
        if (r == 0)
            return -1;
        ssize_t k = recv(fd, out + n, cap - 1 - n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || (size_t)k == cap - 1 - n) {
            n += k > 0 ? (size_t)k : 0;
            break;
        }
        n += (size_t)k;
    }
    out[n] = '\0';
    return (ssize_t)n;
}

typedef struct reply {
    int status;
    const char *body; /* into buf */
    size_t body_len;
    char buf[1 << 20];
} reply;

static int status_of(const char *text)
{
    if (strncmp(text, "HTTP/1.", 7) != 0)
        return 0;
    return (int)strtol(text + 9, NULL, 10);
}

/* Send `req` (n bytes) and read the whole reply. */
static void exchange(uint16_t port, const char *req, size_t n, reply *r)
{
    int fd = dial(port);
    send_all(fd, req, n);
    ssize_t got = read_all(fd, r->buf, sizeof r->buf, 5000);
    close(fd);
    ck_assert_msg(got >= 0, "no reply within 5 s to %.40s", req);
    r->status = status_of(r->buf);
    const char *end = strstr(r->buf, "\r\n\r\n");
    r->body = end != NULL ? end + 4 : r->buf + got;
    r->body_len = (size_t)(r->buf + got - r->body);
}

static reply *request(uint16_t port, const char *method, const char *path)
{
    static reply r;
    char req[512];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     method, path);
    exchange(port, req, (size_t)n, &r);
    return &r;
}

/* The value of header `name` in r's head (case as sent), to out. */
static bool header(const reply *r, const char *name, char *out, size_t cap)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\r\n%s: ", name);
    const char *p = strstr(r->buf, needle);
    if (p == NULL || p > r->body)
        return false;
    p += strlen(needle);
    snprintf(out, cap, "%.*s", (int)strcspn(p, "\r"), p);
    return true;
}

#define HAS(text, s) ck_assert_msg(strstr((text), (s)) != NULL, "missing: %s", (s))

/* ===== documents ======================================================================== */

START_TEST(test_http_documents)
{
    hubworld w = {0};
    world_make(&w, 3);
    node_http *h = serve(&w, (node_http_opts){.refresh_ms = 600000}); /* never stale here */
    uint16_t port = node_http_port(h);
    char v[256];

    reply *r = request(port, "GET", "/");
    ck_assert_int_eq(r->status, 200);
    ck_assert(header(r, "Content-Type", v, sizeof v));
    ck_assert_str_eq(v, "text/html; charset=utf-8");
    ck_assert(header(r, "Content-Security-Policy", v, sizeof v));
    HAS(v, "default-src 'none'");
    ck_assert(header(r, "Cache-Control", v, sizeof v));
    ck_assert_str_eq(v, "no-store");
    for (int i = 1; i <= 3; i++) {
        char name[32];
        snprintf(name, sizeof name, ">Site %d-", i); /* mk() makes names unique */
        HAS(r->body, name);
    }
    HAS(r->body, "<meta http-equiv=\"refresh\" content=\"10\">");
    HAS(r->body, "</html>\n");

    r = request(port, "GET", "/status.json");
    ck_assert_int_eq(r->status, 200);
    ck_assert(header(r, "Content-Type", v, sizeof v));
    ck_assert_str_eq(v, "application/json");
    HAS(r->body, "\"name\":\"Site 2-");
    ck_assert_msg(r->body[0] == '{' && r->body[r->body_len - 1] == '\n', "%s", r->body);

    r = request(port, "GET", "/metrics");
    ck_assert_int_eq(r->status, 200);
    ck_assert(header(r, "Content-Type", v, sizeof v));
    ck_assert_str_eq(v, "text/plain; version=0.0.4; charset=utf-8");
    HAS(r->body, "outpost_nodes{state=\"in-sync\"} 3\n");
    HAS(r->body, "\noutpost_status_build_seconds ");

    /* HEAD: the same headers, no body. */
    ck_assert(header(r, "Content-Length", v, sizeof v));
    long get_len = strtol(v, NULL, 10);
    r = request(port, "HEAD", "/metrics");
    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_eq(r->body_len, 0);
    ck_assert(header(r, "Content-Length", v, sizeof v));
    ck_assert_int_eq(strtol(v, NULL, 10), get_len);

    /* A query string does not change the document. */
    r = request(port, "GET", "/metrics?x=1");
    ck_assert_int_eq(r->status, 200);

    node_http_stats st;
    node_http_stats_get(h, &st);
    ck_assert_uint_eq(st.requests, 5);
    ck_assert_uint_eq(st.builds, 1);
    node_http_close(h);
    world_free(&w);
}
END_TEST

/* ===== refusals ========================================================================= */

START_TEST(test_http_refuses_bad_requests)
{
    hubworld w = {0};
    world_make(&w, 1);
    node_http *h = serve(&w, (node_http_opts){.conn_memory = 16 << 10, .refresh_ms = 600000});
    uint16_t port = node_http_port(h);
    char v[64];

    static const char *const methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "TRACE", "BREW"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        reply *r = request(port, methods[i], "/metrics");
        ck_assert_msg(r->status == 405, "%s: %d", methods[i], r->status);
        ck_assert(header(r, "Allow", v, sizeof v));
        ck_assert_str_eq(v, "GET, HEAD");
    }
    /* A POST with a body is refused before the body is read. */
    const char post[] = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    reply *r = request(port, "GET", "/"); /* (the static reply buffer) */
    exchange(port, post, sizeof post - 1, r);
    ck_assert_int_eq(r->status, 405);

    static const char *const paths[] = {"/x", "/metrics/", "/status", "/index.html", "//",
                                        "/../etc/passwd", "/status.json/x"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        r = request(port, "GET", paths[i]);
        ck_assert_msg(r->status == 404, "%s: %d", paths[i], r->status);
        HAS(r->body, "/status.json");
    }

    /* A 100 KB URL: more than the connection's memory. */
    static char big[110000];
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', 100000);
    size_t n = 5 + 100000;
    n += (size_t)snprintf(big + n, sizeof big - n, " HTTP/1.1\r\nHost: x\r\n\r\n");
    exchange(port, big, n, r);
    ck_assert_msg(r->status == 414, "100 KB URL: %d", r->status);

    /* 40 KB of headers. */
    n = (size_t)snprintf(big, sizeof big, "GET /metrics HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 400; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "X-Padding-%03d: %090d\r\n", i, 0);
    n += (size_t)snprintf(big + n, sizeof big - n, "\r\n");
    exchange(port, big, n, r);
    ck_assert_msg(r->status == 431, "40 KB of headers: %d", r->status);

    /* Not HTTP at all. */
    const char junk[] = "HELLO THERE\r\n\r\n";
    exchange(port, junk, sizeof junk - 1, r);
    ck_assert_msg(r->status == 400 || r->status == 0, "junk: %d", r->status);

    /* And the server still answers. */
    r = request(port, "GET", "/status.json");
    ck_assert_int_eq(r->status, 200);
    node_http_stats st;
    node_http_stats_get(h, &st);
    ck_assert_uint_eq(st.requests, 2); /* the GET / above and this one */
    node_http_close(h);
    world_free(&w);
}
END_TEST

/* At most max_connections at once; an idle one is closed after timeout_s; slow clients
 * holding connections do not stop others being served. */
START_TEST(test_http_connection_cap_and_timeout)
{
    hubworld w = {0};
    world_make(&w, 1);
    node_http *h =
        serve(&w, (node_http_opts){.max_connections = 4, .timeout_s = 1, .refresh_ms = 600000});
    uint16_t port = node_http_port(h);
    int held[3];
    for (int i = 0; i < 3; i++) {
        held[i] = dial(port);
        send_all(held[i], "GET /metr", 9); /* half a request, then nothing */
    }
    reply *r = request(port, "GET", "/status.json");
    ck_assert_int_eq(r->status, 200);
    /* Fill the fourth slot: a fifth connection is not served (it waits in the listen
     * queue, or is closed at once). */
    int fourth = dial(port);
    send_all(fourth, "GET", 3);
    usleep(100000);
    int fifth = dial(port);
    send_all(fifth, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 45);
    static char buf[1 << 20];
    ssize_t got = read_all(fifth, buf, sizeof buf, 500);
    ck_assert_msg(got <= 0, "a connection over the cap was answered: %.200s", buf);
    close(fifth);
    /* The idle ones time out: the server closes them within a few seconds. */
    time_t t0 = time(NULL);
    for (int i = 0; i < 3; i++) {
        got = read_all(held[i], buf, sizeof buf, 5000);
        ck_assert_msg(got >= 0, "an idle connection was still open after 5 s");
        close(held[i]);
    }
    ck_assert_int_le(time(NULL) - t0, 4);
    close(fourth);
    usleep(100000);
    r = request(port, "GET", "/status.json");
    ck_assert_int_eq(r->status, 200);
    node_http_close(h);
    world_free(&w);
}
END_TEST

/* ===== snapshots ======================================================================== */

/* A change in the store shows once the snapshot is due (refresh_ms after the last, while
 * requests come); before that the old one is served. */
START_TEST(test_http_refresh)
{
    sn_err err = SN_ERR_INIT;
    hubworld w = {0};
    world_make(&w, 2);
    uint64_t t0 = ms_now();
    node_http *h = serve(&w, (node_http_opts){.refresh_ms = 1000});
    uint16_t port = node_http_port(h);
    HAS(request(port, "GET", "/metrics")->body, "outpost_held_commits 2\n");

    uint8_t id[ID_LEN];
    insert_patient(w.sites[0], "Later", id);
    lp_sync(w.sites[0], w.hub, NULL, NULL);
    bool built = true;
    CK_OK(node_http_refresh(h, w.hub, &built, &err));
    if (ms_now() - t0 < 900) { /* (a slow machine may have taken longer to get here) */
        ck_assert_msg(!built, "rebuilt before refresh_ms");
        HAS(request(port, "GET", "/metrics")->body, "outpost_held_commits 2\n");
    }
    node_http_stats st;
    node_http_stats_get(h, &st);
    uint64_t due = st.last_build_us * 50 / 1000 > 1000 ? st.last_build_us * 50 / 1000 : 1000;
    while (ms_now() - t0 < due + 100)
        usleep(10000);
    CK_OK(node_http_refresh(h, w.hub, &built, &err));
    ck_assert(built);
    HAS(request(port, "GET", "/metrics")->body, "outpost_held_commits 3\n");

    node_http_stats_get(h, &st);
    ck_assert_uint_eq(st.builds, 2);
    ck_assert_uint_eq(st.failures, 0);
    node_http_close(h);
    world_free(&w);
}
END_TEST

/* A request finding the snapshot past due waits for the next build, and gets it; one
 * still waiting when the server closes is let go. */
START_TEST(test_http_stale_request_waits)
{
    sn_err err = SN_ERR_INIT;
    hubworld w = {0};
    world_make(&w, 1);
    node_http *h = serve(&w, (node_http_opts){.refresh_ms = 100});
    uint16_t port = node_http_port(h);
    HAS(request(port, "GET", "/metrics")->body, "outpost_held_commits 1\n");
    uint8_t id[ID_LEN];
    insert_patient(w.sites[0], "Later", id);
    lp_sync(w.sites[0], w.hub, NULL, NULL);
    sleep_past_interval(h, 100, 1300); /* the second of grace, and more */
    static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    static char buf[1 << 20];
    int fd = dial(port);
    send_all(fd, req, sizeof req - 1);
    ck_assert_msg(read_all(fd, buf, sizeof buf, 300) < 0, "a stale snapshot was served");
    bool built = false;
    CK_OK(node_http_refresh(h, w.hub, &built, &err));
    ck_assert(built);
    ck_assert_int_gt(read_all(fd, buf, sizeof buf, 5000), 0);
    close(fd);
    ck_assert_int_eq(status_of(buf), 200);
    HAS(buf, "outpost_held_commits 2\n");

    /* Requests came within the minute: the loop rebuilds every refresh_ms. */
    sleep_past_interval(h, 100, 50);
    CK_OK(node_http_refresh(h, w.hub, &built, &err));
    ck_assert(built);

    sleep_past_interval(h, 100, 1300);
    fd = dial(port);
    send_all(fd, req, sizeof req - 1);
    ck_assert(read_all(fd, buf, sizeof buf, 300) < 0);
    node_http_close(h);
    ck_assert_msg(read_all(fd, buf, sizeof buf, 5000) >= 0, "still waiting after close");
    close(fd);
    world_free(&w);
}
END_TEST

/* A change the daemon reports makes the next request wait for a snapshot built after it,
 * young as the current one may be; without the report, the current one is served. */
START_TEST(test_http_change_makes_requests_wait)
{
    sn_err err = SN_ERR_INIT;
    hubworld w = {0};
    world_make(&w, 1);
    node_http *h = serve(&w, (node_http_opts){.refresh_ms = 600000}); /* never stale by age */
    uint16_t port = node_http_port(h);
    uint8_t id[ID_LEN];
    insert_patient(w.sites[0], "Later", id);
    lp_sync(w.sites[0], w.hub, NULL, NULL);
    HAS(request(port, "GET", "/metrics")->body, "outpost_held_commits 1\n"); /* not told */

    node_http_changed(h);
    node_http_stats st;
    node_http_stats_get(h, &st);
    usleep((useconds_t)(st.last_build_us * 50 + 20000)); /* past the spacing of builds */
    static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    static char buf[1 << 20];
    int fd = dial(port);
    send_all(fd, req, sizeof req - 1);
    ck_assert_msg(read_all(fd, buf, sizeof buf, 300) < 0, "served a snapshot older than a change");
    bool built = false;
    CK_OK(node_http_refresh(h, w.hub, &built, &err));
    ck_assert(built);
    ck_assert_int_gt(read_all(fd, buf, sizeof buf, 5000), 0);
    close(fd);
    HAS(buf, "outpost_held_commits 2\n");
    /* Built after the change: no more waiting. */
    HAS(request(port, "GET", "/metrics")->body, "outpost_held_commits 2\n");
    node_http_changed(NULL);
    node_http_close(h);
    world_free(&w);
}
END_TEST

typedef struct hammer {
    uint16_t port;
    int finished, bad; /* finished: read with __atomic (the test thread polls it) */
    char why[256];
} hammer;

/* Client thread: whole pages, one after another; each must be complete. No sn_malloc here
 * (its counters belong to the test thread). */
static void *hammer_run(void *arg)
{
    hammer *hm = arg;
    static char buf[1 << 20];
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0;; i++) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec >= 2)
            break;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(hm->port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            snprintf(hm->why, sizeof hm->why, "connect: %s", strerror(errno));
            hm->bad++;
            break;
        }
        const char *path = i % 3 == 0 ? "/" : i % 3 == 1 ? "/metrics" : "/status.json";
        char req[128];
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", path);
        send_all(fd, req, (size_t)n);
        ssize_t got = read_all(fd, buf, sizeof buf, 5000);
        close(fd);
        const char *body = got > 0 ? strstr(buf, "\r\n\r\n") : NULL;
        const char *cl = got > 0 ? strstr(buf, "Content-Length: ") : NULL;
        long want = cl != NULL ? strtol(cl + 16, NULL, 10) : -1;
        if (body == NULL || want != (long)(buf + got - body - 4) || status_of(buf) != 200) {
            snprintf(hm->why, sizeof hm->why, "request %d (%s): %zd bytes, %.60s", i, path,
                     got, buf);
            hm->bad++;
        }
    }
    __atomic_store_n(&hm->finished, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Snapshots swapped as fast as they build while a client thread reads whole documents for 2 s:
 * every reply complete, every replaced snapshot freed once its last reply is sent. */
START_TEST(test_http_swap_under_load)
{
    sn_err err = SN_ERR_INIT;
    hubworld w = {0};
    world_make(&w, 3);
    node_http *h = serve(&w, (node_http_opts){.refresh_ms = 1});
    hammer hm = {.port = node_http_port(h)};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, hammer_run, &hm), 0);
    int swaps = 0;
    while (!__atomic_load_n(&hm.finished, __ATOMIC_SEQ_CST)) {
        bool built = false;
        CK_OK(node_http_refresh(h, w.hub, &built, &err));
        swaps += built;
        usleep(1000);
    }
    pthread_join(t, NULL);
    ck_assert_msg(hm.bad == 0, "%d bad replies; %s", hm.bad, hm.why);
    ck_assert_int_gt(swaps, 3); /* paced: a build every 50 builds' time */
    node_http_close(h);
    world_free(&w);
}
END_TEST

/* What a snapshot costs the loop thread, for SN_HTTP_NODES sites (default 12) and a hub
 * holding SN_HTTP_COMMITS commits of its own besides theirs (default 0): printed. */
START_TEST(test_http_build_cost)
{
    sn_err err = SN_ERR_INIT;
    const char *env = getenv("SN_HTTP_NODES"), *commits = getenv("SN_HTTP_COMMITS");
    size_t n = env != NULL ? (size_t)strtoul(env, NULL, 10) : 12;
    size_t more = commits != NULL ? (size_t)strtoul(commits, NULL, 10) : 0;
    hubworld w = {0};
    world_make(&w, n);
    for (size_t i = 0; i < more; i++) {
        uint8_t id[ID_LEN];
        insert_patient(w.hub, "Bulk", id);
    }
    node_http *h = serve(&w, (node_http_opts){.refresh_ms = 1});
    ck_assert_int_eq(request(node_http_port(h), "GET", "/metrics")->status, 200); /* watched */
    uint64_t total = 0, runs = 0, t_start = ms_now();
    while (runs < 20 && (runs < 3 || ms_now() - t_start < 15000)) {
        runs++;
        /* Builds are paced to 2% of the loop: the next is due 50 builds' time later. */
        node_http_stats st;
        node_http_stats_get(h, &st);
        bool built = false;
        CK_OK(node_http_refresh(h, w.hub, &built, &err));
        ck_assert_msg(!built, "a build right after one taking %llu us",
                      (unsigned long long)st.last_build_us);
        usleep((useconds_t)(st.last_build_us * 50 + 1000));
        CK_OK(node_http_refresh(h, w.hub, &built, &err));
        ck_assert(built);
        node_http_stats_get(h, &st);
        total += st.last_build_us;
    }
    /* The report alone, for the split between reading the store and rendering. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0; i < runs; i++) {
        node_status_report rep;
        CK_OK(node_status_build(w.hub, NULL, 0, &rep, &err));
        node_status_free(&rep);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double report_ms = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                        (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) / (double)runs;
    reply *r = request(node_http_port(h), "GET", "/");
    ck_assert_int_eq(r->status, 200);
    size_t page = r->body_len;
    r = request(node_http_port(h), "GET", "/metrics");
    fprintf(stderr,
            "node_http: a snapshot of %zu nodes, %zu more commits, builds in %.2f ms on "
            "average (the report alone %.2f ms, the page, JSON and metrics the rest); page "
            "%zu bytes, metrics %zu bytes\n",
            n, more, (double)total / (double)runs / 1000.0, report_ms, page, r->body_len);
    node_http_close(h);
    world_free(&w);
}
END_TEST

/* ===== opening ========================================================================== */

START_TEST(test_http_bad_addresses)
{
    sn_err err = SN_ERR_INIT;
    hubworld w = {0};
    world_make(&w, 0);
    node_http *h = NULL;
    static const char *const bad[] = {"localhost:7480", "127.0.0.1", "", "127.0.0.1:70000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CK_FAILS(node_http_open(&h, w.hub, &(node_http_opts){.addr = bad[i]}, &err),
                 SN_ECONFIG);
        ck_assert_ptr_null(h);
        HAS(err.msg, "status address");
    }
    /* An address in use: the message names it and why. */
    node_http *first = serve(&w, (node_http_opts){0});
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)node_http_port(first));
    CK_FAILS(node_http_open(&h, w.hub, &(node_http_opts){.addr = addr}, &err), SN_EIO);
    ck_assert_ptr_null(h);
    HAS(err.msg, addr);
    HAS(err.msg, "in use");
    HAS(err.hint, "[status] http");
    /* An address not on this machine. */
    CK_FAILS(node_http_open(&h, w.hub, &(node_http_opts){.addr = "192.0.2.1:0"}, &err), SN_EIO);
    HAS(err.msg, "192.0.2.1:0");
    node_http_close(first);
    node_http_close(NULL);
    world_free(&w);
}
END_TEST

Suite *node_http_suite(void);
Suite *node_http_suite(void)
{
    Suite *s = suite_create("node_http_suite");
    TCase *tc = fixture_tcase(s, "http");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_http_documents);
    tcase_add_test(tc, test_http_refuses_bad_requests);
    tcase_add_test(tc, test_http_connection_cap_and_timeout);
    tcase_add_test(tc, test_http_refresh);
    tcase_add_test(tc, test_http_stale_request_waits);
    tcase_add_test(tc, test_http_change_makes_requests_wait);
    tcase_add_test(tc, test_http_swap_under_load);
    tcase_add_test(tc, test_http_build_cost);
    tcase_add_test(tc, test_http_bad_addresses);
    return s;
}
