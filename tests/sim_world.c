/* tests/sim_world.c - the convergence simulation's world: a hub and sites enrolled with one
 * CA, the operations a seed draws (see sim_world.h), the clocks and their checks (local
 * hlcs never go back and are never dragged past "corrected now + max skew"), partitions,
 * restarts, and the figures summed over seeds. Deliveries: tests/sim_net.c; the special
 * events: tests/sim_events.c. */
#include "tests/sim_world.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "crdt/hlc.h"
#include "node/peers.h"

/* ---- figures ------------------------------------------------------------------------ */

static sim_stats *g_stats; /* shared with the children of fork mode */

void sim_stats_share(void)
{
    if (g_stats == NULL)
        g_stats = test_shared_map(sizeof *g_stats);
}

void sim_stats_add(const sim_stats *s, double secs)
{
    if (g_stats == NULL)
        return;
    /* Every field but the time is an unsigned long: add them as an array. */
    _Static_assert(offsetof(sim_stats, seconds) % sizeof(unsigned long) == 0, "layout");
    unsigned long *to = (unsigned long *)g_stats;
    const unsigned long *from = (const unsigned long *)s;
    for (size_t i = 0; i < offsetof(sim_stats, seconds) / sizeof(unsigned long); i++)
        to[i] += from[i];
    g_stats->seconds += secs;
}

const sim_stats *sim_stats_totals(void) { return g_stats; }

static double pct(unsigned long a, unsigned long b)
{
    return b ? 100.0 * (double)a / (double)b : 0;
}

void sim_stats_print(const sim_stats *s, FILE *out)
{
    static const char *const op_names[SIM_OP_COUNT] = {
        "commit", "sync site-hub", "sync site-site", "log file", "units", "clock jump",
        "restart"};
    unsigned long n = s->seeds ? s->seeds : 1;
    fprintf(out, "sim: %lu seeds run (%lu failed), %.1f ms per seed; divergences %lu, lost "
                 "acknowledged commits %lu\n",
            s->seeds, s->failed, 1000.0 * s->seconds / (double)n, s->divergences, s->lost_acks);
    fprintf(out, "  ops: %lu (%.0f per seed):", s->ops, (double)s->ops / (double)n);
    for (int i = 0; i < SIM_OP_COUNT; i++)
        fprintf(out, " %s %lu (%.1f%%)%s", op_names[i], s->op[i], pct(s->op[i], s->ops),
                i + 1 < SIM_OP_COUNT ? "," : "\n");
    fprintf(out, "  commits acknowledged: %lu (%lu changes, %lu refused at local write); "
                 "acknowledged in all: %lu, legitimately gone or held back: %lu\n",
            s->commits, s->changes, s->refused, s->acked, s->excluded);
    fprintf(out, "  sessions: %lu (site-site %lu), ended caught up %lu; not run across a "
                 "partition %lu; refused to a revoked peer %lu; heal sessions %lu\n",
            s->sessions, s->sessions_sites, s->sessions_done, s->refused_partition,
            s->refused_revoked, s->heal_sessions);
    fprintf(out, "  over links: %lu units, %lu commits, %lu bytes\n", s->units_link,
            s->commits_link, s->bytes_link);
    fprintf(out, "  cuts: %lu (in the handshake %lu, inside a unit-sized frame %lu; where in "
                 "the frame by quarter: %lu %lu %lu %lu)\n",
            s->cuts, s->cuts_handshake, s->cuts_unit, s->cut_quarter[0], s->cut_quarter[1],
            s->cut_quarter[2], s->cut_quarter[3]);
    fprintf(out, "  partitions: %lu (%.1f per seed), sites cut off per partition %.1f, ops "
                 "with some site cut off %lu\n",
            s->partitions, (double)s->partitions / (double)n,
            s->partitions ? (double)s->partitioned_sites / (double)s->partitions : 0,
            s->partitioned_ops);
    fprintf(out, "  log files: %lu made, %lu imports (stale ones after newer %lu, twice %lu); "
                 "unit handovers %lu: %lu units, %lu duplicated, %lu split and reordered\n",
            s->files, s->file_imports, s->files_stale, s->files_twice, s->unit_handovers,
            s->units_handed, s->units_dup, s->unit_calls_reordered);
    fprintf(out, "  clock jumps: forward %lu, backward %lu, far future %lu; commits stamped "
                 "far ahead %lu; restarts %lu\n",
            s->jumps[SIM_JUMP_FORWARD], s->jumps[SIM_JUMP_BACKWARD], s->jumps[SIM_JUMP_FAR],
            s->far_commits, s->restarts);
    fprintf(out, "  special seeds: restore %lu (own commits lost with it %lu), revocation %lu "
                 "(quarantined at the end %lu), equivocation %lu (nodes frozen %lu)\n",
            s->special[SIM_SPECIAL_RESTORE], s->restore_lost, s->special[SIM_SPECIAL_REVOKE],
            s->quarantined, s->special[SIM_SPECIAL_EQUIVOCATE], s->frozen_nodes);
    fprintf(out, "  state digests: %lu peer records matched at their last comparison, none "
                 "differed\n", s->digests_matched);
    fprintf(out, "  model: mv sets concurrent with another write %lu, cells with >1 sibling "
                 "%lu, open conflicts %lu\n",
            s->sets_concurrent, s->mv_multi, s->conflicts);
}

/* ---- the world ---------------------------------------------------------------------- */

uint32_t sim_rnd(sim_world *w, uint32_t n) { return conv_rnd(w->c, n); }

const char *sim_name(const sim_world *w, int i) { return w->c->w[i].name; }

static node_open_opts open_opts(sim_world *w, int i)
{
    return (node_open_opts){.now_ms = test_clock_now, .now_ctx = &w->c->w[i].clock,
                            .durability = NODE_FAST, .state_dir = w->c->dir};
}

/* Three to five partitions, each cutting a random set of sites off the hub for 20 to 80
 * operations; they may overlap. */
static void plan_partitions(sim_world *w)
{
    w->nparts = 3 + (int)sim_rnd(w, 3);
    for (int k = 0; k < w->nparts; k++) {
        sim_partition *p = &w->parts[k];
        p->start = (int)sim_rnd(w, (uint32_t)(w->nops - 80));
        p->end = p->start + 20 + (int)sim_rnd(w, 61);
        p->mask = 0;
        while (p->mask == 0)
            for (int i = 1; i <= w->nsites; i++)
                if (sim_rnd(w, 3) == 0)
                    p->mask |= 1u << i;
        w->s.partitions++;
        w->s.partitioned_sites += (unsigned long)__builtin_popcount(p->mask);
    }
}

sim_world *sim_world_new(int seed, const char *base_dir)
{
    sim_world *w = calloc(1, sizeof *w);
    ck_assert_ptr_nonnull(w);
    conv_world *c = w->c = conv_world_new_empty(seed, base_dir);
    test_rng_seed(&w->erng, (uint64_t)seed ^ UINT64_C(0x51e0c1a5));
    crdt_vv_init(&w->acked);
    crdt_vv_init(&w->lost);
    w->nsites = 4 + (int)sim_rnd(w, 3);
    w->nops = 500 + (int)sim_rnd(w, 100);
    c->nw = 1 + w->nsites;
    tca_make(&w->ca, "Simulation CA");
    for (int i = 0; i < c->nw; i++) {
        if (i == SIM_HUB)
            snprintf(c->w[i].name, sizeof c->w[i].name, "hub");
        else
            snprintf(c->w[i].name, sizeof c->w[i].name, "s%d", i);
        c->w[i].clock.ms = CONV_BASE_MS + sim_rnd(w, 2000);
        c->w[i].st = test_store_new(c->dir, c->w[i].name, &c->w[i].clock);
        crdt_vv_init(&c->w[i].applied);
        w->cert[i] = i == SIM_HUB ? tca_enroll_hub(&w->ca, c->w[i].st)
                                  : tca_enroll(&w->ca, c->w[i].st);
        sim_clock_observe(w, i);
    }
    plan_partitions(w);
    sim_special_plan(w);
    return w;
}

void sim_world_free(sim_world *w)
{
    if (w == NULL)
        return;
    conv_world_free(w->c);
    crdt_vv_free(&w->acked);
    crdt_vv_free(&w->lost);
    free(w);
}

bool sim_reachable(const sim_world *w, int a, int b)
{
    bool ca = (w->cut_off >> a) & 1u, cb = (w->cut_off >> b) & 1u;
    if (a == SIM_HUB || b == SIM_HUB)
        return !ca && !cb;
    return ca == cb;
}

/* ---- clocks ------------------------------------------------------------------------- */

void sim_clock_observe(sim_world *w, int i)
{
    node_store *st = w->c->w[i].st;
    uint64_t now = w->c->w[i].clock.ms + (uint64_t)node_store_clock_offset(st);
    uint64_t top = now + CRDT_HLC_DEFAULT_MAX_SKEW_MS;
    if (top > w->ceiling_ms[i])
        w->ceiling_ms[i] = top;
}

/* A node's clock jumps: forward or back by a minute to three hours, or (sites only) ten
 * years ahead; a far clock that jumps back returns to the true time. */
static void clock_jump(sim_world *w)
{
    int i = (int)sim_rnd(w, (uint32_t)w->c->nw);
    test_clock *ck = &w->c->w[i].clock;
    uint64_t by = 60000 + sim_rnd(w, 3 * 3600 * 1000);
    uint32_t kind = sim_rnd(w, 3);
    if (kind == SIM_JUMP_FAR && (i == SIM_HUB || w->far[i]))
        kind = SIM_JUMP_FORWARD; /* the hub's time is every site's reference */
    w->s.jumps[kind]++;
    if (kind == SIM_JUMP_FORWARD) {
        ck->ms += by;
    } else if (kind == SIM_JUMP_FAR) {
        ck->ms += SIM_FAR_MS;
        w->far[i] = true;
    } else if (w->far[i] && ck->ms > w->c->w[SIM_HUB].clock.ms + SIM_FAR_MS / 2) {
        ck->ms -= SIM_FAR_MS;
    } else {
        ck->ms -= by;
    }
}

/* The clocks move on together by up to 1.5 s. */
static void clocks_advance(sim_world *w)
{
    uint64_t step = sim_rnd(w, 1500);
    for (int i = 0; i < w->c->nw; i++) {
        w->c->w[i].clock.ms += step;
        sim_clock_observe(w, i);
    }
}

/* ---- local commits ------------------------------------------------------------------ */

static bool commit_random(sim_world *w, int i)
{
    conv_world *c = w->c;
    crdt_origin o = *node_store_origin(c->w[i].st);
    unsigned long refused = c->local.refused;
    if (!conv_world_commit_random(c, i))
        return false;
    w->s.refused += c->local.refused - refused;
    const node_commit_info *info = &c->w[i].last;
    if (info->seq == 0)
        return true;
    sn_err err = SN_ERR_INIT;
    w->s.commits++;
    if (crdt_vv_raise(&w->acked, &o, info->seq, &err) != 0)
        return conv_fail(c, "acked vector: %s", err.msg);
    /* Per origin the hlcs only grow; and no remote clock dragged this one past what its
     * own corrected clock allows. */
    if (crdt_origin_equal(&o, &w->last_origin[i]) && info->hlc <= w->last_hlc[i])
        return conv_fail(c, "%s: commit %llu has hlc %llx, not above the previous one's %llx",
                         sim_name(w, i), (unsigned long long)info->seq,
                         (unsigned long long)info->hlc, (unsigned long long)w->last_hlc[i]);
    w->last_origin[i] = o;
    w->last_hlc[i] = info->hlc;
    uint64_t ms = CRDT_HLC_MS(info->hlc);
    if (ms > w->ceiling_ms[i])
        return conv_fail(c, "%s: commit %llu stamped %llu ms, past its clock's ceiling %llu "
                         "(a remote clock dragged it)", sim_name(w, i),
                         (unsigned long long)info->seq, (unsigned long long)ms,
                         (unsigned long long)w->ceiling_ms[i]);
    if (ms > w->c->w[SIM_HUB].clock.ms + 24 * 3600 * 1000ull) {
        w->s.far_commits++;
        if (w->far_hlc_min == 0 || ms < w->far_hlc_min)
            w->far_hlc_min = ms;
    }
    return true;
}

/* ---- restarts ----------------------------------------------------------------------- */

bool sim_restart(sim_world *w, int i)
{
    conv_writer *cw = &w->c->w[i];
    sn_err err = SN_ERR_INIT;
    crdt_vv before, after;
    crdt_vv_init(&before);
    crdt_vv_init(&after);
    crdt_origin o = *node_store_origin(cw->st);
    bool ok = node_store_held(cw->st, &before, &err) == 0;
    node_store_close(cw->st);
    cw->st = NULL;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", w->c->dir, cw->name);
    node_open_opts opts = open_opts(w, i);
    if (ok && node_store_open(&cw->st, dir, &opts, &err) != 0)
        ok = false;
    if (ok && node_store_held(cw->st, &after, &err) != 0)
        ok = false;
    if (!ok)
        conv_fail(w->c, "restart of %s: %s", cw->name, err.msg);
    else if (!crdt_origin_equal(&o, node_store_origin(cw->st)) || !crdt_vv_equal(&before, &after))
        ok = conv_fail(w->c, "%s: a restart changed its origin or what it holds", cw->name);
    crdt_vv_free(&before);
    crdt_vv_free(&after);
    w->s.restarts += ok;
    return ok;
}

/* ---- one operation ------------------------------------------------------------------ */

static int random_site(sim_world *w) { return 1 + (int)sim_rnd(w, (uint32_t)w->nsites); }

/* The partitions in force at operation w->op. */
static void partitions_update(sim_world *w)
{
    w->cut_off = 0;
    for (int k = 0; k < w->nparts; k++)
        if (w->op >= w->parts[k].start && w->op < w->parts[k].end)
            w->cut_off |= w->parts[k].mask;
    w->s.partitioned_ops += w->cut_off != 0;
}

static sim_op draw_op(sim_world *w)
{
    static const struct {
        sim_op op;
        uint32_t upto;
    } weights[] = {{SIM_OP_COMMIT, 44}, {SIM_OP_SYNC_HUB, 70}, {SIM_OP_SYNC_SITES, 76},
                   {SIM_OP_LOGFILE, 83}, {SIM_OP_UNITS, 90},   {SIM_OP_CLOCK, 95},
                   {SIM_OP_RESTART, 100}};
    uint32_t r = sim_rnd(w, 100);
    for (size_t k = 0; k < sizeof weights / sizeof weights[0]; k++)
        if (r < weights[k].upto)
            return weights[k].op;
    return SIM_OP_COMMIT;
}

bool sim_world_step(sim_world *w)
{
    partitions_update(w);
    if (!sim_special_step(w))
        return false;
    sim_op op = draw_op(w);
    w->s.ops++;
    w->s.op[op]++;
    int a = random_site(w), b = (a + (int)sim_rnd(w, (uint32_t)w->nsites)) % w->nsites + 1;
    bool ok = true;
    switch (op) {
    case SIM_OP_COMMIT:
        ok = commit_random(w, sim_rnd(w, 10) == 0 ? SIM_HUB : a);
        break;
    case SIM_OP_SYNC_HUB:
        if (!sim_reachable(w, a, SIM_HUB))
            w->s.refused_partition++;
        else if (sim_rnd(w, 4) == 0)
            ok = sim_session(w, SIM_HUB, a, true, NULL);
        else
            ok = sim_session(w, a, SIM_HUB, true, NULL);
        break;
    case SIM_OP_SYNC_SITES:
        if (a == b)
            break;
        if (!sim_reachable(w, a, b)) {
            w->s.refused_partition++;
            break;
        }
        w->s.sessions_sites++;
        ok = sim_session(w, a, b, true, NULL);
        break;
    case SIM_OP_LOGFILE:
        ok = sim_logfile(w, sim_rnd(w, 4) == 0 ? SIM_HUB : a, b == a ? SIM_HUB : b);
        break;
    case SIM_OP_UNITS:
        ok = sim_units(w, sim_rnd(w, 4) == 0 ? SIM_HUB : a, b == a ? SIM_HUB : b);
        break;
    case SIM_OP_CLOCK:
        clock_jump(w);
        break;
    case SIM_OP_RESTART:
        ok = sim_restart(w, sim_rnd(w, 5) == 0 ? SIM_HUB : a);
        break;
    default: break;
    }
    clocks_advance(w);
    w->op++;
    return ok && !w->c->failed;
}
