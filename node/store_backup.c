/* node/store_backup.c - backup and restore of a store: an online, consistent copy through
 * SQLite's backup API, and bringing a copy back into a store directory, checked first.
 * Both give the copy a fresh instance nonce that matches no token, so a store brought back
 * from it takes a new epoch at its first open (node/store_epoch.c explains why and how).
 * The `keys` file is never part of a backup: secret keys are not copied around. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "node/keyfile.h"
#include "node/store_int.h"
#include "sync/crypto.h"

#define STORE_DB "store.db"

/* SQLite failures on a connection of our own (the copy), in node_store_fail's terms. */
static int copy_fail(sqlite3 *db, int rc, sn_err *err, const char *what, const char *path)
{
    node_store shadow = {.db = db}; /* node_store_fail reads only the connection */
    rc = node_store_fail(&shadow, rc, err, "%s '%s'", what, path);
    if (rc == SN_EIO)
        sn_err_hint(err, "check that the disk is not full and the directory of '%s' is "
                         "writable", path);
    return rc;
}

/* The copy's files: the database and what SQLite may have made next to it. */
static void copy_remove(const char *path)
{
    static const char *const suffix[] = {"", "-journal", "-wal", "-shm"};
    char p[PATH_MAX + 64];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}

/* fsync the directory holding `path`, so a rename into it is durable. Best effort. */
static void dir_sync(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static int fd_sync(int fd, const char *path, sn_err *err)
{
    if (SN_FAULT(SN_FP_FILE_SYNC) || fsync(fd) != 0)
        return sn_err_set(err, SN_EIO, "cannot sync '%s': %s", path, strerror(errno));
    return 0;
}

/* A new temporary file `<base>.<tag>-XXXXXX`, mode 0600: its name to tmp, *fd open. */
static int temp_make(const char *base, const char *tag, char tmp[PATH_MAX + 32], int *fd,
                     sn_err *err)
{
    *fd = -1;
    if ((size_t)snprintf(tmp, PATH_MAX + 32, "%s.%s-XXXXXX", base, tag) >= PATH_MAX)
        return sn_err_set(err, SN_EINVAL, "path '%s' is too long", base);
    *fd = mkostemp(tmp, O_CLOEXEC);
    if (*fd < 0)
        return sn_err_set(err, SN_EIO, "cannot create a file next to '%s': %s", base,
                          strerror(errno));
    return 0;
}

/* Copy the file `from` into the open `fd` (named `to` in messages), then sync. The
 * buffer is wiped: the file may hold secret keys. */
static int file_copy(const char *from, int fd, const char *to, sn_err *err)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        int e = errno;
        return sn_err_set(err, e == ENOENT ? SN_ENOTFOUND : SN_EIO, "cannot open '%s': %s",
                          from, strerror(e));
    }
    uint8_t buf[16384];
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = sn_err_set(err, SN_EIO, "cannot read '%s': %s", from, strerror(errno));
        if (n <= 0)
            break;
        for (ssize_t off = 0; off < n && rc == 0;) {
            ssize_t w = SN_FAULT(SN_FP_FILE_WRITE) ? -1 : write(fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                rc = sn_err_set(err, SN_EIO, "cannot write '%s': %s", to,
                                w < 0 ? strerror(errno) : "short write");
            else
                off += w;
        }
        if (rc != 0)
            break;
    }
    sn_wipe(buf, sizeof buf);
    close(in);
    return rc != 0 ? rc : fd_sync(fd, to, err);
}

/* ---- checking a copy ---- */

/* One row of `sql` on db: first column as text into out (may be NULL) and as an integer
 * into *v (may be NULL). SN_ENOTFOUND when there is no row. */
static int copy_query(sqlite3 *db, const char *sql, const char *label, char *out, size_t cap,
                      int64_t *v, sn_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        if (v != NULL)
            *v = sqlite3_column_int64(s, 0);
        if (out != NULL) {
            const unsigned char *t = sqlite3_column_text(s, 0);
            if (t == NULL && sqlite3_errcode(db) == SQLITE_NOMEM)
                rc = SQLITE_NOMEM;
            snprintf(out, cap, "%s", t != NULL ? (const char *)t : "");
        }
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return SN_ENOTFOUND;
    if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_ERROR) {
        /* Not a database, or one without our tables. */
        sn_err_set(err, SN_ECORRUPT, "'%s' is not an Outpost store or backup: %s", label,
                   sqlite3_errmsg(db));
        return SN_ECORRUPT;
    }
    return copy_fail(db, rc, err, "checking", label);
}

/* Make the copy open as db a self-contained store file with a fresh instance nonce, after
 * checking that it is an Outpost store this build reads. `label` names it in messages.
 * A copy just made by SQLite gets quick_check; one brought back from elsewhere (info not
 * NULL) the fuller integrity_check, which also compares every index with its table. */
static int copy_finish(sqlite3 *db, const char *label, node_restore_info *info, sn_err *err)
{
    char text[256];
    int64_t layout = 0, epoch = 0, n = 0;
    /* A copy of a store in WAL mode says so in its header; one file is what we want. */
    int rc = copy_query(db, "PRAGMA journal_mode=DELETE", label, NULL, 0, NULL, err);
    if (rc == 0)
        rc = copy_query(db, info != NULL ? "PRAGMA integrity_check(1)" : "PRAGMA quick_check(1)",
                        label, text, sizeof text, NULL, err);
    /* The check reports a page it could not read for want of memory (SQLITE_NOMEM, 7) as a
     * finding, not as an error: that says nothing about the file. */
    if (rc == 0 && strstr(text, "error code=7") != NULL)
        rc = sn_err_set(err, SN_ENOMEM, "out of memory checking '%s'", label);
    else if (rc == 0 && strcmp(text, "ok") != 0)
        rc = sn_err_set(err, SN_ECORRUPT, "'%s' is damaged: %s", label, text);
    if (rc == 0)
        rc = copy_query(db, "PRAGMA user_version", label, NULL, 0, &layout, err);
    if (rc == 0 && layout == 0)
        rc = sn_err_set(err, SN_ECORRUPT, "'%s' is not an Outpost store or backup", label);
    if (rc == 0 && layout > NODE_STORE_LAYOUT) {
        sn_err_set(err, SN_EVERSION, "'%s' was made by a newer Outpost (layout %lld, this "
                   "build reads %d)", label, (long long)layout, NODE_STORE_LAYOUT);
        sn_err_hint(err, "install the newer Outpost to restore it");
        return SN_EVERSION;
    }
    if (rc == 0)
        rc = copy_query(db, "SELECT value FROM meta WHERE key = 'epoch'", label, NULL, 0, &epoch,
                        err);
    if (rc == 0)
        rc = copy_query(db, "SELECT count(*) FROM origin, meta WHERE meta.key = 'replica' AND "
                        "origin.replica = meta.value AND length(meta.value) = 16 AND "
                        "origin.epoch = (SELECT value FROM meta WHERE key = 'epoch')",
                        label, NULL, 0, &n, err);
    if (rc == 0 && (n != 1 || epoch < 1 || epoch > UINT32_MAX))
        rc = sn_err_set(err, SN_ECORRUPT, "'%s': its origin (replica id, epoch) is damaged",
                        label);
    if (rc == 0 && info != NULL)
        rc = copy_query(db, "SELECT value FROM meta WHERE key = 'name'", label, info->name,
                        sizeof info->name, NULL, err);
    if (rc == SN_ENOTFOUND)
        rc = sn_err_set(err, SN_ECORRUPT, "'%s': the store's identity is missing", label);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = NULL;
    uint8_t nonce[16];
    sn_random_bytes(nonce, sizeof nonce);
    int src = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(key, value) VALUES "
                                 "('instance', ?1)", -1, &s, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_blob(s, 1, nonce, sizeof nonce, SQLITE_STATIC);
        src = sqlite3_step(s);
    }
    sqlite3_finalize(s);
    if (src != SQLITE_DONE)
        return copy_fail(db, src, err, "writing to", label);
    if (info != NULL) {
        s = NULL;
        src = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'replica'", -1, &s,
                                 NULL);
        if (src == SQLITE_OK && (src = sqlite3_step(s)) == SQLITE_ROW &&
            sqlite3_column_bytes(s, 0) == CRDT_REPLICA_LEN)
            memcpy(info->origin.replica, sqlite3_column_blob(s, 0), CRDT_REPLICA_LEN);
        sqlite3_finalize(s);
        if (src != SQLITE_ROW)
            return copy_fail(db, src, err, "reading", label);
        info->origin.epoch = (uint32_t)epoch;
    }
    return 0;
}

/* Open the copy at `path`, finish it (copy_finish) and close it. */
static int copy_open_finish(const char *path, const char *label, node_restore_info *info,
                            sn_err *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    rc = rc == SQLITE_OK ? copy_finish(db, label, info, err)
                         : copy_fail(db, rc, err, "cannot open", label);
    int crc = sqlite3_close(db);
    if (rc == 0 && crc != SQLITE_OK)
        rc = sn_err_set(err, SN_EIO, "cannot close '%s': %s", label, sqlite3_errstr(crc));
    return rc;
}

/* ---- backup ---- */

static int exists_error(const char *path, const char *what, sn_err *err)
{
    sn_err_set(err, SN_EINVAL, "'%s' already exists", path);
    sn_err_hint(err, "%s", what);
    return SN_EINVAL;
}

int node_store_backup(node_store *st, const char *path, bool replace, sn_err *err)
{
    struct stat sb;
    const char *hint = "choose a new file name for the backup, or replace it (--force)";
    if (st->batch_depth > 0)
        return sn_err_set(err, SN_EINVAL, "cannot back up store '%s' while a batch is open",
                          st->dir);
    if (!replace && lstat(path, &sb) == 0)
        return exists_error(path, hint, err);
    char tmp[PATH_MAX + 32];
    int fd;
    int rc = temp_make(path, "tmp", tmp, &fd, err);
    if (rc != 0)
        return rc;
    sqlite3 *db = NULL;
    rc = sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = copy_fail(db, rc, err, "cannot open backup", path);
    } else {
        /* One step copies every page under one read transaction: a consistent snapshot,
         * while writers (WAL) carry on. */
        sqlite3_backup *b = sqlite3_backup_init(db, "main", st->db, "main");
        if (b == NULL) {
            rc = copy_fail(db, sqlite3_errcode(db), err, "starting the backup to", path);
        } else {
            int src = sqlite3_backup_step(b, -1);
            int frc = sqlite3_backup_finish(b);
            rc = src == SQLITE_DONE && frc == SQLITE_OK
                     ? 0
                     : copy_fail(db, src != SQLITE_DONE ? src : frc, err, "backing up to", path);
        }
    }
    int crc = sqlite3_close(db);
    if (rc == 0 && crc != SQLITE_OK)
        rc = sn_err_set(err, SN_EIO, "cannot close backup '%s': %s", path, sqlite3_errstr(crc));
    /* The check reopens the copy: a file that does not open as a store is no backup. */
    if (rc == 0)
        rc = copy_open_finish(tmp, path, NULL, err);
    if (rc == 0)
        rc = fd_sync(fd, path, err);
    close(fd);
    if (rc == 0 && !replace && lstat(path, &sb) == 0)
        rc = exists_error(path, hint, err);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = sn_err_set(err, SN_EIO, "cannot rename '%s' to '%s': %s", tmp, path,
                        strerror(errno));
    if (rc != 0) {
        copy_remove(tmp);
        return rc;
    }
    dir_sync(path);
    return 0;
}

/* ---- restore ---- */

static int dir_holds_store(const char *dir, sn_err *err)
{
    static const char *const files[] = {STORE_DB, STORE_DB "-wal", STORE_DB "-shm"};
    char p[PATH_MAX + 64];
    struct stat sb;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        if (lstat(p, &sb) == 0) {
            sn_err_set(err, SN_EINVAL, "'%s' already holds a store ('%s' exists)", dir, p);
            sn_err_hint(err, "to replace a damaged store, move its store.db, store.db-wal and "
                             "store.db-shm aside (keep `keys`) and restore again; or restore "
                             "into a new directory with --store DIR --keys FILE");
            return SN_EINVAL;
        }
    }
    return 0;
}

/* The key file for the restored store: the one in dir, or a 0600 copy of `keys`. */
static int keys_check(const char *dir, const char *keys, const char *keys_path, sn_err *err)
{
    struct stat sb;
    if (keys == NULL && lstat(keys_path, &sb) != 0) {
        sn_err_set(err, SN_ENOTFOUND, "no key file '%s' for the restored store", keys_path);
        sn_err_hint(err, "restore into the store's own directory, which keeps its `keys`, or "
                         "pass --keys FILE with a copy of that node's key file");
        return SN_ENOTFOUND;
    }
    if (keys != NULL && lstat(keys_path, &sb) == 0)
        return exists_error(keys_path, "leave out --keys to use the key file already in the "
                                       "directory, or move it aside", err);
    if (keys != NULL && stat(keys, &sb) != 0)
        return sn_err_set(err, SN_ENOTFOUND, "no key file '%s': %s", keys, strerror(errno));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return sn_err_set(err, SN_EIO, "cannot create store directory '%s': %s", dir,
                          strerror(errno));
    return 0;
}

static int keys_copy(const char *keys, const char *keys_path, sn_err *err)
{
    int fd = open(keys_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return sn_err_set(err, SN_EIO, "cannot create key file '%s': %s", keys_path,
                          strerror(errno));
    int rc = file_copy(keys, fd, keys_path, err);
    close(fd);
    if (rc != 0)
        unlink(keys_path);
    return rc;
}

int node_store_restore(const char *backup, const char *dir, const char *keys,
                       node_restore_info *info, sn_err *err)
{
    char db_path[PATH_MAX], keys_path[PATH_MAX], tmp[PATH_MAX + 32];
    struct stat sb;
    node_restore_info got = {0};
    if ((size_t)snprintf(db_path, sizeof db_path, "%s/%s", dir, STORE_DB) >= sizeof db_path ||
        (size_t)snprintf(keys_path, sizeof keys_path, "%s/keys", dir) >= sizeof keys_path)
        return sn_err_set(err, SN_EINVAL, "store path '%s' is too long", dir);
    if (stat(backup, &sb) != 0)
        return sn_err_set(err, errno == ENOENT ? SN_ENOTFOUND : SN_EIO,
                          "cannot read backup '%s': %s", backup, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return sn_err_set(err, SN_EINVAL, "backup '%s' is not a regular file", backup);
    int rc = dir_holds_store(dir, err);
    if (rc == 0)
        rc = keys_check(dir, keys, keys_path, err);
    if (rc != 0)
        return rc;
    /* Copy, check and stamp under a temporary name: a failure leaves `dir` as it was. */
    int fd;
    rc = temp_make(db_path, "restore", tmp, &fd, err);
    if (rc != 0)
        return rc;
    rc = file_copy(backup, fd, tmp, err);
    if (rc == 0)
        rc = copy_open_finish(tmp, backup, &got, err);
    if (rc == 0)
        rc = fd_sync(fd, tmp, err);
    close(fd);
    bool made_keys = false;
    if (rc == 0 && keys != NULL) {
        rc = keys_copy(keys, keys_path, err);
        made_keys = rc == 0;
    }
    if (rc == 0) { /* refuses a key file that others can read, or a malformed one */
        sync_keys k;
        rc = node_keyfile_load(dir, &k, err);
        sync_keys_wipe(&k);
    }
    if (rc == 0 && lstat(db_path, &sb) == 0)
        rc = dir_holds_store(dir, err);
    if (rc == 0 && rename(tmp, db_path) != 0)
        rc = sn_err_set(err, SN_EIO, "cannot rename '%s' to '%s': %s", tmp, db_path,
                        strerror(errno));
    if (rc != 0) {
        copy_remove(tmp);
        if (made_keys)
            unlink(keys_path);
        return rc;
    }
    dir_sync(db_path);
    if (info != NULL)
        *info = got;
    return 0;
}
