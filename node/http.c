/* node/http.c - the status endpoints over libmicrohttpd (http.h), the only door to it.
 *
 * Threads: libmicrohttpd runs one internal polling thread (epoll where there is one) that
 * accepts, reads, answers and times out every connection; on_request runs there. The
 * loop thread calls node_http_open, node_http_refresh and node_http_close. They share,
 * under `lock`, the current snapshot and the connections waiting for a fresh one, plus the
 * atomics below and each snapshot's reference count; nothing else. Allocation through
 * sn_malloc (whose counters are not thread-safe) happens on the loop thread only: the
 * server thread merely drops references, and the loop thread frees a retired snapshot once
 * its count reaches zero.
 *
 * Freshness: a request finding the snapshot older than `stale_ms`, or older than the
 * spacing of builds when the store has changed since, suspends its connection
 * (libmicrohttpd goes on serving the others) and raises `wanted`; the next refresh builds
 * at once and resumes every waiting connection, which then takes the new snapshot (or the
 * old one, if the build failed). While requests keep coming the loop rebuilds every
 * refresh_ms, so they rarely wait; when nobody asks, nothing is built. */
#include "node/http.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "node/addr.h"
#include "node/fileio.h"

/* The documents of a snapshot, by path. */
enum { DOC_PAGE, DOC_JSON, DOC_METRICS, DOC_COUNT };

static const struct doc {
    const char *path, *type;
} docs[DOC_COUNT] = {
    [DOC_PAGE] = {"/", "text/html; charset=utf-8"},
    [DOC_JSON] = {"/status.json", "application/json"},
    [DOC_METRICS] = {"/metrics", "text/plain; version=0.0.4; charset=utf-8"},
};

/* Builds are at least this many times their own duration apart (2% of the loop). */
#define BUILD_DUTY 50

/* The page may use its own inline style and nothing else: no script, no fetch, no frame. */
#define PAGE_POLICY "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

/* A snapshot older than the build interval by this much makes a request wait. */
#define STALE_GRACE_MS 1000

typedef struct snapshot {
    atomic_uint refs; /* the current pointer's, plus one per response using it */
    uint64_t built_ms; /* monotonic */
    sn_buf body[DOC_COUNT];
    struct snapshot *next; /* on the retired list (loop thread) */
} snapshot;

/* con_cls of a request that has waited once: it is served whatever is current then. */
static char waited;

struct node_http {
    struct MHD_Daemon *mhd;
    node_http_opts o;
    uint16_t port;
    pthread_mutex_t lock;
    snapshot *cur;                /* under lock */
    struct MHD_Connection **waiting; /* under lock: suspended until the next refresh */
    size_t nwaiting;
    bool closing;                 /* under lock: no more waiting */
    snapshot *retired;            /* loop thread: replaced, freed when unreferenced */
    atomic_uint_fast64_t asked_ms; /* monotonic time of the last request for a document */
    atomic_uint_fast64_t stale_ms; /* a snapshot older than this makes requests wait */
    atomic_uint_fast64_t spacing_ms; /* ... and one this old, once the store has changed */
    atomic_bool changed;          /* the store changed since the last build began */
    atomic_bool wanted;           /* some request waits for a fresh snapshot */
    atomic_uint_fast64_t requests;
    atomic_bool starting;         /* MHD_start_daemon running: keep its complaint */
    char start_msg[256];          /* (written before the server thread exists) */
    bool built;
    uint64_t built_ms;            /* monotonic time of the last build attempt */
    node_http_stats stats;
    struct MHD_Response *not_found, *not_allowed, *not_ready;
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- snapshots ------------------------------------------------------------------------ */

static void snapshot_free(snapshot *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < DOC_COUNT; i++)
        sn_buf_free(&s->body[i]);
    sn_free(s);
}

static void snapshot_release(void *cls)
{
    snapshot *s = cls;
    atomic_fetch_sub(&s->refs, 1);
}

/* The build's own cost, as a metric: what the operator pays for watching. */
static int append_build_metric(sn_buf *b, uint64_t us, sn_err *err)
{
    return sn_buf_appendf(b, err,
                          "# HELP outpost_status_build_seconds Time the previous snapshot of "
                          "the status endpoints took to build.\n"
                          "# TYPE outpost_status_build_seconds gauge\n"
                          "outpost_status_build_seconds %llu.%06llu\n",
                          (unsigned long long)(us / 1000000), (unsigned long long)(us % 1000000));
}

static int snapshot_build(node_http *h, node_store *st, snapshot **out, sn_err *err)
{
    *out = NULL;
    snapshot *s = sn_calloc(1, sizeof *s);
    if (s == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory building the status snapshot");
    for (size_t i = 0; i < DOC_COUNT; i++)
        sn_buf_init(&s->body[i], h->o.body_max);
    node_status_report r;
    int rc = node_status_build(st, &h->o.limits, 0, &r, err);
    if (rc != 0) {
        snapshot_free(s);
        return rc;
    }
    rc = node_status_html(&r, NODE_HTTP_PAGE_REFRESH_S, &s->body[DOC_PAGE], err);
    if (rc == 0)
        rc = node_status_json(&r, &s->body[DOC_JSON], err);
    if (rc == 0)
        rc = sn_buf_append_str(&s->body[DOC_JSON], "\n", err);
    if (rc == 0)
        rc = node_status_metrics(&r, &s->body[DOC_METRICS], err);
    if (rc == 0)
        rc = append_build_metric(&s->body[DOC_METRICS], h->stats.last_build_us, err);
    node_status_free(&r);
    if (rc != 0) {
        snapshot_free(s);
        return rc;
    }
    atomic_init(&s->refs, 1);
    *out = s;
    return 0;
}

/* Free the retired snapshots no response holds any more. */
static void reap(node_http *h)
{
    for (snapshot **pp = &h->retired; *pp != NULL;) {
        snapshot *s = *pp;
        if (atomic_load(&s->refs) == 0) {
            *pp = s->next;
            snapshot_free(s);
        } else {
            pp = &s->next;
        }
    }
}

/* Let every waiting request go on, with whatever snapshot is current. */
static void resume_waiting(node_http *h)
{
    struct MHD_Connection *batch[64];
    for (;;) {
        /* Take them under the lock (each was suspended under it), resume outside it. */
        pthread_mutex_lock(&h->lock);
        size_t n = h->nwaiting < 64 ? h->nwaiting : 64;
        h->nwaiting -= n;
        memcpy(batch, h->waiting + h->nwaiting, n * sizeof *batch);
        atomic_store(&h->wanted, false);
        pthread_mutex_unlock(&h->lock);
        if (n == 0)
            return;
        for (size_t i = 0; i < n; i++)
            MHD_resume_connection(batch[i]);
    }
}

int node_http_refresh(node_http *h, node_store *st, bool *built, sn_err *err)
{
    if (built != NULL)
        *built = false;
    reap(h);
    uint64_t now = mono_us() / 1000, asked = atomic_load(&h->asked_ms);
    bool watched = asked != 0 && now - asked < 60000;
    /* A big store makes the report slow (its counts scan the log): space the builds so
     * they take at most 1/BUILD_DUTY of the loop's time. */
    uint64_t every = h->stats.last_build_us * BUILD_DUTY / 1000;
    if (every < h->o.refresh_ms)
        every = h->o.refresh_ms;
    bool due = !h->built || atomic_load(&h->wanted) || (watched && now - h->built_ms >= every);
    if (!due)
        return 0;
    h->built = true;
    h->built_ms = now;
    atomic_store(&h->changed, false); /* what changes from now on needs another build */
    uint64_t t0 = mono_us();
    snapshot *s;
    int rc = snapshot_build(h, st, &s, err);
    if (rc != 0) {
        h->stats.failures++;
        resume_waiting(h); /* they get the previous snapshot, or a 503 */
        return rc;
    }
    uint64_t us = mono_us() - t0;
    h->stats.builds++;
    h->stats.last_build_us = us;
    if (us > h->stats.max_build_us)
        h->stats.max_build_us = us;
    if (built != NULL)
        *built = true;
    s->built_ms = now;
    every = us * BUILD_DUTY / 1000;
    atomic_store(&h->spacing_ms, every);
    atomic_store(&h->stale_ms, (every > h->o.refresh_ms ? every : h->o.refresh_ms) +
                                   STALE_GRACE_MS);
    pthread_mutex_lock(&h->lock);
    snapshot *old = h->cur;
    h->cur = s;
    pthread_mutex_unlock(&h->lock);
    resume_waiting(h);
    if (old != NULL) {
        atomic_fetch_sub(&old->refs, 1); /* the current pointer's reference */
        old->next = h->retired;
        h->retired = old;
        reap(h);
    }
    return 0;
}

/* ---- requests (server thread) ---------------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    node_http *h = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, h->not_allowed);
    size_t d = 0;
    while (d < DOC_COUNT && strcmp(url, docs[d].path) != 0)
        d++;
    if (d == DOC_COUNT)
        return MHD_queue_response(c, MHD_HTTP_NOT_FOUND, h->not_found);
    uint64_t now = mono_us() / 1000;
    atomic_store(&h->asked_ms, now);

    pthread_mutex_lock(&h->lock);
    snapshot *s = h->cur;
    uint64_t age = s != NULL ? now - s->built_ms : 0;
    bool stale = s == NULL || age > atomic_load(&h->stale_ms) ||
                 (atomic_load(&h->changed) && age >= atomic_load(&h->spacing_ms));
    if (stale && *con_cls != &waited && !h->closing && h->nwaiting < h->o.max_connections) {
        /* Wait for the loop's next refresh (it resumes us), without holding anyone up. */
        h->waiting[h->nwaiting++] = c;
        atomic_store(&h->wanted, true);
        *con_cls = &waited;
        MHD_suspend_connection(c);
        pthread_mutex_unlock(&h->lock);
        return MHD_YES;
    }
    if (s != NULL)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&h->lock);
    atomic_fetch_add(&h->requests, 1);
    if (s == NULL)
        return MHD_queue_response(c, MHD_HTTP_SERVICE_UNAVAILABLE, h->not_ready);

    /* The response borrows the snapshot's bytes and drops its reference when done. */
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
        s->body[d].len, s->body[d].data, snapshot_release, s);
    if (r == NULL) {
        snapshot_release(s);
        return MHD_NO; /* out of memory: close the connection */
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, docs[d].type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
    if (d == DOC_PAGE)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY, PAGE_POLICY);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_log(void *cls, const char *fmt, va_list ap) SN_PRINTF(2, 0);
static void on_log(void *cls, const char *fmt, va_list ap)
{
    node_http *h = cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    /* While starting, on the caller's thread: the first complaint says why it failed. */
    if (atomic_load(&h->starting) && h->start_msg[0] == '\0')
        snprintf(h->start_msg, sizeof h->start_msg, "%s", line);
    sn_log_debug("status http: %s", line);
}

/* ---- the server ---------------------------------------------------------------------- */

static char body_not_found[] = "not found: this server has /, /status.json and /metrics\n";
static char body_not_allowed[] = "method not allowed: only GET and HEAD\n";
static char body_not_ready[] = "the first status report is not built yet; try again\n";

static struct MHD_Response *fixed(char *body, const char *header, const char *value)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return NULL;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (header != NULL)
        MHD_add_response_header(r, header, value);
    return r;
}

static void defaults(node_http_opts *o)
{
    if (o->max_connections == 0)
        o->max_connections = 32;
    if (o->timeout_s == 0)
        o->timeout_s = 10;
    if (o->conn_memory == 0)
        o->conn_memory = 16 << 10;
    if (o->refresh_ms == 0)
        o->refresh_ms = 2000;
    if (o->body_max == 0)
        o->body_max = (size_t)64 << 20;
}

static int start(node_http *h, const struct sockaddr_storage *ss, const char *addr,
                 sn_err *err)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (ss->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    atomic_store(&h->starting, true);
    h->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_log, h,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)ss, MHD_OPTION_CONNECTION_LIMIT,
        h->o.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, h->o.timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, h->o.conn_memory, MHD_OPTION_END);
    atomic_store(&h->starting, false);
    if (h->mhd == NULL) {
        sn_err_set(err, SN_EIO, "cannot serve the status endpoints on %s: %s", addr,
                   h->start_msg[0] != '\0' ? h->start_msg : "libmicrohttpd would not start");
        sn_err_hint(err, "set [status] http (or --http) to a free address of this machine, "
                         "or off");
        return SN_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info != NULL ? info->port : 0;
    return 0;
}

int node_http_open(node_http **out, node_store *st, const node_http_opts *o, sn_err *err)
{
    *out = NULL;
    struct sockaddr_storage ss;
    int rc = node_addr_numeric("status address", o->addr != NULL ? o->addr : "", &ss, err);
    if (rc != 0)
        return rc;
    node_http *h = sn_calloc(1, sizeof *h);
    if (h == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory starting the status endpoints");
    h->o = *o;
    h->o.addr = NULL;
    h->o.port_file = NULL;
    defaults(&h->o);
    pthread_mutex_init(&h->lock, NULL);
    atomic_init(&h->asked_ms, 0);
    atomic_init(&h->stale_ms, h->o.refresh_ms + STALE_GRACE_MS);
    atomic_init(&h->wanted, false);
    atomic_init(&h->changed, false);
    atomic_init(&h->spacing_ms, 0);
    atomic_init(&h->starting, false);
    h->waiting = sn_calloc(h->o.max_connections, sizeof *h->waiting);
    atomic_init(&h->requests, 0);
    h->not_found = fixed(body_not_found, NULL, NULL);
    h->not_allowed = fixed(body_not_allowed, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    h->not_ready = fixed(body_not_ready, MHD_HTTP_HEADER_RETRY_AFTER, "2");
    if (h->waiting == NULL || h->not_found == NULL || h->not_allowed == NULL ||
        h->not_ready == NULL)
        rc = sn_err_set(err, SN_ENOMEM, "out of memory starting the status endpoints");
    if (rc == 0)
        rc = start(h, &ss, o->addr, err);
    if (rc == 0)
        rc = node_http_refresh(h, st, NULL, err);
    if (rc == 0 && o->port_file != NULL) {
        char text[16];
        int n = snprintf(text, sizeof text, "%u\n", (unsigned)h->port);
        rc = node_file_write_atomic(o->port_file, (const uint8_t *)text, (size_t)n, err);
    }
    if (rc != 0) {
        node_http_close(h);
        return rc;
    }
    sn_log_info("outpost serve: status endpoints on %s (port %u): /, /status.json, /metrics",
                o->addr, (unsigned)h->port);
    *out = h;
    return 0;
}

uint16_t node_http_port(const node_http *h) { return h->port; }

void node_http_changed(node_http *h)
{
    if (h != NULL)
        atomic_store(&h->changed, true);
}

void node_http_stats_get(const node_http *h, node_http_stats *out)
{
    *out = h->stats;
    out->requests = atomic_load(&h->requests);
}

void node_http_close(node_http *h)
{
    if (h == NULL)
        return;
    /* No connection may stay suspended; stopping then joins the server thread and
     * destroys every response: all references go. */
    pthread_mutex_lock(&h->lock);
    h->closing = true;
    pthread_mutex_unlock(&h->lock);
    resume_waiting(h);
    if (h->mhd != NULL)
        MHD_stop_daemon(h->mhd);
    if (h->not_found != NULL)
        MHD_destroy_response(h->not_found);
    if (h->not_allowed != NULL)
        MHD_destroy_response(h->not_allowed);
    if (h->not_ready != NULL)
        MHD_destroy_response(h->not_ready);
    snapshot_free(h->cur);
    for (snapshot *s = h->retired, *next; s != NULL; s = next) {
        next = s->next;
        snapshot_free(s);
    }
    pthread_mutex_destroy(&h->lock);
    sn_free(h->waiting);
    sn_free(h);
}
