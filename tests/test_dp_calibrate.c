/*  test_dp_calibrate.c - the fl-dp-calibrate program as a user runs it:
    epsilon for a reference row, the noise-multiplier search round trip,
    and its exit codes.  Needs FL_BINARY_DIR (set by ctest). */
#include "fl_accountant.h"
#include "fl_test.h"

#include <sys/wait.h>

/*  Runs the tool with args; returns its exit status and the first stdout
    number in *value (NaN if none). */
static int
s_run (const char *args, double *value)
{
    const char *bin = getenv ("FL_BINARY_DIR");
    char cmd[1024];
    snprintf (cmd, sizeof cmd, "%s/bin/fl-dp-calibrate %s 2>/dev/null", bin ? bin : "build", args);
    FILE *p = popen (cmd, "r");
    if (!p)
        return -1;
    *value = NAN;
    if (fscanf (p, "%lf", value) != 1)
        *value = NAN;
    int st = pclose (p);
    return WIFEXITED (st) ? WEXITSTATUS (st) : -1;
}

static void
test_cli (void)
{
    double v;
    /* Reference row 1 (Opacus tests/accountants_test.py): 7.32911117143. */
    FL_CHECK (s_run ("--noise-multiplier 1.5 --delta 1e-5 --rounds 2250 --sample-rate 0.04", &v) == 0);
    FL_CHECK_CLOSE (v, 7.32911117143, 0, 1e-8);         /* printed with 9 digits */

    /* Search: the printed sigma meets the target, within the stated tolerance. */
    FL_CHECK (s_run ("--epsilon 2 --delta 1e-5 --rounds 1000 --sample-rate 0.01", &v) == 0);
    double eps = fl_dp_epsilon (v, 0.01, 1000, 1e-5, NULL);
    FL_CHECK (eps <= 2.0 + 1e-6 && eps >= 2.0 - 0.01 - 1e-6);   /* 9 printed digits */
    double sigma;
    FL_CHECK (fl_dp_find_noise_multiplier (2.0, 1e-5, 0.01, 1000, &sigma) == 0);
    FL_CHECK_CLOSE (v, sigma, 0, 1e-8);

    /* Exit codes: unreachable target 1; usage errors 2. */
    FL_CHECK (s_run ("--epsilon 0.01 --delta 1e-5 --rounds 10 --sample-rate 0.1", &v) == 1);
    FL_CHECK (s_run ("--epsilon 1 --rounds 10", &v) == 2);
    FL_CHECK (s_run ("--epsilon 1 --noise-multiplier 1 --delta 1e-5 --rounds 10 --sample-rate 0.1", &v) == 2);
    FL_CHECK (s_run ("--epsilon 1x --delta 1e-5 --rounds 10 --sample-rate 0.1", &v) == 2);
    FL_CHECK (s_run ("--epsilon 1 --delta 2 --rounds 10 --sample-rate 0.1", &v) == 2);
    FL_CHECK (s_run ("--epsilon 1 --delta 1e-5 --rounds -3 --sample-rate 0.1", &v) == 2);
    FL_CHECK (s_run ("--epsilon 1 --delta 1e-5 --rounds 10 --sample-rate 0", &v) == 2);
    FL_CHECK (s_run ("--help", &v) == 0);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_cli);
    FL_TEST_DONE ();
}
