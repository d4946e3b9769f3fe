/*  fl_dp.c - L2 clipping and noise calibration (see fl_dp.h).  The exact
    samplers are in fl_dp_sampler.c, the accountant in fl_dp_accountant.c.

    Clipping bounds each contribution's L2 norm by C, which is what every
    sensitivity argument downstream rests on, so the bound must hold after
    float rounding too: the scaled vector's norm is recomputed and, if
    rounding pushed it above C, shrunk again.
*/
#include "fl_dp.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/*  Passes of the clipping loop: the scaling, then ulp nudges; one nudge is
    enough in practice (the scaling is off by a float ulp at most). */
#define S_CLIP_PASSES 8

/*  L2 norm in double; NaN/inf propagate. */
static double
s_norm (const float *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double) x[i] * (double) x[i];
    return sqrt (s);
}

/*  Clips x in place to norm <= C (C valid, x finite).  Returns the pre-clip
    norm, or -1 if the bound could not be reached (x zeroed). */
static double
s_clip (float *x, size_t n, double C)
{
    double norm = s_norm (x, n), cur = norm;
    for (int pass = 0; pass < S_CLIP_PASSES && cur > C; pass++) {
        if (pass == 0) {
            double f = C / cur;
            for (size_t i = 0; i < n; i++)
                x[i] = (float) ((double) x[i] * f);
        }
        else
            /* Rounding to float left the norm a few ulps above C: move every
               coordinate one ulp toward zero (shrinks the norm by at least
               2^-24 relative, more than rounding added). */
            for (size_t i = 0; i < n; i++)
                x[i] = nextafterf (x[i], 0.0f);
        cur = s_norm (x, n);
    }
    if (cur > C) {
        memset (x, 0, n * sizeof *x);
        return -1.0;
    }
    return norm;
}

double
fl_dp_clip_l2 (float *x, size_t n, double C)
{
    assert (x || n == 0);
    if (!(C > 0.0) || isinf (C)) {
        zsys_error ("fl_dp_clip_l2: clipping norm %g is not a finite number > 0; vector zeroed", C);
        memset (x, 0, n * sizeof *x);
        return -1.0;
    }
    double norm = s_norm (x, n);
    if (!isfinite (norm)) {
        zsys_error ("fl_dp_clip_l2: vector of %zu values holds NaN or infinity; zeroed", n);
        memset (x, 0, n * sizeof *x);
        return -1.0;
    }
    double r = s_clip (x, n, C);
    if (r < 0)
        zsys_error ("fl_dp_clip_l2: could not reach norm <= %g; vector zeroed", C);
    return r;
}

long
fl_dp_clip_rows_sum (const float *g, size_t batch, size_t d, double C, float *out,
                     double *norms)
{
    assert ((g && out) || batch * d == 0);
    memset (out, 0, d * sizeof *out);
    if (!(C > 0.0) || isinf (C)) {
        zsys_error ("fl_dp_clip_rows_sum: clipping norm %g is not a finite number > 0", C);
        return -1;
    }
    float *row = (float *) malloc ((d ? d : 1) * sizeof (float));
    if (!row)
        return -1;
    long clipped = 0;
    for (size_t b = 0; b < batch; b++) {
        memcpy (row, g + b * d, d * sizeof (float));
        double norm = s_norm (row, d);
        if (!isfinite (norm)) {
            zsys_error ("fl_dp_clip_rows_sum: example %zu of %zu holds NaN or infinity", b, batch);
            memset (out, 0, d * sizeof *out);
            free (row);
            return -1;
        }
        if (norms)
            norms[b] = norm;
        if (norm > C) {
            clipped++;
            if (s_clip (row, d, C) < 0) {
                zsys_error ("fl_dp_clip_rows_sum: could not clip example %zu", b);
                memset (out, 0, d * sizeof *out);
                free (row);
                return -1;
            }
        }
        for (size_t j = 0; j < d; j++)
            out[j] += row[j];
    }
    free (row);
    return clipped;
}

double
fl_dp_noise_stddev (double noise_multiplier, double sensitivity)
{
    if (!(noise_multiplier >= 0.0) || !(sensitivity >= 0.0)) {
        zsys_error ("fl_dp_noise_stddev: noise multiplier %g and sensitivity %g must be >= 0",
                    noise_multiplier, sensitivity);
        return NAN;
    }
    return noise_multiplier * sensitivity;
}

/* ---- noise after a robust aggregator ---------------------------------------- */

double
fl_dp_aggregator_sensitivity (fl_robust_kind_t kind, const fl_robust_params_t *p, size_t B, double s,
                              double delta, double max_norm)
{
    assert (p);
    if (B == 0 || !(s > 0) || !isfinite (s) || !(delta > 0) || !isfinite (delta) || !(max_norm > 0)
        || !isfinite (max_norm)) {
        zsys_error ("fl_dp_aggregator_sensitivity: need B >= 1 and finite s, delta, max_norm > 0 "
                    "(B %zu, s %g, delta %g, max_norm %g)", B, s, delta, max_norm);
        return NAN;
    }
    /* The norm bound is a projection of every row onto a ball: non-expansive,
       so it never increases a row's change, and it caps every row's norm. */
    if (p->M > 0 && p->M < max_norm)
        max_norm = p->M;
    double Bd = (double) B;
    switch (kind) {
    case FL_ROBUST_MEAN: return delta / (s * Bd);
    case FL_ROBUST_MEDIAN: return delta / s;
    case FL_ROBUST_TRIMMED_MEAN: {
        size_t k = p->beta > 0 ? (size_t) floor (p->beta * Bd) : p->b;
        if (2 * k >= B) {
            zsys_error ("fl_dp_aggregator_sensitivity: trimmed mean of %zu rows trims %zu per side", B, k);
            return NAN;
        }
        return delta / (s * (double) (B - 2 * k));
    }
    case FL_ROBUST_CCLIP:
        if (p->L < 1) {
            zsys_error ("fl_dp_aggregator_sensitivity: centered clipping needs L >= 1");
            return NAN;
        }
        return (double) p->L * delta / (s * Bd);
    case FL_ROBUST_KRUM:
    case FL_ROBUST_MULTI_KRUM:
    case FL_ROBUST_GEOMED: return 2.0 * max_norm;
    case FL_ROBUST_BULYAN: return 2.0 * sqrt (Bd + 1.0) * max_norm;
    }
    zsys_error ("fl_dp_aggregator_sensitivity: unknown rule %d", (int) kind);
    return NAN;
}

/* ---- distributed discrete Gaussian (KLS 2021) ------------------------------- */

/* Largest honest magnitude of one encoded coordinate. */
static double
s_dist_q (const fl_quant_encoding_t *enc)
{
    return ceil (enc->max_abs * enc->scale);
}

/* sigma = z (sensitivity scale + 2 sqrt(d)), in grid units. */
static double
s_dist_sigma (double z, double sensitivity, size_t d, const fl_quant_encoding_t *enc)
{
    return z * (sensitivity * enc->scale + 2.0 * sqrt ((double) d));
}

static const char *
s_dist_args_error (double z, double sensitivity, size_t d, uint32_t n, uint32_t t, double max_abs)
{
    if (!(z >= 0 && z <= FL_ACCOUNTANT_MAX_SIGMA))
        return "noise multiplier out of range";
    if (!(sensitivity > 0) || !isfinite (sensitivity) || !(max_abs > 0) || !isfinite (max_abs)
        || sensitivity > max_abs * (1 + 1e-12))
        return "sensitivity must be finite, > 0 and at most the encoding's clamp";
    if (d == 0 || n == 0 || t == 0 || t > n)
        return "need d >= 1 and 1 <= t <= n";
    return NULL;
}

int
fl_dp_dist_calibrate (double z, double sensitivity, size_t d, uint32_t n, uint32_t t, double max_abs,
                      fl_quant_encoding_t *enc, double *sigma_i)
{
    assert (enc && sigma_i);
    const char *why = s_dist_args_error (z, sensitivity, d, n, t, max_abs);
    if (why) {
        zsys_error ("fl_dp_dist_calibrate: %s", why);
        return -1;
    }
    if (z == 0) {                         /* no noise: the plain encoding */
        *sigma_i = 0;
        return fl_quant_encoding_init (enc, max_abs, n);
    }
    /* h grows until the headroom covers TAIL standard deviations of a full
       bucket's noise; sigma_i / Q hardly depends on h, so this settles in
       two or three passes */
    uint64_t h = 0;
    for (int pass = 0; pass < 32; pass++) {
        if (n + h > FL_QUANT_SUM_LIMIT || fl_quant_encoding_init (enc, max_abs, (uint32_t) (n + h)) != 0)
            break;
        double s = fmax (FL_DP_DIST_SIGMA_FLOOR, s_dist_sigma (z, sensitivity, d, enc) / sqrt ((double) t));
        /* sigma_i^2 t >= sigma^2 exactly as checked by the client: nudge up
           by an ulp if the division rounded down */
        while (s * s * (double) t < pow (s_dist_sigma (z, sensitivity, d, enc), 2))
            s = nextafter (s, INFINITY);
        double need = ceil (FL_DP_DIST_TAIL * sqrt ((double) n) * s / s_dist_q (enc));
        if ((double) h >= need && s <= FL_DP_SIGMA_MAX) {
            *sigma_i = s;
            return 0;
        }
        /* more headroom; a coarser grid also brings sigma_i under the sampler's limit */
        if (!(need < 4.0 * FL_QUANT_SUM_LIMIT))
            break;
        h = (uint64_t) need > h ? (uint64_t) need : 2 * h + 1;
    }
    zsys_error ("fl_dp_dist_calibrate: no fixed-point encoding of a bucket of %u leaves room for noise multiplier "
                "%g (lower the noise multiplier or the bucket size)", n, z);
    return -1;
}

int
fl_dp_dist_check (double z, double sensitivity, size_t d, uint32_t n, uint32_t t, double max_abs,
                  uint32_t summands, double sigma_i, fl_quant_encoding_t *enc, char *why, size_t cap)
{
    char buf[160];
    const char *bad = s_dist_args_error (z, sensitivity, d, n, t, max_abs);
    fl_quant_encoding_t e;
    memset (&e, 0, sizeof e);
    if (!bad && (summands < n || fl_quant_encoding_init (&e, max_abs, summands) != 0))
        bad = "encoding inconsistent with the bucket size";
    else if (!bad && z == 0 && sigma_i != 0)
        bad = "noise without a noise multiplier";
    else if (!bad && z > 0) {
        double sigma = s_dist_sigma (z, sensitivity, d, &e);
        if (!isfinite (sigma_i) || !(sigma_i >= FL_DP_DIST_SIGMA_FLOOR) || !(sigma_i <= FL_DP_SIGMA_MAX)) {
            snprintf (buf, sizeof buf, "per-client noise sigma_i %g outside [%g, %g]", sigma_i,
                      FL_DP_DIST_SIGMA_FLOOR, FL_DP_SIGMA_MAX);
            bad = buf;
        }
        else if (sigma_i * sigma_i * (double) t < sigma * sigma) {
            snprintf (buf, sizeof buf, "per-client noise sigma_i %g too small: %u survivors would carry less than "
                      "sigma %g", sigma_i, t, sigma);
            bad = buf;
        }
        else if ((double) (summands - n) * s_dist_q (&e) < FL_DP_DIST_TAIL * sqrt ((double) n) * sigma_i)
            bad = "the encoding leaves no headroom for the noise (the sum could wrap)";
    }
    if (bad) {
        if (why && cap)
            snprintf (why, cap, "%s", bad);
        return -1;
    }
    if (enc)
        *enc = e;
    return 0;
}

double
fl_dp_dist_slack (double sigma_i, uint32_t c, size_t d)
{
    if (!(sigma_i >= 0.5))
        return NAN;
    double tau = 0;
    for (uint32_t k = 1; k < c; k++)
        tau += exp (-2.0 * M_PI * M_PI * sigma_i * sigma_i * (double) k / (double) (k + 1));
    return 10.0 * tau * (double) d;
}

int
fl_dp_noise_grid (double z, double sensitivity, size_t d, double *step, double *sigma)
{
    assert (step && sigma);
    if (!(z > 0) || !isfinite (z) || !(sensitivity > 0) || !isfinite (sensitivity) || d == 0) {
        zsys_error ("fl_dp_noise_grid: need finite z > 0, sensitivity > 0 and d >= 1 (z %g, sensitivity %g, d %zu)",
                    z, sensitivity, d);
        return -1;
    }
    double rd = sqrt ((double) d);
    int e;
    frexp (sensitivity / (1024.0 * rd), &e);          /* x = f 2^e, f in [0.5, 1): 2^(e-1) <= x */
    double h = ldexp (1.0, e - 1);
    double sg = z * (sensitivity + h * rd);
    if (sg / h > 0x1p29) {                             /* coarser grid: sigma / step <= 2^29 */
        frexp (sg / 0x1p29, &e);
        h = ldexp (1.0, e);                            /* >= sg / 2^29 */
        sg = z * (sensitivity + h * rd);
    }
    if (!(sg / h >= FL_DP_SIGMA_MIN && sg / h <= FL_DP_SIGMA_MAX) || !isfinite (sg)) {
        zsys_error ("fl_dp_noise_grid: noise %g on a grid of %g is outside the sampler's range", sg, h);
        return -1;
    }
    *step = h;
    *sigma = sg;
    return 0;
}

/* ---- adaptive clipping (Andrew et al. 2021) ------------------------------------ */

double
fl_dp_adaclip_update_z (double z, double sigma_b)
{
    if (!(z >= 0) || !isfinite (z) || !(sigma_b >= 0) || !isfinite (sigma_b)) {
        zsys_error ("fl_dp_adaclip_update_z: need finite z >= 0 and count noise >= 0 (z %g, count noise %g)", z,
                    sigma_b);
        return NAN;
    }
    if (z == 0)
        return 0;                          /* no noise anywhere: epsilon is infinite anyway */
    if (!(2 * sigma_b > z)) {
        zsys_error ("fl_dp_adaclip_update_z: count noise %g is too small for noise multiplier %g: the count alone "
                    "would spend the budget (need 2 x count noise > z)", sigma_b, z);
        return NAN;
    }
    double r = 1.0 / (z * z) - 1.0 / (4.0 * sigma_b * sigma_b);
    return 1.0 / sqrt (r);
}

int
fl_dp_adaclip_fraction (fl_rng_t *rng, double shifted_sum, double sigma_b, double expected, double *frac)
{
    assert (frac);
    if (!isfinite (shifted_sum) || fabs (shifted_sum) > 0x1p50 || !(expected > 0) || !isfinite (expected)
        || !(sigma_b == 0 || (2 * sigma_b >= FL_DP_SIGMA_MIN && 2 * sigma_b <= FL_DP_SIGMA_MAX))) {
        zsys_error ("fl_dp_adaclip_fraction: invalid sum %g, count noise %g or expected count %g", shifted_sum,
                    sigma_b, expected);
        return -1;
    }
    /* on the grid of halves: k = 2 * sum is an integer */
    int64_t k = (int64_t) llround (2.0 * shifted_sum), z = 0;
    if (sigma_b > 0) {
        assert (rng);
        if (fl_dp_discrete_gaussian_vec (rng, 2.0 * sigma_b, &z, 1) != 0)
            return -1;
    }
    *frac = ((double) (k + z) / 2.0) / expected + 0.5;
    return 0;
}

double
fl_dp_adaclip_next (double C, double frac, double gamma, double lr)
{
    if (!(C > 0) || !isfinite (C) || !(gamma >= 0 && gamma <= 1) || !(lr >= 0) || !isfinite (lr) || isnan (frac)) {
        zsys_error ("fl_dp_adaclip_next: invalid norm %g, fraction %g, target quantile %g or rate %g", C, frac,
                    gamma, lr);
        return NAN;
    }
    double b = frac < 0 ? 0 : frac > 1 ? 1 : frac;
    double next = C * exp (-lr * (b - gamma));
    return next < FL_DP_ADACLIP_MIN ? FL_DP_ADACLIP_MIN : next > FL_DP_ADACLIP_MAX ? FL_DP_ADACLIP_MAX : next;
}
