/* tests/conv_world.c - the convergence suite's simulated writers: random commits, partial
 * and full delivery of commit logs between stores, and the statistics shared across seeds
 * (backups and restores: tests/conv_restore.c). */
#include "tests/conv_world.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "schema/codec.h"

/* ---- shared statistics ------------------------------------------------------------- */

static conv_stats *g_stats; /* MAP_SHARED: children of fork mode add to the same counters */

void conv_stats_share(void)
{
    if (g_stats != NULL)
        return;
    g_stats = test_shared_map(sizeof *g_stats);
}

void conv_stats_add(const conv_stats *s, double secs)
{
    if (g_stats == NULL)
        return;
    g_stats->seeds++;
    g_stats->commits += s->commits;
    g_stats->changes += s->changes;
    g_stats->refused += s->refused;
    g_stats->imports += s->imports;
    g_stats->waited += s->waited;
    g_stats->sets += s->sets;
    g_stats->sets_concurrent += s->sets_concurrent;
    g_stats->mv_all += s->mv_all;
    g_stats->multi_equal += s->multi_equal;
    g_stats->mv_cells += s->mv_cells;
    g_stats->mv_multi += s->mv_multi;
    g_stats->conflicts += s->conflicts;
    g_stats->rows += s->rows;
    g_stats->retracted += s->retracted;
    g_stats->retracted_retractions += s->retracted_retractions;
    g_stats->links += s->links;
    g_stats->merged_patients += s->merged_patients;
    g_stats->patients += s->patients;
    g_stats->cycles += s->cycles;
    g_stats->live_cycles += s->live_cycles;
    g_stats->midway += s->midway;
    g_stats->midway_stubs += s->midway_stubs;
    g_stats->restores += s->restores;
    g_stats->restore_seeds += s->restores > 0;
    g_stats->restores_again += s->restores_again;
    g_stats->restore_lost += s->restore_lost;
    g_stats->restore_returned += s->restore_returned;
    g_stats->restore_stuck += s->restore_stuck;
    g_stats->seconds += secs;
    if (g_stats->first_refusal[0] == '\0' && s->first_refusal[0] != '\0')
        memcpy(g_stats->first_refusal, s->first_refusal, sizeof g_stats->first_refusal);
}

const conv_stats *conv_stats_totals(void) { return g_stats; }

static double share(unsigned long a, unsigned long b)
{
    return b ? 100.0 * (double)a / (double)b : 0;
}

void conv_stats_print(const conv_stats *s, FILE *out)
{
    fprintf(out,
            "convergence: %lu seeds passed, %.1f ms per seed; %lu commits, %lu changes "
            "(%lu refused at local write%s%s)\n"
            "  mv sets: %lu, concurrent with another write to the cell: %lu (%.1f%%)\n"
            "  final mv cells: %lu; written by a set: %lu, of which with >1 sibling: %lu "
            "(%.1f%%; all siblings equal: %lu); open conflicts: %lu\n"
            "  imports: %lu, leaving commits waiting: %lu (%.1f%%)\n"
            "  rows: %lu, retracted: %lu (of which retractions: %lu); links: %lu; "
            "patients merged under another id: %lu of %lu; seeds whose links close a "
            "cycle: %lu (still live at the end: %lu)\n"
            "  midway checks of one store against the model of what it holds: %lu, rows "
            "there known only from sets: %lu\n"
            "  restores from a backup under a new epoch: %lu in %lu seeds (%lu of them a "
            "second restore of one backup); own commits lost with them: %lu; old-epoch "
            "commits taken back from peers: %lu; commits left waiting for ever behind a "
            "lost one: %lu\n",
            s->seeds, 1000.0 * s->seconds / (double)s->seeds, s->commits, s->changes,
            s->refused, s->first_refusal[0] ? "; first: " : "", s->first_refusal, s->sets,
            s->sets_concurrent, share(s->sets_concurrent, s->sets), s->mv_all, s->mv_cells,
            s->mv_multi, share(s->mv_multi, s->mv_cells), s->multi_equal, s->conflicts,
            s->imports, s->waited, share(s->waited, s->imports), s->rows, s->retracted,
            s->retracted_retractions, s->links, s->merged_patients, s->patients, s->cycles,
            s->live_cycles, s->midway, s->midway_stubs, s->restores, s->restore_seeds,
            s->restores_again, s->restore_lost, s->restore_returned, s->restore_stuck);
}

/* ---- commit bodies ----------------------------------------------------------------- */

void conv_bodies_push(conv_bodies *l, const uint8_t *p, size_t n)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        l->own = realloc(l->own, l->cap * sizeof *l->own);
        ck_assert(l->v != NULL && l->own != NULL);
    }
    uint8_t *copy = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, p, n);
    l->own[l->n] = copy;
    l->v[l->n++] = (node_body){.p = copy, .n = n};
}

void conv_bodies_free(conv_bodies *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->own[i]);
    free(l->v);
    free(l->own);
    *l = (conv_bodies){0};
}

static int bodies_collect(void *ctx, const uint8_t *body, size_t n, sn_err *err)
{
    (void)err;
    conv_bodies_push(ctx, body, n);
    return 0;
}

/* ---- the per-seed world ------------------------------------------------------------ */

bool conv_fail(conv_world *c, const char *fmt, ...)
{
    if (!c->failed) {
        c->failed = true;
        int k = snprintf(c->msg, sizeof c->msg, "seed %d (%s): ", c->seed,
                         c->phase[0] ? c->phase : "rounds");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->msg + k, sizeof c->msg - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return false;
}

uint32_t conv_rnd(conv_world *c, uint32_t n) { return test_rng_below(&c->rng, n); }

conv_world *conv_world_new_empty(int seed, const char *base_dir)
{
    conv_world *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    c->seed = seed;
    test_rng_seed(&c->rng, (uint64_t)seed);
    test_rng_seed(&c->rrng, (uint64_t)seed ^ UINT64_C(0x5e570e));
    c->restorer = -1;
    c->backup_round = c->restore_round[0] = c->restore_round[1] = -1;
    c->t_patient = schema_table_by_name("patient");
    c->t_link = schema_table_by_name("patient_link");
    c->t_retraction = schema_table_by_name("retraction");
    static const char *const clinical[4] = {"encounter", "allergy", "condition", "observation"};
    for (int i = 0; i < 4; i++)
        c->clinical[i] = schema_table_by_name(clinical[i]);
    ck_assert(c->t_patient && c->t_link && c->t_retraction && c->clinical[0] &&
              c->clinical[1] && c->clinical[2] && c->clinical[3]);
    size_t dlen = strlen(base_dir) + 32;
    c->dir = malloc(dlen);
    ck_assert_ptr_nonnull(c->dir);
    snprintf(c->dir, dlen, "%s/seed%d", base_dir, seed);
    ck_assert_msg(mkdir(c->dir, 0700) == 0, "mkdir %s", c->dir);
    return c;
}

conv_world *conv_world_new(int seed, const char *base_dir)
{
    conv_world *c = conv_world_new_empty(seed, base_dir);
    c->nw = 3 + (int)conv_rnd(c, 3);
    /* One writer in three seeds runs far behind (past the skew limit): its writes that
     * causally follow others carry smaller hlcs. The rest are within two seconds, or in
     * half the seeds within 2 ms and moving in step, so that equal hlcs from different
     * origins (decided by replica bytes) are common. */
    c->lockstep = conv_rnd(c, 2) == 0;
    int behind = conv_rnd(c, 3) == 0 ? (int)conv_rnd(c, (uint32_t)c->nw) : -1;
    for (int i = 0; i < c->nw; i++) {
        snprintf(c->w[i].name, sizeof c->w[i].name, "w%d", i);
        c->w[i].clock.ms = CONV_BASE_MS + conv_rnd(c, c->lockstep ? 2 : 2000);
        if (i == behind)
            c->w[i].clock.ms -= 20 * 60 * 1000;
        c->w[i].st = test_store_new(c->dir, c->w[i].name, &c->w[i].clock);
        crdt_vv_init(&c->w[i].applied);
    }
    return c;
}

void conv_world_free(conv_world *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < c->nw; i++) {
        node_store_close(c->w[i].st);
        crdt_vv_free(&c->w[i].applied);
        free(c->w[i].recv.v);
    }
    crdt_vv_free(&c->backup_held);
    free(c->backup_recv.v);
    test_rmtree(c->dir);
    free(c->dir);
    free(c->rows);
    free(c);
}

/* ---- value choices ----------------------------------------------------------------- */

/* Few values per column, so concurrent writes often agree and often differ. States that
 * are absorbing at local write are never chosen: a refused write would only add noise. */
static bool code_is_terminal(const char *s)
{
    static const char *const terminal[] = {"revoked",  "cancelled",        "completed",
                                           "stopped",  "entered-in-error", "finished", NULL};
    for (size_t i = 0; terminal[i] != NULL; i++)
        if (strcmp(s, terminal[i]) == 0)
            return true;
    return false;
}

static const conv_row *pick_held(conv_world *c, int wi, uint16_t table, int pool);

/* A value for column col of table t at writer wi; false when none can be made (a
 * reference to a table of which the writer holds no row). */
static bool pick_value(conv_world *c, int wi, const schema_table *t, const schema_column *col,
                       schema_value *out)
{
    static const char *const text3[] = {"Ahmed", "Brown", "\xc3\x87" "elik"};
    static const char *const nhs3[] = {"9434765919", "9000000009", "9876543210"};
    static const char *const date2[] = {"1980-01-01", "1991-06-15"};
    static const char *const datetime2[] = {"2024-03-01T10:00Z", "2024-03-02T11:30Z"};
    switch (col->type) {
    case SCHEMA_T_TEXT:
        *out = schema_value_text(strcmp(col->name, "nhs_number") == 0 ? nhs3[conv_rnd(c, 3)]
                                                                      : text3[conv_rnd(c, 3)]);
        return true;
    case SCHEMA_T_DATE:
        *out = schema_value_text(date2[conv_rnd(c, 2)]);
        return true;
    case SCHEMA_T_DATETIME:
        *out = schema_value_text(datetime2[conv_rnd(c, 2)]);
        return true;
    case SCHEMA_T_INT:
        *out = schema_value_int(1 + conv_rnd(c, 2));
        return true;
    case SCHEMA_T_REAL:
        *out = schema_value_real(conv_rnd(c, 2) ? 36.5 : 120.25);
        return true;
    case SCHEMA_T_CODE: {
        const char *ok[3];
        size_t n = 0;
        for (size_t i = 0; col->codes != NULL && col->codes[i] != NULL && n < 3; i++)
            if (!code_is_terminal(col->codes[i]))
                ok[n++] = col->codes[i];
        if (n == 0)
            return false;
        *out = schema_value_text(ok[conv_rnd(c, (uint32_t)n)]);
        return true;
    }
    case SCHEMA_T_REF: {
        const conv_row *r = pick_held(c, wi, col->ref_table, 0);
        if (r == NULL)
            return false;
        *out = schema_value_id(r->id);
        return true;
    }
    }
    (void)t;
    return false;
}

/* ---- which rows a writer holds ----------------------------------------------------- */

static bool holds(conv_world *c, int wi, const conv_row *r)
{
    crdt_dot d = {.origin = r->origin, .seq = r->seq};
    return crdt_vv_covers(&c->w[wi].applied, &d);
}

/* A held row of `table` (SCHEMA_REF_ANY: of any table). pool > 0 prefers the first `pool`
 * held rows (hot rows, so that writers collide), most of the time. */
static const conv_row *pick_held(conv_world *c, int wi, uint16_t table, int pool)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nrows; i++)
        if ((table == SCHEMA_REF_ANY || c->rows[i].table == table) && holds(c, wi, &c->rows[i]))
            n++;
    if (n == 0)
        return NULL;
    size_t k = conv_rnd(c, (uint32_t)n);
    if (pool > 0 && conv_rnd(c, 10) < 8)
        k = conv_rnd(c, (uint32_t)(n < (size_t)pool ? n : (size_t)pool));
    for (size_t i = 0; i < c->nrows; i++)
        if ((table == SCHEMA_REF_ANY || c->rows[i].table == table) &&
            holds(c, wi, &c->rows[i]) && k-- == 0)
            return &c->rows[i];
    return NULL;
}

static bool table_has_mv(const schema_table *t)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (t->cols[i].kind == SCHEMA_MV)
            return true;
    return false;
}

/* ---- one commit -------------------------------------------------------------------- */

typedef struct pending_row {
    uint16_t table;
    uint8_t id[SCHEMA_ID_LEN];
} pending_row;

typedef struct touched {
    uint16_t table, col;
    uint8_t row[SCHEMA_ID_LEN];
} touched;

static void note_refusal(conv_world *c, const sn_err *err)
{
    c->local.refused++;
    if (c->local.first_refusal[0] == '\0')
        snprintf(c->local.first_refusal, sizeof c->local.first_refusal, "%.200s", err->msg);
}

/* Insert a row of t with its required columns and some optional ones. */
static bool gen_insert(conv_world *c, int wi, node_write *wr, const schema_table *t,
                       const schema_field *preset, size_t npreset, pending_row *pend,
                       size_t *npend)
{
    schema_field f[SCHEMA_FIELDS_MAX];
    size_t nf = 0;
    for (size_t i = 0; i < npreset; i++)
        f[nf++] = preset[i];
    for (size_t i = 0; i < t->ncols; i++) {
        const schema_column *col = &t->cols[i];
        bool given = false;
        for (size_t k = 0; k < npreset; k++)
            given |= preset[k].col == col->id;
        if (given)
            continue;
        if (t == c->t_retraction && col->type == SCHEMA_T_REF)
            continue; /* target preset; the optional patient_id is left out */
        if (!col->required && conv_rnd(c, 3) != 0)
            continue;
        schema_value v;
        if (!pick_value(c, wi, t, col, &v)) {
            if (col->required)
                return false;
            continue;
        }
        f[nf++] = (schema_field){.col = col->id, .value = v};
    }
    sn_err err = SN_ERR_INIT;
    uint8_t id[SCHEMA_ID_LEN];
    int rc = node_write_insert(wr, t->id, f, nf, id, &err);
    if (rc != 0) {
        note_refusal(c, &err);
        return false;
    }
    pend[*npend].table = t->id;
    memcpy(pend[*npend].id, id, SCHEMA_ID_LEN);
    (*npend)++;
    return true;
}

static bool gen_set(conv_world *c, int wi, node_write *wr, touched *tch, size_t *ntch)
{
    /* A hot row of a table with mv columns. */
    static const char *const names[12] = {"patient",   "patient",   "patient", "patient",
                                          "patient",   "patient",   "allergy", "allergy",
                                          "allergy",   "encounter", "condition",
                                          "observation"};
    const schema_table *t = schema_table_by_name(names[conv_rnd(c, 12)]);
    if (t == NULL || !table_has_mv(t))
        return false;
    const conv_row *r = pick_held(c, wi, t->id, conv_rnd(c, 2) ? 1 : 2);
    if (r == NULL)
        return false;
    size_t nmv = 0;
    for (size_t i = 0; i < t->ncols; i++)
        nmv += t->cols[i].kind == SCHEMA_MV;
    /* Concentrate on two columns per table most of the time: more collisions. */
    size_t k = conv_rnd(c, 10) < 7 ? conv_rnd(c, (uint32_t)(nmv < 2 ? nmv : 2))
                                   : conv_rnd(c, (uint32_t)nmv);
    const schema_column *col = NULL;
    for (size_t i = 0; i < t->ncols && col == NULL; i++)
        if (t->cols[i].kind == SCHEMA_MV && k-- == 0)
            col = &t->cols[i];
    /* Mostly the hot cells: the review name and the auto address of the first patients,
     * the ranked review verification of the first allergy. */
    if (t == c->t_patient && conv_rnd(c, 4) != 0)
        col = schema_column_by_name(t, conv_rnd(c, 2) ? "family" : "address");
    else if (strcmp(t->name, "allergy") == 0 && conv_rnd(c, 2) == 0)
        col = schema_column_by_name(t, "verification");
    if (col == NULL)
        return false;
    for (size_t i = 0; i < *ntch; i++)
        if (tch[i].table == t->id && tch[i].col == col->id &&
            memcmp(tch[i].row, r->id, SCHEMA_ID_LEN) == 0)
            return false; /* one change per cell per commit */
    schema_value v;
    if (!pick_value(c, wi, t, col, &v))
        return false;
    sn_err err = SN_ERR_INIT;
    if (node_write_set(wr, t->id, r->id, col->id, &v, &err) != 0) {
        note_refusal(c, &err);
        return false;
    }
    tch[*ntch].table = t->id;
    tch[*ntch].col = col->id;
    memcpy(tch[*ntch].row, r->id, SCHEMA_ID_LEN);
    (*ntch)++;
    return true;
}

/* The pool of patients links are drawn from: the first three this writer holds. Links
 * among three (A-B, B-C, C-A) close cycles. */
static bool gen_link(conv_world *c, int wi, node_write *wr, pending_row *pend, size_t *npend)
{
    const conv_row *pool[3];
    size_t n = 0;
    for (size_t i = 0; i < c->nrows && n < 3; i++)
        if (c->rows[i].table == c->t_patient->id && holds(c, wi, &c->rows[i]))
            pool[n++] = &c->rows[i];
    if (n < 2)
        return false;
    size_t a = conv_rnd(c, (uint32_t)n), b = (a + 1 + conv_rnd(c, (uint32_t)n - 1)) % n;
    const schema_column *ca = schema_column_by_name(c->t_link, "patient_id");
    const schema_column *cb = schema_column_by_name(c->t_link, "other_id");
    if (ca == NULL || cb == NULL)
        return false;
    schema_field f[2] = {{.col = ca->id, .value = schema_value_id(pool[a]->id)},
                         {.col = cb->id, .value = schema_value_id(pool[b]->id)}};
    return gen_insert(c, wi, wr, c->t_link, f, 2, pend, npend);
}

static bool gen_retraction(conv_world *c, int wi, node_write *wr, pending_row *pend, size_t *npend)
{
    const conv_row *target = NULL;
    uint32_t r = conv_rnd(c, 10);
    if (r < 4)
        target = pick_held(c, wi, c->t_link->id, 0); /* unmerge */
    else if (r < 7)
        target = pick_held(c, wi, c->t_retraction->id, 0); /* undo a retraction */
    if (target == NULL) {
        const schema_table *t = conv_rnd(c, 2) ? c->clinical[conv_rnd(c, 4)] : c->t_patient;
        target = pick_held(c, wi, t->id, 0);
    }
    if (target == NULL)
        return false;
    const schema_column *tc = schema_column_by_name(c->t_retraction, "target_id");
    if (tc == NULL)
        return false;
    schema_field f = {.col = tc->id, .value = schema_value_id(target->id)};
    return gen_insert(c, wi, wr, c->t_retraction, &f, 1, pend, npend);
}

static bool refresh_applied(conv_world *c, int wi)
{
    sn_err err = SN_ERR_INIT;
    crdt_vv_clear(&c->w[wi].applied);
    if (node_store_applied(c->w[wi].st, &c->w[wi].applied, &err) != 0)
        return conv_fail(c, "applied vector of %s: %s", c->w[wi].name, err.msg);
    return true;
}

bool conv_world_commit_random(conv_world *c, int wi)
{
    c->w[wi].last = (node_commit_info){0};
    if (!refresh_applied(c, wi))
        return false;
    sn_err err = SN_ERR_INIT;
    node_write *wr = NULL;
    char author[32];
    snprintf(author, sizeof author, "dr-%s", c->w[wi].name);
    if (node_write_begin(c->w[wi].st, author, NULL, &wr, &err) != 0)
        return conv_fail(c, "write_begin on %s: %s", c->w[wi].name, err.msg);
    pending_row pend[4];
    size_t npend = 0, ntch = 0, nchanges = 0;
    touched tch[4];
    int want = 1 + (int)conv_rnd(c, 3);
    size_t npatients = 0;
    for (size_t i = 0; i < c->nrows; i++)
        npatients += c->rows[i].table == c->t_patient->id;
    for (int k = 0, tries = 0; k < want && tries < 12; tries++) {
        uint32_t op = conv_rnd(c, 100);
        bool ok;
        if (op < 10 || npatients == 0)
            ok = npatients < 6 && gen_insert(c, wi, wr, c->t_patient, NULL, 0, pend, &npend);
        else if (op < 25)
            ok = gen_insert(c, wi, wr, c->clinical[conv_rnd(c, 4)], NULL, 0, pend, &npend);
        else if (op < 78)
            ok = gen_set(c, wi, wr, tch, &ntch);
        else if (op < 89)
            ok = gen_retraction(c, wi, wr, pend, &npend);
        else
            ok = gen_link(c, wi, wr, pend, &npend);
        if (ok) {
            k++;
            nchanges++;
        }
    }
    if (nchanges == 0) {
        node_write_abort(wr);
        return true;
    }
    node_commit_info info = {0};
    if (node_write_commit(wr, &info, &err) != 0)
        return conv_fail(c, "commit on %s: %s", c->w[wi].name, err.msg);
    c->w[wi].last = info;
    c->local.commits++;
    c->local.changes += nchanges;
    for (size_t i = 0; i < npend; i++) {
        if (c->nrows == c->caprows) {
            c->caprows = c->caprows ? 2 * c->caprows : 64;
            c->rows = realloc(c->rows, c->caprows * sizeof *c->rows);
            ck_assert_ptr_nonnull(c->rows);
        }
        conv_row *r = &c->rows[c->nrows++];
        r->table = pend[i].table;
        memcpy(r->id, pend[i].id, SCHEMA_ID_LEN);
        r->writer = wi;
        r->origin = *node_store_origin(c->w[wi].st);
        r->seq = info.seq;
    }
    return true;
}

/* ---- delivery ---------------------------------------------------------------------- */

bool conv_world_export(conv_world *c, int wi, conv_bodies *out)
{
    sn_err err = SN_ERR_INIT;
    if (node_store_export(c->w[wi].st, NULL, bodies_collect, out, &err) != 0)
        return conv_fail(c, "export from %s: %s", c->w[wi].name, err.msg);
    return true;
}

void conv_shuffle(conv_world *c, node_body *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = conv_rnd(c, (uint32_t)i);
        node_body t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

static bool import_list(conv_world *c, int wi, const node_body *v, size_t n)
{
    sn_err err = SN_ERR_INIT;
    for (size_t i = 0; i < n && c->restorer >= 0; i++) {
        crdt_dot d;
        crdt_hlc hlc;
        uint32_t ver;
        if (schema_commit_peek(v[i].p, v[i].n, &d.origin, &d.seq, &hlc, &ver, &err) != 0)
            return conv_fail(c, "peek of a body for %s: %s", c->w[wi].name, err.msg);
        conv_dots_push(&c->w[wi].recv, &d);
    }
    node_import_stats stats = {0};
    if (node_store_import(c->w[wi].st, v, n, &stats, &err) != 0)
        return conv_fail(c, "import of %zu bodies into %s: %s", n, c->w[wi].name, err.msg);
    c->local.imports++;
    if (stats.waiting > 0)
        c->local.waited++;
    return true;
}

/* Writer wi receives part of what writer src holds. */
bool conv_world_deliver_part(conv_world *c, int wi, int src)
{
    conv_bodies all = {0};
    if (!conv_world_export(c, src, &all))
        return false;
    node_body *d = malloc((2 * all.n + 1) * sizeof *d);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    if (conv_rnd(c, 6) == 0) {
        /* A random subset: later commits of an origin before earlier ones (they wait). */
        for (size_t i = 0; i < all.n; i++)
            if (conv_rnd(c, 2))
                d[n++] = all.v[i];
    } else {
        size_t k = conv_rnd(c, (uint32_t)all.n + 1);
        for (size_t i = 0; i < k; i++)
            d[n++] = all.v[i];
    }
    size_t base = n;
    for (size_t i = 0; i < base; i++)
        if (conv_rnd(c, 5) == 0)
            d[n++] = d[i];
    if (conv_rnd(c, 4) != 0)
        conv_shuffle(c, d, n);
    bool ok = true;
    size_t chunks = 1 + conv_rnd(c, 3), at = 0;
    for (size_t k = 0; k < chunks && ok; k++) {
        size_t len = k + 1 == chunks ? n - at : conv_rnd(c, (uint32_t)(n - at + 1));
        if (len > 0)
            ok = import_list(c, wi, d + at, len);
        at += len;
    }
    free(d);
    conv_bodies_free(&all);
    return ok;
}

/* Do all writers hold the same commits? (*same false also after a failure.) */
static bool held_same(conv_world *c, bool *same)
{
    crdt_vv v0, v;
    crdt_vv_init(&v0);
    crdt_vv_init(&v);
    sn_err err = SN_ERR_INIT;
    bool ok = node_store_held(c->w[0].st, &v0, &err) == 0;
    *same = true;
    for (int i = 1; i < c->nw && ok && *same; i++) {
        crdt_vv_clear(&v);
        ok = node_store_held(c->w[i].st, &v, &err) == 0;
        *same = ok && crdt_vv_equal(&v0, &v);
    }
    crdt_vv_free(&v0);
    crdt_vv_free(&v);
    return ok || conv_fail(c, "held vector: %s", err.msg);
}

/* Everyone receives everything, each in its own order. After a restore one pass may not
 * be enough: a commit that waited at some writer behind one the restorer lost becomes
 * held there when another writer supplies the missing one, and only a further pass
 * carries it on (as the next exchanges would). */
bool conv_world_exchange_all(conv_world *c, conv_bodies *all)
{
    bool ok = true, same = false;
    for (int pass = 0; ok && !same; pass++) {
        if (pass == CONV_MAX_WRITERS + 2)
            return conv_fail(c, "the stores still differ after %d full exchanges", pass);
        conv_bodies_free(all);
        for (int i = 0; i < c->nw; i++)
            if (!conv_world_export(c, i, all))
                return false;
        node_body *d = malloc((all->n + 1) * sizeof *d);
        ck_assert_ptr_nonnull(d);
        for (int i = 0; i < c->nw && ok; i++) {
            memcpy(d, all->v, all->n * sizeof *d);
            conv_shuffle(c, d, all->n);
            ok = import_list(c, i, d, all->n);
        }
        free(d);
        same = c->restorer < 0; /* without restores one pass delivers everything */
        if (ok && !same)
            ok = held_same(c, &same);
    }
    if (!ok || c->restorer < 0)
        return ok;
    /* What the stores hold now, for the model (the last pass may have unblocked some). */
    conv_bodies_free(all);
    for (int i = 0; i < c->nw && ok; i++)
        ok = conv_world_export(c, i, all);
    for (int i = 0; i < c->nw && ok; i++)
        ok = conv_world_count_stuck(c, i);
    return ok;
}
