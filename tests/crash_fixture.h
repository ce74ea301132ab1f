/* tests/crash_fixture.h - the machinery of the crash suite (check_crash.c): which kill
 * points run (seeds), where each kills (a countdown over every fault-point hit, or a
 * SIGKILL from this process after a delay), a forked child that does real work on a durable
 * store and acknowledges what it did through a pipe, and the checks after a crash that
 * collect their failures (each with the one command that replays it) instead of stopping at
 * the first.
 *
 * Seeds: SN_CRASH_SEEDS=a-b (or one seed, a) runs exactly those; otherwise seeds 1 to
 * SN_CRASH_POINTS (default: the scenario's own bounded count) run, then the scenario's
 * regression seeds. A seed picks its kill point as a fraction of what an unkilled run does
 * (measured first, in the same process: the fewest hits and least time of three), so a seed
 * keeps its place roughly when the engine changes; three seeds in four use the countdown,
 * the fourth a timed kill, which lands anywhere, SQLite's own I/O included, but is
 * reproducible only roughly. A countdown seed replays the same hit, and nearly the same
 * place: row ids and keys are random, so SQLite's pages split a little differently. */
#ifndef SN_TESTS_CRASH_FIXTURE_H
#define SN_TESTS_CRASH_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "node/store.h"
#include "tests/crash_work.h"
#include "tests/support.h"

/* ---- kill points ---------------------------------------------------------------------- */

typedef struct crash_plan {
    long seed;     /* 0: the measuring run, never killed */
    bool timed;    /* killed by the parent after delay_us; else at the n-th fault-point hit */
    long n;
    long delay_us;
} crash_plan;

/* The seeds to run (see above), newly allocated (free()); their count to *n. */
long *crash_seeds(long dflt, const long *fixed, size_t nfixed, size_t *n);

/* Where seed `seed` kills, given an unkilled run of `hits` fault-point hits in `secs`. */
crash_plan crash_plan_for(long seed, long hits, double secs);

/* In the child: arm the countdown for `p` (a timed or measuring run only counts hits). */
void crash_arm(const crash_plan *p);

/* ---- the child and what it acknowledges ----------------------------------------------- */

enum { CRASH_MSG_COMMIT = 1, CRASH_MSG_DONE = 2, CRASH_MSG_IMPORTED = 3 };

/* One acknowledgement, written whole to the pipe (a single write of under PIPE_BUF). */
typedef struct crash_msg {
    uint32_t kind;
    int64_t value;       /* DONE: sn_crash_hits() at the end of the work */
    crash_commit commit; /* COMMIT: the commit made */
} crash_msg;

/* Runs in the child: does the work, writing acknowledgements to `fd` with crash_send;
 * returns 0 or a failure described in err. Must not use Check's assertions. */
typedef int (*crash_child_fn)(void *ctx, const crash_plan *p, int fd, sn_err *err);

/* In the child: write m to fd whole; a child that cannot is ended (exit status 3). */
void crash_send(int fd, const crash_msg *m);

typedef struct crash_result {
    bool killed;     /* died of SIGKILL */
    bool finished;   /* exited 0 after its work (the kill point lay past its end) */
    char why[512];   /* neither: how it ended, and what it printed last */
    crash_msg *msgs; /* what it acknowledged, in order (free()) */
    size_t nmsgs;
    long hits; /* from its DONE message */
    double secs;
} crash_result;

/* Fork a child running fn(ctx, p, fd) (logging errors only; dies with this process), read
 * its acknowledgements, SIGKILL it after p->delay_us when p->timed, wait for its end.
 * Fails the test only when the fork or pipe fails. */
void crash_run(const crash_plan *p, crash_child_fn fn, void *ctx, crash_result *out);
void crash_result_free(crash_result *r);

/* ---- a scenario's tally --------------------------------------------------------------- */

typedef struct crash_tally {
    const char *scenario; /* also the TCase name, for the replay command */
    unsigned long points, killed, killed_timed, finished;
    unsigned long acks;     /* acknowledgements checked after the crashes */
    unsigned long lost, integrity, invariants, other; /* failures, by kind */
    double secs; /* the whole scenario, set by its driver */
    long run_hits; /* unkilled runs: the fewest fault-point hits, the fastest seconds */
    double run_secs;
    char text[6000]; /* the first failures, with their replay commands */
    size_t len;
} crash_tally;

/* Count one kill point's end (killed or finished; anything else is a failure). */
void crash_tally_count(crash_tally *t, const crash_plan *p, const crash_result *r);
/* Record a failure of kind *kind (one of t's counters) at seed p->seed. Returns false. */
bool crash_fail(crash_tally *t, const crash_plan *p, unsigned long *kind, const char *fmt, ...)
    SN_PRINTF(4, 5);
/* Print the scenario's summary line; fail the test listing the failures, if any. */
void crash_tally_finish(crash_tally *t);

/* ---- a scenario ---------------------------------------------------------------------- */

typedef struct crash_scenario {
    const char *name;             /* also its TCase's name */
    long points;                  /* kill points unless SN_CRASH_POINTS says */
    const long *regress;          /* seeds that found bugs, always run */
    size_t nregress;
    void (*prepare)(void *ctx);   /* before each run: a fresh store, a peer to sync with */
    crash_child_fn child;
    /* After each run: restart and check, failures into t (when the run was neither killed
     * nor finished, the tally has counted it failed: only clean up). */
    void (*check)(void *ctx, crash_tally *t, const crash_plan *p, const crash_result *r);
} crash_scenario;

/* Measure unkilled runs (which must finish and pass the checks), then run every seed's
 * kill point and its checks, print the summary line and fail the test on any failure. */
void crash_scenario_run(const crash_scenario *sc, void *ctx);

/* ---- checks after a crash ------------------------------------------------------------- */

/* Open options of a real, durable store in g_dir's state directory, on clock `clock`. */
node_open_opts crash_opts(test_clock *clock);

/* Restart after the crash: SQLite's PRAGMA integrity_check of dir/store.db, opened
 * read-only before any Outpost code touches it, must be "ok"; then the store must open
 * (durable), pass node_store_check and show every commit it holds (all applied). The open
 * store, or NULL after counting the failure in t (integrity or invariants), or when the
 * run r was neither killed nor finished (a failure counted already). */
node_store *crash_restart(crash_tally *t, const crash_plan *p, const crash_result *r,
                          const char *dir, test_clock *clock);

/* The seq of origin o the store holds (0 on failure). */
uint64_t crash_held(node_store *st, const crdt_origin *o);

/* One more local commit after the crash: it must succeed with the next seq of the store's
 * origin, above `acked` when the origin is `acked_origin` (NULL: no commit was
 * acknowledged); the store must not have gone back to an earlier epoch. */
bool crash_write_again(node_store *st, const crdt_origin *acked_origin, uint64_t acked,
                       char *msg, size_t cap);

/* The store's digest is `want` (a reference's). */
bool crash_digest_is(node_store *st, const uint8_t want[16], char *msg, size_t cap);

#endif
