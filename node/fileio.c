/* node/fileio.c - whole-file reads with a limit, and atomic, durable file writes. */
#include "node/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"

static int write_all(int fd, const uint8_t *p, size_t n, const char *path, sn_err *err)
{
    while (n > 0) {
        ssize_t w = SN_FAULT(SN_FP_FILE_WRITE) ? -1 : write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return sn_err_set(err, SN_EIO, "cannot write '%s': %s", path,
                              w < 0 ? strerror(errno) : "short write");
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int node_file_write_atomic(const char *path, const uint8_t *data, size_t len, sn_err *err)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return sn_err_set(err, SN_EINVAL, "path '%s' is too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return sn_err_set(err, SN_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    int rc = write_all(fd, data, len, tmp, err);
    if (rc == 0 && (SN_FAULT(SN_FP_FILE_SYNC) || fsync(fd) != 0))
        rc = sn_err_set(err, SN_EIO, "cannot sync '%s': %s", tmp, strerror(errno));
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = sn_err_set(err, SN_EIO, "cannot rename '%s' to '%s': %s", tmp, path,
                        strerror(errno));
    if (rc != 0)
        unlink(tmp);
    return rc;
}

int node_file_read(const char *path, size_t limit, sn_buf *out, sn_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return sn_err_set(err, e == ENOENT ? SN_ENOTFOUND : SN_EIO, "cannot open '%s': %s",
                          path, strerror(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return sn_err_set(err, SN_EINVAL, "'%s' is not a regular file", path);
    }
    if ((uint64_t)sb.st_size > limit) {
        close(fd);
        return sn_err_set(err, SN_ETOOBIG, "'%s' is %lld bytes, more than the %zu allowed", path,
                          (long long)sb.st_size, limit);
    }
    sn_buf_init(out, limit);
    int rc = sn_buf_reserve(out, (size_t)sb.st_size + 1, err);
    while (rc == 0) {
        ssize_t r = read(fd, out->data + out->len, out->cap - out->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = sn_err_set(err, SN_EIO, "cannot read '%s': %s", path, strerror(errno));
        if (r <= 0)
            break;
        out->len += (size_t)r;
        if (out->len == out->cap)
            rc = sn_buf_reserve(out, 4096, err);
    }
    close(fd);
    if (rc != 0)
        sn_buf_free(out);
    return rc;
}
