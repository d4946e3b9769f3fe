/*  fuzz_common.h - helpers shared by the libFuzzer targets.

    fuzz_quiet: libfl logs every refused input (zsys_error/zsys_warning);
    at tens of thousands of inputs a second that is most of the run time, so
    targets silence CZMQ's log stream unless FL_FUZZ_LOG is set (set it when
    reproducing a crash to see what the module said).

    fuzz_check_dataset: aborts (a finding) unless a loaded data set is
    well formed: every feature finite, every label in [0, classes).

    fuzz_tmpfile_*: decoders that only take a path get the input through one
    temporary file per process, rewritten for every input.
*/
#ifndef FUZZ_COMMON_H_INCLUDED
#define FUZZ_COMMON_H_INCLUDED

#include <czmq.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void
fuzz_quiet (void)
{
    if (!getenv ("FL_FUZZ_LOG")) {
        zsys_init ();
        zsys_set_logstream (NULL);
        zsys_set_logsystem (false);
    }
}

#ifdef FL_DATASET_H_INCLUDED
static inline void
fuzz_check_dataset (const fl_dataset_t *ds)
{
    size_t n = fl_dataset_rows (ds), d = fl_dataset_features (ds), k = fl_dataset_classes (ds);
    const float *x = fl_dataset_x (ds);
    const int32_t *y = fl_dataset_y (ds);
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite (x[i]))
            abort ();
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t) y[i] >= k)
            abort ();
}
#endif

static char fuzz_tmp_path_[64];

/*  Creates the per-process temporary file (once) and returns its path. */
static inline const char *
fuzz_tmpfile_path (void)
{
    if (!fuzz_tmp_path_[0]) {
        snprintf (fuzz_tmp_path_, sizeof fuzz_tmp_path_, "/tmp/fl-fuzz-%ld-XXXXXX", (long) getpid ());
        int fd = mkstemp (fuzz_tmp_path_);
        if (fd < 0) {
            perror ("fuzz: mkstemp");
            abort ();
        }
        close (fd);
    }
    return fuzz_tmp_path_;
}

/*  Replaces the temporary file's content with data[0..len). */
static inline const char *
fuzz_tmpfile_write (const uint8_t *data, size_t len)
{
    const char *path = fuzz_tmpfile_path ();
    int fd = open (path, O_WRONLY | O_TRUNC);
    if (fd < 0) {
        perror ("fuzz: open");
        abort ();
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write (fd, data + done, len - done);
        if (w <= 0) {
            perror ("fuzz: write");
            abort ();
        }
        done += (size_t) w;
    }
    close (fd);
    return path;
}

/*  Removes the temporary file at exit (libFuzzer exits via exit()). */
static inline void
fuzz_tmpfile_cleanup (void)
{
    if (fuzz_tmp_path_[0])
        unlink (fuzz_tmp_path_);
}

#endif
