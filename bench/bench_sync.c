/* bench/bench_sync.c - what a sync costs, end to end (DESIGN.md §5).
 *
 * 1. New-site bootstrap: a source store holding N commits of the clinical mix of
 *    bench_write.c (BENCH_SYNC_N, default 50,000) syncs into a fresh enrolled store through
 *    two node_links wired in memory; commits/s and MiB/s of commit bodies, against raw
 *    SQLite inserting the same rows (same values) into the same tables, 256 per transaction
 *    as apply does, WAL and synchronous=FULL, in the same run. Both stores are durable.
 * 2. Bytes on the wire in that bootstrap, over the commit bodies carried and over the raw
 *    column values (the sum of the values' sizes).
 * 3. A no-op session between two stores already in sync: round trips after the handshake
 *    and bytes each way, with 1 origin and with 400.
 * 4. Peak RSS of each side of a BENCH_SYNC_BIG-commit (default 1,000,000) bootstrap over
 *    TCP: each side runs node_daemon_run in its own process, forked from a parent that has
 *    done nothing else (parts 1-3 run in another child), and ru_maxrss comes from wait4.
 * 5. Bundles (node/bundle.h): the same N commits as a bundle for a fresh site, split at the
 *    default 10 MiB: bytes of the files over the commit bodies they carry, and create and
 *    import throughput against the live bootstrap of part 1, in the same run.
 * BENCH_QUICK=1: one run of each, smaller. */
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "node/bundle.h"
#include "node/daemon.h"
#include "node/link.h"
#include "node/store.h"
#include "node/trust.h"
#include "node/units.h"
#include "schema/schema.h"
#include "sync/cert.h"

static int runs = 5;
#define RUNS_MAX 9
#define PATH_LEN 512

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const sn_err *err)
{
    fprintf(stderr, "bench_sync: %s: %s\n", what, err != NULL ? err->msg : "");
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static long env_long(const char *name, long dflt)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return dflt;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v <= 0)
        die(name, &(sn_err){.msg = "not a positive number"});
    return v;
}

static void rm_rf(const char *dir)
{
    char cmd[PATH_LEN + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_sync: could not remove %s\n", dir);
}

/* ---- one CA for every store of the run ---- */

static uint8_t ca_sk[SYNC_SIGN_SK_LEN];
static sync_cert ca_root;
static uint64_t ca_serial = 2;

static void ca_make(void)
{
    sn_err err = SN_ERR_INIT;
    uint8_t pk[SYNC_SIGN_PK_LEN];
    if (sync_sign_keypair(pk, ca_sk, &err) != 0)
        die("CA key", &err);
    ca_root = (sync_cert){.type = SYNC_CERT_ROOT, .serial = 1, .valid_after = 1,
                          .valid_before = 4000000000u};
    memcpy(ca_root.sign_pk, pk, sizeof pk);
    snprintf(ca_root.name, sizeof ca_root.name, "Bench CA");
    if (sync_cert_sign(&ca_root, ca_sk, &err) != 0)
        die("CA root", &err);
}

/* The steps of tests/trust_fixture.c's tca_enroll: request, issue, install. */
static void enrol(node_store *st)
{
    sn_err err = SN_ERR_INIT;
    sync_enroll_request req;
    if (node_trust_request(st, &req, &err) != 0)
        die("enrolment request", &err);
    sync_cert c = {.type = SYNC_CERT_NODE, .serial = ca_serial++, .valid_after = 1,
                   .valid_before = 4000000000u};
    memcpy(c.replica, req.replica, 16);
    memcpy(c.sign_pk, req.sign_pk, sizeof c.sign_pk);
    memcpy(c.noise_pk, req.noise_pk, sizeof c.noise_pk);
    memcpy(c.box_pk, req.box_pk, sizeof c.box_pk);
    snprintf(c.name, sizeof c.name, "%s", req.name);
    if (sync_cert_sign(&c, ca_sk, &err) != 0 || node_trust_install(st, &c, &ca_root, &err) != 0)
        die("enrolment", &err);
}

/* A new enrolled store in `dir`. */
static node_store *store_new(const char *dir, const char *name, node_durability d)
{
    sn_err err = SN_ERR_INIT;
    node_open_opts o = {.durability = d, .state_digest_every_ms = NODE_STATE_DIGEST_EVERY_MS};
    node_store *st = NULL;
    if (node_store_create(dir, name, &o, &err) != 0 || node_store_open(&st, dir, &o, &err) != 0)
        die(dir, &err);
    enrol(st);
    return st;
}

/* ---- the workload: bench_write.c's clinical mix, replayable from a seed ---- */

typedef struct op {
    uint16_t table; /* insert into table, or 0 for an encounter status update */
    schema_field f[8];
    size_t nf;
    char text[2048];
} op;

static uint64_t rng;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static double unit01(void) { return (double)(next() >> 11) / 9007199254740992.0; }

/* Lognormal note text: median 300 chars, sigma 0.8, capped at 2000. */
static void note_text(char *out)
{
    double u1 = unit01(), u2 = unit01();
    double z = sqrt(-2.0 * log(u1 + 1e-12)) * cos(2 * M_PI * u2);
    size_t n = (size_t)(300.0 * exp(0.8 * z));
    n = n < 20 ? 20 : n > 2000 ? 2000 : n;
    static const char words[] = "patient reports cough fever three days chest clear plan "
                                "review paracetamol advice safety netting given ";
    for (size_t i = 0; i < n; i++)
        out[i] = words[(i + next() % 7) % (sizeof words - 1)];
    out[n] = '\0';
}

typedef struct workload {
    uint8_t patient[16], encounter[16];
    int step, consults;
    int patient_at; /* the consultation that registered the current patient */
    bool have_patient;
} workload;

static void workload_start(workload *w)
{
    *w = (workload){.patient_at = -1};
    rng = 88172645463325252ull;
}

/* The next commit: a patient every 5 consultations; per consultation an encounter, a note,
 * three observations and the encounter's status set to finished. (bench_write.c's version
 * of this test lacks `patient_at` and so registers patients only, forever.) */
static void next_op(workload *w, op *o)
{
    o->nf = 0;
    if (!w->have_patient ||
        (w->step == 0 && w->consults % 5 == 0 && w->patient_at != w->consults)) {
        w->patient_at = w->consults;
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
        o->table = 0;
        o->nf = 0;
        o->f[o->nf++] = (schema_field){2, schema_value_text("finished")};
        break;
    }
}

static void advance(workload *w, const op *o, const uint8_t id[16])
{
    if (o->table == 1) {
        memcpy(w->patient, id, 16);
        w->have_patient = true;
    } else if (o->table == 4) {
        memcpy(w->encounter, id, 16);
    }
    if (++w->step > 5) {
        w->step = 0;
        w->consults++;
    }
}

static size_t value_size(const schema_value *v)
{
    return v->kind == SCHEMA_V_TEXT || v->kind == SCHEMA_V_BLOB ? v->u.s.n
           : v->kind == SCHEMA_V_ID                              ? 16
           : v->kind == SCHEMA_V_NIL                             ? 0
                                                                 : 8;
}

/* Write `n` commits of the mix, 1,000 per batch; returns the sum of the values' sizes.
 * `ids` (NULL, or n entries) gets each commit's new row id, for the raw baseline. */
static uint64_t fill(node_store *st, long n, uint8_t (*ids)[16], bool progress)
{
    sn_err err = SN_ERR_INIT;
    workload w;
    workload_start(&w);
    op o;
    uint64_t bytes = 0;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        if (i % 1000 == 0 && node_store_batch_begin(st, &err) != 0)
            die("batch", &err);
        next_op(&w, &o);
        node_write *wr;
        uint8_t id[16] = {0};
        if (node_write_begin(st, "bench", NULL, &wr, &err) != 0)
            die("write", &err);
        int rc = o.table == 0 ? node_write_set(wr, 4, w.encounter, 2, &o.f[0].value, &err)
                              : node_write_insert(wr, o.table, o.f, o.nf, id, &err);
        if (rc != 0 || node_write_commit(wr, NULL, &err) != 0)
            die("write", &err);
        for (size_t k = 0; k < o.nf; k++)
            bytes += value_size(&o.f[k].value);
        if (ids != NULL)
            memcpy(ids[i], id, 16);
        advance(&w, &o, id);
        if ((i % 1000 == 999 || i == n - 1) && node_store_batch_commit(st, &err) != 0)
            die("batch commit", &err);
        if (progress && (i + 1) % 100000 == 0) {
            printf("  created %ld of %ld commits (%.0f s)\n", i + 1, n, now_s() - t0);
            fflush(stdout);
        }
    }
    return bytes;
}

/* ---- raw SQLite: the same rows into the same tables (made by a node store) ---- */

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

/* Seconds to insert the rows of `n` commits with the row ids the node made (`ids`), 256
 * per transaction, with the store's page cache size. */
static double run_raw(const char *dir, long n, const uint8_t (*ids)[16])
{
    sn_err err = SN_ERR_INIT;
    if (node_store_create(dir, "raw", NULL, &err) != 0)
        die("create", &err);
    char path[PATH_LEN + 16];
    snprintf(path, sizeof path, "%s/store.db", dir);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("sqlite open", NULL);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-16384;",
                 NULL, NULL, NULL);
    sqlite3_stmt *ins[9] = {0}, *upd;
    for (int t = 1; t <= 8; t++)
        if (insert_sql[t] != NULL && sqlite3_prepare_v2(db, insert_sql[t], -1, &ins[t], NULL))
            die(sqlite3_errmsg(db), NULL);
    if (sqlite3_prepare_v2(db, "UPDATE encounter SET status = ?2 WHERE id = ?1", -1, &upd, NULL))
        die(sqlite3_errmsg(db), NULL);
    workload w;
    workload_start(&w);
    op o;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        if (i % 256 == 0)
            sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        next_op(&w, &o);
        sqlite3_stmt *s;
        const uint8_t *id = ids[i];
        if (o.table == 0) {
            s = upd;
            sqlite3_bind_blob(s, 1, w.encounter, 16, SQLITE_STATIC);
            bind(s, 2, &o.f[0].value);
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
        advance(&w, &o, id);
        if (i % 256 == 255 || i == n - 1)
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    double t = now_s() - t0;
    for (int k = 0; k < 9; k++)
        sqlite3_finalize(ins[k]);
    sqlite3_finalize(upd);
    sqlite3_close(db);
    return t;
}

/* ---- two links wired in memory ---- */

typedef struct session {
    double seconds;
    node_link_stats ini;    /* the initiator's figures: bytes_out = initiator -> responder */
    uint64_t hs_out, hs_in; /* of those bytes, the three Noise handshake messages */
    int rt_sync, rt_end;    /* round trips after the handshake: to in sync, to the end */
} session;

/* One `sync --once`-style session: `ini` dials (once), `resp` serves (not once).
 *
 * The shuttle moves bytes in flights. Each pass of the loop is one round trip as the
 * initiator sees it: its whole output (all it can produce without hearing from the peer:
 * it was pumped) goes to the responder, which takes it, is pumped, and its whole output
 * comes back. The initiator is not DONE at the top of a pass, so in every pass it had to
 * wait for the responder's bytes before it could go on: passes are round trips.
 * The Noise XX handshake is 1.5 round trips: pass 1 carries message 1 and brings back
 * message 2; message 3 leaves in pass 2 together with the initiator's stream header and
 * HELLO, so the handshake's half round trip costs no pass of its own. Round trips after
 * the handshake are therefore passes - 1: `rt_sync` counts them until the initiator's link
 * reports caught_up (both sides sent all, all acknowledged), `rt_end` until its state is
 * DONE (the GOODBYEs exchanged: when `outpost sync --once` returns). */
static void run_session(node_store *ini, node_store *resp, session *s)
{
    sn_err err = SN_ERR_INIT;
    node_link_opts oi = {.initiator = true, .once = true, .peer_label = "responder"};
    node_link_opts orr = {.initiator = false, .once = false, .peer_label = "initiator"};
    node_link *a = NULL, *b = NULL;
    *s = (session){0};
    double t0 = now_s();
    if (node_link_new(&a, ini, &oi, &err) != 0 || node_link_new(&b, resp, &orr, &err) != 0 ||
        node_link_start(a, &err) != 0)
        die("link", &err);
    int pass = 0;
    while (node_link_state_get(a) < NODE_LINK_DONE) {
        pass++;
        size_t n;
        const uint8_t *p = node_link_output(a, &n);
        if (pass == 1)
            s->hs_out += n; /* "SNX1" | len | e */
        else if (pass == 2 && n >= 2)
            s->hs_out += 2 + ((size_t)p[0] << 8 | p[1]); /* len | message 3 */
        if (n > 0 && node_link_input(b, p, n, &err) != 0)
            die("responder input", &err);
        node_link_output_consumed(a, n);
        size_t sent = n;
        if (node_link_pump(b, &err) != 0)
            die("responder pump", &err);
        p = node_link_output(b, &n);
        if (pass == 1)
            s->hs_in += n; /* len | message 2 */
        if (n == 0 && sent == 0)
            die("shuttle", &(sn_err){.msg = "neither side has anything to send: stalled"});
        if (n > 0 && node_link_input(a, p, n, &err) != 0)
            die("initiator input", node_link_error(a));
        node_link_output_consumed(b, n);
        if (node_link_pump(a, &err) != 0)
            die("initiator pump", &err);
        if (s->rt_sync == 0 && node_link_stats_get(a)->caught_up)
            s->rt_sync = pass - 1;
    }
    /* The initiator ends as soon as it is in sync; its GOODBYE reaches the responder with
     * no reply awaited. */
    size_t last_n;
    const uint8_t *last_p = node_link_output(a, &last_n);
    if (last_n > 0 && node_link_input(b, last_p, last_n, &err) != 0)
        die("responder input", &err);
    node_link_output_consumed(a, last_n);
    s->seconds = now_s() - t0;
    s->rt_end = pass - 1;
    if (node_link_state_get(a) != NODE_LINK_DONE || node_link_state_get(b) != NODE_LINK_DONE)
        die("session", node_link_error(node_link_state_get(a) == NODE_LINK_DONE ? b : a));
    s->ini = *node_link_stats_get(a);
    const node_link_stats *rs = node_link_stats_get(b);
    if (rs->bytes_in != s->ini.bytes_out || rs->bytes_out != s->ini.bytes_in)
        die("session", &(sn_err){.msg = "the two sides count different bytes"});
    node_link_free(a);
    node_link_free(b);
}

/* ---- 1 and 2: bootstrap ---- */

static int copy_cert(void *ctx, const sync_cert *c, sn_err *err)
{
    return node_trust_cert_add(ctx, c, err);
}

static int import_unit(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    node_body b = {.p = p, .n = n};
    return node_store_import_units(ctx, &b, 1, NULL, err);
}

static int count_body(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    (void)p, (void)err;
    *(uint64_t *)ctx += n;
    return 0;
}

static void digests_agree(node_store *x, node_store *y)
{
    sn_err err = SN_ERR_INIT;
    uint8_t dx[16], dy[16];
    if (node_store_digest(x, dx, &err) != 0 || node_store_digest(y, dy, &err) != 0)
        die("digest", &err);
    if (memcmp(dx, dy, 16) != 0)
        die("digest", &(sn_err){.msg = "the stores differ after the session"});
}

/* The second and third sessions after the stores came into sync. */
static void print_noop(const char *label, const session *two, const session *three)
{
    const session *v[2] = {two, three};
    for (int i = 0; i < 2; i++) {
        const session *s = v[i];
        printf("  %-12s %s session: %d round trip(s) after the handshake to in sync, %d to its"
               " end; bytes site->hub %llu (%llu after the handshake), hub->site %llu (%llu),"
               " total %llu%s\n", i == 0 ? label : "", i == 0 ? "2nd" : "3rd", s->rt_sync,
               s->rt_end, (unsigned long long)s->ini.bytes_out,
               (unsigned long long)(s->ini.bytes_out - s->hs_out),
               (unsigned long long)s->ini.bytes_in,
               (unsigned long long)(s->ini.bytes_in - s->hs_in),
               (unsigned long long)(s->ini.bytes_out + s->ini.bytes_in),
               s->ini.units_in + s->ini.units_out != 0 ? " UNITS MOVED" : "");
    }
}

/* ---- 5: the bootstrap by bundle ---- */

static void bundle_bootstrap(const char *base, node_store *src, long n, uint64_t bodies,
                             double live_cps)
{
    sn_err err = SN_ERR_INIT;
    double mk[RUNS_MAX], in[RUNS_MAX];
    node_bundle_made m = {0};
    for (int r = 0; r < runs; r++) {
        char dir[PATH_LEN], path[PATH_LEN];
        snprintf(dir, sizeof dir, "%s/bsite%d", base, r);
        node_store *dst = store_new(dir, "bundle site", NODE_DURABLE);
        sync_cert to;
        if (node_trust_own(dst, &to, &err) != 0 || node_trust_cert_add(src, &to, &err) != 0)
            die("bundle recipient", &err);
        snprintf(path, sizeof path, "%s/b%d.snb", base, r);
        node_bundle_opts o = {.all = true};
        double t0 = now_s();
        if (node_bundle_create(src, &to, path, &o, &m, &err) != 0)
            die("bundle create", &err);
        mk[r] = now_s() - t0;
        t0 = now_s();
        for (size_t i = 1; i <= m.parts; i++) {
            char *p = node_bundle_part_path(path, i, m.parts);
            if (p == NULL || node_bundle_import(dst, p, NULL, NULL, &err) != 0)
                die("bundle import", &err);
            unlink(p);
            sn_free(p);
        }
        in[r] = now_s() - t0;
        if (m.commits != (uint64_t)n)
            die("bundle", &(sn_err){.msg = "the bundle did not carry every commit"});
        digests_agree(src, dst);
        node_store_close(dst);
        rm_rf(dir);
    }
    double mib = (double)bodies / 1048576.0;
    double t_mk = median(mk, runs), t_in = median(in, runs);
    printf("bootstrap by bundle (%ld commits, %zu files of at most 10 MiB, last run)\n", n,
           m.parts);
    printf("  files over commit bodies %.3f (%llu bytes for %llu), units inside %zu\n",
           (double)m.file_bytes / (double)bodies, (unsigned long long)m.file_bytes,
           (unsigned long long)bodies, m.units);
    printf("  create %8.0f commits/s %6.2f MiB/s   import %8.0f commits/s %6.2f MiB/s"
           " (NODE_DURABLE)\n", (double)n / t_mk, mib / t_mk, (double)n / t_in, mib / t_in);
    printf("  import over the live bootstrap above: %.2f (median of %d)\n",
           ((double)n / t_in) / live_cps, runs);
}

static void bootstrap_and_noop(const char *base, long n)
{
    sn_err err = SN_ERR_INIT;
    char dir[PATH_LEN];
    snprintf(dir, sizeof dir, "%s/source", base);
    node_store *src = store_new(dir, "source", NODE_DURABLE);
    uint8_t(*ids)[16] = calloc((size_t)n, 16);
    if (ids == NULL)
        die("ids", NULL);
    uint64_t values = fill(src, n, ids, false), bodies = 0;
    if (node_store_export(src, NULL, count_body, &bodies, &err) != 0)
        die("export", &err);
    /* The source's own commits get their checkpoints at their first export; sign them now
     * so every run measures the same thing: a hub relaying other sites' commits holds
     * their checkpoints already. */
    double t0 = now_s();
    uint64_t unit_bytes = 0;
    if (node_store_export_units(src, NULL, count_body, NULL, &unit_bytes, NULL, &err) != 0)
        die("sign", &err);
    double t_sign = now_s() - t0;
    double mib = (double)bodies / 1048576.0;
    printf("new-site bootstrap: %ld commits of the clinical mix, %.2f MiB of commit bodies, "
           "%.2f MiB of column values\n", n, mib, (double)values / 1048576.0);
    printf("  both stores NODE_DURABLE (WAL, synchronous=FULL); raw SQLite the same, same row ids,"
           " 256 rows per transaction, 16 MiB cache\n  source checkpoints signed beforehand in "
           "%.2f s\n", t_sign);

    double cps[RUNS_MAX], raw[RUNS_MAX], ratio[RUNS_MAX];
    double wire[RUNS_MAX], wire_v[RUNS_MAX];
    session s = {0};
    node_store *dst = NULL;
    for (int r = 0; r < runs; r++) {
        char rdir[PATH_LEN];
        node_store_close(dst);
        snprintf(dir, sizeof dir, "%s/site%d", base, r);
        dst = store_new(dir, "site", NODE_DURABLE);
        snprintf(rdir, sizeof rdir, "%s/raw%d", base, r);
        double t_raw;
        /* Alternate the order so neither side always runs on a warmer machine. */
        if (r % 2 == 0) {
            run_session(dst, src, &s);
            t_raw = run_raw(rdir, n, (const uint8_t(*)[16])ids);
        } else {
            t_raw = run_raw(rdir, n, (const uint8_t(*)[16])ids);
            run_session(dst, src, &s);
        }
        rm_rf(rdir);
        if (s.ini.commits_in != (uint64_t)n)
            die("bootstrap", &(sn_err){.msg = "the site did not receive every commit"});
        cps[r] = (double)n / s.seconds;
        raw[r] = (double)n / t_raw;
        ratio[r] = cps[r] / raw[r];
        uint64_t tot = s.ini.bytes_in + s.ini.bytes_out;
        wire[r] = (double)tot / (double)bodies;
        wire_v[r] = (double)tot / (double)values;
    }
    free(ids);
    digests_agree(src, dst);
    double c_med = median(cps, runs), r_med = median(ratio, runs); /* sorts them */
    printf("  sync (two links in memory) %8.0f commits/s %6.2f MiB/s of bodies   "
           "raw SQLite %8.0f rows/s\n", c_med, c_med * mib / (double)n, median(raw, runs));
    printf("  ratio %.2f (target >= 0.3; median of %d, range %.2f-%.2f); state digests of "
           "source and site agree\n", r_med, runs, ratio[0], ratio[runs - 1]);
    printf("bytes on the wire during the bootstrap (last run): %llu units\n",
           (unsigned long long)s.ini.units_in);
    printf("  source->site %llu, site->source %llu bytes\n", (unsigned long long)s.ini.bytes_in,
           (unsigned long long)s.ini.bytes_out);
    printf("  both ways over commit bodies %.3f (target <= 1.15; source->site alone %.3f, the"
           " units themselves %.3f), over column values %.3f\n", median(wire, runs),
           (double)s.ini.bytes_in / (double)bodies, (double)unit_bytes / (double)bodies,
           median(wire_v, runs));

    bundle_bootstrap(base, src, n, bodies, c_med);

    printf("no-op sessions once in sync (targets: 1 round trip after the handshake, < 1024 "
           "bytes; counting: see run_session)\n");
    session s3;
    run_session(dst, src, &s);
    run_session(dst, src, &s3);
    print_noop("1 origin:", &s, &s3);
    node_store_close(dst);
    node_store_close(src);

    /* 400 origins: 400 enrolled stores each write one commit; the hub takes their
     * certificates and signed units as from a relay (export_units, import_units), then a
     * site takes everything from the hub in a first session. */
    t0 = now_s();
    snprintf(dir, sizeof dir, "%s/hub", base);
    node_store *hub = store_new(dir, "hub", NODE_FAST);
    for (int i = 0; i < 400; i++) {
        snprintf(dir, sizeof dir, "%s/spoke%d", base, i);
        node_store *sp = store_new(dir, "spoke", NODE_FAST);
        fill(sp, 1, NULL, false);
        if (node_trust_cert_each(sp, copy_cert, hub, &err) != 0 ||
            node_store_export_units(sp, NULL, import_unit, NULL, hub, NULL, &err) != 0)
            die("spoke to hub", &err);
        node_store_close(sp);
    }
    node_counts c;
    if (node_store_apply_pending(hub, NULL, &err) != 0 || node_store_counts(hub, &c, &err) != 0)
        die("hub", &err);
    snprintf(dir, sizeof dir, "%s/site400", base);
    node_store *site = store_new(dir, "site", NODE_FAST);
    run_session(site, hub, &s);
    printf("  (hub of 400 sites' origins, %llu with its own, made in %.1f s, NODE_FAST; the site's"
           " first session took %llu units, %llu+%llu bytes)\n", (unsigned long long)c.origins,
           now_s() - t0,
           (unsigned long long)s.ini.units_in, (unsigned long long)s.ini.bytes_out,
           (unsigned long long)s.ini.bytes_in);
    run_session(site, hub, &s);
    run_session(site, hub, &s3);
    digests_agree(site, hub);
    print_noop("400 origins:", &s, &s3);
    node_store_close(site);
    node_store_close(hub);
}

/* ---- 4: peak memory of each side, one process per side ---- */

typedef struct dial_result {
    int rc;
    sn_err err;
    node_daemon_report rep;
    uint64_t commits;
} dial_result;

static pid_t child(void)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        die("fork", &(sn_err){.msg = "fork failed"});
    return pid;
}

static double mib_of_ru(const struct rusage *ru) { return (double)ru->ru_maxrss / 1024.0; }
static double cpu_of_ru(const struct rusage *ru)
{
    return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
           (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

static void big(const char *base, long n)
{
    sn_err err = SN_ERR_INIT;
    char src_dir[PATH_LEN], dst_dir[PATH_LEN], port_file[PATH_LEN];
    snprintf(src_dir, sizeof src_dir, "%s/big-source", base);
    snprintf(dst_dir, sizeof dst_dir, "%s/big-site", base);
    snprintf(port_file, sizeof port_file, "%s/port", base);
    struct rusage self;
    getrusage(RUSAGE_SELF, &self);
    printf("peak memory, %ld-commit bootstrap over TCP (127.0.0.1), one process per side, "
           "both NODE_DURABLE\n", n);
    printf("  (each side is forked from a parent whose own peak RSS is %.1f MiB, included)\n",
           mib_of_ru(&self));
    double t0 = now_s();
    pid_t pid = child();
    if (pid == 0) {
        node_store *st = store_new(src_dir, "source", NODE_DURABLE);
        fill(st, n, NULL, true);
        node_store_close(st);
        node_store_close(store_new(dst_dir, "site", NODE_DURABLE));
        fflush(stdout);
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("creating the source", NULL);
    printf("  source created in %.0f s\n", now_s() - t0);

    pid_t server = child();
    if (server == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the bench */
        node_open_opts o = {.durability = NODE_DURABLE,
                            .state_digest_every_ms = NODE_STATE_DIGEST_EVERY_MS};
        node_store *st = NULL;
        if (node_store_open(&st, src_dir, &o, &err) != 0)
            die("server open", &err);
        node_daemon_opts d = {.listen = "127.0.0.1:0", .port_file = port_file};
        int rc = node_daemon_run(st, &d, NULL, &err);
        if (rc != 0)
            fprintf(stderr, "bench_sync: server: %s\n", err.msg);
        node_store_close(st);
        _exit(rc != 0);
    }
    char addr[64] = "";
    for (int i = 0; i < 3000 && addr[0] == '\0'; i++) {
        FILE *f = fopen(port_file, "r");
        int port = 0;
        if (f != NULL && fscanf(f, "%d", &port) == 1 && port > 0)
            snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
        if (f != NULL)
            fclose(f);
        if (addr[0] == '\0')
            usleep(10000);
    }
    if (addr[0] == '\0')
        die("server", &(sn_err){.msg = "no port file after 30 s"});

    int fds[2];
    if (pipe(fds) != 0)
        die("pipe", NULL);
    t0 = now_s();
    pid_t dialer = child();
    if (dialer == 0) {
        close(fds[0]);
        dial_result res = {0};
        node_open_opts o = {.durability = NODE_DURABLE,
                            .state_digest_every_ms = NODE_STATE_DIGEST_EVERY_MS};
        node_store *st = NULL;
        res.rc = node_store_open(&st, dst_dir, &o, &err);
        if (res.rc == 0) {
            node_daemon_opts d = {.dial = {addr}, .ndial = 1, .once = true};
            res.rc = node_daemon_run(st, &d, &res.rep, &err);
        }
        node_counts c;
        if (res.rc == 0 && (res.rc = node_store_counts(st, &c, &err)) == 0)
            res.commits = c.commits;
        res.err = err;
        node_store_close(st);
        ssize_t w = write(fds[1], &res, sizeof res);
        _exit(w != (ssize_t)sizeof res);
    }
    close(fds[1]);
    dial_result res = {.rc = -1};
    struct rusage ru_d, ru_s;
    ssize_t got = read(fds[0], &res, sizeof res);
    pid_t waited = wait4(dialer, &status, 0, &ru_d);
    double elapsed = now_s() - t0;
    close(fds[0]);
    kill(server, SIGTERM);
    if (wait4(server, &status, 0, &ru_s) != server || waited != dialer ||
        got != (ssize_t)sizeof res)
        die("server or dialer", NULL);
    if (res.rc != 0)
        die("dialer session", &res.err);
    printf("  session %.1f s (%.0f commits/s), %llu commits held by the site afterwards, "
           "%llu units, %.1f MiB source->site\n", elapsed, (double)n / elapsed,
           (unsigned long long)res.commits, (unsigned long long)res.rep.last.units_in,
           (double)res.rep.last.bytes_in / 1048576.0);
    printf("  peak RSS: serving side (source) %.1f MiB, dialling side (new site) %.1f MiB"
           " (target <= 64 each)\n", mib_of_ru(&ru_s), mib_of_ru(&ru_d));
    printf("  CPU (user+sys): serving side %.1f s, dialling side %.1f s\n", cpu_of_ru(&ru_s),
           cpu_of_ru(&ru_d));
    rm_rf(src_dir);
    rm_rf(dst_dir);
}

int main(void)
{
    const char *quick = getenv("BENCH_QUICK");
    if (quick != NULL && strcmp(quick, "1") == 0)
        runs = 1;
    long n = env_long("BENCH_SYNC_N", runs == 1 ? 5000 : 50000);
    long nbig = env_long("BENCH_SYNC_BIG", runs == 1 ? 100000 : 1000000);
    if (sn_hash_init(NULL) != 0)
        die("libsodium", NULL);
    char tmpl[] = "/tmp/bench-sync-XXXXXX";
    char *base = mkdtemp(tmpl);
    if (base == NULL)
        die("mkdtemp", NULL);
    char env[PATH_LEN];
    snprintf(env, sizeof env, "%s/state", base);
    setenv("OUTPOST_STATE_DIR", env, 1);
    ca_make();
    double t0 = now_s();
    /* Parts 1-3 in a child, so this process stays small for the children of part 4. */
    pid_t pid = child();
    if (pid == 0) {
        bootstrap_and_noop(base, n);
        fflush(stdout);
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("bootstrap and no-op", NULL);
    big(base, nbig);
    printf("bench_sync: %.0f s in all\n", now_s() - t0);
    rm_rf(base);
    return 0;
}
