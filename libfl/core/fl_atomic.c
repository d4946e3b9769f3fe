/*  fl_atomic - see fl_atomic.h. */
#include "fl_atomic.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

int
fl_atomic_write (const char *path, const void *data, size_t len, mode_t mode)
{
    if (!path || (!data && len)) {
        errno = EINVAL;
        return -1;
    }
    char tmp[PATH_MAX];
    int n = snprintf (tmp, sizeof tmp, "%s.tmp", path);
    if (n < 0 || (size_t) n >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    const char *p = (const char *) data;
    size_t done = 0;
    int err = 0;
    while (done < len) {
        ssize_t w = write (fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = w < 0 ? errno : EIO;
            break;
        }
        done += (size_t) w;
    }
    if (!err && fsync (fd) != 0)
        err = errno;
    if (close (fd) != 0 && !err)
        err = errno;
    if (!err && rename (tmp, path) != 0)
        err = errno;
    if (err) {
        unlink (tmp);
        errno = err;
        return -1;
    }
    return 0;
}

int
fl_atomic_write_stream (const char *path, mode_t mode, int (*fill) (FILE *f, void *arg), void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&buf, &len);
    if (!f)
        return -2;
    int rc = fill (f, arg) != 0 ? -1 : 0;
    if (fclose (f) != 0 && rc == 0) {
        errno = ENOMEM;
        rc = -2;
    }
    if (rc == 0 && fl_atomic_write (path, buf, len, mode) != 0)
        rc = -2;
    free (buf);
    return rc;
}

char *
fl_file_read (const char *path, size_t max, size_t *len_p)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 1 >= cap) {
            if (cap > max) {
                free (buf);
                fclose (f);
                errno = EFBIG;
                return NULL;
            }
            cap = cap ? 2 * cap : 65536;
            char *nb = (char *) realloc (buf, cap);
            if (!nb) {
                free (buf);
                fclose (f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread (buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    int bad = ferror (f);
    fclose (f);
    if (bad || len > max) {
        free (buf);
        errno = bad ? EIO : EFBIG;
        return NULL;
    }
    buf[len] = '\0';
    if (len_p)
        *len_p = len;
    return buf;
}
