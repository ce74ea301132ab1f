/* tests/check_node_fault.c - fault injection over every public operation of node/store.h
 * and node/logfile.h (STYLE.md section 9).
 *
 * fault_loop() runs an operation of the table OPS with the n-th allocation (or hit of a
 * named fault point) failing, n = 0, 1, ... until a pass fires no fault. After each pass,
 * disarmed: rc is 0, or SN_ENOMEM (SN_EIO for named points) with a message; nothing leaked;
 * a failed pass changed nothing the digest sees (atomic operations: nor the commit count);
 * node_store_check passes; a success gave the right answer. Then the end state is checked
 * (imports: equal to a store that imported the same commits without faults).
 *
 * Fixture: store A holds patients P1 and P2 linked, an allergy, and an open conflict on
 * P1.family made with store B; C's commits (one a set on a row C learnt from D) are what A
 * imports. A failed expectation does not stop the loop: the first of each kind is kept and
 * the test fails at the end listing them all. */
#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "node/logfile.h"
#include "node/store.h"
#include "schema/schema.h"
#include "tests/support.h"
#include "tests/trust_fixture.h"

#define BASE_MS UINT64_C(1700000000000)

/* Schema ids, looked up once so operation callbacks never assert while armed. */
static struct {
    uint16_t patient, allergy, link;
    uint16_t family, given, phone, postcode, al_patient, al_code, l_patient, l_other;
} ID;

typedef struct bodies {
    node_body v[16];
    uint8_t *own[16];
    size_t n;
} bodies;

typedef struct fx {
    char *dir, a_dir[4200], new_dir[4200], log_path[4200], vec_path[4200], out_path[4200];
    test_clock clock;
    node_open_opts opts;
    node_store *st, *st2; /* A, the store under test; a second handle on it */
    crdt_origin a_origin, c_origin;
    uint8_t p1[16], p2[16], allergy[16], dangling[16], id[16];
    crdt_hlc hlc_hi; /* highest hlc A issued */
    bodies imp;      /* C's bodies for A to import */
    crdt_vv held0;   /* A's held vector, also its applied one */
    sn_buf vtext;    /* node_vector_format of held0 */
    uint8_t d0[16], ref[16];
    node_counts c0; /* A before the pass */
    int pass;       /* n of the pass running */
    crdt_vv vv;
    size_t count;
    node_import_stats stats;
    node_logfile_stats lstats;
    tca ca;
    char res[160]; /* a success described */
} fx;

static fx g;
static char *g_root; /* per test case, removed by the unchecked teardown even on failure */

/* --- failed expectations, collected -------------------------------------------------- */

static struct {
    char text[3000];
    size_t len;
    uint64_t kinds[64]; /* hash of each kept message, digits left out */
    int nkinds, count;
} fails;

static void expect_fail(const char *fmt, ...) SN_PRINTF(1, 2);
static void expect_fail(const char *fmt, ...)
{
    char m[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    fails.count++;
    uint64_t h = 1469598103934665603u;
    for (const char *p = m; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            h = (h ^ (unsigned char)*p) * 1099511628211u;
    for (int i = 0; i < fails.nkinds; i++)
        if (fails.kinds[i] == h)
            return; /* the first of each kind is enough */
    if (fails.nkinds == 64)
        return;
    fails.kinds[fails.nkinds++] = h;
    int k = snprintf(fails.text + fails.len, sizeof fails.text - fails.len, "%s\n", m);
    if (k > 0 && (size_t)k < sizeof fails.text - fails.len)
        fails.len += (size_t)k;
}

#define EXPECT(cond, ...) ((cond) ? (void)0 : expect_fail(__VA_ARGS__))

static void expect_none(void)
{
    ck_assert_msg(fails.count == 0, "%d failed expectations; the first of each kind:\n%s",
                  fails.count, fails.text);
}

/* Must succeed (disarmed helper calls); E is the sn_err to pass. */
#define OK(expr)                                                                           \
    do {                                                                                   \
        sn_err err_ = SN_ERR_INIT;                                                         \
        sn_err *E = &err_;                                                                 \
        int rc_ = (expr);                                                                  \
        ck_assert_msg(rc_ == 0, "line %d: %s -> %d: %s", __LINE__, #expr, rc_, err_.msg);  \
    } while (0)

/* --- helpers (no assertions: usable while armed) ------------------------------------- */

static int collect(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    (void)err;
    bodies *b = ctx;
    if (b->n == sizeof b->v / sizeof b->v[0] || (b->own[b->n] = malloc(n ? n : 1)) == NULL)
        abort();
    memcpy(b->own[b->n], p, n);
    b->v[b->n] = (node_body){.p = b->own[b->n], .n = n};
    b->n++;
    return 0;
}

static void bodies_free(bodies *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->own[i]);
    b->n = 0;
}

/* One local commit by dr-fault (entered by `by`): an insert of `n` fields into `table`
 * when n > 0, then a write of `text` to patient `row`.`col` when text is not NULL. */
static int commit(node_store *st, const char *by, uint16_t table, const schema_field *fl,
                  size_t n, uint8_t id[16], const uint8_t row[16], uint16_t col,
                  const char *text, node_commit_info *info, sn_err *err)
{
    node_write *w = NULL;
    int rc = node_write_begin(st, "dr-fault", by, &w, err);
    if (rc == 0 && n > 0)
        rc = node_write_insert(w, table, fl, n, id, err);
    schema_value v = schema_value_text(text != NULL ? text : "");
    if (rc == 0 && text != NULL)
        rc = node_write_set(w, ID.patient, row, col, &v, err);
    if (rc == 0)
        return node_write_commit(w, info, err);
    node_write_abort(w);
    return rc;
}

static int write_patient(node_store *st, const char *family, uint8_t id[16], sn_err *err)
{
    schema_field f = {.col = ID.family, .value = schema_value_text(family)};
    return commit(st, NULL, ID.patient, &f, 1, id, NULL, 0, NULL, NULL, err);
}

static int write_set(node_store *st, const uint8_t row[16], uint16_t col, const char *text,
                     node_commit_info *info, sn_err *err)
{
    return commit(st, NULL, 0, NULL, 0, NULL, row, col, text, info, err);
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

/* A value read from the store as text (the store's copies are NUL-terminated). */
static const char *text_or(const schema_value *v, const char *other)
{
    return v->kind == SCHEMA_V_TEXT ? (const char *)v->u.s.p : other;
}

/* --- fixture ---------------------------------------------------------------------- */

static uint16_t col_id(const char *t, const char *c)
{
    const schema_column *k = schema_column_by_name(schema_table_by_name(t), c);
    ck_assert_msg(k != NULL, "schema has no %s.%s", t, c);
    return k->id;
}

static void ids_init(void)
{
    ID.patient = schema_table_by_name("patient")->id;
    ID.allergy = schema_table_by_name("allergy")->id;
    ID.link = schema_table_by_name("patient_link")->id;
    ID.family = col_id("patient", "family");
    ID.given = col_id("patient", "given");
    ID.phone = col_id("patient", "phone");
    ID.postcode = col_id("patient", "postcode");
    ID.al_patient = col_id("allergy", "patient_id");
    ID.al_code = col_id("allergy", "code");
    ID.l_patient = col_id("patient_link", "patient_id");
    ID.l_other = col_id("patient_link", "other_id");
}

/* Everything `from` holds that `to` lacks. */
static void send(node_store *from, node_store *to) { tca_send(from, to); }

static void digest(node_store *st, uint8_t out[16]) { OK(node_store_digest(st, out, E)); }

static void root_setup(void) { g_root = test_tmpdir_mem(); }
static void root_teardown(void)
{
    test_rmtree(g_root);
    free(g_root);
    g_root = NULL;
}

static void fx_setup(void)
{
    static int serial;
    memset(&g, 0, sizeof g);
    memset(&fails, 0, sizeof fails);
    ids_init();
    size_t n = strlen(g_root) + 32;
    ck_assert_ptr_nonnull(g.dir = malloc(n));
    snprintf(g.dir, n, "%s/t%d-%d", g_root, (int)getpid(), serial++);
    ck_assert_int_eq(mkdir(g.dir, 0700), 0);
    g.clock.ms = BASE_MS;
    g.opts = (node_open_opts){.now_ms = test_clock_now, .now_ctx = &g.clock,
                              .durability = NODE_FAST, .state_dir = g.dir};
    snprintf(g.a_dir, sizeof g.a_dir, "%s/a", g.dir);
    snprintf(g.new_dir, sizeof g.new_dir, "%s/new", g.dir);
    snprintf(g.log_path, sizeof g.log_path, "%s/c.log", g.dir);
    snprintf(g.vec_path, sizeof g.vec_path, "%s/a.vec", g.dir);
    snprintf(g.out_path, sizeof g.out_path, "%s/out", g.dir);
    sn_buf_init(&g.vtext, 1 << 20);
}

static void fx_teardown(void)
{
    (void)sn_fault_disarm();
    node_store_close(g.st);
    node_store_close(g.st2);
    bodies_free(&g.imp);
    crdt_vv_free(&g.held0);
    crdt_vv_free(&g.vv);
    sn_buf_free(&g.vtext);
    test_rmtree(g.dir);
    free(g.dir);
    memset(&g, 0, sizeof g);
}

static void fx_build(fx *f)
{
    node_store *a = f->st = test_store_new(f->dir, "a", &f->clock);
    node_store *b = test_store_new(f->dir, "b", &f->clock);
    node_store *c = test_store_new(f->dir, "c", &f->clock);
    node_store *d = test_store_new(f->dir, "d", &f->clock);
    tca_make(&f->ca, "Fault CA");
    node_store *all_four[] = {a, b, c, d};
    for (size_t i = 0; i < 4; i++)
        (void)tca_enroll(&f->ca, all_four[i]);
    f->a_origin = *node_store_origin(a);
    f->c_origin = *node_store_origin(c);
    OK(write_patient(a, "Brown", f->p1, E));
    OK(write_patient(a, "Browne", f->p2, E));
    uint8_t link[16];
    schema_field lf[2] = {{.col = ID.l_patient, .value = schema_value_id(f->p1)},
                          {.col = ID.l_other, .value = schema_value_id(f->p2)}};
    OK(commit(a, NULL, ID.link, lf, 2, link, NULL, 0, NULL, NULL, E));
    schema_field af[2] = {{.col = ID.al_patient, .value = schema_value_id(f->p1)},
                          {.col = ID.al_code, .value = schema_value_text("372687004")}};
    OK(commit(a, NULL, ID.allergy, af, 2, f->allergy, NULL, 0, NULL, NULL, E));
    /* A conflict: concurrent edits of a review column, B's the later. */
    send(a, b);
    f->clock.ms += 5;
    OK(write_set(a, f->p1, ID.family, "Smith", NULL, E));
    f->clock.ms += 5;
    OK(write_set(b, f->p1, ID.family, "Jones", NULL, E));
    send(b, a);
    /* An own commit after the last import: A's clock high-water mark is its own commit. */
    node_commit_info info;
    OK(write_set(a, f->p1, ID.phone, "01632 960000", &info, E));
    f->hlc_hi = info.hlc;

    /* C: c1 insert Q, c2 set R.given (R is D's: dangling on A), c3 set Q.given,
     * c4 set Q.phone, c5 insert Q2, c6 set Q.family. */
    OK(write_patient(d, "Reed", f->dangling, E));
    send(d, c);
    uint8_t q[16], q2[16];
    OK(write_patient(c, "Quinn", q, E));
    OK(write_set(c, f->dangling, ID.given, "Rita", NULL, E));
    OK(write_set(c, q, ID.given, "Quentin", NULL, E));
    OK(write_set(c, q, ID.phone, "01632 960001", NULL, E));
    OK(write_patient(c, "Quince", q2, E));
    OK(write_set(c, q, ID.family, "Quinlan", NULL, E));
    crdt_vv peer;
    crdt_vv_init(&peer);
    OK(node_store_held(d, &peer, E));
    bodies all = {0};
    OK(node_store_export(c, &peer, collect, &all, E));
    ck_assert_uint_eq(all.n, 6);
    /* Out of order, c1 twice, c4 missing: c5 and c6 wait. */
    static const int pick[] = {5, 0, 1, 0, 4, 2};
    for (size_t i = 0; i < sizeof pick / sizeof pick[0]; i++)
        (void)collect(&f->imp, all.v[pick[i]].p, all.v[pick[i]].n, NULL);
    bodies_free(&all);
    /* A log file of D's insert and c3..c6: c3..c6 wait on A (c1, c2 missing). */
    OK(node_store_held(a, &peer, E));
    OK(crdt_vv_raise(&peer, &f->c_origin, 2, E));
    OK(node_logfile_export(c, &peer, f->log_path, NULL, E));
    crdt_vv_free(&peer);
    node_store_close(b);
    node_store_close(c);
    node_store_close(d);

    OK(node_store_held(a, &f->held0, E));
    OK(node_vector_format(&f->held0, &f->vtext, E));
    OK(node_vecfile_write(&f->held0, f->vec_path, E));
}

/* Digest, counts and check of A. */
static void state(fx *f, uint8_t d[16], node_counts *c, const char *what)
{
    digest(f->st, d);
    OK(node_store_counts(f->st, c, E));
    sn_err err = SN_ERR_INIT;
    int rc = node_store_check(f->st, &err);
    EXPECT(rc == 0, "%s n=%d: then node_store_check -> %d: %s", what, f->pass, rc, err.msg);
}

/* A reference store: what A holds, then C's bodies (or the log file) without faults. */
static void reference(fx *f, bool from_log)
{
    node_store *r = test_store_new(f->dir, from_log ? "ref-log" : "ref", &f->clock);
    (void)tca_enroll(&f->ca, r);
    send(f->st, r);
    uint8_t dr[16], da[16];
    digest(r, dr);
    digest(f->st, da);
    ck_assert_msg(memcmp(dr, da, 16) == 0, "reference store does not start equal to A");
    if (from_log)
        OK(node_logfile_import(r, f->log_path, NULL, E));
    else
        OK(node_store_import(r, f->imp.v, f->imp.n, NULL, E));
    digest(r, f->ref);
    node_store_close(r);
}

/* After the retries: A equals the reference, with `waiting` commits waiting. */
static void expect_ref(fx *f, const char *what, uint64_t waiting)
{
    uint8_t d[16];
    digest(f->st, d);
    EXPECT(memcmp(d, f->ref, 16) == 0, "%s: the end state differs from a store that imported "
           "the same commits without faults", what);
    node_counts c;
    OK(node_store_counts(f->st, &c, E));
    EXPECT(c.waiting == waiting, "%s: %llu commits wait, want %llu", what,
           (unsigned long long)c.waiting, (unsigned long long)waiting);
}

/* --- operations ------------------------------------------------------------------- */

enum {
    OP_ATOMIC = 1,  /* a failure leaves the commit count unchanged too */
    OP_SAME = 2,    /* a success leaves the digest unchanged too (reads, rebuilds) */
    OP_NOSTORE = 4, /* does not touch A: skip A's checks */
};

typedef struct op {
    const char *name;
    unsigned flags;
    /* Armed: the operation; it frees what it got and describes a success in f->res
     * (without allocating), which must read `expect` when that is not NULL. */
    int (*run)(fx *f, sn_err *err);
    const char *expect;
    void (*setup)(fx *f);        /* once, before the loop */
    void (*post)(fx *f, int rc, const sn_err *err); /* disarmed, after each pass */
    void (*finish)(fx *f);       /* after the loop: the expected end state */
} op;

/* Describe a success (rc 0) in f->res; returns rc. */
static int say(fx *f, int rc, const char *fmt, ...) SN_PRINTF(3, 4);
static int say(fx *f, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (rc == 0)
        vsnprintf(f->res, sizeof f->res, fmt, ap);
    va_end(ap);
    return rc;
}

/* open: a second handle on A. Each one opened is checked, then written through with the
 * clock standing still, so a clock resumed behind A's own log shows. (A's own handle is
 * only read from then on.) */
static int open_run(fx *f, sn_err *err)
{
    return node_store_open(&f->st2, f->a_dir, &f->opts, err);
}
static void open_post(fx *f, int rc, const sn_err *err)
{
    (void)err;
    if (rc != 0) {
        EXPECT(f->st2 == NULL, "node_store_open n=%d: failed but set *out", f->pass);
        return;
    }
    node_store *st = f->st2;
    uint8_t d[16];
    digest(st, d);
    EXPECT(crdt_origin_equal(node_store_origin(st), &f->a_origin) &&
               strcmp(node_store_name(st), "a") == 0 && memcmp(d, f->d0, 16) == 0,
           "node_store_open n=%d: opened a different identity or state", f->pass);
    node_commit_info info;
    OK(write_set(st, f->p2, ID.postcode, "AB1 2CD", &info, E));
    EXPECT(info.hlc > f->hlc_hi, "node_store_open n=%d: succeeded, but the next commit has hlc "
           "%#llx, not after this node's own last commit %#llx: the clock resumed behind its "
           "own log", f->pass, (unsigned long long)info.hlc, (unsigned long long)f->hlc_hi);
    if (info.hlc > f->hlc_hi)
        f->hlc_hi = info.hlc;
    node_store_close(st);
    f->st2 = NULL;
}

/* create: in one directory again and again; a failure leaves nothing behind. */
static int create_run(fx *f, sn_err *err)
{
    return node_store_create(f->new_dir, "n", &f->opts, err);
}
static void create_post(fx *f, int rc, const sn_err *err)
{
    static const char *const files[] = {"store.db", "store.db-wal", "store.db-shm", "keys"};
    char p[4300];
    EXPECT(rc != SN_EIO || strstr(err->msg, "keys") != NULL || strstr(err->msg, ".token"),
           "node_store_create n=%d: the error does not name the key or token file: %s", f->pass,
           err->msg);
    if (rc != 0) {
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            snprintf(p, sizeof p, "%s/%s", f->new_dir, files[i]);
            EXPECT(!exists(p), "node_store_create n=%d: failed but left %s", f->pass, files[i]);
        }
        return;
    }
    node_store *st = NULL;
    OK(node_store_open(&st, f->new_dir, &f->opts, E));
    OK(node_store_check(st, E));
    node_store_close(st);
    test_rmtree(f->new_dir);
}

/* A local write: begin (entered by someone else), insert with a reference, set, commit. */
static int write_run(fx *f, sn_err *err)
{
    schema_field af[2] = {{.col = ID.al_patient, .value = schema_value_id(f->p1)},
                          {.col = ID.al_code, .value = schema_value_text("91936005")}};
    return commit(f->st, "clerk", ID.allergy, af, 2, f->id, f->p1, ID.given, "Ann", NULL, err);
}

/* The cell `row`.given shows `want` alone, and A holds `more` commits more than at c0. */
static void expect_written(fx *f, const uint8_t row[16], const char *want, uint64_t more)
{
    node_counts c;
    OK(node_store_counts(f->st, &c, E));
    EXPECT(c.commits == f->c0.commits + more, "retry stored %llu commits, not %llu",
           (unsigned long long)(c.commits - f->c0.commits), (unsigned long long)more);
    node_cell *cl = NULL;
    OK(node_store_cell_get(f->st, ID.patient, row, ID.given, &cl, E));
    EXPECT(cl->nsibs == 1 && strcmp(text_or(&cl->winner, ""), want) == 0,
           "given is not '%s' after the retry", want);
    node_cell_free(cl);
}
static void write_finish(fx *f)
{
    expect_written(f, f->p1, "Ann", 1);
    node_row *r = NULL;
    OK(node_store_row_get(f->st, ID.allergy, f->id, &r, E));
    EXPECT(r->inserted && r->entered_by != NULL && strcmp(r->entered_by, "clerk") == 0,
           "the written allergy reads wrong");
    node_row_free(r);
}

/* A batch of two local commits; any failure aborts the batch. */
static int batch_run(fx *f, sn_err *err)
{
    int rc = node_store_batch_begin(f->st, err);
    if (rc == 0)
        rc = write_patient(f->st, "Batch", f->id, err);
    if (rc == 0)
        rc = write_set(f->st, f->id, ID.given, "Bea", NULL, err);
    if (rc == 0)
        rc = node_store_batch_commit(f->st, err);
    if (rc != 0)
        node_store_batch_abort(f->st);
    return rc;
}
static void batch_finish(fx *f) { expect_written(f, f->id, "Bea", 2); }

/* Import of C's bodies: out of order, a duplicate, two waiting, a dangling set. */
static void import_setup(fx *f) { reference(f, false); }
static int import_run(fx *f, sn_err *err)
{
    return node_store_import(f->st, f->imp.v, f->imp.n, &f->stats, err);
}
static void import_finish(fx *f)
{
    expect_ref(f, "node_store_import", 2);
    OK(node_store_applied(f->st, &f->vv, E));
    EXPECT(crdt_vv_get(&f->vv, &f->c_origin) == 3, "import: C's commits 1-3 are not applied");
    node_row *r = NULL;
    OK(node_store_row_get(f->st, ID.patient, f->dangling, &r, E));
    EXPECT(!r->inserted, "import: the dangling set's row should be a stub");
    node_row_free(r);
}

static void limport_setup(fx *f) { reference(f, true); }
static int limport_run(fx *f, sn_err *err)
{
    return node_logfile_import(f->st, f->log_path, &f->lstats, err);
}
static void limport_finish(fx *f) { expect_ref(f, "node_logfile_import", 4); }

/* To a peer that holds A's first commit: A's 5 others and B's one. */
static int export_run(fx *f, sn_err *err)
{
    crdt_vv peer = {.e = &(crdt_vv_entry){.origin = f->a_origin, .seq = 1}, .n = 1, .cap = 1};
    bodies b = {0};
    int rc = node_store_export(f->st, &peer, collect, &b, err);
    say(f, rc, "%zu bodies", b.n);
    bodies_free(&b);
    return rc;
}

/* The vector got is A's held (and applied) vector. */
static int vv_say(fx *f, int rc)
{
    rc = say(f, rc, "%s", crdt_vv_equal(&f->vv, &f->held0) ? "right" : "wrong");
    crdt_vv_free(&f->vv);
    return rc;
}
static int held_run(fx *f, sn_err *err) { return vv_say(f, node_store_held(f->st, &f->vv, err)); }
static int applied_run(fx *f, sn_err *err)
{
    return vv_say(f, node_store_applied(f->st, &f->vv, err));
}
static int vread_run(fx *f, sn_err *err)
{
    return vv_say(f, node_vecfile_read(&f->vv, f->vec_path, err));
}

static int counts_run(fx *f, sn_err *err)
{
    node_counts c = {0};
    int rc = node_store_counts(f->st, &c, err);
    return say(f, rc, "%llu commits, %llu waiting, %llu unknown, %llu conflicts, %llu origins, "
               "%llu skewed", (unsigned long long)c.commits, (unsigned long long)c.waiting,
               (unsigned long long)c.unknown, (unsigned long long)c.conflicts,
               (unsigned long long)c.origins, (unsigned long long)c.skewed);
}

static int digest_run(fx *f, sn_err *err)
{
    int rc = node_store_digest(f->st, f->id, err);
    return say(f, rc, "%s", memcmp(f->id, f->d0, 16) == 0 ? "right" : "wrong");
}

static int remat_rows_run(fx *f, sn_err *err)
{
    node_rowref rows[2] = {{.table = ID.allergy}, {.table = ID.patient}};
    memcpy(rows[0].id, f->allergy, 16);
    memcpy(rows[1].id, f->p1, 16);
    return node_store_rematerialize(f->st, rows, 2, err);
}
static int remat_all_run(fx *f, sn_err *err)
{
    return node_store_rematerialize(f->st, NULL, 0, err);
}
static int check_run(fx *f, sn_err *err) { return node_store_check(f->st, err); }

/* P1.family: siblings Smith (A) and Jones (B, later), in conflict, Jones shown. */
static int cell_run(fx *f, sn_err *err)
{
    node_cell *c = NULL;
    int rc = node_store_cell_get(f->st, ID.patient, f->p1, ID.family, &c, err);
    if (rc == 0)
        say(f, rc, "%zu siblings, %s, shows %s", c->nsibs,
            c->conflict ? "conflict" : "no conflict", text_or(&c->winner, "?"));
    node_cell_free(c);
    return rc;
}

static int row_run(fx *f, sn_err *err)
{
    node_row *r = NULL;
    int rc = node_store_row_get(f->st, ID.patient, f->p1, &r, err);
    int k = schema_column_index(schema_table_by_id(ID.patient), ID.family);
    if (rc == 0)
        say(f, rc, "%s by %s, family %s, %s", r->inserted ? "inserted" : "stub", r->author,
            text_or(&r->values[k], "?"), r->conflict[k] ? "conflict" : "no conflict flag");
    node_row_free(r);
    return rc;
}

static int count_row(void *ctx, const node_row *r, sn_err *err)
{
    (void)r;
    (void)err;
    ((fx *)ctx)->count++;
    return 0;
}
/* All patients (P1, P2), then those shown as Browne (P2). */
static int rows_run(fx *f, sn_err *err)
{
    f->count = 0;
    int rc = node_store_rows_each(f->st, ID.patient, 0, NULL, count_row, f, err);
    size_t all = f->count;
    schema_value v = schema_value_text("Browne");
    f->count = 0;
    if (rc == 0)
        rc = node_store_rows_each(f->st, ID.patient, ID.family, &v, count_row, f, err);
    return say(f, rc, "%zu patients, %zu Browne", all, f->count);
}

static int table_run(fx *f, sn_err *err)
{
    uint16_t t = 0;
    int rc = node_store_row_table(f->st, f->allergy, &t, err);
    const schema_table *st = schema_table_by_id(t);
    return say(f, rc, "%s", st != NULL ? st->name : "?");
}

static int count_conflict(void *ctx, uint16_t t, const uint8_t row[16], uint16_t c, sn_err *err)
{
    (void)err;
    fx *f = ctx;
    bool p1 = t == ID.patient && c == ID.family && memcmp(row, f->p1, 16) == 0;
    f->count += p1 ? 1 : 1000; /* any other conflict shows */
    return 0;
}
static int conflicts_run(fx *f, sn_err *err)
{
    f->count = 0;
    int rc = node_store_conflicts_each(f->st, count_conflict, f, err);
    return say(f, rc, "%zu", f->count);
}

static int canon_run(fx *f, sn_err *err)
{
    int rc = node_store_patient_canonical(f->st, f->p2, f->id, err);
    const uint8_t *want = memcmp(f->p1, f->p2, 16) < 0 ? f->p1 : f->p2;
    return say(f, rc, "%s", memcmp(f->id, want, 16) == 0 ? "right" : "wrong");
}

/* Output files: a failure leaves neither the file nor its temporary. */
static bool out_failed(fx *f, int rc, const sn_err *err, const char *what)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", f->out_path);
    EXPECT(rc != SN_EIO || strstr(err->msg, f->out_path) != NULL,
           "%s n=%d: the error does not name the file: %s", what, f->pass, err->msg);
    EXPECT(!exists(tmp), "%s n=%d: left a temporary file", what, f->pass);
    EXPECT(rc == 0 || !exists(f->out_path), "%s n=%d: failed but left the file", what, f->pass);
    return rc != 0;
}

static int lexport_run(fx *f, sn_err *err)
{
    size_t n = 0;
    int rc = node_logfile_export(f->st, NULL, f->out_path, &n, err);
    return say(f, rc, "%zu commits", n);
}
/* The file holds what A holds. */
static void lexport_post(fx *f, int rc, const sn_err *err)
{
    if (out_failed(f, rc, err, "node_logfile_export"))
        return;
    char p[4300];
    snprintf(p, sizeof p, "%s/lref", f->dir);
    node_store *r = test_store_new(f->dir, "lref", &f->clock);
    (void)tca_enroll(&f->ca, r);
    OK(node_logfile_import(r, f->out_path, NULL, E));
    uint8_t d[16];
    digest(r, d);
    EXPECT(memcmp(d, f->d0, 16) == 0, "logfile_export n=%d: the log does not rebuild A", f->pass);
    node_store_close(r);
    test_rmtree(p);
    unlink(f->out_path);
}

static int vwrite_run(fx *f, sn_err *err)
{
    return node_vecfile_write(&f->held0, f->out_path, err);
}
static void vwrite_post(fx *f, int rc, const sn_err *err)
{
    if (out_failed(f, rc, err, "node_vecfile_write"))
        return;
    OK(node_vecfile_read(&f->vv, f->out_path, E));
    EXPECT(crdt_vv_equal(&f->vv, &f->held0), "vecfile_write n=%d: reads back wrong", f->pass);
    crdt_vv_free(&f->vv);
    unlink(f->out_path);
}

static int vformat_run(fx *f, sn_err *err)
{
    sn_buf b;
    sn_buf_init(&b, 1 << 20);
    int rc = node_vector_format(&f->held0, &b, err);
    bool same = b.len == f->vtext.len && memcmp(b.data, f->vtext.data, b.len) == 0;
    sn_buf_free(&b);
    say(f, rc, "%s", same ? "right" : "wrong");
    return rc;
}

/* Backup: a failure leaves neither the file nor its temporary; a success restores (with
 * A's keys) into a store that shows what A shows, under a new epoch. */
static int backup_run(fx *f, sn_err *err)
{
    return node_store_backup(f->st, f->out_path, false, err);
}
static void backup_post(fx *f, int rc, const sn_err *err)
{
    DIR *d = opendir(f->dir);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
        EXPECT(strncmp(e->d_name, "out.tmp-", 8) != 0, "node_store_backup n=%d: left %s (rc %d: "
               "%s)", f->pass, e->d_name, rc, err->msg);
    if (d != NULL)
        closedir(d);
    EXPECT(rc == 0 || !exists(f->out_path), "node_store_backup n=%d: failed but left the file",
           f->pass);
    if (rc != 0)
        return;
    char dir[4300], keys[4300];
    snprintf(dir, sizeof dir, "%s/restored", f->dir);
    snprintf(keys, sizeof keys, "%s/keys", f->a_dir);
    OK(node_store_restore(f->out_path, dir, keys, NULL, E));
    node_store *r = NULL;
    sn_log_set_level(SN_LOG_ERROR); /* its new epoch's warning is expected */
    OK(node_store_open(&r, dir, &f->opts, E));
    sn_log_set_level(SN_LOG_WARN);
    uint8_t dg[16];
    digest(r, dg);
    EXPECT(memcmp(dg, f->d0, 16) == 0 && node_store_origin(r)->epoch > f->a_origin.epoch,
           "node_store_backup n=%d: the backup does not restore A under a new epoch", f->pass);
    node_store_close(r);
    test_rmtree(dir);
    unlink(f->out_path);
}

static const op OPS[] = {
    {"node_store_open", 0, open_run, NULL, NULL, open_post, NULL},
    {"node_store_create", OP_NOSTORE, create_run, NULL, NULL, create_post, NULL},
    {"local write", OP_ATOMIC, write_run, NULL, NULL, NULL, write_finish},
    {"batch", OP_ATOMIC, batch_run, NULL, NULL, NULL, batch_finish},
    {"node_store_import", 0, import_run, NULL, import_setup, NULL, import_finish},
    {"node_store_export", OP_SAME, export_run, "6 bodies", NULL, NULL, NULL},
    {"node_store_held", OP_SAME, held_run, "right", NULL, NULL, NULL},
    {"node_store_applied", OP_SAME, applied_run, "right", NULL, NULL, NULL},
    {"node_store_counts", OP_SAME, counts_run,
     "7 commits, 0 waiting, 0 unknown, 1 conflicts, 2 origins, 0 skewed", NULL, NULL, NULL},
    {"node_store_digest", OP_SAME, digest_run, "right", NULL, NULL, NULL},
    {"rematerialize rows", OP_SAME | OP_ATOMIC, remat_rows_run, NULL, NULL, NULL, NULL},
    {"rematerialize all", OP_SAME | OP_ATOMIC, remat_all_run, NULL, NULL, NULL, NULL},
    {"node_store_check", OP_SAME, check_run, NULL, NULL, NULL, NULL},
    {"node_store_cell_get", OP_SAME, cell_run, "2 siblings, conflict, shows Jones", NULL, NULL,
     NULL},
    {"node_store_row_get", OP_SAME, row_run, "inserted by dr-fault, family Jones, conflict",
     NULL, NULL, NULL},
    {"node_store_rows_each", OP_SAME, rows_run, "2 patients, 1 Browne", NULL, NULL, NULL},
    {"node_store_row_table", OP_SAME, table_run, "allergy", NULL, NULL, NULL},
    {"node_store_conflicts_each", OP_SAME, conflicts_run, "1", NULL, NULL, NULL},
    {"node_store_patient_canonical", OP_SAME, canon_run, "right", NULL, NULL, NULL},
    {"node_logfile_export", OP_SAME, lexport_run, "7 commits", NULL, lexport_post, NULL},
    {"node_logfile_import", 0, limport_run, NULL, limport_setup, NULL, limport_finish},
    {"node_vecfile_write", OP_SAME, vwrite_run, NULL, NULL, vwrite_post, NULL},
    {"node_vecfile_read", OP_SAME, vread_run, "right", NULL, NULL, NULL},
    {"node_vector_format", OP_SAME, vformat_run, "right", NULL, NULL, NULL},
    {"node_store_backup", OP_SAME, backup_run, NULL, NULL, backup_post, NULL},
};
#define NOPS ((int)(sizeof OPS / sizeof OPS[0]))

/* --- the driver ------------------------------------------------------------------- */

static const char *const KIND[] = {[SN_FAULT_ALLOC] = "alloc",
                                   [SN_FP_STORE_COMMIT] = "store-commit",
                                   [SN_FP_FILE_WRITE] = "file-write",
                                   [SN_FP_FILE_SYNC] = "file-sync"};

/* Run `o` with the n-th hit of `kind` failing, n = 0, 1, ... until a pass fires no fault;
 * then fail the test if any expectation failed on the way. */
static void fault_loop(fx *f, const op *o, sn_fault_kind kind)
{
    const char *kn = KIND[kind];
    int want = kind == SN_FAULT_ALLOC ? SN_ENOMEM : SN_EIO;
    sn_err err = SN_ERR_INIT;
    if (o->setup != NULL)
        o->setup(f);
    if (o->flags & OP_SAME) { /* warm the store's lazy caches, which are not leaks */
        state(f, f->d0, &f->c0, o->name);
        int rc = o->run(f, &err);
        ck_assert_msg(rc == 0, "%s without faults: %s", o->name, err.msg);
        if (o->post != NULL)
            o->post(f, rc, &err);
    }
    for (int n = 0;; n++) {
        ck_assert_msg(n < 200000, "%s: the fault keeps firing", o->name);
        f->pass = n;
        if (!(o->flags & OP_NOSTORE))
            state(f, f->d0, &f->c0, o->name);
        long live = sn_alloc_live();
        sn_err_clear(&err);
        f->res[0] = '\0';
        sn_fault_arm(kind, n, 1);
        int rc = o->run(f, &err);
        bool fired = sn_fault_disarm();
        if (o->post != NULL)
            o->post(f, rc, &err);
        EXPECT(sn_alloc_live() == live, "%s, %s n=%d: %ld blocks leaked (rc %d: %s)", o->name,
               kn, n, sn_alloc_live() - live, rc, err.msg);
        EXPECT(rc != 0 || o->expect == NULL || strcmp(f->res, o->expect) == 0,
               "%s, %s n=%d: returned 0 but gave '%s', want '%s'", o->name, kn, n, f->res,
               o->expect);
        if (!fired) {
            ck_assert_msg(rc == 0, "%s, %s n=%d: no fault fired, yet rc %d: %s", o->name, kn, n,
                          rc, err.msg);
            if (o->finish != NULL)
                o->finish(f);
            break;
        }
        EXPECT(rc == 0 || (rc == want && err.msg[0] != '\0'),
               "%s, %s n=%d: rc %d (%s), want 0 or %s with a message: '%s'", o->name, kn, n, rc,
               sn_err_name(rc), sn_err_name(want), err.msg);
        if (o->flags & OP_NOSTORE)
            continue;
        uint8_t d[16];
        node_counts c;
        state(f, d, &c, o->name);
        EXPECT((rc == 0 && !(o->flags & OP_SAME)) || memcmp(d, f->d0, 16) == 0,
               "%s, %s n=%d: rc %d (%s) but the state digest changed", o->name, kn, n, rc,
               err.msg);
        /* Atomic operations store nothing when they fail; nor does anything whose first
         * transaction failed to commit. */
        bool atomic = (o->flags & OP_ATOMIC) || (kind == SN_FP_STORE_COMMIT && n == 0);
        EXPECT(rc == 0 || !atomic || c.commits == f->c0.commits,
               "%s, %s n=%d: failed, yet %lld commits were stored", o->name, kn, n,
               (long long)(c.commits - f->c0.commits));
    }
    expect_none();
}

/* --- tests ------------------------------------------------------------------------ */

/* Every operation with each allocation failing in turn. */
START_TEST(test_alloc_faults)
{
    fx_build(&g);
    fault_loop(&g, &OPS[_i], SN_FAULT_ALLOC);
}
END_TEST

/* Every operation with each hit of a named fault point failing in turn: a commit failing
 * as if the disk were full (local write, batch, import, rematerialize), a short write or
 * failed fsync of a log, vector or key file (log export, vector write, create). A failure
 * there is SN_EIO naming the file, with nothing (file, temporary, half-made store) left;
 * the next pass is the retry. */
START_TEST(test_named_faults)
{
    static const sn_fault_kind kinds[] = {SN_FP_STORE_COMMIT, SN_FP_FILE_WRITE, SN_FP_FILE_SYNC};
    fx_build(&g);
    fault_loop(&g, &OPS[_i % NOPS], kinds[_i / NOPS]);
}
END_TEST

Suite *node_fault_suite(void);
Suite *node_fault_suite(void)
{
    Suite *s = suite_create("node_fault_suite");
    TCase *ta = tcase_create("alloc");
    tcase_add_unchecked_fixture(ta, root_setup, root_teardown);
    tcase_add_checked_fixture(ta, fx_setup, fx_teardown);
    tcase_set_timeout(ta, 240);
    tcase_add_loop_test(ta, test_alloc_faults, 0, NOPS);
    suite_add_tcase(s, ta);
    TCase *tn = tcase_create("named");
    tcase_add_unchecked_fixture(tn, root_setup, root_teardown);
    tcase_add_checked_fixture(tn, fx_setup, fx_teardown);
    tcase_set_timeout(tn, 60);
    tcase_add_loop_test(tn, test_named_faults, 0, 3 * NOPS);
    suite_add_tcase(s, tn);
    return s;
}
