/* node/store_epoch.c - clone and restore detection: the instance token kept outside the
 * store, the machine's fingerprint, and the new epoch that a restored, copied or cloned
 * store takes before it writes (DESIGN.md section 2, SECURITY.md "Adjustments").
 *
 * Why. An origin (replica, epoch) numbers its commits 1, 2, 3 ... and signs them. A store
 * brought back from a backup, or a copy of its directory started elsewhere (a cloned
 * disk), resumes from an older seq: its next commits would reuse (origin, seq) pairs it
 * already signed and sent, which peers rightly take for equivocation. So such a store
 * takes a new epoch first; its old epoch becomes a foreign origin like any other, whose
 * later commits (those peers received before the restore) it accepts back.
 *
 * How it is told. The database's meta holds an instance nonce ('instance', 16 random
 * bytes) and the fingerprint of the machine that last opened it ('machine', and
 * 'hardware' when known). The token file, outside the store directory, holds the nonce:
 *
 *   <state dir>/<hex of BLAKE2b-128(replica || real path of the store directory)>.token
 *
 *   # Outpost instance token: never copy or restore it together with the store
 *   outpost-token 1
 *   replica <32 hex>
 *   epoch <the highest epoch the store at this path has had>
 *   instance <32 hex>
 *   machine <32 hex>
 *   hardware <32 hex, or ->
 *
 * (unknown keys are ignored; another version line counts as a damaged token). At every
 * open, inside one write transaction, so that two processes opening at once are
 * serialised: a store with no nonce in meta (made before tokens existed) is adopted as it
 * is; otherwise a missing, damaged or different token, or another machine, means the
 * store was restored, copied, moved or cloned, and it takes a new epoch. Then, in every
 * case, the nonce is rotated: the new one is written to the token (atomically, synced),
 * then to meta, and the transaction commits; so any copy taken before this open can never
 * match the token again. `outpost backup` gives its copy a fresh nonce of its own.
 *
 * Crash safety. If the commit fails, the old token is put back. If the process dies
 * between the token write and the commit, the next open sees a token that does not match
 * and takes a needless new epoch: the safe direction (an unused epoch costs one origin
 * row; a reused seq is equivocation).
 *
 * Which epoch. base = the highest of: this replica's epochs in the origin table, the
 * current epoch, the token's epoch (which remembers epochs a backup never saw, e.g. when
 * the same backup is restored twice).
 *   - Restored in place (a valid token, the same machine, only the nonce differs): base+1.
 *   - Otherwise (no token, a damaged one, another machine): nothing here knows what other
 *     copies of this store did since they parted (a clone elsewhere may already have taken
 *     base+1), so the epoch jumps to base + 2 + a random number below 65536. Two copies
 *     that branch from one state without hearing of each other then collide with odds of
 *     1 in 65536, and never with an in-place restore of either (base+1).
 *
 * Machine fingerprint: machine = BLAKE2b-128("outpost machine v1" NUL || id), id being
 * opts.machine_id, /etc/machine-id, /var/lib/dbus/machine-id, else the host name;
 * hardware = the same over /sys/class/dmi/id/product_uuid. That file is usually readable
 * by root only, so hardware counts only when both the stored and the current value are
 * known, and a value once stored is kept while the machine-id stays the same.
 *
 * Limits. A snapshot that brings back the state directory together with the store (a
 * whole virtual machine rolled back) cannot be told here, nor a clone that kept the
 * machine-id when the product UUID is unreadable. A store directory that is moved, or
 * opened with another state directory (another user's $HOME: set OUTPOST_STATE_DIR for
 * every user of a store), takes a needless new epoch. File-level copies of a store in use
 * are told only once it was opened after the copy; back up with `outpost backup`. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hash.h"
#include "base/log.h"
#include "node/audit.h"
#include "node/fileio.h"
#include "node/store_int.h"

#define TOKEN_MAX 1024
#define TOKEN_MAGIC "outpost-token 1"
#define EPOCH_JUMP 65536u
#define MACHINE_ID_MAX 512

typedef struct fingerprint {
    uint8_t machine[16];
    bool has_hw;
    uint8_t hw[16];
} fingerprint;

typedef struct token {
    char path[PATH_MAX + 64];
    bool present; /* the file exists */
    bool valid;   /* and parses, for this replica */
    uint32_t epoch;
    uint8_t instance[16];
    char text[TOKEN_MAX]; /* as read, put back when the open fails */
    size_t len;
} token;

/* What one open found and decided. */
typedef struct epoch_ctx {
    node_store *st;
    token tok;
    fingerprint fp;
    bool has_instance, has_machine, has_hw;
    uint8_t instance[16], machine[16], hw[16]; /* as meta holds them */
    const char *why;    /* why a new epoch is taken; NULL: none */
    bool in_place;      /* restored where it was, on this machine: base + 1 suffices */
    bool token_written; /* put the old token back if the transaction fails */
} epoch_ctx;

/* ---- where the token lives ---- */

/* mkdir -p with mode 0700 for what is created. `path` is modified and restored. */
static int dir_make(char *path, sn_err *err)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return 0;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        int e = mkdir(path, 0700) == 0 ? 0 : errno;
        *p = c;
        if (e != 0 && e != EEXIST)
            return sn_err_set(err, SN_EIO, "cannot create the state directory '%s': %s", path,
                              strerror(e));
        if (c == '\0')
            break;
    }
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return sn_err_set(err, SN_EIO, "state directory '%s' is not a directory", path);
    return 0;
}

static int state_dir_get(const node_store *st, char out[PATH_MAX], sn_err *err)
{
    const char *env = getenv("OUTPOST_STATE_DIR"), *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (st->opts.state_dir != NULL)
        n = snprintf(out, PATH_MAX, "%s", st->opts.state_dir);
    else if (env != NULL && env[0] != '\0')
        n = snprintf(out, PATH_MAX, "%s", env);
    else if (xdg != NULL && xdg[0] == '/') /* a relative XDG_STATE_HOME is to be ignored */
        n = snprintf(out, PATH_MAX, "%s/outpost", xdg);
    else if (home != NULL && home[0] != '\0')
        n = snprintf(out, PATH_MAX, "%s/.local/state/outpost", home);
    else {
        sn_err_set(err, SN_ECONFIG, "no state directory for the instance token of store '%s'",
                   st->dir);
        sn_err_hint(err, "set OUTPOST_STATE_DIR (or HOME) to a directory kept apart from the "
                         "store");
        return SN_ECONFIG;
    }
    if (n <= 0 || n >= PATH_MAX - 48)
        return sn_err_set(err, SN_ECONFIG, "state directory path is empty or too long");
    return dir_make(out, err);
}

/* The token's path for `replica` and the store's directory. */
static int token_locate(const node_store *st, const uint8_t replica[16], char *path,
                        sn_err *err)
{
    char dir[PATH_MAX], real[PATH_MAX];
    int rc = state_dir_get(st, dir, err);
    if (rc != 0)
        return rc;
    if (realpath(st->dir, real) == NULL)
        return sn_err_set(err, SN_EIO, "cannot resolve the path of store '%s': %s", st->dir,
                          strerror(errno));
    sn_blake2b_state h;
    uint8_t name[16];
    char hex[33];
    sn_blake2b_init(&h, sizeof name);
    sn_blake2b_update(&h, replica, 16);
    sn_blake2b_update(&h, real, strlen(real));
    sn_blake2b_final(&h, name, sizeof name);
    sn_hex(hex, name, sizeof name);
    snprintf(path, PATH_MAX + 64, "%s/%s.token", dir, hex);
    return 0;
}

/* ---- the machine ---- */

/* The first line of a small file, trimmed; false when unreadable or empty. */
static bool line_read(const char *path, char *out, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    if (n <= 0)
        return false;
    out[n] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    size_t len = strlen(out);
    while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == '\t'))
        out[--len] = '\0';
    return len > 0;
}

static void fp_hash(uint8_t out[16], const char *domain, const char *id)
{
    sn_blake2b_state h;
    sn_blake2b_init(&h, 16);
    sn_blake2b_update(&h, domain, strlen(domain) + 1);
    sn_blake2b_update(&h, id, strlen(id));
    sn_blake2b_final(&h, out, 16);
}

static void fingerprint_read(const node_store *st, fingerprint *fp)
{
    char id[MACHINE_ID_MAX];
    *fp = (fingerprint){0};
    if (st->opts.machine_id != NULL) {
        fp_hash(fp->machine, "outpost machine v1", st->opts.machine_id);
        return;
    }
    if (!line_read("/etc/machine-id", id, sizeof id) &&
        !line_read("/var/lib/dbus/machine-id", id, sizeof id) &&
        gethostname(id, sizeof id - 1) != 0)
        snprintf(id, sizeof id, "unknown");
    id[sizeof id - 1] = '\0';
    fp_hash(fp->machine, "outpost machine v1", id);
    fp->has_hw = line_read("/sys/class/dmi/id/product_uuid", id, sizeof id);
    if (fp->has_hw)
        fp_hash(fp->hw, "outpost hardware v1", id);
}

/* ---- the token file ---- */

/* Parse t->text into t->valid, t->epoch and t->instance. */
static void token_parse(token *t, const uint8_t replica[16])
{
    bool magic = false, has_replica = false, has_epoch = false, has_instance = false;
    char buf[TOKEN_MAX];
    memcpy(buf, t->text, t->len + 1);
    for (char *line = buf, *next; line != NULL && *line != '\0'; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (!magic) {
            if (strcmp(line, TOKEN_MAGIC) != 0)
                return;
            magic = true;
            continue;
        }
        char *value = strchr(line, ' ');
        if (value == NULL)
            return;
        *value++ = '\0';
        uint8_t r[16];
        if (strcmp(line, "replica") == 0) {
            if (sn_unhex(r, 16, value) != 0 || memcmp(r, replica, 16) != 0)
                return;
            has_replica = true;
        } else if (strcmp(line, "instance") == 0) {
            if (sn_unhex(t->instance, 16, value) != 0)
                return;
            has_instance = true;
        } else if (strcmp(line, "epoch") == 0) {
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(value, &end, 10);
            if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 ||
                v > UINT32_MAX)
                return;
            t->epoch = (uint32_t)v;
            has_epoch = true;
        }
    }
    t->valid = magic && has_replica && has_epoch && has_instance;
}

static int token_read(token *t, const uint8_t replica[16], sn_err *err)
{
    t->present = t->valid = false;
    t->len = 0;
    t->text[0] = '\0';
    int fd = open(t->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return sn_err_set(err, SN_EIO, "cannot read instance token '%s': %s", t->path,
                          strerror(errno));
    }
    t->present = true;
    for (;;) {
        ssize_t n = read(fd, t->text + t->len, sizeof t->text - 1 - t->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return sn_err_set(err, SN_EIO, "cannot read instance token '%s': %s", t->path,
                              strerror(e));
        }
        if (n == 0 || (t->len += (size_t)n) == sizeof t->text - 1)
            break;
    }
    close(fd);
    t->text[t->len] = '\0';
    if (t->len < sizeof t->text - 1 && strlen(t->text) == t->len) /* else: damaged */
        token_parse(t, replica);
    return 0;
}

/* After a failed open: the token as it was (or none), so that the failure changes nothing
 * the next open sees. Best effort: if it fails, the next open takes a needless epoch. */
static void token_put_back(const token *t)
{
    if (!t->present)
        unlink(t->path);
    else if (node_file_write_atomic(t->path, (const uint8_t *)t->text, t->len, NULL) != 0)
        sn_log_warn("cannot put back instance token '%s'", t->path);
}

/* ---- meta ---- */

/* A 16-byte blob from meta; *found false when absent. */
static int meta_blob16(node_store *st, const char *key, uint8_t out[16], bool *found,
                       sn_err *err)
{
    sqlite3_stmt *s = st->stmts[ST_META_GET];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s), res = 0;
    *found = false;
    if (rc == SQLITE_ROW) {
        /* The type is checked first, so reading the blob converts nothing (no allocation). */
        if (sqlite3_column_type(s, 0) == SQLITE_BLOB && sqlite3_column_bytes(s, 0) == 16) {
            memcpy(out, sqlite3_column_blob(s, 0), 16);
            *found = true;
        } else {
            res = sn_err_set(err, SN_ECORRUPT, "store '%s': metadata '%s' is damaged", st->dir,
                             key);
        }
    } else if (rc != SQLITE_DONE) {
        res = node_store_fail(st, rc, err, "reading store metadata '%s'", key);
    }
    node_stmt_done(s);
    return res;
}

/* One integer from a query with an optional blob parameter; *v untouched when NULL. */
static int query_int(node_store *st, const char *sql, const void *blob, int64_t *v,
                     sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = node_stmt_cached(st, sql, &s);
    if (rc == SQLITE_OK && blob != NULL)
        sqlite3_bind_blob(s, 1, blob, 16, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        *v = sqlite3_column_int64(s, 0);
    node_stmt_release(st, s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return node_store_fail(st, rc, err, "reading the epochs of store '%s'", st->dir);
    return 0;
}

static int meta_epoch_put(node_store *st, uint32_t epoch, sn_err *err)
{
    sqlite3_stmt *s = st->stmts[ST_META_PUT];
    sqlite3_bind_text(s, 1, "epoch", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, epoch);
    return node_stmt_exec(st, s, err, "writing store metadata");
}

/* ---- the decision ---- */

static int db_state_read(epoch_ctx *e, sn_err *err)
{
    node_store *st = e->st;
    int64_t epoch = -1;
    int rc = query_int(st, "SELECT value FROM meta WHERE key = 'epoch'", NULL, &epoch, err);
    if (rc == 0 && epoch != st->self.epoch) {
        sn_err_set(err, SN_EBUSY, "store '%s' took a new epoch while it was being opened",
                   st->dir);
        sn_err_hint(err, "another Outpost process opened it at the same moment; retry");
        return SN_EBUSY;
    }
    if (rc == 0)
        rc = meta_blob16(st, "instance", e->instance, &e->has_instance, err);
    if (rc == 0)
        rc = meta_blob16(st, "machine", e->machine, &e->has_machine, err);
    if (rc == 0)
        rc = meta_blob16(st, "hardware", e->hw, &e->has_hw, err);
    return rc;
}

static bool machine_differs(const epoch_ctx *e)
{
    if (!e->has_machine)
        return false;
    if (memcmp(e->machine, e->fp.machine, 16) != 0)
        return true;
    return e->has_hw && e->fp.has_hw && memcmp(e->hw, e->fp.hw, 16) != 0;
}

static void verdict(epoch_ctx *e)
{
    e->why = NULL;
    e->in_place = false;
    if (!e->has_instance)
        return; /* made before tokens: adopted as it is */
    bool other_machine = machine_differs(e);
    if (!e->tok.present)
        e->why = "its instance token is missing";
    else if (!e->tok.valid)
        e->why = "its instance token is damaged";
    else if (memcmp(e->tok.instance, e->instance, 16) != 0)
        e->why = "its instance token does not match";
    if (other_machine)
        e->why = "it was last opened on another machine";
    else if (e->why != NULL)
        e->in_place = e->tok.valid;
}

/* Take the next epoch (see the top of the file) inside the open transaction. */
static int epoch_take(epoch_ctx *e, crdt_origin *neu, sn_err *err)
{
    node_store *st = e->st;
    int64_t highest = st->self.epoch;
    int rc = query_int(st, "SELECT max(epoch) FROM origin WHERE replica = ?1", st->self.replica,
                       &highest, err);
    if (rc != 0)
        return rc;
    uint64_t base = (uint64_t)highest > st->self.epoch ? (uint64_t)highest : st->self.epoch;
    if (e->tok.valid && e->tok.epoch > base)
        base = e->tok.epoch;
    uint64_t next = base + (e->in_place ? 1 : 2 + sn_random_uniform(EPOCH_JUMP));
    if (next > UINT32_MAX) {
        sn_err_set(err, SN_ETOOBIG, "store '%s' has used up the epochs of its replica id",
                   st->dir);
        sn_err_hint(err, "create a new store with `outpost init` and enrol it");
        return SN_ETOOBIG;
    }
    *neu = (crdt_origin){.epoch = (uint32_t)next};
    memcpy(neu->replica, st->self.replica, CRDT_REPLICA_LEN);
    uint32_t idx = 0;
    rc = node_origin_intern(st, neu, &idx, err);
    if (rc == 0)
        rc = meta_epoch_put(st, neu->epoch, err);
    /* The clock resumes from hlc_last and the own origin's log, which is empty now. */
    if (rc == 0)
        rc = node_store_meta_hlc_put(st, err);
    char detail[NODE_AUDIT_DETAIL_MAX + 1];
    snprintf(detail, sizeof detail, "store was restored or cloned (%s): took epoch %u, was %u",
             e->why, neu->epoch, st->self.epoch);
    if (rc == 0)
        rc = node_audit_append_in_txn(st, "outpost", "", NODE_AUDIT_ADMIN, NULL, detail, err);
    return rc;
}

/* A fresh nonce into meta and the token (written last, so that e->token_written tells
 * whether it must be put back). */
static int rotate(epoch_ctx *e, const uint8_t replica[16], uint32_t epoch, sn_err *err)
{
    node_store *st = e->st;
    uint8_t nonce[16];
    sn_random_bytes(nonce, sizeof nonce);
    int rc = node_meta_blob_put(st, "instance", nonce, 16, err);
    if (rc == 0)
        rc = node_meta_blob_put(st, "machine", e->fp.machine, 16, err);
    if (rc == 0 && e->fp.has_hw)
        rc = node_meta_blob_put(st, "hardware", e->fp.hw, 16, err);
    /* On another machine whose UUID we cannot read, the old one's would only mislead. */
    if (rc == 0 && !e->fp.has_hw && e->has_hw && memcmp(e->machine, e->fp.machine, 16) != 0) {
        int src = sqlite3_exec(st->db, "DELETE FROM meta WHERE key = 'hardware'", NULL, NULL,
                               NULL);
        if (src != SQLITE_OK)
            rc = node_store_fail(st, src, err, "writing store metadata");
    }
    if (rc != 0)
        return rc;
    if (e->tok.valid && e->tok.epoch > epoch)
        epoch = e->tok.epoch;
    char rhex[33], nhex[33], mhex[33], hhex[33] = "-", text[TOKEN_MAX];
    sn_hex(rhex, replica, 16);
    sn_hex(nhex, nonce, 16);
    sn_hex(mhex, e->fp.machine, 16);
    if (e->fp.has_hw)
        sn_hex(hhex, e->fp.hw, 16);
    int n = snprintf(text, sizeof text,
                     "# Outpost instance token: never copy or restore it together with the "
                     "store\n" TOKEN_MAGIC "\nreplica %s\nepoch %u\ninstance %s\nmachine %s\n"
                     "hardware %s\n",
                     rhex, epoch, nhex, mhex, hhex);
    e->token_written = true;
    rc = node_file_write_atomic(e->tok.path, (const uint8_t *)text, (size_t)n, err);
    if (rc != 0)
        sn_err_hint(err, "the state directory must be writable (set OUTPOST_STATE_DIR to "
                         "choose another one)");
    return rc;
}

/* ---- entry points ---- */

int node_store_epoch_init(node_store *st, const crdt_origin *self, sn_err *err)
{
    epoch_ctx e = {.st = st};
    int rc = token_locate(st, self->replica, e.tok.path, err);
    if (rc != 0)
        return rc;
    fingerprint_read(st, &e.fp);
    return rotate(&e, self->replica, self->epoch, err);
}

int node_store_epoch_check(node_store *st, sn_err *err)
{
    epoch_ctx e = {.st = st};
    int rc = token_locate(st, st->self.replica, e.tok.path, err);
    if (rc != 0)
        return rc;
    fingerprint_read(st, &e.fp);
    rc = node_txn_begin(st, err);
    if (rc != 0)
        return rc;
    /* Read inside the transaction: another process may be opening this store too. */
    rc = db_state_read(&e, err);
    if (rc == 0)
        rc = token_read(&e.tok, st->self.replica, err);
    crdt_origin neu = st->self;
    if (rc == 0) {
        verdict(&e);
        if (e.why != NULL)
            rc = epoch_take(&e, &neu, err);
    }
    if (rc == 0)
        rc = rotate(&e, st->self.replica, neu.epoch, err);
    rc = node_txn_end(st, rc, err);
    if (rc != 0) {
        if (e.token_written)
            token_put_back(&e.tok);
        return rc;
    }
    if (e.why == NULL)
        return 0;
    sn_log_warn("store '%s' was restored or cloned (%s): taking epoch %u (was %u)", st->dir,
                e.why, neu.epoch, st->self.epoch);
    st->self = neu;
    return node_origins_reload(st, err);
}
