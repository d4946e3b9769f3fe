/*  test_atomic.c - fl_atomic_write: the file holds the old or the new
    content in full, the mode applies, failures leave no PATH.tmp and do not
    touch PATH, errno says why. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl_atomic.h"
#include "fl_test.h"

static char s_dir[64];

static size_t
s_read (const char *path, char *buf, size_t cap)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return (size_t) -1;
    size_t n = fread (buf, 1, cap, f);
    fclose (f);
    return n;
}

static void
test_write_and_replace (void)
{
    char path[128], tmp[140], buf[64];
    snprintf (path, sizeof path, "%s/a.bin", s_dir);
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    FL_CHECK (fl_atomic_write (path, "first", 5, 0600) == 0);
    FL_CHECK (s_read (path, buf, sizeof buf) == 5 && memcmp (buf, "first", 5) == 0);
    struct stat st;
    FL_CHECK (stat (path, &st) == 0 && (st.st_mode & 0777) == 0600);
    FL_CHECK (access (tmp, F_OK) != 0);
    FL_CHECK (fl_atomic_write (path, "second!", 7, 0600) == 0);
    FL_CHECK (s_read (path, buf, sizeof buf) == 7 && memcmp (buf, "second!", 7) == 0);
    FL_CHECK (fl_atomic_write (path, NULL, 0, 0600) == 0);       /* empty is a valid content */
    FL_CHECK (s_read (path, buf, sizeof buf) == 0);
    unlink (path);
}

static void
test_failures_leave_target_alone (void)
{
    char path[128], buf[64];
    snprintf (path, sizeof path, "%s/keep.bin", s_dir);
    FL_CHECK (fl_atomic_write (path, "keep", 4, 0644) == 0);
    /* a directory in place of PATH: rename fails, PATH.tmp is removed */
    char dpath[128], dtmp[140];
    snprintf (dpath, sizeof dpath, "%s/isdir", s_dir);
    snprintf (dtmp, sizeof dtmp, "%s.tmp", dpath);
    FL_CHECK (mkdir (dpath, 0755) == 0);
    char sub[160];
    snprintf (sub, sizeof sub, "%s/x", dpath);
    FL_CHECK (mkdir (sub, 0755) == 0);                 /* non-empty: rename over it fails */
    errno = 0;
    FL_CHECK (fl_atomic_write (dpath, "data", 4, 0644) == -1 && errno != 0);
    FL_CHECK (access (dtmp, F_OK) != 0);
    rmdir (sub);
    rmdir (dpath);
    /* a missing directory */
    char missing[160];
    snprintf (missing, sizeof missing, "%s/no/such/dir/f", s_dir);
    errno = 0;
    FL_CHECK (fl_atomic_write (missing, "x", 1, 0644) == -1 && errno == ENOENT);
    /* a path too long for PATH.tmp */
    char *longp = malloc (PATH_MAX + 8);
    memset (longp, 'a', PATH_MAX + 7);
    longp[PATH_MAX + 7] = 0;
    errno = 0;
    FL_CHECK (fl_atomic_write (longp, "x", 1, 0644) == -1 && errno == ENAMETOOLONG);
    free (longp);
    /* bad arguments */
    errno = 0;
    FL_CHECK (fl_atomic_write (path, NULL, 3, 0644) == -1 && errno == EINVAL);
    FL_CHECK (fl_atomic_write (NULL, "x", 1, 0644) == -1 && errno == EINVAL);
    /* after every failure the old content is intact */
    FL_CHECK (s_read (path, buf, sizeof buf) == 4 && memcmp (buf, "keep", 4) == 0);
    unlink (path);
}

static int
s_fill_ok (FILE *f, void *arg)
{
    return fprintf (f, "%s,%d\n", (const char *) arg, 42) > 0 ? 0 : -1;
}

static int
s_fill_refuse (FILE *f, void *arg)
{
    (void) arg;
    fputs ("half", f);
    return -1;
}

/*  fl_atomic_write_stream: what fill writes replaces PATH; a refusal
    writes nothing; an unwritable directory is -2 with errno. */
static void
test_write_stream (void)
{
    char path[128], tmp[140], buf[64];
    snprintf (path, sizeof path, "%s/s.csv", s_dir);
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    FL_CHECK (fl_atomic_write_stream (path, 0644, s_fill_ok, "row") == 0);
    FL_CHECK (s_read (path, buf, sizeof buf) == 7 && memcmp (buf, "row,42\n", 7) == 0);
    FL_CHECK (fl_atomic_write_stream (path, 0644, s_fill_refuse, NULL) == -1);
    FL_CHECK (s_read (path, buf, sizeof buf) == 7 && memcmp (buf, "row,42\n", 7) == 0);
    FL_CHECK (access (tmp, F_OK) != 0);
    errno = 0;
    FL_CHECK (fl_atomic_write_stream ("/nonexistent-dir/x.csv", 0644, s_fill_ok, "row") == -2);
    FL_CHECK (errno == ENOENT);
    unlink (path);
}

/* fl_file_read: the whole file back, NULs included; too long, missing and
   a directory refused with errno, nothing returned. */
static void
test_file_read (void)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/read.bin", s_dir);
    const char data[] = "ab\0cd";
    FL_CHECK (fl_atomic_write (path, data, 5, 0600) == 0);
    size_t len = 0;
    char *got = fl_file_read (path, 5, &len);
    FL_CHECK (got && len == 5 && memcmp (got, data, 5) == 0 && got[5] == '\0');
    free (got);
    errno = 0;
    FL_CHECK (fl_file_read (path, 4, &len) == NULL && errno == EFBIG);
    snprintf (path, sizeof path, "%s/missing", s_dir);
    errno = 0;
    FL_CHECK (fl_file_read (path, 100, NULL) == NULL && errno == ENOENT);
    errno = 0;
    FL_CHECK (fl_file_read (s_dir, 100, NULL) == NULL && errno != 0);
    /* larger than the first buffer: read in full */
    size_t big = 200000;
    char *b = malloc (big);
    FL_CHECK (b != NULL);
    for (size_t i = 0; b && i < big; i++)
        b[i] = (char) (i * 7);
    snprintf (path, sizeof path, "%s/big.bin", s_dir);
    FL_CHECK (b && fl_atomic_write (path, b, big, 0600) == 0);
    got = fl_file_read (path, big, &len);
    FL_CHECK (got && len == big && b && memcmp (got, b, big) == 0);
    free (got);
    free (b);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    if (!fl_test_mkdtemp (s_dir, sizeof s_dir, "fl-atomic"))
        return 1;
    FL_RUN (test_write_and_replace);
    FL_RUN (test_failures_leave_target_alone);
    FL_RUN (test_write_stream);
    FL_RUN (test_file_read);
    rmdir (s_dir);
    FL_TEST_DONE ();
}
