/* tests/conv_restore.c - restores in the convergence suite: one writer of a seed backs its
 * store up, goes on, and is restored from that backup (once or twice), losing what it
 * wrote and received since except what the others hold and send back, and going on under
 * a new epoch; and, after the full exchange, the commits that must still wait because one
 * before them was lost with a restore. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "tests/conv_world.h"

void conv_dots_push(conv_dots *l, const crdt_dot *d)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        ck_assert_ptr_nonnull(l->v);
    }
    l->v[l->n++] = *d;
}

static void dots_copy(conv_dots *to, const conv_dots *from)
{
    free(to->v);
    to->n = to->cap = from->n;
    to->v = malloc((from->n + 1) * sizeof *to->v);
    ck_assert_ptr_nonnull(to->v);
    if (from->n > 0)
        memcpy(to->v, from->v, from->n * sizeof *to->v);
}

static int dot_cmp(const void *a, const void *b)
{
    const crdt_dot *x = a, *y = b;
    int k = crdt_origin_cmp(&x->origin, &y->origin);
    return k != 0 ? k : (x->seq > y->seq) - (x->seq < y->seq);
}

static bool was_abandoned(const conv_world *c, const crdt_origin *o)
{
    for (int k = 0; k < c->nrestores; k++)
        if (crdt_origin_equal(&c->restores[k].old, o))
            return true;
    return false;
}

/* After the full exchange writer wi holds every commit that anyone holds; what was offered
 * to it beyond that waits behind a commit lost with a restore, for good. Also counts the
 * old-epoch commits the restorer took back from its peers. */
bool conv_world_count_stuck(conv_world *c, int wi)
{
    conv_writer *w = &c->w[wi];
    sn_err err = SN_ERR_INIT;
    crdt_vv held;
    crdt_vv_init(&held);
    if (node_store_held(w->st, &held, &err) != 0)
        return conv_fail(c, "held vector of %s: %s", w->name, err.msg);
    if (w->recv.n > 0)
        qsort(w->recv.v, w->recv.n, sizeof *w->recv.v, dot_cmp);
    bool ok = true;
    w->stuck = 0;
    for (size_t i = 0; i < w->recv.n && ok; i++) {
        const crdt_dot *d = &w->recv.v[i];
        if ((i > 0 && dot_cmp(d, d - 1) == 0) || d->seq <= crdt_vv_get(&held, &d->origin))
            continue;
        if (!was_abandoned(c, &d->origin))
            ok = conv_fail(c, "%s: a commit (epoch %u, seq %llu) still waits, yet nothing of "
                           "its origin was lost", w->name, d->origin.epoch,
                           (unsigned long long)d->seq);
        w->stuck++;
    }
    c->local.restore_stuck += w->stuck;
    for (int k = 0; k < c->nrestores && wi == c->restorer; k++)
        c->local.restore_returned +=
            crdt_vv_get(&held, &c->restores[k].old) - c->restores[k].backup_held;
    crdt_vv_free(&held);
    return ok;
}

void conv_world_plan_restores(conv_world *c, int rounds)
{
    if (test_rng_below(&c->rrng, 5) != 0 || rounds < 4)
        return;
    c->restorer = (int)test_rng_below(&c->rrng, (uint32_t)c->nw);
    c->backup_round = (int)test_rng_below(&c->rrng, (uint32_t)rounds / 2);
    int after = c->backup_round + 1;
    c->restore_round[0] = after + (int)test_rng_below(&c->rrng, (uint32_t)(rounds - after));
    after = c->restore_round[0] + 1;
    if (after < rounds && test_rng_below(&c->rrng, 3) == 0)
        c->restore_round[1] = after + (int)test_rng_below(&c->rrng, (uint32_t)(rounds - after));
}

static bool take_backup(conv_world *c, int wi)
{
    sn_err err = SN_ERR_INIT;
    snprintf(c->backup, sizeof c->backup, "%s/%s.backup", c->dir, c->w[wi].name);
    crdt_vv_clear(&c->backup_held);
    if (node_store_backup(c->w[wi].st, c->backup, false, &err) != 0 ||
        node_store_held(c->w[wi].st, &c->backup_held, &err) != 0)
        return conv_fail(c, "backup of %s: %s", c->w[wi].name, err.msg);
    dots_copy(&c->backup_recv, &c->w[wi].recv);
    return true;
}

/* The own commits of `old` that nobody holds any more once wi's store is gone. */
static uint64_t lost_with(conv_world *c, int wi, const crdt_origin *old, uint64_t own)
{
    uint64_t kept = crdt_vv_get(&c->backup_held, old);
    for (int j = 0; j < c->nw; j++) {
        crdt_vv h;
        crdt_vv_init(&h);
        sn_err err = SN_ERR_INIT;
        if (j != wi && node_store_held(c->w[j].st, &h, &err) == 0 && crdt_vv_get(&h, old) > kept)
            kept = crdt_vv_get(&h, old);
        crdt_vv_free(&h);
    }
    return own > kept ? own - kept : 0;
}

static bool restore(conv_world *c, int wi)
{
    conv_writer *w = &c->w[wi];
    sn_err err = SN_ERR_INIT;
    crdt_origin old = *node_store_origin(w->st);
    crdt_vv h;
    crdt_vv_init(&h);
    if (node_store_held(w->st, &h, &err) != 0)
        return conv_fail(c, "held vector of %s: %s", w->name, err.msg);
    c->local.restore_lost += lost_with(c, wi, &old, crdt_vv_get(&h, &old));
    crdt_vv_free(&h);
    /* The disk fails: store.db is gone, the key file survives (or was kept apart). */
    node_store_close(w->st);
    w->st = NULL;
    char dir[4200], p[4300];
    snprintf(dir, sizeof dir, "%s/%s", c->dir, w->name);
    static const char *const files[] = {"store.db", "store.db-wal", "store.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    if (node_store_restore(c->backup, dir, NULL, NULL, &err) != 0)
        return conv_fail(c, "restore of %s: %s", w->name, err.msg);
    node_open_opts opts = {.now_ms = test_clock_now, .now_ctx = &w->clock,
                           .durability = NODE_FAST, .state_dir = c->dir};
    sn_log_set_level(SN_LOG_ERROR); /* the new epoch's warning is expected */
    int rc = node_store_open(&w->st, dir, &opts, &err);
    sn_log_set_level(SN_LOG_WARN);
    if (rc != 0)
        return conv_fail(c, "reopening %s after its restore: %s", w->name, err.msg);
    const crdt_origin *now = node_store_origin(w->st);
    uint32_t highest = old.epoch;
    for (int k = 0; k < c->nrestores; k++)
        if (c->restores[k].old.epoch > highest)
            highest = c->restores[k].old.epoch;
    if (memcmp(now->replica, old.replica, CRDT_REPLICA_LEN) != 0 || now->epoch != highest + 1)
        return conv_fail(c, "%s restored with epoch %u, want %u (the next after every epoch it "
                         "had)", w->name, now->epoch, highest + 1);
    crdt_vv_init(&h);
    rc = node_store_held(w->st, &h, &err);
    uint64_t own = crdt_vv_get(&h, now), back = crdt_vv_get(&h, &old);
    crdt_vv_free(&h);
    if (rc != 0 || own != 0 || back != crdt_vv_get(&c->backup_held, &old))
        return conv_fail(c, "%s restored holding %llu of its new epoch and %llu of the old, "
                         "want 0 and %llu", w->name, (unsigned long long)own,
                         (unsigned long long)back,
                         (unsigned long long)crdt_vv_get(&c->backup_held, &old));
    /* What it was offered is what the backup had been offered. */
    dots_copy(&w->recv, &c->backup_recv);
    c->restores[c->nrestores++] = (conv_restore){.old = old,
                                                 .backup_held = crdt_vv_get(&c->backup_held, &old)};
    c->local.restores++;
    c->local.restores_again += c->nrestores > 1;
    return true; /* its applied vector is refreshed before its next commit */
}

bool conv_world_restore_step(conv_world *c, int round, bool *restored)
{
    *restored = false;
    if (c->restorer < 0)
        return true;
    if (round == c->backup_round)
        return take_backup(c, c->restorer);
    if (round != c->restore_round[0] && round != c->restore_round[1])
        return true;
    *restored = true;
    return restore(c, c->restorer);
}
