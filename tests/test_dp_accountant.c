/*  test_dp_accountant.c - the RDP accountant: every row of the reference
    vectors (tests/data/rdp_accountant_vectors.csv, see its PROVENANCE),
    independent numerical-integration values at fractional orders, the
    theorems RDP must satisfy (monotone in alpha and q, decreasing in sigma,
    the q = 1 closed form), composition, checkpoint state, error cases and
    the noise-multiplier search. */
#include "fl_accountant.h"
#include "fl_test.h"

#include <stdint.h>

/* --- the reference vectors ------------------------------------------------- */

static void
test_vectors (void)
{
    FILE *f = fopen (FL_TEST_PATH ("tests/data/rdp_accountant_vectors.csv"), "r");
    FL_CHECK (f != NULL);
    if (!f)
        return;
    char line[1024];
    int rows = 0, header = 0;
    while (fgets (line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (!header) {          /* column names */
            FL_CHECK (strncmp (line, "kind,noise_multiplier,sample_rate,steps,delta,order,expected,rel_tol,", 69) == 0);
            header = 1;
            continue;
        }
        /* kind,noise_multiplier,sample_rate,steps,delta,order,expected,rel_tol,source */
        char *field[9] = {0};
        char *p = line;
        for (int k = 0; k < 8; k++) {
            field[k] = p;
            p = strchr (p, ',');
            FL_CHECK (p != NULL);
            if (!p)
                break;
            *p++ = '\0';
        }
        if (!p)
            continue;
        field[8] = p;
        double sigma = strtod (field[1], NULL), q = strtod (field[2], NULL);
        uint64_t steps = strtoull (field[3], NULL, 10);
        double expected = strtod (field[6], NULL), rel_tol = strtod (field[7], NULL);
        double got, order = NAN;
        if (strcmp (field[0], "eps") == 0)
            got = fl_dp_epsilon (sigma, q, steps, strtod (field[4], NULL), &order);
        else {
            FL_CHECK (strcmp (field[0], "rdp") == 0);
            order = strtod (field[5], NULL);
            got = (double) steps * fl_rdp_poisson_gaussian (q, sigma, order);
        }
        double rel_err = fabs (got - expected) / fabs (expected);
        if (fl_test_verbose_)
            printf ("  row %d %s sigma=%g q=%g steps=%llu: got %.12g expected %.12g "
                    "rel_err %.2e (tol %g) order %g\n", rows + 1, field[0], sigma, q,
                    (unsigned long long) steps, got, expected, rel_err, rel_tol, order);
        FL_CHECK_CLOSE (got, expected, 0, rel_tol);
        /* Optimal orders stated in the source column. */
        const char *o = strstr (field[8], "optimal order ");
        if (o)
            FL_CHECK_CLOSE (order, strtod (o + 14, NULL), 1e-12, 0);
        rows++;
    }
    fclose (f);
    FL_CHECK (rows == 10);      /* every row read: none silently skipped */
}

/*  Against independent high-precision values.  Fractional orders: A_alpha by adaptive
    quadrature of  int N(z; 0, s^2) ((1-q) + q exp((2z-1)/(2s^2)))^alpha dz
    in mpmath (30 digits).  The series is truncated at terms below e^-30
    (as Opacus), an absolute error of ~1e-13 in log A: hence the absolute
    term in the tolerance, which only matters for the tiny last case. */
static void
test_fractional_vs_integration (void)
{
    FL_CHECK_CLOSE (50 * fl_rdp_poisson_gaussian (0.01, 2.5, 1.5), 0.00065007089718804, 0, 1e-8);
    FL_CHECK_CLOSE (50 * fl_rdp_poisson_gaussian (0.01, 2.5, 2.5), 0.00108541805691812, 0, 1e-8);
    FL_CHECK_CLOSE (50 * fl_rdp_poisson_gaussian (0.01, 2.5, 1.1), 0.000476373762300299, 0, 1e-8);
    FL_CHECK_CLOSE (50 * fl_rdp_poisson_gaussian (0.01, 2.5, 3.7), 0.0016099308262, 0, 1e-8);
    FL_CHECK_CLOSE (50 * fl_rdp_poisson_gaussian (0.01, 2.5, 10.9), 0.00480620251686516, 0, 1e-8);
    FL_CHECK_CLOSE (fl_rdp_poisson_gaussian (0.3, 0.8, 7.5), 4.47028027158218, 0, 1e-10);
    FL_CHECK_CLOSE (fl_rdp_poisson_gaussian (0.001, 50, 1.3), 2.60051934116062e-10, 1e-15, 1e-6);
    /* Integer orders, also by quadrature. */
    FL_CHECK_CLOSE (50 * fl_rdp_poisson_gaussian (0.01, 2.5, 5), 0.00218075656230788, 0, 1e-10);
    /* Integer orders against the binomial sum in 50-digit arithmetic
       (mpmath), including both sides of alpha = 1000 where the coefficient
       recursion switches to log space. */
    FL_CHECK_CLOSE (50 * fl_rdp_poisson_gaussian (0.01, 2.5, 100), 167.41630754841826, 0, 1e-13);
    FL_CHECK_CLOSE (fl_rdp_poisson_gaussian (0.01, 5, 63), 0.00013187589960994967, 0, 1e-12);
    FL_CHECK_CLOSE (fl_rdp_poisson_gaussian (0.01, 5, 100), 0.00021271093783633089, 0, 1e-12);
    FL_CHECK_CLOSE (fl_rdp_poisson_gaussian (0.01, 5, 1000), 15.390220034045955, 0, 1e-12);
    FL_CHECK_CLOSE (fl_rdp_poisson_gaussian (0.01, 5, 1001), 15.410224643825921, 0, 1e-12);
}

static void
test_default_orders (void)
{
    double o[FL_ACCOUNTANT_DEFAULT_NORDERS];
    fl_rdp_default_orders (o);
    /* 1 + x/10.0, x = 1..99, evaluated exactly like Python's list. */
    for (int x = 1; x < 100; x++)
        FL_CHECK (o[x - 1] == 1.0 + x / 10.0);
    FL_CHECK (o[0] == 1.1);
    FL_CHECK (o[9] == 2.0);     /* x = 10, 20, ... 90 land on integers: integer path */
    FL_CHECK (o[89] == 10.0);
    FL_CHECK_CLOSE (o[98], 10.9, 1e-14, 0);
    for (int a = 12; a < 64; a++)
        FL_CHECK (o[99 + a - 12] == (double) a);
    FL_CHECK (o[FL_ACCOUNTANT_DEFAULT_NORDERS - 1] == 63.0);
}

/* --- properties ------------------------------------------------------------ */

static void
test_closed_form_q1 (void)
{
    double sig[] = {0.5, 0.7, 1.0, 3.0, 17.0};
    double alp[] = {1.1, 1.5, 2.0, 7.3, 63.0, 256.0};
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 6; j++)
            FL_CHECK_CLOSE (fl_rdp_poisson_gaussian (1.0, sig[i], alp[j]),
                            alp[j] / (2 * sig[i] * sig[i]), 0, 1e-15);
    /* Special cases. */
    FL_CHECK (fl_rdp_poisson_gaussian (0.0, 1.0, 2.5) == 0.0);
    FL_CHECK (isinf (fl_rdp_poisson_gaussian (0.1, 0.0, 2.5)));
    /* Just below q = 1 the subsampled value approaches the closed form. */
    FL_CHECK_CLOSE (fl_rdp_poisson_gaussian (1.0 - 1e-9, 2.0, 4.0), 4.0 / 8.0, 0, 1e-6);
}

/*  RDP is nondecreasing in alpha (Mironov 2017, Prop. 9) and, for this
    mechanism, nondecreasing in q and nonincreasing in sigma.  Slack 1e-12
    relative + 1e-15 absolute for rounding; truncation of the fractional
    series is far below that for these parameters. */
static void
test_monotone (void)
{
    double o[FL_ACCOUNTANT_DEFAULT_NORDERS];
    fl_rdp_default_orders (o);
    double qs[] = {0.001, 0.01, 0.05, 0.2, 0.5, 0.9};
    double sigmas[] = {0.6, 0.8, 1.0, 1.5, 2.5, 5.0, 10.0};
    int bad_alpha = 0, bad_q = 0, bad_sigma = 0;
    for (size_t a = 0; a < 6; a++)
        for (size_t b = 0; b < 7; b++) {
            double prev = 0;
            for (size_t k = 0; k < FL_ACCOUNTANT_DEFAULT_NORDERS; k++) {
                double r = fl_rdp_poisson_gaussian (qs[a], sigmas[b], o[k]);
                if (!(r >= prev * (1 - 1e-12) - 1e-15))
                    bad_alpha++;
                if (a > 0) {
                    double r_lo_q = fl_rdp_poisson_gaussian (qs[a - 1], sigmas[b], o[k]);
                    if (!(r >= r_lo_q * (1 - 1e-12) - 1e-15))
                        bad_q++;
                }
                if (b > 0) {
                    double r_lo_s = fl_rdp_poisson_gaussian (qs[a], sigmas[b - 1], o[k]);
                    if (!(r <= r_lo_s * (1 + 1e-12) + 1e-15))
                        bad_sigma++;
                }
                prev = r;
            }
        }
    FL_CHECK (bad_alpha == 0);
    FL_CHECK (bad_q == 0);
    FL_CHECK (bad_sigma == 0);
    /* The fractional series and the binomial expansion meet at integers. */
    for (double alpha = 2; alpha <= 10; alpha += 1) {
        double r = fl_rdp_poisson_gaussian (0.02, 1.1, alpha);
        FL_CHECK_CLOSE (fl_rdp_poisson_gaussian (0.02, 1.1, alpha + 1e-7), r, 0, 1e-5);
        FL_CHECK_CLOSE (fl_rdp_poisson_gaussian (0.02, 1.1, alpha - 1e-7), r, 0, 1e-5);
    }
}

/* --- the accountant object ------------------------------------------------- */

static void
test_composition (void)
{
    fl_accountant_t *a = fl_accountant_new (), *b = fl_accountant_new ();
    FL_CHECK (a && b);
    /* s1 + s2 steps in two entries equal one entry of s1 + s2 steps. */
    FL_CHECK (fl_accountant_add (a, 1.1, 0.01, 300) == 0);
    FL_CHECK (fl_accountant_add (a, 1.1, 0.01, 700) == 0);
    FL_CHECK (fl_accountant_add (b, 1.1, 0.01, 1000) == 0);
    const double *ra, *rb, *orders;
    size_t n = fl_accountant_orders (a, &orders, &ra);
    FL_CHECK (n == FL_ACCOUNTANT_DEFAULT_NORDERS);
    fl_accountant_orders (b, NULL, &rb);
    for (size_t k = 0; k < n; k++)
        FL_CHECK_CLOSE (ra[k], rb[k], 0, 1e-13);
    FL_CHECK (fl_accountant_entries (a) == 2 && fl_accountant_steps (a) == 1000);
    FL_CHECK (fl_accountant_entries (b) == 1 && fl_accountant_steps (b) == 1000);

    /* Heterogeneous history: per-order RDP vectors add. */
    FL_CHECK (fl_accountant_add (a, 0.8, 0.05, 20) == 0);
    for (size_t k = 0; k < n; k++)
        FL_CHECK_CLOSE (ra[k], rb[k] + 20 * fl_rdp_poisson_gaussian (0.05, 0.8, orders[k]), 0, 1e-13);

    /* epsilon_after predicts epsilon after add without changing the accountant. */
    double o1, o2;
    double before = fl_accountant_epsilon (b, 1e-5, NULL);
    double pred = fl_accountant_epsilon_after (b, 0.8, 0.05, 20, 1e-5, &o1);
    FL_CHECK (fl_accountant_epsilon (b, 1e-5, NULL) == before);
    FL_CHECK (fl_accountant_add (b, 0.8, 0.05, 20) == 0);
    FL_CHECK (fl_accountant_epsilon (b, 1e-5, &o2) == pred && o1 == o2);
    FL_CHECK (pred > before);

    /* Epsilon grows with history; steps = 0 records nothing. */
    FL_CHECK (fl_accountant_add (b, 0.8, 0.05, 0) == 0);
    FL_CHECK (fl_accountant_entries (b) == 2);
    fl_accountant_t *c = fl_accountant_dup (b);
    FL_CHECK (c && fl_accountant_epsilon (c, 1e-5, NULL) == fl_accountant_epsilon (b, 1e-5, NULL));
    fl_accountant_destroy (&a);
    fl_accountant_destroy (&b);
    fl_accountant_destroy (&c);
    fl_accountant_destroy (&c);         /* safe twice */
    FL_CHECK (a == NULL && b == NULL && c == NULL);
}

static void
test_empty_and_custom (void)
{
    /* No history: RDP 0, epsilon = min over orders of the conversion term
       -(log delta + log a)/(a-1) + log((a-1)/a), attained at a = 63. */
    fl_accountant_t *a = fl_accountant_new ();
    double order;
    double eps = fl_accountant_epsilon (a, 1e-5, &order);
    FL_CHECK (order == 63.0);
    FL_CHECK_CLOSE (eps, -(log (1e-5) + log (63.0)) / 62.0 + log (62.0 / 63.0), 0, 1e-14);
    /* No privacy: sigma = 0 -> inf. */
    FL_CHECK (fl_accountant_add (a, 0.0, 0.1, 1) == 0);
    FL_CHECK (isinf (fl_accountant_epsilon (a, 1e-5, NULL)));
    fl_accountant_destroy (&a);

    const double orders[] = {1.5, 2, 4, 8, 16, 32};
    a = fl_accountant_new_orders (orders, 6);
    FL_CHECK (a != NULL);
    FL_CHECK (fl_accountant_add (a, 1.0, 0.01, 1000) == 0);
    const double *rdp;
    FL_CHECK (fl_accountant_orders (a, NULL, &rdp) == 6);
    FL_CHECK_CLOSE (rdp[2], 1000 * fl_rdp_poisson_gaussian (0.01, 1.0, 4.0), 0, 1e-15);
    /* Over a coarser list, epsilon can only be larger. */
    FL_CHECK (fl_accountant_epsilon (a, 1e-5, NULL) >= fl_dp_epsilon (1.0, 0.01, 1000, 1e-5, NULL));
    fl_accountant_destroy (&a);

    const double bad1[] = {1.0, 2.0}, bad2[] = {2.0, NAN}, bad3[] = {INFINITY};
    FL_CHECK (fl_accountant_new_orders (bad1, 2) == NULL);
    FL_CHECK (fl_accountant_new_orders (bad2, 2) == NULL);
    FL_CHECK (fl_accountant_new_orders (bad3, 1) == NULL);
    FL_CHECK (fl_accountant_new_orders (orders, 0) == NULL);
}

static void
test_errors (void)
{
    fl_accountant_t *a = fl_accountant_new ();
    FL_CHECK (fl_accountant_add (a, 1.0, 1.5, 10) == -1);
    FL_CHECK (fl_accountant_add (a, 1.0, -0.1, 10) == -1);
    FL_CHECK (fl_accountant_add (a, -1.0, 0.1, 10) == -1);
    FL_CHECK (fl_accountant_add (a, NAN, 0.1, 10) == -1);
    FL_CHECK (fl_accountant_add (a, 1.0, NAN, 10) == -1);
    FL_CHECK (fl_accountant_entries (a) == 0);          /* unchanged by failures */
    const double *rdp;
    fl_accountant_orders (a, NULL, &rdp);
    FL_CHECK (rdp[0] == 0.0);
    FL_CHECK (isnan (fl_accountant_epsilon (a, 0.0, NULL)));
    FL_CHECK (isnan (fl_accountant_epsilon (a, 1.0, NULL)));
    FL_CHECK (isnan (fl_accountant_epsilon (a, NAN, NULL)));
    FL_CHECK (isnan (fl_accountant_epsilon_after (a, 1.0, 2.0, 1, 1e-5, NULL)));
    FL_CHECK (isnan (fl_rdp_poisson_gaussian (0.1, 1.0, 1.0)));
    FL_CHECK (isnan (fl_rdp_poisson_gaussian (0.1, 1.0, 0.5)));
    FL_CHECK (isnan (fl_rdp_poisson_gaussian (0.1, 1.0, NAN)));
    /* All-NaN RDP curve: no information -> inf, order NaN. */
    double o[2] = {2, 3}, r[2] = {NAN, NAN}, order = 0;
    FL_CHECK (isinf (fl_rdp_to_epsilon (o, r, 2, 1e-5, &order)) && isnan (order));
    /* A NaN entry is skipped, not propagated. */
    r[1] = 0.5;
    FL_CHECK (isfinite (fl_rdp_to_epsilon (o, r, 2, 1e-5, &order)) && order == 3);
    fl_accountant_destroy (&a);
}

static void
test_state_roundtrip (void)
{
    fl_accountant_t *a = fl_accountant_new ();
    FL_CHECK (fl_accountant_add (a, 1.1, 0.02, 500) == 0);
    FL_CHECK (fl_accountant_add (a, 0.9, 0.01, 77) == 0);
    size_t n = FL_ACCOUNTANT_STATE_DOUBLES (FL_ACCOUNTANT_DEFAULT_NORDERS);
    double *st = (double *) malloc (n * sizeof (double));
    FL_CHECK (fl_accountant_export (a, st, n - 1) == 0);        /* too small */
    FL_CHECK (fl_accountant_export (a, st, n) == n);
    fl_accountant_t *b = fl_accountant_import (st, n);
    FL_CHECK (b != NULL);
    if (b) {
        FL_CHECK (fl_accountant_entries (b) == 2 && fl_accountant_steps (b) == 577);
        FL_CHECK (fl_accountant_epsilon (a, 1e-6, NULL) == fl_accountant_epsilon (b, 1e-6, NULL));
        /* Accounting continues identically after a restore. */
        fl_accountant_add (a, 1.0, 0.03, 10);
        fl_accountant_add (b, 1.0, 0.03, 10);
        FL_CHECK (fl_accountant_epsilon (a, 1e-6, NULL) == fl_accountant_epsilon (b, 1e-6, NULL));
    }
    fl_accountant_destroy (&b);

    /* Malformed states are refused. */
    FL_CHECK (fl_accountant_import (st, n - 1) == NULL);
    FL_CHECK (fl_accountant_import (st, 3) == NULL);
    double keep;
#define S_BAD(idx, val)                                  \
    do {                                                 \
        keep = st[idx];                                  \
        st[idx] = (val);                                 \
        FL_CHECK (fl_accountant_import (st, n) == NULL); \
        st[idx] = keep;                                  \
    } while (0)
    S_BAD (0, 2.0);                                     /* version */
    S_BAD (1, 150.0);                                   /* order count vs size */
    S_BAD (1, 1e300);
    S_BAD (1, 0.0);
    S_BAD (2, -1.0);                                    /* counters */
    S_BAD (3, 0.5);
    S_BAD (3, 1e17);
    S_BAD (4, 1.0);                                     /* an order <= 1 */
    S_BAD (5, NAN);
    S_BAD (4 + 151, -1e-3);                             /* negative RDP */
    S_BAD (4 + 151 + 7, NAN);
    fl_accountant_t *c = fl_accountant_import (st, n); /* intact again */
    FL_CHECK (c != NULL);
    fl_accountant_destroy (&c);
    free (st);
    fl_accountant_destroy (&a);
}

/* --- noise-multiplier search ----------------------------------------------- */

static void
test_find_noise_multiplier (void)
{
    const struct { double eps, delta, q; uint64_t steps; } c[] = {
        {1.0, 1e-5, 0.01, 1000},
        {3.0, 1e-5, 0.004, 10000},
        {8.0, 1e-6, 0.1, 100},
        {0.5, 1e-5, 1.0, 10},           /* no subsampling (DP-FedAvg, full cohort) */
        {0.3, 1e-5, 0.001, 50000},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        double sigma = -1;
        FL_CHECK (fl_dp_find_noise_multiplier (c[i].eps, c[i].delta, c[i].q, c[i].steps, &sigma) == 0);
        double eps = fl_dp_epsilon (sigma, c[i].q, c[i].steps, c[i].delta, NULL);
        double tol = fmin (0.01, 0.01 * c[i].eps);
        if (fl_test_verbose_)
            printf ("  target %g -> sigma %.6f eps %.6f\n", c[i].eps, sigma, eps);
        FL_CHECK (eps <= c[i].eps);
        FL_CHECK (eps >= c[i].eps - tol);
        /* 3% less noise overshoots the target: the search did not stop early. */
        FL_CHECK (fl_dp_epsilon (sigma * 0.97, c[i].q, c[i].steps, c[i].delta, NULL) > c[i].eps);
    }
    /* Epsilon decreases with sigma, so a larger target needs less noise. */
    double s1, s2;
    FL_CHECK (fl_dp_find_noise_multiplier (1.0, 1e-5, 0.01, 1000, &s1) == 0);
    FL_CHECK (fl_dp_find_noise_multiplier (2.0, 1e-5, 0.01, 1000, &s2) == 0);
    FL_CHECK (s2 < s1);

    /* Unreachable: below the conversion's floor for RDP = 0 (about 0.103 at
       delta 1e-5 over these orders), and invalid arguments. */
    double untouched = 42;
    FL_CHECK (fl_dp_find_noise_multiplier (0.05, 1e-5, 0.01, 1000, &untouched) == -1);
    FL_CHECK (fl_dp_find_noise_multiplier (0.0, 1e-5, 0.01, 1000, &untouched) == -1);
    FL_CHECK (fl_dp_find_noise_multiplier (NAN, 1e-5, 0.01, 1000, &untouched) == -1);
    FL_CHECK (fl_dp_find_noise_multiplier (1.0, 0.0, 0.01, 1000, &untouched) == -1);
    FL_CHECK (fl_dp_find_noise_multiplier (1.0, 1e-5, 0.0, 1000, &untouched) == -1);
    FL_CHECK (fl_dp_find_noise_multiplier (1.0, 1e-5, 1.5, 1000, &untouched) == -1);
    FL_CHECK (fl_dp_find_noise_multiplier (1.0, 1e-5, 0.01, 0, &untouched) == -1);
    FL_CHECK (untouched == 42);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_vectors);
    FL_RUN (test_fractional_vs_integration);
    FL_RUN (test_default_orders);
    FL_RUN (test_closed_form_q1);
    FL_RUN (test_monotone);
    FL_RUN (test_composition);
    FL_RUN (test_empty_and_custom);
    FL_RUN (test_errors);
    FL_RUN (test_state_roundtrip);
    FL_RUN (test_find_noise_multiplier);
    FL_TEST_DONE ();
}
