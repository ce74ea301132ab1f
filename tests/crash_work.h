/* tests/crash_work.h - a seeded mix of local writes across the schema, for the crash suite
 * (check_crash.c) and the stores it syncs from: patients, encounters, allergies,
 * observations, conditions and notes inserted; mv cells set (names, contact details,
 * statuses, criticality); rows retracted; patients linked; commits of several changes; and
 * batches of commits. Every commit that returned success is reported to a callback, which is
 * where a crash test's child acknowledges it. Nothing here asserts, so a forked child can
 * run it. */
#ifndef SN_TESTS_CRASH_WORK_H
#define SN_TESTS_CRASH_WORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "crdt/vv.h"
#include "node/store.h"
#include "schema/schema.h"
#include "tests/support.h"

/* One commit made: its origin and seq, and the row it inserted (table 0: none). */
typedef struct crash_commit {
    crdt_origin origin;
    uint64_t seq;
    uint16_t table;
    uint8_t id[SCHEMA_ID_LEN];
} crash_commit;

/* Called once per commit, after the call that made it durable returned success (for a
 * batch, after batch_commit). Non-zero stops the work with that code. */
typedef int (*crash_commit_fn)(void *ctx, const crash_commit *c);

typedef struct crash_row {
    uint16_t table;
    uint8_t id[SCHEMA_ID_LEN];
} crash_row;

typedef struct crash_work {
    test_rng rng;
    test_clock *clock; /* moved on 1 ms per commit; may be NULL */
    bool batches;      /* some commits go in batches (the caller has none open) */
    crash_row *rows;   /* rows this work inserted and did not retract */
    size_t nrows, cap;
    unsigned long made; /* commits made */
} crash_work;

/* Look the schema up (asserts: call in the test process, before any fork). */
void crash_work_init_schema(void);

/* A new work drawing from `seed`. `rows` (may be NULL) are rows the store already holds that
 * it may also write to: another writer's, for concurrent edits. */
void crash_work_start(crash_work *w, uint64_t seed, test_clock *clock, bool batches,
                      const crash_row *rows, size_t nrows);
void crash_work_free(crash_work *w);

/* Make `n` more commits on `st`, reporting each to `fn` (may be NULL). 0, or the first
 * failure (err says which write), or fn's code. */
int crash_work_run(crash_work *w, node_store *st, size_t n, crash_commit_fn fn, void *ctx,
                   sn_err *err);

#endif
