/*  fl_attack.c - Byzantine attacks for robustness evaluation (see fl_attack.h).

    WARNING: evaluation only.  Nothing here is used by an honest member; an
    adversary (io/fl_adversary) runs these functions only when its operator
    configured an attack, and it says so in its log at startup.

    The attacks are pure functions of the attacker's own honest update and
    of the honest updates its colluders chose to share with it (gathered by
    io/fl_adversary's collusion rendezvous, never from the coordinator): no
    files, no clocks, no rounds here.
*/
#include "fl_attack.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  ---- names and parameters ------------------------------------------------- */

static const char *s_names[FL_ATTACK_KIND_COUNT] = {
    "none", "sign-flip", "scale", "gaussian", "label-flip", "alie", "ipm", "min-max", "min-sum",
};

const char *
fl_attack_kind_name (fl_attack_kind_t kind)
{
    return (unsigned) kind < FL_ATTACK_KIND_COUNT ? s_names[kind] : "?";
}

int
fl_attack_kind_parse (const char *name, fl_attack_kind_t *kind)
{
    assert (kind);
    char buf[32];
    size_t n = name ? strlen (name) : 0;
    if (name && n < sizeof buf) {
        for (size_t i = 0; i <= n; i++)
            buf[i] = name[i] == '_' ? '-' : name[i];
        for (unsigned k = 0; k < FL_ATTACK_KIND_COUNT; k++)
            if (strcmp (buf, s_names[k]) == 0) {
                *kind = (fl_attack_kind_t) k;
                return 0;
            }
    }
    zsys_error ("fl_attack_kind_parse: unknown attack '%s' (none, sign-flip, scale, gaussian, "
                "label-flip, alie, ipm, min-max, min-sum)", name ? name : "(null)");
    return -1;
}

int
fl_attack_needs_rows (fl_attack_kind_t kind)
{
    return kind == FL_ATTACK_ALIE || kind == FL_ATTACK_IPM || kind == FL_ATTACK_MIN_MAX
           || kind == FL_ATTACK_MIN_SUM;
}

void
fl_attack_params_defaults (fl_attack_params_t *p)
{
    assert (p);
    memset (p, 0, sizeof *p);
    p->gamma = NAN;           /* per kind: 1 (sign flip), 10 (scale, min-max, min-sum) */
    p->sigma = 1.0;
    p->additive = 0;
    p->epsilon = 0.1;
    p->z = NAN;
    p->n = 0;
    p->f = 0;
    p->perturb = FL_ATTACK_PERTURB_STD;
    p->tol = 1e-5;
}

int
fl_attack_params_set_strength (fl_attack_kind_t kind, fl_attack_params_t *p, double g)
{
    assert (p);
    if (!isfinite (g)) {
        zsys_error ("fl_attack_params_set_strength: strength must be finite");
        return -1;
    }
    switch (kind) {
    case FL_ATTACK_SIGN_FLIP:
    case FL_ATTACK_SCALE:
    case FL_ATTACK_MIN_MAX:
    case FL_ATTACK_MIN_SUM: p->gamma = g; return 0;
    case FL_ATTACK_GAUSSIAN: p->sigma = g; return 0;
    case FL_ATTACK_IPM: p->epsilon = g; return 0;
    case FL_ATTACK_ALIE: p->z = g; return 0;
    default:
        zsys_error ("fl_attack_params_set_strength: attack %s has no strength parameter",
                    fl_attack_kind_name (kind));
        return -1;
    }
}

/*  ---- simple attacks --------------------------------------------------------- */

void
fl_attack_sign_flip (const float *x, size_t d, double scale, float *out)
{
    assert (x && out);
    for (size_t j = 0; j < d; j++)
        out[j] = (float) (-scale * (double) x[j]);
}

void
fl_attack_scale (const float *x, size_t d, double gamma, float *out)
{
    assert (x && out);
    for (size_t j = 0; j < d; j++)
        out[j] = (float) (gamma * (double) x[j]);
}

int
fl_attack_gaussian (const float *x, size_t d, double sigma, int additive, fl_rng_t *rng, float *out)
{
    assert (out && rng && (x || !additive));
    if (!(sigma >= 0 && isfinite (sigma))) {
        zsys_error ("fl_attack_gaussian: sigma must be finite and >= 0");
        return -1;
    }
    for (size_t j = 0; j < d; j++)
        out[j] = (float) ((additive ? (double) x[j] : 0.0) + sigma * fl_rng_normal (rng));
    return 0;
}

int
fl_attack_label_flip (const int32_t *y, size_t n, size_t K, int32_t *out)
{
    assert ((y && out) || n == 0);
    if (K < 2 || K > FL_CSV_MAX_CLASSES) {
        zsys_error ("fl_attack_label_flip: need 2 <= K <= %u classes, got %zu", FL_CSV_MAX_CLASSES, K);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t) y[i] >= K) {
            zsys_error ("fl_attack_label_flip: label %d of row %zu is not in [0, %zu)", (int) y[i], i, K);
            return -1;
        }
    for (size_t i = 0; i < n; i++)
        out[i] = (int32_t) (((size_t) y[i] + 1) % K);
    return 0;
}

fl_dataset_t *
fl_attack_label_flip_dataset (const fl_dataset_t *ds, size_t n_classes)
{
    assert (ds);
    size_t n = fl_dataset_rows (ds), d = fl_dataset_features (ds);
    if (n_classes < fl_dataset_classes (ds)) {
        zsys_error ("fl_attack_label_flip_dataset: %zu classes is fewer than the data set's %zu",
                    n_classes, fl_dataset_classes (ds));
        return NULL;
    }
    int32_t *y = (int32_t *) malloc ((n ? n : 1) * sizeof (int32_t));
    const char **names = (const char **) malloc (d * sizeof (char *));
    fl_dataset_t *out = NULL;
    if (y && names && fl_attack_label_flip (fl_dataset_y (ds), n, n_classes, y) == 0) {
        for (size_t j = 0; j < d; j++)
            names[j] = fl_dataset_feature_name (ds, j);
        out = fl_dataset_new (n, d, fl_dataset_x (ds), y, n_classes, names, fl_dataset_label_name (ds));
    }
    free (y);
    free (names);
    return out;
}

/*  ---- ALIE ---------------------------------------------------------------------- */

double
fl_attack_norm_ppf (double p)
{
    /* Acklam's coefficients: rational approximations on the central region
       |p - 1/2| <= 1/2 - p_low and on the tails (in q = sqrt(-2 log p)). */
    static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                6.680131188771972e+01,  -1.328068155288572e+01};
    static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double e[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00};
    const double p_low = 0.02425;
    if (!(p > 0 && p < 1))
        return NAN;
    double x;
    if (p < p_low) {
        double q = sqrt (-2 * log (p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
            / ((((e[0] * q + e[1]) * q + e[2]) * q + e[3]) * q + 1);
    }
    else if (p <= 1 - p_low) {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    else {
        double q = sqrt (-2 * log1p (-p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
            / ((((e[0] * q + e[1]) * q + e[2]) * q + e[3]) * q + 1);
    }
    /* One Halley step on Phi(x) - p (Acklam's refinement).  For the upper
       tail work with the complement 1 - p, which is exact there, so that
       the error term does not cancel. */
    double err = p < 0.5 ? 0.5 * erfc (-x / M_SQRT2) - p : (1 - p) - 0.5 * erfc (x / M_SQRT2);
    double u = err * sqrt (2 * M_PI) * exp (x * x / 2);
    x = x - u / (1 + x * u / 2);
    return x;
}

int
fl_attack_alie_z (size_t n, size_t f, double *z)
{
    assert (z);
    if (f < 1 || f >= n) {
        zsys_error ("fl_attack_alie_z: need 1 <= f < n (n = %zu, f = %zu)", n, f);
        return -1;
    }
    size_t half = n / 2 + 1;           /* floor(n/2 + 1) */
    if (f >= half) {
        zsys_error ("fl_attack_alie_z: f = %zu is a majority of n = %zu: z_max is unbounded; "
                    "give z explicitly", f, n);
        return -1;
    }
    size_t s = half - f;
    *z = fl_attack_norm_ppf ((double) (n - s) / (double) n);
    return 0;
}

/*  mu[j] (and sd[j] if non-NULL): mean and population standard deviation of
    column j of rows (B, d), two-pass in double. */
static void
s_mean_std (const float *rows, size_t B, size_t d, double *mu, double *sd)
{
    for (size_t j = 0; j < d; j++)
        mu[j] = 0;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < d; j++)
            mu[j] += rows[i * d + j];
    for (size_t j = 0; j < d; j++)
        mu[j] /= (double) B;
    if (!sd)
        return;
    for (size_t j = 0; j < d; j++)
        sd[j] = 0;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < d; j++) {
            double t = rows[i * d + j] - mu[j];
            sd[j] += t * t;
        }
    for (size_t j = 0; j < d; j++)
        sd[j] = sqrt (sd[j] / (double) B);
}

static int
s_check_rows (const char *fn, const float *rows, size_t B, size_t d)
{
    if (B == 0 || d == 0 || B > SIZE_MAX / d / sizeof (double)) {
        zsys_error ("%s: need B >= 1 rows and d >= 1 (B = %zu, d = %zu)", fn, B, d);
        return -1;
    }
    for (size_t i = 0; i < B * d; i++)
        if (!isfinite (rows[i])) {
            zsys_error ("%s: non-finite value in row %zu", fn, i / d);
            return -1;
        }
    return 0;
}

int
fl_attack_alie (const float *rows, size_t B, size_t d, double z, float *out)
{
    assert (rows && out);
    if (s_check_rows ("fl_attack_alie", rows, B, d) != 0)
        return -1;
    if (!isfinite (z)) {
        zsys_error ("fl_attack_alie: z must be finite");
        return -1;
    }
    double *mu = (double *) malloc (2 * d * sizeof (double));
    if (!mu) {
        zsys_error ("fl_attack_alie: out of memory (d = %zu)", d);
        return -1;
    }
    double *sd = mu + d;
    s_mean_std (rows, B, d, mu, sd);
    for (size_t j = 0; j < d; j++)
        out[j] = (float) (mu[j] - z * sd[j]);
    free (mu);
    return 0;
}

int
fl_attack_ipm (const float *rows, size_t B, size_t d, double epsilon, float *out)
{
    assert (rows && out);
    if (s_check_rows ("fl_attack_ipm", rows, B, d) != 0)
        return -1;
    if (!isfinite (epsilon)) {
        zsys_error ("fl_attack_ipm: epsilon must be finite");
        return -1;
    }
    double *mu = (double *) malloc (d * sizeof (double));
    if (!mu) {
        zsys_error ("fl_attack_ipm: out of memory (d = %zu)", d);
        return -1;
    }
    s_mean_std (rows, B, d, mu, NULL);
    for (size_t j = 0; j < d; j++)
        out[j] = (float) (-epsilon * mu[j]);
    free (mu);
    return 0;
}

/*  ---- min-max / min-sum ------------------------------------------------------------ */

typedef struct {
    fl_attack_kind_t which;
    const float *rows;
    size_t B, d;
    const double *mu, *p;
    double bound;                /* the benign max (min-max) or max sum (min-sum) */
} s_mm_t;

static double
s_sqdist_ff (const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double t = (double) a[j] - (double) b[j];
        s += t * t;
    }
    return s;
}

/*  Writes m(gamma) = float(mu + gamma p) to out and returns 1 if it meets
    the constraint.  The constraint is evaluated on the float vector that
    would be sent, so a returned feasible gamma is feasible for the output
    itself, not only in exact arithmetic. */
static int
s_mm_feasible (const s_mm_t *c, double gamma, float *out)
{
    for (size_t j = 0; j < c->d; j++)
        out[j] = (float) (c->mu[j] + gamma * c->p[j]);
    double agg = 0;
    for (size_t i = 0; i < c->B; i++) {
        double dist = s_sqdist_ff (out, c->rows + i * c->d, c->d);
        if (c->which == FL_ATTACK_MIN_MAX)
            agg = dist > agg ? dist : agg;
        else
            agg += dist;
    }
    return isfinite (agg) && agg <= c->bound;
}

int
fl_attack_min_max_sum (fl_attack_kind_t which, const float *rows, size_t B, size_t d,
                       fl_attack_perturb_t perturb, double gamma_init, double tol, float *out,
                       double *gamma_out)
{
    assert (rows && out);
    const char *fn = which == FL_ATTACK_MIN_SUM ? "fl_attack_min_sum" : "fl_attack_min_max";
    if (which != FL_ATTACK_MIN_MAX && which != FL_ATTACK_MIN_SUM) {
        zsys_error ("fl_attack_min_max_sum: kind must be min-max or min-sum, got %s",
                    fl_attack_kind_name (which));
        return -1;
    }
    if (s_check_rows (fn, rows, B, d) != 0)
        return -1;
    if (!(gamma_init > 0 && isfinite (gamma_init)) || !(tol > 0 && isfinite (tol))) {
        zsys_error ("%s: need gamma_init > 0 and tol > 0, finite (got %g, %g)", fn, gamma_init, tol);
        return -1;
    }
    if (perturb != FL_ATTACK_PERTURB_STD && perturb != FL_ATTACK_PERTURB_UNIT
        && perturb != FL_ATTACK_PERTURB_SIGN) {
        zsys_error ("%s: unknown perturbation %d", fn, (int) perturb);
        return -1;
    }
    double *mu = (double *) malloc (2 * d * sizeof (double));
    double *sums = (double *) calloc (B, sizeof (double));
    if (!mu || !sums) {
        free (mu);
        free (sums);
        zsys_error ("%s: out of memory (B = %zu, d = %zu)", fn, B, d);
        return -1;
    }
    double *p = mu + d;
    s_mean_std (rows, B, d, mu, p);            /* p holds std for now */
    double pnorm2 = 0;
    if (perturb == FL_ATTACK_PERTURB_STD)
        for (size_t j = 0; j < d; j++)
            p[j] = -p[j];
    else if (perturb == FL_ATTACK_PERTURB_SIGN)
        for (size_t j = 0; j < d; j++)
            p[j] = mu[j] > 0 ? -1.0 : mu[j] < 0 ? 1.0 : 0.0;
    else {
        double nm = 0;
        for (size_t j = 0; j < d; j++)
            nm += mu[j] * mu[j];
        nm = sqrt (nm);
        for (size_t j = 0; j < d; j++)
            p[j] = nm > 0 ? -mu[j] / nm : 0.0;
    }
    for (size_t j = 0; j < d; j++)
        pnorm2 += p[j] * p[j];

    /* The benign bound: pairwise squared distances, each pair once. */
    s_mm_t c = {which, rows, B, d, mu, p, 0};
    for (size_t i = 0; i < B; i++)
        for (size_t k = i + 1; k < B; k++) {
            double dist = s_sqdist_ff (rows + i * d, rows + k * d, d);
            sums[i] += dist;
            sums[k] += dist;
            if (dist > c.bound)
                c.bound = dist;
        }
    if (which == FL_ATTACK_MIN_SUM) {
        c.bound = 0;
        for (size_t i = 0; i < B; i++)
            c.bound = sums[i] > c.bound ? sums[i] : c.bound;
    }

    double lo = 0;
    if (pnorm2 > 0) {
        /* Bracket: lo feasible, hi infeasible.  g(gamma) grows like
           gamma^2 ||p||^2, so doubling ends; the cap only guards against
           an impossible float corner. */
        double hi = gamma_init;
        int k;
        for (k = 0; k < 2000 && s_mm_feasible (&c, hi, out); k++) {
            lo = hi;
            hi *= 2;
        }
        if (k == 2000 || !isfinite (hi)) {
            zsys_error ("%s: could not bracket gamma (bound %g)", fn, c.bound);
            free (mu);
            free (sums);
            return -1;
        }
        while (hi - lo > tol) {
            double mid = lo + (hi - lo) / 2;
            if (mid <= lo || mid >= hi)
                break;          /* bracket at float resolution */
            if (s_mm_feasible (&c, mid, out))
                lo = mid;
            else
                hi = mid;
        }
    }
    /* out = m(lo).  lo is 0 or was tested feasible; at 0 the mean is
       feasible in exact arithmetic (it is never farther from a row than the
       farthest row, and minimises the sum of squares). */
    s_mm_feasible (&c, lo, out);
    if (gamma_out)
        *gamma_out = lo;
    free (mu);
    free (sums);
    return 0;
}

/*  ---- dispatcher ----------------------------------------------------------------- */

int
fl_attack_apply (fl_attack_kind_t kind, const fl_attack_params_t *p, const float *honest,
                 const float *rows, size_t n_rows, size_t d, fl_rng_t *rng, float *out)
{
    assert (p && honest && out);
    assert (rows || n_rows == 0);
    if (d == 0) {
        zsys_error ("fl_attack_apply: d must be >= 1");
        return -1;
    }
    for (size_t j = 0; j < d; j++)
        if (!isfinite (honest[j])) {
            zsys_error ("fl_attack_apply: honest update has a non-finite value at %zu", j);
            return -1;
        }
    if (!rows) {
        rows = honest;
        n_rows = 1;
    }
    double gamma = p->gamma;
    switch (kind) {
    case FL_ATTACK_NONE:
    case FL_ATTACK_LABEL_FLIP:
        memmove (out, honest, d * sizeof (float));
        return 0;
    case FL_ATTACK_SIGN_FLIP:
    case FL_ATTACK_SCALE:
        if (isnan (gamma))
            gamma = kind == FL_ATTACK_SIGN_FLIP ? 1.0 : 10.0;
        if (!isfinite (gamma)) {
            zsys_error ("fl_attack_apply: %s needs a finite gamma", fl_attack_kind_name (kind));
            return -1;
        }
        if (kind == FL_ATTACK_SIGN_FLIP)
            fl_attack_sign_flip (honest, d, gamma, out);
        else
            fl_attack_scale (honest, d, gamma, out);
        return 0;
    case FL_ATTACK_GAUSSIAN:
        if (!rng) {
            zsys_error ("fl_attack_apply: gaussian needs an fl_rng");
            return -1;
        }
        return fl_attack_gaussian (honest, d, p->sigma, p->additive, rng, out);
    case FL_ATTACK_ALIE: {
        double z = p->z;
        if (isnan (z) && fl_attack_alie_z (p->n, p->f, &z) != 0) {
            zsys_error ("fl_attack_apply: alie needs z, or n and f with 1 <= f < floor(n/2 + 1)");
            return -1;
        }
        return fl_attack_alie (rows, n_rows, d, z, out);
    }
    case FL_ATTACK_IPM:
        return fl_attack_ipm (rows, n_rows, d, p->epsilon, out);
    case FL_ATTACK_MIN_MAX:
    case FL_ATTACK_MIN_SUM: {
        /* The search writes candidates into its output while it still reads
           the rows, so it gets its own buffer (out may alias a row). */
        float *tmp = (float *) malloc (d * sizeof (float));
        if (!tmp) {
            zsys_error ("fl_attack_apply: out of memory (d = %zu)", d);
            return -1;
        }
        int rc = fl_attack_min_max_sum (kind, rows, n_rows, d, p->perturb,
                                        isnan (gamma) ? 10.0 : gamma, p->tol, tmp, NULL);
        if (rc == 0)
            memcpy (out, tmp, d * sizeof (float));
        free (tmp);
        return rc;
    }
    default:
        zsys_error ("fl_attack_apply: unknown attack %d", (int) kind);
        return -1;
    }
}
