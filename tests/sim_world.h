/* tests/sim_world.h - the convergence simulation's world (tests/check_sim.c): per seed a hub
 * and 4 to 6 sites, all enrolled with one test CA, each a real NODE_FAST store with its own
 * fake clock; the operations a seed draws (local commits over the whole schema, link
 * sessions cut at a random byte, log files and units delivered out of order and twice,
 * partitions, clock jumps, restarts, and in some seeds a restore, a revocation or an
 * equivocation); what was acknowledged; and the figures summed over seeds.
 *
 * The writers, their random commits, the reference model and the cell-by-cell comparison
 * are the convergence suite's (tests/conv_world.h, tests/conv_compare.h): the simulation's
 * nodes are the writers of a conv_world, w[0] the hub. Everything here asserts (Check) on
 * allocation failure; a property that fails records its message with conv_fail. */
#ifndef SN_TESTS_SIM_WORLD_H
#define SN_TESTS_SIM_WORLD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "crdt/vv.h"
#include "sync/cert.h"
#include "tests/conv_world.h"
#include "tests/trust_fixture.h"

#define SIM_HUB 0
#define SIM_MAX_NODES CONV_MAX_WRITERS /* the hub and up to 6 sites */
#define SIM_PARTITIONS_MAX 6
#define SIM_FAR_MS (10ull * 365 * 24 * 3600 * 1000) /* a far-future jump: ten years */

/* What one operation of a seed does. */
typedef enum sim_op {
    SIM_OP_COMMIT = 0,   /* a local commit of one to three random changes */
    SIM_OP_SYNC_HUB,     /* a site and the hub run a session */
    SIM_OP_SYNC_SITES,   /* two sites that meet run a session */
    SIM_OP_LOGFILE,      /* a log file carried by hand (sometimes an old one, or twice) */
    SIM_OP_UNITS,        /* units handed over shuffled, duplicated, in several calls */
    SIM_OP_CLOCK,        /* a node's clock jumps */
    SIM_OP_RESTART,      /* a node's store is closed and opened again */
    SIM_OP_COUNT
} sim_op;

/* The rare event of a seed, drawn from its own generator. */
typedef enum sim_special {
    SIM_SPECIAL_NONE = 0,
    SIM_SPECIAL_RESTORE,    /* a site is restored from its backup (new epoch) */
    SIM_SPECIAL_REVOKE,     /* a site's certificate is revoked at the hub's watermark */
    SIM_SPECIAL_EQUIVOCATE, /* a second version of a site's commit is signed and spread */
    SIM_SPECIAL_COUNT
} sim_special;

enum { SIM_JUMP_FORWARD, SIM_JUMP_BACKWARD, SIM_JUMP_FAR, SIM_JUMP_KINDS };

/* Figures of the seeds run, summed in shared memory (Check's fork mode). */
typedef struct sim_stats {
    unsigned long seeds, failed, ops, op[SIM_OP_COUNT];
    unsigned long commits, changes, refused;          /* local commits acknowledged */
    unsigned long sessions, sessions_done, sessions_sites, refused_partition, refused_revoked;
    unsigned long cuts, cuts_unit, cuts_handshake, cut_quarter[4]; /* where in the frame */
    unsigned long units_link, commits_link, bytes_link; /* acknowledged over links */
    unsigned long partitions, partitioned_ops, partitioned_sites;
    unsigned long files, file_imports, files_stale, files_twice;
    unsigned long unit_handovers, units_handed, units_dup, unit_calls_reordered;
    unsigned long jumps[SIM_JUMP_KINDS], far_commits;
    unsigned long restarts, special[SIM_SPECIAL_COUNT];
    unsigned long restore_lost, quarantined, frozen_nodes, heal_sessions;
    unsigned long digests_matched; /* peer records whose last STATE matched, at the end */
    unsigned long acked, excluded;  /* acknowledged commits; of them legitimately gone */
    unsigned long divergences, lost_acks;
    unsigned long mv_multi, conflicts, sets_concurrent;
    double seconds;
} sim_stats;

void sim_stats_share(void);
void sim_stats_add(const sim_stats *s, double secs);
const sim_stats *sim_stats_totals(void);
void sim_stats_print(const sim_stats *s, FILE *out);

typedef struct sim_partition {
    int start, end; /* ops [start, end) */
    unsigned mask;  /* bit i: site i cannot reach the hub (nor sites outside the mask) */
} sim_partition;

typedef struct sim_world {
    conv_world *c; /* c->w[0] is the hub, c->w[1..nsites] the sites */
    int nsites, nops, op;
    tca ca;
    sync_cert cert[SIM_MAX_NODES];
    test_rng erng; /* the special event's generator: other seeds' draws do not move */
    sim_partition parts[SIM_PARTITIONS_MAX];
    int nparts;
    unsigned cut_off; /* sites partitioned away right now */
    /* Clocks: the highest "corrected now + max skew" each node has seen; a node's local hlc
     * may never pass it (a far remote clock must not drag it). far: its own clock went far
     * ahead at some time. */
    uint64_t ceiling_ms[SIM_MAX_NODES];
    bool far[SIM_MAX_NODES];
    crdt_origin last_origin[SIM_MAX_NODES]; /* of each node's last local commit ... */
    crdt_hlc last_hlc[SIM_MAX_NODES];       /* ... and its hlc */
    uint64_t far_hlc_min; /* smallest hlc ms of a commit made with a far clock (0: none) */
    crdt_vv acked; /* every commit whose local write returned success */
    /* Log files carried by hand: the last one made from each node, for stale imports. */
    char file[SIM_MAX_NODES][4200];
    int nfiles;
    /* The special event. */
    sim_special special;
    int special_op, target;
    uint64_t revoke_wm; /* revocation: last good seq of the target's epoch */
    uint32_t revoke_epoch;
    bool revoked;
    crdt_origin fork_origin; /* equivocation: the origin forked at fork_seq */
    uint64_t fork_seq;
    crdt_vv lost; /* restore: per abandoned origin, the seqs above which commits were lost */
    sim_stats s;
} sim_world;

/* The world of one seed in <base_dir>/seed<seed>: a hub and 4 to 6 sites, enrolled; the
 * number of operations (500 to 599), the partitions and the special event planned. */
sim_world *sim_world_new(int seed, const char *base_dir);
void sim_world_free(sim_world *w);

/* Its next random number in [0, n). */
uint32_t sim_rnd(sim_world *w, uint32_t n);

/* Run operation number w->op (drawn at random); then the clocks move on. */
bool sim_world_step(sim_world *w);

/* Node i's name ("hub", "s1".."s6"). */
const char *sim_name(const sim_world *w, int i);

/* Can nodes a and b reach each other right now (partitions)? */
bool sim_reachable(const sim_world *w, int a, int b);

/* Raise node i's ceiling to its corrected now plus the skew limit. */
void sim_clock_observe(sim_world *w, int i);

/* Close node i's store and open it again; its held vector and origin must not change. */
bool sim_restart(sim_world *w, int i);

/* ---- deliveries (tests/sim_net.c) ---------------------------------------------------- */

/* A once-mode session between a (dialling) and b; with `may_cut`, sometimes cut at a
 * random byte, in the middle of a unit most often. *moved gets the commits it carried
 * (may be NULL). A failure not explained by the cut (or a revoked peer) fails the seed. */
bool sim_session(sim_world *w, int a, int b, bool may_cut, uint64_t *moved);
/* A log file from node `from` for node `to` (sometimes an older file, or twice). */
bool sim_logfile(sim_world *w, int from, int to);
/* Units from `from` to `to` against a vector `to` held some time ago or nothing,
 * shuffled, some twice, in one to three calls. */
bool sim_units(sim_world *w, int from, int to);

/* ---- the special events (tests/sim_events.c) --------------------------------------- */

/* Draw the seed's special event and when it happens. Call once at creation. */
void sim_special_plan(sim_world *w);
/* At the start of each operation: the backup, the restore, the revocation or the fork
 * when its time has come. */
bool sim_special_step(sim_world *w);
/* After the heal: which commits may legitimately be missing or not applied. Appends to
 * `keep` the bodies of `all` that must apply (the model's input). */
void sim_special_filter(sim_world *w, const conv_bodies *all, conv_bodies *keep);
/* May node i lack acknowledged commit (o, seq) at the end? */
bool sim_special_excuses(const sim_world *w, const crdt_origin *o, uint64_t seq);

#endif
