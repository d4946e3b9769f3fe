/*  fl_atomic - replace a file so that a reader (or a crash) never sees it
    half written.

    The one write-fsync-rename of libfl: the data go to "PATH.tmp" (created
    with the given mode, truncated if it exists), are flushed to disk with
    fsync, then renamed over PATH, so PATH holds either the old or the new
    content in full.  Used by the model file, the int8, JSON and scores
    exports (fl_export, fl_score), the roster,
    the checkpoint (after keeping the current one as the previous,
    fl_checkpoint.c) and the run report (fl_report.c).
*/
#ifndef FL_ATOMIC_H_INCLUDED
#define FL_ATOMIC_H_INCLUDED

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Writes len bytes of data to path atomically (see above).  mode applies
    when PATH.tmp is created (the umask still applies).  Returns 0; or -1
    with errno set (ENAMETOOLONG when PATH.tmp does not fit PATH_MAX, or the
    error of open, write, fsync, close or rename) and PATH.tmp removed, PATH
    untouched.  Logs nothing: the caller names the file's role in its
    message.  data may be NULL only when len is 0. */
int fl_atomic_write (const char *path, const void *data, size_t len, mode_t mode);

/*  For content written through a FILE *: fill (f, arg) writes it into a
    memory stream (returns 0, or -1 having said why itself), then
    fl_atomic_write replaces path with it.  Returns 0; -1 when fill refused
    (nothing written); -2 when the memory stream or the write failed (errno
    set; PATH untouched). */
int fl_atomic_write_stream (const char *path, mode_t mode, int (*fill) (FILE *f, void *arg), void *arg);

/*  The reading side: the whole file at path as a new NUL-terminated buffer
    (caller frees; the file may hold NULs, *len_p, if not NULL, is its
    length).  Returns NULL with errno set: the error of fopen or malloc,
    EFBIG when the file is longer than max bytes, EIO on a read error.
    Logs nothing: the caller names the file's role in its message. */
char *fl_file_read (const char *path, size_t max, size_t *len_p);

#ifdef __cplusplus
}
#endif

#endif
