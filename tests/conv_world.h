/* tests/conv_world.h - the simulated world of the convergence suite: per seed, a few
 * writers, each with its own store and fake clock, making random commits and passing parts
 * of their logs to one another (prefixes or gappy subsets, shuffled, duplicated, in
 * several calls); in some seeds one writer backs its store up and is later restored from
 * that backup (once or twice), going on under a new epoch; and the concurrency statistics
 * summed over seeds in shared memory.
 * Everything here asserts (Check) on allocation failure: it is test code. */
#ifndef SN_TESTS_CONV_WORLD_H
#define SN_TESTS_CONV_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "crdt/vv.h"
#include "node/store.h"
#include "schema/schema.h"
#include "tests/support.h"

#define CONV_MAX_WRITERS 7 /* this suite makes at most 5; tests/sim_world.c up to 7 */
#define CONV_BASE_MS UINT64_C(1700000000000)

/* ---- statistics -------------------------------------------------------------------- */

typedef struct conv_stats {
    unsigned long seeds, commits, changes, refused;
    unsigned long imports, waited;  /* import calls, and those that left commits waiting */
    unsigned long sets, sets_concurrent;
    unsigned long mv_all;             /* final mv cells, insert values included */
    unsigned long mv_cells, mv_multi; /* those that received a set; with > 1 sibling */
    unsigned long multi_equal;        /* > 1 sibling, all with one value */
    unsigned long conflicts;
    unsigned long rows, retracted, retracted_retractions, links, merged_patients, patients;
    unsigned long cycles, live_cycles; /* seeds whose links (live links) close a cycle */
    unsigned long midway, midway_stubs; /* midway checks; rows known only from sets there */
    unsigned long restores, restore_seeds, restores_again; /* again: from one backup twice */
    unsigned long restore_lost;     /* own commits of the old epoch nobody else held: gone */
    unsigned long restore_returned; /* old-epoch commits the restored store took back */
    unsigned long restore_stuck;    /* commits left waiting for ever behind a lost one */
    double seconds;
    char first_refusal[256];
} conv_stats;

/* Map the totals over seeds in MAP_SHARED memory, once (later calls do nothing), so that
 * the children of Check's fork mode add to the same counters. Call from the suite
 * constructor, before any test runs. If the mapping fails no totals are kept. */
void conv_stats_share(void);

/* Add one passed seed's counters, and the seconds it took, to the totals. */
void conv_stats_add(const conv_stats *s, double secs);

/* The totals so far; NULL when conv_stats_share has not mapped them. */
const conv_stats *conv_stats_totals(void);

/* Print the totals (s->seeds > 0) as the suite's multi-line report to `out`. */
void conv_stats_print(const conv_stats *s, FILE *out);

/* ---- commit bodies ----------------------------------------------------------------- */

/* A growable list of commit bodies in the form node_store_import takes, owning copies. */
typedef struct conv_bodies {
    node_body *v;
    uint8_t **own; /* the copies v[] points into */
    size_t n, cap;
} conv_bodies;

/* Append a copy of p[0..n). */
void conv_bodies_push(conv_bodies *l, const uint8_t *p, size_t n);
/* Free the copies and the arrays; leaves *l empty (zeroed), ready for reuse. */
void conv_bodies_free(conv_bodies *l);

/* ---- the per-seed world ------------------------------------------------------------ */

typedef struct conv_row {
    uint16_t table;
    uint8_t id[SCHEMA_ID_LEN];
    int writer;         /* who inserted it */
    crdt_origin origin; /* under which origin (a restored writer changes epoch) */
    uint64_t seq;       /* in which commit */
} conv_row;

/* A list of commit dots (origin, seq), duplicates allowed. */
typedef struct conv_dots {
    crdt_dot *v;
    size_t n, cap;
} conv_dots;

typedef struct conv_writer {
    node_store *st;
    test_clock clock;
    char name[16];
    crdt_vv applied;
    conv_dots recv;  /* every commit offered to its store (restore seeds only) */
    uint64_t stuck;  /* after the full exchange: commits that must still wait */
    /* For conv_check_final (set by worlds that are not this suite's): a retired writer
     * left the deployment (revoked) and is not compared at all; a digest_only one is
     * compared by digest, conflicts, waiting count and invariants, not cell by cell. */
    bool retired, digest_only;
    node_commit_info last; /* of the commit conv_world_commit_random made (seq 0: none) */
} conv_writer;

/* One restore: the origin the writer gave up, and what the backup held of it. */
typedef struct conv_restore {
    crdt_origin old;
    uint64_t backup_held;
} conv_restore;

typedef struct conv_world {
    int seed;
    test_rng rng;
    char *dir;
    conv_writer w[CONV_MAX_WRITERS];
    int nw;
    bool lockstep; /* clocks advance together */
    conv_row *rows;
    size_t nrows, caprows;
    bool failed;
    char phase[64]; /* where the checks run: "final", or the round of a midway check */
    char msg[4096];
    conv_stats local;
    const schema_table *t_patient, *t_link, *t_retraction;
    const schema_table *clinical[4]; /* encounter, allergy, condition, observation */
    /* Restores (one seed in five), drawn from their own generator so that the other seeds
     * run exactly as they would without them. */
    test_rng rrng;
    int restorer;           /* the writer backed up and restored; -1: none this seed */
    int backup_round;       /* its backup is taken at the start of this round ... */
    int restore_round[2];   /* ... and it is restored at the start of these (-1: not) */
    char backup[4200];      /* the backup file */
    crdt_vv backup_held;    /* what the backup holds */
    conv_dots backup_recv;  /* the restorer's recv when the backup was taken */
    conv_restore restores[2];
    int nrestores;
} conv_world;

/* The world of one seed: 3 to 5 writers named w0.., each with a NODE_FAST store in the new
 * directory <base_dir>/seed<seed>. One seed in three puts one writer's clock 20 minutes
 * behind (past the skew limit); half the seeds start the clocks within 2 ms and move them
 * in step, the others within 2 s. Asserts on failure; free with conv_world_free. */
conv_world *conv_world_new(int seed, const char *base_dir);

/* The same world with no writers yet (nw 0) and nothing drawn from its generator: for
 * worlds that make and enrol their own stores in w[] (tests/sim_world.c), then set nw. */
conv_world *conv_world_new_empty(int seed, const char *base_dir);

/* Close the stores, remove the seed's directory and free the world. NULL is a no-op. */
void conv_world_free(conv_world *c);

/* Record the first failure of the seed in c->msg, prefixed with the seed and c->phase
 * ("rounds" when empty); later failures are dropped. Always returns false. */
bool conv_fail(conv_world *c, const char *fmt, ...) SN_PRINTF(2, 3);

/* The seed's next random number, uniform in [0, n). n > 0. */
uint32_t conv_rnd(conv_world *c, uint32_t n);
/* Shuffle v[0..n) with the seed's generator. */
void conv_shuffle(conv_world *c, node_body *v, size_t n);

/* Writer wi makes one commit of one to three random changes (inserts, sets of mv columns,
 * retractions, patient links) on rows it holds, or none when nothing could be made.
 * Writes the store refuses are counted in c->local.refused, not failures. Returns false
 * (after conv_fail) when the store fails. */
bool conv_world_commit_random(conv_world *c, int wi);

/* Append everything writer wi holds to *out. False after conv_fail. */
bool conv_world_export(conv_world *c, int wi, conv_bodies *out);

/* Writer wi imports part of what writer src holds: a random prefix, or one time in six a
 * random subset with gaps; some bodies duplicated, mostly shuffled, in one to three
 * import calls. False after conv_fail. */
bool conv_world_deliver_part(conv_world *c, int wi, int src);

/* Every writer imports every commit of every writer (collected into *all, which the
 * caller frees), each in its own shuffled order; then, in restore seeds, each writer's
 * `stuck` is set: the commits offered to it that wait behind one that was lost with a
 * restore (any other waiting commit fails the seed). False after conv_fail. */
bool conv_world_exchange_all(conv_world *c, conv_bodies *all);

/* ---- restores (tests/conv_restore.c) ----------------------------------------------- */

/* Restore seeds: pick the rounds of the backup and of one or two restores among
 * `rounds`. Call once, before the first round. */
void conv_world_plan_restores(conv_world *c, int rounds);

/* At the start of round `round`: take the restorer's backup, or restore it from that
 * backup (its store directory loses store.db, keeping its keys; node_store_restore brings
 * the backup back; the store reopens under a new epoch, checked to be above every epoch
 * the writer had, with nothing of it held). *restored is true after a restore. False
 * after conv_fail. */
bool conv_world_restore_step(conv_world *c, int round, bool *restored);

/* Shared by conv_world.c and conv_restore.c: append a dot; after the full exchange, set
 * writer wi's `stuck` (false after conv_fail when a commit waits that nothing excuses). */
void conv_dots_push(conv_dots *l, const crdt_dot *d);
bool conv_world_count_stuck(conv_world *c, int wi);

#endif
