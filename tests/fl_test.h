/*  fl_test.h - the tiny harness every unit test uses.

    A test file defines static test functions and a main() that runs them with
    FL_RUN.  FL_CHECK records a failure and carries on, so one run reports every
    broken property; the process exits non-zero if any check failed, and the
    last line is "N passed, N failed" (checks, not functions), which CI reads.

    FL_TEST_PATH(rel) builds a path under the source tree (FL_SOURCE_DIR is set
    by ctest; the working directory is the source tree otherwise).
*/
#ifndef FL_TEST_H_INCLUDED
#define FL_TEST_H_INCLUDED

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fl_test_passed_ = 0;
static int fl_test_failed_ = 0;
static int fl_test_verbose_ = 0;

#define FL_CHECK(cond)                                                        \
    do {                                                                      \
        if (cond)                                                             \
            fl_test_passed_++;                                                \
        else {                                                                \
            fl_test_failed_++;                                                \
            fprintf (stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                     #cond);                                                  \
        }                                                                     \
    } while (0)

/* |a - b| <= abs_tol + rel_tol * |b| */
#define FL_CHECK_CLOSE(a, b, abs_tol, rel_tol)                                 \
    do {                                                                       \
        double fl_a_ = (double) (a), fl_b_ = (double) (b);                     \
        if (fabs (fl_a_ - fl_b_) <= (abs_tol) + (rel_tol) * fabs (fl_b_))      \
            fl_test_passed_++;                                                 \
        else {                                                                 \
            fl_test_failed_++;                                                 \
            fprintf (stderr, "%s:%d: CHECK_CLOSE failed: %s = %.17g, %s = %.17g\n", \
                     __FILE__, __LINE__, #a, fl_a_, #b, fl_b_);                \
        }                                                                      \
    } while (0)

#define FL_RUN(fn)                                                    \
    do {                                                              \
        int fl_before_ = fl_test_failed_;                             \
        fn ();                                                        \
        printf ("%-48s %s\n", #fn,                                    \
                fl_test_failed_ == fl_before_ ? "ok" : "FAILED");     \
        fflush (stdout);                                              \
    } while (0)

#define FL_TEST_INIT(argc, argv)                                          \
    do {                                                                  \
        fl_test_verbose_ = (argc > 1 && strcmp (argv[1], "-v") == 0)      \
                           || getenv ("FL_TEST_VERBOSE") != NULL;         \
    } while (0)

#define FL_TEST_DONE()                                                    \
    do {                                                                  \
        printf ("%d passed, %d failed\n", fl_test_passed_, fl_test_failed_); \
        return fl_test_failed_ == 0 ? 0 : 1;                              \
    } while (0)

/* Path of a file in the source tree, in a static buffer (one at a time). */
static inline const char *
fl_test_path (const char *rel)
{
    static char buf[4096];
    const char *root = getenv ("FL_SOURCE_DIR");
    snprintf (buf, sizeof buf, "%s/%s", root ? root : ".", rel);
    return buf;
}
#define FL_TEST_PATH(rel) fl_test_path (rel)

/*  Makes a fresh private directory NAME-XXXXXX under $TMPDIR (or /tmp when
    it is unset or empty) into buf (cap bytes).  Returns buf, or NULL when
    the path does not fit or mkdtemp fails. */
static inline char *
fl_test_mkdtemp (char *buf, size_t cap, const char *name)
{
    const char *tmp = getenv ("TMPDIR");
    int n = snprintf (buf, cap, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    if (n < 0 || (size_t) n >= cap)
        return NULL;
    return mkdtemp (buf);
}

#endif
