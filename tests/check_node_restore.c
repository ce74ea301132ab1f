/* tests/check_node_restore.c - backup, restore and clone detection (node/store_epoch.c,
 * node/store_backup.c): a store restored, copied or started on another machine takes a
 * new epoch before it writes, so no (origin, seq) is ever signed twice; a plain reopen
 * keeps its epoch; a store from before the token is adopted; the old epoch's later
 * commits come back from peers and every store converges; backup and restore refuse what
 * they must (an existing file, a directory holding a store, a damaged backup, missing
 * keys) and leave things as they were. The shared fixture is node_fixture.h; its stores
 * keep their instance tokens in the test case's directory. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hash.h"
#include "base/log.h"
#include "node/audit.h"
#include "node/store.h"
#include "tests/node_fixture.h"
#include "tests/support.h"

Suite *node_restore_suite(void);

/* The most a copy's epoch may jump past the highest it knows (store_epoch.c). */
#define JUMP_MAX (2u + 65535u)

/* ---- helpers ------------------------------------------------------------------------- */

/* The warnings of a new epoch are expected here; keep the test output quiet. */
static void quiet(void) { sn_log_set_level(SN_LOG_ERROR); }
static void loud(void) { sn_log_set_level(SN_LOG_WARN); }

static node_store *open_as(const char *dir, test_clock *clock, const char *machine)
{
    sn_err err = SN_ERR_INIT;
    node_open_opts o = OPTS(clock);
    o.machine_id = machine;
    node_store *st = NULL;
    CK_OK(node_store_open(&st, dir, &o, &err));
    return st;
}

static uint32_t epoch_of(node_store *st) { return node_store_origin(st)->epoch; }

static void file_copy(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    ck_assert_msg(in != NULL && out != NULL, "copy %s -> %s", from, to);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ck_assert(fwrite(buf, 1, n, out) == n);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert(fputs(text, f) >= 0);
    ck_assert_int_eq(fclose(f), 0);
}

static bool exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static void sub(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, 4096, "%s/%s", dir, name);
    ck_assert(n > 0 && n < 4096);
}

/* Move a closed store's database out of its directory (keys stay), as a user replacing a
 * damaged store would. */
static void move_aside(const char *dir, const char *to_name)
{
    char from[4096], to[4096];
    sub(from, dir, "store.db");
    path_in(to, to_name);
    ck_assert_msg(rename(from, to) == 0, "rename %s: %s", from, strerror(errno));
    sub(from, dir, "store.db-wal");
    ck_assert_msg(!exists(from), "a closed store left its WAL");
}

/* The token file of the store in `dir` (format of store_epoch.c), in g_dir. */
static void token_path(node_store *st, const char *dir, char out[4096])
{
    char real[PATH_MAX], hex[33];
    ck_assert(realpath(dir, real) != NULL);
    sn_blake2b_state h;
    uint8_t name[16];
    sn_blake2b_init(&h, 16);
    sn_blake2b_update(&h, node_store_origin(st)->replica, 16);
    sn_blake2b_update(&h, real, strlen(real));
    sn_blake2b_final(&h, name, 16);
    sn_hex(hex, name, 16);
    snprintf(out, 4096, "%s/%s.token", g_dir, hex);
}

/* The instance line of a token. */
static void token_instance(const char *path, char out[64])
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "no token %s", path);
    char line[256];
    out[0] = '\0';
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "instance ", 9) == 0)
            ck_assert(snprintf(out, 64, "%s", line + 9) < 64);
    fclose(f);
    ck_assert_msg(out[0] != '\0', "token %s has no instance line", path);
}

/* No two different bodies among a's and b's commits share one (origin, seq). */
static void expect_no_reuse(node_store *a, node_store *b)
{
    sn_err err = SN_ERR_INIT;
    blist l = {0};
    CK_OK(node_store_export(a, NULL, blist_emit, &l, &err));
    CK_OK(node_store_export(b, NULL, blist_emit, &l, &err));
    for (size_t i = 0; i < l.n; i++) {
        crdt_origin oi, oj;
        uint64_t si, sj;
        peek(&l.v[i], &oi, &si);
        for (size_t j = i + 1; j < l.n; j++) {
            peek(&l.v[j], &oj, &sj);
            ck_assert_msg(!(si == sj && crdt_origin_equal(&oi, &oj)) ||
                              (l.v[i].n == l.v[j].n && memcmp(l.v[i].p, l.v[j].p, l.v[i].n) == 0),
                          "two different commits signed as (epoch %u, seq %llu)", oi.epoch,
                          (unsigned long long)si);
        }
    }
    blist_free(&l);
}

static void expect_converged(node_store *a, node_store *b, const char *what)
{
    deliver(a, b);
    deliver(b, a);
    expect_digests(a, b, true, what);
    crdt_vv ha = held_of(a), hb = held_of(b);
    ck_assert_msg(crdt_vv_equal(&ha, &hb), "%s: held vectors differ", what);
    crdt_vv_free(&ha);
    crdt_vv_free(&hb);
    ck_assert_uint_eq(counts(a).waiting + counts(b).waiting, 0);
    expect_no_reuse(a, b);
}

typedef struct found {
    const char *want;
    int n;
} found;

static int find_detail(void *ctx, const node_audit_event *ev, sn_err *err)
{
    (void)err;
    found *f = ctx;
    f->n += strstr(ev->detail, f->want) != NULL;
    return 0;
}

static int audit_count(node_store *st, const char *want)
{
    sn_err err = SN_ERR_INIT;
    found f = {.want = want};
    CK_OK(node_audit_each(st, NULL, NULL, find_detail, &f, &err));
    return f.n;
}

/* ---- restore in place ------------------------------------------------------------------- */

/* A's disk fails after B received all of A's commits; A is restored in place from an older
 * backup: epoch 2, its next commit is seq 1 of epoch 2, B sends back A's later epoch-1
 * commits, and A and B converge. Restoring the same backup again takes epoch 3. */
START_TEST(test_restore_in_place_takes_next_epoch)
{
    sn_err err = SN_ERR_INIT;
    test_clock ca = {BASE_MS}, cb = {BASE_MS + 7};
    char dir[4096], backup[4096];
    node_store *a = mk_tracked("a", &ca, dir), *b = mk_tracked("b", &cb, NULL);
    crdt_origin a1 = *node_store_origin(a);
    ck_assert_uint_eq(a1.epoch, 1);
    uint8_t p[ID_LEN], q[ID_LEN];
    insert_patient(a, "Ahmed", p);
    set_text(a, p, "given", "Ali");
    path_in(backup, "restore_in_place_takes_next_epoch.backup");
    CK_OK(node_store_backup(a, backup, false, &err));
    struct stat sb;
    ck_assert_int_eq(stat(backup, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0600);
    /* After the backup: three more commits, which B receives, then the disk fails. */
    set_text(a, p, "family", "Ahmad");
    insert_patient(a, "Brown", q);
    ck_assert_uint_eq(set_text(a, q, "given", "Bea").seq, 5);
    deliver(a, b);
    char name[80];
    snprintf(name, sizeof name, "%s", node_store_name(a));
    close_tracked(a);
    move_aside(dir, "damaged.db");

    node_restore_info info;
    CK_OK(node_store_restore(backup, dir, NULL, &info, &err));
    ck_assert(crdt_origin_equal(&info.origin, &a1));
    ck_assert_str_eq(info.name, name);
    ca.ms += 1000;
    quiet();
    node_store *r = reopen_tracked(dir, &ca);
    loud();
    const crdt_origin *o = node_store_origin(r);
    ck_assert_uint_eq(o->epoch, 2);
    ck_assert_mem_eq(o->replica, a1.replica, CRDT_REPLICA_LEN);
    crdt_vv held = held_of(r);
    ck_assert_uint_eq(crdt_vv_get(&held, &a1), 2); /* what the backup held */
    ck_assert_uint_eq(crdt_vv_get(&held, o), 0);
    crdt_vv_free(&held);
    ck_assert_int_eq(audit_count(r, "took epoch 2, was 1"), 1);
    CK_OK(node_store_check(r, &err));

    /* Its next commit is seq 1 of epoch 2: (replica, 1, 3..5) stay A's old commits. */
    node_commit_info ci = set_text(r, p, "phone", "01632 960111");
    ck_assert_uint_eq(ci.seq, 1);
    /* Epoch 1 is a foreign origin now: B's copies of its seqs 3..5 are taken. */
    expect_converged(r, b, "restored A and B");
    held = held_of(r);
    ck_assert_uint_eq(crdt_vv_get(&held, &a1), 5);
    crdt_vv_free(&held);

    /* The same backup once more (the restored store failed too): epoch 3, not 2 again. */
    close_tracked(r);
    move_aside(dir, "damaged2.db");
    CK_OK(node_store_restore(backup, dir, NULL, NULL, &err));
    quiet();
    r = reopen_tracked(dir, &ca);
    loud();
    ck_assert_uint_eq(epoch_of(r), 3);
    ck_assert_uint_eq(set_text(r, p, "phone", "01632 960222").seq, 1);
    expect_converged(r, b, "restored twice");
    /* A plain reopen keeps the epoch. */
    close_tracked(r);
    r = reopen_tracked(dir, &ca);
    ck_assert_uint_eq(epoch_of(r), 3);
    ck_assert_uint_eq(set_text(r, p, "phone", "01632 960333").seq, 2);
}
END_TEST

/* Restoring into a new directory needs the node's keys: --keys copies them (0600). The
 * store there knows nothing of its original's token: its epoch jumps (store_epoch.c), and
 * the original, still running at epoch 1, and the copy converge. */
START_TEST(test_restore_elsewhere_with_keys)
{
    sn_err err = SN_ERR_INIT;
    test_clock ca = {BASE_MS}, cr = {BASE_MS + 3};
    char dir[4096], backup[4096], to[4096], keys[4096], copied[4096];
    node_store *a = mk_tracked("a", &ca, dir);
    uint8_t p[ID_LEN];
    insert_patient(a, "Ahmed", p);
    path_in(backup, "restore_elsewhere_with_keys.backup");
    CK_OK(node_store_backup(a, backup, false, &err));
    set_text(a, p, "family", "Ahmad");
    path_in(to, "elsewhere");
    sub(keys, dir, "keys");
    sub(copied, to, "keys");
    /* Without keys: refused, nothing made. */
    CK_FAILS(node_store_restore(backup, to, NULL, NULL, &err), SN_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.hint, "--keys"));
    ck_assert(!exists(to));
    CK_OK(node_store_restore(backup, to, keys, NULL, &err));
    struct stat sb;
    ck_assert_int_eq(stat(copied, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0600);
    quiet();
    node_store *r = reopen_tracked(to, &cr);
    loud();
    ck_assert_uint_ge(epoch_of(r), 3);
    ck_assert_uint_le(epoch_of(r), 1 + JUMP_MAX);
    ck_assert_uint_eq(epoch_of(a), 1);
    ck_assert_uint_eq(set_text(r, p, "given", "Ali").seq, 1);
    set_text(a, p, "given", "Alistair");
    expect_converged(a, r, "original and its restored copy");
    /* --keys where keys exist already: refused. */
    path_in(to, "third");
    ck_assert_int_eq(mkdir(to, 0700), 0);
    sub(copied, to, "keys");
    file_copy(keys, copied);
    CK_FAILS(node_store_restore(backup, to, keys, NULL, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.hint, "--keys"));
}
END_TEST

/* ---- copies and clones ---------------------------------------------------------------- */

/* A directory copied (another path, the token stays behind) takes a new epoch; the
 * original keeps its own; both write, exchange, and converge. */
START_TEST(test_copied_directory_takes_new_epoch)
{
    test_clock ca = {BASE_MS}, cc = {BASE_MS + 5};
    char dir[4096], copy[4096], from[4096], to[4096];
    node_store *a = mk_tracked("a", &ca, dir);
    uint8_t p[ID_LEN];
    insert_patient(a, "Chen", p);
    close_tracked(a);
    path_in(copy, "copy");
    ck_assert_int_eq(mkdir(copy, 0700), 0);
    static const char *const files[] = {"store.db", "keys"};
    for (size_t i = 0; i < 2; i++) {
        sub(from, dir, files[i]);
        sub(to, copy, files[i]);
        file_copy(from, to);
    }
    ck_assert_int_eq(chmod(to, 0600), 0);
    quiet();
    node_store *c = reopen_tracked(copy, &cc);
    loud();
    a = reopen_tracked(dir, &ca);
    ck_assert_uint_eq(epoch_of(a), 1);
    ck_assert_uint_ge(epoch_of(c), 3);
    ck_assert_uint_le(epoch_of(c), 1 + JUMP_MAX);
    ck_assert_uint_eq(set_text(a, p, "given", "Li").seq, 2);
    ck_assert_uint_eq(set_text(c, p, "given", "Lei").seq, 1);
    expect_converged(a, c, "original and copy");
    /* The copy, reopened, keeps its epoch. */
    uint32_t e = epoch_of(c);
    close_tracked(c);
    c = reopen_tracked(copy, &cc);
    ck_assert_uint_eq(epoch_of(c), e);
}
END_TEST

/* The same directory opened on another machine (a cloned disk, token and all) takes a new
 * epoch; that machine then keeps it; a damaged token also counts as a restore. */
START_TEST(test_other_machine_takes_new_epoch)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096], tok[4096];
    node_store *st = mk_tracked("a", &clock, dir);
    token_path(st, dir, tok);
    close_tracked(st);
    quiet();
    st = open_as(dir, &clock, "machine-one"); /* the fixture's store knew the real machine */
    loud();
    uint32_t e1 = epoch_of(st);
    ck_assert_uint_ge(e1, 3);
    node_store_close(st);
    st = open_as(dir, &clock, "machine-one");
    ck_assert_uint_eq(epoch_of(st), e1);
    node_store_close(st);
    quiet();
    st = open_as(dir, &clock, "machine-two");
    loud();
    uint32_t e2 = epoch_of(st);
    ck_assert_uint_gt(e2, e1 + 1);
    ck_assert_uint_le(e2, e1 + JUMP_MAX);
    ck_assert_int_eq(audit_count(st, "another machine"), 2);
    CK_OK(node_store_check(st, &err));
    node_store_close(st);
    st = open_as(dir, &clock, "machine-two");
    ck_assert_uint_eq(epoch_of(st), e2);
    node_store_close(st);
    write_text(tok, "outpost-token 99\n");
    quiet();
    st = open_as(dir, &clock, "machine-two");
    loud();
    ck_assert_uint_gt(epoch_of(st), e2 + 1);
    ck_assert_int_eq(audit_count(st, "damaged"), 1);
    node_store_close(st);
}
END_TEST

/* A plain reopen keeps the epoch and rotates the nonce, so a copy of the token or of the
 * store taken before the open never matches again. */
START_TEST(test_reopen_keeps_epoch_and_rotates)
{
    test_clock clock = {BASE_MS};
    char dir[4096], tok[4096], n1[64], n2[64];
    node_store *st = mk_tracked("a", &clock, dir);
    token_path(st, dir, tok);
    token_instance(tok, n1);
    struct stat sb;
    ck_assert_int_eq(stat(tok, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0600);
    close_tracked(st);
    for (int i = 0; i < 3; i++) {
        st = reopen_tracked(dir, &clock);
        ck_assert_uint_eq(epoch_of(st), 1);
        close_tracked(st);
        token_instance(tok, n2);
        ck_assert_str_ne(n1, n2);
        memcpy(n1, n2, sizeof n1);
    }
}
END_TEST

/* A store from before tokens (no nonce in its meta, no token) keeps its epoch and gets a
 * token; later opens treat it like any other. */
START_TEST(test_store_before_tokens_is_adopted)
{
    test_clock clock = {BASE_MS};
    char dir[4096], db[4096], tok[4096];
    node_store *st = mk_tracked("a", &clock, dir);
    uint8_t p[ID_LEN];
    insert_patient(st, "Old", p);
    token_path(st, dir, tok);
    close_tracked(st);
    ck_assert_int_eq(unlink(tok), 0);
    sub(db, dir, "store.db");
    sqlite3 *h = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h, "DELETE FROM meta WHERE key IN ('instance', 'machine',"
                                     " 'hardware')", NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_ge(sqlite3_changes(h), 2); /* 'hardware' too where the UUID is readable */
    ck_assert_int_eq(sqlite3_close(h), SQLITE_OK);
    st = reopen_tracked(dir, &clock);
    ck_assert_uint_eq(epoch_of(st), 1);
    ck_assert(exists(tok));
    ck_assert_uint_eq(set_text(st, p, "given", "Ada").seq, 2);
    close_tracked(st);
    st = reopen_tracked(dir, &clock);
    ck_assert_uint_eq(epoch_of(st), 1);
    ck_assert_int_eq(audit_count(st, "took epoch"), 0);
}
END_TEST

/* With no state directory in the options, $OUTPOST_STATE_DIR is used (created 0700). */
START_TEST(test_state_dir_from_environment)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096], env[4096];
    node_store *st = mk_tracked("a", &clock, dir);
    close_tracked(st);
    path_in(env, "env-state/deeper");
    const char *old = getenv("OUTPOST_STATE_DIR");
    char *saved = old != NULL ? strdup(old) : NULL;
    setenv("OUTPOST_STATE_DIR", env, 1);
    node_open_opts o = OPTS(&clock);
    o.state_dir = NULL;
    quiet();
    int rc = node_store_open(&st, dir, &o, &err); /* its token is elsewhere: a new epoch */
    loud();
    if (saved != NULL)
        setenv("OUTPOST_STATE_DIR", saved, 1);
    else
        unsetenv("OUTPOST_STATE_DIR");
    free(saved);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_uint_ge(epoch_of(st), 3);
    node_store_close(st);
    struct stat sb;
    ck_assert_int_eq(stat(env, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0700);
}
END_TEST

/* ---- refusals ------------------------------------------------------------------------- */

START_TEST(test_backup_refuses_existing_file)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char path[4096];
    node_store *st = mk_tracked("a", &clock, NULL);
    path_in(path, "precious");
    write_text(path, "not to be lost\n");
    CK_FAILS(node_store_backup(st, path, false, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_ptr_nonnull(strstr(err.hint, "--force"));
    FILE *f = fopen(path, "rb");
    char line[64] = "";
    ck_assert(fgets(line, sizeof line, f) != NULL);
    fclose(f);
    ck_assert_str_eq(line, "not to be lost\n");
    CK_OK(node_store_backup(st, path, true, &err));
    /* Into a directory that does not exist: SN_EIO naming it, nothing left. */
    path_in(path, "no-such-dir/b");
    CK_FAILS(node_store_backup(st, path, false, &err), SN_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "no-such-dir"));
    /* While a batch is open: refused. */
    path_in(path, "during-batch");
    CK_OK(node_store_batch_begin(st, &err));
    CK_FAILS(node_store_backup(st, path, false, &err), SN_EINVAL);
    node_store_batch_abort(st);
    ck_assert(!exists(path));
}
END_TEST

START_TEST(test_restore_refuses_directory_with_store)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096], backup[4096], wal[4096];
    node_store *st = mk_tracked("a", &clock, dir);
    path_in(backup, "restore_refuses_directory_with_store.backup");
    CK_OK(node_store_backup(st, backup, false, &err));
    snap before = snap_take(st);
    close_tracked(st);
    CK_FAILS(node_store_restore(backup, dir, NULL, NULL, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.hint, "aside"));
    /* A WAL left behind by a store moved aside would be replayed onto the backup. */
    move_aside(dir, "moved.db");
    sub(wal, dir, "store.db-wal");
    write_text(wal, "stale");
    CK_FAILS(node_store_restore(backup, dir, NULL, NULL, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "store.db-wal"));
    ck_assert_int_eq(unlink(wal), 0);
    char moved[4096], db[4096];
    path_in(moved, "moved.db");
    sub(db, dir, "store.db");
    ck_assert_int_eq(rename(moved, db), 0);
    st = reopen_tracked(dir, &clock);
    snap_expect(st, &before, "after refused restores");
    ck_assert_uint_eq(epoch_of(st), 1);
    snap_free(&before);
}
END_TEST

/* How many names the directory holds, to see that a refused restore left nothing. */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Garbage, a truncated backup, a database that is not a store, a backup from a newer
 * layout: each refused with a message, the target directory unchanged. */
START_TEST(test_restore_refuses_damaged_backup)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096], backup[4096], bad[4096], to[4096], keys[4096];
    node_store *st = mk_tracked("a", &clock, dir);
    uint8_t ids[40][ID_LEN];
    insert_many(st, 40, ids, 0);
    path_in(backup, "restore_refuses_damaged_backup.backup");
    CK_OK(node_store_backup(st, backup, false, &err));
    sub(keys, dir, "keys");
    path_in(to, "restore_refuses_damaged_backup.target");
    ck_assert_int_eq(mkdir(to, 0700), 0);
    path_in(bad, "restore_refuses_damaged_backup.bad");

    write_text(bad, "this is not a database, only some text of reasonable length .....\n");
    CK_FAILS(node_store_restore(bad, to, keys, NULL, &err), SN_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, bad));
    ck_assert_int_eq(entries(to), 0);

    /* The first half of a real backup. */
    struct stat sb;
    ck_assert_int_eq(stat(backup, &sb), 0);
    FILE *in = fopen(backup, "rb"), *out = fopen(bad, "wb");
    size_t half = (size_t)sb.st_size / 2;
    char *buf = malloc(half);
    ck_assert(buf != NULL && fread(buf, 1, half, in) == half && fwrite(buf, 1, half, out) == half);
    free(buf);
    fclose(in);
    fclose(out);
    CK_FAILS(node_store_restore(bad, to, keys, NULL, &err), SN_ECORRUPT);
    ck_assert_int_eq(entries(to), 0);

    /* Pages in the middle overwritten. */
    file_copy(backup, bad);
    FILE *f = fopen(bad, "r+b");
    ck_assert_int_eq(fseek(f, 4096 * 2, SEEK_SET), 0);
    for (int i = 0; i < 4096 * 4; i++)
        fputc(0xA5, f);
    fclose(f);
    CK_FAILS(node_store_restore(bad, to, keys, NULL, &err), SN_ECORRUPT);
    ck_assert_int_eq(entries(to), 0);

    /* A database, but not an Outpost store. */
    unlink(bad);
    sqlite3 *h = NULL;
    ck_assert_int_eq(sqlite3_open(bad, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h, "CREATE TABLE t(x); PRAGMA user_version=3;", NULL, NULL,
                                  NULL), SQLITE_OK);
    sqlite3_close(h);
    CK_FAILS(node_store_restore(bad, to, keys, NULL, &err), SN_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "not an Outpost store"));
    ck_assert_int_eq(entries(to), 0);

    /* From a newer Outpost. */
    file_copy(backup, bad);
    ck_assert_int_eq(sqlite3_open(bad, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h, "PRAGMA user_version=999;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    CK_FAILS(node_store_restore(bad, to, keys, NULL, &err), SN_EVERSION);
    ck_assert_int_eq(entries(to), 0);

    /* No such backup. */
    path_in(bad, "missing.backup");
    CK_FAILS(node_store_restore(bad, to, keys, NULL, &err), SN_ENOTFOUND);
    ck_assert_int_eq(entries(to), 0);

    /* And the good one works there. */
    CK_OK(node_store_restore(backup, to, keys, NULL, &err));
    ck_assert_int_eq(entries(to), 2);
    quiet();
    node_store *r = reopen_tracked(to, &clock);
    loud();
    expect_digests(st, r, true, "restored");
    CK_OK(node_store_check(r, &err));
}
END_TEST

/* A key file that others may read is refused (and not left behind). */
START_TEST(test_restore_refuses_open_key_file)
{
    sn_err err = SN_ERR_INIT;
    test_clock clock = {BASE_MS};
    char dir[4096], backup[4096], to[4096], keys[4096], dst[4096];
    node_store *st = mk_tracked("a", &clock, dir);
    path_in(backup, "restore_refuses_open_key_file.backup");
    CK_OK(node_store_backup(st, backup, false, &err));
    path_in(to, "restore_refuses_open_key_file.target");
    ck_assert_int_eq(mkdir(to, 0700), 0);
    sub(keys, to, "keys");
    sub(dst, dir, "keys");
    file_copy(dst, keys);
    ck_assert_int_eq(chmod(keys, 0644), 0);
    CK_FAILS(node_store_restore(backup, to, NULL, NULL, &err), SN_EAUTH);
    ck_assert_int_eq(entries(to), 1);
    ck_assert_int_eq(chmod(keys, 0600), 0);
    CK_OK(node_store_restore(backup, to, NULL, NULL, &err));
    ck_assert_int_eq(entries(to), 2);
}
END_TEST

Suite *node_restore_suite(void)
{
    Suite *s = suite_create("node_restore_suite");
    TCase *tc = tracked_tcase(s, "restore");
    tcase_add_test(tc, test_restore_in_place_takes_next_epoch);
    tcase_add_test(tc, test_restore_elsewhere_with_keys);
    tc = tracked_tcase(s, "clone");
    tcase_add_test(tc, test_copied_directory_takes_new_epoch);
    tcase_add_test(tc, test_other_machine_takes_new_epoch);
    tcase_add_test(tc, test_reopen_keeps_epoch_and_rotates);
    tcase_add_test(tc, test_store_before_tokens_is_adopted);
    tcase_add_test(tc, test_state_dir_from_environment);
    tc = tracked_tcase(s, "refusals");
    tcase_add_test(tc, test_backup_refuses_existing_file);
    tcase_add_test(tc, test_restore_refuses_directory_with_store);
    tcase_add_test(tc, test_restore_refuses_damaged_backup);
    tcase_add_test(tc, test_restore_refuses_open_key_file);
    return s;
}
