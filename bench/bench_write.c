/* bench/bench_write.c - local write throughput of the node against raw SQLite.
 *
 * A realistic mix (DOMAIN.md §6, general practice): per consultation one encounter, one
 * note (lognormal text, median ~300 chars), 2-3 observations and a status update; a new
 * patient every 5 consultations. The baseline inserts the same rows into the same tables
 * (same schema, indexes, WAL, synchronous=FULL) with the same transaction boundaries
 * through raw SQLite, so the ratio is the cost of commits, log, chain and cells.
 * Prints the median of several runs for 1,000 commits per transaction and for one durable
 * commit per transaction. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "node/store.h"
#include "schema/schema.h"

/* BENCH_QUICK=1 in the environment: one run of each, smaller (for profiling). */
static int runs = 5;

typedef struct op {
    uint16_t table;      /* insert into table, or 0 for a status update */
    schema_field f[8];
    size_t nf;
    char text[2048];
} op;

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static double unit(void) { return (double)(next() >> 11) / 9007199254740992.0; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const sn_err *err)
{
    fprintf(stderr, "bench_write: %s: %s\n", what, err != NULL ? err->msg : "");
    exit(1);
}

/* Lognormal note text: median 300 chars, sigma 0.8, capped at 2000. */
static void note_text(char *out)
{
    double u1 = unit(), u2 = unit();
    double z = sqrt(-2.0 * log(u1 + 1e-12)) * cos(2 * M_PI * u2);
    size_t n = (size_t)(300.0 * exp(0.8 * z));
    if (n < 20)
        n = 20;
    if (n > 2000)
        n = 2000;
    static const char words[] = "patient reports cough fever three days chest clear plan "
                                "review paracetamol advice safety netting given ";
    for (size_t i = 0; i < n; i++)
        out[i] = words[(i + next() % 7) % (sizeof words - 1)];
    out[n] = '\0';
}

typedef struct workload {
    uint8_t patient[16];
    uint8_t encounter[16];
    int step; /* position in the consultation cycle */
    int consults;
} workload;

/* The next commit of the mix, as fields for `table` (0 = set encounter status). */
static void next_op(workload *w, op *o, bool have_patient)
{
    o->nf = 0;
    if (!have_patient || (w->step == 0 && w->consults % 5 == 0)) {
        o->table = 1;
        o->f[o->nf++] = (schema_field){3, schema_value_text("Smith")};
        o->f[o->nf++] = (schema_field){4, schema_value_text("Jane")};
        o->f[o->nf++] = (schema_field){5, schema_value_text("1990-04-12")};
        o->f[o->nf++] = (schema_field){6, schema_value_text("female")};
        w->step = -1;
        return;
    }
    switch (w->step) {
    case 0:
        o->table = 4;
        o->f[o->nf++] = (schema_field){1, schema_value_id(w->patient)};
        o->f[o->nf++] = (schema_field){2, schema_value_text("in-progress")};
        o->f[o->nf++] = (schema_field){3, schema_value_text("AMB")};
        o->f[o->nf++] = (schema_field){5, schema_value_text("2026-11-21T09:30:00Z")};
        break;
    case 1:
        note_text(o->text);
        o->table = 5;
        o->f[o->nf++] = (schema_field){1, schema_value_id(w->patient)};
        o->f[o->nf++] = (schema_field){2, schema_value_id(w->encounter)};
        o->f[o->nf++] = (schema_field){3, schema_value_text("history")};
        o->f[o->nf++] = (schema_field){4, schema_value_text(o->text)};
        break;
    case 2:
    case 3:
    case 4:
        o->table = 8;
        o->f[o->nf++] = (schema_field){1, schema_value_id(w->patient)};
        o->f[o->nf++] = (schema_field){2, schema_value_id(w->encounter)};
        o->f[o->nf++] = (schema_field){3, schema_value_text("271649006")};
        o->f[o->nf++] = (schema_field){4, schema_value_real(120 + (double)(next() % 40))};
        o->f[o->nf++] = (schema_field){5, schema_value_text("mm[Hg]")};
        o->f[o->nf++] = (schema_field){8, schema_value_text("2026-11-21T09:35:00Z")};
        o->f[o->nf++] = (schema_field){9, schema_value_text("final")};
        break;
    default:
        o->table = 0; /* encounter status -> finished */
        break;
    }
}

static void advance(workload *w)
{
    w->step++;
    if (w->step > 5) {
        w->step = 0;
        w->consults++;
    }
}

/* ---- the node ---- */

static double run_node(const char *dir, int commits, int per_txn)
{
    sn_err err = SN_ERR_INIT;
    node_open_opts opts = {.durability = NODE_DURABLE};
    if (node_store_create(dir, "bench", &opts, &err) != 0)
        die("create", &err);
    node_store *st;
    if (node_store_open(&st, dir, &opts, &err) != 0)
        die("open", &err);
    workload w = {0};
    bool have_patient = false;
    op o;
    double t0 = now_s();
    for (int i = 0; i < commits; i++) {
        if (per_txn > 1 && i % per_txn == 0 && node_store_batch_begin(st, &err) != 0)
            die("batch", &err);
        next_op(&w, &o, have_patient);
        node_write *wr;
        if (node_write_begin(st, "bench", NULL, &wr, &err) != 0)
            die("begin", &err);
        uint8_t id[16];
        int rc;
        if (o.table == 0) {
            schema_value v = schema_value_text("finished");
            rc = node_write_set(wr, 4, w.encounter, 2, &v, &err);
        } else {
            rc = node_write_insert(wr, o.table, o.f, o.nf, id, &err);
        }
        if (rc != 0 || node_write_commit(wr, NULL, &err) != 0)
            die("write", &err);
        if (o.table == 1) {
            memcpy(w.patient, id, 16);
            have_patient = true;
        } else if (o.table == 4) {
            memcpy(w.encounter, id, 16);
        }
        advance(&w);
        if (per_txn > 1 && (i % per_txn == per_txn - 1 || i == commits - 1) &&
            node_store_batch_commit(st, &err) != 0)
            die("batch commit", &err);
    }
    double t = now_s() - t0;
    node_store_close(st);
    return commits / t;
}

/* ---- raw SQLite: same tables (made by a node store), same rows ---- */

static const char *const insert_sql[] = {
    [1] = "INSERT INTO patient(id,_origin,_seq,_hlc,_author,_entered_by,nhs_number,"
          "nhs_number_status,family,given,birth_date,gender,address,postcode,phone,deceased_at)"
          " VALUES (?1,1,?2,?3,'bench',NULL,NULL,NULL,?4,?5,?6,?7,NULL,NULL,NULL,NULL)",
    [4] = "INSERT INTO encounter(id,_origin,_seq,_hlc,_author,_entered_by,patient_id,status,"
          "class,type_code,start,\"end\",location,reason_code)"
          " VALUES (?1,1,?2,?3,'bench',NULL,?4,?5,?6,NULL,?7,NULL,NULL,NULL)",
    [5] = "INSERT INTO clinical_note(id,_origin,_seq,_hlc,_author,_entered_by,patient_id,"
          "encounter_id,heading,text) VALUES (?1,1,?2,?3,'bench',NULL,?4,?5,?6,?7)",
    [8] = "INSERT INTO observation(id,_origin,_seq,_hlc,_author,_entered_by,patient_id,"
          "encounter_id,code,value_num,unit,value_code,value_text,effective,status)"
          " VALUES (?1,1,?2,?3,'bench',NULL,?4,?5,?6,?7,?8,NULL,NULL,?9,?10)",
};

static void bind(sqlite3_stmt *s, int i, const schema_value *v)
{
    if (v->kind == SCHEMA_V_TEXT)
        sqlite3_bind_text(s, i, (const char *)v->u.s.p, (int)v->u.s.n, SQLITE_STATIC);
    else if (v->kind == SCHEMA_V_REAL)
        sqlite3_bind_double(s, i, v->u.r);
    else if (v->kind == SCHEMA_V_ID)
        sqlite3_bind_blob(s, i, v->u.id, 16, SQLITE_STATIC);
}

static double run_raw(const char *dir, int commits, int per_txn)
{
    sn_err err = SN_ERR_INIT;
    if (node_store_create(dir, "raw", NULL, &err) != 0)
        die("create", &err);
    char path[4096];
    snprintf(path, sizeof path, "%s/store.db", dir);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("sqlite open", NULL);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL);
    sqlite3_stmt *ins[9] = {0}, *upd;
    for (int t = 1; t <= 8; t++)
        if (insert_sql[t] != NULL && sqlite3_prepare_v2(db, insert_sql[t], -1, &ins[t], NULL))
            die(sqlite3_errmsg(db), NULL);
    if (sqlite3_prepare_v2(db, "UPDATE encounter SET status = ?2 WHERE id = ?1", -1, &upd, NULL))
        die(sqlite3_errmsg(db), NULL);
    workload w = {0};
    bool have_patient = false;
    op o;
    double t0 = now_s();
    for (int i = 0; i < commits; i++) {
        if (i % per_txn == 0)
            sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        next_op(&w, &o, have_patient);
        sqlite3_stmt *s;
        uint8_t id[16];
        sn_random_bytes(id, 16);
        if (o.table == 0) {
            s = upd;
            sqlite3_bind_blob(s, 1, w.encounter, 16, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, "finished", -1, SQLITE_STATIC);
        } else {
            s = ins[o.table];
            sqlite3_bind_blob(s, 1, id, 16, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, i + 1);
            sqlite3_bind_int64(s, 3, (int64_t)i << 16);
            for (size_t k = 0; k < o.nf; k++)
                bind(s, (int)k + 4, &o.f[k].value);
        }
        if (sqlite3_step(s) != SQLITE_DONE)
            die(sqlite3_errmsg(db), NULL);
        sqlite3_reset(s);
        if (o.table == 1) {
            memcpy(w.patient, id, 16);
            have_patient = true;
        } else if (o.table == 4) {
            memcpy(w.encounter, id, 16);
        }
        advance(&w);
        if (i % per_txn == per_txn - 1 || i == commits - 1)
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    double t = now_s() - t0;
    for (int k = 0; k < 9; k++)
        sqlite3_finalize(ins[k]);
    sqlite3_finalize(upd);
    sqlite3_close(db);
    return commits / t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void measure(const char *label, int commits, int per_txn)
{
    double node[5], raw[5], ratio[5];
    for (int r = 0; r < runs; r++) {
        char tmpl[] = "/tmp/outpost-bench-XXXXXX";
        char *base = mkdtemp(tmpl);
        if (base == NULL)
            die("mkdtemp", NULL);
        char a[4096], b[4096], cmd[8300];
        snprintf(a, sizeof a, "%s/node", base);
        snprintf(b, sizeof b, "%s/raw", base);
        /* Alternate the order so neither side always runs on a warmer machine. */
        if (r % 2 == 0) {
            node[r] = run_node(a, commits, per_txn);
            raw[r] = run_raw(b, commits, per_txn);
        } else {
            raw[r] = run_raw(b, commits, per_txn);
            node[r] = run_node(a, commits, per_txn);
        }
        ratio[r] = node[r] / raw[r];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_write: could not remove %s\n", base);
    }
    qsort(node, (size_t)runs, sizeof node[0], cmp_double);
    qsort(raw, (size_t)runs, sizeof raw[0], cmp_double);
    qsort(ratio, (size_t)runs, sizeof ratio[0], cmp_double);
    printf("%-34s node %9.0f commits/s   raw SQLite %9.0f rows/s   ratio %.2f"
           " (median of %d; ratio range %.2f-%.2f)\n",
           label, node[runs / 2], raw[runs / 2], ratio[runs / 2], runs, ratio[0],
           ratio[runs - 1]);
}

int main(void)
{
    if (sn_hash_init(NULL) != 0)
        return 1;
    printf("local writes, clinical mix (patient, encounter, note, 3 observations, status)\n");
    const char *quick = getenv("BENCH_QUICK");
    if (quick != NULL && strcmp(quick, "1") == 0)
        runs = 1;
    measure("1,000 commits per transaction", runs == 1 ? 5000 : 20000, 1000);
    measure("1 durable commit per transaction", 300, 1);
    return 0;
}
