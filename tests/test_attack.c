/*  test_attack.c - fl_attack: every attack on hand-computed inputs, the
    normal quantile against mpmath, min-max / min-sum against their closed
    form; and the attacks as an adversary runs them (io/fl_adversary): the
    collusion channel (files, corrupt / foreign files, timeout, three
    colluders in threads) and a member wrapped through its update hook
    (sign flip, label flip) driven by hand-made coordinator messages.

    High-precision references: Python 3 mpmath 1.3.0 at mp.dps = 50,
    Phi^{-1}(p) = sqrt(2) * erfinv(2p - 1). */
#include <czmq.h>
#include <dirent.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl_adversary.h"
#include "client_sim.h"
#include "fl_attack.h"
#include "fl_client.h"
#include "fl_model.h"
#include "fl_rng.h"
#include "fl_test.h"
#include "fl_wire.h"

static void
test_names (void)
{
    for (int k = 0; k < FL_ATTACK_KIND_COUNT; k++) {
        fl_attack_kind_t back;
        FL_CHECK (fl_attack_kind_parse (fl_attack_kind_name ((fl_attack_kind_t) k), &back) == 0);
        FL_CHECK ((int) back == k);
    }
    fl_attack_kind_t k;
    FL_CHECK (fl_attack_kind_parse ("min_max", &k) == 0 && k == FL_ATTACK_MIN_MAX);
    FL_CHECK (fl_attack_kind_parse ("label_flip", &k) == 0 && k == FL_ATTACK_LABEL_FLIP);
    FL_CHECK (fl_attack_kind_parse ("lie", &k) == -1);
    FL_CHECK (fl_attack_kind_parse ("", &k) == -1);
    FL_CHECK (fl_attack_kind_parse (NULL, &k) == -1);
    FL_CHECK (strcmp (fl_attack_kind_name ((fl_attack_kind_t) 99), "?") == 0);
    FL_CHECK (fl_attack_needs_rows (FL_ATTACK_ALIE) && fl_attack_needs_rows (FL_ATTACK_IPM)
              && fl_attack_needs_rows (FL_ATTACK_MIN_MAX) && fl_attack_needs_rows (FL_ATTACK_MIN_SUM));
    FL_CHECK (!fl_attack_needs_rows (FL_ATTACK_SIGN_FLIP) && !fl_attack_needs_rows (FL_ATTACK_LABEL_FLIP));

    fl_attack_params_t p;
    fl_attack_params_defaults (&p);
    FL_CHECK (fl_attack_params_set_strength (FL_ATTACK_IPM, &p, 0.5) == 0 && p.epsilon == 0.5);
    FL_CHECK (fl_attack_params_set_strength (FL_ATTACK_ALIE, &p, 1.5) == 0 && p.z == 1.5);
    FL_CHECK (fl_attack_params_set_strength (FL_ATTACK_GAUSSIAN, &p, 3) == 0 && p.sigma == 3);
    FL_CHECK (fl_attack_params_set_strength (FL_ATTACK_MIN_SUM, &p, 4) == 0 && p.gamma == 4);
    FL_CHECK (fl_attack_params_set_strength (FL_ATTACK_LABEL_FLIP, &p, 1) == -1);
    FL_CHECK (fl_attack_params_set_strength (FL_ATTACK_SCALE, &p, NAN) == -1);
}

static void
test_sign_flip_scale (void)
{
    const float x[5] = {1.0f, -2.0f, 0.5f, 0.0f, 3.25f};
    float out[5];
    fl_attack_sign_flip (x, 5, 1.0, out);
    const float e1[5] = {-1.0f, 2.0f, -0.5f, 0.0f, -3.25f};
    for (int j = 0; j < 5; j++)
        FL_CHECK (out[j] == e1[j]);
    fl_attack_sign_flip (x, 5, 4.0, out);
    for (int j = 0; j < 5; j++)
        FL_CHECK (out[j] == -4.0f * x[j]);
    fl_attack_scale (x, 5, -3.0, out);
    const float e2[5] = {-3.0f, 6.0f, -1.5f, 0.0f, -9.75f};
    for (int j = 0; j < 5; j++)
        FL_CHECK (out[j] == e2[j]);

    /* Through the dispatcher: defaults gamma 1 (sign flip) and 10 (scale), in place. */
    fl_attack_params_t p;
    fl_attack_params_defaults (&p);
    float y[5];
    memcpy (y, x, sizeof y);
    FL_CHECK (fl_attack_apply (FL_ATTACK_SIGN_FLIP, &p, y, NULL, 0, 5, NULL, y) == 0);
    for (int j = 0; j < 5; j++)
        FL_CHECK (y[j] == -x[j]);
    FL_CHECK (fl_attack_apply (FL_ATTACK_SCALE, &p, x, NULL, 0, 5, NULL, out) == 0);
    for (int j = 0; j < 5; j++)
        FL_CHECK (out[j] == 10.0f * x[j]);
    FL_CHECK (fl_attack_apply (FL_ATTACK_NONE, &p, x, NULL, 0, 5, NULL, out) == 0);
    FL_CHECK (memcmp (out, x, sizeof out) == 0);
    FL_CHECK (fl_attack_apply (FL_ATTACK_LABEL_FLIP, &p, x, NULL, 0, 5, NULL, out) == 0);
    FL_CHECK (memcmp (out, x, sizeof out) == 0);
    /* Refusals: non-finite input, d = 0, gaussian without rng. */
    float bad[2] = {1.0f, NAN};
    FL_CHECK (fl_attack_apply (FL_ATTACK_SIGN_FLIP, &p, bad, NULL, 0, 2, NULL, out) == -1);
    FL_CHECK (fl_attack_apply (FL_ATTACK_SIGN_FLIP, &p, x, NULL, 0, 0, NULL, out) == -1);
    FL_CHECK (fl_attack_apply (FL_ATTACK_GAUSSIAN, &p, x, NULL, 0, 5, NULL, out) == -1);
}

static void
test_gaussian (void)
{
    const size_t n = 200000;
    float *x = (float *) malloc (n * sizeof (float)), *out = (float *) malloc (n * sizeof (float));
    for (size_t j = 0; j < n; j++)
        x[j] = 3.0f;
    fl_rng_t *r = fl_rng_new_u64 (11, 0);
    /* Pure noise, sigma 2: mean 0 (sd of the mean 2/sqrt(n) = 0.0045),
       variance 4 (sd of the estimate 4*sqrt(2/n) = 0.0126); 5-sd tolerances. */
    FL_CHECK (fl_attack_gaussian (x, n, 2.0, 0, r, out) == 0);
    double s = 0, s2 = 0;
    for (size_t j = 0; j < n; j++) {
        s += out[j];
        s2 += (double) out[j] * out[j];
    }
    double mean = s / n, var = s2 / n - mean * mean;
    FL_CHECK_CLOSE (mean, 0.0, 0.023, 0);
    FL_CHECK_CLOSE (var, 4.0, 0.065, 0);
    /* Additive: centred at x. */
    fl_attack_params_t p;
    fl_attack_params_defaults (&p);
    p.sigma = 0.5;
    p.additive = 1;
    FL_CHECK (fl_attack_apply (FL_ATTACK_GAUSSIAN, &p, x, NULL, 0, n, r, out) == 0);
    s = s2 = 0;
    for (size_t j = 0; j < n; j++) {
        s += out[j];
        s2 += ((double) out[j] - 3.0) * ((double) out[j] - 3.0);
    }
    FL_CHECK_CLOSE (s / n, 3.0, 0.006, 0);
    FL_CHECK_CLOSE (s2 / n, 0.25, 0.004, 0);
    /* Reproducible from the seed. */
    fl_rng_t *a = fl_rng_new_u64 (5, 1), *b = fl_rng_new_u64 (5, 1);
    float u[16], v[16];
    FL_CHECK (fl_attack_gaussian (x, 16, 1.0, 1, a, u) == 0);
    FL_CHECK (fl_attack_gaussian (x, 16, 1.0, 1, b, v) == 0);
    FL_CHECK (memcmp (u, v, sizeof u) == 0);
    FL_CHECK (fl_attack_gaussian (x, 16, -1.0, 1, a, u) == -1);
    FL_CHECK (fl_attack_gaussian (x, 16, INFINITY, 1, a, u) == -1);
    fl_rng_destroy (&a);
    fl_rng_destroy (&b);
    fl_rng_destroy (&r);
    free (x);
    free (out);
}

static void
test_label_flip (void)
{
    const int32_t y2[6] = {0, 1, 1, 0, 0, 1};
    int32_t out[6];
    FL_CHECK (fl_attack_label_flip (y2, 6, 2, out) == 0);
    for (int i = 0; i < 6; i++)
        FL_CHECK (out[i] == 1 - y2[i]);
    const int32_t y3[4] = {0, 1, 2, 2};
    const int32_t e3[4] = {1, 2, 0, 0};
    FL_CHECK (fl_attack_label_flip (y3, 4, 3, out) == 0);
    FL_CHECK (memcmp (out, e3, sizeof e3) == 0);
    /* In place, and refusals leave out untouched. */
    int32_t z[4] = {0, 1, 2, 2};
    FL_CHECK (fl_attack_label_flip (z, 4, 3, z) == 0);
    FL_CHECK (memcmp (z, e3, sizeof e3) == 0);
    int32_t keep[4] = {7, 7, 7, 7};
    FL_CHECK (fl_attack_label_flip (y3, 4, 2, keep) == -1);     /* label 2 >= K */
    FL_CHECK (keep[0] == 7 && keep[3] == 7);
    FL_CHECK (fl_attack_label_flip (y2, 6, 1, keep) == -1);
    const int32_t neg[1] = {-1};
    FL_CHECK (fl_attack_label_flip (neg, 1, 2, keep) == -1);

    /* The data-set form keeps features and names; K may grow to the model's. */
    const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int32_t y[4] = {0, 1, 1, 0};
    const char *names[2] = {"age", "bmi"};
    fl_dataset_t *ds = fl_dataset_new (4, 2, x, y, 2, names, "diabetes");
    fl_dataset_t *fl = fl_attack_label_flip_dataset (ds, 2);
    FL_CHECK (fl && fl_dataset_rows (fl) == 4 && fl_dataset_features (fl) == 2 && fl_dataset_classes (fl) == 2);
    FL_CHECK (fl && memcmp (fl_dataset_x (fl), x, sizeof x) == 0);
    for (int i = 0; fl && i < 4; i++)
        FL_CHECK (fl_dataset_y (fl)[i] == 1 - y[i]);
    FL_CHECK (fl && strcmp (fl_dataset_feature_name (fl, 1), "bmi") == 0
              && strcmp (fl_dataset_label_name (fl), "diabetes") == 0);
    fl_dataset_destroy (&fl);
    fl = fl_attack_label_flip_dataset (ds, 3);           /* 1 -> 2 mod 3 */
    FL_CHECK (fl && fl_dataset_classes (fl) == 3 && fl_dataset_y (fl)[1] == 2 && fl_dataset_y (fl)[0] == 1);
    fl_dataset_destroy (&fl);
    FL_CHECK (fl_attack_label_flip_dataset (ds, 1) == NULL);
    fl_dataset_destroy (&ds);
}

static void
test_norm_ppf (void)
{
    static const struct { double p, z; } ref[] = {
        {0.68, 0.46769879911450821441},   {0.975, 1.9599639845400542355},
        {0.5, 0.0},                       {0.02, -2.0537489106318230529},
        {0.01, -2.3263478740408411009},   {1e-10, -6.3613409024040562047},
        {0.999, 3.0902323061678135415},   {0.75, 0.6744897501960817432},
        {0.6, 0.2533471031357997988},     {0.3, -0.52440051270804078404},
        {1e-20, -9.2623400897984075737},  {0.02425, -1.9729610513118848503},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++)
        FL_CHECK_CLOSE (fl_attack_norm_ppf (ref[i].p), ref[i].z, 1e-15, 2e-14);
    /* Round trip Phi(Phi^{-1}(p)) = p on a grid covering all three branches. */
    for (int i = 1; i < 1000; i++) {
        double p = i / 1000.0;
        double x = fl_attack_norm_ppf (p);
        FL_CHECK_CLOSE (0.5 * erfc (-x / M_SQRT2), p, 0, 1e-14);
        FL_CHECK_CLOSE (fl_attack_norm_ppf (1 - p), -x, 1e-14, 1e-13);
    }
    FL_CHECK (isnan (fl_attack_norm_ppf (0.0)) && isnan (fl_attack_norm_ppf (1.0)));
    FL_CHECK (isnan (fl_attack_norm_ppf (-0.1)) && isnan (fl_attack_norm_ppf (NAN)));
}

static void
test_alie (void)
{
    /* z_max for (n, f): s = floor(n/2 + 1) - f, z = Phi^{-1}((n - s)/n) (mpmath). */
    static const struct { size_t n, f; double z; } ref[] = {
        {50, 10, 0.46769879911450821441},  /* s = 16, Phi^{-1}(0.68) */
        {50, 1, 0.0},                      /* s = 25, Phi^{-1}(0.5) */
        {50, 24, 1.7506860712521699794},   /* s = 2, Phi^{-1}(0.96) */
        {50, 25, 2.0537489106318230529},   /* s = 1, Phi^{-1}(0.98) */
        {51, 25, 2.0619165008094621044},   /* s = 1, Phi^{-1}(50/51) */
        {10, 2, 0.2533471031357997988},    /* s = 4, Phi^{-1}(0.6) */
        {100, 20, 0.49585034734745332657}, /* s = 31, Phi^{-1}(0.69) */
        {7, 1, 0.1800123697927050316},     /* s = 3, Phi^{-1}(4/7) */
        {20, 5, 0.52440051270804078404},   /* s = 6, Phi^{-1}(0.7) */
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        double z = NAN;
        FL_CHECK (fl_attack_alie_z (ref[i].n, ref[i].f, &z) == 0);
        FL_CHECK_CLOSE (z, ref[i].z, 1e-15, 2e-14);
    }
    double z;
    FL_CHECK (fl_attack_alie_z (50, 0, &z) == -1);
    FL_CHECK (fl_attack_alie_z (50, 26, &z) == -1);      /* s = 0: a majority */
    FL_CHECK (fl_attack_alie_z (10, 10, &z) == -1);
    FL_CHECK (fl_attack_alie_z (0, 0, &z) == -1);

    /* mu - z sigma on rows [[1,2],[3,2],[5,8]]: mu = (3, 4), population
       sigma = (sqrt(8/3), sqrt(8)). */
    const float rows[6] = {1, 2, 3, 2, 5, 8};
    float out[2];
    FL_CHECK (fl_attack_alie (rows, 3, 2, 1.5, out) == 0);
    FL_CHECK_CLOSE (out[0], 3 - 1.5 * sqrt (8.0 / 3), 1e-6, 0);
    FL_CHECK_CLOSE (out[1], 4 - 1.5 * sqrt (8.0), 1e-6, 0);
    /* Through the dispatcher with z from (n, f) = (50, 10). */
    fl_attack_params_t p;
    fl_attack_params_defaults (&p);
    p.n = 50;
    p.f = 10;
    FL_CHECK (fl_attack_apply (FL_ATTACK_ALIE, &p, rows, rows, 3, 2, NULL, out) == 0);
    FL_CHECK_CLOSE (out[0], 3 - 0.46769879911450821441 * sqrt (8.0 / 3), 1e-6, 0);
    FL_CHECK_CLOSE (out[1], 4 - 0.46769879911450821441 * sqrt (8.0), 1e-6, 0);
    p.f = 30;                                             /* a majority, no z given */
    FL_CHECK (fl_attack_apply (FL_ATTACK_ALIE, &p, rows, rows, 3, 2, NULL, out) == -1);
    p.z = 2.0;                                            /* explicit z wins */
    FL_CHECK (fl_attack_apply (FL_ATTACK_ALIE, &p, rows, rows, 3, 2, NULL, out) == 0);
    FL_CHECK_CLOSE (out[0], 3 - 2 * sqrt (8.0 / 3), 1e-6, 0);
    /* A lone attacker: sigma = 0, so ALIE sends its own update. */
    FL_CHECK (fl_attack_apply (FL_ATTACK_ALIE, &p, rows, NULL, 0, 2, NULL, out) == 0);
    FL_CHECK (out[0] == 1.0f && out[1] == 2.0f);
    FL_CHECK (fl_attack_alie (rows, 3, 2, NAN, out) == -1);
    FL_CHECK (fl_attack_alie (rows, 0, 2, 1, out) == -1);
}

static void
test_ipm (void)
{
    const float rows[6] = {1, 2, 3, 2, 5, 8};      /* mu = (3, 4) */
    float out[2];
    FL_CHECK (fl_attack_ipm (rows, 3, 2, 0.5, out) == 0);
    FL_CHECK (out[0] == -1.5f && out[1] == -2.0f);
    fl_attack_params_t p;
    fl_attack_params_defaults (&p);                 /* epsilon 0.1 */
    FL_CHECK (fl_attack_apply (FL_ATTACK_IPM, &p, rows, rows, 3, 2, NULL, out) == 0);
    FL_CHECK (out[0] == (float) (-0.1 * 3.0) && out[1] == (float) (-0.1 * 4.0));
    FL_CHECK (fl_attack_ipm (rows, 3, 2, INFINITY, out) == -1);
    const float bad[2] = {INFINITY, 0};
    FL_CHECK (fl_attack_ipm (bad, 1, 2, 0.5, out) == -1);
}

/*  The constraint in double on the float output: max (min-max) or sum
    (min-sum) of squared distances to the rows, and the benign bound. */
static void
s_mm_constraint (fl_attack_kind_t which, const float *rows, size_t B, size_t d, const float *m,
                 double *value, double *bound)
{
    double v = 0, t = 0;
    for (size_t i = 0; i < B; i++) {
        double di = 0, si = 0;
        for (size_t j = 0; j < d; j++)
            di += ((double) m[j] - rows[i * d + j]) * ((double) m[j] - rows[i * d + j]);
        for (size_t k = 0; k < B; k++) {
            double dk = 0;
            for (size_t j = 0; j < d; j++)
                dk += ((double) rows[k * d + j] - rows[i * d + j]) * ((double) rows[k * d + j] - rows[i * d + j]);
            si += dk;
            if (which == FL_ATTACK_MIN_MAX && dk > t)
                t = dk;
        }
        if (which == FL_ATTACK_MIN_SUM && si > t)
            t = si;
        v = which == FL_ATTACK_MIN_MAX ? (di > v ? di : v) : v + di;
    }
    *value = v;
    *bound = t;
}

static void
test_min_max_hand (void)
{
    /* d = 1, rows {0, 1, 5}: mu = 2, population sigma s = sqrt(14/3).
       min-max: bound 25, max_i (2 - g s - x_i)^2 = (3 + g s)^2 -> g s = 2, out 0.
       min-sum: bound max(26, 17, 41) = 41, sum = 14 + 3 (g s)^2 -> g s = 3, out -1. */
    const float rows[3] = {0, 1, 5};
    const double s = sqrt (14.0 / 3);
    float out;
    double g;
    FL_CHECK (fl_attack_min_max_sum (FL_ATTACK_MIN_MAX, rows, 3, 1, FL_ATTACK_PERTURB_STD, 10, 1e-7, &out, &g) == 0);
    FL_CHECK (g <= 2 / s && g >= 2 / s - 1e-7);
    FL_CHECK_CLOSE (out, 0.0, 1e-6, 0);
    FL_CHECK (fl_attack_min_max_sum (FL_ATTACK_MIN_SUM, rows, 3, 1, FL_ATTACK_PERTURB_STD, 10, 1e-7, &out, &g) == 0);
    FL_CHECK (g <= 3 / s && g >= 3 / s - 1e-7);
    FL_CHECK_CLOSE (out, -1.0, 1e-6, 0);
    /* Unit and sign perturbations: p = -1 in one dimension, so g = 2 and 3;
       gamma_init 0.5 makes the bracket double upwards first. */
    for (int k = 0; k < 2; k++) {
        fl_attack_perturb_t pt = k ? FL_ATTACK_PERTURB_SIGN : FL_ATTACK_PERTURB_UNIT;
        FL_CHECK (fl_attack_min_max_sum (FL_ATTACK_MIN_MAX, rows, 3, 1, pt, 0.5, 1e-6, &out, &g) == 0);
        FL_CHECK (g <= 2 && g >= 2 - 1e-6);
        FL_CHECK (fl_attack_min_max_sum (FL_ATTACK_MIN_SUM, rows, 3, 1, pt, 0.5, 1e-6, &out, &g) == 0);
        FL_CHECK (g <= 3 && g >= 3 - 1e-6);
        FL_CHECK_CLOSE (out, -1.0, 2e-6, 0);
    }
    /* Degenerate: one row, or all rows equal: p = 0 (std), gamma 0, out = mu. */
    const float same[6] = {1, -2, 1, -2, 1, -2};
    float o2[2];
    FL_CHECK (fl_attack_min_max_sum (FL_ATTACK_MIN_MAX, same, 3, 2, FL_ATTACK_PERTURB_STD, 10, 1e-5, o2, &g) == 0);
    FL_CHECK (g == 0 && o2[0] == 1.0f && o2[1] == -2.0f);
    FL_CHECK (fl_attack_min_max_sum (FL_ATTACK_MIN_SUM, same, 1, 2, FL_ATTACK_PERTURB_SIGN, 10, 1e-5, o2, &g) == 0);
    FL_CHECK (g == 0 && o2[0] == 1.0f && o2[1] == -2.0f);   /* B = 1: bound 0 */
    /* Refusals. */
    FL_CHECK (fl_attack_min_max_sum (FL_ATTACK_MIN_MAX, rows, 3, 1, FL_ATTACK_PERTURB_STD, 0, 1e-5, &out, &g) == -1);
    FL_CHECK (fl_attack_min_max_sum (FL_ATTACK_MIN_MAX, rows, 3, 1, FL_ATTACK_PERTURB_STD, 10, 0, &out, &g) == -1);
    FL_CHECK (fl_attack_min_max_sum (FL_ATTACK_IPM, rows, 3, 1, FL_ATTACK_PERTURB_STD, 10, 1e-5, &out, &g) == -1);
    FL_CHECK (fl_attack_min_max_sum (FL_ATTACK_MIN_MAX, rows, 3, 1, (fl_attack_perturb_t) 9, 10, 1e-5, &out, &g) == -1);
    const float bad[2] = {0, NAN};
    FL_CHECK (fl_attack_min_max_sum (FL_ATTACK_MIN_SUM, bad, 2, 1, FL_ATTACK_PERTURB_STD, 10, 1e-5, &out, &g) == -1);
}

/*  Random rows: gamma from the bisection against the closed form.  With
    a_i = mu - x_i, ||a_i + g p||^2 = A g^2 + 2 b_i g + c_i, A = ||p||^2:
      min-max: g* = min_i (-b_i + sqrt(b_i^2 - A (c_i - T))) / A
      min-sum: g* = sqrt((T - sum_i c_i) / (B A))   (sum_i b_i = 0). */
static void
test_min_max_property (void)
{
    fl_rng_t *r = fl_rng_new_u64 (2021, 0);
    const size_t B = 7, d = 40;
    float rows[7 * 40], out[40];
    for (int trial = 0; trial < 12; trial++) {
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < d; j++)
                rows[i * d + j] = (float) (0.3 * (double) (j % 5) - 0.2 + (0.5 + i * 0.1) * fl_rng_normal (r));
        fl_attack_kind_t which = trial % 2 ? FL_ATTACK_MIN_SUM : FL_ATTACK_MIN_MAX;
        fl_attack_perturb_t pt = (fl_attack_perturb_t) ((trial / 2) % 3);
        double g = -1, tol = 1e-5;
        FL_CHECK (fl_attack_min_max_sum (which, rows, B, d, pt, 10, tol, out, &g) == 0);
        double value, bound;
        s_mm_constraint (which, rows, B, d, out, &value, &bound);
        FL_CHECK (value <= bound);                     /* the constraint holds */
        /* closed form */
        double mu[40], p[40], A = 0, nm = 0;
        for (size_t j = 0; j < d; j++) {
            double s = 0, s2 = 0;
            for (size_t i = 0; i < B; i++)
                s += rows[i * d + j];
            mu[j] = s / B;
            for (size_t i = 0; i < B; i++)
                s2 += (rows[i * d + j] - mu[j]) * (rows[i * d + j] - mu[j]);
            p[j] = -sqrt (s2 / B);
            nm += mu[j] * mu[j];
        }
        for (size_t j = 0; j < d; j++) {
            if (pt == FL_ATTACK_PERTURB_UNIT)
                p[j] = -mu[j] / sqrt (nm);
            else if (pt == FL_ATTACK_PERTURB_SIGN)
                p[j] = mu[j] > 0 ? -1 : 1;
            A += p[j] * p[j];
        }
        double gstar = INFINITY, csum = 0;
        for (size_t i = 0; i < B; i++) {
            double b = 0, c = 0;
            for (size_t j = 0; j < d; j++) {
                double a = mu[j] - rows[i * d + j];
                b += a * p[j];
                c += a * a;
            }
            csum += c;
            double root = (-b + sqrt (b * b - A * (c - bound))) / A;
            if (root < gstar)
                gstar = root;
        }
        if (which == FL_ATTACK_MIN_SUM)
            gstar = sqrt ((bound - csum) / (B * A));
        /* gamma is within the bisection tolerance below g*, up to the float
           rounding of the output (relative 1e-6 of g*). */
        FL_CHECK (g <= gstar * (1 + 1e-6));
        FL_CHECK (g >= gstar - tol - 1e-6 * gstar);
        /* Maximality on the real output: a step of 2 tol past gamma breaks it. */
        float over[40];
        for (size_t j = 0; j < d; j++)
            over[j] = (float) (mu[j] + (g + 2 * tol + 1e-6 * gstar) * p[j]);
        double v2, b2;
        s_mm_constraint (which, rows, B, d, over, &v2, &b2);
        FL_CHECK (v2 > b2);
        if (fl_test_verbose_)
            printf ("  %s/%d: gamma %.9f, closed form %.9f\n", fl_attack_kind_name (which), (int) pt, g, gstar);
    }
    /* The dispatcher gives the same vector (and leaves rows intact when out aliases honest). */
    fl_attack_params_t prm;
    fl_attack_params_defaults (&prm);
    float ref[40], mine[40], copy[7 * 40];
    memcpy (copy, rows, sizeof rows);
    FL_CHECK (fl_attack_min_max_sum (FL_ATTACK_MIN_MAX, rows, B, d, FL_ATTACK_PERTURB_STD, 10, 1e-5, ref, NULL) == 0);
    memcpy (mine, rows, sizeof mine);
    FL_CHECK (fl_attack_apply (FL_ATTACK_MIN_MAX, &prm, mine, rows, B, d, NULL, mine) == 0);
    FL_CHECK (memcmp (mine, ref, sizeof ref) == 0);
    FL_CHECK (memcmp (copy, rows, sizeof rows) == 0);
    memcpy (mine, rows, sizeof mine);                  /* alone: rows = own update, out aliases it */
    FL_CHECK (fl_attack_apply (FL_ATTACK_MIN_SUM, &prm, mine, NULL, 0, d, NULL, mine) == 0);
    FL_CHECK (memcmp (mine, rows, sizeof mine) == 0);  /* B = 1: bound 0, gamma 0 */
    fl_rng_destroy (&r);
}

/* ---- collusion channel ---------------------------------------------------- */

static char s_dir[256];

static void
s_make_dir (void)
{
    FL_CHECK (fl_test_mkdtemp (s_dir, sizeof s_dir, "fl-test-attack") != NULL);
}

/*  Counts the entries of s_dir (dot files included, "." and ".." not) whose
    name ends in suffix; with unlink set, removes them. */
static size_t
s_scan_dir (const char *suffix, int unlink_them)
{
    size_t n = 0;
    DIR *dh = opendir (s_dir);
    struct dirent *de;
    while (dh && (de = readdir (dh)) != NULL) {
        const char *name = de->d_name;
        size_t len = strlen (name), sl = strlen (suffix);
        if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0 || len < sl
            || strcmp (name + len - sl, suffix) != 0)
            continue;
        n++;
        if (unlink_them) {
            char path[600];
            snprintf (path, sizeof path, "%s/%s", s_dir, name);
            unlink (path);
        }
    }
    if (dh)
        closedir (dh);
    return n;
}

static size_t
s_count_files (const char *suffix)
{
    return s_scan_dir (suffix, 0);
}

static void
s_remove_dir (void)
{
    s_scan_dir ("", 1);
    FL_CHECK (rmdir (s_dir) == 0);
}

static int
s_row_is (const float *row, float base, size_t d)
{
    for (size_t j = 0; j < d; j++)
        if (row[j] != base + (float) j)
            return 0;
    return 1;
}

/*  Copies the one file whose name contains tag to dst_name, then applies
    mutate (flip a byte at offset, or truncate to len) to the copy. */
static void
s_copy_file (const char *src_name, const char *dst_name, long flip_at, long truncate_to)
{
    char src[512], dst[512];
    snprintf (src, sizeof src, "%s/%s", s_dir, src_name);
    snprintf (dst, sizeof dst, "%s/%s", s_dir, dst_name);
    FILE *f = fopen (src, "rb");
    FL_CHECK (f != NULL);
    if (!f)
        return;
    uint8_t buf[4096];
    size_t n = fread (buf, 1, sizeof buf, f);
    fclose (f);
    if (flip_at >= 0 && (size_t) flip_at < n)
        buf[flip_at] ^= 0x40;
    if (truncate_to >= 0 && (size_t) truncate_to < n)
        n = (size_t) truncate_to;
    f = fopen (dst, "wb");
    FL_CHECK (f && fwrite (buf, 1, n, f) == n);
    if (f)
        fclose (f);
}

static void
s_file_name (const uint8_t run[16], uint64_t round, const char *member, char *out, size_t cap)
{
    char hex[33], tag[17];
    uint8_t h[8];
    sodium_bin2hex (hex, sizeof hex, run, 16);
    crypto_generichash (h, 8, (const uint8_t *) member, strlen (member), NULL, 0);
    sodium_bin2hex (tag, sizeof tag, h, 8);
    snprintf (out, cap, "%s-%llu-%s.flc", hex, (unsigned long long) round, tag);
}

static void
test_collude_sequential (void)
{
    s_make_dir ();
    const size_t d = 10;
    uint8_t run[16], other_run[16];
    memset (run, 0xA5, 16);
    memset (other_run, 0x5A, 16);
    float ua[10], ub[10], uc[10];
    for (size_t j = 0; j < d; j++) {
        ua[j] = 100.0f + (float) j;
        ub[j] = 200.0f + (float) j;
        uc[j] = 300.0f + (float) j;
    }
    float *rows = NULL;
    size_t n = 0;
    /* b arrives first with timeout 0: writes its file, finds nobody else. */
    FL_CHECK (fl_adversary_collude (s_dir, run, 5, "b", ub, d, 3, 0, &rows, &n) == 0);
    FL_CHECK (n == 1 && rows && s_row_is (rows, 200.0f, d));
    free (rows);
    FL_CHECK (s_count_files (".flc") == 1);
    /* c sees b. */
    FL_CHECK (fl_adversary_collude (s_dir, run, 5, "c", uc, d, 3, 0, &rows, &n) == 0);
    FL_CHECK (n == 2 && s_row_is (rows, 300.0f, d) && s_row_is (rows + d, 200.0f, d));
    free (rows);
    /* Round 4 and another run: present in the directory, never accepted for round 5. */
    float *tmp;
    size_t tn;
    FL_CHECK (fl_adversary_collude (s_dir, run, 4, "x", ua, d, 1, 0, &tmp, &tn) == 0 && tn == 1);
    free (tmp);
    FL_CHECK (s_count_files (".flc") == 2);            /* n_colluders 1: nothing written */
    FL_CHECK (fl_adversary_collude (s_dir, run, 4, "x", ua, d, 2, 0, &tmp, &tn) == 0 && tn == 1);
    free (tmp);
    FL_CHECK (fl_adversary_collude (s_dir, other_run, 5, "y", ua, d, 2, 0, &tmp, &tn) == 0 && tn == 1);
    free (tmp);
    /* Forgeries named like round-5 files of this run: a round-4 file, an
       other-run file, a flipped payload byte, a flipped header byte, a
       truncated file, a file with another d, and one non-finite value. */
    char src[160], dst[160];
    s_file_name (run, 4, "x", src, sizeof src);
    s_file_name (run, 5, "forged-round", dst, sizeof dst);
    s_copy_file (src, dst, -1, -1);
    s_file_name (other_run, 5, "y", src, sizeof src);
    s_file_name (run, 5, "forged-run", dst, sizeof dst);
    s_copy_file (src, dst, -1, -1);
    s_file_name (run, 5, "b", src, sizeof src);
    s_file_name (run, 5, "flip-payload", dst, sizeof dst);
    s_copy_file (src, dst, FL_ADVERSARY_FILE_HEADERBYTES + 5, -1);
    s_file_name (run, 5, "flip-header", dst, sizeof dst);
    s_copy_file (src, dst, 30, -1);
    s_file_name (run, 5, "truncated", dst, sizeof dst);
    s_copy_file (src, dst, -1, FL_ADVERSARY_FILE_HEADERBYTES + 4 * 9);
    float *tmp2, wide[11] = {0};
    FL_CHECK (fl_adversary_collude (s_dir, run, 6, "wide", wide, 11, 2, 0, &tmp2, &tn) == 0);
    free (tmp2);
    s_file_name (run, 6, "wide", src, sizeof src);
    s_file_name (run, 5, "wrong-d", dst, sizeof dst);
    s_copy_file (src, dst, -1, -1);
    float nanrow[10];
    memcpy (nanrow, ua, sizeof nanrow);
    nanrow[3] = NAN;
    FL_CHECK (fl_adversary_collude (s_dir, run, 7, "nan", nanrow, d, 2, 0, &tmp2, &tn) == 0);
    free (tmp2);
    s_file_name (run, 7, "nan", src, sizeof src);
    s_file_name (run, 5, "nan", dst, sizeof dst);
    s_copy_file (src, dst, -1, -1);

    /* a: with n_colluders 3, gets exactly itself, b and c; every forgery skipped. */
    FL_CHECK (fl_adversary_collude (s_dir, run, 5, "a", ua, d, 3, 2000, &rows, &n) == 0);
    FL_CHECK (n == 3 && s_row_is (rows, 100.0f, d));
    int saw_b = 0, saw_c = 0;
    for (size_t i = 1; i < n; i++) {
        saw_b += s_row_is (rows + i * d, 200.0f, d);
        saw_c += s_row_is (rows + i * d, 300.0f, d);
    }
    FL_CHECK (saw_b == 1 && saw_c == 1);
    free (rows);
    /* Asking for more colluders than exist: returns what arrived after the
       timeout (a lower bound on the wait only; no upper-bound timing). */
    int64_t t0 = zclock_mono ();
    FL_CHECK (fl_adversary_collude (s_dir, run, 5, "a", ua, d, 6, 150, &rows, &n) == 0);
    FL_CHECK (zclock_mono () - t0 >= 150);
    FL_CHECK (n == 3);
    free (rows);
    FL_CHECK (s_count_files (".flc") == 14);            /* 10 of round 5, 4 others */
    FL_CHECK (s_count_files ("") == s_count_files (".flc"));

    /* Refusals. */
    FL_CHECK (fl_adversary_collude (s_dir, run, 5, "a", ua, 0, 3, 0, &rows, &n) == -1 && rows == NULL);
    FL_CHECK (fl_adversary_collude (s_dir, run, 5, "a", ua, d, 0, 0, &rows, &n) == -1);
    FL_CHECK (fl_adversary_collude (s_dir, run, 5, "a", ua, d, FL_ADVERSARY_MAX_COLLUDERS + 1, 0, &rows, &n) == -1);
    FL_CHECK (fl_adversary_collude (s_dir, run, 5, "a", ua, d, 3, -1, &rows, &n) == -1);
    FL_CHECK (fl_adversary_collude ("/proc/no-such-dir/x", run, 5, "a", ua, d, 3, 0, &rows, &n) == -1);
    s_remove_dir ();
}

typedef struct {
    const uint8_t *run;
    const char *member;
    float base;
    float *rows;
    size_t n;
    int rc;
} s_thread_arg_t;

static void *
s_colluder (void *arg)
{
    s_thread_arg_t *a = (s_thread_arg_t *) arg;
    float u[8];
    for (size_t j = 0; j < 8; j++)
        u[j] = a->base + (float) j;
    a->rc = fl_adversary_collude (s_dir, a->run, 42, a->member, u, 8, 3, 20000, &a->rows, &a->n);
    return NULL;
}

static void
test_collude_threads (void)
{
    s_make_dir ();
    uint8_t run[16];
    randombytes_buf (run, sizeof run);
    s_thread_arg_t args[3] = {{run, "alpha", 10, NULL, 0, -1},
                              {run, "beta", 20, NULL, 0, -1},
                              {run, "gamma", 30, NULL, 0, -1}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        FL_CHECK (pthread_create (&th[i], NULL, s_colluder, &args[i]) == 0);
    for (int i = 0; i < 3; i++)
        pthread_join (th[i], NULL);
    for (int i = 0; i < 3; i++) {
        FL_CHECK (args[i].rc == 0 && args[i].n == 3);
        FL_CHECK (args[i].rows && s_row_is (args[i].rows, args[i].base, 8));    /* own row first */
        int seen[3] = {0, 0, 0};
        for (size_t r = 0; args[i].rows && r < args[i].n; r++)
            for (int k = 0; k < 3; k++)
                seen[k] += s_row_is (args[i].rows + r * 8, args[k].base, 8);
        FL_CHECK (seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
        free (args[i].rows);
    }
    s_remove_dir ();
}

static void
test_attack_round (void)
{
    s_make_dir ();
    uint8_t run[16];
    memset (run, 1, 16);
    fl_attack_params_t p;
    fl_attack_params_defaults (&p);
    p.epsilon = 0.5;
    float u1[4] = {2, 4, 6, 8}, u2[4] = {4, 4, 4, 4};
    /* First colluder times out alone: -0.5 * own. */
    FL_CHECK (fl_adversary_round (FL_ATTACK_IPM, &p, s_dir, run, 1, "m1", 2, 0, NULL, u1, 4) == 0);
    FL_CHECK (u1[0] == -1 && u1[3] == -4);
    /* Second sees the first's honest update: -0.5 * mean((4,4,4,4), (2,4,6,8)). */
    FL_CHECK (fl_adversary_round (FL_ATTACK_IPM, &p, s_dir, run, 1, "m2", 2, 1000, NULL, u2, 4) == 0);
    FL_CHECK (u2[0] == -1.5f && u2[1] == -2.0f && u2[2] == -2.5f && u2[3] == -3.0f);
    /* No directory: the own update alone, nothing written. */
    float u3[4] = {1, 1, 1, 1};
    FL_CHECK (fl_adversary_round (FL_ATTACK_IPM, &p, NULL, run, 2, "m3", 2, 0, NULL, u3, 4) == 0);
    FL_CHECK (u3[0] == -0.5f);
    FL_CHECK (s_count_files (".flc") == 2);
    s_remove_dir ();
}

/* ---- an adversary through the fl_client update hook ------------------------------------------------------- */

/*  Runs one member (an adversary's if ac is set) through WELCOME,
    STANDARDISE and TRAIN (logreg, zero global model) and returns the
    UPDATE delta (caller frees). */
static float *
s_client_delta (const fl_client_config_t *cc, const fl_adversary_config_t *ac, const fl_dataset_t *train,
                size_t *n_out)
{
    const uint8_t run[16] = "client-test-run!";
    fl_dataset_t *tr = fl_dataset_copy (train), *te = fl_dataset_copy (train);
    fl_adversary_t *adv = ac ? fl_adversary_new (ac, cc, &tr, &te) : NULL;
    fl_client_t *c = ac ? (adv ? fl_adversary_client (adv) : NULL) : fl_client_new (cc, &tr, &te);
    FL_CHECK (c != NULL);
    if (!c)
        return NULL;
    float *delta = client_sim_train (c, run, 1, fl_dataset_features (train), 1, n_out);
    FL_CHECK (delta != NULL);
    if (adv)
        fl_adversary_destroy (&adv);
    else
        fl_client_destroy (&c);
    return delta;
}

static void
test_client_hook (void)
{
    /* 24 rows, 3 features, label = [x0 + x1 > 0]. */
    float x[72];
    int32_t y[24], yf[24];
    fl_rng_t *r = fl_rng_new_u64 (3, 3);
    for (int i = 0; i < 24; i++) {
        for (int j = 0; j < 3; j++)
            x[i * 3 + j] = (float) fl_rng_normal (r);
        y[i] = x[i * 3] + x[i * 3 + 1] > 0;
        yf[i] = 1 - y[i];
    }
    fl_rng_destroy (&r);
    fl_dataset_t *ds = fl_dataset_new (24, 3, x, y, 2, NULL, NULL);
    fl_dataset_t *dsf = fl_dataset_new (24, 3, x, yf, 2, NULL, NULL);
    fl_client_config_t honest = {.member = "honest", .seed = 5, .allow_plaintext = 1};
    size_t n1 = 0, n2 = 0, n3 = 0, n4 = 0;
    float *d_honest = s_client_delta (&honest, NULL, ds, &n1);

    fl_client_config_t flip = {.member = "flipper", .seed = 5, .allow_plaintext = 1};
    fl_adversary_config_t flip_attack = {.attack = FL_ATTACK_SIGN_FLIP};
    fl_attack_params_defaults (&flip_attack.params);
    float *d_flip = s_client_delta (&flip, &flip_attack, ds, &n2);
    FL_CHECK (n1 > 0 && n1 == n2);
    for (size_t i = 0; d_honest && d_flip && i < n1; i++)
        FL_CHECK (d_flip[i] == -d_honest[i]);

    /* Label flipping trains on 1 - y: the same delta as an honest client on flipped data. */
    fl_client_config_t lf = {.member = "label-flipper", .seed = 5, .allow_plaintext = 1};
    fl_adversary_config_t lf_attack = {.attack = FL_ATTACK_LABEL_FLIP};
    fl_attack_params_defaults (&lf_attack.params);
    float *d_lf = s_client_delta (&lf, &lf_attack, ds, &n3);
    float *d_ref = s_client_delta (&honest, NULL, dsf, &n4);
    FL_CHECK (n3 == n1 && n4 == n1);
    int differs = 0;
    for (size_t i = 0; d_lf && d_ref && d_honest && i < n1; i++) {
        FL_CHECK (d_lf[i] == d_ref[i]);
        differs |= d_lf[i] != d_honest[i];
    }
    FL_CHECK (differs);
    free (d_honest);
    free (d_flip);
    free (d_lf);
    free (d_ref);
    fl_dataset_destroy (&ds);
    fl_dataset_destroy (&dsf);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    if (sodium_init () < 0)
        return 1;
    zsys_init ();
    zsys_set_logstream (stderr);
    if (!fl_test_verbose_)
        zsys_set_logsystem (false);
    FL_RUN (test_names);
    FL_RUN (test_sign_flip_scale);
    FL_RUN (test_gaussian);
    FL_RUN (test_label_flip);
    FL_RUN (test_norm_ppf);
    FL_RUN (test_alie);
    FL_RUN (test_ipm);
    FL_RUN (test_min_max_hand);
    FL_RUN (test_min_max_property);
    FL_RUN (test_collude_sequential);
    FL_RUN (test_collude_threads);
    FL_RUN (test_attack_round);
    FL_RUN (test_client_hook);
    FL_TEST_DONE ();
}
