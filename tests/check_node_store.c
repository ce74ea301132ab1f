/* tests/check_node_store.c - the node store through its public API (DESIGN.md sections 2-4):
 * identity (files, modes, reopen, names, a clock that never runs backwards), local writes
 * (values, authorship, cells, and bad input of every kind leaving the store unchanged),
 * batches (a failing commit is rolled back alone, whatever the point of failure), row reads
 * (retractions, filters, table lookup, patient links) and the state digest. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "crdt/vv.h"
#include "node/store.h"
#include "schema/codec.h"
#include "schema/schema.h"
#include "tests/support.h"

Suite *node_store_suite(void);

#define BASE_MS UINT64_C(1700000000000)
#define HOUR_MS UINT64_C(3600000)
#define ID_LEN SCHEMA_ID_LEN

/* `expr` fills the local `err`: it succeeds / fails with `code` and a message. */
#define CK_OK(expr)                                                                        \
    do {                                                                                   \
        sn_err_clear(&err);                                                                \
        int rc_ = (expr);                                                                  \
        ck_assert_msg(rc_ == 0, "%s: %s: %s", #expr, sn_err_name(rc_), err.msg);           \
    } while (0)
#define CK_FAILS(expr, code)                                                               \
    do {                                                                                   \
        sn_err_clear(&err);                                                                \
        int rc_ = (expr);                                                                  \
        ck_assert_msg(rc_ == (code) && err.msg[0] != '\0', "%s: got %s (%s), want %s",     \
                      #expr, sn_err_name(rc_), err.msg, sn_err_name(code));                \
    } while (0)

static char *g_dir; /* per test case, removed by the unchecked teardown even on failure */

static void dir_setup(void) { g_dir = test_tmpdir(); }
static void dir_teardown(void)
{
    test_rmtree(g_dir);
    free(g_dir);
    g_dir = NULL;
}

#define OPTS(clock) {.now_ms = test_clock_now, .now_ctx = (clock), .durability = NODE_FAST}

/* A fresh store in its own subdirectory (unique across fork-mode children); its path to
 * dir (4096 bytes) when dir is not NULL. */
static node_store *mk(const char *name, test_clock *clock, char *dir)
{
    static int serial;
    char sub[64];
    snprintf(sub, sizeof sub, "%s-%d-%d", name, (int)getpid(), serial++);
    if (dir != NULL)
        snprintf(dir, 4096, "%s/%s", g_dir, sub);
    return test_store_new(g_dir, sub, clock);
}

static node_store *reopen(const char *dir, test_clock *clock)
{
    sn_err err = SN_ERR_INIT;
    node_open_opts o = OPTS(clock);
    node_store *st = NULL;
    CK_OK(node_store_open(&st, dir, &o, &err));
    return st;
}

/* ---- schema ------------------------------------------------------------------------- */

static uint16_t tbl(const char *name)
{
    const schema_table *t = schema_table_by_name(name);
    ck_assert_msg(t != NULL, "schema has no table %s", name);
    return t->id;
}

static uint16_t col(const char *tname, const char *cname)
{
    const schema_column *c = schema_column_by_name(schema_table_by_id(tbl(tname)), cname);
    ck_assert_msg(c != NULL, "schema has no column %s.%s", tname, cname);
    return c->id;
}

static int cidx(const char *tname, const char *cname)
{
    return schema_column_index(schema_table_by_id(tbl(tname)), col(tname, cname));
}

static schema_field fld(const char *tname, const char *cname, schema_value v)
{
    return (schema_field){.col = col(tname, cname), .value = v};
}

static schema_value txt(const char *s) { return schema_value_text(s); }

static bool is_text(const schema_value *v, const char *s)
{
    return v->kind == SCHEMA_V_TEXT && v->u.s.n == strlen(s) && memcmp(v->u.s.p, s, v->u.s.n) == 0;
}

/* ---- writing and reading rows -------------------------------------------------------- */

/* One commit inserting a row of `tname`. */
static node_commit_info insert_row(node_store *st, const char *tname, const schema_field *f,
                                   size_t n, uint8_t id[ID_LEN])
{
    sn_err err = SN_ERR_INIT;
    node_write *w = NULL;
    node_commit_info info = {0};
    CK_OK(node_write_begin(st, "dr-store", NULL, &w, &err));
    CK_OK(node_write_insert(w, tbl(tname), f, n, id, &err));
    CK_OK(node_write_commit(w, &info, &err));
    return info;
}

static node_commit_info insert_patient(node_store *st, const char *family, uint8_t id[ID_LEN])
{
    schema_field f = fld("patient", "family", txt(family));
    return insert_row(st, "patient", &f, 1, id);
}

static node_commit_info set_text(node_store *st, const char *tname, const uint8_t *row,
                                 const char *cname, const char *text)
{
    sn_err err = SN_ERR_INIT;
    node_write *w = NULL;
    node_commit_info info = {0};
    schema_value v = txt(text);
    CK_OK(node_write_begin(st, "dr-store", NULL, &w, &err));
    CK_OK(node_write_set(w, tbl(tname), row, col(tname, cname), &v, &err));
    CK_OK(node_write_commit(w, &info, &err));
    return info;
}

static void retract(node_store *st, const uint8_t *target, uint8_t id[ID_LEN])
{
    schema_field f[2] = {fld("retraction", "target_id", schema_value_id(target)),
                         fld("retraction", "reason", txt("entered in error"))};
    insert_row(st, "retraction", f, 2, id);
}

static node_row *row_of(node_store *st, const char *tname, const uint8_t *id)
{
    sn_err err = SN_ERR_INIT;
    node_row *r = NULL;
    CK_OK(node_store_row_get(st, tbl(tname), id, &r, &err));
    return r;
}

static bool retracted(node_store *st, const char *tname, const uint8_t *id)
{
    node_row *r = row_of(st, tname, id);
    bool out = r->retracted;
    node_row_free(r);
    return out;
}

/* The row is held (or not). */
static void expect_row(node_store *st, const uint8_t *id, bool present, const char *what)
{
    sn_err err = SN_ERR_INIT;
    node_row *r = NULL;
    int rc = node_store_row_get(st, tbl("patient"), id, &r, &err);
    ck_assert_msg(present ? rc == 0 : rc == SN_ENOTFOUND, "%s: row_get gave %s (%s)", what,
                  sn_err_name(rc), err.msg);
    node_row_free(r);
}

/* ---- moving commits, snapshots ------------------------------------------------------- */

typedef struct blist {
    node_body *v;
    size_t n, cap;
} blist;

static int blist_emit(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    (void)err;
    blist *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        ck_assert_ptr_nonnull(l->v);
    }
    uint8_t *copy = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, p, n);
    l->v[l->n++] = (node_body){.p = copy, .n = n};
    return 0;
}

static void blist_free(blist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free((void *)(uintptr_t)l->v[i].p);
    free(l->v);
    *l = (blist){0};
}

/* Everything `from` holds that `to` lacks. */
static void send(node_store *from, node_store *to)
{
    sn_err err = SN_ERR_INIT;
    crdt_vv held = {0};
    blist l = {0};
    CK_OK(node_store_held(to, &held, &err));
    CK_OK(node_store_export(from, &held, blist_emit, &l, &err));
    if (l.n > 0)
        CK_OK(node_store_import(to, l.v, l.n, NULL, &err));
    blist_free(&l);
    crdt_vv_free(&held);
}

static void digest(node_store *st, uint8_t out[16])
{
    sn_err err = SN_ERR_INIT;
    CK_OK(node_store_digest(st, out, &err));
}

static node_counts counts(node_store *st)
{
    sn_err err = SN_ERR_INIT;
    node_counts c;
    CK_OK(node_store_counts(st, &c, &err));
    return c;
}

typedef struct snap {
    node_counts counts;
    uint8_t digest[16];
} snap;

static snap snap_take(node_store *st)
{
    snap s = {.counts = counts(st)};
    digest(st, s.digest);
    return s;
}

/* The store holds what it held at `s` and passes its invariants. */
static void snap_expect(node_store *st, const snap *s, const char *what)
{
    sn_err err = SN_ERR_INIT;
    snap now = snap_take(st);
    ck_assert_msg(memcmp(&now.counts, &s->counts, sizeof now.counts) == 0,
                  "%s: counts changed (%llu commits, was %llu)", what,
                  (unsigned long long)now.counts.commits, (unsigned long long)s->counts.commits);
    ck_assert_msg(memcmp(now.digest, s->digest, 16) == 0, "%s: the digest changed", what);
    sn_err_clear(&err);
    ck_assert_msg(node_store_check(st, &err) == 0, "%s: check: %s", what, err.msg);
}

/* ===== identity ====================================================================== */

static void file_path(char *out, const char *dir, const char *file)
{
    snprintf(out, 4200, "%s/%s", dir, file);
}

static void expect_mode(const char *dir, const char *file, mode_t want)
{
    char path[4200];
    struct stat sb;
    file_path(path, dir, file);
    ck_assert_msg(stat(path, &sb) == 0 && S_ISREG(sb.st_mode), "%s is missing", path);
    ck_assert_msg((sb.st_mode & 07777) == want, "%s has mode %04o, want %04o", path,
                  (unsigned)(sb.st_mode & 07777), (unsigned)want);
}

static char *slurp(const char *dir, const char *file)
{
    char path[4200];
    file_path(path, dir, file);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = calloc(1, 1 << 16);
    ck_assert_ptr_nonnull(buf);
    buf[fread(buf, 1, (1 << 16) - 1, f)] = '\0';
    fclose(f);
    return buf;
}

/* The keys file has the lines "label <lower-case hex>" of the three key pairs. */
static void expect_key_lines(const char *dir)
{
    static const struct {
        const char *label;
        size_t hexlen;
    } want[] = {{"sign-public", 64}, {"sign-secret", 128}, {"noise-public", 64},
                {"noise-secret", 64}, {"box-public", 64},  {"box-secret", 64}};
    char *keys = slurp(dir, "keys"), pat[64];
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf(pat, sizeof pat, "\n%s ", want[i].label);
        const char *p = strstr(keys, pat);
        ck_assert_msg(p != NULL, "keys file has no '%s' line", want[i].label);
        size_t n = strspn(p + strlen(pat), "0123456789abcdef");
        ck_assert_msg(n == want[i].hexlen && p[strlen(pat) + n] == '\n',
                      "'%s' has %zu hex digits", want[i].label, n);
    }
    free(keys);
}

START_TEST(test_create_makes_private_files_with_keys)
{
    sn_err err = SN_ERR_INIT;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/fresh", g_dir);
    test_clock clock = {BASE_MS};
    node_open_opts o = OPTS(&clock);
    mode_t old = umask(022); /* the usual umask: privacy must not depend on a stricter one */
    sn_err_clear(&err);
    int rc = node_store_create(dir, "north-base", &o, &err);
    umask(old);
    ck_assert_msg(rc == 0, "create: %s", err.msg);
    expect_mode(dir, "keys", 0600);
    expect_key_lines(dir);
    node_store *st = reopen(dir, &clock);
    ck_assert_str_eq(node_store_name(st), "north-base");
    ck_assert_uint_eq(node_store_origin(st)->epoch, 1);
    ck_assert_uint_eq(counts(st).commits, 0);
    node_store_close(st);
    expect_mode(dir, "store.db", 0600); /* clinical records: as private as the keys */
}
END_TEST

/* A refused create leaves the store as it was; reopening keeps origin, name and state. */
START_TEST(test_create_on_existing_store_refused_intact)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096];
    node_store *st = mk("exists", &clock, dir);
    uint8_t p[ID_LEN];
    insert_patient(st, "Brown", p);
    crdt_origin origin = *node_store_origin(st);
    snap before = snap_take(st);
    node_store_close(st);
    char *keys = slurp(dir, "keys");
    node_open_opts o = OPTS(&clock);
    CK_FAILS(node_store_create(dir, "intruder", &o, &err), SN_EINVAL);
    ck_assert_msg(strstr(err.msg, dir) != NULL, "message does not name the directory: %s",
                  err.msg);
    char *keys2 = slurp(dir, "keys");
    ck_assert_msg(strcmp(keys, keys2) == 0, "the keys file changed");
    free(keys);
    free(keys2);
    for (int i = 0; i < 2; i++) {
        st = reopen(dir, &clock);
        ck_assert(crdt_origin_equal(node_store_origin(st), &origin));
        ck_assert_str_eq(node_store_name(st), strrchr(dir, '/') + 1);
        snap_expect(st, &before, "reopened after a refused create");
        node_store_close(st);
    }
    st = mk("exists", &clock, NULL);
    ck_assert(!crdt_origin_equal(node_store_origin(st), &origin)); /* each store its own */
    node_store_close(st);
}
END_TEST

/* A directory holding a key file but no database: create refuses, and must not delete
 * secret keys it did not make. */
START_TEST(test_create_refused_by_key_file_keeps_it)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/keys-only", g_dir);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    file_path(path, dir, "keys");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("# keys put here by an administrator\n", f);
    fclose(f);
    node_open_opts o = OPTS(&clock);
    CK_FAILS(node_store_create(dir, "node", &o, &err), SN_EINVAL);
    ck_assert_msg(access(path, F_OK) == 0,
                  "a refused create deleted the key file it found (%s): %s", path, err.msg);
}
END_TEST

START_TEST(test_open_without_store_not_found_with_hint)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_open_opts o = OPTS(&clock);
    char missing[4200];
    file_path(missing, g_dir, "no-such-dir");
    const char *dirs[2] = {g_dir, missing};
    for (int i = 0; i < 2; i++) {
        node_store *st = (node_store *)&o; /* must be reset */
        CK_FAILS(node_store_open(&st, dirs[i], &o, &err), SN_ENOTFOUND);
        ck_assert_ptr_null(st);
        ck_assert_msg(err.hint[0] != '\0', "no hint with: %s", err.msg);
        ck_assert_msg(strstr(err.msg, dirs[i]) != NULL, "message does not name the directory");
    }
    ck_assert_msg(access(missing, F_OK) != 0, "open created %s", missing);
}
END_TEST

START_TEST(test_bad_names_refused)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_open_opts o = OPTS(&clock);
    char longest[66] = {0}, too_long[66] = {0}, dir[4200];
    memset(longest, 'n', 64);
    memset(too_long, 'n', 65);
    const char *bad[] = {"", too_long, "tab\there"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(dir, sizeof dir, "%s/bad-%zu", g_dir, i);
        CK_FAILS(node_store_create(dir, bad[i], &o, &err), SN_EINVAL);
        node_store *st = NULL;
        CK_FAILS(node_store_open(&st, dir, &o, &err), SN_ENOTFOUND);
    }
    file_path(dir, g_dir, "longest");
    CK_OK(node_store_create(dir, longest, &o, &err));
    node_store *st = reopen(dir, &clock);
    ck_assert_str_eq(node_store_name(st), longest);
    node_store_close(st);
}
END_TEST

START_TEST(test_hlc_never_backwards_across_restart)
{
    test_clock clock = {BASE_MS + HOUR_MS};
    char dir[4096];
    node_store *st = mk("hlc", &clock, dir);
    uint8_t p[ID_LEN];
    node_commit_info first = insert_patient(st, "Brown", p);
    ck_assert_uint_eq(CRDT_HLC_MS(first.hlc), BASE_MS + HOUR_MS);
    node_store_close(st);
    clock.ms = BASE_MS - 24 * HOUR_MS; /* the wall clock jumped a day back */
    st = reopen(dir, &clock);
    node_commit_info second = set_text(st, "patient", p, "family", "Smith");
    ck_assert_uint_eq(second.seq, first.seq + 1);
    ck_assert_msg(second.hlc > first.hlc, "hlc went backwards across a restart: %llx after %llx",
                  (unsigned long long)second.hlc, (unsigned long long)first.hlc);
    ck_assert(set_text(st, "patient", p, "family", "Jones").hlc > second.hlc);
    node_store_close(st);
}
END_TEST

/* ===== local writes ================================================================== */

START_TEST(test_local_insert_and_set_visible)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk("write", &clock, NULL);
    const crdt_origin *self = node_store_origin(st);
    node_write *w = NULL;
    schema_field f[4] = {fld("patient", "family", txt("Brown")),
                         fld("patient", "given", txt("Ann")),
                         fld("patient", "birth_date", txt("1980-02-29")),
                         fld("patient", "gender", txt("female"))};
    uint8_t p[ID_LEN];
    node_commit_info ins = {0};
    CK_OK(node_write_begin(st, "dr-ana", "clerk-bo", &w, &err));
    CK_OK(node_write_insert(w, tbl("patient"), f, 4, p, &err));
    CK_OK(node_write_commit(w, &ins, &err));
    ck_assert_uint_eq(ins.seq, 1);
    clock.ms += 10;
    node_commit_info set = set_text(st, "patient", p, "family", "Smith");
    ck_assert_uint_eq(set.seq, 2);
    ck_assert(set.hlc > ins.hlc);

    node_row *r = row_of(st, "patient", p);
    ck_assert(r->inserted && !r->retracted && memcmp(r->id, p, ID_LEN) == 0);
    ck_assert(crdt_origin_equal(&r->dot.origin, self) && r->dot.seq == 1);
    ck_assert_uint_eq(r->hlc, ins.hlc);
    ck_assert_str_eq(r->author, "dr-ana");
    ck_assert_ptr_nonnull(r->entered_by);
    ck_assert_str_eq(r->entered_by, "clerk-bo");
    const char *shown[4][2] = {
        {"family", "Smith"}, {"given", "Ann"}, {"birth_date", "1980-02-29"}, {"gender", "female"}};
    for (int i = 0; i < 4; i++)
        ck_assert_msg(is_text(&r->values[cidx("patient", shown[i][0])], shown[i][1]), "%s",
                      shown[i][0]);
    ck_assert_int_eq(r->values[cidx("patient", "phone")].kind, SCHEMA_V_NIL);
    ck_assert(!r->conflict[cidx("patient", "family")]);
    node_row_free(r);

    /* The set cell: one sibling with the set's dot; the untouched one: the insert's. */
    node_cell *c = NULL;
    CK_OK(node_store_cell_get(st, tbl("patient"), p, col("patient", "family"), &c, &err));
    ck_assert(c->known && !c->conflict);
    ck_assert_uint_eq(c->nsibs, 1);
    ck_assert(crdt_origin_equal(&c->sibs[0].dot.origin, self) && c->sibs[0].dot.seq == set.seq);
    ck_assert_uint_eq(c->sibs[0].hlc, set.hlc);
    ck_assert(is_text(&c->sibs[0].value, "Smith") && is_text(&c->winner, "Smith"));
    ck_assert_uint_eq(crdt_vv_get(&c->ctx, self), set.seq);
    node_cell_free(c);
    CK_OK(node_store_cell_get(st, tbl("patient"), p, col("patient", "given"), &c, &err));
    ck_assert(c->nsibs == 1 && c->sibs[0].dot.seq == ins.seq && is_text(&c->winner, "Ann"));
    node_cell_free(c);
    CK_OK(node_store_check(st, &err));
    node_store_close(st);
}
END_TEST

/* Bad input: each case makes `npre` valid changes, then one bad one. */
typedef struct bad_fx {
    uint8_t patient[ID_LEN], ident[ID_LEN], nowhere[ID_LEN];
} bad_fx;

static const struct {
    const char *name;
    int want;
    size_t npre;
} bad_cases[] = {
    {"set on a fixed column", SN_EINVAL, 0},
    {"set on an unknown row", SN_ENOTFOUND, 0},
    {"encounter of an unknown patient", SN_ENOTFOUND, 0},
    {"insert with birth date 1990-02-30", SN_EINVAL, 0},
    {"set birth date 1990-02-30", SN_EINVAL, 0},
    {"patient without family", SN_EINVAL, 0},
    {"gender 'x'", SN_EINVAL, 0},
    {"insert with gender 'x'", SN_EINVAL, 0},
    {"two changes to one cell", SN_EINVAL, 1},
    {"an integer into a text column", SN_EINVAL, 0},
    {"a required column set to nil", SN_EINVAL, 0},
    {"unknown column", SN_EINVAL, 0},
    {"unknown table", SN_EINVAL, 0},
};
#define NBAD ((int)(sizeof bad_cases / sizeof bad_cases[0]))

static int set_val(node_write *w, const char *t, const uint8_t *row, const char *c,
                   schema_value v, sn_err *err)
{
    return node_write_set(w, tbl(t), row, col(t, c), &v, err);
}

/* An insert of (c1, v1) and, when c2 is not NULL, (c2, v2) into patient. */
static int ins_patient(node_write *w, const char *c1, schema_value v1, const char *c2,
                       schema_value v2, sn_err *err)
{
    schema_field f[2] = {fld("patient", c1, v1), c2 != NULL ? fld("patient", c2, v2) : f[0]};
    uint8_t id[ID_LEN];
    return node_write_insert(w, tbl("patient"), f, c2 != NULL ? 2 : 1, id, err);
}

static int bad_run(int k, node_write *w, const bad_fx *fx, sn_err *err)
{
    schema_value v = txt("x");
    uint8_t id[ID_LEN];
    schema_field enc[2] = {fld("encounter", "patient_id", schema_value_id(fx->nowhere)),
                           fld("encounter", "start", txt("2024-03-01T09:30"))};
    switch (k) {
    case 0: return set_val(w, "patient_identifier", fx->ident, "system", v, err);
    case 1: return set_val(w, "patient", fx->nowhere, "family", txt("X"), err);
    case 2: return node_write_insert(w, tbl("encounter"), enc, 2, id, err);
    case 3: return ins_patient(w, "family", txt("Doe"), "birth_date", txt("1990-02-30"), err);
    case 4: return set_val(w, "patient", fx->patient, "birth_date", txt("1990-02-30"), err);
    case 5: return ins_patient(w, "given", txt("Ann"), NULL, v, err);
    case 6: return set_val(w, "patient", fx->patient, "gender", v, err);
    case 7: return ins_patient(w, "family", txt("Doe"), "gender", v, err);
    case 8:
        ck_assert_int_eq(set_val(w, "patient", fx->patient, "family", txt("First"), err), 0);
        return set_val(w, "patient", fx->patient, "family", txt("Second"), err);
    case 9: return set_val(w, "patient", fx->patient, "family", schema_value_int(5), err);
    case 10: return set_val(w, "patient", fx->patient, "family", schema_value_nil(), err);
    case 11: return node_write_set(w, tbl("patient"), fx->patient, 200, &v, err);
    default: return node_write_insert(w, 200, enc, 1, id, err);
    }
}

/* _i = 2 * case + mode. Mode 0: the write goes on with a valid change and commits; mode 1:
 * it is aborted. Either way the bad change leaves no trace. */
START_TEST(test_bad_input_leaves_store_unchanged)
{
    int k = _i / 2;
    const char *name = bad_cases[k].name;
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk("bad", &clock, NULL);
    bad_fx fx;
    insert_patient(st, "Brown", fx.patient);
    schema_field f[3] = {fld("patient_identifier", "patient_id", schema_value_id(fx.patient)),
                         fld("patient_identifier", "system", txt("hospital")),
                         fld("patient_identifier", "value", txt("H123"))};
    insert_row(st, "patient_identifier", f, 3, fx.ident);
    memset(fx.nowhere, 0x5a, sizeof fx.nowhere);
    snap before = snap_take(st);

    node_write *w = NULL;
    CK_OK(node_write_begin(st, "dr-bad", NULL, &w, &err));
    sn_err_clear(&err);
    int rc = bad_run(k, w, &fx, &err);
    ck_assert_msg(rc == bad_cases[k].want && err.msg[0] != '\0', "%s: got %s (%s), want %s",
                  name, sn_err_name(rc), err.msg, sn_err_name(bad_cases[k].want));
    snap_expect(st, &before, name);
    if (_i % 2 == 1) {
        node_write_abort(w);
        snap_expect(st, &before, name);
        node_store_close(st);
        return;
    }
    node_commit_info info = {0};
    CK_OK(set_val(w, "patient", fx.patient, "given", txt("Valid"), &err));
    CK_OK(node_write_commit(w, &info, &err));
    ck_assert_uint_eq(info.seq, before.counts.commits + 1);
    blist l = {0}; /* the new commit, the last exported, holds the valid changes only */
    CK_OK(node_store_export(st, NULL, blist_emit, &l, &err));
    schema_commit *c = NULL;
    CK_OK(schema_commit_decode(l.v[l.n - 1].p, l.v[l.n - 1].n, &c, &err));
    ck_assert_msg(c->seq == info.seq && c->nchanges == bad_cases[k].npre + 1,
                  "%s: the commit holds %zu changes", name, c->nchanges);
    ck_assert(c->changes[c->nchanges - 1].op == SCHEMA_OP_SET &&
              c->changes[c->nchanges - 1].col == col("patient", "given"));
    schema_commit_free(c);
    blist_free(&l);
    node_row *r = row_of(st, "patient", fx.patient);
    ck_assert(is_text(&r->values[cidx("patient", "given")], "Valid"));
    node_row_free(r);
    CK_OK(node_store_check(st, &err));
    node_store_close(st);
}
END_TEST

/* ===== batches ======================================================================= */

/* n patient inserts, one commit each, with seqs after+1 ... after+n. */
static void insert_many(node_store *st, size_t n, uint8_t (*ids)[ID_LEN], uint64_t after)
{
    for (size_t i = 0; i < n; i++) {
        char family[32];
        snprintf(family, sizeof family, "P%03zu", i);
        ck_assert_uint_eq(insert_patient(st, family, ids[i]).seq, after + i + 1);
    }
}

static void expect_rows(node_store *st, size_t n, uint8_t (*ids)[ID_LEN], bool present)
{
    for (size_t i = 0; i < n; i++)
        expect_row(st, ids[i], present, "batch row");
}

START_TEST(test_batch_commits_all)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096];
    node_store *st = mk("batch", &clock, dir);
    uint8_t ids[100][ID_LEN];
    CK_OK(node_store_batch_begin(st, &err));
    CK_FAILS(node_store_batch_begin(st, &err), SN_EINVAL); /* one at a time */
    insert_many(st, 100, ids, 0);
    CK_OK(node_store_batch_commit(st, &err));
    CK_FAILS(node_store_batch_commit(st, &err), SN_EINVAL);
    for (int pass = 0; pass < 2; pass++) {
        ck_assert_uint_eq(counts(st).commits, 100);
        expect_rows(st, 100, ids, true);
        CK_OK(node_store_check(st, &err));
        node_store_close(st);
        st = pass == 0 ? reopen(dir, &clock) : NULL;
    }
}
END_TEST

/* In a batch, between good commits, one commit fails: n = -1 is a commit too big for one
 * body; n >= 0 fails its n-th allocation (SQLite's included), for n = 0, 1, ... until one
 * fires no fault. Every other commit survives, the next one takes the following seq (no
 * gap), the batch commits and the store passes its check. */
START_TEST(test_batch_failing_commit_rolled_back_alone_or_batch_lost)
{
    test_clock clock = {BASE_MS};
    for (long n = -1;; n++) {
        sn_err err = SN_ERR_INIT, berr = SN_ERR_INIT, cerr = SN_ERR_INIT;
        node_store *st = mk("batchfail", &clock, NULL);
        uint8_t ids[4][ID_LEN], lost[ID_LEN];
        insert_many(st, 1, ids, 0);
        CK_OK(node_store_batch_begin(st, &err));
        insert_many(st, 2, ids + 1, 1);
        size_t len = n < 0 ? SCHEMA_COMMIT_MAX + 16 : 6;
        char *family = calloc(1, len + 1);
        ck_assert_ptr_nonnull(family);
        memset(family, 'a', len);
        schema_field f = fld("patient", "family", txt(family));
        node_write *w = NULL;
        CK_OK(node_write_begin(st, "dr-batch", NULL, &w, &err));
        CK_OK(node_write_insert(w, tbl("patient"), &f, 1, lost, &err));
        sn_err_clear(&err);
        if (n >= 0)
            sn_fault_arm(SN_FAULT_ALLOC, n, 1);
        int rc = node_write_commit(w, NULL, &err);
        bool fired = n < 0 || sn_fault_disarm();
        free(family);
        if (!fired) {
            ck_assert_msg(rc == 0 && n > 0, "n=%ld: %s", n, err.msg);
            node_store_close(st);
            break;
        }
        ck_assert_msg(n < 0 ? rc == SN_ETOOBIG : rc == 0 || rc == SN_ENOMEM, "n=%ld: %s (%s)",
                      n, sn_err_name(rc), err.msg);
        ck_assert_msg(rc == 0 || err.msg[0] != '\0', "n=%ld: no message", n);
        uint64_t kept = counts(st).commits, want = rc == 0 ? 4 : 3;
        if (rc != 0 && kept == 1) {
            /* SQLite abandoned the whole transaction: the batch is lost, and says so to every
             * later write and to batch_commit; nothing of it leaks out, and after an abort
             * the node writes on from its last durable commit. */
            node_write *w2 = NULL;
            CK_OK(node_write_begin(st, "dr-batch", NULL, &w2, &err));
            schema_field f2 = fld("patient", "family", txt("Lost"));
            CK_OK(node_write_insert(w2, tbl("patient"), &f2, 1, lost, &err));
            sn_err_clear(&err);
            ck_assert_int_eq(node_write_commit(w2, NULL, &err), SN_EIO);
            ck_assert_msg(strstr(err.msg, "rolled back") != NULL, "n=%ld: %s", n, err.msg);
            ck_assert_int_eq(node_store_batch_commit(st, &berr), SN_EIO);
            ck_assert_uint_eq(counts(st).commits, 1);
            CK_OK(node_store_check(st, &cerr));
            ck_assert_uint_eq(insert_patient(st, "After", ids[3]).seq, 2);
            node_store_close(st);
            continue;
        }
        uint64_t next = insert_patient(st, "After", ids[3]).seq;
        int brc = node_store_batch_commit(st, &berr), crc = node_store_check(st, &cerr);
        if (kept == want && brc == 0) {
            expect_rows(st, 4, ids, true);
            expect_row(st, lost, rc == 0, "the failed commit's row");
        }
        node_store_close(st);
        ck_assert_msg(kept == want && next == want + 1 && brc == 0 && crc == 0,
                      "n=%ld, the commit failed with %s (%s); then the batch held %llu commits "
                      "(want %llu), the next commit got seq %llu (want %llu), batch_commit "
                      "gave %s (%s), check gave %s (%s)",
                      n, sn_err_name(rc), err.msg, (unsigned long long)kept,
                      (unsigned long long)want, (unsigned long long)next,
                      (unsigned long long)want + 1, sn_err_name(brc), berr.msg, sn_err_name(crc),
                      cerr.msg);
    }
}
END_TEST

START_TEST(test_batch_abort_discards_all)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk("abort", &clock, NULL);
    uint8_t ids[12][ID_LEN];
    insert_many(st, 2, ids, 0);
    snap before = snap_take(st);
    CK_OK(node_store_batch_begin(st, &err));
    insert_many(st, 10, ids + 2, 2);
    node_store_batch_abort(st);
    snap_expect(st, &before, "after batch_abort");
    expect_rows(st, 10, ids + 2, false);
    expect_rows(st, 2, ids, true);
    CK_FAILS(node_store_batch_commit(st, &err), SN_EINVAL);
    ck_assert_uint_eq(set_text(st, "patient", ids[0], "family", "After").seq, 3);
    CK_OK(node_store_check(st, &err));
    node_store_close(st);
}
END_TEST

/* ===== row reads ===================================================================== */

START_TEST(test_retraction_and_its_undoing)
{
    test_clock clock = {BASE_MS};
    node_store *st = mk("retract", &clock, NULL);
    uint8_t p[ID_LEN], al[ID_LEN], r1[ID_LEN], r2[ID_LEN], r3[ID_LEN];
    insert_patient(st, "Brown", p);
    schema_field f[2] = {fld("allergy", "patient_id", schema_value_id(p)),
                         fld("allergy", "code", txt("372687004"))};
    insert_row(st, "allergy", f, 2, al);
    ck_assert(!retracted(st, "allergy", al));
    retract(st, al, r1);
    ck_assert(retracted(st, "allergy", al));
    ck_assert(!retracted(st, "patient", p) && !retracted(st, "retraction", r1));
    retract(st, r1, r2); /* the retraction was itself an error */
    ck_assert(retracted(st, "retraction", r1));
    ck_assert_msg(!retracted(st, "allergy", al), "still retracted after its retraction was");
    retract(st, r2, r3); /* and so was that */
    ck_assert(retracted(st, "allergy", al) && !retracted(st, "retraction", r1));
    node_row *r = row_of(st, "allergy", al); /* still there, values and all */
    ck_assert(r->inserted && is_text(&r->values[cidx("allergy", "code")], "372687004"));
    node_row_free(r);
    node_store_close(st);
}
END_TEST

typedef struct id_list {
    uint8_t ids[8][ID_LEN];
    size_t n;
} id_list;

static int collect_id(void *ctx, const node_row *r, sn_err *err)
{
    (void)err;
    id_list *l = ctx;
    ck_assert(l->n < 8);
    memcpy(l->ids[l->n++], r->id, ID_LEN);
    return 0;
}

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, ID_LEN); }

/* The rows listed with column `filter_col` = `v` are exactly want[0..n) in id order. */
static void expect_listed(node_store *st, uint16_t filter_col, const uint8_t *v,
                          uint8_t (*want)[ID_LEN], size_t n)
{
    sn_err err = SN_ERR_INIT;
    id_list l = {.n = 0};
    schema_value fv = v != NULL ? schema_value_id(v) : schema_value_nil();
    CK_OK(node_store_rows_each(st, tbl("patient_identifier"), filter_col, &fv, collect_id, &l,
                               &err));
    ck_assert_uint_eq(l.n, n);
    qsort(want, n, ID_LEN, id_cmp);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(l.ids[i], want[i], ID_LEN) == 0, "row %zu out of id order", i);
}

START_TEST(test_rows_each_filter_in_id_order)
{
    test_clock clock = {BASE_MS};
    node_store *st = mk("rows", &clock, NULL);
    uint8_t p[3][ID_LEN], idn[5][ID_LEN], of1[3][ID_LEN], of2[2][ID_LEN];
    for (int i = 0; i < 3; i++)
        insert_patient(st, "Patient", p[i]);
    for (int i = 0; i < 5; i++) { /* p[0] holds identifiers 0, 2, 4; p[1] holds 1, 3 */
        char value[16];
        snprintf(value, sizeof value, "H%d", i);
        schema_field f[3] = {fld("patient_identifier", "patient_id", schema_value_id(p[i % 2])),
                             fld("patient_identifier", "system", txt("hosp")),
                             fld("patient_identifier", "value", txt(value))};
        clock.ms = BASE_MS + 100 - 10 * (uint64_t)i; /* ids (time ordered) run backwards */
        insert_row(st, "patient_identifier", f, 3, idn[i]);
        memcpy(i % 2 == 0 ? of1[i / 2] : of2[i / 2], idn[i], ID_LEN);
    }
    uint16_t pc = col("patient_identifier", "patient_id");
    expect_listed(st, pc, p[0], of1, 3);
    expect_listed(st, pc, p[1], of2, 2);
    expect_listed(st, pc, p[2], of2, 0);
    expect_listed(st, 0, NULL, idn, 5);
    node_store_close(st);
}
END_TEST

START_TEST(test_row_table_finds_the_table)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    node_store *st = mk("rowtable", &clock, NULL);
    uint8_t p[ID_LEN], enc[ID_LEN], ret[ID_LEN], none[ID_LEN];
    insert_patient(st, "Brown", p);
    schema_field f[2] = {fld("encounter", "patient_id", schema_value_id(p)),
                         fld("encounter", "start", txt("2024-03-01T09:30Z"))};
    insert_row(st, "encounter", f, 2, enc);
    retract(st, enc, ret);
    const uint8_t *ids[3] = {p, enc, ret};
    const char *names[3] = {"patient", "encounter", "retraction"};
    for (size_t i = 0; i < 3; i++) {
        uint16_t t = 0;
        CK_OK(node_store_row_table(st, ids[i], &t, &err));
        ck_assert_msg(t == tbl(names[i]), "row of %s found in table %u", names[i], t);
    }
    memset(none, 0x77, sizeof none);
    uint16_t t = 0;
    CK_FAILS(node_store_row_table(st, none, &t, &err), SN_ENOTFOUND);
    expect_row(st, enc, false, "an encounter read as a patient");
    node_store_close(st);
}
END_TEST

static void link_patients(node_store *st, const uint8_t *a, const uint8_t *b, uint8_t id[ID_LEN])
{
    schema_field f[3] = {fld("patient_link", "patient_id", schema_value_id(a)),
                         fld("patient_link", "other_id", schema_value_id(b)),
                         fld("patient_link", "reason", txt("same person"))};
    insert_row(st, "patient_link", f, 3, id);
}

static void expect_canonical(node_store *st, const uint8_t *p, const uint8_t *want,
                             const char *what)
{
    sn_err err = SN_ERR_INIT;
    uint8_t out[ID_LEN];
    char a[33], b[33];
    CK_OK(node_store_patient_canonical(st, p, out, &err));
    schema_id_format(a, out);
    schema_id_format(b, want);
    ck_assert_msg(memcmp(out, want, ID_LEN) == 0, "%s: canonical %s, want %s", what, a, b);
}

static const uint8_t *min_id(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, ID_LEN) <= 0 ? a : b;
}

START_TEST(test_patient_links_canonical_id)
{
    test_clock clock = {BASE_MS + 2000};
    node_store *st = mk("links", &clock, NULL);
    uint8_t a[ID_LEN], b[ID_LEN], c[ID_LEN], ab[ID_LEN], bc[ID_LEN], r[ID_LEN], rr[ID_LEN];
    insert_patient(st, "A", a);
    clock.ms -= 1000; /* ids are time ordered: B's is the smallest */
    insert_patient(st, "B", b);
    clock.ms += 5000;
    insert_patient(st, "C", c);
    expect_canonical(st, c, c, "C unlinked");
    link_patients(st, a, b, ab);
    link_patients(st, c, b, bc); /* the other way round: links are undirected */
    const uint8_t *all = min_id(min_id(a, b), c);
    expect_canonical(st, a, all, "A");
    expect_canonical(st, b, all, "B");
    expect_canonical(st, c, all, "C");
    retract(st, bc, r); /* unmerge C */
    expect_canonical(st, c, c, "C after unlinking");
    expect_canonical(st, a, min_id(a, b), "A after unlinking C");
    expect_canonical(st, b, min_id(a, b), "B after unlinking C");
    retract(st, r, rr); /* the unmerge was wrong */
    expect_canonical(st, c, all, "C linked again");
    node_store_close(st);
}
END_TEST

/* ===== digest ======================================================================== */

static void expect_digests(node_store *a, node_store *b, bool equal, const char *what)
{
    uint8_t da[16], db[16];
    digest(a, da);
    digest(b, db);
    ck_assert_msg((memcmp(da, db, 16) == 0) == equal, "%s", what);
}

START_TEST(test_digest_reads_state)
{
    test_clock ca = {BASE_MS}, cb = {BASE_MS + 5000};
    node_store *a = mk("da", &ca, NULL), *b = mk("db", &cb, NULL);
    uint8_t p[ID_LEN];
    expect_digests(a, b, true, "two empty stores differ");
    insert_patient(a, "Brown", p);
    set_text(a, "patient", p, "given", "Ann");
    expect_digests(a, b, false, "writes left the digest as it was");
    send(a, b);
    expect_digests(a, b, true, "same commits, different digests");
    set_text(a, "patient", p, "given", "Anne");
    expect_digests(a, b, false, "one more write left the digest as it was");
    send(a, b);
    expect_digests(a, b, true, "same commits, different digests");
    node_store_close(a);
    node_store_close(b);
}
END_TEST

/* ===== suite ========================================================================= */

static TCase *tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_unchecked_fixture(tc, dir_setup, dir_teardown);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return tc;
}

Suite *node_store_suite(void)
{
    Suite *s = suite_create("node_store_suite");
    TCase *tc = tcase(s, "identity");
    tcase_add_test(tc, test_create_makes_private_files_with_keys);
    tcase_add_test(tc, test_create_on_existing_store_refused_intact);
    tcase_add_test(tc, test_create_refused_by_key_file_keeps_it);
    tcase_add_test(tc, test_open_without_store_not_found_with_hint);
    tcase_add_test(tc, test_bad_names_refused);
    tcase_add_test(tc, test_hlc_never_backwards_across_restart);
    tc = tcase(s, "local_writes");
    tcase_add_test(tc, test_local_insert_and_set_visible);
    tcase_add_loop_test(tc, test_bad_input_leaves_store_unchanged, 0, 2 * NBAD);
    tc = tcase(s, "batch");
    tcase_add_test(tc, test_batch_commits_all);
    tcase_add_test(tc, test_batch_failing_commit_rolled_back_alone_or_batch_lost);
    tcase_add_test(tc, test_batch_abort_discards_all);
    tc = tcase(s, "row_reads");
    tcase_add_test(tc, test_retraction_and_its_undoing);
    tcase_add_test(tc, test_rows_each_filter_in_id_order);
    tcase_add_test(tc, test_row_table_finds_the_table);
    tcase_add_test(tc, test_patient_links_canonical_id);
    tc = tcase(s, "digest");
    tcase_add_test(tc, test_digest_reads_state);
    return s;
}
