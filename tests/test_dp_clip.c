/*  test_dp_clip.c - L2 clipping (whole vector and per example) and the
    noise calibration helper.  The property that matters downstream is the
    bound itself: after clipping, the norm is <= C even after float
    rounding, and one example moves a clipped sum by at most C. */
#include "fl_dp.h"
#include "fl_test.h"

static double
s_norm (const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double) x[i] * x[i];
    return sqrt (s);
}

static void
test_clip_known (void)
{
    float x[2] = {3, 4};
    FL_CHECK_CLOSE (fl_dp_clip_l2 (x, 2, 1.0), 5.0, 0, 1e-15);
    FL_CHECK_CLOSE (x[0], 0.6, 1e-7, 0);
    FL_CHECK_CLOSE (x[1], 0.8, 1e-7, 0);
    float y[2] = {3, 4};
    FL_CHECK (fl_dp_clip_l2 (y, 2, 10.0) == 5.0);       /* inside the ball: untouched */
    FL_CHECK (y[0] == 3 && y[1] == 4);
    float z[3] = {0, 0, 0};
    FL_CHECK (fl_dp_clip_l2 (z, 3, 1.0) == 0.0);
    FL_CHECK (fl_dp_clip_l2 (NULL, 0, 1.0) == 0.0);
}

/*  Random vectors of many sizes and scales, including norms a hair above
    C, where float rounding of the scaled vector is most likely to land
    above the bound. */
static void
test_clip_bound_holds (void)
{
    fl_rng_t *r = fl_rng_new_u64 (21, 0);
    enum { D = 777 };
    float x[D], orig[D];
    int above = 0, misdirected = 0, too_short = 0;
    for (int trial = 0; trial < 3000; trial++) {
        size_t n = 1 + fl_rng_uniform (r, D);
        double C = exp2 (-10 + 20 * fl_rng_double (r));
        for (size_t i = 0; i < n; i++)
            x[i] = (float) fl_rng_normal (r);
        double target = trial % 2 ? C * (1 + 1e-7 * fl_rng_double (r)) : C * exp2 (8 * fl_rng_double (r));
        double f = target / s_norm (x, n);
        for (size_t i = 0; i < n; i++)
            orig[i] = x[i] = (float) (x[i] * f);
        double pre = fl_dp_clip_l2 (x, n, C);
        FL_CHECK_CLOSE (pre, s_norm (orig, n), 0, 1e-15);
        double post = s_norm (x, n), dot = 0;
        if (post > C)
            above++;
        if (pre > C && post < C * (1 - 1e-5))
            too_short++;
        for (size_t i = 0; i < n; i++)
            dot += (double) x[i] * orig[i];
        if (post > 0 && dot / (post * pre) < 1 - 1e-6)
            misdirected++;
    }
    FL_CHECK (above == 0);
    FL_CHECK (too_short == 0);
    FL_CHECK (misdirected == 0);
    fl_rng_destroy (&r);
}

static void
test_clip_errors (void)
{
    float x[3] = {1, 2, 3};
    FL_CHECK (fl_dp_clip_l2 (x, 3, 0.0) == -1.0);
    FL_CHECK (x[0] == 0 && x[1] == 0 && x[2] == 0);     /* zeroed, not left unclipped */
    const double bad_c[] = {-1.0, NAN, INFINITY};
    for (int k = 0; k < 3; k++) {
        float y[2] = {1, 1};
        FL_CHECK (fl_dp_clip_l2 (y, 2, bad_c[k]) == -1.0 && y[0] == 0 && y[1] == 0);
    }
    float z[3] = {1, NAN, 3}, w[2] = {INFINITY, 0};
    FL_CHECK (fl_dp_clip_l2 (z, 3, 1.0) == -1.0 && z[0] == 0 && z[2] == 0 && z[1] == 0);
    FL_CHECK (fl_dp_clip_l2 (w, 2, 1.0) == -1.0 && w[0] == 0);
}

static void
test_clip_rows_sum (void)
{
    enum { B = 6, D = 5 };
    fl_rng_t *r = fl_rng_new_u64 (22, 0);
    float g[B * D], out[D], ref[D] = {0}, row[D];
    for (int i = 0; i < B * D; i++)
        g[i] = (float) (fl_rng_normal (r) * (i / D + 1) * 0.5);  /* row norms grow with b */
    float g_copy[B * D];
    memcpy (g_copy, g, sizeof g);
    const double C = 2.0;
    long expect_clipped = 0;
    for (int b = 0; b < B; b++) {
        memcpy (row, g + b * D, sizeof row);
        if (fl_dp_clip_l2 (row, D, C) > C)
            expect_clipped++;
        for (int j = 0; j < D; j++)
            ref[j] += row[j];
    }
    double norms[B];
    FL_CHECK (fl_dp_clip_rows_sum (g, B, D, C, out, norms) == expect_clipped);
    FL_CHECK (expect_clipped > 0 && expect_clipped < B);     /* the data mixes both cases */
    FL_CHECK (memcmp (g, g_copy, sizeof g) == 0);           /* input untouched */
    for (int j = 0; j < D; j++)
        FL_CHECK_CLOSE (out[j], ref[j], 1e-6, 1e-6);
    for (int b = 0; b < B; b++)
        FL_CHECK_CLOSE (norms[b], s_norm (g + b * D, D), 0, 1e-15);

    /* Sensitivity: dropping any one example moves the sum by <= C (float
       summation adds a few ulps). */
    for (int b = 0; b < B; b++) {
        float g2[B * D], out2[D], diff[D];
        memcpy (g2, g, b * D * sizeof (float));
        memcpy (g2 + b * D, g + (b + 1) * D, (B - 1 - b) * D * sizeof (float));
        FL_CHECK (fl_dp_clip_rows_sum (g2, B - 1, D, C, out2, NULL) >= 0);
        for (int j = 0; j < D; j++)
            diff[j] = out[j] - out2[j];
        FL_CHECK (s_norm (diff, D) <= C * (1 + 1e-5));
    }

    /* Errors zero the output. */
    g[2 * D + 1] = NAN;
    FL_CHECK (fl_dp_clip_rows_sum (g, B, D, C, out, NULL) == -1);
    int zero = 1;
    for (int j = 0; j < D; j++)
        zero &= out[j] == 0;
    FL_CHECK (zero);
    FL_CHECK (fl_dp_clip_rows_sum (g_copy, B, D, -1.0, out, NULL) == -1);
    FL_CHECK (fl_dp_clip_rows_sum (g_copy, 0, D, 1.0, out, NULL) == 0 && out[0] == 0);
    fl_rng_destroy (&r);
}

static void
test_noise_stddev (void)
{
    FL_CHECK (fl_dp_noise_stddev (1.1, 2.0) == 1.1 * 2.0);
    FL_CHECK (fl_dp_noise_stddev (0.0, 5.0) == 0.0);
    FL_CHECK (isnan (fl_dp_noise_stddev (-1.0, 1.0)));
    FL_CHECK (isnan (fl_dp_noise_stddev (1.0, NAN)));
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_clip_known);
    FL_RUN (test_clip_bound_holds);
    FL_RUN (test_clip_errors);
    FL_RUN (test_clip_rows_sum);
    FL_RUN (test_noise_stddev);
    FL_TEST_DONE ();
}
