/* tests/node_fixture.h - the fixture shared by the node store suites (check_node_store.c,
 * check_node_read.c, check_node_apply.c, check_node_files.c): a per-test-case temporary
 * directory, fresh stores, schema look-ups, local writes, row reads, state snapshots, and
 * moving commit bodies between stores. Every helper asserts (ck_assert) instead of
 * returning an error, so a failing step fails the test where it happens. */
#ifndef SN_TESTS_NODE_FIXTURE_H
#define SN_TESTS_NODE_FIXTURE_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crdt/vv.h"
#include "node/store.h"
#include "schema/schema.h"
#include "tests/support.h"

#define BASE_MS UINT64_C(1700000000000)
#define HOUR_MS UINT64_C(3600000)
#define ID_LEN SCHEMA_ID_LEN

/* The author of every commit the write helpers below make. */
#define FX_AUTHOR "dr-fixture"

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

/* Import statistics are exactly (received, stored, duplicates, waiting, applied, unknown). */
#define ST(s, rcv, sto, dup, wai, app, unk)                                                \
    ck_assert_msg(memcmp(&(s), &(node_import_stats){rcv, sto, dup, wai, app, unk},         \
                         sizeof(s)) == 0,                                                  \
                  "stats %zu %zu %zu %zu %zu %zu, want %s", (s).received, (s).stored,      \
                  (s).duplicates, (s).waiting, (s).applied, (s).unknown,                   \
                  #rcv " " #sto " " #dup " " #wai " " #app " " #unk)

/* Open options with the fake clock `clock` and NODE_FAST durability; the instance tokens
 * (clone detection) live in the test case's directory, as for mk(). */
#define OPTS(clock)                                                                        \
    {.now_ms = test_clock_now, .now_ctx = (clock), .durability = NODE_FAST, .state_dir = g_dir}

/* ---- test cases and their directory ------------------------------------------------- */

/* The current test case's temporary directory, made by dir_setup. */
extern char *g_dir;
/* Unchecked fixture: make g_dir / remove it and everything in it (even after a failure). */
void dir_setup(void);
/* The same in memory where possible (test_tmpdir_mem): for suites of many stores. */
void dir_setup_mem(void);
void dir_teardown(void);
/* A new TCase `name` in s, with the g_dir fixture and a 60 s timeout. */
TCase *fixture_tcase(Suite *s, const char *name);
/* g_dir/name to out (4096 bytes). */
void path_in(char *out, const char *name);

/* ---- stores ----------------------------------------------------------------------------- */

/* A fresh store in its own subdirectory of g_dir (unique across fork-mode children); its
 * path to dir (4096 bytes) when dir is not NULL. */
node_store *mk(const char *name, test_clock *clock, char *dir);
/* Open the existing store in dir with the fake clock `clock`. */
node_store *reopen(const char *dir, test_clock *clock);

/* ---- schema --------------------------------------------------------------------------- */

/* The id of table `name` / of column tname.cname, which must exist. */
uint16_t tbl(const char *name);
uint16_t col(const char *tname, const char *cname);
/* The index of tname.cname in a node_row's values. */
int cidx(const char *tname, const char *cname);
/* The field tname.cname = v. */
schema_field fld(const char *tname, const char *cname, schema_value v);
/* A text value borrowing s. */
schema_value txt(const char *s);
/* v is the text s. */
bool is_text(const schema_value *v, const char *s);

/* ---- local writes --------------------------------------------------------------------- */

/* One commit inserting a `tname` row with fields f[0..n); its id to `id`. */
node_commit_info insert_row(node_store *st, const char *tname, const schema_field *f, size_t n,
                            uint8_t id[ID_LEN]);
/* One commit inserting a patient with this family name; its id to `id`. */
node_commit_info insert_patient(node_store *st, const char *family, uint8_t id[ID_LEN]);
/* n patient inserts, one commit each, asserting seqs after+1 ... after+n; ids to ids[]. */
void insert_many(node_store *st, size_t n, uint8_t (*ids)[ID_LEN], uint64_t after);
/* One commit setting patient.cname of `row` to the text `text`. */
node_commit_info set_text(node_store *st, const uint8_t *row, const char *cname,
                          const char *text);
/* One commit inserting a retraction of `target`; its id to `id` unless NULL. */
void retract(node_store *st, const uint8_t *target, uint8_t *id);

/* ---- row reads ------------------------------------------------------------------------ */

/* The `tname` row `id`, which must be found; the caller frees it with node_row_free. */
node_row *row_of(node_store *st, const char *tname, const uint8_t *id);
/* The `tname` row `id` is retracted. */
bool retracted(node_store *st, const char *tname, const uint8_t *id);
/* patient.cname of id as text ("" for nil) to out; returns whether the row is inserted. */
bool shows(node_store *st, const uint8_t *id, const char *cname, char out[64]);
/* The patient row is held (row_get succeeds) or not (SN_ENOTFOUND with a message). */
void expect_row(node_store *st, const uint8_t *id, bool present, const char *what);
/* expect_row for each of ids[0..n). */
void expect_rows(node_store *st, size_t n, uint8_t (*ids)[ID_LEN], bool present);

/* ---- state ---------------------------------------------------------------------------- */

node_counts counts(node_store *st);
void digest(node_store *st, uint8_t out[16]);
/* The digests of a and b are equal (or differ, when !equal). */
void expect_digests(node_store *a, node_store *b, bool equal, const char *what);

/* What a store holds: counts, digest and held vector. */
typedef struct snap {
    node_counts counts;
    uint8_t digest[16];
    crdt_vv held;
} snap;

/* A snapshot of st; release it with snap_free. */
snap snap_take(node_store *st);
/* st holds what it held at *s and passes its invariants (s stays usable). */
void snap_expect(node_store *st, const snap *s, const char *what);
void snap_free(snap *s);

/* ---- commit bodies -------------------------------------------------------------------- */

/* A growable list of owned copies of commit bodies; zero-initialised is empty. */
typedef struct blist {
    node_body *v;
    size_t n, cap;
} blist;

/* Append a copy of p[0..n). */
void blist_push(blist *l, const uint8_t *p, size_t n);
/* A node_store_export callback: blist_push to the blist `ctx`. Returns 0. */
int blist_emit(void *ctx, const uint8_t *p, size_t n, sn_err *err);
/* Free every body and the list; l is empty again. */
void blist_free(blist *l);

/* The vector of commits st holds; the caller frees it with crdt_vv_free. */
crdt_vv held_of(node_store *st);
/* Import v[0..n) into st, which must succeed; its statistics. */
node_import_stats import_ok(node_store *st, const node_body *v, size_t n);
/* Import into `to` everything `from` holds that `to` lacks. */
void deliver(node_store *from, node_store *to);
/* The origin and seq of body b, which must decode. */
void peek(const node_body *b, crdt_origin *o, uint64_t *seq);
/* The body of (o, seq) in l, which must be there. */
node_body body_of(const blist *l, const crdt_origin *o, uint64_t seq);

/* ---- a test's stores and body lists, released together ---------------------------------- */

typedef struct world {
    node_store *st[4];
    test_clock clock[4];
    char dir[4][4096];
    blist lists[8];
    int nst, nl;
} world;

/* Store number w->nst (at most 4): fresh, in its own directory, its fake clock at `ms`. */
node_store *add(world *w, uint64_t ms);
/* Close store i and open it again with its clock at `ms`. */
node_store *world_reopen(world *w, int i, uint64_t ms);
/* A new empty body list (at most 8), freed by world_end. */
blist *lst(world *w);
/* What st holds beyond `peer` (NULL: everything), in a list of w. */
blist *exp_list(world *w, node_store *st, const crdt_vv *peer);
/* Close every store and free every list. */
void world_end(world *w);

/* Stores b and c of w edit one patient (its id to p) concurrently (a review conflict), c
 * also inserts and retracts another; b ends holding every commit. */
void two_writers(world *w, node_store *b, node_store *c, uint8_t p[ID_LEN]);

/* ---- stores closed by the teardown, so a failing test leaks nothing under CK_FORK=no ----- */

/* mk / reopen, remembering the store (at most 8 at a time) for tracked_teardown. */
node_store *mk_tracked(const char *name, test_clock *clock, char *dir);
node_store *reopen_tracked(const char *dir, test_clock *clock);
/* Close a tracked store now and forget it; NULL is a no-op. */
void close_tracked(node_store *st);
/* Checked teardown: close every tracked store still open. */
void tracked_teardown(void);
/* fixture_tcase with tracked_teardown as its checked teardown. */
TCase *tracked_tcase(Suite *s, const char *name);

#endif
