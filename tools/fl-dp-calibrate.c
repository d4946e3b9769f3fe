/*  fl-dp-calibrate - noise multiplier <-> epsilon for the Poisson-subsampled
    Gaussian mechanism, with libfl's RDP accountant (fl_accountant.h).

      fl-dp-calibrate --epsilon 2 --delta 1e-5 --rounds 1000 --sample-rate 0.01
          prints the noise multiplier sigma found by fl_dp_find_noise_multiplier
          (epsilon(sigma) <= 2, within min(0.01, 1% of epsilon) below it)
      fl-dp-calibrate --noise-multiplier 1.1 --delta 1e-5 --rounds 1000 --sample-rate 0.01
          prints epsilon

    stdout holds the one number, for scripts; -v adds the optimal Rényi order
    and the inputs on stderr.  Exit status: 0 on success, 1 if the target is
    unreachable or the accountant fails, 2 on a usage error.
    "rounds" are mechanism invocations (steps): one per round for
    client-level DP, one per local step for record-level DP-SGD.
*/
#include "fl_accountant.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_usage (FILE *f)
{
    fprintf (f,
             "usage: fl-dp-calibrate (--epsilon E | --noise-multiplier Z) --delta D\n"
             "                       --rounds T --sample-rate Q [-v]\n"
             "  --epsilon E           target epsilon: print the noise multiplier\n"
             "  --noise-multiplier Z  noise stddev / L2 sensitivity: print epsilon\n"
             "  --delta D             delta, in (0, 1)\n"
             "  --rounds T            number of mechanism invocations (steps), >= 1\n"
             "  --sample-rate Q       Poisson sampling probability per step, in (0, 1]\n"
             "  -v, --verbose         also print the optimal order and inputs on stderr\n");
}

/*  Whole-string double; 0 on success. */
static int
s_parse_double (const char *s, const char *name, double *out)
{
    char *end;
    errno = 0;
    double v = strtod (s, &end);
    if (errno || end == s || *end != '\0' || !isfinite (v)) {
        fprintf (stderr, "fl-dp-calibrate: %s: '%s' is not a finite number\n", name, s);
        return -1;
    }
    *out = v;
    return 0;
}

int
main (int argc, char **argv)
{
    static const struct option longopts[] = {
        {"epsilon", required_argument, NULL, 'e'},
        {"noise-multiplier", required_argument, NULL, 'z'},
        {"delta", required_argument, NULL, 'd'},
        {"rounds", required_argument, NULL, 't'},
        {"sample-rate", required_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    double eps = NAN, sigma = NAN, delta = NAN, q = NAN;
    uint64_t rounds = 0;
    int have_rounds = 0, verbose = 0, c;
    while ((c = getopt_long (argc, argv, "vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'V': printf ("fl-dp-calibrate (libfl) %s\n", FL_VERSION); return 0;
        case 'e':
            if (s_parse_double (optarg, "--epsilon", &eps))
                return 2;
            break;
        case 'z':
            if (s_parse_double (optarg, "--noise-multiplier", &sigma))
                return 2;
            break;
        case 'd':
            if (s_parse_double (optarg, "--delta", &delta))
                return 2;
            break;
        case 'q':
            if (s_parse_double (optarg, "--sample-rate", &q))
                return 2;
            break;
        case 't': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull (optarg, &end, 10);
            if (errno || end == optarg || *end != '\0' || optarg[0] == '-' || v == 0) {
                fprintf (stderr, "fl-dp-calibrate: --rounds: '%s' is not an integer >= 1\n", optarg);
                return 2;
            }
            rounds = v;
            have_rounds = 1;
            break;
        }
        case 'v':
            verbose = 1;
            break;
        case 'h':
            s_usage (stdout);
            return 0;
        default:
            s_usage (stderr);
            return 2;
        }
    }
    if (optind != argc || isnan (eps) == isnan (sigma) || isnan (delta) || isnan (q) || !have_rounds) {
        fprintf (stderr, "fl-dp-calibrate: give exactly one of --epsilon / --noise-multiplier, "
                         "and --delta, --rounds, --sample-rate\n");
        s_usage (stderr);
        return 2;
    }
    if (!(delta > 0 && delta < 1) || !(q > 0 && q <= 1)) {
        fprintf (stderr, "fl-dp-calibrate: need 0 < delta < 1 and 0 < sample rate <= 1\n");
        return 2;
    }
    if (!isnan (eps)) {
        double z;
        if (fl_dp_find_noise_multiplier (eps, delta, q, rounds, &z) != 0) {
            fprintf (stderr, "fl-dp-calibrate: no noise multiplier <= %g reaches epsilon %g\n",
                     FL_ACCOUNTANT_MAX_SIGMA, eps);
            return 1;
        }
        printf ("%.9g\n", z);
        if (verbose) {
            double order, got = fl_dp_epsilon (z, q, rounds, delta, &order);
            fprintf (stderr, "noise_multiplier %.6f gives epsilon %.6f (target %g) at delta %g, "
                             "%llu rounds, sample rate %g, optimal order %g\n",
                     z, got, eps, delta, (unsigned long long) rounds, q, order);
        }
        return 0;
    }
    if (sigma < 0) {
        fprintf (stderr, "fl-dp-calibrate: --noise-multiplier must be >= 0\n");
        return 2;
    }
    double order, e = fl_dp_epsilon (sigma, q, rounds, delta, &order);
    if (isnan (e))
        return 1;
    printf ("%.9g\n", e);
    if (verbose)
        fprintf (stderr, "epsilon %.9g at delta %g for noise multiplier %g, %llu rounds, "
                         "sample rate %g, optimal order %g\n",
                 e, delta, sigma, (unsigned long long) rounds, q, order);
    return 0;
}
