/* tests/sim_net.c - how commits travel in the convergence simulation: once-mode sessions of
 * two real links wired in memory (tests/link_pair.h), sometimes cut at a random byte (most
 * often inside a unit-sized frame after the HELLO, else anywhere in the first kilobytes,
 * handshake included), resumed by a later session; log files carried by hand, sometimes an
 * older one after a newer, sometimes twice; and units handed over shuffled, some twice, in
 * one to three calls, against a vector the receiver held long ago or none. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/logfile.h"
#include "node/units.h"
#include "tests/link_pair.h"
#include "tests/sim_world.h"

/* ---- sessions ----------------------------------------------------------------------- */

/* Where a session is cut: in direction `from`, either at stream byte `at_byte` or inside
 * the `nth` frame of at least UNIT_FRAME_MIN bytes after the HELLO, at `frac` of it. */
#define UNIT_FRAME_MIN 200

typedef struct cut_plan {
    link_pair *p;
    int from;
    bool by_unit;
    uint64_t at_byte;
    int nth, seen;
    uint32_t frac; /* per 65536 */
    bool fired, in_handshake;
    int quarter;
} cut_plan;

static void cut_hook(void *ctx, lp_chunk *c)
{
    cut_plan *k = ctx;
    if (k->fired || c->from != k->from)
        return;
    if (!k->by_unit) {
        if (k->at_byte < c->at || k->at_byte >= c->at + c->n)
            return;
        k->in_handshake = k->p->s[c->from].hs_bytes == 0 || k->at_byte < k->p->s[c->from].hs_bytes;
        c->n = (size_t)(k->at_byte - c->at);
        c->eof = k->fired = true;
        return;
    }
    for (size_t i = 0; i < c->nframes; i++) {
        const lp_frame *f = &c->frames[i];
        if (f->index == 0 || f->len < UNIT_FRAME_MIN || ++k->seen < k->nth)
            continue;
        size_t inside = 1 + (size_t)(((uint64_t)k->frac * (f->len - 1)) >> 16);
        k->quarter = (int)(4 * inside / f->len);
        c->n = f->off + inside;
        c->eof = k->fired = true;
        return;
    }
}

static bool revoked_peer(const sim_world *w, int a, int b)
{
    return w->revoked && (a == w->target || b == w->target);
}

bool sim_session(sim_world *w, int a, int b, bool may_cut, uint64_t *moved)
{
    link_pair p = {0};
    cut_plan k = {.p = &p};
    if (may_cut && sim_rnd(w, 10) < 3) {
        k.from = (int)sim_rnd(w, 2);
        k.by_unit = sim_rnd(w, 10) < 7;
        k.at_byte = sim_rnd(w, 6000);
        k.nth = 1 + (int)sim_rnd(w, 4);
        k.frac = sim_rnd(w, 65536);
        p.hook = cut_hook;
        p.hook_ctx = &k;
    }
    lp_open(&p, w->c->w[a].st, w->c->w[b].st, NULL);
    bool quiet = lp_run(&p, 0);
    const node_link_stats *sa = lp_stats(&p, LP_INIT), *sb = lp_stats(&p, LP_RESP);
    w->s.sessions++;
    w->s.units_link += sa->units_in + sb->units_in;
    w->s.commits_link += sa->commits_in + sb->commits_in;
    w->s.bytes_link += sa->bytes_out + sb->bytes_out;
    if (moved != NULL)
        *moved = sa->commits_in + sb->commits_in;
    bool done = lp_state(&p, LP_INIT) == NODE_LINK_DONE && lp_state(&p, LP_RESP) == NODE_LINK_DONE &&
                sa->caught_up && sb->caught_up;
    bool ok = true;
    const char *ea = lp_error(&p, LP_INIT)->msg, *eb = lp_error(&p, LP_RESP)->msg;
    if (!quiet) {
        ok = conv_fail(w->c, "session %s -> %s never went quiet", sim_name(w, a), sim_name(w, b));
    } else if (k.fired) {
        w->s.cuts++;
        w->s.cuts_handshake += k.in_handshake;
        if (k.by_unit) {
            w->s.cuts_unit++;
            w->s.cut_quarter[k.quarter & 3]++;
        }
    } else if (done) {
        w->s.sessions_done++;
    } else if (revoked_peer(w, a, b) && (strstr(ea, "revoked") || strstr(eb, "revoked"))) {
        w->s.refused_revoked++;
    } else {
        ok = conv_fail(w->c, "session %s -> %s, not cut, ended in states %d/%d: '%s' / '%s'",
                       sim_name(w, a), sim_name(w, b), (int)lp_state(&p, LP_INIT),
                       (int)lp_state(&p, LP_RESP), ea, eb);
    }
    lp_close(&p);
    sim_clock_observe(w, a);
    sim_clock_observe(w, b);
    return ok;
}

/* ---- log files ---------------------------------------------------------------------- */

static bool file_import(sim_world *w, int to, const char *path)
{
    sn_err err = SN_ERR_INIT;
    node_logfile_stats ls;
    w->s.file_imports++;
    if (node_logfile_import(w->c->w[to].st, path, &ls, &err) != 0)
        return conv_fail(w->c, "%s: importing log file %s: %s", sim_name(w, to), path, err.msg);
    sim_clock_observe(w, to);
    return true;
}

bool sim_logfile(sim_world *w, int from, int to)
{
    sn_err err = SN_ERR_INIT;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s-%d.log", w->c->dir, sim_name(w, from), w->nfiles++);
    crdt_vv held;
    crdt_vv_init(&held);
    bool all = sim_rnd(w, 5) == 0;
    if (!all && node_store_held(w->c->w[to].st, &held, &err) != 0)
        return conv_fail(w->c, "held vector of %s: %s", sim_name(w, to), err.msg);
    int rc = node_logfile_export(w->c->w[from].st, all ? NULL : &held, path, NULL, &err);
    crdt_vv_free(&held);
    if (rc != 0)
        return conv_fail(w->c, "%s: exporting a log file: %s", sim_name(w, from), err.msg);
    w->s.files++;
    bool ok = true;
    uint32_t order = sim_rnd(w, 4);
    const char *stale = w->file[from][0] ? w->file[from] : NULL;
    if (order == 0 && stale != NULL) /* the older file is found after the newer one */
        ok = file_import(w, to, stale);
    ok = ok && file_import(w, to, path);
    if (ok && order == 1 && stale != NULL) {
        w->s.files_stale++;
        ok = file_import(w, to, stale);
    }
    if (ok && sim_rnd(w, 5) == 0) {
        w->s.files_twice++;
        ok = file_import(w, to, path);
    }
    snprintf(w->file[from], sizeof w->file[from], "%s", path);
    return ok;
}

/* ---- units by hand ------------------------------------------------------------------ */

typedef struct exported {
    conv_bodies units, heads, proofs;
} exported;

static int keep_unit(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    (void)err;
    conv_bodies_push(&((exported *)ctx)->units, p, n);
    return 0;
}

static int keep_head(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    (void)err;
    conv_bodies_push(&((exported *)ctx)->heads, p, n);
    return 0;
}

static int keep_proof(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    (void)err;
    conv_bodies_push(&((exported *)ctx)->proofs, p, n);
    return 0;
}

/* The vector `to` is told to hold: what it holds, or each entry cut back at random (an
 * old vector), or nothing at all. */
static bool stale_vector(sim_world *w, int to, crdt_vv *out)
{
    sn_err err = SN_ERR_INIT;
    uint32_t kind = sim_rnd(w, 4);
    if (kind == 0)
        return true;
    if (node_store_held(w->c->w[to].st, out, &err) != 0)
        return conv_fail(w->c, "held vector of %s: %s", sim_name(w, to), err.msg);
    for (size_t i = 0; kind == 1 && i < out->n; i++)
        out->e[i].seq = sim_rnd(w, (uint32_t)out->e[i].seq + 1);
    crdt_vv cleaned;
    crdt_vv_init(&cleaned);
    for (size_t i = 0; i < out->n; i++)
        if (out->e[i].seq > 0 && crdt_vv_set(&cleaned, &out->e[i].origin, out->e[i].seq, &err))
            ck_abort_msg("%s", err.msg);
    crdt_vv_free(out);
    *out = cleaned;
    return true;
}

bool sim_units(sim_world *w, int from, int to)
{
    node_store *src = w->c->w[from].st, *dst = w->c->w[to].st;
    sn_err err = SN_ERR_INIT;
    crdt_vv told;
    crdt_vv_init(&told);
    exported x = {0};
    tca_certs_copy(src, dst);
    bool ok = stale_vector(w, to, &told);
    size_t target = NODE_UNIT_FLOOR + sim_rnd(w, NODE_UNIT_TARGET - NODE_UNIT_FLOOR);
    if (ok && node_store_export_units_sized(src, told.n ? &told : NULL, target, keep_unit,
                                            sim_rnd(w, 2) ? keep_head : NULL, &x, NULL,
                                            &err) != 0)
        ok = conv_fail(w->c, "%s: exporting units: %s", sim_name(w, from), err.msg);
    crdt_vv_free(&told);
    node_body *v = malloc((2 * x.units.n + 1) * sizeof *v);
    ck_assert_ptr_nonnull(v);
    size_t n = x.units.n;
    if (n > 0)
        memcpy(v, x.units.v, n * sizeof *v);
    size_t base = n;
    for (size_t i = 0; i < base; i++)
        if (sim_rnd(w, 4) == 0) {
            v[n++] = v[i];
            w->s.units_dup++;
        }
    conv_shuffle(w->c, v, n);
    w->s.unit_handovers++;
    w->s.units_handed += base;
    size_t calls = n > 1 ? 1 + sim_rnd(w, 3) : 1, at = 0;
    w->s.unit_calls_reordered += calls > 1;
    for (size_t k = 0; ok && k < calls; k++) {
        size_t len = k + 1 == calls ? n - at : sim_rnd(w, (uint32_t)(n - at + 1));
        if (len > 0 && node_store_import_units(dst, v + at, len, NULL, &err) != 0)
            ok = conv_fail(w->c, "%s: importing %zu units from %s: %s", sim_name(w, to), len,
                           sim_name(w, from), err.msg);
        at += len;
    }
    size_t equiv = 0;
    if (ok && x.heads.n > 0 &&
        node_store_offer_checkpoints(dst, x.heads.v, x.heads.n, &equiv, &err) != 0)
        ok = conv_fail(w->c, "%s: offering %zu heads: %s", sim_name(w, to), x.heads.n, err.msg);
    /* Proofs go with the heads, as in a session or a log file. */
    if (ok && x.heads.n > 0 && node_store_export_proofs(src, keep_proof, &x, NULL, &err) != 0)
        ok = conv_fail(w->c, "%s: exporting proofs: %s", sim_name(w, from), err.msg);
    if (ok && x.proofs.n > 0 &&
        node_store_offer_proofs(dst, x.proofs.v, x.proofs.n, &equiv, &err) != 0)
        ok = conv_fail(w->c, "%s: offering %zu proofs: %s", sim_name(w, to), x.proofs.n,
                       err.msg);
    if (ok && node_store_apply_pending(dst, NULL, &err) != 0)
        ok = conv_fail(w->c, "%s: applying: %s", sim_name(w, to), err.msg);
    node_counts nc;
    if (ok && node_store_counts(dst, &nc, &err) != 0)
        ok = conv_fail(w->c, "%s: counts: %s", sim_name(w, to), err.msg);
    if (ok && nc.waiting != 0)
        ok = conv_fail(w->c, "%s: %llu commits wait after a whole handover from %s",
                       sim_name(w, to), (unsigned long long)nc.waiting, sim_name(w, from));
    free(v);
    conv_bodies_free(&x.units);
    conv_bodies_free(&x.heads);
    conv_bodies_free(&x.proofs);
    sim_clock_observe(w, to);
    return ok;
}
