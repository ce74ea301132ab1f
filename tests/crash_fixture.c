/* tests/crash_fixture.c - kill points, the acknowledging child, the tally and the checks
 * after a crash (see crash_fixture.h). */
#include "tests/crash_fixture.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "tests/node_fixture.h"

/* A child that runs longer than this is hung: killed and reported. */
#define CHILD_LIMIT_S 300.0
/* Unkilled runs that measure a scenario before its kill points. */
#define MEASURE_RUNS 3

/* ---- kill points ---------------------------------------------------------------------- */

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    ck_assert_msg(*end == '\0' && n >= 0, "%s='%s' is not a count", name, v);
    return n;
}

long *crash_seeds(long dflt, const long *fixed, size_t nfixed, size_t *n)
{
    const char *range = getenv("SN_CRASH_SEEDS");
    long first = 1, last = env_long("SN_CRASH_POINTS", dflt);
    bool exact = range != NULL && *range != '\0';
    if (exact) {
        char *end;
        first = strtol(range, &end, 10);
        last = *end == '-' ? strtol(end + 1, &end, 10) : first;
        ck_assert_msg(*end == '\0' && first >= 1 && last >= first,
                      "SN_CRASH_SEEDS='%s' is not 'a-b' or 'a' (seeds from 1)", range);
    }
    size_t count = (size_t)(last - first + 1) + (exact ? 0 : nfixed);
    long *s = malloc((count == 0 ? 1 : count) * sizeof *s);
    ck_assert_ptr_nonnull(s);
    size_t k = 0;
    for (long i = first; i <= last; i++)
        s[k++] = i;
    for (size_t i = 0; !exact && i < nfixed; i++)
        if (fixed[i] < first || fixed[i] > last)
            s[k++] = fixed[i];
    *n = k;
    return s;
}

crash_plan crash_plan_for(long seed, long hits, double secs)
{
    test_rng r;
    test_rng_seed(&r, (uint64_t)seed);
    double frac = (double)(test_rng_next(&r) >> 11) / (double)(UINT64_C(1) << 53);
    crash_plan p = {.seed = seed, .timed = seed % 4 == 3};
    if (p.timed)
        p.delay_us = (long)(frac * secs * 1e6);
    else
        p.n = (long)(frac * (double)hits);
    return p;
}

void crash_arm(const crash_plan *p) { sn_crash_arm(p->seed != 0 && !p->timed ? p->n : -1); }

/* ---- the child ------------------------------------------------------------------------ */

void crash_send(int fd, const crash_msg *m)
{
    ssize_t w;
    do
        w = write(fd, m, sizeof *m);
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)sizeof *m)
        _exit(3);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void child_main(const crash_plan *p, crash_child_fn fn, void *ctx, int fd, int errfd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sn_log_set_level(SN_LOG_ERROR);
    dup2(errfd, STDERR_FILENO);
    sn_err err = SN_ERR_INIT;
    int rc = fn(ctx, p, fd, &err);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", sn_err_name(rc), err.msg);
        _exit(2);
    }
    crash_msg m = {.kind = CRASH_MSG_DONE, .value = sn_crash_hits()};
    crash_send(fd, &m);
    _exit(0);
}

/* Read what is there; false at end of file. */
static bool drain(int fd, uint8_t **buf, size_t *len, size_t *cap)
{
    if (*len + 4096 > *cap) {
        *cap = *cap * 2 + 8192;
        *buf = realloc(*buf, *cap);
        ck_assert_ptr_nonnull(*buf);
    }
    ssize_t r = read(fd, *buf + *len, *cap - *len);
    if (r < 0 && errno == EINTR)
        return true;
    if (r <= 0)
        return false;
    *len += (size_t)r;
    return true;
}

static void describe_end(crash_result *out, int status, int errfd)
{
    char tail[256] = "";
    off_t end = lseek(errfd, 0, SEEK_END);
    off_t from = end > (off_t)sizeof tail - 1 ? end - (off_t)sizeof tail + 1 : 0;
    ssize_t k = pread(errfd, tail, sizeof tail - 1, from);
    tail[k > 0 ? k : 0] = '\0';
    if (WIFEXITED(status))
        snprintf(out->why, sizeof out->why, "the child exited with %d: %s",
                 WEXITSTATUS(status), tail);
    else
        snprintf(out->why, sizeof out->why, "the child died of signal %d: %s",
                 WTERMSIG(status), tail);
}

void crash_run(const crash_plan *p, crash_child_fn fn, void *ctx, crash_result *out)
{
    *out = (crash_result){0};
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    FILE *errf = tmpfile(); /* the child's stderr, for the report */
    ck_assert_ptr_nonnull(errf);
    fflush(NULL);
    double t0 = now_s();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        child_main(p, fn, ctx, fds[1], fileno(errf));
    }
    close(fds[1]);
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    bool sent_kill = false, hung = false;
    for (;;) {
        double elapsed = now_s() - t0;
        int wait_ms = 1000;
        if (p->timed && !sent_kill) {
            double left_ms = (double)p->delay_us / 1000.0 - elapsed * 1000.0;
            wait_ms = left_ms <= 0 ? 0 : (int)left_ms + 1;
        }
        if (!sent_kill && ((p->timed && elapsed * 1e6 >= (double)p->delay_us) ||
                           elapsed > CHILD_LIMIT_S)) {
            hung = elapsed > CHILD_LIMIT_S;
            kill(pid, SIGKILL);
            sent_kill = true;
        }
        struct pollfd pf = {.fd = fds[0], .events = POLLIN};
        int pr = poll(&pf, 1, wait_ms);
        if (pr > 0 && !drain(fds[0], &buf, &len, &cap))
            break;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    out->secs = now_s() - t0;
    out->nmsgs = len / sizeof(crash_msg);
    out->msgs = malloc((out->nmsgs == 0 ? 1 : out->nmsgs) * sizeof(crash_msg));
    ck_assert_ptr_nonnull(out->msgs);
    memcpy(out->msgs, buf, out->nmsgs * sizeof(crash_msg));
    free(buf);
    for (size_t i = 0; i < out->nmsgs; i++)
        if (out->msgs[i].kind == CRASH_MSG_DONE)
            out->hits = (long)out->msgs[i].value;
    out->killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && !hung;
    out->finished = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (hung)
        snprintf(out->why, sizeof out->why, "the child hung for %.0f s", CHILD_LIMIT_S);
    else if (!out->killed && !out->finished)
        describe_end(out, status, fileno(errf));
    fclose(errf);
}

void crash_result_free(crash_result *r)
{
    free(r->msgs);
    *r = (crash_result){0};
}

/* ---- the tally ------------------------------------------------------------------------ */

void crash_tally_count(crash_tally *t, const crash_plan *p, const crash_result *r)
{
    t->points++;
    if (r->killed && p->timed)
        t->killed_timed++;
    if (r->killed)
        t->killed++;
    else if (r->finished)
        t->finished++;
    else
        crash_fail(t, p, &t->other, "%s", r->why);
}

bool crash_fail(crash_tally *t, const crash_plan *p, unsigned long *kind, const char *fmt, ...)
{
    (*kind)++;
    char m[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    char where[64];
    if (p->timed)
        snprintf(where, sizeof where, "killed %ld us after its start", p->delay_us);
    else
        snprintf(where, sizeof where, "killed at fault-point hit %ld", p->n);
    int k = snprintf(t->text + t->len, sizeof t->text - t->len,
                     "%s seed %ld (%s): %s\n  replay%s: SN_CRASH_SEEDS=%ld CK_FORK=no "
                     "CK_RUN_SUITE=crash_suite CK_RUN_CASE=%s %s\n",
                     t->scenario, p->seed, where, m, p->timed ? " (timed: roughly)" : "",
                     p->seed, t->scenario, program_invocation_name);
    if (k > 0 && (size_t)k < sizeof t->text - t->len)
        t->len += (size_t)k;
    return false;
}

void crash_tally_finish(crash_tally *t)
{
    unsigned long failures = t->lost + t->integrity + t->invariants + t->other;
    fprintf(stderr,
            "crash %s: %lu kill points in %.1f s (unkilled runs: %ld fault-point hits, "
            "%.2f s at best): %lu killed (%lu by countdown, %lu timed), %lu finished before "
            "their kill point; %lu acknowledgements checked, %lu lost; %lu integrity failures, "
            "%lu invariant failures, %lu other failures\n",
            t->scenario, t->points, t->secs, t->run_hits, t->run_secs, t->killed,
            t->killed - t->killed_timed, t->killed_timed, t->finished, t->acks, t->lost,
            t->integrity, t->invariants, t->other);
    ck_assert_msg(failures == 0, "%lu crash failures; the first:\n%s", failures, t->text);
}

/* ---- a scenario ---------------------------------------------------------------------- */

void crash_scenario_run(const crash_scenario *sc, void *ctx)
{
    double t0 = now_s();
    crash_tally t = {.scenario = sc->name};
    crash_plan measure = {0};
    crash_result r;
    /* Unkilled runs, checked like the others: the fastest says where timed kills land (the
     * first run of a process is often much slower), the smallest count where countdowns do. */
    for (int i = 0; i < MEASURE_RUNS; i++) {
        sc->prepare(ctx);
        crash_run(&measure, sc->child, ctx, &r);
        ck_assert_msg(r.finished, "crash %s: an unkilled run did not finish: %s", sc->name,
                      r.why);
        if (i == 0 || r.hits < t.run_hits)
            t.run_hits = r.hits;
        if (i == 0 || r.secs < t.run_secs)
            t.run_secs = r.secs;
        sc->check(ctx, &t, &measure, &r);
        crash_result_free(&r);
    }
    long hits = t.run_hits;
    double secs = t.run_secs;
    size_t n;
    long *seeds = crash_seeds(sc->points, sc->regress, sc->nregress, &n);
    for (size_t i = 0; i < n; i++) {
        crash_plan p = crash_plan_for(seeds[i], hits, secs);
        sc->prepare(ctx);
        crash_run(&p, sc->child, ctx, &r);
        crash_tally_count(&t, &p, &r);
        sc->check(ctx, &t, &p, &r);
        crash_result_free(&r);
    }
    free(seeds);
    t.secs = now_s() - t0;
    crash_tally_finish(&t);
}

/* ---- checks after a crash ------------------------------------------------------------- */

node_open_opts crash_opts(test_clock *clock)
{
    return (node_open_opts){.now_ms = test_clock_now, .now_ctx = clock,
                            .durability = NODE_DURABLE, .state_dir = g_dir};
}

static bool integrity_ok(const char *dir, char *msg, size_t cap)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/store.db", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL);
    bool ok = rc == SQLITE_OK;
    msg[0] = '\0';
    while (ok && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(s, 0);
        ok = line != NULL && strcmp(line, "ok") == 0;
        if (!ok)
            snprintf(msg, cap, "integrity_check: %s", line != NULL ? line : "(null)");
    }
    if (ok ? rc != SQLITE_DONE : msg[0] == '\0') {
        ok = false;
        snprintf(msg, cap, "integrity_check of '%.300s' failed: %.300s", path,
                 db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return ok;
}

static node_store *reopen_checked(const char *dir, test_clock *clock, char *msg, size_t cap)
{
    node_open_opts o = crash_opts(clock);
    node_store *st = NULL;
    sn_err err = SN_ERR_INIT;
    int rc = node_store_open(&st, dir, &o, &err);
    if (rc == 0 && (rc = node_store_check(st, &err)) != 0) {
        node_store_close(st);
        st = NULL;
    }
    if (rc != 0) {
        snprintf(msg, cap, "the store after the crash: %s", err.msg);
        return NULL;
    }
    /* What is held is shown: nothing here is quarantined or waits for a predecessor. */
    crdt_vv held, applied;
    crdt_vv_init(&held);
    crdt_vv_init(&applied);
    rc = node_store_held(st, &held, &err);
    if (rc == 0)
        rc = node_store_applied(st, &applied, &err);
    for (size_t i = 0; i < held.n && rc == 0; i++) {
        uint64_t a = crdt_vv_get(&applied, &held.e[i].origin);
        if (a != held.e[i].seq)
            rc = sn_err_set(&err, SN_ECORRUPT, "an origin has %llu commits held but %llu "
                            "applied", (unsigned long long)held.e[i].seq, (unsigned long long)a);
    }
    crdt_vv_free(&held);
    crdt_vv_free(&applied);
    if (rc != 0) {
        snprintf(msg, cap, "after the restart: %s", err.msg);
        node_store_close(st);
        return NULL;
    }
    return st;
}

uint64_t crash_held(node_store *st, const crdt_origin *o)
{
    crdt_vv v;
    crdt_vv_init(&v);
    uint64_t seq = node_store_held(st, &v, NULL) == 0 ? crdt_vv_get(&v, o) : 0;
    crdt_vv_free(&v);
    return seq;
}

node_store *crash_restart(crash_tally *t, const crash_plan *p, const crash_result *r,
                          const char *dir, test_clock *clock)
{
    char msg[1024];
    if (!r->killed && !r->finished)
        return NULL;
    if (!integrity_ok(dir, msg, sizeof msg)) {
        crash_fail(t, p, &t->integrity, "%s", msg);
        return NULL;
    }
    node_store *st = reopen_checked(dir, clock, msg, sizeof msg);
    if (st == NULL)
        crash_fail(t, p, &t->invariants, "%s", msg);
    return st;
}

bool crash_write_again(node_store *st, const crdt_origin *acked_origin, uint64_t acked,
                       char *msg, size_t cap)
{
    const crdt_origin *self = node_store_origin(st);
    uint64_t before = crash_held(st, self);
    uint8_t id[ID_LEN];
    sn_err err = SN_ERR_INIT;
    node_write *w = NULL;
    node_commit_info info = {0};
    schema_field f = fld("patient", "family", txt("After the crash"));
    int rc = node_write_begin(st, FX_AUTHOR, NULL, &w, &err);
    if (rc == 0)
        rc = node_write_insert(w, tbl("patient"), &f, 1, id, &err);
    if (rc == 0)
        rc = node_write_commit(w, &info, &err);
    else
        node_write_abort(w);
    if (rc != 0) {
        snprintf(msg, cap, "a local write after the crash failed: %s", err.msg);
        return false;
    }
    if (info.seq != before + 1) {
        snprintf(msg, cap, "a write after the crash got seq %llu, not %llu",
                 (unsigned long long)info.seq, (unsigned long long)before + 1);
        return false;
    }
    if (acked_origin == NULL)
        return true;
    if (self->epoch < acked_origin->epoch ||
        (crdt_origin_equal(self, acked_origin) && info.seq <= acked)) {
        snprintf(msg, cap, "a write after the crash reused epoch %u seq %llu (acknowledged: "
                 "epoch %u seq %llu)", self->epoch, (unsigned long long)info.seq,
                 acked_origin->epoch, (unsigned long long)acked);
        return false;
    }
    return true;
}

bool crash_digest_is(node_store *st, const uint8_t want[16], char *msg, size_t cap)
{
    uint8_t d[16];
    sn_err err = SN_ERR_INIT;
    if (node_store_digest(st, d, &err) != 0) {
        snprintf(msg, cap, "digest: %s", err.msg);
        return false;
    }
    if (memcmp(d, want, 16) == 0)
        return true;
    crdt_vv held, applied;
    crdt_vv_init(&held);
    crdt_vv_init(&applied);
    uint64_t nh = 0, na = 0;
    if (node_store_held(st, &held, NULL) == 0 && node_store_applied(st, &applied, NULL) == 0)
        for (size_t i = 0; i < held.n; i++) {
            nh += held.e[i].seq;
            na += crdt_vv_get(&applied, &held.e[i].origin);
        }
    snprintf(msg, cap, "the state differs from the reference's after the next sync (commits "
             "held %llu, applied %llu)", (unsigned long long)nh, (unsigned long long)na);
    crdt_vv_free(&held);
    crdt_vv_free(&applied);
    return false;
}
