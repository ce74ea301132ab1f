/* tests/check_convergence.c - the convergence property: writers that exchange commits in
 * any order, with duplicates and gaps, end with the same state, and that state is the one
 * the reference model (tests/refmodel.c) derives from DESIGN.md section 3, cell by cell.
 *
 * Per seed: 3 to 5 writers, each with its own NODE_FAST store in a temporary directory.
 * Each round one writer first imports part of another writer's log (a random prefix, or a
 * random subset leaving gaps, shuffled, with duplicates, in one to three calls), then
 * makes one commit of one to three changes: inserts of patients and clinical rows, sets of
 * mv columns (review and auto, ranked and latest) drawn from few values so that equal and
 * different concurrent values both happen, retractions (of rows, of links, of
 * retractions) and patient links drawn from a pool of three so that cycles form. Clocks
 * advance by a few ms so equal hlcs occur; in some seeds one writer's clock is far behind
 * (beyond the skew limit), so causality and hlc order disagree. At the end every writer
 * receives every commit, and then:
 *   - all digests are equal, node_store_check passes, nothing waits;
 *   - every cell equals the model's (siblings by dot, hlc and value, winner, conflict,
 *     context); the open conflicts, the rows' display values, retraction flags and the
 *     patients' canonical ids equal the model's;
 *   - node_store_rematerialize leaves the digest unchanged (one store per seed).
 * In one or two rounds per seed, right after a partial delivery, the receiving store is
 * also compared with the model of what it holds then (its export): rows known only from
 * sets, links and retractions naming rows not yet held, commits still waiting.
 * Concurrency statistics are accumulated across seeds (in shared memory, so fork mode
 * works) and printed by the last test of the suite.
 *
 * A failure names the seed, the phase and what diverged; reproduce one seed with
 * SN_CONV_SEEDS=<seed>-<seed+1> CK_FORK=no.
 *
 * The suite also holds the tamper test: a materialized value edited behind the engine's
 * back (sqlite3 on store.db, in this file only) changes the digest. */
#include <check.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "crdt/vv.h"
#include "node/store.h"
#include "schema/schema.h"
#include "tests/refmodel.h"
#include "tests/support.h"

Suite *convergence_suite(void);

#define CONV_SEEDS 1000
#define CONV_MAX_WRITERS 5
#define CONV_BASE_MS UINT64_C(1700000000000)

/* ---- shared statistics ------------------------------------------------------------- */

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
    double seconds;
    char first_refusal[256];
} conv_stats;

static conv_stats *g_stats; /* MAP_SHARED: children of fork mode add to the same counters */
static char *g_base;        /* per test case; removed by the unchecked teardown, even when a
                             * seed fails in a forked child before its own clean-up */

/* Stores here are NODE_FAST and thrown away, so when TMPDIR is not set they go to
 * /dev/shm where it exists: creating 4000 stores on a disk costs minutes of fsyncs (keys
 * file, WAL set-up) that test nothing this suite is about. */
static void base_setup(void)
{
    const char *tmp = getenv("TMPDIR");
    struct stat sb;
    if ((tmp == NULL || tmp[0] == '\0') && stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) &&
        access("/dev/shm", W_OK) == 0) {
        setenv("TMPDIR", "/dev/shm", 1);
        g_base = test_tmpdir();
        unsetenv("TMPDIR");
    } else {
        g_base = test_tmpdir();
    }
}
static void base_teardown(void)
{
    test_rmtree(g_base);
    free(g_base);
    g_base = NULL;
}

/* ---- body lists -------------------------------------------------------------------- */

typedef struct blist {
    node_body *v;
    uint8_t **own; /* the copies v[] points into */
    size_t n, cap;
} blist;

static void blist_push(blist *l, const uint8_t *p, size_t n)
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

static void blist_free(blist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->own[i]);
    free(l->v);
    free(l->own);
    *l = (blist){0};
}

static int blist_emit(void *ctx, const uint8_t *body, size_t n, sn_err *err)
{
    (void)err;
    blist_push(ctx, body, n);
    return 0;
}

/* ---- the per-seed world ------------------------------------------------------------ */

typedef struct conv_row {
    uint16_t table;
    uint8_t id[SCHEMA_ID_LEN];
    int writer;   /* who inserted it */
    uint64_t seq; /* in which commit */
} conv_row;

typedef struct conv_writer {
    node_store *st;
    test_clock clock;
    char name[16];
    crdt_vv applied;
} conv_writer;

typedef struct conv {
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
} conv;

static bool failf(conv *c, const char *fmt, ...) SN_PRINTF(2, 3);
static bool failf(conv *c, const char *fmt, ...)
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

static uint32_t rnd(conv *c, uint32_t n) { return test_rng_below(&c->rng, n); }

static const char *hexid(const uint8_t id[SCHEMA_ID_LEN], char out[2 * SCHEMA_ID_LEN + 1])
{
    schema_id_format(out, id);
    return out;
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

static const conv_row *pick_held(conv *c, int wi, uint16_t table, int pool);

/* A value for column col of table t at writer wi; false when none can be made (a
 * reference to a table of which the writer holds no row). */
static bool pick_value(conv *c, int wi, const schema_table *t, const schema_column *col,
                       schema_value *out)
{
    static const char *const text3[] = {"Ahmed", "Brown", "\xc3\x87" "elik"};
    static const char *const nhs3[] = {"9434765919", "9000000009", "9876543210"};
    static const char *const date2[] = {"1980-01-01", "1991-06-15"};
    static const char *const datetime2[] = {"2024-03-01T10:00Z", "2024-03-02T11:30Z"};
    switch (col->type) {
    case SCHEMA_T_TEXT:
        *out = schema_value_text(strcmp(col->name, "nhs_number") == 0 ? nhs3[rnd(c, 3)]
                                                                      : text3[rnd(c, 3)]);
        return true;
    case SCHEMA_T_DATE:
        *out = schema_value_text(date2[rnd(c, 2)]);
        return true;
    case SCHEMA_T_DATETIME:
        *out = schema_value_text(datetime2[rnd(c, 2)]);
        return true;
    case SCHEMA_T_INT:
        *out = schema_value_int(1 + rnd(c, 2));
        return true;
    case SCHEMA_T_REAL:
        *out = schema_value_real(rnd(c, 2) ? 36.5 : 120.25);
        return true;
    case SCHEMA_T_CODE: {
        const char *ok[3];
        size_t n = 0;
        for (size_t i = 0; col->codes != NULL && col->codes[i] != NULL && n < 3; i++)
            if (!code_is_terminal(col->codes[i]))
                ok[n++] = col->codes[i];
        if (n == 0)
            return false;
        *out = schema_value_text(ok[rnd(c, (uint32_t)n)]);
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

static bool holds(conv *c, int wi, const conv_row *r)
{
    crdt_dot d = {.origin = *node_store_origin(c->w[r->writer].st), .seq = r->seq};
    return crdt_vv_covers(&c->w[wi].applied, &d);
}

/* A held row of `table` (SCHEMA_REF_ANY: of any table). pool > 0 prefers the first `pool`
 * held rows (hot rows, so that writers collide), most of the time. */
static const conv_row *pick_held(conv *c, int wi, uint16_t table, int pool)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nrows; i++)
        if ((table == SCHEMA_REF_ANY || c->rows[i].table == table) && holds(c, wi, &c->rows[i]))
            n++;
    if (n == 0)
        return NULL;
    size_t k = rnd(c, (uint32_t)n);
    if (pool > 0 && rnd(c, 10) < 8)
        k = rnd(c, (uint32_t)(n < (size_t)pool ? n : (size_t)pool));
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

static void note_refusal(conv *c, const sn_err *err)
{
    c->local.refused++;
    if (c->local.first_refusal[0] == '\0')
        snprintf(c->local.first_refusal, sizeof c->local.first_refusal, "%.200s", err->msg);
}

/* Insert a row of t with its required columns and some optional ones. */
static bool gen_insert(conv *c, int wi, node_write *wr, const schema_table *t,
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
        if (!col->required && rnd(c, 3) != 0)
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

static bool gen_set(conv *c, int wi, node_write *wr, touched *tch, size_t *ntch)
{
    /* A hot row of a table with mv columns. */
    static const char *const names[12] = {"patient",   "patient",   "patient", "patient",
                                          "patient",   "patient",   "allergy", "allergy",
                                          "allergy",   "encounter", "condition",
                                          "observation"};
    const schema_table *t = schema_table_by_name(names[rnd(c, 12)]);
    if (t == NULL || !table_has_mv(t))
        return false;
    const conv_row *r = pick_held(c, wi, t->id, rnd(c, 2) ? 1 : 2);
    if (r == NULL)
        return false;
    size_t nmv = 0;
    for (size_t i = 0; i < t->ncols; i++)
        nmv += t->cols[i].kind == SCHEMA_MV;
    /* Concentrate on two columns per table most of the time: more collisions. */
    size_t k = rnd(c, 10) < 7 ? rnd(c, (uint32_t)(nmv < 2 ? nmv : 2)) : rnd(c, (uint32_t)nmv);
    const schema_column *col = NULL;
    for (size_t i = 0; i < t->ncols && col == NULL; i++)
        if (t->cols[i].kind == SCHEMA_MV && k-- == 0)
            col = &t->cols[i];
    /* Mostly the hot cells: the review name and the auto address of the first patients,
     * the ranked review verification of the first allergy. */
    if (t == c->t_patient && rnd(c, 4) != 0)
        col = schema_column_by_name(t, rnd(c, 2) ? "family" : "address");
    else if (strcmp(t->name, "allergy") == 0 && rnd(c, 2) == 0)
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
static bool gen_link(conv *c, int wi, node_write *wr, pending_row *pend, size_t *npend)
{
    const conv_row *pool[3];
    size_t n = 0;
    for (size_t i = 0; i < c->nrows && n < 3; i++)
        if (c->rows[i].table == c->t_patient->id && holds(c, wi, &c->rows[i]))
            pool[n++] = &c->rows[i];
    if (n < 2)
        return false;
    size_t a = rnd(c, (uint32_t)n), b = (a + 1 + rnd(c, (uint32_t)n - 1)) % n;
    const schema_column *ca = schema_column_by_name(c->t_link, "patient_id");
    const schema_column *cb = schema_column_by_name(c->t_link, "other_id");
    if (ca == NULL || cb == NULL)
        return false;
    schema_field f[2] = {{.col = ca->id, .value = schema_value_id(pool[a]->id)},
                         {.col = cb->id, .value = schema_value_id(pool[b]->id)}};
    return gen_insert(c, wi, wr, c->t_link, f, 2, pend, npend);
}

static bool gen_retraction(conv *c, int wi, node_write *wr, pending_row *pend, size_t *npend)
{
    const conv_row *target = NULL;
    uint32_t r = rnd(c, 10);
    if (r < 4)
        target = pick_held(c, wi, c->t_link->id, 0); /* unmerge */
    else if (r < 7)
        target = pick_held(c, wi, c->t_retraction->id, 0); /* undo a retraction */
    if (target == NULL) {
        const schema_table *t = rnd(c, 2) ? c->clinical[rnd(c, 4)] : c->t_patient;
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

static bool refresh_applied(conv *c, int wi)
{
    sn_err err = SN_ERR_INIT;
    crdt_vv_clear(&c->w[wi].applied);
    if (node_store_applied(c->w[wi].st, &c->w[wi].applied, &err) != 0)
        return failf(c, "applied vector of %s: %s", c->w[wi].name, err.msg);
    return true;
}

static bool gen_commit(conv *c, int wi)
{
    if (!refresh_applied(c, wi))
        return false;
    sn_err err = SN_ERR_INIT;
    node_write *wr = NULL;
    char author[32];
    snprintf(author, sizeof author, "dr-%s", c->w[wi].name);
    if (node_write_begin(c->w[wi].st, author, NULL, &wr, &err) != 0)
        return failf(c, "write_begin on %s: %s", c->w[wi].name, err.msg);
    pending_row pend[4];
    size_t npend = 0, ntch = 0, nchanges = 0;
    touched tch[4];
    int want = 1 + (int)rnd(c, 3);
    size_t npatients = 0;
    for (size_t i = 0; i < c->nrows; i++)
        npatients += c->rows[i].table == c->t_patient->id;
    for (int k = 0, tries = 0; k < want && tries < 12; tries++) {
        uint32_t op = rnd(c, 100);
        bool ok;
        if (op < 10 || npatients == 0)
            ok = npatients < 6 && gen_insert(c, wi, wr, c->t_patient, NULL, 0, pend, &npend);
        else if (op < 25)
            ok = gen_insert(c, wi, wr, c->clinical[rnd(c, 4)], NULL, 0, pend, &npend);
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
        return failf(c, "commit on %s: %s", c->w[wi].name, err.msg);
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
        r->seq = info.seq;
    }
    return true;
}

/* ---- delivery ---------------------------------------------------------------------- */

static bool export_all(conv *c, int wi, blist *out)
{
    sn_err err = SN_ERR_INIT;
    if (node_store_export(c->w[wi].st, NULL, blist_emit, out, &err) != 0)
        return failf(c, "export from %s: %s", c->w[wi].name, err.msg);
    return true;
}

static void shuffle(conv *c, node_body *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd(c, (uint32_t)i);
        node_body t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

static bool import_list(conv *c, int wi, const node_body *v, size_t n)
{
    sn_err err = SN_ERR_INIT;
    node_import_stats stats = {0};
    if (node_store_import(c->w[wi].st, v, n, &stats, &err) != 0)
        return failf(c, "import of %zu bodies into %s: %s", n, c->w[wi].name, err.msg);
    c->local.imports++;
    if (stats.waiting > 0)
        c->local.waited++;
    return true;
}

/* Writer wi receives part of what writer src holds. */
static bool deliver_part(conv *c, int wi, int src)
{
    blist all = {0};
    if (!export_all(c, src, &all))
        return false;
    node_body *d = malloc((2 * all.n + 1) * sizeof *d);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    if (rnd(c, 6) == 0) {
        /* A random subset: later commits of an origin before earlier ones (they wait). */
        for (size_t i = 0; i < all.n; i++)
            if (rnd(c, 2))
                d[n++] = all.v[i];
    } else {
        size_t k = rnd(c, (uint32_t)all.n + 1);
        for (size_t i = 0; i < k; i++)
            d[n++] = all.v[i];
    }
    size_t base = n;
    for (size_t i = 0; i < base; i++)
        if (rnd(c, 5) == 0)
            d[n++] = d[i];
    if (rnd(c, 4) != 0)
        shuffle(c, d, n);
    bool ok = true;
    size_t chunks = 1 + rnd(c, 3), at = 0;
    for (size_t k = 0; k < chunks && ok; k++) {
        size_t len = k + 1 == chunks ? n - at : rnd(c, (uint32_t)(n - at + 1));
        if (len > 0)
            ok = import_list(c, wi, d + at, len);
        at += len;
    }
    free(d);
    blist_free(&all);
    return ok;
}

/* ---- comparison with the model ----------------------------------------------------- */

static bool canon_eq(const schema_value *v, const uint8_t *canon, size_t n)
{
    sn_buf b;
    sn_buf_init(&b, SCHEMA_COMMIT_MAX);
    bool eq = schema_value_encode(v, &b, NULL) == 0 && b.len == n &&
              (n == 0 || memcmp(b.data, canon, n) == 0);
    sn_buf_free(&b);
    return eq;
}

static void describe_model(const refmodel_cell *mc, char *out, size_t size)
{
    size_t used = 0;
    char v[96], d[64];
    for (size_t i = 0; i < mc->nsibs && used < size; i++) {
        int k = snprintf(out + used, size - used, "%s%s=%s@%llx", i ? ", " : "",
                         refmodel_dot_str(&mc->sibs[i].dot, d, sizeof d),
                         refmodel_value_str(&mc->sibs[i].value, v, sizeof v),
                         (unsigned long long)mc->sibs[i].hlc);
        if (k < 0)
            break;
        used += (size_t)k;
    }
    if (mc->nsibs == 0)
        snprintf(out, size, "(fixed) %s", refmodel_value_str(&mc->winner, v, sizeof v));
}

static void describe_node(const node_cell *nc, char *out, size_t size)
{
    size_t used = 0;
    char v[96], d[64];
    out[0] = '\0';
    for (size_t i = 0; i < nc->nsibs && used < size; i++) {
        int k = snprintf(out + used, size - used, "%s%s=%s@%llx", i ? ", " : "",
                         refmodel_dot_str(&nc->sibs[i].dot, d, sizeof d),
                         refmodel_value_str(&nc->sibs[i].value, v, sizeof v),
                         (unsigned long long)nc->sibs[i].hlc);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

static bool ctx_equal(const refmodel_cell *mc, const crdt_vv *ctx)
{
    if (mc->nctx != ctx->n)
        return false;
    for (size_t i = 0; i < mc->nctx; i++)
        if (crdt_vv_get(ctx, &mc->ctx[i].origin) != mc->ctx[i].seq)
            return false;
    return true;
}

static bool check_cell(conv *c, int wi, const refmodel_cell *mc)
{
    char hex[33], want[1024], got[1024], v1[96], v2[96];
    sn_err err = SN_ERR_INIT;
    node_cell *nc = NULL;
    if (node_store_cell_get(c->w[wi].st, mc->table, mc->row, mc->col, &nc, &err) != 0)
        return failf(c, "%s: cell_get %s.%s row %s: %s", c->w[wi].name, mc->t->name,
                     mc->c->name, hexid(mc->row, hex), err.msg);
    bool ok = true;
    const char *what = NULL;
    if (!nc->known)
        what = "not known";
    else if (!canon_eq(&nc->winner, mc->winner_canon, mc->winner_canon_len))
        what = "winner differs";
    else if (mc->mv) {
        if (nc->conflict != mc->conflict)
            what = "conflict flag differs";
        else if (nc->nsibs != mc->nsibs)
            what = "sibling count differs";
        else if (!ctx_equal(mc, &nc->ctx))
            what = "context differs";
        for (size_t i = 0; what == NULL && i < mc->nsibs; i++) {
            const node_sibling *s = &nc->sibs[i];
            const refmodel_sib *m = &mc->sibs[i];
            if (!crdt_origin_equal(&s->dot.origin, &m->dot.origin) || s->dot.seq != m->dot.seq)
                what = "sibling dots differ";
            else if (s->hlc != m->hlc)
                what = "sibling hlc differs";
            else if (!canon_eq(&s->value, m->canon, m->canon_len))
                what = "sibling value differs";
        }
    }
    if (what != NULL) {
        describe_model(mc, want, sizeof want);
        describe_node(nc, got, sizeof got);
        ok = failf(c,
                   "%s: cell %s.%s row %s: %s (%zu writes held)\n"
                   "  model: winner %s conflict %d siblings [%s]\n"
                   "  node:  known %d winner %s conflict %d siblings [%s]",
                   c->w[wi].name, mc->t->name, mc->c->name, hexid(mc->row, hex), what,
                   mc->nwrites, refmodel_value_str(&mc->winner, v1, sizeof v1), mc->conflict,
                   want, nc->known, refmodel_value_str(&nc->winner, v2, sizeof v2),
                   nc->conflict, got);
    }
    node_cell_free(nc);
    return ok;
}

typedef struct conflict_list {
    struct {
        uint16_t table, col;
        uint8_t row[SCHEMA_ID_LEN];
    } * v;
    size_t n, cap;
} conflict_list;

static int conflict_collect(void *ctx, uint16_t table, const uint8_t row[SCHEMA_ID_LEN],
                            uint16_t col, sn_err *err)
{
    (void)err;
    conflict_list *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        ck_assert_ptr_nonnull(l->v);
    }
    l->v[l->n].table = table;
    l->v[l->n].col = col;
    memcpy(l->v[l->n].row, row, SCHEMA_ID_LEN);
    l->n++;
    return 0;
}

static bool check_conflicts(conv *c, int wi, const refmodel *m, bool final)
{
    sn_err err = SN_ERR_INIT;
    conflict_list l = {0};
    if (node_store_conflicts_each(c->w[wi].st, conflict_collect, &l, &err) != 0) {
        free(l.v);
        return failf(c, "%s: conflicts_each: %s", c->w[wi].name, err.msg);
    }
    size_t k = 0;
    bool ok = true;
    char hex[33];
    for (size_t i = 0; i < refmodel_cell_count(m) && ok; i++) {
        const refmodel_cell *mc = refmodel_cell_at(m, i);
        if (!mc->conflict)
            continue;
        if (k >= l.n || l.v[k].table != mc->table || l.v[k].col != mc->col ||
            memcmp(l.v[k].row, mc->row, SCHEMA_ID_LEN) != 0)
            ok = failf(c,
                       "%s: open conflict #%zu should be %s.%s row %s (model has it; node "
                       "lists %zu conflicts)",
                       c->w[wi].name, k, mc->t->name, mc->c->name, hexid(mc->row, hex), l.n);
        k++;
    }
    if (ok && k != l.n) {
        const schema_table *t = schema_table_by_id(l.v[k].table);
        const schema_column *col = t ? schema_column_by_id(t, l.v[k].col) : NULL;
        ok = failf(c, "%s: node lists %zu open conflicts, model %zu; first extra: %s.%s row %s",
                   c->w[wi].name, l.n, k, t ? t->name : "?", col ? col->name : "?",
                   hexid(l.v[k].row, hex));
    }
    node_counts counts;
    if (ok && node_store_counts(c->w[wi].st, &counts, &err) != 0)
        ok = failf(c, "%s: counts: %s", c->w[wi].name, err.msg);
    if (ok && counts.conflicts != k)
        ok = failf(c, "%s: counts.conflicts %llu, model %zu", c->w[wi].name,
                   (unsigned long long)counts.conflicts, k);
    if (ok && final && counts.waiting != 0)
        ok = failf(c, "%s: %llu commits still waiting after the full exchange", c->w[wi].name,
                   (unsigned long long)counts.waiting);
    free(l.v);
    return ok;
}

static bool check_rows(conv *c, int wi, const refmodel *m)
{
    sn_err err = SN_ERR_INIT;
    char hex[33], hex2[33], v1[96], v2[96];
    for (size_t i = 0; i < refmodel_row_count(m); i++) {
        const refmodel_row *mr = refmodel_row_at(m, i);
        const schema_table *t = schema_table_by_id(mr->table);
        node_row *nr = NULL;
        if (node_store_row_get(c->w[wi].st, mr->table, mr->id, &nr, &err) != 0)
            return failf(c, "%s: row_get %s %s: %s", c->w[wi].name, t->name,
                         hexid(mr->id, hex), err.msg);
        bool ok = true;
        if (nr->inserted != mr->inserted)
            ok = failf(c, "%s: %s %s: inserted %d, model %d", c->w[wi].name, t->name,
                       hexid(mr->id, hex), nr->inserted, mr->inserted);
        else if (nr->retracted != mr->retracted)
            ok = failf(c, "%s: %s %s: retracted %d, model %d", c->w[wi].name, t->name,
                       hexid(mr->id, hex), nr->retracted, mr->retracted);
        else if (mr->inserted && (!crdt_origin_equal(&nr->dot.origin, &mr->dot.origin) ||
                                  nr->dot.seq != mr->dot.seq || nr->hlc != mr->hlc))
            ok = failf(c, "%s: %s %s: insert dot or hlc differs", c->w[wi].name, t->name,
                       hexid(mr->id, hex));
        for (size_t k = 0; ok && k < t->ncols; k++) {
            const refmodel_cell *mc = refmodel_cell_find(m, t->id, mr->id, t->cols[k].id);
            schema_value nil = schema_value_nil();
            const schema_value *want = mc ? &mc->winner : &nil;
            if (!refmodel_value_same(&nr->values[k], want))
                ok = failf(c, "%s: %s %s: displayed %s is %s, model %s", c->w[wi].name,
                           t->name, hexid(mr->id, hex), t->cols[k].name,
                           refmodel_value_str(&nr->values[k], v1, sizeof v1),
                           refmodel_value_str(want, v2, sizeof v2));
            else if (nr->conflict[k] != (mc != NULL && mc->conflict))
                ok = failf(c, "%s: %s %s: row conflict flag of %s is %d, model %d",
                           c->w[wi].name, t->name, hexid(mr->id, hex), t->cols[k].name,
                           nr->conflict[k], mc != NULL && mc->conflict);
        }
        node_row_free(nr);
        if (!ok)
            return false;
        if (t == c->t_patient) {
            uint8_t want[SCHEMA_ID_LEN], got[SCHEMA_ID_LEN];
            refmodel_patient_canonical(m, mr->id, want);
            if (node_store_patient_canonical(c->w[wi].st, mr->id, got, &err) != 0)
                return failf(c, "%s: patient_canonical %s: %s", c->w[wi].name,
                             hexid(mr->id, hex), err.msg);
            if (memcmp(want, got, SCHEMA_ID_LEN) != 0)
                return failf(c, "%s: patient %s: canonical id %s, model %s", c->w[wi].name,
                             hexid(mr->id, hex), hexid(got, hex2), hexid(want, v1));
        }
    }
    return true;
}

static bool digest_of(conv *c, int wi, uint8_t out[16])
{
    sn_err err = SN_ERR_INIT;
    if (node_store_digest(c->w[wi].st, out, &err) != 0)
        return failf(c, "%s: digest: %s", c->w[wi].name, err.msg);
    return true;
}

/* Does the graph of links (all of them, or only the live ones) hold a cycle? Union-find
 * over the endpoints: an edge whose ends are already joined closes one. */
static bool links_cycle(conv *c, const refmodel *m, bool live_only)
{
    const schema_column *ca = schema_column_by_name(c->t_link, "patient_id");
    const schema_column *cb = schema_column_by_name(c->t_link, "other_id");
    uint8_t ids[64][SCHEMA_ID_LEN];
    size_t parent[64], n = 0;
    struct {
        size_t a, b;
    } seen[256];
    size_t nseen = 0;
    for (size_t i = 0; i < refmodel_row_count(m); i++) {
        const refmodel_row *r = refmodel_row_at(m, i);
        if (r->table != c->t_link->id || !r->inserted || (live_only && r->retracted))
            continue;
        const refmodel_cell *ea = refmodel_cell_find(m, r->table, r->id, ca->id);
        const refmodel_cell *eb = refmodel_cell_find(m, r->table, r->id, cb->id);
        if (ea == NULL || eb == NULL)
            continue;
        size_t end[2];
        const uint8_t *p[2] = {ea->winner.u.id, eb->winner.u.id};
        for (int k = 0; k < 2; k++) {
            size_t j = 0;
            while (j < n && memcmp(ids[j], p[k], SCHEMA_ID_LEN) != 0)
                j++;
            if (j == n) {
                if (n == 64)
                    return false;
                memcpy(ids[n], p[k], SCHEMA_ID_LEN);
                parent[n] = n;
                n++;
            }
            end[k] = j;
        }
        size_t lo = end[0] < end[1] ? end[0] : end[1], hi = end[0] ^ end[1] ^ lo;
        bool dup = false;
        for (size_t k = 0; k < nseen && !dup; k++)
            dup = seen[k].a == lo && seen[k].b == hi;
        if (dup || nseen == 256)
            continue; /* the same pair linked twice is not a cycle */
        seen[nseen].a = lo;
        seen[nseen++].b = hi;
        while (parent[lo] != lo)
            lo = parent[lo];
        while (parent[hi] != hi)
            hi = parent[hi];
        if (lo == hi)
            return true;
        parent[hi] = lo;
    }
    return false;
}

static void model_stats(conv *c, const refmodel *m)
{
    for (size_t i = 0; i < refmodel_cell_count(m); i++) {
        const refmodel_cell *mc = refmodel_cell_at(m, i);
        if (!mc->mv)
            continue;
        c->local.mv_all++;
        if (mc->nsets == 0)
            continue;
        c->local.mv_cells++;
        c->local.mv_multi += mc->nsibs > 1;
        bool equal = mc->nsibs > 1;
        for (size_t k = 1; k < mc->nsibs && equal; k++)
            equal = mc->sibs[k].canon_len == mc->sibs[0].canon_len &&
                    memcmp(mc->sibs[k].canon, mc->sibs[0].canon, mc->sibs[0].canon_len) == 0;
        c->local.multi_equal += equal;
        c->local.conflicts += mc->conflict;
        c->local.sets += mc->nsets;
        c->local.sets_concurrent += mc->nsets_concurrent;
    }
    for (size_t i = 0; i < refmodel_row_count(m); i++) {
        const refmodel_row *r = refmodel_row_at(m, i);
        c->local.rows++;
        c->local.retracted += r->retracted;
        if (r->table == c->t_retraction->id)
            c->local.retracted_retractions += r->retracted;
        if (r->table == c->t_link->id)
            c->local.links++;
        if (r->table == c->t_patient->id) {
            uint8_t canon[SCHEMA_ID_LEN];
            refmodel_patient_canonical(m, r->id, canon);
            c->local.patients++;
            c->local.merged_patients += memcmp(canon, r->id, SCHEMA_ID_LEN) != 0;
        }
    }
    c->local.cycles += links_cycle(c, m, false);
    c->local.live_cycles += links_cycle(c, m, true);
}

/* ---- one seed ---------------------------------------------------------------------- */

static bool check_midway(conv *c, int wi, int round);

static bool run_rounds(conv *c)
{
    int rounds = 16 + (int)rnd(c, 9);
    int mid1 = (int)rnd(c, (uint32_t)rounds), mid2 = (int)rnd(c, (uint32_t)rounds);
    for (int r = 0; r < rounds && !c->failed; r++) {
        int wi = (int)rnd(c, (uint32_t)c->nw);
        if (rnd(c, 2) != 0) {
            int src = (wi + 1 + (int)rnd(c, (uint32_t)c->nw - 1)) % c->nw;
            if (!deliver_part(c, wi, src))
                return false;
            if ((r == mid1 || r == mid2) && !check_midway(c, wi, r))
                return false;
        }
        if (!gen_commit(c, wi))
            return false;
        uint64_t step = rnd(c, 3);
        for (int k = 0; k < c->nw; k++)
            c->w[k].clock.ms += c->lockstep ? step : rnd(c, 3);
    }
    return !c->failed;
}

static bool full_exchange(conv *c, blist *all)
{
    for (int i = 0; i < c->nw; i++)
        if (!export_all(c, i, all))
            return false;
    node_body *d = malloc((all->n + 1) * sizeof *d);
    ck_assert_ptr_nonnull(d);
    bool ok = true;
    for (int i = 0; i < c->nw && ok; i++) {
        memcpy(d, all->v, all->n * sizeof *d);
        shuffle(c, d, all->n);
        ok = import_list(c, i, d, all->n);
    }
    free(d);
    return ok;
}

/* Every cell, the open conflicts, every row of store wi against the model. */
static bool check_store(conv *c, int wi, const refmodel *m, bool final)
{
    for (size_t k = 0; k < refmodel_cell_count(m); k++)
        if (!check_cell(c, wi, refmodel_cell_at(m, k)))
            return false;
    return check_conflicts(c, wi, m, final) && check_rows(c, wi, m);
}

/* Midway, a store shows exactly what the model derives from the commits it holds (its
 * export): rows known only from sets, links to patients not yet held, retractions of
 * rows not yet held. */
static bool check_midway(conv *c, int wi, int round)
{
    snprintf(c->phase, sizeof c->phase, "midway, round %d, %s", round, c->w[wi].name);
    blist held = {0};
    sn_err err = SN_ERR_INIT;
    refmodel *m = NULL;
    bool ok = export_all(c, wi, &held);
    if (ok && refmodel_build(held.v, held.n, &m, &err) != 0)
        ok = failf(c, "reference model: %s", err.msg);
    if (ok && node_store_check(c->w[wi].st, &err) != 0)
        ok = failf(c, "%s: store check: %s", c->w[wi].name, err.msg);
    if (ok)
        ok = check_store(c, wi, m, false);
    if (ok) {
        c->local.midway++;
        for (size_t i = 0; i < refmodel_row_count(m); i++)
            c->local.midway_stubs += !refmodel_row_at(m, i)->inserted;
    }
    refmodel_free(m);
    blist_free(&held);
    c->phase[0] = '\0';
    return ok;
}

static bool verify(conv *c, const blist *all)
{
    snprintf(c->phase, sizeof c->phase, "final");
    sn_err err = SN_ERR_INIT;
    refmodel *m = NULL;
    if (refmodel_build(all->v, all->n, &m, &err) != 0)
        return failf(c, "reference model: %s", err.msg);
    model_stats(c, m);
    uint8_t d0[16], d[16];
    bool ok = digest_of(c, 0, d0);
    for (int i = 0; ok && i < c->nw; i++) {
        if (node_store_check(c->w[i].st, &err) != 0) {
            ok = failf(c, "%s: store check: %s", c->w[i].name, err.msg);
            break;
        }
        ok = digest_of(c, i, d);
        if (ok && memcmp(d, d0, 16) != 0)
            ok = failf(c, "digest of %s differs from %s's", c->w[i].name, c->w[0].name);
        ok = ok && check_store(c, i, m, true);
    }
    /* Rebuilding from the log changes nothing: every row, then a few rows on another. */
    int wi = c->seed % c->nw;
    if (ok && node_store_rematerialize(c->w[wi].st, NULL, 0, &err) != 0)
        ok = failf(c, "%s: rematerialize: %s", c->w[wi].name, err.msg);
    if (ok && (ok = digest_of(c, wi, d)) && memcmp(d, d0, 16) != 0)
        ok = failf(c, "%s: digest changed after rematerializing every row", c->w[wi].name);
    if (ok && node_store_check(c->w[wi].st, &err) != 0)
        ok = failf(c, "%s: store check after rematerialize: %s", c->w[wi].name, err.msg);
    if (ok && refmodel_row_count(m) > 0) {
        int wj = (wi + 1) % c->nw;
        node_rowref refs[3];
        size_t nref = 0;
        for (; nref < 3; nref++) {
            const refmodel_row *r = refmodel_row_at(m, rnd(c, (uint32_t)refmodel_row_count(m)));
            refs[nref].table = r->table;
            memcpy(refs[nref].id, r->id, SCHEMA_ID_LEN);
        }
        if (node_store_rematerialize(c->w[wj].st, refs, nref, &err) != 0)
            ok = failf(c, "%s: rematerialize of 3 rows: %s", c->w[wj].name, err.msg);
        if (ok && (ok = digest_of(c, wj, d)) && memcmp(d, d0, 16) != 0)
            ok = failf(c, "%s: digest changed after rematerializing 3 rows", c->w[wj].name);
    }
    refmodel_free(m);
    return ok;
}

static void stats_add(const conv_stats *s, double secs)
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
    g_stats->seconds += secs;
    if (g_stats->first_refusal[0] == '\0' && s->first_refusal[0] != '\0')
        memcpy(g_stats->first_refusal, s->first_refusal, sizeof g_stats->first_refusal);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(test_convergence_against_model)
{
    double t0 = now_s();
    conv *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    c->seed = _i;
    test_rng_seed(&c->rng, (uint64_t)_i);
    c->t_patient = schema_table_by_name("patient");
    c->t_link = schema_table_by_name("patient_link");
    c->t_retraction = schema_table_by_name("retraction");
    static const char *const clinical[4] = {"encounter", "allergy", "condition", "observation"};
    for (int i = 0; i < 4; i++)
        c->clinical[i] = schema_table_by_name(clinical[i]);
    ck_assert(c->t_patient && c->t_link && c->t_retraction && c->clinical[0] &&
              c->clinical[1] && c->clinical[2] && c->clinical[3]);
    size_t dlen = strlen(g_base) + 32;
    c->dir = malloc(dlen);
    ck_assert_ptr_nonnull(c->dir);
    snprintf(c->dir, dlen, "%s/seed%d", g_base, _i);
    ck_assert_msg(mkdir(c->dir, 0700) == 0, "mkdir %s", c->dir);
    c->nw = 3 + (int)rnd(c, 3);
    /* One writer in three seeds runs far behind (past the skew limit): its writes that
     * causally follow others carry smaller hlcs. The rest are within two seconds, or in
     * half the seeds within 2 ms and moving in step, so that equal hlcs from different
     * origins (decided by replica bytes) are common. */
    c->lockstep = rnd(c, 2) == 0;
    int behind = rnd(c, 3) == 0 ? (int)rnd(c, (uint32_t)c->nw) : -1;
    for (int i = 0; i < c->nw; i++) {
        snprintf(c->w[i].name, sizeof c->w[i].name, "w%d", i);
        c->w[i].clock.ms = CONV_BASE_MS + rnd(c, c->lockstep ? 2 : 2000);
        if (i == behind)
            c->w[i].clock.ms -= 20 * 60 * 1000;
        c->w[i].st = test_store_new(c->dir, c->w[i].name, &c->w[i].clock);
        crdt_vv_init(&c->w[i].applied);
    }
    blist all = {0};
    if (run_rounds(c) && full_exchange(c, &all))
        verify(c, &all);
    blist_free(&all);
    for (int i = 0; i < c->nw; i++) {
        node_store_close(c->w[i].st);
        crdt_vv_free(&c->w[i].applied);
    }
    test_rmtree(c->dir);
    free(c->dir);
    free(c->rows);
    if (!c->failed)
        stats_add(&c->local, now_s() - t0);
    bool failed = c->failed;
    char msg[4096];
    memcpy(msg, c->msg, sizeof msg);
    free(c);
    ck_assert_msg(!failed, "%s", msg);
}
END_TEST

static double share(unsigned long a, unsigned long b)
{
    return b ? 100.0 * (double)a / (double)b : 0;
}

START_TEST(test_convergence_report)
{
    if (g_stats == NULL || g_stats->seeds == 0)
        return;
    const conv_stats *s = g_stats;
    fprintf(stderr,
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
            "there known only from sets: %lu\n",
            s->seeds, 1000.0 * s->seconds / (double)s->seeds, s->commits, s->changes,
            s->refused, s->first_refusal[0] ? "; first: " : "", s->first_refusal, s->sets,
            s->sets_concurrent, share(s->sets_concurrent, s->sets), s->mv_all, s->mv_cells,
            s->mv_multi, share(s->mv_multi, s->mv_cells), s->multi_equal, s->conflicts,
            s->imports, s->waited, share(s->waited, s->imports), s->rows, s->retracted,
            s->retracted_retractions, s->links, s->merged_patients, s->patients, s->cycles,
            s->live_cycles, s->midway, s->midway_stubs);
    /* The property is only worth something if concurrency actually happened (checked on
     * full runs only: a handful of seeds picked with SN_CONV_SEEDS may lack some). */
    if (s->seeds >= 100)
        ck_assert_msg(s->sets_concurrent > 0 && s->mv_multi > 0 && s->conflicts > 0 &&
                      s->multi_equal > 0 && s->waited > 0 && s->retracted_retractions > 0 &&
                      s->cycles > 0,
                  "the generator produced no concurrency");
}
END_TEST

/* ---- the digest sees the materialized state ---------------------------------------- */

static void sql_exec(const char *path, const char *sql, int want_changes)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    ck_assert_msg(rc == SQLITE_OK, "open %s: %s", path, sqlite3_errmsg(db));
    char *msg = NULL;
    rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : sqlite3_errstr(rc));
    ck_assert_int_eq(sqlite3_changes(db), want_changes);
    sqlite3_free(msg);
    ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
}

static void reopen_digest(const char *dir, test_clock *clock, uint8_t out[16])
{
    node_open_opts opts = {.now_ms = test_clock_now, .now_ctx = clock,
                           .durability = NODE_FAST};
    sn_err err = SN_ERR_INIT;
    node_store *st = NULL;
    ck_assert_msg(node_store_open(&st, dir, &opts, &err) == 0, "reopen %s: %s", dir, err.msg);
    ck_assert_msg(node_store_digest(st, out, &err) == 0, "digest: %s", err.msg);
    node_store_close(st);
}

START_TEST(test_digest_sees_tampered_cell)
{
    test_clock clock = {.ms = CONV_BASE_MS};
    const char *dir = g_base;
    node_store *st = test_store_new(dir, "t", &clock);
    const schema_table *pt = schema_table_by_name("patient");
    ck_assert_ptr_nonnull(pt);
    const schema_column *fam = schema_column_by_name(pt, "family");
    ck_assert_ptr_nonnull(fam);
    sn_err err = SN_ERR_INIT;
    node_write *w = NULL;
    ck_assert_msg(node_write_begin(st, "dr-t", NULL, &w, &err) == 0, "%s", err.msg);
    schema_field f = {.col = fam->id, .value = schema_value_text("Brown")};
    uint8_t id[SCHEMA_ID_LEN];
    ck_assert_msg(node_write_insert(w, pt->id, &f, 1, id, &err) == 0, "%s", err.msg);
    ck_assert_msg(node_write_commit(w, NULL, &err) == 0, "%s", err.msg);
    uint8_t d0[16], d1[16], d2[16];
    ck_assert_msg(node_store_digest(st, d0, &err) == 0, "%s", err.msg);
    node_store_close(st);

    char sdir[4096], db[4200];
    snprintf(sdir, sizeof sdir, "%s/t", dir);
    snprintf(db, sizeof db, "%s/store.db", sdir);
    /* Nothing changed: same digest after a reopen. */
    reopen_digest(sdir, &clock, d1);
    ck_assert_msg(memcmp(d0, d1, 16) == 0, "digest changed across close and open");
    /* The display value edited behind the engine's back. */
    sql_exec(db, "UPDATE \"patient\" SET \"family\" = 'Tampered';", 1);
    reopen_digest(sdir, &clock, d2);
    ck_assert_msg(memcmp(d0, d2, 16) != 0,
                  "digest unchanged after patient.family was edited in store.db");
    /* Put it back: the digest is a function of the state. */
    sql_exec(db, "UPDATE \"patient\" SET \"family\" = 'Brown';", 1);
    reopen_digest(sdir, &clock, d2);
    ck_assert_msg(memcmp(d0, d2, 16) == 0, "digest differs after the value was restored");
}
END_TEST

Suite *convergence_suite(void)
{
    if (g_stats == NULL) {
        void *p = mmap(NULL, sizeof *g_stats, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                       -1, 0);
        g_stats = p == MAP_FAILED ? NULL : p;
    }
    Suite *s = suite_create("convergence_suite");
    TCase *tc = tcase_create("convergence_against_model");
    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_set_timeout(tc, 120);
    /* SN_CONV_SEEDS=a-b runs only seeds [a, b) (reproducing one failure, development). */
    int from = 0, to = CONV_SEEDS;
    const char *range = getenv("SN_CONV_SEEDS");
    if (range != NULL && sscanf(range, "%d-%d", &from, &to) != 2)
        from = 0, to = CONV_SEEDS;
    tcase_add_loop_test(tc, test_convergence_against_model, from, to);
    suite_add_tcase(s, tc);
    TCase *rep = tcase_create("convergence_report");
    tcase_add_test(rep, test_convergence_report);
    suite_add_tcase(s, rep);
    TCase *dig = tcase_create("digest");
    tcase_add_unchecked_fixture(dig, base_setup, base_teardown);
    tcase_set_timeout(dig, 60);
    tcase_add_test(dig, test_digest_sees_tampered_cell);
    suite_add_tcase(s, dig);
    return s;
}
