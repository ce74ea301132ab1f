/* tests/sim_events.c - the rare event of a simulation seed, drawn from a generator of its
 * own so that the other seeds run exactly as they would without it:
 *   - restore: a site backs its store up, goes on, and is restored from the backup (the
 *     convergence suite's restore, tests/conv_restore.c), coming back under a new epoch;
 *     its own commits of the old epoch that nobody else held are lost, legitimately;
 *   - revocation: the CA revokes a site's certificate with the hub's watermark (the last
 *     seq the hub held, SECURITY.md section 1.5); the list reaches the hub, and spreads by
 *     sessions and log files; the site goes on writing (a lost laptop);
 *   - equivocation: a second version of a site's latest commit, signed with its key (a
 *     cloned disk), reaches another site; the two histories must freeze the origin from
 *     that seq on everywhere (DESIGN.md section 4).
 * And, for the final verdict, which commits may be missing or must not apply, derived here
 * from the documents' rules (never from the engine): a revocation entry (replica, epoch E,
 * last good seq L) keeps commits of earlier epochs, of epoch E up to L, and none of later
 * epochs; an origin proven to equivocate at seq k applies nothing from k on. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "node/trust.h"
#include "node/units.h"
#include "schema/codec.h"
#include "tests/sim_world.h"

static uint32_t ernd(sim_world *w, uint32_t n) { return test_rng_below(&w->erng, n); }

void sim_special_plan(sim_world *w)
{
    uint32_t r = ernd(w, 10);
    w->special = r < 4 ? SIM_SPECIAL_NONE
                 : r < 6 ? SIM_SPECIAL_RESTORE
                 : r < 8 ? SIM_SPECIAL_REVOKE
                         : SIM_SPECIAL_EQUIVOCATE;
    w->target = 1 + (int)ernd(w, (uint32_t)w->nsites);
    w->special_op = w->nops / 4 + (int)ernd(w, (uint32_t)w->nops / 2);
    w->c->restorer = -1;
    if (w->special == SIM_SPECIAL_RESTORE) {
        /* conv_world_restore_step takes the backup and restores at these operations. */
        w->c->restorer = w->target;
        w->c->backup_round = 5 + (int)ernd(w, (uint32_t)(w->special_op - 10));
        w->c->restore_round[0] = w->special_op;
    }
}

/* ---- restore ------------------------------------------------------------------------ */

/* Before the restore: the commits of the target's current origin that survive it are those
 * the backup holds and those another node holds. */
static bool note_restore_losses(sim_world *w)
{
    conv_world *c = w->c;
    sn_err err = SN_ERR_INIT;
    const crdt_origin *o = node_store_origin(c->w[w->target].st);
    uint64_t kept = crdt_vv_get(&c->backup_held, o);
    for (int j = 0; j < c->nw; j++) {
        crdt_vv h;
        crdt_vv_init(&h);
        if (j != w->target && node_store_held(c->w[j].st, &h, &err) != 0)
            return conv_fail(c, "held vector of %s: %s", sim_name(w, j), err.msg);
        if (j != w->target && crdt_vv_get(&h, o) > kept)
            kept = crdt_vv_get(&h, o);
        crdt_vv_free(&h);
    }
    uint64_t own = crdt_vv_get(&w->acked, o);
    w->s.restore_lost += own > kept ? own - kept : 0;
    /* Kept 0 leaves no entry: then every commit of the old origin above 0 is excused. */
    if (crdt_vv_set(&w->lost, o, kept, &err) != 0)
        return conv_fail(c, "lost vector: %s", err.msg);
    return true;
}

/* ---- revocation --------------------------------------------------------------------- */

static bool revoke(sim_world *w)
{
    conv_world *c = w->c;
    sn_err err = SN_ERR_INIT;
    const crdt_origin *o = node_store_origin(c->w[w->target].st);
    crdt_vv h;
    crdt_vv_init(&h);
    if (node_store_held(c->w[SIM_HUB].st, &h, &err) != 0)
        return conv_fail(c, "held vector of the hub: %s", err.msg);
    w->revoke_wm = crdt_vv_get(&h, o);
    w->revoke_epoch = o->epoch;
    crdt_vv_free(&h);
    sync_crl_entry e = tca_entry(&w->cert[w->target], o->epoch, w->revoke_wm);
    sync_crl crl = tca_crl(&w->ca, &e, 1);
    bool taken = false;
    int rc = node_trust_crl_offer(c->w[SIM_HUB].st, &crl, &taken, &err);
    sync_crl_free(&crl);
    if (rc != 0 || !taken)
        return conv_fail(c, "the hub refused the revocation list: %s", err.msg);
    w->revoked = true;
    return true;
}

/* ---- equivocation ------------------------------------------------------------------- */

typedef struct own_bodies {
    const crdt_origin *o;
    conv_bodies l;
} own_bodies;

static int keep_own(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    own_bodies *ob = ctx;
    crdt_origin o;
    uint64_t seq;
    crdt_hlc hlc;
    uint32_t ver;
    int rc = schema_commit_peek(p, n, &o, &seq, &hlc, &ver, err);
    if (rc == 0 && crdt_origin_equal(&o, ob->o))
        conv_bodies_push(&ob->l, p, n);
    return rc;
}

/* The target's commits 1..k as it holds them, the last re-made with an hlc one higher and
 * signed with its key, handed to another site as a unit. False (nothing done) when the
 * target has written nothing yet: the fork waits for a later operation. */
static bool fork_history(sim_world *w, bool *done)
{
    conv_world *c = w->c;
    sn_err err = SN_ERR_INIT;
    node_store *st = c->w[w->target].st;
    own_bodies ob = {.o = node_store_origin(st)};
    *done = false;
    if (node_store_export(st, NULL, keep_own, &ob, &err) != 0)
        return conv_fail(c, "%s: export: %s", sim_name(w, w->target), err.msg);
    if (ob.l.n == 0) {
        conv_bodies_free(&ob.l);
        return true;
    }
    size_t k = ob.l.n;
    schema_commit *cm = NULL;
    if (schema_commit_decode(ob.l.v[k - 1].p, ob.l.v[k - 1].n, &cm, &err) != 0)
        return conv_fail(c, "decoding a commit of %s: %s", sim_name(w, w->target), err.msg);
    cm->hlc++;
    sn_buf forged, unit;
    sn_buf_init(&forged, SCHEMA_COMMIT_MAX);
    sn_buf_init(&unit, 1u << 24);
    int rc = schema_commit_encode(cm, &forged, &err);
    schema_commit_free(cm);
    ck_assert_msg(rc == 0, "re-encoding the forged commit: %s", err.msg);
    ob.l.v[k - 1] = (node_body){.p = forged.data, .n = forged.len};
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", c->dir, sim_name(w, w->target));
    tca_unit_signed(dir, &w->cert[w->target], ob.l.v, k, &unit);
    int to = w->target % w->nsites + 1;
    tca_certs_copy(st, c->w[to].st);
    node_body u = {.p = unit.data, .n = unit.len};
    bool ok = true;
    if (node_store_import_units(c->w[to].st, &u, 1, NULL, &err) != 0 ||
        node_store_apply_pending(c->w[to].st, NULL, &err) != 0)
        ok = conv_fail(c, "%s: taking the forged unit: %s", sim_name(w, to), err.msg);
    w->fork_origin = *ob.o;
    w->fork_seq = k;
    *done = true;
    sn_buf_free(&forged);
    sn_buf_free(&unit);
    conv_bodies_free(&ob.l);
    return ok;
}

/* ---- the step ------------------------------------------------------------------------ */

bool sim_special_step(sim_world *w)
{
    bool restored = false, done = true;
    switch (w->special) {
    case SIM_SPECIAL_RESTORE:
        if (w->op == w->special_op && !note_restore_losses(w))
            return false;
        if (!conv_world_restore_step(w->c, w->op, &restored))
            return false;
        sn_log_set_level(SN_LOG_ERROR); /* the restore put warnings back on */
        if (restored) {
            w->s.special[SIM_SPECIAL_RESTORE]++;
            sim_clock_observe(w, w->target);
        }
        return true;
    case SIM_SPECIAL_REVOKE:
        if (w->op != w->special_op)
            return true;
        w->s.special[SIM_SPECIAL_REVOKE]++;
        return revoke(w);
    case SIM_SPECIAL_EQUIVOCATE:
        if (w->op < w->special_op || w->fork_seq != 0)
            return true;
        if (!fork_history(w, &done))
            return false;
        w->s.special[SIM_SPECIAL_EQUIVOCATE] += done;
        return true;
    default: return true;
    }
}

/* ---- the verdict's rules ------------------------------------------------------------ */

/* The highest seq of origin o whose commits must apply (UINT64_MAX: all). */
static uint64_t applies_up_to(const sim_world *w, const crdt_origin *o)
{
    if (w->revoked && memcmp(o->replica, w->cert[w->target].replica, CRDT_REPLICA_LEN) == 0)
        return o->epoch < w->revoke_epoch    ? UINT64_MAX
               : o->epoch == w->revoke_epoch ? w->revoke_wm
                                             : 0;
    if (w->fork_seq != 0 && crdt_origin_equal(o, &w->fork_origin))
        return w->fork_seq - 1;
    return UINT64_MAX;
}

void sim_special_filter(sim_world *w, const conv_bodies *all, conv_bodies *keep)
{
    sn_err err = SN_ERR_INIT;
    for (size_t i = 0; i < all->n; i++) {
        crdt_origin o;
        uint64_t seq;
        crdt_hlc hlc;
        uint32_t ver;
        int rc = schema_commit_peek(all->v[i].p, all->v[i].n, &o, &seq, &hlc, &ver, &err);
        ck_assert_msg(rc == 0, "%s", err.msg);
        if (seq <= applies_up_to(w, &o))
            conv_bodies_push(keep, all->v[i].p, all->v[i].n);
    }
}

bool sim_special_excuses(const sim_world *w, const crdt_origin *o, uint64_t seq)
{
    if (seq > applies_up_to(w, o))
        return true;
    if (w->special != SIM_SPECIAL_RESTORE || w->c->nrestores == 0)
        return false;
    /* The restored origin: what nobody held at the restore is gone. */
    const crdt_origin *old = &w->c->restores[0].old;
    return crdt_origin_equal(o, old) && seq > crdt_vv_get(&w->lost, old);
}
